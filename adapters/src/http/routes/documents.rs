//! Documents: upload (multipart), list and download.
//!
//! An upload is checked before a byte is stored: the caller must be allowed to attach to the
//! task (the store asks `engine::access`), the file must be within the size limit (413) and of
//! an accepted type, declared and confirmed by its first bytes (415). The file is stored
//! content-addressed under the data directory ([`FileStore`](crate::files::FileStore)) with its
//! sha256, and recorded by the store, which checks the document type against the workflow.

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{Auth, ident, opt_date, opt_text, text};
use super::super::problem::{Problem, ProblemDoc};
use super::super::startup::AppState;
use super::super::views::DocumentView;
use super::created;
use crate::files::StagedFile;
use crate::store::{Attachment, NewDocument};

pub fn router(max_upload_bytes: usize) -> OpenApiRouter<AppState> {
    let (schemas, paths, upload_route) = routes!(list_documents, upload_document);
    // The multipart envelope and the small fields around the file get some room above the
    // file's own limit, which is enforced exactly while reading.
    let upload_route = upload_route.layer(DefaultBodyLimit::max(
        max_upload_bytes.saturating_add(64 * 1024),
    ));
    OpenApiRouter::new()
        .routes((schemas, paths, upload_route))
        .routes(routes!(download_document))
}

/// The multipart form of an upload (for the OpenAPI document).
#[derive(ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// The file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The document type declared by the task's workflow (e.g. `thuyet_minh_du_toan`).
    #[schema(rename = "type")]
    doc_type: String,
    /// Number/symbol, e.g. `240/CCTĐC-QLĐL`.
    number: Option<String>,
    /// Date of the document: yyyy-mm-dd or dd/mm/yyyy.
    date: Option<String>,
    /// Issuing body.
    issuer: Option<String>,
}

/// Accepted file types: declared content type, the first bytes that confirm it, and the file
/// name extensions that go with it.
const ACCEPTED: &[(&str, &[u8], &[&str])] = &[
    ("application/pdf", b"%PDF-", &["pdf"]),
    ("image/png", b"\x89PNG\r\n\x1a\n", &["png"]),
    ("image/jpeg", b"\xff\xd8\xff", &["jpg", "jpeg"]),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        b"PK\x03\x04",
        &["docx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        b"PK\x03\x04",
        &["xlsx"],
    ),
    (
        "application/vnd.oasis.opendocument.text",
        b"PK\x03\x04",
        &["odt"],
    ),
    (
        "application/vnd.oasis.opendocument.spreadsheet",
        b"PK\x03\x04",
        &["ods"],
    ),
    ("application/zip", b"PK\x03\x04", &["zip"]),
    (
        "application/msword",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        &["doc"],
    ),
    (
        "application/vnd.ms-excel",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        &["xls"],
    ),
];

fn accepted_list() -> String {
    ACCEPTED
        .iter()
        .map(|(t, _, _)| *t)
        .collect::<Vec<_>>()
        .join(", ")
}

fn extension(name: &str) -> Option<String> {
    name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())
}

/// The content type of stored bytes: from their first bytes, told apart by the file name's
/// extension where several types share a signature (the ZIP-based office formats).
fn sniff(bytes: &[u8], file_name: &str) -> &'static str {
    let ext = extension(file_name);
    let matching: Vec<&(&str, &[u8], &[&str])> = ACCEPTED
        .iter()
        .filter(|(_, magic, _)| bytes.starts_with(magic))
        .collect();
    matching
        .iter()
        .find(|(_, _, exts)| ext.as_deref().is_some_and(|e| exts.contains(&e)))
        .or(matching.first())
        .map_or("application/octet-stream", |(t, _, _)| *t)
}

/// Checks that `declared` (the part's Content-Type) is accepted and that the bytes are what it
/// says. `application/octet-stream` or no type: the bytes decide.
fn check_type(declared: Option<&str>, bytes: &[u8], file_name: &str) -> Result<(), Problem> {
    let declared = declared
        .and_then(|d| d.split(';').next())
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| d != "application/octet-stream");
    let sniffed = sniff(bytes, file_name);
    match declared {
        None if sniffed != "application/octet-stream" => Ok(()),
        None => Err(Problem::unsupported_media_type(format!(
            "Không nhận dạng được loại tệp. Các loại được chấp nhận: {}.",
            accepted_list()
        ))),
        Some(d) => match ACCEPTED.iter().find(|(t, _, _)| *t == d) {
            None => Err(Problem::unsupported_media_type(format!(
                "Loại tệp `{}` không được chấp nhận. Các loại được chấp nhận: {}.",
                d.chars().take(100).collect::<String>(),
                accepted_list()
            ))),
            Some((_, magic, _)) if bytes.starts_with(magic) => Ok(()),
            Some(_) => Err(Problem::unsupported_media_type(format!(
                "Nội dung tệp không phải `{d}` như đã khai báo."
            ))),
        },
    }
}

fn multipart_error(e: MultipartError, limit: usize) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::too_large(limit)
    } else {
        Problem::bad_request(
            "body",
            "Nội dung multipart/form-data không hợp lệ hoặc bị cắt cụt.",
        )
    }
}

/// The documents of a task.
#[utoipa::path(
    get, path = "/tasks/{id}/documents", tag = "documents",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task's documents", body = Vec<DocumentView>),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn list_documents(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
) -> Result<Json<Vec<DocumentView>>, Problem> {
    let task_id = ident("id", &task_id)?;
    let docs = app.store.tasks().documents_as(&id.actor, &task_id).await?;
    Ok(Json(docs.into_iter().map(DocumentView::from).collect()))
}

/// Upload a document to a task (`multipart/form-data`: `file`, `type`, optional `number`,
/// `date`, `issuer`).
#[utoipa::path(
    post, path = "/tasks/{id}/documents", tag = "documents",
    params(("id" = String, Path, description = "Task id")),
    request_body(content = inline(UploadForm), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = DocumentView, headers(("Location" = String))),
        (status = 400, description = "A field is missing or wrong (`field`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not attach to this task", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "A document type the task's workflow does not have (`state_conflict`, naming the types it has)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than the limit (`limit_bytes`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart, or a file type not accepted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 507, description = "The document folder's disk is full (`storage_full`), or the unit's documents would pass its quota `http.unit_quota_bytes` (`quota_exceeded`, with `used_bytes` and `quota_bytes`); nothing was recorded", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn upload_document(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(task_id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, Problem> {
    let task_id = ident("id", &task_id)?;
    let mut multipart = multipart.map_err(|_| {
        Problem::unsupported_media_type(
            "Tải tệp lên cần Content-Type: multipart/form-data với các trường `file` và `type`.",
        )
    })?;
    // Refuse before reading a byte of the file: the caller may not attach, or the unit has no
    // room left.
    let attachment = app.store.tasks().attach_as(&id.actor, &task_id).await?;
    let quota = app.settings.unit_quota_bytes as u64;
    attachment.check_quota(0, quota).await?;

    let limit = app.settings.max_upload_bytes;
    const FIELD_LIMIT: usize = 4096;
    let mut file: Option<(StagedFile, Option<String>, Option<String>)> = None;
    let (mut doc_type, mut number, mut date, mut issuer) = (None, None, None, None);
    let mut fields = 0;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        fields += 1;
        if fields > 10 {
            return Err(Problem::bad_request(
                "body",
                "Quá nhiều trường trong biểu mẫu.",
            ));
        }
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            if file.is_some() {
                return Err(Problem::bad_request("file", "Chỉ gửi một tệp mỗi lần."));
            }
            let file_name = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            // Streamed to a temporary file (0600) and hashed on the way, never held whole.
            let mut staging = app.files.stage().map_err(|e| Problem::storage(&e))?;
            while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
                if staging.size() + chunk.len() as u64 > limit as u64 {
                    return Err(Problem::too_large(limit));
                }
                staging.write(&chunk).map_err(|e| Problem::storage(&e))?;
            }
            let staged = staging.finish().map_err(|e| Problem::storage(&e))?;
            file = Some((staged, file_name, content_type));
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
            if bytes.len() + chunk.len() > FIELD_LIMIT {
                return Err(Problem::bad_request(
                    &name,
                    format!("Trường `{name}` quá dài."),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let slot = match name.as_str() {
            "type" => &mut doc_type,
            "number" => &mut number,
            "date" => &mut date,
            "issuer" => &mut issuer,
            other => {
                return Err(Problem::bad_request(
                    &other.chars().take(50).collect::<String>(),
                    "Trường không được hỗ trợ; các trường: file, type, number, date, issuer.",
                ));
            }
        };
        if slot.is_some() {
            return Err(Problem::bad_request(
                &name,
                format!("Trường `{name}` bị lặp lại."),
            ));
        }
        *slot = Some(String::from_utf8(bytes).map_err(|_| {
            Problem::bad_request(&name, format!("Trường `{name}` không phải văn bản UTF-8."))
        })?);
    }
    let Some((staged, file_name, content_type)) = file else {
        return Err(Problem::bad_request("file", "Thiếu tệp (trường `file`)."));
    };
    let doc_type = ident(
        "type",
        doc_type
            .as_deref()
            .ok_or_else(|| Problem::bad_request("type", "Thiếu loại tài liệu (trường `type`)."))?,
    )?;
    attachment.check_type(&doc_type)?;
    let issued_on = opt_date("date", date.as_deref())?;
    let number = opt_text("number", number.as_deref(), 200, false)?;
    let issuer = opt_text("issuer", issuer.as_deref(), 300, false)?;
    let doc = store_upload(
        &app,
        attachment,
        Upload {
            doc_type,
            file: staged,
            file_name: file_name.as_deref(),
            content_type: content_type.as_deref(),
            number,
            issued_on,
            issuer,
        },
    )
    .await?;
    let location = format!("/api/v1/documents/{}", doc.id);
    Ok(created(&location, DocumentView::from(doc)))
}

/// An uploaded file with what is said about it, checked by [`store_upload`].
pub(crate) struct Upload<'a> {
    pub doc_type: String,
    /// The file as received ([`FileStore::stage`](crate::files::FileStore::stage)).
    pub file: StagedFile,
    /// As the browser sent it (a path is cut to its base name).
    pub file_name: Option<&'a str>,
    /// The part's declared content type.
    pub content_type: Option<&'a str>,
    pub number: Option<String>,
    pub issued_on: Option<chrono::NaiveDate>,
    pub issuer: Option<String>,
}

/// Checks an upload (not empty, a plain name, an accepted type confirmed by its first bytes,
/// within the unit's quota), stores the file content-addressed and records the document
/// through the leave to attach granted by [`Tasks::attach_as`](crate::store::Tasks::attach_as),
/// for the API and the task page alike.
pub(crate) async fn store_upload(
    app: &AppState,
    attachment: Attachment<'_>,
    u: Upload<'_>,
) -> Result<crate::store::Document, Problem> {
    if u.file.size == 0 {
        return Err(Problem::bad_request("file", "Tệp rỗng."));
    }
    // Only the base name: a path in the name says nothing about the document.
    let file_name = u
        .file_name
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
        .filter(|n| !engine::input::is_blank(n))
        .unwrap_or_else(|| "tai-lieu".into());
    let file_name = text("file_name", &file_name, 255, false)?;
    check_type(u.content_type, &u.file.head, &file_name)?;
    attachment
        .check_quota(
            u64::try_from(u.file.size).unwrap_or(u64::MAX),
            app.settings.unit_quota_bytes as u64,
        )
        .await?;
    let files = app.files.clone();
    let staged = u.file;
    let stored = tokio::task::spawn_blocking(move || files.put_staged(staged))
        .await
        .map_err(|_| Problem::internal())?
        .map_err(|e| Problem::storage(&e))?;
    let new = NewDocument {
        task_id: attachment.task().id.clone(),
        doc_type: u.doc_type,
        number: u.number,
        issued_on: u.issued_on,
        issuer: u.issuer,
        file_name,
        size_bytes: stored.size,
        sha256: stored.sha256,
        stored_path: stored.path.display().to_string(),
    };
    Ok(attachment.record(&new, Utc::now()).await?)
}

/// RFC 6266 / 8187 `Content-Disposition` for a Vietnamese file name.
fn disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in file_name.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A stored document's file as a download, checked against its recorded sha256: for the API
/// and the pages alike. The caller has checked that the document may be read.
pub(crate) async fn document_file(
    app: &AppState,
    doc: &crate::store::Document,
) -> Result<Response, Problem> {
    let files = app.files.clone();
    let (path, sha) = (
        std::path::PathBuf::from(&doc.stored_path),
        doc.sha256.clone(),
    );
    let bytes = tokio::task::spawn_blocking(move || files.get(&path, &sha))
        .await
        .map_err(|_| Problem::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, document = %doc.id, "cannot read a stored document");
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "file_outside_store",
                    "Đường dẫn tệp của tài liệu này nằm ngoài kho lưu trữ tài liệu nên không được phục vụ; báo quản trị viên.",
                )
            } else if e.kind() == std::io::ErrorKind::NotFound {
                Problem::new(
                    StatusCode::GONE,
                    "file_missing",
                    "Tệp của tài liệu này không còn trong kho lưu trữ; báo quản trị viên để khôi phục từ bản sao lưu.",
                )
            } else {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "file_corrupt",
                    "Tệp của tài liệu này không khớp mã băm sha256 đã ghi nhận; báo quản trị viên.",
                )
            }
        })?;
    let content_type = sniff(&bytes, &doc.file_name);
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition(&doc.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", doc.sha256)) {
        h.insert(header::ETAG, v);
    }
    Ok(res)
}

/// Download a document's file (checked against its recorded sha256).
#[utoipa::path(
    get, path = "/documents/{id}", tag = "documents",
    params(("id" = String, Path, description = "Document id")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream",
            headers(("Content-Disposition" = String), ("Digest" = String, description = "sha-256 of the file"))),
        (status = 404, description = "No such document, or not one the caller may see", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn download_document(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(doc_id): Path<String>,
) -> Result<Response, Problem> {
    let doc_id = ident("id", &doc_id)?;
    let doc = app.store.tasks().document_as(&id.actor, &doc_id).await?;
    document_file(&app, &doc).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_declared_and_confirmed_by_their_bytes() {
        assert!(check_type(Some("application/pdf"), b"%PDF-1.7 ...", "a.pdf").is_ok());
        assert_eq!(
            check_type(Some("application/pdf"), b"MZ\x90\x00", "a.pdf")
                .unwrap_err()
                .status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert!(check_type(Some("application/x-msdownload"), b"MZ", "a.exe").is_err());
        assert!(check_type(None, b"%PDF-1.4", "x").is_ok());
        assert!(check_type(Some("application/octet-stream"), b"#!/bin/sh", "x.sh").is_err());
        assert_eq!(
            sniff(b"PK\x03\x04....", "Dự toán.xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(sniff(b"PK\x03\x04", "a.bin"), ACCEPTED[3].0);
        assert_eq!(
            disposition("Thuyết minh.pdf"),
            "attachment; filename=\"Thuy_t_minh.pdf\"; filename*=UTF-8''Thuy%E1%BA%BFt%20minh.pdf"
        );
    }
}
