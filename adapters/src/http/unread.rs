//! What becomes of a request body its handler did not read.
//!
//! Many refusals come before the body is read: no identity (401), a declared length over the
//! limit (413), a content type not accepted (415), a multipart envelope broken at its start.
//! hyper then gives up on the connection once the answer is out, but by that time the answer has
//! usually gone out promising keep-alive, so a client that sends its next request on that
//! connection sees it reset: a transport error instead of the problem it was owed, and for a
//! `POST` no safe way to know whether to retry.
//!
//! So, as Go's `net/http` does, [`finish_unread_body`] reads what is left of a small body (at most
//! [`DRAIN_BYTES`], within [`DRAIN_TIME`]) before the answer goes out, and the connection stays
//! usable. When more is left than that — a 50 MiB upload refused by its `Content-Length` — reading
//! it would cost more than a new connection, so the answer says `Connection: close`: hyper closes
//! after sending it and no client reuses the connection.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};

use super::MAX_JSON_BYTES;

/// The most of an unread body read to keep its connection: above the largest JSON body
/// (`MAX_JSON_BYTES`), so that a JSON request refused for its size still keeps its connection.
const DRAIN_BYTES: u64 = 1024 * 1024;
const _: () = assert!(DRAIN_BYTES >= MAX_JSON_BYTES as u64);

/// How long the rest of a body may take to arrive before the connection is given up instead.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// What a handler left of its request body.
struct Unread {
    body: Body,
    /// Whether the handler read any of it. A client that sent `Expect: 100-continue` is waiting
    /// to be told to send the body; reading it now would ask for what nobody wants.
    started: bool,
}

/// The middleware: runs the handler with a body that hands back what is left of it when the
/// handler drops it, then reads that rest or marks the answer `Connection: close`.
pub async fn finish_unread_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let expects_continue = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let left = Arc::new(Mutex::new(None));
    let watched = Watched {
        inner: Some(body),
        started: false,
        finished: false,
        left: left.clone(),
    };
    let mut res = next
        .run(Request::from_parts(parts, Body::new(watched)))
        .await;
    let unread = left.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(Unread { body, started }) = unread {
        let read_to_end = (started || !expects_continue) && read_rest(body).await;
        if !read_to_end {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    res
}

/// Reads and discards the rest of `body`; false when it is over [`DRAIN_BYTES`] (declared or
/// seen), fails, or takes longer than [`DRAIN_TIME`].
async fn read_rest(body: Body) -> bool {
    if body.size_hint().lower() > DRAIN_BYTES {
        return false;
    }
    let read = async {
        let mut seen = 0u64;
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(bytes) => {
                    seen += bytes.len() as u64;
                    if seen > DRAIN_BYTES {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, read)
        .await
        .unwrap_or(false)
}

/// The request body as the handler sees it. Dropped before its end, it puts the rest in `left`.
struct Watched {
    inner: Option<Body>,
    started: bool,
    finished: bool,
    left: Arc<Mutex<Option<Unread>>>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        this.started = true;
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            this.finished = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take()
            && !self.finished
            && !body.is_end_stream()
        {
            *self.left.lock().unwrap_or_else(PoisonError::into_inner) = Some(Unread {
                body,
                started: self.started,
            });
        }
    }
}
