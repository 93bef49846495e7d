//! `iupack build` as a pipeline: a spec (paths relative to a base folder), a key and [`Options`]
//! in, a signed package out, re-read and verified with the stub's own code before it replaces
//! anything. [`run`] is the list of phases, in order: check the outputs, the platform, the heads
//! and the key (so bad flags fail before any work); hash the content; compress full content
//! ([`compress`]); make the deltas and put the package together ([`assemble`], [`deltas`]); write
//! and verify it, sign the file and update `SHA256SUMS` ([`output`]); report ([`summary`]).
//! Patches are taken from and kept in the delta cache the options name (`crate::deltacache`).
//! Every command that builds (`build`, `publish`, `plan`) comes through here with `Options`,
//! never with clap arguments; this module never parses arguments and never prints (progress
//! bars on a terminal aside).

mod assemble;
pub mod client;
mod compress;
mod deltas;
mod heads;
mod output;
mod summary;

pub use output::edit_sums;
pub use summary::Summary;

use crate::content::{self, Content};
use crate::deltacache::BuildCache;
use crate::outpath;
use crate::progress::{self, Progress};
use crate::{keys, spec::Spec};
use iupack_stub::format::manifest::Manifest;
use iupack_stub::format::signature::key_id;
use iupack_stub::format::write::{self, CodecChoice, FullCodec};
use iupack_stub::{platform::time, Error};
use std::io::Read;
use std::path::{Path, PathBuf};

/// How to build: where to, with what key and head, and how to compress.
#[derive(Debug, Clone)]
pub struct Options {
    /// The minisign secret key to sign with.
    pub key: PathBuf,
    /// The package file to write (its signature goes beside it as `PKG.minisig`).
    pub out: PathBuf,
    /// The stub to head the package with (default: found beside this program).
    pub stub: Option<PathBuf>,
    /// The platform the package is for (default: this machine's).
    pub target: Option<String>,
    /// Replace an existing package and signature.
    pub force: bool,
    /// Where the phases are drawn: the command's one reporter (drawn on a terminal only, and
    /// not with `--json`), shared by every package a command builds.
    pub progress: Progress,
    /// zstd level of binary patches (1-22).
    pub delta_level: i32,
    pub delta_codec: CodecChoice,
    pub compression: FullCodec,
    /// A bare package: no head (`stub` and the heads beside this program are not read); the
    /// installed client tool applies it.
    pub bare: bool,
    /// The folder patches are kept in between builds (`crate::deltacache`), or none.
    pub delta_cache: Option<PathBuf>,
    /// Carry the client tool (`client`): `Some(None)` the one found for the target,
    /// `Some(Some(PATH))` that file.
    pub with_client: Option<Option<PathBuf>>,
}

/// A package just built and verified.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub manifest: Manifest,
    pub summary: Summary,
}

/// Builds, verifies and signs the package `spec` describes (paths relative to `base`).
pub fn run(o: &Options, spec: &Spec, base: &Path) -> Result<Built, Error> {
    let sig_path = outpath::with_suffix(&o.out, ".minisig");
    outpath::check_overwrite(&o.out, o.force)?;
    outpath::check_overwrite(&sig_path, o.force)?;
    let target = o.target.clone().unwrap_or_else(iupack_stub::this_platform);
    // A package that carries the client tool is for the one platform that binary runs on.
    let platforms = match o.with_client {
        Some(_) => heads::platforms(&spec.targets.platforms, Some(&target))?,
        None => heads::platforms(&spec.targets.platforms, o.target.as_deref())?,
    };
    let heads = match o.bare {
        true => None,
        false => Some(heads::find(o.stub.as_deref(), &target, o.target.is_some())?),
    };
    let key = Signer::load(&o.key)?;
    let client = match &o.with_client {
        Some(given) => Some(client::content(given.as_deref(), &target)?),
        None => None,
    };
    let with_client;
    let spec = match &client {
        Some(c) => {
            let mut s = spec.clone();
            s.components.push(c.component.clone());
            with_client = s;
            &with_client
        }
        None => spec,
    };
    let cache = BuildCache::open(o.delta_cache.as_deref())?;
    let created = created();
    let progress = &o.progress;

    let contents = hash(spec, base, progress)?;
    let archived = compress::archives(spec, &contents, o.compression, created, &cache, progress);
    let how = write::DeltaOptions {
        level: o.delta_level,
        choice: o.delta_codec,
        codecs: write::PatchCodecs::All,
        cache: &cache,
    };
    let parts = assemble::parts(
        &how,
        heads.as_ref(),
        spec,
        base,
        &contents,
        archived,
        progress,
    )?;
    let pkg = assemble::package(spec, &contents, parts, heads, platforms, created, &key)?;
    if let Some(w) = pkg
        .stub_path
        .as_deref()
        .and_then(|p| heads::development_warning(p, pkg.stub.len(), o.stub.is_some()))
    {
        crate::err_line(&format!("iupack: warning: {w}"));
    }
    output::write_verified(&o.out, &pkg, created, &key, progress)?;
    let (size, sha256) = output::sign_file(&o.out, &sig_path, &pkg, &key, progress)?;
    for w in cache_warnings(&cache) {
        crate::err_line(&format!("iupack: warning: {w}"));
    }

    let summary = Summary::new(
        &pkg.manifest,
        summary::Written {
            package: &o.out,
            signature: &sig_path,
            size,
            sha256: &sha256,
            stub: pkg.stub_path.as_deref(),
            stub_size: if pkg.stub_path.is_some() {
                pkg.stub.len()
            } else {
                0
            },
            signed_by: key_id(&key.public),
            delta_cache: cache.dir().map(|d| (d, cache.counts())),
        },
    );
    Ok(Built {
        path: o.out.clone(),
        size,
        sha256,
        manifest: pkg.manifest,
        summary,
    })
}

/// What a build says of its delta cache on stderr: damaged entries it made again, a patch it
/// could not keep. Entries unused for 30 days are removed here, at the end of the build.
fn cache_warnings(cache: &BuildCache) -> Vec<String> {
    let Some(dir) = cache.dir() else {
        return Vec::new();
    };
    cache.sweep();
    let mut out = Vec::new();
    let damaged = cache.counts().damaged;
    if damaged > 0 {
        out.push(format!(
            "{damaged} damaged entr{} in the delta cache {} removed; {} made again and checked",
            if damaged == 1 { "y" } else { "ies" },
            dir.display(),
            if damaged == 1 {
                "its patch"
            } else {
                "their patches"
            }
        ));
    }
    if let Some(e) = cache.write_error() {
        out.push(format!(
            "the delta cache could not keep every patch ({e}); later builds make those again (check the folder's space and permissions, or pass --no-delta-cache)"
        ));
    }
    out
}

/// The package's time: `SOURCE_DATE_EPOCH` (reproducible builds), else now.
pub fn created() -> u64 {
    source_date_epoch().unwrap_or_else(time::unix_now)
}

/// `SOURCE_DATE_EPOCH`, when set to a time: the build must be reproducible.
fn source_date_epoch() -> Option<u64> {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
}

/// Reads and hashes every component's content ("hashing").
fn hash(spec: &Spec, base: &Path, progress: &Progress) -> Result<Vec<Content>, Error> {
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
    Ok(contents)
}

/// The signing key, loaded once for the manifest's and the file's signatures.
#[derive(Debug)]
pub struct Signer {
    secret: minisign::SecretKey,
    public_key: minisign::PublicKey,
    /// The public key in base64, as inventories list it.
    public: String,
}

impl Signer {
    fn load(path: &Path) -> Result<Signer, Error> {
        let (secret, public_key) = keys::load_secret(path)?;
        let public = keys::public_base64(&public_key);
        Ok(Signer {
            secret,
            public_key,
            public,
        })
    }

    /// A minisign signature of `data` with these comments.
    fn sign(&self, data: impl Read, trusted: &str, untrusted: &str) -> Result<String, Error> {
        write::sign(
            &self.secret,
            Some(&self.public_key),
            data,
            trusted,
            untrusted,
        )
        .map_err(Error::other)
    }
}
