//! What operators watch: readiness and the figures behind the Prometheus metrics.
//!
//! Every figure is read from the database at scrape time rather than counted in memory, so
//! several instances report the same numbers and a restart loses nothing: transitions come from
//! the audit log, timers fired and the outbox backlog from the scheduler's tables (issue 4:
//! `timers.status = 'fired'`, `outbox.status = 'pending'`), lag from the oldest due work.

use engine::access::{self, Scope};
use engine::decide::Actor;
use engine::time::Instant;

use super::{Backend, Store, StoreError, micros, with_db};

/// The operators' doors: see [`Store::observe`].
#[derive(Clone, Copy)]
pub struct Observe<'a> {
    pub(super) store: &'a Store,
}

/// Whether the store can serve: the database answers and every migration is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub backend: Backend,
    pub applied_migrations: i64,
    pub known_migrations: i64,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.applied_migrations >= self.known_migrations
    }
}

/// The figures of one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Audit entries by kind (`create`, `transition`, …) and workflow.
    pub transitions: Vec<(String, String, i64)>,
    /// Tasks by phase.
    pub tasks_by_phase: Vec<(String, i64)>,
    pub tasks_overdue: i64,
    /// Timers by status (`pending`, `fired`, `cancelled`).
    pub timers: Vec<(String, i64)>,
    /// Seconds since the oldest pending timer became due (0 when none is late).
    pub timer_lag_seconds: f64,
    /// Outbox messages by status (`pending` is the backlog).
    pub outbox: Vec<(String, i64)>,
    /// Seconds since the oldest pending message became sendable (0 when none waits).
    pub outbox_lag_seconds: f64,
    pub sessions_active: i64,
    pub sign_in_failures_recent: i64,
}

impl Metrics {
    pub fn timers_with(&self, status: &str) -> i64 {
        self.timers
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    }

    pub fn outbox_with(&self, status: &str) -> i64 {
        self.outbox
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    }
}

fn lag(now: Instant, oldest: Option<Instant>) -> f64 {
    oldest.map_or(0.0, |t| {
        ((now - t).num_milliseconds().max(0) as f64) / 1000.0
    })
}

impl Observe<'_> {
    /// Whether the database answers and every migration is applied. No access rule: load
    /// balancers ask.
    #[tracing::instrument(skip_all)]
    pub async fn readiness(&self) -> Result<Readiness, StoreError> {
        let applied: i64 = with_db!(self.store, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(pool)
                .await?
        });
        let known = self.store.known_migrations();
        Ok(Readiness {
            backend: self.store.backend(),
            applied_migrations: applied,
            known_migrations: i64::try_from(known).unwrap_or(i64::MAX),
        })
    }

    /// The metrics, for an administrator or a metrics token ([`access::may_read_metrics`]).
    #[tracing::instrument(skip_all, fields(actor = %actor.user))]
    pub async fn metrics_as(
        &self,
        actor: &Actor,
        scope: Scope,
        now: Instant,
    ) -> Result<Metrics, StoreError> {
        access::may_read_metrics(actor, scope)?;
        self.metrics(now).await
    }

    async fn metrics(&self, now: Instant) -> Result<Metrics, StoreError> {
        let now = micros(now);
        let window = now - chrono::TimeDelta::minutes(15);
        Ok(with_db!(self.store, |pool| {
            let transitions: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT kind, workflow, COUNT(*) FROM audit_log GROUP BY kind, workflow ORDER BY kind, workflow",
            )
            .fetch_all(pool)
            .await?;
            let tasks_by_phase: Vec<(String, i64)> =
                sqlx::query_as("SELECT phase, COUNT(*) FROM tasks GROUP BY phase ORDER BY phase")
                    .fetch_all(pool)
                    .await?;
            let tasks_overdue: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM tasks WHERE due_at IS NOT NULL AND due_at < $1",
            )
            .bind(now)
            .fetch_one(pool)
            .await?;
            let timers: Vec<(String, i64)> = sqlx::query_as(
                "SELECT status, COUNT(*) FROM timers GROUP BY status ORDER BY status",
            )
            .fetch_all(pool)
            .await?;
            let oldest_timer: Option<Instant> = sqlx::query_scalar(
                "SELECT MIN(fire_at) FROM timers WHERE status = 'pending' AND fire_at <= $1",
            )
            .bind(now)
            .fetch_one(pool)
            .await?;
            let outbox: Vec<(String, i64)> = sqlx::query_as(
                "SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status",
            )
            .fetch_all(pool)
            .await?;
            let oldest_message: Option<Instant> = sqlx::query_scalar(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1",
            )
            .bind(now)
            .fetch_one(pool)
            .await?;
            let sessions_active: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .fetch_one(pool)
            .await?;
            let sign_in_failures_recent: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_failures WHERE at > $1")
                    .bind(window)
                    .fetch_one(pool)
                    .await?;
            Metrics {
                transitions,
                tasks_by_phase,
                tasks_overdue,
                timers,
                timer_lag_seconds: lag(now, oldest_timer),
                outbox,
                outbox_lag_seconds: lag(now, oldest_message),
                sessions_active,
                sign_in_failures_recent,
            }
        }))
    }
}
