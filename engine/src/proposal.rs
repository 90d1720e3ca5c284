//! Units propose, UBND decides (issue 15, item 2).
//!
//! Postponing a task to next year's plan or withdrawing it from the plan starts as the owning
//! unit's letter ("Đề xuất rút khỏi KH 215 (Văn bản số 5796/SVHTTDL… ngày 4/11/2025)") and waits
//! for UBND. A pending proposal moves nothing and pauses nothing: the task stays in its step, its
//! deadline keeps running, and the reports list the proposal with its letter. UBND accepts it —
//! the workflow's own exit transition into `postponed` or `withdrawn`, taken through `decide`
//! with the proposal's letter on the audit entry — or refuses it, and the task goes on from the
//! step it is in, its clocks as they were.
//!
//! Rules here are pure: the store looks up the task and its pending proposal, asks these, and
//! writes the answer in one transaction.

use std::fmt;

use chrono::NaiveDate;

use crate::decide::{self, Actor, AttachedDocument, AuditEntry, Command, Decision, Rejection};
use crate::phase::Phase;
use crate::plan::budget::YearBudget;
use crate::role::Role;
use crate::time::{Instant, format_date};
use crate::workflow::{RecordedDecision, Transition, Workflow};

/// What a unit proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProposalKind {
    /// "Đề xuất dừng, chuyển 2026": carried to next year's plan.
    Postpone,
    /// "Đề xuất rút khỏi kế hoạch".
    Withdraw,
    /// "Đề nghị chuyển nguồn kinh phí sang năm sau": the task keeps running into next year; the
    /// year's unspent allocation becomes next year's carried-over funds. Accepting it moves
    /// nothing: it is a decision the workflow declares under `[[decisions]]`.
    CarryOver,
}

impl ProposalKind {
    pub const ALL: [ProposalKind; 3] = [
        ProposalKind::Postpone,
        ProposalKind::Withdraw,
        ProposalKind::CarryOver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalKind::Postpone => "postpone",
            ProposalKind::Withdraw => "withdraw",
            ProposalKind::CarryOver => "carry_over",
        }
    }

    /// "tạm hoãn, chuyển sang kế hoạch năm sau", "rút khỏi kế hoạch", "chuyển nguồn kinh phí
    /// sang năm sau".
    pub fn title(self) -> &'static str {
        match self {
            ProposalKind::Postpone => "tạm hoãn, chuyển sang kế hoạch năm sau",
            ProposalKind::Withdraw => "rút khỏi kế hoạch",
            ProposalKind::CarryOver => "chuyển nguồn kinh phí sang năm sau",
        }
    }

    /// The backbone exit the decision leads to; `None` for a decision that leaves the task in
    /// its step (carry-over).
    pub fn phase(self) -> Option<Phase> {
        match self {
            ProposalKind::Postpone => Some(Phase::Postponed),
            ProposalKind::Withdraw => Some(Phase::Withdrawn),
            ProposalKind::CarryOver => None,
        }
    }

    /// The name of the audit entry that records the proposal.
    pub fn audit_name(self) -> &'static str {
        match self {
            ProposalKind::Postpone => "de_xuat_tam_hoan",
            ProposalKind::Withdraw => "de_xuat_rut_khoi_ke_hoach",
            ProposalKind::CarryOver => "de_nghi_chuyen_nguon",
        }
    }
}

impl fmt::Display for ProposalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProposalKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProposalKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("loại đề xuất `{s}` không hợp lệ; các giá trị cho phép: postpone (tạm hoãn), withdraw (rút khỏi kế hoạch), carry_over (chuyển nguồn kinh phí sang năm sau)")
            })
    }
}

/// The unit's letter: its number and date ("5796/SVHTTDL-KHTC", 04/11/2025).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub number: String,
    pub date: Option<NaiveDate>,
}

impl Letter {
    /// "văn bản số 5796/SVHTTDL-KHTC ngày 04/11/2025".
    pub fn reference(&self) -> String {
        match self.date {
            Some(d) => format!("văn bản số {} ngày {}", self.number, format_date(d)),
            None => format!("văn bản số {}", self.number),
        }
    }
}

/// The unit's pending proposal a plan's printed progress text reports, if it does: a text that
/// says the unit proposes ("đề xuất", "kính đề nghị") to take the task out of the plan ("rút
/// khỏi", "ra khỏi danh mục") or to stop and carry it over ("dừng", "chuyển … năm sau", "chuyển
/// 2026"), and cites its letter ("Công văn số 5796/SVHTTDL-QBXT&PTTNDL ngày 4/11/2025"). Without a
/// letter the text is a status the report gives, not a proposal waiting for UBND.
pub fn from_progress_text(text: &str) -> Option<(ProposalKind, Letter)> {
    let folded = crate::domain::search_key(text);
    let proposes = folded.contains("de xuat") || folded.contains("de nghi");
    if !proposes {
        return None;
    }
    let kind = if folded.contains("rut khoi") || folded.contains("ra khoi danh muc") {
        ProposalKind::Withdraw
    } else if folded.contains("dung") || folded.contains("chuyen") {
        ProposalKind::Postpone
    } else {
        return None;
    };
    letter_in(text).map(|l| (kind, l))
}

/// "… (Công văn số 5796/SVHTTDL-QBXT&PTTNDL ngày 4/11/2025)": the number after a letter's "số"
/// that holds a '/', and the date after the next "ngày".
fn letter_in(text: &str) -> Option<Letter> {
    let words: Vec<&str> = text.split_whitespace().collect();
    // The unit's letter ("Công văn số", "Văn bản số", "Tờ trình số"), not the plan it cites
    // ("Kế hoạch số 215/KH-UBND").
    let at = words.iter().enumerate().position(|(i, w)| {
        w.to_lowercase() == "số"
            && i > 0
            && matches!(
                crate::domain::search_key(words[i - 1]).as_str(),
                "van" | "ban" | "trinh"
            )
            && words
                .get(i + 1)
                .is_some_and(|n| n.contains('/') && n.starts_with(|c: char| c.is_ascii_digit()))
    })?;
    let trim = |s: &str| {
        s.trim_matches(|c: char| matches!(c, '(' | ')' | ',' | ';' | '.'))
            .to_string()
    };
    let number = trim(words[at + 1]);
    let date = words[at + 2..]
        .iter()
        .position(|w| *w == "ngày")
        .and_then(|j| words.get(at + 3 + j))
        .and_then(|d| crate::time::parse_date(&trim(d)).ok());
    Some(Letter { number, date })
}

/// A proposal as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub kind: ProposalKind,
    pub letter: Letter,
    /// The step the task was in when the unit proposed.
    pub from_state: String,
}

impl Proposal {
    /// "Đề xuất rút khỏi kế hoạch (văn bản số 5796/SVHTTDL ngày 04/11/2025)".
    pub fn describe(&self) -> String {
        format!(
            "Đề xuất {} ({})",
            self.kind.title(),
            self.letter.reference()
        )
    }
}

/// The workflow's exit from `state` into the proposal's phase that UBND takes: the transition
/// accepting the proposal takes. `None` when the backbone or the workflow allows no such exit
/// from here (no postponement from the contract on), and for a proposal that moves nothing
/// (carry-over: [`declared`]).
pub fn exit_transition<'w>(
    wf: &'w Workflow,
    state: &str,
    kind: ProposalKind,
) -> Option<&'w Transition> {
    let phase = kind.phase()?;
    wf.transitions.iter().find(|t| {
        t.from.iter().any(|f| f == state)
            && t.roles.contains(&Role::Ubnd)
            && wf.state(&t.to).is_some_and(|s| s.phase == phase)
    })
}

/// What accepting a proposal does, as the workflow declares it from a step.
#[derive(Debug, Clone, Copy)]
pub enum Declared<'w> {
    /// An exit transition into `postponed` or `withdrawn`.
    Exit(&'w Transition),
    /// A decision recorded on the task, which stays in its step (`[[decisions]]`).
    Stays(&'w RecordedDecision),
}

impl Declared<'_> {
    /// The transition's or decision's name.
    pub fn name(&self) -> &str {
        match self {
            Declared::Exit(t) => &t.name,
            Declared::Stays(d) => &d.name,
        }
    }
}

/// What UBND's acceptance of `kind` does from `state`, where the workflow declares it: an exit
/// transition for a postponement or withdrawal, a `[[decisions]]` entry UBND takes for a
/// carry-over. `None`: not possible from here.
pub fn declared<'w>(wf: &'w Workflow, state: &str, kind: ProposalKind) -> Option<Declared<'w>> {
    match kind.phase() {
        Some(_) => exit_transition(wf, state, kind).map(Declared::Exit),
        None => wf
            .decision_from(state, kind)
            .filter(|d| d.roles.contains(&Role::Ubnd))
            .map(Declared::Stays),
    }
}

/// Whether `actor` may propose `kind` on a task of `unit` that is in `state`: a unit role of the
/// task's own unit; the task still running, with no proposal pending, and the workflow having an
/// exit of that kind from where the task is.
pub fn may_propose_change(
    wf: &Workflow,
    unit: &str,
    state: &str,
    kind: ProposalKind,
    pending: Option<&Proposal>,
    actor: &Actor,
) -> Result<(), Rejection> {
    let current = decide::movable_state(wf, state, kind.audit_name())?;
    if !actor.roles.iter().any(|r| r.is_unit_role()) {
        return Err(Rejection::WrongRole {
            transition: kind.audit_name().into(),
            allowed: vec![Role::DonVi, Role::ThuTruongDonVi],
            yours: actor.roles.clone(),
        });
    }
    if !actor.belongs_to(unit) {
        return Err(Rejection::NotYourUnit {
            transition: kind.audit_name().into(),
        });
    }
    if let Some(p) = pending {
        return Err(Rejection::ProposalPending {
            pending: p.describe(),
        });
    }
    if declared(wf, state, kind).is_none() {
        return Err(Rejection::ProposalNotPossible {
            kind: kind.title().into(),
            state: current.name.clone(),
            state_title: current.title.clone(),
        });
    }
    Ok(())
}

/// Deciding on a proposal: UBND, which decides postponements and withdrawals (domain.md).
pub fn may_decide_proposal(actor: &Actor, decision: &str) -> Result<(), Rejection> {
    if actor.roles.contains(&Role::Ubnd) {
        Ok(())
    } else {
        Err(Rejection::WrongRole {
            transition: decision.into(),
            allowed: vec![Role::Ubnd],
            yours: actor.roles.clone(),
        })
    }
}

/// The name of the audit entry of an acceptance and of a refusal.
pub const ACCEPT: &str = "chap_thuan_de_xuat";
pub const REFUSE: &str = "khong_chap_thuan_de_xuat";

/// What accepting a proposal decided.
#[derive(Debug, Clone)]
pub enum Acceptance {
    /// The workflow's exit transition, decided by `decide`: the task moves.
    Moved(Box<Decision>),
    /// A decision recorded on the task, which stays in its step: its audit entry (named after
    /// the declared decision, with the unit's letter, UBND's comment and the documents it
    /// cites). The store writes what the decision does (carry-over: next year's funds).
    Stays { entry: AuditEntry },
}

/// Accepting the pending proposal: the workflow's exit transition, decided by `decide` as UBND,
/// with the unit's letter and UBND's comment on the audit entry and the documents it requires
/// (a UBND decision for a withdrawal); or, for a proposal the workflow accepts with a decision
/// that leaves the task in its step (carry-over), that decision's entry, with the documents it
/// requires.
pub fn accept(
    wf: &Workflow,
    task: &decide::TaskSnapshot,
    proposal: Option<&Proposal>,
    actor: &Actor,
    comment: Option<&str>,
    documents: Vec<AttachedDocument>,
    now: Instant,
) -> Result<Acceptance, Rejection> {
    may_decide_proposal(actor, ACCEPT)?;
    let p = proposal.ok_or(Rejection::NoPendingProposal)?;
    let not_possible = || Rejection::ProposalNotPossible {
        kind: p.kind.title().into(),
        state: task.state.clone(),
        state_title: wf
            .state(&task.state)
            .map_or_else(|| task.state.clone(), |s| s.title.clone()),
    };
    if wf
        .state(&task.state)
        .is_some_and(|s| s.phase.is_terminal() || s.phase == Phase::Postponed)
        && p.kind.phase().is_none()
    {
        return Err(not_possible());
    }
    let declared = declared(wf, &task.state, p.kind).ok_or_else(not_possible)?;
    let mut text = format!("Chấp thuận {}", lowercase_first(&p.describe()));
    if let Some(c) = comment.map(str::trim).filter(|c| !c.is_empty()) {
        text.push_str(". ");
        text.push_str(c);
    }
    match declared {
        Declared::Exit(exit) => decide::decide(
            wf,
            task,
            &Command::Transition {
                name: exit.name.clone(),
                comment: Some(text),
                documents,
            },
            actor,
            now,
        )
        .map(|d| Acceptance::Moved(Box::new(d))),
        Declared::Stays(d) => {
            let unmet: Vec<decide::Unmet> = d
                .documents
                .iter()
                .filter(|t| !documents.iter().any(|a| &a.doc_type == *t))
                .map(|t| decide::Unmet::Document {
                    doc_type: t.clone(),
                    title: wf
                        .document_types
                        .get(t)
                        .cloned()
                        .unwrap_or_else(|| t.clone()),
                })
                .collect();
            if !unmet.is_empty() {
                return Err(Rejection::Unmet {
                    transition: d.name.clone(),
                    unmet,
                });
            }
            let mut entry = note(wf, task, &d.name, actor, Some(Role::Ubnd), text, now);
            entry.documents = documents.iter().map(|a| a.id.clone()).collect();
            Ok(Acceptance::Stays { entry })
        }
    }
}

/// Chuyển nguồn (Luật NSNN 2015 Điều 64; NĐ 163/2016/NĐ-CP Điều 43 — the article number is
/// chưa xác nhận): the funds of `year`'s budget line `this` that carry over to `year + 1`: the
/// year's allocation less what was spent of it. Funds carried into `year` are taken as spent
/// first, since they may not be carried again (chưa xác nhận). Refused when the line has no
/// allocation or all of it is spent.
pub fn carried_amount(year: i32, this: Option<&YearBudget>) -> Result<i64, Rejection> {
    let nothing = |why: String| Rejection::NothingToCarryOver { year, why };
    let b = this.ok_or_else(|| nothing(format!("nhiệm vụ chưa có dòng kinh phí năm {year}")))?;
    let allocated = b
        .allocated_year_vnd
        .filter(|a| *a > 0)
        .ok_or_else(|| nothing(format!("nhiệm vụ chưa được phân bổ kinh phí năm {year}")))?;
    let spent_of_allocation = (b.spent_vnd.unwrap_or(0) - b.carried_over_vnd.unwrap_or(0)).max(0);
    let unspent = (allocated - spent_of_allocation).max(0);
    if unspent == 0 {
        return Err(nothing(format!(
            "kinh phí phân bổ năm {year} đã giải ngân hết"
        )));
    }
    Ok(unspent)
}

/// Refusing the pending proposal: an audit entry, and nothing else — the task goes on from the
/// step it is in, its clocks as they were.
pub fn refuse(
    wf: &Workflow,
    task: &decide::TaskSnapshot,
    proposal: Option<&Proposal>,
    actor: &Actor,
    comment: Option<&str>,
    now: Instant,
) -> Result<AuditEntry, Rejection> {
    may_decide_proposal(actor, REFUSE)?;
    let p = proposal.ok_or(Rejection::NoPendingProposal)?;
    let mut text = format!("Không chấp thuận {}", lowercase_first(&p.describe()));
    if let Some(c) = comment.map(str::trim).filter(|c| !c.is_empty()) {
        text.push_str(". ");
        text.push_str(c);
    }
    Ok(note(wf, task, REFUSE, actor, Some(Role::Ubnd), text, now))
}

/// The audit entry of a proposal itself.
pub fn proposed(
    wf: &Workflow,
    task: &decide::TaskSnapshot,
    p: &Proposal,
    actor: &Actor,
    comment: Option<&str>,
    now: Instant,
) -> AuditEntry {
    let role = actor.roles.iter().copied().find(|r| r.is_unit_role());
    let mut text = p.describe();
    if let Some(c) = comment.map(str::trim).filter(|c| !c.is_empty()) {
        text.push_str(". ");
        text.push_str(c);
    }
    note(wf, task, p.kind.audit_name(), actor, role, text, now)
}

/// An audit entry that records a fact without moving the task.
fn note(
    wf: &Workflow,
    task: &decide::TaskSnapshot,
    name: &str,
    actor: &Actor,
    role: Option<Role>,
    comment: String,
    now: Instant,
) -> AuditEntry {
    let phase = wf.state(&task.state).map_or(Phase::Proposed, |s| s.phase);
    AuditEntry {
        transition: name.into(),
        actor_user: actor.user.clone(),
        actor_role: role,
        from_state: Some(task.state.clone()),
        to_state: task.state.clone(),
        from_phase: Some(phase),
        to_phase: phase,
        comment: Some(comment),
        documents: Vec::new(),
        workflow: wf.name.clone(),
        workflow_version: wf.version,
        at: now,
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
