#!/usr/bin/env bash
# The full-package benchmark in one command (issue 7): installs 7-Zip's SFX module (p7zip-full),
# makeself, zip and unzip, fetches the corpus, builds iupack and the size-built static stub, runs
# bench/full.py (all items but deno, or the items named) and updates BENCHMARKS.md.
#   bash bench/run-full.sh [ITEM...]      e.g. bash bench/run-full.sh ruff-linux tzdata
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
need=()
# tool:package (7z and its console SFX module come with p7zip-full)
for t in 7z:p7zip-full makeself:makeself zip:zip unzip:unzip zstd:zstd xz:xz-utils; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
[ -f /usr/lib/p7zip/7zCon.sfx ] || need+=(p7zip-full)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
bash "$repo/../shared/corpus/fetch.sh"
(cd "$repo" && cargo build --locked --release -q -p iupack && cargo build --locked --profile stub -q -p iupack-stub)
# The size-built static stub that `iupack build --target linux-x86_64` embeds (full.py uses it).
bash "$repo/stub/build-targets.sh" linux-x86_64
python3 "$here/full.py" "$@"
