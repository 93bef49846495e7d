//! Issue 18: a local user against a stub run as root, and the inventory's edge cases. The
//! attacker is real: another uid (`setpriv` to nobody, 65534) that can write the folder holding
//! a component (a service's `StateDirectory=`), planting links and folders before the run and
//! racing it while it runs. Also: security floors that must hold, a symlinked inventory, the
//! inventory's owner and mode, duplicate products and folders shared across products.
//!
//! The attacker tests need root (they chown and change uid); run as another user they say so
//! and pass without testing anything. `.ci/run` runs as root.

use iupack_tests::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

macro_rules! need_root {
    () => {
        if !is_root() {
            eprintln!(
                "skipped: this test plays a second uid against a run as root; run it as root"
            );
            return;
        }
    };
}

/// A publisher, engine releases 1.0 and 2.0, a machine with 1.0 at `acme/engine`, and the
/// package of 2.0 (full content).
struct Box_ {
    w: World,
    key: PathBuf,
    pubkey: String,
    v1: PathBuf,
    v2: PathBuf,
    pkg: PathBuf,
}

fn spec(version: &str, content: &str, floor: Option<&str>) -> String {
    format!(
        r#"product = "acme-av"
[targets]
product_versions = ">=12.0, <13"
platforms = ["{}"]
[[components]]
name = "engine"
version = "{version}"
content = "../releases/{content}"
{}
"#,
        this_platform(),
        floor.map_or(String::new(), |f| format!("floor = \"{f}\""))
    )
}

impl Box_ {
    fn new() -> Box_ {
        let w = World::new();
        let (key, pubkey) = w.keygen("publisher");
        let v1 = w.release(
            "engine-1",
            &[
                ("bin/scan", b"#!/bin/sh\necho 1\n", true),
                ("lib/core.tbl", b"core 1\n", false),
            ],
        );
        let big = noise(3, 3 << 20);
        let v2 = w.release(
            "engine-2",
            &[
                ("bin/scan", b"#!/bin/sh\necho 2\n", true),
                ("lib/core.tbl", &big, false),
                ("lib/sub/deep/new.tbl", b"new in 2\n", false),
            ],
        );
        let pkg = w.package(&w.spec("v2", &spec("2.0", "engine-2", None)), &key, "v2");
        let b = Box_ {
            w,
            key,
            pubkey,
            v1,
            v2,
            pkg,
        };
        b.reset(false);
        b
    }

    fn acme(&self) -> PathBuf {
        self.w.machine().join("acme")
    }

    /// The machine back at 1.0; `allow` sets `allow_writable_parent` on engine.
    fn reset(&self, allow: bool) {
        if self.acme().exists() {
            fs::remove_dir_all(self.acme()).expect("clean");
        }
        self.w
            .install_inventory(&[&self.pubkey], &[("engine", Some("1.0"), "acme/engine")]);
        if allow {
            self.edit(|inv| {
                inv["products"][0]["components"]["engine"]["allow_writable_parent"] =
                    serde_json::json!(true)
            });
        }
        self.w.install_tree(&self.v1, "acme/engine");
        // The attacker can reach the machine's folders (the scratch root is 0700).
        for d in [self.w.path(""), self.w.machine()] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }

    fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let mut inv = self.w.inventory();
        f(&mut inv);
        fs::write(
            self.w.inventory_path(),
            serde_json::to_vec_pretty(&inv).expect("json"),
        )
        .expect("write inventory");
    }

    /// The machine back at 1.0 with the component two levels down, at `TOP/app/engine` (`TOP`
    /// made new, root's, 0755); returns `TOP`, for the test to give away or open up.
    fn component_under(&self, allow: bool, top: &str) -> PathBuf {
        self.reset(allow);
        let top_dir = self.w.machine().join(top);
        let _ = fs::remove_dir_all(&top_dir);
        fs::create_dir_all(top_dir.join("app")).expect("mkdir");
        copy_dir(&self.v1, &top_dir.join("app/engine"));
        self.edit(|inv| {
            inv["products"][0]["components"]["engine"]["path"] =
                serde_json::json!(format!("{top}/app/engine"))
        });
        top_dir
    }

    /// `iupack-stub rollback acme-av engine` on this machine.
    fn rollback(&self) -> std::process::Output {
        output(
            Command::new(stub_path())
                .args(["rollback", "acme-av", "engine", "--inventory"])
                .arg(self.w.inventory_path()),
        )
    }

    /// Runs `pkg`: refused with `code` and `words`, the machine byte-for-byte as before.
    fn refused_unchanged(
        &self,
        pkg: &std::path::Path,
        code: i32,
        words: &str,
    ) -> std::process::Output {
        let before = snapshot(&self.w.machine());
        let o = self.w.run(pkg, &[]);
        assert_err(&o, code, words);
        assert_same(&before, &snapshot(&self.w.machine()));
        o
    }

    /// Gives the folder holding the component to the attacker, as a service's data folder is.
    fn give_parent_away(&self) {
        std::os::unix::fs::chown(self.acme(), Some(NOBODY), Some(NOBODY)).expect("chown");
    }

    /// A folder only root may enter, with a secret file in it: what the attacker wants root to
    /// write into, move things into, or chmod.
    fn root_only(&self) -> PathBuf {
        let d = self.w.path("root-only");
        if !d.exists() {
            fs::create_dir(&d).expect("mkdir");
            fs::write(d.join("secret"), b"root's secret\n").expect("write");
            fs::set_permissions(d.join("secret"), fs::Permissions::from_mode(0o600))
                .expect("chmod");
            fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).expect("chmod");
        }
        d
    }

    /// The root-only folder with a folder of the component's name in it (root's, holding a
    /// file root cares about): what an attacker wants root to install into, move away or delete.
    fn victim(&self) -> PathBuf {
        let d = self.root_only();
        fs::create_dir_all(d.join("engine")).expect("mkdir");
        fs::write(d.join("engine/important.conf"), b"keep me\n").expect("write");
        d
    }

    /// The victim folder holds what `victim` put there and nothing else.
    fn assert_victim_untouched(&self) {
        let d = self.root_only();
        assert_eq!(
            names_in(&d),
            ["engine", "secret"],
            "root worked in the root-only folder"
        );
        assert_eq!(names_in(&d.join("engine")), ["important.conf"]);
        assert_eq!(
            fs::read(d.join("engine/important.conf")).expect("read"),
            b"keep me\n"
        );
    }

    /// The root-only folder holds only its secret, still 0600 and root's.
    fn assert_root_only_untouched(&self) {
        let d = self.root_only();
        assert_eq!(
            names_in(&d),
            ["secret"],
            "root wrote into the root-only folder"
        );
        let m = fs::symlink_metadata(d.join("secret")).expect("stat");
        assert_eq!(m.mode() & 0o7777, 0o600, "root chmodded the secret");
        assert_eq!(m.uid(), 0);
        assert_eq!(
            fs::read(d.join("secret")).expect("read"),
            b"root's secret\n"
        );
    }
}

/// A shell command run as the attacker (uid and gid nobody, no supplementary groups).
fn as_attacker(script: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "sh",
        "-c",
        script,
    ]);
    c
}

fn attacker(script: &str) {
    let o = output(&mut as_attacker(script));
    assert_code(&o, 0);
}

#[test]
fn a_component_folder_another_user_can_change_is_refused_unless_the_inventory_allows_it() {
    need_root!();
    let b = Box_::new();
    for setup in ["owned by the attacker", "writable by everyone"] {
        b.reset(false);
        match setup {
            "owned by the attacker" => b.give_parent_away(),
            _ => fs::set_permissions(b.acme(), fs::Permissions::from_mode(0o777)).expect("chmod"),
        }
        let o = b.refused_unchanged(&b.pkg, 30, "can be changed by another user");
        assert!(
            stderr(&o).contains("allow_writable_parent"),
            "{}",
            stderr(&o)
        );
    }
    // Intended (the inventory says so): it applies, and says what it found.
    b.reset(true);
    b.give_parent_away();
    let o = b.w.run(&b.pkg, &["--json"]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("can be changed by another user"),
        "{}",
        stdout(&o)
    );
    assert_tree_eq(&b.acme().join("engine"), &b.v2);
}

#[test]
fn a_side_folder_the_run_did_not_make_is_refused_and_never_followed() {
    need_root!();
    let b = Box_::new();
    let root_only = b.root_only();
    let plants = [
        format!("ln -s {} acme/.engine.iupack", root_only.display()),
        "mkdir acme/.engine.iupack".to_string(),
        "mkdir -m 777 acme/.engine.iupack".to_string(),
        "touch acme/.engine.iupack".to_string(),
    ];
    for plant in &plants {
        b.reset(true);
        b.give_parent_away();
        attacker(&format!("cd {} && {plant}", b.w.machine().display()));
        b.refused_unchanged(&b.pkg, 30, "is not a folder an iupack run made");
        b.assert_root_only_untouched();
    }
    // A root-owned side folder that others may write (made so by hand) is refused too.
    b.reset(true);
    fs::create_dir(b.acme().join(".engine.iupack")).expect("mkdir");
    fs::set_permissions(
        b.acme().join(".engine.iupack"),
        fs::Permissions::from_mode(0o777),
    )
    .expect("chmod");
    let o = b.w.run(&b.pkg, &[]);
    assert_err(&o, 30, "others can write it");
    assert_tree_eq(&b.acme().join("engine"), &b.v1);
}

/// The attacker races the run from the folder it can write: whenever the run has made the side
/// folder, moves it away and plants a symlink to a root-only folder in its place; whenever the
/// live folder is gone (between the two renames of the swap), plants a folder of its own there;
/// and tries to reach into the side folder. Every run ends refused with the machine unchanged or
/// applied with exactly the signed tree, owned by root; the root-only folder and file are never
/// written, moved into or chmodded.
#[test]
fn a_racing_local_user_cannot_redirect_an_update_run_as_root() {
    need_root!();
    let b = Box_::new();
    let root_only = b.root_only();
    let stop = b.w.path("stop-attacker");
    let script = format!(
        r#"cd {m}/acme || exit 1
n=0; reached=0
while [ ! -e {stop} ]; do
  n=$((n+1))
  if [ -d .engine.iupack ] && [ ! -L .engine.iupack ]; then
    mv .engine.iupack .stolen-$n 2>/dev/null && ln -s {ro} .engine.iupack 2>/dev/null
  fi
  [ -e engine ] || {{ mkdir engine && echo planted > engine/planted; }} 2>/dev/null
  ls .stolen-$n >/dev/null 2>&1 && reached=1
done
[ $reached = 0 ] || echo "the attacker could list a side folder"
exit $reached
"#,
        m = b.w.machine().display(),
        stop = stop.display(),
        ro = root_only.display(),
    );
    let (mut applied, mut refused) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..16 {
        if Instant::now() > deadline {
            break;
        }
        b.reset(true);
        b.give_parent_away();
        let _ = fs::remove_file(&stop);
        let racer = as_attacker(&script)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the attacker");
        let o = b.w.run(&b.pkg, &[]);
        fs::write(&stop, b"").expect("stop");
        let racer = racer.wait_with_output().expect("attacker ends");
        assert!(
            racer.status.success(),
            "{}",
            String::from_utf8_lossy(&racer.stdout)
        );
        let engine = b.acme().join("engine");
        match code(&o) {
            0 => {
                applied += 1;
                assert_tree_eq(&engine, &b.v2);
                assert_eq!(fs::metadata(&engine).expect("stat").uid(), 0);
                assert_eq!(b.w.component("engine")["version"], "2.0");
            }
            30 => {
                refused += 1;
                if snapshot(&engine) != snapshot(&b.v1) {
                    let left = names_in(&b.acme());
                    panic!(
                        "refused, but the live tree changed ({left:?}): {}{}",
                        stdout(&o),
                        stderr(&o)
                    );
                }
                assert_eq!(b.w.component("engine")["version"], "1.0");
            }
            c => panic!("exit {c}: {}{}", stdout(&o), stderr(&o)),
        }
        b.assert_root_only_untouched();
        // Nothing of the run's is left where the attacker could reach it.
        for e in fs::read_dir(b.acme()).expect("read").flatten() {
            let m = fs::symlink_metadata(e.path()).expect("stat");
            if m.is_dir() && m.uid() == 0 && e.file_name() != "engine" {
                assert_eq!(
                    m.mode() & 0o077,
                    0,
                    "{} is open to others",
                    e.path().display()
                );
            }
        }
    }
    eprintln!("race: {applied} applied, {refused} refused");
    assert!(applied + refused > 0);
}

/// A folder further up that the attacker can change: in the default configuration refused;
/// and swapping it for a symlink to a root-only folder (which holds a folder of the component's
/// name) never makes root install there, move that folder away or delete it, even with
/// `allow_writable_parent`.
#[test]
fn a_folder_further_up_that_another_user_can_change_is_never_a_way_in() {
    need_root!();
    let b = Box_::new();
    let victim = b.victim();
    for allow in [false, true] {
        // svc is the service's (nobody's); svc/app is root's; the component is svc/app/engine.
        let svc = b.component_under(allow, "svc");
        std::os::unix::fs::chown(&svc, Some(NOBODY), Some(NOBODY)).expect("chown");
        if !allow {
            let o = b.refused_unchanged(&b.pkg, 30, "can be changed by another user");
            assert!(
                stderr(&o).contains("svc (it belongs to uid 65534)"),
                "{}",
                stderr(&o)
            );
        }
        attacker(&format!(
            "cd {} && mv app app.orig && ln -s {} app",
            svc.display(),
            victim.display()
        ));
        let o = b.w.run(&b.pkg, &[]);
        assert_code(&o, 30);
        b.assert_victim_untouched();
    }
    // With the inventory's leave and no swap, the walk holds each folder open: it applies.
    let svc = b.component_under(true, "svc");
    std::os::unix::fs::chown(&svc, Some(NOBODY), Some(NOBODY)).expect("chown");
    let o = b.w.run(&b.pkg, &[]);
    assert_code(&o, 0);
    assert_tree_eq(&svc.join("app/engine"), &b.v2);
}

/// In a folder anyone may add to (sticky and world-writable, like /tmp) an entry is trusted
/// only from root, the run's user or the folder's owner: a symlink another user planted there,
/// leading to a root-only folder, is refused; root's own folder there is fine.
#[test]
fn in_a_folder_anyone_may_add_to_only_the_owners_entries_are_trusted() {
    need_root!();
    let b = Box_::new();
    let victim = b.victim();
    let setup = |plant: bool| {
        let st = b.component_under(false, "st");
        fs::set_permissions(&st, fs::Permissions::from_mode(0o1777)).expect("chmod");
        if plant {
            fs::remove_dir_all(st.join("app")).expect("clean");
            attacker(&format!("ln -s {} {}/app", victim.display(), st.display()));
        }
        st
    };
    setup(true);
    let o = b.w.run(&b.pkg, &[]);
    assert_err(&o, 30, "in a folder anyone may add to");
    b.assert_victim_untouched();
    let st = setup(false);
    let o = b.w.run(&b.pkg, &[]);
    assert_code(&o, 0);
    assert_tree_eq(&st.join("app/engine"), &b.v2);
}

/// The component's own folder, owned by another user (who could keep a handle inside it), is
/// refused like a parent that user can write.
#[test]
fn a_component_folder_another_user_owns_is_refused() {
    need_root!();
    let b = Box_::new();
    std::os::unix::fs::chown(b.acme().join("engine"), Some(NOBODY), Some(NOBODY)).expect("chown");
    b.refused_unchanged(&b.pkg, 30, "it belongs to uid 65534");
}

/// With `allow_writable_parent`, a root-owned folder the attacker renames into the live
/// folder's place (another of root's folders in the same writable folder) is not the recorded
/// tree: the update refuses instead of keeping it as the previous copy and pruning (deleting) it.
#[test]
fn a_folder_renamed_into_the_live_folders_place_is_never_kept_and_pruned() {
    need_root!();
    let b = Box_::new();
    b.reset(true);
    b.edit(|inv| inv["products"][0]["keep_previous"] = serde_json::json!(0));
    assert_code(&b.w.run(&b.pkg, &[]), 0);
    assert!(
        b.w.component("engine")["tree"].is_string(),
        "2.0's tree is recorded"
    );
    b.w.release("engine-3", &[("bin/scan", b"#!/bin/sh\necho 3\n", true)]);
    let pkg3 = b.w.package(
        &b.w.spec("v3", &spec("3.0", "engine-3", None)),
        &b.key,
        "v3",
    );
    let data = b.acme().join("data");
    fs::create_dir(&data).expect("mkdir");
    fs::write(data.join("root.db"), b"root's data\n").expect("write");
    fs::set_permissions(&data, fs::Permissions::from_mode(0o700)).expect("chmod");
    b.give_parent_away();
    attacker(&format!(
        "cd {} && mv engine engine.real && mv data engine",
        b.acme().display()
    ));
    let o = b.w.run(&pkg3, &[]);
    assert_err(&o, 30, "is not the tree the inventory records");
    assert_eq!(
        fs::read(b.acme().join("engine/root.db")).expect("root's folder kept whole"),
        b"root's data\n"
    );
    assert_eq!(b.w.component("engine")["version"], "2.0");
}

/// A group-writable folder is writable by others whatever its group (a POSIX ACL's grant shows
/// there as the mask), root's group included.
#[test]
fn a_group_writable_parent_counts_whatever_the_group() {
    need_root!();
    let b = Box_::new();
    fs::set_permissions(b.acme(), fs::Permissions::from_mode(0o775)).expect("chmod");
    b.refused_unchanged(&b.pkg, 30, "group 0 (or an ACL) may write it");
}

/// `--log` and `--report` in a folder the attacker can write: a planted symlink or hard link to a
/// root-only file is never written through, and a planted report is replaced by root's own.
#[test]
fn log_and_report_paths_planted_by_another_user_are_not_followed_or_handed_back() {
    need_root!();
    let b = Box_::new();
    let victim = b.root_only();
    let logs = b.w.path("logs");
    fs::create_dir(&logs).expect("mkdir");
    std::os::unix::fs::chown(&logs, Some(NOBODY), Some(NOBODY)).expect("chown");
    attacker(&format!(
        "cd {} && ln -s {}/secret iupack.log && echo forged > report.json",
        logs.display(),
        victim.display()
    ));
    let o = b.w.run(
        &b.pkg,
        &[
            "--log",
            &logs.join("iupack.log").display().to_string(),
            "--report",
            &logs.join("report.json").display().to_string(),
        ],
    );
    b.assert_root_only_untouched();
    // Issue 20: the log is checked before the run, so the planted link stops it there (exit 2,
    // nothing changed), and the report says why.
    assert_err(&o, 2, "cannot write the log");
    let report = fs::symlink_metadata(logs.join("report.json")).expect("stat");
    assert_eq!(report.uid(), 0, "the report was handed to its planter");
    let text = fs::read_to_string(logs.join("report.json")).expect("read");
    assert!(text.contains("\"exit_code\": 2"), "{text}");
}

/// Issue 18, class 4: a package whose components are all current still records its floor, so a
/// later downgrade or rollback can't go below it; a kept copy of unknown version can't be rolled
/// back to while a floor is recorded.
#[test]
fn a_signed_floor_holds_once_seen_even_from_a_package_with_nothing_to_install() {
    let b = Box_::new();
    // 2.0 installed; an older 1.0 package kept for a downgrade later.
    assert_code(&b.w.run(&b.pkg, &[]), 0);
    let old = b.w.package(
        &b.w.spec("v1", &spec("1.0", "engine-1", None)),
        &b.key,
        "v1",
    );
    // The same 2.0 again, signed with a floor of 2.0: nothing to install, the floor recorded.
    let floored = b.w.package(
        &b.w.spec("v2f", &spec("2.0", "engine-2", Some("2.0"))),
        &b.key,
        "v2f",
    );
    let o = b.w.run(&floored, &[]);
    assert_code(&o, 0);
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        said.contains("recorded the security floor engine >= 2.0"),
        "{said}"
    );
    assert_eq!(b.w.component("engine")["floor"], "2.0");
    let before = snapshot(&b.w.machine());
    let o = b.w.run(&old, &["--allow-downgrade"]);
    assert_err(&o, 12, "below the security floor");
    let o = b.rollback();
    assert_err(&o, 12, "security floor");
    assert_same(&before, &snapshot(&b.w.machine()));

    // A kept copy of no recorded version (installed before iupack) is not proven above a floor.
    b.reset(false);
    b.edit(|inv| {
        let e = &mut inv["products"][0]["components"]["engine"];
        e.as_object_mut().expect("object").remove("version");
        e["floor"] = serde_json::json!("1.5");
    });
    assert_code(&b.w.run(&b.pkg, &[]), 0);
    assert_eq!(
        b.w.component("engine")["previous"][0]["version"],
        serde_json::Value::Null
    );
    let before = snapshot(&b.w.machine());
    let o = b.rollback();
    assert_err(&o, 12, "security floor");
    assert_same(&before, &snapshot(&b.w.machine()));
}

/// Issue 18, class 7: a symlinked inventory is written through (the link stays, its target is
/// the file that changes) and locked as its target; the inventory keeps its owner, group and
/// mode; unknown fields of kept copies survive.
#[test]
fn a_symlinked_inventory_is_written_through_and_keeps_its_owner_and_mode() {
    let b = Box_::new();
    let real = b.w.path("config/inventory.json");
    fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
    // Relative component paths resolve against the real file's folder.
    b.edit(|inv| {
        inv["products"][0]["keep_previous"] = serde_json::json!(2);
        inv["products"][0]["components"]["engine"]["path"] =
            serde_json::json!(b.acme().join("engine").display().to_string());
        inv["products"][0]["components"]["engine"]["previous"] =
            serde_json::json!([{ "dir": "previous-0.9", "version": "0.9", "vendor": { "kept": 1 } }]);
    });
    fs::rename(b.w.inventory_path(), &real).expect("move");
    std::os::unix::fs::symlink(&real, b.w.inventory_path()).expect("symlink");
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).expect("chmod");
    if is_root() {
        std::os::unix::fs::chown(&real, Some(NOBODY), Some(NOBODY)).expect("chown");
    }
    let o = b.w.run(&b.pkg, &[]);
    assert_code(&o, 0);
    let link = fs::symlink_metadata(b.w.inventory_path()).expect("stat");
    assert!(
        link.file_type().is_symlink(),
        "the inventory link was replaced by a file"
    );
    let m = fs::metadata(&real).expect("stat");
    assert_eq!(m.mode() & 0o7777, 0o640);
    if is_root() {
        assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY));
    }
    let inv: serde_json::Value =
        serde_json::from_slice(&fs::read(&real).expect("read")).expect("json");
    let engine = &inv["products"][0]["components"]["engine"];
    assert_eq!(engine["version"], "2.0");
    assert_eq!(engine["previous"][1]["vendor"]["kept"], 1, "{engine}");
    assert!(!b.w.machine().join("inventory.json.lock").exists());
    assert!(!b.w.machine().join("inventory.json.journal").exists());
}

/// Issue 18, class 7: two products with one id, and a component folder inside another
/// product's, are refused before anything changes.
#[test]
fn duplicate_products_and_folders_shared_across_products_are_refused() {
    let b = Box_::new();
    let other = |id: &str, path: &str| {
        serde_json::json!({
            "id": id, "version": "1.0", "trusted_keys": [], "revoked_keys": [],
            "components": { "data": { "path": path } }
        })
    };
    for (product, want) in [
        (
            other("acme-av", "other/data"),
            "lists product acme-av twice",
        ),
        (
            other("beta-fw", "acme/engine/plugins"),
            "folders that overlap",
        ),
        (other("beta-fw", "acme"), "folders that overlap"),
    ] {
        b.reset(false);
        b.edit(|inv| {
            inv["products"]
                .as_array_mut()
                .expect("products")
                .push(product.clone())
        });
        b.refused_unchanged(&b.pkg, 1, want);
    }
}
