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
pub mod bsdx;
pub mod client;
pub mod digest;
pub mod error;
pub mod fault;
pub mod fsutil;
pub mod hooks;
pub mod interactive;
pub mod inventory;
pub mod journal;
pub mod keys;
pub mod lock;
pub mod manifest;
pub mod package;
pub mod relpath;
pub mod report;
pub mod scan;
pub mod share;
pub mod signature;
pub mod tarstream;
pub mod time;
pub mod treestream;
pub mod version;
#[cfg(windows)]
mod winreboot;
pub mod zipread;

#[cfg(feature = "write")]
pub mod write;

pub use error::{Error, ExitCode};

/// The platform name this stub was built for, as used in manifests and inventories.
pub fn this_platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}
