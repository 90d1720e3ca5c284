//! Reading tasks and what hangs off them (budget lines, documents, timers, queued mail), for
//! whoever has already been let in — and, behind [`Unscoped`], for nobody in particular.

use std::sync::LazyLock;

use engine::decide::Actor;
use engine::time::Instant;

use super::super::columns::{Columns, Positional, fetch_all};
use super::super::in_place::InPlace;
use super::super::sql::{Arg, Value};
use super::super::{
    BudgetLine, Document, OutboxRecord, Store, StoreError, Task, TaskFilter, TimerRecord,
    TransitionOutcome, TransitionRequest, micros, with_db,
};
use super::write::{Step, transition};

/// The columns of a [`Task`], with its plan's number and its unit's current name.
pub(super) const SELECT_TASK: &str = "SELECT t.id, t.plan_id, p.number AS plan_number, t.unit_id, u.name AS unit_name, t.name, \
    t.funding_source, t.kind, t.workflow, t.workflow_version, t.state, t.phase, t.state_entered_at, t.version, \
    t.period, t.is_rental, t.clock, t.paused_clock, t.transition_counts, t.review, t.state_entries, t.due_at, t.audit_seq, t.audit_head, \
    t.created_at, t.updated_at, t.expected_completion_on, t.assigned_deadline_on, t.deadline_doc_number, t.deadline_doc_date, \
    t.own_fund, (SELECT MAX(b.need_total_vnd) FROM budget_lines b WHERE b.task_id = t.id) AS amount_vnd \
    FROM tasks t JOIN plans p ON p.id = t.plan_id JOIN units u ON u.id = t.unit_id";

const SELECT_DOCUMENT: &str = "SELECT id, task_id, doc_type, number, issued_on, issuer, file_name, size_bytes, sha256, stored_path, uploaded_by, uploaded_at FROM documents";

/// A task by id, or not found.
pub(crate) async fn task(store: &Store, id: &str) -> Result<Task, StoreError> {
    /// [`SELECT_TASK`] of one task by id, on either backend (SQLite reads `$1` as the first
    /// parameter).
    static BY_ID: LazyLock<String> = LazyLock::new(|| format!("{SELECT_TASK} WHERE t.id = $1"));
    if let Some(point) = store.point_reads() {
        // On an SQLite file, on this thread ([`super::super::point`]).
        let found = point.read(|db| {
            use rusqlite::OptionalExtension;
            db.prepare_cached(&BY_ID)?
                .query_row([id], |row| Task::decode(&mut InPlace::of(row)))
                .optional()
        })?;
        return found.ok_or_else(|| StoreError::not_found("nhiệm vụ", id));
    }
    fetch_all::<Task>(store, &BY_ID, &[Arg::Str(id)])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::not_found("nhiệm vụ", id))
}

/// A row of [`SELECT_TASK`], its columns in the SELECT's order (JSON columns strictly, NULL as
/// JSON `null`): a task's one decoder, for a point read, a listing and a search page, on both
/// backends.
impl Positional for Task {
    fn decode<C: Columns>(c: &mut C) -> Result<Task, C::Error> {
        Ok(Task {
            id: c.next()?,
            plan_id: c.next()?,
            plan_number: c.next()?,
            unit_id: c.next()?,
            unit_name: c.next()?,
            name: c.next()?,
            funding_source: c.next()?,
            kind: c.next()?,
            workflow: c.next()?,
            workflow_version: c.narrow()?,
            state: c.next()?,
            phase: c.named()?,
            state_entered_at: c.instant()?,
            version: c.next()?,
            period: c.next()?,
            is_rental: c.next()?,
            clock: c.json()?,
            paused_clock: c.json()?,
            transition_counts: c.json::<Option<_>>()?.unwrap_or_default(),
            review: c.narrow()?,
            state_entries: c.json::<Option<_>>()?.unwrap_or_default(),
            due_at: c.next()?,
            audit_seq: c.next()?,
            audit_head: c.next()?,
            created_at: c.instant()?,
            updated_at: c.instant()?,
            expected_completion_on: c.next()?,
            assigned_deadline_on: c.next()?,
            deadline_doc_number: c.next()?,
            deadline_doc_date: c.next()?,
            own_fund: c.next()?,
            amount_vnd: c.next()?,
        })
    }
}

/// The tasks of `workflow` version `version` now in `state`, oldest first.
pub(super) async fn in_state(
    store: &Store,
    workflow: &str,
    version: u32,
    state: &str,
) -> Result<Vec<Task>, StoreError> {
    let sql = format!(
        "{SELECT_TASK} WHERE t.workflow = $1 AND t.workflow_version = $2 AND t.state = $3 ORDER BY t.created_at, t.id"
    );
    let args = [
        Arg::Str(workflow),
        Arg::Int(i64::from(version)),
        Arg::Str(state),
    ];
    fetch_all(store, &sql, &args).await
}

pub(super) async fn budget(store: &Store, task_id: &str) -> Result<Vec<BudgetLine>, StoreError> {
    Ok(with_db!(store, |pool| {
        sqlx::query_as(
            "SELECT year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd, planned_allocation_vnd FROM budget_lines WHERE task_id = $1 ORDER BY year",
        )
        .bind(task_id)
        .fetch_all(pool)
        .await?
    }))
}

/// The year of a task's plan (its budget year, for the forecast).
pub(super) async fn plan_year(store: &Store, task_id: &str) -> Result<i32, StoreError> {
    let year: i64 = with_db!(store, |pool| {
        sqlx::query_scalar(
            "SELECT p.year FROM tasks t JOIN plans p ON p.id = t.plan_id WHERE t.id = $1",
        )
        .bind(task_id)
        .fetch_one(pool)
        .await?
    });
    Ok(i32::try_from(year).unwrap_or(i32::MAX))
}

pub(super) async fn documents(store: &Store, task_id: &str) -> Result<Vec<Document>, StoreError> {
    Ok(with_db!(store, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_DOCUMENT} WHERE task_id = $1 ORDER BY uploaded_at, id"
        )))
        .bind(task_id)
        .fetch_all(pool)
        .await?
    }))
}

pub(super) async fn document(store: &Store, id: &str) -> Result<Option<Document>, StoreError> {
    Ok(with_db!(store, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_DOCUMENT} WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(pool)
        .await?
    }))
}

/// The tasks matching a filter, without regard to who asks.
async fn list(store: &Store, f: &TaskFilter) -> Result<Vec<Task>, StoreError> {
    let mut sql = format!("{SELECT_TASK} WHERE 1 = 1");
    let mut params: Vec<Value> = Vec::new();
    let mut push = |sql: &mut String, clause: &str, p: Value| {
        params.push(p);
        sql.push_str(&clause.replace("$?", &format!("${}", params.len())));
    };
    if let Some(plan) = &f.plan {
        push(
            &mut sql,
            // Every task the plan lists, not only those it created.
            " AND EXISTS (SELECT 1 FROM plan_listings pl JOIN plans pp ON pp.id = pl.plan_id \
             WHERE pl.task_id = t.id AND (pp.number = $? OR pp.id = $?))",
            Value::Str(plan.clone()),
        );
    }
    if let Some(unit) = &f.unit {
        push(
            &mut sql,
            " AND t.unit_id = $?",
            Value::Str(unit.to_string()),
        );
    }
    if let Some(phase) = f.phase {
        push(
            &mut sql,
            " AND t.phase = $?",
            Value::Str(phase.as_str().to_string()),
        );
    }
    if let Some(state) = &f.state {
        push(&mut sql, " AND t.state = $?", Value::Str(state.clone()));
    }
    if let Some(at) = f.overdue_at {
        push(
            &mut sql,
            " AND t.due_at IS NOT NULL AND t.due_at < $?",
            Value::Time(micros(at)),
        );
    }
    sql.push_str(" ORDER BY t.created_at, t.id");
    if let Some(limit) = f.limit {
        push(&mut sql, " LIMIT $?", Value::Int(limit.clamp(0, 10_000)));
    }
    if let Some(offset) = f.offset {
        push(&mut sql, " OFFSET $?", Value::Int(offset.max(0)));
    }
    // Built from constant clauses only; every value is a bound parameter.
    let args: Vec<Arg<'_>> = params.iter().map(Value::arg).collect();
    fetch_all(store, &sql, &args).await
}

/// Task reads that apply no access rule: see [`Tasks::unscoped`](super::Tasks::unscoped).
#[derive(Clone, Copy)]
pub struct Unscoped<'a> {
    pub(super) store: &'a Store,
}

impl Unscoped<'_> {
    /// A task by id, whoever asks.
    #[tracing::instrument(skip_all, fields(task = %id))]
    pub async fn get(&self, id: &str) -> Result<Task, StoreError> {
        task(self.store, id).await
    }

    /// Every task matching `f`, oldest first, whoever asks.
    #[tracing::instrument(skip_all)]
    pub async fn list(&self, f: &TaskFilter) -> Result<Vec<Task>, StoreError> {
        list(self.store, f).await
    }

    /// A transition with `decide`'s rules (role, own unit, documents, rounds) but not the
    /// visibility rule: an actor who may not see the task is refused by `decide` rather than
    /// told it does not exist. For tests of `decide` through the store; front ends use
    /// [`Tasks::transition_as`](super::Tasks::transition_as).
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %req.task_id, transition = %req.transition))]
    pub async fn transition_as(
        &self,
        actor: &Actor,
        req: &TransitionRequest,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        let step = Step::of(req);
        transition(self.store, None, &step, actor, now).await
    }

    /// A task's budget lines, by year.
    #[tracing::instrument(skip_all, fields(task = %task_id))]
    pub async fn budget(&self, task_id: &str) -> Result<Vec<BudgetLine>, StoreError> {
        budget(self.store, task_id).await
    }

    /// A task's documents, oldest first.
    #[tracing::instrument(skip_all, fields(task = %task_id))]
    pub async fn documents(&self, task_id: &str) -> Result<Vec<Document>, StoreError> {
        documents(self.store, task_id).await
    }

    /// A task's timers with the given status (`pending`, `cancelled`, `fired`), by fire time.
    #[tracing::instrument(skip_all, fields(task = %task_id))]
    pub async fn timers(
        &self,
        task_id: &str,
        status: &str,
    ) -> Result<Vec<TimerRecord>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT id, task_id, state, kind, spec, fire_at, due_at, status FROM timers WHERE task_id = $1 AND status = $2 ORDER BY fire_at, id",
            )
            .bind(task_id)
            .bind(status)
            .fetch_all(pool)
            .await?
        }))
    }

    /// A task's queued notifications, oldest first.
    #[tracing::instrument(skip_all, fields(task = %task_id))]
    pub async fn outbox(&self, task_id: &str) -> Result<Vec<OutboxRecord>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT id, task_id, template, payload, status, attempts, created_at FROM outbox WHERE task_id = $1 ORDER BY created_at, id",
            )
            .bind(task_id)
            .fetch_all(pool)
            .await?
        }))
    }
}
