//! `iupack prune`: keep the newest N releases of each component in the release store.
//! Parses and prints only; the store removes.

use crate::store::Store;
use iupack_stub::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The release store folder.
    store: PathBuf,
    /// Only this product (default: every product in the store).
    #[arg(long, value_name = "P")]
    product: Option<String>,
    /// How many releases of each component to keep (the newest). Deltas can be built only from
    /// releases still in the store.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    keep: u32,
    /// Show what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<(), Error> {
    let store = Store::open(&a.store)?;
    let products = match &a.product {
        Some(p) => vec![p.clone()],
        None => store.products()?,
    };
    let mut removed = Vec::new();
    for p in &products {
        store.product_file(p)?;
        for (c, v) in store.prune(p, a.keep as usize, a.dry_run)? {
            removed.push((p.clone(), c, v));
        }
    }
    if a.json {
        let list: Vec<_> = removed
            .iter()
            .map(|(p, c, v)| {
                serde_json::json!({ "product": p, "component": c, "version": v.to_string() })
            })
            .collect();
        super::print_json(&serde_json::json!({
            "store": a.store.display().to_string(),
            "keep": a.keep,
            "dry_run": a.dry_run,
            "removed": list,
        }));
        return Ok(());
    }
    let verb = if a.dry_run { "would remove" } else { "removed" };
    for (p, c, v) in &removed {
        say!("{verb} {p} {c} {v}");
    }
    say!(
        "{} release(s) {}; the newest {} of each component kept",
        removed.len(),
        if a.dry_run {
            "would be removed"
        } else {
            "removed"
        },
        a.keep
    );
    Ok(())
}
