//! The delta cache (issue 21, item 5): a patch (or full archive) made once for the same releases
//! is reused by
//! `build --store`, `publish` and `plan` (and spec builds given `--delta-cache DIR`); each entry
//! is checked before use, and a damaged one (bytes flipped, cut short, or a well-formed entry
//! whose patch decodes to other bytes) is made again, so the package shipped carries what a
//! build without a cache makes. `--no-delta-cache` writes nothing.

use iupack_stub::format::patch_cache::Encoding;
use iupack_tests::*;
use iupack_tests::{iupack_at_fixed_time as iupack, store_defs as defs, store_engine as engine};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A store with releases 1 and 2 of engine (3.7.N) and definitions (2026.11.2N).
fn store(w: &World) -> PathBuf {
    let store = w.path("store");
    for n in 1..=2 {
        let e = w.release_owned(&format!("engine-{n}"), &engine(n));
        let d = w.release_owned(&format!("defs-{n}"), &defs(n));
        for (c, v, content) in [
            ("engine", format!("3.7.{n}"), e),
            ("definitions", format!("2026.11.2{n}"), d),
        ] {
            let o = output(
                iupack()
                    .arg("add")
                    .arg(&store)
                    .args(["acme-av", c, &v])
                    .arg(content),
            );
            assert_code(&o, 0);
        }
    }
    store
}

/// `build --store STORE --product acme-av --json` into packages/NAME.run: its summary, stderr.
fn build(
    w: &World,
    store: &Path,
    key: &Path,
    name: &str,
    extra: &[&str],
) -> (serde_json::Value, String) {
    let out = w.path(&format!("packages/{name}.run"));
    fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let o = output(
        iupack()
            .arg("build")
            .arg("--store")
            .arg(store)
            .args(["--product", "acme-av", "--json", "--key"])
            .arg(key)
            .arg("--out")
            .arg(&out)
            .arg("--stub")
            .arg(stub_path())
            .args(extra),
    );
    assert_code(&o, 0);
    (serde_json::from_str(&stdout(&o)).expect("JSON"), stderr(&o))
}

/// A package's signed manifest: it names every entry with its size and SHA-256, so two
/// packages with the same manifest that both verify carry the same bytes (the signatures
/// differ: minisign signs with fresh noise each time).
fn manifest(pkg: &Path) -> Vec<u8> {
    use iupack_stub::format::package::{Expect, Package};
    Package::open(pkg, Expect::Package)
        .expect("open")
        .expect("a package")
        .manifest_bytes()
        .to_vec()
}

fn count(summary: &serde_json::Value, what: &str) -> u64 {
    summary["delta_cache"][what].as_u64().expect("a count")
}

fn entries(dir: &Path) -> Vec<String> {
    names_in(dir)
        .into_iter()
        .filter(|n| n.len() == 64)
        .collect()
}

/// A machine with release 1 of both components; applying `pkg` must bring it to release 2,
/// byte-identical.
fn applies_to_release_1(w: &World, pubkey: &str, pkg: &Path) {
    let m = World::new();
    m.install_inventory(
        &[pubkey],
        &[
            ("engine", Some("3.7.1"), "acme/engine"),
            ("definitions", Some("2026.11.21"), "acme/defs"),
        ],
    );
    m.install_tree(&w.path("releases/engine-1"), "acme/engine");
    m.install_tree(&w.path("releases/defs-1"), "acme/defs");
    assert_code(&m.run(pkg, &[]), 0);
    assert_tree_eq(
        &m.machine().join("acme/engine"),
        &w.path("releases/engine-2"),
    );
    assert_tree_eq(&m.machine().join("acme/defs"), &w.path("releases/defs-2"));
}

#[test]
fn a_second_build_and_publish_reuse_the_stores_cache_and_ship_the_same_package() {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let store = store(&w);
    let cache = store.join(".delta-cache");
    let (cold, _) = build(&w, &store, &key, "cold", &[]);
    assert_eq!(cold["delta_cache"]["dir"], cache.display().to_string());
    let made = count(&cold, "made");
    assert!(made > 0 && count(&cold, "reused") == 0, "{cold}");
    assert_eq!(entries(&cache).len() as u64, made);
    let (warm, err) = build(&w, &store, &key, "warm", &[]);
    assert_eq!(
        (
            count(&warm, "reused"),
            count(&warm, "made"),
            count(&warm, "damaged")
        ),
        (made, 0, 0),
        "{warm}"
    );
    assert!(!err.contains("warning"), "{err}");
    // The same package, byte for byte, as the build that made every patch.
    assert!(
        manifest(&w.path("packages/warm.run")) == manifest(&w.path("packages/cold.run")),
        "the warm build's package differs from the cold one's"
    );
    applies_to_release_1(&w, &pubkey, &w.path("packages/warm.run"));
    // publish takes the same patches (its delta packages carry one component each), and the
    // store still sees only its product.
    let o = output(
        iupack()
            .arg("publish")
            .arg(&store)
            .arg(w.path("share"))
            .args(["--json", "--key"])
            .arg(&key)
            .arg("--stub")
            .arg(stub_path())
            // The build above carried no client tool: neither does this (the default takes
            // the shipped one when target/stubs/ has it).
            .arg("--no-client"),
    );
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    // One full package (it takes the full archives the build made), one delta package per
    // component, all bare, and the full package once more self-extracting: nothing is made again.
    let packages = v["packages"].as_array().expect("packages");
    assert_eq!(packages.len(), 4, "{v}");
    for p in packages {
        let b = &p["built"];
        assert!(count(b, "reused") > 0 && count(b, "made") == 0, "{b}");
    }
    assert_eq!(names_in(&store), [".delta-cache", "acme-av"]);
}

/// Rewrites the entry file at `path` to hold `payload` with a correct header: a well-formed
/// entry, as a writer with a bug (or someone with write access to the store) could leave.
fn write_entry(path: &Path, payload: &[u8]) {
    let sha = iupack_stub::format::digest::sha256_hex(payload);
    let mut bytes = format!("iupack-delta-cache-entry 1 {sha} {}\n", payload.len()).into_bytes();
    bytes.extend_from_slice(payload);
    fs::write(path, bytes).expect("write entry");
}

#[test]
fn a_damaged_entry_is_made_again_and_the_package_is_still_right() {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let store = store(&w);
    let cache = store.join(".delta-cache");
    let (cold, _) = build(&w, &store, &key, "cold", &[]);
    let cold_manifest = manifest(&w.path("packages/cold.run"));
    // The zstd patch of lib/core.tbl (release 1 -> 2, level 22): its key as the write side
    // makes it, to plant a patch that decodes cleanly, to other bytes.
    let (old, new) = (&engine(1)[1].1, &engine(2)[1].1);
    let sha = iupack_stub::format::digest::sha256_hex;
    let (old_sha, new_sha) = (sha(old), sha(new));
    let key_of_core = Encoding::ZstdPrefix {
        old: &old_sha,
        new: &new_sha,
        level: 22,
    }
    .key(old.len(), new.len());
    let core_entry = cache.join(&key_of_core);
    assert!(core_entry.is_file(), "the cold build kept {key_of_core}");
    let mut other = new.clone();
    other[0] ^= 0xFF;
    let wrong = iupack_stub::format::write::encode_patch(old, &other, 22).expect("encode");
    let kinds = [
        "a flipped byte",
        "cut short",
        "a well-formed patch of other bytes",
    ];
    for (i, what) in kinds.iter().enumerate() {
        let good = fs::read(&core_entry).expect("read");
        match i {
            0 => {
                let mut b = good;
                let last = b.len() - 1;
                b[last] ^= 0x01;
                fs::write(&core_entry, b).expect("write");
            }
            1 => fs::write(&core_entry, &good[..good.len() / 2]).expect("write"),
            _ => write_entry(&core_entry, &wrong),
        }
        let name = format!("after-{i}");
        let (warm, err) = build(&w, &store, &key, &name, &[]);
        assert_eq!(count(&warm, "damaged"), 1, "{what}: {warm}");
        assert_eq!(count(&warm, "made"), 1, "{what}: {warm}");
        assert_eq!(count(&warm, "reused"), count(&cold, "made") - 1, "{what}");
        assert_eq!(err.matches("damaged entr").count(), 1, "{what}: {err}");
        let pkg = w.path(&format!("packages/{name}.run"));
        assert!(
            manifest(&pkg) == cold_manifest,
            "{what}: the package differs from the one built without the damage"
        );
        // The entry was made again: the next build reuses everything.
        assert!(core_entry.is_file(), "{what}");
        applies_to_release_1(&w, &pubkey, &pkg);
    }
    // A full archive is proven too: the engine's and the definitions' archives swapped (each a
    // sound entry, each the wrong content for its key) are both made again.
    let archive_key = |release: &str| {
        let files = iupack_stub::format::write::scan_dir(&w.path(release)).expect("scan");
        let entries: Vec<_> = files.iter().map(|f| f.entry()).collect();
        iupack_stub::format::patch_cache::archive_key("tar.zst", &entries, Some(1795478400))
    };
    let (engine_entry, defs_entry) = (
        cache.join(archive_key("releases/engine-2")),
        cache.join(archive_key("releases/defs-2")),
    );
    let (e, d) = (
        fs::read(&engine_entry).expect("the engine's archive is kept"),
        fs::read(&defs_entry).expect("the definitions' archive is kept"),
    );
    fs::write(&engine_entry, d).expect("write");
    fs::write(&defs_entry, e).expect("write");
    let (swapped, _) = build(&w, &store, &key, "swapped", &[]);
    assert_eq!(
        (count(&swapped, "damaged"), count(&swapped, "made")),
        (2, 2),
        "{swapped}"
    );
    assert!(manifest(&w.path("packages/swapped.run")) == cold_manifest);
    let (again, _) = build(&w, &store, &key, "again", &[]);
    assert_eq!(count(&again, "reused"), count(&cold, "made"));
}

#[test]
fn no_delta_cache_writes_nothing_and_a_spec_build_uses_only_the_folder_it_is_given() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    let store = store(&w);
    let (s, _) = build(&w, &store, &key, "none", &["--no-delta-cache"]);
    assert!(s["delta_cache"].is_null(), "{s}");
    assert!(!store.join(".delta-cache").exists());
    // A spec build has no cache unless given one; given one, the second build reuses it.
    let spec = w.spec(
        "d",
        "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n[[components]]\nname = \"engine\"\nversion = \"3.7.2\"\ncontent = \"../releases/engine-2\"\nfull = false\n[[components.deltas]]\nversion = \"3.7.1\"\ncontent = \"../releases/engine-1\"\n",
    );
    let dir = w.path("my-cache");
    let spec_build = |name: &str, extra: &[&str]| {
        let (o, _) = w.build_with(&spec, &key, name, &[&["--json"], extra].concat());
        assert_code(&o, 0);
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).expect("JSON")
    };
    let plain = spec_build("plain", &[]);
    assert!(plain["delta_cache"].is_null(), "{plain}");
    let d = dir.to_str().expect("utf8");
    let first = spec_build("first", &["--delta-cache", d]);
    let second = spec_build("second", &["--delta-cache", d]);
    assert!(count(&first, "made") > 0);
    assert_eq!(count(&second, "reused"), count(&first, "made"));
    assert!(!store.join(".delta-cache").exists() && !w.path("specs/.delta-cache").exists());
    // Both flags at once are refused, and nothing is written.
    let (o, out) = w.build_with(
        &spec,
        &key,
        "both",
        &["--delta-cache", d, "--no-delta-cache"],
    );
    assert_err(&o, 2, "cannot be used with");
    assert!(!out.exists());
}

#[test]
fn entries_unused_for_30_days_go_at_the_end_of_a_build_and_used_ones_stay() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    let store = store(&w);
    let cache = store.join(".delta-cache");
    build(&w, &store, &key, "cold", &[]);
    let used = entries(&cache);
    let month_ago = SystemTime::now() - Duration::from_secs(31 * 86_400);
    let age = |p: &Path, t: SystemTime| {
        fs::File::options()
            .write(true)
            .open(p)
            .expect("open")
            .set_modified(t)
            .expect("set mtime");
    };
    // An entry of releases no build asks for any more, a temp file of a killed build, a file
    // that is not the cache's; and every used entry made to look a month old.
    let unused = cache.join("ab".repeat(32));
    write_entry(&unused, b"an old patch");
    let temp = cache.join(".tmp-killed");
    fs::write(&temp, b"half").expect("write");
    let foreign = cache.join("README");
    fs::write(&foreign, b"not an entry").expect("write");
    for p in [&unused, &temp, &foreign] {
        age(p, month_ago);
    }
    for e in &used {
        age(&cache.join(e), month_ago);
    }
    let (warm, _) = build(&w, &store, &key, "warm", &[]);
    assert_eq!(count(&warm, "reused") as usize, used.len());
    assert!(
        !unused.exists() && !temp.exists(),
        "old entries are removed"
    );
    assert!(
        foreign.exists(),
        "a file that is not an entry is left alone"
    );
    // Used entries were touched: another 30 days.
    assert_eq!(entries(&cache), used);
    for e in &used {
        let m = fs::metadata(cache.join(e))
            .expect("meta")
            .modified()
            .expect("mtime");
        assert!(
            m > month_ago + Duration::from_secs(86_400),
            "{e} was touched"
        );
    }
}
