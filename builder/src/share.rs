//! Writing update shares (`iupack publish`, `iupack plan`): the packages, then the signed index
//! that `iupack-stub apply --from SHARE` reads (format in stub/src/format/share_index.rs and docs/share.md).
//! The index is written last, so a share never lists a package that is not there. The commands
//! decide the packages first ([`Planned`]); [`ShareBuild`] builds them (or describes them, for a
//! dry run).

use crate::keys;
use crate::pipeline::{self, Built};
use crate::progress;
use crate::spec::Spec;
use iupack_stub::format::share_index::{
    Index, IndexComponent, IndexDelta, IndexPackage, INDEX, INDEX_COMMENT, INDEX_FORMAT, INDEX_SIG,
};
use iupack_stub::{format::write, platform::fsutil, platform::time, Error};
use std::path::{Path, PathBuf};

/// A package a share is to hold: what it carries (paths relative to `base`) and its file name
/// without the extension. `publish` and `plan` decide these first, so that `--dry-run` can show
/// them without building anything.
#[derive(Debug)]
pub struct Planned {
    pub stem: String,
    pub spec: Spec,
    pub base: PathBuf,
    /// A bare package (`STEM.iup`), else self-extracting.
    pub bare: bool,
    /// It carries the client tool (when the build's options name one): the self-extracting
    /// full package, for machines that have none yet.
    pub client: bool,
}

impl Planned {
    /// The full content of `spec`'s newest releases alone (no deltas), as `STEM-full` where STEM
    /// is `product-VERSION`: what a machine with nothing installed, or no client tool, takes.
    pub fn full(spec: &Spec, base: &Path, bare: bool) -> Planned {
        let mut full = spec.clone();
        for c in &mut full.components {
            c.full = true;
            c.deltas.clear();
        }
        Planned {
            stem: format!(
                "{}-{}-full",
                spec.product,
                full.package_version(pipeline::created())
            ),
            spec: full,
            base: base.to_path_buf(),
            bare,
            client: !bare,
        }
    }
}

/// Where and how `publish` and `plan` build a share's packages: into `dir`, as `options` say
/// (their `out` is replaced per package, and a package of the same name is replaced).
#[derive(Debug)]
pub struct ShareBuild<'a> {
    pub dir: &'a Path,
    pub options: pipeline::Options,
}

impl ShareBuild<'_> {
    /// `STEM.iup` for a bare package, else `STEM.run`, or `STEM.exe` for Windows.
    pub fn file_name(&self, p: &Planned) -> String {
        let windows = self
            .options
            .target
            .as_deref()
            .is_some_and(|t| t.starts_with("windows-"));
        let ext = match (p.bare, windows) {
            (true, _) => "iup",
            (false, true) => "exe",
            (false, false) => "run",
        };
        format!("{}.{ext}", p.stem)
    }

    /// Builds every planned package into the share, in order, with one progress line for the
    /// packages above each package's phases (on the command's one reporter).
    pub fn build_all(&self, planned: &[Planned]) -> Result<Vec<Built>, Error> {
        let pb = self.options.progress.bar("packages", planned.len() as u64);
        let mut built = Vec::new();
        for p in planned {
            let file = self.file_name(p);
            pb.set_message(file.clone());
            let opts = pipeline::Options {
                out: self.dir.join(&file),
                force: true,
                bare: p.bare,
                with_client: self.options.with_client.clone().filter(|_| p.client),
                ..self.options.clone()
            };
            built.push(pipeline::run(&opts, &p.spec, &p.base)?);
            pb.inc(1);
        }
        let total: u64 = built.iter().map(|b| b.size).sum();
        pb.finish_with_message(format!(
            "{} package(s), {}",
            built.len(),
            progress::bytes(total)
        ));
        Ok(built)
    }

    /// A planned package for `--json`: its file, product, version and per component what it
    /// carries; with `built` (not a dry run) also the build's summary, as `build --json` prints it.
    pub fn describe(&self, p: &Planned, built: Option<&Built>) -> serde_json::Value {
        let components: Vec<_> = p
            .spec
            .components
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name,
                    "version": c.version.to_string(),
                    "full": c.full,
                    "deltas": c.deltas.iter().map(|d| d.version.to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({
            "file": self.file_name(p),
            "bare": p.bare,
            "product": p.spec.product,
            "version": built.and_then(|b| b.manifest.package.version.clone()).unwrap_or_else(|| p.spec.package_version(pipeline::created())).to_string(),
            "components": components,
            "built": built.map(|b| serde_json::to_value(&b.summary).expect("json")),
        })
    }

    /// A planned package as a line: its file and what each component carries.
    pub fn line(&self, p: &Planned) -> String {
        let parts: Vec<String> = p
            .spec
            .components
            .iter()
            .map(|c| {
                let mut what: Vec<String> = Vec::new();
                if c.full {
                    what.push("full".into());
                }
                what.extend(c.deltas.iter().map(|d| format!("delta from {}", d.version)));
                format!("{} {} ({})", c.name, c.version, what.join(", "))
            })
            .collect();
        let form = if p.bare { "" } else { " (self-extracting)" };
        format!("{}{form}: {}", self.file_name(p), parts.join("; "))
    }

    /// Builds `planned` into the share folder with its index signed by `key` (`hint` says what
    /// to check when the folder can't be made), or nothing on a dry run; then what `publish`
    /// and `plan` print.
    pub fn write(
        &self,
        planned: &[Planned],
        key: &Path,
        hint: &str,
        dry_run: bool,
    ) -> Result<Written, Error> {
        let built = if dry_run {
            None
        } else {
            Some(into_folder(self.dir, hint, || {
                let built = self.build_all(planned)?;
                write_index(self.dir, &built, key)?;
                Ok(built)
            })?)
        };
        let total = built
            .as_ref()
            .map(|b| b.iter().map(|b| b.size).sum::<u64>());
        let json = planned
            .iter()
            .enumerate()
            .map(|(i, p)| self.describe(p, built.as_ref().map(|b| &b[i])))
            .collect();
        Ok(Written { built, total, json })
    }
}

/// What `ShareBuild::write` wrote: the packages (none on a dry run), their bytes, and each
/// planned package described for `--json`.
pub struct Written {
    pub built: Option<Vec<Built>>,
    pub total: Option<u64>,
    pub json: Vec<serde_json::Value>,
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
