//! Decisions recorded on a task that leave it in its step (`[[decisions]]`): UBND accepting a
//! unit's proposal whose effect is on the task's funds, not on where the task is — carrying the
//! year's unspent allocation over to next year (chuyển nguồn). A transition always moves the
//! task into its `to` state; such a decision has none, so it is declared apart rather than as a
//! transition from a state to itself.
//!
//! ```toml
//! [[decisions]]
//! name = "chap_thuan_chuyen_nguon"
//! title = "Chấp thuận chuyển nguồn kinh phí sang năm sau"
//! proposal = "carry_over"          # the proposal kind it accepts (engine::proposal)
//! from = ["to_chuc_lcnt", "thuc_hien_hop_dong"]
//! roles = ["ubnd"]
//! documents = ["quyet_dinh_ubnd"]  # optional
//! comment_required = true          # optional
//! ```

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::load::{Errors, is_ident};
use crate::phase::Phase;
use crate::proposal::ProposalKind;
use crate::role::Role;

/// A decision recorded on a task without moving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDecision {
    pub name: String,
    pub title: String,
    /// The proposal it accepts.
    pub proposal: ProposalKind,
    /// The steps the task may be in.
    pub from: Vec<String>,
    pub roles: Vec<Role>,
    /// Document types that must be attached.
    pub documents: Vec<String>,
    pub comment_required: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDecision {
    name: String,
    title: String,
    proposal: String,
    from: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    documents: Vec<String>,
    #[serde(default)]
    comment_required: bool,
}

/// What the loader knows when it reads `[[decisions]]`.
pub(super) struct Known<'a> {
    /// Every declared state with its phase (`None`: declared, phase did not parse).
    pub states: &'a HashMap<&'a str, Option<Phase>>,
    pub transitions: &'a BTreeSet<&'a str>,
    pub document_types: &'a BTreeSet<&'a str>,
}

/// Parses and checks `[[decisions]]`: a name unique among transitions and decisions; a
/// proposal kind that leaves the task where it is (a postponement or withdrawal is a transition
/// into a `postponed` or `withdrawn` state); known, non-terminal `from` states, each once, and at
/// most one decision per proposal kind and step; roles; declared document types.
pub(super) fn parse(
    raw: &[Spanned<RawDecision>],
    known: &Known<'_>,
    errs: &mut Errors<'_>,
) -> Vec<RecordedDecision> {
    let mut out: Vec<RecordedDecision> = Vec::new();
    let mut names: HashMap<&str, Range<usize>> = HashMap::new();
    for d in raw {
        let span = d.span();
        let rd = d.get_ref();
        let subject = Some(format!("decision `{}`", rd.name));
        if !is_ident(&rd.name, '_') {
            errs.push(
                &span,
                subject.clone(),
                "decision names are lowercase letters, digits and '_', starting with a letter",
            );
        }
        if known.transitions.contains(rd.name.as_str()) {
            errs.push(
                &span,
                subject.clone(),
                "a transition has the same name; decision and transition names share one namespace",
            );
        }
        if let Some(first) = names.get(rd.name.as_str()) {
            let first = errs.line_of(first);
            errs.push(
                &span,
                subject.clone(),
                format!("duplicate decision name (first declared on line {first})"),
            );
            continue;
        }
        names.insert(&rd.name, span.clone());
        if rd.title.trim().is_empty() {
            errs.push(&span, subject.clone(), "title must not be empty");
        }
        let proposal = match rd.proposal.parse::<ProposalKind>() {
            Ok(k) if k.phase().is_some() => {
                errs.push(
                    &span,
                    subject.clone(),
                    format!(
                        "proposal `{}` moves the task: declare it as a transition into a {} state, not as a decision",
                        rd.proposal,
                        k.phase().map_or("", Phase::as_str)
                    ),
                );
                None
            }
            Ok(k) => Some(k),
            Err(_) => {
                let stays: Vec<&str> = ProposalKind::ALL
                    .iter()
                    .filter(|k| k.phase().is_none())
                    .map(|k| k.as_str())
                    .collect();
                errs.push(
                    &span,
                    subject.clone(),
                    format!(
                        "unknown proposal `{}`; a decision accepts one of: {}",
                        rd.proposal,
                        stays.join(", ")
                    ),
                );
                None
            }
        };
        if rd.from.is_empty() {
            errs.push(
                &span,
                subject.clone(),
                "`from` must name at least one state",
            );
        }
        let mut seen = BTreeSet::new();
        for f in &rd.from {
            if !seen.insert(f) {
                errs.push(&span, subject.clone(), format!("`from` lists `{f}` twice"));
                continue;
            }
            match known.states.get(f.as_str()) {
                None => {
                    let mut all: Vec<&str> = known.states.keys().copied().collect();
                    all.sort_unstable();
                    errs.push(
                        &span,
                        subject.clone(),
                        format!(
                            "`from`: unknown state `{f}`; the states are: {}",
                            all.join(", ")
                        ),
                    );
                }
                Some(Some(p)) if p.is_terminal() => errs.push(
                    &span,
                    subject.clone(),
                    format!(
                        "`from`: `{f}` is a {} state: a closed task takes no decision",
                        p.as_str()
                    ),
                ),
                Some(_) => {}
            }
            if let Some(k) = proposal
                && let Some(other) = out
                    .iter()
                    .find(|o| o.proposal == k && o.from.iter().any(|x| x == f))
            {
                errs.push(
                    &span,
                    subject.clone(),
                    format!(
                        "decision `{}` already accepts `{}` from `{f}`",
                        other.name,
                        k.as_str()
                    ),
                );
            }
        }
        let mut roles = Vec::new();
        for n in &rd.roles {
            match n.parse::<Role>() {
                Ok(r) if roles.contains(&r) => {
                    errs.push(&span, subject.clone(), format!("role `{n}` listed twice"))
                }
                Ok(r) => roles.push(r),
                Err(e) => errs.push(&span, subject.clone(), e.to_string()),
            }
        }
        if rd.roles.is_empty() {
            errs.push(
                &span,
                subject.clone(),
                "must name the role(s) allowed to take it (roles = [...])",
            );
        }
        for doc in &rd.documents {
            if !known.document_types.contains(doc.as_str()) {
                errs.push(
                    &span,
                    subject.clone(),
                    format!("unknown document type `{doc}`; declare it under [document_types]"),
                );
            }
        }
        if let Some(proposal) = proposal {
            out.push(RecordedDecision {
                name: rd.name.clone(),
                title: rd.title.clone(),
                proposal,
                from: rd.from.clone(),
                roles,
                documents: rd.documents.clone(),
                comment_required: rd.comment_required,
            });
        }
    }
    out
}
