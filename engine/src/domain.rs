//! Small domain values that parse instead of validate: once a `UnitId` or a `FundingSource`
//! exists, it is well-formed, and every layer above can rely on it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The four appendices of a plan are its funding sources (domain.md, "Task kinds").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingSource {
    ThuongXuyen,
    HoanThanh2025Cntt,
    HoanThanh2025QuyPhatTrien,
    SuNghiepCntt,
    DauTuCong,
}

impl FundingSource {
    pub const ALL: [FundingSource; 5] = [
        FundingSource::ThuongXuyen,
        FundingSource::HoanThanh2025Cntt,
        FundingSource::HoanThanh2025QuyPhatTrien,
        FundingSource::SuNghiepCntt,
        FundingSource::DauTuCong,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FundingSource::ThuongXuyen => "thuong_xuyen",
            FundingSource::HoanThanh2025Cntt => "hoan_thanh_2025_cntt",
            FundingSource::HoanThanh2025QuyPhatTrien => "hoan_thanh_2025_quy_phat_trien",
            FundingSource::SuNghiepCntt => "su_nghiep_cntt",
            FundingSource::DauTuCong => "dau_tu_cong",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            FundingSource::ThuongXuyen => "Chi thường xuyên",
            FundingSource::HoanThanh2025Cntt => "Hoàn thành năm 2025 — nguồn CNTT",
            FundingSource::HoanThanh2025QuyPhatTrien => {
                "Hoàn thành năm 2025 — quỹ phát triển của đơn vị"
            }
            FundingSource::SuNghiepCntt => "Sự nghiệp CNTT",
            FundingSource::DauTuCong => "Đầu tư công",
        }
    }

    /// The plan appendix (phụ lục) that lists tasks of this source.
    pub fn appendix(self) -> u8 {
        match self {
            FundingSource::ThuongXuyen => 1,
            FundingSource::HoanThanh2025Cntt | FundingSource::HoanThanh2025QuyPhatTrien => 2,
            FundingSource::SuNghiepCntt => 3,
            FundingSource::DauTuCong => 4,
        }
    }
}

impl fmt::Display for FundingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FundingSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FundingSource::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "nguồn kinh phí `{s}` không hợp lệ; các giá trị cho phép: {}",
                    FundingSource::ALL.map(|f| f.as_str()).join(", ")
                )
            })
    }
}

impl TryFrom<String> for FundingSource {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// A unit's canonical id: lowercase ASCII letters, digits and '-' (`so-khoa-hoc-va-cong-nghe`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnitId(String);

impl UnitId {
    pub fn parse(s: &str) -> Result<UnitId, String> {
        let ok = !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(UnitId(s.to_string()))
        } else {
            Err(format!(
                "mã đơn vị `{s}` không hợp lệ: chỉ dùng chữ thường không dấu, chữ số và dấu '-' (ví dụ: so-y-te), tối đa 100 ký tự"
            ))
        }
    }

    /// The canonical id of a Vietnamese unit name: diacritics removed, spaces to '-'. Spelling
    /// variants that differ only in accents ("Ủy"/"Uỷ", "hóa"/"hoá") get the same id.
    pub fn from_name(name: &str) -> UnitId {
        let mut out = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            let Some(base) = fold_vietnamese(c) else {
                continue;
            };
            if base.is_ascii_alphanumeric() {
                out.push(base);
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        let trimmed = out.trim_end_matches('-');
        UnitId(
            trimmed
                .chars()
                .take(100)
                .collect::<String>()
                .trim_end_matches('-')
                .to_string(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A text folded for searching: lowercase, without diacritics, letters and digits separated by
/// single spaces ("Hồ sơ BỆNH ÁN điện tử" → "ho so benh an dien tu"). A search folds the query
/// the same way, so "benh an" and "bệnh án" both find "Bệnh án điện tử". The store keeps this
/// fold of every task name (`tasks.name_search`).
pub fn search_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let Some(base) = fold_vietnamese(c) else {
            continue;
        };
        if base.is_alphanumeric() {
            out.push(base);
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The ASCII letter under a lowercase Vietnamese letter; `None` for a combining accent, which
/// belongs to the letter before it.
fn fold_vietnamese(c: char) -> Option<char> {
    // Most letters of a Vietnamese name are plain ASCII: they fold to themselves.
    if c.is_ascii() {
        return Some(c);
    }
    match c {
        'à' | 'á' | 'ả' | 'ã' | 'ạ' | 'ă' | 'ằ' | 'ắ' | 'ẳ' | 'ẵ' | 'ặ' | 'â' | 'ầ' | 'ấ' | 'ẩ'
        | 'ẫ' | 'ậ' => Some('a'),
        'è' | 'é' | 'ẻ' | 'ẽ' | 'ẹ' | 'ê' | 'ề' | 'ế' | 'ể' | 'ễ' | 'ệ' => {
            Some('e')
        }
        'ì' | 'í' | 'ỉ' | 'ĩ' | 'ị' => Some('i'),
        'ò' | 'ó' | 'ỏ' | 'õ' | 'ọ' | 'ô' | 'ồ' | 'ố' | 'ổ' | 'ỗ' | 'ộ' | 'ơ' | 'ờ' | 'ớ' | 'ở'
        | 'ỡ' | 'ợ' => Some('o'),
        'ù' | 'ú' | 'ủ' | 'ũ' | 'ụ' | 'ư' | 'ừ' | 'ứ' | 'ử' | 'ữ' | 'ự' => {
            Some('u')
        }
        'ỳ' | 'ý' | 'ỷ' | 'ỹ' | 'ỵ' => Some('y'),
        'đ' => Some('d'),
        '\u{300}'..='\u{36f}' => None,
        _ => Some(c),
    }
}

/// A sign-in name: 3–64 characters of lowercase ASCII letters, digits, '.', '_' and '-'.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, String> {
        let ok = (3..=64).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if ok {
            Ok(Username(s.to_string()))
        } else {
            Err(format!(
                "tên đăng nhập `{s}` không hợp lệ: 3–64 ký tự gồm chữ thường không dấu, chữ số, '.', '_' hoặc '-'"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_variants_of_a_unit_share_one_id() {
        let a = UnitId::from_name("Văn phòng Ủy ban nhân dân thành phố");
        let b = UnitId::from_name("Văn phòng Uỷ ban nhân dân thành phố");
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "van-phong-uy-ban-nhan-dan-thanh-pho");
        assert_eq!(
            UnitId::from_name("Sở Văn hóa, Thể thao và Du lịch"),
            UnitId::from_name("Sở Văn hoá, Thể thao và Du lịch")
        );
        assert_eq!(
            UnitId::from_name("Văn phòng Đoàn ĐBQH&HĐND thành phố").as_str(),
            "van-phong-doan-dbqh-hdnd-thanh-pho"
        );
        // Decomposed input (a base letter followed by a combining accent) folds the same way.
        assert_eq!(UnitId::from_name("Sở Y te\u{301}").as_str(), "so-y-te");
        assert_eq!(
            UnitId::from_name("Vie\u{302}\u{303}n thông").as_str(),
            "vien-thong"
        );
        assert!(UnitId::parse(UnitId::from_name("Sở Y tế").as_str()).is_ok());
    }

    /// The fold is a `match`; the letter groups as Vietnamese is taught are its oracle, over
    /// every character up to the end of Latin Extended Additional (where the tone marks live).
    #[test]
    fn fold_matches_the_letter_groups() {
        const GROUPS: &[(&str, char)] = &[
            ("aàáảãạăằắẳẵặâầấẩẫậ", 'a'),
            ("eèéẻẽẹêềếểễệ", 'e'),
            ("iìíỉĩị", 'i'),
            ("oòóỏõọôồốổỗộơờớởỡợ", 'o'),
            ("uùúủũụưừứửữự", 'u'),
            ("yỳýỷỹỵ", 'y'),
            ("dđ", 'd'),
        ];
        let oracle = |c: char| {
            if let Some((_, base)) = GROUPS.iter().find(|(letters, _)| letters.contains(c)) {
                return Some(*base);
            }
            if ('\u{300}'..='\u{36f}').contains(&c) {
                return None;
            }
            Some(c)
        };
        for c in ('\0'..='\u{1eff}').chain(['\u{2013}', '\u{201c}', '\u{feff}']) {
            assert_eq!(fold_vietnamese(c), oracle(c), "{c:?}");
        }
    }

    #[test]
    fn search_keys_fold_case_diacritics_and_punctuation() {
        assert_eq!(
            search_key("Thuê dịch vụ triển khai hồ sơ BỆNH ÁN điện tử"),
            "thue dich vu trien khai ho so benh an dien tu"
        );
        assert_eq!(search_key("  Đường—truyền (WAN)  "), "duong truyen wan");
        assert_eq!(search_key("be\u{323}\u{302}nh a\u{301}n"), "benh an");
        assert!(search_key("Hồ sơ bệnh án").contains(&search_key("benh an")));
        assert_eq!(search_key(""), "");
    }

    #[test]
    fn malformed_values_are_refused_with_the_rule() {
        assert!(
            UnitId::parse("Sở Y tế")
                .unwrap_err()
                .contains("chữ thường không dấu")
        );
        assert!(UnitId::parse("-so").is_err());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("nguyen.van.a").is_ok());
        assert!(
            "ngan_sach"
                .parse::<FundingSource>()
                .unwrap_err()
                .contains("dau_tu_cong")
        );
        assert_eq!(
            "su_nghiep_cntt"
                .parse::<FundingSource>()
                .unwrap()
                .appendix(),
            3
        );
    }
}
