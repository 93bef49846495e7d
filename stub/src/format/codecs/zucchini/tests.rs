//! Hand-made patches: what a raw (NoOp) element rebuilds, and patches that lie about ranges,
//! order, sizes and counts, each refused before anything is written out of place.

use super::*;

fn leb(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn buffer(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// A one-element NoOp patch: `equivs` as (src, dst, len), literal `extra`, raw deltas as
/// (copy offset gap, diff).
fn patch(
    old: &[u8],
    new: &[u8],
    equivs: &[(i32, u32, u32)],
    extra: &[u8],
    deltas: &[(u32, u8)],
) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(b"Zucc");
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&1u16.to_le_bytes());
    for v in [
        old.len() as u32,
        crate::format::zipread::crc32(old),
        new.len() as u32,
    ] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p.extend_from_slice(&crate::format::zipread::crc32(new).to_le_bytes());
    p.extend_from_slice(&1u32.to_le_bytes());
    for v in [0, old.len() as u32, 0, new.len() as u32, TYPE_NOOP] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p.extend_from_slice(&1u16.to_le_bytes());
    let (mut src, mut dst, mut len) = (Vec::new(), Vec::new(), Vec::new());
    let (mut prev_src, mut prev_dst) = (0i64, 0u32);
    for &(s, d, l) in equivs {
        let diff = i64::from(s) - prev_src;
        let z = if diff < 0 {
            ((!diff as u32) << 1) | 1
        } else {
            (diff as u32) << 1
        };
        leb(&mut src, z);
        leb(&mut dst, d.wrapping_sub(prev_dst));
        leb(&mut len, l);
        prev_src = i64::from(s) + i64::from(l);
        prev_dst = d.wrapping_add(l);
    }
    buffer(&mut p, &src);
    buffer(&mut p, &dst);
    buffer(&mut p, &len);
    buffer(&mut p, extra);
    let (mut skip, mut diff) = (Vec::new(), Vec::new());
    for &(s, d) in deltas {
        leb(&mut skip, s);
        diff.push(d);
    }
    buffer(&mut p, &skip);
    buffer(&mut p, &diff);
    buffer(&mut p, &[]);
    p.extend_from_slice(&0u32.to_le_bytes());
    p
}

const OLD: &[u8] = b"0123456789abcdefghij";

#[test]
fn a_raw_element_copies_runs_inserts_literals_and_adds_differences() {
    // new = "abcd" + "XY" + "0123456789", one byte of the second run +2.
    let mut expect = b"abcdXY0123456789".to_vec();
    expect[11] += 2;
    let p = patch(OLD, &expect, &[(10, 0, 4), (0, 6, 10)], b"XY", &[(9, 2)]);
    assert_eq!(rebuild(OLD, &p).expect("applies").1, expect);
    assert_eq!(
        apply(OLD, &p, expect.len() as u64).expect("applies"),
        expect
    );
    // The same patch claiming another result's CRC-32 is refused.
    let wrong = patch(
        OLD,
        b"abcdXY0123456789",
        &[(10, 0, 4), (0, 6, 10)],
        b"XY",
        &[(9, 2)],
    );
    let e = apply(OLD, &wrong, expect.len() as u64).expect_err("refused");
    assert!(e.message.contains("CRC-32"), "{}", e.message);
}

fn refused(p: &[u8], size: u64, why: &str) {
    let e = apply(OLD, p, size).expect_err("refused");
    assert!(e.message.contains(why), "{} (wanted {why})", e.message);
}

#[test]
fn lies_are_refused() {
    let new = b"abcdXY0123456789".to_vec();
    let n = new.len() as u64;
    // An equivalence past the old file, past the new element, and out of order.
    refused(
        &patch(OLD, &new, &[(15, 0, 10)], b"XY0123", &[]),
        n,
        "malformed element",
    );
    refused(
        &patch(OLD, &new, &[(0, 10, 10)], &new[..6], &[]),
        n,
        "malformed element",
    );
    refused(
        &patch(OLD, &new, &[(10, 6, 4), (0, 0, 4)], &new[..8], &[]),
        n,
        "malformed element",
    );
    // Literal bytes that do not fill the rest exactly.
    refused(
        &patch(OLD, &new, &[(10, 0, 4)], b"XY", &[]),
        n,
        "malformed element",
    );
    // A byte difference past every copied run; a zero difference ends the stream early.
    refused(
        &patch(OLD, &new, &[(10, 0, 4), (0, 6, 10)], b"XY", &[(14, 1)]),
        n,
        "past the equivalences",
    );
    refused(
        &patch(
            OLD,
            &new,
            &[(10, 0, 4), (0, 6, 10)],
            b"XY",
            &[(1, 0), (1, 1)],
        ),
        n,
        "trailing byte",
    );
    // A size other than the signed one: refused before the output is allocated.
    let ok = patch(OLD, &new, &[(10, 0, 4), (0, 6, 10)], b"XY", &[]);
    refused(&ok, n + 1, "signed");
    refused(&ok, u64::from(u32::MAX) + 1, "signed");
    // Another old file, a truncated patch, trailing bytes, a bad magic.
    assert!(apply(b"0123456789abcdefghiJ", &ok, n).is_err());
    refused(&ok[..ok.len() - 1], n, "not valid");
    let mut long = ok.clone();
    long.push(0);
    refused(&long, n, "tile");
    let mut magic = ok.clone();
    magic[0] = b'z';
    refused(&magic, n, "not a Zucchini");
    assert_eq!(apply(OLD, &ok, n).expect("applies"), new);
}

#[test]
fn elements_must_tile_the_new_file_and_fit_the_old() {
    let new = b"abcdXY0123456789".to_vec();
    let ok = patch(OLD, &new, &[(10, 0, 4), (0, 6, 10)], b"XY", &[]);
    // Element header at 28: old offset, old length, new offset, new length.
    let at = HEADER + 4;
    for (field, value) in [
        (0, 1u32),
        (1, OLD.len() as u32 + 1),
        (2, 1),
        (3, new.len() as u32 - 1),
    ] {
        let mut p = ok.clone();
        p[at + 4 * field..at + 4 * field + 4].copy_from_slice(&value.to_le_bytes());
        assert!(
            apply(OLD, &p, new.len() as u64).is_err(),
            "field {field} = {value}"
        );
    }
    // An executable type the stub does not read (PE x86) is refused, never guessed at.
    let mut p = ok.clone();
    p[at + 16..at + 20].copy_from_slice(b"Px86");
    refused(&p, new.len() as u64, "cannot read");
}

#[test]
fn leb128_is_read_as_zucchini_reads_it() {
    let mut s = Src(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
    assert_eq!(s.var_u32(), Some(u32::MAX));
    // A fifth byte's high bits are dropped, a sixth byte is an overflow that takes nothing.
    let mut s = Src(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert_eq!(s.var_u32(), Some(u32::MAX));
    let bytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    let mut s = Src(&bytes);
    assert_eq!(s.var_u32(), None);
    assert_eq!(s.0.len(), 6);
    assert_eq!(Src(&[3]).var_i32(), Some(-2));
    assert_eq!(Src(&[4]).var_i32(), Some(2));
}
