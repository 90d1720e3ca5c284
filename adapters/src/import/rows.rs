//! Parsing and normalising catalogue rows. Pure: the raw records come from [`super::read`], the
//! workflows from the catalog; nothing here touches a file or the database.
//!
//! The columns are those of `data/plan-215-2025/tasks.csv` (see its README). Amounts are million
//! VND: a plain number uses '.' as the decimal point, as that file does (`526.2`); a number with a
//! comma is read the Vietnamese way (`1.234,5`, `526,2`). Every problem of a row is reported with
//! the row's line number, all of them at once, so a person fixes a file in one pass.

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use engine::Phase;
use engine::domain::{FundingSource, UnitId};
use engine::money::parse_million_vnd;
use engine::workflow::{Catalog, State, Workflow};

use super::FileError;
use super::kind::choose_kind_folded;
use super::read::RawTable;

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
    /// Which line of [`super::KIND_RULES`] chose the workflow; `None` for an explicit `kind` cell.
    pub kind_rule: Option<usize>,
    pub workflow_version: u32,
    /// The state the task is placed in.
    pub state: String,
    /// See [`task_key`].
    pub key: String,
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
        n if n == format!("need_{year}_mvnd") => Col::NeedYear,
        n if n == format!("allocated_{year}_mvnd") => Col::AllocatedYear,
        _ => return None,
    })
}

fn allowed_columns(year: i32) -> String {
    format!(
        "appendix, seq, unit, name, funding_source, period, is_rental, need_total_mvnd, approved_estimate_mvnd, need_{year}_mvnd (hoặc need_year_mvnd), allocated_{year}_mvnd (hoặc allocated_year_mvnd), progress_text, expected_completion, lifecycle_stage, notes, kind"
    )
}

/// A task name folded for matching: case, diacritics, punctuation and spacing removed
/// ("Kỳ họp số HĐND" and "kỳ họp  số HDND" agree). The same fold as [`UnitId::from_name`] (so
/// task and unit names fold alike) without the unit id's 100-character limit: ASCII is folded
/// here directly, and each other character as `from_name` folds it (looked up once per run).
pub fn folded_name(name: &str) -> String {
    use std::collections::HashMap as Map;
    use std::sync::{Mutex, OnceLock};
    /// How `from_name` treats a non-ASCII character: letters it becomes, a separator, or nothing
    /// (a combining accent).
    #[derive(Clone)]
    enum Fold {
        Letters(String),
        Separator,
        Skip,
    }
    static FOLDS: OnceLock<Mutex<Map<char, Fold>>> = OnceLock::new();
    let fold_of = |c: char| -> Fold {
        let folds = FOLDS.get_or_init(|| Mutex::new(Map::new()));
        let mut folds = folds.lock().unwrap_or_else(|e| e.into_inner());
        folds
            .entry(c)
            .or_insert_with(|| {
                // Between two letters, from_name shows what it does with `c`.
                let probe = UnitId::from_name(&format!("a{c}a"));
                let middle = &probe.as_str()[1..probe.as_str().len() - 1];
                match middle {
                    "" => Fold::Skip,
                    "-" => Fold::Separator,
                    m => Fold::Letters(m.to_string()),
                }
            })
            .clone()
    };
    let mut out = String::with_capacity(name.len());
    let separator = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    };
    for c in name.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else {
                separator(&mut out);
            }
        } else {
            match fold_of(c) {
                Fold::Letters(l) => out.push_str(&l),
                Fold::Separator => separator(&mut out),
                Fold::Skip => {}
            }
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The key that finds a row's task again on a later import: sha256 of the appendix, the unit's
/// canonical id and the folded task name. The plan is the other half of the stored unique key.
pub fn task_key(appendix: u8, unit_id: &UnitId, name: &str) -> String {
    key_of_folded(appendix, unit_id, &folded_name(name))
}

fn key_of_folded(appendix: u8, unit_id: &UnitId, folded: &str) -> String {
    crate::store::sha256_hex(format!("{appendix}\n{unit_id}\n{folded}").as_bytes())
}

/// Where a task in `phase` is placed: the first state of that phase in the workflow's
/// declaration order (for completed, postponed and withdrawn, that is the workflow's terminal or
/// exit state of the phase).
pub fn placement(wf: &Workflow, phase: Phase) -> Option<&State> {
    wf.states.iter().find(|s| s.phase == phase)
}

/// An amount cell in million VND → đồng and the number of decimals written; `None` when blank.
pub fn parse_amount(text: &str) -> Result<Option<(i64, u32)>, String> {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}'))
        .collect();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || {
        format!(
            "số tiền `{}` không hợp lệ: ghi triệu đồng, ví dụ 6500, 526.2 (dấu chấm thập phân) hoặc 1.234,5",
            text.trim()
        )
    };
    if t.starts_with('-') {
        return Err(format!("số tiền `{}` âm", text.trim()));
    }
    let (dong, decimals) = if t.contains(',') {
        // Vietnamese: dots group thousands, the comma is the decimal mark. "1,234.5" (English
        // grouping) would be misread, so a dot after the comma is refused.
        if t.rfind('.') > t.rfind(',') {
            return Err(bad());
        }
        let decimals = t.rsplit_once(',').map(|(_, f)| f.len()).unwrap_or(0);
        (parse_million_vnd(&t).map_err(|_| bad())?, decimals)
    } else {
        let (int, frac) = t.split_once('.').unwrap_or((&t, ""));
        if int.is_empty()
            || !int.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
            || frac.len() > 6
            || int.len() > 12
        {
            return Err(bad());
        }
        let whole: i64 = int.parse().map_err(|_| bad())?;
        let frac_dong: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<6}").parse().map_err(|_| bad())?
        };
        (whole * 1_000_000 + frac_dong, frac.len())
    };
    Ok(Some((dong, u32::try_from(decimals).unwrap_or(6))))
}

fn parse_bool(text: &str) -> Result<bool, String> {
    let t = text.trim();
    let lower = if t.is_ascii() {
        t.to_ascii_lowercase()
    } else {
        folded_name(t)
    };
    match lower.as_str() {
        "" | "false" | "0" | "no" | "khong" | "n" => Ok(false),
        "true" | "1" | "yes" | "co" | "x" | "y" => Ok(true),
        _ => Err(format!(
            "is_rental `{}` không hợp lệ: ghi true hoặc false (hoặc có/không)",
            text.trim()
        )),
    }
}

fn parse_stage(text: &str) -> Result<Phase, String> {
    let t = text.trim();
    if let Ok(p) = t.parse::<Phase>() {
        return Ok(p);
    }
    let folded = folded_name(t);
    Phase::ALL
        .into_iter()
        .find(|p| !folded.is_empty() && folded_name(p.title()) == folded)
        .ok_or_else(|| {
            format!(
                "lifecycle_stage `{t}` không hợp lệ; các giá trị cho phép: {}",
                Phase::ALL.map(|p| p.as_str()).join(", ")
            )
        })
}

/// A printed date (`31/12/2025`, `1/11/2025`, `2025-12-31`).
pub fn parse_printed_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y-%m-%d"))
        .ok()
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
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
    let width = table.header.len();
    let mut out = Catalogue {
        source: table.source.clone(),
        ..Catalogue::default()
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Units repeat on many rows: fold each spelling once.
    let mut unit_ids: HashMap<String, UnitId> = HashMap::new();
    for rec in table.records {
        let cells = match rec.cells {
            Ok(c) => c,
            Err(e) => {
                out.invalid.push(InvalidRow {
                    line: rec.line,
                    summary: String::new(),
                    reasons: vec![e],
                });
                continue;
            }
        };
        let get = |c: Col| -> &str {
            cols.get(&c)
                .and_then(|i| cells.get(*i))
                .map(String::as_str)
                .unwrap_or("")
        };
        let summary = {
            let unit = get(Col::Unit).trim();
            let name: String = get(Col::Name).trim().chars().take(60).collect();
            match (unit.is_empty(), name.is_empty()) {
                (true, true) => String::new(),
                (false, true) => unit.to_string(),
                (true, false) => format!("«{name}»"),
                (false, false) => format!("{unit} — «{name}»"),
            }
        };
        let mut reasons: Vec<String> = Vec::new();
        // CSV rows must have the header's width; spreadsheets drop empty trailing cells.
        let extra_filled = cells.iter().skip(width).any(|c| !c.trim().is_empty());
        if extra_filled || (cells.len() < width && !table.short_rows_ok) {
            reasons.push(format!(
                "dòng có {} ô nhưng dòng tiêu đề có {width} cột (thiếu hoặc thừa dấu phẩy, hay dấu ngoặc kép chưa đóng?)",
                cells.len()
            ));
            out.invalid.push(InvalidRow {
                line: rec.line,
                summary,
                reasons,
            });
            continue;
        }
        if let Some(long) = cells.iter().find(|c| c.chars().count() > MAX_CELL_CHARS) {
            reasons.push(format!(
                "một ô dài {} ký tự (tối đa {MAX_CELL_CHARS})",
                long.chars().count()
            ));
        }
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
        let mut amount = |c: Col, label: &str| -> Option<i64> {
            match parse_amount(get(c)) {
                Ok(v) => v.map(|(d, _)| d),
                Err(e) => {
                    reasons.push(format!("{label}: {e}"));
                    None
                }
            }
        };
        let need_total = amount(Col::NeedTotal, "nhu cầu kinh phí");
        let approved_estimate = amount(Col::ApprovedEstimate, "dự toán được duyệt");
        let need_year = amount(Col::NeedYear, &format!("nhu cầu kinh phí năm {plan_year}"));
        let allocated_year = amount(
            Col::AllocatedYear,
            &format!("kinh phí năm {plan_year} đã phân bổ"),
        );
        let stage = parse_stage(get(Col::LifecycleStage)).map_err(|e| reasons.push(e));
        let expected_completion = non_empty(get(Col::ExpectedCompletion));
        let mut expected_completion_on = None;
        if let Some(text) = &expected_completion
            && let Some(d) = parse_printed_date(text)
        {
            if (plan_year - 5..=plan_year + 10).contains(&d.year()) {
                expected_completion_on = Some(d);
            } else {
                out.warnings.push(RowWarning {
                    line: rec.line,
                    message: format!(
                        "thời gian dự kiến hoàn thành «{text}» không hợp lý với kế hoạch năm {plan_year}: giữ nguyên văn bản như in, không dùng làm hạn"
                    ),
                });
            }
        }
        // The workflow: an explicit `kind` cell, else the rule.
        let explicit_kind = non_empty(get(Col::Kind));
        let mut chosen: Option<(String, Option<usize>, &Workflow)> = None;
        if let Some(f) = funding {
            let (kind, rule) = match &explicit_kind {
                Some(k) => (k.clone(), None),
                None => {
                    let (k, i) = choose_kind_folded(f, is_rental, &folded);
                    (k.to_string(), Some(i))
                }
            };
            match catalog.for_date(&kind, today) {
                Some(wf) => chosen = Some((kind, rule, wf.as_ref())),
                None => reasons.push(match catalog.latest(&kind) {
                    Some(_) => format!(
                        "quy trình `{kind}` không có phiên bản áp dụng cho ngày {}",
                        engine::time::format_date(today)
                    ),
                    None => format!(
                        "quy trình `{kind}` không tồn tại; các quy trình hiện có: {}",
                        catalog.names().join(", ")
                    ),
                }),
            }
        }
        let mut state = None;
        if let (Some((kind, _, wf)), Ok(phase)) = (&chosen, &stage) {
            match placement(wf, *phase) {
                Some(s) => state = Some(s.name.clone()),
                None => reasons.push(format!(
                    "quy trình `{kind}` không có bước nào thuộc giai đoạn {} ({})",
                    phase.as_str(),
                    phase.title()
                )),
            }
        }
        let key = appendix.map(|a| key_of_folded(a, &unit_id, &folded));
        if reasons.is_empty()
            && let Some(k) = &key
            && let Some(first) = seen.get(k)
        {
            reasons.push(format!(
                "trùng nhiệm vụ ở dòng {first} (cùng phụ lục, đơn vị và tên nhiệm vụ)"
            ));
        }
        match (
            reasons.is_empty(),
            appendix,
            funding,
            stage,
            chosen,
            state,
            key,
        ) {
            (
                true,
                Some(appendix),
                Some(funding_source),
                Ok(stage),
                Some((kind, kind_rule, wf)),
                Some(state),
                Some(key),
            ) => {
                seen.insert(key.clone(), rec.line);
                out.rows.push(CatalogueRow {
                    line: rec.line,
                    appendix,
                    seq: non_empty(get(Col::Seq)),
                    unit,
                    unit_id,
                    name,
                    funding_source,
                    period: non_empty(get(Col::Period)),
                    is_rental,
                    need_total,
                    approved_estimate,
                    need_year,
                    allocated_year,
                    progress_text: non_empty(get(Col::ProgressText)),
                    expected_completion,
                    expected_completion_on,
                    stage,
                    notes: non_empty(get(Col::Notes)),
                    kind,
                    kind_rule,
                    workflow_version: wf.version,
                    state,
                    key,
                });
            }
            _ => out.invalid.push(InvalidRow {
                line: rec.line,
                summary,
                reasons,
            }),
        }
    }
    Ok(out)
}

/// The spellings of each unit in a catalogue, most used first (ties: first seen): the first is
/// the name a new unit gets.
pub fn unit_spellings(rows: &[CatalogueRow]) -> Vec<(UnitId, Vec<(String, usize)>)> {
    let mut order: Vec<UnitId> = Vec::new();
    let mut spellings: HashMap<UnitId, Vec<(String, usize)>> = HashMap::new();
    for r in rows {
        let list = spellings.entry(r.unit_id.clone()).or_insert_with(|| {
            order.push(r.unit_id.clone());
            Vec::new()
        });
        match list.iter_mut().find(|(s, _)| *s == r.unit) {
            Some((_, n)) => *n += 1,
            None => list.push((r.unit.clone(), 1)),
        }
    }
    order
        .into_iter()
        .map(|id| {
            let mut list = spellings.remove(&id).unwrap_or_default();
            // Stable: equal counts keep first-seen order.
            list.sort_by_key(|s| std::cmp::Reverse(s.1));
            (id, list)
        })
        .collect()
}

/// The appendices present, in order.
pub fn appendices(rows: &[CatalogueRow]) -> BTreeSet<u8> {
    rows.iter().map(|r| r.appendix).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_with_their_printed_precision() {
        assert_eq!(parse_amount("").unwrap(), None);
        assert_eq!(parse_amount("6500").unwrap(), Some((6_500_000_000, 0)));
        assert_eq!(parse_amount("526.2").unwrap(), Some((526_200_000, 1)));
        assert_eq!(parse_amount("526,2").unwrap(), Some((526_200_000, 1)));
        assert_eq!(parse_amount("1.234,5").unwrap(), Some((1_234_500_000, 1)));
        assert_eq!(parse_amount("31 236").unwrap(), Some((31_236_000_000, 0)));
        // In a CSV a lone dot is the decimal point, never a thousands separator.
        assert_eq!(parse_amount("0.125").unwrap(), Some((125_000, 3)));
        for bad in ["-5", "abc", "1,234.5", "1.2.3", "12e3"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_fold_for_matching() {
        assert_eq!(
            folded_name("Kỳ họp số di động HDND  thành phố"),
            folded_name("kỳ họp số di động HĐND thành phố")
        );
        assert_eq!(folded_name("(AI) 2022-2025"), "ai-2022-2025");
        // Long names fold completely, exactly as a whole-string fold would.
        let long = "Quản trị, vận hành các Hệ thống: Hệ thống thông tin giải quyết thủ tục hành chính thành phố; Chuyên trang Chuyển đổi số thành phố Hải Phòng; Cổng Thông tin điện tử";
        let folded = folded_name(long);
        assert!(folded.ends_with("cong-thong-tin-dien-tu"), "{folded}");
        assert!(
            folded.starts_with("quan-tri-van-hanh-cac-he-thong-he-thong"),
            "{folded}"
        );
        assert!(!folded.contains("--"));
        for short in [
            "Sở Văn hoá, Thể thao và Du lịch",
            "Văn phòng Đoàn ĐBQH&HĐND thành phố",
            "Triển khai bản đồ số “Thanh niên Hải Phòng vì một Việt Nam xanh”",
            "Sở Y te\u{301} – Đà Nẵng",
            "  --Ủy ban__nhân dân (AI)--  ",
        ] {
            assert_eq!(
                folded_name(short),
                UnitId::from_name(short).as_str(),
                "{short}"
            );
        }
        assert_eq!(folded_name(&"x".repeat(250)).len(), 250);
        assert_ne!(
            task_key(1, &UnitId::from_name("Sở Y tế"), "A"),
            task_key(2, &UnitId::from_name("Sở Y tế"), "A")
        );
    }

    #[test]
    fn printed_dates_and_stages() {
        assert_eq!(
            parse_printed_date("1/11/2025"),
            NaiveDate::from_ymd_opt(2025, 11, 1)
        );
        assert_eq!(
            parse_printed_date("31/12/2025"),
            NaiveDate::from_ymd_opt(2025, 12, 31)
        );
        assert_eq!(parse_printed_date("Hoàn thành"), None);
        assert_eq!(parse_stage("contract").unwrap(), Phase::Contract);
        assert_eq!(parse_stage("Hoàn thành").unwrap(), Phase::Completed);
        assert!(
            parse_stage("done")
                .unwrap_err()
                .contains("contractor_selection")
        );
        assert!(parse_bool("có").unwrap());
        assert!(!parse_bool("FALSE").unwrap());
        assert!(parse_bool("maybe").is_err());
    }
}
