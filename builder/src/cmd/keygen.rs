//! `iupack keygen`: a minisign key pair. The secret key is written with mode 0600 and, unless
//! `--no-password`, encrypted with a password from `IUPACK_PASSWORD` or the terminal.
//! Never overwrites a key without `--force`.

use crate::keys::{can_prompt, env_password, ENV_PASSWORD};
use crate::outpath::check_overwrite;
use iupack_stub::{format::signature::key_id, platform::fsutil, Error};
use minisign::KeyPair;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write PREFIX.key and PREFIX.pub. The secret key is encrypted with the password in
    /// IUPACK_PASSWORD, else one asked for on the terminal (see --no-password).
    #[arg(short = 'o', long = "out", value_name = "PREFIX")]
    prefix: PathBuf,
    /// Leave the secret key unencrypted (for automated build machines with other protection).
    #[arg(long)]
    no_password: bool,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args) -> Result<(), Error> {
    let sk_path = with_ext(&a.prefix, "key");
    let pk_path = with_ext(&a.prefix, "pub");
    check_overwrite(&sk_path, a.force)?;
    check_overwrite(&pk_path, a.force)?;
    let kp = if a.no_password {
        KeyPair::generate_unencrypted_keypair()
    } else {
        let password = match env_password() {
            Some(p) => Some(p),
            None if can_prompt() => None,
            None => {
                return Err(
                    Error::usage("no password for the new secret key").hint(format!(
                        "set {ENV_PASSWORD}, run on a terminal, or pass --no-password"
                    )),
                )
            }
        };
        KeyPair::generate_encrypted_keypair(password)
    }
    .map_err(|e| Error::other(format!("cannot make a key pair: {e}")))?;
    let sk_text = kp
        .sk
        .to_box(None)
        .map_err(|e| Error::other(e.to_string()))?
        .into_string();
    let pk_text = kp
        .pk
        .to_box()
        .map_err(|e| Error::other(e.to_string()))?
        .into_string();
    write_private(&sk_path, sk_text.as_bytes())?;
    fsutil::atomic_write(&pk_path, pk_text.as_bytes()).map_err(|e| {
        Error::other(format!("cannot write {}: {e}", pk_path.display()))
            .hint("check that the folder exists and is writable")
    })?;
    let b64 = kp.pk.to_base64();
    say!(
        "wrote secret key {} (mode 0600{})",
        sk_path.display(),
        if a.no_password {
            ", no password"
        } else {
            ", password-protected"
        }
    );
    say!("wrote public key {}", pk_path.display());
    say!("key id {}", key_id(&b64).unwrap_or_default());
    say!("add this line to each product's \"trusted_keys\" in the inventory:");
    say!("  {b64}");
    Ok(())
}

fn with_ext(prefix: &std::path::Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Writes a secret file that is never readable by others, not even for a moment.
fn write_private(path: &std::path::Path, data: &[u8]) -> Result<(), Error> {
    let tmp = fsutil::temp_beside(path, "tmp");
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        fsutil::remove_quietly(&tmp);
        Error::other(format!("cannot write {}: {e}", path.display()))
            .hint("check that the folder exists and is writable")
    })
}
