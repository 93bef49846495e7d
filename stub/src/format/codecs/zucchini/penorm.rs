//! The PE normalisation of the `zucchini-norm-xz` codec (issue 22, step 4), the twin of
//! `elfnorm` for PE x64 programs: [`PDATA`] rewrites the exception directory's
//! `RUNTIME_FUNCTION` entries (begin, end and unwind-information RVAs, sorted by begin), which
//! Zucchini leaves as raw bytes and which all change when code moves, as differences: each
//! begin less the previous end, each end less its begin (the function's size), each unwind RVA
//! less the previous one. A bijection whatever the entries hold.
//!
//! Decided from the PE headers alone (the exception directory and the section table), which are
//! not rewritten; a directory outside one section's file bytes, or over the headers, is left
//! as it is.

use super::image::{u16_at, u32_at};

/// The exception directory's entries as differences.
pub const PDATA: u64 = 32;
/// Every normalisation of this module.
pub const ALL: u64 = PDATA;

const MACHINE_AMD64: u16 = 0x8664;
const MAGIC_PE32_PLUS: u16 = 0x20B;
const EXCEPTION_DIR: usize = 3;
const ENTRY: usize = 12;

/// The file span of the exception directory's whole entries, when the headers are PE32+ x64
/// and it lies inside one section's file bytes, past the section table.
fn pdata(img: &[u8]) -> Option<(usize, usize)> {
    if img.len() < 0x40 || img[..2] != *b"MZ" {
        return None;
    }
    let pe = u32_at(img, 0x3C) as usize;
    let opt = pe.checked_add(24)?;
    if img.get(pe..pe + 4)? != b"PE\0\0" || img.len() < opt + 0x70 + 8 * (EXCEPTION_DIR + 1) {
        return None;
    }
    let (sections, opt_size) = (
        usize::from(u16_at(img, pe + 6)),
        usize::from(u16_at(img, pe + 20)),
    );
    if u16_at(img, pe + 4) != MACHINE_AMD64 || u16_at(img, opt) != MAGIC_PE32_PLUS {
        return None;
    }
    if (u32_at(img, opt + 0x6C) as usize) <= EXCEPTION_DIR
        || opt_size < 0x70 + 8 * (EXCEPTION_DIR + 1)
    {
        return None;
    }
    let dir = opt + 0x70 + 8 * EXCEPTION_DIR;
    let (rva, size) = (u32_at(img, dir), u32_at(img, dir + 4));
    let table = opt + opt_size;
    let table_end = table.checked_add(sections * 40)?;
    if table_end > img.len() || size < ENTRY as u32 {
        return None;
    }
    (0..sections).find_map(|i| {
        let h = table + 40 * i;
        let (va, raw_size, raw_off) = (
            u32_at(img, h + 12),
            u32_at(img, h + 16),
            u32_at(img, h + 20),
        );
        let rel = rva.checked_sub(va)?;
        if u64::from(rel) + u64::from(size) > u64::from(raw_size) {
            return None;
        }
        let off = raw_off as usize + rel as usize;
        let len = size as usize / ENTRY * ENTRY;
        (off >= table_end && off.checked_add(len)? <= img.len()).then_some((off, len))
    })
}

/// Rewrites `img` with [`PDATA`] when `set` has it.
pub fn forward(img: &mut [u8], set: u64) {
    rewrite(img, set, true);
}

/// Undoes [`forward`] with the same `set`.
pub fn inverse(img: &mut [u8], set: u64) {
    rewrite(img, set, false);
}

fn rewrite(img: &mut [u8], set: u64, fwd: bool) {
    if set & PDATA == 0 {
        return;
    }
    let Some((off, len)) = pdata(img) else { return };
    let (mut end, mut unwind) = (0u32, 0u32);
    for at in (off..off + len).step_by(ENTRY) {
        let [b, e, u] = [0, 4, 8].map(|k| u32_at(img, at + k));
        let out = if fwd {
            let out = [
                b.wrapping_sub(end),
                e.wrapping_sub(b),
                u.wrapping_sub(unwind),
            ];
            (end, unwind) = (e, u);
            out
        } else {
            let begin = b.wrapping_add(end);
            (end, unwind) = (e.wrapping_add(begin), u.wrapping_add(unwind));
            [begin, end, unwind]
        };
        for (k, v) in out.into_iter().enumerate() {
            img[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PE32+ x64 image: headers, one `.pdata` section at file 0x200 (RVA 0x3000) with four
    /// entries, the exception directory pointing at it.
    fn sample() -> Vec<u8> {
        let mut b = vec![0u8; 0x400];
        b[..2].copy_from_slice(b"MZ");
        b[0x3C] = 0x80;
        b[0x80..0x84].copy_from_slice(b"PE\0\0");
        b[0x84..0x86].copy_from_slice(&MACHINE_AMD64.to_le_bytes());
        b[0x86] = 1;
        b[0x94..0x96].copy_from_slice(&0xF0u16.to_le_bytes());
        let opt = 0x98;
        b[opt..opt + 2].copy_from_slice(&MAGIC_PE32_PLUS.to_le_bytes());
        b[opt + 0x6C] = 16;
        let dir = opt + 0x70 + 24;
        b[dir..dir + 4].copy_from_slice(&0x3000u32.to_le_bytes());
        b[dir + 4..dir + 8].copy_from_slice(&48u32.to_le_bytes());
        let h = opt + 0xF0;
        b[h..h + 6].copy_from_slice(b".pdata");
        for (k, v) in [(8, 0x100u32), (12, 0x3000), (16, 0x100), (20, 0x200)] {
            b[h + k..h + k + 4].copy_from_slice(&v.to_le_bytes());
        }
        let entries = [
            [0x1000u32, 0x1040, 0x5000],
            [0x1040, 0x10A0, 0x5008],
            [0x10B0, 0x10C0, 0x5010],
            [0x10C0, 0x1200, 0x5018],
        ];
        for (i, e) in entries.iter().enumerate() {
            for (k, v) in e.iter().enumerate() {
                let at = 0x200 + 12 * i + 4 * k;
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        b
    }

    #[test]
    fn entries_become_differences_and_come_back() {
        let orig = sample();
        let mut img = orig.clone();
        forward(&mut img, PDATA);
        // Second entry: begins where the first ends, 0x60 long, unwind 8 further.
        assert_eq!(u32_at(&img, 0x20C), 0);
        assert_eq!(u32_at(&img, 0x210), 0x60);
        assert_eq!(u32_at(&img, 0x214), 8);
        // Third: 0x10 of padding before it.
        assert_eq!(u32_at(&img, 0x218), 0x10);
        inverse(&mut img, PDATA);
        assert_eq!(img, orig);
        // Without the bit, or in another file, nothing changes.
        forward(&mut img, 0);
        assert_eq!(img, orig);
        let mut other = orig.clone();
        other[0x84] = 0x4C;
        let before = other.clone();
        forward(&mut other, PDATA);
        assert_eq!(other, before);
    }

    #[test]
    fn any_bytes_are_safe_and_come_back() {
        let orig = sample();
        for n in (0..orig.len()).step_by(5) {
            let mut img = orig[..n].to_vec();
            forward(&mut img, PDATA);
            inverse(&mut img, PDATA);
            assert!(img == orig[..n], "prefix {n}");
        }
        for at in 0..0x240 {
            for x in [0x01, 0x80, 0xFF] {
                let mut img = orig.clone();
                img[at] ^= x;
                let changed = img.clone();
                forward(&mut img, PDATA);
                inverse(&mut img, PDATA);
                assert!(img == changed, "byte {at} ^ {x:#x}");
            }
        }
    }
}
