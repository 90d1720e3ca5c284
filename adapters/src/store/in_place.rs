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
//! Only bulk reads and writes use it, where a statement runs for many rows; everything else
//! stays on sqlx, written once for both backends ([`super::with_db!`]).

use sqlx::SqliteConnection;

use super::StoreError;

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

/// Runs `f` on `conn`'s own handle, borrowed through rusqlite for the call: the one place that
/// borrows it, for [`read`] and [`write`].
async fn on_handle<T>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<rusqlite::Result<T>, StoreError> {
    let mut locked = conn.lock_handle().await?;
    let handle = locked.as_raw_handle();
    // SAFETY: the handle is a live connection, locked for us until `locked` drops, after the
    // borrowed connection below; `from_handle` neither closes the handle nor changes its
    // settings, and every statement `f` prepares is finalised when `f` returns, so nothing of
    // ours is left on the handle when sqlx gets it back. Writes join the transaction sqlx
    // opened on it: SQLite has one per connection.
    let borrowed = unsafe { rusqlite::Connection::from_handle(handle.as_ptr()) }
        .map_err(|e| StoreError::internal(format!("sqlite handle: {e}")))?;
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let out = if multi_thread {
        tokio::task::block_in_place(|| f(&borrowed))
    } else {
        f(&borrowed)
    };
    drop(borrowed);
    drop(locked);
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
