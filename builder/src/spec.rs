//! The build spec (docs/design.md §7): a TOML file naming the product, its targets and each component's
//! release content. Relative paths resolve against the spec's folder.
//! Reads and checks only; never builds.

use iupack_stub::format::manifest::{is_valid_name, NAME_RULE};
use iupack_stub::format::version::{Version, VersionReq};
use iupack_stub::Error;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub product: String,
    /// The release name of the package; default: the highest component version.
    #[serde(default)]
    pub version: Option<Version>,
    /// The package id; default: PRODUCT-VERSION-CREATED.
    #[serde(default)]
    pub id: Option<String>,
    pub targets: Targets,
    /// Key-transition statements (`iupack key-transition`) to carry, oldest first.
    #[serde(default)]
    pub key_transitions: Vec<PathBuf>,
    pub components: Vec<ComponentSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(default = "VersionReq::any")]
    pub product_versions: VersionReq,
    #[serde(default = "any")]
    pub platforms: Vec<String>,
    #[serde(default = "any")]
    pub languages: Vec<String>,
}

fn any() -> Vec<String> {
    vec!["*".into()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    pub name: String,
    pub version: Version,
    /// A folder, `.zip`, `.tar` or `.tar.gz` holding the release.
    pub content: PathBuf,
    /// Leading path components to drop from archive entries (a vendor archive's top folder).
    #[serde(default)]
    pub strip_components: usize,
    #[serde(default = "yes")]
    pub full: bool,
    #[serde(default)]
    pub requires: BTreeMap<String, VersionReq>,
    /// The security floor: machines that see this package never go below this version again.
    #[serde(default)]
    pub floor: Option<Version>,
    /// Earlier releases to carry deltas from.
    #[serde(default)]
    pub deltas: Vec<DeltaSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaSpec {
    pub version: Version,
    pub content: PathBuf,
    #[serde(default)]
    pub strip_components: usize,
}

fn yes() -> bool {
    true
}

impl Spec {
    pub fn load(path: &Path) -> Result<(Spec, PathBuf), Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!("cannot read the spec {}: {e}", path.display()))
                .hint("check the spec file's path (see the build spec in the README)")
        })?;
        let spec: Spec = toml::from_str(&text).map_err(|e| {
            Error::usage(format!("the spec {} is not valid: {e}", path.display()))
                .hint("see the build spec format in the README")
        })?;
        spec.check(path)?;
        let base = iupack_stub::platform::fsutil::parent_of(path);
        Ok((spec, base))
    }

    pub fn check(&self, path: &Path) -> Result<(), Error> {
        let bad = |m: String| {
            Error::usage(format!("{}: {m}", path.display()))
                .hint("fix the spec (the build spec format is in the README), then build again")
        };
        if !is_valid_name(&self.product) {
            return Err(bad(format!(
                "product `{}` must be {NAME_RULE}",
                self.product
            )));
        }
        if self.components.is_empty() {
            return Err(bad("no [[components]]".into()));
        }
        for c in &self.components {
            if !is_valid_name(&c.name) {
                return Err(bad(format!("component `{}` must be {NAME_RULE}", c.name)));
            }
            if !c.full && c.deltas.is_empty() {
                return Err(bad(format!(
                    "component `{}` has full = false and no [[components.deltas]]: it carries nothing",
                    c.name
                ))
                .hint("set full = true, or add deltas from earlier versions"));
            }
            if let Some(f) = c.floor.as_ref().filter(|f| **f > c.version) {
                return Err(bad(format!(
                    "component `{}` has floor {f}, above its own version {}",
                    c.name, c.version
                ))
                .hint("the floor is the lowest version machines may run after this package; it can't be above the version it brings"));
            }
            let mut seen = std::collections::HashSet::new();
            for d in &c.deltas {
                if d.version == c.version {
                    return Err(bad(format!(
                        "component `{}` has a delta from its own version {}",
                        c.name, d.version
                    )));
                }
                if !seen.insert(d.version.to_string()) {
                    return Err(bad(format!(
                        "component `{}` lists the delta from {} twice",
                        c.name, d.version
                    )));
                }
            }
        }
        Ok(())
    }

    /// The package's release name.
    pub fn package_version(&self) -> Version {
        self.version.clone().unwrap_or_else(|| {
            self.components
                .iter()
                .map(|c| c.version.clone())
                .max()
                .expect("a spec has components")
        })
    }
}
