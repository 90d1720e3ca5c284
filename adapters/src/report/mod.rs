//! The reports users send today by hand, generated from the store (issue 6): the SKHCN progress
//! report on a plan ([`progress`]) and the status report for leadership ([`status`]), each as
//! XLSX, HTML or Markdown bytes with their content type, for the CLI (`tiendo report …`) and the
//! HTTP API alike; and the official document UBND signs ([`official`], issue 16) as DOCX
//! ([`docx`]), the progress report laid out in the NĐ 30/2020 form with a reporting round's
//! difficulties and proposals.
//!
//! How it fits: [`crate::store::Reports::report_rows`] reads every task of the plan with the audit
//! entry that describes it on the report date, in one query; [`progress::build`] and
//! [`status::write`] turn the rows into a format-neutral [`model::Document`] (the status report
//! one [`model::Section`] at a time); [`xlsx`], [`html`] and [`markdown`] render it. Building
//! and rendering are pure.
//!
//! Visibility: a caller acting for a unit passes `units` (see [`engine::access::report_scope`]) and
//! the report covers those units' tasks only; the city's roles see the whole plan.

pub mod docx;
pub mod forecast;
pub mod html;
pub mod markdown;
pub mod model;
pub mod official;
pub mod progress;
pub mod proposals;
pub mod status;
pub mod xlsx;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::NaiveDate;
use engine::time::{end_of_day, format_date};

use engine::round::RoundReport;

use crate::progress::Tracker;
use crate::store::{ReportRow, Store, StoreError};
use model::Block;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    /// The official document (progress report only).
    Docx,
    Html,
    Markdown,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Html => "text/html; charset=utf-8",
            Format::Markdown => "text/markdown; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Docx => "docx",
            Format::Html => "html",
            Format::Markdown => "md",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "xlsx" => Ok(Format::Xlsx),
            "docx" => Ok(Format::Docx),
            "html" | "htm" => Ok(Format::Html),
            "md" | "markdown" => Ok(Format::Markdown),
            other => Err(format!(
                "định dạng báo cáo `{other}` không hợp lệ; các định dạng: xlsx, docx (văn bản báo cáo tiến độ), html, md"
            )),
        }
    }
}

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Report {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    /// A suggested file name (ASCII), e.g. `bao-cao-tien-do-215-KH-UBND-2025-11-05.xlsx`.
    pub file_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The plan does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be answered as asked (dates, range, calendar).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Store(StoreError),
    #[error("Không tạo được tệp báo cáo: {0}")]
    Render(String),
}

impl From<StoreError> for ReportError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ReportError::NotFound(e.to_string()),
            other => ReportError::Store(other),
        }
    }
}

/// What the progress report covers.
#[derive(Debug, Clone)]
pub struct ProgressParams {
    /// The plan's number (215/KH-UBND) or id; empty: the plan of `year`.
    pub plan: String,
    /// The plan's year: names the plan when `plan` is empty, else must be the plan's.
    pub year: Option<i32>,
    /// "Tiến độ tính đến": tasks are described as of the end of this day.
    pub as_of: NaiveDate,
    /// Only these units' tasks (a unit user's view); `None` for the whole plan.
    pub units: Option<Vec<String>>,
}

/// What the status report covers.
#[derive(Debug, Clone)]
pub struct StatusParams {
    /// A plan, or every plan.
    pub plan: Option<String>,
    /// A plan year: names the plan when `plan` is not given, else must be the plan's. With a
    /// plan, tasks with a year-level status are judged by it.
    pub year: Option<i32>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The stall threshold in working days; default: the workflow's, else 10.
    pub stall_days: Option<u32>,
    pub units: Option<Vec<String>>,
}

/// A row's unit as a report names it: its name on the report's date (`names`), else as the plan
/// printed it, else its id.
fn unit_name(names: &HashMap<String, String>, r: &ReportRow) -> String {
    names
        .get(&r.unit_id)
        .cloned()
        .or_else(|| r.unit_printed.clone())
        .unwrap_or_else(|| r.unit_id.clone())
}

/// The rows a report covers, as of the end of `date` (of `plan`, else of every plan; of `units`,
/// else of all), with the units' names on that date.
async fn read_rows(
    store: &Store,
    plan: Option<&str>,
    date: NaiveDate,
    units: &Option<Vec<String>>,
    tracker: &dyn Tracker,
) -> Result<(Vec<ReportRow>, HashMap<String, String>), ReportError> {
    tracker.stage("Đọc dữ liệu nhiệm vụ", 0);
    let rows = store.reports().report_rows(plan, end_of_day(date)).await?;
    let rows = in_scope(rows, units);
    let names = store.reports().unit_names_on(date).await?;
    Ok((rows, names))
}

/// [`read_rows`] of `plan`, each row described as known at the end of `date`
/// ([`crate::store::Reports::report_rows_as_of`]).
async fn read_rows_as_of(
    store: &Store,
    plan: &crate::store::Plan,
    date: NaiveDate,
    units: &Option<Vec<String>>,
    tracker: &dyn Tracker,
) -> Result<(Vec<ReportRow>, HashMap<String, String>), ReportError> {
    tracker.stage("Đọc dữ liệu nhiệm vụ", 0);
    let rows = store
        .reports()
        .report_rows_as_of(plan, end_of_day(date), date)
        .await?;
    let rows = in_scope(rows, units);
    let names = store.reports().unit_names_on(date).await?;
    Ok((rows, names))
}

fn in_scope(rows: Vec<ReportRow>, units: &Option<Vec<String>>) -> Vec<ReportRow> {
    match units {
        None => rows,
        Some(u) => rows
            .into_iter()
            .filter(|r| u.contains(&r.unit_id))
            .collect(),
    }
}

/// The plan a report names: by number or id (of `year`, when given), else the only plan of
/// `year`; `None` when neither is given.
pub async fn resolve_plan(
    store: &Store,
    plan: Option<&str>,
    year: Option<i32>,
) -> Result<Option<crate::store::Plan>, ReportError> {
    match (plan.filter(|p| !p.trim().is_empty()), year) {
        (Some(p), y) => {
            let plan = store.directory().plan(p).await?;
            if let Some(y) = y
                && y != plan.year
            {
                return Err(ReportError::Invalid(format!(
                    "Kế hoạch {} là kế hoạch năm {}, không phải năm {y}.",
                    plan.number, plan.year
                )));
            }
            Ok(Some(plan))
        }
        (None, Some(y)) => {
            let of_year: Vec<crate::store::Plan> = store
                .directory()
                .plans()
                .await?
                .into_iter()
                .filter(|p| p.year == y)
                .collect();
            match of_year.len() {
                1 => Ok(of_year.into_iter().next()),
                0 => Err(ReportError::NotFound(format!(
                    "Không có kế hoạch nào của năm {y}."
                ))),
                _ => Err(ReportError::Invalid(format!(
                    "Năm {y} có {} kế hoạch ({}): chọn một bằng --plan.",
                    of_year.len(),
                    of_year
                        .iter()
                        .map(|p| p.number.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
        (None, None) => Ok(None),
    }
}

/// An ASCII file-name fragment: "215/KH-UBND" → "215-KH-UBND".
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// A report being written section by section in one of [`Format`]'s formats except DOCX (the
/// official document has its own model): a caller that builds many large sections (the status
/// report) hands each over as soon as it is built and drops it, instead of holding them all.
enum Writer {
    Xlsx(Box<xlsx::Writer>),
    Html(html::Writer),
    Markdown(markdown::Writer),
}

impl Writer {
    fn new(format: Format, title: &str) -> Result<Writer, ReportError> {
        Ok(match format {
            Format::Xlsx => Writer::Xlsx(Box::default()),
            Format::Docx => {
                return Err(ReportError::Invalid(
                    "Định dạng docx chỉ dành cho báo cáo tiến độ (văn bản gửi UBND thành phố); báo cáo này có các định dạng xlsx, html, md.".into(),
                ));
            }
            Format::Html => Writer::Html(html::Writer::new(title)),
            Format::Markdown => Writer::Markdown(markdown::Writer::default()),
        })
    }

    /// Writes `sections` in order: XLSX sheets side by side (see [`xlsx::Writer::sections`]).
    fn sections(&mut self, sections: &[model::Section]) -> Result<(), ReportError> {
        match self {
            Writer::Xlsx(w) => w
                .sections(sections)
                .map_err(|e| ReportError::Render(e.to_string())),
            _ => sections.iter().try_for_each(|s| self.section(s)),
        }
    }

    fn section(&mut self, s: &model::Section) -> Result<(), ReportError> {
        match self {
            Writer::Xlsx(w) => w.section(s).map_err(|e| ReportError::Render(e.to_string())),
            Writer::Html(w) => {
                w.section(s);
                Ok(())
            }
            Writer::Markdown(w) => {
                w.section(s);
                Ok(())
            }
        }
    }

    /// The file's bytes; `title` and `as_of` go into the XLSX properties.
    fn finish(self, title: &str, as_of: Option<NaiveDate>) -> Result<Vec<u8>, ReportError> {
        Ok(match self {
            Writer::Xlsx(w) => w
                .finish(title, as_of)
                .map_err(|e| ReportError::Render(e.to_string()))?,
            Writer::Html(w) => w.finish().into_bytes(),
            Writer::Markdown(w) => w.finish().into_bytes(),
        })
    }
}

fn render(
    doc: &model::Document,
    format: Format,
    stem: String,
    tracker: &dyn Tracker,
) -> Result<Report, ReportError> {
    let mut w = Writer::new(format, &doc.title)?;
    tracker.stage(&format!("Ghi tệp {}", format.extension()), 0);
    w.sections(&doc.sections)?;
    Ok(Report {
        bytes: w.finish(&doc.title, doc.as_of)?,
        content_type: format.content_type(),
        file_name: format!("{stem}.{}", format.extension()),
    })
}

/// The progress report on a plan as of a date. See [`progress`].
pub async fn progress(
    store: &Store,
    params: &ProgressParams,
    format: Format,
) -> Result<Report, ReportError> {
    progress_tracked(store, params, format, &()).await
}

/// [`progress()`], telling `tracker` how far it has got.
pub async fn progress_tracked(
    store: &Store,
    params: &ProgressParams,
    format: Format,
    tracker: &dyn Tracker,
) -> Result<Report, ReportError> {
    if format == Format::Docx {
        return official_tracked(store, params, &RoundReport::default(), tracker).await;
    }
    let (read, rows) = progress_rows(store, params, tracker).await?;
    let (plan, names) = (&read.plan, &read.names);
    let pending = store.reports().pending_proposals().await?;
    let pending = proposals::of_report(&rows, &pending, params.as_of);
    let bullets = proposals::body_blocks(&rows, &pending, names);
    let sheet = proposals::section(&rows, &pending, store.catalog(), names);
    let mut doc = progress::build(&read.input(store, params.as_of, tracker), rows);
    if let Some(body) = doc.sections.first_mut() {
        body.blocks.extend(bullets);
    }
    doc.sections.extend(sheet);
    let report = render(
        &doc,
        format,
        format!(
            "bao-cao-tien-do-{}-{}",
            slug(&plan.number),
            params.as_of.format("%Y-%m-%d")
        ),
        tracker,
    );
    drop_aside(doc);
    report
}

/// Drops `value` on a thread of its own: freeing the text of a 100,000-task document takes a
/// tenth of a second that the caller need not wait for. When no thread can start, the value is
/// dropped here, with the closure that holds it.
fn drop_aside<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("drop-aside".into())
        .spawn(move || drop(value));
}

/// The plan, its rows as of the report's date, the units' names then, and the plan's layout.
async fn progress_rows(
    store: &Store,
    params: &ProgressParams,
    tracker: &dyn Tracker,
) -> Result<(ProgressRead, Vec<ReportRow>), ReportError> {
    let plan = resolve_plan(store, Some(&params.plan), params.year)
        .await?
        .ok_or_else(|| ReportError::Invalid("Cần --plan hoặc --year.".into()))?;
    let (rows, names) = read_rows_as_of(store, &plan, params.as_of, &params.units, tracker).await?;
    let layout = store.plans().layout(&plan.id, plan.year).await?;
    tracker.stage("Lập báo cáo tiến độ", rows.len());
    Ok((
        ProgressRead {
            plan,
            names,
            layout,
        },
        rows,
    ))
}

/// What [`progress_rows`] reads besides the rows: the plan, its units' names then, its layout.
struct ProgressRead {
    plan: crate::store::Plan,
    names: HashMap<String, String>,
    layout: engine::plan::layout::PlanLayout,
}

impl ProgressRead {
    /// The progress report's input on `store`'s catalogue as of `as_of`.
    fn input<'a>(
        &'a self,
        store: &'a Store,
        as_of: NaiveDate,
        tracker: &'a dyn Tracker,
    ) -> progress::Input<'a> {
        progress::Input {
            plan: &self.plan,
            layout: &self.layout,
            as_of,
            catalog: store.catalog(),
            unit_names: &self.names,
            tracker,
        }
    }
}

/// The official progress report UBND signs, as DOCX (see [`official`]): the progress report's
/// figures as of `params.as_of` in the NĐ 30/2020 form, with `round`'s difficulties,
/// proposals, drafts, number and signer (an empty round: a complete document saying that no
/// unit reported any).
pub async fn official(
    store: &Store,
    params: &ProgressParams,
    round: &RoundReport,
) -> Result<Report, ReportError> {
    official_tracked(store, params, round, &()).await
}

/// The official document of a plan's reporting round, exported by `by`: the round's submitted
/// entries, SKHCN's drafts, number and signer; its figures as of `as_of`, else as of the round's
/// cut-off (so that a round's document regenerated later is the one that was sent); the export
/// recorded in the round's events (format, sha256 of the bytes, who). The one door the CLI and
/// the API call for `--round` / `round=`.
pub async fn round_document_tracked(
    store: &Store,
    params: &ProgressParams,
    round: u32,
    as_of: Option<NaiveDate>,
    by: &str,
    tracker: &dyn Tracker,
) -> Result<Report, ReportError> {
    let rounds = store.rounds();
    let record = rounds.round(&params.plan, round).await?;
    let params = ProgressParams {
        as_of: as_of.unwrap_or(record.spec.cut_off),
        ..params.clone()
    };
    let content = rounds
        .report(&params.plan, round, params.units.as_deref())
        .await?;
    let r = official_tracked(store, &params, &content, tracker).await?;
    rounds
        .record_export(
            &record,
            by,
            Format::Docx.extension(),
            &crate::store::sha256_hex(&r.bytes),
            chrono::Utc::now(),
        )
        .await?;
    Ok(r)
}

/// [`official()`], telling `tracker` how far it has got.
pub async fn official_tracked(
    store: &Store,
    params: &ProgressParams,
    round: &RoundReport,
    tracker: &dyn Tracker,
) -> Result<Report, ReportError> {
    let (read, rows) = progress_rows(store, params, tracker).await?;
    let (plan, names) = (&read.plan, &read.names);
    let all_pending = store.reports().pending_proposals().await?;
    let pending = proposals::of_report(&rows, &all_pending, params.as_of);
    let mut pending_by_section: HashMap<String, Vec<Block>> = HashMap::new();
    for r in &rows {
        if !pending_by_section.contains_key(&r.section) {
            let of_section = rows.iter().filter(|x| x.section == r.section);
            pending_by_section.insert(
                r.section.clone(),
                proposals::body_blocks(of_section, &pending, names),
            );
        }
    }
    let pending_sheet = proposals::section(&rows, &pending, store.catalog(), names);
    let task_names: HashMap<String, String> = rows
        .iter()
        .map(|r| (r.task_id.clone(), r.name.clone()))
        .collect();
    let pending_count = pending.len();
    let parts = progress::parts(&read.input(store, params.as_of, tracker), rows);
    let doc = official::build(official::Input {
        plan,
        as_of: params.as_of,
        parts,
        pending_by_section,
        pending: pending_count,
        pending_sheet,
        round,
        task_names: &task_names,
        unit_names: names,
    });
    tracker.stage("Ghi tệp docx", 0);
    let bytes = docx::render(&doc).map_err(ReportError::Render)?;
    Ok(Report {
        bytes,
        content_type: Format::Docx.content_type(),
        file_name: format!(
            "bao-cao-tien-do-{}-{}.docx",
            slug(&plan.number),
            params.as_of.format("%Y-%m-%d")
        ),
    })
}

/// What the overview page reads: a plan's tasks as of the end of `as_of`, with the units'
/// names then, for an actor who may read the city-wide overview
/// (`engine::access::may_read_overview`). `plan`: a plan's number or id, else the newest plan.
pub struct OverviewData {
    pub plan: crate::store::Plan,
    pub plans: Vec<crate::store::Plan>,
    pub rows: Vec<ReportRow>,
    pub unit_names: std::collections::HashMap<String, String>,
}

/// Reads [`OverviewData`] for `actor`; `None` when there is no plan yet.
pub async fn overview(
    store: &Store,
    actor: &engine::decide::Actor,
    plan: Option<&str>,
    as_of: NaiveDate,
) -> Result<Option<OverviewData>, ReportError> {
    engine::access::may_read_overview(actor).map_err(StoreError::from)?;
    let plans = store.directory().plans().await?;
    let chosen = match plan {
        Some(p) => Some(store.directory().plan(p).await?),
        None => plans.first().cloned(),
    };
    let Some(plan) = chosen else {
        return Ok(None);
    };
    let rows = store
        .reports()
        .report_rows(Some(&plan.id), end_of_day(as_of))
        .await?;
    let unit_names = store.reports().unit_names_on(as_of).await?;
    Ok(Some(OverviewData {
        plan,
        plans,
        rows,
        unit_names,
    }))
}

/// The status report over a date range. See [`status`].
pub async fn status(
    store: &Store,
    params: &StatusParams,
    format: Format,
) -> Result<Report, ReportError> {
    status_tracked(store, params, format, &()).await
}

/// [`status()`], telling `tracker` how far it has got.
pub async fn status_tracked(
    store: &Store,
    params: &StatusParams,
    format: Format,
    tracker: &dyn Tracker,
) -> Result<Report, ReportError> {
    if params.from > params.to {
        return Err(ReportError::Invalid(format!(
            "Khoảng thời gian không hợp lệ: ngày bắt đầu {} sau ngày kết thúc {}.",
            format_date(params.from),
            format_date(params.to)
        )));
    }
    let plan = resolve_plan(store, params.plan.as_deref(), params.year).await?;
    let (scope, stem) = match &plan {
        Some(plan) => (
            format!("Kế hoạch số {} (năm {})", plan.number, plan.year),
            slug(&plan.number),
        ),
        None => ("Tất cả kế hoạch".to_string(), "tat-ca".to_string()),
    };
    let (rows, names) = match &plan {
        Some(plan) => read_rows_as_of(store, plan, params.to, &params.units, tracker).await?,
        None => read_rows(store, None, params.to, &params.units, tracker).await?,
    };
    tracker.stage("Lập báo cáo tình hình", rows.len());
    let opts = status::StatusOptions {
        from: params.from,
        to: params.to,
        stall_days: params.stall_days,
    };
    let title = status::title(&scope, &opts);
    // The proposals' sheet comes last but is built first: the report's rows are consumed by the
    // sheets before it.
    let pending = store.reports().pending_proposals().await?;
    let pending = proposals::of_report(&rows, &pending, params.to);
    let proposals = proposals::section(&rows, &pending, store.catalog(), &names);
    // Each sheet is written as soon as it is built: the overdue, stalled and forecast lists of a
    // 100,000-task plan are never held together.
    let mut w = Writer::new(format, &title)?;
    status::write(
        &scope,
        rows,
        &opts,
        store.catalog(),
        &names,
        tracker,
        &mut |s| w.section(&s),
    )?;
    tracker.stage(&format!("Ghi tệp {}", format.extension()), 0);
    if let Some(s) = proposals {
        w.section(&s)?;
    }
    Ok(Report {
        bytes: w.finish(&title, Some(params.to))?,
        content_type: format.content_type(),
        file_name: format!(
            "bao-cao-tinh-hinh-{stem}-{}-{}.{}",
            params.from.format("%Y-%m-%d"),
            params.to.format("%Y-%m-%d"),
            format.extension()
        ),
    })
}

/// The year-end forecast's formats: a report document, or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastFormat {
    Document(Format),
    Json,
}

impl ForecastFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ForecastFormat::Document(f) => f.content_type(),
            ForecastFormat::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ForecastFormat::Document(f) => f.extension(),
            ForecastFormat::Json => "json",
        }
    }
}

impl FromStr for ForecastFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<ForecastFormat, String> {
        if s.trim().eq_ignore_ascii_case("json") {
            return Ok(ForecastFormat::Json);
        }
        s.parse::<Format>()
            .ok()
            .filter(|f| *f != Format::Docx)
            .map(ForecastFormat::Document)
            .ok_or_else(|| {
                format!(
                    "định dạng `{}` không hợp lệ; các định dạng: md, html, xlsx, json",
                    s.trim()
                )
            })
    }
}

/// What the forecast covers.
#[derive(Debug, Clone)]
pub struct ForecastParams {
    /// The plan's number (215/KH-UBND) or id.
    pub plan: String,
    /// Tasks as of the end of this day, forecast from then.
    pub as_of: NaiveDate,
    pub units: Option<Vec<String>>,
    /// JSON: every path's every step, not only the earliest path's.
    pub all_paths: bool,
}

/// The year-end forecast of a plan's open tasks, in memory. See [`forecast_write`].
pub async fn forecast_tracked(
    store: &Store,
    params: &ForecastParams,
    format: ForecastFormat,
    tracker: &dyn Tracker,
) -> Result<Report, ReportError> {
    let mut bytes = Vec::new();
    let file_name = forecast_write(store, params, format, tracker, &mut bytes).await?;
    Ok(Report {
        bytes,
        content_type: format.content_type(),
        file_name,
    })
}

/// The year-end forecast of a plan's open tasks, written to `out` (the CLI's `-o` file, through
/// a buffer): JSON is serialized straight into it, so a 100,000-task answer (140 MB; more with
/// `all_paths`) is never held whole in memory. Returns the suggested file name. Nothing is
/// written when the forecast fails before rendering (an unknown plan, a store error).
pub async fn forecast_write(
    store: &Store,
    params: &ForecastParams,
    format: ForecastFormat,
    tracker: &dyn Tracker,
    out: &mut dyn std::io::Write,
) -> Result<String, ReportError> {
    let plan = store.directory().plan(&params.plan).await?;
    let names = Arc::new(store.reports().unit_names_on(params.as_of).await?);
    let stem = format!(
        "du-bao-hoan-thanh-{}-{}",
        slug(&plan.number),
        params.as_of.format("%Y-%m-%d")
    );
    tracker.stage("Đọc dữ liệu nhiệm vụ và dự báo khả năng hoàn thành", 0);
    // Forecast (and, for JSON, serialized) on worker threads while the rows are read.
    let job = forecast::Job {
        plan: plan.clone(),
        catalog: Arc::clone(store.catalog()),
        names: Arc::clone(&names),
        as_of: params.as_of,
        units: params.units.clone(),
        output: match format {
            ForecastFormat::Document(_) => forecast::Output::Document,
            ForecastFormat::Json if params.all_paths => forecast::Output::JsonAllPaths,
            ForecastFormat::Json => forecast::Output::Json,
        },
    };
    let mut streamed = forecast::Streamed::start(job, tracker)?;
    store
        .reports()
        .each_report_row(Some(&plan.id), end_of_day(params.as_of), &mut streamed)
        .await?;
    match format {
        ForecastFormat::Json => {
            let parts = streamed.finish_json()?;
            parts
                .write(out)
                .map_err(|e| ReportError::Render(e.to_string()))?;
            drop_aside(parts);
            Ok(format!("{stem}.json"))
        }
        ForecastFormat::Document(f) => {
            let doc = forecast::build(&plan, params.as_of, streamed.finish_document()?);
            let r = render(&doc, f, stem, tracker);
            drop_aside(doc);
            let r = r?;
            out.write_all(&r.bytes)
                .map_err(|e| ReportError::Render(e.to_string()))?;
            Ok(r.file_name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_file_names() {
        assert_eq!("XLSX".parse::<Format>().unwrap(), Format::Xlsx);
        assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
        assert!(
            "pdf"
                .parse::<Format>()
                .unwrap_err()
                .contains("xlsx, docx (văn bản báo cáo tiến độ), html, md")
        );
        assert_eq!(slug("215/KH-UBND"), "215-KH-UBND");
    }
}
