//! Writing decisions: a task's creation and its transitions, each one transaction.
//!
//! A transition asks `engine::decide`, then writes the decision in a single transaction that
//! starts with a compare-and-set on the task's `version`: a stale version is a conflict naming
//! the current one, never a lost update. [`Effects`] writes what creation and transitions share
//! (the audit entry, timers, notifications, the idempotency record). An idempotency key makes a
//! retry return the first outcome instead of acting twice.

use std::sync::Arc;

use engine::decide::{self, Actor, AttachedDocument, Command, Decision, TaskSnapshot, TimerKind};
use engine::time::{Instant, format_date, local_date};
use engine::workflow::Workflow;

use super::super::audit::{
    AuditRecord, CitedDocument, Evidence, documents_json, insert_audit, insert_audit_stmt,
    sha256_hex,
};
use super::super::plans::{
    NewListing, Recorded, budget_line_values, budget_lines_columns, insert_listing, record_budget,
};
use super::super::sql::{Arg, Conn, NewTimer, Ran, RunError, Stmt, Value, timer_stmts};
use super::super::{
    Expected, NewTask, Plan, Refusal, Store, StoreError, Task, TransitionOutcome,
    TransitionRequest, micros, new_id, with_db,
};
use super::read;

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

pub(super) fn timer_kind_name(k: &TimerKind) -> &'static str {
    match k {
        TimerKind::Reminder { .. } => "reminder",
        TimerKind::Due => "due",
        TimerKind::Overdue { .. } => "overdue",
        TimerKind::Escalation { .. } => "escalation",
        TimerKind::Expiry { .. } => "expiry",
    }
}

/// The engine's snapshot of a stored task.
pub(crate) fn snapshot(task: &Task) -> TaskSnapshot {
    TaskSnapshot {
        unit: task.unit_id.clone(),
        state: task.state.clone(),
        state_entered_at: task.state_entered_at,
        clock: task.clock.clone(),
        paused_clock: task.paused_clock.clone(),
        transition_counts: task.transition_counts.clone(),
        review: task.review,
        state_entries: task.state_entries.clone(),
        funding: task.funding_source.parse().ok(),
        own_fund: task.own_fund,
        amount_vnd: task.amount_vnd,
    }
}

/// Who sent a request with an idempotency key, the key, and what the key is bound to: the same
/// key with a different request is refused.
pub(crate) struct Idempotency<'a> {
    actor: &'a str,
    key: &'a str,
    request_hash: &'a str,
}

/// Everything a decision writes besides the task row, inside the transaction that writes it.
pub(super) struct Effects<'a> {
    task_id: &'a str,
    task_name: &'a str,
    unit_id: &'a str,
    decision: &'a Decision,
    audit: &'a AuditRecord,
    /// The task's version once written, recorded with the idempotency key.
    version: i64,
    idempotency: Option<Idempotency<'a>>,
    now: Instant,
}

/// What [`Effects::rows`] makes for a decision's effects.
pub(super) struct EffectRows {
    /// The audit entry's documents ([`documents_json`]).
    pub documents: String,
    /// [`pending_audit_id`], as the JSON texts below hold it.
    pub pending: String,
    /// Each new timer's id and kind as JSON, in the order of the decision's `create_timers`.
    pub timers: Vec<(String, String)>,
    /// Each notification's outbox id and payload, in the order of its `notifications`.
    pub messages: Vec<(String, String)>,
    /// The outcome recorded with the idempotency key, when there is one.
    pub outcome: Option<String>,
}

/// The audit entry's id, in the JSON texts written in the same round trip as the entry (the
/// notifications' payload, the idempotency record's outcome), before it is known: the statement
/// replaces `"audit_id":` and this number by `"audit_id":` and the id it reads back
/// ([`with_audit_id`]). A string value cannot hold the text `"audit_id":` (its quotes are
/// escaped), so only the key is replaced, and the text is byte for byte the one that would have
/// been written with the id known.
const AUDIT_ID_PENDING: i64 = i64::MIN;

/// `"audit_id":` and [`AUDIT_ID_PENDING`], as the JSON texts written with an entry hold it
/// until the entry's id replaces it.
pub(super) fn pending_audit_id() -> String {
    format!("\"audit_id\":{AUDIT_ID_PENDING}")
}

/// The SQL of a JSON text given at `$json` with its pending audit id (`$pending`) replaced by
/// `$key` and the id of the entry `$seq` of task `$task` (written earlier in the transaction).
fn with_audit_id(json: usize, pending: usize, key: usize, task: usize, seq: usize) -> String {
    format!(
        "REPLACE(${json}, ${pending}, ${key} || CAST((SELECT id FROM audit_log WHERE task_id = ${task} AND seq = ${seq}) AS TEXT))"
    )
}

impl Effects<'_> {
    /// The values [`Effects::write`] writes that are made here rather than taken from the
    /// decision: new ids, JSON texts with the audit id still [`AUDIT_ID_PENDING`]. The set-based
    /// batch writer ([`super::batch`]) writes the same values.
    pub(super) fn rows(&self) -> EffectRows {
        let d = self.decision;
        EffectRows {
            documents: documents_json(self.audit),
            pending: pending_audit_id(),
            timers: d
                .create_timers
                .iter()
                .map(|t| (new_id(), json(&t.kind)))
                .collect(),
            messages: d
                .notifications
                .iter()
                .map(|n| {
                    let payload = serde_json::json!({
                        "task_id": self.task_id,
                        "task_name": self.task_name,
                        // Unit roles are reached in the unit an approval authority names, else
                        // the task's own.
                        "unit_id": n.unit.as_deref().unwrap_or(self.unit_id),
                        "roles": n.roles,
                        "transition": d.audit.transition,
                        "from_state": d.audit.from_state,
                        "to_state": d.audit.to_state,
                        "comment": d.audit.comment,
                        "actor": d.audit.actor_user,
                        "due_at": d.clock.as_ref().map(|c| c.due_at),
                        "audit_id": AUDIT_ID_PENDING,
                    });
                    (new_id(), payload.to_string())
                })
                .collect(),
            outcome: self.idempotency.as_ref().map(|_| {
                json(&TransitionOutcome {
                    task_id: self.task_id.to_string(),
                    version: self.version,
                    state: d.state.clone(),
                    phase: d.phase,
                    audit_id: AUDIT_ID_PENDING,
                    audit_seq: self.audit.seq,
                    replayed: false,
                    state_title: String::new(),
                    carried_over: None,
                })
            }),
        }
    }

    /// Writes, after the statements `head` (a savepoint, the task row), the audit entry, timer
    /// cancellations and creations, the notifications, the idempotency record and the
    /// statements `also` (each of which must change a row), in one [`Conn::run_all`]: on
    /// SQLite one round trip. `Ok(Some(audit_id))`, or `Ok(None)` when a `must_change`
    /// statement of `head` or `also` changed nothing or the idempotency key was taken
    /// concurrently: the caller rolls back (and replays).
    async fn write(
        &self,
        conn: &mut Conn<'_>,
        head: &[Stmt<'_>],
        also: &[(&'static str, Vec<Value>)],
    ) -> Result<Option<i64>, RunError> {
        let d = self.decision;
        let EffectRows {
            documents,
            pending,
            timers: timer_rows,
            messages: payloads,
            outcome,
        } = self.rows();
        let timers: Vec<NewTimer<'_>> = d
            .create_timers
            .iter()
            .zip(&timer_rows)
            .map(|(t, (id, spec))| NewTimer {
                id,
                task_id: self.task_id,
                state: &t.state,
                kind: timer_kind_name(&t.kind),
                spec,
                fire_at: t.fire_at,
                due_at: t.due_at,
            })
            .collect();
        let mut stmts: Vec<Stmt<'_>> = head.to_vec();
        stmts.push(insert_audit_stmt(self.audit, &documents));
        for state in &d.cancel_timers_of {
            stmts.push(Stmt::new(
                "UPDATE timers SET status = 'cancelled' WHERE task_id = $1 AND state = $2 AND status = 'pending'",
                vec![Arg::Str(self.task_id), Arg::Str(state)],
            ));
        }
        stmts.extend(timer_stmts(&timers, self.now));
        // The notifications, their payload naming the audit entry: $1-$4 for the id, then 4 a row.
        let audit_id = [
            Arg::Str(&pending),
            Arg::Str("\"audit_id\":"),
            Arg::Str(self.task_id),
            Arg::Int(self.audit.seq),
        ];
        let messages: Vec<_> = payloads.iter().zip(&d.notifications).collect();
        for chunk in messages.chunks(100) {
            let now = 5 + 4 * chunk.len();
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = 5 + 4 * i;
                    format!(
                        "(${p}, ${}, ${}, {}, 'pending', 0, ${now}, ${now})",
                        p + 1,
                        p + 2,
                        with_audit_id(p + 3, 1, 2, 3, 4)
                    )
                })
                .collect();
            let mut args = audit_id.to_vec();
            for ((id, payload), n) in chunk {
                args.extend([
                    Arg::Str(id),
                    Arg::Str(self.task_id),
                    Arg::Str(&n.template),
                    Arg::Str(payload),
                ]);
            }
            args.push(Arg::Time(self.now));
            stmts.push(Stmt::new(
                format!(
                    "INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at) VALUES {}",
                    rows.join(", ")
                ),
                args,
            ));
        }
        if let (Some(i), Some(outcome)) = (&self.idempotency, &outcome) {
            stmts.push(
                Stmt::new(
                    format!(
                        "INSERT INTO idempotency (actor_user, key, request_hash, task_id, outcome, created_at) \
                         VALUES ($1, $2, $3, $4, {}, $6) ON CONFLICT (actor_user, key) DO NOTHING",
                        with_audit_id(5, 7, 8, 4, 9)
                    ),
                    vec![
                        Arg::Str(i.actor),
                        Arg::Str(i.key),
                        Arg::Str(i.request_hash),
                        Arg::Str(self.task_id),
                        Arg::Str(outcome),
                        Arg::Time(self.now),
                        Arg::Str(&pending),
                        Arg::Str("\"audit_id\":"),
                        Arg::Int(self.audit.seq),
                    ],
                )
                .must_change(),
            );
        }
        for (sql, values) in also {
            stmts.push(Stmt::new(*sql, values.iter().map(Value::arg).collect()).must_change());
        }
        match conn.run_all(&stmts).await? {
            Ran::Done(ids) => match ids.first() {
                Some(&audit_id) => Ok(Some(audit_id)),
                None => Err(RunError {
                    completed: stmts.len(),
                    error: sqlx::Error::RowNotFound,
                }),
            },
            Ran::Unchanged(_) => Ok(None),
        }
    }
}

/// The first outcome of a request already made with this key, if any; a different request
/// under the same key is refused.
async fn replay(
    store: &Store,
    actor: &str,
    key: &str,
    request_hash: &str,
) -> Result<Option<TransitionOutcome>, StoreError> {
    const SQL: &str =
        "SELECT request_hash, outcome FROM idempotency WHERE actor_user = $1 AND key = $2";
    let row: Option<(String, String)> = match store.point_reads() {
        Some(point) => point.read(|db| {
            use rusqlite::OptionalExtension;
            db.prepare_cached(SQL)?
                .query_row([actor, key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })?,
        None => with_db!(store, |pool| {
            sqlx::query_as(SQL)
                .bind(actor)
                .bind(key)
                .fetch_optional(pool)
                .await?
        }),
    };
    match row {
        None => Ok(None),
        Some((hash, _)) if hash != request_hash => {
            Err(StoreError::IdempotencyMismatch(key.to_string()))
        }
        Some((_, outcome)) => {
            let mut o: TransitionOutcome = serde_json::from_str(&outcome)
                .map_err(|e| sqlx::Error::Decode(format!("idempotency.outcome: {e}").into()))?;
            o.replayed = true;
            Ok(Some(o))
        }
    }
}

/// The plan a new task goes into, once its name, plan and unit check out.
async fn check_new_task(store: &Store, t: &NewTask) -> Result<Plan, StoreError> {
    if t.name.trim().is_empty() {
        return Err(StoreError::Invalid(
            "Tên nhiệm vụ không được để trống.".into(),
        ));
    }
    let plan = store.directory().plan(&t.plan).await?;
    store.directory().unit(&t.unit_id).await?;
    Ok(plan)
}

/// The workflow version a new task of `kind` starts on: the one that applies today.
fn workflow_for<'c>(
    store: &'c Store,
    kind: &str,
    now: Instant,
) -> Result<&'c Workflow, StoreError> {
    let catalog = store.catalog();
    catalog
        .for_date(kind, local_date(now))
        .map(|w| &**w)
        .ok_or_else(|| {
            StoreError::Invalid(match catalog.latest(kind) {
                Some(_) => format!(
                    "Quy trình `{kind}` không có phiên bản áp dụng cho ngày {}.",
                    format_date(local_date(now))
                ),
                None => format!(
                    "Loại nhiệm vụ `{kind}` không có quy trình; các quy trình hiện có: {}.",
                    catalog.names().join(", ")
                ),
            })
        })
}

/// A new task's row and budget lines.
struct NewRow<'a> {
    id: &'a str,
    plan_id: &'a str,
    new: &'a NewTask,
    workflow: &'a Workflow,
    decision: &'a Decision,
    audit_hash: &'a str,
    /// Who creates it, for the budget history.
    actor: &'a str,
    now: Instant,
}

impl NewRow<'_> {
    async fn insert(&self, conn: &mut Conn<'_>) -> Result<(), sqlx::Error> {
        let (new, d) = (self.new, self.decision);
        let clock = d.clock.as_ref().map(json);
        conn.execute(
            "INSERT INTO tasks (id, plan_id, unit_id, name, funding_source, kind, workflow, workflow_version, state, phase, \
             state_entered_at, version, period, is_rental, clock, paused_clock, transition_counts, due_at, audit_seq, audit_head, \
             created_at, updated_at, name_search, review, state_entries, own_fund) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $14, NULL, '{}', $15, 1, $16, $11, $11, $17, 1, $18, $19)",
            &[
                Arg::Str(self.id),
                Arg::Str(self.plan_id),
                Arg::Str(&new.unit_id),
                Arg::Str(new.name.trim()),
                Arg::Str(new.funding_source.as_str()),
                Arg::Str(&new.kind),
                Arg::Str(&self.workflow.name),
                Arg::Int(i64::from(self.workflow.version)),
                Arg::Str(&d.state),
                Arg::Str(d.phase.as_str()),
                Arg::Time(self.now),
                Arg::OptStr(new.period.as_deref()),
                Arg::Bool(new.is_rental),
                Arg::OptStr(clock.as_deref()),
                Arg::OptTime(d.clock.as_ref().map(|c| micros(c.due_at))),
                Arg::Str(self.audit_hash),
                Arg::Str(&engine::domain::search_key(&new.name)),
                Arg::Str(&json(&d.state_entries)),
                Arg::Bool(new.own_fund),
            ],
        )
        .await?;
        let (section, category) = engine::plan::default_listing(new.funding_source);
        insert_listing(
            conn,
            &NewListing {
                plan_id: self.plan_id,
                task_id: self.id,
                section: &section,
                category: Some(category),
                printed_seq: None,
                unit_printed: None,
                name_printed: Some(new.name.trim()),
                source_key: None,
                position: None,
            },
            self.now,
        )
        .await?;
        for b in &new.budget {
            record_budget(
                conn,
                self.id,
                b.year,
                Some(b),
                Recorded {
                    plan_id: Some(self.plan_id),
                    known_from: local_date(self.now),
                    at: self.now,
                    by: self.actor,
                },
            )
            .await?;
            conn.execute(
                concat!(
                    "INSERT INTO ",
                    budget_lines_columns!(),
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                &budget_line_values(self.id, b, self.plan_id),
            )
            .await?;
        }
        Ok(())
    }
}

/// Creates a task in its workflow's initial state, as `actor`.
pub(super) async fn create(
    store: &Store,
    actor: &Actor,
    new: &NewTask,
    idempotency_key: Option<&str>,
    now: Instant,
) -> Result<TransitionOutcome, StoreError> {
    let now = micros(now);
    let request_hash = sha256_hex(
        json(&(
            "create",
            &new.plan,
            &new.unit_id,
            &new.name,
            new.funding_source,
            &new.kind,
            &new.period,
            new.is_rental,
            &new.budget,
            new.own_fund,
        ))
        .as_bytes(),
    );
    if let Some(key) = idempotency_key
        && let Some(o) = replay(store, &actor.user, key, &request_hash).await?
    {
        return Ok(o);
    }
    let plan = check_new_task(store, new).await?;
    let wf = workflow_for(store, &new.kind, now)?;
    let d = decide::start(wf, &new.unit_id, actor, now)?;
    let id = new_id();
    let audit =
        AuditRecord::new(&id, 1, "create", &d.audit, idempotency_key, "").with_round(d.round);
    let effects = Effects {
        task_id: &id,
        task_name: new.name.trim(),
        unit_id: &new.unit_id,
        decision: &d,
        audit: &audit,
        version: 1,
        idempotency: idempotency_key.map(|key| Idempotency {
            actor: &actor.user,
            key,
            request_hash: &request_hash,
        }),
        now,
    };
    let row = NewRow {
        id: &id,
        plan_id: &plan.id,
        new,
        workflow: wf,
        decision: &d,
        audit_hash: &audit.hash,
        actor: &actor.user,
        now,
    };
    let written: Option<i64> = with_db!(store, |pool| {
        let mut tx = pool.begin().await?;
        let mut conn = Conn::from(&mut *tx);
        row.insert(&mut conn).await?;
        let w = effects
            .write(&mut conn, &[], &[])
            .await
            .map_err(|e| e.error)?;
        if w.is_some() {
            tx.commit().await?;
        }
        w
    });
    match written {
        Some(audit_id) => Ok(TransitionOutcome {
            task_id: id,
            version: 1,
            state: d.state,
            phase: d.phase,
            audit_id,
            audit_seq: 1,
            replayed: false,
            state_title: String::new(),
            carried_over: None,
        }),
        // The key was taken by a concurrent request between the check above and the write.
        None => replay(
            store,
            &actor.user,
            idempotency_key.unwrap_or_default(),
            &request_hash,
        )
        .await?
        .ok_or_else(|| StoreError::internal("idempotency record vanished after a conflict")),
    }
}

/// A transition to take on a task, as a door hands it down.
pub(crate) struct Step<'a> {
    pub task_id: &'a str,
    pub transition: &'a str,
    pub comment: Option<&'a str>,
    pub document_ids: &'a [String],
    pub expected: &'a Expected,
    pub idempotency_key: Option<&'a str>,
    /// Taken by the scheduler on expiry rather than by a user.
    pub automatic: bool,
}

impl<'a> Step<'a> {
    /// A user's transition request.
    pub fn of(req: &'a TransitionRequest) -> Step<'a> {
        Step {
            task_id: &req.task_id,
            transition: &req.transition,
            comment: req.comment.as_deref(),
            document_ids: &req.document_ids,
            expected: &req.expected_version,
            idempotency_key: req.idempotency_key.as_deref(),
            automatic: false,
        }
    }

    /// What an idempotency key is bound to.
    fn hash(&self) -> String {
        sha256_hex(
            json(&(
                "transition",
                self.task_id,
                self.transition,
                &self.comment,
                self.document_ids,
                self.automatic,
            ))
            .as_bytes(),
        )
    }
}

/// Takes a transition on `task` (as loaded by the caller, or read here when `None`): one
/// transaction, all or nothing. A request that lost to a concurrent one carrying the same key
/// (which moved the task on, so this one is now stale or not allowed) is a retry: its answer is
/// the first outcome.
pub(crate) async fn transition(
    store: &Store,
    task: Option<Task>,
    step: &Step<'_>,
    actor: &Actor,
    now: Instant,
) -> Result<TransitionOutcome, StoreError> {
    let result = transition_once(store, task, step, actor, now).await;
    match (&result, step.idempotency_key) {
        (Err(StoreError::Conflict { .. } | StoreError::Rejected(_)), Some(key)) => {
            match replay(store, &actor.user, key, &step.hash()).await {
                Ok(Some(o)) => Ok(o),
                _ => result,
            }
        }
        _ => result,
    }
}

/// The version the compare-and-set expects, or why the precondition fails.
fn expected_version(expected: &Expected, task: &Task) -> Result<Option<i64>, StoreError> {
    match expected {
        Expected::Any => Ok(None),
        Expected::Version(v) => Ok(Some(*v)),
        Expected::OneOf(list) if list.contains(&task.version) => Ok(Some(task.version)),
        Expected::OneOf(list) => Ok(list.first().copied()),
        Expected::Never => Err(StoreError::PreconditionFailed {
            current: task.version,
        }),
    }
}

/// One attempt at a transition, in four steps: replay a known idempotency key; load the task
/// and check the precondition; ask `decide`; write the decision ([`write_transition`]).
async fn transition_once(
    store: &Store,
    loaded: Option<Task>,
    step: &Step<'_>,
    actor: &Actor,
    now: Instant,
) -> Result<TransitionOutcome, StoreError> {
    let now = micros(now);
    let request_hash = step.hash();
    let key = step.idempotency_key;
    if let Some(k) = key
        && let Some(o) = replay(store, &actor.user, k, &request_hash).await?
    {
        return Ok(o);
    }
    let mut task = match loaded {
        Some(t) if t.id == step.task_id => t,
        _ => read::task(store, step.task_id).await?,
    };
    // An upload or a note moves the task's audit chain without changing its version: the
    // write then finds the chain moved and is tried again on the fresh task.
    let mut attempts = 0;
    loop {
        if let Some(expected) = expected_version(step.expected, &task)?
            && expected != task.version
        {
            return Err(StoreError::Conflict {
                expected,
                current: task.version,
            });
        }
        let wf = store.workflow_of(&task)?;
        let snapshot = snapshot(&task);
        let (command, evidence) = match command(store, &task, step).await {
            Ok(c) => c,
            Err(e @ StoreError::Unprocessable(_)) => {
                // A cited document that is not the task's: who may not take the transition, or
                // what the step does not allow, is said first (decided without the documents;
                // only what they would have supplied is left out).
                let bare = Command::Transition {
                    name: step.transition.to_string(),
                    comment: None,
                    documents: Vec::new(),
                };
                match decide::decide(wf, &snapshot, &bare, actor, now) {
                    Err(decide::Rejection::Unmet { .. }) | Ok(_) => return Err(e),
                    Err(rejection) => return Err(refusal(wf, &snapshot, actor, rejection)),
                }
            }
            Err(e) => return Err(e),
        };
        let d = decide::decide(wf, &snapshot, &command, actor, now)
            .map_err(|rejection| refusal(wf, &snapshot, actor, rejection))?;
        let idempotency = key.map(|key| Idempotency {
            actor: &actor.user,
            key,
            request_hash: &request_hash,
        });
        match write_transition(store, &task, &d, evidence, idempotency, &[], now).await? {
            Written::Done(outcome) => return Ok(outcome),
            Written::Lost => {
                // A concurrent request with the same key may have won; it is then the outcome.
                if let Some(k) = key
                    && let Some(o) = replay(store, &actor.user, k, &request_hash).await?
                {
                    return Ok(o);
                }
                let current = read::task(store, &task.id).await?;
                attempts += 1;
                if current.version == task.version && attempts < 20 {
                    task = current;
                    continue;
                }
                return Err(StoreError::Conflict {
                    expected: task.version,
                    current: current.version,
                });
            }
        }
    }
}

/// The command a step asks `decide` for: an expiry, or a user's transition with its comment
/// and documents (each of which must belong to the task).
/// With the command, the evidence of the documents it cites (their sha256 as recorded now),
/// hashed into the transition's audit entry.
async fn command(
    store: &Store,
    task: &Task,
    step: &Step<'_>,
) -> Result<(Command, Option<String>), StoreError> {
    Ok(if step.automatic {
        (
            Command::Expire {
                transition: step.transition.to_string(),
            },
            None,
        )
    } else {
        let (documents, cited) = resolve_documents(store, &task.id, step.document_ids).await?;
        (
            Command::Transition {
                name: step.transition.to_string(),
                comment: step.comment.map(str::to_string),
                documents,
            },
            Evidence::cited(cited).map(|e| e.text()),
        )
    })
}

/// A statement written in the same transaction as a decision, after it: a proposal settled by
/// the transition that accepts it. It must change a row, or nothing is written.
pub(crate) struct Also<'a> {
    pub sql: &'static str,
    pub args: Vec<Arg<'a>>,
}

/// What writing a transition came to.
pub(crate) enum Written {
    Done(TransitionOutcome),
    /// Nothing written: the version moved on, or a concurrent request took the idempotency key.
    Lost,
}

/// Writes decision `d` on `task` in one transaction that starts with the compare-and-set on
/// its version: the task row, then the [`Effects`]. With group commit (always on SQLite, an
/// option on PostgreSQL) that transaction is shared with the transitions that arrived at the
/// same time, each in its own savepoint ([`super::commit`]); either way the answer comes only
/// once the transaction holding this transition has committed.
pub(crate) async fn write_transition(
    store: &Store,
    task: &Task,
    d: &Decision,
    evidence: Option<String>,
    idempotency: Option<Idempotency<'_>>,
    also: &[Also<'_>],
    now: Instant,
) -> Result<Written, StoreError> {
    let kind = if d.workflow_version.is_some() {
        "migrate"
    } else {
        "transition"
    };
    let seq = task.audit_seq + 1;
    let key = idempotency.as_ref().map(|i| i.key);
    let audit = AuditRecord::new(&task.id, seq, kind, &d.audit, key, &task.audit_head)
        .with_round(d.round)
        .with_evidence(evidence);
    let version = task.version + 1;
    let w = TransitionWrite {
        task_id: task.id.clone(),
        task_name: task.name.clone(),
        unit_id: task.unit_id.clone(),
        from_version: task.version,
        from_audit_seq: task.audit_seq,
        decision: d.clone(),
        audit,
        idempotency: idempotency.map(|i| {
            (
                i.actor.to_string(),
                i.key.to_string(),
                i.request_hash.to_string(),
            )
        }),
        also: also
            .iter()
            .map(|a| (a.sql, a.args.iter().map(Value::of).collect()))
            .collect(),
        now,
    };
    let written: Option<i64> = match store.committer() {
        Some(committer) => committer.submit(w).await?,
        None => with_db!(store, |pool| {
            let mut tx = pool.begin().await?;
            let written = w
                .apply(&mut Conn::from(&mut *tx), &[])
                .await
                .map_err(|u| u.error)?;
            if written.is_some() {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            written
        }),
    };
    Ok(match written {
        Some(audit_id) => Written::Done(TransitionOutcome {
            task_id: task.id.clone(),
            version,
            state: d.state.clone(),
            phase: d.phase,
            audit_id,
            audit_seq: seq,
            replayed: false,
            state_title: String::new(),
            carried_over: None,
        }),
        None => Written::Lost,
    })
}

/// A transition to write, owning all it writes, so that the group-commit writer can write it
/// for the request that decided it.
pub(crate) struct TransitionWrite {
    pub(super) task_id: String,
    pub(super) task_name: String,
    pub(super) unit_id: String,
    /// The version and audit sequence the compare-and-set expects.
    pub(super) from_version: i64,
    pub(super) from_audit_seq: i64,
    pub(super) decision: Decision,
    pub(super) audit: AuditRecord,
    /// (actor, key, request hash).
    pub(super) idempotency: Option<(String, String, String)>,
    pub(super) also: Vec<(&'static str, Vec<Value>)>,
    pub(super) now: Instant,
}

impl TransitionWrite {
    pub(crate) fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The task row's JSON columns as the decision leaves them.
    pub(super) fn task_row(&self) -> TaskRow {
        let d = &self.decision;
        TaskRow {
            clock: d.clock.as_ref().map(json),
            paused: d.paused_clock.as_ref().map(json),
            counts: json(&d.transition_counts),
            entries: json(&d.state_entries),
        }
    }

    /// What the transition writes besides the task row.
    pub(super) fn effects(&self) -> Effects<'_> {
        Effects {
            task_id: &self.task_id,
            task_name: &self.task_name,
            unit_id: &self.unit_id,
            decision: &self.decision,
            audit: &self.audit,
            version: self.from_version + 1,
            idempotency: self
                .idempotency
                .as_ref()
                .map(|(actor, key, request_hash)| Idempotency {
                    actor,
                    key,
                    request_hash,
                }),
            now: self.now,
        }
    }

    /// Writes the transition on `conn`, inside a transaction the caller ends, after the
    /// statements `prefix` (the group-commit writer's savepoint; none otherwise): `Some(audit_id)`,
    /// or `None` when nothing must be kept — a stale version (nothing updated), the key taken
    /// concurrently, or a statement that goes with the decision finding nothing to change; the
    /// caller then rolls back. One [`Conn::run_all`] (on SQLite, one round trip): the prefix,
    /// the compare-and-set, then the [`Effects`].
    pub(crate) async fn apply(
        &self,
        conn: &mut Conn<'_>,
        prefix: &[Stmt<'_>],
    ) -> Result<Option<i64>, Unwritten> {
        let (d, now) = (&self.decision, self.now);
        let version = self.from_version + 1;
        let TaskRow {
            clock,
            paused,
            counts,
            entries,
        } = self.task_row();
        let mut stmts = prefix.to_vec();
        stmts.push(
            Stmt::new(
                "UPDATE tasks SET state = $1, phase = $2, state_entered_at = $3, version = $4, clock = $5, paused_clock = $6, \
                 transition_counts = $7, due_at = $8, audit_seq = $9, audit_head = $10, updated_at = $3, \
                 review = $13, state_entries = $14, workflow_version = COALESCE($15, workflow_version) \
                 WHERE id = $11 AND version = $12 AND audit_seq = $16",
                vec![
                    Arg::Str(&d.state),
                    Arg::Str(d.phase.as_str()),
                    Arg::Time(now),
                    Arg::Int(version),
                    Arg::OptStr(clock.as_deref()),
                    Arg::OptStr(paused.as_deref()),
                    Arg::Str(&counts),
                    Arg::OptTime(d.clock.as_ref().map(|c| micros(c.due_at))),
                    Arg::Int(self.audit.seq),
                    Arg::Str(&self.audit.hash),
                    Arg::Str(&self.task_id),
                    Arg::Int(self.from_version),
                    Arg::Int(i64::from(d.round.review)),
                    Arg::Str(&entries),
                    Arg::OptInt(d.workflow_version.map(i64::from)),
                    Arg::Int(self.from_audit_seq),
                ],
            )
            .must_change(),
        );
        let effects = self.effects();
        effects
            .write(conn, &stmts, &self.also)
            .await
            .map_err(|e| Unwritten {
                prefix_ran: e.completed.min(prefix.len()),
                error: e.error,
            })
    }
}

/// The task row's JSON columns a transition writes ([`TransitionWrite::task_row`]).
pub(super) struct TaskRow {
    pub clock: Option<String>,
    pub paused: Option<String>,
    pub counts: String,
    pub entries: String,
}

/// Why [`TransitionWrite::apply`] failed, and how many of the statements before it ran (the
/// writer rolls back to its savepoint only if the savepoint was made).
#[derive(Debug)]
pub(crate) struct Unwritten {
    pub prefix_ran: usize,
    pub error: sqlx::Error,
}

/// A refusal of `decide`, with what `actor` may do instead from the same snapshot.
fn refusal(
    wf: &Arc<Workflow>,
    snapshot: &TaskSnapshot,
    actor: &Actor,
    rejection: decide::Rejection,
) -> StoreError {
    StoreError::Rejected(Box::new(Refusal {
        rejection,
        available: Some(decide::available(wf, snapshot, actor)),
        workflow: Some(wf.clone()),
    }))
}

/// The documents a transition names, each of which must belong to the task.
pub(crate) async fn resolve_documents(
    store: &Store,
    task_id: &str,
    ids: &[String],
) -> Result<(Vec<AttachedDocument>, Vec<CitedDocument>), StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    let mut cited = Vec::with_capacity(ids.len());
    for id in ids {
        let found: Option<(String, String)> = with_db!(store, |pool| {
            sqlx::query_as("SELECT doc_type, sha256 FROM documents WHERE id = $1 AND task_id = $2")
                .bind(id)
                .bind(task_id)
                .fetch_optional(pool)
                .await?
        });
        match found {
            Some((doc_type, sha256)) => {
                out.push(AttachedDocument {
                    id: id.clone(),
                    doc_type,
                });
                cited.push(CitedDocument {
                    id: id.clone(),
                    sha256,
                });
            }
            None => {
                return Err(StoreError::Unprocessable(format!(
                    "Tài liệu `{id}` không tồn tại hoặc không thuộc nhiệm vụ `{task_id}`: chỉ dẫn được tài liệu đã tải lên cho nhiệm vụ này."
                )));
            }
        }
    }
    Ok((out, cited))
}

/// Writes a change of `task`'s assigned deadline decided by `user` in `role`: the task row
/// (compare-and-set on its version) and the audit entry, in one transaction. The request is
/// ruled on by `engine::assigned::check_change` first.
pub(super) async fn set_deadline(
    store: &Store,
    task: &Task,
    req: &engine::assigned::DeadlineRequest,
    user: &str,
    role: engine::Role,
    now: Instant,
) -> Result<super::super::DeadlineOutcome, StoreError> {
    let now = micros(now);
    let facts = engine::assigned::DeadlineFacts {
        state: &task.state,
        phase: task.phase,
        workflow: &task.workflow,
        workflow_version: task.workflow_version,
        expected_completion_on: task.expected_completion_on,
        leader_deadline_on: task.assigned_deadline_on,
    };
    let entry = engine::assigned::check_change(&facts, req, user, role, now)
        .map_err(StoreError::Invalid)?;
    let seq = task.audit_seq + 1;
    let audit = AuditRecord::new(
        &task.id,
        seq,
        engine::assigned::DEADLINE_KIND,
        &entry,
        None,
        &task.audit_head,
    );
    let version = task.version + 1;
    let number = req.doc_number.trim().to_string();
    let written: Option<i64> = with_db!(store, |pool| {
        let mut tx = pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE tasks SET assigned_deadline_on = $1, deadline_doc_number = $2, deadline_doc_date = $3, \
             version = $4, audit_seq = $5, audit_head = $6, updated_at = $7 WHERE id = $8 AND version = $9",
        )
        .bind(req.on)
        .bind(&number)
        .bind(req.doc_date)
        .bind(version)
        .bind(seq)
        .bind(&audit.hash)
        .bind(now)
        .bind(&task.id)
        .bind(task.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            None
        } else {
            let id = insert_audit(&mut Conn::from(&mut *tx), &audit).await?;
            tx.commit().await?;
            Some(id)
        }
    });
    let Some(audit_id) = written else {
        let current = read::task(store, &task.id).await?.version;
        return Err(StoreError::Conflict {
            expected: task.version,
            current,
        });
    };
    Ok(super::super::DeadlineOutcome {
        task_id: task.id.clone(),
        version,
        expected_completion_on: task.expected_completion_on,
        assigned_deadline_on: req.on,
        assigned_deadline: engine::assigned::assigned_deadline(task.expected_completion_on, req.on),
        doc_number: number,
        doc_date: req.doc_date,
        audit_id,
        audit_seq: seq,
        comment: entry.comment.unwrap_or_default(),
    })
}

/// Moves `task` onto version `to` of its workflow as `actor` (`engine::decide::migrate`), written
/// like a transition: one transaction, a compare-and-set on the version, an audit entry of kind
/// `migrate` that names the new version, the old step's timers cancelled when its clock ends.
pub(super) async fn migrate(
    store: &Store,
    task: &Task,
    to: &Workflow,
    actor: &Actor,
    now: Instant,
) -> Result<TransitionOutcome, StoreError> {
    let now = micros(now);
    let mut task = task.clone();
    // An upload moves the audit chain, not the version: then try again on the fresh task.
    for _ in 0..20 {
        let from = store.workflow_of(&task)?;
        let d =
            decide::migrate(from, to, &snapshot(&task), actor, now).map_err(StoreError::Invalid)?;
        match write_transition(store, &task, &d, None, None, &[], now).await? {
            Written::Done(o) => return Ok(o),
            Written::Lost => {
                let current = read::task(store, &task.id).await?;
                if current.version != task.version {
                    return Err(StoreError::Conflict {
                        expected: task.version,
                        current: current.version,
                    });
                }
                task = current;
            }
        }
    }
    Err(StoreError::Conflict {
        expected: task.version,
        current: task.version,
    })
}
