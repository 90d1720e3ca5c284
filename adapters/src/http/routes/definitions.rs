//! Workflows (list, show, Mermaid graph, check a new version) and calendars (list, a day, the
//! working-day calculator), from the catalog the server runs with.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use engine::calendar::{Calendar, weekday_name};
use engine::time::{format_instant, local_date, parse_date, parse_instant};
use engine::workflow::{Workflow, mermaid};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{Auth, JsonBody, Params, ident, text};
use super::super::problem::{Problem, ProblemDoc};
use super::super::startup::AppState;
use super::super::views::{
    BetweenView, CalendarView, CalendarYearView, DayView, DeadlineCalcView, LoadErrorView,
    NamedDay, WorkflowCheckBody, WorkflowCheckView, WorkflowDetail, WorkflowSummary,
};
use engine::wording::calendar_error;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows))
        .routes(routes!(show_workflow))
        .routes(routes!(workflow_graph))
        .routes(routes!(check_workflow))
        .routes(routes!(list_calendars))
        .routes(routes!(calendar_day))
        .routes(routes!(calendar_deadline))
        .routes(routes!(calendar_between))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A version (default: the latest).
    version: Option<u32>,
}

fn find<'a>(app: &'a AppState, name: &str, version: Option<u32>) -> Result<&'a Workflow, Problem> {
    let catalog = app.store.catalog();
    let found = match version {
        Some(v) => catalog.get(name, v),
        None => catalog.latest(name),
    };
    found.map(|w| w.as_ref()).ok_or_else(|| {
        Problem::not_found(format!(
            "Không có quy trình `{}`{}. Các quy trình hiện có: {}.",
            name.chars().take(100).collect::<String>(),
            version
                .map(|v| format!(" phiên bản {v}"))
                .unwrap_or_default(),
            catalog.names().join(", ")
        ))
    })
}

/// Every workflow version the server runs.
#[utoipa::path(get, path = "/workflows", tag = "definitions",
    responses((status = 200, description = "Workflow versions", body = Vec<WorkflowSummary>)))]
async fn list_workflows(
    State(app): State<AppState>,
    Auth(_id): Auth,
) -> Json<Vec<WorkflowSummary>> {
    Json(
        app.store
            .catalog()
            .workflows()
            .map(|w| WorkflowSummary::from(w.as_ref()))
            .collect(),
    )
}

/// A workflow: states, transitions, deadlines, document types.
#[utoipa::path(get, path = "/workflows/{name}", tag = "definitions",
    params(("name" = String, Path, description = "Workflow name"), VersionQuery),
    responses(
        (status = 200, description = "The workflow", body = WorkflowDetail),
        (status = 404, description = "No such workflow or version", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn show_workflow(
    State(app): State<AppState>,
    Auth(_id): Auth,
    Path(name): Path<String>,
    Params(q): Params<VersionQuery>,
) -> Result<Json<WorkflowDetail>, Problem> {
    let name = ident("name", &name)?;
    Ok(Json(WorkflowDetail::from(find(&app, &name, q.version)?)))
}

/// A workflow as a Mermaid `stateDiagram-v2`.
#[utoipa::path(get, path = "/workflows/{name}/graph", tag = "definitions",
    params(("name" = String, Path, description = "Workflow name"), VersionQuery),
    responses(
        (status = 200, description = "Mermaid source", body = String, content_type = "text/plain"),
        (status = 404, description = "No such workflow or version", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn workflow_graph(
    State(app): State<AppState>,
    Auth(_id): Auth,
    Path(name): Path<String>,
    Params(q): Params<VersionQuery>,
) -> Result<Response, Problem> {
    let name = ident("name", &name)?;
    let wf = find(&app, &name, q.version)?;
    let mut res = mermaid(wf).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(res)
}

/// Check a workflow file against the server's calendars without installing it
/// (administrators): what to run before putting a new version in the workflows folder.
#[utoipa::path(post, path = "/workflows/check", tag = "definitions",
    request_body = WorkflowCheckBody,
    responses(
        (status = 200, description = "The check's answer: `ok` when the file loads, else `errors` lists every error with its line", body = WorkflowCheckView),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn check_workflow(
    State(app): State<AppState>,
    Auth(id): Auth,
    JsonBody(body): JsonBody<WorkflowCheckBody>,
) -> Result<Json<WorkflowCheckView>, Problem> {
    let file = match body.file_name.as_deref() {
        Some(f) => text("file_name", f, 200, false)?,
        None => "workflow.toml".into(),
    };
    match app
        .store
        .directory()
        .check_workflow_as(&id.actor, &file, &body.text)?
    {
        Ok(w) => Ok(Json(WorkflowCheckView {
            ok: true,
            name: Some(w.name),
            version: Some(w.version),
            errors: Vec::new(),
        })),
        // The check itself succeeded: its answer says the file does not load, and why.
        Err(errors) => Ok(Json(WorkflowCheckView {
            ok: false,
            name: None,
            version: None,
            errors: errors
                .into_iter()
                .map(|e| LoadErrorView {
                    file: e.file,
                    line: e.line,
                    subject: e.subject,
                    message: e.message,
                })
                .collect(),
        })),
    }
}

fn calendar_named<'a>(app: &'a AppState, name: &str) -> Result<&'a Calendar, Problem> {
    app.store
        .catalog()
        .calendar(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| {
            Problem::not_found(format!(
                "Không có lịch làm việc `{}`. Các lịch hiện có: {}.",
                name.chars().take(100).collect::<String>(),
                app.store
                    .catalog()
                    .calendars()
                    .map(|c| c.name().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

fn provisional(c: &Calendar, years: &[i32]) -> bool {
    years
        .iter()
        .any(|y| c.year(*y).is_some_and(|cy| cy.provisional))
}

/// Working-day calendars with their years, holidays and swapped working days.
#[utoipa::path(get, path = "/calendars", tag = "definitions",
    responses((status = 200, description = "Calendars", body = Vec<CalendarView>)))]
async fn list_calendars(State(app): State<AppState>, Auth(_id): Auth) -> Json<Vec<CalendarView>> {
    let named = |m: &std::collections::BTreeMap<chrono::NaiveDate, String>| {
        m.iter()
            .map(|(d, n)| NamedDay {
                date: *d,
                name: n.clone(),
            })
            .collect::<Vec<_>>()
    };
    Json(
        app.store
            .catalog()
            .calendars()
            .map(|c| CalendarView {
                name: c.name().to_string(),
                years: c
                    .years()
                    .map(|y| CalendarYearView {
                        year: y.year,
                        provisional: y.provisional,
                        source: y.source.clone(),
                        working_days: c.working_days_in_year(y.year),
                        days_off: named(&y.days_off),
                        swapped_working_days: named(&y.working_days),
                    })
                    .collect(),
            })
            .collect(),
    )
}

/// Whether a date is a working day, and why not.
#[utoipa::path(get, path = "/calendars/{name}/days/{date}", tag = "definitions",
    params(("name" = String, Path, description = "Calendar name (`vn`)"), ("date" = String, Path, description = "yyyy-mm-dd or dd-mm-yyyy")),
    responses(
        (status = 200, description = "The day", body = DayView),
        (status = 400, description = "Not a date", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such calendar", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The year is not in the calendar", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn calendar_day(
    State(app): State<AppState>,
    Auth(_id): Auth,
    Path((name, date)): Path<(String, String)>,
) -> Result<Json<DayView>, Problem> {
    let c = calendar_named(&app, &ident("name", &name)?)?;
    let date = date.trim();
    // yyyy-mm-dd, or dd-mm-yyyy since '/' cannot appear in a path segment unencoded.
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(date, "%d-%m-%Y"))
        .or_else(|_| parse_date(date).map_err(|_| ()))
        .map_err(|_| {
            Problem::bad_request(
                "date",
                "Ngày không hợp lệ: dùng yyyy-mm-dd hoặc dd-mm-yyyy.",
            )
        })?;
    let info = c.day_info(d).map_err(|e| calendar_problem(&e))?;
    Ok(Json(DayView {
        date: d,
        weekday: weekday_name(d).to_string(),
        working: info.working,
        reason: info.reason,
        provisional: provisional(c, &[d.year()]),
    }))
}

fn calendar_problem(e: &engine::calendar::CalendarError) -> Problem {
    Problem::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "calendar_missing",
        calendar_error(e),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadlineQuery {
    /// The start (the day itself is not counted): yyyy-mm-dd, yyyy-mm-ddTHH:MM or RFC 3339.
    from: String,
    /// A period in working days…
    working_days: Option<u32>,
    /// …or in calendar days (exactly one of the two).
    days: Option<u32>,
}

fn instant(field: &str, s: &str) -> Result<engine::time::Instant, Problem> {
    parse_instant(s).map_err(|_| {
        Problem::bad_request(
            field,
            format!("Tham số `{field}`: thời điểm không hợp lệ; dùng yyyy-mm-dd, yyyy-mm-ddTHH:MM hoặc RFC 3339."),
        )
    })
}

/// The end of a legal period (BLDS 2015 Điều 147–148): n working days, or n days moved past a
/// day off.
#[utoipa::path(get, path = "/calendars/{name}/deadline", tag = "definitions",
    params(("name" = String, Path, description = "Calendar name"), DeadlineQuery),
    responses(
        (status = 200, description = "The deadline", body = DeadlineCalcView),
        (status = 400, description = "Wrong parameters", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The period leaves the loaded years", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn calendar_deadline(
    State(app): State<AppState>,
    Auth(_id): Auth,
    Path(name): Path<String>,
    Params(q): Params<DeadlineQuery>,
) -> Result<Json<DeadlineCalcView>, Problem> {
    let c = calendar_named(&app, &ident("name", &name)?)?;
    let from = instant("from", &q.from)?;
    let due = match (q.working_days, q.days) {
        (Some(n), None) if n <= 3650 => c.working_days_after(from, n),
        (None, Some(n)) if n <= 36500 => c.calendar_days_after(from, n),
        (Some(_), None) | (None, Some(_)) => {
            return Err(Problem::bad_request(
                "working_days",
                "Thời hạn quá dài (tối đa 3650 ngày làm việc hoặc 36500 ngày).",
            ));
        }
        _ => {
            return Err(Problem::bad_request(
                "working_days",
                "Cần đúng một trong hai tham số: working_days (ngày làm việc) hoặc days (ngày).",
            ));
        }
    }
    .map_err(|e| calendar_problem(&e))?;
    Ok(Json(DeadlineCalcView {
        from,
        due_at: due,
        due_text: format_instant(due),
        provisional: provisional(c, &[local_date(from).year(), local_date(due).year()]),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BetweenQuery {
    from: String,
    to: String,
}

/// Working days elapsed between two instants (after `from`'s day, through `to`'s).
#[utoipa::path(get, path = "/calendars/{name}/between", tag = "definitions",
    params(("name" = String, Path, description = "Calendar name"), BetweenQuery),
    responses(
        (status = 200, description = "The count", body = BetweenView),
        (status = 400, description = "Wrong parameters", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A date outside the loaded years", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn calendar_between(
    State(app): State<AppState>,
    Auth(_id): Auth,
    Path(name): Path<String>,
    Params(q): Params<BetweenQuery>,
) -> Result<Json<BetweenView>, Problem> {
    let c = calendar_named(&app, &ident("name", &name)?)?;
    let (from, to) = (instant("from", &q.from)?, instant("to", &q.to)?);
    let n = c
        .working_days_between(from, to)
        .map_err(|e| calendar_problem(&e))?;
    Ok(Json(BetweenView {
        from,
        to,
        working_days: n,
    }))
}
