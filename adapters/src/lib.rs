//! tiendo's adapters: everything that touches the world around the pure `engine`.
//!
//! - [`configuration`]: the settings of every part, from a file, the environment and flags.
//! - [`definitions`]: reading workflows and calendars from disk or from the embedded copy.
//! - [`files`]: document files, content-addressed under the data directory.
//! - [`progress`]: how far long work has got ([`progress::Tracker`]), for a bar at a terminal.
//! - [`import`]: plan catalogues (CSV/XLSX) into the store, reconciled with printed totals.
//! - [`report`]: the progress and status reports (XLSX, HTML, Markdown).
//! - [`http`]: the HTTP API (axum): sign-in, role- and unit-scoped endpoints, OpenAPI.
//! - [`email`]: SMTP (lettre) and the outbox relay.
//! - [`scheduler`]: deadline timers, stall alerts, digests, seals; `tiendo worker`.
//! - [`store`]: the SQLite/PostgreSQL store, where decisions become facts; one door per aggregate.
//! - [`web`]: the web pages (askama, server-rendered) served beside the API.
//! - [`telemetry`]: logs, spans and the request id.

pub mod configuration;
pub mod definitions;
pub mod email;
pub mod files;
pub mod http;
pub mod import;
pub mod progress;
pub mod report;
pub mod scheduler;
pub mod store;
pub mod telemetry;
pub mod web;
