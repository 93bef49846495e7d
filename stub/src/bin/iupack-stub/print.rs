//! What people and fleet tools see of a run: the result for people (escaped, one line each),
//! errors with their hints on stderr, `--json`, the report file and the log line, and the client
//! tool's `status`. Never decides anything: it shows what the library returned.

use crate::args::Args;
use iupack_stub::apply::report::{human_bytes, shown, Report};
use iupack_stub::apply::Mode;
#[cfg(feature = "client")]
use iupack_stub::client;
use iupack_stub::platform::fsutil;
use iupack_stub::{Error, ExitCode};
use std::io::Write;
use std::path::Path;

/// Ends a run that returned: on success writes report and log, then prints the result (JSON or
/// for people); on error records it. Returns the exit status.
pub fn finish(
    result: Result<ExitCode, Error>,
    report: &mut Report,
    args: &Args,
    mode: &Mode,
) -> i32 {
    match result {
        Ok(code) => {
            report.exit_code = code.code();
            // The machine is as the run left it: a report that can't be written now is said,
            // never made the run's exit code (the destinations were checked before the run).
            if let Err(e) = write_outputs(report, args.report.as_deref(), args.log.as_deref()) {
                say_err(&format!("iupack-stub: warning: {}", e.message));
            }
            if args.json {
                out(&report.to_json_pretty());
            } else if !args.quiet {
                print_human(report, mode);
            }
            report.exit_code
        }
        Err(e) => {
            let code = finish_error(&e, report, args.report.as_deref(), args.log.as_deref());
            if args.json {
                out(&report.to_json_pretty());
            }
            code
        }
    }
}

/// Records an error in the report, writes report and log, prints the error once (errors are
/// printed even with --quiet).
pub fn finish_error(
    e: &Error,
    report: &mut Report,
    report_path: Option<&Path>,
    log: Option<&Path>,
) -> i32 {
    report.exit_code = e.code.code();
    report.result = e.code.result_word().into();
    report.message = e.message.clone();
    if let Err(we) = write_outputs(report, report_path, log) {
        fail(&we);
    }
    fail(e)
}

/// Prints an error for people (on stderr, escaped, its hint on a line of its own).
pub fn fail(e: &Error) -> i32 {
    say_err(&format!("iupack-stub: error: {}", e.message));
    if let Some(hint) = &e.hint {
        say_err(&format!("  hint: {hint}"));
    }
    e.code.code()
}

/// What `say!` prints through: one line for people on stdout, escaped.
pub fn say_line(line: &str) {
    out(&shown(line));
}

/// `say_line` on stderr.
pub fn say_err(line: &str) {
    let _ = writeln!(std::io::stderr(), "{}", shown(line));
}

/// Every line to stdout goes through here. A reader that went away (`| head`) or a full disk
/// never stops a run or changes its exit code (`println!` would abort): the run goes on, the
/// report and log still get its result.
pub fn out(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// Whether the report (or, `is_log`, the log) can be written at `p`, checked before anything
/// changes: a missing folder, a read-only stick, a folder in the file's place, a planted link
/// (the log is never followed) are a usage error.
// Out of line: called for the report and the log, it was made twice (measured).
#[inline(never)]
pub fn writable(p: &Path, is_log: bool) -> Result<(), Error> {
    let what = if is_log { "the log" } else { "the report" };
    let tried = if is_log {
        fsutil::open_log(p).map(drop)
    } else {
        let tmp = fsutil::temp_beside(p, "probe");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|_| std::fs::remove_file(&tmp))
            // Replaced by a rename at the end: a folder or a device there (`/dev/null`) would be
            // replaced too. A link is not followed (the rename replaces the link itself).
            .and_then(|()| match std::fs::symlink_metadata(p) {
                Ok(m) if !m.is_file() && !m.is_symlink() => {
                    Err(std::io::Error::other("not a regular file"))
                }
                _ => Ok(()),
            })
    };
    tried.map_err(|e| {
        Error::usage(format!("cannot write {what} {}: {e}", p.display()))
            .hint("name a file in a folder that exists and can be written; nothing was changed")
    })
}

pub fn write_outputs(
    report: &Report,
    path: Option<&Path>,
    log: Option<&Path>,
) -> Result<(), Error> {
    if let Some(p) = path {
        let mut text = report.to_json_pretty();
        text.push('\n');
        fsutil::atomic_write(p, text.as_bytes()).map_err(|e| {
            // What is there now is not this run's result: never leave it to be read as one.
            let _ = std::fs::remove_file(p);
            Error::other(format!("cannot write the report {}: {e}", p.display()))
        })?;
    }
    if let Some(p) = log {
        fsutil::append_line(p, &report.to_json_line())
            .map_err(|e| Error::other(format!("cannot append to the log {}: {e}", p.display())))?;
    }
    Ok(())
}

/// A person at a console: both standard input and output are a terminal.
pub fn on_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

pub fn print_human(r: &Report, mode: &Mode) {
    if *mode == Mode::Check {
        // One word on stdout for detection scripts; anything else goes to stderr.
        if let Some(rec) = &r.recovered {
            say_err(rec);
        }
        say!("{}", r.result);
        return;
    }
    if let Some(rec) = &r.recovered {
        say!("{rec}");
    }
    for w in &r.warnings {
        say!("warning: {w}");
    }
    if ["recover", "rollback", "init", "forget"].contains(&r.mode.as_str()) {
        if r.recovered.as_deref() != Some(r.message.as_str()) {
            say!("{}", r.message);
        }
        return;
    }
    let package = r
        .package_id
        .as_ref()
        .map_or(String::new(), |id| format!(" package {id}"));
    say!(
        "{}{package} (signed by key {})",
        r.product.as_deref().unwrap_or("?"),
        r.signed_by.as_deref().unwrap_or("?")
    );
    for c in &r.components {
        say!(
            "  {:<14} {:>14} -> {:<14} {:<24} {:>9}  {}",
            c.name,
            c.from.as_deref().unwrap_or("(none)"),
            c.to,
            c.route.as_deref().unwrap_or("-"),
            human_bytes(c.bytes),
            c.action
        );
    }
    #[cfg(feature = "install")]
    if let Some(c) = &r.client {
        say!(
            "  {:<14} {:>14} -> {:<14} {:<24} {:>9}  {}",
            "client tool",
            c.from.as_deref().unwrap_or("(none)"),
            c.to,
            c.path,
            "",
            c.action
        );
    }
    say!("{}", r.message);
}

#[cfg(feature = "client")]
/// `status --export FILE`: what is installed, for `iupack plan` on the connected side.
pub fn export(inventory: &Path, file: &Path, given: bool) -> i32 {
    let written = client::export(inventory).and_then(|v| {
        let mut text = v.to_pretty();
        text.push('\n');
        fsutil::atomic_write(file, text.as_bytes()).map_err(|e| {
            Error::other(format!("cannot write {}: {e}", file.display()))
                .hint("check free space and write permission there (a USB stick may be read-only)")
        })
    });
    match written {
        Ok(()) => {
            say!(
                "wrote {}: installed versions and tree digests, for `iupack plan --inventory`",
                file.display()
            );
            0
        }
        Err(e) => fail(&crate::mistyped(e, given)),
    }
}

#[cfg(feature = "client")]
/// `status`: prints what is installed (or JSON with --json).
pub fn status(inventory: &Path, json: bool, given: bool) -> i32 {
    let st = match client::status(inventory) {
        Ok(st) => st,
        Err(e) => return fail(&crate::mistyped(e, given)),
    };
    if json {
        out(&st.to_pretty());
        return 0;
    }
    let s =
        |v: &iupack_stub::json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| "-".into());
    say!("inventory {}", s(&st["inventory"]));
    if st["interrupted_update"].as_bool() == Some(true) {
        say!("  an update was interrupted: run `iupack-stub recover` (any package run also does)");
    }
    let c = &st["client"];
    if !c.is_null() {
        say!(
            "client tool {} at {}, installed {} by {} (kept: {}); updated by {} packages; on disk: {}",
            s(&c["version"]),
            s(&c["path"]),
            s(&c["installed"]),
            s(&c["package"]),
            s(&c["kept"]),
            s(&c["product"]),
            s(&c["on_disk"])
        );
    }
    for p in st["products"].as_array().into_iter().flatten() {
        say!("{} {} ({})", s(&p["id"]), s(&p["version"]), s(&p["name"]));
        if !p["hooks_problem"].is_null() {
            say!(
                "  warning: {}; every package run of it fails until that is fixed",
                s(&p["hooks_problem"])
            );
        }
        for c in p["components"].as_array().into_iter().flatten() {
            let kept: Vec<String> = c["kept"].as_array().into_iter().flatten().map(s).collect();
            // A component put there by hand (before iupack) has no package and no time.
            let how = if c["version"].is_null() {
                "not installed yet".to_string()
            } else if c["package"].is_null() {
                "installed before iupack (not by a package)".to_string()
            } else {
                format!("installed {} by {}", s(&c["installed"]), s(&c["package"]))
            };
            say!(
                "  {:<14} {:<14} {how}{}{}",
                s(&c["name"]),
                s(&c["version"]),
                if kept.is_empty() {
                    String::new()
                } else {
                    format!("; kept: {}", kept.join(", "))
                },
                if c["pending_restart"].is_null() {
                    String::new()
                } else {
                    format!("; {} waits for a restart", s(&c["pending_restart"]))
                }
            );
        }
    }
    0
}
