//! How a plan is laid out in print (domain.md, "Reports the users already produce by hand"):
//! four appendices by funding source, funding groups A/B inside appendix 2, units numbered in
//! Roman numerals. Shared by the reconciliation of printed totals and by the reports. Pure.

use crate::domain::FundingSource;

/// The title of an appendix, for a plan of `year`.
pub fn appendix_title(appendix: u8, year: i32) -> String {
    match appendix {
        1 => "Danh mục nhiệm vụ sử dụng kinh phí chi thường xuyên".to_string(),
        2 => format!("Danh mục nhiệm vụ cần hoàn thành trong năm {year}"),
        3 => "Danh mục nhiệm vụ sử dụng kinh phí sự nghiệp công nghệ thông tin".to_string(),
        4 => "Danh mục dự án đầu tư công".to_string(),
        _ => format!("Phụ lục {appendix}"),
    }
}

/// The funding sources listed in an appendix, in print order.
pub fn appendix_sources(appendix: u8) -> Vec<FundingSource> {
    FundingSource::ALL
        .into_iter()
        .filter(|f| f.appendix() == appendix)
        .collect()
}

/// The printed name of a funding source, as a group row or in the body text.
pub fn source_label(source: FundingSource) -> &'static str {
    match source {
        FundingSource::ThuongXuyen => "Kinh phí chi thường xuyên",
        FundingSource::HoanThanh2025Cntt => "Nguồn CNTT",
        FundingSource::HoanThanh2025QuyPhatTrien => "Nguồn quỹ phát triển của đơn vị",
        FundingSource::SuNghiepCntt => "Kinh phí sự nghiệp CNTT",
        FundingSource::DauTuCong => "Vốn đầu tư công",
    }
}

/// The funding groups of an appendix with more than one source: (letter, source). Appendix 2
/// prints A = Nguồn CNTT, B = Nguồn quỹ phát triển của đơn vị.
pub fn appendix_groups(appendix: u8) -> Vec<(char, FundingSource)> {
    let sources = appendix_sources(appendix);
    if sources.len() < 2 {
        return Vec::new();
    }
    ('A'..='Z').zip(sources).collect()
}

/// `n` in Roman numerals (1 → I, 14 → XIV); 0 gives an empty string.
pub fn roman(mut n: usize) -> String {
    const DIGITS: [(usize, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (value, digits) in DIGITS {
        while n >= value {
            out.push_str(digits);
            n -= value;
        }
    }
    out
}

/// Reads a Roman numeral written in canonical form (the inverse of [`roman`]).
pub fn parse_roman(text: &str) -> Option<usize> {
    let t = text.trim().to_ascii_uppercase();
    if t.is_empty() || !t.chars().all(|c| "IVXLCDM".contains(c)) {
        return None;
    }
    let value = |c: char| match c {
        'I' => 1,
        'V' => 5,
        'X' => 10,
        'L' => 50,
        'C' => 100,
        'D' => 500,
        _ => 1000,
    };
    let chars: Vec<i64> = t.chars().map(value).collect();
    let mut n: i64 = 0;
    for (i, v) in chars.iter().enumerate() {
        if chars.get(i + 1).is_some_and(|next| next > v) {
            n -= v;
        } else {
            n += v;
        }
    }
    // Only canonical spellings: "IIII" or "VX" are not numerals a report prints.
    let n = usize::try_from(n).ok()?;
    (roman(n) == t).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roman_numerals_round_trip() {
        let expected = [
            (1, "I"),
            (4, "IV"),
            (9, "IX"),
            (10, "X"),
            (14, "XIV"),
            (40, "XL"),
            (114, "CXIV"),
            (1994, "MCMXCIV"),
        ];
        for (n, r) in expected {
            assert_eq!(roman(n), r);
            assert_eq!(parse_roman(r), Some(n));
        }
        for n in 1..2000 {
            assert_eq!(parse_roman(&roman(n)), Some(n));
        }
        assert_eq!(roman(0), "");
        for bad in ["", "IIII", "VX", "A", "IC"] {
            assert_eq!(parse_roman(bad), None, "{bad}");
        }
    }

    #[test]
    fn appendix_two_has_the_printed_groups() {
        assert_eq!(
            appendix_groups(2),
            vec![
                ('A', FundingSource::HoanThanh2025Cntt),
                ('B', FundingSource::HoanThanh2025QuyPhatTrien)
            ]
        );
        assert!(appendix_groups(1).is_empty());
        assert_eq!(source_label(FundingSource::HoanThanh2025Cntt), "Nguồn CNTT");
    }
}
