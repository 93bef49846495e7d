//! Folders the apply engine changes, held open so that another local user can't redirect them.
//!
//! The folder that holds a component may be writable by someone else (a service account's
//! `StateDirectory=`). What this module guarantees for a run as root there:
//! - a component's side folder (`.NAME.iupack`: staging, kept copies) is the run's own: made by
//!   a run (mode 0700), or left by an earlier one as a real folder (not a symlink) owned by this
//!   run's user and writable by no one else; anything else is refused (`side`);
//! - the folder holding a component and its side folder are opened once (`Dir`), and everything
//!   below them is done relative to those handles: staging folders and files created new without
//!   following symlinks, modes set on the open file, syncs, swaps (`renameat`) and removals of kept
//!   copies. Renaming or replacing a folder on the path after it was opened changes nothing the
//!   run does, and inside a side folder nobody but its owner can add, swap or change anything;
//! - every other folder is opened by `walk`, one name at a time from `/`, each relative to the
//!   one before: it says when a folder on the way can be changed by another user (so the run can
//!   say so and refuse unless the inventory allows it), follows a symlink only where no one else
//!   could have swapped it, and holds each folder open below one that others can change.
//!
//! On Windows the same calls work on paths, and a side folder that is a reparse point (a symlink
//! or junction) is refused; NTFS permissions are not read.

use crate::error::{Error, ExitCode, Result};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// An open folder (Unix) or a folder's path (elsewhere).
#[derive(Debug)]
pub struct Dir {
    pub path: PathBuf,
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
}

/// The folder and the name of `path`'s last component.
pub fn split(path: &Path) -> (PathBuf, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (crate::platform::fsutil::parent_of(path), name)
}

/// True for a component's side folder name, `.NAME.iupack`.
pub fn is_side(path: &Path) -> bool {
    let (_, name) = split(path);
    name.len() > ".iupack".len() + 1 && name.starts_with('.') && name.ends_with(".iupack")
}

fn refused(path: &Path, why: &str) -> Error {
    Error::new(
        ExitCode::ApplyFailed,
        format!(
            "{} is not a folder an iupack run made: {why}; another user may have planted it",
            path.display()
        ),
    )
    .hint(
        "check who made it, move it away (it is not iupack's), then run again; nothing was changed",
    )
}

#[cfg(unix)]
mod imp {
    use super::*;
    use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, CWD};
    use std::os::unix::fs::MetadataExt;

    const DIR: OFlags = OFlags::DIRECTORY
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC)
        .union(OFlags::RDONLY);

    fn dir_at(
        fd: impl std::os::fd::AsFd,
        rel: impl rustix::path::Arg,
        path: PathBuf,
    ) -> io::Result<Dir> {
        let fd = rfs::openat(fd, rel, DIR, Mode::empty())?;
        Ok(Dir { path, fd })
    }

    /// Opens a folder by its path (which the administrator configured: symlinks on the way are
    /// followed).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = rfs::openat(
            CWD,
            path,
            OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY,
            Mode::empty(),
        )?;
        Ok(Dir {
            path: path.to_path_buf(),
            fd,
        })
    }

    pub fn euid() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    impl Dir {
        /// A folder below this one (`rel` is ours, made by this run: no symlinks on the way).
        pub fn sub(&self, rel: &str) -> io::Result<Dir> {
            dir_at(&self.fd, rel, self.path.join(rel))
        }

        pub fn mkdir(&self, rel: &str, mode: u32) -> io::Result<()> {
            rfs::mkdirat(&self.fd, rel, Mode::from_raw_mode(mode)).map_err(Into::into)
        }

        /// Creates a new file, never following a symlink or reusing what is there.
        pub fn create(&self, rel: &str) -> io::Result<File> {
            let flags =
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            Ok(rfs::openat(&self.fd, rel, flags, Mode::from_raw_mode(0o600))?.into())
        }

        /// Opens a file below this one for reading, not following a final symlink.
        pub fn open_file(&self, rel: &str) -> io::Result<File> {
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
            Ok(rfs::openat(&self.fd, rel, flags, Mode::empty())?.into())
        }

        pub fn sync(&self) -> io::Result<()> {
            File::from(self.fd.try_clone()?).sync_all()
        }

        pub fn exists(&self, name: &str) -> bool {
            rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
        }

        /// The (device, inode) of this folder, and of `name` below it (not followed).
        pub fn id(&self) -> Option<(u64, u64)> {
            rfs::fstat(&self.fd).ok().map(|st| (st.st_dev, st.st_ino))
        }

        pub fn id_of(&self, name: &str) -> Option<(u64, u64)> {
            rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                .ok()
                .map(|st| (st.st_dev, st.st_ino))
        }

        pub fn rename(&self, name: &str, to: &Dir, to_name: &str) -> io::Result<()> {
            rfs::renameat(&self.fd, name, &to.fd, to_name)?;
            Ok(())
        }

        pub fn rmdir(&self, name: &str) -> io::Result<()> {
            rfs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR).map_err(Into::into)
        }

        /// Every file below this folder as (path, size, Unix mode), read through the open
        /// handles without following symlinks; anything but folders and regular files is an
        /// error.
        pub fn files(&self) -> io::Result<Vec<(String, u64, u32)>> {
            let mut out = Vec::new();
            self.walk("", &mut out)?;
            Ok(out)
        }

        /// The names in this folder (not `.` and `..`).
        fn names(&self) -> io::Result<Vec<String>> {
            let mut names = Vec::new();
            for e in rfs::Dir::read_from(&self.fd)? {
                let n = e?.file_name().to_bytes().to_vec();
                if n != b"." && n != b".." {
                    names.push(String::from_utf8_lossy(&n).into_owned());
                }
            }
            Ok(names)
        }

        fn walk(&self, prefix: &str, out: &mut Vec<(String, u64, u32)>) -> io::Result<()> {
            for n in self.names()? {
                let st = rfs::statat(&self.fd, n.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
                let rel = format!("{prefix}{n}");
                match rfs::FileType::from_raw_mode(st.st_mode) {
                    rfs::FileType::Directory => self.sub(&n)?.walk(&format!("{rel}/"), out)?,
                    rfs::FileType::RegularFile => out.push((rel, st.st_size as u64, st.st_mode)),
                    _ => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{rel} is not a regular file"),
                        ))
                    }
                }
            }
            Ok(())
        }

        /// Removes `name` (a file, or a folder and all below it) without following symlinks.
        pub fn remove_all(&self, name: &str) -> io::Result<()> {
            let st = rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
            if rfs::FileType::from_raw_mode(st.st_mode) != rfs::FileType::Directory {
                return rfs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(Into::into);
            }
            let sub = self.sub(name)?;
            for n in sub.names()? {
                sub.remove_all(&n)?;
            }
            rfs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR).map_err(Into::into)
        }

        /// The side folder `name` below this folder: made now (mode 0700) when `create` and it
        /// is missing, else it must be a real folder owned by this run's user and writable by
        /// no one else. Returns it and whether it was made.
        pub fn side(&self, name: &str, create: bool) -> Result<(Dir, bool)> {
            let path = self.path.join(name);
            let io = |e: io::Error| Error::apply_io(format!("cannot open {}", path.display()), &e);
            let made = create
                && match rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) => true,
                    Err(rustix::io::Errno::EXIST) => false,
                    Err(e) => return Err(io(e.into())),
                };
            let dir = match dir_at(&self.fd, name, path.clone()) {
                Ok(d) => d,
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                    return Err(refused(&path, "it is a symlink"))
                }
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
                    return Err(refused(&path, "it is not a folder"))
                }
                Err(e) => return Err(io(e)),
            };
            let meta = File::from(dir.fd.try_clone().map_err(io)?)
                .metadata()
                .map_err(io)?;
            if meta.uid() != euid() {
                return Err(refused(
                    &path,
                    &format!(
                        "it belongs to uid {}, this run is uid {}",
                        meta.uid(),
                        euid()
                    ),
                ));
            }
            if meta.mode() & 0o022 != 0 {
                return Err(refused(
                    &path,
                    &format!("others can write it (mode {:o})", meta.mode() & 0o7777),
                ));
            }
            Ok((dir, made))
        }
    }

    /// Why another user than this run's (and root) can change what the folder `m` holds, if
    /// one can: it belongs to someone else, or a group or everyone may write it without the
    /// sticky bit (a POSIX ACL's mask shows in the group bits, so a named user's grant counts).
    fn others_can_write(m: &std::fs::Metadata) -> Option<String> {
        let sticky = m.mode() & 0o1000 != 0;
        if m.uid() != 0 && m.uid() != euid() {
            Some(format!("it belongs to uid {}", m.uid()))
        } else if m.mode() & 0o002 != 0 && !sticky {
            Some("everyone may write it".into())
        } else if m.mode() & 0o020 != 0 && !sticky {
            Some(format!("group {} (or an ACL) may write it", m.gid()))
        } else {
            None
        }
    }

    fn meta(d: &Dir) -> io::Result<std::fs::Metadata> {
        File::from(d.fd.try_clone()?).metadata()
    }

    /// Opens the folder `path` walking from `/` one name at a time, each opened relative to the
    /// folder before without following a symlink: every folder passed through (those holding a
    /// symlink on the way too; the link is then followed by hand) is checked for others who can
    /// change it. Below the first such folder a symlink is refused (someone could swap it), and
    /// each folder is held open, so renaming one afterwards changes nothing. Returns the folder
    /// (`None` when some part of the path does not exist yet) and the first folder others can
    /// change, as `PATH (why)`.
    pub fn walk(path: &Path) -> Result<(Option<Dir>, Option<String>)> {
        use std::ffi::{OsStr, OsString};
        use std::os::unix::ffi::OsStrExt;
        let io = |e: io::Error| Error::apply_io(format!("cannot open {}", path.display()), &e);
        // Names to walk, last first (a stack).
        let names = |p: &Path| -> Vec<OsString> {
            let mut v: Vec<OsString> = p
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(n) => Some(n.to_os_string()),
                    std::path::Component::ParentDir => Some("..".into()),
                    _ => None,
                })
                .collect();
            v.reverse();
            v
        };
        let root = || open(Path::new("/")).map_err(io);
        let mut todo = names(&std::path::absolute(path).map_err(io)?);
        let mut cur = root()?;
        let mut shown = PathBuf::from("/");
        let mut who = others_can_write(&meta(&cur).map_err(io)?).map(|w| format!("/ ({w})"));
        let mut links = 0;
        while let Some(name) = todo.pop() {
            let here = meta(&cur).map_err(io)?;
            if who.is_none() && here.mode() & 0o1022 > 0o1000 && name != ".." {
                // In a folder anyone may add to (sticky, like /tmp) an entry is trusted only if
                // root, this user or the folder's owner made it (the kernel's protected_symlinks
                // rule); a name not there yet could be made by anyone.
                let there = shown.join(&name);
                who = match rfs::statat(&cur.fd, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    // A symlink's owner says nothing of who put it there (anyone may move a
                    // link in): never followed there.
                    Ok(st)
                        if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Symlink =>
                    {
                        Some(format!(
                            "{} (a symlink, in a folder anyone may add to)",
                            there.display()
                        ))
                    }
                    Ok(st) if [0, euid(), here.uid()].contains(&st.st_uid) => None,
                    Ok(st) => Some(format!(
                        "{} (it belongs to uid {}, in a folder anyone may add to)",
                        there.display(),
                        st.st_uid
                    )),
                    Err(_) => Some(format!(
                        "{} (not there yet, in a folder anyone may add to)",
                        there.display()
                    )),
                };
            }
            match dir_at(&cur.fd, name.as_os_str(), PathBuf::new()) {
                Ok(next) => {
                    if name == ".." {
                        shown.pop();
                    } else {
                        shown.push(&name);
                    }
                    if who.is_none() {
                        who = others_can_write(&meta(&next).map_err(io)?)
                            .map(|w| format!("{} ({w})", shown.display()));
                    }
                    cur = next;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((None, who)),
                Err(e) => {
                    let st = rfs::statat(&cur.fd, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| io(e.into()))?;
                    if rfs::FileType::from_raw_mode(st.st_mode) != rfs::FileType::Symlink {
                        return Err(io(e));
                    }
                    if let Some(w) = &who {
                        return Err(Error::new(
                            ExitCode::ApplyFailed,
                            format!(
                                "{} is a symlink below {w}, so another user could swap it",
                                shown.join(&name).display()
                            ),
                        )
                        .hint("point the inventory at the folder the link leads to, or make the folders above it writable by their owner only; nothing was changed"));
                    }
                    links += 1;
                    if links > 40 {
                        return Err(Error::new(
                            ExitCode::ApplyFailed,
                            format!(
                                "cannot open {}: too many levels of symlinks",
                                path.display()
                            ),
                        ));
                    }
                    let target = rfs::readlinkat(&cur.fd, name.as_os_str(), Vec::new())
                        .map_err(|e| io(e.into()))?;
                    let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                    if target.is_absolute() {
                        cur = root()?;
                        shown = PathBuf::from("/");
                    }
                    todo.extend(names(target));
                }
            }
        }
        cur.path = path.to_path_buf();
        Ok((Some(cur), who))
    }
}

#[cfg(not(unix))]
mod imp {
    use super::*;
    use std::fs;

    pub fn open(path: &Path) -> io::Result<Dir> {
        if !fs::metadata(path)?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
        }
        Ok(Dir {
            path: path.to_path_buf(),
        })
    }

    impl Dir {
        pub fn sub(&self, rel: &str) -> io::Result<Dir> {
            Ok(Dir {
                path: self.path.join(rel),
            })
        }

        pub fn mkdir(&self, rel: &str, _mode: u32) -> io::Result<()> {
            fs::create_dir(self.path.join(rel))
        }

        pub fn create(&self, rel: &str) -> io::Result<File> {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.path.join(rel))
        }

        pub fn open_file(&self, rel: &str) -> io::Result<File> {
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(self.path.join(rel))
        }

        pub fn sync(&self) -> io::Result<()> {
            Ok(())
        }

        pub fn exists(&self, name: &str) -> bool {
            crate::platform::fsutil::exists(&self.path.join(name))
        }

        pub fn id(&self) -> Option<(u64, u64)> {
            None
        }

        pub fn id_of(&self, _name: &str) -> Option<(u64, u64)> {
            None
        }

        pub fn rename(&self, name: &str, to: &Dir, to_name: &str) -> io::Result<()> {
            crate::platform::fsutil::rename(&self.path.join(name), &to.path.join(to_name))
        }

        pub fn remove_all(&self, name: &str) -> io::Result<()> {
            crate::platform::fsutil::remove_quietly(&self.path.join(name));
            Ok(())
        }

        pub fn rmdir(&self, name: &str) -> io::Result<()> {
            fs::remove_dir(self.path.join(name))
        }

        /// Not read where folders can't be held open (the staged files are checked as written).
        pub fn files(&self) -> io::Result<Vec<(String, u64, u32)>> {
            Ok(Vec::new())
        }

        pub fn side(&self, name: &str, create: bool) -> Result<(Dir, bool)> {
            let path = self.path.join(name);
            let made = create && fs::create_dir(&path).is_ok();
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => Err(refused(&path, "it is a link")),
                Ok(m) if !m.is_dir() => Err(refused(&path, "it is not a folder")),
                Ok(_) => Ok((Dir { path }, made)),
                Err(e) => Err(Error::apply_io(
                    format!("cannot open {}", path.display()),
                    &e,
                )),
            }
        }
    }

    pub fn walk(path: &Path) -> Result<(Option<Dir>, Option<String>)> {
        Ok((open(path).ok(), None))
    }
}

pub use imp::{open, walk};

/// The folders a transaction works in, each opened once: the folders holding components, their
/// side folders (checked), and staging folders.
#[derive(Debug, Default)]
pub struct Dirs {
    open: Vec<Dir>,
    /// Live folders proven to be their recorded trees, by (device, inode): a swap moves only the
    /// folder that was proven (`pin`, `pinned`).
    pins: Vec<(PathBuf, (u64, u64))>,
}

impl Dirs {
    fn find(&self, path: &Path) -> Option<usize> {
        self.open.iter().position(|d| d.path == path)
    }

    /// The open folder `path`, opening it now if needed: a side folder is checked (and made when
    /// `create`), any other folder is opened by its path.
    pub fn get(&mut self, path: &Path, create: bool) -> Result<&Dir> {
        if let Some(i) = self.find(path) {
            return Ok(&self.open[i]);
        }
        let dir = if is_side(path) {
            let (parent, name) = split(path);
            self.get(&parent, false)?.side(&name, create)?.0
        } else {
            walk(path)?.0.ok_or_else(|| {
                Error::new(
                    ExitCode::ApplyFailed,
                    format!("cannot open {}: it does not exist", path.display()),
                )
            })?
        };
        self.open.push(dir);
        Ok(self.open.last().expect("just pushed"))
    }

    /// Adds a folder opened elsewhere (a staging folder made below a side folder).
    pub fn add(&mut self, dir: Dir) {
        self.open.push(dir);
    }

    /// `from` renamed to `to`, each relative to its open folder.
    pub fn rename(&mut self, from: &Path, to: &Path) -> Result<io::Result<()>> {
        let ((fp, fname), (tp, tname)) = (split(from), split(to));
        self.get(&fp, false)?;
        self.get(&tp, false)?;
        let (a, b) = (
            &self.open[self.find(&fp).expect("opened")],
            &self.open[self.find(&tp).expect("opened")],
        );
        Ok(a.rename(&fname, b, &tname))
    }

    /// Whether what is at `path` now is the folder opened as `path_was` (a staging folder this
    /// run made); `None` when that can't be told (not open in this run, or not Unix).
    pub fn is_same(&mut self, path: &Path, path_was: &Path) -> Option<bool> {
        let was = self.open.iter().find(|d| d.path == path_was)?.id()?;
        let (parent, name) = split(path);
        let now = self.get(&parent, false).ok()?.id_of(&name)?;
        Some(now == was)
    }

    /// The (device, inode) of what is at `path` now (not followed), looked up in its open folder.
    pub fn id_at(&mut self, path: &Path) -> Option<(u64, u64)> {
        let (parent, name) = split(path);
        self.get(&parent, false).ok()?.id_of(&name)
    }

    /// Remembers that the folder at `path` is the one with this identity.
    pub fn pin(&mut self, path: &Path, id: (u64, u64)) {
        self.pins.push((path.to_path_buf(), id));
    }

    /// The identity the folder at `path` was pinned with.
    pub fn pinned(&self, path: &Path) -> Option<(u64, u64)> {
        self.pins.iter().find(|(p, _)| p == path).map(|(_, id)| *id)
    }

    /// Whether `path` exists (not following a final symlink), looked up in its open folder.
    pub fn exists(&mut self, path: &Path) -> bool {
        let (parent, name) = split(path);
        self.get(&parent, false).is_ok_and(|d| d.exists(&name))
    }

    /// Removes the folder `path` if it is empty (errors ignored).
    pub fn remove_if_empty(&mut self, path: &Path) {
        let (parent, name) = split(path);
        if let Ok(d) = self.get(&parent, false) {
            let _ = d.rmdir(&name);
        }
    }

    /// Removes `path` and all below it, relative to its open folder; errors are ignored
    /// (clean-up). A side folder that fails its check is left alone.
    pub fn remove_quietly(&mut self, path: &Path) {
        let (parent, name) = split(path);
        if let Ok(d) = self.get(&parent, false) {
            let _ = d.remove_all(&name);
        }
    }
}
