//! What the API sends and receives: plain JSON shapes with OpenAPI schemas, and their
//! conversions from the store's records. Request bodies refuse unknown fields, so a typo is a
//! 400 naming the field rather than a silently ignored value.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use engine::decide::{Available, Unmet};
use engine::time::format_instant;
use engine::workflow::Workflow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{
    Account, ApiToken, AuditRecord, BudgetLine, Credential, Document, Identity, Listing,
    OutboxEntry, Plan, TaskItem, TransitionOutcome, Unit, User,
};

// ---------------------------------------------------------------------------------------------
// Identity and users

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub unit_id: Option<String>,
    /// The units this user acts for: their own, then those merged into it.
    pub units: Vec<String>,
    /// The roles in effect for this credential (none for a metrics token).
    pub roles: Vec<String>,
    /// `full` or `metrics`.
    pub scope: String,
    /// `session` or `token`.
    pub credential: String,
}

impl From<&Identity> for MeView {
    fn from(i: &Identity) -> Self {
        MeView {
            username: i.user.username.clone(),
            display_name: i.user.display_name.clone(),
            email: i.user.email.clone(),
            unit_id: i.user.unit_id.clone(),
            units: i.actor.units.clone(),
            roles: i
                .actor
                .roles
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            scope: i.scope.as_str().to_string(),
            credential: match i.credential {
                Credential::Session { .. } => "session".into(),
                Credential::Token { .. } => "token".into(),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedInView {
    pub me: MeView,
    /// When the session expires if unused (it slides forward with use).
    pub expires_at: DateTime<Utc>,
    /// When it expires whatever happens.
    pub absolute_until: DateTime<Utc>,
}

/// What a password change revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChangedView {
    /// Sessions revoked (the caller's own included: sign in again).
    pub revoked_sessions: u64,
    /// API tokens revoked: integrations need new tokens.
    pub revoked_tokens: u64,
    /// The same, in a sentence.
    pub detail: String,
}

impl From<crate::store::PasswordChanged> for PasswordChangedView {
    fn from(c: crate::store::PasswordChanged) -> Self {
        PasswordChangedView {
            revoked_sessions: c.revoked_sessions,
            revoked_tokens: c.revoked_tokens,
            detail: c.message(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub unit_id: Option<String>,
    pub roles: Vec<String>,
    pub disabled: bool,
    /// Whether a password is set (only in administrators' lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_password: Option<bool>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            email: u.email,
            unit_id: u.unit_id,
            roles: u.roles.iter().map(|r| r.as_str().to_string()).collect(),
            disabled: u.disabled,
            has_password: None,
        }
    }
}

impl From<Account> for UserView {
    fn from(a: Account) -> Self {
        let mut v = UserView::from(a.user);
        v.has_password = Some(a.has_password);
        v
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub username: String,
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        TokenView {
            id: t.id,
            username: t.username,
            name: t.name,
            prefix: t.prefix,
            scope: t.scope,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A token just issued. `secret` is shown this once: tiendo keeps only its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedTokenView {
    pub token: TokenView,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

// ---------------------------------------------------------------------------------------------
// Directory

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitView {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub merged_into: Option<String>,
    pub merged_on: Option<NaiveDate>,
}

impl From<Unit> for UnitView {
    fn from(u: Unit) -> Self {
        UnitView {
            id: u.id,
            name: u.name,
            parent_id: u.parent_id,
            merged_into: u.merged_into,
            merged_on: u.merged_on,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub id: String,
    /// Such as `215/KH-UBND`; in a URL path, encode the slash: `215%2FKH-UBND`.
    pub number: String,
    pub year: i32,
    pub title: String,
    pub issued_on: Option<NaiveDate>,
}

impl From<Plan> for PlanView {
    fn from(p: Plan) -> Self {
        PlanView {
            id: p.id,
            number: p.number,
            year: p.year,
            title: p.title,
            issued_on: p.issued_on,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tasks

/// A task in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskSummary {
    pub id: String,
    pub plan_id: String,
    pub plan_number: String,
    pub unit_id: String,
    pub unit_name: String,
    pub name: String,
    pub funding_source: String,
    /// The workflow name (`mua-sam`, …).
    pub kind: String,
    pub workflow: String,
    pub workflow_version: u32,
    pub state: String,
    pub state_title: String,
    pub phase: String,
    pub phase_title: String,
    /// The task's version: send it back in `If-Match` (as `"N"`) when taking a transition.
    pub version: i64,
    pub period: Option<String>,
    pub is_rental: bool,
    /// The unit spends its own revenue: the workflow's `own_fund` approval rules apply.
    pub own_fund: bool,
    pub state_entered_at: DateTime<Utc>,
    /// The current deadline, if the current step has one.
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// Not moved for the workflow's stall period.
    pub stalled: bool,
    /// The current step is the caller's to take.
    pub my_turn: bool,
    /// Whose turn it is.
    pub turn_roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TaskSummary {
    /// The task as the caller sees it at `now`.
    pub fn new(item: &TaskItem, now: DateTime<Utc>) -> TaskSummary {
        let t = &item.task;
        TaskSummary {
            id: t.id.clone(),
            plan_id: t.plan_id.clone(),
            plan_number: t.plan_number.clone(),
            unit_id: t.unit_id.clone(),
            unit_name: t.unit_name.clone(),
            name: t.name.clone(),
            funding_source: t.funding_source.clone(),
            kind: t.kind.clone(),
            workflow: t.workflow.clone(),
            workflow_version: t.workflow_version,
            state: t.state.clone(),
            state_title: item.state_title().to_string(),
            phase: t.phase.as_str().to_string(),
            phase_title: t.phase.title().to_string(),
            version: t.version,
            period: t.period.clone(),
            is_rental: t.is_rental,
            own_fund: t.own_fund,
            state_entered_at: t.state_entered_at,
            due_at: t.due_at,
            overdue: t.due_at.is_some_and(|d| d < now),
            stalled: item.stalled,
            my_turn: item.my_turn,
            turn_roles: item
                .turn_roles()
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub items: Vec<TaskSummary>,
    /// Matching tasks on all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The current deadline and how much of it is left.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineView {
    /// The state the deadline belongs to.
    pub state: String,
    pub due_at: DateTime<Utc>,
    /// `dd/mm/yyyy HH:MM`, Hải Phòng time.
    pub due_text: String,
    /// Working days left (negative: overdue by that many); absent while paused or when the
    /// calendar does not cover the dates.
    pub working_days_left: Option<i64>,
    /// "còn 3 ngày làm việc", "hạn hôm nay", "quá hạn 2 ngày làm việc", "tạm dừng…"
    /// (`engine::wording`, as in email and on the command line).
    pub time_left_text: String,
    /// `on_time`, `due_soon` (within 2 working days), `overdue` or `paused`.
    pub status: String,
    /// The clock is stopped while the dossier is back with the unit.
    pub paused: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetView {
    pub year: i32,
    /// Amounts in đồng.
    pub need_total_vnd: Option<i64>,
    pub approved_estimate_vnd: Option<i64>,
    pub need_year_vnd: Option<i64>,
    pub allocated_year_vnd: Option<i64>,
    /// The year's planned allocation (dự kiến phân bổ), apart from the allocation.
    pub planned_allocation_vnd: Option<i64>,
}

impl From<BudgetLine> for BudgetView {
    fn from(b: BudgetLine) -> Self {
        BudgetView {
            year: b.year,
            need_total_vnd: b.need_total_vnd,
            approved_estimate_vnd: b.approved_estimate_vnd,
            need_year_vnd: b.need_year_vnd,
            allocated_year_vnd: b.allocated_year_vnd,
            planned_allocation_vnd: b.planned_allocation_vnd,
        }
    }
}

/// One plan a task is listed in (a task continues across yearly plans).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingView {
    pub plan_id: String,
    pub plan_number: String,
    pub plan_year: i32,
    pub plan_title: String,
    /// The section (appendix) the task is printed in, as the plan's layout names it.
    pub section: String,
    /// `thuong_xuyen`, `chuyen_tiep`, `moi`, `dau_tu_cong` …
    pub category: Option<String>,
    pub category_title: Option<String>,
    /// TT as printed.
    pub printed_seq: Option<String>,
    pub unit_printed: Option<String>,
    pub name_printed: Option<String>,
    /// How the task did in that plan year (`hoan_thanh_nam`, `theo_tien_do`, `cham`,
    /// `chua_trien_khai`, `dung_thuc_hien`), apart from its lifecycle.
    pub year_status: Option<String>,
    pub year_status_title: Option<String>,
    pub year_status_note: Option<String>,
    /// That year's budget line, in đồng.
    pub budget: Option<ListingBudgetView>,
}

/// A listing's budget line, in đồng.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingBudgetView {
    pub year: i32,
    pub need_total_vnd: Option<i64>,
    pub approved_estimate_vnd: Option<i64>,
    pub need_year_vnd: Option<i64>,
    /// The year's planned allocation (dự kiến phân bổ), apart from the allocation.
    pub planned_allocation_vnd: Option<i64>,
    pub allocated_year_vnd: Option<i64>,
    /// Carried over from the previous year (chuyển nguồn).
    pub carried_over_vnd: Option<i64>,
    pub spent_vnd: Option<i64>,
}

impl From<Listing> for ListingView {
    fn from(l: Listing) -> Self {
        ListingView {
            plan_id: l.plan_id,
            plan_number: l.plan_number,
            plan_year: l.plan_year,
            plan_title: l.plan_title,
            section: l.section,
            category: l.category,
            category_title: l.category_title,
            printed_seq: l.printed_seq,
            unit_printed: l.unit_printed,
            name_printed: l.name_printed,
            year_status: l.year_status.map(|y| y.as_str().to_string()),
            year_status_title: l.year_status_title,
            year_status_note: l.year_status_note,
            budget: l.budget.map(|b| ListingBudgetView {
                year: b.year,
                need_total_vnd: b.need_total_vnd,
                approved_estimate_vnd: b.approved_estimate_vnd,
                need_year_vnd: b.need_year_vnd,
                planned_allocation_vnd: b.planned_allocation_vnd,
                allocated_year_vnd: b.allocated_year_vnd,
                carried_over_vnd: b.carried_over_vnd,
                spent_vnd: b.spent_vnd,
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: String,
    pub task_id: String,
    pub doc_type: String,
    pub number: Option<String>,
    pub issued_on: Option<NaiveDate>,
    pub issuer: Option<String>,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    /// Where to download the file.
    pub href: String,
}

impl From<Document> for DocumentView {
    fn from(d: Document) -> Self {
        DocumentView {
            href: format!("/api/v1/documents/{}", d.id),
            id: d.id,
            task_id: d.task_id,
            doc_type: d.doc_type,
            number: d.number,
            issued_on: d.issued_on,
            issuer: d.issuer,
            file_name: d.file_name,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            uploaded_by: d.uploaded_by,
            uploaded_at: d.uploaded_at,
        }
    }
}

/// One thing a transition still needs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NeedView {
    /// `role`, `own_unit`, `document`, `comment` or `round_limit`.
    pub need: String,
    /// In Vietnamese.
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl From<&Unmet> for NeedView {
    fn from(u: &Unmet) -> Self {
        let mut v = NeedView {
            need: String::new(),
            detail: u.to_string(),
            roles: None,
            doc_type: None,
            limit: None,
        };
        match u {
            Unmet::Role { allowed } => {
                v.need = "role".into();
                v.roles = Some(allowed.iter().map(|r| r.as_str().to_string()).collect());
            }
            Unmet::OwnUnit => v.need = "own_unit".into(),
            Unmet::Unit { .. } => v.need = "unit".into(),
            Unmet::Document { doc_type, .. } => {
                v.need = "document".into();
                v.doc_type = Some(doc_type.clone());
            }
            Unmet::Comment => v.need = "comment".into(),
            Unmet::RoundLimit { limit } => {
                v.need = "round_limit".into();
                v.limit = Some(*limit);
            }
        }
        v
    }
}

/// A transition out of the current state, and what the caller still lacks to take it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AvailableView {
    pub transition: String,
    pub title: String,
    pub to: String,
    pub to_title: String,
    /// Whether the caller may take it now (documents and a comment, when required, still go
    /// with the request: they are listed in `needs` either way).
    pub allowed_now: bool,
    pub needs: Vec<NeedView>,
}

impl AvailableView {
    pub fn new(a: &Available, wf: Option<&Workflow>) -> AvailableView {
        AvailableView {
            transition: a.transition.clone(),
            title: a.title.clone(),
            to: a.to.clone(),
            to_title: wf
                .and_then(|w| w.state(&a.to))
                .map_or_else(|| a.to.clone(), |s| s.title.clone()),
            allowed_now: !a.unmet.iter().any(|u| {
                matches!(
                    u,
                    Unmet::Role { .. }
                        | Unmet::OwnUnit
                        | Unmet::Unit { .. }
                        | Unmet::RoundLimit { .. }
                )
            }),
            needs: a.unmet.iter().map(NeedView::from).collect(),
        }
    }
}

/// The deadline the task was assigned (thời hạn giao), which the status report judges: a
/// leader's deadline, else the plan's expected completion, else none (a standing task).
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignedDeadlineView {
    /// yyyy-mm-dd; absent for a standing task ("Thường xuyên").
    #[schema(value_type = Option<String>, format = Date)]
    pub on: Option<NaiveDate>,
    /// dd/mm/yyyy, or "không có (nhiệm vụ thường xuyên)".
    pub text: String,
    /// `leader` (set by `PUT /tasks/{id}/deadline`), `plan` (the plan's expected completion) or
    /// `none`.
    pub source: String,
    /// The plan's expected completion, yyyy-mm-dd.
    #[schema(value_type = Option<String>, format = Date)]
    pub expected_completion_on: Option<NaiveDate>,
    /// The document that decided the last change.
    pub doc_number: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub doc_date: Option<NaiveDate>,
}

impl AssignedDeadlineView {
    /// The view of a leader's deadline (if set) over the plan's expected completion.
    pub fn new(
        leader: Option<NaiveDate>,
        plan: Option<NaiveDate>,
        doc_number: Option<String>,
        doc_date: Option<NaiveDate>,
    ) -> AssignedDeadlineView {
        let on = engine::assigned::assigned_deadline(plan, leader);
        AssignedDeadlineView {
            on,
            text: on
                .map(engine::time::format_date)
                .unwrap_or_else(|| "không có (nhiệm vụ thường xuyên)".into()),
            source: match (leader, plan) {
                (Some(_), _) => "leader",
                (None, Some(_)) => "plan",
                (None, None) => "none",
            }
            .into(),
            expected_completion_on: plan,
            doc_number,
            doc_date,
        }
    }

    pub fn of(t: &crate::store::Task) -> AssignedDeadlineView {
        Self::new(
            t.assigned_deadline_on,
            t.expected_completion_on,
            t.deadline_doc_number.clone(),
            t.deadline_doc_date,
        )
    }
}

/// `PUT /tasks/{id}/deadline`: the new assigned deadline and the document that decided it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineBody {
    /// yyyy-mm-dd or dd/mm/yyyy; `null` clears the leader's deadline (the plan's expected
    /// completion applies again).
    pub on: Option<String>,
    /// The deciding document's number, e.g. "620/TB-VP".
    pub doc_number: String,
    /// The deciding document's date, yyyy-mm-dd or dd/mm/yyyy; not in the future.
    pub doc_date: String,
}

/// What a change of the assigned deadline produced.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineSetView {
    pub task_id: String,
    /// The task's new version.
    pub version: i64,
    pub assigned_deadline: AssignedDeadlineView,
    pub audit_id: i64,
    /// The audit entry's comment (Vietnamese).
    pub comment: String,
}

/// A task with everything the caller needs to act on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskDetail {
    #[serde(flatten)]
    pub summary: TaskSummary,
    pub deadline: Option<DeadlineView>,
    pub assigned_deadline: AssignedDeadlineView,
    pub budget: Vec<BudgetView>,
    /// Every plan the task is listed in, oldest year first, with that year's budget line.
    pub listings: Vec<ListingView>,
    pub documents: Vec<DocumentView>,
    /// The transitions from the current state, each with what the caller still lacks.
    pub available: Vec<AvailableView>,
    /// The owning unit's proposals to postpone or withdraw it (at most one `pending`).
    pub proposals: Vec<ProposalView>,
    /// The year-end forecast as of now; absent for a finished, postponed or withdrawn task.
    pub forecast: Option<ForecastView>,
}

/// A proposal, pending or decided.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalView {
    pub id: String,
    pub task_id: String,
    /// `postpone` | `withdraw`.
    pub kind: String,
    pub letter: String,
    pub letter_date: Option<chrono::NaiveDate>,
    /// "văn bản số 5796/SVHTTDL-KHTC ngày 04/11/2025".
    pub letter_text: String,
    /// "Đề xuất rút khỏi kế hoạch (văn bản số …)".
    pub text: String,
    pub comment: Option<String>,
    pub from_state: String,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    /// `pending` | `accepted` | `refused`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_comment: Option<String>,
}

impl From<crate::store::ProposalRecord> for ProposalView {
    fn from(p: crate::store::ProposalRecord) -> Self {
        ProposalView {
            letter_text: p.letter_reference(),
            text: p.describe(),
            id: p.id,
            task_id: p.task_id,
            kind: p.kind,
            letter: p.letter_number,
            letter_date: p.letter_date,
            comment: p.comment,
            from_state: p.from_state,
            proposed_by: p.proposed_by,
            proposed_at: p.proposed_at,
            status: p.status,
            decided_by: p.decided_by,
            decided_at: p.decided_at,
            decision_comment: p.decision_comment,
        }
    }
}

/// Whether a task can still finish by its due date given the law's minimum durations
/// (`engine::forecast`; `tiendo forecast`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastView {
    /// `cannot_finish`, `at_risk`, `on_track` or `no_deadline`.
    pub verdict: String,
    /// "không thể hoàn thành đúng hạn", "có nguy cơ", "dự kiến kịp", "không có hạn hoàn thành".
    pub verdict_text: String,
    pub as_of: NaiveDate,
    /// The date the task is judged against: its assigned deadline, or 31/12 of its budget year.
    pub due: Option<NaiveDate>,
    /// "hạn được giao" or "hết năm ngân sách 2025".
    pub due_reason: Option<String>,
    /// Every step at its minimum, on the best allowed path.
    pub earliest: NaiveDate,
    /// Every step at its typical duration, on the best allowed path.
    pub typical: NaiveDate,
    /// Every step at the most the law allows, on the best allowed path.
    pub latest: NaiveDate,
    /// The selection method of the earliest path ("chào hàng cạnh tranh"), when it matters.
    pub path: Option<String>,
    /// "lựa chọn nhà thầu: tối thiểu 18 ngày chuẩn bị hồ sơ dự thầu".
    pub binding_step: Option<String>,
    /// The legal source of the binding step's minimum, when it is the law's.
    pub binding_source: Option<String>,
    /// "Có đường ngắn hơn: …", when an allowed method finishes earlier than the default one.
    pub shorter_path: Option<String>,
    /// One line in Vietnamese.
    pub summary: String,
    pub paths: Vec<ForecastPathView>,
    /// For a flagged task, the proposals the workflow offers from its step (made with `POST
    /// /api/v1/tasks/{id}/proposals`, decided by UBND).
    pub options: Vec<ForecastOptionView>,
}

/// A decision a flagged task may lead to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastOptionView {
    /// The proposal's `kind` for `POST /api/v1/tasks/{id}/proposals`.
    #[schema(example = "postpone")]
    pub kind: String,
    /// "đề nghị giãn sang kế hoạch năm sau (…)".
    pub title: String,
    /// The workflow's exit transition UBND takes on accepting it.
    pub transition: String,
}

/// The forecast along one selection method.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastPathView {
    pub method: Option<String>,
    pub title: Option<String>,
    /// The task's value allows this method.
    pub allowed: bool,
    pub earliest: NaiveDate,
    pub typical: NaiveDate,
    pub latest: NaiveDate,
    pub binding_step: Option<String>,
    /// The path in one Vietnamese line.
    pub text: String,
}

impl From<&engine::forecast::Forecast> for ForecastView {
    fn from(f: &engine::forecast::Forecast) -> Self {
        let lines = f.path_lines();
        ForecastView {
            verdict: f.verdict.as_str().to_string(),
            verdict_text: f.verdict.label().to_string(),
            as_of: f.as_of,
            due: f.due,
            due_reason: f.due_reason.clone(),
            earliest: f.earliest.date,
            typical: f.typical.date,
            latest: f.latest.date,
            path: f.path_of(f.earliest).title.clone(),
            binding_step: f.binding.as_ref().map(|b| b.text.clone()),
            binding_source: f.binding.as_ref().and_then(|b| b.source.clone()),
            shorter_path: f.shorter_path_note(),
            summary: f.summary(),
            paths: f
                .paths
                .iter()
                .zip(lines)
                .map(|(p, text)| ForecastPathView {
                    method: p.method.clone(),
                    title: p.title.clone(),
                    allowed: p.allowed,
                    earliest: p.earliest,
                    typical: p.typical,
                    latest: p.latest,
                    binding_step: p.binding.as_ref().map(|b| b.text.clone()),
                    text,
                })
                .collect(),
            options: f
                .options
                .iter()
                .map(|o| ForecastOptionView {
                    kind: o.kind.to_string(),
                    title: o.title.clone(),
                    transition: o.transition.clone(),
                })
                .collect(),
        }
    }
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub seq: i64,
    /// `create`, `transition`, `document` (an upload), `import`, …
    pub kind: String,
    pub at: DateTime<Utc>,
    /// `dd/mm/yyyy HH:MM`.
    pub at_text: String,
    pub actor_user: String,
    pub actor_role: Option<String>,
    pub transition: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub from_phase: Option<String>,
    pub to_phase: String,
    pub comment: Option<String>,
    pub documents: Vec<String>,
    pub workflow: String,
    pub workflow_version: i64,
    pub prev_hash: String,
    pub hash: String,
    /// The review the dossier was in (1, then one more per re-opening), when kept.
    pub review: Option<i64>,
    /// The round of the step entered (2 for "lần 2"), when kept.
    pub round: Option<i64>,
    /// "lần 2" from a step's second round on.
    pub round_text: Option<String>,
    /// The documents' evidence hashed with the entry: an upload's document (`document`, with
    /// its sha256, type, number, issuer and uploader) or the sha256 of each document a
    /// transition cites (`documents`).
    pub evidence: Option<crate::store::Evidence>,
}

impl From<AuditRecord> for AuditView {
    fn from(a: AuditRecord) -> Self {
        AuditView {
            round_text: a.round_label(),
            evidence: a
                .evidence
                .as_deref()
                .and_then(|e| serde_json::from_str(e).ok()),
            review: a.review,
            round: a.round,
            id: a.id,
            seq: a.seq,
            kind: a.kind,
            at_text: format_instant(a.at),
            at: a.at,
            actor_user: a.actor_user,
            actor_role: a.actor_role,
            transition: a.transition,
            from_state: a.from_state,
            to_state: a.to_state,
            from_phase: a.from_phase,
            to_phase: a.to_phase,
            comment: a.comment,
            documents: a.documents,
            workflow: a.workflow,
            workflow_version: a.workflow_version,
            prev_hash: a.prev_hash,
            hash: a.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransitionView {
    pub task_id: String,
    /// The task's new version (also in the `ETag` header).
    pub version: i64,
    pub state: String,
    pub phase: String,
    pub audit_id: i64,
    pub audit_seq: i64,
    /// True when this answers a retry with an `Idempotency-Key` already used for the same
    /// request: nothing was changed this time.
    pub replayed: bool,
    /// UBND's acceptance of a carry-over (chuyển nguồn), which leaves the task in its step: the
    /// funds carried into next year's budget line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carried_over: Option<CarriedOverView>,
}

/// Funds carried over to next year (chuyển nguồn).
#[derive(Debug, Serialize, ToSchema)]
pub struct CarriedOverView {
    /// The year whose unspent allocation is carried.
    pub from_year: i32,
    /// The year whose budget line records it as carried over (`carried_over_vnd`).
    pub to_year: i32,
    pub amount_vnd: i64,
}

impl From<TransitionOutcome> for TransitionView {
    fn from(o: TransitionOutcome) -> Self {
        TransitionView {
            task_id: o.task_id,
            version: o.version,
            state: o.state,
            phase: o.phase.as_str().to_string(),
            audit_id: o.audit_id,
            audit_seq: o.audit_seq,
            replayed: o.replayed,
            carried_over: o.carried_over.map(|c| CarriedOverView {
                from_year: c.from_year,
                to_year: c.to_year,
                amount_vnd: c.amount_vnd,
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Workflows and calendars

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowSummary {
    pub name: String,
    pub title: String,
    pub version: u32,
    pub legal_basis: Vec<String>,
    pub applies_from: NaiveDate,
    pub applies_until: Option<NaiveDate>,
    pub calendar: String,
    pub initial: String,
    pub stall_after_working_days: Option<u32>,
}

impl From<&Workflow> for WorkflowSummary {
    fn from(w: &Workflow) -> Self {
        WorkflowSummary {
            name: w.name.clone(),
            title: w.title.clone(),
            version: w.version,
            legal_basis: w.legal_basis.clone(),
            applies_from: w.applies_from,
            applies_until: w.applies_until,
            calendar: w.calendar.name().to_string(),
            initial: w.initial.clone(),
            stall_after_working_days: w.stall_after_working_days,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StateView {
    pub name: String,
    pub phase: String,
    pub title: String,
    pub roles: Vec<String>,
    /// The deadline as people read it ("15 ngày làm việc"), if the state has one.
    pub deadline: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowTransitionView {
    pub name: String,
    pub title: String,
    pub from: Vec<String>,
    pub to: String,
    pub roles: Vec<String>,
    pub own_unit: bool,
    pub documents: Vec<String>,
    pub comment_required: bool,
    pub max_repeats: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowDetail {
    #[serde(flatten)]
    pub summary: WorkflowSummary,
    /// Document type id → Vietnamese title.
    pub document_types: BTreeMap<String, String>,
    pub states: Vec<StateView>,
    pub transitions: Vec<WorkflowTransitionView>,
}

fn roles(r: &[engine::Role]) -> Vec<String> {
    r.iter().map(|r| r.as_str().to_string()).collect()
}

impl From<&Workflow> for WorkflowDetail {
    fn from(w: &Workflow) -> Self {
        WorkflowDetail {
            summary: w.into(),
            document_types: w.document_types.clone(),
            states: w
                .states
                .iter()
                .map(|s| StateView {
                    name: s.name.clone(),
                    phase: s.phase.as_str().to_string(),
                    title: s.title.clone(),
                    roles: roles(&s.roles),
                    deadline: s
                        .deadline
                        .as_ref()
                        .map(|d| engine::wording::period(&d.amount)),
                })
                .collect(),
            transitions: w
                .transitions
                .iter()
                .map(|t| WorkflowTransitionView {
                    name: t.name.clone(),
                    title: t.title.clone(),
                    from: t.from.clone(),
                    to: t.to.clone(),
                    roles: roles(&t.roles),
                    own_unit: t.own_unit,
                    documents: t.documents.clone(),
                    comment_required: t.comment_required,
                    max_repeats: t.max_repeats,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoadErrorView {
    pub file: String,
    pub line: usize,
    pub subject: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowCheckView {
    /// True when the file would load as it is.
    pub ok: bool,
    pub name: Option<String>,
    pub version: Option<u32>,
    pub errors: Vec<LoadErrorView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NamedDay {
    pub date: NaiveDate,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarYearView {
    pub year: i32,
    /// The Prime Minister's notice for the year is not out yet: deadlines are provisional.
    pub provisional: bool,
    pub source: String,
    pub working_days: Option<u32>,
    pub days_off: Vec<NamedDay>,
    /// Weekend days worked in exchange for a weekday off.
    pub swapped_working_days: Vec<NamedDay>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    pub name: String,
    pub years: Vec<CalendarYearView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayView {
    pub date: NaiveDate,
    pub weekday: String,
    pub working: bool,
    /// The holiday or swap, if any.
    pub reason: Option<String>,
    pub provisional: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineCalcView {
    pub from: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub due_text: String,
    /// A year involved is provisional.
    pub provisional: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BetweenView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Working days after `from`'s day up to and including `to`'s (negative if `to` is earlier).
    pub working_days: i64,
}

// ---------------------------------------------------------------------------------------------
// Operations

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: String,
    pub task_id: Option<String>,
    pub template: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub recipients: Option<String>,
    pub message_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<OutboxEntry> for OutboxView {
    fn from(o: OutboxEntry) -> Self {
        OutboxView {
            id: o.id,
            task_id: o.task_id,
            template: o.template,
            status: o.status,
            attempts: o.attempts,
            next_attempt_at: o.next_attempt_at,
            last_error: o.last_error,
            recipients: o.recipients,
            message_id: o.message_id,
            created_at: o.created_at,
            sent_at: o.sent_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetriedView {
    /// How many messages went back into the queue.
    pub requeued: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyView {
    pub status: String,
    pub backend: String,
    pub applied_migrations: i64,
    pub known_migrations: i64,
}

// ---------------------------------------------------------------------------------------------
// Request bodies

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordBody {
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// What the token is for ("Cổng dịch vụ công", "Prometheus").
    pub name: String,
    /// `full` (default) or `metrics`.
    pub scope: Option<String>,
    /// Days until it expires (1–3650); 90 if absent.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
    /// `true`: the token never expires (administrators only, for an integration; not with
    /// `expires_in_days`).
    pub no_expiry: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetBody {
    pub year: i32,
    /// Amounts in đồng (not million): exact integers.
    pub need_total_vnd: Option<i64>,
    pub approved_estimate_vnd: Option<i64>,
    pub need_year_vnd: Option<i64>,
    pub allocated_year_vnd: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTaskBody {
    /// The plan's number (`215/KH-UBND`) or id.
    pub plan: String,
    /// The owning unit's id.
    pub unit: String,
    pub name: String,
    /// thuong_xuyen | hoan_thanh_2025_cntt | hoan_thanh_2025_quy_phat_trien | su_nghiep_cntt | dau_tu_cong
    pub funding_source: String,
    /// The workflow (`mua-sam`, `thue-dich-vu`, `bao-cao-ktkt`, `dau-tu-cong`).
    pub kind: String,
    pub period: Option<String>,
    pub is_rental: Option<bool>,
    /// The unit spends its own revenue (quỹ phát triển hoạt động sự nghiệp): the workflow's
    /// `own_fund` approval rules apply. Default false.
    pub own_fund: Option<bool>,
    pub budget: Option<Vec<BudgetBody>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// The transition's name, as listed in the task's `available`.
    pub transition: String,
    pub comment: Option<String>,
    /// Ids of this task's documents that go with the transition.
    pub documents: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlanBody {
    pub number: String,
    pub year: i32,
    pub title: String,
    /// yyyy-mm-dd or dd/mm/yyyy.
    pub issued_on: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUnitBody {
    /// Lowercase ASCII letters, digits and '-' (`so-y-te`).
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameUnitBody {
    pub name: String,
    /// First day of the new name: yyyy-mm-dd or dd/mm/yyyy.
    pub valid_from: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeUnitBody {
    pub into: String,
    /// yyyy-mm-dd or dd/mm/yyyy.
    pub on: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub unit: Option<String>,
    /// One or more of don_vi, thu_truong_don_vi, skhcn, so_tai_chinh, lanh_dao_so, ubnd, admin.
    pub roles: Vec<String>,
    /// A first password; without one the user cannot sign in until an administrator sets it.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowCheckBody {
    /// Used in error messages (default `workflow.toml`).
    pub file_name: Option<String>,
    /// The workflow file's TOML text.
    pub text: String,
}
