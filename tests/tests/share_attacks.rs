//! Hostile share files (issue 18, classes 5 and 7): `apply --from SHARE` opens each share file
//! once, never through a symbolic link, reads only regular files no larger than the index says,
//! and applies from the very file it checked. A share package that is a link to `/dev/zero`, a
//! FIFO, a huge sparse file or a link to a private file is refused at once (21) without telling
//! what the target holds; a package swapped for another validly signed one while the run goes
//! never gets installed.
#![cfg(unix)]

use iupack_tests::store_engine as engine;
use iupack_tests::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn defs(n: u8) -> Vec<(String, Vec<u8>, bool)> {
    let mut main = noise(1, 300_000);
    main[usize::from(n) * 1000..usize::from(n) * 1000 + 500].fill(n);
    vec![("main.avdb".into(), main, false)]
}

/// Adds releases `from..=to` of engine and definitions to `store`.
fn add_releases(w: &World, store: &Path, from: u8, to: u8) {
    for n in from..=to {
        for (component, version, files, name) in [
            (
                "engine",
                format!("3.7.{n}"),
                engine(n),
                format!("engine-{n}"),
            ),
            (
                "definitions",
                format!("2026.11.2{n}"),
                defs(n),
                format!("defs-{n}"),
            ),
        ] {
            let dir = w.release_owned(&name, &files);
            let o = output(
                iupack()
                    .arg("add")
                    .arg(store)
                    .args(["acme-av", component, &version])
                    .arg(&dir),
            );
            assert_code(&o, 0);
        }
    }
}

/// `iupack publish STORE SHARE` with full packages only.
fn publish(store: &Path, share: &Path, key: &Path) {
    let o = output(
        iupack()
            .arg("publish")
            .arg(store)
            .arg(share)
            .arg("--key")
            .arg(key)
            .arg("--stub")
            .arg(stub_path())
            // One bare full package: what `apply --from` reads.
            .args(["--deltas", "0", "--no-self-extracting"]),
    );
    assert_code(&o, 0);
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

/// The package files a share's index lists.
fn listed(share: &Path) -> Vec<String> {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(share.join("index.json")).expect("index")).expect("JSON");
    index["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["file"].as_str().expect("file").to_string())
        .collect()
}

/// Runs `cmd`, killing it after `limit`: `None` when it had to be killed (it hung).
fn run_within(cmd: &mut Command, limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn apply_from(m: &World, share: &Path) -> Command {
    let mut c = Command::new(stub_path());
    c.args(["apply", "--from"])
        .arg(share)
        .arg("--inventory")
        .arg(m.inventory_path());
    c
}

/// A published share of release 2 (full packages) and a machine at release 1.
fn share_and_machine(w: &World) -> (PathBuf, World) {
    let (key, pubkey) = w.keygen("publisher");
    let store = w.path("store");
    add_releases(w, &store, 1, 2);
    let share = w.path("share");
    publish(&store, &share, &key);
    (share, machine_at(w, &pubkey, 1))
}

/// Replaces every package of a published share by what `make` puts at its path (given a private
/// file of this machine's): `apply --from` must refuse it within seconds with exit 21, an error
/// that names the file and says `says`, nothing about what the private file holds, and leave the
/// machine as it was.
fn refused_at_once(make: impl Fn(&Path, &Path), says: &str) {
    let w = World::new();
    let (share, m) = share_and_machine(&w);
    let before = snapshot(&m.machine());
    let secret = w.path("secret");
    let secret_bytes = b"root's private key material\n".repeat(37);
    fs::write(&secret, &secret_bytes).expect("write");
    set_mode(&secret, 0o600);
    let secret_sha = iupack_stub::format::digest::sha256_hex(&secret_bytes);
    let secret_len = format!("{} bytes", secret_bytes.len());
    for file in listed(&share) {
        fs::remove_file(share.join(&file)).expect("rm");
        make(&share.join(&file), &secret);
    }
    let started = Instant::now();
    let o = run_within(&mut apply_from(&m, &share), Duration::from_secs(30))
        .expect("apply --from hung (killed after 30 s)");
    assert_err(&o, 21, says);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let err = stderr(&o);
    assert!(err.contains(".iup"), "the error names no file: {err}");
    assert!(
        !err.contains(&secret_sha) && !err.contains(&secret_len) && !err.contains("SHA-256"),
        "the error tells what the file holds: {err}"
    );
    assert_same(&before, &snapshot(&m.machine()));
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(ok.success(), "mkfifo {}", p.display());
}

#[test]
fn a_share_package_that_links_to_dev_zero_is_refused_at_once() {
    refused_at_once(
        |p, _| std::os::unix::fs::symlink("/dev/zero", p).expect("symlink"),
        "is a symbolic link: a share holds plain files only",
    );
}

#[test]
fn a_share_package_that_is_a_fifo_is_refused_at_once() {
    refused_at_once(
        |p, _| mkfifo(p),
        "is not a regular file: a share holds plain files only",
    );
}

#[test]
fn a_huge_sparse_share_package_is_refused_before_it_is_read() {
    refused_at_once(
        |p, _| {
            fs::File::create(p)
                .and_then(|f| f.set_len(1 << 40))
                .expect("sparse file")
        },
        "does not match the share's index",
    );
}

#[test]
fn a_share_package_that_links_to_a_private_file_is_refused_and_tells_nothing_of_it() {
    refused_at_once(
        |p, secret| std::os::unix::fs::symlink(secret, p).expect("symlink"),
        "is a symbolic link: a share holds plain files only",
    );
}

/// The index and its signature are share files too: a FIFO or a link is refused at once.
#[test]
fn a_share_index_or_signature_that_is_a_fifo_or_link_is_refused_at_once() {
    let w = World::new();
    let (share, m) = share_and_machine(&w);
    let before = snapshot(&m.machine());
    for (name, fifo) in [
        ("index.json", true),
        ("index.json", false),
        ("index.json.minisig", true),
    ] {
        let evil = w.path(&format!("evil-{name}-{fifo}"));
        copy_dir(&share, &evil);
        let p = evil.join(name);
        fs::remove_file(&p).expect("rm");
        if fifo {
            mkfifo(&p);
        } else {
            std::os::unix::fs::symlink(share.join(name), &p).expect("symlink");
        }
        let o = run_within(&mut apply_from(&m, &evil), Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{name} (FIFO: {fifo}): apply --from hung"));
        assert_err(&o, 21, "a share holds plain files only");
        assert!(stderr(&o).contains(name), "{}", stderr(&o));
        assert_same(&before, &snapshot(&m.machine()));
    }
}

/// Swaps `target` between the bytes of `a` and `b` until `stop`: by rename (another file put in
/// its place) or by writing over it in place.
fn swapper(target: PathBuf, a: PathBuf, b: PathBuf, in_place: bool, stop: &AtomicBool) {
    let tmp = target.with_extension("swap");
    let (a_bytes, b_bytes) = (fs::read(&a).expect("a"), fs::read(&b).expect("b"));
    let mut turn = false;
    while !stop.load(Ordering::Relaxed) {
        turn = !turn;
        if in_place {
            let _ = fs::write(&target, if turn { &b_bytes } else { &a_bytes });
        } else {
            let _ = fs::remove_file(&tmp);
            let _ = fs::hard_link(if turn { &b } else { &a }, &tmp);
            let _ = fs::rename(&tmp, &target);
        }
        std::thread::sleep(Duration::from_micros(50));
    }
}

#[test]
fn a_package_swapped_for_another_signed_one_during_the_run_is_never_installed() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let store = w.path("store");
    add_releases(&w, &store, 1, 2);
    let share = w.path("share");
    publish(&store, &share, &key);
    // A newer package of the same product, validly signed, that the share's index does not list.
    add_releases(&w, &store, 3, 3);
    let newer = w.path("newer");
    publish(&store, &newer, &key);
    let files = listed(&share);
    assert_eq!(files.len(), 1, "{files:?}");
    let target = share.join(&files[0]);
    let a = w.path("listed.iup");
    let b = newer.join(&listed(&newer)[0]);
    fs::copy(&target, &a).expect("copy");

    let (mut applied, mut refused) = (0, 0);
    for round in 0..24 {
        let in_place = round % 2 == 1;
        let m = machine_at(&w, &pubkey, 1);
        let before = snapshot(&m.machine());
        // A fresh file: the last round may have left a link to `a` or `b` there.
        let _ = fs::remove_file(&target);
        fs::copy(&a, &target).expect("restore");
        let stop = AtomicBool::new(false);
        let o = std::thread::scope(|s| {
            let (t, a, b, stop) = (target.clone(), a.clone(), b.clone(), &stop);
            s.spawn(move || swapper(t, a, b, in_place, stop));
            let o = run_within(&mut apply_from(&m, &share), Duration::from_secs(60));
            stop.store(true, Ordering::Relaxed);
            o
        })
        .expect("apply --from hung");
        let engine = m.component("engine")["version"].clone();
        assert_ne!(
            engine,
            "3.7.3",
            "round {round}: the package the index does not list was installed:\n{}",
            stderr(&o)
        );
        match code(&o) {
            0 => {
                applied += 1;
                assert_eq!(engine, "3.7.2", "round {round}");
                assert_tree_eq(
                    &m.machine().join("acme/engine"),
                    &w.path("releases/engine-2"),
                );
                assert_tree_eq(&m.machine().join("acme/defs"), &w.path("releases/defs-2"));
            }
            _ => {
                assert_code(&o, 21);
                refused += 1;
                assert_same(&before, &snapshot(&m.machine()));
            }
        }
    }
    eprintln!("racing swaps: {applied} runs applied the listed package, {refused} were refused");
}
