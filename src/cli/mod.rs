//! The command line: one subcommand module per area, each returning the text to print or a
//! [`Failure`] that `main` prints and turns into a non-zero exit code.

pub mod calendar;
pub mod workflows;

use std::path::PathBuf;

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
}

impl From<adapters::definitions::DefinitionsError> for Failure {
    fn from(e: adapters::definitions::DefinitionsError) -> Self {
        Failure {
            message: e.to_string(),
            code: 1,
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

pub fn run(cli: &Cli) -> Result<String, Failure> {
    let dir = cli.workflows.as_deref();
    match &cli.command {
        Command::Workflows(cmd) => workflows::run(cmd, dir),
        Command::Calendar(cmd) => {
            let catalog = adapters::definitions::load(dir)?;
            let calendar = catalog
                .calendar("vn")
                .or_else(|| catalog.calendars().next())
                .ok_or_else(|| {
                    Failure::usage(
                        "Chưa có lịch làm việc nào trong thư mục quy trình (calendars/).",
                    )
                })?;
            calendar::run(cmd, calendar).map_err(|message| Failure { message, code: 1 })
        }
    }
}
