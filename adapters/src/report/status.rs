//! The status report for leadership: per unit, the Government Office's four categories
//! (QĐ 42/2014/QĐ-TTg, QĐ 23/2018/QĐ-TTg) — completed on time, completed late, in progress within
//! the deadline, overdue — for a date range, then the overdue tasks and the stalled ones (task,
//! unit, step, working days without movement, who holds the ball). Pure, like the progress report.
//!
//! Definitions (also printed in the report, and in README):
//!
//! - A task is seen as of the end of the range (`to`), described by its audit entry then.
//! - Its **deadline** is the earlier of the running deadline of its current step (the workflow's
//!   clock, not while paused because the dossier is back with the unit) and the end of its
//!   expected completion date ("Thời gian dự kiến hoàn thành", when it is a date).
//! - **Completed** tasks count when they were completed within the range; on time when completed
//!   by the end of the expected completion date (or when there is none), late otherwise. A task
//!   imported as completed has no known completion date: it counts as completed on time.
//!   Tasks completed before the range are left out.
//! - **In progress** tasks (not completed, postponed or withdrawn) are overdue when their deadline
//!   passed before the end of `to`, within the deadline otherwise. Postponed and withdrawn tasks are
//!   shown in their own columns, outside the four categories.
//! - **Stalled**: an open task whose describing entry is at least N working days (engine calendar)
//!   before the end of `to`; N is `--stall-days`, else the workflow's `stall_after_working_days`,
//!   else 10. The ball is with the roles of the task's current step.

use std::collections::HashMap;

use chrono::NaiveDate;
use engine::Phase;
use engine::role::Role;
use engine::time::{Instant, at_local, end_of_day, format_date, format_instant};
use engine::workflow::Catalog;

use super::ReportError;
use super::model::{
    Block, Cell, Column, ColumnKind, Document, HeaderGroup, Row, RowStyle, Section, Table,
};
use crate::store::ReportRow;

/// The default stall threshold, when neither the request nor the workflow sets one.
pub const DEFAULT_STALL_WORKING_DAYS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    CompletedOnTime,
    CompletedLate,
    InProgress,
    Overdue,
    Postponed,
    Withdrawn,
    /// Completed before the range: not in this report.
    CompletedBefore,
}

impl Category {
    pub const COLUMNS: [Category; 6] = [
        Category::CompletedOnTime,
        Category::CompletedLate,
        Category::InProgress,
        Category::Overdue,
        Category::Postponed,
        Category::Withdrawn,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Category::CompletedOnTime => "Hoàn thành đúng hạn",
            Category::CompletedLate => "Hoàn thành quá hạn",
            Category::InProgress => "Đang thực hiện trong hạn",
            Category::Overdue => "Quá hạn",
            Category::Postponed => "Tạm hoãn",
            Category::Withdrawn => "Rút khỏi kế hoạch",
            Category::CompletedBefore => "Hoàn thành trước kỳ báo cáo",
        }
    }
}

/// A task's deadline as this report defines it, and which one it is.
pub fn deadline(r: &ReportRow) -> Option<(Instant, &'static str)> {
    let step = r
        .clock
        .as_ref()
        .filter(|c| c.paused_at.is_none() && !r.paused)
        .map(|c| (c.due_at, "thời hạn của bước"));
    let plan = r
        .expected_completion_on
        .map(|d| (end_of_day(d), "thời gian dự kiến hoàn thành"));
    match (step, plan) {
        (Some(s), Some(p)) => Some(if s.0 <= p.0 { s } else { p }),
        (s, p) => s.or(p),
    }
}

/// The category of a task over `[from, to]` (local dates).
pub fn categorize(r: &ReportRow, from: NaiveDate, to: NaiveDate) -> Category {
    let start = at_local(from, chrono::NaiveTime::MIN);
    let end = end_of_day(to);
    match r.phase {
        Phase::Postponed => Category::Postponed,
        Phase::Withdrawn => Category::Withdrawn,
        Phase::Completed => {
            if r.entry_kind.starts_with("import") {
                return Category::CompletedOnTime;
            }
            if r.entry_at < start {
                return Category::CompletedBefore;
            }
            match r.expected_completion_on.map(end_of_day) {
                Some(due) if r.entry_at > due => Category::CompletedLate,
                _ => Category::CompletedOnTime,
            }
        }
        _ => match deadline(r) {
            Some((due, _)) if due < end => Category::Overdue,
            _ => Category::InProgress,
        },
    }
}

/// Parameters of the status report.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub stall_days: Option<u32>,
}

fn who_holds_the_ball(roles: &[Role], unit: &str) -> String {
    if roles.is_empty() {
        return "—".into();
    }
    let names: Vec<String> = roles
        .iter()
        .map(|r| {
            if r.is_unit_role() {
                format!("{} ({unit})", r.title())
            } else {
                r.title().to_string()
            }
        })
        .collect();
    names.join("; ")
}

/// One unit's line of the status table: its tasks per [`Category::COLUMNS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitCounts {
    pub unit_id: String,
    pub unit_name: String,
    pub counts: [i64; 6],
}

/// An overdue task: its deadline, which deadline that is, and how many working days late it is
/// at the end of the range (when the calendar covers the dates).
#[derive(Debug, Clone)]
pub struct OverdueTask<'a> {
    pub row: &'a ReportRow,
    pub due: Instant,
    pub which: &'static str,
    pub working_days_late: Option<i64>,
}

/// A stalled task: working days without movement since its describing entry, and who holds
/// the ball (the roles of its current step).
#[derive(Debug, Clone)]
pub struct StalledTask<'a> {
    pub row: &'a ReportRow,
    pub working_days: i64,
    pub threshold: u32,
    pub holders: String,
}

/// The figures of the status report before they are laid out: what the report prints and what
/// the overview page draws, computed once.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    /// Units in the order their first task appears.
    pub units: Vec<UnitCounts>,
    /// Tasks completed before the range (left out of the table).
    pub completed_before: usize,
    /// Overdue tasks, earliest deadline first.
    pub overdue: Vec<OverdueTask<'a>>,
    /// Stalled tasks, longest still first.
    pub stalled: Vec<StalledTask<'a>>,
}

impl Summary<'_> {
    /// Tasks of a category over every unit.
    pub fn total(&self, c: Category) -> i64 {
        let i = Category::COLUMNS.iter().position(|x| *x == c).unwrap_or(0);
        self.units.iter().map(|u| u.counts[i]).sum()
    }

    /// Tasks in the table.
    pub fn tasks(&self) -> i64 {
        self.units
            .iter()
            .map(|u| u.counts.iter().sum::<i64>())
            .sum()
    }
}

/// The step a row is at, and whose turn it is there.
fn step_of(r: &ReportRow, catalog: &Catalog) -> (String, Vec<Role>) {
    catalog
        .get(&r.workflow, r.workflow_version)
        .and_then(|w| w.state(&r.state))
        .map(|st| (st.title.clone(), st.roles.clone()))
        .unwrap_or_else(|| (r.phase.title().to_string(), Vec::new()))
}

/// A row's unit as named on the report date.
fn unit_name_of(r: &ReportRow, unit_names: &HashMap<String, String>) -> String {
    unit_names
        .get(&r.unit_id)
        .cloned()
        .or_else(|| r.unit_printed.clone())
        .unwrap_or_else(|| r.unit_id.clone())
}

/// Counts, overdue and stalled tasks of `rows` (those of [`crate::store::Reports::report_rows`] at
/// the end of `opts.to`). See the module documentation for the definitions.
pub fn summarize<'a>(
    rows: &'a [ReportRow],
    opts: &StatusOptions,
    catalog: &Catalog,
    unit_names: &HashMap<String, String>,
) -> Result<Summary<'a>, ReportError> {
    if opts.from > opts.to {
        return Err(ReportError::Invalid(format!(
            "Khoảng thời gian không hợp lệ: từ ngày {} sau đến ngày {}.",
            format_date(opts.from),
            format_date(opts.to)
        )));
    }
    let end = end_of_day(opts.to);
    let mut units: Vec<UnitCounts> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut completed_before = 0usize;
    let mut overdue = Vec::new();
    let mut stalled = Vec::new();
    for r in rows {
        let cat = categorize(r, opts.from, opts.to);
        if cat == Category::CompletedBefore {
            completed_before += 1;
            continue;
        }
        let i = *index.entry(r.unit_id.as_str()).or_insert_with(|| {
            units.push(UnitCounts {
                unit_id: r.unit_id.clone(),
                unit_name: unit_name_of(r, unit_names),
                counts: [0; 6],
            });
            units.len() - 1
        });
        if let Some(c) = Category::COLUMNS.iter().position(|x| *x == cat) {
            units[i].counts[c] += 1;
        }
        let wf = catalog.get(&r.workflow, r.workflow_version);
        if cat == Category::Overdue
            && let Some((due, which)) = deadline(r)
        {
            let working_days_late = wf
                .map(|w| w.calendar.working_days_between(due, end))
                .transpose()
                .map_err(|e| {
                    ReportError::Invalid(format!(
                        "Không tính được số ngày quá hạn của nhiệm vụ «{}»: {e}",
                        r.name
                    ))
                })?;
            overdue.push(OverdueTask {
                row: r,
                due,
                which,
                working_days_late,
            });
        }
        if matches!(cat, Category::InProgress | Category::Overdue) && r.entry_at <= end {
            let threshold = opts
                .stall_days
                .or_else(|| wf.and_then(|w| w.stall_after_working_days))
                .unwrap_or(DEFAULT_STALL_WORKING_DAYS);
            if let Some(wf) = wf {
                let days = wf
                    .calendar
                    .working_days_between(r.entry_at, end)
                    .map_err(|e| {
                        ReportError::Invalid(format!(
                            "Không tính được số ngày làm việc của nhiệm vụ «{}»: {e}",
                            r.name
                        ))
                    })?;
                if days >= i64::from(threshold) {
                    let (_, roles) = step_of(r, catalog);
                    stalled.push(StalledTask {
                        row: r,
                        working_days: days,
                        threshold,
                        holders: who_holds_the_ball(&roles, &unit_name_of(r, unit_names)),
                    });
                }
            }
        }
    }
    stalled.sort_by_key(|s| std::cmp::Reverse(s.working_days));
    overdue.sort_by_key(|o| o.due);
    Ok(Summary {
        units,
        completed_before,
        overdue,
        stalled,
    })
}

/// Builds the status report. `rows` are those of [`crate::store::Reports::report_rows`] at the end of
/// `to`; `scope` names the plan (or "tất cả kế hoạch").
pub fn build(
    scope: &str,
    rows: &[ReportRow],
    opts: &StatusOptions,
    catalog: &Catalog,
    unit_names: &HashMap<String, String>,
) -> Result<Document, ReportError> {
    let summary_data = summarize(rows, opts, catalog, unit_names)?;
    let before = summary_data.completed_before;
    let range = format!(
        "từ ngày {} đến ngày {}",
        format_date(opts.from),
        format_date(opts.to)
    );
    let mut summary = Section {
        sheet: "Theo đơn vị".into(),
        freeze_header: true,
        ..Section::default()
    };
    let s = &mut summary.blocks;
    s.push(Block::Title("BÁO CÁO TÌNH HÌNH THỰC HIỆN NHIỆM VỤ".into()));
    s.push(Block::Subtitle(format!("{scope} — {range}")));
    let n = |c: Category| summary_data.total(c);
    s.push(Block::Paragraph(format!(
        "Tổng số {} nhiệm vụ: {} hoàn thành đúng hạn, {} hoàn thành quá hạn, {} đang thực hiện trong hạn, {} quá hạn; {} tạm hoãn, {} rút khỏi kế hoạch. {} nhiệm vụ không chuyển bước từ ngưỡng đình trệ trở lên.",
        summary_data.tasks(),
        n(Category::CompletedOnTime),
        n(Category::CompletedLate),
        n(Category::InProgress),
        n(Category::Overdue),
        n(Category::Postponed),
        n(Category::Withdrawn),
        summary_data.stalled.len()
    )));
    s.push(Block::Paragraph(
        "Cách tính: hạn của nhiệm vụ là thời hạn của bước đang xử lý (nếu đang chạy) hoặc ngày dự kiến hoàn thành, lấy ngày sớm hơn. Nhiệm vụ hoàn thành trong kỳ là đúng hạn nếu hoàn thành chậm nhất vào ngày dự kiến hoàn thành; nhiệm vụ được nhập từ kế hoạch ở trạng thái đã hoàn thành được tính là đúng hạn. Nhiệm vụ chưa hoàn thành là quá hạn nếu hạn đã qua trước khi hết ngày cuối kỳ.".into(),
    ));
    if before > 0 {
        s.push(Block::Paragraph(format!(
            "{before} nhiệm vụ đã hoàn thành trước kỳ báo cáo, không tính vào bảng."
        )));
    }
    let mut columns = vec![
        Column::new("TT", ColumnKind::Center, 6.0),
        Column::new("Đơn vị", ColumnKind::Text, 45.0),
    ];
    columns.extend(
        Category::COLUMNS
            .iter()
            .map(|c| Column::new(c.title(), ColumnKind::Count, 13.0)),
    );
    columns.push(Column::new("Tổng số", ColumnKind::Count, 10.0));
    let mut table = Table {
        unit_note: None,
        columns,
        header_groups: vec![HeaderGroup {
            title: "Phân loại theo Văn phòng Chính phủ".into(),
            first: 2,
            last: 5,
        }],
        rows: Vec::new(),
    };
    let mut total = [0i64; 6];
    for (i, u) in summary_data.units.iter().enumerate() {
        let c = u.counts;
        let mut cells = vec![
            Cell::text((i + 1).to_string()),
            Cell::text(u.unit_name.clone()),
        ];
        cells.extend(c.iter().map(|v| Cell::Count(*v)));
        cells.push(Cell::Count(c.iter().sum()));
        for k in 0..6 {
            total[k] += c[k];
        }
        table.rows.push(Row {
            style: RowStyle::Normal,
            cells,
        });
    }
    let mut cells = vec![Cell::Empty, Cell::text("TỔNG")];
    cells.extend(total.iter().map(|v| Cell::Count(*v)));
    cells.push(Cell::Count(total.iter().sum()));
    table.rows.push(Row {
        style: RowStyle::Total,
        cells,
    });
    s.push(Block::Table(table));

    let state_title = |r: &ReportRow| step_of(r, catalog);
    let unit_name = |r: &ReportRow| unit_name_of(r, unit_names);

    let mut late = Section {
        sheet: "Quá hạn".into(),
        freeze_header: true,
        ..Section::default()
    };
    late.blocks.push(Block::Title("NHIỆM VỤ QUÁ HẠN".into()));
    late.blocks.push(Block::Subtitle(format!(
        "{scope} — tính đến hết ngày {}",
        format_date(opts.to)
    )));
    let mut t = Table {
        unit_note: None,
        columns: vec![
            Column::new("TT", ColumnKind::Center, 6.0),
            Column::new("Nhiệm vụ", ColumnKind::Text, 55.0),
            Column::new("Đơn vị", ColumnKind::Text, 35.0),
            Column::new("Bước hiện tại", ColumnKind::Text, 40.0),
            Column::new("Hạn", ColumnKind::Center, 18.0),
            Column::new("Loại hạn", ColumnKind::Text, 22.0),
            Column::new("Số ngày làm việc quá hạn", ColumnKind::Count, 12.0),
        ],
        header_groups: Vec::new(),
        rows: Vec::new(),
    };
    for (i, o) in summary_data.overdue.iter().enumerate() {
        let (r, due, which, days) = (o.row, &o.due, o.which, o.working_days_late);
        t.rows.push(Row {
            style: RowStyle::Normal,
            cells: vec![
                Cell::text((i + 1).to_string()),
                Cell::text(r.name.clone()),
                Cell::text(unit_name(r)),
                Cell::text(state_title(r).0),
                Cell::text(format_instant(*due)),
                Cell::text(which),
                days.map(Cell::Count).unwrap_or(Cell::Empty),
            ],
        });
    }
    if summary_data.overdue.is_empty() {
        late.blocks
            .push(Block::Paragraph("Không có nhiệm vụ quá hạn.".into()));
    } else {
        late.blocks.push(Block::Table(t));
    }

    let mut stall = Section {
        sheet: "Đình trệ".into(),
        freeze_header: true,
        ..Section::default()
    };
    stall.blocks.push(Block::Title("NHIỆM VỤ ĐÌNH TRỆ".into()));
    stall.blocks.push(Block::Subtitle(format!(
        "{scope} — không chuyển bước từ {} ngày làm việc trở lên, tính đến hết ngày {}",
        opts.stall_days
            .map(|d| d.to_string())
            .unwrap_or_else(|| format!(
                "ngưỡng của quy trình (mặc định {DEFAULT_STALL_WORKING_DAYS})"
            )),
        format_date(opts.to)
    )));
    let mut t = Table {
        unit_note: None,
        columns: vec![
            Column::new("TT", ColumnKind::Center, 6.0),
            Column::new("Nhiệm vụ", ColumnKind::Text, 55.0),
            Column::new("Đơn vị", ColumnKind::Text, 35.0),
            Column::new("Bước hiện tại", ColumnKind::Text, 40.0),
            Column::new(
                "Số ngày làm việc không chuyển bước",
                ColumnKind::Count,
                14.0,
            ),
            Column::new("Từ ngày", ColumnKind::Center, 18.0),
            Column::new("Đang chờ (lượt xử lý của)", ColumnKind::Text, 40.0),
        ],
        header_groups: Vec::new(),
        rows: Vec::new(),
    };
    for (i, st) in summary_data.stalled.iter().enumerate() {
        let (r, days) = (st.row, &st.working_days);
        let (title, _) = state_title(r);
        let unit = unit_name(r);
        t.rows.push(Row {
            style: RowStyle::Normal,
            cells: vec![
                Cell::text((i + 1).to_string()),
                Cell::text(r.name.clone()),
                Cell::text(unit.clone()),
                Cell::text(title),
                Cell::Count(*days),
                Cell::text(format_instant(r.entry_at)),
                Cell::text(st.holders.clone()),
            ],
        });
    }
    if summary_data.stalled.is_empty() {
        stall
            .blocks
            .push(Block::Paragraph("Không có nhiệm vụ đình trệ.".into()));
    } else {
        stall.blocks.push(Block::Table(t));
    }
    Ok(Document {
        title: format!("Báo cáo tình hình thực hiện nhiệm vụ — {scope} — {range}"),
        sections: vec![summary, late, stall],
    })
}
