//! Paths that come from a package: validated once, then safe to join onto a root.
//!
//! A `RelPath` is relative, `/`-separated, made of plain components only. It never holds `..`,
//! `.`, an empty component, a backslash, a colon (drive letters, NTFS streams), NUL or another
//! control character. One policy for every platform (a package may target Windows later, a share
//! serves both), so no component is a name Windows would take for something else: `< > " | ? *`,
//! a device name as its stem (`CON`, `nul.txt`, `COM¹`, `CONIN$`, `aux .c`), a trailing dot or
//! space (Windows drops them: `a.` is `a`), or an 8.3 shape with `~` and a digit (`LONGFI~1.TXT`
//! may be another file's short name; refused whether or not that file is in the package, as one
//! may be on the machine). Lists of paths are checked for duplicates, collisions under Unicode
//! case folding (`fold`: `σ`/`ς`, `µ`/`μ`, `ſ`/`s`, `ı`/`i`, Kelvin sign/`k`, not only ASCII) and
//! a file that would also be a folder. This module never touches the disk.

use std::fmt;
use std::path::{Path, PathBuf};

const MAX_PATH_BYTES: usize = 1024;
const MAX_COMPONENT_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

impl RelPath {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("unsafe path `{}`: {why}", s.escape_debug());
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(bad("longer than 1024 bytes"));
        }
        if s.starts_with('/') {
            return Err(bad("absolute"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| c.is_control() || "\\:<>\"|?*".contains(*c))
        {
            return Err(bad(&format!(
                "contains the character {} (not allowed in Windows file names)",
                c.escape_debug()
            )));
        }
        for part in s.split('/') {
            let why = match part {
                "" => "empty component",
                "." | ".." => "`.` or `..` component",
                p if p.len() > MAX_COMPONENT_BYTES => "component longer than 255 bytes",
                p if p.ends_with(['.', ' ']) => {
                    "a name ends in a dot or space (Windows drops it: `a.` would be `a`)"
                }
                p if is_device(p) => {
                    "a name is a Windows device name (CON PRN AUX NUL COM0-9 LPT0-9 CONIN$ \
                     CONOUT$), which Windows opens instead of a file whatever the extension"
                }
                p if is_short_name(p) => {
                    "a name is shaped like a Windows 8.3 short name (`NAME~1.EXT`), which may \
                     stand for another file"
                }
                _ => continue,
            };
            return Err(bad(why));
        }
        Ok(RelPath(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This path below `root`, built component by component.
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        for part in self.0.split('/') {
            p.push(part);
        }
        p
    }

    /// The folders that must exist for this file, shortest first (`a`, `a/b` for `a/b/c`).
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('/').map(move |(i, _)| &self.0[..i])
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::json::as_text!(RelPath);

/// Whether Windows takes the name for a device: its stem (before the first dot, trailing spaces
/// dropped), in any case, is one of Microsoft's reserved names (Naming Files, Paths, and
/// Namespaces), CONIN$/CONOUT$ or DOS's CLOCK$.
fn is_device(name: &str) -> bool {
    let stem = fold(name.split('.').next().unwrap_or("").trim_end_matches(' '));
    let numbered = |p: &str| {
        let mut n = stem.strip_prefix(p).unwrap_or("").chars();
        matches!(
            (n.next(), n.next()),
            (Some('0'..='9' | '\u{b9}' | '\u{b2}' | '\u{b3}'), None)
        )
    };
    matches!(
        stem.as_str(),
        "con" | "prn" | "aux" | "nul" | "conin$" | "conout$" | "clock$"
    ) || numbered("com")
        || numbered("lpt")
}

/// Whether the name has the 8.3 shape (at most 8 characters, then at most one dot and 3) and a
/// `~` followed by a digit: what Windows' generated short names look like.
fn is_short_name(name: &str) -> bool {
    let (base, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    base.chars().count() <= 8
        && ext.chars().count() <= 3
        && !base.contains('.')
        && name
            .split('~')
            .skip(1)
            .any(|t| t.starts_with(|c: char| c.is_ascii_digit()))
}

/// Characters whose uppercase lowercases to another character than their lowercase (Unicode
/// simple mappings: `µ`→`μ`, `ı`→`i`, `ſ`→`s`, `ς`→`σ`...): `fold` maps these, lowercase does the
/// rest. Kept small instead of the uppercase table (the `fold_covers_upper_and_lower` test checks
/// it against every character).
const FOLD_EXTRA: [(u16, u16); 23] = [
    (0xB5, 0x3BC),
    (0x131, 0x69),
    (0x17F, 0x73),
    (0x345, 0x3B9),
    (0x3C2, 0x3C3),
    (0x3D0, 0x3B2),
    (0x3D1, 0x3B8),
    (0x3D5, 0x3C6),
    (0x3D6, 0x3C0),
    (0x3F0, 0x3BA),
    (0x3F1, 0x3C1),
    (0x3F5, 0x3B5),
    (0x1C80, 0x432),
    (0x1C81, 0x434),
    (0x1C82, 0x43E),
    (0x1C83, 0x441),
    (0x1C84, 0x442),
    (0x1C85, 0x442),
    (0x1C86, 0x44A),
    (0x1C87, 0x463),
    (0x1C88, 0xA64B),
    (0x1E9B, 0x1E61),
    (0x1FBE, 0x3B9),
];

/// The form two names share when a case-insensitive file system (NTFS, APFS, a share) takes them
/// for one: each character lowercased, or mapped by `FOLD_EXTRA`, so that names equal under
/// Unicode uppercasing or lowercasing fold alike.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match FOLD_EXTRA.iter().find(|e| u32::from(e.0) == c as u32) {
            Some(e) => out.push(char::from_u32(e.1.into()).unwrap_or(c)),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Paths with their case-folded form (`fold`), sorted by it (in listing order among equal forms).
pub fn case_folded<'a>(paths: impl IntoIterator<Item = &'a RelPath>) -> Vec<(String, &'a RelPath)> {
    let mut files: Vec<(String, &RelPath)> =
        paths.into_iter().map(|p| (fold(p.as_str()), p)).collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The first two paths of `case_folded` that are the same but for case (or the same), in
/// listing order.
pub fn case_twins<'a>(folded: &[(String, &'a RelPath)]) -> Option<(&'a RelPath, &'a RelPath)> {
    let w = folded.windows(2).find(|w| w[0].0 == w[1].0)?;
    Some((w[0].1, w[1].1))
}

/// Checks that a set of file paths can coexist in one tree on any platform: no duplicates, no
/// two that differ only in case, and no file that is also another file's folder.
pub fn check_tree_paths<'a>(paths: impl IntoIterator<Item = &'a RelPath>) -> Result<(), String> {
    let files = case_folded(paths);
    if let Some((prev, p)) = case_twins(&files) {
        return Err(if prev == p {
            format!("path `{p}` is listed twice")
        } else {
            format!("paths `{prev}` and `{p}` differ only in case")
        });
    }
    let mut dirs: Vec<(String, &str)> = Vec::new();
    for (_, p) in &files {
        for dir in p.parents() {
            if let Some((_, file)) = crate::json::sorted::find(&files, &fold(dir), |f| &f.0) {
                return Err(format!("`{file}` is a file but `{p}` needs it as a folder"));
            }
            dirs.push((fold(dir), dir));
        }
    }
    // Folders spelled two ways (`A/x` beside `a/y`) are one folder where case is folded.
    dirs.sort_unstable();
    if let Some(w) = dirs
        .windows(2)
        .find(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1)
    {
        return Err(format!(
            "folders `{}` and `{}` differ only in case",
            w[0].1, w[1].1
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        for ok in [
            "a",
            "bin/scan",
            "defs/main.avdb",
            "ünïcode/ok.txt",
            "a b/c",
            // Near Windows' reserved names, but not one.
            "con-fig.txt",
            "aux_data",
            "COM10",
            "lpt",
            "COM",
            "nul0/x",
            "xcon",
            "con_",
            ".con",
            "CONIN",
            "COM1a.txt",
            // `~` without a digit, or too long for an 8.3 name.
            "file~x.txt",
            "~tmp",
            "a~b.c",
            "longname~1.txt",
            "LONGFI~1.TEXT",
            "a.b~1.c",
            "a.b",
            ".gitignore",
            "a .b",
            "a. b",
        ] {
            assert!(RelPath::parse(ok).is_ok(), "{ok} refused");
        }
    }

    #[test]
    fn refuses_every_escape() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "C:/x",
            "c:x",
            "a\\b",
            "..\\x",
            "a\0b",
            "a\nb",
            ".",
            "..",
        ] {
            assert!(RelPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn refuses_what_windows_reads_differently() {
        let why = |s: &str| RelPath::parse(s).expect_err(s);
        let device = "a name is a Windows device name";
        for bad in [
            "CON",
            "con",
            "Con",
            "PRN",
            "AUX",
            "NUL",
            "nul",
            "COM0",
            "COM1",
            "com9",
            "LPT1",
            "lpt0",
            "COM\u{b9}",
            "COM\u{b2}",
            "lpt\u{b3}",
            "CONIN$",
            "conout$",
            "CLOCK$",
            "con.txt",
            "NUL.tar.gz",
            "aux.c",
            "CON .txt",
            "nul  .x",
            "AUX/x",
            "a/prn/b",
            "a/b/Com1.log",
            // Dotless ı upper-cases to I: taken as CONIN$ by a Unicode-folding comparison.
            "con\u{131}n$",
        ] {
            let e = why(bad);
            assert!(e.contains(device), "{bad:?}: {e}");
        }
        for bad in [
            "a.", "a ", "dir./x", "x/dir /y", "a..", "CON.", "nul ", "a. ", "~1.",
        ] {
            let e = why(bad);
            assert!(e.contains("ends in a dot or space"), "{bad:?}: {e}");
        }
        for bad in [
            "LONGFI~1.TXT",
            "longfi~1.txt",
            "PROGRA~2",
            "a~1",
            "AB12~10.C",
            "x/DOCUME~1/y",
            "~1.a",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}~1.txt",
        ] {
            let e = why(bad);
            assert!(e.contains("8.3 short name"), "{bad:?}: {e}");
        }
        for c in ['<', '>', '"', '|', '?', '*', ':', '\\'] {
            let e = why(&format!("a{c}b"));
            assert!(e.contains("not allowed in Windows file names"), "{c}: {e}");
        }
        // The path is named, escaped.
        assert_eq!(
            why("x/\u{1b}[31m/CON"),
            "unsafe path `x/\\u{1b}[31m/CON`: contains the character \\u{1b} (not allowed in \
             Windows file names)"
        );
        assert!(why("bin/nul.txt").starts_with("unsafe path `bin/nul.txt`: a name is a Windows"));
    }

    #[test]
    fn folders_spelled_in_two_cases_collide() {
        let list = |ps: &[&str]| -> Vec<RelPath> {
            ps.iter()
                .map(|p| RelPath::parse(p).expect("valid"))
                .collect()
        };
        let err = check_tree_paths(&list(&["A/x", "a/y"])).expect_err("one folder on NTFS");
        assert!(err.contains("differ only in case"), "{err}");
        assert!(check_tree_paths(&list(&["d/Σ/x", "d/σ/y"])).is_err());
        assert!(check_tree_paths(&list(&["a/b/x", "a/B/y"])).is_err());
        assert!(check_tree_paths(&list(&["A/x", "A/y", "b/A/z"])).is_ok());
    }

    #[test]
    fn unicode_case_twins_collide() {
        let p = |s: &str| RelPath::parse(s).expect("valid");
        for (a, b) in [
            ("\u{3c3}", "\u{3c2}"), // σ ς
            ("\u{3a3}", "\u{3c2}"), // Σ ς
            ("\u{b5}", "\u{3bc}"),  // micro sign, mu
            ("\u{17f}", "s"),       // long s
            ("\u{17f}", "S"),
            ("\u{131}", "i"),        // dotless i
            ("\u{212a}", "k"),       // Kelvin sign
            ("\u{212b}", "\u{e5}"),  // Angstrom sign, å
            ("\u{2126}", "\u{3c9}"), // Ohm sign, ω
            ("\u{1e9e}", "\u{df}"),  // capital sharp s
            ("\u{3d1}", "\u{398}"),  // theta symbol, Θ
            ("\u{1c80}", "\u{412}"), // rounded ve, В
        ] {
            let e = check_tree_paths(&[p(a), p(b)]).expect_err(a);
            assert!(
                e.contains("differ only in case") || e.contains("needs it as a folder"),
                "{a} {b}: {e}"
            );
        }
        let e = check_tree_paths(&[p("\u{131}"), p("I/x")]).expect_err("folder twin");
        assert!(e.contains("needs it as a folder"), "{e}");
        // Different letters stay apart.
        assert!(check_tree_paths(&[p("ss"), p("\u{df}"), p("i"), p("\u{130}")]).is_ok());
    }

    /// `fold` maps alike every two characters that Unicode uppercasing or lowercasing maps alike
    /// (the single-character mappings), for every character: `FOLD_EXTRA` is complete for the
    /// Unicode version this was built with.
    #[test]
    fn fold_covers_upper_and_lower() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let f = fold(&c.to_string());
            assert_eq!(fold(&f), f, "{c:?} folds twice");
            let lower: String = c.to_lowercase().collect();
            assert_eq!(fold(&lower), f, "{c:?} and its lowercase");
            let mut up = c.to_uppercase();
            if let (Some(u), None) = (up.next(), up.next()) {
                assert_eq!(fold(&u.to_string()), f, "{c:?} and its uppercase");
            }
        }
    }

    #[test]
    fn tree_collisions() {
        let p = |s: &str| RelPath::parse(s).expect("valid");
        assert!(check_tree_paths(&[p("a"), p("b/c")]).is_ok());
        let why = |paths: &[&str]| {
            let paths: Vec<RelPath> = paths.iter().map(|s| p(s)).collect();
            check_tree_paths(&paths).expect_err("collision")
        };
        assert_eq!(why(&["b", "a", "c", "a"]), "path `a` is listed twice");
        // The earlier-listed path is named first.
        assert_eq!(
            why(&["READ.ME", "x", "Read.me"]),
            "paths `READ.ME` and `Read.me` differ only in case"
        );
        assert_eq!(
            why(&["a", "a/b"]),
            "`a` is a file but `a/b` needs it as a folder"
        );
        assert_eq!(
            why(&["x/A/b", "x/a"]),
            "`x/a` is a file but `x/A/b` needs it as a folder"
        );
    }

    #[test]
    fn joins_under_root() {
        let p = RelPath::parse("bin/scan").expect("valid");
        assert_eq!(p.under(Path::new("/r")), Path::new("/r/bin/scan"));
        assert_eq!(p.parents().collect::<Vec<_>>(), vec!["bin"]);
    }
}
