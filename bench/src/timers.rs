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
//!
//! `--quiet N` measures the other end instead: a scheduler (`Scheduler::run`, the product's
//! loop with its default 5-second poll) idles on a database where nothing is due; then N tasks
//! are moved one after another, spread over `--spread` seconds, into a 3-second deadline
//! (`bench/quiet-timers.toml`), so that each one's due notice falls due a few seconds after it
//! was scheduled, while the scheduler sleeps. The lag of each timer is from its due instant to
//! the moment its message is seen in the outbox (read every 10 ms); it prints p50, p99 and max.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use adapters::store::{Backend, Store};
use chrono::{TimeDelta, Utc};

use crate::scratch::{Backends, PgServer, Scratch};
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
    /// Instead of the backlog: N timers due a few seconds after they are scheduled, in an
    /// otherwise idle system, and the lag from due to queued (see the module's text).
    #[arg(long, value_name = "N")]
    pub quiet: Option<usize>,
    /// With --quiet: the seconds over which the N timers are scheduled (and fall due).
    #[arg(long, default_value_t = 20.0)]
    pub spread: f64,
    /// Keep the bench database for inspection (e.g. EXPLAIN); prints its name.
    #[arg(long)]
    pub keep: bool,
    /// With --quiet: the backend (the backlog runs on PostgreSQL only).
    #[arg(long, value_enum, default_value = "postgres")]
    pub backend: Backends,
}

const TIMERS_PER_TASK: usize = 5;

impl Args {
    pub fn check(&self) -> Result<(), String> {
        if self.quiet == Some(0) || !(self.spread > 0.0 && self.spread <= 3600.0) {
            return Err(
                "--quiet must be at least 1 and --spread between 0 and 3600 seconds".into(),
            );
        }
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
    if let Some(n) = a.quiet {
        let mut out = String::new();
        for &backend in a.backend.list() {
            out.push_str(&quiet(a, backend, n).await?);
        }
        return Ok(out);
    }
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
    scratch.finish(a.keep).await;
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
                    .scheduling()
                    .fire_due_timers(&owner, now, batch, TimeDelta::minutes(5))
                    .await?;
                // An empty batch may only mean that another instance holds the due tasks.
                if r.claimed == 0 && store.scheduling().due_timers(now).await? == 0 {
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

/// The quiet workflow: one move into a 3-second deadline with one timer.
const QUIET_WORKFLOW: &str = include_str!("../quiet-timers.toml");
const QUIET_NAME: &str = "bench-nhac-han-ngan";
/// How long after its move each quiet timer falls due (the workflow's deadline).
const QUIET_DUE: TimeDelta = TimeDelta::seconds(3);
/// How often the outbox is read for the quiet timers' messages: the lag's resolution.
const QUIET_READ: Duration = Duration::from_millis(10);

/// `--quiet N` on one backend: see the module's text.
async fn quiet(a: &Args, backend: Backend, n: usize) -> Result<String, Failure> {
    let mut sources = adapters::definitions::embedded();
    sources.push(engine::workflow::Source {
        path: "quiet-timers.toml".into(),
        text: QUIET_WORKFLOW.into(),
    });
    let catalog = engine::workflow::Catalog::load(&sources)
        .map(std::sync::Arc::new)
        .map_err(|errors| {
            let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            Failure::new(format!(
                "the quiet bench workflow does not load:\n{}",
                list.join("\n")
            ))
        })?;
    let scratch = Scratch::create(backend, "timers_quiet", &a.pg).await?;
    let result = async {
        let store = Store::connect(&scratch.url, catalog, 8).await?;
        store.migrate().await?;
        let out = measure_quiet(a, &store, backend, n).await;
        store.close().await;
        out
    }
    .await;
    scratch.finish(false).await;
    result
}

async fn measure_quiet(
    a: &Args,
    store: &Store,
    backend: Backend,
    n: usize,
) -> Result<String, Failure> {
    let people = seed::directory(store).await?;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let new = adapters::store::NewTask {
            plan: seed::PLAN_NUMBER.into(),
            unit_id: seed::UNIT_ID.into(),
            name: format!("Nhiệm vụ đo độ trễ hẹn giờ số {:04}", i + 1),
            funding_source: engine::domain::FundingSource::SuNghiepCntt,
            kind: QUIET_NAME.into(),
            period: Some("2026-2027".into()),
            is_rental: false,
            own_fund: false,
            budget: Vec::new(),
        };
        ids.push(
            store
                .tasks()
                .create_as(&people.donvi, &new, None, Utc::now())
                .await?
                .task_id,
        );
    }
    // The product's scheduler with its default settings (a 5-second poll), no mail relay.
    let cfg = adapters::scheduler::SchedulerConfig::default();
    let poll = cfg.poll;
    let scheduler =
        adapters::scheduler::Scheduler::new(store.clone(), cfg, None, "bench-quiet", Utc::now());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(scheduler.run(async {
        let _ = stopped.await;
    }));
    // Let it make its first pass and go to sleep: nothing is due.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The reader: when each task's deadline message is first seen in the outbox.
    let seen = std::sync::Arc::new(tokio::sync::Mutex::new(std::collections::HashMap::<
        String,
        chrono::DateTime<Utc>,
    >::new()));
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let reader = {
        let (store, seen) = (store.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let rows = store.scheduling().outbox(None, 200).await?;
                let at = Utc::now();
                let mut seen = seen.lock().await;
                for r in rows {
                    if let Some(task) = r.task_id
                        && r.template.starts_with("deadline.")
                    {
                        seen.entry(task).or_insert(at);
                    }
                }
                drop(seen);
                tokio::select! {
                    _ = done_rx.wait_for(|d| *d) => return Ok::<_, Failure>(()),
                    _ = tokio::time::sleep(QUIET_READ) => {}
                }
            }
        })
    };

    // The moves, one every spread/n seconds; each timer falls due 3 s after its move.
    let gap = Duration::from_secs_f64(a.spread / n as f64);
    let bar = progress::counter(n as u64, "scheduling timers");
    let mut due = Vec::with_capacity(n);
    let start = tokio::time::Instant::now();
    for (i, id) in ids.iter().enumerate() {
        tokio::time::sleep_until(start + gap * u32::try_from(i).unwrap_or(u32::MAX)).await;
        let now = Utc::now();
        store
            .tasks()
            .transition_as(
                &people.donvi,
                &adapters::store::TransitionRequest::new(id, "trinh"),
                now,
            )
            .await?;
        due.push((id.clone(), now + QUIET_DUE));
        bar.inc(1);
    }
    bar.finish_and_clear();
    // Wait for the last one (at most 30 s past its due instant).
    let give_up = tokio::time::Instant::now() + Duration::from_secs(3) + Duration::from_secs(30);
    loop {
        if seen.lock().await.len() >= n || tokio::time::Instant::now() >= give_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = done_tx.send(true);
    let read = reader.await;
    let _ = stop.send(());
    let _ = running.await;
    read.map_err(|e| Failure::new(format!("the outbox reader failed: {e}")))??;

    let seen = seen.lock().await;
    let mut lags: Vec<Duration> = Vec::with_capacity(n);
    let mut early = 0;
    for (id, due_at) in &due {
        if let Some(at) = seen.get(id) {
            match (*at - *due_at).to_std() {
                Ok(l) => lags.push(l),
                Err(_) => early += 1,
            }
        }
    }
    lags.sort();
    let ms = |p: f64| crate::stats::percentile_ms(&lags, p).unwrap_or(f64::NAN);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tiendo-bench timers --quiet ({}, the scheduler's loop with its default {} s poll)",
        match backend {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        },
        poll.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "scheduled  {n} timers, one every {:.0} ms, each due 3 s after it was scheduled",
        gap.as_secs_f64() * 1000.0
    );
    let _ = writeln!(
        out,
        "quiet lag  p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (due → seen in the outbox, read every {} ms; target p99 ≤ 1,000 ms)",
        ms(0.5),
        ms(0.99),
        ms(1.0),
        QUIET_READ.as_millis()
    );
    let ok = lags.len() == n;
    let _ = writeln!(
        out,
        "check      {}",
        if ok {
            "every timer's message queued, none before it fell due".to_string()
        } else {
            format!(
                "MISMATCH: {} of {n} messages seen after their timer fell due, {early} before",
                lags.len()
            )
        }
    );
    if !ok {
        return Err(Failure::new(out));
    }
    Ok(out)
}
