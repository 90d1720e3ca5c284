//! The assigned deadline (thời hạn giao) and the Government Office's categories that judge it.
//!
//! QĐ 42/2014/QĐ-TTg and QĐ 23/2018/QĐ-TTg track an assigned task in four statuses: completed on
//! time, completed late, in progress within the deadline, overdue. The deadline they judge is the
//! one the task was *assigned*: the plan's expected completion ("Thời gian dự kiến hoàn thành"),
//! or a deadline a leader set by a decision, which replaces it. A step's service level (an
//! appraiser's 15 working days) is not an assigned deadline: a late step is "chậm xử lý", listed
//! apart and grouped by who holds the ball, and never makes the task overdue. A standing task
//! ("Thường xuyên": no assigned deadline at all) is its own category, not "trong hạn".
//!
//! The rules:
//! - the assigned deadline is the leader's date when one is set, else the plan's expected
//!   completion, else none ([`assigned_deadline`]); it ends at the end of its day (Asia/Ho_Chi_Minh);
//! - a completed task counts when it was completed within the range: on time when completed by
//!   the end of its assigned deadline or when it had none, late otherwise; a task imported as
//!   completed has no known completion moment and counts as completed on time; a task completed
//!   before the range is left out;
//! - an open task with no assigned deadline is standing; with one, it is overdue when the
//!   deadline ended before the end of the range, within the deadline otherwise;
//! - postponed and withdrawn tasks are counted in their own columns.
//!
//! Setting or changing the assigned deadline is a decision with a deciding document (its number
//! and date): [`check_change`] rules on the request and words the audit entry; who may make it is
//! [`crate::access::may_set_deadline`].

use chrono::{Datelike, NaiveDate, NaiveTime};

use crate::Phase;
use crate::decide::{AuditEntry, Clock};
use crate::input::clean_text;
use crate::role::Role;
use crate::time::{Instant, at_local, end_of_day, format_date, local_date};

/// A task's category in the status report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    CompletedOnTime,
    CompletedLate,
    InProgress,
    Overdue,
    /// An open task with no assigned deadline ("Thường xuyên").
    Standing,
    Postponed,
    Withdrawn,
    /// Completed before the range: not in this report.
    CompletedBefore,
}

impl Category {
    /// The report's columns, in order.
    pub const COLUMNS: [Category; 7] = [
        Category::CompletedOnTime,
        Category::CompletedLate,
        Category::InProgress,
        Category::Overdue,
        Category::Standing,
        Category::Postponed,
        Category::Withdrawn,
    ];

    /// The Vietnamese column title.
    pub fn title(self) -> &'static str {
        match self {
            Category::CompletedOnTime => "Hoàn thành đúng hạn",
            Category::CompletedLate => "Hoàn thành quá hạn",
            Category::InProgress => "Đang thực hiện trong hạn",
            Category::Overdue => "Quá hạn",
            Category::Standing => "Thường xuyên (không có thời hạn giao)",
            Category::Postponed => "Tạm hoãn",
            Category::Withdrawn => "Rút khỏi kế hoạch",
            Category::CompletedBefore => "Hoàn thành trước kỳ báo cáo",
        }
    }
}

/// The assigned deadline: a leader's date replaces the plan's expected completion.
pub fn assigned_deadline(
    expected_completion_on: Option<NaiveDate>,
    leader_deadline_on: Option<NaiveDate>,
) -> Option<NaiveDate> {
    leader_deadline_on.or(expected_completion_on)
}

/// What the category of a task depends on, as seen at the end of the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub phase: Phase,
    /// When the task reached its phase (the describing audit entry).
    pub since: Instant,
    /// The task was placed in this phase by an import, so `since` is not when it got there.
    pub imported: bool,
    /// [`assigned_deadline`].
    pub deadline: Option<NaiveDate>,
}

/// The category of a task over `[from, to]` (local dates). See the module documentation.
pub fn categorize(seen: &Seen, from: NaiveDate, to: NaiveDate) -> Category {
    let start = at_local(from, NaiveTime::MIN);
    let end = end_of_day(to);
    match seen.phase {
        Phase::Postponed => Category::Postponed,
        Phase::Withdrawn => Category::Withdrawn,
        Phase::Completed => {
            if seen.imported {
                return Category::CompletedOnTime;
            }
            if seen.since < start {
                return Category::CompletedBefore;
            }
            match seen.deadline.map(end_of_day) {
                Some(due) if seen.since > due => Category::CompletedLate,
                _ => Category::CompletedOnTime,
            }
        }
        _ => match seen.deadline.map(end_of_day) {
            None => Category::Standing,
            Some(due) if due < end => Category::Overdue,
            Some(_) => Category::InProgress,
        },
    }
}

/// When the current step's own deadline (its service level) passed, if it did by `end` and its
/// clock is running: the task is "chậm xử lý" at that step, whatever its assigned deadline.
pub fn step_late_since(clock: Option<&Clock>, paused: bool, end: Instant) -> Option<Instant> {
    clock
        .filter(|c| c.paused_at.is_none() && !paused)
        .map(|c| c.due_at)
        .filter(|due| *due < end)
}

/// The kind and transition name of the audit entry that records a change of the assigned
/// deadline.
pub const DEADLINE_KIND: &str = "deadline";
pub const DEADLINE_TRANSITION: &str = "dat_thoi_han_giao";

/// The longest document number accepted ("Số: 240/CCTĐC-QLĐL" is 16).
pub const MAX_DOC_NUMBER_CHARS: usize = 100;

/// A request to set (`on = Some`) or clear (`on = None`) a task's assigned deadline, with the
/// document that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineRequest {
    pub on: Option<NaiveDate>,
    pub doc_number: String,
    pub doc_date: NaiveDate,
}

/// The task as a deadline change sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineFacts<'a> {
    pub state: &'a str,
    pub phase: Phase,
    pub workflow: &'a str,
    pub workflow_version: u32,
    pub expected_completion_on: Option<NaiveDate>,
    /// The leader's deadline currently set, if any.
    pub leader_deadline_on: Option<NaiveDate>,
}

/// Rules on a deadline change at `now` and words its audit entry; the reason in Vietnamese
/// when refused: a terminal task, a missing or malformed document number, a document dated in
/// the future, an implausible date, or a change that changes nothing.
pub fn check_change(
    facts: &DeadlineFacts<'_>,
    req: &DeadlineRequest,
    actor_user: &str,
    actor_role: Role,
    now: Instant,
) -> Result<AuditEntry, String> {
    if facts.phase.is_terminal() {
        return Err(format!(
            "Nhiệm vụ đã ở giai đoạn «{}»: không đặt lại thời hạn giao.",
            facts.phase.title()
        ));
    }
    if req.doc_number.trim().is_empty() {
        return Err(
            "Thiếu số hiệu văn bản quyết định thời hạn giao (--doc, ví dụ 123/QĐ-UBND).".into(),
        );
    }
    let number = clean_text(&req.doc_number, MAX_DOC_NUMBER_CHARS, false)
        .map_err(|e| e.describe("số hiệu văn bản"))?;
    let today = local_date(now);
    if req.doc_date > today {
        return Err(format!(
            "Ngày văn bản {} sau ngày hôm nay ({}).",
            format_date(req.doc_date),
            format_date(today)
        ));
    }
    if let Some(on) = req.on
        && !(2000..=2100).contains(&on.year())
    {
        return Err(format!("Thời hạn giao {} không hợp lệ.", format_date(on)));
    }
    if req.on == facts.leader_deadline_on {
        return Err(match req.on {
            Some(d) => format!(
                "Thời hạn giao đã là {}: không có gì thay đổi.",
                format_date(d)
            ),
            None => "Nhiệm vụ không có thời hạn giao do lãnh đạo đặt: không có gì để bỏ.".into(),
        });
    }
    let word = |d: Option<NaiveDate>| match d {
        Some(d) => format_date(d),
        None => "không có (thường xuyên)".into(),
    };
    let before = assigned_deadline(facts.expected_completion_on, facts.leader_deadline_on);
    let after = assigned_deadline(facts.expected_completion_on, req.on);
    let what = match req.on {
        Some(_) => "Đặt thời hạn giao",
        None => {
            "Bỏ thời hạn giao do lãnh đạo đặt, trở về thời gian dự kiến hoàn thành của kế hoạch"
        }
    };
    let comment = format!(
        "{what}: {} → {} (theo văn bản số {number} ngày {})",
        word(before),
        word(after),
        format_date(req.doc_date)
    );
    Ok(AuditEntry {
        transition: DEADLINE_TRANSITION.into(),
        actor_user: actor_user.to_string(),
        actor_role: Some(actor_role),
        from_state: Some(facts.state.to_string()),
        to_state: facts.state.to_string(),
        from_phase: Some(facts.phase),
        to_phase: facts.phase,
        comment: Some(comment),
        documents: Vec::new(),
        workflow: facts.workflow.to_string(),
        workflow_version: facts.workflow_version,
        at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(y: i32, m: u32, day: u32) -> Instant {
        at_local(d(y, m, day), NaiveTime::from_hms_opt(10, 0, 0).unwrap())
    }

    fn seen(phase: Phase, since: Instant, deadline: Option<NaiveDate>) -> Seen {
        Seen {
            phase,
            since,
            imported: false,
            deadline,
        }
    }

    #[test]
    fn a_leaders_deadline_replaces_the_plans() {
        assert_eq!(
            assigned_deadline(Some(d(2025, 12, 31)), Some(d(2026, 6, 30))),
            Some(d(2026, 6, 30))
        );
        assert_eq!(
            assigned_deadline(Some(d(2025, 12, 31)), None),
            Some(d(2025, 12, 31))
        );
        assert_eq!(assigned_deadline(None, None), None);
    }

    #[test]
    fn the_categories_judge_the_assigned_deadline_only() {
        let (from, to) = (d(2025, 1, 1), d(2025, 11, 5));
        let due = Some(d(2025, 12, 31));
        // An open task whose step is months late but whose assigned deadline is ahead: in time.
        assert_eq!(
            categorize(&seen(Phase::Appraisal, at(2025, 3, 1), due), from, to),
            Category::InProgress
        );
        // Its assigned deadline passed before the end of the range: overdue.
        let past = Some(d(2025, 10, 31));
        assert_eq!(
            categorize(&seen(Phase::Contract, at(2025, 3, 1), past), from, to),
            Category::Overdue
        );
        // The deadline day itself is still in time.
        assert_eq!(
            categorize(&seen(Phase::Contract, at(2025, 3, 1), Some(to)), from, to),
            Category::InProgress
        );
        // No assigned deadline: standing, not "trong hạn".
        assert_eq!(
            categorize(&seen(Phase::Contract, at(2025, 3, 1), None), from, to),
            Category::Standing
        );
        // Completed by the end of the deadline day, after it, before the range, by import.
        assert_eq!(
            categorize(&seen(Phase::Completed, at(2025, 10, 31), past), from, to),
            Category::CompletedOnTime
        );
        assert_eq!(
            categorize(&seen(Phase::Completed, at(2025, 11, 1), past), from, to),
            Category::CompletedLate
        );
        assert_eq!(
            categorize(&seen(Phase::Completed, at(2024, 12, 1), past), from, to),
            Category::CompletedBefore
        );
        let imported = Seen {
            imported: true,
            ..seen(Phase::Completed, at(2025, 11, 4), past)
        };
        assert_eq!(categorize(&imported, from, to), Category::CompletedOnTime);
        // A completed task that had no deadline could not miss it.
        assert_eq!(
            categorize(&seen(Phase::Completed, at(2025, 6, 1), None), from, to),
            Category::CompletedOnTime
        );
        assert_eq!(
            categorize(&seen(Phase::Postponed, at(2025, 6, 1), past), from, to),
            Category::Postponed
        );
        assert_eq!(
            categorize(&seen(Phase::Withdrawn, at(2025, 6, 1), None), from, to),
            Category::Withdrawn
        );
    }

    #[test]
    fn a_step_is_late_when_its_running_clock_passed() {
        let clock = Clock {
            state: "tham_dinh".into(),
            started_at: at(2025, 3, 1),
            due_at: at(2025, 3, 20),
            paused_at: None,
        };
        let end = at(2025, 4, 1);
        assert_eq!(
            step_late_since(Some(&clock), false, end),
            Some(at(2025, 3, 20))
        );
        assert_eq!(step_late_since(Some(&clock), true, end), None);
        assert_eq!(step_late_since(Some(&clock), false, at(2025, 3, 10)), None);
        let paused = Clock {
            paused_at: Some(at(2025, 3, 5)),
            ..clock
        };
        assert_eq!(step_late_since(Some(&paused), false, end), None);
        assert_eq!(step_late_since(None, false, end), None);
    }

    fn facts(leader: Option<NaiveDate>) -> DeadlineFacts<'static> {
        DeadlineFacts {
            state: "thuc_hien_hop_dong",
            phase: Phase::Contract,
            workflow: "mua-sam",
            workflow_version: 1,
            expected_completion_on: Some(d(2025, 12, 31)),
            leader_deadline_on: leader,
        }
    }

    fn req(on: Option<NaiveDate>, number: &str, date: NaiveDate) -> DeadlineRequest {
        DeadlineRequest {
            on,
            doc_number: number.into(),
            doc_date: date,
        }
    }

    #[test]
    fn a_change_is_audited_with_its_document() {
        let now = at(2025, 12, 1);
        let e = check_change(
            &facts(None),
            &req(Some(d(2026, 6, 30)), "620/TB-VP", d(2025, 11, 28)),
            "lanhdao.ubnd",
            Role::Ubnd,
            now,
        )
        .unwrap();
        assert_eq!(e.transition, DEADLINE_TRANSITION);
        assert_eq!(e.from_state.as_deref(), Some("thuc_hien_hop_dong"));
        assert_eq!(e.to_state, "thuc_hien_hop_dong");
        assert_eq!(
            e.comment.as_deref(),
            Some(
                "Đặt thời hạn giao: 31/12/2025 → 30/06/2026 (theo văn bản số 620/TB-VP ngày 28/11/2025)"
            )
        );
        let cleared = check_change(
            &facts(Some(d(2026, 6, 30))),
            &req(None, "700/QĐ-UBND", d(2025, 12, 1)),
            "lanhdao.ubnd",
            Role::Ubnd,
            now,
        )
        .unwrap();
        assert!(cleared.comment.unwrap().contains("30/06/2026 → 31/12/2025"),);
    }

    #[test]
    fn a_change_without_document_or_with_nothing_to_change_is_refused() {
        let now = at(2025, 12, 1);
        let refused = |f: &DeadlineFacts<'_>, r: &DeadlineRequest| {
            check_change(f, r, "u", Role::Ubnd, now).unwrap_err()
        };
        let on = Some(d(2026, 6, 30));
        assert!(refused(&facts(None), &req(on, "  ", d(2025, 11, 1))).contains("Thiếu số hiệu"));
        assert!(
            refused(&facts(None), &req(on, "1/QĐ", d(2025, 12, 2))).contains("sau ngày hôm nay")
        );
        assert!(
            refused(&facts(on), &req(on, "1/QĐ", d(2025, 11, 1))).contains("không có gì thay đổi")
        );
        assert!(
            refused(&facts(None), &req(None, "1/QĐ", d(2025, 11, 1))).contains("không có gì để bỏ")
        );
        assert!(
            refused(
                &facts(None),
                &req(Some(d(1900, 1, 1)), "1/QĐ", d(2025, 11, 1))
            )
            .contains("không hợp lệ")
        );
        let done = DeadlineFacts {
            phase: Phase::Completed,
            ..facts(None)
        };
        assert!(refused(&done, &req(on, "1/QĐ", d(2025, 11, 1))).contains("Hoàn thành"));
    }
}
