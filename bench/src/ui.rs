//! `tiendo-bench ui`: the web pages against the API, in the same run, over the import
//! benchmark's synthetic plan (default 100,000 tasks).
//!
//! For each backend a scratch database is filled by importing the synthetic plan (the same
//! catalogue as `tiendo bench import`), a unit officer (of the unit with the most tasks) and a
//! UBND leader sign in, and the application is served on a loopback port. Then three views are
//! requested alternately as a page and as the API calls that carry the same data, with the same
//! session cookie, one request at a time (a person waiting for a page), and p50/p95 are printed:
//!
//! | view | page | API |
//! |---|---|---|
//! | task list (UBND: every task) | `GET /tasks` (first page, 50, by deadline) | `GET /api/v1/tasks?sort=due&limit=50` |
//! | my turn (the officer) | `GET /` | `GET /api/v1/tasks?my_turn=true&sort=due&limit=100` |
//! | task page (the officer) | `GET /tasks/{id}` | `GET /api/v1/tasks/{id}` then `GET /api/v1/tasks/{id}/history` |
//!
//! Targets (issue 12): p95 ≤ 150 ms per page, and each page within 1.5× of its API call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::files::FileStore;
use adapters::http::{Application, HttpSettings};
use adapters::import;
use adapters::store::{Backend, NewUser, Store, TaskQuery};
use chrono::Utc;
use engine::Role;
use engine::catalogue::{ImportPlan, PlanImport};
use engine::workflow::Catalog;

use crate::http_load::LoadConn;
use crate::scratch::{Backends, PgServer, Scratch};
use crate::stats::percentile_ms;
use crate::{Failure, seed, synthetic_plan};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tasks in the synthetic plan.
    #[arg(long, default_value_t = 100_000)]
    pub tasks: usize,
    /// Measured requests per view and side (after a warm-up of 10).
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    #[command(flatten)]
    pub pg: PgServer,
    /// Keep the bench database (PostgreSQL) or file (SQLite) for inspection (e.g. EXPLAIN);
    /// prints where.
    #[arg(long)]
    pub keep: bool,
}

impl Args {
    pub fn check(&self) -> Result<(), String> {
        if self.tasks == 0 || self.requests == 0 {
            return Err("--tasks and --requests must be at least 1".into());
        }
        Ok(())
    }
}

const PLAN: &str = "900/KH-BENCH-UI";
const OFFICER: &str = "bench.canbo";
const LEADER: &str = "bench.lanhdao";
const PASSWORD: &str = "X7q-ui-measure-2026!";

/// A view: its name, the page's requests and the API's requests that carry the same data.
type View = (&'static str, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// One view measured both ways.
struct Line {
    backend: &'static str,
    view: &'static str,
    page: Vec<Duration>,
    api: Vec<Duration>,
    page_bytes: usize,
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    percentile_ms(sorted, q).unwrap_or(f64::NAN)
}

impl Line {
    fn figures(&self) -> (f64, f64, f64, f64) {
        let mut p = self.page.clone();
        let mut a = self.api.clone();
        p.sort();
        a.sort();
        (
            quantile(&p, 0.5),
            quantile(&p, 0.95),
            quantile(&a, 0.5),
            quantile(&a, 0.95),
        )
    }
}

fn get(path: &str, session: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: tiendo_session={session}\r\nAccept: text/html,application/json\r\n\r\n"
    )
    .into_bytes()
}

/// Requests `paths` one after another on `conn`; the time of the whole sequence.
async fn timed(conn: &mut LoadConn, paths: &[Vec<u8>]) -> Result<(Duration, usize), Failure> {
    let started = Instant::now();
    let mut bytes = 0;
    for p in paths {
        let (status, body) = conn.send(p).await.map_err(Failure::new)?;
        if status != 200 {
            return Err(Failure::new(format!(
                "{} answered {status}: {}",
                String::from_utf8_lossy(&p[..p.iter().position(|b| *b == b'\r').unwrap_or(0)]),
                String::from_utf8_lossy(&body[..body.len().min(300)])
            )));
        }
        bytes += body.len();
    }
    Ok((started.elapsed(), bytes))
}

async fn bench_backend(
    a: &Args,
    backend: &'static str,
    url: &str,
    catalog: Arc<Catalog>,
    data_dir: &std::path::Path,
) -> Result<Vec<Line>, Failure> {
    let store = Store::connect(url, catalog, 16).await?;
    store.migrate().await?;
    let now = Utc::now();
    // The plan first (it creates the units), then the people.
    store
        .directory()
        .add_user(
            NewUser::with_role(LEADER, "Lãnh đạo UBND (đo hiệu năng)", Role::Ubnd, None),
            now,
        )
        .await?;
    let started = Instant::now();
    let csv = synthetic_plan::csv(a.tasks);
    let rows = import::read_bytes(csv.as_bytes(), "synthetic.csv", None)
        .map_err(|e| Failure::new(e.to_string()))?;
    let request = PlanImport {
        plan: ImportPlan {
            number: PLAN.into(),
            year: 2025,
            title: "Kế hoạch tổng hợp (dữ liệu đo hiệu năng)".into(),
            issued_on: None,
        },
        rows,
        totals: None,
        skip_invalid: false,
    };
    let leader = store.directory().actor(LEADER).await?;
    store
        .imports()
        .import_plan_as(&leader, request, now)
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    eprintln!(
        "{backend}: imported {} tasks in {:.1} s",
        a.tasks,
        started.elapsed().as_secs_f64()
    );
    // The unit with the most tasks: its officer's lists are the longest a unit has.
    let mut best = (String::new(), -1i64);
    for u in store.directory().units().await? {
        let q = TaskQuery {
            unit: Some(engine::domain::UnitId::parse(&u.id).map_err(Failure::new)?),
            limit: Some(1),
            ..TaskQuery::default()
        };
        let n = store.tasks().search_as(&leader, &q, now).await?.total;
        if n > best.1 {
            best = (u.id, n);
        }
    }
    store
        .directory()
        .add_user(
            NewUser::with_role(
                OFFICER,
                "Cán bộ đơn vị (đo hiệu năng)",
                Role::DonVi,
                Some(&best.0),
            ),
            now,
        )
        .await?;
    let officer = store.directory().actor(OFFICER).await?;
    let settings = HttpSettings::new("127.0.0.1:0".parse().expect("a loopback address"));
    let mut session = Vec::new();
    for user in [OFFICER, LEADER] {
        store.accounts().set_password(user, PASSWORD, now).await?;
        let signed = store
            .accounts()
            .sign_in(user, PASSWORD, "127.0.0.1", &settings.auth, Utc::now())
            .await
            .map_err(|e| Failure::new(e.to_string()))?;
        session.push(signed.secret);
    }
    let (officer_s, leader_s) = (session[0].clone(), session[1].clone());
    let mine = store
        .tasks()
        .search_as(
            &officer,
            &TaskQuery {
                my_turn: true,
                limit: Some(1),
                ..TaskQuery::default()
            },
            now,
        )
        .await?;
    let task = mine
        .items
        .first()
        .map(|t| t.task.id.clone())
        .ok_or_else(|| Failure::new("the officer has no task in their turn".to_string()))?;
    eprintln!(
        "{backend}: officer of `{}` ({} tasks, {} in their turn)",
        best.0, best.1, mine.total
    );

    let app = Application::build(
        settings,
        store.clone(),
        FileStore::new(data_dir.to_path_buf()),
    )
    .await
    .map_err(|e| Failure::new(format!("cannot bind: {e}")))?;
    let addr = app.local_addr().map_err(|e| Failure::new(e.to_string()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let views: [View; 3] = [
        (
            "task list (UBND, every task)",
            vec![get("/tasks", &leader_s)],
            vec![get("/api/v1/tasks?sort=due&limit=50", &leader_s)],
        ),
        (
            "my turn (unit officer)",
            vec![get("/", &officer_s)],
            vec![get(
                "/api/v1/tasks?my_turn=true&sort=due&limit=100",
                &officer_s,
            )],
        ),
        (
            "task page (unit officer)",
            vec![get(&format!("/tasks/{task}"), &officer_s)],
            vec![
                get(&format!("/api/v1/tasks/{task}"), &officer_s),
                get(&format!("/api/v1/tasks/{task}/history"), &officer_s),
            ],
        ),
    ];
    let mut conn = LoadConn::connect(addr).await.map_err(Failure::new)?;
    let mut lines = Vec::new();
    for (view, page, api) in views {
        for _ in 0..10 {
            timed(&mut conn, &page).await?;
            timed(&mut conn, &api).await?;
        }
        let mut line = Line {
            backend,
            view,
            page: Vec::with_capacity(a.requests),
            api: Vec::with_capacity(a.requests),
            page_bytes: 0,
        };
        // Alternating, so that both sides meet the same machine.
        for _ in 0..a.requests {
            let (t, bytes) = timed(&mut conn, &page).await?;
            line.page.push(t);
            line.page_bytes = bytes;
            line.api.push(timed(&mut conn, &api).await?.0);
        }
        lines.push(line);
    }
    let _ = stop.send(());
    let _ = server.await;
    store.close().await;
    Ok(lines)
}

pub async fn run(a: &Args) -> Result<String, Failure> {
    let catalog: Arc<Catalog> = seed::catalog()?;
    let mut lines = Vec::new();
    for &backend in a.backend.list() {
        let scratch = Scratch::create(backend, "ui", &a.pg).await?;
        let name = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let r = bench_backend(a, name, &scratch.url, catalog.clone(), scratch.dir()).await;
        scratch.finish(a.keep).await;
        lines.extend(r?);
    }
    Ok(render(a, &lines))
}

fn render(a: &Args, lines: &[Line]) -> String {
    let mut out = format!(
        "Web pages against the API: {} tasks, {} requests per view and side, one at a time, same session\n\
         target: page p95 ≤ 150 ms and ≤ 1.5 × the API's p95\n\n\
         | backend | view | page p50 / p95 | API p50 / p95 | page/API (p95) | page size | target |\n\
         |---|---|---|---|---|---|---|\n",
        a.tasks, a.requests
    );
    for l in lines {
        let (p50, p95, a50, a95) = l.figures();
        let ratio = p95 / a95;
        let met = p95 <= 150.0 && ratio <= 1.5;
        out.push_str(&format!(
            "| {} | {} | {p50:.1} / {p95:.1} ms | {a50:.1} / {a95:.1} ms | {ratio:.2} | {:.0} kB | {} |\n",
            l.backend,
            l.view,
            l.page_bytes as f64 / 1024.0,
            if met { "met" } else { "NOT MET" }
        ));
    }
    out
}
