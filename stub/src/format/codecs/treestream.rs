//! The tree stream of the `zstd-tree` delta codec: a whole component tree as one byte stream, so
//! one patch can carry every change of a tree of many small files.
//! Never writes a file: the apply engine does.
//!
//! Layout: a listing, one line per file sorted by path bytes, `path\tmode\tsize\n`, then an empty
//! line, then every file's bytes in listing order. Builder and stub serialise the base tree the
//! same way to get the patch's prefix. Parsing a new stream validates every path and the whole
//! listing before anything is written; the caller checks the result against the signed `tree`.

use crate::error::{Error, Result};
use crate::format::manifest::{MODE_EXEC, MODE_FILE};
use crate::format::relpath::{check_tree_paths, RelPath};
use crate::format::scan::SourceFile;
use std::io::{self, BufRead, Read};

/// The largest total (base + new tree stream) the tree codec is used for. The stub holds the base
/// stream and a window as large as the new stream while patching; under this bound a delta apply
/// stays within its memory budget (2.5 × the largest file + 64 MiB) whatever the files' sizes.
pub const MAX_TREE_BYTES: u64 = 48 << 20;

/// The listing part of a tree stream for these files (sorted by path).
fn listing(files: &[&SourceFile]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in files {
        out.extend_from_slice(format!("{}\t{:o}\t{}\n", f.path, f.mode, f.size).as_bytes());
    }
    out.push(b'\n');
    out
}

/// A tree's files in stream order (by path bytes; stable, so builder and stub agree on any input).
fn by_path(files: &[SourceFile]) -> Vec<&SourceFile> {
    let mut sorted: Vec<&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    sorted
}

/// Serialises a tree (read from disk) into its tree stream.
pub fn serialise(files: &[SourceFile]) -> io::Result<Vec<u8>> {
    let sorted = by_path(files);
    let mut out = listing(&sorted);
    for f in sorted {
        let start = out.len();
        // Only a regular file (never a FIFO or device put there since the scan), read at most one
        // byte past the size the scan saw, hashed as it was then.
        crate::platform::fsutil::open_regular(&f.disk)?
            .take(f.size + 1)
            .read_to_end(&mut out)?;
        if (out.len() - start) as u64 != f.size
            || crate::format::digest::sha256_hex(&out[start..]) != f.sha256
        {
            return Err(io::Error::other(format!(
                "{} changed while it was read",
                f.disk.display()
            )));
        }
    }
    Ok(out)
}

/// The size of a tree's stream.
pub fn stream_size(files: &[SourceFile]) -> u64 {
    listing(&by_path(files)).len() as u64 + files.iter().map(|f| f.size).sum::<u64>()
}

/// One file announced by a stream's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub path: RelPath,
    pub mode: u32,
    pub size: u64,
}

/// Reads and validates the listing at the head of a stream of `total` bytes. On return `r` is at
/// the first file's bytes, and the listing plus all file sizes add up to exactly `total`.
pub fn read_listing(r: &mut impl BufRead, total: u64) -> Result<Vec<Listed>> {
    let bad = |why: String| Error::damaged(format!("the tree stream is not valid: {why}"));
    let mut files = Vec::new();
    let mut used = 0u64;
    loop {
        let mut line = Vec::new();
        let n = r
            .by_ref()
            .take((total - used).min(4096) + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| bad(e.to_string()))?;
        used += n as u64;
        if n == 0 || line.last() != Some(&b'\n') || used > total {
            return Err(bad("the listing does not end".into()));
        }
        if line == b"\n" {
            break;
        }
        let text =
            std::str::from_utf8(&line[..line.len() - 1]).map_err(|_| bad("not UTF-8".into()))?;
        let mut parts = text.split('\t');
        let (Some(p), Some(m), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(format!("bad line `{}`", text.escape_debug())));
        };
        let path = RelPath::parse(p).map_err(bad)?;
        let mode = u32::from_str_radix(m, 8).map_err(|_| bad(format!("bad mode `{m}`")))?;
        if mode != MODE_FILE && mode != MODE_EXEC {
            return Err(bad(format!("mode {m} of {path} is not allowed")));
        }
        let size: u64 = s.parse().map_err(|_| bad(format!("bad size `{s}`")))?;
        used = used
            .checked_add(size)
            .filter(|&u| u <= total)
            .ok_or_else(|| bad("larger than declared".into()))?;
        files.push(Listed { path, mode, size });
    }
    if used != total {
        return Err(bad(format!("{used} bytes listed, {total} declared")));
    }
    if files
        .windows(2)
        .any(|w| w[0].path.as_str().as_bytes() >= w[1].path.as_str().as_bytes())
    {
        return Err(bad("the listing is not sorted".into()));
    }
    check_tree_paths(files.iter().map(|f| &f.path)).map_err(bad)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_round_trip_and_refusals() {
        let text = b"a\t644\t3\nb/c\t755\t2\n\nabcde";
        let mut r = &text[..];
        let files = read_listing(&mut r, text.len() as u64).expect("valid");
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].mode, 0o755);
        assert_eq!(r, b"abcde");
        for bad in [
            &b"../a\t644\t1\n\nx"[..],
            b"a\t4755\t1\n\nx",
            b"b\t644\t1\na\t644\t0\n\nx",
            b"a\t644\t9\n\nx",
            b"a\t644\t1\n",
            b"a\t644\t1\na/b\t644\t0\n\nx",
        ] {
            let mut r = bad;
            assert!(
                read_listing(&mut r, bad.len() as u64).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
