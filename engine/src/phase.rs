//! The legal backbone: the nine phases every task passes through and the moves between them.
//!
//! Why the backbone is compiled in while workflows are data: the phases and the moves between
//! them come from the law itself (Decree 98/2025/NĐ-CP, Resolution 04/2025/NQ-CP, the Law on
//! Public Investment) and are the same for every kind of task, so they are checked by the
//! compiler once and for all. The steps *inside* a phase (who signs, how many review rounds,
//! which deadline) differ between task kinds and change with every new decree, so they are
//! declared in `workflows/*.toml` files that an administrator edits. The loader refuses any
//! declared transition whose phase move is not one of the moves below, so no data file can
//! make a task sign a contract before appraisal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

sm::sm! {
    Backbone {
        InitialStates { Proposed }

        // Forward moves, in the order of the lifecycle.
        Explain { Proposed, Appraisal, ContractorSelection, Contract => ExplanationAndEstimate }
        Appraise { ExplanationAndEstimate => Appraisal }
        SelectContractor { Appraisal => ContractorSelection }
        // Acceptance refused: back to the contract for rework.
        SignContract { ContractorSelection, Acceptance => Contract }
        Accept { Contract => Acceptance }
        Complete { Acceptance => Completed }
        // Re-entry in a later plan. (Every event has a single destination, so the backward
        // moves into explanation_and_estimate and contract are listed under `Explain` and
        // `SignContract` above.)
        Reenter { Postponed => Proposed }
        // Exits: postpone from every phase before `contract`; withdraw from every phase up to
        // and including `contract` (early termination of the contract).
        Postpone { Proposed, ExplanationAndEstimate, Appraisal, ContractorSelection => Postponed }
        Withdraw { Proposed, ExplanationAndEstimate, Appraisal, ContractorSelection, Contract, Postponed => Withdrawn }
    }
}

/// One of the nine backbone phases. `snake_case` names are the ones used in data files,
/// the database and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Proposed,
    ExplanationAndEstimate,
    Appraisal,
    ContractorSelection,
    Contract,
    Acceptance,
    Completed,
    Postponed,
    Withdrawn,
}

impl Phase {
    pub const ALL: [Phase; 9] = [
        Phase::Proposed,
        Phase::ExplanationAndEstimate,
        Phase::Appraisal,
        Phase::ContractorSelection,
        Phase::Contract,
        Phase::Acceptance,
        Phase::Completed,
        Phase::Postponed,
        Phase::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Proposed => "proposed",
            Phase::ExplanationAndEstimate => "explanation_and_estimate",
            Phase::Appraisal => "appraisal",
            Phase::ContractorSelection => "contractor_selection",
            Phase::Contract => "contract",
            Phase::Acceptance => "acceptance",
            Phase::Completed => "completed",
            Phase::Postponed => "postponed",
            Phase::Withdrawn => "withdrawn",
        }
    }

    /// The Vietnamese name shown to users.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Proposed => "Đề xuất",
            Phase::ExplanationAndEstimate => "Thuyết minh và dự toán",
            Phase::Appraisal => "Thẩm định",
            Phase::ContractorSelection => "Lựa chọn nhà thầu",
            Phase::Contract => "Thực hiện hợp đồng",
            Phase::Acceptance => "Nghiệm thu",
            Phase::Completed => "Hoàn thành",
            Phase::Postponed => "Tạm hoãn",
            Phase::Withdrawn => "Rút khỏi kế hoạch",
        }
    }

    /// Completed and withdrawn tasks never move again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Completed | Phase::Withdrawn)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phase name that is not one of the nine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown phase `{0}`; the phases are: proposed, explanation_and_estimate, appraisal, contractor_selection, contract, acceptance, completed, postponed, withdrawn"
)]
pub struct UnknownPhase(pub String);

impl FromStr for Phase {
    type Err = UnknownPhase;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPhase(s.to_string()))
    }
}

impl TryFrom<String> for Phase {
    type Error = UnknownPhase;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Maps each backbone state type to the one event that enters it (every `sm!` event above has a
/// single destination), so that a (from, to) pair names exactly one `sm` transition.
trait EnteredBy: sm::State {
    type Event: sm::Event;
}

macro_rules! entered_by {
    ($($state:ident <= $event:ident),* $(,)?) => {
        $(impl EnteredBy for Backbone::$state { type Event = Backbone::$event; })*
    };
}

entered_by! {
    ExplanationAndEstimate <= Explain,
    Appraisal <= Appraise,
    ContractorSelection <= SelectContractor,
    Contract <= SignContract,
    Acceptance <= Accept,
    Completed <= Complete,
    Proposed <= Reenter,
    Postponed <= Postpone,
    Withdrawn <= Withdraw,
}

/// Compiles only when the `sm!` declaration has a transition from `F` to `T`.
const fn witness<F, T>() -> bool
where
    F: sm::State,
    T: EnteredBy,
    Backbone::Machine<F, sm::NoneEvent>:
        sm::Transition<T::Event, Machine = Backbone::Machine<T, T::Event>>,
{
    true
}

macro_rules! backbone_moves {
    ($($from:ident => $to:ident),* $(,)?) => {
        /// Every move the backbone allows, as (from, to) pairs.
        pub const BACKBONE_MOVES: &[(Phase, Phase)] = &[$((Phase::$from, Phase::$to)),*];

        /// Whether the backbone allows a task to move from phase `from` to phase `to`.
        ///
        /// Each allowed pair is checked against the `sm!` declaration at compile time: adding a
        /// pair here that the declaration does not allow is a type error, not a runtime surprise.
        /// Staying in the same phase (a step inside a phase, such as a second review round) is
        /// always allowed except in a terminal phase.
        pub fn backbone_allows(from: Phase, to: Phase) -> bool {
            if from == to {
                return !from.is_terminal();
            }
            match (from, to) {
                $((Phase::$from, Phase::$to) => witness::<Backbone::$from, Backbone::$to>(),)*
                _ => false,
            }
        }
    };
}

backbone_moves! {
    // forward
    Proposed => ExplanationAndEstimate,
    ExplanationAndEstimate => Appraisal,
    Appraisal => ContractorSelection,
    ContractorSelection => Contract,
    Contract => Acceptance,
    Acceptance => Completed,
    // backward
    Appraisal => ExplanationAndEstimate,
    ContractorSelection => ExplanationAndEstimate,
    Contract => ExplanationAndEstimate,
    Acceptance => Contract,
    Postponed => Proposed,
    // exits
    Proposed => Postponed,
    ExplanationAndEstimate => Postponed,
    Appraisal => Postponed,
    ContractorSelection => Postponed,
    Proposed => Withdrawn,
    ExplanationAndEstimate => Withdrawn,
    Appraisal => Withdrawn,
    ContractorSelection => Withdrawn,
    Contract => Withdrawn,
    Postponed => Withdrawn,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sm::{Initializer, Machine as _, Transition as _};

    #[test]
    fn the_machine_walks_the_happy_path() {
        use Backbone::*;
        let m = Machine::new(Proposed)
            .transition(Explain)
            .transition(Appraise)
            .transition(SelectContractor)
            .transition(SignContract)
            .transition(Accept)
            .transition(Complete);
        assert_eq!(m.state(), Completed);
    }

    #[test]
    fn exactly_the_domain_moves_are_allowed() {
        use Phase::*;
        let domain: &[(Phase, Phase)] = &[
            (Proposed, ExplanationAndEstimate),
            (ExplanationAndEstimate, Appraisal),
            (Appraisal, ContractorSelection),
            (ContractorSelection, Contract),
            (Contract, Acceptance),
            (Acceptance, Completed),
            (Appraisal, ExplanationAndEstimate),
            (ContractorSelection, ExplanationAndEstimate),
            (Contract, ExplanationAndEstimate),
            (Acceptance, Contract),
            (Postponed, Proposed),
            (Proposed, Postponed),
            (ExplanationAndEstimate, Postponed),
            (Appraisal, Postponed),
            (ContractorSelection, Postponed),
            (Proposed, Withdrawn),
            (ExplanationAndEstimate, Withdrawn),
            (Appraisal, Withdrawn),
            (ContractorSelection, Withdrawn),
            (Contract, Withdrawn),
            (Postponed, Withdrawn),
        ];
        for from in Phase::ALL {
            for to in Phase::ALL {
                let expected = if from == to {
                    !from.is_terminal()
                } else {
                    domain.contains(&(from, to))
                };
                assert_eq!(backbone_allows(from, to), expected, "{from} -> {to}");
            }
        }
        assert_eq!(BACKBONE_MOVES.len(), domain.len());
    }

    #[test]
    fn no_contract_before_appraisal_and_terminal_phases_are_final() {
        assert!(!backbone_allows(Phase::Proposed, Phase::Contract));
        assert!(!backbone_allows(
            Phase::ExplanationAndEstimate,
            Phase::Contract
        ));
        assert!(!backbone_allows(Phase::Contract, Phase::Postponed));
        for to in Phase::ALL {
            assert!(!backbone_allows(Phase::Completed, to));
            assert!(!backbone_allows(Phase::Withdrawn, to));
        }
    }

    #[test]
    fn phases_round_trip_through_their_names() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
        }
        let err = "contractor".parse::<Phase>().unwrap_err();
        assert!(err.to_string().contains("contractor_selection"));
    }
}
