#!/bin/sh
# The guest half of VirtioFsGuestTest: runs in a microvm guest whose three virtio-fs shares, served
# by kava's FUSE server, are mounted at /mnt/none, /mnt/auto and /mnt/always (their cache modes).
# fd 3 is the host (the virtio-serial port agent.0). Lines sent to the host:
#   ok NAME | FAIL NAME: DETAIL | VALUE KEY VALUE | HOST-CHANGE (then the host answers a line)
# @CANARY@ and @MARK@ are filled in by the test: a host file outside every share, and a word in it.
export PATH=/bin
say() { echo "$*" >&3; }
flat() { echo "$1" | tr '\n' '|' | cut -c1-300; }
run() { # run NAME CMD...: passes when CMD exits 0
  name=$1; shift
  if out=$("$@" 2>&1); then say "ok $name"; else say "FAIL $name: $(flat "$out")"; fi
}
expect() { # expect NAME WANT CMD...: passes when CMD prints WANT on stdout
  name=$1; want=$2; shift 2
  got=$("$@" 2>/tmp/stderr)
  if [ "$got" = "$want" ]; then say "ok $name"; else say "FAIL $name: want [$(flat "$want")] got [$(flat "$got")] $(flat "$(cat /tmp/stderr)")"; fi
}
value() { say "VALUE $1 $2"; }
now() { cut -d' ' -f1 /proc/uptime; }
since() { echo "$(now) $1" | awk '{ printf "%.2f", $1 - $2 }'; }

A=/mnt/auto
T=$A/t
mkdir $T || say "FAIL setup: mkdir $T"

# ---------------------------------------------------------------- files
echo hello > $T/a;                                   expect create-read hello cat $T/a
echo world >> $T/a;                                  expect append "$(printf 'hello\nworld')" cat $T/a
printf XY | dd of=$T/a bs=1 seek=1 conv=notrunc 2>/dev/null
                                                     expect overwrite-in-place "$(printf 'hXYlo\nworld')" cat $T/a
truncate -s 3 $T/a;                                  expect truncate-shrink hXY cat $T/a
truncate -s 4096 $T/a;                               expect truncate-grow 4096 stat -c %s $T/a
                                                     run truncate-grow-zeros cmp -n 4093 $T/a /dev/zero 3 0
: > $T/empty;                                        expect create-empty 0 stat -c %s $T/empty
mkdir $T/d1 && mkdir $T/d1/d2;                       expect mkdir directory stat -c %F $T/d1/d2
rmdir $T/d1/d2;                                      run rmdir test ! -e $T/d1/d2
echo x > $T/d1/f
expect rmdir-not-empty refused sh -c "rmdir $T/d1 2>/dev/null && echo removed || echo refused"
rm $T/d1/f && rmdir $T/d1;                          run unlink-and-rmdir test ! -e $T/d1
echo new > $T/r1; echo old > $T/r2; mv -f $T/r1 $T/r2
                                                     expect rename-over-existing new cat $T/r2
                                                     run rename-source-gone test ! -e $T/r1
mkdir $T/rd1 $T/rd2; echo in > $T/rd1/f; mv $T/rd1/f $T/rd2/g
                                                     expect rename-across-directories in cat $T/rd2/g
mv $T/rd2 $T/rd3;                                    expect rename-directory in cat $T/rd3/g
echo A > $T/x1; echo B > $T/x2; fstool exchange $T/x1 $T/x2
                                                     expect rename-exchange "B A" sh -c "echo \$(cat $T/x1) \$(cat $T/x2)"
echo hl > $T/h1; ln $T/h1 $T/h2;                     expect hardlink-count 2 stat -c %h $T/h1
                                                     expect hardlink-same-inode "$(stat -c %i $T/h1)" stat -c %i $T/h2
echo more >> $T/h2;                                  expect hardlink-shared-data "$(printf 'hl\nmore')" cat $T/h1
rm $T/h1;                                            expect hardlink-count-after-unlink 1 stat -c %h $T/h2
ln -s h2 $T/s1;                                      expect symlink-readlink h2 readlink $T/s1
                                                     expect symlink-followed "$(printf 'hl\nmore')" cat $T/s1
ln -s /no/such/target $T/s2;                         expect symlink-dangling /no/such/target readlink $T/s2
                                                     expect symlink-type "symbolic link" stat -c %F $T/s2
chmod 640 $T/h2;                                     expect chmod 640 stat -c %a $T/h2
chmod 4755 $T/h2;                                    expect chmod-setuid 4755 stat -c %a $T/h2
chown 1234:5678 $T/h2;                               expect chown 1234:5678 stat -c %u:%g $T/h2
                                                     expect chown-clears-setuid 755 stat -c %a $T/h2
fstool lchown $T/s1 4321 8765;                       expect lchown-changes-the-link-only "4321:8765 1234:5678" \
                                                         sh -c "echo \$(stat -c %u:%g $T/s1) \$(stat -L -c %u:%g $T/s1)"
touch -d '2001-02-03 04:05:06' $T/h2;                expect utimes-mtime 981173106 stat -c %Y $T/h2
                                                     expect utimes-atime 981173106 stat -c %X $T/h2
fstool lutimes $T/s1 1000000000;                     expect lutimes-changes-the-link-only "1000000000 981173106" \
                                                         sh -c "echo \$(stat -c %Y $T/s1) \$(stat -L -c %Y $T/s1)"
fstool setx $T/h2 user.kava value-1;                 expect xattr-set-get value-1 fstool getx $T/h2 user.kava
fstool setx $T/h2 user.other 2;                      expect xattr-list "$(printf 'user.kava\nuser.other')" \
                                                         sh -c "fstool listx $T/h2 | grep '^user\.' | sort"
fstool rmx $T/h2 user.kava;                          expect xattr-remove ENODATA sh -c "fstool getx $T/h2 user.kava 2>&1 | grep -o ENODATA"
fallocate -l 1048576 $T/fa;                          expect fallocate 1048576 stat -c %s $T/fa
                                                     run statfs df $A
dd if=/dev/zero of=$T/m bs=4096 count=1 2>/dev/null
fstool mmapw $T/m 100 written-through-mmap;          expect mmap-write written-through-mmap dd if=$T/m bs=1 skip=100 count=20
                                                     expect mmap-read host-wrote-this fstool mmapr $A/from-host 0 15
fstool sparse $T/sp;                                 expect sparse-seek-data-hole "0-4096 1048576-1052672 size=2097152" fstool seek $T/sp
                                                     expect sparse-host-file "0-4096 1048576-1052672 size=2097152" fstool seek $A/sparse-from-host
                                                     expect mmap-shared-refused-with-cache-none ENODEV \
                                                         sh -c "fstool mmapw /mnt/none/c 0 x 2>&1 | grep -o ENODEV"
say "ok files-done"

# ---------------------------------------------------------------- a directory of 10,000 entries
t0=$(now)
                                                     expect big-directory-ls 10000 sh -c "ls $A/many | wc -l"
value big-directory-seconds "$(since $t0)"
value big-directory-md5 "$(ls $A/many | md5sum | cut -d' ' -f1)"
                                                     expect big-directory-find 10001 sh -c "find $A/many | wc -l"

# ---------------------------------------------------------------- 4 writers at once
t0=$(now)
for i in 1 2 3 4; do (yes "writer-$i" | head -c 4194304 > $T/w$i) & done
wait
value writers-seconds "$(since $t0)"
                                                     expect concurrent-writers "4194304 4194304 4194304 4194304" \
                                                         sh -c "echo \$(stat -c %s $T/w1 $T/w2 $T/w3 $T/w4)"

# ---------------------------------------------------------------- 256 MiB, byte-exact
t0=$(now)
cp $A/big $T/big.copy && sync;                       run big-copy test -s $T/big.copy
value big-copy-seconds "$(since $t0)"
echo 3 > /proc/sys/vm/drop_caches
t0=$(now)
value big-md5 "$(md5sum $A/big | cut -d' ' -f1)"
value big-md5-seconds "$(since $t0)"

# ---------------------------------------------------------------- a mount inside the share
                                                     expect submount-read from-the-volume cat $A/sub/from-host
echo from-guest > $A/sub/from-guest;                 expect submount-write from-guest cat $A/sub/from-guest

# ---------------------------------------------------------------- cache modes vs host changes
for m in none auto always; do cat /mnt/$m/c > /dev/null; ls /mnt/$m/cdir > /dev/null; done
                                                     expect cache-always-before v1 cat /mnt/always/c
say HOST-CHANGE
read -r go <&3
                                                     expect cache-none-data-at-once v2-longer cat /mnt/none/c
                                                     expect cache-none-size-at-once 10 stat -c %s /mnt/none/c
                                                     expect cache-none-listing-at-once new sh -c "ls /mnt/none/cdir | grep new"
                                                     expect cache-always-data-stale v1 cat /mnt/always/c
                                                     expect cache-always-new-name-found yes sh -c "test -e /mnt/always/cdir/new && echo yes"
sleep 2
                                                     expect cache-auto-data-after-timeout v2-longer cat /mnt/auto/c
                                                     expect cache-auto-listing new sh -c "ls /mnt/auto/cdir | grep new"
echo 3 > /proc/sys/vm/drop_caches
                                                     expect cache-always-fresh-after-drop-caches v2-longer cat /mnt/always/c

# ---------------------------------------------------------------- escapes
E=$A/esc
CANARY=@CANARY@
MARK=@MARK@
mkdir -p "$(dirname "$CANARY")" && echo guest-own-file > "$CANARY" # what an absolute link reaches in the guest
                                            expect escape-absolute-link-resolved-in-the-guest guest-own-file cat $E/abs
leak() { if echo "$1" | grep -q "$MARK"; then say "FAIL escape-$2: the host canary was read"; fi; }
for l in abs rel procroot proc1root procfd dotdot; do
  leak "$(cat $E/$l 2>&1)" "read-$l"
  echo "pwned-$l" > $E/$l 2>/dev/null
  echo "pwned-$l" >> $E/$l 2>/dev/null
  chmod 777 $E/$l 2>/dev/null
  chown 4242:4242 $E/$l 2>/dev/null
  touch $E/$l 2>/dev/null
  truncate -s 0 $E/$l 2>/dev/null
  fstool setx $E/$l user.pwned 1 2>/dev/null
  ln $E/$l $E/$l.hard 2>/dev/null
  fstool linkat $E/$l $E/$l.followed 2>/dev/null
  leak "$(cat $E/$l.hard $E/$l.followed 2>&1)" "hardlink-$l"
  fstool lchown $E/$l 4242 4242 2>/dev/null
  fstool lutimes $E/$l 1 2>/dev/null
  mv $E/$l $E/$l.renamed 2>/dev/null && mv $E/$l.renamed $E/$l 2>/dev/null
done
leak "$(cat $A/../canary $A/../../canary $E/../../canary 2>&1)" "dotdot-paths"
leak "$(ls -la $E/dotdot/ $E/dotdot/dotdot/ 2>&1; cat $E/dotdot/dotdot/canary 2>&1)" "dotdot-link"
(cd $E/dotdot/dotdot/dotdot/dotdot 2>/dev/null && leak "$(ls -la; cat canary 2>&1)" "cd-up")
ln -s "$CANARY" $E/new-abs;                 echo pwned > $E/new-abs 2>/dev/null; leak "$(cat $E/new-abs 2>&1)" new-abs
ln -s ../../../canary $E/new-rel;           echo pwned > $E/new-rel 2>/dev/null; leak "$(cat $E/new-rel 2>&1)" new-rel
ln -s "/proc/self/root$CANARY" $E/new-proc; echo pwned > $E/new-proc 2>/dev/null; leak "$(cat $E/new-proc 2>&1)" new-proc
mkdir $E/dir; fstool rename $E/dir $A/.. 2>/dev/null; fstool rename $E/dir $E/.. 2>/dev/null
                                            expect escape-no-char-device refused sh -c "fstool mknod $E/mem c 1 1 2>/dev/null && echo made || echo refused"
                                            expect escape-no-block-device refused sh -c "fstool mknod $E/vda b 254 0 2>/dev/null && echo made || echo refused"
# rename race: two guest processes swap a directory with a symlink out of the share (absolute, then
# relative) under the same names as fast as they can, while a third makes every call on those names
R=$E/race; mkdir $R $R/dir; echo inside > $R/dir/canary
ln -s "$(dirname "$CANARY")" $R/abs; ln -s ../../../.. $R/rel
fstool swaploop $R/dir $R/abs 4 > /tmp/swaps-abs &
fstool swaploop $R/dir $R/rel 4 > /tmp/swaps-rel &
hammered=$(fstool hammer "$MARK" 4 $R/dir $R/abs $R/rel); wait
swaps=$(( $(cat /tmp/swaps-abs) + $(cat /tmp/swaps-rel) ))
value race-swaps $swaps; value race-rounds "${hammered% *}"
if [ "${hammered#* }" != 0 ]; then say "FAIL escape-rename-race: the host canary was read ${hammered#* } times"
elif [ $swaps -lt 10 ] || [ "${hammered% *}" -lt 3 ]; then say "FAIL escape-rename-race: too little raced: $swaps swaps, $hammered"
else say "ok escape-rename-race"; fi
say "ok escapes-done"
sync
