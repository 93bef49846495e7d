//! Loading minisign secret and public keys for signing; the password comes from
//! `IUPACK_PASSWORD` or a prompt on the terminal, never from a flag.

use iupack_stub::Error;
use minisign::{PublicKey, SecretKey, SecretKeyBox};
use std::io::IsTerminal;
use std::path::Path;

pub const ENV_PASSWORD: &str = "IUPACK_PASSWORD";

/// The password from the environment, if set.
pub fn env_password() -> Option<String> {
    std::env::var(ENV_PASSWORD).ok()
}

/// True when a password can be asked for.
pub fn can_prompt() -> bool {
    std::io::stdin().is_terminal()
}

/// Loads a secret key (encrypted or not) and the public key that goes with it.
pub fn load_secret(path: &Path) -> Result<(SecretKey, PublicKey), Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!(
            "cannot read the secret key {}: {e}",
            path.display()
        ))
        .hint("make a key pair with `iupack keygen -o PREFIX`")
    })?;
    if is_public_key(&text) {
        return Err(Error::usage(format!(
            "{} is a minisign public key, not the secret key that signs",
            path.display()
        ))
        .hint("pass the secret half, PREFIX.key beside PREFIX.pub (`iupack keygen -o PREFIX` writes both)"));
    }
    let sk_box = SecretKeyBox::from_string(&text).map_err(|e| not_a_key(path, &e))?;
    let sk = match SecretKey::from_unencrypted_box(sk_box.clone()) {
        Ok(sk) => sk,
        Err(e) if e.to_string().contains("encrypted") => {
            let password = match env_password() {
                Some(p) => Some(p),
                None if can_prompt() => None,
                None => {
                    return Err(Error::usage(format!(
                    "the secret key {} is password-protected and there is no terminal to ask on",
                    path.display()
                ))
                    .hint(format!("set {ENV_PASSWORD} in the environment")))
                }
            };
            SecretKey::from_box(sk_box, password).map_err(|e| {
                Error::usage(format!(
                    "cannot unlock the secret key {}: {e}",
                    path.display()
                ))
                .hint(format!("check the password ({ENV_PASSWORD} or the prompt)"))
            })?
        }
        Err(e) => match zero_checksum_unencrypted(&text) {
            Some(sk) => sk,
            None => return Err(not_a_key(path, &e)),
        },
    };
    let pk = PublicKey::from_secret_key(&sk).map_err(|e| not_a_key(path, &e))?;
    Ok((sk, pk))
}

/// minisign 0.11 writes unencrypted (`-W`) secret keys with an all-zero checksum, which the
/// `minisign` crate refuses as corrupted. Such a key is taken as it is: `minisign::sign` checks
/// every signature against the public half, so a damaged key still cannot sign.
fn zero_checksum_unencrypted(text: &str) -> Option<SecretKey> {
    let raw = iupack_stub::format::signature::base64_decode(text.lines().nth(1)?)?;
    let unencrypted = raw.len() == 158 && raw[2..4] == [0, 0];
    let zero_checksum = raw.get(126..158)?.iter().all(|&b| b == 0);
    (unencrypted && zero_checksum)
        .then(|| SecretKey::from_bytes(&raw).ok())
        .flatten()
}

/// A minisign public key file (`untrusted comment: ...` then 42 bytes in base64: algorithm, key
/// id, key), or just its base64 line, as `iupack keygen` and `minisign -G` write it.
fn is_public_key(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let key_line = match first.strip_prefix("untrusted comment:") {
        Some(_) => lines.next().unwrap_or_default(),
        None => first,
    };
    iupack_stub::format::signature::base64_decode(key_line)
        .is_some_and(|raw| raw.len() == 42 && raw.starts_with(b"Ed"))
}

fn not_a_key(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::usage(format!(
        "{} is not a minisign secret key: {e}",
        path.display()
    ))
    .hint("pass the `.key` file that `iupack keygen` or `minisign -G` wrote")
}

/// The base64 line of a public key.
pub fn public_base64(pk: &PublicKey) -> String {
    pk.to_base64()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_public_key_is_told_apart_from_a_secret_one() {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().expect("keypair");
        let pk = kp.pk.to_box().expect("box").into_string();
        let sk = kp.sk.to_box(None).expect("box").into_string();
        assert!(super::is_public_key(&pk));
        assert!(super::is_public_key(&kp.pk.to_base64()));
        assert!(!super::is_public_key(&sk));
        assert!(!super::is_public_key("product = \"acme-av\"\n"));
    }
}
