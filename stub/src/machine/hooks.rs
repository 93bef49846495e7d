//! Inventory hooks (docs/design.md §5): local commands the machine's admin configures, never package
//! content. `validate` runs once per component against its staged tree before the swap (non-zero
//! or too slow → exit 31, nothing changed); `after` runs once after the commit.
//!
//! ```json
//! "hooks": { "validate": ["acme", "--test-defs", "{staged}"], "after": ["acme", "--reload"],
//!            "timeout_secs": 300 }
//! ```
//!
//! Arguments may name `{staged}` (the tree being checked), `{live}` (the component's folder),
//! `{component}`, `{version}` (the new one), `{from}` (the installed one) and `{product}`; the
//! same values are in the environment as `IUPACK_STAGED`, `IUPACK_LIVE`, `IUPACK_COMPONENT`,
//! `IUPACK_VERSION`, `IUPACK_FROM`, `IUPACK_PRODUCT` (and `IUPACK_COMPONENTS` for `after`). The
//! hook's output goes to the stub's stderr, so `--json` stays clean.
//!
//! Hooks run in the installed client tool (feature `client`). A package head carries no
//! process-spawning code (its size is tracked): on a product whose inventory configures hooks it
//! refuses before changing anything and names the client tool, never skipping a hook.

use crate::error::{Error, ExitCode, Result};
use crate::json::{object, FromJson, Value};
#[cfg(feature = "client")]
use std::process::{Command, Stdio};
use std::time::Duration;
#[cfg(feature = "client")]
use std::time::Instant;

pub const DEFAULT_TIMEOUT_SECS: u64 = 300;

#[derive(Debug, Clone, Default)]
pub struct Hooks {
    pub validate: Option<Vec<String>>,
    pub after: Option<Vec<String>>,
    pub timeout_secs: Option<u64>,
}

// Unknown fields refused: a misspelt hook would otherwise be a hook that silently never runs.
object!(Hooks, deny, { validate: opt, after: opt, timeout_secs: opt });

impl Hooks {
    /// The product's hooks from its inventory entry; a malformed entry is an error (a hook the
    /// admin meant to run must not be skipped silently).
    pub fn of(value: Option<&Value>, product: &str) -> Result<Hooks> {
        let Some(v) = value else {
            return Ok(Hooks::default());
        };
        let hooks = Hooks::from_json(v).map_err(|e| {
            Error::other(format!("the inventory's hooks for {product} are not valid: {e}"))
                .hint("hooks are { \"validate\": [PROGRAM, ARGS...], \"after\": [...], \"timeout_secs\": N }")
        })?;
        #[cfg(not(feature = "client"))]
        if hooks.validate.is_some() || hooks.after.is_some() {
            return Err(Error::other(format!(
                "the inventory gives {product} hooks to run, and a package head does not run hooks"
            ))
            .hint("apply the package with the installed client tool, which runs them: iupack-stub apply PKG; nothing was changed"));
        }
        for (name, argv) in [("validate", &hooks.validate), ("after", &hooks.after)] {
            if argv
                .as_ref()
                .is_some_and(|a| a.is_empty() || a[0].is_empty())
            {
                return Err(Error::other(format!(
                    "the inventory's {name} hook for {product} names no program"
                )));
            }
        }
        Ok(hooks)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }
}

/// The values a hook's arguments and environment can name.
pub type Vars<'a> = &'a [(&'a str, String)];

/// A package head runs no hooks (`Hooks::of` refused any there were).
#[cfg(not(feature = "client"))]
pub fn run(argv: &[String], vars: Vars<'_>, timeout: Duration) -> std::result::Result<(), String> {
    let _ = (argv, vars, timeout);
    Err("hooks run in the installed client tool only".into())
}

/// Runs a hook to completion within `timeout`. `Err(why)` when it can't start, fails or overruns
/// (it is killed then).
#[cfg(feature = "client")]
pub fn run(argv: &[String], vars: Vars<'_>, timeout: Duration) -> std::result::Result<(), String> {
    let expand = |arg: &str| {
        let mut s = arg.to_string();
        for (k, v) in vars {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    };
    let program = expand(&argv[0]);
    let mut cmd = Command::new(&program);
    cmd.args(argv[1..].iter().map(|a| expand(a)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit());
    for (k, v) in vars {
        cmd.env(format!("IUPACK_{}", k.to_ascii_uppercase()), v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(match status.code() {
                    Some(c) => format!("`{program}` exited with {c}"),
                    None => format!("`{program}` was killed by a signal"),
                })
            }
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{program}` did not finish within {} s and was stopped",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for `{program}`: {e}")),
        }
    }
}

/// Runs the `validate` hook for one staged component: exit 31 when it rejects.
pub fn validate(hooks: &Hooks, vars: Vars<'_>, component: &str) -> Result<()> {
    let Some(argv) = &hooks.validate else {
        return Ok(());
    };
    run(argv, vars, hooks.timeout()).map_err(|why| {
        Error::new(
            ExitCode::HookRejected,
            format!("the validate hook rejected the new {component}: {why}"),
        )
        .hint("nothing was changed; see the hook's output above, or fix the inventory's hooks")
    })
}

/// Runs the `after` hook, once an update is committed. Its failure can't undo anything: it is a
/// warning in the result (`warnings`), not an error.
pub fn after(hooks: &Hooks, product: &str, components: &str, warnings: &mut Vec<String>) {
    let Some(argv) = &hooks.after else {
        return;
    };
    let vars = [
        ("product", product.to_string()),
        ("components", components.replace(", ", " ")),
    ];
    if let Err(why) = run(argv, &vars, hooks.timeout()) {
        warnings.push(format!("the after hook failed: {why}"));
    }
}
