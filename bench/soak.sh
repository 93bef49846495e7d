#!/usr/bin/env bash
# The long kill -9 soak (issue 4): RUNS applies of a ~33 MB, 300-file package, each killed with
# SIGKILL at a random moment (half of them in the last fifth of the run, where the swap happens),
# then `iupack-stub recover`; every machine must be byte-identical to the old or the new release,
# with the inventory saying which and nothing left behind. Prints the counts.
#   bash bench/soak.sh [RUNS]          (default 500; IUPACK_SOAK_SEED=N repeats a run)
set -euo pipefail
cd "$(dirname "$0")/.."
export IUPACK_SOAK_RUNS=${1:-500}
cargo test --locked -p iupack-tests --test recovery kill_9_soak -- --ignored --nocapture 2>&1 |
  grep -E '^soak:|test result|panicked|FAILED'
