//! Firing due timers, and taking the automatic transitions they ask for.
//!
//! A batch is one transaction, in four steps: [`lock_tasks`] locks whole tasks with due timers
//! and reads where each is now; [`due_timers_of`] reads their due timers; [`Firing::plan`]
//! decides, without touching the database, what each timer becomes (a message, folded into
//! another's, an automatic transition, the next overdue repeat, or stale because the task left
//! its state); then one write settles every timer (each row written once), queues the messages
//! and plans the repeats: one statement with arrays on PostgreSQL ([`SETTLE_POSTGRES`]), a few
//! multi-row statements on SQLite ([`Firing::write_sqlite`]).

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

/// Locks up to `limit` tasks that have due timers no live lease holds, and reads where each is
/// now. Whole tasks, not single timers, so that all the due timers of one task are fired
/// together and fold into one message even with several instances: PostgreSQL locks the task
/// rows (skipping those another instance holds) until the batch commits, which also keeps a
/// user's transition on the task waiting until the firing commits. The columns come from the
/// locking query itself, so they are the rows as locked (the newest versions), not an older
/// snapshot's.
async fn lock_tasks(
    conn: &mut Conn<'_>,
    backend: Backend,
    now: Instant,
    limit: i64,
) -> Result<Vec<Whereabouts>, sqlx::Error> {
    let sql = format!(
        "WITH claim AS (SELECT t.id, t.name, t.unit_id, t.state, t.workflow, t.workflow_version, \
             t.funding_source, t.own_fund FROM tasks t WHERE t.id IN (\
             SELECT m.task_id FROM timers m WHERE m.status = 'pending' AND m.fire_at <= $1 \
             AND (m.lease_until IS NULL OR m.lease_until < $1) ORDER BY m.fire_at LIMIT $3) \
         LIMIT $2{}) \
         SELECT c.id, c.name, c.unit_id, c.state, c.workflow, c.workflow_version, c.funding_source, c.own_fund, \
         (SELECT MAX(b.need_total_vnd) FROM budget_lines b WHERE b.task_id = c.id) AS amount_vnd FROM claim c",
        match backend {
            Backend::Postgres => " FOR UPDATE OF t SKIP LOCKED",
            Backend::Sqlite => "",
        }
    );
    conn.fetch_all(
        &sql,
        &[
            Arg::Time(now),
            Arg::Int(limit),
            // The earliest due timers, enough to find `limit` tasks that no other instance
            // holds: scanning every due timer on each batch would make a backlog quadratic.
            Arg::Int(limit.saturating_mul(20)),
        ],
    )
    .await
}

/// The due timers of the locked tasks that no live lease holds. A statement of its own, after
/// the locks: it sees everything committed before them, so a timer another instance fired
/// while this one waited for the lock is not read as still pending.
async fn due_timers_of(
    conn: &mut Conn<'_>,
    tasks: &[Whereabouts],
    now: Instant,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in tasks.chunks(IDS_PER_STATEMENT) {
        let sql = format!(
            "SELECT id, task_id, state, kind, spec, fire_at, due_at FROM timers \
             WHERE status = 'pending' AND fire_at <= $1 AND (lease_until IS NULL OR lease_until < $1) \
             AND task_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut args = vec![Arg::Time(now)];
        args.extend(chunk.iter().map(|t| Arg::Str(&t.id)));
        out.extend(conn.fetch_all::<Claimed>(&sql, &args).await?);
    }
    Ok(out)
}

/// Sets what each timer became on SQLite, one statement per outcome and 500 ids: `fired`,
/// `cancelled` (stale), or still pending under this instance's lease (an automatic transition
/// to take). Returns how many rows changed. This transaction is SQLite's only writer (it began
/// IMMEDIATE), so every timer it read as pending still is.
async fn settle_sqlite(
    conn: &mut Conn<'_>,
    owner: &str,
    firing: &Firing<'_>,
    now: Instant,
    lease_until: Instant,
) -> Result<usize, sqlx::Error> {
    let leased: Vec<&str> = firing
        .expiries
        .iter()
        .map(|j| j.timer_id.as_str())
        .collect();
    let mut n = 0;
    for (ids, set, value) in [
        (
            &firing.fired,
            "status = 'fired', lease_until = NULL, fired_at = ",
            Some(now),
        ),
        (
            &firing.stale,
            "status = 'cancelled', lease_until = NULL",
            None,
        ),
        (&leased, "lease_until = ", Some(lease_until)),
    ] {
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut args = vec![Arg::Str(owner)];
            let set = match value {
                Some(v) => {
                    args.push(Arg::Time(v));
                    format!("{set}$2")
                }
                None => set.to_string(),
            };
            let sql = format!(
                "UPDATE timers SET lease_owner = $1, {set} WHERE status = 'pending' AND id IN ({})",
                placeholders(args.len(), chunk.len())
            );
            args.extend(chunk.iter().map(|id| Arg::Str(id)));
            n += usize::try_from(conn.execute(&sql, &args).await?).unwrap_or(0);
        }
    }
    Ok(n)
}

/// On PostgreSQL the whole outcome of a batch is one statement: every claimed timer set to what
/// it became (`fired`; `cancelled`; still pending under this instance's lease for an automatic
/// transition), the messages queued and the overdue repeats planned, each list bound as one
/// array. A timer is only set if it is still pending and no live lease holds it; the counts
/// returned let the caller check that each one was.
const SETTLE_POSTGRES: &str = "WITH marked AS (\
        UPDATE timers u SET status = x.status, lease_owner = $2, \
            fired_at = CASE WHEN x.status = 'fired' THEN $1 ELSE u.fired_at END, \
            lease_until = CASE WHEN x.status = 'pending' THEN $3 END \
        FROM UNNEST($4::text[], $5::text[]) AS x(id, status) \
        WHERE u.id = x.id AND u.status = 'pending' AND (u.lease_until IS NULL OR u.lease_until < $1) \
        RETURNING 1), \
    queued AS (\
        INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at) \
        SELECT q.id, q.task_id, q.template, q.payload, 'pending', 0, $1, $1 \
        FROM UNNEST($6::text[], $7::text[], $8::text[], $9::text[]) AS q(id, task_id, template, payload) \
        RETURNING 1), \
    planned AS (\
        INSERT INTO timers (id, task_id, state, kind, spec, fire_at, due_at, status, created_at) \
        SELECT r.id, r.task_id, r.state, 'overdue', r.spec, r.fire_at, r.due_at, 'pending', $1 \
        FROM UNNEST($10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[], $15::timestamptz[]) \
            AS r(id, task_id, state, spec, fire_at, due_at) \
        RETURNING 1) \
    SELECT (SELECT COUNT(*) FROM marked), (SELECT COUNT(*) FROM queued), (SELECT COUNT(*) FROM planned)";

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

    /// The rows this batch writes: new ids, payloads and specs, owned.
    fn rows(&self) -> Rows {
        Rows {
            message_ids: self.messages.iter().map(|_| new_id()).collect(),
            payloads: self
                .messages
                .iter()
                .map(|m| m.payload.to_string())
                .collect(),
            repeat_ids: self.repeats.iter().map(|_| new_id()).collect(),
            specs: self
                .repeats
                .iter()
                .map(|r| serde_json::to_string(&r.kind).unwrap_or_default())
                .collect(),
        }
    }

    /// How many timer rows the batch settles: fired, cancelled, or leased for an expiry.
    fn settled(&self) -> usize {
        self.fired.len() + self.stale.len() + self.expiries.len()
    }

    /// Writes the batch on PostgreSQL in one statement ([`SETTLE_POSTGRES`]); returns the
    /// timers settled, messages queued and repeats planned.
    async fn write_postgres(
        &self,
        conn: &mut sqlx::PgConnection,
        owner: &str,
        now: Instant,
        lease_until: Instant,
    ) -> Result<(usize, usize, usize), sqlx::Error> {
        let rows = self.rows();
        let mut ids: Vec<&str> = Vec::with_capacity(self.settled());
        let mut statuses: Vec<&str> = Vec::with_capacity(self.settled());
        for (list, status) in [(&self.fired, "fired"), (&self.stale, "cancelled")] {
            ids.extend(list.iter().copied());
            statuses.extend(list.iter().map(|_| status));
        }
        for j in &self.expiries {
            ids.push(&j.timer_id);
            statuses.push("pending");
        }
        let (marked, queued, planned): (i64, i64, i64) = sqlx::query_as(SETTLE_POSTGRES)
            .bind(now)
            .bind(owner)
            .bind(lease_until)
            .bind(ids)
            .bind(statuses)
            .bind(&rows.message_ids)
            .bind(
                self.messages
                    .iter()
                    .map(|m| m.task_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(self.messages.iter().map(|m| m.template).collect::<Vec<_>>())
            .bind(&rows.payloads)
            .bind(&rows.repeat_ids)
            .bind(
                self.repeats
                    .iter()
                    .map(|r| r.task_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                self.repeats
                    .iter()
                    .map(|r| r.state.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(&rows.specs)
            .bind(
                self.repeats
                    .iter()
                    .map(|r| micros(r.fire_at))
                    .collect::<Vec<_>>(),
            )
            .bind(
                self.repeats
                    .iter()
                    .map(|r| micros(r.due_at))
                    .collect::<Vec<_>>(),
            )
            .fetch_one(conn)
            .await?;
        let n = |v: i64| usize::try_from(v).unwrap_or(0);
        Ok((n(marked), n(queued), n(planned)))
    }

    /// Writes the batch on SQLite: the timers by outcome, then the messages and the repeats as
    /// multi-row inserts; returns the same counts as [`Firing::write_postgres`].
    async fn write_sqlite(
        &self,
        conn: &mut Conn<'_>,
        owner: &str,
        now: Instant,
        lease_until: Instant,
    ) -> Result<(usize, usize, usize), sqlx::Error> {
        let marked = settle_sqlite(conn, owner, self, now, lease_until).await?;
        let rows = self.rows();
        let messages: Vec<NewMessage<'_>> = self
            .messages
            .iter()
            .zip(rows.message_ids.iter().zip(&rows.payloads))
            .map(|(m, (id, payload))| NewMessage {
                id,
                task_id: Some(&m.task_id),
                template: m.template,
                payload,
            })
            .collect();
        insert_messages(conn, &messages, now).await?;
        let timers: Vec<NewTimer<'_>> = self
            .repeats
            .iter()
            .zip(rows.repeat_ids.iter().zip(&rows.specs))
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
        Ok((marked, messages.len(), timers.len()))
    }
}

/// The new rows of a batch: ids, message payloads and repeat specs.
struct Rows {
    message_ids: Vec<String>,
    payloads: Vec<String>,
    repeat_ids: Vec<String>,
    specs: Vec<String>,
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
    ///
    /// A batch is four round trips whatever its size: lock the tasks, read their due timers,
    /// write everything (one statement on PostgreSQL), commit. Each timer row is written once.
    #[tracing::instrument(skip_all, fields(owner = %owner, limit = limit))]
    pub async fn fire_due_timers(
        &self,
        owner: &str,
        now: Instant,
        limit: i64,
        lease: TimeDelta,
    ) -> Result<FireReport, StoreError> {
        let now = micros(now);
        let lease_until = micros(now + lease);
        // A batch whose timers were not all still pending when written is rolled back and
        // read again (another instance settled one of them in between: an automatic transition
        // finished by an instance whose lease had run out).
        for _ in 0..3 {
            if let Some(report) = self.fire_batch(owner, now, limit, lease_until).await? {
                return Ok(report);
            }
        }
        tracing::warn!("due timers changed under three batches in a row; left for the next pass");
        Ok(FireReport::default())
    }

    /// One batch of [`Scheduling::fire_due_timers`]; `None` when it was rolled back because a
    /// timer it read as pending was no longer.
    async fn fire_batch(
        &self,
        owner: &str,
        now: Instant,
        limit: i64,
        lease_until: Instant,
    ) -> Result<Option<FireReport>, StoreError> {
        let backend = self.store.backend();
        let catalog = self.store.catalog();
        // SQLite: the batch reads before it writes, so it takes the write lock first; a
        // deferred transaction could not upgrade after another writer committed.
        let begin = match backend {
            Backend::Postgres => "BEGIN",
            Backend::Sqlite => "BEGIN IMMEDIATE",
        };
        let mut report = FireReport::default();
        with_db!(self.store, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let mut conn = Conn::from(&mut *tx);
            let tasks = lock_tasks(&mut conn, backend, now, limit).await?;
            let claimed = if tasks.is_empty() {
                Vec::new()
            } else {
                due_timers_of(&mut conn, &tasks, now).await?
            };
            report.claimed = claimed.len();
            if !claimed.is_empty() {
                let tasks: BTreeMap<String, Whereabouts> =
                    tasks.into_iter().map(|t| (t.id.clone(), t)).collect();
                let firing = Firing::plan(catalog, &claimed, &tasks, now);
                let (marked, queued, _) = match &mut conn {
                    Conn::Postgres(c) => firing.write_postgres(c, owner, now, lease_until).await?,
                    Conn::Sqlite(_) | Conn::InPlace(_) => {
                        firing
                            .write_sqlite(&mut conn, owner, now, lease_until)
                            .await?
                    }
                };
                if marked != firing.settled() {
                    tracing::info!(
                        read = firing.settled(),
                        settled = marked,
                        "due timers changed under the batch; read again"
                    );
                    tx.rollback().await?;
                    return Ok(None);
                }
                report.fired = firing.fired.len();
                report.stale = firing.stale.len();
                report.queued = queued;
                report.expiries = firing.expiries;
            }
            tx.commit().await?;
        });
        Ok(Some(report))
    }

    /// When the earliest pending timer that no live lease holds falls due (possibly already):
    /// what an idle scheduler sleeps until. One read of the pending-timers index.
    #[tracing::instrument(skip_all)]
    pub async fn next_due(&self, now: Instant) -> Result<Option<Instant>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_scalar(
                "SELECT MIN(fire_at) FROM timers WHERE status = 'pending' \
                 AND (lease_until IS NULL OR lease_until < $1)",
            )
            .bind(micros(now))
            .fetch_one(pool)
            .await?
        }))
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
