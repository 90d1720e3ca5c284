//! Reporting rounds (đợt báo cáo, issue 16): one aggregate, [`Rounds`].
//!
//! SKHCN opens a round for a plan ([`Rounds::open_as`]); each unit enters, per task of its own,
//! its progress, difficulties and proposals ([`Rounds::save_entry_as`]) until the unit's head
//! submits them ([`Rounds::submit_as`]); SKHCN may reopen a unit's submission
//! ([`Rounds::reopen_as`]), write the report's sections ([`Rounds::set_draft_as`]) and its number
//! and signer ([`Rounds::sign_as`]). The official report reads [`Rounds::report`] and records
//! what it exported with [`Rounds::record_export`].
//!
//! Audit: every saved entry, submission and reopening is an entry in the task's hash chain
//! (kind `round`: transitions `round_entry`, `round_submit`, `round_reopen`, the texts in the
//! comment). What concerns the round as a whole (opened, draft, number and signer, submitted,
//! reopened, exported, reminded) is appended to `round_events`, which refuses UPDATE and
//! DELETE.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use engine::access;
use engine::decide::Actor;
use engine::domain::UnitId;
use engine::round::{
    Difficulty, DraftSection, Entry, MAX_LINE, MAX_TEXT, Proposal, RoundReport, RoundSpec, Signer,
};
use engine::time::Instant;
use serde::Serialize;

use super::plans::{NoteEntry, append_note};
use super::sql::{Arg, Conn};
use super::{Plan, Store, StoreError, duplicate_or, micros, new_id, with_db};

/// Reporting rounds: see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Rounds<'a> {
    store: &'a Store,
}

impl Store {
    /// Reporting rounds of the plans: see [`Rounds`].
    pub fn rounds(&self) -> Rounds<'_> {
        Rounds { store: self }
    }
}

/// A round as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundRecord {
    pub id: String,
    pub plan_id: String,
    pub plan_number: String,
    pub spec: RoundSpec,
    pub doc_number: Option<String>,
    pub signer: Option<Signer>,
    pub opened_by: String,
    pub opened_at: Instant,
}

#[derive(sqlx::FromRow)]
struct RoundRow {
    id: String,
    plan_id: String,
    plan_number: String,
    number: i64,
    cut_off: NaiveDate,
    instruction: String,
    units_due: NaiveDate,
    doc_number: Option<String>,
    signer: Option<String>,
    opened_by: String,
    opened_at: Instant,
}

impl RoundRow {
    fn record(self) -> Result<RoundRecord, StoreError> {
        let signer = match &self.signer {
            Some(s) => Some(
                serde_json::from_str(s)
                    .map_err(|e| StoreError::internal(format!("round {}: signer: {e}", self.id)))?,
            ),
            None => None,
        };
        Ok(RoundRecord {
            spec: RoundSpec {
                number: u32::try_from(self.number).unwrap_or_default(),
                cut_off: self.cut_off,
                instruction: self.instruction,
                units_due: self.units_due,
            },
            id: self.id,
            plan_id: self.plan_id,
            plan_number: self.plan_number,
            doc_number: self.doc_number,
            signer,
            opened_by: self.opened_by,
            opened_at: self.opened_at,
        })
    }
}

/// What a unit entered for one task in a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryRecord {
    pub task_id: String,
    pub task_name: String,
    pub unit_id: String,
    pub progress: String,
    pub difficulties: Vec<Difficulty>,
    pub proposals: Vec<Proposal>,
    pub updated_by: String,
    pub updated_at: Instant,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    task_id: String,
    task_name: String,
    unit_id: String,
    progress: String,
    difficulties: String,
    proposals: String,
    updated_by: String,
    updated_at: Instant,
}

impl EntryRow {
    fn record(self) -> Result<EntryRecord, StoreError> {
        let bad = |what: &str, e: serde_json::Error| {
            StoreError::internal(format!("round entry of task {}: {what}: {e}", self.task_id))
        };
        Ok(EntryRecord {
            difficulties: serde_json::from_str(&self.difficulties)
                .map_err(|e| bad("difficulties", e))?,
            proposals: serde_json::from_str(&self.proposals).map_err(|e| bad("proposals", e))?,
            task_id: self.task_id,
            task_name: self.task_name,
            unit_id: self.unit_id,
            progress: self.progress,
            updated_by: self.updated_by,
            updated_at: self.updated_at,
        })
    }

    fn entry(self) -> Result<Entry, StoreError> {
        let r = self.record()?;
        Ok(Entry {
            unit: UnitId::parse(&r.unit_id).map_err(StoreError::internal)?,
            task_id: r.task_id,
            progress: r.progress,
            difficulties: r.difficulties,
            proposals: r.proposals,
        })
    }
}

/// What a unit's user hands down for one task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewEntry {
    pub task_id: String,
    pub progress: String,
    pub difficulties: Vec<Difficulty>,
    pub proposals: Vec<Proposal>,
}

/// A unit's submission of its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Submission {
    pub unit_id: String,
    pub submitted_by: String,
    pub submitted_at: Instant,
}

/// A unit that owns tasks in the round's plan, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundUnit {
    pub unit_id: String,
    pub unit_name: String,
    /// Its tasks listed in the plan.
    pub tasks: u32,
    /// How many of them have an entry in this round.
    pub entered: u32,
    pub submitted: Option<Submission>,
    /// Not submitted and the round's due date for units has passed.
    pub late: bool,
}

/// One task of the plan a unit reports on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RoundTask {
    pub task_id: String,
    pub task_name: String,
    pub unit_id: String,
}

/// An event of the round (`round_events`), append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RoundEvent {
    pub id: i64,
    /// `open`, `draft`, `sign`, `submit`, `reopen`, `export`, `remind`.
    pub kind: String,
    pub unit_id: Option<String>,
    pub actor_user: String,
    pub at: Instant,
    pub detail: Option<String>,
    pub format: Option<String>,
    pub sha256: Option<String>,
}

/// A round as a reader sees it: the units' states, the entries they may read, SKHCN's drafts and
/// the round's events; with `compared`, the same units' entries in another round of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundView {
    pub round: RoundRecord,
    pub units: Vec<RoundUnit>,
    /// The tasks the reader may report on or read, with their entry if any (plan order).
    pub tasks: Vec<RoundTask>,
    pub entries: Vec<EntryRecord>,
    /// Keyed by section code (`can_cu`, `tinh_hinh`, `kho_khan`, `de_xuat`, `noi_nhan`).
    pub drafts: BTreeMap<String, String>,
    pub events: Vec<RoundEvent>,
    pub compared: Option<Compared>,
}

/// The entries of another round, for comparing ("lần 2" beside "lần 1").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compared {
    pub number: u32,
    pub entries: Vec<EntryRecord>,
}

impl RoundView {
    /// The entry of a task in this round.
    pub fn entry(&self, task_id: &str) -> Option<&EntryRecord> {
        self.entries.iter().find(|e| e.task_id == task_id)
    }

    /// The unit's state.
    pub fn unit(&self, unit_id: &str) -> Option<&RoundUnit> {
        self.units.iter().find(|u| u.unit_id == unit_id)
    }
}

const SELECT_ROUND: &str = "SELECT r.id, r.plan_id, p.number AS plan_number, r.number, r.cut_off, r.instruction, r.units_due, \
    r.doc_number, r.signer, r.opened_by, r.opened_at FROM report_rounds r JOIN plans p ON p.id = r.plan_id";

const SELECT_ENTRY: &str = "SELECT e.task_id, t.name AS task_name, e.unit_id, e.progress, e.difficulties, e.proposals, \
    e.updated_by, e.updated_at FROM round_entries e JOIN tasks t ON t.id = e.task_id";

fn clean(field: &str, value: &str, max: usize, multiline: bool) -> Result<String, StoreError> {
    engine::input::clean_text(value, max, multiline)
        .map_err(|e| StoreError::Invalid(e.describe(field)))
}

fn clean_opt(
    field: &str,
    value: Option<&str>,
    max: usize,
    multiline: bool,
) -> Result<Option<String>, StoreError> {
    engine::input::clean_optional(value, max, multiline)
        .map_err(|e| StoreError::Invalid(e.describe(field)))
}

/// dd/mm/yyyy.
fn vn_date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The text an entry's audit note carries: everything the unit entered, so the chain covers it.
fn entry_text(round: &RoundRecord, e: &NewEntry) -> String {
    let mut text = format!(
        "Báo cáo đợt {} kế hoạch {} (số liệu đến {}). Tình hình thực hiện: {}",
        round.spec.ordinal(),
        round.plan_number,
        vn_date(round.spec.cut_off),
        e.progress
    );
    for d in &e.difficulties {
        text.push_str(&format!("\nKhó khăn ({}): {}", d.kind.label(), d.text));
    }
    for p in &e.proposals {
        text.push_str(&format!("\nĐề xuất: {}", p.text));
        if let Some(l) = &p.letter {
            text.push_str(&format!(" ({l})"));
        }
    }
    text
}

impl<'a> Rounds<'a> {
    async fn plan(&self, plan: &str) -> Result<Plan, StoreError> {
        self.store.directory().plan(plan).await
    }

    /// The round `number` of `plan` (number or id). Acts for nobody.
    pub async fn round(&self, plan: &str, number: u32) -> Result<RoundRecord, StoreError> {
        let p = self.plan(plan).await?;
        let row: Option<RoundRow> = with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_ROUND} WHERE r.plan_id = $1 AND r.number = $2"
            )))
            .bind(&p.id)
            .bind(i64::from(number))
            .fetch_optional(pool)
            .await?
        });
        row.ok_or_else(|| {
            StoreError::not_found(
                "đợt báo cáo",
                format!("lần {number} của kế hoạch {}", p.number),
            )
        })?
        .record()
    }

    /// Every round of a plan, in number order. Acts for nobody.
    pub async fn rounds(&self, plan: &str) -> Result<Vec<RoundRecord>, StoreError> {
        let p = self.plan(plan).await?;
        let rows: Vec<RoundRow> = with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_ROUND} WHERE r.plan_id = $1 ORDER BY r.number"
            )))
            .bind(&p.id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(RoundRow::record).collect()
    }

    /// SKHCN opens round `spec.number` of a plan (`engine::access::may_open_round`); recorded in
    /// `round_events` (`open`). A second round with the same number is a duplicate.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %plan, round = spec.number))]
    pub async fn open_as(
        &self,
        actor: &Actor,
        plan: &str,
        spec: &RoundSpec,
        now: Instant,
    ) -> Result<RoundRecord, StoreError> {
        access::may_open_round(actor)?;
        let spec = RoundSpec {
            instruction: clean(
                "văn bản chỉ đạo (instruction)",
                &spec.instruction,
                MAX_LINE,
                false,
            )?,
            ..spec.clone()
        };
        spec.check()
            .map_err(|m| StoreError::Invalid(capitalise(&m)))?;
        if spec.units_due > spec.cut_off + chrono::Days::new(366) {
            return Err(StoreError::Invalid(
                "Hạn gửi của đơn vị cách ngày chốt số liệu quá một năm: kiểm tra lại ngày.".into(),
            ));
        }
        let p = self.plan(plan).await?;
        let now = micros(now);
        let id = new_id();
        let result: Result<(), StoreError> = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            conn.execute(
                "INSERT INTO report_rounds (id, plan_id, number, cut_off, instruction, units_due, opened_by, opened_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    Arg::Str(&id),
                    Arg::Str(&p.id),
                    Arg::Int(i64::from(spec.number)),
                    Arg::Date(spec.cut_off),
                    Arg::Str(&spec.instruction),
                    Arg::Date(spec.units_due),
                    Arg::Str(&actor.user),
                    Arg::Time(now),
                ],
            )
            .await
            .map_err(|e| {
                duplicate_or(e, || {
                    format!("Đợt báo cáo {} của kế hoạch {}", spec.ordinal(), p.number)
                })
            })?;
            event(
                &mut conn,
                &id,
                "open",
                None,
                &actor.user,
                Some(&format!(
                    "Mở đợt báo cáo {}: số liệu đến {}, đơn vị gửi trước {}; {}",
                    spec.ordinal(),
                    vn_date(spec.cut_off),
                    vn_date(spec.units_due),
                    spec.instruction
                )),
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        });
        result?;
        self.round(&p.id, spec.number).await
    }

    /// The rounds of a plan, for whoever reads plan reports (`engine::access::round_scope`).
    pub async fn list_as(&self, actor: &Actor, plan: &str) -> Result<Vec<RoundRecord>, StoreError> {
        access::round_scope(actor)?;
        self.rounds(plan).await
    }

    /// The tasks listed in the plan, with their unit (of the units in `scope` when given).
    async fn plan_tasks(
        &self,
        plan_id: &str,
        scope: Option<&[String]>,
    ) -> Result<Vec<RoundTask>, StoreError> {
        let rows: Vec<RoundTask> = with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT t.id AS task_id, t.name AS task_name, t.unit_id FROM plan_listings l JOIN tasks t ON t.id = l.task_id \
                 WHERE l.plan_id = $1 ORDER BY t.unit_id, l.position IS NULL, l.position, t.name, t.id",
            )
            .bind(plan_id)
            .fetch_all(pool)
            .await?
        });
        Ok(match scope {
            Some(units) => rows
                .into_iter()
                .filter(|t| units.contains(&t.unit_id))
                .collect(),
            None => rows,
        })
    }

    async fn entries_of(&self, round_id: &str) -> Result<Vec<EntryRow>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_ENTRY} WHERE e.round_id = $1 ORDER BY e.unit_id, t.name, e.task_id"
            )))
            .bind(round_id)
            .fetch_all(pool)
            .await?
        }))
    }

    async fn submissions(&self, round_id: &str) -> Result<Vec<Submission>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT unit_id, submitted_by, submitted_at FROM round_submissions \
                 WHERE round_id = $1 AND reopened_at IS NULL ORDER BY unit_id",
            )
            .bind(round_id)
            .fetch_all(pool)
            .await?
        }))
    }

    async fn submitted(&self, round_id: &str, unit: &str) -> Result<bool, StoreError> {
        Ok(self
            .submissions(round_id)
            .await?
            .iter()
            .any(|s| s.unit_id == unit))
    }

    /// The units owning tasks in the round's plan and where each stands, as of `today`.
    async fn units(
        &self,
        round: &RoundRecord,
        tasks: &[RoundTask],
        entries: &[EntryRecord],
        today: NaiveDate,
    ) -> Result<Vec<RoundUnit>, StoreError> {
        let names: HashMap<String, String> = self
            .store
            .directory()
            .units()
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        let subs = self.submissions(&round.id).await?;
        let mut out: Vec<RoundUnit> = Vec::new();
        for t in tasks {
            match out.iter_mut().find(|u| u.unit_id == t.unit_id) {
                Some(u) => u.tasks += 1,
                None => out.push(RoundUnit {
                    unit_id: t.unit_id.clone(),
                    unit_name: names
                        .get(&t.unit_id)
                        .cloned()
                        .unwrap_or_else(|| t.unit_id.clone()),
                    tasks: 1,
                    entered: 0,
                    submitted: subs.iter().find(|s| s.unit_id == t.unit_id).cloned(),
                    late: false,
                }),
            }
        }
        for u in &mut out {
            u.entered = u32::try_from(
                entries
                    .iter()
                    .filter(|e| {
                        e.unit_id == u.unit_id && tasks.iter().any(|t| t.task_id == e.task_id)
                    })
                    .count(),
            )
            .unwrap_or(u32::MAX);
            u.late = u.submitted.is_none() && today > round.spec.units_due;
        }
        out.sort_by(|a, b| a.unit_id.cmp(&b.unit_id));
        Ok(out)
    }

    async fn drafts(&self, round_id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = with_db!(self.store, |pool| {
            sqlx::query_as("SELECT section, body FROM round_drafts WHERE round_id = $1")
                .bind(round_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// The round's events, oldest first. Acts for nobody.
    pub async fn events(&self, round_id: &str) -> Result<Vec<RoundEvent>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT id, kind, unit_id, actor_user, at, detail, format, sha256 FROM round_events \
                 WHERE round_id = $1 ORDER BY id",
            )
            .bind(round_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// A round as `actor` may read it (`engine::access::round_scope`: the whole city for SKHCN,
    /// UBND and the departments' leadership, their own units for a unit's users), with the units'
    /// states as of `today`; with `compare`, the same tasks' entries in round `compare`.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %plan, round = number))]
    pub async fn show_as(
        &self,
        actor: &Actor,
        plan: &str,
        number: u32,
        compare: Option<u32>,
        today: NaiveDate,
    ) -> Result<RoundView, StoreError> {
        let scope = access::round_scope(actor)?;
        let round = self.round(plan, number).await?;
        let tasks = self.plan_tasks(&round.plan_id, scope.as_deref()).await?;
        let visible = |e: &EntryRecord| tasks.iter().any(|t| t.task_id == e.task_id);
        let entries: Vec<EntryRecord> = self
            .entries_of(&round.id)
            .await?
            .into_iter()
            .map(EntryRow::record)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(visible)
            .collect();
        let units = self.units(&round, &tasks, &entries, today).await?;
        let compared = match compare {
            Some(n) => {
                let other = self.round(&round.plan_id, n).await?;
                let entries = self
                    .entries_of(&other.id)
                    .await?
                    .into_iter()
                    .map(EntryRow::record)
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .filter(visible)
                    .collect();
                Some(Compared { number: n, entries })
            }
            None => None,
        };
        let all = scope.is_none();
        Ok(RoundView {
            drafts: if all {
                self.drafts(&round.id).await?
            } else {
                BTreeMap::new()
            },
            events: if all {
                self.events(&round.id).await?
            } else {
                Vec::new()
            },
            round,
            units,
            tasks,
            entries,
            compared,
        })
    }

    /// A unit's user enters (or rewrites) the unit's progress, difficulties and proposals for one
    /// of its tasks in the round (`engine::access::may_enter_round`; the task must be listed in
    /// the round's plan); refused once the unit has submitted. Audited in the task's chain
    /// (`round` / `round_entry`, the texts in the comment).
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %plan, round = number, task = %new.task_id))]
    pub async fn save_entry_as(
        &self,
        actor: &Actor,
        plan: &str,
        number: u32,
        new: &NewEntry,
        now: Instant,
    ) -> Result<EntryRecord, StoreError> {
        let round = self.round(plan, number).await?;
        let task = self.store.tasks().visible_task(actor, &new.task_id).await?;
        let facts = access::TaskFacts {
            unit: &task.unit_id,
            turn: &[],
            acted_in: &[],
        };
        let role = access::may_enter_round(actor, &facts)?;
        let listed = self
            .plan_tasks(&round.plan_id, Some(std::slice::from_ref(&task.unit_id)))
            .await?
            .iter()
            .any(|t| t.task_id == task.id);
        if !listed {
            return Err(StoreError::Invalid(format!(
                "Nhiệm vụ `{}` không thuộc kế hoạch {}: đợt báo cáo chỉ nhận báo cáo của các nhiệm vụ trong kế hoạch.",
                task.id, round.plan_number
            )));
        }
        let new = NewEntry {
            task_id: task.id.clone(),
            progress: clean(
                "tình hình thực hiện (progress)",
                &new.progress,
                MAX_TEXT,
                true,
            )?,
            difficulties: new
                .difficulties
                .iter()
                .map(|d| {
                    Ok(Difficulty {
                        kind: d.kind,
                        text: clean("khó khăn", &d.text, MAX_TEXT, true)?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            proposals: new
                .proposals
                .iter()
                .map(|p| {
                    Ok(Proposal {
                        text: clean("đề xuất", &p.text, MAX_TEXT, true)?,
                        letter: clean_opt(
                            "số văn bản của đề xuất",
                            p.letter.as_deref(),
                            MAX_LINE,
                            false,
                        )?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
        };
        let unit = UnitId::parse(&task.unit_id).map_err(StoreError::internal)?;
        Entry {
            task_id: new.task_id.clone(),
            unit,
            progress: new.progress.clone(),
            difficulties: new.difficulties.clone(),
            proposals: new.proposals.clone(),
        }
        .check()
        .map_err(|m| StoreError::Invalid(capitalise(&m)))?;
        let now = micros(now);
        let difficulties = serde_json::to_string(&new.difficulties).expect("plain data");
        let proposals = serde_json::to_string(&new.proposals).expect("plain data");
        let note = entry_text(&round, &new);
        let written: bool = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            // Refused after the unit submitted: checked inside the transaction that writes.
            let open = conn
                .fetch_i64(
                    "SELECT COUNT(*) FROM round_submissions WHERE round_id = $1 AND unit_id = $2 AND reopened_at IS NULL",
                    &[Arg::Str(&round.id), Arg::Str(&task.unit_id)],
                )
                .await?
                == 0;
            if open {
                let n = conn
                    .execute(
                        "UPDATE round_entries SET progress = $1, difficulties = $2, proposals = $3, updated_by = $4, updated_at = $5 \
                         WHERE round_id = $6 AND task_id = $7",
                        &[
                            Arg::Str(&new.progress),
                            Arg::Str(&difficulties),
                            Arg::Str(&proposals),
                            Arg::Str(&actor.user),
                            Arg::Time(now),
                            Arg::Str(&round.id),
                            Arg::Str(&task.id),
                        ],
                    )
                    .await?;
                if n == 0 {
                    conn.execute(
                        "INSERT INTO round_entries (round_id, task_id, unit_id, progress, difficulties, proposals, updated_by, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        &[
                            Arg::Str(&round.id),
                            Arg::Str(&task.id),
                            Arg::Str(&task.unit_id),
                            Arg::Str(&new.progress),
                            Arg::Str(&difficulties),
                            Arg::Str(&proposals),
                            Arg::Str(&actor.user),
                            Arg::Time(now),
                        ],
                    )
                    .await?;
                }
                append_note(
                    &mut conn,
                    &task.id,
                    NoteEntry::new("round", "round_entry", note, &actor.user, Some(role)),
                    now,
                )
                .await?;
                tx.commit().await?;
            }
            open
        });
        if !written {
            return Err(StoreError::Invalid(format!(
                "Đơn vị đã gửi báo cáo đợt {} nên không sửa được nữa; cần Sở Khoa học và Công nghệ mở lại nếu phải sửa.",
                round.spec.ordinal()
            )));
        }
        Ok(EntryRecord {
            task_id: task.id,
            task_name: task.name,
            unit_id: task.unit_id,
            progress: new.progress,
            difficulties: new.difficulties,
            proposals: new.proposals,
            updated_by: actor.user.clone(),
            updated_at: now,
        })
    }

    /// The unit's head submits the unit's entries for the round (`may_submit_round`): from then
    /// on they are read-only for the unit. Refused when already submitted or when none of the
    /// unit's tasks has an entry. Audited in each entered task's chain (`round_submit`) and in
    /// `round_events`.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %plan, round = number, unit = %unit))]
    pub async fn submit_as(
        &self,
        actor: &Actor,
        plan: &str,
        number: u32,
        unit: &str,
        now: Instant,
    ) -> Result<Submission, StoreError> {
        let role = access::may_submit_round(actor, unit)?;
        let round = self.round(plan, number).await?;
        let tasks = self
            .plan_tasks(&round.plan_id, Some(&[unit.to_string()]))
            .await?;
        let entered: Vec<String> = self
            .entries_of(&round.id)
            .await?
            .into_iter()
            .filter(|e| tasks.iter().any(|t| t.task_id == e.task_id))
            .map(|e| e.task_id)
            .collect();
        if entered.is_empty() {
            return Err(StoreError::Invalid(format!(
                "Đơn vị `{unit}` chưa nhập báo cáo cho nhiệm vụ nào trong đợt {}: nhập trước rồi mới gửi.",
                round.spec.ordinal()
            )));
        }
        let missing = tasks.len() - entered.len();
        let now = micros(now);
        let id = new_id();
        let detail = if missing == 0 {
            format!("Gửi báo cáo của {} nhiệm vụ.", entered.len())
        } else {
            format!(
                "Gửi báo cáo của {} nhiệm vụ; {missing} nhiệm vụ không có báo cáo.",
                entered.len()
            )
        };
        let result: Result<(), StoreError> = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            conn.execute(
                "INSERT INTO round_submissions (id, round_id, unit_id, submitted_by, submitted_at) VALUES ($1, $2, $3, $4, $5)",
                &[
                    Arg::Str(&id),
                    Arg::Str(&round.id),
                    Arg::Str(unit),
                    Arg::Str(&actor.user),
                    Arg::Time(now),
                ],
            )
            .await
            .map_err(|e| {
                if super::is_unique_violation(&e) {
                    StoreError::Invalid(format!(
                        "Đơn vị `{unit}` đã gửi báo cáo đợt {} rồi.",
                        round.spec.ordinal()
                    ))
                } else {
                    e.into()
                }
            })?;
            for task in &entered {
                append_note(
                    &mut conn,
                    task,
                    NoteEntry::new(
                        "round",
                        "round_submit",
                        format!(
                            "Thủ trưởng đơn vị gửi báo cáo đợt {} kế hoạch {}.",
                            round.spec.ordinal(),
                            round.plan_number
                        ),
                        &actor.user,
                        Some(role),
                    ),
                    now,
                )
                .await?;
            }
            event(
                &mut conn,
                &round.id,
                "submit",
                Some(unit),
                &actor.user,
                Some(&detail),
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        });
        result?;
        Ok(Submission {
            unit_id: unit.to_string(),
            submitted_by: actor.user.clone(),
            submitted_at: now,
        })
    }

    /// SKHCN reopens a unit's submission (`may_open_round`): the unit may edit its entries again
    /// and submits anew. Audited in each entered task's chain (`round_reopen`) and in
    /// `round_events`, with the reason.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %plan, round = number, unit = %unit))]
    pub async fn reopen_as(
        &self,
        actor: &Actor,
        plan: &str,
        number: u32,
        unit: &str,
        reason: Option<&str>,
        now: Instant,
    ) -> Result<(), StoreError> {
        let role = access::may_open_round(actor)?;
        let round = self.round(plan, number).await?;
        let reason = clean_opt("lý do (reason)", reason, MAX_LINE, true)?;
        if !self.submitted(&round.id, unit).await? {
            return Err(StoreError::Invalid(format!(
                "Đơn vị `{unit}` chưa gửi báo cáo đợt {}: không có gì để mở lại.",
                round.spec.ordinal()
            )));
        }
        let entered: Vec<String> = self
            .entries_of(&round.id)
            .await?
            .into_iter()
            .filter(|e| e.unit_id == unit)
            .map(|e| e.task_id)
            .collect();
        let now = micros(now);
        let comment = match &reason {
            Some(r) => format!(
                "Sở Khoa học và Công nghệ mở lại báo cáo đợt {} kế hoạch {} cho đơn vị sửa: {r}",
                round.spec.ordinal(),
                round.plan_number
            ),
            None => format!(
                "Sở Khoa học và Công nghệ mở lại báo cáo đợt {} kế hoạch {} cho đơn vị sửa.",
                round.spec.ordinal(),
                round.plan_number
            ),
        };
        let reopened: bool = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            let n = conn
                .execute(
                    "UPDATE round_submissions SET reopened_by = $1, reopened_at = $2, reopen_reason = $3 \
                     WHERE round_id = $4 AND unit_id = $5 AND reopened_at IS NULL",
                    &[
                        Arg::Str(&actor.user),
                        Arg::Time(now),
                        Arg::OptStr(reason.as_deref()),
                        Arg::Str(&round.id),
                        Arg::Str(unit),
                    ],
                )
                .await?;
            if n == 1 {
                for task in &entered {
                    append_note(
                        &mut conn,
                        task,
                        NoteEntry::new(
                            "round",
                            "round_reopen",
                            comment.clone(),
                            &actor.user,
                            Some(role),
                        ),
                        now,
                    )
                    .await?;
                }
                event(
                    &mut conn,
                    &round.id,
                    "reopen",
                    Some(unit),
                    &actor.user,
                    Some(&comment),
                    now,
                )
                .await?;
                tx.commit().await?;
            }
            n == 1
        });
        if !reopened {
            return Err(StoreError::Invalid(format!(
                "Đơn vị `{unit}` chưa gửi báo cáo đợt {}: không có gì để mở lại.",
                round.spec.ordinal()
            )));
        }
        Ok(())
    }

    /// SKHCN writes (or, with `None` or blank text, removes) its text for a section of the
    /// official report (`may_open_round`); recorded in `round_events` (`draft`, the text in the
    /// detail).
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %plan, round = number, section = section.code()))]
    pub async fn set_draft_as(
        &self,
        actor: &Actor,
        plan: &str,
        number: u32,
        section: DraftSection,
        text: Option<&str>,
        now: Instant,
    ) -> Result<(), StoreError> {
        access::may_open_round(actor)?;
        let round = self.round(plan, number).await?;
        let body = clean_opt("nội dung mục", text, 4 * MAX_TEXT, true)?;
        let now = micros(now);
        let result: Result<(), StoreError> = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            conn.execute(
                "DELETE FROM round_drafts WHERE round_id = $1 AND section = $2",
                &[Arg::Str(&round.id), Arg::Str(section.code())],
            )
            .await?;
            if let Some(b) = &body {
                conn.execute(
                    "INSERT INTO round_drafts (round_id, section, body, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        Arg::Str(&round.id),
                        Arg::Str(section.code()),
                        Arg::Str(b),
                        Arg::Str(&actor.user),
                        Arg::Time(now),
                    ],
                )
                .await?;
            }
            let detail = match &body {
                Some(b) => format!("{}: {b}", section.label()),
                None => format!("{}: bỏ bản sửa, dùng nội dung tự sinh", section.label()),
            };
            event(
                &mut conn,
                &round.id,
                "draft",
                None,
                &actor.user,
                Some(&detail),
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        });
        result
    }

    /// SKHCN sets the report's number ("Số: 123/BC-SKHCN": `123`) and its signer
    /// (`may_open_round`); `None` leaves a field as it is. Recorded in `round_events` (`sign`).
    #[tracing::instrument(skip_all, fields(actor = %actor.user, plan = %plan, round = number))]
    pub async fn sign_as(
        &self,
        actor: &Actor,
        plan: &str,
        number: u32,
        doc_number: Option<&str>,
        signer: Option<&Signer>,
        now: Instant,
    ) -> Result<RoundRecord, StoreError> {
        access::may_open_round(actor)?;
        let round = self.round(plan, number).await?;
        let doc_number = clean_opt("số văn bản (doc-number)", doc_number, MAX_LINE, false)?;
        let signer = match signer {
            Some(s) => Some(Signer {
                on_behalf: clean_opt("ký thay (on-behalf)", Some(&s.on_behalf), MAX_LINE, false)?
                    .unwrap_or_default(),
                title: clean("chức vụ người ký (title)", &s.title, MAX_LINE, false)?,
                name: clean("họ tên người ký (name)", &s.name, MAX_LINE, false)?,
            }),
            None => None,
        };
        if doc_number.is_none() && signer.is_none() {
            return Err(StoreError::Invalid(
                "Cần số văn bản hoặc người ký (hoặc cả hai).".into(),
            ));
        }
        let now = micros(now);
        let signer_json = signer
            .as_ref()
            .map(|s| serde_json::to_string(s).expect("plain data"));
        let mut detail = Vec::new();
        if let Some(n) = &doc_number {
            detail.push(format!("Số: {n}"));
        }
        if let Some(s) = &signer {
            detail.push(format!("Người ký: {} {} {}", s.on_behalf, s.title, s.name));
        }
        let detail = detail.join("; ");
        let result: Result<(), StoreError> = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            conn.execute(
                "UPDATE report_rounds SET doc_number = COALESCE($1, doc_number), signer = COALESCE($2, signer) WHERE id = $3",
                &[
                    Arg::OptStr(doc_number.as_deref()),
                    Arg::OptStr(signer_json.as_deref()),
                    Arg::Str(&round.id),
                ],
            )
            .await?;
            event(
                &mut conn,
                &round.id,
                "sign",
                None,
                &actor.user,
                Some(&detail),
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        });
        result?;
        self.round(&round.plan_id, number).await
    }

    /// Records that `actor` exported the round's report: the format (`docx`, `xlsx`, …) and the
    /// sha256 of the bytes, in `round_events` (`export`). System door: the report's front end
    /// has already checked who may produce the report.
    #[tracing::instrument(skip_all, fields(round = %round.id, actor = %actor, format = %format))]
    pub async fn record_export(
        &self,
        round: &RoundRecord,
        actor: &str,
        format: &str,
        sha256: &str,
        now: Instant,
    ) -> Result<RoundEvent, StoreError> {
        let now = micros(now);
        let detail = format!(
            "Xuất báo cáo đợt {} kế hoạch {} ({format})",
            round.spec.ordinal(),
            round.plan_number
        );
        let id: i64 = with_db!(self.store, |pool| {
            let mut conn = pool.acquire().await?;
            Conn::from(&mut *conn)
                .fetch_i64(
                    "INSERT INTO round_events (round_id, kind, unit_id, actor_user, at, detail, format, sha256) \
                     VALUES ($1, 'export', NULL, $2, $3, $4, $5, $6) RETURNING id",
                    &[
                        Arg::Str(&round.id),
                        Arg::Str(actor),
                        Arg::Time(now),
                        Arg::Str(&detail),
                        Arg::Str(format),
                        Arg::Str(sha256),
                    ],
                )
                .await?
        });
        Ok(RoundEvent {
            id,
            kind: "export".into(),
            unit_id: None,
            actor_user: actor.to_string(),
            at: now,
            detail: Some(detail),
            format: Some(format.to_string()),
            sha256: Some(sha256.to_string()),
        })
    }

    /// What round `number` of `plan` adds to the official report: the spec, number, signer,
    /// SKHCN's drafts and the entries of the units that have **submitted** (an unsubmitted or
    /// reopened unit's entries are not in the report), of the units in `units` when given.
    /// System door: the report's front end applies `engine::access::report_scope`.
    #[tracing::instrument(skip_all, fields(plan = %plan, round = number))]
    pub async fn report(
        &self,
        plan: &str,
        number: u32,
        units: Option<&[String]>,
    ) -> Result<RoundReport, StoreError> {
        let round = self.round(plan, number).await?;
        let submitted: Vec<String> = self
            .submissions(&round.id)
            .await?
            .into_iter()
            .map(|s| s.unit_id)
            .filter(|u| units.is_none_or(|us| us.contains(u)))
            .collect();
        let entries = self
            .entries_of(&round.id)
            .await?
            .into_iter()
            .filter(|e| submitted.contains(&e.unit_id))
            .map(EntryRow::entry)
            .collect::<Result<Vec<_>, _>>()?;
        let drafts = self
            .drafts(&round.id)
            .await?
            .into_iter()
            .filter_map(|(k, v)| DraftSection::parse(&k).ok().map(|s| (s, v)))
            .collect();
        Ok(RoundReport {
            spec: Some(round.spec),
            doc_number: round.doc_number,
            signer: round.signer,
            entries,
            drafts,
        })
    }
}

/// How many days before the units' due date a unit that has not submitted is reminded.
pub const REMIND_DAYS_BEFORE: u64 = 3;

impl Rounds<'_> {
    /// Queues the emails of the units late with a round, as of `now`: a reminder from
    /// [`REMIND_DAYS_BEFORE`] days before the units' due date, a notice on the day, and after it
    /// an overdue notice to the unit with an escalation to SKHCN. Each stage once per round and
    /// unit (recorded in `round_events` as `remind`, the stage in the detail); a stage reached
    /// late (the worker was down) is sent alone, the earlier ones skipped. A unit that has
    /// submitted gets nothing. System door, for the scheduler; returns the messages queued.
    #[tracing::instrument(name = "rounds.reminders", skip_all)]
    pub async fn queue_reminders(&self, now: Instant) -> Result<usize, StoreError> {
        use engine::notify::RoundStage;
        let today = engine::time::local_date(now);
        let horizon = today + chrono::Days::new(REMIND_DAYS_BEFORE);
        let rows: Vec<RoundRow> = with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_ROUND} WHERE r.units_due <= $1 ORDER BY r.units_due, r.id"
            )))
            .bind(horizon)
            .fetch_all(pool)
            .await?
        });
        let now = micros(now);
        let mut queued = 0;
        for row in rows {
            let round = row.record()?;
            let due = round.spec.units_due;
            let stage = match today.cmp(&due) {
                std::cmp::Ordering::Less => RoundStage::Reminder,
                std::cmp::Ordering::Equal => RoundStage::Due,
                std::cmp::Ordering::Greater => RoundStage::Overdue,
            };
            let tasks = self.plan_tasks(&round.plan_id, None).await?;
            let entries: Vec<EntryRecord> = self
                .entries_of(&round.id)
                .await?
                .into_iter()
                .map(EntryRow::record)
                .collect::<Result<_, _>>()?;
            let units = self.units(&round, &tasks, &entries, today).await?;
            let sent: Vec<(Option<String>, Option<String>)> = with_db!(self.store, |pool| {
                sqlx::query_as(
                    "SELECT unit_id, detail FROM round_events WHERE round_id = $1 AND kind = 'remind'",
                )
                .bind(&round.id)
                .fetch_all(pool)
                .await?
            });
            for u in units.iter().filter(|u| u.submitted.is_none()) {
                let code = stage.template();
                let already = sent.iter().any(|(unit, detail)| {
                    unit.as_deref() == Some(u.unit_id.as_str()) && detail.as_deref() == Some(code)
                });
                if already {
                    continue;
                }
                let payload = |roles: &[engine::Role]| {
                    serde_json::json!({
                        "roles": roles,
                        "unit_id": u.unit_id,
                        "unit_name": u.unit_name,
                        "plan_number": round.plan_number,
                        "round": round.spec.number,
                        "instruction": round.spec.instruction,
                        "cut_off": round.spec.cut_off,
                        "units_due": round.spec.units_due,
                        "entered": u.entered,
                        "tasks": u.tasks,
                    })
                    .to_string()
                };
                let unit_roles = [engine::Role::DonVi, engine::Role::ThuTruongDonVi];
                let mut messages = vec![(stage.template(), payload(&unit_roles))];
                if stage == RoundStage::Overdue {
                    messages.push((
                        RoundStage::Escalation.template(),
                        payload(&access::ROUND_COORDINATORS),
                    ));
                }
                let ids: Vec<String> = messages.iter().map(|_| new_id()).collect();
                let result: Result<(), StoreError> = with_db!(self.store, |pool| {
                    let mut tx = pool.begin().await?;
                    let mut conn = Conn::from(&mut *tx);
                    let new: Vec<super::sql::NewMessage<'_>> = messages
                        .iter()
                        .zip(&ids)
                        .map(|((template, payload), id)| super::sql::NewMessage {
                            id,
                            task_id: None,
                            template,
                            payload,
                        })
                        .collect();
                    super::sql::insert_messages(&mut conn, &new, now).await?;
                    event(
                        &mut conn,
                        &round.id,
                        "remind",
                        Some(&u.unit_id),
                        "scheduler",
                        Some(code),
                        now,
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(())
                });
                result?;
                queued += messages.len();
            }
        }
        Ok(queued)
    }
}

/// Appends a round event in `conn`'s transaction.
async fn event(
    conn: &mut Conn<'_>,
    round_id: &str,
    kind: &str,
    unit: Option<&str>,
    actor: &str,
    detail: Option<&str>,
    now: Instant,
) -> Result<(), sqlx::Error> {
    conn.execute(
        "INSERT INTO round_events (round_id, kind, unit_id, actor_user, at, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            Arg::Str(round_id),
            Arg::Str(kind),
            Arg::OptStr(unit),
            Arg::Str(actor),
            Arg::Time(now),
            Arg::OptStr(detail),
        ],
    )
    .await
    .map(|_| ())
}

/// The engine's messages start lower-case, to fit after a field name; alone they start upper.
fn capitalise(m: &str) -> String {
    let mut c = m.chars();
    match c.next() {
        Some(f) => {
            let mut s: String = f.to_uppercase().collect();
            s.push_str(c.as_str());
            if !s.ends_with('.') {
                s.push('.');
            }
            s
        }
        None => String::new(),
    }
}
