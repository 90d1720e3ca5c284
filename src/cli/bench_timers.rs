//! `tiendo bench timers`: how fast due deadline timers are fired into the outbox on PostgreSQL.
//!
//! Seeds a fresh `tiendo_bench_<random>` database with tasks on the bench workflow, each moved
//! into its 15-working-day appraisal so that it carries five timers (reminders at 50 % and 75 %,
//! the due notice, the first overdue repeat and the escalation). Then it fires them all as of a
//! moment when every one is due, the backlog a scheduler finds after downtime, with several
//! scheduler instances side by side, and prints timers per second and the due-to-fired lag
//! (every timer is due when firing starts, so its lag is the time until its batch committed).
//! Finally it checks that every timer fired exactly once and every task got exactly one deadline
//! message and one escalation.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::store::Store;
use chrono::{TimeDelta, Utc};

use super::Failure;
use super::bench::{
    bench_catalog, pg_urls, psql, request, seed_directory, seed_tasks, unique_suffix,
};

#[derive(Debug, clap::Args)]
pub struct TimersArgs {
    /// How many timers to fire (five per task).
    #[arg(long, default_value_t = 100_000)]
    pub timers: usize,
    /// Scheduler instances firing side by side.
    #[arg(long, default_value_t = 2)]
    pub instances: usize,
    /// Tasks claimed per batch.
    #[arg(long, default_value_t = 200)]
    pub batch: i64,
    /// The PostgreSQL server to create the bench database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub pg_url: String,
    /// Concurrent writers while seeding.
    #[arg(long, default_value_t = 16)]
    pub seed_concurrency: usize,
}

const TIMERS_PER_TASK: usize = 5;

pub async fn timers(a: &TimersArgs) -> Result<String, Failure> {
    if a.timers < TIMERS_PER_TASK || a.instances == 0 || a.batch <= 0 {
        return Err(Failure::usage(
            "--timers must be at least 5, --instances and --batch at least 1",
        ));
    }
    let catalog = Arc::new(bench_catalog()?);
    let name = format!("tiendo_bench_{}", unique_suffix());
    let (admin, url) = pg_urls(&a.pg_url, &name);
    psql(&admin, &format!("CREATE DATABASE {name}")).await?;
    eprintln!("postgres: created database {name}");
    let result = async {
        let pool = u32::try_from(a.instances.max(a.seed_concurrency) + 4).unwrap_or(64);
        let store = Store::connect(&url, catalog, pool).await?;
        store.migrate().await?;
        let out = measure(a, &store).await;
        store.close().await;
        out
    }
    .await;
    match psql(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await
    {
        Ok(_) => eprintln!("postgres: dropped database {name}"),
        Err(e) => eprintln!("postgres: could not drop database {name}: {}", e.message),
    }
    result
}

async fn measure(a: &TimersArgs, store: &Store) -> Result<String, Failure> {
    let tasks = a.timers / TIMERS_PER_TASK;
    let (donvi, _stc) = seed_directory(store).await?;
    let seeding = Instant::now();
    let seeded = seed_tasks(store, tasks, a.seed_concurrency, &donvi).await?;
    // Into the appraisal: each `trinh` creates the task's five timers.
    let ids: Arc<Vec<String>> = Arc::new(seeded.into_iter().map(|t| t.id).collect());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..a.seed_concurrency.min(tasks) {
        let (store, donvi, ids, next) = (store.clone(), donvi.clone(), ids.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(id) = ids.get(i) else {
                    return Ok::<_, Failure>(());
                };
                store
                    .tasks()
                    .transition_as(&donvi, &request(id, "trinh", None), Utc::now())
                    .await?;
            }
        }));
    }
    for h in handles {
        h.await
            .map_err(|e| Failure::refused(format!("seeding failed: {e}")))??;
    }
    let seed_secs = seeding.elapsed().as_secs_f64();
    eprintln!(
        "postgres: seeded {tasks} tasks with {} timers in {seed_secs:.1} s",
        tasks * TIMERS_PER_TASK
    );
    let outbox_before = store.count("outbox").await?;

    // Every timer is due 60 days from now (15 working days, then overdue and escalation).
    let now = Utc::now() + TimeDelta::days(60);
    let start = Instant::now();
    let mut handles = Vec::new();
    for i in 0..a.instances {
        let store = store.clone();
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
                }
            }
        }));
    }
    let mut batches = Vec::new();
    let mut per_instance = Vec::new();
    for h in handles {
        let b = h
            .await
            .map_err(|e| Failure::refused(format!("firing failed: {e}")))??;
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
        "tiendo bench timers (PostgreSQL, {} instances, {} tasks per batch)",
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
        return Err(Failure::refused(out));
    }
    Ok(out)
}
