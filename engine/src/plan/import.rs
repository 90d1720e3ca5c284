//! Importing a plan from its printed form (issue 14), the pure half: the sheets read by
//! [`parse_printed`], each placed in a section of the plan's [`PlanLayout`], every task row made a
//! [`CatalogueRow`] (so a row that becomes a new task is checked and placed exactly as the
//! normalized CSV import does), and, once the store has proposed the existing task each row
//! continues ([`super::carry::propose`]), what happens to each row ([`decide`]):
//!
//! - `--links FILE`: exactly as the reviewed file says (a task id: link; blank: create);
//! - `--auto-link SCORE`: proposals at or above SCORE are linked, the rest created;
//! - neither: rows with a proposal are left for review (nothing is written for them), rows
//!   without one are created.
//!
//! A row already listed in the plan (a second import of the same sheet) is not decided again.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::carry::{Link, Proposal};
use super::layout::{PlanLayout, Section};
use crate::catalogue::names::unit_spellings;
use crate::catalogue::printed::{Grid, PrintedMismatch, PrintedRow, parse_printed, year_in_titles};
use crate::catalogue::table::{FileError, RawRecord, RawTable};
use crate::catalogue::{CatalogueError, CatalogueRow, ImportPlan, parse_rows};
use crate::domain::UnitId;
use crate::money::format_million_vnd;
use crate::workflow::Catalog;

/// How rows are linked to existing tasks.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkMode {
    /// Propose only: rows with a proposal wait for review.
    Propose,
    /// A reviewed links file, applied as it stands.
    Links(Vec<Link>),
    /// Link proposals at or above this score; create the rest.
    AutoLink(f64),
}

/// A printed plan to import.
#[derive(Debug, Clone)]
pub struct PrintedImport {
    pub plan: ImportPlan,
    pub layout: PlanLayout,
    pub sheets: Vec<Grid>,
    pub mode: LinkMode,
}

/// A task row, ready to link or create.
#[derive(Debug, Clone)]
pub struct PlannedRow {
    /// Its number in the review file: its line in the sheet (plus 10.000 × the sheet's index
    /// when the workbook has several sheets).
    pub row: usize,
    pub section: Section,
    pub printed: PrintedRow,
    /// The row as a new task would be created.
    pub task: CatalogueRow,
}

/// A printed plan, read and checked.
#[derive(Debug, Clone)]
pub struct PreparedPrinted {
    pub plan: ImportPlan,
    /// The plan's layout, kept with the plan for its reports.
    pub layout: PlanLayout,
    pub mode: LinkMode,
    /// Per sheet: its source, its section's key and title, its task rows and subtotals checked.
    pub sheets: Vec<(String, String, String, usize, usize)>,
    pub rows: Vec<PlannedRow>,
    pub mismatches: Vec<(String, PrintedMismatch)>,
    pub warnings: Vec<String>,
    pub spellings: Vec<(UnitId, Vec<(String, usize)>)>,
}

const NORMALIZED: [&str; 17] = [
    "appendix",
    "seq",
    "unit",
    "name",
    "funding_source",
    "period",
    "is_rental",
    "need_total_mvnd",
    "approved_estimate_mvnd",
    "need_year_mvnd",
    "allocated_year_mvnd",
    "planned_year_mvnd",
    "progress_text",
    "expected_completion",
    "lifecycle_stage",
    "notes",
    "kind",
];

fn million(v: Option<i64>) -> String {
    v.map(|d| format!("{}.{:06}", d / 1_000_000, d % 1_000_000))
        .unwrap_or_default()
}

/// Whether a printed row is a rental: its name starts with "Thuê", or its period says so.
fn rental_of(r: &PrintedRow) -> bool {
    crate::catalogue::names::folded_name(&r.name).starts_with("thue")
        || r.period
            .as_deref()
            .is_some_and(|p| crate::catalogue::names::folded_name(p).contains("thue-dich-vu"))
}

/// Reads the sheets, places each row in its section and checks it as a new task would be.
pub fn prepare_printed(
    request: PrintedImport,
    catalog: &Catalog,
    today: NaiveDate,
) -> Result<PreparedPrinted, CatalogueError> {
    let PrintedImport {
        plan,
        layout,
        sheets,
        mode,
    } = request;
    plan.check().map_err(CatalogueError::Plan)?;
    if let Some(y) = layout.year
        && y != plan.year
    {
        return Err(CatalogueError::Plan(format!(
            "Tệp bố cục khai báo năm {y}, nhưng --year là {}.",
            plan.year
        )));
    }
    let known = catalog.names();
    let unknown = layout.unknown_kinds(&known);
    if !unknown.is_empty() {
        return Err(CatalogueError::Plan(format!(
            "Tệp bố cục ghi loại nhiệm vụ không có quy trình: {}; các quy trình đã khai báo: {}.",
            unknown
                .iter()
                .map(|(s, k)| format!("mục {s}: «{k}»"))
                .collect::<Vec<_>>()
                .join(", "),
            known.join(", ")
        )));
    }
    let many = sheets.len() > 1;
    let mut out = PreparedPrinted {
        plan: plan.clone(),
        layout: layout.clone(),
        mode,
        sheets: Vec::new(),
        rows: Vec::new(),
        mismatches: Vec::new(),
        warnings: Vec::new(),
        spellings: Vec::new(),
    };
    let mut placed: Vec<(usize, Section, PrintedRow)> = Vec::new();
    for (i, grid) in sheets.iter().enumerate() {
        let sheet = parse_printed(grid, plan.year)?;
        if let Some(y) = year_in_titles(&sheet.titles)
            && y != plan.year
        {
            return Err(CatalogueError::File(FileError(format!(
                "{}: tiêu đề in năm {y}, nhưng --year là {}.",
                sheet.source, plan.year
            ))));
        }
        let default = layout.section_for(sheet.sheet.as_deref(), &sheet.titles);
        for r in &sheet.rows {
            let section = r
                .section
                .as_deref()
                .and_then(|k| layout.section(k))
                .or(default)
                .ok_or_else(|| {
                    CatalogueError::File(FileError(format!(
                        "{}, dòng {}: không biết nhiệm vụ thuộc mục nào của kế hoạch: tệp bố cục khai báo các mục {} (ghi `sheet` của mục, hoặc in tên mục ở đầu trang).",
                        sheet.source,
                        r.line,
                        layout
                            .sections
                            .iter()
                            .map(|s| format!("{} «{}»", s.key, s.title))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                })?;
            let row = if many { i * 10_000 + r.line } else { r.line };
            placed.push((row, section.clone(), r.clone()));
        }
        let key = default.map(|s| s.key.clone()).unwrap_or_default();
        let title = default.map(|s| s.title.clone()).unwrap_or_default();
        out.sheets.push((
            sheet.source.clone(),
            key,
            title,
            sheet.rows.len(),
            sheet.checked,
        ));
        out.mismatches.extend(
            sheet
                .mismatches
                .into_iter()
                .map(|m| (sheet.source.clone(), m)),
        );
        out.warnings.extend(
            sheet
                .warnings
                .into_iter()
                .map(|w| format!("{}: {w}", sheet.source)),
        );
    }
    // Every row as the normalized import would read it: the section's funding source and the
    // stage its new tasks start in; the kind the rules choose, unless the section declares the
    // kinds that belong in it and that one is not among them (then its first, and a warning).
    let mut placed_kinds: Vec<String> = Vec::with_capacity(placed.len());
    for (row, section, r) in &placed {
        let (chosen, _) = crate::catalogue::kind::choose_kind(
            section.funding_source,
            rental_of(r),
            &r.name,
            r.progress.as_deref().unwrap_or(""),
        );
        match section.placed_kind(chosen) {
            Some(k) => {
                out.warnings.push(format!(
                    "dòng {row} «{}»: quy tắc phân loại chọn quy trình {chosen}, nhưng mục {} chỉ gồm {}: nếu tạo mới, nhiệm vụ theo quy trình {k}",
                    r.name,
                    section.key,
                    section.kinds.join(", ")
                ));
                placed_kinds.push(k.to_string());
            }
            None => placed_kinds.push(String::new()),
        }
    }
    let table = RawTable {
        source: sheets.first().map(|g| g.source.clone()).unwrap_or_default(),
        header: NORMALIZED.iter().map(|s| s.to_string()).collect(),
        header_line: 0,
        short_rows_ok: false,
        records: placed
            .iter()
            .zip(&placed_kinds)
            .map(|((row, section, r), kind)| {
                let rental = rental_of(r);
                RawRecord {
                    line: *row,
                    cells: Ok(vec![
                        section.funding_source.appendix().to_string(),
                        r.seq.clone(),
                        r.unit.clone(),
                        r.name.clone(),
                        section.funding_source.as_str().to_string(),
                        r.period.clone().unwrap_or_default(),
                        rental.to_string(),
                        million(r.amounts[0]),
                        million(r.amounts[1]),
                        million(r.amounts[2]),
                        million(r.amounts[3]),
                        million(r.amounts[6]),
                        r.progress.clone().unwrap_or_default(),
                        r.expected_completion.clone().unwrap_or_default(),
                        section.stage.as_str().to_string(),
                        r.notes.clone().unwrap_or_default(),
                        kind.clone(),
                    ]),
                }
            })
            .collect(),
    };
    let catalogue = parse_rows(table, plan.year, catalog, today)?;
    if !catalogue.invalid.is_empty() {
        return Err(CatalogueError::InvalidRows {
            file: catalogue.source,
            invalid: catalogue.invalid,
        });
    }
    out.warnings.extend(
        catalogue
            .warnings
            .iter()
            .map(|w| format!("dòng {}: {}", w.line, w.message)),
    );
    out.spellings = unit_spellings(&catalogue.rows);
    let mut by_row: HashMap<usize, CatalogueRow> =
        catalogue.rows.into_iter().map(|r| (r.line, r)).collect();
    for (row, section, printed) in placed {
        if let Some(task) = by_row.remove(&row) {
            out.rows.push(PlannedRow {
                row,
                section,
                printed,
                task,
            });
        }
    }
    Ok(out)
}

/// What happens to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowDecision {
    /// Listed in the plan by an earlier import of the same sheet.
    Listed(String),
    /// Continues this existing task.
    Link(String),
    Create,
    /// Waits for a person: `--review` writes the proposal.
    Review,
}

/// Decides each row (see the module documentation). `listed` maps the key of a row already
/// listed in the plan to its task; `linkable` says whether a task may be linked (it exists and
/// the plan does not list it yet). A links file that does not cover the rows exactly, or names a
/// task that cannot be linked, is refused with every reason.
pub fn decide(
    rows: &[PlannedRow],
    proposals: &[Proposal],
    mode: &LinkMode,
    listed: &HashMap<String, String>,
    linkable: impl Fn(&str) -> bool,
) -> Result<Vec<RowDecision>, String> {
    let proposal: HashMap<usize, &Proposal> = proposals.iter().map(|p| (p.row, p)).collect();
    let mut problems = Vec::new();
    let links: Option<BTreeMap<usize, &Link>> = match mode {
        LinkMode::Links(l) => {
            let map: BTreeMap<usize, &Link> = l.iter().map(|x| (x.row, x)).collect();
            for x in l {
                let Some(r) = rows.iter().find(|r| r.row == x.row) else {
                    problems.push(format!(
                        "dòng {} của tệp liên kết không phải một dòng nhiệm vụ của bảng",
                        x.row
                    ));
                    continue;
                };
                if !x.name.is_empty()
                    && crate::catalogue::names::folded_name(&x.name)
                        != crate::catalogue::names::folded_name(&r.printed.name)
                {
                    problems.push(format!(
                        "dòng {}: tên «{}» khác tên trong bảng «{}»",
                        x.row, x.name, r.printed.name
                    ));
                }
                if let Some(t) = &x.task_id
                    && !listed.contains_key(&r.task.key)
                    && !linkable(t)
                {
                    problems.push(format!(
                        "dòng {}: nhiệm vụ {t} không có, hoặc đã có trong kế hoạch này",
                        x.row
                    ));
                }
            }
            Some(map)
        }
        _ => None,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if let Some(t) = listed.get(&r.task.key) {
            out.push(RowDecision::Listed(t.clone()));
            continue;
        }
        let p = proposal.get(&r.row);
        out.push(match (mode, &links) {
            (LinkMode::Links(_), Some(map)) => match map.get(&r.row) {
                Some(l) => match &l.task_id {
                    Some(t) => RowDecision::Link(t.clone()),
                    None => RowDecision::Create,
                },
                None => {
                    problems.push(format!(
                        "dòng {} («{}») không có trong tệp liên kết: ghi mã nhiệm vụ để liên kết, hoặc để trống để tạo mới",
                        r.row, r.printed.name
                    ));
                    RowDecision::Review
                }
            },
            (LinkMode::AutoLink(min), _) => match p.and_then(|p| p.task_id.clone().filter(|_| p.score >= *min)) {
                Some(t) => RowDecision::Link(t),
                None => RowDecision::Create,
            },
            _ => match p.and_then(|p| p.task_id.clone()) {
                Some(_) => RowDecision::Review,
                None => RowDecision::Create,
            },
        });
    }
    // One existing task continues one row.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (r, d) in rows.iter().zip(&out) {
        if let RowDecision::Link(t) = d
            && let Some(first) = seen.insert(t.as_str(), r.row)
        {
            problems.push(format!(
                "nhiệm vụ {t} được liên kết cho cả dòng {first} và dòng {}",
                r.row
            ));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems.join("; "))
    }
}

/// What a printed import did.
#[derive(Debug, Clone, Default)]
pub struct PrintedOutcome {
    pub plan_id: String,
    pub plan_created: bool,
    pub units_created: Vec<String>,
    /// (row, task id, name).
    pub linked: Vec<(usize, String, String)>,
    pub created: usize,
    pub review: Vec<usize>,
    pub listed: usize,
    pub proposals: Vec<Proposal>,
    /// The name of each proposed task (task id → name).
    pub proposed_names: HashMap<String, String>,
    /// What the write found worth a person's look: a linked task whose kind or funding source
    /// the section does not declare.
    pub warnings: Vec<String>,
}

impl PreparedPrinted {
    /// The summary a person reads, in Vietnamese.
    pub fn render(&self, o: &PrintedOutcome) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "Nhập kế hoạch {} (năm {}) từ bảng in: {} nhiệm vụ.\n",
            self.plan.number.trim(),
            self.plan.year,
            self.rows.len()
        ));
        for (source, key, title, rows, checked) in &self.sheets {
            s.push_str(&format!(
                "  {source}: mục {key} «{title}», {rows} nhiệm vụ, {checked} dòng tổng/tiểu cộng đã đối chiếu\n"
            ));
        }
        s.push_str(&format!(
            "  Kế hoạch: {}\n",
            if o.plan_created {
                "tạo mới"
            } else {
                "đã có, giữ nguyên"
            }
        ));
        if !o.units_created.is_empty() {
            s.push_str(&format!("  Đơn vị mới: {}\n", o.units_created.join(", ")));
        }
        s.push_str(&format!(
            "  Nhiệm vụ: {} liên kết với nhiệm vụ đã có, {} tạo mới, {} để xem xét, {} đã có trong kế hoạch\n",
            o.linked.len(),
            o.created,
            o.review.len(),
            o.listed
        ));
        for (row, id, name) in &o.linked {
            s.push_str(&format!("    dòng {row} «{name}» → {id}\n"));
        }
        if !o.review.is_empty() {
            s.push_str(&format!(
                "  Chưa ghi {} dòng có nhiệm vụ tương tự (dòng {}): xem đề xuất bằng --review TỆP, sửa cột task_id rồi nhập lại với --links TỆP, hoặc dùng --auto-link ĐIỂM.\n",
                o.review.len(),
                o.review
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.warnings.is_empty() || !o.warnings.is_empty() {
            s.push_str("Lưu ý:\n");
            for w in self.warnings.iter().chain(&o.warnings) {
                s.push_str(&format!("  {w}\n"));
            }
        }
        if self.mismatches.is_empty() {
            s.push_str("Đối chiếu các dòng tổng và tiểu cộng đã in: khớp.\n");
        } else {
            s.push_str(&format!(
                "Đối chiếu các dòng tổng và tiểu cộng đã in: {} điểm không khớp (đơn vị tiền: triệu đồng):\n",
                self.mismatches.len()
            ));
            for (source, m) in &self.mismatches {
                s.push_str(&format!("  {source}, {}\n", m.describe(self.plan.year)));
            }
        }
        s
    }
}

/// Why a task linked to a row does not belong in the row's section, if it does not: its kind or
/// its funding source is not among those the section declares.
pub fn misplaced_link(
    r: &PlannedRow,
    task: &str,
    kind: &str,
    funding: Option<crate::domain::FundingSource>,
) -> Option<String> {
    let s = &r.section;
    let mut why = Vec::new();
    if !s.admits_kind(kind) {
        why.push(format!(
            "quy trình {kind} không thuộc các loại mục {} gồm ({})",
            s.key,
            s.kinds.join(", ")
        ));
    }
    if let Some(f) = funding
        && !s.admits_funding(f)
    {
        why.push(format!(
            "nguồn kinh phí {} không thuộc các nguồn mục {} gồm ({})",
            f.as_str(),
            s.key,
            s.funding_sources
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    (!why.is_empty()).then(|| {
        format!(
            "dòng {} «{}» liên kết với {task}: {}",
            r.row,
            r.printed.name,
            why.join("; ")
        )
    })
}

/// The budget line a printed row gives its task for the plan's year (đồng): need total,
/// approved estimate, need of the year, allocated, spent the year before, carried over, planned
/// allocation.
pub fn describe_amounts(r: &PrintedRow, year: i32) -> String {
    let labels = [
        "nhu cầu kinh phí".to_string(),
        "dự toán".to_string(),
        format!("nhu cầu năm {year}"),
        format!("phân bổ năm {year}"),
        format!("đã sử dụng năm {}", year - 1),
        format!("chuyển nguồn sang {year}"),
        format!("dự kiến phân bổ năm {year}"),
    ];
    let parts: Vec<String> = r
        .amounts
        .iter()
        .zip(labels)
        .filter_map(|(v, l)| v.map(|v| format!("{l} {}", format_million_vnd(v, 1))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{} (triệu đồng)", parts.join("; "))
    }
}
