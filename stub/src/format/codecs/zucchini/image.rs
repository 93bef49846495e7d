//! What the executable readers share: offset <-> RVA translation over section units, the
//! absolute-address (abs32/abs64) locations and their readers and writers, and the x86-64 rel32
//! scanner with the gaps between absolute locations it scans. Each follows Zucchini's own
//! (address_translator, abs32_utils, rel32_finder, rel32_utils) so that the references found in
//! an image are exactly the ones the generator found: they are part of the patch format.

/// Offsets and RVAs at or past these are not real (Zucchini's `kOffsetBound`, `kRvaBound`).
pub const OFFSET_BOUND: u32 = u32::MAX / 2;
pub const RVA_BOUND: u32 = u32::MAX / 2;
pub const INVALID_OFFSET: u32 = u32::MAX - 1;
pub const INVALID_RVA: u32 = u32::MAX - 1;

/// A reference: the offset of its bytes in the image, and the offset it points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ref {
    pub location: u32,
    pub target: u32,
}

/// `begin + size` fits under `bound` (Zucchini's `RangeIsBounded`).
pub fn bounded(begin: u32, size: u32, bound: u32) -> bool {
    begin < bound && size <= bound - begin
}

/// `n` bytes at `at` lie inside `len` bytes.
pub fn covers(len: usize, at: u64, n: u64) -> bool {
    at <= len as u64 && len as u64 - at >= n
}

/// Little-endian fields at `at`, for headers whose bounds were checked first.
pub fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}
pub fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

pub fn read_u32(img: &[u8], at: u32) -> Option<u32> {
    let b = img.get(at as usize..at as usize + 4)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

pub fn read_u64(img: &[u8], at: u64) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    let b = img.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// Writes `v` (4 or 8 bytes, little-endian) at `at`; `None` when it does not fit.
pub fn write_le(img: &mut [u8], at: u32, v: u64, width: usize) -> Option<()> {
    let dst = img.get_mut(at as usize..(at as usize).checked_add(width)?)?;
    dst.copy_from_slice(&v.to_le_bytes()[..width]);
    Some(())
}

/// One stretch of an image that is both in the file and in memory (a section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    pub off: u32,
    pub off_size: u32,
    pub rva: u32,
    pub rva_size: u32,
}

impl Unit {
    fn off_end(&self) -> u32 {
        self.off.wrapping_add(self.off_size)
    }
    fn rva_end(&self) -> u32 {
        self.rva.wrapping_add(self.rva_size)
    }
    fn covers_off(&self, o: u32) -> bool {
        self.off <= o && o - self.off < self.off_size
    }
    fn covers_rva(&self, r: u32) -> bool {
        self.rva <= r && r - self.rva < self.rva_size
    }
    fn dangling(&self) -> bool {
        self.rva_size > self.off_size
    }
}

/// Offset <-> RVA over an image's units; RVAs in memory only ("dangling", like `.bss`) map to
/// fake offsets past every real one.
#[derive(Debug, Default)]
pub struct Translator {
    by_off: Vec<Unit>,
    by_rva: Vec<Unit>,
    fake: u32,
}

impl Translator {
    /// `None` for units that overlap inconsistently or overflow (Zucchini's `Initialize`).
    pub fn new(mut units: Vec<Unit>) -> Option<Translator> {
        for u in units.iter_mut() {
            if !bounded(u.off, u.off_size, OFFSET_BOUND) || !bounded(u.rva, u.rva_size, RVA_BOUND) {
                return None;
            }
            u.off_size = u.off_size.min(u.rva_size);
        }
        units.retain(|u| u.rva_size != 0);
        units.sort_by_key(|u| (u.rva, u.rva_size));
        units.dedup();
        if units.len() > 1 {
            let mut slow = 0;
            for fast in 1..units.len() {
                let (s, f) = (units[slow], units[fast]);
                if s.rva_end() < f.rva {
                    slow += 1;
                    units[slow] = f;
                    continue;
                }
                let optional = s.rva_end() == f.rva;
                let consistent = f.off >= s.off && f.off - s.off == f.rva - s.rva;
                let dangling_ok = !((f.dangling() && f.off_end() < s.off_end())
                    || (s.dangling() && s.off_end() < f.off_end()));
                if !consistent || !dangling_ok {
                    if optional {
                        slow += 1;
                        units[slow] = f;
                        continue;
                    }
                    return None;
                }
                let s = &mut units[slow];
                s.rva_size = s.rva_size.max(f.rva_end() - s.rva);
                s.off_size = s.off_size.max(f.off_end() - s.off);
            }
            units.truncate(slow + 1);
        }
        units.sort_by_key(|u| u.off);
        if units.windows(2).any(|w| w[0].off_end() > w[1].off) {
            return None;
        }
        let off_bound = units.iter().map(Unit::off_end).max().unwrap_or(0);
        let rva_bound = units.iter().map(Unit::rva_end).max().unwrap_or(0);
        if !bounded(off_bound, rva_bound, OFFSET_BOUND) {
            return None;
        }
        let by_off = units.clone();
        units.sort_by_key(|u| u.rva);
        Some(Translator {
            by_off,
            by_rva: units,
            fake: off_bound,
        })
    }

    fn unit_of_rva(&self, rva: u32) -> Option<&Unit> {
        let i = self.by_rva.partition_point(|u| u.rva <= rva);
        let u = self.by_rva.get(i.checked_sub(1)?)?;
        u.covers_rva(rva).then_some(u)
    }

    pub fn rva_is_valid(&self, rva: u32) -> bool {
        rva != INVALID_RVA && self.unit_of_rva(rva).is_some()
    }

    pub fn off_to_rva(&self, off: u32) -> u32 {
        if off >= self.fake {
            let rva = off - self.fake;
            return match self.unit_of_rva(rva) {
                Some(u) if u.dangling() && rva - u.rva >= u.off_size => rva,
                _ => INVALID_RVA,
            };
        }
        let i = self.by_off.partition_point(|u| u.off <= off);
        match i.checked_sub(1).map(|i| &self.by_off[i]) {
            Some(u) if u.covers_off(off) => off.wrapping_sub(u.off).wrapping_add(u.rva),
            _ => INVALID_RVA,
        }
    }

    pub fn rva_to_off(&self, rva: u32) -> u32 {
        match self.unit_of_rva(rva) {
            Some(u) => {
                let d = rva.wrapping_sub(u.rva);
                if d < u.off_size {
                    d + u.off
                } else {
                    self.fake.wrapping_add(rva)
                }
            }
            None => INVALID_OFFSET,
        }
    }
}

/// Absolute addresses of `width` bytes (4 or 8) over `base`.
#[derive(Clone, Copy)]
pub struct Abs {
    pub width: u32,
    pub base: u64,
}

impl Abs {
    /// The RVA the address at `at` holds, when it is readable and in range.
    fn rva_at(&self, img: &[u8], at: u32) -> Option<u32> {
        let v = if self.width == 4 {
            u64::from(read_u32(img, at)?)
        } else {
            read_u64(img, u64::from(at))?
        };
        let raw = v.checked_sub(self.base)?;
        (raw < u64::from(RVA_BOUND)).then_some(raw as u32)
    }
}

/// The references at `locs` (sorted absolute-address locations) in `[lo, hi)` whose RVA is in
/// the image. `None` where `lo` or `hi` splits an address (Zucchini CHECKs this).
pub fn abs_refs(
    img: &[u8],
    abs: Abs,
    locs: &[u32],
    lo: u32,
    hi: u32,
    t: &Translator,
) -> Option<Vec<Ref>> {
    let bound = |x: u32| {
        let i = locs.partition_point(|&l| l < x);
        (i == 0 || x - locs[i - 1] >= abs.width).then_some(i)
    };
    let (a, b) = (bound(lo)?, bound(hi)?);
    let mut out = Vec::new();
    for &location in locs.get(a..b).unwrap_or(&[]) {
        let Some(rva) = abs.rva_at(img, location) else {
            continue;
        };
        let target = t.rva_to_off(rva);
        if target != INVALID_OFFSET {
            out.push(Ref { location, target });
        }
    }
    Some(out)
}

/// Keeps the sorted `locs` whose address translates, then drops those whose bodies overlap the
/// one before (Zucchini's `RemoveUntranslatableAbs32`, `RemoveOverlappingAbs32Locations`).
fn clean_abs_locations(img: &[u8], abs: Abs, locs: &mut Vec<u32>, t: &Translator) {
    locs.retain(|&l| {
        abs.rva_at(img, l)
            .is_some_and(|r| t.rva_to_off(r) != INVALID_OFFSET)
    });
    if locs.len() <= 1 {
        return;
    }
    let (mut slow, mut fast) = (0, 1);
    loop {
        while fast < locs.len() && locs[fast] - locs[slow] < abs.width {
            fast += 1;
        }
        slow += 1;
        if fast == locs.len() {
            break;
        }
        locs[slow] = locs[fast];
        fast += 1;
    }
    locs.truncate(slow);
}

/// Writes absolute references; like Zucchini's writer it keeps the last good address when a
/// target's RVA is out of range, and skips a location it cannot write.
pub struct AbsWriter<'t> {
    abs: Abs,
    value: u64,
    t: &'t Translator,
}

impl<'t> AbsWriter<'t> {
    pub fn new(abs: Abs, t: &'t Translator) -> Self {
        AbsWriter {
            abs,
            value: abs.base,
            t,
        }
    }
    pub fn put(&mut self, img: &mut [u8], r: Ref) {
        let rva = self.t.off_to_rva(r.target);
        if rva == INVALID_RVA {
            return;
        }
        if rva < RVA_BOUND {
            let v = self.abs.base.wrapping_add(u64::from(rva));
            let v32 = if self.abs.width == 4 {
                v & 0xFFFF_FFFF
            } else {
                v
            };
            if v32 >= self.abs.base {
                self.value = v;
            }
        }
        let w = self.abs.width as usize;
        let v = if w == 4 {
            self.value & 0xFFFF_FFFF
        } else {
            self.value
        };
        let _ = write_le(img, r.location, v, w);
    }
}

/// A code region scanned for rel32 operands: its file offsets `[lo, hi)` and the RVAs
/// `[start_rva, end_rva)` its branches may reach.
pub struct Code {
    pub lo: u32,
    pub hi: u32,
    pub start_rva: u32,
    pub end_rva: u32,
}

/// The absolute-address locations of an x86-64 image (the targets of its `relocs`, sorted and
/// cleaned) and its rel32 locations (each code region in turn, then sorted, duplicates kept), as
/// Zucchini's ELF and PE disassemblers both find them (`ParseAndStoreAbs32`, `...Rel32`).
pub fn abs_and_rel32(
    img: &[u8],
    abs: Abs,
    relocs: &[Ref],
    t: &Translator,
    code: impl IntoIterator<Item = Code>,
) -> (Vec<u32>, Vec<u32>) {
    let mut abs_locs: Vec<u32> = relocs.iter().map(|r| r.target).collect();
    abs_locs.sort_unstable();
    clean_abs_locations(img, abs, &mut abs_locs, t);
    let mut rel32 = Vec::new();
    for c in code {
        scan_rel32_x64(img, &c, &abs_locs, abs.width, t, &mut rel32);
    }
    rel32.sort_unstable();
    (abs_locs, rel32)
}

/// The rel32 locations in one code region of `img`, scanning the gaps between the
/// absolute-address bodies at `abs_locs` (width `abs_width`); a candidate is kept when its
/// target RVA is in the image and, for branches, inside the region's RVAs.
fn scan_rel32_x64(
    img: &[u8],
    code: &Code,
    abs_locs: &[u32],
    abs_width: u32,
    t: &Translator,
    out: &mut Vec<u32>,
) {
    let Code {
        lo,
        hi,
        start_rva,
        end_rva,
    } = *code;
    let mut cur = abs_locs.partition_point(|&l| l < lo);
    let mut gap_lo = lo;
    if cur > 0 {
        gap_lo = gap_lo.max(abs_locs[cur - 1].saturating_add(abs_width));
    }
    let scan = |a: u32, b: u32, out: &mut Vec<u32>| {
        let mut c = a as usize;
        let end = b as usize;
        while c < end {
            let (size, outside) = match img[c] {
                0xE8 | 0xE9 if c + 5 <= end => (1, false),
                0x0F if c + 6 <= end && img[c + 1] & 0xF0 == 0x80 => (2, false),
                0xFF if c + 6 <= end && (img[c + 1] == 0x15 || img[c + 1] == 0x25) => (2, true),
                0x89 | 0x8B | 0x8D if c + 6 <= end && img[c + 1] & 0xC7 == 0x05 => (2, true),
                _ => {
                    c += 1;
                    continue;
                }
            };
            let location = (c + size) as u32;
            let loc_rva = t.off_to_rva(location);
            let disp = read_u32(img, location).unwrap_or(0);
            let target = loc_rva.wrapping_add(4).wrapping_add(disp);
            if t.rva_is_valid(target) && (outside || (start_rva <= target && target < end_rva)) {
                out.push(location);
                c += size + 4;
            } else {
                c += 1;
            }
        }
    };
    while cur < abs_locs.len() && abs_locs[cur] < hi {
        let g_hi = abs_locs[cur];
        let g_lo = gap_lo;
        gap_lo = g_hi.saturating_add(abs_width);
        cur += 1;
        if g_lo < g_hi {
            scan(g_lo, g_hi, out);
        }
    }
    if gap_lo < hi {
        scan(gap_lo, hi, out);
    }
}

/// The rel32 references at the sorted `locs` in `[lo, hi)`.
pub fn rel32_refs(img: &[u8], locs: &[u32], lo: u32, hi: u32, t: &Translator) -> Option<Vec<Ref>> {
    let a = locs.partition_point(|&l| l < lo);
    let mut out = Vec::new();
    for &location in &locs[a..] {
        if location >= hi {
            break;
        }
        let rva = t.off_to_rva(location);
        let disp = read_u32(img, location)?;
        let target = t.rva_to_off(rva.wrapping_add(4).wrapping_add(disp));
        out.push(Ref { location, target });
    }
    Some(out)
}

/// Writes a rel32 reference: the displacement from the end of its 4 bytes to the target.
pub fn put_rel32(img: &mut [u8], r: Ref, t: &Translator) -> Option<()> {
    let target = t.off_to_rva(r.target);
    let loc = t.off_to_rva(r.location);
    let code = target.wrapping_sub(loc.wrapping_add(4));
    write_le(img, r.location, u64::from(code), 4)
}
