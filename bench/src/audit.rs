//! `tiendo-bench audit`: `tiendo audit verify` over a large audit log (issue 18: it streams task
//! by task, peak ≤ 100 MiB at 100,000 tasks and 1,000,000 entries).
//!
//! The log is filled by the product's own commands, each as its own `tiendo` process: the
//! synthetic plan ([`crate::synthetic_plan`]) is imported (one `import` entry per task), then
//! re-imported as corrected again and again ([`synthetic_plan::csv_revision`]: every task's
//! progress text changes, one `import_update` entry per task and re-import) until the log holds
//! `--entries`; `tiendo audit seal` seals every chain's head. Then `tiendo audit verify` is timed
//! with its peak resident memory (VmHWM), and must say OK with the expected counts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::process::{self, Measured};
use crate::scratch::{Backends, PgServer, Scratch};
use crate::{Failure, import, progress, synthetic_plan};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tasks in the synthetic plan.
    #[arg(long, default_value_t = 100_000)]
    pub tasks: usize,
    /// Audit entries in the log when `audit verify` runs (at least `--tasks`): the first import
    /// writes one per task, each re-import one more per task.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: usize,
    /// Which backend(s) to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    #[command(flatten)]
    pub pg: PgServer,
    /// The `tiendo` binary whose commands run (default: `tiendo` beside this benchmark's own
    /// binary, as `cargo build --release --workspace` leaves it).
    #[arg(long, env = "TIENDO_BIN", value_name = "FILE")]
    pub tiendo_bin: Option<PathBuf>,
    /// Keep the scratch database (its URL is printed) to profile `audit verify` on it.
    #[arg(long)]
    pub keep: bool,
}

const PLAN: &str = "998/KH-BENCH-AUDIT";
/// The target of issue 18 for `audit verify` at 100,000 tasks and 1,000,000 entries.
const TARGET_MIB: f64 = 100.0;

impl Args {
    pub fn check(&self) -> Result<(), String> {
        if self.tasks == 0 {
            return Err("--tasks must be at least 1".into());
        }
        if self.entries < self.tasks {
            return Err(
                "--entries must be at least --tasks (the import writes one per task)".into(),
            );
        }
        Ok(())
    }

    /// Imports after the first one: each adds one entry per task.
    fn reimports(&self) -> usize {
        (self.entries - self.tasks).div_ceil(self.tasks)
    }
}

/// One backend: fill the log, seal it, verify it.
async fn run_backend(
    tiendo: &Path,
    scratch: &Scratch,
    a: &Args,
) -> Result<(Measured, usize, f64), Failure> {
    let backend = scratch.backend.as_str();
    let env = [("DATABASE_URL", scratch.url.as_str()), ("USER", "bench")];
    let rounds = a.reimports() + 1;
    let bar = progress::steps(rounds as u64 + 2, backend);
    let seeding = Instant::now();
    let csv = scratch.dir().join("plan.csv");
    for revision in 0..rounds {
        bar.set_message(format!("{backend}: import {}/{rounds}", revision + 1));
        std::fs::write(&csv, synthetic_plan::csv_revision(a.tasks, revision))
            .map_err(|e| Failure::new(format!("{}: {e}", csv.display())))?;
        let args = import::import_args(PLAN, &csv);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let m = process::measure(tiendo, &args, &env).await?;
        let expected = if revision == 0 {
            format!("{} mới, 0 cập nhật, 0 không thay đổi", a.tasks)
        } else {
            format!("0 mới, {} cập nhật, 0 không thay đổi", a.tasks)
        };
        if !m.stdout.contains(&expected) {
            return Err(Failure::new(format!(
                "{backend}: import {}: expected `{expected}`, it printed: {}",
                revision + 1,
                m.stdout
            )));
        }
        bar.inc(1);
    }
    bar.set_message(format!("{backend}: audit seal"));
    process::measure(tiendo, &["audit", "seal"], &env).await?;
    bar.inc(1);
    let seeded = seeding.elapsed().as_secs_f64();
    bar.set_message(format!("{backend}: audit verify"));
    let m = process::measure(tiendo, &["audit", "verify"], &env).await?;
    bar.finish_and_clear();
    let entries = a.tasks * rounds;
    let expected = format!(
        "OK: {entries} entries in {} task chains and 1 seals",
        a.tasks
    );
    if !m.stdout.starts_with(&expected) {
        return Err(Failure::new(format!(
            "{backend}: audit verify: expected `{expected}`, it printed: {}",
            m.stdout
        )));
    }
    Ok((m, entries, seeded))
}

pub async fn run(a: &Args) -> Result<String, Failure> {
    let tiendo = import::tiendo_binary(a.tiendo_bin.as_deref())?;
    let mut out = format!(
        "Audit log: {} tasks of the synthetic plan, {} imports ({} entries)\nTimed: {}\nLoad average before: {}\n\n  {:<10} {:>9} {:>11} {:>9} {:>10}  note\n",
        a.tasks,
        a.reimports() + 1,
        a.tasks * (a.reimports() + 1),
        tiendo.display(),
        process::load_average(),
        "backend",
        "seconds",
        "peak MiB",
        "target",
        "seeded s",
    );
    let mut all_ok = true;
    for &backend in a.backend.list() {
        let scratch = Scratch::create(backend, "audit", &a.pg).await?;
        let result = run_backend(&tiendo, &scratch, a).await;
        scratch.finish(a.keep).await;
        let (m, entries, seeded) = result?;
        let target = match m.peak_mib {
            Some(p) if p <= TARGET_MIB => format!("≤{TARGET_MIB:.0} ok"),
            Some(_) => {
                all_ok = false;
                format!("≤{TARGET_MIB:.0} MISS")
            }
            None => "n/a".into(),
        };
        let _ = writeln!(
            out,
            "  {:<10} {:>9.2} {:>11} {:>9} {:>10.1}  audit verify, {entries} entries",
            backend.as_str(),
            m.seconds,
            m.peak_mib
                .map(|p| format!("{p:.0}"))
                .unwrap_or_else(|| "n/a".into()),
            target,
            seeded,
        );
    }
    let _ = writeln!(out, "\nLoad average after: {}", process::load_average());
    let _ = writeln!(
        out,
        "Target (issue 18): audit verify peak ≤ {TARGET_MIB:.0} MiB at 100,000 tasks and 1,000,000 entries: {}",
        if all_ok { "met" } else { "NOT met" }
    );
    Ok(out)
}
