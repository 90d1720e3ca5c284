//! The command line: one subcommand module per area, each returning the text to print or a
//! [`Failure`] that `main` prints and turns into a non-zero exit code.

pub mod admin;
pub mod calendar;
pub mod demo;
pub mod forecast;
pub mod help;
pub mod import;
pub mod progress;
pub mod report;
pub mod round;
pub mod serve;
pub mod shutdown;
pub mod tasks;
pub mod worker;
pub mod workflows;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use adapters::configuration::{DatabaseSettings, Override, Settings};
use adapters::store::{Store, StoreError};
use clap::{Parser, Subcommand};
use engine::workflow::{Catalog, Workflow};

#[derive(Debug, Parser)]
#[command(
    name = "tiendo",
    version,
    about = "Theo dõi tiến độ nhiệm vụ CNTT sử dụng ngân sách nhà nước — Hải Phòng"
)]
pub struct Cli {
    /// Tệp cấu hình TOML (mặc định: biến TIENDO_CONFIG, nếu có); biến môi trường và tham số
    /// dòng lệnh được ưu tiên hơn tệp. Xem mục Configuration trong README.
    #[arg(long, global = true, value_name = "TỆP")]
    pub config: Option<PathBuf>,

    /// Thư mục quy trình và lịch làm việc (mặc định: TIENDO_WORKFLOWS, hoặc bản có sẵn trong
    /// tiendo).
    #[arg(long, global = true, value_name = "THƯ_MỤC")]
    pub workflows: Option<PathBuf>,

    /// Cơ sở dữ liệu: sqlite://TỆP (tạo khi chạy lần đầu) hoặc
    /// postgres://NGƯỜI_DÙNG@MÁY:CỔNG/CSDL (mặc định: DATABASE_URL, hoặc sqlite://tiendo.db).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

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
    /// Người dùng và vai trò: thêm, xem, đặt mật khẩu, khóa, mở khóa.
    #[command(subcommand)]
    User(admin::UserCmd),
    /// Plans (kế hoạch) such as 215/KH-UBND.
    #[command(subcommand)]
    Plan(admin::PlanCmd),
    /// Nhiệm vụ: đề xuất, liệt kê, xem, chuyển bước, đính kèm tài liệu.
    #[command(subcommand)]
    Task(tasks::TaskCmd),
    /// The audit log: verify the hash chains, show a task's history, seal.
    #[command(subcommand)]
    Audit(admin::AuditCmd),
    /// Nhập danh mục nhiệm vụ của kế hoạch (CSV/XLSX) và đối chiếu với số tổng đã in.
    #[command(subcommand)]
    Import(import::ImportCmd),
    /// Báo cáo: tiến độ thực hiện kế hoạch, tình hình cho lãnh đạo (xlsx/html/md).
    #[command(subcommand)]
    Report(report::ReportCmd),
    /// Đợt báo cáo của kế hoạch: Sở KH&CN mở đợt, đơn vị nhập tình hình, khó khăn, đề xuất của
    /// từng nhiệm vụ, thủ trưởng đơn vị gửi; Sở KH&CN sửa các mục và người ký của báo cáo.
    #[command(subcommand)]
    Round(round::RoundCmd),
    /// Dự báo khả năng hoàn thành trong năm: nhiệm vụ không thể hoàn thành đúng hạn, có nguy cơ,
    /// với bước quyết định của từng nhiệm vụ (md/html/xlsx/json).
    Forecast(forecast::ForecastArgs),
    /// Run the scheduler alone: deadline timers, stall alerts, digests, audit seals, email.
    Worker,
    /// The HTTP API (with the scheduler): `tiendo serve --listen 127.0.0.1:8080`.
    Serve(serve::ServeArgs),
    /// The email outbox, for operators.
    #[command(subcommand)]
    Outbox(worker::OutboxCmd),
    /// Create (or reuse) the demo database with demo units, users and tasks.
    Demo {
        /// Where document files go (default: TIENDO_DATA_DIR, else ./tiendo-data).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

impl Cli {
    /// The flags that stand for settings; they win over the file and the environment.
    pub fn overrides(&self) -> Vec<Override> {
        let mut o = Vec::new();
        if let Some(w) = &self.workflows {
            o.push(Override::new("workflows", "--workflows", path_text(w)));
        }
        if let Some(url) = &self.database_url {
            o.push(Override::new("database_url", "--database-url", url.clone()));
        }
        let data_dir = match &self.command {
            Command::Serve(a) => {
                if let Some(l) = &a.listen {
                    o.push(Override::new("http.listen", "--listen", l.clone()));
                }
                a.data_dir.as_ref()
            }
            Command::Demo { data_dir } => data_dir.as_ref(),
            Command::Task(tasks::TaskCmd::Attach(a)) => a.data_dir.as_ref(),
            _ => None,
        };
        if let Some(d) = data_dir {
            o.push(Override::new("data_dir", "--data-dir", path_text(d)));
        }
        o
    }

    /// Whether the command runs until stopped (its logs default to `info`, else `warn`).
    fn long_running(&self) -> bool {
        matches!(self.command, Command::Serve(_) | Command::Worker)
    }
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
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

/// Text typed on the command line for `option`, held to the one rule for typed text
/// ([`engine::input::clean_text`]): trimmed, not empty, at most `max` characters, no hidden
/// characters (newlines and tabs allowed when `multiline`).
pub fn typed(option: &str, value: &str, max: usize, multiline: bool) -> Result<String, Failure> {
    engine::input::clean_text(value, max, multiline)
        .map_err(|e| Failure::refused(e.describe(option)))
}

/// [`typed`] for an optional value: a blank one means absent.
pub fn typed_opt(
    option: &str,
    value: Option<&str>,
    max: usize,
    multiline: bool,
) -> Result<Option<String>, Failure> {
    engine::input::clean_optional(value, max, multiline)
        .map_err(|e| Failure::refused(e.describe(option)))
}

/// An optional `--email`: one RFC 5322 address ([`engine::input::optional_email`]).
pub fn typed_email(option: &str, value: Option<&str>) -> Result<Option<String>, Failure> {
    engine::input::optional_email(option, value).map_err(Failure::refused)
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

/// What every store command needs: where the definitions and the database are (its part of
/// [`Settings`]).
pub struct Ctx<'a> {
    pub workflows: Option<&'a Path>,
    pub database: &'a DatabaseSettings,
    /// The stores the command opened, closed when it ends ([`Ctx::close`]).
    opened: std::sync::Mutex<Vec<Store>>,
}

impl Ctx<'_> {
    pub fn catalog(&self) -> Result<Arc<Catalog>, Failure> {
        Ok(Arc::new(adapters::definitions::load(self.workflows)?))
    }

    /// The database URL, for connecting (never for printing: see [`Ctx::database_shown`]).
    pub fn database_url(&self) -> &str {
        self.database.url.expose()
    }

    /// The database URL as it may be printed: without its password.
    pub fn database_shown(&self) -> String {
        self.database.url.redacted()
    }

    /// Opens the store, applying pending migrations first.
    pub async fn store(&self) -> Result<Store, Failure> {
        let store = Store::open(self.database_url(), self.catalog()?)
            .await?
            .with_group_commit(self.database.group_commit);
        Ok(self.keep(store))
    }

    /// Keeps `store` to be closed when the command ends.
    pub fn keep(&self, store: Store) -> Store {
        if let Ok(mut opened) = self.opened.lock() {
            opened.push(store.clone());
        }
        store
    }

    /// Closes the stores the command opened. On SQLite the last connection to close folds the
    /// write-ahead log into the database file and removes it, so that the next command does not
    /// first read back a large import's log (a 280 MB log after a 100,000-task import added
    /// 0.2 s to every later command).
    async fn close(&self) {
        let opened = self.opened.lock().map(|mut o| std::mem::take(&mut *o));
        for store in opened.unwrap_or_default() {
            store.close().await;
        }
    }
}

/// Reads and validates the configuration once, starts the logs, and runs the command with its
/// part of the settings.
pub async fn run(cli: &Cli) -> Result<String, Failure> {
    let settings = Settings::load(cli.config.as_deref(), &cli.overrides())
        .map_err(|e| Failure::usage(e.to_string()))?;
    adapters::telemetry::init(
        settings.log.as_deref(),
        if cli.long_running() { "info" } else { "warn" },
    );
    let ctx = Ctx {
        workflows: settings.workflows.as_deref(),
        database: &settings.database,
        opened: Default::default(),
    };
    let result = match &cli.command {
        Command::Workflows(workflows::WorkflowsCmd::Migrate(a)) => {
            workflows::migrate(a, &ctx).await
        }
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
        Command::Audit(cmd) => admin::audit(cmd, &ctx, &settings.data_dir).await,
        Command::Task(cmd) => tasks::run(cmd, &ctx, &settings.data_dir).await,
        Command::Import(cmd) => import::run(cmd, &ctx).await,
        Command::Report(cmd) => report::run(cmd, &ctx).await,
        Command::Round(cmd) => round::run(cmd, &ctx).await,
        Command::Forecast(args) => forecast::run(args, &ctx).await,
        Command::Worker => worker::worker(&ctx, &settings.scheduler, &settings.email).await,
        Command::Serve(args) => serve::run(args, &ctx, &settings).await,
        Command::Outbox(cmd) => worker::outbox(cmd, &ctx).await,
        Command::Demo { .. } => demo::run(&ctx, &settings.data_dir).await,
    };
    ctx.close().await;
    result
}
