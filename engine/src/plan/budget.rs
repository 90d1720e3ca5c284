//! A task's budget for one year (issue 14): the estimate, the year's need, the planned
//! allocation, the allocations in tranches (đợt 1, đợt 2 … each with its decision), what was
//! spent/disbursed and the funds carried over from the previous year (chuyển nguồn). Every
//! figure written is kept with the date it is known from, so a report "as of" a date shows what
//! was known then (the store keeps the history). Pure: the rules a budget line must keep.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::parse_million_vnd;
use crate::time::parse_date;

/// One allocation tranche (đợt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tranche {
    /// 1 for đợt 1 …
    pub tranche: u32,
    pub amount_vnd: i64,
    pub decision_number: Option<String>,
    pub decision_on: Option<NaiveDate>,
}

/// The figures of a budget line for a year, in đồng; `None` is "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearBudget {
    pub need_total_vnd: Option<i64>,
    pub approved_estimate_vnd: Option<i64>,
    pub need_year_vnd: Option<i64>,
    /// The planned allocation of the year (dự kiến phân bổ), as the plan prints it before the
    /// allocation is decided; a figure of its own, apart from the allocation in tranches.
    #[serde(default)]
    pub planned_allocation_vnd: Option<i64>,
    pub allocated_year_vnd: Option<i64>,
    pub carried_over_vnd: Option<i64>,
    pub spent_vnd: Option<i64>,
    #[serde(default)]
    pub tranches: Vec<Tranche>,
}

/// The planned allocation as the plan prints its column title ("Dự kiến phân bổ kinh phí năm
/// 2024"): the figure's Vietnamese name in messages, tables and help.
pub fn planned_allocation_title(year: i32) -> String {
    format!("Dự kiến phân bổ kinh phí năm {year}")
}

/// The largest amount accepted: a thousand trillion đồng.
const MAX_VND: i64 = 1_000_000_000_000_000;

/// Checks a budget line for `year` and completes it: every amount is between 0 and
/// 10^15 đồng (the planned allocation too, which is only planned: it may differ from the
/// allocation and from the need); tranches are numbered from 1 without repeats, with decisions dated within
/// `year - 1 ..= year + 1`; the allocation of the year is the sum of the tranches (taken as
/// that sum when not given, refused when it differs); spent cannot exceed the allocation plus
/// the funds carried over. Every problem is listed, in Vietnamese.
pub fn check_year_budget(year: i32, mut b: YearBudget) -> Result<YearBudget, String> {
    let mut problems = Vec::new();
    let amounts = [
        ("nhu cầu kinh phí", b.need_total_vnd),
        ("dự toán được duyệt", b.approved_estimate_vnd),
        ("nhu cầu kinh phí năm", b.need_year_vnd),
        ("dự kiến phân bổ kinh phí năm", b.planned_allocation_vnd),
        ("kinh phí phân bổ năm", b.allocated_year_vnd),
        ("kinh phí chuyển nguồn", b.carried_over_vnd),
        ("kinh phí đã giải ngân", b.spent_vnd),
    ];
    for (what, v) in amounts {
        if let Some(v) = v
            && !(0..=MAX_VND).contains(&v)
        {
            problems.push(format!("{what} phải từ 0 đến 10^15 đồng"));
        }
    }
    b.tranches.sort_by_key(|t| t.tranche);
    for (i, t) in b.tranches.iter().enumerate() {
        if t.tranche == 0 {
            problems.push("số đợt phải từ 1".to_string());
        }
        if i > 0 && b.tranches[i - 1].tranche == t.tranche {
            problems.push(format!("đợt {} khai báo hai lần", t.tranche));
        }
        if !(0..=MAX_VND).contains(&t.amount_vnd) {
            problems.push(format!(
                "số tiền đợt {} phải từ 0 đến 10^15 đồng",
                t.tranche
            ));
        }
        if let Some(d) = t.decision_on {
            use chrono::Datelike;
            if !((year - 1)..=(year + 1)).contains(&d.year()) {
                problems.push(format!(
                    "quyết định đợt {} ngày {} không thuộc năm {year} (hoặc năm liền trước, liền sau)",
                    t.tranche,
                    crate::time::format_date(d)
                ));
            }
        }
    }
    if !b.tranches.is_empty() {
        let sum: i64 = b
            .tranches
            .iter()
            .map(|t| t.amount_vnd.clamp(0, MAX_VND))
            .sum();
        match b.allocated_year_vnd {
            None => b.allocated_year_vnd = Some(sum),
            Some(a) if a != sum => problems.push(format!(
                "kinh phí phân bổ năm {year} ({}) khác tổng các đợt ({})",
                crate::money::format_million_vnd(a, 3),
                crate::money::format_million_vnd(sum, 3)
            )),
            Some(_) => {}
        }
    }
    if let (Some(spent), Some(alloc)) = (b.spent_vnd, b.allocated_year_vnd)
        && spent > alloc.saturating_add(b.carried_over_vnd.unwrap_or(0))
    {
        problems.push(format!(
            "kinh phí đã giải ngân ({}) vượt kinh phí phân bổ cộng chuyển nguồn ({})",
            crate::money::format_million_vnd(spent, 3),
            crate::money::format_million_vnd(alloc + b.carried_over_vnd.unwrap_or(0), 3)
        ));
    }
    if problems.is_empty() {
        Ok(b)
    } else {
        Err(format!(
            "Kinh phí năm {year} không hợp lệ: {}.",
            problems.join("; ")
        ))
    }
}

/// Reads a tranche as the command line writes it: `SỐ_ĐỢT:SỐ_TIỀN[:SỐ_QUYẾT_ĐỊNH[:NGÀY]]`, the
/// amount in million VND as printed ("28.080", "329,7"), e.g. `1:2.000:1234/QĐ-UBND:15/03/2025`.
pub fn parse_tranche(text: &str) -> Result<Tranche, String> {
    let parts: Vec<&str> = text.splitn(4, ':').map(str::trim).collect();
    let bad = |why: String| {
        format!(
            "đợt «{text}» không hợp lệ: {why}; dạng SỐ_ĐỢT:SỐ_TIỀN[:SỐ_QUYẾT_ĐỊNH[:NGÀY]], ví dụ 1:2.000:1234/QĐ-UBND:15/03/2025"
        )
    };
    if parts.len() < 2 {
        return Err(bad("thiếu số tiền".into()));
    }
    let tranche = parts[0]
        .parse::<u32>()
        .map_err(|_| bad(format!("số đợt «{}» không phải số", parts[0])))?;
    let amount_vnd = parse_million_vnd(parts[1]).map_err(bad)?;
    let decision_number = parts
        .get(2)
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string());
    let decision_on = parts
        .get(3)
        .filter(|s| !s.is_empty())
        .map(|s| parse_date(s))
        .transpose()
        .map_err(bad)?;
    Ok(Tranche {
        tranche,
        amount_vnd,
        decision_number,
        decision_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tranches_make_the_allocation_and_bad_lines_list_every_problem() {
        let t1 = parse_tranche("1:2.000:1234/QĐ-UBND:15/03/2025").unwrap();
        assert_eq!(t1.amount_vnd, 2_000_000_000);
        assert_eq!(t1.decision_number.as_deref(), Some("1234/QĐ-UBND"));
        let t2 = parse_tranche("2:500").unwrap();
        let b = check_year_budget(
            2025,
            YearBudget {
                tranches: vec![t2.clone(), t1.clone()],
                spent_vnd: Some(1_000_000_000),
                ..YearBudget::default()
            },
        )
        .unwrap();
        assert_eq!(b.allocated_year_vnd, Some(2_500_000_000));
        assert_eq!(b.tranches[0].tranche, 1);

        let e = check_year_budget(
            2025,
            YearBudget {
                allocated_year_vnd: Some(1),
                spent_vnd: Some(9_000_000_000),
                tranches: vec![t1.clone(), t1],
                ..YearBudget::default()
            },
        )
        .unwrap_err();
        assert!(e.contains("đợt 1 khai báo hai lần"), "{e}");
        assert!(e.contains("khác tổng các đợt"), "{e}");
        assert!(e.contains("vượt kinh phí phân bổ"), "{e}");
        // The planned allocation is its own figure: kept apart from the tranches' sum,
        // checked for its range and named in Vietnamese.
        let b = check_year_budget(
            2024,
            YearBudget {
                planned_allocation_vnd: Some(1_500_000_000),
                tranches: vec![parse_tranche("1:1.000").unwrap()],
                ..YearBudget::default()
            },
        )
        .unwrap();
        assert_eq!(
            (b.planned_allocation_vnd, b.allocated_year_vnd),
            (Some(1_500_000_000), Some(1_000_000_000))
        );
        let e = check_year_budget(
            2024,
            YearBudget {
                planned_allocation_vnd: Some(-1),
                ..YearBudget::default()
            },
        )
        .unwrap_err();
        assert!(
            e.contains("dự kiến phân bổ kinh phí năm phải từ 0 đến 10^15 đồng"),
            "{e}"
        );
        assert_eq!(
            planned_allocation_title(2024),
            "Dự kiến phân bổ kinh phí năm 2024"
        );
        assert!(parse_tranche("x:1").is_err());
        assert!(parse_tranche("1").is_err());
        assert!(parse_tranche("1:1:QĐ:32/13/2025").is_err());
    }
}
