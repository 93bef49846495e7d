//! What a build reports: one [`Summary`] that `--json` prints as JSON (keys sorted, as they
//! always were) and the text output renders as lines. Owns the wording and the fields of both;
//! never prints (the command does) and never touches a file.

use crate::deltacache::Counts;
use iupack_stub::format::manifest::Manifest;
use serde::Serialize;
use std::path::Path;

/// A package just built, as reported.
#[derive(Debug, Serialize)]
pub struct Summary {
    package: String,
    signature: String,
    id: String,
    product: String,
    version: String,
    size: u64,
    sha256: String,
    /// The head's path; `None` for a bare package (then `stub_size` is 0).
    stub: Option<String>,
    stub_size: usize,
    bare: bool,
    signed_by: Option<String>,
    components: Vec<ComponentSummary>,
    /// The delta cache the build used (null: none).
    delta_cache: Option<CacheSummary>,
}

/// What the delta cache gave: patches and full archives reused (each proven before use), made,
/// and damaged entries found (removed, made again).
#[derive(Debug, Serialize)]
struct CacheSummary {
    dir: String,
    reused: usize,
    made: usize,
    damaged: usize,
}

#[derive(Debug, Serialize)]
struct ComponentSummary {
    name: String,
    version: String,
    tree: String,
    full: Option<FullSummary>,
    deltas: Vec<DeltaSummary>,
}

#[derive(Debug, Serialize)]
struct FullSummary {
    files: usize,
    bytes: u64,
    payload_bytes: u64,
    compression: String,
}

#[derive(Debug, Serialize)]
struct DeltaSummary {
    from: String,
    changed_files: usize,
    payload_bytes: u64,
    /// The text output's description (not in the JSON).
    #[serde(skip)]
    text: String,
}

/// Where a build wrote what, and what the package is.
#[derive(Debug)]
pub struct Written<'a> {
    pub package: &'a Path,
    pub signature: &'a Path,
    pub size: u64,
    pub sha256: &'a str,
    /// The head; `None` for a bare package.
    pub stub: Option<&'a Path>,
    pub stub_size: usize,
    pub signed_by: Option<String>,
    pub delta_cache: Option<(&'a Path, Counts)>,
}

impl Summary {
    /// The summary of the package `m` written as `w` says.
    pub fn new(m: &Manifest, w: Written<'_>) -> Summary {
        let components = m
            .components
            .iter()
            .map(|c| ComponentSummary {
                name: c.name.clone(),
                version: c.version.to_string(),
                tree: c.tree.clone(),
                full: c.full.as_ref().map(|f| FullSummary {
                    files: f.len(),
                    bytes: c.full_size(),
                    payload_bytes: c.full_payload(),
                    compression: c
                        .full_archive
                        .as_ref()
                        .map_or("deflate".to_string(), |a| a.codec.clone()),
                }),
                deltas: c
                    .deltas
                    .iter()
                    .map(|d| DeltaSummary {
                        from: d.from.to_string(),
                        changed_files: d.files.len(),
                        payload_bytes: d.payload_size(),
                        text: d.describe(),
                    })
                    .collect(),
            })
            .collect();
        Summary {
            package: w.package.display().to_string(),
            signature: w.signature.display().to_string(),
            id: m.package.id.clone(),
            product: m.product.clone(),
            version: m
                .package
                .version
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            size: w.size,
            sha256: w.sha256.to_string(),
            stub: w.stub.map(|p| p.display().to_string()),
            stub_size: w.stub_size,
            bare: m.package.bare,
            signed_by: w.signed_by,
            components,
            delta_cache: w.delta_cache.map(|(dir, c)| CacheSummary {
                dir: dir.display().to_string(),
                reused: c.reused,
                made: c.made,
                damaged: c.damaged,
            }),
        }
    }

    /// `--json`: pretty JSON with the keys sorted (through `serde_json::Value`, whose maps are
    /// sorted), as `iupack build --json` has always printed it.
    pub fn to_json(&self) -> String {
        let v = serde_json::to_value(self).expect("json");
        serde_json::to_string_pretty(&v).expect("json")
    }

    /// The text output, one line each (to be printed escaped).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "built {} ({} bytes, sha256 {})",
                self.package, self.size, self.sha256
            ),
            format!(
                "  package {}, product {}, signed by key {}",
                self.id,
                self.product,
                self.signed_by.as_deref().unwrap_or_default()
            ),
        ];
        // The version column is not padded (as a manifest Version never was).
        for c in &self.components {
            if let Some(full) = &c.full {
                lines.push(format!(
                    "  {:<14} {} full: {} files, {} bytes ({}, {} bytes)",
                    c.name, c.version, full.files, full.bytes, full.compression, full.payload_bytes
                ));
            }
            for d in &c.deltas {
                lines.push(format!(
                    "  {:<14} {} delta from {}: {}",
                    c.name, c.version, d.from, d.text
                ));
            }
        }
        if let Some(c) = &self.delta_cache {
            let mut line = format!(
                "  delta cache {}: {} reused, {} made (patches and full archives)",
                c.dir, c.reused, c.made
            );
            if c.damaged > 0 {
                line.push_str(&format!(", {} damaged entries made again", c.damaged));
            }
            lines.push(line);
        }
        lines.push(match &self.stub {
            Some(stub) => format!("  stub {stub} ({} bytes)", self.stub_size),
            None => "  bare: no head; machines apply it with the client tool (`iupack-stub apply PKG`, or from a share)".to_string(),
        });
        lines.push(format!("wrote {} and SHA256SUMS", self.signature));
        lines
    }
}
