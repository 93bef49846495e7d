//! The client tool a package carries (component `iupack-client`, issue 23; docs/design.md §5):
//! `PKG --install-client [DIR]` puts the verified binary for this platform in DIR (default
//! `/usr/local/bin`, `%ProgramFiles%\iupack`) and records it in the inventory's `client`; a run
//! of a package of the product that record names, carrying a newer client tool, replaces it
//! before anything else (it is the updater). Versions follow the components' rules: an older one
//! is refused unless `--allow-downgrade`, one below the record's floor always. Both go through
//! the journal (`Transaction::replace_client`): a run killed at any instant leaves a client
//! tool that runs, old or new, and an inventory that says which. Never installs a client tool
//! the inventory does not name unless told to (`--install-client`).

use super::report::{ClientReport, Report};
use super::tree::write_tree;
use super::{Downgrades, Options};
use crate::error::{Error, ExitCode, Result};
use crate::format::keys;
use crate::format::manifest::{client_file_name, Component, CLIENT_COMPONENT};
use crate::format::package::{Package, VerifiedPackage};
use crate::machine::inventory::{
    make_folder, side_dir, ClientRecord, Inventory, InventoryFile, FORMAT,
};
use crate::machine::journal::ClientSwap;
use crate::machine::lock::InventoryLock;
use crate::machine::session::{self, Access};
use crate::machine::transaction::Transaction;
use crate::platform::{fsutil, safedir, time};
use std::path::{Path, PathBuf};

/// Where `--install-client` puts the client tool when no folder is given.
pub fn default_dir() -> PathBuf {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramFiles").unwrap_or_else(|| "C:\\Program Files".into());
        PathBuf::from(base).join("iupack")
    } else {
        PathBuf::from("/usr/local/bin")
    }
}

/// What a run does with the client tool a package carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The package carries none, or the inventory records none this product's packages keep.
    Absent,
    /// The package's is the one installed, or not newer (the report's action says which).
    Leave,
    /// The package's replaces the installed one.
    Update,
}

fn carried(vp: &VerifiedPackage) -> Option<&Component> {
    vp.manifest
        .components
        .iter()
        .find(|c| c.name == CLIENT_COMPONENT)
}

/// What a package run does with the package's client tool: only a client tool the inventory
/// records, kept by packages of `product`, is replaced, and only by a newer one at or above its
/// floor (a run's `--allow-downgrade` is for components; only `--install-client` downgrades the
/// client tool). One that does not fit (not this platform's file, a record with a relative
/// path) is left, with a warning: it never stops the run.
#[inline(never)]
pub fn plan(vp: &VerifiedPackage, inv: &InventoryFile, product: &str, report: &mut Report) -> Plan {
    let (Some(c), Some(rec)) = (carried(vp), inv.inventory.client.as_ref()) else {
        return Plan::Absent;
    };
    if rec.product != product || c.full.is_none() {
        return Plan::Absent;
    }
    let name = client_file_name(&inv.platform());
    let fits = matches!(c.full.as_deref(), Some([f]) if f.path.as_str() == name);
    if !fits || !Path::new(&rec.path).is_absolute() {
        report.warnings.push(if fits {
            format!("the inventory's client tool path {} is not absolute: the client tool the package carries was not installed", rec.path)
        } else {
            format!("the package's client tool is not one file named {name}, as on this platform: it was not installed")
        });
        return Plan::Absent;
    }
    let (plan, action) = decide(c, rec, Downgrades::Refuse);
    report.client = Some(ClientReport {
        path: rec.path.clone(),
        from: Some(rec.version.to_string()),
        to: c.version.to_string(),
        action: action.into(),
    });
    plan
}

fn decide(c: &Component, rec: &ClientRecord, downgrades: Downgrades) -> (Plan, &'static str) {
    let floor = super::plan::security_floor(rec.floor.as_ref(), c.floor.as_ref());
    if floor.is_some_and(|f| c.version < f) {
        return (Plan::Leave, "below-floor");
    }
    if c.version > rec.version || (c.version < rec.version && downgrades == Downgrades::Allow) {
        return (Plan::Update, "would-update");
    }
    match c.version == rec.version {
        true => (Plan::Leave, "current"),
        false => (Plan::Leave, "downgrade-refused"),
    }
}

/// Replaces the client tool the inventory records with the package's (planned `Plan::Update`),
/// through the journal. The inventory on disk then records the new one.
#[inline(never)]
pub(super) fn update(
    vp: &mut VerifiedPackage,
    inv: &InventoryFile,
    report: &mut Report,
) -> Result<()> {
    let rec = inv.inventory.client.clone().expect("planned with a record");
    install(vp, inv, Path::new(&rec.path), &rec.product, report)?;
    if let Some(c) = report.client.as_mut() {
        c.action = "updated".into();
    }
    Ok(())
}

/// Writes the package's client tool to `live` and records it (bound to `product`), through the
/// journal: staged beside it (same file system), proven, then swapped in, the old one kept as
/// `.NAME.iupack/previous`.
#[inline(never)]
fn install(
    vp: &mut VerifiedPackage,
    inv: &InventoryFile,
    live: &Path,
    product: &str,
    report: &mut Report,
) -> Result<()> {
    let platform = inv.platform();
    let name = client_file_name(&platform);
    let c = carried(vp).cloned().expect("checked by the caller");
    let file = match c.full.as_deref() {
        Some([f]) if f.path.as_str() == name => f.clone(),
        _ => {
            return Err(Error::damaged(format!(
                "the package's client tool ({CLIENT_COMPONENT}) is not one file named {name}, as on {platform}"
            ))
            .hint("build the package again with iupack build --with-client for this platform"))
        }
    };
    if !live.is_absolute() {
        return Err(Error::other(format!(
            "the inventory's client tool path {} is not absolute",
            live.display()
        ))
        .hint("give it as a full path (or install it again: --install-client DIR); nothing was changed"));
    }
    let live_text = live
        .to_str()
        .ok_or_else(|| Error::usage(format!("the path {} is not UTF-8", live.display())))?;
    // The folder will hold a program that root runs: no other user may change it or any above.
    let dir = fsutil::parent_of(live);
    if let (_, Some(who)) = safedir::walk(&dir)? {
        return Err(Error::new(
            ExitCode::ApplyFailed,
            format!("another user can change {who}, which would hold the client tool {}: they could replace what root runs", live.display()),
        )
        .hint("install it in a folder only root (or an administrator) can change, such as the default /usr/local/bin; nothing was changed"));
    }
    if std::fs::symlink_metadata(live).is_ok_and(|m| !m.is_file()) {
        return Err(Error::usage(format!(
            "{} is not a plain file: the client tool is not installed over it",
            live.display()
        ))
        .hint("name another folder, or move that away; nothing was changed"));
    }
    let side = side_dir(live);
    let stage = side.join(format!("stage-{}", std::process::id()));
    let kept = fsutil::exists(live)
        .then(|| side.join(format!("previous{}", std::env::consts::EXE_SUFFIX)));
    let mut txn = Transaction::new(
        &inv.path,
        format!("install-client {}", vp.manifest.package.id),
    );
    txn.stage(std::slice::from_ref(&stage))?;
    let written = {
        let root = txn.dirs.get(&stage, false)?;
        write_tree(vp, &c, root)?
    };
    if written.len() != 1 || written[0].sha256 != file.sha256 {
        return Err(Error::new(
            ExitCode::ApplyFailed,
            format!(
                "the staged client tool in {} is not the signed one",
                stage.display()
            ),
        ));
    }
    if let Some(k) = &kept {
        // The copy kept last time goes: the binary replaced now becomes the kept one.
        if fsutil::exists(k) {
            std::fs::remove_file(k)
                .map_err(|e| Error::apply_io(format!("cannot remove {}", k.display()), &e))?;
        }
    }
    let old = inv.inventory.client.clone();
    let mut next = inv.clone();
    next.inventory.client = Some(ClientRecord {
        path: live_text.to_string(),
        version: c.version.clone(),
        sha256: file.sha256.clone(),
        product: product.to_string(),
        package: Some(vp.manifest.package.id.clone()),
        installed: Some(time::rfc3339(time::unix_now())),
        floor: super::plan::security_floor(
            old.as_ref().and_then(|o| o.floor.as_ref()),
            c.floor.as_ref(),
        ),
        previous: kept
            .as_ref()
            .and(old.as_ref().filter(|o| o.path == live_text))
            .map(|o| o.version.clone()),
        extra: old.map(|o| o.extra).unwrap_or_default(),
    });
    let bytes = next.to_bytes();
    txn.replace_client(ClientSwap {
        live: live.to_path_buf(),
        new: stage.join(name),
        kept,
        sha256: file.sha256.clone(),
    });
    let remove = vec![stage.clone()];
    txn.commit(Vec::new(), &|_| (bytes.clone(), remove.clone()), Vec::new())?;
    report.warnings.append(&mut txn.warnings);
    report.bytes += file.size;
    let from = inv.inventory.client.as_ref().map(|o| o.version.to_string());
    report.client = Some(ClientReport {
        path: live_text.to_string(),
        from,
        to: c.version.to_string(),
        action: "installed".into(),
    });
    Ok(())
}

/// The client tool must not be inside a component's folder (a package's tree would replace it,
/// a swap move it, `forget --delete` delete it) nor be the inventory's folder.
fn check_place(inv: &InventoryFile, live: &Path) -> Result<()> {
    let dir = fsutil::parent_of(live);
    let inside = |folder: &Path| live.starts_with(folder) || folder.starts_with(live);
    for p in &inv.inventory.products {
        for (name, c) in p.components.iter() {
            let folder = crate::machine::installed::component_dir(inv, name, c)?;
            if inside(&folder) {
                return Err(Error::usage(format!(
                    "{} is inside the folder of {}'s component {name} ({}), which its packages replace",
                    live.display(),
                    p.id,
                    folder.display()
                ))
                .hint("install the client tool in a folder of its own, such as the default /usr/local/bin; nothing was changed"));
            }
        }
    }
    if dir == inv.base_dir() {
        return Err(Error::usage(format!(
            "{} is the inventory's folder: the client tool goes in a folder of its own",
            dir.display()
        ))
        .hint("such as the default /usr/local/bin; nothing was changed"));
    }
    Ok(())
}

/// The package is for `platform` and carries a client tool: that component.
#[inline(never)]
fn fits(vp: &VerifiedPackage, platform: &str) -> Result<Component> {
    let platforms = &vp.manifest.targets.platforms;
    if !platforms.iter().any(|p| p == "*" || p == platform) {
        return Err(Error::not_applicable(format!(
            "this package is for {}, not {platform}",
            platforms.join(", ")
        ))
        .hint("use the package built for this platform (iupack build --target)"));
    }
    carried(vp).cloned().ok_or_else(|| {
        Error::not_applicable("this package carries no client tool")
            .hint("build one that does: iupack build --with-client (iupack publish's self-extracting full packages carry it)")
    })
}

/// `PKG --install-client [DIR]`: verifies the package (with the keys the inventory trusts for
/// its product, or on a machine that trusts none yet with `--pubkey`) and installs the client
/// tool it carries into DIR, or where the inventory says it is, or the default folder. Creates
/// the inventory when there is none.
#[inline(never)]
pub fn install_client(
    pkg: Package,
    opts: &Options,
    dir: Option<&Path>,
    report: &mut Report,
) -> Result<ExitCode> {
    let claimed = pkg.claimed()?;
    report.product = Some(claimed.product.clone());
    report.package_id = Some(claimed.id.clone());
    let inventory = fsutil::absolute(&opts.inventory);
    let mut pkg = Some(pkg);
    // A machine with no inventory yet: the package is checked whole, with the key given, before
    // the inventory is made, so that a refusal leaves nothing behind.
    let fresh = match fsutil::exists(&inventory) {
        true => None,
        false => {
            let Some(key) = &opts.pubkey else {
                return Err(Error::usage(format!(
                    "there is no inventory at {}, so this machine trusts no key to check the package with",
                    inventory.display()
                ))
                .hint("give the vendor's public key: --install-client --pubkey FILE.pub"));
            };
            let pkg = pkg.take().expect("not taken yet");
            let mut vp = pkg.verify(std::slice::from_ref(key), &[], "the given public key")?;
            report.signed_by = Some(vp.key_id.clone());
            fits(&vp, &crate::this_platform())?;
            vp.verify_content()?;
            make_folder(&inventory)?;
            let _lock = InventoryLock::acquire(&inventory, opts.wait)?;
            if !fsutil::exists(&inventory) {
                let empty = InventoryFile {
                    path: inventory.clone(),
                    inventory: Inventory {
                        format: FORMAT,
                        machine: Default::default(),
                        products: Vec::new(),
                        client: None,
                        extra: Default::default(),
                    },
                };
                empty.save()?;
            }
            Some(vp)
        }
    };
    let mut session = session::open(&inventory, opts.wait, Access::Change)?;
    report.recovered = session.recovered.take();
    let inv = &session.inv;
    let whose = format!("this machine's inventory ({})", inventory.display());
    let mut vp = match (fresh, pkg, inv.product(&claimed.product), &opts.pubkey) {
        (Some(vp), ..) => vp,
        (None, Some(mut pkg), Some(p), None) => {
            let statements = pkg.key_transitions()?;
            let k = keys::follow(&p.id, &statements, &p.trusted_keys, &p.revoked_keys)?;
            pkg.verify(&k.trusted, &k.revoked, &whose)?
        }
        (None, Some(_), Some(_), Some(_)) => {
            return Err(Error::usage(format!(
                "this machine already trusts keys for {}: the package is checked with those",
                claimed.product
            ))
            .hint("leave out --pubkey"))
        }
        (None, Some(pkg), None, Some(key)) => {
            pkg.verify(std::slice::from_ref(key), &[], "the given public key")?
        }
        (None, _, _, _) => {
            return Err(Error::usage(format!(
                "the inventory {} trusts no key for {}",
                inventory.display(),
                claimed.product
            ))
            .hint("give the vendor's public key with --pubkey FILE.pub, or set the product up first: iupack-stub init"))
        }
    };
    report.signed_by = Some(vp.key_id.clone());
    vp.verify_stub()?;
    let platform = inv.platform();
    let c = fits(&vp, &platform)?;
    let rec = inv.inventory.client.clone();
    let live = match (dir, &rec) {
        (Some(d), _) => fsutil::absolute(d).join(client_file_name(&platform)),
        (None, Some(r)) => PathBuf::from(&r.path),
        (None, None) => default_dir().join(client_file_name(&platform)),
    };
    // The version rules hold whatever folder is named: a client tool installed elsewhere is no
    // way around the downgrade refusal or the floor.
    if let Some(r) = rec.as_ref() {
        let (_, action) = decide(&c, r, opts.downgrades);
        let same_place = Path::new(&r.path) == live;
        // A recorded client tool that is missing or changed on disk is put back, same version.
        let intact = r.on_disk() == Some(true);
        let refusal = match action {
            "current" if intact && same_place => None,
            "current" | "would-update" => Some(None),
            "below-floor" => Some(Some(format!(
                "the client tool {} is below this machine's security floor for it; it is never installed again, not even with --allow-downgrade",
                c.version
            ))),
            _ => Some(Some(format!(
                "the client tool {} is older than the installed {}; refusing to downgrade (use --allow-downgrade to force)",
                c.version, r.version
            ))),
        };
        match refusal {
            None => {
                report.client = Some(ClientReport {
                    path: r.path.clone(),
                    from: Some(r.version.to_string()),
                    to: c.version.to_string(),
                    action: action.into(),
                });
                report.result = "current".into();
                report.message = format!(
                    "the client tool {} is already installed as {}",
                    r.version, r.path
                );
                return Ok(ExitCode::Success);
            }
            Some(Some(why)) => return Err(Error::new(ExitCode::Downgrade, why)),
            Some(None) => {}
        }
    }
    check_place(&session.inv, &live)?;
    let result = install(&mut vp, &session.inv, &live, &claimed.product, report);
    drop(session);
    result?;
    report.result = "installed".into();
    report.message = format!("client tool {} installed as {}", c.version, live.display());
    if let Some(r) = rec.as_ref().filter(|r| Path::new(&r.path) != live) {
        report.warnings.push(format!(
            "the client tool recorded before, {}, was left where it is",
            r.path
        ));
    }
    if let Some(r) = rec.filter(|r| r.product != claimed.product) {
        report.warnings.push(format!(
            "the client tool was updated by {}'s packages; from now on it is by {}'s",
            r.product, claimed.product
        ));
    }
    Ok(ExitCode::Success)
}
