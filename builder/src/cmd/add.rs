//! `iupack add`: import a vendor drop into the release store (see `store`), warning when the drop
//! is one top folder (a vendor's wrapper folder `--strip-components` should have dropped).
//! Parses and prints only; the store does the work.

use crate::store::Store;
use iupack_stub::format::version::Version;
use iupack_stub::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The release store folder (made if missing).
    store: PathBuf,
    /// The product id, as the inventories name it.
    product: String,
    /// The component (engine, definitions, ...).
    component: String,
    /// The release's version as the vendor writes it (3.7.71, 2026.11.24.1, 2025a, 0.5.8-rc1).
    version: String,
    /// The release content: a folder, .zip, .tar or .tar.gz.
    content: PathBuf,
    /// Leading path components to drop from archive entries (a vendor archive's top folder).
    #[arg(long, value_name = "N", default_value_t = 0)]
    strip_components: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A version whose place in the order (docs/design.md §4) may not be what the vendor meant:
/// `2.3.1-2` is a pre-release of 2.3.1 (older), not Debian's later revision, and one that starts
/// with a letter (`beta1`) sorts after every numeric version. Said at import, where it can still
/// be fixed (`iupack remove`), never later as a downgrade on a machine.
fn version_surprise(text: &str) -> Option<String> {
    let plain = text.trim_start_matches(['v', 'V']);
    if let Some((base, rev)) = plain.rsplit_once('-') {
        if !rev.is_empty() && rev.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!(
                "`{text}` sorts as a pre-release of {base}, before it; if it is a later build of \
                 {base}, add it as {base}+{rev} or {base}.{rev} instead"
            ));
        }
    }
    plain
        .starts_with(|c: char| c.is_ascii_alphabetic())
        .then(|| format!("`{text}` starts with a letter, so it sorts after every version that starts with a digit"))
}

/// The version on the command line, or a usage error saying what a version is.
pub fn parse_version(text: &str) -> Result<Version, Error> {
    Version::parse(text).map_err(|e| {
        Error::usage(e).hint("give the vendor's version; mark a pre-release with - or ~ (1.2-rc1)")
    })
}

pub fn run(a: Args) -> Result<(), Error> {
    let version = parse_version(&a.version)?;
    let store = Store::new(&a.store);
    let added = store.add(
        &a.product,
        &a.component,
        &version,
        &a.content,
        a.strip_components,
    )?;
    let (p, c, s) = (&a.product, &a.component, a.store.display());
    let mut warnings: Vec<String> = version_surprise(&a.version).into_iter().collect();
    warnings.extend(added.top_folder.iter()
        .map(|top| {
            let again = if a.content.is_dir() {
                format!(
                    "with CONTENT the folder inside ({})",
                    a.content.join(top).display()
                )
            } else {
                format!("with --strip-components {}", a.strip_components + 1)
            };
            format!(
                "every file of this drop is under one folder, `{top}/`, so the release holds \
                 {s}/{p}/{c}/{version}/{top}/...; if that folder is the vendor's wrapper, run `iupack remove {s} {p} {c} {version}` and add it again {again}"
            )
        }));
    for w in &warnings {
        crate::err_line(&format!(
            "iupack: warning: {}",
            iupack_stub::apply::report::shown(w)
        ));
    }
    if a.json {
        super::print_json(&serde_json::json!({
            "store": a.store.display().to_string(),
            "product": p,
            "component": c,
            "version": version.to_string(),
            "result": if added.new { "added" } else { "already-there" },
            "files": added.files,
            "bytes": added.bytes,
            "tree": added.tree,
            "warnings": warnings,
        }));
    } else if added.new {
        say!(
            "added {p} {c} {version} to {s}: {} files, {} bytes, tree {}",
            added.files,
            added.bytes,
            added.tree
        );
    } else {
        say!(
            "{p} {c} {version} is already in {s} with the same content (tree {}); nothing to do",
            added.tree
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::version_surprise;

    #[test]
    fn versions_whose_order_may_surprise_are_named_at_import() {
        for (v, surprise) in [
            ("2.3.1-2", true),
            ("v0.5.8-3", true),
            ("beta1", true),
            ("0.5.8-rc1", false),
            ("v0.5.8", false),
            ("2025a", false),
            ("3.7.71", false),
            ("1.0+build5", false),
        ] {
            assert_eq!(version_surprise(v).is_some(), surprise, "{v}");
        }
    }
}
