//! The ELF normalisations of `zucchini-norm-xz` (`elfnorm`) on hostile images: `forward` and
//! `inverse` never panic (fuzz/run.sh builds with overflow checks) and keep the size, and the
//! rewrites that read no table they change (HDR, SYM, ADD) always come back exactly. (EH and
//! CID come back for the files the builder proves: it applies every patch before it uses it.)
//!
//! Input: one byte of normalisation set, then the image.
#![no_main]
use iupack_stub::format::codecs::zucchini::elfnorm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&set, img)) = data.split_first() else {
        return;
    };
    let set = u64::from(set);
    let mut x = img.to_vec();
    elfnorm::forward(&mut x, set);
    elfnorm::inverse(&mut x, set);
    assert_eq!(x.len(), img.len());
    let exact = set & (elfnorm::HDR | elfnorm::SYM | elfnorm::ADD);
    let mut x = img.to_vec();
    elfnorm::forward(&mut x, exact);
    elfnorm::inverse(&mut x, exact);
    assert!(x == img, "set {exact} does not come back");
});
