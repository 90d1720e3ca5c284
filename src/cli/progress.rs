//! The one progress bar of the CLI: an [`adapters::progress::Tracker`] drawn with indicatif on
//! stderr, for `tiendo import plan` and `tiendo report …`. indicatif draws nothing when stderr
//! is not a terminal, so scripts, tests and the bench see only the command's output.

use std::time::Duration;

use adapters::progress::Tracker;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How far long work has got, as a bar (a spinner while the stage is not counted) on stderr;
/// cleared when dropped.
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar on stderr (hidden when stderr is not a terminal).
    pub fn new() -> Bar {
        Bar::to(ProgressDrawTarget::stderr())
    }

    fn to(target: ProgressDrawTarget) -> Bar {
        let bar = ProgressBar::with_draw_target(None, target);
        if !bar.is_hidden() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Bar(bar)
    }
}

impl Default for Bar {
    fn default() -> Bar {
        Bar::new()
    }
}

impl Tracker for Bar {
    fn stage(&self, what: &str, total: usize) {
        let template = if total > 0 {
            "{msg} [{bar:30}] {pos}/{len} nhiệm vụ ({elapsed})"
        } else {
            "{spinner} {msg} ({elapsed})"
        };
        self.0.set_message(what.to_string());
        self.0.set_length(total as u64);
        self.0.set_position(0);
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.0.set_style(style.progress_chars("=> "));
        }
    }

    fn advance(&self, done: usize) {
        self.0.set_position(done as u64);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_sets_the_message_and_length_and_advance_moves_the_bar() {
        let bar = Bar::to(ProgressDrawTarget::hidden());
        bar.stage("Ghi các nhiệm vụ mới", 1200);
        assert_eq!(bar.0.message(), "Ghi các nhiệm vụ mới");
        assert_eq!(bar.0.length(), Some(1200));
        bar.advance(500);
        assert_eq!(bar.0.position(), 500);
        bar.stage("Cập nhật các nhiệm vụ đã sửa", 0);
        assert_eq!(bar.0.position(), 0);
        assert_eq!(bar.0.length(), Some(0));
    }
}
