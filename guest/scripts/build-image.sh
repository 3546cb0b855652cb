#!/usr/bin/env bash
# Builds the kava guest image: a read-only ext4 filesystem the VM boots from (root=/dev/vda ro).
#   /bin           busybox (Debian busybox-static) and its applets
#   /usr/bin/crun  crun with the shared libraries it needs (found with ldd)
#   /opt/kava/jre  a jlink'ed Java runtime (java.base, java.logging, jdk.unsupported) with its CDS archive
#   /opt/kava/agent   the agent jar and its libraries;  /opt/kava/agent.aot  the JDK's ahead-of-time cache
#                  (classes loaded and linked, profiles), recorded by a training run (`AgentMain --train`)
#                  in the image root with the guest's JVM flags
#   /sbin/init     guest/rootfs/init
# Usage: build-image.sh AGENT_DIR   (AGENT_DIR holds kava-agent.jar and lib/)
# Cached under $KAVA_CACHE/image/<hash of every input>/kava-guest.img; prints that path on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
agent=$(cd "${1:?usage: build-image.sh AGENT_DIR}" && pwd)
cache=${KAVA_CACHE:-/var/cache/kava}
jdk=${KAVA_GUEST_JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}
for f in /bin/busybox /usr/bin/crun "$jdk/bin/jlink" /sbin/mkfs.ext4; do
  [ -x "$f" ] || { echo "kava: $f is missing (apt-get install busybox-static crun e2fsprogs; Temurin 25 JDK)" >&2; exit 1; }
done
[ -f "$agent/kava-agent.jar" ] || { echo "kava: $agent/kava-agent.jar is missing: build the agent module first" >&2; exit 1; }

hash=$( {
  cat "$0" "$here/rootfs/init" "$here/rootfs/agent.flags"
  sha256sum /bin/busybox /usr/bin/crun "$agent/kava-agent.jar" "$agent"/lib/*.jar | cut -d' ' -f1
  cat "$jdk/release"
} | sha256sum | cut -c1-16)
out="$cache/image/$hash"
if [ -f "$out/kava-guest.img" ]; then echo "$out/kava-guest.img"; exit 0; fi

mkdir -p "$cache/image"
exec 9>"$cache/image/.lock"; flock 9          # one builder at a time; the loser finds the cache filled
if [ -f "$out/kava-guest.img" ]; then echo "$out/kava-guest.img"; exit 0; fi
stage=$(mktemp -d "$cache/image/stage.XXXXXX")
trap 'rm -rf --one-file-system "$stage"' EXIT
root="$stage/root"
echo "kava: assembling the guest image in $stage" >&2
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,opt/kava,lib64,lib/x86_64-linux-gnu,var}
chmod 1777 "$root/tmp"

# busybox and its applets (relative links, so the image works wherever it is mounted)
cp /bin/busybox "$root/bin/busybox"
/bin/busybox --list-full | while read -r applet; do
  case "$applet" in bin/busybox|sbin/init) continue;; esac
  mkdir -p "$root/$(dirname "$applet")"
  ln -sf "/bin/busybox" "$root/$applet"
done
install -m 0755 "$here/rootfs/init" "$root/sbin/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
printf '127.0.0.1 localhost\n' > "$root/etc/hosts"
: > "$root/etc/resolv.conf"

# shared libraries of a binary, copied to the same paths
copy_libs() {
  ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^[ \t]*\/lib/{print $1}' | while read -r lib; do
    case "$lib" in "$root"/*) continue;; esac     # the JRE's own libraries, found through $ORIGIN
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
  done
}
cp /usr/bin/crun "$root/usr/bin/crun"; copy_libs /usr/bin/crun

echo "kava: linking a minimal Java runtime (jlink)" >&2
"$jdk/bin/jlink" --add-modules java.base,java.logging,jdk.unsupported --strip-debug --no-man-pages \
  --no-header-files --output "$root/opt/kava/jre" >/dev/null
for so in "$root/opt/kava/jre/bin/java" "$root"/opt/kava/jre/lib/*.so "$root"/opt/kava/jre/lib/server/*.so; do copy_libs "$so"; done

mkdir -p "$root/opt/kava/agent/lib"
cp -p "$agent/kava-agent.jar" "$root/opt/kava/agent/"
cp -p "$agent"/lib/*.jar "$root/opt/kava/agent/lib/"
install -m 0644 "$here/rootfs/agent.flags" "$root/opt/kava/agent.flags"

echo "kava: recording the agent's ahead-of-time cache (training run)" >&2
# the training run sees what the guest will see: /proc, /dev, and writable /run and /tmp
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
trap 'umount -q "$root/tmp" "$root/run" "$root/dev" "$root/proc" 2>/dev/null || true; rm -rf --one-file-system "$stage"' EXIT
# the same flags as in the guest, except that this run writes the cache instead of reading it
flags=$(grep -v -e '^-XX:AOTCache=' "$here/rootfs/agent.flags")
# shellcheck disable=SC2086
chroot "$root" /opt/kava/jre/bin/java $flags -XX:AOTCacheOutput=/opt/kava/agent.aot \
  dev.kava.agent.AgentMain --train >&2
umount "$root/tmp" "$root/run" "$root/dev" "$root/proc"
[ -s "$root/opt/kava/agent.aot" ] || { echo "kava: the training run wrote no AOT cache" >&2; exit 1; }
# prove the cache is accepted with the guest's exact flags (AOTMode=on fails instead of falling back)
mount -t proc proc "$root/proc"; mount --bind /dev "$root/dev"; mount -t tmpfs tmpfs "$root/run"; mount -t tmpfs tmpfs "$root/tmp"
# shellcheck disable=SC2046
chroot "$root" /opt/kava/jre/bin/java $(grep -v '^-Xlog' "$here/rootfs/agent.flags") -XX:AOTMode=on \
  dev.kava.agent.AgentMain --train >&2 || { echo "kava: the guest JVM rejects its AOT cache" >&2; exit 1; }
umount "$root/tmp" "$root/run" "$root/dev" "$root/proc"

size_mb=$(( $(du -sm "$root" | cut -f1) * 12 / 10 + 16 ))
mkfs.ext4 -q -F -L kava-guest -O ^has_journal -E root_owner=0:0 -d "$root" "$stage/kava-guest.img" "${size_mb}M"
mkdir -p "$out.tmp" && mv "$stage/kava-guest.img" "$out.tmp/" && rm -rf "$out" && mv "$out.tmp" "$out"
echo "kava: guest image ready: $out/kava-guest.img (${size_mb} MiB)" >&2
echo "$out/kava-guest.img"
