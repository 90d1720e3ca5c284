//! Progress on standard error for the long parts of a run (seeding, measured rounds, import
//! phases). indicatif draws only when standard error is a terminal, so piped or captured output
//! (CI, the tests, `2> log`) holds the benchmark's own lines and nothing else.
//!
//! A bar is finished and cleared before the line that reports its result is printed.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` items of work (tasks seeded, phases run).
pub fn counter(len: u64, what: impl Into<String>) -> ProgressBar {
    styled(
        ProgressBar::new(len),
        "{msg} [{bar:30}] {pos}/{len} ({eta} left)",
        what,
    )
}

/// A bar over `len` steps of unequal length (the phases of a run), each named in the message
/// as it starts.
pub fn steps(len: u64, what: impl Into<String>) -> ProgressBar {
    styled(
        ProgressBar::new(len),
        "{spinner} {msg} [{bar:30}] {pos}/{len}, {elapsed}",
        what,
    )
}

/// A bar over a round of `seconds` (warm-up included), in milliseconds: the round moves it
/// with the clock and says in its message what it has done so far.
pub fn clock(seconds: u64, what: impl Into<String>) -> ProgressBar {
    styled(
        ProgressBar::new(seconds.max(1) * 1000),
        "{prefix} [{bar:30}] {elapsed} {msg}",
        "",
    )
    .with_prefix(what.into())
}

fn styled(bar: ProgressBar, template: &str, what: impl Into<String>) -> ProgressBar {
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = bar.with_style(style).with_message(what.into());
    if !bar.is_hidden() {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    bar
}
