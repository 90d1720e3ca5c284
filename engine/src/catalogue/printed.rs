//! A plan's appendix in its printed form, as SKHCN keeps it in Excel (issue 14): title rows, a
//! header row with the printed column titles, section heading rows ("A. …"), unit rows (Roman
//! numeral in TT, the unit's subtotals), group rows that are not units ("I. Nhiệm vụ chuyển
//! tiếp"), task rows (Arabic TT) and TỔNG / Cộng rows. Pure: the adapters read a sheet's cells
//! into a [`Grid`]; [`parse_printed`] gives its task rows and reconciles every subtotal and total
//! row with the rows above it.
//!
//! **Columns** are recognised by their printed titles ([`SYNONYMS`], compared folded: case,
//! diacritics, punctuation and spacing do not matter; `{y}` is the plan's year, `{p}` the year
//! before). A column whose title is not recognised is listed as a warning and not read.
//!
//! **Rows**, below the header: a blank row, a repeat of the header (a page break) and a row of
//! column numbers ("(1)", "(2)" …) are skipped. TT a single letter (or a name "A. …"): a section
//! heading. TT a Roman numeral: a group when the name starts with "Nhiệm vụ" ("I. Nhiệm vụ chuyển
//! tiếp"), else a unit, with the unit's subtotals. TT blank and name "TỔNG", "Tổng cộng" or "Cộng":
//! a total. TT blank and another name: a unit printed without numeral. TT an Arabic number: a
//! task of the unit above.
//!
//! **Numbers** are numeric cells or text: "28.080" (dots group thousands), "329,7" (decimal
//! comma), "-" (nothing); a percentage ("1,0%") is a ratio, not an amount. Amounts are million
//! VND. A printed subtotal differs from its rows when they differ by more than 1 (million): a
//! rounding by ±1 is not a mismatch.

use super::names::folded_name;
use super::table::{FileError, RawRecord};

/// One sheet's cells as read: every row, with the row number a person sees.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grid {
    /// For messages: the file (and sheet) name.
    pub source: String,
    /// The sheet's name (XLSX), if any.
    pub sheet: Option<String>,
    pub rows: Vec<RawRecord>,
}

/// A column of a printed plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrintedColumn {
    Seq,
    Name,
    Unit,
    Period,
    NeedTotal,
    ApprovedEstimate,
    NeedYear,
    /// The planned allocation of the year (dự kiến phân bổ): its own figure, not the allocation.
    PlannedAllocation,
    AllocatedYear,
    SpentPrevious,
    CarriedOver,
    Ratio,
    Progress,
    ExpectedCompletion,
    Notes,
}

impl PrintedColumn {
    /// The column as a message names it.
    pub fn title(self, year: i32) -> String {
        match self {
            PrintedColumn::Seq => "TT".into(),
            PrintedColumn::Name => "Tên nhiệm vụ".into(),
            PrintedColumn::Unit => "Đơn vị".into(),
            PrintedColumn::Period => "Thời gian thực hiện".into(),
            PrintedColumn::NeedTotal => "Nhu cầu kinh phí".into(),
            PrintedColumn::ApprovedEstimate => "Dự toán được duyệt".into(),
            PrintedColumn::NeedYear => format!("Nhu cầu kinh phí năm {year}"),
            PrintedColumn::PlannedAllocation => crate::plan::budget::planned_allocation_title(year),
            PrintedColumn::AllocatedYear => format!("Kinh phí năm {year} (phân bổ)"),
            PrintedColumn::SpentPrevious => format!("Kinh phí đã sử dụng năm {}", year - 1),
            PrintedColumn::CarriedOver => format!("Chuyển nguồn từ {} sang {year}", year - 1),
            PrintedColumn::Ratio => "Tỷ lệ bố trí vốn".into(),
            PrintedColumn::Progress => "Tiến độ".into(),
            PrintedColumn::ExpectedCompletion => "Thời gian dự kiến hoàn thành".into(),
            PrintedColumn::Notes => "Ghi chú".into(),
        }
    }

    /// The amount columns, in the order [`PrintedRow::amounts`] holds them.
    pub const AMOUNTS: [PrintedColumn; 7] = [
        PrintedColumn::NeedTotal,
        PrintedColumn::ApprovedEstimate,
        PrintedColumn::NeedYear,
        PrintedColumn::AllocatedYear,
        PrintedColumn::SpentPrevious,
        PrintedColumn::CarriedOver,
        PrintedColumn::PlannedAllocation,
    ];
}

/// The printed titles each column is recognised by (README, "The printed form"). `{y}` is the
/// plan's year, `{p}` the year before.
pub const SYNONYMS: &[(PrintedColumn, &[&str])] = &[
    (PrintedColumn::Seq, &["TT", "STT", "Số TT"]),
    (
        PrintedColumn::Name,
        &[
            "Tên nhiệm vụ",
            "Tên nhiệm vụ, dự án",
            "Tên dự án",
            "Nội dung nhiệm vụ",
            "Danh mục nhiệm vụ",
        ],
    ),
    (
        PrintedColumn::Unit,
        &[
            "Đơn vị chủ trì",
            "Đơn vị thực hiện",
            "Cơ quan chủ trì",
            "Đơn vị",
        ],
    ),
    (PrintedColumn::Period, &["Thời gian thực hiện"]),
    (
        PrintedColumn::NeedTotal,
        &[
            "Nhu cầu kinh phí",
            "Tổng nhu cầu kinh phí",
            "Tổng mức đầu tư",
        ],
    ),
    (
        PrintedColumn::ApprovedEstimate,
        &[
            "Dự toán được duyệt",
            "Dự toán được phê duyệt",
            "Dự toán",
            "Dự toán kinh phí",
        ],
    ),
    (
        PrintedColumn::NeedYear,
        &[
            "Nhu cầu kinh phí năm {y}",
            "Đơn vị đề xuất bố trí năm {y}",
            "Kinh phí đề xuất năm {y}",
        ],
    ),
    (
        PrintedColumn::PlannedAllocation,
        &[
            "Dự kiến phân bổ năm {y}",
            "Dự kiến phân bổ kinh phí năm {y}",
            "Dự kiến phân bổ năm {y} (đợt 1)",
            "Dự kiến phân bổ kinh phí năm {y} (đợt 1)",
            "Dự kiến bố trí năm {y}",
            "Dự kiến bố trí kinh phí năm {y}",
        ],
    ),
    (
        PrintedColumn::AllocatedYear,
        &[
            "Kinh phí năm {y} đã phân bổ",
            "Kinh phí bố trí năm {y}",
            "Kinh phí đã phân bổ năm {y}",
        ],
    ),
    (
        PrintedColumn::SpentPrevious,
        &[
            "Kinh phí đã sử dụng năm {p}",
            "Kinh phí đã giải ngân năm {p}",
        ],
    ),
    (
        PrintedColumn::CarriedOver,
        &["Chuyển nguồn từ {p} sang {y}", "Kinh phí chuyển nguồn"],
    ),
    (PrintedColumn::Ratio, &["Tỷ lệ bố trí vốn"]),
    (
        PrintedColumn::Progress,
        &["Tiến độ", "Tiến độ thực hiện", "Tiến độ tính đến {d}"],
    ),
    (
        PrintedColumn::ExpectedCompletion,
        &["Thời gian dự kiến hoàn thành"],
    ),
    (PrintedColumn::Notes, &["Ghi chú"]),
];

/// The column a printed title names, for a plan of `year`.
pub fn recognise(title: &str, year: i32) -> Option<PrintedColumn> {
    let t = folded_name(title);
    if t.is_empty() {
        return None;
    }
    // "Tiến độ tính đến 05/11/2025": any date.
    if t == "tien-do" || t.starts_with("tien-do-tinh-den") || t == "tien-do-thuc-hien" {
        return Some(PrintedColumn::Progress);
    }
    SYNONYMS.iter().find_map(|(col, titles)| {
        titles
            .iter()
            .any(|s| {
                folded_name(
                    &s.replace("{y}", &year.to_string())
                        .replace("{p}", &(year - 1).to_string()),
                ) == t
            })
            .then_some(*col)
    })
}

/// A task row of a printed plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedRow {
    pub line: usize,
    /// The section heading above it (its letter or TT), if the sheet has any.
    pub section: Option<String>,
    /// The unit: the Unit column where printed, else the unit row above.
    pub unit: String,
    /// TT as printed.
    pub seq: String,
    pub name: String,
    pub period: Option<String>,
    /// In đồng, in the order of [`PrintedColumn::AMOUNTS`].
    pub amounts: [Option<i64>; 7],
    pub progress: Option<String>,
    pub expected_completion: Option<String>,
    pub notes: Option<String>,
}

/// A printed subtotal or total that differs from the rows above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedMismatch {
    pub line: usize,
    /// "đơn vị I (Sở Y tế)", "TỔNG" …
    pub label: String,
    pub column: PrintedColumn,
    pub printed: i64,
    pub computed: i64,
}

impl PrintedMismatch {
    pub fn describe(&self, year: i32) -> String {
        let m = |v: i64| crate::money::format_million_vnd(v, 1);
        format!(
            "dòng {}, {} — {}: in {}, tính từ các dòng {} (chênh {})",
            self.line,
            self.label,
            self.column.title(year),
            m(self.printed),
            m(self.computed),
            m((self.printed - self.computed).abs())
        )
    }
}

/// A sheet read in its printed form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrintedSheet {
    pub source: String,
    pub sheet: Option<String>,
    /// The title rows above the header, as printed.
    pub titles: Vec<String>,
    /// The header's line and the columns recognised, in print order.
    pub header_line: usize,
    pub columns: Vec<PrintedColumn>,
    /// Section headings: (key, title, line).
    pub sections: Vec<(String, String, usize)>,
    pub rows: Vec<PrintedRow>,
    /// Subtotal and total rows checked (how many).
    pub checked: usize,
    pub mismatches: Vec<PrintedMismatch>,
    /// Unrecognised columns, unreadable cells.
    pub warnings: Vec<String>,
}

/// A printed number in million VND → đồng: a numeric cell's text ("61000", "9784.5"), or text
/// the Vietnamese way ("28.080", "329,7"); "-" and blank are nothing.
pub fn parse_printed_amount(text: &str) -> Result<Option<i64>, String> {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}'))
        .collect();
    if t.is_empty() || t.chars().all(|c| matches!(c, '-' | '–' | '—')) {
        return Ok(None);
    }
    let bad = || format!("số «{}» không đọc được (triệu đồng)", text.trim());
    let grouped = |s: &str| {
        let mut parts = s.split('.');
        let first = parts.next().unwrap_or_default();
        !first.is_empty()
            && first.len() <= 3
            && first.chars().all(|c| c.is_ascii_digit())
            && parts
                .clone()
                .all(|p| p.len() == 3 && p.chars().all(|c| c.is_ascii_digit()))
            && s.contains('.')
    };
    let (int, frac) = if let Some((i, f)) = t.split_once(',') {
        // "1.234,5", "329,7".
        if !(grouped(i) || i.chars().all(|c| c.is_ascii_digit())) || i.is_empty() {
            return Err(bad());
        }
        (i.replace('.', ""), f.to_string())
    } else if grouped(&t)
        && t.matches('.').count() >= 1
        && t.rsplit('.').next().map(str::len) == Some(3)
    {
        // "28.080": a printed thousands group, never three decimals of a million.
        (t.replace('.', ""), String::new())
    } else {
        let (i, f) = t.split_once('.').unwrap_or((&t, ""));
        (i.to_string(), f.to_string())
    };
    if int.is_empty()
        || int.len() > 12
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = int.parse().map_err(|_| bad())?;
    // Numeric cells may carry binary noise (9784.499999999); round to the đồng.
    let frac: String = frac.chars().take(9).collect();
    let frac_dong = if frac.is_empty() {
        0
    } else {
        let scaled: f64 = format!("0.{frac}").parse().map_err(|_| bad())?;
        (scaled * 1_000_000.0).round() as i64
    };
    Ok(Some(whole * 1_000_000 + frac_dong))
}

/// The tolerance of a printed subtotal: a rounding by ±1 million is not a mismatch.
const TOLERANCE: i64 = 1_000_000;

enum Kind {
    Section(String, String),
    Group,
    Unit(String),
    Total { whole_sheet: bool },
    Task,
    Skip,
}

/// An open subtotal: its row and the sums of the tasks since.
struct Open {
    line: usize,
    label: String,
    printed: [Option<i64>; 7],
    sums: [i64; 7],
    counted: bool,
}

impl Open {
    fn close(self, out: &mut PrintedSheet) {
        if !self.counted {
            return;
        }
        out.checked += 1;
        for (i, col) in PrintedColumn::AMOUNTS.iter().enumerate() {
            if let Some(p) = self.printed[i]
                && (p - self.sums[i]).abs() > TOLERANCE
            {
                out.mismatches.push(PrintedMismatch {
                    line: self.line,
                    label: self.label.clone(),
                    column: *col,
                    printed: p,
                    computed: self.sums[i],
                });
            }
        }
    }
}

/// Reads a sheet in its printed form for a plan of `year`. File-level problems (no header row
/// with TT and the task name) are an error; unreadable cells are warnings on their row, and the
/// row is kept with the cell blank.
pub fn parse_printed(grid: &Grid, year: i32) -> Result<PrintedSheet, FileError> {
    let mut out = PrintedSheet {
        source: grid.source.clone(),
        sheet: grid.sheet.clone(),
        ..PrintedSheet::default()
    };
    let cells_of = |r: &RawRecord| -> Vec<String> { r.cells.clone().unwrap_or_default() };
    // The header: the first row with a TT and a name column.
    let header_at = grid
        .rows
        .iter()
        .position(|r| {
            let cells = cells_of(r);
            let cols: Vec<_> = cells.iter().map(|c| recognise(c, year)).collect();
            cols.contains(&Some(PrintedColumn::Seq)) && cols.contains(&Some(PrintedColumn::Name))
        })
        .ok_or_else(|| {
            FileError(format!(
                "{}: không thấy dòng tiêu đề cột (cần cột «TT» và «Tên nhiệm vụ»; các tên cột được nhận ra: xem README, mục The printed form).",
                grid.source
            ))
        })?;
    for r in &grid.rows[..header_at] {
        let text: Vec<String> = cells_of(r)
            .into_iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if !text.is_empty() {
            out.titles.push(text.join(" "));
        }
    }
    let header_row = &grid.rows[header_at];
    out.header_line = header_row.line;
    let header = cells_of(header_row);
    let mut folded_header: Vec<String> = header.iter().map(|h| folded_name(h)).collect();
    let mut at = columns_of(&header, header_row.line, year, &mut out.warnings);
    out.columns = at.iter().map(|(_, c)| *c).collect();
    let col = |at: &[(usize, PrintedColumn)], cells: &[String], c: PrintedColumn| -> String {
        at.iter()
            .find(|(_, x)| *x == c)
            .and_then(|(i, _)| cells.get(*i))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut section: Option<String> = None;
    let mut unit = String::new();
    let mut opens: Vec<(u8, Open)> = Vec::new(); // level: 0 section, 1 group, 2 unit
    let mut sheet_sums = [0i64; 7];
    let mut section_sums = [0i64; 7];
    for r in &grid.rows[header_at + 1..] {
        let line = r.line;
        let cells = match &r.cells {
            Ok(c) => c.clone(),
            Err(e) => {
                out.warnings.push(format!("dòng {line}: {e}"));
                continue;
            }
        };
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        // The rule the API applies to typed text (engine::input): a hidden character would
        // reach names, pages, mails and terminals, so the file is refused until it is fixed.
        if let Some(c) = cells
            .iter()
            .find_map(|cell| crate::input::hidden_char(cell, true))
        {
            return Err(FileError(format!(
                "{}, dòng {line}: một ô chứa ký tự điều khiển hoặc ký tự ẩn không được phép (U+{:04X}); sửa tệp rồi nhập lại.",
                grid.source, c as u32
            )));
        }
        let folded: Vec<String> = cells.iter().map(|c| folded_name(c)).collect();
        if folded
            .iter()
            .zip(&folded_header)
            .all(|(a, b)| a == b || a.is_empty())
            && folded.iter().any(|c| !c.is_empty())
        {
            continue; // the header again, after a page break
        }
        // A section printed with its own columns: a new header row.
        let recognised: Vec<_> = cells.iter().map(|c| recognise(c, year)).collect();
        if recognised.contains(&Some(PrintedColumn::Seq))
            && recognised.contains(&Some(PrintedColumn::Name))
        {
            at = columns_of(&cells, line, year, &mut out.warnings);
            folded_header = folded;
            for (_, c) in &at {
                if !out.columns.contains(c) {
                    out.columns.push(*c);
                }
            }
            continue;
        }
        if cells.iter().all(|c| {
            let t = c.trim().trim_start_matches('(').trim_end_matches(')');
            t.is_empty()
                || t.chars()
                    .all(|ch| ch.is_ascii_digit() || ch == '=' || ch == '+')
        }) && cells.iter().any(|c| c.trim().starts_with('('))
        {
            continue; // "(1) (2) (3) …"
        }
        let seq = col(&at, &cells, PrintedColumn::Seq);
        let name = col(&at, &cells, PrintedColumn::Name);
        let mut amounts = [None; 7];
        for (k, c) in PrintedColumn::AMOUNTS.iter().enumerate() {
            let text = col(&at, &cells, *c);
            match parse_printed_amount(&text) {
                Ok(v) => amounts[k] = v,
                Err(e) => out
                    .warnings
                    .push(format!("dòng {line}, {}: {e}", c.title(year))),
            }
        }
        let kind = classify(&seq, &name);
        match kind {
            Kind::Skip => {}
            Kind::Section(key, title) => {
                while let Some((_, o)) = opens.pop() {
                    o.close(&mut out);
                }
                section_sums = [0; 7];
                section = Some(key.clone());
                out.sections.push((key.clone(), title.clone(), line));
                unit.clear();
                opens.push((
                    0,
                    Open {
                        line,
                        label: format!("mục {key}"),
                        printed: amounts,
                        sums: [0; 7],
                        counted: amounts.iter().any(Option::is_some),
                    },
                ));
            }
            Kind::Group => {
                while opens.last().is_some_and(|(l, _)| *l >= 1) {
                    if let Some((_, o)) = opens.pop() {
                        o.close(&mut out);
                    }
                }
                opens.push((
                    1,
                    Open {
                        line,
                        label: format!("nhóm {seq} ({name})"),
                        printed: amounts,
                        sums: [0; 7],
                        counted: amounts.iter().any(Option::is_some),
                    },
                ));
            }
            Kind::Unit(n) => {
                while opens.last().is_some_and(|(l, _)| *l >= 2) {
                    if let Some((_, o)) = opens.pop() {
                        o.close(&mut out);
                    }
                }
                unit = n.clone();
                let label = if seq.is_empty() {
                    format!("đơn vị {n}")
                } else {
                    format!("đơn vị {seq} ({n})")
                };
                opens.push((
                    2,
                    Open {
                        line,
                        label,
                        printed: amounts,
                        sums: [0; 7],
                        counted: amounts.iter().any(Option::is_some),
                    },
                ));
            }
            Kind::Total { whole_sheet } => {
                while let Some((l, o)) = opens.pop() {
                    if l == 0 && !whole_sheet {
                        // "Cộng" closes the section's units, and is the section's total.
                        opens.push((l, o));
                        break;
                    }
                    o.close(&mut out);
                }
                let sums = if whole_sheet || section.is_none() {
                    sheet_sums
                } else {
                    section_sums
                };
                Open {
                    line,
                    label: name.trim().to_string(),
                    printed: amounts,
                    sums,
                    counted: true,
                }
                .close(&mut out);
            }
            Kind::Task => {
                let unit_cell = col(&at, &cells, PrintedColumn::Unit);
                let row_unit = if unit_cell.is_empty() {
                    unit.clone()
                } else {
                    unit_cell
                };
                if row_unit.is_empty() {
                    out.warnings.push(format!(
                        "dòng {line}: nhiệm vụ «{name}» không có đơn vị (không có dòng đơn vị phía trên, cũng không có cột Đơn vị)"
                    ));
                }
                for (k, v) in amounts.iter().enumerate() {
                    let v = v.unwrap_or(0);
                    sheet_sums[k] += v;
                    section_sums[k] += v;
                    for (_, o) in opens.iter_mut() {
                        o.sums[k] += v;
                    }
                }
                let text = |c: PrintedColumn| {
                    let t = col(&at, &cells, c);
                    (!t.is_empty()).then_some(t)
                };
                out.rows.push(PrintedRow {
                    line,
                    section: section.clone(),
                    unit: row_unit,
                    seq: seq.trim_end_matches('.').to_string(),
                    name: name.clone(),
                    period: text(PrintedColumn::Period),
                    amounts,
                    progress: text(PrintedColumn::Progress),
                    expected_completion: text(PrintedColumn::ExpectedCompletion),
                    notes: text(PrintedColumn::Notes),
                });
            }
        }
    }
    while let Some((_, o)) = opens.pop() {
        o.close(&mut out);
    }
    Ok(out)
}

/// The columns a header row names, in print order; what it does not name is a warning.
fn columns_of(
    header: &[String],
    line: usize,
    year: i32,
    warnings: &mut Vec<String>,
) -> Vec<(usize, PrintedColumn)> {
    let mut at: Vec<(usize, PrintedColumn)> = Vec::new();
    for (i, h) in header.iter().enumerate() {
        if h.trim().is_empty() {
            continue;
        }
        match recognise(h, year) {
            Some(c) if at.iter().any(|(_, x)| *x == c) => warnings.push(format!(
                "dòng tiêu đề {line}: cột «{}» lặp lại, chỉ đọc cột đầu",
                h.trim()
            )),
            Some(c) => at.push((i, c)),
            None => warnings.push(format!(
                "dòng tiêu đề {line}: không nhận ra cột «{}» (năm kế hoạch {year}); cột này không được đọc",
                h.trim()
            )),
        }
    }
    at
}

/// What a row below the header is (see the module documentation).
fn classify(seq: &str, name: &str) -> Kind {
    let seq = seq.trim().trim_end_matches('.');
    let folded = folded_name(name);
    if seq.is_empty() && name.trim().is_empty() {
        return Kind::Skip;
    }
    // "A. Nhiệm vụ thường xuyên" in the name column, TT blank.
    if seq.is_empty()
        && let Some((letter, rest)) = name.trim().split_once(". ")
        && letter.len() == 1
        && letter.chars().all(|c| c.is_ascii_uppercase())
    {
        return Kind::Section(letter.to_string(), rest.trim().to_string());
    }
    if seq.len() == 1 && seq.chars().all(|c| c.is_ascii_uppercase()) && !"IVX".contains(seq) {
        return Kind::Section(seq.to_string(), name.trim().to_string());
    }
    if seq.is_empty() {
        if folded == "tong"
            || folded == "tong-cong"
            || folded == "cong"
            || folded.starts_with("tong-cong-")
            || folded.starts_with("tong-so")
        {
            return Kind::Total {
                whole_sheet: folded != "cong",
            };
        }
        return Kind::Unit(name.trim().to_string());
    }
    if super::layout::parse_roman(seq).is_some() {
        if folded.starts_with("nhiem-vu") || folded.starts_with("du-an") {
            return Kind::Group;
        }
        return Kind::Unit(name.trim().to_string());
    }
    if seq
        .split('.')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        return Kind::Task;
    }
    // Anything else in TT ("a", "*"): a task, so that nothing printed is dropped.
    Kind::Task
}

/// The plan's year as its title prints it ("… NĂM 2026"), if it does.
pub fn year_in_titles(titles: &[String]) -> Option<i32> {
    for t in titles {
        let f = folded_name(t);
        let words: Vec<&str> = f.split('-').collect();
        for w in words.windows(2) {
            if w[0] == "nam"
                && w[1].len() == 4
                && let Ok(y) = w[1].parse::<i32>()
                && (2000..=2100).contains(&y)
            {
                return Some(y);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&[&str]]) -> Grid {
        Grid {
            source: "t.xlsx".into(),
            sheet: Some("Phụ lục".into()),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| RawRecord {
                    line: i + 1,
                    cells: Ok(r.iter().map(|c| c.to_string()).collect()),
                })
                .collect(),
        }
    }

    #[test]
    fn printed_numbers_are_read_the_vietnamese_way() {
        let m = 1_000_000;
        assert_eq!(parse_printed_amount("28.080"), Ok(Some(28_080 * m)));
        assert_eq!(parse_printed_amount("329,7"), Ok(Some(329_700_000)));
        assert_eq!(parse_printed_amount("1.234,5"), Ok(Some(1_234_500_000)));
        assert_eq!(parse_printed_amount("61000"), Ok(Some(61_000 * m)));
        assert_eq!(parse_printed_amount("9784.5"), Ok(Some(9_784_500_000)));
        assert_eq!(parse_printed_amount("-"), Ok(None));
        assert_eq!(parse_printed_amount(" "), Ok(None));
        assert!(parse_printed_amount("1,0%").is_err());
        assert!(parse_printed_amount("abc").is_err());
    }

    #[test]
    fn columns_are_recognised_by_their_printed_titles_and_synonyms() {
        use PrintedColumn::*;
        for (title, year, col) in [
            ("Dự toán được duyệt", 2026, ApprovedEstimate),
            ("Dự toán", 2026, ApprovedEstimate),
            ("Dự toán kinh phí", 2026, ApprovedEstimate),
            ("Nhu cầu kinh phí năm 2026", 2026, NeedYear),
            ("Đơn vị đề xuất bố trí năm 2026", 2026, NeedYear),
            (
                "Dự kiến phân bổ kinh phí năm 2024 (đợt 1)",
                2024,
                PlannedAllocation,
            ),
            ("Dự kiến phân bổ năm 2026", 2026, PlannedAllocation),
            ("Kinh phí năm 2025 đã phân bổ", 2025, AllocatedYear),
            ("Kinh phí bố trí năm 2025", 2025, AllocatedYear),
            ("Kinh phí đã sử dụng năm 2023", 2024, SpentPrevious),
            ("Chuyển nguồn từ 2023 sang 2024", 2024, CarriedOver),
            ("Tiến độ tính đến 05/11/2025", 2025, Progress),
            ("  TT ", 2026, Seq),
            ("GHI CHÚ", 2026, Notes),
        ] {
            assert_eq!(recognise(title, year), Some(col), "{title}");
        }
        assert_eq!(recognise("Nhu cầu kinh phí năm 2025", 2026), None);
    }

    #[test]
    fn units_tasks_groups_and_totals_are_told_apart_and_reconciled() {
        let g = grid(&[
            &["DANH MỤC NHIỆM VỤ CHUYỂN TIẾP NĂM 2026"],
            &["Đơn vị tính: Triệu đồng"],
            &[
                "TT",
                "Tên nhiệm vụ",
                "Thời gian thực hiện",
                "Dự toán",
                "Nhu cầu kinh phí năm 2026",
            ],
            &["(1)", "(2)", "(3)", "(4)", "(5)"],
            &["I", "Sở Y tế", "", "1.500", "300"],
            &["1", "Thuê phần mềm A", "2025-2027", "1000", "200"],
            &["2", "Thuê phần mềm B", "2025-2027", "500", "100"],
            &[
                "TT",
                "Tên nhiệm vụ",
                "Thời gian thực hiện",
                "Dự toán",
                "Nhu cầu kinh phí năm 2026",
            ],
            &["II", "Nhiệm vụ mới", "", "", ""],
            &["", "Sở Tư pháp", "", "20", "10,5"],
            &["1", "Mua máy chủ", "2026", "20", "9,5"],
            &["", "TỔNG", "", "1.520", "309,5"],
        ]);
        let s = parse_printed(&g, 2026).unwrap();
        assert_eq!(year_in_titles(&s.titles), Some(2026));
        assert_eq!(s.rows.len(), 3);
        assert_eq!(s.rows[0].unit, "Sở Y tế");
        assert_eq!(s.rows[2].unit, "Sở Tư pháp");
        assert_eq!(s.rows[2].seq, "1");
        assert_eq!(s.rows[1].amounts[1], Some(500_000_000));
        // Sở Y tế, Sở Tư pháp (10,5 printed vs 9,5: within ±1), TỔNG; the group has no figures.
        assert_eq!(s.checked, 3);
        assert!(s.mismatches.is_empty(), "{:?}", s.mismatches);
        let mut bad = g.clone();
        bad.rows[11].cells = Ok(vec!["".into(), "TỔNG".into(), "".into(), "1.600".into()]);
        let s = parse_printed(&bad, 2026).unwrap();
        assert_eq!(s.mismatches.len(), 1);
        assert_eq!(
            s.mismatches[0].describe(2026),
            "dòng 12, TỔNG — Dự toán được duyệt: in 1.600, tính từ các dòng 1.520 (chênh 80)"
        );
    }

    #[test]
    fn the_planned_allocation_is_read_and_reconciled_as_its_own_column() {
        let g = grid(&[
            &["KẾ HOẠCH NĂM 2024"],
            &[
                "TT",
                "Tên nhiệm vụ",
                "Dự kiến phân bổ kinh phí năm 2024 (đợt 1)",
                "Kinh phí năm 2024 đã phân bổ",
            ],
            &["I", "Sở Y tế", "1.500", "200"],
            &["1", "Mua máy in", "1.000", "200"],
            &["2", "Mua máy quét", "500", "-"],
            &["", "TỔNG", "1.600", "200"],
        ]);
        let s = parse_printed(&g, 2024).unwrap();
        assert_eq!(
            s.columns,
            vec![
                PrintedColumn::Seq,
                PrintedColumn::Name,
                PrintedColumn::PlannedAllocation,
                PrintedColumn::AllocatedYear
            ]
        );
        assert_eq!(s.rows[0].amounts[6], Some(1_000_000_000));
        assert_eq!(s.rows[0].amounts[3], Some(200_000_000));
        assert_eq!(
            (s.rows[1].amounts[6], s.rows[1].amounts[3]),
            (Some(500_000_000), None)
        );
        assert_eq!(s.mismatches.len(), 1, "{:?}", s.mismatches);
        assert_eq!(
            s.mismatches[0].describe(2024),
            "dòng 6, TỔNG — Dự kiến phân bổ kinh phí năm 2024: in 1.600, tính từ các dòng 1.500 (chênh 100)"
        );
    }

    #[test]
    fn sections_on_one_sheet_have_their_own_totals() {
        let g = grid(&[
            &["KẾ HOẠCH NĂM 2024"],
            &["TT", "Tên nhiệm vụ", "Dự toán"],
            &["A", "Nhiệm vụ thường xuyên", "30"],
            &["I", "Sở Y tế", "30"],
            &["1", "Mua máy in", "30"],
            &["", "Cộng", "30"],
            &["", "B. Nhiệm vụ chuyển tiếp", ""],
            &["I", "Sở Y tế", "7"],
            &["1", "Thuê phần mềm", "7"],
            &["", "Cộng", "7"],
            &["", "TỔNG CỘNG", "37"],
        ]);
        let s = parse_printed(&g, 2024).unwrap();
        assert_eq!(
            s.sections
                .iter()
                .map(|(k, t, _)| (k.as_str(), t.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("A", "Nhiệm vụ thường xuyên"),
                ("B", "Nhiệm vụ chuyển tiếp")
            ]
        );
        assert_eq!(s.rows[1].section.as_deref(), Some("B"));
        assert!(s.mismatches.is_empty(), "{:?}", s.mismatches);
        // A, unit, Cộng (A); unit, Cộng (B); TỔNG CỘNG.
        assert_eq!(s.checked, 6);
    }

    #[test]
    fn hidden_characters_refuse_the_file() {
        let g = grid(&[
            &["TT", "Tên nhiệm vụ", "Tổng nhu cầu kinh phí"],
            &["1", "Sở Y tế", ""],
            &["", "Mua máy\u{202E}chủ", "100"],
        ]);
        let e = parse_printed(&g, 2025).unwrap_err().0;
        assert!(e.contains("U+202E") && e.contains("dòng 3"), "{e}");
    }

    #[test]
    fn a_sheet_without_a_header_is_refused_with_what_is_needed() {
        let e = parse_printed(&grid(&[&["Tiêu đề"], &["a", "b"]]), 2026).unwrap_err();
        assert!(e.0.contains("«TT» và «Tên nhiệm vụ»"), "{e}");
    }
}
