//! The delta cache (issue 21): patch encodings and full archives kept between builds in one
//! folder, so that `build --store`, `publish` and `plan` of the same releases make each once. Builds from
//! a store use `STORE/.delta-cache/` (hidden: the store never takes it for a product or a
//! release), any build the folder `--delta-cache DIR` names, and `--no-delta-cache` none.
//!
//! Owns that folder. One file per entry, named by its key (64 hex digits, made by
//! `iupack_stub::format::patch_cache`), holding one header line
//! (`iupack-delta-cache-entry 1 SHA256 LENGTH`) and then the patch. An entry is written to a
//! hidden temp file and renamed into place, so a killed or concurrent build never leaves a half
//! entry under a key (two builds making the same entry both rename a whole one). Reading checks
//! the length and the SHA-256; a damaged entry is removed and counted, and its patch made again.
//! An entry used is touched (its modification time set to now); entries not used for 30 days
//! (and temp files older than a day) are removed at the end of every build that uses the folder.
//! Never decides whether a patch is right for its job: the write side decodes every entry
//! against the old bytes before it is used, and rejects it here when it does not prove itself.
//!
//! A build also keeps what it made or read in memory ([`BuildCache`]), with or without a folder,
//! so an encoding one build needs twice is made (and counted) once: the two delta variants of a
//! package (issue 21, item 3) share their `bsdiff-lzma` patches.

use iupack_stub::format::digest::{is_sha256_hex, sha256_hex};
use iupack_stub::format::patch_cache::PatchCache;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The cache's folder in a release store.
pub const STORE_FOLDER: &str = ".delta-cache";
/// Entries not used for this long are removed.
pub const MAX_UNUSED: Duration = Duration::from_secs(30 * 86_400);
/// Temp files this old belong to no running build.
const STALE_TEMP: Duration = Duration::from_secs(86_400);
const TAG: &str = "iupack-delta-cache-entry 1";
const TEMP_PREFIX: &str = ".tmp-";

/// What a build's cache did, for its summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Patches and archives taken from the folder (proven before use).
    pub reused: usize,
    /// Patches and archives made (and kept).
    pub made: usize,
    /// Entries found damaged (wrong length or digest, or a patch that did not prove itself),
    /// removed and made again.
    pub damaged: usize,
}

/// One build's patch cache: what it made in memory, in front of the folder (if any).
#[derive(Debug)]
pub struct BuildCache {
    dir: Option<PathBuf>,
    /// Patches this build made or read, by key (true: read from the folder).
    memo: Mutex<HashMap<String, (Vec<u8>, bool)>>,
    found: AtomicUsize,
    made: AtomicUsize,
    damaged: AtomicUsize,
    temp_seq: AtomicUsize,
    write_error: Mutex<Option<String>>,
}

impl BuildCache {
    /// A cache in `dir` (made if missing), or in memory only for `None`.
    pub fn open(dir: Option<&Path>) -> Result<BuildCache, iupack_stub::Error> {
        if let Some(d) = dir {
            fs::create_dir_all(d).map_err(|e| {
                iupack_stub::Error::usage(format!(
                    "cannot make the delta cache folder {}: {e}",
                    d.display()
                ))
                .hint("give a writable folder with --delta-cache DIR, or build without a cache: --no-delta-cache")
            })?;
        }
        Ok(BuildCache {
            dir: dir.map(Path::to_path_buf),
            memo: Mutex::new(HashMap::new()),
            found: AtomicUsize::new(0),
            made: AtomicUsize::new(0),
            damaged: AtomicUsize::new(0),
            temp_seq: AtomicUsize::new(0),
            write_error: Mutex::new(None),
        })
    }

    /// The folder, if the build has one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn counts(&self) -> Counts {
        let damaged = self.damaged.load(Ordering::Relaxed);
        Counts {
            reused: self.found.load(Ordering::Relaxed),
            made: self.made.load(Ordering::Relaxed),
            damaged,
        }
    }

    /// The first entry that could not be written, if any (the build goes on without keeping it).
    pub fn write_error(&self) -> Option<String> {
        self.write_error.lock().ok().and_then(|e| e.clone())
    }

    /// Removes entries not used for [`MAX_UNUSED`] and stale temp files; returns how many went.
    pub fn sweep(&self) -> usize {
        let Some(dir) = &self.dir else { return 0 };
        let Ok(rd) = fs::read_dir(dir) else { return 0 };
        let now = SystemTime::now();
        let mut removed = 0;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let limit = if is_sha256_hex(&name) {
                MAX_UNUSED
            } else if name.starts_with(TEMP_PREFIX) {
                STALE_TEMP
            } else {
                continue; // not ours
            };
            let age = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok());
            if age.is_some_and(|a| a > limit) && fs::remove_file(e.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    fn entry(&self, key: &str) -> Option<PathBuf> {
        // Keys are SHA-256 hex; anything else never names a file.
        self.dir
            .as_ref()
            .filter(|_| is_sha256_hex(key))
            .map(|d| d.join(key))
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u8>, bool)>> {
        self.memo.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_write_error(&self, path: &Path, e: &std::io::Error) {
        if let Ok(mut slot) = self.write_error.lock() {
            slot.get_or_insert_with(|| format!("cannot write {}: {e}", path.display()));
        }
    }
}

/// The header line of an entry holding `payload`.
fn header(payload: &[u8]) -> String {
    format!("{TAG} {} {}\n", sha256_hex(payload), payload.len())
}

/// The payload of an entry's bytes when its header is sound and its length and digest match.
fn payload(bytes: &[u8]) -> Option<&[u8]> {
    let nl = bytes.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&bytes[..nl]).ok()?;
    let rest = &bytes[nl + 1..];
    let fields = line.strip_prefix(TAG)?.strip_prefix(' ')?;
    let (sha, len) = fields.split_once(' ')?;
    let sound = len.parse::<usize>().ok() == Some(rest.len()) && sha256_hex(rest) == sha;
    sound.then_some(rest)
}

impl PatchCache for BuildCache {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        if let Some((p, _)) = self.memo().get(key) {
            return Some(p.clone());
        }
        let path = self.entry(key)?;
        let bytes = fs::read(&path).ok()?;
        let Some(p) = payload(&bytes) else {
            let _ = fs::remove_file(&path);
            self.damaged.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        // Used now: kept for another 30 days (a read-only folder just ages).
        let _ = fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(SystemTime::now()));
        self.found.fetch_add(1, Ordering::Relaxed);
        self.memo().insert(key.to_string(), (p.to_vec(), true));
        Some(p.to_vec())
    }

    fn put(&self, key: &str, patch: &[u8]) {
        self.made.fetch_add(1, Ordering::Relaxed);
        self.memo().insert(key.to_string(), (patch.to_vec(), false));
        let Some(path) = self.entry(key) else { return };
        let seq = self.temp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_file_name(format!("{TEMP_PREFIX}{key}-{}-{seq}", std::process::id()));
        let mut bytes = header(patch).into_bytes();
        bytes.extend_from_slice(patch);
        if let Err(e) = fs::write(&tmp, &bytes).and_then(|()| fs::rename(&tmp, &path)) {
            let _ = fs::remove_file(&tmp);
            self.note_write_error(&path, &e);
        }
    }

    fn reject(&self, key: &str) {
        if let Some((_, false)) = self.memo().remove(key) {
            return; // made by this build, not read from the folder
        }
        if let Some(path) = self.entry(key) {
            let _ = fs::remove_file(path);
        }
        // It was counted as found when read.
        let _ = self
            .found
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        self.damaged.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back_and_every_damage_is_refused() {
        let dir = tempfile::tempdir().expect("temp");
        let c = BuildCache::open(Some(dir.path())).expect("open");
        let key = sha256_hex(b"key");
        c.put(&key, b"patch bytes");
        let fresh = BuildCache::open(Some(dir.path())).expect("open");
        assert_eq!(fresh.get(&key).as_deref(), Some(&b"patch bytes"[..]));
        assert_eq!(fresh.counts().reused, 1);
        let path = dir.path().join(&key);
        let good = fs::read(&path).expect("read");
        let mut flipped = good.clone();
        *flipped.last_mut().expect("byte") ^= 1;
        let truncated = good[..good.len() - 1].to_vec();
        for bad in [flipped, truncated, b"not an entry".to_vec()] {
            fs::write(&path, &bad).expect("write");
            let c = BuildCache::open(Some(dir.path())).expect("open");
            assert_eq!(c.get(&key), None);
            assert_eq!(c.counts().damaged, 1);
            assert!(!path.exists(), "a damaged entry is removed");
        }
        // Keys that are not SHA-256 hex never name a file.
        let c = BuildCache::open(Some(dir.path())).expect("open");
        c.put("../escape", b"x");
        assert!(!dir.path().join("../escape").exists());
    }
}
