//! `/reports`: the progress report on a plan and the status report (issue 6), as XLSX, HTML or
//! Markdown; the progress report also as the official DOCX document (issue 16). Which tasks a caller's report covers is decided by [`engine::access::report_scope`]
//! (SKHCN and UBND the whole plan, a unit its own tasks, the others nothing), not here.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use engine::time::{local_date, parse_date};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{Auth, Params, ident};
use super::super::problem::{Problem, ProblemDoc};
use super::super::startup::AppState;
use crate::report::{self, Format, ProgressParams, ReportError, StatusParams};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(progress_report))
        .routes(routes!(status_report))
}

fn problem(e: ReportError) -> Problem {
    match e {
        ReportError::NotFound(m) => Problem::not_found(m),
        ReportError::Invalid(m) => Problem::new(StatusCode::BAD_REQUEST, "invalid", m),
        ReportError::Store(s) => s.into(),
        ReportError::Render(m) => {
            tracing::error!(error = %m, "cannot render a report");
            Problem::internal()
        }
    }
}

fn date(field: &str, s: &str) -> Result<NaiveDate, Problem> {
    parse_date(s).map_err(|_| {
        Problem::bad_request(
            field,
            format!("Tham số `{field}`: ngày không hợp lệ; dùng yyyy-mm-dd hoặc dd/mm/yyyy."),
        )
    })
}

fn year(y: Option<i32>) -> Result<Option<i32>, Problem> {
    match y {
        Some(y) if !(2000..=2100).contains(&y) => Err(Problem::bad_request(
            "year",
            format!("Tham số `year`: năm {y} không hợp lệ (2000–2100)."),
        )),
        y => Ok(y),
    }
}

fn format(f: Option<&str>) -> Result<Format, Problem> {
    f.unwrap_or("xlsx")
        .parse()
        .map_err(|e: String| Problem::bad_request("format", e))
}

fn file(r: report::Report) -> Response {
    let mut res = Response::new(Body::from(r.bytes));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(r.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", r.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProgressQuery {
    /// The plan's number (`215/KH-UBND`) or id (or give `year`; with neither, the plan of the
    /// year of `as_of`).
    plan: Option<String>,
    /// The plan's year: names the plan when `plan` is not given (the only plan of that year),
    /// else must be the plan's.
    year: Option<i32>,
    /// "Tiến độ tính đến": yyyy-mm-dd or dd/mm/yyyy (default: today).
    as_of: Option<String>,
    /// xlsx (default), docx (the official document in the NĐ 30/2020 form, with the
    /// appendices), html or md.
    format: Option<String>,
    /// A reporting round of the plan (the official document: `format` docx, its default here); without `as_of` the figures
    /// are as of the round's cut-off. The document takes its
    /// submitted units' difficulties and proposals, SKHCN's drafts, number and signer, and the
    /// export is recorded in the round's events (format, sha256, who).
    #[param(minimum = 1, maximum = 1000)]
    round: Option<u32>,
}

/// The SKHCN progress report on a plan, as of a date.
#[utoipa::path(get, path = "/reports/progress", tag = "reports",
    params(ProgressQuery),
    responses(
        (status = 200, description = "The report file: XLSX (the default), the official document as DOCX, HTML or Markdown, as `format` asks",
            content(
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                ("text/html"),
                ("text/markdown")
            ),
            headers(("Content-Disposition" = String))),
        (status = 403, description = "Not a role that reads plan reports", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 400, description = "Bad parameters (dates, year, plan of another year, several plans of the year; `round` with a format other than docx)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, or no such round of it", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn progress_report(
    State(app): State<AppState>,
    Auth(id): Auth,
    Params(q): Params<ProgressQuery>,
) -> Result<Response, Problem> {
    let units = engine::access::report_scope(&id.actor).map_err(crate::store::StoreError::from)?;
    // Without `as_of`: today, or a round's cut-off for a round's document (its door's rule).
    let given = q.as_of.as_deref().map(|d| date("as_of", d)).transpose()?;
    let as_of = given.unwrap_or_else(|| local_date(chrono::Utc::now()));
    let plan = q.plan.as_deref().map(|p| ident("plan", p)).transpose()?;
    let year = year(q.year)?;
    // The plan first (404 when there is none): named by `plan`, else by `year`, else the plan
    // of the year the report is as of.
    let default_year = (plan.is_none() && year.is_none()).then(|| as_of.year());
    let found = report::resolve_plan(&app.store, plan.as_deref(), year.or(default_year))
        .await
        .map_err(problem)?
        .ok_or_else(|| Problem::not_found("Không tìm thấy kế hoạch."))?;
    let params = ProgressParams {
        plan: found.id.clone(),
        year,
        as_of,
        units,
    };
    let Some(n) = q.round else {
        let fmt = format(q.format.as_deref())?;
        return report::progress(&app.store, &params, fmt)
            .await
            .map(file)
            .map_err(problem);
    };
    // A round's document is the official one: DOCX (the default with `round`).
    let fmt = format(Some(q.format.as_deref().unwrap_or("docx")))?;
    if !(1..=1000).contains(&n) {
        return Err(Problem::bad_request(
            "round",
            "Tham số `round`: số thứ tự đợt báo cáo từ 1 đến 1000.",
        ));
    }
    if fmt != Format::Docx {
        return Err(Problem::bad_request(
            "round",
            "Tham số `round` dùng cho văn bản báo cáo: `format=docx` (hoặc bỏ trống `format`).",
        ));
    }
    let r = report::round_document_tracked(&app.store, &params, n, given, &id.actor.user, &())
        .await
        .map_err(problem)?;
    Ok(file(r))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// A plan (default: every plan, or the plan of `year`).
    plan: Option<String>,
    /// A plan year: names the plan when `plan` is not given, else must be the plan's; tasks
    /// with a year-level status are judged by it.
    year: Option<i32>,
    /// First day: yyyy-mm-dd or dd/mm/yyyy (default: 1 January of the last day's year).
    from: Option<String>,
    /// Last day (default: `as_of`, else today).
    to: Option<String>,
    /// The day the report is as of: the last day of the range (the same as `to`).
    as_of: Option<String>,
    /// Stall threshold in working days (default: the workflow's).
    stall_days: Option<u32>,
    /// xlsx (default), html or md.
    format: Option<String>,
}

/// The status report for leadership over a date range (the four statuses of QĐ 42/2014).
#[utoipa::path(get, path = "/reports/status", tag = "reports",
    params(StatusQuery),
    responses(
        (status = 200, description = "The report file: XLSX (the default), HTML or Markdown, as `format` asks",
            content(
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                ("text/html"),
                ("text/markdown")
            ),
            headers(("Content-Disposition" = String))),
        (status = 403, description = "Not a role that reads plan reports", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 400, description = "Bad parameters (dates, year, plan of another year, several plans of the year, a format the status report has not: docx)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A date the loaded holiday calendars do not cover (`to`, or a task's deadline), so working days cannot be counted", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn status_report(
    State(app): State<AppState>,
    Auth(id): Auth,
    Params(q): Params<StatusQuery>,
) -> Result<Response, Problem> {
    let units = engine::access::report_scope(&id.actor).map_err(crate::store::StoreError::from)?;
    if q.stall_days.is_some_and(|d| d == 0 || d > 365) {
        return Err(Problem::bad_request(
            "stall_days",
            "Tham số `stall_days` phải từ 1 đến 365 ngày làm việc.",
        ));
    }
    let to = match (q.to.as_deref(), q.as_of.as_deref()) {
        (Some(t), Some(a)) if date("to", t)? != date("as_of", a)? => {
            return Err(Problem::bad_request(
                "as_of",
                "Tham số `as_of` là ngày cuối của kỳ: không khác `to`.",
            ));
        }
        (Some(t), _) => date("to", t)?,
        (None, Some(a)) => date("as_of", a)?,
        (None, None) => local_date(chrono::Utc::now()),
    };
    let from = match q.from.as_deref() {
        Some(f) => date("from", f)?,
        None => NaiveDate::from_ymd_opt(chrono::Datelike::year(&to), 1, 1).unwrap_or(to),
    };
    let params = StatusParams {
        plan: q.plan.as_deref().map(|p| ident("plan", p)).transpose()?,
        year: year(q.year)?,
        from,
        to,
        stall_days: q.stall_days,
        units,
    };
    let fmt = format(q.format.as_deref())?;
    report::status(&app.store, &params, fmt)
        .await
        .map(file)
        .map_err(problem)
}
