//! `iupack-stub init` (issue 23): a machine set up from flags, with no hand-written JSON, takes
//! its first package; every bad value is refused with what to type instead and changes nothing;
//! an existing entry is extended, kept when the same, and replaced only with `--force`.

use iupack_tests::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `iupack-stub init ARGS --inventory INV` (paths in ARGS relative to the world), with a
/// umask of 0: what init creates must not be writable by others however it is started.
fn init(w: &World, args: &[&str]) -> Output {
    output(
        Command::new("sh")
            .args(["-c", "umask 0; exec \"$0\" \"$@\""])
            .arg(stub_path())
            .current_dir(w.path(""))
            .arg("init")
            .args(args)
            .arg("--inventory")
            .arg(w.inventory_path()),
    )
}

fn engine_spec(w: &World) -> std::path::PathBuf {
    w.release(
        "engine-3.7.71",
        &[
            ("bin/scan", b"#!/bin/sh\necho 3.7.71\n", true),
            ("lib/core.tbl", b"core 71\n", false),
        ],
    );
    w.spec(
        "engine",
        &format!(
            "product = \"acme-av\"\n[targets]\nproduct_versions = \">=12.0, <13\"\nplatforms = [\"{}\"]\n\
             [[components]]\nname = \"engine\"\nversion = \"3.7.71\"\ncontent = \"../releases/engine-3.7.71\"\n",
            this_platform()
        ),
    )
}

#[test]
fn a_machine_set_up_with_init_takes_its_first_package() {
    let w = World::new();
    let (key, _) = w.keygen("publisher");
    let spec = engine_spec(&w);
    let pkg = w.package(&spec, &key, "engine");
    // No inventory, not even its folder.
    assert!(!w.machine().exists());
    let o = init(
        &w,
        &[
            "acme-av",
            "12.1",
            "--key",
            "keys/publisher.pub",
            "--name",
            "Acme Antivirus",
            "--component",
            "engine=acme/engine",
        ],
    );
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("added acme-av 12.1 (engine)"),
        "{}",
        stdout(&o)
    );
    let inv = w.inventory();
    let p = &inv["products"][0];
    assert_eq!(p["id"], "acme-av");
    assert_eq!(p["name"], "Acme Antivirus");
    assert_eq!(p["trusted_keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(p["components"]["engine"]["path"], "acme/engine");
    // The trust root is the owner's to change, whatever the umask (init ran with umask 0).
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&w.inventory_path()), 0o644);
    assert_eq!(
        mode(&w.machine()) & 0o022,
        0,
        "the inventory's folder is not writable by others"
    );
    // So are the report and log a run writes (and the journal and lock, made the same way).
    let (report, log) = (w.machine().join("r.json"), w.machine().join("log.jsonl"));
    let (r, l) = (report.display().to_string(), log.display().to_string());
    let o = init(
        &w,
        &[
            "acme-av",
            "12.1",
            "--key",
            "keys/publisher.pub",
            "--report",
            &r,
            "--log",
            &l,
        ],
    );
    assert_code(&o, 0);
    assert_eq!((mode(&report), mode(&log)), (0o644, 0o644));
    fs::remove_file(&report).expect("rm");
    fs::remove_file(&log).expect("rm");
    // The same again: nothing changes, not a byte.
    let before = fs::read(w.inventory_path()).expect("inventory");
    let o = init(&w, &["acme-av", "12.1", "--key", "keys/publisher.pub"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("nothing changed"), "{}", stdout(&o));
    assert_eq!(fs::read(w.inventory_path()).expect("inventory"), before);
    // The package installs the engine byte for byte and the inventory records it.
    let o = w.run(&pkg, &[]);
    assert_code(&o, 0);
    assert_tree_eq(
        &w.path("releases/engine-3.7.71"),
        &w.machine().join("acme/engine"),
    );
    assert_eq!(w.component("engine")["version"], "3.7.71");
}

#[test]
fn bad_values_are_refused_with_what_to_give_and_change_nothing() {
    let w = World::new();
    let (_, pubkey) = w.keygen("publisher");
    let key_id = "0123456789ABCDEF";
    fs::write(w.path("hooks.json"), br#"{ "validate": [] }"#).expect("hooks");
    fs::write(w.path("typo-hooks.json"), br#"{ "validat": ["true"] }"#).expect("hooks");
    let publisher = fs::read(w.path("keys/publisher.pub")).expect("pub");
    fs::write(
        w.path("keys/both.pub"),
        [&publisher[..], &publisher[..]].concat(),
    )
    .expect("both");
    // A component whose folder holds the inventory (a package's tree must not carry it).
    let machine_comp = format!("e={}", w.machine().display());
    let cases: &[(&[&str], i32, &str)] = &[
        (&["acme-av", "12.1"], 2, "needs the publisher's public key"),
        (
            &["acme-av", "12.1", "--key", key_id],
            2,
            "looks like a key id",
        ),
        (
            &["acme-av", "12.1", "--key", "keys/publisher.key"],
            2,
            "not a minisign public key",
        ),
        (
            &["acme-av", "12.1", "--key", "keys/missing.pub"],
            2,
            "cannot read it",
        ),
        (
            &["Acme AV", "12.1", "--key", &pubkey],
            2,
            "not a product id",
        ),
        (&["acme-av", "twelve", "--key", &pubkey], 2, "not a version"),
        (
            &["acme-av", "12.1", "--key", &pubkey, "--component", "engine"],
            2,
            "NAME=PATH",
        ),
        (
            &[
                "acme-av",
                "12.1",
                "--key",
                &pubkey,
                "--component",
                "Engine=e",
            ],
            2,
            "not a component name",
        ),
        (
            &[
                "acme-av",
                "12.1",
                "--key",
                &pubkey,
                "--component",
                "engine@x.y!=e",
            ],
            2,
            "not a version",
        ),
        (
            &[
                "acme-av",
                "12.1",
                "--key",
                &pubkey,
                "--component",
                "e=a",
                "--component",
                "e=b",
            ],
            2,
            "given twice",
        ),
        (
            &[
                "acme-av",
                "12.1",
                "--key",
                &pubkey,
                "--component",
                "a=x",
                "--component",
                "b=x/y",
            ],
            1,
            "overlap",
        ),
        (
            &[
                "acme-av",
                "12.1",
                "--key",
                &pubkey,
                "--keep-previous",
                "many",
            ],
            2,
            "--keep-previous",
        ),
        (
            &["acme-av", "12.1", "--key", &pubkey, "--hooks", "hooks.json"],
            2,
            "names no program",
        ),
        (
            &[
                "acme-av",
                "12.1",
                "--key",
                &pubkey,
                "--hooks",
                "typo-hooks.json",
            ],
            2,
            "unknown field `validat`",
        ),
        (
            &["acme-av"],
            2,
            "init needs the product id and its installed version",
        ),
        (
            &["acme-av", "12.1", "--key", &pubkey, "--component", "e=."],
            2,
            "not a plain folder path",
        ),
        (
            &["acme-av", "12.1", "--key", &pubkey, "--component", "e=../x"],
            2,
            "not a plain folder path",
        ),
        (
            &["acme-av", "12.1", "--key", &pubkey, "--component", "e=/"],
            2,
            "not a plain folder path",
        ),
        (
            &[
                "acme-av",
                "12.1",
                "--key",
                &pubkey,
                "--component",
                &machine_comp,
            ],
            2,
            "holds the inventory",
        ),
        (
            &["acme-av", "12.1", "--key", "keys/both.pub"],
            2,
            "more than one key",
        ),
        (
            &["acme-av", "12.1", "--key", "/dev/zero"],
            2,
            "not a regular file",
        ),
        (
            &["acme-av", "12.1", "--key", &pubkey, "--hooks", "/dev/zero"],
            2,
            "not a regular file",
        ),
    ];
    for (args, want, text) in cases {
        let before = snapshot(&w.path(""));
        let o = init(&w, args);
        assert_err(&o, *want, text);
        assert!(!w.inventory_path().exists(), "{args:?} wrote an inventory");
        assert_same(&before, &snapshot(&w.path("")));
    }
    // init's flags go with init only.
    let o = output(Command::new(stub_path()).args(["status", "--key", &pubkey]));
    assert_err(&o, 2, "--key goes with init");
}

#[test]
fn an_existing_entry_is_extended_kept_or_replaced_only_with_force() {
    let w = World::new();
    let (_, pubkey) = w.keygen("publisher");
    let (_, other) = w.keygen("other");
    w.install_inventory(&[&pubkey], &[("engine", Some("3.7.70"), "acme/engine")]);
    // A component the entry lacks is added; the installed one keeps its record.
    let o = init(
        &w,
        &[
            "acme-av",
            "12.1",
            "--key",
            &pubkey,
            "--component",
            "definitions=acme/defs",
        ],
    );
    assert_code(&o, 0);
    assert_eq!(w.component("engine")["version"], "3.7.70");
    assert_eq!(w.component("definitions")["path"], "acme/defs");
    // Another version, key or folder is refused, naming each, and nothing changes.
    let before = fs::read(w.inventory_path()).expect("inventory");
    let o = init(
        &w,
        &[
            "acme-av",
            "12.2",
            "--key",
            &other,
            "--component",
            "engine=elsewhere",
        ],
    );
    assert_err(&o, 1, "version 12.1 (the flags say 12.2)");
    for part in [
        "trusted_keys",
        "component engine at acme/engine@3.7.70",
        "--force",
    ] {
        assert!(stderr(&o).contains(part), "{part}: {}", stderr(&o));
    }
    assert_eq!(fs::read(w.inventory_path()).expect("inventory"), before);
    // With --force they are replaced; what the flags don't name stays.
    let o = init(&w, &["acme-av", "12.2", "--key", &other, "--force"]);
    assert_code(&o, 0);
    let inv = w.inventory();
    let p = &inv["products"][0];
    assert_eq!(p["version"], "12.2");
    assert_eq!(p["trusted_keys"], serde_json::json!([other]));
    assert_eq!(w.component("engine")["version"], "3.7.70");
    assert_eq!(
        inv["machine"]["language"], "en",
        "fields init does not set are kept"
    );
    // A second product beside it.
    let o = init(
        &w,
        &[
            "other-av",
            "1.0",
            "--key",
            &other,
            "--component",
            "defs=other/defs",
        ],
    );
    assert_code(&o, 0);
    assert_eq!(w.inventory()["products"].as_array().map(Vec::len), Some(2));
    assert!(Path::new(&w.inventory_path()).exists());
}

#[test]
fn force_keeps_the_floor_the_kept_copies_and_revocations() {
    let w = World::new();
    let (_, pubkey) = w.keygen("publisher");
    let (_, revoked) = w.keygen("revoked");
    w.install_inventory(&[&pubkey], &[("engine", Some("3.7.71"), "acme/engine")]);
    let mut inv = w.inventory();
    inv["products"][0]["revoked_keys"] = serde_json::json!([revoked]);
    let engine = &mut inv["products"][0]["components"]["engine"];
    engine["floor"] = serde_json::json!("3.7.70");
    engine["previous"] =
        serde_json::json!([{ "version": "3.7.70", "tree": null, "dir": "previous-1" }]);
    fs::write(
        w.inventory_path(),
        serde_json::to_vec_pretty(&inv).expect("json"),
    )
    .expect("write");
    let before = fs::read(w.inventory_path()).expect("inventory");
    // A revoked key is never trusted again, --force or not; below the floor is refused.
    let o = init(&w, &["acme-av", "12.1", "--key", &revoked, "--force"]);
    assert_err(&o, 1, "is revoked");
    let o = init(
        &w,
        &[
            "acme-av",
            "12.1",
            "--key",
            &pubkey,
            "--component",
            "engine@3.7.0=acme/engine",
            "--force",
        ],
    );
    assert_err(&o, 1, "security floor");
    assert_eq!(fs::read(w.inventory_path()).expect("inventory"), before);
    // The same folder written another way is the same folder: nothing changes.
    let o = init(
        &w,
        &[
            "acme-av",
            "12.1",
            "--key",
            &pubkey,
            "--component",
            "engine=acme/engine/",
        ],
    );
    assert_code(&o, 0);
    assert_eq!(fs::read(w.inventory_path()).expect("inventory"), before);
    // Another folder with --force: the record moves, its floor and kept copies stay.
    let o = init(
        &w,
        &[
            "acme-av",
            "12.1",
            "--key",
            &pubkey,
            "--component",
            "engine=acme/engine2",
            "--force",
        ],
    );
    assert_code(&o, 0);
    let e = w.component("engine");
    assert_eq!(e["path"], "acme/engine2");
    assert_eq!(e["version"], "3.7.71");
    assert_eq!(e["floor"], "3.7.70");
    assert_eq!(e["previous"][0]["dir"], "previous-1");
}

/// As root (CI runs so): an inventory folder another user owns is refused with nothing
/// written, and so is a planted inventory everyone may write.
#[test]
fn an_inventory_where_another_user_can_change_it_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to play another user");
        return;
    }
    let w = World::new();
    let (_, pubkey) = w.keygen("publisher");
    let shared = w.path("shared");
    fs::create_dir(&shared).expect("mkdir");
    let st = Command::new("chown")
        .arg("65534:65534")
        .arg(&shared)
        .status()
        .expect("chown");
    assert!(st.success());
    let inv = shared.join("inventory.json");
    let o = output(
        Command::new(stub_path())
            .args(["init", "acme-av", "12.1", "--key", &pubkey, "--inventory"])
            .arg(&inv),
    );
    assert_err(&o, 30, "another user can change");
    assert!(!inv.exists());
    let mine = w.path("mine");
    fs::create_dir(&mine).expect("mkdir");
    fs::write(
        mine.join("inventory.json"),
        br#"{ "format": 1, "products": [] }"#,
    )
    .expect("write");
    set_mode(&mine.join("inventory.json"), 0o666);
    let before = fs::read(mine.join("inventory.json")).expect("read");
    let o = output(
        Command::new(stub_path())
            .args(["init", "acme-av", "12.1", "--key", &pubkey, "--inventory"])
            .arg(mine.join("inventory.json")),
    );
    assert_err(&o, 30, "writable by every user");
    assert_eq!(fs::read(mine.join("inventory.json")).expect("read"), before);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Hooks a run would refuse (a misspelt field, from a hand-edited inventory) are named by
/// `status` before a package finds them.
#[test]
fn status_names_hooks_a_run_would_refuse() {
    let w = World::new();
    let (_, pubkey) = w.keygen("publisher");
    w.install_inventory(&[&pubkey], &[("engine", None, "acme/engine")]);
    let mut inv = w.inventory();
    inv["products"][0]["hooks"] = serde_json::json!({ "validat": ["true"] });
    fs::write(w.inventory_path(), inv.to_string()).expect("write");
    let status = |json: bool| {
        let mut c = Command::new(stub_path());
        c.arg("status").arg("--inventory").arg(w.inventory_path());
        if json {
            c.arg("--json");
        }
        output(&mut c)
    };
    let o = status(false);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("warning:") && stdout(&o).contains("validat"),
        "{}",
        stdout(&o)
    );
    let st: serde_json::Value = serde_json::from_str(&stdout(&status(true))).expect("json");
    assert!(
        st["products"][0]["hooks_problem"]
            .as_str()
            .is_some_and(|m| m.contains("validat")),
        "{st}"
    );
    // Fixed, the warning goes.
    inv["products"][0]["hooks"] = serde_json::json!({ "validate": ["true"] });
    fs::write(w.inventory_path(), inv.to_string()).expect("write");
    let st: serde_json::Value = serde_json::from_str(&stdout(&status(true))).expect("json");
    assert!(st["products"][0]["hooks_problem"].is_null(), "{st}");
}
