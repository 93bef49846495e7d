//! `iupack-stub`: the format authority and apply engine of iupack.
//!
//! The read side (always built) opens a package, verifies its signed manifest against keys the
//! machine already trusts, validates every path and size, and applies full content crash-safely
//! while keeping the product inventory true. The write side (feature `write`) builds and signs
//! packages; it is used by the `iupack` builder and never linked into the stub binary.
//!
//! Nothing here trusts the package: every name, size and hash used on disk comes from the signed
//! manifest, checked before use.
#![deny(unsafe_code)]

pub mod apply;
pub mod client;
pub mod error;
pub mod format;
pub mod json;
pub mod machine;
pub mod platform;

pub use error::{Error, ExitCode, Result};

/// The platform name this stub was built for, as used in manifests and inventories.
pub fn this_platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The text that starts a stub's feature mark (`iupack-stub-features:zstd,client,` then NUL):
/// the builder reads it from a stub file to know what that head can decode (see `stub_features`).
pub const FEATURES_PREFIX: &[u8] = b"iupack-stub-features:";

/// This build's feature mark, kept in the binary by `main.rs` (`#[used]`). `format2`: it reads
/// manifest format 2, and `bsdx2` layout 2 of `bsdiff-lzma` patches, which the builder writes (a
/// head without both marks can't head its packages); `exe`: it applies `zucchini-xz` patches;
/// `install`: it installs and updates the client tool a package carries.
pub const FEATURES_MARK: [u8; 64] = features_mark();

/// The text that starts a stub's version mark (`iupack-stub-version:0.1.0` then NUL padding):
/// the builder reads a client tool's version from it (`stub_version`) to sign it as the
/// `iupack-client` component's version, and `--version` prints it, so the two never disagree.
pub const VERSION_PREFIX: &[u8] = b"iupack-stub-version:";

/// This build's version mark, kept in the binary by `main.rs` (`#[used]`).
pub const VERSION_MARK: [u8; 64] = version_mark();

const fn version_mark() -> [u8; 64] {
    let mut out = [0u8; 64];
    let v = env!("CARGO_PKG_VERSION").as_bytes();
    let mut n = 0;
    while n < VERSION_PREFIX.len() {
        out[n] = VERSION_PREFIX[n];
        n += 1;
    }
    let mut i = 0;
    while i < v.len() {
        out[n + i] = v[i];
        i += 1;
    }
    out
}

/// The version a stub file says it is, from its mark; `None` for a file without one.
pub fn stub_version(stub: &[u8]) -> Option<String> {
    let at = stub
        .windows(VERSION_PREFIX.len())
        .position(|w| w == VERSION_PREFIX)?;
    let rest = &stub[at + VERSION_PREFIX.len()..];
    let rest = &rest[..rest.len().min(64 - VERSION_PREFIX.len())];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
}

/// Whether this build reads format-1 packages (and their two-entry layout): the client tool
/// applies any package, old ones too; a package head reads only the package it heads, which the
/// builder always writes in the current format (it takes only heads marked `format2`).
pub(crate) const READS_FORMAT_1: bool = cfg!(feature = "client");

const fn features_mark() -> [u8; 64] {
    let mut out = [0u8; 64];
    let mut n = 0;
    let parts: [&[u8]; 7] = [
        FEATURES_PREFIX,
        b"format2,",
        b"bsdx2,",
        if cfg!(feature = "zstd") {
            b"zstd,"
        } else {
            b""
        },
        if cfg!(feature = "client") {
            b"client,"
        } else {
            b""
        },
        if cfg!(feature = "exe-delta") {
            b"exe,"
        } else {
            b""
        },
        if cfg!(feature = "install") {
            b"install,"
        } else {
            b""
        },
    ];
    let mut p = 0;
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[n] = parts[p][i];
            n += 1;
            i += 1;
        }
        p += 1;
    }
    out
}

/// The features a stub file was built with, from its mark; `None` for a stub without one (built
/// before heads had variants: those have every feature).
pub fn stub_features(stub: &[u8]) -> Option<Vec<String>> {
    let at = stub
        .windows(FEATURES_PREFIX.len())
        .position(|w| w == FEATURES_PREFIX)?;
    let rest = &stub[at + FEATURES_PREFIX.len()..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    Some(
        String::from_utf8_lossy(&rest[..end])
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_feature_mark_names_this_builds_features() {
        let mut file = b"\x7fELF...".to_vec();
        file.extend_from_slice(&super::FEATURES_MARK);
        file.extend_from_slice(b"more code");
        let got = super::stub_features(&file).expect("marked");
        assert_eq!(got.contains(&"zstd".to_string()), cfg!(feature = "zstd"));
        assert_eq!(
            got.contains(&"client".to_string()),
            cfg!(feature = "client")
        );
        assert_eq!(super::stub_features(b"\x7fELF no mark"), None);
        assert_eq!(
            super::stub_features(b"iupack-stub-features:\0"),
            Some(Vec::new())
        );
    }
}
