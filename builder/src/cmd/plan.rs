//! `iupack plan --inventory FILE... --store STORE --out DIR`: on the connected side, from the
//! inventories machines exported (`iupack-stub status --export`), the smallest set of packages
//! that brings every one of them current: per product one package carrying, per component, a
//! delta from each version some machine has (when its tree is exactly the stored release), and
//! full content only when some machine has another version, changed files, or nothing. Written
//! as an update share (packages + signed index) for `iupack-stub apply --from DIR`. `--deltas N`
//! limits the deltas to the N newest earlier releases (machines further back take full content),
//! `--no-full` leaves full content out (those machines are then left as they are, and said so).

use super::packing::{Forms, Packing, Target};
use crate::progress::Progress;
use crate::share::{self, Planned};
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
    /// The minisign secret key to sign packages and the index with. A password-protected key is
    /// unlocked with the password in IUPACK_PASSWORD, else asked for on the terminal.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The stub to head packages with (default: as `iupack build`).
    #[arg(long, value_name = "PATH")]
    stub: Option<PathBuf>,
    /// The platform the packages are for (as `iupack build --target`).
    #[arg(long, value_name = "T")]
    target: Option<String>,
    /// Show which machine takes which route and the packages that would be written; write
    /// nothing (the key and stub are not read).
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    packing: Packing,
    #[command(flatten)]
    forms: Forms,
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
    let seen = read_inventories(&a.inventory)?;
    let store = Store::open(&a.store)?;
    let progress = Progress::new(a.json || a.dry_run);
    let d = decide(&a, &store, &seen, &progress)?;
    let out = share::ShareBuild {
        dir: &a.out,
        options: a.packing.options(
            Target {
                key: &a.key,
                out: &a.out,
                stub: a.stub.as_deref(),
                target: a.target.as_deref(),
                force: true,
                bare: false,
                store: Some(&a.store),
                // A dry run reads no stub, nor the client tool: nothing to look for or warn about.
                client: (!a.dry_run)
                    .then(|| a.forms.client(a.target.as_deref()))
                    .flatten(),
            },
            progress,
        ),
    };
    let share::Written {
        total,
        json: packages,
        ..
    } = out.write(
        &d.planned,
        &a.key,
        "check the path and write permission",
        a.dry_run,
    )?;
    if a.json {
        super::print_json(&serde_json::json!({
            "out": a.out.display().to_string(),
            "dry_run": a.dry_run,
            "machines": a.inventory.len(),
            "routes": d.routes,
            "products": d.products,
            "packages": packages,
            "bytes": total,
        }));
        return Ok(());
    }
    for l in &d.lines {
        say!("{l}");
    }
    match total {
        Some(total) => say!(
            "planned {} package(s), {total} bytes, for {} machine(s) into {} (apply with `iupack-stub apply --from DIR`)",
            d.planned.len(),
            a.inventory.len(),
            a.out.display()
        ),
        None => {
            for p in &d.planned {
                say!("  would write {}", out.line(p));
            }
            say!(
                "would plan {} package(s) for {} machine(s) into {} (dry run: nothing written)",
                d.planned.len(),
                a.inventory.len(),
                a.out.display()
            );
        }
    }
    Ok(())
}

/// What the plan is: the packages, and for the report each machine's route and each product's
/// outcome (as lines, and as JSON).
#[derive(Debug, Default)]
struct Decided {
    planned: Vec<Planned>,
    lines: Vec<String>,
    routes: Vec<serde_json::Value>,
    products: Vec<serde_json::Value>,
}

/// Decides the packages that bring every machine of `seen` current from `store`; reads the store
/// (the stored releases' tree digests, on `progress`), writes nothing.
fn decide(
    a: &Args,
    store: &Store,
    seen: &SeenByProduct,
    progress: &Progress,
) -> Result<Decided, Error> {
    let in_store = store.products()?;
    let pb = progress.spinner("matching");
    // Stored releases' tree digests, hashed once however many machines have that version.
    let mut trees: BTreeMap<(String, String, Version), String> = BTreeMap::new();
    let mut tree_of = |product: &str, component: &str, v: &Version| -> Result<String, Error> {
        let k = (product.to_string(), component.to_string(), v.clone());
        if let Some(t) = trees.get(&k) {
            return Ok(t.clone());
        }
        pb.set_message(format!("{product} {component} {v}"));
        let t = store.release_tree_of(product, component, v)?;
        trees.insert(k, t.clone());
        Ok(t)
    };
    let mut d = Decided::default();
    let outcome = |d: &mut Decided, product: &str, result: &str| {
        d.products
            .push(serde_json::json!({ "product": product, "result": result }));
    };
    for (product, comps) in seen {
        if !in_store.contains(product) {
            d.lines
                .push(format!("{product}: not in the store; skipped"));
            outcome(&mut d, product, "not-in-store");
            continue;
        }
        let (mut spec, base) = store.spec(product, a.packing.deltas(usize::MAX), true)?;
        let newest = spec.clone();
        let mut keep = Vec::new();
        let mut left_behind = false;
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
                    _ if !a.packing.full() => {
                        left_behind = true;
                        "none: needs full content, left out by --no-full".to_string()
                    }
                    _ => {
                        full = true;
                        "full".to_string()
                    }
                };
                let from = m.version.as_ref().map(ToString::to_string);
                d.lines.push(format!(
                    "  {}: {product} {} {} -> {} ({route})",
                    m.machine,
                    c.name,
                    from.as_deref().unwrap_or("(none)"),
                    c.version
                ));
                d.routes.push(serde_json::json!({
                    "inventory": m.machine,
                    "product": product,
                    "component": c.name,
                    "from": from,
                    "to": c.version.to_string(),
                    "route": route,
                }));
            }
            if !full && froms.is_empty() {
                continue;
            }
            c.full = full;
            c.deltas.retain(|d| froms.contains(&d.version));
            keep.push(c);
        }
        if keep.is_empty() {
            let (line, result) = if left_behind {
                (
                    "no machine can be brought current without full content (--no-full)",
                    "left-behind",
                )
            } else {
                ("every machine is current", "current")
            };
            d.lines.push(format!("{product}: {line}"));
            outcome(&mut d, product, result);
            continue;
        }
        spec.components = keep;
        outcome(&mut d, product, "planned");
        d.planned.push(Planned {
            stem: format!(
                "{product}-{}-plan",
                spec.package_version(crate::pipeline::created())
            ),
            spec,
            base: base.clone(),
            bare: a.forms.bare(),
            client: false,
        });
        if a.packing.full() && a.forms.self_extracting_full() {
            // For a machine with no client tool yet (no inventory to plan from): listed after
            // the plan's package, which a client takes when both read the same bytes.
            d.planned.push(Planned::full(&newest, &base, false));
        }
    }
    pb.finish_with_message(format!(
        "{} stored release(s) compared, {} package(s) to build",
        trees.len(),
        d.planned.len()
    ));
    Ok(d)
}
