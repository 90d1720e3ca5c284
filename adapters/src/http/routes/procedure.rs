//! `/tasks/{id}/proposals` and `/tasks/{id}/transfer`: the procedure as the city runs it (issue
//! 15). A unit proposes to postpone or withdraw its task (with its letter); UBND accepts or
//! refuses; UBND transfers a task to another owning unit by a decision.
//!
//! Handlers parse and check the input and call one door of [`Tasks`](crate::store::Tasks) as the
//! caller; the rules are `engine::proposal`'s.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use engine::proposal::ProposalKind;
use engine::time::parse_date;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{Auth, JsonBody, ident, opt_text, text};
use super::super::problem::{Problem, ProblemDoc};
use super::super::startup::AppState;
use super::super::views::{ProposalView, TransitionView};
use super::tasks::etag;
use crate::store::{NewProposal, NewTransfer};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(propose))
        .routes(routes!(decide_proposal))
        .routes(routes!(transfer))
}

/// A transfer to another owning unit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// The new owning unit's id.
    pub to_unit: String,
    /// The deciding document's number, e.g. `1234/QĐ-UBND`.
    pub decision: String,
    /// Its date, `dd/mm/yyyy` (or `yyyy-mm-dd`).
    pub decision_date: Option<String>,
    pub comment: Option<String>,
}

/// A transfer, as recorded.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct TransferView {
    pub id: String,
    pub task_id: String,
    pub from_unit: String,
    pub to_unit: String,
    pub decision: String,
    pub decision_date: Option<NaiveDate>,
    /// "quyết định số 1234/QĐ-UBND ngày 02/12/2026".
    pub decision_text: String,
    pub comment: Option<String>,
    pub decided_by: String,
    pub decided_at: chrono::DateTime<Utc>,
    /// The task's version once transferred (its new `ETag`).
    pub version: i64,
}

/// Transfer a task to another owning unit.
///
/// UBND's decision (**403** `transfer_ubnd_only` for anyone else), cited by its number: the task,
/// with its history, documents and deadlines, now belongs to `to_unit`; audited as
/// `chuyen_don_vi`. Not a unit merge (an administrator's, for every task of a unit). A closed
/// task, the unit it already has, or a merged unit is **400** `invalid`; an unknown unit **404**.
#[utoipa::path(
    post, path = "/tasks/{id}/transfer", tag = "tasks",
    request_body = TransferBody,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Transferred", body = TransferView, headers(("ETag" = String))),
        (status = 400, description = "Malformed body; a closed task, the unit it already has, or a merged unit", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not UBND (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task or unit, or a task the caller may not see", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The task moved on meanwhile", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn transfer(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
    JsonBody(body): JsonBody<TransferBody>,
) -> Result<Response, Problem> {
    let task_id = ident("id", &task_id)?;
    let t = NewTransfer {
        task_id,
        to_unit: engine::domain::UnitId::parse(body.to_unit.trim())
            .map_err(|e| Problem::bad_request("to_unit", e))?
            .as_str()
            .to_string(),
        decision_number: text("decision", &body.decision, 200, false)?,
        decision_date: date("decision_date", body.decision_date.as_deref())?,
        comment: opt_text("comment", body.comment.as_deref(), 5000, true)?,
    };
    let r = app
        .store
        .tasks()
        .transfer_as(&id.actor, &t, Utc::now())
        .await?;
    let version = r.version;
    let view = TransferView {
        decision_text: r.decision_reference(),
        id: r.id,
        task_id: r.task_id,
        from_unit: r.from_unit,
        to_unit: r.to_unit,
        decision: r.decision_number,
        decision_date: r.decision_date,
        comment: r.comment,
        decided_by: r.decided_by,
        decided_at: r.decided_at,
        version,
    };
    let mut res = Json(view).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

/// A unit's proposal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalBody {
    /// `postpone` (to next year's plan) | `withdraw` (from the plan).
    pub kind: String,
    /// The unit's letter number, e.g. `5796/SVHTTDL-KHTC`.
    pub letter: String,
    /// The letter's date, `dd/mm/yyyy` (or `yyyy-mm-dd`).
    pub letter_date: Option<String>,
    pub comment: Option<String>,
}

/// UBND's decision on the pending proposal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalDecisionBody {
    /// `accept` | `refuse`.
    pub decision: String,
    pub comment: Option<String>,
    /// Ids of this task's documents the acceptance cites (the workflow's exit may require a UBND
    /// decision).
    pub documents: Option<Vec<String>>,
}

fn date(field: &str, s: Option<&str>) -> Result<Option<NaiveDate>, Problem> {
    s.map(|d| {
        parse_date(d.trim())
            .map_err(|e| Problem::bad_request(field, format!("Ngày không hợp lệ: {e}")))
    })
    .transpose()
}

/// Propose to postpone or withdraw a task.
///
/// The owning unit's officer or head proposes, citing its letter; the proposal waits for UBND
/// (`POST /tasks/{id}/proposals/decision`). The task does not move meanwhile and its deadline
/// keeps running. One proposal at a time (**409** `proposal_pending`); only where the workflow
/// has such an exit from the current step (**409** `proposal_not_possible`).
#[utoipa::path(
    post, path = "/tasks/{id}/proposals", tag = "tasks",
    request_body = ProposalBody,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 201, description = "Recorded, pending UBND's decision", body = ProposalView),
        (status = 400, description = "Malformed body", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not the owning unit's officer or head (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "A proposal is pending, or none is possible from this step", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn propose(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
    JsonBody(body): JsonBody<ProposalBody>,
) -> Result<Response, Problem> {
    let task_id = ident("id", &task_id)?;
    let kind: ProposalKind = body
        .kind
        .parse()
        .map_err(|e: String| Problem::bad_request("kind", e))?;
    let new = NewProposal {
        task_id,
        kind,
        letter_number: text("letter", &body.letter, 200, false)?,
        letter_date: date("letter_date", body.letter_date.as_deref())?,
        comment: opt_text("comment", body.comment.as_deref(), 5000, true)?,
    };
    let p = app
        .store
        .tasks()
        .propose_as(&id.actor, &new, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(ProposalView::from(p))).into_response())
}

/// UBND accepts or refuses the pending proposal.
///
/// `accept`: the workflow's exit into `postponed` or `withdrawn` is taken (with the documents it
/// requires: **409** `missing_documents` otherwise) and the answer is the transition. For a
/// `carry_over`, the workflow's declared decision is recorded, the task stays in its step, and
/// next year's budget line gets the year's unspent allocation as its carried-over funds (the
/// answer's `carried_over`; **409** `nothing_to_carry_over` when nothing is left). `refuse`:
/// the task goes on from the step it is in, its deadline as it was; the answer is the proposal.
#[utoipa::path(
    post, path = "/tasks/{id}/proposals/decision", tag = "tasks",
    request_body = ProposalDecisionBody,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Accepted (the transition, `ETag`) or refused (the proposal)", body = TransitionView),
        (status = 400, description = "Malformed body", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not UBND (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The task moved on meanwhile, no proposal is pending, or the exit needs more (`unmet`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A cited document is not one of this task's", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn decide_proposal(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
    JsonBody(body): JsonBody<ProposalDecisionBody>,
) -> Result<Response, Problem> {
    let task_id = ident("id", &task_id)?;
    let comment = opt_text("comment", body.comment.as_deref(), 5000, true)?;
    let documents = body.documents.unwrap_or_default();
    if documents.len() > 50 {
        return Err(Problem::bad_request("documents", "Tối đa 50 tài liệu."));
    }
    let documents = documents
        .iter()
        .enumerate()
        .map(|(i, d)| ident(&format!("documents[{i}]"), d))
        .collect::<Result<Vec<_>, _>>()?;
    let tasks = app.store.tasks();
    match body.decision.as_str() {
        "accept" => {
            let o = tasks
                .accept_proposal_as(
                    &id.actor,
                    &task_id,
                    comment.as_deref(),
                    &documents,
                    Utc::now(),
                )
                .await?;
            let version = o.version;
            let mut res = Json(TransitionView::from(o)).into_response();
            res.headers_mut().insert(header::ETAG, etag(version));
            Ok(res)
        }
        "refuse" => {
            if !documents.is_empty() {
                return Err(Problem::bad_request(
                    "documents",
                    "Không chấp thuận đề xuất không cần tài liệu kèm theo.",
                ));
            }
            let p = tasks
                .refuse_proposal_as(&id.actor, &task_id, comment.as_deref(), Utc::now())
                .await?;
            Ok(Json(ProposalView::from(p)).into_response())
        }
        other => Err(Problem::bad_request(
            "decision",
            format!(
                "Quyết định `{other}` không hợp lệ; các giá trị cho phép: accept (chấp thuận), refuse (không chấp thuận)."
            ),
        )),
    }
}
