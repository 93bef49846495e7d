//! `iupack build`: parses the command line into [`pipeline::Options`] and a spec (a spec file, or
//! the newest releases in a release store), runs the build (`crate::pipeline`: a signed package,
//! `PKG.minisig` and a line in `SHA256SUMS`), and prints its summary as text or `--json`. Owns
//! the flags and their wording (those it shares with `publish` and `plan` are `cmd::packing`'s);
//! never builds anything itself.

use super::packing::{Packing, Target};
use crate::pipeline;
use crate::progress::Progress;
use crate::spec::Spec;
use iupack_stub::Error;
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
    /// The minisign secret key to sign with (PREFIX.key from `iupack keygen`). A password-protected key is
    /// unlocked with the password in IUPACK_PASSWORD, else asked for on the terminal.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The package file to write.
    #[arg(long, value_name = "PKG")]
    out: PathBuf,
    /// The stub executable to put at the head of the package (default: `iupack-stub` beside
    /// `iupack`).
    #[arg(long, value_name = "PATH")]
    stub: Option<PathBuf>,
    /// A bare package (name it PKG.iup): the same signed package without a head, kilobytes
    /// where a head is 450 KB or more; machines apply it with the installed client tool
    /// (`iupack-stub apply PKG.iup`, or from a share).
    #[arg(long, conflicts_with = "stub")]
    bare: bool,
    /// The platform the package is for (`linux-x86_64`, `windows-x86_64`, …; default: this
    /// machine's). Picks the stub built for it (`stubs/T/` beside `iupack` or in `target/stubs/T/`,
    /// see stub/build-targets.sh) and makes it the manifest's only platform.
    #[arg(long, value_name = "T")]
    target: Option<String>,
    /// Carry the client tool too (component `iupack-client`): the `iupack-stub` built for the
    /// target (found as the heads are), or PATH. `PKG --install-client` installs it on a machine
    /// that has none; machines whose client tool came from this product's packages update to it.
    #[arg(long, value_name = "PATH")]
    with_client: Option<Option<PathBuf>>,
    /// Replace an existing package.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    packing: Packing,
}

pub fn run(a: Args) -> Result<(), Error> {
    let (spec, base) = match (&a.spec, &a.store, &a.product) {
        (Some(path), _, _) => Spec::load(path)?,
        (None, Some(store), Some(product)) => crate::store::Store::open(store)?.spec(
            product,
            a.packing.deltas(3),
            a.packing.full(),
        )?,
        _ => {
            return Err(Error::usage(
                "give a spec file, or --store STORE --product P",
            ))
        }
    };
    let options = a.packing.options(
        Target {
            key: &a.key,
            out: &a.out,
            stub: a.stub.as_deref(),
            target: a.target.as_deref(),
            force: a.force,
            bare: a.bare,
            store: a.store.as_deref(),
            client: a.with_client.clone(),
        },
        Progress::new(a.json),
    );
    let built = pipeline::run(&options, &spec, &base)?;
    if a.json {
        crate::out(&built.summary.to_json());
    } else {
        for l in built.summary.lines() {
            say!("{l}");
        }
    }
    Ok(())
}
