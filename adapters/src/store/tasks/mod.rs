//! Tasks, for an actor: create, read, search, move; their history and documents.
//!
//! Every door here acts for an [`Actor`] and does the whole use case in one call: a task the
//! actor may not see is reported as not found (its existence does not leak), a stale version is a
//! conflict naming the current one, a refusal of `decide` carries what the actor may do instead,
//! and the answer carries what the front ends show (the task's workflow, whose turn it is,
//! whether it stalled, its deadline), so they need not come back for it.
//!
//! - [`read`]: reading tasks and what hangs off them; [`Unscoped`], the reads for nobody;
//! - [`search`]: the visibility rule and a search's conditions as SQL;
//! - [`visibility`]: the facts `engine::access` rules on, looked up;
//! - [`write`]: creation and transitions, each one audited transaction;
//! - [`commit`]: group commit, concurrent transitions written in one transaction.

mod batch;
pub(crate) mod commit;
mod proposals;
pub(crate) mod read;
mod search;
mod transfers;
mod visibility;
mod write;

use std::sync::Arc;

use engine::Role;
use engine::access;
use engine::decide::{Actor, Available, Clock};
use engine::time::Instant;
use engine::wording::TimeLeft;
use engine::workflow::Workflow;

use super::audit::{self, AuditRecord, Evidence};
use super::plans::{NoteEntry, try_append_note};
use super::sql::{Arg, Conn};
use super::{
    BudgetLine, Document, Expected, NewDocument, Store, StoreError, Task, TaskFilter,
    TransitionOutcome, TransitionRequest, micros, new_id, with_db,
};
use visibility::Facts;

pub use proposals::{NewProposal, ProposalRecord};
pub(crate) use proposals::{all_pending as pending_proposals, insert as insert_proposal};
pub use read::Unscoped;
pub use search::{DEFAULT_PAGE, MAX_PAGE, TaskPage, TaskQuery, TaskSort};
pub use transfers::{NewTransfer, TransferRecord};
pub(crate) use write::{Step, transition};

/// The tasks' doors: see [`Store::tasks`].
#[derive(Clone, Copy)]
pub struct Tasks<'a> {
    pub(super) store: &'a Store,
}

/// A task as an actor sees it in a list: the task, its workflow (`None` if that version is no
/// longer loaded), and what depends on who looks and when.
#[derive(Debug, Clone)]
pub struct TaskItem {
    pub task: Task,
    pub workflow: Option<Arc<Workflow>>,
    /// The current step is the actor's to take.
    pub my_turn: bool,
    /// Not moved for the workflow's stall period.
    pub stalled: bool,
}

impl TaskItem {
    /// The title of the current state, or its name when the workflow is not loaded.
    pub fn state_title(&self) -> &str {
        self.workflow
            .as_ref()
            .and_then(|w| w.state(&self.task.state))
            .map_or(&self.task.state, |s| &s.title)
    }

    /// Whose turn it is in the current state: its roles, or, in a state with an approval
    /// authority, the role resolved for this task ([`Workflow::turn`]).
    pub fn turn_roles(&self) -> Vec<Role> {
        visibility::turn_of(self.workflow.as_deref(), &self.task).0
    }

    /// The transitions from the current state, each with what `actor` still lacks (none when
    /// the workflow is no longer loaded).
    pub fn available(&self, actor: &Actor) -> Vec<Available> {
        self.workflow.as_ref().map_or_else(Vec::new, |w| {
            engine::decide::available(w, &write::snapshot(&self.task), actor)
        })
    }

    /// The current deadline: the running clock, else the one paused while the dossier is back
    /// with the unit.
    pub fn clock(&self) -> Option<&Clock> {
        self.task.clock.as_ref().or(self.task.paused_clock.as_ref())
    }

    /// The time left on the current deadline at `now` ([`engine::wording::time_left`]).
    pub fn time_left(&self, now: Instant) -> Option<TimeLeft> {
        let clock = self.clock()?;
        Some(engine::wording::time_left(
            self.workflow.as_deref(),
            clock,
            now,
        ))
    }
}

/// A task with everything an actor needs to act on it.
#[derive(Debug, Clone)]
pub struct TaskDetail {
    pub item: TaskItem,
    pub budget: Vec<BudgetLine>,
    /// Every plan the task is listed in, oldest year first, with that year's budget line.
    pub listings: Vec<super::Listing>,
    pub documents: Vec<Document>,
    /// The transitions from the current state, each with what the actor still lacks.
    pub available: Vec<Available>,
    /// Whether the actor may attach documents (`engine::access::may_attach_document`).
    pub may_attach: bool,
    /// The year-end forecast as of `now` (`engine::forecast`): `None` for a finished, postponed
    /// or withdrawn task; an error text when it cannot be computed (a calendar year missing).
    pub forecast: Option<Result<engine::forecast::Forecast, String>>,
    /// The units' proposals to postpone or withdraw it, oldest first (at most one pending).
    pub proposals: Vec<ProposalRecord>,
}

/// A task's whole file as the task page shows it: the detail and the audit log.
#[derive(Debug, Clone)]
pub struct Dossier {
    pub detail: TaskDetail,
    /// The audit log, oldest first.
    pub history: Vec<AuditRecord>,
}

/// Leave to attach a document to a task, granted by [`Tasks::attach_as`] before the file is
/// read: the document type is checked against the task's workflow, then the stored file is
/// recorded.
pub struct Attachment<'a> {
    store: &'a Store,
    task: Task,
    workflow: Arc<Workflow>,
    uploaded_by: String,
    actor: Actor,
}

impl Attachment<'_> {
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Refuses a document type no loaded workflow declares (400, malformed), one only other
    /// workflows declare (409: the task's workflow has no such type), and one the uploader may
    /// not issue ([`access::may_issue_document`], 403).
    pub fn check_type(&self, doc_type: &str) -> Result<(), StoreError> {
        let wf = &self.workflow;
        if let Some(title) = wf.document_types.get(doc_type) {
            access::may_issue_document(
                &self.actor,
                doc_type,
                title,
                wf.document_issuers.get(doc_type).map(Vec::as_slice),
            )?;
            return Ok(());
        }
        let known = self
            .store
            .catalog()
            .workflows()
            .any(|w| w.document_types.contains_key(doc_type));
        let refusal = if known {
            StoreError::StateConflict
        } else {
            StoreError::Invalid
        };
        Err(refusal(format!(
            "Loại tài liệu `{}` không có trong quy trình `{}`; các loại: {}.",
            doc_type,
            wf.name,
            wf.document_types
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// Refuses an upload of `adding` bytes (0: before its size is known) that would take the
    /// documents of the task's unit past `quota` bytes ([`access::within_quota`]).
    pub async fn check_quota(&self, adding: u64, quota: u64) -> Result<(), StoreError> {
        let unit = &self.task.unit_id;
        let used: i64 = with_db!(self.store, |pool| {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(d.size_bytes), 0) AS BIGINT) FROM documents d \
                 JOIN tasks t ON t.id = d.task_id WHERE t.unit_id = $1",
            )
            .bind(unit)
            .fetch_one(pool)
            .await?
        });
        access::within_quota(u64::try_from(used).unwrap_or(0), adding, quota)
            .map_err(StoreError::QuotaExceeded)
    }

    /// Records the document (its file already stored at `new.stored_path`).
    #[tracing::instrument(skip_all, fields(actor = %self.uploaded_by, task = %self.task.id))]
    pub async fn record(self, new: &NewDocument, now: Instant) -> Result<Document, StoreError> {
        if new.task_id != self.task.id {
            return Err(StoreError::internal(format!(
                "an attachment to task `{}` was recorded for task `{}`",
                self.task.id, new.task_id
            )));
        }
        self.check_type(&new.doc_type)?;
        let now = micros(now);
        let doc = Document {
            id: new_id(),
            task_id: new.task_id.clone(),
            doc_type: new.doc_type.clone(),
            number: new.number.clone(),
            issued_on: new.issued_on,
            issuer: new.issuer.clone(),
            file_name: new.file_name.clone(),
            size_bytes: new.size_bytes,
            sha256: new.sha256.clone(),
            stored_path: new.stored_path.clone(),
            uploaded_by: self.uploaded_by.clone(),
            uploaded_at: now,
        };
        // The role the upload is made in: one the workflow lets issue this type, else the
        // uploader's first.
        let role = self
            .workflow
            .document_issuers
            .get(&doc.doc_type)
            .and_then(|issuers| self.actor.roles.iter().find(|r| issuers.contains(r)))
            .or(self.actor.roles.first())
            .copied();
        let title = self
            .workflow
            .document_types
            .get(&doc.doc_type)
            .cloned()
            .unwrap_or_else(|| doc.doc_type.clone());
        let comment = format!(
            "Tải lên tài liệu «{title}»{}: {} (sha256 {})",
            doc.number
                .as_deref()
                .map(|n| format!(" số {n}"))
                .unwrap_or_default(),
            doc.file_name,
            doc.sha256
        );
        let evidence = Evidence::upload(&doc).text();
        // The document and its audit entry in one transaction; the entry goes on the task's
        // chain, which a concurrent transition or upload may move: then try again.
        for _ in 0..20 {
            let written = with_db!(self.store, |pool| {
                let mut tx = pool.begin().await?;
                let mut conn = Conn::from(&mut *tx);
                conn.execute(
                    "INSERT INTO documents (id, task_id, doc_type, number, issued_on, issuer, file_name, size_bytes, sha256, stored_path, uploaded_by, uploaded_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    &[
                        Arg::Str(&doc.id),
                        Arg::Str(&doc.task_id),
                        Arg::Str(&doc.doc_type),
                        Arg::OptStr(doc.number.as_deref()),
                        Arg::OptDate(doc.issued_on),
                        Arg::OptStr(doc.issuer.as_deref()),
                        Arg::Str(&doc.file_name),
                        Arg::Int(doc.size_bytes),
                        Arg::Str(&doc.sha256),
                        Arg::Str(&doc.stored_path),
                        Arg::Str(&doc.uploaded_by),
                        Arg::Time(now),
                    ],
                )
                .await?;
                let note = NoteEntry {
                    documents: vec![doc.id.clone()],
                    evidence: Some(evidence.clone()),
                    ..NoteEntry::new(
                        "document",
                        "tai_len_tai_lieu",
                        comment.clone(),
                        &doc.uploaded_by,
                        role,
                    )
                };
                let written = try_append_note(&mut conn, &doc.task_id, note, now).await?;
                if written {
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                written
            });
            if written {
                return Ok(doc);
            }
            tokio::task::yield_now().await;
        }
        Err(StoreError::Invalid(
            "Nhiệm vụ đang được cập nhật liên tục; hãy tải tài liệu lên lại.".into(),
        ))
    }
}

/// The outcome with the title of the state it reached, for people.
fn titled(workflow: Option<&Workflow>, mut o: TransitionOutcome) -> TransitionOutcome {
    if let Some(s) = workflow.and_then(|w| w.state(&o.state)) {
        o.state_title = s.title.clone();
    }
    o
}

impl<'a> Tasks<'a> {
    /// Task reads that apply no access rule. System door, for the scheduler, the email relay,
    /// operators and tests; the command line, the API and the pages read through the `_as`
    /// doors.
    pub fn unscoped(&self) -> Unscoped<'a> {
        Unscoped { store: self.store }
    }

    /// The task, if `actor` may see it; otherwise not found (for the other aggregates' doors).
    pub(crate) async fn visible_task(&self, actor: &Actor, id: &str) -> Result<Task, StoreError> {
        Ok(self.visible(actor, id).await?.0)
    }

    /// The task, if `actor` may see it; otherwise not found, so that its existence does not
    /// leak. Also returns the facts looked up, for the rules that follow.
    async fn visible(&self, actor: &Actor, id: &str) -> Result<(Task, Facts), StoreError> {
        let task = read::task(self.store, id).await?;
        let facts = Facts::of(self.store, &task, actor).await?;
        if facts.visible_to(actor) {
            Ok((task, facts))
        } else {
            Err(StoreError::not_found("nhiệm vụ", id))
        }
    }

    fn item(&self, task: Task, actor: &Actor, now: Instant) -> TaskItem {
        TaskItem {
            workflow: self
                .store
                .catalog()
                .get(&task.workflow, task.workflow_version)
                .cloned(),
            my_turn: visibility::is_my_turn(self.store, &task, actor),
            stalled: visibility::is_stalled(self.store, &task, now),
            task,
        }
    }

    /// Proposes a task in a plan, in its workflow's initial state. Who may propose for which
    /// unit is `decide::start`'s rule. With an idempotency key, a retry returns the first
    /// outcome.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, unit = %new.unit_id, kind = %new.kind))]
    pub async fn create_as(
        &self,
        actor: &Actor,
        new: &super::NewTask,
        idempotency_key: Option<&str>,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        let o = write::create(self.store, actor, new, idempotency_key, now).await?;
        let workflow = self
            .store
            .catalog()
            .for_date(&new.kind, engine::time::local_date(now));
        Ok(titled(workflow.map(|w| &**w), o))
    }

    /// A task with its budget, documents, the transitions `actor` may take (each with what it
    /// still lacks) and whether they may attach documents; `now` decides whether it stalled.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %id))]
    pub async fn detail_as(
        &self,
        actor: &Actor,
        id: &str,
        now: Instant,
    ) -> Result<TaskDetail, StoreError> {
        let (task, facts) = self.visible(actor, id).await?;
        let wf = self.store.workflow_of(&task)?;
        let available = engine::decide::available(wf, &write::snapshot(&task), actor);
        let may_attach = match facts.may_attach(actor) {
            Ok(()) => true,
            Err(StoreError::Forbidden(_)) => false,
            Err(e) => return Err(e),
        };
        let budget = read::budget(self.store, &task.id).await?;
        let listings = self.store.plans().listings(&task.id).await?;
        let documents = read::documents(self.store, &task.id).await?;
        let forecast = if task.phase.is_terminal() || task.phase == engine::Phase::Postponed {
            None
        } else {
            let plan_year = read::plan_year(self.store, &task.id).await?;
            let line = budget.iter().find(|b| b.year == plan_year);
            let input = engine::forecast::TaskInput {
                state: &task.state,
                entered_at: task.state_entered_at,
                paused: task.paused_clock.as_ref(),
                value: line.and_then(|b| {
                    engine::forecast::package_value(
                        b.approved_estimate_vnd,
                        b.need_total_vnd,
                        b.need_year_vnd,
                    )
                }),
                deadline: task.assigned_deadline(),
                budget_year: engine::forecast::budget_year_of(task.period.as_deref(), plan_year),
                allocated: line
                    .and_then(|b| b.allocated_year_vnd)
                    .is_some_and(|a| a > 0),
            };
            Some(engine::forecast::forecast(wf, &input, now).map_err(|e| e.to_string()))
        };
        let proposals = proposals::of_task(self.store, &task.id).await?;
        Ok(TaskDetail {
            item: self.item(task, actor, now),
            budget,
            listings,
            documents,
            available,
            may_attach,
            forecast,
            proposals,
        })
    }

    /// [`Tasks::detail_as`] with the task's audit log: the task page's file.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %id))]
    pub async fn dossier_as(
        &self,
        actor: &Actor,
        id: &str,
        now: Instant,
    ) -> Result<Dossier, StoreError> {
        let detail = self.detail_as(actor, id, now).await?;
        let history = audit::entries(self.store, &detail.item.task.id).await?;
        Ok(Dossier { detail, history })
    }

    /// One page of the tasks `actor` may see that match `q`, with how many match in all.
    #[tracing::instrument(skip_all, fields(actor = %actor.user))]
    pub async fn search_as(
        &self,
        actor: &Actor,
        q: &TaskQuery,
        now: Instant,
    ) -> Result<TaskPage, StoreError> {
        let (tasks, total, limit, offset) = search::search(self.store, actor, q, now).await?;
        Ok(TaskPage {
            items: tasks
                .into_iter()
                .map(|t| self.item(t, actor, now))
                .collect(),
            total,
            limit,
            offset,
        })
    }

    /// Every task `actor` may see that matches the command line's filter (page after page of
    /// [`Tasks::search_as`]), oldest first.
    #[tracing::instrument(skip_all, fields(actor = %actor.user))]
    pub async fn list_as(
        &self,
        actor: &Actor,
        f: &TaskFilter,
        now: Instant,
    ) -> Result<Vec<TaskItem>, StoreError> {
        let mut q = TaskQuery {
            plan: f.plan.clone(),
            unit: f.unit.clone(),
            phase: f.phase,
            state: f.state.clone(),
            due_before: f.overdue_at,
            limit: Some(MAX_PAGE),
            offset: f.offset,
            ..TaskQuery::default()
        };
        let mut out = Vec::new();
        loop {
            let page = self.search_as(actor, &q, now).await?;
            let n = page.items.len() as i64;
            out.extend(page.items);
            if n < page.limit || f.limit.is_some_and(|l| out.len() as i64 >= l) {
                break;
            }
            q.offset = Some(page.offset + n);
        }
        if let Some(l) = f.limit {
            out.truncate(usize::try_from(l.max(0)).unwrap_or(0));
        }
        Ok(out)
    }

    /// Takes a transition as `actor`: visibility, the version precondition, `decide`, and the
    /// write in one transaction (see [`write`]). A refusal carries the transitions the actor may
    /// take instead; the outcome carries the new state's title.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %req.task_id, transition = %req.transition))]
    pub async fn transition_as(
        &self,
        actor: &Actor,
        req: &TransitionRequest,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        let (task, _) = self.visible(actor, &req.task_id).await?;
        if req.expected_version == Expected::Never {
            return Err(StoreError::PreconditionFailed {
                current: task.version,
            });
        }
        let step = Step::of(req);
        let workflow = self.store.workflow_of(&task)?.clone();
        let o = write::transition(self.store, Some(task), &step, actor, now).await?;
        Ok(titled(Some(&workflow), o))
    }

    /// Sets (`req.on = Some`) or clears a task's assigned deadline (thời hạn giao) as `actor`,
    /// with its deciding document: [`access::may_set_deadline`], then
    /// `engine::assigned::check_change`, then one transaction that writes the task (a
    /// compare-and-set on its version) and an audit entry of kind `deadline`.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %task_id))]
    pub async fn set_deadline_as(
        &self,
        actor: &Actor,
        task_id: &str,
        req: &engine::assigned::DeadlineRequest,
        now: Instant,
    ) -> Result<super::DeadlineOutcome, StoreError> {
        let (task, facts) = self.visible(actor, task_id).await?;
        let role = facts.may_set_deadline(actor)?;
        write::set_deadline(self.store, &task, req, &actor.user, role, now).await
    }

    /// Moves tasks of workflow `name` onto its version `to` by the mapping that version declares
    /// (`[[migrate_from]]`), as an administrator (`access::may_manage`, workflow versions): one
    /// task, or every task of a version in a state. Each task is moved in its own transaction with
    /// its own audit entry (kind `migrate`); the first refusal stops the run (the tasks moved
    /// before it stay moved). Tasks are read without the dossier-reading rule: an administrator
    /// moves versions, not dossiers.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, workflow = %name, to = to))]
    pub async fn migrate_as(
        &self,
        actor: &Actor,
        name: &str,
        to: u32,
        which: &super::MigrationSelection,
        now: Instant,
    ) -> Result<Vec<super::Migrated>, StoreError> {
        access::may_manage(actor, access::Area::WorkflowVersions)?;
        let target = self.store.catalog().get(name, to).cloned().ok_or_else(|| {
            StoreError::Invalid(format!(
                "Quy trình `{name}` không có phiên bản {to} trong thư mục quy trình."
            ))
        })?;
        let tasks: Vec<Task> = match which {
            super::MigrationSelection::Task(id) => {
                let t = read::task(self.store, id).await?;
                if t.workflow != name {
                    return Err(StoreError::Invalid(format!(
                        "Nhiệm vụ `{id}` chạy trên quy trình `{}`, không phải `{name}`.",
                        t.workflow
                    )));
                }
                vec![t]
            }
            super::MigrationSelection::State {
                state,
                from_version,
            } => {
                let from = self.store.catalog().get(name, *from_version).ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "Quy trình `{name}` không có phiên bản {from_version} trong thư mục quy trình."
                    ))
                })?;
                if from.state(state).is_none() {
                    return Err(StoreError::Invalid(format!(
                        "Phiên bản {from_version} của quy trình `{name}` không có bước `{state}`."
                    )));
                }
                read::in_state(self.store, name, *from_version, state).await?
            }
        };
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            let (from_version, from_state) = (t.workflow_version, t.state.clone());
            let o = write::migrate(self.store, &t, &target, actor, now).await?;
            out.push(super::Migrated {
                task_id: t.id.clone(),
                task_name: t.name.clone(),
                from_version,
                from_state,
                outcome: titled(Some(&target), o),
            });
        }
        Ok(out)
    }

    /// A task's audit entries, oldest first, for someone who may see the task.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %id))]
    pub async fn history_as(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let (task, _) = self.visible(actor, id).await?;
        audit::entries(self.store, &task.id).await
    }

    /// A task's documents, oldest first, for someone who may see the task.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %task_id))]
    pub async fn documents_as(
        &self,
        actor: &Actor,
        task_id: &str,
    ) -> Result<Vec<Document>, StoreError> {
        let (task, _) = self.visible(actor, task_id).await?;
        read::documents(self.store, &task.id).await
    }

    /// One document (to download its file), for someone who may see its task; otherwise not
    /// found.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, document = %id))]
    pub async fn document_as(&self, actor: &Actor, id: &str) -> Result<Document, StoreError> {
        let not_found = || StoreError::not_found("tài liệu", id);
        let doc = read::document(self.store, id)
            .await?
            .ok_or_else(not_found)?;
        match self.visible(actor, &doc.task_id).await {
            Ok(_) => Ok(doc),
            Err(StoreError::NotFound { .. }) => Err(not_found()),
            Err(e) => Err(e),
        }
    }

    /// Leave for `actor` to attach a document to a task: they may see it
    /// (`engine::access::may_see_task`, else not found) and attach to it
    /// (`engine::access::may_attach_document`, else forbidden). Asked before an upload is read.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %task_id))]
    pub async fn attach_as(
        &self,
        actor: &Actor,
        task_id: &str,
    ) -> Result<Attachment<'a>, StoreError> {
        let (task, facts) = self.visible(actor, task_id).await?;
        facts.may_attach(actor)?;
        let workflow = self.store.workflow_of(&task)?.clone();
        Ok(Attachment {
            store: self.store,
            task,
            workflow,
            uploaded_by: actor.user.clone(),
            actor: actor.clone(),
        })
    }

    /// [`Tasks::attach_as`], the type check and [`Attachment::record`] in one call, for a file
    /// already stored.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %new.task_id))]
    pub async fn add_document_as(
        &self,
        actor: &Actor,
        new: &NewDocument,
        now: Instant,
    ) -> Result<Document, StoreError> {
        let attachment = self.attach_as(actor, &new.task_id).await?;
        attachment.check_type(&new.doc_type)?;
        attachment.record(new, now).await
    }
}
