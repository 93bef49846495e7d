//! The update share's index parser: never panics; whatever it accepts round-trips, and every
//! package file name it accepts is a plain name (no folders, nothing hidden).
#![no_main]
use iupack_stub::format::share_index::Index;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = Index::parse(data) {
        let again = Index::parse(&index.to_json()).expect("an accepted index re-parses");
        assert_eq!(again.to_json(), index.to_json());
        for p in &index.packages {
            assert!(!p.file.contains(['/', '\\']) && !p.file.starts_with('.'));
        }
    }
});
