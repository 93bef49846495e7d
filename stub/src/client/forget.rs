//! `forget PRODUCT [--delete]` (issue 23): takes a product off this machine's inventory, so that
//! no package of it applies here again (10, not installed) and `status` no longer lists it; with
//! `--delete`, also its component folders and their kept copies (the `.NAME.iupack` folders
//! beside them), through the journal: each live folder is moved into its side folder (checked,
//! or made 0700) as `retired-PID`, the inventory without the product is written (the commit
//! point), then what the side folder holds of the product (the retired tree, the kept copies
//! the inventory records) is removed through its handle, and the side folder if then empty. Killed before the commit
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
    let (mut renames, mut remove, mut sides) = (Vec::new(), Vec::new(), Vec::new());
    let mut folders = Vec::new();
    if delete {
        let pid = std::process::id();
        let mut stages = Vec::new();
        for (name, c) in product.components.iter() {
            let dir = component_dir(inv, name, c)?;
            crate::apply::stage::check_parent(&dir, name, c, &mut txn.dirs, &mut report.warnings)?;
            if !txn.dirs.exists(&dir) {
                continue;
            }
            // Everything goes through the side folder, checked (made 0700, or one a run made:
            // one another user planted is refused) and held open: only what is in it is removed,
            // by its handle, never a name in the component's parent (which, with
            // allow_writable_parent, another user could swap).
            let side = side_dir(&dir);
            stages.push(side.join(format!("stage-{pid}")));
            let retired = side.join(format!("retired-{pid}"));
            renames.push(Rename {
                from: dir.clone(),
                to: retired.clone(),
                group: Some(name.clone()),
            });
            remove.push(retired);
            // Kept copies: those the inventory records and any a run of iupack left there
            // (previous-*, retired-*, stage-*), but never `displaced-*`, which a run found in
            // a live folder's place and keeps (it may be anyone's).
            let kept = c
                .previous
                .iter()
                .filter(|p| p.dir_is_plain())
                .map(|p| p.dir.clone());
            let left = std::fs::read_dir(&side).into_iter().flatten().flatten();
            let left = left
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| {
                    ["previous-", "retired-", "stage-"]
                        .iter()
                        .any(|p| n.starts_with(p))
                });
            let mut names: Vec<String> = kept.chain(left).collect();
            names.sort();
            names.dedup();
            remove.extend(names.iter().map(|n| side.join(n)));
            sides.push(side);
            folders.push(dir.display().to_string());
        }
        // Journaled like a run's staging: a side folder this makes is removed again if the
        // forget is undone; the staging folders themselves go once it commits.
        txn.stage(&stages)?;
        for (s, side) in stages.iter().zip(&sides) {
            txn.dirs
                .remove_quietly(&side.join(format!("retired-{pid}")));
            remove.push(s.clone());
        }
    }
    let mut next = inv.clone();
    next.inventory.products.retain(|p| p.id != product_id);
    let bytes = next.to_bytes();
    txn.commit(renames, &|_| (bytes.clone(), remove.clone()), sides)?;
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
