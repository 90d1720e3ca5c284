//! The SMTP server away for a minute while reminders fire: the worker keeps firing timers, and
//! once the server is back every message arrives, once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use adapters::store::TransitionRequest;
use chrono::Utc;

use crate::common::TestDb;
use crate::common::smtp::{SmtpServer, free_port};
use crate::harness;
use crate::worker_kill::{outbox_status, worker};

/// How long the SMTP server is away (the bad day: 60 s).
const DOWN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn smtp_down_a_minute_under_reminders_then_every_message_arrives_once() {
    // Both backends at once: the test mostly waits.
    let (a, b) = tokio::join!(smtp_down(TestDb::sqlite()), smtp_down(TestDb::postgres()));
    println!("{a}\n{b}");
}

async fn smtp_down(db: impl Future<Output = TestDb>) -> String {
    let db = db.await;
    let t0 = Instant::now();
    let workflows = harness::workflows();
    let world = harness::seed(harness::store(&db).await, 2).await;
    let store = world.store.clone();
    let officer = store.directory().actor("can.bo.thu.loi").await.unwrap();
    let port = free_port();
    let mut w = worker(
        &db.url,
        workflows.path(),
        port,
        &[
            ("TIENDO_OUTBOX_RETRY_SECONDS", "1".to_string()),
            ("TIENDO_OUTBOX_MAX_ATTEMPTS", "20".to_string()),
        ],
    );
    w.start();
    // Every 10 s while the server is away, five tasks enter a 2-second opinion step: a
    // deadline notice each, then their automatic withdrawal.
    let mut tasks = Vec::new();
    let down = Instant::now();
    let mut wave = 0;
    while down.elapsed() < DOWN {
        for i in 0..5 {
            let new = crate::common::new_task(
                "998/KH-THULOI",
                "don-vi-thu-loi",
                &format!("Xin ý kiến đợt {wave} số {i}"),
                "thu-nghiem-nhac-han",
            );
            let id = store
                .tasks()
                .create_as(&officer, &new, None, Utc::now())
                .await
                .unwrap()
                .task_id;
            store
                .tasks()
                .transition_as(
                    &officer,
                    &TransitionRequest::new(&id, "gui_y_kien"),
                    Utc::now(),
                )
                .await
                .unwrap();
            tasks.push(id);
        }
        wave += 1;
        tokio::time::sleep(Duration::from_secs(10).min(DOWN.saturating_sub(down.elapsed()))).await;
    }
    // Meanwhile the timers fired and the withdrawals were taken; nothing could be sent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fired = harness::rows(
        &db,
        "SELECT template, '' AS x, COUNT(*) AS n, CAST(0 AS BIGINT) AS z FROM outbox WHERE template LIKE 'deadline.%' GROUP BY template",
    )
    .await;
    let s = outbox_status(&db).await;
    assert_eq!(s.get("sent"), None, "the server was away: {s:?}");
    assert!(
        !fired.is_empty(),
        "timers fire while the mail server is away"
    );
    let smtp = SmtpServer::start_on(port);
    let back = Instant::now();
    let deadline = back + Duration::from_secs(90);
    let total = loop {
        let s = outbox_status(&db).await;
        let pending = s.get("pending").copied().unwrap_or(0);
        let withdrawn = harness::rows(&db, "SELECT state, '' AS x, COUNT(*) AS n, CAST(0 AS BIGINT) AS z FROM tasks WHERE state = 'rut' GROUP BY state").await;
        let all_withdrawn = withdrawn.first().map(|r| r.2).unwrap_or(0) == tasks.len() as i64;
        if pending == 0 && all_withdrawn {
            assert_eq!(
                s.get("dead"),
                None,
                "no message dead after a one-minute outage: {s:?}"
            );
            break s.get("sent").copied().unwrap_or(0);
        }
        assert!(
            Instant::now() < deadline,
            "still pending after the server came back: {s:?}\n{}",
            w.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let delivered_in = back.elapsed();
    let status = w.signal_and_wait("TERM", Duration::from_secs(30));
    assert!(status.success(), "{status}");
    let mails = smtp.mails();
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &mails {
        *ids.entry(m.message_id.as_str()).or_default() += 1;
    }
    assert_eq!(ids.len() as i64, total, "every message arrived");
    assert!(ids.values().all(|n| *n == 1), "none twice");
    // One deadline notice per task, for the step it was about.
    let per_task = harness::rows(
        &db,
        "SELECT task_id, template, COUNT(*) AS n, CAST(0 AS BIGINT) AS z FROM outbox WHERE template LIKE 'deadline.%' GROUP BY task_id, template",
    )
    .await;
    assert_eq!(per_task.len(), tasks.len(), "{per_task:?}");
    assert!(per_task.iter().all(|r| r.2 == 1), "{per_task:?}");
    format!(
        "faults smtp_down ({}): SMTP away {} s while {} tasks' deadlines fired; {total} messages, all delivered once \
         {:.1} s after it came back, none dead; {:.1} s",
        db.backend,
        DOWN.as_secs(),
        tasks.len(),
        delivered_in.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    )
}
