//! Writes the hostile-package vectors into `tests/vectors/` (README there): correctly signed but
//! malicious packages — a compromised build machine is the threat — and broken ones, each in
//! `tests/vectors/<failure-mode>/` with `package.run` and `expect.json` (the exit code and the
//! words the error must contain), sometimes an `inventory.json` of its own. `tests/tests/
//! security.rs` runs them all against a copy of `tests/vectors/machine/`.
//!
//! Fixed times, ids and keys (made once, in `keys/`); the minisign crate's signatures are hedged,
//! so regenerated packages differ in their signature bytes only. Usage: `cargo run -p iupack-tests --bin make-vectors [DIR]` (needs `minisign`
//! for the legacy-signature vector).

use iupack_stub::format::digest::{sha256_hex, tree_digest, TreeLine};
use iupack_stub::format::write::{sign, write_package, PackageEntry, Payload, Store};
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const HEAD: &[u8] =
    b"#!/bin/sh\necho 'an iupack test vector: run it with iupack-stub apply FILE' >&2\nexit 2\n";
const CREATED: u64 = 1_795_478_400; // 2026-11-24T00:00:00Z
const SCAN: &[u8] = b"#!/bin/sh\necho 2.0\n";
const CORE: &[u8] = b"core table 2.0\n";

struct Key {
    sk: minisign::SecretKey,
    pk: minisign::PublicKey,
    path: PathBuf,
}

fn key(dir: &Path, name: &str) -> Key {
    let path = dir.join(format!("{name}.key"));
    if !path.exists() {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().expect("keypair");
        let sk_box = kp.sk.to_box(None).expect("box");
        let pk_box = kp.pk.to_box().expect("box");
        fs::write(&path, sk_box.to_string()).expect("write key");
        fs::write(dir.join(format!("{name}.pub")), pk_box.to_string()).expect("write pub");
    }
    let text = fs::read_to_string(&path).expect("key");
    let sk = minisign::SecretKey::from_unencrypted_box(
        minisign::SecretKeyBox::from_string(&text).expect("box"),
    )
    .expect("unencrypted key");
    let pk = minisign::PublicKey::from_secret_key(&sk).expect("public key");
    Key { sk, pk, path }
}

fn pub_b64(k: &Key) -> String {
    k.pk.to_base64()
}

/// A file of the package: path (as written into the manifest, hostile or not), bytes, mode.
#[derive(Clone)]
struct F {
    path: String,
    bytes: Vec<u8>,
    mode: u32,
}

fn f(path: &str, bytes: &[u8], mode: u32) -> F {
    F {
        path: path.into(),
        bytes: bytes.to_vec(),
        mode,
    }
}

fn good_files() -> Vec<F> {
    vec![f("bin/scan", SCAN, 0o755), f("core.tbl", CORE, 0o644)]
}

fn file_json(x: &F) -> Value {
    json!({ "path": x.path, "size": x.bytes.len(), "sha256": sha256_hex(&x.bytes), "mode": x.mode })
}

/// The manifest of a package bringing engine `version` with `files`.
fn manifest(id: &str, product: &str, version: &str, files: &[F]) -> Value {
    let shas: Vec<String> = files.iter().map(|x| sha256_hex(&x.bytes)).collect();
    let tree = tree_digest(files.iter().zip(&shas).map(|(x, sha)| TreeLine {
        path: &x.path,
        mode: x.mode,
        size: x.bytes.len() as u64,
        sha256: sha,
    }));
    json!({
        "format": 1,
        "package": { "id": id, "created": "2026-11-24T00:00:00Z", "version": version,
                     "stub": { "size": HEAD.len(), "sha256": sha256_hex(HEAD) } },
        "product": product,
        "targets": { "product_versions": "*", "platforms": ["*"], "languages": ["*"] },
        "components": [ { "name": "engine", "version": version, "tree": tree,
                          "full": files.iter().map(file_json).collect::<Vec<_>>() } ]
    })
}

/// The ZIP entries of `files` (a name the manifest lists twice is stored once: ZIP writers
/// refuse duplicates).
fn entries(files: &[F]) -> Vec<PackageEntry> {
    let mut seen = std::collections::HashSet::new();
    files
        .iter()
        .filter(|x| seen.insert(x.path.clone()))
        .map(|x| PackageEntry {
            name: format!("full/engine/{}", x.path),
            size: x.bytes.len() as u64,
            payload: Payload::Bytes(x.bytes.clone()),
            mode: 0o644,
            store: Store::Stored,
        })
        .collect()
}

fn comment(m: &Value) -> String {
    format!(
        "iupack product={} id={} version={}",
        m["product"].as_str().unwrap_or(""),
        m["package"]["id"].as_str().unwrap_or(""),
        m["package"]["version"].as_str().unwrap_or("")
    )
}

fn bytes_of(m: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(m).expect("json")
}

fn signed(k: &Key, data: &[u8], comment: &str) -> String {
    sign(&k.sk, Some(&k.pk), data, comment, "iupack test vector").expect("sign")
}

fn package(manifest: &[u8], sig: &str, entries: &[PackageEntry]) -> Vec<u8> {
    write_package(
        std::io::Cursor::new(Vec::new()),
        HEAD,
        manifest,
        sig,
        entries,
        CREATED,
    )
    .expect("write package")
    .into_inner()
}

struct Out {
    root: PathBuf,
    count: usize,
}

impl Out {
    fn vector(&mut self, name: &str, pkg: &[u8], expect: Value, inventory: Option<&Value>) {
        let dir = self.root.join(name);
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join("package.run"), pkg).expect("write");
        let mut e = serde_json::to_vec_pretty(&expect).expect("json");
        e.push(b'\n');
        fs::write(dir.join("expect.json"), e).expect("write");
        if let Some(inv) = inventory {
            fs::write(
                dir.join("inventory.json"),
                serde_json::to_vec_pretty(inv).expect("json"),
            )
            .expect("write");
        }
        self.count += 1;
    }
}

fn refuse(exit: i32, message: &str) -> Value {
    json!({ "exit": exit, "message": message })
}

/// The sample machine's inventory: engine 1.0 at `acme/engine`, trusting `trusted`.
fn inventory(trusted: &str, revoked: &[String], floor: Option<&str>) -> Value {
    let mut engine = json!({ "version": "1.0", "path": "acme/engine" });
    if let Some(fl) = floor {
        engine["floor"] = json!(fl);
    }
    json!({ "format": 1, "machine": { "platform": "linux-x86_64", "language": "en" },
            "products": [ { "id": "acme-av", "name": "Acme Antivirus", "version": "12.1",
                            "trusted_keys": [trusted], "revoked_keys": revoked,
                            "components": { "engine": engine }, "keep_previous": 1 } ] })
}

/// Rewrites the uncompressed size of ZIP entry `name` in its local header and the central
/// directory (a ZIP that lies about how big an entry is).
fn lie_about_size(zip: &mut [u8], name: &str, size: u32) {
    let n = name.as_bytes();
    let mut i = 0;
    while i + 46 + n.len() <= zip.len() {
        if zip[i..].starts_with(b"PK\x03\x04") && zip[i + 30..].starts_with(n) {
            zip[i + 22..i + 26].copy_from_slice(&size.to_le_bytes());
        }
        if zip[i..].starts_with(b"PK\x01\x02") && zip[i + 46..].starts_with(n) {
            zip[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
        }
        i += 1;
    }
}

/// Marks ZIP entry `name` as a symbolic link (Unix mode 0120777 in the central directory).
fn make_symlink(zip: &mut [u8], name: &str) {
    let n = name.as_bytes();
    for i in 0..zip.len().saturating_sub(46 + n.len()) {
        if zip[i..].starts_with(b"PK\x01\x02") && zip[i + 46..].starts_with(n) {
            zip[i + 5] = 3; // made by Unix
            zip[i + 38..i + 42].copy_from_slice(&(0o120_777u32 << 16).to_le_bytes());
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("marker present")
}

/// Signed packages whose declared sizes no reader may be asked to hold (issue 18, class 6): a
/// solid `tar.zst` full archive listing a 2^33-byte file (past what a tar header holds), a
/// `bsdiff-lzma` patch and manifest declaring a 1 TiB output, and a patch whose header declares
/// an output other than the signed size. Refused with 21 by apply, `--verify` and `iupack
/// verify` (`"verify": true`), the machine unchanged.
fn size_vectors(out: &mut Out, k: &Key) {
    use iupack_stub::format::manifest::FileEntry;
    use iupack_stub::format::relpath::RelPath;
    let tree = |lines: &[(&str, u32, u64, &[u8])]| {
        let shas: Vec<String> = lines.iter().map(|l| sha256_hex(l.3)).collect();
        tree_digest(lines.iter().zip(&shas).map(|(l, sha)| TreeLine {
            path: l.0,
            mode: l.1,
            size: l.2,
            sha256: sha,
        }))
    };
    let emit = |out: &mut Out, name: &str, m: &Value, entries: &[PackageEntry], msg: &str| {
        let b = bytes_of(m);
        let sig = signed(k, &b, &comment(m));
        let mut expect = refuse(21, msg);
        expect["verify"] = json!(true);
        out.vector(name, &package(&b, &sig, entries), expect, None);
    };

    // The real files' tar stream, compressed, with the manifest listing bin/scan at 2^33 bytes.
    let files = good_files();
    let real: Vec<FileEntry> = files
        .iter()
        .map(|x| FileEntry {
            path: RelPath::parse(&x.path).expect("valid"),
            size: x.bytes.len() as u64,
            sha256: sha256_hex(&x.bytes),
            mode: x.mode,
        })
        .collect();
    let mut tar = Vec::new();
    iupack_stub::format::codecs::tarstream::write(&mut tar, &real, CREATED, |e| {
        let x = files.iter().find(|x| x.path == e.path.as_str());
        Ok(Box::new(std::io::Cursor::new(
            x.expect("listed").bytes.clone(),
        )))
    })
    .expect("tar");
    let zst = iupack_stub::format::write::encode_patch(&[], &tar, 19).expect("zstd");
    let mut m = manifest("acme-av-2.0-tar-size-lies", "acme-av", "2.0", &files);
    let big = 1u64 << 33;
    m["components"][0]["full"][0]["size"] = json!(big);
    m["components"][0]["tree"] = json!(tree(&[
        ("bin/scan", 0o755, big, SCAN),
        ("core.tbl", 0o644, CORE.len() as u64, CORE),
    ]));
    m["components"][0]["full_archive"] =
        json!({ "codec": "tar.zst", "size": zst.len(), "sha256": sha256_hex(&zst) });
    let archive = PackageEntry {
        name: "full/engine.tar.zst".into(),
        size: zst.len() as u64,
        payload: Payload::Bytes(zst),
        mode: 0o644,
        store: Store::Stored,
    };
    emit(
        out,
        "tar-size-lies",
        &m,
        &[archive],
        "more than the 8589934591 its tar archive can hold",
    );

    // A real bsdiff-lzma patch of the machine's bin/scan, its header rewritten to declare `out`
    // bytes of output; the manifest signs a patched file of `signed` bytes.
    let (old, core_old) = (b"#!/bin/sh\necho 1.0\n", b"core table 1.0\n");
    let base_tree = tree(&[
        ("bin/scan", 0o644, old.len() as u64, old),
        ("core.tbl", 0o644, core_old.len() as u64, core_old),
    ]);
    let bsdiff = |name: &str, out_size: u64, signed: u64, msg: &str, out: &mut Out| {
        let patch = iupack_stub::format::codecs::bsdx::encode(old, SCAN).expect("bsdiff");
        let patch = with_rest_size(&patch, |extra| out_size - extra);
        let mut m = manifest(&format!("acme-av-2.0-{name}"), "acme-av", "2.0", &[]);
        let c = &mut m["components"][0];
        c.as_object_mut().expect("object").remove("full");
        c["tree"] = json!(tree(&[
            ("bin/scan", 0o644, signed, SCAN),
            ("core.tbl", 0o644, core_old.len() as u64, core_old),
        ]));
        c["deltas"] = json!([{ "from": "1.0", "from_tree": base_tree, "codec": "zstd-prefix",
            "files": [{ "path": "bin/scan", "op": "patch", "from_sha256": sha256_hex(old),
                        "patch_size": patch.len(), "codec": "bsdiff-lzma",
                        "sha256": sha256_hex(SCAN), "size": signed, "mode": 0o644 }] }]);
        let entry = PackageEntry {
            name: "delta/engine/1.0/bin/scan".into(),
            size: patch.len() as u64,
            payload: Payload::Bytes(patch),
            mode: 0o644,
            store: Store::Stored,
        };
        emit(out, name, &m, &[entry], msg);
    };
    let tib = 1u64 << 40;
    bsdiff(
        "bsdiff-huge-output",
        tib,
        tib,
        "more than the 2147483648 allowed",
        out,
    );
    bsdiff(
        "bsdiff-sizes-lie",
        tib,
        SCAN.len() as u64,
        "sizes do not add up",
        out,
    );

    // Issue 22: `zucchini-xz` patches that lie, signed. A real Zucchini patch of bin/scan (raw
    // element) edited: its header claims another output size; its element claims more of the
    // old file than there is; its payload claims a decoded patch past the bound. Refused by
    // apply (21), the machine unchanged (`--verify` checks the signature, not the patch body).
    // Issue 22 step 4: the same lies in `zucchini-norm-xz` payloads (`norm`: the normalisation
    // set after its magic), and a set of normalisations no stub knows.
    let zucchini = |name: &str,
                    edit: &dyn Fn(&mut Vec<u8>),
                    raw_size: Option<u64>,
                    norm: Option<u8>,
                    msg: &str,
                    out: &mut Out| {
        use iupack_stub::format::codecs::zucchini as z;
        let mut patch = zucchini::generate_raw(old, SCAN).expect("zucchini");
        edit(&mut patch);
        let (mut payload, codec) = match norm {
            Some(set) => ([&z::NORM_MAGIC[..], &[set]].concat(), "zucchini-norm-xz"),
            None => (z::PAYLOAD_MAGIC.to_vec(), "zucchini-xz"),
        };
        let mut n = raw_size.unwrap_or(patch.len() as u64);
        while n >= 0x80 {
            payload.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        payload.push(n as u8);
        payload
            .extend(iupack_stub::format::codecs::xzblocks::write(&[(&patch, 4096)]).expect("xz"));
        let mut m = manifest(&format!("acme-av-2.0-{name}"), "acme-av", "2.0", &[]);
        let c = &mut m["components"][0];
        c.as_object_mut().expect("object").remove("full");
        c["tree"] = json!(tree(&[
            ("bin/scan", 0o644, SCAN.len() as u64, SCAN),
            ("core.tbl", 0o644, core_old.len() as u64, core_old),
        ]));
        c["deltas"] = json!([{ "from": "1.0", "from_tree": base_tree, "codec": "zstd-prefix",
            "files": [{ "path": "bin/scan", "op": "patch", "from_sha256": sha256_hex(old),
                        "patch_size": payload.len(), "codec": codec,
                        "sha256": sha256_hex(SCAN), "size": SCAN.len(), "mode": 0o644 }] }]);
        let entry = PackageEntry {
            name: "delta/engine/1.0/bin/scan".into(),
            size: payload.len() as u64,
            payload: Payload::Bytes(payload),
            mode: 0o644,
            store: Store::Stored,
        };
        let b = bytes_of(&m);
        let sig = signed(k, &b, &comment(&m));
        out.vector(name, &package(&b, &sig, &[entry]), refuse(21, msg), None);
    };
    let put =
        |at: usize, v: u32| move |p: &mut Vec<u8>| p[at..at + 4].copy_from_slice(&v.to_le_bytes());
    // Header: magic, versions, old size, old CRC, new size (offset 16), new CRC; then the
    // element count and the first element's old offset (28) and old length (32).
    let all = iupack_stub::format::codecs::zucchini::NORM_ALL as u8;
    for (prefix, norm) in [("zucchini", None), ("zucchini-norm", Some(all))] {
        zucchini(
            &format!("{prefix}-output-size-lie"),
            &put(16, 1 << 30),
            None,
            norm,
            "not the signed one",
            out,
        );
        zucchini(
            &format!("{prefix}-element-past-old-file"),
            &put(32, old.len() as u32 + 4096),
            None,
            norm,
            "outside its file",
            out,
        );
        zucchini(
            &format!("{prefix}-decoded-size-lie"),
            &|_| {},
            Some(1 << 40),
            norm,
            "out of bounds",
            out,
        );
    }
    zucchini(
        "zucchini-norm-unknown-normalisation",
        &|_| {},
        None,
        Some(all | 0x40),
        "does not know",
        out,
    );
}

/// A layout-2 `bsdiff-lzma` patch whose header declares `rest(extra)` bytes of diff rest (its
/// third size) for its extra size, the coded sections unchanged.
fn with_rest_size(patch: &[u8], rest: impl Fn(u64) -> u64) -> Vec<u8> {
    assert_eq!(&patch[..8], b"IUBSDL2\n", "layout 2");
    let (mut at, mut sizes) = (8, [0u64; 4]);
    for n in &mut sizes {
        let mut shift = 0;
        loop {
            let b = patch[at];
            at += 1;
            *n |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b < 0x80 {
                break;
            }
        }
    }
    sizes[2] = rest(sizes[3]);
    let mut out = patch[..8].to_vec();
    for mut n in sizes {
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    out.extend_from_slice(&patch[at..]);
    out
}

/// Issue 18: signed packages whose paths Windows (or a case-insensitive file system) would read
/// as another file or a device, refused everywhere (21); and fields holding terminal escape
/// sequences, which come out escaped (the refusal words are the escaped text).
fn windows_names_and_escapes(out: &mut Out, k: &Key) {
    let signed_vector =
        |out: &mut Out, name: &str, m: &Value, files: &[F], sig_comment: &str, expect: Value| {
            let b = bytes_of(m);
            let sig = signed(k, &b, sig_comment);
            out.vector(name, &package(&b, &sig, &entries(files)), expect, None);
        };
    let invalid = "the signed manifest is not valid";
    for (name, paths) in [
        ("windows-reserved-name", &["bin/CON"][..]),
        ("windows-reserved-name-extension", &["nul.txt"]),
        ("windows-reserved-name-folder", &["AUX/x"]),
        ("windows-reserved-name-superscript", &["bin/COM\u{b9}"]),
        ("windows-reserved-name-console", &["CONIN$"]),
        ("windows-reserved-name-space", &["prn .log"]),
        ("windows-trailing-dot", &["core.tbl."]),
        ("windows-trailing-space", &["bin/scan "]),
        ("windows-trailing-dot-folder", &["bin./x"]),
        ("windows-reserved-character", &["bin/what?.sh"]),
        ("short-name-alias", &["longfilename.txt", "LONGFI~1.TXT"]),
        ("unicode-case-twins", &["\u{3c3}.txt", "\u{3c2}.txt"]),
        ("unicode-case-twins-long-s", &["bin/\u{17f}can"]),
        ("unicode-case-twins-dotless-i", &["d\u{131}r", "DIR"]),
        ("unicode-case-twins-micro", &["\u{b5}", "\u{3bc}"]),
        ("unicode-case-twins-kelvin", &["\u{212a}", "k"]),
    ] {
        let mut files = good_files();
        files.extend(paths.iter().map(|p| f(p, b"boom!", 0o644)));
        let m = manifest(&format!("acme-av-2.0-{name}"), "acme-av", "2.0", &files);
        signed_vector(out, name, &m, &files, &comment(&m), refuse(21, invalid));
    }

    // Escape sequences in the signed platforms and created: refused as not applicable, the
    // platform shown escaped (`iupack inspect` of this vector shows both escaped).
    let files = good_files();
    let mut m = manifest("acme-av-2.0-escapes", "acme-av", "2.0", &files);
    m["package"]["created"] = json!("2026-11-24T00:00:00Z\u{1b}]0;owned\u{7}");
    m["targets"]["platforms"] = json!(["\u{1b}[2J\u{1b}[31mlinux-riscv64\u{9b}0m\u{202e}"]);
    signed_vector(
        out,
        "escape-sequences-in-fields",
        &m,
        &files,
        &comment(&m),
        refuse(
            10,
            "for platform \\u{1b}[2J\\u{1b}[31mlinux-riscv64\\u{9b}0m\\u{202e}, this machine",
        ),
    );
    // An escape sequence in the trusted comment's product (unverified when it picks whose keys
    // to try): no such product is installed, and the error shows it escaped.
    let m = manifest("acme-av-2.0-comment-escape", "acme-av", "2.0", &files);
    signed_vector(
        out,
        "escape-sequence-in-trusted-comment",
        &m,
        &files,
        "iupack product=acme-av\u{1b}]0;owned\u{7} id=acme-av-2.0-comment-escape version=2.0",
        refuse(10, "product acme-av\\u{1b}]0;owned\\u{7} is not installed"),
    );
}

fn main() {
    let root = std::env::args().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors"),
        PathBuf::from,
    );
    let keys_dir = root.join("keys");
    fs::create_dir_all(&keys_dir).expect("mkdir");
    let k = key(&keys_dir, "vector");
    let rogue = key(&keys_dir, "rogue");
    let newk = key(&keys_dir, "next");

    // The machine every vector runs against.
    let machine = root.join("machine");
    let _ = fs::remove_dir_all(&machine);
    fs::create_dir_all(machine.join("acme/engine/bin")).expect("mkdir");
    fs::write(
        machine.join("acme/engine/bin/scan"),
        b"#!/bin/sh\necho 1.0\n",
    )
    .expect("write");
    fs::write(machine.join("acme/engine/core.tbl"), b"core table 1.0\n").expect("write");
    fs::write(
        machine.join("inventory.json"),
        serde_json::to_vec_pretty(&inventory(&pub_b64(&k), &[], None)).expect("json"),
    )
    .expect("write");

    let mut out = Out {
        root: root.clone(),
        count: 0,
    };
    // Old vectors go: the set is exactly what this run writes.
    for e in fs::read_dir(&root).expect("read").flatten() {
        if e.path().join("expect.json").exists() {
            fs::remove_dir_all(e.path()).expect("remove");
        }
    }
    let installed = json!({ "acme/engine/core.tbl": sha256_hex(CORE), "acme/engine/bin/scan": sha256_hex(SCAN) });

    // --- Controls: the good package installs; entries the manifest does not name are ignored.
    let good_m = manifest("acme-av-2.0-good", "acme-av", "2.0", &good_files());
    let good_b = bytes_of(&good_m);
    let good_sig = signed(&k, &good_b, &comment(&good_m));
    let good = package(&good_b, &good_sig, &entries(&good_files()));
    out.vector(
        "ok-control",
        &good,
        json!({ "exit": 0, "message": "", "installed": installed }),
        None,
    );
    let mut extra = entries(&good_files());
    for name in [
        "../../evil.sh",
        "/tmp/iupack-evil.sh",
        "full/engine/../../evil.sh",
    ] {
        extra.push(PackageEntry {
            name: name.into(),
            size: 5,
            payload: Payload::Bytes(b"boom!".to_vec()),
            mode: 0o755,
            store: Store::Stored,
        });
    }
    out.vector(
        "ok-unnamed-entries-ignored",
        &package(&good_b, &good_sig, &extra),
        json!({ "exit": 0, "message": "", "installed": installed,
                "absent": ["evil.sh", "../evil.sh", "acme/evil.sh"] }),
        None,
    );

    // --- Signed, hostile manifests (the build machine is compromised; the key is good).
    let hostile = |out: &mut Out,
                   name: &str,
                   files: Vec<F>,
                   m_edit: &dyn Fn(&mut Value),
                   exit: i32,
                   msg: &str| {
        let mut m = manifest(&format!("acme-av-2.0-{name}"), "acme-av", "2.0", &files);
        m_edit(&mut m);
        let b = bytes_of(&m);
        let sig = signed(&k, &b, &comment(&m));
        out.vector(
            name,
            &package(&b, &sig, &entries(&files)),
            refuse(exit, msg),
            None,
        );
    };
    let none = |_: &mut Value| {};
    for (name, path) in [
        ("traversal-dotdot", "../evil.sh"),
        ("traversal-nested", "bin/../../evil.sh"),
        ("traversal-absolute", "/etc/cron.d/evil"),
        ("traversal-drive", "C:/Windows/evil.dll"),
        ("traversal-drive-relative", "C:evil.dll"),
        ("traversal-backslash", "..\\evil.sh"),
        ("traversal-unc", "\\\\server\\share\\evil.dll"),
        ("traversal-nul", "evil.sh\u{0}.txt"),
        ("traversal-dot-segment", "./evil.sh"),
        ("traversal-empty-segment", "bin//evil.sh"),
        ("traversal-trailing-slash", "bin/"),
        ("traversal-control-char", "evil\n.sh"),
    ] {
        let mut files = good_files();
        files.push(f(path, b"boom!", 0o755));
        hostile(
            &mut out,
            name,
            files,
            &none,
            21,
            "the signed manifest is not valid",
        );
    }
    let mut dup = good_files();
    dup.push(f("core.tbl", b"other bytes\n", 0o644));
    hostile(
        &mut out,
        "duplicate-paths",
        dup,
        &none,
        21,
        "the signed manifest is not valid",
    );
    let mut case = good_files();
    case.push(f("CORE.tbl", b"other bytes\n", 0o644));
    hostile(
        &mut out,
        "case-collision",
        case,
        &none,
        21,
        "the signed manifest is not valid",
    );
    hostile(
        &mut out,
        "mode-symlink",
        good_files(),
        &|m| m["components"][0]["full"][1]["mode"] = json!(0o120_777),
        21,
        "the signed manifest is not valid",
    );
    hostile(
        &mut out,
        "mode-setuid",
        good_files(),
        &|m| m["components"][0]["full"][0]["mode"] = json!(0o4755),
        21,
        "the signed manifest is not valid",
    );
    hostile(
        &mut out,
        "unknown-format",
        good_files(),
        &|m| m["format"] = json!(99),
        21,
        "the signed manifest is not valid",
    );
    hostile(
        &mut out,
        "unknown-field",
        good_files(),
        &|m| m["components"][0]["run_after_install"] = json!("rm -rf /"),
        21,
        "the signed manifest is not valid",
    );
    hostile(
        &mut out,
        "tree-mismatch",
        good_files(),
        &|m| m["components"][0]["tree"] = json!(sha256_hex(b"another tree")),
        21,
        "the signed manifest is not valid",
    );
    hostile(
        &mut out,
        "wrong-product",
        good_files(),
        &|m| m["product"] = json!("other-av"),
        10,
        "not installed",
    );

    // A symlink entry: the manifest's file is stored as a link to /etc/passwd.
    {
        let files = vec![
            f("bin/scan", SCAN, 0o755),
            f("core.tbl", b"/etc/passwd", 0o644),
        ];
        let m = manifest("acme-av-2.0-symlink", "acme-av", "2.0", &files);
        let b = bytes_of(&m);
        let mut pkg = package(&b, &signed(&k, &b, &comment(&m)), &entries(&files));
        make_symlink(&mut pkg, "full/engine/core.tbl");
        out.vector("symlink-entry", &pkg, refuse(21, "symbolic link"), None);
    }
    // A bomb: 1 KiB declared everywhere, a deflate stream that inflates to 64 MiB.
    {
        let files = vec![
            f("bin/scan", SCAN, 0o755),
            f("core.tbl", &[0u8; 1024], 0o644),
        ];
        let m = manifest("acme-av-2.0-bomb", "acme-av", "2.0", &files);
        let b = bytes_of(&m);
        let mut es = entries(&files);
        es[1].payload = Payload::Bytes(vec![0u8; 64 << 20]);
        es[1].size = 64 << 20;
        es[1].store = Store::Auto;
        let mut pkg = package(&b, &signed(&k, &b, &comment(&m)), &es);
        lie_about_size(&mut pkg, "full/engine/core.tbl", 1024);
        out.vector("zip-bomb", &pkg, refuse(21, "core.tbl"), None);
    }
    // An entry larger than the manifest says (honest ZIP headers).
    {
        let files = good_files();
        let m = manifest("acme-av-2.0-oversize", "acme-av", "2.0", &files);
        let b = bytes_of(&m);
        let mut es = entries(&files);
        es[1].payload = Payload::Bytes(vec![b'x'; 4096]);
        es[1].size = 4096;
        out.vector(
            "entry-larger-than-signed",
            &package(&b, &signed(&k, &b, &comment(&m)), &es),
            refuse(21, "but the signed manifest says"),
            None,
        );
    }
    // The manifest names a file the ZIP lacks.
    {
        let files = good_files();
        let m = manifest("acme-av-2.0-missing", "acme-av", "2.0", &files);
        let b = bytes_of(&m);
        let mut es = entries(&files);
        es.pop();
        out.vector(
            "missing-entry",
            &package(&b, &signed(&k, &b, &comment(&m)), &es),
            refuse(21, "lacks full/engine/core.tbl"),
            None,
        );
    }

    // --- Signatures.
    {
        let other = manifest("acme-av-2.0-other", "acme-av", "2.0", &good_files());
        let ob = bytes_of(&other);
        let other_sig = signed(&k, &ob, &comment(&other));
        out.vector(
            "mix-and-match",
            &package(&good_b, &other_sig, &entries(&good_files())),
            refuse(20, "does not verify"),
            None,
        );
        let moved = signed(&k, &good_b, &comment(&other));
        out.vector(
            "comment-names-another-package",
            &package(&good_b, &moved, &entries(&good_files())),
            refuse(20, "the signature is for package acme-av-2.0-other"),
            None,
        );
        let no_comment = signed(&k, &good_b, "timestamp:1795478400\tfile:manifest.json");
        out.vector(
            "comment-not-iupack",
            &package(&good_b, &no_comment, &entries(&good_files())),
            refuse(20, "not an iupack one"),
            None,
        );
        let rogue_sig = signed(&rogue, &good_b, &comment(&good_m));
        out.vector(
            "untrusted-key",
            &package(&good_b, &rogue_sig, &entries(&good_files())),
            refuse(20, "does not trust"),
            None,
        );
        out.vector(
            "revoked-key",
            &good,
            refuse(20, "revoked"),
            Some(&inventory(&pub_b64(&k), &[pub_b64(&k)], None)),
        );
        let mut flipped = good_sig.clone().into_bytes();
        let line2 = find(&flipped, b"\n") + 10;
        flipped[line2] = if flipped[line2] == b'A' { b'B' } else { b'A' };
        out.vector(
            "signature-altered",
            &package(
                &good_b,
                std::str::from_utf8(&flipped).expect("text"),
                &entries(&good_files()),
            ),
            refuse(20, "signed by key"),
            None,
        );
        // Legacy (not pre-hashed) signature, made by the reference tool.
        let tmp = std::env::temp_dir().join(format!("iupack-vectors-{}", std::process::id()));
        fs::create_dir_all(&tmp).expect("mkdir");
        fs::write(tmp.join("m.json"), &good_b).expect("write");
        let made = std::process::Command::new("minisign")
            .args(["-S", "-l", "-s"])
            .arg(&k.path)
            .arg("-m")
            .arg(tmp.join("m.json"))
            .args(["-t", &comment(&good_m), "-x"])
            .arg(tmp.join("m.sig"))
            .stdin(std::process::Stdio::null())
            .output();
        match made {
            Ok(o) if o.status.success() => {
                let legacy = fs::read_to_string(tmp.join("m.sig")).expect("sig");
                out.vector(
                    "legacy-signature",
                    &package(&good_b, &legacy, &entries(&good_files())),
                    refuse(20, "legacy"),
                    None,
                );
            }
            other => {
                eprintln!("make-vectors: skipped legacy-signature (minisign -l failed: {other:?})")
            }
        }
        let _ = fs::remove_dir_all(&tmp);
    }

    // --- The file: truncated at every region boundary, junk appended, head swapped.
    {
        let zip_start = HEAD.len();
        let at = |needle: &[u8]| find(&good, needle);
        let sig_hdr = at(b"iupack/manifest.json.minisig");
        let content_hdr = at(b"full/engine/bin/scan");
        let cd = find(&good, b"PK\x01\x02");
        let eocd = find(&good, b"PK\x05\x06");
        let cuts = [
            ("truncated-head-only", zip_start, "not an iupack package"),
            ("truncated-in-manifest-header", zip_start + 20, "damaged"),
            ("truncated-in-manifest", zip_start + 80, "damaged"),
            ("truncated-at-signature", sig_hdr - 30, "damaged"),
            ("truncated-at-content", content_hdr - 30, "damaged"),
            ("truncated-at-central-directory", cd, "damaged"),
            ("truncated-in-central-directory", cd + 60, "damaged"),
            ("truncated-at-end-record", eocd, "damaged"),
            ("truncated-in-end-record", eocd + 11, "damaged"),
            ("truncated-last-byte", good.len() - 1, "damaged"),
        ];
        for (name, cut, msg) in cuts {
            out.vector(name, &good[..cut], refuse(21, msg), None);
        }
        let mut junk = good.clone();
        junk.extend_from_slice(b"appended junk, as a mail gateway might add\n");
        out.vector("junk-appended", &junk, refuse(21, "appended"), None);
        let mut head = good.clone();
        head[12] ^= 0x20;
        out.vector("head-altered", &head, refuse(21, "executable head"), None);
        let mut payload = good.clone();
        let p = find(&payload, CORE);
        payload[p] ^= 0x01;
        out.vector("content-altered", &payload, refuse(21, "core.tbl"), None);
    }

    // --- Security floor and key transitions.
    {
        let files = vec![
            f("bin/scan", b"#!/bin/sh\necho 0.9\n", 0o755),
            f("core.tbl", b"core 0.9\n", 0o644),
        ];
        let mut m = manifest("acme-av-0.9-old", "acme-av", "0.9", &files);
        m["components"][0]["version"] = json!("0.9");
        let b = bytes_of(&m);
        out.vector(
            "downgrade-below-floor",
            &package(&b, &signed(&k, &b, &comment(&m)), &entries(&files)),
            json!({ "exit": 12, "message": "security floor", "args": ["--allow-downgrade"] }),
            Some(&inventory(&pub_b64(&k), &[], Some("1.0"))),
        );

        let transition = |by: &Key, product: &str, new: &Key| -> (Vec<u8>, String) {
            let t = iupack_stub::format::keys::Transition {
                format: 1,
                kind: iupack_stub::format::keys::KIND.into(),
                product: product.into(),
                new_key: pub_b64(new),
                revoke_signer: false,
                created: "2026-11-24T00:00:00Z".into(),
            };
            let b = t.to_json();
            let s = signed(by, &b, &t.comment());
            (b, s)
        };
        let with_transitions = |ts: &[(Vec<u8>, String)], signer: &Key, id: &str| -> Vec<u8> {
            let m = manifest(id, "acme-av", "2.0", &good_files());
            let b = bytes_of(&m);
            let mut es = Vec::new();
            for (i, (data, sig)) in ts.iter().enumerate() {
                let (n, s) = iupack_stub::format::keys::entry_names(i + 1);
                es.push(PackageEntry {
                    name: n,
                    size: data.len() as u64,
                    payload: Payload::Bytes(data.clone()),
                    mode: 0o644,
                    store: Store::Auto,
                });
                es.push(PackageEntry {
                    name: s,
                    size: sig.len() as u64,
                    payload: Payload::Bytes(sig.clone().into_bytes()),
                    mode: 0o644,
                    store: Store::Auto,
                });
            }
            es.extend(entries(&good_files()));
            package(&b, &signed(signer, &b, &comment(&m)), &es)
        };
        out.vector(
            "ok-key-transition",
            &with_transitions(
                &[transition(&k, "acme-av", &newk)],
                &newk,
                "acme-av-2.0-rotated",
            ),
            json!({ "exit": 0, "message": "now trusts key", "installed": installed }),
            None,
        );
        out.vector(
            "transition-by-untrusted-key",
            &with_transitions(
                &[transition(&rogue, "acme-av", &rogue)],
                &rogue,
                "acme-av-2.0-rogue",
            ),
            refuse(20, "does not trust"),
            None,
        );
        out.vector(
            "transition-for-another-product",
            &with_transitions(
                &[transition(&k, "other-av", &newk)],
                &newk,
                "acme-av-2.0-other-product",
            ),
            refuse(20, "is for product other-av"),
            None,
        );
        let (tb, ts) = transition(&k, "acme-av", &rogue);
        let mut tb2 = tb.clone();
        let p = find(&tb2, b"\"revoke_signer\": false");
        tb2[p + 17..p + 22].copy_from_slice(b"true ");
        out.vector(
            "transition-altered",
            &with_transitions(&[(tb2, ts)], &rogue, "acme-av-2.0-altered-transition"),
            refuse(20, "key transition 1"),
            None,
        );
    }

    size_vectors(&mut out, &k);
    windows_names_and_escapes(&mut out, &k);

    let mut readme = fs::File::create(root.join("README.md")).expect("readme");
    writeln!(
        readme,
        "# Hostile-package vectors\n\n\
         Written by `cargo run -p iupack-tests --bin make-vectors` (tests/src/bin/make-vectors.rs);\n\
         run by `tests/tests/security.rs`. Each folder is one failure mode: `package.run` (a tiny\n\
         shell head instead of a stub: run it with `iupack-stub apply`), `expect.json` (exit code,\n\
         words the error must contain, optional extra arguments, for exit 0 the files that must\n\
         be installed, and `verify`: `--verify` and `iupack verify` refuse it the same way, and\n\
         apply's `--report` says so) and, where the mode needs one, its own `inventory.json`.\n\
         Every vector runs against a copy of `machine/`, whose inventory trusts `keys/vector.pub`\n\
         (the `rogue` and `next` keys play an attacker and a rotated key). A refused vector must\n\
         leave the machine exactly as it was. {} vectors.",
        out.count
    )
    .expect("write");
    eprintln!("make-vectors: {} vectors in {}", out.count, root.display());
}
