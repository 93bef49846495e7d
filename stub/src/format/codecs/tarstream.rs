//! Solid full content: a component's files as one tar stream (POSIX ustar, with a pax `path`
//! record for long names), compressed whole (`tar.zst` or `tar.xz`) in one ZIP entry. Compressing
//! the files together is what lets a tree of many small files (tzdata, caniuse-lite) come near
//! 7-Zip's solid archives, and a person can still unpack it with standard tools:
//! `unzip -p PKG full/COMPONENT.tar.xz | tar -xJ`.
//!
//! The builder writes the headers deterministically from the signed file list, in the
//! manifest's order. The stub does not parse tar: it rebuilds each header it expects from the
//! manifest and requires the stream to hold exactly that (the mtime and checksum fields aside),
//! then each file's bytes (hashed against the manifest), zero padding, and the two zero blocks
//! that end a tar. Anything else is a damaged package.

use crate::error::{Error, Result};
use crate::format::manifest::FileEntry;
use std::io::{self, Read, Write};

const BLOCK: usize = 512;
/// The largest file a ustar header can size (11 octal digits).
pub const MAX_FILE_BYTES: u64 = (1 << 33) - 1;
/// Header fields the stub does not compare: mtime (136..148) and checksum (148..156).
const UNCOMPARED: std::ops::Range<usize> = 136..156;

fn octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
}

/// One ustar header block.
fn block(name: &[u8], prefix: &[u8], mode: u32, size: u64, mtime: u64, kind: u8) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// Zero bytes that pad `size` bytes of data to a whole block.
fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

/// The header bytes (one block, or a pax extended header and a block) that precede a file of
/// `size` ≤ [`MAX_FILE_BYTES`] bytes.
pub fn header(path: &str, mode: u32, size: u64, mtime: u64) -> Vec<u8> {
    let p = path.as_bytes();
    if p.len() <= 100 {
        return block(p, b"", mode, size, mtime, b'0').to_vec();
    }
    // ustar: split at a '/' into prefix (≤ 155 bytes) and name (≤ 100 bytes).
    if let Some(i) = (0..p.len())
        .rev()
        .find(|&i| p[i] == b'/' && i <= 155 && p.len() - i - 1 <= 100 && i + 1 < p.len())
    {
        return block(&p[i + 1..], &p[..i], mode, size, mtime, b'0').to_vec();
    }
    // pax: a `path` record ("LEN path=VALUE\n", LEN counting its own digits).
    let body = format!(" path={path}\n");
    let mut len = body.len() + 1;
    while format!("{len}").len() + body.len() != len {
        len += 1;
    }
    let record = format!("{len}{body}");
    let mut out = block(b"PaxHeader", b"", 0o644, record.len() as u64, mtime, b'x').to_vec();
    out.extend_from_slice(record.as_bytes());
    out.resize(out.len() + padding(record.len() as u64), 0);
    let cut = p.len().min(100);
    out.extend_from_slice(&block(&p[..cut], b"", mode, size, mtime, b'0'));
    out
}

/// The length of the tar stream of `files`.
pub fn stream_size(files: &[FileEntry]) -> u64 {
    files
        .iter()
        .map(|f| {
            header(f.path.as_str(), f.mode, f.size, 0).len() as u64
                + f.size
                + padding(f.size) as u64
        })
        .sum::<u64>()
        + 2 * BLOCK as u64
}

/// Writes the tar stream of `files` (in order), reading each one's bytes from `open`.
pub fn write<W: Write>(
    out: &mut W,
    files: &[FileEntry],
    mtime: u64,
    mut open: impl FnMut(&FileEntry) -> io::Result<Box<dyn Read>>,
) -> io::Result<()> {
    for f in files {
        if f.size > MAX_FILE_BYTES {
            return Err(io::Error::other(format!("{} is too large for tar", f.path)));
        }
        out.write_all(&header(f.path.as_str(), f.mode, f.size, mtime))?;
        let n = io::copy(&mut open(f)?.take(f.size + 1), out)?;
        if n != f.size {
            return Err(io::Error::other(format!(
                "{} changed while it was read",
                f.path
            )));
        }
        out.write_all(&[0u8; BLOCK][..padding(f.size)])?;
    }
    out.write_all(&[0u8; 2 * BLOCK])
}

/// Reads a tar stream that must hold exactly `files` in order, as [`write`] makes it.
#[derive(Debug)]
pub struct Reader<R: Read> {
    inner: R,
    what: String,
}

impl<R: Read> Reader<R> {
    /// `what` names the stream in errors ("the full content of engine").
    pub fn new(inner: R, what: String) -> Self {
        Reader { inner, what }
    }

    fn bad(&self, why: &str) -> Error {
        Error::damaged(format!("{} is not the signed tar stream: {why}", self.what))
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                self.bad("it ends early")
            } else {
                Error::damaged(format!("{} does not decode: {e}", self.what))
            }
        })
    }

    /// Checks the header of `f` and returns a reader of exactly its bytes; call
    /// [`Reader::end_file`] after reading them.
    pub fn file(&mut self, f: &FileEntry) -> Result<io::Take<&mut R>> {
        if f.size > MAX_FILE_BYTES {
            return Err(self.bad(&format!(
                "{} is signed as {} bytes, more than a tar header can hold",
                f.path, f.size
            )));
        }
        let want = header(f.path.as_str(), f.mode, f.size, 0);
        let mut got = vec![0u8; want.len()];
        self.read_exact(&mut got)?;
        let same = want.chunks(BLOCK).zip(got.chunks(BLOCK)).all(|(w, g)| {
            w[..UNCOMPARED.start] == g[..UNCOMPARED.start]
                && w[UNCOMPARED.end..] == g[UNCOMPARED.end..]
        });
        if !same {
            return Err(self.bad(&format!("the header of {} is not the expected one", f.path)));
        }
        Ok((&mut self.inner).take(f.size))
    }

    /// Skips the zero padding after the bytes of `f`.
    pub fn end_file(&mut self, f: &FileEntry) -> Result<()> {
        let mut pad = vec![0u8; padding(f.size)];
        self.read_exact(&mut pad)?;
        if pad.iter().any(|&b| b != 0) {
            return Err(self.bad(&format!("the padding after {} is not zero", f.path)));
        }
        Ok(())
    }

    /// Checks the two zero blocks that end the stream, and that nothing follows them.
    pub fn finish(mut self) -> Result<R> {
        let mut end = [0u8; 2 * BLOCK];
        self.read_exact(&mut end)?;
        if end.iter().any(|&b| b != 0) {
            return Err(self.bad("it holds more than the signed files"));
        }
        let mut more = [0u8; 1];
        match self.inner.read(&mut more) {
            Ok(0) => Ok(self.inner),
            Ok(_) => Err(self.bad("bytes follow its end")),
            Err(e) => Err(Error::damaged(format!(
                "{} does not decode: {e}",
                self.what
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::relpath::RelPath;

    fn entry(path: &str, data: &[u8], mode: u32) -> FileEntry {
        FileEntry {
            path: RelPath::parse(path).expect("valid"),
            size: data.len() as u64,
            sha256: crate::format::digest::sha256_hex(data),
            mode,
        }
    }

    #[test]
    fn round_trips_short_split_and_pax_names() {
        let long_dir = "d".repeat(150);
        let split = format!("{long_dir}/file.txt");
        let pax = format!("{}/{}", "a".repeat(120), "b".repeat(120));
        let files = [
            entry("bin/scan", b"#!/bin/sh\necho scan\n", 0o755),
            entry(&split, &[7u8; 513], 0o644),
            entry(&pax, b"", 0o644),
        ];
        let data: Vec<&[u8]> = vec![b"#!/bin/sh\necho scan\n", &[7u8; 513], b""];
        let mut stream = Vec::new();
        let mut i = 0;
        write(&mut stream, &files, 1_700_000_000, |_| {
            i += 1;
            Ok(Box::new(data[i - 1]))
        })
        .expect("writes");
        assert_eq!(stream.len() % BLOCK, 0);
        let mut r = Reader::new(&stream[..], "test".into());
        for (f, d) in files.iter().zip(&data) {
            let mut got = Vec::new();
            r.file(f)
                .expect("header")
                .read_to_end(&mut got)
                .expect("reads");
            assert_eq!(&got[..], *d);
            r.end_file(f).expect("padding");
        }
        r.finish().expect("ends");
    }

    #[test]
    fn refuses_another_header_and_trailing_bytes() {
        let f = entry("a.txt", b"hello", 0o644);
        let mut stream = Vec::new();
        write(&mut stream, std::slice::from_ref(&f), 0, |_| {
            Ok(Box::new(&b"hello"[..]))
        })
        .expect("writes");
        let other = entry("b.txt", b"hello", 0o644);
        assert!(Reader::new(&stream[..], "t".into()).file(&other).is_err());
        let exec = entry("a.txt", b"hello", 0o755);
        assert!(Reader::new(&stream[..], "t".into()).file(&exec).is_err());
        let mut longer = stream.clone();
        longer.push(0);
        let mut r = Reader::new(&longer[..], "t".into());
        r.file(&f)
            .expect("header")
            .read_to_end(&mut Vec::new())
            .expect("reads");
        r.end_file(&f).expect("padding");
        assert!(r.finish().is_err());
    }

    /// A signed size no tar header can hold (2^33 bytes and more) is a damaged stream, refused
    /// before anything is read or allocated.
    #[test]
    fn refuses_a_size_no_header_holds() {
        for size in [MAX_FILE_BYTES + 1, 1 << 40, u64::MAX] {
            let mut f = entry("big.bin", b"", 0o644);
            f.size = size;
            let err = Reader::new(&[0u8; 2048][..], "t".into())
                .file(&f)
                .expect_err("too large for tar");
            assert_eq!(err.code, crate::error::ExitCode::Damaged);
            assert!(err.message.contains("big.bin"), "{}", err.message);
        }
    }
}
