//! Declared workflows: the steps of one kind of task, mapped onto the legal backbone.
//!
//! A workflow is data (`workflows/*.toml`), parsed and checked by [`load`], bound to the
//! working-day [`Calendar`] it names, and gathered with the others in a [`Catalog`]. [`decide`]
//! reads it; nothing mutates it after loading.
//!
//! [`decide`]: crate::decide::decide

mod approval;
mod catalog;
mod decisions;
mod durations;
mod load;
mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::calendar::{Calendar, CalendarError};
use crate::phase::Phase;
use crate::role::Role;
use crate::time::{Instant, IsoDuration};

pub use approval::{Approval, ApprovalFacts, ApprovalRule, Authority, AuthorityUnit, Resolved};
pub use catalog::{Catalog, Source};
pub use decisions::RecordedDecision;
pub use durations::{Durations, Figure, FigureKind, SelectionMethod, StateDurations, StepDuration};
pub use load::{LoadError, parse_workflow};
pub use render::{mermaid, table};

/// One declared workflow, version and all.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: String,
    pub title: String,
    pub version: u32,
    pub legal_basis: Vec<String>,
    pub applies_from: NaiveDate,
    pub applies_until: Option<NaiveDate>,
    pub calendar: Arc<Calendar>,
    pub initial: String,
    pub stall_after_working_days: Option<u32>,
    /// Document type id → Vietnamese title.
    pub document_types: BTreeMap<String, String>,
    /// Document type id → the roles that may issue (upload) it; a type not listed may be
    /// uploaded by anyone who may attach to the task.
    pub document_issuers: BTreeMap<String, Vec<Role>>,
    /// Approval authorities (`[approvals.NAME]`) by name: who approves, resolved per task.
    pub approvals: BTreeMap<String, Approval>,
    pub states: Vec<State>,
    pub transitions: Vec<Transition>,
    /// Decisions recorded on a task that leave it in its step (`[[decisions]]`): accepting a
    /// carry-over of funds (chuyển nguồn).
    pub decisions: Vec<RecordedDecision>,
    /// How long steps take, for the year-end forecast (`[durations.*]`, `[selection_methods.*]`).
    pub durations: Durations,
    /// How tasks of older versions are moved onto this one (`[[migrate_from]]`).
    pub migrate_from: Vec<Migration>,
    /// The file it was read from, for messages.
    pub file: String,
}

/// A declared state mapping from an older version of the same workflow (`[[migrate_from]]`):
/// every state of that version to a state of this one. The catalog refuses a mapping that leaves
/// a state of the older version unmapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub from_version: u32,
    /// Older state → state of this version.
    pub states: BTreeMap<String, String>,
    /// Where it is declared, for messages.
    pub line: usize,
}

impl Workflow {
    /// The mapping declared from `version`, if any.
    pub fn migration_from(&self, version: u32) -> Option<&Migration> {
        self.migrate_from.iter().find(|m| m.from_version == version)
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub phase: Phase,
    pub title: String,
    /// Whose turn it is while a task is here. For a state with an `approval`, every role the
    /// authority can name; [`Workflow::turn`] resolves it for one task.
    pub roles: Vec<Role>,
    /// The approval authority whose turn it is here (`approval = "NAME"`), resolved per task.
    pub approval: Option<String>,
    pub deadline: Option<Deadline>,
}

#[derive(Debug, Clone)]
pub struct Transition {
    pub name: String,
    pub title: String,
    pub from: Vec<String>,
    pub to: String,
    /// For a transition with an `approval`, every role the authority can name; `decide` checks
    /// the one resolved for the task.
    pub roles: Vec<Role>,
    /// The approval authority that must take it (`approval = "NAME"`): its role, in its unit.
    pub approval: Option<String>,
    /// The actor must belong to the task's own unit.
    pub own_unit: bool,
    /// Document types that must be attached.
    pub documents: Vec<String>,
    pub comment_required: bool,
    /// How many times this transition may be taken in one review of the dossier (revision
    /// rounds).
    pub max_repeats: Option<u32>,
    /// Taking it re-opens the dossier for a new review (a scale adjustment, a new year's plan):
    /// the round counts, and so every `max_repeats`, start again.
    pub opens_review: bool,
}

/// A time limit on a state, measured from entry into it.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    pub amount: Amount,
    /// A limit the law sets (with its source) or a target the city set itself.
    pub kind: DeadlineKind,
    /// States in which this clock stops.
    pub pause_in: Vec<String>,
    /// What the dossier's return from a `pause_in` state does to the clock.
    pub on_return: OnReturn,
    /// A request for more documents (a move into a `pause_in` state) is allowed only within
    /// this much of the start of the period (TT 03/2020: 5 working days; NĐ 73/2019 Điều 56: 3).
    pub request_within: Option<Amount>,
    /// Fractions of the period at which to remind; 1.0 is the due notice.
    pub remind_at: Vec<f64>,
    pub repeat_overdue_every: Option<Amount>,
    pub escalate_after: Option<Escalation>,
    /// A transition taken automatically when the deadline passes.
    pub on_expiry: Option<String>,
}

/// Whose limit a deadline is: the law's, or the city's own target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadlineKind {
    /// Set by law; `source` names the article ("Thông tư 03/2020/TT-BTTTT").
    Statutory { source: String },
    /// A target the city set for itself; `source` optionally names the decision that set it.
    Internal { source: Option<String> },
}

impl DeadlineKind {
    /// `statutory` or `internal`, as written in the file.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeadlineKind::Statutory { .. } => "statutory",
            DeadlineKind::Internal { .. } => "internal",
        }
    }

    /// The Vietnamese label.
    pub fn label(&self) -> &'static str {
        match self {
            DeadlineKind::Statutory { .. } => "thời hạn luật định",
            DeadlineKind::Internal { .. } => "mục tiêu nội bộ",
        }
    }

    /// "thời hạn luật định: Thông tư 03/2020/TT-BTTTT", "mục tiêu nội bộ": how messages and
    /// pages name it.
    pub fn describe(&self) -> String {
        match self.source() {
            Some(src) => format!("{}: {src}", self.label()),
            None => self.label().to_string(),
        }
    }

    pub fn source(&self) -> Option<&str> {
        match self {
            DeadlineKind::Statutory { source } => Some(source),
            DeadlineKind::Internal { source } => source.as_deref(),
        }
    }

    /// Who hears of a missed deadline when `escalate_after` names nobody, for a state whose turn
    /// is `turn`: UBND for the law's limits; for the city's own targets, the leadership of whoever
    /// holds the ball, so that a late appraiser's own director hears first (`lanh_dao_so` for an
    /// appraising department's step, the head of the unit for a unit's step, UBND otherwise).
    pub fn default_escalation(&self, turn: &[Role]) -> Vec<Role> {
        match self {
            DeadlineKind::Statutory { .. } => vec![Role::Ubnd],
            DeadlineKind::Internal { .. } if turn.iter().any(|r| r.is_appraiser()) => {
                vec![Role::LanhDaoSo]
            }
            DeadlineKind::Internal { .. } if turn.iter().any(|r| r.is_unit_role()) => {
                vec![Role::ThuTruongDonVi]
            }
            DeadlineKind::Internal { .. } => vec![Role::Ubnd],
        }
    }
}

/// What a dossier coming back from a pause does to the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnReturn {
    /// The clock goes on where it stopped; the deadline moves out by the time spent paused.
    #[default]
    Resume,
    /// A fresh full period from the day the complete dossier comes back ("kể từ ngày nhận đủ hồ
    /// sơ hợp lệ").
    Restart,
}

impl OnReturn {
    pub fn as_str(self) -> &'static str {
        match self {
            OnReturn::Resume => "resume",
            OnReturn::Restart => "restart",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub after: Amount,
    pub to: Vec<Role>,
}

/// How long: the law counts working days or calendar days; ISO durations serve short limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    WorkingDays(u32),
    Days(u32),
    Iso(IsoDuration),
}

impl Amount {
    /// The instant this amount ends when counted from `start` on `calendar`.
    pub fn after(&self, calendar: &Calendar, start: Instant) -> Result<Instant, CalendarError> {
        match self {
            Amount::WorkingDays(n) => calendar.working_days_after(start, *n),
            Amount::Days(n) => calendar.calendar_days_after(start, *n),
            Amount::Iso(d) => d.after(start).ok_or(CalendarError::Overflow),
        }
    }
}

impl Workflow {
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }

    pub fn transition(&self, name: &str) -> Option<&Transition> {
        self.transitions.iter().find(|t| t.name == name)
    }

    /// The declared decision accepting `kind` from `state`, if any.
    pub fn decision_from(
        &self,
        state: &str,
        kind: crate::proposal::ProposalKind,
    ) -> Option<&RecordedDecision> {
        self.decisions
            .iter()
            .find(|d| d.proposal == kind && d.from.iter().any(|f| f == state))
    }

    /// The transitions that leave `state`, in declaration order.
    pub fn transitions_from<'a>(
        &'a self,
        state: &'a str,
    ) -> impl Iterator<Item = &'a Transition> + 'a {
        self.transitions
            .iter()
            .filter(move |t| t.from.iter().any(|f| f == state))
    }

    /// The authority a transition or state names, resolved for a task with these facts; `None`
    /// when it names none.
    pub fn authority(&self, approval: Option<&str>, f: &ApprovalFacts<'_>) -> Option<Resolved> {
        self.approvals.get(approval?).map(|a| a.resolve(f))
    }

    /// Whose turn it is in `state` on a task with these facts: the resolved authority of a state
    /// with an `approval` (its role, and the unit it must act in, `None` for any), otherwise the
    /// state's roles, unit roles acting in the task's own unit.
    pub fn turn(&self, state: &str, f: &ApprovalFacts<'_>) -> (Vec<Role>, Option<String>) {
        let Some(s) = self.state(state) else {
            return (Vec::new(), None);
        };
        match self.authority(s.approval.as_deref(), f) {
            Some(r) => (vec![r.role], r.unit),
            None => (s.roles.clone(), None),
        }
    }

    /// Whether a task may start on this version on `date`.
    pub fn applies_on(&self, date: NaiveDate) -> bool {
        date >= self.applies_from && self.applies_until.is_none_or(|u| date <= u)
    }

    /// The deadline clock that `state` keeps alive while it is paused: the deadline of the state
    /// whose `pause_in` lists `state`, if the task came from there.
    pub fn pausing_deadline(&self, paused_in: &str, owner: &str) -> Option<&Deadline> {
        self.state(owner)?
            .deadline
            .as_ref()
            .filter(|d| d.pause_in.iter().any(|p| p == paused_in))
    }
}
