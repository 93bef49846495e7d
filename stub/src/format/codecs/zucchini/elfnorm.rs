//! The ELF normalisations of the `zucchini-norm-xz` codec (issue 22, step 4): rewrites of the
//! tables of an ELF x86-64 program that Zucchini leaves as raw bytes, so that code moving
//! between releases no longer changes them. The builder diffs the normalised old and new files;
//! the stub normalises the old file (`forward`), applies the Zucchini patch, and turns the
//! result back (`inverse`). Each one is a bijection given the parts of the file it leaves alone:
//!
//! - [`HDR`]: the `.eh_frame_hdr` search table, each (initial location, FDE) pair as the
//!   difference to the previous pair;
//! - [`EH`]: each `.eh_frame` FDE's pc-relative `pc_begin` as its absolute address minus the
//!   previous FDE's end (its `pc_begin` plus `pc_range`), its pc-relative LSDA pointer as the
//!   difference to the previous one's absolute address;
//! - [`CID`]: each FDE's CIE pointer (the distance back to its CIE, which grows with every FDE
//!   before it) as the CIE's offset in the section plus one;
//! - [`SYM`]: each `.symtab` value as the difference to the previous value in the same section;
//! - [`ADD`]: the addend of each `R_X86_64_RELATIVE` relocation minus the 8 bytes at the place
//!   it relocates (where the linker writes the addend too).
//!
//! Best effort and bounded: a file whose headers are not plain ELF64 x86-64, whose tables overlap
//! each other or the headers, or whose `.eh_frame` does not parse, is left as it is (in that
//! part or whole). Only the headers, the section header table and the section names decide what
//! is rewritten, and none of them is, so `inverse` finds the same tables; whether a file comes
//! back exactly is proven by the builder, which applies every patch before it uses it.

/// The `.eh_frame_hdr` search table as differences.
pub const HDR: u64 = 1;
/// FDE `pc_begin` and LSDA pointers as differences to the previous FDE's.
pub const EH: u64 = 2;
/// FDE CIE pointers as CIE offsets.
pub const CID: u64 = 4;
/// `.symtab` values as differences within their section.
pub const SYM: u64 = 8;
/// `R_X86_64_RELATIVE` addends less the bytes they relocate.
pub const ADD: u64 = 16;
/// Every normalisation this stub knows.
pub const ALL: u64 = HDR | EH | CID | SYM | ADD;

const SHT_SYMTAB: u32 = 2;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHF_ALLOC: u64 = 2;
const R_X86_64_RELATIVE: u64 = 8;
const STT_FILE: u8 = 4;
const SHN_LORESERVE: u16 = 0xFF00;
/// `DW_EH_PE_pcrel | DW_EH_PE_sdata4`, the pointer encoding the EH rewrites read.
const PCREL_SDATA4: u8 = 0x1B;
const ENTRY: usize = 24;

/// `n` bytes at `at`, little-endian, when they are in `b`.
fn le(b: &[u8], at: usize, n: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(n)?)?;
    Some(s.iter().rev().fold(0, |v, &x| v << 8 | u64::from(x)))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    le(b, at, 4).map(|v| v as u32)
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// A byte range of the file: `[off, off + len)`.
#[derive(Clone, Copy, Debug)]
struct Span {
    off: usize,
    len: usize,
}

impl Span {
    fn end(self) -> usize {
        self.off + self.len
    }
    fn meets(self, o: Span) -> bool {
        self.off < o.end() && o.off < self.end()
    }
}

/// A section that is both in the file and in memory, where relocated places are looked up.
#[derive(Clone, Copy)]
struct Mapped {
    addr: u64,
    size: u64,
    off: usize,
}

/// The tables the normalisations rewrite, found from the headers alone.
#[derive(Default)]
struct Layout {
    /// `.eh_frame_hdr` (the whole section; its table starts 12 bytes in).
    hdr: Option<Span>,
    /// `.eh_frame` and its address.
    eh: Option<(Span, u64)>,
    symtabs: Vec<Span>,
    relas: Vec<Span>,
    /// Allocated sections with file bytes, sorted by address.
    mapped: Vec<Mapped>,
}

/// The layout of an ELF64 little-endian x86-64 image, or `None` where it is not one or its
/// tables overlap each other or the headers (then nothing is rewritten).
fn layout(img: &[u8]) -> Option<Layout> {
    if img.get(..6)? != b"\x7fELF\x02\x01" || le(img, 0x12, 2)? != 62 {
        return None;
    }
    let shoff = usize::try_from(le(img, 0x28, 8)?).ok()?;
    let (entsize, shnum) = (le(img, 0x3A, 2)? as usize, le(img, 0x3C, 2)? as usize);
    let shstrndx = le(img, 0x3E, 2)? as usize;
    if entsize != 64 || shnum == 0 || shstrndx >= shnum {
        return None;
    }
    let table = Span {
        off: shoff,
        len: shnum * 64,
    };
    img.get(table.off..table.off.checked_add(table.len)?)?;
    let header = |i: usize| {
        let h = shoff + i * 64;
        let (name, typ) = (le(img, h, 4)?, le(img, h + 4, 4)? as u32);
        let (flags, addr) = (le(img, h + 8, 8)?, le(img, h + 16, 8)?);
        let (off, size) = (le(img, h + 24, 8)?, le(img, h + 32, 8)?);
        Some((
            name as usize,
            typ,
            flags,
            addr,
            off,
            size,
            le(img, h + 56, 8)?,
        ))
    };
    let in_file = |off: u64, size: u64| -> Option<Span> {
        let (off, len) = (usize::try_from(off).ok()?, usize::try_from(size).ok()?);
        img.get(off..off.checked_add(len)?)?;
        Some(Span { off, len })
    };
    let (_, _, _, _, stroff, strsize, _) = header(shstrndx)?;
    let names = in_file(stroff, strsize)?;
    let name_of = |n: usize| -> Option<&[u8]> {
        let s = img.get(names.off + n.min(names.len)..names.end())?;
        s.iter().position(|&c| c == 0).map(|e| &s[..e])
    };
    let mut l = Layout::default();
    for i in 0..shnum {
        let (name, typ, flags, addr, off, size, ent) = header(i)?;
        if typ == SHT_NOBITS || size == 0 {
            continue;
        }
        let Some(span) = in_file(off, size) else {
            continue;
        };
        if flags & SHF_ALLOC != 0 && addr != 0 {
            l.mapped.push(Mapped {
                addr,
                size,
                off: span.off,
            });
        }
        let whole = |s: Span| Span {
            len: s.len - s.len % ENTRY,
            ..s
        };
        match (typ, name_of(name)) {
            (SHT_SYMTAB, _) if ent == ENTRY as u64 => l.symtabs.push(whole(span)),
            (SHT_RELA, _) if ent == ENTRY as u64 => l.relas.push(whole(span)),
            (_, Some(b".eh_frame_hdr")) if l.hdr.is_none() => l.hdr = Some(span),
            (_, Some(b".eh_frame")) if l.eh.is_none() => l.eh = Some((span, addr)),
            _ => {}
        }
    }
    let mut spans: Vec<Span> = l.symtabs.iter().chain(&l.relas).copied().collect();
    spans.extend(l.hdr);
    spans.extend(l.eh.map(|e| e.0));
    let fixed = [Span { off: 0, len: 64 }, table, names];
    for (i, a) in spans.iter().enumerate() {
        if fixed.iter().chain(&spans[i + 1..]).any(|b| a.meets(*b)) {
            return None;
        }
    }
    l.mapped.sort_by_key(|m| m.addr);
    Some(l)
}

/// Rewrites `img` with the normalisations in `set` (bits of [`ALL`]; others are ignored).
pub fn forward(img: &mut [u8], set: u64) {
    let Some(l) = layout(img) else { return };
    // First, while every place a relocation points at still holds its own bytes.
    if set & ADD != 0 {
        addends(img, &l, true);
    }
    if set & HDR != 0 {
        hdr_table(img, l.hdr, true);
    }
    if set & (EH | CID) != 0 {
        eh_frame(img, l.eh, set, true);
    }
    if set & SYM != 0 {
        symbols(img, &l.symtabs, true);
    }
}

/// Undoes [`forward`] with the same `set`: `inverse(forward(x)) == x` for the files the builder
/// checked (any other input gives some bytes of the same size, never a panic).
pub fn inverse(img: &mut [u8], set: u64) {
    let Some(l) = layout(img) else { return };
    if set & SYM != 0 {
        symbols(img, &l.symtabs, false);
    }
    if set & (EH | CID) != 0 {
        eh_frame(img, l.eh, set, false);
    }
    if set & HDR != 0 {
        hdr_table(img, l.hdr, false);
    }
    // Last, once every place a relocation points at holds its own bytes again.
    if set & ADD != 0 {
        addends(img, &l, false);
    }
}

/// `.eh_frame_hdr` version 1 with a pc-relative frame pointer, a 4-byte count and a table of
/// data-relative sdata4 pairs: each pair as the difference to the previous one (or back).
fn hdr_table(img: &mut [u8], hdr: Option<Span>, fwd: bool) {
    let Some(h) = hdr else { return };
    if h.len < 12 || img[h.off..h.off + 4] != [1, PCREL_SDATA4, 0x03, 0x3B] {
        return;
    }
    let count = u32_at(img, h.off + 8).unwrap_or(0) as usize;
    if count > (h.len - 12) / 8 {
        return;
    }
    let mut prev = [0u32; 2];
    for i in 0..count * 2 {
        let (at, k) = (h.off + 12 + 4 * i, i % 2);
        let v = u32_at(img, at).unwrap_or(0);
        if fwd {
            put32(img, at, v.wrapping_sub(prev[k]));
            prev[k] = v;
        } else {
            prev[k] = v.wrapping_add(prev[k]);
            put32(img, at, prev[k]);
        }
    }
}

/// `.symtab` values: each as the difference to the previous one in the same section (symbols
/// of no section, absolute or common ones, and file symbols are left alone).
fn symbols(img: &mut [u8], symtabs: &[Span], fwd: bool) {
    for t in symtabs {
        let mut last = vec![0u64; usize::from(SHN_LORESERVE)];
        for at in (t.off..t.end()).step_by(ENTRY) {
            let info = img[at + 4];
            let shndx = le(img, at + 6, 2).unwrap_or(0) as u16;
            if shndx == 0 || shndx >= SHN_LORESERVE || info & 0xF == STT_FILE {
                continue;
            }
            let v = le(img, at + 8, 8).unwrap_or(0);
            let prev = &mut last[usize::from(shndx)];
            if fwd {
                put64(img, at + 8, v.wrapping_sub(*prev));
                *prev = v;
            } else {
                *prev = v.wrapping_add(*prev);
                put64(img, at + 8, *prev);
            }
        }
    }
}

/// The file offset of the 8 bytes at address `addr`, when one mapped section holds them and no
/// relocation table does (those are what the rewrite changes).
fn place(l: &Layout, addr: u64) -> Option<usize> {
    let i = l
        .mapped
        .partition_point(|m| m.addr <= addr)
        .checked_sub(1)?;
    let m = l.mapped[i];
    let rel = addr - m.addr;
    if rel.checked_add(8)? > m.size {
        return None;
    }
    let at = Span {
        off: m.off + rel as usize,
        len: 8,
    };
    (!l.relas.iter().any(|r| r.meets(at))).then_some(at.off)
}

/// `R_X86_64_RELATIVE` addends less (or plus) the 8 bytes at the place they relocate.
fn addends(img: &mut [u8], l: &Layout, fwd: bool) {
    for r in &l.relas {
        for at in (r.off..r.end()).step_by(ENTRY) {
            let (offset, info) = (le(img, at, 8).unwrap_or(0), le(img, at + 8, 8).unwrap_or(0));
            if info & 0xFFFF_FFFF != R_X86_64_RELATIVE {
                continue;
            }
            let Some(p) = place(l, offset) else { continue };
            let slot = le(img, p, 8).unwrap_or(0);
            let addend = le(img, at + 16, 8).unwrap_or(0);
            let v = if fwd {
                addend.wrapping_sub(slot)
            } else {
                addend.wrapping_add(slot)
            };
            put64(img, at + 16, v);
        }
    }
}

/// What an FDE's CIE says about its pointers.
#[derive(Clone, Copy)]
struct Cie {
    /// Offset of the CIE in `.eh_frame`.
    at: u32,
    /// The `z` augmentation: FDEs carry an augmentation length.
    z: bool,
    /// The FDE `pc_begin` encoding and the LSDA encoding.
    fde: u8,
    lsda: Option<u8>,
}

/// One FDE of `.eh_frame`: file offsets of its CIE pointer, its `pc_begin` (when pc-relative
/// sdata4) and its LSDA pointer (when there is one, pc-relative sdata4), and its CIE's offset.
struct Fde {
    cid: usize,
    cie: u32,
    pc: Option<usize>,
    lsda: Option<usize>,
}

/// An unsigned LEB128 at `*at` inside `end`.
fn uleb(b: &[u8], at: &mut usize, end: usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        if *at >= end {
            return None;
        }
        let c = b[*at];
        *at += 1;
        v |= u64::from(c & 0x7F) << shift;
        if c < 0x80 {
            return Some(v);
        }
    }
    None
}

/// The size of a pointer in DWARF EH encoding `enc`, for the fixed-size encodings.
fn pointer_size(enc: u8) -> Option<usize> {
    match enc & 0x0F {
        0x00 | 0x04 | 0x0C => Some(8),
        0x02 | 0x0A => Some(2),
        0x03 | 0x0B => Some(4),
        _ => None,
    }
}

/// A CIE whose record body is `b[start..end]` (`start` just past its zero CIE id), or `None`
/// where its augmentation is one this reader does not know.
fn read_cie(b: &[u8], start: usize, end: usize, at: u32) -> Option<Cie> {
    let version = *b.get(start).filter(|_| start < end)?;
    let mut p = start + 1;
    let aug_end = p + b.get(p..end)?.iter().position(|&c| c == 0)?;
    let aug = &b[p..aug_end];
    p = aug_end + 1;
    uleb(b, &mut p, end)?; // code alignment
    uleb(b, &mut p, end)?; // data alignment (signed: only skipped)
    match version {
        1 => p += 1,
        3 => drop(uleb(b, &mut p, end)?),
        _ => return None,
    }
    let mut cie = Cie {
        at,
        z: aug.first() == Some(&b'z'),
        fde: 0,
        lsda: None,
    };
    if !cie.z {
        return aug.is_empty().then_some(cie);
    }
    uleb(b, &mut p, end)?;
    for &c in &aug[1..] {
        let enc = *b.get(p).filter(|_| p < end)?;
        match c {
            b'R' => (cie.fde, p) = (enc, p + 1),
            b'L' => (cie.lsda, p) = (Some(enc), p + 1),
            b'P' => p += 1 + pointer_size(enc)?,
            b'S' | b'B' => {}
            _ => return None,
        }
    }
    Some(cie)
}

/// Every FDE of `.eh_frame` (`eh` with its address), its CIE pointers read as `forward` left
/// them when `cid_as_offset`; `None` when a record does not parse (then none is rewritten).
fn fdes(b: &[u8], eh: Span, cid_as_offset: bool) -> Option<Vec<Fde>> {
    let (mut off, end) = (eh.off, eh.end());
    let (mut cies, mut out) = (Vec::<Cie>::new(), Vec::new());
    while end - off >= 4 {
        let len = u32_at(b, off)? as usize;
        if len == 0 {
            break;
        }
        let start = off + 4;
        if len == 0xFFFF_FFFF || len < 4 || len > end - start {
            return None;
        }
        let rec_end = start + len;
        let rel = u32::try_from(off - eh.off).ok()?;
        match u32_at(b, start)? {
            // A CIE this reader does not know stays: its FDEs are kept as they are.
            0 => cies.push(read_cie(b, start + 4, rec_end, rel).unwrap_or(Cie {
                at: rel,
                z: false,
                fde: 0,
                lsda: None,
            })),
            id => {
                let cie_at = if cid_as_offset {
                    id - 1
                } else {
                    u32::try_from(start - eh.off).ok()?.checked_sub(id)?
                };
                let cie = *cies
                    .get(cies.partition_point(|c| c.at < cie_at))
                    .filter(|c| c.at == cie_at)?;
                let mut fde = Fde {
                    cid: start,
                    cie: cie_at,
                    pc: None,
                    lsda: None,
                };
                if cie.fde == PCREL_SDATA4 && len >= 12 {
                    fde.pc = Some(start + 4);
                    let mut p = start + 12;
                    if cie.z && cie.lsda == Some(PCREL_SDATA4) {
                        let n = uleb(b, &mut p, rec_end)?;
                        fde.lsda = (n >= 4 && rec_end - p >= 4).then_some(p);
                    }
                }
                out.push(fde);
            }
        }
        off = rec_end;
    }
    Some(out)
}

/// The [`EH`] and [`CID`] rewrites of `.eh_frame` (those of them in `set`), or back.
fn eh_frame(img: &mut [u8], eh: Option<(Span, u64)>, set: u64, fwd: bool) {
    let Some((span, addr)) = eh else { return };
    let Some(list) = fdes(img, span, !fwd && set & CID != 0) else {
        return;
    };
    // The address of a field (32-bit arithmetic, as the pc-relative pointers wrap).
    let va = |at: usize| (addr as u32).wrapping_add((at - span.off) as u32);
    let (mut end, mut lsda) = (0u32, 0u32);
    for f in &list {
        if set & CID != 0 {
            let offset_form = f.cie.wrapping_add(1);
            let distance = ((f.cid - span.off) as u32).wrapping_sub(f.cie);
            put32(img, f.cid, if fwd { offset_form } else { distance });
        }
        if set & EH == 0 {
            continue;
        }
        if let Some(pc) = f.pc {
            let (v, range) = (
                u32_at(img, pc).unwrap_or(0),
                u32_at(img, pc + 4).unwrap_or(0),
            );
            let abs = if fwd {
                let abs = va(pc).wrapping_add(v);
                put32(img, pc, abs.wrapping_sub(end));
                abs
            } else {
                let abs = v.wrapping_add(end);
                put32(img, pc, abs.wrapping_sub(va(pc)));
                abs
            };
            end = abs.wrapping_add(range);
        }
        if let Some(at) = f.lsda {
            let v = u32_at(img, at).unwrap_or(0);
            let abs = if fwd {
                va(at).wrapping_add(v)
            } else {
                v.wrapping_add(lsda)
            };
            put32(
                img,
                at,
                if fwd {
                    abs.wrapping_sub(lsda)
                } else {
                    abs.wrapping_sub(va(at))
                },
            );
            lsda = abs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small ELF64 x86-64 image with every table the normalisations rewrite: section 1
    /// `.text` (mapped at 0x1000), 2 `.data` (0x3000, holding relocated 8-byte places),
    /// 3 `.eh_frame_hdr`, 4 `.eh_frame` (a `zPLR` CIE and three FDEs, one with an LSDA),
    /// 5 `.rela.dyn`, 6 `.symtab`, 7 `.shstrtab`.
    pub(crate) fn sample() -> Vec<u8> {
        let mut b = vec![0u8; 0x800];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x12] = 62;
        let names = b"\0.text\0.data\0.eh_frame_hdr\0.eh_frame\0.rela.dyn\0.symtab\0.shstrtab\0";
        let name = |n: &str| {
            let needle = format!("\0{n}\0");
            names
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .expect("a name of the sample") as u64
                + 1
        };
        // .text
        b[0x100..0x140].fill(0x90);
        // .data: three 8-byte places holding their addends
        for (i, v) in [0x1010u64, 0x1020, 0x1030].iter().enumerate() {
            put64(&mut b, 0x140 + 8 * i, *v);
        }
        // .eh_frame at file 0x200, address 0x2200
        let eh = 0x200;
        let mut e = Vec::new();
        let cie: &[u8] = &[
            0,
            0,
            0,
            0,
            1,
            b'z',
            b'P',
            b'L',
            b'R',
            0,
            1,
            0x78,
            0x10,
            7,
            0x9B,
            1,
            2,
            3,
            4,
            PCREL_SDATA4,
            PCREL_SDATA4,
            0,
        ];
        e.extend((cie.len() as u32).to_le_bytes());
        e.extend(cie);
        for (i, (pc, range, lsda)) in [
            (0x1000u32, 0x10u32, None),
            (0x1010, 0x20, Some(0x2700u32)),
            (0x1030, 8, None),
        ]
        .into_iter()
        .enumerate()
        {
            let rec = e.len();
            let mut f = Vec::new();
            f.extend(((rec + 4) as u32).to_le_bytes());
            let here = 0x2200 + rec as u32 + 8;
            f.extend(pc.wrapping_sub(here).to_le_bytes());
            f.extend(range.to_le_bytes());
            f.push(4);
            let lsda_at = 0x2200 + rec as u32 + 4 + f.len() as u32;
            f.extend(lsda.map_or(0, |l| l.wrapping_sub(lsda_at)).to_le_bytes());
            f.extend([0u8; 3].iter().take(i));
            e.extend((f.len() as u32).to_le_bytes());
            e.extend(f);
        }
        e.extend(0u32.to_le_bytes());
        b[eh..eh + e.len()].copy_from_slice(&e);
        // .eh_frame_hdr at file 0x180: three pairs
        b[0x180..0x184].copy_from_slice(&[1, PCREL_SDATA4, 3, 0x3B]);
        put32(&mut b, 0x188, 3);
        for (i, v) in [0xF00u32, 0x1100, 0xF10, 0x1120, 0xF30, 0x1140]
            .iter()
            .enumerate()
        {
            put32(&mut b, 0x18C + 4 * i, *v);
        }
        // .rela.dyn at file 0x300: three RELATIVE relocations of .data's places, one other
        for (i, (off, info, add)) in [
            (0x3000u64, 8u64, 0x1010u64),
            (0x3008, 8, 0x1020),
            (0x3010, 8, 0x1030),
            (0x3010, 1 << 32 | 6, 0),
        ]
        .into_iter()
        .enumerate()
        {
            let at = 0x300 + 24 * i;
            put64(&mut b, at, off);
            put64(&mut b, at + 8, info);
            put64(&mut b, at + 16, add);
        }
        // .symtab at file 0x380: a null symbol, a file symbol, three in .text, one absolute
        for (i, (info, shndx, value)) in [
            (0u8, 0u16, 0u64),
            (4, 0xFFF1, 7),
            (2, 1, 0x1000),
            (2, 1, 0x1010),
            (1, 2, 0x3000),
            (0, 0xFFF1, 99),
        ]
        .into_iter()
        .enumerate()
        {
            let at = 0x380 + 24 * i;
            b[at + 4] = info;
            b[at + 6..at + 8].copy_from_slice(&shndx.to_le_bytes());
            put64(&mut b, at + 8, value);
        }
        // .shstrtab at 0x4C0, section headers at 0x600
        b[0x4C0..0x4C0 + names.len()].copy_from_slice(names);
        put64(&mut b, 0x28, 0x600);
        b[0x3A] = 64;
        b[0x3C] = 8;
        b[0x3E] = 7;
        let secs = [
            (".text", 1u32, 6u64, 0x1000u64, 0x100u64, 0x40u64, 0u64),
            (".data", 1, 3, 0x3000, 0x140, 0x18, 0),
            (".eh_frame_hdr", 1, 2, 0x2180, 0x180, 0x24, 0),
            (".eh_frame", 1, 2, 0x2200, eh as u64, e.len() as u64, 0),
            (".rela.dyn", SHT_RELA, 2, 0x2300, 0x300, 96, 24),
            (".symtab", SHT_SYMTAB, 0, 0, 0x380, 144, 24),
            (".shstrtab", 3, 0, 0, 0x4C0, names.len() as u64, 0),
        ];
        for (i, (n, typ, flags, addr, off, size, ent)) in secs.into_iter().enumerate() {
            let h = 0x600 + 64 * (i + 1);
            put32(&mut b, h, name(n) as u32);
            put32(&mut b, h + 4, typ);
            put64(&mut b, h + 8, flags);
            put64(&mut b, h + 16, addr);
            put64(&mut b, h + 24, off);
            put64(&mut b, h + 32, size);
            put64(&mut b, h + 56, ent);
        }
        b.truncate(0x600 + 64 * 8);
        b
    }

    #[test]
    fn each_normalisation_changes_its_table_and_comes_back() {
        let orig = sample();
        let mut all = orig.clone();
        forward(&mut all, ALL);
        for bit in [HDR, EH, CID, SYM, ADD] {
            let mut img = orig.clone();
            forward(&mut img, bit);
            assert_ne!(img, orig, "normalisation {bit} rewrote nothing");
            assert_ne!(img, all, "normalisation {bit} did everything");
            inverse(&mut img, bit);
            assert_eq!(img, orig, "normalisation {bit} does not come back");
        }
        inverse(&mut all, ALL);
        assert_eq!(all, orig);
    }

    #[test]
    fn normalised_tables_hold_the_differences() {
        let mut img = sample();
        forward(&mut img, ALL);
        // The addends less their places are zero; the other relocation is untouched.
        for i in 0..3 {
            assert_eq!(le(&img, 0x300 + 24 * i + 16, 8), Some(0));
        }
        // .text symbols as differences: 0x1000, then 0x10; the absolute one is kept.
        assert_eq!(le(&img, 0x380 + 48 + 8, 8), Some(0x1000));
        assert_eq!(le(&img, 0x380 + 72 + 8, 8), Some(0x10));
        assert_eq!(le(&img, 0x380 + 120 + 8, 8), Some(99));
        // FDEs back to back: pc_begin 0x1000, then 0 (no gap after the one before).
        let first = 0x200 + 26;
        assert_eq!(
            u32_at(&img, first + 4),
            Some(1),
            "CIE pointer as offset + 1"
        );
        assert_eq!(u32_at(&img, first + 8), Some(0x1000));
        let second = first + 4 + u32_at(&sample(), first).expect("the first FDE") as usize;
        assert_eq!(u32_at(&img, second + 8), Some(0));
        // The table's second pair: (0x10, 0x20) after (0xF00, 0x1100).
        assert_eq!(u32_at(&img, 0x18C + 8), Some(0x10));
        assert_eq!(u32_at(&img, 0x18C + 12), Some(0x20));
    }

    #[test]
    fn overlapping_or_foreign_images_are_left_alone() {
        // .symtab over the section header table: nothing is rewritten.
        let mut img = sample();
        put64(&mut img, 0x600 + 64 * 6 + 24, 0x600);
        let before = img.clone();
        forward(&mut img, ALL);
        assert_eq!(img, before);
        // Not x86-64.
        let mut img = sample();
        img[0x12] = 183;
        let before = img.clone();
        forward(&mut img, ALL);
        assert_eq!(img, before);
        // A broken .eh_frame record: the FDEs are left, the rest still rewritten.
        let mut img = sample();
        put32(&mut img, 0x200 + 26, 0xFFFF);
        let before = img.clone();
        forward(&mut img, EH | CID);
        assert_eq!(img, before);
        forward(&mut img, SYM);
        assert_ne!(img, before);
    }

    #[test]
    fn any_bytes_are_safe_to_rewrite() {
        // Every prefix and every single-byte change of the sample: forward and inverse stay in
        // bounds (a panic fails the test, and arithmetic is checked here) and keep the size.
        let orig = sample();
        for n in (0..orig.len()).step_by(7) {
            let mut img = orig[..n].to_vec();
            forward(&mut img, ALL);
            inverse(&mut img, ALL);
            assert_eq!(img.len(), n);
        }
        // The rewrites that read no table they change come back exactly whatever the bytes.
        let exact = HDR | SYM | ADD;
        for at in 0..orig.len() {
            for x in [0x01, 0x80, 0xFF] {
                let mut img = orig.clone();
                img[at] ^= x;
                let changed = img.clone();
                forward(&mut img, ALL);
                inverse(&mut img, ALL);
                assert_eq!(img.len(), orig.len());
                let mut img = changed.clone();
                forward(&mut img, exact);
                inverse(&mut img, exact);
                assert!(img == changed, "byte {at} ^ {x:#x}: not back");
            }
        }
    }
}
