//! Importing a file again: which rows are new, which are unchanged, what changed in the others,
//! and what a changed row does to its task.
//!
//! A row finds its task by its key ([`super::names::task_key`]). An unchanged row (the common
//! case) is recognised by a [`Fingerprint`] of the values an import writes, computed alike from
//! the row and from the stored task, so a 100,000-task plan is not held in memory twice to be
//! compared; only the rows whose fingerprint differs are compared value by value
//! ([`ImportedValues::changes`]). A changed row updates its task and moves it only as
//! [`super::place::on_reimport`] allows; the update is audited as `import_update`. An unchanged
//! row writes nothing, so importing the same file twice leaves the database as it was.

use chrono::NaiveDate;

use super::entries::{Importer, update_entry};
use super::place::{Replacement, on_reimport};
use super::row::CatalogueRow;
use super::summary::TaskUpdate;
use crate::Phase;
use crate::decide::AuditEntry;
use crate::money::format_million_vnd;
use crate::time::Instant;
use crate::workflow::{Catalog, Workflow};

/// sha256 over the values an import writes onto a task.
pub type Fingerprint = [u8; 32];

/// The values an import writes onto a task (and compares on a re-import), borrowed from a
/// catalogue row or from the stored task. The budget is need total, approved estimate, need of
/// the plan's year, allocated in that year and the year's planned allocation, in đồng.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportedValues<'a> {
    pub name: &'a str,
    /// The unit as spelled on the row.
    pub unit_printed: Option<&'a str>,
    pub funding_source: &'a str,
    /// TT as printed.
    pub seq: Option<&'a str>,
    pub period: Option<&'a str>,
    pub progress_text: Option<&'a str>,
    pub expected_completion: Option<&'a str>,
    pub expected_completion_on: Option<NaiveDate>,
    /// The lifecycle stage the row gave.
    pub stage: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub is_rental: bool,
    pub budget: [Option<i64>; 5],
}

impl<'a> ImportedValues<'a> {
    /// What an import of `r` writes.
    pub fn of_row(r: &'a CatalogueRow) -> ImportedValues<'a> {
        ImportedValues {
            name: &r.name,
            unit_printed: Some(&r.unit),
            funding_source: r.funding_source.as_str(),
            seq: r.seq.as_deref(),
            period: r.period.as_deref(),
            progress_text: r.progress_text.as_deref(),
            expected_completion: r.expected_completion.as_deref(),
            expected_completion_on: r.expected_completion_on,
            stage: Some(r.stage.as_str()),
            notes: r.notes.as_deref(),
            is_rental: r.is_rental,
            budget: [
                r.need_total,
                r.approved_estimate,
                r.need_year,
                r.allocated_year,
                r.planned_allocation,
            ],
        }
    }

    /// sha256 over the values, each length-prefixed (a blank is not an empty text), in a fixed
    /// order.
    pub fn fingerprint(&self) -> Fingerprint {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for text in [
            Some(self.name),
            self.unit_printed,
            Some(self.funding_source),
            self.seq,
            self.period,
            self.progress_text,
            self.expected_completion,
            self.stage,
            self.notes,
        ] {
            match text {
                Some(t) => {
                    h.update([1u8]);
                    h.update((t.len() as u64).to_le_bytes());
                    h.update(t.as_bytes());
                }
                None => h.update([0u8]),
            }
        }
        let date = self
            .expected_completion_on
            .map(|d| i64::from(chrono::Datelike::num_days_from_ce(&d)));
        for v in [date, Some(i64::from(self.is_rental))]
            .into_iter()
            .chain(self.budget)
        {
            match v {
                Some(n) => {
                    h.update([1u8]);
                    h.update(n.to_le_bytes());
                }
                None => h.update([0u8]),
            }
        }
        h.finalize().into()
    }

    /// What differs from these values (as stored) to `new` (a row of a plan of `year`), in
    /// Vietnamese: one line per changed value, also the comment of the update's audit entry.
    pub fn changes(&self, new: &ImportedValues<'_>, year: i32) -> Vec<String> {
        let mut c = Vec::new();
        let mut text = |label: &str, old: Option<&str>, new: Option<&str>| {
            if old != new {
                c.push(format!("{label}: {} → {}", quote(old), quote(new)));
            }
        };
        text("tên nhiệm vụ", Some(self.name), Some(new.name));
        text("tên đơn vị như in", self.unit_printed, new.unit_printed);
        text(
            "nguồn kinh phí",
            Some(self.funding_source),
            Some(new.funding_source),
        );
        text("TT", self.seq, new.seq);
        text("thời gian thực hiện", self.period, new.period);
        text("tiến độ", self.progress_text, new.progress_text);
        text(
            "thời gian dự kiến hoàn thành",
            self.expected_completion,
            new.expected_completion,
        );
        text("giai đoạn", self.stage, new.stage);
        text("ghi chú", self.notes, new.notes);
        if self.is_rental != new.is_rental {
            c.push(format!(
                "thuê dịch vụ: {} → {}",
                self.is_rental, new.is_rental
            ));
        }
        // A date that moved without its text changing (a plausibility rule changed) is data too.
        if self.expected_completion == new.expected_completion
            && self.expected_completion_on != new.expected_completion_on
        {
            c.push("ngày dự kiến hoàn thành (cách đọc)".into());
        }
        let labels = [
            "nhu cầu kinh phí".to_string(),
            "dự toán được duyệt".to_string(),
            format!("nhu cầu kinh phí năm {year}"),
            format!("kinh phí năm {year} đã phân bổ"),
            format!("dự kiến phân bổ kinh phí năm {year}"),
        ];
        for ((label, old), new) in labels.iter().zip(self.budget).zip(new.budget) {
            if old != new {
                c.push(format!(
                    "{label}: {} → {} (triệu đồng)",
                    money(old),
                    money(new)
                ));
            }
        }
        c
    }
}

fn quote(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("«{s}»"),
        None => "(trống)".into(),
    }
}

fn money(v: Option<i64>) -> String {
    v.map(|d| format_million_vnd(d, 6))
        .unwrap_or_else(|| "(trống)".into())
}

/// How the rows of a file meet the tasks of earlier imports (`K`: the store's record of one).
#[derive(Debug)]
pub struct Matched<'r, 'k, K> {
    /// Rows without a task, with their place in the file.
    pub fresh: Vec<(usize, &'r CatalogueRow)>,
    /// Rows whose task's fingerprint differs: compare them with [`ImportedValues::changes`].
    pub changed: Vec<(&'k K, &'r CatalogueRow)>,
    /// Rows whose task holds exactly what they say.
    pub unchanged: usize,
}

/// Sorts `rows` into new, changed and unchanged; `known` finds the task an earlier import
/// created for a key, with its fingerprint.
pub fn match_rows<'r, 'k, K>(
    rows: &'r [CatalogueRow],
    known: impl Fn(&str) -> Option<(&'k K, &'k Fingerprint)>,
) -> Matched<'r, 'k, K> {
    let mut m = Matched {
        fresh: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for (i, r) in rows.iter().enumerate() {
        match known(&r.key) {
            None => m.fresh.push((i, r)),
            Some((_, fp)) if *fp == ImportedValues::of_row(r).fingerprint() => m.unchanged += 1,
            Some((k, _)) => m.changed.push((k, r)),
        }
    }
    m
}

/// What re-import knows of a task an earlier import created, as stored.
#[derive(Debug, Clone, Copy)]
pub struct OnRecord<'a> {
    pub id: &'a str,
    pub workflow: &'a str,
    pub workflow_version: i64,
    pub state: &'a str,
    pub phase: &'a str,
    /// The stage the last import gave.
    pub stage: Option<&'a str>,
}

/// What a changed row does to its task.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub to: Replacement,
    /// The `import_update` entry, for the store to chain.
    pub entry: AuditEntry,
    /// The line of the import summary.
    pub summary: TaskUpdate,
}

/// Why a changed row cannot update its task. `Display` is Vietnamese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// The task's workflow version is gone from the catalog, or its stored phase is unreadable:
    /// a fault of the installation, not of the file.
    #[error("{0}")]
    Installation(String),
    /// The row asks for a stage the task's workflow lacks: the file's to fix.
    #[error("{0}")]
    Row(String),
}

/// Decides what the changed row `r` does to `task`: where the task goes and the audit entry
/// saying what changed. Refused (in Vietnamese) when the task's workflow version is no longer
/// in the catalog, its stored phase is unknown, or it must move to a stage its workflow lacks.
/// The first two are faults of the installation, the last the file's to fix ([`UpdateError`]).
pub fn decide_update(
    catalog: &Catalog,
    task: OnRecord<'_>,
    r: &CatalogueRow,
    changes: Vec<String>,
    importer: &Importer,
    now: Instant,
) -> Result<Update, UpdateError> {
    let version = u32::try_from(task.workflow_version).unwrap_or_default();
    let wf: &Workflow = catalog
        .get(task.workflow, version)
        .map(|w| w.as_ref())
        .ok_or_else(|| {
            UpdateError::Installation(format!(
                "Nhiệm vụ `{}` chạy trên quy trình `{}` phiên bản {}, nhưng phiên bản này không còn trong thư mục quy trình.",
                task.id, task.workflow, task.workflow_version
            ))
        })?;
    let phase: Phase = task
        .phase
        .parse()
        .map_err(|e: crate::phase::UnknownPhase| UpdateError::Installation(e.to_string()))?;
    let to = on_reimport(wf, task.state, phase, task.stage, r.stage).ok_or_else(|| {
        UpdateError::Row(format!(
            "Dòng {}: quy trình `{}` của nhiệm vụ không có bước nào thuộc giai đoạn {}.",
            r.line,
            wf.name,
            r.stage.as_str()
        ))
    })?;
    let entry = update_entry(wf, (task.state, phase), &to, &changes, importer, now);
    let summary = TaskUpdate {
        task_id: task.id.to_string(),
        line: r.line,
        name: r.name.clone(),
        changes,
        note: to.note.clone(),
    };
    Ok(Update { to, entry, summary })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> ImportedValues<'static> {
        ImportedValues {
            name: "Mua máy chủ",
            unit_printed: Some("Sở Y tế"),
            funding_source: "thuong_xuyen",
            seq: Some("1"),
            period: Some("2025"),
            progress_text: None,
            expected_completion: Some("31/12/2025"),
            expected_completion_on: NaiveDate::from_ymd_opt(2025, 12, 31),
            stage: Some("proposed"),
            notes: None,
            is_rental: false,
            budget: [Some(1_000_000_000), None, Some(500_000_000), None, None],
        }
    }

    #[test]
    fn a_fingerprint_tells_a_blank_from_an_empty_text() {
        let a = values();
        let b = ImportedValues {
            notes: Some(""),
            ..a
        };
        assert_eq!(a.fingerprint(), values().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        // Moving text between neighbouring fields changes the fingerprint too.
        let c = ImportedValues {
            seq: Some("12"),
            period: Some("025"),
            ..a
        };
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn changes_are_listed_in_vietnamese() {
        let old = values();
        let new = ImportedValues {
            stage: Some("contract"),
            budget: [Some(1_000_000_000), None, Some(750_500_000), None, None],
            expected_completion_on: None,
            ..old
        };
        assert_eq!(
            old.changes(&new, 2025),
            vec![
                "giai đoạn: «proposed» → «contract»".to_string(),
                "ngày dự kiến hoàn thành (cách đọc)".to_string(),
                "nhu cầu kinh phí năm 2025: 500 → 750,5 (triệu đồng)".to_string(),
            ]
        );
        assert!(old.changes(&old, 2025).is_empty());
    }
}
