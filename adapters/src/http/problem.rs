//! Errors as RFC 9457 problem details (`application/problem+json`), everywhere.
//!
//! `type` is `urn:tiendo:problem:<code>` and `title` the HTTP reason phrase: both stable, for
//! programs. `detail` is Vietnamese, for people. Extension members carry what a program needs to
//! react: `code` always; `field` on 400; `rule` on 403; `current_version` on a version conflict
//! (409); `allowed` (the transitions with what each lacks) and `unmet` on a refusal by the task's
//! current state (409); `retry_after` on 429.
//!
//! Statuses: 400 malformed input (not what the OpenAPI document allows); 403 not allowed for the
//! caller; 404 no such resource (or not visible to the caller); 409 a conflict with the
//! resource's current state (a version, a step, a proposal, a message that is not dead, a
//! duplicate); 422 well-formed input that cannot be processed whatever the state.
//!
//! Store errors map here in one place. Input the user can correct is a 4xx saying what is wrong;
//! a fault of ours (an internal error, a database failure) is a 500 whose detail names only the
//! id the cause was logged with (`fault_id`).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::decide::Rejection;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::views::{AvailableView, NeedView};
use crate::store::{Fault, SignInError, StoreError};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    pub extensions: Map<String, Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The shape of every error body (for the OpenAPI document).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDoc {
    /// `urn:tiendo:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The HTTP reason phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong and what is allowed, in Vietnamese.
    pub detail: String,
    /// A stable machine-readable code (`version_conflict`, `wrong_role`, `missing_documents`…).
    pub code: String,
    /// 400: the input that is wrong (a JSON path, a query parameter, a header).
    pub field: Option<String>,
    /// 403: the rule that refused.
    pub rule: Option<String>,
    /// 409: the task's current version.
    pub current_version: Option<i64>,
    /// 409: the version the request was based on.
    pub expected_version: Option<i64>,
    /// 409: the transitions the caller could take from the current state, with what each lacks.
    pub allowed: Option<Vec<AvailableView>>,
    /// 409: what the refused transition lacks.
    pub unmet: Option<Vec<NeedView>>,
    /// 413: the limit in bytes.
    pub limit_bytes: Option<u64>,
    /// 429: seconds to wait (also in `Retry-After`).
    pub retry_after: Option<u64>,
    /// 500: the id the fault was logged with, to quote to an administrator.
    pub fault_id: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code: code.to_string(),
            detail: detail.into(),
            extensions: Map::new(),
            headers: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Problem {
        self.extensions.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> Problem {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// 400, naming the input that is wrong.
    pub fn bad_request(field: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "invalid_input", detail).with("field", field)
    }

    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Chưa đăng nhập hoặc phiên đăng nhập đã hết hạn: hãy đăng nhập (POST /api/v1/auth/sign-in) hoặc gửi token API trong tiêu đề Authorization: Bearer.",
        )
        .header(header::WWW_AUTHENTICATE, "Bearer realm=\"tiendo\"")
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn too_large(limit: usize) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "Nội dung gửi lên quá lớn: tối đa {} byte ({}).",
                limit,
                human_bytes(limit as u64)
            ),
        )
        .with("limit_bytes", limit as u64)
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
    }

    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Lỗi máy chủ: yêu cầu chưa được thực hiện. Hãy thử lại; nếu vẫn lỗi, báo quản trị viên kèm mã yêu cầu (x-request-id).",
        )
    }

    /// 500 for a fault of ours already logged under `id`: the answer names the id and nothing
    /// else about the fault.
    pub fn fault(id: &str) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!(
                "Lỗi hệ thống, mã {id}: yêu cầu chưa được thực hiện. Hãy báo quản trị viên kèm mã này."
            ),
        )
        .with("fault_id", id)
    }

    /// 503: the database cannot be reached (or went away mid-request). Nothing was changed that
    /// the client was told about; it may retry after `Retry-After` seconds, with the same
    /// `Idempotency-Key` for a write.
    pub fn database_unavailable() -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            format!(
                "Cơ sở dữ liệu tạm thời không truy cập được. Hãy thử lại sau {DATABASE_RETRY_AFTER_SECS} giây; \
                 một yêu cầu ghi có Idempotency-Key gửi lại với cùng khóa sẽ không bị thực hiện hai lần."
            ),
        )
        .with("dependency", "database")
        .with("retry_after", DATABASE_RETRY_AFTER_SECS)
        .header(header::RETRY_AFTER, &DATABASE_RETRY_AFTER_SECS.to_string())
    }

    /// A document file could not be stored: 507 when the disk is full, else 503 naming the
    /// cause (the document folder is missing, not writable, or on a read-only file system).
    /// Nothing was recorded; the upload may be sent again once an administrator has fixed it.
    /// 507 `quota_exceeded`: the unit's documents would pass `http.unit_quota_bytes`.
    pub fn quota_exceeded(q: &engine::access::QuotaExceeded) -> Problem {
        Problem::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "quota_exceeded",
            q.message(),
        )
        .with("used_bytes", q.used)
        .with("quota_bytes", q.quota)
    }

    pub fn storage(e: &std::io::Error) -> Problem {
        use std::io::ErrorKind;
        tracing::error!(error = %e, "cannot store a document file");
        let (status, code, cause) = match e.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => (
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "ổ đĩa của thư mục tài liệu đã đầy",
            ),
            ErrorKind::PermissionDenied => (
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "máy chủ không có quyền ghi vào thư mục tài liệu",
            ),
            ErrorKind::ReadOnlyFilesystem => (
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "thư mục tài liệu nằm trên hệ thống tệp chỉ đọc",
            ),
            _ => (
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "không ghi được vào thư mục tài liệu",
            ),
        };
        Problem::new(
            status,
            code,
            format!(
                "Chưa lưu được tài liệu: {cause}. Tài liệu chưa được ghi nhận; hãy báo quản trị viên rồi tải lên lại."
            ),
        )
        .with("dependency", "storage")
    }

    /// 500 for a fault not yet logged: logs it under a new id, then answers [`Problem::fault`].
    fn logged_fault(what: &str, error: &dyn std::fmt::Display) -> Problem {
        let id = Fault::new_id();
        tracing::error!(fault = %id, error = %error, "{what}");
        Problem::fault(&id)
    }

    /// A refusal of `decide`: who may not (403), or what the task's current state does not
    /// allow (409: a transition or proposal not available in this step, a closed task, missing
    /// documents, a deadline not yet due, a pending proposal — the request is well-formed and may
    /// succeed once the task has moved). A calendar that cannot place the deadline is 422.
    /// `allowed` lists the transitions the caller could take instead.
    pub fn rejection(r: &Rejection, allowed: Option<Vec<AvailableView>>) -> Problem {
        let detail = r.to_string();
        if r.is_authorization() {
            return Problem::new(StatusCode::FORBIDDEN, r.code(), detail).with("rule", r.code());
        }
        let status = match r {
            Rejection::Calendar(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::CONFLICT,
        };
        let mut p = Problem::new(status, r.code(), detail);
        match r {
            Rejection::Unmet { unmet, .. } => {
                let needs: Vec<NeedView> = unmet.iter().map(NeedView::from).collect();
                p = p.with("unmet", needs);
            }
            Rejection::NotAvailable { available, .. } if allowed.is_none() => {
                let list: Vec<AvailableView> = available
                    .iter()
                    .map(|a| AvailableView::new(a, None))
                    .collect();
                p = p.with("allowed", list);
            }
            Rejection::RequestWindowClosed { ended_at, .. } => {
                p = p.with("window_ended_at", ended_at);
            }
            _ => {}
        }
        if let Some(a) = allowed {
            p = p.with("allowed", a);
        }
        p
    }
}

fn human_bytes(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)).replace('.', ",")
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0).replace('.', ",")
    } else {
        format!("{n} byte")
    }
}

/// The `Retry-After` of a 503 for an unavailable database, in seconds.
pub const DATABASE_RETRY_AFTER_SECS: u64 = 5;

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable: answering 503");
            return Problem::database_unavailable();
        }
        match e {
            StoreError::NotFound { .. } => Problem::not_found(e.to_string()),
            StoreError::Conflict { expected, current } => {
                Problem::new(StatusCode::CONFLICT, "version_conflict", e.to_string())
                    .with("current_version", current)
                    .with("expected_version", expected)
                    .header(header::ETAG, &format!("\"{current}\""))
            }
            StoreError::PreconditionFailed { current } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "Điều kiện If-Match không bao giờ khớp: phiên bản nhiệm vụ là thẻ mạnh dạng \"N\" (ví dụ \"3\"), không dùng thẻ yếu W/\"…\" hay giá trị khác.",
            )
            .with("current_version", current),
            StoreError::Rejected(r) => {
                let wf = r.workflow.as_deref();
                let allowed = r.available.as_ref().map(|list| {
                    list.iter()
                        .map(|a| AvailableView::new(a, wf))
                        .collect::<Vec<_>>()
                });
                Problem::rejection(&r, allowed)
            }
            StoreError::IdempotencyMismatch(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            ),
            StoreError::Invalid(msg) => Problem::new(StatusCode::BAD_REQUEST, "invalid", msg),
            StoreError::Duplicate(_) => {
                Problem::new(StatusCode::CONFLICT, "duplicate", e.to_string())
            }
            StoreError::StateConflict(msg) => {
                Problem::new(StatusCode::CONFLICT, "state_conflict", msg)
            }
            StoreError::Unprocessable(msg) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", msg)
            }
            StoreError::Forbidden(d) => {
                Problem::new(StatusCode::FORBIDDEN, d.rule, d.message).with("rule", d.rule)
            }
            StoreError::QuotaExceeded(q) => Problem::quota_exceeded(&q),
            StoreError::Internal(fault) => Problem::fault(&fault.id),
            StoreError::Database(err) => Problem::logged_fault("database error", &err),
            StoreError::Migrate(err) => Problem::logged_fault("migration error", &err),
        }
    }
}

impl From<SignInError> for Problem {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::BadCredentials => {
                Problem::new(StatusCode::UNAUTHORIZED, "bad_credentials", e.to_string())
            }
            SignInError::RateLimited { retry_after_secs } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failed_sign_ins",
                e.to_string(),
            )
            .with("retry_after", retry_after_secs)
            .header(header::RETRY_AFTER, &retry_after_secs.to_string()),
            SignInError::WrongCurrentPassword => Problem::new(
                StatusCode::BAD_REQUEST,
                "wrong_current_password",
                e.to_string(),
            )
            .with("field", "current_password"),
            SignInError::Store(s) => s.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert(
            "type".into(),
            json!(format!("urn:tiendo:problem:{}", self.code)),
        );
        body.insert(
            "title".into(),
            json!(self.status.canonical_reason().unwrap_or("Error")),
        );
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        body.insert("code".into(), json!(self.code));
        for (k, v) in self.extensions {
            body.entry(k).or_insert(v);
        }
        let mut res = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            Value::Object(body).to_string(),
        )
            .into_response();
        for (name, value) in self.headers {
            res.headers_mut().insert(name, value);
        }
        res
    }
}

/// The Vietnamese detail for an error status that reached the client without a problem body
/// (an unknown route, a wrong method, a body the framework refused before any handler).
pub fn generic_detail(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("invalid_input", "Yêu cầu không hợp lệ."),
        StatusCode::UNAUTHORIZED => ("unauthenticated", "Chưa đăng nhập."),
        StatusCode::FORBIDDEN => ("forbidden", "Bạn không có quyền thực hiện yêu cầu này."),
        StatusCode::NOT_FOUND => (
            "not_found",
            "Không có tài nguyên nào ở địa chỉ này. Danh sách địa chỉ API: /api/v1/openapi.json.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "Phương thức HTTP này không dùng được với địa chỉ này (xem /api/v1/openapi.json).",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "Nội dung gửi lên quá lớn."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "Kiểu nội dung không được hỗ trợ: gửi application/json (hoặc multipart/form-data khi tải tệp lên).",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("unprocessable", "Không xử lý được yêu cầu."),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "Yêu cầu quá thời gian chờ."),
        s if s.is_server_error() => (
            "internal",
            "Lỗi máy chủ: yêu cầu chưa được thực hiện. Hãy thử lại; nếu vẫn lỗi, báo quản trị viên kèm mã yêu cầu (x-request-id).",
        ),
        _ => ("error", "Yêu cầu không thực hiện được."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_fault_names_its_cause_and_a_full_disk_is_507() {
        use std::io::{Error, ErrorKind};
        let full = Problem::storage(&Error::from(ErrorKind::StorageFull));
        assert_eq!(
            (full.status, full.code.as_str()),
            (StatusCode::INSUFFICIENT_STORAGE, "storage_full")
        );
        assert!(full.detail.contains("ổ đĩa"), "{}", full.detail);
        let denied = Problem::storage(&Error::from(ErrorKind::PermissionDenied));
        assert_eq!(denied.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            denied.detail.contains("không có quyền ghi"),
            "{}",
            denied.detail
        );
        assert_eq!(denied.extensions["dependency"], "storage");
    }

    #[test]
    fn a_database_that_went_away_is_503_with_retry_after() {
        let p = Problem::from(StoreError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(
            (p.status, p.code.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
        );
        assert!(
            p.headers
                .iter()
                .any(|(h, v)| h == header::RETRY_AFTER && v == "5")
        );
        assert_eq!(p.extensions["dependency"], "database");
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(
            Problem::from(StoreError::Database(sqlx::Error::Io(io))).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        // A fault of ours stays a 500.
        let p = Problem::from(StoreError::Database(sqlx::Error::RowNotFound));
        assert_eq!(p.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
