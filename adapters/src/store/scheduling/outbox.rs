//! The outbox: messages queued in the transaction that caused them, claimed by the relay with a
//! lease, settled after each attempt; listed and retried by operators.

use chrono::TimeDelta;
use engine::access::{self, Area};
use engine::decide::Actor;
use engine::time::Instant;

use super::super::{MAX_PAGE, StoreError, micros, new_id, with_db};
use super::{OutboxEntry, OutboxJob, Scheduling};

impl Scheduling<'_> {
    /// The notification outbox, newest first, for administrators.
    #[tracing::instrument(skip_all, fields(actor = %actor.user))]
    pub async fn outbox_as(
        &self,
        actor: &Actor,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        access::may_manage(actor, Area::Outbox)?;
        self.outbox(status, limit.clamp(1, MAX_PAGE)).await
    }

    /// Puts failed messages (one, or all with `None`) back in the queue, for administrators.
    /// One message must exist and be dead or skipped.
    #[tracing::instrument(skip_all, fields(actor = %actor.user))]
    pub async fn retry_outbox_as(
        &self,
        actor: &Actor,
        id: Option<&str>,
        now: Instant,
    ) -> Result<u64, StoreError> {
        access::may_manage(actor, Area::Outbox)?;
        if let Some(id) = id {
            let status: Option<String> = with_db!(self.store, |pool| {
                sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?
            });
            match status.as_deref() {
                None => return Err(StoreError::not_found("thư", id)),
                Some("dead" | "skipped") => {}
                Some(other) => {
                    return Err(StoreError::StateConflict(format!(
                        "Thư `{id}` đang ở trạng thái `{other}`: chỉ gửi lại được thư lỗi (dead) hoặc bị bỏ qua (skipped)."
                    )));
                }
            }
        }
        self.retry_outbox(id, now).await
    }

    /// Queues a message not tied to one task (digests).
    #[tracing::instrument(skip_all, fields(template = %template))]
    pub async fn enqueue(
        &self,
        task_id: Option<&str>,
        template: &str,
        payload: &serde_json::Value,
        now: Instant,
    ) -> Result<String, StoreError> {
        let id = new_id();
        let now = micros(now);
        with_db!(self.store, |pool| {
            sqlx::query(
                "INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            )
            .bind(&id)
            .bind(task_id)
            .bind(template)
            .bind(payload.to_string())
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(id)
    }

    /// Claims up to `limit` queued messages whose next attempt is due, with a lease.
    #[tracing::instrument(skip_all, fields(owner = %owner, limit = limit))]
    pub async fn claim_outbox(
        &self,
        owner: &str,
        now: Instant,
        limit: i64,
        lease: TimeDelta,
    ) -> Result<Vec<OutboxJob>, StoreError> {
        let now = micros(now);
        let sql = format!(
            "WITH claim AS (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3 \
             AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_attempt_at, created_at LIMIT $4{}) \
             UPDATE outbox SET lease_owner = $1, lease_until = $2 WHERE id IN (SELECT id FROM claim) \
             RETURNING id, task_id, template, payload, attempts, created_at",
            self.skip_locked()
        );
        let mut jobs: Vec<OutboxJob> = with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(now + lease)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        jobs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(jobs)
    }

    /// Records the outcome of a send attempt. `status` is `sent`, `skipped` (no recipient), or
    /// `pending` / `dead` after a failure (`next_attempt_at` for the retry).
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all, fields(message = %id, status = %status))]
    pub async fn finish_outbox(
        &self,
        id: &str,
        owner: &str,
        status: &str,
        error: Option<&str>,
        message_id: Option<&str>,
        recipients: Option<&str>,
        next_attempt_at: Instant,
        now: Instant,
    ) -> Result<(), StoreError> {
        let failed = matches!(status, "pending" | "dead");
        with_db!(self.store, |pool| {
            sqlx::query(
                "UPDATE outbox SET status = $1, last_error = $2, message_id = COALESCE($3, message_id), recipients = COALESCE($4, recipients), \
                 attempts = attempts + $5, next_attempt_at = $6, sent_at = CASE WHEN $1 = 'sent' THEN $7 ELSE sent_at END, \
                 lease_owner = NULL, lease_until = NULL WHERE id = $8 AND lease_owner = $9",
            )
            .bind(status)
            .bind(error)
            .bind(message_id)
            .bind(recipients)
            .bind(i64::from(failed))
            .bind(micros(next_attempt_at))
            .bind(micros(now))
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Outbox rows, newest first; `status` filters. System door, for the shell's
    /// `tiendo outbox list`: no access rule (see [`Scheduling::outbox_as`]).
    #[tracing::instrument(skip_all)]
    pub async fn outbox(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT id, task_id, template, status, attempts, next_attempt_at, last_error, recipients, message_id, created_at, sent_at \
                 FROM outbox WHERE ($1 IS NULL OR status = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
            )
            .bind(status)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Puts dead or skipped messages back in the queue (all of them, or one by id); returns
    /// how many. System door, for the shell's `tiendo outbox retry`: no access rule.
    #[tracing::instrument(skip_all)]
    pub async fn retry_outbox(&self, id: Option<&str>, now: Instant) -> Result<u64, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, last_error = NULL, lease_owner = NULL, lease_until = NULL \
                 WHERE status IN ('dead', 'skipped') AND ($2 IS NULL OR id = $2)",
            )
            .bind(micros(now))
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }
}
