//! The commit of an apply: every staged tree swapped in and the new inventory written, through
//! the journal (`machine::transaction::Transaction`), so that the machine is one whole release or the
//! other at every instant; kept copies beyond `keep_previous` are pruned after the commit point.
//! Never stages or proves content: what it swaps in was proven by `stage`.

use super::plan::{security_floor, Planned, Route};
use super::stage::stage_path;
use crate::error::Result;
use crate::format::keys::KeyChange;
use crate::format::package::VerifiedPackage;
use crate::format::version::Version;
use crate::json::sorted::SortedMap;
use crate::machine::installed::installed_digest;
use crate::machine::inventory::{side_dir, InventoryFile, PendingInstall, Product};
use crate::machine::journal::Rename;
use crate::machine::transaction::Transaction;
use crate::platform::{fsutil, safedir, time};
use std::path::{Path, PathBuf};

/// A name in `side` for the copy of `version` being replaced (`-changed` when its files were
/// changed locally), unused so far.
fn previous_name(
    side: &Path,
    version: Option<&Version>,
    changed: &str,
    dirs: &mut safedir::Dirs,
) -> String {
    let base = format!(
        "previous-{}{changed}",
        version.map_or_else(|| "unversioned".to_string(), ToString::to_string)
    );
    let mut name = base.clone();
    let mut n = 1;
    while dirs.exists(&side.join(&name)) {
        n += 1;
        name = format!("{base}-{n}");
    }
    name
}

/// Swaps every staged tree in and writes the new inventory, through the journal: live folders
/// become kept copies, staged trees become live, the inventory records it (the commit point),
/// then kept copies beyond `keep_previous` are removed.
pub(super) fn commit(
    txn: &mut Transaction,
    inv: &InventoryFile,
    product: &Product,
    vp: &VerifiedPackage,
    installs: &[Planned],
    execs: &[Vec<String>],
    keys: &KeyChange,
) -> Result<Vec<String>> {
    let now = time::rfc3339(time::unix_now());
    let mut base = product.clone();
    base.trusted_keys = keys.trusted.clone();
    base.revoked_keys = keys.revoked.clone();
    let (mut renames, mut sides) = (Vec::new(), Vec::new());
    let mut kept_as = SortedMap::new();
    // Each install's inventory entry as the commit starts from it.
    let mut entries = Vec::new();
    // Said once the update is done (the transaction's own warnings mean "keep the journal").
    let mut notes = Vec::new();
    for (step, install) in installs {
        let c = &step.component;
        let dir = &install.dir;
        let side = side_dir(dir);
        let mut entry = install.installed.clone();
        let group = Some(c.name.clone());
        if fsutil::exists(dir) {
            // A copy installed before iupack recorded digests (a hand-written inventory) is
            // digested now, so that a rollback can prove it later. One replaced by full content
            // is checked against its recorded digest: if its files were changed locally it is
            // named so and the run says it; its record keeps the release's digest, so a rollback
            // refuses it as changed (it is never put back as that release).
            let mut changed = "";
            if entry.tree.is_none() {
                entry.tree = installed_digest(dir, &entry.exec);
            } else if matches!(install.route, Route::Full)
                && installed_digest(dir, &entry.exec).is_some_and(|t| Some(t) != entry.tree)
            {
                changed = "-changed";
                notes.push(format!(
                    "{} {} had been changed locally and is replaced by full content (a kept copy is previous-VERSION-changed, which rollback refuses)",
                    c.name,
                    entry.version.as_ref().map_or("", Version::as_str)
                ));
            }
            let name = previous_name(&side, entry.version.as_ref(), changed, &mut txn.dirs);
            renames.push(Rename {
                from: dir.clone(),
                to: side.join(&name),
                group: group.clone(),
            });
            kept_as.insert(c.name.clone(), name);
        }
        renames.push(Rename {
            from: stage_path(dir),
            to: dir.clone(),
            group,
        });
        sides.push(side);
        entries.push(entry);
        txn.expect_tree(&product.id, &c.name, &c.tree);
    }
    let keep = base.keep_previous as usize;
    let plan = |deferred: &[String]| -> (Vec<u8>, Vec<PathBuf>) {
        let mut p = base.clone();
        let mut remove_after = Vec::new();
        for (((step, install), exec), entry) in installs.iter().zip(execs).zip(&entries) {
            let c = &step.component;
            let dir = &install.dir;
            let mut entry = entry.clone();
            // Only where the file system can't say it: NTFS has no exec bit.
            let exec = if cfg!(unix) { Vec::new() } else { exec.clone() };
            let requires = c
                .requires
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            let pending = PendingInstall {
                version: c.version.clone(),
                tree: c.tree.clone(),
                package: vp.manifest.package.id.clone(),
                installed: now.clone(),
                requires,
                kept_as: kept_as.get(&c.name).cloned(),
                stage: stage_path(dir),
                exec,
                extra: Default::default(),
            };
            if deferred.contains(&c.name) {
                // Files in use (Windows): the swap happens at the next restart; until then the
                // installed version is still the old one.
                entry.pending = Some(pending);
            } else {
                remove_after.extend(entry.make_live(pending, keep, &side_dir(dir)));
            }
            p.components.insert(c.name.clone(), entry);
        }
        for c in &vp.manifest.components {
            if let Some(entry) = p.components.get_mut(&c.name) {
                entry.floor = security_floor(entry.floor.as_ref(), c.floor.as_ref());
            }
        }
        let mut next = inv.clone();
        if let Some(slot) = next.product_mut(&product.id) {
            *slot = p;
        }
        (next.to_bytes(), remove_after)
    };
    let deferred = txn.commit(renames, &plan, sides)?;
    txn.warnings.append(&mut notes);
    Ok(deferred)
}
