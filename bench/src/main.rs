//! `tiendo-bench`: the benchmarks that print tiendo's measured figures, kept out of the product's
//! binary. Each subcommand creates its own scratch database ([`scratch`]), fills it through the
//! product's own doors ([`seed`]), measures, checks that the data it left is consistent, and
//! prints a table on standard output; progress and notes go to standard error.
//!
//! - `transitions`: store transitions per second and latency, with pgbench replaying the same SQL
//!   (`--scenario approval`: the peers' six-step approval chain instead, see bench/peers/);
//! - `timers`: due deadline timers fired into the outbox per second (PostgreSQL);
//! - `api`: transitions through the HTTP API against the store figure, in the same run;
//! - `import`: plan import and the reports over a synthetic plan, each a `tiendo` process;
//! - `forecast`: the year-end forecast of the synthetic plan in each format, each a `tiendo`
//!   process;
//! - `audit`: `audit verify` over a log of 1,000,000 entries filled by re-imports;
//! - `ui`: the web pages against the API calls that carry the same data, over the synthetic plan;
//! - `floors`: what PostgreSQL and rust_xlsxwriter take alone for the import, a report's rows and
//!   the forecast workbook, beside tiendo's whole commands.
//!
//! It uses the library crates (`engine`, `adapters`) and, for `import`, the `tiendo` binary as a
//! user runs it; nothing of the binary's own code.

mod api;
mod audit;
mod drive;
mod failure;
mod floors;
mod forecast;
mod http_load;
mod import;
mod pgbench;
mod process;
mod progress;
mod psql;
mod scratch;
mod seed;
mod stats;
mod synthetic_plan;
mod timers;
mod transitions;
mod ui;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

pub use failure::Failure;

/// The `tiendo` binary's allocator (src/main.rs), so that the store measured here in-process
/// allocates as it does in `tiendo serve` (its decay setting matters for reports' peaks, not here).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "tiendo-bench",
    version,
    about = "Benchmarks of tiendo that print measured figures (build with --release)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Transitions per second and latency on SQLite and PostgreSQL.
    Transitions(transitions::Args),
    /// Transitions per second through the HTTP API, against the store in the same run.
    Api(api::Args),
    /// Due deadline timers fired into the outbox per second on PostgreSQL, and the lag.
    Timers(timers::Args),
    /// Plan import and the progress report over a synthetic plan (default 100,000 tasks).
    Import(import::Args),
    /// The year-end forecast of a synthetic plan (default 100,000 tasks) in each format.
    Forecast(forecast::Args),
    /// `tiendo audit verify` over a large audit log (default 100,000 tasks, 1,000,000 entries):
    /// time and peak memory.
    Audit(audit::Args),
    /// The web pages (task list, my turn, task page) against the API, p50/p95, over the
    /// synthetic plan (default 100,000 tasks).
    Ui(ui::Args),
    /// What the parts tiendo stands on take alone (PostgreSQL's bulk load and its handing over of
    /// a report's rows, rust_xlsxwriter writing the forecast's cells), beside tiendo's commands.
    Floors(floors::Args),
}

impl Command {
    /// Flags that do not fit together, before any work is done.
    fn check(&self) -> Result<(), String> {
        match self {
            Command::Transitions(args) => args.check(),
            Command::Api(args) => args.check(),
            Command::Timers(args) => args.check(),
            Command::Import(args) => args.check(),
            Command::Forecast(args) => args.check(),
            Command::Audit(args) => args.check(),
            Command::Ui(args) => args.check(),
            Command::Floors(args) => args.check(),
        }
    }

    async fn run(&self) -> Result<String, Failure> {
        match self {
            Command::Transitions(args) => transitions::run(args).await,
            Command::Api(args) => api::run(args).await,
            Command::Timers(args) => timers::run(args).await,
            Command::Import(args) => import::run(args).await,
            Command::Forecast(args) => forecast::run(args).await,
            Command::Audit(args) => audit::run(args).await,
            Command::Ui(args) => ui::run(args).await,
            Command::Floors(args) => floors::run(args).await,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = cli.command.check() {
        Cli::command()
            .error(clap::error::ErrorKind::ValueValidation, message)
            .exit();
    }
    match cli.command.run().await {
        Ok(out) => {
            // A closed pipe (`tiendo-bench … | head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(Failure(message)) => {
            eprintln!("{}", message.trim_end());
            ExitCode::FAILURE
        }
    }
}
