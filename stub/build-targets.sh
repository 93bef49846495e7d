#!/usr/bin/env bash
# Builds the stub for other targets from this Debian 12 machine (issue 6), with Debian's
# rustc-web 1.96 and its std source (-Zbuild-std), as ../shared/notes/cross-build-facts.md
# describes:
#   windows-x86_64  x86_64-pc-windows-gnu      (mingw-w64 linker)  -> target/stubs/windows-x86_64/
#   linux-x86_64    x86_64-unknown-linux-musl  (static-pie, musl)  -> target/stubs/linux-x86_64/
# four builds each (issue 7: a package's head carries only what it runs):
#   iupack-stub[.exe]       the installed client tool: every feature
#   iupack-head[.exe]       a package head without the client commands and without zstd (xz and
#                           deflate full packages, and deltas that hold no zstd patch)
#   iupack-head-exe[.exe]   the same with zucchini-xz patches (engine deltas of programs) and
#                           the installer of the client tool a package carries (--install-client)
#   iupack-head-zstd[.exe]  a package head with zstd (the default full compression and patches),
#                           zucchini-xz and the client tool's installer
# `iupack build` picks the smallest head that reads what the package holds.
# Usage: bash stub/build-targets.sh [windows-x86_64] [linux-x86_64]   (default: both)
# Installs the Debian packages it needs. Build products are cached in $IUPACK_CROSS_DIR
# (default ~/.cache/iupack-cross): a cold build of std takes 2-4 minutes per target, a rebuild
# seconds. `iupack build --target T` finds the stubs in target/stubs/T/ beside the iupack binary's
# target folder, or take one with --stub.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
cache=${IUPACK_CROSS_DIR:-$HOME/.cache/iupack-cross}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(windows-x86_64 linux-x86_64)
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

pkgs=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 musl-tools)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-targets: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# musl: rustc's self-contained link needs crt objects, libc.a and an unwinder in its sysroot.
musl_self_contained() {
  local sc=/usr/lib/rustlib/x86_64-unknown-linux-musl/lib/self-contained
  [ -f "$sc/libunwind.a" ] && [ -f "$sc/.iupack-v1" ] && return 0
  local tmp; tmp=$(mktemp -d)
  cp "$(gcc -print-file-name=libgcc_eh.a)" "$tmp/libunwind.a"
  musl-gcc -O2 -fPIC -c stub/cross/dl_find_object.c -o "$tmp/dl_find_object.o"
  ar rcs "$tmp/libunwind.a" "$tmp/dl_find_object.o"
  $SUDO mkdir -p "$sc"
  $SUDO cp /usr/lib/x86_64-linux-musl/{crt1.o,rcrt1.o,Scrt1.o,crti.o,crtn.o,libc.a} "$sc/"
  for o in crtbegin.o crtbeginS.o crtbeginT.o crtend.o crtendS.o; do
    $SUDO cp "$(gcc -print-file-name=$o)" "$sc/"
  done
  $SUDO cp "$tmp/libunwind.a" "$sc/"
  $SUDO touch "$sc/.iupack-v1"
  rm -rf "$tmp"
}

# IUPACK_STUB_FEATURES=fault-injection builds the test variant into target/stubs/PLATFORM-faults/.
features=${IUPACK_STUB_FEATURES:-}
build() {
  local platform=$1 triple=$2 exe=$3
  local out=$platform
  local dir=$cache
  local variants=("iupack-stub:" "iupack-head:--no-default-features" "iupack-head-exe:--no-default-features --features exe-delta,install" "iupack-head-zstd:--no-default-features --features zstd,exe-delta,install")
  if [ -n "$features" ]; then out="$platform-faults"; variants=("iupack-stub:--features $features"); dir="$cache/faults"; fi
  local ext=${exe#iupack-stub}
  local v
  for v in "${variants[@]}"; do
  local name=${v%%:*} feat
  read -r -a feat <<< "${v#*:}"
  echo "build-targets: $out/$name$ext ($triple)"
  # Built for size (issue 7, BENCHMARKS.md "Stub size per target"): std is compiled with the
  # stub's profile, a panic aborts at once (no message or backtrace machinery: std's DWARF
  # reader alone was ~100 KB) and no unwind tables are emitted. A panic is a bug in the stub
  # either way; it was already abort, and no unwinding is lost. (Windows x64 requires unwind
  # tables: rustc refuses to drop them there.) std's `optimize_for_size` feature swaps its sorts
  # and a few other generic routines for small versions: 24 KB less, applies as fast (measured:
  # deflate and zstd unchanged, xz within noise; hashing and decoding are not std code).
  local size_flags="-Zunstable-options -Cpanic=immediate-abort"
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="$size_flags -Cforce-unwind-tables=no" \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="$size_flags" \
  RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
    CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar \
    CC_x86_64_unknown_linux_musl=musl-gcc AR_x86_64_unknown_linux_musl=ar \
    /usr/bin/cargo build --quiet --locked -Zbuild-std=std,panic_abort \
      -Zbuild-std-features=optimize_for_size --target "$triple" \
      --profile stub -p iupack-stub --bin iupack-stub --target-dir "$dir" "${feat[@]}"
  mkdir -p "target/stubs/$out"
  cp "$dir/$triple/stub/$exe" "target/stubs/$out/$name$ext"
  echo "build-targets: target/stubs/$out/$name$ext $(stat -c %s "target/stubs/$out/$name$ext") bytes"
  done
}

# One build at a time per cache folder: every variant is built into the same cargo folder and
# then copied out, so two runs at once (two checkouts on one machine) would copy each other's
# binaries. The lock is held until this script ends.
mkdir -p "$cache"
exec 9>"$cache/.build-targets.lock"
flock 9

for t in "${targets[@]}"; do
  case "$t" in
    windows-x86_64) build windows-x86_64 x86_64-pc-windows-gnu iupack-stub.exe ;;
    linux-x86_64) musl_self_contained; build linux-x86_64 x86_64-unknown-linux-musl iupack-stub ;;
    *) echo "build-targets: unknown target $t (windows-x86_64, linux-x86_64)" >&2; exit 2 ;;
  esac
done
