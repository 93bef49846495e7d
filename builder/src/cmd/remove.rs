//! `iupack remove`: delete one release from the release store (a drop imported by mistake, such
//! as one stored under its vendor's top folder), so that it can be added again. Parses and prints
//! only; the store removes (crash-safe, see `store`).

use crate::store::Store;
use iupack_stub::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The release store folder.
    store: PathBuf,
    /// The product id.
    product: String,
    /// The component.
    component: String,
    /// The release's version. Packages and shares already built from it are self-contained and
    /// keep working; later builds can no longer carry deltas from it.
    version: String,
    /// Show what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<(), Error> {
    let version = super::add::parse_version(&a.version)?;
    let store = Store::open(&a.store)?;
    let r = store.remove(&a.product, &a.component, &version, a.dry_run)?;
    let left: Vec<String> = r.left.iter().map(ToString::to_string).collect();
    if a.json {
        super::print_json(&serde_json::json!({
            "store": a.store.display().to_string(),
            "product": a.product,
            "component": a.component,
            "version": version.to_string(),
            "dry_run": a.dry_run,
            "result": if a.dry_run { "would-remove" } else { "removed" },
            "files": r.files,
            "bytes": r.bytes,
            "left": left,
        }));
    } else {
        say!(
            "{} {} {} {version} from {} ({} files, {} bytes); {} release(s) of {} left{}",
            if a.dry_run { "would remove" } else { "removed" },
            a.product,
            a.component,
            a.store.display(),
            r.files,
            r.bytes,
            left.len(),
            a.component,
            if left.is_empty() {
                String::new()
            } else {
                format!(": {}", left.join(", "))
            }
        );
    }
    Ok(())
}
