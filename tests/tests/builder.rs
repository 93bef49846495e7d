//! The admin's side: keys, builds from every kind of content, and interoperability with the
//! standard tools (the reference `minisign`, `unzip`), plus `iupack inspect` and `verify`.

use iupack_stub::format::package::{Expect, Package};
use iupack_stub::format::write::{full_entries, scan_dir, write_package};
use iupack_tests::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn simple_spec(w: &World, name: &str, content: &str, extra: &str) -> PathBuf {
    w.spec(
        name,
        &format!(
            "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n[[components]]\nname = \"definitions\"\nversion = \"2026.11.24.1\"\ncontent = \"{content}\"\n{extra}"
        ),
    )
}

fn defs_release(w: &World) -> PathBuf {
    let big: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    w.release(
        "defs",
        &[
            ("main.avdb", &big, false),
            ("sub/dir/daily.avdb", b"daily\n", false),
            ("tool.sh", b"#!/bin/sh\n", true),
        ],
    )
}

/// A machine with `definitions` configured but not installed, trusting `pubkey`.
fn fresh_machine(w: &World, pubkey: &str) {
    w.install_inventory(&[pubkey], &[("definitions", None, "acme/defs")]);
}

#[test]
fn keygen_writes_a_private_secret_key_and_refuses_to_overwrite() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let before = fs::read(&key).expect("key");
    let o = iupack()
        .args(["keygen", "--no-password", "-o"])
        .arg(key.with_extension(""))
        .output()
        .expect("run");
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("already exists") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(&key).expect("key"), before);
    let o = iupack()
        .args(["keygen", "--no-password", "--force", "-o"])
        .arg(key.with_extension(""))
        .output()
        .expect("run");
    assert_code(&o, 0);
    assert_ne!(fs::read(&key).expect("key"), before);
}

#[test]
fn password_protected_keys_sign_with_iupack_password_and_refuse_a_wrong_one() {
    let w = World::new();
    let prefix = w.path("pw");
    let o = iupack()
        .args(["keygen", "-o"])
        .arg(&prefix)
        .env("IUPACK_PASSWORD", "correct horse")
        .output()
        .expect("run");
    assert_code(&o, 0);
    assert!(fs::read_to_string(prefix.with_extension("key"))
        .expect("key")
        .contains("encrypted"));
    let spec = simple_spec(&w, "s", "../releases/defs", "");
    defs_release(&w);
    let build = |pw: Option<&str>| {
        let mut c = iupack();
        c.arg("build")
            .arg(&spec)
            .arg("--key")
            .arg(prefix.with_extension("key"))
            .arg("--out")
            .arg(w.path("p.run"))
            .arg("--stub")
            .arg(stub_path())
            .arg("--force")
            .stdin(Stdio::null());
        match pw {
            Some(p) => c.env("IUPACK_PASSWORD", p),
            None => c.env_remove("IUPACK_PASSWORD"),
        };
        c.output().expect("run")
    };
    let o = build(Some("wrong"));
    assert_err(&o, 2, "cannot unlock");
    let o = build(None);
    assert_err(&o, 2, "IUPACK_PASSWORD");
    assert_code(&build(Some("correct horse")), 0);
}

#[test]
fn minisign_verifies_what_iupack_signs() {
    require_tool("minisign");
    require_tool("unzip");
    let w = World::new();
    let (key, _) = w.keygen("k");
    let pubfile = key.with_extension("pub");
    defs_release(&w);
    let pkg = w.package(&simple_spec(&w, "s", "../releases/defs", ""), &key, "p");

    // The whole-file signature.
    let o = Command::new("minisign")
        .arg("-Vm")
        .arg(&pkg)
        .arg("-p")
        .arg(&pubfile)
        .output()
        .expect("minisign");
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("iupack-package file=p.run product=acme-av"),
        "{}",
        stdout(&o)
    );
    // The manifest signature, taken out with unzip: the manifest entry is the manifest's one
    // line of JSON, then its signature (docs/format.md).
    let dir = w.path("m");
    fs::create_dir_all(&dir).expect("mkdir");
    let o = Command::new("unzip")
        .arg("-p")
        .arg(&pkg)
        .arg("iupack/manifest.json")
        .output()
        .expect("unzip");
    assert_code(&o, 0);
    let line = o
        .stdout
        .iter()
        .position(|&b| b == b'\n')
        .expect("two parts");
    fs::write(dir.join("manifest.json"), &o.stdout[..line]).expect("write");
    fs::write(dir.join("manifest.json.minisig"), &o.stdout[line + 1..]).expect("write");
    let o = Command::new("minisign")
        .args(["-V", "-H", "-m"])
        .arg(dir.join("manifest.json"))
        .arg("-p")
        .arg(&pubfile)
        .output()
        .expect("minisign");
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("iupack product=acme-av id=acme-av-2026.11.24.1-"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn keys_made_by_minisign_build_packages_the_stub_accepts() {
    require_tool("minisign");
    let w = World::new();
    let release = defs_release(&w);
    for (name, password) in [("nopw", None), ("pw", Some("s3cret pass"))] {
        let (sk, pk) = (
            w.path(&format!("{name}.key")),
            w.path(&format!("{name}.pub")),
        );
        let mut c = Command::new("minisign");
        c.arg("-G").arg("-p").arg(&pk).arg("-s").arg(&sk);
        c.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if password.is_none() {
            c.arg("-W");
        }
        let mut child = c.spawn().expect("minisign -G");
        if let Some(p) = password {
            use std::io::Write;
            write!(child.stdin.take().expect("stdin"), "{p}\n{p}\n").expect("password");
        }
        assert!(child.wait().expect("wait").success());
        let b64 = fs::read_to_string(&pk)
            .expect("pub")
            .lines()
            .nth(1)
            .expect("key")
            .to_string();
        fresh_machine(&w, &b64);
        let spec = simple_spec(&w, name, "../releases/defs", "");
        let out = w.path(&format!("packages/{name}.run"));
        fs::create_dir_all(out.parent().expect("p")).expect("mkdir");
        let mut b = iupack();
        b.arg("build")
            .arg(&spec)
            .arg("--key")
            .arg(&sk)
            .arg("--out")
            .arg(&out)
            .arg("--stub")
            .arg(stub_path());
        if let Some(p) = password {
            b.env("IUPACK_PASSWORD", p);
        }
        assert_code(&b.output().expect("build"), 0);
        assert_code(&w.run(&out, &[]), 0);
        assert_tree_eq(&w.machine().join("acme/defs"), &release);
        fs::remove_dir_all(w.machine()).expect("reset machine");
    }
}

#[test]
fn unzip_lists_the_package_without_warnings() {
    require_tool("unzip");
    let w = World::new();
    let (key, _) = w.keygen("k");
    defs_release(&w);
    let spec = simple_spec(&w, "s", "../releases/defs", "");
    for (method, entries) in [
        (
            "deflate",
            &[
                "full/definitions/main.avdb",
                "full/definitions/sub/dir/daily.avdb",
            ][..],
        ),
        ("zstd", &["full/definitions.tar.zst"][..]),
        ("xz", &["full/definitions.tar.xz"][..]),
    ] {
        let (o, pkg) = w.build_with(&spec, &key, method, &["--compression", method]);
        assert_code(&o, 0);
        let o = Command::new("unzip")
            .arg("-l")
            .arg(&pkg)
            .output()
            .expect("unzip");
        assert_code(&o, 0);
        let text = stdout(&o) + &stderr(&o);
        for entry in ["iupack/manifest.json"].iter().chain(entries) {
            assert!(
                text.contains(entry),
                "{method}: {entry} not listed:\n{text}"
            );
        }
        assert!(!text.to_lowercase().contains("warning"), "{text}");
        let o = Command::new("unzip")
            .arg("-t")
            .arg(&pkg)
            .output()
            .expect("unzip");
        assert_code(&o, 0);
    }
}

#[test]
fn full_archives_unpack_by_hand_with_unzip_and_tar() {
    require_tool("unzip");
    require_tool("zstd");
    require_tool("xz");
    let w = World::new();
    let (key, _) = w.keygen("k");
    let release = defs_release(&w);
    let spec = simple_spec(&w, "s", "../releases/defs", "");
    for (method, unpack) in [("zstd", "zstd -dc"), ("xz", "xz -dc")] {
        let (o, pkg) = w.build_with(&spec, &key, method, &["--compression", method]);
        assert_code(&o, 0);
        let dir = w.path(&format!("by-hand-{method}"));
        fs::create_dir_all(&dir).expect("mkdir");
        let ext = if method == "zstd" { "zst" } else { "xz" };
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "unzip -p '{}' full/definitions.tar.{ext} | {unpack} | tar -x -C '{}'",
                pkg.display(),
                dir.display()
            ))
            .output()
            .expect("sh");
        assert_code(&o, 0);
        assert!(stderr(&o).is_empty(), "{method}: {}", stderr(&o));
        assert_tree_eq(&dir, &release);
    }
}

#[test]
fn content_from_zip_tar_and_tar_gz_matches_the_folder() {
    require_tool("zip");
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let release = defs_release(&w);
    let rel = w.path("releases");
    let sh = |cmd: &str| {
        let o = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&rel)
            .output()
            .expect("sh");
        assert_code(&o, 0);
    };
    sh("cd defs && zip -qr ../defs.zip . && tar cf ../defs.tar . && tar czf ../defs-top.tar.gz -C .. defs");
    let mut trees = Vec::new();
    for (name, content, extra) in [
        ("dir", "../releases/defs", ""),
        ("zip", "../releases/defs.zip", ""),
        ("tar", "../releases/defs.tar", ""),
        (
            "targz",
            "../releases/defs-top.tar.gz",
            "strip_components = 1\n",
        ),
    ] {
        let pkg = w.package(&simple_spec(&w, name, content, extra), &key, name);
        let o = iupack()
            .args(["inspect", "--json"])
            .arg(&pkg)
            .output()
            .expect("inspect");
        assert_code(&o, 0);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
        trees.push(
            v["manifest"]["components"][0]["tree"]
                .as_str()
                .expect("tree")
                .to_string(),
        );
        fresh_machine(&w, &pubkey);
        assert_code(&w.run(&pkg, &[]), 0);
        assert_tree_eq(&w.machine().join("acme/defs"), &release);
        fs::remove_dir_all(w.machine()).expect("reset");
    }
    assert!(trees.iter().all(|t| *t == trees[0]), "{trees:?}");
}

#[test]
fn build_refuses_overwrite_empty_components_links_and_missing_content() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    defs_release(&w);
    let spec = simple_spec(&w, "s", "../releases/defs", "");
    let pkg = w.package(&spec, &key, "p");
    let before = fs::read(&pkg).expect("pkg");
    let (o, _) = w.build(&spec, &key, "p");
    assert_err(&o, 2, "already exists");
    assert_eq!(fs::read(&pkg).expect("pkg"), before);

    let deltas = simple_spec(
        &w,
        "d",
        "../releases/defs",
        "[[components.deltas]]\nversion = \"2026.11.24.1\"\ncontent = \"../releases/defs\"\n",
    );
    let (o, _) = w.build(&deltas, &key, "d");
    assert_err(&o, 2, "has a delta from its own version 2026.11.24.1");
    let empty = simple_spec(&w, "e", "../releases/defs", "full = false\n");
    let (o, _) = w.build(&empty, &key, "e");
    assert_err(&o, 2, "full = false and no [[components.deltas]]");

    let missing = simple_spec(&w, "m", "../releases/nope", "");
    let (o, _) = w.build(&missing, &key, "m");
    assert_err(&o, 2, "cannot read content");

    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", w.path("releases/defs/link")).expect("symlink");
        let (o, _) = w.build(&spec, &key, "l");
        assert_err(&o, 2, "symlink or special file");
    }
    // Nothing half-written is left beside the outputs.
    let names: Vec<String> = fs::read_dir(w.path("packages"))
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

/// Issue 18, class 3: names Windows reads differently (a device, a dropped trailing dot, a short
/// name, a reserved character) or that a case-insensitive file system merges (Unicode case
/// twins) are refused when content is read: from a folder, an archive or by `iupack add`, with
/// the file named and what to do; nothing is written.
#[test]
fn build_refuses_names_unsafe_on_any_platform() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    let cases: &[(&[&str], &str)] = &[
        (&["CON"], "a Windows device name"),
        (&["bin/nul.txt"], "a Windows device name"),
        (&["AUX/x"], "a Windows device name"),
        (&["COM\u{b9}"], "a Windows device name"),
        (&["conin$"], "a Windows device name"),
        (&["readme."], "ends in a dot or space"),
        (&["dir /x"], "ends in a dot or space"),
        (&["LONGFI~1.TXT"], "8.3 short name"),
        (&["a<b>"], "not allowed in Windows file names"),
        (&["what?"], "not allowed in Windows file names"),
        (&["\u{3c3}.txt", "\u{3c2}.txt"], "differ only in case"),
        (&["\u{17f}", "s"], "differ only in case"),
        (&["\u{131}", "I"], "differ only in case"),
    ];
    for (i, (names, why)) in cases.iter().enumerate() {
        let mut files: Vec<(&str, &[u8], bool)> = vec![("ok.txt", b"ok\n", false)];
        files.extend(names.iter().map(|n| (*n, &b"x"[..], false)));
        let name = format!("bad{i}");
        w.release(&name, &files);
        let spec = simple_spec(&w, &name, &format!("../releases/{name}"), "");
        let (o, pkg) = w.build(&spec, &key, &name);
        assert_err(&o, 2, why);
        assert_err(&o, 2, names[names.len() - 1]);
        assert_err(&o, 2, "rename or remove the file named above");
        assert!(!pkg.exists(), "{names:?}: a package was written");
    }
    // The same rules for an archive's entries and for `iupack add`.
    w.release(
        "arch",
        &[("ok.txt", b"ok\n", false), ("sub/Nul.log", b"x", false)],
    );
    let tar = Command::new("tar")
        .args(["cf", "../arch.tar", "."])
        .current_dir(w.path("releases/arch"))
        .output()
        .expect("tar");
    assert_code(&tar, 0);
    let spec = simple_spec(&w, "tar", "../releases/arch.tar", "");
    let (o, pkg) = w.build(&spec, &key, "tar");
    assert_err(
        &o,
        2,
        "unsafe path `sub/Nul.log`: a name is a Windows device name",
    );
    assert_err(&o, 2, "rename or remove");
    assert!(!pkg.exists());
    let store = w.path("store");
    let o = output(
        iupack()
            .arg("add")
            .arg(&store)
            .args(["acme-av", "definitions", "1.0"])
            .arg(w.path("releases/arch")),
    );
    assert_err(&o, 2, "unsafe path `sub/Nul.log`");
    assert_err(&o, 2, "rename or remove");
    assert!(!store.join("acme-av/definitions/1.0").exists());
}

/// Issue 18, class 7: `iupack inspect` shows unverified fields and `iupack verify` quotes a
/// trusted comment with their escape sequences escaped; `--json` keeps the exact text.
#[test]
fn inspect_and_verify_print_escape_sequences_escaped() {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let raw = |c: char| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c);
    let pkg = vectors.join("escape-sequences-in-fields/package.run");
    let o = output(iupack().arg("inspect").arg(&pkg));
    assert_code(&o, 0);
    let said = stdout(&o);
    assert!(
        said.contains("  created   2026-11-24T00:00:00Z\\u{1b}]0;owned\\u{7}\n"),
        "{said}"
    );
    assert!(
        said.contains("platforms \\u{1b}[2J\\u{1b}[31mlinux-riscv64\\u{9b}0m\\u{202e} "),
        "{said}"
    );
    assert!(!said.chars().any(raw), "{said:?}");
    let o = output(iupack().args(["inspect", "--json"]).arg(&pkg));
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(
        v["manifest"]["package"]["created"],
        "2026-11-24T00:00:00Z\u{1b}]0;owned\u{7}"
    );

    let pkg = vectors.join("escape-sequence-in-trusted-comment/package.run");
    let o = output(
        iupack()
            .args(["verify", "--pubkey"])
            .arg(vectors.join("keys/vector.pub"))
            .arg(&pkg),
    );
    assert_err(&o, 20, "acme-av\\u{1b}]0;owned\\u{7}");
    assert!(!stderr(&o).chars().any(raw), "{:?}", stderr(&o));
}

#[test]
fn iupack_verify_checks_signature_and_content() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    let (_, _) = w.keygen("other");
    defs_release(&w);
    let spec = simple_spec(&w, "s", "../releases/defs", "");
    let (o, pkg) = w.build_with(&spec, &key, "p", &["--compression", "deflate"]);
    assert_code(&o, 0);
    let (o, zst) = w.build_with(&spec, &key, "z", &["--compression", "zstd"]);
    assert_code(&o, 0);
    let verify = |p: &Path, pubkey: &str| {
        iupack()
            .arg("verify")
            .arg(p)
            .arg("--pubkey")
            .arg(w.path(&format!("keys/{pubkey}.pub")))
            .output()
            .expect("run")
    };
    let o = verify(&pkg, "k");
    assert_code(&o, 0);
    assert!(stdout(&o).contains("verified"), "{}", stdout(&o));
    assert_code(&verify(&pkg, "other"), 20);
    // One flipped byte in the stub, then in stored content: each is found by the manifest
    // (21); with the detached signature beside the file, that catches it first (20).
    let bytes = fs::read(&pkg).expect("pkg");
    let stub_len = fs::metadata(stub_path()).expect("stub").len() as usize;
    let content_at = stub_len
        + bytes[stub_len..]
            .windows(7)
            .position(|x| x == b"daily\n\0" || x == b"#!/bin/")
            .expect("stored content");
    let zbytes = fs::read(&zst).expect("pkg");
    let archive_at = stub_len
        + zbytes[stub_len..]
            .windows(4)
            .position(|x| x == [0x28, 0xB5, 0x2F, 0xFD])
            .expect("zstd frame");
    for (base, at, says) in [
        (&bytes, stub_len / 2, "executable head"),
        (&bytes, content_at, "full/definitions/"),
        (&zbytes, archive_at + 20, "full/definitions.tar.zst"),
    ] {
        let mut evil = base.clone();
        evil[at] ^= 1;
        let bad = w.path("bad.run");
        fs::write(&bad, &evil).expect("write");
        let _ = fs::remove_file(w.path("bad.run.minisig"));
        let o = verify(&bad, "k");
        assert_err(&o, 21, says);
        let signed = if std::ptr::eq(base, &bytes) {
            &pkg
        } else {
            &zst
        };
        fs::copy(
            format!("{}.minisig", signed.display()),
            w.path("bad.run.minisig"),
        )
        .expect("copy sig");
        let o = verify(&bad, "k");
        assert_err(&o, 20, "does not match its signature");
    }
}

#[test]
fn a_signature_moved_onto_another_manifest_is_refused_with_20() {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let release = defs_release(&w);
    let a = w.package(&simple_spec(&w, "a", "../releases/defs", ""), &key, "a");
    let other_id = simple_spec(&w, "b", "../releases/defs", "");
    let text = fs::read_to_string(&other_id).expect("spec");
    fs::write(
        &other_id,
        text.replacen(
            "product = \"acme-av\"",
            "product = \"acme-av\"\nid = \"acme-av-other\"",
            1,
        ),
    )
    .expect("write spec");
    let b = w.package(&other_id, &key, "b");
    let pa = Package::open(&a, Expect::Package)
        .expect("open")
        .expect("package");
    let pb = Package::open(&b, Expect::Package)
        .expect("open")
        .expect("package");
    assert_ne!(pa.manifest_bytes(), pb.manifest_bytes());
    // Manifest of b, signature of a: a well-formed ZIP with correct CRCs.
    let files = scan_dir(&release).expect("scan");
    let mixed = w.path("mixed.run");
    let out = fs::File::create(&mixed).expect("create");
    write_package(
        out,
        &fs::read(stub_path()).expect("stub"),
        pb.manifest_bytes(),
        pa.signature_text(),
        &full_entries("definitions", &files),
        0,
    )
    .expect("write");
    set_mode(&mixed, 0o755);
    fresh_machine(&w, &pubkey);
    let before = snapshot(&w.machine());
    let o = w.run(&mixed, &[]);
    assert_code(&o, 20);
    assert_same(&before, &snapshot(&w.machine()));
}

/// A copy of the development stub whose feature mark says it lacks `drop` (the builder reads
/// the mark; the bytes behind it are the same full stub).
fn stub_marked_without(drop: &str, to: &Path) {
    stub_marked_without_all(&[drop], to)
}

/// [`stub_marked_without`] for several features.
fn stub_marked_without_all(drop: &[&str], to: &Path) {
    let mut bytes = fs::read(stub_path()).expect("stub");
    let mark = iupack_stub::FEATURES_MARK;
    let mut edited = mark;
    let at = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    for drop in drop {
        let i = at(&mark, format!("{drop},").as_bytes()).expect("feature in the mark");
        edited[i] = b'X';
    }
    let mut n = 0;
    while let Some(p) = at(&bytes, &mark) {
        bytes[p..p + mark.len()].copy_from_slice(&edited);
        n += 1;
    }
    assert!(n > 0, "the development stub carries its feature mark");
    fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
    fs::write(to, bytes).expect("write stub");
    set_mode(to, 0o755);
}

#[test]
fn each_package_gets_the_smallest_head_that_reads_it() {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    defs_release(&w);
    w.release(
        "defs2",
        &[
            ("main.avdb", b"replaced\n", false),
            ("sub/dir/daily.avdb", b"daily 2\n", false),
            ("tool.sh", b"#!/bin/sh\n", true),
        ],
    );
    // An iupack installed with the three stubs stub/build-targets.sh makes per platform.
    let bin = w.path("bin");
    let stubs = bin.join("stubs").join(this_platform());
    fs::create_dir_all(&stubs).expect("mkdir");
    fs::copy(bin_dir().join("iupack"), bin.join("iupack")).expect("copy iupack");
    set_mode(&bin.join("iupack"), 0o755);
    stub_marked_without("zstd", &stubs.join("iupack-head"));
    stub_marked_without("client", &stubs.join("iupack-head-zstd"));
    fs::copy(stub_path(), stubs.join("iupack-stub")).expect("copy stub");
    let build = |spec: &Path, out: &str, extra: &[&str]| {
        let o = Command::new(bin.join("iupack"))
            .arg("build")
            .arg(spec)
            .arg("--key")
            .arg(&key)
            .arg("--out")
            .arg(w.path(out))
            .arg("--json")
            .args(extra)
            .output()
            .expect("run iupack");
        let head = serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .ok()
            .and_then(|v| {
                v["stub"]
                    .as_str()
                    .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
            });
        (o, head)
    };
    let full = simple_spec(&w, "full", "../releases/defs", "");
    for (method, head) in [
        ("xz", "iupack-head"),
        ("deflate", "iupack-head"),
        ("zstd", "iupack-head-zstd"),
    ] {
        let (o, got) = build(&full, &format!("{method}.run"), &["--compression", method]);
        assert_code(&o, 0);
        assert_eq!(got.as_deref(), Some(head), "--compression {method}");
    }
    // With full content, a whole-tree patch is zstd-tree, whatever the full content's compression.
    let delta = simple_spec(
        &w,
        "delta",
        "../releases/defs2",
        "[[components.deltas]]\nversion = \"1.0\"\ncontent = \"../releases/defs\"\n",
    );
    let (o, got) = build(
        &delta,
        "delta.run",
        &["--compression", "xz", "--delta-codec", "tree"],
    );
    assert_code(&o, 0);
    assert_eq!(got.as_deref(), Some("iupack-head-zstd"));
    // The small head applies its package: byte-identical, inventory updated.
    fresh_machine(&w, &pubkey);
    let o = w.run(&w.path("xz.run"), &[]);
    assert_code(&o, 0);
    assert_tree_eq(&w.machine().join("acme/defs"), &w.path("releases/defs"));
    assert_eq!(w.component("definitions")["version"], "2026.11.24.1");
    // A head without zstd is refused for zstd content, given or found, and nothing is written.
    let (o, _) = build(
        &full,
        "refused.run",
        &["--stub", &stubs.join("iupack-head").display().to_string()],
    );
    assert_err(&o, 2, "built without the zstd decoder");
    fs::remove_file(stubs.join("iupack-head-zstd")).expect("rm");
    fs::remove_file(stubs.join("iupack-stub")).expect("rm");
    let (o, _) = build(&full, "refused2.run", &[]);
    assert_err(&o, 2, "none of the stubs found");
    assert!(!w.path("refused.run").exists() && !w.path("refused2.run").exists());
}

/// Issue 21, item 3: a delta-only package whose patches the small head can read gets it. With
/// both heads installed, the deltas are made both ways (every patch `bsdiff-lzma`; or any codec)
/// and the package that is smaller with its head is kept: with heads sized as shipped (the zstd
/// head ~197 KB larger) that is the small head's; with heads of the same size, the zstd one's
/// (its patches are smaller). A head given with --stub decides alone; without zstd it takes a
/// whole-tree patch too (`bsdiff-lzma-tree`).
#[test]
fn a_delta_only_package_gets_the_small_head_when_that_makes_it_smaller() {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    defs_release(&w);
    let mut main: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    main[1000..1004].copy_from_slice(b"NEW!");
    w.release(
        "defs2",
        &[
            ("main.avdb", &main, false),
            ("sub/dir/daily.avdb", b"daily 2\n", false),
            ("tool.sh", b"#!/bin/sh\n", true),
        ],
    );
    let spec = simple_spec(
        &w,
        "delta-only",
        "../releases/defs2",
        "full = false\n[[components.deltas]]\nversion = \"1.0\"\ncontent = \"../releases/defs\"\n",
    );
    // An iupack installed with its heads; the zstd head `pad` bytes larger than the small one.
    let install = |name: &str, pad: usize| -> PathBuf {
        let bin = w.path(name);
        let stubs = bin.join("stubs").join(this_platform());
        fs::create_dir_all(&stubs).expect("mkdir");
        fs::copy(bin_dir().join("iupack"), bin.join("iupack")).expect("copy iupack");
        set_mode(&bin.join("iupack"), 0o755);
        stub_marked_without("zstd", &stubs.join("iupack-head"));
        stub_marked_without("client", &stubs.join("iupack-head-zstd"));
        let zstd_head = stubs.join("iupack-head-zstd");
        let mut bytes = fs::read(&zstd_head).expect("read");
        bytes.resize(bytes.len() + pad, 0);
        fs::write(&zstd_head, bytes).expect("pad");
        bin
    };
    let build =
        |bin: &Path, out: &str, extra: &[&str]| -> (std::process::Output, serde_json::Value) {
            let o = Command::new(bin.join("iupack"))
                .arg("build")
                .arg(&spec)
                .arg("--key")
                .arg(&key)
                .arg("--out")
                .arg(w.path(out))
                .arg("--json")
                .args(extra)
                .output()
                .expect("run iupack");
            let v = serde_json::from_slice(&o.stdout).unwrap_or_default();
            (o, v)
        };
    let head = |v: &serde_json::Value| {
        v["stub"]
            .as_str()
            .and_then(|s| s.rsplit('/').next())
            .unwrap_or_default()
            .to_string()
    };
    // The delta's codec and its file patches' codecs.
    let codecs = |pkg: &str| -> (String, Vec<Option<String>>) {
        let p = Package::open(&w.path(pkg), Expect::Package)
            .expect("open")
            .expect("package");
        let m: serde_json::Value = serde_json::from_slice(p.manifest_bytes()).expect("json");
        let d = &m["components"][0]["deltas"][0];
        let files = d["files"].as_array().map(Vec::as_slice).unwrap_or_default();
        let patches = files.iter().filter(|f| f["op"] == "patch");
        (
            d["codec"].as_str().expect("codec").to_string(),
            patches
                .map(|f| f["codec"].as_str().map(str::to_string))
                .collect(),
        )
    };
    let shipped = install("shipped", 196_720);
    let (o, small) = build(&shipped, "small.run", &[]);
    assert_code(&o, 0);
    assert_eq!(head(&small), "iupack-head", "{small}");
    // Two files changed: the whole-tree bsdiff patch is the smaller here.
    assert_eq!(
        codecs("small.run"),
        ("bsdiff-lzma-tree".to_string(), vec![])
    );
    // The same heads' sizes: the zstd variant's patches are smaller, so it ships.
    let same = install("same-size", 0);
    let (o, zstd) = build(&same, "zstd.run", &[]);
    assert_code(&o, 0);
    assert_eq!(head(&zstd), "iupack-head-zstd", "{zstd}");
    let payload = |v: &serde_json::Value| v["components"][0]["deltas"][0]["payload_bytes"].as_u64();
    assert!(payload(&zstd) < payload(&small), "{zstd} {small}");
    // Given with --stub, the small head takes patches it reads, and with --delta-codec tree the
    // whole-tree patch it reads (bsdiff-lzma-tree).
    let given = shipped
        .join("stubs")
        .join(this_platform())
        .join("iupack-head");
    let given = given.to_str().expect("utf8");
    let (o, v) = build(
        &shipped,
        "given.run",
        &["--stub", given, "--delta-codec", "file"],
    );
    assert_code(&o, 0);
    assert_eq!(head(&v), "iupack-head");
    let bsdiff = Some("bsdiff-lzma".to_string());
    assert_eq!(
        codecs("given.run"),
        ("zstd-prefix".to_string(), vec![bsdiff])
    );
    let (o, _) = build(
        &shipped,
        "tree.run",
        &["--stub", given, "--delta-codec", "tree"],
    );
    assert_code(&o, 0);
    assert_eq!(codecs("tree.run").0, "bsdiff-lzma-tree");
    // The small head's packages apply: byte-identical, inventory updated.
    for pkg in ["small.run", "given.run", "tree.run"] {
        let m = World::new();
        m.install_inventory(&[&pubkey], &[("definitions", Some("1.0"), "acme/defs")]);
        m.install_tree(&w.path("releases/defs"), "acme/defs");
        assert_code(&m.run(&w.path(pkg), &[]), 0);
        assert_tree_eq(&m.machine().join("acme/defs"), &w.path("releases/defs2"));
        assert_eq!(m.component("definitions")["version"], "2026.11.24.1");
    }
}

#[test]
fn build_target_picks_the_platform_and_refuses_a_stub_of_another_format() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    defs_release(&w);
    let spec = simple_spec(&w, "t", "../releases/defs", "");
    // The native stub, named as the package's only platform.
    let (o, pkg) = w.build_with(&spec, &key, "linux", &["--target", &this_platform()]);
    assert_code(&o, 0);
    let p = Package::open(&pkg, Expect::Package)
        .expect("open")
        .expect("package");
    let m: serde_json::Value = serde_json::from_slice(p.manifest_bytes()).expect("json");
    assert_eq!(
        m["targets"]["platforms"],
        serde_json::json!([this_platform()])
    );
    // An ELF stub can't head a Windows package.
    let (o, _) = w.build_with(&spec, &key, "win", &["--target", "windows-x86_64"]);
    assert_err(&o, 2, "is not a Windows executable");
    assert!(!w.path("packages/win.run").exists());
    // The spec must allow the target; the name must be a platform.
    let only_linux = w.spec(
        "only-linux",
        "product = \"acme-av\"\n[targets]\nplatforms = [\"linux-x86_64\"]\n[[components]]\nname = \"definitions\"\nversion = \"1.0\"\ncontent = \"../releases/defs\"\n",
    );
    let (o, _) = w.build_with(&only_linux, &key, "w2", &["--target", "windows-x86_64"]);
    assert_err(&o, 2, "is not among the spec's platforms");
    let (o, _) = w.build_with(&spec, &key, "bad", &["--target", "Windows 11"]);
    assert_err(&o, 2, "is not a platform name");
}

#[test]
fn every_builder_error_says_what_to_do_next_and_json_callers_get_it_on_stdout() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    defs_release(&w);
    let good = simple_spec(&w, "s", "../releases/defs", "");
    let pkg = w.package(&good, &key, "p");
    let bad_name = w.spec(
        "bad-name",
        "product = \"Acme AV\"\n[[components]]\nname = \"d\"\nversion = \"1\"\ncontent = \"x\"\n",
    );
    let no_content = simple_spec(&w, "m", "../releases/nope", "");
    let strip_dir = simple_spec(&w, "sd", "../releases/defs", "strip_components = 1\n");
    // Scratch paths have no spaces: each case is one command line.
    let p = |rel: &str| w.path(rel).display().to_string();
    let (good, key, pkg) = (good.display(), key.display(), pkg.display());
    let build = |spec: &str, out: &str| format!("build {spec} --key {key} --out {}", p(out));
    let cases = [
        (build(&good.to_string(), &pkg.to_string()), 2), // already there: --force
        (build(&p("specs/nope.toml"), "packages/a.run"), 2),
        (build(&bad_name.display().to_string(), "packages/b.run"), 2),
        (
            build(&no_content.display().to_string(), "packages/c.run"),
            2,
        ),
        (build(&strip_dir.display().to_string(), "packages/d.run"), 2),
        (
            format!(
                "build {good} --key {} --out {}",
                p("keys/none.key"),
                p("packages/e.run")
            ),
            2,
        ),
        (
            format!(
                "{} --stub {}",
                build(&good.to_string(), "packages/f.run"),
                p("nostub")
            ),
            2,
        ),
        (
            format!(
                "{} --target plan9",
                build(&good.to_string(), "packages/g.run")
            ),
            2,
        ),
        (format!("verify {pkg} --pubkey {}", p("keys/none.pub")), 2),
        (
            format!("verify {} --pubkey {}", p("nope.run"), p("keys/k.pub")),
            2,
        ),
        (format!("inspect {}", p("keys/k.pub")), 21),
    ];
    let cases: Vec<(Vec<&str>, i32)> = cases
        .iter()
        .map(|(line, code)| (line.split_whitespace().collect(), *code))
        .collect();
    for (args, want) in &cases {
        let o = output(iupack().args(args));
        assert_eq!(code(&o), *want, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("\n  hint: "),
            "{args:?} gives no hint:\n{}",
            stderr(&o)
        );
        // The same error as JSON on stdout for callers that asked for JSON.
        let o = output(iupack().args(args).arg("--json"));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{args:?} --json: {e}: {}", stdout(&o)));
        assert_eq!(v["error"]["exit_code"], *want, "{args:?}");
        assert!(
            v["error"]["hint"].as_str().is_some_and(|h| !h.is_empty()),
            "{v}"
        );
    }
}

#[test]
fn verify_json_and_progress_only_on_a_terminal() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    defs_release(&w);
    let spec = simple_spec(&w, "s", "../releases/defs", "");
    // In a pipe: no progress, stderr stays empty.
    let (o, pkg) = w.build(&spec, &key, "p");
    assert_code(&o, 0);
    assert_eq!(stderr(&o), "");
    let o = output(
        iupack()
            .args(["verify", "--json", "--pubkey"])
            .arg(w.path("keys/k.pub"))
            .arg(&pkg),
    );
    assert_code(&o, 0);
    assert_eq!(stderr(&o), "");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(v["verified"], true);
    assert_eq!(v["product"], "acme-av");
    assert_eq!(v["components"][0]["name"], "definitions");
    assert_eq!(v["content_bytes"], 800_000 + 6 + 10);
    assert!(v["file_signature"]
        .as_str()
        .is_some_and(|s| s.ends_with(".minisig")));

    // On a terminal: each phase of the build is shown, then the result.
    #[cfg(unix)]
    {
        let mut cmd = iupack();
        cmd.arg("build")
            .arg(&spec)
            .arg("--key")
            .arg(&key)
            .arg("--out")
            .arg(w.path("packages/tty.run"));
        let (code, screen) = Pty::spawn(cmd).finish();
        assert_eq!(code, 0, "{screen}");
        for phase in [
            "✓ hashing",
            "✓ compressing",
            "✓ writing",
            "✓ verifying",
            "✓ signing",
        ] {
            assert!(
                screen.contains(phase),
                "no {phase:?} on the terminal:\n{screen}"
            );
        }
        assert!(screen.contains("built "), "{screen}");
    }
}

/// Issue 20, item 14: a `--out` that can't be written is refused before any work: its folder
/// missing, or a folder given as the package (which `--force` can't replace). The content is
/// missing too, so a refusal that came after reading it would name the content instead; and
/// nothing is left anywhere.
#[test]
fn an_out_that_cannot_be_written_is_refused_before_any_work() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    let spec = simple_spec(&w, "s", "../releases/none", "");
    fs::create_dir_all(w.path("packages/folder.run")).expect("mkdir");
    let before = snapshot(&w.path(""));
    for (out, force, want) in [
        ("nodir/x.run", false, "the folder "),
        ("packages/folder.run", false, "is a folder, not a file name"),
        ("packages/folder.run", true, "is a folder, not a file name"),
        ("packages/", true, "is a folder, not a file name"),
    ] {
        let mut cmd = iupack();
        cmd.arg("build")
            .arg(&spec)
            .arg("--key")
            .arg(&key)
            .arg("--out")
            .arg(w.path(out))
            .arg("--stub")
            .arg(stub_path());
        if force {
            cmd.arg("--force");
        }
        let o = output(&mut cmd);
        assert_err(&o, 2, want);
        assert!(!stderr(&o).contains("--force"), "{}", stderr(&o));
        assert_same(&before, &snapshot(&w.path("")));
    }
}

/// Issue 20, item 11: typos in a spec that machines would only meet as exit 10 or 11 are
/// refused at build time with the valid names: a platform that is no platform, a `requires`
/// naming no component. A component the package does not carry but machines have is named in
/// `other_components`; a circle of requires (which every machine would refuse) is refused.
#[test]
fn spec_typos_are_refused_at_build_time_with_the_valid_names() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    defs_release(&w);
    let spec = |name: &str, head: &str, comp: &str| {
        w.spec(
            name,
            &format!(
                "product = \"acme-av\"\n{head}[targets]\nplatforms = [\"linux-x86_64\"]\n[[components]]\nname = \"definitions\"\nversion = \"1.0\"\ncontent = \"../releases/defs\"\n{comp}"
            ),
        )
    };
    let refused = [
        (
            w.spec(
                "platform",
                "product = \"acme-av\"\n[targets]\nplatforms = [\"linux-x64\"]\n[[components]]\nname = \"definitions\"\nversion = \"1.0\"\ncontent = \"../releases/defs\"\n",
            ),
            "did you mean `linux-x86_64`?",
        ),
        (
            spec("requires", "", "requires = { engin = \">=3.7\" }\n"),
            "requires `engin`, which is neither `product` nor a component (definitions)",
        ),
        (
            spec(
                "other",
                "other_components = [\"engine\"]\n",
                "requires = { engin = \">=3.7\" }\n",
            ),
            "nor a component (definitions, engine)",
        ),
        (
            spec("self", "", "requires = { definitions = \">=1\" }\n"),
            "require each other in a circle",
        ),
    ];
    for (spec, want) in refused {
        let (o, out) = w.build(&spec, &key, "refused");
        assert_err(&o, 2, want);
        assert!(stderr(&o).contains("hint: "), "{}", stderr(&o));
        assert!(!out.exists());
    }
    let ok = spec(
        "ok",
        "other_components = [\"engine\"]\n",
        "requires = { engine = \">=3.7\", product = \">=12\" }\n",
    );
    w.package(&ok, &key, "ok");
}

/// Issue 20, item 2: after the README's set-up (iupack in `target/release/`, the stub built with
/// `--profile stub` into `target/stub/`), `iupack build` finds the stub with no `--stub`; with
/// none built, the hint's command is the one that puts it there, and with `--target` it is
/// stub/build-targets.sh.
#[test]
fn the_stub_the_readme_setup_builds_is_found_and_the_hint_says_how_to_build_it() {
    let w = World::new();
    let (key, _) = w.keygen("k");
    defs_release(&w);
    let spec = simple_spec(&w, "s", "../releases/defs", "");
    let target = w.path("target");
    fs::create_dir_all(target.join("release")).expect("mkdir");
    fs::write(
        target.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n",
    )
    .expect("tag");
    let iupack_copy = target.join("release/iupack");
    fs::copy(bin_dir().join("iupack"), &iupack_copy).expect("copy iupack");
    let build = |name: &str, extra: &[&str]| {
        output(
            Command::new(&iupack_copy)
                .arg("build")
                .arg(&spec)
                .arg("--key")
                .arg(&key)
                .arg("--out")
                .arg(w.path(&format!("packages/{name}.run")))
                .args(extra),
        )
    };
    fs::create_dir_all(w.path("packages")).expect("mkdir");
    let o = build("none", &[]);
    assert_err(&o, 2, "no stub for");
    assert!(
        stderr(&o).contains("cargo build --locked --profile stub -p iupack-stub"),
        "{}",
        stderr(&o)
    );
    let o = build("win", &["--target", "windows-x86_64"]);
    assert_err(&o, 2, "no stub for windows-x86_64");
    assert!(
        stderr(&o).contains("bash stub/build-targets.sh windows-x86_64"),
        "{}",
        stderr(&o)
    );
    // What the hint's command makes: target/stub/iupack-stub.
    fs::create_dir_all(target.join("stub")).expect("mkdir");
    fs::copy(stub_path(), target.join("stub/iupack-stub")).expect("copy stub");
    let o = build("found", &[]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("target/stub/iupack-stub"),
        "{}",
        stdout(&o)
    );
    // Issue 21, item 4: a development stub found by looking is named on every build, with its
    // size and how to get the shipped heads; one in stubs/PLATFORM/, or given with --stub, is not.
    let warning = "warning: the package's head is a development stub";
    assert!(stderr(&o).contains(warning), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("bash stub/build-targets.sh"),
        "{}",
        stderr(&o)
    );
    let stub = target.join("stub/iupack-stub");
    let o = build("given", &["--stub", stub.to_str().expect("utf8")]);
    assert_code(&o, 0);
    assert!(!stderr(&o).contains(warning), "{}", stderr(&o));
    let shipped = target.join("stubs").join(this_platform());
    fs::create_dir_all(&shipped).expect("mkdir");
    fs::copy(stub_path(), shipped.join("iupack-stub")).expect("copy stub");
    let o = build("shipped", &[]);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains(&format!("stubs/{}/iupack-stub", this_platform())),
        "{}",
        stdout(&o)
    );
    assert!(!stderr(&o).contains(warning), "{}", stderr(&o));
}

/// Issue 22: a delta-only package of a program whose Zucchini patch is smaller than its bsdiff
/// one gets `zucchini-norm-xz` (an ELF program: Zucchini between its normalised tables) and the head that reads it without zstd (`iupack-head-exe`), not the
/// smallest head, which cannot; that head applies it byte for byte and the inventory moves on.
#[test]
fn a_program_delta_takes_zucchini_and_the_exe_head() {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let dir = w.path("src");
    fs::create_dir_all(&dir).expect("mkdir");
    let old = c_program(&dir, "old", "", 400);
    let new = c_program(
        &dir,
        "new",
        "__attribute__((noinline)) int added@(int x) { return x * @ + 1; }\nint (*more@)(int) = added@;\n",
        400,
    );
    w.release("engine1", &[("bin/scan", &old, true)]);
    w.release("engine2", &[("bin/scan", &new, true)]);
    let spec = w.spec(
        "engine",
        "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n[[components]]\nname = \"definitions\"\n\
         version = \"2026.11.24.1\"\ncontent = \"../releases/engine2\"\nfull = false\n\
         [[components.deltas]]\nversion = \"1.0\"\ncontent = \"../releases/engine1\"\n",
    );
    let bin = w.path("bin");
    let stubs = bin.join("stubs").join(this_platform());
    fs::create_dir_all(&stubs).expect("mkdir");
    fs::copy(bin_dir().join("iupack"), bin.join("iupack")).expect("copy iupack");
    set_mode(&bin.join("iupack"), 0o755);
    stub_marked_without_all(&["zstd", "exe"], &stubs.join("iupack-head"));
    stub_marked_without_all(&["zstd", "client"], &stubs.join("iupack-head-exe"));
    stub_marked_without("client", &stubs.join("iupack-head-zstd"));
    let o = Command::new(bin.join("iupack"))
        .arg("build")
        .arg(&spec)
        .arg("--key")
        .arg(&key)
        .arg("--out")
        .arg(w.path("engine.run"))
        .arg("--json")
        .output()
        .expect("run iupack");
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let head = v["stub"].as_str().and_then(|s| s.rsplit('/').next());
    assert_eq!(head, Some("iupack-head-exe"), "{v}");
    let p = Package::open(&w.path("engine.run"), Expect::Package)
        .expect("open")
        .expect("package");
    let m: serde_json::Value = serde_json::from_slice(p.manifest_bytes()).expect("json");
    let f = &m["components"][0]["deltas"][0]["files"][0];
    assert_eq!(f["codec"], "zucchini-norm-xz", "{m}");
    let patch = f["patch_size"].as_u64().expect("patch size");
    assert!(
        patch * 4 < new.len() as u64,
        "{patch} bytes for {}",
        new.len()
    );
    // On a machine with version 1.0 installed: applied, byte-identical, inventory updated.
    let m = World::new();
    m.install_inventory(&[&pubkey], &[("definitions", Some("1.0"), "acme/defs")]);
    m.install_tree(&w.path("releases/engine1"), "acme/defs");
    let installed = m.machine().join("acme/defs");
    let o = m.run(&w.path("engine.run"), &[]);
    assert_code(&o, 0);
    assert_eq!(fs::read(installed.join("bin/scan")).expect("read"), new);
    assert_eq!(m.component("definitions")["version"], "2026.11.24.1");
}
