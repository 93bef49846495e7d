//! Writing update shares (`iupack publish`, `iupack plan`): the packages, then the signed index
//! that `iupack-stub apply --from SHARE` reads (format in stub/src/format/share_index.rs and docs/share.md).
//! The index is written last, so a share never lists a package that is not there.

use crate::keys;
use crate::pipeline::{self, Built};
use crate::spec::Spec;
use iupack_stub::format::share_index::{
    Index, IndexComponent, IndexDelta, IndexPackage, INDEX, INDEX_COMMENT, INDEX_FORMAT, INDEX_SIG,
};
use iupack_stub::{format::write, platform::fsutil, platform::time, Error};
use std::path::Path;

/// Where and how `publish` and `plan` build a share's packages.
#[derive(Debug)]
pub struct ShareBuild<'a> {
    pub dir: &'a Path,
    pub key: &'a Path,
    pub stub: Option<&'a Path>,
    pub target: Option<&'a str>,
}

impl ShareBuild<'_> {
    /// Builds `spec` (paths relative to `base`) into the share as `STEM.run`, or `STEM.exe` for
    /// Windows.
    pub fn package(&self, spec: &Spec, base: &Path, stem: &str) -> Result<Built, Error> {
        let ext = if self.target.is_some_and(|t| t.starts_with("windows-")) {
            "exe"
        } else {
            "run"
        };
        let out = self.dir.join(format!("{stem}.{ext}"));
        let opts = pipeline::Options::for_share(self.key, &out, self.stub, self.target);
        pipeline::run(&opts, spec, base)
    }
}

/// Writes `index.json` and its signature into `dir` for `built` (packages already in `dir`),
/// then removes packages an earlier index of this share listed and this one does not.
pub fn write_index(dir: &Path, built: &[Built], key: &Path) -> Result<Index, Error> {
    let old = std::fs::read(dir.join(INDEX))
        .ok()
        .and_then(|b| Index::parse(&b).ok());
    let index = Index {
        format: INDEX_FORMAT,
        created: time::rfc3339(time::unix_now()),
        packages: built.iter().map(entry).collect(),
    };
    let bytes = index.to_json();
    let (sk, pk) = keys::load_secret(key)?;
    let products: std::collections::BTreeSet<&str> =
        index.packages.iter().map(|p| p.product.as_str()).collect();
    let comment = format!(
        "{INDEX_COMMENT} products={} packages={} created={}",
        products.into_iter().collect::<Vec<_>>().join(","),
        index.packages.len(),
        index.created
    );
    let sig = write::sign(
        &sk,
        Some(&pk),
        &bytes[..],
        &comment,
        "iupack update share index",
    )
    .map_err(Error::other)?;
    let put = |name: &str, data: &[u8]| {
        let path = dir.join(name);
        fsutil::atomic_write(&path, data).map_err(|e| {
            Error::other(format!("cannot write {}: {e}", path.display()))
                .hint("check free space and write permission in the share")
        })
    };
    put(INDEX, &bytes)?;
    put(INDEX_SIG, sig.as_bytes())?;
    let stale: Vec<&str> = old
        .iter()
        .flat_map(|o| &o.packages)
        .filter(|s| !index.packages.iter().any(|p| p.file == s.file))
        .map(|s| s.file.as_str())
        .collect();
    for file in &stale {
        fsutil::remove_quietly(&dir.join(file));
        fsutil::remove_quietly(&dir.join(format!("{file}.minisig")));
    }
    // SHA256SUMS (which each build extended) keeps lines only for what is still there.
    if !stale.is_empty() {
        pipeline::edit_sums(dir, &stale, None)?;
    }
    Ok(index)
}

fn entry(b: &Built) -> IndexPackage {
    let m = &b.manifest;
    IndexPackage {
        file: b
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size: b.size,
        sha256: b.sha256.clone(),
        product: m.product.clone(),
        id: m.package.id.clone(),
        components: m
            .components
            .iter()
            .map(|c| IndexComponent {
                name: c.name.clone(),
                version: c.version.clone(),
                tree: c.tree.clone(),
                full: c.full.as_ref().map(|_| c.full_payload()),
                deltas: c
                    .deltas
                    .iter()
                    .map(|d| IndexDelta {
                        from: d.from.clone(),
                        from_tree: d.from_tree.clone(),
                        bytes: d.payload_size(),
                    })
                    .collect(),
                requires: c.requires.clone(),
            })
            .collect(),
    }
}

/// Runs `build` with the share folder `dir` there (made if missing, with what `hint` says on
/// failure); a run that fails leaves no empty folder of its own making behind.
pub fn into_folder<T>(
    dir: &Path,
    hint: &str,
    build: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let made = !dir.exists();
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::other(format!("cannot make {}: {e}", dir.display())).hint(hint))?;
    let result = build();
    if result.is_err() && made {
        let _ = std::fs::remove_dir(dir); // only if still empty
    }
    result
}
