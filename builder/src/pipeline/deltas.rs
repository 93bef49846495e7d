//! The deltas of one component: for each earlier release the spec lists, its content read and
//! the patch from it to the new content made with the codec and zstd level asked for (or taken,
//! proven, from the delta cache). Owns the
//! delta part of the package; never decides about full content and never writes the package.

use crate::content::{self, Content};
use crate::spec::ComponentSpec;
use indicatif::ProgressBar;
use iupack_stub::format::manifest::Delta;
use iupack_stub::format::write::{self, PackageEntry};
use iupack_stub::Error;
use std::path::Path;

/// The deltas of `c` (new content `content`, earlier releases' content relative to `base`) made
/// as `how` says, their entries appended to `entries`; `payload` grows by the bytes they carry.
pub fn component(
    how: &write::DeltaOptions<'_>,
    c: &ComponentSpec,
    content: &Content,
    base: &Path,
    entries: &mut Vec<PackageEntry>,
    payload: &mut u64,
    pb: &ProgressBar,
) -> Result<Vec<Delta>, Error> {
    let mut built = Vec::new();
    for d in &c.deltas {
        pb.set_message(format!("{} from {}", c.name, d.version));
        let old = content::load(&base.join(&d.content), d.strip_components)?;
        let bd = write::best_delta(
            &c.name,
            &d.version,
            &old.files,
            &content.files,
            how,
        )
        .map_err(|e| {
            Error::other(format!(
                "cannot make the delta of {} from {}: {e}",
                c.name, d.version
            ))
            .hint("check that both releases' content is readable; --delta-codec file needs less memory than tree")
        })?;
        entries.extend(bd.entries);
        *payload += bd.delta.payload_size();
        built.push(bd.delta);
        pb.inc(1);
    }
    Ok(built)
}
