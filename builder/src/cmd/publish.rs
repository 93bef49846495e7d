//! `iupack publish STORE SHARE`: an update share from the release store. Per product: one
//! package with the full content of the newest releases, and per component one package of
//! deltas from its earlier releases; then the signed index. Clients read only what they apply
//! (`iupack-stub apply --from SHARE`). Parses and prints only; the share and the pipeline build.

use crate::pipeline::Built;
use crate::share;
use crate::spec::{ComponentSpec, Spec};
use crate::store::Store;
use iupack_stub::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The release store.
    store: PathBuf,
    /// The share folder to write (made if missing; packages it held that the new index does not
    /// list are removed).
    share: PathBuf,
    /// The minisign secret key to sign packages and the index with.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Only this product (repeatable; default: every product in the store).
    #[arg(long, value_name = "P")]
    product: Vec<String>,
    /// Deltas from up to N earlier releases of each component.
    #[arg(long, value_name = "N", default_value_t = 3)]
    deltas: usize,
    /// The stub to head packages with (default: as `iupack build`).
    #[arg(long, value_name = "PATH")]
    stub: Option<PathBuf>,
    /// The platform the packages are for (as `iupack build --target`).
    #[arg(long, value_name = "T")]
    target: Option<String>,
}

pub fn run(a: Args) -> Result<(), Error> {
    let store = Store::new(&a.store);
    let products = if a.product.is_empty() {
        store.products()?
    } else {
        a.product.clone()
    };
    if products.is_empty() {
        return Err(
            Error::usage(format!("the store {} has no products", a.store.display()))
                .hint("import releases with `iupack add STORE PRODUCT COMPONENT VERSION CONTENT`"),
        );
    }
    let (built, index) = share::into_folder(
        &a.share,
        "check the share's path and write permission",
        || {
            let out = share::ShareBuild {
                dir: &a.share,
                key: &a.key,
                stub: a.stub.as_deref(),
                target: a.target.as_deref(),
            };
            let mut built: Vec<Built> = Vec::new();
            for p in &products {
                let (all, base) = store.spec(p, a.deltas, true)?;
                // The newest release of every component, full content only.
                let mut full = all.clone();
                for c in &mut full.components {
                    c.deltas.clear();
                }
                let stem = format!("{p}-{}-full", full.package_version());
                built.push(out.package(&full, &base, &stem)?);
                // Per component with earlier releases: its deltas alone (no full content).
                for c in all.components.iter().filter(|c| !c.deltas.is_empty()) {
                    let stem = format!("{p}-{}-{}-deltas", c.name, c.version);
                    let one = Spec {
                        components: vec![ComponentSpec {
                            full: false,
                            ..c.clone()
                        }],
                        ..all.clone()
                    };
                    built.push(out.package(&one, &base, &stem)?);
                }
            }
            let index = share::write_index(&a.share, &built, &a.key)?;
            Ok((built, index))
        },
    )?;
    let total: u64 = built.iter().map(|b| b.size).sum();
    for b in &built {
        say!("  {} ({} bytes)", b.path.display(), b.size);
    }
    say!(
        "published {} packages ({total} bytes) and a signed index to {}",
        index.packages.len(),
        a.share.display()
    );
    Ok(())
}
