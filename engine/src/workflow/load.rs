//! Reading a workflow file and refusing a bad one with every reason at once.
//!
//! Parsing keeps the byte span of every state and transition so that each error can name the
//! file, the line, and the offending state or transition: an administrator editing a file wants
//! the list of what to fix, not the first problem only.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use super::{
    Amount, Approval, ApprovalRule, Authority, AuthorityUnit, Deadline, DeadlineKind, Escalation,
    OnReturn, State, Transition, Workflow,
};
use crate::calendar::Calendar;
use crate::domain::{FundingSource, UnitId};
use crate::phase::{BACKBONE_MOVES, Phase, backbone_allows};
use crate::role::Role;
use crate::time::IsoDuration;

/// One reason a workflow file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    /// "state `tham_dinh`", "transition `tra_lai`", or none for the file as a whole.
    pub subject: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(s) = &self.subject {
            write!(f, "{s}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: Spanned<String>,
    title: Spanned<String>,
    version: Spanned<u32>,
    legal_basis: Spanned<Vec<String>>,
    applies_from: Spanned<toml::value::Datetime>,
    applies_until: Option<Spanned<toml::value::Datetime>>,
    calendar: Spanned<String>,
    initial: Spanned<String>,
    stall_after_working_days: Option<Spanned<u32>>,
    #[serde(default)]
    document_types: BTreeMap<String, Spanned<RawDocumentType>>,
    #[serde(default)]
    approvals: BTreeMap<String, Spanned<RawApproval>>,
    #[serde(default)]
    states: Vec<Spanned<RawState>>,
    #[serde(default)]
    transitions: Vec<Spanned<RawTransition>>,
    #[serde(default)]
    decisions: Vec<Spanned<super::decisions::RawDecision>>,
    #[serde(default)]
    durations: BTreeMap<String, Spanned<super::durations::RawStateDurations>>,
    #[serde(default)]
    selection_methods: BTreeMap<String, Spanned<super::durations::RawMethod>>,
    #[serde(default)]
    migrate_from: Vec<Spanned<RawMigration>>,
}

/// `[[migrate_from]]`: `version = N` and `states = { old = "new", … }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMigration {
    version: u32,
    states: BTreeMap<String, String>,
}

/// A document type: its title alone (`id = "Title"`: anyone who may attach to the task may
/// upload it), or `id = { title = "…", issued_by = ["skhcn"] }`: only those roles may.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawDocumentType {
    Title(String),
    Declared(RawDeclaredType),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeclaredType {
    title: String,
    issued_by: Vec<String>,
}

impl RawDocumentType {
    fn title(&self) -> &str {
        match self {
            RawDocumentType::Title(t) => t,
            RawDocumentType::Declared(d) => &d.title,
        }
    }
}

/// `[approvals.NAME]`: who approves, by rules on the task, with a default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    title: String,
    default: RawAuthority,
    #[serde(default)]
    rules: Vec<RawApprovalRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthority {
    role: String,
    unit: Option<String>,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovalRule {
    #[serde(default)]
    funding: Vec<String>,
    own_fund: Option<bool>,
    amount_at_least: Option<i64>,
    amount_below: Option<i64>,
    role: String,
    unit: Option<String>,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    name: String,
    phase: String,
    title: String,
    #[serde(default)]
    roles: Vec<String>,
    approval: Option<String>,
    deadline: Option<Spanned<RawDeadline>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmount {
    working_days: Option<u32>,
    days: Option<u32>,
    duration: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadline {
    #[serde(flatten)]
    amount: RawAmount,
    kind: Option<String>,
    source: Option<String>,
    #[serde(default)]
    pause_in: Vec<String>,
    on_return: Option<String>,
    request_within: Option<RawAmount>,
    remind_at: Option<Vec<f64>>,
    repeat_overdue_every: Option<RawAmount>,
    escalate_after: Option<RawEscalation>,
    on_expiry: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    #[serde(flatten)]
    amount: RawAmount,
    #[serde(default)]
    to: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    name: String,
    title: String,
    from: OneOrMany,
    to: String,
    #[serde(default)]
    roles: Vec<String>,
    approval: Option<String>,
    #[serde(default)]
    own_unit: bool,
    #[serde(default)]
    documents: Vec<String>,
    #[serde(default)]
    comment_required: bool,
    max_repeats: Option<u32>,
    #[serde(default)]
    opens_review: bool,
}

/// Collects errors against one file, turning byte spans into line numbers.
pub(super) struct Errors<'a> {
    file: &'a str,
    text: &'a str,
    list: Vec<LoadError>,
}

impl Errors<'_> {
    pub(super) fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    pub(super) fn push(
        &mut self,
        span: &Range<usize>,
        subject: Option<String>,
        message: impl Into<String>,
    ) {
        let line = self.line_of(span);
        self.list.push(LoadError {
            file: self.file.to_string(),
            line,
            subject,
            message: message.into(),
        });
    }
}

const DEFAULT_REMIND_AT: [f64; 3] = [0.5, 0.75, 1.0];

pub(super) fn is_ident(s: &str, extra: char) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
}

fn toml_date(d: &toml::value::Datetime) -> Option<NaiveDate> {
    match (d.date, d.time) {
        (Some(date), None) => NaiveDate::from_ymd_opt(
            i32::from(date.year),
            u32::from(date.month),
            u32::from(date.day),
        ),
        _ => None,
    }
}

/// Parses and checks one workflow file. `calendars` are the loaded calendars by name; the file's
/// `calendar` must be one of them. Returns every problem found, each with its line.
///
/// The steps, each collecting its problems and going on: read the TOML; check the file as a whole
/// (names, dates, calendar); the states; the transitions between them; what deadlines name; the
/// graph (initial state, reachability, ways out). Problems are listed by line.
pub fn parse_workflow(
    file: &str,
    text: &str,
    calendars: &BTreeMap<String, Arc<Calendar>>,
) -> Result<Workflow, Vec<LoadError>> {
    let mut errs = Errors {
        file,
        text,
        list: Vec::new(),
    };
    let raw: RawWorkflow = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            errs.push(&span, None, e.message().trim().to_string());
            return Err(errs.list);
        }
    };
    let header = check_header(&raw, calendars, &mut errs);
    let approvals = parse_approvals(&raw, &mut errs);
    let (states, unphased) = parse_states(&raw.states, &approvals, &mut errs);
    let known = KnownStates::new(&states, &unphased);
    let transitions = parse_transitions(&raw, &approvals, &known, &mut errs);
    check_deadline_references(&states, &transitions, &known, &mut errs);
    check_graph(&raw.initial, &states, &transitions, &known, &mut errs);
    let durations = super::durations::parse(
        &raw.durations,
        &raw.selection_methods,
        &states,
        &transitions,
        &mut errs,
    );

    let migrate_from = parse_migrations(&raw, &known, &mut errs);
    let decisions = {
        let states: HashMap<&str, Option<Phase>> = states
            .iter()
            .map(|(_, s)| (s.name.as_str(), Some(s.phase)))
            .chain(unphased.iter().map(|n| (n.as_str(), None)))
            .collect();
        let names: BTreeSet<&str> = transitions.iter().map(|(_, t)| t.name.as_str()).collect();
        let documents: BTreeSet<&str> = raw.document_types.keys().map(String::as_str).collect();
        super::decisions::parse(
            &raw.decisions,
            &super::decisions::Known {
                states: &states,
                transitions: &names,
                document_types: &documents,
            },
            &mut errs,
        )
    };

    if !errs.list.is_empty() {
        errs.list.sort_by_key(|e| e.line);
        return Err(errs.list);
    }
    Ok(Workflow {
        name: raw.name.into_inner(),
        title: raw.title.into_inner(),
        version: raw.version.into_inner(),
        legal_basis: raw.legal_basis.into_inner(),
        applies_from: header.applies_from.expect("checked above"),
        applies_until: header.applies_until,
        calendar: header.calendar.expect("checked above"),
        initial: raw.initial.into_inner(),
        stall_after_working_days: raw.stall_after_working_days.map(Spanned::into_inner),
        document_types: raw
            .document_types
            .iter()
            .map(|(id, d)| (id.clone(), d.get_ref().title().to_string()))
            .collect(),
        document_issuers: header.document_issuers,
        approvals,
        states: states.into_iter().map(|(_, s)| s).collect(),
        transitions: transitions.into_iter().map(|(_, t)| t).collect(),
        decisions,
        durations,
        migrate_from,
        file: file.to_string(),
    })
}

/// The `[[migrate_from]]` tables: an older version (below this one, declared once) and states
/// of this workflow as targets. Whether every state of the older version is mapped is checked by
/// the catalog, which has both versions.
fn parse_migrations(
    raw: &RawWorkflow,
    known: &KnownStates,
    errs: &mut Errors<'_>,
) -> Vec<super::Migration> {
    let own = *raw.version.get_ref();
    let mut out: Vec<super::Migration> = Vec::new();
    for m in &raw.migrate_from {
        let span = m.span();
        let subject = Some(format!("migrate_from version {}", m.get_ref().version));
        let r = m.get_ref();
        if r.version == 0 || r.version >= own {
            errs.push(
                &span,
                subject.clone(),
                format!("a migration comes from an older version: 1 to {}", own - 1),
            );
        }
        if out.iter().any(|o| o.from_version == r.version) {
            errs.push(
                &span,
                subject.clone(),
                "declared twice for the same version",
            );
        }
        for (old, new) in &r.states {
            if !known.declares(new) {
                errs.push(
                    &span,
                    subject.clone(),
                    format!(
                        "state `{old}` is mapped to `{new}`, which is not a state of this workflow"
                    ),
                );
            }
        }
        out.push(super::Migration {
            from_version: r.version,
            states: r.states.clone(),
            line: errs.line_of(&span),
        });
    }
    out
}

/// What the file as a whole declares, once checked: `None` where it was refused.
struct Header {
    applies_from: Option<NaiveDate>,
    applies_until: Option<NaiveDate>,
    calendar: Option<Arc<Calendar>>,
    document_issuers: BTreeMap<String, Vec<Role>>,
}

/// Checks the file as a whole: name, title, version, legal basis, the dates it applies between,
/// its calendar, the stall threshold and the document types.
fn check_header(
    raw: &RawWorkflow,
    calendars: &BTreeMap<String, Arc<Calendar>>,
    errs: &mut Errors<'_>,
) -> Header {
    if !is_ident(raw.name.get_ref(), '-') {
        errs.push(
            &raw.name.span(),
            None,
            format!(
                "workflow name `{}` must be lowercase letters, digits and '-', starting with a letter",
                raw.name.get_ref()
            ),
        );
    }
    if raw.title.get_ref().trim().is_empty() {
        errs.push(&raw.title.span(), None, "title must not be empty");
    }
    if *raw.version.get_ref() == 0 {
        errs.push(&raw.version.span(), None, "version must be 1 or more");
    }
    if raw.legal_basis.get_ref().is_empty() {
        errs.push(
            &raw.legal_basis.span(),
            None,
            "legal_basis must list at least one document",
        );
    }
    let (applies_from, applies_until) = check_dates(raw, errs);
    let calendar = calendars.get(raw.calendar.get_ref()).cloned();
    if calendar.is_none() {
        let known: Vec<&str> = calendars.keys().map(String::as_str).collect();
        errs.push(
            &raw.calendar.span(),
            None,
            format!(
                "unknown calendar `{}`; loaded calendars: {}",
                raw.calendar.get_ref(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        );
    }
    if let Some(n) = &raw.stall_after_working_days
        && *n.get_ref() == 0
    {
        errs.push(
            &n.span(),
            None,
            "stall_after_working_days must be 1 or more",
        );
    }
    let mut document_issuers = BTreeMap::new();
    for (id, declared) in &raw.document_types {
        let span = declared.span();
        let subject = Some(format!("document type `{id}`"));
        if !is_ident(id, '_') || declared.get_ref().title().trim().is_empty() {
            errs.push(
                &span,
                subject.clone(),
                "document type ids are lowercase letters, digits and '_', each with a Vietnamese title",
            );
        }
        if let RawDocumentType::Declared(d) = declared.get_ref() {
            if d.issued_by.is_empty() {
                errs.push(
                    &span,
                    subject.clone(),
                    "issued_by must name at least one role (or write the title alone: anyone who may attach)",
                );
            }
            let roles = parse_roles(&d.issued_by, errs, &span, &subject);
            document_issuers.insert(id.clone(), roles);
        }
    }
    Header {
        applies_from,
        applies_until,
        calendar,
        document_issuers,
    }
}

/// Reads `applies_from` and `applies_until` as dates, the second not before the first.
fn check_dates(raw: &RawWorkflow, errs: &mut Errors<'_>) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let applies_from = toml_date(raw.applies_from.get_ref());
    if applies_from.is_none() {
        errs.push(
            &raw.applies_from.span(),
            None,
            "applies_from must be a date such as 2025-05-06",
        );
    }
    let applies_until = raw.applies_until.as_ref().and_then(|u| {
        let d = toml_date(u.get_ref());
        if d.is_none() {
            errs.push(
                &u.span(),
                None,
                "applies_until must be a date such as 2026-12-31",
            );
        }
        if let (Some(from), Some(until)) = (applies_from, d)
            && until < from
        {
            errs.push(&u.span(), None, "applies_until is before applies_from");
        }
        d
    });
    (applies_from, applies_until)
}

/// Parses the states, each with the span it was declared at. Also returns the names of states
/// whose phase did not parse: they stay known by name, so that transitions naming them are not
/// reported too.
fn parse_states(
    raw: &[Spanned<RawState>],
    approvals: &BTreeMap<String, Approval>,
    errs: &mut Errors<'_>,
) -> (Vec<(Range<usize>, State)>, BTreeSet<String>) {
    let mut states = Vec::new();
    let mut state_spans: HashMap<String, Range<usize>> = HashMap::new();
    let mut unphased: BTreeSet<String> = BTreeSet::new();
    for s in raw {
        let span = s.span();
        let rs = s.get_ref();
        let subject = Some(format!("state `{}`", rs.name));
        if !is_ident(&rs.name, '_') {
            errs.push(
                &span,
                subject.clone(),
                "state names are lowercase letters, digits and '_', starting with a letter",
            );
        }
        if state_spans.contains_key(&rs.name) {
            let first = errs.line_of(&state_spans[&rs.name]);
            errs.push(
                &span,
                subject.clone(),
                format!("duplicate state name (first declared on line {first})"),
            );
            continue;
        }
        state_spans.insert(rs.name.clone(), span.clone());
        let phase = rs.phase.parse::<Phase>();
        if rs.title.trim().is_empty() {
            errs.push(&span, subject.clone(), "title must not be empty");
        }
        let mut roles = parse_roles(&rs.roles, errs, &span, &subject);
        if let Some(a) = &rs.approval {
            roles = approval_roles(a, !rs.roles.is_empty(), approvals, errs, &span, &subject);
        }
        let phase = match phase {
            Ok(p) => p,
            Err(e) => {
                errs.push(&span, subject.clone(), e.to_string());
                unphased.insert(rs.name.clone());
                continue;
            }
        };
        if roles.is_empty() && !phase.is_terminal() {
            errs.push(
                &span,
                subject.clone(),
                "a state that is not terminal must name the role(s) whose turn it is (roles = [...])",
            );
        }
        let deadline = rs.deadline.as_ref().and_then(|d| {
            let dspan = d.span();
            if phase.is_terminal() {
                errs.push(
                    &dspan,
                    subject.clone(),
                    format!("a terminal state (phase {phase}) cannot have a deadline"),
                );
                return None;
            }
            parse_deadline(d.get_ref(), &roles, errs, &dspan, &subject)
        });
        states.push((
            span,
            State {
                name: rs.name.clone(),
                phase,
                title: rs.title.clone(),
                roles,
                approval: rs.approval.clone(),
                deadline,
            },
        ));
    }
    (states, unphased)
}

/// The declared state names, for checking what names a state.
struct KnownStates<'a> {
    phase_of: HashMap<&'a str, Phase>,
    /// Declared, but with a phase that did not parse (already reported).
    unphased: &'a BTreeSet<String>,
}

impl<'a> KnownStates<'a> {
    fn new(states: &'a [(Range<usize>, State)], unphased: &'a BTreeSet<String>) -> Self {
        KnownStates {
            phase_of: states
                .iter()
                .map(|(_, s)| (s.name.as_str(), s.phase))
                .collect(),
            unphased,
        }
    }

    fn phase(&self, name: &str) -> Option<Phase> {
        self.phase_of.get(name).copied()
    }

    /// Whether `name` is declared, with or without a valid phase.
    fn declares(&self, name: &str) -> bool {
        self.phase_of.contains_key(name) || self.unphased.contains(name)
    }

    /// "unknown state `x`; the states are: …".
    fn unknown(&self, name: &str) -> String {
        let mut known: Vec<&str> = self.phase_of.keys().copied().collect();
        known.sort_unstable();
        format!(
            "unknown state `{name}`; the states are: {}",
            known.join(", ")
        )
    }
}

/// Parses the transitions, each with the span it was declared at: names, the states they join
/// (known, and a move the legal backbone allows), roles, documents and rounds.
fn parse_transitions(
    raw: &RawWorkflow,
    approvals: &BTreeMap<String, Approval>,
    known: &KnownStates<'_>,
    errs: &mut Errors<'_>,
) -> Vec<(Range<usize>, Transition)> {
    let mut transitions = Vec::new();
    let mut transition_spans: HashMap<String, Range<usize>> = HashMap::new();
    for t in &raw.transitions {
        let span = t.span();
        let rt = t.get_ref();
        let subject = Some(format!("transition `{}`", rt.name));
        if !is_ident(&rt.name, '_') {
            errs.push(
                &span,
                subject.clone(),
                "transition names are lowercase letters, digits and '_', starting with a letter",
            );
        }
        if let Some(first) = transition_spans.get(&rt.name) {
            let first = errs.line_of(first);
            errs.push(
                &span,
                subject.clone(),
                format!("duplicate transition name (first declared on line {first})"),
            );
            continue;
        }
        transition_spans.insert(rt.name.clone(), span.clone());
        if rt.title.trim().is_empty() {
            errs.push(&span, subject.clone(), "title must not be empty");
        }
        let from = check_ends(rt, known, errs, &span, &subject);
        let mut roles = parse_roles(&rt.roles, errs, &span, &subject);
        if let Some(a) = &rt.approval {
            roles = approval_roles(a, !rt.roles.is_empty(), approvals, errs, &span, &subject);
            if rt.own_unit {
                errs.push(
                    &span,
                    subject.clone(),
                    "own_unit cannot be combined with approval: the approval's `unit` says in which unit its role acts",
                );
            }
        }
        if roles.is_empty() && rt.approval.is_none() {
            errs.push(
                &span,
                subject.clone(),
                "must name the role(s) allowed to take it (roles = [...])",
            );
        }
        for d in &rt.documents {
            if !raw.document_types.contains_key(d) {
                let declared: Vec<&str> = raw.document_types.keys().map(String::as_str).collect();
                errs.push(
                    &span,
                    subject.clone(),
                    format!(
                        "unknown document type `{d}`; declare it under [document_types] (declared: {})",
                        if declared.is_empty() { "none".to_string() } else { declared.join(", ") }
                    ),
                );
            }
        }
        if rt.max_repeats == Some(0) {
            errs.push(
                &span,
                subject.clone(),
                "max_repeats must be 1 or more (omit it for no limit)",
            );
        }
        transitions.push((
            span,
            Transition {
                name: rt.name.clone(),
                title: rt.title.clone(),
                from,
                to: rt.to.clone(),
                roles,
                approval: rt.approval.clone(),
                own_unit: rt.own_unit,
                documents: rt.documents.clone(),
                comment_required: rt.comment_required,
                max_repeats: rt.max_repeats,
                opens_review: rt.opens_review,
            },
        ));
    }
    transitions
}

/// Checks the states a transition joins: `from` lists known states once each, `to` is known,
/// and every move is one the legal backbone allows. Returns `from` as a list.
fn check_ends(
    rt: &RawTransition,
    known: &KnownStates<'_>,
    errs: &mut Errors<'_>,
    span: &Range<usize>,
    subject: &Option<String>,
) -> Vec<String> {
    let from = match &rt.from {
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(v) => v.clone(),
    };
    if from.is_empty() {
        errs.push(span, subject.clone(), "`from` must name at least one state");
    }
    let mut seen = BTreeSet::new();
    for f in &from {
        if !seen.insert(f) {
            errs.push(span, subject.clone(), format!("`from` lists `{f}` twice"));
        }
    }
    let to_phase = known.phase(&rt.to);
    if to_phase.is_none() && !known.unphased.contains(&rt.to) {
        errs.push(
            span,
            subject.clone(),
            format!("`to`: {}", known.unknown(&rt.to)),
        );
    }
    for f in &from {
        match (known.phase(f), to_phase) {
            (None, _) if !known.unphased.contains(f) => errs.push(
                span,
                subject.clone(),
                format!("`from`: {}", known.unknown(f)),
            ),
            (Some(fp), Some(tp)) if !backbone_allows(fp, tp) => {
                errs.push(span, subject.clone(), backbone_refusal(f, fp, &rt.to, tp))
            }
            _ => {}
        }
    }
    from
}

/// Why the backbone forbids moving `from` (phase `fp`) to `to` (phase `tp`), and what it allows.
fn backbone_refusal(from: &str, fp: Phase, to: &str, tp: Phase) -> String {
    let allowed: Vec<&str> = BACKBONE_MOVES
        .iter()
        .filter(|(a, _)| *a == fp)
        .map(|(_, b)| b.as_str())
        .collect();
    let allowed = if fp.is_terminal() {
        format!("{fp} is terminal: nothing leaves it")
    } else {
        format!(
            "from {fp} the backbone allows: {fp} (same phase), {}",
            allowed.join(", ")
        )
    };
    format!("moves `{from}` ({fp}) to `{to}` ({tp}), which the legal backbone forbids; {allowed}")
}

/// Checks what deadlines name: `pause_in` states (declared, not the state itself) and the
/// `on_expiry` transition (declared, and leaving this state).
fn check_deadline_references(
    states: &[(Range<usize>, State)],
    transitions: &[(Range<usize>, Transition)],
    known: &KnownStates<'_>,
    errs: &mut Errors<'_>,
) {
    for (span, s) in states {
        let Some(d) = &s.deadline else { continue };
        let subject = Some(format!("state `{}`", s.name));
        for p in &d.pause_in {
            if p == &s.name {
                errs.push(
                    span,
                    subject.clone(),
                    "pause_in cannot name the state itself",
                );
            } else if !known.declares(p) {
                errs.push(
                    span,
                    subject.clone(),
                    format!("pause_in: {}", known.unknown(p)),
                );
            }
        }
        if let Some(name) = &d.on_expiry {
            match transitions.iter().find(|(_, t)| &t.name == name) {
                None => errs.push(
                    span,
                    subject.clone(),
                    format!("on_expiry names unknown transition `{name}`"),
                ),
                Some((_, t)) if !t.from.contains(&s.name) => errs.push(
                    span,
                    subject.clone(),
                    format!("on_expiry transition `{name}` does not leave this state"),
                ),
                _ => {}
            }
        }
    }
}

/// Checks the graph: the initial state is a declared proposal, every state is reachable from it,
/// and every state that is not terminal has a way out that can lead to an end.
fn check_graph(
    initial: &Spanned<String>,
    states: &[(Range<usize>, State)],
    transitions: &[(Range<usize>, Transition)],
    known: &KnownStates<'_>,
    errs: &mut Errors<'_>,
) {
    let name = initial.get_ref();
    match known.phase(name) {
        None => errs.push(
            &initial.span(),
            None,
            format!("initial: {}", known.unknown(name)),
        ),
        Some(p) if p != Phase::Proposed => errs.push(
            &initial.span(),
            None,
            format!("initial state `{name}` is in phase {p}; a new task starts in phase proposed"),
        ),
        _ => {}
    }
    let edges: Vec<(&str, &str)> = transitions
        .iter()
        .flat_map(|(_, t)| t.from.iter().map(move |f| (f.as_str(), t.to.as_str())))
        .collect();
    if known.phase(name).is_some() {
        let reachable = closure([name.as_str()], &edges, false);
        for (span, s) in states {
            if !reachable.contains(s.name.as_str()) {
                errs.push(
                    span,
                    Some(format!("state `{}`", s.name)),
                    format!("unreachable from the initial state `{name}`"),
                );
            }
        }
    }
    check_ways_out(states, transitions, &edges, errs);
}

/// Checks that every state that is not terminal has a transition out, not only ones whose
/// rounds run out, and some sequence of them to a completed or withdrawn state.
fn check_ways_out(
    states: &[(Range<usize>, State)],
    transitions: &[(Range<usize>, Transition)],
    edges: &[(&str, &str)],
    errs: &mut Errors<'_>,
) {
    let terminals = states
        .iter()
        .filter(|(_, s)| s.phase.is_terminal())
        .map(|(_, s)| s.name.as_str());
    let can_finish = closure(terminals, edges, true);
    for (span, s) in states {
        if s.phase.is_terminal() {
            continue;
        }
        let subject = Some(format!("state `{}`", s.name));
        if !edges.iter().any(|(f, _)| *f == s.name) {
            errs.push(
                span,
                subject,
                format!(
                    "is not terminal (phase {}) but no transition leaves it",
                    s.phase
                ),
            );
        } else if transitions
            .iter()
            .filter(|(_, t)| t.from.contains(&s.name))
            .all(|(_, t)| t.max_repeats.is_some())
        {
            errs.push(
                span,
                subject,
                "every transition leaving it has max_repeats: once the rounds are used up the task would be stuck",
            );
        } else if !can_finish.contains(s.name.as_str()) {
            errs.push(
                span,
                subject,
                "no sequence of transitions leads from it to a completed or withdrawn state",
            );
        }
    }
}

/// The states reachable from `start` along `edges` (or, `backwards`, the states from which
/// `start` is reachable).
fn closure<'a>(
    start: impl IntoIterator<Item = &'a str>,
    edges: &[(&'a str, &'a str)],
    backwards: bool,
) -> BTreeSet<&'a str> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = start.into_iter().collect();
    while let Some(s) = queue.pop_front() {
        if !seen.insert(s) {
            continue;
        }
        for &(a, b) in edges {
            let (here, next) = if backwards { (b, a) } else { (a, b) };
            if here == s && !seen.contains(next) {
                queue.push_back(next);
            }
        }
    }
    seen
}

/// The roles an `approval = "NAME"` can name (for a state's turn or a transition's roles), once
/// `NAME` is declared and no `roles` are written beside it.
fn approval_roles(
    name: &str,
    roles_written: bool,
    approvals: &BTreeMap<String, Approval>,
    errs: &mut Errors<'_>,
    span: &Range<usize>,
    subject: &Option<String>,
) -> Vec<Role> {
    if roles_written {
        errs.push(
            span,
            subject.clone(),
            format!("write either roles or approval, not both: approval `{name}` says who acts"),
        );
    }
    match approvals.get(name) {
        Some(a) => a.roles(),
        None => {
            let declared: Vec<&str> = approvals.keys().map(String::as_str).collect();
            errs.push(
                span,
                subject.clone(),
                format!(
                    "unknown approval `{name}`; declare it under [approvals.{name}] (declared: {})",
                    if declared.is_empty() {
                        "none".to_string()
                    } else {
                        declared.join(", ")
                    }
                ),
            );
            Vec::new()
        }
    }
}

/// Parses the `[approvals.NAME]` sections: a title, rules (funding sources, amount thresholds,
/// the own-fund flag) each naming a role and unit, and a default.
fn parse_approvals(raw: &RawWorkflow, errs: &mut Errors<'_>) -> BTreeMap<String, Approval> {
    let mut out = BTreeMap::new();
    for (name, spanned) in &raw.approvals {
        let span = spanned.span();
        let ra = spanned.get_ref();
        let subject = Some(format!("approval `{name}`"));
        if !is_ident(name, '_') {
            errs.push(
                &span,
                subject.clone(),
                "approval names are lowercase letters, digits and '_', starting with a letter",
            );
        }
        if ra.title.trim().is_empty() {
            errs.push(&span, subject.clone(), "title must not be empty");
        }
        let default = parse_authority(
            &ra.default.role,
            ra.default.unit.as_deref(),
            errs,
            &span,
            &subject,
        );
        let mut rules = Vec::new();
        for (i, r) in ra.rules.iter().enumerate() {
            let rs = Some(format!("approval `{name}` rule {}", i + 1));
            let mut funding = Vec::new();
            for f in &r.funding {
                match f.parse::<FundingSource>() {
                    Ok(f) => funding.push(f),
                    Err(_) => errs.push(
                        &span,
                        rs.clone(),
                        format!(
                            "unknown funding source `{f}`; the sources are: {}",
                            FundingSource::ALL.map(|f| f.as_str()).join(", ")
                        ),
                    ),
                }
            }
            for (what, v) in [
                ("amount_at_least", r.amount_at_least),
                ("amount_below", r.amount_below),
            ] {
                if v.is_some_and(|v| v < 0) {
                    errs.push(
                        &span,
                        rs.clone(),
                        format!("{what} is in đồng and cannot be negative"),
                    );
                }
            }
            if let (Some(min), Some(max)) = (r.amount_at_least, r.amount_below)
                && max <= min
            {
                errs.push(
                    &span,
                    rs.clone(),
                    "amount_below must be above amount_at_least",
                );
            }
            if funding.is_empty()
                && r.own_fund.is_none()
                && r.amount_at_least.is_none()
                && r.amount_below.is_none()
            {
                errs.push(
                    &span,
                    rs.clone(),
                    "a rule needs a condition (funding, own_fund, amount_at_least or amount_below); write the unconditional case as `default`",
                );
            }
            if let Some(authority) = parse_authority(&r.role, r.unit.as_deref(), errs, &span, &rs) {
                rules.push(ApprovalRule {
                    funding,
                    own_fund: r.own_fund,
                    amount_at_least: r.amount_at_least,
                    amount_below: r.amount_below,
                    authority,
                    source: r.source.clone(),
                });
            }
        }
        if let Some(default) = default {
            out.insert(
                name.clone(),
                Approval {
                    name: name.clone(),
                    title: ra.title.clone(),
                    rules,
                    default,
                    default_source: ra.default.source.clone(),
                },
            );
        }
    }
    out
}

/// A role and the unit it acts in: `unit = "own"` (the task's), a unit id, or none (any). A unit
/// role needs a unit: "own" or a named one.
fn parse_authority(
    role: &str,
    unit: Option<&str>,
    errs: &mut Errors<'_>,
    span: &Range<usize>,
    subject: &Option<String>,
) -> Option<Authority> {
    let role = match role.parse::<Role>() {
        Ok(r) => r,
        Err(e) => {
            errs.push(span, subject.clone(), e.to_string());
            return None;
        }
    };
    let unit = match unit {
        None => AuthorityUnit::Any,
        Some("own") => AuthorityUnit::Own,
        Some(u) => match UnitId::parse(u) {
            Ok(id) => AuthorityUnit::Named(id.as_str().to_string()),
            Err(_) => {
                errs.push(
                    span,
                    subject.clone(),
                    format!("unit `{u}` must be \"own\" (the task's unit) or a unit id such as so-tai-chinh"),
                );
                return None;
            }
        },
    };
    if role.is_unit_role() && unit == AuthorityUnit::Any {
        errs.push(
            span,
            subject.clone(),
            format!("role `{role}` belongs to a unit: say which with unit = \"own\" or a unit id"),
        );
    }
    Some(Authority { role, unit })
}

fn parse_roles(
    names: &[String],
    errs: &mut Errors<'_>,
    span: &Range<usize>,
    subject: &Option<String>,
) -> Vec<Role> {
    let mut roles = Vec::new();
    for n in names {
        match n.parse::<Role>() {
            Ok(r) if roles.contains(&r) => {
                errs.push(span, subject.clone(), format!("role `{n}` listed twice"))
            }
            Ok(r) => roles.push(r),
            Err(e) => errs.push(span, subject.clone(), e.to_string()),
        }
    }
    roles
}

fn parse_amount(
    raw: &RawAmount,
    what: &str,
    errs: &mut Errors<'_>,
    span: &Range<usize>,
    subject: &Option<String>,
) -> Option<Amount> {
    let given = [
        raw.working_days.is_some(),
        raw.days.is_some(),
        raw.duration.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given != 1 {
        errs.push(
            span,
            subject.clone(),
            format!("{what} needs exactly one of: working_days = N, days = N, duration = \"PT2H\" (found {given})"),
        );
        return None;
    }
    let amount = match (raw.working_days, raw.days, &raw.duration) {
        (Some(n), _, _) => Amount::WorkingDays(n),
        (_, Some(n), _) => Amount::Days(n),
        (_, _, Some(text)) => match IsoDuration::parse(text) {
            Ok(d) => Amount::Iso(d),
            Err(e) => {
                errs.push(span, subject.clone(), format!("{what}: {e}"));
                return None;
            }
        },
        _ => unreachable!("exactly one amount is present"),
    };
    if matches!(amount, Amount::WorkingDays(0) | Amount::Days(0)) {
        errs.push(
            span,
            subject.clone(),
            format!("{what} must be longer than zero"),
        );
        return None;
    }
    Some(amount)
}

fn parse_deadline(
    raw: &RawDeadline,
    turn: &[Role],
    errs: &mut Errors<'_>,
    span: &Range<usize>,
    subject: &Option<String>,
) -> Option<Deadline> {
    let amount = parse_amount(&raw.amount, "deadline", errs, span, subject);
    let remind_at = raw
        .remind_at
        .clone()
        .unwrap_or_else(|| DEFAULT_REMIND_AT.to_vec());
    let mut ok = true;
    if remind_at.iter().any(|f| !(*f > 0.0 && *f <= 1.0)) {
        errs.push(
            span,
            subject.clone(),
            format!("remind_at fractions must lie in (0, 1]; got {remind_at:?}"),
        );
        ok = false;
    } else if remind_at.windows(2).any(|w| w[0] >= w[1]) {
        errs.push(
            span,
            subject.clone(),
            format!("remind_at fractions must be increasing, without repeats; got {remind_at:?}"),
        );
        ok = false;
    }
    let repeat = match &raw.repeat_overdue_every {
        Some(r) => {
            let a = parse_amount(r, "repeat_overdue_every", errs, span, subject);
            ok &= a.is_some();
            a
        }
        None => None,
    };
    let kind = parse_kind(raw, errs, span, subject);
    ok &= kind.is_some();
    let escalate = match &raw.escalate_after {
        Some(e) => {
            let after = parse_amount(&e.amount, "escalate_after", errs, span, subject);
            let mut to = parse_roles(&e.to, errs, span, subject);
            if e.to.is_empty()
                && let Some(k) = &kind
            {
                to = k.default_escalation(turn);
            }
            ok &= !to.is_empty() || !e.to.is_empty();
            after.map(|after| Escalation { after, to })
        }
        None => None,
    };
    let mut pause_in = raw.pause_in.clone();
    let before = pause_in.len();
    pause_in.sort();
    pause_in.dedup();
    if pause_in.len() != before {
        errs.push(span, subject.clone(), "pause_in lists a state twice");
    }
    let on_return = match raw.on_return.as_deref() {
        None | Some("resume") => OnReturn::Resume,
        Some("restart") => OnReturn::Restart,
        Some(other) => {
            errs.push(
                span,
                subject.clone(),
                format!("on_return must be \"resume\" or \"restart\"; got \"{other}\""),
            );
            ok = false;
            OnReturn::Resume
        }
    };
    if raw.on_return.is_some() && raw.pause_in.is_empty() {
        errs.push(
            span,
            subject.clone(),
            "on_return says what a return from a pause_in state does; list those states in pause_in",
        );
        ok = false;
    }
    let request_within = match &raw.request_within {
        Some(r) => {
            let a = parse_amount(r, "request_within", errs, span, subject);
            ok &= a.is_some();
            if raw.pause_in.is_empty() {
                errs.push(
                    span,
                    subject.clone(),
                    "request_within limits a request for more documents (a move into a pause_in state); list those states in pause_in",
                );
                ok = false;
            }
            if let (Some(w), Some(total)) = (a, amount)
                && not_shorter(w, total)
            {
                errs.push(
                    span,
                    subject.clone(),
                    "request_within must be shorter than the deadline itself",
                );
                ok = false;
            }
            a
        }
        None => None,
    };
    Some(Deadline {
        amount: amount?,
        kind: kind?,
        pause_in: raw.pause_in.clone(),
        on_return,
        request_within,
        remind_at,
        repeat_overdue_every: repeat,
        escalate_after: escalate,
        on_expiry: raw.on_expiry.clone(),
    })
    .filter(|_| ok)
}

/// Whether `window` is at least as long as `total`, when both count the same way.
fn not_shorter(window: Amount, total: Amount) -> bool {
    match (window, total) {
        (Amount::WorkingDays(w), Amount::WorkingDays(t)) | (Amount::Days(w), Amount::Days(t)) => {
            w >= t
        }
        (Amount::Iso(w), Amount::Iso(t)) => {
            (w.months, w.days, w.seconds) >= (t.months, t.days, t.seconds)
        }
        _ => false,
    }
}

/// `kind = "statutory"` with a `source`, or `kind = "internal"` (a `source` optional).
fn parse_kind(
    raw: &RawDeadline,
    errs: &mut Errors<'_>,
    span: &Range<usize>,
    subject: &Option<String>,
) -> Option<DeadlineKind> {
    let source = raw
        .source
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    match raw.kind.as_deref() {
        Some("statutory") => match source {
            Some(source) => Some(DeadlineKind::Statutory { source }),
            None => {
                errs.push(
                    span,
                    subject.clone(),
                    "a statutory deadline needs its legal source: source = \"Thông tư 03/2020/TT-BTTTT\"",
                );
                None
            }
        },
        Some("internal") => Some(DeadlineKind::Internal { source }),
        Some(other) => {
            errs.push(
                span,
                subject.clone(),
                format!("deadline kind must be \"statutory\" or \"internal\"; got \"{other}\""),
            );
            None
        }
        None => {
            errs.push(
                span,
                subject.clone(),
                "a deadline declares its kind: kind = \"statutory\" (with source = \"...\") or kind = \"internal\" (a target the city set)",
            );
            None
        }
    }
}
