//! One module per subcommand, each with an `Args` struct and `run()`: parse the flags, call the
//! code that does the work (`crate::pipeline` for the builds, `crate::store`, `crate::share`, ...),
//! print the result. Never does the work itself, and nothing outside `cmd` (and main) sees an
//! `Args`: `publish` and `plan` build through `pipeline::Options`.

pub mod add;
pub mod build;
pub mod inspect;
pub mod keygen;
pub mod plan;
pub mod prune;
pub mod publish;
pub mod transition;
pub mod verify;
