//! What the scheduler and the email relay need from the store: claiming due timers and queued
//! mail with leases, firing timers in batches, automatic transitions on expiry, stall alerts,
//! cron slots and named leases.
//!
//! Exactly-once across instances rests on the database: PostgreSQL claims rows with
//! `FOR UPDATE SKIP LOCKED` inside the claiming `UPDATE`, so two instances never take the same
//! row; a claim carries a lease, and a row whose lease expired (its instance died) is claimed
//! again. SQLite has a single writer, so the same statement without the locking clause suffices.
//!
//! These doors act for nobody (the system), except the outbox's `…_as` doors for administrators.
//!
//! - [`timers`]: firing due timers, and the automatic transitions they ask for;
//! - [`stalls`]: alerts about tasks that have not moved;
//! - [`outbox`]: queueing, claiming and settling mail; the outbox for administrators;
//! - [`leases`]: named leases and cron slots;
//! - [`flags`]: the year-end forecast's flags, raised once per change.

mod flags;
mod leases;
mod outbox;
mod stalls;
mod timers;

use engine::time::Instant;

pub use flags::{FlagInput, RaisedFlag};

use super::decode::RawJson;
use super::{Backend, Store};

/// The scheduling doors: see [`Store::scheduling`].
#[derive(Clone, Copy)]
pub struct Scheduling<'a> {
    pub(super) store: &'a Store,
}

impl Scheduling<'_> {
    /// The locking clause that lets instances claim rows side by side.
    fn skip_locked(&self) -> &'static str {
        match self.store.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }
}

/// Where a task is now, as the scheduler's messages name it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Whereabouts {
    id: String,
    name: String,
    #[sqlx(rename = "unit_id")]
    unit: String,
    state: String,
    workflow: String,
    workflow_version: i64,
    /// What an approval authority's rules look at (read where whose turn it is matters).
    #[sqlx(default)]
    funding_source: String,
    #[sqlx(default)]
    own_fund: bool,
    #[sqlx(default)]
    amount_vnd: Option<i64>,
}

impl Whereabouts {
    /// Whose turn it is where the task is now, and the unit the turn is bound to when an approval
    /// authority names another unit than the task's ([`engine::workflow::Workflow::turn`]).
    fn turn(&self, wf: Option<&engine::workflow::Workflow>) -> (Vec<engine::Role>, String) {
        let facts = engine::workflow::ApprovalFacts {
            unit: &self.unit,
            funding: self.funding_source.parse().ok(),
            own_fund: self.own_fund,
            amount_vnd: self.amount_vnd,
        };
        match wf {
            Some(w) => {
                let (roles, unit) = w.turn(&self.state, &facts);
                (roles, unit.unwrap_or_else(|| self.unit.clone()))
            }
            None => (Vec::new(), self.unit.clone()),
        }
    }

    /// The workflow version the task runs on, if still loaded.
    fn workflow<'c>(
        &self,
        catalog: &'c engine::workflow::Catalog,
    ) -> Option<&'c engine::workflow::Workflow> {
        catalog
            .get(
                &self.workflow,
                u32::try_from(self.workflow_version).unwrap_or_default(),
            )
            .map(|w| &**w)
    }
}

/// An automatic transition to take, claimed with a lease: [`Scheduling::expire`] takes it,
/// [`Scheduling::finish_expiry`] settles its timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryJob {
    pub timer_id: String,
    pub task_id: String,
    pub transition: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FireReport {
    /// Timers claimed by this batch; 0 when nothing was due (or another instance took it).
    pub claimed: usize,
    /// Timers marked fired (including those folded into another's message).
    pub fired: usize,
    /// Notifications queued.
    pub queued: usize,
    /// Timers cancelled because their task had already left their state.
    pub stale: usize,
    pub expiries: Vec<ExpiryJob>,
}

/// A queued message claimed for sending.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OutboxJob {
    pub id: String,
    pub task_id: Option<String>,
    pub template: String,
    /// The payload; text that is not JSON is kept as a JSON string.
    #[sqlx(try_from = "RawJson")]
    pub payload: serde_json::Value,
    pub attempts: i64,
    pub created_at: Instant,
}

/// An outbox row, for operators.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct OutboxEntry {
    pub id: String,
    pub task_id: Option<String>,
    pub template: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Instant,
    pub last_error: Option<String>,
    pub recipients: Option<String>,
    pub message_id: Option<String>,
    pub created_at: Instant,
    pub sent_at: Option<Instant>,
}
