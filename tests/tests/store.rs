//! The release store (issue 9): `iupack add` imports vendor drops, `iupack build --store` builds
//! the newest releases with deltas from earlier ones without a spec, `iupack prune` keeps the
//! newest N. Packages built from the store bring machines at any stored version current,
//! byte-identical to the newest release.

use iupack_tests::*;
use iupack_tests::{iupack_at_fixed_time as iupack, store_defs as defs, store_engine as engine};
use std::fs;
use std::path::{Path, PathBuf};

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
        let e = w.release_owned(&format!("engine-{n}"), &engine(n));
        let d = w.release_owned(&format!("defs-{n}"), &defs(n));
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
        assert_eq!(installed_routes(&r, "engine"), [route], "machine at {n}");
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

/// A store with releases 1 to 4 of engine and definitions.
fn store_with_releases(w: &World) -> PathBuf {
    store_up_to(w, 4)
}

/// A store with releases 1 to `last` of engine and definitions.
fn store_up_to(w: &World, last: u8) -> PathBuf {
    let store = w.path("store");
    for n in 1..=last {
        let e = w.release_owned(&format!("engine-{n}"), &engine(n));
        let d = w.release_owned(&format!("defs-{n}"), &defs(n));
        assert_code(&add(&store, "engine", &format!("3.7.{n}"), &e), 0);
        assert_code(&add(&store, "definitions", &format!("2026.11.2{n}"), &d), 0);
    }
    store
}

/// A machine with engine and definitions of release `n`.
fn machine_at(w: &World, pubkey: &str, n: u8) -> World {
    let m = World::new();
    m.install_inventory(
        &[pubkey],
        &[
            ("engine", Some(&format!("3.7.{n}")), "acme/engine"),
            ("definitions", Some(&format!("2026.11.2{n}")), "acme/defs"),
        ],
    );
    m.install_tree(&w.path(&format!("releases/engine-{n}")), "acme/engine");
    m.install_tree(&w.path(&format!("releases/defs-{n}")), "acme/defs");
    m
}

fn client(m: &World, args: &[&str]) -> std::process::Output {
    output(
        std::process::Command::new(stub_path())
            .args(args)
            .arg("--inventory")
            .arg(m.inventory_path()),
    )
}

/// `apply --from SHARE --json` on machine `m`, which must succeed: its report.
fn apply_from(m: &World, share: &Path) -> serde_json::Value {
    let o = client(
        m,
        &["apply", "--from", share.to_str().expect("utf8"), "--json"],
    );
    assert_code(&o, 0);
    serde_json::from_str(&stdout(&o)).expect("JSON")
}

/// The routes by which a run's report says `component` was installed, in order.
fn installed_routes(report: &serde_json::Value, component: &str) -> Vec<String> {
    report["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter(|c| c["name"] == component && c["action"] == "installed")
        .map(|c| c["route"].as_str().expect("route").to_string())
        .collect()
}

fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.metadata().expect("meta").len())
        .sum()
}

#[test]
fn exported_inventories_plan_a_share_that_brings_three_machines_current() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let store = store_with_releases(&w);
    // Three machines: at release 1, at release 3, and at release 2 with a locally changed engine
    // file (no delta can apply to it: it needs the engine's full content).
    let machines = [
        machine_at(&w, &pubkey, 1),
        machine_at(&w, &pubkey, 3),
        machine_at(&w, &pubkey, 2),
    ];
    fs::write(
        machines[2].machine().join("acme/engine/lib/core.tbl"),
        b"patched by hand",
    )
    .expect("write");

    // The air-gapped side: each machine exports what it has (no keys, no paths).
    let mut exports = Vec::new();
    for (i, m) in machines.iter().enumerate() {
        let file = w.path(&format!("exports/m{i}.json"));
        fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        let o = client(m, &["status", "--export", file.to_str().expect("utf8")]);
        assert_code(&o, 0);
        let text = fs::read_to_string(&file).expect("export");
        assert!(
            !text.contains(&pubkey) && !text.contains("acme/engine"),
            "{text}"
        );
        exports.push(file);
    }

    // The connected side: plan the packages from the exports.
    let share = w.path("share");
    let mut plan = iupack();
    plan.arg("plan");
    for e in &exports {
        plan.arg("--inventory").arg(e);
    }
    plan.arg("--store")
        .arg(&store)
        .arg("--out")
        .arg(&share)
        .arg("--key")
        .arg(&key)
        .arg("--stub")
        .arg(stub_path())
        // The share for exactly these machines (they have the client tool): bare only.
        .arg("--no-self-extracting");
    let o = output(&mut plan);
    assert_code(&o, 0);
    let said = stdout(&o);
    assert!(
        said.contains("engine 3.7.1 -> 3.7.4 (delta from 3.7.1)"),
        "{said}"
    );
    assert!(said.contains("engine 3.7.2 -> 3.7.4 (full)"), "{said}");
    assert!(
        said.contains("definitions 2026.11.23 -> 2026.11.24 (delta from 2026.11.23)"),
        "{said}"
    );

    // Back across the air gap: every machine applies from the share and ends byte-identical to
    // release 4, reading only its own routes.
    for (i, m) in machines.iter().enumerate() {
        let o = client(
            m,
            &["apply", "--from", share.to_str().expect("utf8"), "--list"],
        );
        assert_code(&o, 0);
        let r = apply_from(m, &share);
        assert_eq!(r["result"], "applied", "machine {i}: {r}");
        assert_tree_eq(
            &m.machine().join("acme/engine"),
            &w.path("releases/engine-4"),
        );
        assert_tree_eq(&m.machine().join("acme/defs"), &w.path("releases/defs-4"));
        assert_eq!(m.component("engine")["version"], "3.7.4");
        assert_eq!(m.component("definitions")["version"], "2026.11.24");
        let want_engine = ["delta from 3.7.1", "delta from 3.7.3", "full"][i];
        assert_eq!(installed_routes(&r, "engine"), [want_engine], "machine {i}");
        // Current now: a second run changes nothing.
        let before = snapshot(&m.machine());
        let o = client(m, &["apply", "--from", share.to_str().expect("utf8")]);
        assert_code(&o, 0);
        assert!(stdout(&o).contains("already current"), "{}", stdout(&o));
        assert_same(&before, &snapshot(&m.machine()));
    }

    // What it saved: the planned share against a full package shipped to each machine.
    let full = build_from_store(&w, &store, &key, "full-for-comparison", &["--deltas", "0"]);
    let full_size = fs::metadata(&full).expect("full").len();
    let share_bytes = dir_bytes(&share);
    // The test stub is a 40 MB debug build: compare what follows the stub too.
    let stub_len = fs::metadata(stub_path()).expect("stub").len();
    let packages = fs::read_dir(&share)
        .expect("share")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".run"))
        .count() as u64;
    assert_eq!(packages, 0, "a bare share");
    let (share_payload, full_payload) = (share_bytes - packages * stub_len, full_size - stub_len);
    eprintln!(
        "plan: share {share_bytes} bytes in {packages} package(s) + signatures + index for 3 machines \
         ({share_payload} bytes beside the stub); a full package to each: 3 x {full_size} = {} bytes \
         (3 x {full_payload} = {} beside the stub)",
        3 * full_size,
        3 * full_payload
    );
    assert!(
        share_payload < full_payload,
        "{share_payload} vs {full_payload}"
    );
}

#[test]
fn a_published_share_applies_and_a_tampered_index_or_package_changes_nothing() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let store = store_with_releases(&w);
    let share = w.path("share");
    let o = output(
        iupack()
            .arg("publish")
            .arg(&store)
            .arg(&share)
            .arg("--key")
            .arg(&key)
            .arg("--stub")
            .arg(stub_path())
            .args(["--deltas", "2"]),
    );
    assert_code(&o, 0);
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(share.join("index.json")).expect("index")).expect("JSON");
    let files: Vec<&str> = index["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["file"].as_str().expect("file"))
        .collect();
    // Bare packages for the client tool, and the full content once more self-extracting (last:
    // the client takes the bare one, which reads the same bytes).
    assert_eq!(
        files,
        [
            "acme-av-2026.11.24-full.iup",
            "acme-av-definitions-2026.11.24-deltas.iup",
            "acme-av-engine-3.7.4-deltas.iup",
            "acme-av-2026.11.24-full.run"
        ]
    );
    for f in &files[..3] {
        let b = fs::read(share.join(f)).expect("package");
        assert!(b.starts_with(b"\0)\nexit 1\nPK\x03\x04"), "{f} is bare");
    }
    let run = fs::read(share.join(files[3])).expect("package");
    assert!(
        run.starts_with(&fs::read(stub_path()).expect("stub")),
        "self-extracting"
    );

    // A machine at 3 takes both deltas; one at 1 (older than the deltas reach) takes full.
    for (n, want) in [(3u8, "delta from 3.7.3"), (1, "full")] {
        let m = machine_at(&w, &pubkey, n);
        let r = apply_from(&m, &share);
        assert_eq!(
            installed_routes(&r, "engine"),
            [want],
            "machine at {n}: {r}"
        );
        assert_tree_eq(
            &m.machine().join("acme/engine"),
            &w.path("releases/engine-4"),
        );
        assert_tree_eq(&m.machine().join("acme/defs"), &w.path("releases/defs-4"));
    }

    // An index changed after signing: refused (20), nothing changed. A package swapped on the
    // share: refused (21), nothing changed.
    let m = machine_at(&w, &pubkey, 2);
    let before = snapshot(&m.machine());
    let evil = w.path("evil-share");
    copy_dir(&share, &evil);
    let text = fs::read_to_string(evil.join("index.json")).expect("index");
    fs::write(
        evil.join("index.json"),
        text.replace("\"full\": ", "\"full\":  "),
    )
    .expect("write");
    assert_code(
        &client(&m, &["apply", "--from", evil.to_str().expect("utf8")]),
        20,
    );
    assert_same(&before, &snapshot(&m.machine()));
    fs::write(evil.join("index.json"), text).expect("write");
    let deltas = evil.join("acme-av-engine-3.7.4-deltas.iup");
    let mut bytes = fs::read(&deltas).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    fs::write(&deltas, &bytes).expect("write");
    let o = client(&m, &["apply", "--from", evil.to_str().expect("utf8")]);
    assert_err(&o, 21, "does not match the share's index");
    // What was read is not told (a link could lead to a file others may not read).
    assert!(!stderr(&o).contains("SHA-256"), "{}", stderr(&o));
    assert_same(&before, &snapshot(&m.machine()));
    // A machine that trusts another key refuses the share's index.
    let (_, other) = w.keygen("other");
    let stranger = machine_at(&w, &other, 2);
    assert_code(
        &client(
            &stranger,
            &["apply", "--from", share.to_str().expect("utf8")],
        ),
        20,
    );

    // Publishing again after a prune to one release: the delta packages, their signatures and
    // their SHA256SUMS lines leave the share.
    let o = output(iupack().arg("prune").arg(&store).args(["--keep", "1"]));
    assert_code(&o, 0);
    publish(&store, &share, &key, "2");
    let names = names_in(&share);
    assert_eq!(
        names,
        [
            "SHA256SUMS",
            "acme-av-2026.11.24-full.iup",
            "acme-av-2026.11.24-full.iup.minisig",
            "acme-av-2026.11.24-full.run",
            "acme-av-2026.11.24-full.run.minisig",
            "index.json",
            "index.json.minisig"
        ]
    );
    let sums = fs::read_to_string(share.join("SHA256SUMS")).expect("sums");
    assert_eq!(sums.lines().count(), 2, "{sums}");
    assert!(sums.contains("  acme-av-2026.11.24-full.iup\n"), "{sums}");
    assert!(sums.contains("  acme-av-2026.11.24-full.run\n"), "{sums}");
}

fn publish(store: &Path, share: &Path, key: &Path, deltas: &str) {
    let o = output(
        iupack()
            .arg("publish")
            .arg(store)
            .arg(share)
            .arg("--key")
            .arg(key)
            .arg("--stub")
            .arg(stub_path())
            .args(["--deltas", deltas]),
    );
    assert_code(&o, 0);
}

#[test]
fn a_monthly_full_and_a_daily_delta_bring_a_machine_current_in_two_steps() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    // Last month's share: the full package of release 3.
    let store = store_up_to(&w, 3);
    let monthly = w.path("monthly");
    publish(&store, &monthly, &key, "1");
    // Today's: release 4, with deltas from 3.
    let e = w.release_owned("engine-4", &engine(4));
    let d = w.release_owned("defs-4", &defs(4));
    assert_code(&add(&store, "engine", "3.7.4", &e), 0);
    assert_code(&add(&store, "definitions", "2026.11.24", &d), 0);
    let daily = w.path("daily");
    publish(&store, &daily, &key, "1");

    // The share the site keeps, as Avast's admins did: the monthly full file and the daily
    // delta files, under one index signed by the publisher.
    let share = w.path("share");
    fs::create_dir_all(&share).expect("mkdir");
    let read_index = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(&fs::read(dir.join("index.json")).expect("index")).expect("JSON")
    };
    let mut packages = Vec::new();
    for (dir, keep) in [(&monthly, "-full.iup"), (&daily, "-deltas.iup")] {
        for p in read_index(dir)["packages"].as_array().expect("packages") {
            let file = p["file"].as_str().expect("file");
            if file.ends_with(keep) {
                fs::copy(dir.join(file), share.join(file)).expect("copy");
                packages.push(p.clone());
            }
        }
    }
    sign_index(&share, &key, packages);

    // A machine at release 1 takes the monthly full package, then the daily deltas.
    let m = machine_at(&w, &pubkey, 1);
    let o = client(
        &m,
        &["apply", "--from", share.to_str().expect("utf8"), "--list"],
    );
    assert_code(&o, 0);
    let list = stdout(&o);
    let full_at = list.find("acme-av-2026.11.24-full.iup").expect(&list);
    let delta_at = list
        .find("acme-av-engine-3.7.4-deltas.iup: engine (delta from 3.7.3)")
        .expect(&list);
    assert!(full_at < delta_at, "{list}");
    let r = apply_from(&m, &share);
    assert_eq!(
        installed_routes(&r, "engine"),
        ["full", "delta from 3.7.3"],
        "{r}"
    );
    assert_tree_eq(
        &m.machine().join("acme/engine"),
        &w.path("releases/engine-4"),
    );
    assert_tree_eq(&m.machine().join("acme/defs"), &w.path("releases/defs-4"));
    assert_eq!(m.component("engine")["version"], "3.7.4");
}

/// Writes `index.json` listing `packages` into `share`, signed by `key` as `iupack publish`
/// would: for shares put together by hand.
fn sign_index(share: &Path, key: &Path, packages: Vec<serde_json::Value>) {
    let index = serde_json::json!({
        "format": 1, "created": "2026-11-30T00:00:00Z", "packages": packages,
    });
    let bytes = serde_json::to_vec_pretty(&index).expect("json");
    let text = fs::read_to_string(key).expect("key");
    let sk = minisign::SecretKey::from_unencrypted_box(
        minisign::SecretKeyBox::from_string(&text).expect("box"),
    )
    .expect("key");
    let sig = minisign::sign(
        None,
        &sk,
        &bytes[..],
        Some("iupack-index products=acme-av"),
        Some("put together by hand"),
    )
    .expect("sign");
    fs::write(share.join("index.json"), &bytes).expect("write");
    fs::write(share.join("index.json.minisig"), sig.to_string()).expect("write");
}

#[test]
fn an_index_that_lists_another_products_package_as_this_ones_is_refused() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    // The same publisher's key signs a second product, with a newer "engine".
    let other = w.path("other-store");
    let e = w.release_owned("other-engine", &engine(9));
    let o = output(
        iupack()
            .arg("add")
            .arg(&other)
            .args(["other-av", "engine", "3.7.9"])
            .arg(&e),
    );
    assert_code(&o, 0);
    let share = w.path("share");
    publish(&other, &share, &key, "1");
    let mut packages: Vec<serde_json::Value> = serde_json::from_slice::<serde_json::Value>(
        &fs::read(share.join("index.json")).expect("index"),
    )
    .expect("JSON")["packages"]
        .as_array()
        .expect("packages")
        .clone();
    packages[0]["product"] = "acme-av".into();
    sign_index(&share, &key, packages);

    w.release_owned("engine-1", &engine(1));
    w.release_owned("defs-1", &defs(1));
    let m = machine_at(&w, &pubkey, 1);
    let before = snapshot(&m.machine());
    let o = client(&m, &["apply", "--from", share.to_str().expect("utf8")]);
    assert_err(
        &o,
        21,
        "is a package of other-av, but the share's index lists it for acme-av",
    );
    assert_same(&before, &snapshot(&m.machine()));
}

/// A relative `--store` (as an admin types it, from the folder holding the store) names that
/// store: `build` and `publish` (and `plan`, through the same `Store::spec`) read its releases,
/// never `store/PRODUCT/store/PRODUCT/…` (issue 20: the store's paths were joined onto the
/// product folder a second time).
#[test]
fn a_relative_store_path_builds_and_publishes() {
    let w = World::new();
    let (key, _) = w.keygen("publisher");
    store_up_to(&w, 2);
    let here = w.path("");
    for (i, rel) in ["store", "./store"].iter().enumerate() {
        let out = format!("out/p{i}.run");
        fs::create_dir_all(w.path("out")).expect("mkdir");
        let o = output(
            iupack()
                .current_dir(&here)
                .args(["build", "--store", rel, "--product", "acme-av", "--key"])
                .arg(&key)
                .args(["--out", &out, "--stub"])
                .arg(stub_path()),
        );
        assert_code(&o, 0);
        assert!(w.path(&out).is_file(), "{out}");
        let share = format!("share{i}");
        let o = output(
            iupack()
                .current_dir(&here)
                .args(["publish", rel, &share, "--key"])
                .arg(&key)
                .arg("--stub")
                .arg(stub_path()),
        );
        assert_code(&o, 0);
        assert!(w.path(&share).join("index.json").is_file(), "{share}");
    }
    // A publish that fails leaves no empty share folder of its own making behind (plan makes its
    // folder through the same share::into_folder).
    let o = output(
        iupack()
            .current_dir(&here)
            .args([
                "publish",
                "store",
                "new-share",
                "--key",
                "no-such.key",
                "--stub",
            ])
            .arg(stub_path()),
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(
        !w.path("new-share").exists(),
        "publish left new-share behind"
    );
}

/// `iupack` with `args` (the store, shares and keys are paths in them).
fn run_iupack(args: &[&std::ffi::OsStr]) -> std::process::Output {
    output(iupack().args(args))
}

/// Names the test's paths and words as one argument list.
macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$(std::ffi::OsStr::new(&$a)),*] };
}

fn json_of(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// Issue 20, item 12: a drop added without `--strip-components` (every file under the vendor's
/// top folder) is warned about at `add`, and `iupack remove` takes exactly that release out so
/// it can be added again; a missing release is refused naming the ones there, nothing changed;
/// a share published before the remove still applies (packages are self-contained).
#[test]
fn a_drop_under_one_top_folder_is_warned_about_and_remove_lets_it_be_added_again() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let store = store_up_to(&w, 3);
    let share = w.path("share");
    publish(&store, &share, &key, "1");
    // Release 4 as the vendor ships it: everything under `engine-3.7.4/`.
    let files: Vec<_> = engine(4)
        .into_iter()
        .map(|(p, b, x)| (format!("engine-3.7.4/{p}"), b, x))
        .collect();
    let wrapped = w.release_owned("wrapped", &files);
    let o = add(&store, "engine", "3.7.4", &wrapped);
    assert_code(&o, 0);
    let err = stderr(&o);
    assert!(
        err.starts_with(
            "iupack: warning: every file of this drop is under one folder, `engine-3.7.4/`"
        ),
        "{err}"
    );
    assert!(err.contains("iupack remove "), "{err}");
    assert!(
        err.contains(&wrapped.join("engine-3.7.4").display().to_string()),
        "{err}"
    );
    assert!(store
        .join("acme-av/engine/3.7.4/engine-3.7.4/bin/scan")
        .is_file());
    // The same warning for scripts, in --json; a flat drop gets none.
    let o = output(
        iupack()
            .arg("add")
            .arg(&store)
            .args(["acme-av", "engine", "3.7.4"])
            .arg(&wrapped)
            .arg("--json"),
    );
    assert_code(&o, 0);
    let v = json_of(&o);
    assert_eq!(v["result"], "already-there", "{v}");
    assert!(
        v["warnings"][0]
            .as_str()
            .is_some_and(|s| s.contains("--strip-components") || s.contains("folder inside")),
        "{v}"
    );
    let o = output(
        iupack()
            .arg("add")
            .arg(&store)
            .args(["acme-av", "engine", "3.7.3"])
            .arg(w.path("releases/engine-3"))
            .arg("--json"),
    );
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["warnings"], serde_json::json!([]));
    assert_eq!(stderr(&o), "");

    // Re-adding the right content under 3.7.4 is refused, and the hint names `remove`.
    let before = snapshot(&store);
    let o = add(&store, "engine", "3.7.4", &w.path("releases/engine-3"));
    assert_err(&o, 2, "iupack remove ");
    // A release, component or store that is not there: refused with the ones that are, nothing
    // changed.
    let s = store.as_os_str();
    let o = run_iupack(args!["remove", s, "acme-av", "engine", "3.7.9"]);
    assert_err(
        &o,
        2,
        "the releases of engine here: 3.7.1, 3.7.2, 3.7.3, 3.7.4",
    );
    let o = run_iupack(args!["remove", s, "acme-av", "enigne", "3.7.4"]);
    assert_err(&o, 2, "acme-av's components here: definitions, engine");
    let o = run_iupack(args![
        "remove",
        w.path("no-store"),
        "acme-av",
        "engine",
        "3.7.4"
    ]);
    assert_err(&o, 2, "does not exist");
    let o = run_iupack(args!["remove", s, "acme-av", "engine", "3.7/x"]);
    assert_err(&o, 2, "is not a version");
    // A dry run says what it would remove and removes nothing.
    let o = run_iupack(args![
        "remove",
        s,
        "acme-av",
        "engine",
        "3.7.4",
        "--dry-run",
        "--json"
    ]);
    assert_code(&o, 0);
    let v = json_of(&o);
    assert_eq!(v["result"], "would-remove");
    assert_eq!(v["files"], 2);
    assert_eq!(v["left"], serde_json::json!(["3.7.1", "3.7.2", "3.7.3"]));
    assert_same(&before, &snapshot(&store));

    // Removed: exactly that release, no hidden leftover; the right content adds again.
    let o = run_iupack(args!["remove", s, "acme-av", "engine", "3.7.4"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("removed acme-av engine 3.7.4"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        names_in(&store.join("acme-av/engine")),
        ["3.7.1", "3.7.2", "3.7.3"]
    );
    let e4 = w.release_owned("engine-4", &engine(4));
    let o = add(&store, "engine", "3.7.4", &e4);
    assert_code(&o, 0);
    assert_eq!(stderr(&o), "");
    assert_tree_eq(&store.join("acme-av/engine/3.7.4"), &e4);

    // Removing the release a published share's deltas start from changes nothing published.
    let o = run_iupack(args!["remove", s, "acme-av", "engine", "3.7.2"]);
    assert_code(&o, 0);
    let m = machine_at(&w, &pubkey, 2);
    let r = apply_from(&m, &share);
    assert_eq!(installed_routes(&r, "engine"), ["delta from 3.7.2"], "{r}");
    assert_tree_eq(
        &m.machine().join("acme/engine"),
        &w.path("releases/engine-3"),
    );
    // The last release of a component takes its folder with it.
    for v in ["3.7.1", "3.7.3", "3.7.4"] {
        assert_code(&run_iupack(args!["remove", s, "acme-av", "engine", v]), 0);
    }
    assert!(!store.join("acme-av/engine").exists());
    assert_eq!(
        names_in(&store.join("acme-av")),
        ["definitions", "product.toml"]
    );
}

/// Issue 20, items 12-14: `prune` (and `remove`, `publish`, `plan`, `build --store`) on a store
/// path that does not exist is a usage error with a hint, not an empty success.
#[test]
fn a_missing_store_is_refused_by_every_command_that_reads_one() {
    let w = World::new();
    let (key, _) = w.keygen("publisher");
    let missing = w.path("no-store");
    let export = w.path("export.json");
    fs::write(
        &export,
        r#"{"format": 1, "kind": "iupack-inventory-export", "products": []}"#,
    )
    .expect("write");
    let (share, pkg) = (w.path("share"), w.path("p.run"));
    let (m, k, e) = (missing.as_os_str(), key.as_os_str(), export.as_os_str());
    let (sh, p) = (share.as_os_str(), pkg.as_os_str());
    let cases: [&[&std::ffi::OsStr]; 5] = [
        args!["prune", m, "--keep", "1"],
        args!["prune", m, "--keep", "1", "--json"],
        args!["publish", m, sh, "--key", k],
        args![
            "plan",
            "--inventory",
            e,
            "--store",
            m,
            "--out",
            sh,
            "--key",
            k
        ],
        args![
            "build",
            "--store",
            m,
            "--product",
            "acme-av",
            "--key",
            k,
            "--out",
            p
        ],
    ];
    for args in cases {
        let o = run_iupack(args);
        assert_err(&o, 2, "does not exist");
        assert!(
            stderr(&o).contains("hint: check the store's path"),
            "{}",
            stderr(&o)
        );
        assert!(!share.exists() && !missing.exists(), "{args:?}");
    }
}

fn publish_with(store: &Path, share: &Path, key: &Path, extra: &[&str]) -> std::process::Output {
    output(
        iupack()
            .arg("publish")
            .arg(store)
            .arg(share)
            .arg("--key")
            .arg(key)
            .arg("--stub")
            .arg(stub_path())
            // The same share whether or not target/stubs/ holds a shipped client tool (which the
            // self-extracting full package would carry by default; tests/tests/client_tool.rs
            // publishes one with --client).
            .arg("--no-client")
            .args(extra),
    )
}

fn plan_with(
    exports: &[PathBuf],
    store: &Path,
    out: &Path,
    key: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = iupack();
    cmd.arg("plan");
    for e in exports {
        cmd.arg("--inventory").arg(e);
    }
    cmd.arg("--store")
        .arg(store)
        .arg("--out")
        .arg(out)
        .arg("--key")
        .arg(key)
        .arg("--stub")
        .arg(stub_path())
        .arg("--no-client") // as publish_with
        .args(extra);
    output(&mut cmd)
}

/// Exports machine `m`'s inventory to `name`.json in `w`.
fn export(w: &World, m: &World, name: &str) -> PathBuf {
    let file = w.path(&format!("exports/{name}.json"));
    fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    let o = client(m, &["status", "--export", file.to_str().expect("utf8")]);
    assert_code(&o, 0);
    file
}

/// Issue 20, items 13-14: `publish` and `plan` take `--dry-run` (says the packages, writes
/// nothing) and `--json` (the same packages; with the build's summary of each when built), and
/// stay quiet on stderr in a pipe.
#[test]
fn publish_and_plan_dry_runs_write_nothing_and_json_lists_the_packages() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let store = store_up_to(&w, 3);
    let share = w.path("share");
    let before = snapshot(&w.path(""));
    let o = publish_with(&store, &share, &key, &["--dry-run"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("would write acme-av-engine-3.7.3-deltas.iup: engine 3.7.3 (delta from 3.7.2, delta from 3.7.1)"),
        "{}",
        stdout(&o)
    );
    let o = publish_with(&store, &share, &key, &["--dry-run", "--json"]);
    assert_code(&o, 0);
    let dry = json_of(&o);
    assert_same(&before, &snapshot(&w.path("")));
    assert!(!share.exists());
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["bytes"], serde_json::Value::Null);
    let files = |v: &serde_json::Value| -> Vec<String> {
        v["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| p["file"].as_str().expect("file").to_string())
            .collect()
    };
    assert_eq!(
        files(&dry),
        [
            "acme-av-2026.11.24-full.iup",
            "acme-av-definitions-2026.11.23-deltas.iup",
            "acme-av-engine-3.7.3-deltas.iup",
            "acme-av-2026.11.24-full.run"
        ]
    );
    assert_eq!(dry["packages"][0]["bare"], true);
    assert_eq!(dry["packages"][3]["bare"], false);
    // Either form off: every package self-extracting, or bare alone.
    let o = publish_with(&store, &share, &key, &["--dry-run", "--json", "--no-bare"]);
    assert_eq!(
        files(&json_of(&o)),
        [
            "acme-av-2026.11.24-full.run",
            "acme-av-definitions-2026.11.23-deltas.run",
            "acme-av-engine-3.7.3-deltas.run"
        ]
    );
    let o = publish_with(
        &store,
        &share,
        &key,
        &["--dry-run", "--json", "--no-self-extracting"],
    );
    assert_eq!(files(&json_of(&o)).len(), 3);
    assert!(files(&json_of(&o)).iter().all(|f| f.ends_with(".iup")));
    assert_eq!(
        dry["packages"][2]["components"][0]["deltas"],
        serde_json::json!(["3.7.2", "3.7.1"])
    );
    assert_eq!(dry["packages"][0]["built"], serde_json::Value::Null);

    // The real run writes what the dry run said; each package's summary is build --json's.
    let o = publish_with(&store, &share, &key, &["--json"]);
    assert_code(&o, 0);
    assert_eq!(stderr(&o), "", "no progress in a pipe");
    let real = json_of(&o);
    assert_eq!(files(&real), files(&dry));
    let mut total = 0;
    for p in real["packages"].as_array().expect("packages") {
        let file = share.join(p["file"].as_str().expect("file"));
        let size = fs::metadata(&file).expect("package").len();
        assert_eq!(p["built"]["size"], size, "{p}");
        assert_eq!(p["built"]["product"], "acme-av");
        total += size;
    }
    assert_eq!(real["bytes"], total);

    // plan: a dry run says each machine's route and writes nothing; --json lists the same.
    let m1 = machine_at(&w, &pubkey, 1);
    let exports = [export(&w, &m1, "m1")];
    let out = w.path("planned");
    let before = snapshot(&w.path(""));
    let o = plan_with(&exports, &store, &out, &key, &["--dry-run"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("engine 3.7.1 -> 3.7.3 (delta from 3.7.1)"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("dry run: nothing written"),
        "{}",
        stdout(&o)
    );
    let o = plan_with(&exports, &store, &out, &key, &["--dry-run", "--json"]);
    assert_code(&o, 0);
    assert_same(&before, &snapshot(&w.path("")));
    assert!(!out.exists());
    let v = json_of(&o);
    assert_eq!(
        v["products"],
        serde_json::json!([{"product": "acme-av", "result": "planned"}])
    );
    assert_eq!(
        files(&v),
        ["acme-av-2026.11.24-plan.iup", "acme-av-2026.11.24-full.run"]
    );
    let o = plan_with(&exports, &store, &out, &key, &["--json"]);
    assert_code(&o, 0);
    assert_eq!(stderr(&o), "");
    let v = json_of(&o);
    let routes: Vec<&str> = v["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| r["route"].as_str().expect("route"))
        .collect();
    assert_eq!(routes, ["delta from 2026.11.21", "delta from 3.7.1"]);
    let size = fs::metadata(out.join("acme-av-2026.11.24-plan.iup"))
        .expect("plan")
        .len();
    assert_eq!(v["packages"][0]["built"]["size"], size);
}

/// Issue 20, item 14: `publish --no-full` writes only delta packages, which bring a machine at
/// an earlier stored release current and refuse one further back (11), unchanged;
/// `--compression` and `--delta-codec` reach every package; `plan --deltas N --no-full` leaves a
/// machine further back as it is and says so. A --no-full publish with nothing to carry is
/// refused before anything is written.
#[test]
fn publish_and_plan_take_no_full_deltas_and_compression_as_build_does() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let store = store_up_to(&w, 3);
    let share = w.path("share");
    let o = publish_with(&store, &share, &key, &["--no-full", "--deltas", "1"]);
    assert_code(&o, 0);
    let packages: Vec<String> = names_in(&share)
        .into_iter()
        .filter(|n| n.ends_with(".run") || n.ends_with(".iup"))
        .collect();
    assert_eq!(
        packages,
        [
            "acme-av-definitions-2026.11.23-deltas.iup",
            "acme-av-engine-3.7.3-deltas.iup"
        ]
    );
    let r = apply_from(&machine_at(&w, &pubkey, 2), &share);
    assert_eq!(installed_routes(&r, "engine"), ["delta from 3.7.2"], "{r}");
    let m = machine_at(&w, &pubkey, 1);
    let before = snapshot(&m.machine());
    let o = client(&m, &["apply", "--from", share.to_str().expect("utf8")]);
    assert_code(&o, 11);
    assert_same(&before, &snapshot(&m.machine()));

    // --compression and --delta-codec as build takes them (on a component that compresses:
    // the noise of the others is stored as it is whatever the method).
    let config = w.release_owned(
        "config-1",
        &[("settings.ini".into(), b"scan = yes\n".repeat(5000), false)],
    );
    assert_code(&add(&store, "config", "1.0", &config), 0);
    let other = w.path("share-xz");
    let o = publish_with(
        &store,
        &other,
        &key,
        &[
            "--compression",
            "xz",
            "--delta-codec",
            "tree",
            "--deltas",
            "1",
        ],
    );
    assert_code(&o, 0);
    let full = inspect(&other.join("acme-av-2026.11.24-full.run"));
    let config = full["manifest"]["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "config")
        .expect("config")
        .clone();
    assert_eq!(config["full_archive"]["codec"], "tar.xz", "{config}");
    let deltas = inspect(&other.join("acme-av-engine-3.7.3-deltas.iup"));
    assert_eq!(
        deltas["manifest"]["components"][0]["deltas"][0]["codec"],
        "zstd-tree"
    );

    // plan --deltas 1 --no-full: the machine at 1 is further back than the deltas reach.
    let (m1, m2) = (machine_at(&w, &pubkey, 1), machine_at(&w, &pubkey, 2));
    let exports = [export(&w, &m1, "m1"), export(&w, &m2, "m2")];
    let out = w.path("planned");
    let o = plan_with(
        &exports,
        &store,
        &out,
        &key,
        &["--deltas", "1", "--no-full", "--json"],
    );
    assert_code(&o, 0);
    let v = json_of(&o);
    let route = |inv: &Path, c: &str| {
        v["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .find(|r| r["inventory"] == inv.display().to_string() && r["component"] == c)
            .map(|r| r["route"].as_str().expect("route").to_string())
    };
    assert_eq!(
        route(&exports[1], "engine").as_deref(),
        Some("delta from 3.7.2")
    );
    assert!(
        route(&exports[0], "engine").is_some_and(|r| r.starts_with("none")),
        "{v}"
    );
    let pkg = inspect(&out.join("acme-av-2026.11.24-plan.iup"));
    for c in pkg["manifest"]["components"]
        .as_array()
        .expect("components")
    {
        assert!(c["full"].is_null(), "{c}");
    }
    // Without --no-full the machine at 1 takes full content.
    let o = plan_with(
        &exports,
        &store,
        &w.path("planned-full"),
        &key,
        &["--deltas", "1", "--json"],
    );
    assert_code(&o, 0);
    let v = json_of(&o);
    assert!(
        v["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .any(|r| r["route"] == "full"),
        "{v}"
    );

    // A store with one release per component has no deltas to publish with --no-full: refused,
    // nothing written; out-of-range levels are refused as build refuses them.
    let w2 = World::new();
    let one = store_up_to(&w2, 1);
    let empty = w2.path("share");
    assert_err(
        &publish_with(&one, &empty, &key, &["--no-full"]),
        2,
        "nothing to publish",
    );
    assert_err(
        &publish_with(&one, &empty, &key, &["--delta-level", "0"]),
        2,
        "--delta-level",
    );
    assert!(!empty.exists());
}

/// Issue 20, item 13: on a terminal `publish` and `plan` show their progress with the reporter
/// `build` uses (each package's phases under a line counting the packages).
#[cfg(unix)]
#[test]
fn publish_and_plan_show_progress_on_a_terminal() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let store = store_up_to(&w, 2);
    let mut cmd = iupack();
    cmd.arg("publish")
        .arg(&store)
        .arg(w.path("share"))
        .arg("--key")
        .arg(&key)
        .arg("--stub")
        .arg(stub_path());
    let (code, screen) = Pty::spawn(cmd).finish();
    assert_eq!(code, 0, "{screen}");
    for phase in [
        "✓ packages",
        "4/4",
        "✓ hashing",
        "✓ diffing",
        "✓ verifying",
        "published ",
    ] {
        assert!(
            screen.contains(phase),
            "no {phase:?} on the terminal:\n{screen}"
        );
    }
    let m = machine_at(&w, &pubkey, 1);
    let exports = [export(&w, &m, "m1")];
    let mut cmd = iupack();
    cmd.arg("plan")
        .arg("--inventory")
        .arg(&exports[0])
        .arg("--store")
        .arg(&store)
        .arg("--out")
        .arg(w.path("planned"))
        .arg("--key")
        .arg(&key)
        .arg("--stub")
        .arg(stub_path());
    let (code, screen) = Pty::spawn(cmd).finish();
    assert_eq!(code, 0, "{screen}");
    for phase in [
        "✓ matching",
        "✓ packages",
        "✓ diffing",
        "✓ signing",
        "planned ",
    ] {
        assert!(
            screen.contains(phase),
            "no {phase:?} on the terminal:\n{screen}"
        );
    }
}

/// Versions as vendors publish them (issue 20, item 9): IANA tzdata's `2025a`, `2025b`, and an
/// engine's `v0.5.8-rc1` then `0.5.8`. The store orders them, packages built from it apply in
/// that order, and going back (to `2025a`, to the release candidate) is a downgrade: refused with
/// exit 12 and the machine unchanged; below a floor of `2025b` not even with --allow-downgrade.
#[test]
fn vendor_versions_order_the_store_and_refuse_downgrades() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let store = w.path("store");
    let tz = |n: u8| vec![("zone.tab".to_string(), vec![n; 5000], false)];
    let (tz_a, tz_b) = (
        w.release_owned("tz-a", &tz(1)),
        w.release_owned("tz-b", &tz(2)),
    );
    let (rc, ga) = (
        w.release_owned("engine-rc", &engine(1)),
        w.release_owned("engine-ga", &engine(2)),
    );
    assert_code(&add(&store, "tzdata", "2025a", &tz_a), 0);
    assert_code(&add(&store, "engine", "v0.5.8-rc1", &rc), 0);
    let old = build_from_store(&w, &store, &key, "old", &[]);
    assert_code(&add(&store, "tzdata", "2025b", &tz_b), 0);
    assert_code(&add(&store, "engine", "0.5.8", &ga), 0);
    // `v0.5.8` is the release just added: the same content is already there, other content is not.
    let o = add(&store, "engine", "v0.5.8", &ga);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("already in"), "{}", stdout(&o));
    assert_err(
        &add(&store, "engine", "v0.5.8", &rc),
        2,
        "with other content",
    );
    assert!(!store.join("acme-av/engine/v0.5.8").exists());
    // A second folder of one version, made by hand, is refused rather than picked at random.
    let twin = store.join("acme-av/engine/0.5.8.0");
    copy_dir(&ga, &twin);
    let o = output(
        iupack()
            .arg("build")
            .arg("--store")
            .arg(&store)
            .args(["--product", "acme-av", "--key"])
            .arg(&key)
            .arg("--out")
            .arg(w.path("packages/twin.run")),
    );
    assert_err(&o, 2, "engine 0.5.8 twice, also as 0.5.8.0");
    fs::remove_dir_all(&twin).expect("remove twin");

    let new = build_from_store(&w, &store, &key, "new", &["--deltas", "1"]);
    let m = &inspect(&new)["manifest"];
    let version = |name: &str| {
        let c = m["components"]
            .as_array()
            .expect("components")
            .iter()
            .find(|c| c["name"] == name);
        let c = c.unwrap_or_else(|| panic!("{name}"));
        (c["version"].clone(), c["deltas"][0]["from"].clone())
    };
    assert_eq!(version("tzdata"), ("2025b".into(), "2025a".into()));
    assert_eq!(version("engine"), ("0.5.8".into(), "v0.5.8-rc1".into()));

    let mach = World::new();
    mach.install_inventory(
        &[&pubkey],
        &[("tzdata", None, "zoneinfo"), ("engine", None, "engine")],
    );
    assert_code(&mach.run(&old, &[]), 0);
    assert_eq!(mach.component("tzdata")["version"], "2025a");
    assert_code(&mach.run(&new, &[]), 0);
    assert_tree_eq(&mach.machine().join("zoneinfo"), &tz_b);
    assert_tree_eq(&mach.machine().join("engine"), &ga);
    assert_eq!(mach.component("engine")["version"], "0.5.8");

    // Back to 2025a and the release candidate: a downgrade, refused, nothing changed.
    let before = snapshot(&mach.machine());
    let o = mach.run(&old, &[]);
    assert_err(
        &o,
        12,
        "engine v0.5.8-rc1 is older than the installed 0.5.8",
    );
    assert_same(&before, &snapshot(&mach.machine()));

    // A floor of 2025b holds even against --allow-downgrade.
    let pf = store.join("acme-av/product.toml");
    let text = fs::read_to_string(&pf).expect("product.toml");
    fs::write(
        &pf,
        format!("{text}\n[components.tzdata]\nfloor = \"2025b\"\n"),
    )
    .expect("write");
    let floored = build_from_store(&w, &store, &key, "floored", &[]);
    assert_code(&mach.run(&floored, &[]), 0);
    // The engine may go back to its release candidate; tzdata stays at 2025b.
    let o = mach.run(&old, &["--allow-downgrade"]);
    assert!(stdout(&o).contains("below-floor"), "{}", stdout(&o));
    assert_eq!(mach.component("engine")["version"], "v0.5.8-rc1");
    assert_eq!(mach.component("tzdata")["version"], "2025b");
    assert_tree_eq(&mach.machine().join("zoneinfo"), &tz_b);
    // Then all the package would do is go below the floor: refused, nothing changed.
    let before = snapshot(&mach.machine());
    let o = mach.run(&old, &["--allow-downgrade"]);
    assert_code(&o, 12);
    assert_same(&before, &snapshot(&mach.machine()));
}

/// Issue 20, item 11: a product.toml section for a component the store does not have, a
/// `requires` naming no component of the store and a platform that is no platform are refused
/// at build time, naming the valid names; nothing is written.
#[test]
fn product_toml_typos_are_refused_at_build_time_with_the_valid_names() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    let store = w.path("store");
    let e1 = w.release_owned("e1", &engine(1));
    let d1 = w.release_owned("d1", &defs(1));
    assert_code(&add(&store, "engine", "3.7.1", &e1), 0);
    assert_code(&add(&store, "definitions", "2026.1.1", &d1), 0);
    let pt = store.join("acme-av/product.toml");
    let out = w.path("packages/typo.run");
    fs::create_dir_all(w.path("packages")).expect("mkdir");
    let cases = [
        (
            "[targets]\n[components.defintions]\nrequires = { engine = \">=3.7\" }\n",
            "no releases of a component `defintions` of acme-av (it has definitions, engine)",
        ),
        (
            "[targets]\n[components.definitions]\nrequires = { engin = \">=3.7\" }\n",
            "definitions requires `engin`, which is neither `product` nor a component in the store (definitions, engine)",
        ),
        (
            "[targets]\nplatforms = [\"linux-x64\"]\n",
            "`linux-x64` is not a platform name: did you mean `linux-x86_64`?",
        ),
    ];
    for (text, want) in cases {
        fs::write(&pt, text).expect("write product.toml");
        let before = snapshot(&w.path(""));
        let o = output(
            iupack()
                .arg("build")
                .arg("--store")
                .arg(&store)
                .args(["--product", "acme-av", "--key"])
                .arg(&key)
                .arg("--out")
                .arg(&out)
                .arg("--stub")
                .arg(stub_path()),
        );
        assert_err(&o, 2, want);
        assert!(stderr(&o).contains("hint: "), "{}", stderr(&o));
        assert_same(&before, &snapshot(&w.path("")));
    }
    // Spelled right, the same store builds; a requires on another stored component is fine.
    fs::write(
        &pt,
        "[targets]\nplatforms = [\"linux-x86_64\"]\n[components.definitions]\nrequires = { engine = \">=3.7\" }\n",
    )
    .expect("write product.toml");
    build_from_store(&w, &store, &key, "ok", &[]);
}

/// Issue 20, item 14: a store build of several components is named after the day it was built,
/// not after whichever unrelated component has the "highest" version (an engine 12.0 is not
/// newer than definitions 2026.1.1); one component's build is named after its version. Two
/// packages built in the same second get different ids.
#[test]
fn a_store_build_is_named_after_its_day_and_ids_differ_within_a_second() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    let store = w.path("store");
    assert_code(
        &add(&store, "engine", "12.0", &w.release_owned("e1", &engine(1))),
        0,
    );
    assert_code(
        &add(
            &store,
            "definitions",
            "2026.1.1",
            &w.release_owned("d1", &defs(1)),
        ),
        0,
    );
    let manifest = |pkg: &Path| -> serde_json::Value {
        let o = output(iupack().arg("inspect").arg(pkg).arg("--json"));
        assert_code(&o, 0);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
        v["manifest"]["package"].clone()
    };
    let when = "1795478400"; // 2026-11-24T00:00:00Z
    let build = |name: &str, extra: &[&str]| {
        let out = w.path(&format!("packages/{name}.run"));
        fs::create_dir_all(w.path("packages")).expect("mkdir");
        let o = output(
            iupack()
                .env("SOURCE_DATE_EPOCH", when)
                .arg("build")
                .arg("--store")
                .arg(&store)
                .args(["--product", "acme-av", "--key"])
                .arg(&key)
                .arg("--out")
                .arg(&out)
                .arg("--stub")
                .arg(stub_path())
                .args(extra),
        );
        assert_code(&o, 0);
        manifest(&out)
    };
    let a = build("a", &[]);
    assert_eq!(a["version"], "2026.11.24", "{a}");
    let b = build("b", &["--compression", "xz"]);
    let (ida, idb) = (a["id"].as_str().expect("id"), b["id"].as_str().expect("id"));
    assert_ne!(ida, idb, "two builds in the same second");
    assert!(
        ida.starts_with(&format!("acme-av-2026.11.24-{when}-")),
        "{ida}"
    );
    // The same inputs at the same time build the same package id (reproducible).
    assert_eq!(build("a2", &[])["id"], a["id"]);
}
