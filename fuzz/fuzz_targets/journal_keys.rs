//! The commit journal parser and key-transition statements: never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iupack_stub::json::from_slice::<iupack_stub::journal::Journal>(data);
    let _ = iupack_stub::keys::Transition::parse(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = iupack_stub::signature::peek_comment(s);
        let _ = iupack_stub::signature::public_key_from_text(s);
        let _ = iupack_stub::relpath::RelPath::parse(s);
    }
});
