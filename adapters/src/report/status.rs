//! The status report for leadership: per unit, the Government Office's four categories
//! (QĐ 42/2014/QĐ-TTg, QĐ 23/2018/QĐ-TTg) — completed on time, completed late, in progress within
//! the deadline, overdue — for a date range, then the overdue tasks and the stalled ones (task,
//! unit, step, working days without movement, who holds the ball). Pure, like the progress report.
//!
//! Definitions (also printed in the report, and in README); the categories are
//! `engine::assigned`'s:
//!
//! - A task is seen as of the end of the range (`to`), described by its audit entry then.
//! - Its **assigned deadline** (thời hạn giao) is a deadline a leader set (`tiendo task deadline`,
//!   `PUT /api/v1/tasks/{id}/deadline`), else the plan's expected completion date ("Thời gian dự
//!   kiến hoàn thành", when it is a date). A step's own deadline (an appraiser's service level)
//!   never makes a task overdue: a late step is listed on the sheet "Chậm xử lý", grouped by who
//!   holds the ball.
//! - **Completed** tasks count when they were completed within the range; on time when completed
//!   by the end of the assigned deadline (or when there is none), late otherwise. A task imported
//!   as completed has no known completion date: it counts as completed on time. Tasks completed
//!   before the range are left out.
//! - **In progress** tasks (not completed, postponed or withdrawn) are overdue when their assigned
//!   deadline ended before the end of `to`, within the deadline otherwise; without an assigned
//!   deadline they are **standing** ("Thường xuyên"), their own column. Postponed and withdrawn
//!   tasks are shown in their own columns.
//! - **Chậm xử lý**: an open task whose current step's running deadline passed before the end of
//!   `to`, grouped by the roles whose turn it is.
//! - **Stalled**: an open task whose last move (a transition, its creation or import, or a
//!   re-import that changed its state; not an upload, a deadline, budget or migration entry) is
//!   at least N working days (engine calendar) before the end of `to`; N is `--stall-days`, else
//!   the workflow's `stall_after_working_days`, else 10. The ball is with the roles of the task's
//!   current step.

use std::collections::HashMap;

use chrono::NaiveDate;
use engine::Phase;
use engine::role::Role;
use engine::time::{Instant, end_of_day, format_date, format_instant};
use engine::workflow::Catalog;

use super::ReportError;
use super::model::{Block, Cell, Column, ColumnKind, HeaderGroup, Row, RowStyle, Section, Table};
use crate::progress::{TRACK_EVERY, Tracker};
use crate::store::ReportRow;

/// The default stall threshold, when neither the request nor the workflow sets one.
pub const DEFAULT_STALL_WORKING_DAYS: u32 = 10;

pub use engine::assigned::Category;

/// The number of the report's category columns.
const COLUMN_COUNT: usize = Category::COLUMNS.len();

/// A task's assigned deadline (the end of its day) and where it comes from.
pub fn deadline(r: &ReportRow) -> Option<(Instant, &'static str)> {
    match (r.assigned_deadline_on, r.expected_completion_on) {
        (Some(d), _) => Some((end_of_day(d), "thời hạn giao (lãnh đạo đặt)")),
        (None, Some(d)) => Some((end_of_day(d), "thời gian dự kiến hoàn thành")),
        (None, None) => None,
    }
}

/// The category of a task over `[from, to]` (local dates): `engine::assigned::categorize`. A
/// task whose listing has a year-level status (known by `to`) is judged by it in its plan year
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
    engine::assigned::categorize(
        &engine::assigned::Seen {
            phase: r.phase,
            since: r.entry_at,
            imported: r.phase == Phase::Completed && r.entry_kind.starts_with("import"),
            deadline: engine::assigned::assigned_deadline(
                r.expected_completion_on,
                r.assigned_deadline_on,
            ),
        },
        from,
        to,
    )
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

/// A count of working days the loaded calendars cannot make (a date of a year no calendar file
/// covers): well-formed input that cannot be processed, 422 over HTTP, in the users' words.
fn uncountable(what: &str, task: &str, e: &engine::calendar::CalendarError) -> ReportError {
    ReportError::Store(crate::store::StoreError::Unprocessable(format!(
        "Không tính được {what} của nhiệm vụ «{task}»: {}",
        engine::wording::calendar_error(e)
    )))
}

/// "từ ngày 01/01/2025 đến ngày 04/12/2026".
fn range_text(opts: &StatusOptions) -> String {
    format!(
        "từ ngày {} đến ngày {}",
        format_date(opts.from),
        format_date(opts.to)
    )
}

/// The status report's title (HTML `<title>`, XLSX properties); `scope` names the plan (or
/// "tất cả kế hoạch").
pub fn title(scope: &str, opts: &StatusOptions) -> String {
    format!(
        "Báo cáo tình hình thực hiện nhiệm vụ — {scope} — {}",
        range_text(opts)
    )
}

/// Builds the status report and hands each of its sections to `out` as soon as it is built, so
/// that the caller can write it and drop it before the next (a 100,000-task plan has three lists
/// as long as the plan). `rows` are those of [`crate::store::Reports::report_rows`] at the end of
/// `to`, consumed by the last section (each row freed once its forecast is listed); `scope` names the plan (or "tất cả kế hoạch"). `tracker` hears how many rows have been
/// sorted into categories.
///
/// The steps: sort every task into its category (and find the overdue and the stalled ones);
/// write the summary by unit; the overdue tasks; the late steps; the stalled tasks; the
/// forecast.
pub fn write(
    scope: &str,
    rows: Vec<ReportRow>,
    opts: &StatusOptions,
    catalog: &Catalog,
    unit_names: &HashMap<String, String>,
    tracker: &dyn Tracker,
    out: &mut dyn FnMut(Section) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    check_range(opts)?;
    let ctx = Context {
        scope,
        opts,
        end: end_of_day(opts.to),
        catalog,
        unit_names,
    };
    {
        let tally = Tally::of(&ctx, &rows, tracker)?;
        out(summary_section(&ctx, &range_text(opts), &rows, &tally))?;
        out(overdue_section(&ctx, &tally.overdue)?)?;
        out(step_late_section(&ctx, &tally.step_late)?)?;
        out(stalled_section(&ctx, &tally.stalled))?;
    }
    out(forecast_section(&ctx, rows))
}

/// One unit's line of the status table: its tasks per [`Category::COLUMNS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitCounts {
    pub unit_id: String,
    pub unit_name: String,
    pub counts: [i64; COLUMN_COUNT],
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
    counts: HashMap<String, [i64; COLUMN_COUNT]>,
    before: usize,
    overdue: Vec<(&'r ReportRow, Instant, &'static str)>,
    /// Open tasks whose current step's own deadline passed ("chậm xử lý"), with that deadline.
    step_late: Vec<(&'r ReportRow, Instant)>,
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
            step_late: Vec::new(),
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
                [0; COLUMN_COUNT]
            });
            if let Some(i) = Category::COLUMNS.iter().position(|x| *x == cat) {
                c[i] += 1;
            }
            if cat == Category::Overdue
                && let Some((due, which)) = deadline(r)
            {
                t.overdue.push((r, due, which));
            }
            let open = matches!(
                cat,
                Category::InProgress | Category::Overdue | Category::Standing
            );
            if open
                && r.is_latest
                && let Some(due) =
                    engine::assigned::step_late_since(r.clock.as_ref(), r.paused, ctx.end)
            {
                t.step_late.push((r, due));
            }
            if open
                && r.moved_at <= ctx.end
                && let Some(s) = stalled(ctx, r)?
            {
                t.stalled.push(s);
            }
        }
        tracker.advance(rows.len());
        t.stalled.sort_by_key(|s| std::cmp::Reverse(s.1));
        t.overdue.sort_by_key(|o| o.1);
        t.step_late.sort_by_key(|o| o.1);
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
        .working_days_between(r.moved_at, ctx.end)
        .map_err(|e| uncountable("số ngày làm việc", &r.name, &e))?;
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
        "Tổng số {} nhiệm vụ: {} hoàn thành đúng hạn, {} hoàn thành quá hạn, {} đang thực hiện trong hạn, {} quá hạn; {} thường xuyên (không có thời hạn giao); {} tạm hoãn, {} rút khỏi kế hoạch. {} nhiệm vụ chậm xử lý ở bước hiện tại; {} nhiệm vụ không chuyển bước từ ngưỡng đình trệ trở lên.",
        tally.counts.values().map(|v| v.iter().sum::<i64>()).sum::<i64>(),
        tally.count(Category::CompletedOnTime),
        tally.count(Category::CompletedLate),
        tally.count(Category::InProgress),
        tally.count(Category::Overdue),
        tally.count(Category::Standing),
        tally.count(Category::Postponed),
        tally.count(Category::Withdrawn),
        tally.step_late.len(),
        tally.stalled.len()
    )));
    s.push(Block::Paragraph(
        "Cách tính (QĐ 42/2014/QĐ-TTg, QĐ 23/2018/QĐ-TTg): hạn của nhiệm vụ là thời hạn giao — thời hạn do lãnh đạo đặt, nếu có, nếu không là thời gian dự kiến hoàn thành trong kế hoạch. Nhiệm vụ hoàn thành trong kỳ là đúng hạn nếu hoàn thành chậm nhất vào ngày của thời hạn giao; nhiệm vụ được nhập từ kế hoạch ở trạng thái đã hoàn thành được tính là đúng hạn. Nhiệm vụ chưa hoàn thành là quá hạn nếu thời hạn giao đã qua trước khi hết ngày cuối kỳ; nhiệm vụ không có thời hạn giao là nhiệm vụ thường xuyên. Thời hạn của từng bước xử lý (thẩm định, cho ý kiến…) không làm nhiệm vụ quá hạn: bước quá thời hạn được liệt kê ở trang «Chậm xử lý».".into(),
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
    let mut total = [0i64; COLUMN_COUNT];
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
        for k in 0..COLUMN_COUNT {
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
            .map_err(|e| uncountable("số ngày quá hạn", &r.name, &e))?;
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

/// The open tasks whose current step is past its own deadline ("chậm xử lý"), grouped by who
/// holds the ball, each group latest deadline last.
fn step_late_section(
    ctx: &Context<'_>,
    late: &[(&ReportRow, Instant)],
) -> Result<Section, ReportError> {
    let mut sheet = Section {
        sheet: "Chậm xử lý".into(),
        freeze_header: true,
        ..Section::default()
    };
    sheet
        .blocks
        .push(Block::Title("NHIỆM VỤ CHẬM XỬ LÝ Ở BƯỚC HIỆN TẠI".into()));
    sheet.blocks.push(Block::Subtitle(format!(
        "{} — bước đang xử lý đã quá thời hạn của bước, tính đến hết ngày {}; theo nơi đang giữ hồ sơ",
        ctx.scope,
        format_date(ctx.opts.to)
    )));
    if late.is_empty() {
        sheet
            .blocks
            .push(Block::Paragraph("Không có nhiệm vụ chậm xử lý.".into()));
        return Ok(sheet);
    }
    let mut t = Table {
        unit_note: None,
        columns: vec![
            Column::new("TT", ColumnKind::Center, 6.0),
            Column::new("Nhiệm vụ", ColumnKind::Text, 55.0),
            Column::new("Đơn vị", ColumnKind::Text, 35.0),
            Column::new("Bước hiện tại", ColumnKind::Text, 40.0),
            Column::new("Thời hạn của bước", ColumnKind::Center, 18.0),
            Column::new("Số ngày làm việc chậm", ColumnKind::Count, 12.0),
        ],
        header_groups: Vec::new(),
        rows: Vec::new(),
    };
    // Groups in order of their earliest late step.
    /// A late task: its row, its step's deadline and its step's title.
    type Late<'r> = (&'r ReportRow, Instant, String);
    let mut groups: Vec<(String, Vec<Late<'_>>)> = Vec::new();
    for (r, due) in late {
        let (title, roles) = ctx.step(r);
        let holder = who_holds_the_ball(&roles, &ctx.unit_name(r));
        match groups.iter_mut().find(|(h, _)| *h == holder) {
            Some((_, v)) => v.push((r, *due, title)),
            None => groups.push((holder, vec![(r, *due, title)])),
        }
    }
    let mut n = 0;
    for (holder, tasks) in &groups {
        t.rows.push(Row {
            style: RowStyle::Group,
            cells: vec![
                Cell::Empty,
                Cell::text(format!("Đang chờ: {holder} ({} nhiệm vụ)", tasks.len())),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
            ],
        });
        for (r, due, title) in tasks {
            n += 1;
            let days = ctx
                .catalog
                .get(&r.workflow, r.workflow_version)
                .map(|w| w.calendar.working_days_between(*due, ctx.end))
                .transpose()
                .map_err(|e| uncountable("số ngày chậm", &r.name, &e))?;
            t.rows.push(Row {
                style: RowStyle::Normal,
                cells: vec![
                    Cell::text(n.to_string()),
                    Cell::text(r.name.clone()),
                    Cell::text(ctx.unit_name(r)),
                    Cell::text(title.clone()),
                    Cell::text(format_instant(*due)),
                    days.map(Cell::Count).unwrap_or(Cell::Empty),
                ],
            });
        }
    }
    sheet.blocks.push(Block::Table(t));
    Ok(sheet)
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
                Cell::text(format_instant(r.moved_at)),
                Cell::text(who_holds_the_ball(&roles, &unit)),
            ],
        });
    }
    stall.blocks.push(Block::Table(t));
    stall
}

/// The year-end forecast at the end of the range (issue 17): how many open tasks cannot finish
/// by their due date, or are at risk, and each of them with its dates and binding step, as
/// `tiendo forecast` lists them.
fn forecast_section(ctx: &Context<'_>, rows: Vec<ReportRow>) -> Section {
    use super::forecast::{Flagged, forecast_row};
    let mut many = engine::forecast::Many::new();
    // Each flagged task's table row is built from its forecast at once, and the forecast and
    // the report row (its name moved into the table) are dropped.
    let (mut open, mut flagged) = (0usize, Flagged::default());
    for mut r in rows {
        let Some(f) = forecast_row(&mut many, ctx.catalog, r.plan_year, &r, ctx.end) else {
            continue;
        };
        open += 1;
        if let Ok(f) = &f {
            let name = std::mem::take(&mut r.name);
            flagged.push(&r, name, f, ctx.catalog, ctx.unit_names);
        }
    }
    let mut sheet = Section {
        sheet: "Dự báo".into(),
        freeze_header: false,
        ..Section::default()
    };
    sheet
        .blocks
        .push(Block::Title("DỰ BÁO KHẢ NĂNG HOÀN THÀNH ĐÚNG HẠN".into()));
    sheet.blocks.push(Block::Subtitle(format!(
        "{} — tính đến hết ngày {}: {} trong {open} nhiệm vụ đang thực hiện không thể hoàn thành đúng hạn hoặc có nguy cơ",
        ctx.scope,
        format_date(ctx.opts.to),
        flagged.len()
    )));
    sheet.blocks.push(Block::Paragraph(
        "Sớm nhất: mọi bước còn lại ở mức tối thiểu luật định; thường gặp: thời gian thường gặp; hạn là thời gian hoàn thành được giao, hoặc 31/12 của năm ngân sách với nhiệm vụ phải hoàn thành trong năm (chi tiết: tiendo forecast).".into(),
    ));
    sheet.blocks.extend(flagged.blocks());
    sheet
}
