//! Paths that come from a package: validated once, then safe to join onto a root.
//!
//! A `RelPath` is relative, `/`-separated, made of plain components only. It never holds `..`,
//! `.`, an empty component, a backslash, a colon (drive letters, NTFS streams), NUL or another
//! control character. Lists of paths are checked for duplicates, case-insensitive collisions and
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
            .find(|c| c.is_control() || *c == '\\' || *c == ':')
        {
            return Err(bad(&format!("contains the character {}", c.escape_debug())));
        }
        for part in s.split('/') {
            match part {
                "" => return Err(bad("empty component")),
                "." | ".." => return Err(bad("`.` or `..` component")),
                p if p.len() > MAX_COMPONENT_BYTES => {
                    return Err(bad("component longer than 255 bytes"))
                }
                _ => {}
            }
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

/// Paths with their lowercase form, sorted by it (in listing order among equal forms).
pub fn case_folded<'a>(paths: impl IntoIterator<Item = &'a RelPath>) -> Vec<(String, &'a RelPath)> {
    let mut files: Vec<(String, &RelPath)> = paths
        .into_iter()
        .map(|p| (p.as_str().to_lowercase(), p))
        .collect();
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
    for (_, p) in &files {
        for dir in p.parents() {
            if let Some((_, file)) = crate::sorted::find(&files, &dir.to_lowercase(), |f| &f.0) {
                return Err(format!("`{file}` is a file but `{p}` needs it as a folder"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        for ok in ["a", "bin/scan", "defs/main.avdb", "ünïcode/ok.txt", "a b/c"] {
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
