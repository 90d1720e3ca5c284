//! The durable store: where the engine's decisions become facts.
//!
//! One interface, two backends. The same SQL text runs on PostgreSQL and SQLite (`$1`
//! placeholders work on both; the schemas in `migrations/` mirror each other column for column),
//! and [`with_db!`] expands each operation once per backend, so no behaviour exists on one backend
//! only. Every transition is one database transaction: compare-and-set on the task's `version`,
//! new state, audit entry, timers and outbox, all or nothing.

mod accounts;
mod audit;
mod auth;
mod directory;
mod dossier;
mod identities;
mod import;
mod observe;
mod records;
mod reports;
mod scheduling;
mod scoped;
mod tasks;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use engine::decide::Rejection;
use engine::workflow::Catalog;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use audit::{AuditRecord, Broken, Seal, VerifyReport, sha256_hex};
pub use auth::{
    Account, ApiToken, AuthPolicy, Credential, Identity, IssuedToken, SignInError, SignedIn,
    TOKEN_PREFIX, check_password_policy, is_hidden_char,
};
pub use dossier::Dossier;
pub use import::{ImportError, Imports};
pub use observe::{Metrics, Readiness};
pub use records::*;
pub use reports::{ReportRow, Reports};
pub use scheduling::{ExpiryJob, FireReport, OutboxEntry, OutboxJob};
pub use scoped::{DEFAULT_PAGE, MAX_PAGE, TaskPage, TaskQuery, TaskSort};

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

/// Why a store operation did not happen. Everything except `Database` is the user's to fix,
/// and the message says how, in Vietnamese.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Không tìm thấy {what} `{id}`.")]
    NotFound { what: &'static str, id: String },
    #[error(
        "Nhiệm vụ đã được cập nhật bởi người khác (phiên bản hiện tại: {current}, yêu cầu dựa trên phiên bản {expected}). Hãy tải lại và thử lại."
    )]
    Conflict { expected: i64, current: i64 },
    #[error("{0}")]
    Rejected(#[from] Rejection),
    #[error(
        "Khóa Idempotency-Key `{0}` đã được dùng cho một yêu cầu khác; hãy dùng khóa mới cho yêu cầu mới."
    )]
    IdempotencyMismatch(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} đã tồn tại.")]
    Duplicate(String),
    /// Refused by a rule of `engine::access` (who may see or manage what).
    #[error("{0}")]
    Forbidden(#[from] engine::access::Denied),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    fn not_found(what: &'static str, id: impl Into<String>) -> StoreError {
        StoreError::NotFound {
            what,
            id: id.into(),
        }
    }
}

/// The store, with the catalog of workflows it runs tasks on.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    catalog: Arc<Catalog>,
    /// Token identities remembered while a server watches for changes ([`identities`]).
    identities: Arc<identities::IdentityCache>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The most connections an SQLite pool opens, whatever is asked for.
pub const SQLITE_MAX_CONNECTIONS: u32 = 4;

/// The default database: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tiendo.db";

impl Store {
    /// Connects to `url` (`sqlite://FILE` or `postgres://…`), creating an SQLite file on first
    /// run. Does not migrate: call [`Store::migrate`].
    pub async fn connect(
        url: &str,
        catalog: Arc<Catalog>,
        max_connections: u32,
    ) -> Result<Store, StoreError> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(max_connections)
                    // A ping before every checkout costs a round trip per use; a broken
                    // connection fails its query instead, and the pool replaces it.
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?,
            )
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL is durable in WAL mode except for the last transactions before a power
                // loss; it never corrupts the database.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            Db::Sqlite(
                SqlitePoolOptions::new()
                    // SQLite has one writer; every extra connection's page cache is invalidated
                    // by the others' commits and its writers sleep in the busy handler. Four
                    // connections keep readers concurrent without that (measured with
                    // `tiendo-bench transitions --backend sqlite --connections N`).
                    .max_connections(max_connections.min(SQLITE_MAX_CONNECTIONS))
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?,
            )
        } else {
            return Err(StoreError::Invalid(format!(
                "DATABASE_URL `{url}` không hợp lệ: dùng sqlite://TỆP (ví dụ {DEFAULT_DATABASE_URL}) hoặc postgres://người_dùng@máy:cổng/cơ_sở_dữ_liệu"
            )));
        };
        Ok(Store {
            db,
            catalog,
            identities: Default::default(),
        })
    }

    /// Connects and applies pending migrations.
    pub async fn open(url: &str, catalog: Arc<Catalog>) -> Result<Store, StoreError> {
        let store = Store::connect(url, catalog, 16).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the pending migrations of this backend; returns how many were applied.
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
        with_db!(self, |pool| pool.close().await)
    }
}

/// The SQLite URL for a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}
