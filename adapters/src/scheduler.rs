//! The scheduler: what makes tasks stop stalling. One loop, run inside `tiendo serve` or alone
//! as `tiendo worker`, that on every tick
//!
//! 1. fires due deadline timers (reminders, due and overdue notices, escalations) into the
//!    outbox, and takes automatic transitions on expiry through `decide` like any other;
//! 2. alerts `ubnd` and the unit head about tasks that have not moved for N working days, and
//!    reminds the units late with a reporting round (and SKHCN once they are overdue);
//! 3. queues the cron digests (a unit's morning list, UBND's weekly list), once per slot
//!    across all instances;
//! 4. seals the audit log periodically;
//! 5. raises the year-end forecast's flags (issue 17): a task that cannot finish by its due
//!    date, or is at risk, is flagged once (an audit entry and an email), again only if the
//!    flag changes;
//! 6. drains the outbox through SMTP.
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

use crate::email::{Relay, RelayReport};
use crate::store::{Backend, ExpiryJob, Store, StoreError, Task, TaskFilter};

/// How often an idle scheduler reads the earliest pending timer's due instant between polls.
const WAKE_CHECK: Duration = Duration::from_secs(1);

/// How soon an instance tries again for due timers that another instance was holding.
const BUSY_RETRY: Duration = Duration::from_millis(200);

/// How the scheduler runs, from `configuration` (`scheduler.*`).
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How often a tick runs at least; sooner when a timer falls due before (see
    /// [`Scheduler::run`]).
    pub poll: Duration,
    /// Tasks whose due timers are fired per batch.
    pub batch: i64,
    /// How long a claim lasts if its instance dies: a running instance renews its claims every
    /// third of this (a heartbeat), so another instance takes over within it after a crash.
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
    /// How often the year-end forecast's flags are raised (`None`: never).
    pub forecast_flags_every: Option<TimeDelta>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            poll: Duration::from_secs(5),
            batch: 200,
            lease: TimeDelta::seconds(10),
            stall_working_days: 10,
            stall_scan_every: TimeDelta::minutes(15),
            seal_every: Some(TimeDelta::hours(1)),
            unit_digest: cron::Schedule::from_str("0 0 7 * * Mon-Fri").ok(),
            ubnd_digest: cron::Schedule::from_str("0 0 8 * * Mon").ok(),
            digests_on_working_days_only: true,
            forecast_flags_every: Some(TimeDelta::hours(1)),
        }
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
    /// Reminders and escalations queued for units late with a reporting round.
    pub round_reminders: usize,
    pub digests: usize,
    pub sealed: bool,
    /// Forecast flags raised and cleared in this tick.
    pub forecast_flags: crate::report::forecast::FlagCounts,
    pub mail: RelayReport,
}

struct Marks {
    last_stall_scan: Option<Instant>,
    last_seal: Option<Instant>,
    last_forecast: Option<Instant>,
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
                last_forecast: None,
                last_cron: now,
            }),
        }
    }

    /// A default instance name: host and process.
    pub fn default_owner() -> String {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}:{}", host.trim(), std::process::id())
    }

    /// One pass of everything the scheduler does, as of `now`: [`Scheduler::pass`], then the
    /// outbox.
    #[tracing::instrument(name = "scheduler.tick", skip_all, fields(owner = %self.owner, %now))]
    pub async fn tick(&self, now: Instant) -> Result<TickReport, StoreError> {
        let mut r = self.pass(now).await?;
        if r.leader
            && let Some(relay) = &self.relay
        {
            r.mail = relay.run_once(now).await?;
        }
        Ok(r)
    }

    /// Timers, stall scan, digests and seal as of `now` (everything but sending).
    pub async fn pass(&self, now: Instant) -> Result<TickReport, StoreError> {
        let mut r = TickReport::default();
        if !self.lead(now).await? {
            return Ok(r);
        }
        r.leader = true;
        let mut marks = self.marks.lock().await;

        self.fire_timers(now, &mut r).await?;

        if marks
            .last_stall_scan
            .is_none_or(|t| now - t >= self.cfg.stall_scan_every)
        {
            r.stalled = self.scan_stalled(now).await?;
            r.round_reminders = self.store.rounds().queue_reminders(now).await?;
            marks.last_stall_scan = Some(now);
        }

        r.digests = self.queue_digests(marks.last_cron, now).await?;
        marks.last_cron = now;

        if let Some(every) = self.cfg.seal_every
            && marks.last_seal.is_none_or(|t| now - t >= every)
        {
            r.sealed = self.seal(now).await?;
            marks.last_seal = Some(now);
        }

        if let Some(every) = self.cfg.forecast_flags_every
            && marks.last_forecast.is_none_or(|t| now - t >= every)
        {
            r.forecast_flags = self.forecast_flags(now).await?;
            marks.last_forecast = Some(now);
        }
        drop(marks);
        Ok(r)
    }

    /// On SQLite, one instance at a time holds the `scheduler` lease and ticks; on PostgreSQL
    /// every instance ticks (rows are claimed one by one).
    async fn lead(&self, now: Instant) -> Result<bool, StoreError> {
        if self.store.backend() != Backend::Sqlite {
            return Ok(true);
        }
        let hold = TimeDelta::from_std(self.cfg.poll * 3)
            .unwrap_or(self.cfg.lease)
            .max(self.cfg.lease);
        self.store
            .scheduling()
            .acquire_lease("scheduler", &self.owner, now + hold, now)
            .await
    }

    /// Due timers into the outbox, batch after batch while they keep coming, and the automatic
    /// transitions of those that expire a step.
    #[tracing::instrument(name = "scheduler.timers", skip_all)]
    async fn fire_timers(&self, now: Instant, r: &mut TickReport) -> Result<(), StoreError> {
        for _ in 0..1000 {
            let fired = self
                .store
                .scheduling()
                .fire_due_timers(&self.owner, now, self.cfg.batch, self.cfg.lease)
                .await?;
            r.timers_fired += fired.fired;
            r.notifications += fired.queued;
            for job in &fired.expiries {
                if self.expire(job, now).await? {
                    r.automatic_transitions += 1;
                }
            }
            if fired.claimed == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Takes the automatic transition of an expired timer through `decide`, like any other;
    /// true if it was taken (false: the task had moved on).
    #[tracing::instrument(
        name = "scheduler.expiry",
        skip_all,
        fields(timer = %job.timer_id, task = %job.task_id, transition = %job.transition)
    )]
    async fn expire(&self, job: &ExpiryJob, now: Instant) -> Result<bool, StoreError> {
        let scheduling = self.store.scheduling();
        // A retry after a crash replays instead of acting twice (the timer is the key).
        let taken = match scheduling.expire(job, now).await {
            Ok(_) => true,
            Err(e @ (StoreError::Rejected(_) | StoreError::Conflict { .. })) => {
                tracing::info!(reason = %e, "automatic transition not taken");
                false
            }
            Err(e) => return Err(e),
        };
        scheduling
            .finish_expiry(&job.timer_id, &self.owner, now)
            .await?;
        Ok(taken)
    }

    /// Alerts `ubnd` and the unit head about tasks that have not moved for N working days.
    #[tracing::instrument(name = "scheduler.stall_scan", skip_all)]
    async fn scan_stalled(&self, now: Instant) -> Result<usize, StoreError> {
        self.store
            .scheduling()
            .alert_stalled(now, self.cfg.stall_working_days)
            .await
    }

    /// Every digest slot between `since` and `now`, once across instances.
    #[tracing::instrument(name = "scheduler.digests", skip_all)]
    async fn queue_digests(&self, since: Instant, now: Instant) -> Result<usize, StoreError> {
        let mut queued = 0;
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
                queued += self.digest(name, slot, now).await?;
            }
        }
        Ok(queued)
    }

    /// The year-end forecast of every open task as of today, each flag raised once.
    #[tracing::instrument(name = "scheduler.forecast_flags", skip_all)]
    async fn forecast_flags(
        &self,
        now: Instant,
    ) -> Result<crate::report::forecast::FlagCounts, StoreError> {
        crate::report::forecast::raise_flags(&self.store, None, local_date(now), now).await
    }

    /// Seals the audit log; true if this instance sealed.
    #[tracing::instrument(name = "scheduler.seal", skip_all)]
    async fn seal(&self, now: Instant) -> Result<bool, StoreError> {
        match self.store.audit().seal(now).await {
            Ok(_) => Ok(true),
            // Another instance sealed on the same head at the same moment.
            Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Queues the digests of one slot, unless another instance already did; returns how many.
    #[tracing::instrument(name = "scheduler.digest", skip_all, fields(digest = name, %slot))]
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
        let open: Vec<Task> = self
            .store
            .tasks()
            .unscoped()
            .list(&TaskFilter::default())
            .await?
            .into_iter()
            .filter(|t| !t.phase.is_terminal() && t.phase != engine::Phase::Postponed)
            .collect();
        if name == "digest.unit" {
            self.unit_digests(&open, slot, now).await
        } else {
            self.ubnd_digest(&open, slot, now).await
        }
    }

    /// One morning list per unit of the tasks waiting for that unit.
    async fn unit_digests(
        &self,
        open: &[Task],
        slot: Instant,
        now: Instant,
    ) -> Result<usize, StoreError> {
        let mut by_unit: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in open {
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
        let queued = by_unit.len();
        for (unit, ids) in by_unit {
            let payload = json!({ "unit_id": unit, "task_ids": ids, "roles": [Role::DonVi, Role::ThuTruongDonVi], "slot": slot });
            self.store
                .scheduling()
                .enqueue(None, "digest.unit", &payload, now)
                .await?;
        }
        Ok(queued)
    }

    /// UBND's list of the stalled and overdue tasks, grouped by unit (none if there are none).
    async fn ubnd_digest(
        &self,
        open: &[Task],
        slot: Instant,
        now: Instant,
    ) -> Result<usize, StoreError> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in open {
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
        if groups.is_empty() {
            return Ok(0);
        }
        let groups: Vec<(String, Vec<String>)> = groups.into_iter().collect();
        let payload = json!({ "groups": groups, "roles": [Role::Ubnd], "slot": slot });
        self.store
            .scheduling()
            .enqueue(None, "digest.ubnd", &payload, now)
            .await?;
        Ok(1)
    }

    /// Runs until `shutdown` completes: the timers, scans, digests and seals every `poll`, and
    /// as soon as the earliest pending timer falls due if that is sooner; the
    /// outbox every `poll` on its own (a long sending pass never delays a timer); and a heartbeat
    /// renewing this instance's claims. A failed pass is logged and retried on the next one: a
    /// database that is briefly away must not stop reminders for good. On shutdown the current
    /// passes finish, then this instance's claims and leases are released for the others.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        tokio::join!(
            signal,
            self.timer_loop(stop_rx.clone()),
            self.mail_loop(stop_rx.clone()),
            self.heartbeat(stop_rx.clone()),
        );
        match self
            .store
            .scheduling()
            .release_claims(&self.owner, Utc::now())
            .await
        {
            Ok(n) => tracing::info!(released = n, "scheduler stopped: claims released"),
            Err(e) => {
                tracing::warn!(error = %e, "scheduler stopped; claims not released (they expire)")
            }
        }
    }

    /// One [`Scheduler::pass`], then the next when the earliest pending timer falls due or
    /// `poll` after this one, whichever comes first ([`Scheduler::until_next_pass`]).
    async fn timer_loop(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let started = std::time::Instant::now();
            let next = started + self.cfg.poll;
            let wait = match self.pass(Utc::now()).await {
                Ok(r) => {
                    if r.timers_fired + r.stalled + r.digests > 0 {
                        tracing::info!(
                            timers = r.timers_fired,
                            notifications = r.notifications,
                            automatic = r.automatic_transitions,
                            stalled = r.stalled,
                            digests = r.digests,
                            "scheduler pass"
                        );
                    }
                    // On SQLite an instance that does not hold the scheduler lease only waits.
                    r.leader
                }
                Err(e) => {
                    tracing::error!(error = %e, "scheduler pass failed");
                    false
                }
            };
            tokio::select! {
                _ = stopped(&mut stop) => return,
                _ = self.until_next_pass(next, wait) => {}
            }
        }
    }

    /// Waits until the earliest pending timer falls due, or until `at` (the next poll) if that
    /// comes first. The earliest due instant is read again every [`WAKE_CHECK`] (one indexed
    /// read), so that a timer created meanwhile, due sooner than the next poll (a transition
    /// into a short deadline, on this instance or another), is fired within about a second of
    /// falling due rather than at the next poll. Due timers that this instance could not take
    /// (another instance holds their tasks) are tried again after [`BUSY_RETRY`]. With `watch`
    /// false (the pass failed, or another instance leads on SQLite) it only waits for `at`.
    async fn until_next_pass(&self, at: std::time::Instant, watch: bool) {
        if !watch {
            tokio::time::sleep_until(at.into()).await;
            return;
        }
        loop {
            let now = std::time::Instant::now();
            if now >= at {
                return;
            }
            let wall = Utc::now();
            let wait = match self.store.scheduling().next_due(wall).await {
                Ok(Some(due)) => {
                    let until_due = (due - wall).to_std().unwrap_or_default();
                    if until_due.is_zero() {
                        tokio::time::sleep(BUSY_RETRY.min(at - now)).await;
                        return;
                    }
                    until_due
                }
                Ok(None) => Duration::MAX,
                Err(e) => {
                    tracing::warn!(error = %e, "next due timer not read; waiting for the next poll");
                    tokio::time::sleep_until(at.into()).await;
                    return;
                }
            };
            let left = at - now;
            if wait <= WAKE_CHECK.min(left) {
                tokio::time::sleep(wait).await;
                return;
            }
            tokio::time::sleep(WAKE_CHECK.min(left)).await;
        }
    }

    /// Every `poll`: the outbox through SMTP, when this instance has a relay.
    async fn mail_loop(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let Some(relay) = &self.relay else { return };
        let mut interval = tokio::time::interval(self.cfg.poll);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => return,
                _ = interval.tick() => {
                    match relay.run_once(Utc::now()).await {
                        Ok(m) if m.sent + m.failed + m.dead > 0 => {
                            tracing::info!(sent = m.sent, failed = m.failed, dead = m.dead, skipped = m.skipped, "outbox pass");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "outbox pass failed"),
                    }
                }
            }
        }
    }

    /// Every third of the lease: renews this instance's claims (timers, messages, the SQLite
    /// `scheduler` lease), so that a live instance keeps them and a dead one loses them within
    /// one lease.
    async fn heartbeat(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let every = (self.cfg.lease / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(5))
            .max(Duration::from_millis(200));
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => return,
                _ = interval.tick() => {
                    let now = Utc::now();
                    if let Err(e) = self.store.scheduling().renew_claims(&self.owner, now + self.cfg.lease, now).await {
                        tracing::warn!(error = %e, "heartbeat: claims not renewed");
                    }
                }
            }
        }
    }
}

/// Completes once `stop` says so (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
