//! The web pages (issue 12): what unit officers, appraisers, leaders and administrators use in
//! a browser. Server-rendered HTML from askama templates (`templates/`, checked at compile time
//! and escaped by default), served by `tiendo serve` at `/` beside `/api/v1`, from the same store
//! and the same access rules. A page handler reads who is asking ([`session::Viewer`]), calls
//! the store as that person, and renders; it decides nothing about who may see or do what.
//!
//! - [`assets`]: CSS, script and icons embedded in the binary, under `/assets/` with a content
//!   hash in the name and a year-long immutable cache.
//! - [`session`]: the signed-in viewer (the API's session cookie), CSRF tokens, sign-in/out and
//!   the return path after sign-in.
//! - [`page`]: the layout every page shares, security headers, the error page, form parsing.
//! - [`view`]: what people read: dates dd/mm/yyyy, amounts 1.234,5, deadline status in words.
//! - [`graph`]: the workflow and the overview chart as SVG, laid out on the server.
//! - The pages: [`home`] (my turn), [`tasks`] (list, filters, XLSX export), [`task`] (the task
//!   page, transitions, documents), [`propose`] (a new proposal), [`overview`] (leadership),
//!   [`plan_import`] (a plan's printed form: the carry-over review, then link or create),
//!   [`rounds`] (a plan's reporting rounds: units' entries, submission, SKHCN's draft and the
//!   official document), [`admin`] (users, units, calendars, workflows, outbox), [`account`]
//!   (own password).

pub mod account;
pub mod admin;
pub mod assets;
pub mod graph;
pub mod home;
pub mod overview;
pub mod page;
pub mod plan_import;
pub mod propose;
pub mod rounds;
pub mod session;
pub mod task;
pub mod tasks;
pub mod view;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::http::AppState;

/// The pages and assets, for the application's router.
pub fn router(max_upload_bytes: usize) -> Router<AppState> {
    // Uploads (a document, or a transition with its documents) get room for the file and the
    // small fields around it; the file's own limit is enforced exactly while reading.
    let upload = DefaultBodyLimit::max(max_upload_bytes.saturating_add(256 * 1024));
    Router::new()
        .route("/", get(home::page))
        .route(
            "/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/sign-out", post(session::sign_out))
        .route(
            "/account/password",
            get(account::page).post(account::change),
        )
        .route("/tasks", get(tasks::page))
        .route("/tasks/export.xlsx", get(tasks::export))
        .route("/tasks/new", get(propose::page).post(propose::submit))
        .route("/tasks/{id}", get(task::page))
        .route(
            "/tasks/{id}/transitions",
            post(task::transition).layer(upload),
        )
        .route("/tasks/{id}/documents", post(task::upload).layer(upload))
        .route("/documents/{id}", get(task::download))
        .route("/overview", get(overview::page))
        .route(
            "/plans/import",
            get(plan_import::page)
                .post(plan_import::review)
                .layer(upload),
        )
        .route(
            "/plans/import/apply",
            post(plan_import::apply).layer(DefaultBodyLimit::max(
                max_upload_bytes
                    .saturating_mul(2)
                    .saturating_add(256 * 1024),
            )),
        )
        .route("/rounds", get(rounds::index))
        .route("/plans/{plan}/rounds", get(rounds::list).post(rounds::open))
        .route("/plans/{plan}/rounds/{n}", get(rounds::page))
        .route(
            "/plans/{plan}/rounds/{n}/entries/{task}",
            post(rounds::entry),
        )
        .route(
            "/plans/{plan}/rounds/{n}/units/{unit}/submit",
            post(rounds::submit),
        )
        .route("/plans/{plan}/rounds/{n}/drafts", post(rounds::drafts))
        .route("/admin", get(admin::index))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route(
            "/admin/users/{username}",
            get(admin::user).post(admin::change_user),
        )
        .route("/admin/units", get(admin::units).post(admin::change_units))
        .route("/admin/calendars", get(admin::calendars))
        .route("/admin/calendars/{name}/{year}", get(admin::calendar_year))
        .route("/admin/workflows", get(admin::workflows))
        .route(
            "/admin/workflows/check",
            get(admin::check_page).post(admin::check_workflow),
        )
        .route("/admin/workflows/{name}", get(admin::workflow))
        .route(
            "/admin/outbox",
            get(admin::outbox).post(admin::retry_outbox),
        )
        .route("/assets/{file}", get(assets::serve))
        .layer(axum::middleware::map_response(page::security_headers))
}
