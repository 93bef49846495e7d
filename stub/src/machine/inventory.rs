//! The product inventory (docs/design.md §5): what is installed on this machine and which keys it trusts.
//!
//! The inventory is the machine's trust root and its record of truth. It is read with a size cap,
//! written only atomically (temp file, sync, rename, sync folder), and fields this version does
//! not know are kept as they were, so a newer tool's additions survive an older stub's update.

use crate::error::{Error, ExitCode, Result};
use crate::format::signature;
use crate::format::version::Version;
use crate::json::sorted::SortedMap;
use crate::json::{self, object, Fields, FromJson, JsonError, Obj, ToJson, Value};
use crate::platform::fsutil;
use std::path::{Path, PathBuf};

pub const FORMAT: u32 = 1;
const MAX_INVENTORY_BYTES: u64 = 16 << 20;
pub const ENV_INVENTORY: &str = "IUPACK_INVENTORY";

type Extra = json::Map;

#[derive(Debug, Clone)]
pub struct Inventory {
    pub format: u32,
    pub machine: Machine,
    pub products: Vec<Product>,
    /// The installed client tool (issue 23), when a package's `--install-client` put it here.
    /// Builds without `install` (the smallest head) keep it unread, in `extra`.
    #[cfg(feature = "install")]
    pub client: Option<ClientRecord>,
    pub extra: Extra,
}

/// The installed client tool: where it is, which release it is, and whose packages may replace
/// it (docs/design.md §5). Packages of `product` that carry a newer client tool update it first
/// (`apply::client_tool`); no other product's can.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    /// The binary, an absolute path.
    pub path: String,
    pub version: Version,
    pub sha256: String,
    pub product: String,
    pub package: Option<String>,
    pub installed: Option<String>,
    /// The highest security floor a package said for the client tool.
    pub floor: Option<Version>,
    /// The version of the kept copy of the client tool replaced last (`.NAME.iupack/previous`).
    pub previous: Option<Version>,
    pub extra: Extra,
}

#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub platform: Option<String>,
    pub language: Option<String>,
    pub extra: Extra,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub name: Option<String>,
    pub version: Version,
    pub language: Option<String>,
    pub trusted_keys: Vec<String>,
    pub revoked_keys: Vec<String>,
    pub components: SortedMap<InstalledComponent>,
    pub hooks: Option<Value>,
    pub keep_previous: u32,
    /// Runs from a terminal with no flags ask a person first (interactive mode), as `-i` does.
    pub interactive: bool,
    pub extra: Extra,
}

#[cfg(feature = "install")]
object!(Inventory, keep(extra), { format: req, machine: dflt, products: dflt, client: opt });
#[cfg(not(feature = "install"))]
object!(Inventory, keep(extra), { format: req, machine: dflt, products: dflt });
#[cfg(feature = "install")]
object!(ClientRecord, keep(extra), {
    path: req, version: req, sha256: req, product: req, package: opt, installed: opt, floor: opt,
    previous: opt,
});
object!(Machine, keep(extra), { platform: opt, language: opt });
object!(InstalledComponent, keep(extra), {
    version: opt, path: req, tree: opt, package: opt, installed: opt, floor: opt, requires: list,
    previous: list, exec: list, pending: opt, allow_writable_parent: flag,
});
object!(PendingInstall, keep(extra), {
    version: req, tree: req, package: req, installed: req, requires: list, kept_as: opt,
    stage: req, exec: list,
});
object!(PreviousCopy, keep(extra), {
    version: null, tree: null, dir: req, package: opt, installed: opt, requires: list, exec: list,
});

/// Kept copies beside the installed version unless the inventory says otherwise.
const DEFAULT_KEEP: u32 = 1;

impl FromJson for Product {
    fn from_json(v: &Value) -> std::result::Result<Self, JsonError> {
        let mut f = Fields::of_known(
            v,
            &[
                "id",
                "name",
                "version",
                "language",
                "trusted_keys",
                "revoked_keys",
                "components",
                "hooks",
                "keep_previous",
                "interactive",
            ],
        )?;
        // A key id, a file name or a secret key where a public key belongs would only show
        // later as "not trusted": say what was found instead.
        let mut keys = |field: &'static str| -> std::result::Result<Vec<String>, JsonError> {
            let keys: Vec<String> = f.or_default(field)?;
            match keys.iter().find(|k| !signature::is_public_key(k)) {
                Some(k) => Err(JsonError::new(format!(
                    "`{}` is not a minisign public key: give the key line of its .pub file \
                     (56 characters, RW...)",
                    k.escape_debug()
                ))
                .inside(field)),
                None => Ok(keys),
            }
        };
        let (trusted_keys, revoked_keys) = (keys("trusted_keys")?, keys("revoked_keys")?);
        Ok(Product {
            id: f.req("id")?,
            name: f.opt("name")?,
            version: f.req("version")?,
            language: f.opt("language")?,
            trusted_keys,
            revoked_keys,
            components: f.or_default("components")?,
            hooks: f.opt("hooks")?,
            keep_previous: f.opt("keep_previous")?.unwrap_or(DEFAULT_KEEP),
            interactive: f.or_default("interactive")?,
            extra: f.rest(),
        })
    }
}

impl ToJson for Product {
    fn to_json(&self) -> Value {
        Obj::new()
            .put("id", &self.id)
            .put_opt("name", &self.name)
            .put("version", &self.version)
            .put_opt("language", &self.language)
            .put("trusted_keys", &self.trusted_keys)
            .put("revoked_keys", &self.revoked_keys)
            .put("components", &self.components)
            .put_opt("hooks", &self.hooks)
            .put("keep_previous", self.keep_previous)
            .put_if(self.interactive, "interactive", true)
            .extend(&self.extra)
            .build()
    }
}

#[derive(Debug, Clone)]
pub struct InstalledComponent {
    /// Absent when the component is configured but not yet installed.
    pub version: Option<Version>,
    /// Where the component lives; relative paths resolve against the inventory's folder.
    pub path: String,
    pub tree: Option<String>,
    /// The package that installed the current version, and when.
    pub package: Option<String>,
    pub installed: Option<String>,
    /// The security floor: the lowest version this machine may run, raised by signed packages,
    /// never lowered by iupack.
    pub floor: Option<Version>,
    /// What the installed version requires of other components (from its package), so that a
    /// rollback can refuse to break it.
    pub requires: SortedMap<String>,
    /// Kept earlier versions, newest first.
    pub previous: Vec<PreviousCopy>,
    /// Where files have no exec bit (Windows): the executable files of the installed tree, so
    /// that its digest can be checked.
    pub exec: Vec<String>,
    /// Windows: a version staged and scheduled to replace this one at the next restart (its
    /// files were in use).
    pub pending: Option<PendingInstall>,
    /// The folder holding this component may be writable by another user, and that is intended
    /// (a service's own data folder): the run says so instead of refusing (`safedir`).
    pub allow_writable_parent: bool,
    pub extra: Extra,
}

/// A version being installed: what `make_live` records, and what `InstalledComponent::pending`
/// holds while it waits for a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInstall {
    pub version: Version,
    pub tree: String,
    pub package: String,
    pub installed: String,
    pub requires: SortedMap<String>,
    /// Where the current tree will be kept (in the side folder), if there is one.
    pub kept_as: Option<String>,
    /// The staged tree the restart moves into place.
    pub stage: PathBuf,
    pub exec: Vec<String>,
    pub extra: Extra,
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
                extra: Extra::default(),
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

impl PreviousCopy {
    /// Whether `dir` is a plain folder name in the side folder (iupack names them
    /// `previous-VERSION`): a hand-edited `../x` or `.` never leads out of it.
    pub fn dir_is_plain(&self) -> bool {
        let d = &self.dir;
        !d.is_empty() && !d.contains(['/', '\\']) && !d.starts_with('.')
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousCopy {
    pub version: Option<Version>,
    pub tree: Option<String>,
    /// The kept folder, relative to the component's `.NAME.iupack` folder.
    pub dir: String,
    /// The package that had installed it, and when.
    pub package: Option<String>,
    pub installed: Option<String>,
    pub requires: SortedMap<String>,
    pub exec: Vec<String>,
    pub extra: Extra,
}

#[cfg(feature = "install")]
impl ClientRecord {
    /// Whether the file at `path` is the recorded binary, hashed now: `None` when it can't be
    /// read (missing, not a plain file).
    pub fn on_disk(&self) -> Option<bool> {
        let f = fsutil::open_regular(Path::new(&self.path)).ok()?;
        let (_, digest) = crate::format::digest::hash_reader(f).ok()?;
        Some(digest == self.sha256)
    }
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
        let inventory: Inventory = json::from_slice(&bytes).map_err(|e| {
            Error::other(format!("the inventory {shown} is not valid: {e}"))
                .hint("fix the file by hand or restore it from backup; iupack changed nothing")
        })?;
        if inventory.format != FORMAT {
            return Err(Error::other(format!(
                "the inventory {shown} has format {}, this iupack-stub reads format {FORMAT}",
                inventory.format
            )));
        }
        let products = &inventory.products;
        if let Some((i, p)) = products
            .iter()
            .enumerate()
            .find(|(i, p)| products[..*i].iter().any(|q| q.id == p.id))
        {
            return Err(Error::other(format!(
                "the inventory {shown} lists product {} twice (entries {} and {})",
                p.id.escape_debug(),
                products.iter().position(|q| q.id == p.id).unwrap_or(0) + 1,
                i + 1
            ))
            .hint("merge the two entries into one (their keys, revocations and components); iupack changed nothing"));
        }
        Ok(InventoryFile {
            path: path.to_path_buf(),
            inventory,
        })
    }

    /// The inventory as written to disk.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.inventory.to_json().to_pretty().into_bytes();
        bytes.push(b'\n');
        bytes
    }

    /// Writes the inventory atomically.
    pub fn save(&self) -> Result<()> {
        fsutil::replace_file(&self.path, &self.to_bytes(), true).map_err(|e| {
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

/// The trust root may be made or changed only where no other user can change it: the folder
/// holding the inventory (of its target, when it is a symlink) and every folder above it
/// (`safedir::walk`), and an existing inventory owned by this user or root and writable by no
/// one else.
pub fn check_trust_root(inventory: &Path) -> Result<()> {
    let refuse = |why: String| {
        Error::new(
            ExitCode::ApplyFailed,
            format!("{why}: the inventory, which says whom this machine trusts, must not be where another user can change it"),
        )
        .hint("use a folder only root (or the user who runs updates) can change, such as the default /var/lib/iupack; nothing was changed")
    };
    let target = std::fs::canonicalize(inventory).unwrap_or_else(|_| inventory.to_path_buf());
    let (_, who) = crate::platform::safedir::walk(&fsutil::parent_of(&target))?;
    if let Some(who) = who {
        return Err(refuse(format!("another user can change {who}")));
    }
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(&target) {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if m.uid() != me && m.uid() != 0 {
            return Err(refuse(format!(
                "{} belongs to another user (uid {})",
                target.display(),
                m.uid()
            )));
        }
        if m.mode() & 0o002 != 0 {
            return Err(refuse(format!(
                "{} is writable by every user",
                target.display()
            )));
        }
    }
    Ok(())
}

/// Makes the folder an inventory is to be created in (and those above it), 0755 whatever the
/// umask, then checks it as `check_trust_root` does.
pub fn make_folder(inventory: &Path) -> Result<()> {
    let dir = fsutil::parent_of(inventory);
    let mut folders = std::fs::DirBuilder::new();
    folders.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut folders, 0o755);
    folders.create(&dir).map_err(|e| {
        Error::apply_io(format!("cannot make the folder {}", dir.display()), &e)
            .hint("run as the user who may change the product (root or an administrator)")
    })?;
    check_trust_root(inventory)
}

/// A file of the inventory's own beside it: `inventory.json` → `inventory.json.SUFFIX` (its
/// `lock` and its `journal`).
pub fn beside(inventory: &Path, suffix: &str) -> PathBuf {
    let mut name = inventory.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    inventory.with_file_name(name)
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
    /// each rewrite (serde_json's fast float parsing was not exact). Unknown fields must survive
    /// any number of rewrites, numbers exactly as written, in their order.
    #[test]
    fn unknown_fields_survive_rewrites_exactly() {
        let text = br#"{ "format": 1, "machine": { "platform": "linux-x86_64", "cpu": "x" },
            "products": [], "vendor": { "ratio": 6.666666000000000001e76, "tiny": 5e-324,
            "big": 18446744073709551615, "neg": -9223372036854775808, "s": "\u00e9\n" } }"#;
        let once: Inventory = json::from_slice(text).expect("parses");
        let bytes1 = once.to_json().to_pretty();
        let twice: Inventory = json::from_slice(bytes1.as_bytes()).expect("re-parses");
        assert_eq!(bytes1, twice.to_json().to_pretty());
        let vendor = &once.extra[0];
        assert_eq!(vendor.0, "vendor");
        assert_eq!(
            vendor.1.to_compact(),
            r#"{"ratio":6.666666000000000001e76,"tiny":5e-324,"big":18446744073709551615,"neg":-9223372036854775808,"s":"é\n"}"#
        );
        assert_eq!(
            once.machine.extra,
            vec![("cpu".into(), Value::String("x".into()))]
        );
    }
}
