//! Errors and the documented exit codes (DESIGN §8).
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

impl ExitCode {
    /// The process exit status for this code.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Error => 1,
            ExitCode::Usage => 2,
            ExitCode::NotApplicable => 10,
            ExitCode::NeedsOther => 11,
            ExitCode::Downgrade => 12,
            ExitCode::Signature => 20,
            ExitCode::Damaged => 21,
            ExitCode::ApplyFailed => 30,
            ExitCode::HookRejected => 31,
            ExitCode::Locked => 40,
            ExitCode::RestartNeeded => 3010,
        }
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
