//! One measured round: concurrent clients, each over a disjoint slice of the seeded tasks (so
//! the figures measure throughput, not version conflicts), each moving its next task through
//! the cycle as soon as the previous move is answered. Calls started during the warm-up are not
//! measured; the round ends after its measured seconds, or once its measured calls are taken, or
//! (a walk, such as the peers' six-step approval chain) once every task has reached its end.
//!
//! What a "move" is belongs to the caller: a store call, an HTTP request on the client's own
//! connection, or a read that moves nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::seed::BenchTask;
use crate::stats::{per_second, percentile_ms};
use crate::{Failure, progress};

/// When a round stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this many measured seconds (no call starts later).
    Seconds(u64),
    /// Once this many measured calls have been taken, all clients together.
    Calls(u64),
    /// Once every task has finished its walk ([`BenchTask::finished`]); the number is the moves
    /// that takes, for the progress bar. Use it with no warm-up: every move is measured.
    Finished(u64),
}

/// A round's warm-up and length.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub warmup: Duration,
    pub until: Until,
}

/// What a round measured.
#[derive(Debug, Default)]
pub struct Round {
    /// From the end of the warm-up until the last measured call returned.
    pub seconds: f64,
    /// The measured calls' latencies, sorted.
    pub latencies: Vec<Duration>,
    /// Every call taken, warm-up included (each move left an audit entry).
    pub done: u64,
}

impl Round {
    pub fn calls(&self) -> u64 {
        self.latencies.len() as u64
    }

    pub fn rate(&self) -> f64 {
        per_second(self.calls(), self.seconds)
    }

    /// The `p` percentile of the latencies in milliseconds, if anything was measured.
    pub fn ms(&self, p: f64) -> Option<f64> {
        percentile_ms(&self.latencies, p)
    }
}

/// Runs one client per connection in `conns` over disjoint contiguous slices of `tasks` (the
/// remainder spread over the first clients). `take` makes a task's next move on a connection
/// and gives back the connection and the task's new version (or why it failed, which stops the
/// round). Returns the round and the tasks with their new versions and states.
pub async fn round<C, F, Fut>(
    label: &str,
    tasks: Vec<BenchTask>,
    conns: Vec<C>,
    window: Window,
    take: F,
) -> Result<(Round, Vec<BenchTask>), Failure>
where
    C: Send + 'static,
    F: Fn(C, BenchTask) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = (C, Result<i64, String>)> + Send + 'static,
{
    let clients = conns.len();
    let started = Instant::now();
    let measure_from = started + window.warmup;
    let stop_at = match window.until {
        Until::Seconds(s) => Some(measure_from + Duration::from_secs(s)),
        Until::Calls(_) | Until::Finished(_) => None,
    };
    let budget = match window.until {
        Until::Calls(n) => Some(Arc::new(AtomicU64::new(n))),
        Until::Seconds(_) | Until::Finished(_) => None,
    };
    let failed = Arc::new(AtomicBool::new(false));
    let taken = Arc::new(AtomicU64::new(0));
    let ticker = show_progress(label, window, started, taken.clone(), budget.clone());

    let (each, extra) = (tasks.len() / clients, tasks.len() % clients);
    let mut rest = tasks.into_iter();
    let mut handles = Vec::with_capacity(clients);
    for (i, conn) in conns.into_iter().enumerate() {
        let slice: Vec<BenchTask> = rest.by_ref().take(each + usize::from(i < extra)).collect();
        let client = Client {
            measure_from,
            stop_at,
            budget: budget.clone(),
            failed: failed.clone(),
            taken: taken.clone(),
        };
        let take = take.clone();
        handles.push(tokio::spawn(async move {
            client.run(conn, slice, take).await.map_err(Failure::new)
        }));
    }
    let runs = join_all(handles, "client").await;
    if let Some((task, bar)) = ticker {
        task.abort();
        bar.finish_and_clear();
    }
    let mut back = Vec::new();
    let mut round = Round::default();
    let mut last_end: Option<Instant> = None;
    for run in runs? {
        back.extend(run.tasks);
        round.latencies.extend(run.latencies);
        round.done += run.done;
        last_end = last_end.max(run.last_end);
    }
    round.latencies.sort_unstable();
    round.seconds = last_end
        .map(|end| end.duration_since(measure_from).as_secs_f64())
        .unwrap_or(0.0);
    Ok((round, back))
}

/// Waits for every one of `handles`; the first failure (a task's own, or its panic) is the
/// answer. `what` names the tasks in the message of a panic.
pub async fn join_all<T>(
    handles: Vec<tokio::task::JoinHandle<Result<T, Failure>>>,
    what: &str,
) -> Result<Vec<T>, Failure> {
    let mut all = Vec::with_capacity(handles.len());
    let mut first_error = None;
    for h in handles {
        match h.await {
            Ok(Ok(t)) => all.push(t),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(Failure::new(format!("{what} failed: {e}")));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(all),
    }
}

/// A bar over the round (its seconds, or its measured calls), moved by a ticker rather than by
/// the clients, so that drawing costs the measured calls nothing; none if it would not show.
fn show_progress(
    label: &str,
    window: Window,
    started: Instant,
    taken: Arc<AtomicU64>,
    budget: Option<Arc<AtomicU64>>,
) -> Option<(tokio::task::JoinHandle<()>, indicatif::ProgressBar)> {
    let bar = match window.until {
        Until::Seconds(s) => progress::clock(window.warmup.as_secs() + s, label),
        Until::Calls(n) | Until::Finished(n) => progress::counter(n, label),
    };
    if bar.is_hidden() {
        return None;
    }
    let shown = bar.clone();
    let task = tokio::spawn(async move {
        loop {
            match (window.until, &budget) {
                (Until::Calls(n), Some(left)) => {
                    shown.set_position(n - left.load(Ordering::Relaxed));
                }
                (Until::Finished(_), _) => shown.set_position(taken.load(Ordering::Relaxed)),
                _ => {
                    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    shown.set_position(ms.min(shown.length().unwrap_or(ms)));
                    shown.set_message(format!("{} moves", taken.load(Ordering::Relaxed)));
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Some((task, bar))
}

/// One client's share of the round's settings.
struct Client {
    measure_from: Instant,
    stop_at: Option<Instant>,
    budget: Option<Arc<AtomicU64>>,
    failed: Arc<AtomicBool>,
    /// Moves taken by all clients, for the progress bar.
    taken: Arc<AtomicU64>,
}

/// What one client did.
struct ClientRun {
    tasks: Vec<BenchTask>,
    latencies: Vec<Duration>,
    done: u64,
    last_end: Option<Instant>,
}

impl Client {
    async fn run<C, F, Fut>(
        self,
        mut conn: C,
        mut tasks: Vec<BenchTask>,
        take: F,
    ) -> Result<ClientRun, String>
    where
        F: Fn(C, BenchTask) -> Fut,
        Fut: Future<Output = (C, Result<i64, String>)>,
    {
        let mut latencies = Vec::with_capacity(4096);
        let mut done = 0u64;
        let mut last_end = None;
        let mut next = 0usize;
        loop {
            if self.failed.load(Ordering::Relaxed) {
                break;
            }
            let started = Instant::now();
            if self.stop_at.is_some_and(|stop| started >= stop) {
                break;
            }
            let measured = started >= self.measure_from;
            if measured
                && let Some(budget) = &self.budget
                && budget
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
                    .is_err()
            {
                break;
            }
            // The next task round-robin that has a move left (a cycle's tasks always have).
            let len = tasks.len();
            let Some(k) = (0..len)
                .map(|d| (next + d) % len)
                .find(|&k| !tasks[k].finished())
            else {
                break;
            };
            let t = &mut tasks[k];
            next = (k + 1) % len;
            let (back, result) = take(conn, t.clone()).await;
            conn = back;
            match result {
                Ok(version) => t.moved(version),
                Err(e) => {
                    self.failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
            let ended = Instant::now();
            done += 1;
            self.taken.fetch_add(1, Ordering::Relaxed);
            if measured {
                latencies.push(ended - started);
                last_end = Some(ended);
            }
        }
        Ok(ClientRun {
            tasks,
            latencies,
            done,
            last_end,
        })
    }
}
