#!/usr/bin/env bash
# Runs every fuzz target for SECS seconds (default 600), two at a time, and prints each one's
# executions and findings. Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly; cargo install cargo-fuzz
#   bash fuzz/run.sh [SECS]          (FUZZ_JOBS=N targets at a time, default 2)
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
# -a: debug assertions and overflow checks on (cargo fuzz builds optimised without them by
# default), so that arithmetic a package controls and that would wrap in a release build is a
# finding here, not a silent wrap.
cargo +nightly fuzz build -a || exit 1
mkdir -p logs
# Seeds for `zucchini`: real program pairs and their reference patches (the differential test
# writes them; it needs clang-19 for the C++ library, as the README's set-up installs).
if [ -z "$(ls corpus/zucchini 2>/dev/null)" ]; then
  IUPACK_FUZZ_SEEDS="$PWD/corpus/zucchini" cargo test --quiet --locked --manifest-path ../Cargo.toml \
    -p iupack-tests --test zucchini small_ >/dev/null || echo "zucchini: no seeds (test failed)"
fi
# Seeds for `normalise`: small ELF and PE x86-64 programs (every table it rewrites), every bit.
if [ -z "$(ls corpus/normalise 2>/dev/null)" ]; then
  mkdir -p corpus/normalise
  src='int f(int x) { return x + 1; } int (*p)(int) = f; int main(void) { return p(0); }'
  for cc in gcc x86_64-w64-mingw32-gcc; do
    command -v $cc >/dev/null || continue
    echo "$src" | $cc -O1 -x c - -o corpus/normalise/prog \
      && { printf '\077'; cat corpus/normalise/prog; } > "corpus/normalise/$cc" && rm corpus/normalise/prog
  done
fi
run() {
  local t=$1
  mkdir -p "corpus/$t"
  cargo +nightly fuzz run -a "$t" "corpus/$t" -- -max_total_time="$secs" -print_final_stats=1 \
    > "logs/$t.log" 2>&1
  local rc=$?
  local execs; execs=$(grep -E '^stat::number_of_executed_units' "logs/$t.log" | awk '{print $2}')
  local crashes; crashes=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  echo "$t: exit $rc, ${execs:-?} executions in ${secs}s, $crashes artifacts"
}
targets=(manifest inventory version payload patch journal_keys share_index json zucchini normalise)
par=${FUZZ_JOBS:-2}   # targets run side by side (each is one process)
for ((i = 0; i < ${#targets[@]}; i += par)); do
  for t in "${targets[@]:i:par}"; do run "$t" & done
  wait
done
