//! The store side of importing a plan from its printed form (issue 14): carry-over without
//! duplicates.
//!
//! [`Imports::import_printed`] (the operator) and [`Imports::import_printed_as`] (a user, ruled
//! on by [`engine::access::may_import`]) run one import in one transaction:
//!
//! 1. the engine reads the sheets ([`prepare_printed`]);
//! 2. the plan and the units it lacks, as the normalized import does;
//! 3. the rows already listed in the plan (by their key), and every task the plan does not list
//!    yet, with its unit's merge root and its latest approved estimate: the candidates;
//! 4. the engine proposes the task each row continues ([`carry::propose`]) and decides each row
//!    ([`decide`]);
//! 5. a linked row lists its existing task in the plan (section, category, TT, unit and name as
//!    printed), writes the task's budget line for the plan's year (and its history), and appends a
//!    `plan_listing` entry to the task's audit chain; a created row is a new task, written as the
//!    normalized import writes it, listed in the row's section; a row left for review writes
//!    nothing.

use std::collections::{HashMap, HashSet};

use engine::plan::carry::{self, Candidate, Incoming};
use engine::plan::import::{
    PlannedRow, PreparedPrinted, PrintedImport, PrintedOutcome, RowDecision, decide,
    describe_amounts, misplaced_link, prepare_printed,
};

use super::super::plans::{NoteEntry, append_note};
use super::*;

/// What a printed import did: the summary and the proposals (for `--review`).
#[derive(Debug, Clone)]
pub struct PrintedReport {
    pub prepared: PreparedPrinted,
    pub outcome: PrintedOutcome,
}

impl PrintedReport {
    /// The summary a person reads, in Vietnamese.
    pub fn render(&self) -> String {
        self.prepared.render(&self.outcome)
    }

    /// The review file (`row,unit,name,task_id,score,reason`).
    pub fn review_csv(&self) -> String {
        carry::review_csv(&self.outcome.proposals)
    }
}

impl Imports<'_> {
    /// Imports a printed plan as `actor`, who must be allowed to import ([`engine::access::may_import`]).
    #[tracing::instrument(name = "import_printed", skip_all, fields(user = %actor.user, plan = %request.plan.number))]
    pub async fn import_printed_as(
        &self,
        actor: &Actor,
        request: PrintedImport,
        now: Instant,
    ) -> Result<PrintedReport, ImportError> {
        let importer = Importer::acting(actor).map_err(StoreError::from)?;
        self.printed(&importer, request, now, true).await
    }

    /// What importing a printed plan as `actor` would do, written nowhere: the same reading,
    /// proposals and decisions as [`Self::import_printed_as`] (the web page's review shows the
    /// proposals `--review` writes), in a transaction that is rolled back.
    #[tracing::instrument(name = "preview_printed", skip_all, fields(user = %actor.user, plan = %request.plan.number))]
    pub async fn preview_printed_as(
        &self,
        actor: &Actor,
        request: PrintedImport,
        now: Instant,
    ) -> Result<PrintedReport, ImportError> {
        let importer = Importer::acting(actor).map_err(StoreError::from)?;
        self.printed(&importer, request, now, false).await
    }

    /// Imports a printed plan for the operator at the shell (`cli:LOGIN`, no role).
    #[tracing::instrument(name = "import_printed", skip_all, fields(user = %operator, plan = %request.plan.number))]
    pub async fn import_printed(
        &self,
        operator: &str,
        request: PrintedImport,
        now: Instant,
    ) -> Result<PrintedReport, ImportError> {
        let importer = Importer::operator(operator);
        self.printed(&importer, request, now, true).await
    }

    /// `commit`: false for a preview (the transaction is rolled back).
    async fn printed(
        &self,
        importer: &Importer,
        request: PrintedImport,
        now: Instant,
        commit: bool,
    ) -> Result<PrintedReport, ImportError> {
        let prepared = prepare_printed(request, self.store.catalog(), local_date(now))?;
        let outcome = self.write_printed(&prepared, importer, now, commit).await?;
        Ok(PrintedReport { prepared, outcome })
    }

    async fn write_printed(
        &self,
        prepared: &PreparedPrinted,
        importer: &Importer,
        now: Instant,
        commit: bool,
    ) -> Result<PrintedOutcome, ImportError> {
        let now = micros(now);
        let plan = &prepared.plan;
        let known_from = plan.issued_on.unwrap_or_else(|| local_date(now));
        let mut tx = Tx::begin(self.store).await.map_err(StoreError::from)?;
        let (plan_id, plan_created) = ensure_plan(&mut tx, plan, now).await?;
        let layout = prepared.layout.to_toml();
        on_tx!(&mut tx, |c| {
            sqlx::query("UPDATE plans SET layout = $1 WHERE id = $2")
                .bind(&layout)
                .bind(&plan_id)
                .execute(&mut **c)
                .await
                .map(drop)
        })
        .map_err(StoreError::from)?;
        let listed = listed_keys(&mut tx, &plan_id).await?;
        let (candidates, kinds) = candidates(&mut tx, &plan_id).await?;
        let roots = unit_roots(&mut tx).await?;
        let root = |id: &str| roots.get(id).cloned().unwrap_or_else(|| id.to_string());
        let incoming: Vec<Incoming> = prepared
            .rows
            .iter()
            .filter(|r| !listed.contains_key(&r.task.key))
            .map(|r| Incoming {
                row: r.row,
                unit: r.printed.unit.clone(),
                unit_id: r.task.unit_id.as_str().to_string(),
                unit_root: root(r.task.unit_id.as_str()),
                name: r.printed.name.clone(),
                period: r.printed.period.clone(),
                approved_estimate: r.printed.amounts[1],
            })
            .collect();
        let proposals = carry::propose(&incoming, &candidates);
        let linkable: HashSet<&str> = candidates.iter().map(|c| c.task_id.as_str()).collect();
        let decisions = decide(&prepared.rows, &proposals, &prepared.mode, &listed, |t| {
            linkable.contains(t)
        })
        .map_err(|e| {
            StoreError::Invalid(format!(
                "Tệp liên kết không áp dụng được; chưa ghi gì: {e}."
            ))
        })?;
        let names: HashMap<&str, &str> = candidates
            .iter()
            .map(|c| (c.task_id.as_str(), c.name.as_str()))
            .collect();
        let mut outcome = PrintedOutcome {
            plan_id: plan_id.clone(),
            plan_created,
            proposals,
            ..PrintedOutcome::default()
        };
        let mut fresh: Vec<(usize, &PlannedRow)> = Vec::new();
        for (r, d) in prepared.rows.iter().zip(&decisions) {
            match d {
                RowDecision::Listed(task) => {
                    outcome.listed += 1;
                    write_budget(&mut tx, &plan_id, task, r, plan.year, importer, now).await?;
                }
                RowDecision::Link(task) => {
                    if let Some((kind, funding)) = kinds.get(task.as_str())
                        && let Some(w) = misplaced_link(r, task, kind, funding.parse().ok())
                    {
                        outcome.warnings.push(w);
                    }
                    link(&mut tx, &plan_id, task, r, plan, importer, known_from, now).await?;
                    outcome.linked.push((
                        r.row,
                        task.clone(),
                        names
                            .get(task.as_str())
                            .copied()
                            .unwrap_or_default()
                            .to_string(),
                    ));
                }
                RowDecision::Create => fresh.push((r.row, r)),
                RowDecision::Review => outcome.review.push(r.row),
            }
        }
        // The units of the new tasks that the directory lacks (a linked row's task keeps its
        // unit, however the new plan spells it).
        let new_rows: Vec<CatalogueRow> = fresh.iter().map(|(_, r)| r.task.clone()).collect();
        outcome.units_created =
            add_missing_units(&mut tx, &engine::catalogue::unit_spellings(&new_rows), now).await?;
        // New tasks, by section: each listed in its own section and category.
        let mut by_section: Vec<SectionRows<'_>> = Vec::new();
        for (row, r) in &fresh {
            match by_section.iter_mut().find(|(k, _, _)| *k == r.section.key) {
                Some((_, _, rows)) => rows.push((*row, &r.task)),
                None => {
                    by_section.push((&r.section.key, &r.section.category, vec![(*row, &r.task)]))
                }
            }
        }
        for (key, category, rows) in by_section {
            let writer = Writer {
                importer,
                now,
                tracker: self.tracker,
            };
            let (created, _) = insert_new_tasks(
                &mut tx,
                &plan_id,
                plan.year,
                rows,
                known_from,
                Some((key, category)),
                writer,
            )
            .await?;
            outcome.created += created;
        }
        // The name of each proposed task, for a person reviewing the proposals.
        outcome.proposed_names = outcome
            .proposals
            .iter()
            .filter_map(|p| p.task_id.as_deref())
            .filter_map(|t| names.get(t).map(|n| (t.to_string(), n.to_string())))
            .collect();
        if commit {
            tx.commit().await.map_err(StoreError::from)?;
            super::refresh_statistics(self.store, outcome.created).await;
        } else {
            tx.rollback().await.map_err(StoreError::from)?;
        }
        Ok(outcome)
    }
}

/// A section's key and category, and its new tasks (row, task).
type SectionRows<'a> = (&'a str, &'a str, Vec<(usize, &'a CatalogueRow)>);

/// A budget line's four amounts, its carry-over and its planned allocation, as stored.
type Amounts6 = (
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The rows the plan already lists: key → task.
async fn listed_keys(tx: &mut Tx, plan_id: &str) -> Result<HashMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = on_tx!(tx, |c| {
        sqlx::query_as(
            "SELECT source_key, task_id FROM plan_listings WHERE plan_id = $1 AND source_key IS NOT NULL",
        )
        .bind(plan_id)
        .fetch_all(&mut **c)
        .await?
    });
    Ok(rows.into_iter().collect())
}

/// A candidate's workflow kind and funding source, by task.
type KindsOf = HashMap<String, (String, String)>;

/// Every task the plan does not list yet, as a candidate a row may continue (and its kind and
/// funding source, to check a link against the section).
async fn candidates(tx: &mut Tx, plan_id: &str) -> Result<(Vec<Candidate>, KindsOf), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: String,
        unit_id: String,
        unit_name: String,
        name: String,
        period: Option<String>,
        approved: Option<i64>,
        kind: String,
        funding_source: String,
    }
    let rows: Vec<Row> = on_tx!(tx, |c| {
        sqlx::query_as(
            "SELECT t.id, t.unit_id, u.name AS unit_name, t.name, t.period, t.kind, t.funding_source, \
             (SELECT b.approved_estimate_vnd FROM budget_lines b WHERE b.task_id = t.id \
              AND b.approved_estimate_vnd IS NOT NULL ORDER BY b.year DESC LIMIT 1) AS approved \
             FROM tasks t JOIN units u ON u.id = t.unit_id \
             WHERE NOT EXISTS (SELECT 1 FROM plan_listings l WHERE l.task_id = t.id AND l.plan_id = $1) \
             ORDER BY t.id",
        )
        .bind(plan_id)
        .fetch_all(&mut **c)
        .await?
    });
    let roots = unit_roots(tx).await?;
    let kinds = rows
        .iter()
        .map(|r| (r.id.clone(), (r.kind.clone(), r.funding_source.clone())))
        .collect();
    let candidates = rows
        .into_iter()
        .map(|r| Candidate {
            unit_root: roots.get(&r.unit_id).cloned().unwrap_or(r.unit_id.clone()),
            task_id: r.id,
            unit_id: r.unit_id,
            unit_name: r.unit_name,
            name: r.name,
            period: r.period,
            approved_estimate: r.approved,
        })
        .collect();
    Ok((candidates, kinds))
}

/// Each unit → the unit it was merged into, transitively (units not merged are left out).
async fn unit_roots(tx: &mut Tx) -> Result<HashMap<String, String>, StoreError> {
    let merged: Vec<(String, String)> = on_tx!(tx, |c| {
        sqlx::query_as("SELECT id, merged_into FROM units WHERE merged_into IS NOT NULL")
            .fetch_all(&mut **c)
            .await?
    });
    let into: HashMap<String, String> = merged.into_iter().collect();
    let mut out = HashMap::new();
    for start in into.keys() {
        let mut at = start.clone();
        // A merge cycle would be a data fault; stop after as many steps as there are merges.
        for _ in 0..=into.len() {
            match into.get(&at) {
                Some(next) => at = next.clone(),
                None => break,
            }
        }
        out.insert(start.clone(), at);
    }
    Ok(out)
}

/// The budget line a printed row gives for the plan's year; `None` when it prints no amount.
fn line_of(r: &PlannedRow, year: i32) -> Option<BudgetLine> {
    let a = r.printed.amounts;
    let line = BudgetLine {
        year,
        need_total_vnd: a[0],
        approved_estimate_vnd: a[1],
        need_year_vnd: a[2],
        allocated_year_vnd: a[3],
        planned_allocation_vnd: a[6],
    };
    a.iter().any(Option::is_some).then_some(line)
}

/// The task's budget line for the year, as the row prints it (with the year's carry-over and
/// the previous year's spending where printed), and its history entry, when it changed.
async fn write_budget(
    tx: &mut Tx,
    plan_id: &str,
    task: &str,
    r: &PlannedRow,
    year: i32,
    importer: &Importer,
    now: Instant,
) -> Result<(), StoreError> {
    let Some(line) = line_of(r, year) else {
        return Ok(());
    };
    let carried = r.printed.amounts[5];
    let current: Option<Amounts6> = on_tx!(&mut *tx, |c| {
        sqlx::query_as(
                "SELECT need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd, carried_over_vnd, \
                 planned_allocation_vnd \
                 FROM budget_lines WHERE task_id = $1 AND year = $2",
            )
            .bind(task)
            .bind(i64::from(year))
            .fetch_optional(&mut **c)
            .await?
    });
    let wanted = (
        line.need_total_vnd,
        line.approved_estimate_vnd,
        line.need_year_vnd,
        line.allocated_year_vnd,
        carried,
        line.planned_allocation_vnd,
    );
    if current == Some(wanted) {
        return Ok(());
    }
    replace_budget_line(tx, plan_id, task, Some(line), year).await?;
    on_tx!(&mut *tx, |c| {
        let mut conn = Conn::from(&mut **c);
        conn.execute(
            "UPDATE budget_lines SET carried_over_vnd = $1 WHERE task_id = $2 AND year = $3",
            &[
                Arg::OptInt(carried),
                Arg::Str(task),
                Arg::Int(i64::from(year)),
            ],
        )
        .await?;
        // The previous year's spending, where the section prints it.
        if let Some(spent) = r.printed.amounts[4] {
            conn.execute(
                "UPDATE budget_lines SET spent_vnd = $1 WHERE task_id = $2 AND year = $3",
                &[
                    Arg::Int(spent),
                    Arg::Str(task),
                    Arg::Int(i64::from(year - 1)),
                ],
            )
            .await?;
        }
        record_budget(
            &mut conn,
            task,
            year,
            Some(&line),
            Recorded {
                plan_id: Some(plan_id),
                known_from: local_date(now),
                at: now,
                by: &importer.user,
            },
        )
        .await
    })?;
    Ok(())
}

/// Lists an existing task in the plan for a printed row: the listing, the year's budget line,
/// and a `plan_listing` entry in the task's audit chain.
#[allow(clippy::too_many_arguments)]
async fn link(
    tx: &mut Tx,
    plan_id: &str,
    task: &str,
    r: &PlannedRow,
    plan: &ImportPlan,
    importer: &Importer,
    known_from: NaiveDate,
    now: Instant,
) -> Result<(), StoreError> {
    on_tx!(&mut *tx, |c| {
        let mut conn = Conn::from(&mut **c);
        super::super::plans::insert_listing(
            &mut conn,
            &super::super::plans::NewListing {
                plan_id,
                task_id: task,
                section: &r.section.key,
                category: Some(&r.section.category),
                printed_seq: Some(&r.printed.seq)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.as_str()),
                unit_printed: Some(&r.printed.unit),
                name_printed: Some(&r.printed.name),
                source_key: Some(&r.task.key),
                position: i64::try_from(r.row).ok(),
            },
            now,
        )
        .await?;
    });
    if let Some(line) = line_of(r, plan.year) {
        replace_budget_line(tx, plan_id, task, Some(line), plan.year).await?;
        on_tx!(&mut *tx, |c| {
            let mut conn = Conn::from(&mut **c);
            conn.execute(
                "UPDATE budget_lines SET carried_over_vnd = $1 WHERE task_id = $2 AND year = $3",
                &[
                    Arg::OptInt(r.printed.amounts[5]),
                    Arg::Str(task),
                    Arg::Int(i64::from(plan.year)),
                ],
            )
            .await?;
            record_budget(
                &mut conn,
                task,
                plan.year,
                Some(&line),
                Recorded {
                    plan_id: Some(plan_id),
                    known_from,
                    at: now,
                    by: &importer.user,
                },
            )
            .await?;
        });
    }
    let amounts = describe_amounts(&r.printed, plan.year);
    let comment = format!(
        "Tiếp tục trong kế hoạch {} (năm {}), mục {} «{}»{}{}",
        plan.number.trim(),
        plan.year,
        r.section.key,
        r.section.title,
        if r.printed.seq.is_empty() {
            String::new()
        } else {
            format!(", TT {}", r.printed.seq)
        },
        if amounts.is_empty() {
            String::new()
        } else {
            format!(": {amounts}")
        }
    );
    on_tx!(&mut *tx, |c| {
        let mut conn = Conn::from(&mut **c);
        append_note(
            &mut conn,
            task,
            NoteEntry::new(
                "plan_listing",
                "liet_ke_trong_ke_hoach",
                comment,
                &importer.user,
                importer.role,
            ),
            now,
        )
        .await
    })?;
    Ok(())
}
