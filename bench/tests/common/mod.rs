//! What the benchmark binary's end-to-end tests share.

use std::process::Command;

/// Runs `tiendo-bench ARGS` in a fresh directory with no database or workflow settings from the
/// environment; checks that it succeeds; returns what it printed and the directory it ran in.
pub fn bench_in_fresh_dir(args: &[&str]) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tiendo-bench"))
        .args(args)
        .current_dir(dir.path())
        .env_remove("TIENDO_WORKFLOWS")
        .env_remove("DATABASE_URL")
        .env_remove("TIENDO_BENCH_POSTGRES")
        .output()
        .expect("the binary runs");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "exit {}: {err}\n{out}", o.status);
    (out, dir)
}
