//! Opening the machine for one run: the inventory's lock (held until the run ends), the
//! recovery of an update an earlier run left half done, the installs that waited for a restart
//! (settled once it has happened), then the inventory as it now is. Every package run (but
//! `--pubkey`'s, which reads no inventory), `rollback` and `recover` start here, so they all see
//! the machine the same way; `--check`, `--list`, `status` and `--export` read the inventory
//! without the lock and leave an interrupted update for the next changing run. Never decides
//! what to change: it only opens.

use crate::error::Result;
use crate::machine::fault;
use crate::machine::installed::installed_digest;
use crate::machine::inventory::{side_dir, InventoryFile};
use crate::machine::journal;
use crate::machine::lock::InventoryLock;
use crate::machine::transaction::{self, Transaction};
use crate::platform::fsutil;
use std::path::Path;
use std::time::Duration;

/// What a run will do to the inventory, which decides what opening it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only (`--check`, `--list`): takes no lock and leaves an interrupted update alone.
    Read,
    /// Stages and discards (`--dry-run`): locks and recovers, leaves restart-pending installs.
    Stage,
    /// Changes the machine (apply, rollback, recover): locks, recovers, settles restart-pending
    /// installs.
    Change,
}

/// An opened inventory: held locked (when `lock` is set) until this is dropped.
#[derive(Debug)]
pub struct Session {
    /// Held for its `Drop`: the lock is released when the session ends.
    _lock: Option<InventoryLock>,
    pub inv: InventoryFile,
    /// What opening finished or undid, for the report (or, reading, what it left).
    pub recovered: Option<String>,
    /// A reading run found an update's journal and left it: what the inventory says may not be
    /// what is on disk.
    pub interrupted: bool,
}

/// Opens the inventory at `inventory` (an absolute path, see `fsutil::absolute`) for `access`.
/// A missing inventory is the error that says so.
// Out of line: inlined into `apply::run` it made the package head larger (measured).
#[inline(never)]
pub fn open(inventory: &Path, wait: Duration, access: Access) -> Result<Session> {
    // A missing inventory takes no lock: loading it is the error that says there is none. A
    // reading run (a detection rule runs often) changes nothing, not even an interrupted
    // update's undo: it says so and leaves it to the next changing run.
    let mut recovered = None;
    let journal = journal::journal_path(inventory);
    let interrupted = access == Access::Read && fsutil::exists(&journal);
    if interrupted {
        recovered = Some(format!(
            "an update was interrupted or is under way ({} is there): the next package run, or \
             `iupack-stub recover`, finishes or undoes it; nothing was changed",
            journal.display()
        ));
    }
    let lock = if access != Access::Read && fsutil::exists(inventory) {
        let lock = InventoryLock::acquire(inventory, wait)?;
        fault::step("locked");
        recovered = transaction::recover(inventory)?.map(|r| r.message());
        Some(lock)
    } else {
        None
    };
    let mut inv = InventoryFile::load(inventory)?;
    if access == Access::Change {
        if let Some(done) = settle_pending(&inv)? {
            recovered = Some(match recovered {
                Some(r) => format!("{r}; {done}"),
                None => done,
            });
            inv = InventoryFile::load(inventory)?;
        }
    }
    Ok(Session {
        _lock: lock,
        inv,
        recovered,
        interrupted,
    })
}

/// Finishes installs that waited for a restart (Windows, files in use): when the restart has
/// swapped the staged tree in (the staging folder is gone and the live tree is the pending one),
/// the inventory records it. Call with the lock held. Returns a message when it did anything.
fn settle_pending(inv: &InventoryFile) -> Result<Option<String>> {
    let mut next = inv.clone();
    let mut done = Vec::new();
    let mut remove_after = Vec::new();
    for p in &mut next.inventory.products {
        let keep = p.keep_previous as usize;
        for (name, c) in p.components.iter_mut() {
            let Some(pending) = c.pending.clone() else {
                continue;
            };
            let dir = inv.resolve(&c.path);
            if fsutil::exists(&pending.stage)
                || installed_digest(&dir, &pending.exec).as_deref() != Some(pending.tree.as_str())
            {
                continue;
            }
            done.push(format!("{name} {}", pending.version));
            remove_after.extend(c.make_live(pending, keep, &side_dir(&dir)));
        }
    }
    if done.is_empty() {
        return Ok(None);
    }
    let bytes = next.to_bytes();
    let mut txn = Transaction::new(&inv.path, "finish after restart".into());
    txn.commit(
        Vec::new(),
        &|_| (bytes.clone(), remove_after.clone()),
        Vec::new(),
    )?;
    Ok(Some(format!(
        "finished after the restart: {} installed",
        done.join(", ")
    )))
}
