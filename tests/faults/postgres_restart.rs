//! PostgreSQL stopped and started again under the transition load (a private cluster, so that
//! the shared server of the other tests is not disturbed).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::TestDb;
use crate::harness::{self, Server};
use crate::pg::PrivatePg;
use crate::serve_kill::CLIENTS;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load_answers_503_then_recovers_and_loses_nothing() {
    let t0 = Instant::now();
    let pg = PrivatePg::start();
    pg.create_db("tiendo");
    let db = TestDb::postgres_at(pg.url("tiendo"));
    let workflows = harness::workflows();
    let world = harness::seed(harness::store(&db).await, 2 * CLIENTS).await;
    world.store.close().await;
    let mut server = Server::new(&db.url, workflows.path(), &[]);
    server.start().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let ready = |http: reqwest::Client, base: String| async move {
        let t = Instant::now();
        let r = http
            .get(format!("{base}/api/v1/ready"))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            t.elapsed(),
            r.headers().contains_key("retry-after"),
            r.json::<serde_json::Value>().await.unwrap(),
        )
    };

    let stop = Arc::new(AtomicBool::new(false));
    let clients = harness::drive_in_background(&server.base, &world, CLIENTS, &stop);
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.stop();
    let down = Instant::now();
    // At once: /ready says 503 naming the database; a request says 503 with Retry-After
    // within a couple of seconds, not a 500 after a 30 s hang.
    let (status, took, retry, body) = ready(http.clone(), server.base.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert!(took < Duration::from_secs(2), "/ready took {took:?}");
    assert!(retry && body["dependency"] == "database", "{body}");
    let t = Instant::now();
    let r = http
        .get(format!("{}/api/v1/tasks", server.base))
        .bearer_auth(&world.donvi_token)
        .send()
        .await
        .unwrap();
    let took = t.elapsed();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["dependency"].as_str()),
        (Some("database_unavailable"), Some("database")),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Cơ sở dữ liệu tạm thời không truy cập được"),
        "{body}"
    );
    assert!(took < Duration::from_secs(5), "answered in {took:?}");
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(down.elapsed())).await;
    pg.start_again();
    // Back by itself: /ready 200 again, and the load goes on.
    let back = Instant::now();
    server.wait_ready(Duration::from_secs(20)).await;
    let recovered_in = back.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let load = clients.await.unwrap();
    let status = server.proc.signal_and_wait("TERM", Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", server.proc.log_text());

    harness::check(&db, workflows.path(), &world, &load).await;
    assert!(load.unavailable > 0, "the clients met the outage");
    assert_eq!(
        load.unavailable, load.unavailable_named,
        "every 503 named the database and carried Retry-After"
    );
    println!(
        "faults postgres_restart: database down 3 s under {CLIENTS} clients: {} acknowledged transitions, \
         {} answers 503 (database, Retry-After), {} answered after a retry; ready again {:.1} s after the restart; {:.1} s",
        load.acks.len(),
        load.unavailable,
        load.retried,
        recovered_in.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}
