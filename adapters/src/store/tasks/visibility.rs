//! Who may see a task, attach to it, or act on it now: the facts `engine::access` rules on,
//! looked up — the current state's roles from the workflow, and, only for an appraiser outside
//! their queue, the roles that acted on the task.

use engine::Phase;
use engine::Role;
use engine::access::{self, TaskFacts};
use engine::decide::Actor;
use engine::time::Instant;
use engine::workflow::Workflow;

use super::super::{Store, StoreError, Task, with_db};

/// Whose turn it is in the task's current state, and the unit the turn is bound to when an
/// approval authority names one ([`engine::workflow::Workflow::turn`], resolved with the task's
/// funding source, own-fund flag and amount); none if its workflow is not loaded.
pub(crate) fn turn_of(wf: Option<&Workflow>, task: &Task) -> (Vec<Role>, Option<String>) {
    match wf {
        Some(w) => w.turn(&task.state, &super::write::snapshot(task).approval_facts()),
        None => (Vec::new(), None),
    }
}

/// Whose turn it is in the task's current state; none if its workflow is not loaded.
pub(super) fn turn_roles(store: &Store, task: &Task) -> Vec<Role> {
    turn_of(
        store
            .catalog()
            .get(&task.workflow, task.workflow_version)
            .map(|w| &**w),
        task,
    )
    .0
}

/// The roles someone has acted in on a task, from its audit log.
async fn acted_roles(store: &Store, task_id: &str) -> Result<Vec<Role>, StoreError> {
    let roles: Vec<String> = with_db!(store, |pool| {
        sqlx::query_scalar(
            "SELECT DISTINCT actor_role FROM audit_log WHERE task_id = $1 AND actor_role IS NOT NULL",
        )
        .bind(task_id)
        .fetch_all(pool)
        .await?
    });
    Ok(roles.iter().filter_map(|r| r.parse().ok()).collect())
}

/// What the access rules know of one task, for one actor.
pub(super) struct Facts {
    unit: String,
    turn: Vec<Role>,
    acted_in: Vec<Role>,
}

impl Facts {
    /// Looks the facts up, reading the audit log only when the answer depends on it.
    pub(super) async fn of(store: &Store, task: &Task, actor: &Actor) -> Result<Facts, StoreError> {
        let turn = turn_roles(store, task);
        let acted_in = if access::needs_acted_roles(actor, &task.unit_id, &turn) {
            acted_roles(store, &task.id).await?
        } else {
            Vec::new()
        };
        Ok(Facts {
            unit: task.unit_id.clone(),
            turn,
            acted_in,
        })
    }

    fn access(&self) -> TaskFacts<'_> {
        TaskFacts {
            unit: &self.unit,
            turn: &self.turn,
            acted_in: &self.acted_in,
        }
    }

    /// [`access::may_see_task`].
    pub(super) fn visible_to(&self, actor: &Actor) -> bool {
        access::may_see_task(actor, &self.access())
    }

    /// [`access::may_set_deadline`]: the role the change is recorded in.
    pub(super) fn may_set_deadline(&self, actor: &Actor) -> Result<engine::Role, StoreError> {
        Ok(access::may_set_deadline(actor, &self.access())?)
    }

    /// [`access::may_attach_document`].
    pub(super) fn may_attach(&self, actor: &Actor) -> Result<(), StoreError> {
        Ok(access::may_attach_document(actor, &self.access())?)
    }
}

/// Whether the task's current step is `actor`'s to take ([`access::is_my_turn`]).
pub(super) fn is_my_turn(store: &Store, task: &Task, actor: &Actor) -> bool {
    let wf = store.catalog().get(&task.workflow, task.workflow_version);
    let (turn, unit) = turn_of(wf.map(|w| &**w), task);
    access::is_my_turn_in(actor, &task.unit_id, &turn, unit.as_deref())
}

/// Whether a running task has not moved for its workflow's stall period at `now`.
pub(super) fn is_stalled(store: &Store, task: &Task, now: Instant) -> bool {
    let Some(wf) = store.catalog().get(&task.workflow, task.workflow_version) else {
        return false;
    };
    match wf.stall_after_working_days {
        Some(n) if !task.phase.is_terminal() && task.phase != Phase::Postponed => wf
            .calendar
            .working_days_between(task.state_entered_at, now)
            .is_ok_and(|d| d >= i64::from(n)),
        _ => false,
    }
}
