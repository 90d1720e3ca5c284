//! The directory: units, plans and users as records, and checking a workflow file.
//!
//! Reading units and plans is open to every signed-in user (forms need them). Changing them,
//! and reading users, goes through the `…_as` doors, which ask `engine::access`; the doors
//! without an actor are system doors, for the operator at the shell (who holds the database
//! anyway), the import and tests, and apply every rule on the input but none on who asks.
//!
//! - [`units`]: units, their effective-dated names, mergers;
//! - [`plans`]: plans (kế hoạch);
//! - [`users`]: users as records, and the engine's [`Actor`](engine::decide::Actor) of one.

mod plans;
mod units;
pub(crate) use units::units_of_user;
mod users;

use std::collections::BTreeMap;

use engine::access::{self, Area};
use engine::decide::Actor;
use engine::workflow::{LoadError, Workflow, parse_workflow};

use super::{Store, StoreError};

/// The directory's doors: see [`Store::directory`].
#[derive(Clone, Copy)]
pub struct Directory<'a> {
    pub(super) store: &'a Store,
}

impl Directory<'_> {
    /// Checks a workflow file against the loaded calendars without installing it: what an
    /// administrator runs before putting a new workflow version in the workflows folder.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, file = %file))]
    pub fn check_workflow_as(
        &self,
        actor: &Actor,
        file: &str,
        text: &str,
    ) -> Result<Result<Workflow, Vec<LoadError>>, StoreError> {
        access::may_manage(actor, Area::WorkflowVersions)?;
        let calendars: BTreeMap<String, std::sync::Arc<engine::calendar::Calendar>> = self
            .store
            .catalog()
            .calendars()
            .map(|c| (c.name().to_string(), c.clone()))
            .collect();
        Ok(parse_workflow(file, text, &calendars))
    }
}
