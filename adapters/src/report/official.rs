//! The official progress report SKHCN sends to UBND (issue 16), laid out as an [`Official`]
//! document in the form of NĐ 30/2020/NĐ-CP: the header (issuer, "Số: …/BC-SKHCN", national
//! motto, "Hải Phòng, ngày … tháng … năm …"), "BÁO CÁO" and its subject with the round ("lần 2"),
//! the basis ("Thực hiện …"), the body, **Khó khăn, vướng mắc** and **Đề xuất, kiến nghị** from the
//! round's entries, the closing, Nơi nhận and the signature block, then the appendices.
//!
//! Pure. The figures are the progress report's own ([`super::progress::Parts`]): the overall
//! account, one numbered item per appendix (1–4 for Plan 215), so difficulties and proposals are
//! items 5 and 6. A section SKHCN rewrote (a draft of the round, [`DraftSection`]) replaces the
//! generated text; without a round the document is still complete and says that no unit reported
//! difficulties or proposals.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use engine::round::{DraftSection, RoundReport};
use engine::time::format_date;

use super::model::{Block, Official, Section};
use super::progress::Parts;
use crate::store::Plan;

/// The issuer's superior, the issuer and its symbol, the place (the city's SKHCN).
pub const ISSUER_PARENT: &str = "UBND THÀNH PHỐ HẢI PHÒNG";
pub const ISSUER: &str = "SỞ KHOA HỌC VÀ CÔNG NGHỆ";
pub const ISSUER_NAME: &str = "Sở Khoa học và Công nghệ";
pub const SYMBOL: &str = "BC-SKHCN";
pub const PLACE: &str = "Hải Phòng";

/// What the official document is made of.
pub struct Input<'a> {
    pub plan: &'a Plan,
    pub as_of: NaiveDate,
    pub parts: Parts,
    /// Per section key: the bullets naming the units' proposals to postpone or withdraw that wait
    /// for UBND, with their letters ([`super::proposals::body_blocks`] of the section's rows).
    pub pending_by_section: HashMap<String, Vec<Block>>,
    /// How many such proposals the report lists.
    pub pending: usize,
    /// Their sheet, attached after the appendices.
    pub pending_sheet: Option<Section>,
    pub round: &'a RoundReport,
    /// Task id → the task's name on the report's date.
    pub task_names: &'a HashMap<String, String>,
    /// Unit id → the unit's name on the report's date.
    pub unit_names: &'a HashMap<String, String>,
}

/// "Hải Phòng, ngày 05 tháng 11 năm 2025": NĐ 30 writes a day below 10 and the months 1 and 2
/// with a leading zero.
pub fn place_and_date(place: &str, d: NaiveDate) -> String {
    let month = if d.month() <= 2 {
        format!("{:02}", d.month())
    } else {
        d.month().to_string()
    };
    format!(
        "{place}, ngày {:02} tháng {month} năm {}",
        d.day(),
        d.year()
    )
}

/// A draft's text as paragraphs, one per non-blank line.
fn paragraphs(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn unit_name<'a>(names: &'a HashMap<String, String>, unit: &'a str) -> &'a str {
    names.get(unit).map_or(unit, String::as_str)
}

fn task_name<'a>(names: &'a HashMap<String, String>, task: &'a str) -> &'a str {
    names.get(task).map_or(task, String::as_str)
}

/// The text of a reported item, without its closing full stop.
fn item(text: &str) -> &str {
    text.trim().trim_end_matches(['.', ';'])
}

/// Item 5: difficulties grouped by kind (a, b, c …), then by unit, each with its task.
fn difficulties(input: &Input<'_>) -> Vec<Block> {
    let groups = input.round.difficulties_by_kind();
    if groups.is_empty() {
        return vec![Block::Paragraph(
            "Không có đơn vị nào báo cáo khó khăn, vướng mắc.".into(),
        )];
    }
    let mut out = Vec::new();
    for (i, (kind, items)) in groups.iter().enumerate() {
        let letter = char::from(b'a' + (i % 26) as u8);
        out.push(Block::Paragraph(format!("{letter}) {}:", kind.label())));
        let mut k = 0;
        while k < items.len() {
            let unit = items[k].0;
            let of_unit: Vec<String> = items[k..]
                .iter()
                .take_while(|x| x.0 == unit)
                .map(|(_, task, d)| {
                    format!(
                        "{} (nhiệm vụ «{}»)",
                        item(&d.text),
                        task_name(input.task_names, task)
                    )
                })
                .collect();
            k += of_unit.len();
            out.push(Block::Bullet(format!(
                "{}: {}.",
                unit_name(input.unit_names, unit.as_str()),
                of_unit.join("; ")
            )));
        }
    }
    out
}

/// Item 6: the units' proposals with their letters, then the proposals waiting for UBND's
/// decision.
fn proposals(input: &Input<'_>) -> Vec<Block> {
    let mut out: Vec<Block> = input
        .round
        .proposals()
        .into_iter()
        .map(|(unit, task, p)| {
            let letter = p
                .letter
                .as_deref()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("; {}", l.trim()))
                .unwrap_or_default();
            Block::Bullet(format!(
                "{}: {} (nhiệm vụ «{}»{letter}).",
                unit_name(input.unit_names, unit.as_str()),
                item(&p.text),
                task_name(input.task_names, task)
            ))
        })
        .collect();
    if input.pending > 0 {
        out.push(Block::Bullet(format!(
            "Đề nghị UBND thành phố xem xét, quyết định {} đề xuất tạm hoãn, rút khỏi kế hoạch của các đơn vị nêu tại các mục trên (chi tiết tại phụ lục «Đề xuất chờ quyết định»).",
            input.pending
        )));
    }
    if out.is_empty() {
        out.push(Block::Paragraph(
            "Không có đơn vị nào gửi đề xuất, kiến nghị.".into(),
        ));
    }
    out
}

/// The default Nơi nhận.
fn recipients() -> Vec<String> {
    [
        "- UBND thành phố (để báo cáo);",
        "- Giám đốc Sở (để báo cáo);",
        "- Các cơ quan, đơn vị có nhiệm vụ trong Kế hoạch;",
        "- Lưu: VT.",
    ]
    .map(String::from)
    .to_vec()
}

/// Lays the official document out. See the module documentation.
pub fn build(input: Input<'_>) -> Official {
    let plan = input.plan;
    let round = input.round;
    let draft = |s: DraftSection| round.drafts.get(&s).map(|t| paragraphs(t));
    let issued = plan
        .issued_on
        .map(|d| format!(" ngày {}", format_date(d)))
        .unwrap_or_default();
    let ordinal = round
        .spec
        .as_ref()
        .map(|s| format!(" ({})", s.ordinal()))
        .unwrap_or_default();
    let subject = format!(
        "Tiến độ thực hiện Kế hoạch số {}{issued} của UBND thành phố{ordinal}",
        plan.number
    );
    let basis = draft(DraftSection::CanCu).unwrap_or_else(|| {
        let answering = round
            .spec
            .as_ref()
            .map(|s| format!("Thực hiện {}, ", s.instruction.trim().trim_end_matches('.')))
            .unwrap_or_default();
        vec![format!(
            "{answering}{ISSUER_NAME} báo cáo tiến độ thực hiện Kế hoạch số {}{issued} của UBND thành phố, số liệu tính đến ngày {}, như sau:",
            plan.number,
            format_date(input.as_of)
        )]
    });
    let n = input.parts.accounts.len();
    let mut body = Vec::new();
    match draft(DraftSection::TinhHinh) {
        Some(text) => body.extend(text.into_iter().map(Block::Paragraph)),
        None => {
            body.extend(input.parts.overview.iter().cloned());
            for (i, a) in input.parts.accounts.iter().enumerate() {
                body.push(Block::Heading(format!("{}. {}", i + 1, a.heading)));
                body.extend(a.blocks.iter().cloned());
                if let Some(p) = input.pending_by_section.get(&a.key) {
                    body.extend(p.iter().cloned());
                }
            }
            body.push(input.parts.note.clone());
        }
    }
    body.push(Block::Heading(format!("{}. Khó khăn, vướng mắc", n + 1)));
    match draft(DraftSection::KhoKhan) {
        Some(text) => body.extend(text.into_iter().map(Block::Paragraph)),
        None => body.extend(difficulties(&input)),
    }
    body.push(Block::Heading(format!("{}. Đề xuất, kiến nghị", n + 2)));
    match draft(DraftSection::DeXuat) {
        Some(text) => body.extend(text.into_iter().map(Block::Paragraph)),
        None => body.extend(proposals(&input)),
    }
    let (signer_titles, signer_name) = match &round.signer {
        Some(s) => (
            [&s.on_behalf, &s.title]
                .into_iter()
                .map(|t| t.trim().to_uppercase())
                .filter(|t| !t.is_empty())
                .collect(),
            s.name.trim().to_string(),
        ),
        None => (vec!["GIÁM ĐỐC".to_string()], String::new()),
    };
    let number = match round.doc_number.as_deref().map(str::trim) {
        Some(n) if n.contains('/') => format!("Số: {n}"),
        Some(n) if !n.is_empty() => format!("Số: {n}/{SYMBOL}"),
        _ => format!("Số: ……/{SYMBOL}"),
    };
    let mut appendices = input.parts.appendices;
    appendices.extend(input.pending_sheet);
    Official {
        title: input.parts.title,
        as_of: Some(input.as_of),
        issuer_parent: ISSUER_PARENT.into(),
        issuer: ISSUER.into(),
        number,
        motto_country: "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM".into(),
        motto: "Độc lập - Tự do - Hạnh phúc".into(),
        place_date: place_and_date(PLACE, input.as_of),
        kind: "BÁO CÁO".into(),
        subject,
        basis,
        body,
        closing: format!("{ISSUER_NAME} kính báo cáo UBND thành phố./."),
        recipients: draft(DraftSection::NoiNhan).unwrap_or_else(recipients),
        signer_titles,
        signer_name,
        appendices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_nd30_asks() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            place_and_date("Hải Phòng", d(2025, 11, 5)),
            "Hải Phòng, ngày 05 tháng 11 năm 2025"
        );
        assert_eq!(
            place_and_date("Hải Phòng", d(2026, 2, 14)),
            "Hải Phòng, ngày 14 tháng 02 năm 2026"
        );
        assert_eq!(
            place_and_date("Hải Phòng", d(2025, 3, 9)),
            "Hải Phòng, ngày 09 tháng 3 năm 2025"
        );
    }
}
