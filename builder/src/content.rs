//! Release content for a component, from a folder, a `.zip`, a `.tar` or a `.tar.gz`. Archives
//! are unpacked into a private temp folder first, refusing unsafe names, links and special
//! entries, so that every source is scanned the same way. Never writes into the release it reads.

use iupack_stub::format::relpath::RelPath;
use iupack_stub::format::write::{package_mode, scan_dir, SourceFile};
use iupack_stub::Error;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use tempfile::TempDir;

/// What to do when a release's file is refused: the error names the file and why. The rules
/// are `RelPath::parse`'s and `check_tree_paths`'s, the stub's own, so what builds installs.
const NAMES_HINT: &str =
    "fix the release (rename or remove the file named above), then build again: \
    content holds only regular files and folders, with names that are safe on every platform \
    (no Windows device name such as CON, NUL or COM1 with any extension, no name ending in a dot \
    or space, no < > \" | ? * : \\, no 8.3 short-name shape such as NAME~1.EXT, no two names that \
    differ only in case)";

/// A component's files; `_unpacked` keeps an archive's temp folder alive while they are used.
#[derive(Debug)]
pub struct Content {
    pub files: Vec<SourceFile>,
    _unpacked: Option<TempDir>,
}

pub fn load(path: &Path, strip: usize) -> Result<Content, Error> {
    let shown = path.display();
    let meta = fs::metadata(path).map_err(|e| {
        Error::usage(format!("cannot read content {shown}: {e}"))
            .hint("`content` is a folder, .zip, .tar or .tar.gz, relative to the spec's folder")
    })?;
    if meta.is_dir() {
        if strip != 0 {
            return Err(Error::usage(format!(
                "strip_components applies to archives, and {shown} is a folder"
            ))
            .hint("remove strip_components from this component, or point content at the archive"));
        }
        let files = scan_dir(path)
            .map_err(|e| Error::usage(format!("content {shown}: {e}")).hint(NAMES_HINT))?;
        return Ok(Content {
            files,
            _unpacked: None,
        });
    }
    let name = path.to_string_lossy().to_lowercase();
    let tmp = tempfile::Builder::new()
        .prefix("iupack-content-")
        .tempdir()
        .map_err(|e| {
            Error::other(format!("cannot make a temp folder to unpack {shown}: {e}"))
                .hint("free space in the temp folder, or point TMPDIR at a folder with room")
        })?;
    let unpacked = if name.ends_with(".zip") {
        unpack_zip(path, tmp.path(), strip)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        let f = File::open(path).map_err(|e| io_err(path, &e))?;
        unpack_tar(flate2::read::GzDecoder::new(f), tmp.path(), strip)
    } else if name.ends_with(".tar") {
        let f = File::open(path).map_err(|e| io_err(path, &e))?;
        unpack_tar(f, tmp.path(), strip)
    } else {
        return Err(Error::usage(format!(
            "content {shown} is neither a folder nor a .zip, .tar or .tar.gz file"
        ))
        .hint("point `content` at the release's folder or its .zip, .tar or .tar.gz archive"));
    };
    unpacked.map_err(|e| Error::usage(format!("content {shown}: {e}")).hint(NAMES_HINT))?;
    let files = scan_dir(tmp.path())
        .map_err(|e| Error::usage(format!("content {shown}: {e}")).hint(NAMES_HINT))?;
    Ok(Content {
        files,
        _unpacked: Some(tmp),
    })
}

fn io_err(path: &Path, e: &io::Error) -> Error {
    Error::usage(format!("cannot read {}: {e}", path.display()))
        .hint("check that the path is right and readable by this user")
}

/// The safe relative path of an archive entry after dropping `strip` leading components;
/// `None` when nothing is left.
fn entry_path(name: &str, strip: usize) -> Result<Option<RelPath>, String> {
    let trimmed = name.trim_start_matches("./").trim_end_matches('/');
    let parts: Vec<&str> = trimmed.split('/').collect();
    if parts.len() <= strip {
        return Ok(None);
    }
    RelPath::parse(&parts[strip..].join("/")).map(Some)
}

fn write_entry(root: &Path, rel: &RelPath, mut data: impl Read, mode: u32) -> Result<(), String> {
    let target = rel.under(root);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .map_err(|e| format!("{rel}: {e} (listed twice?)"))?;
    io::copy(&mut data, &mut out).map_err(|e| format!("{rel}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&target, fs::Permissions::from_mode(package_mode(mode)))
            .map_err(|e| e.to_string())?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}

fn unpack_zip(path: &Path, root: &Path, strip: usize) -> Result<(), String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| format!("not a readable ZIP: {e}"))?;
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if entry.is_dir() {
            continue;
        }
        if entry.is_symlink() || !entry.is_file() {
            return Err(format!(
                "`{name}` is a link or special entry; only regular files are packaged"
            ));
        }
        let Some(rel) = entry_path(&name, strip)? else {
            continue;
        };
        let mode = entry.unix_mode().unwrap_or(0o644);
        write_entry(root, &rel, entry, mode)?;
    }
    Ok(())
}

fn unpack_tar(r: impl Read, root: &Path, strip: usize) -> Result<(), String> {
    let mut ar = tar::Archive::new(r);
    for entry in ar
        .entries()
        .map_err(|e| format!("not a readable tar: {e}"))?
    {
        let entry = entry.map_err(|e| format!("not a readable tar: {e}"))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        match entry.header().entry_type() {
            tar::EntryType::Directory | tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {
                continue
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            _ => {
                return Err(format!(
                    "`{name}` is a link or special entry; only regular files are packaged"
                ))
            }
        }
        let Some(rel) = entry_path(&name, strip)? else {
            continue;
        };
        let mode = entry.header().mode().unwrap_or(0o644);
        write_entry(root, &rel, entry, mode)?;
    }
    Ok(())
}
