//! One module per subcommand, each with an `Args` struct and `run()`: parse the flags, call the
//! code that does the work (`crate::pipeline` for the builds, `crate::store`, `crate::share`, ...),
//! print the result. Never does the work itself, and nothing outside `cmd` (and main) sees an
//! `Args`: `publish` and `plan` build through `pipeline::Options`, made from the flags all three
//! building commands share (`packing`, one parser).

pub mod add;
pub mod build;
pub mod inspect;
pub mod keygen;
pub mod packing;
pub mod plan;
pub mod prune;
pub mod publish;
pub mod remove;
pub mod transition;
pub mod verify;

/// `--json`: a command's result as pretty JSON on stdout, keys sorted (as `build --json`).
pub fn print_json(v: &serde_json::Value) {
    crate::out(&serde_json::to_string_pretty(v).expect("json"));
}
