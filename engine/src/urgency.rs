//! How pressing a task's current deadline is, in the words the pages show beside its colour:
//! trong hạn (on time), sắp đến hạn (due soon), quá hạn (overdue), or no running deadline
//! (none set, or the clock paused while the dossier is back with the unit). Colour is never
//! the only signal: every status has its label.

use crate::time::Instant;

/// A deadline this many working days away or closer is "sắp đến hạn".
pub const DUE_SOON_WORKING_DAYS: i64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// The current step has no deadline.
    NoDeadline,
    /// The deadline is stopped while the dossier is back with the unit.
    Paused,
    OnTime,
    DueSoon,
    Overdue,
}

impl Urgency {
    /// The urgency of a deadline `due_at` at `now`, with the working days left when the
    /// calendar could count them.
    pub fn of(
        due_at: Option<Instant>,
        paused: bool,
        working_days_left: Option<i64>,
        now: Instant,
    ) -> Urgency {
        match due_at {
            None if paused => Urgency::Paused,
            None => Urgency::NoDeadline,
            Some(_) if paused => Urgency::Paused,
            Some(due) if due < now => Urgency::Overdue,
            Some(_) => match working_days_left {
                Some(d) if d <= DUE_SOON_WORKING_DAYS => Urgency::DueSoon,
                _ => Urgency::OnTime,
            },
        }
    }

    /// The Vietnamese label.
    pub fn label(self) -> &'static str {
        match self {
            Urgency::NoDeadline => "không có thời hạn",
            Urgency::Paused => "tạm dừng thời hạn",
            Urgency::OnTime => "trong hạn",
            Urgency::DueSoon => "sắp đến hạn",
            Urgency::Overdue => "quá hạn",
        }
    }

    /// A stable name (`on_time`, `due_soon`, …) for styles and machines.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::NoDeadline => "none",
            Urgency::Paused => "paused",
            Urgency::OnTime => "on_time",
            Urgency::DueSoon => "due_soon",
            Urgency::Overdue => "overdue",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone, Utc};

    #[test]
    fn urgency_follows_the_deadline_and_the_working_days_left() {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap();
        let later = now + TimeDelta::days(10);
        assert_eq!(Urgency::of(None, false, None, now), Urgency::NoDeadline);
        assert_eq!(Urgency::of(Some(later), true, None, now), Urgency::Paused);
        assert_eq!(
            Urgency::of(Some(later), false, Some(8), now),
            Urgency::OnTime
        );
        assert_eq!(
            Urgency::of(Some(later), false, Some(2), now),
            Urgency::DueSoon
        );
        assert_eq!(
            Urgency::of(Some(later), false, Some(0), now),
            Urgency::DueSoon
        );
        assert_eq!(
            Urgency::of(Some(now - TimeDelta::hours(1)), false, Some(0), now),
            Urgency::Overdue
        );
        assert_eq!(Urgency::Overdue.label(), "quá hạn");
        assert_eq!(Urgency::DueSoon.label(), "sắp đến hạn");
        assert_eq!(Urgency::OnTime.label(), "trong hạn");
    }
}
