//! The store side of the plan reports: one aggregate, [`Reports`], over the reads the progress
//! and status reports need.
//!
//! [`Reports::report_rows`] reads, in one query, what the reports need about every task of a
//! plan: the task, its budget line for the plan's year, and the audit entry that describes it as
//! of a date. [`Reports::unit_names_on`] names the units as they were called on a date.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use engine::Phase;
use engine::decide::Clock;
use engine::domain::FundingSource;
use engine::plan::YearStatus;
use engine::time::Instant;
use futures_util::TryStreamExt;
use sqlx::PgConnection;

use super::columns::{Columns, Pg, Positional};
use super::in_place::InPlace;
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
    /// A deadline a leader set, replacing the expected completion (`engine::assigned`).
    pub assigned_deadline_on: Option<NaiveDate>,
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
    /// When the task entered its current state, if the entry above is its latest (a note such
    /// as a deadline change or a forecast flag comes after it without moving the task).
    pub state_entered_at: Option<Instant>,
    /// When the task last moved, as of the describing entry: the time of its latest entry up
    /// to that one that moves it (a workflow transition, its first entry — created or imported —
    /// or a re-import that put it in another state). The stall count starts here: a document
    /// upload, a deadline or budget change, a note, a rename or a workflow migration records
    /// something about the task without moving it.
    pub moved_at: Instant,
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
    /// The year of the plan the row lists the task in.
    pub plan_year: i32,
    /// The section (appendix) of the plan the task is listed in, as the plan's layout keys it.
    pub section: String,
    /// Its category there (`thuong_xuyen`, `chuyen_tiep`, `moi` …).
    pub category: Option<String>,
    /// Funds carried over into the plan's year (chuyển nguồn), spent in it, and spent in the
    /// year before, in đồng.
    pub carried_over: Option<i64>,
    pub spent: Option<i64>,
    /// The planned allocation of the plan's year (dự kiến phân bổ), in đồng.
    pub planned_allocation: Option<i64>,
    pub spent_previous: Option<i64>,
    /// How the task did in the plan's year, as recorded by the report date
    /// ([`Reports::as_of`]).
    pub year_status: Option<engine::plan::YearStatus>,
    /// The task continues from earlier years rather than starting in the plan's year
    /// ([`engine::plan::is_continuing`], by [`Reports::as_of`]).
    pub continuing: bool,
}

/// One row of [`Reports::report_rows`]'s query, its fields in the order the SELECT lists its
/// columns (decoded by position, [`Described::decode`]).
struct Described {
    task_id: String,
    unit_id: String,
    unit_printed: Option<String>,
    name: String,
    funding_source: FundingSource,
    period: Option<String>,
    is_rental: bool,
    need_total_vnd: Option<i64>,
    approved_estimate_vnd: Option<i64>,
    need_year_vnd: Option<i64>,
    allocated_year_vnd: Option<i64>,
    expected_completion: Option<String>,
    expected_completion_on: Option<NaiveDate>,
    assigned_deadline_on: Option<NaiveDate>,
    progress_text: Option<String>,
    position: Option<i64>,
    created_at: Instant,
    clock: Option<String>,
    paused_clock: Option<String>,
    audit_seq: i64,
    entry_seq: i64,
    entry_kind: String,
    entry_at: Instant,
    state_entered_at: Instant,
    moved_at: Instant,
    actor_user: String,
    actor_name: Option<String>,
    actor_role: Option<String>,
    state: String,
    phase: Phase,
    comment: Option<String>,
    workflow: String,
    workflow_version: u32,
    entry_round: Option<i64>,
    plan_year: i32,
    listing_section: String,
    listing_category: Option<String>,
    carried_over_vnd: Option<i64>,
    spent_vnd: Option<i64>,
    planned_allocation_vnd: Option<i64>,
    /// Whether the describing entry was known at the cutoff ([`Described::KNOWN_THEN`]).
    known_then: bool,
}

/// Which audit entry describes each task, in a pass of [`Reports::each_report_row`].
#[derive(Clone, Copy)]
enum Entry {
    /// Its latest. Most tasks have not moved since the cutoff, and this is their row: one index
    /// lookup (or one hash join) per task.
    Latest,
    /// For each task the first pass left out (its latest entry was not known at the cutoff;
    /// their ids are bound as `$3`), the last entry that was: the latest at or before it, or
    /// else the import that created the task. A task with neither was created after the cutoff
    /// by other means, did not exist then, and has no row.
    AsOf,
}

impl Entry {
    /// The join of that entry, as `a`.
    fn join(self) -> &'static str {
        match self {
            Entry::Latest => "JOIN audit_log a ON a.task_id = t.id AND a.seq = t.audit_seq",
            // The ids are those the first pass left out, in the same snapshot: no need to look
            // at their latest entries again.
            Entry::AsOf => {
                "JOIN audit_log a ON a.task_id = t.id AND a.seq = COALESCE( \
                 (SELECT MAX(x.seq) FROM audit_log x WHERE x.task_id = t.id AND x.at <= $1), \
                 (SELECT y.seq FROM audit_log y WHERE y.task_id = t.id AND y.seq = 1 AND y.kind = 'import'))"
            }
        }
    }
}

impl Described {
    /// Whether the describing entry `a` was known at the cutoff (`$1`): recorded by then, or the
    /// import that created the task (an import records the plan's state as printed, the best
    /// knowledge of that date).
    const KNOWN_THEN: &str = "(a.at <= $1 OR (a.seq = 1 AND a.kind = 'import'))";

    /// The query of the listings `scope` picks, each task described by `entry`; its columns in
    /// the order of [`Described`]'s fields, which decodes them by position.
    fn sql(entry: Entry, scope: &str) -> String {
        let (entry, known_then) = (entry.join(), Described::KNOWN_THEN);
        format!(
            "SELECT t.id, t.unit_id, COALESCE(pl.unit_printed, t.unit_printed) AS unit_printed, t.name, t.funding_source, \
             t.period, t.is_rental, b.need_total_vnd, b.approved_estimate_vnd, b.need_year_vnd, b.allocated_year_vnd, \
             t.expected_completion, t.expected_completion_on, t.assigned_deadline_on, t.progress_text, \
             COALESCE(pl.position, t.position) AS position, t.created_at, t.clock, t.paused_clock, t.audit_seq, \
             a.seq AS entry_seq, a.kind AS entry_kind, a.at AS entry_at, t.state_entered_at, \
             CASE WHEN a.kind = 'transition' OR a.seq = 1 OR (a.kind = 'import_update' AND a.to_state <> a.from_state) \
             THEN a.at ELSE (SELECT m.at FROM audit_log m WHERE m.task_id = t.id AND m.seq < a.seq \
                 AND (m.kind = 'transition' OR m.seq = 1 OR (m.kind = 'import_update' AND m.to_state <> m.from_state)) \
                 ORDER BY m.seq DESC LIMIT 1) END AS moved_at, \
             a.actor_user, us.display_name AS actor_name, a.actor_role, a.to_state, a.to_phase, a.comment, \
             a.workflow AS entry_workflow, a.workflow_version AS entry_workflow_version, a.round AS entry_round, \
             p.year AS plan_year, pl.section AS listing_section, pl.category AS listing_category, \
             b.carried_over_vnd, b.spent_vnd, b.planned_allocation_vnd, {known_then} AS known_then \
             FROM plan_listings pl \
             JOIN tasks t ON t.id = pl.task_id \
             JOIN plans p ON p.id = pl.plan_id \
             LEFT JOIN budget_lines b ON b.task_id = t.id AND b.year = p.year \
             {entry} \
             LEFT JOIN users us ON us.username = a.actor_user \
             WHERE {scope}",
        )
    }

    /// Hands the row to `sink` if it is described by an entry known at the cutoff, or `all`;
    /// answers the task's id if it was left out (the task moved since: [`Entry::AsOf`] reads
    /// it).
    fn hand_to(self, sink: &mut dyn RowSink, all: bool) -> Result<Option<String>, StoreError> {
        if all || self.known_then {
            sink.push(self.into())?;
            Ok(None)
        } else {
            Ok(Some(self.task_id))
        }
    }
}

/// The query of a report's first pass over plan `plan_id` as of `cutoff` (each task described by
/// its latest entry, [`Entry::Latest`]), on PostgreSQL, with both as literals: for
/// `tiendo-bench floors`, which times PostgreSQL handing these rows over on its own.
pub fn report_rows_query(plan_id: &str, cutoff: Instant) -> String {
    let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let cutoff = micros(cutoff).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    Described::sql(Entry::Latest, "pl.plan_id = $2")
        .replace("$1", &format!("{}::timestamptz", literal(&cutoff)))
        .replace("$2", &literal(plan_id))
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
            assigned_deadline_on: r.assigned_deadline_on,
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
            state_entered_at: is_latest.then_some(r.state_entered_at),
            moved_at: r.moved_at,
            actor_user: r.actor_user,
            actor_name: r.actor_name,
            actor_role: r.actor_role,
            state: r.state,
            phase: r.phase,
            comment: r.comment,
            workflow: r.workflow,
            workflow_version: r.workflow_version,
            round: r.entry_round.and_then(|n| u32::try_from(n).ok()),
            plan_year: r.plan_year,
            section: r.listing_section,
            category: r.listing_category,
            carried_over: r.carried_over_vnd,
            spent: r.spent_vnd,
            planned_allocation: r.planned_allocation_vnd,
            spent_previous: None,
            year_status: None,
            continuing: false,
        }
    }
}

impl Positional for Described {
    /// The columns of [`Reports::report_rows`]'s query in the order of the fields (struct fields
    /// are evaluated in the order written).
    fn decode<C: Columns>(c: &mut C) -> Result<Described, C::Error> {
        Ok(Described {
            task_id: c.next()?,
            unit_id: c.next()?,
            unit_printed: c.next()?,
            name: c.next()?,
            funding_source: c.named()?,
            period: c.next()?,
            is_rental: c.next()?,
            need_total_vnd: c.next()?,
            approved_estimate_vnd: c.next()?,
            need_year_vnd: c.next()?,
            allocated_year_vnd: c.next()?,
            expected_completion: c.next()?,
            expected_completion_on: c.next()?,
            assigned_deadline_on: c.next()?,
            progress_text: c.next()?,
            position: c.next()?,
            created_at: c.instant()?,
            clock: c.next()?,
            paused_clock: c.next()?,
            audit_seq: c.next()?,
            entry_seq: c.next()?,
            entry_kind: c.next()?,
            entry_at: c.instant()?,
            state_entered_at: c.instant()?,
            moved_at: c.instant()?,
            actor_user: c.next()?,
            actor_name: c.next()?,
            actor_role: c.next()?,
            state: c.next()?,
            phase: c.named()?,
            comment: c.next()?,
            workflow: c.next()?,
            workflow_version: c.narrow()?,
            entry_round: c.next()?,
            plan_year: c.narrow()?,
            listing_section: c.next()?,
            listing_category: c.next()?,
            carried_over_vnd: c.next()?,
            spent_vnd: c.next()?,
            planned_allocation_vnd: c.next()?,
            known_then: c.next()?,
        })
    }
}

/// Where the rows of [`Reports::each_report_row`] go, one at a time.
pub trait RowSink: Send {
    /// About how many rows will come (an upper bound), before the first.
    fn expect(&mut self, _rows: usize) {}
    /// One row; an error stops the read and is its answer.
    fn push(&mut self, row: ReportRow) -> Result<(), StoreError>;
}

/// Collects the rows (sized up front: growing a vector of 100,000 records by doubling would
/// hold two).
impl RowSink for Vec<ReportRow> {
    fn expect(&mut self, rows: usize) {
        self.reserve_exact(rows);
    }

    fn push(&mut self, row: ReportRow) -> Result<(), StoreError> {
        Vec::push(self, row);
        Ok(())
    }
}

/// A row's place in printed order: file position (rows without one last), then creation, then
/// id (see [`printed_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedOrder {
    position: Option<i64>,
    created_at: Instant,
    task_id: String,
}

impl PrintedOrder {
    pub fn of(r: &ReportRow) -> PrintedOrder {
        PrintedOrder {
            position: r.position,
            created_at: r.created_at,
            task_id: r.task_id.clone(),
        }
    }
}

impl Ord for PrintedOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        printed_key(self.position, self.created_at, &self.task_id).cmp(&printed_key(
            other.position,
            other.created_at,
            &other.task_id,
        ))
    }
}

impl PartialOrd for PrintedOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The printed order's one rule, for [`PrintedOrder`] and [`in_printed_order`].
fn printed_key(
    position: Option<i64>,
    created_at: Instant,
    task_id: &str,
) -> (bool, Option<i64>, Instant, &str) {
    (position.is_none(), position, created_at, task_id)
}

/// Puts `rows` in printed order ([`PrintedOrder`]). Sorted through an index, then moved into
/// place once each: a sort that moves the records themselves (several hundred bytes each)
/// spent most of its time copying them.
fn in_printed_order(rows: &mut [ReportRow]) {
    fn key(r: &ReportRow) -> (bool, Option<i64>, Instant, &str) {
        printed_key(r.position, r.created_at, &r.task_id)
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_unstable_by(|&a, &b| key(&rows[a]).cmp(&key(&rows[b])));
    put_in_order(rows, order);
}

/// Moves the item at `order[k]` to position k, for every k (`order` is a permutation), with one
/// swap per item out of place: each cycle of the permutation is followed once.
pub(crate) fn put_in_order<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..items.len() {
        let mut k = start;
        while order[k] != k {
            let from = order[k];
            order[k] = k;
            if from == start {
                break;
            }
            items.swap(k, from);
            k = from;
        }
    }
}

/// What was known about a plan's tasks at the end of a date ([`Reports::known_on`]): each
/// budget line's history for the plan's year and the year before, the year-level statuses
/// recorded by then, the names the tasks had then, and which tasks continue from earlier years.
struct KnownOn {
    year: i32,
    as_of: NaiveDate,
    this_year: HashMap<String, Vec<(super::plan_years::BudgetEntry, bool)>>,
    last_year: HashMap<String, Vec<(super::plan_years::BudgetEntry, bool)>>,
    earlier: HashSet<String>,
    status_of: HashMap<String, Option<YearStatus>>,
    name_of: HashMap<String, String>,
}

impl KnownOn {
    /// Describes `rows` (of the plan this was read for) as known then: see [`Reports::as_of`].
    /// The rows are shared out in equal runs over the machine's processors (each row is
    /// described alone).
    fn describe(&self, rows: &mut [ReportRow]) {
        /// Fewer rows than this a thread are described on the calling thread.
        const LEAST_PER_THREAD: usize = 8192;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(rows.len() / LEAST_PER_THREAD)
            .max(1);
        if threads == 1 {
            return rows.iter_mut().for_each(|r| self.describe_row(r));
        }
        let per_thread = rows.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for part in rows.chunks_mut(per_thread) {
                scope.spawn(|| part.iter_mut().for_each(|r| self.describe_row(r)));
            }
        });
    }

    fn describe_row(&self, r: &mut ReportRow) {
        let as_of = Some(self.as_of);
        if let Some(entries) = self.this_year.get(&r.task_id) {
            match super::plan_years::known_on(entries, as_of) {
                Some(e) if !e.removed => {
                    let b = &e.budget;
                    r.budget = [
                        b.need_total_vnd,
                        b.approved_estimate_vnd,
                        b.need_year_vnd,
                        b.allocated_year_vnd,
                    ];
                    r.carried_over = b.carried_over_vnd;
                    r.spent = b.spent_vnd;
                    r.planned_allocation = b.planned_allocation_vnd;
                }
                Some(_) => {
                    r.budget = [None; 4];
                    (r.carried_over, r.spent) = (None, None);
                    r.planned_allocation = None;
                }
                None => {}
            }
        }
        r.spent_previous = self
            .last_year
            .get(&r.task_id)
            .and_then(|e| super::plan_years::known_on(e, as_of))
            .filter(|e| !e.removed)
            .and_then(|e| e.budget.spent_vnd);
        r.year_status = self.status_of.get(&r.task_id).copied().flatten();
        if let Some(n) = self.name_of.get(&r.task_id) {
            r.name.clone_from(n);
        }
        r.continuing = engine::plan::is_continuing(
            self.year,
            self.earlier.contains(&r.task_id),
            r.category.as_deref(),
            r.period.as_deref(),
        );
    }
}

impl Reports<'_> {
    /// The units' proposals still waiting for UBND, oldest first (the reports list them).
    pub async fn pending_proposals(&self) -> Result<Vec<super::ProposalRecord>, StoreError> {
        super::tasks::pending_proposals(self.store).await
    }

    /// Every task of `plan` (all plans when `None`) as of `cutoff`: described by its latest audit
    /// entry at or before `cutoff`, or, for a task imported after `cutoff`, by its import entry
    /// (an import records the plan's state as printed, the best knowledge of that date). Tasks
    /// created after `cutoff` by other means did not exist then and are left out. Ordered by
    /// file position, then creation. The common cases (the latest entry is before the cutoff, or
    /// is the import itself) are read in one pass that joins each task to its latest entry;
    /// the tasks that moved after the cutoff are then read by id in a second pass, over the
    /// same snapshot, that searches their chains ([`Entry::AsOf`]).
    #[tracing::instrument(skip_all, fields(plan = plan.unwrap_or("*")))]
    pub async fn report_rows(
        &self,
        plan: Option<&str>,
        cutoff: Instant,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let mut rows = Vec::new();
        self.each_report_row(plan, cutoff, &mut rows).await?;
        in_printed_order(&mut rows);
        Ok(rows)
    }

    /// [`Reports::report_rows`] handed to `sink` one row at a time, as they are read and in no
    /// particular order (a caller that needs the printed order sorts by [`PrintedOrder`]):
    /// a caller can work on the rows while the rest are read, and need not hold them all.
    #[tracing::instrument(skip_all, fields(plan = plan.unwrap_or("*")))]
    pub async fn each_report_row(
        &self,
        plan: Option<&str>,
        cutoff: Instant,
        sink: &mut dyn RowSink,
    ) -> Result<(), StoreError> {
        let cutoff = micros(cutoff);
        let plan_id = match plan {
            Some(p) => Some(self.store.directory().plan(p).await?.id),
            None => None,
        };
        // One plan: its listings by the primary key (plan_id, task_id), not a scan of every
        // plan's listings; every plan: each task in the plan it first entered.
        let scope = if plan_id.is_some() {
            "pl.plan_id = $2"
        } else {
            "$2 = '' AND pl.plan_id = t.plan_id"
        };
        let latest = Described::sql(Entry::Latest, scope);
        // An upper bound to size the records up front, from an index alone (every listing has
        // its task; every task is listed in the plan it first entered): counting the join
        // itself took 0.34 s of a 100,000-task report on PostgreSQL.
        let count_sql = if plan_id.is_some() {
            "SELECT COUNT(*) FROM plan_listings WHERE plan_id = $1"
        } else {
            "SELECT COUNT(*) FROM tasks WHERE $1 = ''"
        };
        let scope_arg = plan_id.clone().unwrap_or_default();
        // Both reads see one snapshot, so that a task that moves between them is read once.
        match &self.store.db {
            super::Db::Postgres(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?;
                // The planner prices the moved-at subquery (run for few rows) per row, and the
                // sum passes the threshold at which PostgreSQL compiles the query to machine
                // code first: 0.4-0.8 s of compiling for a 0.45 s query of 100,000 tasks.
                sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
                // Workers would hand every row to this backend through shared memory: for a
                // result this wide (600 bytes a row) that costs more than the joins they share.
                sqlx::query("SET LOCAL max_parallel_workers_per_gather = 0")
                    .execute(&mut *tx)
                    .await?;
                // Sized up front: growing a vector of 100,000 records by doubling would hold two.
                let count: i64 = sqlx::query_scalar(count_sql)
                    .bind(&scope_arg)
                    .fetch_one(&mut *tx)
                    .await?;
                sink.expect(usize::try_from(count).unwrap_or(0));
                // Streamed: a 100,000-task plan is never held twice (raw rows and records).
                let mut stream =
                    async |sql: &str, late: Option<&[String]>, tx: &mut PgConnection| {
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(cutoff)
                            .bind(&scope_arg);
                        if let Some(ids) = late {
                            query = query.bind(ids);
                        }
                        let mut rows = query.fetch(tx);
                        let mut left_out = Vec::new();
                        while let Some(row) = rows.try_next().await? {
                            let d = Described::decode(&mut Pg::of(&row))?;
                            left_out.extend(d.hand_to(sink, late.is_some())?);
                        }
                        Ok::<_, StoreError>(left_out)
                    };
                let late = stream(&latest, None, &mut tx).await?;
                if !late.is_empty() {
                    let scope = format!("{scope} AND t.id = ANY($3)");
                    let as_of = Described::sql(Entry::AsOf, &scope);
                    stream(&as_of, Some(&late), &mut tx).await?;
                }
                tx.commit().await?;
            }
            super::Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                // The inner result is the sink's: one that stops (its consumer is gone) ends
                // the read with its own error.
                super::in_place::read(&mut conn, |db| {
                    // The query walks a handful of B-trees side by side; with SQLite's default
                    // 2 MB page cache they evict each other and every row costs several page
                    // reads.
                    db.execute_batch("PRAGMA cache_size = -32768")?;
                    let result = (|| {
                        let tx = db.unchecked_transaction()?;
                        let count: i64 = db.query_row(
                            count_sql,
                            rusqlite::named_params! {"$1": scope_arg},
                            |r| r.get(0),
                        )?;
                        sink.expect(usize::try_from(count).unwrap_or(0));
                        let mut stream = |sql: &str, late: Option<&str>| {
                            let mut stmt = db.prepare(sql)?;
                            let at = super::in_place::instant(cutoff);
                            let mut rows = match late {
                                None => stmt.query(rusqlite::named_params! {
                                    "$1": at, "$2": scope_arg,
                                })?,
                                Some(ids) => stmt.query(rusqlite::named_params! {
                                    "$1": at, "$2": scope_arg, "$3": ids,
                                })?,
                            };
                            let mut left_out = Vec::new();
                            while let Some(row) = rows.next()? {
                                let d = Described::decode(&mut InPlace::of(row))?;
                                match d.hand_to(sink, late.is_some()) {
                                    Ok(id) => left_out.extend(id),
                                    Err(stopped) => return Ok(Err(stopped)),
                                }
                            }
                            Ok::<_, rusqlite::Error>(Ok(left_out))
                        };
                        let read = match stream(&latest, None)? {
                            Ok(late) if late.is_empty() => Ok(()),
                            Ok(late) => {
                                let ids = serde_json::to_string(&late).map_err(|e| {
                                    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
                                })?;
                                let scope = format!(
                                    "{scope} AND t.id IN (SELECT value FROM json_each($3))"
                                );
                                let as_of = Described::sql(Entry::AsOf, &scope);
                                stream(&as_of, Some(&ids))?.map(drop)
                            }
                            Err(stopped) => Err(stopped),
                        };
                        tx.commit()?;
                        Ok(read)
                    })();
                    db.execute_batch("PRAGMA cache_size = -2000")?;
                    result
                })
                .await??;
            }
        }
        Ok(())
    }

    /// [`Reports::report_rows`] of `plan` up to `cutoff`, described as known at the end of
    /// `as_of` ([`Reports::as_of`]). What was known then is read beside the rows, on a second
    /// connection, so that both are read at once (a 100,000-task report's history takes a
    /// quarter of a second to read). On SQLite the gain is small (a 100,000-task Markdown
    /// report: 1.23–1.35 s one after the other, 1.14–1.33 s side by side) and needs SQLite built
    /// without its process-wide allocation and page-cache locks (`.cargo/config.toml`); with
    /// them the two connections waited for each other and it gained nothing.
    pub async fn report_rows_as_of(
        &self,
        plan: &super::Plan,
        cutoff: Instant,
        as_of: NaiveDate,
    ) -> Result<Vec<ReportRow>, StoreError> {
        // On SQLite the rows are read in place: the reading thread blocks (`block_in_place`),
        // and with it every future of its task, so what describes the rows is read by a task of
        // its own, on the other processor, while they are read.
        let known = {
            let (store, plan) = (self.store.clone(), plan.clone());
            // In the caller's span, so that its log lines carry the request's id.
            let read = async move { store.reports().known_on(&plan, as_of).await };
            tokio::spawn(tracing::Instrument::in_current_span(read))
        };
        let rows = self.report_rows(Some(&plan.id), cutoff).await;
        if rows.is_err() {
            known.abort();
        }
        let mut rows = rows?;
        let known = match known.await {
            Ok(known) => known?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                return Err(StoreError::internal(format!(
                    "reading the as-of history: {e}"
                )));
            }
        };
        known.describe(&mut rows);
        Ok(rows)
    }

    /// Describes `rows` (those of [`Reports::report_rows`] for `plan`) as known at the end of
    /// `as_of`, so that a report of that date reads the same whenever it is made: each budget
    /// line as its history knew it then (`budget_history`: the last figures known from that date
    /// and recorded by its end), the year-level status recorded by then, the task's name then
    /// (`task_renames`), the previous year's spending, and whether the task continues from
    /// earlier years (listed in an earlier plan, linked to another task, a "chuyển tiếp"
    /// category or a period that starts before the plan's year).
    pub async fn as_of(
        &self,
        rows: &mut [ReportRow],
        plan: &super::Plan,
        as_of: NaiveDate,
    ) -> Result<(), StoreError> {
        self.known_on(plan, as_of).await?.describe(rows);
        Ok(())
    }

    /// What [`Reports::as_of`] reads about `plan`'s tasks as known at the end of `as_of`, to
    /// describe rows with ([`KnownOn::describe`]); it can be read beside the rows themselves.
    #[tracing::instrument(skip_all, fields(plan = %plan.number))]
    async fn known_on(&self, plan: &super::Plan, as_of: NaiveDate) -> Result<KnownOn, StoreError> {
        let cutoff = micros(engine::time::end_of_day(as_of));
        let plans = self.store.plans();
        let [this_year, last_year] = plans.budget_entries_of_plan(&plan.id, plan.year).await?;
        type Ids = Vec<(String,)>;
        type Statuses = Vec<(String, Option<String>, Instant)>;
        type Renames = Vec<(String, String, Instant)>;
        let (earlier, statuses, renames, linked): (Ids, Statuses, Renames, Ids) = with_db!(
            self.store,
            |pool| {
                let earlier = sqlx::query_as(
                "SELECT DISTINCT l.task_id FROM plan_listings l JOIN plans p ON p.id = l.plan_id \
                 JOIN plan_listings m ON m.task_id = l.task_id AND m.plan_id = $1 WHERE p.year < $2",
            )
            .bind(&plan.id)
            .bind(i64::from(plan.year))
            .fetch_all(pool)
            .await?;
                let statuses = sqlx::query_as(
                    "SELECT task_id, year_status, recorded_at FROM year_status_history \
                 WHERE plan_id = $1 AND recorded_at <= $2 ORDER BY recorded_at, id",
                )
                .bind(&plan.id)
                .bind(cutoff)
                .fetch_all(pool)
                .await?;
                // The earliest rename after the cutoff names the task as it was then.
                let renames = sqlx::query_as(
                    "SELECT r.task_id, r.old_name, r.at FROM task_renames r \
                 JOIN plan_listings m ON m.task_id = r.task_id AND m.plan_id = $1 \
                 WHERE r.at > $2 ORDER BY r.at DESC, r.id DESC",
                )
                .bind(&plan.id)
                .bind(cutoff)
                .fetch_all(pool)
                .await?;
                let linked = sqlx::query_as(
                    "SELECT DISTINCT x.task_id FROM task_lineage x \
                 JOIN plan_listings m ON m.task_id = x.task_id AND m.plan_id = $1 WHERE x.at <= $2",
                )
                .bind(&plan.id)
                .bind(cutoff)
                .fetch_all(pool)
                .await?;
                (earlier, statuses, renames, linked)
            }
        );
        let earlier: HashSet<String> = earlier.into_iter().chain(linked).map(|e| e.0).collect();
        let mut status_of: HashMap<String, Option<YearStatus>> = HashMap::new();
        for (task, status, _) in statuses {
            status_of.insert(task, status.and_then(|s| s.parse().ok()));
        }
        let mut name_of: HashMap<String, String> = HashMap::new();
        for (task, old_name, _) in renames {
            name_of.insert(task, old_name);
        }
        Ok(KnownOn {
            year: plan.year,
            as_of,
            this_year,
            last_year,
            earlier,
            status_of,
            name_of,
        })
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

#[cfg(test)]
impl super::Plan {
    /// Plan 215/KH-UBND of 2025, for the reports' unit tests.
    pub(crate) fn example() -> super::Plan {
        super::Plan {
            id: "p1".into(),
            number: "215/KH-UBND".into(),
            year: 2025,
            title: "Kế hoạch năm 2025".into(),
            issued_on: None,
        }
    }
}

#[cfg(test)]
impl ReportRow {
    /// A task of unit `so-y-te`, proposed (`mua-sam`, `de_xuat`) by its import at `at`, for
    /// the reports' unit tests.
    pub(crate) fn example(task_id: &str, at: Instant) -> ReportRow {
        ReportRow {
            task_id: task_id.into(),
            unit_id: "so-y-te".into(),
            unit_printed: Some("Sở Y tế".into()),
            name: format!("Nhiệm vụ {task_id}"),
            funding_source: FundingSource::ThuongXuyen,
            period: Some("2025".into()),
            is_rental: false,
            budget: [Some(1_000_000_000), None, None, None],
            expected_completion: None,
            expected_completion_on: None,
            assigned_deadline_on: None,
            progress_text: None,
            position: Some(1),
            created_at: at,
            clock: None,
            paused: false,
            paused_clock: None,
            entry_seq: 1,
            is_latest: true,
            entry_kind: "import".into(),
            entry_at: at,
            state_entered_at: Some(at),
            moved_at: at,
            actor_user: "nhap.lieu".into(),
            actor_name: None,
            actor_role: None,
            state: "de_xuat".into(),
            phase: Phase::Proposed,
            comment: None,
            workflow: "mua-sam".into(),
            workflow_version: 1,
            round: None,
            plan_year: 2025,
            section: "1".into(),
            category: None,
            carried_over: None,
            spent: None,
            planned_allocation: None,
            spent_previous: None,
            year_status: None,
            continuing: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::put_in_order;

    /// Every permutation of six items lands each item where the order says.
    #[test]
    fn put_in_order_follows_every_permutation() {
        fn permutations(n: usize) -> Vec<Vec<usize>> {
            if n == 0 {
                return vec![Vec::new()];
            }
            let mut out = Vec::new();
            for p in permutations(n - 1) {
                for at in 0..n {
                    let mut q = p.clone();
                    q.insert(at, n - 1);
                    out.push(q);
                }
            }
            out
        }
        let all = permutations(6);
        assert_eq!(all.len(), 720);
        for order in all {
            let mut items: Vec<char> = "abcdef".chars().collect();
            let expected: Vec<char> = order.iter().map(|&i| items[i]).collect();
            put_in_order(&mut items, order);
            assert_eq!(items, expected);
        }
    }
}
