//! The scheduler: what makes tasks stop stalling. One loop, run inside `tiendo serve` or alone
//! as `tiendo worker`, that on every tick
//!
//! 1. fires due deadline timers (reminders, due and overdue notices, escalations) into the
//!    outbox, and takes automatic transitions on expiry through `decide` like any other;
//! 2. alerts `ubnd` and the unit head about tasks that have not moved for N working days;
//! 3. queues the cron digests (a unit's morning list, UBND's weekly list), once per slot
//!    across all instances;
//! 4. seals the audit log periodically;
//! 5. drains the outbox through SMTP.
//!
//! Timers and slots live in the database, so the scheduler survives restarts: after downtime,
//! each overdue timer fires once and a pile of missed reminders for one task folds into one
//! message stating how late it is. Several instances may run against one PostgreSQL (rows are
//! claimed with `FOR UPDATE SKIP LOCKED` and leases); on SQLite one instance holds the
//! `scheduler` lease and the others wait.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use engine::Role;
use engine::time::{Instant, local_date, vn};
use serde_json::json;

use crate::email::{ConfigError, Relay, RelayReport};
use crate::store::{Backend, Store, StoreError, TaskFilter};

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How often a tick runs.
    pub poll: Duration,
    /// Tasks whose due timers are fired per batch.
    pub batch: i64,
    /// How long a claim lasts if its instance dies.
    pub lease: TimeDelta,
    /// A task not moved for this many working days is stalled (unless its workflow says).
    pub stall_working_days: u32,
    pub stall_scan_every: TimeDelta,
    pub seal_every: Option<TimeDelta>,
    /// A unit's morning digest (cron, seconds first, evaluated in Asia/Ho_Chi_Minh).
    pub unit_digest: Option<cron::Schedule>,
    /// UBND's weekly digest of stalled and overdue tasks.
    pub ubnd_digest: Option<cron::Schedule>,
    /// Skip digest slots that fall on a day off.
    pub digests_on_working_days_only: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            poll: Duration::from_secs(5),
            batch: 200,
            lease: TimeDelta::minutes(5),
            stall_working_days: 10,
            stall_scan_every: TimeDelta::minutes(15),
            seal_every: Some(TimeDelta::hours(1)),
            unit_digest: cron::Schedule::from_str("0 0 7 * * Mon-Fri").ok(),
            ubnd_digest: cron::Schedule::from_str("0 0 8 * * Mon").ok(),
            digests_on_working_days_only: true,
        }
    }
}

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn seconds(var: &'static str) -> Result<Option<u64>, ConfigError> {
    env(var)
        .map(|v| {
            v.parse::<u64>().map_err(|_| ConfigError {
                var,
                message: format!("`{v}` is not a whole number of seconds"),
            })
        })
        .transpose()
}

fn schedule(
    var: &'static str,
    default: Option<cron::Schedule>,
) -> Result<Option<cron::Schedule>, ConfigError> {
    match env(var).as_deref() {
        None => Ok(default),
        Some("off") => Ok(None),
        Some(expr) => cron::Schedule::from_str(expr).map(Some).map_err(|e| ConfigError {
            var,
            message: format!("`{expr}` is not a cron expression ({e}); example: \"0 0 7 * * Mon-Fri\" (seconds first), or off"),
        }),
    }
}

impl SchedulerConfig {
    /// Reads `TIENDO_SCHEDULER_POLL_SECONDS`, `TIENDO_STALL_WORKING_DAYS`,
    /// `TIENDO_STALL_SCAN_SECONDS`, `TIENDO_SEAL_SECONDS` (0: off), `TIENDO_DIGEST_UNIT_CRON`,
    /// `TIENDO_DIGEST_UBND_CRON` (`off` disables), `TIENDO_DIGEST_WORKING_DAYS_ONLY`.
    pub fn from_env() -> Result<SchedulerConfig, ConfigError> {
        let d = SchedulerConfig::default();
        let stall = match env("TIENDO_STALL_WORKING_DAYS") {
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ConfigError {
                    var: "TIENDO_STALL_WORKING_DAYS",
                    message: format!("`{v}` is not a positive number of working days"),
                })?,
            None => d.stall_working_days,
        };
        let working_only = match env("TIENDO_DIGEST_WORKING_DAYS_ONLY").as_deref() {
            None | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(other) => {
                return Err(ConfigError {
                    var: "TIENDO_DIGEST_WORKING_DAYS_ONLY",
                    message: format!("`{other}` is not true or false"),
                });
            }
        };
        let secs = |n: u64| TimeDelta::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000));
        Ok(SchedulerConfig {
            poll: seconds("TIENDO_SCHEDULER_POLL_SECONDS")?
                .map(Duration::from_secs)
                .unwrap_or(d.poll),
            stall_working_days: stall,
            stall_scan_every: seconds("TIENDO_STALL_SCAN_SECONDS")?
                .map(secs)
                .unwrap_or(d.stall_scan_every),
            seal_every: match seconds("TIENDO_SEAL_SECONDS")? {
                Some(0) => None,
                Some(n) => Some(secs(n)),
                None => d.seal_every,
            },
            unit_digest: schedule("TIENDO_DIGEST_UNIT_CRON", d.unit_digest)?,
            ubnd_digest: schedule("TIENDO_DIGEST_UBND_CRON", d.ubnd_digest)?,
            digests_on_working_days_only: working_only,
            ..d
        })
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// False when another instance holds the SQLite scheduler lease.
    pub leader: bool,
    pub timers_fired: usize,
    pub notifications: usize,
    pub automatic_transitions: usize,
    pub stalled: usize,
    pub digests: usize,
    pub sealed: bool,
    pub mail: RelayReport,
}

struct Marks {
    last_stall_scan: Option<Instant>,
    last_seal: Option<Instant>,
    last_cron: Instant,
}

pub struct Scheduler {
    store: Store,
    cfg: SchedulerConfig,
    relay: Option<Relay>,
    owner: String,
    marks: tokio::sync::Mutex<Marks>,
}

impl Scheduler {
    /// `owner` names this instance in leases (hostname and process id is a good choice).
    /// Without a relay, queued mail stays queued for an instance that has one.
    pub fn new(
        store: Store,
        cfg: SchedulerConfig,
        relay: Option<Relay>,
        owner: impl Into<String>,
        now: Instant,
    ) -> Scheduler {
        Scheduler {
            store,
            cfg,
            relay,
            owner: owner.into(),
            marks: tokio::sync::Mutex::new(Marks {
                last_stall_scan: None,
                last_seal: None,
                last_cron: now,
            }),
        }
    }

    /// A default instance name: host and process.
    pub fn default_owner() -> String {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}:{}", host.trim(), std::process::id())
    }

    /// One pass of everything the scheduler does, as of `now`.
    pub async fn tick(&self, now: Instant) -> Result<TickReport, StoreError> {
        let mut r = TickReport::default();
        if self.store.backend() == Backend::Sqlite {
            let hold = TimeDelta::from_std(self.cfg.poll * 3)
                .unwrap_or(TimeDelta::seconds(15))
                .max(TimeDelta::seconds(15));
            if !self
                .store
                .scheduling()
                .acquire_lease("scheduler", &self.owner, now + hold, now)
                .await?
            {
                return Ok(r);
            }
        }
        r.leader = true;
        let mut marks = self.marks.lock().await;

        // 1. Timers, batch after batch while they keep coming.
        for _ in 0..1000 {
            let fired = self
                .store
                .scheduling()
                .fire_due_timers(&self.owner, now, self.cfg.batch, self.cfg.lease)
                .await?;
            r.timers_fired += fired.fired;
            r.notifications += fired.queued;
            let scheduling = self.store.scheduling();
            for job in &fired.expiries {
                match scheduling.expire(job, now).await {
                    Ok(_) => r.automatic_transitions += 1,
                    Err(StoreError::Rejected(_) | StoreError::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
                scheduling
                    .finish_expiry(&job.timer_id, &self.owner, now)
                    .await?;
            }
            if fired.claimed == 0 {
                break;
            }
        }

        // 2. Stalled tasks.
        if marks
            .last_stall_scan
            .is_none_or(|t| now - t >= self.cfg.stall_scan_every)
        {
            r.stalled = self
                .store
                .scheduling()
                .alert_stalled(now, self.cfg.stall_working_days)
                .await?;
            marks.last_stall_scan = Some(now);
        }

        // 3. Digests: every slot between the last check and now, once across instances.
        let since = marks.last_cron;
        for (name, schedule) in [
            ("digest.unit", &self.cfg.unit_digest),
            ("digest.ubnd", &self.cfg.ubnd_digest),
        ] {
            let Some(schedule) = schedule else { continue };
            let slots: Vec<Instant> = schedule
                .after(&since.with_timezone(&vn()))
                .map(|s| s.with_timezone(&Utc))
                .take_while(|s| *s <= now)
                .take(10)
                .collect();
            for slot in slots {
                r.digests += self.digest(name, slot, now).await?;
            }
        }
        marks.last_cron = now;

        // 4. Seal.
        if let Some(every) = self.cfg.seal_every
            && marks.last_seal.is_none_or(|t| now - t >= every)
        {
            match self.store.audit().seal(now).await {
                Ok(_) => r.sealed = true,
                // Another instance sealed on the same head at the same moment.
                Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {}
                Err(e) => return Err(e),
            }
            marks.last_seal = Some(now);
        }
        drop(marks);

        // 5. Mail.
        if let Some(relay) = &self.relay {
            r.mail = relay.run_once(now).await?;
        }
        Ok(r)
    }

    /// Queues the digests of one slot, unless another instance already did; returns how many.
    async fn digest(&self, name: &str, slot: Instant, now: Instant) -> Result<usize, StoreError> {
        let calendar = self.store.catalog().calendar("vn").cloned();
        let working = calendar
            .as_ref()
            .map(|c| c.is_working_day(local_date(slot)).unwrap_or(true))
            .unwrap_or(true);
        if self.cfg.digests_on_working_days_only && !working {
            self.store
                .scheduling()
                .claim_schedule_slot(name, slot, &self.owner, "skipped: ngày nghỉ", now)
                .await?;
            return Ok(0);
        }
        if !self
            .store
            .scheduling()
            .claim_schedule_slot(name, slot, &self.owner, "queued", now)
            .await?
        {
            return Ok(0);
        }
        let open: Vec<_> = self
            .store
            .tasks()
            .unscoped()
            .list(&TaskFilter::default())
            .await?
            .into_iter()
            .filter(|t| !t.phase.is_terminal() && t.phase != engine::Phase::Postponed)
            .collect();
        let mut queued = 0;
        if name == "digest.unit" {
            let mut by_unit: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for t in &open {
                let wf = self.store.catalog().get(&t.workflow, t.workflow_version);
                let unit_turn = wf
                    .and_then(|w| w.state(&t.state))
                    .is_some_and(|s| s.roles.iter().any(|r| r.is_unit_role()));
                if unit_turn {
                    by_unit
                        .entry(t.unit_id.clone())
                        .or_default()
                        .push(t.id.clone());
                }
            }
            for (unit, ids) in by_unit {
                let payload = json!({ "unit_id": unit, "task_ids": ids, "roles": [Role::DonVi, Role::ThuTruongDonVi], "slot": slot });
                self.store
                    .scheduling()
                    .enqueue(None, "digest.unit", &payload, now)
                    .await?;
                queued += 1;
            }
        } else {
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for t in &open {
                let Some(wf) = self.store.catalog().get(&t.workflow, t.workflow_version) else {
                    continue;
                };
                let overdue = t.due_at.is_some_and(|d| d < now);
                let limit = i64::from(
                    wf.stall_after_working_days
                        .unwrap_or(self.cfg.stall_working_days),
                );
                let stalled = wf
                    .calendar
                    .working_days_between(t.state_entered_at, now)
                    .is_ok_and(|n| n >= limit);
                if overdue || stalled {
                    groups
                        .entry(t.unit_id.clone())
                        .or_default()
                        .push(t.id.clone());
                }
            }
            if !groups.is_empty() {
                let groups: Vec<(String, Vec<String>)> = groups.into_iter().collect();
                let payload = json!({ "groups": groups, "roles": [Role::Ubnd], "slot": slot });
                self.store
                    .scheduling()
                    .enqueue(None, "digest.ubnd", &payload, now)
                    .await?;
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Ticks every `poll` until `shutdown` completes. A failed tick is logged and retried on the
    /// next one: a database that is briefly away must not stop reminders for good.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut interval = tokio::time::interval(self.cfg.poll);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = interval.tick() => {
                    match self.tick(Utc::now()).await {
                        Ok(r) if r.timers_fired + r.stalled + r.digests + r.mail.sent + r.mail.failed + r.mail.dead > 0 => {
                            tracing::info!(
                                timers = r.timers_fired, notifications = r.notifications, automatic = r.automatic_transitions,
                                stalled = r.stalled, digests = r.digests, sent = r.mail.sent, failed = r.mail.failed,
                                dead = r.mail.dead, skipped = r.mail.skipped, "scheduler tick"
                            );
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "scheduler tick failed"),
                    }
                }
            }
        }
    }
}
