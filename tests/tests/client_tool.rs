//! The client tool's own life (issue 23): a machine with nothing on it gets the client tool from
//! a package (`PKG --install-client`), is set up with `init`, takes packages, and updates its
//! client tool when a package brings a newer one: the running binary is replaced first and the
//! new one applies the rest. A kill at any step of that leaves a client tool that runs and, once
//! recovered, an inventory that says which one it is; a client tool signed by a key the machine
//! does not trust, or older than the installed one, replaces nothing.

use iupack_tests::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the tests install the client tool (`--install-client DIR`).
fn client(w: &World) -> PathBuf {
    w.path("bin/iupack-stub")
}

/// Runs the installed client tool with the machine's inventory.
fn run_client(w: &World, args: &[&str]) -> Output {
    output(
        Command::new(client(w))
            .current_dir(w.path(""))
            .args(args)
            .arg("--inventory")
            .arg(w.inventory_path()),
    )
}

fn sha(p: &Path) -> String {
    iupack_stub::format::digest::sha256_hex(&fs::read(p).expect("read"))
}

/// A package of engine `version` (one program whose text names the version) carrying the
/// client tool `tool`, signed with `key`.
fn engine_package(w: &World, key: &Path, version: &str, tool: &Path) -> PathBuf {
    let rel = format!("engine-{version}");
    w.release(
        &rel,
        &[
            (
                "bin/scan",
                format!("#!/bin/sh\necho {version}\n").as_bytes(),
                true,
            ),
            (
                "lib/core.tbl",
                format!("core {version}\n").as_bytes(),
                false,
            ),
        ],
    );
    let spec = w.spec(
        &rel,
        &format!(
            "product = \"acme-av\"\n[targets]\nproduct_versions = \">=12.0, <13\"\nplatforms = [\"{}\"]\n\
             [[components]]\nname = \"engine\"\nversion = \"{version}\"\ncontent = \"../releases/{rel}\"\n",
            this_platform()
        ),
    );
    let name = format!(
        "{rel}-{}",
        key.file_stem().and_then(|s| s.to_str()).unwrap_or("k")
    );
    let tool = tool.display().to_string();
    let (o, pkg) = w.build_with(&spec, key, &name, &["--with-client", &tool]);
    assert_code(&o, 0);
    pkg
}

/// A machine brought from nothing to engine 3.7.71 with client tool 0.1.0, as the README's
/// machine set-up does it: the package installs the client tool, init sets the product up, the
/// client tool applies the package. Returns the publisher's secret key.
fn set_up(w: &World) -> PathBuf {
    let (key, _) = w.keygen("publisher");
    let old = client_tool(&w.path("tools/0.1.0/iupack-stub"), "0.1.0");
    let pkg = engine_package(w, &key, "3.7.71", &old);
    let publisher = w.path("keys/publisher.pub").display().to_string();
    let bin = w.path("bin").display().to_string();
    let o = w.run(&pkg, &["--install-client", &bin, "--pubkey", &publisher]);
    assert_code(&o, 0);
    let o = run_client(
        w,
        &[
            "init",
            "acme-av",
            "12.1",
            "--key",
            "keys/publisher.pub",
            "--component",
            "engine=acme/engine",
        ],
    );
    assert_code(&o, 0);
    let o = run_client(w, &["apply", &pkg.display().to_string()]);
    assert_code(&o, 0);
    key
}

#[test]
fn one_package_takes_an_empty_machine_to_current() {
    let w = World::new();
    let (key, _) = w.keygen("publisher");
    let (_, _) = w.keygen("stranger");
    let tool = client_tool(&w.path("tools/0.1.0/iupack-stub"), "0.1.0");
    let pkg = engine_package(&w, &key, "3.7.71", &tool);
    let bin = w.path("bin");
    let bin_arg = bin.display().to_string();
    fs::create_dir_all(&bin).expect("mkdir");
    // Refused, nothing made: no key to check it with; a key that did not sign it.
    let o = w.run(&pkg, &["--install-client", &bin_arg]);
    assert_err(&o, 2, "give the vendor's public key");
    let stranger = w.path("keys/stranger.pub").display().to_string();
    let o = w.run(&pkg, &["--install-client", &bin_arg, "--pubkey", &stranger]);
    assert_code(&o, 20);
    assert!(
        !w.machine().exists(),
        "a refused install made the inventory's folder"
    );
    assert_eq!(names_in(&bin), Vec::<String>::new());

    // The package installs the client tool it carries, verified, and records it.
    let publisher = w.path("keys/publisher.pub").display().to_string();
    let o = w.run(
        &pkg,
        &[
            "--install-client",
            &bin_arg,
            "--pubkey",
            &publisher,
            "--json",
        ],
    );
    assert_code(&o, 0);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("report");
    assert_eq!(r["result"], "installed");
    assert_eq!(r["client"]["action"], "installed");
    assert_eq!(
        fs::read(client(&w)).expect("client"),
        fs::read(&tool).expect("tool")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(client(&w)).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    let rec = &w.inventory()["client"];
    assert_eq!(rec["version"], "0.1.0");
    assert_eq!(rec["product"], "acme-av");
    assert_eq!(rec["sha256"], sha(&tool));
    assert_eq!(rec["path"], client(&w).display().to_string());

    // The installed client tool runs and says which it is; init sets the product up.
    let o = output(Command::new(client(&w)).arg("--version"));
    assert_eq!(stdout(&o).trim(), "iupack-stub 0.1.0");
    let o = run_client(
        &w,
        &[
            "init",
            "acme-av",
            "12.1",
            "--key",
            "keys/publisher.pub",
            "--component",
            "engine=acme/engine",
        ],
    );
    assert_code(&o, 0);
    // The same package, applied by the client tool: the engine, byte for byte.
    let o = run_client(&w, &["apply", &pkg.display().to_string()]);
    assert_code(&o, 0);
    assert_tree_eq(
        &w.path("releases/engine-3.7.71"),
        &w.machine().join("acme/engine"),
    );
    assert_eq!(w.component("engine")["version"], "3.7.71");
    let o = run_client(&w, &["status", "--json"]);
    assert_code(&o, 0);
    let st: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("status");
    assert_eq!(st["client"]["version"], "0.1.0");
    assert_eq!(st["client"]["on_disk"], "as recorded");
    // Installing again is "current", and changes nothing.
    let before = snapshot(&w.path(""));
    let o = w.run(&pkg, &["--install-client"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("already installed"), "{}", stdout(&o));
    assert_same(&before, &snapshot(&w.path("")));
}

#[test]
fn a_newer_client_tool_replaces_the_running_one_which_then_applies_the_rest() {
    let w = World::new();
    let key = set_up(&w);
    let old = w.path("tools/0.1.0/iupack-stub");
    let new = client_tool(&w.path("tools/0.1.1/iupack-stub"), "0.1.1");
    let pkg = engine_package(&w, &key, "3.7.72", &new);
    let report = w.path("report.json");
    let report_arg = report.display().to_string();
    // The installed client tool runs the package: it is the binary being replaced.
    let o = run_client(
        &w,
        &["apply", &pkg.display().to_string(), "--report", &report_arg],
    );
    assert_code(&o, 0);
    assert_eq!(
        fs::read(client(&w)).expect("client"),
        fs::read(&new).expect("new")
    );
    let kept = w.path("bin/.iupack-stub.iupack/previous");
    assert_eq!(fs::read(&kept).expect("kept"), fs::read(&old).expect("old"));
    assert_eq!(
        names_in(&w.path("bin/.iupack-stub.iupack")),
        vec!["previous"]
    );
    // The rest was applied by the new one: its report says so.
    let r: serde_json::Value =
        serde_json::from_slice(&fs::read(&report).expect("report")).expect("report JSON");
    assert_eq!(r["tool"], "iupack-stub 0.1.1", "{r}");
    assert_eq!(r["result"], "applied");
    assert_eq!(r["client"]["action"], "updated");
    assert_eq!(r["client"]["from"], "0.1.0");
    assert_eq!(r["client"]["to"], "0.1.1");
    assert_tree_eq(
        &w.path("releases/engine-3.7.72"),
        &w.machine().join("acme/engine"),
    );
    let rec = &w.inventory()["client"];
    assert_eq!(
        (rec["version"].as_str(), rec["previous"].as_str()),
        (Some("0.1.1"), Some("0.1.0"))
    );
    assert_eq!(rec["sha256"], sha(&new));
    assert!(!w.machine().join("inventory.json.journal").exists());
    let o = output(Command::new(client(&w)).arg("--version"));
    assert_eq!(stdout(&o).trim(), "iupack-stub 0.1.1");

    // An older client tool does not replace it (the engine still installs); asked for, it is
    // refused as a downgrade, and with the floor rules of any component.
    let pkg = engine_package(&w, &key, "3.7.73", &old);
    let o = run_client(&w, &["apply", &pkg.display().to_string(), "--json"]);
    assert_code(&o, 0);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("report");
    assert_eq!(r["client"]["action"], "downgrade-refused");
    assert_eq!(w.component("engine")["version"], "3.7.73");
    assert_eq!(
        fs::read(client(&w)).expect("client"),
        fs::read(&new).expect("new")
    );
    let before = snapshot(&w.path(""));
    let o = w.run(&pkg, &["--install-client"]);
    assert_err(&o, 12, "refusing to downgrade");
    assert_same(&before, &snapshot(&w.path("")));
}

#[test]
fn a_client_tool_signed_by_a_key_the_machine_does_not_trust_replaces_nothing() {
    let w = World::new();
    set_up(&w);
    let (stranger, _) = w.keygen("stranger");
    let new = client_tool(&w.path("tools/9.0/iupack-stub"), "9.0");
    let pkg = engine_package(&w, &stranger, "3.7.72", &new);
    let before = snapshot(&w.path("bin"));
    let machine = snapshot(&w.machine());
    let o = run_client(&w, &["apply", &pkg.display().to_string()]);
    assert_code(&o, 20);
    let o = w.run(&pkg, &["--install-client"]);
    assert_code(&o, 20);
    assert_same(&before, &snapshot(&w.path("bin")));
    assert_same(&machine, &snapshot(&w.machine()));
}

/// Keeps the machine and the client tool's folder as they are, for `restore`.
fn save(w: &World) {
    fs::create_dir_all(w.path("saved")).expect("mkdir");
    cp_a(&w.machine(), &w.path("saved/machine"));
    cp_a(&w.path("bin"), &w.path("saved/bin"));
}

fn restore(w: &World) {
    cp_a(&w.path("saved/machine"), &w.machine());
    cp_a(&w.path("saved/bin"), &w.path("bin"));
}

/// Every step of a self-update, in the run that replaces the client tool and in the new one it
/// starts (the fault point counts each process's steps), stopped dead as `kill -9` would: the
/// client tool at its place runs (old or new), `recover` leaves an inventory that names the one
/// on disk, and the package run again ends with everything current.
#[test]
fn a_kill_at_any_step_of_a_self_update_leaves_a_client_tool_that_runs() {
    let w = World::new();
    let key = set_up(&w);
    let new = client_tool(&w.path("tools/0.1.1/iupack-stub"), "0.1.1");
    let old = w.path("tools/0.1.0/iupack-stub");
    let pkg = engine_package(&w, &key, "3.7.72", &new);
    let pkg_arg = pkg.display().to_string();
    save(&w);
    let mut stopped = 0;
    for step in 1.. {
        assert!(step < 200, "the fault walk never finished");
        let o = output(
            Command::new(client(&w))
                .args(["apply", &pkg_arg, "--inventory"])
                .arg(w.inventory_path())
                .env("IUPACK_FAULT_STEP", step.to_string()),
        );
        if code(&o) == 0 {
            break;
        }
        assert_eq!(code(&o), 99, "step {step}: {}", stderr(&o));
        stopped += 1;
        // The client tool at its place runs, old or new.
        let v = output(Command::new(client(&w)).arg("--version"));
        assert_code(&v, 0);
        let on_disk = sha(&client(&w));
        assert!(
            on_disk == sha(&old) || on_disk == sha(&new),
            "step {step}: another binary"
        );
        // Once recovered, the inventory names the one there.
        let o = run_client(&w, &["recover"]);
        assert_code(&o, 0);
        let rec = &w.inventory()["client"];
        assert_eq!(
            rec["sha256"],
            sha(&client(&w)),
            "step {step}: the inventory names another client tool"
        );
        let want = if sha(&client(&w)) == sha(&new) {
            "0.1.1"
        } else {
            "0.1.0"
        };
        assert_eq!(rec["version"], want, "step {step}");
        // The package again: everything current, the new client tool in place.
        let o = run_client(&w, &["apply", &pkg_arg]);
        assert_code(&o, 0);
        assert_eq!(sha(&client(&w)), sha(&new), "step {step}");
        assert_tree_eq(
            &w.path("releases/engine-3.7.72"),
            &w.machine().join("acme/engine"),
        );
        assert_eq!(w.inventory()["client"]["version"], "0.1.1");
        restore(&w);
    }
    eprintln!("self-update fault walk: {stopped} steps stopped, each recovered");
    assert!(stopped > 10, "only {stopped} steps were walked");
    assert_eq!(sha(&client(&w)), sha(&new));
}

/// `kill -9` at random moments of a self-update (`IUPACK_CLIENT_SOAK_RUNS`, default 12; the
/// fault walk above covers every step deterministically): each time the client tool runs
/// afterwards and the next run ends with everything current.
#[test]
fn kill_9_during_self_updates() {
    let w = World::new();
    let key = set_up(&w);
    let new = client_tool(&w.path("tools/0.1.1/iupack-stub"), "0.1.1");
    let pkg = engine_package(&w, &key, "3.7.72", &new);
    let pkg_arg = pkg.display().to_string();
    let runs: u64 = std::env::var("IUPACK_CLIENT_SOAK_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    // How long a whole self-update takes here: the kills are spread over it.
    save(&w);
    let t = std::time::Instant::now();
    assert_code(&run_client(&w, &["apply", &pkg_arg]), 0);
    let whole = t.elapsed().as_micros() as u64;
    let mut killed = 0;
    for i in 0..runs {
        restore(&w);
        let mut child = Command::new(client(&w))
            .args(["apply", &pkg_arg, "--inventory"])
            .arg(w.inventory_path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_micros(
            whole * (i + 1) / (runs + 1),
        ));
        if child.try_wait().expect("wait").is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_code(&output(Command::new(client(&w)).arg("--version")), 0);
        assert_code(&run_client(&w, &["apply", &pkg_arg]), 0);
        assert_eq!(sha(&client(&w)), sha(&new), "run {i}");
        assert_eq!(w.inventory()["client"]["sha256"], sha(&new), "run {i}");
        assert_tree_eq(
            &w.path("releases/engine-3.7.72"),
            &w.machine().join("acme/engine"),
        );
    }
    eprintln!("client soak: {runs} runs, {killed} killed mid-run");
}

#[test]
fn the_builder_carries_only_a_client_tool() {
    let w = World::new();
    let (key, _) = w.keygen("publisher");
    // A file that is no client tool (a head has no client commands; this has no mark at all).
    let not = w.path("tools/not/iupack-stub");
    fs::create_dir_all(not.parent().expect("parent")).expect("mkdir");
    fs::write(&not, b"\x7fELF, but no client tool\n").expect("write");
    w.release("e", &[("a", b"a", false)]);
    let spec = w.spec(
        "e",
        "product = \"acme-av\"\n[targets]\n[[components]]\nname = \"engine\"\nversion = \"1\"\ncontent = \"../releases/e\"\n",
    );
    let (o, _) = w.build_with(
        &spec,
        &key,
        "e",
        &["--with-client", &not.display().to_string()],
    );
    assert_err(&o, 2, "is not the client tool");
    // The component's name is the client tool's alone.
    let spec = w.spec(
        "c",
        "product = \"acme-av\"\n[targets]\n[[components]]\nname = \"iupack-client\"\nversion = \"1\"\ncontent = \"../releases/e\"\n",
    );
    let (o, _) = w.build(&spec, &key, "c");
    assert_err(&o, 2, "is the client tool's component");
    // A package that carries the client tool is for the one platform it runs on, whatever the
    // spec allows (here any).
    let tool = client_tool(&w.path("tools/0.1.0/iupack-stub"), "0.1.0");
    let spec = w.spec(
        "any",
        "product = \"acme-av\"\n[targets]\n[[components]]\nname = \"engine\"\nversion = \"1\"\ncontent = \"../releases/e\"\n",
    );
    let (o, pkg) = w.build_with(
        &spec,
        &key,
        "any",
        &["--with-client", &tool.display().to_string()],
    );
    assert_code(&o, 0);
    let o = output(iupack().args(["inspect", "--json"]).arg(&pkg));
    assert_code(&o, 0);
    let m: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("inspect");
    assert_eq!(
        m["manifest"]["targets"]["platforms"],
        serde_json::json!([this_platform()]),
        "{m}"
    );
}

/// A share whose self-extracting full package carries a newer client tool (`publish --client`):
/// `apply --from` replaces the client tool first, and the new one takes the rest of the share
/// (here the engine delta, from a bare package).
#[test]
fn a_share_with_a_newer_client_tool_updates_it_first() {
    let w = World::new();
    let key = set_up(&w);
    let new = client_tool(&w.path("tools/0.1.1/iupack-stub"), "0.1.1");
    engine_package(&w, &key, "3.7.72", &new); // its release folder, for the store
    let store = w.path("store");
    for v in ["3.7.71", "3.7.72"] {
        let o = output(
            iupack()
                .arg("add")
                .arg(&store)
                .args(["acme-av", "engine", v])
                .arg(w.path(&format!("releases/engine-{v}"))),
        );
        assert_code(&o, 0);
    }
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
            .arg("--client")
            .arg(&new),
    );
    assert_code(&o, 0);
    let report = w.path("share-report.json");
    let o = run_client(
        &w,
        &[
            "apply",
            "--from",
            &share.display().to_string(),
            "--report",
            &report.display().to_string(),
        ],
    );
    assert_code(&o, 0);
    assert_eq!(
        fs::read(client(&w)).expect("client"),
        fs::read(&new).expect("new")
    );
    let r: serde_json::Value =
        serde_json::from_slice(&fs::read(&report).expect("report")).expect("report JSON");
    assert_eq!(r["tool"], "iupack-stub 0.1.1", "{r}");
    assert_eq!(r["client"]["action"], "updated");
    assert_eq!(r["components"][0]["route"], "delta from 3.7.71", "{r}");
    assert_tree_eq(
        &w.path("releases/engine-3.7.72"),
        &w.machine().join("acme/engine"),
    );
    assert_eq!(w.inventory()["client"]["version"], "0.1.1");
    // Again: nothing to do, the client tool included.
    let o = run_client(&w, &["apply", "--from", &share.display().to_string()]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("already current"), "{}", stdout(&o));
}

/// The client tool's version rules hold whatever the command line says (an attack review's
/// findings): `--install-client` into another folder is no way around a downgrade refusal, a
/// run's `--allow-downgrade` (meant for components) never downgrades the client tool, a
/// client tool in a component's folder is refused, and a record with a relative path is left
/// alone with a warning, the run going on.
#[test]
fn the_client_tools_version_rules_hold_however_it_is_asked() {
    let w = World::new();
    let key = set_up(&w);
    let old = w.path("tools/0.1.0/iupack-stub");
    let new = client_tool(&w.path("tools/0.1.1/iupack-stub"), "0.1.1");
    let pkg = engine_package(&w, &key, "3.7.72", &new);
    assert_code(&run_client(&w, &["apply", &pkg.display().to_string()]), 0);
    let older = engine_package(&w, &key, "3.7.73", &old);
    let before = snapshot(&w.path(""));
    let other = w.path("bin2").display().to_string();
    let o = w.run(&older, &["--install-client", &other]);
    assert_err(&o, 12, "refusing to downgrade");
    assert_same(&before, &snapshot(&w.path("")));
    // A run's --allow-downgrade is for components: the client tool stays 0.1.1.
    let o = run_client(
        &w,
        &[
            "apply",
            &older.display().to_string(),
            "--allow-downgrade",
            "--json",
        ],
    );
    assert_code(&o, 0);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("report");
    assert_eq!(r["client"]["action"], "downgrade-refused", "{r}");
    assert_eq!(sha(&client(&w)), sha(&new));
    // Not in a component's folder.
    let engine = w.machine().join("acme/engine").display().to_string();
    let newest = client_tool(&w.path("tools/0.2.0/iupack-stub"), "0.2.0");
    let pkg2 = engine_package(&w, &key, "3.7.74", &newest);
    let o = w.run(&pkg2, &["--install-client", &engine]);
    assert_err(&o, 2, "inside the folder of acme-av's component engine");
    // A record with a relative path: the package's client tool is left, the rest applies.
    let mut inv = w.inventory();
    inv["client"]["path"] = serde_json::json!("iupack-stub");
    fs::write(w.inventory_path(), inv.to_string()).expect("write");
    let o = run_client(&w, &["apply", &pkg2.display().to_string(), "--json"]);
    assert_code(&o, 0);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("report");
    assert!(r["warnings"].to_string().contains("not absolute"), "{r}");
    assert_eq!(w.component("engine")["version"], "3.7.74");
    assert_eq!(sha(&client(&w)), sha(&new));
}
