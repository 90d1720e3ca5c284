//! A row read column by column, in the order its SELECT lists them, the same way on both
//! backends: a bulk read's record has one decoder, written once against [`Columns`], for
//! sqlx's PostgreSQL rows ([`Pg`]) and for SQLite rows read in place
//! ([`super::in_place::InPlace`]).
//!
//! By position, not by name: sqlx finds a column by name through a hash of the row's column
//! names, and looking up the 40 columns of every row of a 100,000-task report that way was a
//! tenth of the report's processor time on PostgreSQL. The price is that the record's fields
//! and the SELECT's columns must be written in the same order; the store tests and the
//! reports' byte-for-byte comparisons between backends check it.

use std::fmt::Display;
use std::str::FromStr;

use engine::time::Instant;
use sqlx::Row;
use sqlx::postgres::PgRow;

/// A value both backends decode the same way: text, integers, flags, dates.
pub(crate) trait Value:
    for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + rusqlite::types::FromSql
{
}

impl<T> Value for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + rusqlite::types::FromSql
{
}

/// A row read left to right: each call decodes the next column.
pub(crate) trait Columns {
    type Error;

    /// The next column's value.
    fn next<T: Value>(&mut self) -> Result<T, Self::Error>;

    /// The next column, an instant as the backend keeps it.
    fn instant(&mut self) -> Result<Instant, Self::Error>;

    /// The next column, text naming a `T` (an engine enum stored by name).
    fn named<T>(&mut self) -> Result<T, Self::Error>
    where
        T: FromStr,
        T::Err: Display;

    /// The next column, an integer narrowed to `T`.
    fn narrow<T>(&mut self) -> Result<T, Self::Error>
    where
        T: TryFrom<i64>,
        T::Error: Display;

    /// The next column, a JSON document kept as text, decoded strictly; NULL decodes as JSON
    /// `null` (as [`super::decode::Json`] does for sqlx's `FromRow`).
    fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, Self::Error>;
}

/// A record decoded from its query's columns in order, on either backend.
pub(crate) trait Positional: Sized {
    fn decode<C: Columns>(c: &mut C) -> Result<Self, C::Error>;
}

/// Every row of `sql` with `args` bound (`$n` to the n-th, in whatever order the placeholders
/// appear), as records: through sqlx on PostgreSQL, read in place on SQLite
/// ([`super::in_place`]).
pub(crate) async fn fetch_all<T: Positional + Send + Unpin>(
    store: &super::Store,
    sql: &str,
    args: &[super::sql::Arg<'_>],
) -> Result<Vec<T>, super::StoreError> {
    match &store.db {
        super::Db::Postgres(pool) => Ok(super::sql::bind(
            sqlx::query(sqlx::AssertSqlSafe(sql)),
            args,
        )
        .try_map(|r| T::decode(&mut Pg::of(&r)))
        .fetch_all(pool)
        .await?),
        super::Db::Sqlite(pool) => {
            let mut c = pool.acquire().await?;
            super::in_place::read(&mut c, |db| {
                let mut stmt = super::in_place::prepared(db, sql, args)?;
                let rows = stmt
                    .raw_query()
                    .mapped(|r| T::decode(&mut super::in_place::InPlace::of(r)));
                rows.collect()
            })
            .await
        }
    }
}

/// A PostgreSQL row, read by position.
pub(crate) struct Pg<'r> {
    row: &'r PgRow,
    at: usize,
}

impl<'r> Pg<'r> {
    pub(crate) fn of(row: &'r PgRow) -> Pg<'r> {
        Pg { row, at: 0 }
    }

    fn step(&mut self) -> usize {
        self.at += 1;
        self.at - 1
    }
}

/// A value of column `i` that decoded but does not name what it should.
fn invalid(i: usize, e: impl Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: i.to_string(),
        source: e.to_string().into(),
    }
}

impl Columns for Pg<'_> {
    type Error = sqlx::Error;

    fn next<T: Value>(&mut self) -> Result<T, sqlx::Error> {
        let i = self.step();
        self.row.try_get(i)
    }

    fn instant(&mut self) -> Result<Instant, sqlx::Error> {
        self.next()
    }

    fn named<T>(&mut self) -> Result<T, sqlx::Error>
    where
        T: FromStr,
        T::Err: Display,
    {
        let i = self.step();
        let text: &str = self.row.try_get(i)?;
        text.parse().map_err(|e| invalid(i, e))
    }

    fn narrow<T>(&mut self) -> Result<T, sqlx::Error>
    where
        T: TryFrom<i64>,
        T::Error: Display,
    {
        let i = self.at;
        let v: i64 = self.next()?;
        T::try_from(v).map_err(|e| invalid(i, e))
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, sqlx::Error> {
        let i = self.step();
        let text: Option<&str> = self.row.try_get(i)?;
        super::decode::json_text(text).map_err(|e| invalid(i, e))
    }
}
