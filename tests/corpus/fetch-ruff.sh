#!/usr/bin/env bash
# Fetches the corpus pairs P01 (ruff 0.8.0 -> 0.8.1, ELF x86-64) and P03 (the same releases as
# Windows PE x64 .exe), from PyPI, the same pinned wheels as ../shared/corpus/fetch.sh, for the
# zucchini differential test that .ci/run runs. Prints the folder holding ruff-linux-<ver>/ruff
# and ruff-win-<ver>/ruff.exe.
set -euo pipefail
dir=${IUPACK_CORPUS_RUFF:-$HOME/.cache/iupack-corpus-ruff}
mkdir -p "$dir/dl"
while read -r os platform ver sha; do
  exe=ruff; [ "$os" = win ] && exe=ruff.exe
  out="$dir/ruff-$os-$ver/$exe"
  # No wheel yet is an empty answer, not a failure (under pipefail it would be ls's exit 2).
  wheel() { ls "$dir"/dl/ruff-"$ver"-py3-none-"$platform"*.whl 2>/dev/null | head -n 1 || true; }
  whl=$(wheel)
  [ -f "$out" ] && [ -n "$whl" ] && echo "$sha  $whl" | sha256sum -c --quiet && continue
  python3 -m pip download -q --no-deps --only-binary=:all: --platform "$platform" \
    --python-version 3.11 -d "$dir/dl" "ruff==$ver" >&2
  whl=$(wheel)
  echo "$sha  $whl" | sha256sum -c --quiet
  mkdir -p "$dir/ruff-$os-$ver"
  unzip -q -o -j "$whl" "ruff-$ver.data/scripts/$exe" -d "$dir/ruff-$os-$ver"
done <<'PINS'
linux manylinux_2_17_x86_64 0.8.0 87a8e86bae0dbd749c815211ca11e3a7bd559b9710746c559ed63106d382bd9c
linux manylinux_2_17_x86_64 0.8.1 b22346f845fec132aa39cd29acb94451d030c10874408dbf776af3aaeb53284c
win win_amd64 0.8.0 582891c57b96228d146725975fbb942e1f30a0c4ba19722e692ca3eb25cc9b4f
win win_amd64 0.8.1 2954cdbe8dfd8ab359d4a30cd971b589d335a44d444b6ca2cb3d1da21b75e4b6
PINS
echo "$dir"
