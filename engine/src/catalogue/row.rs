//! Parsing and normalising catalogue rows: each record of a [`RawTable`] becomes a
//! [`CatalogueRow`] with its workflow chosen ([`super::kind`]) and its state placed
//! ([`super::place`]), or an [`InvalidRow`] with every reason why not.
//!
//! The columns are those of `data/plan-215-2025/tasks.csv` (see its README); cells are read by
//! [`super::cell`]. Every problem of a row is reported with the row's line number, all of them at
//! once, so a person fixes a file in one pass.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

use super::cell::{non_empty, parse_amount, parse_bool, parse_printed_date, parse_stage};
use super::kind::choose_kind_folded;
use super::names::{folded_name, key_of_folded};
use super::place::placement;
use super::table::{FileError, RawRecord, RawTable};
use crate::Phase;
use crate::domain::{FundingSource, UnitId};
use crate::workflow::{Catalog, Workflow};

/// A valid row, normalised, with its workflow and placement chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueRow {
    pub line: usize,
    pub appendix: u8,
    /// TT as printed; `None` where blank.
    pub seq: Option<String>,
    /// The unit as spelled on this row.
    pub unit: String,
    pub unit_id: UnitId,
    pub name: String,
    pub funding_source: FundingSource,
    pub period: Option<String>,
    pub is_rental: bool,
    /// Amounts in đồng; `None` where the cell is blank.
    pub need_total: Option<i64>,
    pub approved_estimate: Option<i64>,
    pub need_year: Option<i64>,
    /// The planned allocation of the year (dự kiến phân bổ), apart from the allocation.
    pub planned_allocation: Option<i64>,
    pub allocated_year: Option<i64>,
    pub progress_text: Option<String>,
    /// "Thời gian dự kiến hoàn thành" as printed.
    pub expected_completion: Option<String>,
    /// The same as a date, when it is a plausible one.
    pub expected_completion_on: Option<NaiveDate>,
    pub stage: Phase,
    pub notes: Option<String>,
    /// The workflow name.
    pub kind: String,
    /// Which line of [`super::kind::KIND_RULES`] chose the workflow; `None` for an explicit `kind` cell.
    pub kind_rule: Option<usize>,
    pub workflow_version: u32,
    /// The state the task is placed in.
    pub state: String,
    /// See [`super::names::task_key`].
    pub key: String,
    /// A unit's proposal the row reports (its progress text cites the unit's letter): the task
    /// is placed as running, with the proposal pending UBND's decision, not as postponed or
    /// withdrawn ([`crate::proposal::from_progress_text`]).
    pub proposal: Option<(crate::proposal::ProposalKind, crate::proposal::Letter)>,
}

/// A row that cannot be imported, and every reason why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRow {
    pub line: usize,
    /// "unit — name" as far as readable, so a person recognises the row.
    pub summary: String,
    pub reasons: Vec<String>,
}

impl std::fmt::Display for InvalidRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dòng {}", self.line)?;
        if !self.summary.is_empty() {
            write!(f, " ({})", self.summary)?;
        }
        write!(f, ": {}", self.reasons.join("; "))
    }
}

/// Something odd about a valid row that a person should know (it is imported anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowWarning {
    pub line: usize,
    pub message: String,
}

/// The parsed file.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub source: String,
    pub rows: Vec<CatalogueRow>,
    pub invalid: Vec<InvalidRow>,
    pub warnings: Vec<RowWarning>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Col {
    Appendix,
    Seq,
    Unit,
    Name,
    FundingSource,
    Period,
    IsRental,
    NeedTotal,
    ApprovedEstimate,
    NeedYear,
    PlannedAllocation,
    AllocatedYear,
    ProgressText,
    ExpectedCompletion,
    LifecycleStage,
    Notes,
    Kind,
}

const REQUIRED: [(Col, &str); 5] = [
    (Col::Appendix, "appendix"),
    (Col::Unit, "unit"),
    (Col::Name, "name"),
    (Col::FundingSource, "funding_source"),
    (Col::LifecycleStage, "lifecycle_stage"),
];

fn column(name: &str, year: i32) -> Option<Col> {
    Some(match name {
        "appendix" => Col::Appendix,
        "seq" => Col::Seq,
        "unit" => Col::Unit,
        "name" => Col::Name,
        "funding_source" => Col::FundingSource,
        "period" => Col::Period,
        "is_rental" => Col::IsRental,
        "need_total_mvnd" => Col::NeedTotal,
        "approved_estimate_mvnd" => Col::ApprovedEstimate,
        "progress_text" => Col::ProgressText,
        "expected_completion" => Col::ExpectedCompletion,
        "lifecycle_stage" => Col::LifecycleStage,
        "notes" => Col::Notes,
        "kind" => Col::Kind,
        "need_year_mvnd" => Col::NeedYear,
        "allocated_year_mvnd" => Col::AllocatedYear,
        "planned_year_mvnd" => Col::PlannedAllocation,
        n if n == format!("need_{year}_mvnd") => Col::NeedYear,
        n if n == format!("planned_{year}_mvnd") => Col::PlannedAllocation,
        n if n == format!("allocated_{year}_mvnd") => Col::AllocatedYear,
        _ => return None,
    })
}

fn allowed_columns(year: i32) -> String {
    format!(
        "appendix, seq, unit, name, funding_source, period, is_rental, need_total_mvnd, approved_estimate_mvnd, need_{year}_mvnd (hoặc need_year_mvnd), planned_{year}_mvnd (hoặc planned_year_mvnd), allocated_{year}_mvnd (hoặc allocated_year_mvnd), progress_text, expected_completion, lifecycle_stage, notes, kind"
    )
}

/// Where each known column is in a record, from the header row.
struct Columns(HashMap<Col, usize>);

impl Columns {
    /// Recognises the header: every column known, none twice, the required ones present.
    fn from_header(table: &RawTable, plan_year: i32) -> Result<Columns, FileError> {
        let mut cols: HashMap<Col, usize> = HashMap::new();
        let mut unknown = Vec::new();
        for (i, h) in table.header.iter().enumerate() {
            let name = h.trim().trim_start_matches('\u{feff}').to_lowercase();
            if name.is_empty() {
                continue;
            }
            match column(&name, plan_year) {
                Some(c) => {
                    if cols.insert(c, i).is_some() {
                        return Err(FileError(format!(
                            "{}, dòng tiêu đề {}: cột `{name}` xuất hiện hai lần.",
                            table.source, table.header_line
                        )));
                    }
                }
                None => unknown.push(name),
            }
        }
        if !unknown.is_empty() {
            return Err(FileError(format!(
                "{}, dòng tiêu đề {}: cột không được hỗ trợ: {} (năm kế hoạch {plan_year}). Các cột được dùng: {}.",
                table.source,
                table.header_line,
                unknown.join(", "),
                allowed_columns(plan_year)
            )));
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|(c, _)| !cols.contains_key(c))
            .map(|(_, n)| *n)
            .collect();
        if !missing.is_empty() {
            return Err(FileError(format!(
                "{}, dòng tiêu đề {}: thiếu cột bắt buộc {}. Các cột được dùng: {}.",
                table.source,
                table.header_line,
                missing.join(", "),
                allowed_columns(plan_year)
            )));
        }
        Ok(Columns(cols))
    }

    /// The cell of column `c` in `cells`; "" for a column the file lacks or a short row.
    fn get<'c>(&self, cells: &'c [String], c: Col) -> &'c str {
        self.0
            .get(&c)
            .and_then(|i| cells.get(*i))
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// The longest cell accepted: a task name or progress note is a paragraph, not a document.
const MAX_CELL_CHARS: usize = 10_000;

/// Parses every record of `table` (consumed: each record's cells are freed as soon as it is
/// parsed, so a large file is not held twice). File-level problems (no usable header) are an
/// error; row problems are collected in [`Catalogue::invalid`].
pub fn parse_rows(
    table: RawTable,
    plan_year: i32,
    catalog: &Catalog,
    today: NaiveDate,
) -> Result<Catalogue, FileError> {
    let mut reader = RowReader {
        sheet: Sheet {
            columns: Columns::from_header(&table, plan_year)?,
            width: table.header.len(),
            header: table.header.clone(),
            short_rows_ok: table.short_rows_ok,
            plan_year,
            catalog,
            today,
        },
        seen: HashMap::with_capacity(table.records.len()),
        unit_ids: HashMap::new(),
    };
    // Sized up front: a 100,000-row plan grown by doubling holds the old and the new buffer
    // at once (55 MB of the re-import's peak by heaptrack).
    let mut out = Catalogue {
        source: table.source,
        rows: Vec::with_capacity(table.records.len()),
        ..Catalogue::default()
    };
    for rec in table.records {
        match reader.read(rec, &mut out.warnings) {
            Ok(row) => out.rows.push(row),
            Err(invalid) => out.invalid.push(invalid),
        }
    }
    Ok(out)
}

/// Reads records one by one, remembering what a row needs of the rows before it.
struct RowReader<'a> {
    sheet: Sheet<'a>,
    /// Each key read so far → the line that had it.
    seen: HashMap<String, usize>,
    /// Units repeat on many rows: each spelling is folded once.
    unit_ids: HashMap<String, UnitId>,
}

/// What every record of a file is read against.
struct Sheet<'a> {
    columns: Columns,
    /// The header's width.
    width: usize,
    /// The header's cells, to name a column.
    header: Vec<String>,
    short_rows_ok: bool,
    plan_year: i32,
    catalog: &'a Catalog,
    /// Chooses the workflow version of a new task.
    today: NaiveDate,
}

/// A record's cells, each read as far as it can be; what could not be read is `None` and its
/// reason is listed.
struct Fields {
    appendix: Option<u8>,
    unit: String,
    unit_id: UnitId,
    name: String,
    /// The name folded for matching and for the kind rule.
    folded: String,
    funding: Option<FundingSource>,
    is_rental: bool,
    /// Need total, approved estimate, need of the year, allocated in the year, planned
    /// allocation of the year.
    amounts: [Option<i64>; 5],
    stage: Option<Phase>,
}

/// The workflow a row runs on: its name, the line of the kind rule that chose it (`None` for an
/// explicit `kind` cell), and the version that applies today.
struct Chosen<'w> {
    kind: String,
    rule: Option<usize>,
    workflow: &'w Workflow,
}

impl RowReader<'_> {
    /// One record: a valid row, or every reason it is not one. Oddities of a valid row (an
    /// implausible completion date) go to `warnings`.
    fn read(
        &mut self,
        rec: RawRecord,
        warnings: &mut Vec<RowWarning>,
    ) -> Result<CatalogueRow, InvalidRow> {
        let line = rec.line;
        let cells = rec.cells.map_err(|e| InvalidRow {
            line,
            summary: String::new(),
            reasons: vec![e],
        })?;
        let sheet = &self.sheet;
        let get = |c: Col| sheet.columns.get(&cells, c);
        let invalid = |reasons: Vec<String>| InvalidRow {
            line,
            summary: summary(get(Col::Unit), get(Col::Name)),
            reasons,
        };
        if let Some(reason) = sheet.shape_problem(&cells) {
            return Err(invalid(vec![reason]));
        }
        let mut reasons: Vec<String> = Vec::new();
        if let Some(long) = cells.iter().find(|c| c.chars().count() > MAX_CELL_CHARS) {
            reasons.push(format!(
                "một ô dài {} ký tự (tối đa {MAX_CELL_CHARS})",
                long.chars().count()
            ));
        }
        // The rule the API applies to typed text (engine::input): no control, direction or
        // zero-width characters; names and units on one line.
        let single_line = [Col::Name, Col::Unit].map(|c| sheet.columns.0.get(&c).copied());
        if let Some((i, c)) = cells.iter().enumerate().find_map(|(i, cell)| {
            crate::input::hidden_char(cell, !single_line.contains(&Some(i))).map(|c| (i, c))
        }) {
            reasons.push(format!(
                "ô cột `{}` chứa ký tự điều khiển hoặc ký tự ẩn không được phép (U+{:04X})",
                sheet
                    .header
                    .get(i)
                    .map(|h| h.trim().trim_start_matches('\u{feff}'))
                    .unwrap_or("?"),
                c as u32
            ));
        }
        let mut f = sheet.fields(&cells, &mut self.unit_ids, &mut reasons);
        // A unit's proposal to postpone or withdraw is not UBND's decision: the row stays
        // running (in its workflow's first step) and the proposal waits.
        let proposal = match f.stage {
            Some(Phase::Postponed | Phase::Withdrawn) => {
                [Col::ProgressText, Col::ExpectedCompletion]
                    .into_iter()
                    .find_map(|c| crate::proposal::from_progress_text(get(c)))
                    .filter(|(k, _)| k.phase() == f.stage)
            }
            _ => None,
        };
        if proposal.is_some() {
            f.stage = Some(Phase::Proposed);
        }
        let expected_completion = non_empty(get(Col::ExpectedCompletion));
        let expected_completion_on = sheet.completion_date(&expected_completion, line, warnings);
        let chosen = f.funding.and_then(|funding| {
            let progress = folded_name(get(Col::ProgressText));
            sheet.workflow(
                funding,
                &f,
                &progress,
                non_empty(get(Col::Kind)),
                &mut reasons,
            )
        });
        let state = match (&chosen, f.stage) {
            (Some(c), Some(stage)) => place(c, stage, &mut reasons),
            _ => None,
        };
        let key = f.appendix.map(|a| key_of_folded(a, &f.unit_id, &f.folded));
        if reasons.is_empty()
            && let Some(k) = &key
            && let Some(first) = self.seen.get(k)
        {
            reasons.push(format!(
                "trùng nhiệm vụ ở dòng {first} (cùng phụ lục, đơn vị và tên nhiệm vụ)"
            ));
        }
        let (
            true,
            Some(appendix),
            Some(funding_source),
            Some(stage),
            Some(chosen),
            Some(state),
            Some(key),
        ) = (
            reasons.is_empty(),
            f.appendix,
            f.funding,
            f.stage,
            chosen,
            state,
            key,
        )
        else {
            return Err(invalid(reasons));
        };
        self.seen.insert(key.clone(), line);
        let [
            need_total,
            approved_estimate,
            need_year,
            allocated_year,
            planned_allocation,
        ] = f.amounts;
        Ok(CatalogueRow {
            line,
            appendix,
            seq: non_empty(get(Col::Seq)),
            unit: f.unit,
            unit_id: f.unit_id,
            name: f.name,
            funding_source,
            period: non_empty(get(Col::Period)),
            is_rental: f.is_rental,
            need_total,
            approved_estimate,
            need_year,
            planned_allocation,
            allocated_year,
            progress_text: non_empty(get(Col::ProgressText)),
            expected_completion,
            expected_completion_on,
            stage,
            notes: non_empty(get(Col::Notes)),
            kind: chosen.kind,
            kind_rule: chosen.rule,
            workflow_version: chosen.workflow.version,
            state,
            key,
            proposal,
        })
    }
}

impl<'a> Sheet<'a> {
    /// A record whose cells do not line up with the header cannot be read at all. CSV rows
    /// must have the header's width; spreadsheets drop empty trailing cells.
    fn shape_problem(&self, cells: &[String]) -> Option<String> {
        let width = self.width;
        let extra_filled = cells.iter().skip(width).any(|c| !c.trim().is_empty());
        (extra_filled || (cells.len() < width && !self.short_rows_ok)).then(|| {
            format!(
                "dòng có {} ô nhưng dòng tiêu đề có {width} cột (thiếu hoặc thừa dấu phẩy, hay dấu ngoặc kép chưa đóng?)",
                cells.len()
            )
        })
    }

    /// Reads the cells that make a task: appendix, unit, name, funding source, rental, the four
    /// amounts and the stage.
    fn fields(
        &self,
        cells: &[String],
        unit_ids: &mut HashMap<String, UnitId>,
        reasons: &mut Vec<String>,
    ) -> Fields {
        let get = |c: Col| self.columns.get(cells, c);
        let appendix = match get(Col::Appendix).trim().parse::<u8>() {
            Ok(a @ 1..=4) => Some(a),
            _ => {
                reasons.push(format!(
                    "appendix `{}` không hợp lệ: ghi số phụ lục 1, 2, 3 hoặc 4",
                    get(Col::Appendix).trim()
                ));
                None
            }
        };
        let unit = get(Col::Unit).trim().to_string();
        let unit_id = match unit_ids.get(&unit) {
            Some(id) => id.clone(),
            None => {
                let id = UnitId::from_name(&unit);
                unit_ids.insert(unit.clone(), id.clone());
                id
            }
        };
        if unit.is_empty() {
            reasons.push("thiếu tên đơn vị (cột unit)".into());
        } else if unit_id.as_str().is_empty() {
            reasons.push(format!(
                "tên đơn vị `{unit}` không có chữ cái hay chữ số nào"
            ));
        }
        let name = get(Col::Name).trim().to_string();
        let folded = folded_name(&name);
        if folded.is_empty() {
            reasons.push("thiếu tên nhiệm vụ (cột name)".into());
        }
        let funding = match get(Col::FundingSource).trim().parse::<FundingSource>() {
            Ok(f) => Some(f),
            Err(e) => {
                reasons.push(e);
                None
            }
        };
        if let (Some(a), Some(f)) = (appendix, funding)
            && f.appendix() != a
        {
            reasons.push(format!(
                "nguồn kinh phí {} thuộc phụ lục {}, nhưng dòng ghi phụ lục {a}",
                f.as_str(),
                f.appendix()
            ));
        }
        let is_rental = parse_bool(get(Col::IsRental)).unwrap_or_else(|e| {
            reasons.push(e);
            false
        });
        let year = self.plan_year;
        let amounts = [
            (Col::NeedTotal, "nhu cầu kinh phí".to_string()),
            (Col::ApprovedEstimate, "dự toán được duyệt".to_string()),
            (Col::NeedYear, format!("nhu cầu kinh phí năm {year}")),
            (
                Col::AllocatedYear,
                format!("kinh phí năm {year} đã phân bổ"),
            ),
            (
                Col::PlannedAllocation,
                format!("dự kiến phân bổ kinh phí năm {year}"),
            ),
        ]
        .map(|(c, label)| match parse_amount(get(c)) {
            Ok(v) => v.map(|(d, _)| d),
            Err(e) => {
                reasons.push(format!("{label}: {e}"));
                None
            }
        });
        let stage = parse_stage(get(Col::LifecycleStage))
            .map_err(|e| reasons.push(e))
            .ok();
        Fields {
            appendix,
            unit,
            unit_id,
            name,
            folded,
            funding,
            is_rental,
            amounts,
            stage,
        }
    }

    /// The expected completion as a date, when it is a plausible one for the plan's year; an
    /// implausible date is kept as printed text only, with a warning.
    fn completion_date(
        &self,
        text: &Option<String>,
        line: usize,
        warnings: &mut Vec<RowWarning>,
    ) -> Option<NaiveDate> {
        let text = text.as_ref()?;
        let d = parse_printed_date(text)?;
        let plan_year = self.plan_year;
        if (plan_year - 5..=plan_year + 10).contains(&d.year()) {
            return Some(d);
        }
        warnings.push(RowWarning {
            line,
            message: format!(
                "thời gian dự kiến hoàn thành «{text}» không hợp lý với kế hoạch năm {plan_year}: giữ nguyên văn bản như in, không dùng làm hạn"
            ),
        });
        None
    }

    /// The workflow: an explicit `kind` cell, else the rule; the version that applies today.
    fn workflow(
        &self,
        funding: FundingSource,
        f: &Fields,
        folded_progress: &str,
        explicit_kind: Option<String>,
        reasons: &mut Vec<String>,
    ) -> Option<Chosen<'a>> {
        let (kind, rule) = match explicit_kind {
            Some(k) => (k, None),
            None => {
                let (k, i) = choose_kind_folded(funding, f.is_rental, &f.folded, folded_progress);
                (k.to_string(), Some(i))
            }
        };
        let catalog = self.catalog;
        match catalog.for_date(&kind, self.today) {
            Some(wf) => Some(Chosen {
                kind,
                rule,
                workflow: wf.as_ref(),
            }),
            None => {
                reasons.push(match catalog.latest(&kind) {
                    Some(_) => format!(
                        "quy trình `{kind}` không có phiên bản áp dụng cho ngày {}",
                        crate::time::format_date(self.today)
                    ),
                    None => format!(
                        "quy trình `{kind}` không tồn tại; các quy trình hiện có: {}",
                        catalog.names().join(", ")
                    ),
                });
                None
            }
        }
    }
}

/// The state a row of `stage` is placed in on its chosen workflow.
fn place(chosen: &Chosen<'_>, stage: Phase, reasons: &mut Vec<String>) -> Option<String> {
    match placement(chosen.workflow, stage) {
        Some(s) => Some(s.name.clone()),
        None => {
            reasons.push(format!(
                "quy trình `{}` không có bước nào thuộc giai đoạn {} ({})",
                chosen.kind,
                stage.as_str(),
                stage.title()
            ));
            None
        }
    }
}

/// "unit — name" as far as readable, so a person recognises a row in a message.
fn summary(unit: &str, name: &str) -> String {
    let unit = unit.trim();
    let name: String = name.trim().chars().take(60).collect();
    match (unit.is_empty(), name.is_empty()) {
        (true, true) => String::new(),
        (false, true) => unit.to_string(),
        (true, false) => format!("«{name}»"),
        (false, false) => format!("{unit} — «{name}»"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::table::csv_table as table;
    use crate::testing::catalog;

    const HEADER: &str = "appendix,seq,unit,name,funding_source,period,is_rental,need_total_mvnd,approved_estimate_mvnd,need_2025_mvnd,allocated_2025_mvnd,progress_text,expected_completion,lifecycle_stage,notes";

    fn parse(lines: &[&str]) -> Catalogue {
        let today = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
        parse_rows(table(HEADER, lines), 2025, &catalog(), today).unwrap()
    }

    #[test]
    fn a_row_gets_its_workflow_state_amounts_and_key() {
        let c = parse(&[
            "2,3,Uỷ ban nhân dân xã An Lão,Xây dựng phần mềm quản lý hộ tịch,hoan_thanh_2025_cntt,2025,false,1234.5,,526.2,,Đang khảo sát hiện trạng,30/11/2025,explanation_and_estimate,",
        ]);
        assert!(c.invalid.is_empty(), "{:?}", c.invalid);
        let r = &c.rows[0];
        assert_eq!((r.line, r.appendix, r.seq.as_deref()), (2, 2, Some("3")));
        assert_eq!(r.unit_id.as_str(), "uy-ban-nhan-dan-xa-an-lao");
        assert_eq!((r.kind.as_str(), r.kind_rule), ("bao-cao-ktkt", Some(8)));
        let wf = catalog();
        let wf = wf.get(&r.kind, r.workflow_version).unwrap();
        assert_eq!(
            Some(r.state.as_str()),
            placement(wf, Phase::ExplanationAndEstimate).map(|s| s.name.as_str())
        );
        assert_eq!(r.need_total, Some(1_234_500_000));
        assert_eq!(r.need_year, Some(526_200_000));
        assert_eq!(r.approved_estimate, None);
        assert_eq!(
            r.expected_completion_on,
            NaiveDate::from_ymd_opt(2025, 11, 30)
        );
        assert_eq!(
            r.key,
            super::super::names::task_key(2, &r.unit_id, "xây dựng phần mềm quản lý hộ tịch")
        );
    }

    #[test]
    fn a_planned_allocation_column_is_its_own_figure() {
        let today = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
        let header = "appendix,unit,name,funding_source,need_2025_mvnd,planned_2025_mvnd,allocated_2025_mvnd,lifecycle_stage";
        let c = parse_rows(
            table(
                header,
                &[
                    "1,Sở Y tế,Mua máy in,thuong_xuyen,100,1500,,proposed",
                    "1,Sở Y tế,Mua máy quét,thuong_xuyen,100,x,,proposed",
                ],
            ),
            2025,
            &catalog(),
            today,
        )
        .unwrap();
        assert_eq!(c.rows.len(), 1, "{:?}", c.invalid);
        let r = &c.rows[0];
        assert_eq!(
            (r.need_year, r.planned_allocation, r.allocated_year),
            (Some(100_000_000), Some(1_500_000_000), None)
        );
        assert_eq!(c.invalid.len(), 1);
        assert!(
            c.invalid[0].reasons[0].starts_with("dự kiến phân bổ kinh phí năm 2025: "),
            "{:?}",
            c.invalid[0]
        );
        // `planned_year_mvnd` says the same; a column of another year is refused.
        let c = parse_rows(
            table(
                "appendix,unit,name,funding_source,planned_year_mvnd,lifecycle_stage",
                &["1,Sở Y tế,Mua máy in,thuong_xuyen,2,proposed"],
            ),
            2025,
            &catalog(),
            today,
        )
        .unwrap();
        assert_eq!(c.rows[0].planned_allocation, Some(2_000_000));
        let e = parse_rows(
            table(
                "appendix,unit,name,funding_source,planned_2024_mvnd,lifecycle_stage",
                &["1,Sở Y tế,Mua máy in,thuong_xuyen,2,proposed"],
            ),
            2025,
            &catalog(),
            today,
        )
        .unwrap_err();
        assert!(
            e.0.contains("planned_2025_mvnd (hoặc planned_year_mvnd)"),
            "{e:?}"
        );
    }

    #[test]
    fn hidden_characters_are_refused_as_the_api_refuses_them() {
        // Issue 13, security 7: the CLI import stored control and bidi characters the API
        // refuses. One rule (engine::input) now holds for both.
        let c = parse(&[
            "1,1,Sở Y tế,Mua máy\u{202E}chủ,thuong_xuyen,2025,false,,,,,,,proposed,",
            "1,2,Sở Y\u{7}tế,Mua máy quét,thuong_xuyen,2025,false,,,,,,,proposed,",
            "1,3,Sở Y tế,Mua máy in,thuong_xuyen,2025,false,,,,,,\u{200B}ghi chú,proposed,",
            "1,4,Sở Y tế,\"Mua máy\nchiếu\",thuong_xuyen,2025,false,,,,,,,proposed,",
            "1,5,Sở Y tế,Mua máy tính,thuong_xuyen,2025,false,,,,,\"Dòng 1\nDòng 2\",,proposed,",
        ]);
        let reasons: Vec<String> = c.invalid.iter().map(|i| i.reasons.join("; ")).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        for (r, code) in reasons.iter().zip(["U+202E", "U+0007", "U+200B", "U+000A"]) {
            assert!(r.contains("ký tự điều khiển") && r.contains(code), "{r}");
        }
        assert!(reasons[0].contains("cột `name`"), "{}", reasons[0]);
        // A note may hold several lines.
        assert_eq!(c.rows.len(), 1);
    }

    #[test]
    fn every_reason_of_a_bad_row_is_listed_in_column_order() {
        let c = parse(&[
            "7,1,Sở Y tế,Mua máy chủ,thuong_xuyen,2025,maybe,abc,,10,,,,done,",
            "1,2,,,thuong_xuyen,2025,false,,,,,,,proposed,",
            "1,3,Sở Y tế,Mua máy chủ,su_nghiep_cntt,2025,false,,,,,,,proposed,",
        ]);
        assert!(c.rows.is_empty());
        let reasons: Vec<&Vec<String>> = c.invalid.iter().map(|i| &i.reasons).collect();
        assert_eq!(reasons[0].len(), 4, "{:?}", reasons[0]);
        assert!(reasons[0][0].starts_with("appendix `7`"));
        assert!(reasons[0][1].starts_with("is_rental `maybe`"));
        assert!(reasons[0][2].starts_with("nhu cầu kinh phí: số tiền `abc`"));
        assert!(reasons[0][3].starts_with("lifecycle_stage `done`"));
        assert_eq!(c.invalid[0].summary, "Sở Y tế — «Mua máy chủ»");
        assert_eq!(
            reasons[1],
            &vec![
                "thiếu tên đơn vị (cột unit)".to_string(),
                "thiếu tên nhiệm vụ (cột name)".to_string()
            ]
        );
        assert!(reasons[2][0].contains("thuộc phụ lục 3, nhưng dòng ghi phụ lục 1"));
    }

    #[test]
    fn duplicates_short_rows_and_odd_dates() {
        let c = parse(&[
            "1,1,Sở Y tế,Mua máy chủ,thuong_xuyen,2025,false,,,,,,31/12/2045,proposed,",
            "1,2,Sở Y Tế,mua  máy chủ!,thuong_xuyen,2025,false,,,,,,,proposed,",
            "1,3,Sở Y tế,Thuê dịch vụ",
        ]);
        assert_eq!(c.rows.len(), 1);
        assert_eq!(c.rows[0].expected_completion_on, None);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].message.contains("31/12/2045"));
        assert_eq!(
            c.invalid[0].reasons,
            vec!["trùng nhiệm vụ ở dòng 2 (cùng phụ lục, đơn vị và tên nhiệm vụ)".to_string()]
        );
        assert!(c.invalid[1].reasons[0].starts_with("dòng có 4 ô nhưng dòng tiêu đề có 15 cột"));
    }

    #[test]
    fn an_unusable_header_is_a_file_error() {
        let today = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
        let err = |header: &str| {
            parse_rows(table(header, &[]), 2025, &catalog(), today)
                .unwrap_err()
                .0
        };
        assert!(
            err("appendix,unit,name,funding_source,lifecycle_stage,need_2024_mvnd")
                .contains("cột không được hỗ trợ: need_2024_mvnd (năm kế hoạch 2025)")
        );
        assert!(
            err("appendix,unit,name,lifecycle_stage").contains("thiếu cột bắt buộc funding_source")
        );
        assert!(
            err("appendix,unit,unit,name,funding_source,lifecycle_stage")
                .contains("cột `unit` xuất hiện hai lần")
        );
        // The year-free names are accepted for any plan year.
        assert!(
            parse_rows(
                table(
                    "appendix,unit,name,funding_source,lifecycle_stage,need_year_mvnd,kind",
                    &["1,Sở Y tế,Mua máy chủ,thuong_xuyen,proposed,5,thue-dich-vu"]
                ),
                2025,
                &catalog(),
                today
            )
            .unwrap()
            .rows[0]
                .kind_rule
                .is_none()
        );
    }
}
