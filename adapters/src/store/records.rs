//! What the store holds and hands back: plain records, no behaviour. Records read from a row
//! derive `sqlx::FromRow`; the column adapters are in [`super::decode`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use engine::Phase;
use engine::Role;
use engine::decide::Clock;
use engine::domain::{FundingSource, UnitId};
use engine::time::Instant;
use serde::Serialize;

use super::decode::RawJson;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub merged_into: Option<String>,
    pub merged_on: Option<NaiveDate>,
}

/// A user. `roles` live in their own table and are read separately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub unit_id: Option<String>,
    #[sqlx(skip)]
    pub roles: Vec<Role>,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub unit_id: Option<String>,
    pub roles: Vec<Role>,
}

impl NewUser {
    /// A user holding one `role`, belonging to `unit` (or to none), with no e-mail address.
    pub fn with_role(username: &str, display_name: &str, role: Role, unit: Option<&str>) -> Self {
        NewUser {
            username: username.into(),
            display_name: display_name.into(),
            email: None,
            unit_id: unit.map(str::to_string),
            roles: vec![role],
        }
    }

    /// The same user, mailed at `email`.
    pub fn mailed_at(self, email: String) -> Self {
        NewUser {
            email: Some(email),
            ..self
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Plan {
    pub id: String,
    pub number: String,
    #[sqlx(try_from = "i64")]
    pub year: i32,
    pub title: String,
    pub issued_on: Option<NaiveDate>,
}

/// One year's money for a task, in đồng. `None` where the plan leaves the cell blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, sqlx::FromRow)]
pub struct BudgetLine {
    #[sqlx(try_from = "i64")]
    pub year: i32,
    pub need_total_vnd: Option<i64>,
    pub approved_estimate_vnd: Option<i64>,
    pub need_year_vnd: Option<i64>,
    pub allocated_year_vnd: Option<i64>,
    /// The year's planned allocation (dự kiến phân bổ), apart from the allocation. Read where
    /// a query selects `planned_allocation_vnd`.
    #[sqlx(default)]
    pub planned_allocation_vnd: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewTask {
    /// The plan's number, such as "215/KH-UBND".
    pub plan: String,
    pub unit_id: String,
    pub name: String,
    pub funding_source: FundingSource,
    /// The workflow name; the version is the latest that applies on the creation date.
    pub kind: String,
    pub period: Option<String>,
    pub is_rental: bool,
    /// The task spends the unit's own revenue: approval rules look at it (`own_fund`).
    pub own_fund: bool,
    pub budget: Vec<BudgetLine>,
}

/// A task, as [`super::tasks`] selects it (with its plan's number and its unit's name), decoded
/// by position ([`super::columns::Positional`]) on both backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: String,
    pub plan_id: String,
    pub plan_number: String,
    pub unit_id: String,
    pub unit_name: String,
    pub name: String,
    pub funding_source: String,
    pub kind: String,
    pub workflow: String,
    pub workflow_version: u32,
    pub state: String,
    pub phase: Phase,
    pub state_entered_at: Instant,
    pub version: i64,
    pub period: Option<String>,
    pub is_rental: bool,
    pub clock: Option<Clock>,
    pub paused_clock: Option<Clock>,
    pub transition_counts: BTreeMap<String, u32>,
    /// Which review the dossier is in (1, then one more per re-opening).
    pub review: u32,
    /// How many times each state was entered in the current review.
    pub state_entries: BTreeMap<String, u32>,
    pub due_at: Option<Instant>,
    pub audit_seq: i64,
    pub audit_head: String,
    pub created_at: Instant,
    pub updated_at: Instant,
    /// The task spends the unit's own revenue (`tasks.own_fund`).
    pub own_fund: bool,
    /// Its total need in đồng (the largest `need_total_vnd` of its budget lines), if known: what
    /// approval thresholds compare.
    pub amount_vnd: Option<i64>,
    /// The plan's expected completion ("Thời gian dự kiến hoàn thành"), when it is a date.
    pub expected_completion_on: Option<NaiveDate>,
    /// A deadline a leader set, replacing the plan's expected completion
    /// (`engine::assigned::assigned_deadline`).
    pub assigned_deadline_on: Option<NaiveDate>,
    /// The document that decided the last change of the assigned deadline.
    pub deadline_doc_number: Option<String>,
    pub deadline_doc_date: Option<NaiveDate>,
}

impl Task {
    /// The deadline the task was assigned (thời hạn giao), if any.
    pub fn assigned_deadline(&self) -> Option<NaiveDate> {
        engine::assigned::assigned_deadline(self.expected_completion_on, self.assigned_deadline_on)
    }
}

#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub plan: Option<String>,
    /// The owning unit: with the units merged into it for `Tasks::list_as` (as a search), that
    /// unit alone for `Unscoped::list`.
    pub unit: Option<UnitId>,
    pub phase: Option<Phase>,
    pub state: Option<String>,
    /// Only tasks whose current deadline has passed at this instant.
    pub overdue_at: Option<Instant>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Document {
    pub id: String,
    pub task_id: String,
    pub doc_type: String,
    pub number: Option<String>,
    pub issued_on: Option<NaiveDate>,
    pub issuer: Option<String>,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub stored_path: String,
    pub uploaded_by: String,
    pub uploaded_at: Instant,
}

#[derive(Debug, Clone)]
pub struct NewDocument {
    pub task_id: String,
    pub doc_type: String,
    pub number: Option<String>,
    pub issued_on: Option<NaiveDate>,
    pub issuer: Option<String>,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub stored_path: String,
}

/// A transition as requested by a user: see [`super::Tasks::transition_as`].
#[derive(Debug, Clone)]
pub struct TransitionRequest {
    pub task_id: String,
    pub transition: String,
    pub comment: Option<String>,
    pub document_ids: Vec<String>,
    /// The version the caller saw (HTTP `If-Match`, the CLI's `--if-version`).
    pub expected_version: Expected,
    pub idempotency_key: Option<String>,
}

impl TransitionRequest {
    /// `transition` on `task_id`, at whatever version, with no comment, document or idempotency
    /// key.
    pub fn new(task_id: &str, transition: &str) -> Self {
        TransitionRequest {
            task_id: task_id.into(),
            transition: transition.into(),
            comment: None,
            document_ids: Vec::new(),
            expected_version: Expected::Any,
            idempotency_key: None,
        }
    }

    /// The same request with `comment`.
    pub fn commented(self, comment: Option<&str>) -> Self {
        TransitionRequest {
            comment: comment.map(str::to_string),
            ..self
        }
    }

    /// The same request citing `document_ids`.
    pub fn citing(self, document_ids: Vec<String>) -> Self {
        TransitionRequest {
            document_ids,
            ..self
        }
    }
}

/// What a change expects of the task's version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Expected {
    /// Whatever the current version is.
    #[default]
    Any,
    /// This version, else a conflict naming the current one.
    Version(i64),
    /// One of these versions (an `If-Match` list), else a conflict naming the first.
    OneOf(Vec<i64>),
    /// A precondition no version can meet (a weak or non-numeric `If-Match` tag): refused
    /// as [`super::StoreError::PreconditionFailed`] once the task is known to be visible.
    Never,
}

/// What a transition produced; replaying an idempotency key returns the first one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TransitionOutcome {
    pub task_id: String,
    pub version: i64,
    pub state: String,
    pub phase: Phase,
    pub audit_id: i64,
    pub audit_seq: i64,
    #[serde(default)]
    pub replayed: bool,
    /// The title of the state the task is now in, for people (not kept with an idempotency
    /// key: filled in from the workflow when answered).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state_title: String,
    /// For UBND's acceptance of a carry-over (chuyển nguồn), which leaves the task in its step:
    /// the funds carried and the years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_over: Option<CarriedOver>,
}

/// Funds carried over to next year by UBND's acceptance of a unit's proposal (chuyển nguồn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CarriedOver {
    /// The year whose unspent allocation is carried.
    pub from_year: i32,
    /// The year it is carried into (its budget line's `carried_over_vnd`).
    pub to_year: i32,
    pub amount_vnd: i64,
}

/// Which tasks `tiendo workflows migrate` moves: one task, or every task of a version in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationSelection {
    Task(String),
    State { state: String, from_version: u32 },
}

/// One task moved onto a new workflow version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub task_id: String,
    pub task_name: String,
    pub from_version: u32,
    pub from_state: String,
    pub outcome: TransitionOutcome,
}

/// What a change of a task's assigned deadline produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineOutcome {
    pub task_id: String,
    pub version: i64,
    /// The plan's expected completion, unchanged.
    pub expected_completion_on: Option<NaiveDate>,
    /// The leader's deadline now set (`None`: cleared).
    pub assigned_deadline_on: Option<NaiveDate>,
    /// The deadline the reports now judge.
    pub assigned_deadline: Option<NaiveDate>,
    pub doc_number: String,
    pub doc_date: NaiveDate,
    pub audit_id: i64,
    pub audit_seq: i64,
    /// The audit entry's comment: what changed, in Vietnamese.
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TimerRecord {
    pub id: String,
    pub task_id: String,
    pub state: String,
    pub kind: String,
    #[sqlx(try_from = "RawJson")]
    pub spec: serde_json::Value,
    pub fire_at: Instant,
    pub due_at: Instant,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct OutboxRecord {
    pub id: String,
    pub task_id: Option<String>,
    pub template: String,
    #[sqlx(try_from = "RawJson")]
    pub payload: serde_json::Value,
    pub status: String,
    pub attempts: i64,
    pub created_at: Instant,
}
