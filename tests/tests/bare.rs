//! Bare packages (issue 21): the same signed package without a head, applied by the installed
//! client tool. It installs byte for byte what a self-extracting one does, and it is refused for
//! every reason a self-extracting one is (signature, key, target, damage), with the same exit
//! code and the machine unchanged; no head can be put in front of it, or taken off a
//! self-extracting one, without signing again.

use iupack_tests::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Three releases of `definitions`: a big file that changes a little, a small one, a program.
fn release(w: &World, name: &str, edit: u8) -> PathBuf {
    let mut big = noise(7, 300_000);
    big[1000] ^= edit;
    big.extend_from_slice(&[edit; 50]);
    w.release(
        name,
        &[
            ("main.avdb", &big, false),
            ("sub/daily.avdb", &[b'd', edit], false),
            ("tool.sh", b"#!/bin/sh\n", true),
        ],
    )
}

fn spec(w: &World, name: &str, content: &str, extra: &str) -> PathBuf {
    w.spec(
        name,
        &format!(
            "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n{extra}\n[[components]]\nname = \"definitions\"\nversion = \"2026.11.24.2\"\ncontent = \"{content}\"\n[[components.deltas]]\nversion = \"2026.11.24.1\"\ncontent = \"../releases/defs-1\"\n"
        ),
    )
}

/// `iupack build SPEC --bare --out packages/NAME.iup`.
fn build_bare(w: &World, spec: &Path, key: &Path, name: &str) -> PathBuf {
    let out = w.path(&format!("packages/{name}.iup"));
    fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let o = output(
        iupack()
            .arg("build")
            .arg(spec)
            .args(["--bare", "--key"])
            .arg(key)
            .arg("--out")
            .arg(&out),
    );
    assert_code(&o, 0);
    assert!(stdout(&o).contains("bare: no head"), "{}", stdout(&o));
    out
}

/// `iupack-stub apply PKG` with the installed client tool and the machine's inventory.
fn client_apply(w: &World, pkg: &Path) -> std::process::Output {
    output(
        Command::new(stub_path())
            .arg("apply")
            .arg(pkg)
            .arg("--inventory")
            .arg(w.inventory_path()),
    )
}

/// A machine with definitions 2026.11.24.1 installed, trusting `pubkey`.
fn machine_at_1(w: &World, pubkey: &str, v1: &Path) {
    w.install_inventory(
        &[pubkey],
        &[("definitions", Some("2026.11.24.1"), "acme/defs")],
    );
    w.install_tree(v1, "acme/defs");
}

/// The delta 1 -> 2 as a bare and as a self-extracting package, and the machine at release 1
/// trusting their key.
fn both_forms_on_a_machine_at_1(w: &World) -> (PathBuf, PathBuf) {
    let (key, pubkey) = w.keygen("k");
    let v1 = release(w, "defs-1", 1);
    release(w, "defs-2", 2);
    let s = spec(w, "s", "../releases/defs-2", "");
    let bare = build_bare(w, &s, &key, "bare");
    let sfx = w.package(&s, &key, "sfx");
    machine_at_1(w, &pubkey, &v1);
    (bare, sfx)
}

#[test]
fn a_bare_package_is_headless_data_and_applies_like_a_self_extracting_one() {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let v1 = release(&w, "defs-1", 1);
    let v2 = release(&w, "defs-2", 2);
    let s = spec(&w, "s", "../releases/defs-2", "");
    let bare = build_bare(&w, &s, &key, "bare");
    let sfx = w.package(&s, &key, "sfx");

    let bytes = fs::read(&bare).expect("read");
    assert!(
        bytes.starts_with(b"\0)\nexit 1\nPK\x03\x04"),
        "a bare package is its guard, then a ZIP"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&bare).expect("meta").permissions().mode();
        assert_eq!(mode & 0o111, 0, "a bare package is not executable");
    }
    let o = output(iupack().arg("inspect").arg(&bare));
    assert_code(&o, 0);
    assert!(stdout(&o).contains("form      bare"), "{}", stdout(&o));
    let o = output(iupack().arg("inspect").arg(&sfx));
    assert!(
        stdout(&o).contains("form      self-extracting"),
        "{}",
        stdout(&o)
    );
    let o = output(
        iupack()
            .arg("verify")
            .arg(&bare)
            .arg("--pubkey")
            .arg(w.path("keys/k.pub")),
    );
    assert_code(&o, 0);
    // The same manifest content: only the head and its binding differ.
    let sfx_size = fs::metadata(&sfx).expect("meta").len();
    let head = fs::metadata(stub_path()).expect("meta").len();
    assert!(
        (bytes.len() as u64) < sfx_size - head + 200,
        "bare {} vs self-extracting {sfx_size} with a {head}-byte head",
        bytes.len()
    );

    // Applied by the client tool: byte-identical tree, inventory updated; then current.
    machine_at_1(&w, &pubkey, &v1);
    let o = client_apply(&w, &bare);
    assert_code(&o, 0);
    assert_tree_eq(&w.machine().join("acme/defs"), &v2);
    assert_eq!(w.component("definitions")["version"], "2026.11.24.2");
    let before = snapshot(&w.machine());
    let o = client_apply(&w, &bare);
    assert_code(&o, 0);
    assert_same(&before, &snapshot(&w.machine()));

    // A full bare package installs on an empty machine too.
    let full = w.spec(
        "full",
        "product = \"acme-av\"\n[targets]\nplatforms = [\"*\"]\n[[components]]\nname = \"definitions\"\nversion = \"2026.11.24.2\"\ncontent = \"../releases/defs-2\"\n",
    );
    let full = build_bare(&w, &full, &key, "full");
    fs::remove_dir_all(w.machine()).expect("rm");
    w.install_inventory(&[&pubkey], &[("definitions", None, "acme/defs")]);
    let o = client_apply(&w, &full);
    assert_code(&o, 0);
    assert_tree_eq(&w.machine().join("acme/defs"), &v2);
}

/// Flips one byte of `pkg` at `at` into a copy named `name`.
fn flipped(w: &World, pkg: &Path, at: usize, name: &str) -> PathBuf {
    let mut b = fs::read(pkg).expect("read");
    b[at] ^= 0x20;
    let out = w.path(&format!("packages/{name}"));
    fs::write(&out, b).expect("write");
    out
}

#[test]
fn a_bare_package_is_refused_for_every_reason_a_self_extracting_one_is() {
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let (other_key, _) = w.keygen("other");
    let v1 = release(&w, "defs-1", 1);
    release(&w, "defs-2", 2);
    let s = spec(&w, "s", "../releases/defs-2", "");
    let bare = build_bare(&w, &s, &key, "bare");
    let sfx = w.package(&s, &key, "sfx");
    let by_other = build_bare(&w, &s, &other_key, "by-other");
    let sfx_by_other = w.package(&s, &other_key, "sfx-by-other");
    let narrow = spec(
        &w,
        "narrow",
        "../releases/defs-2",
        "product_versions = \">=13\"",
    );
    let bare_narrow = build_bare(&w, &narrow, &key, "narrow");
    let sfx_narrow = w.package(&narrow, &key, "sfx-narrow");

    let bare_bytes = fs::read(&bare).expect("read");
    let sfx_bytes = fs::read(&sfx).expect("read");
    // Damage: a byte of the patch flipped (the first delta entry's data), a byte of the
    // manifest's entry flipped (its CRC, then its signature), the file cut short.
    let patch_at = |b: &[u8]| entry_data(b, "d/0") + 10;
    let manifest_at = |b: &[u8]| entry_data(b, "iupack/manifest.json") + 10;
    let cut = |w: &World, pkg: &Path, name: &str| {
        let b = fs::read(pkg).expect("read");
        let out = w.path(&format!("packages/{name}"));
        fs::write(&out, &b[..b.len() - 30]).expect("write");
        out
    };
    let head = fs::read(stub_path()).expect("stub");
    // No head in front of a bare package, and none taken off a self-extracting one.
    let headed = w.path("packages/headed.run");
    fs::write(&headed, [&head[..], &bare_bytes[..]].concat()).expect("write");
    let beheaded = w.path("packages/beheaded.iup");
    fs::write(&beheaded, &sfx_bytes[head.len()..]).expect("write");
    let unguarded = w.path("packages/unguarded.iup");
    let guard = iupack_stub::format::package::BARE_GUARD.len();
    fs::write(&unguarded, &bare_bytes[guard..]).expect("write");

    let cases: Vec<(&str, PathBuf, PathBuf, i32)> = vec![
        (
            "signed by a key the machine does not trust",
            by_other,
            sfx_by_other,
            20,
        ),
        ("for another product version", bare_narrow, sfx_narrow, 10),
        (
            "a patch byte flipped",
            flipped(&w, &bare, patch_at(&bare_bytes), "patch.iup"),
            flipped(&w, &sfx, patch_at(&sfx_bytes), "patch.run"),
            21,
        ),
        (
            "a manifest byte flipped",
            flipped(&w, &bare, manifest_at(&bare_bytes), "manifest.iup"),
            flipped(&w, &sfx, manifest_at(&sfx_bytes), "manifest.run"),
            21,
        ),
        (
            "cut short",
            cut(&w, &bare, "cut.iup"),
            cut(&w, &sfx, "cut.run"),
            21,
        ),
        ("a head put in front / taken off", headed, beheaded, 21),
        (
            "its first bytes changed (the bare guard / the head)",
            flipped(&w, &bare, 1, "guard.iup"),
            flipped(&w, &sfx, 1, "headbyte.run"),
            21,
        ),
        (
            "the bare guard taken off / the head's first byte",
            unguarded,
            flipped(&w, &sfx, 0, "elf.run"),
            21,
        ),
    ];
    machine_at_1(&w, &pubkey, &v1);
    let before = snapshot(&w.machine());
    for (why, bare_case, sfx_case, want) in cases {
        let o = client_apply(&w, &bare_case);
        assert_eq!(code(&o), want, "bare, {why}: {}", stderr(&o));
        assert_same(&before, &snapshot(&w.machine()));
        let o = client_apply(&w, &sfx_case);
        assert_eq!(code(&o), want, "self-extracting, {why}: {}", stderr(&o));
        assert_same(&before, &snapshot(&w.machine()));
    }
    // And the untouched ones still apply.
    assert_code(&client_apply(&w, &bare), 0);
}

/// Shifts the ZIP's offsets (central directory entries' local-header offsets past `after`, and
/// the central directory's own) by `delta`.
fn shift_offsets(b: &mut [u8], after: usize, delta: i64) {
    let u16_at = |b: &[u8], i: usize| usize::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4"));
    let eocd = b.len() - 22;
    assert_eq!(&b[eocd..eocd + 4], b"PK\x05\x06");
    let (size, off) = (u32_at(b, eocd + 12) as usize, u32_at(b, eocd + 16));
    let off = (i64::from(off) + delta) as u32;
    b[eocd + 16..eocd + 20].copy_from_slice(&off.to_le_bytes());
    let mut p = off as usize;
    while p < off as usize + size {
        assert_eq!(&b[p..p + 4], b"PK\x01\x02");
        let local = u32_at(b, p + 42);
        if local as usize > after {
            let moved = (i64::from(local) + delta) as u32;
            b[p + 42..p + 46].copy_from_slice(&moved.to_le_bytes());
        }
        p += 46 + u16_at(b, p + 28) + u16_at(b, p + 30) + u16_at(b, p + 32);
    }
}

/// The attacker's edit of the unsigned ZIP framing: the first local header's "version needed"
/// becomes a line break and `#` (its first line is then just `PK\3\4`, the rest of the header a
/// comment), and shell commands go in its extra field, which readers skip.
fn with_commands(pkg: &[u8], header: usize, commands: &str) -> Vec<u8> {
    let mut b = pkg.to_vec();
    b[header + 4..header + 6].copy_from_slice(b"\n#");
    let name = usize::from(u16::from_le_bytes([b[header + 26], b[header + 27]]));
    let extra = usize::from(u16::from_le_bytes([b[header + 28], b[header + 29]]));
    let at = header + 30 + name + extra;
    b.splice(at..at, commands.bytes());
    let grown = (extra + commands.len()) as u16;
    b[header + 28..header + 30].copy_from_slice(&grown.to_le_bytes());
    shift_offsets(&mut b, header, commands.len() as i64);
    b
}

/// A bare package is data, and no shell runs it: not `sh PKG`, `bash PKG`, `dash PKG`, `zsh PKG`
/// or busybox's `sh PKG`, not `./PKG` after a chmod (which a shell falls back to reading as a
/// script), and not fed to a shell's standard input, interactive or not (zsh and every shell
/// there read on past a syntax error): even with commands put in its ZIP framing, which the
/// signature does not cover (the package still verifies), its guard (`\0)\nexit 1\n`) stops
/// every shell first. The same edit of a package without the guard (bare packages before it)
/// runs in bash; without its guard a bare package is refused, by --extract too.
#[test]
fn no_shell_runs_a_bare_package_even_with_commands_in_its_framing() {
    let guard = iupack_stub::format::package::BARE_GUARD.len();
    let w = World::new();
    let (key, pubkey) = w.keygen("k");
    let v1 = release(&w, "defs-1", 1);
    release(&w, "defs-2", 2);
    let s = spec(&w, "s", "../releases/defs-2", "");
    let bare = build_bare(&w, &s, &key, "bare");
    machine_at_1(&w, &pubkey, &v1);
    let marker = w.path("ran");
    let commands = format!("\ntouch '{}'; exit 0\n", marker.display());
    let bytes = fs::read(&bare).expect("read");
    let write = |name: &str, b: &[u8]| {
        let p = w.path(&format!("packages/{name}"));
        fs::write(&p, b).expect("write");
        set_mode(&p, 0o755);
        p
    };
    let evil = write("evil.iup", &with_commands(&bytes, guard, &commands));
    assert_code(&client_verify(&w, &evil), 0);
    let mut unguarded = bytes[guard..].to_vec();
    shift_offsets(&mut unguarded, 0, -(guard as i64));
    let unguarded = write("unguarded.iup", &with_commands(&unguarded, 0, &commands));
    assert_eq!(code(&client_verify(&w, &unguarded)), 21);
    let o = output(
        Command::new(stub_path())
            .arg("apply")
            .arg(&unguarded)
            .arg("--extract")
            .arg(w.path("extracted"))
            .arg("--inventory")
            .arg(w.inventory_path()),
    );
    assert_eq!(code(&o), 21, "--extract: {}", stderr(&o));

    let found = |sh: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {sh}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let shells: Vec<Vec<&str>> = [
        &["sh"][..],
        &["bash"],
        &["dash"],
        &["zsh"],
        &["busybox", "sh"],
    ]
    .into_iter()
    .filter(|sh| found(sh[0]))
    .map(<[&str]>::to_vec)
    .collect();
    assert!(shells.iter().any(|sh| sh == &["bash"]), "{shells:?}");
    // Runs `shell args`, the file on its standard input when `stdin`; whether the commands ran.
    let runs = |shell: &[&str], args: &[&str], file: &Path, stdin: bool| {
        let _ = fs::remove_file(&marker);
        let mut c = Command::new(shell[0]);
        c.args(&shell[1..])
            .args(args)
            .current_dir(w.path("packages"));
        c.stdin(if stdin {
            std::process::Stdio::from(fs::File::open(file).expect("open"))
        } else {
            std::process::Stdio::null()
        });
        c.output().expect("run a shell");
        marker.exists()
    };
    for sh in &shells {
        for (args, stdin) in [
            (&["evil.iup"][..], false),
            (&["-c", "./evil.iup"], false),
            (&[], true),
            (&["-s"], true),
            (&["-i"], true),
        ] {
            assert!(
                !runs(sh, args, &evil, stdin),
                "{sh:?} {args:?} (stdin: {stdin}) ran the commands"
            );
        }
    }
    // The attack is real: without the guard, bash runs them, as a script and as ./PKG.
    assert!(runs(&["bash"], &["unguarded.iup"], &unguarded, false));
    assert!(runs(
        &["bash"],
        &["-c", "./unguarded.iup"],
        &unguarded,
        false
    ));
}

/// `iupack-stub apply PKG --verify` with the client tool: reads and checks, changes nothing.
fn client_verify(w: &World, pkg: &Path) -> std::process::Output {
    output(
        Command::new(stub_path())
            .arg("apply")
            .arg(pkg)
            .arg("--verify")
            .arg("--inventory")
            .arg(w.inventory_path()),
    )
}

/// Format 2's manifest entry holds the manifest's line, then its signature: no more of it than
/// the signature limit (4096 bytes, docs/design.md §12) is read as the signature, by the client
/// tool and a head alike, so an unsigned package can't make them copy and decode a 32 MiB
/// "signature" before anything is verified (it could: a 1 MB package took a head to 90 MB of
/// memory, and the client tool held to 64 MiB, the stub's budget, aborted). Lines after a
/// minisign signature's four were never read, and are still not.
#[cfg(target_os = "linux")]
#[test]
fn the_signature_section_of_the_manifest_entry_is_read_up_to_the_signature_limit() {
    use iupack_stub::format::manifest::MAX_MANIFEST_BYTES;
    use iupack_stub::format::signature::MAX_SIGNATURE_BYTES;
    let w = World::new();
    let (bare, sfx) = both_forms_on_a_machine_at_1(&w);
    let before = snapshot(&w.machine());
    // The client tool with at most 64 MiB of address space.
    let held = |pkg: &Path| {
        output(
            Command::new("sh")
                .arg("-c")
                .arg("ulimit -v 65536 && exec \"$0\" apply \"$1\" --verify --inventory \"$2\"")
                .arg(stub_path())
                .arg(pkg)
                .arg(w.inventory_path()),
        )
    };
    assert_code(&held(&bare), 0);

    // The entry at its largest, nearly all of it one base64 "signature" line.
    let mut parts = unpack(&bare);
    let cap = (MAX_MANIFEST_BYTES + MAX_SIGNATURE_BYTES) as usize;
    parts.manifest = vec![b'x'; 65 << 10]; // over 64 KiB: deflated by zlib, not zopfli
    let comment = "untrusted comment: x\n";
    let line = "R".repeat(cap - parts.manifest.len() - 1 - comment.len() - 1);
    parts.signature = format!("{comment}{line}\n");
    let huge = repack(&parts, &w.path("packages/huge-signature.iup"));
    let o = held(&huge);
    assert_err(&o, 21, "signature is malformed");
    assert_same(&before, &snapshot(&w.machine()));

    // A real signature, then junk past the limit: the junk is not read.
    for (form, pkg) in [("bare", &bare), ("self-extracting", &sfx)] {
        let mut parts = unpack(pkg);
        parts
            .signature
            .push_str(&"\n".repeat(2 * MAX_SIGNATURE_BYTES as usize));
        let junk = repack(&parts, &w.path(&format!("packages/junk-{form}")));
        assert_code(&held(&junk), 0);
        if form == "self-extracting" {
            assert_code(&w.run(&junk, &["--verify"]), 0);
        }
    }
}

/// How the manifest entry is read is decided by that entry alone: format 1's two-entry layout
/// is a pretty-printed manifest (`{` alone on its first line, as every format-1 manifest was
/// written) with its signature in `iupack/manifest.json.minisig`. An entry the manifest does not
/// name is ignored, so a `.minisig` entry added beside a format-2 manifest entry changes nothing:
/// the client tool, `iupack verify` and a head all read the package as they did without it. (It
/// made the client tool and `iupack verify` read the whole entry as the manifest and refuse the
/// package, exit 20, while its head applied it.)
#[test]
fn an_unnamed_signature_entry_does_not_change_how_the_manifest_is_read() {
    use iupack_stub::format::manifest::SIGNATURE_ENTRY;
    use iupack_stub::format::write::{PackageEntry, Payload, Store};
    let w = World::new();
    let (bare, sfx) = both_forms_on_a_machine_at_1(&w);
    let entry = |name: &str, bytes: &[u8]| PackageEntry {
        name: name.into(),
        size: bytes.len() as u64,
        payload: Payload::Bytes(bytes.to_vec()),
        mode: 0o644,
        store: Store::Stored,
    };
    let verify = |pkg: &Path| {
        output(
            iupack()
                .arg("verify")
                .arg(pkg)
                .arg("--pubkey")
                .arg(w.path("keys/k.pub")),
        )
    };
    for (form, pkg) in [("bare", &bare), ("self-extracting", &sfx)] {
        let sig = unpack(pkg).signature;
        for (n, what, beside) in [
            (1, "its own signature", sig.as_bytes()),
            (2, "junk", b"junk"),
        ] {
            let mut p = unpack(pkg);
            p.entries.push(entry(SIGNATURE_ENTRY, beside));
            let out = repack(&p, &w.path(&format!("packages/beside-{form}-{n}")));
            for (who, o) in [
                ("client tool", client_verify(&w, &out)),
                ("iupack verify", verify(&out)),
            ] {
                assert_eq!(code(&o), 0, "{form}, {what} beside, {who}: {}", stderr(&o));
            }
            if form == "self-extracting" {
                assert_code(&w.run(&out, &["--verify"]), 0);
            }
        }
    }
}
