//! Units propose, UBND decides (issue 15, item 2): a unit's proposal to postpone or withdraw a
//! task, with its letter, pending until UBND accepts it (the workflow's exit, through `decide`)
//! or refuses it (the task goes on where it is, its clocks as they were). The rules are
//! `engine::proposal`'s; every door here is one audited transaction.

use chrono::NaiveDate;
use engine::decide::Actor;
use engine::plan::budget::{YearBudget, check_year_budget};
use engine::proposal::{self, Acceptance, Letter, Proposal, ProposalKind};
use engine::time::{Instant, local_date};
use serde::Serialize;

use super::super::plan_years::{BudgetRecord, write_budget_line};
use super::super::plans::{NoteEntry, append_note, append_note_at};
use super::super::sql::{Arg, Conn};
use super::super::{
    CarriedOver, Store, StoreError, Task, TransitionOutcome, is_unique_violation, micros, new_id,
    with_db,
};
use super::write::{self, Also, Written};
use super::{Tasks, read, titled};

/// A proposal as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ProposalRecord {
    pub id: String,
    pub task_id: String,
    /// `postpone` | `withdraw`.
    pub kind: String,
    pub letter_number: String,
    pub letter_date: Option<NaiveDate>,
    pub comment: Option<String>,
    /// The step the task was in when the unit proposed.
    pub from_state: String,
    pub proposed_by: String,
    pub proposed_at: Instant,
    /// `pending` | `accepted` | `refused`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<Instant>,
    pub decision_comment: Option<String>,
}

impl ProposalRecord {
    pub fn kind(&self) -> Option<ProposalKind> {
        self.kind.parse().ok()
    }

    /// The proposal as the engine's rules see it.
    pub fn rule_view(&self) -> Option<Proposal> {
        Some(Proposal {
            kind: self.kind()?,
            letter: Letter {
                number: self.letter_number.clone(),
                date: self.letter_date,
            },
            from_state: self.from_state.clone(),
        })
    }

    /// "văn bản số 5796/SVHTTDL ngày 04/11/2025".
    pub fn letter_reference(&self) -> String {
        Letter {
            number: self.letter_number.clone(),
            date: self.letter_date,
        }
        .reference()
    }

    /// "Đề xuất rút khỏi kế hoạch (văn bản số …)".
    pub fn describe(&self) -> String {
        self.rule_view()
            .map(|p| p.describe())
            .unwrap_or_else(|| format!("Đề xuất {} ({})", self.kind, self.letter_reference()))
    }
}

/// A unit's proposal, as a front end hands it down.
#[derive(Debug, Clone)]
pub struct NewProposal {
    pub task_id: String,
    pub kind: ProposalKind,
    pub letter_number: String,
    pub letter_date: Option<NaiveDate>,
    pub comment: Option<String>,
}

const SELECT_PROPOSAL: &str = "SELECT id, task_id, kind, letter_number, letter_date, comment, from_state, proposed_by, proposed_at, \
    status, decided_by, decided_at, decision_comment FROM task_proposals";

/// The task's pending proposal, if any.
pub(crate) async fn pending(
    store: &Store,
    task_id: &str,
) -> Result<Option<ProposalRecord>, StoreError> {
    Ok(with_db!(store, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_PROPOSAL} WHERE task_id = $1 AND status = 'pending'"
        )))
        .bind(task_id)
        .fetch_optional(pool)
        .await?
    }))
}

/// A task's proposals, oldest first.
pub(crate) async fn of_task(
    store: &Store,
    task_id: &str,
) -> Result<Vec<ProposalRecord>, StoreError> {
    Ok(with_db!(store, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_PROPOSAL} WHERE task_id = $1 ORDER BY proposed_at, id"
        )))
        .bind(task_id)
        .fetch_all(pool)
        .await?
    }))
}

/// Every pending proposal, oldest first: what the reports list.
pub(crate) async fn all_pending(store: &Store) -> Result<Vec<ProposalRecord>, StoreError> {
    Ok(with_db!(store, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_PROPOSAL} WHERE status = 'pending' ORDER BY proposed_at, id"
        )))
        .fetch_all(pool)
        .await?
    }))
}

/// Inserts a pending proposal and its audit entry (`kind` of audit `proposal`), in `conn`'s
/// transaction. Shared by a unit's proposal and by the import of a plan row that is one.
pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    task_id: &str,
    p: &Proposal,
    comment: Option<&str>,
    by: &str,
    role: Option<engine::Role>,
    now: Instant,
) -> Result<ProposalRecord, StoreError> {
    let id = new_id();
    let date = p.letter.date;
    conn.execute(
        "INSERT INTO task_proposals (id, task_id, kind, letter_number, letter_date, comment, from_state, proposed_by, proposed_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')",
        &[
            Arg::Str(&id),
            Arg::Str(task_id),
            Arg::Str(p.kind.as_str()),
            Arg::Str(&p.letter.number),
            Arg::OptDate(date),
            Arg::OptStr(comment),
            Arg::Str(&p.from_state),
            Arg::Str(by),
            Arg::Time(now),
        ],
    )
    .await?;
    let mut text = p.describe();
    if let Some(c) = comment {
        text.push_str(". ");
        text.push_str(c);
    }
    append_note(
        conn,
        task_id,
        NoteEntry::new("proposal", p.kind.audit_name(), text, by, role),
        now,
    )
    .await?;
    Ok(ProposalRecord {
        id,
        task_id: task_id.to_string(),
        kind: p.kind.as_str().to_string(),
        letter_number: p.letter.number.clone(),
        letter_date: date,
        comment: comment.map(str::to_string),
        from_state: p.from_state.clone(),
        proposed_by: by.to_string(),
        proposed_at: now,
        status: "pending".into(),
        decided_by: None,
        decided_at: None,
        decision_comment: None,
    })
}

/// Records a unit's proposal and queues UBND's email, in one transaction.
async fn record_proposal(
    store: &Store,
    task: &Task,
    p: &Proposal,
    comment: Option<&str>,
    actor: &Actor,
    role: Option<engine::Role>,
    now: Instant,
) -> Result<ProposalRecord, StoreError> {
    Ok(with_db!(store, |pool| {
        let mut tx = pool.begin().await?;
        let mut conn = Conn::from(&mut *tx);
        let r = insert(&mut conn, &task.id, p, comment, &actor.user, role, now).await?;
        notify_ubnd(&mut conn, task, &r, now).await?;
        tx.commit().await?;
        r
    }))
}

/// The budget year a carry-over concerns: the year of the unit's letter, else of `at`.
fn carry_year(letter_date: Option<NaiveDate>, at: Instant) -> i32 {
    use chrono::Datelike;
    letter_date.unwrap_or_else(|| local_date(at)).year()
}

/// A budget line's figures, if anything was known of it.
fn known(line: &BudgetRecord) -> Option<&YearBudget> {
    line.known_from.map(|_| &line.budget)
}

fn clean(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Tasks<'_> {
    /// A unit proposes to postpone or withdraw its task (`engine::proposal::may_propose_change`):
    /// recorded with its letter and audited; the task does not move, and UBND hears of it by
    /// email.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %new.task_id))]
    pub async fn propose_as(
        &self,
        actor: &Actor,
        new: &NewProposal,
        now: Instant,
    ) -> Result<ProposalRecord, StoreError> {
        let now = micros(now);
        let (task, _) = self.visible(actor, &new.task_id).await?;
        let number = new.letter_number.trim();
        if number.is_empty() {
            return Err(StoreError::Invalid(
                "Thiếu số văn bản đề xuất của đơn vị (ví dụ 5796/SVHTTDL-KHTC).".into(),
            ));
        }
        let wf = self.store.workflow_of(&task)?.clone();
        let current = pending(self.store, &task.id).await?;
        let current_view = current.as_ref().and_then(ProposalRecord::rule_view);
        proposal::may_propose_change(
            &wf,
            &task.unit_id,
            &task.state,
            new.kind,
            current_view.as_ref(),
            actor,
        )?;
        if new.kind == ProposalKind::CarryOver {
            let year = carry_year(new.letter_date, now);
            let line = self.store.plans().budget_of(&task.id, year, None).await?;
            proposal::carried_amount(year, known(&line))?;
        }
        let p = Proposal {
            kind: new.kind,
            letter: Letter {
                number: number.to_string(),
                date: new.letter_date,
            },
            from_state: task.state.clone(),
        };
        let comment = clean(new.comment.as_deref());
        let role = actor.roles.iter().copied().find(|r| r.is_unit_role());
        match record_proposal(self.store, &task, &p, comment.as_deref(), actor, role, now).await {
            // Another proposal for this task was recorded since we looked (the one-pending
            // index refused ours): answer as the rule does when it sees that proposal.
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                let current = pending(self.store, &task.id).await?;
                let current_view = current.as_ref().and_then(ProposalRecord::rule_view);
                proposal::may_propose_change(
                    &wf,
                    &task.unit_id,
                    &task.state,
                    new.kind,
                    current_view.as_ref(),
                    actor,
                )?;
                Err(StoreError::Database(e))
            }
            r => r,
        }
    }

    /// UBND accepts the task's pending proposal: the workflow's exit into `postponed` or
    /// `withdrawn` through `decide` (with the documents it requires), the proposal settled in
    /// the same transaction.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %task_id))]
    pub async fn accept_proposal_as(
        &self,
        actor: &Actor,
        task_id: &str,
        comment: Option<&str>,
        document_ids: &[String],
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        let now = micros(now);
        let (task, _) = self.visible(actor, task_id).await?;
        let wf = self.store.workflow_of(&task)?.clone();
        let current = pending(self.store, &task.id).await?;
        let view = current.as_ref().and_then(ProposalRecord::rule_view);
        let comment = clean(comment);
        let snapshot = write::snapshot(&task);
        // One who may not decide hears that (403) before which documents exist.
        proposal::may_decide_proposal(actor, proposal::ACCEPT).map_err(|r| {
            StoreError::Rejected(Box::new(super::super::Refusal {
                rejection: r,
                available: None,
                workflow: Some(wf.clone()),
            }))
        })?;
        let (documents, cited) =
            write::resolve_documents(self.store, &task.id, document_ids).await?;
        let acceptance = proposal::accept(
            &wf,
            &snapshot,
            view.as_ref(),
            actor,
            comment.as_deref(),
            documents,
            now,
        )
        .map_err(|r| {
            StoreError::Rejected(Box::new(super::super::Refusal {
                rejection: r,
                available: None,
                workflow: Some(wf.clone()),
            }))
        })?;
        let p = current.expect("accept refuses without a pending proposal");
        let d = match acceptance {
            Acceptance::Moved(d) => *d,
            Acceptance::Stays { entry } => {
                return self
                    .accept_carry_over(&task, &wf, &p, entry, cited, actor, comment, now)
                    .await;
            }
        };
        let also = [settle("accepted", &p.id, actor, comment.as_deref(), now)];
        let evidence = super::super::audit::Evidence::cited(cited).map(|e| e.text());
        match write::write_transition(self.store, &task, &d, evidence, None, &also, now).await? {
            Written::Done(o) => Ok(titled(Some(&wf), o)),
            Written::Lost => {
                let current = read::task(self.store, &task.id).await?.version;
                Err(StoreError::Conflict {
                    expected: task.version,
                    current,
                })
            }
        }
    }

    /// UBND's acceptance of a carry-over (chuyển nguồn), which leaves the task in its step: in
    /// one transaction the proposal is settled, the declared decision is audited (with the
    /// unit's letter, UBND's comment and the amount), and next year's budget line gets the
    /// year's unspent allocation as its carried-over funds (a history entry and a `budget` entry
    /// of its own). The year is the unit's letter's (or, undated, the proposal's).
    #[allow(clippy::too_many_arguments)]
    async fn accept_carry_over(
        &self,
        task: &Task,
        wf: &engine::workflow::Workflow,
        p: &ProposalRecord,
        entry: engine::decide::AuditEntry,
        cited: Vec<super::super::audit::CitedDocument>,
        actor: &Actor,
        comment: Option<String>,
        now: Instant,
    ) -> Result<TransitionOutcome, StoreError> {
        let year = carry_year(p.letter_date, p.proposed_at);
        let plans = self.store.plans();
        let this = plans.budget_of(&task.id, year, None).await?;
        let amount = proposal::carried_amount(year, known(&this))?;
        let next = plans.budget_of(&task.id, year + 1, None).await?;
        let next = check_year_budget(
            year + 1,
            YearBudget {
                carried_over_vnd: Some(amount),
                ..next.budget
            },
        )
        .map_err(StoreError::Invalid)?;
        let text = format!(
            "{}. Chuyển nguồn {} triệu đồng kinh phí năm {year} chưa giải ngân sang năm {}",
            entry.comment.clone().unwrap_or_default(),
            engine::money::format_million_vnd(amount, 3),
            year + 1
        );
        let evidence = super::super::audit::Evidence::cited(cited).map(|e| e.text());
        let written: Option<(i64, i64)> = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            let stmt = settle("accepted", &p.id, actor, comment.as_deref(), now);
            let n = conn.execute(stmt.sql, &stmt.args).await?;
            if n == 1 {
                let ids = append_note_at(
                    &mut conn,
                    &task.id,
                    NoteEntry {
                        kind: "proposal",
                        transition: &entry.transition,
                        comment: text.clone(),
                        actor_user: &actor.user,
                        actor_role: entry.actor_role,
                        documents: entry.documents.clone(),
                        evidence: evidence.clone(),
                    },
                    now,
                )
                .await?;
                if ids.is_some() {
                    write_budget_line(
                        &mut conn,
                        &task.id,
                        year + 1,
                        &next,
                        local_date(now),
                        now,
                        &actor.user,
                        entry.actor_role,
                    )
                    .await?;
                    tx.commit().await?;
                }
                ids
            } else {
                return Err(engine::decide::Rejection::NoPendingProposal.into());
            }
        });
        let Some((audit_id, audit_seq)) = written else {
            return Err(StoreError::Invalid(
                "Nhiệm vụ vừa được người khác cập nhật; hãy thử lại.".into(),
            ));
        };
        Ok(titled(
            Some(wf),
            TransitionOutcome {
                task_id: task.id.clone(),
                version: task.version,
                state: task.state.clone(),
                phase: task.phase,
                audit_id,
                audit_seq,
                replayed: false,
                state_title: String::new(),
                carried_over: Some(CarriedOver {
                    from_year: year,
                    to_year: year + 1,
                    amount_vnd: amount,
                }),
            },
        ))
    }

    /// UBND refuses the task's pending proposal: audited; the task goes on from the step it is in,
    /// its clocks as they were (nothing else changes).
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %task_id))]
    pub async fn refuse_proposal_as(
        &self,
        actor: &Actor,
        task_id: &str,
        comment: Option<&str>,
        now: Instant,
    ) -> Result<ProposalRecord, StoreError> {
        let now = micros(now);
        let (task, _) = self.visible(actor, task_id).await?;
        let wf = self.store.workflow_of(&task)?.clone();
        let current = pending(self.store, &task.id).await?;
        let view = current.as_ref().and_then(ProposalRecord::rule_view);
        let comment = clean(comment);
        let entry = proposal::refuse(
            &wf,
            &write::snapshot(&task),
            view.as_ref(),
            actor,
            comment.as_deref(),
            now,
        )?;
        let mut p = current.expect("refuse refuses without a pending proposal");
        let settled: bool = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            let stmt = settle("refused", &p.id, actor, comment.as_deref(), now);
            let n = conn.execute(stmt.sql, &stmt.args).await?;
            if n == 1 {
                append_note(
                    &mut conn,
                    &task.id,
                    NoteEntry::new(
                        "proposal",
                        proposal::REFUSE,
                        entry.comment.clone().unwrap_or_default(),
                        &actor.user,
                        entry.actor_role,
                    ),
                    now,
                )
                .await?;
                tx.commit().await?;
            }
            n == 1
        });
        if !settled {
            return Err(engine::decide::Rejection::NoPendingProposal.into());
        }
        p.status = "refused".into();
        p.decided_by = Some(actor.user.clone());
        p.decided_at = Some(now);
        p.decision_comment = comment;
        Ok(p)
    }

    /// A task's proposals (pending and decided), oldest first, for someone who may see the task.
    pub async fn proposals_as(
        &self,
        actor: &Actor,
        task_id: &str,
    ) -> Result<Vec<ProposalRecord>, StoreError> {
        let (task, _) = self.visible(actor, task_id).await?;
        of_task(self.store, &task.id).await
    }
}

/// The statement that settles proposal `id` as `status` (`accepted`, `refused`) by `actor`: it
/// changes the row only while the proposal is still pending, so that of two decisions at once
/// one settles it and the other finds nothing to change.
fn settle<'a>(
    status: &'a str,
    id: &'a str,
    actor: &'a Actor,
    comment: Option<&'a str>,
    now: Instant,
) -> Also<'a> {
    Also {
        sql: "UPDATE task_proposals SET status = $1, decided_by = $2, decided_at = $3, decision_comment = $4 \
              WHERE id = $5 AND status = 'pending'",
        args: vec![
            Arg::Str(status),
            Arg::Str(&actor.user),
            Arg::Time(now),
            Arg::OptStr(comment),
            Arg::Str(id),
        ],
    }
}

/// Queues the email telling UBND a unit's proposal waits for its decision.
async fn notify_ubnd(
    conn: &mut Conn<'_>,
    task: &Task,
    p: &ProposalRecord,
    now: Instant,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::json!({
        "task_id": task.id,
        "task_name": task.name,
        "unit_id": task.unit_id,
        "roles": [engine::Role::Ubnd],
        "proposal": p.describe(),
        "comment": p.comment,
        "actor": p.proposed_by,
        "to_state": task.state,
    });
    let id = new_id();
    let payload = payload.to_string();
    super::super::sql::insert_messages(
        conn,
        &[super::super::sql::NewMessage {
            id: &id,
            task_id: Some(&task.id),
            template: "task.proposal",
            payload: &payload,
        }],
        now,
    )
    .await
}
