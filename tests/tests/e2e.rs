//! End-to-end: the real `iupack` builds packages, the real packages run against scratch machines,
//! and the outcome is checked the way a user would: trees byte-identical, inventory updated, and
//! nothing changed at all when a package is refused.

use iupack_tests::*;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// A publisher with a trusted key and two releases of a product, and a machine with release 1.
struct Acme {
    w: World,
    key: PathBuf,
    pubkey: String,
    engine1: PathBuf,
    engine2: PathBuf,
    defs1: PathBuf,
    defs2: PathBuf,
}

fn big_defs(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[i % 4] ^ seed)
        .collect()
}

fn spec_v2(extra_targets: &str) -> String {
    format!(
        r#"product = "acme-av"
[targets]
product_versions = ">=12.0, <13"
platforms = ["{}"]
{extra_targets}
[[components]]
name = "engine"
version = "3.7.71"
content = "../releases/engine-3.7.71"
[[components]]
name = "definitions"
version = "2026.11.24.1"
content = "../releases/defs-2026.11.24.1"
requires = {{ engine = ">=3.7.71" }}
"#,
        this_platform()
    )
}

impl Acme {
    fn new() -> Acme {
        let w = World::new();
        let (key, pubkey) = w.keygen("publisher");
        let defs_a = big_defs(1, 300_000);
        let defs_b = big_defs(2, 310_000);
        let engine1 = w.release(
            "engine-3.7.70",
            &[
                ("bin/scan", b"#!/bin/sh\necho 3.7.70\n", true),
                ("lib/core.tbl", b"core 70\n", false),
            ],
        );
        let engine2 = w.release(
            "engine-3.7.71",
            &[
                ("bin/scan", b"#!/bin/sh\necho 3.7.71\n", true),
                ("lib/core.tbl", b"core 71\n", false),
                ("lib/new.tbl", b"new in 71\n", false),
            ],
        );
        let defs1 = w.release(
            "defs-2026.11.20.1",
            &[
                ("main.avdb", &defs_a, false),
                ("old.txt", b"gone later", false),
            ],
        );
        let defs2 = w.release(
            "defs-2026.11.24.1",
            &[
                ("main.avdb", &defs_b, false),
                ("daily/2026-11-24.avdb", b"daily sigs", false),
            ],
        );
        w.install_inventory(
            &[&pubkey],
            &[
                ("engine", Some("3.7.70"), "acme/engine"),
                ("definitions", Some("2026.11.20.1"), "acme/defs"),
            ],
        );
        w.install_tree(&engine1, "acme/engine");
        w.install_tree(&defs1, "acme/defs");
        Acme {
            w,
            key,
            pubkey,
            engine1,
            engine2,
            defs1,
            defs2,
        }
    }

    fn v2_package(&self) -> PathBuf {
        let spec = self.w.spec("v2", &spec_v2(""));
        self.w.package(&spec, &self.key, "acme-v2")
    }
}

#[test]
fn full_apply_installs_byte_identical_trees_and_updates_the_inventory() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let o = a.w.run(&pkg, &[]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("installed engine 3.7.71, definitions 2026.11.24.1"),
        "{}",
        stdout(&o)
    );

    assert_tree_eq(&a.w.machine().join("acme/engine"), &a.engine2);
    assert_tree_eq(&a.w.machine().join("acme/defs"), &a.defs2);
    let engine = a.w.component("engine");
    assert_eq!(engine["version"], "3.7.71");
    assert_eq!(engine["path"], "acme/engine");
    assert_eq!(engine["tree"].as_str().map(str::len), Some(64));
    assert!(engine["package"]
        .as_str()
        .is_some_and(|p| p.starts_with("acme-av-2026.11.24.1-")));
    assert_eq!(a.w.component("definitions")["version"], "2026.11.24.1");
    // keep_previous = 1: the replaced release is kept beside, byte-identical, and recorded.
    assert_eq!(engine["previous"][0]["version"], "3.7.70");
    assert_tree_eq(
        &a.w.machine().join("acme/.engine.iupack/previous-3.7.70"),
        &a.engine1,
    );
    // The executable bit is carried.
    let leftovers: Vec<_> = snapshot(&a.w.machine())
        .into_keys()
        .filter(|k| k.contains("stage") || k.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

/// An x86-64 ELF-looking program (so xz uses its x86 branch filter), with call opcodes to convert.
fn fake_x86_program(len: usize) -> Vec<u8> {
    let mut b = big_defs(9, len);
    b[..20].copy_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0");
    for i in (64..len - 5).step_by(97) {
        b[i] = 0xE8;
    }
    b
}

#[test]
fn every_compression_installs_byte_identical_trees_and_a_flipped_archive_byte_exits_21() {
    for method in ["deflate", "zstd", "xz"] {
        let a = Acme::new();
        fs::write(a.engine2.join("bin/engine.so"), fake_x86_program(400_000)).expect("write");
        let spec = a.w.spec("v2", &spec_v2(""));
        let (o, pkg) =
            a.w.build_with(&spec, &a.key, method, &["--compression", method]);
        assert_code(&o, 0);
        let before = snapshot(&a.w.machine());

        // One flipped byte in the middle of the package: refused, nothing changed.
        let mut evil = fs::read(&pkg).expect("read");
        let stub_len = fs::metadata(stub_path()).expect("stub").len() as usize;
        let at = stub_len + (evil.len() - stub_len) / 2;
        evil[at] ^= 0x10;
        let bad = a.w.path(&format!("packages/evil-{method}.run"));
        fs::write(&bad, &evil).expect("write");
        set_mode(&bad, 0o755);
        assert_code(&a.w.run(&bad, &[]), 21);
        assert_same(&before, &snapshot(&a.w.machine()));

        let o = a.w.run(&pkg, &["--json"]);
        assert_code(&o, 0);
        assert_tree_eq(&a.w.machine().join("acme/engine"), &a.engine2);
        assert_tree_eq(&a.w.machine().join("acme/defs"), &a.defs2);
        assert_eq!(a.w.component("engine")["version"], "3.7.71");
        let report: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
        assert_eq!(report["components"][0]["route"], "full", "{method}");
        // --extract writes the same trees from the archive.
        let out = a.w.path(&format!("extract-{method}"));
        assert_code(
            &a.w.run(&pkg, &["--extract", out.to_str().expect("utf-8")]),
            0,
        );
        assert_tree_eq(&out.join("engine"), &a.engine2);
    }
}

#[test]
fn second_run_is_a_no_op_that_exits_0() {
    let a = Acme::new();
    let pkg = a.v2_package();
    assert_code(&a.w.run(&pkg, &[]), 0);
    let before = snapshot(&a.w.machine());
    let o = a.w.run(&pkg, &[]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("already current"), "{}", stdout(&o));
    assert_same(&before, &snapshot(&a.w.machine()));
}

#[test]
fn untrusted_key_exits_20_and_changes_nothing() {
    let a = Acme::new();
    let (rogue, _) = a.w.keygen("rogue");
    let spec = a.w.spec("v2", &spec_v2(""));
    let pkg = a.w.package(&spec, &rogue, "rogue");
    let before = snapshot(&a.w.machine());
    let o = a.w.run(&pkg, &[]);
    assert_err(&o, 20, "does not trust");
    assert_same(&before, &snapshot(&a.w.machine()));
}

#[test]
fn revoked_key_exits_20() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let mut inv = a.w.inventory();
    inv["products"][0]["revoked_keys"] = serde_json::json!([a.pubkey]);
    fs::write(
        a.w.inventory_path(),
        serde_json::to_vec(&inv).expect("json"),
    )
    .expect("write");
    let before = snapshot(&a.w.machine());
    let o = a.w.run(&pkg, &[]);
    assert_err(&o, 20, "revoked");
    assert_same(&before, &snapshot(&a.w.machine()));
}

/// Issue 20, item 10: inventory mistakes are named where they are, never read as something
/// else: a key id or a secret key in `trusted_keys` (not "the package's key is not trusted"), a
/// field one edit from a known one (`trusted_key`, `verison`: never read as "not installed" and
/// given a full install). Each is refused with the machine as it was; other unknown fields
/// still round-trip.
#[test]
fn inventory_mistakes_are_named_and_change_nothing() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let good = a.w.inventory();
    let key_id = {
        let o = output(iupack().arg("inspect").arg(&pkg).arg("--json"));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("inspect --json");
        v["signed_by"].as_str().expect("signed_by").to_string()
    };
    let key_id_shown = key_id.clone();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit, String)> = vec![
        (
            "a key id as trusted key",
            Box::new(move |v| v["products"][0]["trusted_keys"] = serde_json::json!([key_id])),
            "products[0].trusted_keys: `".to_string()
                + &key_id_shown
                + "` is not a minisign public key",
        ),
        (
            "trusted_key",
            Box::new(|v| {
                let p = v["products"][0].as_object_mut().expect("product");
                let keys = p.remove("trusted_keys").expect("keys");
                p.insert("trusted_key".into(), keys);
            }),
            "unknown field `trusted_key`: did you mean `trusted_keys`?".into(),
        ),
        (
            "verison",
            Box::new(|v| {
                let c = v["products"][0]["components"]["engine"]
                    .as_object_mut()
                    .expect("engine");
                let ver = c.remove("version").expect("version");
                c.insert("verison".into(), ver);
            }),
            "products[0].components.engine: unknown field `verison`: did you mean `version`?"
                .into(),
        ),
    ];
    for (what, edit, said) in edits {
        let mut inv = good.clone();
        edit(&mut inv);
        let bytes = serde_json::to_vec_pretty(&inv).expect("json");
        fs::write(a.w.inventory_path(), &bytes).expect("write");
        let before = snapshot(&a.w.machine());
        let o = a.w.run(&pkg, &[]);
        assert_err(&o, 1, &said);
        assert!(
            stderr(&o).contains("is not valid"),
            "{what}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("not trust"), "{what}: {}", stderr(&o));
        assert_same(&before, &snapshot(&a.w.machine()));
        assert_eq!(
            fs::read(a.w.inventory_path()).expect("read"),
            bytes,
            "{what}"
        );
    }
    // A vendor's own fields (not one edit from a known one) still round-trip through an apply.
    let mut inv = good.clone();
    inv["products"][0]["vendor_note"] = serde_json::json!({"ticket": 7});
    inv["products"][0]["components"]["engine"]["exe"] = serde_json::json!("scan.exe");
    // One edit from `installed`, which is missing here, but not a field a run decides by.
    inv["products"][0]["components"]["engine"]["installer"] = serde_json::json!("setup.exe");
    fs::write(
        a.w.inventory_path(),
        serde_json::to_vec(&inv).expect("json"),
    )
    .expect("write");
    assert_code(&a.w.run(&pkg, &[]), 0);
    let after = a.w.inventory();
    assert_eq!(after["products"][0]["vendor_note"]["ticket"], 7);
    assert_eq!(
        after["products"][0]["components"]["engine"]["exe"],
        "scan.exe"
    );
    assert_eq!(
        after["products"][0]["components"]["engine"]["installer"],
        "setup.exe"
    );
}

#[test]
fn wrong_product_platform_language_or_version_exits_10_and_changes_nothing() {
    let a = Acme::new();
    let cases = [
        (
            "other-product",
            spec_v2("").replace("product = \"acme-av\"", "product = \"other-av\""),
            "not installed",
        ),
        (
            "other-platform",
            spec_v2("").replace(&this_platform(), "windows-x86_64"),
            "platform",
        ),
        (
            "other-language",
            spec_v2("languages = [\"de\", \"fr\"]"),
            "language",
        ),
        (
            "other-version",
            spec_v2("").replace(">=12.0, <13", ">=13"),
            "versions >=13",
        ),
    ];
    for (name, text, says) in cases {
        let spec = a.w.spec(name, &text);
        let pkg = a.w.package(&spec, &a.key, name);
        let before = snapshot(&a.w.machine());
        let o = a.w.run(&pkg, &[]);
        assert_code(&o, 10);
        assert!(stderr(&o).contains(says), "{name}: {}", stderr(&o));
        assert_same(&before, &snapshot(&a.w.machine()));
        let o = a.w.run(&pkg, &["--check"]);
        assert_code(&o, 10);
    }
}

#[test]
fn older_version_exits_12_unless_downgrade_is_allowed() {
    let a = Acme::new();
    assert_code(&a.w.run(&a.v2_package(), &[]), 0);
    let old = a.w.spec(
        "v1",
        "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n[[components]]\nname = \"engine\"\nversion = \"3.7.70\"\ncontent = \"../releases/engine-3.7.70\"\n",
    );
    let pkg = a.w.package(&old, &a.key, "old");
    let before = snapshot(&a.w.machine());
    let o = a.w.run(&pkg, &[]);
    assert_err(&o, 12, "older than the installed 3.7.71");
    assert_same(&before, &snapshot(&a.w.machine()));
    // --check says the machine has (newer than) everything.
    assert_code(&a.w.run(&pkg, &["--check"]), 0);

    let o = a.w.run(&pkg, &["--allow-downgrade"]);
    assert_code(&o, 0);
    assert_tree_eq(&a.w.machine().join("acme/engine"), &a.engine1);
    assert_eq!(a.w.component("engine")["version"], "3.7.70");
}

#[test]
fn truncated_or_altered_packages_exit_21_and_change_nothing() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let bytes = fs::read(&pkg).expect("read package");
    let stub_len = fs::metadata(stub_path()).expect("stub").len() as usize;
    let before = snapshot(&a.w.machine());
    // Cut inside the central directory, inside the content, just after the stub.
    for (i, cut) in [
        bytes.len() - 30,
        bytes.len() - 200,
        bytes.len() / 2 + stub_len / 2,
        stub_len + 100,
    ]
    .into_iter()
    .enumerate()
    {
        let damaged = a.w.path(&format!("packages/cut-{i}.run"));
        fs::write(&damaged, &bytes[..cut]).expect("write");
        set_mode(&damaged, 0o755);
        let o = a.w.run(&damaged, &[]);
        assert_err(&o, 21, "damaged");
        assert_same(&before, &snapshot(&a.w.machine()));
    }
}

/// Issue 20, item 4: cut inside its head, a package is not a whole program and nothing in it can
/// run (the system refuses it or it crashes): what catches it is `iupack verify`, the client
/// tool's `apply PKG` and `sha256sum -c` over the SHA256SUMS the build wrote.
#[test]
fn a_package_cut_inside_its_head_is_caught_by_verify_the_client_and_sha256sum() {
    require_tool("sha256sum");
    let a = Acme::new();
    let pkg = a.v2_package();
    let bytes = fs::read(&pkg).expect("read package");
    let stub_len = fs::metadata(stub_path()).expect("stub").len() as usize;
    fs::write(&pkg, &bytes[..stub_len / 2]).expect("cut");
    let before = snapshot(&a.w.machine());
    let public = a.w.path("keys/publisher.pub");
    // The file's own signature (PKG.minisig beside it) no longer matches: 20, "altered or
    // damaged".
    let o = output(
        iupack()
            .arg("verify")
            .arg(&pkg)
            .arg("--pubkey")
            .arg(&public),
    );
    assert_err(&o, 20, "damaged");
    let o = output(
        Command::new(stub_path())
            .arg("apply")
            .arg(&pkg)
            .arg("--inventory")
            .arg(a.w.inventory_path()),
    );
    assert_err(&o, 21, "damaged");
    let sums = pkg.parent().expect("folder");
    let o = output(
        Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(sums),
    );
    assert_ne!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("FAILED"), "{}", stdout(&o));
    assert_same(&before, &snapshot(&a.w.machine()));
}

/// Issue 20, item 6: `--json` prints the result on every path, also when the package is damaged
/// or the command line is wrong (a fleet tool reads stdout).
#[test]
fn json_is_printed_for_a_damaged_package_and_a_bad_command_line() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let bytes = fs::read(&pkg).expect("read package");
    let damaged = a.w.path("packages/cut.run");
    fs::write(&damaged, &bytes[..bytes.len() - 30]).expect("write");
    set_mode(&damaged, 0o755);
    for (file, args, want) in [
        (&damaged, &["--json"][..], 21),
        (&pkg, &["--json", "--no-such-flag"][..], 2),
    ] {
        let o = a.w.run(file, args);
        assert_code(&o, want);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", stdout(&o)));
        assert_eq!(v["exit_code"], want);
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
}

/// Issue 20, item 5: a reader that goes away (`| head -1`) ends nothing: no abort, no backtrace,
/// the run's own exit code, and what the run did is done.
#[test]
fn a_reader_that_goes_away_changes_no_exit_code() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let closed = |cmd: &mut Command| {
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        drop(child.stdout.take());
        child.wait_with_output().expect("wait")
    };
    let inv = a.w.inventory_path();
    let mut runs: Vec<(String, Command)> = Vec::new();
    for args in [&["--json"][..], &["--check"], &["--help"], &[]] {
        let mut c = Command::new(&pkg);
        c.args(args).arg("--inventory").arg(&inv);
        runs.push((format!("package {args:?}"), c));
    }
    let mut c = Command::new(stub_path());
    c.args(["status", "--json", "--inventory"]).arg(&inv);
    runs.push(("status --json".into(), c));
    for args in [&["inspect", "--json"][..], &["inspect"]] {
        let mut c = iupack();
        c.args(args).arg(&pkg);
        runs.push((format!("iupack {args:?}"), c));
    }
    for (what, mut cmd) in runs {
        let o = closed(&mut cmd);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{what}: {:?}\n{}",
            o.status,
            stderr(&o)
        );
        assert!(
            !stderr(&o).contains("panicked") && !stderr(&o).contains("Broken pipe"),
            "{what}: {}",
            stderr(&o)
        );
    }
    // The first run applied the package although no one read its result.
    assert_tree_eq(&a.w.machine().join("acme/engine"), &a.engine2);
    assert_eq!(a.w.component("engine")["version"], "3.7.71");
}

#[test]
fn altered_content_exits_21_and_altered_manifest_exits_20() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let bytes = fs::read(&pkg).expect("read package");
    let before = snapshot(&a.w.machine());

    // A byte inside stored definitions content (incompressible data is stored as is).
    let defs = fs::read(a.defs2.join("main.avdb")).expect("defs");
    let at = bytes
        .windows(64)
        .position(|w| w == &defs[1000..1064])
        .expect("stored content found in package");
    let mut evil = bytes.clone();
    evil[at + 10] ^= 0x40;
    let p = a.w.path("packages/evil-content.run");
    fs::write(&p, &evil).expect("write");
    set_mode(&p, 0o755);
    let o = a.w.run(&p, &[]);
    assert_code(&o, 21);
    assert_same(&before, &snapshot(&a.w.machine()));
    assert_code(&a.w.run(&p, &["--verify"]), 21);

    // A byte of the manifest's entry (the manifest and its signature, deflated together).
    let at = entry_data(&bytes, "iupack/manifest.json") + 20;
    let mut evil = bytes.clone();
    evil[at] ^= 0x01;
    let p = a.w.path("packages/evil-sig.run");
    fs::write(&p, &evil).expect("write");
    set_mode(&p, 0o755);
    let o = a.w.run(&p, &[]);
    // The ZIP's CRC catches the flip first (21); without it, the signature would (20).
    assert!(
        matches!(code(&o), 20 | 21),
        "exit {}: {}",
        code(&o),
        stderr(&o)
    );
    assert_same(&before, &snapshot(&a.w.machine()));
}

#[test]
fn unmet_requires_exits_11_and_changes_nothing() {
    let a = Acme::new();
    let spec = a.w.spec(
        "defs-only",
        "product = \"acme-av\"\nother_components = [\"engine\"]\n[targets]\nplatforms = [\"*\"]\n[[components]]\nname = \"definitions\"\nversion = \"2026.11.24.1\"\ncontent = \"../releases/defs-2026.11.24.1\"\nrequires = { engine = \">=3.7.71\" }\n",
    );
    let pkg = a.w.package(&spec, &a.key, "defs-only");
    let before = snapshot(&a.w.machine());
    let o = a.w.run(&pkg, &[]);
    assert_err(
        &o,
        11,
        "requires engine >=3.7.71, and after this package this machine would have engine 3.7.70",
    );
    assert_same(&before, &snapshot(&a.w.machine()));
}

#[test]
fn check_list_verify_dry_run_and_extract_change_nothing() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let before = snapshot(&a.w.machine());

    let o = a.w.run(&pkg, &["--check"]);
    assert_code(&o, 1);
    assert_eq!(stdout(&o).trim(), "needed");
    let o = a.w.run(&pkg, &["--list"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("would install engine 3.7.71, definitions 2026.11.24.1"),
        "{}",
        stdout(&o)
    );
    assert_code(&a.w.run(&pkg, &["--verify"]), 0);
    let o = a.w.run(&pkg, &["--dry-run"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("nothing was changed"), "{}", stdout(&o));
    assert_same(&before, &snapshot(&a.w.machine()));

    let out = a.w.path("extracted");
    assert_code(
        &a.w.run(&pkg, &["--extract", out.to_str().expect("utf8")]),
        0,
    );
    assert_tree_eq(&out.join("engine"), &a.engine2);
    assert_tree_eq(&out.join("definitions"), &a.defs2);
    assert_same(&before, &snapshot(&a.w.machine()));
    // Into a non-empty folder: refused.
    assert_code(
        &a.w.run(&pkg, &["--extract", out.to_str().expect("utf8")]),
        2,
    );

    // After applying, --check says current.
    assert_code(&a.w.run(&pkg, &[]), 0);
    let o = a.w.run(&pkg, &["--check"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "current");
}

/// Issue 20, item 3: a report or log the run could not write is found before anything changes
/// (a usage error, exit 2, the machine as it was, nothing left in the folder), so a fleet tool
/// never records a failure on a machine that changed.
#[test]
fn report_and_log_destinations_are_checked_before_the_machine_changes() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let before = snapshot(&a.w.machine());
    let folder = a.w.path("a-folder");
    fs::create_dir(&folder).expect("mkdir");
    let file = a.w.path("a-file");
    fs::write(&file, b"x").expect("write");
    // A device too: the report is renamed into place at the end, which would replace it.
    let places = [
        a.w.path("no-such-folder/r.json"),
        folder.clone(),
        file.join("r.json"),
        PathBuf::from("/dev/null"),
    ];
    for flag in ["--report", "--log"] {
        for place in &places {
            let o = a.w.run(&pkg, &[flag, place.to_str().expect("utf8")]);
            assert_err(
                &o,
                2,
                &format!("cannot write the {} {}", &flag[2..], place.display()),
            );
            assert!(stderr(&o).contains("nothing was changed"), "{}", stderr(&o));
            assert_same(&before, &snapshot(&a.w.machine()));
            assert!(names_in(&folder).is_empty(), "{:?}", names_in(&folder));
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let null = fs::symlink_metadata("/dev/null").expect("stat");
        assert!(null.file_type().is_char_device(), "/dev/null was replaced");
    }
    // A good place still works, and the probe leaves nothing beside the report.
    let report = folder.join("r.json");
    let o = a.w.run(&pkg, &["--report", report.to_str().expect("utf8")]);
    assert_code(&o, 0);
    assert_eq!(names_in(&folder), ["r.json"]);
}

#[test]
fn json_report_and_log_record_every_run_including_refusals() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let report = a.w.path("report.json");
    let log = a.w.path("runs.log");
    let args = [
        "--report",
        report.to_str().expect("utf8"),
        "--log",
        log.to_str().expect("utf8"),
    ];
    let o = a.w.run(&pkg, &[&args[..], &["--json", "-q"]].concat());
    assert_code(&o, 0);
    let printed: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("--json prints JSON");
    let r: serde_json::Value =
        serde_json::from_slice(&fs::read(&report).expect("report")).expect("JSON");
    assert_eq!(printed, r);
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["result"], "applied");
    assert_eq!(r["product"], "acme-av");
    assert_eq!(r["components"][0]["name"], "engine");
    assert_eq!(r["components"][0]["from"], "3.7.70");
    assert_eq!(r["components"][0]["to"], "3.7.71");
    assert_eq!(r["components"][0]["route"], "full");
    assert_eq!(r["components"][0]["action"], "installed");

    // A refusal is reported too.
    let (rogue, _) = a.w.keygen("rogue");
    let spec = a.w.spec("v2", &spec_v2(""));
    let bad = a.w.package(&spec, &rogue, "rogue");
    assert_code(&a.w.run(&bad, &args), 20);
    let r: serde_json::Value =
        serde_json::from_slice(&fs::read(&report).expect("report")).expect("JSON");
    assert_eq!(r["exit_code"], 20);
    assert_eq!(r["result"], "refused");
    let lines: Vec<serde_json::Value> = fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["exit_code"], 0);
    assert_eq!(lines[1]["exit_code"], 20);

    // A package cut short on the way, and a mistyped option: the run stops before the options
    // are understood, and the report and the log still say why.
    let bytes = fs::read(&pkg).expect("read");
    let cut = a.w.path("packages/cut.run");
    fs::write(&cut, &bytes[..bytes.len() - 100]).expect("write");
    set_mode(&cut, 0o755);
    for (file, extra, code, result) in [
        (&cut, None, 21, "refused"),
        (&pkg, Some("--bogus"), 2, "failed"),
    ] {
        let mut run_args = args.to_vec();
        run_args.extend(extra);
        assert_code(&a.w.run(file, &run_args), code);
        let r: serde_json::Value =
            serde_json::from_slice(&fs::read(&report).expect("report")).expect("JSON");
        assert_eq!(
            (r["exit_code"].clone(), r["result"].clone()),
            (code.into(), result.into())
        );
        assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()), "{r}");
    }
    let lines = fs::read_to_string(&log).expect("log").lines().count();
    assert_eq!(lines, 4);
}

#[test]
fn quiet_prints_nothing_on_success() {
    let a = Acme::new();
    let o = a.w.run(&a.v2_package(), &["-q"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), "");
}

#[test]
fn keep_previous_zero_keeps_nothing_and_first_install_creates_the_folder() {
    let a = Acme::new();
    let mut inv = a.w.inventory();
    inv["products"][0]["keep_previous"] = serde_json::json!(0);
    // Definitions not installed yet: configured with a path only.
    inv["products"][0]["components"]["definitions"] =
        serde_json::json!({ "path": "acme/new/defs" });
    fs::write(
        a.w.inventory_path(),
        serde_json::to_vec(&inv).expect("json"),
    )
    .expect("write");
    assert_code(&a.w.run(&a.v2_package(), &[]), 0);
    assert_tree_eq(&a.w.machine().join("acme/engine"), &a.engine2);
    assert_tree_eq(&a.w.machine().join("acme/new/defs"), &a.defs2);
    assert!(!a.w.machine().join("acme/.engine.iupack").exists());
    assert!(a.w.component("engine").get("previous").is_none());
}

#[test]
fn a_component_path_that_is_a_file_exits_30_and_changes_nothing() {
    let a = Acme::new();
    fs::remove_dir_all(a.w.machine().join("acme/defs")).expect("rm");
    fs::write(a.w.machine().join("acme/defs"), b"not a folder").expect("write");
    let before = snapshot(&a.w.machine());
    let o = a.w.run(&a.v2_package(), &[]);
    assert_err(&o, 30, "is not a folder");
    // The engine was staged first; its staging must be gone as well.
    assert_same(&before, &snapshot(&a.w.machine()));
}

#[test]
fn the_bare_stub_is_the_client_tool() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let o = Command::new(stub_path()).output().expect("run stub");
    assert_err(&o, 2, "carries no package");
    let o = Command::new(stub_path())
        .arg("apply")
        .arg(&pkg)
        .arg("--inventory")
        .arg(a.w.inventory_path())
        .output()
        .expect("run stub");
    assert_code(&o, 0);
    assert_tree_eq(&a.w.machine().join("acme/engine"), &a.engine2);
    // A file that is not a package.
    let o = Command::new(stub_path())
        .arg("apply")
        .arg(a.defs1.join("main.avdb"))
        .arg("--inventory")
        .arg(a.w.inventory_path())
        .output()
        .expect("run stub");
    assert_err(&o, 21, "not an iupack package");
}

#[test]
fn unknown_options_are_usage_errors() {
    let a = Acme::new();
    let pkg = a.v2_package();
    let o = a.w.run(&pkg, &["--frobnicate"]);
    assert_err(&o, 2, "unknown option --frobnicate");
    let o = a.w.run(&pkg, &["--check", "--list"]);
    assert_code(&o, 2);
    let o = Command::new(&pkg).arg("--help").output().expect("run");
    assert_code(&o, 0);
    assert!(stdout(&o).contains("Exit codes:"));
}

#[test]
fn overlapping_component_folders_are_refused_and_change_nothing() {
    let a = Acme::new();
    let mut inv = a.w.inventory();
    inv["products"][0]["components"]["engine"]["path"] = serde_json::json!("acme");
    fs::write(
        a.w.inventory_path(),
        serde_json::to_vec(&inv).expect("json"),
    )
    .expect("write");
    let before = snapshot(&a.w.machine());
    let o = a.w.run(&a.v2_package(), &[]);
    assert_err(&o, 1, "folders that overlap");
    assert_same(&before, &snapshot(&a.w.machine()));
}

/// Interactive mode, driven through a pseudo-terminal as a person at the console sees it.
#[cfg(unix)]
mod interactive {
    use super::*;

    fn on_pty(a: &Acme, pkg: &std::path::Path, args: &[&str]) -> Pty {
        let mut cmd = Command::new(pkg);
        cmd.args(args).arg("--inventory").arg(a.w.inventory_path());
        Pty::spawn(cmd)
    }

    #[test]
    fn a_person_picks_one_component_after_a_requires_conflict_and_confirms() {
        let a = Acme::new();
        let pkg = a.v2_package();
        let report = a.w.path("report.json");
        let mut t = on_pty(
            &a,
            &pkg,
            &["-i", "--report", report.to_str().expect("utf8")],
        );
        // The table: installed -> package version, route, size, requires.
        let table = t.expect("Install which?");
        assert!(
            table.contains("Acme Antivirus 12.1 - package acme-av-2026.11.24.1-"),
            "{table}"
        );
        let row = |name: &str| {
            table
                .lines()
                .find(|l| l.contains(name))
                .unwrap_or_else(|| panic!("no row for {name}:\n{table}"))
                .to_string()
        };
        let engine = row(" engine ");
        assert!(engine.trim_start().starts_with("1  engine"), "{engine}");
        assert!(
            engine.contains("3.7.70") && engine.contains("-> 3.7.71"),
            "{engine}"
        );
        assert!(engine.contains("full"), "{engine}");
        let defs = row("definitions");
        assert!(defs.trim_start().starts_with("2  definitions"), "{defs}");
        assert!(
            defs.contains("2026.11.20.1") && defs.contains("-> 2026.11.24.1"),
            "{defs}"
        );
        assert!(
            defs.contains("KiB") && defs.ends_with("engine >=3.7.71"),
            "{defs}"
        );

        // Definitions alone would break what they require: explained, asked again.
        t.type_line("2");
        let why = t.expect("Install which?");
        assert!(
            why.contains("definitions 2026.11.24.1 requires engine >=3.7.71"),
            "{why}"
        );
        t.type_line("7");
        let why = t.expect("Install which?");
        assert!(
            why.contains("`7` is not one of the numbers 1 to 2"),
            "{why}"
        );
        t.type_line("1");
        let confirm = t.expect("[y/N]");
        assert!(
            confirm.contains("Install engine 3.7.71 (full, "),
            "{confirm}"
        );
        t.type_line("y");
        let (code, screen) = t.finish();
        assert_eq!(code, 0, "{screen}");
        assert!(screen.contains("installed engine 3.7.71"), "{screen}");

        // Only the chosen component changed.
        assert_tree_eq(&a.w.machine().join("acme/engine"), &a.engine2);
        assert_tree_eq(&a.w.machine().join("acme/defs"), &a.defs1);
        assert_eq!(a.w.component("engine")["version"], "3.7.71");
        assert_eq!(a.w.component("definitions")["version"], "2026.11.20.1");
        let r: serde_json::Value =
            serde_json::from_slice(&fs::read(&report).expect("report")).expect("JSON");
        assert_eq!(r["result"], "applied");
        assert_eq!(r["components"][1]["action"], "skipped");
        assert_eq!(r["components"][0]["action"], "installed");
    }

    /// Issue 20, item 3: the report's folder taken away while the run waits at the prompt; the
    /// run applies, says it could not write the report, and keeps its real exit code (0).
    #[test]
    fn a_report_that_cannot_be_written_after_the_run_never_changes_its_exit_code() {
        let a = Acme::new();
        let pkg = a.v2_package();
        let folder = a.w.path("reports");
        fs::create_dir(&folder).expect("mkdir");
        let report = folder.join("r.json");
        let mut t = on_pty(
            &a,
            &pkg,
            &["-i", "--report", report.to_str().expect("utf8")],
        );
        t.expect("Install which?");
        fs::remove_dir(&folder).expect("rmdir");
        t.type_line("");
        t.expect("[y/N]");
        t.type_line("y");
        let (code, screen) = t.finish();
        assert_eq!(code, 0, "{screen}");
        assert!(
            screen.contains(&format!(
                "warning: cannot write the report {}",
                report.display()
            )),
            "{screen}"
        );
        assert_tree_eq(&a.w.machine().join("acme/engine"), &a.engine2);
        assert_eq!(a.w.component("engine")["version"], "3.7.71");
    }

    #[test]
    fn declining_at_the_prompt_or_closing_input_changes_nothing() {
        let a = Acme::new();
        let pkg = a.v2_package();
        let before = snapshot(&a.w.machine());
        let mut t = on_pty(&a, &pkg, &["-i"]);
        t.expect("Install which?");
        t.type_line("");
        let confirm = t.expect("[y/N]");
        assert!(
            confirm.contains("Install engine 3.7.71 (full, ")
                && confirm.contains("definitions 2026.11.24.1 (full, "),
            "{confirm}"
        );
        t.type_line("n");
        let (code, screen) = t.finish();
        assert_eq!(code, 0, "{screen}");
        assert!(
            screen.contains("nothing was installed or changed"),
            "{screen}"
        );
        assert_same(&before, &snapshot(&a.w.machine()));

        // "n" for none at the first question, and end of input (a closed pipe), also cancel.
        let mut t = on_pty(&a, &pkg, &["--interactive"]);
        t.expect("Install which?");
        t.type_line("n");
        assert_eq!(t.finish().0, 0);
        let o = output(
            Command::new(&pkg)
                .args(["-i", "--inventory"])
                .arg(a.w.inventory_path())
                .stdin(std::process::Stdio::null()),
        );
        assert_code(&o, 0);
        assert!(stdout(&o).contains("cancelled"), "{}", stdout(&o));
        assert_same(&before, &snapshot(&a.w.machine()));
    }

    #[test]
    fn a_product_that_asks_for_it_prompts_on_a_terminal_but_never_in_a_pipe_or_with_q() {
        let a = Acme::new();
        let pkg = a.v2_package();
        let mut inv = a.w.inventory();
        inv["products"][0]["interactive"] = serde_json::json!(true);
        fs::write(a.w.inventory_path(), inv.to_string()).expect("write inventory");
        let before = snapshot(&a.w.machine());

        // On a terminal with no flags: the person is asked. --check never asks.
        let mut t = on_pty(&a, &pkg, &[]);
        t.expect("Install which?");
        t.type_line("n");
        assert_eq!(t.finish().0, 0);
        let (code, screen) = on_pty(&a, &pkg, &["--check"]).finish();
        assert_eq!((code, screen.trim()), (1, "needed"));
        assert_same(&before, &snapshot(&a.w.machine()));

        // A fleet tool's run (no terminal) is express: everything is applied without a prompt,
        // and the setting survives the inventory rewrite.
        let o = a.w.run(&pkg, &[]);
        assert_code(&o, 0);
        assert_tree_eq(&a.w.machine().join("acme/engine"), &a.engine2);
        assert_tree_eq(&a.w.machine().join("acme/defs"), &a.defs2);
        assert_eq!(a.w.inventory()["products"][0]["interactive"], true);

        // -q on a terminal never prompts: it applies and prints nothing.
        let b = Acme::new();
        let pkg = b.v2_package();
        let mut inv = b.w.inventory();
        inv["products"][0]["interactive"] = serde_json::json!(true);
        fs::write(b.w.inventory_path(), inv.to_string()).expect("write inventory");
        let (code, screen) = on_pty(&b, &pkg, &["-q"]).finish();
        assert_eq!((code, screen.as_str()), (0, ""));
        assert_tree_eq(&b.w.machine().join("acme/defs"), &b.defs2);

        // -i with -q or --json is a usage error: those never prompt.
        for flags in [["-i", "-q"], ["-i", "--json"], ["-i", "--list"]] {
            let o = a.w.run(&pkg, &flags);
            assert_err(&o, 2, "-i (interactive) asks a person");
        }
    }
}
