#!/usr/bin/env python3
"""Which head a self-extracting delta-only package gets (issue 21, item 3), per corpus pair.

For every pair of ../shared/corpus/pairs.tsv (or the ids given), a delta-only package old -> new
built three ways with target/release/iupack and the static heads of `bash stub/build-targets.sh
linux-x86_64` (target/stubs/linux-x86_64/):
  zstd   --stub iupack-head-zstd: any codec (what every delta-only package was before)
  small  --stub iupack-head: every patch bsdiff-lzma
  auto   no --stub: both heads found; iupack builds both ways and keeps the smaller package
Each package is applied to a scratch machine holding the old release (checked byte for byte,
timed). The three builds of a pair share one delta cache, so each patch is made once. Prints a
Markdown table.
"""
import json, os, shutil, subprocess, sys, time

from treecmp import same_tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.environ.get("IUPACK_CORPUS", os.path.expanduser("~/.cache/iupack-corpus"))
PAIRS = os.path.join(REPO, "..", "shared", "corpus", "pairs.tsv")
WORK = os.environ.get("BENCH_WORK", "/tmp/iupack-bench-heads")
IUPACK = os.path.join(REPO, "target/release/iupack")
HEADS = os.path.join(REPO, "target/stubs/linux-x86_64")
KEY = os.path.join(REPO, "keys/snakeoil.key")
PUB = open(os.path.join(REPO, "keys/snakeoil.pub")).read().split("\n")[1].strip()
ONLY = sys.argv[1:] or ["P01", "P08", "P10", "P11", "P12", "P14", "P16"]


def build(d, how):
    """One build of d/spec.toml: (package bytes, head name, head bytes, patch bytes, seconds)."""
    pkg = os.path.join(d, f"{how}.run")
    stub = {"zstd": ["--stub", os.path.join(HEADS, "iupack-head-zstd")],
            "small": ["--stub", os.path.join(HEADS, "iupack-head")], "auto": []}[how]
    t = time.perf_counter()
    out = subprocess.run([IUPACK, "build", os.path.join(d, "spec.toml"), "--key", KEY, "--out", pkg,
                          "--json", "--delta-cache", os.path.join(d, "cache"), *stub],
                         check=True, capture_output=True, text=True).stdout
    secs = time.perf_counter() - t
    v = json.loads(out)
    patch = sum(dl["payload_bytes"] for c in v["components"] for dl in c["deltas"])
    return v["size"], os.path.basename(v["stub"]), v["stub_size"], patch, secs, pkg


def apply(d, pkg, old, new):
    m = os.path.join(d, "machine")
    shutil.rmtree(m, ignore_errors=True)
    shutil.copytree(old, os.path.join(m, "c"))
    json.dump({"format": 1, "products": [{"id": "bench", "version": "1", "trusted_keys": [PUB],
               "components": {"c": {"version": "1", "path": "c"}}, "keep_previous": 0}]},
              open(os.path.join(m, "inventory.json"), "w"))
    t = time.perf_counter()
    subprocess.run([pkg, "-q", "--inventory", os.path.join(m, "inventory.json")], check=True,
                   stdout=subprocess.DEVNULL)
    secs = time.perf_counter() - t
    assert same_tree(os.path.join(m, "c"), new), f"round trip failed: {pkg}"
    return secs


def main():
    for h in ("iupack-head", "iupack-head-zstd"):
        assert os.path.isfile(os.path.join(HEADS, h)), "run `bash stub/build-targets.sh linux-x86_64`"
    os.makedirs(WORK, exist_ok=True)
    print("| pair | zstd way: patches | + iupack-head-zstd = package | apply | bsdiff-lzma way: patches "
          "| + iupack-head = package | apply | auto: head | package | before → after |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for line in open(PAIRS).read().splitlines()[1:]:
        pid, item, old_v, new_v, kind, shape, path, _ = line.split("\t")
        if pid not in ONLY:
            continue
        d = os.path.join(WORK, pid)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        old, new = os.path.join(d, "old"), os.path.join(d, "new")
        src_old = os.path.join(CORPUS, "x", f"{item}-{old_v}")
        src_new = os.path.join(CORPUS, "x", f"{item}-{new_v}")
        if shape == "file":
            os.makedirs(old); os.makedirs(new)
            shutil.copy2(os.path.join(src_old, path), old); shutil.copy2(os.path.join(src_new, path), new)
        else:
            shutil.copytree(os.path.join(src_old, path), old); shutil.copytree(os.path.join(src_new, path), new)
        open(os.path.join(d, "spec.toml"), "w").write(
            'product = "bench"\n[targets]\nplatforms = ["*"]\n[[components]]\nname = "c"\n'
            'version = "2"\ncontent = "new"\nfull = false\n[[components.deltas]]\nversion = "1"\ncontent = "old"\n')
        r = {how: build(d, how) for how in ("zstd", "small", "auto")}
        ta = {how: apply(d, r[how][5], old, new) for how in ("zstd", "small")}
        # auto keeps the smaller way (package sizes of two builds differ by a byte or two: the
        # deflated manifest holds the build time)
        smaller = min(("zstd", "small"), key=lambda h: r[h][0])
        assert r["auto"][1] == r[smaller][1] and abs(r["auto"][0] - r[smaller][0]) < 64, r
        f = lambda n: f"{n:,}"
        z, s, a = r["zstd"], r["small"], r["auto"]
        print(f"| {pid} {item} | {f(z[3])} | {f(z[0])} | {ta['zstd']:.2f} s | {f(s[3])} | {f(s[0])} "
              f"| {ta['small']:.2f} s | {a[1]} ({f(a[2])}) | {f(a[0])} | {f(z[0])} → {f(a[0])} |", flush=True)


if __name__ == "__main__":
    main()
