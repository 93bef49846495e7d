//! The files a command writes, by path: checked before any work (a file name in a folder that
//! exists and takes a file; never replaced without `--force`), and the names
//! derived from one (`PKG.minisig`, the bare file name that `SHA256SUMS` and signature comments
//! carry). Writes nothing itself (but a probe file, removed at once) and never touches a file's
//! content.

use iupack_stub::{platform::fsutil, Error};
use std::path::{Path, PathBuf};

/// Checks, before any work, that a file can be written at `path`: it names a file (not a
/// folder: `--force` can't replace one), its folder exists and takes a new file, and it is not
/// there already unless `--force` was given. Leaves nothing behind (the probe file is removed).
pub fn check_overwrite(path: &Path, force: bool) -> Result<(), Error> {
    let bad = |m: String, hint: String| Err(Error::usage(m).hint(hint));
    let shown = path.display();
    let names_a_folder = path.as_os_str().to_string_lossy().ends_with(['/', '\\'])
        || path.file_name().is_none()
        || path.is_dir();
    if names_a_folder {
        return bad(
            format!("{shown} is a folder, not a file name"),
            format!(
                "give the file to write, such as {}",
                path.join("NAME.run").display()
            ),
        );
    }
    let dir = fsutil::parent_of(path);
    if !dir.is_dir() {
        return bad(
            format!(
                "cannot write {shown}: the folder {} does not exist",
                dir.display()
            ),
            format!(
                "make it first (mkdir -p {}), or choose another path",
                dir.display()
            ),
        );
    }
    if !force && fsutil::exists(path) {
        return bad(
            format!("{shown} already exists"),
            "choose another path, or pass --force to replace it".into(),
        );
    }
    let probe = fsutil::temp_beside(path, "probe");
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            fsutil::remove_quietly(&probe);
            Ok(())
        }
        Err(e) => bad(
            format!("cannot write {shown}: {e}"),
            format!(
                "check write permission in {}, or choose another path",
                dir.display()
            ),
        ),
    }
}

/// `path` with `suffix` appended to its file name (`PKG` -> `PKG.minisig`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The last component of `path` (lossy), or "" when it has none.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
