//! Fault injection for the crash-safety tests (feature `fault-injection`, never in a release
//! stub): every numbered step of a transaction calls [`step`]; with `IUPACK_FAULT_STEP=N` in the
//! environment the process stops dead at the N-th step with exit status 99 (`process::exit` runs no
//! destructors, so nothing is cleaned up, as after a `kill -9`), so a test can walk every step
//! and prove that `recover` finishes or undoes each one.
//! `IUPACK_FAULT_TRACE=1` prints each step's number and name on stderr.

#[cfg(feature = "fault-injection")]
pub fn step(name: &str) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if std::env::var_os("IUPACK_FAULT_TRACE").is_some() {
        eprintln!("fault step {n}: {name}");
    }
    let stop = std::env::var("IUPACK_FAULT_STEP")
        .ok()
        .and_then(|s| s.parse::<u32>().ok());
    if stop == Some(n) {
        eprintln!("fault injected at step {n}: {name}");
        std::process::exit(99);
    }
}

/// A no-op outside fault-injection builds.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn step(_name: &str) {}

/// Test builds: `IUPACK_FAULT_IN_USE=NAME` makes renaming a folder named NAME fail as if a file in
/// it were open (to prove the Windows restart path, which Wine can't provoke).
#[cfg(feature = "fault-injection")]
pub fn in_use(path: &std::path::Path) -> bool {
    std::env::var_os("IUPACK_FAULT_IN_USE").is_some_and(|n| path.file_name() == Some(n.as_os_str()))
}

/// Never, outside fault-injection builds.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn in_use(_path: &std::path::Path) -> bool {
    false
}
