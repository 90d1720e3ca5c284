//! `tiendo serve` killed -9 under load, five times.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::common::TestDb;
use crate::harness::{self, Server};

crate::on_both_backends!(killed_under_load_five_times_loses_and_doubles_nothing);

pub const CLIENTS: usize = 32;
const TASKS: usize = 4 * CLIENTS;
const ROUNDS: u32 = 5;

async fn killed_under_load_five_times_loses_and_doubles_nothing(db: TestDb) {
    let t0 = Instant::now();
    let workflows = harness::workflows();
    let world = harness::seed(harness::store(&db).await, TASKS).await;
    let mut server = Server::new(&db.url, workflows.path(), &[]);
    server.start().await;

    let stop = Arc::new(AtomicBool::new(false));
    let clients = harness::drive_in_background(&server.base, &world, CLIENTS, &stop);
    for round in 0..ROUNDS {
        // Between 1.5 and 2.4 s of load, so the kill lands at different points of requests.
        tokio::time::sleep(Duration::from_millis(
            1500 + u64::from(round * 7 % 10) * 100,
        ))
        .await;
        server.kill9_and_restart().await;
    }
    // The last instance stops as systemd stops it: SIGTERM, drained, exit 0.
    let load = server.finish(&stop, clients).await;

    harness::check(&db, workflows.path(), &world, &load).await;
    assert!(load.acks.len() > 100, "the load ran: {}", load.acks.len());
    println!(
        "faults serve_kill ({}): {} rounds of kill -9, {CLIENTS} clients, {} acknowledged transitions \
         ({} answered only after a retry, {} of them replays of an unanswered success), each in the audit log once; {:.1} s",
        db.backend,
        ROUNDS,
        load.acks.len(),
        load.retried,
        load.replayed,
        t0.elapsed().as_secs_f64()
    );
}
