//! Who is looking at a page, and the forms that prove it is really them asking.
//!
//! - [`Viewer`]: the person signed in with the API's session cookie (`tiendo_session`, the same
//!   store sessions, the same idle and absolute expiry). A request without a valid session is
//!   sent to `/sign-in?next=<where it was going>`.
//! - CSRF: every form carries a synchronizer token bound to the session: the sha256 of a label
//!   and the session's secret, which lives only in the `HttpOnly` cookie, so another site can
//!   neither read nor compute it. Every POST handler checks it before it changes anything
//!   ([`Viewer::check_csrf`]). The sign-in form, before any session exists, is bound the same
//!   way to a random pre-session cookie.
//! - The return path after sign-in ([`safe_return_path`]) must be a path of this site: a full
//!   URL, `//host`, a backslash or a control character is refused, so a crafted link cannot send
//!   a user elsewhere after they sign in (no open redirect).

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};

use super::page::{Fields, Layout, PageError, encode, html, see_other};
use crate::http::AppState;
use crate::http::extract::{ClientAddress, SESSION_COOKIE, cookie};
use crate::http::routes::auth::session_cookie;
use crate::store::{Identity, SignInError, sha256_hex};

/// The cookie that binds the sign-in form before a session exists.
const SIGN_IN_COOKIE: &str = "tiendo_signin";

/// The person signed in, with the CSRF token of their session.
pub struct Viewer {
    pub identity: Identity,
    pub csrf: String,
}

fn token_for(label: &str, secret: &str) -> String {
    sha256_hex(format!("tiendo-{label}\n{secret}").as_bytes())
}

/// Compares two tokens in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn forbidden_form() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Biểu mẫu không hợp lệ hoặc đã hết hạn (thiếu mã xác thực CSRF của phiên đăng nhập). Không có thay đổi nào được ghi. Hãy tải lại trang rồi thử lại.",
    )
}

impl Viewer {
    /// Refuses a form whose CSRF token is missing or not this session's.
    pub fn check_csrf(&self, token: Option<&str>) -> Result<(), PageError> {
        match token {
            Some(t) if same(t, &self.csrf) => Ok(()),
            _ => Err(forbidden_form()),
        }
    }

    /// [`Viewer::check_csrf`] on the `csrf` field of a form.
    pub fn check_form(&self, f: &Fields) -> Result<(), PageError> {
        self.check_csrf(f.get("csrf"))
    }
}

/// Where to send someone who is not signed in: the sign-in page, returning here afterwards
/// (for a page they asked for; a form post returns to the home page).
fn to_sign_in(parts: &Parts) -> Response {
    let next = if parts.method == Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .and_then(safe_return_path)
            .filter(|p| *p != "/")
    } else {
        None
    };
    let location = match next {
        Some(p) => format!("/sign-in?next={}", encode(p)),
        None => "/sign-in".to_string(),
    };
    if parts.headers.contains_key("hx-request") {
        // htmx follows redirects inside the page; tell it to load the sign-in page instead.
        let mut res = StatusCode::OK.into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            res.headers_mut().insert("hx-redirect", v);
        }
        return res;
    }
    see_other(&location)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in(parts));
        };
        match app
            .store
            .accounts()
            .identity_from_session(secret, &app.settings.auth, Utc::now())
            .await
        {
            Ok(Some(identity)) => Ok(Viewer {
                csrf: token_for("csrf", secret),
                identity,
            }),
            Ok(None) => Err(to_sign_in(parts)),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

/// The path to return to after sign-in, if `next` is a path of this site (see the module
/// documentation); `None` otherwise.
pub fn safe_return_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 2000
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && !next.starts_with("/sign-in")
        && !next.starts_with("/sign-out");
    ok.then_some(next)
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    layout: Layout,
    next: &'a str,
    username: &'a str,
    csrf: String,
    error: Option<String>,
}

/// The sign-in form, bound to a fresh pre-session cookie.
fn sign_in_form(
    app: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<String>,
) -> Response {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes[..]);
    let nonce = sha256_hex(&bytes);
    let page = SignInPage {
        layout: Layout::new("Đăng nhập", None, ""),
        next: safe_return_path(next).unwrap_or(""),
        username,
        csrf: token_for("signin", &nonce),
        error,
    };
    let mut res = html(status, &page);
    let secure = if app.settings.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SIGN_IN_COOKIE}={nonce}; Path=/sign-in; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /sign-in`: the form; someone already signed in goes straight where they were going.
pub async fn sign_in_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    let next = q.next.unwrap_or_default();
    if let Some(secret) = cookie(&headers, SESSION_COOKIE)
        && let Ok(Some(_)) = app
            .store
            .accounts()
            .identity_from_session(secret, &app.settings.auth, Utc::now())
            .await
    {
        return see_other(safe_return_path(&next).unwrap_or("/"));
    }
    sign_in_form(&app, StatusCode::OK, &next, "", None)
}

/// `POST /sign-in`: the API's sign-in (same limits, same session), then back where the user
/// was going.
pub async fn sign_in(
    State(app): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let next = form.get("next").unwrap_or("").to_string();
    let username = form.get("username").unwrap_or("").to_string();
    let bound = cookie(&headers, SIGN_IN_COOKIE).is_some_and(|nonce| {
        form.get("csrf")
            .is_some_and(|t| same(t, &token_for("signin", nonce)))
    });
    if !bound {
        return sign_in_form(
            &app,
            StatusCode::FORBIDDEN,
            &next,
            &username,
            Some("Biểu mẫu đăng nhập đã hết hạn hoặc không hợp lệ. Hãy nhập lại tên đăng nhập và mật khẩu.".into()),
        );
    }
    let password = form.raw("password");
    if username.is_empty() || password.is_empty() {
        return sign_in_form(
            &app,
            StatusCode::BAD_REQUEST,
            &next,
            &username,
            Some("Hãy nhập tên đăng nhập và mật khẩu.".into()),
        );
    }
    let now = Utc::now();
    match app
        .store
        .accounts()
        .sign_in(&username, password, &address, &app.settings.auth, now)
        .await
    {
        Ok(signed) => {
            tracing::info!(user = %signed.identity.user.username, %address, "signed in (web)");
            let max_age = (signed.absolute_until - now)
                .max(TimeDelta::zero())
                .num_seconds();
            let mut res = see_other(safe_return_path(&next).unwrap_or("/"));
            let h = res.headers_mut();
            h.append(
                header::SET_COOKIE,
                session_cookie(&app, &signed.secret, max_age),
            );
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{SIGN_IN_COOKIE}=; Path=/sign-in; HttpOnly; SameSite=Strict; Max-Age=0"
            )) {
                h.append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e @ (SignInError::BadCredentials | SignInError::WrongCurrentPassword)) => sign_in_form(
            &app,
            StatusCode::UNAUTHORIZED,
            &next,
            &username,
            Some(e.to_string()),
        ),
        Err(e @ SignInError::RateLimited { retry_after_secs }) => {
            let mut res = sign_in_form(
                &app,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                &username,
                Some(e.to_string()),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        Err(SignInError::Store(e)) => PageError::from(e).into_response(),
    }
}

/// `POST /sign-out`: ends the session (checked by its CSRF token) and clears the cookie.
pub async fn sign_out(
    State(app): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    form: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&form)?;
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        app.store.accounts().sign_out(secret, Utc::now()).await?;
    }
    let mut res = see_other("/sign-in");
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_return_paths() {
        for good in [
            "/",
            "/tasks/0193a",
            "/tasks?q=benh%20an&page=2",
            "/overview",
        ] {
            assert_eq!(safe_return_path(good), Some(good), "{good}");
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/ /evil",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/sign-in?next=//evil.example",
            "/sign-out",
        ] {
            assert_eq!(safe_return_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_secret() {
        let a = token_for("csrf", "secret-a");
        assert_eq!(a, token_for("csrf", "secret-a"));
        assert_ne!(a, token_for("csrf", "secret-b"));
        assert_ne!(a, token_for("signin", "secret-a"));
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &token_for("csrf", "secret-b")));
        assert!(!same(&a, ""));
    }
}
