//! Opening a package file (once: every later read goes through that one open handle): finding
//! the ZIP behind the stub, reading the manifest and its signature with every size checked
//! before anything is read, verifying them, and streaming full content out of the archive with
//! each file's size and SHA-256 checked as its bytes pass.
//!
//! ZIP entry names are only looked up, never used as paths: where a file goes comes from the
//! verified manifest. Entries the manifest does not name are ignored.

use crate::error::{Error, ExitCode, Result};
use crate::format::manifest::{
    Component, DeltaOp, FileEntry, Manifest, ARCHIVE_TAR_XZ, ARCHIVE_TAR_ZST, CODEC_BSDIFF_LZMA,
    MANIFEST_ENTRY, MAX_MANIFEST_BYTES, MAX_PATCHED_BYTES, MODE_FILE, SIGNATURE_ENTRY,
};
use crate::format::relpath::RelPath;
use crate::format::signature::{self, TrustedComment, MAX_SIGNATURE_BYTES};
use crate::format::zipread::Archive;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A package file whose manifest and signature have been read but not yet verified.
#[derive(Debug)]
pub struct Package {
    path: PathBuf,
    archive: Archive,
    manifest_bytes: Vec<u8>,
    sig_text: String,
}

/// A package whose manifest verified against a trusted key. Only this type reads content.
#[derive(Debug)]
pub struct VerifiedPackage {
    pub manifest: Manifest,
    pub key_id: String,
    path: PathBuf,
    archive: Archive,
}

/// Where to look for a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The file must be a package (a path the user named).
    Package,
    /// The file may be a bare stub (our own executable).
    MaybeBare,
}

impl Package {
    /// Opens a package file. With `Expect::MaybeBare`, a file with no payload gives `Ok(None)`.
    pub fn open(path: &Path, expect: Expect) -> Result<Option<Package>> {
        let mut o = std::fs::OpenOptions::new();
        o.read(true);
        // A FIFO named as the package is refused below instead of blocking the open.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut o,
            rustix::fs::OFlags::NONBLOCK.bits() as i32,
        );
        let file = o.open(path).map_err(|e| {
            Error::new(
                if e.kind() == io::ErrorKind::NotFound {
                    ExitCode::Usage
                } else {
                    ExitCode::Error
                },
                format!("cannot open {}: {e}", path.display()),
            )
            .hint("check the package file's path and that this user may read it")
        })?;
        Package::from_file(file, path, expect)
    }

    /// Reads a package from a file already open (`path` only names it in messages). Every later
    /// read — the ZIP, the stub's hash, the content — goes through this one handle and never
    /// opens the path again, so what is verified is what is applied, whatever is renamed over
    /// the path meanwhile. Only a regular file is read (a FIFO or device could hang the run).
    pub fn from_file(file: File, path: &Path, expect: Expect) -> Result<Option<Package>> {
        let shown = path.display();
        let cant_read = |e: io::Error| {
            Error::other(format!("cannot read {shown}: {e}"))
                .hint("copy the package to a local disk and run it from there")
        };
        if !file.metadata().map_err(cant_read)?.is_file() {
            return Err(Error::usage(format!("{shown} is not a regular file")));
        }
        let probe = file.try_clone().map_err(cant_read)?;
        let archive = match Archive::new(file) {
            Ok(a) if a.index_for_name(MANIFEST_ENTRY).is_some() => a,
            opened => {
                if find_manifest_header(probe).map_err(cant_read)? {
                    let why = match opened {
                        Err(e) => e.to_string(),
                        Ok(_) => "its ZIP directory does not list the manifest".into(),
                    };
                    return Err(Error::damaged(format!(
                        "{shown} is a damaged iupack package (truncated or altered): {why}"
                    )));
                }
                if expect == Expect::MaybeBare {
                    return Ok(None);
                }
                return Err(Error::damaged(format!("{shown} is not an iupack package")));
            }
        };
        let mut pkg = Package {
            path: path.to_path_buf(),
            archive,
            manifest_bytes: Vec::new(),
            sig_text: String::new(),
        };
        check_ends_at_eocd(pkg.archive.file(), path)?;
        // One entry (what the builder writes since format 2): the manifest's one line of JSON,
        // then its signature; one deflate stream, one ZIP record less.
        let mut both = pkg.read_small(MANIFEST_ENTRY, MAX_MANIFEST_BYTES + MAX_SIGNATURE_BYTES)?;
        let sig = if crate::READS_FORMAT_1 && both.starts_with(b"{\n") {
            // Format 1: the manifest pretty-printed alone (every format-1 manifest starts with
            // `{` on a line of its own; no combined entry does), its signature in an entry of its
            // own. Told by the manifest entry, not by whether a signature entry is there: an
            // entry the manifest does not name can't change how the signed one is read.
            if both.len() as u64 > MAX_MANIFEST_BYTES {
                return Err(Error::damaged(format!(
                    "{MANIFEST_ENTRY} holds {} bytes, more than the {MAX_MANIFEST_BYTES} allowed",
                    both.len()
                )));
            }
            pkg.manifest_bytes = both;
            pkg.read_small(SIGNATURE_ENTRY, MAX_SIGNATURE_BYTES)?
        } else {
            let line = both.iter().position(|&b| b == b'\n').unwrap_or(both.len());
            // The signature has format 1's limit: no more of the entry is read as signature.
            both.truncate(line + 1 + MAX_SIGNATURE_BYTES as usize);
            let sig = both.split_off((line + 1).min(both.len()));
            both.truncate(line);
            pkg.manifest_bytes = both;
            sig
        };
        pkg.sig_text = String::from_utf8(sig)
            .map_err(|_| Error::damaged("the manifest signature is not text"))?;
        Ok(Some(pkg))
    }

    /// Reads a whole small entry, refusing it before reading when it claims to be too large.
    fn read_small(&mut self, name: &str, max: u64) -> Result<Vec<u8>> {
        let (e, mut f) = self
            .archive
            .by_name(name)
            .map_err(|e| Error::damaged(format!("the package lacks {name}: {e}")))?;
        regular(name, e.is_file)?;
        let mut buf = crate::error::buffer(name, e.size, max)?;
        (&mut f)
            .take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::damaged(format!("cannot read {name}: {e}")))?;
        if buf.len() as u64 != e.size {
            return Err(Error::damaged(format!(
                "{name} is not the size its header says"
            )));
        }
        if crate::format::zipread::crc32(&buf) != e.crc32 {
            return Err(Error::damaged(format!("{name} fails its CRC check")));
        }
        Ok(buf)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The unverified manifest bytes (for `iupack inspect` only).
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    pub fn signature_text(&self) -> &str {
        &self.sig_text
    }

    /// The key-transition statements the package carries (bytes and signature text), in order;
    /// nothing in them is trusted until `keys::follow` verified it.
    pub fn key_transitions(&mut self) -> Result<Vec<(Vec<u8>, String)>> {
        let mut out = Vec::new();
        for n in 1..=crate::format::keys::MAX_TRANSITIONS + 1 {
            let (name, sig) = crate::format::keys::entry_names(n);
            if self.archive.index_for_name(&name).is_none() {
                break;
            }
            if n > crate::format::keys::MAX_TRANSITIONS {
                return Err(Error::damaged(format!(
                    "the package carries more than {} key transitions",
                    crate::format::keys::MAX_TRANSITIONS
                )));
            }
            let data = self.read_small(&name, crate::format::keys::MAX_TRANSITION_BYTES)?;
            let sig = self.read_small(&sig, MAX_SIGNATURE_BYTES)?;
            let sig = String::from_utf8(sig)
                .map_err(|_| Error::damaged(format!("the signature of {name} is not text")))?;
            out.push((data, sig));
        }
        Ok(out)
    }

    /// What the signature says it is for, unverified: used to choose whose keys to try.
    pub fn claimed(&self) -> Result<TrustedComment> {
        signature::peek_comment(&self.sig_text)
    }

    /// The ZIP entries and their stored sizes (for `iupack inspect`).
    pub fn entries(&mut self) -> Vec<(String, u64, u64)> {
        self.archive
            .entries()
            .iter()
            .map(|e| {
                let name = String::from_utf8_lossy(&e.name).into_owned();
                (name, e.size, e.compressed_size)
            })
            .collect()
    }

    /// Verifies the manifest against `trusted` keys minus `revoked`, then parses it and checks that
    /// the signed trusted comment names this very manifest. `whose` names the key owner in errors.
    pub fn verify(
        self,
        trusted: &[String],
        revoked: &[String],
        whose: &str,
    ) -> Result<VerifiedPackage> {
        let v = signature::verify(
            &self.manifest_bytes,
            &self.sig_text,
            trusted,
            revoked,
            whose,
        )?;
        let manifest = Manifest::parse(&self.manifest_bytes)
            .map_err(|e| Error::damaged(format!("the signed manifest is not valid: {e}")))?;
        if v.comment.product != manifest.product || v.comment.id != manifest.package.id {
            return Err(Error::signature(format!(
                "the signature is for package {} of {}, but the manifest is package {} of {}",
                v.comment.id, v.comment.product, manifest.package.id, manifest.product
            )));
        }
        Ok(VerifiedPackage {
            manifest,
            key_id: v.key_id,
            path: self.path,
            archive: self.archive,
        })
    }
}

impl VerifiedPackage {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Streams one file's full content into `out`, checking size and SHA-256 on the way. A
    /// mismatch is `Damaged`; a failure to write is `ApplyFailed`. `out` may hold a prefix of bad
    /// bytes on error: callers write to staging and throw it away.
    pub fn copy_full(
        &mut self,
        component: &Component,
        entry: &FileEntry,
        out: &mut (dyn Write + Send),
    ) -> Result<()> {
        self.copy_entry(&component.full_entry_name(&entry.path), entry, out)
    }

    /// Streams the ZIP entry `name`, which holds `entry`'s bytes whole, into `out`, checked.
    pub fn copy_entry(
        &mut self,
        name: &str,
        entry: &FileEntry,
        out: &mut (dyn Write + Send),
    ) -> Result<()> {
        let mut zf = self.sized_entry(name, entry.size)?;
        stream_checked(&mut zf, name, entry, out)
    }

    /// The ZIP entry `name`, which must hold exactly `size` bytes as the signed manifest says.
    fn sized_entry(&mut self, name: &str, size: u64) -> Result<Box<dyn Read + '_>> {
        let (e, zf) = self
            .archive
            .by_name(name)
            .map_err(|e| entry_error(name, e))?;
        regular(name, e.is_file)?;
        if e.size != size {
            return Err(Error::damaged(format!(
                "{name} holds {} bytes but the signed manifest says {size}",
                e.size
            )));
        }
        Ok(zf)
    }

    /// Rebuilds `entry` from the old file's bytes `old` and the patch in the ZIP entry `name`
    /// (`patch_size` bytes, a zstd frame made with `old` as its prefix), into `out`, checked.
    pub fn patch_entry(
        &mut self,
        name: &str,
        old: &[u8],
        patch_size: u64,
        entry: &FileEntry,
        out: &mut (dyn Write + Send),
    ) -> Result<()> {
        let mut zf = self.sized_entry(name, patch_size)?;
        let patch = io::BufReader::new((&mut zf).take(patch_size));
        let mut dec = prefix_decoder(patch, old, entry.size)?;
        stream_checked(&mut dec, name, entry, out)
    }

    /// Rebuilds `entry` from the old file's bytes and the patch in the ZIP entry `name`
    /// (`patch_size` bytes) in the file's own `codec` (`bsdiff-lzma`, `zucchini-xz`,
    /// `zucchini-norm-xz`), into `out`, checked. `old` is the caller's copy, which a
    /// `zucchini-norm-xz` patch rewrites in place.
    pub fn coded_entry(
        &mut self,
        name: &str,
        old: &mut [u8],
        patch_size: u64,
        codec: &str,
        entry: &FileEntry,
        out: &mut dyn Write,
    ) -> Result<()> {
        let mut patch = crate::error::buffer(name, patch_size, MAX_PATCHED_BYTES)?;
        (&mut self.sized_entry(name, patch_size)?)
            .take(patch_size)
            .read_to_end(&mut patch)
            .map_err(|e| Error::damaged(format!("cannot read {name}: {e}")))?;
        let mut hw = crate::format::digest::HashingWriter::new(out, entry.size);
        match codec {
            #[cfg(feature = "exe-delta")]
            crate::format::manifest::CODEC_ZUCCHINI_XZ => {
                let new = crate::format::codecs::zucchini::apply_payload(old, &patch, entry.size)
                    .map_err(|e| named(name, e))?;
                drop(patch);
                hw.write_all(&new)
                    .map_err(|e| Error::apply_io(format!("cannot write {name}"), &e))?;
            }
            #[cfg(feature = "exe-delta")]
            crate::format::manifest::CODEC_ZUCCHINI_NORM_XZ => {
                let new =
                    crate::format::codecs::zucchini::apply_norm_payload(old, &patch, entry.size)
                        .map_err(|e| named(name, e))?;
                drop(patch);
                hw.write_all(&new)
                    .map_err(|e| Error::apply_io(format!("cannot write {name}"), &e))?;
            }
            _ => crate::format::codecs::bsdx::apply(old, &patch, entry.size, &mut hw)
                .map_err(|e| named(name, e))?,
        }
        let (n, sha) = hw.finish();
        if n != entry.size || sha != entry.sha256 {
            return Err(Error::damaged(format!(
                "{name} does not rebuild the file the signed manifest names ({} bytes, SHA-256 {})",
                entry.size, entry.sha256
            )));
        }
        Ok(())
    }

    /// Streams a component's solid full content (`full_archive`): the stored entry's size and
    /// signed SHA-256 are checked first, so the decoder only ever sees signed bytes; then the
    /// tar stream is decoded and checked header by header against the manifest, and each file's
    /// bytes (exactly `size` of them) are handed to `each` with its entry, which must check them
    /// (`stream_checked`). The stream must end right after the last file.
    pub fn read_full_archive(
        &mut self,
        c: &Component,
        mut each: impl FnMut(&FileEntry, &mut dyn Read) -> Result<()>,
    ) -> Result<()> {
        let (Some(a), Some(name)) = (&c.full_archive, c.full_archive_entry_name()) else {
            return Err(Error::damaged(format!("{} has no full archive", c.name)));
        };
        self.copy_entry(&name, &blob(a.size, &a.sha256), &mut io::sink())?;
        let zf = self.sized_entry(&name, a.size)?;
        let raw = io::BufReader::with_capacity(128 << 10, zf.take(a.size));
        let decoder: Box<dyn Read + '_> = match a.codec.as_str() {
            #[cfg(feature = "zstd")]
            ARCHIVE_TAR_ZST => {
                let mut d = zstd::stream::read::Decoder::with_buffer(raw)
                    .map_err(|e| Error::other(format!("cannot start the zstd decoder: {e}")))?;
                d.window_log_max(ARCHIVE_WINDOW_LOG_MAX)
                    .map_err(|e| Error::other(format!("cannot start the zstd decoder: {e}")))?;
                Box::new(d)
            }
            ARCHIVE_TAR_XZ => Box::new(lzma_rust2::XzReader::new_mem_limit(
                raw,
                false,
                ARCHIVE_XZ_MEM_LIMIT_KIB,
            )),
            #[cfg(not(feature = "zstd"))]
            ARCHIVE_TAR_ZST => return Err(no_zstd(&name)),
            other => {
                return Err(Error::damaged(format!(
                    "{name}: archive codec {other} is not one this stub reads"
                )))
            }
        };
        let mut tar = crate::format::codecs::tarstream::Reader::new(
            io::BufReader::with_capacity(256 << 10, decoder),
            format!("the full content of {}", c.name),
        );
        for f in c.full.as_deref().unwrap_or(&[]) {
            each(f, &mut tar.file(f)?)?;
            tar.end_file(f)?;
        }
        tar.finish().map(drop)
    }

    /// Reads a whole entry of `size` bytes into memory and checks its SHA-256 before returning it.
    pub fn read_entry_checked(
        &mut self,
        name: &str,
        size: u64,
        max: u64,
        sha256: &str,
    ) -> Result<Vec<u8>> {
        let mut bytes = crate::error::buffer(name, size, max)?;
        self.copy_entry(name, &blob(size, sha256), &mut bytes)?;
        Ok(bytes)
    }

    /// Checks that the bytes before the ZIP are the stub the manifest names (none for a bare
    /// package).
    pub fn verify_stub(&mut self) -> Result<()> {
        let start = self
            .archive
            .index_for_name(MANIFEST_ENTRY)
            .map(|i| self.archive.entries()[i].header_start)
            .ok_or_else(|| Error::damaged("cannot locate the manifest"))?;
        let Some(want) = &self.manifest.package.stub else {
            // Bare: signed to have no head, so only the guard may stand before the ZIP.
            let mut first = [0u8; BARE_GUARD.len()];
            let file = self.archive.file();
            let read = file
                .seek(SeekFrom::Start(0))
                .and_then(|_| file.read_exact(&mut first));
            if start == BARE_GUARD.len() as u64 && read.is_ok() && first == *BARE_GUARD {
                return Ok(());
            }
            // One message (head bytes: a second one cost a 4 KiB page).
            return Err(Error::damaged(
                "the package was signed as bare, and a head was put in front or its guard changed",
            ));
        };
        let file = self.archive.file();
        let (size, sha) = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| crate::format::digest::hash_reader(io::BufReader::new(file.take(start))))
            .map_err(|e| Error::other(format!("cannot read {}: {e}", self.path.display())))?;
        if size != want.size || sha != want.sha256 {
            return Err(Error::damaged(format!(
                "the executable head of the package is not the stub it was signed with: expected {} bytes with SHA-256 {}, found {size} bytes with {sha}",
                want.size, want.sha256
            )));
        }
        Ok(())
    }

    /// Checks the stub, every file of full content, every added file and whole-tree patch of each
    /// delta against the manifest, and that every per-file patch is there with its size, writing
    /// nothing. (A per-file patch's output can only be checked against its base, which `apply`
    /// does.)
    pub fn verify_content(&mut self) -> Result<u64> {
        self.verify_stub()?;
        let mut total = 0;
        for c in self.manifest.components.clone() {
            if c.full_archive.is_some() {
                self.read_full_archive(&c, |e, r| {
                    stream_checked(r, &e.path.to_string(), e, &mut io::sink())
                })?;
                total += c.full_size();
            } else {
                for e in c.full.as_deref().unwrap_or(&[]) {
                    self.copy_full(&c, e, &mut io::sink())?;
                    total += e.size;
                }
            }
            for d in &c.deltas {
                if let (Some(size), Some(sha)) = (d.patch_size, &d.patch_sha256) {
                    let name = c.tree_delta_entry_name(d);
                    self.copy_entry(&name, &blob(size, sha), &mut io::sink())?;
                    total += size;
                }
                for f in &d.files {
                    let name = c.delta_entry_name(d, f);
                    match (f.op, f.new_entry()) {
                        (DeltaOp::Add, Some(e)) => {
                            self.copy_entry(&name, &e, &mut io::sink())?;
                            total += e.size;
                        }
                        (DeltaOp::Patch, _) => {
                            let (zf, _) = self
                                .archive
                                .by_name(&name)
                                .map_err(|e| entry_error(&name, e))?;
                            regular(&name, zf.is_file)?;
                            if Some(zf.size) != f.patch_size {
                                return Err(Error::damaged(format!(
                                    "{name} is not the size the signed manifest says"
                                )));
                            }
                            if f.codec.as_deref() == Some(CODEC_BSDIFF_LZMA) {
                                // What apply checks before decoding: the patch's declared sizes.
                                use crate::format::codecs::bsdx;
                                let mut head = [0u8; bsdx::MAX_HEADER];
                                let head = &mut head[..bsdx::MAX_HEADER.min(zf.size as usize)];
                                let size = f.size.unwrap_or(0);
                                let read = self.sized_entry(&name, zf.size)?.read_exact(head);
                                read.map_err(|e| entry_error(&name, e))
                                    .and_then(|()| bsdx::sizes(head, zf.size, size).map(drop))
                                    .map_err(|e| named(&name, e))?;
                            }
                            total += zf.size;
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(total)
    }
}

/// The ten bytes a bare package starts with, before its ZIP. A bare package is data, but a
/// file someone runs as a program (`sh PKG.iup`, `./PKG.iup` after a chmod, which a shell falls
/// back to reading as a script, or `zsh < PKG.iup`) would otherwise be read by the shell, and the
/// ZIP's framing is not signed: whoever can change the file could put commands in it and it would
/// still verify. With the guard first, bash refuses the file (a NUL byte in its first line),
/// dash and other POSIX shells stop at the syntax error `)`, and a shell that reads on past an
/// error (zsh or any shell on its standard input, an interactive one) runs `exit 1`. The reader
/// requires exactly these bytes before a bare package's ZIP.
pub const BARE_GUARD: &[u8; 10] = b"\0)\nexit 1\n";

/// The largest zstd window a full archive may use (32 MiB): the decoder's memory stays within
/// the stub's 64 MiB budget whatever the package says.
pub const ARCHIVE_WINDOW_LOG_MAX: u32 = 25;
/// The most memory the xz decoder of a full archive may take (its dictionary is at most 32 MiB).
pub const ARCHIVE_XZ_MEM_LIMIT_KIB: u32 = 40 << 10;

/// A zstd decoder of a patch made with `old` as raw prefix, for an output of `new_size` bytes. The
/// window never needs to exceed what reaches from the output's end back over the prefix: a
/// hostile frame can't make the decoder allocate more.
#[cfg(feature = "zstd")]
pub fn prefix_decoder<'a, R: io::BufRead + 'a>(
    patch: R,
    old: &'a [u8],
    new_size: u64,
) -> Result<impl Read + 'a> {
    let window_log = crate::format::digest::window_log(old.len() as u64, new_size);
    zstd::stream::read::Decoder::with_ref_prefix(patch, old)
        .and_then(|mut d| d.window_log_max(window_log).map(|()| d))
        .map_err(|e| Error::other(format!("cannot start the patch decoder: {e}")))
}

/// A head built without zstd (`--no-default-features`) can't decode zstd patches.
#[cfg(not(feature = "zstd"))]
pub fn prefix_decoder<'a, R: io::BufRead + 'a>(
    _patch: R,
    _old: &'a [u8],
    _new_size: u64,
) -> Result<io::Empty> {
    Err(no_zstd("a zstd patch"))
}

/// What a head built without the zstd decoder says of zstd data. The builder never pairs such a
/// head with a package that needs zstd (`Manifest::needs_zstd`), so this means a head was
/// swapped by hand.
#[cfg(not(feature = "zstd"))]
fn no_zstd(what: &str) -> Error {
    Error::other(format!(
        "{what} is zstd-compressed, and this package's head was built without the zstd decoder"
    ))
    .hint("rebuild the package with iupack (it picks a head that reads what the package holds), or apply it with the installed client tool: iupack-stub apply PKG")
}

/// The expectation for an entry that is not a file of the tree (a whole-tree patch): size and hash.
fn blob(size: u64, sha256: &str) -> FileEntry {
    FileEntry {
        path: RelPath::parse("blob").expect("a valid path"),
        size,
        sha256: sha256.to_string(),
        mode: MODE_FILE,
    }
}

/// A ZIP entry the manifest names must be a plain file entry: a symlink or folder entry is a
/// package nobody built with iupack.
fn regular(name: &str, is_file: bool) -> Result<()> {
    if is_file {
        Ok(())
    } else {
        Err(Error::damaged(format!(
            "{name} is stored as a symbolic link or folder, not as a file"
        )))
    }
}

/// Refuses bytes after the ZIP's end: the end-of-central-directory record (plus its comment)
/// must end the file. `unzip` tolerates trailing junk; a signed package has none.
fn check_ends_at_eocd(f: &mut File, path: &Path) -> Result<()> {
    let len = f
        .seek(SeekFrom::End(0))
        .map_err(|e| Error::other(format!("cannot read {}: {e}", path.display())))?;
    let tail_len = len.min(22 + 65_535);
    let mut tail = vec![0u8; tail_len as usize];
    f.seek(SeekFrom::Start(len - tail_len))
        .and_then(|_| f.read_exact(&mut tail))
        .map_err(|e| Error::other(format!("cannot read {}: {e}", path.display())))?;
    let ends_here = (0..tail.len().saturating_sub(21)).any(|i| {
        tail[i..].starts_with(b"PK\x05\x06")
            && i + 22 + usize::from(u16::from_le_bytes([tail[i + 20], tail[i + 21]])) == tail.len()
    });
    if ends_here {
        Ok(())
    } else {
        Err(Error::damaged(format!(
            "{} has bytes after the end of its package: something was appended to it",
            path.display()
        )))
    }
}

/// A ZIP entry that can't be read: missing, or its headers are not sound.
fn entry_error(name: &str, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        missing(name)
    } else {
        Error::damaged(format!("cannot read {name}: {e}"))
    }
}

/// `e`, its message prefixed with the entry it is about.
fn named(name: &str, e: Error) -> Error {
    Error {
        message: format!("{name}: {}", e.message),
        ..e
    }
}

fn missing(name: &str) -> Error {
    Error::damaged(format!(
        "the package lacks {name}, which its manifest lists"
    ))
}

/// Streams `r` into `out`, refusing more than `entry.size` bytes, then checks size and SHA-256.
pub(crate) fn stream_checked(
    r: &mut dyn Read,
    name: &str,
    entry: &FileEntry,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let (n, sha) = copy_hashed(
        r,
        entry.size,
        out,
        &format!("cannot read {name}"),
        &entry.path.to_string(),
    )?;
    if n != entry.size || sha != entry.sha256 {
        return Err(Error::damaged(format!(
            "{name} does not match the signed manifest: expected {} bytes with SHA-256 {}, got {n} bytes with {sha}",
            entry.size, entry.sha256
        )));
    }
    Ok(())
}

/// Copies `r` into `out` through a hash, refusing more than `limit` bytes; returns the bytes
/// copied and their SHA-256. A read error is the package's (damaged: `reading` says what was
/// read), a write error the machine's (apply failed: `writing` names the file).
pub(crate) fn copy_hashed(
    r: &mut dyn Read,
    limit: u64,
    out: &mut (dyn Write + Send),
    reading: &str,
    writing: &str,
) -> Result<(u64, String)> {
    let errors = CopyErrors { reading, writing };
    #[cfg(feature = "zstd")]
    if limit >= PIPELINE_FROM {
        return copy_hashed_pipelined(r, limit, out, &errors);
    }
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    // Sized for the file (small files are the many), at most 256 KiB.
    let len = usize::try_from(limit.saturating_add(1))
        .unwrap_or(usize::MAX)
        .clamp(4096, 256 * 1024);
    let mut buf = vec![0u8; len];
    loop {
        let n = fill(r, &mut buf, limit, &mut total).map_err(|e| errors.read(e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| errors.write(e))?;
    }
    Ok((total, crate::format::digest::hex(&hasher.finalize())))
}

/// What `copy_hashed`'s failures say: a read error is the package's (damaged: `reading` says
/// what was read), a write error the machine's (apply failed: `writing` names the file).
struct CopyErrors<'a> {
    reading: &'a str,
    writing: &'a str,
}

impl CopyErrors<'_> {
    fn read(&self, e: io::Error) -> Error {
        Error::damaged(format!("{}: {e}", self.reading))
    }

    fn write(&self, e: io::Error) -> Error {
        Error::apply_io(format!("cannot write {}", self.writing), &e)
    }
}

/// Files this big are copied by two threads (`copy_hashed_pipelined`).
#[cfg(feature = "zstd")]
const PIPELINE_FROM: u64 = 4 << 20;

/// `copy_hashed` for big files (the programs of an engine update): this thread reads (decodes)
/// the next piece while a second thread hashes and writes the piece read before, so a 2-core
/// machine decodes, hashes and copies into the file cache at once. One short-lived thread per
/// MiB: a spawn costs tens of microseconds, a MiB of decoding a millisecond or more. Where no
/// thread can be had, the piece is done on this one. The errors are `copy_hashed`'s, in the order
/// the one-thread copy meets them (a piece is written before the next is read).
///
/// Only in stubs with zstd (the client tool and `iupack-head-zstd`): std's thread support adds
/// 25-33 KB to a stub, and the head without zstd is the tracked small one. Its packages are xz
/// (LZMA decoding, not hashing and writing, takes most of their apply time) or deflate (kept for
/// unzip, not for speed).
#[cfg(feature = "zstd")]
fn copy_hashed_pipelined(
    r: &mut dyn Read,
    limit: u64,
    out: &mut (dyn Write + Send),
    errors: &CopyErrors<'_>,
) -> Result<(u64, String)> {
    const PIECE: usize = 1 << 20;
    let mut hasher = Sha256::new();
    let (mut cur, mut next) = (vec![0u8; PIECE], vec![0u8; PIECE]);
    let mut total = 0u64;
    let mut n = fill(r, &mut cur, limit, &mut total).map_err(|e| errors.read(e))?;
    while n > 0 {
        let piece = &cur[..n];
        let both = std::thread::scope(|s| {
            let worker = std::thread::Builder::new()
                .spawn_scoped(s, || {
                    hasher.update(piece);
                    out.write_all(piece)
                })
                .ok()?;
            let m = fill(r, &mut next, limit, &mut total);
            Some((worker.join(), m))
        });
        let (written, m) = match both {
            Some((written, m)) => (
                written.unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                m,
            ),
            // No thread to be had (a process limit): this piece on this thread.
            None => {
                hasher.update(piece);
                let written = out.write_all(piece);
                (written, fill(r, &mut next, limit, &mut total))
            }
        };
        written.map_err(|e| errors.write(e))?;
        n = m.map_err(|e| errors.read(e))?;
        std::mem::swap(&mut cur, &mut next);
    }
    Ok((total, crate::format::digest::hex(&hasher.finalize())))
}

/// Reads into `buf` until it is full or the stream ends, and adds what it read to `total`. Asks
/// for at most one byte beyond `limit`, so an overlong stream is caught, never truncated, and
/// refuses it: a stream can never deliver more than it declared.
fn fill(r: &mut dyn Read, buf: &mut [u8], limit: u64, total: &mut u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let room = (limit - *total - n as u64).saturating_add(1);
        let want = (buf.len() - n).min(usize::try_from(room).unwrap_or(usize::MAX));
        let k = match r.read(&mut buf[n..n + want]) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        n += k;
        if *total + n as u64 > limit {
            return Err(crate::format::digest::longer_than(limit));
        }
    }
    *total += n as u64;
    Ok(n)
}

/// Looks for the local header of `iupack/manifest.json` anywhere in the file: the mark of a
/// package whose ZIP directory may be cut off.
fn find_manifest_header(mut f: File) -> io::Result<bool> {
    const SIG: &[u8] = b"PK\x03\x04";
    let name = MANIFEST_ENTRY.as_bytes();
    let header_len = 30 + name.len();
    f.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut keep = 0usize;
    loop {
        let n = f.read(&mut buf[keep..])?;
        if n == 0 {
            return Ok(false);
        }
        let end = keep + n;
        let window = &buf[..end];
        let mut i = 0;
        while i + header_len <= end {
            if &window[i..i + 4] == SIG
                && window[i + 26..i + 28] == (name.len() as u16).to_le_bytes()
                && &window[i + 30..i + header_len] == name
            {
                return Ok(true);
            }
            i += 1;
        }
        keep = (header_len - 1).min(end);
        buf.copy_within(end - keep..end, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    /// A reader like a decoder: odd-sized reads, and an error after `fail_at` bytes if set.
    struct Choppy<'a> {
        data: &'a [u8],
        at: usize,
        fail_at: Option<usize>,
    }

    impl Read for Choppy<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.fail_at.is_some_and(|f| self.at >= f) {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "bad block"));
            }
            let n = buf.len().min(self.data.len() - self.at).min(77_777);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// A disk that fills up after `room` bytes.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::other("no space left on device"));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect()
    }

    fn copy(
        data: &[u8],
        limit: u64,
        fail_at: Option<usize>,
        out: &mut (dyn Write + Send),
    ) -> Result<(u64, String)> {
        let mut r = Choppy {
            data,
            at: 0,
            fail_at,
        };
        copy_hashed(&mut r, limit, out, "cannot read e", "f")
    }

    /// The cap every copy reads through (was `digest::HashingReader`'s test).
    #[test]
    fn fill_caps() {
        let mut total = 0;
        let err = fill(&mut &b"hello world"[..], &mut [0u8; 64], 5, &mut total)
            .expect_err("over the cap");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut total = 0;
        let n = fill(&mut &b"hello"[..], &mut [0u8; 64], 5, &mut total).expect("exactly the cap");
        assert_eq!((n, total), (5, 5));
    }

    /// Small files (one thread) and big ones (two, in the stubs with zstd) copy the same way:
    /// every byte, in order, with its size and SHA-256; a stream longer than declared, a read
    /// error and a write error each give their own failure.
    #[test]
    fn copies_are_exact_and_failures_are_told_apart_small_and_big() {
        for len in [3 << 20, (10 << 20) + 7] {
            let d = data(len);
            let mut out = Vec::new();
            let (n, sha) = copy(&d, len as u64, None, &mut out).expect("copy");
            assert_eq!(
                (n, sha.as_str()),
                (len as u64, crate::format::digest::sha256_hex(&d).as_str())
            );
            assert!(out == d, "{len}: the copy differs");

            // A shorter stream is returned as it is (the caller compares with the manifest).
            let (n, _) = copy(&d, len as u64 + 10, None, &mut Vec::new()).expect("short");
            assert_eq!(n, len as u64);

            let e = copy(&d, len as u64 - 1, None, &mut Vec::new()).expect_err("overlong");
            assert_eq!(e.code, ExitCode::Damaged, "{len}: {}", e.message);
            assert!(
                e.message.contains("more than the declared"),
                "{}",
                e.message
            );

            let e = copy(&d, len as u64, Some(len / 2), &mut Vec::new()).expect_err("read");
            assert_eq!(e.code, ExitCode::Damaged, "{len}: {}", e.message);
            assert!(
                e.message.starts_with("cannot read e: bad block"),
                "{}",
                e.message
            );

            let e = copy(&d, len as u64, None, &mut Full { room: len / 2 }).expect_err("write");
            assert_eq!(e.code, ExitCode::ApplyFailed, "{len}: {}", e.message);
            assert!(e.message.contains("cannot write f"), "{}", e.message);

            // Both fail: the write, of the earlier bytes, is what a one-thread copy meets first.
            let e =
                copy(&d, len as u64, Some(len / 2), &mut Full { room: len / 4 }).expect_err("both");
            assert_eq!(e.code, ExitCode::ApplyFailed, "{len}: {}", e.message);
        }
    }
}
