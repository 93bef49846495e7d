//! The admin's release store (issue 9): every release of a product's components, kept as
//! folders so that packages can be built from it without a hand-written spec.
//!
//! ```text
//! STORE/
//!   PRODUCT/
//!     product.toml           targets, and per component `requires` / `floor` (made by `add`)
//!     COMPONENT/
//!       VERSION/             the release's files, checked and unpacked on import
//! ```
//!
//! A release folder appears only complete (copied into a hidden `.VERSION.adding-PID` folder,
//! synced, then renamed) and leaves the same way (`prune`, `remove`: renamed hidden, synced, then
//! removed), so a crash never leaves a half release that a build would pick up. Hidden entries are
//! never releases. Packages already built from a release are self-contained: removing it from the
//! store changes no published share, only what later builds can carry deltas from.

use crate::content;
use crate::spec::{ComponentSpec, DeltaSpec, Spec, Targets};
use iupack_stub::format::manifest::{files_tree, is_valid_name};
use iupack_stub::format::version::{Version, VersionReq};
use iupack_stub::{platform::fsutil, Error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub const PRODUCT_FILE: &str = "product.toml";

/// `product.toml`: what a spec would say besides the releases.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductFile {
    pub targets: TargetsFile,
    /// Per component: what it requires, its security floor.
    #[serde(default)]
    pub components: BTreeMap<String, ComponentFile>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsFile {
    #[serde(default = "any_version")]
    pub product_versions: String,
    #[serde(default = "any")]
    pub platforms: Vec<String>,
    #[serde(default = "any")]
    pub languages: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentFile {
    #[serde(default)]
    pub requires: BTreeMap<String, String>,
    #[serde(default)]
    pub floor: Option<String>,
}

fn any() -> Vec<String> {
    vec!["*".into()]
}

fn any_version() -> String {
    "*".into()
}

/// A store folder.
#[derive(Debug)]
pub struct Store {
    pub root: PathBuf,
}

/// What `add` did.
#[derive(Debug)]
pub struct Added {
    /// False when the store already held this release with the same content (a no-op).
    pub new: bool,
    pub files: usize,
    pub bytes: u64,
    pub tree: String,
    /// The one folder every file of the drop is under, if so: likely a vendor's wrapper folder
    /// that `--strip-components` should have dropped (`2025.4/tzdata/...`).
    pub top_folder: Option<String>,
}

/// What `remove` did (or, in a dry run, would do).
#[derive(Debug)]
pub struct Removed {
    pub files: usize,
    pub bytes: u64,
    /// The component's releases left in the store, oldest first.
    pub left: Vec<Version>,
}

impl Store {
    /// The store at `root`, which need not exist yet (`add` makes it).
    pub fn new(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
        }
    }

    /// The store at `root`, which must be a folder: commands that only read or remove refuse a
    /// mistyped path instead of finding nothing in it.
    pub fn open(root: &Path) -> Result<Store, Error> {
        if !root.is_dir() {
            return Err(Error::usage(format!(
                "the release store {} does not exist (or is not a folder)",
                root.display()
            ))
            .hint("check the store's path; `iupack add STORE PRODUCT COMPONENT VERSION CONTENT` makes a store"));
        }
        Ok(Store::new(root))
    }

    fn product_dir(&self, product: &str) -> PathBuf {
        self.root.join(product)
    }

    /// Imports a vendor drop (folder, .zip, .tar, .tar.gz) as release VERSION of COMPONENT.
    /// Importing the same content again is a no-op; different content under a version already
    /// there is refused.
    pub fn add(
        &self,
        product: &str,
        component: &str,
        version: &Version,
        content: &Path,
        strip: usize,
    ) -> Result<Added, Error> {
        for (what, name) in [("product", product), ("component", component)] {
            if !is_valid_name(name) {
                return Err(Error::usage(format!(
                    "{what} `{name}` must be {}",
                    iupack_stub::format::manifest::NAME_RULE
                ))
                .hint(format!("give the {what} id the inventories use")));
            }
        }
        let loaded = content::load(content, strip)?;
        let entries: Vec<_> = loaded.files.iter().map(|f| f.entry()).collect();
        let tree = files_tree(&entries);
        let added = |new| Added {
            new,
            files: loaded.files.len(),
            bytes: loaded.files.iter().map(|f| f.size).sum(),
            tree: tree.clone(),
            top_folder: one_top_folder(loaded.files.iter().map(|f| f.path.as_str())),
        };
        let dir = self.product_dir(product).join(component);
        // The same version under another spelling (`v0.5.8`, `12.1.0`) is that release.
        let stored = visible_dirs(&dir)?
            .into_iter()
            .find(|v| Version::parse(v).is_ok_and(|v| v == *version));
        let target = dir.join(stored.unwrap_or_else(|| version.to_string()));
        if fsutil::exists(&target) {
            let have = self.release_tree(&target)?;
            if have == tree {
                return Ok(added(false));
            }
            return Err(Error::usage(format!(
                "the store already holds {product} {component} {version} with other content ({})",
                target.display()
            ))
            .hint(format!(
                "a release never changes once published: give the new content a new version, or, \
                 if the stored one was a mistake, `iupack remove {} {product} {component} {version}` \
                 and add it again",
                self.root.display()
            )));
        }
        self.ensure_product_file(product)?;
        fs::create_dir_all(&dir).map_err(|e| write_err(&dir, &e))?;
        let tmp = dir.join(format!(".{version}.adding-{}", std::process::id()));
        let copied = (|| -> Result<(), Error> {
            for f in &loaded.files {
                let to = f.path.under(&tmp);
                if let Some(parent) = to.parent() {
                    fs::create_dir_all(parent).map_err(|e| write_err(parent, &e))?;
                }
                fs::copy(&f.disk, &to).map_err(|e| write_err(&to, &e))?;
                fsutil::set_mode(&to, f.mode).map_err(|e| write_err(&to, &e))?;
                fsutil::sync_file(&to).map_err(|e| write_err(&to, &e))?;
            }
            fs::create_dir_all(&tmp).map_err(|e| write_err(&tmp, &e))?;
            // What landed must be exactly what was checked.
            if self.release_tree(&tmp)? != tree {
                return Err(Error::other(format!(
                    "the copy of {} in the store does not match the content read",
                    content.display()
                ))
                .hint("was the content changed while it was added? add it again"));
            }
            fsutil::rename(&tmp, &target).map_err(|e| write_err(&target, &e))?;
            fsutil::sync_dir(&dir).map_err(|e| write_err(&dir, &e))
        })();
        if let Err(e) = copied {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        Ok(added(true))
    }

    /// The tree digest of a stored release.
    pub fn release_tree_of(
        &self,
        product: &str,
        component: &str,
        version: &Version,
    ) -> Result<String, Error> {
        self.release_tree(&self.release_dir(product, component, version))
    }

    fn release_tree(&self, dir: &Path) -> Result<String, Error> {
        let files = iupack_stub::format::write::scan_dir(dir).map_err(|e| {
            Error::other(format!("the store's release {}: {e}", dir.display()))
                .hint("a release folder in the store holds only the release's files; remove what was put there by hand")
        })?;
        let entries: Vec<_> = files.iter().map(|f| f.entry()).collect();
        Ok(files_tree(&entries))
    }

    fn ensure_product_file(&self, product: &str) -> Result<(), Error> {
        let path = self.product_dir(product).join(PRODUCT_FILE);
        if fsutil::exists(&path) {
            return Ok(());
        }
        fs::create_dir_all(self.product_dir(product))
            .map_err(|e| write_err(&self.product_dir(product), &e))?;
        let text = format!(
            "# iupack release store: what packages of {product} target, and what each component\n\
             # requires. Edit as the product needs; `iupack build --store` reads it.\n\
             [targets]\n\
             product_versions = \"*\"     # e.g. \">=12.0, <13\"\n\
             platforms = [\"*\"]          # e.g. [\"linux-x86_64\", \"windows-x86_64\"]\n\
             languages = [\"*\"]\n\
             \n\
             # [components.definitions]\n\
             # requires = {{ engine = \">=3.7.70\" }}\n"
        );
        fsutil::atomic_write(&path, text.as_bytes()).map_err(|e| write_err(&path, &e))
    }

    pub fn product_file(&self, product: &str) -> Result<ProductFile, Error> {
        let path = self.product_dir(product).join(PRODUCT_FILE);
        let text = fs::read_to_string(&path).map_err(|e| {
            Error::usage(format!("cannot read {}: {e}", path.display())).hint(format!(
                "is {product} in this store? `iupack add {} {product} COMPONENT VERSION CONTENT` makes it",
                self.root.display()
            ))
        })?;
        toml::from_str(&text).map_err(|e| {
            Error::usage(format!("{} is not valid: {e}", path.display()))
                .hint("fix it; the README's release store section shows its fields")
        })
    }

    /// The products in the store.
    pub fn products(&self) -> Result<Vec<String>, Error> {
        Ok(visible_dirs(&self.root)?
            .into_iter()
            .filter(|p| self.root.join(p).join(PRODUCT_FILE).is_file())
            .collect())
    }

    /// Each component of `product` with its releases, oldest first.
    pub fn releases(&self, product: &str) -> Result<BTreeMap<String, Vec<Version>>, Error> {
        let dir = self.product_dir(product);
        let mut out = BTreeMap::new();
        for c in visible_dirs(&dir)? {
            let mut versions: Vec<Version> = Vec::new();
            for v in visible_dirs(&dir.join(&c))? {
                versions.push(Version::parse(&v).map_err(|e| {
                    Error::usage(format!(
                        "the store's {}: {e}",
                        dir.join(&c).join(&v).display()
                    ))
                    .hint(
                        "the store's release folders are named by version; move other folders out",
                    )
                })?);
            }
            versions.sort_by(|a, b| a.cmp(b).then_with(|| a.as_str().cmp(b.as_str())));
            if let Some(w) = versions.windows(2).find(|w| w[0] == w[1]) {
                return Err(Error::usage(format!(
                    "the store holds {product} {c} {} twice, also as {}",
                    w[0], w[1]
                ))
                .hint("one version has one release folder: remove one of them"));
            }
            if !versions.is_empty() {
                out.insert(c, versions);
            }
        }
        Ok(out)
    }

    pub fn release_dir(&self, product: &str, component: &str, version: &Version) -> PathBuf {
        self.product_dir(product)
            .join(component)
            .join(version.to_string())
    }

    /// A spec for the newest release of every component, with deltas from up to `deltas`
    /// earlier releases.
    pub fn spec(&self, product: &str, deltas: usize, full: bool) -> Result<(Spec, PathBuf), Error> {
        let pf = self.product_file(product)?;
        let releases = self.releases(product)?;
        if releases.is_empty() {
            return Err(Error::usage(format!(
                "the store {} has no releases of {product}",
                self.root.display()
            ))
            .hint("import one with `iupack add STORE PRODUCT COMPONENT VERSION CONTENT`"));
        }
        let bad = |e: String| {
            Error::usage(format!(
                "{}: {e}",
                self.product_dir(product).join(PRODUCT_FILE).display()
            ))
            .hint("fix product.toml; versions and ranges are like 3.7.70 and \">=3.7, <4\"")
        };
        // A name that is no component of the store is a typo that machines would only meet
        // later (a setting ignored, a requires never met): refused, naming what there is.
        let known = || releases.keys().cloned().collect::<Vec<_>>().join(", ");
        for (name, settings) in &pf.components {
            if !releases.contains_key(name) {
                return Err(bad(format!(
                    "[components.{name}]: the store has no releases of a component `{name}` of {product} (it has {})",
                    known()
                ))
                .hint(format!(
                    "fix the section's name to one of those, or remove the section (or `iupack add` a release of {name} first)"
                )));
            }
            if let Some(what) = settings
                .requires
                .keys()
                .find(|w| *w != "product" && !releases.contains_key(*w))
            {
                return Err(bad(format!(
                    "{name} requires `{what}`, which is neither `product` nor a component in the store ({})",
                    known()
                ))
                .hint("fix the name in product.toml: requires names `product` or a component of the store"));
            }
        }
        // Content paths are absolute: the build joins a spec's paths onto its folder (the
        // product's), and a relative store root would be joined twice (store/P/store/P/...).
        let release = |name: &str, v: &Version| {
            let dir = self.release_dir(product, name, v);
            std::path::absolute(&dir).unwrap_or(dir)
        };
        let mut components = Vec::new();
        for (name, versions) in &releases {
            let latest = versions.last().expect("non-empty").clone();
            let settings = pf.components.get(name);
            let requires = settings
                .map(|s| {
                    s.requires
                        .iter()
                        .map(|(k, v)| {
                            Ok((
                                k.clone(),
                                VersionReq::parse(v)
                                    .map_err(|e| bad(format!("{name} requires {k}: {e}")))?,
                            ))
                        })
                        .collect::<Result<BTreeMap<_, _>, Error>>()
                })
                .transpose()?
                .unwrap_or_default();
            let floor = settings
                .and_then(|s| s.floor.as_ref())
                .map(|f| Version::parse(f).map_err(|e| bad(format!("{name} floor: {e}"))))
                .transpose()?;
            let earlier = &versions[..versions.len() - 1];
            components.push(ComponentSpec {
                name: name.clone(),
                version: latest.clone(),
                content: release(name, &latest),
                strip_components: 0,
                full,
                requires,
                floor,
                deltas: earlier
                    .iter()
                    .rev()
                    .take(deltas)
                    .map(|v| DeltaSpec {
                        version: v.clone(),
                        content: release(name, v),
                        strip_components: 0,
                    })
                    .collect(),
            });
        }
        let spec = Spec {
            product: product.to_string(),
            version: None,
            id: None,
            targets: Targets {
                product_versions: VersionReq::parse(&pf.targets.product_versions)
                    .map_err(|e| bad(format!("product_versions: {e}")))?,
                platforms: pf.targets.platforms,
                languages: pf.targets.languages,
            },
            key_transitions: Vec::new(),
            other_components: Vec::new(),
            from_store: true,
            components,
        };
        spec.check(&self.product_dir(product).join(PRODUCT_FILE))?;
        Ok((spec, self.product_dir(product)))
    }

    /// Removes all but the newest `keep` releases of each component of `product`; returns what
    /// was (or, with `dry_run`, would be) removed.
    pub fn prune(
        &self,
        product: &str,
        keep: usize,
        dry_run: bool,
    ) -> Result<Vec<(String, Version)>, Error> {
        let mut removed = Vec::new();
        for (c, versions) in self.releases(product)? {
            let old = versions.len().saturating_sub(keep);
            for v in &versions[..old] {
                if !dry_run {
                    self.delete_release(product, &c, v)?;
                }
                removed.push((c.clone(), v.clone()));
            }
        }
        Ok(removed)
    }

    /// Removes release `version` of `component` (`iupack remove`: a release imported by mistake);
    /// with `dry_run` only says what it would remove. A release the store does not hold is
    /// refused, naming the ones it does.
    pub fn remove(
        &self,
        product: &str,
        component: &str,
        version: &Version,
        dry_run: bool,
    ) -> Result<Removed, Error> {
        self.product_file(product)?;
        let releases = self.releases(product)?;
        let Some(versions) = releases.get(component) else {
            let names: Vec<&str> = releases.keys().map(String::as_str).collect();
            return Err(Error::usage(format!(
                "the store {} has no releases of {product} {component}",
                self.root.display()
            ))
            .hint(if names.is_empty() {
                format!("{product} has no releases in this store")
            } else {
                format!("{product}'s components here: {}", names.join(", "))
            }));
        };
        if !versions.contains(version) {
            let list: Vec<String> = versions.iter().map(ToString::to_string).collect();
            return Err(Error::usage(format!(
                "the store {} has no release {version} of {product} {component}",
                self.root.display()
            ))
            .hint(format!(
                "the releases of {component} here: {} (give one of them)",
                list.join(", ")
            )));
        }
        let dir = self.release_dir(product, component, version);
        let files = iupack_stub::format::write::scan_dir(&dir).map_err(|e| {
            Error::other(format!("the store's release {}: {e}", dir.display()))
                .hint("check the store's permissions")
        })?;
        let removed = Removed {
            files: files.len(),
            bytes: files.iter().map(|f| f.size).sum(),
            left: versions.iter().filter(|v| *v != version).cloned().collect(),
        };
        if !dry_run {
            self.delete_release(product, component, version)?;
            if removed.left.is_empty() {
                // Only if empty: the component's folder goes with its last release.
                let _ = fs::remove_dir(self.product_dir(product).join(component));
            }
        }
        Ok(removed)
    }

    /// Deletes one release as it was added, in reverse: renamed to a hidden folder (never read
    /// as a release) and synced, then removed; an interrupted run leaves either the whole
    /// release or a hidden leftover, never half a release.
    fn delete_release(&self, product: &str, component: &str, v: &Version) -> Result<(), Error> {
        let dir = self.release_dir(product, component, v);
        let parent = self.product_dir(product).join(component);
        let hidden = parent.join(format!(".{v}.removing-{}", std::process::id()));
        fsutil::rename(&dir, &hidden).map_err(|e| write_err(&dir, &e))?;
        fsutil::sync_dir(&parent).map_err(|e| write_err(&parent, &e))?;
        fs::remove_dir_all(&hidden).map_err(|e| write_err(&hidden, &e))
    }
}

/// The one top folder every path of `paths` (`/`-separated) is under, if there is one and
/// nothing lies beside it.
fn one_top_folder<'a>(paths: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut top: Option<&str> = None;
    for p in paths {
        let (first, _) = p.split_once('/')?;
        if top.is_some_and(|t| t != first) {
            return None;
        }
        top = Some(first);
    }
    top.map(str::to_string)
}

/// Sub-folders of `dir` that are not hidden, sorted; none when `dir` does not exist.
fn visible_dirs(dir: &Path) -> Result<Vec<String>, Error> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::usage(format!("cannot read {}: {e}", dir.display()))
                .hint("check the store's path and permissions"))
        }
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn write_err(path: &Path, e: &std::io::Error) -> Error {
    Error::other(format!("cannot write {}: {e}", path.display()))
        .hint("check free space and write permission in the store")
}

#[cfg(test)]
mod tests {
    use super::one_top_folder;

    #[test]
    fn one_top_folder_only_when_everything_is_under_it() {
        assert_eq!(
            one_top_folder(["tzdata/a", "tzdata/b/c"]).as_deref(),
            Some("tzdata")
        );
        assert_eq!(one_top_folder(["tzdata/a", "README"]), None);
        assert_eq!(one_top_folder(["a/x", "b/y"]), None);
        assert_eq!(one_top_folder(["README"]), None);
        assert_eq!(one_top_folder([]), None);
    }
}
