//! A plan's layout as data (issue 14): the sections a plan prints (title as printed, order,
//! category, the funding source and the lifecycle stage of the tasks it brings, the column set
//! printed for it), declared in a TOML file an administrator edits — `data/plan-*/layout.toml`.
//! Plan 215's four appendices, the 2024 plan's sections A–D, the 2026 plan's Phụ lục I–III are
//! three declarations, not code. Pure: the adapters read the file.
//!
//! ```toml
//! number = "359/KH-UBND"
//! year = 2026
//! title = "Kế hoạch chuyển đổi số năm 2026"
//!
//! [[sections]]
//! key = "II"                       # how the plan numbers the section (Phụ lục II, mục B …)
//! title = "DANH MỤC NHIỆM VỤ CHUYỂN ĐỔI SỐ CHUYỂN TIẾP NĂM 2026"   # as printed
//! category = "chuyen_tiep"         # thuong_xuyen, chuyen_tiep, moi, dau_tu_cong …
//! funding_source = "su_nghiep_cntt" # of the tasks this section creates
//! funding_sources = ["su_nghiep_cntt", "thuong_xuyen"]  # optional: the sources that belong here
//! kinds = ["thue-dich-vu", "mua-sam"]  # optional: the workflow kinds that belong here
//! stage = "proposed"               # where the tasks this section creates start
//! sheet = "Phụ lục II"             # optional: the workbook sheet that prints it
//! columns = ["TT", "Tên nhiệm vụ", "Thời gian thực hiện", "Dự toán được duyệt",
//!            "Nhu cầu kinh phí năm 2026", "Dự kiến phân bổ năm 2026", "Ghi chú"]
//! unit_rows = false                # optional: no Roman-numbered unit rows in the printed table
//!                                  # (the unit, if printed, is a column: "Đơn vị chủ trì")
//! ```
//!
//! A section's table prints, by default, a Roman-numbered row per unit with its subtotal above
//! the unit's tasks (Plan 215's Phụ lục 1 and 2). `unit_rows = false` prints the tasks straight
//! under the section (or its funding groups) in the plan's order, as Plan 215's Phụ lục 3 and 4
//! do; a section that still wants the unit names lists the unit column among its `columns`
//! ("Đơn vị chủ trì", "Đơn vị thực hiện", "Cơ quan chủ trì").

use serde::{Deserialize, Serialize};

use crate::Phase;
use crate::catalogue::names::folded_name;
use crate::catalogue::printed::{PrintedColumn, recognise};
use crate::domain::FundingSource;

/// A plan's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLayout {
    pub number: Option<String>,
    pub year: Option<i32>,
    pub title: Option<String>,
    /// In print order.
    pub sections: Vec<Section>,
}

/// One section (appendix) of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub key: String,
    pub title: String,
    pub order: usize,
    pub category: String,
    pub funding_source: FundingSource,
    /// The funding sources whose tasks belong in the section (`funding_sources`; by default
    /// the one its new tasks get). A linked task of another source is named in the summary.
    pub funding_sources: Vec<FundingSource>,
    /// The workflow kinds whose tasks belong in the section (`kinds`; empty: any). A new task
    /// whose kind the rules would choose outside the list gets the first kind listed; a linked
    /// task of another kind is named in the summary.
    pub kinds: Vec<String>,
    pub stage: Phase,
    pub sheet: Option<String>,
    /// The printed titles of its columns, as declared.
    pub columns: Vec<String>,
    /// Whether its table prints a Roman-numbered row per unit with the unit's subtotal
    /// (`unit_rows`, by default yes).
    pub unit_rows: bool,
}

impl Section {
    /// Whether a task of this workflow kind belongs in the section.
    pub fn admits_kind(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind)
    }

    /// Whether a task of this funding source belongs in the section.
    pub fn admits_funding(&self, funding: FundingSource) -> bool {
        self.funding_sources.contains(&funding)
    }

    /// The kind a new task of the section gets when the rules chose `chosen`: the same when it
    /// belongs, else the first kind the section lists (`None` then: it was not moved).
    pub fn placed_kind(&self, chosen: &str) -> Option<&str> {
        (!self.admits_kind(chosen)).then(|| self.kinds[0].as_str())
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawLayout {
    number: Option<String>,
    year: Option<i32>,
    title: Option<String>,
    #[serde(default)]
    sections: Vec<RawSection>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    key: String,
    title: String,
    order: Option<usize>,
    category: String,
    funding_source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    funding_sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    kinds: Vec<String>,
    stage: Option<String>,
    sheet: Option<String>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit_rows: Option<bool>,
}

/// Plan 215's four appendices by funding source, for a plan of `year` that declares no layout
/// (a plan imported from the normalized CSV): the titles as Plan 215 prints them (its Phụ lục 1
/// is "DANH MỤC NHIỆM VỤ THƯỜNG XUYÊN", recurring tasks) and the progress report's columns.
pub fn default_layout(year: i32) -> PlanLayout {
    let columns: Vec<String> = [
        "TT".to_string(),
        "Tên nhiệm vụ".into(),
        "Thời gian thực hiện".into(),
        "Nhu cầu kinh phí".into(),
        "Dự toán được duyệt".into(),
        format!("Nhu cầu kinh phí năm {year}"),
        format!("Kinh phí năm {year} đã phân bổ"),
        "Tiến độ".into(),
        "Thời gian dự kiến hoàn thành".into(),
    ]
    .into();
    let section = |key: &str, title: String, category: &str, funding_source| Section {
        key: key.into(),
        title,
        order: key.parse().unwrap_or(0),
        category: category.into(),
        funding_source,
        funding_sources: vec![funding_source],
        kinds: Vec::new(),
        stage: Phase::Proposed,
        sheet: None,
        columns: columns.clone(),
        unit_rows: true,
    };
    PlanLayout {
        number: None,
        year: Some(year),
        title: None,
        sections: vec![
            section(
                "1",
                "DANH MỤC NHIỆM VỤ THƯỜNG XUYÊN".into(),
                "thuong_xuyen",
                FundingSource::ThuongXuyen,
            ),
            section(
                "2",
                format!("DANH MỤC NHIỆM VỤ CẦN HOÀN THÀNH TRONG NĂM {year}"),
                "hoan_thanh_trong_nam",
                FundingSource::HoanThanh2025Cntt,
            ),
            section(
                "3",
                "DANH MỤC NHIỆM VỤ SỬ DỤNG KINH PHÍ SỰ NGHIỆP CÔNG NGHỆ THÔNG TIN".into(),
                "su_nghiep_cntt",
                FundingSource::SuNghiepCntt,
            ),
            section(
                "4",
                "DANH MỤC DỰ ÁN ĐẦU TƯ CÔNG".into(),
                "dau_tu_cong",
                FundingSource::DauTuCong,
            ),
        ],
    }
}

/// Parses a layout file (`source` names it in messages). Every problem is listed, in Vietnamese.
pub fn parse_layout(text: &str, source: &str) -> Result<PlanLayout, String> {
    let raw: RawLayout =
        toml::from_str(text).map_err(|e| format!("{source}: {}", e.message().trim()))?;
    let mut problems = Vec::new();
    if raw.sections.is_empty() {
        problems.push("không khai báo mục nào ([[sections]])".to_string());
    }
    let year = raw.year.unwrap_or(0);
    let mut sections = Vec::new();
    for (i, s) in raw.sections.into_iter().enumerate() {
        let at = format!("mục {} («{}»)", i + 1, s.key);
        if s.key.trim().is_empty() || s.title.trim().is_empty() {
            problems.push(format!("{at}: cần key và title"));
        }
        if sections.iter().any(|x: &Section| x.key == s.key) {
            problems.push(format!("{at}: key «{}» trùng", s.key));
        }
        let funding = s
            .funding_source
            .parse::<FundingSource>()
            .map_err(|e| problems.push(format!("{at}: {e}")))
            .ok();
        let mut belong = Vec::new();
        for f in &s.funding_sources {
            match f.parse::<FundingSource>() {
                Ok(f) if !belong.contains(&f) => belong.push(f),
                Ok(_) => problems.push(format!("{at}: nguồn kinh phí `{f}` ghi hai lần")),
                Err(e) => problems.push(format!("{at}: {e}")),
            }
        }
        if let Some(f) = funding
            && !belong.is_empty()
            && !belong.contains(&f)
        {
            problems.push(format!(
                "{at}: funding_source `{}` phải nằm trong funding_sources",
                f.as_str()
            ));
        }
        let mut kinds: Vec<String> = Vec::new();
        for k in &s.kinds {
            let k = k.trim();
            if k.is_empty() || kinds.iter().any(|x| x == k) {
                problems.push(format!("{at}: loại nhiệm vụ «{k}» trống hoặc ghi hai lần"));
            } else {
                kinds.push(k.to_string());
            }
        }
        let stage = match s.stage.as_deref() {
            None => Some(Phase::Proposed),
            Some(t) => crate::catalogue::cell::parse_stage(t)
                .map_err(|e| problems.push(format!("{at}: {e}")))
                .ok(),
        };
        if year != 0 {
            for c in &s.columns {
                if recognise(c, year).is_none() {
                    problems.push(format!(
                        "{at}: cột «{c}» không có trong danh sách tên cột được nhận ra (năm {year})"
                    ));
                }
            }
        }
        if let (Some(funding_source), Some(stage)) = (funding, stage) {
            sections.push(Section {
                key: s.key.trim().to_string(),
                title: s.title.trim().to_string(),
                order: s.order.unwrap_or(i + 1),
                category: s.category.trim().to_string(),
                funding_source,
                funding_sources: if belong.is_empty() {
                    vec![funding_source]
                } else {
                    belong
                },
                kinds,
                stage,
                sheet: s.sheet,
                columns: s.columns,
                unit_rows: s.unit_rows.unwrap_or(true),
            });
        }
    }
    if !problems.is_empty() {
        return Err(format!("{source}: {}", problems.join("; ")));
    }
    sections.sort_by_key(|s| s.order);
    Ok(PlanLayout {
        number: raw.number,
        year: raw.year,
        title: raw.title,
        sections,
    })
}

impl PlanLayout {
    /// The section a sheet prints: the one naming the sheet, else the one whose title the
    /// sheet's title rows print, else the only one.
    pub fn section_for(&self, sheet: Option<&str>, titles: &[String]) -> Option<&Section> {
        if let Some(name) = sheet
            && let Some(s) = self
                .sections
                .iter()
                .find(|s| s.sheet.as_deref().is_some_and(|x| x.trim() == name.trim()))
        {
            return Some(s);
        }
        let folded: Vec<String> = titles.iter().map(|t| folded_name(t)).collect();
        if let Some(s) = self.sections.iter().find(|s| {
            let t = folded_name(&s.title);
            !t.is_empty() && folded.iter().any(|f| f.contains(&t))
        }) {
            return Some(s);
        }
        (self.sections.len() == 1).then(|| &self.sections[0])
    }

    /// The layout as a layout file: what the store keeps with the plan and [`parse_layout`]
    /// reads back to the same layout.
    pub fn to_toml(&self) -> String {
        let raw = RawLayout {
            number: self.number.clone(),
            year: self.year,
            title: self.title.clone(),
            sections: self
                .sections
                .iter()
                .map(|s| RawSection {
                    key: s.key.clone(),
                    title: s.title.clone(),
                    order: Some(s.order),
                    category: s.category.clone(),
                    funding_source: s.funding_source.as_str().to_string(),
                    funding_sources: s
                        .funding_sources
                        .iter()
                        .map(|f| f.as_str().to_string())
                        .collect(),
                    kinds: s.kinds.clone(),
                    stage: Some(s.stage.as_str().to_string()),
                    sheet: s.sheet.clone(),
                    columns: s.columns.clone(),
                    unit_rows: (!s.unit_rows).then_some(false),
                })
                .collect(),
        };
        toml::to_string(&raw).unwrap_or_default()
    }

    /// The workflow kinds the layout names that `known` does not (a layout is checked against
    /// the workflows loaded before an import uses it).
    pub fn unknown_kinds<'a>(&'a self, known: &[&str]) -> Vec<(&'a str, &'a str)> {
        self.sections
            .iter()
            .flat_map(|s| s.kinds.iter().map(move |k| (s.key.as_str(), k.as_str())))
            .filter(|(_, k)| !known.contains(k))
            .collect()
    }

    /// A section by its key.
    pub fn section(&self, key: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.key == key)
    }

    /// The columns a section prints, recognised (for reports).
    pub fn columns_of(&self, key: &str, year: i32) -> Vec<PrintedColumn> {
        self.section(key)
            .map(|s| {
                s.columns
                    .iter()
                    .filter_map(|c| recognise(c, year))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT: &str = r#"
number = "325/KH-UBND"
year = 2024
[[sections]]
key = "A"
title = "Nhiệm vụ thường xuyên"
category = "thuong_xuyen"
funding_source = "thuong_xuyen"
stage = "contract"
columns = ["TT", "Tên nhiệm vụ", "Dự toán"]
[[sections]]
key = "B"
title = "Nhiệm vụ chuyển tiếp từ năm 2023"
category = "chuyen_tiep"
funding_source = "su_nghiep_cntt"
columns = ["TT", "Tên nhiệm vụ", "Kinh phí đã sử dụng năm 2023", "Chuyển nguồn từ 2023 sang 2024"]
"#;

    #[test]
    fn a_layout_declares_sections_and_their_columns() {
        let l = parse_layout(LAYOUT, "layout.toml").unwrap();
        assert_eq!(l.sections.len(), 2);
        assert_eq!(l.sections[0].stage, Phase::Contract);
        assert_eq!(l.sections[1].stage, Phase::Proposed);
        assert_eq!(
            l.columns_of("B", 2024),
            vec![
                PrintedColumn::Seq,
                PrintedColumn::Name,
                PrintedColumn::SpentPrevious,
                PrintedColumn::CarriedOver
            ]
        );
        let titles = vec!["B. NHIỆM VỤ CHUYỂN TIẾP TỪ NĂM 2023".to_string()];
        assert_eq!(l.section_for(None, &titles).unwrap().key, "B");
    }

    #[test]
    fn a_layout_round_trips_through_its_file_and_the_default_is_plan_215s() {
        let l = parse_layout(LAYOUT, "layout.toml").unwrap();
        assert_eq!(parse_layout(&l.to_toml(), "db").unwrap(), l);
        let d = default_layout(2025);
        assert_eq!(parse_layout(&d.to_toml(), "db").unwrap(), d);
        assert_eq!(d.sections[0].title, "DANH MỤC NHIỆM VỤ THƯỜNG XUYÊN");
        assert_eq!(d.columns_of("1", 2025).len(), 9);
    }

    #[test]
    fn a_section_declares_the_kinds_and_funding_sources_that_belong_in_it() {
        let text = LAYOUT.replace(
            "funding_source = \"su_nghiep_cntt\"\n",
            "funding_source = \"su_nghiep_cntt\"\nfunding_sources = [\"su_nghiep_cntt\", \"thuong_xuyen\"]\nkinds = [\"thue-dich-vu\", \"mua-sam\"]\n",
        );
        let l = parse_layout(&text, "layout.toml").unwrap();
        let (a, b) = (&l.sections[0], &l.sections[1]);
        // Undeclared: any kind, and the one source its new tasks get.
        assert!(a.kinds.is_empty() && a.admits_kind("hoat-dong"));
        assert_eq!(a.funding_sources, vec![FundingSource::ThuongXuyen]);
        assert!(!a.admits_funding(FundingSource::DauTuCong));
        assert_eq!(a.placed_kind("hoat-dong"), None);
        // Declared: exactly those.
        assert_eq!(
            b.funding_sources,
            vec![FundingSource::SuNghiepCntt, FundingSource::ThuongXuyen]
        );
        assert!(b.admits_funding(FundingSource::ThuongXuyen));
        assert!(!b.admits_funding(FundingSource::DauTuCong));
        assert_eq!(b.placed_kind("mua-sam"), None);
        assert_eq!(b.placed_kind("hoat-dong"), Some("thue-dich-vu"));
        assert_eq!(parse_layout(&l.to_toml(), "db").unwrap(), l);
        assert_eq!(l.unknown_kinds(&["mua-sam"]), vec![("B", "thue-dich-vu")]);
        // A default source outside the declared list, an unknown source, a repeated kind.
        let bad = text
            .replace(
                "[\"su_nghiep_cntt\", \"thuong_xuyen\"]",
                "[\"thuong_xuyen\", \"ngan_sach\"]",
            )
            .replace("\"mua-sam\"]", "\"mua-sam\", \"mua-sam\"]");
        let e = parse_layout(&bad, "layout.toml").unwrap_err();
        assert!(
            e.contains("funding_source `su_nghiep_cntt` phải nằm trong funding_sources"),
            "{e}"
        );
        assert!(e.contains("nguồn kinh phí `ngan_sach`"), "{e}");
        assert!(e.contains("«mua-sam» trống hoặc ghi hai lần"), "{e}");
    }

    #[test]
    fn a_section_may_print_no_unit_rows_and_the_unit_as_a_column() {
        let text = LAYOUT.replace(
            "columns = [\"TT\", \"Tên nhiệm vụ\", \"Dự toán\"]",
            "columns = [\"TT\", \"Tên nhiệm vụ\", \"Đơn vị chủ trì\", \"Dự toán\"]\nunit_rows = false",
        );
        let l = parse_layout(&text, "layout.toml").unwrap();
        let (a, b) = (&l.sections[0], &l.sections[1]);
        assert!(!a.unit_rows, "declared");
        assert!(b.unit_rows, "the default");
        assert_eq!(
            l.columns_of("A", 2024),
            vec![
                PrintedColumn::Seq,
                PrintedColumn::Name,
                PrintedColumn::Unit,
                PrintedColumn::ApprovedEstimate
            ]
        );
        // Kept through the file the store keeps; the default is not written out.
        let kept = l.to_toml();
        assert_eq!(kept.matches("unit_rows").count(), 1, "{kept}");
        assert_eq!(parse_layout(&kept, "db").unwrap(), l);
        assert!(
            parse_layout(
                &LAYOUT.replace("stage = \"contract\"", "unit_rows = \"khong\""),
                "x"
            )
            .is_err()
        );
    }

    #[test]
    fn a_bad_layout_lists_every_problem() {
        let bad = LAYOUT
            .replace("\"su_nghiep_cntt\"", "\"ngan_sach\"")
            .replace("\"Dự toán\"", "\"Số tiền\"");
        let e = parse_layout(&bad, "layout.toml").unwrap_err();
        assert!(e.contains("nguồn kinh phí `ngan_sach`"), "{e}");
        assert!(e.contains("cột «Số tiền»"), "{e}");
        assert!(parse_layout("sections = 3", "x.toml").is_err());
    }
}
