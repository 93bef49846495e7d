//! Applies Zucchini patches (Chromium's executable-aware binary diff, patch format 2.x), in pure
//! Rust, for the `zucchini-xz` codec: the builder makes the patch with the reference library
//! (crate `zucchini`, write side only), the stub applies it here and must give the reference's
//! bytes exactly (the differential test in `tests/` checks every corpus pair and mutated patches).
//!
//! A patch is a header (sizes and CRC-32s of both files) and elements that tile the new file.
//! Each element pairs a region of the old file with one of the new, with an executable type:
//! `NoOp` (raw bytes), ELF x86-64 or PE x64. An element is rebuilt in three steps: copy the old
//! file's equivalent runs and the literal bytes between them, add the byte differences, then
//! rewrite every reference (relocation, absolute address, rel32 operand) found in the old element's copied
//! runs to the target its pool and the patch's corrections say. Finding those references is part
//! of the format: it follows Zucchini's readers exactly (`elf.rs`, `pe.rs`, `image.rs`).
//!
//! Never trusts the patch: every offset, length and key is checked before it is used, and a
//! patch whose output is not the size the caller signed is refused before memory is taken.

mod elf;
pub mod elfnorm;
mod image;
mod pe;
pub mod penorm;

use crate::error::{Error, Result};
use image::Ref;
use std::collections::BTreeMap;

const MAGIC: u32 = u32::from_le_bytes(*b"Zucc");
const MAJOR_VERSION: u16 = 2;
const HEADER: usize = 24;
const TYPE_NOOP: u32 = u32::from_le_bytes(*b"NoOp");
const TYPE_ELF_X64: u32 = u32::from_le_bytes(*b"Ex64");
const TYPE_PE_X64: u32 = u32::from_le_bytes(*b"Px64");
const NO_POOL: u8 = 0xFF;

fn bad(what: &str) -> Error {
    Error::damaged(format!("a zucchini patch is not valid: {what}"))
}

/// A cursor over patch bytes (Zucchini's `BufferSource`).
#[derive(Clone, Copy, Default)]
struct Src<'a>(&'a [u8]);

impl<'a> Src<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    /// A buffer: its u32 length, then its bytes.
    fn buffer(&mut self) -> Option<Src<'a>> {
        let n = self.u32()? as usize;
        Some(Src(self.take(n)?))
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
    /// An unsigned LEB128 of at most 32 bits; nothing is taken when it is malformed.
    fn var_u32(&mut self) -> Option<u32> {
        let mut v = 0u32;
        let mut shift = 0;
        for (i, &b) in self.0.iter().enumerate() {
            v |= u32::from(b & 0x7F).wrapping_shl(shift);
            if b < 0x80 {
                self.0 = &self.0[i + 1..];
                return Some(v);
            }
            shift += 7;
            if shift >= 32 {
                return None;
            }
        }
        None
    }
    fn var_i32(&mut self) -> Option<i32> {
        let u = self.var_u32()?;
        Some(if u & 1 != 0 {
            !((u >> 1) as i32)
        } else {
            (u >> 1) as i32
        })
    }
}

#[derive(Clone, Copy, Debug)]
struct Equivalence {
    src: u32,
    dst: u32,
    len: u32,
}

impl Equivalence {
    fn src_end(&self) -> u32 {
        self.src.wrapping_add(self.len)
    }
}

/// The equivalences of an element, read lazily as Zucchini does: reading stops (`None`) at the
/// first one that overflows, and [`Equivs::done`] says whether all bytes were used.
#[derive(Clone, Copy)]
struct Equivs<'a> {
    src_skip: Src<'a>,
    dst_skip: Src<'a>,
    count: Src<'a>,
    prev_src: u32,
    prev_dst: u32,
}

impl Iterator for Equivs<'_> {
    type Item = Equivalence;
    fn next(&mut self) -> Option<Equivalence> {
        if self.src_skip.done() || self.dst_skip.done() || self.count.done() {
            return None;
        }
        let len = self.count.var_u32()?;
        let d = self.src_skip.var_i32()?;
        let src = u32::try_from(i64::from(self.prev_src) + i64::from(d)).ok()?;
        self.prev_src = src.checked_add(len)?;
        let dst = self.prev_dst.checked_add(self.dst_skip.var_u32()?)?;
        self.prev_dst = dst.wrapping_add(len);
        Some(Equivalence { src, dst, len })
    }
}

impl Equivs<'_> {
    fn done(&self) -> bool {
        self.src_skip.done() && self.dst_skip.done() && self.count.done()
    }
}

/// A stream of offsets coded as gaps (raw-delta copy offsets and extra targets alike).
#[derive(Clone, Copy, Default)]
struct Gaps<'a> {
    src: Src<'a>,
    next: u32,
}

impl Iterator for Gaps<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.src.done() {
            return None;
        }
        let v = self.src.var_u32()?.checked_add(self.next)?;
        self.next = v.checked_add(1)?;
        Some(v)
    }
}

struct Element<'a> {
    exe_type: u32,
    old: (u32, u32),
    new: (u32, u32),
    equivs: Equivs<'a>,
    extra: Src<'a>,
    delta_skip: Src<'a>,
    delta_diff: Src<'a>,
    ref_delta: Src<'a>,
    targets: BTreeMap<u8, Src<'a>>,
}

fn read_element<'a>(s: &mut Src<'a>) -> Option<Element<'a>> {
    let (old_off, old_len, new_off, new_len) = (s.u32()?, s.u32()?, s.u32()?, s.u32()?);
    let exe_type = s.u32()?;
    let version = s.u16()?;
    if version != 1 || old_len == 0 || new_len == 0 {
        return None;
    }
    let equivs = Equivs {
        src_skip: s.buffer()?,
        dst_skip: s.buffer()?,
        count: s.buffer()?,
        prev_src: 0,
        prev_dst: 0,
    };
    let extra = s.buffer()?;
    // Every equivalence inside both regions, in order of destination, and literal bytes for
    // exactly the rest of the new region.
    let mut total = 0u32;
    let mut prev_end = 0u32;
    for e in equivs {
        if !image::bounded(e.src, e.len, old_len) || !image::bounded(e.dst, e.len, new_len) {
            return None;
        }
        if prev_end > e.dst + e.len {
            return None;
        }
        prev_end = e.dst + e.len;
        total = total.checked_add(e.len)?;
    }
    if new_len < total || extra.0.len() as u64 != u64::from(new_len - total) {
        return None;
    }
    let delta_skip = s.buffer()?;
    let delta_diff = s.buffer()?;
    let ref_delta = s.buffer()?;
    let mut targets = BTreeMap::new();
    for _ in 0..s.u32()? {
        let tag = s.u8()?;
        if tag == NO_POOL || targets.insert(tag, s.buffer()?).is_some() {
            return None;
        }
    }
    Some(Element {
        exe_type,
        old: (old_off, old_len),
        new: (new_off, new_len),
        equivs,
        extra,
        delta_skip,
        delta_diff,
        ref_delta,
        targets,
    })
}

/// What a patch says of its two files.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    pub old_size: u32,
    pub old_crc: u32,
    pub new_size: u32,
    pub new_crc: u32,
}

/// The header of `patch`, without reading the rest.
pub fn header(patch: &[u8]) -> Result<Header> {
    let mut s = Src(patch);
    let h = (|| {
        let magic = s.u32()?;
        let major = s.u16()?;
        let _minor = s.u16()?;
        (magic == MAGIC && major == MAJOR_VERSION).then_some(())?;
        Some(Header {
            old_size: s.u32()?,
            old_crc: s.u32()?,
            new_size: s.u32()?,
            new_crc: s.u32()?,
        })
    })();
    h.ok_or_else(|| bad("not a Zucchini 2.x patch"))
}

/// The executable types of `patch`'s elements, in order (for the builder, which uses only
/// patches this stub applies).
pub fn element_types(patch: &[u8]) -> Result<Vec<u32>> {
    Ok(parse(patch)?.1.iter().map(|e| e.exe_type).collect())
}

/// Whether the stub applies elements of `exe_type`.
pub fn is_supported_type(exe_type: u32) -> bool {
    matches!(exe_type, TYPE_NOOP | TYPE_ELF_X64 | TYPE_PE_X64)
}

fn parse(patch: &[u8]) -> Result<(Header, Vec<Element<'_>>)> {
    let h = header(patch)?;
    let mut s = Src(&patch[HEADER..]);
    let count = s.u32().ok_or_else(|| bad("truncated"))?;
    let mut elements = Vec::new();
    let mut dst = 0u32;
    for _ in 0..count {
        let e = read_element(&mut s).ok_or_else(|| bad("a malformed element"))?;
        let fits = |(off, len): (u32, u32), size: u32| off <= size && size - off >= len;
        if !fits(e.old, h.old_size) || !fits(e.new, h.new_size) || e.new.0 != dst {
            return Err(bad("an element outside its file"));
        }
        dst = e.new.0 + e.new.1;
        elements.push(e);
    }
    if dst != h.new_size || !s.done() {
        return Err(bad("elements that do not tile the new file"));
    }
    Ok((h, elements))
}

/// Rebuilds the new file from `old` and `patch`; `new_size` is the size the caller trusts (the
/// signed manifest's), checked before anything is allocated. The result's CRC-32 is checked as
/// the format says; the caller still checks its signed digest.
pub fn apply(old: &[u8], patch: &[u8], new_size: u64) -> Result<Vec<u8>> {
    if u64::from(header(patch)?.new_size) != new_size {
        return Err(bad("its output size is not the signed one"));
    }
    let (h, new) = rebuild(old, patch)?;
    if crate::format::zipread::crc32(&new) != h.new_crc {
        return Err(bad("the result's CRC-32 is not the patch's"));
    }
    Ok(new)
}

/// [`apply`] without the size and result checks: what the patch makes of `old` (the
/// differential test compares it with the reference's output, right or wrong).
pub fn rebuild(old: &[u8], patch: &[u8]) -> Result<(Header, Vec<u8>)> {
    let (h, elements) = parse(patch)?;
    if old.len() as u64 != u64::from(h.old_size) || crate::format::zipread::crc32(old) != h.old_crc
    {
        return Err(bad("made from another old file"));
    }
    let mut new = vec![0u8; h.new_size as usize];
    for e in &elements {
        let o = &old[e.old.0 as usize..(e.old.0 + e.old.1) as usize];
        let n = &mut new[e.new.0 as usize..(e.new.0 + e.new.1) as usize];
        apply_element(e, o, n)?;
    }
    Ok((h, new))
}

fn apply_element(e: &Element<'_>, old: &[u8], new: &mut [u8]) -> Result<()> {
    // 1. Equivalent runs of the old element, literal bytes between them.
    let mut extra = e.extra;
    let mut at = 0usize;
    let mut equivs = e.equivs;
    for q in equivs.by_ref() {
        let dst = q.dst as usize;
        let gap = dst
            .checked_sub(at)
            .ok_or_else(|| bad("equivalences out of order"))?;
        let lit = extra
            .take(gap)
            .ok_or_else(|| bad("too little extra data"))?;
        new[at..dst].copy_from_slice(lit);
        let len = q.len as usize;
        new[dst..dst + len].copy_from_slice(&old[q.src as usize..q.src as usize + len]);
        at = dst + len;
    }
    let lit = extra
        .take(new.len() - at)
        .ok_or_else(|| bad("too little extra data"))?;
    new[at..].copy_from_slice(lit);
    if !equivs.done() || !extra.done() {
        return Err(bad("trailing equivalences or extra data"));
    }
    // 2. Byte differences, at offsets counted over the copied runs.
    let mut equivs = e.equivs;
    let mut q = equivs.next();
    let mut base = 0u64;
    // Read exactly as Zucchini's `RawDeltaSource` does: a unit that overflows or has a zero
    // difference ends the stream, and what is left must then be nothing.
    let (mut skip, mut diffs) = (e.delta_skip, e.delta_diff);
    let mut next = 0u32;
    while !skip.done() && !diffs.done() {
        let Some(copy) = skip.var_u32().and_then(|d| d.checked_add(next)) else {
            break;
        };
        let Some(diff) = diffs.u8().filter(|&d| d != 0) else {
            break;
        };
        let Some(after) = copy.checked_add(1) else {
            break;
        };
        next = after;
        let copy = u64::from(copy);
        while let Some(eq) = q.filter(|eq| base + u64::from(eq.len) <= copy) {
            base += u64::from(eq.len);
            q = equivs.next();
        }
        let eq = q.ok_or_else(|| bad("a byte difference past the equivalences"))?;
        let i = (u64::from(eq.dst) - base + copy) as usize;
        new[i] = new[i].wrapping_add(diff);
    }
    if !(skip.done() && diffs.done()) {
        return Err(bad("trailing byte differences"));
    }
    // 3. References.
    correct_references(e, old, new)
}

/// An element's image as its executable type reads it.
enum Disasm<'a> {
    NoOp(usize),
    Elf(elf::Elf<'a>),
    Pe(pe::Pe<'a>),
}

impl<'a> Disasm<'a> {
    /// Reads `img` as `exe_type`; `scan` also finds its references (the old element's), else
    /// only what writing them needs (the new element's).
    fn make(exe_type: u32, img: &'a [u8], scan: bool) -> Option<Disasm<'a>> {
        match exe_type {
            TYPE_NOOP => Some(Disasm::NoOp(img.len())),
            TYPE_ELF_X64 => elf::Elf::parse(img, scan).map(Disasm::Elf),
            TYPE_PE_X64 => pe::Pe::parse(img, scan).map(Disasm::Pe),
            _ => None,
        }
    }
    fn len(&self) -> usize {
        match self {
            Disasm::NoOp(n) => *n,
            Disasm::Elf(e) => e.len(),
            Disasm::Pe(p) => p.len(),
        }
    }
    /// The (type, pool) of each reference kind, in type order.
    fn kinds(&self) -> &'static [u8] {
        match self {
            Disasm::NoOp(_) => &[],
            Disasm::Elf(_) => &elf::KINDS,
            Disasm::Pe(_) => &pe::KINDS,
        }
    }
    fn refs(&self, kind: u8, lo: u32, hi: u32) -> Result<Vec<Ref>> {
        let r = match self {
            Disasm::NoOp(_) => Some(Vec::new()),
            Disasm::Elf(e) => e.refs(kind, lo, hi),
            Disasm::Pe(p) => p.refs(kind, lo, hi),
        };
        r.ok_or_else(|| bad("a reference range that splits a reference"))
    }
    /// What writing references into this (new) image needs, free of its bytes.
    fn into_writer(self) -> Option<RefWriter> {
        match self {
            Disasm::NoOp(_) => None,
            Disasm::Elf(e) => Some(RefWriter::Elf(e.translator)),
            Disasm::Pe(p) => Some(RefWriter::Pe(p.into_writer())),
        }
    }
}

/// Writes corrected references into the new element, with its own addresses.
enum RefWriter {
    Elf(image::Translator),
    Pe(pe::Writer),
}

impl RefWriter {
    fn abs(&self) -> image::AbsWriter<'_> {
        match self {
            RefWriter::Elf(t) => image::AbsWriter::new(elf::ABS_KIND, t),
            RefWriter::Pe(w) => image::AbsWriter::new(w.abs, &w.translator),
        }
    }
    fn put(&self, kind: u8, abs: &mut image::AbsWriter<'_>, out: &mut [u8], r: Ref) -> Option<()> {
        match self {
            RefWriter::Elf(t) => elf::put(kind, t, abs, out, r),
            RefWriter::Pe(w) => w.put(kind, abs, out, r),
        }
    }
}

/// Zucchini's `OffsetMapper`: old offsets to new through the equivalences, pruned so that no two
/// overlap in the old file.
struct Mapper {
    eqs: Vec<Equivalence>,
    old_size: u32,
    new_size: u32,
}

impl Mapper {
    fn new(equivs: Equivs<'_>, old_size: u32, new_size: u32) -> Mapper {
        let mut eqs: Vec<Equivalence> = equivs.collect();
        eqs.sort_by_key(|e| (e.src, e.len.wrapping_neg(), e.dst));
        let n = eqs.len();
        let mut cur = 0;
        while cur < n {
            if eqs[cur].len == 0 {
                cur += 1;
                continue;
            }
            let end = eqs[cur].src_end();
            let mut next = cur + 1;
            let mut reaper = false;
            while next < n && eqs[next].src < end {
                if eqs[cur].len < eqs[next].len {
                    eqs[cur].len -= end - eqs[next].src;
                    reaper = true;
                    break;
                }
                next += 1;
            }
            if reaper {
                for r in &mut eqs[cur + 1..next] {
                    r.len = 0;
                }
                cur = next;
            } else {
                for r in &mut eqs[cur + 1..next] {
                    let cut = r.len.min(end - r.src);
                    r.len -= cut;
                    r.src = end;
                    r.dst = r.dst.wrapping_add(cut);
                }
                cur += 1;
            }
        }
        eqs.retain(|e| e.len != 0);
        Mapper {
            eqs,
            old_size,
            new_size,
        }
    }

    fn extended_forward(&self, off: u32) -> Option<u32> {
        if off < self.old_size {
            let mut i = self.eqs.partition_point(|e| e.src <= off);
            if i > 0
                && (i == self.eqs.len()
                    || off < self.eqs[i - 1].src_end()
                    || off - self.eqs[i - 1].src_end() < self.eqs[i].src - off)
            {
                i -= 1;
            }
            let e = self.eqs.get(i)?;
            let v = (i64::from(off) - i64::from(e.src) + i64::from(e.dst)).max(0);
            return Some(v.min(i64::from(self.new_size) - 1) as u32);
        }
        let delta = off - self.old_size;
        Some(if delta < image::OFFSET_BOUND.wrapping_sub(self.new_size) {
            self.new_size.wrapping_add(delta)
        } else {
            image::OFFSET_BOUND - 1
        })
    }

    /// Maps sorted old offsets that lie in an equivalence; drops the others.
    fn forward_all(&self, offsets: &[u32]) -> Vec<u32> {
        let mut out = Vec::with_capacity(offsets.len());
        let mut i = 0;
        for &o in offsets {
            while i < self.eqs.len() && self.eqs[i].src_end() <= o {
                i += 1;
            }
            if let Some(e) = self.eqs.get(i).filter(|e| e.src <= o) {
                let v = o - e.src + e.dst;
                if v != image::INVALID_OFFSET {
                    out.push(v);
                }
            }
        }
        out
    }
}

fn correct_references(e: &Element<'_>, old: &[u8], new: &mut [u8]) -> Result<()> {
    let old_d =
        Disasm::make(e.exe_type, old, true).ok_or_else(|| bad("an old element it cannot read"))?;
    // The new element's headers as steps 1-2 rebuilt them give the addresses references are
    // written with; its own references are not needed.
    let new_d =
        Disasm::make(e.exe_type, new, false).ok_or_else(|| bad("a new element it cannot read"))?;
    let new_len = new_d.len();
    let writer = new_d.into_writer();
    if old_d.len() != old.len() || new_len != new.len() {
        return Err(bad("an element whose size is not its image's"));
    }
    let mapper = Mapper::new(e.equivs, old.len() as u32, new.len() as u32);
    let mut ref_delta = e.ref_delta;
    // Kinds grouped by pool, pools in order (each kind here has a pool of its own number).
    for &kind in old_d.kinds() {
        let mut targets: Vec<u32> = old_d
            .refs(kind, 0, old.len() as u32)?
            .iter()
            .map(|r| r.target)
            .collect();
        targets.sort_unstable();
        targets.dedup();
        let mut targets = mapper.forward_all(&targets);
        let mut extra = Gaps {
            src: e.targets.get(&kind).copied().unwrap_or_default(),
            next: 0,
        };
        targets.extend(extra.by_ref());
        if !extra.src.done() {
            return Err(bad("trailing extra targets"));
        }
        targets.sort_unstable();
        targets.dedup();
        let Some(writer) = &writer else {
            continue;
        };
        let mut abs = writer.abs();
        for q in e.equivs {
            for r in old_d.refs(kind, q.src, q.src_end())? {
                let projected = mapper
                    .extended_forward(r.target)
                    .ok_or_else(|| bad("references without equivalences"))?;
                let expected = nearest_key(&targets, projected);
                let d = ref_delta
                    .var_i32()
                    .ok_or_else(|| bad("too few reference deltas"))?;
                let key = expected.wrapping_add(d as u32) as usize;
                let target = *targets
                    .get(key)
                    .ok_or_else(|| bad("a reference delta out of range"))?;
                let location = r.location - q.src + q.dst;
                writer
                    .put(kind, &mut abs, new, Ref { location, target })
                    .ok_or_else(|| bad("a reference outside its element"))?;
            }
        }
    }
    if !ref_delta.done() {
        return Err(bad("trailing reference deltas"));
    }
    Ok(())
}

/// The index of the target nearest `off` (the lower on a tie), 0 for no targets.
fn nearest_key(targets: &[u32], off: u32) -> u32 {
    let mut i = targets.partition_point(|&t| t < off);
    if i > 0 && (i == targets.len() || targets[i] - off >= off - targets[i - 1]) {
        i -= 1;
    }
    i as u32
}

#[cfg(test)]
mod tests;

/// The `zucchini-xz` payload: this magic, the Zucchini patch's size (LEB128), then the patch as
/// one `.xz` stream (no check: the payload is signed).
pub const PAYLOAD_MAGIC: &[u8; 8] = b"IUZUCX1\n";

/// The largest Zucchini patch a payload may decode to for an output of `new_size` bytes: what
/// the builder writes is far smaller (literal bytes are at most the output), and this keeps the
/// apply within the old file, the output and twice the output in memory.
fn max_patch(new_size: u64) -> u64 {
    2 * new_size + (64 << 10)
}

/// The `zucchini-norm-xz` payload: this magic, the set of normalisations (LEB128, bits of
/// [`NORM_ALL`]), then the Zucchini patch between the normalised files as in `zucchini-xz`
/// (its size, then one `.xz` stream).
pub const NORM_MAGIC: &[u8; 8] = b"IUZUCN1\n";

/// Every normalisation this stub knows: ELF ones (`elfnorm`) and PE ones (`penorm`); each
/// module rewrites only its own kind of file.
pub const NORM_ALL: u64 = elfnorm::ALL | penorm::ALL;

/// Rewrites `img` with the normalisations in `set` (see [`NORM_ALL`]).
pub fn normalise(img: &mut [u8], set: u64) {
    elfnorm::forward(img, set);
    penorm::forward(img, set);
}

/// Undoes [`normalise`] with the same `set`.
pub fn denormalise(img: &mut [u8], set: u64) {
    penorm::inverse(img, set);
    elfnorm::inverse(img, set);
}

/// Rebuilds the new file from `old` and a `zucchini-xz` payload, for an output of the signed
/// `new_size`.
pub fn apply_payload(old: &[u8], payload: &[u8], new_size: u64) -> Result<Vec<u8>> {
    let rest = payload
        .strip_prefix(PAYLOAD_MAGIC)
        .ok_or_else(|| bad("not a zucchini-xz payload"))?;
    apply_coded(old, rest, new_size)
}

/// Rebuilds the new file from `old` and a `zucchini-norm-xz` payload, for an output of the
/// signed `new_size`. `old` is normalised in place (the caller's copy is used up).
pub fn apply_norm_payload(old: &mut [u8], payload: &[u8], new_size: u64) -> Result<Vec<u8>> {
    let rest = payload
        .strip_prefix(NORM_MAGIC)
        .ok_or_else(|| bad("not a zucchini-norm-xz payload"))?;
    let mut at = 0;
    let set = super::bsdx::leb(rest, &mut at).ok_or_else(|| bad("a damaged normalisation set"))?;
    if set == 0 || set & !NORM_ALL != 0 {
        return Err(bad("normalisations this stub does not know"));
    }
    normalise(old, set);
    let mut new = apply_coded(old, &rest[at..], new_size)?;
    denormalise(&mut new, set);
    Ok(new)
}

/// Decodes a coded patch (its size, LEB128, then one `.xz` stream) and applies it to `old`.
fn apply_coded(old: &[u8], rest: &[u8], new_size: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut at = 0;
    let raw = super::bsdx::leb(rest, &mut at).ok_or_else(|| bad("a damaged size"))?;
    if raw > max_patch(new_size) || raw < HEADER as u64 {
        return Err(bad("a patch size out of bounds"));
    }
    let body = &rest[at..];
    let mut xz = lzma_rust2::XzReader::new_mem_limit(body, false, super::bsdx::DECODER_MEM_KIB);
    let mut patch = vec![0u8; raw as usize];
    xz.read_exact(&mut patch)
        .map_err(|e| bad(&format!("its .xz stream: {e}")))?;
    let more = xz
        .read(&mut [0u8])
        .map_err(|e| bad(&format!("its .xz stream: {e}")))?;
    if more != 0 || !xz.into_inner().is_empty() {
        return Err(bad("bytes after the patch"));
    }
    apply(old, &patch, new_size)
}

/// The `zucchini-xz` payload from `old` to `new` (builder only), or `None` where Zucchini makes
/// no patch the stub applies. Executables it reads (ELF x86-64, PE x64) are diffed as code;
/// anything else through the same matcher as raw bytes. Each patch is applied
/// here with the stub's own code before it is used.
#[cfg(feature = "write")]
pub fn encode(old: &[u8], new: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let Some(patch) = generate(old, new) else {
        return Ok(None);
    };
    match apply(old, &patch, new.len() as u64) {
        Ok(back) if back == new => {}
        _ => return Ok(None),
    }
    let mut out = PAYLOAD_MAGIC.to_vec();
    code(&mut out, &patch)?;
    Ok(Some(out))
}

/// The `zucchini-norm-xz` payload from `old` to `new` (builder only): the Zucchini patch between
/// the files with every normalisation ([`NORM_ALL`]), or `None` where they change neither file
/// (not an ELF or PE x86-64 program) or Zucchini makes no patch. Applied here with the stub's
/// own code before it is used.
#[cfg(feature = "write")]
pub fn encode_norm(old: &[u8], new: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let set = NORM_ALL;
    let (mut o, mut n) = (old.to_vec(), new.to_vec());
    normalise(&mut o, set);
    normalise(&mut n, set);
    if o == old && n == new {
        return Ok(None);
    }
    let patch = generate(&o, &n);
    drop(n);
    let Some(patch) = patch else {
        return Ok(None);
    };
    let mut out = NORM_MAGIC.to_vec();
    super::bsdx::put_leb(&mut out, set);
    code(&mut out, &patch)?;
    drop(patch);
    o.copy_from_slice(old);
    match apply_norm_payload(&mut o, &out, new.len() as u64) {
        Ok(back) if back == new => Ok(Some(out)),
        _ => Ok(None),
    }
}

/// The reference library's patch from `old` to `new` that the stub reads (as code where every
/// element's type is one it knows, else as raw bytes), within the bound the stub applies.
#[cfg(feature = "write")]
fn generate(old: &[u8], new: &[u8]) -> Option<Vec<u8>> {
    if old.is_empty()
        || new.is_empty()
        || old.len() > u32::MAX as usize
        || new.len() > u32::MAX as usize
    {
        return None;
    }
    let mut patch = zucchini::generate(old, new).ok()?;
    let readable = element_types(&patch).is_ok_and(|t| t.iter().all(|&t| is_supported_type(t)));
    if !readable {
        patch = zucchini::generate_raw(old, new).ok()?;
    }
    (patch.len() as u64 <= max_patch(new.len() as u64)).then_some(patch)
}

/// Appends `patch`'s size (LEB128) and the patch as one `.xz` stream.
#[cfg(feature = "write")]
fn code(out: &mut Vec<u8>, patch: &[u8]) -> std::io::Result<()> {
    let dict = u32::try_from(patch.len())
        .unwrap_or(u32::MAX)
        .clamp(4096, 8 << 20);
    super::bsdx::put_leb(out, patch.len() as u64);
    out.extend_from_slice(&super::xzblocks::write(&[(patch, dict)])?);
    Ok(())
}
