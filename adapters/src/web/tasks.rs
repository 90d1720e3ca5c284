//! `/tasks` — Danh sách nhiệm vụ: the tasks the viewer may see, filtered (plan, year, unit,
//! funding source, kind, phase, state, overdue, stalled, my turn), searched by name with or
//! without diacritics, sorted and paged; `/tasks/export.xlsx` writes the same view to a
//! workbook. The store's search applies the visibility rule; with htmx the filter form updates
//! the results in place (and without it, it is an ordinary GET form).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use engine::Phase;
use engine::domain::FundingSource;
use rust_xlsxwriter::{Format, Workbook};

use super::page::{Fields, Layout, PageError, ok};
use super::session::Viewer;
use super::view::TaskRow;
use crate::http::AppState;
use crate::store::{MAX_PAGE, TaskQuery, TaskSort};

const PAGE_SIZE: i64 = 50;
/// The most rows an export writes; a larger view is narrowed with the filters first.
pub const EXPORT_MAX: usize = 10_000;

const SORTS: &[(&str, &str)] = &[
    ("due", "Thời hạn gần nhất"),
    ("-updated", "Cập nhật gần đây"),
    ("name", "Tên nhiệm vụ (A–Z)"),
    ("created", "Thứ tự nhập"),
    ("-state_entered", "Lâu nhất ở bước hiện tại"),
];

/// One option of a select.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn opts(items: impl IntoIterator<Item = (String, String)>, current: Option<&str>) -> Vec<Opt> {
    items
        .into_iter()
        .map(|(value, label)| Opt {
            selected: current == Some(value.as_str()),
            value,
            label,
        })
        .collect()
}

/// The filters as read from the query string, and the search they make.
struct Filters {
    fields: Fields,
    query: TaskQuery,
    page: i64,
    problems: Vec<String>,
}

fn read_filters(raw: Option<&str>) -> Filters {
    let fields = Fields::parse(raw.unwrap_or("").as_bytes());
    let mut problems = Vec::new();
    let mut q = TaskQuery::default();
    let text = |name: &str| {
        fields
            .get(name)
            .map(|s| s.chars().take(200).collect::<String>())
    };
    q.plan = text("plan");
    // A unit id (`TaskQuery::unit`); anything else is named above the list.
    q.unit = text("unit").and_then(|u| match engine::domain::UnitId::parse(&u) {
        Ok(unit) => Some(unit),
        Err(_) => {
            problems.push(format!(
                "Đơn vị «{u}» không hợp lệ: chọn một đơn vị trong danh sách."
            ));
            None
        }
    });
    q.kind = text("kind");
    q.state = text("state");
    q.text = text("q");
    if let Some(y) = fields.get("year") {
        match y.parse::<i32>() {
            Ok(y) if (2000..=2100).contains(&y) => q.year = Some(y),
            _ => problems.push(format!(
                "Năm «{y}» không hợp lệ: nhập một năm từ 2000 đến 2100."
            )),
        }
    }
    if let Some(f) = fields.get("funding_source") {
        match f.parse::<FundingSource>() {
            Ok(f) => q.funding_source = Some(f),
            Err(e) => problems.push(e),
        }
    }
    if let Some(p) = fields.get("phase") {
        match p.parse::<Phase>() {
            Ok(p) => q.phase = Some(p),
            Err(_) => problems.push(format!("Giai đoạn «{p}» không hợp lệ.")),
        }
    }
    q.overdue = fields.get("overdue").is_some();
    q.stalled = fields.get("stalled").is_some();
    q.my_turn = fields.get("mine").is_some();
    let sort = fields.get("sort").unwrap_or("due");
    match TaskSort::parse(sort) {
        Ok((s, desc)) => {
            q.sort = s;
            q.descending = desc;
        }
        Err(e) => problems.push(e),
    }
    let page = fields
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1);
    q.limit = Some(PAGE_SIZE);
    q.offset = Some((page - 1) * PAGE_SIZE);
    Filters {
        fields,
        query: q,
        page,
        problems,
    }
}

/// The query string of the current view with `page` replaced.
fn with_page(fields: &Fields, page: i64) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &fields.0 {
        if k != "page" && !v.trim().is_empty() {
            s.append_pair(k, v);
        }
    }
    if page > 1 {
        s.append_pair("page", &page.to_string());
    }
    s.finish()
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    layout: Layout,
    q: String,
    plans: Vec<Opt>,
    years: Vec<Opt>,
    units: Vec<Opt>,
    fundings: Vec<Opt>,
    kinds: Vec<Opt>,
    phases: Vec<Opt>,
    states: Vec<Opt>,
    sorts: Vec<Opt>,
    overdue: bool,
    stalled: bool,
    mine: bool,
    /// How many filters besides the search are in use (the filter panel opens when any is).
    active: usize,
    problems: Vec<String>,
    rows: Vec<TaskRow>,
    total: i64,
    page: i64,
    pages: i64,
    prev: Option<String>,
    next: Option<String>,
    export: String,
    first: i64,
    last: i64,
}

pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let actor = &viewer.identity.actor;
    let now = Utc::now();
    let f = read_filters(raw.as_deref());
    let found = app.store.tasks().search_as(actor, &f.query, now).await?;
    let rows: Vec<TaskRow> = found
        .items
        .iter()
        .map(|t| TaskRow::new(t, actor, now))
        .collect();
    let pages = ((found.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let plans = app.store.directory().plans().await?;
    let units = app.store.directory().units().await?;
    let catalog = app.store.catalog();
    let get = |n: &str| f.fields.get(n);
    let mut years: Vec<i32> = plans.iter().map(|p| p.year).collect();
    years.sort_unstable_by(|a, b| b.cmp(a));
    years.dedup();
    let kind = get("kind");
    let mut states: Vec<(String, String)> = Vec::new();
    for w in catalog.workflows() {
        if kind.is_some_and(|k| k != w.name) {
            continue;
        }
        for s in &w.states {
            if !states.iter().any(|(n, _)| *n == s.name) {
                states.push((s.name.clone(), s.title.clone()));
            }
        }
    }
    let mut kinds: Vec<(String, String)> = Vec::new();
    for w in catalog.workflows() {
        if !kinds.iter().any(|(n, _)| *n == w.name) {
            kinds.push((w.name.clone(), w.title.clone()));
        }
    }
    let first = if found.total == 0 {
        0
    } else {
        found.offset + 1
    };
    let last = found.offset + rows.len() as i64;
    let page = TasksPage {
        layout: Layout::new("Danh sách nhiệm vụ", Some(&viewer), "/tasks"),
        q: get("q").unwrap_or("").to_string(),
        plans: opts(
            plans
                .iter()
                .map(|p| (p.number.clone(), format!("{} — {}", p.number, p.title))),
            get("plan"),
        ),
        years: opts(
            years.iter().map(|y| (y.to_string(), y.to_string())),
            get("year"),
        ),
        units: opts(
            units
                .iter()
                .filter(|u| u.merged_into.is_none())
                .map(|u| (u.id.clone(), u.name.clone())),
            get("unit"),
        ),
        fundings: opts(
            FundingSource::ALL.map(|s| (s.as_str().to_string(), s.title().to_string())),
            get("funding_source"),
        ),
        kinds: opts(kinds, kind),
        phases: opts(
            Phase::ALL.map(|p| (p.as_str().to_string(), p.title().to_string())),
            get("phase"),
        ),
        states: opts(states, get("state")),
        sorts: opts(
            SORTS.iter().map(|(v, l)| (v.to_string(), l.to_string())),
            Some(get("sort").unwrap_or("due")),
        ),
        active: [
            "plan",
            "year",
            "unit",
            "funding_source",
            "kind",
            "phase",
            "state",
            "overdue",
            "stalled",
            "mine",
        ]
        .iter()
        .filter(|n| get(n).is_some())
        .count(),
        overdue: f.query.overdue,
        stalled: f.query.stalled,
        mine: f.query.my_turn,
        problems: f.problems,
        total: found.total,
        page: f.page,
        pages,
        prev: (f.page > 1).then(|| format!("/tasks?{}", with_page(&f.fields, f.page - 1))),
        next: (f.page < pages).then(|| format!("/tasks?{}", with_page(&f.fields, f.page + 1))),
        export: format!("/tasks/export.xlsx?{}", with_page(&f.fields, 1)),
        first,
        last,
        rows,
    };
    Ok(ok(&page))
}

/// `GET /tasks/export.xlsx`: the current view (every page of it, up to [`EXPORT_MAX`] rows) as
/// an XLSX workbook.
pub async fn export(
    State(app): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let actor = &viewer.identity.actor;
    let now = Utc::now();
    let mut f = read_filters(raw.as_deref());
    if let Some(p) = f.problems.first() {
        return Err(PageError::bad_request(p.clone()));
    }
    f.query.limit = Some(MAX_PAGE);
    f.query.offset = Some(0);
    let mut rows = Vec::new();
    let mut total: i64;
    loop {
        let found = app.store.tasks().search_as(actor, &f.query, now).await?;
        total = found.total;
        let n = found.items.len();
        rows.extend(found.items.iter().map(|t| TaskRow::new(t, actor, now)));
        if n < MAX_PAGE as usize || rows.len() >= EXPORT_MAX {
            break;
        }
        f.query.offset = Some(rows.len() as i64);
    }
    rows.truncate(EXPORT_MAX);
    let bytes = workbook(&rows, total).map_err(|e| {
        tracing::error!(error = %e, "cannot write the task list workbook");
        PageError::internal()
    })?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    );
    let name = format!("danh-sach-nhiem-vu-{}.xlsx", now.format("%Y-%m-%d"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

fn workbook(rows: &[TaskRow], total: i64) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Nhiệm vụ")?;
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_background_color("D9E2F3");
    let wrap = Format::new().set_text_wrap();
    let columns: [(&str, f64); 10] = [
        ("TT", 6.0),
        ("Tên nhiệm vụ", 60.0),
        ("Đơn vị", 30.0),
        ("Kế hoạch", 16.0),
        ("Loại nhiệm vụ", 30.0),
        ("Giai đoạn", 22.0),
        ("Bước hiện tại", 40.0),
        ("Thời hạn", 14.0),
        ("Tình trạng", 22.0),
        ("Cập nhật", 18.0),
    ];
    for (i, (title, width)) in columns.iter().enumerate() {
        let c = u16::try_from(i).unwrap_or(0);
        ws.write_string_with_format(0, c, *title, &head)?;
        ws.set_column_width(c, *width)?;
    }
    ws.set_freeze_panes(1, 0)?;
    for (i, r) in rows.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let status = if r.stalled {
            format!("{}; đình trệ", r.deadline.label)
        } else {
            r.deadline.label.to_string()
        };
        ws.write_number(row, 0, (i + 1) as f64)?;
        for (c, v) in [
            (1, &r.name),
            (2, &r.unit),
            (3, &r.plan),
            (4, &r.kind),
            (5, &r.phase),
            (6, &r.step),
            (7, &r.deadline.date),
            (8, &status),
            (9, &r.updated),
        ] {
            ws.write_string_with_format(row, c, v.as_str(), &wrap)?;
        }
    }
    if total as usize > rows.len() {
        let row = u32::try_from(rows.len() + 2).unwrap_or(u32::MAX);
        ws.write_string(
            row,
            1,
            format!(
                "Chỉ xuất {} trong {} nhiệm vụ khớp điều kiện lọc; hãy lọc thêm để xuất phần còn lại.",
                rows.len(),
                total
            ),
        )?;
    }
    wb.save_to_buffer()
}
