//! What people read on the pages: dates dd/mm/yyyy, amounts in million đồng written 1.234,5,
//! a task's deadline with its working days left and its status in words (trong hạn / sắp đến
//! hạn / quá hạn, never colour alone), and a task as a row of a list. The words come from the
//! engine ([`engine::wording`], as in emails and the API); this module only assembles them.

use chrono::NaiveDate;
use engine::decide::{Actor, Available, Unmet};
use engine::money::format_million_vnd;
use engine::time::{Instant, format_date, format_instant, local_date};
use engine::wording::time_left;
use engine::workflow::Workflow;

use crate::store::{Task, TaskItem};

pub fn date(d: NaiveDate) -> String {
    format_date(d)
}

/// dd/mm/yyyy HH:MM, Hải Phòng time.
pub fn instant(at: Instant) -> String {
    format_instant(at)
}

/// Million đồng, one decimal at most (1.234,5); "—" for a blank cell.
pub fn money(dong: Option<i64>) -> String {
    dong.map_or_else(|| "—".to_string(), |d| format_million_vnd(d, 1))
}

/// A file size in words.
pub fn size(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!(
            "{} MB",
            format_million_vnd(bytes * 10 / 1024 / 1024 * 100_000, 1)
        )
    } else if bytes >= 1024 {
        format!("{} KB", (bytes + 512) / 1024)
    } else {
        format!("{bytes} byte")
    }
}

/// A task's current deadline as the pages show it.
#[derive(Debug, Clone)]
pub struct Deadline {
    /// dd/mm/yyyy of the deadline, or "—".
    pub date: String,
    /// dd/mm/yyyy HH:MM, or "".
    pub at: String,
    /// "còn 3 ngày làm việc", "quá hạn 2 ngày làm việc", "tạm dừng…", or "".
    pub left: String,
    /// The status in words.
    pub label: &'static str,
    /// The status's stable name, for the style (`on_time`, `due_soon`, `overdue`…).
    pub class: &'static str,
}

/// The deadline of `t`'s current step at `now`, counted on its workflow's calendar, worded as
/// everywhere else ([`engine::wording::time_left`]).
pub fn deadline(wf: Option<&Workflow>, t: &Task, now: Instant) -> Deadline {
    match t.clock.as_ref().or(t.paused_clock.as_ref()) {
        Some(c) => {
            let left = time_left(wf, c, now);
            let status = left.status();
            Deadline {
                date: format_date(local_date(c.due_at)),
                at: format_instant(c.due_at),
                left: left.to_string(),
                label: status.label(),
                class: status.as_str(),
            }
        }
        None => Deadline {
            date: "—".into(),
            at: String::new(),
            left: String::new(),
            label: "không có thời hạn",
            class: "none",
        },
    }
}

/// A transition the viewer may take now, as a link to its form on the task page.
#[derive(Debug, Clone)]
pub struct Action {
    pub title: String,
    pub href: String,
}

/// Whether `a` is one the actor may take now: what is still missing (documents, a comment) goes
/// with the form; a wrong role, another unit or an exhausted round limit cannot be supplied.
pub fn can_take(a: &Available) -> bool {
    !a.unmet.iter().any(|u| {
        matches!(
            u,
            Unmet::Role { .. } | Unmet::OwnUnit | Unmet::Unit { .. } | Unmet::RoundLimit { .. }
        )
    })
}

/// A task as a row of a list.
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub id: String,
    pub href: String,
    pub name: String,
    pub unit: String,
    pub plan: String,
    pub kind: String,
    pub phase: String,
    pub step: String,
    pub deadline: Deadline,
    pub stalled: bool,
    pub updated: String,
    pub actions: Vec<Action>,
}

impl TaskRow {
    pub fn new(item: &TaskItem, actor: &Actor, now: Instant) -> TaskRow {
        let t = &item.task;
        let wf = item.workflow.as_deref();
        let href = format!("/tasks/{}", t.id);
        let actions = item
            .available(actor)
            .into_iter()
            .filter(can_take)
            .map(|a| Action {
                href: format!("{href}#hanh-dong-{}", a.transition),
                title: a.title,
            })
            .collect();
        TaskRow {
            id: t.id.clone(),
            name: t.name.clone(),
            unit: t.unit_name.clone(),
            plan: t.plan_number.clone(),
            kind: wf.map_or_else(|| t.kind.clone(), |w| w.title.clone()),
            phase: t.phase.title().to_string(),
            step: wf
                .and_then(|w| w.state(&t.state))
                .map_or_else(|| t.state.clone(), |s| s.title.clone()),
            deadline: deadline(wf, t, now),
            stalled: item.stalled,
            updated: format_instant(t.updated_at),
            actions,
            href,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_sizes_read_the_vietnamese_way() {
        assert_eq!(money(Some(1_234_500_000)), "1.234,5");
        assert_eq!(money(None), "—");
        assert_eq!(size(2048), "2 KB");
        assert_eq!(size(3 * 1024 * 1024 / 2), "1,5 MB");
        assert_eq!(size(10), "10 byte");
    }
}
