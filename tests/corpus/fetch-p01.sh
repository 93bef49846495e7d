#!/usr/bin/env bash
# Fetches the corpus pair P01 (ruff 0.8.0 -> 0.8.1, ELF x86-64, from PyPI; the same pinned wheels
# as ../shared/corpus/fetch.sh) for the zucchini differential test that .ci/run runs. Prints the
# folder holding ruff-linux-0.8.0/ruff and ruff-linux-0.8.1/ruff.
set -euo pipefail
dir=${IUPACK_CORPUS_P01:-$HOME/.cache/iupack-corpus-p01}
mkdir -p "$dir/dl"
while read -r ver sha; do
  out="$dir/ruff-linux-$ver/ruff"
  [ -x "$out" ] && { echo "$sha  $(ls "$dir"/dl/ruff-"$ver"-*.whl)" | sha256sum -c --quiet && continue; }
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 \
    --python-version 3.11 -d "$dir/dl" "ruff==$ver" >&2
  whl=$(ls "$dir"/dl/ruff-"$ver"-*.whl)
  echo "$sha  $whl" | sha256sum -c --quiet
  mkdir -p "$dir/ruff-linux-$ver"
  unzip -q -o -j "$whl" "ruff-$ver.data/scripts/ruff" -d "$dir/ruff-linux-$ver"
  chmod +x "$out"
done <<'PINS'
0.8.0 87a8e86bae0dbd749c815211ca11e3a7bd559b9710746c559ed63106d382bd9c
0.8.1 b22346f845fec132aa39cd29acb94451d030c10874408dbf776af3aaeb53284c
PINS
echo "$dir"
