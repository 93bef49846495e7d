//! Writing a component's new tree into an empty folder held open by handle: from full content
//! (files or one solid archive), a per-file delta against the installed tree, or a whole-tree
//! patch. Every file is created new (never through a symlink), streamed with its size and hash
//! checked, given its mode, and synced with its folders before the tree counts as written.

use crate::error::{Error, ExitCode, Result};
use crate::format::codecs::treestream;
use crate::format::manifest::{
    files_tree, Component, Delta, DeltaFile, DeltaOp, FileEntry, CODEC_BSDIFF_TREE, MODE_EXEC,
};
use crate::format::package::{copy_hashed, prefix_decoder, stream_checked, VerifiedPackage};
use crate::format::relpath::RelPath;
use crate::format::scan::SourceFile;
use crate::platform::fsutil::{self, StagedFile};
use crate::platform::safedir::Dir;
use std::io::Read;

/// Where one file of a new tree comes from.
enum Source<'a> {
    /// A ZIP entry holding the bytes whole.
    Entry(String),
    /// A ZIP entry holding a patch against a file of the installed tree.
    Patch {
        name: String,
        old: &'a SourceFile,
        patch_size: u64,
        /// The file's own patch codec (`None`: zstd with the old file as prefix).
        codec: Option<&'a str>,
    },
    /// A file of the installed tree, kept as it is.
    Kept(&'a SourceFile),
}

/// Stages a component's new tree from its installed tree and a delta.
pub(super) fn write_delta(
    vp: &mut VerifiedPackage,
    c: &Component,
    d: &Delta,
    base: &[SourceFile],
    root: &Dir,
) -> Result<Vec<FileEntry>> {
    let mut ops: Vec<&DeltaFile> = d.files.iter().collect();
    ops.sort_unstable_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
    let mut files: Vec<(FileEntry, Source<'_>)> = Vec::new();
    for b in base {
        match crate::json::sorted::find(&ops, b.path.as_str(), |f| f.path.as_str()) {
            None => files.push((b.entry(), Source::Kept(b))),
            Some(f) if f.op == DeltaOp::Patch => {
                let e = f.new_entry().expect("validated");
                let name = c.delta_entry_name(d, f);
                let patch_size = f.patch_size.expect("validated");
                files.push((
                    e,
                    Source::Patch {
                        name,
                        old: b,
                        patch_size,
                        codec: f.codec.as_deref(),
                    },
                ));
            }
            Some(_) => {}
        }
    }
    for f in d.files.iter().filter(|f| f.op == DeltaOp::Add) {
        let name = c.delta_entry_name(d, f);
        files.push((f.new_entry().expect("validated"), Source::Entry(name)));
    }
    write_files(vp, root, files)
}

/// Stages a component's new tree from its installed tree and a whole-tree patch: the patch is
/// read whole and its signed hash checked before it is decoded; the stream's listing is validated
/// before any file is written; the written tree must hash to the signed `tree`.
pub(super) fn write_tree_delta(
    vp: &mut VerifiedPackage,
    c: &Component,
    d: &Delta,
    base: &[SourceFile],
    root: &Dir,
) -> Result<Vec<FileEntry>> {
    let (Some(patch_size), Some(patch_sha), Some(stream_size)) =
        (d.patch_size, d.patch_sha256.as_deref(), d.stream_size)
    else {
        return Err(Error::damaged("a whole-tree delta lacks its patch fields"));
    };
    let name = c.tree_delta_entry_name(d);
    let patch = vp.read_entry_checked(&name, patch_size, treestream::MAX_TREE_BYTES, patch_sha)?;
    let old = treestream::serialise(base)
        .map_err(|e| Error::apply_io("cannot read the installed files", &e))?;
    let dec: Box<dyn Read + '_> = if d.codec == CODEC_BSDIFF_TREE {
        // The new stream whole (at most MAX_TREE_BYTES, checked when the manifest was read).
        let mut new = crate::error::buffer(&name, stream_size, treestream::MAX_TREE_BYTES)?;
        crate::format::codecs::bsdx::apply(&old, &patch, stream_size, &mut new)?;
        Box::new(std::io::Cursor::new(new))
    } else {
        Box::new(prefix_decoder(&patch[..], &old, stream_size)?)
    };
    let mut stream = std::io::BufReader::new(dec.take(stream_size + 1));
    let listed = treestream::read_listing(&mut stream, stream_size)?;
    let mut dirs = Folders::default();
    let mut written = Vec::with_capacity(listed.len());
    let mut targets = Vec::with_capacity(listed.len());
    for f in &listed {
        let mut out = new_file_in(root, &f.path, &mut dirs)?;
        // Read errors mean a bad patch; write errors (a full disk) are the machine's.
        let (n, sha256) = copy_hashed(
            &mut (&mut stream).take(f.size),
            f.size,
            &mut out,
            &format!("the whole-tree patch of {} does not decode", c.name),
            &shown(root, &f.path),
        )?;
        if n != f.size {
            return Err(Error::damaged(format!(
                "the tree stream of {} ends early",
                c.name
            )));
        }
        finish_file(&mut out, root, &f.path, f.mode)?;
        targets.push(f.path.clone());
        written.push(FileEntry {
            path: f.path.clone(),
            size: f.size,
            sha256,
            mode: f.mode,
        });
    }
    let mut rest = [0u8; 1];
    if stream
        .read(&mut rest)
        .map_err(|e| Error::damaged(e.to_string()))?
        != 0
    {
        return Err(Error::damaged(format!(
            "the tree stream of {} is longer than declared",
            c.name
        )));
    }
    if files_tree(&written) != c.tree {
        return Err(Error::damaged(format!(
            "the whole-tree patch of {} {} did not rebuild the signed tree",
            c.name, c.version
        )));
    }
    sync_tree(root, &targets, &dirs)?;
    Ok(written)
}

/// The folders made below a staging root, parents before children.
#[derive(Debug, Default)]
struct Folders {
    made: Vec<String>,
    /// The folder of the file before: it and its parents exist.
    last: String,
}

impl Folders {
    /// Makes the folders `path` needs below `root` that are not there yet.
    fn make_for(&mut self, root: &Dir, path: &RelPath) -> Result<()> {
        let mut parent = "";
        for d in path.parents() {
            parent = d;
            let known = self.last.starts_with(d)
                && matches!(self.last.as_bytes().get(d.len()), None | Some(b'/'));
            if known {
                continue;
            }
            match root.mkdir(d, 0o755) {
                Ok(()) => self.made.push(d.to_string()),
                // Made for an earlier file: the root is new, only this run writes in it, and
                // the tree's paths are checked.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::apply_io(
                        format!("cannot create {}", root.path.join(d).display()),
                        &e,
                    ))
                }
            }
        }
        self.last.clear();
        self.last.push_str(parent);
        Ok(())
    }
}

/// A file below a staging root, for messages.
fn shown(root: &Dir, path: &RelPath) -> String {
    path.under(&root.path).display().to_string()
}

/// Creates the folders `path` needs below `root`, then the file itself, new (never through a
/// symlink).
fn new_file_in(root: &Dir, path: &RelPath, dirs: &mut Folders) -> Result<StagedFile> {
    dirs.make_for(root, path)?;
    let out = root
        .create(path.as_str())
        .map_err(|e| Error::apply_io(format!("cannot create {}", shown(root, path)), &e))?;
    Ok(StagedFile::new(out))
}

/// Flushes a written file, starts its write-out, gives it its mode (on the open file);
/// `sync_tree` syncs it later.
fn finish_file(out: &mut StagedFile, root: &Dir, path: &RelPath, mode: u32) -> Result<()> {
    out.finish()
        .and_then(|()| out.set_mode(mode))
        .map_err(|e| Error::apply_io(format!("cannot write {}", shown(root, path)), &e))
}

/// Syncs every written file, then every folder made below `root` (deepest first), then `root`.
/// Files are synced after all are written, not one by one as they are written: the first sync
/// commits the file system's journal with the data of all of them, so the rest cost little.
fn sync_tree(root: &Dir, files: &[RelPath], dirs: &Folders) -> Result<()> {
    for f in files {
        root.open_file(f.as_str())
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::apply_io(format!("cannot sync {}", shown(root, f)), &e))?;
    }
    for d in dirs.made.iter().rev() {
        root.sub(d)
            .and_then(|d| d.sync())
            .map_err(|e| Error::apply_io("cannot sync a folder", &e))?;
    }
    root.sync()
        .map_err(|e| Error::apply_io("cannot sync a folder", &e))
}

/// Writes a component's verified full content under `root` (an existing, empty folder).
pub(super) fn write_tree(
    vp: &mut VerifiedPackage,
    c: &Component,
    root: &Dir,
) -> Result<Vec<FileEntry>> {
    if c.full_archive.is_some() {
        return write_archive_tree(vp, c, root);
    }
    let files = c
        .full
        .iter()
        .flatten()
        .map(|f| (f.clone(), Source::Entry(c.full_entry_name(&f.path))))
        .collect();
    write_files(vp, root, files)
}

/// Writes a component's solid full content (one compressed tar stream) under `root`: each file
/// created new, streamed with its size and hash checked, given its mode; then all synced.
fn write_archive_tree(
    vp: &mut VerifiedPackage,
    c: &Component,
    root: &Dir,
) -> Result<Vec<FileEntry>> {
    let mut dirs = Folders::default();
    let mut targets = Vec::new();
    vp.read_full_archive(c, |f, r| {
        let mut out = new_file_in(root, &f.path, &mut dirs)?;
        stream_checked(r, &format!("the full content of {}", c.name), f, &mut out)?;
        finish_file(&mut out, root, &f.path, f.mode)?;
        targets.push(f.path.clone());
        Ok(())
    })?;
    sync_tree(root, &targets, &dirs)?;
    Ok(c.full.clone().unwrap_or_default())
}

/// Writes each file under `root` from its source: created new, streamed with its size and hash
/// checked, synced, given its mode; then every folder synced.
fn write_files(
    vp: &mut VerifiedPackage,
    root: &Dir,
    files: Vec<(FileEntry, Source<'_>)>,
) -> Result<Vec<FileEntry>> {
    let mut dirs = Folders::default();
    let mut targets = Vec::with_capacity(files.len());
    for (f, source) in &files {
        let mut out = new_file_in(root, &f.path, &mut dirs)?;
        match source {
            Source::Entry(name) => vp.copy_entry(name, f, &mut out)?,
            Source::Patch {
                name,
                old,
                patch_size,
                codec,
            } => {
                let mut bytes = read_installed(old)?;
                match codec {
                    Some(codec) => {
                        vp.coded_entry(name, &mut bytes, *patch_size, codec, f, &mut out)?
                    }
                    None => vp.patch_entry(name, &bytes, *patch_size, f, &mut out)?,
                }
            }
            Source::Kept(old) => {
                let mut src = fsutil::open_regular(&old.disk).map_err(|e| {
                    Error::apply_io(format!("cannot read {}", old.disk.display()), &e)
                })?;
                stream_checked(&mut src, &old.disk.display().to_string(), f, &mut out)
                    .map_err(changed_meanwhile)?;
            }
        }
        finish_file(&mut out, root, &f.path, f.mode)?;
        targets.push(f.path.clone());
    }
    sync_tree(root, &targets, &dirs)?;
    Ok(files.into_iter().map(|(f, _)| f).collect())
}

/// The executable files of a tree (what a Windows inventory records: NTFS has no exec bit).
pub(super) fn exec_paths<'a>(files: impl Iterator<Item = &'a FileEntry>) -> Vec<String> {
    files
        .filter(|f| f.mode == MODE_EXEC)
        .map(|f| f.path.to_string())
        .collect()
}

/// An installed file a patch applies to, read whole and checked again: it may have changed since
/// the tree was proven.
fn read_installed(old: &SourceFile) -> Result<Vec<u8>> {
    // Sized from our own scan of the file: read into one allocation, not a doubling one.
    let mut bytes = Vec::with_capacity(old.size as usize);
    let mut src = fsutil::open_regular(&old.disk)
        .map_err(|e| Error::apply_io(format!("cannot read {}", old.disk.display()), &e))?;
    stream_checked(
        &mut src,
        &old.disk.display().to_string(),
        &old.entry(),
        &mut bytes,
    )
    .map_err(changed_meanwhile)?;
    Ok(bytes)
}

fn changed_meanwhile(e: Error) -> Error {
    if e.code == ExitCode::Damaged {
        Error::new(
            ExitCode::ApplyFailed,
            format!("an installed file changed during the update: {}", e.message),
        )
        .hint("stop whatever is writing to the product's folders, then run the package again")
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::safedir;
    use std::fs;

    /// Each folder a tree needs is made once, in any file order, and listed parents first (so
    /// `sync_tree` syncs children before their parents); prefixes that are not folders of the
    /// file before ("a/b" after "a/b2") are not taken for made ones.
    #[test]
    fn folders_are_made_once_parents_first() {
        let root = std::env::temp_dir().join(format!("iupack-folders-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir(&root).expect("root");
        let dir = safedir::open(&root).expect("open");
        let mut dirs = Folders::default();
        let paths = [
            "a/b2/i", "a/b/c", "a/x", "d", "a/b/e", "f/g/h", "a/b2/j", "f/k",
        ];
        for p in paths {
            let p = RelPath::parse(p).expect("valid");
            let mut out = new_file_in(&dir, &p, &mut dirs).expect("created");
            finish_file(&mut out, &dir, &p, crate::format::manifest::MODE_FILE).expect("finished");
        }
        let made: Vec<&str> = dirs.made.iter().map(String::as_str).collect();
        assert_eq!(made, ["a", "a/b2", "a/b", "f", "f/g"]);
        for p in paths {
            assert!(root.join(p).is_file(), "{p}");
        }
        sync_tree(&dir, &[], &dirs).expect("synced");
        // A path under a file is refused, not taken for a made folder.
        let under_file = RelPath::parse("d/e").expect("valid");
        assert!(new_file_in(&dir, &under_file, &mut dirs).is_err());
        fs::remove_dir_all(&root).expect("clean up");
    }
}
