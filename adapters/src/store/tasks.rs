//! Tasks: creation, reading, and the one atomic, audited transition.
//!
//! `transition` loads the task, asks `engine::decide`, then writes the decision in a single
//! transaction that starts with a compare-and-set on the task's `version`: a stale version is a
//! conflict naming the current one, never a lost update. An idempotency key makes a retry return
//! the first outcome instead of acting twice.

use std::collections::BTreeMap;

use engine::Phase;
use engine::decide::{self, Actor, AttachedDocument, Command, Decision, TaskSnapshot, TimerKind};
use engine::time::{Instant, format_date, local_date};
use engine::workflow::Workflow;
use sqlx::Row;

use super::audit::{AuditRecord, insert_audit, sha256_hex};
use super::directory::{micros, new_id};
use super::{
    Document, NewDocument, NewTask, OutboxRecord, Store, StoreError, Task, TaskFilter, TimerRecord,
    TransitionOutcome, TransitionRequest, with_db,
};

macro_rules! select_task {
    () => {
        "SELECT t.id, t.plan_id, p.number AS plan_number, t.unit_id, u.name AS unit_name, t.name, \
    t.funding_source, t.kind, t.workflow, t.workflow_version, t.state, t.phase, t.state_entered_at, t.version, \
    t.period, t.is_rental, t.clock, t.paused_clock, t.transition_counts, t.due_at, t.audit_seq, t.audit_head, \
    t.created_at, t.updated_at \
    FROM tasks t JOIN plans p ON p.id = t.plan_id JOIN units u ON u.id = t.unit_id"
    };
}

/// Decodes a row of [`SELECT_TASK`]. JSON columns that do not parse are a store defect, reported
/// as a decode error rather than hidden.
macro_rules! task_from_row {
    ($r:expr) => {{
        let r = $r;
        let phase: String = r.try_get("phase")?;
        Task {
            id: r.try_get("id")?,
            plan_id: r.try_get("plan_id")?,
            plan_number: r.try_get("plan_number")?,
            unit_id: r.try_get("unit_id")?,
            unit_name: r.try_get("unit_name")?,
            name: r.try_get("name")?,
            funding_source: r.try_get("funding_source")?,
            kind: r.try_get("kind")?,
            workflow: r.try_get("workflow")?,
            workflow_version: u32::try_from(r.try_get::<i64, _>("workflow_version")?)
                .unwrap_or_default(),
            state: r.try_get("state")?,
            phase: phase
                .parse::<Phase>()
                .map_err(|e| sqlx::Error::Decode(format!("tasks.phase: {e}").into()))?,
            state_entered_at: r.try_get("state_entered_at")?,
            version: r.try_get("version")?,
            period: r.try_get("period")?,
            is_rental: r.try_get("is_rental")?,
            clock: from_json("clock", r.try_get("clock")?)?,
            paused_clock: from_json("paused_clock", r.try_get("paused_clock")?)?,
            transition_counts: from_json("transition_counts", r.try_get("transition_counts")?)?
                .unwrap_or_default(),
            due_at: r.try_get("due_at")?,
            audit_seq: r.try_get("audit_seq")?,
            audit_head: r.try_get("audit_head")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        }
    }};
}

/// A bound value of a dynamically built query.
enum Param {
    Text(String),
    Time(Instant),
    Int(i64),
}

fn from_json<T: serde::de::DeserializeOwned>(
    col: &str,
    text: Option<String>,
) -> Result<Option<T>, sqlx::Error> {
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| sqlx::Error::Decode(format!("tasks.{col}: {e}").into()))
    })
    .transpose()
}

fn timer_kind_name(k: &TimerKind) -> &'static str {
    match k {
        TimerKind::Reminder { .. } => "reminder",
        TimerKind::Due => "due",
        TimerKind::Overdue { .. } => "overdue",
        TimerKind::Escalation { .. } => "escalation",
        TimerKind::Expiry { .. } => "expiry",
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

/// Writes the parts of a decision shared by creation and transitions, inside transaction `$tx`:
/// the audit entry, timer cancellations and creations, the outbox, the idempotency record.
/// Evaluates to `Ok(Some(audit_id))`, or `Ok(None)` when the idempotency key was taken
/// concurrently (the caller rolls back and replays).
macro_rules! write_effects {
    ($tx:expr, $task:expr, $task_name:expr, $unit:expr, $decision:expr, $audit:expr, $key:expr, $actor:expr, $request_hash:expr, $version:expr, $now:expr) => {{
        async {
            let tx = $tx;
            let d: &Decision = $decision;
            let audit: &AuditRecord = $audit;
            let task_id: &str = $task;
            let audit_id: i64 = insert_audit!(&mut **tx, audit)?;
            for state in &d.cancel_timers_of {
                sqlx::query("UPDATE timers SET status = 'cancelled' WHERE task_id = $1 AND state = $2 AND status = 'pending'")
                    .bind(task_id)
                    .bind(state)
                    .execute(&mut **tx)
                    .await?;
            }
            // One multi-row INSERT each for timers and notifications: a transition's round
            // trips are what bounds its throughput.
            if !d.create_timers.is_empty() {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(timer_insert_sql(d.create_timers.len())));
                for t in &d.create_timers {
                    q = q
                        .bind(new_id())
                        .bind(task_id)
                        .bind(&t.state)
                        .bind(timer_kind_name(&t.kind))
                        .bind(json(&t.kind))
                        .bind(micros(t.fire_at))
                        .bind(micros(t.due_at))
                        .bind($now);
                }
                q.execute(&mut **tx).await?;
            }
            if !d.notifications.is_empty() {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(outbox_insert_sql(d.notifications.len())));
                for n in &d.notifications {
                    let payload = serde_json::json!({
                        "task_id": task_id,
                        "task_name": $task_name,
                        "unit_id": $unit,
                        "roles": n.roles,
                        "transition": d.audit.transition,
                        "from_state": d.audit.from_state,
                        "to_state": d.audit.to_state,
                        "comment": d.audit.comment,
                        "actor": d.audit.actor_user,
                        "due_at": d.clock.as_ref().map(|c| c.due_at),
                        "audit_id": audit_id,
                    });
                    q = q.bind(new_id()).bind(task_id).bind(&n.template).bind(payload.to_string()).bind($now);
                }
                q.execute(&mut **tx).await?;
            }
            if let Some(key) = $key {
                let outcome = TransitionOutcome {
                    task_id: task_id.to_string(),
                    version: $version,
                    state: d.state.clone(),
                    phase: d.phase,
                    audit_id,
                    audit_seq: audit.seq,
                    replayed: false,
                };
                let inserted = sqlx::query(
                    "INSERT INTO idempotency (actor_user, key, request_hash, task_id, outcome, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (actor_user, key) DO NOTHING",
                )
                .bind($actor)
                .bind(key)
                .bind($request_hash)
                .bind(task_id)
                .bind(json(&outcome))
                .bind($now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Ok::<Option<i64>, sqlx::Error>(None);
                }
            }
            Ok(Some(audit_id))
        }
        .await
    }};
}

/// `INSERT INTO timers` for `n` rows of 8 parameters each.
fn timer_insert_sql(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let p = |k: usize| format!("${}", i * 8 + k);
            format!(
                "({}, {}, {}, {}, {}, {}, {}, 'pending', {})",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8)
            )
        })
        .collect();
    format!(
        "INSERT INTO timers (id, task_id, state, kind, spec, fire_at, due_at, status, created_at) VALUES {}",
        rows.join(", ")
    )
}

/// `INSERT INTO outbox` for `n` rows of 5 parameters each.
fn outbox_insert_sql(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let p = |k: usize| format!("${}", i * 5 + k);
            format!(
                "({}, {}, {}, {}, 'pending', 0, {}, {})",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(5)
            )
        })
        .collect();
    format!(
        "INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at) VALUES {}",
        rows.join(", ")
    )
}

/// What an idempotency key is bound to: the same key with a different request is refused.
fn transition_hash(req: &TransitionRequest) -> String {
    sha256_hex(
        json(&(
            "transition",
            &req.task_id,
            &req.transition,
            &req.comment,
            &req.document_ids,
            req.automatic,
        ))
        .as_bytes(),
    )
}

fn clock_json(c: &Option<decide::Clock>) -> Option<String> {
    c.as_ref().map(json)
}

impl Store {
    fn workflow_of(&self, task: &Task) -> Result<&Workflow, StoreError> {
        self.catalog()
            .get(&task.workflow, task.workflow_version)
            .map(|w| w.as_ref())
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "Nhiệm vụ `{}` chạy trên quy trình `{}` phiên bản {}, nhưng phiên bản này không còn trong thư mục quy trình. Khôi phục tệp quy trình đó trước khi thao tác.",
                    task.id, task.workflow, task.workflow_version
                ))
            })
    }

    pub async fn task(&self, id: &str) -> Result<Task, StoreError> {
        let found = with_db!(self, |pool| {
            match sqlx::query(concat!(select_task!(), " WHERE t.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
            {
                Some(r) => Some(task_from_row!(&r)),
                None => None,
            }
        });
        found.ok_or_else(|| StoreError::not_found("nhiệm vụ", id))
    }

    pub async fn list_tasks(&self, f: &TaskFilter) -> Result<Vec<Task>, StoreError> {
        let mut sql = concat!(select_task!(), " WHERE 1 = 1").to_string();
        let mut params: Vec<Param> = Vec::new();
        let mut push = |sql: &mut String, clause: &str, p: Param| {
            params.push(p);
            sql.push_str(&clause.replace("$?", &format!("${}", params.len())));
        };
        if let Some(plan) = &f.plan {
            push(
                &mut sql,
                " AND (p.number = $? OR p.id = $?)",
                Param::Text(plan.clone()),
            );
        }
        if let Some(unit) = &f.unit {
            push(&mut sql, " AND t.unit_id = $?", Param::Text(unit.clone()));
        }
        if let Some(phase) = f.phase {
            push(
                &mut sql,
                " AND t.phase = $?",
                Param::Text(phase.as_str().to_string()),
            );
        }
        if let Some(state) = &f.state {
            push(&mut sql, " AND t.state = $?", Param::Text(state.clone()));
        }
        if let Some(at) = f.overdue_at {
            push(
                &mut sql,
                " AND t.due_at IS NOT NULL AND t.due_at < $?",
                Param::Time(micros(at)),
            );
        }
        sql.push_str(" ORDER BY t.created_at, t.id");
        if let Some(limit) = f.limit {
            push(&mut sql, " LIMIT $?", Param::Int(limit.clamp(0, 10_000)));
        }
        if let Some(offset) = f.offset {
            push(&mut sql, " OFFSET $?", Param::Int(offset.max(0)));
        }
        Ok(with_db!(self, |pool| {
            // Built from constant clauses only; every value is a bound parameter.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for p in &params {
                q = match p {
                    Param::Text(s) => q.bind(s),
                    Param::Time(t) => q.bind(*t),
                    Param::Int(i) => q.bind(*i),
                };
            }
            let rows = q.fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(task_from_row!(r));
            }
            out
        }))
    }

    async fn replay(
        &self,
        actor: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Option<TransitionOutcome>, StoreError> {
        let row: Option<(String, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT request_hash, outcome FROM idempotency WHERE actor_user = $1 AND key = $2",
            )
            .bind(actor)
            .bind(key)
            .fetch_optional(pool)
            .await?
        });
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

    /// Creates a task in its workflow's initial state, as `actor`.
    pub async fn create_task(
        &self,
        new: &NewTask,
        actor: &Actor,
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
            ))
            .as_bytes(),
        );
        if let Some(key) = idempotency_key
            && let Some(o) = self.replay(&actor.user, key, &request_hash).await?
        {
            return Ok(o);
        }
        let plan = self.check_new_task(new).await?;
        let wf = self
            .catalog()
            .for_date(&new.kind, local_date(now))
            .ok_or_else(|| {
                let names = self.catalog().names().join(", ");
                StoreError::Invalid(match self.catalog().latest(&new.kind) {
                    Some(_) => format!(
                        "Quy trình `{}` không có phiên bản áp dụng cho ngày {}.",
                        new.kind,
                        format_date(local_date(now))
                    ),
                    None => format!(
                        "Loại nhiệm vụ `{}` không có quy trình; các quy trình hiện có: {names}.",
                        new.kind
                    ),
                })
            })?;
        let d = decide::start(wf, &new.unit_id, actor, now)?;
        let id = new_id();
        let audit = AuditRecord::new(&id, 1, "create", &d.audit, idempotency_key, "");
        let due_at = d.clock.as_ref().map(|c| micros(c.due_at));
        let written: Option<i64> = with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO tasks (id, plan_id, unit_id, name, funding_source, kind, workflow, workflow_version, state, phase, \
                 state_entered_at, version, period, is_rental, clock, paused_clock, transition_counts, due_at, audit_seq, audit_head, \
                 created_at, updated_at, name_search) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $14, NULL, '{}', $15, 1, $16, $11, $11, $17)",
            )
            .bind(&id)
            .bind(&plan.id)
            .bind(&new.unit_id)
            .bind(new.name.trim())
            .bind(new.funding_source.as_str())
            .bind(&new.kind)
            .bind(&wf.name)
            .bind(i64::from(wf.version))
            .bind(&d.state)
            .bind(d.phase.as_str())
            .bind(now)
            .bind(&new.period)
            .bind(new.is_rental)
            .bind(clock_json(&d.clock))
            .bind(due_at)
            .bind(&audit.hash)
            .bind(engine::domain::search_key(&new.name))
            .execute(&mut *tx)
            .await?;
            for b in &new.budget {
                sqlx::query(
                    "INSERT INTO budget_lines (task_id, year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&id)
                .bind(i64::from(b.year))
                .bind(b.need_total_vnd)
                .bind(b.approved_estimate_vnd)
                .bind(b.need_year_vnd)
                .bind(b.allocated_year_vnd)
                .execute(&mut *tx)
                .await?;
            }
            let w = write_effects!(
                &mut tx,
                &id,
                new.name.trim(),
                &new.unit_id,
                &d,
                &audit,
                idempotency_key,
                &actor.user,
                &request_hash,
                1i64,
                now
            )?;
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
            }),
            None => self
                .replay(
                    &actor.user,
                    idempotency_key.unwrap_or_default(),
                    &request_hash,
                )
                .await?
                .ok_or_else(|| StoreError::Invalid("idempotency record vanished".into())),
        }
    }

    /// The engine's snapshot of a stored task.
    pub fn snapshot(task: &Task) -> TaskSnapshot {
        TaskSnapshot {
            unit: task.unit_id.clone(),
            state: task.state.clone(),
            state_entered_at: task.state_entered_at,
            clock: task.clock.clone(),
            paused_clock: task.paused_clock.clone(),
            transition_counts: task.transition_counts.clone(),
        }
    }

    /// What `actor` may do on `task` now, and what each transition still needs.
    pub fn available(
        &self,
        task: &Task,
        actor: &Actor,
    ) -> Result<Vec<decide::Available>, StoreError> {
        Ok(decide::available(
            self.workflow_of(task)?,
            &Self::snapshot(task),
            actor,
        ))
    }

    /// Takes a transition: one transaction, all or nothing. See the module documentation.
    pub async fn transition(
        &self,
        req: &TransitionRequest,
        actor: &Actor,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        self.transition_from(None, req, actor, now).await
    }

    /// [`Store::transition`] on a task the caller has just read (the HTTP API reads it to check
    /// that the caller may see it): the read is not repeated. The version compare-and-set still
    /// guards against any change in between.
    pub async fn transition_loaded(
        &self,
        task: Task,
        req: &TransitionRequest,
        actor: &Actor,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        self.transition_from(Some(task), req, actor, now).await
    }

    async fn transition_from(
        &self,
        loaded: Option<Task>,
        req: &TransitionRequest,
        actor: &Actor,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        let result = self.transition_once(loaded, req, actor, now).await;
        // A request that lost to a concurrent one carrying the same key (which moved the task
        // on, so this one is now stale or not allowed) is a retry: its answer is the outcome.
        match (&result, req.idempotency_key.as_deref()) {
            (Err(StoreError::Conflict { .. } | StoreError::Rejected(_)), Some(key)) => {
                match self.replay(&actor.user, key, &transition_hash(req)).await {
                    Ok(Some(o)) => Ok(o),
                    _ => result,
                }
            }
            _ => result,
        }
    }

    async fn transition_once(
        &self,
        loaded: Option<Task>,
        req: &TransitionRequest,
        actor: &Actor,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        let now = micros(now);
        let request_hash = transition_hash(req);
        let key = req.idempotency_key.as_deref();
        if let Some(k) = key
            && let Some(o) = self.replay(&actor.user, k, &request_hash).await?
        {
            return Ok(o);
        }
        let task = match loaded {
            Some(t) if t.id == req.task_id => t,
            _ => self.task(&req.task_id).await?,
        };
        if let Some(expected) = req.expected_version
            && expected != task.version
        {
            return Err(StoreError::Conflict {
                expected,
                current: task.version,
            });
        }
        let wf = self.workflow_of(&task)?;
        let documents = self.resolve_documents(&task.id, &req.document_ids).await?;
        let command = if req.automatic {
            Command::Expire {
                transition: req.transition.clone(),
            }
        } else {
            Command::Transition {
                name: req.transition.clone(),
                comment: req.comment.clone(),
                documents,
            }
        };
        let d = decide::decide(wf, &Self::snapshot(&task), &command, actor, now)?;
        let seq = task.audit_seq + 1;
        let audit = AuditRecord::new(&task.id, seq, "transition", &d.audit, key, &task.audit_head);
        let mut counts: BTreeMap<String, u32> = task.transition_counts.clone();
        *counts.entry(d.audit.transition.clone()).or_default() += 1;
        let new_version = task.version + 1;
        let due_at = d.clock.as_ref().map(|c| micros(c.due_at));
        // Ok(Some(id)): written; Ok(None) with updated = 0: stale version; with updated = 1:
        // the idempotency key was taken by a concurrent request.
        let (updated, written): (u64, Option<i64>) = with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE tasks SET state = $1, phase = $2, state_entered_at = $3, version = $4, clock = $5, paused_clock = $6, \
                 transition_counts = $7, due_at = $8, audit_seq = $9, audit_head = $10, updated_at = $3 \
                 WHERE id = $11 AND version = $12",
            )
            .bind(&d.state)
            .bind(d.phase.as_str())
            .bind(now)
            .bind(new_version)
            .bind(clock_json(&d.clock))
            .bind(clock_json(&d.paused_clock))
            .bind(json(&counts))
            .bind(due_at)
            .bind(seq)
            .bind(&audit.hash)
            .bind(&task.id)
            .bind(task.version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                tx.rollback().await?;
                (0, None)
            } else {
                let w = write_effects!(
                    &mut tx,
                    &task.id,
                    &task.name,
                    &task.unit_id,
                    &d,
                    &audit,
                    key,
                    &actor.user,
                    &request_hash,
                    new_version,
                    now
                )?;
                if w.is_some() {
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                (updated, w)
            }
        });
        match (updated, written) {
            (_, Some(audit_id)) => Ok(TransitionOutcome {
                task_id: task.id,
                version: new_version,
                state: d.state,
                phase: d.phase,
                audit_id,
                audit_seq: seq,
                replayed: false,
            }),
            (updated, None) => {
                // A concurrent request with the same key may have won; it is then the outcome.
                if let Some(k) = key
                    && let Some(o) = self.replay(&actor.user, k, &request_hash).await?
                {
                    return Ok(o);
                }
                debug_assert_eq!(updated, 0);
                let current = self.task(&task.id).await?.version;
                Err(StoreError::Conflict {
                    expected: task.version,
                    current,
                })
            }
        }
    }

    async fn resolve_documents(
        &self,
        task_id: &str,
        ids: &[String],
    ) -> Result<Vec<AttachedDocument>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let doc_type: Option<String> = with_db!(self, |pool| {
                sqlx::query_scalar("SELECT doc_type FROM documents WHERE id = $1 AND task_id = $2")
                    .bind(id)
                    .bind(task_id)
                    .fetch_optional(pool)
                    .await?
            });
            match doc_type {
                Some(doc_type) => out.push(AttachedDocument {
                    id: id.clone(),
                    doc_type,
                }),
                None => {
                    return Err(StoreError::Invalid(format!(
                        "Tài liệu `{id}` không tồn tại hoặc không thuộc nhiệm vụ `{task_id}`."
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Refuses a document type the task's workflow does not declare.
    pub fn check_document_type(&self, task: &Task, doc_type: &str) -> Result<(), StoreError> {
        let wf = self.workflow_of(task)?;
        if wf.document_types.contains_key(doc_type) {
            return Ok(());
        }
        Err(StoreError::Invalid(format!(
            "Loại tài liệu `{}` không có trong quy trình `{}`; các loại: {}.",
            doc_type,
            wf.name,
            wf.document_types
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// Records a document of a task (the file is already stored at `stored_path`), for whoever
    /// may attach to it (`engine::access::may_attach_document`).
    pub async fn add_document(
        &self,
        new: &NewDocument,
        actor: &Actor,
        now: Instant,
    ) -> Result<Document, StoreError> {
        let task = self.task(&new.task_id).await?;
        self.check_document_type(&task, &new.doc_type)?;
        self.check_attach(&task, actor).await?;
        let id = new_id();
        let now = micros(now);
        with_db!(self, |pool| {
            sqlx::query(
                "INSERT INTO documents (id, task_id, doc_type, number, issued_on, issuer, file_name, size_bytes, sha256, stored_path, uploaded_by, uploaded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&id)
            .bind(&new.task_id)
            .bind(&new.doc_type)
            .bind(&new.number)
            .bind(new.issued_on)
            .bind(&new.issuer)
            .bind(&new.file_name)
            .bind(new.size_bytes)
            .bind(&new.sha256)
            .bind(&new.stored_path)
            .bind(&actor.user)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(Document {
            id,
            task_id: new.task_id.clone(),
            doc_type: new.doc_type.clone(),
            number: new.number.clone(),
            issued_on: new.issued_on,
            issuer: new.issuer.clone(),
            file_name: new.file_name.clone(),
            size_bytes: new.size_bytes,
            sha256: new.sha256.clone(),
            stored_path: new.stored_path.clone(),
            uploaded_by: actor.user.clone(),
            uploaded_at: now,
        })
    }

    pub async fn documents(&self, task_id: &str) -> Result<Vec<Document>, StoreError> {
        Ok(with_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT id, task_id, doc_type, number, issued_on, issuer, file_name, size_bytes, sha256, stored_path, uploaded_by, uploaded_at \
                 FROM documents WHERE task_id = $1 ORDER BY uploaded_at, id",
            )
            .bind(task_id)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(Document {
                    id: r.try_get("id")?,
                    task_id: r.try_get("task_id")?,
                    doc_type: r.try_get("doc_type")?,
                    number: r.try_get("number")?,
                    issued_on: r.try_get("issued_on")?,
                    issuer: r.try_get("issuer")?,
                    file_name: r.try_get("file_name")?,
                    size_bytes: r.try_get("size_bytes")?,
                    sha256: r.try_get("sha256")?,
                    stored_path: r.try_get("stored_path")?,
                    uploaded_by: r.try_get("uploaded_by")?,
                    uploaded_at: r.try_get("uploaded_at")?,
                });
            }
            out
        }))
    }

    /// A task's timers with the given status (`pending`, `cancelled`, `fired`), by fire time.
    pub async fn timers(
        &self,
        task_id: &str,
        status: &str,
    ) -> Result<Vec<TimerRecord>, StoreError> {
        Ok(with_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT id, task_id, state, kind, spec, fire_at, due_at, status FROM timers WHERE task_id = $1 AND status = $2 ORDER BY fire_at, id",
            )
            .bind(task_id)
            .bind(status)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let spec: String = r.try_get("spec")?;
                out.push(TimerRecord {
                    id: r.try_get("id")?,
                    task_id: r.try_get("task_id")?,
                    state: r.try_get("state")?,
                    kind: r.try_get("kind")?,
                    spec: serde_json::from_str(&spec).unwrap_or(serde_json::Value::String(spec)),
                    fire_at: r.try_get("fire_at")?,
                    due_at: r.try_get("due_at")?,
                    status: r.try_get("status")?,
                });
            }
            out
        }))
    }

    /// Queued notifications of a task, oldest first.
    pub async fn outbox_for_task(&self, task_id: &str) -> Result<Vec<OutboxRecord>, StoreError> {
        Ok(with_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT id, task_id, template, payload, status, attempts, created_at FROM outbox WHERE task_id = $1 ORDER BY created_at, id",
            )
            .bind(task_id)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let payload: String = r.try_get("payload")?;
                out.push(OutboxRecord {
                    id: r.try_get("id")?,
                    task_id: r.try_get("task_id")?,
                    template: r.try_get("template")?,
                    payload: serde_json::from_str(&payload)
                        .unwrap_or(serde_json::Value::String(payload)),
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    created_at: r.try_get("created_at")?,
                });
            }
            out
        }))
    }

    /// Counts rows of a table (operators and tests); `table` must be one of the store's.
    pub async fn count(&self, table: &str) -> Result<i64, StoreError> {
        const TABLES: [&str; 9] = [
            "tasks",
            "audit_log",
            "timers",
            "outbox",
            "documents",
            "users",
            "units",
            "plans",
            "audit_seals",
        ];
        if !TABLES.contains(&table) {
            return Err(StoreError::Invalid(format!("unknown table `{table}`")));
        }
        Ok(with_db!(self, |pool| {
            // `table` is one of the constant names above.
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table}"
            )))
            .fetch_one(pool)
            .await?
        }))
    }
}

impl Store {
    /// A task's budget lines, by year.
    pub async fn budget(&self, task_id: &str) -> Result<Vec<super::BudgetLine>, StoreError> {
        Ok(with_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd FROM budget_lines WHERE task_id = $1 ORDER BY year",
            )
            .bind(task_id)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(super::BudgetLine {
                    year: i32::try_from(r.try_get::<i64, _>("year")?).unwrap_or_default(),
                    need_total_vnd: r.try_get("need_total_vnd")?,
                    approved_estimate_vnd: r.try_get("approved_estimate_vnd")?,
                    need_year_vnd: r.try_get("need_year_vnd")?,
                    allocated_year_vnd: r.try_get("allocated_year_vnd")?,
                });
            }
            out
        }))
    }

    /// Whether `actor` may see `task`: the rule of `engine::access::may_see_task` (unit users
    /// their units' tasks, appraisers their queue and what they acted on, UBND everything),
    /// with the facts it needs looked up by [`Store::task_visible`].
    pub async fn visible_to(&self, task: &Task, actor: &Actor) -> Result<bool, StoreError> {
        self.task_visible(task, actor).await
    }

    /// Reads a task on behalf of `actor`; a task the actor may not see is reported as not found,
    /// so that its existence does not leak.
    pub async fn task_for(&self, id: &str, actor: &Actor) -> Result<Task, StoreError> {
        let task = self.task(id).await?;
        if self.visible_to(&task, actor).await? {
            Ok(task)
        } else {
            Err(StoreError::not_found("nhiệm vụ", id))
        }
    }
}
