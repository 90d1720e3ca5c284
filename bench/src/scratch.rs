//! Scratch databases: every benchmark measures on a database of its own, never on a real one. On
//! SQLite, a file in a temporary folder; on PostgreSQL, a `tiendo_bench_<kind>_<random>` database
//! created on the server named by `--pg-url` and dropped at the end. Either way the run also gets
//! a temporary folder (document files, pgbench's logs, the synthetic plan), removed at the end.

use std::path::{Path, PathBuf};

use adapters::store::{Backend, sqlite_url};

use crate::Failure;
use crate::psql::psql;

/// `--backend`: which backend(s) a benchmark measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backends {
    Sqlite,
    Postgres,
    Both,
}

impl Backends {
    /// The backends to measure, in the order they are measured.
    pub fn list(self) -> &'static [Backend] {
        match self {
            Backends::Sqlite => &[Backend::Sqlite],
            Backends::Postgres => &[Backend::Postgres],
            Backends::Both => &[Backend::Sqlite, Backend::Postgres],
        }
    }
}

/// `--pg-url`: the PostgreSQL server the scratch databases are created on.
#[derive(Debug, Clone, clap::Args)]
pub struct PgServer {
    /// The PostgreSQL server; a fresh database is created on it and dropped at the end. A path
    /// names the database to connect to for that (default: postgres).
    #[arg(
        long = "pg-url",
        env = "TIENDO_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432",
        value_name = "URL"
    )]
    pub url: String,
}

/// A benchmark's own database and folder.
pub struct Scratch {
    pub backend: Backend,
    /// The database URL the store connects to.
    pub url: String,
    dir: tempfile::TempDir,
    /// On PostgreSQL: the admin URL and the database's name, to drop it.
    pg: Option<(String, String)>,
}

impl Scratch {
    /// Creates the database (PostgreSQL) or the folder of its file (SQLite). `kind` names the
    /// benchmark in the database's name, so that a database left behind says where it came from.
    pub async fn create(backend: Backend, kind: &str, pg: &PgServer) -> Result<Scratch, Failure> {
        let suffix = unique_suffix();
        let dir = tempfile::Builder::new()
            .prefix(&format!("tiendo-bench-{kind}-"))
            .tempdir()
            .map_err(|e| Failure::new(format!("cannot create a temporary folder: {e}")))?;
        match backend {
            Backend::Sqlite => Ok(Scratch {
                backend,
                url: sqlite_url(&dir.path().join("bench.db")),
                dir,
                pg: None,
            }),
            Backend::Postgres => {
                let name = format!("tiendo_bench_{kind}_{suffix}");
                let (admin, url) = pg_urls(&pg.url, &name);
                psql(&admin, &format!("CREATE DATABASE {name}")).await?;
                eprintln!("postgres: created database {name}");
                Ok(Scratch {
                    backend,
                    url,
                    dir,
                    pg: Some((admin, name)),
                })
            }
        }
    }

    /// The run's temporary folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Drops the database and removes the folder; with `keep`, leaves both and says where.
    pub async fn finish(self, keep: bool) {
        let backend = self.backend.as_str();
        if keep {
            let dir: PathBuf = self.dir.keep();
            eprintln!("{backend}: kept {} and {}", self.url, dir.display());
            return;
        }
        if let Some((admin, name)) = &self.pg {
            match psql(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
            {
                Ok(_) => eprintln!("postgres: dropped database {name}"),
                Err(e) => eprintln!("postgres: could not drop database {name}: {}", e.0),
            }
        }
        let path = self.dir.path().to_path_buf();
        if let Err(e) = self.dir.close() {
            eprintln!("{backend}: could not remove {}: {e}", path.display());
        }
    }
}

/// A name unlikely to be taken: process id and the clock's nanoseconds.
fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}_{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

/// The admin URL (the database named in `server`, or `postgres`) and the URL of database `db`
/// on the same server, keeping any `?options`.
fn pg_urls(server: &str, db: &str) -> (String, String) {
    let (main, query) = match server.split_once('?') {
        Some((m, q)) => (m, format!("?{q}")),
        None => (server, String::new()),
    };
    let after_scheme = main.find("://").map(|i| i + 3).unwrap_or(0);
    let (base, admin_db) = match main[after_scheme..].find('/') {
        Some(i) => {
            let (b, path) = main.split_at(after_scheme + i);
            let path = path.trim_start_matches('/');
            (b, if path.is_empty() { "postgres" } else { path })
        }
        None => (main, "postgres"),
    };
    (
        format!("{base}/{admin_db}{query}"),
        format!("{base}/{db}{query}"),
    )
}

#[cfg(test)]
mod tests {
    use super::pg_urls;

    #[test]
    fn the_scratch_database_is_on_the_named_server() {
        for server in [
            "postgres://postgres@127.0.0.1:5432",
            "postgres://postgres@127.0.0.1:5432/",
            "postgres://postgres@127.0.0.1:5432/postgres",
        ] {
            assert_eq!(
                pg_urls(server, "tiendo_bench_x"),
                (
                    "postgres://postgres@127.0.0.1:5432/postgres".to_string(),
                    "postgres://postgres@127.0.0.1:5432/tiendo_bench_x".to_string()
                ),
                "{server}"
            );
        }
        assert_eq!(
            pg_urls("postgres://u@h:1/admin?sslmode=disable", "b"),
            (
                "postgres://u@h:1/admin?sslmode=disable".to_string(),
                "postgres://u@h:1/b?sslmode=disable".to_string()
            )
        );
    }
}
