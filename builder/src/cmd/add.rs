//! `iupack add`: import a vendor drop into the release store (see `store`).
//! Parses and prints only; the store does the work.

use crate::store::{Added, Store};
use iupack_stub::format::version::Version;
use iupack_stub::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The release store folder (made if missing).
    store: PathBuf,
    /// The product id, as the inventories name it.
    product: String,
    /// The component (engine, definitions, ...).
    component: String,
    /// The release's version as the vendor writes it (3.7.71, 2026.11.24.1, 2025a, 0.5.8-rc1).
    version: String,
    /// The release content: a folder, .zip, .tar or .tar.gz.
    content: PathBuf,
    /// Leading path components to drop from archive entries (a vendor archive's top folder).
    #[arg(long, value_name = "N", default_value_t = 0)]
    strip_components: usize,
}

pub fn run(a: Args) -> Result<(), Error> {
    let version = Version::parse(&a.version).map_err(|e| {
        Error::usage(e).hint("give the vendor's version; mark a pre-release with - or ~ (1.2-rc1)")
    })?;
    let store = Store::new(&a.store);
    match store.add(
        &a.product,
        &a.component,
        &version,
        &a.content,
        a.strip_components,
    )? {
        Added::New { files, bytes, tree } => say!(
            "added {} {} {version} to {}: {files} files, {bytes} bytes, tree {tree}",
            a.product,
            a.component,
            a.store.display()
        ),
        Added::AlreadyThere { tree } => say!(
            "{} {} {version} is already in {} with the same content (tree {tree}); nothing to do",
            a.product,
            a.component,
            a.store.display()
        ),
    }
    Ok(())
}
