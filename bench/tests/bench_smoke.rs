//! End-to-end: `tiendo-bench transitions` on SQLite with a handful of tasks prints the table with
//! a row per writer count, and leaves a consistent, verified audit log; `tiendo-bench api` measures
//! both paths on both backends. Behaviour, not speed.

mod common;

use std::process::Command;

/// Runs `tiendo-bench ARGS` in a fresh directory with no database or workflow settings from the
/// environment; checks that it succeeds and leaves no database behind; returns what it printed.
fn bench(args: &[&str]) -> String {
    let (out, dir) = common::bench_in_fresh_dir(args);
    // The temporary database is removed.
    assert!(!dir.path().join("tiendo.db").exists());
    out
}

#[test]
fn bench_transitions_prints_a_row_per_writer_count() {
    let out = bench(&[
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
    ]);

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
}

/// `tiendo-bench api` on both backends, a few clients for a second a round: the load generator
/// speaks HTTP to the real server, both paths and the `GET /me` floor get a row each, the ratio
/// line is printed, and the audit log the run wrote is complete and verified.
#[test]
fn bench_api_measures_both_paths_on_both_backends() {
    let out = bench(&[
        "api",
        "--backend",
        "both",
        "--clients",
        "3",
        "--tasks",
        "12",
        "--seconds",
        "1",
        "--rounds",
        "2",
        "--warmup-seconds",
        "0",
    ]);

    for backend in ["sqlite", "postgres"] {
        for path in ["store", "api", "GET"] {
            let row: Vec<&str> = out
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .find(|r| r.len() >= 2 && r[0] == backend && r[1] == path)
                .unwrap_or_else(|| panic!("no {backend} {path} row in:\n{out}"));
            let figures: Vec<f64> = row[row.len() - 4..]
                .iter()
                .map(|f| f.parse().expect("a figure"))
                .collect();
            assert!(
                figures[0] > 0.0 && figures[1] > 0.0,
                "{backend} {path}: {out}"
            );
            assert!(
                figures[3] >= figures[2],
                "p99 ≥ p50 for {backend} {path}: {out}"
            );
        }
        // Two rounds of each path: each round's rate is listed.
        let ratio = out
            .lines()
            .find(|l| l.starts_with(&format!("{backend}: store/api = ")))
            .unwrap_or_else(|| panic!("no {backend} ratio line in:\n{out}"));
        let (_, rounds) = ratio
            .split_once("per round, store ")
            .expect("per-round rates");
        assert_eq!(rounds.matches(", ").count(), 2, "{ratio}");
        // Every transition taken, warm-up included, is in the audit log, and the chains hold.
        let audit = out
            .lines()
            .map(str::trim_start)
            .find(|l| l.starts_with(&format!("{backend}: audit: ")))
            .unwrap_or_else(|| panic!("no {backend} audit line in:\n{out}"));
        assert!(audit.contains("hash chains OK"), "{audit}");
        let number_after = |marker: &str| -> u64 {
            let (_, rest) = audit.split_once(marker).expect(marker);
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no number after {marker:?} in {audit}"))
        };
        let entries = number_after("audit: ");
        assert!(entries > 2 * 12, "{audit}");
        assert_eq!(entries, number_after("; expected "), "{audit}");
    }
}

/// Flags that do not fit together are refused before any database is created: a usage error
/// (exit code 2) that names the flag.
#[test]
fn bench_refuses_flags_that_do_not_fit() {
    let o = Command::new(env!("CARGO_BIN_EXE_tiendo-bench"))
        .args(["transitions", "--tasks", "4", "--writers", "1,8"])
        .env_remove("TIENDO_BENCH_POSTGRES")
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--tasks 4 is fewer than 8 writers"), "{err}");
    assert!(o.stdout.is_empty());
}

/// `tiendo-bench floors` over a small plan: each of tiendo's commands (the `tiendo` binary built
/// beside the benchmark, as `cargo test --workspace` builds it) gets a row with the floor under
/// it, after the floors checked that they loaded every row and wrote every cell.
#[test]
fn bench_floors_pairs_each_command_with_its_floor() {
    let out = bench(&["floors", "--tasks", "40"]);
    for work in [
        "import plan (PostgreSQL)",
        "report progress md (PostgreSQL)",
        "forecast xlsx (PostgreSQL)",
    ] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(work))
            .unwrap_or_else(|| panic!("no {work} row in:\n{out}"));
        let figures: Vec<f64> = line[line.find(work).unwrap() + work.len()..]
            .split_whitespace()
            .take(2)
            .map(|f| f.parse().expect("a figure"))
            .collect();
        assert!(figures.iter().all(|f| *f > 0.0), "{line}");
    }
}
