//! Reading one cell: amounts in million VND, yes/no, a lifecycle stage, a printed date.
//!
//! Amounts are million VND: a plain number uses '.' as the decimal point, as the plan's CSV files
//! do (`526.2`); a number with a comma is read the Vietnamese way (`1.234,5`, `526,2`). Every
//! refusal says what was wrong and what is allowed, in Vietnamese.

use chrono::NaiveDate;

use super::names::folded_name;
use crate::Phase;
use crate::money::parse_million_vnd;

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

/// The `is_rental` cell: true/false, yes/no, có/không, x, 1/0; blank is false.
pub fn parse_bool(text: &str) -> Result<bool, String> {
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

/// The `lifecycle_stage` cell: a phase's name (`contract`) or its Vietnamese title, with or
/// without diacritics ("Hoàn thành").
pub fn parse_stage(text: &str) -> Result<Phase, String> {
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

/// A text cell, trimmed; `None` when blank.
pub fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
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
