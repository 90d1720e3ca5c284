//! The store side of plan import: one aggregate, [`Imports`], and its door.
//!
//! [`Imports::import_plan_as`] (a user, ruled on by [`engine::access::may_import`]) and
//! [`Imports::import_plan`] (the operator at the shell) run one import: the engine checks and
//! parses the catalogue ([`catalogue::prepare`]), this module writes it in one transaction, and
//! the engine reports on it ([`Prepared::report`]). Nothing is decided here that the engine
//! decides: which rows are new, changed or unchanged, what changed, and where a task goes.
//!
//! The write ([`Imports::write`]), step by step, in one transaction:
//!
//! 1. [`ensure_plan`]: the plan, created when missing;
//! 2. [`add_missing_units`]: the units the file names that the directory lacks;
//! 3. [`read_known`]: what earlier imports created in the plan, streamed into fingerprints, and
//!    the rows matched against it ([`reimport::match_rows`]);
//! 4. [`changes_of`]: for the rows whose fingerprint differs, what changed; [`decide_updates`]:
//!    what each changed row does to its task ([`reimport::decide_update`]);
//! 5. [`insert_new_tasks`]: new tasks, 500 at a time, each with its listing in the plan
//!    (`plan_listings`, which later imports find it by), its budget line (and the line's first
//!    entry in `budget_history`) and its first audit entry (kind `import`). On PostgreSQL each
//!    table's rows go in one `COPY ... FROM STDIN` for the whole import (five statements for a
//!    100,000-row plan, not 500,000 round trips nor the multi-row `INSERT`s' parsing and
//!    binding of thousands of parameters each); on SQLite, which has no round trips, one prepared
//!    statement a table is stepped row by row on the connection's own handle
//!    ([`in_place::write`]). The hash of each task's first entry is computed one by one, so the
//!    per-task chains verify like any other;
//! 6. [`apply_updates`]: each changed task updated (compare-and-set on its version) with an
//!    `import_update` entry.
//!
//! After the commit, on PostgreSQL, an import that created more tasks than the planner knew the
//! table to hold has the tables it filled analysed ([`refresh_statistics`]), so that the plan's
//! first report is not planned as if the plan were empty.
//!
//! An unchanged row writes nothing, so importing the same file twice leaves the database as it
//! was.

mod copy_text;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use engine::catalogue::entries::{IMPORT_KIND, IMPORT_UPDATE_KIND, new_task_entry};
use engine::catalogue::reimport::{
    self, Fingerprint, ImportedValues, Matched, OnRecord, Update, UpdateError, decide_update,
};
use engine::catalogue::{
    self, CatalogueError, CatalogueRow, ImportOutcome, ImportPlan, ImportReport, Importer,
    PlanImport, Prepared,
};
use engine::decide::Actor;
use engine::time::{Instant, local_date};
use engine::workflow::Catalog;
use futures_util::TryStreamExt;
use sqlx::{FromRow, Row};

use super::audit::{self, AuditRecord, insert_audit};
use super::plans::{
    NewListing, Recorded, budget_line_values, budget_lines_columns, listings_columns, record_budget,
};
use super::sql::{Arg, Conn};
use super::{BudgetLine, Db, Store, StoreError, in_place, is_unique_violation};
use super::{micros, new_id};
use crate::progress::Tracker;
use copy_text::CopyText;

/// Importing plans.
#[derive(Clone, Copy)]
pub struct Imports<'a> {
    store: &'a Store,
    /// Hears how far an import has got (`&()` unless [`Imports::tracked`]).
    tracker: &'a dyn Tracker,
}

impl std::fmt::Debug for Imports<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imports").finish_non_exhaustive()
    }
}

impl Store {
    /// Importing plans: see [`Imports`].
    pub fn imports(&self) -> Imports<'_> {
        Imports {
            store: self,
            tracker: &(),
        }
    }
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The files or the plan's name: nothing was asked of the store.
    #[error("{0}")]
    Catalogue(#[from] CatalogueError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl<'a> Imports<'a> {
    /// The same doors, telling `tracker` how far an import has got: checking the file, reading
    /// what earlier imports wrote, the new tasks written (counted), the changed tasks updated
    /// (counted).
    pub fn tracked(self, tracker: &'a dyn Tracker) -> Imports<'a> {
        Imports { tracker, ..self }
    }

    /// Imports a catalogue into its plan as `actor`, who must be allowed to
    /// ([`engine::access::may_import`]); the audit log records the role they imported in.
    #[tracing::instrument(name = "import_plan", skip_all, fields(user = %actor.user, plan = %request.plan.number))]
    pub async fn import_plan_as(
        &self,
        actor: &Actor,
        request: PlanImport,
        now: Instant,
    ) -> Result<ImportReport, ImportError> {
        let importer = Importer::acting(actor).map_err(StoreError::from)?;
        self.import(&importer, request, now).await
    }

    /// Imports a catalogue into its plan for the operator at the shell, who holds the database
    /// and needs no account: the audit log records `operator` (`cli:LOGIN`) with no role.
    #[tracing::instrument(name = "import_plan", skip_all, fields(user = %operator, plan = %request.plan.number))]
    pub async fn import_plan(
        &self,
        operator: &str,
        request: PlanImport,
        now: Instant,
    ) -> Result<ImportReport, ImportError> {
        let importer = Importer::operator(operator);
        self.import(&importer, request, now).await
    }

    async fn import(
        &self,
        importer: &Importer,
        request: PlanImport,
        now: Instant,
    ) -> Result<ImportReport, ImportError> {
        self.tracker.stage("Kiểm tra tệp", 0);
        let prepared = catalogue::prepare(request, self.store.catalog(), local_date(now))?;
        let outcome = self.write(&prepared, importer, now).await?;
        Ok(prepared.report(outcome))
    }

    /// Writes a prepared catalogue in one transaction (see the module documentation).
    async fn write(
        &self,
        prepared: &Prepared,
        importer: &Importer,
        now: Instant,
    ) -> Result<ImportOutcome, StoreError> {
        let now = micros(now);
        let plan = &prepared.plan;
        // The figures of a plan's first import are known from the day it was issued.
        let known_from = plan.issued_on.unwrap_or_else(|| local_date(now));
        let number = plan.number.trim();
        let rows = &prepared.catalogue.rows;
        let written = async {
            let mut tx = Tx::begin(self.store).await?;
            tx.widen_cache().await?;
            let (plan_id, plan_created) = ensure_plan(&mut tx, plan, now).await?;
            let units_created = add_missing_units(&mut tx, &prepared.spellings, now).await?;
            self.tracker.stage("Đọc các nhiệm vụ đã nhập", 0);
            let known = read_known(&mut tx, &plan_id, plan.year).await?;
            let matched =
                reimport::match_rows(rows, |key| known.get(key).map(|k| (k, &k.fingerprint)));
            let Matched {
                fresh,
                changed,
                unchanged,
            } = matched;
            let changes = changes_of(&mut tx, &changed, plan.year).await?;
            let mut outcome = ImportOutcome {
                plan_id: plan_id.clone(),
                plan_created,
                units_created,
                unchanged,
                ..ImportOutcome::default()
            };
            let updates = decide_updates(
                self.store.catalog(),
                changed.into_iter().zip(changes),
                importer,
                now,
                &mut outcome,
            )?;
            let writer = Writer {
                importer,
                now,
                tracker: self.tracker,
            };
            (outcome.created, outcome.by_workflow) = insert_new_tasks(
                &mut tx, &plan_id, plan.year, fresh, known_from, None, writer,
            )
            .await?;
            apply_updates(&mut tx, &plan_id, &updates, plan.year, writer).await?;
            tx.narrow_cache().await?;
            tx.commit().await?;
            refresh_statistics(self.store, outcome.created).await;
            Ok::<_, StoreError>(outcome)
        }
        .await;
        match written {
            // The same rows written meanwhile: a unique violation through sqlx, or through the
            // in-place write of the new rows on SQLite.
            Err(StoreError::Database(e)) if is_unique_violation(&e) => Err(duplicate(number)),
            Err(StoreError::Duplicate(_)) => Err(duplicate(number)),
            other => other,
        }
    }
}

/// The tables a bulk import fills, which a report's query joins.
const IMPORTED_TABLES: &str = "tasks, plan_listings, audit_log, budget_lines, budget_history";

/// After an import that created more tasks than PostgreSQL's planner last knew the `tasks` table
/// to hold (`pg_class.reltuples`; -1 before its first analysis), the planner's picture of the
/// imported tables is refreshed at once, as PostgreSQL's manual advises after a bulk load
/// ("Populating a Database": run `ANALYZE` afterwards), instead of waiting up to a minute for
/// autovacuum. Without it the report of a plan just imported is planned as if the plan held 555
/// of its 100,000 tasks, as a nested loop of index lookups: its rows took 0.78 s to read alone,
/// 0.33 s once analysed. The sample is small (`default_statistics_target` 10, 3,000 rows a
/// table: 0.1 s at 100,000 tasks, against 0.9 s at the default 100), enough for the sizes and
/// selectivities these joins turn on; autovacuum's own analysis replaces it once a tenth of
/// the rows have changed. The import has committed by then: a failure is logged, not returned.
async fn refresh_statistics(store: &Store, created: usize) {
    let Db::Postgres(pool) = &store.db else {
        return;
    };
    let refresh = async {
        let known: f32 =
            sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'tasks'::regclass")
                .fetch_one(pool)
                .await?;
        if created as f32 <= known.max(0.0) {
            return Ok(false);
        }
        let mut tx = pool.begin().await?;
        sqlx::query("SET LOCAL default_statistics_target = 10")
            .execute(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {IMPORTED_TABLES}")))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(true)
    };
    match refresh.await {
        Ok(true) => tracing::info!(created, "planner statistics refreshed after the import"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "refreshing the planner statistics after the import"),
    }
}

/// Another import into plan `number` wrote the same rows meanwhile.
fn duplicate(number: &str) -> StoreError {
    StoreError::Invalid(format!(
        "Một lần nhập khác vào kế hoạch {number} vừa ghi cùng dữ liệu; không ghi gì ở lần này. Hãy chạy lại lệnh nhập (các dòng đã có sẽ được giữ nguyên)."
    ))
}

/// The import's transaction, on whichever backend the store uses; [`on_tx!`] runs a body
/// written once against it, as [`with_db!`](super::with_db) does against the pool.
enum Tx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Runs `$body` with `$c` bound to the concrete transaction; `&mut **$c` is its connection.
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            Tx::Postgres($c) => $body,
            Tx::Sqlite($c) => $body,
        }
    };
}

// After `on_tx!`: the printed import uses it.
mod printed;

pub use printed::PrintedReport;

impl Tx {
    async fn begin(store: &Store) -> Result<Tx, sqlx::Error> {
        Ok(match &store.db {
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        })
    }

    /// A large import touches more index pages than SQLite's default 2 MB cache holds; 32 MB
    /// keeps them in memory for the transaction.
    async fn widen_cache(&mut self) -> Result<(), sqlx::Error> {
        if let Tx::Sqlite(c) = self {
            sqlx::query("PRAGMA cache_size = -32768")
                .execute(&mut **c)
                .await?;
        }
        Ok(())
    }

    /// Back to SQLite's default cache for the pooled connection.
    async fn narrow_cache(&mut self) -> Result<(), sqlx::Error> {
        if let Tx::Sqlite(c) = self {
            sqlx::query("PRAGMA cache_size = -2000")
                .execute(&mut **c)
                .await?;
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        on_tx!(self, |c| c.commit().await)
    }

    /// Writes nothing of what the transaction did (a preview).
    async fn rollback(self) -> Result<(), sqlx::Error> {
        on_tx!(self, |c| c.rollback().await)
    }
}

/// Who writes an import and when, and who hears how far the writing has got.
#[derive(Clone, Copy)]
struct Writer<'a> {
    importer: &'a Importer,
    now: Instant,
    tracker: &'a dyn Tracker,
}

/// New tasks a chunk: on SQLite the rows written by one [`in_place::write`] (the import's tracker
/// advanced after each); on PostgreSQL the rows a `COPY` message carries.
const CHUNK: usize = 500;

/// Step 1: the plan's id, and whether it was created. A plan of the same number but another
/// year is refused: the number or the year was mistyped.
async fn ensure_plan(
    tx: &mut Tx,
    plan: &ImportPlan,
    now: Instant,
) -> Result<(String, bool), StoreError> {
    let number = plan.number.trim();
    on_tx!(tx, |c| {
        let found: Option<(String, i64)> =
            sqlx::query_as("SELECT id, year FROM plans WHERE number = $1")
                .bind(number)
                .fetch_optional(&mut **c)
                .await?;
        match found {
            Some((id, year)) if year == i64::from(plan.year) => Ok((id, false)),
            Some((_, year)) => Err(StoreError::Invalid(format!(
                "Kế hoạch {number} đã có trong hệ thống với năm {year}, không phải {}: kiểm tra lại --plan hoặc --year.",
                plan.year
            ))),
            None => {
                let id = new_id();
                sqlx::query("INSERT INTO plans (id, number, year, title, issued_on, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&id)
                    .bind(number)
                    .bind(i64::from(plan.year))
                    .bind(plan.title.trim())
                    .bind(plan.issued_on)
                    .bind(now)
                    .execute(&mut **c)
                    .await?;
                Ok((id, true))
            }
        }
    })
}

/// Step 2: the units the file names that the directory lacks, named with their most used
/// spelling from today; the ids of those created. An existing unit keeps its name.
async fn add_missing_units(
    tx: &mut Tx,
    spellings: &[(engine::domain::UnitId, Vec<(String, usize)>)],
    now: Instant,
) -> Result<Vec<String>, StoreError> {
    let today: NaiveDate = local_date(now);
    on_tx!(tx, |c| {
        let known: Vec<String> = sqlx::query_scalar("SELECT id FROM units")
            .fetch_all(&mut **c)
            .await?;
        let known: HashSet<String> = known.into_iter().collect();
        let mut created = Vec::new();
        let units = spellings.iter().map(|(id, names)| {
            (
                id,
                names.first().map(|(n, _)| n.as_str()).unwrap_or_default(),
            )
        });
        for (id, name) in units {
            if known.contains(id.as_str()) {
                continue;
            }
            sqlx::query(
                "INSERT INTO units (id, name, parent_id, created_at) VALUES ($1, $2, NULL, $3)",
            )
            .bind(id.as_str())
            .bind(name)
            .bind(now)
            .execute(&mut **c)
            .await?;
            sqlx::query("INSERT INTO unit_names (unit_id, name, valid_from) VALUES ($1, $2, $3)")
                .bind(id.as_str())
                .bind(name)
                .bind(today)
                .execute(&mut **c)
                .await?;
            created.push(id.as_str().to_string());
        }
        Ok(created)
    })
}

/// What a re-import needs to know of every task an earlier import created: enough to find it,
/// move it and chain its audit log, and the fingerprint of the row it was created or last
/// updated from.
#[derive(Debug, Clone, FromRow)]
struct Known {
    id: String,
    workflow: String,
    workflow_version: i64,
    state: String,
    phase: String,
    version: i64,
    audit_seq: i64,
    audit_head: String,
    /// The stage the last import gave.
    #[sqlx(rename = "source_stage")]
    stage: Option<String>,
    #[sqlx(skip)]
    fingerprint: Fingerprint,
}

impl Known {
    fn on_record(&self) -> OnRecord<'_> {
        OnRecord {
            id: &self.id,
            workflow: &self.workflow,
            workflow_version: self.workflow_version,
            state: &self.state,
            phase: &self.phase,
            stage: self.stage.as_deref(),
        }
    }
}

/// The values an import wrote onto a task, as stored, borrowed from the row read.
#[derive(FromRow)]
struct Stored<'r> {
    name: &'r str,
    unit_printed: Option<&'r str>,
    funding_source: &'r str,
    source_seq: Option<&'r str>,
    period: Option<&'r str>,
    progress_text: Option<&'r str>,
    expected_completion: Option<&'r str>,
    expected_completion_on: Option<NaiveDate>,
    source_stage: Option<&'r str>,
    notes: Option<&'r str>,
    is_rental: bool,
    need_total_vnd: Option<i64>,
    approved_estimate_vnd: Option<i64>,
    need_year_vnd: Option<i64>,
    allocated_year_vnd: Option<i64>,
    planned_allocation_vnd: Option<i64>,
}

impl<'r> Stored<'r> {
    fn values(&self) -> ImportedValues<'r> {
        ImportedValues {
            name: self.name,
            unit_printed: self.unit_printed,
            funding_source: self.funding_source,
            seq: self.source_seq,
            period: self.period,
            progress_text: self.progress_text,
            expected_completion: self.expected_completion,
            expected_completion_on: self.expected_completion_on,
            stage: self.source_stage,
            notes: self.notes,
            is_rental: self.is_rental,
            budget: [
                self.need_total_vnd,
                self.approved_estimate_vnd,
                self.need_year_vnd,
                self.allocated_year_vnd,
                self.planned_allocation_vnd,
            ],
        }
    }
}

/// The columns [`Stored`] reads, from `tasks t` and `budget_lines b`.
macro_rules! stored_columns {
    () => {
        "t.name, t.unit_printed, t.funding_source, t.period, t.is_rental, t.source_seq, \
         t.expected_completion, t.expected_completion_on, t.source_stage, t.progress_text, t.notes, \
         b.need_total_vnd, b.approved_estimate_vnd, b.need_year_vnd, b.allocated_year_vnd, b.planned_allocation_vnd"
    };
}

/// Step 3: every task an earlier import listed in the plan, by the key of its listing, streamed into
/// fingerprints: unchanged rows (the common case) are recognised by the fingerprint alone, so a
/// 100,000-task plan is not held in memory twice to be compared.
async fn read_known(
    tx: &mut Tx,
    plan_id: &str,
    year: i32,
) -> Result<HashMap<String, Known>, StoreError> {
    const SQL: &str = concat!(
        "SELECT t.id, l.source_key, t.workflow, t.workflow_version, t.state, t.phase, t.version, \
         t.audit_seq, t.audit_head, ",
        stored_columns!(),
        " FROM plan_listings l JOIN tasks t ON t.id = l.task_id \
         LEFT JOIN budget_lines b ON b.task_id = t.id AND b.year = $2 \
         WHERE l.plan_id = $1 AND l.source_key IS NOT NULL"
    );
    let mut known: HashMap<String, Known> = HashMap::new();
    on_tx!(tx, |c| {
        // Sized up front (the listings' count, from their index): a map of 100,000 entries
        // grown by doubling holds the old and the new table at once.
        let listed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM plan_listings WHERE plan_id = $1 AND source_key IS NOT NULL",
        )
        .bind(plan_id)
        .fetch_one(&mut **c)
        .await?;
        known.reserve(usize::try_from(listed).unwrap_or(0));
        let mut stored = sqlx::query(SQL)
            .bind(plan_id)
            .bind(i64::from(year))
            .fetch(&mut **c);
        while let Some(r) = stored.try_next().await? {
            let mut k = Known::from_row(&r)?;
            k.fingerprint = Stored::from_row(&r)?.values().fingerprint();
            known.insert(r.try_get("source_key")?, k);
        }
    });
    Ok(known)
}

/// Step 4: what changed for each of the `changed` rows (in their order; empty when the
/// stored values differ only in what the fingerprint sees alike), read back for those tasks
/// only.
async fn changes_of(
    tx: &mut Tx,
    changed: &[(&Known, &CatalogueRow)],
    year: i32,
) -> Result<Vec<Vec<String>>, StoreError> {
    let mut out = Vec::with_capacity(changed.len());
    for chunk in changed.chunks(CHUNK) {
        let mut by_id: HashMap<String, Vec<String>> = HashMap::with_capacity(chunk.len());
        let rows: HashMap<&str, &CatalogueRow> =
            chunk.iter().map(|(k, r)| (k.id.as_str(), *r)).collect();
        on_tx!(&mut *tx, |c| {
            let mut q = sqlx::QueryBuilder::new(concat!(
                "SELECT t.id, ",
                stored_columns!(),
                " FROM tasks t LEFT JOIN budget_lines b ON b.task_id = t.id AND b.year = "
            ));
            q.push_bind(i64::from(year));
            q.push(" WHERE t.id IN (");
            let mut ids = q.separated(", ");
            for (k, _) in chunk {
                ids.push_bind(k.id.as_str());
            }
            ids.push_unseparated(")");
            for r in q.build().fetch_all(&mut **c).await? {
                let id: String = r.try_get("id")?;
                if let Some(row) = rows.get(id.as_str()) {
                    let changes = Stored::from_row(&r)?
                        .values()
                        .changes(&ImportedValues::of_row(row), year);
                    by_id.insert(id, changes);
                }
            }
        });
        out.extend(
            chunk
                .iter()
                .map(|(k, _)| by_id.remove(&k.id).unwrap_or_default()),
        );
    }
    Ok(out)
}

/// Step 4, continued: what each changed row does to its task ([`decide_update`]), chained to
/// the task's audit log and listed in the outcome; a row whose values differ in nothing a
/// person reads counts as unchanged.
fn decide_updates<'a>(
    catalog: &Catalog,
    changed: impl Iterator<Item = ((&'a Known, &'a CatalogueRow), Vec<String>)>,
    importer: &Importer,
    now: Instant,
    outcome: &mut ImportOutcome,
) -> Result<Vec<ChangedTask<'a>>, StoreError> {
    let mut updates = Vec::new();
    for ((known, row), changes) in changed {
        if changes.is_empty() {
            outcome.unchanged += 1;
            continue;
        }
        let update = decide_update(catalog, known.on_record(), row, changes, importer, now)
            .map_err(|e| match e {
                UpdateError::Installation(fault) => StoreError::internal(fault),
                UpdateError::Row(refusal) => StoreError::Invalid(refusal),
            })?;
        outcome.updated.push(update.summary.clone());
        updates.push(ChangedTask::new(known, row, update));
    }
    Ok(updates)
}

/// The budget line a row gives its task for the plan's year; `None` when it gives no amount.
fn budget_of(r: &CatalogueRow, year: i32) -> Option<BudgetLine> {
    let line = BudgetLine {
        year,
        need_total_vnd: r.need_total,
        approved_estimate_vnd: r.approved_estimate,
        need_year_vnd: r.need_year,
        allocated_year_vnd: r.allocated_year,
        planned_allocation_vnd: r.planned_allocation,
    };
    (line.need_total_vnd.is_some()
        || line.approved_estimate_vnd.is_some()
        || line.need_year_vnd.is_some()
        || line.allocated_year_vnd.is_some()
        || line.planned_allocation_vnd.is_some())
    .then_some(line)
}

/// A new task, ready to insert.
struct NewTask<'a> {
    id: String,
    row: &'a CatalogueRow,
    /// The row's place in the file.
    position: i64,
    audit: AuditRecord,
}

/// Step 5: the new tasks, in chunks, in key order: task ids (UUIDv7, increasing) and the
/// unique key index then both grow at their right edge instead of splitting pages all over the
/// index. The file order is kept in `position`. Answers how many were created, per workflow.
#[allow(clippy::too_many_arguments)]
async fn insert_new_tasks<'r>(
    tx: &mut Tx,
    plan_id: &str,
    year: i32,
    mut fresh: Vec<(usize, &'r CatalogueRow)>,
    known_from: NaiveDate,
    listing: Option<(&str, &str)>,
    Writer {
        importer,
        now,
        tracker,
    }: Writer<'_>,
) -> Result<(usize, BTreeMap<String, usize>), StoreError> {
    fresh.sort_unstable_by(|a, b| a.1.key.cmp(&b.1.key));
    let mut by_workflow: BTreeMap<String, usize> = BTreeMap::new();
    tracker.stage("Ghi các nhiệm vụ mới", fresh.len());
    let mut new_task = |(i, r): &(usize, &'r CatalogueRow)| -> NewTask<'r> {
        let id = new_id();
        let entry = new_task_entry(r, importer, now);
        let audit = AuditRecord::new(&id, 1, IMPORT_KIND, &entry, None, "");
        *by_workflow.entry(r.kind.clone()).or_default() += 1;
        NewTask {
            id,
            row: r,
            position: i64::try_from(*i).unwrap_or(i64::MAX),
            audit,
        }
    };
    let rec = Recorded {
        plan_id: Some(plan_id),
        known_from,
        at: now,
        by: &importer.user,
    };
    if let Tx::Postgres(c) = tx {
        // Every new row at once, a table at a time (see `insert_all_pg`).
        let batch: Vec<NewTask<'_>> = fresh.iter().map(&mut new_task).collect();
        let lines = lines_of(&batch, year);
        insert_all_pg(c, plan_id, &batch, &lines, listing, rec).await?;
        // The rows land in one go per table, so the tracker hears of them once, when any.
        if !batch.is_empty() {
            tracker.advance(batch.len());
        }
        insert_proposals(tx, &batch, importer, now).await?;
    } else {
        let mut done = 0;
        for chunk in fresh.chunks(CHUNK) {
            let batch: Vec<NewTask<'_>> = chunk.iter().map(&mut new_task).collect();
            let lines = lines_of(&batch, year);
            if let Tx::Sqlite(c) = tx {
                in_place::write(c, |db| {
                    insert_chunk_sqlite(db, plan_id, &batch, &lines, listing, rec)
                })
                .await?;
            }
            insert_proposals(tx, &batch, importer, now).await?;
            done += batch.len();
            tracker.advance(done);
        }
    }
    Ok((fresh.len(), by_workflow))
}

/// The budget lines of the new tasks that have one, with their task's id.
fn lines_of<'b>(batch: &'b [NewTask<'_>], year: i32) -> Vec<(&'b str, BudgetLine)> {
    batch
        .iter()
        .filter_map(|n| budget_of(n.row, year).map(|b| (n.id.as_str(), b)))
        .collect()
}

/// A row that reports a unit's proposal (its letter cited): the proposal waits for UBND.
async fn insert_proposals(
    tx: &mut Tx,
    batch: &[NewTask<'_>],
    importer: &Importer,
    now: Instant,
) -> Result<(), StoreError> {
    for n in batch.iter().filter(|n| n.row.proposal.is_some()) {
        let (kind, letter) = n.row.proposal.clone().expect("filtered");
        let p = engine::proposal::Proposal {
            kind,
            letter,
            from_state: n.row.state.clone(),
        };
        on_tx!(tx, |c| {
            let mut conn = Conn::from(&mut **c);
            super::tasks::insert_proposal(
                &mut conn,
                &n.id,
                &p,
                n.row.progress_text.as_deref(),
                &importer.user,
                importer.role,
                now,
            )
            .await?;
        });
    }
    Ok(())
}

// The new rows' columns, one list per table for both backends: PostgreSQL sends the rows by
// `COPY` into these columns ([`insert_all_pg`]); SQLite steps one prepared single-row INSERT
// per table, row by row, on the connection's own handle ([`in_place::write`]), which binds each
// value once instead of copying it through sqlx's arguments twice (multi-row VALUES cost more
// in that copying than SQLite's own work).

/// The new task rows: placed, with no clock, version 1, audit head set.
macro_rules! tasks_columns {
    () => {
        "tasks (id, plan_id, unit_id, name, funding_source, kind, workflow, workflow_version, state, phase, \
         state_entered_at, version, period, is_rental, clock, paused_clock, transition_counts, due_at, audit_seq, audit_head, \
         created_at, updated_at, source_key, source_seq, unit_printed, progress_text, expected_completion, \
         expected_completion_on, source_stage, notes, position, name_search, own_fund)"
    };
}

/// The same lines in the budget history.
macro_rules! budget_history_columns {
    () => {
        "budget_history (task_id, year, plan_id, need_total_vnd, approved_estimate_vnd, need_year_vnd, \
         allocated_year_vnd, removed, known_from, recorded_at, recorded_by, planned_allocation_vnd)"
    };
}

/// A new task of the unit's own development fund spends its own revenue: its approvals follow
/// the own-fund rules ([approvals.NAME] own_fund).
fn own_fund(r: &CatalogueRow) -> bool {
    r.funding_source == engine::domain::FundingSource::HoanThanh2025QuyPhatTrien
}

/// The listing's section and category: the import's own, or Plan 215's layout for the row's
/// funding source ([`engine::plan::default_listing`]).
fn listing_of<'a>(
    listing: Option<(&'a str, &'a str)>,
    r: &CatalogueRow,
) -> (Cow<'a, str>, &'a str) {
    match listing {
        Some((s, c)) => (Cow::Borrowed(s), c),
        None => {
            let (s, c) = engine::plan::default_listing(r.funding_source);
            (Cow::Owned(s), c)
        }
    }
}

/// A new task's row of [`tasks_columns!`], for both backends: constants included, so that the
/// `COPY` and the prepared INSERT take the same list. `search` is the name's search key.
fn task_values<'a>(
    n: &'a NewTask<'_>,
    plan_id: &'a str,
    now: Instant,
    search: &'a str,
) -> [Arg<'a>; 33] {
    let r = n.row;
    [
        Arg::Str(&n.id),
        Arg::Str(plan_id),
        Arg::Str(r.unit_id.as_str()),
        Arg::Str(&r.name),
        Arg::Str(r.funding_source.as_str()),
        Arg::Str(&r.kind),
        Arg::Str(&r.kind),
        Arg::Int(i64::from(r.workflow_version)),
        Arg::Str(&r.state),
        Arg::Str(r.stage.as_str()),
        Arg::Time(now),
        Arg::Int(1),
        Arg::OptStr(r.period.as_deref()),
        Arg::Bool(r.is_rental),
        Arg::OptStr(None),
        Arg::OptStr(None),
        Arg::Str("{}"),
        Arg::OptTime(None),
        Arg::Int(1),
        Arg::Str(&n.audit.hash),
        Arg::Time(now),
        Arg::Time(now),
        Arg::Str(&r.key),
        Arg::OptStr(r.seq.as_deref()),
        Arg::Str(&r.unit),
        Arg::OptStr(r.progress_text.as_deref()),
        Arg::OptStr(r.expected_completion.as_deref()),
        Arg::OptDate(r.expected_completion_on),
        Arg::Str(r.stage.as_str()),
        Arg::OptStr(r.notes.as_deref()),
        Arg::Int(n.position),
        Arg::Str(search),
        Arg::Bool(own_fund(r)),
    ]
}

/// A new task's row of [`listings_columns!`], for both backends.
fn listing_values<'a>(
    n: &'a NewTask<'_>,
    plan_id: &'a str,
    (section, category): &'a (Cow<'_, str>, &str),
    now: Instant,
) -> [Arg<'a>; 10] {
    let r = n.row;
    NewListing {
        plan_id,
        task_id: &n.id,
        section,
        category: Some(category),
        printed_seq: r.seq.as_deref(),
        unit_printed: Some(&r.unit),
        name_printed: Some(&r.name),
        source_key: Some(&r.key),
        position: Some(n.position),
    }
    .values(now)
}

/// The same line's row of [`budget_history_columns!`], for both backends.
fn budget_history_values<'a>(id: &'a str, l: &BudgetLine, rec: &Recorded<'a>) -> [Arg<'a>; 12] {
    [
        Arg::Str(id),
        Arg::Int(i64::from(l.year)),
        Arg::OptStr(rec.plan_id),
        Arg::OptInt(l.need_total_vnd),
        Arg::OptInt(l.approved_estimate_vnd),
        Arg::OptInt(l.need_year_vnd),
        Arg::OptInt(l.allocated_year_vnd),
        Arg::Bool(false),
        Arg::Date(rec.known_from),
        Arg::Time(rec.at),
        Arg::Str(rec.by),
        Arg::OptInt(l.planned_allocation_vnd),
    ]
}

/// A new task's first audit entry as a row of the audit log's columns
/// ([`audit::audit_columns!`]), for both backends: it cites no documents.
fn first_entry_values(a: &AuditRecord) -> [Arg<'_>; 21] {
    debug_assert!(
        a.documents.is_empty(),
        "an imported task's first entry cites no documents"
    );
    audit::audit_values(a, "[]")
}

/// The new rows, on PostgreSQL: one `COPY ... FROM STDIN` a table for the whole import, its
/// rows in the text format ([`copy_text`]) sent [`CHUNK`] at a time. One `COPY` a table and
/// not one a chunk: sqlx leaves Nagle's algorithm on, so the few bytes that end each `COPY`
/// wait for the server's delayed acknowledgement of the data before them (tens of
/// milliseconds), which a `COPY` per table per chunk paid about a thousand times.
async fn insert_all_pg(
    c: &mut sqlx::PgConnection,
    plan_id: &str,
    batch: &[NewTask<'_>],
    lines: &[(&str, BudgetLine)],
    listing: Option<(&str, &str)>,
    rec: Recorded<'_>,
) -> Result<(), sqlx::Error> {
    let now = rec.at;
    copy_in(
        c,
        concat!("COPY ", tasks_columns!(), " FROM STDIN"),
        batch,
        |rows, n| {
            let search = engine::domain::search_key(&n.row.name);
            rows.row(&task_values(n, plan_id, now, &search));
        },
    )
    .await?;
    copy_in(
        c,
        concat!("COPY ", listings_columns!(), " FROM STDIN"),
        batch,
        |rows, n| {
            let place = listing_of(listing, n.row);
            rows.row(&listing_values(n, plan_id, &place, now));
        },
    )
    .await?;
    if !lines.is_empty() {
        copy_in(
            c,
            concat!("COPY ", budget_lines_columns!(), " FROM STDIN"),
            lines,
            |rows, (id, l)| {
                rows.row(&budget_line_values(id, l, plan_id));
            },
        )
        .await?;
        copy_in(
            c,
            concat!("COPY ", budget_history_columns!(), " FROM STDIN"),
            lines,
            |rows, (id, l)| {
                rows.row(&budget_history_values(id, l, &rec));
            },
        )
        .await?;
    }
    copy_in(
        c,
        concat!("COPY ", audit::audit_columns!(), " FROM STDIN"),
        batch,
        |rows, n| {
            rows.row(&first_entry_values(&n.audit));
        },
    )
    .await
}

/// One table's rows sent by one `COPY`, [`CHUNK`] rows a message so the text is never held
/// for the whole table; a failed `COPY` fails the import's transaction.
async fn copy_in<T>(
    c: &mut sqlx::PgConnection,
    statement: &str,
    items: &[T],
    mut row: impl FnMut(&mut CopyText, &T),
) -> Result<(), sqlx::Error> {
    let mut copy = c.copy_in_raw(statement).await?;
    for chunk in items.chunks(CHUNK) {
        let mut rows = CopyText::default();
        for item in chunk {
            row(&mut rows, item);
        }
        copy.send(rows.into_bytes()).await?;
    }
    copy.finish().await.map(drop)
}

/// The new rows of one chunk, on SQLite: the same columns and values as [`insert_all_pg`],
/// one prepared statement a table stepped row by row on the connection's own handle.
fn insert_chunk_sqlite(
    db: &rusqlite::Connection,
    plan_id: &str,
    batch: &[NewTask<'_>],
    lines: &[(&str, BudgetLine)],
    listing: Option<(&str, &str)>,
    rec: Recorded<'_>,
) -> rusqlite::Result<()> {
    let now = rec.at;
    let mut tasks = db.prepare(&insert_sql(tasks_columns!(), 33))?;
    let mut listings = db.prepare(&insert_sql(listings_columns!(), 10))?;
    let mut entries = db.prepare(&insert_sql(audit::audit_columns!(), 21))?;
    for n in batch {
        let search = engine::domain::search_key(&n.row.name);
        tasks.execute(rusqlite::params_from_iter(task_values(
            n, plan_id, now, &search,
        )))?;
        let place = listing_of(listing, n.row);
        listings.execute(rusqlite::params_from_iter(listing_values(
            n, plan_id, &place, now,
        )))?;
    }
    if !lines.is_empty() {
        let mut budget = db.prepare(&insert_sql(budget_lines_columns!(), 8))?;
        let mut history = db.prepare(&insert_sql(budget_history_columns!(), 12))?;
        for (id, l) in lines {
            budget.execute(rusqlite::params_from_iter(budget_line_values(
                id, l, plan_id,
            )))?;
            history.execute(rusqlite::params_from_iter(budget_history_values(
                id, l, &rec,
            )))?;
        }
    }
    for n in batch {
        entries.execute(rusqlite::params_from_iter(first_entry_values(&n.audit)))?;
    }
    Ok(())
}

/// `INSERT INTO table (columns) VALUES ($1, … $n)`: one row of `n` values.
fn insert_sql(table_and_columns: &str, n: usize) -> String {
    let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {table_and_columns} VALUES ({})",
        placeholders.join(", ")
    )
}

/// A changed task, ready to update: the engine's decision and its audit record, chained.
struct ChangedTask<'a> {
    known: &'a Known,
    row: &'a CatalogueRow,
    update: Update,
    audit: AuditRecord,
}

impl<'a> ChangedTask<'a> {
    fn new(known: &'a Known, row: &'a CatalogueRow, update: Update) -> ChangedTask<'a> {
        let audit = AuditRecord::new(
            &known.id,
            known.audit_seq + 1,
            IMPORT_UPDATE_KIND,
            &update.entry,
            None,
            &known.audit_head,
        );
        ChangedTask {
            known,
            row,
            update,
            audit,
        }
    }
}

/// Step 6: the changed tasks, one by one (a corrected file changes a few rows). A task that
/// moved since it was read is a conflict: nothing is written.
async fn apply_updates(
    tx: &mut Tx,
    plan_id: &str,
    updates: &[ChangedTask<'_>],
    year: i32,
    Writer {
        importer,
        now,
        tracker,
    }: Writer<'_>,
) -> Result<(), StoreError> {
    let by = importer.user.as_str();
    tracker.stage("Cập nhật các nhiệm vụ đã sửa", updates.len());
    for (done, u) in updates.iter().enumerate() {
        update_task(tx, u, now).await?;
        let line = budget_of(u.row, year);
        replace_budget_line(tx, plan_id, &u.known.id, line, year).await?;
        let r = u.row;
        on_tx!(&mut *tx, |c| {
            let mut conn = Conn::from(&mut **c);
            conn.execute(
                "UPDATE plan_listings SET printed_seq = $1, unit_printed = $2, name_printed = $3 \
                 WHERE plan_id = $4 AND task_id = $5",
                &[
                    Arg::OptStr(r.seq.as_deref()),
                    Arg::Str(&r.unit),
                    Arg::Str(&r.name),
                    Arg::Str(plan_id),
                    Arg::Str(&u.known.id),
                ],
            )
            .await?;
            record_budget(
                &mut conn,
                &u.known.id,
                year,
                line.as_ref(),
                Recorded {
                    plan_id: Some(plan_id),
                    known_from: local_date(now),
                    at: now,
                    by,
                },
            )
            .await
        })?;
        on_tx!(&mut *tx, |c| insert_audit(
            &mut Conn::from(&mut **c),
            &u.audit
        )
        .await)?;
        // A row that now reports the unit's proposal (a pending withdrawal read as a withdrawal
        // before): the task, back where the row places it, has the proposal waiting for UBND.
        if let Some((kind, letter)) = r.proposal.clone()
            && !u.update.to.phase.is_terminal()
        {
            let p = engine::proposal::Proposal {
                kind,
                letter,
                from_state: u.update.to.state.clone(),
            };
            on_tx!(&mut *tx, |c| {
                let mut conn = Conn::from(&mut **c);
                let pending: Vec<(String,)> = conn
                    .fetch_all(
                        "SELECT id FROM task_proposals WHERE task_id = $1 AND status = 'pending'",
                        &[Arg::Str(&u.known.id)],
                    )
                    .await?;
                if pending.is_empty() {
                    super::tasks::insert_proposal(
                        &mut conn,
                        &u.known.id,
                        &p,
                        r.progress_text.as_deref(),
                        by,
                        importer.role,
                        now,
                    )
                    .await?;
                }
            });
        }
        tracker.advance(done + 1);
    }
    Ok(())
}

/// The task row of a changed task: the imported values, its audit head, and, when it moved,
/// its new state with its clock stopped and its pending timers cancelled.
async fn update_task(tx: &mut Tx, u: &ChangedTask<'_>, now: Instant) -> Result<(), StoreError> {
    let (k, r) = (u.known, u.row);
    let moved = u.update.to.moved;
    // The columns every update sets ($1–$14, and `name_search` last), then the placement when
    // the task moves.
    let sql = if moved {
        "UPDATE tasks SET name = $1, unit_printed = $2, funding_source = $3, period = $4, is_rental = $5, \
         source_seq = $6, expected_completion = $7, expected_completion_on = $8, source_stage = $9, \
         progress_text = $10, notes = $11, version = version + 1, audit_seq = $12, audit_head = $13, \
         updated_at = $14, state = $15, phase = $16, state_entered_at = $14, clock = NULL, \
         paused_clock = NULL, due_at = NULL, name_search = $19 WHERE id = $17 AND version = $18"
    } else {
        "UPDATE tasks SET name = $1, unit_printed = $2, funding_source = $3, period = $4, is_rental = $5, \
         source_seq = $6, expected_completion = $7, expected_completion_on = $8, source_stage = $9, \
         progress_text = $10, notes = $11, version = version + 1, audit_seq = $12, audit_head = $13, \
         updated_at = $14, name_search = $17 WHERE id = $15 AND version = $16"
    };
    on_tx!(tx, |c| {
        let q = sqlx::query(sql)
            .bind(&r.name)
            .bind(&r.unit)
            .bind(r.funding_source.as_str())
            .bind(&r.period)
            .bind(r.is_rental)
            .bind(&r.seq)
            .bind(&r.expected_completion)
            .bind(r.expected_completion_on)
            .bind(r.stage.as_str())
            .bind(&r.progress_text)
            .bind(&r.notes)
            .bind(u.audit.seq)
            .bind(&u.audit.hash)
            .bind(now);
        let q = if moved {
            q.bind(&u.update.to.state).bind(u.update.to.phase.as_str())
        } else {
            q
        };
        let updated = q
            .bind(&k.id)
            .bind(k.version)
            .bind(engine::domain::search_key(&r.name))
            .execute(&mut **c)
            .await?
            .rows_affected();
        if updated == 0 {
            let current: i64 = sqlx::query_scalar("SELECT version FROM tasks WHERE id = $1")
                .bind(&k.id)
                .fetch_one(&mut **c)
                .await?;
            return Err(StoreError::Conflict {
                expected: k.version,
                current,
            });
        }
        if moved {
            sqlx::query(
                "UPDATE timers SET status = 'cancelled' WHERE task_id = $1 AND status = 'pending'",
            )
            .bind(&k.id)
            .execute(&mut **c)
            .await?;
        }
        Ok(())
    })
}

/// The task's budget line for `year`, replaced by `line` (or removed).
async fn replace_budget_line(
    tx: &mut Tx,
    plan_id: &str,
    task_id: &str,
    line: Option<BudgetLine>,
    year: i32,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query("DELETE FROM budget_lines WHERE task_id = $1 AND year = $2")
            .bind(task_id)
            .bind(i64::from(year))
            .execute(&mut **c)
            .await?;
        if let Some(l) = line {
            sqlx::query(
                "INSERT INTO budget_lines (task_id, year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd, plan_id, \
                 planned_allocation_vnd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(task_id)
            .bind(i64::from(l.year))
            .bind(l.need_total_vnd)
            .bind(l.approved_estimate_vnd)
            .bind(l.need_year_vnd)
            .bind(l.allocated_year_vnd)
            .bind(plan_id)
            .bind(l.planned_allocation_vnd)
            .execute(&mut **c)
            .await?;
        }
        Ok(())
    })
}
