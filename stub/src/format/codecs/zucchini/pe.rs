//! PE x64 images as Zucchini reads them (its `DisassemblerWin32<Win32X64Traits>`): the header
//! checks, the section units the translator is made of, and the three kinds of reference a patch
//! corrects: `IMAGE_REL_BASED_DIR64` base-relocation entries (pool 0), the 8-byte addresses they
//! relocate (pool 1, over the image base), and rel32 operands in code sections (pool 2).

use super::image::{self, u16_at, u32_at, u64_at, Abs, Ref, Translator, Unit};

const DOS_HEADER: usize = 0x40;
const COFF_HEADER: usize = 20;
/// `offsetof(ImageOptionalHeader64, data_directory)` and `sizeof(ImageOptionalHeader64)`.
const DATA_DIR_BASE: usize = 0x70;
const OPTIONAL_HEADER: usize = 0xF0;
const MAGIC_PE32_PLUS: u16 = 0x20B;
const MAX_DATA_DIRS: usize = 16;
const BASE_RELOC_DIR: usize = 5;
const SECTION_HEADER: usize = 40;
/// `IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ`.
const CODE: u32 = 0x6000_0000;
const REL_BASED_DIR64: u16 = 10;
const RELOC_HEADER: u64 = 8;
const RELOC_UNIT: u64 = 2;
const VA_WIDTH: u32 = 8;

struct Section {
    vsize: u32,
    va: u32,
    raw_size: u32,
    raw_off: u32,
    code: bool,
}

/// The base-relocation table: its region of the image and the offset of each block.
pub struct Relocs {
    off: u32,
    size: u32,
    blocks: Vec<u32>,
}

/// A parsed PE x64 image: its length as Zucchini counts it (headers and sections; an appended
/// signature is not part of the element) and its references.
pub struct Pe<'a> {
    img: &'a [u8],
    pub translator: Translator,
    abs: Abs,
    relocs: Option<Relocs>,
    abs_locs: Vec<u32>,
    rel32: Vec<u32>,
}

/// What writing references into a new PE image needs of its headers as steps 1-2 rebuilt them.
pub struct Writer {
    pub translator: Translator,
    pub abs: Abs,
    relocs: Option<Relocs>,
}

/// The offset just past `PE\0\0` (Zucchini's `ReadWin32Header`: the two magics only).
fn pe_header(img: &[u8]) -> Option<usize> {
    if img.len() < DOS_HEADER || img[..2] != *b"MZ" {
        return None;
    }
    let lfanew = u32_at(img, 0x3C) as usize;
    if lfanew & 7 != 0 || lfanew < DOS_HEADER {
        return None;
    }
    (img.get(lfanew..lfanew.checked_add(4)?)? == b"PE\0\0").then_some(lfanew + 4)
}

impl<'a> Pe<'a> {
    /// Parses `img`; `scan` also finds its absolute and rel32 references (the new element needs
    /// its addresses and relocation blocks only).
    pub fn parse(img: &'a [u8], scan: bool) -> Option<Pe<'a>> {
        if u32::try_from(img.len()).is_err() {
            return None;
        }
        let coff = pe_header(img)?;
        if img.len() - coff < COFF_HEADER {
            return None;
        }
        let sections = usize::from(u16_at(img, coff + 2));
        let optional_size = usize::from(u16_at(img, coff + 16));
        if optional_size < DATA_DIR_BASE {
            return None;
        }
        let opt = coff + COFF_HEADER;
        if img.len() - opt < OPTIONAL_HEADER || u16_at(img, opt) != MAGIC_PE32_PLUS {
            return None;
        }
        let dirs = u32_at(img, opt + 0x6C) as usize;
        let dir_bytes = optional_size - DATA_DIR_BASE;
        if dir_bytes / 8 != dirs || !dir_bytes.is_multiple_of(8) || dirs > MAX_DATA_DIRS {
            return None;
        }
        if BASE_RELOC_DIR >= dirs {
            return None;
        }
        let dir = opt + DATA_DIR_BASE + 8 * BASE_RELOC_DIR;
        let reloc_dir = (u32_at(img, dir), u32_at(img, dir + 4));
        let base = u64_at(img, opt + 0x18);
        let rva_bound = u32_at(img, opt + 0x38);
        if rva_bound >= image::RVA_BOUND {
            return None;
        }
        // Section headers follow the optional header's fixed size (not its declared one), and
        // are not counted in the image's bound: Zucchini's reading, kept exactly.
        let table = opt + OPTIONAL_HEADER;
        let mut bound = table as u64;
        if (img.len() - table) / SECTION_HEADER < sections {
            return None;
        }
        let mut secs = Vec::with_capacity(sections);
        let mut units = Vec::with_capacity(sections);
        for i in 0..sections {
            let h = table + i * SECTION_HEADER;
            let s = Section {
                vsize: u32_at(img, h + 8),
                va: u32_at(img, h + 12),
                raw_size: u32_at(img, h + 16),
                raw_off: u32_at(img, h + 20),
                code: u32_at(img, h + 36) & CODE == CODE,
            };
            if !image::covers(img.len(), u64::from(s.raw_off), u64::from(s.raw_size))
                || !image::bounded(s.va, s.vsize, rva_bound)
            {
                return None;
            }
            units.push(Unit {
                off: s.raw_off,
                off_size: s.raw_size,
                rva: s.va,
                rva_size: s.vsize,
            });
            bound = bound.max(u64::from(s.raw_off) + u64::from(s.raw_size));
            secs.push(s);
        }
        if bound > img.len() as u64 || !secs.iter().any(|s| s.code) {
            return None;
        }
        let translator = Translator::new(units)?;
        let img = &img[..bound as usize];
        let relocs = find_reloc_blocks(img, &translator, reloc_dir);
        let mut pe = Pe {
            img,
            translator,
            abs: Abs {
                width: VA_WIDTH,
                base,
            },
            relocs,
            abs_locs: Vec::new(),
            rel32: Vec::new(),
        };
        if !scan {
            return Some(pe);
        }
        // Every code section in header order (sections that share bytes give a location twice,
        // as in Zucchini); the scan stops at the virtual size where it is the smaller.
        let relocs = pe.reloc_refs(0, img.len() as u32);
        let code = secs.iter().filter(|s| s.code).map(|s| image::Code {
            lo: s.raw_off,
            hi: s.raw_off + s.vsize.min(s.raw_size),
            start_rva: s.va,
            end_rva: s.va.wrapping_add(s.vsize),
        });
        let (abs, rel32) = image::abs_and_rel32(img, pe.abs, &relocs, &pe.translator, code);
        pe.abs_locs = abs;
        pe.rel32 = rel32;
        Some(pe)
    }

    pub fn len(&self) -> usize {
        self.img.len()
    }

    /// The base-relocation entries in `[lo, hi)` (Zucchini's `RelocRvaReaderWin32` and
    /// `RelocReaderWin32`): each `DIR64` entry points at the 8 bytes it relocates.
    fn reloc_refs(&self, lo: u32, hi: u32) -> Vec<Ref> {
        let mut out = Vec::new();
        let Some(r) = &self.relocs else {
            return out;
        };
        if r.blocks.is_empty() {
            return out;
        }
        let img = self.img;
        let (r_lo, r_hi) = (u64::from(r.off), u64::from(r.off) + u64::from(r.size));
        let (lo, end) = (
            u64::from(lo).clamp(r_lo, r_hi),
            u64::from(hi).clamp(r_lo, r_hi),
        );
        // A block's units as [begin, end) and its high RVA bits; `None` where fewer than a
        // header and one unit lie before `end`, or the block's size is malformed.
        let load = |b: u64| -> Option<(u32, u64, u64)> {
            if b > end || end - b < RELOC_HEADER + RELOC_UNIT {
                return None;
            }
            let rva_hi = image::read_u32(img, b as u32)?;
            let size = u64::from(image::read_u32(img, b as u32 + 4)?);
            if size < RELOC_HEADER || !(size - RELOC_HEADER).is_multiple_of(RELOC_UNIT) {
                return None;
            }
            Some((rva_hi, b + RELOC_HEADER, b + size))
        };
        let first = r.blocks.partition_point(|&b| u64::from(b) <= lo) - 1;
        let Some((mut rva_hi, mut at, mut stop)) = load(u64::from(r.blocks[first])) else {
            return out;
        };
        if lo > at {
            at = (at + (lo - at).div_ceil(RELOC_UNIT) * RELOC_UNIT).min(stop);
        }
        let offset_bound = img.len() as u64 - u64::from(VA_WIDTH) + 1;
        loop {
            while stop - at < RELOC_UNIT {
                let Some(next) = load(stop) else {
                    return out;
                };
                (rva_hi, at, stop) = next;
            }
            if end < at + RELOC_UNIT {
                return out;
            }
            let Some(entry) = img.get(at as usize..at as usize + 2) else {
                return out;
            };
            let entry = u16::from_le_bytes([entry[0], entry[1]]);
            let location = at as u32;
            at += RELOC_UNIT;
            if entry >> 12 != REL_BASED_DIR64 {
                continue;
            }
            let target = self
                .translator
                .rva_to_off(rva_hi.wrapping_add(u32::from(entry & 0xFFF)));
            if target != image::INVALID_OFFSET && u64::from(target) < offset_bound {
                out.push(Ref { location, target });
            }
        }
    }

    /// The references of `kind` (0 relocations, 1 absolute addresses, 2 rel32) in `[lo, hi)`.
    pub fn refs(&self, kind: u8, lo: u32, hi: u32) -> Option<Vec<Ref>> {
        match kind {
            0 => Some(self.reloc_refs(lo, hi)),
            1 => image::abs_refs(self.img, self.abs, &self.abs_locs, lo, hi, &self.translator),
            _ => image::rel32_refs(self.img, &self.rel32, lo, hi, &self.translator),
        }
    }

    pub fn into_writer(self) -> Writer {
        Writer {
            translator: self.translator,
            abs: self.abs,
            relocs: self.relocs,
        }
    }
}

/// The base-relocation table at `dir` (its RVA and size) as blocks, or `None` where it is not
/// in the image or its blocks do not tile it (Zucchini's `FindRelocBlocks`: no relocations then,
/// which is not an error).
fn find_reloc_blocks(img: &[u8], t: &Translator, (rva, size): (u32, u32)) -> Option<Relocs> {
    let off = t.rva_to_off(rva);
    if off == image::INVALID_OFFSET
        || !image::covers(img.len(), u64::from(off), u64::from(size))
        || size >= image::OFFSET_BOUND
    {
        return None;
    }
    let mut blocks = Vec::new();
    let (mut at, end) = (off, off + size);
    while u64::from(end - at) >= RELOC_HEADER {
        blocks.push(at);
        let block = image::read_u32(img, at + 4)?;
        if u64::from(block) < RELOC_HEADER || !block.is_multiple_of(4) || block > end - at {
            return None;
        }
        at += block;
    }
    (at == end).then_some(Relocs { off, size, blocks })
}

impl Writer {
    /// Writes one reference of `kind` into `out` (the new element) with the new image's
    /// addresses. A relocation takes its high RVA bits from its block's header as `out` holds
    /// it now; one whose target is not in that 4 KiB page is left as it is (as Zucchini does).
    pub fn put(
        &self,
        kind: u8,
        abs: &mut image::AbsWriter<'_>,
        out: &mut [u8],
        r: Ref,
    ) -> Option<()> {
        match kind {
            0 => {
                // No relocation table in the new image: Zucchini writes none.
                let Some(relocs) = &self.relocs else {
                    return Some(());
                };
                let i = relocs.blocks.partition_point(|&b| b <= r.location);
                // Before the first block: undefined in Zucchini, refused here.
                let block = *relocs.blocks.get(i.checked_sub(1)?)?;
                let rva_hi = image::read_u32(out, block)?;
                let target = self.translator.off_to_rva(r.target);
                let rva_lo = target.wrapping_sub(rva_hi) & 0xFFF;
                if target != rva_hi.wrapping_add(rva_lo) {
                    return Some(());
                }
                let entry = rva_lo | u32::from(REL_BASED_DIR64) << 12;
                image::write_le(out, r.location, u64::from(entry), 2)
            }
            1 => {
                abs.put(out, r);
                Some(())
            }
            _ => image::put_rel32(out, r, &self.translator),
        }
    }
}

/// The reference kinds of a PE x64 image: (type, pool) pairs, type = pool here.
pub const KINDS: [u8; 3] = [0, 1, 2];
