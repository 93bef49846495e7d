//! `iupack build`: a spec and a key in, a signed package out: `PKG` (run bit set), `PKG.minisig`
//! (a whole-file signature) and a line in `SHA256SUMS` beside it. The package is re-read and
//! verified with the stub's own code before it replaces anything.

use crate::progress::{self, Progress};
use crate::{content, keys, spec::Spec};
use iupack_stub::format::digest::{hash_reader, sha256_hex};
use iupack_stub::format::manifest::{self, Component, Manifest, PackageInfo, StubInfo, Targets};
use iupack_stub::format::package::{Expect, Package};
use iupack_stub::format::signature::{key_id, TrustedComment};
use iupack_stub::format::write;
use iupack_stub::{platform::fsutil, platform::time, Error};
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The build spec (TOML). Or give --store and --product instead.
    #[arg(required_unless_present = "store", conflicts_with = "store")]
    spec: Option<PathBuf>,
    /// Build from the release store: the newest release of each of the product's components,
    /// with deltas from earlier releases (see --deltas), targets from its product.toml.
    #[arg(long, value_name = "STORE", requires = "product")]
    store: Option<PathBuf>,
    /// With --store: the product.
    #[arg(long, value_name = "P", requires = "store")]
    product: Option<String>,
    /// With --store: carry deltas from up to N earlier releases of each component.
    #[arg(long, value_name = "N", default_value_t = 3, requires = "store")]
    deltas: usize,
    /// With --store: carry no full content, only deltas (smaller; machines further behind need
    /// another package).
    #[arg(long, requires = "store")]
    no_full: bool,
    /// With --store: carry full content too (the default).
    #[arg(long, requires = "store", conflicts_with = "no_full")]
    full: bool,
    /// The minisign secret key to sign with.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The package file to write.
    #[arg(long, value_name = "PKG")]
    out: PathBuf,
    /// The stub executable to put at the head of the package (default: `iupack-stub` beside
    /// `iupack`).
    #[arg(long, value_name = "PATH")]
    stub: Option<PathBuf>,
    /// The platform the package is for (`linux-x86_64`, `windows-x86_64`, …; default: this
    /// machine's). Picks the stub built for it (`stubs/T/` beside `iupack` or in `target/stubs/T/`,
    /// see stub/build-targets.sh) and makes it the manifest's only platform.
    #[arg(long, value_name = "T")]
    target: Option<String>,
    /// Replace an existing package.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// zstd level of binary patches (1-22): higher is smaller and slower to build.
    #[arg(long, value_name = "N", default_value_t = 22, value_parser = clap::value_parser!(i32).range(1..=22))]
    delta_level: i32,
    /// Delta codec: per-file patches, one whole-tree patch, or whichever is smaller (auto).
    #[arg(long, value_name = "CODEC", default_value = "auto")]
    delta_codec: Codec,
    /// How full content is compressed: `zstd` (one tar.zst per component: small, fastest to
    /// apply), `xz` (one tar.xz, LZMA2 with the x86 filter for programs: smallest, slower to
    /// build and apply) or `deflate` (one ZIP entry per file: any unzip tool extracts it).
    #[arg(long, value_name = "METHOD", default_value = "zstd")]
    compression: Compression,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Compression {
    Zstd,
    Xz,
    Deflate,
}

impl From<Compression> for write::FullCodec {
    fn from(c: Compression) -> Self {
        match c {
            Compression::Zstd => write::FullCodec::Zstd,
            Compression::Xz => write::FullCodec::Xz,
            Compression::Deflate => write::FullCodec::Deflate,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Codec {
    Auto,
    File,
    Tree,
}

impl From<Codec> for write::CodecChoice {
    fn from(c: Codec) -> Self {
        match c {
            Codec::Auto => write::CodecChoice::Auto,
            Codec::File => write::CodecChoice::File,
            Codec::Tree => write::CodecChoice::Tree,
        }
    }
}

pub fn run(a: Args) -> Result<(), Error> {
    let (spec, base) = match (&a.spec, &a.store, &a.product) {
        (Some(path), _, _) => Spec::load(path)?,
        (None, Some(store), Some(product)) => {
            crate::store::Store::new(store).spec(product, a.deltas, !a.no_full)?
        }
        _ => {
            return Err(Error::usage(
                "give a spec file, or --store STORE --product P",
            ))
        }
    };
    let built = build(&a, &spec, &base)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&built.summary).expect("json")
        );
    } else {
        built.print();
    }
    Ok(())
}

/// A package just built and verified.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub manifest: Manifest,
    /// What `--json` prints.
    pub summary: serde_json::Value,
    lines: Vec<String>,
}

impl Built {
    /// The human summary.
    pub fn print(&self) {
        for l in &self.lines {
            say!("{l}");
        }
    }
}

impl Args {
    /// The options `publish` and `plan` build with: defaults, this key and stub, `out` replaced.
    pub fn for_share(key: &Path, out: &Path, stub: Option<&Path>, target: Option<&str>) -> Args {
        Args {
            spec: None,
            store: None,
            product: None,
            deltas: 0,
            no_full: false,
            full: false,
            key: key.to_path_buf(),
            out: out.to_path_buf(),
            stub: stub.map(Path::to_path_buf),
            target: target.map(str::to_string),
            force: true,
            json: true,
            delta_level: 22,
            delta_codec: Codec::Auto,
            compression: Compression::Zstd,
        }
    }
}

/// Builds, verifies and signs the package `spec` describes (paths relative to `base`).
pub fn build(a: &Args, spec: &Spec, base: &Path) -> Result<Built, Error> {
    let sig_path = with_suffix(&a.out, ".minisig");
    super::check_overwrite(&a.out, a.force)?;
    super::check_overwrite(&sig_path, a.force)?;
    let target = a.target.clone().unwrap_or_else(iupack_stub::this_platform);
    let platforms = platforms_for(&spec.targets.platforms, a.target.as_deref())?;
    let heads = find_stubs(a.stub.as_deref(), &target)?;
    let (sk, pk) = keys::load_secret(&a.key)?;
    let pubkey = keys::public_base64(&pk);

    let created = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(time::unix_now);
    let codec = write::FullCodec::from(a.compression);
    let progress = Progress::new(a.json);
    let pb = progress.bar("hashing", spec.components.len() as u64);
    let mut contents = Vec::new();
    for c in &spec.components {
        pb.set_message(format!("{} {}", c.name, c.version));
        contents.push(content::load(&base.join(&c.content), c.strip_components)?);
        pb.inc(1);
    }
    let all = || contents.iter().flat_map(|c| &c.files);
    pb.finish_with_message(format!(
        "{} files, {}",
        all().count(),
        progress::bytes(all().map(|f| f.size).sum())
    ));
    // Full archives on as many threads as there are cores (each compressor is single-threaded
    // and bound by the CPU; an xz 9e encoder takes ~350 MB, so no more at once).
    // (A file past tar's 8 GiB header limit keeps its component in per-file entries.)
    let wanted: Vec<bool> = spec
        .components
        .iter()
        .zip(&contents)
        .map(|(c, content)| {
            c.full
                && codec != write::FullCodec::Deflate
                && content
                    .files
                    .iter()
                    .all(|f| f.size <= iupack_stub::format::codecs::tarstream::MAX_FILE_BYTES)
        })
        .collect();
    type Archived = std::io::Result<(manifest::FullArchive, write::PackageEntry)>;
    let results: Vec<std::sync::Mutex<Option<Archived>>> =
        wanted.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let to_compress = wanted.iter().filter(|w| **w).count();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(to_compress);
    let pb = progress.bar("compressing", to_compress as u64);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(c) = spec.components.get(i) else {
                    break;
                };
                if wanted[i] {
                    pb.set_message(c.name.clone());
                    let r = write::full_archive(&c.name, &contents[i].files, codec, created);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    pb.inc(1);
                }
            });
        }
    });
    pb.finish_with_message(format!("{codec:?} on {workers} threads").to_lowercase());
    let compressed: Vec<Option<Archived>> = results
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();
    let mut archives = Vec::new();
    let mut deltas = Vec::new();
    let mut entries = transition_entries(spec, base)?;
    let mut delta_bytes = 0;
    let pb = progress.bar(
        "diffing",
        spec.components.iter().map(|c| c.deltas.len() as u64).sum(),
    );
    for ((c, content), archived) in spec.components.iter().zip(&contents).zip(compressed) {
        let mut archive = None;
        match archived {
            None if c.full => entries.extend(write::full_entries(&c.name, &content.files)),
            None => {}
            Some(result) => {
                let (a, entry) = result.map_err(|e| {
                    Error::other(format!(
                        "cannot compress the full content of {}: {e}",
                        c.name
                    ))
                    .hint("check that the content is readable and memory is free; --compression deflate needs the least memory")
                })?;
                // Tiny components (a few config files) cost more as a tar stream than as entries.
                let raw: u64 = content.files.iter().map(|f| f.size).sum();
                if a.size < raw {
                    entries.push(entry);
                    archive = Some(a);
                } else {
                    entries.extend(write::full_entries(&c.name, &content.files));
                }
            }
        }
        archives.push(archive);
        let mut built = Vec::new();
        for d in &c.deltas {
            pb.set_message(format!("{} from {}", c.name, d.version));
            let old = content::load(&base.join(&d.content), d.strip_components)?;
            let bd = write::best_delta(
                &c.name,
                &d.version,
                &old.files,
                &content.files,
                a.delta_level,
                a.delta_codec.into(),
            )
            .map_err(|e| {
                Error::other(format!(
                    "cannot make the delta of {} from {}: {e}",
                    c.name, d.version
                ))
                .hint("check that both releases' content is readable; --delta-codec file needs less memory than tree")
            })?;
            entries.extend(bd.entries);
            delta_bytes += bd.delta.payload_size();
            built.push(bd.delta);
            pb.inc(1);
        }
        deltas.push(built);
    }
    pb.finish_with_message(format!("{} of patches", progress::bytes(delta_bytes)));
    let version = spec.package_version();
    let id = spec
        .id
        .clone()
        .unwrap_or_else(|| format!("{}-{version}-{created}", spec.product));
    let components: Vec<Component> = spec
        .components
        .iter()
        .zip(&contents)
        .zip(deltas)
        .zip(archives)
        .map(|(((c, content), deltas), full_archive)| {
            let full: Vec<_> = content.files.iter().map(|f| f.entry()).collect();
            Component {
                name: c.name.clone(),
                version: c.version.clone(),
                requires: c.requires.clone().into_iter().collect(),
                floor: c.floor.clone(),
                tree: manifest::files_tree(&full),
                full: c.full.then_some(full),
                full_archive,
                deltas,
            }
        })
        .collect();
    let (stub_path, stub) = pick_stub(heads, &target, manifest::needs_zstd(&components))?;
    let m = Manifest {
        format: manifest::FORMAT,
        package: PackageInfo {
            id: id.clone(),
            created: time::rfc3339(created),
            version: Some(version.clone()),
            stub: StubInfo {
                size: stub.len() as u64,
                sha256: sha256_hex(&stub),
            },
        },
        product: spec.product.clone(),
        targets: Targets {
            product_versions: spec.targets.product_versions.clone(),
            platforms,
            languages: spec.targets.languages.clone(),
        },
        components,
    };
    m.validate().map_err(|e| {
        Error::usage(format!("the package would not be valid: {e}"))
            .hint("fix the spec or the release content as the message says, then build again")
    })?;
    let manifest_bytes = m.to_json();
    let comment = TrustedComment {
        product: spec.product.clone(),
        id: id.clone(),
        version: version.to_string(),
    };
    let signature = write::sign(
        &sk,
        Some(&pk),
        &manifest_bytes[..],
        &comment.render(),
        "iupack package manifest signature",
    )
    .map_err(Error::other)?;

    // Write beside the target, verify with the stub's code, then move into place.
    let tmp = fsutil::temp_beside(&a.out, "building");
    let result = (|| {
        let pb = progress.spinner("writing");
        let file = File::create(&tmp).map_err(|e| write_err(&tmp, &e))?;
        let file =
            write::write_package(file, &stub, &manifest_bytes, &signature, &entries, created)
                .map_err(|e| write_err(&tmp, &e))?;
        set_executable(&file).map_err(|e| write_err(&tmp, &e))?;
        file.sync_all().map_err(|e| write_err(&tmp, &e))?;
        drop(file);
        pb.finish_with_message(format!("{} entries", entries.len()));
        let pb = progress.spinner("verifying");
        let pkg = Package::open(&tmp, Expect::Package)?.expect("just written");
        let mut vp = pkg.verify(std::slice::from_ref(&pubkey), &[], "the signing key")?;
        vp.verify_content().map_err(|e| {
            Error::other(format!(
                "the package did not verify after writing: {}",
                e.message
            ))
            .hint("was the content changed while the package was built? build again")
        })?;
        pb.finish_with_message("signature and every content hash, with the stub's code");
        fs::rename(&tmp, &a.out).map_err(|e| write_err(&a.out, &e))
    })();
    if let Err(e) = result {
        fsutil::remove_quietly(&tmp);
        return Err(e);
    }

    let pb = progress.spinner("signing");
    let file_comment = format!(
        "iupack-package file={} product={} id={id}",
        file_name(&a.out),
        spec.product
    );
    let whole_sig = write::sign(
        &sk,
        Some(&pk),
        BufReader::new(File::open(&a.out).map_err(|e| write_err(&a.out, &e))?),
        &file_comment,
        "iupack package file signature",
    )
    .map_err(Error::other)?;
    fsutil::atomic_write(&sig_path, whole_sig.as_bytes()).map_err(|e| write_err(&sig_path, &e))?;
    let (size, sha) = hash_reader(BufReader::new(
        File::open(&a.out).map_err(|e| write_err(&a.out, &e))?,
    ))
    .map_err(|e| write_err(&a.out, &e))?;
    update_sums(&a.out, &sha)?;
    pb.finish_with_message(format!("{} and SHA256SUMS", file_name(&sig_path)));

    let summary = serde_json::json!({
        "package": a.out.display().to_string(),
        "signature": sig_path.display().to_string(),
        "id": id,
        "product": spec.product,
        "version": version.to_string(),
        "size": size,
        "sha256": sha,
        "stub": stub_path.display().to_string(),
        "stub_size": stub.len(),
        "signed_by": key_id(&pubkey),
        "components": m.components.iter().map(|c| serde_json::json!({
            "name": c.name, "version": c.version.to_string(), "tree": c.tree,
            "full": c.full.as_ref().map(|f| serde_json::json!({
                "files": f.len(), "bytes": c.full_size(), "payload_bytes": c.full_payload(),
                "compression": c.full_archive.as_ref().map_or("deflate", |a| a.codec.as_str()),
            })),
            "deltas": c.deltas.iter().map(|d| serde_json::json!({
                "from": d.from.to_string(), "changed_files": d.files.len(), "payload_bytes": d.payload_size(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let mut lines = Vec::new();
    lines.push(format!(
        "built {} ({size} bytes, sha256 {sha})",
        a.out.display()
    ));
    lines.push(format!(
        "  package {id}, product {}, signed by key {}",
        spec.product,
        key_id(&pubkey).unwrap_or_default()
    ));
    for c in &m.components {
        if let Some(full) = &c.full {
            lines.push(format!(
                "  {:<14} {:<14} full: {} files, {} bytes ({}, {} bytes)",
                c.name,
                c.version,
                full.len(),
                c.full_size(),
                c.full_archive
                    .as_ref()
                    .map_or("deflate", |a| a.codec.as_str()),
                c.full_payload()
            ));
        }
        for d in &c.deltas {
            lines.push(format!(
                "  {:<14} {:<14} delta from {}: {}",
                c.name,
                c.version,
                d.from,
                d.describe()
            ));
        }
    }
    lines.push(format!(
        "  stub {} ({} bytes)",
        stub_path.display(),
        stub.len()
    ));
    lines.push(format!("wrote {} and SHA256SUMS", sig_path.display()));
    Ok(Built {
        path: a.out.clone(),
        size,
        sha256: sha,
        manifest: m,
        summary,
        lines,
    })
}

fn write_err(path: &Path, e: &std::io::Error) -> Error {
    Error::other(format!("cannot write {}: {e}", path.display()))
        .hint("check free space and write permission in the output folder")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The manifest's platforms: the spec's, or with `--target T` just T (which the spec must allow).
fn platforms_for(spec: &[String], target: Option<&str>) -> Result<Vec<String>, Error> {
    let Some(t) = target else {
        return Ok(spec.to_vec());
    };
    let valid = t.split_once('-').is_some_and(|(os, arch)| {
        !os.is_empty()
            && !arch.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    });
    if !valid {
        return Err(Error::usage(format!("--target {t} is not a platform name"))
            .hint("use OS-ARCH, such as linux-x86_64 or windows-x86_64"));
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
/// `iupack-stub` beside this program.
/// Each is read and its executable format checked at once, so a wrong `--stub` fails before the
/// content is compressed.
struct Heads {
    given: bool,
    found: Vec<(PathBuf, Vec<u8>)>,
}

fn find_stubs(flag: Option<&Path>, target: &str) -> Result<Heads, Error> {
    let read = |p: &Path| -> Result<(PathBuf, Vec<u8>), Error> {
        let stub = read_stub(p)?;
        check_stub_format(&stub, p, target)?;
        Ok((p.to_path_buf(), stub))
    };
    if let Some(p) = flag {
        return Ok(Heads {
            given: true,
            found: vec![read(p)?],
        });
    }
    let exe = std::env::current_exe().map_err(|e| {
        Error::other(format!("cannot find this program's folder: {e}"))
            .hint("pass the stub with --stub PATH")
    })?;
    let dir = fsutil::parent_of(&exe);
    let ext = if target.starts_with("windows-") {
        ".exe"
    } else {
        ""
    };
    let mut candidates = Vec::new();
    for stubs in [Some(dir.as_path()), dir.parent()].into_iter().flatten() {
        let d = stubs.join("stubs").join(target);
        for name in ["iupack-head", "iupack-head-zstd", "iupack-stub"] {
            candidates.push(d.join(format!("{name}{ext}")));
        }
    }
    if target == iupack_stub::this_platform() {
        let name = format!("iupack-stub{ext}");
        candidates.push(dir.join(&name));
        candidates.push(dir.join("stubs").join(&name));
    }
    let found = candidates
        .iter()
        .filter(|c| c.is_file())
        .map(|c| read(c))
        .collect::<Result<Vec<_>, Error>>()?;
    if !found.is_empty() {
        return Ok(Heads {
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
    .hint(if target == iupack_stub::this_platform() {
        "build it (cargo build -p iupack-stub) or pass --stub PATH".to_string()
    } else {
        format!("build it with `bash stub/build-targets.sh {target}`, or pass --stub PATH")
    }))
}

/// The first head that can decode what the package holds: one built without zstd only when no
/// content is zstd data. A stub with no feature mark predates head variants and reads everything.
fn pick_stub(heads: Heads, target: &str, needs_zstd: bool) -> Result<(PathBuf, Vec<u8>), Error> {
    let shown: Vec<String> = heads
        .found
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    for (path, stub) in heads.found {
        let reads_zstd =
            iupack_stub::stub_features(&stub).is_none_or(|f| f.iter().any(|f| f == "zstd"));
        if reads_zstd || !needs_zstd {
            return Ok((path, stub));
        }
        if heads.given {
            return Err(Error::usage(format!(
                "{} was built without the zstd decoder, and this package holds zstd data",
                path.display()
            ))
            .hint("pass a head built with zstd (stubs/T/iupack-head-zstd or iupack-stub), or build with --compression xz or deflate and no deltas"));
        }
    }
    Err(Error::usage(format!(
        "none of the stubs found for {target} reads zstd, and this package holds zstd data ({})",
        shown.join(", ")
    ))
    .hint(format!(
        "build them all with `bash stub/build-targets.sh {target}`, or pass --stub PATH"
    )))
}

/// A stub for Windows must be a PE executable, one for anything else an ELF one: a package with
/// the wrong head would not start on the machines it is for.
fn check_stub_format(stub: &[u8], path: &Path, target: &str) -> Result<(), Error> {
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

fn set_executable(f: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o755))?;
    }
    #[cfg(not(unix))]
    let _ = f;
    Ok(())
}

/// Adds or replaces this package's line in `SHA256SUMS` beside it (`sha256sum -c` format).
fn update_sums(pkg: &Path, sha: &str) -> Result<(), Error> {
    let name = file_name(pkg);
    edit_sums(&fsutil::parent_of(pkg), &[&name], Some((sha, &name)))
}

/// Rewrites `dir/SHA256SUMS` without the lines of the files named in `drop`, and with the line
/// `add` (sha, name) at the end.
pub fn edit_sums(dir: &Path, drop: &[&str], add: Option<(&str, &str)>) -> Result<(), Error> {
    let sums = dir.join("SHA256SUMS");
    let old = fs::read_to_string(&sums).unwrap_or_default();
    let mut text: String = old
        .lines()
        .filter(|l| l.split_once("  ").is_none_or(|(_, n)| !drop.contains(&n)))
        .map(|l| format!("{l}\n"))
        .collect();
    if let Some((sha, name)) = add {
        text.push_str(&format!("{sha}  {name}\n"));
    }
    fsutil::atomic_write(&sums, text.as_bytes()).map_err(|e| write_err(&sums, &e))
}

/// The spec's key-transition statements as package entries (`iupack/keys/N.json` and its
/// signature), checked to be statements for this product.
fn transition_entries(spec: &Spec, base: &Path) -> Result<Vec<write::PackageEntry>, Error> {
    let mut out = Vec::new();
    for (i, p) in spec.key_transitions.iter().enumerate() {
        let path = base.join(p);
        let sig_path = PathBuf::from(format!("{}.minisig", path.display()));
        let read = |p: &Path| {
            fs::read(p).map_err(|e| {
                Error::usage(format!("cannot read the key transition {}: {e}", p.display()))
                    .hint("make one with `iupack key-transition`; its signature is the .minisig beside it")
            })
        };
        let (data, sig) = (read(&path)?, read(&sig_path)?);
        let t = iupack_stub::format::keys::Transition::parse(&data).map_err(|e| {
            Error::usage(format!("{} is not a key transition: {e}", path.display()))
                .hint("list the .json file that `iupack key-transition` wrote")
        })?;
        if t.product != spec.product {
            return Err(Error::usage(format!(
                "{} is a key transition for {}, not {}",
                path.display(),
                t.product,
                spec.product
            ))
            .hint("list only key transitions made for this spec's product"));
        }
        let (name, sig_name) = iupack_stub::format::keys::entry_names(i + 1);
        for (name, bytes) in [(name, data), (sig_name, sig)] {
            out.push(write::PackageEntry {
                name,
                size: bytes.len() as u64,
                payload: write::Payload::Bytes(bytes),
                mode: 0o644,
                store: write::Store::Auto,
            });
        }
    }
    Ok(out)
}
