//! SHA-256 in hex, the streaming hash-and-cap writer, and the tree digest (docs/design.md §3).
//! Pure functions of bytes; never touches the disk.
//!
//! `tree` = SHA-256 over the lines `path\tmode\tsize\tsha256\n` sorted by path bytes, mode in
//! decimal: one value names a whole component tree.

use sha2::{Digest, Sha256};
use std::io::{self, Read};

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// True for a 64-character lowercase hex string.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The error of a stream that goes on past the `limit` bytes declared for it.
pub fn longer_than(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("more than the declared {limit} bytes"),
    )
}

/// One file of a tree as the digest sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLine<'a> {
    pub path: &'a str,
    pub mode: u32,
    pub size: u64,
    pub sha256: &'a str,
}

/// The digest of a whole tree; the order of `files` does not matter.
pub fn tree_digest<'a>(files: impl IntoIterator<Item = TreeLine<'a>>) -> String {
    let mut lines: Vec<TreeLine<'a>> = files.into_iter().collect();
    lines.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut h = Sha256::new();
    for l in &lines {
        h.update(format!("{}\t{}\t{}\t{}\n", l.path, l.mode, l.size, l.sha256).as_bytes());
    }
    hex(&h.finalize())
}

/// The zstd window log a patch from a file of `old` bytes to one of `new` bytes uses: enough to
/// reach from the end of the output back to the start of the prefix (10 to 31).
pub fn window_log(old: u64, new: u64) -> u32 {
    let span = old.saturating_add(new).max(2);
    (64 - (span - 1).leading_zeros()).clamp(10, 31)
}

/// Writes through to `inner`, hashing and counting, refusing more than `limit` bytes.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
    limit: u64,
}

impl<W: io::Write> HashingWriter<W> {
    pub fn new(inner: W, limit: u64) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
            limit,
        }
    }

    /// Bytes written and their SHA-256 in hex.
    pub fn finish(self) -> (u64, String) {
        (self.count, hex(&self.hasher.finalize()))
    }
}

impl<W: io::Write> io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.count + buf.len() as u64 > self.limit {
            return Err(longer_than(self.limit));
        }
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes a whole stream: (size, sha256 hex).
pub fn hash_reader(mut r: impl Read) -> io::Result<(u64, String)> {
    let mut hw = HashingWriter::new(io::sink(), u64::MAX);
    io::copy(&mut r, &mut hw)?;
    Ok(hw.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tree_digest_is_order_independent_and_sensitive() {
        let a = TreeLine {
            path: "a",
            mode: 420,
            size: 1,
            sha256: "x",
        };
        let b = TreeLine {
            path: "b/c",
            mode: 493,
            size: 2,
            sha256: "y",
        };
        let d1 = tree_digest(vec![a.clone(), b.clone()]);
        assert_eq!(d1, tree_digest(vec![b.clone(), a.clone()]));
        let b2 = TreeLine { mode: 420, ..b };
        assert_ne!(d1, tree_digest(vec![a, b2]));
        // The empty tree is the hash of nothing.
        assert_eq!(tree_digest(Vec::new()), sha256_hex(b""));
    }
}
