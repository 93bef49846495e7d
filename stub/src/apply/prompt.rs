//! The one question an apply may ask a person: which of the planned components to install, and
//! whether to go on. The library only states the question ([`Prompt`]); whoever runs it answers:
//! the client tool's terminal (`bin/iupack-stub/interactive.rs`), or [`NoPerson`] where there is
//! nobody to ask. Nothing here reads a terminal or prints.

use super::plan::Step;
use super::report::Report;
use super::Interactive;
use crate::error::{Error, Result};
use crate::format::manifest::Manifest;
use crate::format::package::VerifiedPackage;
use crate::machine::inventory::Product;

/// What the person decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Install the steps still marked `Install` (the others were turned into `Skipped`,
    /// `Step::skip`).
    Proceed,
    /// Install nothing.
    Cancel,
}

/// Asked once per run, after planning and before anything is staged, when the run is
/// interactive (`why`) and the plan would install something. It may turn `Install` steps into
/// `Skipped` and back (`Step::skip`); on `Cancel` the run changes nothing.
pub trait Prompt {
    fn choose(
        &mut self,
        why: Interactive,
        steps: &mut [Step],
        product: &Product,
        manifest: &Manifest,
        signer: &str,
    ) -> Result<Choice>;
}

/// The answer of a run with no interactive mode (a package head): an interactive run is refused
/// with what to do instead. Express runs never ask.
#[derive(Debug)]
pub struct NoPerson;

impl Prompt for NoPerson {
    fn choose(
        &mut self,
        why: Interactive,
        _: &mut [Step],
        _: &Product,
        _: &Manifest,
        _: &str,
    ) -> Result<Choice> {
        Err(no_person(why))
    }
}

/// Asks the person (interactive mode) through `prompt`, and records what they picked in the
/// report; `Ok(true)` when they cancelled (the run then ends, having changed nothing). A package
/// head has no interactive mode: there it is refused before anything is asked.
pub(super) fn ask(
    prompt: &mut dyn Prompt,
    why: Interactive,
    steps: &mut [Step],
    product: &Product,
    vp: &VerifiedPackage,
    report: &mut Report,
) -> Result<bool> {
    #[cfg(not(feature = "client"))]
    {
        let _ = (prompt, steps, product, vp, report);
        Err(no_person(why))
    }
    #[cfg(feature = "client")]
    {
        let choice = prompt.choose(why, steps, product, &vp.manifest, &vp.key_id)?;
        report.components = steps.iter().map(|s| s.report(false)).collect();
        if choice == Choice::Cancel {
            report.result = "cancelled".into();
            report.message = "cancelled at the prompt: nothing was installed or changed".into();
        }
        Ok(choice == Choice::Cancel)
    }
}

/// The refusal of interactive mode where no person can be asked.
fn no_person(why: Interactive) -> Error {
    Error::usage(format!(
            "{} asks a person to pick what to install, and a package head has no interactive mode",
            if why == Interactive::Yes { "-i" } else { "this product's inventory (\"interactive\": true)" }
        ))
        .hint("apply it with the installed client tool: iupack-stub apply -i PKG; or run the package with -q to install everything that fits")
}
