//! The store side of the plan reports: one aggregate, [`Reports`], over the reads the progress
//! and status reports need.
//!
//! [`Reports::report_rows`] reads, in one query, what the reports need about every task of a
//! plan: the task, its budget line for the plan's year, and the audit entry that describes it as
//! of a date. [`Reports::unit_names_on`] names the units as they were called on a date.

use std::collections::HashMap;

use chrono::NaiveDate;
use engine::Phase;
use engine::decide::Clock;
use engine::domain::FundingSource;
use engine::time::Instant;
use futures_util::TryStreamExt;
use sqlx::FromRow;

use super::micros;
use super::{Store, StoreError, with_db};

/// The reports' reads.
#[derive(Debug, Clone, Copy)]
pub struct Reports<'a> {
    store: &'a Store,
}

impl Store {
    /// The reports' reads: see [`Reports`].
    pub fn reports(&self) -> Reports<'_> {
        Reports { store: self }
    }
}

/// A task as the reports see it on a date: the task, its budget line for its plan's year, and
/// the audit entry that describes it then (see [`Reports::report_rows`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub task_id: String,
    pub unit_id: String,
    pub unit_printed: Option<String>,
    pub name: String,
    pub funding_source: FundingSource,
    pub period: Option<String>,
    pub is_rental: bool,
    pub budget: [Option<i64>; 4],
    pub expected_completion: Option<String>,
    pub expected_completion_on: Option<NaiveDate>,
    /// The printed progress text as last imported.
    pub progress_text: Option<String>,
    pub position: Option<i64>,
    pub created_at: Instant,
    /// The task's current deadline clock, if the entry below is its latest.
    pub clock: Option<Clock>,
    pub paused: bool,
    /// The clock stopped while the dossier is back with the unit, if the entry is the latest.
    pub paused_clock: Option<Clock>,
    /// The describing entry.
    pub entry_seq: i64,
    pub is_latest: bool,
    pub entry_kind: String,
    pub entry_at: Instant,
    pub actor_user: String,
    pub actor_name: Option<String>,
    pub actor_role: Option<String>,
    pub state: String,
    pub phase: Phase,
    pub comment: Option<String>,
    pub workflow: String,
    pub workflow_version: u32,
    /// The round of the step the describing entry entered ("lần 2"), when it was kept.
    pub round: Option<u32>,
}

/// One row of [`Reports::report_rows`]'s query, as the columns name it.
#[derive(sqlx::FromRow)]
struct Described {
    #[sqlx(rename = "id")]
    task_id: String,
    unit_id: String,
    unit_printed: Option<String>,
    name: String,
    #[sqlx(try_from = "String")]
    funding_source: FundingSource,
    period: Option<String>,
    is_rental: bool,
    need_total_vnd: Option<i64>,
    approved_estimate_vnd: Option<i64>,
    need_year_vnd: Option<i64>,
    allocated_year_vnd: Option<i64>,
    expected_completion: Option<String>,
    expected_completion_on: Option<NaiveDate>,
    progress_text: Option<String>,
    position: Option<i64>,
    created_at: Instant,
    clock: Option<String>,
    paused_clock: Option<String>,
    audit_seq: i64,
    entry_seq: i64,
    entry_kind: String,
    entry_at: Instant,
    actor_user: String,
    actor_name: Option<String>,
    actor_role: Option<String>,
    #[sqlx(rename = "to_state")]
    state: String,
    #[sqlx(rename = "to_phase", try_from = "String")]
    phase: Phase,
    comment: Option<String>,
    #[sqlx(rename = "entry_workflow")]
    workflow: String,
    #[sqlx(rename = "entry_workflow_version", try_from = "i64")]
    workflow_version: u32,
    entry_round: Option<i64>,
}

impl From<Described> for ReportRow {
    /// The task's clock counts only when the describing entry is its latest.
    fn from(r: Described) -> Self {
        let is_latest = r.entry_seq == r.audit_seq;
        ReportRow {
            task_id: r.task_id,
            unit_id: r.unit_id,
            unit_printed: r.unit_printed,
            name: r.name,
            funding_source: r.funding_source,
            period: r.period,
            is_rental: r.is_rental,
            budget: [
                r.need_total_vnd,
                r.approved_estimate_vnd,
                r.need_year_vnd,
                r.allocated_year_vnd,
            ],
            expected_completion: r.expected_completion,
            expected_completion_on: r.expected_completion_on,
            progress_text: r.progress_text,
            position: r.position,
            created_at: r.created_at,
            clock: r
                .clock
                .filter(|_| is_latest)
                .and_then(|c| serde_json::from_str(&c).ok()),
            paused: is_latest && r.paused_clock.is_some(),
            paused_clock: r
                .paused_clock
                .filter(|_| is_latest)
                .and_then(|c| serde_json::from_str(&c).ok()),
            entry_seq: r.entry_seq,
            is_latest,
            entry_kind: r.entry_kind,
            entry_at: r.entry_at,
            actor_user: r.actor_user,
            actor_name: r.actor_name,
            actor_role: r.actor_role,
            state: r.state,
            phase: r.phase,
            comment: r.comment,
            workflow: r.workflow,
            workflow_version: r.workflow_version,
            round: r.entry_round.and_then(|n| u32::try_from(n).ok()),
        }
    }
}

impl Reports<'_> {
    /// Every task of `plan` (all plans when `None`) as of `cutoff`: described by its latest audit
    /// entry at or before `cutoff`, or, for a task imported after `cutoff`, by its import entry
    /// (an import records the plan's state as printed, the best knowledge of that date). Tasks
    /// created after `cutoff` by other means did not exist then and are left out. Ordered by
    /// file position, then creation. The common cases (the latest entry is before the cutoff, or
    /// is the import itself) cost one index lookup per task; only tasks that moved after the
    /// cutoff search their chain.
    #[tracing::instrument(skip_all, fields(plan = plan.unwrap_or("*")))]
    pub async fn report_rows(
        &self,
        plan: Option<&str>,
        cutoff: Instant,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let cutoff = micros(cutoff);
        let plan_id = match plan {
            Some(p) => Some(self.store.directory().plan(p).await?.id),
            None => None,
        };
        let sqlite = self.store.backend() == super::Backend::Sqlite;
        let rows: Vec<ReportRow> = with_db!(self.store, |pool| {
            let mut conn = pool.acquire().await?;
            if sqlite {
                // The query walks a handful of B-trees side by side; with SQLite's default 2 MB
                // page cache they evict each other and every row costs several page reads.
                sqlx::query("PRAGMA cache_size = -32768")
                    .execute(&mut *conn)
                    .await?;
            }
            let result: Result<Vec<ReportRow>, sqlx::Error> = async {
            // Sized up front: growing a vector of 100,000 records by doubling would hold two.
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE ($1 = '' OR plan_id = $1)")
                    .bind(plan_id.clone().unwrap_or_default())
                    .fetch_one(&mut *conn)
                    .await?;
            let mut rows = sqlx::query(
                "SELECT t.id, t.unit_id, t.unit_printed, t.name, t.funding_source, \
                 t.period, t.is_rental, t.expected_completion, t.expected_completion_on, t.progress_text, \
                 t.position, t.created_at, t.clock, t.paused_clock, t.audit_seq, \
                 b.need_total_vnd, b.approved_estimate_vnd, b.need_year_vnd, b.allocated_year_vnd, \
                 a.seq AS entry_seq, a.kind AS entry_kind, a.at AS entry_at, a.actor_user, a.actor_role, a.to_state, \
                 a.to_phase, a.comment, a.workflow AS entry_workflow, a.workflow_version AS entry_workflow_version, \
                 a.round AS entry_round, us.display_name AS actor_name \
                 FROM tasks t \
                 JOIN plans p ON p.id = t.plan_id \
                 LEFT JOIN budget_lines b ON b.task_id = t.id AND b.year = p.year \
                 JOIN audit_log l ON l.task_id = t.id AND l.seq = t.audit_seq \
                 JOIN audit_log a ON a.task_id = t.id AND a.seq = CASE WHEN l.at <= $1 OR (l.seq = 1 AND l.kind = 'import') THEN l.seq ELSE COALESCE( \
                     (SELECT MAX(x.seq) FROM audit_log x WHERE x.task_id = t.id AND x.at <= $1), \
                     (SELECT y.seq FROM audit_log y WHERE y.task_id = t.id AND y.seq = 1 AND y.kind = 'import')) END \
                 LEFT JOIN users us ON us.username = a.actor_user \
                 WHERE ($2 = '' OR t.plan_id = $2)",
            )
            .bind(cutoff)
            .bind(plan_id.clone().unwrap_or_default())
            .fetch(&mut *conn);
            // Streamed: a 100,000-task plan is never held twice (raw rows and records).
            let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
            while let Some(row) = rows.try_next().await? {
                out.push(Described::from_row(&row)?.into());
            }
            drop(rows);
            Ok(out)
            }
            .await;
            if sqlite {
                sqlx::query("PRAGMA cache_size = -2000")
                    .execute(&mut *conn)
                    .await?;
            }
            result?
        });
        let mut rows = rows;
        rows.sort_by(|a, b| {
            (a.position.is_none(), a.position, a.created_at, &a.task_id).cmp(&(
                b.position.is_none(),
                b.position,
                b.created_at,
                &b.task_id,
            ))
        });
        Ok(rows)
    }

    /// Unit id → the unit's name on `date` (names are effective-dated), for every unit.
    #[tracing::instrument(skip_all)]
    pub async fn unit_names_on(
        &self,
        date: NaiveDate,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String, NaiveDate)> = with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT unit_id, name, valid_from FROM unit_names ORDER BY unit_id, valid_from",
            )
            .fetch_all(pool)
            .await?
        });
        let mut out: HashMap<String, String> = HashMap::new();
        for (unit, name, from) in rows {
            // The first name counts for dates before any record; later ones from their date.
            if from <= date || !out.contains_key(&unit) {
                out.insert(unit, name);
            }
        }
        Ok(out)
    }
}
