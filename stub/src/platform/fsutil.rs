//! Small file-system steps that keep the machine consistent: atomic replace of a file, syncing a
//! folder after a rename, and quiet clean-up of temp files on failure paths.
//! Knows nothing of packages or inventories.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Syncs a folder so that renames inside it survive a power cut. A no-op where folders can't be
/// opened (Windows), where the rename itself is already durable enough for NTFS journaling.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Sets a file's Unix permission bits (a no-op elsewhere: NTFS has no exec bit).
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Opens a file for reading only if it is a regular file: a final symlink is not followed, and a
/// FIFO or device is refused without blocking on it (Unix: `O_NOFOLLOW | O_NONBLOCK`, then the
/// open file's type is checked).
pub fn open_regular(path: &Path) -> io::Result<fs::File> {
    let mut o = OpenOptions::new();
    o.read(true);
    no_follow(&mut o);
    let f = o.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(f)
}

/// Makes an open follow no final symlink and never wait on a FIFO or device (Unix:
/// `O_NOFOLLOW | O_NONBLOCK`; nothing elsewhere). The caller checks what it opened.
pub fn no_follow(o: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32);
    }
    #[cfg(not(unix))]
    let _ = o;
}

/// An open file a run may write into: a regular file with one name (Unix: not someone else's
/// file hard-linked here, not a FIFO or device).
pub fn of_its_own(f: &fs::File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = f.metadata()?;
        if !m.is_file() || m.nlink() != 1 {
            return Err(io::Error::other(
                "not a plain file of its own (a device, FIFO or hard link)",
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = f;
    Ok(())
}

/// Syncs a written file's data to disk. Windows flushes only through a handle opened for
/// writing (FlushFileBuffers needs write access), Unix through any.
pub fn sync_file(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .read(true)
        .write(cfg!(windows))
        .open(path)?
        .sync_all()
}

/// A staged file being written. On Linux each 8 MiB written is sent on to the disk at once
/// (`writeback`), so that the disk writes while the stub decodes and hashes the rest, and the sync
/// before the swap finds little left to do. Elsewhere a plain file.
#[derive(Debug)]
pub struct StagedFile {
    file: fs::File,
    written: u64,
    started: u64,
}

impl StagedFile {
    /// Bytes written since the last write-out started that make the next one start.
    const STEP: u64 = 8 << 20;

    pub fn new(file: fs::File) -> StagedFile {
        StagedFile {
            file,
            written: 0,
            started: 0,
        }
    }

    /// Sets the file's Unix permission bits on the open file (`fchmod`: never through a path
    /// someone could have swapped for a symlink). A no-op elsewhere.
    pub fn set_mode(&self, mode: u32) -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.file.set_permissions(fs::Permissions::from_mode(mode))
        }
        #[cfg(not(unix))]
        {
            let _ = mode;
            Ok(())
        }
    }

    /// Flushes what is written and starts writing the rest of the file to disk.
    pub fn finish(&mut self) -> io::Result<()> {
        self.file.flush()?;
        #[cfg(target_os = "linux")]
        crate::platform::writeback::start(&self.file, self.started, 0);
        self.started = self.written;
        Ok(())
    }
}

impl Write for StagedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= Self::STEP {
            #[cfg(target_os = "linux")]
            crate::platform::writeback::start(
                &self.file,
                self.started,
                self.written - self.started,
            );
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Renames `from` to `to`. On Windows a virus scanner or indexer that has a file open makes a
/// rename fail with "access denied" for a moment: retried for up to about 5 s there.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    let mut delay = std::time::Duration::from_millis(10);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match fs::rename(from, to) {
            Err(e)
                if cfg!(windows)
                    && e.kind() == io::ErrorKind::PermissionDenied
                    && waited < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(delay);
                waited += delay;
                delay = (delay * 2).min(std::time::Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

/// True for the error a rename gets on Windows when a file below is open (a running engine, a
/// loaded library): access denied or sharing violation. Never elsewhere (Unix renames anyway).
pub fn is_in_use(e: &io::Error) -> bool {
    cfg!(windows) && (e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(32))
}

/// The error a rename gets when a file is in use (for the fault-injection build).
pub fn in_use_error() -> io::Error {
    if cfg!(windows) {
        io::Error::from_raw_os_error(32)
    } else {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            "a file is in use (simulated)",
        )
    }
}

/// Schedules `from` → `to` for the next restart, after moves scheduled before it (Windows:
/// MoveFileEx with MOVEFILE_DELAY_UNTIL_REBOOT; needs administrator rights).
pub fn move_at_reboot(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        crate::platform::winreboot::move_at_reboot(from, to)
    }
    #[cfg(not(windows))]
    {
        let _ = (from, to);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "moving files at the next restart exists on Windows only",
        ))
    }
}

/// The folder holding `path` (`.` for a bare name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A temp name beside `path`, unique to this process and call.
pub fn temp_beside(path: &Path, tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    parent_of(path).join(format!(".{name}.{tag}-{}-{n}", std::process::id()))
}

/// Gives a new file (the temp file that replaces the inventory `model`) the owner, group and
/// permission bits `model` has (never setuid, setgid or sticky), so that replacing the inventory
/// keeps who may read and change it. Only for the inventory: a file anyone could have planted
/// (a report) must not hand its replacement to the planter. When `model` is missing (a first
/// inventory): mode 0644, whatever the umask.
pub fn same_owner_and_mode(file: &fs::File, model: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        match fs::metadata(model) {
            Ok(m) => {
                if std::os::unix::fs::fchown(file, Some(m.uid()), Some(m.gid())).is_err() {
                    // Not ours to give away (a run that is not root): the caller's owner stays.
                }
                file.set_permissions(fs::Permissions::from_mode(m.mode() & 0o777))?;
            }
            // A first inventory (`init`): writable by its owner only, whatever the umask.
            Err(_) => file.set_permissions(fs::Permissions::from_mode(0o644))?,
        }
    }
    let _ = (file, model);
    Ok(())
}

/// Writes `data` to `path` atomically: a temp file beside it, synced, renamed over, folder
/// synced; `keep_owner` gives it the owner and mode of the file it replaces (the inventory). On
/// failure the old file is untouched and the temp file is removed.
pub fn atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    replace_file(path, data, false)
}

/// `atomic_write`, keeping the replaced file's owner, group and mode when `keep_owner`.
pub fn replace_file(path: &Path, data: &[u8], keep_owner: bool) -> io::Result<()> {
    let tmp = temp_beside(path, "tmp");
    let result = (|| {
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        // Never writable by others whatever the umask (a journal others could change would
        // steer root's recovery), and the inventory's 0600 until it has its final mode: a
        // writer that opened it before could change it after the rename.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, if keep_owner { 0o600 } else { 0o644 });
        let mut f = o.open(&tmp)?;
        if keep_owner {
            same_owner_and_mode(&f, path)?;
        }
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(&parent_of(path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Appends one line to a log file in one write, creating the file if needed. A symlink there is
/// not followed, and an existing file must be a plain file with one name (not a hard link to
/// someone else's file).
pub fn append_line(path: &Path, line: &str) -> io::Result<()> {
    let mut f = open_log(path)?;
    let mut buf = line.as_bytes().to_vec();
    buf.push(b'\n');
    f.write_all(&buf)?;
    f.sync_all()
}

/// Opens a log file for appending as `append_line` does (also to check, before a run, that it
/// can be written).
pub fn open_log(path: &Path) -> io::Result<fs::File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    no_follow(&mut o);
    // A new log is never writable by others, whatever the umask.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o644);
    let f = o.open(path)?;
    of_its_own(&f)?;
    Ok(f)
}

/// Removes a file or a whole folder if it exists; errors are ignored (clean-up on failure paths).
pub fn remove_quietly(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// True when `path` exists (without following a final symlink).
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// The inventory's real path: absolute (against the working folder), so the journal's paths
/// mean the same to a later run started elsewhere, and with symlinks resolved, so that a
/// symlinked inventory is locked, journaled and written through as the file it points to (a
/// config-managed file stays the one that is changed, and two names never mean two locks).
pub fn absolute(path: &Path) -> PathBuf {
    fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A staged file bigger than several write-out steps, written in odd-sized pieces, holds
    /// exactly what was written, before and after `finish` (the write-out must not move or lose
    /// bytes, and what follows `finish` still lands).
    #[test]
    fn a_staged_file_holds_exactly_what_was_written() {
        let dir = std::env::temp_dir().join(format!("iupack-staged-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch folder");
        let path = dir.join("f");
        let data: Vec<u8> = (0..(StagedFile::STEP * 2 + 12_345) as usize)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut out = StagedFile::new(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .expect("create"),
        );
        for piece in data.chunks(1_000_003) {
            out.write_all(piece).expect("write");
        }
        assert!(
            out.started >= StagedFile::STEP,
            "write-out started as it went"
        );
        out.finish().expect("finish");
        assert_eq!(out.started, data.len() as u64);
        assert_eq!(fs::read(&path).expect("read back"), data);
        out.write_all(b"tail").expect("write");
        out.finish().expect("finish");
        drop(out);
        sync_file(&path).expect("sync");
        let back = fs::read(&path).expect("read back");
        assert_eq!(&back[..data.len()], &data[..]);
        assert_eq!(&back[data.len()..], b"tail");
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
