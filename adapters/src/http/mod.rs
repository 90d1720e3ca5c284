//! The HTTP API: how the web pages, other city systems and scripts use tiendo, and its
//! security boundary.
//!
//! Laid out after *Zero To Production*: its settings are the `http` branch of
//! [`crate::configuration`], [`startup`] builds the axum application and binds it, and
//! [`crate::telemetry`] gives every request its span and request id. The endpoints live in `routes/`, one module per area, under `/api/v1`; errors are RFC 9457
//! problem details ([`problem`]); request parsing and the caller's identity are in `extract`.
//!
//! Handlers authenticate, parse, call the store and map its answer. They decide nothing about
//! who may do what: the store asks `engine::access` and `engine::decide`, exactly as it does for
//! the command line.

pub(crate) mod extract;
pub mod openapi;
pub mod problem;
pub(crate) mod routes;
mod same_origin;
pub mod startup;
mod unread;
mod views;

pub use crate::configuration::HttpSettings;
pub use startup::{AppState, Application, openapi_document};

/// JSON bodies are small; anything larger is refused with 413 before it is parsed.
pub const MAX_JSON_BYTES: usize = 256 * 1024;
