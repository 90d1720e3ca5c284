//! Plans that span years (issue 14): a task is *listed* in one or more yearly plans; each
//! listing has its section, its category there and the year's budget line, and says how the
//! task did in that plan year ([`YearStatus`]), apart from its lifecycle. Tasks are linked
//! across plans by [`Relation`]s. Pure.
//!
//! - [`layout`]: a plan's sections as data (`data/plan-*/layout.toml`);
//! - [`carry`]: which existing task a row of a new plan continues, and the review file;
//! - [`mod@import`]: a plan imported from its printed form, row by row: link, create or review.

pub mod budget;
pub mod carry;
pub mod import;
pub mod layout;

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

/// How the status report judges a task in a plan year whose listing has a year-level status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearJudgement {
    /// Done for the year (a 5-year rental paid for the year), whatever its lifecycle.
    Completed,
    /// On track within the year.
    OnTrack,
    /// Behind: late, or not started when the year is over.
    Late,
    /// Stopped for the year.
    Stopped,
}

/// Judges a task in plan year `year` by its year-level status as known on `on` (not by its
/// lifecycle's terminal phase): "hoàn thành năm" is completed, "theo tiến độ" on track, "chậm"
/// late, "dừng thực hiện" stopped, and "chưa triển khai" on track while the year runs, late once
/// it is over (`on` after 31/12 of `year`).
pub fn categorize_in_year(status: YearStatus, year: i32, on: chrono::NaiveDate) -> YearJudgement {
    use chrono::Datelike;
    match status {
        YearStatus::HoanThanhNam => YearJudgement::Completed,
        YearStatus::TheoTienDo => YearJudgement::OnTrack,
        YearStatus::Cham => YearJudgement::Late,
        YearStatus::DungThucHien => YearJudgement::Stopped,
        YearStatus::ChuaTrienKhai if on.year() > year => YearJudgement::Late,
        YearStatus::ChuaTrienKhai => YearJudgement::OnTrack,
    }
}

/// Whether a task listed in plan year `year` continues from earlier years (rather than starting
/// in `year`): it is listed in an earlier plan or linked to an earlier task, its listing's
/// category is "chuyển tiếp", or its printed period starts before `year` ("2023-2026").
pub fn is_continuing(
    year: i32,
    earlier_listing_or_lineage: bool,
    category: Option<&str>,
    period: Option<&str>,
) -> bool {
    if earlier_listing_or_lineage || category == Some("chuyen_tiep") {
        return true;
    }
    first_year(period.unwrap_or_default()).is_some_and(|y| y < year)
}

/// The first four-digit year a period names: "2023-2026" → 2023, "Từ 2021" → 2021.
fn first_year(period: &str) -> Option<i32> {
    let digits: Vec<char> = period.chars().collect();
    digits.windows(4).enumerate().find_map(|(i, w)| {
        let standalone = (i == 0 || !digits[i - 1].is_ascii_digit())
            && digits.get(i + 4).is_none_or(|c| !c.is_ascii_digit());
        let n: String = w.iter().collect();
        n.parse::<i32>()
            .ok()
            .filter(|y| standalone && (1990..=2100).contains(y))
    })
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

impl Relation {
    pub const ALL: [Relation; 3] = [
        Relation::Continues,
        Relation::Replaces,
        Relation::ReproposedFrom,
    ];
}

impl FromStr for Relation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Relation::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "quan hệ `{s}` không hợp lệ; các giá trị cho phép: {}",
                    Relation::ALL
                        .map(|r| format!("{} ({})", r.as_str(), r.title()))
                        .join(", ")
                )
            })
    }
}

/// Checks a lineage link from `task` to `other`, explained by `reason`: a task is not linked to
/// itself, and the reason is given (lineage is audited: who and why).
pub fn check_link(task: &str, other: &str, reason: &str) -> Result<(), String> {
    if task == other {
        return Err(format!("Nhiệm vụ {task} không thể liên kết với chính nó."));
    }
    if reason.trim().is_empty() {
        return Err("Cần ghi lý do liên kết (--reason).".into());
    }
    Ok(())
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
    fn a_plan_year_is_judged_by_the_year_status() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            categorize_in_year(YearStatus::HoanThanhNam, 2025, d("2025-11-05")),
            YearJudgement::Completed
        );
        assert_eq!(
            categorize_in_year(YearStatus::ChuaTrienKhai, 2025, d("2025-11-05")),
            YearJudgement::OnTrack
        );
        assert_eq!(
            categorize_in_year(YearStatus::ChuaTrienKhai, 2025, d("2026-01-10")),
            YearJudgement::Late
        );
        assert_eq!(
            categorize_in_year(YearStatus::Cham, 2025, d("2025-06-01")),
            YearJudgement::Late
        );
        assert_eq!(
            categorize_in_year(YearStatus::DungThucHien, 2025, d("2025-06-01")),
            YearJudgement::Stopped
        );
    }

    #[test]
    fn continuing_tasks_are_told_from_new_ones() {
        assert!(is_continuing(2025, true, None, None));
        assert!(is_continuing(2025, false, Some("chuyen_tiep"), None));
        assert!(is_continuing(2025, false, None, Some("2021-2025")));
        assert!(is_continuing(2025, false, None, Some("Từ năm 2024")));
        assert!(!is_continuing(2025, false, Some("moi"), Some("2025")));
        assert!(!is_continuing(2025, false, None, Some("12 tháng")));
        assert!(!is_continuing(2025, false, None, Some("20245")));
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
