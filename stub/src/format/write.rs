//! The write side (feature `write`, used by the `iupack` builder, never by the stub binary):
//! scanning release content into manifest entries, signing, and writing a package file as
//! `[stub][ZIP]` with absolute offsets, so `unzip -l` and `7z l` read it without warnings.

use crate::format::codecs::treestream;
use crate::format::digest::sha256_hex;
use crate::format::manifest::{
    files_tree, Delta, DeltaFile, DeltaOp, CODEC_BSDIFF_TREE, CODEC_ZSTD_PREFIX, CODEC_ZSTD_TREE,
    MANIFEST_ENTRY, SIGNATURE_ENTRY,
};
use crate::format::patch_cache::{self, Encoding, PatchCache};
pub use crate::format::scan::{package_mode, scan_dir, SourceFile};
use crate::format::version::Version;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

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

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
pub enum Payload {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// How an entry is stored in the ZIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// Deflate when it saves at least 3%, else store.
    Auto,
    /// Already compressed (patches): store as is.
    Stored,
}

/// One ZIP entry of a package after the manifest and its signature.
#[derive(Debug, Clone)]
pub struct PackageEntry {
    pub name: String,
    pub payload: Payload,
    pub size: u64,
    pub mode: u32,
    pub store: Store,
}

/// The `full/COMPONENT/PATH` entries of a component's files.
pub fn full_entries(component: &str, files: &[SourceFile]) -> Vec<PackageEntry> {
    files
        .iter()
        .map(|f| PackageEntry {
            name: format!("full/{component}/{}", f.path),
            payload: Payload::File(f.disk.clone()),
            size: f.size,
            mode: f.mode,
            store: Store::Auto,
        })
        .collect()
}

/// How full content is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullCodec {
    /// One deflated ZIP entry per file: any unzip tool extracts it.
    Deflate,
    /// One tar stream per component, zstd level 19 with long-distance matching: small and the
    /// fastest to apply (the builder's default).
    Zstd,
    /// One tar stream per component, xz (LZMA2 preset 9e, with the x86 branch filter when most
    /// bytes are x86 programs): the smallest, slower to build and to apply.
    Xz,
}

/// The largest zstd window and xz dictionary a full archive uses (32 MiB): what the stub's
/// memory budget allows (the stub refuses more).
const ARCHIVE_WINDOW_LOG: u32 = crate::format::package::ARCHIVE_WINDOW_LOG_MAX;

/// True when the file starts like an x86 or x86-64 program (ELF or PE).
fn is_x86_program(path: &Path) -> io::Result<bool> {
    let mut head = Vec::with_capacity(1024);
    File::open(path)?.take(1024).read_to_end(&mut head)?;
    let u16_at = |i: usize| head.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    if head.starts_with(b"\x7fELF") {
        return Ok(matches!(u16_at(18), Some(0x3E | 0x03)));
    }
    if head.starts_with(b"MZ") {
        let pe = head
            .get(0x3C..0x40)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        if let Some(pe) = pe {
            if head.get(pe..pe + 4) == Some(b"PE\0\0") {
                return Ok(matches!(u16_at(pe + 4), Some(0x8664 | 0x014C)));
            }
        }
    }
    Ok(false)
}

/// The `full/COMPONENT.tar.*` archive of a component's files (in this order, which must be the
/// manifest's `full` order), compressed whole with `codec` (`Zstd` or `Xz`).
pub fn full_archive(
    component: &str,
    files: &[SourceFile],
    codec: FullCodec,
    mtime: u64,
) -> io::Result<(crate::format::manifest::FullArchive, PackageEntry)> {
    let entries: Vec<_> = files.iter().map(SourceFile::entry).collect();
    let disk: HashMap<&str, &Path> = files
        .iter()
        .map(|f| (f.path.as_str(), f.disk.as_path()))
        .collect();
    let open = |e: &crate::format::manifest::FileEntry| -> io::Result<Box<dyn Read>> {
        Ok(Box::new(File::open(disk[e.path.as_str()])?))
    };
    let total: u64 = files.iter().map(|f| f.size).sum();
    let tar_len = crate::format::codecs::tarstream::stream_size(&entries);
    let wanted_log = (64 - tar_len.max(1).leading_zeros()).clamp(16, ARCHIVE_WINDOW_LOG);
    let (codec_name, bytes) = match codec {
        FullCodec::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19)?;
            enc.window_log(wanted_log)?;
            enc.long_distance_matching(true)?;
            enc.include_checksum(false)?;
            enc.include_contentsize(true)?;
            enc.set_pledged_src_size(Some(tar_len))?;
            let mut w = io::BufWriter::with_capacity(1 << 20, enc);
            crate::format::codecs::tarstream::write(&mut w, &entries, mtime, open)?;
            let enc = w.into_inner().map_err(|e| e.into_error())?;
            (crate::format::manifest::ARCHIVE_TAR_ZST, enc.finish()?)
        }
        FullCodec::Xz => {
            use liblzma::stream::{Check, Filters, LzmaOptions, Stream, PRESET_EXTREME};
            let mut x86 = 0u64;
            for f in files {
                if is_x86_program(&f.disk)? {
                    x86 += f.size;
                }
            }
            let mut opts = LzmaOptions::new_preset(9 | PRESET_EXTREME).map_err(io::Error::other)?;
            opts.dict_size(1 << wanted_log);
            let mut filters = Filters::new();
            if x86 * 2 >= total && total > 0 {
                filters.x86();
            }
            filters.lzma2(&opts);
            let stream =
                Stream::new_stream_encoder(&filters, Check::Crc32).map_err(io::Error::other)?;
            let enc = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
            let mut w = io::BufWriter::with_capacity(1 << 20, enc);
            crate::format::codecs::tarstream::write(&mut w, &entries, mtime, open)?;
            let enc = w.into_inner().map_err(|e| e.into_error())?;
            (crate::format::manifest::ARCHIVE_TAR_XZ, enc.finish()?)
        }
        FullCodec::Deflate => return Err(io::Error::other("deflate makes no archive")),
    };
    Ok(archive_parts(component, codec_name, bytes))
}

/// The manifest's `full_archive` and the package entry of a component's archive `bytes`, coded
/// with `codec_name` (`tar.zst`, `tar.xz`).
pub fn archive_parts(
    component: &str,
    codec_name: &str,
    bytes: Vec<u8>,
) -> (crate::format::manifest::FullArchive, PackageEntry) {
    let archive = crate::format::manifest::FullArchive {
        codec: codec_name.to_string(),
        size: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
    };
    let entry = PackageEntry {
        name: format!("full/{component}.{codec_name}"),
        size: bytes.len() as u64,
        payload: Payload::Bytes(bytes),
        mode: 0o644,
        store: Store::Stored,
    };
    (archive, entry)
}

/// Makes a `zstd-prefix` patch: a zstd frame of `new` compressed with `old` as a raw prefix,
/// long-distance matching on, window wide enough to reach back over all of `old`.
pub fn encode_patch(old: &[u8], new: &[u8], level: i32) -> io::Result<Vec<u8>> {
    let mut enc = zstd::stream::write::Encoder::with_ref_prefix(Vec::new(), level, old)?;
    enc.window_log(crate::format::digest::window_log(
        old.len() as u64,
        new.len() as u64,
    ))?;
    enc.long_distance_matching(true)?;
    enc.include_checksum(false)?;
    enc.include_contentsize(true)?;
    enc.set_pledged_src_size(Some(new.len() as u64))?;
    enc.write_all(new)?;
    enc.finish()
}

/// Files at least this large also get a `bsdiff-lzma` patch, and the smaller patch is kept.
const BSDIFF_MIN_BYTES: usize = 16 << 10;

/// Which patch codecs a delta may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatchCodecs {
    /// Any: per file the smaller of `zstd-prefix` and (16 KiB and up) `bsdiff-lzma`, and the
    /// whole-tree `zstd-tree` patch as [`CodecChoice`] says.
    #[default]
    All,
    /// Only what a head built without the zstd decoder reads (`iupack-head`): every patch
    /// `bsdiff-lzma`, whatever the file's size, and the whole-tree patch `bsdiff-lzma-tree`.
    NoZstd,
    /// What a head without zstd but with `zucchini-xz` reads (`iupack-head-exe`): as `NoZstd`,
    /// and programs get `zucchini-xz` (`bsdiff-lzma` where Zucchini makes no patch).
    NoZstdExe,
}

impl PatchCodecs {
    /// True when the patches must be read by a head without the zstd decoder.
    pub fn no_zstd(self) -> bool {
        self != PatchCodecs::All
    }
}

/// How the deltas of a build are made: zstd level, codec choice, the codecs allowed, and where
/// patch encodings made by earlier builds may be found ([`NoCache`](crate::format::patch_cache::NoCache): none).
#[derive(Clone, Copy)]
pub struct DeltaOptions<'a> {
    pub level: i32,
    pub choice: CodecChoice,
    pub codecs: PatchCodecs,
    pub cache: &'a dyn PatchCache,
}

impl std::fmt::Debug for DeltaOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaOptions")
            .field("level", &self.level)
            .field("choice", &self.choice)
            .field("codecs", &self.codecs)
            .finish_non_exhaustive()
    }
}

/// The patch of a changed file (SHA-256s `sha`: old, new), or `None` where no codec allowed
/// makes one. With [`PatchCodecs::All`]: the smaller of the zstd patch and (for files of 16 KiB
/// or more) the `bsdiff-lzma` patch, made side by side on two threads; programs get the smaller
/// of the zstd patch and the Zucchini patch (`zucchini-norm-xz`, or `zucchini-xz` where that
/// makes none), side by side, and `bsdiff-lzma` only where
/// Zucchini made none (on every engine pair of the corpus its patch is the smaller, by 7-40%,
/// and bsdiff's run is what a 114 MB program's build would wait for: BENCHMARKS.md, issue 22).
/// With [`PatchCodecs::NoZstd`] the `bsdiff-lzma` patch; with [`PatchCodecs::NoZstdExe`] the
/// same, programs taking `zucchini-xz` first. The codec is `None` for zstd (the delta's default).
/// Each encoding is taken from the cache when a proven one is there.
fn smallest_patch(
    old: &[u8],
    new: &[u8],
    sha: (&str, &str),
    how: &DeltaOptions<'_>,
) -> io::Result<Option<(Vec<u8>, Option<String>)>> {
    let (old_sha, new_sha) = sha;
    let bsdiff_codec = || Some(crate::format::manifest::CODEC_BSDIFF_LZMA.to_string());
    use crate::format::manifest::{CODEC_ZUCCHINI_NORM_XZ, CODEC_ZUCCHINI_XZ};
    let bsdiff = || {
        let enc = Encoding::BsdiffLzma {
            old: old_sha,
            new: new_sha,
        };
        patch_cache::patch(how.cache, enc, old, new, || {
            crate::format::codecs::bsdx::encode(old, new)
        })
        .map(|b| (b, bsdiff_codec()))
    };
    let zstd = || {
        let enc = Encoding::ZstdPrefix {
            old: old_sha,
            new: new_sha,
            level: how.level,
        };
        patch_cache::patch(how.cache, enc, old, new, || {
            encode_patch(old, new, how.level)
        })
    };
    // Programs get a Zucchini patch (executable-aware) where the head reads it.
    let program = how.codecs != PatchCodecs::NoZstd
        && new.len() >= BSDIFF_MIN_BYTES
        && is_program(old)
        && is_program(new);
    // One Zucchini codec's cached, proven payload (`None` where it makes none).
    type Encoder = fn(&[u8], &[u8]) -> io::Result<Option<Vec<u8>>>;
    let coded = |enc: Encoding<'_>, encode: Encoder, codec: &str| {
        patch_cache::patch(how.cache, enc, old, new, || {
            encode(old, new)?.ok_or_else(|| io::Error::other(format!("no {codec} patch")))
        })
        .ok()
        .map(|z| (z, Some(codec.to_string())))
    };
    let (o, n) = (old_sha, new_sha);
    // The patch between the normalised files first (smaller on every program pair of the
    // corpus, BENCHMARKS.md); the plain one where that makes none (nothing to normalise).
    let normalised = || {
        let enc = Encoding::ZucchiniNormXz { old: o, new: n };
        coded(
            enc,
            crate::format::codecs::zucchini::encode_norm,
            CODEC_ZUCCHINI_NORM_XZ,
        )
    };
    let plain = || {
        let enc = Encoding::ZucchiniXz { old: o, new: n };
        coded(
            enc,
            crate::format::codecs::zucchini::encode,
            CODEC_ZUCCHINI_XZ,
        )
    };
    let zucchini = || normalised().or_else(plain);
    // Zucchini's patch for a program, bsdiff-lzma where it makes none (or for anything else).
    let zucchini_or_bsdiff = || program.then(zucchini).flatten().or_else(|| bsdiff().ok());
    if how.codecs.no_zstd() {
        return Ok(zucchini_or_bsdiff());
    }
    if new.len() < BSDIFF_MIN_BYTES {
        return Ok(Some((zstd()?, None)));
    }
    let (zstd, other) = std::thread::scope(|s| {
        let other = s.spawn(zucchini_or_bsdiff);
        let z = zstd();
        (z, other.join().ok().flatten())
    });
    let mut best = (zstd?, None);
    if let Some(o) = other {
        if o.0.len() < best.0.len() {
            best = o;
        }
    }
    Ok(Some(best))
}

/// Whether `b` starts like an executable Zucchini reads (ELF or PE/MZ).
fn is_program(b: &[u8]) -> bool {
    b.starts_with(b"\x7fELF") || b.starts_with(b"MZ")
}

/// A delta from one earlier release and the package entries it needs.
#[derive(Debug)]
pub struct BuiltDelta {
    pub delta: Delta,
    pub entries: Vec<PackageEntry>,
}

/// The exact file operations that turn `base` (version `from`) into `new`: unchanged files are
/// kept, new ones added whole, gone ones removed, changed ones patched, or added whole where the
/// patch would not be smaller than the file.
pub fn make_delta(
    component: &str,
    from: &Version,
    base: &[SourceFile],
    new: &[SourceFile],
    how: &DeltaOptions<'_>,
) -> io::Result<BuiltDelta> {
    let old: HashMap<&str, &SourceFile> = base.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut files = Vec::new();
    let mut entries = Vec::new();
    for f in new {
        let name = format!("delta/{component}/{from}/{}", f.path);
        let add = |files: &mut Vec<DeltaFile>, entries: &mut Vec<PackageEntry>| {
            files.push(DeltaFile {
                path: f.path.clone(),
                op: DeltaOp::Add,
                from_sha256: None,
                patch_size: None,
                codec: None,
                sha256: Some(f.sha256.clone()),
                size: Some(f.size),
                mode: Some(f.mode),
                entry: None,
            });
            entries.push(PackageEntry {
                name: name.clone(),
                payload: Payload::File(f.disk.clone()),
                size: f.size,
                mode: f.mode,
                store: Store::Auto,
            });
        };
        match old.get(f.path.as_str()) {
            Some(o) if o.sha256 == f.sha256 && o.mode == f.mode => {}
            // Larger than a stub rebuilds from a patch (it holds the files in memory): added whole.
            Some(o) if f.size.max(o.size) > crate::format::manifest::MAX_PATCHED_BYTES => {
                add(&mut files, &mut entries)
            }
            Some(o) => {
                let sha = (o.sha256.as_str(), f.sha256.as_str());
                match smallest_patch(&fs::read(&o.disk)?, &fs::read(&f.disk)?, sha, how)? {
                    Some((patch, codec)) if (patch.len() as u64) < f.size => {
                        files.push(DeltaFile {
                            path: f.path.clone(),
                            op: DeltaOp::Patch,
                            from_sha256: Some(o.sha256.clone()),
                            patch_size: Some(patch.len() as u64),
                            codec,
                            sha256: Some(f.sha256.clone()),
                            size: Some(f.size),
                            mode: Some(f.mode),
                            entry: None,
                        });
                        entries.push(PackageEntry {
                            name,
                            size: patch.len() as u64,
                            payload: Payload::Bytes(patch),
                            mode: f.mode,
                            store: Store::Stored,
                        });
                    }
                    _ => add(&mut files, &mut entries),
                }
            }
            None => add(&mut files, &mut entries),
        }
    }
    let kept: std::collections::HashSet<&str> = new.iter().map(|f| f.path.as_str()).collect();
    for o in base.iter().filter(|o| !kept.contains(o.path.as_str())) {
        files.push(DeltaFile {
            path: o.path.clone(),
            op: DeltaOp::Remove,
            from_sha256: None,
            patch_size: None,
            codec: None,
            sha256: None,
            size: None,
            mode: None,
            entry: None,
        });
    }
    let from_tree = files_tree(&base.iter().map(SourceFile::entry).collect::<Vec<_>>());
    Ok(BuiltDelta {
        delta: Delta {
            from: from.clone(),
            from_tree,
            codec: CODEC_ZSTD_PREFIX.to_string(),
            files,
            patch_size: None,
            patch_sha256: None,
            stream_size: None,
            entry: None,
        },
        entries,
    })
}

/// The whole-tree delta: one patch of the whole new tree stream against the base tree stream,
/// `zstd-tree` (or, with [`PatchCodecs::NoZstd`], `bsdiff-lzma-tree`). `None` when the two trees
/// together are too large for the stub to hold the base in memory.
pub fn make_tree_delta(
    component: &str,
    from: &Version,
    base: &[SourceFile],
    new: &[SourceFile],
    how: &DeltaOptions<'_>,
) -> io::Result<Option<BuiltDelta>> {
    if treestream::stream_size(base) + treestream::stream_size(new) > treestream::MAX_TREE_BYTES {
        return Ok(None);
    }
    let old = treestream::serialise(base)?;
    let stream = treestream::serialise(new)?;
    let from_tree = files_tree(&base.iter().map(SourceFile::entry).collect::<Vec<_>>());
    let new_tree = files_tree(&new.iter().map(SourceFile::entry).collect::<Vec<_>>());
    let (patch, codec) = if how.codecs.no_zstd() {
        let enc = Encoding::BsdiffTree {
            old: &from_tree,
            new: &new_tree,
        };
        let patch = patch_cache::patch(how.cache, enc, &old, &stream, || {
            crate::format::codecs::bsdx::encode(&old, &stream)
        })?;
        (patch, CODEC_BSDIFF_TREE)
    } else {
        let enc = Encoding::ZstdTree {
            old: &from_tree,
            new: &new_tree,
            level: how.level,
        };
        let patch = patch_cache::patch(how.cache, enc, &old, &stream, || {
            encode_patch(&old, &stream, how.level)
        })?;
        (patch, CODEC_ZSTD_TREE)
    };
    if patch.len() as u64 > treestream::MAX_TREE_BYTES {
        return Ok(None);
    }
    Ok(Some(BuiltDelta {
        delta: Delta {
            from: from.clone(),
            from_tree,
            codec: codec.to_string(),
            files: Vec::new(),
            patch_size: Some(patch.len() as u64),
            patch_sha256: Some(sha256_hex(&patch)),
            stream_size: Some(stream.len() as u64),
            entry: None,
        },
        entries: vec![PackageEntry {
            name: format!("delta/{component}/{from}.tree.zst"),
            size: patch.len() as u64,
            payload: Payload::Bytes(patch),
            mode: 0o644,
            store: Store::Stored,
        }],
    }))
}

/// What a delta costs in the package: its entries (stored size, or the file size for files that
/// may be deflated), its ZIP headers, and its manifest text (hashes do not compress much).
pub fn delta_cost(bd: &BuiltDelta) -> u64 {
    let entries: u64 = bd
        .entries
        .iter()
        .map(|e| e.size + 76 + 2 * e.name.len() as u64)
        .sum();
    let manifest = crate::json::ToJson::to_json(&bd.delta).to_compact().len() as u64;
    entries + manifest * 6 / 10
}

/// Which delta codec the builder uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodecChoice {
    /// Build both where more than one file changed, keep the smaller.
    #[default]
    Auto,
    /// Per-file patches (`zstd-prefix`).
    File,
    /// One whole-tree patch (`zstd-tree`), where the trees fit in memory.
    Tree,
}

/// The delta from `base` to `new` with the codec chosen: with `Auto`, the smaller of the
/// per-file delta and, where more than one file changed, the whole-tree delta, measured: each is
/// built and the one that costs fewer package bytes is kept. With [`PatchCodecs::NoZstd`] every
/// patch is `bsdiff-lzma` (per file) or `bsdiff-lzma-tree`.
pub fn best_delta(
    component: &str,
    from: &Version,
    base: &[SourceFile],
    new: &[SourceFile],
    how: &DeltaOptions<'_>,
) -> io::Result<BuiltDelta> {
    if how.choice == CodecChoice::Tree {
        if let Some(tree) = make_tree_delta(component, from, base, new, how)? {
            return Ok(tree);
        }
    }
    let per_file = make_delta(component, from, base, new, how)?;
    if how.choice != CodecChoice::Auto || per_file.delta.files.len() <= 1 {
        return Ok(per_file);
    }
    match make_tree_delta(component, from, base, new, how)? {
        Some(tree) if delta_cost(&tree) < delta_cost(&per_file) => Ok(tree),
        _ => Ok(per_file),
    }
}

/// The ZIP timestamp for a Unix time (clamped to the DOS range).
fn dos_time(unix: u64) -> DateTime {
    let (y, m, d) = crate::platform::time::civil_from_days((unix / 86_400) as i64);
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

/// The largest manifest deflated with zopfli (larger ones with zlib at level 9).
const ZOPFLI_MAX_BYTES: usize = 64 << 10;

/// Writes `[stub][ZIP]` to `out` (empty): the stub's bytes, the manifest with its signature
/// (one entry), then `entries` in order. Returns `out`.
pub fn write_package<W: Write + Seek>(
    out: W,
    stub: &[u8],
    manifest: &[u8],
    signature: &str,
    entries: &[PackageEntry],
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
    // The manifest and its signature are most of what a small delta package adds around its
    // patches: zopfli (deflate's densest encoder, 255 iterations) where that takes moments.
    let densest = if manifest.len() <= ZOPFLI_MAX_BYTES {
        base.compression_method(CompressionMethod::Deflated)
            .compression_level(Some(264))
    } else {
        deflated
    };
    // One entry: the manifest's line of JSON, then its signature (docs/format.md). One ZIP
    // record less, and one deflate stream, where the signature's comment repeats the id. A
    // manifest of several lines (format 1, as the test vectors are) gets format 1's two entries.
    zip.start_file(MANIFEST_ENTRY, densest.unix_permissions(0o644))?;
    zip.write_all(manifest)?;
    if manifest.contains(&b'\n') {
        zip.start_file(SIGNATURE_ENTRY, densest.unix_permissions(0o644))?;
    } else {
        zip.write_all(b"\n")?;
    }
    zip.write_all(signature.as_bytes())?;
    for e in entries {
        let deflate = match (&e.store, &e.payload) {
            (Store::Stored, _) => false,
            (Store::Auto, Payload::File(p)) => worth_deflating(p, e.size)?,
            (Store::Auto, Payload::Bytes(_)) => true,
        };
        let opts = if deflate { deflated } else { base }
            .unix_permissions(e.mode)
            .large_file(e.size >= 0xFFFF_FFFF);
        zip.start_file(e.name.as_str(), opts)?;
        let copied = match &e.payload {
            Payload::File(p) => io::copy(&mut File::open(p)?, &mut zip)?,
            Payload::Bytes(b) => {
                zip.write_all(b)?;
                b.len() as u64
            }
        };
        if copied != e.size {
            return Err(io::Error::other(format!(
                "{} changed while the package was built",
                e.name
            )));
        }
    }
    zip.finish().map_err(io::Error::other)
}
