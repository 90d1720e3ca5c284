//! Cross-site request forgery beyond `SameSite`: a state-changing request that carries the
//! session cookie must come from our own pages.
//!
//! The session cookie is `SameSite=Strict`, and the pages' forms carry CSRF tokens; but a
//! browser may still send the cookie with a cross-site request in cases `SameSite` does not
//! cover (a sibling subdomain is "same site", an old browser ignores the attribute), and
//! body-less POSTs and multipart uploads of the API carry no token. So every unsafe method
//! (anything but GET, HEAD, OPTIONS, TRACE) that presents the session cookie and no bearer
//! token is refused with **403** when the browser says it came from elsewhere:
//!
//! - `Sec-Fetch-Site` (sent by every current browser) must be `same-origin` or `none` (typed or
//!   bookmarked by the user);
//! - `Origin`, when present, must name this server: its host and port equal the `Host` the
//!   request was sent to (behind a reverse proxy, which passes `Host` on).
//!
//! A request with neither header is not from a browser (a script holding the cookie could send
//! anything anyway) and passes. Bearer tokens are never sent by a browser on its own, so
//! requests authenticated by a token are not concerned.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::{SESSION_COOKIE, cookie};
use super::problem::Problem;

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// `Some(why)` when the request comes from another site, by what the browser says.
pub(crate) fn foreign(headers: &HeaderMap) -> Option<&'static str> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
            return Some("sec-fetch-site");
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        // `scheme://host[:port]`; "null" (a sandboxed frame, a local file) names no one.
        let authority = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        let same = authority.is_some_and(|a| !host.is_empty() && a.eq_ignore_ascii_case(host));
        if !same {
            return Some("origin");
        }
    }
    None
}

/// The middleware: see the module documentation.
pub(crate) async fn refuse_cross_site(req: Request, next: Next) -> Response {
    let h = req.headers();
    let with_cookie = cookie(h, SESSION_COOKIE).is_some() && !h.contains_key(header::AUTHORIZATION);
    if !is_safe(req.method())
        && with_cookie
        && let Some(why) = foreign(h)
    {
        tracing::warn!(header = why, path = %req.uri().path(), "cross-site request with the session cookie refused");
        return Problem::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "Yêu cầu thay đổi dữ liệu đến từ một trang web khác nên bị từ chối (chống giả mạo yêu cầu CSRF). Hãy thao tác trực tiếp trên trang tiendo.",
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_our_own_pages_pass() {
        assert_eq!(foreign(&headers(&[("host", "tiendo.vn")])), None);
        assert_eq!(
            foreign(&headers(&[
                ("host", "tiendo.vn"),
                ("origin", "https://tiendo.vn"),
                ("sec-fetch-site", "same-origin")
            ])),
            None
        );
        assert_eq!(
            foreign(&headers(&[
                ("host", "tiendo.vn:8080"),
                ("origin", "http://tiendo.vn:8080")
            ])),
            None
        );
        assert_eq!(
            foreign(&headers(&[
                ("host", "tiendo.vn"),
                ("origin", "https://evil.vn")
            ])),
            Some("origin")
        );
        assert_eq!(
            foreign(&headers(&[("host", "tiendo.vn"), ("origin", "null")])),
            Some("origin")
        );
        assert_eq!(
            foreign(&headers(&[
                ("host", "tiendo.vn"),
                ("sec-fetch-site", "same-site")
            ])),
            Some("sec-fetch-site")
        );
        assert_eq!(
            foreign(&headers(&[
                ("host", "tiendo.vn"),
                ("sec-fetch-site", "none")
            ])),
            None
        );
    }
}
