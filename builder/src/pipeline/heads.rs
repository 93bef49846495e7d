//! The head of a package: which platform it is for (`--target`, checked against the spec's
//! platforms), which stub executables may head it (`--stub`, or those found beside this program),
//! and, once the content is known, the first of them that can decode it. Every candidate is read
//! and its executable format checked at once, so a wrong `--stub` fails before any content is
//! compressed; before the deltas are made, which codecs they may use so that the smallest head
//! reads them ([`Heads::delta_variants`]). Owns no package bytes and never writes anything.

use iupack_stub::format::package::{Expect, Package};
use iupack_stub::format::write::PatchCodecs;
use iupack_stub::{platform::fsutil, Error};
use std::fs;
use std::path::{Path, PathBuf};

/// The manifest's platforms: the spec's, or with `--target T` just T (which the spec must allow).
pub fn platforms(spec: &[String], target: Option<&str>) -> Result<Vec<String>, Error> {
    let Some(t) = target else {
        return Ok(spec.to_vec());
    };
    if let Err(m) = crate::spec::check_platform(t).and_then(|()| match t {
        "*" => Err("`*` is no platform: a package's head runs on one".to_string()),
        _ => Ok(()),
    }) {
        return Err(Error::usage(format!("--target {m}")).hint(
            "give the platform of the machines it is for, such as linux-x86_64 or windows-x86_64",
        ));
    }
    if !spec.iter().any(|p| p == "*" || p == t) {
        return Err(Error::usage(format!(
            "--target {t} is not among the spec's platforms ({})",
            spec.join(", ")
        ))
        .hint("add it to [targets] platforms, or build for one of those"));
    }
    Ok(vec![t.to_string()])
}

/// The heads a package for `target` may take, in order of preference: `--stub`, else those in
/// `stubs/T/` beside this program or in the cargo target folder above it (where
/// stub/build-targets.sh puts them: `iupack-head`, without zstd and the client commands, then
/// `iupack-head-zstd`, then the full `iupack-stub`), else, for this machine's own platform,
/// `iupack-stub` beside this program, and in the cargo target folder's
/// `stub/` (the size-optimised profile: `cargo build --profile stub -p iupack-stub`, as the
/// README's set-up and samples/demo.sh build it) and `release/`.
#[derive(Debug)]
pub struct Heads {
    target: String,
    given: bool,
    found: Vec<(PathBuf, Vec<u8>)>,
}

/// Reads the heads a package for `target` may take (`flag`: `--stub`; `explicit`: `--target`
/// was given), each checked at once.
pub fn find(flag: Option<&Path>, target: &str, explicit: bool) -> Result<Heads, Error> {
    let read = |p: &Path| -> Result<(PathBuf, Vec<u8>), Error> {
        let stub = read_stub(p)?;
        check_format(&stub, p, target)?;
        Ok((p.to_path_buf(), stub))
    };
    if let Some(p) = flag {
        return Ok(Heads {
            target: target.to_string(),
            given: true,
            found: vec![read(p)?],
        });
    }
    let exe = std::env::current_exe().map_err(|e| {
        Error::other(format!("cannot find this program's folder: {e}"))
            .hint("pass the stub with --stub PATH")
    })?;
    let dir = fsutil::parent_of(&exe);
    let candidates = candidates(&dir, target);
    let found = candidates
        .iter()
        .filter(|c| c.is_file())
        .map(|c| read(c))
        .collect::<Result<Vec<_>, Error>>()?;
    if !found.is_empty() {
        return Ok(Heads {
            target: target.to_string(),
            given: false,
            found,
        });
    }
    Err(Error::usage(format!(
        "no stub for {target} found (looked in {})",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .hint(missing_hint(&dir, target, explicit)))
}

/// The platforms stub/build-targets.sh builds heads for.
const SCRIPT_TARGETS: &[&str] = &["linux-x86_64", "windows-x86_64"];

/// What makes a stub appear where [`candidates`] looks: with `--target`, stub/build-targets.sh
/// (its `target/stubs/T/`); for this machine, a cargo build into the target folder this program
/// runs from (only when it runs from one: a cargo target folder has `CACHEDIR.TAG`), else a copy
/// of `iupack-stub` beside it. `--stub PATH` always works.
fn missing_hint(dir: &Path, target: &str, explicit: bool) -> String {
    let in_cargo_target = dir
        .parent()
        .is_some_and(|t| t.join("CACHEDIR.TAG").is_file());
    let script = SCRIPT_TARGETS.contains(&target) && in_cargo_target;
    if explicit || target != iupack_stub::this_platform() {
        if script {
            return format!(
                "build the heads for {target} with `bash stub/build-targets.sh {target}` in the iupack source folder (they land in target/stubs/{target}/), or pass --stub PATH"
            );
        }
        return format!(
            "pass a stub built for {target} with --stub PATH, or put it at {}",
            dir.join("stubs").join(target).join("iupack-stub").display()
        );
    }
    if in_cargo_target {
        return "build it with `cargo build --locked --profile stub -p iupack-stub` in the iupack source folder (it lands in target/stub/), or pass --stub PATH".to_string();
    }
    format!(
        "put the iupack-stub program beside iupack ({}), or pass --stub PATH",
        dir.join("iupack-stub").display()
    )
}

/// A head found by looking (not given with `--stub`) outside a `stubs/PLATFORM/` folder: a
/// development build (the tests' glibc stub, a profile-stub build), larger than the shipped
/// heads and dynamically linked; every package built with it carries it.
pub fn development_warning(path: &Path, size: usize, given: bool) -> Option<String> {
    let shipped = path
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .is_some_and(|n| n == "stubs");
    (!given && !shipped).then(|| {
        format!(
            "the package's head is a development stub, {} ({size} bytes): `bash stub/build-targets.sh` builds the shipped heads (449 KB on linux-x86_64, static) into target/stubs/, where iupack finds them",
            path.display()
        )
    })
}

/// Where a head for `target` may be, in order of preference (see [`Heads`]); `dir` is this
/// program's folder.
fn candidates(dir: &Path, target: &str) -> Vec<PathBuf> {
    let ext = if target.starts_with("windows-") {
        ".exe"
    } else {
        ""
    };
    let mut candidates = Vec::new();
    for stubs in [Some(dir), dir.parent()].into_iter().flatten() {
        let d = stubs.join("stubs").join(target);
        for name in [
            "iupack-head",
            "iupack-head-exe",
            "iupack-head-zstd",
            "iupack-stub",
        ] {
            candidates.push(d.join(format!("{name}{ext}")));
        }
    }
    if target == iupack_stub::this_platform() {
        let name = format!("iupack-stub{ext}");
        candidates.push(dir.join(&name));
        candidates.push(dir.join("stubs").join(&name));
        if let Some(cargo_target) = dir.parent() {
            for profile in ["stub", "release"] {
                let p = cargo_target.join(profile).join(&name);
                if !candidates.contains(&p) {
                    candidates.push(p);
                }
            }
        }
    }
    candidates
}

/// Whether a stub's feature mark has `feature`.
fn marked(stub: &[u8], feature: &str) -> bool {
    iupack_stub::stub_features(stub).is_some_and(|f| f.iter().any(|f| f == feature))
}

/// Whether a stub reads the packages this builder writes (manifest format 2, `bsdiff-lzma`
/// layout 2): older ones can't head them.
fn current(stub: &[u8]) -> bool {
    marked(stub, "format2") && marked(stub, "bsdx2")
}

/// Whether a stub reads zstd data.
fn reads_zstd(stub: &[u8]) -> bool {
    marked(stub, "zstd")
}

impl Heads {
    /// The ways to make the package's deltas, each with the size of the head that would carry
    /// it (issue 21, item 3). For a package with no full content (`has_full` false): with both a
    /// head without zstd and one with it found (not given with `--stub`), two (patches the small
    /// head reads, first, then any), and the package is built
    /// the way that makes it smaller, head included; with only a head without zstd (found, or
    /// given), what it reads. Otherwise any codec, as before: a package with full content keeps
    /// the head its full content and patches need (a full apply by the zstd head is pipelined,
    /// by the small one it is not, and full applies must not get slower).
    pub fn delta_variants(&self, has_full: bool) -> Vec<(PatchCodecs, u64)> {
        let size = |s: &Vec<u8>| s.len() as u64;
        let first = |zstd: bool, exe: bool| {
            self.found
                .iter()
                .find(|(_, s)| current(s) && reads_zstd(s) == zstd && marked(s, "exe") == exe)
                .map(|(_, s)| size(s))
        };
        let (small, small_exe) = (first(false, false), first(false, true));
        let big = self
            .found
            .iter()
            .find(|(_, s)| current(s) && reads_zstd(s))
            .map(|(_, s)| size(s));
        let mut ways: Vec<(PatchCodecs, u64)> = Vec::new();
        if !has_full && (big.is_none() || !self.given) {
            ways.extend(small.map(|n| (PatchCodecs::NoZstd, n)));
            ways.extend(small_exe.map(|n| (PatchCodecs::NoZstdExe, n)));
        }
        match big {
            Some(big) if ways.is_empty() || !self.given => ways.push((PatchCodecs::All, big)),
            None if ways.is_empty() => {
                ways.push((PatchCodecs::All, small.or(small_exe).unwrap_or(0)))
            }
            _ => {}
        }
        ways
    }

    /// The first head that can decode what the package holds: one built without zstd only when
    /// no content is zstd data; for a package that carries the client tool, one that installs it
    /// (feature mark `install`: not `iupack-head`). A head must be marked `format2` and `bsdx2` (it reads the
    /// packages this builder writes); one without those marks is older and is never taken.
    pub fn pick(
        self,
        needs_zstd: bool,
        needs_exe: bool,
        needs_install: bool,
    ) -> Result<(PathBuf, Vec<u8>), Error> {
        let shown: Vec<String> = self
            .found
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        let mut older = None;
        for (path, stub) in self.found {
            if !current(&stub) {
                // Built before manifest format 2 (or not iupack's): it can't read this
                // builder's packages.
                if self.given {
                    return Err(older_head(&path));
                }
                older.get_or_insert(path);
                continue;
            }
            let exe_ok = !needs_exe || marked(&stub, "exe");
            let install_ok = !needs_install || marked(&stub, "install");
            if (reads_zstd(&stub) || !needs_zstd) && exe_ok && install_ok {
                return Ok((path, stub));
            }
            if self.given && !install_ok {
                return Err(Error::usage(format!(
                    "{} can't install the client tool this package carries (it was built without feature install)",
                    path.display()
                ))
                .hint("pass a head that can (stubs/T/iupack-head-exe, iupack-head-zstd or iupack-stub), or build without --with-client"));
            }
            if self.given && !exe_ok {
                return Err(Error::usage(format!(
                    "{} was built without zucchini-xz patches (feature exe-delta), and this package holds them",
                    path.display()
                ))
                .hint("pass a head built with them (stubs/T/iupack-head-exe, iupack-head-zstd or iupack-stub)"));
            }
            if self.given {
                return Err(Error::usage(format!(
                    "{} was built without the zstd decoder, and this package holds zstd data",
                    path.display()
                ))
                .hint("pass a head built with zstd (stubs/T/iupack-head-zstd or iupack-stub), or build with --compression xz or deflate and no deltas"));
            }
        }
        if let Some(path) = older {
            return Err(older_head(&path));
        }
        let target = &self.target;
        Err(Error::usage(format!(
            "none of the stubs found for {target} reads zstd, and this package holds zstd data ({})",
            shown.join(", ")
        ))
        .hint(format!(
            "build them all with `bash stub/build-targets.sh {target}`, or pass --stub PATH"
        )))
    }
}

/// A head from before manifest format 2 or `bsdiff-lzma` layout 2: the packages this builder
/// writes would not open.
fn older_head(path: &Path) -> Error {
    Error::usage(format!(
        "{} is an older iupack-stub: it does not read the packages this iupack writes (manifest format 2 with bsdiff-lzma layout 2)",
        path.display()
    ))
    .hint("build the heads of this iupack version (`bash stub/build-targets.sh`, or `cargo build --locked --profile stub -p iupack-stub`), or pass one with --stub")
}

/// A stub for Windows must be a PE executable, one for anything else an ELF one: a package with
/// the wrong head would not start on the machines it is for.
pub(super) fn check_format(stub: &[u8], path: &Path, target: &str) -> Result<(), Error> {
    let want: &[u8] = if target.starts_with("windows-") {
        b"MZ"
    } else if target.starts_with("linux-") {
        b"\x7fELF"
    } else {
        return Ok(());
    };
    if stub.starts_with(want) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{} is not a {} executable, so it can't head a package for {target}",
            path.display(),
            if want == b"MZ" { "Windows" } else { "Linux" }
        ))
        .hint("pass the stub built for that platform with --stub, or drop --target"))
    }
}

fn read_stub(path: &Path) -> Result<Vec<u8>, Error> {
    if Package::open(path, Expect::MaybeBare)
        .map(|p| p.is_some())
        .unwrap_or(true)
    {
        return Err(Error::usage(format!(
            "{} is not a bare iupack stub (it is a package, or unreadable)",
            path.display()
        ))
        .hint("pass the iupack-stub program itself with --stub"));
    }
    fs::read(path).map_err(|e| {
        Error::usage(format!("cannot read the stub {}: {e}", path.display()))
            .hint("pass the iupack-stub program with --stub PATH")
    })
}
