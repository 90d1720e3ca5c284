//! SIGTERM, as systemd and container runtimes stop a service: `serve` stops accepting, answers
//! the request in flight, and exits 0; `worker` finishes its pass, gives back its claims, and
//! exits 0.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::common::TestDb;
use crate::common::smtp::free_port;
use crate::harness::{self, Server};
use crate::worker_kill::worker;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_answers_the_request_in_flight_then_exits_0() {
    let db = TestDb::sqlite().await;
    let workflows = harness::workflows();
    let world = harness::seed(harness::store(&db).await, 2).await;
    let mut server = Server::new(&db.url, workflows.path(), &[]);
    server.start().await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let task = &world.tasks[0];
    // A transition whose body is still arriving when SIGTERM comes.
    let body = serde_json::json!({ "transition": "trinh" }).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        conn,
        "POST /api/v1/tasks/{}/transitions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{head}",
        task.id,
        world.donvi_token,
        body.len()
    )
    .unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.proc.pid();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    // No longer accepting.
    let t = Instant::now();
    let refused = loop {
        match std::net::TcpStream::connect(&addr) {
            Err(_) => break true,
            Ok(_) if t.elapsed() > Duration::from_secs(5) => break false,
            Ok(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(refused, "a stopping server accepts no new connection");
    conn.write_all(tail.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request in flight is answered: {answer}"
    );
    assert!(answer.contains("\"state\":\"tham_dinh\""), "{answer}");
    let status = server.proc.signal_and_wait("TERM", Duration::from_secs(20));
    assert!(
        status.success(),
        "serve exits 0: {status}\n{}",
        server.proc.log_text()
    );
    let t = world.store.tasks().unscoped().get(&task.id).await.unwrap();
    assert_eq!(
        (t.state.as_str(), t.version),
        ("tham_dinh", task.version + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_stops_the_worker_with_exit_0_and_its_lease_is_free_at_once() {
    let db = TestDb::sqlite().await;
    let workflows = harness::workflows();
    let _world = harness::seed(harness::store(&db).await, 2).await;
    let mut w = worker(&db.url, workflows.path(), free_port(), &[]);
    w.start();
    // It holds the SQLite scheduler lease once it has ticked.
    let t = Instant::now();
    loop {
        let held = harness::rows(
            &db,
            "SELECT name, owner, CAST(0 AS BIGINT) AS a, CAST(0 AS BIGINT) AS b FROM leases",
        )
        .await;
        if held
            .iter()
            .any(|(n, o, _, _)| n == "scheduler" && o.ends_with(&format!(":{}", w.pid())))
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the worker never took the lease\n{}",
            w.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = Instant::now();
    let status = w.signal_and_wait("TERM", Duration::from_secs(20));
    assert!(
        status.success(),
        "worker exits 0 on SIGTERM: {status}\n{}",
        w.log_text()
    );
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        t.elapsed()
    );
    // Released: another instance may lead now, not in 15 s.
    let store = harness::store(&db).await;
    let now = chrono::Utc::now();
    assert!(
        store
            .scheduling()
            .acquire_lease(
                "scheduler",
                "next-instance",
                now + chrono::TimeDelta::seconds(15),
                now
            )
            .await
            .unwrap(),
        "the stopped worker's lease is free"
    );
}
