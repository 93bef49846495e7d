//! The delta cache's contract on the write side (feature `write`, issue 21): the [`PatchCache`]
//! trait the delta functions of `write.rs` take, the key each patch encoding (and each full
//! archive) is kept under, and the proof a cached one passes before it is used: a patch decoded
//! with the stub's own decoders against the old bytes must give exactly the new bytes, an
//! archive must decode to exactly the signed files; else it is rejected and made again.
//! A cache can therefore make a build faster, never make it ship something else than what the
//! encoder would have made work out to. Owns no storage (the builder's `deltacache` module keeps
//! the entries and checks their digests) and never touches a file.

use crate::format::codecs::tarstream;
use crate::format::digest::sha256_hex;
use crate::format::manifest::{FileEntry, ARCHIVE_TAR_XZ, ARCHIVE_TAR_ZST};
use std::io::{self, Read};

/// Where patch encodings made by earlier builds may be kept. `get` returns what was `put` under
/// the key (the store checks its own integrity; the caller still proves the patch); `reject`
/// says that what `get` returned did not prove itself, so it must not be returned again.
pub trait PatchCache: Sync {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn put(&self, key: &str, patch: &[u8]);
    fn reject(&self, key: &str);
}

/// No cache: every patch is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

impl PatchCache for NoCache {
    fn get(&self, _: &str) -> Option<Vec<u8>> {
        None
    }
    fn put(&self, _: &str, _: &[u8]) {}
    fn reject(&self, _: &str) {}
}

/// One patch encoding: what the cache key names, and how a cached patch is decoded to prove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding<'a> {
    /// A `zstd-prefix` file patch from the file with SHA-256 `old` to the one with `new`.
    ZstdPrefix {
        old: &'a str,
        new: &'a str,
        level: i32,
    },
    /// A `bsdiff-lzma` file patch (its encoder has no level).
    BsdiffLzma { old: &'a str, new: &'a str },
    /// A `zucchini-xz` file patch (its encoder has no level).
    ZucchiniXz { old: &'a str, new: &'a str },
    /// A `zucchini-norm-xz` file patch (every normalisation the builder knows).
    ZucchiniNormXz { old: &'a str, new: &'a str },
    /// A `bsdiff-lzma-tree` patch from the tree with digest `old` to the tree with digest `new`.
    BsdiffTree { old: &'a str, new: &'a str },
    /// A `zstd-tree` patch from the tree with digest `old` to the tree with digest `new`.
    ZstdTree {
        old: &'a str,
        new: &'a str,
        level: i32,
    },
}

/// The version of the key text: raised when an encoder's settings change, so entries made with
/// the old settings are no longer found (they age out of the cache).
const KEY_VERSION: u32 = 1;

impl Encoding<'_> {
    /// The cache key: SHA-256 (hex) of a versioned text naming the encoding and everything its
    /// output depends on (the inputs' digests, the level, the window the sizes give, the zstd
    /// library's version), so two encodings share a key only when they are the same job.
    pub fn key(&self, old_len: usize, new_len: usize) -> String {
        let window = crate::format::digest::window_log(old_len as u64, new_len as u64);
        let zstd = zstd::zstd_safe::version_number();
        let text = match *self {
            Encoding::ZstdPrefix { old, new, level } => {
                format!("zstd-prefix\0{old}\0{new}\0{level}\0window {window}\0zstd {zstd}")
            }
            // Layout 2 (earlier entries, layout 1, are not found: a head reads only layout 2).
            Encoding::BsdiffLzma { old, new } => format!("bsdiff-lzma 2\0{old}\0{new}"),
            Encoding::BsdiffTree { old, new } => format!("bsdiff-lzma-tree 2\0{old}\0{new}"),
            Encoding::ZucchiniXz { old, new } => {
                format!("zucchini-xz 1\0{old}\0{new}\0zucchini 0.1.1")
            }
            Encoding::ZucchiniNormXz { old, new } => {
                let set = crate::format::codecs::zucchini::NORM_ALL;
                format!("zucchini-norm-xz 1\0{old}\0{new}\0zucchini 0.1.1\0set {set}")
            }
            Encoding::ZstdTree { old, new, level } => {
                format!("zstd-tree\0{old}\0{new}\0{level}\0window {window}\0zstd {zstd}")
            }
        };
        sha256_hex(format!("iupack-delta-cache {KEY_VERSION}\0{text}").as_bytes())
    }

    /// True when `patch` decoded against `old` with the stub's decoder gives exactly `new`.
    fn proves(&self, patch: &[u8], old: &[u8], new: &[u8]) -> bool {
        let mut out = Vec::new();
        let decoded = match self {
            Encoding::BsdiffLzma { .. } | Encoding::BsdiffTree { .. } => {
                crate::format::codecs::bsdx::apply(old, patch, new.len() as u64, &mut out).is_ok()
            }
            Encoding::ZucchiniXz { .. } => {
                match crate::format::codecs::zucchini::apply_payload(old, patch, new.len() as u64) {
                    Ok(v) => {
                        out = v;
                        true
                    }
                    Err(_) => false,
                }
            }
            Encoding::ZucchiniNormXz { .. } => {
                let mut copy = old.to_vec();
                let size = new.len() as u64;
                match crate::format::codecs::zucchini::apply_norm_payload(&mut copy, patch, size) {
                    Ok(v) => {
                        out = v;
                        true
                    }
                    Err(_) => false,
                }
            }
            Encoding::ZstdPrefix { .. } | Encoding::ZstdTree { .. } => {
                crate::format::package::prefix_decoder(patch, old, new.len() as u64)
                    .ok()
                    .is_some_and(|d| d.take(new.len() as u64 + 1).read_to_end(&mut out).is_ok())
            }
        };
        decoded && out == new
    }
}

/// The patch `encoding` makes from `old` to `new`: the cached one when it proves itself (a
/// cached patch that does not is rejected), else the one `make` makes, which is then kept.
pub fn patch(
    cache: &dyn PatchCache,
    encoding: Encoding<'_>,
    old: &[u8],
    new: &[u8],
    make: impl FnOnce() -> io::Result<Vec<u8>>,
) -> io::Result<Vec<u8>> {
    let key = encoding.key(old.len(), new.len());
    if let Some(cached) = cache.get(&key) {
        if encoding.proves(&cached, old, new) {
            return Ok(cached);
        }
        cache.reject(&key);
    }
    let made = make()?;
    cache.put(&key, &made);
    Ok(made)
}

/// The cache key of the full archive (`codec`: `tar.zst` or `tar.xz`) of the files `files`, in
/// this order. `mtime` is the tar headers' time when the build must be reproducible
/// (`SOURCE_DATE_EPOCH`), else `None`: the stub does not compare that field, so an archive made
/// by an earlier build is the same content, carrying that build's time.
pub fn archive_key(codec: &str, files: &[FileEntry], mtime: Option<u64>) -> String {
    let mut text = format!(
        "iupack-delta-cache {KEY_VERSION}\0full-archive\0{codec}\0zstd {}\0mtime {}\0",
        zstd::zstd_safe::version_number(),
        mtime.map_or("any".to_string(), |m| m.to_string())
    );
    for f in files {
        text.push_str(&format!(
            "{}\t{:o}\t{}\t{}\n",
            f.path, f.mode, f.size, f.sha256
        ));
    }
    sha256_hex(text.as_bytes())
}

/// True when `archive` decodes, with the stub's decoders and tar reader, to exactly the tar
/// stream of `files`: every header as the stub expects it and every file's bytes with its size
/// and SHA-256, and nothing after.
fn archive_proves(codec: &str, archive: &[u8], files: &[FileEntry]) -> bool {
    use crate::format::package::{ARCHIVE_WINDOW_LOG_MAX, ARCHIVE_XZ_MEM_LIMIT_KIB};
    let decoder: Box<dyn Read + '_> = match codec {
        ARCHIVE_TAR_ZST => {
            let d = zstd::stream::read::Decoder::with_buffer(archive)
                .and_then(|mut d| d.window_log_max(ARCHIVE_WINDOW_LOG_MAX).map(|()| d));
            match d {
                Ok(d) => Box::new(d),
                Err(_) => return false,
            }
        }
        ARCHIVE_TAR_XZ => Box::new(lzma_rust2::XzReader::new_mem_limit(
            archive,
            false,
            ARCHIVE_XZ_MEM_LIMIT_KIB,
        )),
        _ => return false,
    };
    let mut tar = tarstream::Reader::new(
        io::BufReader::with_capacity(256 << 10, decoder),
        "a cached full archive".to_string(),
    );
    for f in files {
        let hashed = tar
            .file(f)
            .ok()
            .and_then(|r| crate::format::digest::hash_reader(r).ok());
        if hashed != Some((f.size, f.sha256.clone())) || tar.end_file(f).is_err() {
            return false;
        }
    }
    tar.finish().is_ok()
}

/// The full archive of `files` (`codec`, key from [`archive_key`]): the cached one when it
/// proves itself (a cached one that does not is rejected), else the one `make` makes, kept.
pub fn archive(
    cache: &dyn PatchCache,
    codec: &str,
    files: &[FileEntry],
    mtime: Option<u64>,
    make: impl FnOnce() -> io::Result<Vec<u8>>,
) -> io::Result<Vec<u8>> {
    let key = archive_key(codec, files, mtime);
    if let Some(cached) = cache.get(&key) {
        if archive_proves(codec, &cached, files) {
            return Ok(cached);
        }
        cache.reject(&key);
    }
    let made = make()?;
    cache.put(&key, &made);
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Mem {
        entries: Mutex<HashMap<String, Vec<u8>>>,
        rejected: Mutex<Vec<String>>,
    }

    impl PatchCache for Mem {
        fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.entries.lock().ok()?.get(key).cloned()
        }
        fn put(&self, key: &str, patch: &[u8]) {
            if let Ok(mut e) = self.entries.lock() {
                e.insert(key.to_string(), patch.to_vec());
            }
        }
        fn reject(&self, key: &str) {
            if let Ok(mut r) = self.rejected.lock() {
                r.push(key.to_string());
            }
        }
    }

    #[test]
    fn keys_differ_for_every_input_and_encoding() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let keys = [
            Encoding::ZstdPrefix {
                old: &a,
                new: &b,
                level: 19,
            }
            .key(10, 10),
            Encoding::ZstdPrefix {
                old: &b,
                new: &a,
                level: 19,
            }
            .key(10, 10),
            Encoding::ZstdPrefix {
                old: &a,
                new: &b,
                level: 22,
            }
            .key(10, 10),
            Encoding::ZstdPrefix {
                old: &a,
                new: &b,
                level: 19,
            }
            .key(1 << 20, 1 << 20),
            Encoding::ZstdTree {
                old: &a,
                new: &b,
                level: 19,
            }
            .key(10, 10),
            Encoding::BsdiffLzma { old: &a, new: &b }.key(10, 10),
        ];
        let unique: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len());
    }

    #[test]
    fn a_cached_patch_that_decodes_to_other_bytes_is_rejected_and_made_again() {
        let old = b"the old file, with some text that the new one shares".repeat(20);
        let mut new = old.clone();
        new.extend_from_slice(b" and an ending");
        let other = b"something else entirely".to_vec();
        let enc = Encoding::ZstdPrefix {
            old: "o",
            new: "n",
            level: 3,
        };
        let cache = Mem::default();
        let key = enc.key(old.len(), new.len());
        // A well-formed patch, but of other bytes: refused by the proof, not by any digest.
        let wrong = crate::format::write::encode_patch(&old, &other, 3).expect("encode");
        cache.put(&key, &wrong);
        let mut made = 0;
        let p = patch(&cache, enc, &old, &new, || {
            made += 1;
            crate::format::write::encode_patch(&old, &new, 3)
        })
        .expect("patch");
        assert_eq!(made, 1);
        assert_eq!(*cache.rejected.lock().expect("lock"), vec![key]);
        // The patch made replaced it, and is used from now on without making it again.
        let again = patch(&cache, enc, &old, &new, || {
            Err(io::Error::other("made twice"))
        })
        .expect("cached");
        assert_eq!(again, p);
    }
}
