//! The files a command writes, by path: refusing to replace one without `--force`, and the names
//! derived from one (`PKG.minisig`, the bare file name that `SHA256SUMS` and signature comments
//! carry). Owns no writing itself and never touches a file's content.

use iupack_stub::{platform::fsutil, Error};
use std::path::{Path, PathBuf};

/// Refuses to replace an existing file unless `--force` was given.
pub fn check_overwrite(path: &Path, force: bool) -> Result<(), Error> {
    if !force && fsutil::exists(path) {
        return Err(Error::usage(format!("{} already exists", path.display()))
            .hint("choose another path, or pass --force to replace it"));
    }
    Ok(())
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
