//! What the scheduler and the email relay need from the store: claiming due timers and queued
//! mail with leases, firing timers in batches, stall alerts, cron slots and named leases.
//!
//! Exactly-once across instances rests on the database: PostgreSQL claims rows with
//! `FOR UPDATE SKIP LOCKED` inside the claiming `UPDATE`, so two instances never take the same
//! row; a claim carries a lease, and a row whose lease expired (its instance died) is claimed
//! again. SQLite has a single writer, so the same statement without the locking clause suffices.
//! Firing marks timers, queues the mail and plans the next overdue repeat in one transaction.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use engine::Role;
use engine::decide::TimerKind;
use engine::time::Instant;
use engine::workflow::Amount;
use serde_json::json;
use sqlx::Row;

use super::directory::{micros, new_id};
use super::{Backend, Store, StoreError, with_db};

/// A timer claimed by this instance.
#[derive(Debug, Clone)]
struct Claimed {
    id: String,
    task_id: String,
    state: String,
    kind: TimerKind,
    fire_at: Instant,
    due_at: Instant,
}

/// An automatic transition to take, claimed with a lease; see [`Store::finish_expiry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryJob {
    pub timer_id: String,
    pub task_id: String,
    pub transition: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FireReport {
    /// Timers claimed by this batch; 0 when nothing was due (or another instance took it).
    pub claimed: usize,
    /// Timers marked fired (including those folded into another's message).
    pub fired: usize,
    /// Notifications queued.
    pub queued: usize,
    /// Timers cancelled because their task had already left their state.
    pub stale: usize,
    pub expiries: Vec<ExpiryJob>,
}

/// A queued message claimed for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxJob {
    pub id: String,
    pub task_id: Option<String>,
    pub template: String,
    pub payload: serde_json::Value,
    pub attempts: i64,
    pub created_at: Instant,
}

/// An outbox row, for operators.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutboxEntry {
    pub id: String,
    pub task_id: Option<String>,
    pub template: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Instant,
    pub last_error: Option<String>,
    pub recipients: Option<String>,
    pub message_id: Option<String>,
    pub created_at: Instant,
    pub sent_at: Option<Instant>,
}

/// A task that may have stalled.
struct Idle {
    id: String,
    name: String,
    unit: String,
    state: String,
    workflow: String,
    workflow_version: i64,
    version: i64,
    entered: Instant,
}

/// Where a task with claimed timers is now.
struct Whereabouts {
    name: String,
    unit: String,
    state: String,
    workflow: String,
    workflow_version: i64,
}

/// Severity order of the deadline messages that fold into one per task.
fn severity(k: &TimerKind) -> u8 {
    match k {
        TimerKind::Reminder { .. } => 1,
        TimerKind::Due => 2,
        TimerKind::Overdue { .. } => 3,
        _ => 0,
    }
}

fn template_of(k: &TimerKind) -> &'static str {
    match k {
        TimerKind::Reminder { .. } => "deadline.reminder",
        TimerKind::Due => "deadline.due",
        TimerKind::Overdue { .. } => "deadline.overdue",
        TimerKind::Escalation { .. } => "deadline.escalation",
        TimerKind::Expiry { .. } => "deadline.expiry",
    }
}

/// `(… , …)` with `n` numbered placeholders starting after `offset`.
fn placeholders(offset: usize, n: usize) -> String {
    (1..=n)
        .map(|i| format!("${}", offset + i))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    fn skip_locked(&self) -> &'static str {
        match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// Claims the due timers of up to `limit` tasks and fires them: reminders, due and overdue notices of one
    /// task fold into one message saying how late it is; escalations are queued for their roles;
    /// the next overdue repeat is planned after `now`; automatic transitions are returned as
    /// leased jobs. Returns what it did; `fired == 0` means nothing was due.
    pub async fn fire_due_timers(
        &self,
        owner: &str,
        now: Instant,
        limit: i64,
        lease: TimeDelta,
    ) -> Result<FireReport, StoreError> {
        let now = micros(now);
        // Claims whole tasks, not single timers, so that all the due timers of one task are
        // fired together and fold into one message even with several instances: PostgreSQL
        // locks the task rows (skipping those another instance holds) for the transaction,
        // which also keeps a user's transition on the task waiting until the firing commits.
        // The locking query is a CTE so that it runs exactly once: as a subquery of the UPDATE
        // it could be re-evaluated and claim only part of a task's timers.
        let claim_sql = format!(
            "WITH claim AS (SELECT t.id FROM tasks t WHERE t.id IN (\
                 SELECT m.task_id FROM timers m WHERE m.status = 'pending' AND m.fire_at <= $3 \
                 AND (m.lease_until IS NULL OR m.lease_until < $3) ORDER BY m.fire_at LIMIT $5) \
             LIMIT $4{}) \
             UPDATE timers SET lease_owner = $1, lease_until = $2 \
             WHERE status = 'pending' AND fire_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
             AND task_id IN (SELECT id FROM claim) \
             RETURNING id, task_id, state, kind, spec, fire_at, due_at",
            match self.backend() {
                Backend::Postgres => " FOR UPDATE OF t SKIP LOCKED",
                Backend::Sqlite => "",
            }
        );
        let mut report = FireReport::default();
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(claim_sql.clone()))
                .bind(owner)
                .bind(now + lease)
                .bind(now)
                .bind(limit)
                // The earliest due timers, enough to find `limit` tasks that no other instance
                // holds: scanning every due timer on each batch would make a backlog quadratic.
                .bind(limit.saturating_mul(20))
                .fetch_all(&mut *tx)
                .await?;
            report.claimed = rows.len();
            let mut claimed = Vec::with_capacity(rows.len());
            for r in &rows {
                let spec: String = r.try_get("spec")?;
                let kind: TimerKind = serde_json::from_str(&spec)
                    .map_err(|e| sqlx::Error::Decode(format!("timers.spec: {e}").into()))?;
                claimed.push(Claimed {
                    id: r.try_get("id")?,
                    task_id: r.try_get("task_id")?,
                    state: r.try_get("state")?,
                    kind,
                    fire_at: r.try_get("fire_at")?,
                    due_at: r.try_get("due_at")?,
                });
            }
            if claimed.is_empty() {
                tx.commit().await?;
                return Ok(report);
            }
            // Where each task is now, to drop timers of a state it already left.
            let mut task_ids: Vec<&str> = claimed.iter().map(|c| c.task_id.as_str()).collect();
            task_ids.sort_unstable();
            task_ids.dedup();
            let mut tasks: BTreeMap<String, Whereabouts> = BTreeMap::new();
            for chunk in task_ids.chunks(500) {
                let sql = format!(
                    "SELECT id, name, unit_id, state, workflow, workflow_version FROM tasks WHERE id IN ({})",
                    placeholders(0, chunk.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&mut *tx).await? {
                    tasks.insert(
                        r.try_get("id")?,
                        Whereabouts {
                            name: r.try_get("name")?,
                            unit: r.try_get("unit_id")?,
                            state: r.try_get("state")?,
                            workflow: r.try_get("workflow")?,
                            workflow_version: r.try_get("workflow_version")?,
                        },
                    );
                }
            }
            let mut fired: Vec<&str> = Vec::new();
            let mut stale: Vec<&str> = Vec::new();
            let mut outbox: Vec<(Option<String>, &'static str, serde_json::Value)> = Vec::new();
            let mut next_timers: Vec<(String, String, String, TimerKind, Instant, Instant)> =
                Vec::new();
            let mut by_task: BTreeMap<&str, Vec<&Claimed>> = BTreeMap::new();
            for c in &claimed {
                by_task.entry(c.task_id.as_str()).or_default().push(c);
            }
            for (task_id, timers) in by_task {
                let Some(Whereabouts {
                    name,
                    unit,
                    state,
                    workflow,
                    workflow_version,
                }) = tasks.get(task_id)
                else {
                    continue;
                };
                let wf = self.catalog().get(
                    workflow,
                    u32::try_from(*workflow_version).unwrap_or_default(),
                );
                let turn_roles: Vec<Role> = wf
                    .and_then(|w| w.state(state))
                    .map(|s| s.roles.clone())
                    .unwrap_or_default();
                let (current, left): (Vec<&Claimed>, Vec<&Claimed>) =
                    timers.into_iter().partition(|c| &c.state == state);
                stale.extend(left.iter().map(|c| c.id.as_str()));
                // Reminders, due and overdue notices fold into the most advanced one.
                let deadline: Vec<&&Claimed> =
                    current.iter().filter(|c| severity(&c.kind) > 0).collect();
                if let Some(top) = deadline
                    .iter()
                    .max_by_key(|c| (severity(&c.kind), c.fire_at))
                {
                    let earliest = deadline
                        .iter()
                        .map(|c| c.fire_at)
                        .min()
                        .unwrap_or(top.fire_at);
                    outbox.push((
                        Some(task_id.to_string()),
                        template_of(&top.kind),
                        json!({
                            "task_id": task_id, "task_name": name, "unit_id": unit, "state": state,
                            "roles": turn_roles, "timer": top.kind, "missed": deadline.len() - 1,
                            "fire_at": earliest, "due_at": top.due_at, "fired_at": now,
                        }),
                    ));
                    fired.extend(deadline.iter().map(|c| c.id.as_str()));
                }
                for c in &current {
                    match &c.kind {
                        TimerKind::Escalation { to } => {
                            outbox.push((
                                Some(task_id.to_string()),
                                "deadline.escalation",
                                json!({
                                    "task_id": task_id, "task_name": name, "unit_id": unit, "state": state,
                                    "roles": to, "timer": c.kind, "fire_at": c.fire_at, "due_at": c.due_at, "fired_at": now,
                                }),
                            ));
                            fired.push(&c.id);
                        }
                        TimerKind::Expiry { transition } => report.expiries.push(ExpiryJob {
                            timer_id: c.id.clone(),
                            task_id: task_id.to_string(),
                            transition: transition.clone(),
                        }),
                        TimerKind::Overdue { every } => {
                            // The next repeat after now: after downtime, missed repeats are
                            // not queued one by one.
                            let calendar = wf.map(|w| w.calendar.clone());
                            let amount: Amount = (*every).into();
                            let mut next = c.fire_at;
                            if let Some(cal) = calendar {
                                for _ in 0..10_000 {
                                    match amount.after(&cal, next) {
                                        Ok(n) if n > next => next = n,
                                        _ => break,
                                    }
                                    if next > now {
                                        break;
                                    }
                                }
                            }
                            if next > now {
                                next_timers.push((
                                    new_id(),
                                    task_id.to_string(),
                                    c.state.clone(),
                                    c.kind.clone(),
                                    next,
                                    c.due_at,
                                ));
                            }
                        }
                        _ => {}
                    }
                }
            }
            for chunk in fired.chunks(500) {
                let sql = format!(
                    "UPDATE timers SET status = 'fired', fired_at = $1, lease_until = NULL WHERE lease_owner = $2 AND status = 'pending' AND id IN ({})",
                    placeholders(2, chunk.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(owner);
                for id in chunk {
                    q = q.bind(*id);
                }
                report.fired +=
                    usize::try_from(q.execute(&mut *tx).await?.rows_affected()).unwrap_or(0);
            }
            for chunk in stale.chunks(500) {
                let sql = format!(
                    "UPDATE timers SET status = 'cancelled', lease_until = NULL WHERE lease_owner = $1 AND status = 'pending' AND id IN ({})",
                    placeholders(1, chunk.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner);
                for id in chunk {
                    q = q.bind(*id);
                }
                report.stale +=
                    usize::try_from(q.execute(&mut *tx).await?.rows_affected()).unwrap_or(0);
            }
            for chunk in outbox.chunks(200) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        format!(
                            "({}, 'pending', 0, ${}, ${})",
                            placeholders(i * 6, 4),
                            i * 6 + 5,
                            i * 6 + 6
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at) VALUES {}",
                    values.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (task, template, payload) in chunk {
                    q = q
                        .bind(new_id())
                        .bind(task.clone())
                        .bind(*template)
                        .bind(payload.to_string())
                        .bind(now)
                        .bind(now);
                }
                q.execute(&mut *tx).await?;
                report.queued += chunk.len();
            }
            for chunk in next_timers.chunks(200) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| format!("({}, 'pending', ${})", placeholders(i * 8, 7), i * 8 + 8))
                    .collect();
                let sql = format!(
                    "INSERT INTO timers (id, task_id, state, kind, spec, fire_at, due_at, status, created_at) VALUES {}",
                    values.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, task, state, kind, fire_at, due_at) in chunk {
                    q = q
                        .bind(id.clone())
                        .bind(task.clone())
                        .bind(state.clone())
                        .bind("overdue")
                        .bind(serde_json::to_string(kind).unwrap_or_default())
                        .bind(micros(*fire_at))
                        .bind(*due_at)
                        .bind(now);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(report)
    }

    /// How many pending timers are due at `now` (the scheduler's backlog).
    pub async fn due_timers(&self, now: Instant) -> Result<i64, StoreError> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM timers WHERE status = 'pending' AND fire_at <= $1",
            )
            .bind(micros(now))
            .fetch_one(pool)
            .await?
        }))
    }

    /// Marks an automatic-transition timer done once its transition was taken (or refused).
    pub async fn finish_expiry(
        &self,
        timer_id: &str,
        owner: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        with_db!(self, |pool| {
            sqlx::query("UPDATE timers SET status = 'fired', fired_at = $1, lease_until = NULL WHERE id = $2 AND lease_owner = $3")
                .bind(micros(now))
                .bind(timer_id)
                .bind(owner)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Queues a stall alert for every task that has not moved for its workflow's stall period
    /// (or `default_days` working days) and was not yet alerted at its current version.
    /// Postponed tasks are parked on purpose and are not stalled. Returns how many were queued.
    pub async fn alert_stalled(
        &self,
        now: Instant,
        default_days: u32,
    ) -> Result<usize, StoreError> {
        let now = micros(now);
        let min_days = self
            .catalog()
            .workflows()
            .filter_map(|w| w.stall_after_working_days)
            .chain([default_days])
            .min()
            .unwrap_or(default_days);
        // N working days cannot pass in fewer than N calendar days: a cheap filter first.
        let cutoff = now - TimeDelta::days(i64::from(min_days));
        let candidates: Vec<Idle> = with_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT t.id, t.name, t.unit_id, t.state, t.workflow, t.workflow_version, t.version, t.state_entered_at FROM tasks t \
                 WHERE t.phase NOT IN ('completed', 'withdrawn', 'postponed') AND t.state_entered_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM stall_alerts s WHERE s.task_id = t.id AND s.version = t.version)",
            )
            .bind(cutoff)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(Idle {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    unit: r.try_get("unit_id")?,
                    state: r.try_get("state")?,
                    workflow: r.try_get("workflow")?,
                    workflow_version: r.try_get("workflow_version")?,
                    version: r.try_get("version")?,
                    entered: r.try_get("state_entered_at")?,
                });
            }
            out
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
            let Some(wf) = self.catalog().get(
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
            let inserted = with_db!(self, |pool| {
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

    /// Records that cron slot `slot` of schedule `name` runs here; false if another instance
    /// already took it.
    pub async fn claim_schedule_slot(
        &self,
        name: &str,
        slot: Instant,
        owner: &str,
        outcome: &str,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let n = with_db!(self, |pool| {
            sqlx::query(
                "INSERT INTO schedule_runs (name, slot, owner, outcome, ran_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, slot) DO NOTHING",
            )
            .bind(name)
            .bind(micros(slot))
            .bind(owner)
            .bind(outcome)
            .bind(micros(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Takes or renews the named lease until `until`; false while another owner holds it.
    pub async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        until: Instant,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let n = with_db!(self, |pool| {
            sqlx::query(
                "INSERT INTO leases (name, owner, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until \
                 WHERE leases.until < $4 OR leases.owner = excluded.owner",
            )
            .bind(name)
            .bind(owner)
            .bind(micros(until))
            .bind(micros(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Queues a message not tied to one task (digests).
    pub async fn enqueue(
        &self,
        task_id: Option<&str>,
        template: &str,
        payload: &serde_json::Value,
        now: Instant,
    ) -> Result<String, StoreError> {
        let id = new_id();
        let now = micros(now);
        with_db!(self, |pool| {
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
        Ok(with_db!(self, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(now + lease)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let payload: String = r.try_get("payload")?;
                out.push(OutboxJob {
                    id: r.try_get("id")?,
                    task_id: r.try_get("task_id")?,
                    template: r.try_get("template")?,
                    payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                    attempts: r.try_get("attempts")?,
                    created_at: r.try_get("created_at")?,
                });
            }
            out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
            out
        }))
    }

    /// Records the outcome of a send attempt. `status` is `sent`, `skipped` (no recipient), or
    /// `pending` / `dead` after a failure (`next_attempt_at` for the retry).
    #[allow(clippy::too_many_arguments)]
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
        with_db!(self, |pool| {
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

    /// Outbox rows for operators, newest first; `status` filters.
    pub async fn outbox(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        Ok(with_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT id, task_id, template, status, attempts, next_attempt_at, last_error, recipients, message_id, created_at, sent_at \
                 FROM outbox WHERE ($1 IS NULL OR status = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
            )
            .bind(status)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(OutboxEntry {
                    id: r.try_get("id")?,
                    task_id: r.try_get("task_id")?,
                    template: r.try_get("template")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    last_error: r.try_get("last_error")?,
                    recipients: r.try_get("recipients")?,
                    message_id: r.try_get("message_id")?,
                    created_at: r.try_get("created_at")?,
                    sent_at: r.try_get("sent_at")?,
                });
            }
            out
        }))
    }

    /// Puts dead or skipped messages back in the queue (all of them, or one by id); returns how many.
    pub async fn retry_outbox(&self, id: Option<&str>, now: Instant) -> Result<u64, StoreError> {
        Ok(with_db!(self, |pool| {
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
