//! The build spec (docs/design.md §7): a TOML file naming the product, its targets and each component's
//! release content. Relative paths resolve against the spec's folder.
//! Reads and checks only; never builds.

use iupack_stub::format::manifest::{is_valid_name, NAME_RULE};
use iupack_stub::format::version::{Version, VersionReq};
use iupack_stub::Error;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub product: String,
    /// The release name of the package; default: see [`Spec::package_version`].
    #[serde(default)]
    pub version: Option<Version>,
    /// The package id; default: PRODUCT-VERSION-CREATED.
    #[serde(default)]
    pub id: Option<String>,
    pub targets: Targets,
    /// Key-transition statements (`iupack key-transition`) to carry, oldest first.
    #[serde(default)]
    pub key_transitions: Vec<PathBuf>,
    /// Components of the product this package does not carry, that `requires` may name (they
    /// are installed on the machines): any other name there is refused as a typo.
    #[serde(default)]
    pub other_components: Vec<String>,
    /// A store build (`Store::spec`, never a spec file): with several components and no
    /// `version`, the package is named after its build date (see [`Spec::package_version`]).
    #[serde(skip)]
    pub from_store: bool,
    pub components: Vec<ComponentSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(default = "VersionReq::any")]
    pub product_versions: VersionReq,
    #[serde(default = "any")]
    pub platforms: Vec<String>,
    #[serde(default = "any")]
    pub languages: Vec<String>,
}

fn any() -> Vec<String> {
    vec!["*".into()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    pub name: String,
    pub version: Version,
    /// A folder, `.zip`, `.tar` or `.tar.gz` holding the release.
    pub content: PathBuf,
    /// Leading path components to drop from archive entries (a vendor archive's top folder).
    #[serde(default)]
    pub strip_components: usize,
    #[serde(default = "yes")]
    pub full: bool,
    #[serde(default)]
    pub requires: BTreeMap<String, VersionReq>,
    /// The security floor: machines that see this package never go below this version again.
    #[serde(default)]
    pub floor: Option<Version>,
    /// Earlier releases to carry deltas from.
    #[serde(default)]
    pub deltas: Vec<DeltaSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaSpec {
    pub version: Version,
    pub content: PathBuf,
    #[serde(default)]
    pub strip_components: usize,
}

fn yes() -> bool {
    true
}

impl Spec {
    pub fn load(path: &Path) -> Result<(Spec, PathBuf), Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!("cannot read the spec {}: {e}", path.display()))
                .hint("check the spec file's path (see the build spec in the README)")
        })?;
        let spec: Spec = toml::from_str(&text).map_err(|e| {
            Error::usage(format!("the spec {} is not valid: {e}", path.display()))
                .hint("see the build spec format in the README")
        })?;
        spec.check(path)?;
        let base = iupack_stub::platform::fsutil::parent_of(path);
        Ok((spec, base))
    }

    pub fn check(&self, path: &Path) -> Result<(), Error> {
        let bad = |m: String| {
            Error::usage(format!("{}: {m}", path.display()))
                .hint("fix the spec (the build spec format is in the README), then build again")
        };
        if !is_valid_name(&self.product) {
            return Err(bad(format!(
                "product `{}` must be {NAME_RULE}",
                self.product
            )));
        }
        if self.components.is_empty() {
            return Err(bad("no [[components]]".into()));
        }
        for (what, list) in [
            ("platforms", &self.targets.platforms),
            ("languages", &self.targets.languages),
        ] {
            if list.is_empty() {
                return Err(bad(format!(
                    "[targets] {what} is empty: the package would fit no machine"
                ))
                .hint(format!(
                    "list the {what} it is for, or leave {what} out (any)"
                )));
            }
        }
        for p in &self.targets.platforms {
            check_platform(p)
                .map_err(|m| bad(format!("[targets] platforms: {m}")).hint(PLATFORM_HINT))?;
        }
        let mut names = std::collections::HashSet::new();
        for name in self
            .components
            .iter()
            .map(|c| &c.name)
            .chain(&self.other_components)
        {
            if !is_valid_name(name) {
                return Err(bad(format!("component `{name}` must be {NAME_RULE}")));
            }
            if name == iupack_stub::format::manifest::CLIENT_COMPONENT {
                return Err(bad(format!(
                    "`{name}` is the client tool's component: iupack build --with-client adds it"
                )));
            }
            if name == "product" {
                return Err(bad("`product` can't be a component's name: in `requires` it means the product's own version".into()));
            }
            if !names.insert(name.as_str()) {
                return Err(bad(format!("component `{name}` is listed twice")).hint(
                    "list each component once ([[components]] and other_components together)",
                ));
            }
        }
        for c in &self.components {
            for what in c.requires.keys() {
                if what == "product" || names.contains(what.as_str()) {
                    continue;
                }
                return Err(bad(format!(
                    "component `{}` requires `{what}`, which is neither `product` nor a component ({})",
                    c.name,
                    self.component_names().join(", ")
                ))
                .hint(format!(
                    "fix the name; if `{what}` is a component this package does not carry (installed on the machines), add it to other_components"
                )));
            }
        }
        if let Some(circle) = requires_circle(&self.components) {
            return Err(bad(format!(
                "the components {} require each other in a circle: no machine could install them",
                circle.join(" -> ")
            ))
            .hint(
                "drop one of these requires: what a component needs must be installable before it",
            ));
        }
        for c in &self.components {
            if !c.full && c.deltas.is_empty() {
                return Err(bad(format!(
                    "component `{}` has full = false and no [[components.deltas]]: it carries nothing",
                    c.name
                ))
                .hint("set full = true, or add deltas from earlier versions"));
            }
            if let Some(f) = c.floor.as_ref().filter(|f| **f > c.version) {
                return Err(bad(format!(
                    "component `{}` has floor {f}, above its own version {}",
                    c.name, c.version
                ))
                .hint("the floor is the lowest version machines may run after this package; it can't be above the version it brings"));
            }
            let mut seen = std::collections::HashSet::new();
            for d in &c.deltas {
                if d.version == c.version {
                    return Err(bad(format!(
                        "component `{}` has a delta from its own version {}",
                        c.name, d.version
                    )));
                }
                if !seen.insert(d.version.to_string()) {
                    return Err(bad(format!(
                        "component `{}` lists the delta from {} twice",
                        c.name, d.version
                    )));
                }
            }
        }
        Ok(())
    }

    /// The names `requires` may use besides `product`: the components, then other_components.
    pub fn component_names(&self) -> Vec<&str> {
        self.components
            .iter()
            .map(|c| c.name.as_str())
            .chain(self.other_components.iter().map(String::as_str))
            .collect()
    }

    /// The package's release name for a build at `created` (Unix time): the spec's `version`;
    /// else, for one component, its version; else, from the store, the build's UTC date
    /// `YYYY.MM.DD`: the store's components' versions are never compared (an engine 12.0 says
    /// nothing about definitions 2026.11.24.1), a package of several is the state of the store
    /// on that day. A spec file without `version` keeps its documented default, the highest
    /// component version (its author can set `version`; a store's admin can't).
    pub fn package_version(&self, created: u64) -> Version {
        if let Some(v) = &self.version {
            return v.clone();
        }
        if let [only] = &self.components[..] {
            return only.version.clone();
        }
        if !self.from_store {
            return self
                .components
                .iter()
                .map(|c| c.version.clone())
                .max()
                .expect("a spec has components");
        }
        let date = &iupack_stub::platform::time::rfc3339(created)[..10];
        Version::parse(&date.replace('-', ".")).expect("a date is a version")
    }
}

/// The platform names machines report (`iupack_stub::this_platform()`: `OS-ARCH` from Rust's
/// `std::env::consts`, e.g. `linux-x86_64`): these are the values of `OS` and `ARCH` that
/// std documents. One list for the spec, `product.toml` and `--target`.
pub const OSES: &[&str] = &[
    "linux",
    "windows",
    "macos",
    "freebsd",
    "netbsd",
    "openbsd",
    "dragonfly",
    "solaris",
    "illumos",
    "android",
    "ios",
];
pub const ARCHES: &[&str] = &[
    "x86_64",
    "aarch64",
    "x86",
    "arm",
    "riscv64",
    "powerpc64",
    "powerpc",
    "s390x",
    "loongarch64",
    "mips",
    "mips64",
    "sparc64",
    "m68k",
    "csky",
];

/// What to do about a platform name that is not one.
pub const PLATFORM_HINT: &str = "write platforms as the stub names them (Rust's OS-ARCH, as in a machine's status export): OS-ARCH, such as linux-x86_64 or windows-x86_64, or \"*\" for any";

/// Checks one platform name of a spec, `product.toml` or `--target` (`*` = any): the refusal
/// names the valid ones, and what was likely meant (`linux-x64` -> `linux-x86_64`).
pub fn check_platform(name: &str) -> Result<(), String> {
    if name == "*" {
        return Ok(());
    }
    let (os, arch) = name.split_once('-').unwrap_or((name, ""));
    if OSES.contains(&os) && ARCHES.contains(&arch) {
        return Ok(());
    }
    let os_meant = match os {
        "win" | "win32" | "win64" => "windows",
        "darwin" | "osx" | "mac" => "macos",
        _ => os,
    };
    let arch_meant = match arch {
        "x64" | "amd64" | "x86-64" | "x8664" => "x86_64",
        "arm64" | "aarch_64" => "aarch64",
        "i386" | "i486" | "i586" | "i686" | "x32" => "x86",
        _ => arch,
    };
    let meant = format!("{os_meant}-{arch_meant}");
    let guess = if OSES.contains(&os_meant) && ARCHES.contains(&arch_meant) {
        format!("did you mean `{meant}`? ")
    } else {
        String::new()
    };
    Err(format!(
        "`{name}` is not a platform name: {guess}a platform is OS-ARCH, OS one of {} and ARCH one of {}",
        OSES.join(", "),
        ARCHES.join(", ")
    ))
}

/// A circle of `requires` among `components` (`a -> b -> a`), which no machine could install
/// in any order (the stub refuses such a package as damaged), if there is one.
fn requires_circle(components: &[ComponentSpec]) -> Option<Vec<String>> {
    fn visit(
        name: &str,
        components: &[ComponentSpec],
        path: &mut Vec<String>,
        done: &mut std::collections::HashSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == name) {
            let mut circle = path[i..].to_vec();
            circle.push(name.to_string());
            return Some(circle);
        }
        if done.contains(name) {
            return None;
        }
        let c = components.iter().find(|c| c.name == name)?;
        path.push(name.to_string());
        for r in c.requires.keys() {
            if let Some(circle) = visit(r, components, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(name.to_string());
        None
    }
    let mut done = std::collections::HashSet::new();
    components
        .iter()
        .find_map(|c| visit(&c.name, components, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::check_platform;

    #[test]
    fn platform_names_are_what_machines_report() {
        for ok in [
            "*",
            "linux-x86_64",
            "windows-x86_64",
            "linux-aarch64",
            "macos-aarch64",
        ] {
            assert_eq!(check_platform(ok), Ok(()), "{ok}");
        }
        let e = check_platform("linux-x64").expect_err("x64");
        assert!(e.contains("did you mean `linux-x86_64`?"), "{e}");
        assert!(e.contains("x86_64, aarch64"), "{e}");
        assert!(check_platform("win-amd64")
            .expect_err("win")
            .contains("`windows-x86_64`?"));
        for bad in [
            "linux",
            "linux-",
            "Linux-x86_64",
            "plan9-mips",
            "linux-x86_64-musl",
            "",
        ] {
            assert!(check_platform(bad).is_err(), "{bad}");
        }
    }
}
