//! The peers' runner (`bench/peers/run`, bench/peers/README.md) reads tiendo's figures from
//! `tiendo-bench`'s printed tables. These checks run the real benchmarks, small, and feed what
//! they printed to the runner's own parser (`bench/peers/peers.py --parse`), so that a change of
//! either side's format breaks a test rather than the manual peers run. They also check that
//! `transitions --scenario approval` walks the six-step chain exactly: six moves per task, two
//! more for each one returned for revision. Behaviour, not speed; the peers themselves
//! (SpiffWorkflow, graphile-worker) are not installed here.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Runs `tiendo-bench ARGS` in a fresh directory; checks that it succeeds; returns its output.
fn bench(args: &[&str]) -> String {
    common::bench_in_fresh_dir(args).0
}

fn runner() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/peers.py")
}

/// What the runner's parser makes of `out` (as `kind`: transitions or timers).
fn parse(kind: &str, out: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.txt");
    std::fs::write(&file, out).unwrap();
    let o = Command::new("python3")
        .arg(runner())
        .args(["--parse", kind])
        .arg(&file)
        .output()
        .expect("python3 runs (the peers' runner needs it)");
    assert!(
        o.status.success(),
        "peers.py --parse {kind}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("one JSON value")
}

fn rows(parsed: &Value) -> Vec<(String, u64, u64, f64)> {
    parsed["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["backend"].as_str().unwrap().to_string(),
                r["writers"].as_u64().unwrap(),
                r["transitions"].as_u64().unwrap(),
                r["tps"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The approval scenario on SQLite at two writer counts: each writer count walks its own 20
/// tasks to the end, 6 × 20 + 2 × 2 moves (tasks 10 and 20 are returned once), every move
/// audited; the runner finds both rows and the audit check.
#[test]
fn peers_runner_reads_the_approval_scenario_on_sqlite() {
    let out = bench(&[
        "transitions",
        "--scenario",
        "approval",
        "--backend",
        "sqlite",
        "--tasks",
        "20",
        "--writers",
        "1,3",
    ]);
    let parsed = parse("transitions", &out);
    let rows = rows(&parsed);
    assert_eq!(rows.len(), 2, "{out}");
    for (row, writers) in rows.iter().zip([1, 3]) {
        assert_eq!(
            (row.0.as_str(), row.1, row.2),
            ("sqlite", writers, 124),
            "{out}"
        );
        assert!(row.3 > 0.0, "{out}");
    }
    assert_eq!(parsed["audit_ok"], Value::Bool(true), "{out}");
    // Two rounds of 20 fresh tasks: 40 creations and 248 moves in the audit log.
    assert!(
        out.contains(
            "sqlite: audit: 40 seed entries + 248 transitions = 288 expected, 288 counted"
        ),
        "{out}"
    );
}

/// The PostgreSQL pair: tiendo's rows with group commit off and on, and pgbench's, at the same
/// writer count, as the runner takes its ratios from them.
#[test]
fn peers_runner_reads_tiendo_and_pgbench_on_postgres() {
    let out = bench(&[
        "transitions",
        "--backend",
        "postgres",
        "--tasks",
        "40",
        "--writers",
        "2",
        "--seconds",
        "1",
        "--warmup-seconds",
        "0",
        "--group-commit",
        "both",
    ]);
    let parsed = parse("transitions", &out);
    let rows = rows(&parsed);
    let names: Vec<(&str, u64)> = rows.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(
        names,
        [("postgres", 2), ("postgres-gc", 2), ("pgbench", 2)],
        "{out}"
    );
    assert!(out.contains("postgres-gc: group commit: "), "{out}");
    assert!(rows.iter().all(|r| r.2 > 0 && r.3 > 0.0), "{out}");
    assert_eq!(parsed["audit_ok"], Value::Bool(true), "{out}");
}

/// The timers pair: tiendo's throughput, fired count and lag, and its own check.
#[test]
fn peers_runner_reads_tiendo_timers() {
    let out = bench(&["timers", "--timers", "50", "--seed-concurrency", "4"]);
    let parsed = parse("timers", &out);
    assert_eq!(parsed["fired"], Value::from(50), "{out}");
    assert!(parsed["timers_per_s"].as_f64().unwrap() > 0.0, "{out}");
    assert!(parsed["lag_p99_ms"].as_f64().is_some(), "{out}");
    assert_eq!(parsed["check_ok"], Value::Bool(true), "{out}");
}

/// `--scenario approval` walks every task to its end: a fixed number of transitions does not
/// fit, and is refused before any database is made.
#[test]
fn approval_scenario_refuses_a_transition_count() {
    let o = Command::new(env!("CARGO_BIN_EXE_tiendo-bench"))
        .args([
            "transitions",
            "--scenario",
            "approval",
            "--transitions",
            "10",
        ])
        .env_remove("TIENDO_BENCH_POSTGRES")
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--transitions does not fit --scenario approval"),
        "{err}"
    );
}
