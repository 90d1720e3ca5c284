//! An import before and after the store: from the tables read out of the files to what the
//! store must write ([`prepare`]), and from what it wrote to the report ([`Prepared::report`]).
//!
//! Nothing is written when the totals file is malformed or a row is malformed (unless
//! `skip_invalid`, which imports the valid rows and lists the others), or the plan is not named.

use chrono::NaiveDate;

use super::names::unit_spellings;
use super::reconcile::{PrintedTotal, parse_totals, reconcile};
use super::row::{Catalogue, InvalidRow, parse_rows};
use super::summary::{ImportOutcome, ImportReport};
use super::table::{FileError, RawTable};
use crate::domain::UnitId;
use crate::workflow::Catalog;

/// The plan a catalogue is imported into; created when missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPlan {
    pub number: String,
    pub year: i32,
    pub title: String,
    pub issued_on: Option<NaiveDate>,
}

impl ImportPlan {
    /// A plan needs a number, a title and a plausible year.
    pub fn check(&self) -> Result<(), String> {
        if self.number.trim().is_empty() || self.title.trim().is_empty() {
            return Err(
                "Kế hoạch cần có số hiệu (--plan, ví dụ 215/KH-UBND) và tiêu đề (--title).".into(),
            );
        }
        if !(2000..=2100).contains(&self.year) {
            return Err(format!(
                "Năm kế hoạch {} không hợp lệ (2000–2100).",
                self.year
            ));
        }
        Ok(())
    }
}

/// What to import: the catalogue and the printed totals as read from their files, into which
/// plan, and whether malformed rows are skipped.
#[derive(Debug, Clone)]
pub struct PlanImport {
    pub plan: ImportPlan,
    /// Consumed by the import: each record's cells are freed as soon as it is parsed.
    pub rows: RawTable,
    pub totals: Option<RawTable>,
    pub skip_invalid: bool,
}

/// Why an import writes nothing, before the store is asked. `Display` is Vietnamese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("{0}")]
    File(#[from] FileError),
    /// Malformed rows, without `skip_invalid`.
    #[error("{}", invalid_rows_message(.file, .invalid))]
    InvalidRows {
        /// The file, for messages.
        file: String,
        invalid: Vec<InvalidRow>,
    },
    /// The plan is not named properly.
    #[error("{0}")]
    Plan(String),
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

/// A catalogue ready to write.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub plan: ImportPlan,
    /// The valid rows to write; the skipped rows and the warnings, for the report.
    pub catalogue: Catalogue,
    /// Each unit's spellings in the file, most used first.
    pub spellings: Vec<(UnitId, Vec<(String, usize)>)>,
    printed: Option<Vec<PrintedTotal>>,
    totals_source: Option<String>,
}

/// Parses the totals (first: a malformed totals file stops the import before anything else is
/// read) and the rows, refuses malformed rows unless `skip_invalid`, and checks the plan.
/// `today` chooses the workflow versions of new tasks.
pub fn prepare(
    request: PlanImport,
    catalog: &Catalog,
    today: NaiveDate,
) -> Result<Prepared, CatalogueError> {
    let PlanImport {
        plan,
        rows,
        totals,
        skip_invalid,
    } = request;
    let printed = totals
        .as_ref()
        .map(|t| parse_totals(t, plan.year))
        .transpose()?;
    let catalogue = parse_rows(rows, plan.year, catalog, today)?;
    if !catalogue.invalid.is_empty() && !skip_invalid {
        return Err(CatalogueError::InvalidRows {
            file: catalogue.source,
            invalid: catalogue.invalid,
        });
    }
    plan.check().map_err(CatalogueError::Plan)?;
    let spellings = unit_spellings(&catalogue.rows);
    Ok(Prepared {
        plan,
        catalogue,
        spellings,
        printed,
        totals_source: totals.map(|t| t.source),
    })
}

impl Prepared {
    /// The units the file names, each with the name it gets if it is new: its most used
    /// spelling.
    pub fn units(&self) -> impl Iterator<Item = (&UnitId, &str)> {
        self.spellings.iter().map(|(id, names)| {
            (
                id,
                names.first().map(|(n, _)| n.as_str()).unwrap_or_default(),
            )
        })
    }

    /// The report on an import that wrote `outcome`, with the reconciliation against the
    /// printed totals.
    pub fn report(self, outcome: ImportOutcome) -> ImportReport {
        let mismatches = self.printed.map(|p| reconcile(&self.catalogue.rows, &p));
        ImportReport {
            source: self.catalogue.source,
            plan: self.plan,
            rows: self.catalogue.rows.len(),
            skipped: self.catalogue.invalid,
            warnings: self.catalogue.warnings,
            spellings: self.spellings,
            outcome,
            mismatches,
            totals_source: self.totals_source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::table::csv_table;
    use crate::testing::catalog;

    fn request(lines: &[&str], totals: Option<RawTable>, skip_invalid: bool) -> PlanImport {
        PlanImport {
            plan: ImportPlan {
                number: "1/KH-TEST".into(),
                year: 2025,
                title: "Kế hoạch thử".into(),
                issued_on: None,
            },
            rows: csv_table(
                "appendix,unit,name,funding_source,lifecycle_stage,need_year_mvnd",
                lines,
            ),
            totals,
            skip_invalid,
        }
    }

    const ROWS: &[&str] = &[
        "1,Sở Y tế,Mua máy chủ,thuong_xuyen,proposed,10",
        "1,Sở Y Tế,Mua phần mềm,thuong_xuyen,proposed,5",
        "1,Sở Y tế,Thuê đường truyền,thuong_xuyen,proposed,2",
        "9,Sở Y tế,Sai phụ lục,thuong_xuyen,proposed,1",
    ];

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 9, 1).unwrap()
    }

    #[test]
    fn malformed_rows_stop_the_import_unless_skipped() {
        match prepare(request(ROWS, None, false), &catalog(), today()) {
            Err(CatalogueError::InvalidRows { file, invalid }) => {
                assert_eq!(file, "t.csv");
                assert_eq!(invalid.len(), 1);
                assert_eq!(invalid[0].line, 5);
            }
            other => panic!("{other:?}"),
        }
        let p = prepare(request(ROWS, None, true), &catalog(), today()).unwrap();
        assert_eq!(p.catalogue.rows.len(), 3);
        // One unit, named as most rows spell it.
        let units: Vec<(&UnitId, &str)> = p.units().collect();
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].1, "Sở Y tế");
        let report = p.report(ImportOutcome::default());
        assert_eq!((report.rows, report.skipped.len()), (3, 1));
        assert!(report.mismatches.is_none());
        assert!(
            report
                .render()
                .contains("Đã bỏ qua 1 dòng lỗi (--skip-invalid)")
        );
    }

    #[test]
    fn the_plan_must_be_named_and_the_totals_well_formed() {
        let mut r = request(&ROWS[..3], None, false);
        r.plan.title = "  ".into();
        assert!(matches!(
            prepare(r, &catalog(), today()),
            Err(CatalogueError::Plan(m)) if m.contains("--title")
        ));
        let mut r = request(&ROWS[..3], None, false);
        r.plan.year = 1999;
        assert!(matches!(
            prepare(r, &catalog(), today()),
            Err(CatalogueError::Plan(m)) if m.contains("1999")
        ));
        // A malformed totals file is refused before the rows are looked at.
        let totals = RawTable {
            source: "totals.csv".into(),
            header: vec!["appendix".into()],
            ..RawTable::default()
        };
        assert!(matches!(
            prepare(request(ROWS, Some(totals), false), &catalog(), today()),
            Err(CatalogueError::File(FileError(m))) if m.starts_with("totals.csv: thiếu cột")
        ));
    }
}
