//! The year-end forecast of a plan (issue 17): for every open task, whether it can still finish by
//! its due date given the law's minimum durations (`engine::forecast`), and the list of the tasks
//! that cannot, or are at risk, with the step that binds them. As a document (XLSX, HTML,
//! Markdown) or as JSON.
//!
//! A task's inputs, from its report row as of the report date: its current state and when it
//! entered it (a task imported after the date counts as entering its step on the date), its stopped
//! clock, its package value (approved estimate, else need), its assigned deadline (a leader's
//! deadline, else the plan's "Thời gian dự kiến hoàn thành" when it is a date) and, for a task of the plan's year only, the
//! end of that budget year.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use engine::Phase;
use engine::forecast::{
    FlagChange, Forecast, Many, TaskInput, Verdict, budget_year_of, package_value,
};
use engine::time::{Instant, end_of_day, format_date};
use engine::workflow::Catalog;
use serde::Serialize;

use super::model::{Block, Cell, Column, ColumnKind, Document, Row, RowStyle, Section, Table};
use crate::progress::{TRACK_EVERY, Tracker};
use crate::store::{FlagInput, Plan, PrintedOrder, ReportRow, RowSink, Store, StoreError};

/// One task's forecast (or why it has none).
#[derive(Debug, Clone)]
pub struct TaskForecast {
    pub row: ReportRow,
    pub forecast: Result<Forecast, String>,
}

/// The forecast of a task from its report row (`None`: finished, postponed, withdrawn, or a
/// workflow version no longer loaded).
pub fn forecast_row(
    many: &mut Many,
    catalog: &Catalog,
    plan_year: i32,
    r: &ReportRow,
    as_of: Instant,
) -> Option<Result<Forecast, String>> {
    if r.phase.is_terminal() || r.phase == Phase::Postponed {
        return None;
    }
    let wf = catalog.get(&r.workflow, r.workflow_version)?;
    let input = TaskInput {
        state: &r.state,
        // A note after the last move (a deadline change, a flag) does not restart the step.
        entered_at: r.state_entered_at.unwrap_or(r.entry_at),
        paused: r.paused_clock.as_ref(),
        value: package_value(r.budget[1], r.budget[0], r.budget[2]),
        deadline: engine::assigned::assigned_deadline(
            r.expected_completion_on,
            r.assigned_deadline_on,
        ),
        budget_year: budget_year_of(r.period.as_deref(), plan_year),
        allocated: r.budget[3].is_some_and(|a| a > 0),
    };
    Some(many.forecast(wf, &input, as_of).map_err(|e| e.to_string()))
}

/// The forecasts of every open task among `rows`, as of the end of `as_of`, one after the
/// other: what [`Streamed`] works out on several threads.
#[cfg(test)]
fn compute(
    plan: &Plan,
    rows: Vec<ReportRow>,
    catalog: &Catalog,
    as_of: NaiveDate,
) -> Vec<TaskForecast> {
    let mut many = Many::new();
    let at = end_of_day(as_of);
    rows.into_iter()
        .filter_map(|row| {
            let forecast = forecast_row(&mut many, catalog, plan.year, &row, at)?;
            Some(TaskForecast { row, forecast })
        })
        .collect()
}

/// What one pass over the flags did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FlagCounts {
    /// Open tasks forecast.
    pub checked: usize,
    /// Flags raised (first time, or changed): an audit entry and an email each.
    pub raised: usize,
    /// Flags cleared (the task is no longer flagged): an audit entry each.
    pub cleared: usize,
}

/// Raises the flags of the open tasks of `plan` (of every plan when `None`, each task in its own
/// plan) as of the end of `as_of`, written at `now`: each flag once, and again only when it
/// changes (`Scheduling::raise_forecast_flag`). Run by the scheduler and `tiendo forecast
/// --raise`.
pub async fn raise_flags(
    store: &Store,
    plan: Option<&Plan>,
    as_of: NaiveDate,
    now: Instant,
) -> Result<FlagCounts, StoreError> {
    let rows = store
        .reports()
        .report_rows(plan.map(|p| p.id.as_str()), end_of_day(as_of))
        .await?;
    let at = end_of_day(as_of);
    let mut many = Many::new();
    let mut counts = FlagCounts::default();
    for r in &rows {
        let Some(Ok(f)) = forecast_row(&mut many, store.catalog(), r.plan_year, r, at) else {
            continue;
        };
        counts.checked += 1;
        let input = FlagInput {
            task_id: &r.task_id,
            task_name: &r.name,
            unit_id: &r.unit_id,
            state: &r.state,
            forecast: &f,
        };
        match store.scheduling().raise_forecast_flag(&input, now).await? {
            FlagChange::Raise(_) => counts.raised += 1,
            FlagChange::Clear => counts.cleared += 1,
            FlagChange::Keep => {}
        }
    }
    Ok(counts)
}

/// "đấu thầu rộng rãi trong nước" or "—".
fn path_title(f: &Forecast) -> String {
    f.path_of(f.earliest)
        .title
        .clone()
        .unwrap_or_else(|| "—".to_string())
}

fn state_title(catalog: &Catalog, r: &ReportRow) -> String {
    catalog
        .get(&r.workflow, r.workflow_version)
        .and_then(|w| w.state(&r.state))
        .map_or_else(|| r.state.clone(), |s| s.title.clone())
}

/// How many tasks got each verdict, and how many could not be forecast.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub open: usize,
    pub cannot_finish: usize,
    pub at_risk: usize,
    pub on_track: usize,
    pub no_deadline: usize,
    pub not_forecast: usize,
}

impl Counts {
    /// Counts one more open task.
    fn add(&mut self, t: &TaskForecast) {
        self.open += 1;
        match &t.forecast {
            Ok(f) => match f.verdict {
                Verdict::CannotFinish => self.cannot_finish += 1,
                Verdict::AtRisk => self.at_risk += 1,
                Verdict::OnTrack => self.on_track += 1,
                Verdict::NoDeadline => self.no_deadline += 1,
            },
            Err(_) => self.not_forecast += 1,
        }
    }

    fn merge(&mut self, o: Counts) {
        self.open += o.open;
        self.cannot_finish += o.cannot_finish;
        self.at_risk += o.at_risk;
        self.on_track += o.on_track;
        self.no_deadline += o.no_deadline;
        self.not_forecast += o.not_forecast;
    }
}

/// The counts of `list`, as [`Streamed`]'s workers add them up (the tests' reference).
#[cfg(test)]
fn counts(list: &[TaskForecast]) -> Counts {
    let mut c = Counts::default();
    for t in list {
        c.add(t);
    }
    c
}

/// The forecast as a document: the counts, then the tasks that cannot finish on time and those at
/// risk, each with its dates, path and binding step, then those that could not be forecast.
pub(crate) fn build(plan: &Plan, as_of: NaiveDate, parts: DocumentParts) -> Document {
    let DocumentParts {
        counts: c,
        flagged,
        failed,
    } = parts;
    let mut blocks = vec![
        Block::Title("DỰ BÁO KHẢ NĂNG HOÀN THÀNH NHIỆM VỤ".to_string()),
        Block::Subtitle(format!(
            "Kế hoạch số {} — tính đến ngày {}",
            plan.number,
            format_date(as_of)
        )),
        Block::Paragraph(format!(
            "Trong {} nhiệm vụ đang thực hiện: {} nhiệm vụ không thể hoàn thành đúng hạn, {} nhiệm vụ có nguy cơ, {} nhiệm vụ dự kiến kịp, {} nhiệm vụ không có hạn hoàn thành{}.",
            c.open,
            c.cannot_finish,
            c.at_risk,
            c.on_track,
            c.no_deadline,
            if c.not_forecast > 0 {
                format!(", {} nhiệm vụ không dự báo được", c.not_forecast)
            } else {
                String::new()
            }
        )),
        Block::Paragraph(
            "Cách tính: từ bước hiện tại của nhiệm vụ và thời gian đã qua ở bước đó, theo mọi đường đến khi hoàn thành và mọi hình thức lựa chọn nhà thầu mà giá trị gói thầu cho phép, trên lịch ngày làm việc: sớm nhất (mọi bước ở mức tối thiểu luật định hoặc ước tính), thường gặp, muộn nhất theo luật. Hạn là thời gian hoàn thành được giao, hoặc hết ngày 31/12 của năm ngân sách với nhiệm vụ phải hoàn thành trong năm. Các con số \"ước tính\" chưa được xác nhận (xem tệp quy trình).".to_string(),
        ),
    ];
    blocks.extend(flagged.blocks());
    if !failed.is_empty() {
        blocks.push(Block::Heading("Không dự báo được".to_string()));
        blocks.extend(failed.into_iter().map(Block::Bullet));
    }
    Document {
        title: format!("Dự báo hoàn thành — Kế hoạch số {}", plan.number),
        sections: vec![Section {
            sheet: "Du bao".to_string(),
            blocks,
            freeze_header: false,
        }],
        as_of: Some(as_of),
    }
}

/// The tasks that cannot finish on time and those at risk, as table rows built one task at a
/// time (a caller may drop each forecast once its row is built); [`Flagged::blocks`] lays them
/// out: a heading with the count and a table each (the forecast report and the status report's
/// section).
#[derive(Default)]
pub(crate) struct Flagged {
    cannot_finish: Vec<Row>,
    at_risk: Vec<Row>,
}

impl Flagged {
    /// Adds `r`'s row to its verdict's table, if it is flagged; `name` is `r`'s (a caller that
    /// owns the row moves it in rather than copying it).
    pub(crate) fn push(
        &mut self,
        r: &ReportRow,
        name: String,
        f: &Forecast,
        catalog: &Catalog,
        names: &HashMap<String, String>,
    ) {
        if let Some(row) = Flagged::row(r, name, f, catalog, names) {
            self.add(f.verdict, row);
        }
    }

    /// The table row of a flagged task (its number "TT" left blank: [`Flagged::add`] numbers
    /// it), or `None` for a task that is not flagged.
    fn row(
        r: &ReportRow,
        name: String,
        f: &Forecast,
        catalog: &Catalog,
        names: &HashMap<String, String>,
    ) -> Option<Row> {
        if !f.verdict.flagged() {
            return None;
        }
        Some(Row {
            style: RowStyle::Normal,
            cells: vec![
                Cell::text(String::new()),
                Cell::Text(name),
                Cell::text(super::unit_name(names, r)),
                Cell::text(state_title(catalog, r)),
                Cell::text(f.due.map(format_date).unwrap_or_default()),
                Cell::text(format_date(f.earliest.date)),
                Cell::text(format_date(f.typical.date)),
                Cell::text(format_date(f.latest.date)),
                Cell::text(path_title(f)),
                Cell::text(f.binding.as_ref().map_or("", |b| b.text.as_str())),
                Cell::text(note(f)),
            ],
        })
    }

    /// Adds a row built by [`Flagged::row`] to the end of its verdict's table, numbered.
    fn add(&mut self, verdict: Verdict, mut row: Row) {
        let rows = match verdict {
            Verdict::CannotFinish => &mut self.cannot_finish,
            Verdict::AtRisk => &mut self.at_risk,
            Verdict::OnTrack | Verdict::NoDeadline => return,
        };
        if let Some(tt) = row.cells.first_mut() {
            *tt = Cell::text((rows.len() + 1).to_string());
        }
        rows.push(row);
    }

    /// How many tasks were flagged.
    pub(crate) fn len(&self) -> usize {
        self.cannot_finish.len() + self.at_risk.len()
    }

    /// The tasks that cannot finish on time, then those at risk: a heading with the count and a
    /// table each.
    pub(crate) fn blocks(self) -> Vec<Block> {
        let mut blocks = Vec::new();
        for (rows, heading) in [
            (self.cannot_finish, "Nhiệm vụ không thể hoàn thành đúng hạn"),
            (
                self.at_risk,
                "Nhiệm vụ có nguy cơ không hoàn thành đúng hạn",
            ),
        ] {
            blocks.push(Block::Heading(format!("{heading} ({})", rows.len())));
            if rows.is_empty() {
                blocks.push(Block::Paragraph("Không có.".to_string()));
                continue;
            }
            blocks.push(Block::Table(table(rows)));
        }
        blocks
    }
}

fn table(rows: Vec<Row>) -> Table {
    let columns = vec![
        Column::new("TT", ColumnKind::Center, 5.0),
        Column::new("Tên nhiệm vụ", ColumnKind::Text, 50.0),
        Column::new("Đơn vị", ColumnKind::Text, 25.0),
        Column::new("Bước hiện tại", ColumnKind::Text, 30.0),
        Column::new("Hạn", ColumnKind::Center, 12.0),
        Column::new("Sớm nhất", ColumnKind::Center, 12.0),
        Column::new("Thường gặp", ColumnKind::Center, 12.0),
        Column::new("Muộn nhất theo luật", ColumnKind::Center, 12.0),
        Column::new("Đường sớm nhất", ColumnKind::Text, 25.0),
        Column::new("Bước quyết định", ColumnKind::Text, 45.0),
        Column::new("Ghi chú", ColumnKind::Text, 45.0),
    ];
    Table {
        unit_note: None,
        columns,
        header_groups: Vec::new(),
        rows,
    }
}

/// The table's "Ghi chú": the cheaper-path note, then the decisions the workflow offers
/// ("Có thể đề xuất: đề nghị chuyển nguồn …; đề nghị giãn …").
fn note(f: &Forecast) -> String {
    let mut parts: Vec<String> = f.shorter_path_note().into_iter().collect();
    if !f.options.is_empty() {
        let titles: Vec<&str> = f.options.iter().map(|o| o.title.as_str()).collect();
        parts.push(format!("Có thể đề xuất: {}", titles.join("; ")));
    }
    parts.join(". ")
}

/// A date and the selection method of the path that gives it.
#[derive(Debug, Serialize)]
pub struct BoundJson<'a> {
    pub date: NaiveDate,
    pub method: Option<&'a str>,
}

impl<'a> BoundJson<'a> {
    fn of(f: &'a Forecast, b: engine::forecast::Bound) -> BoundJson<'a> {
        BoundJson {
            date: b.date,
            method: f.path_of(b).method.as_deref(),
        }
    }
}

/// The path a task's earliest date follows: its method and its steps.
#[derive(Debug, Serialize)]
pub struct PathJson<'a> {
    pub method: Option<&'a str>,
    pub title: Option<&'a str>,
    pub steps: &'a [engine::forecast::Step],
}

/// One task's forecast in the JSON answer: the verdict, the three dates, the binding step and
/// the earliest path's steps; every path's every step only on request (`--all-paths`), since a
/// plan of 100,000 tasks would otherwise answer with hundreds of megabytes.
#[derive(Debug, Serialize)]
pub struct ForecastBodyJson<'a> {
    pub due: Option<NaiveDate>,
    pub due_reason: Option<&'a str>,
    pub verdict: Verdict,
    pub earliest: BoundJson<'a>,
    pub typical: BoundJson<'a>,
    pub latest: BoundJson<'a>,
    pub binding: Option<&'a engine::forecast::Binding>,
    pub path: PathJson<'a>,
    /// "Có đường ngắn hơn: …".
    pub shorter_path: Option<String>,
    /// For a flagged task, the proposals the workflow offers (carry-over first, then
    /// postponement), each with the transition or decision UBND takes on accepting it.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub options: &'a [engine::forecast::DecisionOption],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<&'a [engine::forecast::PathForecast]>,
}

impl<'a> ForecastBodyJson<'a> {
    fn of(f: &'a Forecast, all_paths: bool) -> ForecastBodyJson<'a> {
        let p = f.path_of(f.earliest);
        ForecastBodyJson {
            due: f.due,
            due_reason: f.due_reason.as_deref(),
            verdict: f.verdict,
            earliest: BoundJson::of(f, f.earliest),
            typical: BoundJson::of(f, f.typical),
            latest: BoundJson::of(f, f.latest),
            binding: f.binding.as_ref(),
            path: PathJson {
                method: p.method.as_deref(),
                title: p.title.as_deref(),
                steps: &p.steps,
            },
            shorter_path: f.shorter_path_note(),
            options: &f.options,
            paths: all_paths.then_some(&f.paths[..]),
        }
    }
}

/// One task in the JSON answer.
#[derive(Debug, Serialize)]
pub struct TaskForecastJson<'a> {
    pub task_id: &'a str,
    pub name: &'a str,
    pub unit: String,
    pub workflow: &'a str,
    pub state: &'a str,
    pub state_title: String,
    #[serde(flatten)]
    pub forecast: Option<ForecastBodyJson<'a>>,
    pub verdict_text: Option<&'static str>,
    pub summary: Option<String>,
    pub error: Option<&'a str>,
}

/// The JSON answer: the plan, the date, the counts and every open task's forecast.
#[derive(Debug, Serialize)]
pub struct ForecastJson<'a> {
    pub plan: &'a str,
    pub as_of: NaiveDate,
    pub counts: Counts,
    pub tasks: Vec<TaskForecastJson<'a>>,
}

/// How the JSON answer's tasks are written: units named by `names`; `all_paths`: every path's
/// every step, not only the earliest path's.
struct JsonAnswer<'a> {
    catalog: &'a Catalog,
    names: &'a HashMap<String, String>,
    all_paths: bool,
}

impl<'a> JsonAnswer<'a> {
    /// One task's entry.
    fn task(&self, t: &'a TaskForecast) -> TaskForecastJson<'a> {
        TaskForecastJson {
            task_id: &t.row.task_id,
            name: &t.row.name,
            unit: super::unit_name(self.names, &t.row),
            workflow: &t.row.workflow,
            state: &t.row.state,
            state_title: state_title(self.catalog, &t.row),
            forecast: t
                .forecast
                .as_ref()
                .ok()
                .map(|f| ForecastBodyJson::of(f, self.all_paths)),
            verdict_text: t.forecast.as_ref().ok().map(|f| f.verdict.label()),
            summary: t.forecast.as_ref().ok().map(Forecast::summary),
            error: t.forecast.as_ref().err().map(String::as_str),
        }
    }

    /// The answer of `plan` as of `as_of` whole in memory, with the tasks of `list` (in its
    /// order): [`JsonParts::write`] writes the same bytes without holding them.
    #[cfg(test)]
    fn whole(
        &self,
        plan: &'a Plan,
        as_of: NaiveDate,
        list: &'a [TaskForecast],
    ) -> ForecastJson<'a> {
        ForecastJson {
            plan: &plan.number,
            as_of,
            counts: counts(list),
            tasks: list.iter().map(|t| self.task(t)).collect(),
        }
    }
}

/// What a forecast's reading thread hands to its workers at a time.
const BATCH: usize = 512;

/// What the workers of a streamed forecast ([`Streamed`]) share: how to forecast a row and, for
/// JSON, how to write its entry.
pub(crate) struct Job {
    pub plan: Plan,
    pub catalog: Arc<Catalog>,
    pub names: Arc<HashMap<String, String>>,
    pub as_of: NaiveDate,
    pub units: Option<Vec<String>>,
    pub output: Output,
}

/// What a streamed forecast makes of each task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// What the document lists of it (its table row, if it is flagged).
    Document,
    /// Its JSON entry, serialized as it is forecast.
    Json,
    /// Its JSON entry with every path (`--all-paths`): about 4 kB a task, 400 MB for 100,000
    /// tasks, too much to hold; the forecast is kept and serialized as the answer is written.
    JsonAllPaths,
}

/// A plan's forecast worked out while its rows are read
/// ([`crate::store::Reports::each_report_row`]): the reading thread hands the rows in batches to
/// a worker thread a processor, which forecasts each (and, for JSON, serializes its entry at
/// once and drops the row), so that reading, forecasting and serializing run side by side. The
/// workers gather each task's [`PrintedOrder`] with its forecast or entry; the finish puts them
/// in that order.
pub(crate) struct Streamed<'t> {
    batch: Vec<ReportRow>,
    send: Option<SyncSender<Vec<ReportRow>>>,
    workers: Vec<std::thread::JoinHandle<Result<(), String>>>,
    gathered: Arc<Mutex<Gathered>>,
    job: Arc<Job>,
    tracker: &'t dyn Tracker,
    read: usize,
}

/// What the workers gathered, in the order they finished their batches: `keys[i]` is the place
/// of `lines[i]` (documents: only the tasks the document lists), `entries[i]` (JSON: every open
/// task) or `kept[i]` (JSON with every path).
#[derive(Default)]
struct Gathered {
    counts: Counts,
    keys: Vec<PrintedOrder>,
    lines: Vec<Line>,
    entries: Vec<Entry>,
    chunks: Vec<Vec<u8>>,
    kept: Vec<TaskForecast>,
}

/// What the forecast document lists of a task: its row in the table of its verdict, or why it
/// could not be forecast.
enum Line {
    Flagged(Verdict, Row),
    Failed(String),
}

/// What a forecast document is made of ([`build`]): the counts, the flagged tasks' tables and
/// the tasks that could not be forecast, each in printed order.
#[derive(Default)]
pub(crate) struct DocumentParts {
    counts: Counts,
    flagged: Flagged,
    failed: Vec<String>,
}

impl DocumentParts {
    /// Adds what the document lists of `t` (called in printed order).
    fn add(&mut self, line: Line) {
        match line {
            Line::Flagged(verdict, row) => self.flagged.add(verdict, row),
            Line::Failed(text) => self.failed.push(text),
        }
    }

    /// What the document lists of `t`, if anything.
    fn line(t: &TaskForecast, catalog: &Catalog, names: &HashMap<String, String>) -> Option<Line> {
        match &t.forecast {
            Ok(f) => Flagged::row(&t.row, t.row.name.clone(), f, catalog, names)
                .map(|row| Line::Flagged(f.verdict, row)),
            Err(e) => Some(Line::Failed(format!("{}: {e}", t.row.name))),
        }
    }
}

/// Where a task's JSON entry is: its chunk, and the range of bytes in it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    chunk: u32,
    start: u32,
    end: u32,
}

/// A streamed JSON forecast's result ([`Streamed::finish_json`]): what it was asked for, the
/// counts and the tasks, in printed order.
pub(crate) struct JsonParts {
    job: Arc<Job>,
    counts: Counts,
    tasks: JsonTasks,
}

enum JsonTasks {
    /// Each task's entry, already serialized ([`Output::Json`]).
    Entries {
        entries: Vec<Entry>,
        chunks: Vec<Vec<u8>>,
    },
    /// Each task's forecast, serialized as it is written ([`Output::JsonAllPaths`]).
    Forecasts(Vec<TaskForecast>),
}

impl<'t> Streamed<'t> {
    /// Starts the workers (one a processor); an error when the system gives no thread.
    pub(crate) fn start(job: Job, tracker: &'t dyn Tracker) -> Result<Streamed<'t>, StoreError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<ReportRow>>(2 * threads);
        let receive = Arc::new(Mutex::new(receive));
        let gathered = Arc::new(Mutex::new(Gathered::default()));
        let job = Arc::new(job);
        // Workers already started stop when `send` is dropped with the error.
        let workers = (0..threads)
            .map(|_| {
                let (job, receive, gathered) = (
                    Arc::clone(&job),
                    Arc::clone(&receive),
                    Arc::clone(&gathered),
                );
                std::thread::Builder::new()
                    .name("forecast".into())
                    .spawn(move || work(&job, &receive, &gathered))
                    .map_err(|e| StoreError::internal(format!("forecast thread: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Streamed {
            batch: Vec::with_capacity(BATCH),
            send: Some(send),
            workers,
            gathered,
            job,
            tracker,
            read: 0,
        })
    }

    fn hand_over(&mut self) -> Result<(), StoreError> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let send = self.send.as_ref().ok_or_else(stopped)?;
        send.send(batch).map_err(|_| stopped())
    }

    /// Waits for the workers, and takes what they gathered, with its order.
    fn finish(mut self) -> Result<(Gathered, Vec<usize>), StoreError> {
        if !self.batch.is_empty() {
            self.hand_over()?;
        }
        // The workers stop when the channel closes.
        self.send = None;
        for w in std::mem::take(&mut self.workers) {
            w.join()
                .map_err(|_| stopped())?
                .map_err(|e| StoreError::internal(format!("forecast: {e}")))?;
        }
        self.tracker.advance(self.read);
        let gathered = std::mem::take(&mut *self.gathered.lock().map_err(|_| stopped())?);
        let keys = &gathered.keys;
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_unstable_by(|&a, &b| keys[a].cmp(&keys[b]));
        Ok((gathered, order))
    }

    /// The document's parts, in printed order (a [`Job`] for [`Output::Document`]).
    pub(crate) fn finish_document(self) -> Result<DocumentParts, StoreError> {
        let (mut gathered, order) = self.finish()?;
        crate::store::put_in_order(&mut gathered.lines, order);
        let mut parts = DocumentParts {
            counts: gathered.counts,
            ..DocumentParts::default()
        };
        for line in gathered.lines {
            parts.add(line);
        }
        Ok(parts)
    }

    /// The JSON answer's parts, in printed order (a [`Job`] with a JSON [`Output`]).
    pub(crate) fn finish_json(self) -> Result<JsonParts, StoreError> {
        let job = Arc::clone(&self.job);
        let (mut gathered, order) = self.finish()?;
        let tasks = if job.output == Output::JsonAllPaths {
            crate::store::put_in_order(&mut gathered.kept, order);
            JsonTasks::Forecasts(gathered.kept)
        } else {
            crate::store::put_in_order(&mut gathered.entries, order);
            JsonTasks::Entries {
                entries: gathered.entries,
                chunks: gathered.chunks,
            }
        };
        Ok(JsonParts {
            job,
            counts: gathered.counts,
            tasks,
        })
    }
}

impl Drop for Streamed<'_> {
    /// A read that failed half way: the workers stop with the channel, and are not waited for.
    fn drop(&mut self) {
        self.send = None;
    }
}

fn stopped() -> StoreError {
    StoreError::internal("the forecast's worker thread stopped")
}

impl RowSink for Streamed<'_> {
    /// JSON: sized up front, every task has an entry.
    fn expect(&mut self, rows: usize) {
        if self.job.output != Output::Document
            && let Ok(mut g) = self.gathered.lock()
        {
            g.keys.reserve_exact(rows);
            if self.job.output == Output::Json {
                g.entries.reserve_exact(rows);
            } else {
                g.kept.reserve_exact(rows);
            }
        }
    }

    fn push(&mut self, row: ReportRow) -> Result<(), StoreError> {
        self.read += 1;
        if self.read.is_multiple_of(TRACK_EVERY) {
            self.tracker.advance(self.read);
        }
        let units = self.job.units.as_ref();
        if units.is_some_and(|u| !u.contains(&row.unit_id)) {
            return Ok(());
        }
        self.batch.push(row);
        if self.batch.len() == BATCH {
            self.hand_over()?;
        }
        Ok(())
    }
}

/// A worker: forecasts the batches it takes until the channel closes, adding each batch's
/// results to `gathered`.
fn work(
    job: &Job,
    receive: &Mutex<Receiver<Vec<ReportRow>>>,
    gathered: &Mutex<Gathered>,
) -> Result<(), String> {
    let mut many = Many::new();
    let at = end_of_day(job.as_of);
    let answer = JsonAnswer {
        catalog: &job.catalog,
        names: &job.names,
        all_paths: false,
    };
    fn poisoned<T>(_: T) -> String {
        "a forecast thread failed".to_string()
    }
    loop {
        // The lock is held only to take a batch.
        let Ok(batch) = receive.lock().map_err(poisoned)?.recv() else {
            return Ok(());
        };
        let mut counts = Counts::default();
        let mut keys = Vec::with_capacity(batch.len());
        let mut lines = Vec::new();
        let mut kept = Vec::new();
        let mut ranges = Vec::new();
        // About 2 kB a task (the longest entries grow it; what is left over is given back).
        let mut buf = Vec::with_capacity(if job.output == Output::Json {
            batch.len() * 2400
        } else {
            0
        });
        for row in batch {
            let Some(forecast) = forecast_row(&mut many, &job.catalog, job.plan.year, &row, at)
            else {
                continue;
            };
            let t = TaskForecast { row, forecast };
            counts.add(&t);
            match job.output {
                Output::Document => {
                    if let Some(line) = DocumentParts::line(&t, &job.catalog, &job.names) {
                        keys.push(PrintedOrder::of(&t.row));
                        lines.push(line);
                    }
                }
                Output::Json => {
                    keys.push(PrintedOrder::of(&t.row));
                    let start = buf.len();
                    serde_json::to_writer(&mut buf, &answer.task(&t)).map_err(|e| e.to_string())?;
                    ranges.push((start, buf.len()));
                }
                Output::JsonAllPaths => {
                    keys.push(PrintedOrder::of(&t.row));
                    kept.push(t);
                }
            }
        }
        buf.shrink_to_fit();
        let mut g = gathered.lock().map_err(poisoned)?;
        g.counts.merge(counts);
        g.keys.append(&mut keys);
        g.lines.append(&mut lines);
        g.kept.append(&mut kept);
        if job.output == Output::Json {
            let chunk = u32::try_from(g.chunks.len()).map_err(|e| e.to_string())?;
            for (start, end) in ranges {
                let (start, end) = (
                    u32::try_from(start).map_err(|e| e.to_string())?,
                    u32::try_from(end).map_err(|e| e.to_string())?,
                );
                g.entries.push(Entry { chunk, start, end });
            }
            g.chunks.push(buf);
        }
    }
}

impl JsonParts {
    /// Writes the JSON answer: compact, the plan, the date, the counts,
    /// then each task's entry in printed order. The 150 MB answer of a 100,000-task plan is held
    /// once, as its entries (the counts come first, so nothing is written before the last row
    /// is forecast); with every path, the forecasts are held and each entry is serialized
    /// straight to `out`.
    pub(crate) fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let head = ForecastJson {
            plan: &self.job.plan.number,
            as_of: self.job.as_of,
            counts: self.counts,
            tasks: Vec::new(),
        };
        let mut head = serde_json::to_vec(&head)?;
        // `…"tasks":[]}`: the tasks go between the brackets.
        head.truncate(head.len() - 2);
        out.write_all(&head)?;
        match &self.tasks {
            JsonTasks::Entries { entries, chunks } => {
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    let bytes = chunks
                        .get(e.chunk as usize)
                        .and_then(|c| c.get(e.start as usize..e.end as usize))
                        .ok_or_else(|| {
                            std::io::Error::other("a forecast entry out of its chunk")
                        })?;
                    out.write_all(bytes)?;
                }
            }
            JsonTasks::Forecasts(list) => {
                let answer = JsonAnswer {
                    catalog: &self.job.catalog,
                    names: &self.job.names,
                    all_paths: true,
                };
                for (i, t) in list.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut *out, &answer.task(t))?;
                }
            }
        }
        out.write_all(b"]}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forecast while the rows are read, in several batches on several workers and in the
    /// order the store happens to hand them over, the answer is the one worked out from the
    /// rows in printed order: the same JSON bytes as serializing it whole, the same document as
    /// building its tables one task at a time; rows of units out of scope and finished tasks are
    /// left out. A file that fills up part way gets its error back.
    #[test]
    fn the_streamed_forecast_is_the_forecast_of_the_rows_in_printed_order() {
        let at = engine::time::parse_instant("2025-06-02T09:00:00+07:00").unwrap();
        let catalog = Arc::new(Catalog::load(&crate::definitions::embedded()).unwrap());
        let plan = Plan::example();
        let as_of = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
        let names = Arc::new(HashMap::from([(
            "so-y-te".to_string(),
            "Sở Y tế".to_string(),
        )]));
        // 1,300 rows (three batches) in a scrambled order: positions repeat, some are missing,
        // creation times and ids break the ties; one in seven is another unit's, one in eleven
        // is finished, one in seventeen at a step its workflow does not have (it cannot be
        // forecast); names that JSON must escape.
        let rows: Vec<ReportRow> = (0..1300u32)
            .map(|i| {
                let k = (i * 7919) % 1300;
                let mut r = ReportRow::example(&format!("t{k:04}"), at);
                r.name = format!("Nhiệm vụ \"{k}\" số {k}");
                r.position = (k % 13 != 0).then_some(i64::from(k % 97));
                r.created_at = at + chrono::Duration::seconds(i64::from(k % 5));
                r.expected_completion_on = NaiveDate::from_ymd_opt(2025, 7 + k % 6, 1);
                if k % 7 == 0 {
                    r.unit_id = "so-tai-chinh".into();
                }
                if k % 11 == 0 {
                    r.phase = Phase::Completed;
                }
                if k % 17 == 0 {
                    r.state = "buoc_khong_co".into();
                }
                r
            })
            .collect();
        let units = Some(vec!["so-y-te".to_string()]);
        let mut expected: Vec<ReportRow> = rows
            .iter()
            .filter(|r| r.unit_id == "so-y-te")
            .cloned()
            .collect();
        expected.sort_by_key(PrintedOrder::of);
        let list = compute(&plan, expected, &catalog, as_of);
        // 1,300 less 186 multiples of 7 and 119 of 11, plus the 17 of 77 counted twice.
        assert_eq!(list.len(), 1012);
        let job = |output| Job {
            plan: plan.clone(),
            catalog: Arc::clone(&catalog),
            names: Arc::clone(&names),
            as_of,
            units: units.clone(),
            output,
        };
        let stream = |output| {
            let mut streamed = Streamed::start(job(output), &()).unwrap();
            streamed.expect(rows.len());
            for r in &rows {
                streamed.push(r.clone()).unwrap();
            }
            streamed
        };
        for all_paths in [false, true] {
            let answer = JsonAnswer {
                catalog: &catalog,
                names: &names,
                all_paths,
            };
            let whole = serde_json::to_vec(&answer.whole(&plan, as_of, &list)).unwrap();
            let output = if all_paths {
                Output::JsonAllPaths
            } else {
                Output::Json
            };
            let parts = stream(output).finish_json().unwrap();
            let mut written = Vec::new();
            parts.write(&mut written).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(whole).unwrap(),
                "all paths: {all_paths}"
            );
        }
        // The document: its tables and failures built one task at a time from the sorted list.
        let mut one_by_one = DocumentParts {
            counts: counts(&list),
            ..DocumentParts::default()
        };
        for t in &list {
            if let Some(line) = DocumentParts::line(t, &catalog, &names) {
                one_by_one.add(line);
            }
        }
        assert!(
            one_by_one.flagged.len() > 100,
            "{}",
            one_by_one.flagged.len()
        );
        assert!(one_by_one.failed.len() > 10, "{}", one_by_one.failed.len());
        let streamed = stream(Output::Document).finish_document().unwrap();
        assert_eq!(
            format!("{:?}", build(&plan, as_of, streamed)),
            format!("{:?}", build(&plan, as_of, one_by_one))
        );
        // No row at all: an empty answer.
        let parts = Streamed::start(job(Output::Json), &())
            .unwrap()
            .finish_json()
            .unwrap();
        let mut written = Vec::new();
        parts.write(&mut written).unwrap();
        let answer = JsonAnswer {
            catalog: &catalog,
            names: &names,
            all_paths: false,
        };
        assert_eq!(
            written,
            serde_json::to_vec(&answer.whole(&plan, as_of, &[])).unwrap()
        );
        // A file that fills up part way: the error comes back.
        struct Full(usize);
        impl std::io::Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 < buf.len() {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let parts = stream(Output::Json).finish_json().unwrap();
        let err = parts.write(&mut Full(6000)).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
    }
}
