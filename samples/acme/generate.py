#!/usr/bin/env python3
"""Regenerates the Acme Antivirus sample releases under releases/ (deterministic).

Run once by hand when the sample changes; the output is committed. Definitions are text
signature databases in the style of ClamAV's .ndb (name:target:offset:hex pattern); each
release adds signatures and drops a few, as daily definition updates do.
"""
import hashlib, os, random, shutil, stat

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "releases")
FAMILIES = ["Trojan.Agent", "Worm.Autorun", "Exploit.PDF", "Ransom.Locker", "Adware.Bundler",
            "Backdoor.Remote", "Downloader.Small", "Phish.Html", "Macro.Office", "PUA.Miner"]

def sigs(seed, count):
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        fam = rnd.choice(FAMILIES)
        pat = hashlib.sha256(f"{seed}-{i}".encode()).hexdigest()[: rnd.choice([32, 48, 64])]
        out.append(f"Acme.{fam}-{seed * 10000 + i}:{rnd.choice([0, 1, 6])}:*:{pat}")
    return out

def write(path, text, exe=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="\n") as f:
        f.write(text)
    os.chmod(path, 0o755 if exe else 0o644)

SCAN = """#!/bin/sh
# acme-scan: the Acme Antivirus command-line scanner (sample engine {v}).
DEFS="${{ACME_DEFS:-$(dirname "$0")/../../defs}}"
case "$1" in
  --version) echo "acme-scan {v}"; exit 0 ;;
  --test-defs) d="${{2:-$DEFS}}"; test -f "$d/main.avdb" && test -f "$d/daily.avdb" || exit 1
               echo "definitions OK: $(cat "$d"/*.avdb | wc -l) signatures"; exit 0 ;;
  *) echo "usage: acme-scan --version | --test-defs [DIR] | FILE..."; exit 2 ;;
esac
"""

def engine(v, build):
    d = os.path.join(ROOT, "engine", v)
    write(os.path.join(d, "bin/acme-scan"), SCAN.format(v=v), exe=True)
    rnd = random.Random(build)
    # A stand-in for the scan library: a table of opcodes the engine interprets.
    lib = "\n".join(f"op {i:05d} {rnd.getrandbits(64):016x} {rnd.getrandbits(64):016x}" for i in range(6000))
    write(os.path.join(d, "lib/acme-core.tbl"), f"# acme-core {v} build {build}\n{lib}\n")
    write(os.path.join(d, "VERSION"), f"{v}\n")

def definitions(v, main_seed, daily_seeds):
    d = os.path.join(ROOT, "definitions", v)
    write(os.path.join(d, "main.avdb"), "\n".join(sigs(main_seed, 20000)) + "\n")
    daily = [s for seed in daily_seeds for s in sigs(seed, 400)]
    write(os.path.join(d, "daily.avdb"), "\n".join(daily) + "\n")
    write(os.path.join(d, "index.txt"), f"version={v}\nmain={main_seed}\ndaily={','.join(map(str, daily_seeds))}\n")

def config(v, level):
    d = os.path.join(ROOT, "config", v)
    write(os.path.join(d, "acme.conf"),
          f"# Acme Antivirus policy {v}\nheuristics = {level}\narchive_depth = 8\n"
          f"quarantine = /var/lib/acme/quarantine\nscan_on_access = true\n")
    write(os.path.join(d, "exclusions.txt"), "/proc\n/sys\n/dev\n" + ("/var/lib/docker\n" if v != "1.0" else ""))

if __name__ == "__main__":
    shutil.rmtree(ROOT, ignore_errors=True)
    engine("3.7.70", 1)
    engine("3.7.71", 2)
    definitions("2026.11.20.1", 1, [20])
    definitions("2026.11.22.1", 1, [20, 21, 22])
    definitions("2026.11.24.1", 1, [20, 21, 22, 23, 24])
    config("1.0", "medium")
    config("1.1", "high")
