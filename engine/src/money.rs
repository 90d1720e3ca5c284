//! Money as the plans write it: million VND with at most one or two decimals, shown the
//! Vietnamese way (1.234,5). Stored as whole đồng so that sums are exact.

/// Parses an amount in million VND (`6500`, `526.2`, `526,2`, `8.809`, `1.234,5`) into đồng.
pub fn parse_million_vnd(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || {
        format!("số tiền `{text}` không hợp lệ: nhập triệu đồng, ví dụ 6500, 526,2 hoặc 1.234,5")
    };
    if t.is_empty() {
        return Err(bad());
    }
    // Vietnamese writes 1.234,5: with a comma present, dots group thousands and the comma is
    // the decimal mark. Without a comma, dots followed by groups of exactly three digits group
    // thousands too (8.809 is eight thousand); a single dot before one, two or more than three
    // digits is a decimal point, as in the plan's CSV files (526.2).
    let groups: Vec<&str> = t.split('.').collect();
    let normalized = if t.contains(',') {
        t.replace('.', "").replace(',', ".")
    } else if groups.len() > 1 && groups[1..].iter().all(|g| g.len() == 3) {
        t.replace('.', "")
    } else if groups.len() <= 2 {
        t.to_string()
    } else {
        return Err(bad());
    };
    let (int, frac) = normalized.split_once('.').unwrap_or((&normalized, ""));
    let negative = int.starts_with('-');
    let int = int.trim_start_matches('-');
    if int.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 6
    {
        return Err(bad());
    }
    let whole: i64 = int.parse().map_err(|_| bad())?;
    let mut frac_dong: i64 = 0;
    if !frac.is_empty() {
        let padded = format!("{frac:0<6}");
        frac_dong = padded.parse().map_err(|_| bad())?;
    }
    let dong = whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(frac_dong))
        .ok_or_else(bad)?;
    Ok(if negative { -dong } else { dong })
}

/// Formats đồng as million VND, Vietnamese style, with up to `decimals` decimals (trailing zeros
/// dropped): 526_200_000 → "526,2"; 207_311_600_000 → "207.311,6".
pub fn format_million_vnd(dong: i64, decimals: usize) -> String {
    let scale = 10i64.pow(u32::try_from(decimals).unwrap_or(0).min(6));
    let units_per_step = 1_000_000 / scale.max(1);
    // Round half away from zero to the requested precision.
    let steps = (dong.abs() + units_per_step / 2) / units_per_step;
    let whole = steps / scale;
    let frac = steps % scale;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let mut out = if dong < 0 && steps > 0 {
        format!("-{grouped}")
    } else {
        grouped
    };
    if decimals > 0 && frac > 0 {
        let f = format!("{frac:0width$}", width = decimals);
        out.push(',');
        out.push_str(f.trim_end_matches('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_in_every_spelling_the_users_write() {
        assert_eq!(parse_million_vnd("6500").unwrap(), 6_500_000_000);
        assert_eq!(parse_million_vnd("526.2").unwrap(), 526_200_000);
        assert_eq!(parse_million_vnd("526,2").unwrap(), 526_200_000);
        assert_eq!(parse_million_vnd("1.234,5").unwrap(), 1_234_500_000);
        assert_eq!(parse_million_vnd("0.0005").unwrap(), 500);
        assert_eq!(parse_million_vnd("8.809").unwrap(), 8_809_000_000);
        assert_eq!(parse_million_vnd("397.954").unwrap(), 397_954_000_000);
        assert_eq!(parse_million_vnd("1.234.567").unwrap(), 1_234_567_000_000);
        assert_eq!(parse_million_vnd("367.45").unwrap(), 367_450_000);
        for bad in ["", "abc", "1.2.3", "12e3", "1,2345678", "99999999999999"] {
            assert!(parse_million_vnd(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_format_the_vietnamese_way() {
        assert_eq!(format_million_vnd(526_200_000, 1), "526,2");
        assert_eq!(format_million_vnd(207_311_600_000, 1), "207.311,6");
        assert_eq!(format_million_vnd(207_311_600_000, 0), "207.312");
        assert_eq!(format_million_vnd(6_500_000_000, 1), "6.500");
        assert_eq!(format_million_vnd(0, 1), "0");
        assert_eq!(format_million_vnd(-1_500_000, 1), "-1,5");
    }
}
