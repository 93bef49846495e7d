#!/usr/bin/env python3
"""Delta benchmark: iupack delta-only packages against bsdiff, xdelta3, zstd and HDiffPatch.

For every pair of ../shared/corpus/pairs.tsv, in one run: build an iupack delta-only package and
apply it to a scratch machine holding the old release; make and apply the same patch with each
standard tool; check every result byte for byte; time everything. Writes the table into
BENCHMARKS.md between the `deltas` markers. Run by bench/run-deltas.sh, which installs the tools.
Tree pairs are measured per file (changed and added files summed) and as one deterministic tar
per version (rows marked t); each tool is credited with its better way.
"""
import hashlib, json, math, os, shutil, subprocess, sys, tarfile, time, io

from treecmp import files_of, same_tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.environ.get("IUPACK_CORPUS", os.path.expanduser("~/.cache/iupack-corpus"))
PAIRS = os.path.join(REPO, "..", "shared", "corpus", "pairs.tsv")
WORK = os.environ.get("BENCH_WORK", "/tmp/iupack-bench")
IUPACK = os.path.join(REPO, "target/release/iupack")
STUB = os.path.join(REPO, "target/stub/iupack-stub")
KEY = os.path.join(REPO, "keys/snakeoil.key")
PUB = open(os.path.join(REPO, "keys/snakeoil.pub")).read().split("\n")[1].strip()
LEVEL = int(os.environ.get("IUPACK_DELTA_LEVEL", "22"))
ONLY = set(sys.argv[1:])


def run(cmd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def det_tar(root, out):
    """A deterministic tar of a tree: sorted, zero times and owners."""
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
        for rel in sorted(files_of(root)):
            p = os.path.join(root, rel)
            info = t.gettarinfo(p, arcname=rel)
            info.mtime = 0; info.uid = info.gid = 0; info.uname = info.gname = ""
            with open(p, "rb") as f:
                t.addfile(info, f)


# Each tool: make(old, new, patch) and apply(old, patch, out) commands.
def zstd_make(level):
    ultra = ["--ultra"] if level > 19 else []
    return lambda o, n, p: ["zstd", "-q", "-f", *ultra, f"-{level}", "--long=31", f"--patch-from={o}", n, "-o", p]


ZSTD_APPLY = lambda o, p, out: ["zstd", "-q", "-f", "-d", "--long=31", f"--patch-from={o}", p, "-o", out]
HDIFF = os.path.join(WORK, "hdiff.py")
TOOLS = {
    "bsdiff": (lambda o, n, p: ["bsdiff", o, n, p], lambda o, p, out: ["bspatch", o, out, p]),
    "xdelta3 -9": (lambda o, n, p: ["xdelta3", "-f", "-9", "-S", "djw", "-e", "-s", o, n, p],
                   lambda o, p, out: ["xdelta3", "-f", "-d", "-s", o, p, out]),
    "zstd -19": (zstd_make(19), ZSTD_APPLY),
    "zstd -22": (zstd_make(22), ZSTD_APPLY),
    "HDiffPatch lzma": (lambda o, n, p: [sys.executable, HDIFF, "diff", o, n, p],
                        lambda o, p, out: [sys.executable, HDIFF, "apply", o, p, out]),
}
HDIFF_SRC = '''import sys, hdiffpatch
op, a, b, c = sys.argv[1:]
if op == "diff":
    open(c, "wb").write(hdiffpatch.diff(open(a, "rb").read(), open(b, "rb").read(),
        compression=hdiffpatch.LzmaConfig(level=9, window=26, threads=1)))
else:
    open(c, "wb").write(hdiffpatch.apply(open(a, "rb").read(), open(b, "rb").read()))
'''


def tool_file(tool, old, new, tag):
    """One tool on one file pair: (patch bytes, make s, apply s), checked."""
    make, apply = TOOLS[tool]
    p = os.path.join(WORK, f"{tag}.patch"); out = os.path.join(WORK, f"{tag}.out")
    tm = run(make(old, new, p))
    ta = run(apply(old, p, out))
    assert open(out, "rb").read() == open(new, "rb").read(), f"{tool} round trip failed on {tag}"
    size = os.path.getsize(p)
    os.remove(p); os.remove(out)
    return size, tm, ta


def tool_tree(tool, old, new, tag):
    """Per file over a tree pair: changed and added files (from an empty file) summed."""
    fo, fn = files_of(old), files_of(new)
    empty = os.path.join(WORK, "empty"); open(empty, "wb").close()
    total = [0, 0.0, 0.0]
    for rel, p in fn.items():
        o = fo.get(rel)
        if o and open(o, "rb").read() == open(p, "rb").read():
            continue
        s, tm, ta = tool_file(tool, o or empty, p, tag)
        total[0] += s; total[1] += tm; total[2] += ta
    return tuple(total)


def tool_best(tool, old, new, shape, tag):
    """One tool on one pair: (patch bytes, make s, apply s, how). A file pair is one patch; a tree
    pair the better of per file (how "") and one deterministic tar per version (how "t")."""
    if shape == "file":
        return (*tool_file(tool, old, new, tag), "")
    per = tool_tree(tool, old, new, tag)
    to, tn = os.path.join(WORK, "old.tar"), os.path.join(WORK, "new.tar")
    det_tar(old, to); det_tar(new, tn)
    whole = tool_file(tool, to, tn, tag)
    return (*per, "") if per[0] <= whole[0] else (*whole, "t")


def tool_versions():
    """The standard tools' version lines, for the tables' text."""
    return [
        "bsdiff 4.3 (Debian)",
        subprocess.run(["xdelta3", "-V"], capture_output=True, text=True).stderr.split("\n")[0],
        subprocess.run(["zstd", "-V"], capture_output=True, text=True).stdout.strip(),
        "HDiffPatch 2.6.0 via PyPI `hdiffpatch` (lzma 9, window 2^26, one thread)",
    ]


def iupack(old, new, shape, tag):
    """An iupack delta-only package old → new applied to a scratch machine: payload bytes (package
    minus stub), build s, apply s, apply peak RSS KiB."""
    d = os.path.join(WORK, tag); shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    rel_old, rel_new = os.path.join(d, "old"), os.path.join(d, "new")
    os.makedirs(rel_old); os.makedirs(rel_new)
    if shape == "file":
        name = os.path.basename(new)
        shutil.copy2(old, os.path.join(rel_old, name)); shutil.copy2(new, os.path.join(rel_new, name))
    else:
        shutil.rmtree(rel_old); shutil.rmtree(rel_new)
        shutil.copytree(old, rel_old); shutil.copytree(new, rel_new)
    spec = os.path.join(d, "spec.toml")
    open(spec, "w").write('product = "bench"\n[targets]\nplatforms = ["*"]\n[[components]]\nname = "c"\n'
                          'version = "2"\ncontent = "new"\nfull = false\n[[components.deltas]]\nversion = "1"\ncontent = "old"\n')
    pkg = os.path.join(d, "p.run")
    tb = run([IUPACK, "build", spec, "--key", KEY, "--stub", STUB, "--out", pkg, "--delta-level", str(LEVEL)])
    payload = os.path.getsize(pkg) - os.path.getsize(STUB)
    m = os.path.join(d, "machine"); shutil.copytree(rel_old, os.path.join(m, "c"))
    json.dump({"format": 1, "products": [{"id": "bench", "version": "1", "trusted_keys": [PUB],
               "components": {"c": {"version": "1", "path": "c"}}, "keep_previous": 0}]},
              open(os.path.join(m, "inventory.json"), "w"))
    subprocess.run(["sync"])
    rss_file = os.path.join(d, "rss")
    ta = run(["/usr/bin/time", "-f", "%M", "-o", rss_file, pkg, "-q", "--inventory", os.path.join(m, "inventory.json")])
    assert same_tree(os.path.join(m, "c"), rel_new), f"iupack round trip failed on {tag}"
    rss = int(open(rss_file).read().split()[-1])
    shutil.rmtree(d)
    return payload, tb, ta, rss


def sha_time(path):
    t = time.perf_counter()
    for f in files_of(path).values():
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return time.perf_counter() - t


def main():
    os.makedirs(WORK, exist_ok=True)
    open(HDIFF, "w").write(HDIFF_SRC)
    rows = []
    for line in open(PAIRS).read().splitlines()[1:]:
        pid, item, old_v, new_v, kind, shape, path, _ = line.split("\t")
        if ONLY and pid not in ONLY:
            continue
        old = os.path.join(CORPUS, "x", f"{item}-{old_v}", path)
        new = os.path.join(CORPUS, "x", f"{item}-{new_v}", path)
        print(f"{pid} {item} {old_v} -> {new_v}", flush=True)
        r = {"id": pid, "item": item, "kind": kind, "shape": shape, "tools": {}}
        r["iupack"] = iupack(old, new, shape, pid)
        print("  iupack", r["iupack"], flush=True)
        for tool in TOOLS:
            *best, how = tool_best(tool, old, new, shape, pid)
            r["tools"][tool] = (*best, how)
            print(f"  {tool}{' (tar)' if how else ''}", tuple(best), flush=True)
        r["hash_s"] = sha_time(new)
        r["date"] = time.strftime("%Y-%m-%d")
        rows.append(r)
    # Rows persist in bench/deltas.json: a run of some pairs replaces just those rows. Each row
    # compares iupack and every tool measured in the same run.
    store = os.path.join(HERE, "deltas.json")
    kept = json.load(open(store)) if ONLY and os.path.exists(store) else []
    done = {r["id"] for r in rows}
    rows = sorted([r for r in kept if r["id"] not in done] + rows, key=lambda r: r["id"])
    json.dump(rows, open(store, "w"), indent=1)
    write(rows)


def fmt(n):
    return f"{n:,}"


def write(rows):
    lines = ["<!-- deltas:begin -->", "## Delta payloads against the standard tools", "",
             f"Generated by `bench/run-deltas.sh` (rows kept in bench/deltas.json; a run of named pairs "
             f"re-measures just those), 2-core machine, last run {time.strftime('%Y-%m-%d')}. "
             f"iupack: delta-only package built with the defaults (`--delta-codec auto`, zstd level {LEVEL}): "
             "per file the smaller of a zstd patch-from and a bsdiff-lzma patch (programs: of a zstd patch-from "
             "and a Zucchini patch, zucchini-norm-xz where it normalises the program and zucchini-xz otherwise, bsdiff-lzma "
             "where Zucchini makes none), or one whole-tree patch where "
             "that is smaller; payload = package bytes minus the stub. Tools: " + "; ".join(tool_versions()) +
             ". Tree pairs: each "
             "tool's better of per-file (changed + added files) and one deterministic tar (`t`). Every "
             "result was checked byte for byte.", "",
             "| pair | iupack payload | bsdiff | xdelta3 -9 | zstd -19 | zstd -22 | HDiffPatch lzma | smallest tool | iupack / smallest | build / zstd -22 | build / HDiffPatch | apply / (zstd -d + sha256) | apply peak RSS |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    ratios = []
    for r in rows:
        pay, tb, ta, rss = r["iupack"]
        tools = r["tools"]
        small_tool = min(tools, key=lambda t: tools[t][0])
        small = tools[small_tool][0]
        ratio = pay / small
        ratios.append(ratio)
        z22 = tools["zstd -22"]
        hdp = tools["HDiffPatch lzma"]
        cells = [f"{fmt(tools[t][0])}{' t' if tools[t][3] else ''}" for t in TOOLS]
        lines.append(f"| {r['id']} {r['item']} | {fmt(pay)} | " + " | ".join(cells) +
                     f" | {small_tool} | {ratio:.2f} | {tb / z22[1]:.2f} | {tb / hdp[1]:.2f} | {ta / (z22[2] + r['hash_s']):.2f} | {rss // 1024} MiB |")
    gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios)) if ratios else float("nan")
    lines += ["", f"Geometric mean of iupack / smallest: **{gm:.2f}**; worst pair: **{max(ratios):.2f}** "
              "(goal: ≤ 1.00 and no pair above 1.10).", "<!-- deltas:end -->"]
    path = os.path.join(REPO, "BENCHMARKS.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nFigures measured in `bench/`; each section says how to reproduce it.\n"
    block = "\n".join(lines) + "\n"
    if "<!-- deltas:begin -->" in text:
        a = text.index("<!-- deltas:begin -->"); b = text.index("<!-- deltas:end -->") + len("<!-- deltas:end -->\n")
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip() + "\n\n" + block
    open(path, "w").write(text)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
