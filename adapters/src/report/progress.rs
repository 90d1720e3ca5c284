//! The SKHCN progress report on a plan (domain.md, "Reports the users already produce by hand"),
//! built from the store's rows as a [`Document`]. Pure: the rows, the plan, the unit names and
//! the workflows come in; the document goes out.
//!
//! - Body: the task count and the total need of the plan's year in billion VND ("348,548 tỷ
//!   đồng", comma decimal); per appendix the counts by unit, by funding source and by status,
//!   naming the postponed and withdrawn tasks with their amounts; the 4-figure funding table.
//! - One table per appendix: TT | Tên nhiệm vụ | Thời gian thực hiện | the four amounts |
//!   Tiến độ tính đến dd/mm/yyyy | Thời gian dự kiến hoàn thành, with funding-group rows (A, B) in
//!   appendix 2, Roman-numbered unit rows with subtotals, and a closing TỔNG row.
//!
//! "Tiến độ" is written from the audit entry that describes the task on the report date: the
//! printed progress text when that entry is the import (so a regenerated report reads like the
//! original), otherwise the step's title, since when and by whom, and the entry's comment.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use engine::Phase;
use engine::catalogue::layout::{
    appendix_groups, appendix_sources, appendix_title, roman, source_label,
};
use engine::money::format_million_vnd;
use engine::role::Role;
use engine::time::{format_date, format_instant};
use engine::workflow::Catalog;

use super::Tracker;
use super::model::{
    Block, Cell, Column, ColumnKind, Document, HeaderGroup, Row, RowStyle, Section, Table, sum_opt,
};
use crate::store::{Plan, ReportRow};

/// The four amounts of a set of rows: need, approved estimate, need of the year, allocated.
fn totals<'a>(rows: impl Iterator<Item = &'a ReportRow> + Clone) -> [Option<i64>; 4] {
    [0, 1, 2, 3].map(|k| sum_opt(rows.clone().map(|r| r.budget[k])))
}

fn money_cells(t: [Option<i64>; 4]) -> Vec<Cell> {
    t.into_iter().map(Cell::money).collect()
}

/// đồng → billion VND with a comma decimal, as the body writes it: 348_548_000_000 → "348,548".
pub fn billions(dong: i64) -> String {
    format_million_vnd(dong / 1000, 3)
}

fn money_text(d: Option<i64>) -> String {
    format!("{} triệu đồng", format_million_vnd(d.unwrap_or(0), 3))
}

/// How a phase reads in "by status" counts.
fn status_phrase(p: Phase) -> &'static str {
    match p {
        Phase::Proposed => "mới đề xuất",
        Phase::ExplanationAndEstimate => {
            "đang lập, hoàn thiện hồ sơ (thuyết minh, kế hoạch thuê, báo cáo) và dự toán"
        }
        Phase::Appraisal => "đang thẩm định, phê duyệt",
        Phase::ContractorSelection => "đang lựa chọn nhà thầu",
        Phase::Contract => "đang thực hiện hợp đồng",
        Phase::Acceptance => "đang nghiệm thu, quyết toán",
        Phase::Completed => "đã hoàn thành",
        Phase::Postponed => "tạm hoãn, chuyển sang năm sau",
        Phase::Withdrawn => "rút khỏi kế hoạch",
    }
}

/// The "Tiến độ" text of a row. See the module documentation.
pub fn progress_text(r: &ReportRow, catalog: &Catalog) -> String {
    let printed = match r.entry_kind.as_str() {
        "import" => r.comment.clone().or_else(|| r.progress_text.clone()),
        "import_update" => r.progress_text.clone(),
        _ => None,
    };
    if let Some(p) = printed.filter(|p| !p.trim().is_empty()) {
        return p;
    }
    let title = catalog
        .get(&r.workflow, r.workflow_version)
        .and_then(|w| w.state(&r.state))
        .map(|s| s.title.clone())
        .unwrap_or_else(|| r.phase.title().to_string());
    if r.entry_kind.starts_with("import") {
        return title;
    }
    let who = r.actor_name.clone().unwrap_or_else(|| r.actor_user.clone());
    let role = r
        .actor_role
        .as_deref()
        .and_then(|x| x.parse::<Role>().ok())
        .map(|x| format!(", {}", x.title()))
        .unwrap_or_default();
    let round = r
        .round
        .and_then(engine::decide::round_label)
        .map(|l| format!("{l}, "))
        .unwrap_or_default();
    let mut out = format!(
        "{title} ({round}từ {}; {who}{role})",
        format_instant(r.entry_at)
    );
    if let Some(c) = r.comment.as_deref().filter(|c| !c.trim().is_empty()) {
        out.push_str(&format!(": {c}"));
    }
    out
}

fn expected_text(r: &ReportRow) -> String {
    match (&r.expected_completion, r.expected_completion_on) {
        (Some(t), _) => t.clone(),
        (None, Some(d)) => format_date(d),
        (None, None) => String::new(),
    }
}

/// The columns of an appendix table.
fn appendix_columns(year: i32, as_of: NaiveDate) -> (Vec<Column>, Vec<HeaderGroup>) {
    let columns = vec![
        Column::new("TT", ColumnKind::Center, 6.0),
        Column::new("Tên nhiệm vụ", ColumnKind::Text, 55.0),
        Column::new("Thời gian thực hiện", ColumnKind::Center, 18.0),
        Column::new("Nhu cầu kinh phí", ColumnKind::Money, 14.0),
        Column::new("Dự toán được duyệt", ColumnKind::Money, 14.0),
        Column::new(
            format!("Nhu cầu kinh phí năm {year}"),
            ColumnKind::Money,
            14.0,
        ),
        Column::new(
            format!("Kinh phí năm {year} đã phân bổ"),
            ColumnKind::Money,
            14.0,
        ),
        Column::new(
            format!("Tiến độ tính đến {}", format_date(as_of)),
            ColumnKind::Text,
            55.0,
        ),
        Column::new("Thời gian dự kiến hoàn thành", ColumnKind::Center, 16.0),
    ];
    let groups = vec![HeaderGroup {
        title: "Kinh phí".into(),
        first: 3,
        last: 6,
    }];
    (columns, groups)
}

/// How many postponed or withdrawn tasks the body names one by one per appendix; beyond that it
/// counts them (a city-sized plan would otherwise print pages of names in one paragraph).
const NAMED_IN_BODY: usize = 30;

/// The group (0 = A, 1 = B …) of a row within its appendix; 0 where the appendix has none.
fn group_index(r: &ReportRow) -> usize {
    appendix_groups(r.funding_source.appendix())
        .iter()
        .position(|g| g.1 == r.funding_source)
        .unwrap_or(0)
}

/// The four amounts of a set of rows, as [`totals`] returns them.
type Amounts = [Option<i64>; 4];

/// What every step of the report reads: the plan, the date, the workflows and the unit names.
struct Context<'a> {
    plan: &'a Plan,
    year: i32,
    as_of: NaiveDate,
    catalog: &'a Catalog,
    unit_names: &'a HashMap<String, String>,
}

impl Context<'_> {
    /// The unit's name on the report date.
    fn unit_name(&self, r: &ReportRow) -> String {
        super::unit_name(self.unit_names, r)
    }
}

/// Builds the progress report. `rows` are those of [`crate::store::Reports::report_rows`]
/// (in printed order); they are moved into the document, so a large plan is held once.
/// `tracker` hears how many task rows have been placed in the appendices.
///
/// The steps: put the rows in table order; write the body (overall figures, the funding table,
/// a summary per appendix); add up every funding group and unit; write the appendix tables.
pub fn build(
    plan: &Plan,
    rows: Vec<ReportRow>,
    as_of: NaiveDate,
    catalog: &Catalog,
    unit_names: &HashMap<String, String>,
    tracker: &dyn Tracker,
) -> Document {
    let ctx = Context {
        plan,
        year: plan.year,
        as_of,
        catalog,
        unit_names,
    };
    let rows = in_table_order(rows);
    let appendices = appendix_numbers(&rows);
    let appendix_totals: HashMap<u8, Amounts> = appendices
        .iter()
        .map(|a| (*a, totals(of_appendix(&rows, *a))))
        .collect();
    let body = body_section(&ctx, &rows, &appendices, &appendix_totals);
    let mut doc = Document {
        title: format!(
            "Báo cáo tiến độ thực hiện Kế hoạch số {} (tính đến {})",
            plan.number,
            format_date(as_of)
        ),
        sections: vec![body],
    };
    let subtotals = Subtotals::of(&rows);
    doc.sections.extend(appendix_sections(
        &ctx,
        rows,
        subtotals,
        &appendix_totals,
        tracker,
    ));
    doc
}

/// Sorts the rows in table order: appendix, funding group, units in order of first appearance,
/// then the rows' own (printed) order. A stable sort on a cached key: no second copy of the rows.
fn in_table_order(mut rows: Vec<ReportRow>) -> Vec<ReportRow> {
    let mut unit_rank: HashMap<(u8, usize, String), usize> = HashMap::new();
    for r in &rows {
        let next = unit_rank.len();
        unit_rank
            .entry((
                r.funding_source.appendix(),
                group_index(r),
                r.unit_id.clone(),
            ))
            .or_insert(next);
    }
    rows.sort_by_cached_key(|r| {
        let (a, g) = (r.funding_source.appendix(), group_index(r));
        (a, g, unit_rank[&(a, g, r.unit_id.clone())])
    });
    rows
}

/// The appendices present, in order (the rows are in table order).
fn appendix_numbers(rows: &[ReportRow]) -> Vec<u8> {
    let mut v: Vec<u8> = rows.iter().map(|r| r.funding_source.appendix()).collect();
    v.dedup();
    v
}

/// The rows of appendix `a`.
fn of_appendix(rows: &[ReportRow], a: u8) -> impl Iterator<Item = &ReportRow> + Clone {
    rows.iter()
        .filter(move |r| r.funding_source.appendix() == a)
}

/// The body: title, overall figures, the funding table, then a summary per appendix.
fn body_section(
    ctx: &Context<'_>,
    rows: &[ReportRow],
    appendices: &[u8],
    appendix_totals: &HashMap<u8, Amounts>,
) -> Section {
    let (year, as_of) = (ctx.year, ctx.as_of);
    let need_year_total: i64 = rows.iter().filter_map(|r| r.budget[2]).sum();
    let issued = ctx
        .plan
        .issued_on
        .map(|d| format!(" ngày {}", d.format("%-d/%-m/%Y")))
        .unwrap_or_default();
    let mut b = vec![
        Block::Title("BÁO CÁO".into()),
        Block::Title(format!(
            "Tiến độ thực hiện Kế hoạch số {}{issued}",
            ctx.plan.number
        )),
        Block::Subtitle(ctx.plan.title.clone()),
        Block::Subtitle(format!("(Số liệu tính đến ngày {})", format_date(as_of))),
        Block::Heading("I. TÌNH HÌNH CHUNG".into()),
        Block::Paragraph(format!(
            "Kế hoạch được phê duyệt có tổng số {} nhiệm vụ trong {} phụ lục, với tổng nhu cầu kinh phí năm {year} là: {} tỷ đồng.",
            rows.len(),
            appendices.len(),
            billions(need_year_total)
        )),
        Block::Table(funding_table(year, rows, appendices, appendix_totals)),
        Block::Heading("II. TIẾN ĐỘ THEO TỪNG PHỤ LỤC".into()),
    ];
    for (i, a) in appendices.iter().enumerate() {
        b.push(Block::Heading(format!(
            "{}. Phụ lục {a}: {}",
            i + 1,
            appendix_title(*a, year)
        )));
        b.extend(appendix_summary(
            ctx,
            of_appendix(rows, *a),
            *a,
            appendix_totals[a],
        ));
    }
    b.push(Block::Paragraph(format!(
        "Chi tiết từng nhiệm vụ tại các phụ lục kèm theo. Tiến độ được ghi theo bước hiện tại của nhiệm vụ và lần cập nhật gần nhất trong nhật ký đến hết ngày {}.",
        format_date(as_of)
    )));
    Section {
        sheet: "Báo cáo".into(),
        blocks: b,
        ..Section::default()
    }
}

/// The 4-figure funding table of the body: one row per appendix and the total.
fn funding_table(
    year: i32,
    rows: &[ReportRow],
    appendices: &[u8],
    appendix_totals: &HashMap<u8, Amounts>,
) -> Table {
    let mut funding = Table {
        unit_note: Some("Đơn vị tính: Triệu đồng".into()),
        columns: vec![
            Column::new("Phụ lục", ColumnKind::Text, 40.0),
            Column::new("Số nhiệm vụ", ColumnKind::Count, 10.0),
            Column::new("Nhu cầu kinh phí", ColumnKind::Money, 16.0),
            Column::new("Dự toán được duyệt", ColumnKind::Money, 16.0),
            Column::new(
                format!("Nhu cầu kinh phí năm {year}"),
                ColumnKind::Money,
                16.0,
            ),
            Column::new(
                format!("Kinh phí năm {year} đã phân bổ"),
                ColumnKind::Money,
                16.0,
            ),
        ],
        header_groups: Vec::new(),
        rows: Vec::new(),
    };
    for a in appendices {
        let mut cells = vec![
            Cell::text(format!("Phụ lục {a}: {}", appendix_title(*a, year))),
            Cell::Count(of_appendix(rows, *a).count() as i64),
        ];
        cells.extend(money_cells(appendix_totals[a]));
        funding.rows.push(Row {
            style: RowStyle::Normal,
            cells,
        });
    }
    let mut cells = vec![Cell::text("Tổng cộng"), Cell::Count(rows.len() as i64)];
    cells.extend(money_cells(totals(rows.iter())));
    funding.rows.push(Row {
        style: RowStyle::Total,
        cells,
    });
    funding
}

/// An appendix in the body: counts by unit, by funding source and by status, the postponed and
/// withdrawn tasks named, and its funding.
fn appendix_summary<'r>(
    ctx: &Context<'_>,
    rows: impl Iterator<Item = &'r ReportRow> + Clone,
    a: u8,
    t: Amounts,
) -> Vec<Block> {
    let year = ctx.year;
    let mut units: Vec<&str> = rows.clone().map(|r| r.unit_id.as_str()).collect();
    units.sort_unstable();
    units.dedup();
    let mut out = vec![
        Block::Bullet(format!(
            "Tổng số {} nhiệm vụ của {} cơ quan, đơn vị.",
            rows.clone().count(),
            units.len()
        )),
        Block::Bullet(format!(
            "Theo nguồn kinh phí: {}.",
            by_source(year, rows.clone(), a).join("; ")
        )),
        Block::Bullet(format!(
            "Theo tình trạng: {}.",
            by_status(rows.clone()).join("; ")
        )),
    ];
    for (phase, label) in [
        (Phase::Postponed, "Tạm hoãn, đề xuất chuyển sang năm sau"),
        (Phase::Withdrawn, "Rút khỏi kế hoạch"),
    ] {
        out.extend(named_exits(ctx, rows.clone(), a, phase, label));
    }
    out.push(Block::Bullet(format!(
        "Kinh phí: nhu cầu {}; dự toán được duyệt {}; nhu cầu năm {year} {}; đã phân bổ năm {year} {}.",
        money_text(t[0]),
        money_text(t[1]),
        money_text(t[2]),
        money_text(t[3])
    )));
    out
}

/// "Kinh phí chi thường xuyên: 12 nhiệm vụ của 8 đơn vị, nhu cầu kinh phí năm 2025 …", per
/// funding source of appendix `a` that has tasks.
fn by_source<'r>(
    year: i32,
    rows: impl Iterator<Item = &'r ReportRow> + Clone,
    a: u8,
) -> Vec<String> {
    appendix_sources(a)
        .into_iter()
        .filter_map(|s| {
            let of_source = rows.clone().filter(move |r| r.funding_source == s);
            let n = of_source.clone().count();
            if n == 0 {
                return None;
            }
            let mut u: Vec<&str> = of_source.clone().map(|r| r.unit_id.as_str()).collect();
            u.sort_unstable();
            u.dedup();
            Some(format!(
                "{}: {n} nhiệm vụ của {} đơn vị, nhu cầu kinh phí năm {year} {}",
                source_label(s),
                u.len(),
                money_text(sum_opt(of_source.map(|r| r.budget[2])))
            ))
        })
        .collect()
}

/// "12 nhiệm vụ đang thẩm định, phê duyệt", per phase present, in backbone order.
fn by_status<'r>(rows: impl Iterator<Item = &'r ReportRow>) -> Vec<String> {
    let mut by_phase: BTreeMap<Phase, usize> = BTreeMap::new();
    for r in rows {
        *by_phase.entry(r.phase).or_default() += 1;
    }
    Phase::ALL
        .into_iter()
        .filter_map(|p| {
            by_phase
                .get(&p)
                .map(|n| format!("{n} nhiệm vụ {}", status_phrase(p)))
        })
        .collect()
}

/// The bullet naming an appendix's tasks in `phase` (postponed or withdrawn) with their
/// amounts, the first [`NAMED_IN_BODY`] by name and the rest counted; none when there are none.
fn named_exits<'r>(
    ctx: &Context<'_>,
    rows: impl Iterator<Item = &'r ReportRow> + Clone,
    a: u8,
    phase: Phase,
    label: &str,
) -> Option<Block> {
    let year = ctx.year;
    let in_phase = rows.filter(move |r| r.phase == phase);
    let count = in_phase.clone().count();
    if count == 0 {
        return None;
    }
    let mut named: Vec<String> = in_phase
        .clone()
        .take(NAMED_IN_BODY)
        .map(|r| {
            format!(
                "«{}» ({}): nhu cầu kinh phí {}, năm {year}: {}",
                r.name,
                ctx.unit_name(r),
                money_text(r.budget[0]),
                money_text(r.budget[2])
            )
        })
        .collect();
    if count > NAMED_IN_BODY {
        let t = totals(in_phase);
        named.push(format!(
            "và {} nhiệm vụ khác (chi tiết tại Phụ lục {a}); cả {count} nhiệm vụ: nhu cầu kinh phí {}, năm {year}: {}",
            count - NAMED_IN_BODY,
            money_text(t[0]),
            money_text(t[2])
        ));
    }
    Some(Block::Bullet(format!(
        "{label} ({count} nhiệm vụ): {}.",
        named.join("; ")
    )))
}

/// The subtotals of every funding group and every unit, in table order.
struct Subtotals {
    groups: std::vec::IntoIter<Amounts>,
    units: std::vec::IntoIter<Amounts>,
}

impl Subtotals {
    /// Adds up `rows` (in table order) per funding group and per unit within it.
    fn of(rows: &[ReportRow]) -> Subtotals {
        let mut group_totals: Vec<Amounts> = Vec::new();
        let mut unit_totals: Vec<Amounts> = Vec::new();
        let mut last_group: Option<(u8, usize)> = None;
        let mut last_unit: Option<(u8, usize, &str)> = None;
        for r in rows {
            let (a, g) = (r.funding_source.appendix(), group_index(r));
            if last_group != Some((a, g)) {
                group_totals.push([None; 4]);
                last_group = Some((a, g));
            }
            if last_unit != Some((a, g, r.unit_id.as_str())) {
                unit_totals.push([None; 4]);
                last_unit = Some((a, g, r.unit_id.as_str()));
            }
            for (k, v) in r.budget.iter().enumerate() {
                for t in [
                    group_totals.last_mut().map(|t| &mut t[k]),
                    unit_totals.last_mut().map(|t| &mut t[k]),
                ]
                .into_iter()
                .flatten()
                {
                    *t = sum_opt([*t, *v]);
                }
            }
        }
        Subtotals {
            groups: group_totals.into_iter(),
            units: unit_totals.into_iter(),
        }
    }
}

/// How often the tracker hears of the rows placed: often enough for a bar, rarely enough to
/// cost nothing on a 100,000-task plan.
const TRACK_EVERY: usize = 1024;

/// The appendices, one section each, built by moving each row's text into its cells: group rows
/// (A, B) and Roman-numbered unit rows with their subtotals above their tasks, a TỔNG row last.
fn appendix_sections(
    ctx: &Context<'_>,
    rows: Vec<ReportRow>,
    mut subtotals: Subtotals,
    appendix_totals: &HashMap<u8, Amounts>,
    tracker: &dyn Tracker,
) -> Vec<Section> {
    let total = rows.len();
    let mut sections = Vec::new();
    let mut current: Option<(u8, Table)> = None;
    let (mut unit_no, mut task_no) = (0usize, 0usize);
    let mut last_group: Option<(u8, usize)> = None;
    let mut last_unit: Option<(u8, usize, String)> = None;
    for (done, r) in rows.into_iter().enumerate() {
        if done % TRACK_EVERY == 0 {
            tracker.advance(done);
        }
        let (a, g) = (r.funding_source.appendix(), group_index(&r));
        if current.as_ref().map(|(x, _)| *x) != Some(a) {
            if let Some((x, t)) = current.take() {
                sections.push(close_appendix(ctx, x, t, appendix_totals));
            }
            current = Some((a, appendix_table(ctx.year, ctx.as_of)));
            unit_no = 0;
        }
        let Some((_, table)) = current.as_mut() else {
            continue;
        };
        if last_group != Some((a, g)) {
            last_group = Some((a, g));
            task_no = 0;
            let totals = subtotals.groups.next().unwrap_or([None; 4]);
            table.rows.extend(group_row(a, g, totals));
        }
        if last_unit
            .as_ref()
            .is_none_or(|(x, y, u)| (*x, *y, u.as_str()) != (a, g, r.unit_id.as_str()))
        {
            last_unit = Some((a, g, r.unit_id.clone()));
            let totals = subtotals.units.next().unwrap_or([None; 4]);
            unit_no += 1;
            table
                .rows
                .push(unit_row(unit_no, ctx.unit_name(&r), totals));
        }
        task_no += 1;
        table.rows.push(task_row(ctx, task_no, r));
    }
    if let Some((x, t)) = current.take() {
        sections.push(close_appendix(ctx, x, t, appendix_totals));
    }
    tracker.advance(total);
    sections
}

/// An empty appendix table with its columns and header groups.
fn appendix_table(year: i32, as_of: NaiveDate) -> Table {
    let (columns, header_groups) = appendix_columns(year, as_of);
    Table {
        unit_note: Some("Đơn vị tính: Triệu đồng".into()),
        columns,
        header_groups,
        rows: Vec::new(),
    }
}

/// The row of funding group `g` of appendix `a` ("A | Nguồn CNTT | … subtotal"), if the
/// appendix has groups.
fn group_row(a: u8, g: usize, totals: Amounts) -> Option<Row> {
    let (letter, source) = appendix_groups(a).get(g).copied()?;
    let mut cells = vec![
        Cell::text(letter.to_string()),
        Cell::text(source_label(source)),
        Cell::Empty,
    ];
    cells.extend(money_cells(totals));
    cells.extend([Cell::Empty, Cell::Empty]);
    Some(Row {
        style: RowStyle::Group,
        cells,
    })
}

/// A unit's row: its Roman number, its name and its subtotal.
fn unit_row(unit_no: usize, name: String, totals: Amounts) -> Row {
    let mut cells = vec![Cell::text(roman(unit_no)), Cell::text(name), Cell::Empty];
    cells.extend(money_cells(totals));
    cells.extend([Cell::Empty, Cell::Empty]);
    Row {
        style: RowStyle::Unit,
        cells,
    }
}

/// A task's row, its text moved into the cells.
fn task_row(ctx: &Context<'_>, task_no: usize, r: ReportRow) -> Row {
    let progress = progress_text(&r, ctx.catalog);
    let expected = expected_text(&r);
    let mut cells = Vec::with_capacity(9);
    cells.push(Cell::text(task_no.to_string()));
    cells.push(Cell::Text(r.name));
    cells.push(Cell::Text(r.period.unwrap_or_default()));
    cells.extend(money_cells(r.budget));
    cells.push(Cell::Text(progress));
    cells.push(Cell::Text(expected));
    Row {
        style: RowStyle::Normal,
        cells,
    }
}

/// Closes appendix `a`'s table with its TỔNG row, as a section with its titles.
fn close_appendix(
    ctx: &Context<'_>,
    a: u8,
    mut table: Table,
    appendix_totals: &HashMap<u8, Amounts>,
) -> Section {
    let mut cells = vec![Cell::Empty, Cell::text("TỔNG"), Cell::Empty];
    cells.extend(money_cells(
        appendix_totals.get(&a).copied().unwrap_or([None; 4]),
    ));
    cells.extend([Cell::Empty, Cell::Empty]);
    table.rows.push(Row {
        style: RowStyle::Total,
        cells,
    });
    Section {
        sheet: format!("Phụ lục {a}"),
        blocks: vec![
            Block::Title(format!("PHỤ LỤC {a}")),
            Block::Title(appendix_title(a, ctx.year).to_uppercase()),
            Block::Subtitle(format!(
                "(Kèm theo Báo cáo tiến độ thực hiện Kế hoạch số {}; số liệu tính đến ngày {})",
                ctx.plan.number,
                format_date(ctx.as_of)
            )),
            Block::Table(table),
        ],
        freeze_header: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billions_are_written_with_a_comma() {
        assert_eq!(billions(348_548_000_000), "348,548");
        assert_eq!(billions(348_047_600_000), "348,048");
        assert_eq!(billions(2_000_000_000), "2");
        assert_eq!(billions(1_234_567_000_000), "1.234,567");
    }
}
