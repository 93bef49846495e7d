#!/usr/bin/env python3
"""Full-package benchmark (issue 7): for the newest release of each corpus item, in one run,
an iupack full package against 7-Zip's console SFX (7zCon.sfx, -mx=9), makeself (gzip, xz, zstd)
and zip -9: total file size, and the time to apply/extract into the same disk (iupack: signature,
hashing, staging, swap; the others: plain extraction; plus unzip -q and tar xf of the same
content). Every extraction is checked byte for byte. Writes the table into BENCHMARKS.md between
the `full` markers. Run by bench/run-full.sh, which installs the tools. Items are named by
pairs.tsv's item column; `deno-linux` (114 MB) is left out unless named.
"""
import json, os, shutil, subprocess, sys, time

from treecmp import files_of, same_tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.environ.get("IUPACK_CORPUS", os.path.expanduser("~/.cache/iupack-corpus"))
PAIRS = os.path.join(REPO, "..", "shared", "corpus", "pairs.tsv")
WORK = os.environ.get("BENCH_WORK", "/tmp/iupack-bench-full")
IUPACK = os.path.join(REPO, "target/release/iupack")
# The stub `iupack build --target linux-x86_64` embeds (static musl, built for size by
# stub/build-targets.sh); the glibc development stub if that one was not built.
STUB = os.environ.get("IUPACK_BENCH_STUB") or next(
    p for p in [os.path.join(REPO, "target/stubs/linux-x86_64/iupack-stub"),
                os.path.join(REPO, "target/stub/iupack-stub")] if os.path.exists(p))
# With the heads stub/build-targets.sh makes, `iupack build --target linux-x86_64` picks per
# package the smallest head that reads it (iupack-head without zstd for xz and deflate,
# iupack-head-zstd for zstd); IUPACK_BENCH_STUB forces one stub for all.
TARGET_HEADS = not os.environ.get("IUPACK_BENCH_STUB") and os.path.exists(
    os.path.join(REPO, "target/stubs/linux-x86_64/iupack-head"))
HEADS = {}  # method -> (head path, bytes), as the builder reported
METHODS = ["zstd", "xz", "deflate"]
KEY = os.path.join(REPO, "keys/snakeoil.key")
PUB = open(os.path.join(REPO, "keys/snakeoil.pub")).read().split("\n")[1].strip()
SFX = "/usr/lib/p7zip/7zCon.sfx"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
ONLY = set(sys.argv[1:])


def heads_text():
    return ", ".join(f"{m} `{os.path.relpath(p, REPO)}` {fmt(n)} B" for m, (p, n) in sorted(HEADS.items()))


def sh(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def timed(cmd, **kw):
    """Median wall time of RUNS runs (the caller resets state through `before`)."""
    before = kw.pop("before", None)
    times = []
    for _ in range(RUNS):
        if before:
            before()
        subprocess.run(["sync"], check=True)
        t = time.perf_counter()
        sh(cmd, **kw)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def peak_rss_kib(cmd):
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(out.stderr.strip().splitlines()[-1])


def newest_releases():
    items = {}
    for line in open(PAIRS).read().splitlines()[1:]:
        pid, item, old, new, kind, shape, path, _ = line.split("\t")
        items[item] = (new, path, shape)  # rows are in release order: the last is the newest
    return items


def tool_version(cmd, pattern=None):
    """The first line of a tool's version output (or the first line matching `pattern`)."""
    import re
    try:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "missing"
    for line in out.splitlines():
        if pattern is None or re.search(pattern, line):
            return line.strip()
    return "?"


def measure(item, version, path, shape):
    w = os.path.join(WORK, item)
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    src = os.path.join(CORPUS, "x", f"{item}-{version}", path)
    content = os.path.join(w, "content")
    if shape == "file":
        os.makedirs(content)
        shutil.copy2(src, os.path.join(content, os.path.basename(path)))
    else:
        shutil.copytree(src, content)
    raw = sum(os.path.getsize(p) for p in files_of(content).values())
    r = {"item": item, "version": version, "files": len(files_of(content)), "raw": raw}

    # iupack, each full-content compression
    spec = os.path.join(w, "spec.toml")
    open(spec, "w").write(
        f'product = "bench"\n[targets]\nplatforms = ["*"]\n[[components]]\nname = "c"\n'
        f'version = "{version}"\ncontent = "content"\n')
    machine = os.path.join(w, "machine")

    def fresh_machine():
        shutil.rmtree(machine, ignore_errors=True)
        os.makedirs(machine)
        json.dump({"format": 1, "machine": {"platform": "linux-x86_64"},
                   "products": [{"id": "bench", "version": "1", "trusted_keys": [PUB],
                                 "components": {"c": {"path": "c"}}, "keep_previous": 0}]},
                  open(os.path.join(machine, "inventory.json"), "w"))
    inv = os.path.join(machine, "inventory.json")
    r["rss_kib"] = 0
    for m in METHODS:
        pkg = os.path.join(w, f"pkg-{m}.run")
        t = time.perf_counter()
        head = ["--target", "linux-x86_64"] if TARGET_HEADS else ["--stub", STUB]
        out = subprocess.run([IUPACK, "build", spec, "--key", KEY, *head, "--out", pkg, "--force",
                              "--compression", m, "--json"], check=True, capture_output=True).stdout
        built = json.loads(out)
        HEADS[m] = (built["stub"], built["stub_size"])
        r[f"build_{m}"] = time.perf_counter() - t
        r[f"iupack_{m}"] = os.path.getsize(pkg)
        r[f"t_iupack_{m}"] = timed([pkg, "-q", "--inventory", inv], before=fresh_machine)
        assert same_tree(os.path.join(machine, "c"), content), f"{item}: iupack {m} result differs"
        fresh_machine()
        r["rss_kib"] = max(r["rss_kib"], peak_rss_kib([pkg, "-q", "--inventory", inv]))

    out = os.path.join(w, "out")
    def clean_out():
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)

    # 7-Zip SFX
    sfx = os.path.join(w, "pkg.7z.sfx")
    sh(["7z", "a", "-bd", "-mx=9", f"-sfx{SFX}", sfx, "."], cwd=content)
    os.chmod(sfx, 0o755)
    r["7z"] = os.path.getsize(sfx)
    r["t_7z"] = timed([sfx, "-y", f"-o{out}"], before=clean_out)
    assert same_tree(out, content), f"{item}: 7z result differs"

    # makeself
    for comp in ["gzip", "xz", "zstd"]:
        ms = os.path.join(w, f"pkg.{comp}.run")
        sh(["makeself", "--quiet", f"--{comp}", "--nomd5", "--nocrc", content, ms, "bench", "true"])
        r[f"makeself-{comp}"] = os.path.getsize(ms)
        r[f"t_makeself-{comp}"] = timed(
            ["sh", ms, "--quiet", "--noexec", "--target", out], before=clean_out)
        assert same_tree(out, content), f"{item}: makeself {comp} result differs"

    # zip -9, unzip -q; tar xf of a plain tar
    zp = os.path.join(w, "pkg.zip")
    sh(["zip", "-q", "-9", "-r", zp, "."], cwd=content)
    r["zip"] = os.path.getsize(zp)
    r["t_unzip"] = timed(["unzip", "-q", zp, "-d", out], before=clean_out)
    assert same_tree(out, content), f"{item}: unzip result differs"
    tp = os.path.join(w, "pkg.tar")
    sh(["tar", "cf", tp, "-C", content, "."])
    r["t_tar"] = timed(["tar", "xf", tp, "-C", out], before=clean_out)
    assert same_tree(out, content), f"{item}: tar result differs"
    shutil.rmtree(w, ignore_errors=True)
    return r


def fmt(n):
    return f"{n:,}"


def main():
    os.makedirs(WORK, exist_ok=True)
    rows = []
    for item, (version, path, shape) in newest_releases().items():
        if ONLY and item not in ONLY:
            continue
        if not ONLY and item == "deno-linux":
            continue
        print(f"full: {item} {version}", flush=True)
        rows.append(measure(item, version, path, shape))
    versions = "; ".join([
        tool_version(["7z"], r"7-Zip").split(":")[0].strip(),
        tool_version(["makeself", "--version"]),
        tool_version(["zip", "-v"], r"This is Zip"),
        tool_version(["unzip", "-v"], r"UnZip \d").split(" of ")[0],
        tool_version(["tar", "--version"]),
    ])
    lines = [
        "<!-- full:begin -->",
        "## Full packages against the self-extractors",
        "",
        f"Generated by `bench/run-full.sh` (newest release of each corpus item; deno left out unless named), 2-core machine, "
        f"median of {RUNS} runs, every extraction checked byte for byte. Sizes are whole files, executable head included "
        f"(iupack's heads: {heads_text()}; 7zCon.sfx {fmt(os.path.getsize(SFX))} B). "
        "iupack: `iupack build --compression zstd|xz|deflate` (zstd is the default); it applies with signature check, "
        "hashing, staging, fsync and swap; the others only extract. "
        f"Tools: {versions}.",
        "",
        "Package size:",
        "",
        "| item | files | content | iupack xz | iupack zstd | iupack deflate | 7z SFX -mx9 | makeself gzip | makeself xz | makeself zstd | zip -9 | xz / 7z | zstd / 7z |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['item']} {r['version']} | {r['files']} | {fmt(r['raw'])} | {fmt(r['iupack_xz'])} | "
            f"{fmt(r['iupack_zstd'])} | {fmt(r['iupack_deflate'])} | {fmt(r['7z'])} | "
            f"{fmt(r['makeself-gzip'])} | {fmt(r['makeself-xz'])} | {fmt(r['makeself-zstd'])} | {fmt(r['zip'])} | "
            f"{r['iupack_xz'] / r['7z']:.2f} | {r['iupack_zstd'] / r['7z']:.2f} |")
    lines += [
        "",
        "Apply / extract time (and iupack's build time):",
        "",
        "| item | iupack zstd | iupack xz | iupack deflate | 7z SFX | makeself gzip | unzip -q | tar xf | zstd / unzip | xz / unzip | deflate / unzip | stub peak RSS | build zstd | build xz |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ms = lambda t: f"{t * 1000:.0f} ms"
    for r in rows:
        lines.append(
            f"| {r['item']} {r['version']} | {ms(r['t_iupack_zstd'])} | {ms(r['t_iupack_xz'])} | "
            f"{ms(r['t_iupack_deflate'])} | {ms(r['t_7z'])} | {ms(r['t_makeself-gzip'])} | {ms(r['t_unzip'])} | "
            f"{ms(r['t_tar'])} | {r['t_iupack_zstd'] / r['t_unzip']:.2f} | {r['t_iupack_xz'] / r['t_unzip']:.2f} | "
            f"{r['t_iupack_deflate'] / r['t_unzip']:.2f} | {r['rss_kib'] // 1024} MiB | "
            f"{r['build_zstd']:.1f} s | {r['build_xz']:.1f} s |")
    lines += ["", "Goals (issue 7): size ≤ 1.05 × 7z SFX; apply ≤ 1.0 × unzip -q; RSS ≤ 64 MiB.", "<!-- full:end -->"]
    block = "\n".join(lines)
    bm = os.path.join(REPO, "BENCHMARKS.md")
    text = open(bm).read()
    if "<!-- full:begin -->" in text:
        a = text.index("<!-- full:begin -->")
        b = text.index("<!-- full:end -->") + len("<!-- full:end -->")
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    open(bm, "w").write(text)
    print(block)


if __name__ == "__main__":
    main()
