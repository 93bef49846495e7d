//! The words of a run's result: how installed components, key changes and lists of steps read in
//! the report's message. Text only. Decides nothing: it words what the run did.

use super::plan::{Planned, Step, Verdict};
use super::report::Report;
use super::Mode;
use crate::error::{Error, ExitCode, Result};
use crate::format::keys::KeyChange;

pub(super) fn describe_keys(keys: &KeyChange) -> String {
    let mut parts = Vec::new();
    if !keys.added.is_empty() {
        parts.push(format!("now trusts key {}", keys.added.join(", ")));
    }
    if !keys.newly_revoked.is_empty() {
        parts.push(format!("revoked key {}", keys.newly_revoked.join(", ")));
    }
    format!("{} (signed key transitions)", parts.join(" and "))
}

pub(super) fn names(steps: &[Planned]) -> String {
    steps
        .iter()
        .map(|(s, _)| s.component.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn describe(steps: &[Planned]) -> String {
    steps
        .iter()
        .map(|(s, _)| format!("{} {}", s.component.name, s.component.version))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The end of a run that only reports (`--list`, `--check`); `None` for the others.
// Out of line: inlined into `apply::run` it made the package head larger (measured).
#[inline(never)]
pub(super) fn without_staging(
    mode: &Mode,
    verdict: &mut (Verdict, String),
    installs: &[Planned],
    report: &mut Report,
) -> Result<Option<ExitCode>> {
    Ok(match mode {
        Mode::List => {
            report.result = "listed".into();
            report.message = if verdict.0 == Verdict::Proceed {
                format!("would install {}", describe(installs))
            } else {
                std::mem::take(&mut verdict.1)
            };
            Some(ExitCode::Success)
        }
        Mode::Check => Some(match verdict.0 {
            Verdict::Proceed | Verdict::Needs | Verdict::Restart => {
                report.result = "needed".into();
                report.message = "this machine needs the package".into();
                ExitCode::Error
            }
            Verdict::Refused(ExitCode::NotApplicable) => {
                return Err(Error::not_applicable(std::mem::take(&mut verdict.1)))
            }
            Verdict::Current | Verdict::Refused(_) => {
                report.result = "current".into();
                report.message = std::mem::take(&mut verdict.1);
                ExitCode::Success
            }
        }),
        _ => None,
    })
}

/// The message of a run that installed nothing but recorded new keys or security floors.
pub(super) fn recorded(verdict: String, keys: &KeyChange, floors: &[String]) -> String {
    let mut message = verdict;
    if keys.changed() {
        message = format!("{message}; {}", describe_keys(keys));
    }
    if !floors.is_empty() {
        message = format!(
            "{message}; recorded the security floor {}",
            floors.join(", ")
        );
    }
    message
}

/// The result of a committed apply: each component's action (installed, or waiting for a
/// restart where files were in use), and the message.
// Out of line: inlined into `apply::run` it made the package head larger (measured).
#[inline(never)]
pub(super) fn applied(
    steps: &[Step],
    installs: &[Planned],
    deferred: &[String],
    keys: &KeyChange,
    report: &mut Report,
) {
    report.components = steps
        .iter()
        .map(|s| {
            let mut r = s.report(true);
            if deferred.contains(&s.component.name) {
                r.action = "restart-pending".into();
            }
            r
        })
        .collect();
    report.result = "applied".into();
    let now: Vec<Planned> = installs
        .iter()
        .filter(|(s, _)| !deferred.contains(&s.component.name))
        .copied()
        .collect();
    let later: Vec<Planned> = installs
        .iter()
        .filter(|(s, _)| deferred.contains(&s.component.name))
        .copied()
        .collect();
    report.message = if later.is_empty() {
        format!("installed {}", describe(installs))
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
        report.message = format!("{}; {}", report.message, describe_keys(keys));
    }
}
