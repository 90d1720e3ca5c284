//! Bulk reads on SQLite, read in place.
//!
//! sqlx's SQLite driver copies every value of every row (`sqlite3_value_dup`) on its connection
//! thread and hands the rows to the runtime one by one; for the reports' 100,000-row reads that
//! copying and hand-over cost more than SQLite's own work (`valgrind --tool=callgrind`, README's
//! performance table). [`read`] runs a read on the same pooled connection through
//! [rusqlite](https://docs.rs/rusqlite) instead: the closure steps the statement on the calling
//! thread and borrows each value from SQLite's buffer, so the only copies are the ones the
//! record keeps.
//!
//! The same cost falls on bulk writes: binding a value through sqlx copies it into its
//! argument buffer, hands the buffer to the connection thread and copies it again into SQLite.
//! [`write`] runs writes the same way as [`read`], so that an import's 100,000-row INSERTs
//! bind borrowed values to one prepared statement each, stepped and reset row by row.
//!
//! The group-commit writer ([`super::tasks::commit`]) holds a connection's handle the same
//! way ([`Borrowed`]) for as long as transitions keep coming, and runs their statements on its
//! own thread through [`super::sql::Conn::InPlace`] ([`execute`], [`fetch_i64`]): one hand-over
//! to the connection's thread a session instead of two or three a transition.
//!
//! Only bulk reads and writes, where a statement runs for many rows, and the group-commit
//! writer use it; everything else stays on sqlx, written once for both backends
//! ([`super::with_db!`]).

use std::borrow::Cow;

use sqlx::SqliteConnection;
use sqlx::sqlite::LockedSqliteHandle;

use super::StoreError;
use super::sql::Arg;

/// A connection's own SQLite handle, borrowed through rusqlite while this lives: the
/// connection's lock is held, so sqlx does not use it meanwhile, and when this drops every
/// statement prepared on the borrowed connection is finalised (rusqlite's statement cache is
/// emptied) before the lock is given back, so nothing of ours is left on the handle.
pub(crate) struct Borrowed<'c> {
    // Fields drop in the order written: the borrowed connection before the lock.
    db: rusqlite::Connection,
    _locked: LockedSqliteHandle<'c>,
}

impl<'c> Borrowed<'c> {
    /// Borrows `conn`'s handle (waiting for sqlx's thread to let go of it).
    pub(crate) async fn of(conn: &'c mut SqliteConnection) -> Result<Borrowed<'c>, StoreError> {
        let mut locked = conn.lock_handle().await?;
        let handle = locked.as_raw_handle();
        // SAFETY: the handle is a live connection, locked for us until `_locked` drops, after
        // `db`; `from_handle` neither closes the handle nor changes its settings, and dropping
        // `db` finalises the statements it prepared. Writes join whatever transaction is open
        // on the handle: SQLite has one per connection.
        let db = unsafe { rusqlite::Connection::from_handle(handle.as_ptr()) }
            .map_err(|e| StoreError::internal(format!("sqlite handle: {e}")))?;
        Ok(Borrowed {
            db,
            _locked: locked,
        })
    }

    /// The borrowed connection.
    pub(crate) fn db(&mut self) -> &mut rusqlite::Connection {
        &mut self.db
    }
}

/// Runs `f` on `conn`'s own SQLite handle (through rusqlite, on this thread), holding the
/// connection's lock so that sqlx does not use it meanwhile. On a multi-threaded runtime the
/// worker hands its other tasks to its peers while `f` runs.
pub(crate) async fn read<T>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<T, StoreError> {
    on_handle(conn, f)
        .await?
        .map_err(|e| StoreError::internal(format!("sqlite read: {e}")))
}

/// Runs `f` on `conn`'s own handle, borrowed through rusqlite for the call ([`Borrowed`]), for
/// [`read`] and [`write`].
async fn on_handle<T>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<rusqlite::Result<T>, StoreError> {
    let mut borrowed = Borrowed::of(conn).await?;
    let db = borrowed.db();
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let out = if multi_thread {
        tokio::task::block_in_place(|| f(db))
    } else {
        f(db)
    };
    Ok(out)
}

/// Runs the writes of `f` on `conn`'s own SQLite handle, as [`read`] runs reads: inside
/// whatever transaction `conn` is in, which sqlx commits or rolls back as usual. A unique
/// violation comes back as [`StoreError::Duplicate`] (naming the constraint), as sqlx's
/// [`super::duplicate_or`] reports one.
pub(crate) async fn write<T>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<T, StoreError> {
    let out = on_handle(conn, f).await?;
    out.map_err(|e| match e {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error {
                extended_code:
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
                ..
            },
            msg,
        ) => StoreError::Duplicate(msg.unwrap_or_default()),
        e => StoreError::internal(format!("sqlite write: {e}")),
    })
}

/// `t` as sqlx writes an instant into SQLite (RFC 3339 text, `+00:00`), so that a bound instant
/// compares with the stored ones as text the way sqlx's own binding does.
pub(crate) fn instant(t: engine::time::Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// Column `i` of `row`, text naming a value of `T` (an engine enum stored by name), parsed
/// without copying the text.
pub(crate) fn named<T>(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    row.get_ref(i)?.as_str()?.parse().map_err(|e: T::Err| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("column {i}: {e}").into(),
        )
    })
}

/// Column `i` of `row`, an instant as sqlx writes it (see [`instant`]), parsed as RFC 3339
/// directly: rusqlite's own decoder goes through a format string, several times slower on
/// 400,000 values. Text in another form falls back to it.
pub(crate) fn instant_at(
    row: &rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<engine::time::Instant> {
    let value = row.get_ref(i)?;
    if let rusqlite::types::ValueRef::Text(text) = value
        && let Ok(t) = std::str::from_utf8(text)
            .map_err(|_| ())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).map_err(|_| ()))
    {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    row.get(i)
}

/// A SQLite row read in place, by position (see [`super::columns`]).
pub(crate) struct InPlace<'a, 'r> {
    row: &'a rusqlite::Row<'r>,
    at: usize,
}

impl<'a, 'r> InPlace<'a, 'r> {
    pub(crate) fn of(row: &'a rusqlite::Row<'r>) -> InPlace<'a, 'r> {
        InPlace { row, at: 0 }
    }

    fn step(&mut self) -> usize {
        self.at += 1;
        self.at - 1
    }
}

impl super::columns::Columns for InPlace<'_, '_> {
    type Error = rusqlite::Error;

    fn next<T: super::columns::Value>(&mut self) -> rusqlite::Result<T> {
        let i = self.step();
        self.row.get(i)
    }

    fn instant(&mut self) -> rusqlite::Result<engine::time::Instant> {
        let i = self.step();
        instant_at(self.row, i)
    }

    fn named<T>(&mut self) -> rusqlite::Result<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        let i = self.step();
        named(self.row, i)
    }

    fn narrow<T>(&mut self) -> rusqlite::Result<T>
    where
        T: TryFrom<i64>,
        T::Error: std::fmt::Display,
    {
        let i = self.step();
        let v: i64 = self.row.get(i)?;
        T::try_from(v).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Integer,
                format!("column {i}: {e}").into(),
            )
        })
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self) -> rusqlite::Result<T> {
        let i = self.step();
        let text: Option<&str> = match self.row.get_ref(i)? {
            rusqlite::types::ValueRef::Null => None,
            v => Some(v.as_str()?),
        };
        super::decode::json_text(text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    }
}

/// A value bound as sqlx binds it on SQLite, so that the rows written in place ([`write`]) are
/// the rows sqlx would have written: instants as [`instant`] text, dates as `YYYY-MM-DD`, flags
/// as 0 or 1.
impl rusqlite::ToSql for super::sql::Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use super::sql::Arg;
        use rusqlite::types::{ToSqlOutput, Value};
        Ok(match *self {
            Arg::Str(s) | Arg::OptStr(Some(s)) => ToSqlOutput::from(s),
            Arg::Int(v) | Arg::OptInt(Some(v)) => ToSqlOutput::from(v),
            Arg::Bool(v) => ToSqlOutput::from(v),
            Arg::Time(t) | Arg::OptTime(Some(t)) => ToSqlOutput::Owned(Value::Text(instant(t))),
            Arg::Date(d) | Arg::OptDate(Some(d)) => {
                ToSqlOutput::Owned(Value::Text(d.format("%F").to_string()))
            }
            Arg::OptStr(None) | Arg::OptInt(None) | Arg::OptTime(None) | Arg::OptDate(None) => {
                ToSqlOutput::Owned(Value::Null)
            }
        })
    }
}

/// `sql` prepared on `db` (from its statement cache) with `args` bound, `$n` to the n-th: SQLite
/// numbers the parameters in the order they first appear, so each is bound by its name, as sqlx
/// binds them.
pub(crate) fn prepared<'d>(
    db: &'d rusqlite::Connection,
    sql: &str,
    args: &[Arg<'_>],
) -> rusqlite::Result<rusqlite::CachedStatement<'d>> {
    let mut stmt = db.prepare_cached(sql)?;
    for i in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(i).unwrap_or("?");
        let arg = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| args.get(n.checked_sub(1)?))
            .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_string()))?;
        stmt.raw_bind_parameter(i, arg)?;
    }
    Ok(stmt)
}

/// Runs a statement in place; returns the rows it changed (as [`super::sql::Conn::execute`]).
pub(crate) fn execute(
    db: &rusqlite::Connection,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<u64, sqlx::Error> {
    let run = || prepared(db, sql, args)?.raw_execute();
    run().map(|n| n as u64).map_err(InPlaceError::of)
}

/// Runs a statement that returns one integer (`RETURNING id`) in place.
pub(crate) fn fetch_i64(
    db: &rusqlite::Connection,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<i64, sqlx::Error> {
    let run = || {
        let mut stmt = prepared(db, sql, args)?;
        let mut rows = stmt.raw_query();
        match rows.next()? {
            Some(row) => row.get(0),
            None => Err(rusqlite::Error::QueryReturnedNoRows),
        }
    };
    run().map_err(InPlaceError::of)
}

/// SQLite's error for a statement run in place, as sqlx reports one it ran itself: the extended
/// result code (its `code`) and message, and the same [`sqlx::error::ErrorKind`], so that a
/// caller tells a unique violation, say, whichever way the statement ran.
#[derive(Debug)]
pub(crate) struct InPlaceError {
    code: std::ffi::c_int,
    message: String,
}

impl InPlaceError {
    /// `e` as sqlx would have answered: SQLite's own errors as [`sqlx::Error::Database`], no
    /// row as [`sqlx::Error::RowNotFound`], the rest (binding, decoding) as a driver error.
    fn of(e: rusqlite::Error) -> sqlx::Error {
        match e {
            rusqlite::Error::SqliteFailure(f, message) => {
                sqlx::Error::Database(Box::new(InPlaceError {
                    code: f.extended_code,
                    message: message.unwrap_or_else(|| f.to_string()),
                }))
            }
            rusqlite::Error::QueryReturnedNoRows => sqlx::Error::RowNotFound,
            e => sqlx::Error::AnyDriverError(Box::new(e)),
        }
    }
}

impl std::fmt::Display for InPlaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for InPlaceError {}

impl sqlx::error::DatabaseError for InPlaceError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(self.code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use rusqlite::ffi;
        use sqlx::error::ErrorKind;
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> rusqlite::Connection {
        let db = rusqlite::Connection::open_in_memory().expect("in-memory database");
        db.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, at TEXT, on_day TEXT, flag INTEGER)",
        )
        .expect("table");
        db
    }

    #[test]
    fn placeholders_are_bound_by_their_number_whatever_their_order() {
        let db = db();
        // SQLite numbers `$2` first here: binding by position would swap the two.
        let id = fetch_i64(
            &db,
            "INSERT INTO t (name, flag) VALUES ($2 || '-' || $1, $3) RETURNING id",
            &[Arg::Str("a"), Arg::Str("b"), Arg::Bool(true)],
        )
        .expect("insert");
        let (name, flag): (String, i64) = db
            .query_row("SELECT name, flag FROM t WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("row");
        assert_eq!((name.as_str(), flag), ("b-a", 1));
    }

    #[test]
    fn values_are_written_as_sqlx_writes_them() {
        let db = db();
        let at = chrono::DateTime::parse_from_rfc3339("2025-11-05T08:30:00.25Z")
            .expect("instant")
            .with_timezone(&chrono::Utc);
        let day = chrono::NaiveDate::from_ymd_opt(2025, 12, 31).expect("date");
        let changed = execute(
            &db,
            "INSERT INTO t (name, at, on_day, flag) VALUES ($1, $2, $3, $4)",
            &[
                Arg::Str("x"),
                Arg::Time(at),
                Arg::Date(day),
                Arg::OptInt(None),
            ],
        )
        .expect("insert");
        assert_eq!(changed, 1);
        let row: (String, String, Option<i64>) = db
            .query_row("SELECT at, on_day, flag FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("row");
        assert_eq!(
            row,
            (
                "2025-11-05T08:30:00.250+00:00".into(),
                "2025-12-31".into(),
                None
            )
        );
        assert_eq!(
            execute(
                &db,
                "UPDATE t SET flag = 1 WHERE name = $1",
                &[Arg::Str("none")]
            )
            .expect("update"),
            0
        );
    }

    #[test]
    fn errors_are_the_ones_sqlx_gives() {
        let db = db();
        let insert = "INSERT INTO t (name) VALUES ($1)";
        execute(&db, insert, &[Arg::Str("once")]).expect("first");
        let e = execute(&db, insert, &[Arg::Str("once")]).expect_err("a second is refused");
        assert!(crate::store::is_unique_violation(&e), "{e}");
        let sqlx::Error::Database(d) = &e else {
            panic!("not a database error: {e}")
        };
        assert_eq!(
            d.code().as_deref(),
            Some("2067"),
            "SQLITE_CONSTRAINT_UNIQUE"
        );
        let e = execute(&db, "INSERT INTO t (name) VALUES (NULL)", &[]).expect_err("not null");
        assert!(
            matches!(&e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::NotNullViolation),
            "{e}"
        );
        let e = fetch_i64(&db, "SELECT id FROM t WHERE name = $1", &[Arg::Str("no")])
            .expect_err("no row");
        assert!(matches!(e, sqlx::Error::RowNotFound), "{e}");
        // A placeholder with no argument is our fault, not the database's.
        let e = execute(&db, "UPDATE t SET name = $2", &[Arg::Str("one")])
            .expect_err("missing argument");
        assert!(matches!(e, sqlx::Error::AnyDriverError(_)), "{e}");
    }
}
