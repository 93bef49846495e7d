//! Zucchini apply (`zucchini-xz` and `zucchini-norm-xz` engine deltas) on hostile patches and hostile old files: never
//! panics, never allocates past the declared sizes, and an accepted result has the signed size.
//!
//! Input: two bytes of split, one of size, then the old file and the patch. The target rewrites
//! the patch's old size and CRC-32 to the old file's, so that mutations reach the element,
//! equivalence, delta and ELF and PE reader code instead of stopping at the checksum; outputs
//! are capped at 1 MiB so that a header's 4 GiB size is a refusal, not an allocation.
#![no_main]
use iupack_stub::format::codecs::zucchini;
use iupack_stub::format::zipread::crc32;
use libfuzzer_sys::fuzz_target;

const CAP: u32 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let split = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 3);
    let (old, patch) = data[3..].split_at(split);
    let new_size = u64::from(data[2]) * 997;

    // The payload forms as they come from a package (magic, size, .xz stream; for
    // `zucchini-norm-xz` the normalisation set before the size, the old file normalised).
    if let Ok(out) = zucchini::apply_payload(old, patch, new_size) {
        assert_eq!(out.len() as u64, new_size);
    }
    if let Ok(out) = zucchini::apply_norm_payload(&mut old.to_vec(), patch, new_size) {
        assert_eq!(out.len() as u64, new_size);
    }

    // The bare patch, its old file made to match.
    let mut patch = patch.to_vec();
    if patch.len() >= 24 {
        patch[8..12].copy_from_slice(&(old.len() as u32).to_le_bytes());
        patch[12..16].copy_from_slice(&crc32(old).to_le_bytes());
    }
    let Ok(h) = zucchini::header(&patch) else {
        return;
    };
    if h.new_size > CAP {
        return;
    }
    if let Ok((h, out)) = zucchini::rebuild(old, &patch) {
        assert_eq!(out.len() as u64, u64::from(h.new_size));
    }
    if let Ok(out) = zucchini::apply(old, &patch, u64::from(h.new_size)) {
        assert_eq!(out.len() as u64, u64::from(h.new_size));
    }
});
