//! The command line: one subcommand module per area, each returning the text to print or a
//! [`Failure`] that `main` prints and turns into a non-zero exit code.

pub mod admin;
pub mod calendar;
pub mod demo;
pub mod import;
pub mod report;
pub mod serve;
pub mod tasks;
pub mod worker;
pub mod workflows;

use std::path::PathBuf;
use std::sync::Arc;

use adapters::store::{DEFAULT_DATABASE_URL, Store, StoreError};
use clap::{Parser, Subcommand};
use engine::workflow::{Catalog, Workflow};

#[derive(Debug, Parser)]
#[command(
    name = "tiendo",
    version,
    about = "Theo dõi tiến độ nhiệm vụ CNTT sử dụng ngân sách nhà nước — Hải Phòng"
)]
pub struct Cli {
    /// Folder of workflow files and calendars (default: the copy built into tiendo).
    #[arg(long, global = true, env = "TIENDO_WORKFLOWS", value_name = "DIR")]
    pub workflows: Option<PathBuf>,

    /// The database: sqlite://FILE (created on first run) or postgres://USER@HOST:PORT/DB.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_name = "URL")]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Declared workflows: check, list, show, graph.
    #[command(subcommand)]
    Workflows(workflows::WorkflowsCmd),
    /// Working-day calendar: legal deadlines for appraisers.
    #[command(subcommand)]
    Calendar(calendar::CalendarCmd),
    /// Database maintenance.
    #[command(subcommand)]
    Db(admin::DbCmd),
    /// Units (departments, communes, hospitals…): add, list, rename, merge.
    #[command(subcommand)]
    Unit(admin::UnitCmd),
    /// Users and their roles.
    #[command(subcommand)]
    User(admin::UserCmd),
    /// Plans (kế hoạch) such as 215/KH-UBND.
    #[command(subcommand)]
    Plan(admin::PlanCmd),
    /// Tasks: create, list, show, transition, attach documents.
    #[command(subcommand)]
    Task(tasks::TaskCmd),
    /// The audit log: verify the hash chains, show a task's history, seal.
    #[command(subcommand)]
    Audit(admin::AuditCmd),
    /// Import a plan's task catalogue (CSV/XLSX) and reconcile its printed totals.
    #[command(subcommand)]
    Import(import::ImportCmd),
    /// Reports: the progress report on a plan, the status report for leadership (xlsx/html/md).
    #[command(subcommand)]
    Report(report::ReportCmd),
    /// Run the scheduler alone: deadline timers, stall alerts, digests, audit seals, email.
    Worker,
    /// The HTTP API (with the scheduler): `tiendo serve --listen 127.0.0.1:8080`.
    Serve(serve::ServeArgs),
    /// The email outbox, for operators.
    #[command(subcommand)]
    Outbox(worker::OutboxCmd),
    /// Create (or reuse) the demo database with demo units, users and tasks.
    Demo {
        /// Where document files go.
        #[arg(long, env = "TIENDO_DATA_DIR", default_value = "tiendo-data")]
        data_dir: PathBuf,
    },
}

/// A command that did not succeed: the message for the user and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 2,
        }
    }

    pub fn refused(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

impl From<adapters::definitions::DefinitionsError> for Failure {
    fn from(e: adapters::definitions::DefinitionsError) -> Self {
        Failure::refused(e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Database(e) => Failure::refused(format!("Lỗi cơ sở dữ liệu: {e}")),
            StoreError::Migrate(e) => {
                Failure::refused(format!("Lỗi cập nhật cấu trúc cơ sở dữ liệu: {e}"))
            }
            other => Failure::refused(other.to_string()),
        }
    }
}

pub fn find_workflow<'a>(
    catalog: &'a Catalog,
    name: &str,
    version: Option<u32>,
) -> Result<&'a Workflow, Failure> {
    let found = match version {
        Some(v) => catalog.get(name, v),
        None => catalog.latest(name),
    };
    found.map(|w| w.as_ref()).ok_or_else(|| {
        Failure::usage(format!(
            "Không có quy trình `{name}`{}. Các quy trình hiện có: {}",
            version
                .map(|v| format!(" phiên bản {v}"))
                .unwrap_or_default(),
            catalog.names().join(", ")
        ))
    })
}

/// What every store command needs: where the definitions and the database are.
pub struct Ctx<'a> {
    pub workflows: Option<&'a std::path::Path>,
    pub database_url: &'a str,
}

impl Ctx<'_> {
    pub fn catalog(&self) -> Result<Arc<Catalog>, Failure> {
        Ok(Arc::new(adapters::definitions::load(self.workflows)?))
    }

    /// Opens the store, applying pending migrations first.
    pub async fn store(&self) -> Result<Store, Failure> {
        Ok(Store::open(self.database_url, self.catalog()?).await?)
    }
}

pub async fn run(cli: &Cli) -> Result<String, Failure> {
    let ctx = Ctx {
        workflows: cli.workflows.as_deref(),
        database_url: &cli.database_url,
    };
    match &cli.command {
        Command::Workflows(cmd) => workflows::run(cmd, ctx.workflows),
        Command::Calendar(cmd) => {
            let catalog = ctx.catalog()?;
            let calendar = catalog
                .calendar("vn")
                .or_else(|| catalog.calendars().next())
                .ok_or_else(|| {
                    Failure::usage(
                        "Chưa có lịch làm việc nào trong thư mục quy trình (calendars/).",
                    )
                })?;
            calendar::run(cmd, calendar).map_err(Failure::refused)
        }
        Command::Db(cmd) => admin::db(cmd, &ctx).await,
        Command::Unit(cmd) => admin::unit(cmd, &ctx).await,
        Command::User(cmd) => admin::user(cmd, &ctx).await,
        Command::Plan(cmd) => admin::plan(cmd, &ctx).await,
        Command::Audit(cmd) => admin::audit(cmd, &ctx).await,
        Command::Task(cmd) => tasks::run(cmd, &ctx).await,
        Command::Import(cmd) => import::run(cmd, &ctx).await,
        Command::Report(cmd) => report::run(cmd, &ctx).await,
        Command::Worker => worker::worker(&ctx).await,
        Command::Serve(args) => serve::run(args, &ctx).await,
        Command::Outbox(cmd) => worker::outbox(cmd, &ctx).await,
        Command::Demo { data_dir } => demo::run(&ctx, data_dir).await,
    }
}
