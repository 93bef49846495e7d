//! ELF x86-64 images as Zucchini reads them (its `DisassemblerElfX64`): the header checks, the
//! section units the translator is made of, and the three kinds of reference a patch corrects:
//! `R_X86_64_RELATIVE` relocation entries (pool 0), the 8-byte addresses they relocate (pool 1),
//! and rel32 operands in executable sections (pool 2).

use super::image::{self, u16_at, u32_at, u64_at, Abs, Ref, Translator, Unit};

const SIZE_BOUND: u64 = 0x7FFF_0000;
const SHT_PROGBITS: u32 = 1;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHF_EXECINSTR: u64 = 4;
const SHF_TLS: u64 = 0x400;
const R_X86_64_RELATIVE: u64 = 8;
const EHDR: usize = 64;
const SHDR: u64 = 64;
const PHDR: u64 = 56;
const ABS: Abs = Abs { width: 8, base: 0 };

struct Shdr {
    sh_type: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    entsize: u64,
}

#[derive(Clone, Copy)]
struct RelocSection {
    off: u32,
    size: u32,
    entsize: u32,
}

/// A parsed ELF x86-64 image: its length as Zucchini counts it (headers, segments and sections;
/// what follows them is not part of the element) and its references.
pub struct Elf<'a> {
    img: &'a [u8],
    pub translator: Translator,
    relocs: Vec<RelocSection>,
    abs: Vec<u32>,
    rel32: Vec<u32>,
}

/// Whether `img` starts like an ELF x86-64 executable or shared object.
pub fn quick_detect(img: &[u8]) -> bool {
    img.len() >= EHDR
        && img[..4] == *b"\x7fELF"
        && img[4] == 2
        && img[5] == 1
        && matches!(u16_at(img, 16), 2 | 3)
        && u32_at(img, 20) == 1
        && img[6] == 1
        && u16_at(img, 18) == 62
        && u16_at(img, 58) == SHDR as u16
}

/// The position a `BufferSource` at `start` reaches after taking `n` records of `size` bytes, or
/// `None` when they are not all there (a start past the end leaves the source empty).
fn table_end(len: usize, start: u64, n: u64, size: u64) -> Option<u64> {
    let at = start.min(len as u64);
    ((len as u64 - at) / size >= n).then_some(at + n * size)
}

impl<'a> Elf<'a> {
    /// Parses `img`; `scan` also finds its references (the new element needs its addresses only).
    pub fn parse(img: &'a [u8], scan: bool) -> Option<Elf<'a>> {
        if u32::try_from(img.len()).is_err() || !quick_detect(img) {
            return None;
        }
        let shoff = u64_at(img, 40);
        let shnum = u16_at(img, 60);
        let sh_end = table_end(img.len(), shoff, u64::from(shnum), SHDR)?;
        let phoff = u64_at(img, 32);
        let phnum = u16_at(img, 56);
        let ph_end = table_end(img.len(), phoff, u64::from(phnum), PHDR)?;
        let shdr = |i: u16| {
            let b = &img[(shoff + u64::from(i) * SHDR) as usize..];
            Shdr {
                sh_type: u32_at(b, 4),
                flags: u64_at(b, 8),
                addr: u64_at(b, 16),
                offset: u64_at(b, 24),
                size: u64_at(b, 32),
                entsize: u64_at(b, 56),
            }
        };
        let strndx = u16_at(img, 62);
        if strndx >= shnum {
            return None;
        }
        let names = shdr(strndx);
        if names.size > 0 {
            table_end(img.len(), names.offset, names.size, 1)?;
            let start = names.offset.min(img.len() as u64);
            if img[(start + names.size - 1) as usize] != 0 {
                return None;
            }
        }
        let mut bound = sh_end.max(ph_end);
        for i in 0..u64::from(phnum) {
            let p = &img[(phoff + i * PHDR) as usize..];
            let (off, filesz) = (u64_at(p, 8), u64_at(p, 32));
            let end = off
                .checked_add(filesz)
                .filter(|&e| e <= u64::from(u32::MAX))?;
            if !image::covers(img.len(), off, filesz) {
                return None;
            }
            bound = bound.max(end);
        }
        let mut units = Vec::new();
        let mut relocs = Vec::new();
        let mut exec = Vec::new();
        for i in 0..shnum {
            let s = shdr(i);
            // Zucchini's JudgeSection: malformed sections refuse the image, useless ones are
            // left out, the rest map addresses and bound the image.
            if !(s.addr <= SIZE_BOUND && SIZE_BOUND - s.addr >= s.size) {
                return None;
            }
            let off_bound = if s.sh_type == SHT_NOBITS {
                SIZE_BOUND
            } else {
                img.len() as u64
            };
            if !(s.offset <= off_bound && off_bound - s.offset >= s.size) {
                return None;
            }
            if s.size == 0 || s.addr == 0 {
                continue;
            }
            let unit = Unit {
                off: s.offset as u32,
                off_size: s.size as u32,
                rva: s.addr as u32,
                rva_size: s.size as u32,
            };
            if s.sh_type == SHT_NOBITS {
                if s.offset != 0 && s.flags & SHF_TLS == 0 {
                    units.push(unit);
                }
                continue;
            }
            units.push(unit);
            bound = bound.max(s.offset + s.size);
            let is_reloc = (s.sh_type == SHT_REL && s.entsize == 16)
                || (s.sh_type == SHT_RELA && s.entsize == 24);
            if is_reloc {
                relocs.push(RelocSection {
                    off: unit.off,
                    size: unit.off_size,
                    entsize: s.entsize as u32,
                });
            } else if s.sh_type == SHT_PROGBITS && s.flags & SHF_EXECINSTR != 0 {
                exec.push(s);
            }
        }
        let translator = Translator::new(units)?;
        let img = &img[..bound as usize];
        // Sorted by offset, larger first at one offset; then each kept only past the last.
        relocs.sort_by(|a, b| a.off.cmp(&b.off).then(b.size.cmp(&a.size)));
        let mut hi = 0u64;
        relocs.retain(|r| {
            let keep = r.size > 0 && u64::from(r.off) >= hi;
            if keep {
                hi = u64::from(r.off) + u64::from(r.size);
            }
            keep
        });
        exec.sort_by_key(|s| s.offset);
        let mut elf = Elf {
            img,
            translator,
            relocs,
            abs: Vec::new(),
            rel32: Vec::new(),
        };
        if !scan {
            return Some(elf);
        }
        let relocs = elf.reloc_refs(0, img.len() as u32)?;
        let code = exec.iter().map(|s| image::Code {
            lo: s.offset as u32,
            hi: (s.offset + s.size) as u32,
            start_rva: s.addr as u32,
            end_rva: (s.addr as u32).wrapping_add(s.size as u32),
        });
        let (abs, rel32) = image::abs_and_rel32(img, ABS, &relocs, &elf.translator, code);
        elf.abs = abs;
        elf.rel32 = rel32;
        Some(elf)
    }

    pub fn len(&self) -> usize {
        self.img.len()
    }

    /// The relocation entries in `[lo, hi)` (Zucchini's `RelocReaderElf`): each points at the
    /// 8 bytes it relocates.
    fn reloc_refs(&self, lo: u32, hi: u32) -> Option<Vec<Ref>> {
        let d = &self.relocs;
        let mut out = Vec::new();
        if d.is_empty() {
            return Some(out);
        }
        let (lo, mut hi) = (u64::from(lo), u64::from(hi));
        let align = |x: u64, m: u64| x.div_ceil(m) * m;
        let mut cur = d
            .partition_point(|s| u64::from(s.off) <= lo)
            .saturating_sub(1);
        let mut cursor = u64::from(d[cur].off);
        if cursor < lo {
            cursor += align(lo - cursor, u64::from(d[cur].entsize));
        }
        let end = d.partition_point(|s| u64::from(s.off) <= hi);
        if end > 0 {
            let e = d[end - 1];
            if hi - u64::from(e.off) < u64::from(e.size) {
                hi = u64::from(e.off) + align(hi - u64::from(e.off), u64::from(e.entsize));
            }
        }
        let mut ent = u64::from(d[cur].entsize);
        let mut sec_end = u64::from(d[cur].off) + u64::from(d[cur].size);
        while cursor + ent <= hi {
            while cursor >= sec_end {
                cur += 1;
                let Some(s) = d.get(cur) else {
                    return Some(out);
                };
                ent = u64::from(s.entsize);
                cursor = u64::from(s.off);
                if cursor + ent > hi {
                    return Some(out);
                }
                sec_end = u64::from(s.off) + u64::from(s.size);
            }
            let r_offset = image::read_u64(self.img, cursor)?;
            let r_info = image::read_u64(self.img, cursor + 8)?;
            if r_info & 0xFFFF_FFFF == R_X86_64_RELATIVE && r_offset <= u64::from(u32::MAX) {
                let target = self.translator.rva_to_off(r_offset as u32);
                if target != image::INVALID_OFFSET
                    && image::covers(self.img.len(), u64::from(target), 8)
                {
                    out.push(Ref {
                        location: cursor as u32,
                        target,
                    });
                }
            }
            cursor += ent;
        }
        Some(out)
    }

    /// The references of `kind` (0 relocations, 1 absolute addresses, 2 rel32) in `[lo, hi)`.
    pub fn refs(&self, kind: u8, lo: u32, hi: u32) -> Option<Vec<Ref>> {
        match kind {
            0 => self.reloc_refs(lo, hi),
            1 => image::abs_refs(self.img, ABS, &self.abs, lo, hi, &self.translator),
            _ => image::rel32_refs(self.img, &self.rel32, lo, hi, &self.translator),
        }
    }
}

/// Writes one reference of `kind` into `out` (the new element) with the new image's addresses.
pub fn put(
    kind: u8,
    t: &Translator,
    abs: &mut image::AbsWriter<'_>,
    out: &mut [u8],
    r: Ref,
) -> Option<()> {
    match kind {
        0 => image::write_le(out, r.location, u64::from(t.off_to_rva(r.target)), 8),
        1 => {
            abs.put(out, r);
            Some(())
        }
        _ => image::put_rel32(out, r, t),
    }
}

/// The reference kinds of an ELF x86-64 image: (type, pool) pairs, type = pool here.
pub const KINDS: [u8; 3] = [0, 1, 2];
pub const ABS_KIND: Abs = ABS;
