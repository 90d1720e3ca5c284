//! Plans that span years (issue 14): a task is *listed* in one or more yearly plans; each
//! listing has its section, its category there and the year's budget line, and says how the
//! task did in that plan year ([`YearStatus`]), apart from its lifecycle. Tasks are linked
//! across plans by [`Relation`]s. Pure.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::FundingSource;

/// How a task did in one plan year, separately from its lifecycle: a 5-year rental is
/// "hoàn thành năm" for 2025 while its lifecycle runs to 2029.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YearStatus {
    HoanThanhNam,
    TheoTienDo,
    Cham,
    ChuaTrienKhai,
    DungThucHien,
}

impl YearStatus {
    pub const ALL: [YearStatus; 5] = [
        YearStatus::HoanThanhNam,
        YearStatus::TheoTienDo,
        YearStatus::Cham,
        YearStatus::ChuaTrienKhai,
        YearStatus::DungThucHien,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            YearStatus::HoanThanhNam => "hoan_thanh_nam",
            YearStatus::TheoTienDo => "theo_tien_do",
            YearStatus::Cham => "cham",
            YearStatus::ChuaTrienKhai => "chua_trien_khai",
            YearStatus::DungThucHien => "dung_thuc_hien",
        }
    }

    /// As a report prints it.
    pub fn title(self) -> &'static str {
        match self {
            YearStatus::HoanThanhNam => "Hoàn thành năm",
            YearStatus::TheoTienDo => "Theo tiến độ",
            YearStatus::Cham => "Chậm tiến độ",
            YearStatus::ChuaTrienKhai => "Chưa triển khai",
            YearStatus::DungThucHien => "Dừng thực hiện",
        }
    }
}

impl fmt::Display for YearStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for YearStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        YearStatus::ALL
            .into_iter()
            .find(|y| y.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "tình trạng năm `{s}` không hợp lệ; các giá trị cho phép: {}",
                    YearStatus::ALL
                        .map(|y| format!("{} ({})", y.as_str(), y.title()))
                        .join(", ")
                )
            })
    }
}

/// How a task listed in a later plan relates to an earlier task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// The same task, continuing (chuyển tiếp): recorded when a plan lists an existing task.
    Continues,
    /// A new task that replaces the other (which ends).
    Replaces,
    /// A new task proposed again after the other was postponed or withdrawn.
    ReproposedFrom,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Continues => "continues",
            Relation::Replaces => "replaces",
            Relation::ReproposedFrom => "reproposed_from",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Relation::Continues => "Tiếp tục",
            Relation::Replaces => "Thay thế",
            Relation::ReproposedFrom => "Đề xuất lại từ",
        }
    }
}

/// The categories a plan's sections carry (a layout may use others: the key is data).
pub const CATEGORIES: [(&str, &str); 6] = [
    ("thuong_xuyen", "Nhiệm vụ thường xuyên hàng năm"),
    ("hoan_thanh_trong_nam", "Nhiệm vụ cần hoàn thành trong năm"),
    ("su_nghiep_cntt", "Nhiệm vụ sự nghiệp công nghệ thông tin"),
    ("dau_tu_cong", "Dự án đầu tư công"),
    ("chuyen_tiep", "Nhiệm vụ chuyển tiếp"),
    ("moi", "Nhiệm vụ mới"),
];

/// The printed title of a category key; the key itself when it is not one of [`CATEGORIES`].
pub fn category_title(key: &str) -> &str {
    CATEGORIES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(key, |(_, t)| t)
}

/// The section and category a task of `source` is listed in under Plan 215's layout (four
/// appendices by funding source): what the normalized CSV import and a task created by hand
/// record, and what migration 0007 gave every task that existed before listings.
pub fn default_listing(source: FundingSource) -> (String, &'static str) {
    let category = match source {
        FundingSource::ThuongXuyen => "thuong_xuyen",
        FundingSource::HoanThanh2025Cntt | FundingSource::HoanThanh2025QuyPhatTrien => {
            "hoan_thanh_trong_nam"
        }
        FundingSource::SuNghiepCntt => "su_nghiep_cntt",
        FundingSource::DauTuCong => "dau_tu_cong",
    };
    (source.appendix().to_string(), category)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_statuses_round_trip_and_refusals_list_the_values() {
        for y in YearStatus::ALL {
            assert_eq!(y.as_str().parse::<YearStatus>(), Ok(y));
        }
        let e = "done".parse::<YearStatus>().unwrap_err();
        assert!(e.contains("hoan_thanh_nam (Hoàn thành năm)"), "{e}");
    }

    #[test]
    fn the_default_listing_is_plan_215s_appendix() {
        assert_eq!(
            default_listing(FundingSource::HoanThanh2025QuyPhatTrien),
            ("2".to_string(), "hoan_thanh_trong_nam")
        );
        assert_eq!(category_title("chuyen_tiep"), "Nhiệm vụ chuyển tiếp");
        assert_eq!(category_title("khac"), "khac");
    }
}
