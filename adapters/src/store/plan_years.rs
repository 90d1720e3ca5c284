//! A task across plan years (issue 14), on [`Plans`]: its plan's layout, its budget per year
//! with tranches and history, its lineage to other tasks, and renames or kind changes. Every
//! write is audited in the task's chain (who, when, why) and acts for an actor allowed to
//! import plans ([`access::may_import`]); reads act for someone who may see the task.

use std::collections::HashMap;

use chrono::NaiveDate;
use engine::access;
use engine::decide::Actor;
use engine::plan::budget::{Tranche, YearBudget, check_year_budget};
use engine::plan::layout::{PlanLayout, default_layout, parse_layout};
use engine::plan::{Relation, check_link};
use engine::time::{Instant, end_of_day, format_date, local_date};
use serde::Serialize;

use super::columns::{Columns, Positional, fetch_all};
use super::plans::{NoteEntry, Plans, Recorded, append_note, record_budget_with_tranches};
use super::records::BudgetLine;
use super::sql::{Arg, Conn};
use super::{StoreError, micros, with_db};

/// A budget line for a year as known on a date, with every figure ever written to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetRecord {
    pub task_id: String,
    pub year: i32,
    /// The date the figures are as known on; `None` for the latest.
    pub as_of: Option<NaiveDate>,
    /// From when the figures shown are known; `None` when nothing was known then.
    pub known_from: Option<NaiveDate>,
    pub budget: YearBudget,
    /// Oldest first.
    pub history: Vec<BudgetEntry>,
}

/// One figure set written to a budget line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetEntry {
    pub known_from: NaiveDate,
    pub recorded_at: Instant,
    pub recorded_by: String,
    pub removed: bool,
    pub budget: YearBudget,
}

/// One row of `budget_history`, its fields in the order [`SELECT_HISTORY`] lists its columns
/// (decoded by position on both backends, see [`super::columns`]).
struct HistoryRow {
    id: i64,
    task_id: String,
    year: i32,
    need_total_vnd: Option<i64>,
    approved_estimate_vnd: Option<i64>,
    need_year_vnd: Option<i64>,
    planned_allocation_vnd: Option<i64>,
    allocated_year_vnd: Option<i64>,
    carried_over_vnd: Option<i64>,
    spent_vnd: Option<i64>,
    tranches: Option<String>,
    removed: bool,
    known_from: NaiveDate,
    recorded_at: Instant,
    recorded_by: String,
}

impl Positional for HistoryRow {
    /// The columns of [`SELECT_HISTORY`] in order.
    fn decode<C: Columns>(c: &mut C) -> Result<HistoryRow, C::Error> {
        Ok(HistoryRow {
            id: c.next()?,
            task_id: c.next()?,
            year: c.narrow()?,
            need_total_vnd: c.next()?,
            approved_estimate_vnd: c.next()?,
            need_year_vnd: c.next()?,
            planned_allocation_vnd: c.next()?,
            allocated_year_vnd: c.next()?,
            carried_over_vnd: c.next()?,
            spent_vnd: c.next()?,
            tranches: c.next()?,
            removed: c.next()?,
            known_from: c.next()?,
            recorded_at: c.instant()?,
            recorded_by: c.next()?,
        })
    }
}

impl HistoryRow {
    fn entry(self) -> (String, BudgetEntry, bool) {
        let has_tranches = self.tranches.is_some();
        let tranches: Vec<Tranche> = self
            .tranches
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        (
            self.task_id,
            BudgetEntry {
                known_from: self.known_from,
                recorded_at: self.recorded_at,
                recorded_by: self.recorded_by,
                removed: self.removed,
                budget: YearBudget {
                    need_total_vnd: self.need_total_vnd,
                    approved_estimate_vnd: self.approved_estimate_vnd,
                    need_year_vnd: self.need_year_vnd,
                    planned_allocation_vnd: self.planned_allocation_vnd,
                    allocated_year_vnd: self.allocated_year_vnd,
                    carried_over_vnd: self.carried_over_vnd,
                    spent_vnd: self.spent_vnd,
                    tranches,
                },
            },
            has_tranches,
        )
    }
}

const SELECT_HISTORY: &str = "SELECT h.id, h.task_id, h.year, h.need_total_vnd, h.approved_estimate_vnd, h.need_year_vnd, \
    h.planned_allocation_vnd, h.allocated_year_vnd, h.carried_over_vnd, h.spent_vnd, h.tranches, h.removed, h.known_from, \
    h.recorded_at, h.recorded_by FROM budget_history h";

/// The figures of `entries` (one task and year, in the order written) as known on `as_of`: the
/// last entry known from that date and recorded by its end; before any, the first entry (the
/// plan as first recorded, the best knowledge of that date), so that a report of a date gives
/// the same figures whenever it is made. Tranches carry over entries that do not state them.
/// `None` as_of: the latest.
pub(crate) fn known_on(
    entries: &[(BudgetEntry, bool)],
    as_of: Option<NaiveDate>,
) -> Option<&BudgetEntry> {
    let visible =
        |e: &BudgetEntry| as_of.is_none_or(|d| e.known_from <= d && e.recorded_at <= end_of_day(d));
    let mut best = entries.iter().rposition(|(e, _)| visible(e));
    if best.is_none() && !entries.is_empty() {
        best = entries
            .iter()
            .enumerate()
            .min_by_key(|(_, (e, _))| e.recorded_at)
            .map(|(i, _)| i);
    }
    best.map(|i| &entries[i].0)
}

/// A lineage link between two tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageLink {
    /// The task that continues, replaces or is re-proposed from `other_task_id`.
    pub task_id: String,
    pub relation: Relation,
    pub relation_title: String,
    pub other_task_id: String,
    pub task_name: String,
    pub other_task_name: String,
    pub reason: String,
    pub actor_user: String,
    pub at: Instant,
}

/// A rename or kind change of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Rename {
    pub task_id: String,
    pub old_name: String,
    pub new_name: String,
    pub old_kind: Option<String>,
    pub new_kind: Option<String>,
    pub reason: String,
    pub actor_user: String,
    pub at: Instant,
}

impl Plans<'_> {
    /// The layout plan `plan_id` (of `year`) prints its reports by: the one kept with the plan
    /// (its printed import, or `tiendo plan layout`), else Plan 215's four appendices.
    pub async fn layout(&self, plan_id: &str, year: i32) -> Result<PlanLayout, StoreError> {
        let found: Option<(Option<String>,)> = with_db!(self.store(), |pool| {
            sqlx::query_as("SELECT layout FROM plans WHERE id = $1")
                .bind(plan_id)
                .fetch_optional(pool)
                .await?
        });
        match found.and_then(|r| r.0) {
            Some(text) => parse_layout(&text, "plans.layout").map_err(StoreError::internal),
            None => Ok(default_layout(year)),
        }
    }

    /// Keeps `layout` with plan `plan` (number or id) for its reports, as `actor`.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %plan))]
    pub async fn set_layout_as(
        &self,
        actor: &Actor,
        plan: &str,
        layout: &PlanLayout,
    ) -> Result<(), StoreError> {
        access::may_import(actor)?;
        let p = self.store().directory().plan(plan).await?;
        if let Some(y) = layout.year
            && y != p.year
        {
            return Err(StoreError::Invalid(format!(
                "Tệp bố cục khai báo năm {y}, nhưng kế hoạch {} là năm {}.",
                p.number, p.year
            )));
        }
        let text = layout.to_toml();
        with_db!(self.store(), |pool| {
            sqlx::query("UPDATE plans SET layout = $1 WHERE id = $2")
                .bind(&text)
                .bind(&p.id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Every budget entry of `year` for each of `task_ids`, oldest first, with whether it
    /// stated its tranches.
    pub(crate) async fn budget_entries(
        &self,
        task_ids: &[&str],
        year: i32,
    ) -> Result<HashMap<String, Vec<(BudgetEntry, bool)>>, StoreError> {
        let mut rows: Vec<HistoryRow> = Vec::new();
        for chunk in task_ids.chunks(500) {
            let placeholders: Vec<String> =
                (2..=chunk.len() + 1).map(|i| format!("${i}")).collect();
            let sql = format!(
                "{SELECT_HISTORY} WHERE h.year = $1 AND h.task_id IN ({})",
                placeholders.join(", ")
            );
            let mut args = vec![Arg::Int(i64::from(year))];
            args.extend(chunk.iter().map(|t| Arg::Str(t)));
            rows.extend(fetch_all::<HistoryRow>(self.store(), &sql, &args).await?);
        }
        Ok(by_task(rows))
    }

    /// [`Plans::budget_entries`] for every task plan `plan_id` lists, for `year` and for the
    /// year before, in one query.
    pub(crate) async fn budget_entries_of_plan(
        &self,
        plan_id: &str,
        year: i32,
    ) -> Result<[HashMap<String, Vec<(BudgetEntry, bool)>>; 2], StoreError> {
        // No ORDER BY: SQLite sorts 100,000 rows through a temporary file; [`by_task`] puts
        // them in the order written instead. Both years in one pass: each task's two lines sit
        // side by side in `budget_history_task_year`.
        let sql = format!(
            "{SELECT_HISTORY} JOIN plan_listings l ON l.task_id = h.task_id AND l.plan_id = $1 \
             WHERE h.year BETWEEN $2 AND $3"
        );
        let (from, to) = (i64::from(year) - 1, i64::from(year));
        let args = [Arg::Str(plan_id), Arg::Int(from), Arg::Int(to)];
        let rows: Vec<HistoryRow> = fetch_all(self.store(), &sql, &args).await?;
        let (this_year, year_before) = rows.into_iter().partition(|r| r.year == year);
        Ok([by_task(this_year), by_task(year_before)])
    }

    /// Task `task_id`'s budget line for `year` as known on `as_of` (the latest when `None`), with
    /// its history, for `actor`, who must be allowed to see the task.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %task_id, year))]
    pub async fn budget_as(
        &self,
        actor: &Actor,
        task_id: &str,
        year: i32,
        as_of: Option<NaiveDate>,
    ) -> Result<BudgetRecord, StoreError> {
        let task = self.store().tasks().visible_task(actor, task_id).await?;
        self.budget_of(&task.id, year, as_of).await
    }

    /// [`Plans::budget_as`] without an access rule (the operator at the shell).
    pub async fn budget_of(
        &self,
        task_id: &str,
        year: i32,
        as_of: Option<NaiveDate>,
    ) -> Result<BudgetRecord, StoreError> {
        let task = super::tasks::read::task(self.store(), task_id).await?;
        let entries = self
            .budget_entries(&[task.id.as_str()], year)
            .await?
            .remove(&task.id)
            .unwrap_or_default();
        let shown = known_on(&entries, as_of).filter(|e| !e.removed);
        Ok(BudgetRecord {
            task_id: task.id.clone(),
            year,
            as_of,
            known_from: shown.map(|e| e.known_from),
            budget: shown.map(|e| e.budget.clone()).unwrap_or_default(),
            history: entries.into_iter().map(|(e, _)| e).collect(),
        })
    }

    /// Writes task `task_id`'s budget line for `year` (every figure as given; tranches make the
    /// allocation, see [`check_year_budget`]), known from `known_from` (default: today), as
    /// `actor`. The line's history keeps the earlier figures; the task's chain gets a `budget`
    /// entry.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %task_id, year))]
    pub async fn set_budget_as(
        &self,
        actor: &Actor,
        task_id: &str,
        year: i32,
        budget: YearBudget,
        known_from: Option<NaiveDate>,
        now: Instant,
    ) -> Result<BudgetRecord, StoreError> {
        let role = access::may_import(actor)?;
        if !(2000..=2100).contains(&year) {
            return Err(StoreError::Invalid(format!(
                "Năm {year} không hợp lệ (2000–2100)."
            )));
        }
        let task = self.store().tasks().visible_task(actor, task_id).await?;
        let b = check_year_budget(year, budget).map_err(StoreError::Invalid)?;
        let now = micros(now);
        let known_from = known_from.unwrap_or_else(|| local_date(now));
        with_db!(self.store(), |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            write_budget_line(
                &mut conn,
                &task.id,
                year,
                &b,
                known_from,
                now,
                &actor.user,
                Some(role),
            )
            .await?;
            tx.commit().await?;
        });
        self.budget_as(actor, &task.id, year, None).await
    }

    /// Records that task `task_id` `relation` task `other` (continues, replaces, is re-proposed
    /// from), because of `reason`, as `actor`; audited in both tasks' chains. Returns the task's
    /// lineage.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %task_id))]
    pub async fn link_as(
        &self,
        actor: &Actor,
        task_id: &str,
        relation: Relation,
        other: &str,
        reason: &str,
        now: Instant,
    ) -> Result<Vec<LineageLink>, StoreError> {
        let role = access::may_import(actor)?;
        // Both tasks first (404), then the link itself: a task linked to itself is well-formed
        // but can never be processed (422).
        let tasks = self.store().tasks();
        let task = tasks.visible_task(actor, task_id).await?;
        let other = tasks.visible_task(actor, other).await?;
        if task.id == other.id {
            return Err(StoreError::Unprocessable(format!(
                "Nhiệm vụ {} không thể liên kết với chính nó: chọn một nhiệm vụ khác.",
                task.id
            )));
        }
        check_link(&task.id, &other.id, reason).map_err(StoreError::Invalid)?;
        if self
            .lineage_as(actor, &task.id)
            .await?
            .iter()
            .any(|l| l.task_id == task.id && l.other_task_id == other.id && l.relation == relation)
        {
            return Err(StoreError::Duplicate(format!(
                "Liên kết «{}» từ {} đến {}",
                relation.title(),
                task.id,
                other.id
            )));
        }
        let now = micros(now);
        let reason = reason.trim();
        with_db!(self.store(), |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            conn.execute(
                "INSERT INTO task_lineage (task_id, relation, other_task_id, reason, actor_user, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    Arg::Str(&task.id),
                    Arg::Str(relation.as_str()),
                    Arg::Str(&other.id),
                    Arg::Str(reason),
                    Arg::Str(&actor.user),
                    Arg::Time(now),
                ],
            )
            .await?;
            for (on, comment) in [
                (
                    &task.id,
                    format!(
                        "{} nhiệm vụ {} «{}»: {reason}",
                        relation.title(),
                        other.id,
                        other.name
                    ),
                ),
                (
                    &other.id,
                    format!(
                        "Nhiệm vụ {} «{}» {} nhiệm vụ này: {reason}",
                        task.id,
                        task.name,
                        relation.title().to_lowercase()
                    ),
                ),
            ] {
                append_note(
                    &mut conn,
                    on,
                    NoteEntry::new("lineage", "lien_ket", comment, &actor.user, Some(role)),
                    now,
                )
                .await?;
            }
            tx.commit().await?;
        });
        self.lineage_as(actor, &task.id).await
    }

    /// Every lineage link from or to task `task_id`, oldest first, for someone who may see it.
    pub async fn lineage_as(
        &self,
        actor: &Actor,
        task_id: &str,
    ) -> Result<Vec<LineageLink>, StoreError> {
        let task = self.store().tasks().visible_task(actor, task_id).await?;
        self.lineage_of(&[task.id.as_str()]).await
    }

    /// Every lineage link from or to any of `task_ids`, oldest first. No access rule.
    pub async fn lineage_of(&self, task_ids: &[&str]) -> Result<Vec<LineageLink>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            task_id: String,
            relation: String,
            other_task_id: String,
            task_name: String,
            other_task_name: String,
            reason: String,
            actor_user: String,
            at: Instant,
        }
        let mut out = Vec::new();
        for chunk in task_ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let list = placeholders.join(", ");
            let sql = format!(
                "SELECT l.task_id, l.relation, l.other_task_id, t.name AS task_name, o.name AS other_task_name, \
                 l.reason, l.actor_user, l.at FROM task_lineage l JOIN tasks t ON t.id = l.task_id \
                 JOIN tasks o ON o.id = l.other_task_id \
                 WHERE l.task_id IN ({list}) OR l.other_task_id IN ({list}) ORDER BY l.id"
            );
            let args: Vec<Arg<'_>> = chunk.iter().map(|t| Arg::Str(t)).collect();
            let rows: Vec<Row> = with_db!(self.store(), |pool| {
                let mut c = pool.acquire().await?;
                Conn::from(&mut *c).fetch_all(&sql, &args).await?
            });
            for r in rows {
                let relation: Relation = r
                    .relation
                    .parse()
                    .map_err(|e: String| StoreError::internal(format!("task_lineage: {e}")))?;
                out.push(LineageLink {
                    task_id: r.task_id,
                    relation_title: relation.title().to_string(),
                    relation,
                    other_task_id: r.other_task_id,
                    task_name: r.task_name,
                    other_task_name: r.other_task_name,
                    reason: r.reason,
                    actor_user: r.actor_user,
                    at: r.at,
                });
            }
        }
        out.sort_by_key(|l| l.at);
        out.dedup();
        Ok(out)
    }

    /// Renames task `task_id` and/or changes its kind (a workflow name of the catalog) across
    /// years, because of `reason`, as `actor`: the same task, an audited event (a `rename` entry
    /// in its chain and a row of `task_renames`, from which reports name the task as of a date).
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %task_id))]
    pub async fn rename_as(
        &self,
        actor: &Actor,
        task_id: &str,
        name: Option<&str>,
        kind: Option<&str>,
        reason: &str,
        now: Instant,
    ) -> Result<Rename, StoreError> {
        let role = access::may_import(actor)?;
        let task = self.store().tasks().visible_task(actor, task_id).await?;
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        let kind = kind.map(str::trim).filter(|k| !k.is_empty());
        if name.is_none() && kind.is_none() {
            return Err(StoreError::Invalid(
                "Cần tên mới (--name) hoặc loại mới (--kind).".into(),
            ));
        }
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("Cần ghi lý do (--reason).".into()));
        }
        if let Some(k) = kind
            && !self.store().catalog().names().contains(&k)
        {
            return Err(StoreError::Invalid(format!(
                "Loại nhiệm vụ `{k}` không có; các loại: {}.",
                self.store().catalog().names().join(", ")
            )));
        }
        let new_name = name.unwrap_or(&task.name).to_string();
        if new_name == task.name && kind.is_none_or(|k| k == task.kind) {
            return Err(StoreError::Invalid(
                "Tên và loại mới trùng với hiện tại: không có gì thay đổi.".into(),
            ));
        }
        let new_kind = kind.unwrap_or(&task.kind).to_string();
        let now = micros(now);
        let reason = reason.trim();
        let search = engine::domain::search_key(&new_name);
        let mut parts = Vec::new();
        if new_name != task.name {
            parts.push(format!("Đổi tên «{}» thành «{new_name}»", task.name));
        }
        if new_kind != task.kind {
            parts.push(format!("đổi loại {} thành {new_kind}", task.kind));
        }
        let comment = format!("{}: {reason}", parts.join("; "));
        with_db!(self.store(), |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            conn.execute(
                "UPDATE tasks SET name = $1, kind = $2, name_search = $3 WHERE id = $4",
                &[
                    Arg::Str(&new_name),
                    Arg::Str(&new_kind),
                    Arg::Str(&search),
                    Arg::Str(&task.id),
                ],
            )
            .await?;
            conn.execute(
                "INSERT INTO task_renames (task_id, old_name, new_name, old_kind, new_kind, reason, actor_user, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    Arg::Str(&task.id),
                    Arg::Str(&task.name),
                    Arg::Str(&new_name),
                    Arg::Str(&task.kind),
                    Arg::Str(&new_kind),
                    Arg::Str(reason),
                    Arg::Str(&actor.user),
                    Arg::Time(now),
                ],
            )
            .await?;
            append_note(
                &mut conn,
                &task.id,
                NoteEntry::new("rename", "doi_ten", comment, &actor.user, Some(role)),
                now,
            )
            .await?;
            tx.commit().await?;
        });
        Ok(Rename {
            task_id: task.id,
            old_name: task.name,
            new_name,
            old_kind: Some(task.kind),
            new_kind: Some(new_kind),
            reason: reason.to_string(),
            actor_user: actor.user.clone(),
            at: now,
        })
    }
}

/// History rows (ordered by task, then as written) grouped per task; tranches carry over the
/// entries that do not state them (imports).
fn by_task(mut rows: Vec<HistoryRow>) -> HashMap<String, Vec<(BudgetEntry, bool)>> {
    // The order written, per task.
    rows.sort_unstable_by_key(|r| r.id);
    let mut out: HashMap<String, Vec<(BudgetEntry, bool)>> = HashMap::new();
    for r in rows {
        let (task, e, has) = r.entry();
        out.entry(task).or_default().push((e, has));
    }
    for entries in out.values_mut() {
        let mut last: Vec<Tranche> = Vec::new();
        for (e, has) in entries.iter_mut() {
            if *has {
                last = e.budget.tranches.clone();
            } else {
                e.budget.tranches = last.clone();
            }
        }
    }
    out
}

/// Writes task `task_id`'s budget line for `year` (figures already checked by
/// [`check_year_budget`]), known from `known_from`, in `conn`'s transaction: the line, its
/// tranches, a history entry and a `budget` entry in the task's chain. Shared by
/// [`Plans::set_budget_as`] and UBND's acceptance of a carry-over (chuyển nguồn).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_budget_line(
    conn: &mut Conn<'_>,
    task_id: &str,
    year: i32,
    b: &YearBudget,
    known_from: NaiveDate,
    now: Instant,
    actor_user: &str,
    role: Option<engine::Role>,
) -> Result<(), StoreError> {
    let tranches = serde_json::to_string(&b.tranches)
        .map_err(|e| StoreError::internal(format!("tranches: {e}")))?;
    let y = i64::from(year);
    let plan: Vec<(String,)> = conn
        .fetch_all(
            "SELECT l.plan_id FROM plan_listings l JOIN plans p ON p.id = l.plan_id \
                 WHERE l.task_id = $1 AND p.year = $2 ORDER BY p.number",
            &[Arg::Str(task_id), Arg::Int(y)],
        )
        .await?;
    let plan_id = plan.into_iter().next().map(|p| p.0);
    conn.execute(
            "INSERT INTO budget_lines (task_id, year, need_total_vnd, approved_estimate_vnd, need_year_vnd, \
             allocated_year_vnd, plan_id, carried_over_vnd, spent_vnd, planned_allocation_vnd) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (task_id, year) DO UPDATE SET need_total_vnd = $3, approved_estimate_vnd = $4, \
             need_year_vnd = $5, allocated_year_vnd = $6, plan_id = COALESCE($7, budget_lines.plan_id), \
             carried_over_vnd = $8, spent_vnd = $9, planned_allocation_vnd = $10",
            &[
                Arg::Str(task_id),
                Arg::Int(y),
                Arg::OptInt(b.need_total_vnd),
                Arg::OptInt(b.approved_estimate_vnd),
                Arg::OptInt(b.need_year_vnd),
                Arg::OptInt(b.allocated_year_vnd),
                Arg::OptStr(plan_id.as_deref()),
                Arg::OptInt(b.carried_over_vnd),
                Arg::OptInt(b.spent_vnd),
                Arg::OptInt(b.planned_allocation_vnd),
            ],
        )
        .await?;
    conn.execute(
        "DELETE FROM budget_tranches WHERE task_id = $1 AND year = $2",
        &[Arg::Str(task_id), Arg::Int(y)],
    )
    .await?;
    for t in &b.tranches {
        conn.execute(
            "INSERT INTO budget_tranches (task_id, year, tranche, amount_vnd, decision_number, \
                 decision_on, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                Arg::Str(task_id),
                Arg::Int(y),
                Arg::Int(i64::from(t.tranche)),
                Arg::Int(t.amount_vnd),
                Arg::OptStr(t.decision_number.as_deref()),
                Arg::OptDate(t.decision_on),
                Arg::Time(now),
                Arg::Str(actor_user),
            ],
        )
        .await?;
    }
    // After the line's upsert: the history's carried-over and spent figures are the line's.
    record_budget_with_tranches(
        conn,
        task_id,
        year,
        Some(&BudgetLine {
            year,
            need_total_vnd: b.need_total_vnd,
            approved_estimate_vnd: b.approved_estimate_vnd,
            need_year_vnd: b.need_year_vnd,
            allocated_year_vnd: b.allocated_year_vnd,
            planned_allocation_vnd: b.planned_allocation_vnd,
        }),
        Some(&tranches),
        Recorded {
            plan_id: plan_id.as_deref(),
            known_from,
            at: now,
            by: actor_user,
        },
    )
    .await?;
    append_note(
        conn,
        task_id,
        NoteEntry::new(
            "budget",
            "kinh_phi",
            describe_budget(year, b, known_from),
            actor_user,
            role,
        ),
        now,
    )
    .await?;
    Ok(())
}

/// The audit comment of a budget write.
fn describe_budget(year: i32, b: &YearBudget, known_from: NaiveDate) -> String {
    let m = |v: Option<i64>| {
        v.map(|d| engine::money::format_million_vnd(d, 3))
            .unwrap_or_else(|| "—".into())
    };
    let mut s = format!(
        "Kinh phí năm {year} (từ ngày {}): dự toán được duyệt {}; nhu cầu năm {}; dự kiến phân bổ {}; phân bổ {}; chuyển nguồn {}; đã giải ngân {} (triệu đồng)",
        format_date(known_from),
        m(b.approved_estimate_vnd),
        m(b.need_year_vnd),
        m(b.planned_allocation_vnd),
        m(b.allocated_year_vnd),
        m(b.carried_over_vnd),
        m(b.spent_vnd)
    );
    for t in &b.tranches {
        s.push_str(&format!(
            "; đợt {}: {}{}{}",
            t.tranche,
            engine::money::format_million_vnd(t.amount_vnd, 3),
            t.decision_number
                .as_deref()
                .map(|n| format!(", QĐ {n}"))
                .unwrap_or_default(),
            t.decision_on
                .map(|d| format!(" ngày {}", format_date(d)))
                .unwrap_or_default()
        ));
    }
    s
}
