//! Staging: each component's new tree is written beside its live folder (same file system, so the
//! swap is a rename) and proven to be the signed tree before anything live is touched. Also the
//! checks that a component's folder is one another local user can't redirect. What is staged is
//! removed again if the run stops; the live folders are not touched here.

use super::plan::{Planned, Route, Step};
use super::tree::{exec_paths, write_delta, write_tree, write_tree_delta};
use crate::apply::report::Report;
use crate::error::{Error, ExitCode, Result};
use crate::format::manifest::files_tree;
use crate::format::package::VerifiedPackage;
use crate::format::scan::package_mode;
use crate::machine::fault;
use crate::machine::hooks::{self, Hooks};
use crate::machine::installed::installed_digest;
use crate::machine::inventory::{side_dir, InstalledComponent, Product};
use crate::machine::transaction::Transaction;
use crate::platform::fsutil;
use crate::platform::safedir::{self, Dir};
use std::fs;
use std::path::{Path, PathBuf};

/// Where a component's new tree is staged: beside its live folder (same file system, so the swap
/// is a rename), in its `.NAME.iupack` folder.
pub(super) fn stage_path(dir: &Path) -> PathBuf {
    side_dir(dir).join(format!("stage-{}", std::process::id()))
}

/// Writes a component's new tree into its (created, empty) staging folder, then proves that
/// what is there is exactly the signed tree: the files written hash to the signed tree digest,
/// and the folder holds those files, with their sizes and modes, and nothing else. Returns the
/// executable files (what a Windows inventory records).
pub(super) fn stage(
    vp: &mut VerifiedPackage,
    step: &Step,
    route: &Route,
    stage: &Dir,
) -> Result<Vec<String>> {
    let c = &step.component;
    let written = match route {
        Route::Full => write_tree(vp, c, stage)?,
        Route::Delta { index, base } if c.deltas[*index].is_tree() => {
            write_tree_delta(vp, c, &c.deltas[*index], base, stage)?
        }
        Route::Delta { index, base } => write_delta(vp, c, &c.deltas[*index], base, stage)?,
    };
    let mut on_disk = stage
        .files()
        .map_err(|e| Error::apply_io(format!("cannot read {}", stage.path.display()), &e))?;
    on_disk.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for f in &mut on_disk {
        f.2 = package_mode(f.2);
    }
    let mut want: Vec<(String, u64, u32)> = written
        .iter()
        .map(|f| (f.path.to_string(), f.size, f.mode))
        .collect();
    want.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if files_tree(&written) != c.tree || (cfg!(unix) && on_disk != want) {
        return Err(Error::new(
            ExitCode::ApplyFailed,
            format!(
                "the staged tree of {} in {} is not the signed tree: something else changed it while it was written",
                c.name,
                stage.path.display()
            ),
        )
        .hint("find what else writes there, then run the package again; nothing was changed"));
    }
    Ok(exec_paths(written.iter()))
}

/// A component's folder must not sit in a folder that another user can change (who could then
/// plant or swap what a run as root works in), unless the inventory says that is intended: then
/// the run says so. The folder holding it is opened here, by a checked walk (`safedir::walk`),
/// and kept in `dirs` for everything the run does there.
pub(crate) fn check_parent(
    dir: &Path,
    name: &str,
    c: &InstalledComponent,
    dirs: &mut safedir::Dirs,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let parent = fsutil::parent_of(dir);
    let (opened, _) = safedir::walk(&parent)?;
    // The walk to the component's own folder says who can change any folder up to and
    // including it (its owner could keep a handle inside it; in a sticky folder anyone could
    // make it).
    let (_, who) = safedir::walk(dir)?;
    if let Some(who) = who {
        let what = format!(
            "the folder holding component {name} ({}) can be changed by another user: {who}",
            dir.display()
        );
        if !c.allow_writable_parent || opened.is_none() {
            return Err(Error::new(
                ExitCode::ApplyFailed,
                format!("{what}, who could redirect what this run writes"),
            )
            .hint(if opened.is_none() {
                "make the folders up to it writable by their owner only (chown root, chmod go-w); with allow_writable_parent, create the folder holding the component first; nothing was changed"
            } else {
                "make the folders up to it writable by their owner only (chown root, chmod go-w), or set \"allow_writable_parent\": true on the component in the inventory if that is intended; nothing was changed"
            }));
        }
        warnings.push(format!(
            "{what}; the inventory allows it (allow_writable_parent)"
        ));
        if let Some(d) = opened {
            dirs.add(d);
        }
        return pin_live(dir, name, c, dirs);
    }
    if let Some(d) = opened {
        dirs.add(d);
    }
    Ok(())
}

/// Where another user can swap folders around a component (`allow_writable_parent`), the live
/// folder is proven to be the tree the inventory records and pinned by identity, so the swap
/// moves that folder and no other into the side folder (where a kept copy is pruned later): a
/// folder of someone else's renamed into its place is never kept as a copy and deleted.
fn pin_live(
    dir: &Path,
    name: &str,
    c: &InstalledComponent,
    dirs: &mut safedir::Dirs,
) -> Result<()> {
    let Some(id) = dirs.id_at(dir) else {
        return Ok(()); // nothing installed yet
    };
    let proven = c.tree.is_none()
        || (installed_digest(dir, &c.exec) == c.tree && dirs.id_at(dir) == Some(id));
    if !proven {
        return Err(Error::new(
            ExitCode::ApplyFailed,
            format!(
                "the folder of component {name} ({}) is not the tree the inventory records, and others can change the folder holding it: it may have been swapped",
                dir.display()
            ),
        )
        .hint("put the component's recorded tree back (or move the folder away yourself and apply a full package); nothing was changed"));
    }
    dirs.pin(dir, id);
    Ok(())
}

/// A component folder must be a folder (or not exist yet, for a first install).
fn check_is_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if !m.is_dir() => Err(Error::new(
            ExitCode::ApplyFailed,
            format!("{} is not a folder", dir.display()),
        )
        .hint("move the file away; a component must be a folder of its own")),
        _ => Ok(()),
    }
}

/// Stages every install in `txn` (in `requires` order): each component's folder is checked,
/// its new tree written and proven, then the admin's `validate` hook checks it. Returns each
/// install's executable files.
// Out of line: inlined into `apply::run` it made the package head larger (measured).
#[inline(never)]
pub(super) fn stage_all(
    vp: &mut VerifiedPackage,
    installs: &[Planned],
    product: &Product,
    hooks: &Hooks,
    txn: &mut Transaction,
    report: &mut Report,
) -> Result<Vec<Vec<String>>> {
    let mut stages = Vec::new();
    for (step, install) in installs {
        let dir = &install.dir;
        check_is_dir(dir)?;
        check_parent(
            dir,
            &step.component.name,
            &install.installed,
            &mut txn.dirs,
            &mut report.warnings,
        )?;
        stages.push(stage_path(dir));
    }
    txn.stage(&stages)?;
    let mut execs = Vec::new();
    for ((step, install), dir) in installs.iter().zip(&stages) {
        execs.push(stage(vp, step, &install.route, txn.dirs.get(dir, false)?)?);
        fault::step("component staged");
        report.bytes += step.report(false).bytes;
    }
    for ((step, install), dir) in installs.iter().zip(&stages) {
        let c = &step.component;
        let vars = [
            ("product", product.id.clone()),
            ("component", c.name.clone()),
            ("version", c.version.to_string()),
            (
                "from",
                step.from
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            ("staged", dir.display().to_string()),
            ("live", install.dir.display().to_string()),
        ];
        hooks::validate(hooks, &vars, &c.name)?;
    }
    Ok(execs)
}
