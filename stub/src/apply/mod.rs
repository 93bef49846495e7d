//! One package run (docs/design.md §6): from a package file and the inventory to a plan, staged
//! content, an all-or-nothing commit and a true inventory, as a short list of phases, each in its
//! own module:
//!
//! 1. open the machine (`machine::session`: lock, recover, settle) and choose whose keys to trust;
//! 2. verify the signature, the head, and the package's targets;
//! 3. `plan`: what happens to each component, by which route, and the verdict;
//! 4. `prompt`: in interactive mode a person picks (the caller answers; the library never
//!    reads a terminal or prints);
//! 5. `stage`: every new tree written beside its live folder and proven (`tree` writes them);
//! 6. `commit`: live → kept previous, staged → live, inventory written, through the journal;
//! 7. `outcome`: the result in words, in the `report`.
//!
//! `--verify` and `--extract` stop after 2 (`extract`). Any failure before the inventory is
//! written undoes every rename done so far and removes staging, so a refused or failed run leaves
//! the machine byte-for-byte as it was.

#[cfg(feature = "install")]
pub mod client_tool;
mod commit;
mod extract;
mod outcome;
pub mod plan;
pub mod prompt;
pub mod report;
pub(crate) mod stage;
mod tree;

use crate::error::{Error, ExitCode, Result};
use crate::format::keys::{self, KeyChange};
use crate::format::package::{Package, VerifiedPackage};
use crate::machine::hooks::{self, Hooks};
use crate::machine::inventory::{InventoryFile, Product};
use crate::machine::session::{self, Access};
use crate::machine::transaction::Transaction;
use crate::platform::fsutil;
use plan::{Planned, Verdict};
use prompt::Prompt;
use report::Report;
use std::path::PathBuf;

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
    /// `--install-client [DIR]`: the client tool the package carries, installed.
    InstallClient(Option<PathBuf>),
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
            Mode::InstallClient(_) => "install-client",
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
    /// After replacing the client tool (`client_tool`), stop with result `client-updated` so
    /// that the new client tool runs the rest (the client tool re-runs itself); package heads
    /// go on, being the package's own code.
    pub stop_after_client: bool,
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

impl Interactive {
    /// Whether the run asks, for a product whose inventory entry says `interactive` or not.
    pub fn asks(self, product_asks: bool) -> bool {
        match self {
            Interactive::No => false,
            Interactive::Yes => true,
            Interactive::IfProductAsks => product_asks,
        }
    }
}

/// Runs a package in the given mode, filling `report` as it learns. The returned exit code is the
/// success code of the mode (0, or 1 for `--check` when the machine needs the package). `prompt`
/// answers for the person in interactive mode.
pub fn run(
    mut pkg: Package,
    opts: &Options,
    prompt: &mut dyn Prompt,
    report: &mut Report,
) -> Result<ExitCode> {
    if let Mode::InstallClient(_dir) = &opts.mode {
        #[cfg(feature = "install")]
        return client_tool::install_client(pkg, opts, _dir.as_deref(), report);
        #[cfg(not(feature = "install"))]
        return Err(Error::not_applicable(
            "this package carries no client tool to install",
        )
        .hint("use a package built with iupack build --with-client (iupack publish's self-extracting full packages carry it)"));
    }
    let claimed = pkg.claimed()?;
    report.product = Some(claimed.product.clone());
    report.package_id = Some(claimed.id.clone());
    if let Some(key) = &opts.pubkey {
        let mut vp = pkg.verify(std::slice::from_ref(key), &[], "the given public key")?;
        report.signed_by = Some(vp.key_id.clone());
        return match &opts.mode {
            Mode::Verify => extract::verify_all(&mut vp, report),
            Mode::Extract(dir) => extract::extract(&mut vp, dir, report),
            _ => Err(Error::usage(
                "--pubkey goes with --verify or --extract only",
            )),
        };
    }

    // 1. Changing runs hold the lock from before the inventory is read until it is written, and
    // first settle an update an earlier run left half done (reading runs leave it and say so).
    let access = match opts.mode {
        Mode::Apply => Access::Change,
        Mode::DryRun => Access::Stage,
        _ => Access::Read,
    };
    let mut session = session::open(&fsutil::absolute(&opts.inventory), opts.wait, access)?;
    report.recovered = session.recovered.take();
    let inv = &session.inv;
    let Some(product) = inv.product(&claimed.product).cloned() else {
        return Err(Error::not_applicable(format!(
            "product {} is not installed on this machine (inventory {})",
            claimed.product,
            opts.inventory.display()
        ))
        .hint("this package is for another product; check that you picked the right file"));
    };

    // 2. Key transitions the package carries extend what this machine trusts, link by link, each
    // vouched for by a key it already trusts; they are recorded only once the update commits.
    let whose = format!("this machine's inventory ({})", opts.inventory.display());
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
        Mode::Verify => return extract::verify_all(&mut vp, report),
        Mode::Extract(dir) => return extract::extract(&mut vp, dir, report),
        _ => {}
    }
    plan::check_targets(&vp, inv, &product)?;
    if access != Access::Read {
        // The file must be exactly what was signed, head included (a cheap check, ~1 ms).
        vp.verify_stub()?;
    }

    // The client tool first: it is the updater. A newer one the package carries for the product
    // the inventory binds it to replaces it before anything else, in its own transaction. (A
    // head without `install` heads no package that carries one: the builder sees to that.)
    #[cfg(feature = "install")]
    let client = client_tool::plan(&vp, inv, &product.id, report);
    #[cfg(feature = "install")]
    if client == client_tool::Plan::Update && opts.mode == Mode::Apply {
        client_tool::update(&mut vp, inv, report)?;
        if opts.stop_after_client {
            report.result = "client-updated".into();
            report.message = "client tool updated; the new one runs the rest".into();
            return Ok(ExitCode::Success);
        }
        session.inv = InventoryFile::load(&session.inv.path)?;
    }
    let inv = &session.inv;

    // 3, 4. The plan, and what a person picks from it.
    let mut steps = plan::plan(&vp, inv, &product, opts.downgrades)?;
    if let Some(only) = &opts.only {
        plan::only(&mut steps, only, &product)?;
    }
    report.components = steps.iter().map(|s| s.report(false)).collect();
    let mut verdict = plan::verdict(&steps, !steps.iter().any(|s| s.install().is_some()));
    #[cfg(feature = "install")]
    if steps.is_empty() && client != client_tool::Plan::Absent {
        // A package of the client tool alone.
        verdict = (
            Verdict::Current,
            "no component to install besides the client tool".into(),
        );
    }
    #[cfg(feature = "install")]
    if client == client_tool::Plan::Update && opts.mode == Mode::Check {
        verdict.0 = Verdict::Proceed;
    }
    if session.interrupted && opts.mode == Mode::Check && verdict.0 == Verdict::Current {
        // Half an update may be on disk: only the next package run can say it is current.
        verdict.0 = Verdict::Proceed;
    }
    if opts.interactive.asks(product.interactive)
        && opts.mode == Mode::Apply
        && verdict.0 == Verdict::Proceed
        && prompt::ask(prompt, opts.interactive, &mut steps, &product, &vp, report)?
    {
        return Ok(ExitCode::Success);
    }
    let installs: Vec<Planned> = plan::order_installs(&steps)?;
    if let Some(code) = outcome::without_staging(&opts.mode, &mut verdict, &installs, report)? {
        return Ok(code);
    }
    if verdict.0 != Verdict::Proceed {
        return not_installing(verdict, &mut vp, inv, &product, &keys, opts, report);
    }

    // 5. Stage every component, let the admin's hooks check it; a dry run stops here.
    let hooks = Hooks::of(product.hooks.as_ref(), &product.id)?;
    let mut txn = Transaction::new(
        &inv.path,
        format!("{} {}", opts.mode.name(), vp.manifest.package.id),
    );
    let execs = stage::stage_all(&mut vp, &installs, &product, &hooks, &mut txn, report)?;
    if opts.mode == Mode::DryRun {
        txn.abort()?;
        report.result = "dry-run".into();
        report.message = format!(
            "dry run: {} staged and verified, then discarded; nothing was changed",
            outcome::names(&installs)
        );
        return Ok(ExitCode::Success);
    }

    // 6, 7. Commit, then say what happened.
    let deferred = commit::commit(&mut txn, inv, &product, &vp, &installs, &execs, &keys)?;
    report.warnings.append(&mut txn.warnings);
    drop(session);
    outcome::applied(&steps, &installs, &deferred, &keys, report);
    hooks::after(
        &hooks,
        &product.id,
        &outcome::names(&installs),
        &mut report.warnings,
    );
    Ok(if report.restart_needed {
        ExitCode::RestartNeeded
    } else {
        ExitCode::Success
    })
}

/// The end of a run whose plan installs nothing: restart needed, already current (recording new
/// keys or a higher security floor if the package brings them), or refused.
// Out of line: inlined into `apply::run` it made the package head larger (measured).
#[inline(never)]
fn not_installing(
    verdict: (Verdict, String),
    vp: &mut VerifiedPackage,
    inv: &InventoryFile,
    product: &Product,
    keys: &KeyChange,
    opts: &Options,
    report: &mut Report,
) -> Result<ExitCode> {
    let floors = plan::raised_floors(vp, product);
    match verdict.0 {
        Verdict::Proceed => unreachable!("a proceeding run installs"),
        Verdict::Restart => {
            report.result = "restart-needed".into();
            report.restart_needed = true;
            report.message = verdict.1;
            Ok(ExitCode::RestartNeeded)
        }
        Verdict::Current if (keys.changed() || !floors.is_empty()) && opts.mode == Mode::Apply => {
            // Nothing to install, but new keys or a higher security floor to record: only once
            // all content verified. A floor, once signed and seen, holds.
            vp.verify_content()?;
            let mut txn = Transaction::new(&inv.path, format!("record {}", vp.manifest.package.id));
            commit::commit(&mut txn, inv, product, vp, &[], &[], keys)?;
            report.warnings.append(&mut txn.warnings);
            report.result = "current".into();
            report.message = outcome::recorded(verdict.1, keys, &floors);
            Ok(ExitCode::Success)
        }
        Verdict::Current => {
            report.result = "current".into();
            report.message = verdict.1;
            Ok(ExitCode::Success)
        }
        Verdict::Needs => Err(Error::new(ExitCode::NeedsOther, verdict.1).hint(
            "a package with full content, or a delta from what is installed, brings it; --list shows each route",
        )),
        Verdict::Refused(code) => Err(Error::new(code, verdict.1)),
    }
}
