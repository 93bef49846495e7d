//! Puts the package together: its entries in package order (key transitions, then per component
//! its full content and its deltas, made the way that lets the smallest head carry them when
//! that makes the package smaller), the manifest's components, the head that can decode them,
//! the manifest (validated) and its signature. Owns the package order and the manifest; never
//! writes a file.

use super::heads::Heads;
use super::{compress, deltas, Signer};
use crate::content::Content;
use crate::progress::{self, Progress};
use crate::spec::Spec;
use iupack_stub::format::digest::sha256_hex;
use iupack_stub::format::manifest::{
    self, Component, Delta, FullArchive, Manifest, PackageInfo, StubInfo, Targets,
};
use iupack_stub::format::signature::TrustedComment;
use iupack_stub::format::version::Version;
use iupack_stub::format::write::{self, PackageEntry};
use iupack_stub::{platform::time, Error};
use std::fs;
use std::path::{Path, PathBuf};

/// What the package carries besides its head and manifest, per component in spec order.
#[derive(Debug)]
pub struct Parts {
    entries: Vec<PackageEntry>,
    archives: Vec<Option<FullArchive>>,
    deltas: Vec<Vec<Delta>>,
}

/// The package, ready to be written.
#[derive(Debug)]
pub struct Assembled {
    pub manifest: Manifest,
    pub manifest_bytes: Vec<u8>,
    pub signature: String,
    pub entries: Vec<PackageEntry>,
    /// The head's path; `None` for a bare package (then `stub` is the bare guard).
    pub stub_path: Option<PathBuf>,
    pub stub: Vec<u8>,
}

/// The key transitions' entries, then per component its full content (settling each archive
/// [`compress::archives`] made) and its deltas ("diffing"), made each way the heads allow (for a
/// package with no full content: see [`Heads::delta_variants`]; a bare package, `heads` `None`,
/// any codec) and kept the way that makes the package smallest, head included.
pub fn parts(
    how: &write::DeltaOptions<'_>,
    heads: Option<&Heads>,
    spec: &Spec,
    base: &Path,
    contents: &[Content],
    archived: Vec<Option<compress::Archived>>,
    progress: &Progress,
) -> Result<Parts, Error> {
    let mut entries = transition_entries(spec, base)?;
    let mut fulls = Vec::new();
    let mut archives = Vec::new();
    for ((c, content), archived) in spec.components.iter().zip(contents).zip(archived) {
        let mut full = Vec::new();
        archives.push(compress::settle(c, content, archived, &mut full)?);
        fulls.push(full);
    }
    // A bare package has no head to choose: any codec, as small as it gets.
    let ways = heads.map_or_else(
        || vec![(write::PatchCodecs::All, 0)],
        |h| h.delta_variants(spec.components.iter().any(|c| c.full)),
    );
    let pb = progress.bar(
        "diffing",
        spec.components
            .iter()
            .map(|c| (c.deltas.len() * ways.len()) as u64)
            .sum(),
    );
    let mut built = Vec::new();
    for (c, content) in spec.components.iter().zip(contents) {
        built.push(deltas::component(how, &ways, c, content, base, &pb)?);
    }
    let way = deltas::cheapest(&ways, &built);
    let mut all_deltas = Vec::new();
    let mut delta_bytes = 0;
    for (full, mut per_way) in fulls.into_iter().zip(built) {
        entries.extend(full);
        let mut component_deltas = Vec::new();
        for bd in per_way.swap_remove(way) {
            delta_bytes += bd.delta.payload_size();
            entries.extend(bd.entries);
            component_deltas.push(bd.delta);
        }
        all_deltas.push(component_deltas);
    }
    pb.finish_with_message(format!("{} of patches", progress::bytes(delta_bytes)));
    Ok(Parts {
        entries,
        archives,
        deltas: all_deltas,
    })
}

/// The manifest of `spec`'s package (made at `created`, for `platforms`), headed by the first
/// of `heads` that can decode it (bare without heads), validated and signed with `key`.
pub fn package(
    spec: &Spec,
    contents: &[Content],
    parts: Parts,
    heads: Option<Heads>,
    platforms: Vec<String>,
    created: u64,
    key: &Signer,
) -> Result<Assembled, Error> {
    let version = spec.package_version(created);
    let components = components(spec, contents, parts.deltas, parts.archives);
    let (stub_path, stub) = match heads {
        Some(heads) => {
            let (path, stub) = heads.pick(
                manifest::needs_zstd(&components),
                manifest::needs_exe(&components),
                components
                    .iter()
                    .any(|c| c.name == manifest::CLIENT_COMPONENT),
            )?;
            (Some(path), stub)
        }
        // Bare: the guard that stops a shell from reading it as a script.
        None => (None, iupack_stub::format::package::BARE_GUARD.to_vec()),
    };
    let mut m = Manifest {
        format: manifest::FORMAT,
        package: PackageInfo {
            id: spec.id.clone().unwrap_or_default(),
            created: time::rfc3339(created),
            version: Some(version.clone()),
            stub: stub_path.as_ref().map(|_| StubInfo {
                size: stub.len() as u64,
                sha256: sha256_hex(&stub),
            }),
            bare: stub_path.is_none(),
        },
        product: spec.product.clone(),
        targets: Targets {
            product_versions: spec.targets.product_versions.clone(),
            platforms,
            languages: spec.targets.languages.clone(),
        },
        components,
    };
    if spec.id.is_none() {
        m.package.id = default_id(&m, &version, created);
    }
    let mut entries = parts.entries;
    rename_delta_entries(&mut m, &mut entries);
    let id = m.package.id.clone();
    m.validate().map_err(|e| {
        Error::usage(format!("the package would not be valid: {e}"))
            .hint("fix the spec or the release content as the message says, then build again")
    })?;
    let manifest_bytes = m.to_json();
    let comment = TrustedComment {
        product: spec.product.clone(),
        id,
        version: version.to_string(),
    };
    let signature = key.sign(&manifest_bytes[..], &comment.render(), "iupack")?;
    Ok(Assembled {
        manifest: m,
        manifest_bytes,
        signature,
        entries,
        stub_path,
        stub,
    })
}

/// Format 2: the delta entries, made under their format-1 names (`delta/C/FROM/PATH`), take
/// their numbered names (`d/N`, in manifest order).
fn rename_delta_entries(m: &mut Manifest, entries: &mut [PackageEntry]) {
    let before = m.delta_entry_names();
    m.number_entries();
    let renames: std::collections::HashMap<String, String> =
        before.into_iter().zip(m.delta_entry_names()).collect();
    for e in entries {
        if let Some(name) = renames.get(&e.name) {
            e.name = name.clone();
        }
    }
}

/// A package's id when the spec names none: `PRODUCT-VERSION-UNIXTIME-DIGEST`, DIGEST the first
/// 8 hex digits of the SHA-256 of the manifest (with an empty id). Sortable by time within a
/// release name, readable, and different for any two packages that differ in anything the
/// manifest says (content, compression, head, targets), even when built in the same second (as
/// `publish` does); the same build of the same inputs (SOURCE_DATE_EPOCH) gets the same id.
fn default_id(m: &Manifest, version: &Version, created: u64) -> String {
    let digest = sha256_hex(&m.to_json());
    format!("{}-{version}-{created}-{}", m.product, &digest[..8])
}

/// The manifest's components: the spec's, with their files' tree, full content and deltas.
fn components(
    spec: &Spec,
    contents: &[Content],
    deltas: Vec<Vec<Delta>>,
    archives: Vec<Option<FullArchive>>,
) -> Vec<Component> {
    spec.components
        .iter()
        .zip(contents)
        .zip(deltas)
        .zip(archives)
        .map(|(((c, content), deltas), full_archive)| {
            let full: Vec<_> = content.files.iter().map(|f| f.entry()).collect();
            Component {
                name: c.name.clone(),
                version: c.version.clone(),
                requires: c.requires.clone().into_iter().collect(),
                floor: c.floor.clone(),
                tree: manifest::files_tree(&full),
                full: c.full.then_some(full),
                full_archive,
                deltas,
            }
        })
        .collect()
}

/// The spec's key-transition statements as package entries (`iupack/keys/N.json` and its
/// signature), checked to be statements for this product.
fn transition_entries(spec: &Spec, base: &Path) -> Result<Vec<PackageEntry>, Error> {
    let mut out = Vec::new();
    for (i, p) in spec.key_transitions.iter().enumerate() {
        let path = base.join(p);
        let sig_path = PathBuf::from(format!("{}.minisig", path.display()));
        let read = |p: &Path| {
            fs::read(p).map_err(|e| {
                Error::usage(format!("cannot read the key transition {}: {e}", p.display()))
                    .hint("make one with `iupack key-transition`; its signature is the .minisig beside it")
            })
        };
        let (data, sig) = (read(&path)?, read(&sig_path)?);
        let t = iupack_stub::format::keys::Transition::parse(&data).map_err(|e| {
            Error::usage(format!("{} is not a key transition: {e}", path.display()))
                .hint("list the .json file that `iupack key-transition` wrote")
        })?;
        if t.product != spec.product {
            return Err(Error::usage(format!(
                "{} is a key transition for {}, not {}",
                path.display(),
                t.product,
                spec.product
            ))
            .hint("list only key transitions made for this spec's product"));
        }
        let (name, sig_name) = iupack_stub::format::keys::entry_names(i + 1);
        for (name, bytes) in [(name, data), (sig_name, sig)] {
            out.push(PackageEntry {
                name,
                size: bytes.len() as u64,
                payload: write::Payload::Bytes(bytes),
                mode: 0o644,
                store: write::Store::Auto,
            });
        }
    }
    Ok(out)
}
