//! `/overview` — Tổng quan, for UBND and SKHCN: a plan's tasks counted by phase and by unit,
//! the Government Office's four status categories as a chart, the overdue and stalled tasks
//! with who holds the ball and for how long, and the progress and status reports to download.
//! The figures are the status report's own ([`crate::report::status::summarize`]), so the page
//! and the report never disagree.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use engine::Phase;
use engine::time::local_date;
use engine::wording::Counting;

use super::graph::{self, BarChart};
use super::page::{Layout, PageError, encode, ok};
use super::session::Viewer;
use super::tasks::Opt;
use super::view;
use crate::http::AppState;
use crate::report::status::{Category, StatusOptions, summarize};
use crate::report::{self, ReportError};

pub struct UnitLine {
    pub name: String,
    pub total: i64,
    pub counts: Vec<i64>,
}

pub struct LateLine {
    pub href: String,
    pub name: String,
    pub unit: String,
    pub step: String,
    pub due: String,
    pub late: String,
}

pub struct StallLine {
    pub href: String,
    pub name: String,
    pub unit: String,
    pub step: String,
    pub days: i64,
    pub since: String,
    pub holders: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    has_plan: bool,
    plan_title: String,
    plans: Vec<Opt>,
    as_of: String,
    total: usize,
    phases: BarChart,
    phases_text: String,
    status: BarChart,
    status_text: String,
    categories: Vec<&'static str>,
    units: Vec<UnitLine>,
    overdue: Vec<LateLine>,
    stalled: Vec<StallLine>,
    progress_xlsx: String,
    progress_html: String,
    status_xlsx: String,
    status_html: String,
    /// The plan's reporting rounds page.
    rounds: String,
}

#[derive(serde::Deserialize)]
pub struct OverviewQuery {
    plan: Option<String>,
}

fn page_error(e: ReportError) -> PageError {
    match e {
        ReportError::NotFound(_) => PageError::not_found(),
        ReportError::Invalid(m) => PageError::bad_request(m),
        ReportError::Store(s) => s.into(),
        ReportError::Render(m) => {
            tracing::error!(error = %m, "cannot build the overview");
            PageError::internal()
        }
    }
}

fn step_title(app: &AppState, r: &crate::store::ReportRow) -> String {
    app.store
        .catalog()
        .get(&r.workflow, r.workflow_version)
        .and_then(|w| w.state(&r.state))
        .map_or_else(|| r.phase.title().to_string(), |s| s.title.clone())
}

/// A chart's figures as text ("Thẩm định: 3; …"), its accessible name.
fn in_words(items: &[(String, i64, &'static str)]) -> String {
    items
        .iter()
        .map(|(l, n, _)| format!("{l}: {n}"))
        .collect::<Vec<_>>()
        .join("; ")
}

pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<OverviewQuery>,
) -> Result<Response, PageError> {
    let today = local_date(Utc::now());
    let plan = q.plan.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let data = report::overview(&app.store, &viewer.identity.actor, plan, today)
        .await
        .map_err(page_error)?;
    let layout = Layout::new("Tổng quan", Some(&viewer), "/overview");
    let Some(data) = data else {
        let empty = OverviewPage {
            layout,
            has_plan: false,
            plan_title: String::new(),
            plans: Vec::new(),
            as_of: view::date(today),
            total: 0,
            phases: graph::bars(&[]),
            phases_text: String::new(),
            status: graph::bars(&[]),
            status_text: String::new(),
            categories: Vec::new(),
            units: Vec::new(),
            overdue: Vec::new(),
            stalled: Vec::new(),
            progress_xlsx: String::new(),
            progress_html: String::new(),
            status_xlsx: String::new(),
            status_html: String::new(),
            rounds: String::new(),
        };
        return Ok(ok(&empty));
    };
    let from = NaiveDate::from_ymd_opt(data.plan.year, 1, 1)
        .filter(|d| *d <= today)
        .unwrap_or(today);
    let opts = StatusOptions {
        from,
        to: today,
        stall_days: None,
    };
    let summary =
        summarize(&data.rows, &opts, app.store.catalog(), &data.unit_names).map_err(page_error)?;

    let phase_counts: Vec<(String, i64, &'static str)> = Phase::ALL
        .iter()
        .map(|p| {
            let n = data.rows.iter().filter(|r| r.phase == *p).count() as i64;
            (p.title().to_string(), n, "phase")
        })
        .collect();
    let phases_text = in_words(&phase_counts);
    let status_items: Vec<(String, i64, &'static str)> = [
        (Category::CompletedOnTime, "on_time"),
        (Category::CompletedLate, "late"),
        (Category::InProgress, "in_progress"),
        (Category::Overdue, "overdue"),
        (Category::Standing, "other"),
        (Category::Postponed, "other"),
        (Category::Withdrawn, "other"),
    ]
    .iter()
    .map(|(c, class)| (c.title().to_string(), summary.total(*c), *class))
    .collect();
    let status_text = in_words(&status_items);
    let unit_name = |r: &crate::store::ReportRow| {
        data.unit_names
            .get(&r.unit_id)
            .cloned()
            .unwrap_or_else(|| r.unit_id.clone())
    };
    let plan_q = encode(&data.plan.number);
    let range = format!(
        "from={}&to={}",
        from.format("%Y-%m-%d"),
        today.format("%Y-%m-%d")
    );
    let as_of = today.format("%Y-%m-%d");
    let page = OverviewPage {
        layout,
        has_plan: true,
        plan_title: format!("{} — {}", data.plan.number, data.plan.title),
        plans: data
            .plans
            .iter()
            .map(|p| Opt {
                selected: p.id == data.plan.id,
                value: p.number.clone(),
                label: format!("{} — {} (năm {})", p.number, p.title, p.year),
            })
            .collect(),
        as_of: view::date(today),
        total: data.rows.len(),
        phases: graph::bars(&phase_counts),
        phases_text,
        status: graph::bars(&status_items),
        status_text,
        categories: Category::COLUMNS.iter().map(|c| c.title()).collect(),
        units: summary
            .units
            .iter()
            .map(|u| UnitLine {
                name: u.unit_name.clone(),
                total: u.counts.iter().sum(),
                counts: u.counts.to_vec(),
            })
            .collect(),
        overdue: summary
            .overdue
            .iter()
            .map(|o| LateLine {
                href: format!("/tasks/{}", o.row.task_id),
                name: o.row.name.clone(),
                unit: unit_name(o.row),
                step: step_title(&app, o.row),
                due: view::instant(o.due),
                late: o
                    .working_days_late
                    .map(|d| format!("{d} {} ({})", Counting::WorkingDays.unit(), o.which))
                    .unwrap_or_else(|| o.which.to_string()),
            })
            .collect(),
        stalled: summary
            .stalled
            .iter()
            .map(|s| StallLine {
                href: format!("/tasks/{}", s.row.task_id),
                name: s.row.name.clone(),
                unit: unit_name(s.row),
                step: step_title(&app, s.row),
                days: s.working_days,
                since: view::instant(s.row.moved_at),
                holders: s.holders.clone(),
            })
            .collect(),
        progress_xlsx: format!("/api/v1/reports/progress?plan={plan_q}&as_of={as_of}&format=xlsx"),
        progress_html: format!("/api/v1/reports/progress?plan={plan_q}&as_of={as_of}&format=html"),
        status_xlsx: format!("/api/v1/reports/status?plan={plan_q}&{range}&format=xlsx"),
        status_html: format!("/api/v1/reports/status?plan={plan_q}&{range}&format=html"),
        rounds: format!("/plans/{}/rounds", encode(&data.plan.id)),
    };
    Ok(ok(&page))
}
