//! The share index (`index.json`, signed as `index.json.minisig`): the list of a share's
//! packages with their product, component versions, routes, sizes and hashes, as `iupack
//! publish` and `iupack plan` write it and `iupack-stub apply --from` reads it (docs/share.md).
//! Parsing, checking and verifying only: reading the share's files is the client's
//! (`client::share`).

use crate::error::{Error, Result};
use crate::format::signature;
use crate::format::version::{Version, VersionReq};
use crate::json::sorted::SortedMap;
use crate::json::{self, object, ToJson};

pub const INDEX: &str = "index.json";
pub const INDEX_SIG: &str = "index.json.minisig";
pub const INDEX_FORMAT: u32 = 1;
/// The trusted comment of an index signature starts with this (never a package's).
pub const INDEX_COMMENT: &str = "iupack-index";
pub const MAX_INDEX_BYTES: u64 = 16 << 20;
pub const MAX_SIG_BYTES: u64 = 4096;
#[derive(Debug, Clone)]
pub struct Index {
    pub format: u32,
    pub created: String,
    pub packages: Vec<IndexPackage>,
}

#[derive(Debug, Clone)]
pub struct IndexPackage {
    /// The file name in the share (no folders).
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub product: String,
    pub id: String,
    pub components: Vec<IndexComponent>,
}

#[derive(Debug, Clone)]
pub struct IndexComponent {
    pub name: String,
    pub version: Version,
    pub tree: String,
    /// Bytes a full install reads from the package, when it carries full content.
    pub full: Option<u64>,
    pub deltas: Vec<IndexDelta>,
    pub requires: SortedMap<VersionReq>,
}

#[derive(Debug, Clone)]
pub struct IndexDelta {
    pub from: Version,
    pub from_tree: String,
    /// Bytes the delta reads from the package.
    pub bytes: u64,
}

object!(Index, deny, { format: req, created: req, packages: req });
object!(IndexPackage, deny, { file: req, size: req, sha256: req, product: req, id: req, components: req });
object!(IndexComponent, deny, { name: req, version: req, tree: req, full: null, deltas: req, requires: dflt });
object!(IndexDelta, deny, { from: req, from_tree: req, bytes: req });

impl Index {
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = ToJson::to_json(self).to_pretty().into_bytes();
        v.push(b'\n');
        v
    }

    /// Parses and checks an index (file names plain, formats known).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Index, String> {
        let index: Index = json::from_slice(bytes)?;
        if index.format != INDEX_FORMAT {
            return Err(format!(
                "index format {} is not known to this iupack (it reads {INDEX_FORMAT})",
                index.format
            ));
        }
        for p in &index.packages {
            let plain = !p.file.is_empty()
                && !p.file.starts_with('.')
                && !p.file.contains(['/', '\\', ':', '\0']);
            if !plain {
                return Err(format!(
                    "package file name `{}` is not a plain name",
                    p.file
                ));
            }
        }
        Ok(index)
    }
}

/// Verifies an index's signature against `trusted` keys (none of them `revoked`) and that it is
/// an index signature, never a package's. Returns the signing key's id.
pub fn verify(
    bytes: &[u8],
    sig: &str,
    trusted: &[String],
    revoked: &[String],
    whose: &str,
) -> Result<String> {
    let (key, comment) = signature::verify_raw(bytes, sig, trusted, revoked, whose)?;
    if !comment.starts_with(INDEX_COMMENT) {
        return Err(
            Error::signature("the share's index.json.minisig is not an index signature")
                .hint("publish the share again with `iupack publish` or `iupack plan`"),
        );
    }
    Ok(key)
}
