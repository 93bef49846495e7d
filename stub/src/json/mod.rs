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

pub mod sorted;

use crate::json::sorted::SortedMap;
use std::path::PathBuf;

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

/// Parses one JSON document.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let src =
        std::str::from_utf8(bytes).map_err(|e| located(bytes, e.valid_up_to(), "not UTF-8"))?;
    let mut p = Parser {
        src,
        s: src.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

/// `what at line L column C`, for byte `i` of `input`.
fn located(input: &[u8], i: usize, what: &str) -> String {
    let before = &input[..i.min(input.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
    format!("{what} at line {line} column {}", col + 1)
}

struct Parser<'a> {
    /// The input, checked UTF-8 once; `s` is its bytes.
    src: &'a str,
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&mut self, what: &str) -> String {
        located(self.s, self.i, what)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, word: &str) -> Result<(), String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end of input")),
            Some(b'n') => self.eat("null").map(|()| Value::Null),
            Some(b't') => self.eat("true").map(|()| Value::Bool(true)),
            Some(b'f') => self.eat("false").map(|()| Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => {
                self.nest()?;
                let mut a = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        a.push(self.value()?);
                        if self.close(b']')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Ok(Value::Array(a))
            }
            Some(b'{') => {
                self.nest()?;
                let mut m: Map = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        if self.s.get(self.i) != Some(&b'"') {
                            return Err(self.err("expected a key"));
                        }
                        let key = self.string()?;
                        // Small objects (every struct) check as they go; large ones once, sorted,
                        // so a huge object can't make the check quadratic.
                        if m.len() < 32 && m.iter().any(|(k, _)| *k == key) {
                            return Err(self.err(&format!("key `{key}` given twice")));
                        }
                        self.ws();
                        if self.s.get(self.i) != Some(&b':') {
                            return Err(self.err("expected `:`"));
                        }
                        self.i += 1;
                        let v = self.value()?;
                        m.push((key, v));
                        if self.close(b'}')? {
                            break;
                        }
                    }
                }
                if m.len() > 32 {
                    let mut keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
                    keys.sort_unstable();
                    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
                        return Err(self.err(&format!("key `{}` given twice", w[0])));
                    }
                }
                self.depth -= 1;
                Ok(Value::Object(m))
            }
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn nest(&mut self) -> Result<(), String> {
        self.i += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        Ok(())
    }

    /// After a member: `,` (more follow) or the closing bracket (true).
    fn close(&mut self, end: u8) -> Result<bool, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b',') => {
                self.i += 1;
                Ok(false)
            }
            Some(&b) if b == end => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(self.err(if end == b']' {
                "expected `,` or `]`"
            } else {
                "expected `,` or `}`"
            })),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        let int_start = self.i;
        let n = self.digits();
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return Err(self.err("invalid number"));
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        Ok(Value::Number(self.text(start).to_string()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..4 {
            let d = self
                .s
                .get(self.i)
                .and_then(|&b| (b as char).to_digit(16))
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        let mut start = self.i;
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' => {
                    out.push_str(self.text(start));
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(self.text(start));
                    self.i += 1;
                    let e = self.s.get(self.i).copied().unwrap_or(0);
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(code)
                                .ok_or_else(|| self.err("lone surrogate in \\u escape"))?
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.err("invalid escape"));
                        }
                    };
                    out.push(c);
                    start = self.i;
                }
                0..=0x1f => return Err(self.err("control character in a string")),
                _ => self.i += 1,
            }
        }
    }

    /// The input from `start` to here: both ends sit at ASCII bytes, so on character boundaries
    /// of the input already checked as UTF-8 (no second check of the bytes).
    fn text(&self, start: usize) -> &str {
        self.src.get(start..self.i).unwrap_or_default()
    }
}

/// Why a document's value is not what a field needs, and where: `components[2].full[0].size:
/// expected a non-negative integer, found a string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    path: String,
    msg: String,
}

impl JsonError {
    pub fn new(msg: impl Into<String>) -> JsonError {
        JsonError {
            path: String::new(),
            msg: msg.into(),
        }
    }

    /// The same error, found inside `key` (a field name, or `[3]`).
    fn inside(mut self, key: &str) -> JsonError {
        let sep = if self.path.is_empty() || self.path.starts_with('[') || key.is_empty() {
            ""
        } else {
            "."
        };
        self.path = format!("{key}{sep}{}", self.path);
        self
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.msg)
        } else {
            write!(f, "{}: {}", self.path, self.msg)
        }
    }
}

impl From<String> for JsonError {
    fn from(msg: String) -> JsonError {
        JsonError::new(msg)
    }
}

/// Reads a document's values into Rust types.
pub trait FromJson: Sized {
    fn from_json(v: &Value) -> Result<Self, JsonError>;
}

/// Writes a Rust value as JSON.
pub trait ToJson {
    fn to_json(&self) -> Value;
}

/// Parses `bytes` as one `T`.
pub fn from_slice<T: FromJson>(bytes: &[u8]) -> Result<T, String> {
    T::from_json(&parse(bytes)?).map_err(|e| e.to_string())
}

pub(crate) fn expected(what: &str, v: &Value) -> JsonError {
    JsonError::new(format!("expected {what}, found {}", v.kind()))
}

/// JSON strings for a type with `parse(&str) -> Result<Self, String>` and `Display`.
macro_rules! as_text {
    ($t:ty) => {
        impl $crate::json::FromJson for $t {
            fn from_json(v: &$crate::json::Value) -> Result<Self, $crate::json::JsonError> {
                let s = v
                    .as_str()
                    .ok_or_else(|| $crate::json::expected("a string", v))?;
                <$t>::parse(s).map_err($crate::json::JsonError::new)
            }
        }
        impl $crate::json::ToJson for $t {
            fn to_json(&self) -> $crate::json::Value {
                $crate::json::Value::String(self.to_string())
            }
        }
        // The builder reads these from TOML specs with serde (never in the stub binary).
        #[cfg(feature = "write")]
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
        #[cfg(feature = "write")]
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }
    };
}
pub(crate) use as_text;

/// `FromJson` and `ToJson` for a struct with named fields, each of a kind:
/// - `req`: must be there; always written;
/// - `opt`: an `Option`, may be missing or null; written only when `Some`;
/// - `null`: an `Option`, may be missing or null; always written (`null` for `None`);
/// - `list`: a `Vec` or map, may be missing; written only when not empty;
/// - `dflt`: may be missing (then `Default`); always written;
/// - `flag`: a `bool`, may be missing (false); written only when true.
///
/// Then what happens to fields the struct does not name: `deny` refuses them, `ignore` drops
/// them, `keep(field)` keeps them in `field: Map` and writes them back after the named ones.
macro_rules! object {
    (@read $f:ident, req, $k:expr) => { $f.req($k)? };
    (@read $f:ident, opt, $k:expr) => { $f.opt($k)? };
    (@read $f:ident, null, $k:expr) => { $f.opt($k)? };
    (@read $f:ident, list, $k:expr) => { $f.or_default($k)? };
    (@read $f:ident, dflt, $k:expr) => { $f.or_default($k)? };
    (@read $f:ident, flag, $k:expr) => { $f.or_default($k)? };
    (@write $o:ident, req, $k:expr, $v:expr) => { $o.put($k, &$v) };
    (@write $o:ident, opt, $k:expr, $v:expr) => { $o.put_opt($k, &$v) };
    (@write $o:ident, null, $k:expr, $v:expr) => { $o.put($k, &$v) };
    (@write $o:ident, list, $k:expr, $v:expr) => { $o.put_if(!$v.is_empty(), $k, &$v) };
    (@write $o:ident, dflt, $k:expr, $v:expr) => { $o.put($k, &$v) };
    (@write $o:ident, flag, $k:expr, $v:expr) => { $o.put_if($v, $k, $v) };
    ($t:ident, keep($extra:ident), { $($field:ident : $kind:ident),* $(,)? }) => {
        impl $crate::json::FromJson for $t {
            #[inline(never)]
            fn from_json(v: &$crate::json::Value) -> Result<Self, $crate::json::JsonError> {
                let mut f = $crate::json::Fields::of(v)?;
                $( let $field = $crate::json::object!(@read f, $kind, stringify!($field)); )*
                Ok($t { $($field,)* $extra: f.rest() })
            }
        }
        impl $crate::json::ToJson for $t {
            fn to_json(&self) -> $crate::json::Value {
                let o = $crate::json::Obj::new();
                $( let o = $crate::json::object!(@write o, $kind, stringify!($field), self.$field); )*
                o.extend(&self.$extra).build()
            }
        }
    };
    ($t:ident, $mode:ident, { $($field:ident : $kind:ident),* $(,)? }) => {
        impl $crate::json::FromJson for $t {
            #[inline(never)]
            fn from_json(v: &$crate::json::Value) -> Result<Self, $crate::json::JsonError> {
                let mut f = $crate::json::Fields::of(v)?;
                $( let $field = $crate::json::object!(@read f, $kind, stringify!($field)); )*
                $crate::json::object!(@end f, $mode);
                Ok($t { $($field,)* })
            }
        }
        impl $crate::json::ToJson for $t {
            fn to_json(&self) -> $crate::json::Value {
                let o = $crate::json::Obj::new();
                $( let o = $crate::json::object!(@write o, $kind, stringify!($field), self.$field); )*
                o.build()
            }
        }
    };
    (@end $f:ident, deny) => { $f.deny_unknown()? };
    (@end $f:ident, ignore) => { drop($f) };
}
pub(crate) use object;

impl FromJson for String {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| expected("a string", v))
    }
}

impl FromJson for u64 {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        v.as_u64()
            .ok_or_else(|| expected("a non-negative integer", v))
    }
}

impl FromJson for u32 {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| expected("a non-negative 32-bit integer", v))
    }
}

impl FromJson for i32 {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        match v {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| expected("a 32-bit integer", v))
    }
}

impl FromJson for bool {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        v.as_bool().ok_or_else(|| expected("true or false", v))
    }
}

impl FromJson for PathBuf {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        String::from_json(v).map(PathBuf::from)
    }
}

impl FromJson for Value {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        Ok(v.clone())
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        let a = v.as_array().ok_or_else(|| expected("an array", v))?;
        // A plain loop: `collect` into a `Result` costs several KB of stub per element type.
        let mut out = Vec::with_capacity(a.len());
        for (i, x) in a.iter().enumerate() {
            out.push(T::from_json(x).map_err(|e| e.inside(&format!("[{i}]")))?);
        }
        Ok(out)
    }
}

impl<T: FromJson> FromJson for SortedMap<T> {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        let m = v.as_object().ok_or_else(|| expected("an object", v))?;
        let mut out = SortedMap::new();
        for (k, x) in m {
            out.insert(k.clone(), T::from_json(x).map_err(|e| e.inside(k))?);
        }
        Ok(out)
    }
}

impl ToJson for str {
    fn to_json(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl ToJson for String {
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ToJson for u64 {
    fn to_json(&self) -> Value {
        Value::Number(self.to_string())
    }
}

impl ToJson for u32 {
    fn to_json(&self) -> Value {
        Value::Number(self.to_string())
    }
}

impl ToJson for i32 {
    fn to_json(&self) -> Value {
        Value::Number(self.to_string())
    }
}

impl ToJson for usize {
    fn to_json(&self) -> Value {
        Value::Number(self.to_string())
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToJson for PathBuf {
    fn to_json(&self) -> Value {
        Value::String(self.to_string_lossy().into_owned())
    }
}

impl ToJson for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn to_json(&self) -> Value {
        (**self).to_json()
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_json)
    }
}

impl<T: ToJson> ToJson for [T] {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(T::to_json).collect())
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        self.as_slice().to_json()
    }
}

impl<T: ToJson> ToJson for SortedMap<T> {
    fn to_json(&self) -> Value {
        Value::Object(self.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
    }
}

/// An object being read field by field: each field is taken once; `deny_unknown` refuses what
/// is left, `rest` keeps it (fields a newer tool added to an inventory).
#[derive(Debug)]
pub struct Fields<'a> {
    map: &'a Map,
    taken: Vec<bool>,
}

impl<'a> Fields<'a> {
    pub fn of(v: &'a Value) -> Result<Fields<'a>, JsonError> {
        let map = v.as_object().ok_or_else(|| expected("an object", v))?;
        Ok(Fields {
            map,
            taken: vec![false; map.len()],
        })
    }

    #[inline(never)]
    fn take(&mut self, key: &str) -> Option<&'a Value> {
        let i = self.map.iter().position(|(k, _)| k == key)?;
        self.taken[i] = true;
        Some(&self.map[i].1)
    }

    /// A field that must be there.
    #[inline(never)]
    pub fn req<T: FromJson>(&mut self, key: &str) -> Result<T, JsonError> {
        let v = self
            .take(key)
            .ok_or_else(|| JsonError::new(format!("missing field `{key}`")))?;
        T::from_json(v).map_err(|e| e.inside(key))
    }

    /// A field that may be missing or null.
    #[inline(never)]
    pub fn opt<T: FromJson>(&mut self, key: &str) -> Result<Option<T>, JsonError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::from_json(v).map(Some).map_err(|e| e.inside(key)),
        }
    }

    /// A field that may be missing or null, then `T::default()`.
    #[inline(never)]
    pub fn or_default<T: FromJson + Default>(&mut self, key: &str) -> Result<T, JsonError> {
        Ok(self.opt(key)?.unwrap_or_default())
    }

    /// Refuses fields not taken.
    pub fn deny_unknown(self) -> Result<(), JsonError> {
        match self.taken.iter().position(|t| !t) {
            Some(i) => Err(JsonError::new(format!("unknown field `{}`", self.map[i].0))),
            None => Ok(()),
        }
    }

    /// The fields not taken, in order.
    pub fn rest(self) -> Map {
        self.map
            .iter()
            .zip(self.taken)
            .filter(|(_, t)| !t)
            .map(|(kv, _)| kv.clone())
            .collect()
    }
}

/// An object being written, in field order.
#[derive(Debug, Default)]
pub struct Obj(Map);

impl Obj {
    pub fn new() -> Obj {
        Obj(Vec::new())
    }

    pub fn put(mut self, key: &str, v: impl ToJson) -> Obj {
        self.0.push((key.to_string(), v.to_json()));
        self
    }

    /// Leaves the field out when `v` is `None`.
    pub fn put_opt<T: ToJson>(self, key: &str, v: &Option<T>) -> Obj {
        match v {
            Some(v) => self.put(key, v),
            None => self,
        }
    }

    /// Leaves the field out when `keep` is false (an empty list or map).
    pub fn put_if(self, keep: bool, key: &str, v: impl ToJson) -> Obj {
        if keep {
            self.put(key, v)
        } else {
            self
        }
    }

    /// Appends kept fields (`Fields::rest`) after the known ones.
    pub fn extend(mut self, extra: &Map) -> Obj {
        self.0.extend(extra.iter().cloned());
        self
    }

    pub fn build(self) -> Value {
        Value::Object(self.0)
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
        note: Option<String>,
        items: Vec<Inner>,
        on: bool,
        extra: Map,
    }
    object!(Outer, keep(extra), { name: req, note: opt, items: req, on: flag });

    #[test]
    fn typed_fields_say_which_field_is_wrong() {
        let v: Outer =
            from_slice(br#"{"name": "n", "items": [{"size": 1}], "z": [1]}"#).expect("ok");
        assert_eq!(v.note, None);
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
