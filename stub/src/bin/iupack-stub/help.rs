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
       iupack-stub init PRODUCT VERSION --key FILE.pub [--component NAME=PATH]...
                                         set up this machine's inventory for a product
       iupack-stub status [--json]       what is installed, from which package, when, and
                                         the client tool's version
       iupack-stub status --export FILE  write this machine's versions and tree digests for
                                         `iupack plan` (no keys, paths or personal data)
       iupack-stub rollback PRODUCT COMPONENT
                                         put the kept previous version of COMPONENT back
       iupack-stub forget PRODUCT [--delete]
                                         take PRODUCT off this machine's inventory (and with
                                         --delete its folders and kept copies)
       iupack-stub recover               finish or undo an update that was interrupted
";

#[cfg(not(feature = "client"))]
const CLIENT_USAGE: &str =
    "       (a package head: apply PKG, apply --from, init, status, rollback, recover
       and -i are in the installed client tool, iupack-stub)
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
const INTERACTIVE: &str = "";

const HELP: &str = "
Options:
  --list              show the package and what it would do on this machine; change nothing
  --check             detection: exit 0 if this machine has everything the package brings,
                      1 if it needs the package, 10 if not applicable; prints one word
  --verify            check the signature and all content; change nothing
  --dry-run           stage and verify everything, then discard it; change nothing
  --extract DIR       write the verified full content into DIR (new or empty)
  --pubkey FILE       with --verify, --extract or --install-client: trust this minisign
                      public key instead of the inventory's keys
";

/// `--install-client`, in the builds that install the client tool a package carries.
#[cfg(feature = "install")]
const INSTALL: &str = "  --install-client [DIR]
                      install the client tool the package carries (iupack-stub) in DIR
                      (default /usr/local/bin; %ProgramFiles%\\iupack on Windows) and record it
                      in the inventory, made if missing (then give --pubkey FILE)
";

#[cfg(not(feature = "install"))]
const INSTALL: &str = "";

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

/// The client tool's commands that are not package runs: their own pages.
#[cfg(feature = "client")]
const COMMANDS: [(&str, &str); 5] = [
    (
        "init",
        "Usage: iupack-stub init PRODUCT VERSION --key FILE.pub [--key ...] [OPTIONS]

Sets up PRODUCT (installed at VERSION) in this machine's inventory, making the inventory and
its folder when there is none: the publisher's public keys to trust, and its components.
Every value is checked as a package run reads it; nothing is changed on a refusal.
  --key FILE.pub        a publisher's minisign public key file (or its key line); repeatable
  --component NAME=PATH a component and its folder (relative: to the inventory's folder);
                        NAME@VERSION=PATH when that version is already there; repeatable
  --name NAME           the product's display name
  --keep-previous N     kept copies of each component for rollback (default 1)
  --hooks FILE          the product's hooks, a JSON object (validate, after, timeout_secs)
  --force               replace values the inventory's entry already has (without it, a
                        different value is refused; components it lacks are added)
",
    ),
    (
        "status",
        "Usage: iupack-stub status [--json] [OPTIONS]
       iupack-stub status --export FILE [OPTIONS]

Shows what is installed: each product and component, its version, the package that installed
it and when, the kept copies, and an update that was interrupted. Changes nothing.
With --export, writes this machine's versions and tree digests to FILE for `iupack plan
--inventory` on the connected side (no keys, paths or personal data).
",
    ),
    (
        "rollback",
        "Usage: iupack-stub rollback PRODUCT COMPONENT [OPTIONS]

Puts the newest kept copy of COMPONENT back in place, crash-safe like an update, after checking
that the copy is unchanged, not below the component's security floor, and that what the other
components require still holds. The version it replaces is removed (a package brings it
back).
",
    ),
    (
        "forget",
        "Usage: iupack-stub forget PRODUCT [--delete] [OPTIONS]

Takes PRODUCT off this machine's inventory: no package of it applies here again (exit 10), and
status no longer lists it. Its folders are left as they are, unless:
  --delete              also delete its component folders and their kept copies
                        (.NAME.iupack beside each), through the journal: a run killed
                        midway is finished or undone by the next one
Runs no hooks. The client tool stays installed.
",
    ),
    (
        "recover",
        "Usage: iupack-stub recover [OPTIONS]

Finishes or undoes an update that was interrupted (power loss, a killed run): afterwards each
component is exactly its old or its new release and the inventory says which. Every package
run does this first too.
",
    ),
];

#[cfg(feature = "client")]
const COMMAND_OPTIONS: &str = "
Options:
  --inventory PATH    the product inventory (default: $IUPACK_INVENTORY, else
                      /var/lib/iupack/inventory.json; %ProgramData%\\iupack\\inventory.json on Windows)
  --wait SECS         wait this long for another update's lock before exit 40 (default 5;
                      not status)
  -q, --quiet         print nothing but errors
  --json              print the result as JSON on stdout
  --report FILE       write the result as JSON to FILE (not status)
  --log FILE          append the result as one JSON line to FILE (not status)
";

/// Prints the help of this build, exit codes last; in the client tool `topic` (the command
/// before --help) picks a command's own page (`apply` is a package run: the whole page).
pub fn print(topic: Option<&str>) {
    #[cfg(feature = "client")]
    let page = COMMANDS
        .iter()
        .find(|(name, _)| Some(*name) == topic)
        .map(|(_, usage)| format!("{usage}{COMMAND_OPTIONS}"));
    #[cfg(not(feature = "client"))]
    let page: Option<String> = topic.and(None);
    let page = page
        .unwrap_or_else(|| format!("{USAGE}{CLIENT_USAGE}{HELP}{INSTALL}{INTERACTIVE}{HELP_REST}"));
    let mut text = format!("{page}\nExit codes:");
    for (_, code, _, meaning) in EXIT_CODES {
        text += &format!("\n  {code:<5}{meaning}");
    }
    crate::print::out(&text);
}
