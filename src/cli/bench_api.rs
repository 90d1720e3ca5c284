//! `tiendo bench api`: transitions per second through the HTTP API, against the store-level
//! figure measured in the same run on the same database.
//!
//! For each backend: a fresh database (an SQLite file in a temporary folder; a
//! `tiendo_bench_api_<random>` database created on the PostgreSQL server with `psql` and dropped
//! at the end), seeded with tasks on the bench-only workflow `bench/bench-cycle.toml` (the same
//! two-state cycle `trinh` / `tra_lai` as `tiendo bench transitions`). Then, with the same number
//! of concurrent clients over disjoint slices of the tasks:
//!
//! 1. **store**: `Store::transition` called directly, as `tiendo bench transitions` does;
//! 2. **api**: the real application on a loopback port, each client a loop of
//!    `POST /api/v1/tasks/{id}/transitions` with `If-Match` and an API token (authentication,
//!    visibility check, transition, JSON answer), over keep-alive HTTP/1.1 connections.
//!
//! It prints transitions/second, p50/p99 latency and the ratio store/api (target: at most 1.5).
//! At the end the audit log is counted and its hash chains verified: a benchmark that corrupts
//! data is void. The clients run in the same process as the server, so on a small machine they
//! compete with it for the CPU; the figures say so rather than hide it.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use adapters::http::{Application, Settings};
use adapters::store::{
    Credential, Identity, NewTask, NewUser, Store, TransitionRequest, sqlite_url,
};
use chrono::{Datelike, Utc};
use engine::Role;
use engine::access::Scope;
use engine::decide::Actor;
use engine::domain::FundingSource;
use engine::workflow::{Catalog, Source};

use super::Failure;

const BENCH_WORKFLOW: &str = include_str!("../../bench/bench-cycle.toml");
const UNIT_ID: &str = "bench-api-don-vi";
const DONVI_USER: &str = "bench.api.donvi";
const STC_USER: &str = "bench.api.stc";
const PLAN_NUMBER: &str = "998/KH-BENCH";
const RETURN_COMMENT: &str = "Đề nghị đơn vị bổ sung báo giá của ít nhất 03 nhà cung cấp và thuyết minh chi tiết khối lượng, đơn giá của từng hạng mục trong dự toán.";
/// The ratio store/api the API should stay within.
const TARGET_RATIO: f64 = 1.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiBackend {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Which backend(s) to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: ApiBackend,
    /// Concurrent clients (and store writers).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Tasks to seed, shared out in disjoint slices.
    #[arg(long, default_value_t = 3200)]
    pub tasks: usize,
    /// Measured seconds for each of store and api (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Unmeasured warm-up before each measurement, in seconds.
    #[arg(long, default_value_t = 2)]
    pub warmup_seconds: u64,
    /// The PostgreSQL server; a fresh database is created on it and dropped at the end.
    #[arg(
        long,
        env = "TIENDO_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub pg_url: String,
}

/// One measurement.
#[derive(Debug, Clone)]
struct Figure {
    transitions: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Figure {
    fn tps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.transitions as f64 / self.seconds
        } else {
            0.0
        }
    }
}

struct Report {
    backend: &'static str,
    store: Figure,
    api: Figure,
    /// GET /api/v1/me: HTTP and authentication alone.
    me: Figure,
    notes: Vec<String>,
}

pub async fn run(a: &ApiArgs) -> Result<String, Failure> {
    if a.clients == 0 || a.tasks < a.clients || a.seconds == 0 {
        return Err(Failure::usage(
            "--clients phải ≥ 1, --tasks ≥ --clients và --seconds ≥ 1",
        ));
    }
    let mut sources = adapters::definitions::embedded();
    sources.push(Source {
        path: "bench-cycle.toml".into(),
        text: BENCH_WORKFLOW.into(),
    });
    let catalog = Arc::new(
        Catalog::load(&sources)
            .map_err(|e| Failure::refused(format!("the bench workflow does not load: {e:?}")))?,
    );
    let mut reports = Vec::new();
    if matches!(a.backend, ApiBackend::Sqlite | ApiBackend::Both) {
        let dir = std::env::temp_dir().join(format!("tiendo-bench-api-{}", suffix()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::refused(format!("cannot create {}: {e}", dir.display())))?;
        let url = sqlite_url(&dir.join("bench.db"));
        let r = bench_backend(a, "sqlite", &url, catalog.clone(), &dir).await;
        let _ = std::fs::remove_dir_all(&dir);
        reports.push(r?);
    }
    if matches!(a.backend, ApiBackend::Postgres | ApiBackend::Both) {
        let name = format!("tiendo_bench_api_{}", suffix());
        let server = a.pg_url.trim_end_matches('/');
        let base = match server[server.find("://").map_or(0, |i| i + 3)..].find('/') {
            Some(i) => &server[..server.find("://").map_or(0, |j| j + 3) + i],
            None => server,
        };
        let admin = format!("{base}/postgres");
        let url = format!("{base}/{name}");
        psql(&admin, &format!("CREATE DATABASE {name}")).await?;
        let dir = std::env::temp_dir().join(format!("tiendo-bench-api-{}", suffix()));
        let r = bench_backend(a, "postgres", &url, catalog.clone(), &dir).await;
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = psql(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await
        {
            eprintln!("postgres: could not drop {name}: {}", e.message);
        }
        reports.push(r?);
    }
    Ok(render(a, &reports))
}

fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}_{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

async fn psql(url: &str, sql: &str) -> Result<(), Failure> {
    let out = tokio::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .await
        .map_err(|e| Failure::refused(format!("cannot run psql: {e} (or use --backend sqlite)")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Failure::refused(format!(
            "psql failed on `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[derive(Debug, Clone)]
struct BenchTask {
    id: String,
    version: i64,
    /// In `soan_ho_so` (next: `trinh` by the unit), else in `tham_dinh` (next: `tra_lai`).
    drafting: bool,
}

async fn bench_backend(
    a: &ApiArgs,
    backend: &'static str,
    url: &str,
    catalog: Arc<Catalog>,
    data_dir: &std::path::Path,
) -> Result<Report, Failure> {
    let pool = u32::try_from(a.clients + 8).unwrap_or(64);
    let store = Store::connect(url, catalog, pool).await?;
    store.migrate().await?;
    let (donvi, stc) = seed_directory(&store).await?;
    let started = Instant::now();
    let tasks = seed_tasks(&store, a.tasks, &donvi).await?;
    let mut notes = vec![format!(
        "{backend}: seeded {} tasks in {:.1} s",
        a.tasks,
        started.elapsed().as_secs_f64()
    )];
    eprintln!("{}", notes[0]);

    // 1. The store, directly.
    let (store_fig, tasks, store_done) = measure(a, tasks, {
        let (store, donvi, stc) = (store.clone(), donvi.clone(), stc.clone());
        move |t: BenchTask| {
            let (store, donvi, stc) = (store.clone(), donvi.clone(), stc.clone());
            async move {
                let (req, actor) = step(&t, &donvi, &stc);
                store
                    .transition(&req, actor, Utc::now())
                    .await
                    .map(|o| o.version)
                    .map_err(|e| format!("store: {e}"))
            }
        }
    })
    .await?;
    eprintln!(
        "{backend}: store, {} writers: {:.0} transitions/s, p50 {:.2} ms, p99 {:.2} ms",
        a.clients,
        store_fig.tps(),
        store_fig.p50_ms,
        store_fig.p99_ms
    );

    // 2. The same through HTTP.
    let token = |user: &str| {
        let store = store.clone();
        let user = user.to_string();
        async move {
            let identity = Identity {
                user: store.user(&user).await?,
                actor: store.actor(&user).await?,
                scope: Scope::Full,
                credential: Credential::Session {
                    id_hash: String::new(),
                },
            };
            Ok::<_, Failure>(
                store
                    .create_token(&identity, "bench", Scope::Full, None, Utc::now())
                    .await?
                    .secret,
            )
        }
    };
    let (donvi_token, stc_token) = (token(DONVI_USER).await?, token(STC_USER).await?);
    let app = Application::build(
        Settings::new(
            "127.0.0.1:0".parse().expect("a loopback address"),
            data_dir.to_path_buf(),
        ),
        store.clone(),
    )
    .await
    .map_err(|e| Failure::refused(format!("cannot bind a loopback port: {e}")))?;
    let base = format!(
        "http://{}",
        app.local_addr()
            .map_err(|e| Failure::refused(e.to_string()))?
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients * 2)
        .build()
        .map_err(|e| Failure::refused(format!("http client: {e}")))?;
    let (api_fig, _, api_done) = measure(a, tasks, {
        let (client, base) = (client.clone(), base.clone());
        let (donvi_token, stc_token) = (donvi_token.clone(), stc_token.clone());
        move |t: BenchTask| {
            let (client, base) = (client.clone(), base.clone());
            let token = if t.drafting {
                donvi_token.clone()
            } else {
                stc_token.clone()
            };
            async move {
                let (transition, comment) = if t.drafting {
                    ("trinh", None)
                } else {
                    ("tra_lai", Some(RETURN_COMMENT))
                };
                let r = client
                    .post(format!("{base}/api/v1/tasks/{}/transitions", t.id))
                    .bearer_auth(token)
                    .header("If-Match", format!("\"{}\"", t.version))
                    .json(&serde_json::json!({"transition": transition, "comment": comment}))
                    .send()
                    .await
                    .map_err(|e| format!("http: {e}"))?;
                let status = r.status();
                let body: serde_json::Value =
                    r.json().await.map_err(|e| format!("http body: {e}"))?;
                if status != reqwest::StatusCode::OK {
                    return Err(format!("http {status}: {body}"));
                }
                body["version"]
                    .as_i64()
                    .ok_or_else(|| format!("no version in {body}"))
            }
        }
    })
    .await?;
    eprintln!(
        "{backend}: api, {} clients: {:.0} transitions/s, p50 {:.2} ms, p99 {:.2} ms",
        a.clients,
        api_fig.tps(),
        api_fig.p50_ms,
        api_fig.p99_ms
    );
    // 3. The floor under the API figure: an authenticated request that only reads who is
    // asking (HTTP, token lookup, JSON), with the same clients.
    let (me_fig, _, _) = measure(a, back_for_probe(a), {
        let (client, base, token) = (client.clone(), base.clone(), donvi_token.clone());
        move |t: BenchTask| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let r = client
                    .get(format!("{base}/api/v1/me"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .map_err(|e| format!("http: {e}"))?;
                if r.status() != reqwest::StatusCode::OK {
                    return Err(format!("http {}", r.status()));
                }
                r.bytes().await.map_err(|e| format!("http body: {e}"))?;
                Ok(t.version)
            }
        }
    })
    .await?;
    eprintln!(
        "{backend}: GET /api/v1/me, {} clients: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        a.clients,
        me_fig.tps(),
        me_fig.p50_ms,
        me_fig.p99_ms
    );
    let _ = stop_tx.send(());
    let _ = server.await;

    let counted = store.count("audit_log").await?;
    let verify = store.verify_audit().await?;
    let note = format!(
        "{backend}: audit: {counted} entries; hash chains {}",
        match &verify.broken {
            None => format!("OK ({} tasks, {} entries)", verify.tasks, verify.entries),
            Some(b) => format!("BROKEN: {b:?}"),
        }
    );
    let expected = 2 * a.tasks as u64 + store_done + api_done;
    let note = format!(
        "{note}; expected {expected} (2 per seeded task + every transition taken, warm-up included)"
    );
    if verify.broken.is_some() || u64::try_from(counted).ok() != Some(expected) {
        return Err(Failure::refused(format!(
            "{note}\nThe benchmark left the store inconsistent: its figures are void."
        )));
    }
    notes.push(note);
    store.close().await;
    Ok(Report {
        backend,
        store: store_fig,
        api: api_fig,
        me: me_fig,
        notes,
    })
}

/// Placeholder tasks for a measurement that does not move tasks.
fn back_for_probe(a: &ApiArgs) -> Vec<BenchTask> {
    (0..a.clients)
        .map(|i| BenchTask {
            id: i.to_string(),
            version: 0,
            drafting: true,
        })
        .collect()
}

fn step<'a>(t: &BenchTask, donvi: &'a Actor, stc: &'a Actor) -> (TransitionRequest, &'a Actor) {
    let (transition, comment, actor) = if t.drafting {
        ("trinh", None, donvi)
    } else {
        ("tra_lai", Some(RETURN_COMMENT.to_string()), stc)
    };
    (
        TransitionRequest {
            task_id: t.id.clone(),
            transition: transition.into(),
            comment,
            document_ids: Vec::new(),
            expected_version: Some(t.version),
            idempotency_key: None,
            automatic: false,
        },
        actor,
    )
}

async fn seed_directory(store: &Store) -> Result<(Actor, Actor), Failure> {
    let now = Utc::now();
    store
        .add_unit(
            UNIT_ID,
            "Trung tâm đo hiệu năng API (thử nghiệm)",
            None,
            now,
        )
        .await?;
    for (username, unit, role) in [
        (DONVI_USER, Some(UNIT_ID), Role::DonVi),
        (STC_USER, None, Role::SoTaiChinh),
    ] {
        store
            .add_user(
                NewUser {
                    username: username.into(),
                    display_name: String::new(),
                    email: None,
                    unit_id: unit.map(str::to_string),
                    roles: vec![role],
                },
                now,
            )
            .await?;
    }
    let year = engine::time::local_date(now).year().clamp(2000, 2100);
    store
        .add_plan(PLAN_NUMBER, year, "Kế hoạch đo hiệu năng API", None, now)
        .await?;
    Ok((store.actor(DONVI_USER).await?, store.actor(STC_USER).await?))
}

/// Creates `n` tasks, 16 at a time, each moved to `soan_ho_so`.
async fn seed_tasks(store: &Store, n: usize, donvi: &Actor) -> Result<Vec<BenchTask>, Failure> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..16.min(n) {
        let (store, donvi, next) = (store.clone(), donvi.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, Failure>(made);
                }
                let new = NewTask {
                    plan: PLAN_NUMBER.into(),
                    unit_id: UNIT_ID.into(),
                    name: format!(
                        "Nâng cấp hệ thống thông tin (đo hiệu năng API), hạng mục {:05}",
                        i + 1
                    ),
                    funding_source: FundingSource::SuNghiepCntt,
                    kind: "bench-cycle".into(),
                    period: None,
                    is_rental: false,
                    budget: Vec::new(),
                };
                let created = store.create_task(&new, &donvi, None, Utc::now()).await?;
                let o = store
                    .transition(
                        &TransitionRequest {
                            task_id: created.task_id.clone(),
                            transition: "bat_dau".into(),
                            comment: None,
                            document_ids: Vec::new(),
                            expected_version: None,
                            idempotency_key: None,
                            automatic: false,
                        },
                        &donvi,
                        Utc::now(),
                    )
                    .await?;
                made.push((
                    i,
                    BenchTask {
                        id: created.task_id,
                        version: o.version,
                        drafting: true,
                    },
                ));
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    for h in handles {
        all.extend(
            h.await
                .map_err(|e| Failure::refused(format!("seeding failed: {e}")))??,
        );
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

/// Runs `a.clients` loops over disjoint slices of `tasks`, each calling `take` on its next
/// task; returns the figure and the tasks with their new versions and states.
async fn measure<F, Fut>(
    a: &ApiArgs,
    tasks: Vec<BenchTask>,
    take: F,
) -> Result<(Figure, Vec<BenchTask>, u64), Failure>
where
    F: Fn(BenchTask) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<i64, String>> + Send,
{
    let measure_from = Instant::now() + Duration::from_secs(a.warmup_seconds);
    let stop_at = measure_from + Duration::from_secs(a.seconds);
    let failed = Arc::new(AtomicBool::new(false));
    let w = a.clients;
    let (each, extra) = (tasks.len() / w, tasks.len() % w);
    let mut rest = tasks.into_iter();
    let mut handles = Vec::with_capacity(w);
    for i in 0..w {
        let mut slice: Vec<BenchTask> = rest.by_ref().take(each + usize::from(i < extra)).collect();
        let (take, failed) = (take.clone(), failed.clone());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            let mut last_end = None;
            let mut next = 0;
            let mut done = 0u64;
            while !failed.load(Ordering::Relaxed) {
                let started = Instant::now();
                if started >= stop_at {
                    break;
                }
                let len = slice.len();
                let t = &mut slice[next];
                next = (next + 1) % len;
                match take(t.clone()).await {
                    Ok(version) => {
                        t.version = version;
                        t.drafting = !t.drafting;
                        done += 1;
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                let ended = Instant::now();
                if started >= measure_from {
                    latencies.push(ended - started);
                    last_end = Some(ended);
                }
            }
            Ok((slice, latencies, last_end, done))
        }));
    }
    let mut back = Vec::new();
    let mut latencies = Vec::new();
    let mut last: Option<Instant> = None;
    let mut total = 0u64;
    for h in handles {
        let (slice, l, end, done) = h
            .await
            .map_err(|e| Failure::refused(format!("client failed: {e}")))?
            .map_err(Failure::refused)?;
        back.extend(slice);
        latencies.extend(l);
        last = last.max(end);
        total += done;
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1].as_secs_f64() * 1000.0
    };
    Ok((
        Figure {
            transitions: latencies.len() as u64,
            seconds: last
                .map(|l| l.duration_since(measure_from).as_secs_f64())
                .unwrap_or(0.0),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
        },
        back,
        total,
    ))
}

fn render(a: &ApiArgs, reports: &[Report]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Transitions through the HTTP API vs. the store, {} concurrent clients, {} s measured after {} s warm-up, {} tasks (bench-cycle workflow); `GET /me` is an authenticated request that moves nothing, the HTTP floor",
        a.clients, a.seconds, a.warmup_seconds, a.tasks
    );
    let _ = writeln!(
        out,
        "{:<9} {:<8} {:>12} {:>12} {:>9} {:>9}",
        "backend", "path", "requests", "per second", "p50 ms", "p99 ms"
    );
    for r in reports {
        for (path, f) in [("store", &r.store), ("api", &r.api), ("GET /me", &r.me)] {
            let _ = writeln!(
                out,
                "{:<9} {:<8} {:>12} {:>12.0} {:>9.2} {:>9.2}",
                r.backend,
                path,
                f.transitions,
                f.tps(),
                f.p50_ms,
                f.p99_ms
            );
        }
    }
    out.push('\n');
    for r in reports {
        let ratio = if r.api.tps() > 0.0 {
            r.store.tps() / r.api.tps()
        } else {
            f64::INFINITY
        };
        let _ = writeln!(
            out,
            "{}: store/api = {ratio:.2} (target ≤ {TARGET_RATIO}): {}",
            r.backend,
            if ratio <= TARGET_RATIO {
                "within target"
            } else {
                "OVER TARGET"
            }
        );
        for n in &r.notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    let _ = writeln!(
        out,
        "The clients run in the same process as the server and share its {} CPU core(s).",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    out
}
