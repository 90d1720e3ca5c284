//! A task across plan years (issue 14): `/tasks/{id}/budget/{year}` (the year's budget line
//! with tranches, as known on a date, and its history), `/tasks/{id}/lineage` (continues,
//! replaces, re-proposed from) and `/tasks/{id}/rename` (a name or kind change across years).
//! Writes act for the caller, who must be allowed to import plans; reads for someone who may
//! see the task (the store's [`Plans`](crate::store::Plans) doors decide).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use engine::plan::budget::{Tranche, YearBudget};
use engine::time::{Instant, parse_date};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{Auth, JsonBody, Params, ident, opt_text, text};
use super::super::problem::{Problem, ProblemDoc};
use super::super::startup::AppState;
use crate::store::{BudgetEntry, BudgetRecord, LineageLink, Rename};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_budget, put_budget))
        .routes(routes!(get_lineage, post_lineage))
        .routes(routes!(post_rename))
}

fn date(field: &str, s: &str) -> Result<NaiveDate, Problem> {
    parse_date(s).map_err(|_| {
        Problem::bad_request(
            field,
            format!("`{field}`: ngày không hợp lệ; dùng yyyy-mm-dd hoặc dd/mm/yyyy."),
        )
    })
}

fn year(y: i32) -> Result<i32, Problem> {
    if (2000..=2100).contains(&y) {
        Ok(y)
    } else {
        Err(Problem::bad_request(
            "year",
            format!("Năm {y} không hợp lệ (2000–2100)."),
        ))
    }
}

/// One allocation tranche (đợt).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrancheBody {
    /// 1 for đợt 1 …
    pub tranche: u32,
    /// đồng.
    pub amount_vnd: i64,
    /// The allocation decision, e.g. 1234/QĐ-UBND.
    pub decision_number: Option<String>,
    /// Its date: yyyy-mm-dd or dd/mm/yyyy.
    pub decision_on: Option<String>,
}

/// A task's budget line for a year, in đồng; absent figures are blank. Replaces the line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = YearBudgetBody)]
pub struct BudgetBody {
    pub need_total_vnd: Option<i64>,
    pub approved_estimate_vnd: Option<i64>,
    pub need_year_vnd: Option<i64>,
    /// The year's planned allocation (dự kiến phân bổ), as the plan prints it: a figure of its
    /// own, not the allocation.
    pub planned_allocation_vnd: Option<i64>,
    /// The year's allocation; the sum of the tranches when absent and tranches are given.
    pub allocated_year_vnd: Option<i64>,
    /// Funds carried over from the previous year (chuyển nguồn).
    pub carried_over_vnd: Option<i64>,
    /// Spent / disbursed.
    pub spent_vnd: Option<i64>,
    pub tranches: Option<Vec<TrancheBody>>,
    /// From when these figures hold (default: today): yyyy-mm-dd or dd/mm/yyyy.
    pub known_from: Option<String>,
}

/// A budget line's figures, in đồng.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetFigures {
    pub need_total_vnd: Option<i64>,
    pub approved_estimate_vnd: Option<i64>,
    pub need_year_vnd: Option<i64>,
    /// The year's planned allocation (dự kiến phân bổ).
    pub planned_allocation_vnd: Option<i64>,
    pub allocated_year_vnd: Option<i64>,
    pub carried_over_vnd: Option<i64>,
    pub spent_vnd: Option<i64>,
    pub tranches: Vec<TrancheView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrancheView {
    pub tranche: u32,
    pub amount_vnd: i64,
    pub decision_number: Option<String>,
    pub decision_on: Option<NaiveDate>,
}

impl From<&YearBudget> for BudgetFigures {
    fn from(b: &YearBudget) -> Self {
        BudgetFigures {
            need_total_vnd: b.need_total_vnd,
            approved_estimate_vnd: b.approved_estimate_vnd,
            need_year_vnd: b.need_year_vnd,
            planned_allocation_vnd: b.planned_allocation_vnd,
            allocated_year_vnd: b.allocated_year_vnd,
            carried_over_vnd: b.carried_over_vnd,
            spent_vnd: b.spent_vnd,
            tranches: b
                .tranches
                .iter()
                .map(|t| TrancheView {
                    tranche: t.tranche,
                    amount_vnd: t.amount_vnd,
                    decision_number: t.decision_number.clone(),
                    decision_on: t.decision_on,
                })
                .collect(),
        }
    }
}

/// One figure set written to the line.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetEntryView {
    pub known_from: NaiveDate,
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: Instant,
    pub recorded_by: String,
    pub removed: bool,
    pub figures: BudgetFigures,
}

impl From<&BudgetEntry> for BudgetEntryView {
    fn from(e: &BudgetEntry) -> Self {
        BudgetEntryView {
            known_from: e.known_from,
            recorded_at: e.recorded_at,
            recorded_by: e.recorded_by.clone(),
            removed: e.removed,
            figures: BudgetFigures::from(&e.budget),
        }
    }
}

/// A budget line as known on a date, and its history (oldest first).
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetRecordView {
    pub task_id: String,
    pub year: i32,
    pub as_of: Option<NaiveDate>,
    /// From when the figures shown hold; null when nothing was known then.
    pub known_from: Option<NaiveDate>,
    pub figures: BudgetFigures,
    pub history: Vec<BudgetEntryView>,
}

impl From<BudgetRecord> for BudgetRecordView {
    fn from(r: BudgetRecord) -> Self {
        BudgetRecordView {
            task_id: r.task_id,
            year: r.year,
            as_of: r.as_of,
            known_from: r.known_from,
            figures: BudgetFigures::from(&r.budget),
            history: r.history.iter().map(BudgetEntryView::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BudgetQuery {
    /// The figures known by the end of this day (yyyy-mm-dd or dd/mm/yyyy); default: the latest.
    as_of: Option<String>,
}

/// A task's budget line for a year (as known on `as_of`), with its tranches and history.
#[utoipa::path(get, path = "/tasks/{id}/budget/{year}", tag = "tasks",
    params(("id" = String, Path, description = "Task id"), ("year" = i32, Path, description = "Year"), BudgetQuery),
    responses(
        (status = 200, description = "The budget line", body = BudgetRecordView),
        (status = 400, description = "Bad year or date", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_budget(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path((task_id, y)): Path<(String, i32)>,
    Params(q): Params<BudgetQuery>,
) -> Result<Json<BudgetRecordView>, Problem> {
    let task_id = ident("id", &task_id)?;
    let as_of = q.as_of.as_deref().map(|d| date("as_of", d)).transpose()?;
    let r = app
        .store
        .plans()
        .budget_as(&id.actor, &task_id, year(y)?, as_of)
        .await?;
    Ok(Json(r.into()))
}

/// Writes a task's budget line for a year (every figure as given), known from `known_from`;
/// the earlier figures stay in its history and the task's audit chain gets a `budget` entry.
#[utoipa::path(put, path = "/tasks/{id}/budget/{year}", tag = "tasks",
    request_body = BudgetBody,
    params(("id" = String, Path, description = "Task id"), ("year" = i32, Path, description = "Year")),
    responses(
        (status = 200, description = "The budget line as written", body = BudgetRecordView),
        (status = 400, description = "Bad figures (negative, tranches that do not add up to the allocation, spent above allocation and carry-over)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not a role that enters plans", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn put_budget(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path((task_id, y)): Path<(String, i32)>,
    JsonBody(body): JsonBody<BudgetBody>,
) -> Result<Json<BudgetRecordView>, Problem> {
    let task_id = ident("id", &task_id)?;
    let y = year(y)?;
    let known_from = body
        .known_from
        .as_deref()
        .map(|d| date("known_from", d))
        .transpose()?;
    let mut tranches = Vec::new();
    for t in body.tranches.unwrap_or_default() {
        tranches.push(Tranche {
            tranche: t.tranche,
            amount_vnd: t.amount_vnd,
            decision_number: opt_text("decision_number", t.decision_number.as_deref(), 200, false)?,
            decision_on: t
                .decision_on
                .as_deref()
                .map(|d| date("decision_on", d))
                .transpose()?,
        });
    }
    let budget = YearBudget {
        need_total_vnd: body.need_total_vnd,
        approved_estimate_vnd: body.approved_estimate_vnd,
        need_year_vnd: body.need_year_vnd,
        planned_allocation_vnd: body.planned_allocation_vnd,
        allocated_year_vnd: body.allocated_year_vnd,
        carried_over_vnd: body.carried_over_vnd,
        spent_vnd: body.spent_vnd,
        tranches,
    };
    let r = app
        .store
        .plans()
        .set_budget_as(&id.actor, &task_id, y, budget, known_from, Utc::now())
        .await?;
    Ok(Json(r.into()))
}

/// A lineage link between two tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineageView {
    /// The task that continues, replaces or is re-proposed from `other_task_id`.
    pub task_id: String,
    /// continues | replaces | reproposed_from
    pub relation: String,
    pub relation_title: String,
    pub other_task_id: String,
    pub task_name: String,
    pub other_task_name: String,
    pub reason: String,
    pub actor_user: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Instant,
}

impl From<LineageLink> for LineageView {
    fn from(l: LineageLink) -> Self {
        LineageView {
            task_id: l.task_id,
            relation: l.relation.as_str().to_string(),
            relation_title: l.relation_title,
            other_task_id: l.other_task_id,
            task_name: l.task_name,
            other_task_name: l.other_task_name,
            reason: l.reason,
            actor_user: l.actor_user,
            at: l.at,
        }
    }
}

/// This task continues, replaces or is re-proposed from another.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineageBody {
    /// continues | replaces | reproposed_from
    pub relation: String,
    pub other_task_id: String,
    pub reason: String,
}

/// The links from and to a task, oldest first.
#[utoipa::path(get, path = "/tasks/{id}/lineage", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Lineage links", body = Vec<LineageView>),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_lineage(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
) -> Result<Json<Vec<LineageView>>, Problem> {
    let task_id = ident("id", &task_id)?;
    let links = app.store.plans().lineage_as(&id.actor, &task_id).await?;
    Ok(Json(links.into_iter().map(LineageView::from).collect()))
}

/// Records that this task continues, replaces or is re-proposed from another (audited in both
/// tasks' chains, with who and why); answers the task's lineage.
#[utoipa::path(post, path = "/tasks/{id}/lineage", tag = "tasks",
    request_body = LineageBody,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 201, description = "Linked; the task's lineage", body = Vec<LineageView>),
        (status = 400, description = "Bad relation, no reason", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not a role that enters plans", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The same link exists", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A task linked to itself (`unprocessable`)", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn post_lineage(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
    JsonBody(body): JsonBody<LineageBody>,
) -> Result<(StatusCode, Json<Vec<LineageView>>), Problem> {
    let task_id = ident("id", &task_id)?;
    let relation: engine::plan::Relation = body
        .relation
        .parse()
        .map_err(|e: String| Problem::bad_request("relation", e))?;
    let other = ident("other_task_id", &body.other_task_id)?;
    let reason = text("reason", &body.reason, 2000, true)?;
    let links = app
        .store
        .plans()
        .link_as(&id.actor, &task_id, relation, &other, &reason, Utc::now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(links.into_iter().map(LineageView::from).collect()),
    ))
}

/// A new name and/or kind for the task, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    pub name: Option<String>,
    /// A workflow name, e.g. thue-dich-vu.
    pub kind: Option<String>,
    pub reason: String,
}

/// A rename or kind change.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenameView {
    pub task_id: String,
    pub old_name: String,
    pub new_name: String,
    pub old_kind: Option<String>,
    pub new_kind: Option<String>,
    pub reason: String,
    pub actor_user: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Instant,
}

impl From<Rename> for RenameView {
    fn from(r: Rename) -> Self {
        RenameView {
            task_id: r.task_id,
            old_name: r.old_name,
            new_name: r.new_name,
            old_kind: r.old_kind,
            new_kind: r.new_kind,
            reason: r.reason,
            actor_user: r.actor_user,
            at: r.at,
        }
    }
}

/// Renames the task and/or changes its kind across years: the same task, an audited event
/// (reports as of an earlier date keep the earlier name).
#[utoipa::path(post, path = "/tasks/{id}/rename", tag = "tasks",
    request_body = RenameBody,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Renamed", body = RenameView),
        (status = 400, description = "Nothing to change, unknown kind, no reason", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not a role that enters plans", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn post_rename(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
    JsonBody(body): JsonBody<RenameBody>,
) -> Result<Json<RenameView>, Problem> {
    let task_id = ident("id", &task_id)?;
    let name = opt_text("name", body.name.as_deref(), 1000, false)?;
    let kind = body.kind.as_deref().map(|k| ident("kind", k)).transpose()?;
    let reason = text("reason", &body.reason, 2000, true)?;
    let r = app
        .store
        .plans()
        .rename_as(
            &id.actor,
            &task_id,
            name.as_deref(),
            kind.as_deref(),
            &reason,
            Utc::now(),
        )
        .await?;
    Ok(Json(r.into()))
}
