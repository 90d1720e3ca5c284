//! How long steps take: the `[durations.STATE]` and `[selection_methods.NAME]` tables of a
//! workflow file, read for the year-end forecast ([`crate::forecast`]).
//!
//! A deadline says how long a step *may* take; a duration says how long it *must* take at least
//! (the law's minimum: 18 days of bid preparation for open bidding, NĐ 214/2025 Điều 28), how long
//! it usually takes, and, where the law caps it, how long it may take at most. Each figure carries
//! its kind (`statutory`, `internal`, `estimate`) and, for the law's, its source. The contractor
//! selection steps depend on the method (open bidding, competitive quotation…): a state's figures
//! may be overridden per declared selection method, and a method may be limited to packages up to
//! a value.
//!
//! Both tables are optional; a state without an entry takes no time in a forecast.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::load::Errors;
use super::{Amount, State, Transition};
use crate::time::IsoDuration;

/// Whose figure a duration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureKind {
    /// Set by law (with its source).
    Statutory,
    /// A target the city set for itself.
    Internal,
    /// A realistic figure nobody has confirmed: shown as such.
    Estimate,
}

impl FigureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FigureKind::Statutory => "statutory",
            FigureKind::Internal => "internal",
            FigureKind::Estimate => "estimate",
        }
    }

    /// The Vietnamese label.
    pub fn label(self) -> &'static str {
        match self {
            FigureKind::Statutory => "luật định",
            FigureKind::Internal => "mục tiêu nội bộ",
            FigureKind::Estimate => "ước tính",
        }
    }
}

/// One figure: an amount, its kind and its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub amount: Amount,
    pub kind: FigureKind,
    pub source: Option<String>,
}

/// The figures of one step (for one selection method, or for all).
#[derive(Debug, Clone, PartialEq)]
pub struct StepDuration {
    pub minimum: Figure,
    pub typical: Figure,
    /// The lawful maximum; when absent, the state's deadline, else the typical figure.
    pub maximum: Option<Figure>,
    /// What the minimum is spent on, in Vietnamese ("chuẩn bị hồ sơ dự thầu"): the binding step
    /// reads "lựa chọn nhà thầu: tối thiểu 18 ngày chuẩn bị hồ sơ dự thầu".
    pub step: Option<String>,
}

/// A state's declared durations.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDurations {
    pub base: StepDuration,
    /// Selection method name → the figures under that method.
    pub methods: BTreeMap<String, StepDuration>,
    /// Reaching the end of this step closes the plan year for the task (a rental's yearly
    /// payment): the forecast stops here instead of at a completed state.
    pub closes_year: bool,
}

impl StateDurations {
    /// The figures under `method` (the base ones when the method does not override them).
    pub fn for_method(&self, method: Option<&str>) -> &StepDuration {
        method
            .and_then(|m| self.methods.get(m))
            .unwrap_or(&self.base)
    }
}

/// A contractor-selection method the forecast may take (đấu thầu rộng rãi, chào hàng cạnh
/// tranh…), in declaration order: the first is the one a task follows unless it qualifies for a
/// shorter one.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectionMethod {
    pub name: String,
    /// Vietnamese ("chào hàng cạnh tranh").
    pub title: String,
    /// Only packages up to this value (VND) may use it.
    pub max_value: Option<i64>,
    pub source: Option<String>,
    /// A transition only this method may take (a head's direct decision for a tiny package).
    pub via: Option<String>,
}

/// A workflow's durations: per state, and the selection methods.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Durations {
    pub states: BTreeMap<String, StateDurations>,
    pub methods: Vec<SelectionMethod>,
}

impl Durations {
    pub fn is_empty(&self) -> bool {
        self.states.is_empty() && self.methods.is_empty()
    }

    /// The transitions reserved to one method by `via`: other methods may not take them.
    pub fn reserved(&self, transition: &str) -> Option<&str> {
        self.methods
            .iter()
            .find(|m| m.via.as_deref() == Some(transition))
            .map(|m| m.name.as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFigure {
    working_days: Option<u32>,
    days: Option<u32>,
    duration: Option<String>,
    kind: Option<String>,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    minimum: Option<RawFigure>,
    typical: Option<RawFigure>,
    maximum: Option<RawFigure>,
    step: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStateDurations {
    #[serde(flatten)]
    base: RawStep,
    #[serde(default)]
    closes_year: bool,
    #[serde(default)]
    methods: BTreeMap<String, RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMethod {
    title: String,
    max_value: Option<i64>,
    source: Option<String>,
    via: Option<String>,
}

/// Reads and checks `[durations.*]` and `[selection_methods.*]`: every named state, method and
/// transition exists, every figure has one amount and a kind (a statutory one its source), and a
/// minimum is not longer than the typical figure, nor that than the maximum, when they count
/// the same way.
pub(super) fn parse(
    raw: &BTreeMap<String, Spanned<RawStateDurations>>,
    raw_methods: &BTreeMap<String, Spanned<RawMethod>>,
    states: &[(Range<usize>, State)],
    transitions: &[(Range<usize>, Transition)],
    errs: &mut Errors<'_>,
) -> Durations {
    let mut methods: Vec<(usize, SelectionMethod)> = Vec::new();
    for (name, m) in raw_methods {
        let span = m.span();
        let rm = m.get_ref();
        let subject = Some(format!("selection method `{name}`"));
        if !super::load::is_ident(name, '_') {
            errs.push(
                &span,
                subject.clone(),
                "selection method names are lowercase letters, digits and '_'",
            );
        }
        if rm.title.trim().is_empty() {
            errs.push(&span, subject.clone(), "title must not be empty");
        }
        if rm.max_value.is_some_and(|v| v <= 0) {
            errs.push(
                &span,
                subject.clone(),
                "max_value must be a positive amount in VND",
            );
        }
        if let Some(t) = &rm.via
            && !transitions.iter().any(|(_, tr)| &tr.name == t)
        {
            errs.push(
                &span,
                subject.clone(),
                format!("via names unknown transition `{t}`"),
            );
        }
        methods.push((
            span.start,
            SelectionMethod {
                name: name.clone(),
                title: rm.title.trim().to_string(),
                max_value: rm.max_value,
                source: nonempty(&rm.source),
                via: rm.via.clone(),
            },
        ));
    }
    methods.sort_by_key(|(at, _)| *at);
    let methods: Vec<SelectionMethod> = methods.into_iter().map(|(_, m)| m).collect();

    let mut out = BTreeMap::new();
    for (name, d) in raw {
        let span = d.span();
        let subject = Some(format!("durations of state `{name}`"));
        let Some((_, state)) = states.iter().find(|(_, s)| &s.name == name) else {
            let mut known: Vec<&str> = states.iter().map(|(_, s)| s.name.as_str()).collect();
            known.sort_unstable();
            errs.push(
                &span,
                subject,
                format!(
                    "unknown state `{name}`; the states are: {}",
                    known.join(", ")
                ),
            );
            continue;
        };
        let rd = d.get_ref();
        if state.phase.is_terminal() {
            errs.push(
                &span,
                subject.clone(),
                format!("a terminal state (phase {}) takes no time", state.phase),
            );
            continue;
        }
        let base = parse_step(&rd.base, "", errs, &span, &subject);
        let mut by_method = BTreeMap::new();
        let mut ok = true;
        for (m, rs) in &rd.methods {
            if !methods.iter().any(|x| &x.name == m) {
                let declared: Vec<&str> = methods.iter().map(|x| x.name.as_str()).collect();
                errs.push(
                    &span,
                    subject.clone(),
                    format!(
                        "unknown selection method `{m}`; declare it under [selection_methods] (declared: {})",
                        if declared.is_empty() { "none".to_string() } else { declared.join(", ") }
                    ),
                );
                ok = false;
                continue;
            }
            match parse_step(rs, &format!("methods.{m}."), errs, &span, &subject) {
                Some(s) => {
                    by_method.insert(m.clone(), s);
                }
                None => ok = false,
            }
        }
        if let (Some(base), true) = (base, ok) {
            out.insert(
                name.clone(),
                StateDurations {
                    base,
                    methods: by_method,
                    closes_year: rd.closes_year,
                },
            );
        }
    }
    Durations {
        states: out,
        methods,
    }
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn parse_step(
    raw: &RawStep,
    prefix: &str,
    errs: &mut Errors<'_>,
    span: &Range<usize>,
    subject: &Option<String>,
) -> Option<StepDuration> {
    let mut figure = |f: &Option<RawFigure>, what: &str, required: bool| match f {
        Some(f) => parse_figure(f, &format!("{prefix}{what}"), errs, span, subject).map(Some),
        None if required => {
            errs.push(
                span,
                subject.clone(),
                format!(
                    "{prefix}{what} is required: {prefix}{what} = {{ working_days = N, kind = \"estimate\" }}"
                ),
            );
            None
        }
        None => Some(None),
    };
    let minimum = figure(&raw.minimum, "minimum", true);
    let typical = figure(&raw.typical, "typical", true);
    let maximum = figure(&raw.maximum, "maximum", false);
    if raw.step.as_deref().is_some_and(|s| s.trim().is_empty()) {
        errs.push(
            span,
            subject.clone(),
            format!("{prefix}step must not be empty"),
        );
        return None;
    }
    let (minimum, typical, maximum) = (minimum??, typical??, maximum?);
    let mut ok = true;
    if longer(&minimum.amount, &typical.amount) {
        errs.push(
            span,
            subject.clone(),
            format!("{prefix}minimum is longer than {prefix}typical"),
        );
        ok = false;
    }
    if let Some(max) = &maximum
        && longer(&typical.amount, &max.amount)
    {
        errs.push(
            span,
            subject.clone(),
            format!("{prefix}typical is longer than {prefix}maximum"),
        );
        ok = false;
    }
    ok.then(|| StepDuration {
        minimum,
        typical,
        maximum,
        step: nonempty(&raw.step),
    })
}

/// Whether `a` is longer than `b`, when both count the same way (else nothing is claimed).
fn longer(a: &Amount, b: &Amount) -> bool {
    match (a, b) {
        (Amount::WorkingDays(x), Amount::WorkingDays(y)) | (Amount::Days(x), Amount::Days(y)) => {
            x > y
        }
        (Amount::Iso(x), Amount::Iso(y)) => {
            (x.months, x.days, x.seconds) > (y.months, y.days, y.seconds)
        }
        _ => false,
    }
}

fn parse_figure(
    raw: &RawFigure,
    what: &str,
    errs: &mut Errors<'_>,
    span: &Range<usize>,
    subject: &Option<String>,
) -> Option<Figure> {
    let amount = match (raw.working_days, raw.days, &raw.duration) {
        (Some(n), None, None) => Some(Amount::WorkingDays(n)),
        (None, Some(n), None) => Some(Amount::Days(n)),
        (None, None, Some(text)) => match IsoDuration::parse(text) {
            Ok(d) => Some(Amount::Iso(d)),
            Err(e) => {
                errs.push(span, subject.clone(), format!("{what}: {e}"));
                None
            }
        },
        _ => {
            errs.push(
                span,
                subject.clone(),
                format!(
                    "{what} needs exactly one of: working_days = N, days = N, duration = \"P1M\""
                ),
            );
            None
        }
    };
    let source = nonempty(&raw.source);
    let kind = match raw.kind.as_deref() {
        Some("statutory") if source.is_none() => {
            errs.push(
                span,
                subject.clone(),
                format!("{what}: a statutory figure needs its legal source: source = \"Nghị định 214/2025/NĐ-CP Điều 28\""),
            );
            None
        }
        Some("statutory") => Some(FigureKind::Statutory),
        Some("internal") => Some(FigureKind::Internal),
        Some("estimate") => Some(FigureKind::Estimate),
        Some(other) => {
            errs.push(
                span,
                subject.clone(),
                format!("{what}: kind must be \"statutory\", \"internal\" or \"estimate\"; got \"{other}\""),
            );
            None
        }
        None => {
            errs.push(
                span,
                subject.clone(),
                format!("{what} declares its kind: kind = \"statutory\" (with source), \"internal\" or \"estimate\""),
            );
            None
        }
    };
    Some(Figure {
        amount: amount?,
        kind: kind?,
        source,
    })
}
