//! The typed field layer over `Value`: `FromJson` and `ToJson` for the stub's documents, the
//! `object!` macro that derives both for a struct (unknown fields refused or kept, as each
//! document's contract says), `Fields` for reading an object field by field and `Obj` for
//! building one. Errors name the field path (`components[1].version`). Never reads bytes.

use super::sorted::SortedMap;
use super::{parse, Map, Value};
use std::path::PathBuf;

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
    pub fn inside(mut self, key: &str) -> JsonError {
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
/// - `flag`: a `bool`, may be missing (false); written only when true;
/// - `skip`: not in the JSON at all (`Default` when read; refused if it is there, under `deny`).
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
    (@read $f:ident, skip, $k:expr) => { Default::default() };
    (@write $o:ident, req, $k:expr, $v:expr) => { $o.put($k, &$v) };
    (@write $o:ident, opt, $k:expr, $v:expr) => { $o.put_opt($k, &$v) };
    (@write $o:ident, null, $k:expr, $v:expr) => { $o.put($k, &$v) };
    (@write $o:ident, list, $k:expr, $v:expr) => { $o.put_if(!$v.is_empty(), $k, &$v) };
    (@write $o:ident, dflt, $k:expr, $v:expr) => { $o.put($k, &$v) };
    (@write $o:ident, flag, $k:expr, $v:expr) => { $o.put_if($v, $k, $v) };
    (@write $o:ident, skip, $k:expr, $v:expr) => { $o };
    ($t:ident, keep($extra:ident), { $($field:ident : $kind:ident),* $(,)? }) => {
        impl $crate::json::FromJson for $t {
            #[inline(never)]
            fn from_json(v: &$crate::json::Value) -> Result<Self, $crate::json::JsonError> {
                let mut f = $crate::json::Fields::of_known(v, &[$(stringify!($field)),*])?;
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

    /// `of` for an object whose unknown fields are kept: first refuses an unknown field one edit
    /// away from a `known` one that is not there (`verison`, `trusted_key`) as the typo it is,
    /// never read as absent; only for the fields whose absence changes what a run does
    /// (`TYPO_CHECKED`: a vendor's `installer` beside no `installed` is the vendor's own). Before
    /// any field is read (nothing to undo on the way out).
    #[inline(never)]
    pub fn of_known(v: &'a Value, known: &[&str]) -> Result<Fields<'a>, JsonError> {
        let f = Fields::of(v)?;
        let has = |name: &str| f.map.iter().any(|(k, _)| k == name);
        for (k, _) in f.map {
            if let Some(m) = known.iter().find(|m| {
                TYPO_CHECKED.contains(m) && one_edit(k.as_bytes(), m.as_bytes()) && !has(m)
            }) {
                return Err(JsonError::new(format!(
                    "unknown field `{}`: did you mean `{m}`?",
                    k.escape_debug()
                )));
            }
        }
        Ok(f)
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

/// The inventory's fields whose absence would be read as something else: no version is "not
/// installed" (a full install), no keys "trust nothing", no floor "no floor", no path a missing
/// component.
const TYPO_CHECKED: [&str; 6] = [
    "version",
    "trusted_keys",
    "revoked_keys",
    "floor",
    "path",
    "allow_writable_parent",
];

/// `a` and `b` differ by one edit: a character changed, added, removed, or two neighbours
/// swapped. Names under 4 characters are never typos of each other (`exe` may well be a
/// vendor's own field beside a missing `exec`).
pub(super) fn one_edit(a: &[u8], b: &[u8]) -> bool {
    if a.len().min(b.len()) < 4 {
        return false;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (x, y) = (&a[p..], &b[p..]);
    x != y
        && (x.get(1..) == y.get(1..)
            || x.get(1..) == Some(y)
            || y.get(1..) == Some(x)
            || (x.len() > 1 && y.len() > 1 && x[0] == y[1] && x[1] == y[0] && x[2..] == y[2..]))
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
