//! Reading a tree of files from disk: every regular file below a folder, hashed, with the mode a
//! package records. Used by the builder for release content and by the stub to prove that an
//! installed tree is exactly the base a delta expects. Symlinks and special files are refused.
//! Reads only; never changes what it scans.

use crate::format::digest::hash_reader;
use crate::format::manifest::{FileEntry, MODE_EXEC, MODE_FILE};
use crate::format::relpath::{check_tree_paths, RelPath};
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// One regular file of a tree on disk, hashed.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: RelPath,
    pub disk: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub mode: u32,
}

impl SourceFile {
    pub fn entry(&self) -> FileEntry {
        FileEntry {
            path: self.path.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            mode: self.mode,
        }
    }
}

/// The mode a package records for a file: executable if any run bit is set, else plain.
pub fn package_mode(unix_mode: u32) -> u32 {
    if unix_mode & 0o111 != 0 {
        MODE_EXEC
    } else {
        MODE_FILE
    }
}

/// Every regular file below `root`, hashed, sorted by path. Symlinks, devices and other special
/// files are refused: a package carries plain files only.
pub fn scan_dir(root: &Path) -> Result<Vec<SourceFile>, String> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort_unstable_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    check_tree_paths(out.iter().map(|f| &f.path))?;
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(|_| format!("{} is outside {}", path.display(), root.display()))?;
            let rel = rel
                .to_str()
                .ok_or_else(|| format!("{} is not a UTF-8 name", path.display()))?
                .replace(std::path::MAIN_SEPARATOR, "/");
            let rel = RelPath::parse(&rel)?;
            // Opened only if still a regular file: swapped for a link or a FIFO since the
            // look above, it is refused, not followed or waited on.
            let f = crate::platform::fsutil::open_regular(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let (size, sha256) = hash_reader(BufReader::with_capacity(1 << 20, f))
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            out.push(SourceFile {
                path: rel,
                disk: path,
                size,
                sha256,
                mode: package_mode(unix_mode(&meta)),
            });
        } else {
            return Err(format!(
                "{} is a symlink or special file; a package carries regular files only",
                path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn unix_mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode()
}
#[cfg(not(unix))]
fn unix_mode(_meta: &fs::Metadata) -> u32 {
    MODE_FILE
}
