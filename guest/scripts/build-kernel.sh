#!/usr/bin/env bash
# Builds the kava guest kernel from Debian's linux-source-6.1: `make tinyconfig`, then the checked-in
# fragment (guest/kernel/kava.config) merged on top. The result is cached outside the tree under
# $KAVA_CACHE/kernel/<hash of the inputs>/bzImage; a rebuild happens only when an input changes.
# Prints the path of the kernel on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${KAVA_CACHE:-/var/cache/kava}
src=/usr/src/linux-source-6.1.tar.xz
[ -f "$src" ] || { echo "kava: $src is missing: apt-get install linux-source-6.1" >&2; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %s "$src")
hash=$( { echo "$srcver"; cat "$here/kernel/kava.config" "$0"; } | sha256sum | cut -c1-16)
out="$cache/kernel/$hash"
if [ -f "$out/bzImage" ]; then echo "$out/bzImage"; exit 0; fi
mkdir -p "$cache/kernel"
exec 9>"$cache/kernel/.lock"; flock 9          # one builder at a time; the loser finds the cache filled
if [ -f "$out/bzImage" ]; then echo "$out/bzImage"; exit 0; fi
work="$cache/kernel/build"          # kept between builds so that a changed fragment rebuilds incrementally
if [ ! -f "$work/Makefile" ]; then
  echo "kava: unpacking linux-source-6.1 ($srcver) into $work" >&2
  rm -rf "$work.tmp" && mkdir -p "$work.tmp"
  tar -xJf "$src" -C "$work.tmp" --strip-components=1
  mv "$work.tmp" "$work"
fi
cd "$work"
echo "kava: configuring the guest kernel (tinyconfig + kava.config)" >&2
make -s tinyconfig >&2
./scripts/kconfig/merge_config.sh -m .config "$here/kernel/kava.config" >/dev/null
make -s olddefconfig >&2
# every line of the fragment must have survived: a silently dropped option is a broken guest
missing=0
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue;; esac
  key=${line%%=*}; val=${line#*=}
  if [ "$val" = n ]; then
    grep -q "^$key=" .config && { echo "kava: $key should be off" >&2; missing=1; }
  else
    grep -qx "$line" .config || { echo "kava: $line did not take (dependency missing?)" >&2; missing=1; }
  fi
done < "$here/kernel/kava.config"
[ "$missing" = 0 ] || { echo "kava: kernel config fragment does not apply cleanly" >&2; exit 1; }
echo "kava: building the guest kernel with $(nproc) jobs (6-8 min on 2 cores the first time)" >&2
make -s -j"$(nproc)" bzImage >&2
mkdir -p "$out.tmp"
cp arch/x86/boot/bzImage "$out.tmp/bzImage"
cp .config "$out.tmp/config"
make -s kernelrelease > "$out.tmp/release"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out/bzImage"
