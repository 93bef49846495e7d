//! Differential and cumulative packages, end to end: every kind of file change round-trips
//! byte for byte, the stub picks the right route for each installed base, and a base it can't
//! use leaves the machine untouched.

use iupack_tests::*;
use std::fs;
use std::path::{Path, PathBuf};

/// `data` with a few edits: bytes changed in place, a run inserted, a run deleted.
fn edited(data: &[u8], seed: u64) -> Vec<u8> {
    let mut v = data.to_vec();
    let n = v.len();
    for (i, b) in noise(seed, 16).into_iter().enumerate() {
        let at = (i * n / 16 + 7) % n;
        v[at] ^= b | 1;
    }
    let mid = n / 3;
    v.splice(mid..mid, noise(seed + 1, 300));
    let cut = 2 * n / 3;
    v.drain(cut..cut + 200);
    v
}

/// Three releases of "definitions" with every kind of change between them.
struct Releases {
    w: World,
    key: PathBuf,
    pubkey: String,
    v1: PathBuf,
    v2: PathBuf,
    v3: PathBuf,
}

fn releases() -> Releases {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let main1 = noise(1, 400_000);
    let main2 = edited(&main1, 2);
    let main3 = edited(&main2, 3);
    let daily = noise(9, 5_000);
    let v1 = w.release(
        "defs-1",
        &[
            ("main.db", &main1, false),
            ("same.db", &daily, false),
            ("gone.txt", b"removed in 2", false),
            ("empty-then-full", b"", false),
            ("tool", b"#!/bin/sh\necho tool\n", false),
            ("sub/deep/x.db", &noise(5, 30_000), false),
        ],
    );
    let v2 = w.release(
        "defs-2",
        &[
            ("main.db", &main2, false),
            ("same.db", &daily, false),
            ("empty-then-full", b"now has content", false),
            ("empty", b"", false),
            ("tool", b"#!/bin/sh\necho tool\n", true), // only the mode changes
            ("sub/deep/x.db", &edited(&noise(5, 30_000), 4), false),
            ("new/added.db", &noise(6, 20_000), false),
        ],
    );
    let v3 = w.release(
        "defs-3",
        &[
            ("main.db", &main3, false),
            ("same.db", &daily, false),
            ("empty", b"", false),
            ("tool", b"#!/bin/sh\necho tool 3\n", true),
            ("new/added.db", &noise(6, 20_000), false),
        ],
    );
    Releases {
        w,
        key,
        pubkey,
        v1,
        v2,
        v3,
    }
}

impl Releases {
    /// A spec for version 3 with deltas from `bases` (names of releases: 1, 2) and full content
    /// or not.
    fn spec(&self, name: &str, full: bool, bases: &[u32]) -> PathBuf {
        let mut text = format!(
            "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n[[components]]\nname = \"definitions\"\nversion = \"3\"\ncontent = \"../releases/defs-3\"\nfull = {full}\n"
        );
        for b in bases {
            text += &format!(
                "[[components.deltas]]\nversion = \"{b}\"\ncontent = \"../releases/defs-{b}\"\n"
            );
        }
        self.w.spec(name, &text)
    }

    /// Resets the machine to have release `v` (or a tree and version of our choosing) installed.
    fn machine_at(&self, version: &str, tree: &Path) {
        let _ = fs::remove_dir_all(self.w.machine());
        self.w.install_inventory(
            &[&self.pubkey],
            &[("definitions", Some(version), "acme/defs")],
        );
        self.w.install_tree(tree, "acme/defs");
    }

    fn report(&self, pkg: &Path) -> serde_json::Value {
        let o = self.w.run(pkg, &["--json"]);
        assert_code(&o, 0);
        serde_json::from_str(&stdout(&o)).expect("JSON report")
    }
}

/// Builds a package with the given delta codec.
fn package_with(r: &Releases, spec: &Path, name: &str, codec: &str) -> PathBuf {
    let (o, pkg) =
        r.w.build_with(spec, &r.key, name, &["--delta-codec", codec]);
    assert_code(&o, 0);
    pkg
}

#[test]
fn a_delta_only_package_round_trips_every_kind_of_change_with_either_codec() {
    let r = releases();
    for codec in ["file", "tree"] {
        for (from, tree) in [("1", &r.v1), ("2", &r.v2)] {
            let name = format!("{codec}-from-{from}");
            let spec = r.spec(&name, false, &[from.parse().expect("n")]);
            let pkg = package_with(&r, &spec, &name, codec);
            let o = iupack()
                .args(["inspect", "--json"])
                .arg(&pkg)
                .output()
                .expect("run");
            let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
            let want = if codec == "file" {
                "zstd-prefix"
            } else {
                "zstd-tree"
            };
            assert_eq!(v["manifest"]["components"][0]["deltas"][0]["codec"], want);

            r.machine_at(from, tree);
            let rep = r.report(&pkg);
            assert_eq!(rep["components"][0]["route"], format!("delta from {from}"));
            assert_eq!(rep["components"][0]["action"], "installed");
            assert_tree_eq(&r.w.machine().join("acme/defs"), &r.v3);
            assert_eq!(r.w.component("definitions")["version"], "3");
            // The kept previous copy is the old release, byte for byte.
            let kept =
                r.w.machine()
                    .join(format!("acme/.defs.iupack/previous-{from}"));
            assert_tree_eq(&kept, tree);
            // A second run changes nothing.
            let before = snapshot(&r.w.machine());
            assert_code(&r.w.run(&pkg, &[]), 0);
            assert_same(&before, &snapshot(&r.w.machine()));
        }
    }
}

#[test]
fn a_delta_is_much_smaller_than_full_content() {
    let r = releases();
    let full = r.w.package(&r.spec("full", true, &[]), &r.key, "full");
    let delta = r.w.package(&r.spec("delta", false, &[2]), &r.key, "delta");
    let stub = fs::metadata(stub_path()).expect("stub").len();
    let payload = |p: &Path| fs::metadata(p).expect("pkg").len() - stub;
    assert!(
        payload(&delta) * 10 < payload(&full),
        "delta payload {} vs full {}",
        payload(&delta),
        payload(&full)
    );
}

#[test]
fn a_cumulative_package_takes_the_delta_from_each_base_and_full_content_elsewhere() {
    let r = releases();
    let pkg =
        r.w.package(&r.spec("cumulative", true, &[1, 2]), &r.key, "cumulative");
    for (from, tree) in [("1", &r.v1), ("2", &r.v2)] {
        r.machine_at(from, tree);
        let rep = r.report(&pkg);
        assert_eq!(
            rep["components"][0]["route"],
            format!("delta from {from}"),
            "{rep}"
        );
        assert_tree_eq(&r.w.machine().join("acme/defs"), &r.v3);
    }
    // A version the package has no delta from, and a known version whose files were changed
    // locally: both take full content.
    let unknown =
        r.w.release("defs-0", &[("main.db", &noise(0, 1000), false)]);
    r.machine_at("0.9", &unknown);
    assert_eq!(r.report(&pkg)["components"][0]["route"], "full");
    assert_tree_eq(&r.w.machine().join("acme/defs"), &r.v3);

    r.machine_at("2", &r.v2);
    fs::write(r.w.machine().join("acme/defs/same.db"), b"edited by hand").expect("write");
    assert_eq!(r.report(&pkg)["components"][0]["route"], "full");
    assert_tree_eq(&r.w.machine().join("acme/defs"), &r.v3);
}

/// Issue 20, item 14: full content over a tree whose files were changed locally installs, says so,
/// and keeps the changed copy under its own name, `previous-2-changed`, recorded with release 2's
/// digest so that a rollback refuses it as changed (never put back as release 2); an unchanged
/// tree is kept as `previous-2`.
#[test]
fn full_content_over_a_locally_changed_tree_keeps_the_copy_as_changed() {
    let r = releases();
    let pkg = r.w.package(&r.spec("full", true, &[]), &r.key, "full");
    // The digest of release 2 as iupack records it (a hand-installed copy is digested when kept).
    r.machine_at("2", &r.v2);
    assert_code(&r.w.run(&pkg, &[]), 0);
    let tree2 = r.w.component("definitions")["previous"][0]["tree"].clone();
    assert!(tree2.is_string(), "{tree2}");
    let side = r.w.machine().join("acme/.defs.iupack");
    for edit in [false, true] {
        r.machine_at("2", &r.v2);
        let mut inv = r.w.inventory();
        inv["products"][0]["components"]["definitions"]["tree"] = tree2.clone();
        fs::write(
            r.w.inventory_path(),
            serde_json::to_vec(&inv).expect("json"),
        )
        .expect("write");
        if edit {
            fs::write(r.w.machine().join("acme/defs/same.db"), b"edited by hand").expect("write");
        }
        let o = r.w.run(&pkg, &["--json"]);
        assert_code(&o, 0);
        assert!(
            !r.w.path("machine/inventory.json.journal").exists(),
            "the update finished: no journal left"
        );
        let rep: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
        assert_tree_eq(&r.w.machine().join("acme/defs"), &r.v3);
        let kept = &r.w.component("definitions")["previous"][0];
        let warned = rep["warnings"].to_string();
        if edit {
            assert_eq!(kept["dir"], "previous-2-changed", "{kept}");
            assert_eq!(kept["version"], "2");
            assert_eq!(
                kept["tree"], tree2,
                "the release's digest, not the changed copy's"
            );
            assert!(
                warned.contains("definitions 2 had been changed locally"),
                "{warned}"
            );
            let copy = fs::read(side.join("previous-2-changed/same.db")).expect("kept copy");
            assert_eq!(copy, b"edited by hand", "the local changes are kept");
            // A rollback refuses the changed copy: it is not release 2.
            let before = snapshot(&r.w.machine());
            let o = output(
                std::process::Command::new(stub_path())
                    .args(["rollback", "acme-av", "definitions", "--inventory"])
                    .arg(r.w.inventory_path()),
            );
            assert_err(&o, 11, "changed");
            assert_same(&before, &snapshot(&r.w.machine()));
        } else {
            assert_eq!(kept["dir"], "previous-2", "{kept}");
            assert_eq!(kept["version"], "2");
            assert_eq!(kept["tree"], tree2);
            assert!(!warned.contains("changed locally"), "{warned}");
        }
    }
}

#[test]
fn a_delta_only_package_on_an_unknown_or_modified_base_exits_11_and_changes_nothing() {
    let r = releases();
    let pkg = r.w.package(&r.spec("delta", false, &[2]), &r.key, "delta");

    r.machine_at("1", &r.v1);
    let before = snapshot(&r.w.machine());
    let o = r.w.run(&pkg, &[]);
    assert_err(
        &o,
        11,
        "definitions 1 is installed; this package updates definitions to 3 only from 2",
    );
    assert_same(&before, &snapshot(&r.w.machine()));
    assert_code(&r.w.run(&pkg, &["--check"]), 1);

    for (what, change) in [
        (
            "edited",
            Box::new(|d: &Path| fs::write(d.join("main.db"), b"x").expect("w"))
                as Box<dyn Fn(&Path)>,
        ),
        (
            "extra file",
            Box::new(|d: &Path| fs::write(d.join("extra"), b"x").expect("w")),
        ),
        (
            "missing file",
            Box::new(|d: &Path| fs::remove_file(d.join("same.db")).expect("rm")),
        ),
        (
            "mode",
            Box::new(|d: &Path| set_mode(&d.join("tool"), 0o644)),
        ),
    ] {
        r.machine_at("2", &r.v2);
        change(&r.w.machine().join("acme/defs"));
        let before = snapshot(&r.w.machine());
        let o = r.w.run(&pkg, &[]);
        assert_code(&o, 11);
        assert!(
            stderr(&o).contains("definitions 2 is installed but its files were changed locally"),
            "{what}: {}",
            stderr(&o)
        );
        // Issue 20: what to do is said too.
        assert!(
            stderr(&o)
                .contains("hint: a package with full content, or a delta from what is installed"),
            "{what}: {}",
            stderr(&o)
        );
        assert_same(&before, &snapshot(&r.w.machine()));
    }
}

#[test]
fn requires_orders_engine_before_definitions() {
    let r = releases();
    let engine1 = r.w.release("engine-1", &[("bin/scan", b"engine 1", true)]);
    r.w.release("engine-2", &[("bin/scan", b"engine 2", true)]);
    // Definitions are listed first but need the new engine: the engine goes first.
    let spec = r.w.spec(
        "both",
        "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n\
         [[components]]\nname = \"definitions\"\nversion = \"3\"\ncontent = \"../releases/defs-3\"\nfull = false\nrequires = { engine = \">=2\" }\n\
         [[components.deltas]]\nversion = \"2\"\ncontent = \"../releases/defs-2\"\n\
         [[components]]\nname = \"engine\"\nversion = \"2\"\ncontent = \"../releases/engine-2\"\n",
    );
    let pkg = r.w.package(&spec, &r.key, "both");
    let _ = fs::remove_dir_all(r.w.machine());
    r.w.install_inventory(
        &[&r.pubkey],
        &[
            ("definitions", Some("2"), "acme/defs"),
            ("engine", Some("1"), "acme/engine"),
        ],
    );
    r.w.install_tree(&r.v2, "acme/defs");
    r.w.install_tree(&engine1, "acme/engine");
    let o = r.w.run(&pkg, &[]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("installed engine 2, definitions 3"),
        "{}",
        stdout(&o)
    );
    assert_tree_eq(&r.w.machine().join("acme/defs"), &r.v3);
}

#[test]
fn verify_and_inspect_cover_deltas() {
    let r = releases();
    let pkg = package_with(
        &r,
        &r.spec("cumulative", true, &[1, 2]),
        "cumulative",
        "file",
    );
    let o = iupack()
        .arg("verify")
        .arg(&pkg)
        .arg("--pubkey")
        .arg(r.key.with_extension("pub"))
        .output()
        .expect("run");
    assert_code(&o, 0);
    let o = iupack()
        .args(["inspect", "--json"])
        .arg(&pkg)
        .output()
        .expect("run");
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let deltas = &v["manifest"]["components"][0]["deltas"];
    assert_eq!(deltas[0]["from"], "1");
    assert_eq!(deltas[1]["from"], "2");
    assert_eq!(deltas[0]["codec"], "zstd-prefix");
    let ops: Vec<(String, String)> = deltas[0]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("p").to_string(),
                f["op"].as_str().expect("op").to_string(),
            )
        })
        .collect();
    for (path, op) in [
        ("gone.txt", "remove"),
        ("main.db", "patch"),
        ("new/added.db", "add"),
        ("tool", "patch"),
    ] {
        assert!(
            ops.contains(&(path.to_string(), op.to_string())),
            "{path} {op} not in {ops:?}"
        );
    }
    assert!(
        !ops.iter().any(|(p, _)| p == "same.db"),
        "unchanged files are not listed"
    );
}

#[test]
fn a_100_mb_file_round_trips_through_a_delta() {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let old = noise(42, 100 << 20);
    let new = edited(&old, 43);
    let v1 = w.release("big-1", &[("huge.bin", &old, false)]);
    let v2 = w.release("big-2", &[("huge.bin", &new, false)]);
    drop((old, new));
    let spec = w.spec(
        "big",
        "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n[[components]]\nname = \"definitions\"\nversion = \"2\"\ncontent = \"../releases/big-2\"\nfull = false\n[[components.deltas]]\nversion = \"1\"\ncontent = \"../releases/big-1\"\n",
    );
    let (o, pkg) = w.build_with(&spec, &key, "big", &["--delta-level", "3"]);
    assert_code(&o, 0);
    let payload =
        fs::metadata(&pkg).expect("pkg").len() - fs::metadata(stub_path()).expect("stub").len();
    assert!(payload < 200_000, "payload {payload}");
    w.install_inventory(&[&pubkey], &[("definitions", Some("1"), "acme/defs")]);
    w.install_tree(&v1, "acme/defs");
    assert_code(&w.run(&pkg, &[]), 0);
    assert_tree_eq(&w.machine().join("acme/defs"), &v2);
}

/// Flips one byte of the ZIP entry `name` in a copy of `pkg` (found by its local header).
fn flip_in_entry(w: &World, pkg: &Path, name: &str, out: &str) -> PathBuf {
    let mut bytes = fs::read(pkg).expect("package");
    let at = entry_data(&bytes, name);
    bytes[at + 5] ^= 0x20;
    let p = w.path(&format!("packages/{out}.run"));
    fs::write(&p, &bytes).expect("write");
    set_mode(&p, 0o755);
    p
}

#[test]
fn a_tampered_patch_is_refused_with_21_and_changes_nothing() {
    let r = releases();
    for (codec, path) in [("tree", None), ("file", Some("main.db"))] {
        let spec = r.spec(&format!("t-{codec}"), false, &[2]);
        let pkg = package_with(&r, &spec, &format!("t-{codec}"), codec);
        let entry = delta_entry(&pkg, "definitions", path);
        let bad = flip_in_entry(&r.w, &pkg, &entry, &format!("bad-{codec}"));
        r.machine_at("2", &r.v2);
        let before = snapshot(&r.w.machine());
        let o = r.w.run(&bad, &[]);
        assert_code(&o, 21);
        assert_same(&before, &snapshot(&r.w.machine()));
        if codec == "tree" {
            // The whole-tree patch is covered by the signed manifest: --verify finds it too.
            assert_code(&r.w.run(&bad, &["--verify"]), 21);
        }
    }
}

#[test]
fn a_signed_tree_patch_that_rebuilds_another_tree_is_refused() {
    use iupack_stub::format::manifest::Manifest;
    use iupack_stub::format::package::{Expect, Package};
    use iupack_stub::format::write::{
        encode_patch, scan_dir, sign, write_package, PackageEntry, Payload, Store,
    };
    // A compromised build machine signs a correct-looking tree delta whose stream writes a file
    // the signed tree does not have. The stub must refuse before anything is swapped.
    let r = releases();
    let good = package_with(&r, &r.spec("good", false, &[2]), "good", "tree");
    let p = Package::open(&good, Expect::Package)
        .expect("open")
        .expect("package");
    let mut m = Manifest::parse(p.manifest_bytes()).expect("manifest");
    let base = iupack_stub::format::codecs::treestream::serialise(&scan_dir(&r.v2).expect("scan"))
        .expect("stream");
    let evil_stream = b"evil.sh\t755\t5\n\nboom!".to_vec();
    let patch = encode_patch(&base, &evil_stream, 3).expect("encode");
    let d = &mut m.components[0].deltas[0];
    d.patch_size = Some(patch.len() as u64);
    d.patch_sha256 = Some(iupack_stub::format::digest::sha256_hex(&patch));
    d.stream_size = Some(evil_stream.len() as u64);
    let manifest = m.to_json();
    let sk = minisign_key(&r.key);
    let comment = format!("iupack product=acme-av id={} version=3", m.package.id);
    let sig = sign(&sk, None, &manifest[..], &comment, "evil").expect("sign");
    let evil = r.w.path("packages/evil.run");
    let entries = vec![PackageEntry {
        name: m.components[0].tree_delta_entry_name(&m.components[0].deltas[0]),
        size: patch.len() as u64,
        payload: Payload::Bytes(patch),
        mode: 0o644,
        store: Store::Stored,
    }];
    write_package(
        fs::File::create(&evil).expect("create"),
        &fs::read(stub_path()).expect("stub"),
        &manifest,
        &sig,
        &entries,
        0,
    )
    .expect("write");
    set_mode(&evil, 0o755);
    r.machine_at("2", &r.v2);
    let before = snapshot(&r.w.machine());
    let o = r.w.run(&evil, &[]);
    assert_err(&o, 21, "did not rebuild the signed tree");
    assert_same(&before, &snapshot(&r.w.machine()));
}

/// The secret key of a test key pair (written unencrypted by `iupack keygen --no-password`).
fn minisign_key(path: &Path) -> minisign::SecretKey {
    let text = fs::read_to_string(path).expect("key");
    minisign::SecretKey::from_unencrypted_box(
        minisign::SecretKeyBox::from_string(&text).expect("box"),
    )
    .expect("key")
}

#[test]
fn a_program_like_change_gets_a_bsdiff_patch_that_round_trips() {
    // A table of addresses where everything after an insertion point moved by 64 bytes, as code
    // does between two builds: few exact matches, many near ones.
    let table = |shift_from: u32, shift: u32| -> Vec<u8> {
        (0..100_000u32)
            .flat_map(|i| {
                let a = 0x40_0000 + i * 24 + (i % 7) * 3;
                let a = if i >= shift_from { a + shift } else { a };
                [a.to_le_bytes(), (i ^ 0x5a5a).to_le_bytes()].concat()
            })
            .collect()
    };
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let v1 = w.release("bin-1", &[("bin/scan", &table(u32::MAX, 0), true)]);
    let v2 = w.release("bin-2", &[("bin/scan", &table(1_000, 64), true)]);
    let spec = w.spec(
        "bin",
        "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n[[components]]\nname = \"engine\"\nversion = \"2\"\ncontent = \"../releases/bin-2\"\nfull = false\n[[components.deltas]]\nversion = \"1\"\ncontent = \"../releases/bin-1\"\n",
    );
    let (o, pkg) = w.build_with(&spec, &key, "bin", &["--delta-codec", "file"]);
    assert_code(&o, 0);
    let o = iupack()
        .args(["inspect", "--json"])
        .arg(&pkg)
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let f = &v["manifest"]["components"][0]["deltas"][0]["files"][0];
    assert_eq!(f["codec"], "bsdiff-lzma", "{f}");
    w.install_inventory(&[&pubkey], &[("engine", Some("1"), "acme/engine")]);
    w.install_tree(&v1, "acme/engine");
    assert_code(&w.run(&pkg, &[]), 0);
    assert_tree_eq(&w.machine().join("acme/engine"), &v2);
}
