//! `tiendo-bench timers`: how fast due deadline timers are fired into the outbox on PostgreSQL.
//!
//! Seeds a scratch database with tasks on the bench workflow, each moved into its
//! 15-working-day appraisal so that it carries five timers (reminders at 50 % and 75 %, the due
//! notice, the first overdue repeat and the escalation). Then it fires them all as of a moment
//! when every one is due, the backlog a scheduler finds after downtime, with several scheduler
//! instances side by side, and prints timers per second and the due-to-fired lag (every timer is
//! due when firing starts, so its lag is the time until its batch committed). Finally it checks
//! that every timer fired exactly once and every task got exactly one deadline message and one
//! escalation.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use adapters::store::{Backend, Store};
use chrono::{TimeDelta, Utc};

use crate::scratch::{PgServer, Scratch};
use crate::seed::{self, Stage};
use crate::{Failure, drive, progress};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many timers to fire (five per task).
    #[arg(long, default_value_t = 100_000)]
    pub timers: usize,
    /// Scheduler instances firing side by side.
    #[arg(long, default_value_t = 2)]
    pub instances: usize,
    /// Tasks claimed per batch.
    #[arg(long, default_value_t = 200)]
    pub batch: i64,
    #[command(flatten)]
    pub pg: PgServer,
    /// Concurrent writers while seeding.
    #[arg(long, default_value_t = seed::DEFAULT_CONCURRENCY)]
    pub seed_concurrency: usize,
}

const TIMERS_PER_TASK: usize = 5;

impl Args {
    pub fn check(&self) -> Result<(), String> {
        if self.timers < TIMERS_PER_TASK
            || self.instances == 0
            || self.batch <= 0
            || self.seed_concurrency == 0
        {
            return Err(
                "--timers must be at least 5, --instances, --batch and --seed-concurrency at least 1"
                    .into(),
            );
        }
        Ok(())
    }
}

pub async fn run(a: &Args) -> Result<String, Failure> {
    let catalog = seed::catalog()?;
    let scratch = Scratch::create(Backend::Postgres, "timers", &a.pg).await?;
    let result = async {
        let pool = u32::try_from(a.instances.max(a.seed_concurrency) + 4).unwrap_or(64);
        let store = Store::connect(&scratch.url, catalog, pool).await?;
        store.migrate().await?;
        let out = measure(a, &store).await;
        store.close().await;
        out
    }
    .await;
    scratch.finish(false).await;
    result
}

async fn measure(a: &Args, store: &Store) -> Result<String, Failure> {
    let tasks = a.timers / TIMERS_PER_TASK;
    let people = seed::directory(store).await?;
    let seeding = Instant::now();
    // Into the appraisal: each `trinh` creates the task's five timers.
    seed::tasks(store, &people, tasks, a.seed_concurrency, Stage::Appraisal).await?;
    let seed_secs = seeding.elapsed().as_secs_f64();
    eprintln!(
        "postgres: seeded {tasks} tasks with {} timers in {seed_secs:.1} s",
        tasks * TIMERS_PER_TASK
    );
    let outbox_before = store.count("outbox").await?;

    // Every timer is due 60 days from now (15 working days, then overdue and escalation).
    let now = Utc::now() + TimeDelta::days(60);
    let bar = progress::counter((tasks * TIMERS_PER_TASK) as u64, "firing timers");
    let start = Instant::now();
    let mut handles = Vec::new();
    for i in 0..a.instances {
        let (store, bar) = (store.clone(), bar.clone());
        let batch = a.batch;
        handles.push(tokio::spawn(async move {
            let owner = format!("bench-instance-{i}");
            let mut batches: Vec<(Duration, usize)> = Vec::new();
            loop {
                let r = store
                    .fire_due_timers(&owner, now, batch, TimeDelta::minutes(5))
                    .await?;
                // An empty batch may only mean that another instance holds the due tasks.
                if r.claimed == 0 && store.due_timers(now).await? == 0 {
                    return Ok::<_, Failure>(batches);
                }
                if r.fired > 0 {
                    batches.push((start.elapsed(), r.fired));
                    bar.inc(r.fired as u64);
                }
            }
        }));
    }
    let fired_by = drive::join_all(handles, "firing").await;
    bar.finish_and_clear();
    let mut batches = Vec::new();
    let mut per_instance = Vec::new();
    for b in fired_by? {
        per_instance.push(b.iter().map(|(_, n)| n).sum::<usize>());
        batches.extend(b);
    }
    let elapsed = batches.iter().map(|(t, _)| *t).max().unwrap_or_default();
    let fired: usize = batches.iter().map(|(_, n)| n).sum();
    batches.sort_by_key(|(t, _)| *t);
    let lag = |p: f64| {
        let target = (fired as f64 * p).ceil() as usize;
        let mut seen = 0;
        for (t, n) in &batches {
            seen += n;
            if seen >= target {
                return t.as_secs_f64() * 1000.0;
            }
        }
        elapsed.as_secs_f64() * 1000.0
    };
    let queued = store.count("outbox").await? - outbox_before;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "tiendo-bench timers (PostgreSQL, {} instances, {} tasks per batch)",
        a.instances, a.batch
    );
    let _ = writeln!(
        out,
        "seeded     {tasks} tasks, {} timers, in {seed_secs:.1} s",
        tasks * TIMERS_PER_TASK
    );
    let _ = writeln!(
        out,
        "fired      {fired} timers in {:.2} s",
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "throughput {:.0} timers/s (target ≥ 5,000)",
        fired as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    let _ = writeln!(
        out,
        "lag        p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (every timer due at the start)",
        lag(0.5),
        lag(0.99),
        lag(1.0)
    );
    let _ = writeln!(
        out,
        "instances  {}",
        per_instance
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" + ")
    );
    let _ = writeln!(
        out,
        "queued     {queued} messages ({} per task: one deadline notice, one escalation)",
        queued as f64 / tasks as f64
    );
    let ok = fired == tasks * TIMERS_PER_TASK && usize::try_from(queued).ok() == Some(2 * tasks);
    let _ = writeln!(
        out,
        "check      {}",
        if ok {
            "every timer fired once; one notice and one escalation per task"
        } else {
            "MISMATCH: see the figures above"
        }
    );
    if !ok {
        return Err(Failure::new(out));
    }
    Ok(out)
}
