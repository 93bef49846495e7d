//! `normalise IN OUT [hdr,eh,cid,sym,add,pdata|all|none]`: IN with the named normalisations of
//! the `zucchini-norm-xz` codec (all when none are named), made by the stub's own `normalise`,
//! after checking that `denormalise` gives IN back; prints how many bytes each one changes
//! alone. bench/run-norm-probe.sh measures each one's gain with it.

use iupack_stub::format::codecs::zucchini::{self as z, elfnorm, penorm};

const NAMES: [(&str, u64); 6] = [
    ("hdr", elfnorm::HDR),
    ("eh", elfnorm::EH),
    ("cid", elfnorm::CID),
    ("sym", elfnorm::SYM),
    ("add", elfnorm::ADD),
    ("pdata", penorm::PDATA),
];

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 3 && a.len() != 4 {
        eprintln!("usage: normalise IN OUT [hdr,eh,cid,sym,add,pdata|all|none]");
        std::process::exit(2);
    }
    let set = match a.get(3).map(String::as_str) {
        None | Some("all") => z::NORM_ALL,
        Some("none") => 0,
        Some(list) => list.split(',').fold(0, |set, n| {
            let bit = NAMES.iter().find(|(name, _)| *name == n);
            set | bit.unwrap_or_else(|| panic!("no normalisation {n}")).1
        }),
    };
    let orig = std::fs::read(&a[1]).expect("cannot read IN");
    for (name, bit) in NAMES {
        let mut img = orig.clone();
        z::normalise(&mut img, bit);
        let changed = img.iter().zip(&orig).filter(|(x, y)| x != y).count();
        z::denormalise(&mut img, bit);
        assert!(img == orig, "{name} does not come back");
        eprintln!("{name}: {changed} bytes changed");
    }
    let mut img = orig.clone();
    z::normalise(&mut img, set);
    let out = img.clone();
    z::denormalise(&mut img, set);
    assert!(img == orig, "the set does not come back");
    std::fs::write(&a[2], out).expect("cannot write OUT");
}
