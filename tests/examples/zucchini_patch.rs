//! `zucchini_patch OLD NEW PATCH`: the reference Zucchini patch from OLD to NEW (Chromium's
//! generator through the `zucchini` crate, as the builder makes it), for bench/run-norm-probe.sh.

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: zucchini_patch OLD NEW PATCH");
        std::process::exit(2);
    }
    let old = std::fs::read(&a[1]).expect("cannot read OLD");
    let new = std::fs::read(&a[2]).expect("cannot read NEW");
    let patch = zucchini::generate(&old, &new).expect("Zucchini made no patch");
    std::fs::write(&a[3], patch).expect("cannot write PATCH");
}
