//! The installed client tool's own commands (the stub with no payload attached, feature
//! `client`): `init PRODUCT VERSION` (sets up the inventory), `status` and `status --export`
//! (read only), `rollback PRODUCT COMPONENT`, `forget PRODUCT [--delete]`, `recover` and
//! `apply --from SHARE`. Each opens the machine through `machine::session` (lock, recover,
//! settle) where it may change anything; none prints (the binary does).

mod forget;
pub mod init;
mod rollback;
pub mod share;
mod status;

pub use forget::forget;
pub use init::{init, InitSpec};
pub use rollback::rollback;
pub use status::{export, status};

use crate::apply::report::Report;
use crate::error::{ExitCode, Result};
use crate::machine::session::{self, Access};
use crate::platform::fsutil::absolute;
use std::path::Path;
use std::time::Duration;

/// `recover`: finishes or undoes an update an earlier run left half done.
pub fn recover(inventory: &Path, wait: Duration, report: &mut Report) -> Result<ExitCode> {
    let inventory = absolute(inventory);
    let session = session::open(&inventory, wait, Access::Change)?;
    let recovered = session.recovered.clone();
    report.result = "recovered".into();
    report.message = match &recovered {
        Some(r) => r.clone(),
        None => "nothing to recover: no update was interrupted".into(),
    };
    report.recovered = recovered;
    Ok(ExitCode::Success)
}
