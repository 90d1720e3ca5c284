//! What every page shares: the layout's data ([`Layout`]), the security headers, the error
//! page ([`PageError`]) and form fields ([`Fields`]).
//!
//! Security headers: a Content-Security-Policy that allows scripts, styles, images and fonts from
//! this origin only, with no `unsafe-inline` (the templates carry no inline script, no `<style>`
//! and no `style=` attribute), `frame-ancestors 'none'` (no page can be framed), forms posting to
//! this origin only; `Referrer-Policy: same-origin`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::access::{self, Area};

use super::assets;
use super::session::Viewer;
use crate::http::problem::Problem;
use crate::store::StoreError;

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers to every page and asset.
pub async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// A link of the main navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The signed-in person, as the header shows them.
pub struct UserBar {
    pub name: String,
    pub roles: String,
    pub csrf: String,
}

/// A message at the top of a page.
pub struct Flash {
    /// `ok`, `error` or `info`.
    pub kind: &'static str,
    pub text: String,
}

/// The data of `layout.html`.
pub struct Layout {
    pub title: String,
    pub user: Option<UserBar>,
    pub nav: Vec<NavItem>,
    pub css: String,
    pub js: String,
    pub htmx: String,
    pub icon: String,
    pub flash: Option<Flash>,
}

impl Layout {
    /// The layout for `viewer` (none on the sign-in and error pages); `current` is the href of
    /// the navigation item to mark.
    pub fn new(title: impl Into<String>, viewer: Option<&Viewer>, current: &str) -> Layout {
        let mut nav = Vec::new();
        if let Some(v) = viewer {
            let a = &v.identity.actor;
            let mut push = |href: &'static str, label: &'static str| {
                nav.push(NavItem {
                    href,
                    label,
                    current: href == current,
                })
            };
            if access::handles_dossiers(a) {
                push("/", "Việc cần xử lý");
                push("/tasks", "Danh sách nhiệm vụ");
            }
            if access::may_read_overview(a).is_ok() {
                push("/overview", "Tổng quan");
            }
            if access::round_scope(a).is_ok() {
                push("/rounds", "Đợt báo cáo");
            }
            if access::offers_proposal(a) {
                push("/tasks/new", "Đề xuất nhiệm vụ");
            }
            if access::may_import(a).is_ok() {
                push("/plans/import", "Nhập kế hoạch");
            }
            if access::may_manage(a, Area::Users).is_ok() {
                push("/admin", "Quản trị");
            }
        }
        Layout {
            title: title.into(),
            user: viewer.map(|v| UserBar {
                name: if v.identity.user.display_name.trim().is_empty() {
                    v.identity.user.username.clone()
                } else {
                    v.identity.user.display_name.clone()
                },
                roles: v
                    .identity
                    .actor
                    .roles
                    .iter()
                    .map(|r| r.title())
                    .collect::<Vec<_>>()
                    .join(", "),
                csrf: v.csrf.clone(),
            }),
            nav,
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            htmx: assets::url("htmx.min.js"),
            icon: assets::url("icon.svg"),
            flash: None,
        }
    }

    pub fn with_flash(mut self, kind: &'static str, text: impl Into<String>) -> Layout {
        self.flash = Some(Flash {
            kind,
            text: text.into(),
        });
        self
    }
}

/// Renders a template as an HTML response with `status`.
pub fn html<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a page");
            PageError::internal().into_response()
        }
    }
}

/// Renders a template as a 200 page.
pub fn ok<T: Template>(t: &T) -> Response {
    html(StatusCode::OK, t)
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    heading: &'a str,
    message: &'a str,
}

/// A page that could not be shown, with the reason in Vietnamese. The same status as the API
/// gives for the same refusal: a task the viewer may not see is a 404, exactly like a task
/// that does not exist.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }

    pub fn internal() -> PageError {
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Hệ thống gặp lỗi khi xử lý yêu cầu; không có thay đổi nào được ghi. Vui lòng thử lại sau ít phút hoặc báo quản trị viên.",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found() -> PageError {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Không tìm thấy trang hoặc nhiệm vụ này, hoặc bạn không có quyền xem.",
        )
    }

    fn heading(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "Yêu cầu không hợp lệ",
            401 => "Cần đăng nhập",
            403 => "Không được phép",
            404 => "Không tìm thấy",
            409 => "Không thực hiện được ở trạng thái hiện tại",
            413 => "Tệp quá lớn",
            415 => "Loại tệp không được chấp nhận",
            422 => "Không thực hiện được",
            429 => "Thử lại sau",
            _ => "Lỗi hệ thống",
        }
    }
}

impl From<Problem> for PageError {
    fn from(p: Problem) -> Self {
        if p.status == StatusCode::NOT_FOUND {
            // Whatever the API names (task, document, user…), the page says the same thing.
            return PageError::not_found();
        }
        PageError::new(p.status, p.detail)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Problem::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            layout: Layout::new(self.heading(), None, ""),
            status: self.status.as_u16(),
            heading: self.heading(),
            message: &self.message,
        };
        match page.render() {
            Ok(body) => (
                self.status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response(),
            Err(_) => (self.status, self.message).into_response(),
        }
    }
}

/// The fields of an `application/x-www-form-urlencoded` form, in order (a name may repeat, as
/// checkboxes do).
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn parse(bytes: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name` as typed (untrimmed: passwords), or "".
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(PageError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Biểu mẫu phải được gửi từ trang của hệ thống.",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| PageError::bad_request("Không đọc được nội dung biểu mẫu."))?;
        Ok(Fields::parse(&bytes))
    }
}

/// A 303 redirect to `location` (a path of this site).
pub fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// A path segment or query value, percent-encoded.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
