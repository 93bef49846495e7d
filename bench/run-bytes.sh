#!/usr/bin/env bash
# The bytes-per-update benchmark in one command (issue 21): installs the standard delta tools,
# fetches the corpus, builds iupack and the static heads and client tool for linux-x86_64, runs
# bench/bytes.py and rewrites its section of BENCHMARKS.md ("Bytes per update").
# A few minutes on a 2-core machine once built (the definitions pairs are small).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
need=()
for t in bsdiff xdelta3 zstd unzip; do command -v "$t" >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
venv="${BENCH_VENV:-$HOME/.cache/iupack-bench-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q hdiffpatch==2.6.0
bash "$repo/../shared/corpus/fetch.sh"
(cd "$repo" && cargo build --locked --release -q -p iupack)
# The heads `iupack build` takes from target/stubs/linux-x86_64/ and the client tool there.
bash "$repo/stub/build-targets.sh" linux-x86_64
"$venv/bin/python" "$here/bytes.py"
