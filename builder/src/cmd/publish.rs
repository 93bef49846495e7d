//! `iupack publish STORE SHARE`: an update share from the release store. Per product: one
//! package with the full content of the newest releases (not with `--no-full`), and per
//! component one package of deltas from its earlier releases, all bare (`.iup`, not with
//! `--no-bare`); the full content once more self-extracting for machines without the client tool
//! (not with `--no-self-extracting`); then the signed index. Clients read only what they apply
//! (`iupack-stub apply --from SHARE`). Parses, decides the packages and prints only; the share
//! and the pipeline build.

use super::packing::{Forms, Packing, Target};
use crate::progress::Progress;
use crate::share::{self, Planned};
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
    /// The minisign secret key to sign packages and the index with. A password-protected key is
    /// unlocked with the password in IUPACK_PASSWORD, else asked for on the terminal.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Only this product (repeatable; default: every product in the store).
    #[arg(long, value_name = "P")]
    product: Vec<String>,
    /// The stub to head packages with (default: as `iupack build`).
    #[arg(long, value_name = "PATH")]
    stub: Option<PathBuf>,
    /// The platform the packages are for (as `iupack build --target`).
    #[arg(long, value_name = "T")]
    target: Option<String>,
    /// Show the packages that would be written; write nothing (the key and stub are not read).
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    packing: Packing,
    #[command(flatten)]
    forms: Forms,
}

pub fn run(a: Args) -> Result<(), Error> {
    let store = Store::open(&a.store)?;
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
    let mut planned = Vec::new();
    for p in &products {
        planned.extend(packages(&store, p, &a.packing, &a.forms)?);
    }
    let out = share::ShareBuild {
        dir: &a.share,
        options: a.packing.options(
            Target {
                key: &a.key,
                out: &a.share,
                stub: a.stub.as_deref(),
                target: a.target.as_deref(),
                force: true,
                bare: false,
                store: Some(&a.store),
                // A dry run reads no stub, nor the client tool: nothing to look for or warn about.
                client: (!a.dry_run)
                    .then(|| a.forms.client(a.target.as_deref()))
                    .flatten(),
            },
            Progress::new(a.json || a.dry_run),
        ),
    };
    let share::Written {
        built,
        total,
        json: packages,
    } = out.write(
        &planned,
        &a.key,
        "check the share's path and write permission",
        a.dry_run,
    )?;
    if a.json {
        super::print_json(&serde_json::json!({
            "share": a.share.display().to_string(),
            "dry_run": a.dry_run,
            "packages": packages,
            "bytes": total,
        }));
        return Ok(());
    }
    match (&built, total) {
        (Some(built), Some(total)) => {
            for b in built {
                say!("  {} ({} bytes)", b.path.display(), b.size);
            }
            say!(
                "published {} packages ({total} bytes) and a signed index to {}",
                built.len(),
                a.share.display()
            );
        }
        _ => {
            for p in &planned {
                say!("  would write {}", out.line(p));
            }
            say!(
                "would publish {} package(s) and a signed index to {} (dry run: nothing written)",
                planned.len(),
                a.share.display()
            );
        }
    }
    Ok(())
}

/// The packages of `product`: its newest releases' full content (unless `--no-full`), and per
/// component with earlier releases one package of its deltas alone; bare unless `--no-bare`,
/// and then the full content once more self-extracting (unless `--no-self-extracting`), last:
/// a client choosing between the two full packages, which read the same bytes, takes the first.
fn packages(
    store: &Store,
    product: &str,
    packing: &Packing,
    forms: &Forms,
) -> Result<Vec<Planned>, Error> {
    let (all, base) = store.spec(product, packing.deltas(3), true)?;
    let mut out = Vec::new();
    if packing.full() {
        out.push(Planned::full(&all, &base, forms.bare()));
    }
    for c in all.components.iter().filter(|c| !c.deltas.is_empty()) {
        out.push(Planned {
            stem: format!("{product}-{}-{}-deltas", c.name, c.version),
            spec: Spec {
                components: vec![ComponentSpec {
                    full: false,
                    ..c.clone()
                }],
                ..all.clone()
            },
            base: base.clone(),
            bare: forms.bare(),
            client: false,
        });
    }
    if packing.full() && forms.self_extracting_full() {
        out.push(Planned::full(&all, &base, false));
    }
    if out.is_empty() {
        return Err(Error::usage(format!(
            "nothing to publish for {product}: --no-full leaves out full content, and no component has an earlier release (or --deltas is 0) to carry a delta from"
        ))
        .hint("publish without --no-full, or with --deltas 1 or more once the store holds two releases of a component"));
    }
    Ok(out)
}
