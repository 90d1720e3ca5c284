//! `tiendo-bench transitions`: store transitions per second and latency, SQLite and PostgreSQL.
//!
//! Per backend, a scratch database is seeded with tasks on the bench-only workflow
//! `bench/bench-cycle.toml`; then 1, 8 and 32 concurrent writers move them through real
//! `store.tasks().transition_as` calls, and it prints transitions/second and p50/p99 latency. Each writer
//! owns a disjoint slice of the tasks, so the figures measure throughput, not version conflicts.
//! At the end the audit log is counted and its hash chains verified: a benchmark that corrupts
//! data is useless.
//!
//! SQLite writes transitions with group commit (its only way); PostgreSQL without it, with it
//! (`--group-commit on`, rows `postgres-gc`) or both ways in one run (`--group-commit both`).
//!
//! On PostgreSQL the same SQL statements one transition issues are then replayed by `pgbench`
//! ([`crate::pgbench`]) with as many clients as the largest writer count, against the same
//! database, so that the ratio tiendo/pgbench is taken in one run.
//!
//! `--scenario approval` runs the peers' scenario instead (bench/peers/README.md): for each
//! writer count, `--tasks` fresh tasks on the six-step approval chain
//! `bench/peers/six-step-approval.toml`, each walked once to its end (one in ten returned for
//! revision once at step 3, back to step 2), every move measured; SpiffWorkflow runs the same chain from the
//! BPMN beside it.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::store::{Backend, Store};
use engine::workflow::Catalog;

use crate::drive::{self, Round, Until, Window};
use crate::scratch::{Backends, PgServer, Scratch};
use crate::seed::{self, BenchTask, People, Stage, Walk};
use crate::{Failure, pgbench, psql, stats};

/// `--scenario`: what the writers do with the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The two-state cycle `bench/bench-cycle.toml`, for the measured seconds (or transitions).
    Cycle,
    /// The peers' six-step approval chain `bench/peers/six-step-approval.toml`: `--tasks` fresh
    /// tasks per writer count, each walked once to its end, one in ten returned once at step 3.
    Approval,
}

/// `--group-commit`: how PostgreSQL writes transitions (SQLite always uses group commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupCommit {
    /// One transaction per transition (the instance default, `group_commit = false`).
    Off,
    /// Transitions that arrive together share one transaction (`group_commit = true`).
    On,
    /// Off, then on, each on a scratch database of its own; pgbench once, after both.
    Both,
}

impl GroupCommit {
    fn modes(self) -> &'static [bool] {
        match self {
            GroupCommit::Off => &[false],
            GroupCommit::On => &[true],
            GroupCommit::Both => &[false, true],
        }
    }
}

/// The label of a backend's rows: `postgres-gc` for PostgreSQL with group commit.
fn label(backend: Backend, group_commit: bool) -> &'static str {
    match (backend, group_commit) {
        (Backend::Postgres, true) => "postgres-gc",
        (b, _) => b.as_str(),
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What the writers do: the bench cycle, or the peers' six-step approval chain.
    #[arg(long, value_enum, default_value = "cycle")]
    pub scenario: Scenario,
    /// Which backend(s) to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    /// How many tasks to seed (each writer count shares them out in disjoint slices).
    #[arg(long, default_value_t = 10_000)]
    pub tasks: usize,
    /// Writer counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub writers: Vec<usize>,
    /// Measured seconds per writer count (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Instead of a duration: measure this many transitions per writer count.
    #[arg(long)]
    pub transitions: Option<u64>,
    /// Unmeasured warm-up before each writer count, in seconds.
    #[arg(long, default_value_t = 1)]
    pub warmup_seconds: u64,
    #[command(flatten)]
    pub pg: PgServer,
    /// PostgreSQL with group commit off (rows `postgres`), on (rows `postgres-gc`) or both.
    #[arg(long, value_enum, default_value = "off")]
    pub group_commit: GroupCommit,
    /// Do not replay the statements with pgbench.
    #[arg(long)]
    pub no_pgbench: bool,
    /// How many tasks are created at once while seeding.
    #[arg(long, default_value_t = seed::DEFAULT_CONCURRENCY)]
    pub seed_concurrency: usize,
    /// Keep the bench database (PostgreSQL) or file (SQLite) for inspection; prints where.
    #[arg(long)]
    pub keep: bool,
    /// Connections in the store's pool (default: the largest writer count + 8, so that no
    /// writer waits for a connection).
    #[arg(long)]
    pub connections: Option<u32>,
}

impl Args {
    pub fn check(&self) -> Result<(), String> {
        if self.writers.is_empty() || self.writers.contains(&0) {
            return Err("--writers: give one or more writer counts above 0, e.g. 1,8,32".into());
        }
        let most = self.most_writers();
        if self.tasks < most {
            return Err(format!(
                "--tasks {} is fewer than {most} writers: each writer needs tasks of its own",
                self.tasks
            ));
        }
        if self.transitions.is_none() && self.seconds == 0 {
            return Err("--seconds must be at least 1".into());
        }
        if self.transitions == Some(0) {
            return Err("--transitions must be at least 1".into());
        }
        if self.scenario == Scenario::Approval && self.transitions.is_some() {
            return Err(
                "--transitions does not fit --scenario approval: every task is walked to its end"
                    .into(),
            );
        }
        if self.seed_concurrency == 0 {
            return Err("--seed-concurrency must be at least 1".into());
        }
        if self.connections == Some(0) {
            return Err("--connections must be at least 1".into());
        }
        Ok(())
    }

    fn most_writers(&self) -> usize {
        self.writers.iter().copied().max().unwrap_or(1)
    }

    fn window(&self) -> Window {
        if self.scenario == Scenario::Approval {
            return Window {
                warmup: Duration::ZERO,
                until: Until::Finished(Walk::total_moves(self.tasks)),
            };
        }
        Window {
            warmup: Duration::from_secs(self.warmup_seconds),
            until: match self.transitions {
                Some(n) => Until::Calls(n),
                None => Until::Seconds(self.seconds),
            },
        }
    }

    fn pool_size(&self) -> u32 {
        if let Some(n) = self.connections {
            return n;
        }
        u32::try_from(self.most_writers().max(self.seed_concurrency) + 8).unwrap_or(u32::MAX)
    }
}

/// One measured writer count.
#[derive(Debug, Clone)]
struct Row {
    backend: &'static str,
    writers: usize,
    transitions: u64,
    seconds: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

impl Row {
    fn new(backend: &'static str, writers: usize, r: &Round) -> Row {
        Row {
            backend,
            writers,
            transitions: r.calls(),
            seconds: r.seconds,
            p50_ms: r.ms(0.50),
            p99_ms: r.ms(0.99),
        }
    }

    fn tps(&self) -> f64 {
        stats::per_second(self.transitions, self.seconds)
    }
}

/// What one backend's run produced, for the table and the notes under it.
#[derive(Debug, Default)]
struct BackendReport {
    rows: Vec<Row>,
    notes: Vec<String>,
    pgbench: Option<Row>,
}

pub async fn run(a: &Args) -> Result<String, Failure> {
    let catalog = seed::catalog()?;
    let mut reports = Vec::new();
    for &backend in a.backend.list() {
        let modes = match backend {
            Backend::Postgres => a.group_commit.modes(),
            Backend::Sqlite => &[true],
        };
        for (i, &gc) in modes.iter().enumerate() {
            let label = label(backend, gc);
            eprintln!("== {label}");
            let scratch = Scratch::create(backend, "transitions", &a.pg).await?;
            let last = i + 1 == modes.len();
            let report = bench_backend(a, &scratch, catalog.clone(), label, gc, last).await;
            scratch.finish(a.keep).await;
            reports.push(report?);
        }
    }
    Ok(render(a, &reports))
}

/// Seeds, measures every writer count, checks the audit log, then (PostgreSQL) replays with
/// pgbench once the store is closed.
async fn bench_backend(
    a: &Args,
    scratch: &Scratch,
    catalog: Arc<Catalog>,
    label: &'static str,
    group_commit: bool,
    with_pgbench: bool,
) -> Result<BackendReport, Failure> {
    let store = Store::connect(&scratch.url, catalog, a.pool_size())
        .await?
        .with_group_commit(group_commit);
    store.migrate().await?;
    let mut report = BackendReport::default();
    let measured = measure_store(a, scratch, &store, label, &mut report).await;
    if let Some(s) = store.group_commit_stats() {
        report.notes.push(format!(
            "{label}: group commit: {} transitions in {} transactions ({:.1} per transaction on average, at most {}; {} by one statement a batch)",
            s.transitions,
            s.batches,
            s.transitions as f64 / s.batches.max(1) as f64,
            s.largest,
            s.set_based
        ));
    }
    store.close().await;
    measured?;
    if scratch.backend == Backend::Postgres && with_pgbench {
        if a.scenario == Scenario::Approval {
            report.notes.push(
                "pgbench: not run (its script replays the bench cycle, not the approval chain)"
                    .to_string(),
            );
        } else if a.no_pgbench {
            report
                .notes
                .push("pgbench: not run (--no-pgbench)".to_string());
        } else {
            let replay = pgbench::Replay {
                tasks: a.tasks,
                clients: a.most_writers(),
                seconds: a.seconds,
                warmup_seconds: a.warmup_seconds,
                transactions: a.transitions,
            };
            match pgbench::replay(&replay, &scratch.url).await {
                Ok(run) => {
                    report.notes.push(format!(
                        "pgbench: its own summary over warm-up and measurement: {} transactions, \
                         tps = {:.1} (without initial connection time)",
                        run.own_processed, run.own_tps
                    ));
                    report.pgbench = Some(Row::new("pgbench", replay.clients, &run.round));
                }
                Err(note) => report.notes.push(format!("pgbench: {note}")),
            }
        }
    }
    Ok(report)
}

/// The measurement, the same on both backends.
async fn measure_store(
    a: &Args,
    scratch: &Scratch,
    store: &Store,
    backend: &'static str,
    report: &mut BackendReport,
) -> Result<(), Failure> {
    let pg_url = (scratch.backend == Backend::Postgres).then_some(scratch.url.as_str());
    let people = seed::directory(store).await?;
    let approval = a.scenario == Scenario::Approval;
    let mut tasks = Vec::new();
    let mut seeded: u64 = 0;
    if !approval {
        tasks = seed_tasks(a, store, &people, backend, report).await?;
        // Each task: its creation and `bat_dau`.
        seeded = 2 * a.tasks as u64;
        if let Some(url) = pg_url {
            pgbench::prepare(url).await?;
        }
    }
    let mut total: u64 = 0;
    for &w in &a.writers {
        if approval {
            // Fresh tasks at the chain's first step for every writer count: each walk is taken once.
            tasks = seed_tasks(a, store, &people, backend, report).await?;
            seeded += a.tasks as u64;
        }
        if let Some(url) = pg_url {
            psql::checkpoint(url).await;
        }
        let (round, back) = writers(a, store, &people, tasks, w, backend).await?;
        tasks = back;
        total += round.done;
        if approval
            && (round.calls() != Walk::total_moves(a.tasks) || tasks.iter().any(|t| !t.finished()))
        {
            return Err(Failure::new(format!(
                "{backend}, {w} writer(s): {} moves measured, {} expected, and every task at its end: the walk went wrong",
                round.calls(),
                Walk::total_moves(a.tasks)
            )));
        }
        let row = Row::new(backend, w, &round);
        eprintln!(
            "{backend}: {w} writer(s): {} transitions in {:.2} s = {:.0}/s, p50 {} ms, p99 {} ms",
            row.transitions,
            row.seconds,
            row.tps(),
            ms(row.p50_ms),
            ms(row.p99_ms)
        );
        report.rows.push(row);
    }
    // Integrity: every transition left exactly one audit entry and every chain checks out.
    let counted = store.count("audit_log").await?;
    let verify = store.audit().verify().await?;
    let expected = seeded + total;
    let ok = u64::try_from(counted).ok() == Some(expected) && verify.broken.is_none();
    let note = format!(
        "{backend}: audit: {seeded} seed entries + {total} transitions = {expected} expected, {counted} counted; hash chains: {}",
        match &verify.broken {
            None => format!("OK ({} tasks, {} entries)", verify.tasks, verify.entries),
            Some(b) => format!("BROKEN: {b:?}"),
        }
    );
    eprintln!("{note}");
    if !ok {
        return Err(Failure::new(format!(
            "{note}\nThe benchmark left the store inconsistent: its figures are void."
        )));
    }
    report.notes.push(note);
    Ok(())
}

/// Seeds `--tasks` tasks for the scenario, with a note of how long it took.
async fn seed_tasks(
    a: &Args,
    store: &Store,
    people: &People,
    backend: &str,
    report: &mut BackendReport,
) -> Result<Vec<BenchTask>, Failure> {
    let (stage, what) = match a.scenario {
        Scenario::Cycle => (Stage::Drafting, "create + bat_dau"),
        Scenario::Approval => (Stage::Approval, "create, on the six-step approval chain"),
    };
    let started = Instant::now();
    let tasks = seed::tasks(store, people, a.tasks, a.seed_concurrency, stage).await?;
    let took = started.elapsed().as_secs_f64();
    let seed_note = format!(
        "{backend}: seeded {} tasks ({what}, {} at a time) in {took:.1} s ({:.0} tasks/s)",
        a.tasks,
        a.seed_concurrency,
        a.tasks as f64 / took.max(f64::EPSILON)
    );
    eprintln!("{seed_note}");
    report.notes.push(seed_note);
    Ok(tasks)
}

/// `w` writers, each a loop of store transitions over its slice of the tasks.
async fn writers(
    a: &Args,
    store: &Store,
    people: &People,
    tasks: Vec<BenchTask>,
    w: usize,
    backend: &str,
) -> Result<(Round, Vec<BenchTask>), Failure> {
    let (store, people) = (store.clone(), Arc::new(people.clone()));
    let take = move |(): (), t: BenchTask| {
        let (store, people) = (store.clone(), people.clone());
        async move { ((), t.move_in(&store, &people, false).await) }
    };
    drive::round(
        &format!("{backend}, {w} writer(s)"),
        tasks,
        vec![(); w],
        a.window(),
        take,
    )
    .await
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into())
}

fn render(a: &Args, reports: &[BackendReport]) -> String {
    let mut out = String::new();
    let writers: Vec<String> = a.writers.iter().map(usize::to_string).collect();
    match a.scenario {
        Scenario::Cycle => {
            let _ = writeln!(
                out,
                "tiendo-bench transitions: {} tasks, writers {}, {} (after {} s warm-up each)",
                a.tasks,
                writers.join(","),
                match a.transitions {
                    Some(n) => format!("{n} transitions per writer count"),
                    None => format!("{} s per writer count", a.seconds),
                },
                a.warmup_seconds
            );
            let _ = writeln!(
                out,
                "workflow bench-cycle: trinh writes the task, 1 audit entry, 5 timers, 2 notifications; \
                 tra_lai writes the task, 1 audit entry, cancels the timers, 1 notification"
            );
        }
        Scenario::Approval => {
            let _ = writeln!(
                out,
                "tiendo-bench transitions --scenario approval: {} fresh tasks per writer count, writers {}, \
                 each walked to its end ({} moves: six steps, one return for revision in {}), no warm-up",
                a.tasks,
                writers.join(","),
                Walk::total_moves(a.tasks),
                Walk::RETURN_EVERY
            );
            let _ = writeln!(
                out,
                "workflow phe-duyet-sau-buoc (bench/peers/six-step-approval.toml): every move writes the task, \
                 1 audit entry, 1 or 2 notifications; no deadlines, no timers"
            );
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<9} {:>7} {:>12} {:>8} {:>9} {:>7} {:>7}",
        "backend", "writers", "transitions", "seconds", "tps", "p50 ms", "p99 ms"
    );
    for r in reports
        .iter()
        .flat_map(|rep| rep.rows.iter().chain(rep.pgbench.iter()))
    {
        let _ = writeln!(
            out,
            "{:<9} {:>7} {:>12} {:>8.2} {:>9.1} {:>7} {:>7}",
            r.backend,
            r.writers,
            r.transitions,
            r.seconds,
            r.tps(),
            ms(r.p50_ms),
            ms(r.p99_ms)
        );
    }
    out.push('\n');
    for rep in reports {
        for n in &rep.notes {
            let _ = writeln!(out, "{n}");
        }
    }
    // Issue 18: at least pgbench's rate with group commit off, 1.5 times it with it on.
    if let Some(pg) = reports.iter().find_map(|r| r.pgbench.as_ref()) {
        for tiendo in reports
            .iter()
            .flat_map(|r| r.rows.iter())
            .filter(|r| r.backend.starts_with("postgres") && r.writers == pg.writers)
        {
            let target = if tiendo.backend == "postgres-gc" {
                1.5
            } else {
                1.0
            };
            let ratio = tiendo.tps() / pg.tps().max(f64::EPSILON);
            let _ = writeln!(
                out,
                "{}: tiendo/pgbench at {} writers = {:.1}/{:.1} tps = {ratio:.2} (target ≥ {target:.1}: {})",
                tiendo.backend,
                pg.writers,
                tiendo.tps(),
                pg.tps(),
                if ratio >= target { "met" } else { "NOT met" }
            );
        }
    }
    targets(&mut out, reports);
    out
}

fn targets(out: &mut String, reports: &[BackendReport]) {
    for r in reports.iter().flat_map(|rep| rep.rows.iter()) {
        let target = match (r.backend, r.writers) {
            ("postgres" | "postgres-gc", 32) => 2000.0,
            ("sqlite", _) => 1000.0,
            _ => continue,
        };
        let _ = writeln!(
            out,
            "target: {} at {} writers ≥ {target:.0} tps: {} ({:.0})",
            r.backend,
            r.writers,
            if r.tps() >= target { "met" } else { "NOT met" },
            r.tps()
        );
    }
}
