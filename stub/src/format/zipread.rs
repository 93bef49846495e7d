//! The stub's ZIP reader: what a package needs and nothing more (the `zip` crate, which reads every
//! kind of archive, cost the stub about 80 KB with its CRC tables). It reads the end record (ZIP64
//! too), the central directory and local headers, and streams stored or deflated entries.
//!
//! It is strict where a package built by iupack is always well formed: duplicate names, encrypted
//! entries, other methods, a local header that disagrees with the directory, and entries that
//! overlap the directory are refused. Content CRCs are not checked: every content byte is proven
//! by the signed manifest's SHA-256, which a CRC cannot add to. The small entries read before the
//! signature is verified (manifest, signature, key statements) are CRC-checked by `crc32`, so a
//! flipped byte in, say, the product a signature names is a damaged package (21), not a package
//! for another product (10).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

const EOCD: &[u8; 4] = b"PK\x05\x06";
const ZIP64_LOCATOR: &[u8; 4] = b"PK\x06\x07";
const ZIP64_EOCD: &[u8; 4] = b"PK\x06\x06";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";
const LOCAL: &[u8; 4] = b"PK\x03\x04";
/// The largest central directory read (an iupack package lists a few entries per file).
const MAX_DIRECTORY_BYTES: u64 = 64 << 20;

/// One entry of the central directory.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: Vec<u8>,
    method: u16,
    flags: u16,
    pub compressed_size: u64,
    pub size: u64,
    pub crc32: u32,
    /// Where its local header starts in the file.
    pub header_start: u64,
    /// A plain file: not a folder (name ending in `/`) and not a symbolic link or device.
    pub is_file: bool,
}

/// An opened archive: its directory in memory, the file for reading entries.
#[derive(Debug)]
pub struct Archive {
    file: File,
    len: u64,
    directory_start: u64,
    entries: Vec<Entry>,
    /// Entry numbers sorted by name.
    index: Vec<usize>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from(u32_at(b, i)) | u64::from(u32_at(b, i + 4)) << 32
}

fn read_at(file: &mut File, at: u64, buf: &mut [u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(buf)
}

fn bad(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

impl Archive {
    /// Reads the end record and the central directory. The archive may follow other bytes (the
    /// stub): offsets are absolute, or relative to the archive's start if it was appended.
    pub fn new(mut file: File) -> io::Result<Archive> {
        let len = file.seek(SeekFrom::End(0))?;
        let tail_len = len.min(22 + 65_535);
        let mut tail = vec![0u8; tail_len as usize];
        read_at(&mut file, len - tail_len, &mut tail)?;
        let at = (0..tail.len().saturating_sub(21))
            .rev()
            .find(|&i| tail[i..].starts_with(EOCD))
            .ok_or_else(|| bad("no end of central directory record"))?;
        let eocd_pos = len - tail_len + at as u64;
        let e = &tail[at..];
        let (mut count, mut dir_size, mut dir_offset) = (
            u64::from(u16_at(e, 10)),
            u64::from(u32_at(e, 12)),
            u64::from(u32_at(e, 16)),
        );
        let mut dir_end = eocd_pos;
        if count == 0xFFFF || dir_size == 0xFFFF_FFFF || dir_offset == 0xFFFF_FFFF {
            let mut loc = [0u8; 20];
            if eocd_pos < 20 {
                return Err(bad("no ZIP64 locator"));
            }
            read_at(&mut file, eocd_pos - 20, &mut loc)?;
            if &loc[..4] != ZIP64_LOCATOR {
                return Err(bad("no ZIP64 locator"));
            }
            let z_rel = u64_at(&loc, 8);
            // The ZIP64 record sits right before its locator; its recorded offset tells the shift.
            let z_pos = eocd_pos
                .checked_sub(20 + 56)
                .ok_or_else(|| bad("no ZIP64 end record"))?;
            let mut z = [0u8; 56];
            read_at(&mut file, z_pos, &mut z)?;
            if &z[..4] != ZIP64_EOCD || z_rel > z_pos {
                return Err(bad("no ZIP64 end record"));
            }
            count = u64_at(&z, 32);
            dir_size = u64_at(&z, 40);
            dir_offset = u64_at(&z, 48);
            dir_end = z_pos;
        }
        let shift = dir_end
            .checked_sub(dir_size)
            .and_then(|start| start.checked_sub(dir_offset))
            .ok_or_else(|| bad("the central directory lies outside the file"))?;
        if dir_size > MAX_DIRECTORY_BYTES || count > dir_size / 46 + 1 {
            return Err(bad("the central directory is too large"));
        }
        let directory_start = dir_offset + shift;
        let mut dir = vec![0u8; dir_size as usize];
        read_at(&mut file, directory_start, &mut dir)?;
        let mut entries = Vec::with_capacity(count as usize);
        let mut p = 0usize;
        for _ in 0..count {
            let h = dir
                .get(p..p + 46)
                .filter(|h| h.starts_with(CENTRAL))
                .ok_or_else(|| bad("a central directory entry is cut short"))?;
            let (name_len, extra_len, comment_len) = (
                usize::from(u16_at(h, 28)),
                usize::from(u16_at(h, 30)),
                usize::from(u16_at(h, 32)),
            );
            let end = p + 46 + name_len + extra_len + comment_len;
            let name = dir
                .get(p + 46..p + 46 + name_len)
                .ok_or_else(|| bad("a central directory entry is cut short"))?
                .to_vec();
            let extra = dir
                .get(p + 46 + name_len..p + 46 + name_len + extra_len)
                .ok_or_else(|| bad("a central directory entry is cut short"))?;
            let mut size = u64::from(u32_at(h, 24));
            let mut compressed_size = u64::from(u32_at(h, 20));
            let mut offset = u64::from(u32_at(h, 42));
            zip64_fields(extra, [&mut size, &mut compressed_size, &mut offset])?;
            let unix_mode = (u16_at(h, 4) >> 8 == 3).then(|| u32_at(h, 38) >> 16);
            let is_file = !name.ends_with(b"/")
                && unix_mode.is_none_or(|m| m & 0o170000 == 0 || m & 0o170000 == 0o100000);
            entries.push(Entry {
                name,
                method: u16_at(h, 10),
                flags: u16_at(h, 8),
                compressed_size,
                size,
                crc32: u32_at(h, 16),
                header_start: offset
                    .checked_add(shift)
                    .filter(|&s| s < len)
                    .ok_or_else(|| bad("an entry lies outside the file"))?,
                is_file,
            });
            p = end;
        }
        if p != dir.len() {
            return Err(bad("the central directory holds more than its entries"));
        }
        let mut index: Vec<usize> = (0..entries.len()).collect();
        index.sort_unstable_by(|&a, &b| entries[a].name.cmp(&entries[b].name));
        if let Some(w) = index
            .windows(2)
            .find(|w| entries[w[0]].name == entries[w[1]].name)
        {
            return Err(bad(format!(
                "two entries are named {}",
                String::from_utf8_lossy(&entries[w[0]].name)
            )));
        }
        Ok(Archive {
            file,
            len,
            directory_start,
            entries,
            index,
        })
    }

    /// The archive's file, for reading outside the entries (the stub before them, the end).
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn index_for_name(&self, name: &str) -> Option<usize> {
        let entries = &self.entries;
        crate::json::sorted::find(&self.index, name.as_bytes(), |&i| {
            entries[i].name.as_slice()
        })
        .copied()
    }

    /// The entry named `name` and a reader of its (inflated) bytes. The reader yields at most one
    /// byte more than the directory's size, so a caller comparing lengths sees an entry that lies.
    pub fn by_name(&mut self, name: &str) -> io::Result<(Entry, Box<dyn Read + '_>)> {
        let i = self
            .index_for_name(name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no entry {name}")))?;
        let e = self.entries[i].clone();
        if e.flags & 1 != 0 {
            return Err(bad(format!("{name} is encrypted")));
        }
        let mut local = [0u8; 30];
        read_at(&mut self.file, e.header_start, &mut local)?;
        let (name_len, extra_len) = (u64::from(u16_at(&local, 26)), u64::from(u16_at(&local, 28)));
        let mut local_name = vec![0u8; name_len as usize];
        self.file.read_exact(&mut local_name)?;
        let data = e.header_start + 30 + name_len + extra_len;
        if &local[..4] != LOCAL
            || local_name != e.name
            || u16_at(&local, 8) != e.method
            || data
                .checked_add(e.compressed_size)
                .is_none_or(|end| end > self.directory_start.min(self.len))
        {
            return Err(bad(format!(
                "the local header of {name} does not match the directory"
            )));
        }
        self.file.seek(SeekFrom::Start(data))?;
        let raw = BufReader::with_capacity(
            (e.compressed_size.clamp(512, 64 << 10)) as usize,
            (&mut self.file).take(e.compressed_size),
        );
        let reader: Box<dyn Read + '_> = match e.method {
            0 => Box::new(raw.take(e.size + 1)),
            8 => Box::new(flate2::bufread::DeflateDecoder::new(raw).take(e.size + 1)),
            m => return Err(bad(format!("{name} uses compression method {m}"))),
        };
        Ok((e, reader))
    }
}

/// The ZIP CRC-32 of `data`, bit by bit: for the few small entries checked, no table needed.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// The ZIP64 extra field of a central directory entry: the 32-bit fields that overflowed
/// (`0xFFFF_FFFF`), in this order (size, compressed size, offset), take their 64-bit values.
fn zip64_fields(extra: &[u8], mut fields: [&mut u64; 3]) -> io::Result<()> {
    let mut x = 0usize;
    while x + 4 <= extra.len() {
        let (id, n) = (u16_at(extra, x), usize::from(u16_at(extra, x + 2)));
        let body = extra
            .get(x + 4..x + 4 + n)
            .ok_or_else(|| bad("an extra field is cut short"))?;
        if id == 1 {
            let mut vals = body.chunks_exact(8).map(|c| u64_at(c, 0));
            for field in &mut fields {
                if **field == 0xFFFF_FFFF {
                    **field = vals.next().ok_or_else(|| bad("a ZIP64 field is missing"))?;
                }
            }
        }
        x += 4 + n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn refuses_files_without_an_end_record() {
        let dir = std::env::temp_dir().join(format!("iupack-zipread-{}", std::process::id()));
        std::fs::write(&dir, b"not a zip at all").expect("write");
        let r = Archive::new(File::open(&dir).expect("open"));
        let _ = std::fs::remove_file(&dir);
        assert!(r.is_err());
    }

    /// A ZIP of stored entries, as any zip tool writes one.
    fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let (mut out, mut dir) = (Vec::new(), Vec::new());
        for (name, body) in entries {
            let fields = |v: &mut Vec<u8>| {
                v.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                v.extend_from_slice(&crc32(body).to_le_bytes());
                v.extend_from_slice(&(body.len() as u32).to_le_bytes());
                v.extend_from_slice(&(body.len() as u32).to_le_bytes());
                v.extend_from_slice(&(name.len() as u16).to_le_bytes());
                v.extend_from_slice(&[0, 0]);
            };
            dir.extend_from_slice(b"PK\x01\x02\x14\x00");
            fields(&mut dir);
            dir.extend_from_slice(&[0; 10]);
            dir.extend_from_slice(&(out.len() as u32).to_le_bytes());
            dir.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"PK\x03\x04");
            fields(&mut out);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(body);
        }
        let start = out.len() as u32;
        out.extend_from_slice(&dir);
        out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
        let n = (entries.len() as u16).to_le_bytes();
        out.extend_from_slice(&[n[0], n[1], n[0], n[1]]);
        out.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    fn open(bytes: &[u8], tag: &str) -> io::Result<Archive> {
        let path =
            std::env::temp_dir().join(format!("iupack-zipread-{tag}-{}", std::process::id()));
        std::fs::write(&path, bytes).expect("write");
        let r = Archive::new(File::open(&path).expect("open"));
        let _ = std::fs::remove_file(&path);
        r
    }

    /// Entries are found by name whatever order the directory lists them in; a name listed twice
    /// is refused (which of the two would be read?).
    #[test]
    fn finds_entries_by_name_and_refuses_a_name_twice() {
        let files: [(&str, &[u8]); 4] = [
            ("manifest.json", b"{}"),
            ("c/2", b"two"),
            ("a", b""),
            ("c/1", b"one"),
        ];
        let mut zip = open(&stored_zip(&files), "names").expect("a valid zip");
        for (name, body) in files {
            let (e, mut r) = zip.by_name(name).expect("listed");
            let mut got = Vec::new();
            r.read_to_end(&mut got).expect("read");
            assert_eq!((e.name.as_slice(), got.as_slice()), (name.as_bytes(), body));
        }
        assert_eq!(zip.index_for_name("c"), None);
        assert_eq!(
            zip.by_name("c/3").err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );

        let twice = stored_zip(&[("a", b"1"), ("b", b""), ("a", b"2")]);
        let err = open(&twice, "twice").expect_err("a name twice");
        assert!(err.to_string().contains("two entries are named a"), "{err}");
    }

    /// Package-controlled offsets never make the reader's arithmetic overflow: an end record
    /// asking for a ZIP64 record that would start before the file, and an entry offset that
    /// overflows when the archive's shift is added, are refused.
    #[test]
    fn refuses_offsets_that_would_overflow() {
        for lead in [0usize, 1, 40, 55] {
            let mut zip = b"PK\x06\x07".to_vec();
            zip.resize(20 + lead, 0);
            zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\xff\xff\xff\xff");
            zip.extend_from_slice(&[0; 10]);
            let err = open(&zip, "zip64").expect_err("no ZIP64 record fits");
            assert!(err.to_string().contains("ZIP64"), "{err}");
        }
        let mut dir = b"PK\x01\x02\x14\x00\x14\0\0\0\0\0\0\0\0\0".to_vec();
        dir.extend_from_slice(&[0; 12]);
        dir.extend_from_slice(&[1, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        dir.extend_from_slice(&[0xff; 4]);
        dir.extend_from_slice(b"a\x01\x00\x08\x00");
        dir.extend_from_slice(&u64::MAX.to_le_bytes());
        let mut zip = b"junk".to_vec();
        zip.extend_from_slice(&dir);
        zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
        zip.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        zip.extend_from_slice(&[0; 6]);
        let err = open(&zip, "offset").expect_err("an offset past the end");
        assert!(err.to_string().contains("outside the file"), "{err}");
    }
}
