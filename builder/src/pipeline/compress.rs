//! The full content of each component: compressed into one archive (tar.zst or tar.xz) on as
//! many threads as there are cores, or carried as one ZIP entry per file (deflate, a file past
//! tar's size limit, or a component too small to gain from an archive). Owns the choice between
//! the two; an archive made before is taken from the delta cache once it proves itself. Never
//! reads content other than the component's own files and never writes the package.

use crate::content::Content;
use crate::progress::Progress;
use crate::spec::{ComponentSpec, Spec};
use iupack_stub::format::manifest::{FullArchive, ARCHIVE_TAR_XZ, ARCHIVE_TAR_ZST};
use iupack_stub::format::patch_cache::{self, PatchCache};
use iupack_stub::format::write::{self, FullCodec, PackageEntry, Payload, SourceFile};
use iupack_stub::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One component's compressed full content and its package entry, or why it failed (the error
/// is reported when that component's turn comes: see [`settle`]).
pub type Archived = std::io::Result<(FullArchive, PackageEntry)>;

/// The full archive of each component that wants one (`None` for the others), compressed on as
/// many threads as there are cores (each compressor is single-threaded and bound by the CPU; an
/// xz 9e encoder takes ~350 MB, so no more at once).
pub fn archives(
    spec: &Spec,
    contents: &[Content],
    codec: FullCodec,
    created: u64,
    cache: &dyn PatchCache,
    progress: &Progress,
) -> Vec<Option<Archived>> {
    // (A file past tar's 8 GiB header limit keeps its component in per-file entries.)
    let wanted: Vec<bool> = spec
        .components
        .iter()
        .zip(contents)
        .map(|(c, content)| {
            c.full
                && codec != FullCodec::Deflate
                && content
                    .files
                    .iter()
                    .all(|f| f.size <= iupack_stub::format::codecs::tarstream::MAX_FILE_BYTES)
        })
        .collect();
    let results: Vec<Mutex<Option<Archived>>> = wanted.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let to_compress = wanted.iter().filter(|w| **w).count();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(to_compress);
    let pb = progress.bar("compressing", to_compress as u64);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = spec.components.get(i) else {
                    break;
                };
                if wanted[i] {
                    pb.set_message(c.name.clone());
                    let r = archive(cache, &c.name, &contents[i].files, codec, created);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    pb.inc(1);
                }
            });
        }
    });
    pb.finish_with_message(format!("{codec:?} on {workers} threads").to_lowercase());
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// The archive of one component's `files`: taken from the delta cache when one made before
/// proves itself (it decodes to exactly these files), else made and kept there. A build with
/// `SOURCE_DATE_EPOCH` takes only an archive made at its own time (its bytes are reproducible);
/// any other takes one made at any time (the tar headers' times are not compared by the stub).
fn archive(
    cache: &dyn PatchCache,
    component: &str,
    files: &[SourceFile],
    codec: FullCodec,
    created: u64,
) -> Archived {
    let name = match codec {
        FullCodec::Zstd => ARCHIVE_TAR_ZST,
        FullCodec::Xz => ARCHIVE_TAR_XZ,
        FullCodec::Deflate => return write::full_archive(component, files, codec, created),
    };
    let entries: Vec<_> = files.iter().map(SourceFile::entry).collect();
    let mtime = super::source_date_epoch().map(|_| created);
    let bytes = patch_cache::archive(cache, name, &entries, mtime, || match write::full_archive(
        component, files, codec, created,
    )?
    .1
    .payload
    {
        Payload::Bytes(b) => Ok(b),
        Payload::File(_) => Err(std::io::Error::other("an archive is made in memory")),
    })?;
    Ok(write::archive_parts(component, name, bytes))
}

/// How component `c` carries its full content: the archive (its entry appended to `entries`),
/// or per-file entries when it has no archive or the archive is not smaller than its files;
/// nothing when it carries no full content.
pub fn settle(
    c: &ComponentSpec,
    content: &Content,
    archived: Option<Archived>,
    entries: &mut Vec<PackageEntry>,
) -> Result<Option<FullArchive>, Error> {
    match archived {
        None if c.full => entries.extend(write::full_entries(&c.name, &content.files)),
        None => {}
        Some(result) => {
            let (a, entry) = result.map_err(|e| {
                Error::other(format!(
                    "cannot compress the full content of {}: {e}",
                    c.name
                ))
                .hint("check that the content is readable and memory is free; --compression deflate needs the least memory")
            })?;
            // Tiny components (a few config files) cost more as a tar stream than as entries.
            let raw: u64 = content.files.iter().map(|f| f.size).sum();
            if a.size < raw {
                entries.push(entry);
                return Ok(Some(a));
            }
            entries.extend(write::full_entries(&c.name, &content.files));
        }
    }
    Ok(None)
}
