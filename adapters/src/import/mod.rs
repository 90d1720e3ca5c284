//! Importing a plan's task catalogue (issue 6): the rows of `tasks.csv` (or an XLSX sheet with the
//! same header row) become units, a plan and tasks placed in their workflows, and the totals as
//! printed (`totals.csv`) are reconciled against the rows.
//!
//! How it fits:
//!
//! - [`read`] turns a file's bytes into a header and raw records with their line numbers (CSV via
//!   the `csv` crate, XLSX via `calamine`). This is the only part that touches files.
//! - [`layout`] is how a plan is printed: appendices, funding groups A/B, Roman numerals.
//! - [`rows`] parses and normalises raw records into [`CatalogueRow`]s, collecting every malformed
//!   row with its line number and reason; it also chooses each row's workflow ([`kind`]) and the
//!   state that matches its `lifecycle_stage` ([`placement`]). Pure.
//! - [`totals`] reads the printed totals and [`reconcile`]s them against the rows: every mismatch
//!   beyond the printed precision, as (appendix, group, unit, column, printed, computed). Pure.
//! - [`Store::import_plan`](crate::store::Store::import_plan) writes the rows in one transaction,
//!   audited as kind `import` (new tasks) or `import_update` (changed rows); an unchanged row
//!   writes nothing.
//!
//! Decisions (also in README, "Plan import and reports"):
//!
//! - **Matching key.** A row is the same task as an earlier import when plan, appendix, unit id
//!   ([`UnitId::from_name`], so "Ủy"/"Uỷ" and "hóa"/"hoá" agree) and the normalised task name
//!   (diacritics, case, punctuation and spacing folded) agree. A renamed task is therefore a new
//!   task; the old one stays in the plan, untouched, for a person to withdraw or merge.
//! - **Unit names.** A new unit is named with the spelling most rows of the file use (ties: the
//!   first one seen); every row keeps its own spelling (`tasks.unit_printed`) and the import
//!   summary lists the variants. An existing unit keeps its name.
//! - **Placements start no deadline clock.** An imported task is placed in the first state of its
//!   phase (declaration order) or, for completed/postponed/withdrawn, the workflow's state of that
//!   phase. The date it really reached that step is unknown, so a clock started at import time
//!   would invent a deadline and send reminders and escalations on it. The next real transition
//!   starts clocks as usual; the status report judges imported tasks by their expected completion
//!   date. Imports queue no notifications either.

pub mod kind;
pub mod layout;
pub mod read;
pub mod rows;
pub mod totals;

use std::path::Path;

pub use kind::{KIND_RULES, KindRule, choose_kind};
pub use read::{RawRecord, RawTable, read_bytes, read_file};
pub use rows::{
    Catalogue, CatalogueRow, InvalidRow, RowWarning, folded_name, parse_amount, parse_rows,
    placement, task_key, unit_spellings,
};
pub use totals::{Mismatch, MismatchColumn, PrintedTotal, TotalsLevel, parse_totals, reconcile};

/// A file that cannot be read as a catalogue at all (as opposed to a malformed row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

/// Reads and parses a catalogue file: CSV, or the first sheet (or `sheet`) of an XLSX workbook.
pub fn read_catalogue(
    path: &Path,
    sheet: Option<&str>,
    plan_year: i32,
    catalog: &engine::workflow::Catalog,
    today: chrono::NaiveDate,
) -> Result<Catalogue, FileError> {
    let table = read_file(path, sheet)?;
    parse_rows(table, plan_year, catalog, today)
}

use chrono::NaiveDate;
use engine::time::{Instant, local_date};

use crate::store::{ImportActor, ImportOutcome, ImportPlan, ImportUnit, Store, StoreError};

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(#[from] FileError),
    /// Malformed rows, without `--skip-invalid`.
    #[error("{}", invalid_rows_message(.file, .invalid))]
    InvalidRows {
        /// The file, for messages.
        file: String,
        invalid: Vec<InvalidRow>,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

fn invalid_rows_message(source: &str, invalid: &[InvalidRow]) -> String {
    let mut out = format!(
        "Tệp {source} có {} dòng lỗi; chưa nhập gì. Sửa các dòng dưới đây, hoặc chạy lại với --skip-invalid để bỏ qua chúng và nhập các dòng hợp lệ:\n",
        invalid.len()
    );
    for r in invalid {
        out.push_str(&format!("  {r}\n"));
    }
    out
}

/// What an import did, and what it found.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub source: String,
    pub plan: ImportPlan,
    pub rows: usize,
    /// Rows left out because of `--skip-invalid`.
    pub skipped: Vec<InvalidRow>,
    pub warnings: Vec<RowWarning>,
    /// Each unit's spellings in the file, most used first.
    pub spellings: Vec<(engine::domain::UnitId, Vec<(String, usize)>)>,
    pub outcome: ImportOutcome,
    /// `None` without a totals file.
    pub mismatches: Option<Vec<Mismatch>>,
    pub totals_source: Option<String>,
}

/// Imports a catalogue read with [`read_file`]/[`read_bytes`] (consumed) into `plan`, reconciling it with
/// the printed totals when given. Nothing is written when the totals file is malformed or a row
/// is malformed (unless `skip_invalid`, which imports the valid rows and lists the others).
pub async fn import(
    store: &Store,
    table: RawTable,
    totals: Option<&RawTable>,
    plan: &ImportPlan,
    skip_invalid: bool,
    actor: &ImportActor,
    now: Instant,
) -> Result<ImportReport, ImportError> {
    let today: NaiveDate = local_date(now);
    // Totals first: a malformed totals file stops the import before anything is parsed.
    let printed = totals.map(|t| parse_totals(t, plan.year)).transpose()?;
    let catalogue = parse_rows(table, plan.year, store.catalog(), today)?;
    if !catalogue.invalid.is_empty() && !skip_invalid {
        return Err(ImportError::InvalidRows {
            file: catalogue.source,
            invalid: catalogue.invalid,
        });
    }
    let spellings = unit_spellings(&catalogue.rows);
    let units: Vec<ImportUnit> = spellings
        .iter()
        .map(|(id, names)| ImportUnit {
            id: id.as_str().to_string(),
            name: names.first().map(|(n, _)| n.clone()).unwrap_or_default(),
        })
        .collect();
    let outcome = store
        .import_plan(plan, &units, &catalogue.rows, actor, now)
        .await?;
    let mismatches = printed.map(|p| reconcile(&catalogue.rows, &p));
    Ok(ImportReport {
        source: catalogue.source,
        plan: plan.clone(),
        rows: catalogue.rows.len(),
        skipped: catalogue.invalid,
        warnings: catalogue.warnings,
        spellings,
        outcome,
        mismatches,
        totals_source: totals.map(|t| t.source.clone()),
    })
}

impl ImportReport {
    /// The summary a person reads after an import, in Vietnamese.
    pub fn render(&self) -> String {
        let o = &self.outcome;
        let mut out = format!(
            "Nhập kế hoạch {} (năm {}) từ {}: {} dòng hợp lệ.\n",
            self.plan.number, self.plan.year, self.source, self.rows
        );
        out.push_str(&format!(
            "  Kế hoạch: {}\n",
            if o.plan_created {
                "tạo mới"
            } else {
                "đã có, giữ nguyên"
            }
        ));
        out.push_str(&format!(
            "  Đơn vị: {} ({} đơn vị mới)\n",
            self.spellings.len(),
            o.units_created.len()
        ));
        for (id, names) in self.spellings.iter().filter(|(_, n)| n.len() > 1) {
            let variants: Vec<String> = names
                .iter()
                .map(|(n, k)| format!("«{n}» ({k} dòng)"))
                .collect();
            out.push_str(&format!(
                "    {id}: cùng một đơn vị, viết là {}\n",
                variants.join(", ")
            ));
        }
        out.push_str(&format!(
            "  Nhiệm vụ: {} mới, {} cập nhật, {} không thay đổi\n",
            o.created,
            o.updated.len(),
            o.unchanged
        ));
        if !o.by_workflow.is_empty() {
            let kinds: Vec<String> = o
                .by_workflow
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            out.push_str(&format!(
                "  Quy trình của nhiệm vụ mới: {}\n",
                kinds.join(", ")
            ));
        }
        for u in &o.updated {
            out.push_str(&format!(
                "    dòng {} «{}»: {}{}\n",
                u.line,
                u.name,
                u.changes.join("; "),
                u.note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ));
        }
        if !self.skipped.is_empty() {
            out.push_str(&format!(
                "Đã bỏ qua {} dòng lỗi (--skip-invalid):\n",
                self.skipped.len()
            ));
            for r in &self.skipped {
                out.push_str(&format!("  {r}\n"));
            }
        }
        if !self.warnings.is_empty() {
            out.push_str("Lưu ý:\n");
            for w in &self.warnings {
                out.push_str(&format!("  dòng {}: {}\n", w.line, w.message));
            }
        }
        if let Some(m) = &self.mismatches {
            let source = self
                .totals_source
                .as_deref()
                .unwrap_or("tệp số liệu tổng hợp");
            if m.is_empty() {
                out.push_str(&format!(
                    "Đối chiếu với số liệu tổng hợp đã in ({source}): khớp hoàn toàn.\n"
                ));
            } else {
                out.push_str(&format!(
                    "Đối chiếu với số liệu tổng hợp đã in ({source}): {} điểm không khớp (số liệu tính từ các dòng đã nhập; đơn vị tiền: triệu đồng):\n",
                    m.len()
                ));
                for x in m {
                    out.push_str(&format!("  {}\n", x.describe(self.plan.year)));
                }
            }
        }
        out
    }
}
