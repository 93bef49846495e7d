//! Versions and version ranges (docs/design.md §4). Pure values; never touches the disk.
//!
//! A version is 1 to 6 dotted unsigned integers, compared part by part with missing parts as 0,
//! so `12.1` equals `12.1.0`. A range is comma-separated comparators (`>=3.7, <4`); `*` is any.
//! The original spelling of a version is kept for display and round-trips.

use std::cmp::Ordering;
use std::fmt;

const MAX_PARTS: usize = 6;

/// A dotted version such as `3.7.70` or `2026.11.24.1`.
#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<u64>,
    text: String,
}

impl Version {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a version: use 1 to 6 dotted numbers, such as 3.7.70");
        if s.is_empty() || s.len() > 128 {
            return Err(bad());
        }
        let mut parts = Vec::new();
        for p in s.split('.') {
            if p.is_empty() || p.len() > 19 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            parts.push(p.parse::<u64>().map_err(|_| bad())?);
        }
        if parts.len() > MAX_PARTS {
            return Err(bad());
        }
        Ok(Version {
            parts,
            text: s.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn part(&self, i: usize) -> u64 {
        self.parts.get(i).copied().unwrap_or(0)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (0..MAX_PARTS)
            .map(|i| self.part(i).cmp(&other.part(i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

crate::json::as_text!(Version);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A version range: all comparators must hold. Empty (or `*`) matches every version.
#[derive(Debug, Clone)]
pub struct VersionReq {
    terms: Vec<(Op, Version)>,
    text: String,
}

impl VersionReq {
    pub fn any() -> Self {
        VersionReq {
            terms: Vec::new(),
            text: "*".to_string(),
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let trimmed = s.trim();
        if trimmed == "*" || trimmed.is_empty() {
            return Ok(VersionReq {
                terms: Vec::new(),
                text: s.to_string(),
            });
        }
        let mut terms = Vec::new();
        for term in trimmed.split(',') {
            let term = term.trim();
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("==", Op::Eq),
                ("!=", Op::Ne),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| term.strip_prefix(p).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, term));
            let v = Version::parse(rest.trim()).map_err(|_| {
                format!("`{s}` is not a version range: use comparators such as `>=3.7, <4`")
            })?;
            terms.push((op, v));
        }
        Ok(VersionReq {
            terms,
            text: s.to_string(),
        })
    }

    pub fn matches(&self, v: &Version) -> bool {
        self.terms.iter().all(|(op, want)| match op {
            Op::Eq => v == want,
            Op::Ne => v != want,
            Op::Lt => v < want,
            Op::Le => v <= want,
            Op::Gt => v > want,
            Op::Ge => v >= want,
        })
    }
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

crate::json::as_text!(VersionReq);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect("valid version")
    }

    #[test]
    fn compares_numerically_with_missing_parts_as_zero() {
        assert!(v("3.7.70") > v("3.7.8"));
        assert_eq!(v("12.1"), v("12.1.0.0"));
        assert!(v("2026.11.24.1") > v("2026.11.23.9"));
        assert!(v("1") < v("1.0.0.1"));
    }

    #[test]
    fn rejects_bad_versions() {
        for bad in ["", "1..2", "a.b", "1.2.3.4.5.6.7", "-1", "1.2 ", "v1"] {
            assert!(Version::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn ranges() {
        let r = VersionReq::parse(">=12.0, <13").expect("valid range");
        assert!(r.matches(&v("12")));
        assert!(r.matches(&v("12.9.9")));
        assert!(!r.matches(&v("13.0")));
        assert!(!r.matches(&v("11.99")));
        assert!(VersionReq::parse("*").expect("any").matches(&v("0")));
        assert!(VersionReq::parse("3.7")
            .expect("exact")
            .matches(&v("3.7.0")));
        assert!(VersionReq::parse(">=x").is_err());
    }
}
