//! The task page's doors: a task's whole file read for an actor in one call, and the commands
//! the page sends, each checking visibility first so that a task the actor may not see is
//! "not found" (never "forbidden"), exactly as in the API.

use engine::decide::{Actor, Available};
use engine::time::Instant;

use super::{
    AuditRecord, BudgetLine, Document, Store, StoreError, Task, TransitionOutcome,
    TransitionRequest,
};

/// Everything the task page shows of a task, as `actor` may see it.
#[derive(Debug, Clone)]
pub struct Dossier {
    pub task: Task,
    pub budget: Vec<BudgetLine>,
    pub documents: Vec<Document>,
    /// The audit log, oldest first.
    pub history: Vec<AuditRecord>,
    /// The transitions out of the current state, with what the actor still lacks for each.
    pub available: Vec<Available>,
    /// Whether the actor may attach documents (`engine::access::may_attach_document`).
    pub may_attach: bool,
    pub stalled: bool,
}

impl Store {
    /// A task's file for `actor`; not found when the actor may not see the task.
    pub async fn dossier_for(
        &self,
        id: &str,
        actor: &Actor,
        now: Instant,
    ) -> Result<Dossier, StoreError> {
        let task = self.task_for(id, actor).await?;
        let may_attach = match self.check_attach(&task, actor).await {
            Ok(()) => true,
            Err(StoreError::Forbidden(_)) => false,
            Err(e) => return Err(e),
        };
        Ok(Dossier {
            budget: self.budget(&task.id).await?,
            documents: self.documents(&task.id).await?,
            history: self.history(&task.id).await?,
            available: self.available(&task, actor)?,
            stalled: self.is_stalled(&task, now),
            may_attach,
            task,
        })
    }

    /// Takes a transition for `actor` on a task they may see (not found otherwise): the version
    /// the request carries is compared and the decision written in one transaction.
    pub async fn transition_as(
        &self,
        actor: &Actor,
        req: &TransitionRequest,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        let task = self.task_for(&req.task_id, actor).await?;
        self.transition_loaded(task, req, actor, now).await
    }

    /// Checks, before a file is stored, that `actor` may attach a document of `doc_type` to the
    /// task: not found when they may not see it, refused when they may not attach or the
    /// workflow declares no such type.
    pub async fn may_attach_as(
        &self,
        actor: &Actor,
        task_id: &str,
        doc_type: &str,
    ) -> Result<Task, StoreError> {
        let task = self.task_for(task_id, actor).await?;
        self.check_attach(&task, actor).await?;
        self.check_document_type(&task, doc_type)?;
        Ok(task)
    }
}
