//! `tiendo-bench api`: transitions per second through the HTTP API, against the store-level
//! figure measured in the same run on the same database.
//!
//! For each backend: a scratch database seeded with tasks on the bench-only workflow (the same
//! two-state cycle `trinh` / `tra_lai` as `transitions`). Then, with the same number of
//! concurrent clients over disjoint slices of the tasks:
//!
//! - **store**: `store.tasks().transition_as` called directly, as `transitions` does;
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
//! The clients ([`LoadConn`]) run in the same process as the server, so on a small machine they
//! compete with it for the CPU; the figures say so rather than hide it.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::files::FileStore;
use adapters::http::{Application, HttpSettings};
use adapters::store::{Backend, Store};
use chrono::Utc;
use engine::access::Scope;

use crate::drive::{self, Round, Until, Window};
use crate::http_load::LoadConn;
use crate::scratch::{Backends, PgServer, Scratch};
use crate::seed::{self, BenchTask, People, Stage};
use crate::stats::{per_second, percentile_ms};
use crate::{Failure, psql};

/// The ratio store/api the API should stay within.
const TARGET_RATIO: f64 = 1.5;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which backend(s) to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
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
    #[command(flatten)]
    pub pg: PgServer,
}

impl Args {
    pub fn check(&self) -> Result<(), String> {
        if self.clients == 0 || self.tasks < self.clients || self.seconds == 0 || self.rounds == 0 {
            return Err(
                "--clients must be ≥ 1, --tasks ≥ --clients, --seconds ≥ 1 and --rounds ≥ 1".into(),
            );
        }
        Ok(())
    }

    fn window(&self) -> Window {
        Window {
            warmup: Duration::from_secs(self.warmup_seconds),
            until: Until::Seconds(self.seconds),
        }
    }
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
        per_second(self.transitions(), self.seconds)
    }

    /// The `p` quantile of the latencies, in milliseconds (0 when none was measured).
    fn ms(&self, p: f64) -> f64 {
        percentile_ms(&self.latencies, p).unwrap_or(0.0)
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

pub async fn run(a: &Args) -> Result<String, Failure> {
    let catalog = seed::catalog()?;
    let mut reports = Vec::new();
    for &backend in a.backend.list() {
        let scratch = Scratch::create(backend, "api", &a.pg).await?;
        let r = async {
            let pool = u32::try_from(a.clients + 8).unwrap_or(64);
            let store = Store::connect(&scratch.url, catalog.clone(), pool).await?;
            store.migrate().await?;
            let r = bench_backend(a, &scratch, &store).await;
            store.close().await;
            r
        }
        .await;
        scratch.finish(false).await;
        reports.push(r?);
    }
    Ok(render(a, &reports))
}

/// The application on a loopback port, stopped when this is dropped or stopped.
struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(store: &Store, data_dir: &std::path::Path) -> Result<Server, Failure> {
        let app = Application::build(
            HttpSettings::new("127.0.0.1:0".parse().expect("a loopback address")),
            store.clone(),
            FileStore::new(data_dir),
        )
        .await
        .map_err(|e| Failure::new(format!("cannot bind a loopback port: {e}")))?;
        let addr = app.local_addr().map_err(|e| Failure::new(e.to_string()))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(Server { addr, stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// An API token for `username`, as `tiendo serve` would issue one.
async fn token(store: &Store, username: &str) -> Result<String, Failure> {
    Ok(store
        .accounts()
        .issue_token(username, "bench", Scope::Full, None, Utc::now())
        .await?
        .secret)
}

async fn bench_backend(a: &Args, scratch: &Scratch, store: &Store) -> Result<Report, Failure> {
    let backend = scratch.backend.as_str();
    let people = Arc::new(seed::directory(store).await?);
    let started = Instant::now();
    let tasks = seed::tasks(
        store,
        &people,
        a.tasks,
        seed::DEFAULT_CONCURRENCY,
        Stage::Drafting,
    )
    .await?;
    let mut notes = vec![format!(
        "{backend}: seeded {} tasks in {:.1} s",
        a.tasks,
        started.elapsed().as_secs_f64()
    )];
    eprintln!("{}", notes[0]);

    // A token for each of the two users, and the application on a loopback port.
    let tokens = Arc::new([
        token(store, People::DONVI_USERNAME).await?,
        token(store, People::STC_USERNAME).await?,
    ]);
    let server = Server::start(store, scratch.dir()).await?;
    let addr = server.addr;

    let by_store = {
        let (store, people) = (store.clone(), people.clone());
        move |(): (), t: BenchTask| {
            let (store, people) = (store.clone(), people.clone());
            async move { ((), t.move_in(&store, &people, true).await) }
        }
    };
    let bodies = Arc::new([
        serde_json::json!({"transition": "trinh"}).to_string(),
        serde_json::json!({"transition": "tra_lai", "comment": seed::RETURN_COMMENT}).to_string(),
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
            if scratch.backend == Backend::Postgres {
                psql::psql(&scratch.url, "VACUUM (ANALYZE)").await?;
            }
            let path = if api { "api" } else { "store" };
            let label = format!(
                "{backend}, round {}, {path}, {} clients",
                round + 1,
                a.clients
            );
            let (r, back) = if api {
                let conns = connect(addr, a.clients).await?;
                drive::round(&label, tasks, conns, a.window(), by_api.clone()).await?
            } else {
                let conns = vec![(); a.clients];
                drive::round(&label, tasks, conns, a.window(), by_store.clone()).await?
            };
            tasks = back;
            moved += r.done;
            eprintln!("{label}: {:.0} transitions/s", r.rate());
            if api { &mut api_fig } else { &mut store_fig }.absorb(r);
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
    let (me, _) = drive::round(
        &format!("{backend}, GET /api/v1/me"),
        placeholders(a.clients),
        connect(addr, a.clients).await?,
        a.window(),
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
    let cached = store.accounts().cached_identities();
    let identity_note = if cached > 0 {
        format!(
            "{backend}: token identities: {cached} remembered by the server, forgotten on any identity change (NOTIFY tiendo_identity)"
        )
    } else {
        format!("{backend}: token identities: not cached, a credential query per request")
    };
    eprintln!("{identity_note}");
    notes.push(identity_note);
    server.stop().await;

    notes.push(audit_note(store, backend, 2 * a.tasks as u64 + moved).await?);
    Ok(Report {
        backend,
        store: store_fig,
        api: api_fig,
        me: me_fig,
        notes,
    })
}

/// `clients` keep-alive connections to the server.
async fn connect(addr: SocketAddr, clients: usize) -> Result<Vec<LoadConn>, Failure> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(LoadConn::connect(addr).await.map_err(Failure::new)?);
    }
    Ok(conns)
}

/// The audit log holds `expected` entries and its chains verify, or the figures are void.
async fn audit_note(store: &Store, backend: &str, expected: u64) -> Result<String, Failure> {
    let counted = store.count("audit_log").await?;
    let verify = store.audit().verify().await?;
    let note = format!(
        "{backend}: audit: {counted} entries; hash chains {}; expected {expected} (2 per seeded task + every transition taken, warm-up included)",
        match &verify.broken {
            None => format!("OK ({} tasks, {} entries)", verify.tasks, verify.entries),
            Some(b) => format!("BROKEN: {b:?}"),
        }
    );
    if verify.broken.is_some() || u64::try_from(counted).ok() != Some(expected) {
        return Err(Failure::new(format!(
            "{note}\nThe benchmark left the store inconsistent: its figures are void."
        )));
    }
    Ok(note)
}

/// Placeholder tasks for a measurement that does not move tasks.
fn placeholders(clients: usize) -> Vec<BenchTask> {
    (0..clients)
        .map(|i| BenchTask {
            id: i.to_string(),
            version: 0,
            drafting: true,
            walk: None,
        })
        .collect()
}

/// The `version` of a transition's answer; the rest is not read.
#[derive(serde::Deserialize)]
struct Taken {
    version: i64,
}

fn render(a: &Args, reports: &[Report]) -> String {
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
