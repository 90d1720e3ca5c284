//! The year-end forecast: can a task still finish by its deadline, given the law's minimum
//! durations?
//!
//! From the task's current state and the time already spent in it, over every path of its
//! workflow to a completed state (or to the step that closes the plan year, `closes_year`), for
//! every contractor-selection method the task's value allows, this computes on the working-day
//! calendar:
//!
//! - the **earliest** completion: every step takes its minimum, on the best path;
//! - the **typical** one: every step takes its typical duration;
//! - the **latest lawful** one: every step takes the most the law allows (its `maximum`, else its
//!   deadline, else its typical duration), without any return for revision.
//!
//! Each is the best (earliest) over the allowed paths, and names its path. The *binding step* is
//! the step of the earliest path whose minimum takes the most calendar days ("lựa chọn nhà thầu:
//! tối thiểu 18 ngày chuẩn bị hồ sơ dự thầu"). A task whose earliest completion is after its due
//! date (its assigned deadline, or 31/12 of its budget year, whichever is first) cannot finish on
//! time; one whose typical completion is after it is at risk.
//!
//! Steps are chained the way the law counts periods: a step entered on day D ends N working days
//! (or N days) after D, D itself not counted (BLDS 2015 Điều 147–148, [`Calendar`]). The search is
//! Dijkstra's over states, which is exact because a later start never gives an earlier end.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::Phase;
use crate::calendar::{Calendar, CalendarError};
use crate::decide::Clock;
use crate::time::{Instant, format_date, local_date};
use crate::wording::period;
use crate::workflow::{Amount, OnReturn, SelectionMethod, StepDuration, Workflow};

/// What the forecast needs to know about a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInput<'a> {
    pub state: &'a str,
    /// When the task entered its current state: the time spent since counts towards it.
    pub entered_at: Instant,
    /// A deadline clock stopped while the dossier is back with the unit: on return to its state,
    /// only what was left of it remains (when the state resumes its clock).
    pub paused: Option<&'a Clock>,
    /// The package's value in VND (the approved estimate, else the need), for the selection
    /// methods limited by value. Unknown: every method is allowed.
    pub value: Option<i64>,
    /// The deadline the task was assigned (the plan's completion date, a leader's deadline).
    pub deadline: Option<NaiveDate>,
    /// The budget year the task must finish within: 31/12 of it is a due date too.
    pub budget_year: Option<i32>,
    /// The task has funds allocated in its plan's year: carrying them over is an option.
    pub allocated: bool,
}

/// Which of the three figures a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    Minimum,
    Typical,
    Maximum,
}

/// One step of a forecast path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub state: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// The step that weighs most on the earliest date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    pub state: String,
    pub phase: Phase,
    /// The declared minimum ("18 ngày").
    pub minimum: String,
    /// "lựa chọn nhà thầu: tối thiểu 18 ngày chuẩn bị hồ sơ dự thầu".
    pub text: String,
    /// The legal source of the minimum, when it is the law's.
    pub source: Option<String>,
}

/// The forecast along one selection method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathForecast {
    /// The method's name and title; `None` when the workflow declares none, or none matters
    /// any more (the task is past contractor selection).
    pub method: Option<String>,
    pub title: Option<String>,
    /// The task's value allows it.
    pub allowed: bool,
    /// Why not, in Vietnamese ("gói thầu không quá 500 triệu đồng").
    pub limit: Option<String>,
    pub earliest: NaiveDate,
    pub typical: NaiveDate,
    pub latest: NaiveDate,
    /// The steps of the earliest path, current state first.
    pub steps: Vec<Step>,
    pub binding: Option<Binding>,
}

/// Where a task stands against its due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Even with every step at its minimum it finishes after the due date.
    CannotFinish,
    /// It finishes after the due date at typical durations.
    AtRisk,
    /// It finishes in time at typical durations.
    OnTrack,
    /// No due date to judge against (a standing task).
    NoDeadline,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::CannotFinish => "cannot_finish",
            Verdict::AtRisk => "at_risk",
            Verdict::OnTrack => "on_track",
            Verdict::NoDeadline => "no_deadline",
        }
    }

    /// The Vietnamese words reports use.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::CannotFinish => "không thể hoàn thành đúng hạn",
            Verdict::AtRisk => "có nguy cơ",
            Verdict::OnTrack => "dự kiến kịp",
            Verdict::NoDeadline => "không có hạn hoàn thành",
        }
    }

    /// A flag: the task cannot finish or is at risk.
    pub fn flagged(self) -> bool {
        matches!(self, Verdict::CannotFinish | Verdict::AtRisk)
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Verdict, String> {
        [
            Verdict::CannotFinish,
            Verdict::AtRisk,
            Verdict::OnTrack,
            Verdict::NoDeadline,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| format!("unknown forecast verdict `{s}`"))
    }
}

/// The audit entries of flags: kind and transition name.
pub const FLAG_KIND: &str = "forecast_flag";

/// What the scheduler does with a task's flag, given the flag last raised for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagChange {
    /// Raise this flag: an audit entry and an email (first time, or the flag changed).
    Raise(Verdict),
    /// The task is no longer flagged: record it (an audit entry, no email) so that a later
    /// flag is raised again.
    Clear,
    /// Nothing new.
    Keep,
}

/// Each flag is raised once, and again only if it changes (issue 17): `previous` is the flag
/// last raised and not cleared.
pub fn flag_change(previous: Option<Verdict>, current: Verdict) -> FlagChange {
    match (previous, current.flagged()) {
        (p, true) if p == Some(current) => FlagChange::Keep,
        (_, true) => FlagChange::Raise(current),
        (Some(_), false) => FlagChange::Clear,
        (None, false) => FlagChange::Keep,
    }
}

impl Forecast {
    /// The audit entry's comment for a flag raised or cleared: the verdict, the due date and
    /// the dates, the binding step.
    pub fn flag_comment(&self, change: FlagChange) -> Option<String> {
        let due = self
            .due
            .map(|d| {
                format!(
                    " (hạn {}{})",
                    format_date(d),
                    self.due_reason
                        .as_deref()
                        .map(|r| format!(", {r}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        match change {
            FlagChange::Raise(_) => Some(format!(
                "Dự báo ngày {}: {}{due}",
                format_date(self.as_of),
                self.summary()
            )),
            FlagChange::Clear => Some(format!(
                "Dự báo ngày {}: hết cờ, {}{due}",
                format_date(self.as_of),
                self.summary()
            )),
            FlagChange::Keep => None,
        }
    }
}

/// A date and the path (index into [`Forecast::paths`]) that gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bound {
    pub date: NaiveDate,
    pub path: usize,
}

/// The forecast of one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forecast {
    pub as_of: NaiveDate,
    /// The date the task is judged against, and why ("hạn được giao", "hết năm ngân sách 2025").
    pub due: Option<NaiveDate>,
    pub due_reason: Option<String>,
    /// One per selection method (or one when methods do not matter), in declaration order.
    /// Shared: the tasks of a report with the same inputs share their paths ([`Many`]).
    #[serde(serialize_with = "serialize_paths")]
    pub paths: Arc<[PathForecast]>,
    pub earliest: Bound,
    pub typical: Bound,
    pub latest: Bound,
    pub verdict: Verdict,
    /// The binding step of the earliest path.
    pub binding: Option<Binding>,
    /// An allowed path that finishes earlier than the default method's (quotation instead of
    /// open bidding), when there is one.
    pub shorter_path: Option<usize>,
    /// For a flagged task, the decisions the workflow offers from its step ([`decision_options`]).
    pub options: Vec<DecisionOption>,
}

/// A decision a flagged task leads to: a proposal whose exit the workflow declares from the
/// task's step, made through the proposals mechanism (`tiendo task propose`, `POST
/// /api/v1/tasks/{id}/proposals`) and decided by UBND.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionOption {
    /// The proposal's kind (`carry_over`, `postpone`).
    pub kind: &'static str,
    /// "đề nghị giãn sang kế hoạch năm sau".
    pub title: String,
    /// The workflow's transition (or, for a carry-over, declared decision) UBND takes on
    /// accepting it.
    pub transition: String,
}

/// The decisions a task whose verdict is a flag may lead to, from `state` of `wf`, each where
/// the workflow declares it from the step: first, when the task has an allocation in its year
/// (`allocated`), propose carrying the funds over to next year (đề nghị chuyển nguồn kinh phí
/// sang năm sau: the task keeps running, a `[[decisions]]` entry); then propose postponement to
/// next year's plan (đề nghị giãn sang kế hoạch năm sau: an exit into `postponed`, none from the
/// contract on). Nothing for a task on track.
pub fn decision_options(
    wf: &Workflow,
    state: &str,
    verdict: Verdict,
    allocated: bool,
) -> Vec<DecisionOption> {
    use crate::proposal::{ProposalKind, declared};
    if !verdict.flagged() {
        return Vec::new();
    }
    [ProposalKind::CarryOver, ProposalKind::Postpone]
        .into_iter()
        .filter(|k| allocated || *k != ProposalKind::CarryOver)
        .filter_map(|k| {
            let d = declared(wf, state, k)?;
            Some(DecisionOption {
                kind: k.as_str(),
                title: match k {
                    ProposalKind::CarryOver => {
                        "đề nghị chuyển nguồn kinh phí sang năm sau (nhiệm vụ tiếp tục thực hiện)"
                    }
                    _ => {
                        "đề nghị giãn sang kế hoạch năm sau (tạm hoãn, chuyển sang kế hoạch năm sau)"
                    }
                }
                .to_string(),
                transition: d.name().to_string(),
            })
        })
        .collect()
}

fn serialize_paths<S: serde::Serializer>(
    paths: &Arc<[PathForecast]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter())
}

/// Why a task has no forecast.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForecastError {
    #[error("nhiệm vụ đã kết thúc ({0}): không cần dự báo")]
    Finished(Phase),
    #[error("không có trạng thái `{0}` trong quy trình")]
    UnknownState(String),
    #[error("không có đường nào từ bước hiện tại đến khi hoàn thành")]
    NoPath,
    #[error("{0}")]
    Calendar(#[from] CalendarError),
}

impl Forecast {
    pub fn path_of(&self, b: Bound) -> &PathForecast {
        &self.paths[b.path]
    }

    /// One line in Vietnamese: the verdict, the dates and the binding step.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: sớm nhất {}, thường gặp {}, muộn nhất theo luật {}",
            self.verdict.label(),
            format_date(self.earliest.date),
            format_date(self.typical.date),
            format_date(self.latest.date)
        );
        if let Some(t) = &self.path_of(self.earliest).title {
            s.push_str(&format!(" (theo {t})"));
        }
        if let Some(b) = &self.binding {
            s.push_str(&format!("; bước quyết định: {}", b.text));
        }
        s
    }

    /// Per path, in Vietnamese: "đấu thầu rộng rãi trong nước: sớm nhất 08/01/2026 — không thể
    /// hoàn thành đúng hạn".
    pub fn path_lines(&self) -> Vec<String> {
        self.paths
            .iter()
            .map(|p| {
                let name = p.title.as_deref().unwrap_or("đường chính");
                let mut line = format!(
                    "{name}: sớm nhất {}, thường gặp {}, muộn nhất {}",
                    format_date(p.earliest),
                    format_date(p.typical),
                    format_date(p.latest)
                );
                if !p.allowed {
                    line.push_str(&format!(
                        " — không áp dụng: {}",
                        p.limit.as_deref().unwrap_or("")
                    ));
                } else if let Some(due) = self.due {
                    line.push_str(" — ");
                    line.push_str(if p.earliest > due {
                        "không thể hoàn thành đúng hạn"
                    } else if p.typical > due {
                        "kịp chỉ khi mọi bước ở mức tối thiểu"
                    } else {
                        "dự kiến kịp"
                    });
                }
                line
            })
            .collect()
    }

    /// "Có đường ngắn hơn: chào hàng cạnh tranh …", when a shorter allowed path exists.
    pub fn shorter_path_note(&self) -> Option<String> {
        let i = self.shorter_path?;
        let (p, d) = (&self.paths[i], &self.paths[0]);
        Some(format!(
            "Có đường ngắn hơn: {} — sớm nhất {}, thường gặp {} (thay vì {}: sớm nhất {}, thường gặp {})",
            p.title.as_deref().unwrap_or(""),
            format_date(p.earliest),
            format_date(p.typical),
            d.title.as_deref().unwrap_or(""),
            format_date(d.earliest),
            format_date(d.typical),
        ))
    }
}

/// The budget year a task must finish within: its plan's year when the task runs in that year
/// only (its period is the year itself, or not printed); `None` for a multi-year task
/// ("2023-2026"), judged by its assigned deadline alone.
pub fn budget_year_of(period: Option<&str>, plan_year: i32) -> Option<i32> {
    match period.map(str::trim).filter(|p| !p.is_empty()) {
        None => Some(plan_year),
        Some(p) if p == plan_year.to_string() => Some(plan_year),
        Some(_) => None,
    }
}

/// The package value the selection-method thresholds are compared with: the approved estimate,
/// else the total need, else the year's need.
pub fn package_value(
    approved_estimate: Option<i64>,
    need_total: Option<i64>,
    need_year: Option<i64>,
) -> Option<i64> {
    approved_estimate.or(need_total).or(need_year)
}

/// "500 triệu đồng", "10 tỷ đồng".
fn money_words(vnd: i64) -> String {
    if vnd >= 1_000_000_000 && vnd % 100_000_000 == 0 {
        let tenths = vnd / 100_000_000;
        if tenths % 10 == 0 {
            format!("{} tỷ đồng", tenths / 10)
        } else {
            format!("{},{} tỷ đồng", tenths / 10, tenths % 10)
        }
    } else {
        format!("{} triệu đồng", crate::money::format_million_vnd(vnd, 0))
    }
}

/// The forecast of one task as of `as_of`.
pub fn forecast(
    wf: &Workflow,
    task: &TaskInput<'_>,
    as_of: Instant,
) -> Result<Forecast, ForecastError> {
    let paths = forecast_paths(wf, task, as_of)?;
    let mut f = judge(task, as_of, paths.into());
    f.options = decision_options(wf, task.state, f.verdict, task.allocated);
    Ok(f)
}

/// The paths part of a forecast (everything but the judgement against the due date), which
/// depends only on the workflow, the state, the dates and which methods the value allows: a
/// report of many tasks computes it once per distinct input ([`Many`]).
pub fn forecast_paths(
    wf: &Workflow,
    task: &TaskInput<'_>,
    as_of: Instant,
) -> Result<Vec<PathForecast>, ForecastError> {
    let state = wf
        .state(task.state)
        .ok_or_else(|| ForecastError::UnknownState(task.state.to_string()))?;
    if state.phase.is_terminal() || state.phase == Phase::Postponed {
        return Err(ForecastError::Finished(state.phase));
    }
    let methods: Vec<Option<&SelectionMethod>> = if wf.durations.methods.is_empty() {
        vec![None]
    } else {
        wf.durations.methods.iter().map(Some).collect()
    };
    let mut paths = Vec::new();
    for m in &methods {
        let run = |fig| Search::new(wf, task, as_of, m.map(|m| m.name.as_str()), fig).run();
        let (earliest, steps) = run(Figure::Minimum)?;
        let (typical, _) = run(Figure::Typical)?;
        let (latest, _) = run(Figure::Maximum)?;
        let binding = binding(wf, &steps, m.map(|m| m.name.as_str()));
        let allowed = match (m.and_then(|m| m.max_value), task.value) {
            (Some(max), Some(v)) => v <= max,
            _ => true,
        };
        paths.push(PathForecast {
            method: m.map(|m| m.name.clone()),
            title: m.map(|m| m.title.clone()),
            allowed,
            limit: m
                .and_then(|m| m.max_value)
                .map(|max| format!("chỉ cho gói thầu không quá {}", money_words(max))),
            earliest,
            typical,
            latest,
            steps,
            binding,
        });
    }
    // Past contractor selection every method gives the same path: keep one, method-free.
    if paths.len() > 1
        && paths.iter().all(|p| {
            (p.earliest, p.typical, p.latest, &p.steps)
                == (
                    paths[0].earliest,
                    paths[0].typical,
                    paths[0].latest,
                    &paths[0].steps,
                )
        })
    {
        paths.truncate(1);
        let p = &mut paths[0];
        (p.method, p.title, p.allowed, p.limit) = (None, None, true, None);
    }
    Ok(paths)
}

/// Judges computed paths against the task's due date.
pub fn judge(task: &TaskInput<'_>, as_of: Instant, paths: Arc<[PathForecast]>) -> Forecast {
    let year_end = task
        .budget_year
        .and_then(|y| NaiveDate::from_ymd_opt(y, 12, 31));
    let (due, due_reason) = match (task.deadline, year_end) {
        (Some(d), Some(y)) if y < d => (
            Some(y),
            Some(format!("hết năm ngân sách {}", y.format("%Y"))),
        ),
        (Some(d), _) => (Some(d), Some("hạn được giao".to_string())),
        (None, Some(y)) => (
            Some(y),
            Some(format!("hết năm ngân sách {}", y.format("%Y"))),
        ),
        (None, None) => (None, None),
    };
    let best = |f: fn(&PathForecast) -> NaiveDate| {
        let allowed = paths.iter().enumerate().filter(|(_, p)| p.allowed);
        let (i, p) = allowed
            .min_by_key(|(i, p)| (f(p), *i))
            .unwrap_or((0, &paths[0]));
        Bound {
            date: f(p),
            path: i,
        }
    };
    let earliest = best(|p| p.earliest);
    let typical = best(|p| p.typical);
    let latest = best(|p| p.latest);
    let verdict = match due {
        None => Verdict::NoDeadline,
        Some(d) if earliest.date > d => Verdict::CannotFinish,
        Some(d) if typical.date > d => Verdict::AtRisk,
        Some(_) => Verdict::OnTrack,
    };
    let shorter_path = (paths.len() > 1)
        .then(|| {
            let d = &paths[0];
            [earliest.path, typical.path].into_iter().find(|&i| {
                i != 0 && (paths[i].earliest < d.earliest || paths[i].typical < d.typical)
            })
        })
        .flatten();
    Forecast {
        as_of: local_date(as_of),
        due,
        due_reason,
        binding: paths[earliest.path].binding.clone(),
        paths,
        earliest,
        typical,
        latest,
        verdict,
        shorter_path,
        options: Vec::new(),
    }
}

/// The step of `steps` whose minimum spans the most calendar days (the first on a tie).
fn binding(wf: &Workflow, steps: &[Step], method: Option<&str>) -> Option<Binding> {
    let step = steps
        .iter()
        .filter(|s| wf.durations.states.contains_key(&s.state))
        .rev()
        .max_by_key(|s| (s.end - s.start).num_days())?;
    let state = wf.state(&step.state)?;
    let d = wf.durations.states.get(&step.state)?.for_method(method);
    let phase = state.phase.title();
    let mut phase_lower = String::new();
    for (i, c) in phase.chars().enumerate() {
        if i == 0 {
            phase_lower.extend(c.to_lowercase());
        } else {
            phase_lower.push(c);
        }
    }
    let what = d.step.clone().unwrap_or_else(|| state.title.clone());
    let minimum = period(&d.minimum.amount);
    Some(Binding {
        state: step.state.clone(),
        phase: state.phase,
        text: format!("{phase_lower}: tối thiểu {minimum} {what}"),
        minimum,
        source: d.minimum.source.clone(),
    })
}

/// One run of the search: one method, one figure.
#[derive(Clone, Copy)]
struct Search<'a> {
    wf: &'a Workflow,
    cal: &'a Calendar,
    task: &'a TaskInput<'a>,
    as_of: Instant,
    method: Option<&'a str>,
    figure: Figure,
    /// Whether some state closes the plan year: then those are the targets, not completion.
    year_targets: bool,
}

impl<'a> Search<'a> {
    fn new(
        wf: &'a Workflow,
        task: &'a TaskInput<'a>,
        as_of: Instant,
        method: Option<&'a str>,
        figure: Figure,
    ) -> Self {
        Search {
            wf,
            cal: &wf.calendar,
            task,
            as_of,
            method,
            figure,
            year_targets: wf.durations.states.values().any(|d| d.closes_year),
        }
    }

    /// The amounts of the figures up to this run's (minimum; minimum and typical; all three):
    /// a step ends at the latest of them, so the three runs stay ordered whatever units the
    /// figures count in.
    fn amounts(&self, state: &str) -> Vec<Amount> {
        let Some(d) = self.wf.durations.states.get(state) else {
            return Vec::new();
        };
        let d: &StepDuration = d.for_method(self.method);
        let mut out = vec![d.minimum.amount];
        if self.figure != Figure::Minimum {
            out.push(d.typical.amount);
        }
        if self.figure == Figure::Maximum {
            let deadline = self
                .wf
                .state(state)
                .and_then(|s| s.deadline.as_ref())
                .map(|d| d.amount);
            if let Some(a) = d.maximum.as_ref().map(|m| m.amount).or(deadline) {
                out.push(a);
            }
        }
        out
    }

    /// When a step of `state` entered at `start` ends.
    fn exit(&self, state: &str, start: Instant, resumed: bool) -> Result<Instant, CalendarError> {
        let mut end = start;
        for a in self.amounts(state) {
            let a = if resumed { self.remaining(a)? } else { a };
            end = end.max(a.after(self.cal, start)?);
        }
        Ok(end)
    }

    /// What is left of `a` for the state whose clock was paused, counted in `a`'s own unit.
    fn remaining(&self, a: Amount) -> Result<Amount, CalendarError> {
        let Some(c) = self.task.paused else {
            return Ok(a);
        };
        let paused_at = c.paused_at.unwrap_or(self.as_of);
        Ok(match a {
            Amount::WorkingDays(n) => {
                let used = self
                    .cal
                    .working_days_between(c.started_at, paused_at)?
                    .max(0);
                Amount::WorkingDays(n.saturating_sub(u32::try_from(used).unwrap_or(u32::MAX)))
            }
            Amount::Days(n) => {
                let used = (local_date(paused_at) - local_date(c.started_at))
                    .num_days()
                    .max(0);
                Amount::Days(n.saturating_sub(u32::try_from(used).unwrap_or(u32::MAX)))
            }
            iso => iso,
        })
    }

    fn is_target(&self, state: &str) -> bool {
        if self.year_targets {
            self.wf
                .durations
                .states
                .get(state)
                .is_some_and(|d| d.closes_year)
        } else {
            self.wf
                .state(state)
                .is_some_and(|s| s.phase == Phase::Completed)
        }
    }

    /// The search towards the steps that close the plan year, or, when none is ahead (a rental
    /// already winding up), towards completion.
    fn run(&self) -> Result<(NaiveDate, Vec<Step>), ForecastError> {
        match self.search() {
            Err(ForecastError::NoPath) if self.year_targets => Search {
                year_targets: false,
                ..*self
            }
            .search(),
            other => other,
        }
    }

    /// Dijkstra over states by arrival instant. Returns the completion date and the steps.
    fn search(&self) -> Result<(NaiveDate, Vec<Step>), ForecastError> {
        let start_state = self.task.state;
        let start = self.task.entered_at.min(self.as_of);
        // The current step: what is left of it, and not before today.
        let first_exit = self.exit(start_state, start, false)?.max(self.as_of);
        let resumes = self.task.paused.and_then(|c| {
            let owner = self.wf.state(&c.state)?;
            let d = owner.deadline.as_ref()?;
            (d.on_return == OnReturn::Resume).then_some(c.state.as_str())
        });

        // arrival instant and predecessor, per state.
        let mut arrival: HashMap<&str, (Instant, Option<&str>)> = HashMap::new();
        let mut exits: HashMap<&str, Instant> = HashMap::new();
        let mut heap: BinaryHeap<Reverse<(Instant, &str)>> = BinaryHeap::new();
        arrival.insert(start_state, (start, None));
        heap.push(Reverse((start, start_state)));
        let mut done: Option<(&str, Instant)> = None;
        while let Some(Reverse((at, s))) = heap.pop() {
            if arrival.get(s).is_some_and(|(a, _)| *a < at) || exits.contains_key(s) {
                continue;
            }
            let exit = if s == start_state {
                first_exit
            } else {
                self.exit(s, at, resumes == Some(s))?
            };
            exits.insert(s, exit);
            let phase = self.wf.state(s).map(|st| st.phase);
            if self.is_target(s) {
                let end = if phase == Some(Phase::Completed) {
                    at
                } else {
                    exit
                };
                done = Some((s, end));
                break;
            }
            if phase.is_some_and(|p| p.is_terminal()) {
                continue;
            }
            for t in self.wf.transitions_from(s) {
                if let Some(owner) = self.wf.durations.reserved(&t.name)
                    && Some(owner) != self.method
                {
                    continue;
                }
                let to = t.to.as_str();
                let Some(next) = self.wf.state(to) else {
                    continue;
                };
                if matches!(next.phase, Phase::Postponed | Phase::Withdrawn) {
                    continue;
                }
                if exits.contains_key(to) {
                    continue;
                }
                if arrival.get(to).is_none_or(|(a, _)| exit < *a) {
                    arrival.insert(to, (exit, Some(s)));
                    heap.push(Reverse((exit, to)));
                }
            }
        }
        let (target, end) = done.ok_or(ForecastError::NoPath)?;
        // The path, back from the target.
        let mut steps = Vec::new();
        let mut cur = Some(target);
        while let Some(s) = cur {
            let (at, prev) = arrival[s];
            let end_of = exits.get(s).copied().unwrap_or(at);
            let is_completed = self
                .wf
                .state(s)
                .is_some_and(|x| x.phase == Phase::Completed);
            if !is_completed {
                steps.push(Step {
                    state: s.to_string(),
                    start: local_date(at),
                    end: local_date(end_of),
                });
            }
            cur = prev;
        }
        steps.reverse();
        Ok((local_date(end), steps))
    }
}

/// Forecasts of many tasks with the paths computed once per distinct input: a plan's tasks share
/// a handful of (workflow, state, dates) combinations.
#[derive(Default)]
pub struct Many {
    cache: HashMap<Key, Result<Arc<[PathForecast]>, ForecastError>>,
}

#[derive(Hash, PartialEq, Eq)]
struct Key {
    workflow: String,
    version: u32,
    state: String,
    entered: NaiveDate,
    paused: Option<(String, NaiveDate, Option<NaiveDate>)>,
    /// Which methods the value allows.
    allowed: Vec<bool>,
    as_of: Instant,
}

impl Many {
    pub fn new() -> Many {
        Many::default()
    }

    /// The forecast of one task, reusing the paths of an earlier task with the same inputs.
    pub fn forecast(
        &mut self,
        wf: &Workflow,
        task: &TaskInput<'_>,
        as_of: Instant,
    ) -> Result<Forecast, ForecastError> {
        let key = Key {
            workflow: wf.name.clone(),
            version: wf.version,
            state: task.state.to_string(),
            entered: local_date(task.entered_at.min(as_of)),
            paused: task.paused.map(|c| {
                (
                    c.state.clone(),
                    local_date(c.started_at),
                    c.paused_at.map(local_date),
                )
            }),
            allowed: wf
                .durations
                .methods
                .iter()
                .map(|m| match (m.max_value, task.value) {
                    (Some(max), Some(v)) => v <= max,
                    _ => true,
                })
                .collect(),
            as_of,
        };
        let paths = match self.cache.get(&key) {
            Some(p) => p.clone(),
            None => {
                let p = forecast_paths(wf, task, as_of).map(Arc::from);
                self.cache.insert(key, p.clone());
                p
            }
        }?;
        // A value unknown to the cache key's methods is handled by `allowed` above; the paths'
        // own `allowed` flags follow the key.
        let mut f = judge(task, as_of, paths);
        f.options = decision_options(wf, task.state, f.verdict, task.allocated);
        Ok(f)
    }

    /// How many distinct inputs were computed.
    pub fn distinct(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests;
