//! `iupack`: the admin's CLI. Makes keys and builds signed self-extracting update packages.
//! One module per subcommand; errors are printed once here with what to do next.
//! Dispatches only: each subcommand lives in `cmd/`.

use clap::{Parser, Subcommand};
use iupack_stub::Error;

/// `println!` for people: the line goes out escaped (`iupack_stub::apply::report::shown`), as package
/// fields (unverified in `inspect`), trusted comments and file names can hold terminal escape
/// sequences. JSON output is printed as it is (the JSON writer escapes).
macro_rules! say {
    ($($t:tt)*) => { $crate::out(&iupack_stub::apply::report::shown(&format!($($t)*))) };
}

/// Every line to stdout goes through here (`say!` and JSON). A reader that went away
/// (`iupack inspect --json | head -1`) ends nothing: what was done stays done, the rest of the
/// output is dropped and the exit code is the command's (`println!` would abort). Any other write
/// error (a full disk behind `>`) is an error, exit 1.
pub fn out(text: &str) {
    use std::io::Write;
    match writeln!(std::io::stdout(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            err_line(&format!(
                "iupack: error: cannot write to standard output: {e}"
            ));
            std::process::exit(1);
        }
        _ => {}
    }
}

/// One line on stderr; a stderr that can't be written is ignored (there is nowhere to say so).
pub fn err_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

mod cmd;
mod content;
mod deltacache;
mod keys;
mod outpath;
mod pipeline;
mod progress;
mod share;
mod spec;
mod store;

#[derive(Debug, Parser)]
#[command(
    name = "iupack",
    version,
    about = "Build signed self-extracting offline update packages"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a minisign key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub.
    Keygen(cmd::keygen::Args),
    /// Build a signed package from a spec file, or from the newest releases in a release store.
    Build(cmd::build::Args),
    /// Import a vendor drop into the release store as one release of a component.
    Add(cmd::add::Args),
    /// Remove one release from the release store (one imported by mistake), so it can be added
    /// again.
    Remove(cmd::remove::Args),
    /// Keep only the newest N releases of each component in the release store.
    Prune(cmd::prune::Args),
    /// Write an update share from the release store: packages and a signed index.
    Publish(cmd::publish::Args),
    /// From machines' exported inventories, build the smallest packages that bring each current.
    Plan(cmd::plan::Args),
    /// Show what a package carries (the signature is not checked: use `verify`).
    Inspect(cmd::inspect::Args),
    /// Check a package's signature and every content hash, with the stub's own code.
    Verify(cmd::verify::Args),
    /// Sign, with the current key, a statement that machines trust a new key (key rotation).
    KeyTransition(cmd::transition::Args),
}

fn main() {
    let cli = Cli::parse();
    let json = match &cli.command {
        Command::Build(a) => a.json,
        Command::Inspect(a) => a.json,
        Command::Verify(a) => a.json,
        Command::Add(a) => a.json,
        Command::Remove(a) => a.json,
        Command::Prune(a) => a.json,
        Command::Publish(a) => a.json,
        Command::Plan(a) => a.json,
        Command::Keygen(_) | Command::KeyTransition(_) => false,
    };
    let result = match cli.command {
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Build(a) => cmd::build::run(a),
        Command::Add(a) => cmd::add::run(a),
        Command::Remove(a) => cmd::remove::run(a),
        Command::Prune(a) => cmd::prune::run(a),
        Command::Publish(a) => cmd::publish::run(a),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::KeyTransition(a) => cmd::transition::run(a),
    };
    if let Err(e) = result {
        report(&e, json);
        std::process::exit(e.code.code());
    }
}

/// Prints an error once, with what to do next (escaped, the hint on a line of its own); with
/// `--json` also as JSON on stdout, so a script reading stdout learns why.
fn report(e: &Error, json: bool) {
    let hint = e.hint.as_deref().map(shown_lines).unwrap_or_default();
    for (i, line) in shown_lines(&e.message).iter().enumerate() {
        err_line(&format!(
            "{}{line}",
            if i == 0 { "iupack: error: " } else { "    " }
        ));
    }
    for (i, line) in hint.iter().enumerate() {
        err_line(&format!(
            "{}{line}",
            if i == 0 { "  hint: " } else { "        " }
        ));
    }
    if json {
        let v = serde_json::json!({
            "error": { "message": e.message, "hint": e.hint, "exit_code": e.code.code() }
        });
        out(&serde_json::to_string_pretty(&v).expect("json"));
    }
}

/// `text` as lines for a terminal: a cause that spans lines (a TOML error's excerpt and caret)
/// keeps its lines, and each is escaped on its own (`shown`), so a control character or escape
/// sequence inside one still moves nothing; [`report`] indents every line after the first, so
/// no text can forge a line of its own (`iupack: error: ...`). Trailing empty lines are dropped.
fn shown_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .split('\n')
        .map(iupack_stub::apply::report::shown)
        .collect();
    while lines.len() > 1 && lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn multi_line_causes_keep_their_lines_and_stay_escaped() {
        assert_eq!(
            super::shown_lines("at line 2\n  |\n2 | x\u{1b}[2J\r\n"),
            ["at line 2", "  |", "2 | x\\u{1b}[2J\\u{d}"]
        );
        assert_eq!(super::shown_lines("one"), ["one"]);
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
