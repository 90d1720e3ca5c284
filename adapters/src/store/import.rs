//! The store side of plan import and of the plan reports.
//!
//! [`Store::import_plan`] writes a parsed catalogue in one transaction: the plan and the units it
//! lacks, every new task with its budget line and its first audit entry (kind `import`), and an
//! audited update (kind `import_update`) for every row that changed since the last import. A row
//! that did not change writes nothing, so importing the same file twice leaves the database as
//! it was. New tasks go in with multi-row `INSERT`s (500 rows a statement): a 100,000-row plan is
//! a few hundred statements, not 300,000; the hash of each task's first audit entry is still
//! computed one by one, so the per-task chains verify like any other.
//!
//! [`Store::report_rows`] reads, in one query, what the progress and status reports need about
//! every task of a plan: the task, its budget line for the plan's year, and the audit entry that
//! describes it as of a date.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use engine::Phase;
use engine::Role;
use engine::decide::{AuditEntry, Clock};
use engine::domain::FundingSource;
use engine::money::format_million_vnd;
use engine::time::{Instant, local_date};
use engine::workflow::Workflow;
use futures_util::TryStreamExt;
use sqlx::Row;

use super::audit::{AuditRecord, insert_audit};
use super::directory::{micros, new_id};
use super::{BudgetLine, Store, StoreError, with_db};
use crate::import::{CatalogueRow, placement};

/// The plan a catalogue is imported into; created when missing.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub number: String,
    pub year: i32,
    pub title: String,
    pub issued_on: Option<NaiveDate>,
}

/// A unit the catalogue names, with the name it gets if it is new.
#[derive(Debug, Clone)]
pub struct ImportUnit {
    pub id: String,
    pub name: String,
}

/// Who imports: a user name (or `cli:LOGIN` for the operator at the shell) and the role acted in.
#[derive(Debug, Clone)]
pub struct ImportActor {
    pub user: String,
    pub role: Option<Role>,
}

/// A task whose row changed since the last import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdate {
    pub task_id: String,
    pub line: usize,
    pub name: String,
    /// What changed, in Vietnamese (also the audit entry's comment).
    pub changes: Vec<String>,
    /// Why a changed stage did not move the task, if it did not.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub plan_id: String,
    pub plan_created: bool,
    pub units_created: Vec<String>,
    pub created: usize,
    pub updated: Vec<TaskUpdate>,
    pub unchanged: usize,
    /// Workflow name → tasks created on it.
    pub by_workflow: BTreeMap<String, usize>,
}

/// What a re-import needs to know of every task an earlier import created: enough to find it,
/// move it and chain its audit log, and a fingerprint of the row it was created or last updated
/// from. Unchanged rows (the common case) are recognised by the fingerprint alone, so a
/// 100,000-task plan is not held in memory twice to be compared.
#[derive(Debug, Clone)]
struct Known {
    id: String,
    workflow: String,
    workflow_version: i64,
    state: String,
    phase: String,
    version: i64,
    audit_seq: i64,
    audit_head: String,
    stage: Option<String>,
    fingerprint: [u8; 32],
}

/// The stored values of a task whose row changed, to say what changed.
#[derive(Debug, Clone)]
struct Stored {
    name: String,
    unit_printed: Option<String>,
    funding_source: String,
    period: Option<String>,
    is_rental: bool,
    seq: Option<String>,
    expected_completion: Option<String>,
    expected_completion_on: Option<NaiveDate>,
    stage: Option<String>,
    progress_text: Option<String>,
    notes: Option<String>,
    budget: [Option<i64>; 4],
}

/// The import's entry names: what the audit log shows as the "transition".
pub const IMPORT_TRANSITION: &str = "nhap_tu_ke_hoach";
pub const IMPORT_UPDATE_TRANSITION: &str = "cap_nhat_tu_ke_hoach";

/// New tasks per multi-row INSERT: 25 parameters a row stays well under SQLite's 32,766.
const CHUNK: usize = 500;

fn quote(s: &Option<String>) -> String {
    match s {
        Some(s) => format!("«{s}»"),
        None => "(trống)".into(),
    }
}

fn money(v: Option<i64>) -> String {
    v.map(|d| format_million_vnd(d, 6))
        .unwrap_or_else(|| "(trống)".into())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// sha256 over the imported values of a row, each length-prefixed (a blank is not an empty
/// text), in a fixed order. Computed alike from a catalogue row and from the stored task.
#[allow(clippy::too_many_arguments)]
fn fingerprint(
    name: &str,
    unit_printed: Option<&str>,
    funding_source: &str,
    seq: Option<&str>,
    period: Option<&str>,
    progress_text: Option<&str>,
    expected_completion: Option<&str>,
    expected_completion_on: Option<NaiveDate>,
    stage: Option<&str>,
    notes: Option<&str>,
    is_rental: bool,
    budget: [Option<i64>; 4],
) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for text in [
        Some(name),
        unit_printed,
        Some(funding_source),
        seq,
        period,
        progress_text,
        expected_completion,
        stage,
        notes,
    ] {
        match text {
            Some(t) => {
                h.update([1u8]);
                h.update((t.len() as u64).to_le_bytes());
                h.update(t.as_bytes());
            }
            None => h.update([0u8]),
        }
    }
    let date = expected_completion_on.map(|d| i64::from(chrono::Datelike::num_days_from_ce(&d)));
    for v in [date, Some(i64::from(is_rental))].into_iter().chain(budget) {
        match v {
            Some(n) => {
                h.update([1u8]);
                h.update(n.to_le_bytes());
            }
            None => h.update([0u8]),
        }
    }
    h.finalize().into()
}

fn row_fingerprint(r: &CatalogueRow) -> [u8; 32] {
    fingerprint(
        &r.name,
        Some(&r.unit),
        r.funding_source.as_str(),
        r.seq.as_deref(),
        r.period.as_deref(),
        r.progress_text.as_deref(),
        r.expected_completion.as_deref(),
        r.expected_completion_on,
        Some(r.stage.as_str()),
        r.notes.as_deref(),
        r.is_rental,
        [
            r.need_total,
            r.approved_estimate,
            r.need_year,
            r.allocated_year,
        ],
    )
}

impl Stored {
    /// What differs between the stored task and the row, in Vietnamese.
    fn changes(&self, r: &CatalogueRow, year: i32) -> Vec<String> {
        let mut c = Vec::new();
        let mut text = |label: &str, old: &Option<String>, new: &Option<String>| {
            if old != new {
                c.push(format!("{label}: {} → {}", quote(old), quote(new)));
            }
        };
        text(
            "tên nhiệm vụ",
            &Some(self.name.clone()),
            &Some(r.name.clone()),
        );
        text(
            "tên đơn vị như in",
            &self.unit_printed,
            &Some(r.unit.clone()),
        );
        text(
            "nguồn kinh phí",
            &Some(self.funding_source.clone()),
            &Some(r.funding_source.as_str().to_string()),
        );
        text("TT", &self.seq, &r.seq);
        text("thời gian thực hiện", &self.period, &r.period);
        text("tiến độ", &self.progress_text, &r.progress_text);
        text(
            "thời gian dự kiến hoàn thành",
            &self.expected_completion,
            &r.expected_completion,
        );
        text(
            "giai đoạn",
            &self.stage,
            &Some(r.stage.as_str().to_string()),
        );
        text("ghi chú", &self.notes, &r.notes);
        if self.is_rental != r.is_rental {
            c.push(format!(
                "thuê dịch vụ: {} → {}",
                self.is_rental, r.is_rental
            ));
        }
        // A date that moved without its text changing (a plausibility rule changed) is data too.
        if self.expected_completion == r.expected_completion
            && self.expected_completion_on != r.expected_completion_on
        {
            c.push("ngày dự kiến hoàn thành (cách đọc)".into());
        }
        let labels = [
            "nhu cầu kinh phí".to_string(),
            "dự toán được duyệt".to_string(),
            format!("nhu cầu kinh phí năm {year}"),
            format!("kinh phí năm {year} đã phân bổ"),
        ];
        let new = [
            r.need_total,
            r.approved_estimate,
            r.need_year,
            r.allocated_year,
        ];
        for k in 0..4 {
            if self.budget[k] != new[k] {
                c.push(format!(
                    "{}: {} → {} (triệu đồng)",
                    labels[k],
                    money(self.budget[k]),
                    money(new[k])
                ));
            }
        }
        c
    }
}

fn budget_of(r: &CatalogueRow, year: i32) -> Option<BudgetLine> {
    let line = BudgetLine {
        year,
        need_total_vnd: r.need_total,
        approved_estimate_vnd: r.approved_estimate,
        need_year_vnd: r.need_year,
        allocated_year_vnd: r.allocated_year,
    };
    (line.need_total_vnd.is_some()
        || line.approved_estimate_vnd.is_some()
        || line.need_year_vnd.is_some()
        || line.allocated_year_vnd.is_some())
    .then_some(line)
}

/// A new task, ready to insert.
struct NewRow<'a> {
    id: String,
    row: &'a CatalogueRow,
    position: i64,
    audit: AuditRecord,
}

/// A changed task, ready to update.
struct UpdateRow<'a> {
    existing: &'a Known,
    row: &'a CatalogueRow,
    state: String,
    phase: Phase,
    replaced: bool,
    audit: AuditRecord,
}

impl Store {
    /// Imports a parsed catalogue into `plan`, as `actor`. See the module documentation.
    pub async fn import_plan(
        &self,
        plan: &ImportPlan,
        units: &[ImportUnit],
        rows: &[CatalogueRow],
        actor: &ImportActor,
        now: Instant,
    ) -> Result<ImportOutcome, StoreError> {
        let now = micros(now);
        let today = local_date(now);
        if plan.number.trim().is_empty() || plan.title.trim().is_empty() {
            return Err(StoreError::Invalid(
                "Kế hoạch cần có số hiệu (--plan, ví dụ 215/KH-UBND) và tiêu đề (--title).".into(),
            ));
        }
        if !(2000..=2100).contains(&plan.year) {
            return Err(StoreError::Invalid(format!(
                "Năm kế hoạch {} không hợp lệ (2000–2100).",
                plan.year
            )));
        }
        let number = plan.number.trim();
        let sqlite = self.backend() == super::Backend::Sqlite;
        let result: Result<Result<ImportOutcome, StoreError>, sqlx::Error> = with_db!(
            self,
            |pool| {
                async {
                    let mut tx = pool.begin().await?;
                    if sqlite {
                        // A large import touches more index pages than SQLite's default 2 MB
                        // cache holds; 32 MB keeps them in memory for the transaction.
                        sqlx::query("PRAGMA cache_size = -32768").execute(&mut *tx).await?;
                    }
                    let mut outcome = ImportOutcome::default();
                    // The plan.
                    let found: Option<(String, i64)> =
                        sqlx::query_as("SELECT id, year FROM plans WHERE number = $1")
                            .bind(number)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let plan_id = match found {
                        Some((id, year)) if year == i64::from(plan.year) => id,
                        Some((_, year)) => {
                            return Ok(Err(StoreError::Invalid(format!(
                                "Kế hoạch {number} đã có trong hệ thống với năm {year}, không phải {}: kiểm tra lại --plan hoặc --year.",
                                plan.year
                            ))));
                        }
                        None => {
                            let id = new_id();
                            sqlx::query("INSERT INTO plans (id, number, year, title, issued_on, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                                .bind(&id)
                                .bind(number)
                                .bind(i64::from(plan.year))
                                .bind(plan.title.trim())
                                .bind(plan.issued_on)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            outcome.plan_created = true;
                            id
                        }
                    };
                    outcome.plan_id = plan_id.clone();
                    // The units it lacks.
                    let known: Vec<String> = sqlx::query_scalar("SELECT id FROM units")
                        .fetch_all(&mut *tx)
                        .await?;
                    let known: std::collections::HashSet<String> = known.into_iter().collect();
                    for u in units {
                        if known.contains(&u.id) {
                            continue;
                        }
                        sqlx::query("INSERT INTO units (id, name, parent_id, created_at) VALUES ($1, $2, NULL, $3)")
                            .bind(&u.id)
                            .bind(&u.name)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("INSERT INTO unit_names (unit_id, name, valid_from) VALUES ($1, $2, $3)")
                            .bind(&u.id)
                            .bind(&u.name)
                            .bind(today)
                            .execute(&mut *tx)
                            .await?;
                        outcome.units_created.push(u.id.clone());
                    }
                    // What earlier imports created, streamed into fingerprints.
                    let mut existing: HashMap<String, Known> = HashMap::new();
                    {
                        let mut stored = sqlx::query(
                            "SELECT t.id, t.source_key, t.name, t.unit_printed, t.funding_source, t.workflow, t.workflow_version, \
                             t.state, t.phase, t.version, t.audit_seq, t.audit_head, t.period, t.is_rental, t.source_seq, \
                             t.expected_completion, t.expected_completion_on, t.source_stage, t.progress_text, t.notes, \
                             b.need_total_vnd, b.approved_estimate_vnd, b.need_year_vnd, b.allocated_year_vnd \
                             FROM tasks t LEFT JOIN budget_lines b ON b.task_id = t.id AND b.year = $2 \
                             WHERE t.plan_id = $1 AND t.source_key IS NOT NULL",
                        )
                        .bind(&plan_id)
                        .bind(i64::from(plan.year))
                        .fetch(&mut *tx);
                        while let Some(r) = stored.try_next().await? {
                            let stage: Option<String> = r.try_get("source_stage")?;
                            let fp = fingerprint(
                                r.try_get::<&str, _>("name")?,
                                r.try_get::<Option<&str>, _>("unit_printed")?,
                                r.try_get::<&str, _>("funding_source")?,
                                r.try_get::<Option<&str>, _>("source_seq")?,
                                r.try_get::<Option<&str>, _>("period")?,
                                r.try_get::<Option<&str>, _>("progress_text")?,
                                r.try_get::<Option<&str>, _>("expected_completion")?,
                                r.try_get("expected_completion_on")?,
                                stage.as_deref(),
                                r.try_get::<Option<&str>, _>("notes")?,
                                r.try_get("is_rental")?,
                                [
                                    r.try_get("need_total_vnd")?,
                                    r.try_get("approved_estimate_vnd")?,
                                    r.try_get("need_year_vnd")?,
                                    r.try_get("allocated_year_vnd")?,
                                ],
                            );
                            existing.insert(
                                r.try_get("source_key")?,
                                Known {
                                    id: r.try_get("id")?,
                                    workflow: r.try_get("workflow")?,
                                    workflow_version: r.try_get("workflow_version")?,
                                    state: r.try_get("state")?,
                                    phase: r.try_get("phase")?,
                                    version: r.try_get("version")?,
                                    audit_seq: r.try_get("audit_seq")?,
                                    audit_head: r.try_get("audit_head")?,
                                    stage,
                                    fingerprint: fp,
                                },
                            );
                        }
                    }
                    // Sort the rows into new, changed and unchanged.
                    let mut fresh: Vec<(usize, &CatalogueRow)> = Vec::new();
                    let mut changed: Vec<(&Known, &CatalogueRow)> = Vec::new();
                    for (i, r) in rows.iter().enumerate() {
                        match existing.get(&r.key) {
                            None => fresh.push((i, r)),
                            Some(e) if e.fingerprint == row_fingerprint(r) => outcome.unchanged += 1,
                            Some(e) => changed.push((e, r)),
                        }
                    }
                    // What changed, read back for the changed rows only.
                    let mut updates: Vec<UpdateRow<'_>> = Vec::new();
                    for chunk in changed.chunks(CHUNK) {
                        let mut q = sqlx::QueryBuilder::new(
                            "SELECT t.id, t.name, t.unit_printed, t.funding_source, t.period, t.is_rental, t.source_seq, \
                             t.expected_completion, t.expected_completion_on, t.source_stage, t.progress_text, t.notes, \
                             b.need_total_vnd, b.approved_estimate_vnd, b.need_year_vnd, b.allocated_year_vnd \
                             FROM tasks t LEFT JOIN budget_lines b ON b.task_id = t.id AND b.year = ",
                        );
                        q.push_bind(i64::from(plan.year));
                        q.push(" WHERE t.id IN (");
                        let mut ids = q.separated(", ");
                        for (e, _) in chunk {
                            ids.push_bind(e.id.as_str());
                        }
                        ids.push_unseparated(")");
                        let found = q.build().fetch_all(&mut *tx).await?;
                        let mut details: HashMap<String, Stored> = HashMap::with_capacity(found.len());
                        for r in &found {
                            details.insert(
                                r.try_get("id")?,
                                Stored {
                                    name: r.try_get("name")?,
                                    unit_printed: r.try_get("unit_printed")?,
                                    funding_source: r.try_get("funding_source")?,
                                    period: r.try_get("period")?,
                                    is_rental: r.try_get("is_rental")?,
                                    seq: r.try_get("source_seq")?,
                                    expected_completion: r.try_get("expected_completion")?,
                                    expected_completion_on: r.try_get("expected_completion_on")?,
                                    stage: r.try_get("source_stage")?,
                                    progress_text: r.try_get("progress_text")?,
                                    notes: r.try_get("notes")?,
                                    budget: [
                                        r.try_get("need_total_vnd")?,
                                        r.try_get("approved_estimate_vnd")?,
                                        r.try_get("need_year_vnd")?,
                                        r.try_get("allocated_year_vnd")?,
                                    ],
                                },
                            );
                        }
                        for (e, r) in chunk {
                            let changes = details
                                .get(&e.id)
                                .map(|d| d.changes(r, plan.year))
                                .unwrap_or_default();
                            if changes.is_empty() {
                                outcome.unchanged += 1;
                                continue;
                            }
                            match self.plan_update(e, r, changes, actor, now) {
                                Ok((u, update)) => {
                                    outcome.updated.push(update);
                                    updates.push(u);
                                }
                                Err(err) => return Ok(Err(err)),
                            }
                        }
                    }
                    // New tasks, in chunks, in key order: task ids (UUIDv7, increasing) and the
                    // unique key index then both grow at their right edge instead of splitting
                    // pages all over the index. The file order is kept in `position`.
                    fresh.sort_unstable_by(|a, b| a.1.key.cmp(&b.1.key));
                    for chunk in fresh.chunks(CHUNK) {
                        let mut batch: Vec<NewRow<'_>> = Vec::with_capacity(chunk.len());
                        for (i, r) in chunk {
                            let id = new_id();
                            let entry = AuditEntry {
                                transition: IMPORT_TRANSITION.into(),
                                actor_user: actor.user.clone(),
                                actor_role: actor.role,
                                from_state: None,
                                to_state: r.state.clone(),
                                from_phase: None,
                                to_phase: r.stage,
                                comment: r.progress_text.clone(),
                                documents: Vec::new(),
                                workflow: r.kind.clone(),
                                workflow_version: r.workflow_version,
                                at: now,
                            };
                            let audit = AuditRecord::new(&id, 1, "import", &entry, None, "");
                            *outcome.by_workflow.entry(r.kind.clone()).or_default() += 1;
                            batch.push(NewRow {
                                id,
                                row: r,
                                position: i64::try_from(*i).unwrap_or(i64::MAX),
                                audit,
                            });
                        }
                        let mut q = sqlx::QueryBuilder::new(
                            "INSERT INTO tasks (id, plan_id, unit_id, name, funding_source, kind, workflow, workflow_version, state, phase, \
                             state_entered_at, version, period, is_rental, clock, paused_clock, transition_counts, due_at, audit_seq, audit_head, \
                             created_at, updated_at, source_key, source_seq, unit_printed, progress_text, expected_completion, \
                             expected_completion_on, source_stage, notes, position, name_search) ",
                        );
                        q.push_values(&batch, |mut b, n| {
                            let r = n.row;
                            b.push_bind(&n.id)
                                .push_bind(&plan_id)
                                .push_bind(r.unit_id.as_str())
                                .push_bind(&r.name)
                                .push_bind(r.funding_source.as_str())
                                .push_bind(&r.kind)
                                .push_bind(&r.kind)
                                .push_bind(i64::from(r.workflow_version))
                                .push_bind(&r.state)
                                .push_bind(r.stage.as_str())
                                .push_bind(now)
                                .push("1")
                                .push_bind(&r.period)
                                .push_bind(r.is_rental)
                                .push("NULL, NULL, '{}', NULL, 1")
                                .push_bind(&n.audit.hash)
                                .push_bind(now)
                                .push_bind(now)
                                .push_bind(&r.key)
                                .push_bind(&r.seq)
                                .push_bind(&r.unit)
                                .push_bind(&r.progress_text)
                                .push_bind(&r.expected_completion)
                                .push_bind(r.expected_completion_on)
                                .push_bind(r.stage.as_str())
                                .push_bind(&r.notes)
                                .push_bind(n.position)
                                .push_bind(engine::domain::search_key(&r.name));
                        });
                        q.build().execute(&mut *tx).await?;
                        let lines: Vec<(&str, BudgetLine)> = batch
                            .iter()
                            .filter_map(|n| budget_of(n.row, plan.year).map(|b| (n.id.as_str(), b)))
                            .collect();
                        if !lines.is_empty() {
                            let mut q = sqlx::QueryBuilder::new(
                                "INSERT INTO budget_lines (task_id, year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd) ",
                            );
                            q.push_values(&lines, |mut b, (id, l)| {
                                b.push_bind(*id)
                                    .push_bind(i64::from(l.year))
                                    .push_bind(l.need_total_vnd)
                                    .push_bind(l.approved_estimate_vnd)
                                    .push_bind(l.need_year_vnd)
                                    .push_bind(l.allocated_year_vnd);
                            });
                            q.build().execute(&mut *tx).await?;
                        }
                        let mut q = sqlx::QueryBuilder::new(
                            "INSERT INTO audit_log (task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state, from_phase, \
                             to_phase, comment, documents, workflow, workflow_version, idempotency_key, prev_hash, hash) ",
                        );
                        q.push_values(&batch, |mut b, n| {
                            let a = &n.audit;
                            b.push_bind(&a.task_id)
                                .push_bind(a.seq)
                                .push_bind(&a.kind)
                                .push_bind(a.at)
                                .push_bind(&a.actor_user)
                                .push_bind(&a.actor_role)
                                .push_bind(&a.transition)
                                .push_bind(&a.from_state)
                                .push_bind(&a.to_state)
                                .push_bind(&a.from_phase)
                                .push_bind(&a.to_phase)
                                .push_bind(&a.comment)
                                .push("'[]'")
                                .push_bind(&a.workflow)
                                .push_bind(a.workflow_version)
                                .push_bind(&a.idempotency_key)
                                .push_bind(&a.prev_hash)
                                .push_bind(&a.hash);
                        });
                        q.build().execute(&mut *tx).await?;
                        outcome.created += batch.len();
                    }
                    // Changed tasks, one by one (a corrected file changes a few rows).
                    for u in &updates {
                        let e = u.existing;
                        let r = u.row;
                        let updated = if u.replaced {
                            sqlx::query(
                                "UPDATE tasks SET name = $1, unit_printed = $2, funding_source = $3, period = $4, is_rental = $5, \
                                 source_seq = $6, expected_completion = $7, expected_completion_on = $8, source_stage = $9, \
                                 progress_text = $10, notes = $11, version = version + 1, audit_seq = $12, audit_head = $13, \
                                 updated_at = $14, state = $15, phase = $16, state_entered_at = $14, clock = NULL, \
                                 paused_clock = NULL, due_at = NULL, name_search = $19 WHERE id = $17 AND version = $18",
                            )
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
                            .bind(now)
                            .bind(&u.state)
                            .bind(u.phase.as_str())
                            .bind(&e.id)
                            .bind(e.version)
                            .bind(engine::domain::search_key(&r.name))
                            .execute(&mut *tx)
                            .await?
                            .rows_affected()
                        } else {
                            sqlx::query(
                                "UPDATE tasks SET name = $1, unit_printed = $2, funding_source = $3, period = $4, is_rental = $5, \
                                 source_seq = $6, expected_completion = $7, expected_completion_on = $8, source_stage = $9, \
                                 progress_text = $10, notes = $11, version = version + 1, audit_seq = $12, audit_head = $13, \
                                 updated_at = $14, name_search = $17 WHERE id = $15 AND version = $16",
                            )
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
                            .bind(now)
                            .bind(&e.id)
                            .bind(e.version)
                            .bind(engine::domain::search_key(&r.name))
                            .execute(&mut *tx)
                            .await?
                            .rows_affected()
                        };
                        if updated == 0 {
                            let current: i64 = sqlx::query_scalar("SELECT version FROM tasks WHERE id = $1")
                                .bind(&e.id)
                                .fetch_one(&mut *tx)
                                .await?;
                            return Ok(Err(StoreError::Conflict {
                                expected: e.version,
                                current,
                            }));
                        }
                        if u.replaced {
                            sqlx::query("UPDATE timers SET status = 'cancelled' WHERE task_id = $1 AND status = 'pending'")
                                .bind(&e.id)
                                .execute(&mut *tx)
                                .await?;
                        }
                        sqlx::query("DELETE FROM budget_lines WHERE task_id = $1 AND year = $2")
                            .bind(&e.id)
                            .bind(i64::from(plan.year))
                            .execute(&mut *tx)
                            .await?;
                        if let Some(l) = budget_of(r, plan.year) {
                            sqlx::query(
                                "INSERT INTO budget_lines (task_id, year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd) \
                                 VALUES ($1, $2, $3, $4, $5, $6)",
                            )
                            .bind(&e.id)
                            .bind(i64::from(l.year))
                            .bind(l.need_total_vnd)
                            .bind(l.approved_estimate_vnd)
                            .bind(l.need_year_vnd)
                            .bind(l.allocated_year_vnd)
                            .execute(&mut *tx)
                            .await?;
                        }
                        insert_audit!(&mut *tx, &u.audit)?;
                    }
                    if sqlite {
                        sqlx::query("PRAGMA cache_size = -2000").execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(Ok(outcome))
                }
                .await
            }
        );
        match result {
            Ok(r) => r,
            Err(e) if is_unique_violation(&e) => Err(StoreError::Invalid(format!(
                "Một lần nhập khác vào kế hoạch {number} vừa ghi cùng dữ liệu; không ghi gì ở lần này. Hãy chạy lại lệnh nhập (các dòng đã có sẽ được giữ nguyên)."
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Decides what a changed row does to its task: the new state (moved only when the stage
    /// changed and the task still sits where the last import placed it) and the audit entry.
    fn plan_update<'a>(
        &self,
        e: &'a Known,
        r: &'a CatalogueRow,
        changes: Vec<String>,
        actor: &ImportActor,
        now: Instant,
    ) -> Result<(UpdateRow<'a>, TaskUpdate), StoreError> {
        let version = u32::try_from(e.workflow_version).unwrap_or_default();
        let wf: &Workflow = self
            .catalog()
            .get(&e.workflow, version)
            .map(|w| w.as_ref())
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "Nhiệm vụ `{}` chạy trên quy trình `{}` phiên bản {}, nhưng phiên bản này không còn trong thư mục quy trình.",
                    e.id, e.workflow, e.workflow_version
                ))
            })?;
        let current_phase: Phase = e
            .phase
            .parse()
            .map_err(|err: engine::phase::UnknownPhase| StoreError::Invalid(err.to_string()))?;
        let stage_changed = e.stage.as_deref() != Some(r.stage.as_str());
        let placed_before = e
            .stage
            .as_deref()
            .and_then(|s| s.parse::<Phase>().ok())
            .and_then(|p| placement(wf, p))
            .map(|s| s.name.as_str());
        let mut note = None;
        let (state, phase, replaced) = if !stage_changed {
            (e.state.clone(), current_phase, false)
        } else if placed_before == Some(e.state.as_str()) {
            match placement(wf, r.stage) {
                Some(s) => (s.name.clone(), s.phase, true),
                None => {
                    return Err(StoreError::Invalid(format!(
                        "Dòng {}: quy trình `{}` của nhiệm vụ không có bước nào thuộc giai đoạn {}.",
                        r.line,
                        wf.name,
                        r.stage.as_str()
                    )));
                }
            }
        } else {
            let title = wf
                .state(&e.state)
                .map(|s| s.title.clone())
                .unwrap_or_else(|| e.state.clone());
            note = Some(format!(
                "giữ nguyên bước hiện tại «{title}» vì nhiệm vụ đã được xử lý trong hệ thống sau lần nhập trước"
            ));
            (e.state.clone(), current_phase, false)
        };
        let mut comment = format!("Cập nhật theo tệp kế hoạch: {}", changes.join("; "));
        if let Some(n) = &note {
            comment.push_str(&format!(" ({n})"));
        }
        let entry = AuditEntry {
            transition: IMPORT_UPDATE_TRANSITION.into(),
            actor_user: actor.user.clone(),
            actor_role: actor.role,
            from_state: Some(e.state.clone()),
            to_state: state.clone(),
            from_phase: Some(current_phase),
            to_phase: phase,
            comment: Some(comment),
            documents: Vec::new(),
            workflow: wf.name.clone(),
            workflow_version: wf.version,
            at: now,
        };
        let audit = AuditRecord::new(
            &e.id,
            e.audit_seq + 1,
            "import_update",
            &entry,
            None,
            &e.audit_head,
        );
        Ok((
            UpdateRow {
                existing: e,
                row: r,
                state,
                phase,
                replaced,
                audit,
            },
            TaskUpdate {
                task_id: e.id.clone(),
                line: r.line,
                name: r.name.clone(),
                changes,
                note,
            },
        ))
    }
}

/// A task as the reports see it on a date: the task, its budget line for its plan's year, and
/// the audit entry that describes it then (see [`Store::report_rows`]).
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
}

impl Store {
    /// Every task of `plan` (all plans when `None`) as of `cutoff`: described by its latest audit
    /// entry at or before `cutoff`, or, for a task imported after `cutoff`, by its import entry
    /// (an import records the plan's state as printed, the best knowledge of that date). Tasks
    /// created after `cutoff` by other means did not exist then and are left out. Ordered by
    /// file position, then creation. The common cases (the latest entry is before the cutoff, or
    /// is the import itself) cost one index lookup per task; only tasks that moved after the
    /// cutoff search their chain.
    pub async fn report_rows(
        &self,
        plan: Option<&str>,
        cutoff: Instant,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let cutoff = micros(cutoff);
        let plan_id = match plan {
            Some(p) => Some(self.plan(p).await?.id),
            None => None,
        };
        let sqlite = self.backend() == super::Backend::Sqlite;
        let rows: Vec<ReportRow> = with_db!(self, |pool| {
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
                 us.display_name AS actor_name \
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
                let r = &row;
                let funding: String = r.try_get("funding_source")?;
                let phase: String = r.try_get("to_phase")?;
                let clock: Option<String> = r.try_get("clock")?;
                let paused: Option<String> = r.try_get("paused_clock")?;
                let entry_seq: i64 = r.try_get("entry_seq")?;
                let audit_seq: i64 = r.try_get("audit_seq")?;
                let is_latest = entry_seq == audit_seq;
                out.push(ReportRow {
                    task_id: r.try_get("id")?,
                    unit_id: r.try_get("unit_id")?,
                    unit_printed: r.try_get("unit_printed")?,
                    name: r.try_get("name")?,
                    funding_source: funding.parse().map_err(|e: String| {
                        sqlx::Error::Decode(format!("tasks.funding_source: {e}").into())
                    })?,
                    period: r.try_get("period")?,
                    is_rental: r.try_get("is_rental")?,
                    budget: [
                        r.try_get("need_total_vnd")?,
                        r.try_get("approved_estimate_vnd")?,
                        r.try_get("need_year_vnd")?,
                        r.try_get("allocated_year_vnd")?,
                    ],
                    expected_completion: r.try_get("expected_completion")?,
                    expected_completion_on: r.try_get("expected_completion_on")?,
                    progress_text: r.try_get("progress_text")?,
                    position: r.try_get("position")?,
                    created_at: r.try_get("created_at")?,
                    clock: if is_latest {
                        clock.and_then(|c| serde_json::from_str(&c).ok())
                    } else {
                        None
                    },
                    paused: is_latest && paused.is_some(),
                    entry_seq,
                    is_latest,
                    entry_kind: r.try_get("entry_kind")?,
                    entry_at: r.try_get("entry_at")?,
                    actor_user: r.try_get("actor_user")?,
                    actor_name: r.try_get("actor_name")?,
                    actor_role: r.try_get("actor_role")?,
                    state: r.try_get("to_state")?,
                    phase: phase.parse().map_err(|e: engine::phase::UnknownPhase| {
                        sqlx::Error::Decode(format!("audit_log.to_phase: {e}").into())
                    })?,
                    comment: r.try_get("comment")?,
                    workflow: r.try_get("entry_workflow")?,
                    workflow_version: u32::try_from(r.try_get::<i64, _>("entry_workflow_version")?)
                        .unwrap_or_default(),
                });
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
    pub async fn unit_names_on(
        &self,
        date: NaiveDate,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String, NaiveDate)> = with_db!(self, |pool| {
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

impl Store {
    /// The importing user: must exist, be enabled and hold `skhcn`, `ubnd` or `admin` (those who
    /// compile the city's plan or administer the system); the entry records that role.
    pub async fn import_actor(&self, username: &str) -> Result<ImportActor, StoreError> {
        let user = self.user(username).await?;
        if user.disabled {
            return Err(StoreError::Invalid(format!(
                "Tài khoản `{username}` đã bị khóa."
            )));
        }
        let role = [Role::Skhcn, Role::Ubnd, Role::Admin]
            .into_iter()
            .find(|r| user.roles.contains(r))
            .ok_or_else(|| {
                StoreError::Rejected(engine::decide::Rejection::WrongRole {
                    transition: IMPORT_TRANSITION.into(),
                    allowed: vec![Role::Skhcn, Role::Ubnd, Role::Admin],
                    yours: user.roles.clone(),
                })
            })?;
        Ok(ImportActor {
            user: user.username,
            role: Some(role),
        })
    }
}
