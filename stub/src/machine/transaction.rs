//! The transaction engine: every change a run makes to the machine goes through a
//! [`Transaction`] that writes it down in the journal (`machine::journal`, synced) before making
//! it, then makes it (staging folders, the renames that swap trees, the new inventory as the
//! commit point, removals after it); dropped before it commits, it undoes everything. `recover`
//! finishes or undoes what a killed run left. Works only through the folder handles of `dirs`
//! (`platform::safedir`); never reads a package.

#[cfg(feature = "install")]
use super::journal::ClientSwap;
use super::journal::{
    journal_path, CommitPlan, Journal, Phase, Rename, FORMAT, FORMAT_CLIENT, MAX_JOURNAL_BYTES,
};
use crate::error::{Error, ExitCode, Result};
use crate::format::digest::hex;
use crate::json::{self, ToJson};
use crate::machine::fault;
use crate::platform::fsutil::{self, sync_dir};
use crate::platform::safedir::{self, Dirs};
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

fn sha256_file(path: &Path) -> Option<String> {
    fs::read(path).ok().map(|b| hex(&Sha256::digest(&b)))
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::apply_io(what, &e)
}

/// How an interrupted transaction was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// The new inventory was in place: the transaction was finished.
    Finished(String),
    /// It was not: every change was undone.
    Undone(String),
}

impl Recovered {
    pub fn message(&self) -> String {
        match self {
            Recovered::Finished(a) => format!("finished an interrupted update ({a})"),
            Recovered::Undone(a) => {
                format!("undid an interrupted update ({a}); the machine is as it was before it")
            }
        }
    }
}

/// Removes the temp files an atomic write of the journal or the inventory leaves when its run is
/// killed before the rename (the kill -9 soak found a journal's). Called with the inventory lock
/// held, so no other run is writing them: any there are stale. The inventory temp a journal
/// records (`.NAME.new-…`) is not among them; the journal's own recovery removes that one.
fn remove_stale_temps(inventory: &Path, journal: &Path) {
    let prefixes: Vec<String> = [inventory, journal]
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| format!(".{}.tmp-", n.to_string_lossy()))
        .collect();
    let Ok(entries) = fs::read_dir(fsutil::parent_of(inventory)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// True when the inventory on disk, though not byte for byte the one the transaction wrote,
/// records every swapped component at the tree the transaction swapped in (live, or waiting for a
/// restart): the update committed, and someone (config management) edited the inventory since.
/// Undoing it then would leave the inventory naming trees that are gone.
fn records_new_trees(journal: &Journal, inventory: &Path) -> bool {
    let Ok(inv) = crate::machine::inventory::InventoryFile::load(inventory) else {
        return false;
    };
    #[cfg(feature = "install")]
    if let Some(swap) = &journal.client {
        // The record names the new binary, and the new binary is what is there (a reinstall of
        // the same version over a damaged file has the record's digest before it commits).
        let recorded = inv.inventory.client.as_ref();
        if recorded.is_none_or(|c| c.sha256 != swap.sha256)
            || sha256_file(&swap.live).as_ref() != Some(&swap.sha256)
        {
            return false;
        }
        if journal.trees.is_empty() {
            return true;
        }
    }
    let (Some(product), false) = (&journal.product, journal.trees.is_empty()) else {
        return false;
    };
    let Some(p) = inv.product(product) else {
        return false;
    };
    journal.trees.iter().all(|(name, tree)| {
        p.components.get(name).is_some_and(|c| {
            c.tree.as_deref() == Some(tree.as_str())
                || c.pending.as_ref().is_some_and(|p| p.tree == *tree)
        })
    })
}

/// Finishes or undoes the transaction an earlier run left in `inventory`'s journal. Call with the
/// inventory lock held. `Ok(None)` when there was nothing to recover.
pub fn recover(inventory: &Path) -> Result<Option<Recovered>> {
    let path = journal_path(inventory);
    remove_stale_temps(inventory, &path);
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::apply_io(
                format!("cannot read {}", path.display()),
                &e,
            ))
        }
    };
    let unreadable = |why: String| {
        Error::new(
            ExitCode::Error,
            format!(
                "the journal of an interrupted update, {}, can't be read: {why}",
                path.display()
            ),
        )
        .hint("restore the product's folders and inventory from backup, then remove the journal; iupack changed nothing")
    };
    if !meta.is_file() || meta.len() > MAX_JOURNAL_BYTES {
        return Err(unreadable("not a file of at most 16 MiB".into()));
    }
    let bytes = fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
    let journal: Journal = json::from_slice(&bytes).map_err(unreadable)?;
    if journal.format == FORMAT_CLIENT && !cfg!(feature = "install") {
        return Err(Error::new(
            ExitCode::Error,
            format!(
                "the journal {} is of an interrupted update of the client tool, which this package's head does not finish",
                path.display()
            ),
        )
        .hint("run `iupack-stub recover` (the client tool, or its kept copy in .iupack-stub.iupack/), or a package that carries the client tool; nothing was changed"));
    }
    if journal.format != FORMAT && journal.format != FORMAT_CLIENT {
        return Err(unreadable(format!(
            "format {} is not {FORMAT}",
            journal.format
        )));
    }
    let mut txn = Transaction {
        journal,
        path,
        inventory: inventory.to_path_buf(),
        written: true,
        done: false,
        warnings: Vec::new(),
        dirs: Dirs::default(),
    };
    let committed = txn.journal.phase == Phase::Commit
        && txn.journal.inventory_new.is_some()
        && (sha256_file(inventory) == txn.journal.inventory_new
            || records_new_trees(&txn.journal, inventory));
    let action = txn.journal.action.clone();
    if committed {
        txn.finish();
        txn.done = true;
        Ok(Some(Recovered::Finished(action)))
    } else {
        txn.undo()?;
        txn.done = true;
        let mut action = action;
        for w in &txn.warnings {
            action = format!("{action}; {w}");
        }
        Ok(Some(Recovered::Undone(action)))
    }
}

/// A transaction on one inventory and the folders it names. Dropped before it commits, it undoes
/// everything it did; if undoing fails, its journal stays for the next run to finish the job.
#[derive(Debug)]
pub struct Transaction {
    journal: Journal,
    path: PathBuf,
    inventory: PathBuf,
    /// The journal file exists.
    written: bool,
    /// Committed and finished, or undone.
    done: bool,
    /// Problems after the commit point that lose nothing (the journal stays for the next run).
    pub warnings: Vec<String>,
    /// Every folder the transaction changes, opened once; side folders checked (`safedir`).
    pub dirs: Dirs,
}

impl Transaction {
    /// Starts a transaction (nothing is written until [`Transaction::stage`]).
    pub fn new(inventory: &Path, action: String) -> Transaction {
        Transaction {
            journal: Journal {
                format: FORMAT,
                action,
                pid: std::process::id(),
                phase: Phase::Staging,
                stages: Vec::new(),
                made: Vec::new(),
                renames: Vec::new(),
                inventory_new: None,
                inventory_temp: None,
                remove_after: Vec::new(),
                remove_if_empty: Vec::new(),
                reboot_moves: Vec::new(),
                product: None,
                trees: Default::default(),
                #[cfg(feature = "install")]
                client: None,
            },
            path: journal_path(inventory),
            inventory: inventory.to_path_buf(),
            written: false,
            done: false,
            warnings: Vec::new(),
            dirs: Dirs::default(),
        }
    }

    /// Records staging folders and the missing folders above them, then creates them: the
    /// journal is on disk before the first of them is. Each staging folder is made new inside its
    /// side folder, which is made now (mode 0700) or must be one an earlier run made
    /// (`safedir`); both stay open in `dirs` for the writes, the swaps and the removals.
    pub fn stage(&mut self, stages: &[PathBuf]) -> Result<()> {
        let mut made: Vec<PathBuf> = Vec::new();
        for stage in stages {
            let mut missing = Vec::new();
            let mut cur = stage.parent();
            while let Some(d) = cur.filter(|p| !p.as_os_str().is_empty()) {
                if fsutil::exists(d) || made.iter().any(|m| m == d) {
                    break;
                }
                missing.push(d.to_path_buf());
                cur = d.parent();
            }
            missing.reverse();
            made.extend(missing);
        }
        self.journal.made.extend(made.iter().cloned());
        self.journal.stages.extend(stages.iter().cloned());
        self.write()?;
        fault::step("staging recorded");
        for d in made.iter().filter(|d| !safedir::is_side(d)) {
            // 0755 whatever the umask: a folder that will hold a component (or the client
            // tool) must not be one another user can change.
            let folder = fs::DirBuilder::new();
            #[cfg(unix)]
            let folder = {
                let mut f = folder;
                std::os::unix::fs::DirBuilderExt::mode(&mut f, 0o755);
                f
            };
            folder
                .create(d)
                .map_err(io_err(format!("cannot create {}", d.display())))?;
        }
        for stage in stages {
            let (side, name) = safedir::split(stage);
            let side = self.dirs.get(&side, true)?;
            if side.exists(&name) {
                // A run of the same process id left it (the side folder is ours alone).
                let _ = side.remove_all(&name);
            }
            let made = side.mkdir(&name, 0o755).and_then(|()| side.sub(&name));
            let dir = made.map_err(io_err(format!("cannot create {}", stage.display())))?;
            self.dirs.add(dir);
        }
        Ok(())
    }

    /// Makes this transaction replace the client tool too (`ClientSwap`): done at the commit,
    /// after the renames, before the inventory.
    #[cfg(feature = "install")]
    pub fn replace_client(&mut self, swap: ClientSwap) {
        self.journal.format = FORMAT_CLIENT;
        self.journal.client = Some(swap);
    }

    /// Records that once committed, `component` of `product` is at `tree` (see `Journal::trees`).
    pub fn expect_tree(&mut self, product: &str, component: &str, tree: &str) {
        self.journal.product = Some(product.to_string());
        self.journal
            .trees
            .insert(component.to_string(), tree.to_string());
    }

    /// Writes the journal atomically (temp, sync, rename, sync folder).
    fn write(&mut self) -> Result<()> {
        if let Some(p) = self.journal.paths().find(|p| p.to_str().is_none()) {
            return Err(Error::new(
                ExitCode::ApplyFailed,
                format!(
                    "cannot record the update: the path {} is not UTF-8",
                    p.display()
                ),
            ));
        }
        let bytes = self.journal.to_json().to_pretty().into_bytes();
        fsutil::atomic_write(&self.path, &bytes).map_err(io_err(format!(
            "cannot write the journal {}",
            self.path.display()
        )))?;
        self.written = true;
        Ok(())
    }

    /// Commits: records the renames and the new inventory, makes the renames (each synced),
    /// replaces the inventory (the commit point), then removes what the journal says. Any failure
    /// before the inventory is replaced undoes every rename. `plan` gives the inventory bytes and
    /// the prune list for a set of components deferred to a restart (none, normally); on Windows a
    /// component whose live folder holds a file in use is deferred: its renames are scheduled for
    /// the next restart once the inventory (which records it as pending) is in place. Returns the
    /// deferred components.
    pub fn commit(
        &mut self,
        renames: Vec<Rename>,
        plan: CommitPlan<'_>,
        remove_if_empty: Vec<PathBuf>,
    ) -> Result<Vec<String>> {
        match self.try_commit(renames, plan, remove_if_empty) {
            Err(mut e) if !self.done => {
                // Undone now rather than on drop, so the error can say what undoing found.
                self.done = true;
                if let Err(u) = self.undo() {
                    e.message = format!("{}; undoing it failed too: {}", e.message, u.message);
                }
                for w in self.warnings.drain(..) {
                    e.message = format!("{}; {w}", e.message);
                }
                Err(e)
            }
            other => other,
        }
    }

    fn try_commit(
        &mut self,
        renames: Vec<Rename>,
        plan: CommitPlan<'_>,
        remove_if_empty: Vec<PathBuf>,
    ) -> Result<Vec<String>> {
        // Names in a side folder are made only by renames like these: so that undoing can tell a
        // done rename by its target, every target there must be free before the first one.
        for r in &renames {
            if safedir::is_side(&fsutil::parent_of(&r.to)) && self.dirs.exists(&r.to) {
                return Err(Error::new(
                    ExitCode::ApplyFailed,
                    format!("cannot move {} to {}: that name is taken", r.from.display(), r.to.display()),
                )
                .hint("run `iupack-stub recover`, or move that folder away, then run again; nothing was changed"));
            }
        }
        let temp = fsutil::temp_beside(&self.inventory, "new");
        let (mut inventory_bytes, remove_after) = plan(&[]);
        self.journal.phase = Phase::Commit;
        self.journal.renames = renames.clone();
        self.journal.inventory_new = Some(hex(&Sha256::digest(&inventory_bytes)));
        self.journal.inventory_temp = Some(temp.clone());
        self.journal.remove_after = remove_after;
        self.journal.remove_if_empty = remove_if_empty;
        self.write()?;
        fault::step("commit recorded");
        let mut deferred: Vec<String> = Vec::new();
        let mut done_groups: Vec<&str> = Vec::new();
        for r in &renames {
            if r.group.as_ref().is_some_and(|g| deferred.contains(g)) {
                continue;
            }
            let pinned = self.dirs.pinned(&r.from);
            if pinned.is_some() && self.dirs.id_at(&r.from) != pinned {
                return Err(swapped(&r.from));
            }
            match self.rename(&r.from, &r.to)? {
                Ok(()) => {}
                Err(e)
                    if fsutil::is_in_use(&e)
                        && r.group
                            .as_deref()
                            .is_some_and(|g| !done_groups.contains(&g)) =>
                {
                    deferred.push(r.group.clone().expect("checked"));
                    continue;
                }
                Err(e) => {
                    return Err(Error::apply_io(
                        format!("cannot move {} to {}", r.from.display(), r.to.display()),
                        &e,
                    ))
                }
            }
            if pinned.is_some() && self.dirs.id_at(&r.to) != pinned {
                return Err(swapped(&r.from)); // undone: it goes back where it was
            }
            if let Some(g) = r.group.as_deref() {
                done_groups.push(g);
            }
            fault::step("renamed");
            self.sync_parents(&r.from, &r.to)?;
            fault::step("renamed and synced");
        }
        #[cfg(feature = "install")]
        if let Some(swap) = self.journal.client.clone() {
            self.swap_client(&swap)?;
        }
        if !deferred.is_empty() {
            let in_deferred = |r: &Rename| r.group.as_ref().is_some_and(|g| deferred.contains(g));
            let (bytes, remove_after) = plan(&deferred);
            inventory_bytes = bytes;
            self.journal.reboot_moves =
                renames.iter().filter(|r| in_deferred(r)).cloned().collect();
            self.journal.renames = renames.into_iter().filter(|r| !in_deferred(r)).collect();
            self.journal.inventory_new = Some(hex(&Sha256::digest(&inventory_bytes)));
            self.journal.remove_after = remove_after;
            self.write()?;
            fault::step("deferral recorded");
        }
        let result = (|| {
            let mut o = OpenOptions::new();
            o.write(true).create_new(true);
            // Nobody else may open it before it has the inventory's mode (as replace_file).
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            let mut f = o.open(&temp)?;
            fsutil::same_owner_and_mode(&f, &self.inventory)?;
            f.write_all(&inventory_bytes)?;
            f.sync_all()
        })();
        result.map_err(|e| {
            Error::new(
                ExitCode::ApplyFailed,
                format!("cannot write the inventory {}: {e}", self.inventory.display()),
            )
            .hint("free disk space or fix permissions, then run the package again; nothing was changed")
        })?;
        fault::step("inventory written");
        fsutil::rename(&temp, &self.inventory).map_err(io_err(format!(
            "cannot replace the inventory {}",
            self.inventory.display()
        )))?;
        fault::step("inventory replaced");
        let _ = sync_dir(&fsutil::parent_of(&self.inventory));
        fault::step("inventory synced");
        self.finish();
        self.done = true;
        Ok(deferred)
    }

    /// After the commit point: removes what the journal says, then the journal. Failures here
    /// lose nothing (the machine is already on the new release); the journal stays and the next
    /// run finishes the removals.
    fn finish(&mut self) {
        // Scheduled only now, after the commit: a restart must never swap in a tree the
        // inventory does not know about. If scheduling fails the journal stays and the next run
        // schedules again (a repeated move then finds its target taken or its source gone, and
        // does nothing).
        for r in &self.journal.reboot_moves {
            if let Err(e) = fsutil::move_at_reboot(&r.from, &r.to) {
                self.warnings.push(format!(
                    "cannot schedule {} -> {} for the next restart ({e}); run `iupack-stub recover` to try again",
                    r.from.display(),
                    r.to.display()
                ));
            }
        }
        if !self.warnings.is_empty() {
            return;
        }
        for p in &self.journal.remove_after {
            self.dirs.remove_quietly(p);
            fault::step("old copy removed");
        }
        for p in &self.journal.remove_if_empty {
            self.dirs.remove_if_empty(p);
        }
        if let Some(t) = &self.journal.inventory_temp {
            let _ = fs::remove_file(t);
        }
        if fs::remove_file(&self.path).is_ok() {
            let _ = sync_dir(&fsutil::parent_of(&self.path));
        }
        fault::step("journal removed");
    }

    /// Undoes every rename that was done, in reverse, then removes staging, made folders, the
    /// inventory temp file and the journal.
    fn undo(&mut self) -> Result<()> {
        #[cfg(feature = "install")]
        if let Some(swap) = self.journal.client.clone() {
            self.unswap_client(&swap)?;
        }
        for r in self.journal.renames.clone().iter().rev() {
            let into_side = safedir::is_side(&fsutil::parent_of(&r.to));
            if into_side && self.dirs.exists(&r.from) && self.dirs.exists(&r.to) {
                // Done (only this run makes names in a side folder), and something was put where
                // the live folder was since (by whoever can write its parent): set it aside in
                // the side folder, kept (it may be anyone's: never deleted) and named in the
                // result, so the live folder can be put back.
                self.set_aside(&r.from);
            }
            let staged = safedir::is_side(&fsutil::parent_of(&r.from));
            if staged && !self.dirs.exists(&r.from) && self.dirs.exists(&r.to) && !self.is_ours(r) {
                // The staged tree was swapped in, then someone put something else in its place:
                // that is not ours to move into staging (which is removed); set it aside, kept.
                self.set_aside(&r.to);
            }
            if !self.dirs.exists(&r.from) && self.dirs.exists(&r.to) {
                self.rename(&r.to, &r.from)?.map_err(|e| {
                    Error::apply_io(
                        format!(
                            "cannot move {} back to {}",
                            r.to.display(),
                            r.from.display()
                        ),
                        &e,
                    )
                    .hint("fix the cause, then run `iupack-stub recover` to finish undoing the interrupted update")
                })?;
                self.sync_parents(&r.from, &r.to)?;
                fault::step("rename undone");
            }
        }
        for s in &self.journal.stages {
            self.dirs.remove_quietly(s);
        }
        for d in self.journal.made.iter().rev() {
            self.dirs.remove_if_empty(d);
        }
        if let Some(t) = &self.journal.inventory_temp {
            let _ = fs::remove_file(t);
        }
        if self.written {
            fs::remove_file(&self.path).map_err(io_err(format!(
                "cannot remove the journal {}",
                self.path.display()
            )))?;
            let _ = sync_dir(&fsutil::parent_of(&self.path));
            self.written = false;
        }
        fault::step("undone");
        Ok(())
    }

    /// Undoes the transaction now (rather than on drop), reporting a failure to undo.
    pub fn abort(mut self) -> Result<()> {
        self.done = true;
        self.undo()
    }
}

impl Transaction {
    /// Whether what is at `r.to` is the staged tree this transaction renamed there: the same
    /// folder it made (in this run), or (in a recovery) a tree with the digest the journal says
    /// its component has once committed.
    fn is_ours(&mut self, r: &Rename) -> bool {
        if let Some(same) = self.dirs.is_same(&r.to, &r.from) {
            return same;
        }
        let want = r.group.as_deref().and_then(|g| self.journal.trees.get(g));
        match want {
            Some(tree) => {
                crate::machine::installed::installed_digest(&r.to, &[]).as_deref()
                    == Some(tree.as_str())
            }
            None => true, // nothing recorded to tell by (a journal of an older iupack)
        }
    }

    /// Moves what is at `path` (not this run's) into the side folder of `path`'s component as
    /// `displaced-PID-N`, kept, and says so in the result.
    fn set_aside(&mut self, path: &Path) {
        let side = crate::machine::inventory::side_dir(path);
        let mut n = 0;
        let aside = loop {
            n += 1;
            let a = side.join(format!("displaced-{}-{n}", std::process::id()));
            if !self.dirs.exists(&a) {
                break a;
            }
        };
        if let Ok(Ok(())) = self.rename(path, &aside) {
            self.warnings.push(format!(
                "{} was found where the live folder belongs and was moved to {}",
                path.display(),
                aside.display()
            ));
        }
    }

    /// A rename relative to the open folders, or the simulated "file in use" of the
    /// fault-injection build. The outer error: a folder could not be opened or failed its check.
    fn rename(&mut self, from: &Path, to: &Path) -> Result<std::io::Result<()>> {
        if fault::in_use(from) {
            return Ok(Err(fsutil::in_use_error()));
        }
        self.dirs.rename(from, to)
    }
}

#[cfg(feature = "install")]
impl Transaction {
    /// Puts the new client tool in place: the old binary kept first (a hard link on Unix, so the
    /// live name always holds a client that runs; renamed aside on Windows, where a running
    /// program can only be moved), then the new one renamed over the live name (atomic).
    fn swap_client(&mut self, s: &ClientSwap) -> Result<()> {
        if let Some(kept) = &s.kept {
            #[cfg(unix)]
            let kept_now = fs::hard_link(&s.live, kept);
            #[cfg(not(unix))]
            let kept_now = fsutil::rename(&s.live, kept);
            kept_now.map_err(io_err(format!(
                "cannot keep the client tool {} as {}",
                s.live.display(),
                kept.display()
            )))?;
            fault::step("client kept");
        }
        fsutil::rename(&s.new, &s.live).map_err(io_err(format!(
            "cannot put the new client tool in place of {}",
            s.live.display()
        )))?;
        fault::step("client replaced");
        for dir in s.kept.iter().chain([&s.live]).map(|p| fsutil::parent_of(p)) {
            sync_dir(&dir).map_err(io_err(format!("cannot sync {}", dir.display())))?;
        }
        fault::step("client synced");
        Ok(())
    }

    /// Undoes `swap_client`, whatever part of it was done. The new binary left the staging
    /// folder only by the swap's rename, so its absence there says the swap was made.
    fn unswap_client(&mut self, s: &ClientSwap) -> Result<()> {
        let swapped = !fsutil::exists(&s.new);
        let back = |e: std::io::Error| {
            Error::apply_io(
                format!("cannot put the client tool {} back", s.live.display()),
                &e,
            )
            .hint("fix the cause, then run `iupack-stub recover` (or the package again) to finish undoing the interrupted update")
        };
        match &s.kept {
            Some(kept) if fsutil::exists(kept) => {
                if swapped || !fsutil::exists(&s.live) {
                    // Windows: a running program (the new one may be this recovery) can be
                    // moved but not replaced: back into its staging folder first.
                    #[cfg(not(unix))]
                    if swapped && fsutil::exists(&s.live) {
                        fsutil::rename(&s.live, &s.new).map_err(back)?;
                        fault::step("new client moved back");
                    }
                    // The old binary goes back over the new one (Unix, atomic) or into the
                    // empty name.
                    fsutil::rename(kept, &s.live).map_err(back)?;
                } else {
                    // Only the link was made (Unix): the live name still holds the old binary.
                    fs::remove_file(kept).map_err(back)?;
                }
                let _ = sync_dir(&fsutil::parent_of(&s.live));
                fault::step("client swap undone");
            }
            None if swapped && sha256_file(&s.live).as_ref() == Some(&s.sha256) => {
                // A first install: nothing was there before. Moved (a running program can't be
                // removed on Windows) back into staging, which undoing removes.
                fsutil::rename(&s.live, &s.new).map_err(back)?;
                let _ = sync_dir(&fsutil::parent_of(&s.live));
                fault::step("client swap undone");
            }
            _ => {}
        }
        Ok(())
    }
}

impl Transaction {
    /// Syncs the folders a rename changed, through their open handles.
    fn sync_parents(&mut self, a: &Path, b: &Path) -> Result<()> {
        let (pa, pb) = (fsutil::parent_of(a), fsutil::parent_of(b));
        let sync = |dirs: &mut Dirs, p: &Path| {
            dirs.get(p, false)?
                .sync()
                .map_err(io_err("cannot sync a folder".into()))
        };
        sync(&mut self.dirs, &pa)?;
        if pb != pa {
            sync(&mut self.dirs, &pb)?;
        }
        Ok(())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.undo();
        }
    }
}

/// A live folder swapped for another one after it was proven (by whoever can write its parent).
fn swapped(live: &Path) -> Error {
    Error::new(
        ExitCode::ApplyFailed,
        format!(
            "{} was replaced by another folder during the update (someone who can write its parent)",
            live.display()
        ),
    )
    .hint("find out who changes that folder; run the package again when it is left alone")
}
