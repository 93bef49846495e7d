//! The installed client tool's own commands (the stub with no payload attached): `status`,
//! `rollback PRODUCT COMPONENT` and `recover`. Each takes the inventory lock where it may change
//! anything, and settles an interrupted update first.

pub mod share;

use crate::apply::report::{ComponentReport, Report};
use crate::error::{Error, ExitCode, Result};
use crate::format::version::{Version, VersionReq};
use crate::json::{Obj, Value};
use crate::machine::hooks::{self, Hooks};
use crate::machine::installed::{component_dir, installed_tree, tree_of};
use crate::machine::inventory::{side_dir, InventoryFile, Product};
use crate::machine::journal::{self, Rename, Transaction};
use crate::machine::session::{self, Access};
use crate::platform::fsutil;
use crate::platform::fsutil::absolute;
use std::path::Path;
use std::time::Duration;

/// `recover`: finishes or undoes an update an earlier run left half done.
pub fn recover(inventory: &Path, wait: Duration, report: &mut Report) -> Result<ExitCode> {
    let inventory = absolute(inventory);
    let session = session::open(&inventory, wait, Access::Change)?;
    let recovered = session.recovered.clone();
    report.result = "recovered".into();
    report.message = match &recovered {
        Some(r) => r.clone(),
        None => "nothing to recover: no update was interrupted".into(),
    };
    report.recovered = recovered;
    Ok(ExitCode::Success)
}

/// `status`: what is installed, from which package, when, and what is kept. Read only.
pub fn status(inventory: &Path) -> Result<Value> {
    let inventory = absolute(inventory);
    let inv = InventoryFile::load(&inventory)?;
    let products: Vec<Value> = inv
        .inventory
        .products
        .iter()
        .map(|p| {
            let components: Vec<Value> = p
                .components
                .iter()
                .map(|(name, c)| {
                    Obj::new()
                        .put("name", name)
                        .put("version", &c.version)
                        .put("path", inv.resolve(&c.path))
                        .put("tree", &c.tree)
                        .put("package", &c.package)
                        .put("installed", &c.installed)
                        .put(
                            "kept",
                            c.previous.iter().map(|k| &k.version).collect::<Vec<_>>(),
                        )
                        .put("pending_restart", c.pending.as_ref().map(|p| &p.version))
                        .build()
                })
                .collect();
            Obj::new()
                .put("id", &p.id)
                .put("name", &p.name)
                .put("version", &p.version)
                .put("trusted_keys", p.trusted_keys.len())
                .put("components", components)
                .build()
        })
        .collect();
    Ok(Obj::new()
        .put("inventory", &inventory)
        .put(
            "interrupted_update",
            fsutil::exists(&journal::journal_path(&inventory)),
        )
        .put("products", products)
        .build())
}

/// `status --export`: per product its id, version and language, and per component its version
/// and the digest of the tree on disk (computed now, not copied from the inventory), plus the
/// machine's platform and language. No keys, paths, hooks, host names or user data: the file
/// crosses the air gap to `iupack plan`.
pub fn export(inventory: &Path) -> Result<Value> {
    let inventory = absolute(inventory);
    let inv = InventoryFile::load(&inventory)?;
    let products: Vec<Value> = inv
        .inventory
        .products
        .iter()
        .map(|p| {
            let components = p.components.iter().fold(Obj::new(), |o, (name, c)| {
                let tree = c.version.as_ref().and_then(|_| {
                    crate::machine::installed::installed_digest(&inv.resolve(&c.path), &c.exec)
                });
                o.put(
                    name,
                    Obj::new()
                        .put("version", &c.version)
                        .put("tree", tree)
                        .build(),
                )
            });
            Obj::new()
                .put("id", &p.id)
                .put("version", &p.version)
                .put("language", &p.language)
                .put("components", components.build())
                .build()
        })
        .collect();
    Ok(Obj::new()
        .put("format", 1u32)
        .put("kind", "iupack-inventory-export")
        .put(
            "exported",
            crate::platform::time::rfc3339(crate::platform::time::unix_now()),
        )
        .put(
            "machine",
            Obj::new()
                .put("platform", inv.platform())
                .put("language", &inv.inventory.machine.language)
                .build(),
        )
        .put("products", products)
        .build())
}

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
    let side = side_dir(&dir);
    if prev.dir.is_empty() || prev.dir.contains(['/', '\\']) || prev.dir.starts_with('.') {
        return Err(Error::other(format!(
            "the inventory names the kept copy of {component} `{}`, which is not a plain folder name",
            prev.dir.escape_debug()
        ))
        .hint("kept copies are named by iupack (previous-VERSION); fix the inventory's previous entry"));
    }
    let kept = side.join(&prev.dir);
    let proven = installed_tree(&kept, &prev.exec).is_some_and(|t| Some(tree_of(&t)) == prev.tree);
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

    let retired = side.join(format!("retired-{}", std::process::id()));
    txn.dirs.remove_quietly(&retired); // a stale one of this process id (the side is ours)
    let mut renames = Vec::new();
    if fsutil::exists(&dir) {
        renames.push(Rename::new(dir.clone(), retired.clone()));
    }
    renames.push(Rename::new(kept.clone(), dir.clone()));
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
