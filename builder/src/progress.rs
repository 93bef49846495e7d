//! Progress on long work (hashing content, compressing, diffing, writing, verifying): drawn on
//! stderr only when stderr is a terminal and the result is not asked for as JSON, so pipes,
//! scripts and CI logs get none. Each phase stays on screen when done, with what it did and how
//! long it took.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Spinner frames; the last one marks a finished phase.
const TICKS: &str = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✓";

/// The phases of one command, one line each, in order.
#[derive(Debug, Clone)]
pub struct Progress {
    lines: Option<MultiProgress>,
}

impl Progress {
    /// Shown on a terminal unless `json`.
    pub fn new(json: bool) -> Progress {
        let shown = !json && std::io::stderr().is_terminal();
        Progress {
            lines: shown.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// A phase of `total` steps (components, deltas).
    pub fn bar(&self, phase: &str, total: u64) -> ProgressBar {
        if total == 0 {
            return ProgressBar::hidden();
        }
        self.start(
            phase,
            Some(total),
            "{spinner} {prefix:<12} [{bar:24}] {pos}/{len} {wide_msg} {elapsed}",
        )
    }

    /// A phase with no countable steps.
    pub fn spinner(&self, phase: &str) -> ProgressBar {
        self.start(phase, None, "{spinner} {prefix:<12} {wide_msg} {elapsed}")
    }

    fn start(&self, phase: &str, total: Option<u64>, template: &str) -> ProgressBar {
        let Some(lines) = &self.lines else {
            return ProgressBar::hidden();
        };
        let pb = lines.add(ProgressBar::with_draw_target(
            total,
            ProgressDrawTarget::hidden(),
        ));
        pb.set_style(
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .tick_chars(TICKS)
                .progress_chars("=> "),
        );
        pb.set_prefix(phase.to_string());
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    }
}

/// A byte count as a person reads it.
pub fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}
