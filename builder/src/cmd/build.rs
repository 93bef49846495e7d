//! `iupack build`: parses the command line into [`pipeline::Options`] and a spec (a spec file, or
//! the newest releases in a release store), runs the build (`crate::pipeline`: a signed package,
//! `PKG.minisig` and a line in `SHA256SUMS`), and prints its summary as text or `--json`. Owns
//! the flags and their wording; never builds anything itself.

use crate::pipeline;
use crate::spec::Spec;
use iupack_stub::{format::write, Error};
use std::path::PathBuf;

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
    let built = pipeline::run(&a.options(), &spec, &base)?;
    if a.json {
        crate::out(&built.summary.to_json());
    } else {
        for l in built.summary.lines() {
            say!("{l}");
        }
    }
    Ok(())
}

impl Args {
    /// How to build, as the flags say.
    fn options(&self) -> pipeline::Options {
        pipeline::Options {
            key: self.key.clone(),
            out: self.out.clone(),
            stub: self.stub.clone(),
            target: self.target.clone(),
            force: self.force,
            progress: !self.json,
            delta_level: self.delta_level,
            delta_codec: self.delta_codec.into(),
            compression: self.compression.into(),
        }
    }
}
