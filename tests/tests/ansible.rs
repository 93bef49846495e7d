//! The sample Ansible playbook (samples/ansible/apply-package.yml), run for real with
//! ansible-core against localhost (`ansible_connection=local`) on a scratch inventory: the first
//! run reports changed and updates the machine, the second reports ok, a tampered package fails
//! and changes nothing. Needs `ansible-playbook`: `.ci/run` installs ansible-core in a venv and
//! runs this with `--ignored` (IUPACK_ANSIBLE_PLAYBOOK names the program, else PATH).

use iupack_tests::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn playbook() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/ansible/apply-package.yml")
}

/// One playbook run; returns the output and, for the task "Run the package", what Ansible said
/// about localhost (ok / changed / fatal).
fn play(w: &World, pkg: &Path, log: &Path) -> (Output, String, String) {
    let program =
        std::env::var_os("IUPACK_ANSIBLE_PLAYBOOK").unwrap_or_else(|| "ansible-playbook".into());
    let hosts = w.path("hosts.ini");
    fs::write(
        &hosts,
        "localhost ansible_connection=local ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n",
    )
    .expect("write hosts");
    let home = w.path("ansible-home");
    let o = output(
        Command::new(program)
            .arg("-i")
            .arg(&hosts)
            .arg(playbook())
            .arg("-v")
            .arg("-e")
            .arg(format!("iupack_package={}", pkg.display()))
            .arg("-e")
            .arg(format!("iupack_inventory={}", w.inventory_path().display()))
            .arg("-e")
            .arg(format!("iupack_dest={}", w.path("host-packages").display()))
            .arg("-e")
            .arg(format!("iupack_log={}", log.display()))
            .args(["-e", "iupack_become=false"])
            .env("ANSIBLE_HOME", &home)
            .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
            .env("ANSIBLE_REMOTE_TEMP", home.join("remote-tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_STDOUT_CALLBACK", "default")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0"),
    );
    let text = stdout(&o);
    let task = text
        .split("TASK [Run the package]")
        .nth(1)
        .and_then(|t| t.lines().find(|l| l.contains("[localhost]")))
        .unwrap_or_default()
        .to_string();
    let recap = text
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .find(|l| l.starts_with("localhost"))
        .unwrap_or_default()
        .to_string();
    (o, task, recap)
}

fn count(recap: &str, what: &str) -> u32 {
    recap
        .split_whitespace()
        .find_map(|f| f.strip_prefix(&format!("{what}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {what}= in the recap {recap:?}"))
}

#[test]
#[ignore = "needs ansible-playbook (ansible-core); .ci/run installs it and runs this"]
fn the_sample_playbook_reports_changed_then_ok_then_failed_for_a_tampered_package() {
    let w = World::new();
    let (key, pubkey) = w.keygen("publisher");
    let defs1 = w.release("defs-1", &[("main.avdb", b"definitions 1\n", false)]);
    let defs2 = w.release(
        "defs-2",
        &[
            ("main.avdb", &noise(7, 200_000), false),
            ("daily.avdb", b"daily\n", false),
        ],
    );
    let defs3 = w.release("defs-3", &[("main.avdb", &noise(8, 200_000), false)]);
    w.install_inventory(&[&pubkey], &[("definitions", Some("1"), "acme/defs")]);
    w.install_tree(&defs1, "acme/defs");
    let spec = |v: &str| {
        w.spec(
            &format!("v{v}"),
            &format!(
                "product = \"acme-av\"\n[targets]\nplatforms = [\"{}\"]\n[[components]]\nname = \"definitions\"\nversion = \"{v}\"\ncontent = \"../releases/defs-{v}\"\n",
                this_platform()
            ),
        )
    };
    let pkg = w.package(&spec("2"), &key, "acme-v2");
    let log = w.path("iupack.jsonl");

    // First run: the package is copied and applied: changed.
    let (o, task, recap) = play(&w, &pkg, &log);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    assert!(task.starts_with("changed:"), "{task}\n{}", stdout(&o));
    assert_eq!(count(&recap, "failed"), 0, "{recap}");
    assert!(
        stdout(&o).contains("installed definitions 2"),
        "{}",
        stdout(&o)
    );
    assert_tree_eq(&w.machine().join("acme/defs"), &defs2);
    assert_eq!(w.component("definitions")["version"], "2");

    // Second run: nothing to copy, nothing to apply: ok, nothing changed.
    let before = snapshot(&w.machine());
    let (o, task, recap) = play(&w, &pkg, &log);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    assert!(task.starts_with("ok:"), "{task}\n{}", stdout(&o));
    assert_eq!(
        (count(&recap, "changed"), count(&recap, "failed")),
        (0, 0),
        "{recap}"
    );
    assert_same(&before, &snapshot(&w.machine()));

    // The next release, altered on the way: the play fails for the host with the stub's reason,
    // and the machine is exactly as it was.
    let v3 = w.package(&spec("3"), &key, "acme-v3");
    let mut evil = fs::read(&v3).expect("read");
    let stub_len = fs::metadata(stub_path()).expect("stub").len() as usize;
    let at = stub_len + (evil.len() - stub_len) / 2;
    evil[at] ^= 0x10;
    let bad = w.path("packages/acme-v3-altered.run");
    fs::write(&bad, &evil).expect("write");
    let (o, task, recap) = play(&w, &bad, &log);
    assert_ne!(code(&o), 0, "{}", stdout(&o));
    assert!(task.starts_with("fatal:"), "{task}\n{}", stdout(&o));
    assert!(task.contains("\"rc\": 21"), "{task}");
    assert!(task.contains("damaged or was altered"), "{task}");
    assert_eq!(count(&recap, "failed"), 1, "{recap}");
    assert_same(&before, &snapshot(&w.machine()));

    // The intact package then applies.
    let (o, task, _) = play(&w, &v3, &log);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    assert!(task.starts_with("changed:"), "{task}");
    assert_tree_eq(&w.machine().join("acme/defs"), &defs3);

    // The host's log has one JSON line per run.
    let results: Vec<String> = fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("JSON line")["result"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(results, ["applied", "current", "refused", "applied"]);
}
