//! `iupack inspect`: what a package carries, read without trusting it (the signature is not
//! checked here; `iupack verify` does that). Never writes anything.

use iupack_stub::format::manifest::Manifest;
use iupack_stub::format::package::{Expect, Package};
use iupack_stub::format::signature::key_id;
use iupack_stub::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package file.
    package: PathBuf,
    /// Print JSON: the manifest, the signer's key id and the ZIP entries.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<(), Error> {
    let mut pkg = Package::open(&a.package, Expect::Package)?.expect("a package or an error");
    let m = Manifest::parse(pkg.manifest_bytes())
        .map_err(|e| Error::damaged(format!("the manifest is not valid: {e}")))?;
    let signer = pkg
        .signature_text()
        .lines()
        .nth(1)
        .and_then(key_id)
        .unwrap_or_default();
    let claimed = pkg.claimed().ok();
    let transitions: Vec<serde_json::Value> = pkg
        .key_transitions()
        .unwrap_or_default()
        .iter()
        .map(|(data, sig)| {
            let t = iupack_stub::format::keys::Transition::parse(data).ok();
            serde_json::json!({
                "signed_by": sig.lines().nth(1).and_then(key_id),
                "new_key": t.as_ref().and_then(|t| key_id(&t.new_key)),
                "revoke_signer": t.as_ref().map(|t| t.revoke_signer),
            })
        })
        .collect();
    let entries = pkg.entries();
    let file_size = std::fs::metadata(&a.package).map(|m| m.len()).unwrap_or(0);
    let payload: u64 = entries.iter().map(|e| e.2).sum();
    if a.json {
        let v = serde_json::json!({
            "file": a.package.display().to_string(),
            "size": file_size,
            "signature_checked": false,
            "signed_by": signer,
            "trusted_comment": claimed.map(|c| c.render()),
            "manifest": serde_json::from_slice::<serde_json::Value>(&m.to_json()).expect("the manifest's own JSON"),
            "key_transitions": transitions,
            "entries": entries.iter().map(|(n, s, c)| serde_json::json!({"name": n, "size": s, "stored": c})).collect::<Vec<_>>(),
        });
        super::print_json(&v);
        return Ok(());
    }
    say!(
        "{} ({file_size} bytes; not verified: use `iupack verify`)",
        a.package.display()
    );
    say!("  product   {}", m.product);
    say!("  package   {}", m.package.id);
    if let Some(v) = &m.package.version {
        say!("  version   {v}");
    }
    say!("  created   {}", m.package.created);
    match &m.package.stub {
        Some(stub) => say!("  form      self-extracting (head of {} bytes)", stub.size),
        None => {
            say!("  form      bare (no head): apply with `iupack-stub apply PKG` or from a share")
        }
    }
    say!("  signed by key {signer}");
    for t in &transitions {
        say!(
            "  key transition: {} vouches for {}{}",
            t["signed_by"].as_str().unwrap_or("?"),
            t["new_key"].as_str().unwrap_or("?"),
            if t["revoke_signer"] == true {
                " and revokes itself"
            } else {
                ""
            }
        );
    }
    say!(
        "  targets   product {} · platforms {} · languages {}",
        m.targets.product_versions,
        m.targets.platforms.join(", "),
        m.targets.languages.join(", ")
    );
    for c in &m.components {
        let req: Vec<String> = c.requires.iter().map(|(k, v)| format!("{k} {v}")).collect();
        say!(
            "  component {} {}: {} files, {} bytes full{}",
            c.name,
            c.version,
            c.full.as_ref().map_or(0, Vec::len),
            c.full_size(),
            if req.is_empty() {
                String::new()
            } else {
                format!("; requires {}", req.join(", "))
            }
        );
        say!("            tree {}", c.tree);
        if let Some(f) = &c.floor {
            say!("            security floor {f}: machines never go below it again");
        }
        for d in &c.deltas {
            say!(
                "            delta from {} ({}): {}",
                d.from,
                d.codec,
                d.describe()
            );
        }
    }
    say!(
        "  payload   {} entries, {payload} bytes stored",
        entries.len()
    );
    Ok(())
}
