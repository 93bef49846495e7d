//! `status` and `status --export`: what is installed on this machine, from which package and
//! when, what is kept and what waits for a restart, and the client tool the inventory records; the export is what `iupack plan` needs (the
//! versions and tree digests, no keys, paths or personal data). Read only: takes no lock and
//! changes nothing.

use crate::error::Result;
use crate::json::{Obj, Value};
use crate::machine::inventory::InventoryFile;
use crate::machine::journal;
use crate::platform::fsutil::{self, absolute};
use std::path::Path;

/// `status`: what is installed, from which package, when, and what is kept. Read only.
pub fn status(inventory: &Path) -> Result<Value> {
    let inventory = absolute(inventory);
    let inv = InventoryFile::load(&inventory)?;
    let products: Vec<Value> = inv
        .inventory
        .products
        .iter()
        .map(|p| {
            let components: Vec<Value> = p
                .components
                .iter()
                .map(|(name, c)| {
                    Obj::new()
                        .put("name", name)
                        .put("version", &c.version)
                        .put("path", inv.resolve(&c.path))
                        .put("tree", &c.tree)
                        .put("package", &c.package)
                        .put("installed", &c.installed)
                        .put(
                            "kept",
                            c.previous.iter().map(|k| &k.version).collect::<Vec<_>>(),
                        )
                        .put("pending_restart", c.pending.as_ref().map(|p| &p.version))
                        .build()
                })
                .collect();
            // Hooks a run would refuse (an unknown field: every apply of the product is exit 1
            // until they are fixed): said here, before a package finds it.
            let hooks_problem = crate::machine::hooks::Hooks::of(p.hooks.as_ref(), &p.id)
                .err()
                .map(|e| e.message);
            Obj::new()
                .put("id", &p.id)
                .put("name", &p.name)
                .put("version", &p.version)
                .put("trusted_keys", p.trusted_keys.len())
                .put("components", components)
                .put("hooks_problem", hooks_problem)
                .build()
        })
        .collect();
    #[cfg(not(feature = "install"))]
    let client: Option<Value> = None;
    #[cfg(feature = "install")]
    let client = inv.inventory.client.as_ref().map(|c| {
        // Whether the binary is the one recorded, checked now.
        let on_disk = match c.on_disk() {
            None => "missing",
            Some(true) => "as recorded",
            Some(false) => "changed",
        };
        Obj::new()
            .put("path", &c.path)
            .put("version", &c.version)
            .put("product", &c.product)
            .put("package", &c.package)
            .put("installed", &c.installed)
            .put("kept", &c.previous)
            .put("on_disk", on_disk)
            .build()
    });
    Ok(Obj::new()
        .put("inventory", &inventory)
        .put(
            "interrupted_update",
            fsutil::exists(&journal::journal_path(&inventory)),
        )
        .put("client", client)
        .put("products", products)
        .build())
}

/// `status --export`: per product its id, version and language, and per component its version
/// and the digest of the tree on disk (computed now, not copied from the inventory), plus the
/// machine's platform and language. No keys, paths, hooks, host names or user data: the file
/// crosses the air gap to `iupack plan`.
pub fn export(inventory: &Path) -> Result<Value> {
    let inventory = absolute(inventory);
    let inv = InventoryFile::load(&inventory)?;
    let products: Vec<Value> = inv
        .inventory
        .products
        .iter()
        .map(|p| {
            let components = p.components.iter().fold(Obj::new(), |o, (name, c)| {
                let tree = c.version.as_ref().and_then(|_| {
                    crate::machine::installed::installed_digest(&inv.resolve(&c.path), &c.exec)
                });
                o.put(
                    name,
                    Obj::new()
                        .put("version", &c.version)
                        .put("tree", tree)
                        .build(),
                )
            });
            Obj::new()
                .put("id", &p.id)
                .put("version", &p.version)
                .put("language", &p.language)
                .put("components", components.build())
                .build()
        })
        .collect();
    Ok(Obj::new()
        .put("format", 1u32)
        .put("kind", "iupack-inventory-export")
        .put(
            "exported",
            crate::platform::time::rfc3339(crate::platform::time::unix_now()),
        )
        .put(
            "machine",
            Obj::new()
                .put("platform", inv.platform())
                .put("language", &inv.inventory.machine.language)
                .build(),
        )
        .put("products", products)
        .build())
}
