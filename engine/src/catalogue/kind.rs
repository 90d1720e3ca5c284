//! Which workflow an imported task runs on.
//!
//! A plan's catalogue has no dossier-type column: the plan lists tasks by funding source, and the
//! dossier type (domain.md, "Task kinds") is independent of it. The importer therefore applies the
//! small ordered rule below, first match wins; a catalogue may carry a `kind` column naming the
//! workflow of a row explicitly, which overrides the rule for that row. `tiendo import plan --help`
//! and README print the same table.

use std::sync::OnceLock;

use crate::domain::FundingSource;

use super::names::folded_name;

/// One line of the rule, as an administrator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindRule {
    pub kind: &'static str,
    /// The condition, in Vietnamese.
    pub when: &'static str,
}

/// The rule, in the order it is applied.
pub const KIND_RULES: &[KindRule] = &[
    KindRule {
        kind: "dau-tu-cong",
        when: "nguồn kinh phí đầu tư công (dau_tu_cong)",
    },
    KindRule {
        kind: "thue-dich-vu",
        when: "nhiệm vụ thuê dịch vụ (is_rental = true)",
    },
    KindRule {
        kind: "bao-cao-ktkt",
        when: "tên nhiệm vụ có «xây dựng phần mềm», «xây dựng cơ sở dữ liệu», «xây dựng CSDL» hoặc «xây dựng hệ thống»",
    },
    KindRule {
        kind: "mua-sam",
        when: "các nhiệm vụ còn lại (mua sắm, nâng cấp, triển khai, vận hành…)",
    },
];

/// Names that announce a software build (economic-technical report, one-step design). Compared
/// after folding case and diacritics, on word boundaries.
pub const SOFTWARE_BUILD_PHRASES: &[&str] = &[
    "xây dựng phần mềm",
    "xây dựng cơ sở dữ liệu",
    "xây dựng CSDL",
    "xây dựng hệ thống",
];

/// The workflow for a row without an explicit `kind`, and the index of the rule that chose it.
pub fn choose_kind(funding: FundingSource, is_rental: bool, name: &str) -> (&'static str, usize) {
    choose_kind_folded(funding, is_rental, &folded_name(name))
}

/// [`choose_kind`] for a name already folded with [`folded_name`].
pub fn choose_kind_folded(
    funding: FundingSource,
    is_rental: bool,
    folded: &str,
) -> (&'static str, usize) {
    static PHRASES: OnceLock<Vec<String>> = OnceLock::new();
    if funding == FundingSource::DauTuCong {
        return (KIND_RULES[0].kind, 0);
    }
    if is_rental {
        return (KIND_RULES[1].kind, 1);
    }
    let phrases = PHRASES.get_or_init(|| {
        SOFTWARE_BUILD_PHRASES
            .iter()
            .map(|p| format!("-{}-", folded_name(p)))
            .collect()
    });
    let name = format!("-{folded}-");
    if phrases.iter().any(|p| name.contains(p.as_str())) {
        return (KIND_RULES[2].kind, 2);
    }
    (KIND_RULES[3].kind, 3)
}

/// The rule as text, for `--help` and summaries.
pub fn describe_rules() -> String {
    KIND_RULES
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{}. {} → {}", i + 1, r.when, r.kind))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_applies_in_order() {
        use FundingSource::*;
        assert_eq!(
            choose_kind(DauTuCong, true, "Xây dựng phần mềm").0,
            "dau-tu-cong"
        );
        assert_eq!(
            choose_kind(ThuongXuyen, true, "Xây dựng cơ sở dữ liệu kinh tế - xã hội").0,
            "thue-dich-vu"
        );
        assert_eq!(
            choose_kind(
                HoanThanh2025Cntt,
                false,
                "Xây dựng phần mềm tuyển chọn, gọi công dân nhập ngũ"
            )
            .0,
            "bao-cao-ktkt"
        );
        assert_eq!(
            choose_kind(HoanThanh2025Cntt, false, "XÂY DỰNG CSDL công chứng").0,
            "bao-cao-ktkt"
        );
        // A strategy or a scheme is not software; "Xây dựng" alone does not decide.
        assert_eq!(
            choose_kind(
                HoanThanh2025Cntt,
                false,
                "Xây dựng chiến lược dữ liệu thành phố Hải Phòng"
            )
            .0,
            "mua-sam"
        );
        // Word boundaries: "hệ thống" must follow "xây dựng" directly.
        assert_eq!(
            choose_kind(ThuongXuyen, false, "Mua bản quyền phần mềm MS Office").0,
            "mua-sam"
        );
        assert!(describe_rules().contains("4. các nhiệm vụ còn lại"));
    }
}
