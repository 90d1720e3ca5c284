//! `tiendo-bench import`: plan import and the progress report over a synthetic plan (issue 18's
//! targets: import of 100,000 tasks ≤ 5 s, the progress report ≤ 1 s in every format, no command
//! over 300 MiB peak memory; issue 6's were 10 s, 3 s and 300 MB).
//!
//! The synthetic catalogue ([`crate::synthetic_plan`]) is written to a temporary folder. Then,
//! per backend, on a scratch database, it runs the very commands a user runs, each as its own
//! `tiendo` process: `import plan` (first import), `import plan` again (which must change
//! nothing), `report progress` in XLSX, HTML and Markdown, `report status` in XLSX, and
//! `audit verify` (a benchmark that corrupts data is useless). Each figure is the command's wall
//! time, process start and migrations included, and its peak resident memory (VmHWM).
//!
//! The `tiendo` binary timed is the one built beside this benchmark (`cargo build --release
//! --workspace` builds both), or the one named by `--tiendo-bin`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::process::{self, Measured};
use crate::scratch::{Backends, PgServer, Scratch};
use crate::{Failure, progress, synthetic_plan};

/// What the benchmarks over a synthetic plan (`import`, `forecast`, `floors`) take alike: the
/// plan's size, the PostgreSQL server and the `tiendo` binary whose commands are timed.
#[derive(Debug, clap::Args)]
pub struct PlanRun {
    /// Tasks in the synthetic plan.
    #[arg(long, default_value_t = 100_000)]
    pub tasks: usize,
    #[command(flatten)]
    pub pg: PgServer,
    /// The `tiendo` binary whose commands are timed (default: `tiendo` beside this benchmark's
    /// own binary, as `cargo build --release --workspace` leaves it).
    #[arg(long, env = "TIENDO_BIN", value_name = "FILE")]
    pub tiendo_bin: Option<PathBuf>,
}

impl PlanRun {
    /// The `tiendo` binary to time and the synthetic plan written for benchmark `what` (and to
    /// `also`), with a line that says what was written.
    pub fn prepare(
        &self,
        what: &str,
        also: Option<&Path>,
    ) -> Result<(PathBuf, synthetic_plan::WrittenPlan, String), Failure> {
        let tiendo = tiendo_binary(self.tiendo_bin.as_deref())?;
        let plan = synthetic_plan::write(what, self.tasks, also)?;
        let line = format!(
            "Synthetic plan: {} tasks, {:.1} MB of CSV, generated in {:.2} s ({})",
            self.tasks,
            plan.bytes as f64 / 1e6,
            plan.generated_in.as_secs_f64(),
            plan.csv.display()
        );
        Ok((tiendo, plan, line))
    }

    pub fn check(&self) -> Result<(), String> {
        if self.tasks == 0 {
            return Err("--tasks must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub run: PlanRun,
    /// Which backend(s) to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    /// Also write the synthetic catalogue here (to time `tiendo import plan` under /usr/bin/time).
    #[arg(long, value_name = "FILE")]
    pub write_csv: Option<PathBuf>,
}

pub(crate) const PLAN: &str = "999/KH-BENCH";
/// Issue 18's targets, in seconds: an import of 100,000 tasks, a progress report of them.
const IMPORT_TARGET: f64 = 5.0;
const REPORT_TARGET: f64 = 1.0;
/// Issue 18: no command over this peak resident memory on the 100,000-task benchmark.
const PEAK_TARGET_MIB: f64 = 300.0;
/// The phases of one backend's run, for the progress bar.
const PHASES: u64 = 7;

/// A phase as measured: one `tiendo` command in its own process.
struct Phase {
    name: String,
    seconds: f64,
    cpu_seconds: Option<f64>,
    peak_mib: Option<f64>,
    target_seconds: Option<f64>,
    note: String,
}

impl Phase {
    fn new(
        name: impl Into<String>,
        m: &Measured,
        target_seconds: Option<f64>,
        note: String,
    ) -> Phase {
        Phase {
            name: name.into(),
            seconds: m.seconds,
            cpu_seconds: m.cpu_seconds,
            peak_mib: m.peak_mib,
            target_seconds,
            note,
        }
    }
}

/// The `tiendo` binary to time: the one named, or the one beside this benchmark.
pub fn tiendo_binary(named: Option<&Path>) -> Result<PathBuf, Failure> {
    let path = match named {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .map_err(|e| Failure::new(format!("cannot find this benchmark's binary: {e}")))?
            .with_file_name(format!("tiendo{}", std::env::consts::EXE_SUFFIX)),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(Failure::new(format!(
            "no tiendo binary at {}: `import` times the product's own commands. Build it \
             beside this benchmark (`cargo build --release --workspace`) or name one with \
             --tiendo-bin.",
            path.display()
        )))
    }
}

/// One backend: the user's commands, in order, each checked and measured.
async fn run_backend(
    tiendo: &Path,
    scratch: &Scratch,
    csv: &Path,
    tasks: usize,
) -> Result<Vec<Phase>, Failure> {
    let backend = scratch.backend.as_str();
    let env = [("DATABASE_URL", scratch.url.as_str()), ("USER", "bench")];
    let bar = progress::steps(PHASES, backend);
    let run = |name: String, args: Vec<String>| {
        bar.set_message(format!("{backend}: {name}"));
        let bar = bar.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let m = process::measure(tiendo, &args, &env).await;
            bar.inc(1);
            m
        }
    };
    let import = import_args(PLAN, csv);
    let mut phases = Vec::new();
    // The first import creates every task; the second, of the same file, must change nothing.
    for (name, expected, note) in [
        (
            "import (first)",
            format!("{tasks} mới, 0 cập nhật, 0 không thay đổi"),
            format!("{tasks} tasks created"),
        ),
        (
            "re-import (no change)",
            format!("0 mới, 0 cập nhật, {tasks} không thay đổi"),
            format!("{tasks} unchanged"),
        ),
    ] {
        let m = run(name.into(), import.clone()).await?;
        if !m.stdout.contains(&expected) {
            return Err(Failure::new(format!(
                "{backend}: {name}: expected `{expected}`, it printed: {}",
                m.stdout
            )));
        }
        phases.push(Phase::new(name, &m, Some(IMPORT_TARGET), note));
    }
    for format in ["xlsx", "html", "md"] {
        let file = scratch.dir().join(format!("{backend}-progress.{format}"));
        let name = format!("progress report ({format})");
        let args = [
            "report",
            "progress",
            "--plan",
            PLAN,
            "--as-of",
            "2025-11-05",
            "--format",
            format,
            "-o",
            &file.display().to_string(),
        ]
        .map(String::from)
        .to_vec();
        let m = run(name.clone(), args).await?;
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        phases.push(Phase::new(
            name,
            &m,
            Some(REPORT_TARGET),
            format!("{:.1} MB", size as f64 / 1e6),
        ));
    }
    // The year-end forecast of every task (issue 17), as JSON: read, forecast, written.
    let file = scratch.dir().join(format!("{backend}-forecast.json"));
    let args = [
        "forecast",
        "--plan",
        PLAN,
        "--as-of",
        "2025-11-05",
        "--format",
        "json",
        "-o",
        &file.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let m = run("forecast (json)".into(), args).await?;
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    phases.push(Phase::new(
        "forecast (json)",
        &m,
        Some(1.0),
        format!("{:.1} MB", size as f64 / 1e6),
    ));
    let file = scratch.dir().join(format!("{backend}-status.xlsx"));
    let today = engine::time::local_date(Utc::now())
        .format("%Y-%m-%d")
        .to_string();
    let args = [
        "report",
        "status",
        "--plan",
        PLAN,
        "--from",
        "2025-01-01",
        "--to",
        &today,
        "-o",
        &file.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let m = run("status report (xlsx)".into(), args).await?;
    phases.push(Phase::new("status report (xlsx)", &m, None, String::new()));
    let m = run("audit verify".into(), vec!["audit".into(), "verify".into()]).await?;
    let first_line = m.stdout.lines().next().unwrap_or_default().to_string();
    phases.push(Phase::new("audit verify", &m, None, first_line));
    bar.finish_and_clear();
    Ok(phases)
}

/// `tiendo import plan` of the synthetic catalogue `csv` as plan number `plan` of 2025 (the
/// import, forecast and audit benchmarks).
pub(crate) fn import_args(plan: &str, csv: &Path) -> Vec<String> {
    let csv = csv.display().to_string();
    [
        "import",
        "plan",
        "--plan",
        plan,
        "--year",
        "2025",
        "--title",
        "Kế hoạch tổng hợp (dữ liệu đo hiệu năng)",
        &csv,
    ]
    .map(String::from)
    .to_vec()
}

impl Args {
    pub fn check(&self) -> Result<(), String> {
        self.run.check()
    }
}

pub async fn run(a: &Args) -> Result<String, Failure> {
    let (tiendo, plan, planned) = a.run.prepare("import", a.write_csv.as_deref())?;
    let mut out = format!(
        "{planned}\nTimed: {}\nLoad average before: {}\n",
        tiendo.display(),
        process::load_average()
    );
    let mut all_ok = true;
    for &backend in a.backend.list() {
        let scratch = Scratch::create(backend, "import", &a.run.pg).await?;
        let result = run_backend(&tiendo, &scratch, &plan.csv, a.run.tasks).await;
        scratch.finish(false).await;
        let phases = result?;
        all_ok &= render_phases(&mut out, backend.as_str(), &phases);
    }
    let _ = writeln!(out, "\nLoad average after: {}", process::load_average());
    let _ = writeln!(
        out,
        "Targets (issue 18): import ≤ {IMPORT_TARGET:.0} s, progress report ≤ {REPORT_TARGET:.0} s, forecast ≤ 1 s, no command over {PEAK_TARGET_MIB:.0} MiB peak: {}",
        if all_ok { "met" } else { "NOT met" }
    );
    Ok(out)
}

/// One backend's table; whether every target was met.
fn render_phases(out: &mut String, backend: &str, phases: &[Phase]) -> bool {
    let mut all_ok = true;
    let _ = writeln!(out, "\n{backend}:");
    let _ = writeln!(
        out,
        "  {:<26} {:>9} {:>7} {:>11} {:>8}  note",
        "phase", "seconds", "cpu s", "peak MiB", "target"
    );
    for p in phases {
        let target = match p.target_seconds {
            Some(t) if p.seconds <= t => format!("≤{t:.0}s ok"),
            Some(t) => {
                all_ok = false;
                format!("≤{t:.0}s MISS")
            }
            None => String::new(),
        };
        // The memory target holds for every command.
        let peak = p
            .peak_mib
            .map(|m| {
                if m > PEAK_TARGET_MIB {
                    all_ok = false;
                    format!("{m:.0} MISS")
                } else {
                    format!("{m:.0}")
                }
            })
            .unwrap_or_else(|| "n/a".into());
        let _ = writeln!(
            out,
            "  {:<26} {:>9.2} {:>7} {:>11} {:>8}  {}",
            p.name,
            p.seconds,
            p.cpu_seconds
                .map_or_else(|| "n/a".to_string(), |c| format!("{c:.2}")),
            peak,
            target,
            p.note
        );
    }
    all_ok
}
