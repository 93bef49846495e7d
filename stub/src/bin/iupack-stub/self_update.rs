//! The client tool's second step after it replaced itself (issue 23): the run that updated the
//! client tool (`apply::client_tool`, result `client-updated`) hands the rest of the package to
//! the new binary, run with the same arguments (on Unix in place of this process, so the caller
//! sees one run with one exit code; on Windows as a child whose code is ours). The new one finds
//! its own version recorded, so it never updates again, and reports the update it was started
//! after. Prints nothing of its own unless the new binary can't be started.

use iupack_stub::apply::report::{ClientReport, Report};
use iupack_stub::{Error, ExitCode};
use std::process::Command;

/// Set for the second step: the update the first step made, as `FROM`, `TO` and `PATH` on
/// three lines.
const UPDATED: &str = "IUPACK_CLIENT_UPDATED";

/// After a run: hands over to the new client tool when the run replaced it (returns the exit
/// code to end with), else, in a second step, records in the report the update the first step
/// made, and returns `None`.
pub fn after(
    result: &Result<ExitCode, Error>,
    report: &mut Report,
    argv: &[String],
) -> Option<i32> {
    let updated = result.is_ok() && report.result == "client-updated";
    let Some(client) = report.client.as_ref().filter(|_| updated) else {
        // A second step (or any other run): say what the first step did.
        if let Some((from, to, path)) = std::env::var(UPDATED).ok().and_then(|v| {
            let mut l = v
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
                .into_iter();
            Some((l.next()?, l.next()?, l.next()?))
        }) {
            report.client = Some(ClientReport {
                path,
                from: Some(from).filter(|f| !f.is_empty()),
                to,
                action: "updated".into(),
            });
        }
        return None;
    };
    let mut cmd = Command::new(&client.path);
    let handed = format!(
        "{}\n{}\n{}",
        client.from.as_deref().unwrap_or(""),
        client.to,
        client.path
    );
    cmd.args(argv).env(UPDATED, handed);
    #[cfg(unix)]
    let failed = std::os::unix::process::CommandExt::exec(&mut cmd);
    #[cfg(not(unix))]
    let failed = match cmd.status() {
        Ok(s) => return Some(s.code().unwrap_or(1)),
        Err(e) => e,
    };
    eprintln!(
        "iupack-stub: error: the client tool was updated to {} ({}), but it can't be started: {failed}",
        client.to, client.path
    );
    eprintln!(
        "hint: run the package again with {}; the rest of it was not applied",
        client.path
    );
    Some(1)
}
