//! Writes shared by several doors, written once for both backends.
//!
//! Most store queries are written once inside [`with_db!`](super::with_db) and compiled for each
//! backend. The writes that several doors share (a decision's effects, the audit entry, the
//! multi-row timer and outbox inserts) are functions instead: they take a [`Conn`] — a
//! connection of either backend, usually inside a transaction — and plain [`Arg`] values, so the
//! same function serves a transition, a creation, an import and the scheduler.

use std::borrow::Cow;

use engine::time::Instant;
use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::query::Query;
use sqlx::sqlite::SqliteRow;
use sqlx::{
    Database, Either, Encode, Executor, FromRow, PgConnection, Row, SqliteConnection, Type,
};

/// A value for a placeholder, on either backend.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Str(&'a str),
    OptStr(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Time(Instant),
    OptTime(Option<Instant>),
    Date(chrono::NaiveDate),
    OptDate(Option<chrono::NaiveDate>),
}

/// An owned [`Arg`]: a value that outlives the request that made it (a statement handed to the
/// group-commit writer, see `tasks::commit`).
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Str(String),
    OptStr(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Time(Instant),
    OptTime(Option<Instant>),
    Date(chrono::NaiveDate),
    OptDate(Option<chrono::NaiveDate>),
}

impl Value {
    pub(crate) fn of(a: &Arg<'_>) -> Value {
        match *a {
            Arg::Str(v) => Value::Str(v.to_string()),
            Arg::OptStr(v) => Value::OptStr(v.map(str::to_string)),
            Arg::Int(v) => Value::Int(v),
            Arg::OptInt(v) => Value::OptInt(v),
            Arg::Bool(v) => Value::Bool(v),
            Arg::Time(v) => Value::Time(v),
            Arg::OptTime(v) => Value::OptTime(v),
            Arg::Date(v) => Value::Date(v),
            Arg::OptDate(v) => Value::OptDate(v),
        }
    }

    pub(crate) fn arg(&self) -> Arg<'_> {
        match self {
            Value::Str(v) => Arg::Str(v),
            Value::OptStr(v) => Arg::OptStr(v.as_deref()),
            Value::Int(v) => Arg::Int(*v),
            Value::OptInt(v) => Arg::OptInt(*v),
            Value::Bool(v) => Arg::Bool(*v),
            Value::Time(v) => Arg::Time(*v),
            Value::OptTime(v) => Arg::OptTime(*v),
            Value::Date(v) => Arg::Date(*v),
            Value::OptDate(v) => Arg::OptDate(*v),
        }
    }
}

/// A connection of either backend (in a transaction or not).
pub(crate) enum Conn<'c> {
    Postgres(&'c mut PgConnection),
    Sqlite(&'c mut SqliteConnection),
    /// A SQLite connection's handle borrowed by the calling thread ([`super::in_place::Borrowed`]),
    /// as the group-commit writer holds one: each statement runs on this thread, with no
    /// hand-over to sqlx's connection thread. It writes ([`Conn::execute`], [`Conn::run_all`],
    /// [`Conn::fetch_i64`]); [`Conn::fetch_all`] refuses, decoding rows being sqlx's.
    InPlace(&'c mut rusqlite::Connection),
}

impl<'c> From<&'c mut PgConnection> for Conn<'c> {
    fn from(c: &'c mut PgConnection) -> Self {
        Conn::Postgres(c)
    }
}

impl<'c> From<&'c mut SqliteConnection> for Conn<'c> {
    fn from(c: &'c mut SqliteConnection) -> Self {
        Conn::Sqlite(c)
    }
}

/// Binds `args` to `q` in order.
pub(crate) fn bind<'q, DB: Database>(
    mut q: Query<'q, DB, DB::Arguments>,
    args: &[Arg<'q>],
) -> Query<'q, DB, DB::Arguments>
where
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    Instant: Encode<'q, DB> + Type<DB>,
    Option<Instant>: Encode<'q, DB> + Type<DB>,
    chrono::NaiveDate: Encode<'q, DB> + Type<DB>,
    Option<chrono::NaiveDate>: Encode<'q, DB> + Type<DB>,
{
    for a in args {
        q = match *a {
            Arg::Str(v) => q.bind(v),
            Arg::OptStr(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
            Arg::OptInt(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
            Arg::Time(v) => q.bind(v),
            Arg::OptTime(v) => q.bind(v),
            Arg::Date(v) => q.bind(v),
            Arg::OptDate(v) => q.bind(v),
        };
    }
    q
}

impl Conn<'_> {
    /// Runs a statement; returns the rows it affected.
    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<u64, sqlx::Error> {
        // The text is built from constant pieces only; every value is a bound parameter.
        let sql = sqlx::AssertSqlSafe(sql);
        Ok(match self {
            Conn::Postgres(c) => bind(sqlx::query(sql), args)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            Conn::Sqlite(c) => bind(sqlx::query(sql), args)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            Conn::InPlace(db) => super::in_place::execute(db, sql.0, args)?,
        })
    }

    /// Runs `stmts` in order and stops at the first error, or at the first `must_change`
    /// statement that changed nothing. On SQLite the whole sequence is one script, so one round
    /// trip to the connection's thread instead of one per statement (those round trips, not
    /// SQLite's own work, were most of a transition's processor time); on PostgreSQL, whose
    /// protocol takes one statement with parameters at a time, and on a handle borrowed in
    /// place, which has no round trips to save, one statement after another.
    pub(crate) async fn run_all(&mut self, stmts: &[Stmt<'_>]) -> Result<Ran, RunError> {
        let mut ids = Vec::new();
        let mut completed = 0;
        let fail = |completed, error| RunError { completed, error };
        let total_args: usize = stmts.iter().map(|s| s.args.len()).sum();
        match self {
            Conn::Sqlite(c) if stmts.len() > 1 && total_args <= SCRIPT_ARGS => {
                let (sql, args) = script(stmts);
                let query = bind(sqlx::query(sqlx::AssertSqlSafe(sql)), &args);
                let mut results = (&mut **c).fetch_many(query);
                let mut id = None;
                while let Some(step) = results.try_next().await.map_err(|e| fail(completed, e))? {
                    match step {
                        Either::Right(row) => {
                            if id.is_none() && stmts.get(completed).is_some_and(|s| s.returns_id) {
                                id =
                                    Some(row.try_get::<i64, _>(0).map_err(|e| fail(completed, e))?);
                            }
                        }
                        Either::Left(done) => {
                            let Some(s) = stmts.get(completed) else { break };
                            if s.must_change && done.rows_affected() == 0 {
                                return Ok(Ran::Unchanged(completed));
                            }
                            if s.returns_id {
                                let n = id
                                    .take()
                                    .ok_or_else(|| fail(completed, sqlx::Error::RowNotFound))?;
                                ids.push(n);
                            }
                            completed += 1;
                        }
                    }
                }
                if completed < stmts.len() {
                    return Err(fail(
                        completed,
                        sqlx::Error::Protocol(format!(
                            "a script of {} statements reported {completed}",
                            stmts.len()
                        )),
                    ));
                }
            }
            _ => {
                for s in stmts {
                    if s.returns_id {
                        ids.push(
                            self.fetch_i64(&s.sql, &s.args)
                                .await
                                .map_err(|e| fail(completed, e))?,
                        );
                    } else {
                        let n = self
                            .execute(&s.sql, &s.args)
                            .await
                            .map_err(|e| fail(completed, e))?;
                        if s.must_change && n == 0 {
                            return Ok(Ran::Unchanged(completed));
                        }
                    }
                    completed += 1;
                }
            }
        }
        Ok(Ran::Done(ids))
    }

    /// Runs a query and decodes every row it returns.
    pub(crate) async fn fetch_all<T>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
    {
        let sql = sqlx::AssertSqlSafe(sql);
        match self {
            Conn::Postgres(c) => {
                bind(sqlx::query(sql), args)
                    .try_map(|r| T::from_row(&r))
                    .fetch_all(&mut **c)
                    .await
            }
            Conn::Sqlite(c) => {
                bind(sqlx::query(sql), args)
                    .try_map(|r| T::from_row(&r))
                    .fetch_all(&mut **c)
                    .await
            }
            Conn::InPlace(_) => Err(sqlx::Error::InvalidArgument(
                "rows are read through sqlx, not on a borrowed handle".to_string(),
            )),
        }
    }

    /// Runs a statement that returns one integer (`RETURNING id`).
    pub(crate) async fn fetch_i64(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<i64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql);
        let (n,): (i64,) = match self {
            Conn::Postgres(c) => {
                bind(sqlx::query(sql), args)
                    .try_map(|r| FromRow::from_row(&r))
                    .fetch_one(&mut **c)
                    .await?
            }
            Conn::Sqlite(c) => {
                bind(sqlx::query(sql), args)
                    .try_map(|r| FromRow::from_row(&r))
                    .fetch_one(&mut **c)
                    .await?
            }
            Conn::InPlace(db) => return super::in_place::fetch_i64(db, sql.0, args),
        };
        Ok(n)
    }
}

/// One statement of a [`Conn::run_all`] sequence: its text (placeholders `$1`… numbered for
/// its own arguments), its arguments, and what its caller needs from it.
#[derive(Debug, Clone)]
pub(crate) struct Stmt<'a> {
    pub sql: Cow<'a, str>,
    pub args: Vec<Arg<'a>>,
    /// The sequence is [`Ran::Unchanged`] if this statement changes no row.
    pub must_change: bool,
    /// The statement returns one integer (`RETURNING id`), collected in [`Ran::Done`].
    pub returns_id: bool,
}

impl<'a> Stmt<'a> {
    pub(crate) fn new(sql: impl Into<Cow<'a, str>>, args: Vec<Arg<'a>>) -> Stmt<'a> {
        Stmt {
            sql: sql.into(),
            args,
            must_change: false,
            returns_id: false,
        }
    }

    /// A statement without arguments (`SAVEPOINT …`), usable in a `const`.
    pub(crate) const fn plain(sql: &'static str) -> Stmt<'static> {
        Stmt {
            sql: Cow::Borrowed(sql),
            args: Vec::new(),
            must_change: false,
            returns_id: false,
        }
    }

    /// The same statement, required to change at least one row.
    pub(crate) fn must_change(mut self) -> Stmt<'a> {
        self.must_change = true;
        self
    }

    /// The same statement, returning one integer.
    pub(crate) fn returning_id(mut self) -> Stmt<'a> {
        self.returns_id = true;
        self
    }
}

/// What a [`Conn::run_all`] sequence came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ran {
    /// Every statement ran; the integers the `returns_id` ones returned, in order.
    Done(Vec<i64>),
    /// Statement `.0`, a `must_change` one, changed no row. The statements after it may or may
    /// not have run: the caller rolls back (to its savepoint).
    Unchanged(usize),
}

/// A [`Conn::run_all`] sequence failed at a statement; `completed` statements before it ran.
#[derive(Debug)]
pub(crate) struct RunError {
    pub completed: usize,
    pub error: sqlx::Error,
}

/// The most arguments one SQLite script carries (SQLite's limit is 32,766 placeholders); a
/// longer sequence runs statement by statement.
const SCRIPT_ARGS: usize = 30_000;

/// `sql` with each placeholder `$n` renumbered `$(n + offset)`, appended to `out`. The
/// statements given to [`Conn::run_all`] hold no `$` but in placeholders.
fn renumber(sql: &str, offset: usize, out: &mut String) {
    let mut pieces = sql.split('$');
    out.push_str(pieces.next().unwrap_or_default());
    for piece in pieces {
        let digits = piece.len() - piece.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        out.push('$');
        match piece[..digits].parse::<usize>() {
            Ok(n) => {
                out.push_str(&(n + offset).to_string());
                out.push_str(&piece[digits..]);
            }
            Err(_) => out.push_str(piece),
        }
    }
}

/// One SQLite script of `stmts`, statements separated by `;`, placeholders numbered across it.
fn script<'a>(stmts: &[Stmt<'a>]) -> (String, Vec<Arg<'a>>) {
    let mut sql = String::new();
    let mut args = Vec::with_capacity(stmts.iter().map(|s| s.args.len()).sum());
    for s in stmts {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        renumber(&s.sql, args.len(), &mut sql);
        args.extend(s.args.iter().copied());
    }
    (sql, args)
}

/// `VALUES (…), (…)` for `rows` rows of `width` placeholders each; `shape` lays out one row
/// from its placeholders (`$1`, `$2`, …), so that constant columns can sit between them.
pub(crate) fn values(rows: usize, width: usize, shape: impl Fn(&[String]) -> String) -> String {
    let rows: Vec<String> = (0..rows)
        .map(|i| {
            let p: Vec<String> = (1..=width).map(|k| format!("${}", i * width + k)).collect();
            format!("({})", shape(&p))
        })
        .collect();
    rows.join(", ")
}

/// A timer to create.
pub(crate) struct NewTimer<'a> {
    pub id: &'a str,
    pub task_id: &'a str,
    pub state: &'a str,
    /// `reminder`, `due`, `overdue`, `escalation` or `expiry`.
    pub kind: &'a str,
    /// The timer kind as JSON.
    pub spec: &'a str,
    pub fire_at: Instant,
    pub due_at: Instant,
}

/// A message to queue.
pub(crate) struct NewMessage<'a> {
    pub id: &'a str,
    pub task_id: Option<&'a str>,
    pub template: &'a str,
    pub payload: &'a str,
}

/// Rows a multi-row INSERT carries at most (well under both backends' parameter limits).
const ROWS_PER_INSERT: usize = 200;

/// Creates pending timers, one INSERT per 200: a transition's round trips are what bounds its
/// throughput.
pub(crate) async fn insert_timers(
    conn: &mut Conn<'_>,
    timers: &[NewTimer<'_>],
    now: Instant,
) -> Result<(), sqlx::Error> {
    for s in timer_stmts(timers, now) {
        conn.execute(&s.sql, &s.args).await?;
    }
    Ok(())
}

/// The statements of [`insert_timers`], to run with others ([`Conn::run_all`]).
pub(crate) fn timer_stmts<'a>(timers: &[NewTimer<'a>], now: Instant) -> Vec<Stmt<'a>> {
    timers
        .chunks(ROWS_PER_INSERT)
        .map(|chunk| {
            let sql = format!(
                "INSERT INTO timers (id, task_id, state, kind, spec, fire_at, due_at, status, created_at) VALUES {}",
                values(chunk.len(), 8, |p| format!(
                    "{}, 'pending', {}",
                    p[..7].join(", "),
                    p[7]
                ))
            );
            let mut args = Vec::with_capacity(chunk.len() * 8);
            for t in chunk {
                args.extend([
                    Arg::Str(t.id),
                    Arg::Str(t.task_id),
                    Arg::Str(t.state),
                    Arg::Str(t.kind),
                    Arg::Str(t.spec),
                    Arg::Time(super::micros(t.fire_at)),
                    Arg::Time(super::micros(t.due_at)),
                    Arg::Time(now),
                ]);
            }
            Stmt::new(sql, args)
        })
        .collect()
}

/// Queues messages for the relay, due now, one INSERT per 200.
pub(crate) async fn insert_messages(
    conn: &mut Conn<'_>,
    messages: &[NewMessage<'_>],
    now: Instant,
) -> Result<(), sqlx::Error> {
    for s in message_stmts(messages, now) {
        conn.execute(&s.sql, &s.args).await?;
    }
    Ok(())
}

/// The statements of [`insert_messages`], to run with others ([`Conn::run_all`]).
pub(crate) fn message_stmts<'a>(messages: &[NewMessage<'a>], now: Instant) -> Vec<Stmt<'a>> {
    messages
        .chunks(ROWS_PER_INSERT)
        .map(|chunk| {
            let sql = format!(
                "INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at) VALUES {}",
                values(chunk.len(), 5, |p| format!(
                    "{}, 'pending', 0, {}, {}",
                    p[..4].join(", "),
                    p[4],
                    p[4]
                ))
            );
            let mut args = Vec::with_capacity(chunk.len() * 5);
            for m in chunk {
                args.extend([
                    Arg::Str(m.id),
                    Arg::OptStr(m.task_id),
                    Arg::Str(m.template),
                    Arg::Str(m.payload),
                    Arg::Time(now),
                ]);
            }
            Stmt::new(sql, args)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_numbers_each_statements_placeholders_after_the_last() {
        let stmts = [
            Stmt::new("SAVEPOINT g", vec![]),
            Stmt::new(
                "UPDATE t SET a = $2 WHERE id = $1",
                vec![Arg::Int(1), Arg::Int(2)],
            ),
            Stmt::new("INSERT INTO u VALUES ($1, 'x$', $10)", {
                let mut a = vec![Arg::Int(0); 10];
                a[0] = Arg::Str("p");
                a
            }),
        ];
        let (sql, args) = script(&stmts);
        assert_eq!(
            sql,
            "SAVEPOINT g;\nUPDATE t SET a = $2 WHERE id = $1;\nINSERT INTO u VALUES ($3, 'x$', $12)"
        );
        assert_eq!(args.len(), 12);
    }

    #[test]
    fn values_number_the_placeholders_row_by_row() {
        assert_eq!(
            values(2, 3, |p| format!("{}, 'x', {}, {}", p[0], p[1], p[2])),
            "($1, 'x', $2, $3), ($4, 'x', $5, $6)"
        );
    }
}
