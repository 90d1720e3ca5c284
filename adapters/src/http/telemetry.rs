//! Logs of the server: the process-wide subscriber of [`crate::telemetry`] (stderr, filtered by
//! `RUST_LOG`), and a span per request carrying its method, path and request id
//! (`x-request-id`, generated when the client sends none and returned in the response), so that
//! a user quoting the id in a complaint leads to the log lines of their request.

use axum::http::{HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// Installs the global subscriber once; later calls (tests start many servers) do nothing.
pub fn init_subscriber() {
    crate::telemetry::init();
}

/// A fresh UUIDv7 for each request without an `x-request-id`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRequestUuid;

impl MakeRequestId for MakeRequestUuid {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// The span of one request.
pub fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}
