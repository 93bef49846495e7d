//! One module per subcommand, each with an `Args` struct and `run()`.

pub mod add;
pub mod build;
pub mod inspect;
pub mod keygen;
pub mod plan;
pub mod prune;
pub mod publish;
pub mod transition;
pub mod verify;

use iupack_stub::{platform::fsutil, Error};
use std::path::Path;

/// Refuses to replace an existing file unless `--force` was given.
pub fn check_overwrite(path: &Path, force: bool) -> Result<(), Error> {
    if !force && fsutil::exists(path) {
        return Err(Error::usage(format!("{} already exists", path.display()))
            .hint("choose another path, or pass --force to replace it"));
    }
    Ok(())
}
