//! Reporting rounds as pages (issue 16): `/rounds` (the plans and their rounds),
//! `/plans/{plan}/rounds` (a plan's rounds with each unit's submission state; SKHCN opens a round
//! there) and `/plans/{plan}/rounds/{n}` (the round): a unit's users enter, per task, its
//! progress, difficulties (with their kind) and proposals (with their letter); the unit's head
//! submits; SKHCN reads every unit's entries, writes the report's sections (the draft stored with
//! the round) and downloads the official document (DOCX) through the API's door, which records
//! the export.
//!
//! Handlers parse the form and call one door of [`Rounds`](crate::store::Rounds) as the viewer;
//! who may do what is `engine::access`'s (`round_scope`, `may_open_round`, `may_enter_round`,
//! `may_submit_round`), the same rules as the API's. What the page offers is asked of the same
//! rules, so a form is shown only to whom the door would accept it from; the door still decides.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use engine::access;
use engine::round::{self, DifficultyKind, DraftSection, MAX_LINE, MAX_TEXT, RoundSpec};
use engine::time::{local_date, parse_date};

use super::page::{Fields, Layout, PageError, encode, html, see_other};
use super::session::Viewer;
use super::tasks::Opt;
use super::view;
use crate::http::AppState;
use crate::http::extract::{ident, opt_text, text};
use crate::http::problem::Problem;
use crate::store::{NewEntry, RoundView, StoreError};

/// The most difficulty or proposal lines one task's form carries.
const MAX_LINES: usize = 50;

fn plan_href(plan_id: &str) -> String {
    format!("/plans/{}/rounds", encode(plan_id))
}

fn round_href(plan_id: &str, n: u32) -> String {
    format!("{}/{n}", plan_href(plan_id))
}

fn number(field: &str, s: &str) -> Result<u32, Problem> {
    s.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| {
            Problem::bad_request(
                field,
                "Số thứ tự đợt báo cáo phải là số nguyên từ 1 đến 1000.",
            )
        })
}

fn date(field: &str, label: &str, s: Option<&str>) -> Result<NaiveDate, Problem> {
    let s = s.ok_or_else(|| Problem::bad_request(field, format!("Chưa nhập {label}.")))?;
    parse_date(s).map_err(|_| {
        Problem::bad_request(
            field,
            format!("{label}: ngày không hợp lệ; nhập theo dạng dd/mm/yyyy, ví dụ 05/11/2025."),
        )
    })
}

fn field_of(p: &Problem) -> Option<String> {
    p.extensions
        .get("field")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// /rounds: the plans and their rounds.

pub struct PlanLine {
    pub href: String,
    pub label: String,
    pub rounds: Vec<RoundLink>,
}

pub struct RoundLink {
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "rounds_index.html")]
struct IndexPage {
    layout: Layout,
    plans: Vec<PlanLine>,
}

/// `GET /rounds`.
pub async fn index(State(app): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let actor = &viewer.identity.actor;
    access::round_scope(actor).map_err(StoreError::from)?;
    let mut plans = Vec::new();
    for p in app.store.directory().plans().await? {
        let rounds = app.store.rounds().list_as(actor, &p.id).await?;
        plans.push(PlanLine {
            href: plan_href(&p.id),
            label: format!("{} — {} (năm {})", p.number, p.title, p.year),
            rounds: rounds
                .iter()
                .map(|r| RoundLink {
                    href: round_href(&p.id, r.spec.number),
                    label: format!(
                        "Đợt {} (số liệu đến {})",
                        r.spec.number,
                        view::date(r.spec.cut_off)
                    ),
                })
                .collect(),
        });
    }
    Ok(html(
        StatusCode::OK,
        &IndexPage {
            layout: Layout::new("Đợt báo cáo", Some(&viewer), "/rounds"),
            plans,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// /plans/{plan}/rounds: a plan's rounds, and SKHCN's form to open one.

pub struct UnitState {
    pub name: String,
    pub entered: String,
    /// "Đã gửi ngày …", "Chưa gửi", "Quá hạn, chưa gửi".
    pub state: String,
    /// `on_time`, `none` or `overdue` (the badge's colour; the words say the same).
    pub class: &'static str,
}

pub struct RoundLine {
    pub href: String,
    pub number: u32,
    pub cut_off: String,
    pub instruction: String,
    pub units_due: String,
    pub units: Vec<UnitState>,
}

/// What the open form shows again after a refusal.
#[derive(Default)]
pub struct OpenForm {
    pub number: String,
    pub cut_off: String,
    pub instruction: String,
    pub units_due: String,
    pub error: Option<String>,
    pub number_error: Option<String>,
    pub cut_off_error: Option<String>,
    pub instruction_error: Option<String>,
    pub units_due_error: Option<String>,
}

#[derive(Template)]
#[template(path = "rounds.html")]
struct PlanRoundsPage {
    layout: Layout,
    plan_title: String,
    action: String,
    rounds: Vec<RoundLine>,
    may_open: bool,
    csrf: String,
    form: OpenForm,
}

fn unit_states(v: &RoundView) -> Vec<UnitState> {
    v.units
        .iter()
        .map(|u| {
            let (state, class) = match &u.submitted {
                Some(s) => (
                    format!(
                        "Đã gửi {} ({})",
                        view::instant(s.submitted_at),
                        s.submitted_by
                    ),
                    "on_time",
                ),
                None if u.late => ("Quá hạn, chưa gửi".to_string(), "overdue"),
                None => ("Chưa gửi".to_string(), "none"),
            };
            UnitState {
                name: u.unit_name.clone(),
                entered: format!("{}/{} nhiệm vụ", u.entered, u.tasks),
                state,
                class,
            }
        })
        .collect()
}

async fn plan_rounds(
    app: &AppState,
    viewer: &Viewer,
    plan: &str,
    status: StatusCode,
    form: Option<OpenForm>,
) -> Result<Response, PageError> {
    let actor = &viewer.identity.actor;
    let plan = app.store.directory().plan(plan).await?;
    let records = app.store.rounds().list_as(actor, &plan.id).await?;
    let today = local_date(Utc::now());
    let mut rounds = Vec::new();
    for r in &records {
        let v = app
            .store
            .rounds()
            .show_as(actor, &plan.id, r.spec.number, None, today)
            .await?;
        rounds.push(RoundLine {
            href: round_href(&plan.id, r.spec.number),
            number: r.spec.number,
            cut_off: view::date(r.spec.cut_off),
            instruction: r.spec.instruction.clone(),
            units_due: view::date(r.spec.units_due),
            units: unit_states(&v),
        });
    }
    let next = records.iter().map(|r| r.spec.number).max().unwrap_or(0) + 1;
    let form = form.unwrap_or_else(|| OpenForm {
        number: next.to_string(),
        ..OpenForm::default()
    });
    let page = PlanRoundsPage {
        layout: Layout::new(
            format!("Đợt báo cáo — {}", plan.number),
            Some(viewer),
            "/rounds",
        ),
        plan_title: format!("{} — {}", plan.number, plan.title),
        action: plan_href(&plan.id),
        rounds,
        may_open: access::may_open_round(actor).is_ok(),
        csrf: viewer.csrf.clone(),
        form,
    };
    Ok(html(status, &page))
}

/// `GET /plans/{plan}/rounds`.
pub async fn list(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(plan): Path<String>,
) -> Result<Response, PageError> {
    let plan = ident("plan", &plan)?;
    plan_rounds(&app, &viewer, &plan, StatusCode::OK, None).await
}

fn read_spec(f: &Fields) -> Result<RoundSpec, Problem> {
    Ok(RoundSpec {
        number: number("number", f.get("number").unwrap_or(""))?,
        cut_off: date("cut_off", "Ngày chốt số liệu", f.get("cut_off"))?,
        instruction: text("instruction", f.raw("instruction"), MAX_LINE, false).map_err(
            |mut p| {
                p.detail = format!(
                    "Cần ghi văn bản chỉ đạo mà báo cáo thực hiện (ví dụ: Thông báo số 620/TB-VP ngày 20/10/2025), tối đa {MAX_LINE} ký tự."
                );
                p
            },
        )?,
        units_due: date("units_due", "Hạn đơn vị gửi báo cáo", f.get("units_due"))?,
    })
}

/// `POST /plans/{plan}/rounds`: SKHCN opens a round; then its page.
pub async fn open(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(plan): Path<String>,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let plan = ident("plan", &plan)?;
    let result = match read_spec(&f) {
        Ok(spec) => app
            .store
            .rounds()
            .open_as(&viewer.identity.actor, &plan, &spec, Utc::now())
            .await
            .map_err(Problem::from),
        Err(p) => Err(p),
    };
    match result {
        Ok(r) => Ok(see_other(&format!(
            "{}?xong=mo",
            round_href(&r.plan_id, r.spec.number)
        ))),
        Err(p) if p.status.is_server_error() || p.status == StatusCode::NOT_FOUND => Err(p.into()),
        Err(p) => {
            let mut form = OpenForm {
                number: f.raw("number").trim().to_string(),
                cut_off: f.raw("cut_off").trim().to_string(),
                instruction: f.raw("instruction").to_string(),
                units_due: f.raw("units_due").trim().to_string(),
                ..OpenForm::default()
            };
            match field_of(&p).as_deref() {
                Some("number") => form.number_error = Some(p.detail),
                Some("cut_off") => form.cut_off_error = Some(p.detail),
                Some("instruction") => form.instruction_error = Some(p.detail),
                Some("units_due") => form.units_due_error = Some(p.detail),
                _ => form.error = Some(p.detail),
            }
            plan_rounds(&app, &viewer, &plan, p.status, Some(form)).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// /plans/{plan}/rounds/{n}: the round.

pub struct DiffLine {
    pub kinds: Vec<Opt>,
    pub text: String,
}

pub struct PropLine {
    pub text: String,
    pub letter: String,
}

/// A task of the round, with its entry (a form when the viewer may enter it now).
pub struct TaskEntry {
    pub task_id: String,
    pub anchor: String,
    pub name: String,
    pub href: String,
    pub action: String,
    pub editable: bool,
    pub entered: bool,
    pub progress: String,
    pub diffs: Vec<DiffLine>,
    pub props: Vec<PropLine>,
    pub updated: String,
    pub error: Option<String>,
}

/// A unit's part of the round.
pub struct UnitPart {
    pub unit_id: String,
    pub name: String,
    pub state: UnitState,
    pub submitted: bool,
    pub may_submit: bool,
    pub submit_action: String,
    pub tasks: Vec<TaskEntry>,
}

pub struct DraftField {
    pub code: &'static str,
    pub label: &'static str,
    pub text: String,
}

#[derive(Template)]
#[template(path = "round.html")]
struct RoundPage {
    layout: Layout,
    title: String,
    plan_title: String,
    plan_href: String,
    cut_off: String,
    instruction: String,
    units_due: String,
    csrf: String,
    units: Vec<UnitPart>,
    city: bool,
    coordinator: bool,
    drafts: Vec<DraftField>,
    drafts_action: String,
    drafts_error: Option<String>,
    docx: String,
    exports: Vec<String>,
}

/// What a refused or confirmed action adds to the round page.
#[derive(Default)]
struct Notice {
    flash: Option<(&'static str, String)>,
    /// The task whose form was refused, the reason and what was typed.
    task: Option<(String, String, Fields)>,
    drafts: Option<(String, Fields)>,
}

fn kinds(chosen: Option<&str>) -> Vec<Opt> {
    DifficultyKind::ALL
        .iter()
        .map(|k| Opt {
            value: k.code().to_string(),
            label: k.label().to_string(),
            selected: chosen == Some(k.code()),
        })
        .collect()
}

/// The lines a form shows: what is there plus one blank line to add another.
fn with_blank<T>(mut lines: Vec<T>, blank: impl Fn() -> T) -> Vec<T> {
    if lines.len() < MAX_LINES {
        lines.push(blank());
    }
    lines
}

async fn show(
    app: &AppState,
    viewer: &Viewer,
    plan: &str,
    n: u32,
    status: StatusCode,
    notice: Notice,
) -> Result<Response, PageError> {
    let actor = &viewer.identity.actor;
    let today = local_date(Utc::now());
    let v = app
        .store
        .rounds()
        .show_as(actor, plan, n, None, today)
        .await?;
    let plan_id = v.round.plan_id.clone();
    let here = round_href(&plan_id, n);
    let states = unit_states(&v);
    let mut units = Vec::new();
    for (u, state) in v.units.iter().zip(states) {
        let submitted = u.submitted.is_some();
        let tasks = v
            .tasks
            .iter()
            .filter(|t| t.unit_id == u.unit_id)
            .map(|t| {
                let facts = access::TaskFacts {
                    unit: &t.unit_id,
                    turn: &[],
                    acted_in: &[],
                };
                let editable = !submitted && access::may_enter_round(actor, &facts).is_ok();
                let e = v.entry(&t.task_id);
                let mut entry = TaskEntry {
                    task_id: t.task_id.clone(),
                    anchor: format!("nv-{}", t.task_id),
                    name: t.task_name.clone(),
                    href: format!("/tasks/{}", encode(&t.task_id)),
                    action: format!("{here}/entries/{}", encode(&t.task_id)),
                    editable,
                    entered: e.is_some(),
                    progress: e.map(|e| e.progress.clone()).unwrap_or_default(),
                    diffs: e
                        .map(|e| {
                            e.difficulties
                                .iter()
                                .map(|d| DiffLine {
                                    kinds: kinds(Some(d.kind.code())),
                                    text: d.text.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    props: e
                        .map(|e| {
                            e.proposals
                                .iter()
                                .map(|p| PropLine {
                                    text: p.text.clone(),
                                    letter: p.letter.clone().unwrap_or_default(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    updated: e
                        .map(|e| format!("{} ({})", view::instant(e.updated_at), e.updated_by))
                        .unwrap_or_default(),
                    error: None,
                };
                if let Some((task, reason, f)) = &notice.task
                    && *task == t.task_id
                {
                    entry.error = Some(reason.clone());
                    entry.progress = f.raw("progress").to_string();
                    entry.diffs = f
                        .all("diff_kind")
                        .into_iter()
                        .zip(f.all("diff_text"))
                        .filter(|(_, t)| !engine::input::is_blank(t))
                        .map(|(k, t)| DiffLine {
                            kinds: kinds(Some(k)),
                            text: t.to_string(),
                        })
                        .collect();
                    entry.props = f
                        .all("prop_text")
                        .into_iter()
                        .zip(f.all("prop_letter"))
                        .filter(|(t, l)| !engine::input::is_blank(t) || !engine::input::is_blank(l))
                        .map(|(t, l)| PropLine {
                            text: t.to_string(),
                            letter: l.to_string(),
                        })
                        .collect();
                }
                if entry.editable {
                    entry.diffs = with_blank(std::mem::take(&mut entry.diffs), || DiffLine {
                        kinds: kinds(None),
                        text: String::new(),
                    });
                    entry.props = with_blank(std::mem::take(&mut entry.props), || PropLine {
                        text: String::new(),
                        letter: String::new(),
                    });
                }
                entry
            })
            .collect();
        units.push(UnitPart {
            unit_id: u.unit_id.clone(),
            name: u.unit_name.clone(),
            state,
            submitted,
            may_submit: !submitted && access::may_submit_round(actor, &u.unit_id).is_ok(),
            submit_action: format!("{here}/units/{}/submit", encode(&u.unit_id)),
            tasks,
        });
    }
    let city = access::round_scope(actor)
        .map_err(StoreError::from)?
        .is_none();
    let coordinator = access::may_open_round(actor).is_ok();
    let drafts = DraftSection::ALL
        .iter()
        .map(|s| DraftField {
            code: s.code(),
            label: s.label(),
            text: match &notice.drafts {
                Some((_, f)) => f.raw(s.code()).to_string(),
                None => v.drafts.get(s.code()).cloned().unwrap_or_default(),
            },
        })
        .collect();
    let exports = v
        .events
        .iter()
        .filter(|e| e.kind == "export")
        .map(|e| {
            format!(
                "{} — {} ({}, sha256 {})",
                view::instant(e.at),
                e.actor_user,
                e.format.as_deref().unwrap_or(""),
                e.sha256.as_deref().map_or("", |s| &s[..s.len().min(12)])
            )
        })
        .collect();
    let title = format!(
        "Báo cáo {} — {}",
        v.round.spec.ordinal(),
        v.round.plan_number
    );
    let mut layout = Layout::new(title.clone(), Some(viewer), "/rounds");
    if let Some((kind, text)) = notice.flash {
        layout = layout.with_flash(kind, text);
    }
    let page = RoundPage {
        layout,
        title,
        plan_title: v.round.plan_number.clone(),
        plan_href: plan_href(&plan_id),
        cut_off: view::date(v.round.spec.cut_off),
        instruction: v.round.spec.instruction.clone(),
        units_due: view::date(v.round.spec.units_due),
        csrf: viewer.csrf.clone(),
        units,
        city,
        coordinator,
        drafts,
        drafts_action: format!("{here}/drafts"),
        drafts_error: notice.drafts.map(|(e, _)| e),
        docx: format!(
            "/api/v1/reports/progress?plan={}&round={n}&format=docx",
            encode(&plan_id)
        ),
        exports,
    };
    Ok(html(status, &page))
}

#[derive(serde::Deserialize)]
pub struct RoundQuery {
    xong: Option<String>,
}

fn path_round(plan: &str, n: &str) -> Result<(String, u32), PageError> {
    let plan = ident("plan", plan)?;
    let n = number("number", n).map_err(|_| PageError::not_found())?;
    Ok((plan, n))
}

/// `GET /plans/{plan}/rounds/{n}`.
pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((plan, n)): Path<(String, String)>,
    Query(q): Query<RoundQuery>,
) -> Result<Response, PageError> {
    let (plan, n) = path_round(&plan, &n)?;
    let flash = match q.xong.as_deref() {
        Some("mo") => Some("Đã mở đợt báo cáo; các đơn vị nhập báo cáo trên trang này."),
        Some("nhap") => Some("Đã lưu báo cáo của nhiệm vụ."),
        Some("gui") => Some(
            "Đã gửi báo cáo của đơn vị; báo cáo không sửa được nữa trừ khi Sở Khoa học và Công nghệ mở lại.",
        ),
        Some("du-thao") => Some("Đã lưu các mục của văn bản báo cáo."),
        _ => None,
    };
    let notice = Notice {
        flash: flash.map(|t| ("ok", t.to_string())),
        ..Notice::default()
    };
    show(&app, &viewer, &plan, n, StatusCode::OK, notice).await
}

fn read_entry(task: String, f: &Fields) -> Result<NewEntry, Problem> {
    let progress = text("progress", f.raw("progress"), MAX_TEXT, true).map_err(|mut p| {
        p.detail = format!(
            "Cần ghi tình hình thực hiện của nhiệm vụ (tối đa {MAX_TEXT} ký tự, không chứa ký tự điều khiển)."
        );
        p
    })?;
    let mut difficulties = Vec::new();
    for (k, t) in f.all("diff_kind").into_iter().zip(f.all("diff_text")) {
        if engine::input::is_blank(t) {
            continue;
        }
        let kind = DifficultyKind::parse(k)
            .map_err(|e| Problem::bad_request("diff_kind", format!("Loại khó khăn: {e}.")))?;
        difficulties.push(round::Difficulty {
            kind,
            text: text("diff_text", t, MAX_TEXT, true)?,
        });
    }
    let mut proposals = Vec::new();
    for (t, l) in f.all("prop_text").into_iter().zip(f.all("prop_letter")) {
        if engine::input::is_blank(t) {
            if !engine::input::is_blank(l) {
                return Err(Problem::bad_request(
                    "prop_text",
                    "Đề xuất có số văn bản nhưng chưa ghi nội dung đề xuất.",
                ));
            }
            continue;
        }
        proposals.push(round::Proposal {
            text: text("prop_text", t, MAX_TEXT, true)?,
            letter: opt_text("prop_letter", Some(l), MAX_LINE, false)?,
        });
    }
    if difficulties.len() > MAX_LINES || proposals.len() > MAX_LINES {
        return Err(Problem::bad_request(
            "diff_text",
            "Tối đa 50 khó khăn và 50 đề xuất cho một nhiệm vụ.",
        ));
    }
    Ok(NewEntry {
        task_id: task,
        progress,
        difficulties,
        proposals,
    })
}

/// `POST /plans/{plan}/rounds/{n}/entries/{task}`: a unit's user saves a task's entry.
pub async fn entry(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((plan, n, task)): Path<(String, String, String)>,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let (plan, n) = path_round(&plan, &n)?;
    let task = ident("task", &task)?;
    let result = match read_entry(task.clone(), &f) {
        Ok(new) => app
            .store
            .rounds()
            .save_entry_as(&viewer.identity.actor, &plan, n, &new, Utc::now())
            .await
            .map_err(Problem::from),
        Err(p) => Err(p),
    };
    match result {
        Ok(e) => {
            let r = app.store.rounds().round(&plan, n).await?;
            Ok(see_other(&format!(
                "{}?xong=nhap#nv-{}",
                round_href(&r.plan_id, n),
                encode(&e.task_id)
            )))
        }
        // A task the viewer may not see is the same 404 as the API's.
        Err(p) if p.status.is_server_error() || p.status == StatusCode::NOT_FOUND => Err(p.into()),
        Err(p) => {
            let notice = Notice {
                flash: Some((
                    "error",
                    format!("Chưa lưu báo cáo của nhiệm vụ: {}", p.detail),
                )),
                task: Some((task, p.detail.clone(), f)),
                drafts: None,
            };
            show(&app, &viewer, &plan, n, p.status, notice).await
        }
    }
}

/// `POST /plans/{plan}/rounds/{n}/units/{unit}/submit`: the unit's head submits.
pub async fn submit(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((plan, n, unit)): Path<(String, String, String)>,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let (plan, n) = path_round(&plan, &n)?;
    let unit = ident("unit", &unit)?;
    match app
        .store
        .rounds()
        .submit_as(&viewer.identity.actor, &plan, n, &unit, Utc::now())
        .await
        .map_err(Problem::from)
    {
        Ok(_) => {
            let r = app.store.rounds().round(&plan, n).await?;
            Ok(see_other(&format!(
                "{}?xong=gui",
                round_href(&r.plan_id, n)
            )))
        }
        Err(p) if p.status.is_server_error() || p.status == StatusCode::NOT_FOUND => Err(p.into()),
        Err(p) => {
            let notice = Notice {
                flash: Some((
                    "error",
                    format!("Chưa gửi được báo cáo của đơn vị: {}", p.detail),
                )),
                ..Notice::default()
            };
            show(&app, &viewer, &plan, n, p.status, notice).await
        }
    }
}

/// `POST /plans/{plan}/rounds/{n}/drafts`: SKHCN saves the report's sections (a blank section:
/// the generated text is used). Only the sections that changed are written.
pub async fn drafts(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((plan, n)): Path<(String, String)>,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let (plan, n) = path_round(&plan, &n)?;
    let actor = &viewer.identity.actor;
    let result: Result<(), Problem> = async {
        let v = app
            .store
            .rounds()
            .show_as(actor, &plan, n, None, local_date(Utc::now()))
            .await?;
        let mut changes = Vec::new();
        for s in DraftSection::ALL {
            let typed = opt_text(s.code(), Some(f.raw(s.code())), 4 * MAX_TEXT, true).map_err(
                |mut p| {
                    p.detail = format!(
                        "Mục «{}»: tối đa {} ký tự, không chứa ký tự điều khiển.",
                        s.label(),
                        4 * MAX_TEXT
                    );
                    p
                },
            )?;
            if typed.as_deref() != v.drafts.get(s.code()).map(String::as_str) {
                changes.push((s, typed));
            }
        }
        // Every section is checked before any is written.
        access::may_open_round(actor).map_err(StoreError::from)?;
        for (s, typed) in changes {
            app.store
                .rounds()
                .set_draft_as(actor, &plan, n, s, typed.as_deref(), Utc::now())
                .await?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            let r = app.store.rounds().round(&plan, n).await?;
            Ok(see_other(&format!(
                "{}?xong=du-thao#du-thao",
                round_href(&r.plan_id, n)
            )))
        }
        Err(p) if p.status.is_server_error() || p.status == StatusCode::NOT_FOUND => Err(p.into()),
        Err(p) if p.status == StatusCode::FORBIDDEN => Err(p.into()),
        Err(p) => {
            let notice = Notice {
                flash: Some(("error", "Chưa lưu các mục của văn bản báo cáo.".into())),
                task: None,
                drafts: Some((p.detail, f)),
            };
            show(&app, &viewer, &plan, n, p.status, notice).await
        }
    }
}
