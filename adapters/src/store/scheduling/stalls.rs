//! Stall alerts: a task that has not moved for its workflow's stall period (in working days)
//! is reported, once per version, to UBND and the unit head.

use chrono::TimeDelta;
use engine::Role;
use engine::time::Instant;
use serde_json::json;

use super::super::{StoreError, micros, new_id, with_db};
use super::Scheduling;

/// A task that may have stalled.
#[derive(sqlx::FromRow)]
struct Idle {
    id: String,
    name: String,
    #[sqlx(rename = "unit_id")]
    unit: String,
    state: String,
    workflow: String,
    workflow_version: i64,
    version: i64,
    #[sqlx(rename = "state_entered_at")]
    entered: Instant,
}

impl Scheduling<'_> {
    /// Queues a stall alert for every task that has not moved for its workflow's stall period
    /// (or `default_days` working days) and was not yet alerted at its current version.
    /// Postponed tasks are parked on purpose and are not stalled. Returns how many were queued.
    #[tracing::instrument(skip_all)]
    pub async fn alert_stalled(
        &self,
        now: Instant,
        default_days: u32,
    ) -> Result<usize, StoreError> {
        let now = micros(now);
        let min_days = self
            .store
            .catalog()
            .workflows()
            .filter_map(|w| w.stall_after_working_days)
            .chain([default_days])
            .min()
            .unwrap_or(default_days);
        // N working days cannot pass in fewer than N calendar days: a cheap filter first.
        let cutoff = now - TimeDelta::days(i64::from(min_days));
        let candidates: Vec<Idle> = with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT t.id, t.name, t.unit_id, t.state, t.workflow, t.workflow_version, t.version, t.state_entered_at FROM tasks t \
                 WHERE t.phase NOT IN ('completed', 'withdrawn', 'postponed') AND t.state_entered_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM stall_alerts s WHERE s.task_id = t.id AND s.version = t.version)",
            )
            .bind(cutoff)
            .fetch_all(pool)
            .await?
        });
        let mut queued = 0;
        for Idle {
            id,
            name,
            unit,
            state,
            workflow,
            workflow_version,
            version,
            entered,
        } in candidates
        {
            let Some(wf) = self.store.catalog().get(
                &workflow,
                u32::try_from(workflow_version).unwrap_or_default(),
            ) else {
                continue;
            };
            let limit = wf.stall_after_working_days.unwrap_or(default_days);
            let Ok(idle) = wf.calendar.working_days_between(entered, now) else {
                continue;
            };
            if idle < i64::from(limit) {
                continue;
            }
            let turn: Vec<Role> = wf
                .state(&state)
                .map(|s| s.roles.clone())
                .unwrap_or_default();
            let payload = json!({
                "task_id": id, "task_name": name, "unit_id": unit, "state": state,
                "roles": [Role::Ubnd, Role::ThuTruongDonVi], "turn_roles": turn,
                "idle_working_days": idle, "since": entered,
            });
            let inserted = with_db!(self.store, |pool| {
                let mut tx = pool.begin().await?;
                let n = sqlx::query(
                    "INSERT INTO stall_alerts (task_id, version, alerted_at) VALUES ($1, $2, $3) ON CONFLICT (task_id, version) DO NOTHING",
                )
                .bind(&id)
                .bind(version)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    sqlx::query(
                        "INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at) \
                         VALUES ($1, $2, 'task.stalled', $3, 'pending', 0, $4, $4)",
                    )
                    .bind(new_id())
                    .bind(&id)
                    .bind(payload.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                n
            });
            queued += usize::try_from(inserted).unwrap_or(0);
        }
        Ok(queued)
    }
}
