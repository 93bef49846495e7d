//! Errors and the documented exit codes (docs/design.md §8). Never prints: `main` does.
//!
//! Every error carries the exit code it maps to, a message that says what went wrong (with the
//! path, expected and actual values where there are any) and, where we know one, a hint that says
//! what to do next. `main` prints an error once and exits with its code.

use std::fmt;

/// The documented exit codes of the stub. The numbers are a contract with fleet tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Applied, or already current.
    Success,
    /// An error not covered by another code.
    Error,
    /// The command line was wrong.
    Usage,
    /// Product not installed, or platform, language or product version outside targets.
    NotApplicable,
    /// The installed content can't be reached from this package: another package is needed.
    NeedsOther,
    /// Older than installed, and downgrades were not allowed.
    Downgrade,
    /// Signature invalid, or by a key this machine does not trust.
    Signature,
    /// Truncated, malformed, or content not as the manifest says.
    Damaged,
    /// Applying failed (disk full, I/O, permissions); the machine was left as it was.
    ApplyFailed,
    /// The `validate` hook rejected the new content.
    HookRejected,
    /// Another update holds the inventory lock.
    Locked,
    /// Windows only: applied, a restart finishes it.
    RestartNeeded,
}

/// The one table of exit codes: the number, the word a report's `result` says for a run that
/// ends with it as an error (docs/report.md), and what it means (broken into lines
/// as `--help` prints it: a package head does no text layout). `--help` prints it, a report's
/// `result` follows it (`result_word`), and a test holds README's table to it.
pub const EXIT_CODES: [(ExitCode, i32, &str, &str); 12] = [
    (ExitCode::Success, 0, "success", "success: applied, or already current (--check: the machine has everything)"),
    (ExitCode::Error, 1, "failed", "error not covered below (--check: the machine needs the package)"),
    (ExitCode::Usage, 2, "failed", "usage error"),
    (ExitCode::NotApplicable, 10, "not-applicable", "not applicable: product not installed, or platform, language or product version outside\n       targets"),
    (ExitCode::NeedsOther, 11, "refused", "needs another package: the installed version is no delta base (or its files were\n       changed locally) and there is no full content, or a requires the package does not\n       bring; rollback: no kept copy, the kept copy was changed, or a requires would break"),
    (ExitCode::Downgrade, 12, "refused", "refused: older than installed (downgrade), unless --allow-downgrade"),
    (ExitCode::Signature, 20, "refused", "signature invalid, or signed by a key this machine does not trust (or has revoked)"),
    (ExitCode::Damaged, 21, "refused", "package damaged: truncated, malformed, or content not as the manifest says"),
    (ExitCode::ApplyFailed, 30, "failed", "apply failed (disk full, I/O, permissions); machine left as it was"),
    (ExitCode::HookRejected, 31, "failed", "validate hook rejected the new content; machine left as it was"),
    (ExitCode::Locked, 40, "failed", "another update holds the inventory lock (after --wait)"),
    (ExitCode::RestartNeeded, 3010, "restart-needed", "Windows only: applied, restart needed to finish"),
];

impl ExitCode {
    /// The process exit status for this code.
    pub fn code(self) -> i32 {
        self.row().1
    }

    /// What this code means, as the README says it (on one line).
    pub fn meaning(self) -> String {
        self.row().3.replace("\n       ", " ")
    }

    fn row(self) -> &'static (ExitCode, i32, &'static str, &'static str) {
        &EXIT_CODES[self as usize]
    }

    /// A report's `result` for a run that ended with this code as an error (docs/report.md).
    pub fn result_word(self) -> &'static str {
        self.row().2
    }
}

/// An error with its exit code, message and an optional hint saying what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ExitCode,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds the line that tells the user what to do.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Error, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }
    pub fn not_applicable(message: impl Into<String>) -> Self {
        Self::new(ExitCode::NotApplicable, message)
    }
    pub fn signature(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Signature, message)
    }
    pub fn damaged(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Damaged, message).hint(
            "the package file is damaged or was altered: copy it again from its source and check it \
             with `iupack verify` or against SHA256SUMS",
        )
    }
    /// An I/O failure while changing the machine (exit 30).
    pub fn apply_io(what: impl fmt::Display, err: &std::io::Error) -> Self {
        Self::new(ExitCode::ApplyFailed, format!("{what}: {err}")).hint(
            "free disk space or fix permissions, then run the package again; nothing was changed",
        )
    }
}

/// An empty buffer with room for the `size` bytes `what` declares: a size above `max` is a damaged
/// package (checked before anything is allocated), and memory the machine can't give is an
/// error, not an abort.
pub fn buffer(what: &str, size: u64, max: u64) -> Result<Vec<u8>> {
    if size > max {
        return Err(Error::damaged(format!(
            "{what} declares {size} bytes, more than the {max} allowed"
        )));
    }
    let mut v = Vec::new();
    v.try_reserve_exact(usize::try_from(size).unwrap_or(usize::MAX))
        .map_err(|_| {
            Error::new(
                ExitCode::ApplyFailed,
                format!("not enough memory for {what} ({size} bytes)"),
            )
            .hint("close other programs, then run the package again; nothing was changed")
        })?;
    Ok(v)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is in the enum's order (so `row` finds each code's own row), and README's
    /// "Exit codes" table lists exactly these codes with these meanings.
    #[test]
    fn the_exit_code_table_is_the_readmes() {
        for (i, row) in EXIT_CODES.iter().enumerate() {
            assert_eq!(row.0 as usize, i, "row {i} is out of the enum's order");
            assert_eq!(row.0.code(), row.1);
            for line in row.3.split('\n') {
                assert!(
                    line.trim_start().len() <= 87,
                    "{line}: wider than --help's column"
                );
            }
        }
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
            .expect("README.md");
        let section = readme
            .split("### Exit codes")
            .nth(1)
            .expect("README has an Exit codes section");
        let rows: Vec<(i32, String)> = section
            .lines()
            .skip_while(|l| !l.starts_with("| 0 |"))
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
                (
                    cells[0].trim().parse().expect("a code"),
                    cells[1].trim().to_string(),
                )
            })
            .collect();
        let want: Vec<(i32, String)> = EXIT_CODES.iter().map(|r| (r.1, r.0.meaning())).collect();
        assert_eq!(
            rows, want,
            "README's exit code table differs from error::EXIT_CODES"
        );
    }
}
