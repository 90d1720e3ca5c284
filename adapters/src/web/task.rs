//! `/tasks/{id}` — Trang nhiệm vụ, the page every reminder email links to: the task's facts and
//! budget lines, its deadline, the workflow drawn with the current step and the path taken, the
//! documents (upload, download, sha256), the audit timeline, and one form per transition the
//! viewer may take now, asking for exactly what that transition needs (a comment, documents).
//!
//! A transition form carries the task version the viewer saw: when someone moved the task in
//! the meantime the store refuses (as the API's `If-Match`), and the page says so and shows the
//! task as it is now. The engine's refusal is shown in its own words next to the form.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use engine::decide::Unmet;
use engine::time::parse_date;
use engine::workflow::Workflow;

use super::graph::{self, WorkflowGraph};
use super::page::{Layout, PageError, html, see_other};
use super::session::Viewer;
use super::tasks::Opt;
use super::view::{self, Deadline, can_take};
use crate::files::StagedFile;
use crate::http::AppState;
use crate::http::extract::{ident, opt_text};
use crate::http::problem::Problem;
use crate::http::routes::documents::{Upload, document_file, store_upload};
use crate::store::{Dossier, Expected, StoreError, TaskDetail, TransitionRequest};

/// One required document of a transition form.
pub struct DocNeed {
    pub doc_type: String,
    pub title: String,
    pub field: String,
    pub existing: Vec<Opt>,
}

/// The form of one transition the viewer may take now.
pub struct ActionForm {
    pub name: String,
    pub anchor: String,
    pub title: String,
    pub to_title: String,
    pub comment_required: bool,
    pub docs: Vec<DocNeed>,
    pub open: bool,
    pub error: Option<String>,
    pub comment: String,
    pub key: String,
}

pub struct BudgetRow {
    pub year: i32,
    pub need_total: String,
    pub approved: String,
    pub need_year: String,
    /// The year's planned allocation (dự kiến phân bổ).
    pub planned: String,
    pub allocated: String,
}

pub struct DocRow {
    pub href: String,
    pub type_title: String,
    pub number: String,
    pub date: String,
    pub issuer: String,
    pub file_name: String,
    pub size: String,
    pub sha256: String,
    pub by: String,
    pub at: String,
}

pub struct HistoryRow {
    pub at: String,
    pub who: String,
    pub what: String,
    pub from: String,
    pub to: String,
    pub comment: Option<String>,
    pub docs: Vec<String>,
}

/// A step that comes next but is someone else's to take.
pub struct OtherStep {
    pub title: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    layout: Layout,
    id: String,
    name: String,
    unit: String,
    plan: String,
    kind: String,
    funding: String,
    period: String,
    phase: String,
    step: String,
    version: i64,
    created: String,
    deadline: Deadline,
    stalled: bool,
    /// The year-end forecast (issue 17), or why there is none for an open task.
    forecast: Option<ForecastBox>,
    forecast_error: Option<String>,
    csrf: String,
    forms: Vec<ActionForm>,
    others: Vec<OtherStep>,
    budget: Vec<BudgetRow>,
    graph: WorkflowGraph,
    documents: Vec<DocRow>,
    may_attach: bool,
    doc_types: Vec<Opt>,
    history: Vec<HistoryRow>,
}

/// The year-end forecast as the page shows it.
struct ForecastBox {
    /// "không thể hoàn thành đúng hạn", "có nguy cơ", "dự kiến kịp" …
    label: &'static str,
    /// The badge's class: overdue, due, on, none.
    class: &'static str,
    as_of: String,
    due: String,
    earliest: String,
    typical: String,
    latest: String,
    /// The earliest path's selection method, when it matters.
    path: Option<String>,
    binding: Option<String>,
    shorter_path: Option<String>,
    /// Per selection method, one line.
    paths: Vec<String>,
    /// For a flagged task, the proposals the workflow offers (title, kind).
    options: Vec<(String, &'static str)>,
}

impl ForecastBox {
    fn of(f: &engine::forecast::Forecast) -> ForecastBox {
        use engine::forecast::Verdict;
        use engine::time::format_date;
        ForecastBox {
            label: f.verdict.label(),
            class: match f.verdict {
                Verdict::CannotFinish => "overdue",
                Verdict::AtRisk => "due",
                Verdict::OnTrack => "on",
                Verdict::NoDeadline => "none",
            },
            as_of: format_date(f.as_of),
            due: match (f.due, &f.due_reason) {
                (Some(d), Some(r)) => format!("{} ({r})", format_date(d)),
                (Some(d), None) => format_date(d),
                _ => "—".into(),
            },
            earliest: format_date(f.earliest.date),
            typical: format_date(f.typical.date),
            latest: format_date(f.latest.date),
            path: f.path_of(f.earliest).title.clone(),
            binding: f.binding.as_ref().map(|b| b.text.clone()),
            shorter_path: f.shorter_path_note(),
            paths: if f.paths.len() > 1 {
                f.path_lines()
            } else {
                Vec::new()
            },
            options: f
                .options
                .iter()
                .map(|o| (o.title.clone(), o.kind))
                .collect(),
        }
    }
}

/// What to say on the page besides the task.
#[derive(Default)]
struct Notice {
    flash: Option<(&'static str, String)>,
    /// The transition whose form failed, with the reason and what was typed.
    failed: Option<(String, String, String)>,
}

fn state_title(wf: Option<&Workflow>, state: &str) -> String {
    wf.and_then(|w| w.state(state))
        .map_or_else(|| state.to_string(), |s| s.title.clone())
}

fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn render(viewer: &Viewer, d: Dossier, status: StatusCode, n: Notice) -> Response {
    let now = Utc::now();
    let Dossier {
        detail:
            TaskDetail {
                item,
                budget,
                documents,
                available,
                may_attach,
                forecast,
                ..
            },
        history: log,
    } = d;
    let t = &item.task;
    let wf = item.workflow.as_deref();
    let doc_title = |ty: &str| {
        wf.and_then(|w| w.document_types.get(ty))
            .cloned()
            .unwrap_or_else(|| ty.to_string())
    };
    let forms = available
        .iter()
        .filter(|a| can_take(a))
        .map(|a| {
            let failed = n
                .failed
                .as_ref()
                .filter(|(name, _, _)| *name == a.transition);
            let docs = a
                .unmet
                .iter()
                .filter_map(|u| match u {
                    Unmet::Document { doc_type, title } => Some(DocNeed {
                        field: format!("file_{doc_type}"),
                        existing: {
                            let of_type: Vec<_> = documents
                                .iter()
                                .filter(|x| x.doc_type == *doc_type)
                                .collect();
                            let latest = of_type.last().map(|x| x.id.clone());
                            of_type
                                .iter()
                                .rev()
                                .map(|x| Opt {
                                    value: x.id.clone(),
                                    label: format!(
                                        "{}{} — tải lên {}",
                                        x.file_name,
                                        x.number
                                            .as_deref()
                                            .map(|n| format!(" (số {n})"))
                                            .unwrap_or_default(),
                                        view::instant(x.uploaded_at)
                                    ),
                                    selected: Some(&x.id) == latest.as_ref(),
                                })
                                .collect()
                        },
                        doc_type: doc_type.clone(),
                        title: title.clone(),
                    }),
                    _ => None,
                })
                .collect();
            ActionForm {
                anchor: format!("hanh-dong-{}", a.transition),
                name: a.transition.clone(),
                title: a.title.clone(),
                to_title: state_title(wf, &a.to),
                comment_required: a.unmet.iter().any(|u| matches!(u, Unmet::Comment)),
                docs,
                open: failed.is_some(),
                error: failed.map(|f| f.1.clone()),
                comment: failed.map(|f| f.2.clone()).unwrap_or_default(),
                key: new_key(),
            }
        })
        .collect();
    let others = available
        .iter()
        .filter(|a| !can_take(a))
        .map(|a| OtherStep {
            title: a.title.clone(),
            by: wf
                .and_then(|w| w.transition(&a.transition))
                .map(|tr| {
                    tr.roles
                        .iter()
                        .map(|r| r.title())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        })
        .collect();
    let doc_name = |id: &str| {
        documents
            .iter()
            .find(|x| x.id == id)
            .map_or_else(|| id.to_string(), |x| x.file_name.clone())
    };
    let history = log
        .iter()
        .rev()
        .map(|a| HistoryRow {
            at: view::instant(a.at),
            who: match a
                .actor_role
                .as_deref()
                .and_then(|r| r.parse::<engine::Role>().ok())
            {
                Some(r) => format!("{} ({})", a.actor_user, r.title()),
                None => a.actor_user.clone(),
            },
            what: match a.kind.as_str() {
                "create" => "Tạo nhiệm vụ (đề xuất)".to_string(),
                "import" => "Nhập từ kế hoạch".to_string(),
                "import_update" => "Cập nhật từ kế hoạch".to_string(),
                "document" => "Tải lên tài liệu".to_string(),
                _ => wf
                    .and_then(|w| w.transition(&a.transition))
                    .map_or_else(|| a.transition.clone(), |tr| tr.title.clone()),
            },
            from: a
                .from_state
                .as_deref()
                .map(|s| state_title(wf, s))
                .unwrap_or_default(),
            to: match a.round_label() {
                Some(l) => format!("{} ({l})", state_title(wf, &a.to_state)),
                None => state_title(wf, &a.to_state),
            },
            comment: a.comment.clone(),
            docs: a.documents.iter().map(|x| doc_name(x)).collect(),
        })
        .collect();
    let mut layout = Layout::new(t.name.clone(), Some(viewer), "");
    if let Some((kind, text)) = n.flash {
        layout = layout.with_flash(kind, text);
    }
    let page = TaskPage {
        layout,
        id: t.id.clone(),
        name: t.name.clone(),
        unit: t.unit_name.clone(),
        plan: t.plan_number.clone(),
        kind: wf.map_or_else(|| t.kind.clone(), |w| w.title.clone()),
        funding: t
            .funding_source
            .parse::<engine::domain::FundingSource>()
            .map_or_else(|_| t.funding_source.clone(), |f| f.title().to_string()),
        period: t.period.clone().unwrap_or_else(|| "—".into()),
        phase: t.phase.title().to_string(),
        // The round of the current step ("lần 2"), counted within the current review.
        step: match t
            .state_entries
            .get(&t.state)
            .copied()
            .and_then(engine::decide::round_label)
        {
            Some(l) => format!("{} ({l})", state_title(wf, &t.state)),
            None => state_title(wf, &t.state),
        },
        version: t.version,
        created: view::instant(t.created_at),
        deadline: view::deadline(wf, t, now),
        stalled: item.stalled,
        forecast: forecast
            .as_ref()
            .and_then(|f| f.as_ref().ok())
            .map(ForecastBox::of),
        forecast_error: forecast.and_then(Result::err),
        csrf: viewer.csrf.clone(),
        forms,
        others,
        budget: budget
            .iter()
            .map(|b| BudgetRow {
                year: b.year,
                need_total: view::money(b.need_total_vnd),
                approved: view::money(b.approved_estimate_vnd),
                need_year: view::money(b.need_year_vnd),
                planned: view::money(b.planned_allocation_vnd),
                allocated: view::money(b.allocated_year_vnd),
            })
            .collect(),
        graph: match wf {
            Some(w) => graph::workflow(w, &t.state, &log),
            None => WorkflowGraph {
                width: 0,
                height: 0,
                nodes: Vec::new(),
                edges: Vec::new(),
                summary: "Quy trình của nhiệm vụ không còn được nạp.".into(),
            },
        },
        documents: documents
            .iter()
            .map(|x| DocRow {
                href: format!("/documents/{}", x.id),
                type_title: doc_title(&x.doc_type),
                number: x.number.clone().unwrap_or_default(),
                date: x.issued_on.map(view::date).unwrap_or_default(),
                issuer: x.issuer.clone().unwrap_or_default(),
                file_name: x.file_name.clone(),
                size: view::size(x.size_bytes),
                sha256: x.sha256.clone(),
                by: x.uploaded_by.clone(),
                at: view::instant(x.uploaded_at),
            })
            .collect(),
        may_attach,
        doc_types: wf
            .map(|w| {
                w.document_types
                    .iter()
                    .map(|(k, v)| Opt {
                        value: k.clone(),
                        label: v.clone(),
                        selected: false,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        history,
    };
    html(status, &page)
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    xong: Option<String>,
    #[serde(rename = "tai-lieu")]
    tai_lieu: Option<String>,
    moi: Option<String>,
}

/// `GET /tasks/{id}`.
pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let id = ident("id", &id).map_err(|_| PageError::not_found())?;
    let d = app
        .store
        .tasks()
        .dossier_as(&viewer.identity.actor, &id, Utc::now())
        .await?;
    let mut notice = Notice::default();
    if let Some(done) = q.xong.as_deref() {
        let wf = d.detail.item.workflow.as_ref();
        let title = wf
            .and_then(|w| w.transition(done))
            .map_or_else(|| done.to_string(), |t| t.title.clone());
        let now_at = state_title(wf.map(|w| w.as_ref()), &d.detail.item.task.state);
        notice.flash = Some((
            "ok",
            format!("Đã thực hiện «{title}». Nhiệm vụ đang ở bước «{now_at}»."),
        ));
    } else if q.moi.is_some() {
        notice.flash = Some((
            "ok",
            "Đã tạo đề xuất nhiệm vụ. Các bước tiếp theo ở mục «Thao tác».".into(),
        ));
    } else if q.tai_lieu.is_some() {
        notice.flash = Some(("ok", "Đã tải lên tài liệu.".into()));
    }
    Ok(render(&viewer, d, StatusCode::OK, notice))
}

/// A part of a multipart form: a text in `bytes`, or a file in `file` (streamed to a
/// temporary file and hashed as it arrived).
struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    bytes: Vec<u8>,
    file: Option<StagedFile>,
}

impl Part {
    /// Whether a file was chosen for this part (a name or some bytes).
    fn has_file(&self) -> bool {
        self.file_name.as_deref().is_some_and(|n| !n.is_empty())
            || self.file.as_ref().is_some_and(|f| f.size > 0)
    }
}

struct Parts(Vec<Part>);

impl Parts {
    fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|p| p.name == name && p.file_name.is_none())
            .and_then(|p| String::from_utf8(p.bytes.clone()).ok())
    }

    fn texts(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|p| p.name == name && p.file_name.is_none())
            .filter_map(|p| String::from_utf8(p.bytes.clone()).ok())
            .collect()
    }
}

/// Reads a multipart form: at most 40 parts, each text part 20 kB in memory, each file at most
/// the configured upload limit, streamed to a temporary file of `files`.
async fn read_parts(
    mut m: Multipart,
    file_limit: usize,
    files: &crate::files::FileStore,
) -> Result<Parts, PageError> {
    let mut out = Vec::new();
    let too_large = || {
        PageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Tệp quá lớn: tối đa {} MB mỗi tệp.",
                file_limit / (1024 * 1024)
            ),
        )
    };
    while let Some(mut field) = m.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            PageError::bad_request("Không đọc được biểu mẫu gửi lên.")
        }
    })? {
        if out.len() >= 40 {
            return Err(PageError::bad_request("Biểu mẫu có quá nhiều trường."));
        }
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let unreadable = || PageError::bad_request("Không đọc được biểu mẫu gửi lên.");
        if file_name.is_some() {
            let storage = |e: std::io::Error| PageError::from(Problem::storage(&e));
            let mut staging = files.stage().map_err(storage)?;
            while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
                if staging.size() + chunk.len() as u64 > file_limit as u64 {
                    return Err(too_large());
                }
                staging.write(&chunk).map_err(storage)?;
            }
            out.push(Part {
                name,
                file_name,
                content_type,
                bytes: Vec::new(),
                file: Some(staging.finish().map_err(storage)?),
            });
            continue;
        }
        let cap = 20_000;
        let mut bytes = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|_| PageError::bad_request("Không đọc được biểu mẫu gửi lên."))?
        {
            if bytes.len() + chunk.len() > cap {
                return Err(PageError::bad_request(format!("Trường «{name}» quá dài.")));
            }
            bytes.extend_from_slice(&chunk);
        }
        out.push(Part {
            name,
            file_name,
            content_type,
            bytes,
            file: None,
        });
    }
    Ok(Parts(out))
}

/// Stores an uploaded file as a document of `doc_type` of the task, for the viewer: the store
/// checks first that they may attach to it (not found when they may not see it).
async fn store_document(
    app: &AppState,
    viewer: &Viewer,
    task_id: &str,
    upload: Upload<'_>,
) -> Result<String, Problem> {
    let attachment = app
        .store
        .tasks()
        .attach_as(&viewer.identity.actor, task_id)
        .await?;
    attachment.check_type(&upload.doc_type)?;
    Ok(store_upload(app, attachment, upload).await?.id)
}

/// An upload of `part`'s file as a document of `doc_type` (`None`: the part holds no file).
fn upload_of<'a>(
    part: &'a mut Part,
    doc_type: &str,
    number: Option<String>,
    issued_on: Option<chrono::NaiveDate>,
    issuer: Option<String>,
) -> Option<Upload<'a>> {
    Some(Upload {
        doc_type: doc_type.to_string(),
        file: part.file.take()?,
        file_name: part.file_name.as_deref(),
        content_type: part.content_type.as_deref(),
        number,
        issued_on,
        issuer,
    })
}

/// The multipart form of a task page's command, read and checked for its CSRF token before
/// anything else happens.
async fn command_form(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(String, Parts), PageError> {
    let id = ident("id", id).map_err(|_| PageError::not_found())?;
    let multipart = multipart.map_err(|_| {
        PageError::bad_request("Biểu mẫu phải được gửi từ trang nhiệm vụ (multipart/form-data).")
    })?;
    let parts = read_parts(multipart, app.settings.max_upload_bytes, &app.files).await?;
    viewer.check_csrf(parts.text("csrf").as_deref())?;
    Ok((id, parts))
}

/// Re-renders the task page after a refused command, or the error page when the task cannot be
/// shown to the viewer at all.
async fn again(
    app: &AppState,
    viewer: &Viewer,
    id: &str,
    status: StatusCode,
    notice: Notice,
) -> Response {
    match app
        .store
        .tasks()
        .dossier_as(&viewer.identity.actor, id, Utc::now())
        .await
    {
        Ok(d) => render(viewer, d, status, notice),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// `POST /tasks/{id}/transitions` (multipart: csrf, version, transition, key, comment, the
/// chosen `doc` ids and new files `file_<type>`).
pub async fn transition(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let (id, mut parts) = command_form(&app, &viewer, &id, multipart).await?;
    let name = parts.text("transition").unwrap_or_default();
    let comment_typed = parts.text("comment").unwrap_or_default();
    let fail = |status: StatusCode, reason: String| {
        Notice {
            flash: Some((
                "error",
                "Chưa thực hiện được thao tác; xem lý do ở biểu mẫu bên dưới.".into(),
            )),
            failed: Some((name.clone(), reason, comment_typed.clone())),
        }
        .into_response_with(&app, &viewer, &id, status)
    };
    let version = match parts
        .text("version")
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        Some(v) => v,
        None => {
            return Ok(fail(
                StatusCode::BAD_REQUEST,
                "Biểu mẫu thiếu phiên bản nhiệm vụ; hãy tải lại trang.".into(),
            )
            .await);
        }
    };
    let transition = match ident("transition", &name) {
        Ok(t) => t,
        Err(p) => return Ok(fail(p.status, p.detail).await),
    };
    let comment = match opt_text("comment", Some(&comment_typed), 5000, true) {
        Ok(c) => c,
        Err(p) => return Ok(fail(p.status, p.detail).await),
    };
    let mut documents: Vec<String> = parts
        .texts("doc")
        .iter()
        .filter(|d| !engine::input::is_blank(d))
        .map(|d| d.trim().to_string())
        .collect();
    for part in parts.0.iter_mut() {
        let Some(doc_type) = part.name.strip_prefix("file_").map(str::to_string) else {
            continue;
        };
        if !part.has_file() {
            continue; // no file chosen for this document
        }
        let Some(upload) = upload_of(part, &doc_type, None, None, None) else {
            continue;
        };
        match store_document(&app, &viewer, &id, upload).await {
            Ok(doc) => documents.push(doc),
            Err(p) if p.status == StatusCode::NOT_FOUND => return Err(PageError::not_found()),
            Err(p) => return Ok(fail(p.status, p.detail).await),
        }
    }
    let req = TransitionRequest {
        task_id: id.clone(),
        transition: transition.clone(),
        comment,
        document_ids: documents,
        expected_version: Expected::Version(version),
        idempotency_key: parts
            .text("key")
            .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic())),
    };
    match app
        .store
        .tasks()
        .transition_as(&viewer.identity.actor, &req, Utc::now())
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/tasks/{}?xong={}",
            super::page::encode(&id),
            super::page::encode(&transition)
        ))),
        Err(StoreError::Conflict { expected, current }) => {
            let notice = Notice {
                flash: Some((
                    "error",
                    format!(
                        "Nhiệm vụ đã được người khác cập nhật trong lúc bạn xem (bạn xem phiên bản {expected}, hiện tại là phiên bản {current}). Thao tác của bạn chưa được thực hiện. Trang đã được tải lại với dữ liệu mới nhất: hãy xem lại rồi thực hiện lại nếu vẫn cần."
                    ),
                )),
                failed: None,
            };
            Ok(again(&app, &viewer, &id, StatusCode::CONFLICT, notice).await)
        }
        Err(StoreError::NotFound { .. }) => Err(PageError::not_found()),
        Err(
            e @ (StoreError::Rejected(_)
            | StoreError::Invalid(_)
            | StoreError::StateConflict(_)
            | StoreError::Unprocessable(_)
            | StoreError::Forbidden(_)),
        ) => {
            let p = Problem::from(e);
            Ok(fail(p.status, p.detail).await)
        }
        Err(e) => Err(e.into()),
    }
}

impl Notice {
    async fn into_response_with(
        self,
        app: &AppState,
        viewer: &Viewer,
        id: &str,
        status: StatusCode,
    ) -> Response {
        again(app, viewer, id, status, self).await
    }
}

/// `POST /tasks/{id}/documents` (multipart: csrf, type, number, date, issuer, file).
pub async fn upload(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let (id, mut parts) = command_form(&app, &viewer, &id, multipart).await?;
    let refuse = |status: StatusCode, reason: String| {
        Notice {
            flash: Some(("error", format!("Chưa tải lên được tài liệu: {reason}"))),
            failed: None,
        }
        .into_response_with(&app, &viewer, &id, status)
    };
    let chosen =
        |p: &Part| p.name == "file" && p.file_name.as_deref().is_some_and(|n| !n.is_empty());
    if !parts.0.iter().any(chosen) {
        return Ok(refuse(StatusCode::BAD_REQUEST, "chưa chọn tệp.".into()).await);
    }
    let Some(doc_type) = parts.text("type").filter(|t| !engine::input::is_blank(t)) else {
        return Ok(refuse(StatusCode::BAD_REQUEST, "chưa chọn loại tài liệu.".into()).await);
    };
    let issued_on = match parts.text("date").filter(|d| !engine::input::is_blank(d)) {
        None => None,
        Some(d) => match parse_date(d.trim()) {
            Ok(d) => Some(d),
            Err(_) => {
                return Ok(refuse(
                    StatusCode::BAD_REQUEST,
                    "ngày văn bản không hợp lệ (dd/mm/yyyy).".into(),
                )
                .await);
            }
        },
    };
    let number = opt_text("number", parts.text("number").as_deref(), 200, false);
    let issuer = opt_text("issuer", parts.text("issuer").as_deref(), 300, false);
    let (number, issuer) = match (number, issuer) {
        (Ok(n), Ok(i)) => (n, i),
        (Err(p), _) | (_, Err(p)) => return Ok(refuse(p.status, p.detail).await),
    };
    let Some(upload) = parts
        .0
        .iter_mut()
        .find(|p| chosen(p))
        .and_then(|f| upload_of(f, doc_type.trim(), number, issued_on, issuer))
    else {
        return Ok(refuse(StatusCode::BAD_REQUEST, "chưa chọn tệp.".into()).await);
    };
    match store_document(&app, &viewer, &id, upload).await {
        Ok(_) => Ok(see_other(&format!(
            "/tasks/{}?tai-lieu=1#tai-lieu",
            super::page::encode(&id)
        ))),
        Err(p) if p.status == StatusCode::NOT_FOUND => Err(PageError::not_found()),
        Err(p) => Ok(refuse(p.status, p.detail).await),
    }
}

/// `GET /documents/{id}`: the file, for whoever may see its task (404 otherwise), checked
/// against its recorded sha256 (as the API's download).
pub async fn download(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = ident("id", &id).map_err(|_| PageError::not_found())?;
    let doc = app
        .store
        .tasks()
        .document_as(&viewer.identity.actor, &id)
        .await?;
    document_file(&app, &doc).await.map_err(PageError::from)
}
