//! The exclusive inventory lock (docs/design.md §6): one update at a time per inventory.
//!
//! The lock is an OS file lock on `INVENTORY.lock`, so the kernel releases it when its holder
//! dies however it dies: a stale lock file of a dead process never blocks anyone. The file holds
//! the holder's process id, for the message a waiting run prints. On Unix the holder removes the
//! file before unlocking, and a run that locked a file which was removed meanwhile starts over, so
//! no lock file is left behind and two runs can never hold two different files.

use crate::error::{Error, ExitCode, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a run waits for another update by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// The lock file of an inventory.
pub fn lock_path(inventory: &Path) -> PathBuf {
    crate::machine::inventory::beside(inventory, "lock")
}

/// A held inventory lock; released on drop.
#[derive(Debug)]
pub struct InventoryLock {
    file: Option<File>,
    /// Removed on release (Unix only).
    #[cfg_attr(not(unix), allow(dead_code))]
    path: PathBuf,
}

impl InventoryLock {
    /// Takes the lock, waiting up to `wait` for another holder; exit 40 when it stays held.
    pub fn acquire(inventory: &Path, wait: Duration) -> Result<InventoryLock> {
        let path = lock_path(inventory);
        let deadline = Instant::now() + wait;
        loop {
            let mut opts = OpenOptions::new();
            opts.read(true).write(true).create(true).truncate(false);
            // Never writable by others, whatever the umask.
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o644);
            // A symlink planted as the lock file is refused, not followed (and truncated).
            crate::platform::fsutil::no_follow(&mut opts);
            let mut file = opts.open(&path).map_err(|e| {
                Error::apply_io(format!("cannot open the lock file {}", path.display()), &e)
                    .hint("run as the user who may change the product (root or an administrator)")
            })?;
            // Truncated below: never someone else's file hard-linked here, nor a FIFO.
            crate::platform::fsutil::of_its_own(&file).map_err(|e| {
                Error::new(
                    ExitCode::ApplyFailed,
                    format!("the lock file {} is {e}", path.display()),
                )
                .hint("remove it (no update is running when its holder is gone) and check who can write the inventory's folder")
            })?;
            match file.try_lock() {
                Ok(()) => {
                    if !same_file(&file, &path) {
                        continue; // removed by its last holder after we opened it
                    }
                    let _ = file.set_len(0);
                    let _ = file.rewind();
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(InventoryLock {
                        file: Some(file),
                        path,
                    });
                }
                Err(fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        let holder = holder.trim();
                        let by = if holder.is_empty() {
                            String::new()
                        } else {
                            format!(" (process {holder})")
                        };
                        return Err(Error::new(
                            ExitCode::Locked,
                            format!(
                                "another update holds the inventory lock {}{by}; waited {} ms",
                                path.display(),
                                wait.as_millis() as u64
                            ),
                        )
                        .hint("run the package again when the other update has finished, or wait longer with --wait SECS"));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(Error::apply_io(
                        format!("cannot lock {}", path.display()),
                        &e,
                    ))
                }
            }
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}

impl Drop for InventoryLock {
    fn drop(&mut self) {
        // Unix: remove while still holding it (see the module text). Windows keeps the file:
        // an open file can't be removed there without racing a waiter.
        #[cfg(unix)]
        let _ = fs::remove_file(&self.path);
        drop(self.file.take());
    }
}
