//! How far long work has got, for whoever watches: the one progress seam of the adapters.
//!
//! Long work (a plan import, a report over many tasks) tells a [`Tracker`] when a stage begins
//! and how many of its items are through. The CLI draws an indicatif bar on stderr from it
//! (`src/cli/progress.rs`, nothing when stderr is not a terminal); the HTTP API and the pages
//! pass `&()`, which ignores it. Calls are few (a stage, then every thousand or so items), so a
//! tracker costs nothing on a large plan.

/// Hears how far long work has got.
pub trait Tracker: Sync {
    /// A stage begins: what is being done, in Vietnamese, over `total` items (0: not counted).
    fn stage(&self, what: &str, total: usize) {
        let _ = (what, total);
    }

    /// `done` of the stage's `total` items are through.
    fn advance(&self, done: usize) {
        let _ = done;
    }
}

/// No one is watching.
impl Tracker for () {}

/// How often long work tells its tracker of the items done: often enough for a bar, rarely
/// enough to cost nothing on a 100,000-task plan.
pub const TRACK_EVERY: usize = 1024;
