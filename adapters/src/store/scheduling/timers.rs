//! Firing due timers, and taking the automatic transitions they ask for.
//!
//! A batch is one transaction, in five steps: [`claim_due`] takes the due timers of whole tasks
//! with a lease; [`whereabouts`] reads where each of those tasks is now; [`Firing::plan`] decides,
//! without touching the database, what each timer becomes (a message, folded into another's, an
//! automatic transition, the next overdue repeat, or stale because the task left its state);
//! then the timers are marked ([`mark_fired`], [`cancel_stale`]) and the messages and repeats
//! are written ([`Firing::write`]).

use std::collections::BTreeMap;

use chrono::TimeDelta;
use engine::Role;
use engine::decide::{Actor, TimerKind};
use engine::time::Instant;
use engine::workflow::{Amount, Catalog, Workflow};
use serde_json::json;

use super::super::decode::Json;
use super::super::sql::{Arg, Conn, NewMessage, NewTimer, insert_messages, insert_timers};
use super::super::tasks::{Step, transition};
use super::super::{Backend, Expected, StoreError, TransitionOutcome, micros, new_id, with_db};
use super::{ExpiryJob, FireReport, Scheduling, Whereabouts};

/// A timer claimed by this instance.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Claimed {
    id: String,
    task_id: String,
    state: String,
    #[sqlx(rename = "spec", try_from = "Json<TimerKind>")]
    kind: TimerKind,
    fire_at: Instant,
    due_at: Instant,
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

/// `$k, $k+1, …` for `n` placeholders after the first `offset`.
fn placeholders(offset: usize, n: usize) -> String {
    (1..=n)
        .map(|i| format!("${}", offset + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Statements binding a list of ids carry at most this many.
const IDS_PER_STATEMENT: usize = 500;

/// Claims whole tasks, not single timers, so that all the due timers of one task are fired
/// together and fold into one message even with several instances: PostgreSQL locks the task
/// rows (skipping those another instance holds) for the transaction, which also keeps a user's
/// transition on the task waiting until the firing commits. The locking query is a CTE so that
/// it runs exactly once: as a subquery of the UPDATE it could be re-evaluated and claim only
/// part of a task's timers.
async fn claim_due(
    conn: &mut Conn<'_>,
    backend: Backend,
    owner: &str,
    now: Instant,
    limit: i64,
    lease: TimeDelta,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let sql = format!(
        "WITH claim AS (SELECT t.id FROM tasks t WHERE t.id IN (\
             SELECT m.task_id FROM timers m WHERE m.status = 'pending' AND m.fire_at <= $3 \
             AND (m.lease_until IS NULL OR m.lease_until < $3) ORDER BY m.fire_at LIMIT $5) \
         LIMIT $4{}) \
         UPDATE timers SET lease_owner = $1, lease_until = $2 \
         WHERE status = 'pending' AND fire_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
         AND task_id IN (SELECT id FROM claim) \
         RETURNING id, task_id, state, kind, spec, fire_at, due_at",
        match backend {
            Backend::Postgres => " FOR UPDATE OF t SKIP LOCKED",
            Backend::Sqlite => "",
        }
    );
    conn.fetch_all(
        &sql,
        &[
            Arg::Str(owner),
            Arg::Time(now + lease),
            Arg::Time(now),
            Arg::Int(limit),
            // The earliest due timers, enough to find `limit` tasks that no other instance
            // holds: scanning every due timer on each batch would make a backlog quadratic.
            Arg::Int(limit.saturating_mul(20)),
        ],
    )
    .await
}

/// Where each task with claimed timers is now, by id.
async fn whereabouts(
    conn: &mut Conn<'_>,
    claimed: &[Claimed],
) -> Result<BTreeMap<String, Whereabouts>, sqlx::Error> {
    let mut ids: Vec<&str> = claimed.iter().map(|c| c.task_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let sql = format!(
            "SELECT t.id, t.name, t.unit_id, t.state, t.workflow, t.workflow_version, t.funding_source, t.own_fund, \
             (SELECT MAX(b.need_total_vnd) FROM budget_lines b WHERE b.task_id = t.id) AS amount_vnd \
             FROM tasks t WHERE t.id IN ({})",
            placeholders(0, chunk.len())
        );
        let args: Vec<Arg<'_>> = chunk.iter().map(|id| Arg::Str(id)).collect();
        for w in conn.fetch_all::<Whereabouts>(&sql, &args).await? {
            out.insert(w.id.clone(), w);
        }
    }
    Ok(out)
}

/// Marks timers fired; returns how many were still this instance's to mark.
async fn mark_fired(
    conn: &mut Conn<'_>,
    owner: &str,
    ids: &[&str],
    now: Instant,
) -> Result<usize, sqlx::Error> {
    let mut n = 0;
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let sql = format!(
            "UPDATE timers SET status = 'fired', fired_at = $1, lease_until = NULL WHERE lease_owner = $2 AND status = 'pending' AND id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut args = vec![Arg::Time(now), Arg::Str(owner)];
        args.extend(chunk.iter().map(|id| Arg::Str(id)));
        n += usize::try_from(conn.execute(&sql, &args).await?).unwrap_or(0);
    }
    Ok(n)
}

/// Cancels timers of a state their task has left; returns how many.
async fn cancel_stale(
    conn: &mut Conn<'_>,
    owner: &str,
    ids: &[&str],
) -> Result<usize, sqlx::Error> {
    let mut n = 0;
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let sql = format!(
            "UPDATE timers SET status = 'cancelled', lease_until = NULL WHERE lease_owner = $1 AND status = 'pending' AND id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut args = vec![Arg::Str(owner)];
        args.extend(chunk.iter().map(|id| Arg::Str(id)));
        n += usize::try_from(conn.execute(&sql, &args).await?).unwrap_or(0);
    }
    Ok(n)
}

/// A message to queue.
struct Message {
    task_id: String,
    template: &'static str,
    payload: serde_json::Value,
}

/// The next overdue repeat to plan.
struct Repeat {
    task_id: String,
    state: String,
    kind: TimerKind,
    fire_at: Instant,
    due_at: Instant,
}

/// What a batch of claimed timers becomes.
#[derive(Default)]
struct Firing<'c> {
    fired: Vec<&'c str>,
    stale: Vec<&'c str>,
    messages: Vec<Message>,
    repeats: Vec<Repeat>,
    expiries: Vec<ExpiryJob>,
}

impl<'c> Firing<'c> {
    /// Decides, task by task, what each claimed timer becomes. Timers of a task that no longer
    /// exists are left alone (their lease runs out).
    fn plan(
        catalog: &Catalog,
        claimed: &'c [Claimed],
        tasks: &BTreeMap<String, Whereabouts>,
        now: Instant,
    ) -> Firing<'c> {
        let mut by_task: BTreeMap<&str, Vec<&Claimed>> = BTreeMap::new();
        for c in claimed {
            by_task.entry(c.task_id.as_str()).or_default().push(c);
        }
        let mut f = Firing::default();
        for (task_id, timers) in by_task {
            let Some(task) = tasks.get(task_id) else {
                continue;
            };
            f.task(task, timers, task.workflow(catalog), now);
        }
        f
    }

    /// One task's due timers: those of a state it left are stale; reminders, due and overdue
    /// notices fold into one message; escalations, expiries and overdue repeats follow.
    fn task(
        &mut self,
        task: &Whereabouts,
        timers: Vec<&'c Claimed>,
        wf: Option<&Workflow>,
        now: Instant,
    ) {
        let (current, left): (Vec<&Claimed>, Vec<&Claimed>) =
            timers.into_iter().partition(|c| c.state == task.state);
        self.stale.extend(left.iter().map(|c| c.id.as_str()));
        // After downtime, an automatic transition on expiry and the timers meant to fire after
        // it can be due together: had the scheduler been running, the transition would have
        // cancelled those (it leaves the state). Cancel them now, before anything is sent.
        let expires_at = current
            .iter()
            .filter(|c| matches!(c.kind, TimerKind::Expiry { .. }))
            .map(|c| c.fire_at)
            .min();
        let (current, after): (Vec<&Claimed>, Vec<&Claimed>) = current.into_iter().partition(|c| {
            expires_at.is_none_or(|e| c.fire_at <= e || matches!(c.kind, TimerKind::Expiry { .. }))
        });
        self.stale.extend(after.iter().map(|c| c.id.as_str()));
        // Whose turn it is, resolved for this task when an approval authority decides it.
        let (turn_roles, turn_unit) = task.turn(wf);
        self.fold_deadline(task, &current, &turn_roles, &turn_unit, now);
        for c in &current {
            match &c.kind {
                TimerKind::Escalation { to } => {
                    // The departments holding the ball: their leadership (`lanh_dao_so`) hears.
                    let departments: Vec<Role> = turn_roles
                        .iter()
                        .copied()
                        .filter(|r| r.is_appraiser())
                        .collect();
                    self.messages.push(Message {
                        task_id: task.id.clone(),
                        template: "deadline.escalation",
                        payload: json!({
                            "task_id": task.id, "task_name": task.name, "unit_id": task.unit, "state": task.state,
                            "roles": to, "departments": departments, "timer": c.kind, "fire_at": c.fire_at,
                            "due_at": c.due_at, "fired_at": now,
                        }),
                    });
                    self.fired.push(&c.id);
                }
                TimerKind::Expiry { transition } => self.expiries.push(ExpiryJob {
                    timer_id: c.id.clone(),
                    task_id: task.id.clone(),
                    transition: transition.clone(),
                }),
                TimerKind::Overdue { every } => {
                    if let Some(next) = next_repeat(wf, (*every).into(), c.fire_at, now) {
                        self.repeats.push(Repeat {
                            task_id: task.id.clone(),
                            state: c.state.clone(),
                            kind: c.kind.clone(),
                            fire_at: next,
                            due_at: c.due_at,
                        });
                    }
                }
                _ => {}
            }
        }
    }

    /// Reminders, due and overdue notices of one task fold into one message, the most advanced
    /// one, saying how many were missed and since when.
    fn fold_deadline(
        &mut self,
        task: &Whereabouts,
        current: &[&'c Claimed],
        turn_roles: &[Role],
        turn_unit: &str,
        now: Instant,
    ) {
        let deadline: Vec<&&Claimed> = current.iter().filter(|c| severity(&c.kind) > 0).collect();
        let Some(top) = deadline
            .iter()
            .max_by_key(|c| (severity(&c.kind), c.fire_at))
        else {
            return;
        };
        let earliest = deadline
            .iter()
            .map(|c| c.fire_at)
            .min()
            .unwrap_or(top.fire_at);
        self.messages.push(Message {
            task_id: task.id.clone(),
            template: template_of(&top.kind),
            payload: json!({
                "task_id": task.id, "task_name": task.name, "unit_id": turn_unit, "state": task.state,
                "roles": turn_roles, "timer": top.kind, "missed": deadline.len() - 1,
                "fire_at": earliest, "due_at": top.due_at, "fired_at": now,
            }),
        });
        self.fired.extend(deadline.iter().map(|c| c.id.as_str()));
    }

    /// Queues the messages and plans the repeats; returns how many messages were queued.
    async fn write(&self, conn: &mut Conn<'_>, now: Instant) -> Result<usize, sqlx::Error> {
        let ids: Vec<String> = self.messages.iter().map(|_| new_id()).collect();
        let payloads: Vec<String> = self
            .messages
            .iter()
            .map(|m| m.payload.to_string())
            .collect();
        let messages: Vec<NewMessage<'_>> = self
            .messages
            .iter()
            .zip(ids.iter().zip(&payloads))
            .map(|(m, (id, payload))| NewMessage {
                id,
                task_id: Some(&m.task_id),
                template: m.template,
                payload,
            })
            .collect();
        insert_messages(conn, &messages, now).await?;
        let ids: Vec<String> = self.repeats.iter().map(|_| new_id()).collect();
        let specs: Vec<String> = self
            .repeats
            .iter()
            .map(|r| serde_json::to_string(&r.kind).unwrap_or_default())
            .collect();
        let timers: Vec<NewTimer<'_>> = self
            .repeats
            .iter()
            .zip(ids.iter().zip(&specs))
            .map(|(r, (id, spec))| NewTimer {
                id,
                task_id: &r.task_id,
                state: &r.state,
                kind: "overdue",
                spec,
                fire_at: r.fire_at,
                due_at: r.due_at,
            })
            .collect();
        insert_timers(conn, &timers, now).await?;
        Ok(messages.len())
    }
}

/// The next overdue repeat after `now`, counted from `from` in steps of `every` on the
/// workflow's calendar: after downtime, missed repeats are not queued one by one. `None` when
/// the calendar cannot count that far (or the workflow is gone).
fn next_repeat(
    wf: Option<&Workflow>,
    every: Amount,
    from: Instant,
    now: Instant,
) -> Option<Instant> {
    let calendar = &wf?.calendar;
    let mut next = from;
    for _ in 0..10_000 {
        match every.after(calendar, next) {
            Ok(n) if n > next => next = n,
            _ => break,
        }
        if next > now {
            break;
        }
    }
    (next > now).then_some(next)
}

impl Scheduling<'_> {
    /// Claims the due timers of up to `limit` tasks and fires them, in one transaction:
    /// reminders, due and overdue notices of one task fold into one message saying how late it
    /// is; escalations are queued for their roles; the next overdue repeat is planned after
    /// `now`; automatic transitions are returned as leased jobs. Returns what it did;
    /// `claimed == 0` means nothing was due.
    #[tracing::instrument(skip_all, fields(owner = %owner, limit = limit))]
    pub async fn fire_due_timers(
        &self,
        owner: &str,
        now: Instant,
        limit: i64,
        lease: TimeDelta,
    ) -> Result<FireReport, StoreError> {
        let now = micros(now);
        let backend = self.store.backend();
        let catalog = self.store.catalog();
        let mut report = FireReport::default();
        with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            let claimed = claim_due(&mut conn, backend, owner, now, limit, lease).await?;
            report.claimed = claimed.len();
            if !claimed.is_empty() {
                let tasks = whereabouts(&mut conn, &claimed).await?;
                let firing = Firing::plan(catalog, &claimed, &tasks, now);
                report.fired = mark_fired(&mut conn, owner, &firing.fired, now).await?;
                report.stale = cancel_stale(&mut conn, owner, &firing.stale).await?;
                report.queued = firing.write(&mut conn, now).await?;
                report.expiries = firing.expiries;
            }
            tx.commit().await?;
        });
        Ok(report)
    }

    /// How many pending timers are due at `now` (the scheduler's backlog).
    #[tracing::instrument(skip_all)]
    pub async fn due_timers(&self, now: Instant) -> Result<i64, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM timers WHERE status = 'pending' AND fire_at <= $1",
            )
            .bind(micros(now))
            .fetch_one(pool)
            .await?
        }))
    }

    /// Takes an automatic transition on expiry through `decide`, like any other, as the
    /// system. A retry after a crash replays (the timer id is the idempotency key) instead of
    /// acting twice.
    #[tracing::instrument(skip_all, fields(task = %job.task_id, transition = %job.transition))]
    pub async fn expire(
        &self,
        job: &ExpiryJob,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        let key = format!("expiry:{}", job.timer_id);
        let step = Step {
            task_id: &job.task_id,
            transition: &job.transition,
            comment: Some("Tự động chuyển bước khi hết thời hạn"),
            document_ids: &[],
            expected: &Expected::Any,
            idempotency_key: Some(&key),
            automatic: true,
        };
        transition(self.store, None, &step, &Actor::system(), now).await
    }

    /// Marks an automatic-transition timer done once its transition was taken (or refused).
    #[tracing::instrument(skip_all, fields(timer = %timer_id))]
    pub async fn finish_expiry(
        &self,
        timer_id: &str,
        owner: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        with_db!(self.store, |pool| {
            sqlx::query("UPDATE timers SET status = 'fired', fired_at = $1, lease_until = NULL WHERE id = $2 AND lease_owner = $3")
                .bind(micros(now))
                .bind(timer_id)
                .bind(owner)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
