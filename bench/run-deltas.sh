#!/usr/bin/env bash
# The delta benchmark in one command: installs the standard tools, fetches the corpus, builds
# iupack, runs bench/deltas.py (all pairs, or the pair ids given) and updates BENCHMARKS.md.
# Takes 30-40 minutes on a 2-core machine (bsdiff and zstd -22 on the large binaries dominate).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
need=()
for t in bsdiff xdelta3 zstd; do command -v "$t" >/dev/null || need+=("$t"); done
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
venv="${BENCH_VENV:-$HOME/.cache/iupack-bench-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q hdiffpatch==2.6.0
bash "$repo/../shared/corpus/fetch.sh"
(cd "$repo" && cargo build --locked --release -q -p iupack && cargo build --locked --profile stub -q -p iupack-stub)
"$venv/bin/python" "$here/deltas.py" "$@"
