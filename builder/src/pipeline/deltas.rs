//! The deltas of one component: for each earlier release the spec lists, its content read and
//! the patch from it to the new content made with the codec and zstd level asked for (or taken,
//! proven, from the delta cache), once for each way the heads allow (issue 21, item 3: patches
//! the small head reads, and any); and which way ships: the one that makes the package smallest,
//! head included. Owns the delta part of the package; never decides about full content and
//! never writes the package.

use crate::content::{self, Content};
use crate::spec::ComponentSpec;
use indicatif::ProgressBar;
use iupack_stub::format::write::{self, BuiltDelta, PatchCodecs};
use iupack_stub::Error;
use std::path::Path;

/// The deltas of `c` (new content `content`, earlier releases' content relative to `base`) made
/// as `how` says, once per way in `ways` (the codecs, and the size of the head they need): per
/// way, one delta per earlier release.
pub fn component(
    how: &write::DeltaOptions<'_>,
    ways: &[(PatchCodecs, u64)],
    c: &ComponentSpec,
    content: &Content,
    base: &Path,
    pb: &ProgressBar,
) -> Result<Vec<Vec<BuiltDelta>>, Error> {
    let mut built: Vec<Vec<BuiltDelta>> = ways.iter().map(|_| Vec::new()).collect();
    for d in &c.deltas {
        pb.set_message(format!("{} from {}", c.name, d.version));
        let old = content::load(&base.join(&d.content), d.strip_components)?;
        for ((codecs, _), out) in ways.iter().zip(&mut built) {
            let how = write::DeltaOptions {
                codecs: *codecs,
                ..*how
            };
            let bd = write::best_delta(&c.name, &d.version, &old.files, &content.files, &how)
                .map_err(|e| {
                    Error::other(format!(
                        "cannot make the delta of {} from {}: {e}",
                        c.name, d.version
                    ))
                    .hint("check that both releases' content is readable; --delta-codec file needs less memory than tree")
                })?;
            out.push(bd);
            pb.inc(1);
        }
    }
    Ok(built)
}

/// Which of `ways` makes the smallest package: its deltas over every component (`built`, per
/// component as [`component`] made them) plus its head. On a tie the first (the small head).
pub fn cheapest(ways: &[(PatchCodecs, u64)], built: &[Vec<Vec<BuiltDelta>>]) -> usize {
    let cost = |w: usize| -> u64 {
        let deltas: u64 = built
            .iter()
            .flat_map(|per_way| &per_way[w])
            .map(write::delta_cost)
            .sum();
        deltas + ways[w].1
    };
    (0..ways.len()).min_by_key(|&w| cost(w)).unwrap_or(0)
}
