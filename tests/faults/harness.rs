//! What the fault tests share: the `tiendo` binary as a process (started, killed -9, stopped
//! with SIGTERM), a seeded world of tasks on the bench's two-state cycle, the transition load
//! of 32 clients that retry unanswered requests with the same `Idempotency-Key`, and the checks
//! of what the database holds afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters::store::{Store, TransitionRequest};
use chrono::Utc;
use engine::Role;
use engine::access::Scope;
use serde_json::{Value, json};

use crate::common::TestDb;

/// The bench's workflow: `soan_ho_so` ⇄ `tham_dinh` (a 15-working-day appraisal with its timers),
/// forever. Shared with `tiendo-bench`.
pub const CYCLE: &str = "bench-cycle.toml";
const UNIT: &str = "don-vi-thu-loi";
const DONVI: &str = "can.bo.thu.loi";
const STC: &str = "tham.dinh.thu.loi";
pub const RETURN_COMMENT: &str = "Đề nghị đơn vị bổ sung báo giá và thuyết minh khối lượng.";

/// A folder of definitions for the binary: the shipped workflows and calendars, the bench's
/// cycle and the scheduler's test workflow.
pub fn workflows() -> tempfile::TempDir {
    let dir = crate::common::workflows_with_fixture();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("bench").join(CYCLE), dir.path().join(CYCLE)).unwrap();
    dir
}

/// The catalog the test process opens the store with (the same definitions).
pub async fn store(db: &TestDb) -> Store {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = adapters::definitions::embedded();
    sources.push(engine::workflow::Source {
        path: CYCLE.into(),
        text: std::fs::read_to_string(root.join("bench").join(CYCLE)).unwrap(),
    });
    sources.push(engine::workflow::Source {
        path: "thu-nghiem-nhac-han.toml".into(),
        text: std::fs::read_to_string(root.join("tests/fixtures/thu-nghiem-nhac-han.toml"))
            .unwrap(),
    });
    let catalog = std::sync::Arc::new(engine::workflow::Catalog::load(&sources).unwrap_or_else(
        |e| panic!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")),
    ));
    let store = Store::connect(&db.url, catalog, 8).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// One `tiendo` process, restartable with the same arguments and environment.
pub struct Proc {
    args: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    log: PathBuf,
    _logdir: tempfile::TempDir,
    pub starts: u32,
}

impl Proc {
    pub fn new(args: &[&str], env: &[(&str, String)]) -> Proc {
        let logdir = tempfile::tempdir().unwrap();
        Proc {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            child: None,
            log: logdir.path().join("tiendo.log"),
            _logdir: logdir,
            starts: 0,
        }
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tiendo"))
            .args(&self.args)
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tiendo starts");
        self.child = Some(child);
        self.starts += 1;
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// kill -9: no drain, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `signal` (e.g. "TERM") and waits for the exit, at most `within`.
    pub fn signal_and_wait(&mut self, signal: &str, within: Duration) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &c.id().to_string()])
            .status();
        let t = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if t.elapsed() > within {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "tiendo did not stop within {within:?} of SIG{signal}:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether it exited by itself (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().unwrap())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `tiendo serve` on a fixed loopback port, so that clients find it again after a restart.
pub struct Server {
    pub proc: Proc,
    pub base: String,
    pub data_dir: tempfile::TempDir,
}

impl Server {
    pub fn new(db_url: &str, workflows: &Path, extra: &[(&str, String)]) -> Server {
        let port = crate::common::smtp::free_port();
        let data_dir = tempfile::tempdir().unwrap();
        let mut env = vec![
            ("DATABASE_URL", db_url.to_string()),
            ("TIENDO_WORKFLOWS", workflows.display().to_string()),
            ("TIENDO_DATA_DIR", data_dir.path().display().to_string()),
            ("TIENDO_LISTEN", format!("127.0.0.1:{port}")),
            ("RUST_LOG", "warn".to_string()),
        ];
        env.extend(extra.iter().cloned());
        Server {
            proc: Proc::new(&["serve"], &env),
            base: format!("http://127.0.0.1:{port}"),
            data_dir,
        }
    }

    /// Starts it and waits until `/ready` answers 200.
    pub async fn start(&mut self) {
        self.proc.start();
        self.wait_ready(Duration::from_secs(60)).await;
    }

    /// Kills it with SIGKILL mid-work, as a power cut would, and starts it again.
    pub async fn kill9_and_restart(&mut self) {
        self.proc.kill9();
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.start().await;
    }

    /// Ends a run under load: a last second of it, the clients stopped and awaited, then the
    /// server stopped as systemd stops it (SIGTERM, drained, exit 0). What the clients did.
    pub async fn finish(
        &mut self,
        stop: &AtomicBool,
        clients: tokio::task::JoinHandle<Load>,
    ) -> Load {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, Ordering::Relaxed);
        let load = clients.await.unwrap();
        let status = self.proc.signal_and_wait("TERM", Duration::from_secs(30));
        assert!(
            status.success(),
            "serve exits 0 on SIGTERM: {status}\n{}",
            self.proc.log_text()
        );
        load
    }

    pub async fn wait_ready(&mut self, within: Duration) {
        let client = reqwest::Client::new();
        let t = Instant::now();
        loop {
            if let Ok(r) = client
                .get(format!("{}/api/v1/ready", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status() == 200
            {
                return;
            }
            if let Some(s) = self.proc.exited() {
                panic!("tiendo serve exited ({s}):\n{}", self.proc.log_text());
            }
            assert!(
                t.elapsed() < within,
                "tiendo serve not ready within {within:?}:\n{}",
                self.proc.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A task as the clients drive it.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub id: String,
    pub version: i64,
    /// In `soan_ho_so` (next: the unit's `trinh`), else in `tham_dinh` (next: `tra_lai`).
    pub drafting: bool,
}

/// The seeded world: a unit, its officer, an appraiser, tasks half in each state of the cycle,
/// and an API token for each person.
#[derive(Clone)]
pub struct World {
    pub store: Store,
    pub tasks: Vec<Tracked>,
    pub donvi_token: String,
    pub stc_token: String,
    /// The last audit entry written while seeding.
    pub seeded_through: i64,
}

fn req(id: &str, transition: &str, comment: Option<&str>) -> TransitionRequest {
    TransitionRequest::new(id, transition).commented(comment)
}

async fn token(store: &Store, username: &str) -> String {
    store
        .accounts()
        .issue_token(username, "fault suite", Scope::Full, None, Utc::now())
        .await
        .expect("token")
        .secret
}

/// Seeds `n` tasks through the store's own doors.
pub async fn seed(store: Store, n: usize) -> World {
    let now = Utc::now();
    let d = store.directory();
    crate::common::seed_directory(
        &store,
        &[(UNIT, "Trung tâm thử lỗi")],
        &[
            (DONVI, "Cán bộ thử lỗi", Role::DonVi, Some(UNIT)),
            (
                STC,
                "Chuyên viên Sở Tài chính thử lỗi",
                Role::SoTaiChinh,
                None,
            ),
            (
                "lanh.dao.thu.loi",
                "Lãnh đạo UBND thử lỗi",
                Role::Ubnd,
                None,
            ),
            (
                "chuyen.vien.thu.loi",
                "Chuyên viên Sở KH&CN thử lỗi",
                Role::Skhcn,
                None,
            ),
        ],
        ("998/KH-THULOI", 2026, "Kế hoạch thử lỗi"),
        now,
    )
    .await;
    let donvi = d.actor(DONVI).await.unwrap();
    let mut tasks = Vec::new();
    let mut last_audit = 0;
    for i in 0..n {
        let new = crate::common::new_task(
            "998/KH-THULOI",
            UNIT,
            &format!("Nhiệm vụ thử lỗi số {i}"),
            "bench-cycle",
        );
        let id = store
            .tasks()
            .create_as(&donvi, &new, None, now)
            .await
            .unwrap()
            .task_id;
        let mut o = store
            .tasks()
            .transition_as(&donvi, &req(&id, "bat_dau", None), now)
            .await
            .unwrap();
        let appraisal = i % 2 == 1;
        if appraisal {
            o = store
                .tasks()
                .transition_as(&donvi, &req(&id, "trinh", None), now)
                .await
                .unwrap();
        }
        last_audit = last_audit.max(o.audit_id);
        tasks.push(Tracked {
            id,
            version: o.version,
            drafting: !appraisal,
        });
    }
    World {
        donvi_token: token(&store, DONVI).await,
        stc_token: token(&store, STC).await,
        store,
        tasks,
        seeded_through: last_audit,
    }
}

/// One acknowledged (2xx) transition.
#[derive(Debug, Clone)]
pub struct Ack {
    pub task: String,
    pub key: String,
    pub audit_id: i64,
}

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Load {
    pub acks: Vec<Ack>,
    /// Requests sent again after no answer (a killed server, a refused connection).
    pub retried: u64,
    /// Answers to a retry that replayed an earlier, unacknowledged success.
    pub replayed: u64,
    /// 503 answers (a dependency away), each followed by a retry.
    pub unavailable: u64,
    /// 503 answers that named the database and carried Retry-After.
    pub unavailable_named: u64,
    /// Anything else: the test fails on these.
    pub errors: Vec<String>,
}

/// The transition load: `clients` clients, each over its own slice of `tasks`, moving each of
/// its tasks in turn, until `stop`. Every request carries a fresh `Idempotency-Key`; one that
/// gets no answer (or a 503) is sent again with the same key until it is answered, within
/// `give_up`. Even-numbered clients also send `If-Match`.
/// [`drive`] on a task of its own until `stop` is set (giving up after a minute without an
/// answer): what the fault scenarios run while they break something.
pub fn drive_in_background(
    base: &str,
    world: &World,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Load> {
    let (base, world, stop) = (base.to_string(), world.clone(), stop.clone());
    tokio::spawn(async move { drive(&base, &world, clients, stop, Duration::from_secs(60)).await })
}

pub async fn drive(
    base: &str,
    world: &World,
    clients: usize,
    stop: Arc<AtomicBool>,
    give_up: Duration,
) -> Load {
    let load = Arc::new(Mutex::new(Load::default()));
    let counters = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let mut handles = Vec::new();
    let per = world.tasks.len() / clients;
    assert!(per >= 1, "at least one task per client");
    for c in 0..clients {
        let mut mine: Vec<Tracked> = world.tasks[c * per..(c + 1) * per].to_vec();
        let (base, stop, load, _counters) = (
            base.to_string(),
            stop.clone(),
            load.clone(),
            counters.clone(),
        );
        let (donvi, stc) = (world.donvi_token.clone(), world.stc_token.clone());
        handles.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let if_match = c % 2 == 0;
            let mut seq = 0u64;
            'tasks: while !stop.load(Ordering::Relaxed) {
                let t = &mut mine[(seq as usize) % per];
                seq += 1;
                let key = format!("fault-{c}-{seq}-{}", t.id);
                let (body, token) = if t.drafting {
                    (json!({ "transition": "trinh" }), &donvi)
                } else {
                    (
                        json!({ "transition": "tra_lai", "comment": RETURN_COMMENT }),
                        &stc,
                    )
                };
                let started = Instant::now();
                let mut attempt = 0u32;
                loop {
                    attempt += 1;
                    let mut rb = http
                        .post(format!("{base}/api/v1/tasks/{}/transitions", t.id))
                        .bearer_auth(token)
                        .header("Idempotency-Key", &key)
                        .json(&body);
                    if if_match {
                        rb = rb.header("If-Match", format!("\"{}\"", t.version));
                    }
                    match rb.send().await {
                        Ok(r) if r.status().is_success() => {
                            let v: Value = r.json().await.unwrap_or(Value::Null);
                            let (Some(audit_id), Some(version)) =
                                (v["audit_id"].as_i64(), v["version"].as_i64())
                            else {
                                load.lock()
                                    .unwrap()
                                    .errors
                                    .push(format!("2xx without an outcome: {v}"));
                                break 'tasks;
                            };
                            let mut l = load.lock().unwrap();
                            if attempt > 1 {
                                l.retried += 1;
                            }
                            if v["replayed"].as_bool() == Some(true) {
                                l.replayed += 1;
                            }
                            l.acks.push(Ack {
                                task: t.id.clone(),
                                key: key.clone(),
                                audit_id,
                            });
                            drop(l);
                            t.version = version;
                            t.drafting = !t.drafting;
                            break;
                        }
                        Ok(r) if r.status() == 503 => {
                            let named = r.headers().contains_key("retry-after");
                            let v: Value = r.json().await.unwrap_or(Value::Null);
                            let mut l = load.lock().unwrap();
                            l.unavailable += 1;
                            if named
                                && v["dependency"] == "database"
                                && v["code"] == "database_unavailable"
                            {
                                l.unavailable_named += 1;
                            }
                        }
                        Ok(r) => {
                            let status = r.status();
                            let text = r.text().await.unwrap_or_default();
                            load.lock().unwrap().errors.push(format!(
                                "{} attempt {attempt} of {key}: {status} {text}",
                                t.id
                            ));
                            break 'tasks;
                        }
                        // No answer: the server died, or is not listening yet.
                        Err(_) => {}
                    }
                    if started.elapsed() > give_up {
                        load.lock().unwrap().errors.push(format!(
                            "{key}: no answer within {give_up:?} ({attempt} attempts)"
                        ));
                        break 'tasks;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    Arc::try_unwrap(load).unwrap().into_inner().unwrap()
}

/// Rows of (text, text, integer, integer) from raw SQL on the test database.
pub async fn rows(db: &TestDb, sql: &str) -> Vec<(String, String, i64, i64)> {
    use sqlx::Connection;
    if db.backend == "postgres" {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut c)
            .await
            .unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut c)
            .await
            .unwrap()
    }
}

/// The promises of the fault suite, checked against the database after the faults:
/// - every acknowledged transition is in the audit log exactly once, and nothing else is
///   (none lost, none applied twice, none applied without an acknowledgement);
/// - every task's version is its seeded version plus its acknowledged transitions;
/// - no task in its deadline state lacks its timers, and none outside it keeps any;
/// - `tiendo audit verify` is clean.
pub async fn check(db: &TestDb, workflows: &Path, world: &World, load: &Load) {
    assert!(load.errors.is_empty(), "client errors: {:#?}", load.errors);
    // One acknowledgement per key, one audit entry per acknowledgement.
    let keys: BTreeSet<&str> = load.acks.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys.len(), load.acks.len(), "a key acknowledged twice");
    let acked: BTreeMap<i64, &Ack> = load.acks.iter().map(|a| (a.audit_id, a)).collect();
    assert_eq!(
        acked.len(),
        load.acks.len(),
        "two acknowledgements share an audit entry"
    );
    let audited = rows(
        db,
        &format!(
            "SELECT task_id, transition, id, CAST(0 AS BIGINT) AS n FROM audit_log WHERE id > {} ORDER BY id",
            world.seeded_through
        ),
    )
    .await;
    let audited_ids: BTreeMap<i64, (String, String)> = audited
        .iter()
        .map(|(task, tr, id, _)| (*id, (task.clone(), tr.clone())))
        .collect();
    let lost: Vec<&i64> = acked
        .keys()
        .filter(|id| !audited_ids.contains_key(id))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but not in the audit log: {lost:?}"
    );
    let unacked: Vec<(&i64, &(String, String))> = audited_ids
        .iter()
        .filter(|(id, _)| !acked.contains_key(id))
        .collect();
    assert!(
        unacked.is_empty(),
        "in the audit log without an acknowledgement: {unacked:?}"
    );
    for (id, (task, _)) in &audited_ids {
        assert_eq!(&acked[id].task, task, "audit entry {id} is another task's");
    }
    // Versions equal audit counts.
    let mut per_task: BTreeMap<&str, i64> = BTreeMap::new();
    for a in &load.acks {
        *per_task.entry(a.task.as_str()).or_default() += 1;
    }
    let versions: BTreeMap<String, (String, i64)> = rows(
        db,
        "SELECT id, state, version, CAST(0 AS BIGINT) AS n FROM tasks WHERE workflow = 'bench-cycle'",
    )
    .await
    .into_iter()
    .map(|(id, state, v, _)| (id, (state, v)))
    .collect();
    for t in &world.tasks {
        let (state, version) = &versions[&t.id];
        let moves = per_task.get(t.id.as_str()).copied().unwrap_or(0);
        assert_eq!(*version, t.version + moves, "task {} version", t.id);
        let drafting = t.drafting ^ (moves % 2 == 1);
        assert_eq!(
            state,
            if drafting { "soan_ho_so" } else { "tham_dinh" },
            "task {}",
            t.id
        );
    }
    // Timers consistent with states: the appraisal's pending timers for the current stay, none
    // elsewhere.
    let timers = rows(
        db,
        "SELECT t.id, t.state, \
           (SELECT COUNT(*) FROM timers m WHERE m.task_id = t.id AND m.status = 'pending' AND m.state = t.state) AS here, \
           (SELECT COUNT(*) FROM timers m WHERE m.task_id = t.id AND m.status = 'pending') AS total \
         FROM tasks t WHERE t.workflow = 'bench-cycle'",
    )
    .await;
    let expected_here = timers
        .iter()
        .filter(|(_, s, _, _)| s == "tham_dinh")
        .map(|(_, _, h, _)| *h)
        .max()
        .unwrap_or(0);
    assert!(expected_here > 0, "tasks in appraisal have deadline timers");
    for (id, state, here, total) in &timers {
        match state.as_str() {
            "tham_dinh" => assert_eq!(
                (*here, *total),
                (expected_here, expected_here),
                "task {id} in its deadline state has its timers, and only those"
            ),
            _ => assert_eq!(*total, 0, "task {id} in {state} keeps no pending timer"),
        }
    }
    audit_verify(&db.url, workflows);
}

/// `tiendo audit verify` exits 0.
pub fn audit_verify(db_url: &str, workflows: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", db_url)
        .env("TIENDO_WORKFLOWS", workflows)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
