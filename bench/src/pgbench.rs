//! The raw-SQL peer of `transitions` on PostgreSQL: `pgbench` replays the statements one store
//! transition issues (`bench/transition.pgbench.sql`) on the same bench database, so that the
//! ratio tiendo/pgbench is taken in one run. This is the one place where the benchmarks write
//! SQL of their own on purpose: a helper table pgbench picks its tasks from, and the replay.
//!
//! pgbench appends audit entries with made-up hashes: run it only after the audit log has been
//! counted and verified.

use std::path::Path;
use std::time::Duration;

use crate::Failure;
use crate::drive::Round;
use crate::psql::{checkpoint, psql};

/// The statements of one store transition, for `pgbench -f`.
const SCRIPT: &str = include_str!("../transition.pgbench.sql");

/// After seeding: the table of task ids pgbench's script picks from (in the bench database
/// only, never part of the schema), and fresh statistics for tiendo and pgbench alike.
pub async fn prepare(url: &str) -> Result<(), Failure> {
    psql(
        url,
        "CREATE TABLE bench_ids (n INT PRIMARY KEY, task_id TEXT NOT NULL); \
         INSERT INTO bench_ids SELECT row_number() OVER (ORDER BY created_at, id), id FROM tasks; \
         ANALYZE",
    )
    .await
    .map(drop)
}

/// How the replay runs: as tiendo's own round at the same number of clients.
pub struct Replay {
    pub tasks: usize,
    pub clients: usize,
    pub seconds: u64,
    pub warmup_seconds: u64,
    /// Instead of `seconds`: this many measured transactions.
    pub transactions: Option<u64>,
}

/// pgbench's figures, measured like tiendo's.
pub struct Run {
    /// Measured from pgbench's per-transaction log, as tiendo's rounds are.
    pub round: Round,
    /// pgbench's own `tps = … (without initial connection time)`, over the whole run.
    pub own_tps: f64,
    pub own_processed: u64,
}

/// Replays the statements of a transition with pgbench on the bench database at `url`; `Err`
/// is a note to print (pgbench missing or failing does not void tiendo's own figures).
pub async fn replay(r: &Replay, url: &str) -> Result<Run, String> {
    let by_hand = format!(
        "to take the ratio by hand, keep the database with --keep and run: pgbench -n -M prepared -c {} -j 2 -T {} \
         -D tasks={} -D clients={} -f bench/transition.pgbench.sql URL",
        r.clients, r.seconds, r.tasks, r.clients
    );
    let dir = tempfile::Builder::new()
        .prefix("tiendo-pgbench-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let result = run(r, url, dir.path()).await;
    result.map_err(|e| format!("{e}; {by_hand}"))
}

/// Runs pgbench once for warm-up plus measurement, logging every transaction, and measures from
/// the log exactly as tiendo's clients are measured: the transactions started after the
/// warm-up, until the last one ends, on the same (by then warm) connections.
async fn run(r: &Replay, url: &str, dir: &Path) -> Result<Run, String> {
    let script = dir.join("transition.pgbench.sql");
    std::fs::write(&script, SCRIPT)
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let clients = r.clients;
    let jobs = clients.min(2);
    let limit = match r.transactions {
        // Enough for the warm-up too; whatever is left after the measured ones is ignored.
        Some(n) => format!("--transactions={}", n.div_ceil(clients as u64) * 2),
        None => format!("--time={}", r.seconds + r.warmup_seconds),
    };
    let mut cmd = tokio::process::Command::new("pgbench");
    cmd.args(["-n", "-M", "prepared"])
        .arg(format!("--client={clients}"))
        .arg(format!("--jobs={jobs}"))
        .arg(&limit)
        .arg(format!("--define=tasks={}", r.tasks))
        .arg(format!("--define=clients={clients}"))
        .arg(format!("--file={}", script.display()))
        .arg("--log")
        .arg(format!(
            "--log-prefix={}",
            dir.join("pgbench_log").display()
        ))
        .arg(url)
        .current_dir(dir);
    eprintln!(
        "postgres: CHECKPOINT; pgbench -n -M prepared -c {clients} -j {jobs} {limit} -D tasks={} -D clients={clients} \
         -f bench/transition.pgbench.sql -l (first {} s are warm-up, as for tiendo)",
        r.tasks, r.warmup_seconds
    );
    checkpoint(url).await;
    let out = match cmd.output().await {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("pgbench is not on PATH (install the PostgreSQL client tools)".into());
        }
        Err(e) => return Err(format!("cannot run pgbench: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "pgbench failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    let own_tps = stdout
        .lines()
        .find(|l| l.starts_with("tps = ") && l.contains("without initial connection time"))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| {
            format!(
                "no `tps = … (without initial connection time)` line in pgbench's output: {stdout}"
            )
        })?;
    let own_processed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|v| v.split(['/', ' ']).next())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("no transaction count in pgbench's output: {stdout}"))?;
    let spans = read_logs(dir)?;
    Ok(Run {
        round: measured(spans, r)?,
        own_tps,
        own_processed,
    })
}

/// Every logged transaction as (start, end) in seconds since the epoch. One line per
/// transaction: client_id transaction_no latency_us script_no epoch_s epoch_us (its end).
fn read_logs(dir: &Path) -> Result<Vec<(f64, f64)>, String> {
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("cannot read pgbench logs: {e}"))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let is_log = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("pgbench_log"));
        if !is_log {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        spans.extend(text.lines().filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let latency = f.get(2)?.parse::<f64>().ok()? / 1e6;
            let end = f.get(4)?.parse::<f64>().ok()? + f.get(5)?.parse::<f64>().ok()? / 1e6;
            Some((end - latency, end))
        }));
    }
    Ok(spans)
}

/// The transactions started after the warm-up (the first `transactions` of them, if a count
/// was asked for), as a round.
fn measured(spans: Vec<(f64, f64)>, r: &Replay) -> Result<Round, String> {
    let first = spans
        .iter()
        .map(|s| s.0)
        .min_by(f64::total_cmp)
        .ok_or("pgbench wrote no transaction log")?;
    let done = spans.len() as u64;
    let measure_from = first + r.warmup_seconds as f64;
    let mut measured: Vec<(f64, f64)> = spans.into_iter().filter(|s| s.0 >= measure_from).collect();
    if let Some(n) = r.transactions {
        measured.sort_by(|x, y| x.0.total_cmp(&y.0));
        measured.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let last_end = measured
        .iter()
        .map(|s| s.1)
        .max_by(f64::total_cmp)
        .unwrap_or(measure_from);
    let mut latencies: Vec<Duration> = measured
        .iter()
        .map(|(start, end)| Duration::from_secs_f64((end - start).max(0.0)))
        .collect();
    latencies.sort_unstable();
    Ok(Round {
        seconds: last_end - measure_from,
        latencies,
        done,
    })
}
