//! End-to-end: `tiendo worker` as a process, sending a real reminder to a real SMTP server, and
//! `tiendo outbox` for operators, on SQLite and PostgreSQL.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::smtp::SmtpServer;
use common::{Cli, TestDb, workflows_with_fixture};

on_both_backends!(the_worker_process_sends_reminders_and_operators_see_the_outbox);

async fn the_worker_process_sends_reminders_and_operators_see_the_outbox(db: TestDb) {
    let wf = workflows_with_fixture();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        workflows: Some(wf.path()),
        ..Cli::new(&db, dir.path())
    };
    cli.ok(&["unit", "add", "so-y-te", "Sở Y tế"]);
    cli.ok(&[
        "user",
        "add",
        "can.bo",
        "--role",
        "don_vi",
        "--unit",
        "so-y-te",
        "--email",
        "can.bo@haiphong.gov.vn",
    ]);
    cli.ok(&[
        "user",
        "add",
        "tham.dinh",
        "--role",
        "so_tai_chinh",
        "--email",
        "tham.dinh@haiphong.gov.vn",
    ]);
    cli.add_plan_215("Kế hoạch năm 2025");
    let id = cli.create_task("Tổng đài 1022", "thuong_xuyen", "thu-nghiem-nhac-han", &[]);
    cli.ok(&["task", "transition", &id, "gui_tham_dinh", "--as", "can.bo"]);

    let smtp = SmtpServer::start();
    let mut worker = Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .arg("worker")
        .env("DATABASE_URL", &db.url)
        .env("TIENDO_WORKFLOWS", wf.path())
        .env("TIENDO_SMTP_HOST", "127.0.0.1")
        .env("TIENDO_SMTP_PORT", smtp.port.to_string())
        .env("TIENDO_SMTP_TLS", "none")
        .env("TIENDO_MAIL_FROM", "Tiến độ CNTT <tiendo@haiphong.gov.vn>")
        .env("TIENDO_BASE_URL", "https://tiendo.haiphong.gov.vn")
        .env("TIENDO_SCHEDULER_POLL_SECONDS", "1")
        // This test counts the deadline mails; the forecast's flags have their own test.
        .env("TIENDO_FORECAST_FLAGS_SECONDS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("worker starts");
    // Creation and transition notices, then the 50 % reminder of the PT4S deadline.
    let mails = smtp.wait_for(4, Duration::from_secs(30)).await;
    let _ = Command::new("kill")
        .args(["-INT", &worker.id().to_string()])
        .status();
    let status = worker.wait().unwrap();
    assert!(status.success(), "the worker stops cleanly on SIGINT");
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("[tiendo] Nhắc hạn") && s.contains("Tổng đài 1022")),
        "{subjects:?}"
    );
    let reminder = mails
        .iter()
        .find(|m| m.subject.starts_with("[tiendo] Nhắc hạn"))
        .unwrap();
    assert!(
        reminder
            .text
            .contains(&format!("https://tiendo.haiphong.gov.vn/tasks/{id}"))
    );

    let listed = cli.ok(&["outbox", "list", "--status", "sent"]);
    assert!(
        listed.contains("deadline.reminder") && listed.contains("tham.dinh@haiphong.gov.vn"),
        "{listed}"
    );
    let o = cli.run(&["outbox", "retry", "khong-co"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Không có thư lỗi nào"));
    let o = cli.run(&["outbox", "list", "--status", "lost"]);
    assert_eq!(o.status.code(), Some(2));
    // A bad setting is refused with the variable's name, before anything runs.
    let o = Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .arg("worker")
        .env("DATABASE_URL", &db.url)
        .env("TIENDO_WORKFLOWS", wf.path())
        .env("TIENDO_SMTP_HOST", "127.0.0.1")
        .env("TIENDO_SMTP_TLS", "ssl")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("TIENDO_SMTP_TLS"));
}
