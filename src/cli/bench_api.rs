//! `tiendo bench api`: transitions per second through the HTTP API, against the store-level
//! figure measured in the same run on the same database.
//!
//! For each backend: a fresh database (an SQLite file in a temporary folder; a
//! `tiendo_bench_api_<random>` database created on the PostgreSQL server with `psql` and dropped
//! at the end), seeded with tasks on the bench-only workflow `bench/bench-cycle.toml` (the same
//! two-state cycle `trinh` / `tra_lai` as `tiendo bench transitions`). Then, with the same number
//! of concurrent clients over disjoint slices of the tasks:
//!
//! - **store**: `Store::transition` called directly, as `tiendo bench transitions` does;
//! - **api**: the real application on a loopback port, each client a loop of
//!   `POST /api/v1/tasks/{id}/transitions` with `If-Match` and an API token (authentication,
//!   visibility check, transition, JSON answer) over its own keep-alive HTTP/1.1 connection.
//!
//! The two paths are measured alternately (store, api, then api, store, …) and PostgreSQL is
//! vacuumed before each phase, so that neither path inherits the other's dead rows or a
//! database that has grown under it. It prints transitions/second, p50/p99 latency, the rate
//! of each round and the ratio store/api (target: at most 1.5). At the end the audit log is
//! counted and its hash chains verified: a benchmark that corrupts data is void.
//!
//! The server is the one `tiendo serve` runs, token identity cache included (PostgreSQL; see
//! `adapters::store::identities`): the report says how many identities it remembered, or that
//! it kept none (SQLite).
//!
//! The clients are a minimal HTTP/1.1 load generator ([`LoadConn`]) running in the same process
//! as the server, so on a small machine they compete with it for the CPU; the figures say so
//! rather than hide it.

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
    /// Measured seconds of each round of each path (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Rounds: store and API are measured alternately (store then api, then api then store…),
    /// each phase on a freshly vacuumed database.
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
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

/// One path's measurements, over all its rounds.
#[derive(Debug, Clone, Default)]
struct Figure {
    seconds: f64,
    /// Every measured request's latency, sorted once all rounds are in.
    latencies: Vec<Duration>,
    /// Each round's rate, in the order measured.
    rounds: Vec<f64>,
}

/// One measured window of one path.
struct Round {
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Round {
    fn rate(&self) -> f64 {
        per_second(self.latencies.len(), self.seconds)
    }
}

/// `count` over `seconds`; nothing measured is a rate of 0.
fn per_second(count: usize, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

impl Figure {
    fn absorb(&mut self, r: Round) {
        self.rounds.push(r.rate());
        self.seconds += r.seconds;
        self.latencies.extend(r.latencies);
        self.latencies.sort_unstable();
    }

    fn transitions(&self) -> u64 {
        self.latencies.len() as u64
    }

    fn tps(&self) -> f64 {
        per_second(self.latencies.len(), self.seconds)
    }

    /// The `p` quantile of the latencies, in milliseconds (nearest rank).
    fn ms(&self, p: f64) -> f64 {
        let l = &self.latencies;
        if l.is_empty() {
            return 0.0;
        }
        let rank = ((p * l.len() as f64).ceil() as usize).clamp(1, l.len());
        l[rank - 1].as_secs_f64() * 1000.0
    }

    fn rounds_text(&self) -> String {
        self.rounds
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
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
    if a.clients == 0 || a.tasks < a.clients || a.seconds == 0 || a.rounds == 0 {
        return Err(Failure::usage(
            "--clients phải ≥ 1, --tasks ≥ --clients, --seconds ≥ 1 và --rounds ≥ 1",
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

pub(super) fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}_{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

pub(super) async fn psql(url: &str, sql: &str) -> Result<(), Failure> {
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

    // The application on a loopback port, and a token for each of the two users.
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
    let tokens = Arc::new([token(DONVI_USER).await?, token(STC_USER).await?]);
    let app = Application::build(
        Settings::new(
            "127.0.0.1:0".parse().expect("a loopback address"),
            data_dir.to_path_buf(),
        ),
        store.clone(),
    )
    .await
    .map_err(|e| Failure::refused(format!("cannot bind a loopback port: {e}")))?;
    let addr = app
        .local_addr()
        .map_err(|e| Failure::refused(e.to_string()))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));

    let by_store = {
        let (store, donvi, stc) = (store.clone(), donvi.clone(), stc.clone());
        move |(): (), t: BenchTask| {
            let (store, donvi, stc) = (store.clone(), donvi.clone(), stc.clone());
            async move {
                let (req, actor) = step(&t, &donvi, &stc);
                let r = store
                    .transition(&req, actor, Utc::now())
                    .await
                    .map(|o| o.version)
                    .map_err(|e| format!("store: {e}"));
                ((), r)
            }
        }
    };
    let bodies = Arc::new([
        serde_json::json!({"transition": "trinh"}).to_string(),
        serde_json::json!({"transition": "tra_lai", "comment": RETURN_COMMENT}).to_string(),
    ]);
    let by_api = {
        let tokens = tokens.clone();
        move |mut conn: LoadConn, t: BenchTask| {
            let who = usize::from(!t.drafting);
            let request = format!(
                "POST /api/v1/tasks/{id}/transitions HTTP/1.1\r\nHost: {addr}\r\n\
                 Authorization: Bearer {token}\r\nIf-Match: \"{version}\"\r\n\
                 Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n{body}",
                id = t.id,
                token = tokens[who],
                version = t.version,
                len = bodies[who].len(),
                body = bodies[who],
            );
            async move {
                let r = match conn.send(request.as_bytes()).await {
                    Ok((200, body)) => serde_json::from_slice::<Taken>(body)
                        .map(|t| t.version)
                        .map_err(|e| format!("http body: {e}")),
                    Ok((status, body)) => {
                        Err(format!("http {status}: {}", String::from_utf8_lossy(body)))
                    }
                    Err(e) => Err(e),
                };
                (conn, r)
            }
        }
    };

    // Store and API alternately (store, api, then api, store, ...), each phase on a freshly
    // vacuumed database: a database that slows as it fills weighs on both paths alike.
    let (mut store_fig, mut api_fig) = (Figure::default(), Figure::default());
    let mut tasks = tasks;
    let mut moved = 0u64;
    for round in 0..a.rounds {
        for api in [round % 2 == 1, round % 2 == 0] {
            if backend == "postgres" {
                psql(url, "VACUUM (ANALYZE)").await?;
            }
            let (r, back, done) = if api {
                measure(a, tasks, || LoadConn::connect(addr), by_api.clone()).await?
            } else {
                measure(a, tasks, || async { Ok(()) }, by_store.clone()).await?
            };
            tasks = back;
            moved += done;
            let (fig, path) = if api {
                (&mut api_fig, "api")
            } else {
                (&mut store_fig, "store")
            };
            eprintln!(
                "{backend}: round {}, {path}, {} clients: {:.0} transitions/s",
                round + 1,
                a.clients,
                r.rate()
            );
            fig.absorb(r);
        }
    }
    for (path, f) in [("store", &store_fig), ("api", &api_fig)] {
        eprintln!(
            "{backend}: {path}, {} clients: {:.0} transitions/s (rounds: {}), p50 {:.2} ms, p99 {:.2} ms",
            a.clients,
            f.tps(),
            f.rounds_text(),
            f.ms(0.50),
            f.ms(0.99)
        );
    }

    // The floor under the API figure: an authenticated request that only reads who is
    // asking (HTTP, token lookup, JSON), with the same clients.
    let me_request = Arc::new(format!(
        "GET /api/v1/me HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        tokens[0]
    ));
    let (me, _, _) = measure(
        a,
        back_for_probe(a),
        || LoadConn::connect(addr),
        move |mut conn: LoadConn, t: BenchTask| {
            let request = me_request.clone();
            async move {
                let r = match conn.send(request.as_bytes()).await {
                    Ok((200, _)) => Ok(t.version),
                    Ok((status, _)) => Err(format!("http {status}")),
                    Err(e) => Err(e),
                };
                (conn, r)
            }
        },
    )
    .await?;
    let mut me_fig = Figure::default();
    me_fig.absorb(me);
    eprintln!(
        "{backend}: GET /api/v1/me, {} clients: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        a.clients,
        me_fig.tps(),
        me_fig.ms(0.50),
        me_fig.ms(0.99)
    );
    // How the server knew who was calling: from its token cache (PostgreSQL, while its
    // identity watcher is subscribed) or by a credential query per request (SQLite).
    let cached = store.cached_identities();
    let identity_note = if cached > 0 {
        format!(
            "{backend}: token identities: {cached} remembered by the server, forgotten on any identity change (NOTIFY tiendo_identity)"
        )
    } else {
        format!("{backend}: token identities: not cached, a credential query per request")
    };
    eprintln!("{identity_note}");
    notes.push(identity_note);
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
    let expected = 2 * a.tasks as u64 + moved;
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

/// Runs `a.clients` loops over disjoint slices of `tasks`, each with its own connection from
/// `connect`, calling `take` on its next task; returns the measured window, the tasks with
/// their new versions and states, and how many transitions were taken, warm-up included.
async fn measure<C, M, MFut, F, Fut>(
    a: &ApiArgs,
    tasks: Vec<BenchTask>,
    connect: M,
    take: F,
) -> Result<(Round, Vec<BenchTask>, u64), Failure>
where
    C: Send + 'static,
    M: Fn() -> MFut,
    MFut: Future<Output = Result<C, String>>,
    F: Fn(C, BenchTask) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = (C, Result<i64, String>)> + Send,
{
    let w = a.clients;
    let mut conns = Vec::with_capacity(w);
    for _ in 0..w {
        conns.push(connect().await.map_err(Failure::refused)?);
    }
    let measure_from = Instant::now() + Duration::from_secs(a.warmup_seconds);
    let stop_at = measure_from + Duration::from_secs(a.seconds);
    let failed = Arc::new(AtomicBool::new(false));
    let (each, extra) = (tasks.len() / w, tasks.len() % w);
    let mut rest = tasks.into_iter();
    let mut handles = Vec::with_capacity(w);
    for (i, conn) in conns.into_iter().enumerate() {
        let mut slice: Vec<BenchTask> = rest.by_ref().take(each + usize::from(i < extra)).collect();
        let (take, failed) = (take.clone(), failed.clone());
        handles.push(tokio::spawn(async move {
            let mut conn = conn;
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
                let (back, result) = take(conn, t.clone()).await;
                conn = back;
                match result {
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
    Ok((
        Round {
            seconds: last
                .map(|l| l.duration_since(measure_from).as_secs_f64())
                .unwrap_or(0.0),
            latencies,
        },
        back,
        total,
    ))
}

/// The `version` of a transition's answer; the rest is not read.
#[derive(serde::Deserialize)]
struct Taken {
    version: i64,
}

/// The load generator's side of one keep-alive HTTP/1.1 connection. Like wrk, it does as little
/// as a client can — each request written whole, each answer read by its `Content-Length` — so
/// that on a machine the clients share with the server, the figure is the server's cost rather
/// than a client library's.
pub(super) struct LoadConn {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl LoadConn {
    pub(super) async fn connect(addr: std::net::SocketAddr) -> Result<LoadConn, String> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        Ok(LoadConn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends one request and reads its answer: the status and the body.
    pub(super) async fn send(&mut self, request: &[u8]) -> Result<(u16, &[u8]), String> {
        use tokio::io::AsyncWriteExt;
        self.stream
            .write_all(request)
            .await
            .map_err(|e| format!("http write: {e}"))?;
        self.buf.clear();
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .map_err(|_| "http: the answer's head is not UTF-8".to_string())?;
                let status = head
                    .get(9..12)
                    .and_then(|s| s.parse::<u16>().ok())
                    .ok_or_else(|| format!("http: no status in {head:?}"))?;
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.trim()
                            .eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .ok_or_else(|| format!("http: no Content-Length in {head:?}"))?;
                let total = end + 4 + length;
                while self.buf.len() < total {
                    self.read_more().await?;
                }
                return Ok((status, &self.buf[end + 4..total]));
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> Result<(), String> {
        use tokio::io::AsyncReadExt;
        self.buf.reserve(4096);
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err("http: the server closed the connection".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("http read: {e}")),
        }
    }
}

fn render(a: &ApiArgs, reports: &[Report]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Transitions through the HTTP API vs. the store, {} concurrent clients, {} round(s) of {} s measured after {} s warm-up for each path, {} tasks (bench-cycle workflow); `GET /me` is an authenticated request that moves nothing, the HTTP floor",
        a.clients, a.rounds, a.seconds, a.warmup_seconds, a.tasks
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
                f.transitions(),
                f.tps(),
                f.ms(0.50),
                f.ms(0.99)
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
            "{}: store/api = {ratio:.2} (target ≤ {TARGET_RATIO}): {}; per round, store {} and api {} transitions/s",
            r.backend,
            if ratio <= TARGET_RATIO {
                "within target"
            } else {
                "OVER TARGET"
            },
            r.store.rounds_text(),
            r.api.rounds_text()
        );
        for n in &r.notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    let _ = writeln!(
        out,
        "The clients (a minimal HTTP/1.1 load generator) run in the same process as the server, without a log subscriber, and share its {} CPU core(s).",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    out
}
