//! The audit log: append-only, hash-chained per task, sealed periodically.
//!
//! Each entry's hash is sha256 over a canonical JSON encoding of the entry and the previous
//! entry's hash in the same task. Chains are per task so that a busy city does not serialise all
//! its transitions on one global chain; a seal then commits to the heads of every chain that grew
//! since the previous seal, and chains to that seal, so that the whole log is covered.
//! Triggers in both schemas refuse UPDATE and DELETE; [`Audit::verify`] finds what a
//! privileged hand changed anyway.
//!
//! - [`record`]: one entry, its canonical hash and the statement that appends it;
//! - [`verify`]: recomputing the chains and the seals.
//!
//! The doors here act for nobody: the history of a task for an actor is
//! [`Tasks::history_as`](super::Tasks::history_as).

mod evidence;
mod record;
mod verify;

use engine::time::Instant;
use serde::Serialize;

use super::{Store, StoreError, micros, with_db};
use record::{SELECT_AUDIT, canonical_instant};

pub use evidence::{CitedDocument, Evidence, UploadedDocument};
pub use record::{AuditRecord, sha256_hex};
pub(crate) use record::{
    audit_columns, audit_values, documents_json, insert_audit, insert_audit_stmt,
};
pub use verify::DocumentsReport;

/// The audit log's doors: see [`Store::audit`].
#[derive(Clone, Copy)]
pub struct Audit<'a> {
    pub(super) store: &'a Store,
}

/// The first entry (or seal) that does not check out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub task_id: Option<String>,
    pub seq: Option<i64>,
    pub audit_id: Option<i64>,
    pub seal_id: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub tasks: usize,
    pub entries: usize,
    pub seals: usize,
    pub broken: Option<Broken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Seal {
    pub id: i64,
    pub at: Instant,
    pub task_count: i64,
    pub heads_digest: String,
    pub prev_hash: String,
    pub hash: String,
}

fn heads_digest(heads: &[(String, i64, String)]) -> String {
    let mut text = String::new();
    for (task, seq, hash) in heads {
        text.push_str(&format!("{task}:{seq}:{hash}\n"));
    }
    sha256_hex(text.as_bytes())
}

fn seal_hash(at: Instant, task_count: i64, digest: &str, prev: &str) -> String {
    sha256_hex(
        format!(
            "seal\n{}\n{task_count}\n{digest}\n{prev}\n",
            canonical_instant(at)
        )
        .as_bytes(),
    )
}

/// A task's entries, oldest first (the caller has found the task).
pub(crate) async fn entries(store: &Store, task_id: &str) -> Result<Vec<AuditRecord>, StoreError> {
    Ok(with_db!(store, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_AUDIT} WHERE task_id = $1 ORDER BY seq"
        )))
        .bind(task_id)
        .fetch_all(pool)
        .await?
    }))
}

impl Audit<'_> {
    /// A task's audit entries, oldest first. System door, for auditors at the shell: no access
    /// rule (an actor's door is [`Tasks::history_as`](super::Tasks::history_as)).
    #[tracing::instrument(skip_all, fields(task = %task_id))]
    pub async fn history(&self, task_id: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let found: Option<i64> = with_db!(self.store, |pool| {
            sqlx::query_scalar("SELECT version FROM tasks WHERE id = $1")
                .bind(task_id)
                .fetch_optional(pool)
                .await?
        });
        if found.is_none() {
            return Err(StoreError::not_found("nhiệm vụ", task_id));
        }
        entries(self.store, task_id).await
    }

    /// Writes a seal over the head of every task chain that grew since the last seal. System
    /// door, for the scheduler and the shell.
    #[tracing::instrument(skip_all)]
    pub async fn seal(&self, now: Instant) -> Result<Seal, StoreError> {
        let now = micros(now);
        Ok(with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let prev: Option<String> =
                sqlx::query_scalar("SELECT hash FROM audit_seals ORDER BY id DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            let prev = prev.unwrap_or_default();
            let heads: Vec<(String, i64, String)> = sqlx::query_as(
                "SELECT t.id, t.audit_seq, t.audit_head FROM tasks t \
                 WHERE t.audit_seq > COALESCE((SELECT MAX(h.seq) FROM audit_seal_heads h WHERE h.task_id = t.id), 0) \
                 ORDER BY t.id",
            )
            .fetch_all(&mut *tx)
            .await?;
            let count = i64::try_from(heads.len()).unwrap_or(i64::MAX);
            let digest = heads_digest(&heads);
            let hash = seal_hash(now, count, &digest, &prev);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO audit_seals (at, through_audit_id, task_count, heads_digest, prev_hash, hash) \
                 VALUES ($1, COALESCE((SELECT MAX(id) FROM audit_log), 0), $2, $3, $4, $5) RETURNING id",
            )
            .bind(now)
            .bind(count)
            .bind(&digest)
            .bind(&prev)
            .bind(&hash)
            .fetch_one(&mut *tx)
            .await?;
            for (task, seq, head) in &heads {
                sqlx::query("INSERT INTO audit_seal_heads (seal_id, task_id, seq, hash) VALUES ($1, $2, $3, $4)")
                    .bind(id)
                    .bind(task)
                    .bind(seq)
                    .bind(head)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Seal {
                id,
                at: now,
                task_count: count,
                heads_digest: digest,
                prev_hash: prev,
                hash,
            }
        }))
    }
}
