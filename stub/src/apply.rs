//! The apply engine (DESIGN §6): from a verified package and the inventory to a plan, staged
//! content, an all-or-nothing commit and a true inventory.
//!
//! Order of work: choose whose keys to trust from the inventory → verify → check targets → plan
//! each component → check `requires` against the state after the update → stage every component
//! beside its live folder (same file system), each file streamed, size-capped, hashed and synced →
//! commit: live → kept previous, staged → live, folders synced → inventory written atomically →
//! old copies beyond `keep_previous` removed. Any failure before the inventory is written undoes
//! every rename done so far and removes staging, so a refused or failed run leaves the machine
//! byte-for-byte as it was. This module never prints; the caller reports.

use crate::digest::TreeLine;
use crate::error::{Error, ExitCode, Result};
use crate::fault;
use crate::fsutil::{self, StagedFile};
use crate::hooks::{self, Hooks};
use crate::inventory::{side_dir, InstalledComponent, InventoryFile, PendingInstall, Product};
use crate::journal::{self, Rename, Transaction};
use crate::keys::{self, KeyChange};
use crate::lock::InventoryLock;
use crate::manifest::{
    Component, Delta, DeltaFile, DeltaOp, FileEntry, CODEC_BSDIFF_LZMA, CODEC_ZSTD_PREFIX,
    CODEC_ZSTD_TREE,
};
use crate::package::{copy_hashed, prefix_decoder, stream_checked, Package, VerifiedPackage};
use crate::relpath::RelPath;
use crate::report::{ComponentReport, Report};
use crate::safedir::{self, Dir};
use crate::scan::{scan_dir, SourceFile};
use crate::treestream;
use crate::version::Version;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Whether an older version may replace a newer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Downgrades {
    #[default]
    Refuse,
    Allow,
}

/// What a run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Apply,
    DryRun,
    Check,
    List,
    Verify,
    Extract(PathBuf),
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::DryRun => "dry-run",
            Mode::Check => "check",
            Mode::List => "list",
            Mode::Verify => "verify",
            Mode::Extract(_) => "extract",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    pub inventory: PathBuf,
    pub downgrades: Downgrades,
    /// Verify with this key instead of the inventory's (`--verify`, `--extract` only).
    pub pubkey: Option<String>,
    /// How long to wait for another update's inventory lock.
    pub wait: std::time::Duration,
    /// Whether a person picks and confirms what an apply installs (`Mode::Apply` only).
    pub interactive: Interactive,
    /// Apply only these components of the package (the others are skipped): `apply --from`
    /// picks per component which package brings it.
    pub only: Option<Vec<String>>,
}

/// Whether an apply asks a person first (see `interactive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interactive {
    /// Express: apply everything that fits, never prompt.
    #[default]
    No,
    /// `-i`: always ask.
    Yes,
    /// A terminal run with no flags: ask when the product's inventory entry says
    /// `"interactive": true`.
    IfProductAsks,
}

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
    pub(crate) fn report(&self, done: bool) -> ComponentReport {
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

/// Runs a package in the given mode, filling `report` as it learns. The returned exit code is the
/// success code of the mode (0, or 1 for `--check` when the machine needs the package).
pub fn run(mut pkg: Package, opts: &Options, report: &mut Report) -> Result<ExitCode> {
    let claimed = pkg.claimed()?;
    report.product = Some(claimed.product.clone());
    report.package_id = Some(claimed.id.clone());

    if let Some(key) = &opts.pubkey {
        let mut vp = pkg.verify(std::slice::from_ref(key), &[], "the given public key")?;
        report.signed_by = Some(vp.key_id.clone());
        return match &opts.mode {
            Mode::Verify => verify_all(&mut vp, report),
            Mode::Extract(dir) => extract(&mut vp, dir, report),
            _ => Err(Error::usage(
                "--pubkey goes with --verify or --extract only",
            )),
        };
    }

    // Changing runs hold the lock from before the inventory is read until it is written; every
    // run first settles an update an earlier run left half done.
    let changes = matches!(opts.mode, Mode::Apply | Mode::DryRun);
    let inventory = absolute(&opts.inventory);
    let lock = if fsutil::exists(&inventory)
        && (changes || fsutil::exists(&journal::journal_path(&inventory)))
    {
        let lock = InventoryLock::acquire(&inventory, opts.wait)?;
        fault::step("locked");
        if let Some(r) = journal::recover(&inventory)? {
            report.recovered = Some(r.message());
        }
        Some(lock)
    } else {
        None
    };
    let mut inv = InventoryFile::load(&inventory)?;
    if lock.is_some() && opts.mode == Mode::Apply {
        if let Some(done) = settle_pending(&inv)? {
            report.recovered = Some(match report.recovered.take() {
                Some(r) => format!("{r}; {done}"),
                None => done,
            });
            inv = InventoryFile::load(&inventory)?;
        }
    }
    let Some(product) = inv.product(&claimed.product).cloned() else {
        return Err(Error::not_applicable(format!(
            "product {} is not installed on this machine (inventory {})",
            claimed.product,
            opts.inventory.display()
        ))
        .hint("this package is for another product; check that you picked the right file"));
    };
    let whose = format!("this machine's inventory ({})", opts.inventory.display());
    // Key transitions the package carries extend what this machine trusts, link by link, each
    // vouched for by a key it already trusts; they are recorded only once the update commits.
    let statements = pkg.key_transitions()?;
    let keys = keys::follow(
        &claimed.product,
        &statements,
        &product.trusted_keys,
        &product.revoked_keys,
    )?;
    let mut vp = pkg.verify(&keys.trusted, &keys.revoked, &whose)?;
    report.signed_by = Some(vp.key_id.clone());

    match &opts.mode {
        Mode::Verify => return verify_all(&mut vp, report),
        Mode::Extract(dir) => return extract(&mut vp, dir, report),
        _ => {}
    }

    check_targets(&vp, &inv, &product)?;
    if changes {
        // The file must be exactly what was signed, head included (a cheap check, ~1 ms).
        vp.verify_stub()?;
    }
    let mut steps = plan(&vp, &inv, &product, opts.downgrades)?;
    if let Some(only) = &opts.only {
        for s in steps
            .iter_mut()
            .filter(|s| !only.contains(&s.component.name))
        {
            if matches!(s.action, Action::Install | Action::NeedsOther) {
                s.action = Action::Skipped;
            }
        }
        check_requires(&steps, &product)?;
    }
    report.components = steps.iter().map(|s| s.report(false)).collect();
    let verdict = verdict(&steps, !steps.iter().any(|s| s.action == Action::Install));
    let asks = match opts.interactive {
        Interactive::No => false,
        Interactive::Yes => true,
        Interactive::IfProductAsks => product.interactive,
    };
    if asks && opts.mode == Mode::Apply && verdict.0 == Verdict::Proceed {
        // Interactive mode is the client tool's (a package head's size is tracked).
        #[cfg(not(feature = "client"))]
        return Err(Error::usage(format!(
            "{} asks a person to pick what to install, and a package head has no interactive mode",
            if opts.interactive == Interactive::Yes { "-i" } else { "this product's inventory (\"interactive\": true)" }
        ))
        .hint("apply it with the installed client tool: iupack-stub apply -i PKG; or run the package with -q to install everything that fits"));
        #[cfg(feature = "client")]
        {
            let choice = crate::interactive::choose(
                &mut steps,
                &product,
                &vp.manifest,
                &vp.key_id,
                &mut std::io::stdin().lock(),
                &mut std::io::stdout(),
            );
            report.components = steps.iter().map(|s| s.report(false)).collect();
            if choice == crate::interactive::Choice::Cancel {
                report.result = "cancelled".into();
                report.message = "cancelled at the prompt: nothing was installed or changed".into();
                return Ok(ExitCode::Success);
            }
        }
    }
    let installs: Vec<&Step> = order_installs(&steps)?;
    let floors = raised_floors(&vp, &product);

    match &opts.mode {
        Mode::List => {
            report.result = "listed".into();
            report.message = if verdict.0 == Verdict::Proceed {
                format!("would install {}", describe(&installs))
            } else {
                verdict.1.clone()
            };
            return Ok(ExitCode::Success);
        }
        Mode::Check => {
            return match verdict.0 {
                Verdict::Proceed | Verdict::Needs | Verdict::Restart => {
                    report.result = "needed".into();
                    report.message = "this machine needs the package".into();
                    Ok(ExitCode::Error)
                }
                Verdict::Current => {
                    report.result = "current".into();
                    report.message = verdict.1;
                    Ok(ExitCode::Success)
                }
                Verdict::Refused(ExitCode::NotApplicable) => Err(Error::not_applicable(verdict.1)),
                Verdict::Refused(_) => {
                    report.result = "current".into();
                    report.message = verdict.1;
                    Ok(ExitCode::Success)
                }
            };
        }
        _ => {}
    }
    match verdict.0 {
        Verdict::Proceed => {}
        Verdict::Restart => {
            report.result = "restart-needed".into();
            report.restart_needed = true;
            report.message = verdict.1;
            return Ok(ExitCode::RestartNeeded);
        }
        Verdict::Current if (keys.changed() || !floors.is_empty()) && opts.mode == Mode::Apply => {
            // Nothing to install, but new keys or a higher security floor to record: only once
            // all content verified. A floor, once signed and seen, holds.
            vp.verify_content()?;
            let mut txn = Transaction::new(&inv.path, format!("record {}", vp.manifest.package.id));
            commit(&mut txn, &inv, &product, &vp, &[], &[], &keys)?;
            report.warnings.append(&mut txn.warnings);
            report.result = "current".into();
            report.message = verdict.1;
            if keys.changed() {
                report.message = format!("{}; {}", report.message, describe_keys(&keys));
            }
            if !floors.is_empty() {
                report.message = format!(
                    "{}; recorded the security floor {}",
                    report.message,
                    floors.join(", ")
                );
            }
            return Ok(ExitCode::Success);
        }
        Verdict::Current => {
            report.result = "current".into();
            report.message = verdict.1;
            return Ok(ExitCode::Success);
        }
        Verdict::Needs => return Err(Error::new(ExitCode::NeedsOther, verdict.1)),
        Verdict::Refused(code) => return Err(Error::new(code, verdict.1)),
    }

    let hooks = Hooks::of(product.hooks.as_ref(), &product.id)?;
    let mut txn = Transaction::new(
        &inv.path,
        format!("{} {}", opts.mode.name(), vp.manifest.package.id),
    );
    let mut stages = Vec::new();
    for step in &installs {
        let dir = step.dir.as_deref().expect("installs are configured");
        check_is_dir(dir)?;
        let name = &step.component.name;
        check_parent(
            dir,
            name,
            product
                .components
                .get(name)
                .expect("installs are configured"),
            &mut txn.dirs,
            &mut report.warnings,
        )?;
        stages.push(stage_path(dir));
    }
    txn.stage(&stages)?;
    let mut execs = Vec::new();
    for (step, dir) in installs.iter().zip(&stages) {
        execs.push(stage(&mut vp, step, txn.dirs.get(dir, false)?)?);
        fault::step("component staged");
        report.bytes += step.report(false).bytes;
    }
    for (step, dir) in installs.iter().zip(&stages) {
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
            (
                "live",
                step.dir.as_ref().expect("configured").display().to_string(),
            ),
        ];
        hooks::validate(&hooks, &vars, &c.name)?;
    }
    if opts.mode == Mode::DryRun {
        txn.abort()?;
        report.result = "dry-run".into();
        report.message = format!(
            "dry run: {} staged and verified, then discarded; nothing was changed",
            names(&installs)
        );
        return Ok(ExitCode::Success);
    }

    let deferred = commit(&mut txn, &inv, &product, &vp, &installs, &execs, &keys)?;
    report.warnings.append(&mut txn.warnings);
    drop(lock);
    report.components = steps
        .iter()
        .map(|s| {
            let mut r = s.report(s.action == Action::Install);
            if deferred.contains(&s.component.name) {
                r.action = "restart-pending".into();
            }
            r
        })
        .collect();
    report.result = "applied".into();
    let now: Vec<&Step> = installs
        .iter()
        .filter(|s| !deferred.contains(&s.component.name))
        .copied()
        .collect();
    let later: Vec<&Step> = installs
        .iter()
        .filter(|s| deferred.contains(&s.component.name))
        .copied()
        .collect();
    report.message = if later.is_empty() {
        format!("installed {}", describe(&installs))
    } else {
        report.restart_needed = true;
        format!(
            "{}{} staged: files in use are replaced at the next restart",
            if now.is_empty() {
                String::new()
            } else {
                format!("installed {}; ", describe(&now))
            },
            describe(&later)
        )
    };
    if keys.changed() {
        report.message = format!("{}; {}", report.message, describe_keys(&keys));
    }
    run_after_hook(&hooks, &product.id, &names(&installs), report);
    Ok(if report.restart_needed {
        ExitCode::RestartNeeded
    } else {
        ExitCode::Success
    })
}

/// The `after` hook, once the update is committed. Its failure can't undo anything: it is a
/// warning in the result, not an error.
pub(crate) fn run_after_hook(hooks: &Hooks, product: &str, components: &str, report: &mut Report) {
    let Some(argv) = &hooks.after else {
        return;
    };
    let vars = [
        ("product", product.to_string()),
        ("components", components.replace(", ", " ")),
    ];
    if let Err(why) = hooks::run(argv, &vars, hooks.timeout()) {
        report
            .warnings
            .push(format!("the after hook failed: {why}"));
    }
}

/// The inventory's real path: absolute (against the working folder), so the journal's paths
/// mean the same to a later run started elsewhere, and with symlinks resolved, so that a
/// symlinked inventory is locked, journaled and written through as the file it points to (a
/// config-managed file stays the one that is changed, and two names never mean two locks).
pub fn absolute(path: &Path) -> PathBuf {
    fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

fn describe_keys(keys: &KeyChange) -> String {
    let mut parts = Vec::new();
    if !keys.added.is_empty() {
        parts.push(format!("now trusts key {}", keys.added.join(", ")));
    }
    if !keys.newly_revoked.is_empty() {
        parts.push(format!("revoked key {}", keys.newly_revoked.join(", ")));
    }
    format!("{} (signed key transitions)", parts.join(" and "))
}

fn names(steps: &[&Step]) -> String {
    steps
        .iter()
        .map(|s| s.component.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(steps: &[&Step]) -> String {
    steps
        .iter()
        .map(|s| format!("{} {}", s.component.name, s.component.version))
        .collect::<Vec<_>>()
        .join(", ")
}

fn verify_all(vp: &mut VerifiedPackage, report: &mut Report) -> Result<ExitCode> {
    let bytes = vp.verify_content()?;
    report.result = "verified".into();
    report.message = format!(
        "signature by key {} and all {bytes} bytes of content verified",
        vp.key_id
    );
    Ok(ExitCode::Success)
}

fn extract(vp: &mut VerifiedPackage, dir: &Path, report: &mut Report) -> Result<ExitCode> {
    let created = match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::usage(format!(
                    "{} is not empty; --extract writes only into a new or empty folder",
                    dir.display()
                )));
            }
            false
        }
        Err(_) => {
            fs::create_dir_all(dir)
                .map_err(|e| Error::apply_io(format!("cannot create {}", dir.display()), &e))?;
            true
        }
    };
    let result = (|| {
        let mut bytes = 0;
        for c in vp.manifest.components.clone() {
            if c.full.is_some() {
                let root = dir.join(&c.name);
                let root = fs::create_dir(&root)
                    .and_then(|()| safedir::open(&root))
                    .map_err(|e| {
                        Error::apply_io(format!("cannot create {}", root.display()), &e)
                    })?;
                write_tree(vp, &c, &root)?;
                bytes += c.full_size();
            }
        }
        Ok(bytes)
    })();
    match result {
        Ok(bytes) => {
            report.bytes = bytes;
            report.result = "extracted".into();
            report.message = format!("verified full content written to {}", dir.display());
            Ok(ExitCode::Success)
        }
        Err(e) => {
            if created {
                fsutil::remove_quietly(dir);
            } else if let Ok(entries) = fs::read_dir(dir) {
                entries
                    .flatten()
                    .for_each(|e| fsutil::remove_quietly(&e.path()));
            }
            Err(e)
        }
    }
}

/// Platform, language and product version must be inside the package's targets.
fn check_targets(vp: &VerifiedPackage, inv: &InventoryFile, product: &Product) -> Result<()> {
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
fn raised_floors(vp: &VerifiedPackage, product: &Product) -> Vec<String> {
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
pub(crate) fn security_floor(
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

/// The installed tree, hashed; `None` when it is missing or holds anything but regular files.
/// The installed tree, hashed; `None` when it is missing or holds anything but regular files.
/// Where files carry no exec bit (Windows), `exec` (recorded when iupack wrote the tree) says
/// which are executable.
pub(crate) fn installed_tree(dir: &Path, exec: &[String]) -> Option<Vec<SourceFile>> {
    fs::symlink_metadata(dir).ok().filter(|m| m.is_dir())?;
    let mut files = scan_dir(dir).ok()?;
    if !cfg!(unix) {
        for f in &mut files {
            if exec.iter().any(|e| e == f.path.as_str()) {
                f.mode = crate::manifest::MODE_EXEC;
            }
        }
    }
    Some(files)
}

/// The tree digest of an installed component's folder, as a manifest would name it; `None`
/// when the folder is missing or unreadable.
pub fn installed_digest(dir: &Path, exec: &[String]) -> Option<String> {
    installed_tree(dir, exec).map(|files| tree_of(&files))
}

pub(crate) fn tree_of(files: &[SourceFile]) -> String {
    crate::digest::tree_digest(files.iter().map(|f| TreeLine {
        path: f.path.as_str(),
        mode: f.mode,
        size: f.size,
        sha256: &f.sha256,
    }))
}

pub(crate) fn component_dir(
    inv: &InventoryFile,
    name: &str,
    c: &InstalledComponent,
) -> Result<PathBuf> {
    let dir = inv.resolve(&c.path);
    let plain = !c.path.is_empty()
        && Path::new(&c.path).components().all(|p| {
            !matches!(
                p,
                std::path::Component::ParentDir | std::path::Component::CurDir
            )
        })
        && dir.file_name().is_some();
    if !plain {
        return Err(Error::other(format!(
            "the inventory's path `{}` for component {name} is not a plain folder path",
            c.path
        ))
        .hint("give each component its own folder, such as \"engine\" or \"/opt/acme/engine\""));
    }
    Ok(dir)
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
pub(crate) fn check_requires(steps: &[Step], product: &Product) -> Result<()> {
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
fn order_installs(steps: &[Step]) -> Result<Vec<&Step>> {
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
enum Verdict {
    Proceed,
    /// Nothing to do until the machine restarts (exit 3010).
    Restart,
    Current,
    Needs,
    Refused(ExitCode),
}

fn verdict(steps: &[Step], nothing_to_install: bool) -> (Verdict, String) {
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

/// Where a component's new tree is staged: beside its live folder (same file system, so the swap
/// is a rename), in its `.NAME.iupack` folder.
fn stage_path(dir: &Path) -> PathBuf {
    side_dir(dir).join(format!("stage-{}", std::process::id()))
}

/// Writes a component's new tree into its (created, empty) staging folder, then proves that
/// what is there is exactly the signed tree: the files written hash to the signed tree digest,
/// and the folder holds those files, with their sizes and modes, and nothing else. Returns the
/// executable files (what a Windows inventory records).
fn stage(vp: &mut VerifiedPackage, step: &Step, stage: &Dir) -> Result<Vec<String>> {
    let c = &step.component;
    let written = match step.route.as_ref().expect("installs have a route") {
        Route::Full => write_tree(vp, c, stage)?,
        Route::Delta { index, base } if c.deltas[*index].codec == CODEC_ZSTD_TREE => {
            write_tree_delta(vp, c, &c.deltas[*index], base, stage)?
        }
        Route::Delta { index, base } => write_delta(vp, c, &c.deltas[*index], base, stage)?,
    };
    let mut on_disk = stage
        .files()
        .map_err(|e| Error::apply_io(format!("cannot read {}", stage.path.display()), &e))?;
    on_disk.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut want: Vec<(String, u64, u32)> = written
        .iter()
        .map(|f| (f.path.to_string(), f.size, f.mode))
        .collect();
    want.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if crate::manifest::files_tree(&written) != c.tree || (cfg!(unix) && on_disk != want) {
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

/// Where one file of a new tree comes from.
enum Source<'a> {
    /// A ZIP entry holding the bytes whole.
    Entry(String),
    /// A ZIP entry holding a patch against a file of the installed tree.
    Patch {
        name: String,
        old: &'a SourceFile,
        patch_size: u64,
        bsdiff: bool,
    },
    /// A file of the installed tree, kept as it is.
    Kept(&'a SourceFile),
}

/// Stages a component's new tree from its installed tree and a delta.
fn write_delta(
    vp: &mut VerifiedPackage,
    c: &Component,
    d: &Delta,
    base: &[SourceFile],
    root: &Dir,
) -> Result<Vec<FileEntry>> {
    let mut ops: Vec<&DeltaFile> = d.files.iter().collect();
    ops.sort_unstable_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
    let mut files: Vec<(FileEntry, Source<'_>)> = Vec::new();
    for b in base {
        match crate::sorted::find(&ops, b.path.as_str(), |f| f.path.as_str()) {
            None => files.push((b.entry(), Source::Kept(b))),
            Some(f) if f.op == DeltaOp::Patch => {
                let e = f.new_entry().expect("validated");
                let name = c.delta_entry_name(&d.from, &f.path);
                let patch_size = f.patch_size.expect("validated");
                files.push((
                    e,
                    Source::Patch {
                        name,
                        old: b,
                        patch_size,
                        bsdiff: f.codec.as_deref() == Some(CODEC_BSDIFF_LZMA),
                    },
                ));
            }
            Some(_) => {}
        }
    }
    for f in d.files.iter().filter(|f| f.op == DeltaOp::Add) {
        let name = c.delta_entry_name(&d.from, &f.path);
        files.push((f.new_entry().expect("validated"), Source::Entry(name)));
    }
    write_files(vp, root, files)
}

/// Stages a component's new tree from its installed tree and a whole-tree patch: the patch is
/// read whole and its signed hash checked before it is decoded; the stream's listing is validated
/// before any file is written; the written tree must hash to the signed `tree`.
fn write_tree_delta(
    vp: &mut VerifiedPackage,
    c: &Component,
    d: &Delta,
    base: &[SourceFile],
    root: &Dir,
) -> Result<Vec<FileEntry>> {
    let (Some(patch_size), Some(patch_sha), Some(stream_size)) =
        (d.patch_size, d.patch_sha256.as_deref(), d.stream_size)
    else {
        return Err(Error::damaged("a zstd-tree delta lacks its patch fields"));
    };
    let name = c.tree_delta_entry_name(&d.from);
    let patch = vp.read_entry_checked(&name, patch_size, treestream::MAX_TREE_BYTES, patch_sha)?;
    let old = treestream::serialise(base)
        .map_err(|e| Error::apply_io("cannot read the installed files", &e))?;
    let dec = prefix_decoder(&patch[..], &old, stream_size)?;
    let mut stream = std::io::BufReader::new(dec.take(stream_size + 1));
    let listed = treestream::read_listing(&mut stream, stream_size)?;
    let mut dirs = Folders::default();
    let mut written = Vec::with_capacity(listed.len());
    let mut targets = Vec::with_capacity(listed.len());
    for f in &listed {
        let mut out = new_file_in(root, &f.path, &mut dirs)?;
        // Read errors mean a bad patch; write errors (a full disk) are the machine's.
        let (n, sha256) = copy_hashed(
            &mut (&mut stream).take(f.size),
            f.size,
            &mut out,
            &format!("the whole-tree patch of {} does not decode", c.name),
            &shown(root, &f.path),
        )?;
        if n != f.size {
            return Err(Error::damaged(format!(
                "the tree stream of {} ends early",
                c.name
            )));
        }
        finish_file(&mut out, root, &f.path, f.mode)?;
        targets.push(f.path.clone());
        written.push(FileEntry {
            path: f.path.clone(),
            size: f.size,
            sha256,
            mode: f.mode,
        });
    }
    let mut rest = [0u8; 1];
    if stream
        .read(&mut rest)
        .map_err(|e| Error::damaged(e.to_string()))?
        != 0
    {
        return Err(Error::damaged(format!(
            "the tree stream of {} is longer than declared",
            c.name
        )));
    }
    if crate::manifest::files_tree(&written) != c.tree {
        return Err(Error::damaged(format!(
            "the whole-tree patch of {} {} did not rebuild the signed tree",
            c.name, c.version
        )));
    }
    sync_tree(root, &targets, &dirs)?;
    Ok(written)
}

/// The folders made below a staging root, parents before children.
#[derive(Debug, Default)]
struct Folders {
    made: Vec<String>,
    /// The folder of the file before: it and its parents exist.
    last: String,
}

impl Folders {
    /// Makes the folders `path` needs below `root` that are not there yet.
    fn make_for(&mut self, root: &Dir, path: &RelPath) -> Result<()> {
        let mut parent = "";
        for d in path.parents() {
            parent = d;
            let known = self.last.starts_with(d)
                && matches!(self.last.as_bytes().get(d.len()), None | Some(b'/'));
            if known {
                continue;
            }
            match root.mkdir(d, 0o755) {
                Ok(()) => self.made.push(d.to_string()),
                // Made for an earlier file: the root is new, only this run writes in it, and
                // the tree's paths are checked.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::apply_io(
                        format!("cannot create {}", root.path.join(d).display()),
                        &e,
                    ))
                }
            }
        }
        self.last.clear();
        self.last.push_str(parent);
        Ok(())
    }
}

/// A file below a staging root, for messages.
fn shown(root: &Dir, path: &RelPath) -> String {
    path.under(&root.path).display().to_string()
}

/// Creates the folders `path` needs below `root`, then the file itself, new (never through a
/// symlink).
fn new_file_in(root: &Dir, path: &RelPath, dirs: &mut Folders) -> Result<StagedFile> {
    dirs.make_for(root, path)?;
    let out = root
        .create(path.as_str())
        .map_err(|e| Error::apply_io(format!("cannot create {}", shown(root, path)), &e))?;
    Ok(StagedFile::new(out))
}

/// Flushes a written file, starts its write-out, gives it its mode (on the open file);
/// `sync_tree` syncs it later.
fn finish_file(out: &mut StagedFile, root: &Dir, path: &RelPath, mode: u32) -> Result<()> {
    out.finish()
        .and_then(|()| out.set_mode(mode))
        .map_err(|e| Error::apply_io(format!("cannot write {}", shown(root, path)), &e))
}

/// Syncs every written file, then every folder made below `root` (deepest first), then `root`.
/// Files are synced after all are written, not one by one as they are written: the first sync
/// commits the file system's journal with the data of all of them, so the rest cost little.
fn sync_tree(root: &Dir, files: &[RelPath], dirs: &Folders) -> Result<()> {
    for f in files {
        root.open_file(f.as_str())
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::apply_io(format!("cannot sync {}", shown(root, f)), &e))?;
    }
    for d in dirs.made.iter().rev() {
        root.sub(d)
            .and_then(|d| d.sync())
            .map_err(|e| Error::apply_io("cannot sync a folder", &e))?;
    }
    root.sync()
        .map_err(|e| Error::apply_io("cannot sync a folder", &e))
}

/// Writes a component's verified full content under `root` (an existing, empty folder).
fn write_tree(vp: &mut VerifiedPackage, c: &Component, root: &Dir) -> Result<Vec<FileEntry>> {
    if c.full_archive.is_some() {
        return write_archive_tree(vp, c, root);
    }
    let files = c
        .full
        .iter()
        .flatten()
        .map(|f| (f.clone(), Source::Entry(c.full_entry_name(&f.path))))
        .collect();
    write_files(vp, root, files)
}

/// Writes a component's solid full content (one compressed tar stream) under `root`: each file
/// created new, streamed with its size and hash checked, given its mode; then all synced.
fn write_archive_tree(
    vp: &mut VerifiedPackage,
    c: &Component,
    root: &Dir,
) -> Result<Vec<FileEntry>> {
    let mut dirs = Folders::default();
    let mut targets = Vec::new();
    vp.read_full_archive(c, |f, r| {
        let mut out = new_file_in(root, &f.path, &mut dirs)?;
        stream_checked(r, &format!("the full content of {}", c.name), f, &mut out)?;
        finish_file(&mut out, root, &f.path, f.mode)?;
        targets.push(f.path.clone());
        Ok(())
    })?;
    sync_tree(root, &targets, &dirs)?;
    Ok(c.full.clone().unwrap_or_default())
}

/// Writes each file under `root` from its source: created new, streamed with its size and hash
/// checked, synced, given its mode; then every folder synced.
fn write_files(
    vp: &mut VerifiedPackage,
    root: &Dir,
    files: Vec<(FileEntry, Source<'_>)>,
) -> Result<Vec<FileEntry>> {
    let mut dirs = Folders::default();
    let mut targets = Vec::with_capacity(files.len());
    for (f, source) in &files {
        let mut out = new_file_in(root, &f.path, &mut dirs)?;
        match source {
            Source::Entry(name) => vp.copy_entry(name, f, &mut out)?,
            Source::Patch {
                name,
                old,
                patch_size,
                bsdiff,
            } => {
                let bytes = read_installed(old)?;
                if *bsdiff {
                    vp.bsdiff_entry(name, &bytes, *patch_size, f, &mut out)?;
                } else {
                    vp.patch_entry(name, &bytes, *patch_size, f, &mut out)?;
                }
            }
            Source::Kept(old) => {
                let mut src = fsutil::open_regular(&old.disk).map_err(|e| {
                    Error::apply_io(format!("cannot read {}", old.disk.display()), &e)
                })?;
                stream_checked(&mut src, &old.disk.display().to_string(), f, &mut out)
                    .map_err(changed_meanwhile)?;
            }
        }
        finish_file(&mut out, root, &f.path, f.mode)?;
        targets.push(f.path.clone());
    }
    sync_tree(root, &targets, &dirs)?;
    Ok(files.into_iter().map(|(f, _)| f).collect())
}

/// The executable files of a tree (what a Windows inventory records: NTFS has no exec bit).
fn exec_paths<'a>(files: impl Iterator<Item = &'a FileEntry>) -> Vec<String> {
    files
        .filter(|f| f.mode == crate::manifest::MODE_EXEC)
        .map(|f| f.path.to_string())
        .collect()
}

/// An installed file a patch applies to, read whole and checked again: it may have changed since
/// the tree was proven.
fn read_installed(old: &SourceFile) -> Result<Vec<u8>> {
    // Sized from our own scan of the file: read into one allocation, not a doubling one.
    let mut bytes = Vec::with_capacity(old.size as usize);
    let mut src = fsutil::open_regular(&old.disk)
        .map_err(|e| Error::apply_io(format!("cannot read {}", old.disk.display()), &e))?;
    stream_checked(
        &mut src,
        &old.disk.display().to_string(),
        &old.entry(),
        &mut bytes,
    )
    .map_err(changed_meanwhile)?;
    Ok(bytes)
}

fn changed_meanwhile(e: Error) -> Error {
    if e.code == ExitCode::Damaged {
        Error::new(
            ExitCode::ApplyFailed,
            format!("an installed file changed during the update: {}", e.message),
        )
        .hint("stop whatever is writing to the product's folders, then run the package again")
    } else {
        e
    }
}

/// A name in `side` for the copy of `version` being replaced, unused so far.
fn previous_name(side: &Path, version: Option<&Version>, dirs: &mut safedir::Dirs) -> String {
    let base = format!(
        "previous-{}",
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
fn commit(
    txn: &mut Transaction,
    inv: &InventoryFile,
    product: &Product,
    vp: &VerifiedPackage,
    installs: &[&Step],
    execs: &[Vec<String>],
    keys: &KeyChange,
) -> Result<Vec<String>> {
    let now = crate::time::rfc3339(crate::time::unix_now());
    let mut base = product.clone();
    base.trusted_keys = keys.trusted.clone();
    base.revoked_keys = keys.revoked.clone();
    let (mut renames, mut sides) = (Vec::new(), Vec::new());
    let mut kept_as = crate::sorted::SortedMap::new();
    for step in installs {
        let c = &step.component;
        let dir = step.dir.clone().expect("installs are configured");
        let side = side_dir(&dir);
        let entry = base
            .components
            .get_mut(&c.name)
            .expect("installs are configured");
        let group = Some(c.name.clone());
        if fsutil::exists(&dir) {
            if entry.tree.is_none() {
                // Installed before iupack recorded digests (a hand-written inventory): record
                // what is kept, so that a rollback can prove it later.
                entry.tree = installed_tree(&dir, &entry.exec).map(|t| tree_of(&t));
            }
            let name = previous_name(&side, entry.version.as_ref(), &mut txn.dirs);
            renames.push(Rename {
                from: dir.clone(),
                to: side.join(&name),
                group: group.clone(),
            });
            kept_as.insert(c.name.clone(), name);
        }
        renames.push(Rename {
            from: stage_path(&dir),
            to: dir.clone(),
            group,
        });
        sides.push(side);
        txn.expect_tree(&product.id, &c.name, &c.tree);
    }
    let keep = base.keep_previous as usize;
    let plan = |deferred: &[String]| -> (Vec<u8>, Vec<PathBuf>) {
        let mut p = base.clone();
        let mut remove_after = Vec::new();
        for (step, exec) in installs.iter().zip(execs) {
            let c = &step.component;
            let dir = step.dir.clone().expect("installs are configured");
            let entry = p.components.get_mut(&c.name).expect("configured");
            // Only where the file system can't say it: NTFS has no exec bit.
            let exec = if cfg!(unix) { Vec::new() } else { exec.clone() };
            let requires = c
                .requires
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            let install = PendingInstall {
                version: c.version.clone(),
                tree: c.tree.clone(),
                package: vp.manifest.package.id.clone(),
                installed: now.clone(),
                requires,
                kept_as: kept_as.get(&c.name).cloned(),
                stage: stage_path(&dir),
                exec,
                extra: Default::default(),
            };
            if deferred.contains(&c.name) {
                // Files in use (Windows): the swap happens at the next restart; until then the
                // installed version is still the old one.
                entry.pending = Some(install);
            } else {
                remove_after.extend(entry.make_live(install, keep, &side_dir(&dir)));
            }
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
    txn.commit(renames, &plan, sides)
}

/// Finishes installs that waited for a restart (Windows, files in use): when the restart has
/// swapped the staged tree in (the staging folder is gone and the live tree is the pending one),
/// the inventory records it. Call with the lock held. Returns a message when it did anything.
pub(crate) fn settle_pending(inv: &InventoryFile) -> Result<Option<String>> {
    let mut next = inv.clone();
    let mut done = Vec::new();
    let mut remove_after = Vec::new();
    for p in &mut next.inventory.products {
        let keep = p.keep_previous as usize;
        for (name, c) in p.components.iter_mut() {
            let Some(pending) = c.pending.clone() else {
                continue;
            };
            let dir = inv.resolve(&c.path);
            if fsutil::exists(&pending.stage)
                || installed_tree(&dir, &pending.exec)
                    .map(|t| tree_of(&t))
                    .as_deref()
                    != Some(pending.tree.as_str())
            {
                continue;
            }
            done.push(format!("{name} {}", pending.version));
            remove_after.extend(c.make_live(pending, keep, &side_dir(&dir)));
        }
    }
    if done.is_empty() {
        return Ok(None);
    }
    let bytes = next.to_bytes();
    let mut txn = Transaction::new(&inv.path, "finish after restart".into());
    txn.commit(
        Vec::new(),
        &|_| (bytes.clone(), remove_after.clone()),
        Vec::new(),
    )?;
    Ok(Some(format!(
        "finished after the restart: {} installed",
        done.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each folder a tree needs is made once, in any file order, and listed parents first (so
    /// `sync_tree` syncs children before their parents); prefixes that are not folders of the
    /// file before ("a/b" after "a/b2") are not taken for made ones.
    #[test]
    fn folders_are_made_once_parents_first() {
        let root = std::env::temp_dir().join(format!("iupack-folders-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir(&root).expect("root");
        let dir = safedir::open(&root).expect("open");
        let mut dirs = Folders::default();
        let paths = [
            "a/b2/i", "a/b/c", "a/x", "d", "a/b/e", "f/g/h", "a/b2/j", "f/k",
        ];
        for p in paths {
            let p = RelPath::parse(p).expect("valid");
            let mut out = new_file_in(&dir, &p, &mut dirs).expect("created");
            finish_file(&mut out, &dir, &p, crate::manifest::MODE_FILE).expect("finished");
        }
        let made: Vec<&str> = dirs.made.iter().map(String::as_str).collect();
        assert_eq!(made, ["a", "a/b2", "a/b", "f", "f/g"]);
        for p in paths {
            assert!(root.join(p).is_file(), "{p}");
        }
        sync_tree(&dir, &[], &dirs).expect("synced");
        // A path under a file is refused, not taken for a made folder.
        let under_file = RelPath::parse("d/e").expect("valid");
        assert!(new_file_in(&dir, &under_file, &mut dirs).is_err());
        fs::remove_dir_all(&root).expect("clean up");
    }
}
