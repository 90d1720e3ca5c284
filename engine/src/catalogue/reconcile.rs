//! The totals as printed (`totals.csv`) and their reconciliation against the rows. Pure.
//!
//! A printed total is compared with the sum of the rows it covers: the whole plan, an appendix,
//! a funding group of an appendix (A/B in appendix 2) or a unit's subtotal (a Roman-numbered row).
//! A difference within the printed precision is not a mismatch: a total printed as an integer
//! matches computed values within ±0.5 million VND (207.311,6 printed as 207.312), one printed
//! with one decimal within ±0.05, and so on. A blank printed cell is a figure the report did not
//! print (the plan row of Plan 215 prints only its task count and 2025 need) and is not compared.
//! The Roman numeral of a unit row is checked against the unit's place in its appendix. Every
//! mismatch is a finding for a person, not an error: the import goes on.

use std::collections::HashMap;

use super::cell::parse_amount;
use super::layout::{appendix_groups, parse_roman, roman};
use super::row::CatalogueRow;
use super::table::{FileError, RawTable};
use crate::domain::{FundingSource, UnitId};
use crate::money::format_million_vnd;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalsLevel {
    Plan,
    Appendix,
    Group,
    Unit,
}

/// One printed total row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedTotal {
    pub line: usize,
    /// `None` for the whole plan (`all`).
    pub appendix: Option<u8>,
    pub level: TotalsLevel,
    /// TỔNG, A/B, or the unit's Roman numeral.
    pub label: String,
    pub unit: Option<String>,
    pub declared_task_count: Option<i64>,
    /// need total, approved estimate, need of the year, allocated in the year: đồng and the
    /// number of decimals printed.
    pub amounts: [Option<(i64, u32)>; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MismatchColumn {
    TaskCount,
    NeedTotal,
    ApprovedEstimate,
    NeedYear,
    AllocatedYear,
    /// The Roman numeral of a unit row against the unit's place in the appendix.
    Numbering,
}

impl MismatchColumn {
    pub const AMOUNTS: [MismatchColumn; 4] = [
        MismatchColumn::NeedTotal,
        MismatchColumn::ApprovedEstimate,
        MismatchColumn::NeedYear,
        MismatchColumn::AllocatedYear,
    ];

    /// The column's printed name.
    pub fn title(self, year: i32) -> String {
        match self {
            MismatchColumn::TaskCount => "Số nhiệm vụ".into(),
            MismatchColumn::NeedTotal => "Nhu cầu kinh phí".into(),
            MismatchColumn::ApprovedEstimate => "Dự toán được duyệt".into(),
            MismatchColumn::NeedYear => format!("Nhu cầu kinh phí năm {year}"),
            MismatchColumn::AllocatedYear => format!("Kinh phí năm {year} đã phân bổ"),
            MismatchColumn::Numbering => "Số thứ tự đơn vị (TT)".into(),
        }
    }
}

/// A printed figure that the rows do not support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The line of the totals file.
    pub line: usize,
    pub appendix: Option<u8>,
    /// The group's letter (A/B) for a group row.
    pub group: Option<String>,
    /// The unit as printed, for a unit row.
    pub unit: Option<String>,
    pub column: MismatchColumn,
    /// As printed, Vietnamese format ("82.927"; a Roman numeral for [`MismatchColumn::Numbering`]).
    pub printed: String,
    /// From the rows, Vietnamese format ("88.687").
    pub computed: String,
    /// Amounts in đồng and counts as numbers, for programs; `None` where not a number.
    pub printed_value: Option<i64>,
    pub computed_value: Option<i64>,
}

impl Mismatch {
    /// One line of Vietnamese for the report.
    pub fn describe(&self, year: i32) -> String {
        let place = match (self.appendix, &self.group, &self.unit) {
            (None, _, _) => "Toàn kế hoạch".to_string(),
            (Some(a), Some(g), _) => format!("Phụ lục {a}, nhóm {g}"),
            (Some(a), None, Some(u)) => format!("Phụ lục {a}, đơn vị {u}"),
            (Some(a), None, None) => format!("Phụ lục {a}, dòng TỔNG"),
        };
        let diff = match (self.printed_value, self.computed_value) {
            (Some(p), Some(c)) if self.column == MismatchColumn::TaskCount => {
                format!(" (chênh {})", c - p)
            }
            (Some(p), Some(c)) if self.column != MismatchColumn::Numbering => {
                format!(" (chênh {})", format_million_vnd(c - p, 1))
            }
            _ => String::new(),
        };
        format!(
            "{place} — {}: in {}, tính từ các dòng {}{diff}",
            self.column.title(year),
            self.printed,
            self.computed
        )
    }
}

/// Parses the printed totals (columns: appendix, level, label, unit, declared_task_count and the
/// four amounts). A malformed line makes the whole file an error, naming every bad line.
pub fn parse_totals(table: &RawTable, year: i32) -> Result<Vec<PrintedTotal>, FileError> {
    let find = |names: &[&str]| {
        table.header.iter().position(|h| {
            names
                .iter()
                .any(|n| h.trim().trim_start_matches('\u{feff}') == *n)
        })
    };
    let need_year = format!("need_{year}_mvnd");
    let allocated_year = format!("allocated_{year}_mvnd");
    let cols = [
        ("appendix", find(&["appendix"])),
        ("level", find(&["level"])),
        ("label", find(&["label"])),
        ("unit", find(&["unit"])),
        ("declared_task_count", find(&["declared_task_count"])),
        ("need_total_mvnd", find(&["need_total_mvnd"])),
        ("approved_estimate_mvnd", find(&["approved_estimate_mvnd"])),
        ("need_year_mvnd", find(&[&need_year, "need_year_mvnd"])),
        (
            "allocated_year_mvnd",
            find(&[&allocated_year, "allocated_year_mvnd"]),
        ),
    ];
    let missing: Vec<&str> = cols
        .iter()
        .filter(|(_, i)| i.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(FileError(format!(
            "{}: thiếu cột {} (năm {year}: need_{year}_mvnd, allocated_{year}_mvnd).",
            table.source,
            missing.join(", ")
        )));
    }
    let idx: Vec<usize> = cols.iter().map(|(_, i)| i.unwrap_or(0)).collect();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for rec in &table.records {
        let cells = match &rec.cells {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("dòng {}: {e}", rec.line));
                continue;
            }
        };
        let get = |i: usize| cells.get(idx[i]).map(|s| s.trim()).unwrap_or("");
        let mut reasons = Vec::new();
        let appendix = match get(0) {
            "all" | "" => None,
            a => match a.parse::<u8>() {
                Ok(n @ 1..=4) => Some(n),
                _ => {
                    reasons.push(format!("appendix `{a}` không hợp lệ (1–4 hoặc all)"));
                    None
                }
            },
        };
        let level = match get(1) {
            "plan" => Some(TotalsLevel::Plan),
            "appendix" => Some(TotalsLevel::Appendix),
            "group" => Some(TotalsLevel::Group),
            "unit" => Some(TotalsLevel::Unit),
            l => {
                reasons.push(format!(
                    "level `{l}` không hợp lệ (plan, appendix, group, unit)"
                ));
                None
            }
        };
        let label = get(2).to_string();
        let unit = (!get(3).is_empty()).then(|| get(3).to_string());
        match (level, appendix) {
            (Some(TotalsLevel::Plan), Some(_)) => {
                reasons.push("dòng cấp plan phải có appendix = all".into())
            }
            (Some(l), None) if l != TotalsLevel::Plan => {
                reasons.push("dòng cấp appendix/group/unit cần số phụ lục".into())
            }
            (Some(TotalsLevel::Unit), Some(_)) => {
                if unit.is_none() {
                    reasons.push("dòng đơn vị thiếu tên đơn vị".into());
                }
                if parse_roman(&label).is_none() {
                    reasons.push(format!("số thứ tự đơn vị `{label}` không phải số La Mã"));
                }
            }
            (Some(TotalsLevel::Group), Some(a)) => {
                let ok = appendix_groups(a)
                    .iter()
                    .any(|(g, _)| label == g.to_string());
                if !ok {
                    reasons.push(format!(
                        "phụ lục {a} không có nhóm nguồn kinh phí `{label}`"
                    ));
                }
            }
            _ => {}
        }
        let declared_task_count = match get(4) {
            "" => None,
            n => match n.parse::<i64>() {
                Ok(v) if v >= 0 => Some(v),
                _ => {
                    reasons.push(format!("declared_task_count `{n}` không phải số nguyên"));
                    None
                }
            },
        };
        let mut amounts = [None; 4];
        for (k, slot) in amounts.iter_mut().enumerate() {
            match parse_amount(get(5 + k)) {
                Ok(v) => *slot = v,
                Err(e) => reasons.push(format!("{}: {e}", cols[5 + k].0)),
            }
        }
        match (reasons.is_empty(), level) {
            (true, Some(level)) => out.push(PrintedTotal {
                line: rec.line,
                appendix,
                level,
                label,
                unit,
                declared_task_count,
                amounts,
            }),
            _ => errors.push(format!("dòng {}: {}", rec.line, reasons.join("; "))),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(FileError(format!(
            "{}: {} dòng không hợp lệ:\n  {}",
            table.source,
            errors.len(),
            errors.join("\n  ")
        )))
    }
}

fn amount_of(r: &CatalogueRow, column: MismatchColumn) -> Option<i64> {
    match column {
        MismatchColumn::NeedTotal => r.need_total,
        MismatchColumn::ApprovedEstimate => r.approved_estimate,
        MismatchColumn::NeedYear => r.need_year,
        MismatchColumn::AllocatedYear => r.allocated_year,
        _ => None,
    }
}

/// Every printed figure the rows do not support, in the order of the totals file.
pub fn reconcile(rows: &[CatalogueRow], totals: &[PrintedTotal]) -> Vec<Mismatch> {
    // Each appendix's units in order of first appearance: their Roman numerals.
    let mut unit_order: HashMap<(u8, UnitId), usize> = HashMap::new();
    let mut counts: HashMap<u8, usize> = HashMap::new();
    for r in rows {
        let n = counts.entry(r.appendix).or_default();
        unit_order
            .entry((r.appendix, r.unit_id.clone()))
            .or_insert_with(|| {
                *n += 1;
                *n
            });
    }
    let mut out = Vec::new();
    for t in totals {
        let group: Option<FundingSource> = match (t.level, t.appendix) {
            (TotalsLevel::Group, Some(a)) => appendix_groups(a)
                .into_iter()
                .find(|(g, _)| t.label == g.to_string())
                .map(|(_, s)| s),
            _ => None,
        };
        let unit_id = match t.level {
            TotalsLevel::Unit => t.unit.as_deref().map(UnitId::from_name),
            _ => None,
        };
        let selected: Vec<&CatalogueRow> = rows
            .iter()
            .filter(|r| t.appendix.is_none_or(|a| r.appendix == a))
            .filter(|r| group.is_none_or(|g| r.funding_source == g))
            .filter(|r| unit_id.as_ref().is_none_or(|u| &r.unit_id == u))
            .collect();
        let mismatch = |column: MismatchColumn,
                        printed: String,
                        computed: String,
                        printed_value: Option<i64>,
                        computed_value: Option<i64>| Mismatch {
            line: t.line,
            appendix: t.appendix,
            group: (t.level == TotalsLevel::Group).then(|| t.label.clone()),
            unit: if t.level == TotalsLevel::Unit {
                t.unit.clone()
            } else {
                None
            },
            column,
            printed,
            computed,
            printed_value,
            computed_value,
        };
        if let (Some(a), Some(u)) = (t.appendix, &unit_id) {
            let place = unit_order.get(&(a, u.clone())).copied();
            let printed = parse_roman(&t.label);
            if place != printed {
                out.push(mismatch(
                    MismatchColumn::Numbering,
                    t.label.clone(),
                    match place {
                        Some(p) => roman(p),
                        None => "(đơn vị không có nhiệm vụ nào trong phụ lục)".into(),
                    },
                    None,
                    None,
                ));
            }
        }
        if let Some(declared) = t.declared_task_count {
            let n = i64::try_from(selected.len()).unwrap_or(i64::MAX);
            if n != declared {
                out.push(mismatch(
                    MismatchColumn::TaskCount,
                    declared.to_string(),
                    n.to_string(),
                    Some(declared),
                    Some(n),
                ));
            }
        }
        for (k, column) in MismatchColumn::AMOUNTS.into_iter().enumerate() {
            let computed: i64 = selected.iter().filter_map(|r| amount_of(r, column)).sum();
            // A blank cell is a figure the report did not print, not a zero: not compared.
            if let Some((printed, decimals)) = t.amounts[k] {
                let tolerance = 500_000 / 10i64.pow(decimals.min(6));
                if (computed - printed).abs() > tolerance {
                    out.push(mismatch(
                        column,
                        format_million_vnd(printed, decimals as usize),
                        format_million_vnd(computed, 6),
                        Some(printed),
                        Some(computed),
                    ));
                }
            }
        }
    }
    out
}
