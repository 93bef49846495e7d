//! `iupack-stub forget PRODUCT [--delete]` (issue 23): a product taken off the machine. Without
//! `--delete` only its inventory entry goes; with it, its folders and kept copies too, through
//! the journal, so that a run stopped at any step leaves the product whole or wholly gone. Other
//! products are never touched; a refusal changes nothing.

use iupack_tests::*;
use std::fs;
use std::process::{Command, Output};

fn client(w: &World, args: &[&str]) -> Output {
    output(
        Command::new(stub_path())
            .current_dir(w.path(""))
            .args(args)
            .arg("--inventory")
            .arg(w.inventory_path()),
    )
}

/// A machine with acme-av (engine 3.7.2 installed over 3.7.1, which is kept) and a second
/// product, other-av, whose folder must never be touched. Returns the engine 3.7.2 package.
fn machine(w: &World) -> std::path::PathBuf {
    let (key, _) = w.keygen("publisher");
    for n in 1..=2u8 {
        w.release_owned(&format!("engine-{n}"), &store_engine(n));
        let spec = w.spec(
            &format!("engine-{n}"),
            &format!(
                "product = \"acme-av\"\n[targets]\nplatforms = [\"{}\"]\n[[components]]\nname = \"engine\"\nversion = \"3.7.{n}\"\ncontent = \"../releases/engine-{n}\"\n",
                this_platform()
            ),
        );
        w.package(&spec, &key, &format!("engine-{n}"));
    }
    let pubkey = "keys/publisher.pub";
    let o = client(
        w,
        &[
            "init",
            "acme-av",
            "12.1",
            "--key",
            pubkey,
            "--component",
            "engine=acme/engine",
        ],
    );
    assert_code(&o, 0);
    let o = client(
        w,
        &[
            "init",
            "other-av",
            "1",
            "--key",
            pubkey,
            "--component",
            "data=other/data",
        ],
    );
    assert_code(&o, 0);
    fs::create_dir_all(w.machine().join("other/data")).expect("mkdir");
    fs::write(w.machine().join("other/data/keep.txt"), b"other's").expect("write");
    for n in 1..=2 {
        let o = w.run(&w.path(&format!("packages/engine-{n}.run")), &[]);
        assert_code(&o, 0);
    }
    assert!(w
        .machine()
        .join("acme/.engine.iupack/previous-3.7.1")
        .is_dir());
    w.path("packages/engine-2.run")
}

fn products(w: &World) -> Vec<String> {
    w.inventory()["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn forget_takes_the_product_off_and_delete_takes_its_folders() {
    let w = World::new();
    let pkg = machine(&w);
    let other = snapshot(&w.machine().join("other"));
    // An unknown product: refused, nothing changed.
    let before = snapshot(&w.machine());
    let o = client(&w, &["forget", "acme", "--delete"]);
    assert_err(&o, 10, "it has: acme-av, other-av");
    assert_same(&before, &snapshot(&w.machine()));
    // --delete goes with forget only.
    let o = client(&w, &["status", "--delete"]);
    assert_err(&o, 2, "--delete goes with forget");

    // Without --delete: the entry goes, the folders stay as they are.
    let engine = snapshot(&w.machine().join("acme"));
    let o = client(&w, &["forget", "acme-av"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("folders were left"), "{}", stdout(&o));
    assert_eq!(products(&w), vec!["other-av"]);
    assert_same(&engine, &snapshot(&w.machine().join("acme")));
    let o = w.run(&pkg, &[]);
    assert_code(&o, 10);

    // Set up again (its version there), then forget with --delete: folder and kept copies go.
    let o = client(
        &w,
        &[
            "init",
            "acme-av",
            "12.1",
            "--key",
            "keys/publisher.pub",
            "--component",
            "engine@3.7.2=acme/engine",
        ],
    );
    assert_code(&o, 0);
    let o = client(&w, &["forget", "acme-av", "--delete", "--json"]);
    assert_code(&o, 0);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("report");
    assert_eq!(r["result"], "forgotten");
    assert_eq!(names_in(&w.machine().join("acme")), Vec::<String>::new());
    assert_eq!(products(&w), vec!["other-av"]);
    assert_same(&other, &snapshot(&w.machine().join("other")));
    assert!(!w.machine().join("inventory.json.journal").exists());
}

#[test]
fn forget_delete_refuses_a_folder_others_can_change_and_changes_nothing() {
    let w = World::new();
    machine(&w);
    set_mode(&w.machine().join("acme"), 0o777);
    let before = snapshot(&w.path(""));
    let o = client(&w, &["forget", "acme-av", "--delete"]);
    assert_err(&o, 30, "can be changed by another user");
    assert_same(&before, &snapshot(&w.path("")));
    set_mode(&w.machine().join("acme"), 0o755);
}

/// `forget --delete` stopped dead at each of its steps: after `recover`, acme-av is either all
/// there (inventory entry, folder and kept copy byte for byte) or all gone.
#[test]
fn a_forget_stopped_at_any_step_leaves_the_product_whole_or_gone() {
    let w = World::new();
    machine(&w);
    let saved = w.path("saved");
    cp_a(&w.machine(), &saved);
    let whole = snapshot(&w.machine().join("acme"));
    let mut stopped = 0;
    for step in 1.. {
        assert!(step < 100, "the fault walk never finished");
        let o = output(
            Command::new(stub_path())
                .args(["forget", "acme-av", "--delete", "--inventory"])
                .arg(w.inventory_path())
                .env("IUPACK_FAULT_STEP", step.to_string()),
        );
        if code(&o) == 0 {
            break;
        }
        assert_eq!(code(&o), 99, "step {step}: {}", stderr(&o));
        stopped += 1;
        assert_code(&client(&w, &["recover"]), 0);
        if products(&w).contains(&"acme-av".to_string()) {
            assert_same(&whole, &snapshot(&w.machine().join("acme")));
        } else {
            assert_eq!(
                names_in(&w.machine().join("acme")),
                Vec::<String>::new(),
                "step {step}"
            );
        }
        cp_a(&saved, &w.machine());
    }
    assert!(stopped >= 4, "only {stopped} steps");
    assert_eq!(products(&w), vec!["other-av"]);
}
