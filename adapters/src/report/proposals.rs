//! The units' proposals still waiting for UBND (issue 15, item 2), as a section of the progress
//! and status reports: which task, which unit, what it proposes, and its letter ("Công văn số
//! 5796/SVHTTDL… ngày 04/11/2025"). Pure: the caller reads the rows and the pending proposals.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use engine::money::format_million_vnd;
use engine::proposal::ProposalKind;
use engine::time::{format_date, local_date};
use engine::workflow::Catalog;

use super::model::{Block, Cell, Column, ColumnKind, Row, RowStyle, Section, Table};
use crate::store::{ProposalRecord, ReportRow};

/// The pending proposals a report on `as_of` lists: those of its `rows` (its plan and units)
/// whose letter (or, without a date, whose record) is not after `as_of`.
pub fn of_report<'p>(
    rows: &[ReportRow],
    pending: &'p [ProposalRecord],
    as_of: NaiveDate,
) -> Vec<&'p ProposalRecord> {
    let pending: Vec<&ProposalRecord> = pending
        .iter()
        .filter(|p| p.letter_date.unwrap_or_else(|| local_date(p.proposed_at)) <= as_of)
        .collect();
    let listed = rows_of(rows, &pending);
    pending
        .into_iter()
        .filter(|p| listed.contains_key(p.task_id.as_str()))
        .collect()
}

/// The rows of the tasks `pending` proposals are about, by task id: a report of 100,000 tasks
/// has a few proposals pending, so only their ids are looked up, one row at a time.
fn rows_of<'r>(
    rows: impl IntoIterator<Item = &'r ReportRow>,
    pending: &[&ProposalRecord],
) -> HashMap<&'r str, &'r ReportRow> {
    if pending.is_empty() {
        return HashMap::new();
    }
    let wanted: HashSet<&str> = pending.iter().map(|p| p.task_id.as_str()).collect();
    rows.into_iter()
        .filter(|r| wanted.contains(r.task_id.as_str()))
        .map(|r| (r.task_id.as_str(), r))
        .collect()
}

/// The body's bullets, one per kind: "Đề xuất rút khỏi kế hoạch, chờ UBND thành phố quyết định
/// (1 nhiệm vụ): «…» (đơn vị): nhu cầu kinh phí 495 triệu đồng, văn bản số … ngày …".
pub fn body_blocks<'r>(
    rows: impl IntoIterator<Item = &'r ReportRow>,
    pending: &[&ProposalRecord],
    unit_names: &HashMap<String, String>,
) -> Vec<Block> {
    let by_task = rows_of(rows, pending);
    let mut out = Vec::new();
    for kind in ProposalKind::ALL {
        let named: Vec<String> = pending
            .iter()
            .filter(|p| p.kind() == Some(kind))
            .filter_map(|p| by_task.get(p.task_id.as_str()).map(|r| (p, r)))
            .map(|(p, r)| {
                format!(
                    "«{}» ({}): nhu cầu kinh phí {}, {}",
                    r.name,
                    super::unit_name(unit_names, r),
                    r.budget[0]
                        .map(|v| format!("{} triệu đồng", format_million_vnd(v, 3)))
                        .unwrap_or_else(|| "chưa có".into()),
                    p.letter_reference()
                )
            })
            .collect();
        if !named.is_empty() {
            out.push(Block::Bullet(format!(
                "Đề xuất {}, chờ UBND thành phố quyết định ({} nhiệm vụ): {}.",
                kind.title(),
                named.len(),
                named.join("; ")
            )));
        }
    }
    out
}

/// The sheet of pending proposals among the report's `rows` (its plan and units), or `None` when
/// there is none.
pub fn section(
    rows: &[ReportRow],
    pending: &[&ProposalRecord],
    catalog: &Catalog,
    unit_names: &HashMap<String, String>,
) -> Option<Section> {
    let by_task = rows_of(rows, pending);
    let listed: Vec<(&ProposalRecord, &ReportRow)> = pending
        .iter()
        .filter_map(|p| by_task.get(p.task_id.as_str()).map(|r| (*p, *r)))
        .collect();
    if listed.is_empty() {
        return None;
    }
    let columns = vec![
        Column::new("TT", ColumnKind::Center, 5.0),
        Column::new("Tên nhiệm vụ", ColumnKind::Text, 45.0),
        Column::new("Đơn vị chủ trì", ColumnKind::Text, 28.0),
        Column::new("Đề xuất", ColumnKind::Text, 26.0),
        Column::new("Văn bản đề xuất", ColumnKind::Text, 30.0),
        Column::new("Bước hiện tại", ColumnKind::Text, 30.0),
        Column::new("Ngày ghi nhận", ColumnKind::Center, 12.0),
    ];
    let table_rows = listed
        .iter()
        .enumerate()
        .map(|(i, (p, r))| {
            let step = catalog
                .get(&r.workflow, r.workflow_version)
                .and_then(|w| w.state(&r.state))
                .map_or_else(|| r.state.clone(), |s| s.title.clone());
            Row {
                style: RowStyle::Normal,
                cells: vec![
                    Cell::text((i + 1).to_string()),
                    Cell::text(r.name.clone()),
                    Cell::text(super::unit_name(unit_names, r)),
                    Cell::text(
                        p.kind()
                            .map_or_else(|| p.kind.clone(), |k| capitalized(k.title())),
                    ),
                    Cell::text(capitalized(&p.letter_reference())),
                    Cell::text(step),
                    Cell::text(format_date(local_date(p.proposed_at))),
                ],
            }
        })
        .collect();
    Some(Section {
        sheet: "Đề xuất chờ quyết định".into(),
        blocks: vec![
            Block::Heading(format!(
                "Đề xuất của đơn vị chờ UBND thành phố quyết định: {} nhiệm vụ",
                listed.len()
            )),
            Block::Paragraph(
                "Nhiệm vụ có đề xuất tạm hoãn hoặc rút khỏi kế hoạch vẫn ở bước hiện tại cho đến khi UBND thành phố quyết định."
                    .into(),
            ),
            Block::Table(Table {
                unit_note: None,
                columns,
                header_groups: Vec::new(),
                rows: table_rows,
            }),
        ],
        freeze_header: true,
    })
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
