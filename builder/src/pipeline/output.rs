//! Writing the package: written beside its path under a temporary name, re-read and verified
//! with the stub's own code, then renamed into place (a failed build removes its temporary file
//! and leaves the old package as it was); then the whole-file signature `PKG.minisig` and the
//! package's line in `SHA256SUMS` beside it. Owns every file a build writes; never changes what
//! the package holds.

use super::assemble::Assembled;
use super::Signer;
use crate::outpath::file_name;
use crate::progress::Progress;
use iupack_stub::format::digest::hash_reader;
use iupack_stub::format::package::{Expect, Package};
use iupack_stub::{format::write, platform::fsutil, Error};
use std::fs::{self, File};
use std::io::BufReader;
use std::path::Path;

/// Writes `pkg` to `out` (made at `created`), verified against `key`'s public key before it
/// replaces anything.
pub fn write_verified(
    out: &Path,
    pkg: &Assembled,
    created: u64,
    key: &Signer,
    progress: &Progress,
) -> Result<(), Error> {
    let tmp = fsutil::temp_beside(out, "building");
    let result = (|| {
        let pb = progress.spinner("writing");
        let file = File::create(&tmp).map_err(|e| write_err(&tmp, &e))?;
        let file = write::write_package(
            file,
            &pkg.stub,
            &pkg.manifest_bytes,
            &pkg.signature,
            &pkg.entries,
            created,
        )
        .map_err(|e| write_err(&tmp, &e))?;
        if pkg.stub_path.is_some() {
            // A bare package is data (0644 from the umask): nothing runs it.
            set_executable(&file).map_err(|e| write_err(&tmp, &e))?;
        }
        file.sync_all().map_err(|e| write_err(&tmp, &e))?;
        drop(file);
        pb.finish_with_message(format!("{} entries", pkg.entries.len()));
        let pb = progress.spinner("verifying");
        let written = Package::open(&tmp, Expect::Package)?.expect("just written");
        let mut vp = written.verify(std::slice::from_ref(&key.public), &[], "the signing key")?;
        vp.verify_content().map_err(|e| {
            Error::other(format!(
                "the package did not verify after writing: {}",
                e.message
            ))
            .hint("was the content changed while the package was built? build again")
        })?;
        pb.finish_with_message("signature and every content hash, with the stub's code");
        fs::rename(&tmp, out).map_err(|e| write_err(out, &e))
    })();
    if let Err(e) = result {
        fsutil::remove_quietly(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Signs the package file at `out` into `sig_path` and records its hash in `SHA256SUMS`;
/// returns its size and SHA-256.
pub fn sign_file(
    out: &Path,
    sig_path: &Path,
    pkg: &Assembled,
    key: &Signer,
    progress: &Progress,
) -> Result<(u64, String), Error> {
    let pb = progress.spinner("signing");
    let file_comment = format!(
        "iupack-package file={} product={} id={}",
        file_name(out),
        pkg.manifest.product,
        pkg.manifest.package.id
    );
    let whole_sig = key.sign(
        BufReader::new(File::open(out).map_err(|e| write_err(out, &e))?),
        &file_comment,
        "iupack package file signature",
    )?;
    fsutil::atomic_write(sig_path, whole_sig.as_bytes()).map_err(|e| write_err(sig_path, &e))?;
    let (size, sha) = hash_reader(BufReader::new(
        File::open(out).map_err(|e| write_err(out, &e))?,
    ))
    .map_err(|e| write_err(out, &e))?;
    update_sums(out, &sha)?;
    pb.finish_with_message(format!("{} and SHA256SUMS", file_name(sig_path)));
    Ok((size, sha))
}

fn write_err(path: &Path, e: &std::io::Error) -> Error {
    Error::other(format!("cannot write {}: {e}", path.display()))
        .hint("check free space and write permission in the output folder")
}

fn set_executable(f: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o755))?;
    }
    #[cfg(not(unix))]
    let _ = f;
    Ok(())
}

/// Adds or replaces this package's line in `SHA256SUMS` beside it (`sha256sum -c` format).
fn update_sums(pkg: &Path, sha: &str) -> Result<(), Error> {
    let name = file_name(pkg);
    edit_sums(&fsutil::parent_of(pkg), &[&name], Some((sha, &name)))
}

/// Rewrites `dir/SHA256SUMS` without the lines of the files named in `drop`, and with the line
/// `add` (sha, name) at the end.
pub fn edit_sums(dir: &Path, drop: &[&str], add: Option<(&str, &str)>) -> Result<(), Error> {
    let sums = dir.join("SHA256SUMS");
    let old = fs::read_to_string(&sums).unwrap_or_default();
    let mut text: String = old
        .lines()
        .filter(|l| l.split_once("  ").is_none_or(|(_, n)| !drop.contains(&n)))
        .map(|l| format!("{l}\n"))
        .collect();
    if let Some((sha, name)) = add {
        text.push_str(&format!("{sha}  {name}\n"));
    }
    fsutil::atomic_write(&sums, text.as_bytes()).map_err(|e| write_err(&sums, &e))
}
