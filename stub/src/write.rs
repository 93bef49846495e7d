//! The write side (feature `write`, used by the `iupack` builder, never by the stub binary):
//! scanning release content into manifest entries, signing, and writing a package file as
//! `[stub][ZIP]` with absolute offsets, so `unzip -l` and `7z l` read it without warnings.

use crate::digest::hash_reader;
use crate::manifest::{FileEntry, MANIFEST_ENTRY, MODE_EXEC, MODE_FILE, SIGNATURE_ENTRY};
use crate::relpath::{check_tree_paths, RelPath};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// One file of release content on the build machine.
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
    out.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
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
            let f =
                File::open(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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

/// Signs `data` with a pre-hashed minisign signature and the given trusted comment; returns the
/// text of a `.minisig` file.
pub fn sign(
    sk: &minisign::SecretKey,
    pk: Option<&minisign::PublicKey>,
    data: impl Read,
    trusted_comment: &str,
    untrusted_comment: &str,
) -> Result<String, String> {
    minisign::sign(pk, sk, data, Some(trusted_comment), Some(untrusted_comment))
        .map(|b| b.into_string())
        .map_err(|e| format!("signing failed: {e}"))
}

/// One component's files for the ZIP.
#[derive(Debug)]
pub struct ComponentFiles<'a> {
    pub name: &'a str,
    pub files: &'a [SourceFile],
}

/// The ZIP timestamp for a Unix time (clamped to the DOS range).
fn dos_time(unix: u64) -> DateTime {
    let (y, m, d) = crate::time::civil_from_days((unix / 86_400) as i64);
    let s = unix % 86_400;
    DateTime::from_date_and_time(
        y.clamp(1980, 2107) as u16,
        m as u8,
        d as u8,
        (s / 3600) as u8,
        (s / 60 % 60) as u8,
        (s % 60) as u8,
    )
    .unwrap_or_default()
}

/// Whether deflate pays for a file, judged on its first MiB: stored when it saves under 3%.
fn worth_deflating(path: &Path, size: u64) -> io::Result<bool> {
    if size < 64 {
        return Ok(false);
    }
    let mut sample = Vec::new();
    File::open(path)?.take(1 << 20).read_to_end(&mut sample)?;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    enc.write_all(&sample)?;
    let packed = enc.finish()?.len();
    Ok((packed as f64) < sample.len() as f64 * 0.97)
}

/// Writes `[stub][ZIP]` to `out` (already holding nothing): the stub's bytes, the manifest and its
/// signature, then each component's full content. Returns the stub's length.
pub fn write_package<W: Write + Seek>(
    out: W,
    stub: &[u8],
    manifest: &[u8],
    signature: &str,
    components: &[ComponentFiles<'_>],
    created_unix: u64,
) -> io::Result<W> {
    let mut out = out;
    out.write_all(stub)?;
    let mut zip = ZipWriter::new(out);
    let time = dos_time(created_unix);
    let base = SimpleFileOptions::default()
        .last_modified_time(time)
        .compression_method(CompressionMethod::Stored);
    let deflated = base
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(9));
    zip.start_file(MANIFEST_ENTRY, deflated.unix_permissions(0o644))?;
    zip.write_all(manifest)?;
    zip.start_file(SIGNATURE_ENTRY, base.unix_permissions(0o644))?;
    zip.write_all(signature.as_bytes())?;
    for c in components {
        for f in c.files {
            let opts = if worth_deflating(&f.disk, f.size)? {
                deflated
            } else {
                base
            };
            let opts = opts
                .unix_permissions(f.mode)
                .large_file(f.size >= 0xFFFF_FFFF);
            zip.start_file(format!("full/{}/{}", c.name, f.path), opts)?;
            let mut src = File::open(&f.disk)?;
            let copied = io::copy(&mut src, &mut zip)?;
            if copied != f.size {
                return Err(io::Error::other(format!(
                    "{} changed while the package was built",
                    f.disk.display()
                )));
            }
        }
    }
    zip.finish().map_err(io::Error::other)
}
