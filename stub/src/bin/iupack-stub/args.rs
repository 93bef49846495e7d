//! The command line, parsed by hand to stay small (an argument parser crate cost the head tens
//! of KB): flags, the client tool's commands, and every combination that is refused as a usage
//! error (exit 2) with what to type instead. Parsing only: nothing is opened or run here.

use iupack_stub::apply::{Downgrades, Mode};
use iupack_stub::Error;
use std::path::PathBuf;

/// What the client tool was asked to do (a package run is `Run`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Command {
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
    #[cfg(feature = "client")]
    Init,
    #[cfg(feature = "client")]
    Forget(String),
}

#[derive(Debug, Default)]
pub struct Args {
    pub command: Command,
    pub package: Option<PathBuf>,
    pub wait: Option<std::time::Duration>,
    pub mode: Option<Mode>,
    pub quiet: bool,
    pub interactive: bool,
    pub json: bool,
    pub inventory: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub pubkey: Option<PathBuf>,
    pub from: Option<PathBuf>,
    pub export: Option<PathBuf>,
    pub downgrades: Downgrades,
    pub help: bool,
    /// With --help in the client tool: the command it is asked about (`rollback --help`).
    pub topic: Option<String>,
    pub version: bool,
    /// `init`'s product, version and flags (`--key`, `--component`, ...).
    #[cfg(feature = "client")]
    pub init: iupack_stub::client::InitSpec,
    /// One of `init`'s flags was given (they go with init only).
    #[cfg(feature = "client")]
    pub init_flag: Option<&'static str>,
    /// `forget --delete`: the product's folders and kept copies too.
    #[cfg(feature = "client")]
    pub delete: bool,
}

pub fn parse_args(argv: &[String], has_payload: bool) -> Result<Args, Error> {
    let mut a = Args::default();
    let mut it = argv.iter();
    let mut positional = Vec::new();
    let set_mode = |a: &mut Args, m: Mode| -> Result<(), Error> {
        if a.mode.replace(m).is_some() {
            return Err(Error::usage(
                "give only one of --list, --check, --verify, --dry-run, --extract, --install-client",
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
            "--install-client" => {
                // An optional folder: the next argument unless it is an option.
                let dir = it.as_slice().first().filter(|v| !v.starts_with('-'));
                let dir = dir.map(PathBuf::from);
                if dir.is_some() {
                    it.next();
                }
                set_mode(&mut a, Mode::InstallClient(dir))?
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
            #[cfg(feature = "client")]
            "--delete" => a.delete = true,
            #[cfg(feature = "client")]
            "--key" | "--name" | "--component" | "--keep-previous" | "--hooks" | "--force" => {
                let flag = match arg.as_str() {
                    "--key" => "--key",
                    "--name" => "--name",
                    "--component" => "--component",
                    "--keep-previous" => "--keep-previous",
                    "--hooks" => "--hooks",
                    _ => "--force",
                };
                a.init_flag = Some(flag);
                let text = |v: PathBuf| v.to_string_lossy().into_owned();
                match flag {
                    "--key" => a.init.keys.push(text(value(flag)?)),
                    "--name" => a.init.name = Some(text(value(flag)?)),
                    "--component" => a.init.components.push(text(value(flag)?)),
                    "--keep-previous" => a.init.keep_previous = Some(text(value(flag)?)),
                    "--hooks" => a.init.hooks = Some(value(flag)?),
                    _ => a.init.force = true,
                }
            }
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
    if a.pubkey.is_some()
        && !matches!(
            a.mode,
            Some(Mode::Verify | Mode::Extract(_) | Mode::InstallClient(_))
        )
    {
        return Err(Error::usage(
            "--pubkey goes with --verify, --extract or --install-client",
        ));
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
    if a.help {
        // `iupack-stub rollback --help` (with or without its arguments): that command's page.
        a.topic = positional.next();
        positional.for_each(drop);
        return Ok(());
    }
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
        Some("init") => {
            let (Some(p), Some(v)) = (positional.next(), positional.next()) else {
                return Err(Error::usage(
                    "init needs the product id and its installed version: iupack-stub init PRODUCT VERSION --key FILE.pub [--component NAME=PATH]...",
                ));
            };
            a.command = Command::Init;
            a.init.product = p;
            a.init.version = v;
        }
        Some("recover") => a.command = Command::Recover,
        Some("forget") => {
            let Some(p) = positional.next() else {
                return Err(Error::usage(
                    "forget needs the product: iupack-stub forget PRODUCT [--delete]",
                ));
            };
            a.command = Command::Forget(p);
        }
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
                "run a package file directly, or: iupack-stub apply PKG | init PRODUCT VERSION | status | rollback PRODUCT COMPONENT | forget PRODUCT | recover",
            ))
        }
        None if a.help || a.version => {}
        None => {
            return Err(Error::usage("this iupack-stub carries no package").hint(
                "run a package file directly, or: iupack-stub apply PKG | init PRODUCT VERSION | status | rollback PRODUCT COMPONENT | forget PRODUCT | recover",
            ))
        }
    }
    if a.delete && !matches!(a.command, Command::Forget(_)) {
        return Err(Error::usage(
            "--delete goes with forget: iupack-stub forget PRODUCT --delete",
        ));
    }
    if let (Some(flag), false) = (a.init_flag, a.command == Command::Init) {
        return Err(Error::usage(format!(
            "{flag} goes with init: iupack-stub init PRODUCT VERSION --key FILE.pub ..."
        )));
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
            "init, status, rollback, forget and recover take only --inventory, --wait, --json, -q, --report and --log (and init and forget their own flags)",
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
