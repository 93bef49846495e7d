#!/usr/bin/env bash
# The iupack demo: build signed packages of the sample product "Acme Antivirus" and apply them to a
# scratch machine, showing what happens, including what is refused. Usage: samples/demo.sh [DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
work="${1:-$(mktemp -d "${TMPDIR:-/tmp}/iupack-demo.XXXXXX")}"
mkdir -p "$work"
cd "$repo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { # run CMD..., show it and its exit code, never stop the demo
  printf '$ %s\n' "$*"
  set +e; "$@"; local rc=$?; set -e
  printf '(exit %d)\n' "$rc"
  return 0
}
expect() { # expect CODE CMD...: like run, but the demo fails if the exit code differs
  local want=$1; shift
  printf '$ %s\n' "$*"
  set +e; "$@"; local rc=$?; set -e
  printf '(exit %d, expected %d)\n' "$rc" "$want"
  [ "$rc" -eq "$want" ] || { echo "demo: unexpected exit code" >&2; exit 1; }
}

step "Build iupack (release) and the package heads (static, what real packages carry)"
# The builder compiles Chromium's Zucchini (C++23, for executable-aware engine deltas) with clang.
if ! command -v clang++-19 >/dev/null && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang-19 >/dev/null
fi
cargo build --locked --release -q -p iupack
iupack="$repo/target/release/iupack"
# stub/build-targets.sh builds the shipped heads and the client tool into target/stubs/ (it
# installs Debian's musl and cross toolchain the first time), where iupack finds them. Elsewhere
# (not Debian on x86-64) the demo uses a development stub, which every build says it is.
if [ "$(uname -sm)" = "Linux x86_64" ] && command -v apt-get >/dev/null \
    && bash stub/build-targets.sh linux-x86_64; then
  heads=()
  client="$repo/target/stubs/linux-x86_64/iupack-stub"
  ls -l "$repo/target/stubs/linux-x86_64/"
else
  echo "demo: no static heads here; building the development stub instead" >&2
  cargo build --locked --profile stub -q -p iupack-stub
  client="$repo/target/stub/iupack-stub"
  heads=(--stub "$client")
  ls -l "$client"
fi

new_machine() { # new_machine DIR: Acme 12.1 with the first releases installed
  rm -rf "$1" && mkdir -p "$1/acme"
  cp "$here/acme/machine/inventory.json" "$1/"
  cp -r "$here/acme/releases/engine/3.7.70" "$1/acme/engine"
  cp -r "$here/acme/releases/definitions/2026.11.20.1" "$1/acme/defs"
  cp -r "$here/acme/releases/config/1.0" "$1/acme/config"
}

step "A scratch machine with Acme Antivirus 12.1 installed: engine 3.7.70, definitions 2026.11.20.1, config 1.0"
machine="$work/machine"
new_machine "$machine"
export IUPACK_INVENTORY="$machine/inventory.json"
echo "inventory: $IUPACK_INVENTORY (trusts only the snakeoil sample key)"

step "The publisher builds two signed packages (sample key: keys/snakeoil.key); 2026.11.24.1 is cumulative"
pkgs="$work/packages"; mkdir -p "$pkgs"
for rel in 2026.11.22.1 2026.11.24.1; do
  "$iupack" build "$here/acme/specs/acme-av-$rel.toml" --key keys/snakeoil.key \
    "${heads[@]+"${heads[@]}"}" --out "$pkgs/acme-av-$rel.run" --force
done
# The daily definitions update once more as a bare package, for machines with the client tool:
# the same signed content without the head.
"$iupack" build "$here/acme/specs/acme-av-2026.11.22.1.toml" --key keys/snakeoil.key --bare \
  --out "$pkgs/acme-av-2026.11.22.1.iup" --force
ls -l "$pkgs"
run "$iupack" inspect "$pkgs/acme-av-2026.11.24.1.run"
expect 0 "$iupack" verify "$pkgs/acme-av-2026.11.24.1.run" --pubkey keys/snakeoil.pub
if command -v minisign >/dev/null; then
  expect 0 minisign -Vm "$pkgs/acme-av-2026.11.24.1.run" -p keys/snakeoil.pub
fi
(cd "$pkgs" && expect 0 sha256sum -c SHA256SUMS)
unzip -l "$pkgs/acme-av-2026.11.24.1.run"

step "On the machine: what would the package do? (--check is the fleet tools' detection rule)"
expect 1 "$pkgs/acme-av-2026.11.24.1.run" --check
expect 0 "$pkgs/acme-av-2026.11.24.1.run" --list

step "Apply the daily definitions package (bare, with the client tool), then the cumulative release: each component takes the cheapest route"
expect 0 "$client" apply "$pkgs/acme-av-2026.11.22.1.iup"
expect 0 "$pkgs/acme-av-2026.11.24.1.run" --report "$work/report.json" --log "$work/iupack.log"
"$machine/acme/engine/bin/acme-scan" --version
ACME_DEFS="$machine/acme/defs" "$machine/acme/engine/bin/acme-scan" --test-defs
for c in engine:engine/3.7.71 defs:definitions/2026.11.24.1 config:config/1.1; do
  diff -r "$machine/acme/${c%%:*}" "$here/acme/releases/${c#*:}" && echo "acme/${c%%:*} is byte-identical to release ${c#*:}"
done
echo "inventory now:"; grep -E '"(version|package)"' "$machine/inventory.json"

step "Run it again: a no-op"
expect 0 "$pkgs/acme-av-2026.11.24.1.run"
expect 0 "$pkgs/acme-av-2026.11.24.1.run" --check

step "What is refused, leaving the machine as it was"
expect 12 "$pkgs/acme-av-2026.11.22.1.run"
"$iupack" keygen -o "$work/rogue" --no-password --force >/dev/null
"$iupack" build "$here/acme/specs/acme-av-2026.11.24.1.toml" --key "$work/rogue.key" \
  "${heads[@]+"${heads[@]}"}" --out "$work/rogue.run" --force >/dev/null
expect 20 "$work/rogue.run"
size=$(stat -c %s "$pkgs/acme-av-2026.11.24.1.run")
head -c $((size - 5000)) "$pkgs/acme-av-2026.11.24.1.run" > "$work/truncated.run"; chmod +x "$work/truncated.run"
expect 21 "$work/truncated.run"
# No inventory where the machine keeps one: the product is not installed here (10, what a
# detection rule reads as "skip"); a path typed with --inventory that isn't there is a mistake (2).
IUPACK_INVENTORY="$work/no-such-inventory.json" expect 10 "$pkgs/acme-av-2026.11.24.1.run"
expect 2 "$pkgs/acme-av-2026.11.24.1.run" --inventory "$work/no-such-inventory.json"

step "The installed client tool (the stub with no package attached): status, rollback, apply again"
expect 0 "$client" status
expect 0 "$client" rollback acme-av definitions
diff -r "$machine/acme/defs" "$here/acme/releases/definitions/2026.11.22.1" && echo "acme/defs is back to 2026.11.22.1, byte-identical"
expect 11 "$client" rollback acme-av definitions
expect 0 "$pkgs/acme-av-2026.11.24.1.run" -q
expect 0 "$client" recover

step "The release store, an update share and the inventory round trip, on a second machine still at the first release"
store="$work/store"
for rel in engine/3.7.70 engine/3.7.71 definitions/2026.11.20.1 definitions/2026.11.22.1 definitions/2026.11.24.1 config/1.0 config/1.1; do
  "$iupack" add "$store" acme-av "${rel%%/*}" "${rel#*/}" "$here/acme/releases/$rel"
done
printf '\n[components.definitions]\nrequires = { engine = ">=3.7.71" }\n' >> "$store/acme-av/product.toml"
machine2="$work/machine2"
new_machine "$machine2"
expect 0 "$client" status --export "$work/machine2.json" --inventory "$machine2/inventory.json"
expect 0 "$iupack" plan --inventory "$work/machine2.json" --store "$store" --out "$work/share" \
  --key keys/snakeoil.key "${heads[@]+"${heads[@]}"}"
ls -l "$work/share"
expect 0 "$client" apply --from "$work/share" --list --inventory "$machine2/inventory.json"
expect 0 "$client" apply --from "$work/share" --inventory "$machine2/inventory.json"
for c in engine:engine/3.7.71 defs:definitions/2026.11.24.1 config:config/1.1; do
  diff -r "$machine2/acme/${c%%:*}" "$here/acme/releases/${c#*:}" && echo "machine2 acme/${c%%:*} is byte-identical to release ${c#*:}"
done
expect 0 "$client" apply --from "$work/share" --inventory "$machine2/inventory.json"

step "A third machine, from nothing: the package installs the client tool it carries, init sets the product up, the same package applies"
fresh="$work/machine3"
rm -rf "$fresh" && mkdir -p "$fresh"
expect 0 "$iupack" build "$here/acme/specs/acme-av-2026.11.24.1.toml" --key keys/snakeoil.key \
  --with-client "$client" --out "$pkgs/acme-av-2026.11.24.1-with-client.run" --force "${heads[@]+"${heads[@]}"}"
expect 0 "$pkgs/acme-av-2026.11.24.1-with-client.run" --install-client "$fresh/bin" \
  --pubkey keys/snakeoil.pub --inventory "$fresh/inventory.json"
expect 0 "$fresh/bin/iupack-stub" init acme-av 12.1 --key keys/snakeoil.pub --name "Acme Antivirus" \
  --component engine=acme/engine --component definitions=acme/defs --component config=acme/config \
  --inventory "$fresh/inventory.json"
expect 0 "$fresh/bin/iupack-stub" apply "$pkgs/acme-av-2026.11.24.1-with-client.run" --inventory "$fresh/inventory.json"
expect 0 "$fresh/bin/iupack-stub" status --inventory "$fresh/inventory.json"
for c in engine:engine/3.7.71 defs:definitions/2026.11.24.1 config:config/1.1; do
  diff -r "$fresh/acme/${c%%:*}" "$here/acme/releases/${c#*:}" && echo "machine3 acme/${c%%:*} is byte-identical to release ${c#*:}"
done

step "Done"
echo "report of the full apply: $work/report.json"
echo "scratch machine and packages: $work"
