//! `iupack plan --inventory FILE... --store STORE --out DIR`: on the connected side, from the
//! inventories machines exported (`iupack-stub status --export`), the smallest set of packages
//! that brings every one of them current: per product one package carrying, per component, a
//! delta from each version some machine has (when its tree is exactly the stored release), and
//! full content only when some machine has another version, changed files, or nothing. Written
//! as an update share (packages + signed index) for `iupack-stub apply --from DIR`.

use crate::pipeline::Built;
use crate::share;
use crate::store::Store;
use iupack_stub::format::version::Version;
use iupack_stub::Error;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An inventory exported by `iupack-stub status --export` (repeat for each machine).
    #[arg(long, value_name = "FILE", required = true)]
    inventory: Vec<PathBuf>,
    /// The release store.
    #[arg(long, value_name = "STORE")]
    store: PathBuf,
    /// The folder to write the packages and the signed index into (an update share).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The minisign secret key to sign packages and the index with.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The stub to head packages with (default: as `iupack build`).
    #[arg(long, value_name = "PATH")]
    stub: Option<PathBuf>,
    /// The platform the packages are for (as `iupack build --target`).
    #[arg(long, value_name = "T")]
    target: Option<String>,
}

/// One machine's component, as exported.
#[derive(Debug)]
struct Seen {
    machine: String,
    version: Option<Version>,
    tree: Option<String>,
}

/// product -> component -> what each machine has
type SeenByProduct = BTreeMap<String, BTreeMap<String, Vec<Seen>>>;

/// What the machines whose inventories `paths` are have, by product and component.
fn read_inventories(paths: &[PathBuf]) -> Result<SeenByProduct, Error> {
    let mut seen: SeenByProduct = BTreeMap::new();
    for path in paths {
        let bad = |why: String| {
            Error::usage(format!("{}: {why}", path.display()))
                .hint("give files written by `iupack-stub status --export FILE` on each machine")
        };
        let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        if v["kind"] != "iupack-inventory-export" || v["format"] != 1 {
            return Err(bad("not an exported iupack inventory (format 1)".into()));
        }
        let machine = path.display().to_string();
        for p in v["products"].as_array().into_iter().flatten() {
            let Some(id) = p["id"].as_str() else { continue };
            for (name, c) in p["components"].as_object().into_iter().flatten() {
                let version = match c["version"].as_str() {
                    Some(s) => Some(Version::parse(s).map_err(bad)?),
                    None => None,
                };
                seen.entry(id.to_string())
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .push(Seen {
                        machine: machine.clone(),
                        version,
                        tree: c["tree"].as_str().map(str::to_string),
                    });
            }
        }
    }
    Ok(seen)
}

pub fn run(a: Args) -> Result<(), Error> {
    let store = Store::new(&a.store);
    let seen = read_inventories(&a.inventory)?;
    share::into_folder(&a.out, "check the path and write permission", || {
        plan_into(&a, &store, &seen)
    })
}

/// Builds the planned share into `a.out` (which exists).
fn plan_into(a: &Args, store: &Store, seen: &SeenByProduct) -> Result<(), Error> {
    let in_store = store.products()?;
    // Stored releases' tree digests, hashed once however many machines have that version.
    let mut trees: BTreeMap<(String, String, Version), String> = BTreeMap::new();
    let mut tree_of = |product: &str, component: &str, v: &Version| -> Result<String, Error> {
        let k = (product.to_string(), component.to_string(), v.clone());
        if let Some(t) = trees.get(&k) {
            return Ok(t.clone());
        }
        let t = store.release_tree_of(product, component, v)?;
        trees.insert(k, t.clone());
        Ok(t)
    };
    let out = share::ShareBuild {
        dir: &a.out,
        key: &a.key,
        stub: a.stub.as_deref(),
        target: a.target.as_deref(),
    };
    let mut built: Vec<Built> = Vec::new();
    let mut lines = Vec::new();
    for (product, comps) in seen {
        if !in_store.contains(product) {
            lines.push(format!("{product}: not in the store; skipped"));
            continue;
        }
        let (mut spec, base) = store.spec(product, usize::MAX, true)?;
        let mut keep = Vec::new();
        for mut c in std::mem::take(&mut spec.components) {
            let Some(machines) = comps.get(&c.name) else {
                continue;
            };
            let mut full = false;
            let mut froms = BTreeSet::new();
            for m in machines {
                let route = match &m.version {
                    Some(v) if *v >= c.version => continue,
                    Some(v)
                        if c.deltas.iter().any(|d| d.version == *v)
                            && m.tree.is_some()
                            && m.tree == Some(tree_of(product, &c.name, v)?) =>
                    {
                        froms.insert(v.clone());
                        format!("delta from {v}")
                    }
                    _ => {
                        full = true;
                        "full".to_string()
                    }
                };
                lines.push(format!(
                    "  {}: {product} {} {} -> {} ({route})",
                    m.machine,
                    c.name,
                    m.version
                        .as_ref()
                        .map_or("(none)".to_string(), ToString::to_string),
                    c.version
                ));
            }
            if !full && froms.is_empty() {
                continue;
            }
            c.full = full;
            c.deltas.retain(|d| froms.contains(&d.version));
            keep.push(c);
        }
        if keep.is_empty() {
            lines.push(format!("{product}: every machine is current"));
            continue;
        }
        spec.components = keep;
        let stem = format!("{product}-{}-plan", spec.package_version());
        built.push(out.package(&spec, &base, &stem)?);
    }
    let index = share::write_index(&a.out, &built, &a.key)?;
    for l in &lines {
        say!("{l}");
    }
    let total: u64 = built.iter().map(|b| b.size).sum();
    say!(
        "planned {} package(s), {total} bytes, for {} machine(s) into {} (apply with `iupack-stub apply --from DIR`)",
        index.packages.len(),
        a.inventory.len(),
        a.out.display()
    );
    Ok(())
}
