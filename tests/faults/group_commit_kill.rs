//! `tiendo serve` with group commit, killed -9 while batches of transitions are in flight.
//!
//! Group commit answers a request only once the transaction carrying its transition has
//! committed; a kill between the writes of a batch and its commit must lose the whole batch and
//! acknowledge none of it. The server logs each batch it writes (the commit writer's debug
//! line), so the test knows batches of several transitions were being written when it killed.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::common::TestDb;
use crate::harness::{self, Server};

crate::on_both_backends!(killed_with_batches_in_flight_loses_and_acknowledges_nothing_wrongly);

const CLIENTS: usize = 32;
const TASKS: usize = 4 * CLIENTS;
const ROUNDS: u32 = 4;

/// The size of every batch in the log: `group commit transitions=N ok=…`.
fn batch_sizes(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("group commit"))
        .filter_map(|l| {
            let rest = &l[l.find("transitions=")? + "transitions=".len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

async fn killed_with_batches_in_flight_loses_and_acknowledges_nothing_wrongly(db: TestDb) {
    let t0 = Instant::now();
    let workflows = harness::workflows();
    let world = harness::seed(harness::store(&db).await, TASKS).await;
    let mut server = Server::new(
        &db.url,
        workflows.path(),
        &[
            // On SQLite group commit is always on; on PostgreSQL it is this setting.
            ("TIENDO_GROUP_COMMIT", "true".to_string()),
            (
                "RUST_LOG",
                "warn,adapters::store::tasks::commit=debug".to_string(),
            ),
        ],
    );
    server.start().await;

    let stop = Arc::new(AtomicBool::new(false));
    let clients = harness::drive_in_background(&server.base, &world, CLIENTS, &stop);
    // Batches of more than one transition written in each round before its kill (the log
    // is appended to across restarts).
    let mut batched_before_kill = Vec::new();
    let mut seen = 0;
    for round in 0..ROUNDS {
        // Between 0.8 and 1.7 s of load, so the kill lands at different points of batches.
        tokio::time::sleep(Duration::from_millis(800 + u64::from(round * 3 % 10) * 100)).await;
        let several = batch_sizes(&server.proc.log_text())
            .iter()
            .filter(|n| **n > 1)
            .count();
        batched_before_kill.push(several - seen);
        seen = several;
        server.kill9_and_restart().await;
    }
    let load = server.finish(&stop, clients).await;

    let sizes = batch_sizes(&server.proc.log_text());
    assert!(
        batched_before_kill.iter().all(|n| *n > 0),
        "batches of several transitions were being written before every kill: {batched_before_kill:?}"
    );
    harness::check(&db, workflows.path(), &world, &load).await;
    assert!(load.acks.len() > 100, "the load ran: {}", load.acks.len());
    println!(
        "faults group_commit_kill ({}): {ROUNDS} rounds of kill -9 with group commit, {CLIENTS} clients, \
         {} acknowledged transitions ({} answered only after a retry, {} of them replays), each in \
         the audit log once, none there unacknowledged; batches of more than one transition before \
         each kill: {batched_before_kill:?}, largest batch {}; {:.1} s",
        db.backend,
        load.acks.len(),
        load.retried,
        load.replayed,
        sizes.iter().max().copied().unwrap_or(0),
        t0.elapsed().as_secs_f64()
    );
}
