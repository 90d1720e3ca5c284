//! Health, readiness, Prometheus metrics, the outbox, and the OpenAPI document.
//!
//! `/health` (the process answers) and `/ready` (the database answers and is migrated) answer
//! without an identity, for load balancers and orchestrators; they reveal nothing else.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{Auth, Params, ident};
use super::super::problem::{DATABASE_RETRY_AFTER_SECS, Problem, ProblemDoc};
use super::super::startup::AppState;
use super::super::views::{HealthView, OutboxView, ReadyView, RetriedView};
use crate::store::{Metrics, StoreError};

/// How long `/ready` waits for the database before answering 503.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(outbox))
        .routes(routes!(retry_outbox))
        .routes(routes!(openapi))
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "operations", security(()),
    responses((status = 200, description = "Up", body = HealthView)))]
async fn health() -> Json<HealthView> {
    Json(HealthView {
        status: "ok".into(),
    })
}

/// The database answers, every migration is applied, and the document folder takes a file.
#[utoipa::path(get, path = "/ready", tag = "operations", security(()),
    responses(
        (status = 200, description = "Ready", body = ReadyView),
        (status = 503, description = "Not ready", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn ready(State(app): State<AppState>) -> Result<Json<ReadyView>, Problem> {
    let not_ready = |why: &str| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("Máy chủ chưa sẵn sàng: {why}."),
        )
    };
    // At once: a database that does not answer within a second is down for a load balancer.
    let checked = tokio::time::timeout(READY_WITHIN, app.store.observe().readiness())
        .await
        .unwrap_or(Err(StoreError::Database(sqlx::Error::PoolTimedOut)));
    let readiness = match checked {
        Ok(r) if r.ready() => r,
        Ok(r) => {
            return Err(not_ready(&format!(
                "cơ sở dữ liệu mới áp dụng {}/{} bản cập nhật cấu trúc",
                r.applied_migrations, r.known_migrations
            )));
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            return Err(not_ready("không kết nối được cơ sở dữ liệu")
                .with("dependency", "database")
                .header(header::RETRY_AFTER, &DATABASE_RETRY_AFTER_SECS.to_string()));
        }
    };
    // A document folder that cannot take a file would fail every upload.
    let files = app.files.clone();
    let writable = tokio::task::spawn_blocking(move || files.writable())
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
    if let Err(e) = writable {
        tracing::warn!(error = %e, "readiness: the document folder is not writable");
        return Err(
            not_ready(&format!("không ghi được vào thư mục tài liệu ({e})"))
                .with("dependency", "storage"),
        );
    }
    Ok(Json(ReadyView {
        status: "ready".into(),
        backend: readiness.backend.as_str().into(),
        applied_migrations: readiness.applied_migrations,
        known_migrations: readiness.known_migrations,
    }))
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn put(out: &mut String, name: &str, kind: &str, help: &str, samples: Vec<String>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for s in samples {
        let _ = writeln!(out, "{name}{s}");
    }
}

/// The Prometheus text exposition of `m`.
pub fn prometheus(m: &Metrics) -> String {
    let mut out = String::new();
    put(
        &mut out,
        "tiendo_transitions_total",
        "counter",
        "Audit entries written, by kind (create, transition, ...) and workflow.",
        m.transitions
            .iter()
            .map(|(kind, wf, c)| {
                format!(
                    "{{kind=\"{}\",workflow=\"{}\"}} {c}",
                    label(kind),
                    label(wf)
                )
            })
            .collect(),
    );
    put(
        &mut out,
        "tiendo_timers_fired_total",
        "counter",
        "Deadline timers fired by the scheduler.",
        vec![format!(" {}", m.timers_with("fired"))],
    );
    put(
        &mut out,
        "tiendo_timers",
        "gauge",
        "Deadline timers by status.",
        m.timers
            .iter()
            .map(|(s, c)| format!("{{status=\"{}\"}} {c}", label(s)))
            .collect(),
    );
    put(
        &mut out,
        "tiendo_timer_lag_seconds",
        "gauge",
        "Seconds since the oldest pending timer became due (0 when none is late).",
        vec![format!(" {}", m.timer_lag_seconds)],
    );
    put(
        &mut out,
        "tiendo_outbox_backlog",
        "gauge",
        "Notifications waiting to be sent (outbox status pending).",
        vec![format!(" {}", m.outbox_with("pending"))],
    );
    put(
        &mut out,
        "tiendo_outbox_messages",
        "gauge",
        "Outbox messages by status.",
        m.outbox
            .iter()
            .map(|(s, c)| format!("{{status=\"{}\"}} {c}", label(s)))
            .collect(),
    );
    put(
        &mut out,
        "tiendo_outbox_lag_seconds",
        "gauge",
        "Seconds since the oldest pending notification became sendable (0 when none waits).",
        vec![format!(" {}", m.outbox_lag_seconds)],
    );
    put(
        &mut out,
        "tiendo_tasks",
        "gauge",
        "Tasks by backbone phase.",
        m.tasks_by_phase
            .iter()
            .map(|(p, c)| format!("{{phase=\"{}\"}} {c}", label(p)))
            .collect(),
    );
    put(
        &mut out,
        "tiendo_tasks_overdue",
        "gauge",
        "Tasks past their current deadline.",
        vec![format!(" {}", m.tasks_overdue)],
    );
    put(
        &mut out,
        "tiendo_sessions_active",
        "gauge",
        "Signed-in sessions not expired or revoked.",
        vec![format!(" {}", m.sessions_active)],
    );
    put(
        &mut out,
        "tiendo_sign_in_failures_recent",
        "gauge",
        "Failed sign-ins in the last 15 minutes.",
        vec![format!(" {}", m.sign_in_failures_recent)],
    );
    out
}

/// Prometheus metrics (an administrator, or a metrics token).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = 403, description = "Administrators and metrics tokens only", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn metrics(State(app): State<AppState>, Auth(id): Auth) -> Result<Response, Problem> {
    let m = app
        .store
        .observe()
        .metrics_as(&id.actor, id.scope, Utc::now())
        .await?;
    let mut res = prometheus(&m).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(res)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// pending, sent, dead, skipped…
    status: Option<String>,
    /// 1–500 (default 100).
    limit: Option<i64>,
}

/// The notification outbox, newest first (administrators).
#[utoipa::path(get, path = "/outbox", tag = "operations",
    params(OutboxQuery),
    responses(
        (status = 200, description = "Messages", body = Vec<OutboxView>),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn outbox(
    State(app): State<AppState>,
    Auth(id): Auth,
    Params(q): Params<OutboxQuery>,
) -> Result<Json<Vec<OutboxView>>, Problem> {
    let status = q
        .status
        .as_deref()
        .map(|s| ident("status", s))
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::bad_request(
            "limit",
            "Tham số `limit` phải từ 1 đến 500.",
        ));
    }
    let rows = app
        .store
        .scheduling()
        .outbox_as(&id.actor, status.as_deref(), limit)
        .await?;
    Ok(Json(rows.into_iter().map(OutboxView::from).collect()))
}

/// Put a dead or skipped message back in the queue (administrators).
#[utoipa::path(post, path = "/outbox/{id}/retry", tag = "operations",
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "Back in the queue", body = RetriedView),
        (status = 409, description = "The message is not dead or skipped (`state_conflict`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such message", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn retry_outbox(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(msg): Path<String>,
) -> Result<Json<RetriedView>, Problem> {
    let msg = ident("id", &msg)?;
    let n = app
        .store
        .scheduling()
        .retry_outbox_as(&id.actor, Some(&msg), Utc::now())
        .await?;
    Ok(Json(RetriedView { requeued: n }))
}

/// This API's OpenAPI 3.1 document, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
async fn openapi(State(app): State<AppState>, Auth(_id): Auth) -> Response {
    let mut res = app.openapi.as_str().to_string().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
