//! `tiendo bench …`: benchmarks that print measured figures.
//!
//! `tiendo bench transitions` seeds a fresh database per backend (an SQLite file in a temporary
//! folder; a `tiendo_bench_<random>` database created on the PostgreSQL server and dropped at the
//! end) with tasks on the bench-only workflow `bench/bench-cycle.toml`, then has 1, 8 and 32
//! concurrent writers move them through real [`Store::transition`] calls and prints
//! transitions/second and p50/p99 latency. Each writer owns a disjoint slice of the tasks, so the
//! figures measure throughput, not version conflicts. At the end the audit log is counted and its
//! hash chains verified: a benchmark that corrupts data is useless.
//!
//! On PostgreSQL the same SQL statements one transition issues are then replayed by `pgbench`
//! (`bench/transition.pgbench.sql`, embedded below) with as many clients as the largest writer
//! count, against the same database, so that the ratio tiendo/pgbench is taken in one run. The
//! bench database is created, filled with a helper table and dropped with `psql`.
//!
//! The global `--database-url` is not used: the benchmark never touches a real database.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use adapters::store::{NewTask, NewUser, Store, TransitionRequest, sqlite_url};
use chrono::{Datelike, Utc};
use engine::Role;
use engine::decide::Actor;
use engine::domain::FundingSource;
use engine::workflow::{Catalog, Source};

use super::{Ctx, Failure};

/// The bench-only workflow: a two-state cycle (`trinh` / `tra_lai`) with a deadline.
const BENCH_WORKFLOW: &str = include_str!("../../bench/bench-cycle.toml");
const BENCH_WORKFLOW_NAME: &str = "bench-cycle";
/// The statements of one store transition, for `pgbench -f`.
const PGBENCH_SCRIPT: &str = include_str!("../../bench/transition.pgbench.sql");

const UNIT_ID: &str = "bench-don-vi";
const DONVI_USER: &str = "bench.donvi";
const STC_USER: &str = "bench.stc";
const PLAN_NUMBER: &str = "999/KH-BENCH";
/// A return-for-revision comment of a realistic length.
const RETURN_COMMENT: &str = "Đề nghị đơn vị bổ sung báo giá của ít nhất 03 nhà cung cấp và thuyết minh chi tiết khối lượng, đơn giá của từng hạng mục trong dự toán.";

#[derive(Debug, clap::Subcommand)]
pub enum BenchCmd {
    /// Transitions per second and latency on SQLite and PostgreSQL.
    Transitions(TransitionsArgs),
    /// Transitions per second through the HTTP API, against the store in the same run.
    Api(super::bench_api::ApiArgs),
    /// Due deadline timers fired into the outbox per second on PostgreSQL, and the lag.
    Timers(super::bench_timers::TimersArgs),
    /// Plan import and the progress report over a synthetic plan (default 100,000 tasks).
    Import(super::bench_import::ImportArgs),
    /// The web pages (task list, my turn, task page) against the API, p50/p95, over the
    /// synthetic plan (default 100,000 tasks).
    Ui(super::bench_ui::UiArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, clap::Args)]
pub struct TransitionsArgs {
    /// Which backend(s) to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BackendChoice,
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
    /// The PostgreSQL server; a fresh database is created on it and dropped at the end. A path
    /// names the database to connect to for that (default: postgres).
    #[arg(
        long,
        env = "TIENDO_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub pg_url: String,
    /// Do not replay the statements with pgbench.
    #[arg(long)]
    pub no_pgbench: bool,
    /// How many tasks are created at once while seeding.
    #[arg(long, default_value_t = 16)]
    pub seed_concurrency: usize,
    /// Keep the bench database (PostgreSQL) or file (SQLite) for inspection; prints where.
    #[arg(long)]
    pub keep: bool,
    /// Connections in the store's pool (default: the largest writer count + 8, so that no
    /// writer waits for a connection).
    #[arg(long)]
    pub connections: Option<u32>,
}

pub async fn run(cmd: &BenchCmd, _ctx: &Ctx<'_>) -> Result<String, Failure> {
    match cmd {
        BenchCmd::Transitions(args) => transitions(args).await,
        BenchCmd::Api(args) => super::bench_api::run(args).await,
        BenchCmd::Timers(args) => super::bench_timers::timers(args).await,
        BenchCmd::Import(args) => super::bench_import::run(args).await,
        BenchCmd::Ui(args) => super::bench_ui::run(args).await,
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
    fn tps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.transitions as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// What one backend's run produced, for the table and the notes under it.
#[derive(Debug, Default)]
struct BackendReport {
    rows: Vec<Row>,
    notes: Vec<String>,
    pgbench: Option<Row>,
}

async fn transitions(a: &TransitionsArgs) -> Result<String, Failure> {
    check_args(a)?;
    let catalog = Arc::new(bench_catalog()?);
    let backends: &[&'static str] = match a.backend {
        BackendChoice::Sqlite => &["sqlite"],
        BackendChoice::Postgres => &["postgres"],
        BackendChoice::Both => &["sqlite", "postgres"],
    };
    let mut reports = Vec::new();
    for &backend in backends {
        eprintln!("== {backend}");
        let report = if backend == "sqlite" {
            bench_sqlite(a, catalog.clone()).await?
        } else {
            bench_postgres(a, catalog.clone()).await?
        };
        reports.push(report);
    }
    Ok(render(a, &reports))
}

fn check_args(a: &TransitionsArgs) -> Result<(), Failure> {
    if a.writers.is_empty() || a.writers.contains(&0) {
        return Err(Failure::usage(
            "--writers: give one or more writer counts above 0, e.g. 1,8,32",
        ));
    }
    let most = a.writers.iter().copied().max().unwrap_or(1);
    if a.tasks < most {
        return Err(Failure::usage(format!(
            "--tasks {} is fewer than {most} writers: each writer needs tasks of its own",
            a.tasks
        )));
    }
    if a.transitions.is_none() && a.seconds == 0 {
        return Err(Failure::usage("--seconds must be at least 1"));
    }
    if a.transitions == Some(0) {
        return Err(Failure::usage("--transitions must be at least 1"));
    }
    if a.seed_concurrency == 0 {
        return Err(Failure::usage("--seed-concurrency must be at least 1"));
    }
    if a.connections == Some(0) {
        return Err(Failure::usage("--connections must be at least 1"));
    }
    Ok(())
}

/// The shipped definitions (for the calendars) plus the bench workflow.
pub(crate) fn bench_catalog() -> Result<Catalog, Failure> {
    let mut sources = adapters::definitions::embedded();
    sources.push(Source {
        path: "bench-cycle.toml".into(),
        text: BENCH_WORKFLOW.into(),
    });
    Catalog::load(&sources).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        Failure::refused(format!(
            "the bench workflow does not load:\n{}",
            list.join("\n")
        ))
    })
}

/// A name unlikely to be taken: process id and the clock's nanoseconds.
pub(crate) fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}_{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

fn pool_size(a: &TransitionsArgs) -> u32 {
    if let Some(n) = a.connections {
        return n;
    }
    let most = a.writers.iter().copied().max().unwrap_or(1);
    u32::try_from(most.max(a.seed_concurrency) + 8).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

async fn bench_sqlite(
    a: &TransitionsArgs,
    catalog: Arc<Catalog>,
) -> Result<BackendReport, Failure> {
    let dir = std::env::temp_dir().join(format!("tiendo-bench-{}", unique_suffix()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::refused(format!("cannot create {}: {e}", dir.display())))?;
    let file = dir.join("bench.db");
    let result = async {
        let store = Store::connect(&sqlite_url(&file), catalog, pool_size(a)).await?;
        store.migrate().await?;
        let mut report = BackendReport::default();
        let outcome = bench_store(a, "sqlite", &store, None, &mut report).await;
        store.close().await;
        outcome.map(|()| report)
    }
    .await;
    if a.keep {
        eprintln!("sqlite: kept {}", file.display());
    } else if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("sqlite: could not remove {}: {e}", dir.display());
    }
    result
}

async fn bench_postgres(
    a: &TransitionsArgs,
    catalog: Arc<Catalog>,
) -> Result<BackendReport, Failure> {
    let name = format!("tiendo_bench_{}", unique_suffix());
    let (admin, url) = pg_urls(&a.pg_url, &name);
    psql(&admin, &format!("CREATE DATABASE {name}")).await?;
    eprintln!("postgres: created database {name}");
    let result = async {
        let store = Store::connect(&url, catalog, pool_size(a)).await?;
        store.migrate().await?;
        let mut report = BackendReport::default();
        let outcome = async {
            bench_store(a, "postgres", &store, Some(&url), &mut report).await?;
            // pgbench appends audit entries with made-up hashes: it runs only once the audit log
            // has been counted and verified, on connections of its own.
            store.close().await;
            if a.no_pgbench {
                report
                    .notes
                    .push("pgbench: not run (--no-pgbench)".to_string());
                return Ok(());
            }
            let clients = a.writers.iter().copied().max().unwrap_or(1);
            match pgbench(a, &url, clients).await {
                Ok(run) => {
                    report.notes.push(format!(
                        "pgbench: its own summary over warm-up and measurement: {} transactions, \
                         tps = {:.1} (without initial connection time)",
                        run.own_processed, run.own_tps
                    ));
                    report.pgbench = Some(run.row);
                }
                Err(note) => report.notes.push(format!("pgbench: {note}")),
            }
            Ok::<(), Failure>(())
        }
        .await;
        store.close().await;
        outcome.map(|()| report)
    }
    .await;
    if a.keep {
        eprintln!("postgres: kept database {url}");
    } else {
        match psql(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await
        {
            Ok(_) => eprintln!("postgres: dropped database {name}"),
            Err(e) => eprintln!("postgres: could not drop database {name}: {}", e.message),
        }
    }
    result
}

/// The admin URL (the database named in `server`, or `postgres`) and the URL of database `db`
/// on the same server, keeping any `?options`.
pub(crate) fn pg_urls(server: &str, db: &str) -> (String, String) {
    let (main, query) = match server.split_once('?') {
        Some((m, q)) => (m, format!("?{q}")),
        None => (server, String::new()),
    };
    let after_scheme = main.find("://").map(|i| i + 3).unwrap_or(0);
    let (base, admin_db) = match main[after_scheme..].find('/') {
        Some(i) => {
            let (b, path) = main.split_at(after_scheme + i);
            let path = path.trim_start_matches('/');
            (b, if path.is_empty() { "postgres" } else { path })
        }
        None => (main, "postgres"),
    };
    (
        format!("{base}/{admin_db}{query}"),
        format!("{base}/{db}{query}"),
    )
}

/// Runs SQL with `psql` (the binary has no SQL access of its own outside the store).
pub(crate) async fn psql(url: &str, sql: &str) -> Result<String, Failure> {
    let out = tokio::process::Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .await
        .map_err(|e| {
            Failure::refused(format!(
                "cannot run psql: {e}. The PostgreSQL benchmark creates and drops its database \
                 with the PostgreSQL client tools (psql, pgbench): install them or use --backend sqlite."
            ))
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Failure::refused(format!(
            "psql failed on `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// The measurement, the same on both backends
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) struct BenchTask {
    pub(crate) id: String,
    /// In `soan_ho_so` (next: `trinh`), otherwise in `tham_dinh` (next: `tra_lai`).
    drafting: bool,
}

async fn bench_store(
    a: &TransitionsArgs,
    backend: &'static str,
    store: &Store,
    pg_url: Option<&str>,
    report: &mut BackendReport,
) -> Result<(), Failure> {
    let (donvi, stc) = seed_directory(store).await?;
    let started = Instant::now();
    let mut tasks = seed_tasks(store, a.tasks, a.seed_concurrency, &donvi).await?;
    let took = started.elapsed().as_secs_f64();
    let seed_note = format!(
        "{backend}: seeded {} tasks (create + bat_dau, {} at a time) in {took:.1} s ({:.0} tasks/s)",
        a.tasks,
        a.seed_concurrency,
        a.tasks as f64 / took.max(f64::EPSILON)
    );
    eprintln!("{seed_note}");
    report.notes.push(seed_note);
    if let Some(url) = pg_url {
        // Fresh statistics for both tiendo and pgbench, and the helper table pgbench picks its
        // tasks from (in the bench database only: never part of the schema).
        psql(
            url,
            "CREATE TABLE bench_ids (n INT PRIMARY KEY, task_id TEXT NOT NULL); \
             INSERT INTO bench_ids SELECT row_number() OVER (ORDER BY created_at, id), id FROM tasks; \
             ANALYZE",
        )
        .await?;
    }
    let mut total: u64 = 0;
    for &w in &a.writers {
        if let Some(url) = pg_url {
            checkpoint(url).await;
        }
        let (row, done, back) = measure(a, backend, store, &donvi, &stc, tasks, w).await?;
        tasks = back;
        total += done;
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
    let seeded = 2 * a.tasks as u64;
    let counted = store.count("audit_log").await?;
    let verify = store.verify_audit().await?;
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
        return Err(Failure::refused(format!(
            "{note}\nThe benchmark left the store inconsistent: its figures are void."
        )));
    }
    report.notes.push(note);
    Ok(())
}

pub(crate) async fn seed_directory(store: &Store) -> Result<(Actor, Actor), Failure> {
    let now = Utc::now();
    store
        .add_unit(UNIT_ID, "Trung tâm đo hiệu năng (thử nghiệm)", None, now)
        .await?;
    for (username, display, unit, role) in [
        (
            DONVI_USER,
            "Cán bộ đơn vị (đo hiệu năng)",
            Some(UNIT_ID),
            Role::DonVi,
        ),
        (
            STC_USER,
            "Chuyên viên Sở Tài chính (đo hiệu năng)",
            None,
            Role::SoTaiChinh,
        ),
    ] {
        store
            .add_user(
                NewUser {
                    username: username.into(),
                    display_name: display.into(),
                    email: Some(format!("{username}@haiphong.gov.vn")),
                    unit_id: unit.map(str::to_string),
                    roles: vec![role],
                },
                now,
            )
            .await?;
    }
    let year = engine::time::local_date(now).year().clamp(2000, 2100);
    store
        .add_plan(
            PLAN_NUMBER,
            year,
            "Kế hoạch ứng dụng công nghệ thông tin (đo hiệu năng)",
            None,
            now,
        )
        .await?;
    Ok((store.actor(DONVI_USER).await?, store.actor(STC_USER).await?))
}

/// Creates `n` tasks, `concurrency` at a time, and moves each to `soan_ho_so`.
pub(crate) async fn seed_tasks(
    store: &Store,
    n: usize,
    concurrency: usize,
    donvi: &Actor,
) -> Result<Vec<BenchTask>, Failure> {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..concurrency.min(n) {
        let (store, donvi, next, failed) =
            (store.clone(), donvi.clone(), next.clone(), failed.clone());
        handles.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || failed.load(Ordering::Relaxed) {
                    return Ok::<_, Failure>(made);
                }
                let step = async {
                    let new = NewTask {
                        plan: PLAN_NUMBER.into(),
                        unit_id: UNIT_ID.into(),
                        name: format!(
                            "Nâng cấp hệ thống thông tin phục vụ đo hiệu năng, hạng mục số {:05}",
                            i + 1
                        ),
                        funding_source: FundingSource::SuNghiepCntt,
                        kind: BENCH_WORKFLOW_NAME.into(),
                        period: Some("2026-2027".into()),
                        is_rental: false,
                        budget: Vec::new(),
                    };
                    let created = store.create_task(&new, &donvi, None, Utc::now()).await?;
                    store
                        .transition(
                            &request(&created.task_id, "bat_dau", None),
                            &donvi,
                            Utc::now(),
                        )
                        .await?;
                    Ok::<_, Failure>(created.task_id)
                };
                match step.await {
                    Ok(id) => made.push((i, id)),
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    let mut first_error = None;
    for h in handles {
        match h.await {
            Ok(Ok(made)) => all.extend(made),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(Failure::refused(format!("seeding task failed: {e}")));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(Failure::refused(format!("seeding failed: {}", e.message)));
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all
        .into_iter()
        .map(|(_, id)| BenchTask { id, drafting: true })
        .collect())
}

pub(crate) fn request(task_id: &str, transition: &str, comment: Option<&str>) -> TransitionRequest {
    TransitionRequest {
        task_id: task_id.to_string(),
        transition: transition.to_string(),
        comment: comment.map(str::to_string),
        document_ids: Vec::new(),
        expected_version: None,
        idempotency_key: None,
        automatic: false,
    }
}

/// What one writer did.
struct WriterRun {
    tasks: Vec<BenchTask>,
    /// Latencies of the calls started after the warm-up.
    latencies: Vec<Duration>,
    /// Every transition taken, warm-up included (each left an audit entry).
    done: u64,
    /// When the last measured call returned.
    last_end: Option<Instant>,
}

struct Plan {
    store: Store,
    donvi: Actor,
    stc: Actor,
    measure_from: Instant,
    /// `--seconds`: when to stop starting calls.
    stop_at: Option<Instant>,
    /// `--transitions`: how many measured calls remain to be claimed.
    budget: Option<AtomicU64>,
    failed: AtomicBool,
}

async fn writer(plan: Arc<Plan>, mut tasks: Vec<BenchTask>) -> Result<WriterRun, Failure> {
    let mut latencies = Vec::with_capacity(4096);
    let mut done = 0u64;
    let mut last_end = None;
    let mut next = 0usize;
    loop {
        if plan.failed.load(Ordering::Relaxed) {
            break;
        }
        let started = Instant::now();
        if plan.stop_at.is_some_and(|stop| started >= stop) {
            break;
        }
        let measured = started >= plan.measure_from;
        if measured
            && let Some(budget) = &plan.budget
            && budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
                .is_err()
        {
            break;
        }
        let len = tasks.len();
        let t = &mut tasks[next];
        next = (next + 1) % len;
        let (req, actor) = if t.drafting {
            (request(&t.id, "trinh", None), &plan.donvi)
        } else {
            (request(&t.id, "tra_lai", Some(RETURN_COMMENT)), &plan.stc)
        };
        if let Err(e) = plan.store.transition(&req, actor, Utc::now()).await {
            plan.failed.store(true, Ordering::Relaxed);
            return Err(Failure::refused(format!(
                "transition `{}` on task {} failed: {e}",
                req.transition, t.id
            )));
        }
        let ended = Instant::now();
        t.drafting = !t.drafting;
        done += 1;
        if measured {
            latencies.push(ended - started);
            last_end = Some(ended);
        }
    }
    Ok(WriterRun {
        tasks,
        latencies,
        done,
        last_end,
    })
}

/// Runs `w` writers over disjoint slices of `tasks`; returns the row, the number of transitions
/// taken (warm-up included) and the tasks with their states.
async fn measure(
    a: &TransitionsArgs,
    backend: &'static str,
    store: &Store,
    donvi: &Actor,
    stc: &Actor,
    tasks: Vec<BenchTask>,
    w: usize,
) -> Result<(Row, u64, Vec<BenchTask>), Failure> {
    let measure_from = Instant::now() + Duration::from_secs(a.warmup_seconds);
    let plan = Arc::new(Plan {
        store: store.clone(),
        donvi: donvi.clone(),
        stc: stc.clone(),
        measure_from,
        stop_at: match a.transitions {
            Some(_) => None,
            None => Some(measure_from + Duration::from_secs(a.seconds)),
        },
        budget: a.transitions.map(AtomicU64::new),
        failed: AtomicBool::new(false),
    });
    // Contiguous slices, the remainder spread over the first writers.
    let mut slices: Vec<Vec<BenchTask>> = Vec::with_capacity(w);
    let (each, extra) = (tasks.len() / w, tasks.len() % w);
    let mut rest = tasks.into_iter();
    for i in 0..w {
        slices.push(rest.by_ref().take(each + usize::from(i < extra)).collect());
    }
    let handles: Vec<_> = slices
        .into_iter()
        .map(|slice| tokio::spawn(writer(plan.clone(), slice)))
        .collect();
    let mut back = Vec::new();
    let mut latencies = Vec::new();
    let mut done = 0u64;
    let mut last_end: Option<Instant> = None;
    let mut first_error = None;
    for h in handles {
        match h.await {
            Ok(Ok(run)) => {
                back.extend(run.tasks);
                latencies.extend(run.latencies);
                done += run.done;
                last_end = last_end.max(run.last_end);
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(Failure::refused(format!("writer failed: {e}")));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    latencies.sort_unstable();
    let seconds = last_end
        .map(|end| end.duration_since(measure_from).as_secs_f64())
        .unwrap_or(0.0);
    let row = Row {
        backend,
        writers: w,
        transitions: latencies.len() as u64,
        seconds,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
    };
    Ok((row, done, back))
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
fn percentile_ms(sorted: &[Duration], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1].as_secs_f64() * 1000.0)
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into())
}

// ---------------------------------------------------------------------------------------------
// pgbench
// ---------------------------------------------------------------------------------------------

/// pgbench's figures, measured like tiendo's.
struct PgbenchRun {
    row: Row,
    /// pgbench's own `tps = … (without initial connection time)`, over the whole run.
    own_tps: f64,
    own_processed: u64,
}

/// Replays the statements of a transition with pgbench on the bench database; `Err` is a note
/// to print (pgbench missing or failing does not void tiendo's own figures).
async fn pgbench(a: &TransitionsArgs, url: &str, clients: usize) -> Result<PgbenchRun, String> {
    let by_hand = format!(
        "to take the ratio by hand, keep the database with --keep and run: pgbench -n -M prepared -c {clients} -j 2 -T {} \
         -D tasks={} -D clients={clients} -f bench/transition.pgbench.sql URL",
        a.seconds, a.tasks
    );
    let dir = std::env::temp_dir().join(format!("tiendo-pgbench-{}", unique_suffix()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let result = run_pgbench(a, url, clients, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result.map_err(|e| format!("{e}; {by_hand}"))
}

/// Starts every PostgreSQL measurement right after a checkpoint, so that none of them (tiendo's
/// or pgbench's) pays for a timed checkpoint and its full-page writes while the others do not.
async fn checkpoint(url: &str) {
    if let Err(e) = psql(url, "CHECKPOINT").await {
        eprintln!(
            "postgres: CHECKPOINT failed, figures may include one: {}",
            e.message
        );
    }
}

/// Runs pgbench once for warm-up plus measurement, logging every transaction, and measures from
/// the log exactly as tiendo's writers are measured: the transactions started after the
/// warm-up, until the last one ends, on the same (by then warm) connections.
async fn run_pgbench(
    a: &TransitionsArgs,
    url: &str,
    clients: usize,
    dir: &std::path::Path,
) -> Result<PgbenchRun, String> {
    let script = dir.join("transition.pgbench.sql");
    std::fs::write(&script, PGBENCH_SCRIPT)
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let jobs = clients.min(2);
    let limit = match a.transitions {
        // Enough for the warm-up too; whatever is left after the measured ones is ignored.
        Some(n) => format!("--transactions={}", n.div_ceil(clients as u64) * 2),
        None => format!("--time={}", a.seconds + a.warmup_seconds),
    };
    let mut cmd = tokio::process::Command::new("pgbench");
    cmd.args(["-n", "-M", "prepared"])
        .arg(format!("--client={clients}"))
        .arg(format!("--jobs={jobs}"))
        .arg(&limit)
        .arg(format!("--define=tasks={}", a.tasks))
        .arg(format!("--define=clients={clients}"))
        .arg(format!("--file={}", script.display()))
        .arg("--log")
        .arg(format!(
            "--log-prefix={}",
            dir.join("pgbench_log").display()
        ))
        .arg(url)
        .current_dir(dir);
    eprintln!(
        "postgres: CHECKPOINT; pgbench -n -M prepared -c {clients} -j {jobs} {limit} -D tasks={} -D clients={clients} \
         -f bench/transition.pgbench.sql -l (first {} s are warm-up, as for tiendo)",
        a.tasks, a.warmup_seconds
    );
    checkpoint(url).await;
    let out = match cmd.output().await {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("pgbench is not on PATH (install the PostgreSQL client tools)".into());
        }
        Err(e) => return Err(format!("cannot run pgbench: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "pgbench failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    let own_tps = stdout
        .lines()
        .find(|l| l.starts_with("tps = ") && l.contains("without initial connection time"))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| {
            format!(
                "no `tps = … (without initial connection time)` line in pgbench's output: {stdout}"
            )
        })?;
    let own_processed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|v| v.split(['/', ' ']).next())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("no transaction count in pgbench's output: {stdout}"))?;
    // One line per transaction: client_id transaction_no latency_us script_no epoch_s epoch_us
    // (the end of the transaction).
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("cannot read pgbench logs: {e}"))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let is_log = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("pgbench_log"));
        if !is_log {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        spans.extend(text.lines().filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let latency = f.get(2)?.parse::<f64>().ok()? / 1e6;
            let end = f.get(4)?.parse::<f64>().ok()? + f.get(5)?.parse::<f64>().ok()? / 1e6;
            Some((end - latency, end))
        }));
    }
    let first = spans
        .iter()
        .map(|s| s.0)
        .min_by(f64::total_cmp)
        .ok_or("pgbench wrote no transaction log")?;
    let measure_from = first + a.warmup_seconds as f64;
    let mut measured: Vec<(f64, f64)> = spans.into_iter().filter(|s| s.0 >= measure_from).collect();
    if let Some(n) = a.transitions {
        measured.sort_by(|x, y| x.0.total_cmp(&y.0));
        measured.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let last_end = measured
        .iter()
        .map(|s| s.1)
        .max_by(f64::total_cmp)
        .unwrap_or(measure_from);
    let mut latencies: Vec<Duration> = measured
        .iter()
        .map(|(start, end)| Duration::from_secs_f64((end - start).max(0.0)))
        .collect();
    latencies.sort_unstable();
    Ok(PgbenchRun {
        row: Row {
            backend: "pgbench",
            writers: clients,
            transitions: latencies.len() as u64,
            seconds: last_end - measure_from,
            p50_ms: percentile_ms(&latencies, 0.50),
            p99_ms: percentile_ms(&latencies, 0.99),
        },
        own_tps,
        own_processed,
    })
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

fn render(a: &TransitionsArgs, reports: &[BackendReport]) -> String {
    let mut out = String::new();
    let writers: Vec<String> = a.writers.iter().map(usize::to_string).collect();
    let _ = writeln!(
        out,
        "tiendo bench transitions: {} tasks, writers {}, {} (after {} s warm-up each)",
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
        if let Some(pg) = &rep.pgbench
            && let Some(tiendo) = rep.rows.iter().find(|r| r.writers == pg.writers)
        {
            let ratio = tiendo.tps() / pg.tps().max(f64::EPSILON);
            let _ = writeln!(
                out,
                "postgres: tiendo/pgbench at {} writers = {:.1}/{:.1} tps = {ratio:.2} (target ≥ 0.50: {})",
                pg.writers,
                tiendo.tps(),
                pg.tps(),
                if ratio >= 0.5 { "met" } else { "NOT met" }
            );
        }
    }
    targets(&mut out, reports);
    out
}

fn targets(out: &mut String, reports: &[BackendReport]) {
    for r in reports.iter().flat_map(|rep| rep.rows.iter()) {
        let target = match (r.backend, r.writers) {
            ("postgres", 32) => 2000.0,
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
