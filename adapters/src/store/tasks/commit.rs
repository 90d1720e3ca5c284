//! Group commit: transitions that arrive at the same time are written by one writer in one
//! database transaction, with one commit (one fsync).
//!
//! Each request decides its transition as before ([`super::write`]), then hands the write
//! ([`TransitionWrite`]) to the writer and waits. The writer takes the first write queued and
//! every write already waiting behind it (at most [`MAX_BATCH`]; it never waits for more: a
//! batch is flushed as soon as the queue is empty), and writes them in one transaction, each in
//! its own savepoint: the compare-and-set on the version, the audit entry, timers, outbox rows
//! and the idempotency record of one write are kept or rolled back on their own, so a conflict,
//! a taken key or an error in one never fails the others. Only after the commit does each
//! request get its answer; if the commit fails, none of them is told it succeeded.
//!
//! SQLite has one writer anyway, so there group commit is always on, with one writer; on
//! PostgreSQL it is an option of the instance (`group_commit`, see the README's
//! "Configuration"), with [`POSTGRES_WRITERS`] writers, each with its own batches and
//! connection, a task's transitions always going to the same one.
//!
//! The writer is a task on the runtime that first needed it; if that runtime has ended (a store
//! shared between runtimes, as in tests), the next write starts another one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot};

use super::super::sql::{Conn, Stmt};
use super::super::{Db, StoreError};
use super::write::{TransitionWrite, Unwritten};

/// The most transitions one transaction carries.
pub(crate) const MAX_BATCH: usize = 64;

/// Writes queued at most before a request waits for room.
const QUEUE: usize = 1024;

/// What the writer answers a request: `Ok(Some(audit_id))` once committed, `Ok(None)` when
/// its write was rolled back to its savepoint (stale version, key taken), or an error.
type Answer = Result<Option<i64>, StoreError>;

struct Job {
    write: TransitionWrite,
    answer: oneshot::Sender<Answer>,
}

/// The door to the writers of a store.
pub(crate) struct Committer {
    db: Db,
    /// One queue per writer; a task's transitions always go to the same writer, so writers
    /// never wait for each other's rows.
    senders: Vec<Mutex<Option<mpsc::Sender<Job>>>>,
    counts: Arc<Counts>,
}

/// Writers on PostgreSQL, each with its own connection and batches: one writer's round trips
/// would bound the throughput; SQLite has one writer, whatever the number of connections.
pub(crate) const POSTGRES_WRITERS: usize = 4;

/// What the writer has done so far (for benchmarks and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions committed.
    pub batches: u64,
    /// Transitions handed to the writer in them (kept or rolled back to their savepoint).
    pub transitions: u64,
    /// The most transitions one transaction carried.
    pub largest: u64,
}

#[derive(Default)]
struct Counts {
    batches: AtomicU64,
    transitions: AtomicU64,
    largest: AtomicU64,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

impl Committer {
    pub(crate) fn new(db: Db) -> Committer {
        let writers = match db {
            Db::Postgres(_) => POSTGRES_WRITERS,
            Db::Sqlite(_) => 1,
        };
        Committer {
            db,
            senders: (0..writers).map(|_| Mutex::new(None)).collect(),
            counts: Arc::default(),
        }
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        let c = &self.counts;
        GroupCommitStats {
            batches: c.batches.load(Ordering::Relaxed),
            transitions: c.transitions.load(Ordering::Relaxed),
            largest: c.largest.load(Ordering::Relaxed),
        }
    }

    /// The queue of the writer of `task_id`, starting that writer on this runtime if none runs.
    fn queue(&self, task_id: &str) -> mpsc::Sender<Job> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        task_id.hash(&mut h);
        let shard = (h.finish() % self.senders.len() as u64) as usize;
        let mut sender = self.senders[shard]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sender.as_ref().filter(|s| !s.is_closed()) {
            return s.clone();
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(
            Writer {
                db: self.db.clone(),
                counts: self.counts.clone(),
            },
            rx,
        ));
        *sender = Some(tx.clone());
        tx
    }

    /// Writes `write` in the next batch and answers once that batch has committed.
    pub(crate) async fn submit(&self, write: TransitionWrite) -> Answer {
        let (answer, answered) = oneshot::channel();
        let mut job = Job { write, answer };
        // A closed queue is a writer whose runtime has ended: start another and try again.
        for _ in 0..2 {
            let queue = self.queue(job.write.task_id());
            match queue.send(job).await {
                Ok(()) => {
                    return answered.await.unwrap_or_else(|_| Err(stopped()));
                }
                Err(mpsc::error::SendError(j)) => job = j,
            }
        }
        Err(stopped())
    }
}

/// The writer stopped before answering: the transition may or may not have been written, as
/// when a connection breaks mid-commit; a retry with the same idempotency key is safe.
fn stopped() -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the group-commit writer stopped before answering",
    )))
}

const SAVEPOINT: Stmt<'static> = Stmt::plain("SAVEPOINT group_commit");

const RELEASE: Stmt<'static> = Stmt::plain("RELEASE SAVEPOINT group_commit");

/// Undoes the current job: back to its savepoint, which is then released.
async fn rollback_to_savepoint(conn: &mut Conn<'_>) -> Result<(), sqlx::Error> {
    const ROLLBACK: Stmt<'static> = Stmt::plain("ROLLBACK TO SAVEPOINT group_commit");
    conn.run_all(&[ROLLBACK, RELEASE])
        .await
        .map(drop)
        .map_err(|e| e.error)
}

const BEGIN: Stmt<'static> = Stmt::plain("BEGIN");

/// Runs `jobs` on `conn`, inside a transaction that `first` begins (run before the first job's
/// savepoint, in its round trip) or that is already open (`first` empty): each job in its own
/// savepoint, rolled back to it when the job is not kept. The batch fails when the transaction
/// could not be begun or a rollback to a savepoint fails (a broken connection).
async fn write_jobs(
    conn: &mut Conn<'_>,
    jobs: &[Job],
    first: &[Stmt<'static>],
) -> Result<Vec<Answer>, sqlx::Error> {
    let mut answers = Vec::with_capacity(jobs.len());
    // Whether the last job's savepoint is still open (it was kept).
    let mut open = false;
    for (i, job) in jobs.iter().enumerate() {
        let mut prefix: Vec<Stmt<'static>> = if i == 0 { first.to_vec() } else { Vec::new() };
        let begin = prefix.len();
        if open {
            prefix.push(RELEASE);
        }
        prefix.push(SAVEPOINT);
        let answer = match job.write.apply(conn, &prefix).await {
            Ok(Some(audit_id)) => {
                open = true;
                Ok(Some(audit_id))
            }
            Ok(None) => {
                rollback_to_savepoint(conn).await?;
                open = false;
                Ok(None)
            }
            Err(Unwritten { prefix_ran, error }) if prefix_ran < begin => {
                // The transaction was not begun: nothing of the batch can be written.
                return Err(error);
            }
            Err(Unwritten { prefix_ran, error }) => {
                if prefix_ran == prefix.len() {
                    // A broken connection fails the rollback too, and so the batch.
                    rollback_to_savepoint(conn).await?;
                    open = false;
                } else {
                    // Nothing of this job ran; the last job's savepoint is still open unless
                    // its release ran.
                    open = open && prefix_ran == begin;
                }
                Err(StoreError::Database(error))
            }
        };
        answers.push(answer);
    }
    Ok(answers)
}

/// A pooled SQLite connection on which the writer began a transaction with a `BEGIN` of its
/// own (folded into the first job's round trip: one round trip fewer a batch than sqlx's
/// `begin`, which sends it alone). Until [`Begun::settled`] (after `COMMIT`), dropping it — an
/// error, or the runtime ending mid-batch — closes the connection, which rolls the transaction
/// back, instead of returning it to the pool with the transaction open. A settled one is what
/// the writer keeps between batches ([`KEEP_CONNECTION`]), begun [`again`](Begun::again) by the
/// next; dropped settled, it goes back to the pool.
struct Begun(PoolConnection<Sqlite>, bool);

impl Begun {
    fn new(conn: PoolConnection<Sqlite>) -> Begun {
        Begun(conn, false)
    }

    /// A connection settled before, about to begin the next transaction.
    fn again(mut self) -> Begun {
        self.1 = false;
        self
    }

    fn settled(&mut self) {
        self.1 = true;
    }
}

impl std::ops::Deref for Begun {
    type Target = PoolConnection<Sqlite>;
    fn deref(&self) -> &PoolConnection<Sqlite> {
        &self.0
    }
}

impl std::ops::DerefMut for Begun {
    fn deref_mut(&mut self) -> &mut PoolConnection<Sqlite> {
        &mut self.0
    }
}

impl Drop for Begun {
    fn drop(&mut self) {
        if !self.1 {
            self.0.close_on_drop();
        }
    }
}

/// How long the SQLite writer keeps its connection after a batch, waiting for the next: while
/// transitions keep coming they are written on one connection, whose page cache no other
/// connection's commit has made stale. A connection taken from the pool for each batch was
/// mostly another one than the last batch's (the pool hands out the one idle longest) and read
/// back every page the others had changed: 1,122 against 1,847 transitions a second for one
/// writer (`tiendo-bench transitions --scenario approval --connections 4` against `1`). Closing
/// the store waits for it at most this long.
const KEEP_CONNECTION: std::time::Duration = std::time::Duration::from_millis(50);

/// The writer: one batch at a time, until every sender is gone.
async fn run(writer: Writer, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The SQLite connection of the last batch, kept while the next follows within
    // [`KEEP_CONNECTION`].
    let mut kept: Option<Begun> = None;
    loop {
        let first = if kept.is_some() {
            match tokio::time::timeout(KEEP_CONNECTION, queue.recv()).await {
                Ok(job) => job,
                Err(_) => {
                    kept = None;
                    continue;
                }
            }
        } else {
            queue.recv().await
        };
        let Some(first) = first else { break };
        batch.push(first);
        // Let the requests that are ready to queue do so, then take whatever is waiting.
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        writer.flush(std::mem::take(&mut batch), &mut kept).await;
    }
}

struct Writer {
    db: Db,
    counts: Arc<Counts>,
}

impl Writer {
    /// Writes `jobs` in one transaction, a savepoint each, then answers each.
    ///
    /// A job's savepoint is made in the same round trip as its first statements, and released
    /// in the next job's (the last one's by the commit), so a kept job costs one round trip to
    /// the database ([`TransitionWrite::apply`]) and a rolled-back one a second. On SQLite the
    /// batch's `BEGIN` goes in the first job's round trip too ([`Begun`]); on PostgreSQL the
    /// statements are sent one by one anyway, and the transaction is sqlx's. On SQLite the batch
    /// runs on `kept` when there is one, and leaves its connection there once committed.
    async fn flush(&self, jobs: Vec<Job>, kept: &mut Option<Begun>) {
        let n = jobs.len();
        let written: Result<Vec<Answer>, sqlx::Error> = match &self.db {
            Db::Sqlite(pool) => {
                async {
                    let mut conn = match kept.take() {
                        Some(settled) => settled.again(),
                        None => Begun::new(pool.acquire().await?),
                    };
                    let answers = write_jobs(&mut Conn::from(&mut **conn), &jobs, &[BEGIN]).await?;
                    Conn::from(&mut **conn).execute("COMMIT", &[]).await?;
                    conn.settled();
                    *kept = Some(conn);
                    Ok(answers)
                }
                .await
            }
            Db::Postgres(pool) => {
                async {
                    let mut tx = pool.begin().await?;
                    let answers = write_jobs(&mut Conn::from(&mut *tx), &jobs, &[]).await?;
                    tx.commit().await?;
                    Ok(answers)
                }
                .await
            }
        };
        tracing::debug!(transitions = n, ok = written.is_ok(), "group commit");
        match written {
            Ok(answers) => {
                let c = &self.counts;
                c.batches.fetch_add(1, Ordering::Relaxed);
                c.transitions.fetch_add(n as u64, Ordering::Relaxed);
                c.largest.fetch_max(n as u64, Ordering::Relaxed);
                for (job, answer) in jobs.into_iter().zip(answers) {
                    // A request that went away meanwhile is not told; its write stands.
                    let _ = job.answer.send(answer);
                }
            }
            Err(e) => {
                let e = StoreError::Database(e);
                let unavailable = e.is_unavailable();
                let detail = e.to_string();
                tracing::warn!(transitions = n, error = %detail, "group commit failed");
                for job in jobs {
                    let _ = job.answer.send(Err(if unavailable {
                        StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            detail.clone(),
                        )))
                    } else {
                        StoreError::internal(format!("group commit of {n} transitions: {detail}"))
                    }));
                }
            }
        }
    }
}
