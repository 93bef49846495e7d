//! Helpers for the end-to-end tests: scratch folders, the real `iupack` and `iupack-stub`
//! binaries of this build, release trees, inventories, and byte-for-byte snapshots of a machine.
//!
//! The binaries are the ones `cargo test --workspace` builds beside the test executable.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder holding this build's binaries (`target/debug`), built fresh once per test run:
/// `cargo test -p iupack-tests` alone would otherwise run stale binaries. The stub is built with
/// its test-only fault points (feature `fault-injection`).
pub fn bin_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_bins).clone()
}

fn build_bins() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--bins",
            "-p",
            "iupack",
            "-p",
            "iupack-stub",
            "-p",
            "iupack-tests", // make-vectors
            // Fault points are no-ops unless IUPACK_FAULT_STEP is set (tests/recovery.rs).
            "--features",
            "iupack-stub/fault-injection",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build for the binaries");
    assert!(status.success(), "building iupack and iupack-stub failed");
    for name in ["iupack", "iupack-stub"] {
        assert!(
            dir.join(name).is_file(),
            "{} is missing: run the tests with `cargo test --workspace`, which builds it",
            dir.join(name).display()
        );
    }
    dir
}

pub fn iupack() -> Command {
    Command::new(bin_dir().join("iupack"))
}

pub fn stub_path() -> PathBuf {
    bin_dir().join("iupack-stub")
}

/// Fails the test with a clear message when a tool the test needs is missing.
pub fn require_tool(name: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "this test needs `{name}`: install it (apt-get install -y {name}); .ci/run does"
    );
}

/// The exit code of a finished command (panics on a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Panics with the command's output unless it exited with `want`.
#[track_caller]
pub fn assert_code(o: &Output, want: i32) {
    assert_eq!(
        code(o),
        want,
        "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
}

/// Asserts the exit code and that stderr says `text` (error text is part of the interface).
#[track_caller]
pub fn assert_err(o: &Output, want: i32, text: &str) {
    assert_code(o, want);
    assert!(
        stderr(o).contains(text),
        "stderr lacks {text:?}:\n{}",
        stderr(o)
    );
}

/// Every entry below `root`: path → (kind, bytes, mode). Two equal snapshots mean the tree is
/// byte-for-byte the same, with the same folders and modes.
pub type Snapshot = BTreeMap<String, (char, Vec<u8>, u32)>;

pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Snapshot) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .expect("below root")
            .to_string_lossy()
            .into_owned();
        let meta = fs::symlink_metadata(&p).expect("metadata");
        let mode = mode_of(&meta);
        if meta.is_dir() {
            out.insert(rel, ('d', Vec::new(), mode));
            walk(root, &p, out);
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&p).expect("read link");
            out.insert(rel, ('l', target.to_string_lossy().as_bytes().to_vec(), 0));
        } else if !meta.is_file() {
            out.insert(rel, ('s', Vec::new(), mode));
        } else {
            out.insert(rel, ('f', fs::read(&p).expect("read"), mode));
        }
    }
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}
#[cfg(not(unix))]
fn mode_of(_: &fs::Metadata) -> u32 {
    0
}

/// Asserts two snapshots are equal, naming the first difference.
#[track_caller]
pub fn assert_same(before: &Snapshot, after: &Snapshot) {
    for (k, v) in before {
        match after.get(k) {
            None => panic!("{k} disappeared"),
            Some(w) if w != v => panic!("{k} changed"),
            _ => {}
        }
    }
    for k in after.keys() {
        assert!(before.contains_key(k), "{k} appeared");
    }
}

/// A file of a release: path, bytes, executable.
pub type ReleaseFile<'a> = (&'a str, &'a [u8], bool);

/// A scratch world: a publisher side (keys, releases, specs, packages) and one machine.
#[derive(Debug)]
pub struct World {
    pub dir: tempfile::TempDir,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> World {
        World {
            dir: tempfile::Builder::new()
                .prefix("iupack-e2e-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `iupack keygen --no-password`; returns (secret key path, public key base64).
    pub fn keygen(&self, name: &str) -> (PathBuf, String) {
        let prefix = self.path(&format!("keys/{name}"));
        fs::create_dir_all(prefix.parent().expect("parent")).expect("mkdir");
        let o = iupack()
            .args(["keygen", "--no-password", "-o"])
            .arg(&prefix)
            .output()
            .expect("run iupack keygen");
        assert_code(&o, 0);
        let pubtext = fs::read_to_string(prefix.with_extension("pub")).expect("pub key");
        let b64 = pubtext.lines().nth(1).expect("key line").trim().to_string();
        (prefix.with_extension("key"), b64)
    }

    /// Writes a release tree at `releases/NAME` and returns its path.
    pub fn release(&self, name: &str, files: &[ReleaseFile<'_>]) -> PathBuf {
        let root = self.path(&format!("releases/{name}"));
        for (rel, data, exec) in files {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(&p, data).expect("write release file");
            set_mode(&p, if *exec { 0o755 } else { 0o644 });
        }
        fs::create_dir_all(&root).expect("mkdir");
        root
    }

    /// `release` from owned (path, bytes, executable) files.
    pub fn release_owned(&self, name: &str, files: &[(String, Vec<u8>, bool)]) -> PathBuf {
        let refs: Vec<ReleaseFile<'_>> = files
            .iter()
            .map(|(p, d, x)| (p.as_str(), d.as_slice(), *x))
            .collect();
        self.release(name, &refs)
    }

    /// Writes a spec file and returns its path.
    pub fn spec(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(&format!("specs/{name}.toml"));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, text).expect("write spec");
        p
    }

    /// Runs `iupack build SPEC --key KEY --out packages/NAME.run`, with this build's stub.
    pub fn build(&self, spec: &Path, key: &Path, name: &str) -> (Output, PathBuf) {
        self.build_with(spec, key, name, &[])
    }

    /// `build` with extra arguments.
    pub fn build_with(
        &self,
        spec: &Path,
        key: &Path,
        name: &str,
        extra: &[&str],
    ) -> (Output, PathBuf) {
        let out = self.path(&format!("packages/{name}.run"));
        fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
        let o = iupack()
            .arg("build")
            .arg(spec)
            .arg("--key")
            .arg(key)
            .arg("--out")
            .arg(&out)
            .arg("--stub")
            .arg(stub_path())
            .args(extra)
            .output()
            .expect("run iupack build");
        (o, out)
    }

    /// Like `build`, but the build must succeed.
    pub fn package(&self, spec: &Path, key: &Path, name: &str) -> PathBuf {
        let (o, out) = self.build(spec, key, name);
        assert_code(&o, 0);
        out
    }

    /// The machine root (holds the inventory and the product's folders).
    pub fn machine(&self) -> PathBuf {
        self.path("machine")
    }

    pub fn inventory_path(&self) -> PathBuf {
        self.machine().join("inventory.json")
    }

    /// Writes the machine's inventory for product `acme-av` 12.1 (language en, platform of this
    /// build) trusting `keys`, with `components` as (name, installed version, path).
    pub fn install_inventory(&self, keys: &[&str], components: &[(&str, Option<&str>, &str)]) {
        let comps: serde_json::Map<String, serde_json::Value> = components
            .iter()
            .map(|(n, v, p)| {
                let mut c = serde_json::json!({ "path": p });
                if let Some(v) = v {
                    c["version"] = serde_json::json!(v);
                }
                (n.to_string(), c)
            })
            .collect();
        let inv = serde_json::json!({
            "format": 1,
            "machine": { "platform": this_platform(), "language": "en" },
            "products": [{
                "id": "acme-av", "name": "Acme Antivirus", "version": "12.1", "language": "en",
                "trusted_keys": keys, "revoked_keys": [], "components": comps, "keep_previous": 1
            }]
        });
        fs::create_dir_all(self.machine()).expect("mkdir");
        fs::write(
            self.inventory_path(),
            serde_json::to_string_pretty(&inv).expect("json"),
        )
        .expect("write inventory");
    }

    /// Copies a release tree into the machine at `rel`.
    pub fn install_tree(&self, release: &Path, rel: &str) {
        copy_dir(release, &self.machine().join(rel));
    }

    /// Runs a package with the machine's inventory and extra arguments.
    pub fn run(&self, pkg: &Path, args: &[&str]) -> Output {
        output(
            Command::new(pkg)
                .args(args)
                .arg("--inventory")
                .arg(self.inventory_path()),
        )
    }

    pub fn inventory(&self) -> serde_json::Value {
        serde_json::from_slice(&fs::read(self.inventory_path()).expect("inventory"))
            .expect("inventory JSON")
    }

    /// The inventory's record of one component.
    pub fn component(&self, name: &str) -> serde_json::Value {
        self.inventory()["products"][0]["components"][name].clone()
    }
}

/// Runs a command to completion. A package file written a moment ago can fail to start with
/// ETXTBSY while another test thread forks (its child briefly holds the writer's descriptor):
/// that one error is retried.
pub fn output(cmd: &mut Command) -> Output {
    for _ in 0..50 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other.expect("run command"),
        }
    }
    panic!("{cmd:?} stayed busy (ETXTBSY)");
}

pub fn this_platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

pub fn set_mode(p: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
    }
    #[cfg(not(unix))]
    let _ = (p, mode);
}

/// The names in a folder, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Copies a tree, files with their modes and folders with theirs (a side folder is 0700).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read dir").flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            fs::copy(&p, &t).expect("copy");
        }
    }
    fs::set_permissions(to, fs::metadata(from).expect("stat").permissions()).expect("chmod");
}

/// True when the tree at `a` holds exactly the same files, bytes and modes as `b`.
#[track_caller]
pub fn assert_tree_eq(a: &Path, b: &Path) {
    assert_same(&snapshot(b), &snapshot(a));
}

/// Pseudo-random bytes (xorshift): incompressible, fast, the same for the same seed.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A program run on a pseudo-terminal, the way a person at a console runs it: what it prints is
/// collected as the person would see it (their typing echoed), and lines are typed into it.
#[cfg(unix)]
#[derive(Debug)]
pub struct Pty {
    child: std::process::Child,
    keyboard: fs::File,
    screen: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// How much of the screen earlier `expect`s consumed.
    seen: usize,
}

#[cfg(unix)]
impl Pty {
    /// Starts `cmd` with a new pseudo-terminal as its standard input, output and error.
    pub fn spawn(mut cmd: Command) -> Pty {
        use std::io::Read;
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = fs::File::from(pty.slave);
        cmd.stdin(slave.try_clone().expect("dup"))
            .stdout(slave.try_clone().expect("dup"))
            .stderr(slave);
        let child = loop {
            match cmd.spawn() {
                Err(e) if e.raw_os_error() == Some(26) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                other => break other.expect("start the program on a pty"),
            }
        };
        // The parent's copies of the terminal's other end go with `cmd`, so reading ends (EIO)
        // once the program exits.
        drop(cmd);
        let mut master = fs::File::from(pty.master);
        let keyboard = master.try_clone().expect("dup");
        let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = screen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = master.read(&mut buf) {
                sink.lock()
                    .expect("screen")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Pty {
            child,
            keyboard,
            screen,
            reader: Some(reader),
            seen: 0,
        }
    }

    /// Everything shown so far.
    pub fn screen(&self) -> String {
        self.screen.lock().expect("screen").clone()
    }

    /// Waits (up to 30 s) until `text` appears after what earlier calls matched; returns the
    /// screen from there to the end of the match.
    pub fn expect(&mut self, text: &str) -> String {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if let Some(at) = screen[self.seen..].find(text) {
                let end = self.seen + at + text.len();
                let shown = screen[self.seen..end].to_string();
                self.seen = end;
                return shown;
            }
            assert!(
                std::time::Instant::now() < until,
                "waited 30 s for {text:?}; the screen shows:\n{}",
                &screen[self.seen..]
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Types a line and Enter.
    pub fn type_line(&mut self, line: &str) {
        use std::io::Write;
        self.keyboard
            .write_all(format!("{line}\r").as_bytes())
            .expect("type into the terminal");
    }

    /// Waits for the program to exit (up to 60 s); returns its exit code and the whole screen.
    pub fn finish(mut self) -> (i32, String) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if std::time::Instant::now() > until {
                let _ = self.child.kill();
                panic!(
                    "the program did not exit; the screen shows:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        if let Some(r) = self.reader.take() {
            r.join().expect("reader");
        }
        (status.code().unwrap_or(-1), self.screen())
    }
}

/// Where the data of ZIP entry `name` starts in a package's bytes: after its local header (the
/// signature `PK\3\4`, the name 30 bytes in, then the extra field).
pub fn entry_data(zip: &[u8], name: &str) -> usize {
    let name = name.as_bytes();
    let at = (0..zip.len().saturating_sub(30 + name.len()))
        .find(|&i| {
            zip[i..i + 4] == *b"PK\x03\x04"
                && zip[i + 26..i + 28] == (name.len() as u16).to_le_bytes()
                && zip[i + 30..i + 30 + name.len()] == *name
        })
        .unwrap_or_else(|| panic!("no local header for {}", String::from_utf8_lossy(name)));
    let extra = u16::from_le_bytes([zip[at + 28], zip[at + 29]]) as usize;
    at + 30 + name.len() + extra
}

/// The ZIP entry of `path`'s patch or added bytes in the first delta of `component` (its
/// whole-tree patch when `path` is `None`), as the package's own manifest numbers it.
pub fn delta_entry(pkg: &Path, component: &str, path: Option<&str>) -> String {
    use iupack_stub::format::manifest::Manifest;
    use iupack_stub::format::package::{Expect, Package};
    let p = Package::open(pkg, Expect::Package)
        .expect("open")
        .expect("package");
    let m = Manifest::parse(p.manifest_bytes()).expect("manifest");
    let c = m.component(component).expect("component");
    let d = &c.deltas[0];
    match path {
        None => c.tree_delta_entry_name(d),
        Some(path) => {
            let f = d.files.iter().find(|f| f.path.as_str() == path);
            c.delta_entry_name(d, f.expect("file in the delta"))
        }
    }
}

/// The parts of a package file: the bytes before its ZIP, the manifest entry's line and the rest
/// of that entry (the signature section), and every other entry with its bytes, in ZIP order.
#[derive(Debug)]
pub struct Parts {
    pub head: Vec<u8>,
    pub manifest: Vec<u8>,
    pub signature: String,
    pub entries: Vec<iupack_stub::format::write::PackageEntry>,
}

/// Takes a package apart (`Parts`), to put it together again another way with [`repack`].
pub fn unpack(pkg: &Path) -> Parts {
    use iupack_stub::format::manifest::MANIFEST_ENTRY;
    use iupack_stub::format::write::{PackageEntry, Payload, Store};
    use std::io::Read;
    let mut zip = iupack_stub::format::zipread::Archive::new(fs::File::open(pkg).expect("open"))
        .expect("zip");
    let names: Vec<String> = zip
        .entries()
        .iter()
        .map(|e| String::from_utf8(e.name.clone()).expect("name"))
        .collect();
    let mut read = |name: &str| {
        let (_, mut r) = zip.by_name(name).expect("entry");
        let mut b = Vec::new();
        r.read_to_end(&mut b).expect("read entry");
        b
    };
    let both = read(MANIFEST_ENTRY);
    let line = both.iter().position(|&b| b == b'\n').expect("one line");
    let entries = names
        .iter()
        .filter(|n| *n != MANIFEST_ENTRY)
        .map(|n| {
            let b = read(n);
            PackageEntry {
                name: n.clone(),
                size: b.len() as u64,
                payload: Payload::Bytes(b),
                mode: 0o644,
                store: Store::Stored,
            }
        })
        .collect();
    let start = zip.entries()[0].header_start as usize;
    Parts {
        head: fs::read(pkg).expect("read")[..start].to_vec(),
        manifest: both[..line].to_vec(),
        signature: String::from_utf8(both[line + 1..].to_vec()).expect("text"),
        entries,
    }
}

/// Writes `parts` as a package at `out` (mode 0755, as a self-extracting package is): the head,
/// then the manifest entry (`manifest`, `\n`, `signature`), then the entries.
pub fn repack(parts: &Parts, out: &Path) -> PathBuf {
    iupack_stub::format::write::write_package(
        fs::File::create(out).expect("create"),
        &parts.head,
        &parts.manifest,
        &parts.signature,
        &parts.entries,
        0,
    )
    .expect("write");
    set_mode(out, 0o755);
    out.to_path_buf()
}

/// `iupack` at a fixed time (2026-11-24T00:00:00Z, SOURCE_DATE_EPOCH): two builds of the same
/// releases are the same package, and a package of several components is named after that day.
pub fn iupack_at_fixed_time() -> Command {
    let mut cmd = iupack();
    cmd.env("SOURCE_DATE_EPOCH", "1795478400");
    cmd
}

/// Release N of the store tests' engine (3.7.N): a script and a table that changes a little.
pub fn store_engine(n: u8) -> Vec<(String, Vec<u8>, bool)> {
    let mut core = noise(2, 60_000);
    core[usize::from(n) * 100..usize::from(n) * 100 + 50].fill(n);
    vec![
        (
            "bin/scan".into(),
            format!("#!/bin/sh\necho 3.7.{n}\n").into_bytes(),
            true,
        ),
        ("lib/core.tbl".into(), core, false),
    ]
}

/// Release N of the store tests' definitions: a big file that changes a little, a daily file.
pub fn store_defs(n: u8) -> Vec<(String, Vec<u8>, bool)> {
    let mut main = noise(1, 300_000);
    main[usize::from(n) * 1000..usize::from(n) * 1000 + 500].fill(n);
    vec![
        ("main.avdb".into(), main, false),
        (format!("daily/{n}.avdb"), vec![n; 100], false),
    ]
}

/// Builds one version of a C program of `functions` functions with gcc (`@` in `extra` becomes
/// a number) (a PIE, so it has relative relocations, calls and
/// RIP-relative loads); `extra` adds code in the middle, so what follows it moves.
pub fn c_program(dir: &Path, name: &str, extra: &str, functions: usize) -> Vec<u8> {
    c_program_by(dir, name, extra, functions, &["cc", "-O2", "-fPIE", "-pie"])
}

/// [`c_program`] as a stripped Windows PE x64 `.exe` (Debian's mingw-w64 gcc,
/// `gcc-mingw-w64-x86-64`: base relocations, calls and RIP-relative loads).
pub fn c_program_pe(dir: &Path, name: &str, extra: &str, functions: usize) -> Vec<u8> {
    c_program_by(
        dir,
        name,
        extra,
        functions,
        &["x86_64-w64-mingw32-gcc", "-O2", "-s"],
    )
}

fn c_program_by(dir: &Path, name: &str, extra: &str, functions: usize, cc: &[&str]) -> Vec<u8> {
    let src = dir.join(format!("{name}.c"));
    let mut text = String::from("#include <stdio.h>\n#include <string.h>\n");
    for i in 0..functions {
        text += &format!(
            "static const char *name{i} = \"function {i}\";\n\
             __attribute__((noinline)) int f{i}(int x) {{ return x * {i} + (int)strlen(name{i}); }}\n"
        );
        // `extra` goes in after every 50th function (its names made unique), so what follows
        // each moves by a different amount, as code does between releases.
        if i % 50 == 25 {
            text += &extra.replace("@", &i.to_string());
        }
    }
    text += "int (*table[])(int) = {";
    for i in 0..functions {
        text += &format!("f{i},");
    }
    text += "};\nint main(int argc, char **argv) { int s = 0;\n\
             for (int i = 0; i < 60; i++) s += table[i % (sizeof table / sizeof *table)](argc);\n\
             printf(\"%d %s\\n\", s, argv[0]); return 0; }\n";
    fs::write(&src, text).expect("write the C source");
    let out = dir.join(name);
    let st = Command::new(cc[0])
        .args(&cc[1..])
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("{} runs (.ci/run installs it): {e}", cc[0]));
    assert!(st.success(), "{} failed", cc[0]);
    fs::read(out).expect("read the program")
}

/// `cp -a FROM TO` (owners, modes, links and all), TO removed first: a machine saved and put
/// back between the steps of a fault walk.
pub fn cp_a(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(ok.success(), "cp -a {} {}", from.display(), to.display());
}

/// The client tool as a package carries it: this build's `iupack-stub` (fault points included)
/// stripped of its debug information (2.6 MB instead of 60), with its version mark saying
/// `version` (what its `--version` prints and `iupack build --with-client` signs), written to
/// `out`. Two of these with different versions are an older and a newer client tool.
pub fn client_tool(out: &Path, version: &str) -> PathBuf {
    static STRIPPED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let bytes = STRIPPED.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("temp dir");
        let copy = tmp.path().join("iupack-stub");
        fs::copy(stub_path(), &copy).expect("copy the client tool");
        require_tool("strip");
        let ok = Command::new("strip")
            .arg(&copy)
            .status()
            .expect("run strip");
        assert!(ok.success(), "strip failed");
        fs::read(&copy).expect("read stripped")
    });
    let prefix = b"iupack-stub-version:";
    let at = bytes
        .windows(prefix.len())
        .position(|w| w == prefix)
        .expect("the client tool has a version mark")
        + prefix.len();
    let field = 64 - prefix.len();
    assert!(version.len() < field, "version too long for the mark");
    let mut patched = bytes.clone();
    patched[at..at + field].fill(0);
    patched[at..at + version.len()].copy_from_slice(version.as_bytes());
    fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    fs::write(out, &patched).expect("write client tool");
    set_mode(out, 0o755);
    out.to_path_buf()
}
