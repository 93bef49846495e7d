//! The `bsdiff-lzma` patch format: bsdiff's approximate matching (runs of the old file with small
//! differences, as when code moves and its addresses shift) with each of bsdiff's three streams
//! coded by LZMA. On program binaries it beats zstd's exact matches (ruff.exe 0.8.0 → 0.8.1:
//! 1,926,655 bytes against 2,666,647; see BENCHMARKS.md).
//! Never opens a file: it reads and writes what it is given, bounded.
//!
//! Layout: magic `IUBSDL1\n`, then six little-endian u64 (raw and coded sizes of the control,
//! diff and extra streams), then the three LZMA (`.lzma`) streams. Controls are (add, copy, seek) triples of
//! u64, u64, i64. Decoding checks every size and offset against the old file and the declared
//! output size before it is used.

use crate::error::{Error, Result};
use crate::format::manifest::MAX_PATCHED_BYTES;
use std::io::Write;

const MAGIC: &[u8; 8] = b"IUBSDL1\n";
/// The largest LZMA dictionary the encoder uses (the decoder's memory for it).
#[cfg(feature = "write")]
const DICT_MAX: u32 = 8 << 20;
/// The largest dictionary the decoder accepts.
const DICT_LIMIT: usize = 16 << 20;
const HEADER: usize = 8 + 6 * 8;

fn damaged(why: &str) -> Error {
    Error::damaged(format!("a bsdiff-lzma patch is not valid: {why}"))
}

/// Decodes one LZMA stream of exactly `raw` bytes. `raw` has been checked against the signed output
/// size, so the buffer is allocated once at its final size (growing it by doubling would need up
/// to twice the memory).
fn unlzma(coded: &[u8], raw: u64) -> Result<Vec<u8>> {
    // Plain LZMA (`.lzma`), whose decoder keeps only its dictionary (its size is read from the
    // header and refused above the limit before anything is allocated).
    let limit_kib = u32::try_from(DICT_LIMIT >> 10).unwrap_or(u32::MAX) + 64;
    let mut dec = lzma_rust2::LzmaReader::new_mem_limit(coded, limit_kib, None)
        .map_err(|e| damaged(&e.to_string()))?;
    // The range coder must end in its terminal state, and the stream must use every byte.
    dec.set_relaxed_end_condition(false);
    let mut out = Capped {
        buf: crate::error::buffer("a bsdiff-lzma stream", raw, MAX_PATCHED_BYTES)?,
        cap: raw,
    };
    std::io::copy(&mut dec, &mut out).map_err(|e| damaged(&e.to_string()))?;
    if out.buf.len() as u64 != raw {
        return Err(damaged("a stream is shorter than declared"));
    }
    let (rest, buffered) = dec.into_parts();
    if !rest.is_empty() || !buffered.is_empty() {
        return Err(damaged("a stream is followed by other bytes"));
    }
    Ok(out.buf)
}

/// A `Vec` writer that refuses to grow past `cap`.
struct Capped {
    buf: Vec<u8>,
    cap: u64,
}

impl Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() as u64 + b.len() as u64 > self.cap {
            return Err(std::io::Error::other("longer than declared"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// Checks a patch's header (`head`, its first bytes) against the patch's length and the signed
/// size of the file it rebuilds, before anything is decoded or allocated; returns the six sizes.
pub fn sizes(head: &[u8], patch_len: u64, new_size: u64) -> Result<[u64; 6]> {
    if head.len() < HEADER || &head[..8] != MAGIC {
        return Err(damaged("bad header"));
    }
    let s: [u64; 6] = std::array::from_fn(|i| u64_at(head, 8 + 8 * i));
    let [craw, ccoded, draw, dcoded, eraw, ecoded] = s;
    let total = ccoded
        .checked_add(dcoded)
        .and_then(|s| s.checked_add(ecoded));
    if total.and_then(|t| t.checked_add(HEADER as u64)) != Some(patch_len)
        || draw.checked_add(eraw) != Some(new_size)
        || craw % 24 != 0
        // Real patches hold far fewer than one control per 48 output bytes; a claim of more is
        // refused before anything is decoded or allocated.
        || craw > new_size / 2 + 24 * 4096
    {
        return Err(damaged("sizes do not add up"));
    }
    if new_size > MAX_PATCHED_BYTES {
        return Err(damaged(&format!(
            "it rebuilds {new_size} bytes, more than the {MAX_PATCHED_BYTES} a patch may"
        )));
    }
    Ok(s)
}

/// Rebuilds the new file (`new_size` bytes) from `old` and a `bsdiff-lzma` patch into `out`.
pub fn apply(old: &[u8], patch: &[u8], new_size: u64, out: &mut dyn Write) -> Result<()> {
    let [craw, ccoded, draw, dcoded, eraw, _] = sizes(patch, patch.len() as u64, new_size)?;
    let (c, rest) = patch[HEADER..].split_at(ccoded as usize);
    let (d, e) = rest.split_at(dcoded as usize);
    let (ctrl, diff, extra) = (unlzma(c, craw)?, unlzma(d, draw)?, unlzma(e, eraw)?);
    let (mut dpos, mut epos, mut opos) = (0usize, 0usize, 0i64);
    let write = |out: &mut dyn Write, b: &[u8]| {
        out.write_all(b)
            .map_err(|e| Error::apply_io("cannot write a patched file", &e))
    };
    for t in ctrl.chunks_exact(24) {
        let n = |i| usize::try_from(u64_at(t, i)).unwrap_or(usize::MAX);
        let (add, copy, seek) = (n(0), n(8), u64_at(t, 16) as i64);
        let from = usize::try_from(opos).map_err(|_| damaged("old offset out of range"))?;
        if add > diff.len() - dpos || from.checked_add(add).is_none_or(|end| end > old.len()) {
            return Err(damaged(
                "a control reaches outside the old file or the diff",
            ));
        }
        // Old bytes plus diff bytes, a chunk at a time: a run can be tens of MB.
        let mut mixed = [0u8; 64 << 10];
        let runs = diff[dpos..dpos + add].chunks(mixed.len());
        for (d, o) in runs.zip(old[from..from + add].chunks(mixed.len())) {
            for ((m, d), o) in mixed.iter_mut().zip(d).zip(o) {
                *m = d.wrapping_add(*o);
            }
            write(out, &mixed[..d.len()])?;
        }
        dpos += add;
        if copy > extra.len() - epos {
            return Err(damaged("a control reaches outside the extra data"));
        }
        write(out, &extra[epos..epos + copy])?;
        epos += copy;
        opos = i64::try_from(from + add)
            .ok()
            .and_then(|p| p.checked_add(seek))
            .ok_or_else(|| damaged("old offset out of range"))?;
    }
    if dpos != diff.len() || epos != extra.len() {
        return Err(damaged("data left over"));
    }
    Ok(())
}

/// Makes a `bsdiff-lzma` patch from `old` to `new`.
#[cfg(feature = "write")]
pub fn encode(old: &[u8], new: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bs = Vec::new();
    qbsdiff::Bsdiff::new(old, new)
        .compression_level(1)
        .compare(std::io::Cursor::new(&mut bs))?;
    if bs.len() < 32 || &bs[..8] != b"BSDIFF40" {
        return Err(std::io::Error::other("bsdiff made no patch"));
    }
    let int = |i: usize| {
        let y = u64_at(&bs, i);
        if y >> 63 == 1 {
            -((y & !(1 << 63)) as i64)
        } else {
            y as i64
        }
    };
    let (clen, dlen) = (int(8) as usize, int(16) as usize);
    let unbz = |b: &[u8]| -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        bzip2::read::BzDecoder::new(b).read_to_end(&mut v)?;
        Ok(v)
    };
    let ctrl_bs = unbz(&bs[32..32 + clen])?;
    let diff = unbz(&bs[32 + clen..32 + clen + dlen])?;
    let extra = unbz(&bs[32 + clen + dlen..])?;
    // bsdiff's controls are sign-magnitude; ours are plain little-endian.
    let mut ctrl = Vec::with_capacity(ctrl_bs.len());
    for t in ctrl_bs.chunks_exact(8) {
        let y = u64::from_le_bytes(t.try_into().expect("8 bytes"));
        let v = if y >> 63 == 1 {
            -((y & !(1 << 63)) as i64)
        } else {
            y as i64
        };
        ctrl.extend_from_slice(&v.to_le_bytes());
    }
    let lzma = |raw: &[u8]| -> std::io::Result<Vec<u8>> {
        use liblzma::stream::{LzmaOptions, Stream, PRESET_EXTREME};
        // LZMA -9e, but with a dictionary no larger than DICT_MAX: the stub's decoder holds the
        // dictionary, and bsdiff's streams gain next to nothing from a larger one.
        let mut opts =
            LzmaOptions::new_preset(9 | PRESET_EXTREME).map_err(std::io::Error::other)?;
        opts.dict_size((raw.len().min(DICT_MAX as usize) as u32).max(4096));
        let stream = Stream::new_lzma_encoder(&opts).map_err(std::io::Error::other)?;
        let mut enc = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
        enc.write_all(raw)?;
        enc.finish()
    };
    let (c, d, e) = (lzma(&ctrl)?, lzma(&diff)?, lzma(&extra)?);
    let mut out = MAGIC.to_vec();
    for n in [
        ctrl.len(),
        c.len(),
        diff.len(),
        d.len(),
        extra.len(),
        e.len(),
    ] {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }
    out.extend_from_slice(&c);
    out.extend_from_slice(&d);
    out.extend_from_slice(&e);
    Ok(out)
}

#[cfg(all(test, feature = "write"))]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let old: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut new = old.clone();
        for i in (0..new.len()).step_by(997) {
            new[i] = new[i].wrapping_add(3);
        }
        new.splice(5000..5000, b"inserted bytes".iter().copied());
        let patch = encode(&old, &new).expect("encode");
        let mut out = Vec::new();
        apply(&old, &patch, new.len() as u64, &mut out).expect("apply");
        assert_eq!(out, new);
        assert!(apply(&old, &patch, new.len() as u64 + 1, &mut Vec::new()).is_err());
        assert!(apply(&old[..1000], &patch, new.len() as u64, &mut Vec::new()).is_err());
        let mut bad = patch.clone();
        let last = bad.len() - 3;
        bad[last] ^= 1;
        assert!(apply(&old, &bad, new.len() as u64, &mut Vec::new()).is_err());
    }

    /// A patch from three given raw streams, each coded by LZMA as `encode` codes them.
    fn patch_of(ctrl: &[u8], diff: &[u8], extra: &[u8], declared: [Option<u64>; 3]) -> Vec<u8> {
        use liblzma::stream::{LzmaOptions, Stream};
        let lzma = |raw: &[u8]| {
            let opts = LzmaOptions::new_preset(1).expect("preset");
            let stream = Stream::new_lzma_encoder(&opts).expect("encoder");
            let mut enc = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
            enc.write_all(raw).expect("encode");
            enc.finish().expect("encode")
        };
        let coded = [lzma(ctrl), lzma(diff), lzma(extra)];
        let mut out = MAGIC.to_vec();
        for ((raw, c), d) in [ctrl, diff, extra].iter().zip(&coded).zip(declared) {
            out.extend_from_slice(&d.unwrap_or(raw.len() as u64).to_le_bytes());
            out.extend_from_slice(&(c.len() as u64).to_le_bytes());
        }
        coded.iter().for_each(|c| out.extend_from_slice(c));
        out
    }

    /// A patch that declares a 1 TiB output (and a signed size to match) is refused before a
    /// byte is allocated for it, and a seek that overflows the old offset is refused too.
    #[test]
    fn refuses_huge_outputs_and_overflowing_seeks() {
        let tib = 1u64 << 40;
        let huge = patch_of(&[], b"x", b"", [None, Some(tib), None]);
        assert!(huge.len() < 200, "{}", huge.len());
        let err = apply(b"old", &huge, tib, &mut Vec::new()).expect_err("1 TiB");
        assert_eq!(err.code, crate::error::ExitCode::Damaged);
        assert!(err.message.contains("more than"), "{}", err.message);
        let head = sizes(&huge, huge.len() as u64, tib);
        assert!(head.is_err(), "the header alone is refused");

        let mut ctrl = Vec::new();
        for v in [1u64, 0, i64::MAX as u64] {
            ctrl.extend_from_slice(&v.to_le_bytes());
        }
        let seek = patch_of(&ctrl, &[0], b"", [None; 3]);
        let err = apply(&[5u8; 4], &seek, 1, &mut Vec::new()).expect_err("overflow");
        assert!(err.message.contains("out of range"), "{}", err.message);
    }
}
