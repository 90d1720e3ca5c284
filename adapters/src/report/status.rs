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
use crate::progress::{TRACK_EVERY, Tracker};
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

/// The category of a task over `[from, to]` (local dates). A task whose listing has a
/// year-level status (known by `to`) is judged by it in its plan year
/// ([`engine::plan::categorize_in_year`]), not by its lifecycle: a 5-year rental "hoàn thành
/// năm" counts as completed for the year.
pub fn categorize(r: &ReportRow, from: NaiveDate, to: NaiveDate) -> Category {
    if let Some(y) = r.year_status {
        use engine::plan::YearJudgement;
        return match engine::plan::categorize_in_year(y, r.plan_year, to) {
            YearJudgement::Completed => Category::CompletedOnTime,
            YearJudgement::OnTrack => Category::InProgress,
            YearJudgement::Late => Category::Overdue,
            YearJudgement::Stopped => Category::Withdrawn,
        };
    }
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

/// Refuses a range that ends before it starts.
fn check_range(opts: &StatusOptions) -> Result<(), ReportError> {
    if opts.from > opts.to {
        return Err(ReportError::Invalid(format!(
            "Khoảng thời gian không hợp lệ: từ ngày {} sau đến ngày {}.",
            format_date(opts.from),
            format_date(opts.to)
        )));
    }
    Ok(())
}

/// Builds the status report. `rows` are those of [`crate::store::Reports::report_rows`] at the end of
/// `to`; `scope` names the plan (or "tất cả kế hoạch"). `tracker` hears how many rows have been
/// sorted into categories.
///
/// The steps: sort every task into its category (and find the overdue and the stalled ones);
/// write the summary by unit; the overdue tasks; the stalled tasks.
pub fn build(
    scope: &str,
    rows: &[ReportRow],
    opts: &StatusOptions,
    catalog: &Catalog,
    unit_names: &HashMap<String, String>,
    tracker: &dyn Tracker,
) -> Result<Document, ReportError> {
    check_range(opts)?;
    let ctx = Context {
        scope,
        opts,
        end: end_of_day(opts.to),
        catalog,
        unit_names,
    };
    let tally = Tally::of(&ctx, rows, tracker)?;
    let range = format!(
        "từ ngày {} đến ngày {}",
        format_date(opts.from),
        format_date(opts.to)
    );
    Ok(Document {
        title: format!("Báo cáo tình hình thực hiện nhiệm vụ — {scope} — {range}"),
        sections: vec![
            summary_section(&ctx, &range, rows, &tally),
            overdue_section(&ctx, &tally.overdue)?,
            stalled_section(&ctx, &tally.stalled),
        ],
        as_of: Some(opts.to),
    })
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
    pub holders: String,
}

/// The report's figures before they are laid out, for the overview page: the same tally the
/// report prints, so that the page and the report never disagree.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    /// Units in the order their first task appears.
    pub units: Vec<UnitCounts>,
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
}

/// The figures of the status report over `rows` (those of
/// [`crate::store::Reports::report_rows`] at the end of `opts.to`), as [`build`] counts them.
pub fn summarize<'a>(
    rows: &'a [ReportRow],
    opts: &StatusOptions,
    catalog: &Catalog,
    unit_names: &HashMap<String, String>,
) -> Result<Summary<'a>, ReportError> {
    check_range(opts)?;
    let ctx = Context {
        scope: "",
        opts,
        end: end_of_day(opts.to),
        catalog,
        unit_names,
    };
    let tally = Tally::of(&ctx, rows, &())?;
    let units = tally
        .order
        .iter()
        .map(|u| UnitCounts {
            unit_id: u.clone(),
            unit_name: rows
                .iter()
                .find(|r| &r.unit_id == u)
                .map_or_else(|| u.clone(), |r| ctx.unit_name(r)),
            counts: tally.counts[u],
        })
        .collect();
    let overdue = tally
        .overdue
        .iter()
        .map(|&(row, due, which)| OverdueTask {
            row,
            due,
            which,
            working_days_late: catalog
                .get(&row.workflow, row.workflow_version)
                .and_then(|w| w.calendar.working_days_between(due, ctx.end).ok()),
        })
        .collect();
    let stalled = tally
        .stalled
        .iter()
        .map(|&(row, working_days, _)| StalledTask {
            row,
            working_days,
            holders: who_holds_the_ball(&ctx.step(row).1, &ctx.unit_name(row)),
        })
        .collect();
    Ok(Summary {
        units,
        overdue,
        stalled,
    })
}

/// What every step of the report reads.
struct Context<'a> {
    scope: &'a str,
    opts: &'a StatusOptions,
    /// The end of the range: the end of `to`.
    end: Instant,
    catalog: &'a Catalog,
    unit_names: &'a HashMap<String, String>,
}

impl Context<'_> {
    /// The unit's name at the end of the range.
    fn unit_name(&self, r: &ReportRow) -> String {
        super::unit_name(self.unit_names, r)
    }

    /// The title of the task's current step and whose turn it is there.
    fn step(&self, r: &ReportRow) -> (String, Vec<Role>) {
        self.catalog
            .get(&r.workflow, r.workflow_version)
            .and_then(|w| w.state(&r.state))
            .map(|st| (st.title.clone(), st.roles.clone()))
            .unwrap_or_else(|| (r.phase.title().to_string(), Vec::new()))
    }
}

/// The tasks sorted into categories: counts per unit (in order of first appearance), the tasks
/// completed before the range, the overdue tasks (by deadline) and the stalled ones (longest
/// still first).
struct Tally<'r> {
    order: Vec<String>,
    counts: HashMap<String, [i64; 6]>,
    before: usize,
    overdue: Vec<(&'r ReportRow, Instant, &'static str)>,
    stalled: Vec<(&'r ReportRow, i64, u32)>,
}

impl<'r> Tally<'r> {
    fn of(
        ctx: &Context<'_>,
        rows: &'r [ReportRow],
        tracker: &dyn Tracker,
    ) -> Result<Tally<'r>, ReportError> {
        let mut t = Tally {
            order: Vec::new(),
            counts: HashMap::new(),
            before: 0,
            overdue: Vec::new(),
            stalled: Vec::new(),
        };
        for (done, r) in rows.iter().enumerate() {
            if done % TRACK_EVERY == 0 {
                tracker.advance(done);
            }
            let cat = categorize(r, ctx.opts.from, ctx.opts.to);
            if cat == Category::CompletedBefore {
                t.before += 1;
                continue;
            }
            let c = t.counts.entry(r.unit_id.clone()).or_insert_with(|| {
                t.order.push(r.unit_id.clone());
                [0; 6]
            });
            if let Some(i) = Category::COLUMNS.iter().position(|x| *x == cat) {
                c[i] += 1;
            }
            if cat == Category::Overdue
                && let Some((due, which)) = deadline(r)
            {
                t.overdue.push((r, due, which));
            }
            if matches!(cat, Category::InProgress | Category::Overdue)
                && r.entry_at <= ctx.end
                && let Some(s) = stalled(ctx, r)?
            {
                t.stalled.push(s);
            }
        }
        tracker.advance(rows.len());
        t.stalled.sort_by_key(|s| std::cmp::Reverse(s.1));
        t.overdue.sort_by_key(|o| o.1);
        Ok(t)
    }

    /// The tasks in `c`, over every unit.
    fn count(&self, c: Category) -> i64 {
        let i = Category::COLUMNS.iter().position(|x| *x == c).unwrap_or(0);
        self.counts.values().map(|v| v[i]).sum()
    }
}

/// The open task `r` with the working days it has not moved and the threshold it passed, if it
/// is stalled at the end of the range. Tasks of a workflow no longer loaded are not judged.
fn stalled<'r>(
    ctx: &Context<'_>,
    r: &'r ReportRow,
) -> Result<Option<(&'r ReportRow, i64, u32)>, ReportError> {
    let wf = ctx.catalog.get(&r.workflow, r.workflow_version);
    let threshold = ctx
        .opts
        .stall_days
        .or_else(|| wf.and_then(|w| w.stall_after_working_days))
        .unwrap_or(DEFAULT_STALL_WORKING_DAYS);
    let Some(wf) = wf else {
        return Ok(None);
    };
    let days = wf
        .calendar
        .working_days_between(r.entry_at, ctx.end)
        .map_err(|e| {
            ReportError::Invalid(format!(
                "Không tính được số ngày làm việc của nhiệm vụ «{}»: {e}",
                r.name
            ))
        })?;
    Ok((days >= i64::from(threshold)).then_some((r, days, threshold)))
}

/// The first sheet: totals in words, how they are counted, and the table by unit.
fn summary_section(
    ctx: &Context<'_>,
    range: &str,
    rows: &[ReportRow],
    tally: &Tally<'_>,
) -> Section {
    let scope = ctx.scope;
    let mut summary = Section {
        sheet: "Theo đơn vị".into(),
        freeze_header: true,
        ..Section::default()
    };
    let s = &mut summary.blocks;
    s.push(Block::Title("BÁO CÁO TÌNH HÌNH THỰC HIỆN NHIỆM VỤ".into()));
    s.push(Block::Subtitle(format!("{scope} — {range}")));
    s.push(Block::Paragraph(format!(
        "Tổng số {} nhiệm vụ: {} hoàn thành đúng hạn, {} hoàn thành quá hạn, {} đang thực hiện trong hạn, {} quá hạn; {} tạm hoãn, {} rút khỏi kế hoạch. {} nhiệm vụ không chuyển bước từ ngưỡng đình trệ trở lên.",
        tally.counts.values().map(|v| v.iter().sum::<i64>()).sum::<i64>(),
        tally.count(Category::CompletedOnTime),
        tally.count(Category::CompletedLate),
        tally.count(Category::InProgress),
        tally.count(Category::Overdue),
        tally.count(Category::Postponed),
        tally.count(Category::Withdrawn),
        tally.stalled.len()
    )));
    s.push(Block::Paragraph(
        "Cách tính: hạn của nhiệm vụ là thời hạn của bước đang xử lý (nếu đang chạy) hoặc ngày dự kiến hoàn thành, lấy ngày sớm hơn. Nhiệm vụ hoàn thành trong kỳ là đúng hạn nếu hoàn thành chậm nhất vào ngày dự kiến hoàn thành; nhiệm vụ được nhập từ kế hoạch ở trạng thái đã hoàn thành được tính là đúng hạn. Nhiệm vụ chưa hoàn thành là quá hạn nếu hạn đã qua trước khi hết ngày cuối kỳ.".into(),
    ));
    if tally.before > 0 {
        s.push(Block::Paragraph(format!(
            "{} nhiệm vụ đã hoàn thành trước kỳ báo cáo, không tính vào bảng.",
            tally.before
        )));
    }
    s.push(Block::Table(by_unit_table(ctx, rows, tally)));
    summary
}

/// Per unit, the tasks in each category and in all, closed by a TỔNG row.
fn by_unit_table(ctx: &Context<'_>, rows: &[ReportRow], tally: &Tally<'_>) -> Table {
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
    for (i, u) in tally.order.iter().enumerate() {
        let c = tally.counts[u];
        let name = rows
            .iter()
            .find(|r| &r.unit_id == u)
            .map(|r| ctx.unit_name(r))
            .unwrap_or_else(|| u.clone());
        let mut cells = vec![Cell::text((i + 1).to_string()), Cell::text(name)];
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
    table
}

/// The overdue tasks, by deadline: which deadline it was and how many working days ago.
fn overdue_section(
    ctx: &Context<'_>,
    overdue: &[(&ReportRow, Instant, &'static str)],
) -> Result<Section, ReportError> {
    let mut late = Section {
        sheet: "Quá hạn".into(),
        freeze_header: true,
        ..Section::default()
    };
    late.blocks.push(Block::Title("NHIỆM VỤ QUÁ HẠN".into()));
    late.blocks.push(Block::Subtitle(format!(
        "{} — tính đến hết ngày {}",
        ctx.scope,
        format_date(ctx.opts.to)
    )));
    if overdue.is_empty() {
        late.blocks
            .push(Block::Paragraph("Không có nhiệm vụ quá hạn.".into()));
        return Ok(late);
    }
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
    for (i, (r, due, which)) in overdue.iter().enumerate() {
        let wf = ctx.catalog.get(&r.workflow, r.workflow_version);
        let days = wf
            .map(|w| w.calendar.working_days_between(*due, ctx.end))
            .transpose()
            .map_err(|e| {
                ReportError::Invalid(format!(
                    "Không tính được số ngày quá hạn của nhiệm vụ «{}»: {e}",
                    r.name
                ))
            })?;
        t.rows.push(Row {
            style: RowStyle::Normal,
            cells: vec![
                Cell::text((i + 1).to_string()),
                Cell::text(r.name.clone()),
                Cell::text(ctx.unit_name(r)),
                Cell::text(ctx.step(r).0),
                Cell::text(format_instant(*due)),
                Cell::text(*which),
                days.map(Cell::Count).unwrap_or(Cell::Empty),
            ],
        });
    }
    late.blocks.push(Block::Table(t));
    Ok(late)
}

/// The stalled tasks, longest still first: since when, and whose turn it is.
fn stalled_section(ctx: &Context<'_>, stalled: &[(&ReportRow, i64, u32)]) -> Section {
    let mut stall = Section {
        sheet: "Đình trệ".into(),
        freeze_header: true,
        ..Section::default()
    };
    stall.blocks.push(Block::Title("NHIỆM VỤ ĐÌNH TRỆ".into()));
    stall.blocks.push(Block::Subtitle(format!(
        "{} — không chuyển bước từ {} ngày làm việc trở lên, tính đến hết ngày {}",
        ctx.scope,
        ctx.opts
            .stall_days
            .map(|d| d.to_string())
            .unwrap_or_else(|| format!(
                "ngưỡng của quy trình (mặc định {DEFAULT_STALL_WORKING_DAYS})"
            )),
        format_date(ctx.opts.to)
    )));
    if stalled.is_empty() {
        stall
            .blocks
            .push(Block::Paragraph("Không có nhiệm vụ đình trệ.".into()));
        return stall;
    }
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
    for (i, (r, days, _)) in stalled.iter().enumerate() {
        let (title, roles) = ctx.step(r);
        let unit = ctx.unit_name(r);
        t.rows.push(Row {
            style: RowStyle::Normal,
            cells: vec![
                Cell::text((i + 1).to_string()),
                Cell::text(r.name.clone()),
                Cell::text(unit.clone()),
                Cell::text(title),
                Cell::Count(*days),
                Cell::text(format_instant(r.entry_at)),
                Cell::text(who_holds_the_ball(&roles, &unit)),
            ],
        });
    }
    stall.blocks.push(Block::Table(t));
    stall
}
