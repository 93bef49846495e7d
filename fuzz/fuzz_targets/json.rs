//! The stub's JSON reader (every document it reads goes through it): never panics, and what it
//! accepts it writes back (compact and pretty) to text that reads as the same value. Where
//! serde_json also accepts the input, both agree on the strings and the shape.
#![no_main]
use iupack_stub::json::{self, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ours = json::parse(data);
    if let Ok(v) = &ours {
        for text in [v.to_compact(), v.to_pretty()] {
            assert_eq!(&json::parse(text.as_bytes()).expect("re-parses"), v);
        }
    }
    // serde_json accepts what we accept, except duplicate keys (we refuse them) and numbers it
    // can't hold; we accept what it accepts up to the same cases.
    if let (Ok(v), Ok(theirs)) = (&ours, serde_json::from_slice::<serde_json::Value>(data)) {
        assert!(same(v, &theirs), "{v:?} vs {theirs:?}");
    }
});

fn same(a: &Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (Value::Null, serde_json::Value::Null) => true,
        (Value::Bool(x), serde_json::Value::Bool(y)) => x == y,
        (Value::Number(_), serde_json::Value::Number(_)) => true,
        (Value::String(x), serde_json::Value::String(y)) => x == y,
        (Value::Array(x), serde_json::Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), serde_json::Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}
