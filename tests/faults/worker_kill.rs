//! `tiendo worker` killed -9 in the middle of sending: every message is sent, a re-send carries
//! the same Message-ID, and the next instance takes over within seconds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::TestDb;
use crate::common::smtp::SmtpServer;
use crate::harness::{self, Proc};

crate::on_both_backends!(killed_mid_send_every_message_is_sent_and_a_resend_keeps_its_message_id);

/// 200 tasks leave 600 notifications (creation, start, and for half of them the appraiser's
/// turn and the unit's progress note).
const TASKS: usize = 200;

pub fn worker(
    db_url: &str,
    workflows: &std::path::Path,
    smtp_port: u16,
    extra: &[(&str, String)],
) -> Proc {
    let mut env = vec![
        ("DATABASE_URL", db_url.to_string()),
        ("TIENDO_WORKFLOWS", workflows.display().to_string()),
        ("TIENDO_SMTP_HOST", "127.0.0.1".to_string()),
        ("TIENDO_SMTP_PORT", smtp_port.to_string()),
        ("TIENDO_SMTP_TLS", "none".to_string()),
        (
            "TIENDO_MAIL_FROM",
            "Tiến độ CNTT <tiendo@haiphong.gov.vn>".to_string(),
        ),
        (
            "TIENDO_BASE_URL",
            "https://tiendo.haiphong.gov.vn".to_string(),
        ),
        ("TIENDO_SCHEDULER_POLL_SECONDS", "1".to_string()),
        ("RUST_LOG", "warn".to_string()),
    ];
    env.extend(extra.iter().cloned());
    Proc::new(&["worker"], &env)
}

/// Outbox rows by status.
pub async fn outbox_status(db: &TestDb) -> BTreeMap<String, i64> {
    harness::rows(
        db,
        "SELECT status, '' AS x, COUNT(*) AS n, CAST(0 AS BIGINT) AS z FROM outbox GROUP BY status",
    )
    .await
    .into_iter()
    .map(|(s, _, n, _)| (s, n))
    .collect()
}

async fn killed_mid_send_every_message_is_sent_and_a_resend_keeps_its_message_id(db: TestDb) {
    let t0 = Instant::now();
    let workflows = harness::workflows();
    let world = harness::seed(harness::store(&db).await, TASKS).await;
    let queued = outbox_status(&db)
        .await
        .get("pending")
        .copied()
        .unwrap_or(0);
    assert_eq!(queued, 600);
    let smtp = SmtpServer::start();
    let mut w = worker(&db.url, workflows.path(), smtp.port, &[]);
    w.start();
    // Kill it while it is sending.
    let mails = smtp.wait_for(150, Duration::from_secs(60)).await;
    assert!(
        mails.len() >= 150,
        "the worker sends: {}\n{}",
        mails.len(),
        w.log_text()
    );
    w.kill9();
    let killed = Instant::now();
    let at_kill = smtp.mails().len();
    assert!(at_kill < 600, "killed before the end ({at_kill} sent)");
    w.start();
    let first_after = smtp
        .wait_for(at_kill + 1, Duration::from_secs(30))
        .await
        .len();
    assert!(first_after > at_kill, "the next instance sends");
    let took_over_in = killed.elapsed();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let s = outbox_status(&db).await;
        if s.get("sent").copied() == Some(600) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all sent after the kill: {s:?}\n{}",
            w.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_sent_in = killed.elapsed();
    let status = w.signal_and_wait("TERM", Duration::from_secs(30));
    assert!(status.success(), "worker exits 0 on SIGTERM: {status}");

    let ids: Vec<(String, String, i64, i64)> = harness::rows(
        &db,
        "SELECT id, message_id, CAST(attempts AS BIGINT), CAST(0 AS BIGINT) AS z FROM outbox",
    )
    .await;
    let recorded: BTreeMap<&str, &str> = ids
        .iter()
        .map(|(id, m, _, _)| (m.as_str(), id.as_str()))
        .collect();
    assert_eq!(recorded.len(), 600, "one Message-ID per message");
    let mails = smtp.mails();
    let mut received: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &mails {
        *received.entry(m.message_id.as_str()).or_default() += 1;
        assert!(
            recorded.contains_key(m.message_id.as_str()),
            "a mail the outbox does not know: {}",
            m.message_id
        );
    }
    assert_eq!(received.len(), 600, "every message arrived");
    let resent: usize = received.values().map(|n| n - 1).sum();
    // At most the message in flight at the kill is sent twice, with the same Message-ID.
    assert!(resent <= 1, "{resent} messages sent twice");
    drop(world);
    println!(
        "faults worker_kill ({}): worker killed -9 after {at_kill} of 600 messages; the next instance sent {:.1} s \
         after the kill, all 600 sent {:.1} s after it, {resent} re-sent with its Message-ID; {:.1} s",
        db.backend,
        took_over_in.as_secs_f64(),
        all_sent_in.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}
