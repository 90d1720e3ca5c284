//! The audit log: append-only, hash-chained per task, sealed periodically.
//!
//! Each entry's hash is sha256 over a canonical JSON encoding of the entry and the previous
//! entry's hash in the same task. Chains are per task so that a busy city does not serialise all
//! its transitions on one global chain; a seal then commits to the heads of every chain that grew
//! since the previous seal, and chains to that seal, so that the whole log is covered.
//! Triggers in both schemas refuse UPDATE and DELETE; [`Store::verify_audit`] finds what a
//! privileged hand changed anyway.

use std::collections::BTreeMap;

use engine::Phase;
use engine::Role;
use engine::decide::AuditEntry;
use engine::time::Instant;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::directory::micros;
use super::{Store, StoreError, with_db};

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub task_id: String,
    pub seq: i64,
    /// `create`, `transition`, `import` or `migrate`.
    pub kind: String,
    pub at: Instant,
    pub actor_user: String,
    pub actor_role: Option<String>,
    pub transition: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub from_phase: Option<String>,
    pub to_phase: String,
    pub comment: Option<String>,
    pub documents: Vec<String>,
    pub workflow: String,
    pub workflow_version: i64,
    pub idempotency_key: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields that are hashed, in a fixed order. Changing this struct breaks every existing
/// chain: add a new kind of entry instead.
#[derive(Serialize)]
struct Canonical<'a> {
    task_id: &'a str,
    seq: i64,
    kind: &'a str,
    at: String,
    actor_user: &'a str,
    actor_role: Option<&'a str>,
    transition: &'a str,
    from_state: Option<&'a str>,
    to_state: &'a str,
    from_phase: Option<&'a str>,
    to_phase: &'a str,
    comment: Option<&'a str>,
    documents: &'a [String],
    workflow: &'a str,
    workflow_version: i64,
    idempotency_key: Option<&'a str>,
    prev_hash: &'a str,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn canonical_instant(t: Instant) -> String {
    micros(t).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl AuditRecord {
    /// Builds the record for a decision's audit entry, computing its hash.
    pub(crate) fn new(
        task_id: &str,
        seq: i64,
        kind: &str,
        entry: &AuditEntry,
        idempotency_key: Option<&str>,
        prev_hash: &str,
    ) -> AuditRecord {
        let mut r = AuditRecord {
            id: 0,
            task_id: task_id.to_string(),
            seq,
            kind: kind.to_string(),
            at: micros(entry.at),
            actor_user: entry.actor_user.clone(),
            actor_role: entry.actor_role.map(|r: Role| r.as_str().to_string()),
            transition: entry.transition.clone(),
            from_state: entry.from_state.clone(),
            to_state: entry.to_state.clone(),
            from_phase: entry.from_phase.map(|p: Phase| p.as_str().to_string()),
            to_phase: entry.to_phase.as_str().to_string(),
            comment: entry.comment.clone(),
            documents: entry.documents.clone(),
            workflow: entry.workflow.clone(),
            workflow_version: i64::from(entry.workflow_version),
            idempotency_key: idempotency_key.map(str::to_string),
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        r.hash = r.compute_hash();
        r
    }

    pub fn compute_hash(&self) -> String {
        let c = Canonical {
            task_id: &self.task_id,
            seq: self.seq,
            kind: &self.kind,
            at: canonical_instant(self.at),
            actor_user: &self.actor_user,
            actor_role: self.actor_role.as_deref(),
            transition: &self.transition,
            from_state: self.from_state.as_deref(),
            to_state: &self.to_state,
            from_phase: self.from_phase.as_deref(),
            to_phase: &self.to_phase,
            comment: self.comment.as_deref(),
            documents: &self.documents,
            workflow: &self.workflow,
            workflow_version: self.workflow_version,
            idempotency_key: self.idempotency_key.as_deref(),
            prev_hash: &self.prev_hash,
        };
        sha256_hex(&serde_json::to_vec(&c).expect("plain data serialises"))
    }
}

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state, from_phase, to_phase, comment, documents, workflow, workflow_version, idempotency_key, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id";

/// Binds an [`AuditRecord`] to [`INSERT_AUDIT`] and runs it on `$exec`; yields the new id.
macro_rules! insert_audit {
    ($exec:expr, $r:expr) => {{
        let r = $r;
        sqlx::query_scalar::<_, i64>($crate::store::audit::INSERT_AUDIT)
            .bind(&r.task_id)
            .bind(r.seq)
            .bind(&r.kind)
            .bind(r.at)
            .bind(&r.actor_user)
            .bind(&r.actor_role)
            .bind(&r.transition)
            .bind(&r.from_state)
            .bind(&r.to_state)
            .bind(&r.from_phase)
            .bind(&r.to_phase)
            .bind(&r.comment)
            .bind(serde_json::to_string(&r.documents).expect("strings serialise"))
            .bind(&r.workflow)
            .bind(r.workflow_version)
            .bind(&r.idempotency_key)
            .bind(&r.prev_hash)
            .bind(&r.hash)
            .fetch_one($exec)
            .await
    }};
}
pub(crate) use insert_audit;

macro_rules! select_audit {
    () => {
        "SELECT id, task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state, from_phase, to_phase, comment, documents, workflow, workflow_version, idempotency_key, prev_hash, hash FROM audit_log"
    };
}

macro_rules! audit_from_row {
    ($r:expr) => {{
        let r = $r;
        let docs: String = r.try_get("documents")?;
        AuditRecord {
            id: r.try_get("id")?,
            task_id: r.try_get("task_id")?,
            seq: r.try_get("seq")?,
            kind: r.try_get("kind")?,
            at: r.try_get("at")?,
            actor_user: r.try_get("actor_user")?,
            actor_role: r.try_get("actor_role")?,
            transition: r.try_get("transition")?,
            from_state: r.try_get("from_state")?,
            to_state: r.try_get("to_state")?,
            from_phase: r.try_get("from_phase")?,
            to_phase: r.try_get("to_phase")?,
            comment: r.try_get("comment")?,
            // An unreadable list is itself tampering: keep the raw text so the hash fails.
            documents: serde_json::from_str(&docs).unwrap_or_else(|_| vec![docs.clone()]),
            workflow: r.try_get("workflow")?,
            workflow_version: r.try_get("workflow_version")?,
            idempotency_key: r.try_get("idempotency_key")?,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        }
    }};
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

impl Store {
    /// A task's audit entries, oldest first.
    pub async fn history(&self, task_id: &str) -> Result<Vec<AuditRecord>, StoreError> {
        self.task(task_id).await?;
        Ok(with_db!(self, |pool| {
            let rows = sqlx::query(concat!(select_audit!(), " WHERE task_id = $1 ORDER BY seq"))
                .bind(task_id)
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(audit_from_row!(r));
            }
            out
        }))
    }

    /// Recomputes every chain and every seal; names the first entry that does not check out.
    pub async fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        let entries: Vec<AuditRecord> = with_db!(self, |pool| {
            let rows = sqlx::query(concat!(select_audit!(), " ORDER BY task_id, seq"))
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(audit_from_row!(r));
            }
            out
        });
        let heads: Vec<(String, i64, String)> = with_db!(self, |pool| {
            let rows = sqlx::query("SELECT id, audit_seq, audit_head FROM tasks ORDER BY id")
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push((
                    r.try_get("id")?,
                    r.try_get("audit_seq")?,
                    r.try_get("audit_head")?,
                ));
            }
            out
        });
        let mut report = VerifyReport {
            tasks: heads.len(),
            entries: entries.len(),
            seals: 0,
            broken: None,
        };
        let broken_entry = |e: &AuditRecord, reason: String| Broken {
            task_id: Some(e.task_id.clone()),
            seq: Some(e.seq),
            audit_id: Some(e.id),
            seal_id: None,
            reason,
        };
        // Chains, task by task; remember each entry's hash for the seals.
        let mut by_task: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
        let mut hashes: BTreeMap<(&str, i64), &str> = BTreeMap::new();
        let mut first_broken: Option<Broken> = None;
        for e in &entries {
            let (prev_seq, prev_hash) = by_task.get(e.task_id.as_str()).copied().unwrap_or((0, ""));
            let problem = if e.seq != prev_seq + 1 {
                Some(format!(
                    "expected entry {} of the chain, found entry {}",
                    prev_seq + 1,
                    e.seq
                ))
            } else if e.prev_hash != prev_hash {
                Some("prev_hash does not match the previous entry's hash".to_string())
            } else if e.compute_hash() != e.hash {
                Some("the entry's content does not match its hash (it was changed after it was written)".to_string())
            } else {
                None
            };
            if let Some(reason) = problem
                && first_broken
                    .as_ref()
                    .is_none_or(|b| b.audit_id.unwrap_or(i64::MAX) > e.id)
            {
                first_broken = Some(broken_entry(e, reason));
            }
            by_task.insert(&e.task_id, (e.seq, &e.hash));
            hashes.insert((&e.task_id, e.seq), &e.hash);
        }
        for (task, seq, head) in &heads {
            let (last_seq, last_hash) = by_task.get(task.as_str()).copied().unwrap_or((0, ""));
            if (last_seq, last_hash) != (*seq, head.as_str()) && first_broken.is_none() {
                first_broken = Some(Broken {
                    task_id: Some(task.clone()),
                    seq: Some(last_seq),
                    audit_id: None,
                    seal_id: None,
                    reason: format!(
                        "the task's chain ends at entry {last_seq} but the task records entry {seq} as its head (entries were removed or the head was changed)"
                    ),
                });
            }
        }
        if first_broken.is_some() {
            report.broken = first_broken;
            return Ok(report);
        }
        // Seals: each commits to the heads listed with it, and chains to the seal before.
        let seals: Vec<(Seal, i64)> = with_db!(self, |pool| {
            let rows = sqlx::query("SELECT id, at, task_count, heads_digest, prev_hash, hash FROM audit_seals ORDER BY id")
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let s = Seal {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    task_count: r.try_get("task_count")?,
                    heads_digest: r.try_get("heads_digest")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                };
                let id = s.id;
                out.push((s, id));
            }
            out
        });
        report.seals = seals.len();
        let mut prev = String::new();
        for (s, id) in &seals {
            let listed: Vec<(String, i64, String)> = with_db!(self, |pool| {
                let rows = sqlx::query("SELECT task_id, seq, hash FROM audit_seal_heads WHERE seal_id = $1 ORDER BY task_id")
                    .bind(id)
                    .fetch_all(pool)
                    .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    out.push((r.try_get("task_id")?, r.try_get("seq")?, r.try_get("hash")?));
                }
                out
            });
            let bad = |reason: String| Broken {
                task_id: None,
                seq: None,
                audit_id: None,
                seal_id: Some(*id),
                reason,
            };
            if s.prev_hash != prev {
                report.broken = Some(bad("the seal does not chain to the previous seal".into()));
                return Ok(report);
            }
            if heads_digest(&listed) != s.heads_digest
                || seal_hash(s.at, s.task_count, &s.heads_digest, &s.prev_hash) != s.hash
                || usize::try_from(s.task_count).ok() != Some(listed.len())
            {
                report.broken = Some(bad("the seal's content does not match its hash".into()));
                return Ok(report);
            }
            for (task, seq, hash) in &listed {
                if hashes.get(&(task.as_str(), *seq)) != Some(&hash.as_str()) {
                    report.broken = Some(Broken {
                        task_id: Some(task.clone()),
                        seq: Some(*seq),
                        audit_id: None,
                        seal_id: Some(*id),
                        reason: "the sealed head no longer matches the task's entry".into(),
                    });
                    return Ok(report);
                }
            }
            prev = s.hash.clone();
        }
        Ok(report)
    }

    /// Writes a seal over the head of every task chain that grew since the last seal.
    pub async fn seal_audit(&self, now: Instant) -> Result<Seal, StoreError> {
        let now = micros(now);
        Ok(with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let prev: Option<String> =
                sqlx::query_scalar("SELECT hash FROM audit_seals ORDER BY id DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            let prev = prev.unwrap_or_default();
            let rows = sqlx::query(
                "SELECT t.id, t.audit_seq, t.audit_head FROM tasks t \
                 WHERE t.audit_seq > COALESCE((SELECT MAX(h.seq) FROM audit_seal_heads h WHERE h.task_id = t.id), 0) \
                 ORDER BY t.id",
            )
            .fetch_all(&mut *tx)
            .await?;
            let mut heads = Vec::with_capacity(rows.len());
            for r in &rows {
                heads.push((
                    r.try_get::<String, _>("id")?,
                    r.try_get::<i64, _>("audit_seq")?,
                    r.try_get::<String, _>("audit_head")?,
                ));
            }
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
