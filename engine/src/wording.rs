//! The Vietnamese words for deadlines, in one place: how long a period is ("15 ngày làm việc"),
//! how much of a deadline is left at a moment ("còn 3 ngày làm việc", "hạn hôm nay", "quá hạn 2
//! ngày làm việc", "tạm dừng …"), and its status as a page colours it (trong hạn / sắp đến hạn /
//! quá hạn / tạm dừng).
//!
//! Email ([`crate::notify`]), the command line, the HTTP API and the web pages all word a
//! deadline through [`time_left`], so one task at one moment reads the same everywhere. A period
//! the law counts in calendar days is worded in days ("còn 12 ngày"), a working-day one in
//! working days; the status is judged in working days either way, since that is the time people
//! have to act.

use std::fmt;

use crate::calendar::{Calendar, CalendarError};
use crate::decide::Clock;
use crate::time::{Instant, format_date, format_instant, local_date};
use crate::workflow::{Amount, Workflow};

/// How a deadline's days are counted, and so worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// "ngày làm việc": Mon–Fri, less holidays, plus swapped working Saturdays.
    WorkingDays,
    /// "ngày": calendar days (and ISO durations, which are exact elapsed time).
    Days,
}

impl Counting {
    /// The counting of a declared period.
    pub fn of(amount: &Amount) -> Counting {
        match amount {
            Amount::WorkingDays(_) => Counting::WorkingDays,
            Amount::Days(_) | Amount::Iso(_) => Counting::Days,
        }
    }

    /// The counting's unit as people read it: "ngày làm việc", "ngày".
    pub fn unit(self) -> &'static str {
        match self {
            Counting::WorkingDays => "ngày làm việc",
            Counting::Days => "ngày",
        }
    }
}

/// A declared period as people read it: "15 ngày làm việc", "20 ngày"; an ISO duration keeps its
/// ISO spelling ("PT2H").
pub fn period(amount: &Amount) -> String {
    match amount {
        Amount::WorkingDays(n) => format!("{n} {}", Counting::WorkingDays.unit()),
        Amount::Days(n) => format!("{n} {}", Counting::Days.unit()),
        Amount::Iso(d) => d.describe(),
    }
}

/// A deadline within this many working days is "sắp đến hạn" (due soon).
pub const DUE_SOON_WORKING_DAYS: i64 = 2;

/// Where a deadline stands, as a page colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// "trong hạn": more than [`DUE_SOON_WORKING_DAYS`] working days left.
    OnTime,
    /// "sắp đến hạn": the deadline falls within [`DUE_SOON_WORKING_DAYS`] working days.
    DueSoon,
    /// "quá hạn": the deadline has passed.
    Overdue,
    /// "tạm dừng": the clock is stopped while the dossier is back with the unit.
    Paused,
}

impl Status {
    /// A stable machine name (`on_time`, `due_soon`, `overdue`, `paused`), for JSON and CSS.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::OnTime => "on_time",
            Status::DueSoon => "due_soon",
            Status::Overdue => "overdue",
            Status::Paused => "paused",
        }
    }

    /// The Vietnamese label.
    pub fn label(self) -> &'static str {
        match self {
            Status::OnTime => "trong hạn",
            Status::DueSoon => "sắp đến hạn",
            Status::Overdue => "quá hạn",
            Status::Paused => "tạm dừng",
        }
    }
}

/// A deadline seen at one moment. `Display` is the Vietnamese phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeLeft {
    /// The clock runs.
    Running {
        /// Working days from the moment's local date to the deadline's (negative once past).
        working_days: i64,
        /// The same in the deadline's own counting.
        days: i64,
        counting: Counting,
        /// The deadline instant has passed.
        passed: bool,
        /// The deadline falls on the moment's local date.
        today: bool,
    },
    /// The clock is stopped (since then, when known) while the dossier is with the unit.
    Paused { since: Option<Instant> },
    /// The days left cannot be counted; `why` says so in Vietnamese.
    Unknown { passed: bool, why: String },
}

/// The time left on a deadline clock at `now`. `workflow` is the task's workflow version (its
/// calendar, and the counting of the clock's state); `None` when that version is no longer loaded.
pub fn time_left(workflow: Option<&Workflow>, clock: &Clock, now: Instant) -> TimeLeft {
    if clock.paused_at.is_some() {
        return TimeLeft::Paused {
            since: clock.paused_at,
        };
    }
    let Some(w) = workflow else {
        return TimeLeft::Unknown {
            passed: clock.due_at < now,
            why: "quy trình không còn được nạp".into(),
        };
    };
    let counting = w
        .state(&clock.state)
        .and_then(|s| s.deadline.as_ref())
        .map(|d| Counting::of(&d.amount))
        .unwrap_or(Counting::WorkingDays);
    TimeLeft::at(&w.calendar, counting, clock.due_at, now)
}

impl TimeLeft {
    /// A running deadline `due` seen at `now`, its days counted on `calendar`.
    pub fn at(calendar: &Calendar, counting: Counting, due: Instant, now: Instant) -> TimeLeft {
        let passed = due < now;
        let working_days = match calendar.working_days_between(now, due) {
            Ok(n) => n,
            Err(e) => {
                return TimeLeft::Unknown {
                    passed,
                    why: calendar_error(&e),
                };
            }
        };
        let (from, to) = (local_date(now), local_date(due));
        let days = match counting {
            Counting::WorkingDays => working_days,
            Counting::Days => (to - from).num_days(),
        };
        TimeLeft::Running {
            working_days,
            days,
            counting,
            passed,
            today: from == to,
        }
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        match self {
            TimeLeft::Running { passed, .. } | TimeLeft::Unknown { passed, .. } => *passed,
            TimeLeft::Paused { .. } => false,
        }
    }

    /// Working days left (negative: overdue by that many), when the clock runs and they count.
    pub fn working_days(&self) -> Option<i64> {
        match self {
            TimeLeft::Running { working_days, .. } => Some(*working_days),
            _ => None,
        }
    }

    pub fn status(&self) -> Status {
        match self {
            TimeLeft::Paused { .. } => Status::Paused,
            t if t.passed() => Status::Overdue,
            TimeLeft::Running { working_days, .. } if *working_days <= DUE_SOON_WORKING_DAYS => {
                Status::DueSoon
            }
            _ => Status::OnTime,
        }
    }
}

impl fmt::Display for TimeLeft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeLeft::Running {
                days,
                counting,
                passed,
                today,
                ..
            } => {
                let unit = counting.unit();
                match (*days, *passed) {
                    (d, _) if d < 0 => write!(f, "quá hạn {} {unit}", -d),
                    (_, true) => f.write_str("đã quá hạn"),
                    (0, false) if *today => f.write_str("hạn hôm nay"),
                    (0, false) => write!(f, "còn dưới 1 {unit}"),
                    (d, false) => write!(f, "còn {d} {unit}"),
                }
            }
            TimeLeft::Paused { since } => {
                f.write_str("tạm dừng")?;
                if let Some(s) = since {
                    write!(f, " từ {}", format_instant(*s))?;
                }
                f.write_str(" (hồ sơ đang ở đơn vị; hạn sẽ được lùi tương ứng)")
            }
            TimeLeft::Unknown { why, .. } => write!(f, "không tính được: {why}"),
        }
    }
}

/// A calendar error as users read it.
pub fn calendar_error(e: &CalendarError) -> String {
    match e {
        CalendarError::OutOfRange {
            calendar,
            date,
            loaded,
        } => format!(
            "Lịch làm việc `{calendar}` chưa có dữ liệu cho ngày {} (các năm đã có: {}). Quản trị viên cần bổ sung tệp lịch năm {}.",
            format_date(*date),
            loaded
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            chrono::Datelike::year(date)
        ),
        CalendarError::Overflow => {
            "Thời hạn quá dài: vượt quá phạm vi ngày có thể tính.".to_string()
        }
        other => format!("Lịch làm việc không hợp lệ: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_instant;

    fn calendar_2026() -> std::sync::Arc<Calendar> {
        crate::testing::calendars()["vn"].clone()
    }

    fn at(s: &str) -> Instant {
        parse_instant(s).unwrap()
    }

    fn words(counting: Counting, due: &str, now: &str) -> (String, Status) {
        let t = TimeLeft::at(&calendar_2026(), counting, at(due), at(now));
        (t.to_string(), t.status())
    }

    #[test]
    fn working_day_deadlines_read_in_working_days() {
        use Counting::WorkingDays as W;
        let due = "2026-03-13T23:59:59+07:00"; // Friday
        let cases = [
            ("2026-03-06T09:00", "còn 5 ngày làm việc", Status::OnTime),
            ("2026-03-11T09:00", "còn 2 ngày làm việc", Status::DueSoon),
            ("2026-03-13T09:00", "hạn hôm nay", Status::DueSoon),
            // The weekend after does not count: Monday is one working day late.
            ("2026-03-15T09:00", "đã quá hạn", Status::Overdue),
            (
                "2026-03-16T09:00",
                "quá hạn 1 ngày làm việc",
                Status::Overdue,
            ),
            (
                "2026-03-18T09:00",
                "quá hạn 3 ngày làm việc",
                Status::Overdue,
            ),
        ];
        for (now, text, status) in cases {
            assert_eq!(words(W, due, now), (text.to_string(), status), "{now}");
        }
    }

    #[test]
    fn calendar_day_deadlines_read_in_days() {
        use Counting::Days as D;
        let due = "2026-03-13T23:59:59+07:00";
        assert_eq!(words(D, due, "2026-03-01T09:00").0, "còn 12 ngày");
        assert_eq!(words(D, due, "2026-03-13T22:00").0, "hạn hôm nay");
        assert_eq!(words(D, due, "2026-03-16T09:00").0, "quá hạn 3 ngày");
        // Status is judged in working days: 13/3 is 2 working days after 11/3.
        assert_eq!(words(D, due, "2026-03-11T09:00").1, Status::DueSoon);
        // An ISO deadline (exact time) passed earlier today.
        assert_eq!(
            words(D, "2026-03-13T09:00:04+07:00", "2026-03-13T09:00:10+07:00"),
            ("đã quá hạn".to_string(), Status::Overdue)
        );
    }

    #[test]
    fn paused_and_uncountable_deadlines_say_so() {
        let paused = TimeLeft::Paused {
            since: Some(at("2026-03-05T10:00:00+07:00")),
        };
        assert_eq!(
            paused.to_string(),
            "tạm dừng từ 05/03/2026 10:00 (hồ sơ đang ở đơn vị; hạn sẽ được lùi tương ứng)"
        );
        assert_eq!(paused.status(), Status::Paused);
        assert_eq!(paused.working_days(), None);
        let t = TimeLeft::at(
            &calendar_2026(),
            Counting::WorkingDays,
            at("2031-01-10T23:59:59+07:00"),
            at("2026-03-05T10:00"),
        );
        assert!(
            t.to_string()
                .starts_with("không tính được: Lịch làm việc `vn` chưa có dữ liệu"),
            "{t}"
        );
        assert_eq!(t.status(), Status::OnTime);
    }

    #[test]
    fn periods_are_worded_by_their_counting() {
        assert_eq!(period(&Amount::WorkingDays(15)), "15 ngày làm việc");
        assert_eq!(period(&Amount::Days(20)), "20 ngày");
        assert_eq!(
            period(&Amount::Iso(
                crate::time::IsoDuration::parse("PT2H").unwrap()
            )),
            "PT2H"
        );
    }
}
