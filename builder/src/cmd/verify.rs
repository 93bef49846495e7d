//! `iupack verify`: the manifest signature and every content hash, checked by the same library
//! code the stub runs; and the whole-file signature `PKG.minisig` when it is there.
//! Never trusts a key the user did not give.

use crate::progress::{self, Progress};
use iupack_stub::format::package::{Expect, Package};
use iupack_stub::format::signature::{public_key_from_text, verify_file};
use iupack_stub::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package file.
    package: PathBuf,
    /// The publisher's minisign public key file.
    #[arg(long, value_name = "PUB")]
    pubkey: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<(), Error> {
    let text = std::fs::read_to_string(&a.pubkey).map_err(|e| {
        Error::usage(format!("cannot read {}: {e}", a.pubkey.display()))
            .hint("pass the publisher's public key file (PREFIX.pub from `iupack keygen`)")
    })?;
    let key = public_key_from_text(&text)?;
    let sig_path = {
        let mut s = a.package.as_os_str().to_owned();
        s.push(".minisig");
        PathBuf::from(s)
    };
    let progress = Progress::new(a.json);
    let file_signature = match std::fs::read_to_string(&sig_path) {
        Ok(sig) => {
            let pb = progress.spinner("whole file");
            verify_file(&a.package, &sig, &key).map_err(|e| with_key_hint(e, &a))?;
            pb.finish_with_message(format!("{} verified", sig_path.display()));
            Some(sig_path.display().to_string())
        }
        Err(_) => None,
    };
    let pb = progress.spinner("content");
    let pkg = Package::open(&a.package, Expect::Package)?.expect("a package or an error");
    let mut vp = pkg
        .verify(&[key], &[], "the given public key")
        .map_err(|e| with_key_hint(e, &a))?;
    let bytes = vp.verify_content()?;
    pb.finish_with_message(format!(
        "{} match the signed manifest",
        progress::bytes(bytes)
    ));
    let m = &vp.manifest;
    if a.json {
        let v = serde_json::json!({
            "package": a.package.display().to_string(),
            "verified": true,
            "file_signature": file_signature,
            "id": m.package.id,
            "product": m.product,
            "version": m.package.version.as_ref().map(ToString::to_string),
            "signed_by": vp.key_id,
            "content_bytes": bytes,
            "components": m.components.iter().map(|c| serde_json::json!({
                "name": c.name, "version": c.version.to_string(), "tree": c.tree,
                "full": c.full.is_some(),
                "deltas_from": c.deltas.iter().map(|d| d.from.to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        super::print_json(&v);
        return Ok(());
    }
    if let Some(path) = file_signature {
        say!("file signature {path} verified");
    }
    say!(
        "{}: package {} of {} verified: manifest signed by key {}, {} components, {bytes} bytes of content match",
        a.package.display(),
        m.package.id,
        m.product,
        vp.key_id,
        m.components.len()
    );
    Ok(())
}

/// A signature refusal (exit 20) says what to check: that `--pubkey` is the publisher's key (the
/// README promises every error a `hint:` line). Other errors keep their own hint.
fn with_key_hint(e: Error, a: &Args) -> Error {
    if e.code != iupack_stub::ExitCode::Signature || e.hint.is_some() {
        return e;
    }
    e.hint(format!(
        "check that {} is the public key of whoever built {} (PREFIX.pub beside the PREFIX.key that signed it); \
         if it is, the package was not signed by them: do not use it",
        a.pubkey.display(),
        a.package.display()
    ))
}
