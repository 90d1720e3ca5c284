//! The set-based write of a PostgreSQL group-commit batch: the transitions of a batch written by
//! one statement, instead of seven or so statements (and a savepoint) each.
//!
//! pgbench showed where PostgreSQL spends a batch's time: in its statements, not in commits or
//! savepoints. Eight transitions a transaction, each in its savepoint, ran at 669 / 492
//! transitions a second against 758 / 678 for one transaction each; the same eight written as
//! four set-based statements ran at 2,217 / 1,856 (`bench/pgbench_batch.py`, README "Peers side
//! by side"). So [`write`] sends the columns of every row of the batch as arrays, and one
//! statement (data-modifying `WITH` clauses over `unnest`) updates the tasks whose version and
//! audit sequence still match, and writes, for those tasks only, their audit entries, timer
//! cancellations, new timers, notifications and idempotency records: the same rows, byte for
//! byte, as [`super::write::TransitionWrite::apply`] writes one transition at a time.
//!
//! Each transition keeps its own outcome: a task whose version moved on is not updated, and
//! nothing else is written for it (the request re-reads and answers a conflict, as when its
//! savepoint is rolled back). What one statement cannot keep apart — a database error, which
//! aborts the whole transaction, or an idempotency key taken meanwhile — makes the writer roll
//! the transaction back and write the batch again one transition a savepoint
//! ([`super::commit`]), where each gets its own error. Transitions the statement does not take
//! ([`split`]) are written after it, in the same transaction, each in its savepoint.

use std::collections::HashSet;

use engine::time::Instant;
use sqlx::PgConnection;

use super::super::micros;
use super::write::{TaskRow, TransitionWrite, pending_audit_id, timer_kind_name};

/// Which of `writes` (by index) [`write`] takes, and which are left to the savepoint path: the
/// first transition of each task, unless it settles something besides (a proposal: its
/// statement must change a row or nothing is written, which one statement for many
/// transitions cannot say of each). A second transition of the same task in the batch was
/// decided on the same version as the first, and is written after it to find that out.
pub(super) fn split<'w>(
    writes: impl Iterator<Item = &'w TransitionWrite>,
) -> (Vec<usize>, Vec<usize>) {
    let mut tasks = HashSet::new();
    let (mut set, mut rest) = (Vec::new(), Vec::new());
    for (i, w) in writes.enumerate() {
        if w.also.is_empty() && tasks.insert(w.task_id.as_str()) {
            set.push(i);
        } else {
            rest.push(i);
        }
    }
    (set, rest)
}

/// The statement: `v` the task rows ($1-$15), `u` the tasks updated (compare-and-set on version
/// and audit sequence), then for those tasks only: `a` the audit entries ($16-$36), `c` the
/// timers cancelled ($37-$38), `n` the timers created ($39-$46), `o` the notifications
/// ($47-$51) and `i` the idempotency records ($52-$57), whose JSON texts get the audit id in
/// place of `$58` (`"audit_id":` and the pending id: [`pending_audit_id`]). It returns
/// each written task's audit id, and whether its idempotency record was written.
const WRITE: &str = r#"WITH v AS (
    SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::timestamptz[],
        $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::int8[], $12::text[], $13::int8[],
        $14::text[], $15::int8[])
    AS v(id, from_version, from_seq, state, phase, at, clock, paused, counts, due_at, seq, hash, review,
        entries, workflow_version)
), u AS (
    UPDATE tasks t SET state = v.state, phase = v.phase, state_entered_at = v.at, version = v.from_version + 1,
        clock = v.clock, paused_clock = v.paused, transition_counts = v.counts, due_at = v.due_at,
        audit_seq = v.seq, audit_head = v.hash, updated_at = v.at, review = v.review,
        state_entries = v.entries, workflow_version = COALESCE(v.workflow_version, t.workflow_version)
    FROM v WHERE t.id = v.id AND t.version = v.from_version AND t.audit_seq = v.from_seq
    RETURNING t.id
), a AS (
    INSERT INTO audit_log (task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state,
        from_phase, to_phase, comment, documents, workflow, workflow_version, idempotency_key,
        prev_hash, hash, review, round, evidence)
    SELECT * FROM unnest($16::text[], $17::int8[], $18::text[], $19::timestamptz[], $20::text[], $21::text[],
        $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::text[], $28::text[],
        $29::text[], $30::int8[], $31::text[], $32::text[], $33::text[], $34::int8[], $35::int8[],
        $36::text[])
    AS e(task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state, from_phase,
        to_phase, comment, documents, workflow, workflow_version, idempotency_key, prev_hash, hash,
        review, round, evidence)
    WHERE e.task_id IN (SELECT id FROM u)
    RETURNING id, task_id
), c AS (
    UPDATE timers SET status = 'cancelled' FROM unnest($37::text[], $38::text[]) AS c(task_id, state)
    WHERE timers.task_id = c.task_id AND timers.state = c.state AND timers.status = 'pending'
        AND c.task_id IN (SELECT id FROM u)
), n AS (
    INSERT INTO timers (id, task_id, state, kind, spec, fire_at, due_at, status, created_at)
    SELECT n.id, n.task_id, n.state, n.kind, n.spec, n.fire_at, n.due_at, 'pending', n.at
    FROM unnest($39::text[], $40::text[], $41::text[], $42::text[], $43::text[], $44::timestamptz[],
        $45::timestamptz[], $46::timestamptz[]) AS n(id, task_id, state, kind, spec, fire_at, due_at, at)
    WHERE n.task_id IN (SELECT id FROM u)
), o AS (
    INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at)
    SELECT o.id, o.task_id, o.template, REPLACE(o.payload, $58, '"audit_id":' || a.id), 'pending', 0, o.at, o.at
    FROM unnest($47::text[], $48::text[], $49::text[], $50::text[], $51::timestamptz[])
        AS o(id, task_id, template, payload, at)
    JOIN a ON a.task_id = o.task_id
), i AS (
    INSERT INTO idempotency (actor_user, key, request_hash, task_id, outcome, created_at)
    SELECT i.actor, i.key, i.request_hash, i.task_id, REPLACE(i.outcome, $58, '"audit_id":' || a.id), i.at
    FROM unnest($52::text[], $53::text[], $54::text[], $55::text[], $56::text[], $57::timestamptz[])
        AS i(actor, key, request_hash, task_id, outcome, at)
    JOIN a ON a.task_id = i.task_id
    ON CONFLICT (actor_user, key) DO NOTHING
    RETURNING task_id
)
SELECT a.task_id, a.id, EXISTS (SELECT 1 FROM i WHERE i.task_id = a.task_id) FROM a"#;

/// How the set-based write's transaction begins: its statements find rows by their keys. The
/// statement is prepared once per connection, and the plan kept for it was made while the tasks
/// table may still have been small: such a plan updated the tasks by a sequential scan long
/// after the table had grown (10 ms of a 14 ms statement at 10,000 tasks, seen with
/// `auto_explain`). With sequential scans off in the transaction, the kept plan reaches tasks
/// by their primary key and timers by `timers_task`, whatever the sizes when it was made; the
/// savepoint path's statements find their rows by key anyway. At 32 clients (`tiendo-bench
/// transitions --backend postgres --writers 32 --group-commit on`, 06/12/2026, two runs each):
/// plain `BEGIN` 1,597 / 1,136 transitions a second (p99 159 / 393 ms), plans made for every
/// batch (`plan_cache_mode = force_custom_plan`) 1,689 / 1,797, sequential scans off 2,267 /
/// 2,331.
pub(super) const BEGIN: &str = "BEGIN; SET LOCAL enable_seqscan = off";

/// The columns of the task rows, one array each, in the order of [`WRITE`]'s `v`.
#[derive(Default)]
struct Tasks {
    id: Vec<String>,
    from_version: Vec<i64>,
    from_seq: Vec<i64>,
    state: Vec<String>,
    phase: Vec<&'static str>,
    at: Vec<Instant>,
    clock: Vec<Option<String>>,
    paused: Vec<Option<String>>,
    counts: Vec<String>,
    due_at: Vec<Option<Instant>>,
    seq: Vec<i64>,
    hash: Vec<String>,
    review: Vec<i64>,
    entries: Vec<String>,
    workflow_version: Vec<Option<i64>>,
}

/// The audit entries' columns, in the order of `audit_columns!`.
#[derive(Default)]
struct Audit {
    task_id: Vec<String>,
    seq: Vec<i64>,
    kind: Vec<String>,
    at: Vec<Instant>,
    actor_user: Vec<String>,
    actor_role: Vec<Option<String>>,
    transition: Vec<String>,
    from_state: Vec<Option<String>>,
    to_state: Vec<String>,
    from_phase: Vec<Option<String>>,
    to_phase: Vec<String>,
    comment: Vec<Option<String>>,
    documents: Vec<String>,
    workflow: Vec<String>,
    workflow_version: Vec<i64>,
    idempotency_key: Vec<Option<String>>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
    review: Vec<Option<i64>>,
    round: Vec<Option<i64>>,
    evidence: Vec<Option<String>>,
}

/// The timers cancelled and created.
#[derive(Default)]
struct Timers {
    cancel_task: Vec<String>,
    cancel_state: Vec<String>,
    id: Vec<String>,
    task_id: Vec<String>,
    state: Vec<String>,
    kind: Vec<&'static str>,
    spec: Vec<String>,
    fire_at: Vec<Instant>,
    due_at: Vec<Instant>,
    at: Vec<Instant>,
}

/// The notifications and idempotency records.
#[derive(Default)]
struct Records {
    message_id: Vec<String>,
    message_task: Vec<String>,
    template: Vec<String>,
    payload: Vec<String>,
    message_at: Vec<Instant>,
    actor: Vec<String>,
    key: Vec<String>,
    request_hash: Vec<String>,
    key_task: Vec<String>,
    outcome: Vec<String>,
    key_at: Vec<Instant>,
}

/// Writes `writes` (on distinct tasks, settling nothing else: [`split`]) with one statement on
/// `conn`, in the transaction open on it. `Ok(Some(answers))`: each write's audit id, or `None`
/// when its version had moved on (nothing of it written). `Ok(None)` when an idempotency key
/// was taken meanwhile, and `Err` on any database error: the caller rolls the transaction back
/// and writes the batch one transition a savepoint.
pub(super) async fn write(
    conn: &mut PgConnection,
    writes: &[&TransitionWrite],
) -> Result<Option<Vec<Option<i64>>>, sqlx::Error> {
    let mut tasks = Tasks::default();
    let mut audit = Audit::default();
    let mut timers = Timers::default();
    let mut records = Records::default();
    for w in writes {
        let d = &w.decision;
        let TaskRow {
            clock,
            paused,
            counts,
            entries,
        } = w.task_row();
        let id = &w.task_id;
        tasks.id.push(id.clone());
        tasks.from_version.push(w.from_version);
        tasks.from_seq.push(w.from_audit_seq);
        tasks.state.push(d.state.clone());
        tasks.phase.push(d.phase.as_str());
        tasks.at.push(w.now);
        tasks.clock.push(clock);
        tasks.paused.push(paused);
        tasks.counts.push(counts);
        tasks
            .due_at
            .push(d.clock.as_ref().map(|c| micros(c.due_at)));
        tasks.seq.push(w.audit.seq);
        tasks.hash.push(w.audit.hash.clone());
        tasks.review.push(i64::from(d.round.review));
        tasks.entries.push(entries);
        tasks
            .workflow_version
            .push(d.workflow_version.map(i64::from));

        let rows = w.effects().rows();
        let r = &w.audit;
        audit.task_id.push(r.task_id.clone());
        audit.seq.push(r.seq);
        audit.kind.push(r.kind.clone());
        audit.at.push(r.at);
        audit.actor_user.push(r.actor_user.clone());
        audit.actor_role.push(r.actor_role.clone());
        audit.transition.push(r.transition.clone());
        audit.from_state.push(r.from_state.clone());
        audit.to_state.push(r.to_state.clone());
        audit.from_phase.push(r.from_phase.clone());
        audit.to_phase.push(r.to_phase.clone());
        audit.comment.push(r.comment.clone());
        audit.documents.push(rows.documents);
        audit.workflow.push(r.workflow.clone());
        audit.workflow_version.push(r.workflow_version);
        audit.idempotency_key.push(r.idempotency_key.clone());
        audit.prev_hash.push(r.prev_hash.clone());
        audit.hash.push(r.hash.clone());
        audit.review.push(r.review);
        audit.round.push(r.round);
        audit.evidence.push(r.evidence.clone());

        for state in &d.cancel_timers_of {
            timers.cancel_task.push(id.clone());
            timers.cancel_state.push(state.clone());
        }
        for (t, (timer_id, spec)) in d.create_timers.iter().zip(rows.timers) {
            timers.id.push(timer_id);
            timers.task_id.push(id.clone());
            timers.state.push(t.state.clone());
            timers.kind.push(timer_kind_name(&t.kind));
            timers.spec.push(spec);
            timers.fire_at.push(micros(t.fire_at));
            timers.due_at.push(micros(t.due_at));
            timers.at.push(w.now);
        }
        for (n, (message_id, payload)) in d.notifications.iter().zip(rows.messages) {
            records.message_id.push(message_id);
            records.message_task.push(id.clone());
            records.template.push(n.template.clone());
            records.payload.push(payload);
            records.message_at.push(w.now);
        }
        if let (Some((actor, key, request_hash)), Some(outcome)) = (&w.idempotency, rows.outcome) {
            records.actor.push(actor.clone());
            records.key.push(key.clone());
            records.request_hash.push(request_hash.clone());
            records.key_task.push(id.clone());
            records.outcome.push(outcome);
            records.key_at.push(w.now);
        }
    }
    let rows: Vec<(String, i64, bool)> = sqlx::query_as(WRITE)
        .bind(tasks.id)
        .bind(tasks.from_version)
        .bind(tasks.from_seq)
        .bind(tasks.state)
        .bind(tasks.phase)
        .bind(tasks.at)
        .bind(tasks.clock)
        .bind(tasks.paused)
        .bind(tasks.counts)
        .bind(tasks.due_at)
        .bind(tasks.seq)
        .bind(tasks.hash)
        .bind(tasks.review)
        .bind(tasks.entries)
        .bind(tasks.workflow_version)
        .bind(audit.task_id)
        .bind(audit.seq)
        .bind(audit.kind)
        .bind(audit.at)
        .bind(audit.actor_user)
        .bind(audit.actor_role)
        .bind(audit.transition)
        .bind(audit.from_state)
        .bind(audit.to_state)
        .bind(audit.from_phase)
        .bind(audit.to_phase)
        .bind(audit.comment)
        .bind(audit.documents)
        .bind(audit.workflow)
        .bind(audit.workflow_version)
        .bind(audit.idempotency_key)
        .bind(audit.prev_hash)
        .bind(audit.hash)
        .bind(audit.review)
        .bind(audit.round)
        .bind(audit.evidence)
        .bind(timers.cancel_task)
        .bind(timers.cancel_state)
        .bind(timers.id)
        .bind(timers.task_id)
        .bind(timers.state)
        .bind(timers.kind)
        .bind(timers.spec)
        .bind(timers.fire_at)
        .bind(timers.due_at)
        .bind(timers.at)
        .bind(records.message_id)
        .bind(records.message_task)
        .bind(records.template)
        .bind(records.payload)
        .bind(records.message_at)
        .bind(records.actor)
        .bind(records.key)
        .bind(records.request_hash)
        .bind(records.key_task)
        .bind(records.outcome)
        .bind(records.key_at)
        .bind(pending_audit_id())
        .fetch_all(conn)
        .await?;
    let mut answers = vec![None; writes.len()];
    for (task_id, audit_id, key_written) in rows {
        let Some(i) = writes.iter().position(|w| w.task_id == task_id) else {
            return Err(sqlx::Error::Protocol(format!(
                "the batch statement wrote task {task_id}, which is not in the batch"
            )));
        };
        if writes[i].idempotency.is_some() && !key_written {
            return Ok(None);
        }
        answers[i] = Some(audit_id);
    }
    Ok(Some(answers))
}
