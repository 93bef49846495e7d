//! The flags `build`, `publish` and `plan` share, parsed once here (`#[command(flatten)]` in each):
//! how packages are compressed (`--compression`, `--delta-codec`, `--delta-level`) and what
//! packages built from the release store carry (`--deltas`, `--no-full`, `--full`), and where
//! patches are kept between builds (`--delta-cache`, `--no-delta-cache`). Turns them into
//! [`pipeline::Options`]; never builds.

use crate::pipeline;
use crate::progress::Progress;
use iupack_stub::format::write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Packing {
    /// From the store: carry deltas from up to N earlier releases of each component (default 3;
    /// for `plan`, from every release some machine has).
    #[arg(long, value_name = "N", requires = "store")]
    deltas: Option<usize>,
    /// From the store: carry no full content, only deltas (smaller; machines further behind need
    /// another package).
    #[arg(long, requires = "store")]
    no_full: bool,
    /// From the store: carry full content too (the default).
    #[arg(long, requires = "store", conflicts_with = "no_full")]
    full: bool,
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
    /// Keep the patches and full archives made in DIR and reuse those kept by earlier builds,
    /// each checked before use (default for builds from a store: STORE/.delta-cache; entries
    /// unused for 30 days are removed).
    #[arg(long, value_name = "DIR")]
    delta_cache: Option<PathBuf>,
    /// Make every patch and archive anew and keep none.
    #[arg(long, conflicts_with = "delta_cache")]
    no_delta_cache: bool,
}

/// The forms of package a share holds (`publish` and `plan` only): bare packages for machines
/// with the client tool, and one self-extracting full package per product for machines without
/// it.
#[derive(Debug, Clone, clap::Args)]
pub struct Forms {
    /// Every package self-extracting (`.run`/`.exe`), none bare: for machines that have no
    /// client tool. Bare packages are the default: kilobytes where a head is 450 KB or more.
    #[arg(long, conflicts_with = "no_self_extracting")]
    no_bare: bool,
    /// No self-extracting full package per product: only bare packages (every machine has the
    /// installed client tool).
    #[arg(long)]
    no_self_extracting: bool,
    /// Leave the client tool out of the self-extracting full package. By default it carries the
    /// shipped iupack-stub for the target (`stubs/T/` beside iupack or in target/stubs/T/, as
    /// stub/build-targets.sh builds it), which `PKG --install-client` installs.
    #[arg(long)]
    no_client: bool,
    /// The client tool the self-extracting full package carries (default: the shipped one).
    #[arg(long, value_name = "PATH", conflicts_with = "no_client")]
    client: Option<PathBuf>,
}

impl Forms {
    /// Whether the share's packages are bare (the default).
    pub fn bare(&self) -> bool {
        !self.no_bare
    }

    /// The client tool the self-extracting full package carries for `target` (default: this
    /// machine's platform), as `pipeline::Options::with_client`: `--client`, else the shipped
    /// one; when there is none, a warning says so and the package carries none.
    pub fn client(&self, target: Option<&str>) -> Option<Option<PathBuf>> {
        if self.no_client || !self.self_extracting_full() {
            return None;
        }
        if let Some(p) = &self.client {
            return Some(Some(p.clone()));
        }
        let target = target.map_or_else(iupack_stub::this_platform, str::to_string);
        match pipeline::client::shipped(&target) {
            Some(p) => Some(Some(p)),
            None => {
                crate::err_line(&format!(
                    "iupack: warning: no client tool for {target} found (stubs/{target}/iupack-stub beside iupack or in target/stubs/): the self-extracting full package carries none, so a machine can't --install-client from it; build it with `bash stub/build-targets.sh {target}`, or name one with --client PATH (--no-client: none, without this warning)"
                ));
                None
            }
        }
    }

    /// Whether a self-extracting full package is added beside the bare ones (the default).
    pub fn self_extracting_full(&self) -> bool {
        !self.no_bare && !self.no_self_extracting
    }
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

/// Where a build writes and with what, besides the shared flags.
#[derive(Debug)]
pub struct Target<'a> {
    pub key: &'a Path,
    pub out: &'a Path,
    pub stub: Option<&'a Path>,
    pub target: Option<&'a str>,
    pub force: bool,
    /// No head: a bare package.
    pub bare: bool,
    /// The release store the packages are built from, if any (its delta cache is the default).
    pub store: Option<&'a Path>,
    /// The client tool to carry (`pipeline::Options::with_client`).
    pub client: Option<Option<PathBuf>>,
}

impl Packing {
    /// `--deltas`, or the command's default.
    pub fn deltas(&self, default: usize) -> usize {
        self.deltas.unwrap_or(default)
    }

    /// Whether full content is carried (not `--no-full`).
    pub fn full(&self) -> bool {
        !self.no_full
    }

    /// How to build, as these flags and `t` say, drawing on `progress`.
    pub fn options(&self, t: Target<'_>, progress: Progress) -> pipeline::Options {
        pipeline::Options {
            key: t.key.to_path_buf(),
            out: t.out.to_path_buf(),
            stub: t.stub.map(Path::to_path_buf),
            target: t.target.map(str::to_string),
            force: t.force,
            progress,
            delta_level: self.delta_level,
            delta_codec: self.delta_codec.into(),
            compression: self.compression.into(),
            bare: t.bare,
            delta_cache: match (&self.delta_cache, t.store) {
                _ if self.no_delta_cache => None,
                (Some(dir), _) => Some(dir.clone()),
                (None, Some(store)) => Some(store.join(crate::deltacache::STORE_FOLDER)),
                (None, None) => None,
            },
            with_client: t.client,
        }
    }
}
