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
    /// Chuyển nhiệm vụ đang chạy sang phiên bản mới của quy trình, theo cách chuyển bước mà
    /// phiên bản đó khai báo ([[migrate_from]]); mỗi nhiệm vụ một mục nhật ký «migrate».
    ///
    /// Nhiệm vụ đang chạy giữ phiên bản đã bắt đầu cho đến khi quản trị viên chuyển: một nhiệm
    /// vụ (--task) hoặc mọi nhiệm vụ của một phiên bản đang ở một bước (--state, --from).
    Migrate(MigrateArgs),
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Tên quy trình, ví dụ mua-sam.
    pub name: String,
    /// Phiên bản đích.
    #[arg(long, value_name = "PHIÊN_BẢN")]
    pub to: u32,
    /// Mã nhiệm vụ cần chuyển.
    #[arg(long, value_name = "MÃ_NHIỆM_VỤ", conflicts_with_all = ["state", "from"], required_unless_present = "state")]
    pub task: Option<String>,
    /// Chuyển mọi nhiệm vụ đang ở bước này (cùng --from).
    #[arg(long, value_name = "BƯỚC", requires = "from")]
    pub state: Option<String>,
    /// Phiên bản hiện tại của các nhiệm vụ chọn bằng --state.
    #[arg(long, value_name = "PHIÊN_BẢN", requires = "state")]
    pub from: Option<u32>,
    /// Tên đăng nhập của quản trị viên thực hiện.
    #[arg(long = "as", value_name = "TÊN_ĐĂNG_NHẬP")]
    pub as_user: String,
}

/// `tiendo workflows migrate`: one store door, then a line per task moved.
pub async fn migrate(a: &MigrateArgs, ctx: &super::Ctx<'_>) -> Result<String, Failure> {
    use adapters::store::MigrationSelection;
    let store = ctx.store().await?;
    let actor = store.directory().actor(&a.as_user).await?;
    let which = match (&a.task, &a.state, a.from) {
        (Some(id), _, _) => MigrationSelection::Task(id.clone()),
        (None, Some(state), Some(from_version)) => MigrationSelection::State {
            state: state.clone(),
            from_version,
        },
        _ => {
            return Err(Failure::usage(
                "Chọn nhiệm vụ cần chuyển: --task MÃ, hoặc --state BƯỚC --from PHIÊN_BẢN.",
            ));
        }
    };
    let moved = store
        .tasks()
        .migrate_as(&actor, &a.name, a.to, &which, chrono::Utc::now())
        .await?;
    let mut out = String::new();
    for m in &moved {
        out.push_str(&format!(
            "{}  v{} {} → v{} {} («{}»)  {}\n",
            m.task_id,
            m.from_version,
            m.from_state,
            a.to,
            m.outcome.state,
            m.outcome.state_title,
            m.task_name
        ));
    }
    out.push_str(&format!(
        "Đã chuyển {} nhiệm vụ sang phiên bản {} của quy trình {}.\n",
        moved.len(),
        a.to,
        a.name
    ));
    Ok(out)
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
        WorkflowsCmd::Migrate(_) => Err(Failure::usage(
            "`workflows migrate` needs the database; run through the command dispatcher.",
        )),
    }
}
