//! One audit entry: its record, its canonical hash, and the statement that appends it.

use engine::Phase;
use engine::Role;
use engine::decide::AuditEntry;
use engine::time::Instant;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::super::decode::RawJson;
use super::super::micros;
use super::super::sql::{Arg, Conn, Stmt};

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
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
    /// An unreadable list is itself tampering: its raw text is kept, so the hash fails.
    #[sqlx(try_from = "RawJson")]
    pub documents: Vec<String>,
    pub workflow: String,
    pub workflow_version: i64,
    pub idempotency_key: Option<String>,
    pub prev_hash: String,
    pub hash: String,
    /// The review the dossier was in and the round of the step entered ("lần 2"); `None` on
    /// entries written before rounds were kept and on imports.
    pub review: Option<i64>,
    pub round: Option<i64>,
    /// What the entry saw of the documents it concerns, as JSON text hashed with the entry:
    /// an upload's document (`{"document": {…, "sha256": …}}`) or the sha256 of each document
    /// a transition cites (`{"documents": [{"id": …, "sha256": …}]}`). `None` on entries
    /// without documents and on those written before documents were evidence.
    pub evidence: Option<String>,
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
    /// Hashed when present: entries written before rounds were kept hash as they always did.
    #[serde(skip_serializing_if = "Option::is_none")]
    review: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    round: Option<i64>,
    /// Hashed when present, as stored text.
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<&'a str>,
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub(super) fn canonical_instant(t: Instant) -> String {
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
            review: None,
            round: None,
            evidence: None,
        };
        r.hash = r.compute_hash();
        r
    }

    /// The same entry with the evidence of its documents ([`AuditRecord::evidence`]), hash
    /// and all.
    pub(crate) fn with_evidence(mut self, evidence: Option<String>) -> AuditRecord {
        self.evidence = evidence;
        self.hash = self.compute_hash();
        self
    }

    /// The same entry with the review and round of the step it enters, hash and all.
    pub(crate) fn with_round(mut self, round: engine::decide::Round) -> AuditRecord {
        self.review = Some(i64::from(round.review));
        self.round = Some(i64::from(round.round));
        self.hash = self.compute_hash();
        self
    }

    /// "lần 2" for an entry into a step's second round or later.
    pub fn round_label(&self) -> Option<String> {
        self.round
            .and_then(|r| u32::try_from(r).ok())
            .and_then(engine::decide::round_label)
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
            review: self.review,
            round: self.round,
            evidence: self.evidence.as_deref(),
        };
        sha256_hex(&serde_json::to_vec(&c).expect("plain data serialises"))
    }
}

/// The columns of an entry, in the order [`AuditRecord`] reads them.
pub(super) const SELECT_AUDIT: &str = "SELECT id, task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state, from_phase, to_phase, comment, documents, workflow, workflow_version, idempotency_key, prev_hash, hash, review, round, evidence FROM audit_log";

/// The audit log's columns an entry writes, in the order of [`audit_values`].
macro_rules! audit_columns {
    () => {
        "audit_log (task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state, \
         from_phase, to_phase, comment, documents, workflow, workflow_version, idempotency_key, \
         prev_hash, hash, review, round, evidence)"
    };
}
pub(crate) use audit_columns;

const INSERT_AUDIT: &str = concat!(
    "INSERT INTO ",
    audit_columns!(),
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) RETURNING id"
);

/// Appends an entry; returns its id.
pub(crate) async fn insert_audit(conn: &mut Conn<'_>, r: &AuditRecord) -> Result<i64, sqlx::Error> {
    let documents = documents_json(r);
    let s = insert_audit_stmt(r, &documents);
    conn.fetch_i64(&s.sql, &s.args).await
}

/// The entry's documents as the `documents` column holds them, for [`insert_audit_stmt`].
pub(crate) fn documents_json(r: &AuditRecord) -> String {
    serde_json::to_string(&r.documents).expect("strings serialise")
}

/// The statement that appends an entry and returns its id, to run with others
/// ([`Conn::run_all`]); `documents` is [`documents_json`] of the entry.
pub(crate) fn insert_audit_stmt<'a>(r: &'a AuditRecord, documents: &'a str) -> Stmt<'a> {
    Stmt::new(INSERT_AUDIT, audit_values(r, documents).to_vec()).returning_id()
}

/// An entry's values in the order of [`audit_columns!`]; `documents` is [`documents_json`] of
/// the entry. The import writes its new tasks' first entries with them ([`insert_audit_stmt`]
/// writes one at a time).
pub(crate) fn audit_values<'a>(r: &'a AuditRecord, documents: &'a str) -> [Arg<'a>; 21] {
    [
        Arg::Str(&r.task_id),
        Arg::Int(r.seq),
        Arg::Str(&r.kind),
        Arg::Time(r.at),
        Arg::Str(&r.actor_user),
        Arg::OptStr(r.actor_role.as_deref()),
        Arg::Str(&r.transition),
        Arg::OptStr(r.from_state.as_deref()),
        Arg::Str(&r.to_state),
        Arg::OptStr(r.from_phase.as_deref()),
        Arg::Str(&r.to_phase),
        Arg::OptStr(r.comment.as_deref()),
        Arg::Str(documents),
        Arg::Str(&r.workflow),
        Arg::Int(r.workflow_version),
        Arg::OptStr(r.idempotency_key.as_deref()),
        Arg::Str(&r.prev_hash),
        Arg::Str(&r.hash),
        Arg::OptInt(r.review),
        Arg::OptInt(r.round),
        Arg::OptStr(r.evidence.as_deref()),
    ]
}
