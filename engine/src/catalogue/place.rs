//! Placement: which state of its workflow an imported row puts its task in, and whether a
//! re-imported row may move a task that already exists.
//!
//! **Placements start no deadline clock.** An imported task is placed in the first state of its
//! phase (declaration order) or, for completed/postponed/withdrawn, the workflow's state of that
//! phase. The date it really reached that step is unknown, so a clock started at import time
//! would invent a deadline and send reminders and escalations on it. The next real transition
//! starts clocks as usual; the status report judges imported tasks by their expected completion
//! date. Imports queue no notifications either.
//!
//! **A re-import moves only what the import placed.** When a later file changes a row's stage,
//! the task moves to the new stage's placement only if it still sits in the state the previous
//! stage placed it in: once someone has worked on the task in the system, the system knows
//! better than the file, and the task keeps its step (the summary says so).

use crate::Phase;
use crate::workflow::{State, Workflow};

/// Where a task in `phase` is placed: the first state of that phase in the workflow's
/// declaration order (for completed, postponed and withdrawn, that is the workflow's terminal or
/// exit state of the phase).
pub fn placement(wf: &Workflow, phase: Phase) -> Option<&State> {
    wf.states.iter().find(|s| s.phase == phase)
}

/// Where a re-imported row leaves its existing task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub state: String,
    pub phase: Phase,
    /// The task moved to the new stage's placement (its clock, if any, is stopped).
    pub moved: bool,
    /// Why a changed stage did not move the task, in Vietnamese; `None` when it moved or the
    /// stage did not change.
    pub note: Option<String>,
}

/// Where a task of `wf` that sits in `state` (of `phase`), placed by an import of `last_stage`,
/// goes when a re-import says `stage`. `None` when it must move but `wf` has no state in
/// `stage`.
pub fn on_reimport(
    wf: &Workflow,
    state: &str,
    phase: Phase,
    last_stage: Option<&str>,
    stage: Phase,
) -> Option<Replacement> {
    let stays = |note| Replacement {
        state: state.to_string(),
        phase,
        moved: false,
        note,
    };
    if last_stage == Some(stage.as_str()) {
        return Some(stays(None));
    }
    let placed_before = last_stage
        .and_then(|s| s.parse::<Phase>().ok())
        .and_then(|p| placement(wf, p))
        .map(|s| s.name.as_str());
    if placed_before != Some(state) {
        let title = wf
            .state(state)
            .map(|s| s.title.clone())
            .unwrap_or_else(|| state.to_string());
        return Some(stays(Some(format!(
            "giữ nguyên bước hiện tại «{title}» vì nhiệm vụ đã được xử lý trong hệ thống sau lần nhập trước"
        ))));
    }
    placement(wf, stage).map(|s| Replacement {
        state: s.name.clone(),
        phase: s.phase,
        moved: true,
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::catalog;

    #[test]
    fn a_task_moves_with_its_stage_only_from_where_the_import_put_it() {
        let catalog = catalog();
        let wf = catalog.latest("mua-sam").unwrap();
        let proposed = placement(wf, Phase::Proposed).unwrap().name.clone();
        let contract = placement(wf, Phase::Contract).unwrap();
        // Unchanged stage: stays, no note.
        let r = on_reimport(
            wf,
            &proposed,
            Phase::Proposed,
            Some("proposed"),
            Phase::Proposed,
        )
        .unwrap();
        assert!(!r.moved && r.note.is_none() && r.state == proposed);
        // Changed stage, still where the import put it: moves.
        let r = on_reimport(
            wf,
            &proposed,
            Phase::Proposed,
            Some("proposed"),
            Phase::Contract,
        )
        .unwrap();
        assert!(r.moved);
        assert_eq!(
            (r.state.as_str(), r.phase),
            (contract.name.as_str(), Phase::Contract)
        );
        // Changed stage, but someone moved the task since: stays, and says why.
        let elsewhere = wf
            .states
            .iter()
            .find(|s| s.phase == Phase::Proposed && s.name != proposed)
            .or_else(|| {
                wf.states
                    .iter()
                    .find(|s| s.phase == Phase::ExplanationAndEstimate)
            })
            .unwrap();
        let r = on_reimport(
            wf,
            &elsewhere.name,
            elsewhere.phase,
            Some("proposed"),
            Phase::Contract,
        )
        .unwrap();
        assert!(!r.moved);
        assert_eq!(r.state, elsewhere.name);
        assert!(r.note.unwrap().contains(&elsewhere.title));
    }
}
