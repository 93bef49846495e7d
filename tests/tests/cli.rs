//! Golden CLI tests: `--help`, `--version` and the error paths of both binaries (`iupack` and
//! `iupack-stub`, also run as a package), each compared word for word with a checked-in file
//! `tests/cli/<binary>/<case>.txt` holding the command, the exit code, stdout and stderr. An
//! interface change (a message, a hint, an exit code, a help line) shows up as a diff in review.
//!
//! To accept a deliberate change, regenerate the files and review the diff:
//!
//! ```text
//! IUPACK_BLESS=1 cargo test -p iupack-tests --test cli
//! git diff tests/cli
//! ```
//!
//! Blessing also deletes files of cases that no longer exist; without it such a file fails the
//! test. Every case runs in one scratch folder (the fixture below) with that folder as its
//! working directory, stdin empty and `IUPACK_INVENTORY` naming a missing file there (no case
//! reads this machine's inventory). What varies from run to run is replaced in one place,
//! `normalise`: the scratch folder by `[ROOT]`, the binaries' folder by `[BIN]`, RFC 3339 UTC
//! times by `[TIME]` and a report's `"duration_ms"` by `[MS]`; nothing else is touched. Each case
//! must also leave the fixture's machines byte-for-byte as they were.
//!
//! The fixture's machines are copies of `tests/vectors/machine` (platform linux-x86_64), so the
//! file runs on Linux x86-64 only.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use iupack_tests::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The builder's cases: name, command line (split on spaces; paths are relative to the fixture).
#[rustfmt::skip]
const IUPACK: &[(&str, &str)] = &[
    ("help", "iupack --help"),
    ("version", "iupack --version"),
    ("help-keygen", "iupack keygen --help"),
    ("help-build", "iupack build --help"),
    ("help-add", "iupack add --help"),
    ("help-remove", "iupack remove --help"),
    ("help-prune", "iupack prune --help"),
    ("help-publish", "iupack publish --help"),
    ("help-plan", "iupack plan --help"),
    ("help-inspect", "iupack inspect --help"),
    ("help-verify", "iupack verify --help"),
    ("help-key-transition", "iupack key-transition --help"),
    ("help-subcommand", "iupack help verify"),
    ("no-arguments", "iupack"),
    ("unknown-subcommand", "iupack frobnicate"),
    ("build-unknown-flag", "iupack build specs/engine.toml --bogus"),
    ("build-without-key", "iupack build specs/engine.toml --out packages/new.run"),
    ("build-spec-missing", "iupack build specs/missing.toml --key keys/vector.key --out packages/new.run"),
    ("build-spec-invalid", "iupack build specs/invalid.toml --key keys/vector.key --out packages/new.run"),
    ("build-spec-bad-version", "iupack build specs/bad-version.toml --key keys/vector.key --out packages/new.run"),
    ("build-content-missing", "iupack build specs/no-content.toml --key keys/vector.key --out packages/new.run"),
    ("build-public-key-as-secret", "iupack build specs/engine.toml --key keys/vector.pub --out packages/new.run"),
    ("build-secret-key-missing", "iupack build specs/engine.toml --key keys/missing.key --out packages/new.run"),
    ("build-out-exists", "iupack build specs/engine.toml --key keys/vector.key --out packages/pkg.run"),
    ("build-stub-not-a-stub", "iupack build specs/engine.toml --key keys/vector.key --out packages/new.run --stub specs/engine.toml"),
    ("build-target-not-a-platform", "iupack build specs/engine.toml --key keys/vector.key --out packages/new.run --target plan9-mips"),
    ("build-target-not-in-spec", "iupack build specs/engine.toml --key keys/vector.key --out packages/new.run --target windows-x86_64"),
    ("build-spec-platform-typo", "iupack build specs/platform-typo.toml --key keys/vector.key --out packages/new.run"),
    ("build-spec-requires-typo", "iupack build specs/requires-typo.toml --key keys/vector.key --out packages/new.run"),
    ("build-out-folder-missing", "iupack build specs/engine.toml --key keys/vector.key --out no-folder/new.run"),
    ("build-out-is-a-folder", "iupack build specs/engine.toml --key keys/vector.key --out packages --force"),
    ("build-delta-level-out-of-range", "iupack build specs/engine.toml --key keys/vector.key --out packages/new.run --delta-level 99"),
    ("build-bad-compression", "iupack build specs/engine.toml --key keys/vector.key --out packages/new.run --compression lz4"),
    ("verify-without-pubkey", "iupack verify packages/pkg.run"),
    ("verify-wrong-key", "iupack verify packages/pkg.run --pubkey keys/rogue.pub"),
    ("verify-tampered", "iupack verify vectors/content-altered.run --pubkey keys/vector.pub"),
    ("verify-truncated", "iupack verify vectors/truncated-at-content.run --pubkey keys/vector.pub"),
    ("verify-package-missing", "iupack verify packages/missing.run --pubkey keys/vector.pub"),
    ("verify-pubkey-not-a-key", "iupack verify packages/pkg.run --pubkey specs/engine.toml"),
    ("verify-json-wrong-key", "iupack verify packages/pkg.run --pubkey keys/rogue.pub --json"),
    ("inspect-not-a-package", "iupack inspect specs/engine.toml"),
    ("inspect-package-missing", "iupack inspect packages/missing.run"),
    ("keygen-exists", "iupack keygen --no-password -o keys/vector"),
    ("keygen-without-out", "iupack keygen --no-password"),
    ("add-missing-arguments", "iupack add store acme-av"),
    ("add-bad-version", "iupack add store acme-av engine notaversion releases/engine-2.0"),
    ("add-content-missing", "iupack add store acme-av engine 2.1 releases/missing"),
    ("add-one-top-folder", "iupack add store acme-av engine 2.0 releases"),
    ("remove-release-missing", "iupack remove store acme-av engine 9.9"),
    ("remove-component-missing", "iupack remove store acme-av enigne 2.0"),
    ("remove-store-missing", "iupack remove store-missing acme-av engine 2.0"),
    ("remove-bad-version", "iupack remove store acme-av engine ../2.0"),
    ("remove-dry-run-json", "iupack remove store acme-av engine 2.0 --dry-run --json"),
    ("prune-dry-run-json", "iupack prune store --keep 1 --dry-run --json"),
    ("publish-dry-run", "iupack publish store share --key keys/vector.key --dry-run"),
    ("publish-no-full-nothing-to-carry", "iupack publish store share --key keys/vector.key --no-full"),
    ("publish-delta-level-out-of-range", "iupack publish store share --key keys/vector.key --delta-level 99"),
    ("plan-store-missing-json", "iupack plan --inventory exports/none.json --store store-missing --out share --key keys/vector.key --json"),
    ("plan-bad-compression", "iupack plan --inventory exports/none.json --store store --out share --key keys/vector.key --compression lz4"),
    ("prune-keep-zero", "iupack prune store --keep 0"),
    ("prune-store-missing", "iupack prune store-missing --keep 1"),
    ("publish-store-missing", "iupack publish store-missing share --key keys/vector.key"),
    ("plan-inventory-not-json", "iupack plan --inventory machines/broken/inventory.json --store store-missing --out share --key keys/vector.key"),
    ("key-transition-new-key-missing", "iupack key-transition --key keys/vector.key --new keys/missing.pub --product acme-av --out transition.json"),
    ("key-transition-exists", "iupack key-transition --key keys/vector.key --new keys/next.pub --product acme-av --out specs/engine.toml"),
];

/// The stub's cases: as the installed client tool (`iupack-stub`) and as a package
/// (`packages/pkg.run`, signed by the key the machines trust).
#[rustfmt::skip]
const STUB: &[(&str, &str)] = &[
    ("help", "iupack-stub --help"),
    ("help-status", "iupack-stub status --help"),
    ("help-rollback", "iupack-stub rollback --help"),
    ("help-rollback-with-arguments", "iupack-stub rollback acme-av engine --help"),
    ("help-recover", "iupack-stub recover --help"),
    ("help-init", "iupack-stub init --help"),
    ("help-forget", "iupack-stub forget --help"),
    ("help-apply", "iupack-stub apply --help"),
    ("version", "iupack-stub --version"),
    ("package-help", "packages/pkg.run --help"),
    ("package-version", "packages/pkg.run --version"),
    ("no-arguments", "iupack-stub"),
    ("unknown-command", "iupack-stub frobnicate"),
    ("unknown-option", "iupack-stub --bogus"),
    ("apply-without-package", "iupack-stub apply"),
    ("apply-package-missing", "iupack-stub apply packages/missing.run --inventory machines/old/inventory.json"),
    ("apply-extra-argument", "iupack-stub apply packages/pkg.run extra"),
    ("apply-tampered", "iupack-stub apply vectors/content-altered.run --inventory machines/old/inventory.json"),
    ("apply-truncated", "iupack-stub apply vectors/truncated-at-content.run --inventory machines/old/inventory.json"),
    ("apply-not-a-package", "iupack-stub apply specs/engine.toml --inventory machines/old/inventory.json"),
    ("apply-untrusted-key", "iupack-stub apply vectors/untrusted-key.run --inventory machines/old/inventory.json"),
    ("apply-revoked-key", "iupack-stub apply vectors/revoked-key.run --inventory machines/revoked/inventory.json"),
    ("apply-signature-for-another-package", "iupack-stub apply vectors/comment-names-another-package.run --inventory machines/old/inventory.json"),
    ("apply-another-product", "iupack-stub apply vectors/wrong-product.run --inventory machines/old/inventory.json"),
    ("apply-inventory-missing", "iupack-stub apply packages/pkg.run --inventory machines/none/inventory.json"),
    ("apply-inventory-not-json", "iupack-stub apply packages/pkg.run --inventory machines/broken/inventory.json"),
    ("apply-json-untrusted-key", "iupack-stub apply vectors/untrusted-key.run --inventory machines/old/inventory.json --json"),
    ("package-unknown-option", "packages/pkg.run --bogus"),
    ("package-client-command", "packages/pkg.run status"),
    ("package-already-current", "packages/pkg.run --inventory machines/current/inventory.json"),
    ("package-downgrade", "packages/pkg.run --inventory machines/newer/inventory.json"),
    ("package-downgrade-json", "packages/pkg.run --inventory machines/newer/inventory.json --json"),
    ("package-check-needed", "packages/pkg.run --check --inventory machines/old/inventory.json"),
    ("package-check-current", "packages/pkg.run --check --inventory machines/current/inventory.json"),
    ("package-report-path-missing", "packages/pkg.run --verify --inventory machines/old/inventory.json --report no-folder/report.json"),
    ("package-log-path-missing", "packages/pkg.run --verify --inventory machines/old/inventory.json --log no-folder/log.jsonl"),
    ("package-extract-not-empty", "packages/pkg.run --extract specs --inventory machines/old/inventory.json"),
    ("two-modes", "packages/pkg.run --list --check"),
    ("option-needs-value", "packages/pkg.run --inventory"),
    ("wait-not-a-number", "packages/pkg.run --wait soon"),
    ("pubkey-without-verify", "packages/pkg.run --pubkey keys/vector.pub"),
    ("interactive-with-quiet", "packages/pkg.run -i -q"),
    ("export-without-status", "packages/pkg.run --export export.json"),
    ("verify-wrong-pubkey", "iupack-stub apply packages/pkg.run --verify --pubkey keys/rogue.pub"),
    ("verify-pubkey-missing", "iupack-stub apply packages/pkg.run --verify --pubkey keys/missing.pub"),
    ("verify-pubkey-not-a-key", "iupack-stub apply packages/pkg.run --verify --pubkey specs/engine.toml"),
    ("status-inventory-missing", "iupack-stub status --inventory machines/none/inventory.json"),
    ("status-inventory-from-env", "iupack-stub status"),
    ("status-with-mode", "iupack-stub status --list --inventory machines/old/inventory.json"),
    ("status-installed-by-hand", "iupack-stub status --inventory machines/old/inventory.json"),
    ("export-unwritable", "iupack-stub status --export no-folder/export.json --inventory machines/old/inventory.json"),
    ("rollback-without-component", "iupack-stub rollback acme-av"),
    ("rollback-nothing-kept", "iupack-stub rollback acme-av engine --inventory machines/old/inventory.json"),
    ("rollback-unknown-component", "iupack-stub rollback acme-av nosuch --inventory machines/old/inventory.json"),
    ("rollback-unknown-product", "iupack-stub rollback other-av engine --inventory machines/old/inventory.json"),
    ("recover-nothing-to-do", "iupack-stub recover --inventory machines/old/inventory.json"),
    ("apply-from-share-missing", "iupack-stub apply --from share-missing --inventory machines/old/inventory.json"),
    ("apply-from-index-unsigned", "iupack-stub apply --from share-unsigned --inventory machines/old/inventory.json"),
    ("apply-from-with-verify", "iupack-stub apply --from share-unsigned --verify"),
    ("from-without-apply", "iupack-stub status --from share-unsigned"),
    ("init-without-version", "iupack-stub init acme-av"),
    ("init-key-id", "iupack-stub init acme-av 12.1 --key 0123456789ABCDEF --inventory machines/new/inventory.json"),
    ("init-secret-key", "iupack-stub init acme-av 12.1 --key keys/vector.key --inventory machines/new/inventory.json"),
    ("init-different-entry", "iupack-stub init acme-av 12.2 --key keys/vector.pub --inventory machines/old/inventory.json"),
    ("init-flag-without-init", "iupack-stub status --component engine=acme/engine"),
    ("forget-without-product", "iupack-stub forget"),
    ("forget-unknown-product", "iupack-stub forget acme --inventory machines/old/inventory.json"),
    ("install-client-no-client", "packages/pkg.run --install-client --inventory machines/old/inventory.json"),
    ("install-client-no-key", "packages/pkg.run --install-client --inventory machines/none/inventory.json"),
];

#[test]
fn iupack_cli_matches_its_golden_files() {
    check("iupack", IUPACK);
}

#[test]
fn iupack_stub_cli_matches_its_golden_files() {
    check("iupack-stub", STUB);
}

/// Hostile packages from `tests/vectors`, copied into the fixture as `vectors/NAME.run`.
const VECTORS: &[&str] = &[
    "content-altered",
    "truncated-at-content",
    "untrusted-key",
    "revoked-key",
    "comment-names-another-package",
    "wrong-product",
];

/// The scratch folder every case runs in: the vector keys (fixed key ids), a release and specs,
/// a package built from them, hostile vectors, machines at several versions, a broken inventory
/// and a share folder whose index is not signed.
fn fixture() -> World {
    let w = World::new();
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    copy_dir(&vectors.join("keys"), &w.path("keys"));
    fs::create_dir_all(w.path("vectors")).expect("mkdir");
    for v in VECTORS {
        let to = w.path(&format!("vectors/{v}.run"));
        fs::copy(vectors.join(v).join("package.run"), to).expect("copy vector");
    }
    w.release(
        "engine-2.0",
        &[
            ("bin/scan", b"#!/bin/sh\necho 2.0\n", true),
            ("core.tbl", b"core 2.0\n", false),
        ],
    );
    let spec = |content: &str, version: &str| {
        format!(
            "product = \"acme-av\"\nid = \"acme-av-2.0-golden\"\n[targets]\n\
             product_versions = \">=12.0, <13\"\nplatforms = [\"linux-x86_64\"]\n\
             [[components]]\nname = \"engine\"\nversion = \"{version}\"\n\
             content = \"../releases/{content}\"\n"
        )
    };
    let engine = w.spec("engine", &spec("engine-2.0", "2.0"));
    w.spec("bad-version", &spec("engine-2.0", "2.0 beta"));
    w.spec("no-content", &spec("engine-9.9", "9.9"));
    w.spec("invalid", "product = \"acme-av\"\ncolour = \"blue\"\n");
    w.spec(
        "platform-typo",
        &spec("engine-2.0", "2.0").replace("linux-x86_64", "linux-x64"),
    );
    w.spec(
        "requires-typo",
        &format!(
            "{}requires = {{ engin = \">=2.0\" }}\n",
            spec("engine-2.0", "2.0")
        ),
    );
    w.package(&engine, &w.path("keys/vector.key"), "pkg");

    let machine = |name: &str, engine_version: Option<&str>, inventory: Option<&Path>| {
        let dir = w.path(&format!("machines/{name}"));
        copy_dir(&vectors.join("machine"), &dir);
        if let Some(inv) = inventory {
            fs::copy(inv, dir.join("inventory.json")).expect("copy inventory");
        }
        if let Some(v) = engine_version {
            let p = dir.join("inventory.json");
            let mut inv: serde_json::Value =
                serde_json::from_slice(&fs::read(&p).expect("read")).expect("inventory");
            inv["products"][0]["components"]["engine"]["version"] = v.into();
            fs::write(&p, serde_json::to_string_pretty(&inv).expect("json")).expect("write");
        }
    };
    machine("old", None, None);
    machine("current", Some("2.0"), None);
    machine("newer", Some("3.0"), None);
    machine(
        "revoked",
        None,
        Some(&vectors.join("revoked-key/inventory.json")),
    );
    fs::create_dir_all(w.path("machines/broken")).expect("mkdir");
    fs::write(
        w.path("machines/broken/inventory.json"),
        "{\"format\": 1,\n",
    )
    .expect("write");
    fs::create_dir_all(w.path("exports")).expect("mkdir");
    fs::write(
        w.path("exports/none.json"),
        "{\"format\": 1, \"kind\": \"iupack-inventory-export\", \"products\": []}\n",
    )
    .expect("write");
    fs::create_dir_all(w.path("share-unsigned")).expect("mkdir");
    fs::write(w.path("share-unsigned/index.json"), "{}\n").expect("write");
    w
}

/// Runs every case of one binary and compares (or, with IUPACK_BLESS=1, writes) its file.
fn check(binary: &str, cases: &[(&str, &str)]) {
    let w = fixture();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cli")
        .join(binary);
    let bless = std::env::var_os("IUPACK_BLESS").is_some_and(|v| v == "1");
    fs::create_dir_all(&dir).expect("mkdir tests/cli");
    let mut failures = Vec::new();
    for (name, line) in cases {
        let before = snapshot(&w.path("machines"));
        let got = run_case(&w, line);
        if snapshot(&w.path("machines")) != before {
            failures.push(format!("{name}: `{line}` changed a machine"));
        }
        let file = dir.join(format!("{name}.txt"));
        if bless {
            fs::write(&file, &got).expect("write golden file");
            continue;
        }
        match fs::read_to_string(&file) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{name}: output differs from {}\n{}",
                file.display(),
                diff(&want, &got)
            )),
            Err(_) => failures.push(format!(
                "{name}: {} is missing; the run gave:\n{got}",
                file.display()
            )),
        }
    }
    for stale in names_in(&dir) {
        let case = stale.strip_suffix(".txt").unwrap_or(&stale);
        if !cases.iter().any(|(n, _)| *n == case) {
            if bless {
                fs::remove_file(dir.join(&stale)).expect("remove stale golden file");
            } else {
                failures.push(format!("{stale}: no case of this name (left over?)"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {binary} cases differ from tests/cli/{binary}/ (if the change is meant, \
         run `IUPACK_BLESS=1 cargo test -p iupack-tests --test cli` and review the diff):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Runs one command line in the fixture; returns it as the golden file shows it.
fn run_case(w: &World, line: &str) -> String {
    let mut words = line.split(' ');
    let program = match words.next().expect("a command") {
        "iupack" => bin_dir().join("iupack"),
        "iupack-stub" => stub_path(),
        file => w.path(file),
    };
    let o = output(
        Command::new(program)
            .args(words)
            .current_dir(w.dir.path())
            .env("IUPACK_INVENTORY", w.path("machines/none/inventory.json"))
            .env_remove("IUPACK_FAULT_STEP")
            .env_remove("CLICOLOR_FORCE")
            .stdin(Stdio::null()),
    );
    let text = format!(
        "$ {line}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        code(&o),
        stream(&stdout(&o)),
        stream(&stderr(&o))
    );
    normalise(&text, w.dir.path(), &bin_dir())
}

/// A stream as the file shows it: a missing final line end is said, not lost.
fn stream(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n[no line end]\n")
    }
}

/// The one place where what varies from run to run is replaced: the scratch folder, the
/// binaries' folder, RFC 3339 UTC times (`2026-12-01T23:35:30Z`) and `"duration_ms": N`.
fn normalise(text: &str, root: &Path, bins: &Path) -> String {
    let mut s = text.to_string();
    let mut places: Vec<(PathBuf, &str)> = vec![(root.into(), "[ROOT]"), (bins.into(), "[BIN]")];
    for (p, token) in places.clone() {
        if let Ok(c) = p.canonicalize() {
            places.push((c, token));
        }
    }
    // Longest first, so a path inside another is replaced whole.
    places.sort_by_key(|(p, _)| std::cmp::Reverse(p.as_os_str().len()));
    for (p, token) in places {
        s = s.replace(&*p.to_string_lossy(), token);
    }
    let s = replace_shaped(&s, "dddd-dd-ddTdd:dd:ddZ", "[TIME]");
    let key = "\"duration_ms\": ";
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(at) = rest.find(key) {
        let (head, tail) = rest.split_at(at + key.len());
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(head);
        out.push_str(if digits > 0 { "[MS]" } else { "" });
        rest = &tail[digits..];
    }
    out + rest
}

/// Replaces every run of `s` shaped like `shape` (`d` a digit, anything else itself).
fn replace_shaped(s: &str, shape: &str, token: &str) -> String {
    let (b, pat) = (s.as_bytes(), shape.as_bytes());
    let fits = |at: usize| {
        b.len() >= at + pat.len()
            && pat.iter().zip(&b[at..]).all(|(p, c)| match p {
                b'd' => c.is_ascii_digit(),
                _ => p == c,
            })
    };
    let (mut out, mut i, mut from) = (String::new(), 0, 0);
    while i < b.len() {
        if fits(i) {
            out.push_str(&s[from..i]);
            out.push_str(token);
            i += pat.len();
            from = i;
        } else {
            i += 1;
        }
    }
    out + &s[from..]
}

/// The lines that differ, with their line numbers (`-` expected, `+` this run).
fn diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            if let Some(a) = a {
                out.push_str(&format!("{:>4} - {a}\n", i + 1));
            }
            if let Some(b) = b {
                out.push_str(&format!("{:>4} + {b}\n", i + 1));
            }
        }
    }
    if out.is_empty() {
        out.push_str("(only line ends differ)\n");
    }
    out
}

#[test]
fn normalise_replaces_only_what_varies() {
    let root = Path::new("/tmp/iupack-e2e-Ab12");
    let bins = Path::new("/work/target/debug");
    let text = "no product inventory at /tmp/iupack-e2e-Ab12/machines/none/inventory.json\n\
                stub /work/target/debug/iupack-stub; started 2026-12-01T23:35:30Z\n\
                \"duration_ms\": 35,\n\"bytes\": 35,\ndefinitions 2026.11.24.1 at 2026-12-01\n";
    assert_eq!(
        normalise(text, root, bins),
        "no product inventory at [ROOT]/machines/none/inventory.json\n\
         stub [BIN]/iupack-stub; started [TIME]\n\
         \"duration_ms\": [MS],\n\"bytes\": 35,\ndefinitions 2026.11.24.1 at 2026-12-01\n"
    );
}
