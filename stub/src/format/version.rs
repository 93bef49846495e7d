//! Versions and version ranges (docs/design.md §4). Pure values; never touches the disk.
//!
//! A version is the text a vendor publishes (`3.7.70`, `2025a`, `0.5.8-rc1`, `v1.2~beta2`,
//! `1.0+build5`): letters, digits and single `.` `-` `~` `+` `_` between them, at most 128
//! characters, with a digit. It is kept as that text (for display, round trips and folder names)
//! and compared on the fly by [`Version::cmp`]: dpkg's order, with `-` marking a pre-release like
//! `~`, a leading `v` ignored and `.0` parts ignored at the end and before a pre-release, so
//! `12.1` equals `12.1.0`. A range is comma-separated comparators (`>=3.7, <4`); `*` is any.

use super::relpath::RelPath;
use std::cmp::Ordering;
use std::fmt;

/// A vendor's version such as `3.7.70`, `2026.11.24.1`, `2025a` or `0.5.8-rc1`.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
}

/// The shape [`Version::parse`] accepts, for error messages.
pub const VERSION_RULE: &str = "letters and digits with single . - ~ + _ between them, a digit among them, at most 128 characters and no Windows device or short name (COM1, 1~2), such as 3.7.70, 2025a, v1.2 or 0.5.8-rc1";

impl Version {
    /// The version `s`, or why not: said once, with the shape accepted. The text is also safe as
    /// a folder name (`previous-VERSION`, the store's release folders): no `/`, `\`, `..`, spaces,
    /// trailing dot or name Windows reserves.
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let mut sep = true; // the byte before is a separator, or this is the start
        let mut ok = b.len() <= 128 && b.iter().any(u8::is_ascii_digit);
        for &c in b {
            let alnum = c.is_ascii_alphanumeric();
            ok &= alnum || !sep && b".-~+_".contains(&c);
            sep = !alnum;
        }
        if !ok || sep || RelPath::parse(s).is_err() {
            return Err(format!(
                "`{}` is not a version: use {VERSION_RULE}",
                s.escape_debug()
            ));
        }
        Ok(Version {
            text: s.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn key(&self) -> Key<'_> {
        let b = self.text.as_bytes();
        Key(
            b,
            matches!(b, [b'v' | b'V', d, ..] if d.is_ascii_digit()) as usize,
        )
    }
}

/// A version's bytes as they are compared: a leading `v` before a digit dropped, and `.0` parts
/// skipped where they end the version or come before a pre-release mark (`~`, `-`).
struct Key<'a>(&'a [u8], usize);

impl Key<'_> {
    /// The byte to compare next (0 at the end); `-` reads as `~`.
    fn peek(&mut self) -> u8 {
        let b = self.0;
        let mut j = self.1;
        while b.get(j) == Some(&b'.') && b.get(j + 1) == Some(&b'0') {
            j += 1;
            while b.get(j) == Some(&b'0') {
                j += 1;
            }
            match b.get(j) {
                None | Some(b'~' | b'-') => self.1 = j,
                Some(b'.') => {}
                _ => break,
            }
        }
        match b.get(self.1) {
            None => 0,
            Some(b'-') => b'~',
            Some(&c) => c,
        }
    }
}

/// dpkg's weight of a byte in a non-digit run: `~` before the end (and digits), the end before
/// letters, letters before other marks.
fn weight(c: u8) -> i32 {
    match c {
        b'~' => -1,
        0 | b'0'..=b'9' => 0,
        b'a'..=b'z' | b'A'..=b'Z' => c as i32,
        _ => c as i32 + 256,
    }
}

impl Ord for Version {
    /// dpkg's `verrevcmp` on the [`Key`]s: non-digit runs compared byte by byte by [`weight`],
    /// digit runs as numbers (of any length).
    fn cmp(&self, other: &Self) -> Ordering {
        let (mut a, mut b) = (self.key(), other.key());
        loop {
            let (mut x, mut y) = (a.peek(), b.peek());
            if x == 0 && y == 0 {
                return Ordering::Equal;
            }
            while !x.is_ascii_digit() && x != 0 || !y.is_ascii_digit() && y != 0 {
                let o = weight(x).cmp(&weight(y));
                if o.is_ne() {
                    return o;
                }
                (a.1, b.1) = (a.1 + 1, b.1 + 1);
                (x, y) = (a.peek(), b.peek());
            }
            while x == b'0' {
                a.1 += 1;
                x = a.peek();
            }
            while y == b'0' {
                b.1 += 1;
                y = b.peek();
            }
            let mut first = Ordering::Equal;
            while x.is_ascii_digit() && y.is_ascii_digit() {
                first = first.then(x.cmp(&y));
                (a.1, b.1) = (a.1 + 1, b.1 + 1);
                (x, y) = (a.peek(), b.peek());
            }
            let o = x.is_ascii_digit().cmp(&y.is_ascii_digit()).then(first);
            if o.is_ne() {
                return o;
            }
        }
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
            let v = Version::parse(rest.trim()).map_err(|e| {
                format!("`{s}` is not a version range (comparators such as `>=3.7, <4`): {e}")
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

    /// Each list is strictly increasing; every pair is checked both ways.
    fn increasing(list: &[&str]) {
        for (i, a) in list.iter().enumerate() {
            for (j, b) in list.iter().enumerate() {
                assert_eq!(v(a).cmp(&v(b)), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn compares_numerically_with_missing_parts_as_zero() {
        increasing(&[
            "1",
            "1.0.0.1",
            "3.7.8",
            "3.7.70",
            "12.1.0.0.0.0.1",
            "2026.11.23.9",
            "2026.11.24.1",
        ]);
        assert_eq!(v("12.1"), v("12.1.0.0"));
        assert_eq!(v("12.1"), v("12.1.0.0.0.0.0.0.0"));
        assert_eq!(v("2026.01.05"), v("2026.1.5"));
        // Digit runs of any length, beyond u64.
        increasing(&[
            "99999999999999999999",
            "100000000000000000000",
            "100000000000000000000.1",
        ]);
    }

    #[test]
    fn orders_real_vendor_versions() {
        // IANA tzdata; OpenSSL letters; a letter after a digit is a later release.
        increasing(&["2024", "2024a", "2024b", "2025a", "2025b", "2026"]);
        increasing(&["1.1.1", "1.1.1a", "1.1.1w", "1.1.2", "3.0.0"]);
        // Microsoft Defender platform versions; Windows builds.
        increasing(&["4.18.2309.6", "4.18.23110.3", "4.18.24010.12"]);
        increasing(&["10.0.19041.1", "10.0.19041.3930", "10.0.22631.1"]);
        // ClamAV's daily database: one integer.
        increasing(&["27449", "27450", "27451", "100000"]);
        // Java 8 updates; `+` builds after the release they build.
        increasing(&["1.8.0", "1.8.0_392", "1.8.0_401", "1.8.1"]);
        increasing(&["1.0", "1.0+build5", "1.0+build10", "1.0.1"]);
        increasing(&["17.0.2+8", "17.0.10+7", "21+35"]);
    }

    #[test]
    fn pre_releases_sort_before_their_release() {
        // dpkg's `~`, and `-` read the same way (semver): a release is newer than its rcs.
        increasing(&[
            "1.0~alpha",
            "1.0~beta2",
            "1.0~rc1",
            "1.0~rc2",
            "1.0~rc10",
            "1.0",
            "1.0.1",
        ]);
        increasing(&[
            "0.5.7",
            "0.5.8-alpha",
            "0.5.8-rc1",
            "0.5.8",
            "0.5.9-rc1",
            "0.5.9",
        ]);
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("0.5.8-rc1") < v("0.5.8"));
        assert_eq!(v("1.2.3-beta2"), v("1.2.3~beta2"));
        // Zero parts before the mark don't count either.
        assert_eq!(v("1.0.0-rc1"), v("1-rc1"));
        assert!(v("1.0-rc1") < v("1"));
        // semver's own precedence example.
        increasing(&[
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ]);
        // `~~` style: a pre-release of a pre-release is older still.
        increasing(&["2.0~rc1~a1", "2.0~rc1", "2.0"]);
    }

    #[test]
    fn the_order_is_total() {
        let all = [
            "1",
            "1.0",
            "1.0.0",
            "v1",
            "1~rc1",
            "1-rc1",
            "1.0~rc1",
            "1a",
            "1.a",
            "1+b",
            "1_2",
            "1.0.1",
            "1.00",
            "01",
            "1.0-1",
            "1-0",
            "1.0.0~a",
            "2025a",
            "2025",
            "2025.0",
            "2025.0a",
            "V2025A",
            "0.5.8-rc1",
            "0.5.8",
            "1.0+build5",
            "1.0.0+build5",
            "1.10",
            "1.9",
            "a1",
            "A1",
            "1~a~b1",
            "1.0~1a",
            "10.0.19041.1",
            "4.18.2309.6",
            "0",
            "0.0",
            "v0",
        ];
        for a in all {
            for b in all {
                let ab = v(a).cmp(&v(b));
                assert_eq!(ab, v(b).cmp(&v(a)).reverse(), "{a} vs {b}");
                assert_eq!(ab.is_eq(), v(a) == v(b), "{a} vs {b}");
                for c in all {
                    if ab.is_le() && v(b) <= v(c) {
                        assert!(v(a) <= v(c), "{a} <= {b} <= {c}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_leading_v_is_not_part_of_the_version() {
        assert_eq!(v("v0.5.8"), v("0.5.8"));
        assert_eq!(v("V2.0"), v("2"));
        increasing(&["v0.5.7", "0.5.8-rc1", "v0.5.8-rc2", "0.5.8", "v0.5.9"]);
        // Only before a digit: `vista1` is letters, sorted as such.
        assert!(v("vista1") > v("1"));
        assert_eq!(v("v0.5.8").as_str(), "v0.5.8");
    }

    #[test]
    fn rejects_bad_versions_once_with_the_shape() {
        let long = "1".repeat(129);
        for bad in [
            "", "1..2", "../x", "a/b", "a\\b", "1 2", "1.2 ", " 1", "-1", "1.", ".1", "1-", "1.-2",
            "three", "v", "1:2", "C:1", "1.2\n", "é1", "1*", "COM1", "lpt9", "1~2", &long,
        ] {
            let e = Version::parse(bad).expect_err(bad);
            assert_eq!(e.matches("is not a version:").count(), 1, "{e}");
            assert!(e.contains("such as 3.7.70, 2025a"), "{e}");
        }
        assert!(Version::parse(&long[1..]).is_ok());
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
        let e = VersionReq::parse(">=x").expect_err(">=x");
        assert_eq!(e.matches("is not a version:").count(), 1, "{e}");
        let tz = VersionReq::parse(">=2025a, <2026").expect("tzdata range");
        for (s, ok) in [
            ("2024b", false),
            ("2025", false),
            ("2025a", true),
            ("2025z", true),
            ("2026", false),
        ] {
            assert_eq!(tz.matches(&v(s)), ok, "{s}");
        }
        // A range's bound excludes its own pre-releases, as a floor must.
        let r = VersionReq::parse(">=0.5.8").expect("range");
        assert!(!r.matches(&v("0.5.8-rc1")));
        assert!(r.matches(&v("v0.5.8")));
        assert!(VersionReq::parse("!=1.0")
            .expect("ne")
            .matches(&v("1.0~rc1")));
    }
}
