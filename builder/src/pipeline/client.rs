//! The client tool a package carries (`--with-client`, and `publish`'s and `plan`'s
//! self-extracting full packages; issue 23): finds the `iupack-stub` built for the target (as
//! [`super::heads`] finds heads, or the file given), checks that it is the client tool (feature
//! mark `client`) and which version it says it is (its version mark, what its `--version`
//! prints), and makes it the component `iupack-client`: full content only, one file named as on
//! the target, mode 0755, signed like any other. Never builds the binary.

use crate::spec::ComponentSpec;
use iupack_stub::format::manifest::{client_file_name, CLIENT_COMPONENT};
use iupack_stub::format::version::Version;
use iupack_stub::platform::fsutil;
use iupack_stub::Error;
use std::path::{Path, PathBuf};

/// The client tool as a component, with the temp folder holding its one file (kept for the
/// build).
pub struct ClientContent {
    pub component: ComponentSpec,
    pub _dir: tempfile::TempDir,
}

/// Where the client tool for `target` may be: `stubs/T/iupack-stub[.exe]` beside this program
/// or in the cargo target folder above it (stub/build-targets.sh puts the shipped ones there),
/// then, unless `shipped` only, for this machine's own platform the one beside this program and
/// in the cargo target folder's `stub/` and `release/` (development builds).
fn candidates(target: &str, shipped: bool) -> Vec<PathBuf> {
    let name = client_file_name(target);
    let Ok(exe) = std::env::current_exe() else {
        return Vec::new();
    };
    let dir = fsutil::parent_of(&exe);
    let mut out: Vec<PathBuf> = [Some(dir.as_path()), dir.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join("stubs").join(target).join(name))
        .collect();
    // Beside an installed iupack (not in a cargo target folder, which has CACHEDIR.TAG).
    let in_cargo = dir
        .parent()
        .is_some_and(|t| t.join("CACHEDIR.TAG").is_file());
    if target == iupack_stub::this_platform() && (!shipped || !in_cargo) {
        out.push(dir.join(name));
    }
    if target == iupack_stub::this_platform() && !shipped {
        if let Some(t) = dir.parent() {
            out.extend(["stub", "release"].map(|p| t.join(p).join(name)));
        }
    }
    out
}

/// The shipped client tool for `target`, if one is where stub/build-targets.sh puts it (or
/// beside an installed iupack): what `publish` and `plan` carry by default.
pub fn shipped(target: &str) -> Option<PathBuf> {
    candidates(target, true).into_iter().find(|p| p.is_file())
}

/// Reads the client tool (`given`, or found for `target`) and makes it the `iupack-client`
/// component.
pub fn content(given: Option<&Path>, target: &str) -> Result<ClientContent, Error> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => candidates(target, false)
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Error::usage(format!("no client tool (iupack-stub) for {target} found to carry"))
                    .hint(format!(
                        "build it with `bash stub/build-targets.sh {target}` (it lands in target/stubs/{target}/), or name it: --with-client PATH"
                    ))
            })?,
    };
    let shown = path.display();
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::usage(format!("cannot read the client tool {shown}: {e}")))?;
    // A program for the target (PE for Windows, ELF elsewhere), as a head must be.
    super::heads::check_format(&bytes, &path, target)?;
    let features = iupack_stub::stub_features(&bytes).unwrap_or_default();
    if !features.iter().any(|f| f == "client") {
        return Err(Error::usage(format!(
            "{shown} is not the client tool: it has no client commands (a package head?)"
        ))
        .hint("give the full iupack-stub (stubs/T/iupack-stub), not iupack-head"));
    }
    let version = iupack_stub::stub_version(&bytes)
        .and_then(|v| Version::parse(&v).ok())
        .ok_or_else(|| {
            Error::usage(format!(
                "{shown} does not say which version it is (no version mark)"
            ))
            .hint(
                "build the client tool from this source: cargo build --profile stub -p iupack-stub",
            )
        })?;
    let dir = tempfile::Builder::new()
        .prefix("iupack-client-")
        .tempdir()
        .map_err(|e| Error::other(format!("cannot make a temp folder: {e}")))?;
    let file = dir.path().join(client_file_name(target));
    std::fs::write(&file, &bytes)
        .and_then(|()| fsutil::set_mode(&file, 0o755))
        .map_err(|e| Error::other(format!("cannot copy the client tool: {e}")))?;
    Ok(ClientContent {
        component: ComponentSpec {
            name: CLIENT_COMPONENT.into(),
            version,
            content: dir.path().to_path_buf(),
            strip_components: 0,
            full: true,
            requires: Default::default(),
            floor: None,
            deltas: Vec::new(),
        },
        _dir: dir,
    })
}
