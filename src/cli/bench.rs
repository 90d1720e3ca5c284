//! `tiendo bench …`: benchmarks that print measured figures.

use super::{Ctx, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCmd {
    /// Transitions per second and latency on SQLite and PostgreSQL.
    Transitions,
}

pub async fn run(cmd: &BenchCmd, _ctx: &Ctx<'_>) -> Result<String, Failure> {
    match cmd {
        BenchCmd::Transitions => Err(Failure::refused("not yet built")),
    }
}
