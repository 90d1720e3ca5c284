//! `decide`: the one place where a command on a task becomes effects or a rejection.
//!
//! (workflow, task snapshot, command, actor, now) → [`Decision`] or [`Rejection`]. Pure: the
//! store loads the snapshot, calls this, and writes the decision in one transaction; the HTTP API
//! and the CLI both go through the store, so they cannot disagree about who may do what.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError};
use crate::domain::FundingSource;
use crate::phase::{Phase, backbone_allows};
use crate::role::Role;
use crate::time::{Instant, format_instant};
use crate::workflow::{Amount, ApprovalFacts, Deadline, OnReturn, State, Transition, Workflow};

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: String,
    pub roles: Vec<Role>,
    /// The units this user acts for: their own unit first, then the units merged into it.
    pub units: Vec<String>,
    /// Units whose tasks this user may still read but no longer act on: when the user's own
    /// unit was merged into another, its users keep reading what they had (their unit and
    /// those merged into it) and lose write access to it; `units` is then empty.
    pub read_units: Vec<String>,
}

impl Actor {
    /// The scheduler, taking automatic transitions on expiry.
    pub fn system() -> Actor {
        Actor {
            user: "system".into(),
            roles: Vec::new(),
            units: Vec::new(),
            read_units: Vec::new(),
        }
    }

    pub(crate) fn belongs_to(&self, unit: &str) -> bool {
        self.units.iter().any(|u| u == unit)
    }
}

/// A running or paused deadline clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// The state whose deadline this is.
    pub state: String,
    pub started_at: Instant,
    pub due_at: Instant,
    /// Set while the task waits in one of the deadline's `pause_in` states.
    pub paused_at: Option<Instant>,
}

/// What `decide` needs to know about a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSnapshot {
    pub unit: String,
    pub state: String,
    pub state_entered_at: Instant,
    /// The deadline of the current state, if it has one.
    pub clock: Option<Clock>,
    /// A deadline stopped while the dossier is back with the unit.
    pub paused_clock: Option<Clock>,
    /// How many times each transition has been taken in the current review.
    pub transition_counts: BTreeMap<String, u32>,
    /// Which review the dossier is in: 1 at the start, one more each time a transition marked
    /// `opens_review` re-opens it (a new scale, a new year).
    pub review: u32,
    /// How many times each state has been entered in the current review: the round of a step
    /// ("cho ý kiến lần 2").
    pub state_entries: BTreeMap<String, u32>,
    /// The task's funding source, own-fund flag and amount (its total need, in đồng): what an
    /// approval authority's rules look at.
    pub funding: Option<FundingSource>,
    pub own_fund: bool,
    pub amount_vnd: Option<i64>,
}

impl TaskSnapshot {
    /// What an approval rule looks at on this task.
    pub fn approval_facts(&self) -> ApprovalFacts<'_> {
        ApprovalFacts {
            unit: &self.unit,
            funding: self.funding,
            own_fund: self.own_fund,
            amount_vnd: self.amount_vnd,
        }
    }

    /// The round of the step the task is in: how many times it entered its current state in the
    /// current review (at least 1).
    pub fn round(&self) -> u32 {
        self.state_entries
            .get(&self.state)
            .copied()
            .unwrap_or(1)
            .max(1)
    }
}

/// Where a transition leaves the dossier's review: which review, and the round of the step it
/// enters. Kept on the audit entry and shown as "lần N".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub review: u32,
    pub round: u32,
}

impl Round {
    /// "lần 2" from the second round on; nothing for a first.
    pub fn label(self) -> Option<String> {
        round_label(self.round)
    }
}

/// "lần N" for a round after the first.
pub fn round_label(round: u32) -> Option<String> {
    (round >= 2).then(|| format!("lần {round}"))
}

/// A document attached to a command, already resolved by the store to its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedDocument {
    pub id: String,
    pub doc_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A user takes a named transition.
    Transition {
        name: String,
        comment: Option<String>,
        documents: Vec<AttachedDocument>,
    },
    /// The scheduler takes a state's `on_expiry` transition once its deadline has passed.
    Expire { transition: String },
}

/// What a timer does when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerKind {
    /// A reminder at a fraction of the period (below 1).
    Reminder {
        fraction: f64,
    },
    /// The deadline itself.
    Due,
    /// The first overdue repeat; each firing schedules the next.
    Overdue {
        every: AmountSpec,
    },
    Escalation {
        to: Vec<Role>,
    },
    /// Take this transition automatically.
    Expiry {
        transition: String,
    },
}

/// An [`Amount`] in a serialisable form, carried by overdue timers so that the scheduler can
/// plan the next repeat without reloading the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "n", rename_all = "snake_case")]
pub enum AmountSpec {
    WorkingDays(u32),
    Days(u32),
    Seconds(u64),
}

impl From<Amount> for AmountSpec {
    fn from(a: Amount) -> Self {
        match a {
            Amount::WorkingDays(n) => AmountSpec::WorkingDays(n),
            Amount::Days(n) => AmountSpec::Days(n),
            // Months cannot be expressed in seconds; an overdue repeat measured in months makes
            // no sense anyway, so count them as 30 days.
            Amount::Iso(d) => AmountSpec::Seconds(
                d.seconds
                    .saturating_add(d.days.saturating_mul(86_400))
                    .saturating_add(u64::from(d.months).saturating_mul(30 * 86_400)),
            ),
        }
    }
}

impl From<AmountSpec> for Amount {
    fn from(a: AmountSpec) -> Self {
        match a {
            AmountSpec::WorkingDays(n) => Amount::WorkingDays(n),
            AmountSpec::Days(n) => Amount::Days(n),
            AmountSpec::Seconds(s) => Amount::Iso(crate::time::IsoDuration {
                months: 0,
                days: 0,
                seconds: s,
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerSpec {
    /// The state whose deadline this timer belongs to.
    pub state: String,
    pub kind: TimerKind,
    pub fire_at: Instant,
    /// The deadline it counts towards, for messages ("due 06/03/2026").
    pub due_at: Instant,
}

/// Who must hear of it, and which message template to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub template: String,
    /// Unit roles are resolved within the task's own unit (or `unit`); the others city-wide.
    pub roles: Vec<Role>,
    /// The unit whose users hold `roles`, when an approval authority names another unit than
    /// the task's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// The audit entry a transition appends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub transition: String,
    pub actor_user: String,
    /// The role the actor acted in; `None` for the system.
    pub actor_role: Option<Role>,
    pub from_state: Option<String>,
    pub to_state: String,
    pub from_phase: Option<Phase>,
    pub to_phase: Phase,
    pub comment: Option<String>,
    pub documents: Vec<String>,
    pub workflow: String,
    pub workflow_version: u32,
    pub at: Instant,
}

/// Everything a transition changes, for the store to write in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: String,
    pub phase: Phase,
    pub audit: AuditEntry,
    /// Cancel the pending timers of these states' deadlines.
    pub cancel_timers_of: Vec<String>,
    pub create_timers: Vec<TimerSpec>,
    pub clock: Option<Clock>,
    pub paused_clock: Option<Clock>,
    pub notifications: Vec<Notification>,
    /// The review and the round of the step entered.
    pub round: Round,
    /// The transition counts and state entries once this decision is written (reset when the
    /// transition opens a new review).
    pub transition_counts: BTreeMap<String, u32>,
    pub state_entries: BTreeMap<String, u32>,
    /// The workflow version the task moves to ([`migrate`]); `None`: it stays on its version.
    pub workflow_version: Option<u32>,
}

/// One thing a transition still needs before this actor can take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "need", rename_all = "snake_case")]
pub enum Unmet {
    Role {
        allowed: Vec<Role>,
    },
    OwnUnit,
    /// The approval authority's role is held, but in another unit than the one it must act in.
    Unit {
        unit: String,
    },
    Document {
        doc_type: String,
        title: String,
    },
    Comment,
    RoundLimit {
        limit: u32,
    },
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unmet::Role { allowed } => {
                write!(f, "chỉ vai trò {} được thực hiện", role_list(allowed))
            }
            Unmet::OwnUnit => f.write_str("chỉ cán bộ của đơn vị chủ trì nhiệm vụ được thực hiện"),
            Unmet::Unit { unit } => write!(
                f,
                "chỉ người có thẩm quyền của đơn vị `{unit}` được thực hiện"
            ),
            Unmet::Document { title, doc_type } => {
                write!(f, "thiếu tài liệu: {title} ({doc_type})")
            }
            Unmet::Comment => f.write_str("bắt buộc ghi ý kiến, lý do"),
            Unmet::RoundLimit { limit } => write!(f, "đã hết số lần cho phép ({limit} lần)"),
        }
    }
}

fn role_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| format!("{} ({})", r.title(), r.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A transition offered from the task's current state, with what this actor still lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Available {
    pub transition: String,
    pub title: String,
    pub to: String,
    pub unmet: Vec<Unmet>,
}

/// Why a command was refused, in terms a user understands. `Display` is Vietnamese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No transition of that name exists in the workflow, or none leaves this state.
    NotAvailable {
        transition: String,
        state: String,
        state_title: String,
        available: Vec<Available>,
    },
    /// The task is completed or withdrawn.
    Terminal {
        state: String,
        state_title: String,
    },
    WrongRole {
        transition: String,
        allowed: Vec<Role>,
        yours: Vec<Role>,
    },
    NotYourUnit {
        transition: String,
    },
    /// The actor holds the approving role, but not in the unit the approval authority names.
    WrongUnit {
        transition: String,
        /// Who must approve this task ("Thủ trưởng đơn vị (thu_truong_don_vi) của đơn vị `x`").
        authority: String,
    },
    /// The transition is available and the actor may take it, but something is missing.
    Unmet {
        transition: String,
        unmet: Vec<Unmet>,
    },
    /// An automatic transition asked for before its deadline, or one that is not the state's.
    NotDue {
        transition: String,
        due: Option<Instant>,
    },
    /// A request for more documents after the deadline's `request_within` window.
    RequestWindowClosed {
        transition: String,
        /// The window as declared ("5 ngày làm việc").
        window: String,
        /// When the window ended.
        ended_at: Instant,
    },
    /// A deadline falls outside every loaded calendar year.
    Calendar(String),
    /// A unit proposes a postponement or withdrawal while another proposal of the task waits
    /// for UBND.
    ProposalPending {
        /// The pending one, with its letter.
        pending: String,
    },
    /// The workflow has no exit of the proposed kind from the task's step (no postponement from
    /// the contract on).
    ProposalNotPossible {
        kind: String,
        state: String,
        state_title: String,
    },
    /// UBND decides on a proposal the task does not have.
    NoPendingProposal,
    /// A carry-over of funds (chuyển nguồn) proposed or accepted for a year with nothing to
    /// carry: no budget line, no allocation, or all of it spent.
    NothingToCarryOver {
        year: i32,
        why: String,
    },
}

impl Rejection {
    /// A stable machine-readable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NotAvailable { .. } => "transition_not_available",
            Rejection::Terminal { .. } => "task_closed",
            Rejection::WrongRole { .. } => "wrong_role",
            Rejection::NotYourUnit { .. } => "not_your_unit",
            Rejection::WrongUnit { .. } => "wrong_unit",
            Rejection::Unmet { unmet, .. } => match unmet.first() {
                Some(Unmet::RoundLimit { .. }) => "round_limit_reached",
                Some(Unmet::Comment) if unmet.len() == 1 => "comment_required",
                Some(Unmet::Document { .. })
                    if unmet.iter().all(|u| matches!(u, Unmet::Document { .. })) =>
                {
                    "missing_documents"
                }
                _ => "requirements_unmet",
            },
            Rejection::NotDue { .. } => "not_due",
            Rejection::RequestWindowClosed { .. } => "request_window_closed",
            Rejection::Calendar(_) => "calendar_missing",
            Rejection::ProposalPending { .. } => "proposal_pending",
            Rejection::ProposalNotPossible { .. } => "proposal_not_possible",
            Rejection::NoPendingProposal => "no_pending_proposal",
            Rejection::NothingToCarryOver { .. } => "nothing_to_carry_over",
        }
    }

    /// Whether the refusal is about who the actor is (forbidden) rather than what is missing.
    pub fn is_authorization(&self) -> bool {
        matches!(
            self,
            Rejection::WrongRole { .. }
                | Rejection::NotYourUnit { .. }
                | Rejection::WrongUnit { .. }
        )
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotAvailable {
                transition,
                state,
                state_title,
                available,
            } => {
                write!(
                    f,
                    "Không thể thực hiện bước `{transition}` khi nhiệm vụ đang ở bước «{state_title}» ({state})."
                )?;
                if available.is_empty() {
                    f.write_str(" Từ bước này không có bước chuyển nào.")
                } else {
                    let names: Vec<String> = available
                        .iter()
                        .map(|a| format!("{} («{}»)", a.transition, a.title))
                        .collect();
                    write!(f, " Các bước có thể thực hiện: {}.", names.join(", "))
                }
            }
            Rejection::Terminal { state, state_title } => write!(
                f,
                "Nhiệm vụ đã kết thúc ở bước «{state_title}» ({state}); không thể chuyển bước nữa."
            ),
            Rejection::WrongRole {
                transition,
                allowed,
                yours,
            } => write!(
                f,
                "Bạn không có quyền thực hiện bước `{transition}`: chỉ vai trò {} được thực hiện; vai trò của bạn: {}.",
                role_list(allowed),
                if yours.is_empty() {
                    "không có".to_string()
                } else {
                    role_list(yours)
                }
            ),
            Rejection::NotYourUnit { transition } => write!(
                f,
                "Bạn không có quyền thực hiện bước `{transition}`: nhiệm vụ không thuộc đơn vị của bạn."
            ),
            Rejection::WrongUnit {
                transition,
                authority,
            } => write!(
                f,
                "Bạn không có thẩm quyền thực hiện bước `{transition}` cho nhiệm vụ này: người có thẩm quyền là {authority}."
            ),
            Rejection::Unmet { transition, unmet } => {
                let list: Vec<String> = unmet.iter().map(|u| u.to_string()).collect();
                write!(
                    f,
                    "Chưa thể thực hiện bước `{transition}`: {}.",
                    list.join("; ")
                )
            }
            Rejection::NotDue { transition, due } => match due {
                Some(due) => write!(
                    f,
                    "Bước tự động `{transition}` chỉ thực hiện khi hết hạn ({}).",
                    format_instant(*due)
                ),
                None => write!(
                    f,
                    "Bước `{transition}` không phải bước tự động khi hết hạn của bước hiện tại."
                ),
            },
            Rejection::RequestWindowClosed {
                transition,
                window,
                ended_at,
            } => write!(
                f,
                "Không thể thực hiện bước `{transition}`: việc đề nghị bổ sung hồ sơ chỉ được thực hiện trong {window} đầu của thời hạn (đã hết lúc {}). Hãy xử lý hồ sơ trong thời hạn đang chạy.",
                format_instant(*ended_at)
            ),
            Rejection::Calendar(msg) => write!(f, "Không tính được thời hạn: {msg}"),
            Rejection::ProposalPending { pending } => write!(
                f,
                "Nhiệm vụ đang có đề xuất chờ UBND thành phố quyết định: {pending}. Chờ quyết định trước khi đề xuất tiếp."
            ),
            Rejection::ProposalNotPossible {
                kind,
                state,
                state_title,
            } => write!(
                f,
                "Không thể đề xuất {kind} khi nhiệm vụ đang ở bước «{state_title}» ({state}): quy trình không cho phép từ bước này."
            ),
            Rejection::NoPendingProposal => f.write_str(
                "Nhiệm vụ không có đề xuất tạm hoãn, rút khỏi kế hoạch hay chuyển nguồn kinh phí nào đang chờ quyết định.",
            ),
            Rejection::NothingToCarryOver { year, why } => write!(
                f,
                "Không thể chuyển nguồn kinh phí năm {year} sang năm {}: {why}. Chỉ chuyển nguồn được phần kinh phí đã phân bổ trong năm mà chưa giải ngân.",
                year + 1
            ),
        }
    }
}

impl std::error::Error for Rejection {}

impl From<CalendarError> for Rejection {
    fn from(e: CalendarError) -> Self {
        Rejection::Calendar(e.to_string())
    }
}

/// What `actor` still lacks to take `t` on `task` (empty: nothing, it can be taken now),
/// not counting the comment and documents of a particular command.
fn standing_unmet(wf: &Workflow, t: &Transition, task: &TaskSnapshot, actor: &Actor) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    if let Some(authority) = wf.authority(t.approval.as_deref(), &task.approval_facts()) {
        match crate::access::authority_admits(actor, &authority) {
            Ok(()) => {}
            Err(crate::access::NotAuthority::Role) => unmet.push(Unmet::Role {
                allowed: vec![authority.role],
            }),
            Err(crate::access::NotAuthority::Unit) => unmet.push(Unmet::Unit {
                unit: authority.unit.clone().unwrap_or_default(),
            }),
        }
    } else if !t.roles.iter().any(|r| actor.roles.contains(r)) {
        unmet.push(Unmet::Role {
            allowed: t.roles.clone(),
        });
    }
    // `own_unit` binds those who act in a unit role; UBND or an appraiser allowed on the same
    // transition acts for the city, not for a unit.
    let acting_for_a_unit = t
        .roles
        .iter()
        .filter(|r| actor.roles.contains(r))
        .all(|r| r.is_unit_role());
    if t.approval.is_none() && t.own_unit && acting_for_a_unit && !actor.belongs_to(&task.unit) {
        unmet.push(Unmet::OwnUnit);
    }
    if let Some(limit) = t.max_repeats
        && task.transition_counts.get(&t.name).copied().unwrap_or(0) >= limit
    {
        unmet.push(Unmet::RoundLimit { limit });
    }
    unmet
}

fn command_unmet(
    wf: &Workflow,
    t: &Transition,
    comment: Option<&str>,
    docs: &[AttachedDocument],
) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    for d in &t.documents {
        if !docs.iter().any(|a| &a.doc_type == d) {
            unmet.push(Unmet::Document {
                doc_type: d.clone(),
                title: wf
                    .document_types
                    .get(d)
                    .cloned()
                    .unwrap_or_else(|| d.clone()),
            });
        }
    }
    if t.comment_required && comment.is_none_or(|c| c.trim().is_empty()) {
        unmet.push(Unmet::Comment);
    }
    unmet
}

/// The transitions out of the task's current state, each with what `actor` still lacks
/// (documents and a comment are listed as needs whenever the transition requires them).
pub fn available(wf: &Workflow, task: &TaskSnapshot, actor: &Actor) -> Vec<Available> {
    wf.transitions_from(&task.state)
        .map(|t| {
            let mut unmet = standing_unmet(wf, t, task, actor);
            unmet.extend(command_unmet(wf, t, None, &[]));
            Available {
                transition: t.name.clone(),
                title: t.title.clone(),
                to: t.to.clone(),
                unmet,
            }
        })
        .collect()
}

/// The workflow's state `state` of a task that may still move: refused as not available (for
/// `attempted`) when the workflow has no such state, and as closed when it is terminal.
pub(crate) fn movable_state<'w>(
    wf: &'w Workflow,
    state: &str,
    attempted: &str,
) -> Result<&'w State, Rejection> {
    let current = wf.state(state).ok_or_else(|| Rejection::NotAvailable {
        transition: attempted.to_string(),
        state: state.to_string(),
        state_title: state.to_string(),
        available: Vec::new(),
    })?;
    if current.phase.is_terminal() {
        return Err(Rejection::Terminal {
            state: current.name.clone(),
            state_title: current.title.clone(),
        });
    }
    Ok(current)
}

/// Decides a command on a task. See the module documentation.
pub fn decide(
    wf: &Workflow,
    task: &TaskSnapshot,
    command: &Command,
    actor: &Actor,
    now: Instant,
) -> Result<Decision, Rejection> {
    let current = movable_state(wf, &task.state, command_name(command))?;
    let name = command_name(command);
    let t = wf
        .transitions_from(&task.state)
        .find(|t| t.name == name)
        .ok_or_else(|| Rejection::NotAvailable {
            transition: name.to_string(),
            state: current.name.clone(),
            state_title: current.title.clone(),
            available: available(wf, task, actor),
        })?;

    let (comment, documents, actor_role) = match command {
        Command::Transition {
            comment, documents, ..
        } => {
            let standing = standing_unmet(wf, t, task, actor);
            let authority = wf.authority(t.approval.as_deref(), &task.approval_facts());
            if let Some(Unmet::Role { allowed }) =
                standing.iter().find(|u| matches!(u, Unmet::Role { .. }))
            {
                return Err(Rejection::WrongRole {
                    transition: t.name.clone(),
                    allowed: allowed.clone(),
                    yours: actor.roles.clone(),
                });
            }
            if let Some(a) = &authority
                && standing.iter().any(|u| matches!(u, Unmet::Unit { .. }))
            {
                return Err(Rejection::WrongUnit {
                    transition: t.name.clone(),
                    authority: a.describe(),
                });
            }
            if standing.contains(&Unmet::OwnUnit) {
                return Err(Rejection::NotYourUnit {
                    transition: t.name.clone(),
                });
            }
            let mut unmet = standing;
            unmet.extend(command_unmet(wf, t, comment.as_deref(), documents));
            if !unmet.is_empty() {
                return Err(Rejection::Unmet {
                    transition: t.name.clone(),
                    unmet,
                });
            }
            let role = match &authority {
                Some(a) => Some(a.role),
                None => actor.roles.iter().copied().find(|r| t.roles.contains(r)),
            };
            let comment = comment
                .as_ref()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty());
            (
                comment,
                documents.iter().map(|d| d.id.clone()).collect(),
                role,
            )
        }
        Command::Expire { .. } => {
            let expiry = current
                .deadline
                .as_ref()
                .and_then(|d| d.on_expiry.as_deref());
            let due = task
                .clock
                .as_ref()
                .filter(|c| c.state == current.name)
                .map(|c| c.due_at);
            match (expiry, due) {
                (Some(e), Some(due)) if e == t.name && now >= due => {}
                (Some(e), due) if e == t.name => {
                    return Err(Rejection::NotDue {
                        transition: t.name.clone(),
                        due,
                    });
                }
                _ => {
                    return Err(Rejection::NotDue {
                        transition: t.name.clone(),
                        due: None,
                    });
                }
            }
            (None, Vec::new(), None)
        }
    };

    let target = wf.state(&t.to).expect("the loader checked every `to`");
    // The loader refuses such a workflow; checking again keeps the backbone the last word even
    // for a workflow built by hand.
    if !backbone_allows(current.phase, target.phase) {
        return Err(Rejection::NotAvailable {
            transition: t.name.clone(),
            state: current.name.clone(),
            state_title: current.title.clone(),
            available: available(wf, task, actor),
        });
    }

    let calendar = &wf.calendar;
    let mut cancel_timers_of = Vec::new();
    let mut paused_clock = None;
    let mut clock = None;

    // The current state's clock stops if the target pauses it, and ends otherwise. A request for
    // more documents (the move that pauses it) may be limited to the start of the period.
    if let Some(c) = &task.clock {
        cancel_timers_of.push(c.state.clone());
        if let Some(d) = wf.pausing_deadline(&target.name, &c.state)
            && target.name != c.state
        {
            if let Some(window) = d.request_within {
                let ended_at = window.after(calendar, c.started_at)?;
                if now > ended_at {
                    return Err(Rejection::RequestWindowClosed {
                        transition: t.name.clone(),
                        window: crate::wording::period(&window),
                        ended_at,
                    });
                }
            }
            paused_clock = Some(Clock {
                paused_at: Some(now),
                ..c.clone()
            });
        }
    }
    // A clock paused earlier resumes when the task returns to its state, stays paused while the
    // task moves between pause states, and ends otherwise.
    if let Some(p) = &task.paused_clock {
        let deadline = wf.state(&p.state).and_then(|s| s.deadline.as_ref());
        if target.name == p.state {
            clock = Some(match deadline {
                // "Kể từ ngày nhận đủ hồ sơ hợp lệ": a fresh full period from the return.
                Some(d) if d.on_return == OnReturn::Restart => Clock {
                    state: p.state.clone(),
                    started_at: now,
                    due_at: d.amount.after(calendar, now)?,
                    paused_at: None,
                },
                _ => {
                    let paused_at = p.paused_at.unwrap_or(now);
                    Clock {
                        state: p.state.clone(),
                        started_at: p.started_at,
                        due_at: extend_for_pause(calendar, deadline, p.due_at, paused_at, now)?,
                        paused_at: None,
                    }
                }
            });
        } else if deadline.is_some_and(|d| d.pause_in.contains(&target.name))
            && paused_clock.is_none()
        {
            paused_clock = Some(p.clone());
        }
    }
    if clock.is_none()
        && let Some(d) = &target.deadline
    {
        clock = Some(Clock {
            state: target.name.clone(),
            started_at: now,
            due_at: d.amount.after(calendar, now)?,
            paused_at: None,
        });
    }
    let create_timers = match (&clock, &target.deadline) {
        (Some(c), Some(d)) => timers_for(calendar, d, c, now)?,
        _ => Vec::new(),
    };

    // Whose turn it is next: the state's roles, or the approval authority resolved for this task
    // (its role, in the unit it names).
    let (turn, turn_unit) = wf.turn(&target.name, &task.approval_facts());
    let turn_unit = turn_unit.filter(|u| *u != task.unit);
    let mut notifications = vec![Notification {
        template: "task.turn".into(),
        roles: turn.clone(),
        unit: turn_unit.clone(),
    }];
    if !turn.contains(&Role::DonVi) || turn_unit.is_some() {
        notifications.push(Notification {
            template: "task.progress".into(),
            roles: vec![Role::DonVi],
            unit: None,
        });
    }
    notifications.retain(|n| !n.roles.is_empty());

    // A transition that re-opens the dossier (a new scale, a new year) starts a new review: the
    // round limits count again from zero.
    let (review, mut transition_counts, mut state_entries) = if t.opens_review {
        (task.review.max(1) + 1, BTreeMap::new(), BTreeMap::new())
    } else {
        (
            task.review.max(1),
            task.transition_counts.clone(),
            task.state_entries.clone(),
        )
    };
    *transition_counts.entry(t.name.clone()).or_default() += 1;
    let entered = state_entries.entry(target.name.clone()).or_default();
    *entered += 1;
    let round = Round {
        review,
        round: *entered,
    };

    Ok(Decision {
        round,
        transition_counts,
        state_entries,
        workflow_version: None,
        state: target.name.clone(),
        phase: target.phase,
        audit: AuditEntry {
            transition: t.name.clone(),
            actor_user: actor.user.clone(),
            actor_role,
            from_state: Some(current.name.clone()),
            to_state: target.name.clone(),
            from_phase: Some(current.phase),
            to_phase: target.phase,
            comment,
            documents,
            workflow: wf.name.clone(),
            workflow_version: wf.version,
            at: now,
        },
        cancel_timers_of,
        create_timers,
        clock,
        paused_clock,
        notifications,
    })
}

/// Whether `actor` may propose a task of workflow `wf` for `unit`: whoever drafts in the
/// initial state, for their own unit; SKHCN and UBND, who compile the city's plan, on any unit's
/// behalf. [`start`] applies it; the proposal form offers what it allows.
pub fn may_propose(wf: &Workflow, unit: &str, actor: &Actor) -> Result<(), Rejection> {
    let initial = wf.state(&wf.initial).expect("the loader checked `initial`");
    let may_draft = initial.roles.iter().any(|r| actor.roles.contains(r))
        && (initial.roles.iter().all(|r| !r.is_unit_role()) || actor.belongs_to(unit));
    if may_draft || crate::access::compiles_plan(actor) {
        return Ok(());
    }
    let mut allowed = initial.roles.clone();
    allowed.extend([Role::Skhcn, Role::Ubnd]);
    Err(if initial.roles.iter().any(|r| actor.roles.contains(r)) {
        Rejection::NotYourUnit {
            transition: "tao_nhiem_vu".into(),
        }
    } else {
        Rejection::WrongRole {
            transition: "tao_nhiem_vu".into(),
            allowed,
            yours: actor.roles.clone(),
        }
    })
}

/// The decision that creates a task in the workflow's initial state.
pub fn start(
    wf: &Workflow,
    unit: &str,
    actor: &Actor,
    now: Instant,
) -> Result<Decision, Rejection> {
    let initial = wf.state(&wf.initial).expect("the loader checked `initial`");
    may_propose(wf, unit, actor)?;
    let clock = match &initial.deadline {
        Some(d) => Some(Clock {
            state: initial.name.clone(),
            started_at: now,
            due_at: d.amount.after(&wf.calendar, now)?,
            paused_at: None,
        }),
        None => None,
    };
    let create_timers = match (&clock, &initial.deadline) {
        (Some(c), Some(d)) => timers_for(&wf.calendar, d, c, now)?,
        _ => Vec::new(),
    };
    Ok(Decision {
        workflow_version: None,
        state: initial.name.clone(),
        phase: initial.phase,
        audit: AuditEntry {
            transition: "tao_nhiem_vu".into(),
            actor_user: actor.user.clone(),
            actor_role: actor.roles.first().copied(),
            from_state: None,
            to_state: initial.name.clone(),
            from_phase: None,
            to_phase: initial.phase,
            comment: None,
            documents: Vec::new(),
            workflow: wf.name.clone(),
            workflow_version: wf.version,
            at: now,
        },
        cancel_timers_of: Vec::new(),
        create_timers,
        clock,
        paused_clock: None,
        notifications: vec![Notification {
            template: "task.turn".into(),
            roles: initial.roles.clone(),
            unit: None,
        }],
        round: Round {
            review: 1,
            round: 1,
        },
        transition_counts: BTreeMap::new(),
        state_entries: BTreeMap::from([(initial.name.clone(), 1)]),
    })
}

fn command_name(c: &Command) -> &str {
    match c {
        Command::Transition { name, .. } => name,
        Command::Expire { transition } => transition,
    }
}

/// Pushes a paused deadline out by the time spent paused, in the deadline's own unit: working
/// days for a working-day period, calendar days for a calendar-day period (ending, like any
/// such period, at the end of the next working day when it lands on a day off), exact elapsed
/// time for ISO durations.
fn extend_for_pause(
    calendar: &Calendar,
    deadline: Option<&Deadline>,
    due_at: Instant,
    paused_at: Instant,
    now: Instant,
) -> Result<Instant, CalendarError> {
    match deadline.map(|d| d.amount) {
        Some(Amount::Iso(_)) => Ok(due_at + (now - paused_at).max(chrono::TimeDelta::zero())),
        Some(Amount::Days(_)) => {
            let n = (crate::time::local_date(now) - crate::time::local_date(paused_at))
                .num_days()
                .max(0);
            if n == 0 {
                Ok(due_at)
            } else {
                calendar.calendar_days_after(due_at, u32::try_from(n).unwrap_or(u32::MAX))
            }
        }
        _ => {
            let n = calendar.working_days_between(paused_at, now)?.max(0);
            if n == 0 {
                Ok(due_at)
            } else {
                calendar.working_days_after(due_at, u32::try_from(n).unwrap_or(u32::MAX))
            }
        }
    }
}

/// The timers of a running clock that are still ahead of `now`: reminders, the due notice, the
/// first overdue repeat, the escalation and the automatic transition.
pub fn timers_for(
    calendar: &Calendar,
    d: &Deadline,
    clock: &Clock,
    now: Instant,
) -> Result<Vec<TimerSpec>, CalendarError> {
    let mut timers = Vec::new();
    let span = clock.due_at - clock.started_at;
    let day_counted = !matches!(d.amount, Amount::Iso(_));
    for &f in &d.remind_at {
        let (kind, mut at) = if f >= 1.0 {
            (TimerKind::Due, clock.due_at)
        } else {
            let offset =
                chrono::TimeDelta::milliseconds((span.num_milliseconds() as f64 * f) as i64);
            (
                TimerKind::Reminder { fraction: f },
                clock.started_at + offset,
            )
        };
        // Nobody reads a reminder sent on a day off: send it on the next working morning,
        // unless that would be after the deadline itself.
        if day_counted && matches!(kind, TimerKind::Reminder { .. }) {
            let morning = calendar.working_morning_on_or_after(at)?;
            if morning < clock.due_at {
                at = morning;
            }
        }
        timers.push(TimerSpec {
            state: clock.state.clone(),
            kind,
            fire_at: at,
            due_at: clock.due_at,
        });
    }
    if let Some(every) = d.repeat_overdue_every {
        timers.push(TimerSpec {
            state: clock.state.clone(),
            kind: TimerKind::Overdue {
                every: every.into(),
            },
            fire_at: every.after(calendar, clock.due_at)?,
            due_at: clock.due_at,
        });
    }
    if let Some(e) = &d.escalate_after {
        timers.push(TimerSpec {
            state: clock.state.clone(),
            kind: TimerKind::Escalation { to: e.to.clone() },
            fire_at: e.after.after(calendar, clock.due_at)?,
            due_at: clock.due_at,
        });
    }
    if let Some(t) = &d.on_expiry {
        timers.push(TimerSpec {
            state: clock.state.clone(),
            kind: TimerKind::Expiry {
                transition: t.clone(),
            },
            fire_at: clock.due_at,
            due_at: clock.due_at,
        });
    }
    timers.retain(|t| t.fire_at > now);
    Ok(timers)
}

#[cfg(test)]
mod tests;

/// The audit entry's transition name for a move to another workflow version.
pub const MIGRATE_TRANSITION: &str = "chuyen_phien_ban_quy_trinh";

/// Moves a task of `from` (in `task.state`) onto version `to` of the same workflow, by the
/// mapping `to` declares from `from`'s version (`[[migrate_from]]`): an administrator's explicit,
/// audited decision. The task's clock carries over when it stays in a state of the same name
/// whose deadline the new version keeps; otherwise its clocks end and the step's timers are
/// cancelled (the next transition starts clocks as usual). Rounds and counts carry over. The
/// reason, in Vietnamese, when refused: another workflow, not a newer version, no declared
/// mapping, a finished task, or a state the mapping does not know.
pub fn migrate(
    from: &Workflow,
    to: &Workflow,
    task: &TaskSnapshot,
    actor: &Actor,
    now: Instant,
) -> Result<Decision, String> {
    if from.name != to.name {
        return Err(format!(
            "Không chuyển được nhiệm vụ của quy trình `{}` sang quy trình khác (`{}`).",
            from.name, to.name
        ));
    }
    if to.version <= from.version {
        return Err(format!(
            "Nhiệm vụ đang ở phiên bản {} của quy trình `{}`: chỉ chuyển được sang phiên bản mới hơn.",
            from.version, from.name
        ));
    }
    let Some(mapping) = to.migration_from(from.version) else {
        return Err(format!(
            "Phiên bản {} của quy trình `{}` không khai báo cách chuyển từ phiên bản {} ([[migrate_from]] version = {}).",
            to.version, to.name, from.version, from.version
        ));
    };
    let current = from.state(&task.state).ok_or_else(|| {
        format!(
            "Bước `{}` không có trong phiên bản {} của quy trình `{}`.",
            task.state, from.version, from.name
        )
    })?;
    if current.phase.is_terminal() {
        return Err(format!(
            "Nhiệm vụ đã kết thúc (bước «{}»): không chuyển phiên bản.",
            current.title
        ));
    }
    let target = mapping
        .states
        .get(&current.name)
        .and_then(|n| to.state(n))
        .ok_or_else(|| {
            format!(
                "Cách chuyển từ phiên bản {} không có bước `{}`.",
                from.version, current.name
            )
        })?;
    let keeps_clock = target.name == current.name && target.deadline.is_some();
    let (clock, paused_clock, cancel_timers_of) = if keeps_clock {
        (task.clock.clone(), task.paused_clock.clone(), Vec::new())
    } else {
        let mut cancel = vec![current.name.clone()];
        if let Some(p) = &task.paused_clock {
            cancel.push(p.state.clone());
        }
        (None, None, cancel)
    };
    let round = Round {
        review: task.review.max(1),
        round: task.state_entries.get(&current.name).copied().unwrap_or(1),
    };
    let mut state_entries = task.state_entries.clone();
    if target.name != current.name {
        let n = state_entries.remove(&current.name).unwrap_or(1);
        let entered = state_entries.entry(target.name.clone()).or_default();
        *entered = (*entered).max(n);
    }
    Ok(Decision {
        state: target.name.clone(),
        phase: target.phase,
        audit: AuditEntry {
            transition: MIGRATE_TRANSITION.into(),
            actor_user: actor.user.clone(),
            actor_role: actor.roles.first().copied(),
            from_state: Some(current.name.clone()),
            to_state: target.name.clone(),
            from_phase: Some(current.phase),
            to_phase: target.phase,
            comment: Some(format!(
                "Chuyển quy trình `{}` từ phiên bản {} sang phiên bản {}: bước «{}» → «{}»",
                to.name, from.version, to.version, current.title, target.title
            )),
            documents: Vec::new(),
            workflow: to.name.clone(),
            workflow_version: to.version,
            at: now,
        },
        cancel_timers_of,
        create_timers: Vec::new(),
        clock,
        paused_clock,
        notifications: Vec::new(),
        round,
        transition_counts: task.transition_counts.clone(),
        state_entries,
        workflow_version: Some(to.version),
    })
}
