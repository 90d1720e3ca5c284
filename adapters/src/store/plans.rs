//! Plans that span years (issue 14): one aggregate, [`Plans`].
//!
//! A task is *listed* in one or more yearly plans (`plan_listings`); each listing has its
//! section and category in that plan, the TT, unit and name as printed, the budget line of the
//! plan's year and how the task did in that year ([`YearStatus`]). Every figure written to a
//! budget line is also appended to `budget_history` with the date it is known from, so a report
//! "as of" a date reads what was known then.
//!
//! - [`Plans::listings_of`]: every plan each of some tasks is listed in (the task list and the
//!   task's detail show them);
//! - [`Plans::set_year_status_as`]: the year-level status of a listing, audited in the task's
//!   chain (kind `year_status`);
//! - [`record_budget`] and [`insert_listing`]: the writes the import and task creation share.

use std::collections::HashMap;

use chrono::NaiveDate;
use engine::access;
use engine::decide::{Actor, AuditEntry};
use engine::plan::YearStatus;
use engine::time::Instant;
use serde::Serialize;

use super::audit::{AuditRecord, insert_audit};
use super::sql::{Arg, Conn};
use super::{BudgetLine, Store, StoreError, micros, with_db};

/// Reading and annotating the plans a task is listed in.
#[derive(Debug, Clone, Copy)]
pub struct Plans<'a> {
    store: &'a Store,
}

impl Store {
    /// Plans that span years: see [`Plans`].
    pub fn plans(&self) -> Plans<'_> {
        Plans { store: self }
    }
}

impl<'a> Plans<'a> {
    pub(crate) fn store(&self) -> &'a Store {
        self.store
    }
}

/// One plan a task is listed in, with that year's budget line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub plan_id: String,
    pub plan_number: String,
    pub plan_year: i32,
    pub plan_title: String,
    /// The section (appendix) the task is printed in, as the plan's layout names it.
    pub section: String,
    /// Its category there (`thuong_xuyen`, `chuyen_tiep`, `moi`, `dau_tu_cong` …).
    pub category: Option<String>,
    pub category_title: Option<String>,
    /// TT as printed.
    pub printed_seq: Option<String>,
    pub unit_printed: Option<String>,
    pub name_printed: Option<String>,
    /// How the task did in that plan year, apart from its lifecycle.
    pub year_status: Option<YearStatus>,
    pub year_status_title: Option<String>,
    pub year_status_note: Option<String>,
    /// The budget line of the plan's year, in đồng; `None` when the plan gives no amount.
    pub budget: Option<ListingBudget>,
}

/// A listing's budget line, in đồng.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ListingBudget {
    pub year: i32,
    pub need_total_vnd: Option<i64>,
    pub approved_estimate_vnd: Option<i64>,
    pub need_year_vnd: Option<i64>,
    /// The year's planned allocation (dự kiến phân bổ), apart from the allocation.
    pub planned_allocation_vnd: Option<i64>,
    pub allocated_year_vnd: Option<i64>,
    /// Funds carried over from the previous year (chuyển nguồn).
    pub carried_over_vnd: Option<i64>,
    pub spent_vnd: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ListingRow {
    task_id: String,
    plan_id: String,
    plan_number: String,
    plan_year: i64,
    plan_title: String,
    section: String,
    category: Option<String>,
    printed_seq: Option<String>,
    unit_printed: Option<String>,
    name_printed: Option<String>,
    year_status: Option<String>,
    year_status_note: Option<String>,
    b_year: Option<i64>,
    need_total_vnd: Option<i64>,
    approved_estimate_vnd: Option<i64>,
    need_year_vnd: Option<i64>,
    planned_allocation_vnd: Option<i64>,
    allocated_year_vnd: Option<i64>,
    carried_over_vnd: Option<i64>,
    spent_vnd: Option<i64>,
}

impl ListingRow {
    fn listing(self) -> (String, Listing) {
        let plan_year = i32::try_from(self.plan_year).unwrap_or_default();
        let year_status = self
            .year_status
            .as_deref()
            .and_then(|s| s.parse::<YearStatus>().ok());
        let budget = self.b_year.map(|y| ListingBudget {
            year: i32::try_from(y).unwrap_or(plan_year),
            need_total_vnd: self.need_total_vnd,
            approved_estimate_vnd: self.approved_estimate_vnd,
            need_year_vnd: self.need_year_vnd,
            planned_allocation_vnd: self.planned_allocation_vnd,
            allocated_year_vnd: self.allocated_year_vnd,
            carried_over_vnd: self.carried_over_vnd,
            spent_vnd: self.spent_vnd,
        });
        (
            self.task_id,
            Listing {
                plan_id: self.plan_id,
                plan_number: self.plan_number,
                plan_year,
                plan_title: self.plan_title,
                section: self.section,
                category_title: self
                    .category
                    .as_deref()
                    .map(|c| engine::plan::category_title(c).to_string()),
                category: self.category,
                printed_seq: self.printed_seq,
                unit_printed: self.unit_printed,
                name_printed: self.name_printed,
                year_status_title: year_status.map(|y| y.title().to_string()),
                year_status,
                year_status_note: self.year_status_note,
                budget,
            },
        )
    }
}

const SELECT_LISTINGS: &str = "SELECT l.task_id, l.plan_id, p.number AS plan_number, p.year AS plan_year, p.title AS plan_title, \
    l.section, l.category, l.printed_seq, l.unit_printed, l.name_printed, l.year_status, l.year_status_note, \
    b.year AS b_year, b.need_total_vnd, b.approved_estimate_vnd, b.need_year_vnd, b.allocated_year_vnd, \
    b.carried_over_vnd, b.spent_vnd, b.planned_allocation_vnd \
    FROM plan_listings l JOIN plans p ON p.id = l.plan_id \
    LEFT JOIN budget_lines b ON b.task_id = l.task_id AND b.year = p.year";

/// Task ids per query: well under both backends' parameter limits.
const IDS_PER_QUERY: usize = 500;

impl Plans<'_> {
    /// Every plan each of `task_ids` is listed in, oldest plan year first, with that year's
    /// budget line. For callers that have already been let see the tasks (the task list, the
    /// task's detail): no access rule is applied here.
    pub async fn listings_of(
        &self,
        task_ids: &[&str],
    ) -> Result<HashMap<String, Vec<Listing>>, StoreError> {
        let mut out: HashMap<String, Vec<Listing>> = HashMap::new();
        for chunk in task_ids.chunks(IDS_PER_QUERY) {
            if chunk.is_empty() {
                continue;
            }
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "{SELECT_LISTINGS} WHERE l.task_id IN ({}) ORDER BY p.year, p.number",
                placeholders.join(", ")
            );
            let args: Vec<Arg<'_>> = chunk.iter().map(|id| Arg::Str(id)).collect();
            let rows: Vec<ListingRow> = with_db!(self.store, |pool| {
                let mut c = pool.acquire().await?;
                Conn::from(&mut *c).fetch_all(&sql, &args).await?
            });
            for r in rows {
                let (task, listing) = r.listing();
                out.entry(task).or_default().push(listing);
            }
        }
        Ok(out)
    }

    /// The plans one task is listed in.
    pub async fn listings(&self, task_id: &str) -> Result<Vec<Listing>, StoreError> {
        Ok(self
            .listings_of(&[task_id])
            .await?
            .remove(task_id)
            .unwrap_or_default())
    }

    /// Records how task `task_id` did in plan `plan_number`'s year (`None` clears it), as
    /// `actor`, who must be allowed to import plans ([`access::may_import`]). Audited in the
    /// task's chain as a `year_status` entry that leaves its state as it is.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %plan_number, task = %task_id))]
    pub async fn set_year_status_as(
        &self,
        actor: &Actor,
        plan_number: &str,
        task_id: &str,
        status: Option<YearStatus>,
        note: Option<&str>,
        now: Instant,
    ) -> Result<Listing, StoreError> {
        let role = access::may_import(actor)?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            let found: Vec<(String, i64)> = conn
                .fetch_all(
                    "SELECT l.plan_id, p.year FROM plan_listings l JOIN plans p ON p.id = l.plan_id \
                     WHERE p.number = $1 AND l.task_id = $2",
                    &[Arg::Str(plan_number.trim()), Arg::Str(task_id)],
                )
                .await?;
            let Some((plan_id, year)) = found.into_iter().next() else {
                return Err(StoreError::Invalid(format!(
                    "Nhiệm vụ {task_id} không có trong kế hoạch {}: xem `tiendo task show {task_id}` để biết các kế hoạch liệt kê nhiệm vụ.",
                    plan_number.trim()
                )));
            };
            conn.execute(
                "UPDATE plan_listings SET year_status = $1, year_status_note = $2 WHERE plan_id = $3 AND task_id = $4",
                &[
                    Arg::OptStr(status.map(YearStatus::as_str)),
                    Arg::OptStr(note),
                    Arg::Str(&plan_id),
                    Arg::Str(task_id),
                ],
            )
            .await?;
            conn.execute(
                "INSERT INTO year_status_history (plan_id, task_id, year_status, note, recorded_at, recorded_by) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    Arg::Str(&plan_id),
                    Arg::Str(task_id),
                    Arg::OptStr(status.map(YearStatus::as_str)),
                    Arg::OptStr(note),
                    Arg::Time(micros(now)),
                    Arg::Str(&actor.user),
                ],
            )
            .await?;
            let comment = match status {
                Some(s) => format!(
                    "Tình trạng năm {year} (kế hoạch {}): {}{}",
                    plan_number.trim(),
                    s.title(),
                    note.map(|n| format!(" — {n}")).unwrap_or_default()
                ),
                None => format!(
                    "Xóa tình trạng năm {year} (kế hoạch {})",
                    plan_number.trim()
                ),
            };
            append_note(
                &mut conn,
                task_id,
                NoteEntry::new(
                    "year_status",
                    "tinh_trang_nam",
                    comment,
                    &actor.user,
                    Some(role),
                ),
                now,
            )
            .await?;
            tx.commit().await?;
        });
        self.listings(task_id)
            .await?
            .into_iter()
            .find(|l| l.plan_number == plan_number.trim())
            .ok_or_else(|| StoreError::not_found("kế hoạch", plan_number))
    }
}

/// An audit entry that records a fact about a task without moving it.
pub(crate) struct NoteEntry<'a> {
    pub kind: &'a str,
    pub transition: &'a str,
    pub comment: String,
    pub actor_user: &'a str,
    pub actor_role: Option<engine::Role>,
    /// The documents the entry concerns, and their evidence ([`AuditRecord::evidence`]).
    pub documents: Vec<String>,
    pub evidence: Option<String>,
}

impl<'a> NoteEntry<'a> {
    /// A note about no document.
    pub fn new(
        kind: &'a str,
        transition: &'a str,
        comment: String,
        actor_user: &'a str,
        actor_role: Option<engine::Role>,
    ) -> NoteEntry<'a> {
        NoteEntry {
            kind,
            transition,
            comment,
            actor_user,
            actor_role,
            documents: Vec::new(),
            evidence: None,
        }
    }
}

/// Appends `note` to the task's audit chain (its state stays), moving the chain's head. A
/// concurrent change of the chain is refused as a conflict to retry.
pub(crate) async fn append_note(
    conn: &mut Conn<'_>,
    task_id: &str,
    note: NoteEntry<'_>,
    now: Instant,
) -> Result<(), StoreError> {
    if try_append_note(conn, task_id, note, now).await? {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "Nhiệm vụ vừa được người khác cập nhật; hãy thử lại.".into(),
        ))
    }
}

/// [`append_note`], telling a lost race (`false`: the chain moved since it was read, nothing
/// written) from success, for callers that retry.
pub(crate) async fn try_append_note(
    conn: &mut Conn<'_>,
    task_id: &str,
    note: NoteEntry<'_>,
    now: Instant,
) -> Result<bool, StoreError> {
    Ok(append_note_at(conn, task_id, note, now).await?.is_some())
}

/// [`try_append_note`], answering the new entry's id and sequence number (`None`: the chain
/// moved since it was read, nothing written).
pub(crate) async fn append_note_at(
    conn: &mut Conn<'_>,
    task_id: &str,
    note: NoteEntry<'_>,
    now: Instant,
) -> Result<Option<(i64, i64)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Head {
        state: String,
        phase: String,
        workflow: String,
        workflow_version: i64,
        audit_seq: i64,
        audit_head: String,
    }
    let heads: Vec<Head> = conn
        .fetch_all(
            "SELECT state, phase, workflow, workflow_version, audit_seq, audit_head FROM tasks WHERE id = $1",
            &[Arg::Str(task_id)],
        )
        .await?;
    let head = heads
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::not_found("nhiệm vụ", task_id))?;
    let phase: engine::Phase = head
        .phase
        .parse()
        .map_err(|e| StoreError::internal(format!("task {task_id}: phase: {e}")))?;
    let entry = AuditEntry {
        transition: note.transition.to_string(),
        actor_user: note.actor_user.to_string(),
        actor_role: note.actor_role,
        from_state: Some(head.state.clone()),
        to_state: head.state,
        from_phase: Some(phase),
        to_phase: phase,
        comment: Some(note.comment),
        documents: note.documents,
        workflow: head.workflow,
        workflow_version: u32::try_from(head.workflow_version).unwrap_or_default(),
        at: micros(now),
    };
    let record = AuditRecord::new(
        task_id,
        head.audit_seq + 1,
        note.kind,
        &entry,
        None,
        &head.audit_head,
    )
    .with_evidence(note.evidence);
    let moved = conn
        .execute(
            "UPDATE tasks SET audit_seq = $1, audit_head = $2 WHERE id = $3 AND audit_seq = $4",
            &[
                Arg::Int(record.seq),
                Arg::Str(&record.hash),
                Arg::Str(task_id),
                Arg::Int(head.audit_seq),
            ],
        )
        .await?;
    if moved == 0 {
        return Ok(None);
    }
    let id = insert_audit(conn, &record).await?;
    Ok(Some((id, record.seq)))
}

/// A listing to write.
pub(crate) struct NewListing<'a> {
    pub plan_id: &'a str,
    pub task_id: &'a str,
    pub section: &'a str,
    pub category: Option<&'a str>,
    pub printed_seq: Option<&'a str>,
    pub unit_printed: Option<&'a str>,
    pub name_printed: Option<&'a str>,
    pub source_key: Option<&'a str>,
    pub position: Option<i64>,
}

/// The listing columns a new listing writes, in the order of [`NewListing::values`].
macro_rules! listings_columns {
    () => {
        "plan_listings (plan_id, task_id, section, category, printed_seq, unit_printed, name_printed, \
         source_key, position, created_at)"
    };
}
pub(crate) use listings_columns;

impl<'a> NewListing<'a> {
    /// The listing's values in the order of [`listings_columns!`], created at `now`; the import
    /// writes its new tasks' listings with them, [`insert_listing`] one at a time.
    pub(crate) fn values(&self, now: Instant) -> [Arg<'a>; 10] {
        [
            Arg::Str(self.plan_id),
            Arg::Str(self.task_id),
            Arg::Str(self.section),
            Arg::OptStr(self.category),
            Arg::OptStr(self.printed_seq),
            Arg::OptStr(self.unit_printed),
            Arg::OptStr(self.name_printed),
            Arg::OptStr(self.source_key),
            Arg::OptInt(self.position),
            Arg::Time(now),
        ]
    }
}

/// The budget-line columns a new line writes, in the order of [`budget_line_values`].
macro_rules! budget_lines_columns {
    () => {
        "budget_lines (task_id, year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd, plan_id, \
         planned_allocation_vnd)"
    };
}
pub(crate) use budget_lines_columns;

/// A new budget line of `task_id` in `plan_id`, as values in the order of
/// [`budget_lines_columns!`]: the import writes its new tasks' lines with them, a proposed task
/// its own.
pub(crate) fn budget_line_values<'a>(
    task_id: &'a str,
    l: &BudgetLine,
    plan_id: &'a str,
) -> [Arg<'a>; 8] {
    [
        Arg::Str(task_id),
        Arg::Int(i64::from(l.year)),
        Arg::OptInt(l.need_total_vnd),
        Arg::OptInt(l.approved_estimate_vnd),
        Arg::OptInt(l.need_year_vnd),
        Arg::OptInt(l.allocated_year_vnd),
        Arg::Str(plan_id),
        Arg::OptInt(l.planned_allocation_vnd),
    ]
}

/// Lists a task in a plan.
pub(crate) async fn insert_listing(
    conn: &mut Conn<'_>,
    l: &NewListing<'_>,
    now: Instant,
) -> Result<(), sqlx::Error> {
    conn.execute(
        concat!(
            "INSERT INTO ",
            listings_columns!(),
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        &l.values(now),
    )
    .await
    .map(drop)
}

/// Who wrote a budget figure, and from when it is known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recorded<'a> {
    pub plan_id: Option<&'a str>,
    pub known_from: NaiveDate,
    pub at: Instant,
    pub by: &'a str,
}

/// Appends a budget line's figures (or its removal: `line` is `None`) for `year` to
/// `budget_history`.
pub(crate) async fn record_budget(
    conn: &mut Conn<'_>,
    task_id: &str,
    year: i32,
    line: Option<&BudgetLine>,
    rec: Recorded<'_>,
) -> Result<(), sqlx::Error> {
    record_budget_with_tranches(conn, task_id, year, line, None, rec).await
}

/// The one writer of `budget_history`: `line`'s figures (or its removal) for `year`, with the
/// carried-over and spent figures the task's `budget_lines` row holds for that year when it is
/// written, and the year's tranches as JSON where the writer knows them.
pub(crate) async fn record_budget_with_tranches(
    conn: &mut Conn<'_>,
    task_id: &str,
    year: i32,
    line: Option<&BudgetLine>,
    tranches: Option<&str>,
    rec: Recorded<'_>,
) -> Result<(), sqlx::Error> {
    let l = line.copied().unwrap_or_default();
    conn.execute(
        "INSERT INTO budget_history (task_id, year, plan_id, need_total_vnd, approved_estimate_vnd, need_year_vnd, \
         allocated_year_vnd, removed, known_from, recorded_at, recorded_by, planned_allocation_vnd, tranches, \
         carried_over_vnd, spent_vnd) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         (SELECT c.carried_over_vnd FROM budget_lines c WHERE c.task_id = $1 AND c.year = $2), \
         (SELECT c.spent_vnd FROM budget_lines c WHERE c.task_id = $1 AND c.year = $2))",
        &[
            Arg::Str(task_id),
            Arg::Int(i64::from(year)),
            Arg::OptStr(rec.plan_id),
            Arg::OptInt(l.need_total_vnd),
            Arg::OptInt(l.approved_estimate_vnd),
            Arg::OptInt(l.need_year_vnd),
            Arg::OptInt(l.allocated_year_vnd),
            Arg::Bool(line.is_none()),
            Arg::Date(rec.known_from),
            Arg::Time(rec.at),
            Arg::Str(rec.by),
            Arg::OptInt(l.planned_allocation_vnd),
            Arg::OptStr(tranches),
        ],
    )
    .await
    .map(drop)
}
