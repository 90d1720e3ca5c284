//! A task's current deadline as seen at an instant: the facts (when, how many working days
//! left, paused or not) that the front ends put into words.

use chrono::Datelike;
use engine::calendar::CalendarError;
use engine::decide::Clock;
use engine::time::{Instant, format_date};
use engine::workflow::Workflow;

use super::super::Task;

/// The current deadline of a task, seen at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The state whose deadline it is, when it falls due and, while the dossier is back with
    /// the unit, since when it is paused.
    pub clock: Clock,
    /// The clock is stopped (the deadline moves back by the time spent paused).
    pub paused: bool,
    /// Working days from the instant to the deadline by the workflow's calendar, negative once
    /// past. `None` while paused or when the task's workflow is no longer loaded; an error when
    /// the calendar does not cover the dates.
    pub working_days_left: Option<Result<i64, CalendarError>>,
    /// The deadline has passed.
    pub overdue: bool,
}

/// The task's deadline at `now`: its running clock, else its paused one, else none.
pub(super) fn deadline(task: &Task, workflow: Option<&Workflow>, now: Instant) -> Option<Deadline> {
    if let Some(c) = &task.clock {
        return Some(Deadline {
            clock: c.clone(),
            paused: false,
            working_days_left: workflow.map(|w| w.calendar.working_days_between(now, c.due_at)),
            overdue: c.due_at < now,
        });
    }
    task.paused_clock.as_ref().map(|p| Deadline {
        clock: p.clone(),
        paused: true,
        working_days_left: None,
        overdue: false,
    })
}

/// A calendar error as users read it.
pub fn calendar_error_vi(e: &CalendarError) -> String {
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
            date.year()
        ),
        CalendarError::Overflow => {
            "Thời hạn quá dài: vượt quá phạm vi ngày có thể tính.".to_string()
        }
        other => format!("Lịch làm việc không hợp lệ: {other}"),
    }
}
