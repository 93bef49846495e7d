//! The two runs that read a package without touching the inventory: `--verify` (every byte of
//! content checked against the signed manifest) and `--extract DIR` (verified full content
//! written into a new or empty folder, removed again if anything fails).
//! Never opens the inventory or changes the machine.

use super::tree::write_tree;
use crate::apply::report::Report;
use crate::error::{Error, ExitCode, Result};
use crate::format::package::VerifiedPackage;
use crate::platform::{fsutil, safedir};
use std::fs;
use std::path::Path;

pub(super) fn verify_all(vp: &mut VerifiedPackage, report: &mut Report) -> Result<ExitCode> {
    let bytes = vp.verify_content()?;
    report.result = "verified".into();
    report.message = format!(
        "signature by key {} and all {bytes} bytes of content verified",
        vp.key_id
    );
    Ok(ExitCode::Success)
}

pub(super) fn extract(
    vp: &mut VerifiedPackage,
    dir: &Path,
    report: &mut Report,
) -> Result<ExitCode> {
    // What is extracted is a file that verified: head (or bare guard) included.
    vp.verify_stub()?;
    let created = match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::usage(format!(
                    "{} is not empty; --extract writes only into a new or empty folder",
                    dir.display()
                )));
            }
            false
        }
        Err(_) => {
            fs::create_dir_all(dir)
                .map_err(|e| Error::apply_io(format!("cannot create {}", dir.display()), &e))?;
            true
        }
    };
    let result = (|| {
        let mut bytes = 0;
        for c in vp.manifest.components.clone() {
            if c.full.is_some() {
                let root = dir.join(&c.name);
                let root = fs::create_dir(&root)
                    .and_then(|()| safedir::open(&root))
                    .map_err(|e| {
                        Error::apply_io(format!("cannot create {}", root.display()), &e)
                    })?;
                write_tree(vp, &c, &root)?;
                bytes += c.full_size();
            }
        }
        Ok(bytes)
    })();
    match result {
        Ok(bytes) => {
            report.bytes = bytes;
            report.result = "extracted".into();
            report.message = format!("verified full content written to {}", dir.display());
            Ok(ExitCode::Success)
        }
        Err(e) => {
            if created {
                fsutil::remove_quietly(dir);
            } else if let Ok(entries) = fs::read_dir(dir) {
                entries
                    .flatten()
                    .for_each(|e| fsutil::remove_quietly(&e.path()));
            }
            Err(e)
        }
    }
}
