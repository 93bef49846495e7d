//! The content codecs a package's payload is coded with, beyond what the ZIP reader does itself:
//! the solid tar stream of full content, the tree stream of whole-tree deltas, and the
//! `bsdiff-lzma` patch format, and (builder only) the multi-block `.xz` writer its layout 2 needs.
//! Each decodes bytes it is given into bytes, capped and checked; none touches the machine.

pub mod bsdx;
pub mod tarstream;
pub mod treestream;
#[cfg(feature = "write")]
pub mod xzblocks;
#[cfg(feature = "exe-delta")]
pub mod zucchini;
