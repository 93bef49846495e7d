//! `rollback PRODUCT COMPONENT`: the newest kept copy of a component back in place of its live
//! tree, through the journal, once the copy is proven to be the tree the inventory recorded,
//! not below the security floor, and no `requires` breaks. Never touches a copy it can't prove.

use crate::apply::report::{ComponentReport, Report};
use crate::error::{Error, ExitCode, Result};
use crate::format::version::{Version, VersionReq};
use crate::machine::hooks::{self, Hooks};
use crate::machine::installed::{component_dir, installed_digest};
use crate::machine::inventory::{
    side_dir, InstalledComponent, InventoryFile, PreviousCopy, Product,
};
use crate::machine::journal::Rename;
use crate::machine::session::{self, Access};
use crate::machine::transaction::Transaction;
use crate::platform::fsutil::{self, absolute};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `rollback PRODUCT COMPONENT`: puts the newest kept copy back in place of the live tree, through
/// the journal, after proving the kept copy is exactly what was recorded and that no `requires`
/// breaks. The rolled-back tree is removed once the inventory records the change.
pub fn rollback(
    inventory: &Path,
    product_id: &str,
    component: &str,
    wait: Duration,
    report: &mut Report,
) -> Result<ExitCode> {
    let inventory = absolute(inventory);
    let session = session::open(&inventory, wait, Access::Change)?;
    report.recovered.clone_from(&session.recovered);
    let inv = &session.inv;
    report.product = Some(product_id.to_string());
    let Some(product) = inv.product(product_id).cloned() else {
        return Err(Error::not_applicable(format!(
            "product {product_id} is not in the inventory {}",
            inventory.display()
        ))
        .hint("see `iupack-stub status` for what is installed"));
    };
    let Some(installed) = product.components.get(component).cloned() else {
        return Err(
            Error::not_applicable(format!("{product_id} has no component {component}"))
                .hint("see `iupack-stub status` for what is installed"),
        );
    };
    let dir = component_dir(inv, component, &installed)?;
    if let Some(p) = &installed.pending {
        return Err(Error::new(
            ExitCode::RestartNeeded,
            format!(
                "{component} {} waits for a restart to be installed",
                p.version
            ),
        )
        .hint("restart the machine first; nothing was changed"));
    }
    let current = installed
        .version
        .as_ref()
        .map_or_else(|| "(none)".to_string(), ToString::to_string);
    let (prev, kept, target) = kept_copy(&installed, component, &dir, &current)?;
    check_rollback_requires(&product, component, &prev.version, &prev.requires)?;
    let mut txn = Transaction::new(&inventory, format!("rollback {product_id} {component}"));
    crate::apply::stage::check_parent(
        &dir,
        component,
        &installed,
        &mut txn.dirs,
        &mut report.warnings,
    )?;

    let hooks = Hooks::of(product.hooks.as_ref(), &product.id)?;
    let vars = [
        ("product", product.id.clone()),
        ("component", component.to_string()),
        ("version", target.clone()),
        ("from", current.clone()),
        ("staged", kept.display().to_string()),
        ("live", dir.display().to_string()),
    ];
    hooks::validate(&hooks, &vars, component)?;

    commit_rollback(&mut txn, inv, product_id, component, &dir, &kept, &prev)?;
    report.warnings.append(&mut txn.warnings);
    report.components = vec![ComponentReport {
        name: component.to_string(),
        from: installed.version.as_ref().map(ToString::to_string),
        to: target.clone(),
        route: Some("rollback".into()),
        action: "rolled-back".into(),
        bytes: 0,
    }];
    report.result = "rolled-back".into();
    report.message = format!("rolled {component} back from {current} to {target}");
    hooks::after(&hooks, &product.id, component, &mut report.warnings);
    Ok(ExitCode::Success)
}

/// The newest kept copy of `component`, proven to be the recorded tree and not below the
/// security floor: the copy, its folder and its version as people read it.
fn kept_copy(
    installed: &InstalledComponent,
    component: &str,
    dir: &Path,
    current: &str,
) -> Result<(PreviousCopy, PathBuf, String)> {
    let Some(prev) = installed.previous.first().cloned() else {
        return Err(Error::new(
            ExitCode::NeedsOther,
            format!("no earlier version of {component} is kept on this machine (installed: {current})"),
        )
        .hint("apply the package of the version you want (with --allow-downgrade); set keep_previous in the inventory to keep copies"));
    };
    let target = prev
        .version
        .as_ref()
        .map_or_else(|| "(unversioned)".to_string(), ToString::to_string);
    let side = side_dir(dir);
    if !prev.dir_is_plain() {
        return Err(Error::other(format!(
            "the inventory names the kept copy of {component} `{}`, which is not a plain folder name",
            prev.dir.escape_debug()
        ))
        .hint("kept copies are named by iupack (previous-VERSION); fix the inventory's previous entry"));
    }
    let kept = side.join(&prev.dir);
    let proven = installed_digest(&kept, &prev.exec).is_some_and(|t| Some(t) == prev.tree);
    if !proven {
        return Err(Error::new(
            ExitCode::NeedsOther,
            format!(
                "the kept copy of {component} {target} ({}) is missing or was changed since it was kept",
                kept.display()
            ),
        )
        .hint("apply the package of that version instead (with --allow-downgrade); nothing was changed"));
    }
    if let Some(floor) = &installed.floor {
        // A copy with no recorded version (installed before iupack) can't be proven to be at or
        // above the floor: it is refused like one below it.
        if prev.version.as_ref().is_none_or(|v| v < floor) {
            return Err(Error::new(
                ExitCode::Downgrade,
                format!("{component} {target} is below the security floor {floor} of this machine, or can't be shown not to be; it can't be rolled back to"),
            )
            .hint("the publisher marked older versions unsafe; apply a package at or above the floor instead; nothing was changed"));
        }
    }
    Ok((prev, kept, target))
}

/// Swaps the kept copy in for the live tree and records it, through the journal: the live tree
/// is set aside as `retired-PID` and removed once the inventory says the kept copy is live.
fn commit_rollback(
    txn: &mut Transaction,
    inv: &InventoryFile,
    product_id: &str,
    component: &str,
    dir: &Path,
    kept: &Path,
    prev: &PreviousCopy,
) -> Result<()> {
    let side = side_dir(dir);
    let retired = side.join(format!("retired-{}", std::process::id()));
    txn.dirs.remove_quietly(&retired); // a stale one of this process id (the side is ours)
    let mut renames = Vec::new();
    if fsutil::exists(dir) {
        renames.push(Rename::new(dir.to_path_buf(), retired.clone()));
    }
    renames.push(Rename::new(kept.to_path_buf(), dir.to_path_buf()));
    if let Some(tree) = &prev.tree {
        txn.expect_tree(product_id, component, tree);
    }
    let mut next = inv.clone();
    let entry = next
        .product_mut(product_id)
        .and_then(|p| p.components.get_mut(component))
        .expect("checked above");
    entry.version = prev.version.clone();
    entry.tree = prev.tree.clone();
    entry.package = prev.package.clone();
    entry.installed = prev.installed.clone();
    entry.requires = prev.requires.clone();
    entry.exec = prev.exec.clone();
    entry.previous.remove(0);
    let sides = if entry.previous.is_empty() {
        vec![side]
    } else {
        Vec::new()
    };
    let bytes = next.to_bytes();
    txn.commit(renames, &|_| (bytes.clone(), vec![retired.clone()]), sides)?;
    Ok(())
}

/// The rolled-back version's own `requires` must hold against what else is installed, and no
/// other installed component may require a version of this one that the rollback removes.
fn check_rollback_requires(
    product: &Product,
    component: &str,
    target: &Option<Version>,
    target_requires: &crate::json::sorted::SortedMap<String>,
) -> Result<()> {
    let have = |name: &str| -> Option<Version> {
        if name == "product" {
            Some(product.version.clone())
        } else if name == component {
            target.clone()
        } else {
            product.components.get(name).and_then(|c| c.version.clone())
        }
    };
    let mut needs: Vec<(String, &str, &str)> = target_requires
        .iter()
        .map(|(what, req)| (component.to_string(), what.as_str(), req.as_str()))
        .collect();
    for (name, c) in &product.components {
        if name != component {
            if let Some(req) = c.requires.get(component) {
                needs.push((name.clone(), component, req));
            }
        }
    }
    for (who, what, req) in needs {
        let Ok(parsed) = VersionReq::parse(req) else {
            continue; // recorded by another tool: not ours to judge
        };
        let v = have(what);
        if !v.as_ref().is_some_and(|v| parsed.matches(v)) {
            let v = v.map_or_else(|| "none".to_string(), |v| v.to_string());
            return Err(Error::new(
                ExitCode::NeedsOther,
                format!("the rollback would leave {who} requiring {what} {req} with {what} {v} installed"),
            )
            .hint(format!("roll back {who} first, or apply a package that brings a matching {what}; nothing was changed")));
        }
    }
    Ok(())
}
