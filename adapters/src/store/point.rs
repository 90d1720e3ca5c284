//! Point reads on SQLite, on the calling thread.
//!
//! Every query sqlx runs on SQLite goes to the connection's own thread and its answer comes
//! back: two thread wake-ups, each a futex and a context switch. For a read of one row by its
//! key, which SQLite answers from its page cache in microseconds, those hand-overs are most of
//! the cost, and the transition path pays them on every transition (its task is read before
//! `decide`). [`PointReads`] keeps a few connections of its own on the database file, outside
//! sqlx's pool, and runs such a read on the thread that asks: no hand-over at all.
//!
//! They only read (`PRAGMA query_only`), in WAL mode each statement sees the last committed
//! transaction, as a pooled connection would, and a read never waits for the writer. Only
//! reads of a handful of rows by key belong here: the calling thread is a runtime worker, which
//! must not be held for long. An in-memory database has no file to open again, so a store on
//! one has none and reads through sqlx.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::StoreError;

/// Idle connections kept at most (more are opened when more threads read at once, and closed
/// when given back to a full pool).
const IDLE: usize = 4;

/// Statements each connection keeps prepared.
const PREPARED: usize = 16;

/// A few read-only connections on an SQLite file, for reads of a row or two by key.
#[derive(Debug)]
pub(crate) struct PointReads {
    path: PathBuf,
    busy_timeout: Duration,
    /// The idle connections; `None` once closed.
    idle: Mutex<Option<Vec<rusqlite::Connection>>>,
}

impl PointReads {
    /// Point readers of the file at `path` (made absolute now, so that a later change of the
    /// working directory does not point them at another file).
    pub(crate) fn new(path: &Path, busy_timeout: Duration) -> PointReads {
        PointReads {
            path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
            busy_timeout,
            idle: Mutex::new(Some(Vec::new())),
        }
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        // Read-write flags, so that WAL's shared-memory index can be used as by any other
        // connection; `query_only` refuses every write.
        let db = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        db.busy_timeout(self.busy_timeout)?;
        db.execute_batch("PRAGMA query_only = 1")?;
        db.set_prepared_statement_cache_capacity(PREPARED);
        Ok(db)
    }

    /// Runs `f` on one of the connections, on this thread.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let taken = match self.idle.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(idle) => idle.pop(),
            // Closed with the store: down, as its pool is once closed.
            None => return Err(StoreError::Database(sqlx::Error::PoolClosed)),
        };
        let db = match taken {
            Some(db) => db,
            // A database file that cannot be opened is a database that is down (503), as when
            // the pool cannot connect.
            None => self.open().map_err(|e| {
                StoreError::Database(sqlx::Error::Io(std::io::Error::other(format!(
                    "sqlite point read, open {}: {e}",
                    self.path.display()
                ))))
            })?,
        };
        let out = f(&db).map_err(|e| StoreError::internal(format!("sqlite point read: {e}")));
        // Kept only while the store is open: a read that was under way when it closed closes its
        // connection here.
        if let Some(idle) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
            && idle.len() < IDLE
        {
            idle.push(db);
        }
        out
    }

    /// Closes the idle connections, so that the pool's last connection is the database's last
    /// and folds the write-ahead log into the file when it closes ([`super::Store::close`]).
    /// A read under way closes its connection when it ends; a read after this is refused as
    /// the closed pool refuses it.
    pub(crate) fn close(&self) {
        *self.idle.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file that is not there (moved away, a disk gone) is a database that is down:
    /// the read answers as unavailable (503), and no file is created in its place.
    #[test]
    fn a_file_that_cannot_be_opened_is_a_database_that_is_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.db");
        let point = PointReads::new(&path, Duration::from_millis(10));
        let err = point.read(|db| db.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)));
        let err = err.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(!path.exists());
    }

    /// Once closed, no connection is kept, not even one whose read was under way, and a read is
    /// refused as a closed pool refuses it (unavailable).
    #[test]
    fn a_closed_point_reader_keeps_no_connection_and_refuses_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        rusqlite::Connection::open(&path).unwrap();
        let point = PointReads::new(&path, Duration::from_millis(10));
        let one = point.read(|db| {
            point.close();
            db.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
        });
        assert_eq!(one.unwrap(), 1);
        assert!(point.idle.lock().unwrap().is_none());
        let err = point.read(|db| db.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)));
        assert!(err.unwrap_err().is_unavailable());
    }

    /// A point reader only reads.
    #[test]
    fn a_point_reader_refuses_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let point = PointReads::new(&path, Duration::from_millis(10));
        assert!(
            point
                .read(|db| db.execute("INSERT INTO t VALUES (1)", []))
                .is_err()
        );
        let n = point.read(|db| db.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0)));
        assert_eq!(n.unwrap(), 0);
    }
}
