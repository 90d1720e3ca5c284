//! `tiendo workflows …`: check, list, show and draw the declared workflows.

use std::path::{Path, PathBuf};

use adapters::definitions;
use engine::time::format_date;
use engine::workflow::{mermaid, table};

use super::Failure;

#[derive(Debug, clap::Subcommand)]
pub enum WorkflowsCmd {
    /// Validate workflow files (default: every file of the workflows folder); exit 1 listing all errors.
    Check {
        /// Workflow files to check against the configured calendars.
        files: Vec<PathBuf>,
    },
    /// List the loaded workflows and their versions.
    List,
    /// Print a workflow's states, transitions and deadlines as a table.
    Show {
        name: String,
        /// A specific version (default: the latest).
        #[arg(long)]
        version: Option<u32>,
    },
    /// Print a workflow as a Mermaid stateDiagram-v2.
    Graph {
        name: String,
        #[arg(long)]
        version: Option<u32>,
    },
}

pub fn run(cmd: &WorkflowsCmd, dir: Option<&Path>) -> Result<String, Failure> {
    match cmd {
        WorkflowsCmd::Check { files } => {
            let checked: Vec<String> = if files.is_empty() {
                let catalog = definitions::load(dir)?;
                catalog
                    .workflows()
                    .map(|w| format!("{} v{} ({})", w.name, w.version, w.file))
                    .collect()
            } else {
                definitions::check_files(dir, files)?
                    .iter()
                    .map(|w| format!("{} v{} ({})", w.name, w.version, w.file))
                    .collect()
            };
            Ok(format!(
                "OK: {} workflow(s) valid\n  {}\n",
                checked.len(),
                checked.join("\n  ")
            ))
        }
        WorkflowsCmd::List => {
            let catalog = definitions::load(dir)?;
            let mut out = String::new();
            for w in catalog.workflows() {
                out.push_str(&format!(
                    "{:<14} v{:<3} {} (từ {}{}) — {} trạng thái, {} chuyển bước\n",
                    w.name,
                    w.version,
                    w.title,
                    format_date(w.applies_from),
                    w.applies_until
                        .map(|d| format!(" đến {}", format_date(d)))
                        .unwrap_or_default(),
                    w.states.len(),
                    w.transitions.len()
                ));
            }
            Ok(out)
        }
        WorkflowsCmd::Show { name, version } => {
            let catalog = definitions::load(dir)?;
            let w = super::find_workflow(&catalog, name, *version)?;
            Ok(table(w))
        }
        WorkflowsCmd::Graph { name, version } => {
            let catalog = definitions::load(dir)?;
            let w = super::find_workflow(&catalog, name, *version)?;
            Ok(mermaid(w))
        }
    }
}
