//! The machine-readable result of one run: printed with `--json`, written with `--report FILE`
//! (atomically) and appended as one line with `--log FILE`. Schema: `docs/report.md`. Also what
//! human output shares: byte counts as people read them and `shown`, the one escaping of every
//! line printed for people (by the stub and the builder).
//! Never decides an outcome: it records what the run said.

use crate::json::{object, ToJson};

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub schema: u32,
    /// What was asked: apply, dry-run, check, list, verify, extract.
    pub mode: String,
    pub package_file: String,
    pub package_id: Option<String>,
    pub product: Option<String>,
    pub signed_by: Option<String>,
    pub started: String,
    pub duration_ms: u64,
    pub exit_code: i32,
    /// applied, current, needed, not-applicable, refused, failed, verified, listed, extracted, dry-run
    pub result: String,
    pub message: String,
    pub restart_needed: bool,
    /// Bytes written to disk by this run.
    pub bytes: u64,
    pub components: Vec<ComponentReport>,
    /// An interrupted earlier update this run finished or undid first.
    pub recovered: Option<String>,
    /// Things that went wrong without failing the run (an `after` hook that failed).
    pub warnings: Vec<String>,
    /// The client tool the package carries, when the run installed, updated or weighed it
    /// (builds with `install` only).
    #[cfg(feature = "install")]
    pub client: Option<ClientReport>,
    /// The tool that wrote this report: `iupack-stub VERSION` (after a self-update, the new one).
    pub tool: String,
}

/// What a run did with the client tool a package carries (`apply::client_tool`).
#[derive(Debug, Clone)]
pub struct ClientReport {
    pub path: String,
    pub from: Option<String>,
    pub to: String,
    /// installed, updated, would-update, current, newer-installed, downgrade-refused,
    /// below-floor
    pub action: String,
}

#[derive(Debug, Clone)]
pub struct ComponentReport {
    pub name: String,
    pub from: Option<String>,
    pub to: String,
    /// full (or none when nothing is applied).
    pub route: Option<String>,
    /// install, installed, current, newer-installed, downgrade-refused, below-floor,
    /// restart-pending, not-configured, needs-other, skipped
    pub action: String,
    pub bytes: u64,
}

#[cfg(feature = "install")]
object!(Report, ignore, {
    schema: req, mode: req, package_file: req, package_id: null, product: null, signed_by: null,
    started: req, duration_ms: req, exit_code: req, result: req, message: req,
    restart_needed: req, bytes: req, components: req, recovered: null, warnings: req,
    client: opt, tool: req,
});
#[cfg(not(feature = "install"))]
object!(Report, ignore, {
    schema: req, mode: req, package_file: req, package_id: null, product: null, signed_by: null,
    started: req, duration_ms: req, exit_code: req, result: req, message: req,
    restart_needed: req, bytes: req, components: req, recovered: null, warnings: req, tool: req,
});
object!(ClientReport, ignore, { path: req, from: null, to: req, action: req });
object!(ComponentReport, ignore, { name: req, from: null, to: req, route: null, action: req, bytes: req });

impl Report {
    pub fn new(mode: &str, package_file: &str) -> Self {
        Report {
            schema: SCHEMA,
            mode: mode.into(),
            package_file: package_file.into(),
            started: crate::platform::time::rfc3339(crate::platform::time::unix_now()),
            tool: concat!("iupack-stub ", env!("CARGO_PKG_VERSION")).into(),
            ..Report::default()
        }
    }

    pub fn to_json_pretty(&self) -> String {
        self.to_json().to_pretty()
    }

    pub fn to_json_line(&self) -> String {
        self.to_json().to_compact()
    }
}

/// A byte count as a person reads it: "512 B", "34 KiB", "12 MiB".
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 10 << 20 => format!("{} MiB", n >> 20),
        n if n >= 10 << 10 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

/// Text as printed for people: control characters (C0 including newline and tab, DEL, C1) and the
/// bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069) written as `\u{1b}`, so
/// that nothing a package, a signature or an inventory says can move the cursor, recolour or
/// retitle the terminal, reorder a line or forge one. JSON output escapes on its own.
pub fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn shown_escapes_what_a_terminal_would_obey() {
        assert_eq!(
            super::shown("a\u{1b}]0;x\u{7}b\nc\td\u{7f}\u{9b}2J\u{202e}txt.exe\u{2066}é µ"),
            "a\\u{1b}]0;x\\u{7}b\\u{a}c\\u{9}d\\u{7f}\\u{9b}2J\\u{202e}txt.exe\\u{2066}é µ"
        );
    }
}
