//! `iupack-stub`: the program at the head of every package, and (with no payload attached) the
//! installed client tool. Parses flags by hand to stay small, runs the apply engine, prints one
//! result, writes the report and log, and exits with the documented code.

use iupack_stub::apply::{self, Downgrades, Interactive, Mode, Options};
#[cfg(feature = "client")]
use iupack_stub::client;
use iupack_stub::package::{Expect, Package};
use iupack_stub::report::{human_bytes, shown, Report};
use iupack_stub::signature::public_key_from_text;
use iupack_stub::{fsutil, inventory, Error, ExitCode};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One line for people on stdout: `say!` formats, `shown` escapes what a package, a signature or
/// an inventory could have put there (all human output goes through these two).
macro_rules! say {
    ($($t:tt)*) => { say_line(&format!($($t)*)) };
}

const USAGE: &str = "\
Usage: PACKAGE [OPTIONS]            run a package (applies everything that fits: express mode)
";

/// The installed client tool's commands (not in package heads: `--no-default-features`).
#[cfg(feature = "client")]
const CLIENT_USAGE: &str =
    "       iupack-stub apply PKG [OPTIONS]   the installed client tool, for a package file
       iupack-stub apply --from SHARE    apply what an update share (index.json + packages)
                                         holds for this machine: the smallest route per
                                         component, in requires order (also --list, --check)
       iupack-stub status [--json]       what is installed, from which package, when
       iupack-stub status --export FILE  write this machine's versions and tree digests for
                                         `iupack plan` (no keys, paths or personal data)
       iupack-stub rollback PRODUCT COMPONENT
                                         put the kept previous version of COMPONENT back
       iupack-stub recover               finish or undo an update that was interrupted
";
#[cfg(not(feature = "client"))]
const CLIENT_USAGE: &str =
    "       (this is a package head: the client tool's commands, apply PKG, apply --from,
       status, rollback and recover, are in the installed iupack-stub)
";

/// `-i` in the client tool; a package head has no interactive mode (nor hooks).
#[cfg(feature = "client")]
const INTERACTIVE: &str =
    "  -i, --interactive   show each component (installed -> package version, route, size,
                      requires), lets you pick which to install, and asks before applying
                      (also the default on a terminal with no flags when the product's
                      inventory entry says \"interactive\": true)
";
#[cfg(not(feature = "client"))]
const INTERACTIVE: &str =
    "  -i, --interactive   in the installed client tool: iupack-stub apply -i PKG (a package
                      head runs no interactive mode and no hooks)
";

const HELP: &str = "
Options:
  --list              show the package and what it would do on this machine; change nothing
  --check             detection: exit 0 if this machine has everything the package brings,
                      1 if it needs the package, 10 if not applicable; prints one word
  --verify            check the signature and all content; change nothing
  --dry-run           stage and verify everything, then discard it; change nothing
  --extract DIR       write the verified full content into DIR (new or empty)
  --pubkey FILE       with --verify or --extract: trust this minisign public key instead of
                      the inventory's keys
";

const HELP_REST: &str = "  --allow-downgrade   allow replacing a newer installed version with this older one
  --wait SECS         wait this long for another update's lock before exit 40 (default 5)
  --inventory PATH    the product inventory (default: $IUPACK_INVENTORY, else
                      /var/lib/iupack/inventory.json; %ProgramData%\\iupack\\inventory.json on Windows)
  -q, --quiet         print nothing but errors (Windows: /q, /s)
  --json              print the result as JSON on stdout
  --report FILE       write the result as JSON to FILE
  --log FILE          append the result as one JSON line to FILE
  -h, --help          this help (Windows: /?)
  -V, --version       the stub's version

Exit codes:
  0   success: applied, or already current (--check: machine has everything)
  1   error not covered below (--check: machine needs the package)
  2   usage error
  10  not applicable: product not installed, or platform, language or product version outside targets
  11  needs another package: installed content can't be reached from this package
      (rollback: no kept copy, the kept copy changed, or a `requires` would break)
  12  refused: older than installed (downgrade), unless --allow-downgrade
  20  signature invalid, or signed by a key this machine does not trust
  21  package damaged: truncated, malformed, or content not as the manifest says
  30  apply failed (disk full, I/O, permissions); machine left as it was
  31  validate hook rejected the new content; machine left as it was
  40  another update holds the lock
";

/// What the client tool was asked to do (a package run is `Run`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Command {
    #[default]
    Run,
    #[cfg(feature = "client")]
    Status,
    #[cfg(feature = "client")]
    Rollback(String, String),
    #[cfg(feature = "client")]
    Recover,
    #[cfg(feature = "client")]
    ApplyFrom(PathBuf),
}

#[derive(Debug, Default)]
struct Args {
    command: Command,
    package: Option<PathBuf>,
    wait: Option<std::time::Duration>,
    mode: Option<Mode>,
    quiet: bool,
    interactive: bool,
    json: bool,
    inventory: Option<PathBuf>,
    report: Option<PathBuf>,
    log: Option<PathBuf>,
    pubkey: Option<PathBuf>,
    from: Option<PathBuf>,
    export: Option<PathBuf>,
    downgrades: Downgrades,
    help: bool,
    version: bool,
}

fn parse_args(argv: &[String], has_payload: bool) -> Result<Args, Error> {
    let mut a = Args::default();
    let mut it = argv.iter();
    let mut positional = Vec::new();
    let set_mode = |a: &mut Args, m: Mode| -> Result<(), Error> {
        if a.mode.replace(m).is_some() {
            return Err(Error::usage(
                "give only one of --list, --check, --verify, --dry-run, --extract",
            ));
        }
        Ok(())
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<PathBuf, Error> {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| Error::usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--list" => set_mode(&mut a, Mode::List)?,
            "--check" => set_mode(&mut a, Mode::Check)?,
            "--verify" => set_mode(&mut a, Mode::Verify)?,
            "--dry-run" => set_mode(&mut a, Mode::DryRun)?,
            "--extract" => {
                let dir = value("--extract")?;
                set_mode(&mut a, Mode::Extract(dir))?
            }
            "-q" | "--quiet" => a.quiet = true,
            "-i" | "--interactive" => a.interactive = true,
            "/q" | "/s" | "/Q" | "/S" if cfg!(windows) => a.quiet = true,
            "--json" => a.json = true,
            "--inventory" => a.inventory = Some(value("--inventory")?),
            "--report" => a.report = Some(value("--report")?),
            "--log" => a.log = Some(value("--log")?),
            "--pubkey" => a.pubkey = Some(value("--pubkey")?),
            "--from" => a.from = Some(value("--from")?),
            "--export" => a.export = Some(value("--export")?),
            "--wait" => {
                let v = value("--wait")?;
                let ms = v.to_str().and_then(parse_millis).ok_or_else(|| {
                    Error::usage(format!(
                        "--wait needs a number of seconds (0 to 86400, such as 5 or 0.5), not `{}`",
                        v.display()
                    ))
                })?;
                a.wait = Some(std::time::Duration::from_millis(ms));
            }
            "--allow-downgrade" => a.downgrades = Downgrades::Allow,
            "-h" | "--help" => a.help = true,
            "/?" if cfg!(windows) => a.help = true,
            "-V" | "--version" => a.version = true,
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(Error::usage(format!("unknown option {s}")).hint("see --help"))
            }
            s => positional.push(s.to_string()),
        }
    }
    let mut positional = positional.into_iter();
    if !has_payload {
        client_command(&mut a, &mut positional)?;
    }
    if let Some(extra) = positional.next() {
        return Err(Error::usage(format!("unexpected argument `{extra}`")).hint("see --help"));
    }
    if a.from.is_some() {
        return Err(Error::usage(
            "--from goes with apply: iupack-stub apply --from SHARE",
        ));
    }
    if a.export.is_some() && !a.is_status() {
        return Err(Error::usage(
            "--export goes with status: iupack-stub status --export FILE",
        ));
    }
    if a.interactive && (a.quiet || a.json || a.mode.is_some() || a.command != Command::Run) {
        return Err(Error::usage(
            "-i (interactive) asks a person what to install: it does not go with -q, --json, --list, --check, --verify, --dry-run, --extract or the client commands",
        ));
    }
    if a.pubkey.is_some() && !matches!(a.mode, Some(Mode::Verify | Mode::Extract(_))) {
        return Err(Error::usage("--pubkey goes with --verify or --extract"));
    }
    Ok(a)
}

impl Args {
    fn is_status(&self) -> bool {
        #[cfg(feature = "client")]
        return self.command == Command::Status;
        #[cfg(not(feature = "client"))]
        false
    }
}

/// The client tool's command, for a run with no payload attached.
#[cfg(feature = "client")]
fn client_command(
    a: &mut Args,
    positional: &mut impl Iterator<Item = String>,
) -> Result<(), Error> {
    match positional.next().as_deref() {
        Some("apply") if a.from.is_some() => {
            a.command = Command::ApplyFrom(a.from.take().expect("checked"));
        }
        Some("apply") => {
            a.package = positional.next().map(PathBuf::from);
            if a.package.is_none() && !(a.help || a.version) {
                return Err(Error::usage(
                    "apply needs the package file: iupack-stub apply PKG",
                ));
            }
        }
        Some("status") => a.command = Command::Status,
        Some("recover") => a.command = Command::Recover,
        Some("rollback") => {
            let (Some(p), Some(c)) = (positional.next(), positional.next()) else {
                return Err(Error::usage(
                    "rollback needs the product and the component: iupack-stub rollback PRODUCT COMPONENT",
                ));
            };
            a.command = Command::Rollback(p, c);
        }
        Some(other) => {
            return Err(Error::usage(format!("unknown command `{other}`")).hint(
                "run a package file directly, or: iupack-stub apply PKG | status | rollback PRODUCT COMPONENT | recover",
            ))
        }
        None if a.help || a.version => {}
        None => {
            return Err(Error::usage("this iupack-stub carries no package").hint(
                "run a package file directly, or: iupack-stub apply PKG | status | rollback PRODUCT COMPONENT | recover",
            ))
        }
    }
    if let Command::ApplyFrom(_) = a.command {
        if !matches!(a.mode, None | Some(Mode::List | Mode::Check)) || a.pubkey.is_some() {
            return Err(Error::usage(
                "apply --from SHARE takes --list or --check, and the common options",
            ));
        }
    } else if a.command != Command::Run
        && (a.mode.is_some() || a.pubkey.is_some() || a.downgrades == Downgrades::Allow)
    {
        return Err(Error::usage(
            "status, rollback and recover take only --inventory, --wait, --json, -q, --report and --log",
        ));
    }
    Ok(())
}

/// A package head with no package attached has no commands: the client tool is the full
/// iupack-stub.
#[cfg(not(feature = "client"))]
fn client_command(
    a: &mut Args,
    _positional: &mut impl Iterator<Item = String>,
) -> Result<(), Error> {
    if a.help || a.version {
        return Ok(());
    }
    Err(
        Error::usage("this is a package head with no package attached")
            .hint("run a package file directly; for apply PKG, status, rollback and recover use the installed client tool, iupack-stub"),
    )
}

/// Seconds as text ("5", "0.5", "12.25") to milliseconds, at most a day. Parsed by hand: float
/// parsing would cost the stub tens of KB.
fn parse_millis(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty()
        || !(whole.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut ms = 0;
    for (i, b) in frac.bytes().take(3).enumerate() {
        ms += u64::from(b - b'0') * [100, 10, 1][i];
    }
    let total = secs.checked_mul(1000)?.checked_add(ms)?;
    (total <= 86_400_000).then_some(total)
}

/// What this head can decode, for the builder (`iupack_stub::stub_features`).
#[used]
static FEATURES: [u8; 40] = iupack_stub::FEATURES_MARK;

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let started = Instant::now();
    let argv: Vec<String> = std::env::args().skip(1).collect();

    // Our own file: a package when a payload is attached, the client tool when not.
    let own = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            return fail(&Error::other(format!(
                "cannot find this program's file: {e}"
            )))
        }
    };
    // A fleet tool reads the report even when the run stops before its options are understood
    // (a damaged package, a wrong flag): find --report and --log first.
    let early = |flag: &str| {
        argv.windows(2)
            .find(|w| w[0] == flag)
            .map(|w| PathBuf::from(&w[1]))
    };
    let (early_report, early_log) = (early("--report"), early("--log"));
    let own_pkg = match Package::open(&own, Expect::MaybeBare) {
        Ok(p) => p,
        Err(e) => {
            let mut r = Report::new("apply", &own.display().to_string());
            return finish_error(&e, &mut r, early_report.as_deref(), early_log.as_deref());
        }
    };
    let args = match parse_args(&argv, own_pkg.is_some()) {
        Ok(a) => a,
        Err(e) => {
            let mut r = Report::new("apply", &own.display().to_string());
            return finish_error(&e, &mut r, early_report.as_deref(), early_log.as_deref());
        }
    };
    if args.help {
        print!("{USAGE}{CLIENT_USAGE}{HELP}{INTERACTIVE}{HELP_REST}");
        return 0;
    }
    if args.version {
        println!("iupack-stub {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let mode = args.mode.clone().unwrap_or(Mode::Apply);
    let inventory_path = inventory::default_path(args.inventory.as_deref());
    let wait = args.wait.unwrap_or(iupack_stub::lock::DEFAULT_WAIT);
    let (mode_name, pkg_path) = match &args.command {
        Command::Run => (
            mode.name(),
            args.package.clone().unwrap_or_else(|| own.clone()),
        ),
        #[cfg(feature = "client")]
        Command::Status => {
            return match &args.export {
                Some(file) => export(&inventory_path, file),
                None => status(&inventory_path, args.json),
            }
        }
        #[cfg(feature = "client")]
        Command::ApplyFrom(share) => (mode.name(), share.clone()),
        #[cfg(feature = "client")]
        Command::Rollback(..) => ("rollback", PathBuf::new()),
        #[cfg(feature = "client")]
        Command::Recover => ("recover", PathBuf::new()),
    };
    let mut report = Report::new(mode_name, &pkg_path.display().to_string());

    let result = (|| match &args.command {
        #[cfg(feature = "client")]
        Command::Rollback(product, component) => {
            client::rollback(&inventory_path, product, component, wait, &mut report)
        }
        #[cfg(feature = "client")]
        Command::Recover => client::recover(&inventory_path, wait, &mut report),
        #[cfg(feature = "client")]
        Command::ApplyFrom(share) => {
            let opts = Options {
                mode: mode.clone(),
                inventory: inventory_path.clone(),
                downgrades: args.downgrades,
                pubkey: None,
                wait,
                interactive: Interactive::No,
                only: None,
            };
            iupack_stub::share::apply_from(share, &opts, &mut report)
        }
        _ => {
            let pkg = match own_pkg {
                Some(p) => p,
                None => Package::open(&pkg_path, Expect::Package)?.expect("a package or an error"),
            };
            let pubkey = match &args.pubkey {
                Some(p) => Some(read_pubkey(p)?),
                None => None,
            };
            let opts = Options {
                mode: mode.clone(),
                inventory: inventory_path.clone(),
                downgrades: args.downgrades,
                pubkey,
                wait,
                interactive: if args.interactive {
                    Interactive::Yes
                } else if args.mode.is_none() && !args.quiet && !args.json && on_terminal() {
                    Interactive::IfProductAsks
                } else {
                    Interactive::No
                },
                only: None,
            };
            apply::run(pkg, &opts, &mut report)
        }
    })();
    report.duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(code) => {
            report.exit_code = code.code();
            if let Err(e) = write_outputs(&report, args.report.as_deref(), args.log.as_deref()) {
                return fail(&e);
            }
            if args.json {
                println!("{}", report.to_json_pretty());
            } else if !args.quiet {
                print_human(&report, &mode);
            }
            report.exit_code
        }
        Err(e) => {
            let code = finish_error(&e, &mut report, args.report.as_deref(), args.log.as_deref());
            if args.json {
                println!("{}", report.to_json_pretty());
            }
            code
        }
    }
}

#[cfg(feature = "client")]
/// `status --export FILE`: what is installed, for `iupack plan` on the connected side.
fn export(inventory: &Path, file: &Path) -> i32 {
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
        Err(e) => fail(&e),
    }
}

#[cfg(feature = "client")]
/// `status`: prints what is installed (or JSON with --json).
fn status(inventory: &Path, json: bool) -> i32 {
    let st = match client::status(inventory) {
        Ok(st) => st,
        Err(e) => return fail(&e),
    };
    if json {
        println!("{}", st.to_pretty());
        return 0;
    }
    let s =
        |v: &iupack_stub::json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| "-".into());
    say!("inventory {}", s(&st["inventory"]));
    if st["interrupted_update"].as_bool() == Some(true) {
        say!("  an update was interrupted: run `iupack-stub recover` (any package run also does)");
    }
    for p in st["products"].as_array().into_iter().flatten() {
        say!("{} {} ({})", s(&p["id"]), s(&p["version"]), s(&p["name"]));
        for c in p["components"].as_array().into_iter().flatten() {
            let kept: Vec<String> = c["kept"].as_array().into_iter().flatten().map(s).collect();
            say!(
                "  {:<14} {:<14} installed {} by {}{}{}",
                s(&c["name"]),
                s(&c["version"]),
                s(&c["installed"]),
                s(&c["package"]),
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

fn read_pubkey(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read {}: {e}", path.display())))?;
    public_key_from_text(&text)
}

/// Records an error in the report, writes report and log, prints the error once (errors are
/// printed even with --quiet).
fn finish_error(
    e: &Error,
    report: &mut Report,
    report_path: Option<&Path>,
    log: Option<&Path>,
) -> i32 {
    report.exit_code = e.code.code();
    report.result = match e.code {
        ExitCode::NotApplicable => "not-applicable",
        ExitCode::NeedsOther | ExitCode::Downgrade | ExitCode::Signature | ExitCode::Damaged => {
            "refused"
        }
        _ => "failed",
    }
    .into();
    report.message = e.message.clone();
    if let Err(we) = write_outputs(report, report_path, log) {
        fail(&we);
    }
    fail(e)
}

/// Prints an error for people (on stderr, escaped, its hint on a line of its own).
fn fail(e: &Error) -> i32 {
    say_err(&format!("iupack-stub: error: {}", e.message));
    if let Some(hint) = &e.hint {
        say_err(&format!("  hint: {hint}"));
    }
    e.code.code()
}

/// What `say!` prints through: one line for people on stdout, escaped.
fn say_line(line: &str) {
    println!("{}", shown(line));
}

/// `say_line` on stderr.
fn say_err(line: &str) {
    eprintln!("{}", shown(line));
}

fn write_outputs(report: &Report, path: Option<&Path>, log: Option<&Path>) -> Result<(), Error> {
    if let Some(p) = path {
        let mut text = report.to_json_pretty();
        text.push('\n');
        fsutil::atomic_write(p, text.as_bytes())
            .map_err(|e| Error::other(format!("cannot write the report {}: {e}", p.display())))?;
    }
    if let Some(p) = log {
        fsutil::append_line(p, &report.to_json_line())
            .map_err(|e| Error::other(format!("cannot append to the log {}: {e}", p.display())))?;
    }
    Ok(())
}

/// A person at a console: both standard input and output are a terminal.
fn on_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

fn print_human(r: &Report, mode: &Mode) {
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
    if r.mode == "recover" || r.mode == "rollback" {
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
    say!("{}", r.message);
}

#[cfg(test)]
mod tests {
    use super::parse_millis;

    #[test]
    fn wait_seconds_parse_to_millis() {
        assert_eq!(parse_millis("5"), Some(5000));
        assert_eq!(parse_millis("0.5"), Some(500));
        assert_eq!(parse_millis(".25"), Some(250));
        assert_eq!(parse_millis("12.3456"), Some(12_345));
        assert_eq!(parse_millis("86400"), Some(86_400_000));
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "86401",
            "1.2.3",
            "five",
            "18446744073709551615",
        ] {
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
    }
}
