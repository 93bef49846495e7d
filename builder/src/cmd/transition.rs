//! `iupack key-transition`: a statement, signed with the current key, that machines should trust
//! a new key from now on (and, with `--revoke-old`, stop trusting the signing one). Put it in a
//! spec's `key_transitions` so packages carry it; a machine that missed several rotations follows
//! every statement in a package in order. Procedure: keys/README.md. Never changes a key file.

use crate::keys;
use crate::outpath::check_overwrite;
use iupack_stub::format::keys::{Transition, KIND};
use iupack_stub::format::signature::{key_id, public_key_from_text};
use iupack_stub::{
    format::manifest::is_valid_name, format::write, platform::fsutil, platform::time, Error,
};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The current (trusted) secret key, which signs the statement. A password-protected key is
    /// unlocked with the password in IUPACK_PASSWORD, else asked for on the terminal.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The new public key (`.pub` file) machines are to trust.
    #[arg(long = "new", value_name = "PUB")]
    new_key: PathBuf,
    /// The product whose machines follow the statement.
    #[arg(long)]
    product: String,
    /// Also revoke the signing key on machines that follow the statement.
    #[arg(long)]
    revoke_old: bool,
    /// Where to write the statement (its signature goes beside it as OUT.minisig).
    #[arg(short, long, value_name = "OUT")]
    out: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args) -> Result<(), Error> {
    let sig_path = PathBuf::from(format!("{}.minisig", a.out.display()));
    check_overwrite(&a.out, a.force)?;
    check_overwrite(&sig_path, a.force)?;
    if !is_valid_name(&a.product) {
        return Err(Error::usage(format!(
            "product `{}` must be {}",
            a.product,
            iupack_stub::format::manifest::NAME_RULE
        ))
        .hint("give the product id exactly as the build spec and the inventories name it"));
    }
    let text = std::fs::read_to_string(&a.new_key).map_err(|e| {
        Error::usage(format!("cannot read {}: {e}", a.new_key.display()))
            .hint("pass the new key's public key file (PREFIX.pub from `iupack keygen`)")
    })?;
    let new_key = public_key_from_text(&text)?;
    let (sk, pk) = keys::load_secret(&a.key)?;
    let old = keys::public_base64(&pk);
    if key_id(&old) == key_id(&new_key) {
        return Err(Error::usage("the new key is the signing key itself")
            .hint("make the new key with `iupack keygen -o PREFIX` first"));
    }
    let t = Transition {
        format: 1,
        kind: KIND.into(),
        product: a.product.clone(),
        new_key: new_key.clone(),
        revoke_signer: a.revoke_old,
        created: time::rfc3339(time::unix_now()),
    };
    let bytes = t.to_json();
    let sig = write::sign(
        &sk,
        Some(&pk),
        &bytes[..],
        &t.comment(),
        "iupack key transition signature",
    )
    .map_err(Error::other)?;
    let werr = |p: &PathBuf, e: std::io::Error| {
        Error::new(
            iupack_stub::ExitCode::Error,
            format!("cannot write {}: {e}", p.display()),
        )
    };
    fsutil::atomic_write(&a.out, &bytes).map_err(|e| werr(&a.out, e))?;
    fsutil::atomic_write(&sig_path, sig.as_bytes()).map_err(|e| werr(&sig_path, e))?;
    say!(
        "key transition for {}: trust {}{} (signed by {}) -> {} and {}",
        a.product,
        key_id(&new_key).unwrap_or_default(),
        if a.revoke_old {
            ", revoke the signing key"
        } else {
            ""
        },
        key_id(&old).unwrap_or_default(),
        a.out.display(),
        sig_path.display()
    );
    Ok(())
}
