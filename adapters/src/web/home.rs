//! `/` — Việc cần xử lý (my turn): the tasks waiting for the viewer, nearest deadline first,
//! each with its step, deadline, working days left, status in words and the transitions the
//! viewer can take from here.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use engine::access;

use super::page::{Layout, PageError, ok, see_other};
use super::session::Viewer;
use super::view::TaskRow;
use crate::http::AppState;
use crate::store::{TaskQuery, TaskSort};

/// How many tasks the page lists; the task list shows the rest.
const SHOWN: i64 = 100;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    total: i64,
    more: bool,
    rows: Vec<TaskRow>,
}

pub async fn page(State(app): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let actor = &viewer.identity.actor;
    if access::administers_only(actor) {
        // An administrator handles no dossier: their work is in the administration pages.
        return Ok(see_other("/admin"));
    }
    let now = Utc::now();
    let query = TaskQuery {
        my_turn: true,
        sort: TaskSort::Due,
        limit: Some(SHOWN),
        ..TaskQuery::default()
    };
    let found = app.store.tasks().search_as(actor, &query, now).await?;
    let rows: Vec<TaskRow> = found
        .items
        .iter()
        .map(|t| TaskRow::new(t, actor, now))
        .collect();
    Ok(ok(&HomePage {
        layout: Layout::new("Việc cần xử lý", Some(&viewer), "/"),
        total: found.total,
        more: found.total > rows.len() as i64,
        rows,
    }))
}
