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
//! connection, a task's transitions always going to the same one. A PostgreSQL writer first
//! writes what it can of a batch with one statement ([`super::batch`]), the rest each in its
//! savepoint ([`write_postgres`]).
//!
//! The SQLite writer is a thread of its own ([`run_in_place`]). While transitions keep coming it
//! holds one connection's handle, borrowed from sqlx's connection thread
//! ([`super::super::in_place::Borrowed`]), and runs every statement of every batch on itself:
//! sending each statement to the connection's thread and waiting for its answer had been most
//! of a transition's cost. A PostgreSQL writer is a task on the runtime that first needed it; if
//! that runtime has ended (a store shared between runtimes, as in tests), the next write starts
//! another one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::SqlitePool;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use super::super::in_place::Borrowed;
use super::super::sql::{Conn, Stmt};
use super::super::{Db, StoreError};
use super::batch;
use super::write::{TransitionWrite, Unwritten};

/// The most transitions one transaction carries.
pub(crate) const MAX_BATCH: usize = 64;

/// Writes queued at most for a PostgreSQL writer before a request waits for room. The SQLite
/// writer's queue needs no bound: a request waits for its answer, so it holds at most one write
/// per waiting request.
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
    queues: Vec<Mutex<Option<Queue>>>,
    counts: Arc<Counts>,
}

/// The queue of a running writer.
#[derive(Clone)]
enum Queue {
    /// A PostgreSQL writer, a task on a runtime ([`run`]).
    Task(mpsc::Sender<Job>),
    /// The SQLite writer's thread ([`run_in_place`]). Each job comes with the runtime of its
    /// request, on which the thread borrows a connection from the pool; `alive` turns false
    /// when the thread ends.
    Thread {
        jobs: std::sync::mpsc::Sender<(Job, Handle)>,
        alive: Arc<AtomicBool>,
    },
}

impl Queue {
    fn is_open(&self) -> bool {
        match self {
            Queue::Task(q) => !q.is_closed(),
            Queue::Thread { alive, .. } => alive.load(Ordering::Acquire),
        }
    }

    /// Hands `job` to the writer, or gives it back if the writer has ended.
    async fn send(&self, job: Job) -> Result<(), Job> {
        match self {
            Queue::Task(q) => q.send(job).await.map_err(|e| e.0),
            Queue::Thread { jobs, .. } => jobs.send((job, Handle::current())).map_err(|e| e.0.0),
        }
    }
}

/// Writers on PostgreSQL, each with its own batches (and a connection of the pool for each):
/// one writer's round trips would bound the throughput, and more writers make smaller batches,
/// each of which costs the server a statement and a commit. With the set-based write
/// ([`super::batch`]), at 32 clients: 1 writer 1,454 transitions a second (11.5 a batch),
/// 2 writers 1,895 / 1,580 / 1,436 (5.4-5.8), 4 writers 1,620 / 1,395 / 1,309 (2.8-3.0)
/// (`tiendo-bench transitions --backend postgres --writers 32 --group-commit on`, 06/12/2026,
/// with plans made per batch, before [`super::batch::BEGIN`] turned sequential scans off).
/// SQLite has one writer, whatever the number of connections.
pub(crate) const POSTGRES_WRITERS: usize = 2;

/// What the writer has done so far (for benchmarks and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions committed.
    pub batches: u64,
    /// Transitions handed to the writer in them (kept or rolled back to their savepoint).
    pub transitions: u64,
    /// The most transitions one transaction carried.
    pub largest: u64,
    /// Transitions written by a PostgreSQL batch's one statement ([`super::batch`]), kept or
    /// not, in transactions that committed.
    pub set_based: u64,
}

#[derive(Default)]
struct Counts {
    batches: AtomicU64,
    transitions: AtomicU64,
    largest: AtomicU64,
    set_based: AtomicU64,
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
            queues: (0..writers).map(|_| Mutex::new(None)).collect(),
            counts: Arc::default(),
        }
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        let c = &self.counts;
        GroupCommitStats {
            batches: c.batches.load(Ordering::Relaxed),
            transitions: c.transitions.load(Ordering::Relaxed),
            largest: c.largest.load(Ordering::Relaxed),
            set_based: c.set_based.load(Ordering::Relaxed),
        }
    }

    /// The queue of the writer of `task_id`, starting that writer if none runs.
    fn queue(&self, task_id: &str) -> Queue {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        task_id.hash(&mut h);
        let shard = (h.finish() % self.queues.len() as u64) as usize;
        let mut queue = self.queues[shard].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = queue.as_ref().filter(|q| q.is_open()) {
            return q.clone();
        }
        let q = self.start();
        *queue = Some(q.clone());
        q
    }

    /// Starts a writer: the SQLite writer's thread, or a PostgreSQL writer on this runtime.
    fn start(&self) -> Queue {
        let writer = Writer {
            counts: self.counts.clone(),
        };
        match &self.db {
            Db::Postgres(pool) => {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(writer, pool.clone(), rx));
                Queue::Task(tx)
            }
            Db::Sqlite(pool) => {
                let (jobs, queue) = std::sync::mpsc::channel();
                let alive = Arc::new(AtomicBool::new(true));
                let (pool, ended) = (pool.clone(), Ended(alive.clone()));
                let started = std::thread::Builder::new()
                    .name("tiendo-sqlite-writer".into())
                    .spawn(move || run_in_place(writer, pool, queue, ended));
                if let Err(e) = started {
                    // The queue's receiver is gone with the closure: the request is told the
                    // writer stopped, and the next one tries again.
                    tracing::error!(error = %e, "could not start the SQLite writer's thread");
                }
                Queue::Thread { jobs, alive }
            }
        }
    }

    /// Writes `write` in the next batch and answers once that batch has committed.
    pub(crate) async fn submit(&self, write: TransitionWrite) -> Answer {
        let (answer, answered) = oneshot::channel();
        let mut job = Job { write, answer };
        // A writer that has ended (its runtime gone): start another and try again.
        for _ in 0..2 {
            match self.queue(job.write.task_id()).send(job).await {
                Ok(()) => {
                    return answered.await.unwrap_or_else(|_| Err(stopped()));
                }
                Err(j) => job = j,
            }
        }
        Err(stopped())
    }
}

/// Marks the SQLite writer ended when its thread ends, however it ends.
struct Ended(Arc<AtomicBool>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
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
/// savepoint, the SQLite writer's `BEGIN`) or that is already open (`first` empty, sqlx's
/// transaction on PostgreSQL): each job in its own
/// savepoint, rolled back to it when the job is not kept. The batch fails when the transaction
/// could not be begun or a rollback to a savepoint fails (a broken connection).
async fn write_jobs(
    conn: &mut Conn<'_>,
    jobs: &[&TransitionWrite],
    first: &[Stmt<'static>],
) -> Result<Vec<Answer>, sqlx::Error> {
    let mut answers = Vec::with_capacity(jobs.len());
    // Whether the last job's savepoint is still open (it was kept).
    let mut open = false;
    for (i, write) in jobs.iter().enumerate() {
        let mut prefix: Vec<Stmt<'static>> = if i == 0 { first.to_vec() } else { Vec::new() };
        let begin = prefix.len();
        if open {
            prefix.push(RELEASE);
        }
        prefix.push(SAVEPOINT);
        let answer = match write.apply(conn, &prefix).await {
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

/// How long the SQLite writer keeps its connection after a batch, waiting for the next: while
/// transitions keep coming they are written on one connection, whose page cache no other
/// connection's commit has made stale, and whose handle the writer has borrowed once. A
/// connection taken from the pool for each batch was mostly another one than the last batch's
/// (the pool hands out the one idle longest) and read back every page the others had changed:
/// 1,122 against 1,847 transitions a second for one writer (`tiendo-bench transitions --scenario
/// approval --connections 4` against `1`). Closing the store waits for it at most this long (after
/// [`LOOK_FOR_NEXT`]).
const KEEP_CONNECTION: std::time::Duration = std::time::Duration::from_millis(50);

/// Statements the SQLite writer keeps prepared: a transition's few, with the multi-row inserts
/// of each number of timers and notifications.
const PREPARED: usize = 64;

/// How long the SQLite writer keeps looking for the next transition, giving the processor away
/// between looks, before it sleeps until one comes. A writer asleep is woken by the sender (a
/// futex wake and a context switch for every transition of a client that sends one after the
/// other); a writer looking is not. One writer: 3,201-3,635 transitions a second sleeping at
/// once, 4,991-5,396 looking for a millisecond (p50 0.22-0.24 ms -> 0.13-0.14 ms); 32 writers
/// unchanged (10,278-12,708 and 10,365-12,673). `tiendo-bench transitions --scenario approval
/// --backend sqlite --writers 1,32`, the two builds alternating, three runs each, 05/12/2026.
/// An idle store looks for a millisecond after its last transition.
const LOOK_FOR_NEXT: std::time::Duration = std::time::Duration::from_millis(1);

/// The SQLite writer's next transition: looked for during [`LOOK_FOR_NEXT`], then waited for
/// during [`KEEP_CONNECTION`]; `None` when none came.
fn next_job(queue: &std::sync::mpsc::Receiver<(Job, Handle)>) -> Option<Job> {
    let until = std::time::Instant::now() + LOOK_FOR_NEXT;
    while std::time::Instant::now() < until {
        if let Ok((job, _)) = queue.try_recv() {
            return Some(job);
        }
        std::thread::yield_now();
    }
    queue.recv_timeout(KEEP_CONNECTION).ok().map(|(job, _)| job)
}

/// The SQLite writer's thread: a session ([`Writer::session`]) from the first transition that
/// comes until none has come for [`LOOK_FOR_NEXT`] and [`KEEP_CONNECTION`] ([`next_job`]), then
/// waits for the next, until every sender is gone (the store is dropped).
fn run_in_place(
    writer: Writer,
    pool: SqlitePool,
    queue: std::sync::mpsc::Receiver<(Job, Handle)>,
    _ended: Ended,
) {
    while let Ok((first, runtime)) = queue.recv() {
        writer.session(&runtime, &pool, &queue, first);
    }
}

/// A PostgreSQL writer: one batch at a time, until every sender is gone.
async fn run(writer: Writer, pool: sqlx::PgPool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        // Let the requests that are ready to queue do so, then take whatever is waiting.
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let jobs = std::mem::take(&mut batch);
        let writes: Vec<&TransitionWrite> = jobs.iter().map(|j| &j.write).collect();
        let written = write_postgres(&pool, &writes, &writer.counts).await;
        writer.answer(jobs, written.map_err(StoreError::Database));
    }
}

/// Writes a PostgreSQL batch in one transaction: the transitions [`batch::split`] gives it in
/// one statement ([`batch::write`]), then the others each in its savepoint. When that statement
/// fails, or finds an idempotency key taken, the transaction is rolled back and every
/// transition written again in a new one, each in its savepoint, where each gets its own
/// outcome. The batch fails when a transaction cannot be begun, rolled back or committed.
async fn write_postgres(
    pool: &sqlx::PgPool,
    writes: &[&TransitionWrite],
    counts: &Counts,
) -> Result<Vec<Answer>, sqlx::Error> {
    let (set, rest) = batch::split(writes.iter().copied());
    if !set.is_empty() {
        let mut tx = pool.begin_with(batch::BEGIN).await?;
        let together: Vec<&TransitionWrite> = set.iter().map(|&i| writes[i]).collect();
        match batch::write(&mut tx, &together).await {
            Ok(Some(kept)) => {
                let others: Vec<&TransitionWrite> = rest.iter().map(|&i| writes[i]).collect();
                let mut answers: Vec<Option<Answer>> = writes.iter().map(|_| None).collect();
                for (&i, audit_id) in set.iter().zip(kept) {
                    answers[i] = Some(Ok(audit_id));
                }
                let written = write_jobs(&mut Conn::from(&mut *tx), &others, &[]).await?;
                for (&i, answer) in rest.iter().zip(written) {
                    answers[i] = Some(answer);
                }
                tx.commit().await?;
                counts
                    .set_based
                    .fetch_add(set.len() as u64, Ordering::Relaxed);
                // Every transition is in the set or the rest, and each side answered each of
                // its own; a slot left empty would be a fault of ours, answered as one.
                return Ok(answers
                    .into_iter()
                    .map(|a| {
                        a.unwrap_or_else(|| {
                            Err(StoreError::internal("a batch left a transition unanswered"))
                        })
                    })
                    .collect());
            }
            Ok(None) => {
                tracing::debug!("an idempotency key of the batch was taken: one at a time");
                tx.rollback().await?;
            }
            Err(e) => {
                tracing::debug!(error = %e, "the batch statement failed: one at a time");
                tx.rollback().await?;
            }
        }
    }
    let mut tx = pool.begin().await?;
    let answers = write_jobs(&mut Conn::from(&mut *tx), writes, &[]).await?;
    tx.commit().await?;
    Ok(answers)
}

/// The SQLite writer's connection for a session, and whether the session settled it (every
/// batch committed). Dropped unsettled — a failed batch, or a panic mid-batch — it closes the
/// connection, so that a transaction left open never goes back to the pool.
struct Held(sqlx::pool::PoolConnection<sqlx::Sqlite>, bool);

impl Drop for Held {
    fn drop(&mut self) {
        if !self.1 {
            self.0.close_on_drop();
        }
    }
}

struct Writer {
    counts: Arc<Counts>,
}

impl Writer {
    /// A session of the SQLite writer: from `first` until no transition has come ([`next_job`]),
    /// every batch on one pooled connection whose handle it borrows for the session, taken and
    /// given back on `runtime` (the first request's). A batch that fails ends the session; its
    /// connection is then closed rather than given back ([`Held`]).
    fn session(
        &self,
        runtime: &Handle,
        pool: &SqlitePool,
        queue: &std::sync::mpsc::Receiver<(Job, Handle)>,
        first: Job,
    ) {
        // The pool gives a connection back, or closes one, by spawning on the runtime.
        let _runtime = runtime.enter();
        let mut conn = match runtime.block_on(pool.acquire()) {
            Ok(conn) => Held(conn, false),
            Err(e) => return self.answer(vec![first], Err(StoreError::Database(e))),
        };
        match runtime.block_on(Borrowed::of(&mut conn.0)) {
            Ok(mut borrowed) => {
                let db = borrowed.db();
                db.set_prepared_statement_cache_capacity(PREPARED);
                conn.1 = self.batches(runtime, db, queue, first);
            }
            Err(e) => self.answer(vec![first], Err(e)),
        }
    }

    /// Writes batches on `db`, the first beginning with `first`, the next as soon as a
    /// transition comes, until none has come ([`next_job`]): then `true`. A batch that fails is
    /// rolled back and answered as failed, and stops the session: `false`.
    fn batches(
        &self,
        runtime: &Handle,
        db: &mut rusqlite::Connection,
        queue: &std::sync::mpsc::Receiver<(Job, Handle)>,
        first: Job,
    ) -> bool {
        let mut next = Some(first);
        loop {
            let first = match next.take() {
                Some(job) => job,
                None => match next_job(queue) {
                    Some(job) => job,
                    None => return true,
                },
            };
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok((job, _)) => jobs.push(job),
                    Err(_) => break,
                }
            }
            // One transaction, begun before the first job's savepoint, a savepoint a job. The
            // statements run here, on this thread; nothing in them waits.
            let written = runtime.block_on(async {
                let mut conn = Conn::InPlace(&mut *db);
                let writes: Vec<&TransitionWrite> = jobs.iter().map(|j| &j.write).collect();
                let answers = write_jobs(&mut conn, &writes, &[BEGIN]).await?;
                conn.execute("COMMIT", &[]).await?;
                Ok(answers)
            });
            let committed = written.is_ok();
            if !committed {
                // Nothing of the batch stands; the connection is closed after the session.
                let _ = db.execute_batch("ROLLBACK");
            }
            self.answer(jobs, written.map_err(StoreError::Database));
            if !committed {
                return false;
            }
        }
    }

    /// Answers each of `jobs` once their batch has committed (`written`: each job's answer), or
    /// failed (every job fails: none of them is told it succeeded).
    fn answer(&self, jobs: Vec<Job>, written: Result<Vec<Answer>, StoreError>) {
        let n = jobs.len();
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
