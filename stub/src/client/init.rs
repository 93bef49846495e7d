//! `init PRODUCT VERSION`: sets up a product in this machine's inventory from flags, so that no
//! admin writes its JSON by hand (issue 23). Creates the inventory (and its folder) when there is
//! none, adds the product or the components it lacks, and refuses to change a value an entry
//! already has unless told to (`--force`). Every value is checked as a package run reads it: a
//! key that is not a minisign public key, a name or version a run would refuse, hooks a run
//! would refuse, folders that overlap another component's; a refusal changes nothing. Written
//! atomically under the inventory's lock, after an interrupted update is finished or undone.

use crate::apply::report::Report;
use crate::error::{Error, ExitCode, Result};
use crate::format::manifest::{is_valid_name, NAME_RULE};
use crate::format::signature;
use crate::format::version::Version;
use crate::json::{self, FromJson, Value};
use crate::machine::hooks::Hooks;
use crate::machine::inventory::{
    check_trust_root, make_folder, InstalledComponent, Inventory, InventoryFile, Product, FORMAT,
};
use crate::machine::lock::InventoryLock;
use crate::machine::session::{self, Access};
use crate::platform::fsutil::{self, absolute};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `init` was given, as typed (checked here, not by the argument parser).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InitSpec {
    pub product: String,
    pub version: String,
    pub name: Option<String>,
    /// `--key`: a minisign `.pub` file, or its key line.
    pub keys: Vec<String>,
    /// `--component NAME=PATH` or `NAME@VERSION=PATH` (a version: already installed there).
    pub components: Vec<String>,
    pub keep_previous: Option<String>,
    /// `--hooks FILE`: a JSON object as the inventory's `hooks`.
    pub hooks: Option<PathBuf>,
    pub force: bool,
}

/// The most kept copies `init` sets (each is a whole tree on disk).
const MAX_KEEP: u32 = 100;
/// The largest hooks file read.
const MAX_HOOKS_BYTES: u64 = 1 << 20;

/// Sets up `spec`'s product in the inventory at `inventory` (created when missing).
pub fn init(
    inventory: &Path,
    spec: &InitSpec,
    wait: Duration,
    report: &mut Report,
) -> Result<ExitCode> {
    let wanted = product_of(spec)?;
    let inventory = absolute(inventory);
    report.product = Some(wanted.id.clone());
    report.result = "initialised".into();
    let list = || {
        let names: Vec<&str> = wanted.components.iter().map(|(n, _)| n.as_str()).collect();
        match names.is_empty() {
            true => format!("added {} {}", wanted.id, wanted.version),
            false => format!(
                "added {} {} ({})",
                wanted.id,
                wanted.version,
                names.join(", ")
            ),
        }
    };
    check_trust_root(&inventory)?;
    if !fsutil::exists(&inventory) {
        // Checked whole before its folder is made: a refusal leaves nothing behind.
        let inv = InventoryFile {
            path: inventory.clone(),
            inventory: Inventory {
                format: FORMAT,
                machine: Default::default(),
                products: vec![wanted.clone()],
                #[cfg(feature = "install")]
                client: None,
                extra: Default::default(),
            },
        };
        check_components(&inv, &wanted)?;
        make_folder(&inventory)?;
        let _lock = InventoryLock::acquire(&inventory, wait)?;
        if !fsutil::exists(&inventory) {
            inv.save()?;
            report.message = format!("{} in {}", list(), inventory.display());
            return Ok(ExitCode::Success);
        }
        // Made meanwhile by another run: extended as any existing one.
    }
    let session = session::open(&inventory, wait, Access::Change)?;
    report.recovered.clone_from(&session.recovered);
    let mut inv = session.inv.clone();
    let changes = match inv.product_mut(&wanted.id) {
        None => {
            inv.inventory.products.push(wanted.clone());
            vec![list()]
        }
        Some(have) => merge(have, &wanted, spec)?,
    };
    let product = inv
        .product(&wanted.id)
        .cloned()
        .expect("added or merged above");
    check_components(&inv, &product)?;
    if changes.is_empty() {
        report.message = format!(
            "{} is already set up in {}: nothing changed",
            wanted.id,
            inventory.display()
        );
        return Ok(ExitCode::Success);
    }
    inv.save()?;
    report.message = format!("{} in {}", changes.join("; "), inventory.display());
    Ok(ExitCode::Success)
}

/// Each component of `product` has a plain folder of its own (as a run requires), apart from
/// every other component's and not holding the inventory (a package's tree must never carry
/// the trust root).
fn check_components(inv: &InventoryFile, product: &Product) -> Result<()> {
    let home = inv.base_dir();
    for (name, c) in product.components.iter() {
        let dir = crate::machine::installed::component_dir(inv, name, c).map_err(|e| Error {
            code: ExitCode::Usage,
            message: format!("--component {name}={}: not a plain folder path", c.path),
            ..e
        })?;
        if home.starts_with(&dir) {
            return Err(Error::usage(format!(
                "--component {name}={}: the folder {} holds the inventory",
                c.path,
                dir.display()
            ))
            .hint("give the component a folder of its own beside the inventory's, not above it"));
        }
    }
    crate::apply::plan::check_disjoint(inv, product)
}

/// The product entry `spec` describes, every value checked.
fn product_of(spec: &InitSpec) -> Result<Product> {
    let id = spec.product.as_str();
    if !is_valid_name(id) {
        return Err(Error::usage(format!(
            "`{}` is not a product id: {NAME_RULE}",
            id.escape_debug()
        )));
    }
    let version = Version::parse(&spec.version).map_err(|e| {
        Error::usage(format!(
            "`{}` is not a version: {e}",
            spec.version.escape_debug()
        ))
    })?;
    if spec.keys.is_empty() {
        return Err(Error::usage(
            "init needs the publisher's public key: --key FILE.pub (what `iupack keygen` wrote)",
        ));
    }
    let mut trusted_keys = Vec::new();
    for k in &spec.keys {
        let key = key_of(k)?;
        if !trusted_keys.contains(&key) {
            trusted_keys.push(key);
        }
    }
    let mut components = json::sorted::SortedMap::new();
    for c in &spec.components {
        let (name, comp) = component_of(c)?;
        if components.get(&name).is_some() {
            return Err(Error::usage(format!("--component {name} is given twice")));
        }
        components.insert(name, comp);
    }
    let keep_previous = match &spec.keep_previous {
        None => None,
        Some(n) => Some(
            n.parse::<u32>()
                .ok()
                .filter(|n| *n <= MAX_KEEP)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--keep-previous needs a number of kept copies, 0 to {MAX_KEEP}, not `{}`",
                        n.escape_debug()
                    ))
                })?,
        ),
    };
    let hooks = match &spec.hooks {
        None => None,
        Some(file) => Some(hooks_of(file, id)?),
    };
    let mut p = Product::from_json(
        &json::Obj::new()
            .put("id", id)
            .put("version", &version)
            .put("trusted_keys", &trusted_keys)
            .build(),
    )
    .map_err(|e| Error::other(format!("cannot make the inventory entry: {e}")))?;
    p.name.clone_from(&spec.name);
    p.components = components;
    p.hooks = hooks;
    if let Some(k) = keep_previous {
        p.keep_previous = k;
    }
    Ok(p)
}

/// A trusted key from `--key`: the key line of a `.pub` file, or the key itself.
fn key_of(given: &str) -> Result<String> {
    if signature::is_public_key(given) {
        return Ok(given.to_string());
    }
    let path = Path::new(given);
    match read_small(path) {
        Ok(text) if text.lines().filter(|l| signature::is_public_key(l.trim())).count() > 1 => {
            Err(Error::usage(format!("--key {given} holds more than one key"))
                .hint("give each key with its own --key"))
        }
        Ok(text) => signature::public_key_from_text(&text).map_err(|e| {
            Error::usage(format!("--key {given}: {}", e.message)).hint(
                "give the .pub file that `iupack keygen` or `minisign -G` wrote (not the .key file)",
            )
        }),
        Err(_) if given.len() == 16 && given.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Err(Error::usage(format!(
                "--key {given} looks like a key id: give the public key itself"
            ))
            .hint("the .pub file that `iupack keygen` wrote, or its second line (56 characters, RW...)"))
        }
        Err(e) => Err(Error::usage(format!("--key {given}: cannot read it: {e}")).hint(
            "give the publisher's .pub file, or its key line (56 characters, RW...)",
        )),
    }
}

/// A small regular file's text (a key or hooks file: at most 1 MiB).
fn read_small(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    fsutil::open_regular(path)?
        .take(MAX_HOOKS_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_HOOKS_BYTES {
        return Err(std::io::Error::other("larger than 1 MiB"));
    }
    Ok(text)
}

/// `NAME=PATH` or `NAME@VERSION=PATH`.
fn component_of(given: &str) -> Result<(String, InstalledComponent)> {
    let usage = || {
        Error::usage(format!("--component {given}: give NAME=PATH or NAME@VERSION=PATH"))
            .hint("such as --component definitions=/opt/acme/defs, or engine@3.7.70=/opt/acme/engine when that version is already there")
    };
    let (head, path) = given.split_once('=').ok_or_else(usage)?;
    let (name, version) = match head.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (head, None),
    };
    if !is_valid_name(name) {
        return Err(Error::usage(format!(
            "--component {given}: `{}` is not a component name: {NAME_RULE}",
            name.escape_debug()
        )));
    }
    if path.is_empty() || path.contains('\0') {
        return Err(usage());
    }
    let version = match version {
        None => None,
        Some(v) => Some(Version::parse(v).map_err(|e| {
            Error::usage(format!(
                "--component {given}: `{}` is not a version: {e}",
                v.escape_debug()
            ))
        })?),
    };
    let c = InstalledComponent::from_json(&json::Obj::new().put("path", path).build())
        .map_err(|e| Error::other(format!("cannot make the inventory entry: {e}")))?;
    Ok((name.to_string(), InstalledComponent { version, ..c }))
}

/// The hooks in `file`, checked as a run checks them.
fn hooks_of(file: &Path, product: &str) -> Result<Value> {
    let shown = file.display();
    let text = read_small(file)
        .map_err(|e| Error::usage(format!("--hooks {shown}: cannot read it: {e}")))?;
    let v: Value = json::from_slice(text.as_bytes())
        .map_err(|e| Error::usage(format!("--hooks {shown} is not JSON: {e}")))?;
    Hooks::of(Some(&v), product).map_err(|e| Error {
        code: ExitCode::Usage,
        message: format!("--hooks {shown}: {}", e.message),
        ..e
    })?;
    Ok(v)
}

/// Merges `wanted` into the existing entry `have`: components it lacks are added; a value the
/// flags give that differs from the entry's is refused, or with `--force` replaces it (a
/// component given another folder or version starts afresh there). Returns what changed.
fn merge(have: &mut Product, wanted: &Product, spec: &InitSpec) -> Result<Vec<String>> {
    // Each differing value: what the entry has, and what the flags say.
    let mut differ: Vec<String> = Vec::new();
    let mut field = |what: &str, there: String, given: String| {
        if there != given {
            differ.push(format!("{what} {there} (the flags say {given})"));
        }
    };
    field(
        "version",
        have.version.to_string(),
        wanted.version.to_string(),
    );
    let keys = |p: &Product| {
        let mut k = p.trusted_keys.clone();
        k.sort();
        k.join(", ")
    };
    field("trusted_keys", keys(have), keys(wanted));
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    if spec.name.is_some() {
        field("name", shown(&have.name), shown(&wanted.name));
    }
    if spec.keep_previous.is_some() {
        field(
            "keep_previous",
            have.keep_previous.to_string(),
            wanted.keep_previous.to_string(),
        );
    }
    if spec.hooks.is_some() {
        let hooks = |p: &Product| p.hooks.as_ref().map_or("(none)".into(), Value::to_compact);
        field("hooks", hooks(have), hooks(wanted));
    }
    if let Some(k) = wanted
        .trusted_keys
        .iter()
        .find(|k| have.revoked_keys.contains(k))
    {
        return Err(Error::other(format!(
            "the key {k} is revoked for {} on this machine",
            wanted.id
        ))
        .hint("a revoked key is never trusted again: give the publisher's current key; nothing was changed"));
    }
    let same_place = |h: &InstalledComponent, c: &InstalledComponent| {
        Path::new(&h.path) == Path::new(&c.path) && (c.version.is_none() || h.version == c.version)
    };
    let mut added = Vec::new();
    for (name, c) in wanted.components.iter() {
        match have.components.get(name) {
            None => added.push(name.clone()),
            Some(h) if same_place(h, c) => {}
            Some(h) if c.version.is_some() && h.floor.is_some() && c.version < h.floor => {
                return Err(Error::other(format!(
                    "component {name} may not be recorded at {}: its security floor on this machine is {}",
                    c.version.as_ref().map_or(String::new(), ToString::to_string),
                    h.floor.as_ref().map_or(String::new(), ToString::to_string)
                ))
                .hint("the floor is raised by signed packages and never lowered; nothing was changed"));
            }
            Some(h) => {
                let at = |c: &InstalledComponent| match &c.version {
                    Some(v) => format!("{}@{v}", c.path),
                    None => c.path.clone(),
                };
                differ.push(format!(
                    "component {name} at {} (the flags say {})",
                    at(h),
                    at(c)
                ));
            }
        }
    }
    if !differ.is_empty() && !spec.force {
        return Err(Error::other(format!(
            "the inventory already has {} with {}",
            wanted.id,
            differ.join("; ")
        ))
        .hint("run again with --force to replace those values (installed components it does not name are kept); nothing was changed"));
    }
    let mut changes: Vec<String> = differ
        .iter()
        .map(|d| format!("{} {d}: replaced", wanted.id))
        .collect();
    if !differ.is_empty() {
        have.version = wanted.version.clone();
        have.trusted_keys.clone_from(&wanted.trusted_keys);
        if spec.name.is_some() {
            have.name.clone_from(&wanted.name);
        }
        if spec.keep_previous.is_some() {
            have.keep_previous = wanted.keep_previous;
        }
        if spec.hooks.is_some() {
            have.hooks.clone_from(&wanted.hooks);
        }
    }
    for (name, c) in wanted.components.iter() {
        match have.components.get_mut(name) {
            None => {
                have.components.insert(name.clone(), c.clone());
            }
            Some(h) if same_place(h, c) => {}
            // --force: the folder or version the flags say; the floor, kept copies and the
            // rest of the record stay (a new folder or version is a fresh start there).
            Some(h) => {
                if Path::new(&h.path) != Path::new(&c.path) {
                    h.path.clone_from(&c.path);
                    h.tree = None;
                }
                if c.version.is_some() && h.version != c.version {
                    h.version.clone_from(&c.version);
                    h.tree = None;
                }
            }
        }
    }
    if !added.is_empty() {
        changes.push(format!(
            "{} components {} added",
            wanted.id,
            added.join(", ")
        ));
    }
    Ok(changes)
}
