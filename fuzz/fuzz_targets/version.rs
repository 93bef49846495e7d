//! Versions and ranges: parsing never panics; ordering is a total order consistent with
//! equality; display re-parses to the same value; a range's verdict survives a round trip.
#![no_main]
use iupack_stub::format::version::{Version, VersionReq};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = s.splitn(3, '\n');
    let (a, b, r) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let va = Version::parse(a);
    let vb = Version::parse(b);
    if let Ok(v) = &va {
        assert_eq!(Version::parse(&v.to_string()).as_ref(), Ok(v));
    }
    if let (Ok(x), Ok(y)) = (&va, &vb) {
        assert_eq!(x.cmp(y), y.cmp(x).reverse());
        assert_eq!(x == y, x.cmp(y) == std::cmp::Ordering::Equal);
    }
    if let Ok(req) = VersionReq::parse(r) {
        let again = VersionReq::parse(&req.to_string()).expect("a shown range re-parses");
        for v in [&va, &vb].into_iter().flatten() {
            assert_eq!(req.matches(v), again.matches(v));
        }
    }
});
