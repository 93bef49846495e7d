//! `iupack-stub apply --from SHARE` (issue 9): a folder of packages plus a signed index
//! (`format::share_index`) that `iupack publish` and `iupack plan` write. This reads the index,
//! checks its signature against the product's trusted keys, picks for each
//! component the smallest route that brings it current from what is installed, and applies the
//! chosen packages in `requires` order, each all-or-nothing. Each share file is opened once,
//! never through a link, and only if it is a regular file of the size the index allows
//! (`open_share`); every chosen package is checked against its index entry (size, SHA-256,
//! manifest) before any is applied, then applied from that same open file and verified as any
//! package is.

use crate::apply::prompt::Prompt;
use crate::apply::report::Report;
use crate::apply::{self, Interactive, Options};
use crate::error::{Error, ExitCode, Result};
use crate::format::package::{Expect, Package};
use crate::format::share_index::{
    self, Index, IndexComponent, IndexPackage, INDEX, INDEX_SIG, MAX_INDEX_BYTES, MAX_SIG_BYTES,
};
use crate::format::version::Version;
use crate::machine::inventory::{InventoryFile, Product};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a share file that is not the one the index lists is told (never what it holds: a
/// link may lead to a file this user may read and others may not).
const MISMATCH: &str = "does not match the share's index: it is not the package the index lists (damaged, or changed since publishing)";

/// One package run the share plan makes: which file, for which components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub file: String,
    pub product: String,
    pub components: Vec<String>,
    /// Per component: "full" or "delta from V", and the bytes it reads.
    pub routes: Vec<(String, String, u64)>,
}

/// Reads a share's index and its signature (each opened once, by `open_share`).
fn read_index(share: &Path) -> Result<(Index, Vec<u8>, String)> {
    let read = |name: &str, max: u64| -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        open_share(share, name, max, false)?
            .take(max)
            .read_to_end(&mut buf)
            .map_err(|e| {
                Error::other(format!("cannot read {}: {e}", share.join(name).display()))
            })?;
        Ok(buf)
    };
    let bytes = read(INDEX, MAX_INDEX_BYTES)?;
    let sig = String::from_utf8(read(INDEX_SIG, MAX_SIG_BYTES)?)
        .map_err(|_| Error::damaged("the index signature is not text"))?;
    let index = Index::parse(&bytes)
        .map_err(|e| Error::damaged(format!("the share's index.json is not valid: {e}")))?;
    Ok((index, bytes, sig))
}

/// Windows: `FILE_FLAG_OPEN_REPARSE_POINT`, which opens a link itself (then not a regular
/// file). Unix: `O_NOFOLLOW | O_NONBLOCK`.
#[cfg(windows)]
const NO_LINKS: u32 = 0x0020_0000;

/// Opens the share file `name` once, for every read of it: never through a symbolic link (one
/// could lead to any file this user may read), only a regular file (the open does not wait
/// on a FIFO; a device or FIFO is refused), and at most `max` bytes long, exactly `max` with
/// `exact`, checked before anything is read. Errors name the file, never what it holds.
fn open_share(share: &Path, name: &str, max: u64, exact: bool) -> Result<File> {
    let path = share.join(name);
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    crate::platform::fsutil::no_follow(&mut o);
    #[cfg(windows)]
    std::os::windows::fs::OpenOptionsExt::custom_flags(&mut o, NO_LINKS);
    let refuse = |why: &str| {
        Error::damaged(format!("{} {why}", path.display()))
            .hint("copy the share again, index and packages together, as plain files (not links)")
    };
    let f = o.open(&path).map_err(|e| {
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            refuse("is a symbolic link: a share holds plain files only")
        } else {
            Error::usage(format!("cannot open {}: {e}", path.display())).hint(
                "give the folder `iupack publish` or `iupack plan` wrote, copied whole (index and packages together)",
            )
        }
    })?;
    let meta = f
        .metadata()
        .map_err(|e| Error::other(format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(refuse(
            "is not a regular file: a share holds plain files only",
        ));
    }
    if meta.len() > max || exact && meta.len() != max {
        return Err(refuse(if exact {
            MISMATCH
        } else {
            "is larger than a share's index and signature may be"
        }));
    }
    Ok(f)
}

/// One step of a component's route: install `route` ("full" or "delta from V") from `file`.
#[derive(Debug, Clone)]
struct Step {
    file: String,
    route: String,
    bytes: u64,
}

/// A state a component can be in: its version and the digest of its tree.
#[derive(Debug, Clone)]
struct Reached {
    version: Option<Version>,
    tree: Option<String>,
    cost: u64,
    steps: Vec<Step>,
}

/// The cheapest chain of package steps that takes a component from what is installed to the
/// newest version the index offers: full content of that version, a delta from the installed
/// version whose base is the tree on disk, or a chain of them (a full package of an earlier
/// release, then a delta from it, as monthly full and daily delta files work). Fewer steps win a
/// tie. `None` when nothing reaches it.
fn cheapest(
    offers: &[(&IndexPackage, &IndexComponent)],
    version: Option<Version>,
    tree: Option<String>,
) -> Option<Reached> {
    let newest = offers.iter().map(|(_, c)| &c.version).max()?.clone();
    let mut targets: Vec<&Version> = offers.iter().map(|(_, c)| &c.version).collect();
    targets.sort();
    targets.dedup();
    let mut reached = vec![Reached {
        version,
        tree,
        cost: 0,
        steps: Vec::new(),
    }];
    for t in targets {
        let mut found: Vec<Reached> = Vec::new();
        for (p, c) in offers.iter().filter(|(_, c)| c.version == *t) {
            for s in reached
                .iter()
                .filter(|s| s.version.as_ref().is_none_or(|v| v < t))
            {
                let mut edges = Vec::new();
                if let Some(bytes) = c.full {
                    edges.push(("full".to_string(), bytes));
                }
                for d in &c.deltas {
                    if s.version.as_ref() == Some(&d.from) && s.tree.as_ref() == Some(&d.from_tree)
                    {
                        edges.push((format!("delta from {}", d.from), d.bytes));
                    }
                }
                for (route, bytes) in edges {
                    let mut steps = s.steps.clone();
                    steps.push(Step {
                        file: p.file.clone(),
                        route,
                        bytes,
                    });
                    let next = Reached {
                        version: Some(t.clone()),
                        tree: Some(c.tree.clone()),
                        cost: s.cost + bytes,
                        steps,
                    };
                    match found.iter_mut().find(|f| f.tree == next.tree) {
                        Some(f) if (next.cost, next.steps.len()) < (f.cost, f.steps.len()) => {
                            *f = next
                        }
                        Some(_) => {}
                        None => found.push(next),
                    }
                }
            }
        }
        reached.extend(found);
    }
    reached
        .into_iter()
        .filter(|r| r.version.as_ref() == Some(&newest))
        .min_by_key(|r| (r.cost, r.steps.len()))
}

/// For each component of `product` configured on this machine and older than the newest the
/// index offers, the cheapest chain of steps there (see `cheapest`); then the package runs that
/// make them, in order. Errors when a component can't be brought current.
pub fn choose(index: &Index, inv: &InventoryFile, product: &Product) -> Result<Vec<Pick>> {
    // component -> its steps, and what it requires at the newest version
    let mut routes: Vec<(String, Vec<Step>, Vec<String>)> = Vec::new();
    for (name, installed) in &product.components {
        let offers: Vec<(&IndexPackage, &IndexComponent)> = index
            .packages
            .iter()
            .filter(|p| p.product == product.id)
            .flat_map(|p| {
                p.components
                    .iter()
                    .filter(|c| c.name == *name)
                    .map(move |c| (p, c))
            })
            .collect();
        let Some(newest) = offers.iter().map(|(_, c)| &c.version).max().cloned() else {
            continue;
        };
        if installed.pending.is_some() || installed.version.as_ref().is_some_and(|v| *v >= newest) {
            continue;
        }
        let dir = inv.resolve(&installed.path);
        let on_disk = installed
            .version
            .as_ref()
            .and_then(|_| crate::machine::installed::installed_digest(&dir, &installed.exec));
        let Some(best) = cheapest(&offers, installed.version.clone(), on_disk) else {
            let from = installed
                .version
                .as_ref()
                .map_or("nothing".to_string(), ToString::to_string);
            return Err(Error::new(
                ExitCode::NeedsOther,
                format!(
                    "{} {name} {from} is installed; no package on the share brings it to {newest} (only deltas from other versions, or from other content)",
                    product.id
                ),
            )
            .hint("publish a share with full content (`iupack publish`), or plan one from this machine's exported inventory (`iupack plan`)"));
        };
        let requires = offers
            .iter()
            .filter(|(_, c)| c.version == newest)
            .flat_map(|(_, c)| c.requires.keys().cloned())
            .collect();
        routes.push((name.clone(), best.steps, requires));
    }
    Ok(schedule(product, routes))
}

/// Package runs from each component's steps: round by round (every component's first step,
/// then every second step, ...), a step waiting while a component it requires still has more
/// than this round to go; in a round, one run per package, those whose components others
/// require first.
fn schedule(product: &Product, mut routes: Vec<(String, Vec<Step>, Vec<String>)>) -> Vec<Pick> {
    let mut runs: Vec<Pick> = Vec::new();
    for (_, steps, _) in &mut routes {
        steps.reverse(); // pop() takes the next step
    }
    while routes.iter().any(|(_, steps, _)| !steps.is_empty()) {
        let remaining = |name: &str, routes: &[(String, Vec<Step>, Vec<String>)]| {
            routes
                .iter()
                .find(|(n, _, _)| n == name)
                .map_or(0, |(_, s, _)| s.len())
        };
        let mut round: Vec<(String, Step, Vec<String>)> = Vec::new();
        let ready: Vec<usize> = (0..routes.len())
            .filter(|&i| {
                let (name, steps, requires) = &routes[i];
                !steps.is_empty()
                    && requires
                        .iter()
                        .all(|r| r == name || remaining(r, &routes) <= 1)
            })
            .collect();
        // A requires cycle would leave nothing ready: take every next step then.
        let take: Vec<usize> = if ready.is_empty() {
            (0..routes.len())
                .filter(|&i| !routes[i].1.is_empty())
                .collect()
        } else {
            ready
        };
        for i in take {
            let (name, steps, requires) = &mut routes[i];
            let step = steps.pop().expect("a step");
            round.push((name.clone(), step, requires.clone()));
        }
        let mut picks: Vec<(Pick, Vec<String>)> = Vec::new();
        for (name, step, requires) in round {
            match picks.iter_mut().find(|(k, _)| k.file == step.file) {
                Some((k, req)) => {
                    k.components.push(name.clone());
                    k.routes.push((name, step.route, step.bytes));
                    req.extend(requires);
                }
                None => picks.push((
                    Pick {
                        file: step.file,
                        product: product.id.clone(),
                        components: vec![name.clone()],
                        routes: vec![(name, step.route, step.bytes)],
                    },
                    requires,
                )),
            }
        }
        while !picks.is_empty() {
            let next = picks
                .iter()
                .position(|(k, req)| {
                    req.iter().all(|r| {
                        !picks
                            .iter()
                            .any(|(o, _)| o.file != k.file && o.components.contains(r))
                    })
                })
                .unwrap_or(0);
            runs.push(picks.remove(next).0);
        }
    }
    runs
}

/// The share's package that carries the newest client tool, when it is newer than the one the
/// inventory records and that one is kept by packages of the package's product.
#[cfg(feature = "install")]
fn client_update<'a>(index: &'a Index, inv: &InventoryFile) -> Option<&'a IndexPackage> {
    use crate::format::manifest::CLIENT_COMPONENT;
    let rec = inv.inventory.client.as_ref()?;
    inv.product(&rec.product)?;
    let carried = |p: &IndexPackage| {
        p.components
            .iter()
            .find(|c| c.name == CLIENT_COMPONENT && c.full.is_some())
            .map(|c| c.version.clone())
    };
    index
        .packages
        .iter()
        .filter(|p| p.product == rec.product)
        .filter_map(|p| carried(p).map(|v| (v, p)))
        .filter(|(v, _)| *v > rec.version)
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, p)| p)
}

/// `iupack-stub apply --from SHARE` (mode Apply, List or Check). `prompt` is passed to each
/// package's run.
pub fn apply_from(
    share: &Path,
    opts: &Options,
    prompt: &mut dyn Prompt,
    report: &mut Report,
) -> Result<ExitCode> {
    let (index, bytes, sig) = read_index(share)?;
    let inv = InventoryFile::load(&crate::platform::fsutil::absolute(&opts.inventory))?;
    let whose = format!("this machine's inventory ({})", opts.inventory.display());
    let picks = picks_for(share, &index, &bytes, &sig, &inv, &whose, report)?;
    #[cfg(feature = "install")]
    if let Some(entry) = client_update(&index, &inv) {
        // The client tool first (issue 23): it is the updater. The package that brings the
        // newest one runs alone (its components are left for the new client tool), which then
        // starts the share run again.
        match opts.mode {
            apply::Mode::List | apply::Mode::Check if picks.is_empty() => {
                report.result = if opts.mode == apply::Mode::List {
                    "listed".into()
                } else {
                    "needed".into()
                };
                report.message = format!("would update the client tool from {}", entry.file);
                return Ok(if opts.mode == apply::Mode::List {
                    ExitCode::Success
                } else {
                    ExitCode::Error
                });
            }
            apply::Mode::Apply => {
                let one = Options {
                    only: Some(Vec::new()),
                    interactive: Interactive::No,
                    ..opts.clone()
                };
                // Never fatal: a client tool that can't be updated now leaves the share's
                // updates to the one there is.
                let mut sub = Report::new("apply", &share.join(&entry.file).display().to_string());
                let ran = open_chosen(share, &[entry])
                    .and_then(|files| listed_package(share, &files[0].1, entry))
                    .and_then(|pkg| apply::run(pkg, &one, prompt, &mut sub));
                match ran {
                    Ok(code) if sub.result == "client-updated" => {
                        report.package_id = Some(entry.id.clone());
                        report.result = sub.result;
                        report.message = sub.message;
                        report.client = sub.client;
                        report.recovered = sub.recovered;
                        return Ok(code);
                    }
                    Ok(_) => report.warnings.append(&mut sub.warnings),
                    Err(e) => report.warnings.push(format!(
                        "the client tool was not updated from {}: {}",
                        entry.file, e.message
                    )),
                }
            }
            _ => {}
        }
    }
    let describe = |p: &Pick| {
        let routes: Vec<String> = p
            .routes
            .iter()
            .map(|(c, r, _)| format!("{c} ({r})"))
            .collect();
        format!("{}: {}", p.file, routes.join(", "))
    };
    let plan: Vec<String> = picks.iter().map(describe).collect();
    if picks.is_empty() {
        report.result = "current".into();
        report.message = format!("already current with the share {}", share.display());
        return Ok(ExitCode::Success);
    }
    // Each pick's index entry, in pick order.
    let entries: Vec<&IndexPackage> = picks
        .iter()
        .map(|k| {
            index
                .packages
                .iter()
                .find(|p| p.file == k.file)
                .expect("picked from the index")
        })
        .collect();
    let ids: Vec<&str> = entries.iter().map(|p| p.id.as_str()).collect();
    report.package_id = Some(ids.join(", "));
    match opts.mode {
        apply::Mode::List => {
            report.result = "listed".into();
            report.message = format!("would apply {}", plan.join("; "));
            return Ok(ExitCode::Success);
        }
        apply::Mode::Check => {
            report.result = "needed".into();
            report.message = format!("this machine needs {}", plan.join("; "));
            return Ok(ExitCode::Error);
        }
        apply::Mode::Apply => {}
        _ => {
            return Err(Error::usage(
                "--from goes with express apply, --list or --check",
            ))
        }
    }
    // Each chosen file is opened once; its size and SHA-256 are those the signed index lists,
    // and so are its manifest's product, package id and component versions and trees, all
    // checked for every chosen file before anything is applied. Each run then reads that same
    // open file (never the path again) and checks every byte it uses against that manifest.
    let files = open_chosen(share, &entries)?;
    let mut code = ExitCode::Success;
    let mut done = Vec::new();
    for ((pick, entry), described) in picks.iter().zip(&entries).zip(&plan) {
        let path: PathBuf = share.join(&entry.file);
        let file = &files
            .iter()
            .find(|(f, _)| *f == entry.file)
            .expect("opened")
            .1;
        let one = Options {
            only: Some(pick.components.clone()),
            interactive: Interactive::No,
            // One run goes through every package of the share: a client tool one of them
            // brings is replaced, and this run goes on.
            stop_after_client: false,
            ..opts.clone()
        };
        let mut sub = Report::new("apply", &path.display().to_string());
        let result = listed_package(share, file, entry)
            .and_then(|pkg| apply::run(pkg, &one, prompt, &mut sub));
        report.components.append(&mut sub.components);
        report.bytes += sub.bytes;
        report.warnings.append(&mut sub.warnings);
        if let Some(r) = sub.recovered {
            report.recovered = Some(r);
        }
        match result {
            Ok(c) => {
                if c == ExitCode::RestartNeeded {
                    code = c;
                    report.restart_needed = true;
                }
                done.push(described.clone());
            }
            Err(e) => {
                let mut e = Error {
                    message: format!("{}: {}", entry.file, e.message),
                    ..e
                };
                if !done.is_empty() {
                    // Not "nothing was changed": the runs before this one are applied.
                    e.message += &format!(" (applied before it, and kept: {})", done.join("; "));
                    e.hint = Some("the components applied before it are installed, each whole; copy the share again and run `apply --from` again: it takes what is still needed".into());
                }
                return Err(e);
            }
        }
    }
    report.result = "applied".into();
    report.message = format!("applied from {}: {}", share.display(), done.join("; "));
    Ok(code)
}

/// Each installed product's picks from the share, once the index's signature verifies against
/// that product's trusted keys.
fn picks_for(
    share: &Path,
    index: &Index,
    bytes: &[u8],
    sig: &str,
    inv: &InventoryFile,
    whose: &str,
    report: &mut Report,
) -> Result<Vec<Pick>> {
    let mut picks = Vec::new();
    let mut offered = false;
    for product in &inv.inventory.products {
        if !index.packages.iter().any(|p| p.product == product.id) {
            continue;
        }
        offered = true;
        let key = share_index::verify(
            bytes,
            sig,
            &product.trusted_keys,
            &product.revoked_keys,
            whose,
        )?;
        report.signed_by = Some(key);
        report.product = Some(product.id.clone());
        picks.extend(choose(index, inv, product)?);
    }
    if !offered {
        return Err(Error::not_applicable(format!(
            "the share {} has no packages for the products installed here",
            share.display()
        ))
        .hint("check that the share is this product's"));
    }
    Ok(picks)
}

/// Opens each chosen share file once and proves it is the package its index entry lists (size,
/// SHA-256, manifest) before anything is applied.
fn open_chosen<'a>(share: &Path, entries: &[&'a IndexPackage]) -> Result<Vec<(&'a str, File)>> {
    let mut files: Vec<(&str, File)> = Vec::new();
    for entry in entries {
        if !files.iter().any(|(f, _)| *f == entry.file) {
            let file = open_share(share, &entry.file, entry.size, true)?;
            let (size, sha) = crate::format::digest::hash_reader(std::io::BufReader::new(
                (&file).take(entry.size + 1),
            ))
            .map_err(|e| Error::other(format!("cannot read {}: {e}", entry.file)))?;
            if size != entry.size || sha != entry.sha256 {
                return Err(Error::damaged(format!(
                    "{} {MISMATCH}",
                    share.join(&entry.file).display()
                )));
            }
            listed_package(share, &file, entry)?;
            files.push((&entry.file, file));
        }
    }
    Ok(files)
}

/// The package in the open share file `file` (a new handle on it), once its manifest is the one
/// the index entry lists: product and package id, and every component's version and tree. The
/// manifest bytes checked are those `apply::run` then verifies and applies from, so the trees a
/// run installs are the index's even if the file is written over in place meanwhile.
fn listed_package(share: &Path, file: &File, entry: &IndexPackage) -> Result<Package> {
    let path = share.join(&entry.file);
    let handle = file
        .try_clone()
        .map_err(|e| Error::other(format!("cannot read {}: {e}", path.display())))?;
    let pkg = Package::from_file(handle, &path, Expect::Package)?.expect("a package or an error");
    // The package's own signature names its product; it must be the one the index says.
    let claimed = pkg.claimed()?;
    if claimed.product != entry.product {
        return Err(Error::damaged(format!(
            "{} is a package of {}, but the share's index lists it for {}",
            entry.file, claimed.product, entry.product
        )));
    }
    let listed = crate::format::manifest::Manifest::parse(pkg.manifest_bytes()).is_ok_and(|m| {
        m.product == entry.product
            && m.package.id == entry.id
            && m.components.len() == entry.components.len()
            && entry.components.iter().all(|c| {
                m.components
                    .iter()
                    .any(|n| n.name == c.name && n.version == c.version && n.tree == c.tree)
            })
    });
    if !listed {
        return Err(Error::damaged(format!("{} {MISMATCH}", path.display())));
    }
    Ok(pkg)
}

#[cfg(test)]
mod tests {
    use super::{cheapest, Index, IndexComponent, IndexPackage};
    use crate::format::share_index::IndexDelta;
    use crate::format::version::Version;

    fn v(s: &str) -> Version {
        Version::parse(s).expect("version")
    }

    fn offer(file: &str, version: &str, full: Option<u64>, deltas: &[(&str, u64)]) -> IndexPackage {
        IndexPackage {
            file: file.into(),
            size: 0,
            sha256: String::new(),
            product: "p".into(),
            id: file.into(),
            components: vec![IndexComponent {
                name: "defs".into(),
                version: v(version),
                tree: format!("tree-{version}"),
                full,
                deltas: deltas
                    .iter()
                    .map(|(from, bytes)| IndexDelta {
                        from: v(from),
                        from_tree: format!("tree-{from}"),
                        bytes: *bytes,
                    })
                    .collect(),
                requires: Default::default(),
            }],
        }
    }

    fn route(pkgs: &[IndexPackage], installed: Option<&str>, tree: Option<&str>) -> Vec<String> {
        let offers: Vec<_> = pkgs.iter().map(|p| (p, &p.components[0])).collect();
        cheapest(&offers, installed.map(v), tree.map(str::to_string))
            .map(|r| {
                r.steps
                    .iter()
                    .map(|s| format!("{}:{}", s.file, s.route))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn routes_chain_a_full_package_and_a_delta_when_that_is_cheapest() {
        // A monthly full (3), a daily delta 3 -> 4, and a full 4 that costs more than both.
        let share = [
            offer("monthly", "3", Some(100), &[]),
            offer("daily", "4", None, &[("3", 10)]),
            offer("full4", "4", Some(200), &[]),
        ];
        assert_eq!(
            route(&share, Some("1"), Some("tree-1")),
            ["monthly:full", "daily:delta from 3"]
        );
        assert_eq!(
            route(&share, None, None),
            ["monthly:full", "daily:delta from 3"]
        );
        // At 3 with the stored tree: the delta alone. At 3 with changed files the delta can't
        // apply, and the same version is never installed again: the newest full.
        assert_eq!(
            route(&share, Some("3"), Some("tree-3")),
            ["daily:delta from 3"]
        );
        assert_eq!(route(&share, Some("3"), Some("changed")), ["full4:full"]);
        // When the newest full is cheaper than the chain, one step.
        let share = [
            offer("monthly", "3", Some(100), &[]),
            offer("daily", "4", None, &[("3", 10)]),
            offer("full4", "4", Some(105), &[]),
        ];
        assert_eq!(route(&share, Some("1"), Some("tree-1")), ["full4:full"]);
        // Only deltas from elsewhere: no route.
        let share = [offer("daily", "4", None, &[("3", 10)])];
        assert!(route(&share, Some("2"), Some("tree-2")).is_empty());
    }

    fn index_with(file: &str) -> String {
        format!(
            r#"{{"format":1,"created":"2026-11-30T00:00:00Z","packages":[{{"file":{},"size":1,"sha256":"00","product":"p","id":"i","components":[]}}]}}"#,
            crate::json::ToJson::to_json(file).to_compact()
        )
    }

    #[test]
    fn package_names_must_be_plain() {
        assert!(Index::parse(index_with("acme-av-1-full.run").as_bytes()).is_ok());
        for bad in [
            "../evil.run",
            "sub/x.run",
            "c:\\x.exe",
            ".hidden.run",
            "",
            "a\\b",
        ] {
            let e = Index::parse(index_with(bad).as_bytes()).expect_err(bad);
            assert!(e.contains("not a plain name"), "{bad}: {e}");
        }
        let future = index_with("x.run").replace("\"format\":1", "\"format\":2");
        assert!(Index::parse(future.as_bytes())
            .expect_err("format 2")
            .contains("format 2"));
    }
}
