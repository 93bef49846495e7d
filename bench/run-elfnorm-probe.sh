#!/usr/bin/env bash
# Issue 22 step 4, measured before it is built: the Zucchini patch between ELF files normalised by
# bench/elfnorm_probe.py (each normalisation alone, then all), xz -9e, against the plain patch.
# Usage: bench/run-elfnorm-probe.sh OLD NEW [LABEL]   (about 50 s per line on a 31 MB pair)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old=$1 new=$2 label=${3:-pair}
cargo build -q --release --locked -p iupack-tests --example zucchini_patch
gen=$here/../target/release/examples/zucchini_patch
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base=
echo "| $label | normalisations | patch (xz -9e) | vs plain Zucchini |"
echo "|---|---|---:|---:|"
for opts in none hdr eh cid sym add hdr,eh,cid,sym,add; do
    python3 "$here/elfnorm_probe.py" "$old" "$work/o" "$opts"
    python3 "$here/elfnorm_probe.py" "$new" "$work/n" "$opts"
    "$gen" "$work/o" "$work/n" "$work/p"
    size=$(xz -9e -c "$work/p" | wc -c)
    base=${base:-$size}
    echo "| $label | $opts | $size | $(python3 -c "print(f'{$size/$base:.3f}')") |"
done
