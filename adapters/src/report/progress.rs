//! The SKHCN progress report on a plan (domain.md, "Reports the users already produce by hand"),
//! built from the store's rows as a [`Document`]. Pure: the rows, the plan, the unit names and
//! the workflows come in; the document goes out.
//!
//! The plan's layout ([`PlanLayout`], issue 14) gives the sections, their printed titles and
//! order, and the column set each section prints; a plan without one is laid out as Plan 215
//! (four appendices by funding source, [`engine::plan::layout::default_layout`]).
//!
//! - Body: the task count and the total need of the plan's year in billion VND ("348,548 tỷ
//!   đồng", comma decimal), the tasks that continue from earlier years and those that start in
//!   the plan's year, counted and named apart; per section the counts by unit, by funding source
//!   and by status, naming the postponed and withdrawn tasks with their amounts; the 4-figure
//!   funding table.
//! - One table per section with the section's columns (for Plan 215: TT | Tên nhiệm vụ | Thời
//!   gian thực hiện | the four amounts | Tiến độ tính đến dd/mm/yyyy | Thời gian dự kiến hoàn
//!   thành), funding-group rows (A, B) where a section holds several funding sources,
//!   Roman-numbered unit rows with subtotals (none in a section the layout declares with
//!   `unit_rows = false`: Plan 215's Phụ lục 3 and 4), and a closing TỔNG row.
//!
//! "Tiến độ" is written from the audit entry that describes the task on the report date: the
//! printed progress text when that entry is the import (so a regenerated report reads like the
//! original), otherwise the step's title, since when and by whom, and the entry's comment.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use engine::Phase;
use engine::catalogue::layout::{roman, source_label};
use engine::catalogue::printed::{PrintedColumn, recognise};
use engine::domain::FundingSource;
use engine::money::format_million_vnd;
use engine::plan::layout::PlanLayout;
use engine::role::Role;
use engine::time::{format_date, format_instant};
use engine::workflow::Catalog;

use super::model::{
    Block, Cell, Column, ColumnKind, Document, HeaderGroup, Row, RowStyle, Section, Table, sum_opt,
};
use crate::progress::{TRACK_EVERY, Tracker};
use crate::store::{Plan, ReportRow};

/// The amounts a row carries: need, approved estimate, need of the year, allocated, carried
/// over into the year, spent the year before, planned allocation of the year.
fn amounts(r: &ReportRow) -> Amounts {
    [
        r.budget[0],
        r.budget[1],
        r.budget[2],
        r.budget[3],
        r.carried_over,
        r.spent_previous,
        r.planned_allocation,
    ]
}

/// The amounts of a set of rows, added up.
fn totals<'a>(rows: impl Iterator<Item = &'a ReportRow> + Clone) -> Amounts {
    [0, 1, 2, 3, 4, 5, 6].map(|k| sum_opt(rows.clone().map(|r| amounts(r)[k])))
}

/// The four amounts of the funding table.
fn money_cells(t: Amounts) -> Vec<Cell> {
    t[..4].iter().copied().map(Cell::money).collect()
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

/// Where an amount column reads its figure in [`Amounts`].
fn amount_index(c: PrintedColumn) -> Option<usize> {
    match c {
        PrintedColumn::NeedTotal => Some(0),
        PrintedColumn::ApprovedEstimate => Some(1),
        PrintedColumn::NeedYear => Some(2),
        PrintedColumn::AllocatedYear => Some(3),
        PrintedColumn::CarriedOver => Some(4),
        PrintedColumn::SpentPrevious => Some(5),
        PrintedColumn::PlannedAllocation => Some(6),
        _ => None,
    }
}

/// A section of the report as the plan's layout declares it, with the funding sources its rows
/// hold (several make funding-group rows A, B …).
struct SectionInfo {
    key: String,
    /// As printed.
    title: String,
    /// "Phụ lục 1", or the sheet the layout names.
    label: String,
    /// The printed column kinds with their titles as declared.
    columns: Vec<(PrintedColumn, String)>,
    sources: Vec<FundingSource>,
    /// Roman-numbered unit rows with their subtotals (the layout's `unit_rows`, by default yes);
    /// without them the tasks keep the plan's order.
    unit_rows: bool,
}

impl SectionInfo {
    /// The funding group of a row within the section: 0 where the section has one source.
    fn group_index(&self, r: &ReportRow) -> usize {
        if self.sources.len() < 2 {
            return 0;
        }
        self.sources
            .iter()
            .position(|s| *s == r.funding_source)
            .unwrap_or(0)
    }

    fn position_of(&self, c: PrintedColumn) -> Option<usize> {
        self.columns.iter().position(|(k, _)| *k == c)
    }
}

/// The sections the rows are listed in, in the layout's order (sections the layout does not
/// declare come last, in order of appearance), with their columns.
fn sections_of(layout: &PlanLayout, year: i32, rows: &[ReportRow]) -> Vec<SectionInfo> {
    // The sections in order of first appearance, and the funding sources each has: a few
    // pairs, found in one pass over the rows.
    let mut keys: Vec<&str> = Vec::new();
    let mut present: Vec<(&str, FundingSource)> = Vec::new();
    for r in rows {
        let pair = (r.section.as_str(), r.funding_source);
        if !present.contains(&pair) {
            present.push(pair);
            if !keys.contains(&pair.0) {
                keys.push(pair.0);
            }
        }
    }
    let rank = |k: &str| {
        layout
            .sections
            .iter()
            .position(|s| s.key == k)
            .unwrap_or(usize::MAX)
    };
    let mut ordered: Vec<(usize, usize, &str)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (rank(k), i, *k))
        .collect();
    ordered.sort();
    let default = engine::plan::layout::default_layout(year);
    let fallback = &default.sections[0].columns;
    ordered
        .into_iter()
        .map(|(_, _, key)| {
            let declared = layout.section(key);
            let mut sources: Vec<FundingSource> = FundingSource::ALL
                .into_iter()
                .filter(|f| present.contains(&(key, *f)))
                .collect();
            sources.dedup();
            let titles = declared
                .map(|s| &s.columns)
                .filter(|c| !c.is_empty())
                .unwrap_or(fallback);
            let mut columns: Vec<(PrintedColumn, String)> = titles
                .iter()
                .filter_map(|t| recognise(t, year).map(|c| (c, t.trim().to_string())))
                .collect();
            for must in [PrintedColumn::Seq, PrintedColumn::Name] {
                if !columns.iter().any(|(c, _)| *c == must) {
                    columns.insert(
                        usize::from(must == PrintedColumn::Name),
                        (must, must.title(year)),
                    );
                }
            }
            SectionInfo {
                key: key.to_string(),
                title: declared
                    .map(|s| s.title.clone())
                    .unwrap_or_else(|| format!("Mục {key}")),
                label: declared
                    .and_then(|s| s.sheet.clone())
                    .unwrap_or_else(|| format!("Phụ lục {key}")),
                columns,
                sources,
                unit_rows: declared.is_none_or(|s| s.unit_rows),
            }
        })
        .collect()
}

/// The columns of a section's table, and "Kinh phí" over its amounts when they stand together.
fn section_columns(sec: &SectionInfo, as_of: NaiveDate) -> (Vec<Column>, Vec<HeaderGroup>) {
    let columns: Vec<Column> = sec
        .columns
        .iter()
        .map(|(c, title)| match c {
            PrintedColumn::Seq => Column::new("TT", ColumnKind::Center, 6.0),
            PrintedColumn::Name => Column::new(title.clone(), ColumnKind::Text, 55.0),
            PrintedColumn::Unit => Column::new(title.clone(), ColumnKind::Text, 35.0),
            PrintedColumn::Period => Column::new(title.clone(), ColumnKind::Center, 18.0),
            PrintedColumn::Progress => Column::new(
                format!("Tiến độ tính đến {}", format_date(as_of)),
                ColumnKind::Text,
                55.0,
            ),
            PrintedColumn::ExpectedCompletion => {
                Column::new(title.clone(), ColumnKind::Center, 16.0)
            }
            PrintedColumn::Ratio => Column::new(title.clone(), ColumnKind::Center, 12.0),
            PrintedColumn::Notes => Column::new(title.clone(), ColumnKind::Text, 30.0),
            _ => Column::new(title.clone(), ColumnKind::Money, 14.0),
        })
        .collect();
    let money: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == ColumnKind::Money)
        .map(|(i, _)| i)
        .collect();
    let groups = match (money.first(), money.last()) {
        (Some(&first), Some(&last)) if last > first && last - first + 1 == money.len() => {
            vec![HeaderGroup {
                title: "Kinh phí".into(),
                first,
                last,
            }]
        }
        _ => Vec::new(),
    };
    (columns, groups)
}

/// How many postponed or withdrawn tasks the body names one by one per appendix; beyond that it
/// counts them (a city-sized plan would otherwise print pages of names in one paragraph).
const NAMED_IN_BODY: usize = 30;

/// The amounts of a row or a set of rows: need, approved estimate, need of the year, allocated,
/// carried over into the year, spent the year before, planned allocation of the year.
type Amounts = [Option<i64>; 7];

/// What every step of the report reads: the plan, its sections, the date, the workflows and the
/// unit names.
struct Context<'a> {
    plan: &'a Plan,
    year: i32,
    as_of: NaiveDate,
    catalog: &'a Catalog,
    unit_names: &'a HashMap<String, String>,
    sections: Vec<SectionInfo>,
}

impl Context<'_> {
    /// The unit's name on the report date.
    fn unit_name(&self, r: &ReportRow) -> String {
        super::unit_name(self.unit_names, r)
    }

    fn section(&self, key: &str) -> &SectionInfo {
        self.sections
            .iter()
            .find(|s| s.key == key)
            .unwrap_or(&self.sections[0])
    }

    fn section_rank(&self, key: &str) -> usize {
        self.sections
            .iter()
            .position(|s| s.key == key)
            .unwrap_or(usize::MAX)
    }
}

/// The progress report before it is laid out as one [`Document`]: the overall account, one
/// account per section, the closing note and the section tables. [`build`] lays them out as the
/// report's body sheet and appendix sheets; the official document ([`super::official`]) lays the
/// same parts out in the NĐ 30/2020 form, so nothing is computed twice.
pub struct Parts {
    /// The document's title.
    pub title: String,
    /// The overall figures: task count and total need, continuing and new tasks, the funding
    /// table.
    pub overview: Vec<Block>,
    /// Per section, in the layout's order.
    pub accounts: Vec<Account>,
    /// "Chi tiết từng nhiệm vụ tại các phụ lục kèm theo …".
    pub note: Block,
    /// The section tables (Phụ lục 1 …), each with its titles.
    pub appendices: Vec<Section>,
}

/// The body's account of one section.
pub struct Account {
    /// The section's key in the plan's layout ("1", "II" …).
    pub key: String,
    /// "Phụ lục 1: DANH MỤC NHIỆM VỤ THƯỜNG XUYÊN".
    pub heading: String,
    /// Counts by unit, continuing and new tasks named, by source, by status, the completed,
    /// postponed and withdrawn tasks named, its funding.
    pub blocks: Vec<Block>,
}

/// What the progress report is made of, besides its rows.
pub struct Input<'a> {
    pub plan: &'a Plan,
    /// The plan's layout (its sections).
    pub layout: &'a PlanLayout,
    /// The report date.
    pub as_of: NaiveDate,
    pub catalog: &'a Catalog,
    /// Units' names by id.
    pub unit_names: &'a HashMap<String, String>,
    /// Hears how many task rows have been placed in the sections.
    pub tracker: &'a dyn Tracker,
}

/// Builds the progress report. `rows` are those of [`crate::store::Reports::report_rows`]
/// (in printed order) described as of the report date ([`crate::store::Reports::as_of`]); they
/// are moved into the document, so a large plan is held once.
pub fn build(input: &Input<'_>, rows: Vec<ReportRow>) -> Document {
    let (plan, as_of) = (input.plan, input.as_of);
    let p = parts(input, rows);
    let issued = plan
        .issued_on
        .map(|d| format!(" ngày {}", d.format("%-d/%-m/%Y")))
        .unwrap_or_default();
    let mut b = vec![
        Block::Title("BÁO CÁO".into()),
        Block::Title(format!(
            "Tiến độ thực hiện Kế hoạch số {}{issued}",
            plan.number
        )),
        Block::Subtitle(plan.title.clone()),
        Block::Subtitle(format!("(Số liệu tính đến ngày {})", format_date(as_of))),
        Block::Heading("I. TÌNH HÌNH CHUNG".into()),
    ];
    b.extend(p.overview);
    b.push(Block::Heading("II. TIẾN ĐỘ THEO TỪNG PHỤ LỤC".into()));
    for (i, a) in p.accounts.into_iter().enumerate() {
        b.push(Block::Heading(format!("{}. {}", i + 1, a.heading)));
        b.extend(a.blocks);
    }
    b.push(p.note);
    let mut sections = vec![Section {
        sheet: "Báo cáo".into(),
        blocks: b,
        ..Section::default()
    }];
    sections.extend(p.appendices);
    Document {
        title: p.title,
        sections,
        as_of: Some(as_of),
    }
}

/// The parts of the progress report (see [`build`] for the rows).
///
/// The steps: put the rows in table order; write the body (overall figures, the funding table,
/// a summary per section); add up every funding group and unit; write the section tables.
pub fn parts(input: &Input<'_>, rows: Vec<ReportRow>) -> Parts {
    let Input {
        plan,
        layout,
        as_of,
        catalog,
        unit_names,
        tracker,
    } = *input;
    let mut ctx = Context {
        plan,
        year: plan.year,
        as_of,
        catalog,
        unit_names,
        sections: Vec::new(),
    };
    ctx.sections = sections_of(layout, plan.year, &rows);
    let rows = in_table_order(&ctx, rows);
    let keys: Vec<String> = ctx.sections.iter().map(|s| s.key.clone()).collect();
    let section_totals: HashMap<String, Amounts> = keys
        .iter()
        .map(|k| (k.clone(), totals(of_section(&rows, k))))
        .collect();
    let (overview, accounts, note) = body(&ctx, &rows, &section_totals);
    let subtotals = Subtotals::of(&ctx, &rows);
    let appendices = appendix_sections(&ctx, rows, subtotals, &section_totals, tracker);
    Parts {
        title: format!(
            "Báo cáo tiến độ thực hiện Kế hoạch số {} (tính đến {})",
            plan.number,
            format_date(as_of)
        ),
        overview,
        accounts,
        note,
        appendices,
    }
}

/// Sorts the rows in table order: section, funding group, units in order of first appearance
/// (in a section printed with unit rows), then the rows' own (printed) order. Each row's key is
/// worked out once, with its unit's rank found by the unit's id borrowed from the row; the rows
/// are then moved into the keys' stable order.
fn in_table_order(ctx: &Context<'_>, mut rows: Vec<ReportRow>) -> Vec<ReportRow> {
    let keys: Vec<(usize, usize, usize)> = {
        let mut unit_rank: HashMap<(usize, usize, &str), usize> = HashMap::new();
        rows.iter()
            .map(|r| {
                let s = ctx.section_rank(&r.section);
                let sec = ctx.section(&r.section);
                let g = sec.group_index(r);
                let next = unit_rank.len();
                let u = *unit_rank.entry((s, g, r.unit_id.as_str())).or_insert(next);
                (s, g, if sec.unit_rows { u } else { 0 })
            })
            .collect()
    };
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| keys[i]);
    // `order[k]` is the row that goes to place k.
    crate::store::put_in_order(&mut rows, order);
    rows
}

/// The rows of section `key`, from rows in table order ([`in_table_order`]): a section's rows
/// stand together, so they are one slice, found once, and every pass over the section reads
/// only its own rows.
fn of_section<'a>(rows: &'a [ReportRow], key: &str) -> std::slice::Iter<'a, ReportRow> {
    let start = rows
        .iter()
        .position(|r| r.section == key)
        .unwrap_or(rows.len());
    let len = rows[start..]
        .iter()
        .take_while(|r| r.section == key)
        .count();
    debug_assert!(rows[start + len..].iter().all(|r| r.section != key));
    rows[start..start + len].iter()
}

/// "N nhiệm vụ tiếp tục triển khai theo kế hoạch (thuê) đã được phê duyệt từ những năm trước
/// …; M nhiệm vụ bắt đầu năm Y …": the continuing and the new tasks of `rows`, counted apart,
/// named when `named` (the first [`NAMED_IN_BODY`] of each).
fn continuing_and_new<'r>(
    ctx: &Context<'_>,
    rows: impl Iterator<Item = &'r ReportRow> + Clone,
    named: bool,
) -> String {
    let (cont, new): (Vec<&ReportRow>, Vec<&ReportRow>) = rows.partition(|r| r.continuing);
    let names = |v: &[&ReportRow]| -> String {
        if !named || v.is_empty() {
            return String::new();
        }
        let mut n: Vec<String> = v
            .iter()
            .take(NAMED_IN_BODY)
            .map(|r| format!("«{}» ({})", r.name, ctx.unit_name(r)))
            .collect();
        if v.len() > NAMED_IN_BODY {
            n.push(format!("và {} nhiệm vụ khác", v.len() - NAMED_IN_BODY));
        }
        format!(": {}", n.join("; "))
    };
    let rental = !cont.is_empty() && cont.iter().all(|r| r.is_rental);
    format!(
        "{} nhiệm vụ tiếp tục triển khai theo {} đã được phê duyệt từ những năm trước{}; {} nhiệm vụ bắt đầu năm {}{}",
        cont.len(),
        if rental {
            "kế hoạch thuê"
        } else {
            "kế hoạch"
        },
        names(&cont),
        new.len(),
        ctx.year,
        names(&new)
    )
}

/// The body: overall figures and the funding table, a summary per section, the closing note.
fn body(
    ctx: &Context<'_>,
    rows: &[ReportRow],
    section_totals: &HashMap<String, Amounts>,
) -> (Vec<Block>, Vec<Account>, Block) {
    let (year, as_of) = (ctx.year, ctx.as_of);
    let need_year_total: i64 = rows.iter().filter_map(|r| r.budget[2]).sum();
    let overview = vec![
        Block::Paragraph(format!(
            "Kế hoạch được phê duyệt có tổng số {} nhiệm vụ trong {} phụ lục, với tổng nhu cầu kinh phí năm {year} là: {} tỷ đồng.",
            rows.len(),
            ctx.sections.len(),
            billions(need_year_total)
        )),
        Block::Paragraph(format!(
            "Trong đó: {}.",
            continuing_and_new(ctx, rows.iter(), false)
        )),
        Block::Table(funding_table(ctx, rows, section_totals)),
    ];
    let accounts = ctx
        .sections
        .iter()
        .map(|sec| Account {
            key: sec.key.clone(),
            heading: format!("{}: {}", sec.label, sec.title),
            blocks: appendix_summary(
                ctx,
                of_section(rows, &sec.key),
                sec,
                section_totals[&sec.key],
            ),
        })
        .collect();
    let note = Block::Paragraph(format!(
        "Chi tiết từng nhiệm vụ tại các phụ lục kèm theo. Tiến độ được ghi theo bước hiện tại của nhiệm vụ và lần cập nhật gần nhất trong nhật ký đến hết ngày {}; kinh phí và tình trạng năm theo số liệu đã biết đến hết ngày đó.",
        format_date(as_of)
    ));
    (overview, accounts, note)
}

/// The 4-figure funding table of the body: one row per section and the total.
fn funding_table(
    ctx: &Context<'_>,
    rows: &[ReportRow],
    section_totals: &HashMap<String, Amounts>,
) -> Table {
    let year = ctx.year;
    let mut funding = Table {
        unit_note: Some("Đơn vị tính: Triệu đồng".into()),
        columns: vec![
            Column::new("Phụ lục", ColumnKind::Text, 36.0),
            Column::new("Số nhiệm vụ", ColumnKind::Count, 12.0),
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
    for sec in &ctx.sections {
        let mut cells = vec![
            Cell::text(format!("{}: {}", sec.label, sec.title)),
            Cell::Count(of_section(rows, &sec.key).count() as i64),
        ];
        cells.extend(money_cells(section_totals[&sec.key]));
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

/// A section in the body: counts by unit, the continuing and the new tasks, by funding source
/// and by status, the completed, postponed and withdrawn tasks named, and its funding.
fn appendix_summary<'r>(
    ctx: &Context<'_>,
    rows: impl Iterator<Item = &'r ReportRow> + Clone,
    sec: &SectionInfo,
    t: Amounts,
) -> Vec<Block> {
    let year = ctx.year;
    let units: HashSet<&str> = rows.clone().map(|r| r.unit_id.as_str()).collect();
    let mut out = vec![
        Block::Bullet(format!(
            "Tổng số {} nhiệm vụ của {} cơ quan, đơn vị.",
            rows.clone().count(),
            units.len()
        )),
        Block::Bullet(format!(
            "Trong đó: {}.",
            continuing_and_new(ctx, rows.clone(), true)
        )),
        Block::Bullet(format!(
            "Theo nguồn kinh phí: {}.",
            by_source(year, rows.clone(), &sec.sources).join("; ")
        )),
        Block::Bullet(format!(
            "Theo tình trạng: {}.",
            by_status(rows.clone()).join("; ")
        )),
    ];
    let by_year = by_year_status(rows.clone());
    if !by_year.is_empty() {
        out.push(Block::Bullet(format!(
            "Tình trạng năm {year}: {}.",
            by_year.join("; ")
        )));
    }
    for (phase, label) in [
        (Phase::Completed, "Đã hoàn thành"),
        (Phase::Postponed, "Tạm hoãn, đề xuất chuyển sang năm sau"),
        (Phase::Withdrawn, "Rút khỏi kế hoạch"),
    ] {
        out.extend(named_exits(ctx, rows.clone(), &sec.label, phase, label));
    }
    // The planned allocation (dự kiến phân bổ) is named only where the plan has one: Plan 215
    // prints none, and its body reads as printed.
    let planned = t[6]
        .map(|p| format!("; dự kiến phân bổ năm {year} {}", money_text(Some(p))))
        .unwrap_or_default();
    out.push(Block::Bullet(format!(
        "Kinh phí: nhu cầu {}; dự toán được duyệt {}; nhu cầu năm {year} {}{planned}; đã phân bổ năm {year} {}.",
        money_text(t[0]),
        money_text(t[1]),
        money_text(t[2]),
        money_text(t[3])
    )));
    out
}

/// "Kinh phí chi thường xuyên: 12 nhiệm vụ của 8 đơn vị, nhu cầu kinh phí năm 2025 …", per
/// funding source of the section that has tasks.
fn by_source<'r>(
    year: i32,
    rows: impl Iterator<Item = &'r ReportRow> + Clone,
    sources: &[FundingSource],
) -> Vec<String> {
    sources
        .iter()
        .filter_map(|&s| {
            let of_source = rows.clone().filter(move |r| r.funding_source == s);
            let n = of_source.clone().count();
            if n == 0 {
                return None;
            }
            let u: HashSet<&str> = of_source.clone().map(|r| r.unit_id.as_str()).collect();
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

/// "3 nhiệm vụ hoàn thành năm", per year-level status recorded, in their order.
fn by_year_status<'r>(rows: impl Iterator<Item = &'r ReportRow>) -> Vec<String> {
    let mut n: HashMap<engine::plan::YearStatus, usize> = HashMap::new();
    for r in rows {
        if let Some(y) = r.year_status {
            *n.entry(y).or_default() += 1;
        }
    }
    engine::plan::YearStatus::ALL
        .into_iter()
        .filter_map(|y| {
            n.get(&y)
                .map(|c| format!("{c} nhiệm vụ {}", y.title().to_lowercase()))
        })
        .collect()
}

/// The bullet naming a section's tasks in `phase` (completed, postponed or withdrawn) with their
/// amounts, the first [`NAMED_IN_BODY`] by name and the rest counted; none when there are none.
fn named_exits<'r>(
    ctx: &Context<'_>,
    rows: impl Iterator<Item = &'r ReportRow> + Clone,
    label_of_section: &str,
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
            "và {} nhiệm vụ khác (chi tiết tại {label_of_section}); cả {count} nhiệm vụ: nhu cầu kinh phí {}, năm {year}: {}",
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
    fn of(ctx: &Context<'_>, rows: &[ReportRow]) -> Subtotals {
        let mut group_totals: Vec<Amounts> = Vec::new();
        let mut unit_totals: Vec<Amounts> = Vec::new();
        let mut last_group: Option<(&str, usize)> = None;
        let mut last_unit: Option<(&str, usize, &str)> = None;
        for r in rows {
            let (a, g) = (r.section.as_str(), ctx.section(&r.section).group_index(r));
            if last_group != Some((a, g)) {
                group_totals.push([None; 7]);
                last_group = Some((a, g));
            }
            if last_unit != Some((a, g, r.unit_id.as_str())) {
                unit_totals.push([None; 7]);
                last_unit = Some((a, g, r.unit_id.as_str()));
            }
            for (k, v) in amounts(r).iter().enumerate() {
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

/// The section tables, one section each, built by moving each row's text into its cells: group
/// rows (A, B) and Roman-numbered unit rows with their subtotals above their tasks, a TỔNG row
/// last.
fn appendix_sections(
    ctx: &Context<'_>,
    rows: Vec<ReportRow>,
    mut subtotals: Subtotals,
    section_totals: &HashMap<String, Amounts>,
    tracker: &dyn Tracker,
) -> Vec<Section> {
    let total = rows.len();
    let mut sections = Vec::new();
    let mut current: Option<(String, Table)> = None;
    let (mut unit_no, mut task_no) = (0usize, 0usize);
    let mut last_group: Option<(String, usize)> = None;
    let mut last_unit: Option<(String, usize, String)> = None;
    for (done, r) in rows.into_iter().enumerate() {
        if done % TRACK_EVERY == 0 {
            tracker.advance(done);
        }
        let sec = ctx.section(&r.section);
        let g = sec.group_index(&r);
        if current.as_ref().map(|(x, _)| x.as_str()) != Some(sec.key.as_str()) {
            if let Some((x, t)) = current.take() {
                sections.push(close_appendix(ctx, ctx.section(&x), t, section_totals));
            }
            current = Some((sec.key.clone(), appendix_table(sec, ctx.as_of)));
            unit_no = 0;
        }
        let Some((_, table)) = current.as_mut() else {
            continue;
        };
        if last_group
            .as_ref()
            .is_none_or(|(x, y)| (x.as_str(), *y) != (sec.key.as_str(), g))
        {
            last_group = Some((sec.key.clone(), g));
            task_no = 0;
            let totals = subtotals.groups.next().unwrap_or([None; 7]);
            table.rows.extend(group_row(sec, g, totals));
        }
        if last_unit.as_ref().is_none_or(|(x, y, u)| {
            (x.as_str(), *y, u.as_str()) != (sec.key.as_str(), g, r.unit_id.as_str())
        }) {
            last_unit = Some((sec.key.clone(), g, r.unit_id.clone()));
            let totals = subtotals.units.next().unwrap_or([None; 7]);
            if sec.unit_rows {
                unit_no += 1;
                table
                    .rows
                    .push(unit_row(sec, unit_no, ctx.unit_name(&r), totals));
            }
        }
        task_no += 1;
        table.rows.push(task_row(ctx, sec, task_no, r));
    }
    if let Some((x, t)) = current.take() {
        sections.push(close_appendix(ctx, ctx.section(&x), t, section_totals));
    }
    tracker.advance(total);
    sections
}

/// An empty section table with its columns and header groups.
fn appendix_table(sec: &SectionInfo, as_of: NaiveDate) -> Table {
    let (columns, header_groups) = section_columns(sec, as_of);
    Table {
        unit_note: Some("Đơn vị tính: Triệu đồng".into()),
        columns,
        header_groups,
        rows: Vec::new(),
    }
}

/// A row of the section's columns: `first` in TT, `name` in the name column, the amounts in
/// theirs, the rest empty.
fn summary_cells(sec: &SectionInfo, first: String, name: String, totals: Amounts) -> Vec<Cell> {
    let mut name = Some(name);
    sec.columns
        .iter()
        .map(|(c, _)| match c {
            PrintedColumn::Seq if first.is_empty() => Cell::Empty,
            PrintedColumn::Seq => Cell::text(first.clone()),
            PrintedColumn::Name => name.take().map(Cell::Text).unwrap_or(Cell::Empty),
            c => amount_index(*c)
                .map(|k| Cell::money(totals[k]))
                .unwrap_or(Cell::Empty),
        })
        .collect()
}

/// The row of funding group `g` of a section ("A | Nguồn CNTT | … subtotal"), if the section
/// has groups.
fn group_row(sec: &SectionInfo, g: usize, totals: Amounts) -> Option<Row> {
    if sec.sources.len() < 2 {
        return None;
    }
    let source = *sec.sources.get(g)?;
    let letter = char::from(b'A' + u8::try_from(g).ok()?);
    Some(Row {
        style: RowStyle::Group,
        cells: summary_cells(
            sec,
            letter.to_string(),
            source_label(source).to_string(),
            totals,
        ),
    })
}

/// A unit's row: its Roman number, its name and its subtotal.
fn unit_row(sec: &SectionInfo, unit_no: usize, name: String, totals: Amounts) -> Row {
    Row {
        style: RowStyle::Unit,
        cells: summary_cells(sec, roman(unit_no), name, totals),
    }
}

/// "1,0%": the allocation as a share of the year's need (the planned allocation while nothing
/// is allocated).
fn ratio_text(r: &ReportRow) -> String {
    match (r.budget[3].or(r.planned_allocation), r.budget[2]) {
        (Some(a), Some(n)) if n > 0 => {
            let tenths = (a as i128 * 1000 + n as i128 / 2) / n as i128;
            format!("{},{}%", tenths / 10, tenths % 10)
        }
        _ => String::new(),
    }
}

/// A task's row, its text moved into the cells of the section's columns.
fn task_row(ctx: &Context<'_>, sec: &SectionInfo, task_no: usize, r: ReportRow) -> Row {
    // Each text is made only when the section prints its column.
    let made =
        |c: PrintedColumn, f: &dyn Fn(&ReportRow) -> String| sec.position_of(c).map(|_| f(&r));
    let mut progress = made(PrintedColumn::Progress, &|r| progress_text(r, ctx.catalog));
    let mut expected = made(PrintedColumn::ExpectedCompletion, &expected_text);
    let mut unit = made(PrintedColumn::Unit, &|r| ctx.unit_name(r));
    let mut ratio = made(PrintedColumn::Ratio, &ratio_text);
    let mut notes = made(PrintedColumn::Notes, &|r| {
        r.year_status
            .map(|y| format!("Tình trạng năm {}: {}", ctx.year, y.title()))
            .unwrap_or_default()
    });
    let a = amounts(&r);
    let (mut name, mut period) = (Some(r.name), r.period);
    let cells = sec
        .columns
        .iter()
        .map(|(c, _)| match c {
            PrintedColumn::Seq => Cell::text(task_no.to_string()),
            PrintedColumn::Name => Cell::Text(name.take().unwrap_or_default()),
            PrintedColumn::Unit => Cell::Text(unit.take().unwrap_or_default()),
            PrintedColumn::Period => Cell::Text(period.take().unwrap_or_default()),
            PrintedColumn::Progress => Cell::Text(progress.take().unwrap_or_default()),
            PrintedColumn::ExpectedCompletion => Cell::Text(expected.take().unwrap_or_default()),
            PrintedColumn::Ratio => Cell::Text(ratio.take().unwrap_or_default()),
            PrintedColumn::Notes => Cell::Text(notes.take().unwrap_or_default()),
            c => amount_index(*c)
                .map(|k| Cell::money(a[k]))
                .unwrap_or(Cell::Empty),
        })
        .collect();
    Row {
        style: RowStyle::Normal,
        cells,
    }
}

/// Closes a section's table with its TỔNG row, as a section with its titles.
fn close_appendix(
    ctx: &Context<'_>,
    sec: &SectionInfo,
    mut table: Table,
    section_totals: &HashMap<String, Amounts>,
) -> Section {
    let totals = section_totals.get(&sec.key).copied().unwrap_or([None; 7]);
    table.rows.push(Row {
        style: RowStyle::Total,
        cells: summary_cells(sec, String::new(), "TỔNG".into(), totals),
    });
    Section {
        sheet: sec.label.chars().take(31).collect(),
        blocks: vec![
            Block::Title(sec.label.to_uppercase()),
            Block::Title(sec.title.to_uppercase()),
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
