//! The fault suite: `tiendo` as the processes an operator runs, on real databases and a real
//! SMTP server on loopback, put through a bad day — each test bounded in time:
//!
//! - `serve_kill`: `tiendo serve` killed -9 five times under the transition load of 32 clients
//!   that retry unanswered requests with the same `Idempotency-Key`: every acknowledged
//!   transition is in the audit log exactly once and nothing else is, versions equal audit
//!   counts, timers match states, `audit verify` is clean (SQLite and PostgreSQL);
//! - `group_commit_kill`: `tiendo serve` with group commit (PostgreSQL's option, SQLite's only
//!   way) killed -9 four times while batches of several transitions are being written, under the
//!   same load: no acknowledged transition lost, none acknowledged that was lost (the same
//!   checks), and the log shows batches of several transitions before every kill;
//! - `postgres_restart`: a private PostgreSQL cluster stopped and started under that load:
//!   requests answer 503 with `Retry-After` naming the database within seconds, `/ready` turns
//!   503 at once and back, and the same promises hold afterwards;
//! - `worker_kill`: `tiendo worker` killed -9 in the middle of sending 600 messages: every
//!   message is sent, a re-send carries the same Message-ID, another instance takes over within
//!   seconds (SQLite and PostgreSQL);
//! - `smtp_down`: the SMTP server away for 60 s while reminders fire: every message arrives once
//!   it is back, none is dead, the worker keeps firing timers meanwhile;
//! - `shutdown`: SIGTERM drains `serve` (the request in flight is answered) and `worker`; both
//!   exit 0;
//! - `restore`: `deploy/tiendo-backup` then `deploy/tiendo-restore` into a fresh database: the
//!   restored city passes `audit verify` with the same tasks, audit entries and document files;
//! - `storage`: an empty SQLite file is refused unless `db migrate --init`; a document folder
//!   that cannot take a file stops `serve` at start and turns `/ready` 503 with the cause.
//!
//! Run: `cargo test --test faults` (part of `cargo test --workspace` and `bash .ci/run`).

#[path = "../common/mod.rs"]
mod common;
mod harness;
mod pg;

mod group_commit_kill;
mod postgres_restart;
mod restore;
mod serve_kill;
mod shutdown;
mod smtp_down;
mod storage;
mod worker_kill;
