//! SQL the benchmarks run outside the store, with the PostgreSQL client `psql`: creating and
//! dropping scratch databases, `CHECKPOINT` and `VACUUM` between measurements, pgbench's helper
//! table. The benchmarks' own writes always go through the store.

use crate::Failure;

/// Runs `sql` on the database at `url`; returns what it printed (unaligned, tuples only).
pub async fn psql(url: &str, sql: &str) -> Result<String, Failure> {
    let out = tokio::process::Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .await
        .map_err(|e| {
            Failure::new(format!(
                "cannot run psql: {e}. The PostgreSQL benchmarks create and drop their database \
                 with the PostgreSQL client tools (psql, pgbench): install them or use --backend sqlite."
            ))
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Failure::new(format!(
            "psql failed on `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Starts a PostgreSQL measurement right after a checkpoint, so that none of them pays for a
/// timed checkpoint and its full-page writes while the others do not.
pub async fn checkpoint(url: &str) {
    if let Err(e) = psql(url, "CHECKPOINT").await {
        eprintln!(
            "postgres: CHECKPOINT failed, figures may include one: {}",
            e.0
        );
    }
}
