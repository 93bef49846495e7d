#!/usr/bin/env python3
"""Bytes per update (issue 21): what a definitions update costs on the wire, in one run.

1. Per definitions pair of ../shared/corpus/pairs.tsv (P08, P10, P11, P12, P14, P16): both
   releases go into a scratch release store; `iupack build --store --no-full --deltas 1` makes
   the bare delta package (`--bare`) and the self-extracting one (the head `iupack build` picks
   from target/stubs/linux-x86_64/). Each is applied to a scratch machine holding the old release
   (the bare one with the client tool, target/stubs/linux-x86_64/iupack-stub) and the result
   checked byte for byte against the new release. The standard tools' patches are made with
   bench/deltas.py's functions in the same run. The fixed overhead is the bare package's bytes
   minus its stored patch and added-file entries (`iupack inspect --json`).
2. Chains of consecutive definitions releases in the corpus (pairs whose new release is the next
   pair's old one): a machine at the first release takes each next release from a share that
   `iupack publish --deltas 1` wrote after that release was added, bare (the default) and
   self-extracting (`--no-bare`): the packages `iupack-stub apply --from SHARE --list --json`
   names, then the apply itself, checked byte for byte.
Writes the tables into BENCHMARKS.md between the `bytes` markers. Run by bench/run-bytes.sh,
which installs the tools and builds iupack and the static heads.
"""
import json, os, shutil, subprocess, sys, time

import deltas
from deltas import TOOLS, tool_best, tool_versions
from treecmp import files_of, same_tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.environ.get("BENCH_WORK", "/tmp/iupack-bench-bytes")
deltas.WORK = WORK  # the tool functions' scratch files
deltas.HDIFF = os.path.join(WORK, "hdiff.py")
PLATFORM = "linux-x86_64"
STUBS = os.path.join(REPO, "target/stubs", PLATFORM)
CLIENT = os.path.join(STUBS, "iupack-stub")
IUPACK, KEY, PUB, CORPUS = deltas.IUPACK, deltas.KEY, deltas.PUB, deltas.CORPUS
PAIRS = ["P08", "P10", "P11", "P12", "P14", "P16"]
COMPONENT = "definitions"


def out(cmd, ok=(0,)):
    """Run a command, return its stdout; any other exit code is an error."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit(f"bytes.py: {' '.join(cmd)} exited {p.returncode}\n{p.stdout}{p.stderr}")
    return p.stdout


def pairs():
    rows = {}
    for line in open(deltas.PAIRS).read().splitlines()[1:]:
        pid, item, old_v, new_v, kind, shape, path, stands_for = line.split("\t")
        rows[pid] = dict(id=pid, item=item, old=old_v, new=new_v, kind=kind, shape=shape, path=path,
                         stands_for=stands_for)
    return rows


def release(item, version, path, shape, into):
    """The content folder of one corpus release (a one-file release goes into a folder of its own)."""
    src = os.path.join(CORPUS, "x", f"{item}-{version}", path)
    if shape == "tree":
        return src
    os.makedirs(into, exist_ok=True)
    shutil.copy2(src, os.path.join(into, os.path.basename(path)))
    return into


def add(store, product, version, content):
    out([IUPACK, "add", store, product, COMPONENT, version, content])


def machine(d, product, version, content):
    """A scratch machine with `content` installed as `product`'s definitions at `version`."""
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    shutil.copytree(content, os.path.join(d, "c"))
    inv = os.path.join(d, "inventory.json")
    json.dump({"format": 1, "products": [{"id": product, "version": "1", "trusted_keys": [PUB],
               "components": {COMPONENT: {"version": version, "path": "c"}}, "keep_previous": 0}]},
              open(inv, "w"))
    return inv


def check_applied(report, inv, new, what):
    r = json.loads(report)
    tree = os.path.join(os.path.dirname(inv), "c")
    if r["exit_code"] != 0 or r["result"] != "applied" or not same_tree(tree, new):
        sys.exit(f"bytes.py: {what} did not apply byte-identical: {r['result']}: {r['message']}")
    return r


def build(store, product, pkg, bare):
    cmd = [IUPACK, "build", "--store", store, "--product", product, "--no-full", "--deltas", "1",
           "--key", KEY, "--out", pkg, "--json"]
    return json.loads(out(cmd + (["--bare"] if bare else [])))


def pair_row(p):
    """Part 1: one pair's bare and self-extracting delta packages, applied, and the tools' patches."""
    pid, product = p["id"], p["item"]
    d = os.path.join(WORK, pid); shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    old = release(product, p["old"], p["path"], p["shape"], os.path.join(d, "old"))
    new = release(product, p["new"], p["path"], p["shape"], os.path.join(d, "new"))
    store = os.path.join(d, "store")
    add(store, product, p["old"], old); add(store, product, p["new"], new)
    bare = build(store, product, os.path.join(d, "p.iup"), True)
    sfx = build(store, product, os.path.join(d, "p.run"), False)
    if bare["stub"] is not None or sfx["stub"] is None or os.path.dirname(sfx["stub"]) != STUBS:
        sys.exit(f"bytes.py: {pid}: expected a bare package and a head from {STUBS}: {bare['stub']}, {sfx['stub']}")
    assert bare["size"] == os.path.getsize(bare["package"]) and sfx["size"] == os.path.getsize(sfx["package"])
    entries = json.loads(out([IUPACK, "inspect", "--json", bare["package"]]))["entries"]
    patch = sum(e["stored"] for e in entries if not e["name"].startswith("iupack/"))
    inv = machine(os.path.join(d, "mb"), product, p["old"], old)
    check_applied(out([CLIENT, "apply", bare["package"], "--inventory", inv, "--json"]), inv, new, f"{pid} bare")
    inv = machine(os.path.join(d, "ms"), product, p["old"], old)
    check_applied(out([sfx["package"], "--inventory", inv, "--json"]), inv, new, f"{pid} self-extracting")
    tools = {}
    # The tools take the pair as deltas.py does: the file itself, or the tree.
    t_old, t_new = (os.path.join(x, os.path.basename(p["path"])) if p["shape"] == "file" else x for x in (old, new))
    for tool in TOOLS:
        size, _, _, how = tool_best(tool, t_old, t_new, p["shape"], pid)
        tools[tool] = (size, how)
    shutil.rmtree(d)
    row = dict(id=pid, item=product, bare=bare["size"], sfx=sfx["size"], head=os.path.basename(sfx["stub"]),
               head_bytes=sfx["stub_size"], patch=patch, tools=tools)
    print(f"{pid} {product}: bare {bare['size']} (patch {patch}), self-extracting {sfx['size']} "
          f"({row['head']} {sfx['stub_size']}), tools {tools}", flush=True)
    return row


def chains(rows):
    """Consecutive definitions releases: each item's pairs linked new -> next old, in file order."""
    out_ = {}
    for p in rows.values():
        if p["kind"] != "definitions":
            continue
        c = out_.setdefault(p["item"], dict(item=p["item"], shape=p["shape"], path=p["path"], versions=[p["old"]],
                                            stands_for=[]))
        if c["versions"][-1] != p["old"] or c["path"] != p["path"]:
            sys.exit(f"bytes.py: {p['id']} does not continue {p['item']}'s chain {c['versions']}")
        c["versions"].append(p["new"])
        c["stands_for"].append(f"{p['id']}: {p['stands_for']}")
    return list(out_.values())


def share_step(store, share, inv, new, bare, what):
    """Publish the store into `share` and bring the machine of `inv` to the newest release from it:
    (bytes of the packages it reads, their files, index + signature bytes, the full package's bytes)."""
    cmd = [IUPACK, "publish", store, share, "--deltas", "1", "--key", KEY, "--json"]
    out(cmd + ([] if bare else ["--no-bare"]))
    index = json.load(open(os.path.join(share, "index.json")))
    by_id = {e["id"]: e for e in index["packages"]}
    listed = json.loads(out([CLIENT, "apply", "--from", share, "--list", "--json", "--inventory", inv]))
    if listed["exit_code"] != 0 or listed["result"] != "listed":
        sys.exit(f"bytes.py: {what}: --list: {listed['result']}: {listed['message']}")
    ids = listed["package_id"].split(",")
    for i in ids:
        file = by_id[i]["file"]
        assert os.path.getsize(os.path.join(share, file)) == by_id[i]["size"]
        if bare != file.endswith(".iup"):
            sys.exit(f"bytes.py: {what}: the machine chose {file} from a {'bare' if bare else '--no-bare'} share")
    applied = check_applied(out([CLIENT, "apply", "--from", share, "--json", "--inventory", inv]), inv, new, what)
    if applied["package_id"] != listed["package_id"]:
        sys.exit(f"bytes.py: {what}: listed {listed['package_id']} but applied {applied['package_id']}")
    # The full package a machine with no usable base would take: the bare one in a bare share.
    full = min(e["size"] for e in index["packages"]
               if all(c["full"] is not None for c in e["components"]) and e["file"].endswith(".iup") == bare)
    sig = sum(os.path.getsize(os.path.join(share, f)) for f in ["index.json", "index.json.minisig"])
    return sum(by_id[i]["size"] for i in ids), [by_id[i]["file"] for i in ids], sig, full


def chain_rows(c):
    """Part 2: a machine at the chain's first release follows it to the last, step by step."""
    product = c["item"]
    d = os.path.join(WORK, "chain-" + product); shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    vs = c["versions"]
    content = [release(product, v, c["path"], c["shape"], os.path.join(d, f"r{i}")) for i, v in enumerate(vs)]
    store = os.path.join(d, "store")
    add(store, product, vs[0], content[0])
    inv_b = machine(os.path.join(d, "mb"), product, vs[0], content[0])
    inv_s = machine(os.path.join(d, "ms"), product, vs[0], content[0])
    steps = []
    for i in range(1, len(vs)):
        add(store, product, vs[i], content[i])
        what = f"{product} {vs[i - 1]} -> {vs[i]}"
        b = share_step(store, os.path.join(d, "share"), inv_b, content[i], True, what + " (bare share)")
        s = share_step(store, os.path.join(d, "share-sfx"), inv_s, content[i], False, what + " (--no-bare share)")
        content_bytes = sum(os.path.getsize(f) for f in files_of(content[i]).values())
        steps.append(dict(old=vs[i - 1], new=vs[i], bare=b[0], bare_files=b[1], bare_index=b[2], bare_full=b[3],
                          sfx=s[0], sfx_files=s[1], sfx_index=s[2], sfx_full=s[3], content=content_bytes))
        print(f"{what}: bare {b}, self-extracting {s}, content {content_bytes}", flush=True)
    shutil.rmtree(d)
    return dict(item=product, versions=vs, steps=steps, stands_for=c["stands_for"])


def commit():
    """The commit iupack was built from (`-dirty` when its code differs from it)."""
    head = out(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).strip()
    dirty = out(["git", "-C", REPO, "status", "--porcelain", "--", "builder", "stub", "Cargo.lock"]).strip()
    return head + ("-dirty" if dirty else "")


def fmt(n):
    return f"{n:,}"


def write(prows, crows):
    heads = ", ".join(f"`{n}` {fmt(os.path.getsize(os.path.join(STUBS, n)))}"
                      for n in ["iupack-head", "iupack-head-zstd", "iupack-stub"])
    tool_names = list(TOOLS)
    lines = ["<!-- bytes:begin -->", "## Bytes per update (issue 21)", "",
             f"Generated by `bench/run-bytes.sh` on {time.strftime('%Y-%m-%d')}, {os.cpu_count()}-core machine "
             f"(shared), every figure from one run. Every size is exact, in bytes. iupack built from commit {commit()}; "
             f"heads and client tool from `stub/build-targets.sh {PLATFORM}` (target/stubs/{PLATFORM}/: {heads}). "
             "Tools: " + "; ".join(tool_versions()) + ".", "",
             "Per definitions pair: both releases in a scratch release store, then "
             "`iupack build --store S --product P --no-full --deltas 1` with the defaults (`--delta-codec auto`, "
             "zstd level 22). **bare** is the package with `--bare` (`PKG.iup`; its detached `.minisig` and "
             "`SHA256SUMS` line beside it are not counted), **self-extracting** the same without `--bare`, "
             "**head** the head `iupack build` picked for it; **iupack patch** the bare package's stored patch and "
             "added-file entries, **fixed overhead** the rest of it (bare − iupack patch: the manifest with its "
             "signature and the ZIP records). The tool columns are each standard tool's patch for the same pair "
             "(`bench/deltas.py`'s commands; tree pairs: the better of per-file patches and one deterministic tar, "
             "`t`); **bare − best** is the bare package against the smallest of them (goal: ≤ 1,000 on every pair). "
             "Both packages were applied to a scratch machine holding the old release, the bare one with the client "
             "tool (`iupack-stub apply PKG`), and each result was byte-identical to the new release; so was every tool's. "
             "A package's manifest holds its id and creation time, so the same package built again (as `publish` "
             "does below) can differ by a few bytes.", "",
             "| pair | bare | self-extracting | head | iupack patch | fixed overhead | " + " | ".join(tool_names) +
             " | best tool | bare − best |",
             "|---|---:|---:|---|---:|---:|" + "---:|" * len(tool_names) + "---|---:|"]
    worst = None
    for r in prows:
        best_tool = min(tool_names, key=lambda t: r["tools"][t][0])
        best = r["tools"][best_tool][0]
        diff = r["bare"] - best
        worst = diff if worst is None else max(worst, diff)
        cells = [f"{fmt(r['tools'][t][0])}{' t' if r['tools'][t][1] else ''}" for t in tool_names]
        lines.append(f"| {r['id']} {r['item']} | {fmt(r['bare'])} | {fmt(r['sfx'])} | `{r['head']}` {fmt(r['head_bytes'])} | "
                     f"{fmt(r['patch'])} | {fmt(r['bare'] - r['patch'])} | " + " | ".join(cells) +
                     f" | {best_tool} | {diff:+,} |")
    over = [r["bare"] - r["patch"] for r in prows]
    failing = []
    for r in prows:
        best_tool = min(tool_names, key=lambda t: r["tools"][t][0])
        best = r["tools"][best_tool][0]
        if r["bare"] - best > 1000:
            failing.append(f"{r['id']} {r['item']} ({fmt(r['bare'])} = iupack patch {fmt(r['patch'])} + "
                           f"{fmt(r['bare'] - r['patch'])}, against {best_tool}'s {fmt(best)})")
    met = not failing
    lines += ["", f"bare − best: at most **{worst:+,}** bytes (goal ≤ 1,000 on every pair: "
              f"**{'met' if met else 'not met'}**" + (f", over it: {', '.join(failing)}" if failing else "") +
              f"); fixed overhead {fmt(min(over))}–{fmt(max(over))} bytes (issue 21's goal: ≤ 1,000).", ""]
    multi = [c for c in crows if len(c["steps"]) > 1]
    longer = (f"Only {' and '.join(c['item'] for c in multi)} {'has' if len(multi) == 1 else 'have'} more than one "
              "step (" + "; ".join(f"{c['item']}: " + ", then ".join(c["stands_for"]) for c in multi) +
              "); the others are one step each. ") if multi else "Every chain is one step. "
    measured = "; ".join(f"{c['item']} " + " → ".join(c["versions"]) for c in crows)
    lines += ["A month of daily updates, as far as the corpus goes: it holds short chains only, and these are all "
              f"of them (every definitions release it has, none invented): {measured}. " + longer +
              "A scratch machine at each "
              "chain's first release takes every next release from a share: after that release is added to the store, "
              "`iupack publish STORE SHARE --deltas 1` (bare packages, the default) and, for a second machine, "
              "`--no-bare` (every package self-extracting); then `iupack-stub apply --from SHARE --list --json` "
              "names the packages the machine reads (its `package_id`s, looked up in the share's `index.json`) and "
              "`apply --from SHARE` applies them, checked byte-identical to the release. **bare share** and "
              "**--no-bare share** are the bytes of the packages read; **index** the share's `index.json` and "
              "`index.json.minisig`, which every machine reads too (bare share / --no-bare share); **full bare** and "
              "**full self-extracting** the full package of the same release in each share (what a machine "
              "without a usable base reads); **content** the release's own bytes.", "",
              "| item | step | bare share | --no-bare share | index | full bare | full self-extracting | content |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    tot = dict(bare=0, sfx=0, bare_full=0, sfx_full=0, content=0, steps=0)
    for c in crows:
        sums = {k: sum(s[k] for s in c["steps"]) for k in ["bare", "sfx", "bare_full", "sfx_full", "content"]}
        for s in c["steps"]:
            lines.append(f"| {c['item']} | {s['old']} → {s['new']} | {fmt(s['bare'])} | {fmt(s['sfx'])} | "
                         f"{fmt(s['bare_index'])} / {fmt(s['sfx_index'])} | {fmt(s['bare_full'])} | "
                         f"{fmt(s['sfx_full'])} | {fmt(s['content'])} |")
        if len(c["steps"]) > 1:
            lines.append(f"| {c['item']} | chain, {len(c['steps'])} steps | **{fmt(sums['bare'])}** | **{fmt(sums['sfx'])}** | | "
                         f"{fmt(sums['bare_full'])} | {fmt(sums['sfx_full'])} | {fmt(sums['content'])} |")
        for k in sums:
            tot[k] += sums[k]
        tot["steps"] += len(c["steps"])
    lines.append(f"| all | {tot['steps']} steps | **{fmt(tot['bare'])}** | **{fmt(tot['sfx'])}** | | "
                 f"{fmt(tot['bare_full'])} | {fmt(tot['sfx_full'])} | {fmt(tot['content'])} |")
    lines += ["", f"Over the {tot['steps']} steps a bare share's machine read {fmt(tot['bare'])} bytes of packages, a "
              f"--no-bare share's {fmt(tot['sfx'])} ({tot['sfx'] / tot['bare']:.0f}×); full packages every time would "
              f"have been {fmt(tot['bare_full'])} bare or {fmt(tot['sfx_full'])} self-extracting.", "<!-- bytes:end -->"]
    path = os.path.join(REPO, "BENCHMARKS.md")
    text = open(path).read()
    block = "\n".join(lines) + "\n"
    if "<!-- bytes:begin -->" in text:
        a = text.index("<!-- bytes:begin -->"); b = text.index("<!-- bytes:end -->") + len("<!-- bytes:end -->\n")
        text = text[:a] + block + text[b:]
    elif "<!-- deltas:end -->\n" in text:  # first run: right after the delta payloads
        a = text.index("<!-- deltas:end -->\n") + len("<!-- deltas:end -->\n")
        text = text[:a] + "\n" + block + text[a:]
    else:
        text = text.rstrip() + "\n\n" + block
    open(path, "w").write(text)
    print("\n".join(lines))


def main():
    for p in [IUPACK, CLIENT, os.path.join(STUBS, "iupack-head")]:
        if not os.path.exists(p):
            sys.exit(f"bytes.py: {p} is missing (hint: bash bench/run-bytes.sh builds it)")
    shutil.rmtree(WORK, ignore_errors=True); os.makedirs(WORK)
    open(deltas.HDIFF, "w").write(deltas.HDIFF_SRC)
    rows = pairs()
    prows = [pair_row(rows[pid]) for pid in PAIRS]
    crows = [chain_rows(c) for c in chains(rows)]
    write(prows, crows)


if __name__ == "__main__":
    main()
