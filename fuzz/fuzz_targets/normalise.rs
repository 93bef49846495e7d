//! The normalisations of `zucchini-norm-xz` (`elfnorm`, `penorm`) on hostile images: they never
//! panic (fuzz/run.sh builds with overflow checks) and keep the size, and the rewrites that
//! read no table they change (HDR, SYM, ADD, PDATA) always come back exactly. (EH and CID come
//! back for the files the builder proves: it applies every patch before it uses it.)
//!
//! Input: one byte of normalisation set (bits of `NORM_ALL`), then the image.
#![no_main]
use iupack_stub::format::codecs::zucchini::{self as z, elfnorm, penorm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&set, img)) = data.split_first() else {
        return;
    };
    let set = u64::from(set);
    let mut x = img.to_vec();
    z::normalise(&mut x, set);
    z::denormalise(&mut x, set);
    assert_eq!(x.len(), img.len());
    let exact = set & (elfnorm::HDR | elfnorm::SYM | elfnorm::ADD | penorm::PDATA);
    let mut x = img.to_vec();
    z::normalise(&mut x, exact);
    z::denormalise(&mut x, exact);
    assert!(x == img, "set {exact} does not come back");
});
