//! The manifest parser and validator: never panics; whatever it accepts round-trips.
#![no_main]
use iupack_stub::format::manifest::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data) {
        let again = Manifest::parse(&m.to_json()).expect("an accepted manifest re-parses");
        assert_eq!(again.to_json(), m.to_json());
        for c in &m.components {
            let _ = c.full_size();
            for d in &c.deltas {
                let _ = d.payload_size();
            }
        }
    }
});
