//! `/admin/…` — Quản trị: users (add, roles, unit, disable, reset password), units (add, rename,
//! merge), calendars (a year at a glance), workflows (list, show with its graph, check an edited
//! file) and the email outbox (dead letters, retry). Every change goes through the store's
//! `…_as` doors, which ask `engine::access::may_manage`; the pages that only show definitions
//! ask the same rule before showing them.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, NaiveDate, Utc, Weekday};
use engine::Role;
use engine::access::{self, Area};
use engine::time::parse_date;
use engine::workflow::Workflow;

use super::graph::{self, WorkflowGraph};
use super::page::{Fields, Layout, PageError, encode, html, ok, see_other};
use super::session::Viewer;
use super::tasks::Opt;
use super::view;
use crate::http::AppState;
use crate::http::extract::{ident, opt_email, opt_text};
use crate::http::problem::Problem;
use crate::store::{NewUser, StoreError};

fn manage(viewer: &Viewer, area: Area) -> Result<(), PageError> {
    access::may_manage(&viewer.identity.actor, area).map_err(|d| StoreError::from(d).into())
}

fn layout(title: &str, viewer: &Viewer) -> Layout {
    Layout::new(title, Some(viewer), "/admin")
}

#[derive(Template)]
#[template(path = "admin/index.html")]
struct IndexPage {
    layout: Layout,
    users: usize,
    units: usize,
    workflows: usize,
    dead: usize,
}

pub async fn index(State(app): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let actor = &viewer.identity.actor;
    let users = app.store.accounts().accounts_as(actor).await?.len();
    let units = app.store.directory().units().await?.len();
    let dead = app
        .store
        .scheduling()
        .outbox_as(actor, Some("dead"), 500)
        .await?
        .len();
    Ok(ok(&IndexPage {
        layout: layout("Quản trị", &viewer),
        users,
        units,
        workflows: app.store.catalog().workflows().count(),
        dead,
    }))
}

// ---------------------------------------------------------------------------------------------
// Users

pub struct UserLine {
    pub username: String,
    pub href: String,
    pub name: String,
    pub roles: String,
    pub unit: String,
    pub disabled: bool,
    pub has_password: bool,
}

pub struct RoleBox {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

fn role_boxes(chosen: &[Role]) -> Vec<RoleBox> {
    Role::ALL
        .iter()
        .map(|r| RoleBox {
            value: r.as_str(),
            label: r.title(),
            checked: chosen.contains(r),
        })
        .collect()
}

fn roles_of(f: &Fields) -> Result<Vec<Role>, PageError> {
    f.all("role")
        .iter()
        .map(|r| {
            r.parse::<Role>()
                .map_err(|_| PageError::bad_request(format!("Vai trò «{r}» không hợp lệ.")))
        })
        .collect()
}

async fn unit_opts(app: &AppState, chosen: Option<&str>) -> Result<Vec<Opt>, PageError> {
    Ok(app
        .store
        .directory()
        .units()
        .await?
        .into_iter()
        .filter(|u| u.merged_into.is_none())
        .map(|u| Opt {
            selected: chosen == Some(u.id.as_str()),
            value: u.id,
            label: u.name,
        })
        .collect())
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    csrf: String,
    users: Vec<UserLine>,
    roles: Vec<RoleBox>,
    units: Vec<Opt>,
    error: Option<String>,
    form_username: String,
    form_name: String,
    form_email: String,
}

async fn users_page(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    f: Option<&Fields>,
    error: Option<String>,
    flash: Option<String>,
) -> Result<Response, PageError> {
    let actor = &viewer.identity.actor;
    let accounts = app.store.accounts().accounts_as(actor).await?;
    let names = app.store.directory().units().await?;
    let unit_name = |id: &Option<String>| {
        id.as_ref()
            .map(|u| {
                names
                    .iter()
                    .find(|x| &x.id == u)
                    .map_or_else(|| u.clone(), |x| x.name.clone())
            })
            .unwrap_or_default()
    };
    let chosen_roles = f
        .map(roles_of)
        .transpose()
        .unwrap_or_default()
        .unwrap_or_default();
    let mut l = layout("Người dùng", viewer);
    if let Some(m) = flash {
        l = l.with_flash("ok", m);
    }
    let page = UsersPage {
        layout: l,
        csrf: viewer.csrf.clone(),
        users: accounts
            .iter()
            .map(|a| UserLine {
                href: format!("/admin/users/{}", encode(&a.user.username)),
                username: a.user.username.clone(),
                name: a.user.display_name.clone(),
                roles: a
                    .user
                    .roles
                    .iter()
                    .map(|r| r.title())
                    .collect::<Vec<_>>()
                    .join(", "),
                unit: unit_name(&a.user.unit_id),
                disabled: a.user.disabled,
                has_password: a.has_password,
            })
            .collect(),
        roles: role_boxes(&chosen_roles),
        units: unit_opts(app, f.and_then(|f| f.get("unit"))).await?,
        error,
        form_username: f.and_then(|f| f.get("username")).unwrap_or("").into(),
        form_name: f.and_then(|f| f.get("display_name")).unwrap_or("").into(),
        form_email: f.and_then(|f| f.get("email")).unwrap_or("").into(),
    };
    Ok(html(status, &page))
}

#[derive(serde::Deserialize)]
pub struct DoneQuery {
    xong: Option<String>,
}

pub async fn users(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let flash = q.xong.map(|u| format!("Đã thêm người dùng {u}."));
    users_page(&app, &viewer, StatusCode::OK, None, None, flash).await
}

/// `POST /admin/users`: adds a user, with a first password when one is typed.
pub async fn add_user(
    State(app): State<AppState>,
    viewer: Viewer,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let attempt = async {
        let roles = roles_of(&f).map_err(|e| Problem::bad_request("role", e.message))?;
        let new = NewUser {
            username: ident("username", f.get("username").unwrap_or(""))
                .map_err(|_| Problem::bad_request("username", "Hãy nhập tên đăng nhập."))?,
            display_name: opt_text("display_name", f.get("display_name"), 200, false)?
                .unwrap_or_default(),
            email: opt_email("email", f.get("email"))?,
            unit_id: f.get("unit").map(str::to_string),
            roles,
        };
        let password = Some(f.raw("password")).filter(|p| !p.is_empty());
        app.store
            .directory()
            .add_user_as(&viewer.identity.actor, new, password, Utc::now())
            .await
            .map_err(Problem::from)
    };
    match attempt.await {
        Ok(u) => Ok(see_other(&format!(
            "/admin/users?xong={}",
            encode(&u.username)
        ))),
        Err(p) if p.status.is_server_error() => Err(p.into()),
        Err(p) => users_page(&app, &viewer, p.status, Some(&f), Some(p.detail), None).await,
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    layout: Layout,
    csrf: String,
    username: String,
    display_name: String,
    email: String,
    disabled: bool,
    roles: Vec<RoleBox>,
    units: Vec<Opt>,
    error: Option<String>,
}

async fn user_page(
    app: &AppState,
    viewer: &Viewer,
    username: &str,
    status: StatusCode,
    error: Option<String>,
    flash: Option<&str>,
) -> Result<Response, PageError> {
    let u = app
        .store
        .directory()
        .user_as(&viewer.identity.actor, username)
        .await?;
    manage(viewer, Area::Users)?;
    let mut l = layout(&format!("Người dùng {}", u.username), viewer);
    if let Some(m) = flash {
        l = l.with_flash("ok", m);
    }
    let page = UserPage {
        layout: l,
        csrf: viewer.csrf.clone(),
        display_name: u.display_name.clone(),
        email: u.email.clone().unwrap_or_default(),
        disabled: u.disabled,
        roles: role_boxes(&u.roles),
        units: unit_opts(app, u.unit_id.as_deref()).await?,
        username: u.username,
        error,
    };
    Ok(html(status, &page))
}

#[derive(serde::Deserialize)]
pub struct UserQuery {
    xong: Option<String>,
}

pub async fn user(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(username): Path<String>,
    Query(q): Query<UserQuery>,
) -> Result<Response, PageError> {
    let flash = q.xong.as_deref().map(|x| match x {
        "vai-tro" => "Đã lưu vai trò và đơn vị.",
        "khoa" => "Đã khóa tài khoản; mọi phiên đăng nhập và token của người dùng đã bị thu hồi.",
        "mo-khoa" => "Đã mở khóa tài khoản.",
        "mat-khau" => {
            "Đã đặt mật khẩu mới; mọi phiên đăng nhập và token API của người dùng đã bị thu hồi."
        }
        _ => "Đã lưu.",
    });
    user_page(&app, &viewer, &username, StatusCode::OK, None, flash).await
}

/// `POST /admin/users/{username}`: `action` = roles | disable | enable | password.
pub async fn change_user(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(username): Path<String>,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let actor = &viewer.identity.actor;
    let now = Utc::now();
    let result: Result<&str, StoreError> = match f.get("action") {
        Some("roles") => {
            let roles = roles_of(&f)?;
            app.store
                .directory()
                .change_user_as(
                    actor,
                    &username,
                    &roles,
                    f.get("unit"),
                    f.get("display_name"),
                )
                .await
                .map(|_| "vai-tro")
        }
        Some("disable") => app
            .store
            .accounts()
            .disable_user_as(actor, &username, now)
            .await
            .map(|_| "khoa"),
        Some("enable") => app
            .store
            .accounts()
            .enable_user_as(actor, &username)
            .await
            .map(|_| "mo-khoa"),
        Some("password") => app
            .store
            .accounts()
            .set_password_as(actor, &username, f.raw("password"), now)
            .await
            .map(|_| "mat-khau"),
        _ => return Err(PageError::bad_request("Thao tác không hợp lệ.")),
    };
    match result {
        Ok(done) => Ok(see_other(&format!(
            "/admin/users/{}?xong={done}",
            encode(&username)
        ))),
        Err(e) => {
            let p = Problem::from(e);
            if p.status.is_server_error() || p.status == StatusCode::NOT_FOUND {
                return Err(p.into());
            }
            user_page(&app, &viewer, &username, p.status, Some(p.detail), None).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Units

pub struct UnitLine {
    pub id: String,
    pub name: String,
    pub merged: String,
}

#[derive(Template)]
#[template(path = "admin/units.html")]
struct UnitsPage {
    layout: Layout,
    csrf: String,
    units: Vec<UnitLine>,
    active: Vec<Opt>,
    error: Option<String>,
}

async fn units_page(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<String>,
    flash: Option<&str>,
) -> Result<Response, PageError> {
    manage(viewer, Area::Units)?;
    let all = app.store.directory().units().await?;
    let mut l = layout("Đơn vị", viewer);
    if let Some(m) = flash {
        l = l.with_flash("ok", m);
    }
    let name_of = |id: &str| {
        all.iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_string(), |u| u.name.clone())
    };
    let page = UnitsPage {
        layout: l,
        csrf: viewer.csrf.clone(),
        units: all
            .iter()
            .map(|u| UnitLine {
                id: u.id.clone(),
                name: u.name.clone(),
                merged: match (&u.merged_into, u.merged_on) {
                    (Some(into), Some(on)) => {
                        format!("sáp nhập vào {} từ {}", name_of(into), view::date(on))
                    }
                    (Some(into), None) => format!("sáp nhập vào {}", name_of(into)),
                    _ => String::new(),
                },
            })
            .collect(),
        active: all
            .iter()
            .filter(|u| u.merged_into.is_none())
            .map(|u| Opt {
                value: u.id.clone(),
                label: u.name.clone(),
                selected: false,
            })
            .collect(),
        error,
    };
    Ok(html(status, &page))
}

pub async fn units(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let flash = q.xong.as_deref().map(|x| match x {
        "them" => "Đã thêm đơn vị.",
        "doi-ten" => "Đã đổi tên đơn vị.",
        _ => "Đã sáp nhập đơn vị; nhiệm vụ và người dùng của đơn vị cũ thuộc đơn vị mới.",
    });
    units_page(&app, &viewer, StatusCode::OK, None, flash).await
}

fn date_field(f: &Fields, name: &str) -> Result<NaiveDate, Problem> {
    parse_date(f.get(name).unwrap_or(""))
        .map_err(|_| Problem::bad_request(name, "Ngày không hợp lệ: nhập theo dạng dd/mm/yyyy."))
}

/// `POST /admin/units`: `action` = add | rename | merge.
pub async fn change_units(
    State(app): State<AppState>,
    viewer: Viewer,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let actor = &viewer.identity.actor;
    let attempt = async {
        let field = |n: &str, what: &str| {
            f.get(n)
                .map(str::to_string)
                .ok_or_else(|| Problem::bad_request(n, format!("Hãy nhập {what}.")))
        };
        match f.get("action") {
            Some("add") => {
                let name = field("name", "tên đơn vị")?;
                let id = match f.get("id") {
                    Some(id) => id.to_string(),
                    None => engine::domain::UnitId::from_name(&name)
                        .as_str()
                        .to_string(),
                };
                engine::domain::UnitId::parse(&id).map_err(|e| Problem::bad_request("id", e))?;
                app.store
                    .directory()
                    .add_unit_as(actor, &id, &name, f.get("parent"), Utc::now())
                    .await?;
                Ok("them")
            }
            Some("rename") => {
                app.store
                    .directory()
                    .rename_unit_as(
                        actor,
                        &field("unit", "đơn vị")?,
                        &field("name", "tên mới")?,
                        date_field(&f, "from")?,
                    )
                    .await?;
                Ok("doi-ten")
            }
            Some("merge") => {
                app.store
                    .directory()
                    .merge_unit_as(
                        actor,
                        &field("from", "đơn vị được sáp nhập")?,
                        &field("into", "đơn vị tiếp nhận")?,
                        date_field(&f, "on")?,
                    )
                    .await?;
                Ok("sap-nhap")
            }
            _ => Err(Problem::bad_request("action", "Thao tác không hợp lệ.")),
        }
    };
    let result: Result<&str, Problem> = attempt.await;
    match result {
        Ok(done) => Ok(see_other(&format!("/admin/units?xong={done}"))),
        Err(p) if p.status.is_server_error() => Err(p.into()),
        Err(p) => units_page(&app, &viewer, p.status, Some(p.detail), None).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Calendars

pub struct CalendarLine {
    pub name: String,
    pub years: Vec<(i32, String, bool)>,
}

#[derive(Template)]
#[template(path = "admin/calendars.html")]
struct CalendarsPage {
    layout: Layout,
    calendars: Vec<CalendarLine>,
}

pub async fn calendars(State(app): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    manage(&viewer, Area::Calendars)?;
    let calendars = app
        .store
        .catalog()
        .calendars()
        .map(|c| CalendarLine {
            name: c.name().to_string(),
            years: c
                .years()
                .map(|y| {
                    (
                        y.year,
                        format!("/admin/calendars/{}/{}", encode(c.name()), y.year),
                        y.provisional,
                    )
                })
                .collect(),
        })
        .collect();
    Ok(ok(&CalendarsPage {
        layout: layout("Lịch làm việc", &viewer),
        calendars,
    }))
}

pub struct DayCell {
    pub day: u32,
    /// `work`, `off`, `swap` (a working Saturday), or `blank` outside the month.
    pub class: &'static str,
    pub note: String,
}

pub struct Month {
    pub title: String,
    pub weeks: Vec<Vec<DayCell>>,
}

#[derive(Template)]
#[template(path = "admin/calendar.html")]
struct CalendarPage {
    layout: Layout,
    name: String,
    year: i32,
    provisional: bool,
    source: String,
    months: Vec<Month>,
    days_off: Vec<(String, String)>,
    swapped: Vec<(String, String)>,
    working: usize,
}

pub async fn calendar_year(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((name, year)): Path<(String, i32)>,
) -> Result<Response, PageError> {
    manage(&viewer, Area::Calendars)?;
    let cal = app
        .store
        .catalog()
        .calendar(&name)
        .ok_or_else(PageError::not_found)?;
    let y = cal.year(year).ok_or_else(PageError::not_found)?;
    let mut months = Vec::new();
    let mut working = 0;
    for m in 1..=12u32 {
        let first = NaiveDate::from_ymd_opt(year, m, 1).ok_or_else(PageError::not_found)?;
        let mut weeks: Vec<Vec<DayCell>> = Vec::new();
        let mut week: Vec<DayCell> = Vec::new();
        for _ in 0..first.weekday().num_days_from_monday() {
            week.push(DayCell {
                day: 0,
                class: "blank",
                note: String::new(),
            });
        }
        let mut d = first;
        while d.month() == m {
            let info = cal.day_info(d).map_err(|_| PageError::not_found())?;
            if info.working {
                working += 1;
            }
            let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
            week.push(DayCell {
                day: d.day(),
                class: match (info.working, weekend) {
                    (true, true) => "swap",
                    (true, false) => "work",
                    (false, _) if y.days_off.contains_key(&d) => "holiday",
                    (false, _) => "off",
                },
                note: info.reason.unwrap_or_default(),
            });
            if week.len() == 7 {
                weeks.push(std::mem::take(&mut week));
            }
            d = d.succ_opt().ok_or_else(PageError::not_found)?;
        }
        if !week.is_empty() {
            while week.len() < 7 {
                week.push(DayCell {
                    day: 0,
                    class: "blank",
                    note: String::new(),
                });
            }
            weeks.push(week);
        }
        months.push(Month {
            title: format!("Tháng {m}"),
            weeks,
        });
    }
    Ok(ok(&CalendarPage {
        layout: layout(&format!("Lịch làm việc {year}"), &viewer),
        name: cal.name().to_string(),
        year,
        provisional: y.provisional,
        source: y.source.clone(),
        months,
        days_off: y
            .days_off
            .iter()
            .map(|(d, r)| (view::date(*d), r.clone()))
            .collect(),
        swapped: y
            .working_days
            .iter()
            .map(|(d, r)| (view::date(*d), r.clone()))
            .collect(),
        working,
    }))
}

// ---------------------------------------------------------------------------------------------
// Workflows

pub struct WorkflowLine {
    pub href: String,
    pub name: String,
    pub title: String,
    pub version: u32,
    pub applies: String,
    pub states: usize,
    pub transitions: usize,
}

#[derive(Template)]
#[template(path = "admin/workflows.html")]
struct WorkflowsPage {
    layout: Layout,
    workflows: Vec<WorkflowLine>,
}

fn applies(w: &Workflow) -> String {
    match w.applies_until {
        Some(u) => format!("từ {} đến {}", view::date(w.applies_from), view::date(u)),
        None => format!("từ {}", view::date(w.applies_from)),
    }
}

pub async fn workflows(State(app): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    manage(&viewer, Area::WorkflowVersions)?;
    let workflows = app
        .store
        .catalog()
        .workflows()
        .map(|w| WorkflowLine {
            href: format!("/admin/workflows/{}?version={}", encode(&w.name), w.version),
            name: w.name.clone(),
            title: w.title.clone(),
            version: w.version,
            applies: applies(w),
            states: w.states.len(),
            transitions: w.transitions.len(),
        })
        .collect();
    Ok(ok(&WorkflowsPage {
        layout: layout("Quy trình", &viewer),
        workflows,
    }))
}

pub struct StateLine {
    pub name: String,
    pub title: String,
    pub phase: String,
    pub roles: String,
    pub deadline: String,
}

pub struct TransitionLine {
    pub name: String,
    pub title: String,
    pub from: String,
    pub to: String,
    pub roles: String,
    pub needs: String,
}

#[derive(Template)]
#[template(path = "admin/workflow.html")]
struct WorkflowPage {
    layout: Layout,
    title: String,
    name: String,
    version: u32,
    applies: String,
    legal: Vec<String>,
    stall: String,
    graph: WorkflowGraph,
    states: Vec<StateLine>,
    transitions: Vec<TransitionLine>,
    /// Decisions that leave the task in its step (`[[decisions]]`: carry-over).
    decisions: Vec<TransitionLine>,
    mermaid: String,
}

#[derive(serde::Deserialize)]
pub struct VersionQuery {
    version: Option<u32>,
}

pub async fn workflow(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, PageError> {
    manage(&viewer, Area::WorkflowVersions)?;
    let catalog = app.store.catalog();
    let w = match q.version {
        Some(v) => catalog.get(&name, v),
        None => catalog.latest(&name),
    }
    .ok_or_else(PageError::not_found)?;
    let roles = |r: &[Role]| r.iter().map(|r| r.title()).collect::<Vec<_>>().join(", ");
    let title_of = |s: &str| {
        w.state(s)
            .map_or_else(|| s.to_string(), |st| st.title.clone())
    };
    // What a transition or a decision needs: its documents by title, and a comment.
    let needs = |documents: &[String], comment_required: bool| {
        let mut n: Vec<String> = documents
            .iter()
            .map(|d| {
                w.document_types
                    .get(d)
                    .cloned()
                    .unwrap_or_else(|| d.clone())
            })
            .collect();
        if comment_required {
            n.push("ý kiến".into());
        }
        n.join("; ")
    };
    Ok(ok(&WorkflowPage {
        layout: layout(&format!("Quy trình {}", w.name), &viewer),
        title: w.title.clone(),
        name: w.name.clone(),
        version: w.version,
        applies: applies(w),
        legal: w.legal_basis.clone(),
        stall: w
            .stall_after_working_days
            .map(|n| engine::wording::period(&engine::workflow::Amount::WorkingDays(n)))
            .unwrap_or_else(|| "không đặt".into()),
        graph: graph::workflow(w, &w.initial, &[]),
        states: w
            .states
            .iter()
            .map(|s| StateLine {
                name: s.name.clone(),
                title: s.title.clone(),
                phase: s.phase.title().to_string(),
                roles: roles(&s.roles),
                deadline: s
                    .deadline
                    .as_ref()
                    .map(|d| engine::wording::period(&d.amount))
                    .unwrap_or_default(),
            })
            .collect(),
        transitions: w
            .transitions
            .iter()
            .map(|t| TransitionLine {
                name: t.name.clone(),
                title: t.title.clone(),
                from: t
                    .from
                    .iter()
                    .map(|s| title_of(s))
                    .collect::<Vec<_>>()
                    .join("; "),
                to: title_of(&t.to),
                roles: roles(&t.roles),
                needs: needs(&t.documents, t.comment_required),
            })
            .collect(),
        decisions: w
            .decisions
            .iter()
            .map(|d| TransitionLine {
                name: d.name.clone(),
                title: d.title.clone(),
                from: d
                    .from
                    .iter()
                    .map(|s| title_of(s))
                    .collect::<Vec<_>>()
                    .join("; "),
                to: format!("ở nguyên bước; chấp thuận đề xuất {}", d.proposal.title()),
                roles: roles(&d.roles),
                needs: needs(&d.documents, d.comment_required),
            })
            .collect(),
        mermaid: engine::workflow::mermaid(w),
    }))
}

#[derive(Template)]
#[template(path = "admin/check.html")]
struct CheckPage {
    layout: Layout,
    csrf: String,
    text: String,
    file_name: String,
    checked: bool,
    ok_summary: Option<String>,
    errors: Vec<String>,
}

pub async fn check_page(viewer: Viewer) -> Result<Response, PageError> {
    manage(&viewer, Area::WorkflowVersions)?;
    Ok(ok(&CheckPage {
        layout: layout("Kiểm tra tệp quy trình", &viewer),
        csrf: viewer.csrf.clone(),
        text: String::new(),
        file_name: String::new(),
        checked: false,
        ok_summary: None,
        errors: Vec::new(),
    }))
}

/// `POST /admin/workflows/check` (multipart: csrf, a pasted `text` or an uploaded `file`):
/// checks an edited workflow file against the loaded calendars without installing it.
pub async fn check_workflow(
    State(app): State<AppState>,
    viewer: Viewer,
    mut m: Multipart,
) -> Result<Response, PageError> {
    let mut csrf = None;
    let mut text = String::new();
    let mut file_name = String::new();
    while let Some(field) = m
        .next_field()
        .await
        .map_err(|_| PageError::bad_request("Không đọc được biểu mẫu gửi lên."))?
    {
        let name = field.name().unwrap_or("").to_string();
        let fname = field.file_name().map(str::to_string);
        let bytes = field
            .bytes()
            .await
            .map_err(|_| PageError::bad_request("Không đọc được biểu mẫu gửi lên."))?;
        if bytes.len() > 1024 * 1024 {
            return Err(PageError::bad_request(
                "Tệp quy trình quá lớn (tối đa 1 MB).",
            ));
        }
        let value = String::from_utf8(bytes.to_vec())
            .map_err(|_| PageError::bad_request("Tệp quy trình phải là văn bản UTF-8."))?;
        match name.as_str() {
            "csrf" => csrf = Some(value),
            "text" if !engine::input::is_blank(&value) && text.is_empty() => text = value,
            "file" if !engine::input::is_blank(&value) => {
                text = value;
                file_name = fname.unwrap_or_default();
            }
            _ => {}
        }
    }
    viewer.check_csrf(csrf.as_deref())?;
    let file = if file_name.is_empty() {
        "quy-trinh.toml".to_string()
    } else {
        file_name.clone()
    };
    let (ok_summary, errors) =
        match app
            .store
            .directory()
            .check_workflow_as(&viewer.identity.actor, &file, &text)?
        {
            Ok(w) => (
                Some(format!(
                    "Hợp lệ: quy trình «{}» ({}), phiên bản {}, {} bước, {} thao tác, áp dụng {}.",
                    w.title,
                    w.name,
                    w.version,
                    w.states.len(),
                    w.transitions.len(),
                    applies(&w)
                )),
                Vec::new(),
            ),
            Err(errs) => (None, errs.iter().map(|e| e.to_string()).collect()),
        };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(html(
        status,
        &CheckPage {
            layout: layout("Kiểm tra tệp quy trình", &viewer),
            csrf: viewer.csrf.clone(),
            text,
            file_name,
            checked: true,
            ok_summary,
            errors,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Outbox

pub struct OutboxLine {
    pub id: String,
    pub task: Option<String>,
    pub template: String,
    pub status: String,
    pub attempts: i64,
    pub created: String,
    pub next: String,
    pub error: String,
    pub recipients: String,
    pub retryable: bool,
}

#[derive(Template)]
#[template(path = "admin/outbox.html")]
struct OutboxPage {
    layout: Layout,
    csrf: String,
    statuses: Vec<Opt>,
    status: String,
    entries: Vec<OutboxLine>,
}

#[derive(serde::Deserialize)]
pub struct OutboxQuery {
    status: Option<String>,
    xong: Option<u64>,
}

const OUTBOX_STATUSES: [(&str, &str); 5] = [
    ("dead", "Gửi lỗi (dead)"),
    ("pending", "Đang chờ gửi"),
    ("sent", "Đã gửi"),
    ("skipped", "Bỏ qua"),
    ("", "Tất cả"),
];

pub async fn outbox(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<OutboxQuery>,
) -> Result<Response, PageError> {
    let status = q.status.unwrap_or_else(|| "dead".into());
    if !OUTBOX_STATUSES.iter().any(|(s, _)| *s == status) {
        return Err(PageError::bad_request("Trạng thái thư không hợp lệ."));
    }
    let list = app
        .store
        .scheduling()
        .outbox_as(
            &viewer.identity.actor,
            Some(status.as_str()).filter(|s| !s.is_empty()),
            200,
        )
        .await?;
    let mut l = layout("Hàng đợi thư", &viewer);
    if let Some(n) = q.xong {
        l = l.with_flash("ok", format!("Đã đưa {n} thư trở lại hàng đợi gửi."));
    }
    Ok(ok(&OutboxPage {
        layout: l,
        csrf: viewer.csrf.clone(),
        statuses: OUTBOX_STATUSES
            .iter()
            .map(|(v, label)| Opt {
                value: v.to_string(),
                label: label.to_string(),
                selected: *v == status,
            })
            .collect(),
        entries: list
            .into_iter()
            .map(|e| OutboxLine {
                retryable: matches!(e.status.as_str(), "dead" | "skipped"),
                id: e.id,
                task: e.task_id.map(|t| format!("/tasks/{t}")),
                template: e.template,
                status: e.status,
                attempts: e.attempts,
                created: view::instant(e.created_at),
                next: view::instant(e.next_attempt_at),
                error: e.last_error.unwrap_or_default(),
                recipients: e.recipients.unwrap_or_default(),
            })
            .collect(),
        status,
    }))
}

/// `POST /admin/outbox`: `id` = one message, or `all` for every dead message.
pub async fn retry_outbox(
    State(app): State<AppState>,
    viewer: Viewer,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let id = match f.get("id") {
        Some("all") | None => None,
        Some(id) => Some(id),
    };
    let n = app
        .store
        .scheduling()
        .retry_outbox_as(&viewer.identity.actor, id, Utc::now())
        .await?;
    Ok(see_other(&format!("/admin/outbox?status=dead&xong={n}")))
}
