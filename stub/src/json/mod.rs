//! JSON for the stub's documents (manifest, inventory, journal, report, share index, key
//! transitions): a strict reader, a writer, and typed field access, in a fraction of the code
//! serde_json and serde's derived (de)serialisers took in every package head (issue 7,
//! BENCHMARKS.md "Stub size per target").
//!
//! - Input must be UTF-8 JSON (RFC 8259) with nothing after the value; nesting is limited to 128
//!   levels; an object may not name a key twice (a signed manifest must mean one thing).
//! - Numbers keep their text, so any number in an inventory written by another tool (u64::MAX,
//!   1e400, 0.1) is written back exactly, and the stub carries no float code.
//! - Objects keep their order. The pretty writer lays out like serde_json's (two spaces).

mod fields;
mod read;
pub mod sorted;

pub(crate) use fields::{as_text, expected, object};
pub use fields::{from_slice, Fields, FromJson, JsonError, Obj, ToJson};
pub use read::parse;

/// Nesting deeper than this is refused (serde_json's limit too).
const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number's text, as read (grammar-checked) or written.
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// An object's members, in order.
pub type Map = Vec<(String, Value)>;

static NULL: Value = Value::Null;

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A non-negative integer that fits in a u64 (no fraction, no exponent).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The member `key` of an object; `None` for a missing key or a value that is no object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The member `key`, or null (for reading documents loosely: `v.at("a").at("b")`).
    pub fn at(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// Two-space indented, like serde_json's `to_vec_pretty`.
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(0));
        out
    }

    /// One line, no spaces.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None);
        out
    }

    fn write(&self, out: &mut String, indent: Option<usize>) {
        let newline = |out: &mut String, level: usize| {
            if indent.is_some() {
                out.push('\n');
                for _ in 0..level {
                    out.push_str("  ");
                }
            }
        };
        let inner = indent.map(|l| l + 1);
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(n),
            Value::String(s) => write_str(out, s),
            Value::Array(a) if a.is_empty() => out.push_str("[]"),
            Value::Object(m) if m.is_empty() => out.push_str("{}"),
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, inner.unwrap_or(0));
                    v.write(out, inner);
                }
                newline(out, indent.unwrap_or(0));
                out.push(']');
            }
            Value::Object(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, inner.unwrap_or(0));
                    write_str(out, k);
                    out.push_str(if indent.is_some() { ": " } else { ":" });
                    v.write(out, inner);
                }
                newline(out, indent.unwrap_or(0));
                out.push('}');
            }
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `v["key"]`: the member, or null.
impl std::ops::Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.at(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_json_and_says_where() {
        for (bad, why) in [
            (&b""[..], "unexpected end of input"),
            (b"{\"a\": 1,}", "expected a key"),
            (b"[1, 2,]", "expected a value"),
            (b"{\"a\": 1, \"a\": 2}", "key `a` given twice"),
            (b"\"abc", "unterminated string"),
            (b"\"a\\qb\"", "invalid escape"),
            (b"\"\\ud800\"", "lone surrogate"),
            (b"\"\\udc00\"", "lone surrogate"),
            (b"\"a\tb\"", "control character"),
            (b"01", "invalid number"),
            (b"-", "invalid number"),
            (b"1.", "invalid number"),
            (b"1e", "invalid number"),
            (b"{} x", "trailing characters"),
            (b"tru", "expected a value"),
            (b"\"\xff\"", "not UTF-8"),
            (b"{\"a\" 1}", "expected `:`"),
            (b"[1 2]", "expected `,` or `]`"),
        ] {
            let e = parse(bad).expect_err(&String::from_utf8_lossy(bad));
            assert!(e.contains(why), "{}: {e}", String::from_utf8_lossy(bad));
        }
        let e = parse(b"{\n  \"a\": [1,\n   x]\n}").expect_err("x");
        assert_eq!(e, "expected a value at line 3 column 4");
        // A large object is checked once it is read, in n log n.
        let mut big: String = (0..200_000).map(|i| format!("\"k{i}\": {i},")).collect();
        big.insert(0, '{');
        let unique = format!("{}\"last\": 0}}", big);
        assert_eq!(
            parse(unique.as_bytes())
                .expect("unique keys")
                .as_object()
                .map(Vec::len),
            Some(200_001)
        );
        let twice = format!("{}\"k123456\": 0}}", big);
        assert!(parse(twice.as_bytes())
            .expect_err("dup")
            .contains("key `k123456` given twice"));
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes())
            .expect_err("deep")
            .contains("nested too deeply"));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn reads_strings_and_numbers_exactly() {
        let v = parse(br#" {"s": "a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00z", "n": [0, -0, 1.5e-7, 18446744073709551616, -3E+2]} "#)
            .expect("parses");
        assert_eq!(v["s"].as_str(), Some("a\"\\/\u{8}\u{c}\n\r\té😀z"));
        let n: Vec<String> = v["n"]
            .as_array()
            .expect("array")
            .iter()
            .map(Value::to_compact)
            .collect();
        assert_eq!(n, ["0", "-0", "1.5e-7", "18446744073709551616", "-3E+2"]);
        assert_eq!(v["n"].as_array().expect("array")[3].as_u64(), None);
        assert_eq!(
            parse(b"18446744073709551615").expect("max").as_u64(),
            Some(u64::MAX)
        );
        assert_eq!(parse(b"-1").expect("neg").as_u64(), None);
        assert_eq!(v["missing"]["deeper"], Value::Null);
    }

    #[test]
    fn writes_what_serde_json_wrote() {
        // Keys sorted: serde_json's Value keeps them so, ours as given.
        let text = r#"{"a":[],"b":{},"c":[1,{"d":null,"e":true}],"f":"x\u0001\u001f\"\\\n\t/é","g":-12.5e3}"#;
        let ours = parse(text.as_bytes()).expect("parses");
        let theirs: serde_json::Value = serde_json::from_str(text).expect("serde parses");
        assert_eq!(
            ours.to_compact(),
            serde_json::to_string(&theirs)
                .expect("json")
                .replace("-12500.0", "-12.5e3")
        );
        assert_eq!(
            ours.to_pretty(),
            serde_json::to_string_pretty(&theirs)
                .expect("json")
                .replace("-12500.0", "-12.5e3")
        );
        assert_eq!(parse(ours.to_pretty().as_bytes()).expect("again"), ours);
    }

    #[derive(Debug, PartialEq)]
    struct Inner {
        size: u64,
        tags: Vec<String>,
    }
    object!(Inner, deny, { size: req, tags: list });

    #[derive(Debug, PartialEq)]
    struct Outer {
        name: String,
        version: Option<String>,
        items: Vec<Inner>,
        on: bool,
        extra: Map,
    }
    object!(Outer, keep(extra), { name: req, version: opt, items: req, on: flag });

    #[test]
    fn a_near_miss_is_a_typo_only_of_a_missing_known_field() {
        // Beside the field it resembles, or far from every field, an unknown field is kept.
        let v: Outer = from_slice(br#"{"name": "n", "items": [], "version": "a", "verison": 1}"#)
            .expect("kept beside version");
        assert_eq!(v.extra.len(), 1);
        let v: Outer =
            from_slice(br#"{"name": "n", "items": [], "vendor": 1, "nt": 2}"#).expect("kept");
        assert_eq!(v.extra.len(), 2);
        for (a, b, near) in [
            ("version", "verison", true),
            ("version", "versio", true),
            ("version", "versions", true),
            ("version", "verzion", true),
            ("trusted_keys", "trusted_key", true),
            ("version", "vers", false),
            ("version", "noisrev", false),
            ("exec", "exe", false),
            ("path", "path", false),
        ] {
            assert_eq!(
                fields::one_edit(a.as_bytes(), b.as_bytes()),
                near,
                "{a} {b}"
            );
            assert_eq!(
                fields::one_edit(b.as_bytes(), a.as_bytes()),
                near,
                "{b} {a}"
            );
        }
    }

    #[test]
    fn typed_fields_say_which_field_is_wrong() {
        let v: Outer =
            from_slice(br#"{"name": "n", "items": [{"size": 1}], "z": [1]}"#).expect("ok");
        assert_eq!(v.version, None);
        assert!(!v.on);
        assert_eq!(
            v.items,
            [Inner {
                size: 1,
                tags: vec![]
            }]
        );
        assert_eq!(
            v.extra,
            vec![("z".to_string(), parse(b"[1]").expect("json"))]
        );
        assert_eq!(
            v.to_json().to_compact(),
            r#"{"name":"n","items":[{"size":1}],"z":[1]}"#
        );
        for (bad, why) in [
            (&br#"{"items": []}"#[..], "missing field `name`"),
            (
                br#"{"name": 1, "items": []}"#,
                "name: expected a string, found a number",
            ),
            (
                br#"{"name": "n", "items": [{"size": 1}, {"size": "2"}]}"#,
                "items[1].size: expected a non-negative integer, found a string",
            ),
            (
                br#"{"name": "n", "items": [{"size": 1, "tags": ["a", 3]}]}"#,
                "items[0].tags[1]: expected a string, found a number",
            ),
            (
                br#"{"name": "n", "items": [{"size": 1, "x": 0}]}"#,
                "items[0]: unknown field `x`",
            ),
            (
                br#"{"name": "n", "items": [], "on": "yes"}"#,
                "on: expected true or false, found a string",
            ),
            // Issue 20: in an object that keeps unknown fields, one edit from a known field that
            // is not there is a typo; an object that refuses them names the field only.
            (
                br#"{"name": "n", "items": [], "verison": "x"}"#,
                "unknown field `verison`: did you mean `version`?",
            ),
            (br#"{"name": "n", "itmes": []}"#, "missing field `items`"),
            (
                br#"{"name": "n", "items": [{"size": 1, "tagss": []}]}"#,
                "items[0]: unknown field `tagss`",
            ),
            (br#"[]"#, "expected an object, found an array"),
        ] {
            let e = from_slice::<Outer>(bad).expect_err(why);
            assert_eq!(e, why);
        }
    }
    /// A bounded stand-in for the `json` fuzz target, run with every `cargo test`: mutated
    /// documents never panic the reader; what it accepts reads back the same from its own output,
    /// and where serde_json accepts the input too, both read the same strings and shape.
    #[test]
    fn mutated_documents_never_panic_and_round_trip() {
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
                    x.len() == y.len()
                        && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
                }
                _ => false,
            }
        }
        let seeds: [&[u8]; 3] = [
            br#"{"format": 1, "package": {"id": "a-1", "created": "2026-11-30T00:00:00Z", "stub": {"size": 12, "sha256": "ab"}}, "components": [{"name": "e", "version": "1.0", "full": [{"path": "x/y", "size": 0, "mode": 420}]}]}"#,
            br#"[null, true, false, -0.5e+3, "\u00e9\ud83d\ude00\n", {}, [], {"a": {"b": [1, 2, {"c": "d"}]}}]"#,
            br#"{"products": [{"id": "p", "keep_previous": 18446744073709551615}], "x": 1e400}"#,
        ];
        let alphabet = b"{}[]\":,0123456789-+.eEtrufalsn \\u\x00\xff\x1f\xc3\xa9";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut accepted, mut agreed) = (0, 0);
        for round in 0..30_000 {
            let mut doc = seeds[round % seeds.len()].to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() % (doc.len() as u64 + 1)) as usize;
                let b = alphabet[(next() % alphabet.len() as u64) as usize];
                match next() % 3 {
                    0 if at < doc.len() => doc[at] = b,
                    1 if at < doc.len() => {
                        doc.remove(at);
                    }
                    _ => doc.insert(at, b),
                }
            }
            let ours = parse(&doc);
            if let Ok(v) = &ours {
                accepted += 1;
                for text in [v.to_compact(), v.to_pretty()] {
                    assert_eq!(&parse(text.as_bytes()).expect("re-parses"), v);
                }
            }
            if let (Ok(v), Ok(theirs)) = (&ours, serde_json::from_slice::<serde_json::Value>(&doc))
            {
                agreed += 1;
                assert!(same(v, &theirs), "{}", String::from_utf8_lossy(&doc));
            }
        }
        assert!(
            accepted > 1_000 && agreed > 1_000,
            "{accepted} accepted, {agreed} compared"
        );
    }
}
