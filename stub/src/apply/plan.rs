//! The plan of one run: what the package does to each component of the product on this machine
//! (install, and by which route; or why not), checked against the package's targets, the
//! security floors, the components' `requires` and the folders the inventory gives them, and the
//! verdict that decides how the run ends. Reads the machine (installed trees, to choose a delta's
//! route); changes nothing.

use super::outcome::names;
use crate::apply::report::ComponentReport;
use crate::apply::Downgrades;
use crate::error::{Error, ExitCode, Result};
use crate::format::codecs::treestream;
use crate::format::manifest::{Component, FileEntry, CODEC_ZSTD_PREFIX};
use crate::format::package::VerifiedPackage;
use crate::format::scan::SourceFile;
use crate::format::version::Version;
use crate::machine::installed::{component_dir, installed_tree, tree_of};
use crate::machine::inventory::{InventoryFile, Product};
use std::path::{Path, PathBuf};

/// What the plan does with one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Install full content (a new version, a first install, or an allowed downgrade).
    Install,
    /// The machine already has this version.
    Current,
    /// The machine has a newer version; left alone.
    NewerInstalled,
    /// Older than installed, and downgrades are refused.
    DowngradeRefused,
    /// Below the security floor (the machine's recorded one or the package's own): never.
    BelowFloor,
    /// An earlier update of this component waits for a restart (Windows, files in use).
    RestartPending,
    /// The inventory does not configure this component on this machine.
    NotConfigured,
    /// The package carries no content that reaches this version from what is installed.
    NeedsOther,
    /// Installable, but the person running interactive mode left it out.
    Skipped,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Install => "install",
            Action::Current => "current",
            Action::NewerInstalled => "newer-installed",
            Action::DowngradeRefused => "downgrade-refused",
            Action::BelowFloor => "below-floor",
            Action::RestartPending => "restart-pending",
            Action::NotConfigured => "not-configured",
            Action::NeedsOther => "needs-other",
            Action::Skipped => "skipped",
        }
    }
}

/// How an installed component reaches the package's version.
#[derive(Debug, Clone)]
pub enum Route {
    /// Replace the whole tree with the package's full content.
    Full,
    /// Apply `component.deltas[index]` to the installed tree, proven to be its base `files`.
    Delta { index: usize, base: Vec<SourceFile> },
}

#[derive(Debug, Clone)]
pub struct Step {
    pub component: Component,
    pub from: Option<Version>,
    pub action: Action,
    /// The live folder (for configured components).
    pub dir: Option<PathBuf>,
    /// For installs: how.
    pub route: Option<Route>,
    /// Why no route was found, for `NeedsOther`.
    pub note: Option<String>,
}

impl Step {
    pub fn report(&self, done: bool) -> ComponentReport {
        let installing = self.action == Action::Install;
        let c = &self.component;
        let (route, bytes) = match &self.route {
            Some(Route::Full) => (Some("full".to_string()), c.full_size()),
            Some(Route::Delta { index, .. }) => (
                Some(format!("delta from {}", c.deltas[*index].from)),
                c.deltas[*index].payload_size(),
            ),
            None => (None, 0),
        };
        ComponentReport {
            name: c.name.clone(),
            from: self.from.as_ref().map(ToString::to_string),
            to: c.version.to_string(),
            route,
            action: if installing && done {
                "installed"
            } else {
                self.action.name()
            }
            .to_string(),
            bytes,
        }
    }
}

/// Platform, language and product version must be inside the package's targets.
pub(super) fn check_targets(
    vp: &VerifiedPackage,
    inv: &InventoryFile,
    product: &Product,
) -> Result<()> {
    let t = &vp.manifest.targets;
    let platform = inv.platform();
    if !t.platforms.iter().any(|p| p == "*" || *p == platform) {
        return Err(Error::not_applicable(format!(
            "this package is for platform {}, this machine is {platform}",
            t.platforms.join(", ")
        ))
        .hint("use the package built for this platform"));
    }
    if !t.languages.iter().any(|l| l == "*") {
        let lang = product
            .language
            .clone()
            .or_else(|| inv.inventory.machine.language.clone());
        match lang {
            Some(l) if t.languages.contains(&l) => {}
            Some(l) => {
                return Err(Error::not_applicable(format!(
                    "this package is for language {}, {} here is {l}",
                    t.languages.join(", "),
                    product.id
                ))
                .hint("use the package built for this language"))
            }
            None => {
                return Err(Error::not_applicable(format!(
                    "this package is for language {}, and the inventory names no language for {}",
                    t.languages.join(", "),
                    product.id
                ))
                .hint("set the product's `language` in the inventory"))
            }
        }
    }
    if !t.product_versions.matches(&product.version) {
        return Err(Error::not_applicable(format!(
            "this package is for {} versions {}, this machine has {}",
            product.id, t.product_versions, product.version
        ))
        .hint("use a package built for this product version"));
    }
    Ok(())
}

/// Decides what to do with each component of the package.
pub fn plan(
    vp: &VerifiedPackage,
    inv: &InventoryFile,
    product: &Product,
    downgrades: Downgrades,
) -> Result<Vec<Step>> {
    check_disjoint(inv, product)?;
    let mut steps = Vec::new();
    for c in &vp.manifest.components {
        let Some(installed) = product.components.get(&c.name) else {
            steps.push(Step {
                component: c.clone(),
                from: None,
                action: Action::NotConfigured,
                dir: None,
                route: None,
                note: None,
            });
            continue;
        };
        let dir = component_dir(inv, &c.name, installed)?;
        let from = installed.version.clone();
        if let Some(p) = &installed.pending {
            steps.push(Step {
                component: c.clone(),
                from,
                action: Action::RestartPending,
                dir: Some(dir),
                route: None,
                note: Some(format!(
                    "{} {} is staged and replaces the files in use at the next restart; restart, then run packages again",
                    c.name, p.version
                )),
            });
            continue;
        }
        let mut action = match &from {
            None => Action::Install,
            Some(v) if c.version > *v => Action::Install,
            Some(v) if c.version == *v => Action::Current,
            Some(_) if downgrades == Downgrades::Allow => Action::Install,
            Some(_) => Action::DowngradeRefused,
        };
        let (mut route, mut note) = (None, None);
        if let Some(floor) = security_floor(installed.floor.as_ref(), c.floor.as_ref()) {
            if c.version < floor && action != Action::Current {
                action = Action::BelowFloor;
                note = Some(format!(
                    "{} {} is below the security floor {floor} of this machine; it is never installed again, not even with --allow-downgrade",
                    c.name, c.version
                ));
            }
        }
        if action == Action::Install {
            match choose_route(c, from.as_ref(), &dir, &installed.exec)? {
                Ok(r) => route = Some(r),
                Err(why) => {
                    action = Action::NeedsOther;
                    note = Some(why);
                }
            }
        }
        steps.push(Step {
            component: c.clone(),
            from,
            action,
            dir: Some(dir),
            route,
            note,
        });
    }
    check_requires(&steps, product)?;
    Ok(steps)
}

/// The security floors this package raises on this machine, as `component >= floor`.
pub(super) fn raised_floors(vp: &VerifiedPackage, product: &Product) -> Vec<String> {
    vp.manifest
        .components
        .iter()
        .filter_map(|c| {
            let recorded = product.components.get(&c.name)?.floor.as_ref();
            let floor = c.floor.as_ref()?;
            (recorded.is_none_or(|r| floor > r)).then(|| format!("{} >= {floor}", c.name))
        })
        .collect()
}

/// The higher of the machine's recorded floor and the package's.
pub(super) fn security_floor(
    recorded: Option<&Version>,
    package: Option<&Version>,
) -> Option<Version> {
    match (recorded, package) {
        (Some(a), Some(b)) => Some(a.max(b).clone()),
        (a, b) => a.or(b).cloned(),
    }
}

/// The cheapest way from what is installed to `c.version`: a delta from the installed version
/// if the tree on disk is exactly its base and it carries fewer bytes than full content, else
/// full content. `Ok(Err(why))` when the package has no way there.
fn choose_route(
    c: &Component,
    from: Option<&Version>,
    dir: &Path,
    exec: &[String],
) -> Result<std::result::Result<Route, String>> {
    let full_cost = c.full.as_ref().map(|_| c.full_payload());
    let mut modified = false;
    if let Some(index) = from.and_then(|v| {
        c.deltas
            .iter()
            .position(|d| d.from == *v && d.is_supported())
    }) {
        let d = &c.deltas[index];
        if full_cost.is_none_or(|fc| d.payload_size() < fc) {
            if let Some(base) = installed_tree(dir, exec).filter(|b| tree_of(b) == d.from_tree) {
                if d.codec == CODEC_ZSTD_PREFIX {
                    let entries: Vec<FileEntry> = base.iter().map(SourceFile::entry).collect();
                    d.result_of(&entries, &c.tree).map_err(|e| {
                        Error::damaged(format!("{} delta from {}: {e}", c.name, d.from))
                    })?;
                }
                let in_memory = treestream::stream_size(&base) + d.stream_size.unwrap_or(0);
                if d.codec == CODEC_ZSTD_PREFIX || in_memory <= treestream::MAX_TREE_BYTES {
                    return Ok(Ok(Route::Delta { index, base }));
                }
            } else {
                modified = true;
            }
        }
    }
    if full_cost.is_some() {
        return Ok(Ok(Route::Full));
    }
    let installed = from.map_or_else(|| "nothing".to_string(), ToString::to_string);
    let bases: Vec<String> = c.deltas.iter().map(|d| d.from.to_string()).collect();
    Ok(Err(if modified {
        format!(
            "{} {installed} is installed but its files were changed locally, so the delta to {} can't apply, and the package has no full content",
            c.name, c.version
        )
    } else {
        format!(
            "{} {installed} is installed; this package updates {} to {} only from {}, and has no full content",
            c.name,
            c.name,
            c.version,
            bases.join(", ")
        )
    }))
}

/// Each component must own its folder: no two may be the same or one inside the other, or
/// swapping one would move the other. Checked across every product of the inventory: one
/// vendor's package must never move another product's files.
fn check_disjoint(inv: &InventoryFile, product: &Product) -> Result<()> {
    let all: Vec<(String, &str, PathBuf)> = inv
        .inventory
        .products
        .iter()
        .flat_map(|p| {
            p.components
                .iter()
                .map(move |(n, c)| (format!("{} {n}", p.id), p.id.as_str(), inv.resolve(&c.path)))
        })
        .collect();
    for (i, (a, pa, da)) in all.iter().enumerate() {
        for (b, pb, db) in &all[i + 1..] {
            let ours = *pa == product.id || *pb == product.id;
            if ours && (da.starts_with(db) || db.starts_with(da)) {
                return Err(Error::other(format!(
                    "the inventory gives components {a} ({}) and {b} ({}) folders that overlap",
                    da.display(),
                    db.display()
                ))
                .hint("give each component a folder of its own, side by side"));
            }
        }
    }
    Ok(())
}

/// Every `requires` of a component being installed must hold in the state after the update.
pub fn check_requires(steps: &[Step], product: &Product) -> Result<()> {
    let after = |name: &str| -> Option<Version> {
        match steps.iter().find(|s| s.component.name == name) {
            Some(s) if s.action == Action::Install => Some(s.component.version.clone()),
            _ => product.components.get(name).and_then(|c| c.version.clone()),
        }
    };
    for s in steps.iter().filter(|s| s.action == Action::Install) {
        for (what, req) in &s.component.requires {
            let have = if what == "product" {
                Some(product.version.clone())
            } else {
                after(what)
            };
            if !have.as_ref().is_some_and(|v| req.matches(v)) {
                let have = have.map_or_else(|| "none".to_string(), |v| v.to_string());
                return Err(Error::new(
                    ExitCode::NeedsOther,
                    format!(
                        "{} {} requires {what} {req}, and after this package this machine would have {what} {have}",
                        s.component.name, s.component.version
                    ),
                )
                .hint(format!("apply a package that brings {what} {req} first")));
            }
        }
    }
    Ok(())
}

/// Installs in `requires` order: what others need goes first.
pub(super) fn order_installs(steps: &[Step]) -> Result<Vec<&Step>> {
    let mut todo: Vec<&Step> = steps
        .iter()
        .filter(|s| s.action == Action::Install)
        .collect();
    let mut done: Vec<&Step> = Vec::new();
    while !todo.is_empty() {
        let ready = todo.iter().position(|s| {
            s.component
                .requires
                .keys()
                .all(|r| !todo.iter().any(|t| t.component.name == *r))
        });
        match ready {
            Some(i) => done.push(todo.remove(i)),
            None => {
                return Err(Error::damaged(format!(
                    "the components {} require each other in a circle",
                    names(&todo)
                )))
            }
        }
    }
    Ok(done)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Proceed,
    /// Nothing to do until the machine restarts (exit 3010).
    Restart,
    Current,
    Needs,
    Refused(ExitCode),
}

pub(super) fn verdict(steps: &[Step], nothing_to_install: bool) -> (Verdict, String) {
    let find = |a: Action| steps.iter().find(|s| s.action == a);
    if let Some(s) = find(Action::NeedsOther) {
        return (
            Verdict::Needs,
            s.note.clone().unwrap_or_else(|| {
                format!("no route to {} {}", s.component.name, s.component.version)
            }),
        );
    }
    if !nothing_to_install {
        return (Verdict::Proceed, "the package applies".into());
    }
    if let Some(s) = find(Action::RestartPending) {
        return (Verdict::Restart, s.note.clone().unwrap_or_default());
    }
    if let Some(s) = find(Action::BelowFloor) {
        return (
            Verdict::Refused(ExitCode::Downgrade),
            s.note.clone().unwrap_or_default(),
        );
    }
    if let Some(s) = find(Action::DowngradeRefused) {
        return (
            Verdict::Refused(ExitCode::Downgrade),
            format!(
                "{} {} is older than the installed {}; refusing to downgrade (use --allow-downgrade to force)",
                s.component.name,
                s.component.version,
                s.from.as_ref().map_or(String::new(), ToString::to_string)
            ),
        );
    }
    if steps.iter().all(|s| s.action == Action::NotConfigured) {
        return (
            Verdict::Refused(ExitCode::NotApplicable),
            "none of the package's components is configured in this machine's inventory".into(),
        );
    }
    (Verdict::Current, "already current: nothing to do".into())
}

/// `apply --from` picks per component which package brings it: the package's other components
/// are skipped here, and `requires` must still hold.
pub(super) fn only(steps: &mut [Step], only: &[String], product: &Product) -> Result<()> {
    for s in steps
        .iter_mut()
        .filter(|s| !only.contains(&s.component.name))
    {
        if matches!(s.action, Action::Install | Action::NeedsOther) {
            s.action = Action::Skipped;
        }
    }
    check_requires(steps, product)
}
