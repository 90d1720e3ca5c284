//! `tiendo report progress|status …`: the reports of `adapters::report` written to a file (or,
//! for HTML and Markdown, to standard output).

use std::path::{Path, PathBuf};
use std::time::Duration;

use adapters::report::{self, Format, ProgressParams, Report, ReportError, StatusParams, Tracker};
use chrono::{Datelike, NaiveDate, Utc};
use engine::time::{local_date, parse_date};
use indicatif::{ProgressBar, ProgressStyle};

use super::{Ctx, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum ReportCmd {
    /// The SKHCN progress report on a plan (body, funding table, the four appendices).
    Progress {
        /// The plan's number, e.g. 215/KH-UBND.
        #[arg(long)]
        plan: String,
        /// "Tiến độ tính đến": tasks as of the end of this day (yyyy-mm-dd or dd/mm/yyyy; default today).
        #[arg(long)]
        as_of: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// The status report for leadership: per unit the four Government Office categories,
    /// the overdue and the stalled tasks, over a date range.
    Status {
        /// A plan's number (default: every plan).
        #[arg(long)]
        plan: Option<String>,
        /// First day of the range (default: 1 January of --to's year).
        #[arg(long)]
        from: Option<String>,
        /// Last day of the range (default: today).
        #[arg(long)]
        to: Option<String>,
        /// Working days without movement that make a task stalled (default: the workflow's, else 10).
        #[arg(long)]
        stall_days: Option<u32>,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Debug, clap::Args)]
pub struct Output {
    /// xlsx | html | md (default: from the -o file's extension).
    #[arg(long)]
    pub format: Option<String>,
    /// Where to write the report; HTML and Markdown go to standard output without it.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Report as this user: a unit's officer sees only their unit's tasks.
    #[arg(long = "as", value_name = "USERNAME")]
    pub as_user: Option<String>,
}

fn date(s: &str, what: &str) -> Result<NaiveDate, Failure> {
    parse_date(s).map_err(|e| Failure::usage(format!("{what} không hợp lệ: {e}")))
}

fn format_of(out: &Output) -> Result<Format, Failure> {
    let from_ext = || {
        out.output
            .as_deref()
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
            .and_then(|e| e.parse::<Format>().ok())
    };
    match (&out.format, from_ext()) {
        (Some(f), _) => f.parse().map_err(Failure::usage),
        (None, Some(f)) => Ok(f),
        (None, None) => Err(Failure::usage(
            "Cần --format xlsx|html|md (hoặc tệp -o có đuôi .xlsx, .html, .md).",
        )),
    }
}

fn failure(e: ReportError) -> Failure {
    match e {
        ReportError::Store(s) => Failure::from(s),
        ReportError::Invalid(m) => Failure::usage(m),
        other => Failure::refused(other.to_string()),
    }
}

fn deliver(report: Report, format: Format, out: &Output, what: &str) -> Result<String, Failure> {
    match &out.output {
        Some(path) => {
            std::fs::write(path, &report.bytes).map_err(|e| {
                Failure::refused(format!("Không ghi được tệp {}: {e}", path.display()))
            })?;
            Ok(format!(
                "Đã ghi {what} ({}, {} byte) vào {}\n",
                format.extension(),
                report.bytes.len(),
                path.display()
            ))
        }
        None if format == Format::Xlsx => Err(Failure::usage(
            "Báo cáo XLSX cần tệp đích: thêm -o TỆP.xlsx.",
        )),
        None => String::from_utf8(report.bytes)
            .map_err(|e| Failure::refused(format!("báo cáo không phải UTF-8: {e}"))),
    }
}

async fn scope(
    store: &adapters::store::Store,
    out: &Output,
) -> Result<Option<Vec<String>>, Failure> {
    match &out.as_user {
        Some(u) => engine::access::report_scope(&store.actor(u).await?)
            .map_err(|d| Failure::refused(d.message)),
        None => Ok(None),
    }
}

/// How far a report has got, as a bar (a spinner while the stage is not counted) on stderr.
/// indicatif draws nothing when stderr is not a terminal, so scripts and the bench see no bar.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Bar {
        let bar = ProgressBar::new_spinner();
        if !bar.is_hidden() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Bar(bar)
    }
}

impl Tracker for Bar {
    fn stage(&self, what: &str, total: usize) {
        let template = if total > 0 {
            "{msg} [{bar:30}] {pos}/{len} nhiệm vụ ({elapsed})"
        } else {
            "{spinner} {msg} ({elapsed})"
        };
        self.0.set_message(what.to_string());
        self.0.set_length(total as u64);
        self.0.set_position(0);
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.0.set_style(style.progress_chars("=> "));
        }
    }

    fn advance(&self, done: usize) {
        self.0.set_position(done as u64);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

pub async fn run(cmd: &ReportCmd, ctx: &Ctx<'_>) -> Result<String, Failure> {
    let today = local_date(Utc::now());
    match cmd {
        ReportCmd::Progress { plan, as_of, out } => {
            let format = format_of(out)?;
            let as_of = match as_of {
                Some(d) => date(d, "Ngày --as-of")?,
                None => today,
            };
            let store = ctx.store().await?;
            let params = ProgressParams {
                plan: plan.clone(),
                as_of,
                units: scope(&store, out).await?,
            };
            let r = report::progress_tracked(&store, &params, format, &Bar::new())
                .await
                .map_err(failure)?;
            deliver(r, format, out, "báo cáo tiến độ")
        }
        ReportCmd::Status {
            plan,
            from,
            to,
            stall_days,
            out,
        } => {
            let format = format_of(out)?;
            let to = match to {
                Some(d) => date(d, "Ngày --to")?,
                None => today,
            };
            let from = match from {
                Some(d) => date(d, "Ngày --from")?,
                None => NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to),
            };
            let store = ctx.store().await?;
            let params = StatusParams {
                plan: plan.clone(),
                from,
                to,
                stall_days: *stall_days,
                units: scope(&store, out).await?,
            };
            let r = report::status_tracked(&store, &params, format, &Bar::new())
                .await
                .map_err(failure)?;
            deliver(r, format, out, "báo cáo tình hình")
        }
    }
}
