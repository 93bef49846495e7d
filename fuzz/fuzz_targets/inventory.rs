//! The inventory parser (a hand-edited file on the machine): never panics; what it reads it
//! writes back readable and unchanged, unknown fields kept.
#![no_main]
use iupack_stub::json::{self, ToJson};
use iupack_stub::machine::inventory::Inventory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = json::from_slice::<Inventory>(data) {
        let text = inv.to_json().to_pretty();
        let again: Inventory = json::from_slice(text.as_bytes()).expect("re-parses");
        assert_eq!(again.to_json().to_pretty(), text);
        let _ = iupack_stub::machine::hooks::Hooks::of(
            inv.products.first().and_then(|p| p.hooks.as_ref()),
            "p",
        );
    }
});
