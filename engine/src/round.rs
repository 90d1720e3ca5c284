//! Reporting rounds (đợt báo cáo, issue 16): SKHCN opens a round for a plan ("lần 2"), answering
//! an instruction ("Thực hiện Thông báo số 620/TB-VP …"), with a cut-off date for the figures and
//! a due date for the units. Each unit enters, per task, its progress, its difficulties and its
//! proposals for that round; the unit head submits. SKHCN may edit the generated sections of the
//! official report before exporting it.
//!
//! These are the types the store keeps, the front ends parse and show, and the official report
//! prints, with the rules that need no I/O. Texts are checked with [`crate::input::clean_text`]
//! by whoever builds them from user input.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::UnitId;

/// Longest progress, difficulty or proposal text, in characters.
pub const MAX_TEXT: usize = 4000;
/// Longest instruction ("Thực hiện Thông báo số …"), letter number or signer field.
pub const MAX_LINE: usize = 500;

/// What SKHCN declares when it opens a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundSpec {
    /// The round's number within its plan and year: 1, 2, … ("lần 2").
    pub number: u32,
    /// The date the figures are as of (số liệu tính đến ngày).
    pub cut_off: NaiveDate,
    /// The instruction the report answers, as printed after "Thực hiện …"
    /// ("Thông báo số 620/TB-VP ngày 20/10/2025 của Văn phòng UBND thành phố").
    pub instruction: String,
    /// The date by which the units must submit their entries.
    pub units_due: NaiveDate,
}

impl RoundSpec {
    /// Checks what a person typed; the error is Vietnamese, for the user.
    pub fn check(&self) -> Result<(), String> {
        if self.number == 0 {
            return Err("số thứ tự đợt báo cáo phải từ 1 trở lên".into());
        }
        if self.instruction.trim().is_empty() {
            return Err("cần ghi văn bản chỉ đạo mà báo cáo thực hiện (ví dụ: Thông báo số 620/TB-VP ngày 20/10/2025)".into());
        }
        if self.instruction.chars().count() > MAX_LINE {
            return Err(format!("văn bản chỉ đạo dài quá {MAX_LINE} ký tự"));
        }
        Ok(())
    }

    /// "lần 2", as the report's title prints it.
    pub fn ordinal(&self) -> String {
        format!("lần {}", self.number)
    }
}

/// The kinds under which the report groups difficulties (mục 5. Khó khăn, vướng mắc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifficultyKind {
    /// Thủ tục, hồ sơ, thẩm định.
    ThuTuc,
    /// Kinh phí, bố trí vốn.
    KinhPhi,
    /// Lựa chọn nhà thầu.
    LuaChonNhaThau,
    /// Kỹ thuật, hạ tầng, kết nối.
    KyThuat,
    /// Nhân lực.
    NhanLuc,
    /// Khác.
    Khac,
}

impl DifficultyKind {
    /// In the order the report prints them.
    pub const ALL: [DifficultyKind; 6] = [
        DifficultyKind::ThuTuc,
        DifficultyKind::KinhPhi,
        DifficultyKind::LuaChonNhaThau,
        DifficultyKind::KyThuat,
        DifficultyKind::NhanLuc,
        DifficultyKind::Khac,
    ];

    /// The code used in the CLI, the API and storage (`thu_tuc`, `kinh_phi`, …).
    pub fn code(self) -> &'static str {
        match self {
            DifficultyKind::ThuTuc => "thu_tuc",
            DifficultyKind::KinhPhi => "kinh_phi",
            DifficultyKind::LuaChonNhaThau => "lua_chon_nha_thau",
            DifficultyKind::KyThuat => "ky_thuat",
            DifficultyKind::NhanLuc => "nhan_luc",
            DifficultyKind::Khac => "khac",
        }
    }

    /// The heading the report prints for the kind.
    pub fn label(self) -> &'static str {
        match self {
            DifficultyKind::ThuTuc => "Về thủ tục, hồ sơ và thẩm định",
            DifficultyKind::KinhPhi => "Về kinh phí",
            DifficultyKind::LuaChonNhaThau => "Về lựa chọn nhà thầu",
            DifficultyKind::KyThuat => "Về kỹ thuật, hạ tầng",
            DifficultyKind::NhanLuc => "Về nhân lực",
            DifficultyKind::Khac => "Khó khăn khác",
        }
    }

    /// Parses a code; the error lists the codes allowed.
    pub fn parse(code: &str) -> Result<DifficultyKind, String> {
        DifficultyKind::ALL
            .into_iter()
            .find(|k| k.code() == code.trim())
            .ok_or_else(|| {
                let allowed: Vec<_> = DifficultyKind::ALL
                    .iter()
                    .map(|k| format!("{} ({})", k.code(), k.label()))
                    .collect();
                format!(
                    "loại khó khăn `{code}` không có; các loại: {}",
                    allowed.join(", ")
                )
            })
    }
}

/// One difficulty a unit reports for a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difficulty {
    pub kind: DifficultyKind,
    pub text: String,
}

/// One proposal (đề xuất, kiến nghị) a unit makes for a task, with the letter that carries it
/// when there is one ("Công văn số 123/SYT-KHTC ngày 01/11/2025").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub text: String,
    pub letter: Option<String>,
}

/// What a unit entered for one task in one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub task_id: String,
    pub unit: UnitId,
    /// The unit's own progress text (tình hình thực hiện) as of the cut-off.
    pub progress: String,
    pub difficulties: Vec<Difficulty>,
    pub proposals: Vec<Proposal>,
}

impl Entry {
    /// Checks the texts' lengths; the error is Vietnamese, for the user.
    pub fn check(&self) -> Result<(), String> {
        let long = |t: &str| t.chars().count() > MAX_TEXT;
        if long(&self.progress) {
            return Err(format!("tình hình thực hiện dài quá {MAX_TEXT} ký tự"));
        }
        if self.difficulties.iter().any(|d| long(&d.text)) {
            return Err(format!("một khó khăn dài quá {MAX_TEXT} ký tự"));
        }
        if self.difficulties.iter().any(|d| d.text.trim().is_empty()) {
            return Err("một khó khăn để trống: ghi nội dung hoặc bỏ dòng đó".into());
        }
        if self.proposals.iter().any(|p| long(&p.text)) {
            return Err(format!("một đề xuất dài quá {MAX_TEXT} ký tự"));
        }
        if self.proposals.iter().any(|p| p.text.trim().is_empty()) {
            return Err("một đề xuất để trống: ghi nội dung hoặc bỏ dòng đó".into());
        }
        if self
            .proposals
            .iter()
            .filter_map(|p| p.letter.as_deref())
            .any(|l| l.chars().count() > MAX_LINE)
        {
            return Err(format!("số văn bản của đề xuất dài quá {MAX_LINE} ký tự"));
        }
        Ok(())
    }
}

/// The sections of the official report SKHCN may rewrite before exporting (a draft stored with
/// the round). A section without a draft is generated from the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftSection {
    /// The basis paragraph ("Thực hiện …, Sở Khoa học và Công nghệ báo cáo …").
    CanCu,
    /// The overall figures and the per-appendix account (mục 1–4).
    TinhHinh,
    /// 5. Khó khăn, vướng mắc.
    KhoKhan,
    /// 6. Đề xuất, kiến nghị.
    DeXuat,
    /// Nơi nhận, one recipient per line.
    NoiNhan,
}

impl DraftSection {
    pub const ALL: [DraftSection; 5] = [
        DraftSection::CanCu,
        DraftSection::TinhHinh,
        DraftSection::KhoKhan,
        DraftSection::DeXuat,
        DraftSection::NoiNhan,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DraftSection::CanCu => "can_cu",
            DraftSection::TinhHinh => "tinh_hinh",
            DraftSection::KhoKhan => "kho_khan",
            DraftSection::DeXuat => "de_xuat",
            DraftSection::NoiNhan => "noi_nhan",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DraftSection::CanCu => "Căn cứ",
            DraftSection::TinhHinh => "Tình hình thực hiện",
            DraftSection::KhoKhan => "5. Khó khăn, vướng mắc",
            DraftSection::DeXuat => "6. Đề xuất, kiến nghị",
            DraftSection::NoiNhan => "Nơi nhận",
        }
    }

    pub fn parse(code: &str) -> Result<DraftSection, String> {
        DraftSection::ALL
            .into_iter()
            .find(|s| s.code() == code.trim())
            .ok_or_else(|| {
                let allowed: Vec<_> = DraftSection::ALL.iter().map(|s| s.code()).collect();
                format!(
                    "mục `{code}` không sửa được; các mục sửa được: {}",
                    allowed.join(", ")
                )
            })
    }
}

/// Who signs the report: "KT. GIÁM ĐỐC" / "PHÓ GIÁM ĐỐC" / the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    /// "KT. GIÁM ĐỐC" (signing on behalf), or empty when the director signs.
    pub on_behalf: String,
    /// "PHÓ GIÁM ĐỐC".
    pub title: String,
    pub name: String,
}

/// Everything a round adds to the official report: the round, every unit's entries, SKHCN's
/// edited sections, the document number and the signer. The store builds it; the report prints it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoundReport {
    pub spec: Option<RoundSpec>,
    /// "Số: …/BC-SKHCN": the number part, when SKHCN has one (blank dots are printed otherwise).
    pub doc_number: Option<String>,
    pub signer: Option<Signer>,
    pub entries: Vec<Entry>,
    /// Sections SKHCN rewrote, keyed by section; each replaces the generated text.
    pub drafts: std::collections::BTreeMap<DraftSection, String>,
}

/// One reported item with the unit and the task it belongs to.
pub type Item<'a, T> = (&'a UnitId, &'a str, &'a T);

impl RoundReport {
    /// Difficulties grouped by kind (in [`DifficultyKind::ALL`]'s order), then by unit (in
    /// unit id order), with the task each belongs to.
    pub fn difficulties_by_kind(&self) -> Vec<(DifficultyKind, Vec<Item<'_, Difficulty>>)> {
        let mut out = Vec::new();
        for kind in DifficultyKind::ALL {
            let mut items: Vec<Item<'_, Difficulty>> = self
                .entries
                .iter()
                .flat_map(|e| {
                    e.difficulties
                        .iter()
                        .filter(move |d| d.kind == kind)
                        .map(move |d| (&e.unit, e.task_id.as_str(), d))
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            items.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(b.1)));
            out.push((kind, items));
        }
        out
    }

    /// Proposals in unit id order, with the task each belongs to.
    pub fn proposals(&self) -> Vec<Item<'_, Proposal>> {
        let mut items: Vec<_> = self
            .entries
            .iter()
            .flat_map(|e| {
                e.proposals
                    .iter()
                    .map(move |p| (&e.unit, e.task_id.as_str(), p))
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(b.1)));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(s: &str) -> UnitId {
        UnitId::parse(s).unwrap()
    }

    #[test]
    fn kinds_and_sections_parse_their_codes_and_list_the_others() {
        for k in DifficultyKind::ALL {
            assert_eq!(DifficultyKind::parse(k.code()), Ok(k));
        }
        let err = DifficultyKind::parse("tien").unwrap_err();
        assert!(
            err.contains("kinh_phi") && err.contains("Về kinh phí"),
            "{err}"
        );
        for s in DraftSection::ALL {
            assert_eq!(DraftSection::parse(s.code()), Ok(s));
        }
        assert!(DraftSection::parse("x").unwrap_err().contains("kho_khan"));
    }

    #[test]
    fn a_round_needs_a_number_and_an_instruction() {
        let d = NaiveDate::from_ymd_opt(2025, 11, 5).unwrap();
        let mut spec = RoundSpec {
            number: 2,
            cut_off: d,
            instruction: "Thông báo số 620/TB-VP".into(),
            units_due: d,
        };
        assert_eq!(spec.check(), Ok(()));
        assert_eq!(spec.ordinal(), "lần 2");
        spec.number = 0;
        assert!(spec.check().is_err());
        spec.number = 1;
        spec.instruction = "  ".into();
        assert!(spec.check().unwrap_err().contains("văn bản chỉ đạo"));
    }

    #[test]
    fn difficulties_group_by_kind_then_unit() {
        let entry = |u: &str, t: &str, ds: Vec<(DifficultyKind, &str)>| Entry {
            task_id: t.into(),
            unit: unit(u),
            progress: String::new(),
            difficulties: ds
                .into_iter()
                .map(|(kind, text)| Difficulty {
                    kind,
                    text: text.into(),
                })
                .collect(),
            proposals: vec![Proposal {
                text: format!("đề xuất của {u}"),
                letter: None,
            }],
        };
        let report = RoundReport {
            entries: vec![
                entry(
                    "so-y-te",
                    "t2",
                    vec![(DifficultyKind::KinhPhi, "chưa có vốn")],
                ),
                entry(
                    "so-giao-duc",
                    "t1",
                    vec![
                        (DifficultyKind::KinhPhi, "thiếu vốn"),
                        (DifficultyKind::ThuTuc, "hồ sơ trả lại"),
                    ],
                ),
            ],
            ..RoundReport::default()
        };
        let groups = report.difficulties_by_kind();
        let kinds: Vec<_> = groups.iter().map(|g| g.0).collect();
        assert_eq!(kinds, [DifficultyKind::ThuTuc, DifficultyKind::KinhPhi]);
        let units: Vec<_> = groups[1].1.iter().map(|i| i.0.as_str()).collect();
        assert_eq!(units, ["so-giao-duc", "so-y-te"]);
        assert_eq!(report.proposals()[0].0.as_str(), "so-giao-duc");
    }

    #[test]
    fn an_entry_refuses_blank_items_and_overlong_texts() {
        let mut e = Entry {
            task_id: "t".into(),
            unit: unit("so-y-te"),
            progress: "đang thẩm định".into(),
            difficulties: vec![],
            proposals: vec![],
        };
        assert_eq!(e.check(), Ok(()));
        e.proposals.push(Proposal {
            text: " ".into(),
            letter: None,
        });
        assert!(e.check().is_err());
        e.proposals.clear();
        e.progress = "x".repeat(MAX_TEXT + 1);
        assert!(e.check().is_err());
    }
}
