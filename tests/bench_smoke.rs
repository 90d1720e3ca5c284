//! End-to-end: `tiendo bench transitions` on SQLite with a handful of tasks prints the table with
//! a row per writer count, and leaves a consistent, verified audit log. Behaviour, not speed.

use std::process::Command;

#[test]
fn bench_transitions_prints_a_row_per_writer_count() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .args([
            "bench",
            "transitions",
            "--backend",
            "sqlite",
            "--tasks",
            "50",
            "--writers",
            "1,2",
            "--seconds",
            "1",
            "--no-pgbench",
        ])
        .current_dir(dir.path())
        .env_remove("TIENDO_WORKFLOWS")
        .env_remove("DATABASE_URL")
        .output()
        .expect("the binary runs");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "exit {}: {err}\n{out}", o.status);

    let header = out
        .lines()
        .position(|l| {
            l.split_whitespace().collect::<Vec<_>>()
                == [
                    "backend",
                    "writers",
                    "transitions",
                    "seconds",
                    "tps",
                    "p50",
                    "ms",
                    "p99",
                    "ms",
                ]
        })
        .unwrap_or_else(|| panic!("no table header in:\n{out}"));
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(header + 1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "one row per writer count:\n{out}");
    for (row, writers) in rows.iter().zip(["1", "2"]) {
        assert_eq!(row[0], "sqlite", "{out}");
        assert_eq!(row[1], writers, "{out}");
        let transitions: u64 = row[2].parse().expect("a transition count");
        let tps: f64 = row[4].parse().expect("a rate");
        let p50: f64 = row[5].parse().expect("a p50 latency");
        let p99: f64 = row[6].parse().expect("a p99 latency");
        assert!(transitions > 0 && tps > 0.0, "{out}");
        assert!(p50 > 0.0 && p99 >= p50, "{out}");
    }
    // The benchmark checks its own writes: every transition audited, every chain intact.
    assert!(
        out.lines()
            .any(|l| l.starts_with("sqlite: audit:") && l.contains("hash chains: OK")),
        "{out}"
    );
    // The temporary database is removed.
    assert!(!dir.path().join("tiendo.db").exists());
}
