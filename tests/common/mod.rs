//! Test harness: a fresh database per test, on SQLite (a temporary file) or PostgreSQL (a new
//! database on the server at 127.0.0.1:5432, dropped afterwards).
//!
//! A missing PostgreSQL fails the test with the reason: it is never skipped, in CI or out.

#![allow(dead_code)]

pub mod plans;
pub mod smtp;

use std::sync::Arc;

use adapters::store::{NewTask, NewUser, Store};
use engine::Role;
use engine::domain::FundingSource;
use engine::time::Instant;
use sqlx::Connection;

/// The server the PostgreSQL tests create their databases on. Overridable for machines whose
/// server is elsewhere; the default is the one CI starts.
pub fn postgres_admin_url() -> String {
    std::env::var("TIENDO_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether the PostgreSQL tests write transitions with group commit: `TIENDO_TEST_GROUP_COMMIT=1`
/// runs the suites that way (SQLite always does).
pub fn group_commit() -> bool {
    std::env::var("TIENDO_TEST_GROUP_COMMIT").is_ok_and(|v| v == "1" || v == "true")
}

pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("tiendo.db").display());
        TestDb {
            url,
            backend: "sqlite",
            pg_name: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        let admin = postgres_admin_url();
        let name = format!("tiendo_test_{}", uuid_like());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for the store tests and is not reachable at {admin}: {e}. \
                 Start it (CI does: see .ci/run) or set TIENDO_TEST_POSTGRES."
            )
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin.clone());
        TestDb {
            url: format!("{base}/{name}"),
            backend: "postgres",
            pg_name: Some(name),
            _dir: None,
        }
    }

    /// A PostgreSQL database that something else made and drops (a private cluster).
    pub fn postgres_at(url: String) -> TestDb {
        TestDb {
            url,
            backend: "postgres",
            pg_name: None,
            _dir: None,
        }
    }

    /// The store on this database with the shipped workflows, migrated.
    pub async fn store(&self) -> Store {
        self.store_with(&[]).await
    }

    /// The store with the shipped workflows plus test workflows from `tests/fixtures/`.
    pub async fn store_with(&self, fixtures: &[&str]) -> Store {
        let mut sources = adapters::definitions::embedded();
        for f in fixtures {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(f);
            sources.push(engine::workflow::Source {
                path: (*f).to_string(),
                text: std::fs::read_to_string(&path).expect("fixture"),
            });
        }
        let catalog = match engine::workflow::Catalog::load(&sources) {
            Ok(c) => Arc::new(c),
            Err(e) => panic!(
                "{}",
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        };
        let store = Store::connect(&self.url, catalog, 40)
            .await
            .expect("connect")
            .with_group_commit(group_commit());
        store.migrate().await.expect("migrate");
        store
    }

    /// Runs the migrations of this tree whose number `keep` keeps, outside the store: the
    /// schema as an older release left it.
    pub async fn migrate_where(&self, keep: impl Fn(i64) -> bool) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(self.backend);
        let mut migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
        migrator.migrations = std::borrow::Cow::Owned(
            migrator
                .migrations
                .iter()
                .filter(|m| keep(m.version))
                .cloned()
                .collect(),
        );
        if self.backend == "postgres" {
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            migrator.run(&mut c).await.unwrap();
        } else {
            let opts = format!("{}?mode=rwc", self.url);
            let mut c = sqlx::SqliteConnection::connect(&opts).await.unwrap();
            migrator.run(&mut c).await.unwrap();
        }
    }

    /// The rows of a query on this database, outside the store.
    pub async fn rows<T>(&self, sql: &str) -> Vec<T>
    where
        T: Send
            + Unpin
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    {
        let q = || sqlx::AssertSqlSafe(sql.to_string());
        let rows = if self.backend == "postgres" {
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_as(q()).fetch_all(&mut c).await
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query_as(q()).fetch_all(&mut c).await
        };
        rows.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs raw SQL on this database, outside the store (to tamper, or to inject faults).
    pub async fn exec(&self, sql: &str) {
        if let Err(e) = self.try_exec(sql).await {
            panic!("{sql}: {e}");
        }
    }

    /// Like [`TestDb::exec`], returning the error instead of panicking.
    pub async fn try_exec(&self, sql: &str) -> Result<(), String> {
        let r = if self.backend == "postgres" {
            let mut c = sqlx::PgConnection::connect(&self.url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut c)
                .await
                .map(|_| ())
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut c)
                .await
                .map(|_| ())
        };
        r.map_err(|e| e.to_string())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside any runtime's async context: use a small thread of our own.
            let admin = postgres_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut c = sqlx::PgConnection::connect(&admin).await.ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

/// A unique lowercase name fragment without pulling uuid into the test crate.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        t % 1_000_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The shipped workflows folder of this checkout.
pub fn shipped_workflows() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows")
}

/// A scratch copy of the shipped workflows folder (the workflow files and the calendars).
pub fn copy_of_shipped() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("calendars")).unwrap();
    for sub in ["", "calendars"] {
        for e in std::fs::read_dir(shipped_workflows().join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                std::fs::copy(&p, dir.path().join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    dir
}

/// The shipped workflows plus the second-scale test workflow, as a city's own folder.
pub fn workflows_with_fixture() -> tempfile::TempDir {
    let dir = copy_of_shipped();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/thu-nghiem-nhac-han.toml"),
        dir.path().join("thu-nghiem-nhac-han.toml"),
    )
    .unwrap();
    dir
}

/// Runs each named async test function (taking a `TestDb`) once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::TestDb::sqlite().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::TestDb::postgres().await).await
                }
            )*
        }
    };
}

/// A task of workflow `kind` proposed by `unit` in `plan`: regular funding, no period, no budget.
pub fn new_task(plan: &str, unit: &str, name: &str, kind: &str) -> NewTask {
    NewTask {
        plan: plan.into(),
        unit_id: unit.into(),
        name: name.into(),
        funding_source: FundingSource::ThuongXuyen,
        kind: kind.into(),
        period: None,
        is_rental: false,
        own_fund: false,
        budget: Vec::new(),
    }
}

/// An actor as the store would read them: `user` with one `role`, acting for `units`.
pub fn actor(user: &str, role: Role, units: &[&str]) -> engine::decide::Actor {
    engine::decide::Actor {
        user: user.into(),
        roles: vec![role],
        units: units.iter().map(|u| u.to_string()).collect(),
        read_units: Vec::new(),
    }
}

/// A person of a test's directory: username, display name, role, unit.
pub type Person<'a> = (&'a str, &'a str, Role, Option<&'a str>);

/// Fills a test's directory through the store's system doors: `units` (id, name), then `people`
/// (each mailed at `username@haiphong.gov.vn`), then the plan (number, year, title).
pub async fn seed_directory(
    store: &Store,
    units: &[(&str, &str)],
    people: &[Person<'_>],
    plan: (&str, i32, &str),
    now: Instant,
) {
    let d = store.directory();
    for (id, name) in units {
        d.add_unit(id, name, None, now).await.expect("unit");
    }
    for &(name, display, role, unit) in people {
        d.add_user(
            NewUser::with_role(name, display, role, unit)
                .mailed_at(format!("{name}@haiphong.gov.vn")),
            now,
        )
        .await
        .expect("user");
    }
    let (number, year, title) = plan;
    d.add_plan(number, year, title, None, now)
        .await
        .expect("plan");
}

/// The `tiendo` binary run as an operator would: in `dir`, on `db`, documents under `dir/data`,
/// the shipped workflows unless `workflows` names a folder. Shared by the CLI end-to-end tests;
/// a test file adds its own steps (`world`, `create`…) in an `impl Cli` of its own.
pub struct Cli<'a> {
    pub db: &'a TestDb,
    pub dir: &'a std::path::Path,
    pub workflows: Option<&'a std::path::Path>,
}

impl<'a> Cli<'a> {
    /// On the shipped workflows.
    pub fn new(db: &'a TestDb, dir: &'a std::path::Path) -> Self {
        Cli {
            db,
            dir,
            workflows: None,
        }
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tiendo"));
        c.args(args)
            .current_dir(self.dir)
            .env("DATABASE_URL", &self.db.url)
            .env("TIENDO_DATA_DIR", self.dir.join("data"));
        match self.workflows {
            Some(w) => c.env("TIENDO_WORKFLOWS", w),
            None => c.env_remove("TIENDO_WORKFLOWS"),
        };
        c.output().expect("the binary runs")
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs a command that must succeed; returns the first line of its stdout (the id it
    /// printed).
    pub fn id(&self, args: &[&str]) -> String {
        self.ok(args).lines().next().unwrap_or_default().to_string()
    }

    /// `plan add 215/KH-UBND --year 2025 --title TITLE`: the plan of the CLI tests.
    pub fn add_plan_215(&self, title: &str) {
        self.ok(&[
            "plan",
            "add",
            "215/KH-UBND",
            "--year",
            "2025",
            "--title",
            title,
        ]);
    }

    /// `user add USER --role ROLE… [--unit UNIT]`.
    pub fn add_user(&self, user: &str, roles: &[&str], unit: Option<&str>) {
        let mut args = vec!["user", "add", user];
        for role in roles {
            args.extend(["--role", role]);
        }
        if let Some(u) = unit {
            args.extend(["--unit", u]);
        }
        self.ok(&args);
    }

    /// `task create` as `can.bo`: a task `name` of Sở Y tế in plan 215/KH-UBND, of workflow
    /// `kind`, funded from `funding`, with the arguments `more`; returns the task's id.
    pub fn create_task(&self, name: &str, funding: &str, kind: &str, more: &[&str]) -> String {
        self.id(&create_task_args(name, funding, kind, more))
    }

    /// Runs a command that must fail with `code`; returns its stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// Runs a command that must fail, whatever its code; returns its stdout and stderr.
    pub fn refused(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(!o.status.success(), "{args:?} should fail");
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }
}

/// The arguments of [`Cli::create_task`].
pub fn create_task_args<'a>(
    name: &'a str,
    funding: &'a str,
    kind: &'a str,
    more: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "task",
        "create",
        "--as",
        "can.bo",
        "--plan",
        "215/KH-UBND",
        "--unit",
        "so-y-te",
        "--name",
        name,
        "--funding",
        funding,
        "--kind",
        kind,
    ];
    args.extend_from_slice(more);
    args
}

/// `task COMMAND TASK --as WHO ARGS…`: the arguments of a task command acting as a user.
pub fn task_args<'a>(
    command: &'a str,
    task: &'a str,
    who: &'a str,
    args: &[&'a str],
) -> Vec<&'a str> {
    let mut v = vec!["task", command, task, "--as", who];
    v.extend_from_slice(args);
    v
}

/// The `tiendo` binary run in `dir` on `db` as the operator `tester` (an import records who ran
/// it from `USER`), on the shipped workflows: the plan-import tests' runner.
pub fn tiendo(db: &TestDb, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env("USER", "tester")
        .env_remove("TIENDO_WORKFLOWS")
        .output()
        .expect("the binary runs")
}

/// The stdout of a command that must have succeeded.
pub fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
