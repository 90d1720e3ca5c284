//! Logs and traces: one subscriber for the process (structured lines on stderr, filtered by the
//! `log` setting, i.e. `RUST_LOG`), and the request id that ties an HTTP request's log lines
//! together.
//!
//! Work is traced with `#[tracing::instrument]` spans: every HTTP request (the `request` span
//! below, with method, path and request id), every scheduler tick and step
//! (`scheduler::Scheduler`), every outbox send, and the command line's long commands. A line
//! logged inside a span carries the span's fields, so every line of a request names its
//! request id. The id is the client's `x-request-id` when it sends a plausible one, else a fresh
//! UUIDv7, and is returned in the `x-request-id` response header: a user quoting it in a
//! complaint leads to the log lines of their request.

use std::io::IsTerminal;

use axum::extract::Request;
use axum::http::HeaderValue;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing_subscriber::EnvFilter;

/// The request id header, read from the client and set on every response.
pub const REQUEST_ID: &str = "x-request-id";

/// Installs the global subscriber once; later calls (tests start many servers) do nothing.
/// `filter` is the configured `log` setting (already validated); without one, `default`
/// (`info` for the long-running commands, `warn` for the others).
pub fn init(filter: Option<&str>, default: &str) {
    let filter = filter
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// A fresh UUIDv7 for each request without a usable `x-request-id`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRequestUuid;

impl MakeRequestId for MakeRequestUuid {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Whether a client's request id is kept: 1 to 128 characters of letters, digits and `-._:`,
/// so that it cannot forge or break a log line.
pub fn acceptable_request_id(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(b))
}

/// Drops a client's `x-request-id` that is not [`acceptable_request_id`] (a fresh one is made).
pub async fn drop_unacceptable_request_id(mut request: Request) -> Request {
    let bad = request
        .headers()
        .get_all(REQUEST_ID)
        .iter()
        .enumerate()
        .any(|(i, v)| i > 0 || !acceptable_request_id(v.as_bytes()));
    if bad {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

/// The span of one request.
pub fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_ids_are_kept_only_when_harmless() {
        assert!(acceptable_request_id(
            b"0190f1c2-7a3b-7c4d-8e5f-1234567890ab"
        ));
        assert!(acceptable_request_id(b"trace:abc.DEF_1-2"));
        assert!(!acceptable_request_id(b""));
        assert!(!acceptable_request_id(b"a b"));
        assert!(!acceptable_request_id(b"x\x1b[31m"));
        assert!(!acceptable_request_id("mã-yêu-cầu".as_bytes()));
        assert!(!acceptable_request_id(&[b'a'; 129]));
    }
}
