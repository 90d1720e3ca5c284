//! A private PostgreSQL cluster (initdb + pg_ctl on a free port, in a temporary folder), for the
//! test that stops and starts the database under load: the shared server on 5432 serves every
//! other test at the same time and must not be disturbed. Run as the `postgres` user when the
//! tests run as root (PostgreSQL refuses to run as root).

use std::path::PathBuf;
use std::process::Command;

pub struct PrivatePg {
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
    as_root: bool,
}

/// The folder of the installed server's programs (the newest version's).
fn bindir() -> PathBuf {
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output()
        && o.status.success()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if p.join("initdb").exists() {
            return p;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.retain(|p| p.join("initdb").exists() && p.join("pg_ctl").exists());
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().expect(
        "PostgreSQL's server programs (initdb, pg_ctl) are required for the database-restart \
         fault test: install postgresql (.ci/run does)",
    )
}

impl PrivatePg {
    /// Initialises and starts a cluster; trust authentication for `postgres` on 127.0.0.1.
    pub fn start() -> PrivatePg {
        let as_root = running_as_root();
        let dir = tempfile::tempdir().unwrap();
        if as_root {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
        }
        let pg = PrivatePg {
            port: crate::common::smtp::free_port(),
            bin: bindir(),
            dir,
            as_root,
        };
        let data = pg.data();
        run(pg
            .cmd("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data));
        pg.pg_ctl_start();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn cmd(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn pg_ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        run(self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "60", "-l"])
            .arg(self.dir.path().join("server.log"))
            .args(["-o", &opts, "start"]));
    }

    /// Stops the server (fast: open connections are closed, as on a restart by the operator).
    pub fn stop(&self) {
        run(self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "fast", "stop"]));
    }

    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    /// Creates a database on it.
    pub fn create_db(&self, name: &str) {
        run(self.cmd("createdb").args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            name,
        ]));
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(c: &mut Command) {
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    assert!(
        o.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
