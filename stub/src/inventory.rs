//! The product inventory (DESIGN §5): what is installed on this machine and which keys it trusts.
//!
//! The inventory is the machine's trust root and its record of truth. It is read with a size cap,
//! written only atomically (temp file, sync, rename, sync folder), and fields this version does
//! not know are kept as they were, so a newer tool's additions survive an older stub's update.

use crate::error::{Error, ExitCode, Result};
use crate::fsutil;
use crate::version::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FORMAT: u32 = 1;
const MAX_INVENTORY_BYTES: u64 = 16 << 20;
pub const ENV_INVENTORY: &str = "IUPACK_INVENTORY";

type Extra = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inventory {
    pub format: u32,
    #[serde(default)]
    pub machine: Machine,
    #[serde(default)]
    pub products: Vec<Product>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub version: Version,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    #[serde(default)]
    pub revoked_keys: Vec<String>,
    #[serde(default)]
    pub components: BTreeMap<String, InstalledComponent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<serde_json::Value>,
    #[serde(default = "default_keep")]
    pub keep_previous: u32,
    /// Runs from a terminal with no flags ask a person first (interactive mode), as `-i` does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interactive: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

fn default_keep() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstalledComponent {
    /// Absent when the component is configured but not yet installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// Where the component lives; relative paths resolve against the inventory's folder.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// The package that installed the current version, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    /// The security floor: the lowest version this machine may run, raised by signed packages,
    /// never lowered by iupack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<Version>,
    /// What the installed version requires of other components (from its package), so that a
    /// rollback can refuse to break it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requires: BTreeMap<String, String>,
    /// Kept earlier versions, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<PreviousCopy>,
    /// Where files have no exec bit (Windows): the executable files of the installed tree, so
    /// that its digest can be checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<String>,
    /// Windows: a version staged and scheduled to replace this one at the next restart (its
    /// files were in use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingInstall>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A version being installed: what `make_live` records, and what `InstalledComponent::pending`
/// holds while it waits for a restart.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingInstall {
    pub version: Version,
    pub tree: String,
    pub package: String,
    pub installed: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requires: BTreeMap<String, String>,
    /// Where the current tree will be kept (in the side folder), if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_as: Option<String>,
    /// The staged tree the restart moves into place.
    pub stage: PathBuf,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<String>,
}

impl InstalledComponent {
    /// Records `new` as the installed version (at commit, or after the restart that swapped it
    /// in): the current one becomes the newest kept copy when it was kept, copies beyond `keep`
    /// are dropped. Returns the kept folders (below `side`) to remove.
    pub fn make_live(&mut self, new: PendingInstall, keep: usize, side: &Path) -> Vec<PathBuf> {
        if let Some(dir) = new.kept_as {
            self.keep_current_as(dir);
        }
        self.version = Some(new.version);
        self.tree = Some(new.tree);
        self.package = Some(new.package);
        self.installed = Some(new.installed);
        self.requires = new.requires;
        self.exec = new.exec;
        self.pending = None;
        self.prune(keep, side)
    }

    /// Records the installed version as kept in `dir` of the side folder (newest first).
    fn keep_current_as(&mut self, dir: String) {
        self.previous.insert(
            0,
            PreviousCopy {
                version: self.version.clone(),
                tree: self.tree.clone(),
                dir,
                package: self.package.clone(),
                installed: self.installed.clone(),
                requires: std::mem::take(&mut self.requires),
                exec: std::mem::take(&mut self.exec),
            },
        );
    }

    /// Drops kept copies beyond `keep`, returning their folders (below `side`) to remove.
    fn prune(&mut self, keep: usize, side: &Path) -> Vec<PathBuf> {
        let mut gone = Vec::new();
        while self.previous.len() > keep {
            if let Some(old) = self.previous.pop() {
                gone.push(side.join(old.dir));
            }
        }
        gone
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PreviousCopy {
    pub version: Option<Version>,
    pub tree: Option<String>,
    /// The kept folder, relative to the component's `.NAME.iupack` folder.
    pub dir: String,
    /// The package that had installed it, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requires: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<String>,
}

/// An inventory loaded from a file, with the folder its relative paths resolve against.
#[derive(Debug, Clone)]
pub struct InventoryFile {
    pub path: PathBuf,
    pub inventory: Inventory,
}

/// The inventory path: the flag, else `IUPACK_INVENTORY`, else the platform default.
pub fn default_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(ENV_INVENTORY).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(base).join("iupack").join("inventory.json")
    } else {
        PathBuf::from("/var/lib/iupack/inventory.json")
    }
}

impl InventoryFile {
    pub fn load(path: &Path) -> Result<InventoryFile> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::not_applicable(format!("no product inventory at {shown}"))
                    .hint("no iupack-managed product is installed here; name the inventory with --inventory PATH or IUPACK_INVENTORY")
            } else {
                Error::other(format!("cannot read the inventory {shown}: {e}"))
            }
        })?;
        if meta.len() > MAX_INVENTORY_BYTES {
            return Err(Error::other(format!(
                "the inventory {shown} is larger than 16 MiB"
            )));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| Error::other(format!("cannot read the inventory {shown}: {e}")))?;
        let inventory: Inventory = serde_json::from_slice(&bytes).map_err(|e| {
            Error::other(format!("the inventory {shown} is not valid: {e}"))
                .hint("fix the file by hand or restore it from backup; iupack changed nothing")
        })?;
        if inventory.format != FORMAT {
            return Err(Error::other(format!(
                "the inventory {shown} has format {}, this iupack-stub reads format {FORMAT}",
                inventory.format
            )));
        }
        Ok(InventoryFile {
            path: path.to_path_buf(),
            inventory,
        })
    }

    /// The inventory as written to disk.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(&self.inventory).expect("inventory serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Writes the inventory atomically.
    pub fn save(&self) -> Result<()> {
        fsutil::atomic_write(&self.path, &self.to_bytes()).map_err(|e| {
            Error::new(
                ExitCode::ApplyFailed,
                format!("cannot write the inventory {}: {e}", self.path.display()),
            )
        })
    }

    pub fn product(&self, id: &str) -> Option<&Product> {
        self.inventory.products.iter().find(|p| p.id == id)
    }

    pub fn product_mut(&mut self, id: &str) -> Option<&mut Product> {
        self.inventory.products.iter_mut().find(|p| p.id == id)
    }

    /// The folder relative component paths resolve against.
    pub fn base_dir(&self) -> PathBuf {
        fsutil::parent_of(&self.path)
    }

    /// A component's folder on disk.
    pub fn resolve(&self, component_path: &str) -> PathBuf {
        let p = Path::new(component_path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir().join(p)
        }
    }

    /// The platform this machine reports: the inventory's, else the stub's own.
    pub fn platform(&self) -> String {
        self.inventory
            .machine
            .platform
            .clone()
            .unwrap_or_else(crate::this_platform)
    }
}

/// The folder beside a component where its staging and kept previous copies live:
/// `engine` → `.engine.iupack`. Same parent, so same file system, so renames are atomic.
pub fn side_dir(component_dir: &Path) -> PathBuf {
    let name = component_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".into());
    fsutil::parent_of(component_dir).join(format!(".{name}.iupack"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `inventory` fuzz target: a number in a field iupack does not know drifted on
    /// each rewrite (serde_json's fast float parsing is not exact). Unknown fields must survive
    /// any number of rewrites.
    #[test]
    fn unknown_numbers_survive_rewrites() {
        let text = br#"{ "format": 1, "machine": { "platform": "linux-x86_64" },
            "products": [], "vendor": { "ratio": 6.666666000000000001e76, "tiny": 5e-324,
            "big": 18446744073709551615, "neg": -9223372036854775808 } }"#;
        let once: Inventory = serde_json::from_slice(text).expect("parses");
        let bytes1 = serde_json::to_vec(&once).expect("serializes");
        let twice: Inventory = serde_json::from_slice(&bytes1).expect("re-parses");
        let bytes2 = serde_json::to_vec(&twice).expect("serializes");
        assert_eq!(bytes1, bytes2);
        assert_eq!(once.extra["vendor"]["big"], serde_json::json!(u64::MAX));
        assert_eq!(once.extra["vendor"]["ratio"].as_f64(), Some(6.666_666e76));
    }
}
