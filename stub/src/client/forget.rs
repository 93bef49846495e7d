//! `forget PRODUCT [--delete]` (issue 23): takes a product off this machine's inventory, so that
//! no package of it applies here again (10, not installed) and `status` no longer lists it; with
//! `--delete`, also its component folders and their kept copies (the `.NAME.iupack` folders
//! beside them), through the journal: each live folder is moved aside (into its side folder as
//! `retired-PID`, or, when it has none, to that name), the inventory without the product is
//! written (the commit point), then the side folders are removed. Killed before the commit
//! point, the folders go back; after it, the removals finish. Refuses before anything changes
//! what it could not do whole: a folder another user can change, a component waiting for a
//! restart. Runs no hooks (they are the product's, which is going).

use crate::apply::report::Report;
use crate::error::{Error, ExitCode, Result};
use crate::machine::installed::component_dir;
use crate::machine::inventory::side_dir;
use crate::machine::journal::Rename;
use crate::machine::session::{self, Access};
use crate::machine::transaction::Transaction;
use crate::platform::fsutil::absolute;
use std::path::Path;
use std::time::Duration;

/// `forget PRODUCT`: the product's entry removed from the inventory; with `delete`, its folders
/// and kept copies too.
pub fn forget(
    inventory: &Path,
    product_id: &str,
    delete: bool,
    wait: Duration,
    report: &mut Report,
) -> Result<ExitCode> {
    let inventory = absolute(inventory);
    let session = session::open(&inventory, wait, Access::Change)?;
    report.recovered.clone_from(&session.recovered);
    report.product = Some(product_id.to_string());
    let inv = &session.inv;
    let Some(product) = inv.product(product_id).cloned() else {
        let known: Vec<&str> = inv
            .inventory
            .products
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        return Err(Error::not_applicable(format!(
            "product {product_id} is not in the inventory {} (it has: {})",
            inventory.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
        .hint("see `iupack-stub status` for what is installed; nothing was changed"));
    };
    if let Some((name, _)) = product.components.iter().find(|(_, c)| c.pending.is_some()) {
        return Err(Error::new(
            ExitCode::RestartNeeded,
            format!("{product_id}'s component {name} waits for a restart to be installed"),
        )
        .hint("restart the machine first; nothing was changed"));
    }
    let mut txn = Transaction::new(&inventory, format!("forget {product_id}"));
    let (mut renames, mut remove) = (Vec::new(), Vec::new());
    let mut folders = Vec::new();
    if delete {
        let pid = std::process::id();
        for (name, c) in product.components.iter() {
            let dir = component_dir(inv, name, c)?;
            crate::apply::stage::check_parent(&dir, name, c, &mut txn.dirs, &mut report.warnings)?;
            let side = side_dir(&dir);
            let aside = if txn.dirs.exists(&side) {
                // Checked as every run checks a side folder: one another user planted is refused.
                txn.dirs.get(&side, false)?;
                side.join(format!("retired-{pid}"))
            } else {
                side.clone()
            };
            if txn.dirs.exists(&dir) {
                txn.dirs
                    .remove_quietly(&side.join(format!("retired-{pid}")));
                renames.push(Rename {
                    from: dir.clone(),
                    to: aside,
                    group: Some(name.clone()),
                });
                folders.push(dir.display().to_string());
            }
            if txn.dirs.exists(&side) || renames.last().is_some_and(|r| r.to == side) {
                remove.push(side);
            }
        }
    }
    let mut next = inv.clone();
    next.inventory.products.retain(|p| p.id != product_id);
    let bytes = next.to_bytes();
    txn.commit(renames, &|_| (bytes.clone(), remove.clone()), Vec::new())?;
    report.warnings.append(&mut txn.warnings);
    #[cfg(feature = "install")]
    if let Some(c) = inv
        .inventory
        .client
        .as_ref()
        .filter(|c| c.product == product_id)
    {
        report.warnings.push(format!(
            "the client tool {} stays; it was updated by {product_id}'s packages, so none will update it now (install it again from another product's package: --install-client)",
            c.path
        ));
    }
    report.result = "forgotten".into();
    report.message = match (delete, folders.is_empty()) {
        (false, _) => format!(
            "{product_id} is no longer in the inventory {}; its folders were left as they are (--delete removes them)",
            inventory.display()
        ),
        (true, true) => format!("{product_id} is no longer in the inventory; it had no folders on disk"),
        (true, false) => format!(
            "{product_id} is no longer in the inventory; deleted {} and their kept copies",
            folders.join(", ")
        ),
    };
    Ok(ExitCode::Success)
}
