//! Transferring a task to another owning unit (issue 15, item 9): a UBND decision
//! (`engine::access::may_transfer`), recorded with its deciding document and audited. Distinct
//! from a unit merge, which moves every task of a unit by the directory
//! ([`crate::store::Directory`]): here one task changes hands and both units go on.

use chrono::NaiveDate;
use engine::decide::Actor;
use engine::time::{Instant, format_date};
use serde::Serialize;

use super::super::plans::{NoteEntry, append_note};
use super::super::sql::{Arg, Conn};
use super::super::{StoreError, micros, new_id, with_db};
use super::Tasks;

/// A transfer, as a front end hands it down.
#[derive(Debug, Clone)]
pub struct NewTransfer {
    pub task_id: String,
    pub to_unit: String,
    /// The deciding document's number ("1234/QĐ-UBND").
    pub decision_number: String,
    pub decision_date: Option<NaiveDate>,
    pub comment: Option<String>,
}

/// A transfer as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TransferRecord {
    pub id: String,
    pub task_id: String,
    pub from_unit: String,
    pub to_unit: String,
    pub decision_number: String,
    pub decision_date: Option<NaiveDate>,
    pub comment: Option<String>,
    pub decided_by: String,
    pub decided_at: Instant,
    /// The task's version once transferred.
    #[sqlx(default)]
    pub version: i64,
}

impl TransferRecord {
    /// "Quyết định số 1234/QĐ-UBND ngày 02/12/2026".
    pub fn decision_reference(&self) -> String {
        match self.decision_date {
            Some(d) => format!(
                "quyết định số {} ngày {}",
                self.decision_number,
                format_date(d)
            ),
            None => format!("quyết định số {}", self.decision_number),
        }
    }
}

impl Tasks<'_> {
    /// Transfers a task to another owning unit, as UBND: the task (with its history, documents
    /// and clocks) now belongs to `to_unit`; the deciding document is recorded with the transfer
    /// and on the audit entry (`chuyen_don_vi`). A closed task, the unit it already has, a unit
    /// that no longer exists on its own (merged) are refused with the reason.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, task = %t.task_id, to = %t.to_unit))]
    pub async fn transfer_as(
        &self,
        actor: &Actor,
        t: &NewTransfer,
        now: Instant,
    ) -> Result<TransferRecord, StoreError> {
        let now = micros(now);
        let (task, _) = self.visible(actor, &t.task_id).await?;
        engine::access::may_transfer(actor)?;
        let number = t.decision_number.trim();
        if number.is_empty() {
            return Err(StoreError::Invalid(
                "Thiếu số quyết định chuyển đơn vị chủ trì (ví dụ 1234/QĐ-UBND).".into(),
            ));
        }
        if task.phase.is_terminal() {
            return Err(StoreError::Invalid(format!(
                "Nhiệm vụ đã kết thúc (giai đoạn «{}»); không chuyển đơn vị chủ trì.",
                task.phase.title()
            )));
        }
        let to = self.store.directory().unit(&t.to_unit).await?;
        if let Some(into) = &to.merged_into {
            return Err(StoreError::Invalid(format!(
                "Đơn vị `{}` đã sáp nhập vào `{into}`; hãy chuyển nhiệm vụ sang `{into}`.",
                to.id
            )));
        }
        if to.id == task.unit_id {
            return Err(StoreError::Invalid(format!(
                "Nhiệm vụ đã thuộc đơn vị `{}` ({}).",
                to.id, to.name
            )));
        }
        let record = TransferRecord {
            id: new_id(),
            task_id: task.id.clone(),
            from_unit: task.unit_id.clone(),
            to_unit: to.id.clone(),
            decision_number: number.to_string(),
            decision_date: t.decision_date,
            comment: t
                .comment
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            decided_by: actor.user.clone(),
            decided_at: now,
            version: task.version + 1,
        };
        let mut text = format!(
            "Chuyển đơn vị chủ trì từ «{}» ({}) sang «{}» ({}) theo {}",
            task.unit_name,
            task.unit_id,
            to.name,
            to.id,
            record.decision_reference()
        );
        if let Some(c) = &record.comment {
            text.push_str(". ");
            text.push_str(c);
        }
        let moved: bool = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            let n = conn
                .execute(
                    "UPDATE tasks SET unit_id = $1, version = $2, updated_at = $3 WHERE id = $4 AND version = $5",
                    &[
                        Arg::Str(&record.to_unit),
                        Arg::Int(record.version),
                        Arg::Time(now),
                        Arg::Str(&task.id),
                        Arg::Int(task.version),
                    ],
                )
                .await?;
            if n == 1 {
                conn.execute(
                    "INSERT INTO task_transfers (id, task_id, from_unit, to_unit, decision_number, decision_date, comment, decided_by, decided_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        Arg::Str(&record.id),
                        Arg::Str(&record.task_id),
                        Arg::Str(&record.from_unit),
                        Arg::Str(&record.to_unit),
                        Arg::Str(&record.decision_number),
                        Arg::OptDate(record.decision_date),
                        Arg::OptStr(record.comment.as_deref()),
                        Arg::Str(&record.decided_by),
                        Arg::Time(now),
                    ],
                )
                .await?;
                append_note(
                    &mut conn,
                    &task.id,
                    NoteEntry::new(
                        "transfer",
                        "chuyen_don_vi",
                        text.clone(),
                        &actor.user,
                        Some(engine::Role::Ubnd),
                    ),
                    now,
                )
                .await?;
                tx.commit().await?;
            }
            n == 1
        });
        if !moved {
            let current = super::read::task(self.store, &task.id).await?.version;
            return Err(StoreError::Conflict {
                expected: task.version,
                current,
            });
        }
        Ok(record)
    }

    /// A task's transfers between units, oldest first, for someone who may see the task.
    pub async fn transfers_as(
        &self,
        actor: &Actor,
        task_id: &str,
    ) -> Result<Vec<TransferRecord>, StoreError> {
        let (task, _) = self.visible(actor, task_id).await?;
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT id, task_id, from_unit, to_unit, decision_number, decision_date, comment, decided_by, decided_at \
                 FROM task_transfers WHERE task_id = $1 ORDER BY decided_at, id",
            )
            .bind(&task.id)
            .fetch_all(pool)
            .await?
        }))
    }
}
