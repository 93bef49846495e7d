//! `iupack-stub`: the program at the head of every package, and (with no payload attached) the
//! installed client tool. This binary is the only part of the stub that talks to people and
//! fleet tools: it parses the command line (`args`), runs the library's apply engine or client
//! command, prints one result (`print`, `help`), writes the report and log, and exits with the
//! documented code (`iupack_stub::error::EXIT_CODES`). In the client tool it also answers the
//! interactive prompt (`interactive`). It makes no decision about a package or the machine.

mod args;
mod help;
#[cfg(feature = "client")]
mod interactive;
/// One line for people on stdout: `say!` formats, `shown` escapes what a package, a signature or
/// an inventory could have put there (all human output goes through these two).
macro_rules! say {
    ($($t:tt)*) => { crate::print::say_line(&format!($($t)*)) };
}
mod print;
#[cfg(feature = "client")]
mod self_update;

use args::{parse_args, Args, Command};
use iupack_stub::apply::report::Report;
use iupack_stub::apply::{self, Interactive, Mode, Options};
#[cfg(feature = "client")]
use iupack_stub::client;
use iupack_stub::format::package::{Expect, Package};
use iupack_stub::format::signature::public_key_from_text;
use iupack_stub::{machine::inventory, Error, ExitCode};
use print::{fail, finish_error};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What this head can decode, for the builder (`iupack_stub::stub_features`).
#[used]
static FEATURES: [u8; 64] = iupack_stub::FEATURES_MARK;

/// Which release the client tool is (`iupack_stub::stub_version`): what `--version` and every
/// report say, read from the mark at run time, so that the mark the builder signs as the
/// `iupack-client` component's version is what the binary says. (Heads say the crate's version.)
#[cfg(feature = "client")]
#[used]
static VERSION: [u8; 64] = iupack_stub::VERSION_MARK;

#[cfg(feature = "client")]
fn own_version() -> String {
    iupack_stub::stub_version(std::hint::black_box(&VERSION))
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").into())
}

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
    let json = argv.iter().any(|a| a == "--json");
    let early_fail = |e: Error, report: Option<&Path>, log: Option<&Path>| {
        early_failure(&e, &own, json, report, log)
    };
    let args = match Package::open(&own, Expect::MaybeBare)
        .and_then(|p| Ok((parse_args(&argv, p.is_some())?, p)))
    {
        Ok(a) => a,
        Err(e) => return early_fail(e, early_report.as_deref(), early_log.as_deref()),
    };
    let (args, own_pkg) = args;
    if args.help {
        help::print(args.topic.as_deref());
        return 0;
    }
    if args.version {
        #[cfg(feature = "client")]
        print::out(&format!("iupack-stub {}", own_version()));
        #[cfg(not(feature = "client"))]
        print::out(concat!("iupack-stub ", env!("CARGO_PKG_VERSION")));
        return 0;
    }
    // Before anything changes: a result that can't be recorded is found now, not after the run
    // (a log that can't be written is still reported to a --report that can).
    for (path, is_log) in [(&args.report, false), (&args.log, true)] {
        if let Some(Err(e)) = path.as_deref().map(|p| print::writable(p, is_log)) {
            return early_fail(e, args.report.as_deref().filter(|_| is_log), None);
        }
    }
    let mode = args.mode.clone().unwrap_or(Mode::Apply);
    let inventory_path = inventory::default_path(args.inventory.as_deref());
    let wait = args
        .wait
        .unwrap_or(iupack_stub::machine::lock::DEFAULT_WAIT);
    let (mode_name, pkg_path) = match &args.command {
        Command::Run => (
            mode.name(),
            args.package.clone().unwrap_or_else(|| own.clone()),
        ),
        #[cfg(feature = "client")]
        Command::Status => {
            return match &args.export {
                Some(file) => print::export(&inventory_path, file, args.inventory.is_some()),
                None => print::status(&inventory_path, args.json, args.inventory.is_some()),
            }
        }
        #[cfg(feature = "client")]
        Command::ApplyFrom(share) => (mode.name(), share.clone()),
        #[cfg(feature = "client")]
        Command::Rollback(..) => ("rollback", PathBuf::new()),
        #[cfg(feature = "client")]
        Command::Recover => ("recover", PathBuf::new()),
        #[cfg(feature = "client")]
        Command::Init => ("init", PathBuf::new()),
        #[cfg(feature = "client")]
        Command::Forget(_) => ("forget", PathBuf::new()),
    };
    let mut report = Report::new(mode_name, &pkg_path.display().to_string());
    #[cfg(feature = "client")]
    {
        report.tool = format!("iupack-stub {}", own_version());
    }
    let run = Run {
        mode: &mode,
        inventory: &inventory_path,
        wait,
    };
    let result = run
        .command(&args, own_pkg, &pkg_path, &mut report)
        .map_err(|e| mistyped(e, args.inventory.is_some()));
    #[cfg(feature = "client")]
    if let Some(code) = self_update::after(&result, &mut report, &argv) {
        return code;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    print::finish(result, &mut report, &args, &mode)
}

/// A run that stops before its options are understood, or before anything could change: the
/// error printed, recorded in `report` and `log` where given, and as JSON with `--json`.
// Out of line: a closure called from two places was made twice (measured).
#[inline(never)]
fn early_failure(
    e: &Error,
    own: &Path,
    json: bool,
    report: Option<&Path>,
    log: Option<&Path>,
) -> i32 {
    let mut r = Report::new("apply", &own.display().to_string());
    let code = finish_error(e, &mut r, report, log);
    if json {
        print::out(&r.to_json_pretty());
    }
    code
}

/// What every command of one run shares.
struct Run<'a> {
    mode: &'a Mode,
    inventory: &'a Path,
    wait: Duration,
}

impl Run<'_> {
    /// Runs what the command line asked, filling `report`.
    fn command(
        &self,
        args: &Args,
        own_pkg: Option<Package>,
        pkg_path: &Path,
        report: &mut Report,
    ) -> Result<ExitCode, Error> {
        match &args.command {
            #[cfg(feature = "client")]
            Command::Rollback(product, component) => {
                client::rollback(self.inventory, product, component, self.wait, report)
            }
            #[cfg(feature = "client")]
            Command::Recover => client::recover(self.inventory, self.wait, report),
            #[cfg(feature = "client")]
            Command::Init => client::init(self.inventory, &args.init, self.wait, report),
            #[cfg(feature = "client")]
            Command::Forget(product) => {
                client::forget(self.inventory, product, args.delete, self.wait, report)
            }
            #[cfg(feature = "client")]
            Command::ApplyFrom(share) => {
                let opts = self.options(args, None, Interactive::No);
                client::share::apply_from(share, &opts, &mut interactive::Terminal, report)
            }
            _ => {
                let pkg = match own_pkg {
                    Some(p) => p,
                    None => {
                        Package::open(pkg_path, Expect::Package)?.expect("a package or an error")
                    }
                };
                let pubkey = match &args.pubkey {
                    Some(p) => Some(read_pubkey(p)?),
                    None => None,
                };
                let interactive = if args.interactive {
                    Interactive::Yes
                } else if args.mode.is_none() && !args.quiet && !args.json && print::on_terminal() {
                    Interactive::IfProductAsks
                } else {
                    Interactive::No
                };
                let opts = self.options(args, pubkey, interactive);
                #[cfg(feature = "client")]
                let mut prompt = interactive::Terminal;
                #[cfg(not(feature = "client"))]
                let mut prompt = apply::prompt::NoPerson;
                apply::run(pkg, &opts, &mut prompt, report)
            }
        }
    }

    fn options(&self, args: &Args, pubkey: Option<String>, interactive: Interactive) -> Options {
        Options {
            mode: self.mode.clone(),
            inventory: self.inventory.to_path_buf(),
            downgrades: args.downgrades,
            pubkey,
            wait: self.wait,
            interactive,
            only: None,
            // The client tool re-runs itself once it is replaced (`self_update`).
            stop_after_client: cfg!(feature = "client"),
        }
    }
}

/// A path given with --inventory that isn't there is a mistake on the command line (exit 2),
/// never "product not installed" (exit 10, which fleet tools read as "skip this machine").
fn mistyped(e: Error, given: bool) -> Error {
    if given && e.code == ExitCode::NotApplicable && e.message.starts_with("no product inventory") {
        Error {
            code: ExitCode::Usage,
            hint: Some("check the path given with --inventory".into()),
            ..e
        }
    } else {
        e
    }
}

fn read_pubkey(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read {}: {e}", path.display())))?;
    public_key_from_text(&text)
}
