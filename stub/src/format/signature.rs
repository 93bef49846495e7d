//! Minisign signatures over the manifest: verification against the machine's trusted keys, the
//! key ids people see in messages, and the trusted comment that binds a signature to one package.
//!
//! Only pre-hashed (`ED`) signatures are accepted. Keys come from the machine, never the package.

use crate::error::{Error, Result};
use minisign_verify::{PublicKey, Signature};

/// The largest signature file accepted (a minisign signature is about 300 bytes).
pub const MAX_SIGNATURE_BYTES: u64 = 4096;

/// The trusted comment that names what a signature is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedComment {
    pub product: String,
    pub id: String,
    pub version: String,
}

impl TrustedComment {
    pub fn render(&self) -> String {
        format!(
            "iupack product={} id={} version={}",
            self.product, self.id, self.version
        )
    }

    pub fn parse(s: &str) -> Option<TrustedComment> {
        let rest = s.strip_prefix("iupack ")?;
        let mut product = None;
        let mut id = None;
        let mut version = None;
        for word in rest.split(' ') {
            let (k, v) = word.split_once('=')?;
            let slot = match k {
                "product" => &mut product,
                "id" => &mut id,
                "version" => &mut version,
                _ => return None,
            };
            if slot.replace(v.to_string()).is_some() {
                return None;
            }
        }
        Some(TrustedComment {
            product: product?,
            id: id?,
            version: version?,
        })
    }
}

/// Decodes standard base64 (with padding), as minisign writes it.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.trim().as_bytes();
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for chunk in s.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = n << 6 | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

/// The key id (as minisign prints it: 16 uppercase hex digits) of a base64 public key or of a
/// signature's base64 line. Both start with two algorithm bytes and eight key-id bytes.
pub fn key_id(b64: &str) -> Option<String> {
    let raw = base64_decode(b64)?;
    let id: [u8; 8] = raw.get(2..10)?.try_into().ok()?;
    Some(format!("{:016X}", u64::from_le_bytes(id)))
}

/// Whether `b64` is a minisign public key (the key line of a `.pub` file).
pub fn is_public_key(b64: &str) -> bool {
    PublicKey::from_base64(b64).is_ok()
}

/// The base64 key from the text of a minisign `.pub` file, or a bare base64 key.
pub fn public_key_from_text(text: &str) -> Result<String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .unwrap_or("");
    PublicKey::from_base64(line)
        .map(|_| line.to_string())
        .map_err(|_| {
            Error::usage("this is not a minisign public key")
                .hint("pass the `.pub` file that `iupack keygen` or `minisign -G` wrote")
        })
}

/// The signature's base64 line, for its key id.
fn signature_line(sig_text: &str) -> Option<&str> {
    sig_text.lines().nth(1).map(str::trim)
}

/// What a verification found: which trusted key signed, and the trusted comment.
#[derive(Debug, Clone)]
pub struct Verified {
    pub key_id: String,
    pub comment: TrustedComment,
}

/// Reads a signature file's text and its trusted comment without checking anything. Used only to
/// pick which product's keys to try; nothing read here is trusted until `verify` succeeds.
pub fn peek_comment(sig_text: &str) -> Result<TrustedComment> {
    let sig = Signature::decode(sig_text)
        .map_err(|e| Error::damaged(format!("the manifest signature is malformed: {e}")))?;
    TrustedComment::parse(sig.trusted_comment()).ok_or_else(|| {
        Error::signature(format!(
            "the manifest signature's trusted comment `{}` is not an iupack one",
            sig.trusted_comment()
        ))
    })
}

/// Verifies `data` against `sig_text` with any of `trusted` keys that is not `revoked`, and
/// requires an iupack package trusted comment.
pub fn verify(
    data: &[u8],
    sig_text: &str,
    trusted: &[String],
    revoked: &[String],
    whose: &str,
) -> Result<Verified> {
    let (key_id, comment) = verify_raw(data, sig_text, trusted, revoked, whose)?;
    let comment = TrustedComment::parse(&comment)
        .ok_or_else(|| Error::signature("the signed trusted comment is not an iupack one"))?;
    Ok(Verified { key_id, comment })
}

/// The signer's key id as the signature names it (unverified).
pub fn signer_id(sig_text: &str) -> Option<String> {
    signature_line(sig_text).and_then(key_id)
}

/// Verifies `data` against `sig_text` with any of `trusted` keys that is not `revoked`; returns
/// the signer's key id and the (signed) trusted comment.
pub fn verify_raw(
    data: &[u8],
    sig_text: &str,
    trusted: &[String],
    revoked: &[String],
    whose: &str,
) -> Result<(String, String)> {
    let sig = Signature::decode(sig_text)
        .map_err(|e| Error::damaged(format!("the manifest signature is malformed: {e}")))?;
    let signer = signature_line(sig_text)
        .and_then(key_id)
        .unwrap_or_else(|| "unknown".into());
    let revoked_ids: Vec<String> = revoked.iter().filter_map(|k| key_id(k)).collect();
    if revoked_ids.contains(&signer) {
        return Err(Error::signature(format!(
            "the package is signed by key {signer}, which {whose} has revoked"
        ))
        .hint("get a package signed with the product's current key"));
    }
    let mut tried_matching_key = false;
    for k in trusted {
        let Ok(pk) = PublicKey::from_base64(k) else {
            continue;
        };
        if key_id(k).as_deref() != Some(signer.as_str()) {
            continue;
        }
        tried_matching_key = true;
        match pk.verify(data, &sig, false) {
            Ok(()) => return Ok((signer, sig.trusted_comment().to_string())),
            Err(minisign_verify::Error::UnexpectedAlgorithm) => {
                return Err(Error::signature(
                    "the manifest has a legacy (not pre-hashed) minisign signature, which iupack refuses",
                )
                .hint("rebuild the package with `iupack build`"));
            }
            Err(_) => {}
        }
    }
    if tried_matching_key {
        Err(Error::signature(format!(
            "the manifest signature by key {signer} does not verify: the package was altered after signing"
        ))
        .hint("do not use this file; copy the package again from its source"))
    } else {
        Err(Error::signature(format!(
            "the package is signed by key {signer}, which {whose} does not trust"
        ))
        .hint("check the package comes from this product's publisher: its key goes in the inventory's `trusted_keys` (or --pubkey)"))
    }
}

/// Verifies a detached whole-file signature (`PKG.minisig`) of the file at `path` with one key,
/// streaming the file. Returns the trusted comment.
pub fn verify_file(path: &std::path::Path, sig_text: &str, key: &str) -> Result<String> {
    use std::io::Read;
    let sig = Signature::decode(sig_text)
        .map_err(|e| Error::damaged(format!("the file signature is malformed: {e}")))?;
    let pk =
        PublicKey::from_base64(key).map_err(|_| Error::usage("the public key is not valid"))?;
    let mut v = pk.verify_stream(&sig).map_err(|e| match e {
        minisign_verify::Error::UnexpectedKeyId => Error::signature(format!(
            "{} is signed by key {}, not by the given key {}",
            path.display(),
            signature_line(sig_text)
                .and_then(key_id)
                .unwrap_or_default(),
            key_id(key).unwrap_or_default()
        )),
        other => Error::signature(format!("the file signature cannot be checked: {other}")),
    })?;
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::other(format!("cannot read {}: {e}", path.display())))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::other(format!("cannot read {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        v.update(&buf[..n]);
    }
    v.finalize().map_err(|_| {
        Error::signature(format!(
            "{} does not match its signature: the file was altered or damaged",
            path.display()
        ))
    })?;
    Ok(sig.trusted_comment().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_known() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64_decode("YWJj").as_deref(), Some(&b"abc"[..]));
        assert!(base64_decode("a*==").is_none());
        assert!(base64_decode("abc").is_none());
    }

    #[test]
    fn trusted_comment_round_trip_and_strictness() {
        let c = TrustedComment {
            product: "acme-av".into(),
            id: "acme-av-1".into(),
            version: "1.2".into(),
        };
        assert_eq!(TrustedComment::parse(&c.render()), Some(c));
        assert!(TrustedComment::parse("timestamp:1 file:x").is_none());
        assert!(TrustedComment::parse("iupack product=a product=b id=x version=1").is_none());
    }
}
