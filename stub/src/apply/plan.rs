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
use crate::machine::inventory::{InstalledComponent, InventoryFile, Product};
use std::path::{Path, PathBuf};

/// What the plan does with one component; what an install needs lives in its variant, so a
/// step can't claim an install it has no folder or route for.
#[derive(Debug, Clone)]
pub enum Action {
    /// Install new content (a new version, a first install, or an allowed downgrade).
    Install(Install),
    /// The machine already has this version.
    Current,
    /// The machine has a newer version; left alone.
    NewerInstalled,
    /// Older than installed, and downgrades are refused.
    DowngradeRefused,
    /// Below the security floor (the machine's recorded one or the package's own): never. Why.
    BelowFloor(String),
    /// An earlier update of this component waits for a restart (Windows, files in use). Why.
    RestartPending(String),
    /// The inventory does not configure this component on this machine.
    NotConfigured,
    /// The package carries no content that reaches this version from what is installed. Why.
    NeedsOther(String),
    /// Left out by the person running interactive mode (or by `apply --from`): what it would
    /// have done, the install (interactive mode may pick it again) or why there is no route.
    Skipped(std::result::Result<Install, String>),
}

/// What installing one component takes: its live folder, the route, and its inventory entry.
#[derive(Debug, Clone)]
pub struct Install {
    /// The live folder.
    pub dir: PathBuf,
    pub route: Route,
    /// The component's entry in the inventory when planned.
    pub installed: InstalledComponent,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Install(_) => "install",
            Action::Current => "current",
            Action::NewerInstalled => "newer-installed",
            Action::DowngradeRefused => "downgrade-refused",
            Action::BelowFloor(_) => "below-floor",
            Action::RestartPending(_) => "restart-pending",
            Action::NotConfigured => "not-configured",
            Action::NeedsOther(_) => "needs-other",
            Action::Skipped(_) => "skipped",
        }
    }

    /// Why the component is not installed, where the plan has words for it.
    pub fn note(&self) -> Option<&str> {
        match self {
            Action::BelowFloor(why)
            | Action::RestartPending(why)
            | Action::NeedsOther(why)
            | Action::Skipped(Err(why)) => Some(why),
            _ => None,
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
}

/// An install of the plan with what it needs (`order_installs`).
pub type Planned<'a> = (&'a Step, &'a Install);

impl Step {
    /// What this step installs, if it installs.
    pub fn install(&self) -> Option<&Install> {
        match &self.action {
            Action::Install(i) => Some(i),
            _ => None,
        }
    }

    /// Leaves an installable step (or one with no route) out of the run (`skip`), or takes an
    /// installable step that was left out back in; other steps stay as they are.
    pub fn skip(&mut self, skip: bool) {
        self.action = match std::mem::replace(&mut self.action, Action::Current) {
            Action::Install(i) | Action::Skipped(Ok(i)) if skip => Action::Skipped(Ok(i)),
            Action::Install(i) | Action::Skipped(Ok(i)) => Action::Install(i),
            Action::NeedsOther(why) if skip => Action::Skipped(Err(why)),
            other => other,
        };
    }

    pub fn report(&self, done: bool) -> ComponentReport {
        let c = &self.component;
        let (installing, planned) = match &self.action {
            Action::Install(i) => (true, Some(i)),
            Action::Skipped(Ok(i)) => (false, Some(i)),
            _ => (false, None),
        };
        let (route, bytes) = match planned.map(|i| &i.route) {
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
// Out of line: inlined into `apply::run` it made the package head larger (measured).
#[inline(never)]
pub fn plan(
    vp: &VerifiedPackage,
    inv: &InventoryFile,
    product: &Product,
    downgrades: Downgrades,
) -> Result<Vec<Step>> {
    check_disjoint(inv, product)?;
    let mut steps = Vec::new();
    for c in &vp.manifest.components {
        if c.name == crate::format::manifest::CLIENT_COMPONENT {
            continue; // the machine's client tool, not a product's component: `client_tool`
        }
        let (from, action) = match product.components.get(&c.name) {
            None => (None, Action::NotConfigured),
            Some(installed) => {
                let dir = component_dir(inv, &c.name, installed)?;
                let from = installed.version.clone();
                let action = decide(c, from.as_ref(), dir, installed, downgrades)?;
                (from, action)
            }
        };
        steps.push(Step {
            component: c.clone(),
            from,
            action,
        });
    }
    check_requires(&steps, product)?;
    Ok(steps)
}

/// What to do with configured component `c`, installed as `installed` in `dir`.
fn decide(
    c: &Component,
    from: Option<&Version>,
    dir: PathBuf,
    installed: &InstalledComponent,
    downgrades: Downgrades,
) -> Result<Action> {
    if let Some(p) = &installed.pending {
        return Ok(Action::RestartPending(format!(
            "{} {} is staged and replaces the files in use at the next restart; restart, then run packages again",
            c.name, p.version
        )));
    }
    let newer = match from {
        None => true,
        Some(v) if c.version > *v => true,
        Some(v) if c.version == *v => return Ok(Action::Current),
        Some(_) => downgrades == Downgrades::Allow,
    };
    if let Some(floor) = security_floor(installed.floor.as_ref(), c.floor.as_ref()) {
        if c.version < floor {
            return Ok(Action::BelowFloor(format!(
                "{} {} is below the security floor {floor} of this machine; it is never installed again, not even with --allow-downgrade",
                c.name, c.version
            )));
        }
    }
    if !newer {
        return Ok(Action::DowngradeRefused);
    }
    Ok(match choose_route(c, from, &dir, &installed.exec)? {
        Ok(route) => Action::Install(Install {
            dir,
            route,
            installed: installed.clone(),
        }),
        Err(why) => Action::NeedsOther(why),
    })
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
pub(crate) fn check_disjoint(inv: &InventoryFile, product: &Product) -> Result<()> {
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
            Some(s) if s.install().is_some() => Some(s.component.version.clone()),
            _ => product.components.get(name).and_then(|c| c.version.clone()),
        }
    };
    for s in steps.iter().filter(|s| s.install().is_some()) {
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
pub(super) fn order_installs(steps: &[Step]) -> Result<Vec<Planned<'_>>> {
    let mut todo: Vec<Planned> = steps
        .iter()
        .filter_map(|s| Some((s, s.install()?)))
        .collect();
    let mut done: Vec<Planned> = Vec::new();
    while !todo.is_empty() {
        let ready = todo.iter().position(|(s, _)| {
            s.component
                .requires
                .keys()
                .all(|r| !todo.iter().any(|(t, _)| t.component.name == *r))
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
    // The first of each kind of step that decides a verdict, with why.
    let (mut needs, mut restart, mut floor) = (None, None, None);
    for s in steps {
        match &s.action {
            Action::NeedsOther(why) => needs = needs.or(Some(why)),
            Action::RestartPending(why) => restart = restart.or(Some(why)),
            Action::BelowFloor(why) => floor = floor.or(Some(why)),
            _ => {}
        }
    }
    if let Some(why) = needs {
        return (Verdict::Needs, why.clone());
    }
    if !nothing_to_install {
        return (Verdict::Proceed, "the package applies".into());
    }
    if let Some(why) = restart {
        return (Verdict::Restart, why.clone());
    }
    if let Some(why) = floor {
        return (Verdict::Refused(ExitCode::Downgrade), why.clone());
    }
    if let Some(s) = steps
        .iter()
        .find(|s| matches!(s.action, Action::DowngradeRefused))
    {
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
    if steps
        .iter()
        .all(|s| matches!(s.action, Action::NotConfigured))
    {
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
        s.skip(true);
    }
    check_requires(steps, product)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn step(action: Action) -> Step {
        let c = br#"{ "name": "app", "version": "2.0", "tree": "t",
            "full": [{ "path": "a", "size": 5, "sha256": "00", "mode": 420 }] }"#;
        Step {
            component: json::from_slice(c).expect("component"),
            from: Some(Version::parse("1.0").expect("version")),
            action,
        }
    }

    fn install() -> Action {
        let entry = br#"{ "version": "1.0", "path": "app" }"#;
        Action::Install(Install {
            dir: PathBuf::from("/opt/app"),
            route: Route::Full,
            installed: json::from_slice(entry).expect("entry"),
        })
    }

    /// A skipped install still says what it would install (route, bytes) and can be picked
    /// again with its data; a component with no route keeps saying why when skipped.
    #[test]
    fn skipping_keeps_what_a_step_would_do() {
        let mut s = step(install());
        s.skip(true);
        assert!(s.install().is_none());
        let r = s.report(true);
        assert_eq!(
            (r.action.as_str(), r.route.as_deref(), r.bytes),
            ("skipped", Some("full"), 5)
        );
        s.skip(false);
        assert_eq!(
            s.install().map(|i| i.dir.clone()),
            Some(PathBuf::from("/opt/app"))
        );
        assert_eq!(s.report(true).action, "installed");
        assert_eq!(s.report(false).action, "install");

        let mut s = step(Action::NeedsOther("no way there".into()));
        s.skip(true);
        s.skip(false);
        let r = s.report(false);
        assert_eq!((r.action.as_str(), r.route, r.bytes), ("skipped", None, 0));
        assert_eq!(s.action.note(), Some("no way there"));
        let mut s = step(Action::Current);
        s.skip(true);
        assert_eq!(s.action.name(), "current");
    }

    /// The verdict follows the first step of the kind that decides it, with its words.
    #[test]
    fn the_verdict_says_why() {
        let steps = [
            step(Action::BelowFloor("below".into())),
            step(Action::RestartPending("restart".into())),
        ];
        assert_eq!(verdict(&steps, true), (Verdict::Restart, "restart".into()));
        assert_eq!(
            verdict(&steps[..1], true),
            (Verdict::Refused(ExitCode::Downgrade), "below".into())
        );
        let mut steps = steps.to_vec();
        steps.push(step(Action::NeedsOther("needs".into())));
        steps.push(step(install()));
        assert_eq!(verdict(&steps, false), (Verdict::Needs, "needs".into()));
        steps.remove(2);
        assert_eq!(verdict(&steps, false).0, Verdict::Proceed);
    }
}
