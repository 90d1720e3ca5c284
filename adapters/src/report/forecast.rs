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

use chrono::NaiveDate;
use engine::Phase;
use engine::forecast::{
    FlagChange, Forecast, Many, TaskInput, Verdict, budget_year_of, package_value,
};
use engine::time::{Instant, end_of_day, format_date};
use engine::workflow::Catalog;
use serde::Serialize;

use super::model::{Block, Cell, Column, ColumnKind, Document, Row, RowStyle, Section, Table};
use crate::store::{FlagInput, Plan, ReportRow, Store, StoreError};

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

/// The forecasts of every open task among `rows`, as of the end of `as_of`.
pub fn compute(
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

pub fn counts(list: &[TaskForecast]) -> Counts {
    let mut c = Counts {
        open: list.len(),
        ..Counts::default()
    };
    for t in list {
        match &t.forecast {
            Ok(f) => match f.verdict {
                Verdict::CannotFinish => c.cannot_finish += 1,
                Verdict::AtRisk => c.at_risk += 1,
                Verdict::OnTrack => c.on_track += 1,
                Verdict::NoDeadline => c.no_deadline += 1,
            },
            Err(_) => c.not_forecast += 1,
        }
    }
    c
}

/// The forecast as a document: the counts, then the tasks that cannot finish on time and those at
/// risk, each with its dates, path and binding step.
pub fn build(
    plan: &Plan,
    list: &[TaskForecast],
    as_of: NaiveDate,
    catalog: &Catalog,
    names: &HashMap<String, String>,
) -> Document {
    let c = counts(list);
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
    let mut flagged = Flagged::default();
    for t in list {
        if let Ok(f) = &t.forecast
            && f.verdict.flagged()
        {
            flagged.push(&t.row, t.row.name.clone(), f, catalog, names);
        }
    }
    blocks.extend(flagged.blocks());
    let failed: Vec<&TaskForecast> = list.iter().filter(|t| t.forecast.is_err()).collect();
    if !failed.is_empty() {
        blocks.push(Block::Heading("Không dự báo được".to_string()));
        for t in failed {
            blocks.push(Block::Bullet(format!(
                "{}: {}",
                t.row.name,
                t.forecast.as_ref().err().map_or("", String::as_str)
            )));
        }
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
        let rows = match f.verdict {
            Verdict::CannotFinish => &mut self.cannot_finish,
            Verdict::AtRisk => &mut self.at_risk,
            Verdict::OnTrack | Verdict::NoDeadline => return,
        };
        rows.push(Row {
            style: RowStyle::Normal,
            cells: vec![
                Cell::text((rows.len() + 1).to_string()),
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
        });
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

/// What the JSON answer is made of: the plan's open tasks with their forecasts (`list`), as of
/// `as_of`, units named by `names`; `all_paths`: every path's every step, not only the earliest
/// path's.
pub struct JsonAnswer<'a> {
    pub plan: &'a Plan,
    pub list: &'a [TaskForecast],
    pub as_of: NaiveDate,
    pub catalog: &'a Catalog,
    pub names: &'a HashMap<String, String>,
    pub all_paths: bool,
}

/// Tasks serialized at a time by one thread of [`JsonAnswer::write`]: about 3 MB of JSON.
const JSON_CHUNK: usize = 2048;

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

    /// The answer whole in memory; [`JsonAnswer::write`] writes the same bytes without holding
    /// them.
    pub fn whole(&self) -> ForecastJson<'a> {
        ForecastJson {
            plan: &self.plan.number,
            as_of: self.as_of,
            counts: counts(self.list),
            tasks: self.list.iter().map(|t| self.task(t)).collect(),
        }
    }

    /// The answer's compact serialization, written to `out` as it is made: the tasks are
    /// serialized in chunks of [`JSON_CHUNK`] on as many threads as the machine has processors,
    /// and each chunk is written as soon as those before it are. A 100,000-task answer (150 MB)
    /// is never held whole: at most two chunks a thread wait to be written.
    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.write_in_chunks(out, JSON_CHUNK)
    }

    /// [`JsonAnswer::write`] in chunks of `chunk` tasks.
    fn write_in_chunks(&self, out: &mut dyn std::io::Write, chunk: usize) -> std::io::Result<()> {
        let head = ForecastJson {
            plan: &self.plan.number,
            as_of: self.as_of,
            counts: counts(self.list),
            tasks: Vec::new(),
        };
        let mut head = serde_json::to_vec(&head)?;
        // `…"tasks":[]}`: the tasks go between the brackets.
        head.truncate(head.len() - 2);
        out.write_all(&head)?;
        let chunks: Vec<&[TaskForecast]> = self.list.chunks(chunk.max(1)).collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, chunks.len().max(1));
        let serialize = |i: usize| -> std::io::Result<Vec<u8>> {
            let mut buf = Vec::with_capacity(chunks[i].len() * 1600);
            for (j, t) in chunks[i].iter().enumerate() {
                if i > 0 || j > 0 {
                    buf.push(b',');
                }
                serde_json::to_writer(&mut buf, &self.task(t))?;
            }
            Ok(buf)
        };
        if threads == 1 {
            for i in 0..chunks.len() {
                out.write_all(&serialize(i)?)?;
            }
        } else {
            std::thread::scope(|scope| -> std::io::Result<()> {
                // Thread `w` serializes chunks w, w + threads, …, each into its own channel; the
                // chunks are taken from the channels in turn, so in order. When writing fails, the
                // receivers are dropped and the threads stop at their next send.
                let receivers: Vec<_> = (0..threads)
                    .map(|w| {
                        let (send, receive) = std::sync::mpsc::sync_channel(2);
                        let serialize = &serialize;
                        let count = chunks.len();
                        scope.spawn(move || {
                            for i in (w..count).step_by(threads) {
                                if send.send(serialize(i)).is_err() {
                                    break;
                                }
                            }
                        });
                        receive
                    })
                    .collect();
                for i in 0..chunks.len() {
                    let chunk = receivers[i % threads]
                        .recv()
                        .map_err(|_| std::io::Error::other("a JSON thread stopped"))??;
                    out.write_all(&chunk)?;
                }
                Ok(())
            })?;
        }
        out.write_all(b"]}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written in chunks on several threads, the JSON answer is the bytes of serializing it
    /// whole, whatever the chunk size: the chunks come out in order, one comma between tasks.
    #[test]
    fn the_json_written_in_chunks_is_the_json_serialized_whole() {
        let at = engine::time::parse_instant("2025-06-02T09:00:00+07:00").unwrap();
        let catalog = Catalog::load(&crate::definitions::embedded()).unwrap();
        let plan = Plan::example();
        let rows: Vec<ReportRow> = (0..7)
            .map(|i| {
                let mut r = ReportRow::example(&format!("t{i}"), at);
                r.name = format!("Nhiệm vụ \"{i}\" số {i}");
                r.expected_completion_on = NaiveDate::from_ymd_opt(2025, 7 + i as u32, 1);
                r
            })
            .collect();
        let as_of = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
        let list = compute(&plan, rows, &catalog, as_of);
        assert_eq!(list.len(), 7);
        assert!(list.iter().all(|t| t.forecast.is_ok()));
        let names = HashMap::from([("so-y-te".to_string(), "Sở Y tế".to_string())]);
        let answer = |list, all_paths| JsonAnswer {
            plan: &plan,
            list,
            as_of,
            catalog: &catalog,
            names: &names,
            all_paths,
        };
        for all_paths in [false, true] {
            let answer = answer(&list, all_paths);
            let whole = serde_json::to_vec(&answer.whole()).unwrap();
            for chunk in [1, 2, 3, 7, 100] {
                let mut written = Vec::new();
                answer.write_in_chunks(&mut written, chunk).unwrap();
                assert_eq!(
                    String::from_utf8(written).unwrap(),
                    String::from_utf8(whole.clone()).unwrap(),
                    "chunks of {chunk}"
                );
            }
        }
        // A file that fills up part way: the error comes back, the threads stop.
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
        let err = answer(&list, false)
            .write_in_chunks(&mut Full(600), 1)
            .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        // No task: an empty list between the brackets.
        let mut written = Vec::new();
        answer(&[], false).write(&mut written).unwrap();
        assert_eq!(
            written,
            serde_json::to_vec(&answer(&[], false).whole()).unwrap()
        );
    }
}
