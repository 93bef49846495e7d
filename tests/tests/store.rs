//! The release store (issue 9): `iupack add` imports vendor drops, `iupack build --store` builds
//! the newest releases with deltas from earlier ones without a spec, `iupack prune` keeps the
//! newest N. Packages built from the store bring machines at any stored version current,
//! byte-identical to the newest release.

use iupack_tests::*;
use std::fs;
use std::path::{Path, PathBuf};

fn engine(n: u8) -> Vec<(String, Vec<u8>, bool)> {
    let mut core = noise(2, 60_000);
    core[usize::from(n) * 100..usize::from(n) * 100 + 50].fill(n);
    vec![
        (
            "bin/scan".into(),
            format!("#!/bin/sh\necho 3.7.{n}\n").into_bytes(),
            true,
        ),
        ("lib/core.tbl".into(), core, false),
    ]
}

fn defs(n: u8) -> Vec<(String, Vec<u8>, bool)> {
    let mut main = noise(1, 300_000);
    main[usize::from(n) * 1000..usize::from(n) * 1000 + 500].fill(n);
    vec![
        ("main.avdb".into(), main, false),
        (format!("daily/{n}.avdb"), vec![n; 100], false),
    ]
}

fn write_release(w: &World, name: &str, files: &[(String, Vec<u8>, bool)]) -> PathBuf {
    let refs: Vec<(&str, &[u8], bool)> = files
        .iter()
        .map(|(p, d, x)| (p.as_str(), d.as_slice(), *x))
        .collect();
    w.release(name, &refs)
}

fn add(store: &Path, component: &str, version: &str, content: &Path) -> std::process::Output {
    output(
        iupack()
            .arg("add")
            .arg(store)
            .args(["acme-av", component, version])
            .arg(content),
    )
}

fn build_from_store(w: &World, store: &Path, key: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = w.path(&format!("packages/{name}.run"));
    fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let o = output(
        iupack()
            .arg("build")
            .arg("--store")
            .arg(store)
            .args(["--product", "acme-av", "--key"])
            .arg(key)
            .arg("--out")
            .arg(&out)
            .arg("--stub")
            .arg(stub_path())
            .args(extra),
    );
    assert_code(&o, 0);
    out
}

fn inspect(pkg: &Path) -> serde_json::Value {
    let o = output(iupack().arg("inspect").arg("--json").arg(pkg));
    assert_code(&o, 0);
    serde_json::from_str(&stdout(&o)).expect("JSON")
}

#[test]
fn add_build_from_store_and_prune() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let store = w.path("store");
    for n in 1..=4u8 {
        let e = write_release(&w, &format!("engine-{n}"), &engine(n));
        let d = write_release(&w, &format!("defs-{n}"), &defs(n));
        assert_code(&add(&store, "engine", &format!("3.7.{n}"), &e), 0);
        assert_code(&add(&store, "definitions", &format!("2026.11.2{n}"), &d), 0);
    }
    // Stored releases are byte-identical to the drops, exec bits included.
    assert_tree_eq(
        &store.join("acme-av/engine/3.7.2"),
        &w.path("releases/engine-2"),
    );
    // The same drop again is a no-op; other content under a stored version is refused.
    let before = snapshot(&store);
    let o = add(&store, "engine", "3.7.2", &w.path("releases/engine-2"));
    assert_code(&o, 0);
    assert!(stdout(&o).contains("already in"), "{}", stdout(&o));
    assert_err(
        &add(&store, "engine", "3.7.2", &w.path("releases/engine-3")),
        2,
        "already holds acme-av engine 3.7.2 with other content",
    );
    assert_err(
        &add(&store, "engine", "three", &w.path("releases/engine-3")),
        2,
        "is not a version",
    );
    assert_same(&before, &snapshot(&store));

    // The admin says what the definitions need in product.toml.
    let pf = store.join("acme-av/product.toml");
    let text = fs::read_to_string(&pf).expect("product.toml");
    fs::write(
        &pf,
        format!("{text}\n[components.definitions]\nrequires = {{ engine = \">=3.7.4\" }}\n"),
    )
    .expect("write");

    // Newest releases, deltas from the two before.
    let pkg = build_from_store(&w, &store, &key, "latest", &["--deltas", "2"]);
    let m = &inspect(&pkg)["manifest"];
    let comps = m["components"].as_array().expect("components");
    let find = |name: &str| {
        comps
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    let (e, d) = (find("engine"), find("definitions"));
    assert_eq!(e["version"], "3.7.4");
    assert_eq!(d["version"], "2026.11.24");
    assert_eq!(d["requires"]["engine"], ">=3.7.4");
    let froms: Vec<&str> = e["deltas"]
        .as_array()
        .expect("deltas")
        .iter()
        .map(|d| d["from"].as_str().expect("from"))
        .collect();
    assert_eq!(froms, ["3.7.3", "3.7.2"]);

    // Machines at 3, 2 and 1: delta, delta, full; all end byte-identical to release 4.
    for (n, route) in [
        (3u8, "delta from 3.7.3"),
        (2, "delta from 3.7.2"),
        (1, "full"),
    ] {
        let m = World::new();
        m.install_inventory(
            &[&pubkey],
            &[
                ("engine", Some(&format!("3.7.{n}")), "acme/engine"),
                ("definitions", Some(&format!("2026.11.2{n}")), "acme/defs"),
            ],
        );
        m.install_tree(&w.path(&format!("releases/engine-{n}")), "acme/engine");
        m.install_tree(&w.path(&format!("releases/defs-{n}")), "acme/defs");
        let o = m.run(&pkg, &["--json"]);
        assert_code(&o, 0);
        let r: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
        let engine_route = r["components"]
            .as_array()
            .expect("components")
            .iter()
            .find(|c| c["name"] == "engine")
            .map(|c| c["route"].clone());
        assert_eq!(engine_route, Some(route.into()), "machine at {n}");
        assert_tree_eq(
            &m.machine().join("acme/engine"),
            &w.path("releases/engine-4"),
        );
        assert_tree_eq(&m.machine().join("acme/defs"), &w.path("releases/defs-4"));
    }

    // Deltas only: a machine further back than the deltas reach is refused, unchanged.
    let thin = build_from_store(&w, &store, &key, "thin", &["--deltas", "1", "--no-full"]);
    let m = World::new();
    m.install_inventory(&[&pubkey], &[("engine", Some("3.7.1"), "acme/engine")]);
    m.install_tree(&w.path("releases/engine-1"), "acme/engine");
    let before = snapshot(&m.machine());
    assert_code(&m.run(&thin, &[]), 11);
    assert_same(&before, &snapshot(&m.machine()));

    // Prune keeps the newest two of each component; later builds carry deltas only from those.
    let o = output(
        iupack()
            .arg("prune")
            .arg(&store)
            .args(["--keep", "2", "--dry-run"]),
    );
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("4 release(s) would be removed"),
        "{}",
        stdout(&o)
    );
    assert!(store.join("acme-av/engine/3.7.1").is_dir());
    let o = output(iupack().arg("prune").arg(&store).args(["--keep", "2"]));
    assert_code(&o, 0);
    let left = |c: &str| {
        let mut v: Vec<String> = fs::read_dir(store.join("acme-av").join(c))
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(left("engine"), ["3.7.3", "3.7.4"]);
    assert_eq!(left("definitions"), ["2026.11.23", "2026.11.24"]);
    let pkg = build_from_store(&w, &store, &key, "after-prune", &[]);
    let m = &inspect(&pkg)["manifest"];
    for c in m["components"].as_array().expect("components") {
        assert_eq!(c["deltas"].as_array().map(Vec::len), Some(1), "{c}");
    }

    // A product the store doesn't have, and a spec together with --store, are usage errors.
    let o = output(
        iupack()
            .arg("build")
            .arg("--store")
            .arg(&store)
            .args(["--product", "nope", "--key"])
            .arg(&key)
            .arg("--out")
            .arg(w.path("packages/nope.run")),
    );
    assert_err(&o, 2, "is nope in this store?");
}
