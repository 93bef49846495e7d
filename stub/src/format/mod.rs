//! The package format: bytes in, typed values out. Everything a package file holds is read,
//! checked and turned into typed values here (the ZIP behind the stub, the signed manifest and its
//! signature, key transitions, paths, versions, digests, the content codecs, the share index),
//! and, behind feature `write`, written. It never changes the machine: the one disk access is
//! reading a folder's tree (`scan`) and, for the write side, the release files it packs.

pub mod codecs;
pub mod digest;
pub mod keys;
pub mod manifest;
pub mod package;
#[cfg(feature = "write")]
pub mod patch_cache;
pub mod relpath;
pub mod scan;
pub mod share_index;
pub mod signature;
pub mod version;
#[cfg(feature = "write")]
pub mod write;
pub mod zipread;
