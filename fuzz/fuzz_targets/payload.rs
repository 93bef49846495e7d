//! Finding the payload in a file and reading its manifest, signature and key transitions, then
//! verification against a fixed key: never panics, never reads unbounded amounts.
#![no_main]
use iupack_stub::format::package::{Expect, Package};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

const KEY: &str = "RWQR7B5w2ePomGVATymbiLkOwHOYZFASTxjYqVkR7T7677aBhHokhYX9";

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("iupack-fuzz-payload-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).expect("temp file");
    f.write_all(data).expect("write");
    drop(f);
    for expect in [Expect::MaybeBare, Expect::Package] {
        if let Ok(Some(mut pkg)) = Package::open(&path, expect) {
            let _ = pkg.claimed();
            let _ = pkg.entries();
            if let Ok(ts) = pkg.key_transitions() {
                let _ = iupack_stub::format::keys::follow("acme-av", &ts, &[KEY.to_string()], &[]);
            }
            if let Ok(mut vp) = pkg.verify(&[KEY.to_string()], &[], "fuzz") {
                let _ = vp.verify_content();
            }
        }
    }
});
