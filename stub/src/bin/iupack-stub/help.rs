//! `--help`: the usage text of this build (package head or client tool), and the exit code
//! table, printed from `iupack_stub::error::EXIT_CODES` so that it never drifts from the codes.

use iupack_stub::error::EXIT_CODES;

const USAGE: &str = "\
Usage: PACKAGE [OPTIONS]            run a package (applies everything that fits: express mode)
";

/// The installed client tool's commands (not in package heads: `--no-default-features`).
#[cfg(feature = "client")]
const CLIENT_USAGE: &str =
    "       iupack-stub apply PKG [OPTIONS]   the installed client tool, for a package file
       iupack-stub apply --from SHARE    apply what an update share (index.json + packages)
                                         holds for this machine: the smallest route per
                                         component, in requires order (also --list, --check)
       iupack-stub status [--json]       what is installed, from which package, when
       iupack-stub status --export FILE  write this machine's versions and tree digests for
                                         `iupack plan` (no keys, paths or personal data)
       iupack-stub rollback PRODUCT COMPONENT
                                         put the kept previous version of COMPONENT back
       iupack-stub recover               finish or undo an update that was interrupted
";

#[cfg(not(feature = "client"))]
const CLIENT_USAGE: &str =
    "       (this is a package head: the client tool's commands, apply PKG, apply --from,
       status, rollback and recover, are in the installed iupack-stub)
";

/// `-i` in the client tool; a package head has no interactive mode (nor hooks).
#[cfg(feature = "client")]
const INTERACTIVE: &str =
    "  -i, --interactive   show each component (installed -> package version, route, size,
                      requires), lets you pick which to install, and asks before applying
                      (also the default on a terminal with no flags when the product's
                      inventory entry says \"interactive\": true)
";

#[cfg(not(feature = "client"))]
const INTERACTIVE: &str =
    "  -i, --interactive   in the installed client tool: iupack-stub apply -i PKG (a package
                      head runs no interactive mode and no hooks)
";

const HELP: &str = "
Options:
  --list              show the package and what it would do on this machine; change nothing
  --check             detection: exit 0 if this machine has everything the package brings,
                      1 if it needs the package, 10 if not applicable; prints one word
  --verify            check the signature and all content; change nothing
  --dry-run           stage and verify everything, then discard it; change nothing
  --extract DIR       write the verified full content into DIR (new or empty)
  --pubkey FILE       with --verify or --extract: trust this minisign public key instead of
                      the inventory's keys
";

const HELP_REST: &str = "  --allow-downgrade   allow replacing a newer installed version with this older one
  --wait SECS         wait this long for another update's lock before exit 40 (default 5)
  --inventory PATH    the product inventory (default: $IUPACK_INVENTORY, else
                      /var/lib/iupack/inventory.json; %ProgramData%\\iupack\\inventory.json on Windows)
  -q, --quiet         print nothing but errors (Windows: /q, /s)
  --json              print the result as JSON on stdout
  --report FILE       write the result as JSON to FILE
  --log FILE          append the result as one JSON line to FILE
  -h, --help          this help (Windows: /?)
  -V, --version       the stub's version
";

/// Prints the help of this build, exit codes last.
pub fn print() {
    let mut text = format!("{USAGE}{CLIENT_USAGE}{HELP}{INTERACTIVE}{HELP_REST}\nExit codes:");
    for (_, code, _, meaning) in EXIT_CODES {
        text += &format!("\n  {code:<5}{meaning}");
    }
    crate::print::out(&text);
}
