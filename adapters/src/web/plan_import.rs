//! `/plans/import` — Nhập kế hoạch từ bảng in (issue 14): the carry-over review as a page.
//!
//! 1. `GET /plans/import`: the form — plan number, year, title, the plan file (the printed
//!    form, XLSX or CSV) and, optionally, the plan's layout file (else the layout kept with the
//!    plan).
//! 2. `POST /plans/import` (multipart): the same door as `tiendo import plan --review`
//!    ([`Imports::preview_printed_as`](crate::store::Imports::preview_printed_as): the same
//!    reading, proposals and decisions, written nowhere); the page lists each incoming row with
//!    its proposed existing task, score and reason, and a choice per row: link or create.
//! 3. `POST /plans/import/apply`: the choices as a links file, through the same door as
//!    `--links` ([`Imports::import_printed_as`](crate::store::Imports::import_printed_as)); the
//!    summary of rows linked, created and left for review.
//!
//! Who may: [`engine::access::may_import`], as for the command line (SKHCN, UBND, admin); the
//! doors rule on it again. The file travels from the review to the apply form as a hidden field
//! (hex), so nothing is kept on the server between the two steps.

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use engine::access;
use engine::catalogue::ImportPlan;
use engine::catalogue::printed::{Grid, parse_printed};
use engine::plan::carry::Link;
use engine::plan::import::{LinkMode, PrintedImport};
use engine::plan::layout::{PlanLayout, parse_layout};

use super::page::{Fields, Layout, PageError, encode, html};
use super::session::Viewer;
use crate::http::AppState;
use crate::http::problem::Problem;
use crate::store::{ImportError, PrintedReport, StoreError};

/// What the form holds (as typed) and the message next to each field.
#[derive(Default)]
struct Form {
    plan: String,
    year: String,
    title: String,
    /// The plan file: its name and bytes.
    file_name: String,
    file: Vec<u8>,
    layout_name: String,
    layout: String,
    error: Option<String>,
    plan_error: Option<String>,
    year_error: Option<String>,
    title_error: Option<String>,
    file_error: Option<String>,
    layout_error: Option<String>,
}

impl Form {
    fn has_errors(&self) -> bool {
        self.plan_error.is_some()
            || self.year_error.is_some()
            || self.title_error.is_some()
            || self.file_error.is_some()
            || self.layout_error.is_some()
    }
}

#[derive(Template)]
#[template(path = "plan_import.html")]
struct FormPage<'a> {
    layout: Layout,
    csrf: String,
    f: &'a Form,
}

/// One incoming row of the review.
struct ReviewRow {
    row: usize,
    unit: String,
    name: String,
    /// The proposed task: id and name.
    proposed: Option<(String, String)>,
    score: String,
    reason: String,
    /// Link (rather than create) is chosen.
    link: bool,
}

#[derive(Template)]
#[template(path = "plan_import_review.html")]
struct ReviewPage<'a> {
    layout: Layout,
    csrf: String,
    f: &'a Form,
    file_hex: String,
    layout_hex: String,
    rows: Vec<ReviewRow>,
    /// Rows the plan already lists (an earlier import of the same sheet).
    listed: usize,
    sheets: Vec<String>,
    warnings: Vec<String>,
    mismatches: Vec<String>,
}

#[derive(Template)]
#[template(path = "plan_import_done.html")]
struct DonePage {
    layout: Layout,
    plan: String,
    year: i32,
    linked: usize,
    created: usize,
    review: usize,
    listed: usize,
    links: Vec<(usize, String, String)>,
    summary: String,
    /// The plan's tasks on the list page.
    tasks_link: String,
}

const PATH: &str = "/plans/import";
const TITLE: &str = "Nhập kế hoạch từ bảng in";

/// The viewer may import plans (the command line's rule), or the page says who may.
fn may(viewer: &Viewer) -> Result<(), PageError> {
    access::may_import(&viewer.identity.actor)
        .map(drop)
        .map_err(|_| {
            PageError::new(
                StatusCode::FORBIDDEN,
                "Chỉ Sở Khoa học và Công nghệ, UBND thành phố và quản trị viên nhập được kế hoạch.",
            )
        })
}

fn form_page(viewer: &Viewer, status: StatusCode, f: &Form) -> Response {
    html(
        status,
        &FormPage {
            layout: Layout::new(TITLE, Some(viewer), PATH),
            csrf: viewer.csrf.clone(),
            f,
        },
    )
}

/// `GET /plans/import`.
pub async fn page(viewer: Viewer) -> Result<Response, PageError> {
    may(&viewer)?;
    Ok(form_page(&viewer, StatusCode::OK, &Form::default()))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    hex::decode(s).ok()
}

/// Reads the upload form: text fields of at most 2.000 bytes, files of at most the configured
/// upload limit, in memory (a plan's table is small).
async fn read_upload(
    mut m: Multipart,
    file_limit: usize,
) -> Result<(Option<String>, Form), PageError> {
    let unreadable = || PageError::bad_request("Không đọc được biểu mẫu gửi lên.");
    let mut csrf = None;
    let mut f = Form::default();
    let mut parts = 0;
    while let Some(mut field) = m.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            PageError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Tệp quá lớn: tối đa {} MB mỗi tệp.",
                    file_limit / (1024 * 1024)
                ),
            )
        } else {
            unreadable()
        }
    })? {
        parts += 1;
        if parts > 10 {
            return Err(PageError::bad_request("Biểu mẫu có quá nhiều trường."));
        }
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let cap = if file_name.is_some() {
            file_limit
        } else {
            2_000
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
            if bytes.len() + chunk.len() > cap {
                return Err(PageError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "Trường «{name}» quá lớn: tối đa {} MB mỗi tệp.",
                        file_limit / (1024 * 1024)
                    ),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&bytes).trim().to_string();
        match name.as_str() {
            "csrf" => csrf = Some(text()),
            "plan" => f.plan = text(),
            "year" => f.year = text(),
            "title" => f.title = text(),
            "file" if !bytes.is_empty() => {
                f.file_name = file_name.unwrap_or_default();
                f.file = bytes;
            }
            "layout" if !bytes.is_empty() => {
                f.layout_name = file_name.unwrap_or_default();
                match String::from_utf8(bytes) {
                    Ok(t) => f.layout = t,
                    Err(_) => {
                        f.layout_error =
                            Some("Tệp bố cục phải là văn bản UTF-8 (layout.toml).".into())
                    }
                }
            }
            _ => {}
        }
    }
    Ok((csrf, f))
}

/// The request the form asks for, or the form with a message next to each field at fault.
async fn build(
    app: &AppState,
    f: &mut Form,
    mode: LinkMode,
) -> Result<Option<PrintedImport>, PageError> {
    if f.plan.is_empty() {
        f.plan_error = Some("Nhập số hiệu kế hoạch, ví dụ 359/KH-UBND.".into());
    } else if f.plan.chars().count() > 100 {
        f.plan_error = Some("Số hiệu kế hoạch tối đa 100 ký tự.".into());
    }
    let year = match f.year.parse::<i32>() {
        Ok(y) if (2000..=2100).contains(&y) => Some(y),
        _ => {
            f.year_error = Some("Nhập năm của kế hoạch, 4 chữ số, ví dụ 2026.".into());
            None
        }
    };
    if f.title.is_empty() {
        f.title_error = Some("Nhập tên kế hoạch như văn bản ban hành.".into());
    } else if f.title.chars().count() > 500 {
        f.title_error = Some("Tên kế hoạch tối đa 500 ký tự.".into());
    }
    let mut sheets: Vec<Grid> = Vec::new();
    if f.file.is_empty() {
        f.file_error = Some("Chọn tệp bảng in của kế hoạch (.xlsx hoặc .csv).".into());
    } else if let Some(y) = year {
        let name = if f.file_name.is_empty() {
            "ke-hoach.xlsx".to_string()
        } else {
            f.file_name.clone()
        };
        match crate::import::read_grids_bytes(f.file.clone(), &name, None) {
            Ok(all) => {
                // Sheets without a printed header row (a cover, notes) are not the plan's tables.
                sheets = all
                    .into_iter()
                    .filter(|g| parse_printed(g, y).is_ok())
                    .collect();
                if sheets.is_empty() {
                    f.file_error = Some(format!(
                        "{name}: không thấy bảng in của kế hoạch: cần dòng tiêu đề cột có «TT» và «Tên nhiệm vụ» (xem README, mục The printed form)."
                    ));
                }
            }
            Err(e) => f.file_error = Some(e.0),
        }
    }
    let mut layout: Option<PlanLayout> = None;
    if f.layout_error.is_none() {
        if engine::input::is_blank(&f.layout) {
            // The layout kept with the plan, when the plan exists.
            match (
                app.store.directory().plan(&f.plan).await,
                year,
                f.plan.is_empty(),
            ) {
                (Ok(p), Some(y), false) => {
                    let l = app.store.plans().layout(&p.id, y).await?;
                    f.layout = l.to_toml();
                    f.layout_name = format!("bố cục đã lưu của kế hoạch {}", p.number);
                    layout = Some(l);
                }
                (Err(StoreError::NotFound { .. }), _, _) | (_, None, _) | (_, _, true) => {
                    f.layout_error = Some(
                        "Kế hoạch chưa có trong hệ thống: chọn tệp bố cục của kế hoạch (layout.toml, khai báo các mục, tiêu đề và cột in)."
                            .into(),
                    )
                }
                (Err(e), _, _) => return Err(e.into()),
            }
        } else {
            let name = if f.layout_name.is_empty() {
                "layout.toml".to_string()
            } else {
                f.layout_name.clone()
            };
            match parse_layout(&f.layout, &name) {
                Ok(l) => layout = Some(l),
                Err(e) => f.layout_error = Some(e),
            }
        }
    }
    match (layout, year) {
        (Some(layout), Some(year)) if !f.has_errors() => Ok(Some(PrintedImport {
            plan: ImportPlan {
                number: f.plan.clone(),
                year,
                title: f.title.clone(),
                issued_on: None,
            },
            layout,
            sheets,
            mode,
        })),
        _ => Ok(None),
    }
}

/// An import refusal on the form: a file's problem next to the file, the store's refusal at
/// the top; a fault of ours is the error page.
fn refusal(f: &mut Form, e: ImportError) -> Result<StatusCode, PageError> {
    match e {
        ImportError::Catalogue(engine::catalogue::CatalogueError::Plan(m)) => {
            f.error = Some(m);
            Ok(StatusCode::UNPROCESSABLE_ENTITY)
        }
        ImportError::Catalogue(c) => {
            f.file_error = Some(c.to_string());
            Ok(StatusCode::UNPROCESSABLE_ENTITY)
        }
        ImportError::Store(s) => {
            let p = Problem::from(s);
            if p.status.is_server_error() || p.status == StatusCode::FORBIDDEN {
                return Err(p.into());
            }
            f.error = Some(p.detail);
            Ok(p.status)
        }
    }
}

fn review_page(
    viewer: &Viewer,
    status: StatusCode,
    f: &Form,
    report: &PrintedReport,
    chosen: Option<&Fields>,
) -> Response {
    let o = &report.outcome;
    let rows = o
        .proposals
        .iter()
        .map(|p| {
            let proposed = p.task_id.as_ref().map(|t| {
                (
                    t.clone(),
                    o.proposed_names.get(t).cloned().unwrap_or_default(),
                )
            });
            let link = match (chosen, &p.task_id) {
                (Some(c), Some(t)) => c.get(&format!("r{}", p.row)) == Some(t.as_str()),
                (None, Some(_)) => true,
                _ => false,
            };
            ReviewRow {
                row: p.row,
                unit: p.unit.clone(),
                name: p.name.clone(),
                proposed,
                score: format!("{:.2}", p.score).replace('.', ","),
                reason: p.reason.clone(),
                link,
            }
        })
        .collect();
    let prepared = &report.prepared;
    html(
        status,
        &ReviewPage {
            layout: Layout::new(TITLE, Some(viewer), PATH),
            csrf: viewer.csrf.clone(),
            f,
            file_hex: hex::encode(&f.file),
            layout_hex: hex::encode(f.layout.as_bytes()),
            rows,
            listed: o.listed,
            sheets: prepared
                .sheets
                .iter()
                .map(|(source, key, title, rows, checked)| {
                    format!("{source}: mục {key} «{title}», {rows} nhiệm vụ, {checked} dòng tổng/tiểu cộng đã đối chiếu")
                })
                .collect(),
            warnings: prepared
                .warnings
                .iter()
                .chain(&o.warnings)
                .cloned()
                .collect(),
            mismatches: prepared
                .mismatches
                .iter()
                .map(|(source, m)| format!("{source}, {}", m.describe(prepared.plan.year)))
                .collect(),
        },
    )
}

/// `POST /plans/import` (multipart: csrf, plan, year, title, file, layout): the review.
pub async fn review(
    State(app): State<AppState>,
    viewer: Viewer,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let multipart = multipart.map_err(|_| {
        PageError::bad_request(
            "Biểu mẫu phải được gửi từ trang nhập kế hoạch (multipart/form-data).",
        )
    })?;
    let (csrf, mut f) = read_upload(multipart, app.settings.max_upload_bytes).await?;
    viewer.check_csrf(csrf.as_deref())?;
    may(&viewer)?;
    let Some(request) = build(&app, &mut f, LinkMode::Propose).await? else {
        return Ok(form_page(&viewer, StatusCode::UNPROCESSABLE_ENTITY, &f));
    };
    match app
        .store
        .imports()
        .preview_printed_as(&viewer.identity.actor, request, Utc::now())
        .await
    {
        Ok(report) => Ok(review_page(&viewer, StatusCode::OK, &f, &report, None)),
        Err(e) => {
            let status = refusal(&mut f, e)?;
            Ok(form_page(&viewer, status, &f))
        }
    }
}

/// `POST /plans/import/apply` (form: csrf, plan, year, title, file_name, file_hex,
/// layout_name, layout_hex, and `r{row}` per incoming row: the task to link, blank to create).
pub async fn apply(
    State(app): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&fields)?;
    may(&viewer)?;
    let text = |n: &str| fields.get(n).unwrap_or("").to_string();
    let mut f = Form {
        plan: text("plan"),
        year: text("year"),
        title: text("title"),
        file_name: text("file_name"),
        file: unhex(fields.get("file_hex").unwrap_or(""))
            .ok_or_else(|| PageError::bad_request("Không đọc được tệp đã gửi kèm biểu mẫu."))?,
        layout_name: text("layout_name"),
        layout: unhex(fields.get("layout_hex").unwrap_or(""))
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                PageError::bad_request("Không đọc được tệp bố cục đã gửi kèm biểu mẫu.")
            })?,
        ..Form::default()
    };
    let links: Vec<Link> = fields
        .0
        .iter()
        .filter_map(|(k, v)| {
            let row = k.strip_prefix('r')?.parse::<usize>().ok()?;
            Some(Link {
                row,
                name: String::new(),
                task_id: Some(v.trim().to_string()).filter(|t| !t.is_empty()),
            })
        })
        .collect();
    let Some(request) = build(&app, &mut f, LinkMode::Links(links)).await? else {
        return Ok(form_page(&viewer, StatusCode::UNPROCESSABLE_ENTITY, &f));
    };
    let actor = &viewer.identity.actor;
    match app
        .store
        .imports()
        .import_printed_as(actor, request, Utc::now())
        .await
    {
        Ok(r) => {
            let o = &r.outcome;
            Ok(html(
                StatusCode::OK,
                &DonePage {
                    layout: Layout::new(TITLE, Some(&viewer), PATH),
                    plan: r.prepared.plan.number.trim().to_string(),
                    year: r.prepared.plan.year,
                    linked: o.linked.len(),
                    created: o.created,
                    review: o.review.len(),
                    listed: o.listed,
                    links: o.linked.clone(),
                    summary: r.render(),
                    tasks_link: format!("/tasks?plan={}", encode(r.prepared.plan.number.trim())),
                },
            ))
        }
        Err(e) => {
            // Refused whole (a link that cannot be made): the review again, with the reasons
            // and the choices as they were.
            let status = refusal(&mut f, e)?;
            let Some(request) = build(&app, &mut f, LinkMode::Propose).await? else {
                return Ok(form_page(&viewer, status, &f));
            };
            match app
                .store
                .imports()
                .preview_printed_as(actor, request, Utc::now())
                .await
            {
                Ok(report) => Ok(review_page(&viewer, status, &f, &report, Some(&fields))),
                Err(_) => Ok(form_page(&viewer, status, &f)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_travels_as_hex_and_back() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex::encode(&bytes)).unwrap(), bytes);
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
