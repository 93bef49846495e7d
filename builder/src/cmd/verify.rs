//! `iupack verify`: the manifest signature and every content hash, checked by the same library
//! code the stub runs; and the whole-file signature `PKG.minisig` when it is there.

use iupack_stub::package::{Expect, Package};
use iupack_stub::signature::{public_key_from_text, verify_file};
use iupack_stub::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package file.
    package: PathBuf,
    /// The publisher's minisign public key file.
    #[arg(long, value_name = "PUB")]
    pubkey: PathBuf,
}

pub fn run(a: Args) -> Result<(), Error> {
    let text = std::fs::read_to_string(&a.pubkey)
        .map_err(|e| Error::usage(format!("cannot read {}: {e}", a.pubkey.display())))?;
    let key = public_key_from_text(&text)?;
    let sig_path = {
        let mut s = a.package.as_os_str().to_owned();
        s.push(".minisig");
        PathBuf::from(s)
    };
    if let Ok(sig) = std::fs::read_to_string(&sig_path) {
        verify_file(&a.package, &sig, &key)?;
        println!("file signature {} verified", sig_path.display());
    }
    let pkg = Package::open(&a.package, Expect::Package)?.expect("a package or an error");
    let mut vp = pkg.verify(&[key], &[], "the given public key")?;
    let bytes = vp.verify_content()?;
    let m = &vp.manifest;
    println!(
        "{}: package {} of {} verified: manifest signed by key {}, {} components, {bytes} bytes of content match",
        a.package.display(),
        m.package.id,
        m.product,
        vp.key_id,
        m.components.len()
    );
    Ok(())
}
