//! The commit journal (docs/design.md §6), the document `machine::transaction` writes: every change a run makes to a machine is written down, synced,
//! before it is made, so that a run killed at any instant — power cut, `kill -9`, a crash — is
//! finished or undone by the next run, and the machine is always one whole release or the other.
//!
//! A transaction has two phases, each recorded in `INVENTORY.journal` (written atomically):
//!
//! 1. **staging**: the staging folders this run creates, and the folders it makes for them.
//!    Undoing removes them. Nothing live has changed yet.
//! 2. **commit**: the renames that swap trees (live → kept copy, staged → live), in order, the
//!    SHA-256 of the new inventory, its temp file, and what to remove once committed (kept copies
//!    beyond `keep_previous`, a rolled-back tree). Renames are made in order, each followed by
//!    syncing both folders; then the inventory is replaced atomically. **The inventory is the
//!    commit point**: if the inventory on disk is the new one, the transaction is finished
//!    (removals done, journal removed); otherwise every rename that was done is undone, in
//!    reverse, and the inventory is the old one, still true.
//!
//! A rename `from → to` is done when `from` is gone and `to` exists; undoing in reverse order
//! keeps that test exact even where a later rename reuses an earlier one's source (the live
//! folder). Recovery is idempotent: it can itself be killed and run again.

use crate::error::Result;
use crate::json::{self, object, FromJson, JsonError, ToJson, Value};
use std::path::{Path, PathBuf};

pub const FORMAT: u32 = 1;
/// The format of a journal that replaces the client tool (`client`): a stub that reads only
/// format 1 refuses it (exit 1, nothing changed) rather than undo half of it.
pub const FORMAT_CLIENT: u32 = 2;
pub(super) const MAX_JOURNAL_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Staging,
    Commit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub from: PathBuf,
    pub to: PathBuf,
    /// The component whose swap this rename is part of. On Windows, when a component's first
    /// rename finds a file in use, all its renames are deferred to the next restart.
    pub group: Option<String>,
}

impl Rename {
    pub fn new(from: PathBuf, to: PathBuf) -> Rename {
        Rename {
            from,
            to,
            group: None,
        }
    }
}

/// What the inventory and the prune list are, given the components deferred to a restart.
pub type CommitPlan<'a> = &'a dyn Fn(&[String]) -> (Vec<u8>, Vec<PathBuf>);

#[derive(Debug, Clone)]
pub struct Journal {
    pub format: u32,
    /// What the run was doing, for messages: "apply acme-av-2026.11.24.1-…", "rollback …".
    pub action: String,
    pub pid: u32,
    pub phase: Phase,
    /// Staging folders this run creates (removed when undone).
    pub stages: Vec<PathBuf>,
    /// Folders this run made for its staging, outermost first (removed when undone, if empty).
    pub made: Vec<PathBuf>,
    /// The swaps, in the order they are made.
    pub renames: Vec<Rename>,
    /// SHA-256 of the inventory that commits this transaction.
    pub inventory_new: Option<String>,
    /// The temp file the new inventory is written to before it is renamed into place.
    pub inventory_temp: Option<PathBuf>,
    /// Removed once committed.
    pub remove_after: Vec<PathBuf>,
    /// Removed once committed, when empty.
    pub remove_if_empty: Vec<PathBuf>,
    /// Windows: renames scheduled for the next restart once committed (files in use).
    pub reboot_moves: Vec<Rename>,
    /// The product whose components the renames swap, and the tree digest each component has
    /// once committed: how recovery tells a committed update from one that was not when the
    /// inventory was edited after the crash (so its bytes are neither the old nor the new ones).
    pub product: Option<String>,
    pub trees: json::sorted::SortedMap<String>,
    /// The client tool this transaction replaces (format 2), swapped after the renames and
    /// before the inventory is written. Builds without `install` refuse such a journal.
    #[cfg(feature = "install")]
    pub client: Option<ClientSwap>,
}

/// A client tool's swap (`machine::transaction`): `new` (written and synced in a staging
/// folder) takes the place of `live`; the binary that was there is kept at `kept` (a hard link
/// made before the swap on Unix, so that `live` is never missing; moved aside on Windows, where a
/// running program can't be replaced, only renamed). `kept` is `None` when nothing was there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSwap {
    pub live: PathBuf,
    pub new: PathBuf,
    pub kept: Option<PathBuf>,
    /// SHA-256 of the new binary: how recovery tells the new one from the old.
    pub sha256: String,
}

object!(Rename, ignore, { from: req, to: req, group: opt });
#[cfg(feature = "install")]
object!(Journal, ignore, {
    format: req, action: req, pid: req, phase: req, stages: dflt, made: dflt, renames: dflt,
    inventory_new: null, inventory_temp: null, remove_after: dflt, remove_if_empty: dflt,
    reboot_moves: list, product: opt, trees: list, client: opt,
});
#[cfg(not(feature = "install"))]
object!(Journal, ignore, {
    format: req, action: req, pid: req, phase: req, stages: dflt, made: dflt, renames: dflt,
    inventory_new: null, inventory_temp: null, remove_after: dflt, remove_if_empty: dflt,
    reboot_moves: list, product: opt, trees: list,
});
#[cfg(feature = "install")]
object!(ClientSwap, ignore, { live: req, new: req, kept: opt, sha256: req });

impl FromJson for Phase {
    fn from_json(v: &Value) -> std::result::Result<Self, JsonError> {
        match v.as_str() {
            Some("staging") => Ok(Phase::Staging),
            Some("commit") => Ok(Phase::Commit),
            _ => Err(JsonError::new("expected staging or commit")),
        }
    }
}

impl ToJson for Phase {
    fn to_json(&self) -> Value {
        match self {
            Phase::Staging => "staging",
            Phase::Commit => "commit",
        }
        .to_json()
    }
}

impl Journal {
    /// Every path the journal records, to check they can be written as JSON text.
    pub(super) fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        let renames = self.renames.iter().chain(&self.reboot_moves);
        #[cfg(feature = "install")]
        let client = (self.client.iter())
            .flat_map(|c| [Some(&c.live), Some(&c.new), c.kept.as_ref()])
            .flatten();
        #[cfg(not(feature = "install"))]
        let client = std::iter::empty::<&PathBuf>();
        self.stages
            .iter()
            .chain(&self.made)
            .chain(renames.flat_map(|r| [&r.from, &r.to]))
            .chain(&self.inventory_temp)
            .chain(&self.remove_after)
            .chain(&self.remove_if_empty)
            .chain(client)
    }
}

/// The journal file of an inventory.
pub fn journal_path(inventory: &Path) -> PathBuf {
    crate::machine::inventory::beside(inventory, "journal")
}
