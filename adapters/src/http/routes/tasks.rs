//! `/tasks`: create, search, read, history and transitions.
//!
//! Handlers parse and check the input, call one door of [`Tasks`](crate::store::Tasks) as the
//! caller, and shape the answer; who may see or move a task is decided by the store
//! (`engine::access`) and `decide`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use engine::Phase;
use engine::domain::FundingSource;
use engine::time::{Instant, format_instant, parse_instant};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{
    Auth, IfMatch, JsonBody, Params, date, idempotency_key, ident, opt_text, text,
};
use super::super::problem::{Problem, ProblemDoc};
use super::super::startup::AppState;
use super::super::views::{
    AssignedDeadlineView, AuditView, AvailableView, BudgetView, DeadlineBody, DeadlineSetView,
    DeadlineView, DocumentView, ForecastView, ListingView, NewTaskBody, TaskDetail, TaskList,
    TaskSummary, TransitionBody, TransitionView,
};
use super::created;
use crate::store::{
    BudgetLine, MAX_PAGE, NewTask, TaskItem, TaskQuery, TaskSort, TransitionRequest,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task))
        .routes(routes!(task_history))
        .routes(routes!(take_transition))
        .routes(routes!(set_deadline))
}

/// The largest amount of money accepted, in đồng (a million billion).
pub const MAX_VND: i64 = 1_000_000_000_000_000;

pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The plan's number or id.
    plan: Option<String>,
    /// The plan's year.
    year: Option<i32>,
    /// The owning unit (the units merged into it are included).
    unit: Option<String>,
    funding_source: Option<String>,
    /// The workflow name.
    kind: Option<String>,
    /// A backbone phase (`appraisal`, …).
    phase: Option<String>,
    state: Option<String>,
    /// Only tasks whose current step is the caller's.
    my_turn: Option<bool>,
    /// Only tasks past their current deadline.
    overdue: Option<bool>,
    /// Only running tasks that have not moved for their workflow's stall period.
    stalled: Option<bool>,
    /// Deadline before this instant (RFC 3339, yyyy-mm-dd or yyyy-mm-ddTHH:MM, Hải Phòng time).
    due_before: Option<String>,
    /// Deadline after this instant.
    due_after: Option<String>,
    /// Words in the task's name.
    q: Option<String>,
    /// created (default), updated, due, name, state_entered; '-' in front sorts descending.
    sort: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
    /// Tasks to skip.
    offset: Option<i64>,
}

fn instant(field: &str, s: &str) -> Result<Instant, Problem> {
    parse_instant(s).map_err(|_| {
        Problem::bad_request(
            field,
            format!(
                "Tham số `{field}`: thời điểm `{}` không hợp lệ; dùng yyyy-mm-dd, yyyy-mm-ddTHH:MM hoặc RFC 3339 (2026-03-02T09:00:00+07:00).",
                s.chars().take(50).collect::<String>()
            ),
        )
    })
}

fn opt_ident(field: &str, v: &Option<String>) -> Result<Option<String>, Problem> {
    v.as_deref().map(|s| ident(field, s)).transpose()
}

impl ListQuery {
    fn into_query(self) -> Result<TaskQuery, Problem> {
        let (sort, descending) = match self.sort.as_deref() {
            None => (TaskSort::Created, false),
            Some(s) => TaskSort::parse(s)
                .map_err(|e| Problem::bad_request("sort", format!("Tham số `sort`: {e}.")))?,
        };
        if let Some(l) = self.limit
            && !(1..=MAX_PAGE).contains(&l)
        {
            return Err(Problem::bad_request(
                "limit",
                format!("Tham số `limit` phải từ 1 đến {MAX_PAGE}."),
            ));
        }
        if let Some(o) = self.offset
            && !(0..=1_000_000_000).contains(&o)
        {
            return Err(Problem::bad_request(
                "offset",
                "Tham số `offset` phải từ 0 đến 1.000.000.000.",
            ));
        }
        if let Some(y) = self.year
            && !(2000..=2100).contains(&y)
        {
            return Err(Problem::bad_request(
                "year",
                "Tham số `year` phải là năm từ 2000 đến 2100.",
            ));
        }
        Ok(TaskQuery {
            plan: opt_ident("plan", &self.plan)?,
            year: self.year,
            // A unit id (`TaskQuery::unit`); anything else is a 400 naming the field.
            unit: opt_ident("unit", &self.unit)?
                .map(|u| {
                    engine::domain::UnitId::parse(&u)
                        .map_err(|e| Problem::bad_request("unit", format!("Tham số `unit`: {e}.")))
                })
                .transpose()?,
            funding_source: self
                .funding_source
                .as_deref()
                .map(|f| {
                    f.parse::<FundingSource>()
                        .map_err(|e| Problem::bad_request("funding_source", e))
                })
                .transpose()?,
            kind: opt_ident("kind", &self.kind)?,
            phase: self
                .phase
                .as_deref()
                .map(|p| {
                    p.parse::<Phase>().map_err(|_| {
                        Problem::bad_request(
                            "phase",
                            format!(
                                "Giai đoạn không hợp lệ; các giai đoạn: {}.",
                                Phase::ALL.map(|p| p.as_str()).join(", ")
                            ),
                        )
                    })
                })
                .transpose()?,
            state: opt_ident("state", &self.state)?,
            my_turn: self.my_turn.unwrap_or(false),
            overdue: self.overdue.unwrap_or(false),
            stalled: self.stalled.unwrap_or(false),
            due_before: self
                .due_before
                .as_deref()
                .map(|s| instant("due_before", s))
                .transpose()?,
            due_after: self
                .due_after
                .as_deref()
                .map(|s| instant("due_after", s))
                .transpose()?,
            text: opt_text("q", self.q.as_deref(), 200, false)?,
            sort,
            descending,
            limit: self.limit,
            offset: self.offset,
        })
    }
}

/// Search the tasks the caller may see.
#[utoipa::path(
    get, path = "/tasks", tag = "tasks",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of matching tasks", body = TaskList),
        (status = 400, description = "A parameter is wrong (`field` names it)", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn list_tasks(
    State(app): State<AppState>,
    Auth(id): Auth,
    Params(q): Params<ListQuery>,
) -> Result<Json<TaskList>, Problem> {
    let q = q.into_query()?;
    let now = Utc::now();
    let page = app.store.tasks().search_as(&id.actor, &q, now).await?;
    let items = page
        .items
        .iter()
        .map(|t| TaskSummary::new(t, now))
        .collect();
    Ok(Json(TaskList {
        items,
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Propose a task in a plan. Unit officers propose for their own unit; SKHCN and UBND may enter
/// a proposal on a unit's behalf (`decide::start`).
#[utoipa::path(
    post, path = "/tasks", tag = "tasks",
    request_body = NewTaskBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key returns the first outcome")),
    responses(
        (status = 201, description = "Created (or replayed)", body = TransitionView,
            headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = "Malformed input", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not propose for this unit", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Unknown plan or unit", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency key reused for another request", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn create_task(
    State(app): State<AppState>,
    Auth(id): Auth,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewTaskBody>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let funding_source: FundingSource = body
        .funding_source
        .parse()
        .map_err(|e: String| Problem::bad_request("funding_source", e))?;
    let mut budget = Vec::new();
    for (i, b) in body.budget.unwrap_or_default().into_iter().enumerate() {
        if !(2000..=2100).contains(&b.year) {
            return Err(Problem::bad_request(
                &format!("budget[{i}].year"),
                "Năm ngân sách phải từ 2000 đến 2100.",
            ));
        }
        for (name, v) in [
            ("need_total_vnd", b.need_total_vnd),
            ("approved_estimate_vnd", b.approved_estimate_vnd),
            ("need_year_vnd", b.need_year_vnd),
            ("allocated_year_vnd", b.allocated_year_vnd),
        ] {
            if let Some(v) = v
                && !(0..=MAX_VND).contains(&v)
            {
                return Err(Problem::bad_request(
                    &format!("budget[{i}].{name}"),
                    "Số tiền (đồng) phải từ 0 đến 10^15 (một triệu tỷ) đồng.",
                ));
            }
        }
        if budget.iter().any(|l: &BudgetLine| l.year == b.year) {
            return Err(Problem::bad_request(
                &format!("budget[{i}].year"),
                format!("Năm ngân sách {} bị lặp lại.", b.year),
            ));
        }
        budget.push(BudgetLine {
            year: b.year,
            need_total_vnd: b.need_total_vnd,
            approved_estimate_vnd: b.approved_estimate_vnd,
            need_year_vnd: b.need_year_vnd,
            allocated_year_vnd: b.allocated_year_vnd,
            planned_allocation_vnd: None,
        });
    }
    if budget.len() > 20 {
        return Err(Problem::bad_request("budget", "Tối đa 20 năm ngân sách."));
    }
    let new = NewTask {
        plan: ident("plan", &body.plan)?,
        unit_id: ident("unit", &body.unit)?,
        name: text("name", &body.name, 1000, false)?,
        funding_source,
        kind: ident("kind", &body.kind)?,
        period: opt_text("period", body.period.as_deref(), 200, false)?,
        is_rental: body.is_rental.unwrap_or(false),
        own_fund: body.own_fund.unwrap_or(false),
        budget,
    };
    let o = app
        .store
        .tasks()
        .create_as(&id.actor, &new, key.as_deref(), Utc::now())
        .await?;
    let location = format!("/api/v1/tasks/{}", o.task_id);
    let version = o.version;
    let mut res = created(&location, TransitionView::from(o));
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

/// The current deadline and the time left at `now`, worded by `engine::wording`.
fn deadline(item: &TaskItem, now: Instant) -> Option<DeadlineView> {
    let clock = item.clock()?;
    let left = item.time_left(now)?;
    Some(DeadlineView {
        state: clock.state.clone(),
        due_at: clock.due_at,
        due_text: format_instant(clock.due_at),
        working_days_left: left.working_days(),
        time_left_text: left.to_string(),
        status: left.status().as_str().to_string(),
        paused: matches!(left, engine::wording::TimeLeft::Paused { .. }),
    })
}

/// A task with its deadline, time left, documents and the transitions the caller may take.
#[utoipa::path(
    get, path = "/tasks/{id}", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TaskDetail, headers(("ETag" = String, description = "The task's version, for If-Match"))),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn get_task(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
) -> Result<Response, Problem> {
    let task_id = ident("id", &task_id)?;
    let now = Utc::now();
    let d = app
        .store
        .tasks()
        .detail_as(&id.actor, &task_id, now)
        .await?;
    let version = d.item.task.version;
    let wf = d.item.workflow.as_deref();
    let forecast = match &d.forecast {
        Some(Ok(f)) => Some(ForecastView::from(f)),
        _ => None,
    };
    let view = TaskDetail {
        forecast,
        summary: TaskSummary::new(&d.item, now),
        deadline: deadline(&d.item, now),
        assigned_deadline: AssignedDeadlineView::of(&d.item.task),
        budget: d.budget.into_iter().map(BudgetView::from).collect(),
        listings: d.listings.into_iter().map(ListingView::from).collect(),
        documents: d.documents.into_iter().map(DocumentView::from).collect(),
        available: d
            .available
            .iter()
            .map(|a| AvailableView::new(a, wf))
            .collect(),
        proposals: d.proposals.into_iter().map(Into::into).collect(),
    };
    let mut res = Json(view).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

/// The task's audit entries, oldest first.
#[utoipa::path(
    get, path = "/tasks/{id}/history", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Audit entries", body = Vec<AuditView>),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn task_history(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
) -> Result<Json<Vec<AuditView>>, Problem> {
    let task_id = ident("id", &task_id)?;
    let h = app.store.tasks().history_as(&id.actor, &task_id).await?;
    Ok(Json(h.into_iter().map(AuditView::from).collect()))
}

/// Take a transition.
///
/// `If-Match` carries the version the caller saw (`"3"`, from `ETag` or `version`): when the
/// task has moved on since, the answer is **409** with `current_version`; a tag that can never
/// name a version (weak, or not digits) is **412**; a header that is not an entity-tag list is
/// **400**. Without `If-Match` (or with an empty one) the transition applies to whatever the
/// current version is. A transition the task's current step does not allow is **409** with
/// `allowed` (and `unmet`: what it lacks).
/// `Idempotency-Key` makes a retry safe: the same key with the same request returns the first
/// outcome (`replayed: true`) and changes nothing; with another request it is a 422.
#[utoipa::path(
    post, path = "/tasks/{id}/transitions", tag = "tasks",
    request_body = TransitionBody,
    params(
        ("id" = String, Path, description = "Task id"),
        ("If-Match" = Option<String>, Header, description = "The task version the request is based on, e.g. \"3\""),
        ("Idempotency-Key" = Option<String>, Header, description = "1–200 visible ASCII characters"),
    ),
    responses(
        (status = 200, description = "Taken (or replayed)", body = TransitionView, headers(("ETag" = String))),
        (status = 400, description = "Malformed body or header", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Wrong role or not the caller's unit (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The task moved on (`current_version`), or its current step does not allow the transition (`allowed`, `unmet`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 412, description = "If-Match can never match", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency key reused for another request, or a cited document that is not this task's", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn take_transition(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<TransitionBody>,
) -> Result<Response, Problem> {
    let task_id = ident("id", &task_id)?;
    let if_match = IfMatch::parse(&headers)?;
    let key = idempotency_key(&headers)?;
    let transition = ident("transition", &body.transition)?;
    let comment = opt_text("comment", body.comment.as_deref(), 5000, true)?;
    let documents = body.documents.unwrap_or_default();
    if documents.len() > 50 {
        return Err(Problem::bad_request(
            "documents",
            "Tối đa 50 tài liệu cho một bước chuyển.",
        ));
    }
    let documents = documents
        .iter()
        .enumerate()
        .map(|(i, d)| ident(&format!("documents[{i}]"), d))
        .collect::<Result<Vec<_>, _>>()?;
    let req = TransitionRequest {
        task_id,
        transition,
        comment,
        document_ids: documents,
        expected_version: if_match.into_expected(),
        idempotency_key: key,
    };
    let o = app
        .store
        .tasks()
        .transition_as(&id.actor, &req, Utc::now())
        .await?;
    let version = o.version;
    let mut res = Json(TransitionView::from(o)).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

/// Set, change or clear the task's assigned deadline (thời hạn giao), with the document that
/// decided it; audited (entry kind `deadline`). Rule `engine::access::may_set_deadline`: UBND
/// or SKHCN. `on: null` clears the leader's deadline, so the plan's expected completion applies
/// again.
#[utoipa::path(
    put, path = "/tasks/{id}/deadline", tag = "tasks",
    request_body = DeadlineBody,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Changed", body = DeadlineSetView, headers(("ETag" = String))),
        (status = 400, description = "Malformed body, no document, a document dated in the future, nothing to change, or a finished task", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not UBND or SKHCN (`rule`: deadline_not_allowed)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The task changed meanwhile (`current_version`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn set_deadline(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
    JsonBody(body): JsonBody<DeadlineBody>,
) -> Result<Response, Problem> {
    let task_id = ident("id", &task_id)?;
    let req = engine::assigned::DeadlineRequest {
        on: body.on.as_deref().map(|s| date("on", s)).transpose()?,
        doc_number: text(
            "doc_number",
            &body.doc_number,
            engine::assigned::MAX_DOC_NUMBER_CHARS,
            false,
        )?,
        doc_date: date("doc_date", &body.doc_date)?,
    };
    let o = app
        .store
        .tasks()
        .set_deadline_as(&id.actor, &task_id, &req, Utc::now())
        .await?;
    let version = o.version;
    let mut res = Json(DeadlineSetView {
        task_id: o.task_id,
        version,
        assigned_deadline: AssignedDeadlineView::new(
            o.assigned_deadline_on,
            o.expected_completion_on,
            Some(o.doc_number),
            Some(o.doc_date),
        ),
        audit_id: o.audit_id,
        comment: o.comment,
    })
    .into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}
