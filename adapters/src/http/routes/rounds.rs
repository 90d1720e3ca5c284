//! `/plans/{plan}/rounds…`: reporting rounds (issue 16). SKHCN opens a round of a plan, units
//! enter per task and their head submits, SKHCN reopens a submission, writes the report's
//! sections and its number and signer.
//!
//! Handlers parse and check the input and call one door of [`Rounds`](crate::store::Rounds) as
//! the caller; who may do what is `engine::access`'s (`may_open_round`, `may_enter_round`,
//! `may_submit_round`, `round_scope`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use engine::round::{self, DraftSection, MAX_LINE, MAX_TEXT, RoundSpec, Signer};
use engine::time::{Instant, local_date};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{Auth, JsonBody, Params, date, ident, opt_text, text};
use super::super::problem::{Problem, ProblemDoc};
use super::super::startup::AppState;
use super::created;
use crate::store::{EntryRecord, NewEntry, RoundEvent, RoundRecord, RoundView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rounds, open_round))
        .routes(routes!(get_round))
        .routes(routes!(put_entry))
        .routes(routes!(submit_unit))
        .routes(routes!(reopen_unit))
        .routes(routes!(put_draft))
        .routes(routes!(put_signature))
}

/// The largest round number accepted.
pub const MAX_ROUND: u32 = 1000;

fn number(field: &str, s: &str) -> Result<u32, Problem> {
    s.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_ROUND).contains(n))
        .ok_or_else(|| {
            Problem::bad_request(
                field,
                format!("`{field}`: số thứ tự đợt báo cáo phải là số nguyên từ 1 đến {MAX_ROUND}."),
            )
        })
}

/// A round's path: the plan (number or id) and the round's number.
fn round_of(plan: &str, n: &str) -> Result<(String, u32), Problem> {
    Ok((ident("plan", plan)?, number("number", n)?))
}

/// The kinds of difficulty (mục 5. Khó khăn, vướng mắc).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DifficultyKindDoc {
    ThuTuc,
    KinhPhi,
    LuaChonNhaThau,
    KyThuat,
    NhanLuc,
    Khac,
}

impl DifficultyKindDoc {
    fn engine(self) -> round::DifficultyKind {
        use round::DifficultyKind as K;
        match self {
            DifficultyKindDoc::ThuTuc => K::ThuTuc,
            DifficultyKindDoc::KinhPhi => K::KinhPhi,
            DifficultyKindDoc::LuaChonNhaThau => K::LuaChonNhaThau,
            DifficultyKindDoc::KyThuat => K::KyThuat,
            DifficultyKindDoc::NhanLuc => K::NhanLuc,
            DifficultyKindDoc::Khac => K::Khac,
        }
    }

    fn of(k: round::DifficultyKind) -> DifficultyKindDoc {
        use round::DifficultyKind as K;
        match k {
            K::ThuTuc => DifficultyKindDoc::ThuTuc,
            K::KinhPhi => DifficultyKindDoc::KinhPhi,
            K::LuaChonNhaThau => DifficultyKindDoc::LuaChonNhaThau,
            K::KyThuat => DifficultyKindDoc::KyThuat,
            K::NhanLuc => DifficultyKindDoc::NhanLuc,
            K::Khac => DifficultyKindDoc::Khac,
        }
    }
}

/// The sections of the official report SKHCN may rewrite.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DraftSectionDoc {
    CanCu,
    TinhHinh,
    KhoKhan,
    DeXuat,
    NoiNhan,
}

/// A round to open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRoundBody {
    /// The round's number in the plan ("lần 2").
    #[schema(minimum = 1, maximum = 1000)]
    pub number: u32,
    /// The date the figures are as of: yyyy-mm-dd or dd/mm/yyyy.
    pub cut_off: String,
    /// The instruction the report answers ("Thông báo số 620/TB-VP ngày 20/10/2025 …").
    #[schema(min_length = 1, max_length = 500)]
    pub instruction: String,
    /// The date units must submit by: yyyy-mm-dd or dd/mm/yyyy.
    pub units_due: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignerView {
    /// "KT. GIÁM ĐỐC", or empty when the director signs.
    pub on_behalf: String,
    pub title: String,
    pub name: String,
}

/// A round.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundOut {
    pub id: String,
    pub plan_id: String,
    pub plan_number: String,
    pub number: u32,
    pub cut_off: NaiveDate,
    pub instruction: String,
    pub units_due: NaiveDate,
    pub doc_number: Option<String>,
    pub signer: Option<SignerView>,
    pub opened_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub opened_at: Instant,
}

impl From<RoundRecord> for RoundOut {
    fn from(r: RoundRecord) -> Self {
        RoundOut {
            id: r.id,
            plan_id: r.plan_id,
            plan_number: r.plan_number,
            number: r.spec.number,
            cut_off: r.spec.cut_off,
            instruction: r.spec.instruction,
            units_due: r.spec.units_due,
            doc_number: r.doc_number,
            signer: r.signer.map(|s| SignerView {
                on_behalf: s.on_behalf,
                title: s.title,
                name: s.name,
            }),
            opened_by: r.opened_by,
            opened_at: r.opened_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DifficultyDoc {
    pub kind: DifficultyKindDoc,
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalDoc {
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
    /// The letter carrying it ("Công văn số 123/SYT-KHTC ngày 01/11/2025"), if any.
    #[schema(max_length = 500)]
    pub letter: Option<String>,
}

/// A task's entry in a round.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryOut {
    pub task_id: String,
    pub task_name: String,
    pub unit_id: String,
    pub progress: String,
    pub difficulties: Vec<DifficultyDoc>,
    pub proposals: Vec<ProposalDoc>,
    pub updated_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Instant,
}

impl From<EntryRecord> for EntryOut {
    fn from(e: EntryRecord) -> Self {
        EntryOut {
            task_id: e.task_id,
            task_name: e.task_name,
            unit_id: e.unit_id,
            progress: e.progress,
            difficulties: e
                .difficulties
                .into_iter()
                .map(|d| DifficultyDoc {
                    kind: DifficultyKindDoc::of(d.kind),
                    text: d.text,
                })
                .collect(),
            proposals: e
                .proposals
                .into_iter()
                .map(|p| ProposalDoc {
                    text: p.text,
                    letter: p.letter,
                })
                .collect(),
            updated_by: e.updated_by,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionOut {
    pub unit_id: String,
    pub submitted_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub submitted_at: Instant,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoundUnitOut {
    pub unit_id: String,
    pub unit_name: String,
    pub tasks: u32,
    pub entered: u32,
    pub submitted: Option<SubmissionOut>,
    /// Not submitted and past the units' due date.
    pub late: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoundTaskOut {
    pub task_id: String,
    pub task_name: String,
    pub unit_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoundEventOut {
    pub id: i64,
    /// `open`, `draft`, `sign`, `submit`, `reopen`, `export`, `remind`.
    pub kind: String,
    pub unit_id: Option<String>,
    pub actor_user: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Instant,
    pub detail: Option<String>,
    pub format: Option<String>,
    pub sha256: Option<String>,
}

impl From<RoundEvent> for RoundEventOut {
    fn from(e: RoundEvent) -> Self {
        RoundEventOut {
            id: e.id,
            kind: e.kind,
            unit_id: e.unit_id,
            actor_user: e.actor_user,
            at: e.at,
            detail: e.detail,
            format: e.format,
            sha256: e.sha256,
        }
    }
}

/// Another round's entries, to compare with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComparedOut {
    pub number: u32,
    pub entries: Vec<EntryOut>,
}

/// A round as the caller may read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundViewOut {
    pub round: RoundOut,
    pub units: Vec<RoundUnitOut>,
    pub tasks: Vec<RoundTaskOut>,
    pub entries: Vec<EntryOut>,
    /// SKHCN's sections, keyed by section code (city-wide readers only).
    pub drafts: std::collections::BTreeMap<String, String>,
    pub events: Vec<RoundEventOut>,
    /// With `?compare=N`: round N's entries of the same tasks.
    pub compared: Option<ComparedOut>,
}

impl From<RoundView> for RoundViewOut {
    fn from(v: RoundView) -> Self {
        RoundViewOut {
            round: v.round.into(),
            units: v
                .units
                .into_iter()
                .map(|u| RoundUnitOut {
                    unit_id: u.unit_id,
                    unit_name: u.unit_name,
                    tasks: u.tasks,
                    entered: u.entered,
                    submitted: u.submitted.map(|s| SubmissionOut {
                        unit_id: s.unit_id,
                        submitted_by: s.submitted_by,
                        submitted_at: s.submitted_at,
                    }),
                    late: u.late,
                })
                .collect(),
            tasks: v
                .tasks
                .into_iter()
                .map(|t| RoundTaskOut {
                    task_id: t.task_id,
                    task_name: t.task_name,
                    unit_id: t.unit_id,
                })
                .collect(),
            entries: v.entries.into_iter().map(EntryOut::from).collect(),
            drafts: v.drafts,
            events: v.events.into_iter().map(RoundEventOut::from).collect(),
            compared: v.compared.map(|c| ComparedOut {
                number: c.number,
                entries: c.entries.into_iter().map(EntryOut::from).collect(),
            }),
        }
    }
}

/// The rounds of a plan, in number order.
#[utoipa::path(get, path = "/plans/{plan}/rounds", tag = "rounds",
    params(("plan" = String, Path, description = "Plan number (slash percent-encoded) or id")),
    responses(
        (status = 200, description = "The rounds", body = Vec<RoundOut>),
        (status = 403, description = "The caller reads no plan report (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn list_rounds(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(plan): Path<String>,
) -> Result<Json<Vec<RoundOut>>, Problem> {
    let plan = ident("plan", &plan)?;
    let list = app.store.rounds().list_as(&id.actor, &plan).await?;
    Ok(Json(list.into_iter().map(RoundOut::from).collect()))
}

/// Open a round of a plan (SKHCN).
///
/// **403** `round_coordinator_only` for anyone but SKHCN; **409** `duplicate` when the plan
/// already has a round with this number.
#[utoipa::path(post, path = "/plans/{plan}/rounds", tag = "rounds",
    request_body = OpenRoundBody,
    params(("plan" = String, Path, description = "Plan number (slash percent-encoded) or id")),
    responses(
        (status = 201, description = "Opened", body = RoundOut),
        (status = 400, description = "Malformed input", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not SKHCN (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The plan has a round with this number", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn open_round(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(plan): Path<String>,
    JsonBody(body): JsonBody<OpenRoundBody>,
) -> Result<Response, Problem> {
    let plan = ident("plan", &plan)?;
    let n = number("number", &body.number.to_string())?;
    let spec = RoundSpec {
        number: n,
        cut_off: date("cut_off", &body.cut_off)?,
        instruction: text("instruction", &body.instruction, MAX_LINE, false)?,
        units_due: date("units_due", &body.units_due)?,
    };
    let r = app
        .store
        .rounds()
        .open_as(&id.actor, &plan, &spec, Utc::now())
        .await?;
    let location = format!("/api/v1/plans/{}/rounds/{}", r.plan_id, r.spec.number);
    Ok(created(&location, RoundOut::from(r)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RoundQuery {
    /// Another round's number: its entries of the same tasks come in `compared`.
    #[param(minimum = 1, maximum = 1000)]
    compare: Option<u32>,
}

/// A round as the caller may read it: units and their submission state, tasks, entries (a
/// unit's users: their own units'), and for SKHCN, UBND and the departments' leadership the
/// drafts and the round's events; `?compare=N` adds round N's entries.
#[utoipa::path(get, path = "/plans/{plan}/rounds/{number}", tag = "rounds",
    params(
        ("plan" = String, Path, description = "Plan number (slash percent-encoded) or id"),
        ("number" = u32, Path, description = "Round number", minimum = 1, maximum = 1000),
        RoundQuery,
    ),
    responses(
        (status = 200, description = "The round", body = RoundViewOut),
        (status = 400, description = "Bad number", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The caller reads no plan report (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan or round", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_round(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path((plan, n)): Path<(String, String)>,
    Params(q): Params<RoundQuery>,
) -> Result<Json<RoundViewOut>, Problem> {
    let (plan, n) = round_of(&plan, &n)?;
    let compare = q
        .compare
        .map(|c| number("compare", &c.to_string()))
        .transpose()?;
    let v = app
        .store
        .rounds()
        .show_as(&id.actor, &plan, n, compare, local_date(Utc::now()))
        .await?;
    Ok(Json(v.into()))
}

/// A task's entry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryBody {
    /// Progress as of the round's cut-off (tình hình thực hiện).
    #[schema(min_length = 1, max_length = 4000)]
    pub progress: String,
    #[serde(default)]
    #[schema(max_items = 50)]
    pub difficulties: Vec<DifficultyDoc>,
    #[serde(default)]
    #[schema(max_items = 50)]
    pub proposals: Vec<ProposalDoc>,
}

/// Enter (or rewrite) a task's entry (the task's own unit, until its head submits).
///
/// **403** `round_entry_not_allowed` for anyone but the task's unit's officers and head; **400**
/// `invalid` once the unit has submitted, or for a task not in the plan; **404** for a task the
/// caller may not see.
#[utoipa::path(put, path = "/plans/{plan}/rounds/{number}/entries/{task}", tag = "rounds",
    request_body = EntryBody,
    params(
        ("plan" = String, Path, description = "Plan number (slash percent-encoded) or id"),
        ("number" = u32, Path, description = "Round number", minimum = 1, maximum = 1000),
        ("task" = String, Path, description = "Task id"),
    ),
    responses(
        (status = 200, description = "Saved", body = EntryOut),
        (status = 400, description = "Malformed input; the unit has submitted; a task not in the plan", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not the task's unit (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, round or task, or a task the caller may not see", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn put_entry(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path((plan, n, task)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<EntryBody>,
) -> Result<Json<EntryOut>, Problem> {
    let (plan, n) = round_of(&plan, &n)?;
    let task = ident("task", &task)?;
    if body.difficulties.len() > 50 || body.proposals.len() > 50 {
        return Err(Problem::bad_request(
            "difficulties",
            "Tối đa 50 khó khăn và 50 đề xuất cho một nhiệm vụ.",
        ));
    }
    let new = NewEntry {
        task_id: task,
        progress: text("progress", &body.progress, MAX_TEXT, true)?,
        difficulties: body
            .difficulties
            .iter()
            .map(|d| {
                Ok(round::Difficulty {
                    kind: d.kind.engine(),
                    text: text("difficulties.text", &d.text, MAX_TEXT, true)?,
                })
            })
            .collect::<Result<_, Problem>>()?,
        proposals: body
            .proposals
            .iter()
            .map(|p| {
                Ok(round::Proposal {
                    text: text("proposals.text", &p.text, MAX_TEXT, true)?,
                    letter: opt_text("proposals.letter", p.letter.as_deref(), MAX_LINE, false)?,
                })
            })
            .collect::<Result<_, Problem>>()?,
    };
    let e = app
        .store
        .rounds()
        .save_entry_as(&id.actor, &plan, n, &new, Utc::now())
        .await?;
    Ok(Json(e.into()))
}

/// Submit a unit's entries for the round (the unit's head); read-only for the unit afterwards.
///
/// **403** `round_submit_not_allowed` for anyone but the unit's head; **400** `invalid` when
/// already submitted or nothing was entered.
#[utoipa::path(post, path = "/plans/{plan}/rounds/{number}/units/{unit}/submit", tag = "rounds",
    params(
        ("plan" = String, Path, description = "Plan number (slash percent-encoded) or id"),
        ("number" = u32, Path, description = "Round number", minimum = 1, maximum = 1000),
        ("unit" = String, Path, description = "Unit id"),
    ),
    responses(
        (status = 200, description = "Submitted", body = SubmissionOut),
        (status = 400, description = "Already submitted, or nothing entered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not the unit's head (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan or round", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn submit_unit(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path((plan, n, unit)): Path<(String, String, String)>,
) -> Result<Json<SubmissionOut>, Problem> {
    let (plan, n) = round_of(&plan, &n)?;
    let unit = ident("unit", &unit)?;
    let s = app
        .store
        .rounds()
        .submit_as(&id.actor, &plan, n, &unit, Utc::now())
        .await?;
    Ok(Json(SubmissionOut {
        unit_id: s.unit_id,
        submitted_by: s.submitted_by,
        submitted_at: s.submitted_at,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenBody {
    /// Why the unit must edit again.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Reopen a unit's submission (SKHCN): the unit edits again and submits anew.
#[utoipa::path(post, path = "/plans/{plan}/rounds/{number}/units/{unit}/reopen", tag = "rounds",
    request_body = ReopenBody,
    params(
        ("plan" = String, Path, description = "Plan number (slash percent-encoded) or id"),
        ("number" = u32, Path, description = "Round number", minimum = 1, maximum = 1000),
        ("unit" = String, Path, description = "Unit id"),
    ),
    responses(
        (status = 204, description = "Reopened"),
        (status = 400, description = "Malformed input, or the unit has not submitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not SKHCN (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan or round", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn reopen_unit(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path((plan, n, unit)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<ReopenBody>,
) -> Result<StatusCode, Problem> {
    let (plan, n) = round_of(&plan, &n)?;
    let unit = ident("unit", &unit)?;
    let reason = opt_text("reason", body.reason.as_deref(), MAX_LINE, true)?;
    app.store
        .rounds()
        .reopen_as(&id.actor, &plan, n, &unit, reason.as_deref(), Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    /// The section's text; null or blank removes SKHCN's text (the generated one is used).
    #[schema(max_length = 16000)]
    pub text: Option<String>,
}

/// Write (or remove) SKHCN's text for a section of the official report.
#[utoipa::path(put, path = "/plans/{plan}/rounds/{number}/drafts/{section}", tag = "rounds",
    request_body = DraftBody,
    params(
        ("plan" = String, Path, description = "Plan number (slash percent-encoded) or id"),
        ("number" = u32, Path, description = "Round number", minimum = 1, maximum = 1000),
        ("section" = DraftSectionDoc, Path, description = "Section"),
    ),
    responses(
        (status = 204, description = "Saved"),
        (status = 400, description = "Malformed input or unknown section", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not SKHCN (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan or round", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn put_draft(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path((plan, n, section)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<DraftBody>,
) -> Result<StatusCode, Problem> {
    let (plan, n) = round_of(&plan, &n)?;
    let section = DraftSection::parse(&section).map_err(|e| Problem::bad_request("section", e))?;
    let body = opt_text("text", body.text.as_deref(), 4 * MAX_TEXT, true)?;
    app.store
        .rounds()
        .set_draft_as(&id.actor, &plan, n, section, body.as_deref(), Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignerBody {
    /// "KT. GIÁM ĐỐC", or empty when the director signs.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub on_behalf: String,
    #[schema(min_length = 1, max_length = 500)]
    pub title: String,
    #[schema(min_length = 1, max_length = 500)]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureBody {
    /// "Số: …/BC-SKHCN": e.g. `456/BC-SKHCN`; absent leaves it as it is.
    #[schema(max_length = 500)]
    pub doc_number: Option<String>,
    /// Absent leaves it as it is.
    pub signer: Option<SignerBody>,
}

/// Set the report's number and signer (SKHCN); at least one of them.
#[utoipa::path(put, path = "/plans/{plan}/rounds/{number}/signature", tag = "rounds",
    request_body = SignatureBody,
    params(
        ("plan" = String, Path, description = "Plan number (slash percent-encoded) or id"),
        ("number" = u32, Path, description = "Round number", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "The round", body = RoundOut),
        (status = 400, description = "Malformed input, or neither field", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not SKHCN (`rule`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan or round", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn put_signature(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path((plan, n)): Path<(String, String)>,
    JsonBody(body): JsonBody<SignatureBody>,
) -> Result<Json<RoundOut>, Problem> {
    let (plan, n) = round_of(&plan, &n)?;
    let doc_number = opt_text("doc_number", body.doc_number.as_deref(), MAX_LINE, false)?;
    let signer = match &body.signer {
        Some(s) => Some(Signer {
            on_behalf: opt_text("signer.on_behalf", Some(&s.on_behalf), MAX_LINE, false)?
                .unwrap_or_default(),
            title: text("signer.title", &s.title, MAX_LINE, false)?,
            name: text("signer.name", &s.name, MAX_LINE, false)?,
        }),
        None => None,
    };
    let r = app
        .store
        .rounds()
        .sign_as(
            &id.actor,
            &plan,
            n,
            doc_number.as_deref(),
            signer.as_ref(),
            Utc::now(),
        )
        .await?;
    Ok(Json(r.into()))
}
