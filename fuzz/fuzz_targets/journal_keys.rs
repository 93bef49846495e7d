//! The commit journal parser and key-transition statements: never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iupack_stub::json::from_slice::<iupack_stub::machine::journal::Journal>(data);
    let _ = iupack_stub::format::keys::Transition::parse(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = iupack_stub::format::signature::peek_comment(s);
        let _ = iupack_stub::format::signature::public_key_from_text(s);
        let _ = iupack_stub::format::relpath::RelPath::parse(s);
    }
});
