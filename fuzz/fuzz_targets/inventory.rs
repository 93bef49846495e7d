//! The inventory parser (a hand-edited file on the machine): never panics; what it reads it
//! writes back readable, unknown fields kept.
#![no_main]
use iupack_stub::inventory::Inventory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = serde_json::from_slice::<Inventory>(data) {
        let bytes = serde_json::to_vec_pretty(&inv).expect("serializes");
        let again: Inventory = serde_json::from_slice(&bytes).expect("re-parses");
        assert_eq!(
            serde_json::to_vec(&again).expect("serializes"),
            serde_json::to_vec(&inv).expect("serializes")
        );
        let _ =
            iupack_stub::hooks::Hooks::of(inv.products.first().and_then(|p| p.hooks.as_ref()), "p");
    }
});
