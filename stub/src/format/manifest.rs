//! The manifest (format 1, docs/design.md §3): the signed statement of what a package carries.
//!
//! Parsing is strict: unknown fields, unknown formats, bad names, unsafe paths, duplicate or
//! colliding paths, odd modes and a `tree` that does not match the listed files are all refused.
//! Only bytes whose signature has been verified are ever parsed into a `Manifest` for use.

use crate::format::codecs::treestream::MAX_TREE_BYTES;
use crate::format::digest::{is_sha256_hex, tree_digest, TreeLine};
use crate::format::relpath::{check_tree_paths, RelPath};
use crate::format::version::{Version, VersionReq};
use crate::json::sorted::SortedMap;
use crate::json::{self, object, FromJson, JsonError, ToJson, Value};

/// The manifest format the builder writes. Format 2 (issue 21) names delta entries by their
/// place in the manifest (`d/N`, see [`Manifest::number_entries`]) instead of by component,
/// base version and path (format 1, still read by the client tool), and puts the manifest and
/// its signature in one entry: 300-400 bytes less around a daily delta's patch.
pub const FORMAT: u32 = 2;
/// The largest manifest accepted, checked before it is read.
pub const MAX_MANIFEST_BYTES: u64 = 32 << 20;
/// The largest file a per-file patch may rebuild, and the largest patch (2 GiB, zstd's widest
/// window): the patch decoders hold the old file, and `bsdiff-lzma` the new one's streams, in
/// memory.
pub const MAX_PATCHED_BYTES: u64 = 1 << 31;
/// ZIP entry names of the manifest and its signature.
pub const MANIFEST_ENTRY: &str = "iupack/manifest.json";
pub const SIGNATURE_ENTRY: &str = "iupack/manifest.json.minisig";
/// File modes a package may set: plain and executable.
pub const MODE_FILE: u32 = 0o644;
pub const MODE_EXEC: u32 = 0o755;

/// The component that carries the client tool (issue 23): full content only, one file named
/// [`client_file_name`] for the package's platform. Its version is the client tool's. A stub
/// never installs it as a product's component (`apply::client_tool` does, into the place the
/// inventory's `client` names); older stubs see an unconfigured component and leave it.
pub const CLIENT_COMPONENT: &str = "iupack-client";

/// The client tool's file name on `platform` (`iupack-stub`, `iupack-stub.exe`).
pub fn client_file_name(platform: &str) -> &'static str {
    if platform.starts_with("windows-") {
        "iupack-stub.exe"
    } else {
        "iupack-stub"
    }
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub format: u32,
    pub package: PackageInfo,
    pub product: String,
    pub targets: Targets,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone)]
pub struct PackageInfo {
    pub id: String,
    pub created: String,
    /// The release this package is, for people and the trusted comment.
    pub version: Option<Version>,
    /// The executable head the package was built with: the bytes before the ZIP. Binding it
    /// into the signed manifest lets `iupack verify` prove the code that runs, not only the data.
    /// `None` exactly when the package is `bare`.
    pub stub: Option<StubInfo>,
    /// A bare package (`PKG.iup`): no head (only the bare guard before the ZIP,
    /// `package::BARE_GUARD`), and only the installed client tool applies it. Signed, so no head
    /// can be put in front of it (nor a self-extracting package's head taken off) without signing
    /// again.
    pub bare: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubInfo {
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct Targets {
    pub product_versions: VersionReq,
    pub platforms: Vec<String>,
    pub languages: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub version: Version,
    pub requires: SortedMap<VersionReq>,
    pub tree: String,
    /// The security floor: once a machine has seen this package, it never installs a version of
    /// this component below `floor` again, not even with `--allow-downgrade`.
    pub floor: Option<Version>,
    /// Full content; `None` when the package carries no full content for this component.
    pub full: Option<Vec<FileEntry>>,
    /// Full content as one compressed tar stream of the `full` files, in their order (see
    /// `tarstream`), instead of one ZIP entry per file.
    pub full_archive: Option<FullArchive>,
    /// Differential content, one entry per earlier version this package can update from.
    pub deltas: Vec<Delta>,
}

/// Solid full content: the ZIP entry `full/COMPONENT.CODEC` (stored) holds the tar stream of the
/// component's `full` files compressed whole by `codec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullArchive {
    /// `tar.zst` (zstd) or `tar.xz` (xz: LZMA2, with the x86 branch filter for programs).
    pub codec: String,
    /// Size and SHA-256 of the stored entry.
    pub size: u64,
    pub sha256: String,
}

/// Full-content archive codecs this stub reads.
pub const ARCHIVE_TAR_ZST: &str = "tar.zst";
pub const ARCHIVE_TAR_XZ: &str = "tar.xz";

/// Per-file patches: each `patch` file is a zstd frame made with the old file as a raw prefix,
/// unless the file names another patch format in its own `codec`.
pub const CODEC_ZSTD_PREFIX: &str = "zstd-prefix";
/// A per-file patch format: bsdiff's approximate matches, streams coded by LZMA (see `bsdx`).
pub const CODEC_BSDIFF_LZMA: &str = "bsdiff-lzma";
/// A per-file patch format: a Zucchini patch (executable-aware: references in ELF x86-64 code
/// corrected as code moves), coded as one `.xz` stream (see `codecs::zucchini`).
pub const CODEC_ZUCCHINI_XZ: &str = "zucchini-xz";
/// A per-file patch format: as `zucchini-xz`, between the files with their ELF tables
/// normalised (`codecs::zucchini::elfnorm`): the stub normalises the old file, applies the
/// patch, and turns the result back.
pub const CODEC_ZUCCHINI_NORM_XZ: &str = "zucchini-norm-xz";
/// One patch for the whole tree: a zstd frame of the new tree stream made with the base tree
/// stream as a raw prefix (see `treestream`); `files` is empty.
pub const CODEC_ZSTD_TREE: &str = "zstd-tree";
/// One patch for the whole tree in the `bsdiff-lzma` format, base tree stream to new tree stream:
/// the whole-tree patch a head without the zstd decoder reads. Fields as `zstd-tree`.
pub const CODEC_BSDIFF_TREE: &str = "bsdiff-lzma-tree";

/// How to turn exactly the tree `from_tree` (version `from`) into this component's `tree`.
/// Files not listed are kept as they are.
#[derive(Debug, Clone)]
pub struct Delta {
    pub from: Version,
    pub from_tree: String,
    /// The patch format of `patch` files: `zstd-prefix` (a zstd frame made with the old file as
    /// a raw prefix).
    pub codec: String,
    pub files: Vec<DeltaFile>,
    /// `zstd-tree`: the stored patch (size and SHA-256) and the size of the new tree stream.
    pub patch_size: Option<u64>,
    pub patch_sha256: Option<String>,
    pub stream_size: Option<u64>,
    /// Format 2: the number of the whole-tree patch's entry (`d/N`); not in the JSON.
    pub entry: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaOp {
    /// New bytes, carried whole.
    Add,
    /// New bytes made from the old file and a patch.
    Patch,
    /// The file is gone in the new version.
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaFile {
    pub path: RelPath,
    pub op: DeltaOp,
    /// `patch`: the old file this patch applies to.
    pub from_sha256: Option<String>,
    /// `patch`: the size of the stored patch.
    pub patch_size: Option<u64>,
    /// `patch`: its format when it is not the delta's (`bsdiff-lzma`).
    pub codec: Option<String>,
    /// `add` and `patch`: the new file.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub mode: Option<u32>,
    /// Format 2: the number of this file's entry (`d/N`); not in the JSON.
    pub entry: Option<u32>,
}

impl DeltaFile {
    /// The new file's entry, for `add` and `patch`.
    pub fn new_entry(&self) -> Option<FileEntry> {
        Some(FileEntry {
            path: self.path.clone(),
            size: self.size?,
            sha256: self.sha256.clone()?,
            mode: self.mode?,
        })
    }
}

impl Delta {
    /// True for a whole-tree patch (`zstd-tree`, `bsdiff-lzma-tree`): one patch entry, no files.
    pub fn is_tree(&self) -> bool {
        self.codec == CODEC_ZSTD_TREE || self.codec == CODEC_BSDIFF_TREE
    }

    /// True when applying this delta decodes zstd data (a `zstd-tree` patch, or any file patch
    /// in the delta's default `zstd-prefix` format).
    pub fn needs_zstd(&self) -> bool {
        self.codec == CODEC_ZSTD_TREE
            || self
                .files
                .iter()
                .any(|f| f.op == DeltaOp::Patch && f.codec.is_none())
    }

    /// True when some file patch of the delta is `zucchini-xz` (a head needs the `exe-delta`
    /// feature to apply it).
    pub fn needs_exe(&self) -> bool {
        self.files.iter().any(|f| {
            matches!(
                f.codec.as_deref(),
                Some(CODEC_ZUCCHINI_XZ | CODEC_ZUCCHINI_NORM_XZ)
            )
        })
    }

    /// True when this stub can apply every patch of the delta.
    pub fn is_supported(&self) -> bool {
        let file_codec = |c: Option<&str>| match c {
            None => true,
            Some(CODEC_BSDIFF_LZMA) => true,
            Some(CODEC_ZUCCHINI_XZ | CODEC_ZUCCHINI_NORM_XZ) => cfg!(feature = "exe-delta"),
            Some(_) => false,
        };
        let known = match self.codec.as_str() {
            CODEC_ZSTD_TREE | CODEC_BSDIFF_TREE => true,
            CODEC_ZSTD_PREFIX => self.files.iter().all(|f| file_codec(f.codec.as_deref())),
            _ => false,
        };
        // A stub without the zstd decoder (a small head) can't apply zstd patches.
        known && (cfg!(feature = "zstd") || !self.needs_zstd())
    }

    /// One line for people: the codec, what changes, and the bytes carried.
    pub fn describe(&self) -> String {
        if self.is_tree() {
            return format!("whole-tree patch, {} bytes", self.payload_size());
        }
        let count = |op| self.files.iter().filter(|f| f.op == op).count();
        format!(
            "{} patched, {} added, {} removed, {} bytes",
            count(DeltaOp::Patch),
            count(DeltaOp::Add),
            count(DeltaOp::Remove),
            self.payload_size()
        )
    }

    /// Bytes this route reads from the package (patches and added files).
    pub fn payload_size(&self) -> u64 {
        self.files
            .iter()
            .map(|f| match f.op {
                DeltaOp::Add => f.size,
                DeltaOp::Patch => f.patch_size,
                DeltaOp::Remove => None,
            })
            .chain([self.patch_size])
            .fold(0, |t, n| t.saturating_add(n.unwrap_or(0)))
    }

    /// The result of applying this delta to `base` (the files of `from_tree`), or why it can't be.
    /// The result is checked to be a valid tree that hashes to `tree`.
    pub fn result_of(&self, base: &[FileEntry], tree: &str) -> Result<Vec<FileEntry>, String> {
        // The base by path; each delta path is listed once (validate_delta).
        let mut by_path: Vec<(&str, &FileEntry, bool)> =
            base.iter().map(|f| (f.path.as_str(), f, false)).collect();
        by_path.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut result: Vec<FileEntry> = Vec::new();
        for f in &self.files {
            let old = match by_path.binary_search_by(|b| b.0.cmp(f.path.as_str())) {
                Ok(i) => {
                    by_path[i].2 = true; // replaced or removed
                    Some(by_path[i].1)
                }
                Err(_) => None,
            };
            match (f.op, old) {
                (DeltaOp::Remove | DeltaOp::Patch, None) => {
                    return Err(format!("{} is not in the base", f.path))
                }
                (DeltaOp::Patch, Some(o)) if f.from_sha256.as_deref() != Some(&o.sha256) => {
                    return Err(format!(
                        "{} in the base is not the file the patch is for",
                        f.path
                    ))
                }
                _ => {}
            }
            if f.op != DeltaOp::Remove {
                let e = f
                    .new_entry()
                    .ok_or_else(|| format!("{}: incomplete entry", f.path))?;
                result.push(e);
            }
        }
        result.extend(by_path.iter().filter(|b| !b.2).map(|b| b.1.clone()));
        result.sort_unstable_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        check_tree_paths(result.iter().map(|f| &f.path))?;
        if files_tree(&result) != tree {
            return Err("the delta does not lead to the declared tree".into());
        }
        Ok(result)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub path: RelPath,
    pub size: u64,
    pub sha256: String,
    pub mode: u32,
}

object!(Manifest, deny, { format: req, package: req, product: req, targets: req, components: req });
object!(PackageInfo, deny, { id: req, created: req, version: opt, stub: opt, bare: flag });
object!(StubInfo, deny, { size: req, sha256: req });
object!(Targets, deny, { product_versions: req, platforms: req, languages: req });
object!(Component, deny, {
    name: req, version: req, requires: list, tree: req, floor: opt, full: opt, full_archive: opt,
    deltas: list,
});
object!(FullArchive, deny, { codec: req, size: req, sha256: req });
object!(Delta, deny, {
    from: req, from_tree: req, codec: req, files: list, patch_size: opt, patch_sha256: opt,
    stream_size: opt, entry: skip,
});
object!(DeltaFile, deny, {
    path: req, op: req, from_sha256: opt, patch_size: opt, codec: opt, sha256: opt, size: opt,
    mode: opt, entry: skip,
});
object!(FileEntry, deny, { path: req, size: req, sha256: req, mode: req });

impl FromJson for DeltaOp {
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        match v.as_str() {
            Some("add") => Ok(DeltaOp::Add),
            Some("patch") => Ok(DeltaOp::Patch),
            Some("remove") => Ok(DeltaOp::Remove),
            _ => Err(JsonError::new("expected add, patch or remove")),
        }
    }
}

impl ToJson for DeltaOp {
    fn to_json(&self) -> Value {
        match self {
            DeltaOp::Add => "add",
            DeltaOp::Patch => "patch",
            DeltaOp::Remove => "remove",
        }
        .to_json()
    }
}

impl FileEntry {
    pub fn tree_line(&self) -> TreeLine<'_> {
        TreeLine {
            path: self.path.as_str(),
            mode: self.mode,
            size: self.size,
            sha256: &self.sha256,
        }
    }
}

/// A format-2 delta entry's name.
fn numbered(n: u32) -> String {
    format!("d/{n}")
}

impl Component {
    /// The ZIP entry holding one file's full content.
    pub fn full_entry_name(&self, path: &RelPath) -> String {
        format!("full/{}/{}", self.name, path)
    }

    /// The ZIP entry holding the whole-tree patch (`zstd-tree`, `bsdiff-lzma-tree`) of delta `d`.
    pub fn tree_delta_entry_name(&self, d: &Delta) -> String {
        match d.entry {
            Some(n) => numbered(n),
            None if crate::READS_FORMAT_1 => format!("delta/{}/{}.tree.zst", self.name, d.from),
            None => String::new(), // format 1, never parsed by a head
        }
    }

    /// The ZIP entry holding one file's patch or added bytes in delta `d`.
    pub fn delta_entry_name(&self, d: &Delta, f: &DeltaFile) -> String {
        match f.entry {
            Some(n) => numbered(n),
            None if crate::READS_FORMAT_1 => format!("delta/{}/{}/{}", self.name, d.from, f.path),
            None => String::new(), // format 1, never parsed by a head
        }
    }

    /// The ZIP entry holding the solid full content, when the package has one.
    pub fn full_archive_entry_name(&self) -> Option<String> {
        let a = self.full_archive.as_ref()?;
        Some(format!("full/{}.{}", self.name, a.codec))
    }

    /// Bytes the full-content route reads from the package: the solid archive, or every file.
    pub fn full_payload(&self) -> u64 {
        self.full_archive
            .as_ref()
            .map_or_else(|| self.full_size(), |a| a.size)
    }

    /// Total bytes of full content.
    pub fn full_size(&self) -> u64 {
        self.full
            .as_ref()
            .map_or(0, |f| f.iter().fold(0, |t, e| t.saturating_add(e.size)))
    }
}

/// What `is_valid_name` accepts, for messages.
pub const NAME_RULE: &str = "lowercase letters, digits, `.`, `_`, `-`, starting with a letter or \
    digit, not ending in `.` and not a Windows device name such as con, nul or com1";

/// True for a product or component name: lowercase ASCII letters, digits, `.`, `_`, `-`, at most
/// 64 characters, starting with a letter or digit, and a safe file name on every platform
/// (`RelPath`: names become folders, in the release store and a share, on any system).
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && RelPath::parse(s).is_ok()
}

/// The tree digest of a list of files.
pub fn files_tree(files: &[FileEntry]) -> String {
    tree_digest(files.iter().map(FileEntry::tree_line))
}

/// True when some delta of a package with these components has `zucchini-xz` patches, so its
/// head needs the `exe-delta` feature.
pub fn needs_exe(components: &[Component]) -> bool {
    components
        .iter()
        .any(|c| c.deltas.iter().any(Delta::needs_exe))
}

/// True when some content of a package with these components is zstd data, so its head needs
/// the zstd decoder (the builder picks the smaller head without it otherwise).
pub fn needs_zstd(components: &[Component]) -> bool {
    components.iter().any(|c| {
        c.full_archive
            .as_ref()
            .is_some_and(|a| a.codec == ARCHIVE_TAR_ZST)
            || c.deltas.iter().any(Delta::needs_zstd)
    })
}

impl Manifest {
    /// Parses and validates manifest bytes.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let v = json::parse(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let format = v.at("format");
        let oldest = if crate::READS_FORMAT_1 { 1 } else { FORMAT };
        if !format
            .as_u64()
            .is_some_and(|f| (oldest.into()..=FORMAT.into()).contains(&f))
        {
            return Err(format!(
                "manifest format {} is not supported by this iupack-stub (it reads formats 1 and {FORMAT}): apply it with a newer iupack-stub",
                format.to_compact()
            ));
        }
        let mut m = Manifest::from_json(&v).map_err(|e| e.to_string())?;
        m.validate()?;
        m.number_entries();
        Ok(m)
    }

    /// The names of the deltas' ZIP entries, in the order [`Manifest::number_entries`] numbers
    /// them: the builder makes the entries under their format-1 names, then renames them.
    pub fn delta_entry_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for c in &self.components {
            for d in &c.deltas {
                if d.patch_size.is_some() {
                    names.push(c.tree_delta_entry_name(d));
                }
                for f in d.files.iter().filter(|f| f.op != DeltaOp::Remove) {
                    names.push(c.delta_entry_name(d, f));
                }
            }
        }
        names
    }

    /// Format 2: numbers the ZIP entries of the deltas in manifest order (per component, per
    /// delta, its whole-tree patch or each added or patched file), from 0; their entries are
    /// `d/N`. Format 1 names them by path (see [`Component::delta_entry_name`]).
    pub fn number_entries(&mut self) {
        if self.format < 2 {
            return;
        }
        let mut n = 0;
        let mut next = || {
            n += 1;
            Some(n - 1)
        };
        for c in &mut self.components {
            for d in &mut c.deltas {
                if d.patch_size.is_some() {
                    d.entry = next();
                }
                for f in d.files.iter_mut().filter(|f| f.op != DeltaOp::Remove) {
                    f.entry = next();
                }
            }
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Compact: a daily delta's whole manifest is a few hundred bytes, and indentation is
        // ~60 of them even deflated (`iupack inspect --json` shows it laid out).
        ToJson::to_json(self).to_compact().into_bytes()
    }

    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// Every rule a manifest must meet beyond its shape.
    pub fn validate(&self) -> Result<(), String> {
        if !is_valid_name(&self.product) {
            return Err(format!("product name `{}` is not valid", self.product));
        }
        if self.package.id.is_empty()
            || self.package.id.len() > 128
            || self
                .package
                .id
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err("package id must be 1 to 128 printable characters without spaces".into());
        }
        // A self-extracting package names its head (size and SHA-256); a bare one none.
        let named = self.package.stub.as_ref().map(|s| is_sha256_hex(&s.sha256));
        if named != (!self.package.bare).then_some(true) {
            return Err("package.stub must give the head's SHA-256, and only a package that is not bare has one".into());
        }
        if self.components.is_empty() {
            return Err("the package has no components".into());
        }
        if let Some(name) =
            json::sorted::repeated(self.components.iter().map(|c| &c.name).collect())
        {
            return Err(format!("component `{name}` is listed twice"));
        }
        for c in &self.components {
            if !is_valid_name(&c.name) {
                return Err(format!("component name `{}` is not valid", c.name));
            }
            if !is_sha256_hex(&c.tree) {
                return Err(format!("component `{}`: tree is not a SHA-256", c.name));
            }
            if c.floor.as_ref().is_some_and(|f| *f > c.version) {
                return Err(format!(
                    "component `{}`: its security floor is above its own version",
                    c.name
                ));
            }
            for req in c.requires.keys() {
                if req != "product" && !is_valid_name(req) {
                    return Err(format!("component `{}` requires unknown `{req}`", c.name));
                }
            }
            if let Some(full) = &c.full {
                validate_files(&c.name, full)?;
                if files_tree(full) != c.tree {
                    return Err(format!(
                        "component `{}`: the listed files do not make the declared tree",
                        c.name
                    ));
                }
            } else if c.deltas.is_empty() {
                return Err(format!("component `{}` carries no content", c.name));
            }
            if let Some(a) = &c.full_archive {
                if c.full.is_none()
                    || !is_sha256_hex(&a.sha256)
                    || ![ARCHIVE_TAR_ZST, ARCHIVE_TAR_XZ].contains(&a.codec.as_str())
                {
                    return Err(format!(
                        "component `{}`: its full archive ({}) is not one this stub reads, or lacks its file list",
                        c.name, a.codec
                    ));
                }
                let max = crate::format::codecs::tarstream::MAX_FILE_BYTES;
                if let Some(f) = c.full.iter().flatten().find(|f| f.size > max) {
                    return Err(format!(
                        "{}/{}: {} bytes, more than the {max} its tar archive can hold",
                        c.name, f.path, f.size
                    ));
                }
            }
            if let Some(from) =
                json::sorted::repeated(c.deltas.iter().map(|d| d.from.to_string()).collect())
            {
                return Err(format!("component `{}`: two deltas from {from}", c.name));
            }
            for d in &c.deltas {
                validate_delta(&c.name, d)?;
            }
        }
        Ok(())
    }
}

fn validate_delta(component: &str, d: &Delta) -> Result<(), String> {
    let at = |p: &RelPath| format!("{component} delta from {}: {p}", d.from);
    if !is_sha256_hex(&d.from_tree) {
        return Err(format!(
            "{component} delta from {}: from_tree is not a SHA-256",
            d.from
        ));
    }
    let tree_fields = d.patch_size.is_some()
        && d.stream_size.is_some()
        && d.patch_sha256.as_deref().is_some_and(is_sha256_hex);
    let fits = match d.codec.as_str() {
        CODEC_ZSTD_TREE | CODEC_BSDIFF_TREE => tree_fields && d.files.is_empty(),
        CODEC_ZSTD_PREFIX => {
            d.patch_size.is_none() && d.patch_sha256.is_none() && d.stream_size.is_none()
        }
        // A codec this stub does not know: that route is not usable, the rest of the package is.
        _ => true,
    };
    if !fits {
        return Err(format!(
            "{component} delta from {}: the fields do not fit codec {}",
            d.from, d.codec
        ));
    }
    // What a known codec holds in memory is refused above its limit before anything is read.
    let too_large = |n: Option<u64>, max: u64, what: String| match n {
        Some(n) if n > max => Err(format!(
            "{what} declares {n} bytes, more than the {max} allowed"
        )),
        _ => Ok(()),
    };
    if d.is_tree() {
        let what = format!("{component} delta from {}: the whole-tree patch", d.from);
        too_large(d.patch_size, MAX_TREE_BYTES, what.clone())?;
        too_large(d.stream_size, MAX_TREE_BYTES, what)?;
    }
    for f in &d.files {
        let new_ok = match f.op {
            DeltaOp::Remove => {
                f.sha256.is_none()
                    && f.size.is_none()
                    && f.mode.is_none()
                    && f.from_sha256.is_none()
            }
            DeltaOp::Add | DeltaOp::Patch => f.new_entry().is_some_and(|e| {
                is_sha256_hex(&e.sha256) && (e.mode == MODE_FILE || e.mode == MODE_EXEC)
            }),
        };
        let patch_ok = match f.op {
            DeltaOp::Patch => {
                f.patch_size.is_some() && f.from_sha256.as_deref().is_some_and(is_sha256_hex)
            }
            _ => f.patch_size.is_none() && f.from_sha256.is_none() && f.codec.is_none(),
        };
        if !new_ok || !patch_ok {
            return Err(format!(
                "{}: the fields do not fit op {:?}",
                at(&f.path),
                f.op
            ));
        }
        if d.codec == CODEC_ZSTD_PREFIX && f.op == DeltaOp::Patch {
            too_large(f.size, MAX_PATCHED_BYTES, at(&f.path))?;
            too_large(f.patch_size, MAX_PATCHED_BYTES, at(&f.path))?;
        }
    }
    // Each path once; whether the result is a valid tree is checked against the base it applies to.
    match crate::format::relpath::case_twins(&crate::format::relpath::case_folded(
        d.files.iter().map(|f| &f.path),
    )) {
        Some((_, p)) => Err(format!("{}: listed twice", at(p))),
        None => Ok(()),
    }
}

fn validate_files(component: &str, files: &[FileEntry]) -> Result<(), String> {
    for f in files {
        if !is_sha256_hex(&f.sha256) {
            return Err(format!("{component}/{}: sha256 is not valid", f.path));
        }
        if f.mode != MODE_FILE && f.mode != MODE_EXEC {
            return Err(format!(
                "{component}/{}: mode {:o} is not allowed (only 644 and 755)",
                f.path, f.mode
            ));
        }
    }
    check_tree_paths(files.iter().map(|f| &f.path)).map_err(|e| format!("{component}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::digest::sha256_hex;

    fn sample() -> Manifest {
        let files = vec![FileEntry {
            path: RelPath::parse("bin/scan").expect("valid"),
            size: 3,
            sha256: sha256_hex(b"abc"),
            mode: MODE_EXEC,
        }];
        Manifest {
            format: FORMAT,
            package: PackageInfo {
                id: "acme-av-1".into(),
                created: "2026-11-24T00:00:00Z".into(),
                version: None,
                stub: Some(StubInfo {
                    size: 0,
                    sha256: sha256_hex(b""),
                }),
                bare: false,
            },
            product: "acme-av".into(),
            targets: Targets {
                product_versions: VersionReq::any(),
                platforms: vec!["*".into()],
                languages: vec!["*".into()],
            },
            components: vec![Component {
                name: "engine".into(),
                version: Version::parse("1.0").expect("valid"),
                requires: SortedMap::new(),
                tree: files_tree(&files),
                floor: None,
                full: Some(files),
                full_archive: None,
                deltas: vec![],
            }],
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        let again = Manifest::parse(&m.to_json()).expect("valid manifest");
        assert_eq!(again.to_json(), m.to_json());
    }

    #[test]
    fn refuses_wrong_tree_unknown_fields_and_formats() {
        let mut m = sample();
        m.components[0].tree = sha256_hex(b"other");
        assert!(Manifest::parse(&m.to_json())
            .expect_err("bad tree")
            .contains("tree"));

        let text = String::from_utf8(sample().to_json()).expect("utf8");
        assert!(text.starts_with("{\"format\":2,"), "{text}");
        let extra = text.replacen("\"format\":2,", "\"format\":2,\"surprise\":1,", 1);
        assert!(Manifest::parse(extra.as_bytes()).is_err());
        for (format, readable) in [(0, false), (1, true), (2, true), (3, false)] {
            let other = text.replacen("\"format\":2,", &format!("\"format\":{format},"), 1);
            let got = Manifest::parse(other.as_bytes());
            assert_eq!(got.is_ok(), readable, "format {format}");
            if let Err(e) = got {
                assert!(
                    e.contains(&format!("format {format} is not supported")),
                    "{e}"
                );
                assert!(e.contains("newer iupack-stub"), "{e}");
            }
        }
        let bare_and_stub = text.replacen("\"stub\":", "\"bare\":true,\"stub\":", 1);
        assert!(Manifest::parse(bare_and_stub.as_bytes()).is_err());
        let mut neither = sample();
        neither.package.stub = None;
        assert!(Manifest::parse(&neither.to_json()).is_err());
        neither.package.bare = true;
        assert!(Manifest::parse(&neither.to_json()).is_ok());
        let traversal = text.replacen("bin/scan", "../scan", 1);
        assert!(Manifest::parse(traversal.as_bytes())
            .expect_err("..")
            .contains("unsafe path"));
    }

    fn entry(path: &str, body: &[u8]) -> FileEntry {
        FileEntry {
            path: RelPath::parse(path).expect("valid"),
            size: body.len() as u64,
            sha256: sha256_hex(body),
            mode: MODE_FILE,
        }
    }

    fn op(path: &str, op: DeltaOp, old: Option<&[u8]>, new: Option<&[u8]>) -> DeltaFile {
        DeltaFile {
            path: RelPath::parse(path).expect("valid"),
            op,
            from_sha256: old.map(sha256_hex),
            patch_size: (op == DeltaOp::Patch).then_some(1),
            codec: None,
            sha256: new.map(sha256_hex),
            size: new.map(|b| b.len() as u64),
            mode: new.map(|_| MODE_FILE),
            entry: None,
        }
    }

    fn delta(files: Vec<DeltaFile>) -> Delta {
        Delta {
            from: Version::parse("1").expect("valid"),
            from_tree: sha256_hex(b"base"),
            codec: CODEC_ZSTD_PREFIX.into(),
            files,
            patch_size: None,
            patch_sha256: None,
            stream_size: None,
            entry: None,
        }
    }

    /// Format 2 numbers every delta entry in manifest order across components (a tree patch,
    /// then each added or patched file; removals have none); format 1 names them by path.
    #[test]
    fn format_2_numbers_delta_entries_in_manifest_order() {
        let mut m = sample();
        let mut files = delta(vec![
            op("a", DeltaOp::Patch, Some(b"1"), Some(b"2")),
            op("b", DeltaOp::Remove, None, None),
            op("c", DeltaOp::Add, None, Some(b"3")),
        ]);
        let mut tree = delta(Vec::new());
        tree.from = Version::parse("0.9").expect("valid");
        tree.patch_size = Some(5);
        m.components[0].deltas = vec![files.clone(), tree];
        let mut second = m.components[0].clone();
        second.name = "defs".into();
        files.files.truncate(1);
        second.deltas = vec![files];
        m.components.push(second);
        let names = |m: &Manifest| -> Vec<String> { m.delta_entry_names() };
        m.format = 1;
        m.number_entries();
        assert_eq!(
            names(&m),
            [
                "delta/engine/1/a",
                "delta/engine/1/c",
                "delta/engine/0.9.tree.zst",
                "delta/defs/1/a"
            ]
        );
        m.format = 2;
        m.number_entries();
        assert_eq!(names(&m), ["d/0", "d/1", "d/2", "d/3"]);
    }

    /// Kept, patched, replaced, added and removed files make the new tree in path order,
    /// whatever order the base and the delta list them in.
    #[test]
    fn a_delta_results_in_the_new_tree() {
        let base = vec![
            entry("z/kept", b"k"),
            entry("b", b"old b"),
            entry("gone", b"g"),
            entry("a", b"old a"),
        ];
        let d = delta(vec![
            op("new/file", DeltaOp::Add, None, Some(b"n")),
            op("gone", DeltaOp::Remove, None, None),
            op("b", DeltaOp::Patch, Some(b"old b"), Some(b"new b")),
            op("a", DeltaOp::Add, None, Some(b"new a")),
        ]);
        let want = vec![
            entry("a", b"new a"),
            entry("b", b"new b"),
            entry("new/file", b"n"),
            entry("z/kept", b"k"),
        ];
        assert_eq!(d.result_of(&base, &files_tree(&want)), Ok(want.clone()));
        assert!(d
            .result_of(&base, &files_tree(&base))
            .expect_err("other tree")
            .contains("does not lead to the declared tree"));

        let missing = delta(vec![op("nope", DeltaOp::Remove, None, None)]);
        assert_eq!(
            missing.result_of(&base, &files_tree(&base)),
            Err("nope is not in the base".to_string())
        );
        let other = delta(vec![op("b", DeltaOp::Patch, Some(b"x"), Some(b"y"))]);
        assert_eq!(
            other.result_of(&base, &files_tree(&base)),
            Err("b in the base is not the file the patch is for".to_string())
        );
        let folder = delta(vec![op("a/inner", DeltaOp::Add, None, Some(b"i"))]);
        assert!(folder
            .result_of(&base, &files_tree(&base))
            .expect_err("a is a file")
            .contains("is a file but"));
    }

    #[test]
    fn refuses_names_deltas_and_paths_listed_twice() {
        let mut m = sample();
        let mut twin = m.components[0].clone();
        twin.version = Version::parse("2.0").expect("valid");
        m.components.push(twin);
        assert_eq!(
            m.validate(),
            Err("component `engine` is listed twice".to_string())
        );

        let mut m = sample();
        let d = delta(vec![op("bin/x", DeltaOp::Add, None, Some(b"x"))]);
        m.components[0].deltas = vec![d.clone(), d];
        assert_eq!(
            m.validate(),
            Err("component `engine`: two deltas from 1".to_string())
        );

        let mut m = sample();
        m.components[0].deltas = vec![delta(vec![
            op("bin/X", DeltaOp::Add, None, Some(b"x")),
            op("bin/other", DeltaOp::Remove, None, None),
            op("bin/x", DeltaOp::Remove, None, None),
        ])];
        assert_eq!(
            m.validate(),
            Err("engine delta from 1: bin/x: listed twice".to_string())
        );
    }

    #[test]
    fn names_are_safe_folder_names_everywhere() {
        for ok in [
            "acme-av", "engine", "a.b", "con-fig", "com10", "nul_x", "lpt",
        ] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "", "Engine", "-a", "engine.", "con", "nul.x", "com1", "lpt9.d", "a b", "a~1",
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn refuses_setuid_modes() {
        let mut m = sample();
        if let Some(full) = m.components[0].full.as_mut() {
            full[0].mode = 0o4755;
        }
        m.components[0].tree = files_tree(m.components[0].full.as_deref().unwrap_or(&[]));
        assert!(Manifest::parse(&m.to_json())
            .expect_err("setuid")
            .contains("mode"));
    }

    /// Declared sizes no reader may be asked to hold, or that a tar header can't say, are refused
    /// when the manifest is parsed, naming the file; totals saturate instead of overflowing.
    #[test]
    fn refuses_sizes_beyond_the_limits() {
        let refused = |m: &Manifest, what: &str| {
            let err = Manifest::parse(&m.to_json()).expect_err(what);
            assert!(err.contains(what) && err.contains("more than"), "{err}");
        };
        let mut m = sample();
        let c = &mut m.components[0];
        c.full.as_mut().expect("full")[0].size = 1 << 33;
        c.tree = files_tree(c.full.as_deref().expect("full"));
        Manifest::parse(&m.to_json()).expect("a large file, one ZIP entry of its own");
        m.components[0].full_archive = Some(FullArchive {
            codec: ARCHIVE_TAR_ZST.into(),
            size: 100,
            sha256: sha256_hex(b""),
        });
        refused(&m, "engine/bin/scan");

        let mut m = sample();
        let mut big = op("bin/scan", DeltaOp::Patch, Some(b"abc"), Some(b"x"));
        big.size = Some(1 << 40);
        m.components[0].deltas = vec![delta(vec![big.clone()])];
        refused(&m, "bin/scan");
        big.size = Some(MAX_PATCHED_BYTES);
        big.patch_size = Some(u64::MAX);
        m.components[0].deltas = vec![delta(vec![big.clone()])];
        refused(&m, "bin/scan");
        big.patch_size = Some(125);
        m.components[0].deltas = vec![delta(vec![big])];
        Manifest::parse(&m.to_json()).expect("at the limit");

        let mut tree = delta(vec![]);
        tree.codec = CODEC_ZSTD_TREE.into();
        (tree.patch_size, tree.stream_size) = (Some(100), Some(u64::MAX));
        tree.patch_sha256 = Some(sha256_hex(b"patch"));
        m.components[0].deltas = vec![tree.clone()];
        refused(&m, "whole-tree patch");
        (tree.patch_size, tree.stream_size) = (Some(MAX_TREE_BYTES + 1), Some(100));
        m.components[0].deltas = vec![tree];
        refused(&m, "whole-tree patch");

        let mut add = op("a", DeltaOp::Add, None, Some(b"a"));
        add.size = Some(u64::MAX);
        let d = delta(vec![add.clone(), add]);
        assert_eq!(d.payload_size(), u64::MAX);
    }
}
