//! Stall alerts: a task that has not moved for its workflow's stall period (in working days)
//! is reported, once per version, to UBND and the unit head.

use chrono::TimeDelta;
use engine::Role;
use engine::time::Instant;
use serde_json::json;

use super::super::sql::{Arg, Conn, NewMessage, insert_messages};
use super::super::{StoreError, micros, new_id, with_db};
use super::{Scheduling, Whereabouts};

/// A task that may have stalled.
#[derive(sqlx::FromRow)]
struct Idle {
    #[sqlx(flatten)]
    task: Whereabouts,
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
        let mut queued = 0;
        for idle in self.idle_candidates(now, default_days).await? {
            let Some(wf) = idle.task.workflow(self.store.catalog()) else {
                continue;
            };
            let limit = wf.stall_after_working_days.unwrap_or(default_days);
            let Ok(days) = wf.calendar.working_days_between(idle.entered, now) else {
                continue;
            };
            if days < i64::from(limit) {
                continue;
            }
            let t = &idle.task;
            let turn: Vec<Role> = wf
                .state(&t.state)
                .map(|s| s.roles.clone())
                .unwrap_or_default();
            let payload = json!({
                "task_id": t.id, "task_name": t.name, "unit_id": t.unit, "state": t.state,
                "roles": [Role::Ubnd, Role::ThuTruongDonVi], "turn_roles": turn,
                "idle_working_days": days, "since": idle.entered,
            });
            if self.alert(&idle, &payload.to_string(), now).await? {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Running tasks that entered their state long enough ago to have stalled and were not yet
    /// alerted at their version. N working days cannot pass in fewer than N calendar days: a
    /// cheap filter, refined by each workflow's calendar.
    async fn idle_candidates(
        &self,
        now: Instant,
        default_days: u32,
    ) -> Result<Vec<Idle>, StoreError> {
        let min_days = self
            .store
            .catalog()
            .workflows()
            .filter_map(|w| w.stall_after_working_days)
            .chain([default_days])
            .min()
            .unwrap_or(default_days);
        let cutoff = now - TimeDelta::days(i64::from(min_days));
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT t.id, t.name, t.unit_id, t.state, t.workflow, t.workflow_version, t.version, t.state_entered_at FROM tasks t \
                 WHERE t.phase NOT IN ('completed', 'withdrawn', 'postponed') AND t.state_entered_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM stall_alerts s WHERE s.task_id = t.id AND s.version = t.version)",
            )
            .bind(cutoff)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Records the alert for the task's version and queues its message, in one transaction;
    /// false when another instance alerted first.
    async fn alert(&self, idle: &Idle, payload: &str, now: Instant) -> Result<bool, StoreError> {
        let id = new_id();
        Ok(with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            let first = conn
                .execute(
                    "INSERT INTO stall_alerts (task_id, version, alerted_at) VALUES ($1, $2, $3) ON CONFLICT (task_id, version) DO NOTHING",
                    &[Arg::Str(&idle.task.id), Arg::Int(idle.version), Arg::Time(now)],
                )
                .await?
                == 1;
            if first {
                let message = NewMessage {
                    id: &id,
                    task_id: Some(&idle.task.id),
                    template: "task.stalled",
                    payload,
                };
                insert_messages(&mut conn, &[message], now).await?;
            }
            tx.commit().await?;
            first
        }))
    }
}
