//! The `bsdiff-lzma` patch format: bsdiff's approximate matching (runs of the old file with small
//! differences, as when code moves and its addresses shift) with bsdiff's streams coded by LZMA.
//! On program binaries it beats zstd's exact matches (ruff.exe 0.8.0 → 0.8.1: 1,926,655 bytes
//! against 2,666,647; see BENCHMARKS.md).
//! Never opens a file: it reads and writes what it is given, bounded.
//!
//! Layout 2 (what the builder writes): magic `IUBSDL2\n`, four LEB128 sizes (the raw bytes of the
//! control, run, rest and extra sections), then one `.xz` stream (no check: the patch is signed)
//! whose decoded bytes are the four sections one after the other, each in its own LZMA2 block.
//! - control: bsdiff's (add, copy, seek) triples as three columns of LEB128 numbers (every add,
//!   then every copy, then every seek zigzag-coded): columns of alike numbers code smaller.
//! - the diff stream (new minus old over each add) without its long zero runs: run lists
//!   (rest bytes before the run, run length − `MIN_RUN`) as LEB128 pairs, and rest, the diff bytes
//!   between runs. LZMA's matches end at 273 bytes, so a 15 MB run of zeros (a big file with a
//!   few edits) cost it 2.6 KB; the run list says the same in tens of bytes.
//! - extra: bsdiff's literal bytes.
//!
//! Layout 1 (`IUBSDL1\n`, six u64 sizes and three `.lzma` streams, controls as u64 triples) is
//! read by the client tool only, for packages built before layout 2; a package head reads what
//! its own builder wrote. Decoding checks every size and offset against the old file and the
//! declared output size before it is used.

use crate::error::{Error, Result};
use crate::format::manifest::MAX_PATCHED_BYTES;
use std::io::{Read, Write};

const MAGIC: &[u8; 8] = b"IUBSDL2\n";
#[cfg(feature = "client")]
const MAGIC_V1: &[u8; 8] = b"IUBSDL1\n";
/// Zero runs of the diff stream at least this long go in the run list.
const MIN_RUN: u64 = 256;
/// The largest LZMA dictionary the encoder uses (the decoder's memory for it).
#[cfg(feature = "write")]
const DICT_MAX: u32 = 8 << 20;
/// The largest dictionary the decoder accepts.
const DICT_LIMIT: usize = 16 << 20;
/// The LZMA decoders' memory limit (KiB): the largest dictionary and 64 KiB for the rest.
pub(crate) const DECODER_MEM_KIB: u32 = (DICT_LIMIT >> 10) as u32 + 64;

/// The largest control section a patch rebuilding `new_size` bytes may declare: real patches
/// hold far fewer than one control per 48 output bytes, and a claim of more is refused before
/// anything is decoded or allocated.
fn max_controls(new_size: u64) -> u64 {
    new_size / 2 + 24 * 4096
}
/// The most header bytes a patch can have (layout 1's; layout 2's is at most 8 + 4 × 10).
pub const MAX_HEADER: usize = 8 + 6 * 8;

fn damaged(why: &str) -> Error {
    Error::damaged(format!("a bsdiff-lzma patch is not valid: {why}"))
}

/// A patch's sections as its header declares them, checked against the patch's length and the
/// signed output size.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Header bytes before the coded sections.
    header: usize,
    /// Raw sizes: control, run list, rest, extra (layout 1: control, diff, extra, and no runs).
    raw: [u64; 4],
    /// Layout 1 only: the coded sizes of its three `.lzma` streams.
    #[cfg(feature = "client")]
    v1: Option<[u64; 3]>,
}

/// One LEB128 number at `*at`, moved past it; `None` if it runs off the end or past 64 bits.
pub(crate) fn leb(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let x = *b.get(*at)?;
        *at += 1;
        if shift == 63 && x > 1 {
            return None;
        }
        v |= u64::from(x & 0x7f) << shift;
        if x < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Checks a patch's header (`head`, its first bytes: up to [`MAX_HEADER`]) against the patch's
/// length and the signed size of the file it rebuilds, before anything is decoded or allocated.
pub fn sizes(head: &[u8], patch_len: u64, new_size: u64) -> Result<Layout> {
    if new_size > MAX_PATCHED_BYTES {
        return Err(damaged(&format!(
            "it rebuilds {new_size} bytes, more than the {MAX_PATCHED_BYTES} a patch may"
        )));
    }
    #[cfg(feature = "client")]
    if head.starts_with(MAGIC_V1) {
        return sizes_v1(head, patch_len, new_size);
    }
    if !head.starts_with(MAGIC) {
        return Err(damaged("bad header"));
    }
    let mut at = MAGIC.len();
    let mut raw = [0u64; 4];
    for r in &mut raw {
        *r = leb(head, &mut at).ok_or_else(|| damaged("bad header"))?;
    }
    let [ctrl, runs, rest, extra] = raw;
    let fits = rest.checked_add(extra).is_some_and(|n| n <= new_size)
        && (at as u64) < patch_len
        // A run stands for at least MIN_RUN bytes in at least 2.
        && ctrl <= max_controls(new_size)
        && runs <= new_size / (MIN_RUN / 4) + 64;
    if !fits {
        return Err(damaged("sizes do not add up"));
    }
    Ok(Layout {
        header: at,
        raw,
        #[cfg(feature = "client")]
        v1: None,
    })
}

#[cfg(feature = "client")]
fn sizes_v1(head: &[u8], patch_len: u64, new_size: u64) -> Result<Layout> {
    if head.len() < MAX_HEADER {
        return Err(damaged("bad header"));
    }
    let s: [u64; 6] = std::array::from_fn(|i| u64_at(head, 8 + 8 * i));
    let [craw, ccoded, draw, dcoded, eraw, ecoded] = s;
    let total = ccoded
        .checked_add(dcoded)
        .and_then(|s| s.checked_add(ecoded));
    if total.and_then(|t| t.checked_add(MAX_HEADER as u64)) != Some(patch_len)
        || draw.checked_add(eraw) != Some(new_size)
        || craw % 24 != 0
        || craw > max_controls(new_size)
    {
        return Err(damaged("sizes do not add up"));
    }
    Ok(Layout {
        header: MAX_HEADER,
        raw: [craw, 0, draw, eraw],
        v1: Some([ccoded, dcoded, ecoded]),
    })
}

/// Decodes layout 1's `.lzma` stream of exactly `raw` bytes. `raw` has been checked against the
/// signed output size, so the buffer is allocated once at its final size.
#[cfg(feature = "client")]
fn unlzma(coded: &[u8], raw: u64) -> Result<Vec<u8>> {
    let mut dec = lzma_rust2::LzmaReader::new_mem_limit(coded, DECODER_MEM_KIB, None)
        .map_err(|e| damaged(&e.to_string()))?;
    // The range coder must end in its terminal state, and the stream must use every byte.
    dec.set_relaxed_end_condition(false);
    let mut out = section(raw)?;
    dec.read_exact(&mut out)
        .map_err(|e| damaged(&e.to_string()))?;
    if dec.read(&mut [0u8]).map_err(|e| damaged(&e.to_string()))? != 0 {
        return Err(damaged("a stream is longer than declared"));
    }
    let (rest, buffered) = dec.into_parts();
    if !rest.is_empty() || !buffered.is_empty() {
        return Err(damaged("a stream is followed by other bytes"));
    }
    Ok(out)
}

/// A zeroed buffer of a section's declared size (checked against the signed output size before).
fn section(raw: u64) -> Result<Vec<u8>> {
    let mut v = crate::error::buffer("a bsdiff-lzma stream", raw, MAX_PATCHED_BYTES)?;
    v.resize(raw as usize, 0);
    Ok(v)
}

#[cfg(feature = "client")]
fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// Layout 2's sections, decoded from the `.xz` body after the header with the reader full
/// archives use (one decoder in the head): each exactly its declared size, and nothing after
/// them. The rest bytes are decoded into the tail of a buffer the diff stream's size (`diff_len`),
/// which [`expand_diff`] then fills in place: the decoder holds the diff stream once.
fn sections(body: &[u8], raw: [u64; 4], diff_len: u64) -> Result<[Vec<u8>; 3]> {
    let src: Box<dyn Read + '_> = Box::new(body);
    let mut xz = lzma_rust2::XzReader::new_mem_limit(
        std::io::BufReader::with_capacity(64 << 10, src.take(body.len() as u64)),
        false,
        DECODER_MEM_KIB,
    );
    let [ctrl_len, runs_len, rest_len, extra_len] = raw;
    let mut read = |buf: &mut [u8]| xz.read_exact(buf).map_err(|e| damaged(&e.to_string()));
    let (mut ctrl, mut runs) = (section(ctrl_len)?, section(runs_len)?);
    read(&mut ctrl)?;
    read(&mut runs)?;
    // rest + extra ≤ the output size (checked by `sizes`), so rest fits in the diff stream.
    let mut diff = section(diff_len)?;
    let tail = diff.len() - rest_len as usize;
    read(&mut diff[tail..])?;
    let mut extra = section(extra_len)?;
    read(&mut extra)?;
    let more = xz.read(&mut [0u8]).map_err(|e| damaged(&e.to_string()))?;
    let mut after = xz.into_inner();
    if more != 0 || !after.buffer().is_empty() || after.get_mut().limit() != 0 {
        return Err(damaged("the sections are followed by other bytes"));
    }
    expand_diff(&mut diff, tail, &runs)?;
    Ok([ctrl, diff, extra])
}

/// The diff stream, in place: `diff[rest_at..]` holds the rest bytes; each run-list pair moves
/// the next rest bytes down to where they belong and zeroes the run after them. A run may not
/// reach past the rest bytes not yet moved (then the list does not fit the stream), so nothing
/// is overwritten before it is read; at the end every byte must be accounted for.
fn expand_diff(diff: &mut [u8], rest_at: usize, runs: &[u8]) -> Result<()> {
    let bad = || damaged("the run list does not fit the diff stream");
    let (mut at, mut from, mut to) = (0usize, rest_at, 0usize);
    while at < runs.len() {
        let gap = leb(runs, &mut at).ok_or_else(bad)?;
        let run = leb(runs, &mut at)
            .and_then(|r| r.checked_add(MIN_RUN))
            .ok_or_else(bad)?;
        let end = usize::try_from(gap)
            .ok()
            .and_then(|g| from.checked_add(g))
            .filter(|&e| e <= diff.len())
            .ok_or_else(bad)?;
        // `to` ≤ `from` throughout, so the moved bytes end by `end`, and so must the run.
        let zeros = to + (end - from);
        let zeros_end = usize::try_from(run)
            .ok()
            .and_then(|r| zeros.checked_add(r))
            .filter(|&e| e <= end)
            .ok_or_else(bad)?;
        diff.copy_within(from..end, to);
        diff[zeros..zeros_end].fill(0);
        (from, to) = (end, zeros_end);
    }
    // The rest bytes after the last run are in place exactly when the runs filled the gap.
    if to != from {
        return Err(bad());
    }
    Ok(())
}

/// Layout 2's controls: three LEB128 columns (adds, copies, zigzag seeks) read side by side,
/// without a copy (a section of one-byte numbers as `u64`s would take 8 times its size). Every
/// number is checked first, so a bad section is refused before anything is written.
fn controls(ctrl: &[u8]) -> Result<impl Iterator<Item = (u64, u64, i64)> + '_> {
    let cut = || damaged("the controls are cut short");
    let (mut at, mut count) = (0usize, 0usize);
    while at < ctrl.len() {
        leb(ctrl, &mut at).ok_or_else(cut)?;
        count += 1;
    }
    if count % 3 != 0 {
        return Err(cut());
    }
    let n = count / 3;
    let skip = |mut at: usize| {
        for _ in 0..n {
            leb(ctrl, &mut at);
        }
        at
    };
    let copies = skip(0);
    let mut cursors = [0, copies, skip(copies)];
    Ok((0..n).map(move |_| {
        let mut next = |c: usize| leb(ctrl, &mut cursors[c]).unwrap_or(u64::MAX);
        let (add, copy, s) = (next(0), next(1), next(2));
        (add, copy, ((s >> 1) as i64) ^ -((s & 1) as i64))
    }))
}

/// Rebuilds the new file (`new_size` bytes) from `old` and a `bsdiff-lzma` patch into `out`.
pub fn apply(old: &[u8], patch: &[u8], new_size: u64, out: &mut dyn Write) -> Result<()> {
    let l = sizes(patch, patch.len() as u64, new_size)?;
    #[cfg(feature = "client")]
    if let Some([cc, dc, _]) = l.v1 {
        let (c, rest) = patch[l.header..].split_at(cc as usize);
        let (d, e) = rest.split_at(dc as usize);
        let [craw, _, draw, eraw] = l.raw;
        let (ctrl, diff, extra) = (unlzma(c, craw)?, unlzma(d, draw)?, unlzma(e, eraw)?);
        // Layout 1's controls are plain little-endian (add, copy, seek).
        let triples = ctrl
            .chunks_exact(24)
            .map(|t| (u64_at(t, 0), u64_at(t, 8), u64_at(t, 16) as i64));
        return rebuild(old, triples, &diff, &extra, out);
    }
    let [ctrl, diff, extra] = sections(&patch[l.header..], l.raw, new_size - l.raw[3])?;
    let triples = controls(&ctrl)?;
    rebuild(old, triples, &diff, &extra, out)
}

/// Runs bsdiff's controls: for each (add, copy, seek), `add` old bytes plus as many diff bytes,
/// then `copy` extra bytes, then the old offset moves by `seek`. Every diff and extra byte must
/// be used.
fn rebuild(
    old: &[u8],
    ctrl: impl Iterator<Item = (u64, u64, i64)>,
    diff: &[u8],
    extra: &[u8],
    out: &mut dyn Write,
) -> Result<()> {
    let (mut dpos, mut epos, mut opos) = (0usize, 0usize, 0i64);
    let write = |out: &mut dyn Write, b: &[u8]| {
        out.write_all(b)
            .map_err(|e| Error::apply_io("cannot write a patched file", &e))
    };
    // Old bytes plus diff bytes, a chunk at a time: a run can be tens of MB.
    let mut mixed = vec![0u8; 64 << 10];
    for (add, copy, seek) in ctrl {
        let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let (add, copy) = (n(add), n(copy));
        let from = usize::try_from(opos).map_err(|_| damaged("old offset out of range"))?;
        if add > diff.len() - dpos || from.checked_add(add).is_none_or(|end| end > old.len()) {
            return Err(damaged(
                "a control reaches outside the old file or the diff",
            ));
        }
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

/// Makes a `bsdiff-lzma` patch (layout 2) from `old` to `new`.
#[cfg(feature = "write")]
pub fn encode(old: &[u8], new: &[u8]) -> std::io::Result<Vec<u8>> {
    let (ctrl, diff, extra) = bsdiff_streams(old, new)?;
    // bsdiff's numbers are sign-magnitude.
    let signed = |t: &[u8]| {
        let y = u64::from_le_bytes(t.try_into().expect("8 bytes"));
        if y >> 63 == 1 {
            -((y & !(1 << 63)) as i64)
        } else {
            y as i64
        }
    };
    let mut cols = Vec::new();
    for k in 0..3 {
        for t in ctrl.chunks_exact(24) {
            let v = signed(&t[8 * k..8 * k + 8]);
            put_leb(&mut cols, if k == 2 { zigzag(v) } else { v as u64 });
        }
    }
    let (runs, rest) = split_runs(&diff);
    let dict = |n: usize| (n.min(DICT_MAX as usize) as u32).max(4096);
    let sections = [&cols, &runs, &rest, &extra].map(|p| (p.as_slice(), dict(p.len())));
    write_layout(sections.map(|(p, _)| p.len() as u64), &sections)
}

/// A layout-2 patch: the header declaring `sizes` (the sections' raw sizes), then the sections,
/// each (bytes, dictionary size), as one `.xz` stream.
#[cfg(feature = "write")]
fn write_layout(sizes: [u64; 4], sections: &[(&[u8], u32)]) -> std::io::Result<Vec<u8>> {
    let mut out = MAGIC.to_vec();
    for n in sizes {
        put_leb(&mut out, n);
    }
    out.extend_from_slice(&super::xzblocks::write(sections)?);
    Ok(out)
}

/// bsdiff's three raw streams (controls, diff, extra) for `old` → `new`, searched as one job
/// (split into parallel chunks, the matches at the seams are worse: 1-8% larger controls).
#[cfg(feature = "write")]
fn bsdiff_streams(old: &[u8], new: &[u8]) -> std::io::Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut bs = Vec::new();
    qbsdiff::Bsdiff::new(old, new)
        .parallel_scheme(qbsdiff::ParallelScheme::Never)
        .compression_level(1)
        .compare(std::io::Cursor::new(&mut bs))?;
    if bs.len() < 32 || &bs[..8] != b"BSDIFF40" {
        return Err(std::io::Error::other("bsdiff made no patch"));
    }
    let len = |i: usize| u64::from_le_bytes(bs[i..i + 8].try_into().expect("8 bytes")) as usize;
    let (clen, dlen) = (len(8), len(16));
    let unbz = |b: &[u8]| -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        bzip2::read::BzDecoder::new(b).read_to_end(&mut v)?;
        Ok(v)
    };
    Ok((
        unbz(&bs[32..32 + clen])?,
        unbz(&bs[32 + clen..32 + clen + dlen])?,
        unbz(&bs[32 + clen + dlen..])?,
    ))
}

/// The diff stream's zero runs of `MIN_RUN` bytes or more as a run list, and the bytes between
/// them (what [`expand_diff`] puts back together).
#[cfg(feature = "write")]
fn split_runs(diff: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut runs, mut rest) = (Vec::new(), Vec::new());
    let (mut i, mut last) = (0, 0);
    while i < diff.len() {
        if diff[i] != 0 {
            i += 1;
            continue;
        }
        let j = diff[i..]
            .iter()
            .position(|&b| b != 0)
            .map_or(diff.len(), |p| i + p);
        if (j - i) as u64 >= MIN_RUN {
            rest.extend_from_slice(&diff[last..i]);
            put_leb(&mut runs, (i - last) as u64);
            put_leb(&mut runs, (j - i) as u64 - MIN_RUN);
            last = j;
        }
        i = j;
    }
    rest.extend_from_slice(&diff[last..]);
    (runs, rest)
}

#[cfg(feature = "write")]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[cfg(feature = "write")]
pub(crate) fn put_leb(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
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

    /// A layout-2 patch from the four given raw sections (the sizes declared as given, or their
    /// own), coded as `encode` codes them.
    fn patch_of(sections: [&[u8]; 4], declared: [Option<u64>; 4]) -> Vec<u8> {
        let sizes = std::array::from_fn(|i| declared[i].unwrap_or(sections[i].len() as u64));
        write_layout(sizes, &sections.map(|s| (s, 4096))).expect("xz")
    }

    fn cols(triples: &[(u64, u64, i64)]) -> Vec<u8> {
        let mut c = Vec::new();
        triples.iter().for_each(|t| put_leb(&mut c, t.0));
        triples.iter().for_each(|t| put_leb(&mut c, t.1));
        triples.iter().for_each(|t| put_leb(&mut c, zigzag(t.2)));
        c
    }

    /// A patch that declares a 1 TiB output (and a signed size to match) is refused before a
    /// byte is allocated for it, and a seek that overflows the old offset is refused too.
    #[test]
    fn refuses_huge_outputs_and_overflowing_seeks() {
        let tib = 1u64 << 40;
        let huge = patch_of([b"", b"", b"x", b""], [None, None, Some(tib), None]);
        assert!(huge.len() < 200, "{}", huge.len());
        let err = apply(b"old", &huge, tib, &mut Vec::new()).expect_err("1 TiB");
        assert_eq!(err.code, crate::error::ExitCode::Damaged);
        assert!(err.message.contains("more than"), "{}", err.message);
        let head = sizes(&huge, huge.len() as u64, tib);
        assert!(head.is_err(), "the header alone is refused");

        let seek = patch_of([&cols(&[(1, 0, i64::MAX)]), b"", &[0], b""], [None; 4]);
        let err = apply(&[5u8; 4], &seek, 1, &mut Vec::new()).expect_err("overflow");
        assert!(err.message.contains("out of range"), "{}", err.message);
    }

    /// A big file with a few edits: its diff stream's long zero runs go in the run list (the
    /// patch is a few hundred bytes where LZMA alone took kilobytes), and it rebuilds exactly.
    #[test]
    fn long_zero_runs_are_carried_as_lengths() {
        let old: Vec<u8> = (0..4_000_000u32).map(|i| (i % 97) as u8 + b' ').collect();
        let mut new = old.clone();
        for i in [10_000usize, 1_500_000, 3_999_000] {
            new[i] = b'!';
        }
        let patch = encode(&old, &new).expect("encode");
        assert!(patch.len() < 600, "{} bytes", patch.len());
        let mut out = Vec::new();
        apply(&old, &patch, new.len() as u64, &mut out).expect("apply");
        assert_eq!(out, new);
        let (runs, rest) = split_runs(&[1, 0, 0, 2]);
        assert!(runs.is_empty() && rest == [1, 0, 0, 2], "short runs stay");
        let z = vec![0u8; 300];
        let (runs, rest) = split_runs(&[&[7u8][..], &z, &[8]].concat());
        assert_eq!((runs, rest), (vec![1, 44], vec![7, 8]));
        // In place: the rest bytes at the buffer's tail, garbage before them.
        let mut diff = vec![0xEE; 302];
        diff[300..].copy_from_slice(&[7, 8]);
        expand_diff(&mut diff, 300, &[1, 44]).expect("fits");
        assert_eq!(diff, [&[7u8][..], &z, &[8]].concat());
    }

    /// Run lists that don't fit the diff stream they describe, and controls cut short.
    #[test]
    fn refuses_run_lists_and_controls_that_do_not_fit() {
        let ctrl = cols(&[(302, 0, 0)]);
        let old = vec![1u8; 302];
        for (runs, rest, why) in [
            (&[1u8, 45][..], &[7u8, 8][..], "run list"), // one zero too many
            (&[3, 44][..], &[7, 8][..], "run list"),     // more rest before the run than there is
            (&[1][..], &[7, 8][..], "run list"),         // a pair cut short
            (&[1, 43][..], &[7, 8][..], "run list"),     // a byte short
        ] {
            let p = patch_of([&ctrl, runs, rest, b""], [None; 4]);
            let err = apply(&old, &p, 302, &mut Vec::new()).expect_err(why);
            assert!(err.message.contains(why), "{}", err.message);
        }
        let mut short = ctrl.clone();
        short.pop();
        let p = patch_of([&short, &[1, 44], &[7, 8], b""], [None; 4]);
        let err = apply(&old, &p, 302, &mut Vec::new()).expect_err("cut");
        assert!(err.message.contains("cut short"), "{}", err.message);
        let good = patch_of([&ctrl, &[1, 44], &[7, 8], b""], [None; 4]);
        let mut out = Vec::new();
        apply(&old, &good, 302, &mut out).expect("the well-formed one applies");
        let mut longer = good.clone();
        longer.push(0);
        assert!(
            apply(&old, &longer, 302, &mut Vec::new()).is_err(),
            "trailing bytes"
        );
    }

    /// The client tool still reads layout 1 (packages built before layout 2).
    #[cfg(feature = "client")]
    #[test]
    fn layout_1_still_applies() {
        use liblzma::stream::{LzmaOptions, Stream};
        let lzma = |raw: &[u8]| {
            let opts = LzmaOptions::new_preset(1).expect("preset");
            let stream = Stream::new_lzma_encoder(&opts).expect("encoder");
            let mut enc = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
            enc.write_all(raw).expect("encode");
            enc.finish().expect("encode")
        };
        let old = b"hello old world";
        let new = b"hello new world!";
        // add 6 (diff zero), copy 3 ("new"), seek 3; add 6 (" world"), copy 1 ("!").
        let mut ctrl = Vec::new();
        for v in [6u64, 3, 3, 6, 1, 0] {
            ctrl.extend_from_slice(&v.to_le_bytes());
        }
        let (diff, extra) = ([0u8; 12], b"new!");
        let coded = [lzma(&ctrl), lzma(&diff), lzma(extra)];
        let mut p = MAGIC_V1.to_vec();
        for (raw, c) in [ctrl.len(), diff.len(), extra.len()].iter().zip(&coded) {
            p.extend_from_slice(&(*raw as u64).to_le_bytes());
            p.extend_from_slice(&(c.len() as u64).to_le_bytes());
        }
        coded.iter().for_each(|c| p.extend_from_slice(c));
        let mut out = Vec::new();
        apply(old, &p, new.len() as u64, &mut out).expect("layout 1");
        assert_eq!(out, new);
    }
}

#[cfg(all(test, feature = "write"))]
mod hostile_tests;
