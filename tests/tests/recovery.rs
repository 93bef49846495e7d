//! Crash safety, proven: a run stopped dead at every numbered step of its transaction (the stub's
//! test-only fault points), then `recover`, leaves every component byte-identical to either the
//! old or the new release, the inventory saying which, and nothing else behind; plus the lock,
//! the hooks, rollback, full disk and read-only targets.

use iupack_tests::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A publisher with three releases of engine and definitions, and a machine that installed
/// release 1 and then, by package, release 2 (so release 1 is kept beside it).
struct Lab {
    w: World,
    engine: Vec<PathBuf>,
    defs: Vec<PathBuf>,
    /// Packages bringing release 2 and release 3 (full content plus deltas from release 2).
    pkg2: PathBuf,
    pkg3: PathBuf,
}

fn spec(n: usize, delta_from: Option<usize>) -> String {
    let deltas = |name: &str| match delta_from {
        Some(d) => format!(
            "[[components.deltas]]\nversion = \"{d}.0\"\ncontent = \"../releases/{name}-{d}\"\n"
        ),
        None => String::new(),
    };
    format!(
        r#"product = "acme-av"
[targets]
product_versions = ">=12.0, <13"
platforms = ["{platform}"]
[[components]]
name = "engine"
version = "{n}.0"
content = "../releases/engine-{n}"
{de}
[[components]]
name = "definitions"
version = "{n}.0"
content = "../releases/defs-{n}"
requires = {{ engine = ">={n}.0" }}
{dd}
"#,
        platform = this_platform(),
        de = deltas("engine"),
        dd = deltas("defs"),
    )
}

impl Lab {
    fn new() -> Lab {
        let w = World::new();
        let (key, pubkey) = w.keygen("publisher");
        let mut engine = Vec::new();
        let mut defs = Vec::new();
        for n in 1..=3u8 {
            let mut main = noise(7, 200_000);
            main[1000 * n as usize..1000 * n as usize + 64].fill(n);
            let scan = format!("#!/bin/sh\necho {n}\n");
            let mut efiles: Vec<(String, Vec<u8>, bool)> = vec![
                ("bin/scan".into(), scan.into_bytes(), true),
                ("lib/core.tbl".into(), noise(n as u64, 40_000), false),
            ];
            if n >= 2 {
                efiles.push((format!("lib/new{n}.tbl"), vec![n; 10], false));
            }
            let dfiles: Vec<(String, Vec<u8>, bool)> = vec![
                ("main.avdb".into(), main, false),
                (
                    format!("daily/{n}.avdb"),
                    noise(100 + n as u64, 5_000),
                    false,
                ),
                ("empty.avdb".into(), Vec::new(), false),
            ];
            engine.push(w.release_owned(&format!("engine-{n}"), &efiles));
            defs.push(w.release_owned(&format!("defs-{n}"), &dfiles));
        }
        w.install_inventory(
            &[&pubkey],
            &[
                ("engine", Some("1.0"), "acme/engine"),
                ("definitions", Some("1.0"), "acme/defs"),
            ],
        );
        w.install_tree(&engine[0], "acme/engine");
        w.install_tree(&defs[0], "acme/defs");
        let pkg2 = w.package(&w.spec("r2", &spec(2, None)), &key, "r2");
        let pkg3 = w.package(&w.spec("r3", &spec(3, Some(2))), &key, "r3");
        let lab = Lab {
            w,
            engine,
            defs,
            pkg2,
            pkg3,
        };
        assert_code(&lab.w.run(&lab.pkg2, &[]), 0);
        lab
    }

    fn machine(&self) -> PathBuf {
        self.w.machine()
    }

    /// Saves the machine as it is now, to restore before each trial.
    fn save(&self, name: &str) -> PathBuf {
        let t = self.w.path(&format!("saved/{name}"));
        fsutil_remove(&t);
        copy_dir(&self.machine(), &t);
        t
    }

    fn restore(&self, saved: &Path) {
        fsutil_remove(&self.machine());
        copy_dir(saved, &self.machine());
    }

    fn client(&self, args: &[&str]) -> Output {
        output(
            Command::new(stub_path())
                .args(args)
                .arg("--inventory")
                .arg(self.w.inventory_path()),
        )
    }

    /// The release-3 package as a traced command, the machine saved before it (and restored),
    /// and the number of each named fault step of its run (the first with that name).
    fn traced_pkg3(&self, name: &str) -> (Command, PathBuf, impl Fn(&str) -> u32) {
        let (trace, saved, nth) = self.traced_pkg3_nth(name);
        (trace, saved, move |step: &str| nth(step, 1))
    }

    /// `traced_pkg3`, numbering the `n`-th step of a name.
    fn traced_pkg3_nth(&self, name: &str) -> (Command, PathBuf, impl Fn(&str, usize) -> u32) {
        let mut trace = Command::new(&self.pkg3);
        trace
            .arg("--inventory")
            .arg(self.w.inventory_path())
            .env("IUPACK_FAULT_TRACE", "1");
        let saved = self.save(name);
        let o = self.run_faulted(&mut trace, 1000);
        assert_code(&o, 0);
        self.restore(&saved);
        let steps: Vec<String> = stderr(&o).lines().map(str::to_string).collect();
        let at = move |name: &str, n: usize| {
            steps
                .iter()
                .enumerate()
                .filter(|(_, l)| l.ends_with(&format!(": {name}")))
                .nth(n - 1)
                .unwrap_or_else(|| panic!("no step {name} #{n} in {steps:?}"))
                .0 as u32
                + 1
        };
        (trace, saved, at)
    }

    fn run_faulted(&self, cmd: &mut Command, step: u32) -> Output {
        output(cmd.env("IUPACK_FAULT_STEP", step.to_string()))
    }
}

fn fsutil_remove(p: &Path) {
    if p.exists() {
        fs::remove_dir_all(p).expect("remove");
    }
}

/// The machine's snapshot with the inventory's install times taken out (they differ between
/// two otherwise identical runs).
fn state(machine: &Path) -> Snapshot {
    let mut s = snapshot(machine);
    if let Some((_, bytes, _)) = s.get_mut("inventory.json") {
        let mut v: serde_json::Value = serde_json::from_slice(bytes).expect("inventory JSON");
        strip_installed(&mut v);
        *bytes = serde_json::to_vec_pretty(&v).expect("json");
    }
    s
}

fn strip_installed(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("installed");
            m.values_mut().for_each(strip_installed);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_installed),
        _ => {}
    }
}

/// Which of the two states `now` is; panics (naming the first difference from each) when it is
/// neither.
fn which(now: &Snapshot, old: &Snapshot, new: &Snapshot) -> &'static str {
    if now == old {
        return "old";
    }
    if now == new {
        return "new";
    }
    let diff = |a: &Snapshot| {
        a.keys()
            .chain(now.keys())
            .find(|k| a.get(*k) != now.get(*k))
            .cloned()
            .unwrap_or_default()
    };
    panic!(
        "the machine is neither the old state (first difference: {}) nor the new one (first difference: {})",
        diff(old),
        diff(new)
    );
}

/// Walks every fault point of `cmd` (a closure making the command afresh), from `saved`: stops
/// the run dead at step N, runs `recover`, and checks the machine is exactly `old` or `new`.
/// Returns (steps, finished, undone).
fn walk(lab: &Lab, saved: &Path, new: &Snapshot, cmd: &dyn Fn() -> Command) -> (u32, u32, u32) {
    lab.restore(saved);
    let old = state(&lab.machine());
    let (mut finished, mut undone) = (0, 0);
    for step in 1..200 {
        lab.restore(saved);
        let o = lab.run_faulted(&mut cmd(), step);
        if code(&o) == 0 {
            assert_eq!(which(&state(&lab.machine()), &old, new), "new");
            assert!(step > 10, "only {} fault points were walked", step - 1);
            return (step - 1, finished, undone);
        }
        assert_code(&o, 99);
        let r = lab.client(&["recover"]);
        assert_code(&r, 0);
        let now = state(&lab.machine());
        match which(&now, &old, new) {
            "old" => {
                undone += 1;
                // Before the journal is written there is nothing to undo.
                assert!(
                    stdout(&r).contains("undid") || stdout(&r).contains("nothing to recover"),
                    "step {step}: {}",
                    stdout(&r)
                );
            }
            _ => {
                finished += 1;
                // After the journal is removed there is nothing left to finish.
                assert!(
                    stdout(&r).contains("finished") || stdout(&r).contains("nothing to recover"),
                    "step {step}: {}",
                    stdout(&r)
                );
            }
        }
        // A second recover has nothing left to do.
        let again = lab.client(&["recover"]);
        assert_code(&again, 0);
        assert!(
            stdout(&again).contains("nothing to recover"),
            "{}",
            stdout(&again)
        );
    }
    panic!("the run never completed");
}

#[test]
fn a_run_stopped_at_any_commit_step_is_finished_or_undone_by_recover() {
    let lab = Lab::new();
    let saved = lab.save("r2");
    // The new state: a clean run of the package.
    assert_code(&lab.w.run(&lab.pkg3, &[]), 0);
    let new = state(&lab.machine());
    assert_tree_eq(&lab.machine().join("acme/engine"), &lab.engine[2]);
    assert_tree_eq(&lab.machine().join("acme/defs"), &lab.defs[2]);

    let inventory = lab.w.inventory_path();
    let pkg = lab.pkg3.clone();
    let (steps, finished, undone) = walk(&lab, &saved, &new, &|| {
        let mut c = Command::new(&pkg);
        c.arg("--inventory").arg(&inventory);
        c
    });
    eprintln!("apply: {steps} fault points, {finished} finished, {undone} undone");
    assert!(
        finished >= 3 && undone >= 5,
        "{finished} finished, {undone} undone"
    );
}

#[test]
fn a_rollback_stopped_at_any_step_is_finished_or_undone_by_recover() {
    let lab = Lab::new();
    // Release 2 is installed with release 1 kept. Roll definitions back (release 1 has no
    // requires of a newer engine).
    let saved = lab.save("r2");
    let o = lab.client(&["rollback", "acme-av", "definitions"]);
    assert_code(&o, 0);
    let new = state(&lab.machine());
    assert_tree_eq(&lab.machine().join("acme/defs"), &lab.defs[0]);

    let inventory = lab.w.inventory_path();
    let (steps, finished, undone) = walk(&lab, &saved, &new, &|| {
        let mut c = Command::new(stub_path());
        c.args(["rollback", "acme-av", "definitions", "--inventory"])
            .arg(&inventory);
        c
    });
    eprintln!("rollback: {steps} fault points, {finished} finished, {undone} undone");
    assert!(finished >= 2 && undone >= 3);
}

#[test]
fn recover_removes_the_temp_files_of_a_write_killed_before_its_rename() {
    // The kill -9 soak found one: killed while the journal's temp file was being written, a run
    // leaves `.inventory.json.journal.tmp-PID-N` and no journal.
    let lab = Lab::new();
    let before = state(&lab.machine());
    for name in [
        ".inventory.json.journal.tmp-4194000-0",
        ".inventory.json.tmp-4194000-1",
    ] {
        fs::write(lab.machine().join(name), b"{\"half\": ").expect("write");
    }
    let o = output(
        Command::new(stub_path())
            .args(["recover", "--inventory"])
            .arg(lab.w.inventory_path()),
    );
    assert_code(&o, 0);
    assert_eq!(state(&lab.machine()), before);
}

#[test]
fn the_next_package_run_recovers_first() {
    let lab = Lab::new();
    let before = state(&lab.machine());
    // Stop dead between the first rename and the rest: engine's live folder is gone.
    let mut trace = Command::new(&lab.pkg3);
    trace
        .arg("--inventory")
        .arg(lab.w.inventory_path())
        .env("IUPACK_FAULT_TRACE", "1");
    let stop = {
        let saved = lab.save("r2");
        let o = lab.run_faulted(&mut trace, 1000);
        assert_code(&o, 0);
        lab.restore(&saved);
        let steps = stderr(&o);
        let n = steps
            .lines()
            .position(|l| l.ends_with(": renamed"))
            .expect("a rename step");
        n as u32 + 1
    };
    let o = lab.run_faulted(&mut trace, stop);
    assert_code(&o, 99);
    assert!(!lab.machine().join("acme/engine").exists());
    assert_ne!(state(&lab.machine()), before);

    // Issue 20, item 8: --check (a detection rule, run often) changes nothing, not even the
    // undo: it says an update was interrupted, answers "needed" (half an update may be on disk)
    // and leaves the journal to the next changing run. --list likewise reads only.
    let interrupted = state(&lab.machine());
    for mode in ["--check", "--list"] {
        let o = lab.w.run(&lab.pkg3, &[mode]);
        assert_code(&o, if mode == "--check" { 1 } else { 0 });
        let said = if mode == "--check" {
            stderr(&o)
        } else {
            stdout(&o)
        };
        assert!(
            said.contains("an update was interrupted or is under way"),
            "{mode}: {said}"
        );
        assert!(!said.contains("undid"), "{mode}: {said}");
        assert_eq!(
            state(&lab.machine()),
            interrupted,
            "{mode} changed the machine"
        );
        assert!(lab.w.path("machine/inventory.json.journal").exists());
    }
    let o = lab.w.run(&lab.pkg3, &["--check"]);
    assert_eq!(stdout(&o).trim(), "needed");
    // The next changing run undoes it.
    let o = lab.client(&["recover"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("undid an interrupted update"),
        "{}",
        stdout(&o)
    );
    assert_eq!(state(&lab.machine()), before);

    // And an apply after a crash finishes the job.
    let o = lab.run_faulted(&mut trace, stop);
    assert_code(&o, 99);
    let report = lab.w.path("report.json");
    let o = lab
        .w
        .run(&lab.pkg3, &["--report", report.to_str().expect("utf-8")]);
    assert_code(&o, 0);
    let r: serde_json::Value =
        serde_json::from_slice(&fs::read(&report).expect("report")).expect("json");
    assert!(r["recovered"]
        .as_str()
        .is_some_and(|m| m.contains("undid an interrupted update")));
    assert_tree_eq(&lab.machine().join("acme/engine"), &lab.engine[2]);
    assert_tree_eq(&lab.machine().join("acme/defs"), &lab.defs[2]);
}

#[test]
fn a_held_lock_makes_a_second_update_wait_then_exit_40_and_a_dead_holders_lock_does_not_block() {
    let lab = Lab::new();
    let lock_path = lab.machine().join("inventory.json.lock");
    let before = state(&lab.machine());
    {
        let held = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .expect("lock file");
        held.lock().expect("lock");
        let t = std::time::Instant::now();
        let o = lab.w.run(&lab.pkg3, &["--wait", "0.5"]);
        assert_err(&o, 40, "another update holds the inventory lock");
        assert!(t.elapsed().as_millis() >= 500);
        fs::remove_file(&lock_path).expect("remove");
        assert_eq!(state(&lab.machine()), before);
    }
    // A lock file left by a dead process (not locked by anyone) blocks nothing, and is gone after.
    fs::write(&lock_path, "999999\n").expect("stale lock");
    let o = lab.w.run(&lab.pkg3, &["--wait", "0"]);
    assert_code(&o, 0);
    assert!(!lock_path.exists());
}

#[test]
fn concurrent_runs_one_applies_the_other_waits_and_finds_it_current() {
    let lab = Lab::new();
    let spawn = || {
        Command::new(&lab.pkg3)
            .arg("--inventory")
            .arg(lab.w.inventory_path())
            .args(["--wait", "60"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let outs = [
        a.wait_with_output().expect("wait"),
        b.wait_with_output().expect("wait"),
    ];
    for o in &outs {
        assert_code(o, 0);
    }
    let said: Vec<String> = outs.iter().map(stdout).collect();
    assert_eq!(
        said.iter()
            .filter(|s| s.contains("installed engine 3.0"))
            .count(),
        1,
        "{said:?}"
    );
    assert_eq!(
        said.iter()
            .filter(|s| s.contains("already current"))
            .count(),
        1,
        "{said:?}"
    );
    assert_tree_eq(&lab.machine().join("acme/engine"), &lab.engine[2]);
    assert_tree_eq(&lab.machine().join("acme/defs"), &lab.defs[2]);
}

fn set_hooks(lab: &Lab, hooks: serde_json::Value) {
    let mut inv = lab.w.inventory();
    inv["products"][0]["hooks"] = hooks;
    fs::write(
        lab.w.inventory_path(),
        serde_json::to_vec_pretty(&inv).expect("json"),
    )
    .expect("write inventory");
}

#[test]
fn a_validate_hook_sees_the_staged_tree_and_its_rejection_exits_31_changing_nothing() {
    let lab = Lab::new();
    let seen = lab.w.path("seen.txt");
    set_hooks(
        &lab,
        serde_json::json!({ "validate": [
            "sh", "-c",
            "echo \"$IUPACK_COMPONENT $IUPACK_VERSION $IUPACK_FROM\" >> \"$2\"; cat \"$1/bin/scan\" \"$1/main.avdb\" > /dev/null 2>&1; test -f \"$1/bin/scan\" && exit 3; exit 0",
            "hook", "{staged}", seen.to_str().expect("utf-8")
        ] }),
    );
    let before = state(&lab.machine());
    let o = lab.w.run(&lab.pkg3, &[]);
    assert_err(&o, 31, "the validate hook rejected the new engine");
    assert!(stderr(&o).contains("exited with 3"), "{}", stderr(&o));
    assert_eq!(state(&lab.machine()), before);
    // Run in requires order, engine first; the engine's staged tree had bin/scan, so it stopped.
    assert_eq!(fs::read_to_string(&seen).expect("seen"), "engine 3.0 2.0\n");

    // A hook that takes too long is stopped: also 31, unchanged.
    set_hooks(
        &lab,
        serde_json::json!({ "validate": ["sleep", "30"], "timeout_secs": 1 }),
    );
    let before = state(&lab.machine());
    let t = std::time::Instant::now();
    let o = lab.w.run(&lab.pkg3, &[]);
    assert_err(&o, 31, "did not finish within 1 s");
    assert!(t.elapsed().as_secs() < 10);
    assert_eq!(state(&lab.machine()), before);

    // A hook that accepts lets the update through; `after` runs once, after the commit.
    let after = lab.w.path("after.txt");
    set_hooks(
        &lab,
        serde_json::json!({
            "validate": ["sh", "-c", "test -d \"$1\"", "hook", "{staged}"],
            "after": ["sh", "-c", "echo \"$IUPACK_COMPONENTS\" >> \"$1\"; cat \"$2/bin/scan\" >> \"$1\"", "hook",
                      after.to_str().expect("utf-8"), lab.machine().join("acme/engine").to_str().expect("utf-8")]
        }),
    );
    let o = lab.w.run(&lab.pkg3, &[]);
    assert_code(&o, 0);
    assert_eq!(
        fs::read_to_string(&after).expect("after"),
        "engine definitions\n#!/bin/sh\necho 3\n"
    );
}

#[test]
fn a_failing_after_hook_is_a_warning_not_a_failure() {
    let lab = Lab::new();
    set_hooks(&lab, serde_json::json!({ "after": ["false"] }));
    let o = lab.w.run(&lab.pkg3, &["--json"]);
    assert_code(&o, 0);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(r["result"], "applied");
    assert!(r["warnings"][0]
        .as_str()
        .is_some_and(|w| w.contains("after hook failed")));
    assert_tree_eq(&lab.machine().join("acme/engine"), &lab.engine[2]);
}

#[test]
fn rollback_restores_the_kept_release_and_refuses_what_would_break() {
    let lab = Lab::new();
    // definitions 2 requires engine >= 2: the engine can't go back first.
    let before = state(&lab.machine());
    let o = lab.client(&["rollback", "acme-av", "engine"]);
    assert_err(&o, 11, "would leave definitions requiring engine >=2.0");
    assert_eq!(state(&lab.machine()), before);

    let o = lab.client(&["rollback", "acme-av", "definitions"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("rolled definitions back from 2.0 to 1.0"),
        "{}",
        stdout(&o)
    );
    let o = lab.client(&["rollback", "acme-av", "engine"]);
    assert_code(&o, 0);
    assert_tree_eq(&lab.machine().join("acme/engine"), &lab.engine[0]);
    assert_tree_eq(&lab.machine().join("acme/defs"), &lab.defs[0]);
    assert_eq!(lab.w.component("engine")["version"], "1.0");
    assert_eq!(lab.w.component("definitions")["version"], "1.0");
    assert!(lab.w.component("engine")["previous"].is_null());
    // Nothing kept any more: the side folders are gone, and a further rollback is refused.
    assert!(!lab.machine().join("acme/.engine.iupack").exists());
    let before = state(&lab.machine());
    let o = lab.client(&["rollback", "acme-av", "engine"]);
    assert_err(&o, 11, "no earlier version of engine is kept");
    assert_eq!(state(&lab.machine()), before);

    // The package brings release 3 back over it (a full install: no delta from 1).
    assert_code(&lab.w.run(&lab.pkg3, &[]), 0);
    assert_tree_eq(&lab.machine().join("acme/engine"), &lab.engine[2]);
}

#[test]
fn rollback_refuses_a_kept_copy_that_was_changed() {
    let lab = Lab::new();
    fs::write(
        lab.machine()
            .join("acme/.defs.iupack/previous-1.0/main.avdb"),
        b"tampered",
    )
    .expect("write");
    let before = state(&lab.machine());
    let o = lab.client(&["rollback", "acme-av", "definitions"]);
    assert_err(&o, 11, "was changed since it was kept");
    assert_eq!(state(&lab.machine()), before);
}

#[test]
fn status_says_what_is_installed_from_which_package() {
    let lab = Lab::new();
    let o = lab.client(&["status", "--json"]);
    assert_code(&o, 0);
    let st: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let comps = &st["products"][0]["components"];
    let engine = comps
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "engine")
        .expect("engine");
    assert_eq!(engine["version"], "2.0");
    assert_eq!(engine["kept"], serde_json::json!(["1.0"]));
    assert!(engine["package"]
        .as_str()
        .is_some_and(|p| p.starts_with("acme-av-")));
    assert_eq!(st["interrupted_update"], false);
    let o = lab.client(&["status"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("engine"), "{}", stdout(&o));
    assert!(stdout(&o).contains("kept: 1.0"), "{}", stdout(&o));
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| stdout(&o).trim() == "0")
        .unwrap_or(false)
}

/// Mounts a tmpfs of `size` at `dir` (root only); unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        fs::create_dir_all(dir).expect("mkdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }

    fn read_only_bind(dir: &Path) -> Option<Mount> {
        let run = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success())
        };
        if !run(&["--bind"]) {
            return None;
        }
        let m = Mount(dir.to_path_buf());
        let ro = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ro.then_some(m)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_exits_30_and_leaves_the_machine_as_it_was() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a small tmpfs needs root");
        return;
    }
    let lab = Lab::new();
    let saved = lab.save("r2");
    // The machine on a file system with room for what is installed but not for a new copy.
    let used: u64 = snapshot(&saved)
        .values()
        .map(|(_, b, _)| b.len() as u64)
        .sum();
    let size = used + 150_000;
    let Some(_m) = Mount::tmpfs(&lab.machine(), &size.to_string()) else {
        eprintln!("SKIPPED: cannot mount a tmpfs here");
        return;
    };
    copy_dir(&saved, &lab.machine());
    let before = state(&lab.machine());
    let o = lab.w.run(&lab.pkg3, &["--json"]);
    assert_err(&o, 30, "No space left on device");
    assert!(stderr(&o).contains("free disk space"), "{}", stderr(&o));
    assert_eq!(state(&lab.machine()), before);
}

#[test]
fn a_read_only_target_exits_30_and_changes_nothing() {
    let lab = Lab::new();
    let acme = lab.machine().join("acme");
    let before = state(&lab.machine());
    let _guard = if is_root() {
        let Some(m) = Mount::read_only_bind(&acme) else {
            eprintln!("SKIPPED: cannot bind-mount read-only here");
            return;
        };
        Some(m)
    } else {
        set_mode(&acme, 0o555);
        None
    };
    let o = lab.w.run(&lab.pkg3, &[]);
    assert_code(&o, 30);
    assert!(
        stderr(&o).contains("Read-only file system") || stderr(&o).contains("Permission denied"),
        "{}",
        stderr(&o)
    );
    if !is_root() {
        set_mode(&acme, 0o755);
    }
    assert_eq!(state(&lab.machine()), before);
}

/// The kill -9 soak: runs of a large package (many files, tens of MB) killed at random moments,
/// each followed by `recover` and the same check as the fault walk. `IUPACK_SOAK_RUNS` sets the
/// count (default 20); `.ci/run` runs a bounded count, `bench/soak.sh` a long one.
#[test]
#[ignore = "heavy: run by .ci/run and bench/soak.sh"]
fn kill_9_soak() {
    let runs: u32 = std::env::var("IUPACK_SOAK_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("IUPACK_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("time")
                .as_nanos() as u64
        });
    eprintln!("soak: {runs} runs, IUPACK_SOAK_SEED={seed}");
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let files = |gen: u64| -> Vec<(String, Vec<u8>)> {
        (0..300)
            .map(|i| {
                let len = 20_000 + (i * 2_711) % 180_000;
                (
                    format!("d{}/f{i}.bin", i % 17),
                    noise(gen * 1000 + i as u64, len),
                )
            })
            .collect()
    };
    for (gen, name) in [(1u64, "big-1"), (2, "big-2")] {
        let f = files(gen);
        let r: Vec<ReleaseFile<'_>> = f.iter().map(|(p, b)| (p.as_str(), &b[..], false)).collect();
        w.release(name, &r);
    }
    w.install_inventory(&[&pubkey], &[("definitions", Some("1.0"), "acme/defs")]);
    w.install_tree(&w.path("releases/big-1"), "acme/defs");
    let spec = w.spec(
        "big",
        &format!(
            "product = \"acme-av\"\n[targets]\nproduct_versions = \"*\"\nplatforms = [\"{}\"]\n[[components]]\nname = \"definitions\"\nversion = \"2.0\"\ncontent = \"../releases/big-2\"\n",
            this_platform()
        ),
    );
    let pkg = w.package(&spec, &key, "big");
    let saved = w.path("saved");
    copy_dir(&w.machine(), &saved);
    let restore = || {
        fsutil_remove(&w.machine());
        copy_dir(&saved, &w.machine());
    };
    let old = state(&w.machine());
    // How long a run takes under the trials' conditions (right after a restore, with its writes
    // still being flushed): the longest of three.
    let mut full_ms = 0;
    for _ in 0..3 {
        restore();
        let t = std::time::Instant::now();
        assert_code(&w.run(&pkg, &[]), 0);
        full_ms = full_ms.max(t.elapsed().as_millis() as u64);
    }
    let new = state(&w.machine());
    eprintln!(
        "soak: package {} bytes, a clean apply takes {full_ms} ms",
        fs::metadata(&pkg).expect("pkg").len()
    );

    let mut x = seed | 1;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    };
    let (mut killed_old, mut killed_new, mut completed) = (0, 0, 0);
    for trial in 0..runs {
        restore();
        // Even trials: anywhere in the run; odd ones: its last fifth, where the swap happens.
        let delay = if trial % 2 == 0 {
            rnd(full_ms * 12 / 10 + 1)
        } else {
            full_ms * 8 / 10 + rnd(full_ms * 3 / 10 + 1)
        };
        let mut child = Command::new(&pkg)
            .arg("--inventory")
            .arg(w.inventory_path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().expect("wait");
        let r = output(
            Command::new(stub_path())
                .args(["recover", "--inventory"])
                .arg(w.inventory_path()),
        );
        assert_code(&r, 0);
        let now = state(&w.machine());
        let outcome = which(&now, &old, &new);
        match (status.success(), outcome) {
            (true, _) => completed += 1,
            (false, "old") => killed_old += 1,
            (false, _) => killed_new += 1,
        }
        if trial % 25 == 0 {
            eprintln!("soak: trial {trial}: killed after {delay} ms → {outcome}");
        }
    }
    eprintln!(
        "soak: {runs} runs, 0 failures: {killed_old} killed and undone, {killed_new} killed after the commit point and finished, {completed} completed before the kill"
    );
}

#[test]
fn a_folder_in_use_fails_with_30_off_windows_and_changes_nothing() {
    // On Windows a folder with an open file is swapped at the next restart (exit 3010, proven
    // under Wine by stub/test-targets.sh); elsewhere a failed rename is an apply failure, undone.
    let lab = Lab::new();
    let before = state(&lab.machine());
    let o = output(
        Command::new(&lab.pkg3)
            .arg("--inventory")
            .arg(lab.w.inventory_path())
            .env("IUPACK_FAULT_IN_USE", "defs"),
    );
    assert_err(&o, 30, "cannot move");
    assert_eq!(state(&lab.machine()), before);
}

/// Issue 18, class 2: a run killed after the new inventory is in place but before its journal
/// is gone, then config management edits the inventory (adds a key): `recover` must finish the
/// update (the inventory, edited, records the new trees), not undo it and leave the inventory
/// naming trees that are gone. And the mirror case: an inventory edited while the update had not
/// yet committed is undone, and the edit stays.
#[test]
fn recovery_keeps_tree_and_inventory_agreeing_when_the_inventory_was_edited_after_the_crash() {
    let lab = Lab::new();
    let (mut trace, saved, at) = lab.traced_pkg3("edited");
    let add_key = |lab: &Lab| {
        let mut inv = lab.w.inventory();
        inv["products"][0]["trusted_keys"]
            .as_array_mut()
            .expect("keys")
            .push(serde_json::json!(
                "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"
            ));
        fs::write(
            lab.w.inventory_path(),
            serde_json::to_vec_pretty(&inv).expect("json"),
        )
        .expect("edit the inventory");
    };
    // Committed (the inventory replaced), then edited: finished, the edit kept.
    for step in ["inventory replaced", "inventory synced"] {
        lab.restore(&saved);
        let o = lab.run_faulted(&mut trace, at(step));
        assert_code(&o, 99);
        add_key(&lab);
        let o = lab.client(&["recover"]);
        assert_code(&o, 0);
        assert!(
            stdout(&o).contains("finished an interrupted update"),
            "{step}: {}",
            stdout(&o)
        );
        assert_tree_eq(&lab.machine().join("acme/engine"), &lab.engine[2]);
        assert_tree_eq(&lab.machine().join("acme/defs"), &lab.defs[2]);
        assert_eq!(lab.w.component("engine")["version"], "3.0", "{step}");
        assert_eq!(
            lab.w.inventory()["products"][0]["trusted_keys"]
                .as_array()
                .expect("keys")
                .len(),
            2,
            "{step}: the edit stays"
        );
        assert!(!lab.w.path("machine/inventory.json.journal").exists());
        let o = lab.w.run(&lab.pkg3, &["--check"]);
        assert_code(&o, 0);
    }
    // Not committed yet (the renames done, the inventory not replaced), then edited: undone, the
    // old trees back, the edit kept.
    lab.restore(&saved);
    let o = lab.run_faulted(&mut trace, at("inventory written"));
    assert_code(&o, 99);
    add_key(&lab);
    let o = lab.client(&["recover"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("undid an interrupted update"),
        "{}",
        stdout(&o)
    );
    assert_tree_eq(&lab.machine().join("acme/engine"), &lab.engine[1]);
    assert_tree_eq(&lab.machine().join("acme/defs"), &lab.defs[1]);
    assert_eq!(lab.w.component("engine")["version"], "2.0");
    let o = lab.w.run(&lab.pkg3, &["--check"]);
    assert_code(&o, 1);
}

/// Issue 18: a run killed after it moved a live folder aside, then something put in that
/// folder's place (by whoever can write its parent): recovery sets the intruder aside in the
/// side folder (kept: it is not iupack's to delete, and named in the result) and puts the live
/// folder back.
#[test]
fn recovery_puts_a_live_folder_back_even_over_something_put_in_its_place() {
    let lab = Lab::new();
    let before = state(&lab.machine());
    let (mut trace, _, at) = lab.traced_pkg3("intruder");
    let o = lab.run_faulted(&mut trace, at("renamed and synced"));
    assert_code(&o, 99);
    let engine = lab.machine().join("acme/engine");
    assert!(!engine.exists(), "the first rename moved engine aside");
    fs::create_dir(&engine).expect("mkdir");
    fs::write(engine.join("planted"), b"not iupack's").expect("write");
    let o = lab.client(&["recover"]);
    assert_code(&o, 0);
    let said = stdout(&o);
    assert!(said.contains("undid an interrupted update"), "{said}");
    assert!(
        said.contains("was found where the live folder belongs"),
        "{said}"
    );
    // The intruder is kept (it may be anyone's), set aside in the side folder; all else is as
    // it was.
    let mut now = state(&lab.machine());
    let aside: Vec<String> = now
        .keys()
        .filter(|k| k.starts_with("acme/.engine.iupack/displaced-"))
        .cloned()
        .collect();
    assert_eq!(aside.len(), 2, "{aside:?}");
    assert!(aside.iter().any(|k| k.ends_with("/planted")));
    for k in aside {
        now.remove(&k);
    }
    assert_same(&before, &now);
}

/// Issue 18: a run killed after it swapped a staged tree in, then something else put in the live
/// folder's place: undoing must not move that into staging (which it removes): it is kept, set
/// aside in the side folder, and the old tree is put back.
#[test]
fn recovery_never_removes_what_was_put_in_place_of_a_swapped_in_tree() {
    let lab = Lab::new();
    let before = state(&lab.machine());
    let (mut trace, _, nth) = lab.traced_pkg3_nth("swapped");
    // The second "renamed and synced" is the staged engine swapped in.
    let o = lab.run_faulted(&mut trace, nth("renamed and synced", 2));
    assert_code(&o, 99);
    let engine = lab.machine().join("acme/engine");
    assert_tree_eq(&engine, &lab.engine[2]);
    fs::rename(&engine, lab.machine().join("acme/engine-new-moved")).expect("move");
    fs::create_dir(&engine).expect("mkdir");
    fs::write(engine.join("precious"), b"not iupack's").expect("write");
    let o = lab.client(&["recover"]);
    assert_code(&o, 0);
    let said = stdout(&o);
    assert!(
        said.contains("was found where the live folder belongs"),
        "{said}"
    );
    let mut now = state(&lab.machine());
    let kept: Vec<String> = now
        .keys()
        .filter(|k| {
            k.starts_with("acme/.engine.iupack/displaced-")
                || k.starts_with("acme/engine-new-moved")
        })
        .cloned()
        .collect();
    assert!(
        kept.iter().any(|k| k.ends_with("/precious")),
        "the planted folder was not kept: {kept:?}"
    );
    for k in kept {
        now.remove(&k);
    }
    assert_same(&before, &now);
}
