//! The durable store: where the engine's decisions become facts.
//!
//! One interface, two backends. The same SQL text runs on PostgreSQL and SQLite (`$1`
//! placeholders work on both; the schemas in `migrations/` mirror each other column for column),
//! and [`with_db!`] expands each operation once per backend, so no behaviour exists on one backend
//! only. Every transition is one database transaction: compare-and-set on the task's `version`,
//! new state, audit entry, timers and outbox, all or nothing.
//!
//! # Doors
//!
//! [`Store`] is the shared pool; each aggregate is a small door over it, one use case per method:
//!
//! - [`Store::tasks`] → [`Tasks`]: create, read, search, move a task, its history and documents;
//! - [`Store::directory`] → [`Directory`]: units, plans, users as records, workflow checks;
//! - [`Store::accounts`] → [`Accounts`]: sign-in, sessions, API tokens, passwords, accounts;
//! - [`Store::scheduling`] → [`Scheduling`]: timers, automatic transitions, stall alerts,
//!   leases, cron slots and the outbox;
//! - [`Store::audit`] → [`Audit`]: the hash-chained log, its verification and seals;
//! - [`Store::observe`] → [`Observe`]: readiness and metrics;
//! - [`Store::plans`] → [`Plans`]: the plans a task is listed in, year-level status;
//! - [`Store::imports`] → [`Imports`]: plan import; [`Store::reports`] → [`Reports`]: what the
//!   plan reports read;
//! - [`Store::rounds`] → [`Rounds`]: reporting rounds (units' entries, submissions, SKHCN's
//!   drafts and signer, exports).
//!
//! A door acting for someone is spelled `…_as(&actor, …)` (or `&identity` where the credential
//! matters), actor first: it asks [`engine::access`] and does the whole use case in one call —
//! a task the actor may not see is not found, a stale version is a conflict, a refusal of
//! `decide` carries what the actor may do instead. The command line, the API and the web pages
//! call only these. The other doors act for nobody and apply no access rule: they are for the
//! scheduler, the import, the operator at the shell (who holds the database anyway) and tests,
//! and each says so; task reads without an actor sit apart, behind [`Tasks::unscoped`].
//!
//! Rows are decoded with `#[derive(sqlx::FromRow)]` ([`decode`] holds the column adapters);
//! writes shared by several doors go through [`sql::Conn`].

mod accounts;
mod audit;
mod columns;
mod decode;
mod directory;
mod import;
mod in_place;
mod observe;
mod plan_years;
mod plans;
mod point;
mod records;
mod reports;
mod rounds;
mod scheduling;
mod sql;
mod tasks;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use engine::decide::{Available, Rejection};
use engine::workflow::{Catalog, Workflow};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use accounts::{
    Account, Accounts, ApiToken, AuthPolicy, Credential, Identity, IssuedToken, PasswordChanged,
    SignInError, SignedIn, TOKEN_PREFIX,
};
pub use audit::{
    Audit, AuditRecord, Broken, CitedDocument, DocumentsReport, Evidence, Seal, UploadedDocument,
    VerifyReport, sha256_hex,
};
pub use directory::Directory;
pub use import::{ImportError, Imports, PrintedReport};
pub use observe::{Metrics, Observe, Readiness};
pub use plan_years::{BudgetEntry, BudgetRecord, LineageLink, Rename};
pub use plans::{Listing, ListingBudget, Plans};
pub use records::*;
pub(crate) use reports::put_in_order;
pub use reports::{PrintedOrder, ReportRow, Reports, RowSink, report_rows_query};
pub use rounds::{
    Compared, EntryRecord, NewEntry, RoundEvent, RoundRecord, RoundTask, RoundUnit, RoundView,
    Rounds, Submission,
};
pub use scheduling::{
    ExpiryJob, FireReport, FlagInput, OutboxEntry, OutboxJob, RaisedFlag, Scheduling,
};
pub use tasks::commit::GroupCommitStats;
pub use tasks::{
    Attachment, DEFAULT_PAGE, Dossier, MAX_PAGE, NewProposal, NewTransfer, ProposalRecord,
    TaskDetail, TaskItem, TaskPage, TaskQuery, TaskSort, Tasks, TransferRecord, Unscoped,
};

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend the store uses.
/// The body is written once and compiled for both.
macro_rules! with_db {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            $crate::store::Db::Postgres($pool) => $body,
            $crate::store::Db::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use with_db;

#[derive(Debug, Clone)]
pub(crate) enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Why a store operation did not happen. `Internal`, `Database` and `Migrate` are faults of
/// ours; everything else is the user's to fix, and the message says how, in Vietnamese.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Không tìm thấy {what} `{id}`.")]
    NotFound { what: &'static str, id: String },
    #[error(
        "Nhiệm vụ đã được cập nhật bởi người khác (phiên bản hiện tại: {current}, yêu cầu dựa trên phiên bản {expected}). Hãy tải lại và thử lại."
    )]
    Conflict { expected: i64, current: i64 },
    /// The precondition can never hold ([`Expected::Never`]).
    #[error(
        "Điều kiện về phiên bản không bao giờ khớp (phiên bản hiện tại của nhiệm vụ: {current})."
    )]
    PreconditionFailed { current: i64 },
    #[error("{0}")]
    Rejected(Box<Refusal>),
    #[error(
        "Khóa Idempotency-Key `{0}` đã được dùng cho một yêu cầu khác; hãy dùng khóa mới cho yêu cầu mới."
    )]
    IdempotencyMismatch(String),
    /// Input the user can correct; the message says what is wrong and what is allowed.
    #[error("{0}")]
    Invalid(String),
    #[error("{0} đã tồn tại.")]
    Duplicate(String),
    /// Well-formed input that the resource's current state does not allow (HTTP 409): a message
    /// that is not dead, a document type the task's workflow does not have. The message says
    /// what the state is and what it allows.
    #[error("{0}")]
    StateConflict(String),
    /// Well-formed input that cannot be processed whatever the state (HTTP 422): a task linked
    /// to itself.
    #[error("{0}")]
    Unprocessable(String),
    /// Refused by a rule of `engine::access` (who may see or manage what).
    #[error("{0}")]
    Forbidden(#[from] engine::access::Denied),
    /// An upload would pass its unit's storage quota (`engine::access::within_quota`).
    #[error("{}", .0.message())]
    QuotaExceeded(engine::access::QuotaExceeded),
    /// A fault of ours that the user cannot correct, logged with its id when it happened.
    #[error("Lỗi hệ thống, mã {}: {}", .0.id, .0.detail)]
    Internal(Fault),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A refusal of `decide`, with the transitions the actor may take instead from the task as it
/// was when refused, and the task's workflow to name their target states (both `None` where
/// there is no task yet, on creation). Dereferences to the [`Rejection`].
#[derive(Debug, Clone)]
pub struct Refusal {
    pub rejection: Rejection,
    pub available: Option<Vec<Available>>,
    pub workflow: Option<Arc<Workflow>>,
}

impl std::ops::Deref for Refusal {
    type Target = Rejection;
    fn deref(&self) -> &Rejection {
        &self.rejection
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.rejection.fmt(f)
    }
}

impl From<Rejection> for StoreError {
    fn from(rejection: Rejection) -> Self {
        StoreError::Rejected(Box::new(Refusal {
            rejection,
            available: None,
            workflow: None,
        }))
    }
}

/// An internal fault: `id` names it in the log line written when it happened and in the answer
/// the user gets; `detail` is for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub id: String,
    pub detail: String,
}

impl Fault {
    /// A new fault id: short enough to read out over the phone.
    pub fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
    }
}

/// How long a request waits for a database connection before it is answered "the database is
/// unavailable" (HTTP 503) instead of hanging: the pool opens connections on demand, so while
/// the server is away every wait ends here, and the pool reconnects once it answers again.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

impl StoreError {
    /// True when the database could not be reached or went away mid-request (refused or broken
    /// connection, no connection within [`ACQUIRE_TIMEOUT`], the server shutting down or
    /// starting): a dependency that is down, not a fault of ours. Nothing was acknowledged, and
    /// a retry (with the same `Idempotency-Key`) is safe.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
            // Class 08: connection exception; 57P01-57P03: the server is shutting down,
            // crashed or is starting.
            sqlx::Error::Database(d) => d
                .code()
                .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
            _ => false,
        }
    }

    fn not_found(what: &'static str, id: impl Into<String>) -> StoreError {
        StoreError::NotFound {
            what,
            id: id.into(),
        }
    }

    /// An internal fault, logged now with a fresh id.
    pub(crate) fn internal(detail: impl Into<String>) -> StoreError {
        let fault = Fault {
            id: Fault::new_id(),
            detail: detail.into(),
        };
        tracing::error!(fault = %fault.id, detail = %fault.detail, "internal fault");
        StoreError::Internal(fault)
    }
}

/// The store, with the catalog of workflows it runs tasks on.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    catalog: Arc<Catalog>,
    /// Token identities remembered while a server watches for changes ([`accounts`]).
    identities: Arc<accounts::IdentityCache>,
    /// The group-commit writer of transitions: always on SQLite, an option on PostgreSQL
    /// ([`Store::with_group_commit`]).
    committer: Option<Arc<tasks::commit::Committer>>,
    /// Reads of a row by key on the calling thread, on an SQLite file ([`point`]).
    point: Option<Arc<point::PointReads>>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The most connections an SQLite pool opens, whatever is asked for.
pub const SQLITE_MAX_CONNECTIONS: u32 = 4;

/// How long an SQLite connection waits for a lock before it answers busy.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The default database: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tiendo.db";

impl Store {
    /// Connects to `url` (`sqlite://FILE` or `postgres://…`), creating an SQLite file on first
    /// run. Does not migrate: call [`Store::migrate`].
    ///
    /// An existing SQLite file of 0 bytes is refused: it is what a failed copy or an
    /// interrupted restore leaves, and initialising it would answer "OK, 0 entries" over lost
    /// data. [`Store::connect_initialising`] (`tiendo db migrate --init`) accepts it.
    pub async fn connect(
        url: &str,
        catalog: Arc<Catalog>,
        max_connections: u32,
    ) -> Result<Store, StoreError> {
        Store::connect_to(url, catalog, max_connections, false).await
    }

    /// [`Store::connect`], accepting an empty SQLite file as a new database (the operator said
    /// so: `tiendo db migrate --init`).
    pub async fn connect_initialising(
        url: &str,
        catalog: Arc<Catalog>,
        max_connections: u32,
    ) -> Result<Store, StoreError> {
        Store::connect_to(url, catalog, max_connections, true).await
    }

    async fn connect_to(
        url: &str,
        catalog: Arc<Catalog>,
        max_connections: u32,
        empty_file_is_new: bool,
    ) -> Result<Store, StoreError> {
        let mut point = None;
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(max_connections)
                    // A ping before every checkout costs a round trip per use; a broken
                    // connection fails its query instead, and the pool replaces it.
                    .test_before_acquire(false)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(opts)
                    .await?,
            )
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?;
            let file = opts.get_filename();
            if !empty_file_is_new
                && std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.len() == 0)
            {
                return Err(StoreError::Invalid(format!(
                    "Tệp cơ sở dữ liệu {} có nhưng rỗng (0 byte): thường là bản sao lưu hỏng hoặc khôi phục chưa xong. \
                     tiendo không tự khởi tạo lại để khỏi che mất dữ liệu: hãy khôi phục lại từ bản sao lưu, \
                     hoặc nếu đúng là muốn một cơ sở dữ liệu mới tại đây, chạy `tiendo db migrate --init`.",
                    file.display()
                )));
            }
            // A new database file is the owner's only (0600); SQLite gives its -wal and -shm
            // files the database file's permissions.
            let in_memory = file.as_os_str() == ":memory:" || url.contains("mode=memory");
            if !in_memory && !file.exists() {
                match crate::files::private_file().open(file) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(StoreError::Invalid(format!(
                            "Không tạo được tệp cơ sở dữ liệu {}: {e}",
                            file.display()
                        )));
                    }
                }
            }
            if !in_memory {
                point = Some(Arc::new(point::PointReads::new(file, SQLITE_BUSY_TIMEOUT)));
            }
            let opts = opts
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL is durable in WAL mode except for the last transactions before a power
                // loss; it never corrupts the database.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            Db::Sqlite(
                SqlitePoolOptions::new()
                    // SQLite has one writer; every extra connection's page cache is invalidated
                    // by the others' commits and its writers sleep in the busy handler. Four
                    // connections keep readers concurrent without that (measured with
                    // `tiendo-bench transitions --backend sqlite --connections N`).
                    .max_connections(max_connections.min(SQLITE_MAX_CONNECTIONS))
                    .test_before_acquire(false)
                    // One file on this machine: a wait here is the other connections' work, not an
                    // outage.
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?,
            )
        } else {
            return Err(StoreError::Invalid(format!(
                "DATABASE_URL `{url}` không hợp lệ: dùng sqlite://TỆP (ví dụ {DEFAULT_DATABASE_URL}) hoặc postgres://người_dùng@máy:cổng/cơ_sở_dữ_liệu"
            )));
        };
        let committer = match &db {
            Db::Sqlite(_) => Some(Arc::new(tasks::commit::Committer::new(db.clone()))),
            Db::Postgres(_) => None,
        };
        Ok(Store {
            db,
            catalog,
            identities: Default::default(),
            committer,
            point,
        })
    }

    /// Connects and applies pending migrations.
    pub async fn open(url: &str, catalog: Arc<Catalog>) -> Result<Store, StoreError> {
        let store = Store::connect(url, catalog, 16).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Turns group commit on or off for transitions on PostgreSQL (configuration key
    /// `group_commit`): on, transitions that arrive together are written in one transaction by
    /// one writer ([`tasks`]' `commit`). On SQLite it is always on and this changes nothing.
    pub fn with_group_commit(mut self, on: bool) -> Store {
        if let Db::Postgres(_) = self.db {
            self.committer = on.then(|| Arc::new(tasks::commit::Committer::new(self.db.clone())));
        }
        self
    }

    /// The point readers of an SQLite file ([`point`]); none on PostgreSQL or in memory.
    pub(crate) fn point_reads(&self) -> Option<&point::PointReads> {
        self.point.as_deref()
    }

    /// Whether transitions go through the group-commit writer.
    pub fn group_commit(&self) -> bool {
        self.committer.is_some()
    }

    /// What the group-commit writer has done so far; `None` when group commit is off.
    pub fn group_commit_stats(&self) -> Option<GroupCommitStats> {
        self.committer.as_ref().map(|c| c.stats())
    }

    pub(crate) fn committer(&self) -> Option<&tasks::commit::Committer> {
        self.committer.as_deref()
    }

    /// Applies the pending migrations of this backend; returns how many were applied.
    #[tracing::instrument(skip_all)]
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let before = self.applied_migrations().await.unwrap_or(0);
        match &self.db {
            Db::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
            Db::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
        }
        let applied = self.applied_migrations().await?.saturating_sub(before);
        self.fill_name_search().await?;
        Ok(applied)
    }

    /// Writes the search fold of the names of tasks stored before `name_search` existed (or by
    /// an older binary), a batch at a time.
    async fn fill_name_search(&self) -> Result<(), StoreError> {
        loop {
            let rows: Vec<(String, String)> = with_db!(self, |pool| {
                sqlx::query_as("SELECT id, name FROM tasks WHERE name_search IS NULL LIMIT 1000")
                    .fetch_all(pool)
                    .await?
            });
            if rows.is_empty() {
                return Ok(());
            }
            with_db!(self, |pool| {
                let mut tx = pool.begin().await?;
                for (id, name) in &rows {
                    sqlx::query("UPDATE tasks SET name_search = $1 WHERE id = $2")
                        .bind(engine::domain::search_key(name))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            });
        }
    }

    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let n: i64 = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(pool)
                .await?
        });
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// How many migrations this build knows for the store's backend.
    fn known_migrations(&self) -> usize {
        match self.backend() {
            Backend::Sqlite => SQLITE_MIGRATIONS.iter().count(),
            Backend::Postgres => POSTGRES_MIGRATIONS.iter().count(),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Postgres(_) => Backend::Postgres,
            Db::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub async fn close(&self) {
        if let Some(point) = &self.point {
            point.close();
        }
        with_db!(self, |pool| pool.close().await)
    }

    /// Tasks: create, read, search and move them, their history and documents.
    pub fn tasks(&self) -> Tasks<'_> {
        Tasks { store: self }
    }

    /// Units, plans and users as records; checking a workflow file.
    pub fn directory(&self) -> Directory<'_> {
        Directory { store: self }
    }

    /// Sign-in, sessions, API tokens, passwords and user accounts.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { store: self }
    }

    /// What the scheduler and the email relay need: timers, stall alerts, leases, the outbox.
    pub fn scheduling(&self) -> Scheduling<'_> {
        Scheduling { store: self }
    }

    /// The audit log: histories, verification, seals.
    pub fn audit(&self) -> Audit<'_> {
        Audit { store: self }
    }

    /// Readiness and metrics, for operators.
    pub fn observe(&self) -> Observe<'_> {
        Observe { store: self }
    }

    /// The workflow version a task runs on. Its absence from the folder is a fault of the
    /// installation, not of the user: an internal error naming what to restore.
    pub(crate) fn workflow_of(&self, task: &Task) -> Result<&Arc<Workflow>, StoreError> {
        self.catalog
            .get(&task.workflow, task.workflow_version)
            .ok_or_else(|| {
                StoreError::internal(format!(
                    "Nhiệm vụ `{}` chạy trên quy trình `{}` phiên bản {}, nhưng phiên bản này không còn trong thư mục quy trình. Khôi phục tệp quy trình đó trước khi thao tác.",
                    task.id, task.workflow, task.workflow_version
                ))
            })
    }

    /// The tables [`Store::count`] counts: the business data.
    pub const COUNTED_TABLES: [&str; 11] = [
        "tasks",
        "plan_listings",
        "budget_history",
        "audit_log",
        "timers",
        "outbox",
        "documents",
        "users",
        "units",
        "plans",
        "audit_seals",
    ];

    /// Counts rows of a table. System door, for operators and tests: `table` must be one of
    /// [`Store::COUNTED_TABLES`].
    #[tracing::instrument(skip_all, fields(table = %table))]
    pub async fn count(&self, table: &str) -> Result<i64, StoreError> {
        if !Self::COUNTED_TABLES.contains(&table) {
            return Err(StoreError::internal(format!(
                "Store::count: unknown table `{table}`"
            )));
        }
        Ok(with_db!(self, |pool| {
            // `table` is one of the constant names above.
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table}"
            )))
            .fetch_one(pool)
            .await?
        }))
    }
}

/// A new row id: a UUID v7, so ids sort by creation.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Instants are kept to the microsecond, the precision PostgreSQL stores, so that a value read
/// back is the value written and audit hashes recompute identically on both backends.
pub(crate) fn micros(t: engine::time::Instant) -> engine::time::Instant {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// Whether a database error is a unique-constraint violation (a duplicate).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// A database error as the store reports it: a unique-constraint violation is a duplicate of
/// `what` (named lazily), anything else a database error.
pub(crate) fn duplicate_or(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate(what())
    } else {
        e.into()
    }
}

/// The SQLite URL for a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}
