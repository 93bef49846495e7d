//! `elfnorm IN OUT`: IN with every normalisation of the `zucchini-norm-xz` codec (the stub's
//! own `elfnorm::forward`), after checking that `inverse` gives IN back; prints how many bytes
//! each normalisation changed. For bench/run-elfnorm-probe.sh and for reading a program's tables.

use iupack_stub::format::codecs::zucchini::elfnorm;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 3 {
        eprintln!("usage: elfnorm IN OUT");
        std::process::exit(2);
    }
    let orig = std::fs::read(&a[1]).expect("cannot read IN");
    for (name, bit) in [
        ("hdr", elfnorm::HDR),
        ("eh", elfnorm::EH),
        ("cid", elfnorm::CID),
        ("sym", elfnorm::SYM),
        ("add", elfnorm::ADD),
    ] {
        let mut img = orig.clone();
        elfnorm::forward(&mut img, bit);
        let changed = img.iter().zip(&orig).filter(|(x, y)| x != y).count();
        elfnorm::inverse(&mut img, bit);
        assert!(img == orig, "{name} does not come back");
        println!("{name}: {changed} bytes changed");
    }
    let mut img = orig.clone();
    elfnorm::forward(&mut img, elfnorm::ALL);
    let out = img.clone();
    elfnorm::inverse(&mut img, elfnorm::ALL);
    assert!(img == orig, "all together do not come back");
    std::fs::write(&a[2], out).expect("cannot write OUT");
}
