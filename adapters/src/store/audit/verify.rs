//! Verifying the audit log: every chain recomputed, every seal checked against the heads it
//! lists and the seal before it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::{StoreError, with_db};
use super::record::SELECT_AUDIT;
use super::{Audit, AuditRecord, Broken, Evidence, Seal, VerifyReport, heads_digest, seal_hash};
use crate::files::FileStore;

impl Audit<'_> {
    /// Recomputes every chain and every seal; names the first entry that does not check out.
    /// System door, for auditors and operators.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let entries: Vec<AuditRecord> = with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_AUDIT} ORDER BY task_id, seq"
            )))
            .fetch_all(pool)
            .await?
        });
        let heads: Vec<(String, i64, String)> = with_db!(self.store, |pool| {
            sqlx::query_as("SELECT id, audit_seq, audit_head FROM tasks ORDER BY id")
                .fetch_all(pool)
                .await?
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
        let seals: Vec<Seal> = with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT id, at, task_count, heads_digest, prev_hash, hash FROM audit_seals ORDER BY id",
            )
            .fetch_all(pool)
            .await?
        });
        report.seals = seals.len();
        let mut prev = String::new();
        for s in &seals {
            let id = &s.id;
            let listed: Vec<(String, i64, String)> = with_db!(self.store, |pool| {
                sqlx::query_as(
                    "SELECT task_id, seq, hash FROM audit_seal_heads WHERE seal_id = $1 ORDER BY task_id",
                )
                .bind(id)
                .fetch_all(pool)
                .await?
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
}

/// The documents' files, checked by [`Audit::verify_documents`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentsReport {
    /// Documents recorded.
    pub documents: usize,
    /// Document ids cited by audit entries.
    pub cited: usize,
    /// The first document that does not check out, and why.
    pub broken: Option<(String, String)>,
}

impl Audit<'_> {
    /// Checks the evidence behind the audit log: every document an audit entry cites is
    /// recorded, and every recorded document's file lies inside the document folder of `files`
    /// and still has its recorded sha256 and size. System door, for `tiendo audit verify`.
    #[tracing::instrument(skip_all)]
    pub async fn verify_documents(&self, files: &FileStore) -> Result<DocumentsReport, StoreError> {
        let docs: Vec<(String, String, i64, String)> = with_db!(self.store, |pool| {
            sqlx::query_as("SELECT id, sha256, size_bytes, stored_path FROM documents ORDER BY id")
                .fetch_all(pool)
                .await?
        });
        let cited: Vec<AuditRecord> = with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_AUDIT} WHERE documents <> '[]' ORDER BY id"
            )))
            .fetch_all(pool)
            .await?
        });
        let known: BTreeMap<&str, &str> =
            docs.iter().map(|d| (d.0.as_str(), d.1.as_str())).collect();
        let mut report = DocumentsReport {
            documents: docs.len(),
            cited: 0,
            broken: None,
        };
        let mut seen = std::collections::BTreeSet::new();
        for e in &cited {
            for id in &e.documents {
                seen.insert(id.clone());
                if !known.contains_key(id.as_str()) && report.broken.is_none() {
                    report.broken = Some((
                        id.clone(),
                        format!(
                            "cited by audit entry #{} (task {}) but not recorded (the document row was removed)",
                            e.id, e.task_id
                        ),
                    ));
                }
            }
            // The sha256 the entry vouches for (hashed into the chain) is the one recorded, and
            // so the file checked below is the one uploaded and cited.
            let evidence = e.evidence.as_deref().map(serde_json::from_str::<Evidence>);
            if let Some(Err(err)) = &evidence
                && report.broken.is_none()
            {
                report.broken = Some((
                    e.documents.first().cloned().unwrap_or_default(),
                    format!(
                        "audit entry #{} (task {}) has unreadable document evidence: {err}",
                        e.id, e.task_id
                    ),
                ));
            }
            if let Some(Ok(evidence)) = &evidence {
                for (id, sha) in evidence.hashes() {
                    if let Some(recorded) = known.get(id)
                        && *recorded != sha
                        && report.broken.is_none()
                    {
                        report.broken = Some((
                            id.to_string(),
                            format!(
                                "audit entry #{} (task {}) recorded sha256 {sha}, the document row now says {recorded} (the row was changed)",
                                e.id, e.task_id
                            ),
                        ));
                    }
                }
            }
        }
        report.cited = seen.len();
        if report.broken.is_some() {
            return Ok(report);
        }
        let files = files.clone();
        report.broken = tokio::task::spawn_blocking(move || {
            docs.into_iter().find_map(|(id, sha, size, path)| {
                let why = match files.get(std::path::Path::new(&path), &sha) {
                    Ok(bytes) if i64::try_from(bytes.len()).ok() != Some(size) => Some(format!(
                        "its file has {} bytes, {size} were recorded",
                        bytes.len()
                    )),
                    Ok(_) => None,
                    Err(e) => Some(match e.kind() {
                        std::io::ErrorKind::NotFound => format!("its file {path} is missing"),
                        std::io::ErrorKind::PermissionDenied => {
                            format!("its file {path} is outside the document folder")
                        }
                        std::io::ErrorKind::InvalidData => {
                            format!("its file {path} no longer has the recorded sha256 {sha}")
                        }
                        _ => format!("its file {path} cannot be read: {e}"),
                    }),
                };
                why.map(|w| (id, w))
            })
        })
        .await
        .map_err(|e| StoreError::internal(format!("document check failed: {e}")))?;
        Ok(report)
    }
}
