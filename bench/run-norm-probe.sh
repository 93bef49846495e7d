#!/usr/bin/env bash
# Issue 22 step 4: what each normalisation of `zucchini-norm-xz` wins on its own. Both files of
# a pair normalised by the stub's own code (tests/examples/normalise.rs: none, each alone, all),
# the reference Zucchini patch between them (tests/examples/zucchini_patch.rs), `xz -9e`,
# against the plain Zucchini patch. Needs clang-19 (the zucchini crate), as the README's set-up.
# Usage: bench/run-norm-probe.sh OLD NEW [LABEL [SETS...]]   (about 50 s per line on a 31 MB
# pair; SETS default: none, each alone, all; a set is names joined by commas)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old=$1 new=$2 label=${3:-pair}
shift $(($# < 3 ? $# : 3))
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(none hdr eh cid sym add pdata all)
cargo build -q --release --locked -p iupack-tests --example zucchini_patch --example normalise
bin=$here/../target/release/examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base=
echo "| $label | normalisations | patch (xz -9e) | vs plain Zucchini |"
echo "|---|---|---:|---:|"
for opts in "${sets[@]}"; do
    "$bin/normalise" "$old" "$work/o" "$opts" 2>/dev/null
    "$bin/normalise" "$new" "$work/n" "$opts" 2>/dev/null
    "$bin/zucchini_patch" "$work/o" "$work/n" "$work/p"
    size=$(xz -9e -c "$work/p" | wc -c)
    base=${base:-$size}
    echo "| $label | $opts | $size | $(python3 -c "print(f'{$size/$base:.3f}')") |"
done
