//! The HTTP API: how the web pages, other city systems and scripts use tiendo, and its
//! security boundary.
//!
//! Laid out after *Zero To Production*: [`configuration`] reads the settings, [`startup`] builds
//! the axum application and binds it, [`telemetry`] sets up logs and request spans. The
//! endpoints live in `routes/`, one module per area, under `/api/v1`; errors are RFC 9457
//! problem details ([`problem`]); request parsing and the caller's identity are in `extract`.
//!
//! Handlers authenticate, parse, call the store and map its answer. They decide nothing about
//! who may do what: the store asks `engine::access` and `engine::decide`, exactly as it does for
//! the command line.

pub mod configuration;
pub(crate) mod extract;
pub mod problem;
pub(crate) mod routes;
pub mod startup;
pub mod telemetry;
mod unread;
mod views;

pub use configuration::Settings;
pub use startup::{AppState, Application, openapi_document};
