//! What is on disk for a configured component: its folder (from the inventory's path, which
//! must be a plain folder path) and the tree in it, hashed as a manifest names trees. Reads only.

use crate::error::{Error, Result};
use crate::format::digest::{tree_digest, TreeLine};
use crate::format::manifest::MODE_EXEC;
use crate::format::scan::{scan_dir, SourceFile};
use crate::machine::inventory::{InstalledComponent, InventoryFile};
use std::fs;
use std::path::{Path, PathBuf};

/// The installed tree, hashed; `None` when it is missing or holds anything but regular files.
/// Where files carry no exec bit (Windows), `exec` (recorded when iupack wrote the tree) says
/// which are executable.
pub fn installed_tree(dir: &Path, exec: &[String]) -> Option<Vec<SourceFile>> {
    fs::symlink_metadata(dir).ok().filter(|m| m.is_dir())?;
    let mut files = scan_dir(dir).ok()?;
    if !cfg!(unix) {
        for f in &mut files {
            if exec.iter().any(|e| e == f.path.as_str()) {
                f.mode = MODE_EXEC;
            }
        }
    }
    Some(files)
}

/// The tree digest of an installed component's folder, as a manifest would name it; `None`
/// when the folder is missing or unreadable.
pub fn installed_digest(dir: &Path, exec: &[String]) -> Option<String> {
    installed_tree(dir, exec).map(|files| tree_of(&files))
}

pub fn tree_of(files: &[SourceFile]) -> String {
    tree_digest(files.iter().map(|f| TreeLine {
        path: f.path.as_str(),
        mode: f.mode,
        size: f.size,
        sha256: &f.sha256,
    }))
}

pub fn component_dir(inv: &InventoryFile, name: &str, c: &InstalledComponent) -> Result<PathBuf> {
    let dir = inv.resolve(&c.path);
    let plain = !c.path.is_empty()
        && Path::new(&c.path).components().all(|p| {
            !matches!(
                p,
                std::path::Component::ParentDir | std::path::Component::CurDir
            )
        })
        && dir.file_name().is_some();
    if !plain {
        return Err(Error::other(format!(
            "the inventory's path `{}` for component {name} is not a plain folder path",
            c.path
        ))
        .hint("give each component its own folder, such as \"engine\" or \"/opt/acme/engine\""));
    }
    Ok(dir)
}
