//! `/tasks/new` — Đề xuất nhiệm vụ mới: a unit's proposal (SKHCN and UBND may enter one on a
//! unit's behalf). The form offers the units and kinds `engine::decide::may_propose` allows the
//! viewer; the store creates the task through `decide::start`, which applies the same rule.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use engine::decide::may_propose;
use engine::domain::FundingSource;
use engine::money::parse_million_vnd;
use engine::time::local_date;

use super::page::{Fields, Layout, PageError, encode, html, see_other};
use super::session::Viewer;
use super::tasks::Opt;
use crate::http::AppState;
use crate::http::extract::{opt_text, text};
use crate::http::problem::Problem;
use crate::store::{BudgetLine, NewTask};

#[derive(Template)]
#[template(path = "propose.html")]
struct ProposePage {
    layout: Layout,
    csrf: String,
    key: String,
    plans: Vec<Opt>,
    units: Vec<Opt>,
    kinds: Vec<Opt>,
    fundings: Vec<Opt>,
    name: String,
    period: String,
    rental: bool,
    need_total: String,
    need_year: String,
    error: Option<String>,
}

fn mark(options: Vec<(String, String)>, chosen: Option<&str>) -> Vec<Opt> {
    let single = options.len() == 1;
    options
        .into_iter()
        .map(|(value, label)| Opt {
            selected: single || chosen == Some(value.as_str()),
            value,
            label,
        })
        .collect()
}

async fn form(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    f: Option<&Fields>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let actor = &viewer.identity.actor;
    let today = local_date(Utc::now());
    let catalog = app.store.catalog();
    let kinds: Vec<_> = catalog
        .names()
        .into_iter()
        .filter_map(|n| catalog.for_date(n, today))
        .collect();
    let units: Vec<(String, String)> = app
        .store
        .directory()
        .units()
        .await?
        .into_iter()
        .filter(|u| u.merged_into.is_none())
        .filter(|u| kinds.iter().any(|w| may_propose(w, &u.id, actor).is_ok()))
        .map(|u| (u.id, u.name))
        .collect();
    if units.is_empty() {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Tài khoản của bạn không đề xuất được nhiệm vụ: đề xuất dành cho cán bộ, thủ trưởng đơn vị (cho đơn vị mình), Sở Khoa học và Công nghệ và UBND thành phố.",
        ));
    }
    let get = |n: &str| f.and_then(|f| f.get(n));
    let plans = app.store.directory().plans().await?;
    let page = ProposePage {
        layout: Layout::new("Đề xuất nhiệm vụ mới", Some(viewer), "/tasks/new"),
        csrf: viewer.csrf.clone(),
        key: uuid::Uuid::new_v4().to_string(),
        plans: mark(
            plans
                .iter()
                .map(|p| {
                    (
                        p.number.clone(),
                        format!("{} — {} (năm {})", p.number, p.title, p.year),
                    )
                })
                .collect(),
            get("plan"),
        ),
        units: mark(units, get("unit")),
        kinds: mark(
            kinds
                .iter()
                .map(|w| (w.name.clone(), w.title.clone()))
                .collect(),
            get("kind"),
        ),
        fundings: mark(
            FundingSource::ALL
                .map(|s| (s.as_str().to_string(), s.title().to_string()))
                .to_vec(),
            get("funding_source"),
        ),
        name: get("name").unwrap_or("").to_string(),
        period: get("period").unwrap_or("").to_string(),
        rental: get("is_rental").is_some(),
        need_total: get("need_total").unwrap_or("").to_string(),
        need_year: get("need_year").unwrap_or("").to_string(),
        error,
    };
    Ok(html(status, &page))
}

/// `GET /tasks/new`.
pub async fn page(State(app): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    form(&app, &viewer, StatusCode::OK, None, None).await
}

fn amount(field: &str, label: &str, v: Option<&str>) -> Result<Option<i64>, Problem> {
    v.map(|s| {
        parse_million_vnd(s).map_err(|e| {
            Problem::bad_request(
                field,
                format!("{label}: {e}. Nhập số triệu đồng, ví dụ 1.234,5 hoặc 526.2."),
            )
        })
    })
    .transpose()
}

fn read(f: &Fields, year: Option<i32>) -> Result<NewTask, Problem> {
    let need = |n: &str, what: &str| {
        f.get(n)
            .map(str::to_string)
            .ok_or_else(|| Problem::bad_request(n, format!("Chưa chọn {what}.")))
    };
    let plan = need("plan", "kế hoạch")?;
    let unit_id = need("unit", "đơn vị")?;
    let kind = need("kind", "loại nhiệm vụ")?;
    let funding_source = need("funding_source", "nguồn kinh phí")?
        .parse::<FundingSource>()
        .map_err(|e| Problem::bad_request("funding_source", e))?;
    let name = text("name", f.raw("name"), 1000, false).map_err(|mut p| {
        p.detail =
            "Tên nhiệm vụ không được để trống, tối đa 1.000 ký tự, không chứa ký tự điều khiển."
                .into();
        p
    })?;
    let period = opt_text("period", f.get("period"), 200, false)?;
    let need_total = amount("need_total", "Tổng nhu cầu kinh phí", f.get("need_total"))?;
    let need_year = amount(
        "need_year",
        "Nhu cầu kinh phí năm kế hoạch",
        f.get("need_year"),
    )?;
    let budget = match year {
        Some(year) if need_total.is_some() || need_year.is_some() => vec![BudgetLine {
            year,
            need_total_vnd: need_total,
            need_year_vnd: need_year,
            ..BudgetLine::default()
        }],
        _ => Vec::new(),
    };
    Ok(NewTask {
        plan,
        unit_id,
        name,
        funding_source,
        kind,
        period,
        is_rental: f.get("is_rental").is_some(),
        own_fund: f.get("own_fund").is_some(),
        budget,
    })
}

/// `POST /tasks/new`: creates the task (idempotent per rendered form) and opens its page.
pub async fn submit(
    State(app): State<AppState>,
    viewer: Viewer,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let plans = app.store.directory().plans().await?;
    let year = f
        .get("plan")
        .and_then(|p| plans.iter().find(|x| x.number == p || x.id == p))
        .map(|p| p.year);
    let new = match read(&f, year) {
        Ok(n) => n,
        Err(p) => return form(&app, &viewer, p.status, Some(&f), Some(p.detail)).await,
    };
    let key = f
        .get("key")
        .filter(|k| k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()));
    match app
        .store
        .tasks()
        .create_as(&viewer.identity.actor, &new, key, Utc::now())
        .await
    {
        Ok(o) => Ok(see_other(&format!("/tasks/{}?moi=1", encode(&o.task_id)))),
        Err(e) => {
            let p = Problem::from(e);
            if p.status.is_server_error() {
                return Err(p.into());
            }
            form(&app, &viewer, p.status, Some(&f), Some(p.detail)).await
        }
    }
}
