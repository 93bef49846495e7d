//! Key rotation a machine can follow offline: a package may carry key-transition statements,
//! each signed by a key the machine trusts, that add a new key and may revoke the signing one.
//! Never trusts a key the machine did not already trust or vouch for.
//!
//! A statement is a small JSON document (`iupack/keys/N.json`, N = 1, 2, … in order) with a
//! pre-hashed minisign signature beside it (`N.json.minisig`) whose trusted comment is
//! `iupack-key-transition product=P new=KEYID`. The stub follows the chain from the inventory's
//! trusted, unrevoked keys — a machine that missed several rotations follows each link — and
//! verifies the manifest against the result. The inventory records the new keys and revocations
//! only after the whole package verified and applied (docs/design.md §5: keys come from the machine; a
//! transition only extends what a trusted key already vouches for).

use crate::error::{Error, Result};
use crate::format::signature::{self, key_id};
use crate::json::{self, object};

pub const TRANSITION_DIR: &str = "iupack/keys/";
/// Statements a package may carry.
pub const MAX_TRANSITIONS: usize = 32;
/// The largest statement accepted (a statement is about 250 bytes).
pub const MAX_TRANSITION_BYTES: u64 = 4096;
pub const KIND: &str = "iupack-key-transition";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub format: u32,
    pub kind: String,
    pub product: String,
    /// The key to trust from now on (minisign public key, base64).
    pub new_key: String,
    /// Revoke the key that signs this statement.
    pub revoke_signer: bool,
    pub created: String,
}

object!(Transition, deny, { format: req, kind: req, product: req, new_key: req, revoke_signer: req, created: req });

impl Transition {
    /// Parses a statement (its signature is checked separately).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Transition, String> {
        json::from_slice(bytes)
    }

    /// The statement as written into packages.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = json::ToJson::to_json(self).to_pretty().into_bytes();
        v.push(b'\n');
        v
    }

    /// The trusted comment its signature carries.
    pub fn comment(&self) -> String {
        format!(
            "{KIND} product={} new={}",
            self.product,
            key_id(&self.new_key).unwrap_or_default()
        )
    }
}

/// The ZIP entry names of statement `n` (1-based) and its signature.
pub fn entry_names(n: usize) -> (String, String) {
    let name = format!("{TRANSITION_DIR}{n}.json");
    let sig = format!("{name}.minisig");
    (name, sig)
}

/// The keys a package may be verified with, and what changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyChange {
    pub trusted: Vec<String>,
    pub revoked: Vec<String>,
    /// Key ids added and revoked by the statements followed.
    pub added: Vec<String>,
    pub newly_revoked: Vec<String>,
}

impl KeyChange {
    pub fn changed(&self) -> bool {
        !self.added.is_empty() || !self.newly_revoked.is_empty()
    }
}

/// Follows `statements` (bytes and signature text, in package order) from `trusted` minus
/// `revoked`. A statement signed by a key not (yet) trusted is passed over; one that a trusted key
/// signed but that does not verify, is malformed or is for another product refuses the package.
pub fn follow(
    product: &str,
    statements: &[(Vec<u8>, String)],
    trusted: &[String],
    revoked: &[String],
) -> Result<KeyChange> {
    let mut ch = KeyChange {
        trusted: trusted.to_vec(),
        revoked: revoked.to_vec(),
        ..KeyChange::default()
    };
    let mut done = vec![false; statements.len()];
    loop {
        let mut progress = false;
        for (i, (data, sig)) in statements.iter().enumerate() {
            if done[i] {
                continue;
            }
            let Some(signer) = signature::signer_id(sig) else {
                return Err(Error::damaged(format!(
                    "key transition {} has a malformed signature",
                    i + 1
                )));
            };
            let revoked_ids: Vec<String> = ch.revoked.iter().filter_map(|k| key_id(k)).collect();
            let usable =
                |k: &String| key_id(k).is_some_and(|id| id == signer && !revoked_ids.contains(&id));
            let Some(signer_key) = ch.trusted.iter().find(|k| usable(k)).cloned() else {
                continue;
            };
            let (_, comment) = signature::verify_raw(
                data,
                sig,
                std::slice::from_ref(&signer_key),
                &ch.revoked,
                "this machine",
            )
            .map_err(|e| Error::signature(format!("key transition {}: {}", i + 1, e.message)))?;
            let t = Transition::parse(data).map_err(|e| {
                Error::damaged(format!("key transition {} is not valid: {e}", i + 1))
            })?;
            if t.format != 1 || t.kind != KIND || comment != t.comment() {
                return Err(Error::signature(format!(
                    "key transition {} is not an iupack key transition its signature vouches for",
                    i + 1
                )));
            }
            if t.product != product {
                return Err(Error::signature(format!(
                    "key transition {} is for product {}, not {product}",
                    i + 1,
                    t.product
                )));
            }
            // The key as the inventory records it: its key line alone, never the statement's
            // spelling (a `.pub` file's text, spaces), which the inventory would refuse to load.
            let (new_key, new_id) = signature::public_key_from_text(&t.new_key)
                .ok()
                .and_then(|k| key_id(&k).map(|id| (k, id)))
                .ok_or_else(|| {
                    Error::damaged(format!(
                        "key transition {}: the new key is not valid",
                        i + 1
                    ))
                })?;
            done[i] = true;
            progress = true;
            let already_revoked = revoked_ids.contains(&new_id);
            if !already_revoked
                && !ch
                    .trusted
                    .iter()
                    .any(|k| key_id(k).as_deref() == Some(&new_id))
            {
                ch.trusted.push(new_key);
                ch.added.push(new_id);
            }
            if t.revoke_signer && !ch.revoked.contains(&signer_key) {
                ch.revoked.push(signer_key);
                ch.newly_revoked.push(signer);
            }
        }
        if !progress {
            return Ok(ch);
        }
    }
}
