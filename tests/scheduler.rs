//! The scheduler end to end: real timers in the database, a real SMTP server on loopback, on
//! SQLite and PostgreSQL. Deterministic tests drive `Scheduler::tick(now)` with chosen instants;
//! one test runs the real loop against the wall clock with second-scale ISO deadlines.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use adapters::email::{Relay, RelayConfig};
use adapters::scheduler::{Scheduler, SchedulerConfig};
use adapters::store::{NewTask, Store, TransitionRequest};
use chrono::{DurationRound, TimeDelta, Utc};
use common::TestDb;
use common::smtp::{SmtpServer, free_port};
use engine::Role;
use engine::decide::Actor;
use engine::time::{Instant, parse_instant};

on_both_backends!(
    the_reminder_at_half_of_a_short_deadline_arrives_by_email,
    a_paused_clock_pushes_the_deadline_out,
    escalation_reaches_leadership_and_the_units_head,
    after_downtime_each_task_gets_one_message_saying_how_late,
    smtp_down_then_back_delivers_every_message_once,
    a_message_that_keeps_failing_is_dead_until_retried,
    stalled_tasks_are_escalated_once_per_stall,
    digests_are_queued_once_per_slot_and_skip_days_off,
    an_automatic_transition_on_expiry_goes_through_decide,
    on_sqlite_one_scheduler_runs_at_a_time,
    two_transitions_in_one_pass_each_mail_names_its_own_step,
    after_downtime_an_automatic_move_cancels_the_escalation_meant_for_later,
    a_stopping_scheduler_releases_its_claims_and_a_live_one_renews_them,
    a_slow_smtp_server_delays_no_timer_and_sent_at_is_its_acceptance,
    a_timer_due_sooner_than_the_poll_fires_when_it_falls_due,
);

mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_schedulers_on_one_postgres_fire_every_timer_exactly_once() {
        super::two_schedulers_fire_every_timer_exactly_once(super::common::TestDb::postgres().await)
            .await
    }
}

fn at(s: &str) -> Instant {
    parse_instant(s).unwrap()
}

const FIXTURE: &str = "thu-nghiem-nhac-han.toml";

struct World {
    store: Store,
    officer: Actor,
    stc: Actor,
    ubnd: Actor,
}

async fn world(db: &TestDb) -> World {
    let store = db.store_with(&[FIXTURE]).await;
    let now = at("2026-03-02T08:00:00+07:00");
    let users: [common::Person; 8] = [
        ("can.bo", "Nguyễn Văn An", Role::DonVi, Some("so-y-te")),
        (
            "giam.doc",
            "Trần Thị Bình",
            Role::ThuTruongDonVi,
            Some("so-y-te"),
        ),
        (
            "giam.doc.sxd",
            "Lê Văn Cường",
            Role::ThuTruongDonVi,
            Some("so-xay-dung"),
        ),
        (
            "tham.dinh",
            "Phạm Quốc Dũng",
            Role::SoTaiChinh,
            Some("so-tai-chinh"),
        ),
        ("pho.chu.tich", "Hoàng Thu Hà", Role::Ubnd, None),
        ("chuyen.vien", "Đỗ Minh Khoa", Role::Skhcn, Some("so-khcn")),
        (
            "giam.doc.stc",
            "Vũ Thị Lan",
            Role::LanhDaoSo,
            Some("so-tai-chinh"),
        ),
        (
            "giam.doc.skhcn",
            "Ngô Văn Minh",
            Role::LanhDaoSo,
            Some("so-khcn"),
        ),
    ];
    common::seed_directory(
        &store,
        &[
            ("so-y-te", "Sở Y tế"),
            ("so-xay-dung", "Sở Xây dựng"),
            ("so-tai-chinh", "Sở Tài chính"),
            ("so-khcn", "Sở Khoa học và Công nghệ"),
        ],
        &users,
        ("215/KH-UBND", 2025, "Kế hoạch ứng dụng CNTT năm 2025"),
        now,
    )
    .await;
    World {
        officer: store.directory().actor("can.bo").await.unwrap(),
        stc: store.directory().actor("tham.dinh").await.unwrap(),
        ubnd: store.directory().actor("pho.chu.tich").await.unwrap(),
        store,
    }
}

fn task(kind: &str, name: &str) -> NewTask {
    common::new_task("215/KH-UBND", "so-y-te", name, kind)
}

fn req(task: &str, transition: &str) -> TransitionRequest {
    TransitionRequest::new(task, transition)
}

/// A test-workflow task in its 4-second appraisal, entered at `now`.
async fn in_appraisal(w: &World, name: &str, now: Instant) -> String {
    let id = w
        .store
        .tasks()
        .create_as(&w.officer, &task("thu-nghiem-nhac-han", name), None, now)
        .await
        .unwrap()
        .task_id;
    w.store
        .tasks()
        .transition_as(&w.officer, &req(&id, "gui_tham_dinh"), now)
        .await
        .unwrap();
    id
}

fn relay(store: &Store, port: u16, cfg: RelayConfig) -> Relay {
    common::smtp::relay(store, port, "relay-test", cfg)
}

/// A scheduler running in the background, mailing through the SMTP server on `port` with the
/// city's base URL, until stopped.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(w: &World, port: u16, name: &str, since: Instant) -> Running {
        let scheduler = Scheduler::new(
            w.store.clone(),
            quiet(),
            Some(relay(
                &w.store,
                port,
                RelayConfig {
                    base_url: "https://tiendo.haiphong.gov.vn".into(),
                    ..RelayConfig::default()
                },
            )),
            name,
            since,
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(scheduler.run(async {
            let _ = stopped.await;
        }));
        Running { stop, handle }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap();
    }
}

fn quiet() -> SchedulerConfig {
    SchedulerConfig {
        poll: Duration::from_millis(200),
        unit_digest: None,
        ubnd_digest: None,
        seal_every: None,
        // The forecast's flags have their own test (tests/forecast.rs).
        forecast_flags_every: None,
        ..SchedulerConfig::default()
    }
}

/// The deadline messages queued for a task, oldest first.
async fn outbox_templates(store: &Store, task: &str) -> Vec<String> {
    store
        .tasks()
        .unscoped()
        .outbox(task)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.template)
        .filter(|t| t.starts_with("deadline."))
        .collect()
}

async fn the_reminder_at_half_of_a_short_deadline_arrives_by_email(db: TestDb) {
    let w = world(&db).await;
    let smtp = SmtpServer::start();
    let start = Utc::now();
    let id = in_appraisal(&w, "Triển khai Hệ thống phần mềm Quản lý Y tế cơ sở", start).await;
    let running = Running::start(&w, smtp.port, "loop-test", start);
    // Creation and the transition send three messages first (the unit's turn, the
    // appraiser's turn, the unit's progress note); the reminder is the fourth.
    let mails = smtp.wait_for(4, Duration::from_secs(20)).await;
    let reminder_at = Utc::now();
    running.stop().await;
    let reminder = mails
        .iter()
        .find(|m| m.subject.starts_with("[tiendo] Nhắc hạn"))
        .unwrap_or_else(|| {
            panic!(
                "no reminder among {:?}",
                mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
            )
        });
    // 50 % of PT4S: two seconds after entry, not before.
    let elapsed = reminder_at - start;
    assert!(
        elapsed >= TimeDelta::milliseconds(1900),
        "reminder after {elapsed}"
    );
    assert_eq!(reminder.to, vec!["tham.dinh@haiphong.gov.vn"]);
    assert_eq!(reminder.content_type, "multipart/alternative");
    assert!(
        reminder.message_id.ends_with("@haiphong.gov.vn>"),
        "{}",
        reminder.message_id
    );
    assert!(
        reminder
            .subject
            .contains("Triển khai Hệ thống phần mềm Quản lý Y tế cơ sở")
    );
    for needle in [
        "Nhiệm vụ: Triển khai Hệ thống phần mềm Quản lý Y tế cơ sở",
        "Đơn vị chủ trì: Sở Y tế",
        "Bước hiện tại: Sở Tài chính thẩm định",
        "Thời hạn: ",
        "Việc cần làm: hoàn thành bước «Sở Tài chính thẩm định» trước thời hạn.",
        &format!("https://tiendo.haiphong.gov.vn/tasks/{id}"),
    ] {
        assert!(
            reminder.text.contains(needle),
            "missing {needle} in:\n{}",
            reminder.text
        );
    }
    assert!(reminder.html.contains("Sở Tài chính thẩm định"));
    let turns: Vec<&Vec<String>> = mails
        .iter()
        .filter(|m| m.subject.starts_with("[tiendo] Đến lượt xử lý"))
        .map(|m| &m.to)
        .collect();
    assert_eq!(
        turns,
        vec![
            &vec!["can.bo@haiphong.gov.vn".to_string()],
            &vec!["tham.dinh@haiphong.gov.vn".to_string()]
        ]
    );
    let progress = mails
        .iter()
        .find(|m| m.subject.starts_with("[tiendo] Nhiệm vụ chuyển bước"))
        .expect("progress mail");
    assert_eq!(progress.to, vec!["can.bo@haiphong.gov.vn"]);
}

async fn a_paused_clock_pushes_the_deadline_out(db: TestDb) {
    let w = world(&db).await;
    let store = &w.store;
    let s = Scheduler::new(
        store.clone(),
        quiet(),
        None,
        "pause-test",
        at("2026-03-02T08:00:00+07:00"),
    );
    // A mua-sam task reaches Sở Tài chính's 15-working-day appraisal on Monday 02/03/2026.
    let t0 = at("2026-03-02T09:00:00+07:00");
    let id = store
        .tasks()
        .create_as(&w.officer, &task("mua-sam", "Nâng cấp máy chủ"), None, t0)
        .await
        .unwrap()
        .task_id;
    for (t, actor) in [("bat_dau_lap_thuyet_minh", &w.officer)] {
        store
            .tasks()
            .transition_as(actor, &req(&id, t), t0)
            .await
            .unwrap();
    }
    // Jump over the unit's steps with the test's own documents.
    let head = store.directory().actor("giam.doc").await.unwrap();
    let skhcn = store.directory().actor("chuyen.vien").await.unwrap();
    let doc = |ty: &str, by: &Actor| {
        let store = store.clone();
        let id = id.clone();
        let ty = ty.to_string();
        let by = by.clone();
        async move {
            store
                .tasks()
                .add_document_as(
                    &by,
                    &adapters::store::NewDocument {
                        task_id: id,
                        doc_type: ty.clone(),
                        number: None,
                        issued_on: None,
                        issuer: None,
                        file_name: format!("{ty}.pdf"),
                        size_bytes: 1,
                        sha256: "0".repeat(64),
                        stored_path: String::new(),
                    },
                    t0,
                )
                .await
                .unwrap()
                .id
        }
    };
    let tm = doc("thuyet_minh_du_toan", &w.officer).await;
    let mut r = req(&id, "trinh_thu_truong");
    r.document_ids = vec![tm.clone()];
    store
        .tasks()
        .transition_as(&w.officer, &r, t0)
        .await
        .unwrap();
    let mut r = req(&id, "gui_skhcn");
    r.document_ids = vec![tm.clone()];
    store.tasks().transition_as(&head, &r, t0).await.unwrap();
    let yk = doc("van_ban_y_kien", &skhcn).await;
    let mut r = req(&id, "skhcn_thong_nhat");
    r.document_ids = vec![yk];
    store.tasks().transition_as(&skhcn, &r, t0).await.unwrap();
    let qd = doc("quyet_dinh_phe_duyet", &head).await;
    let mut r = req(&id, "phe_duyet_nhiem_vu");
    r.document_ids = vec![qd];
    store.tasks().transition_as(&head, &r, t0).await.unwrap();
    let mut r = req(&id, "gui_so_tai_chinh");
    r.document_ids = vec![tm];
    store.tasks().transition_as(&head, &r, t0).await.unwrap();
    assert_eq!(
        engine::time::format_instant(
            store
                .tasks()
                .unscoped()
                .get(&id)
                .await
                .unwrap()
                .due_at
                .unwrap()
        ),
        "23/03/2026 23:59"
    );

    // Returned for supplement on Thursday 05/03; the dossier sits with the unit until 10/03.
    let mut r = req(&id, "stc_yeu_cau_bo_sung");
    r.comment = Some("Thiếu chứng thư thẩm định giá".into());
    store
        .tasks()
        .transition_as(&w.stc, &r, at("2026-03-05T10:00:00+07:00"))
        .await
        .unwrap();
    let before = outbox_templates(store, &id).await.len();
    // While paused nothing fires, even past the original deadline.
    let report = s.tick(at("2026-03-24T09:00:00+07:00")).await.unwrap();
    assert_eq!(report.timers_fired, 0);
    assert_eq!(outbox_templates(store, &id).await.len(), before);

    let sup = doc("ho_so_bo_sung", &w.officer).await;
    let mut r = req(&id, "nop_bo_sung_stc");
    r.document_ids = vec![sup];
    store
        .tasks()
        .transition_as(&head, &r, at("2026-03-24T15:00:00+07:00"))
        .await
        .unwrap();
    // Paused on 06, 09–13, 16–20 and 23–24/03: 13 working days; due 23/03 + 13 = 09/04/2026.
    let due = store
        .tasks()
        .unscoped()
        .get(&id)
        .await
        .unwrap()
        .due_at
        .unwrap();
    assert_eq!(engine::time::format_instant(due), "09/04/2026 23:59");
    let report = s.tick(at("2026-04-09T23:59:59+07:00")).await.unwrap();
    assert!(report.timers_fired >= 1);
    assert_eq!(
        outbox_templates(store, &id)
            .await
            .last()
            .map(String::as_str),
        Some("deadline.due")
    );
}

async fn escalation_reaches_leadership_and_the_units_head(db: TestDb) {
    let w = world(&db).await;
    let smtp = SmtpServer::start();
    let t0 = at("2026-03-02T09:00:00+07:00");
    in_appraisal(&w, "Cổng thông tin điện tử ngành Y tế", t0).await;
    let s = Scheduler::new(
        w.store.clone(),
        quiet(),
        Some(relay(&w.store, smtp.port, RelayConfig::default())),
        "esc",
        t0,
    );
    // PT4S deadline + PT2S: the escalation is due at t0 + 6 s.
    s.tick(t0 + TimeDelta::seconds(7)).await.unwrap();
    let mails = smtp.wait_for(4, Duration::from_secs(10)).await;
    let esc = mails
        .iter()
        .find(|m| m.subject.starts_with("[tiendo] Báo cáo chậm tiến độ"))
        .expect("escalation mail");
    let to: BTreeSet<&str> = esc.to.iter().map(String::as_str).collect();
    // Leadership, the late department's own director (not another department's), and the head
    // of the task's own unit (not the head of another unit).
    assert_eq!(
        to,
        BTreeSet::from([
            "giam.doc@haiphong.gov.vn",
            "giam.doc.stc@haiphong.gov.vn",
            "pho.chu.tich@haiphong.gov.vn"
        ])
    );
    assert!(
        esc.text.contains("Loại thời hạn: mục tiêu nội bộ"),
        "{}",
        esc.text
    );
    assert!(
        esc.text
            .contains("«Cổng thông tin điện tử ngành Y tế» (Sở Y tế): đã quá hạn."),
        "{}",
        esc.text
    );
    assert!(
        esc.text
            .contains("Việc cần làm: chỉ đạo, đôn đốc Sở Tài chính"),
        "{}",
        esc.text
    );
}

async fn after_downtime_each_task_gets_one_message_saying_how_late(db: TestDb) {
    let w = world(&db).await;
    let t0 = at("2026-03-02T09:00:00+07:00");
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(in_appraisal(&w, &format!("Nhiệm vụ {i}"), t0).await);
    }
    // The scheduler was down for a minute: the 50 % reminder, the due notice, several overdue
    // repeats and the escalation of every task are all past.
    let s = Scheduler::new(w.store.clone(), quiet(), None, "catch-up", t0);
    let later = t0 + TimeDelta::seconds(60);
    let report = s.tick(later).await.unwrap();
    for id in &ids {
        let deadline: Vec<_> = w
            .store
            .tasks()
            .unscoped()
            .outbox(id)
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o.template.starts_with("deadline."))
            .collect();
        let templates: Vec<&str> = deadline.iter().map(|o| o.template.as_str()).collect();
        assert_eq!(
            templates,
            vec!["deadline.overdue", "deadline.escalation"],
            "{id}"
        );
        // Reminder, due and the first overdue repeat folded into one.
        assert_eq!(deadline[0].payload["missed"], 2);
        // The next overdue repeat is planned in the future, not replayed one by one.
        let pending = w
            .store
            .tasks()
            .unscoped()
            .timers(id, "pending")
            .await
            .unwrap();
        assert_eq!(pending.len(), 1);
        assert!(pending[0].fire_at > later && pending[0].kind == "overdue");
    }
    assert_eq!(report.notifications, 10);
    // A second pass at the same moment fires nothing again.
    assert_eq!(s.tick(later).await.unwrap().timers_fired, 0);
    let smtp = SmtpServer::start();
    let r = relay(&w.store, smtp.port, RelayConfig::default());
    r.run_once(later).await.unwrap();
    let overdue: Vec<_> = smtp
        .mails()
        .into_iter()
        .filter(|m| m.subject.starts_with("[tiendo] Quá hạn"))
        .collect();
    assert_eq!(overdue.len(), 5);
    assert!(
        overdue[0].text.contains("Gộp 2 lời nhắc"),
        "{}",
        overdue[0].text
    );
}

async fn smtp_down_then_back_delivers_every_message_once(db: TestDb) {
    let w = world(&db).await;
    let t0 = at("2026-03-02T09:00:00+07:00");
    for i in 0..4 {
        in_appraisal(&w, &format!("Nhiệm vụ {i}"), t0).await;
    }
    // Per task: the unit's turn on creation, the appraiser's turn and the unit's progress note.
    let queued = w
        .store
        .scheduling()
        .outbox(Some("pending"), 1000)
        .await
        .unwrap()
        .len();
    assert_eq!(queued, 12);
    let port = free_port();
    let cfg = RelayConfig {
        retry_base: Duration::from_secs(30),
        ..RelayConfig::default()
    };
    let r = relay(&w.store, port, cfg);
    // SMTP is down: every attempt fails and is scheduled again.
    let report = r.run_once(t0).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 12));
    let failed = w
        .store
        .scheduling()
        .outbox(Some("pending"), 1000)
        .await
        .unwrap();
    assert!(
        failed
            .iter()
            .all(|o| o.attempts == 1 && o.last_error.is_some() && o.next_attempt_at > t0)
    );
    // Before the back-off has passed nothing is tried.
    assert_eq!(
        r.run_once(t0 + TimeDelta::seconds(10))
            .await
            .unwrap()
            .failed,
        0
    );
    // SMTP comes back.
    let smtp = SmtpServer::start_on(port);
    let report = r.run_once(t0 + TimeDelta::seconds(31)).await.unwrap();
    assert_eq!(report.sent, 12);
    assert_eq!(
        r.run_once(t0 + TimeDelta::seconds(600)).await.unwrap().sent,
        0
    );
    let mails = smtp.wait_for(12, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 12);
    let ids: BTreeSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 12, "no message twice");
    let sent = w
        .store
        .scheduling()
        .outbox(Some("sent"), 1000)
        .await
        .unwrap();
    assert_eq!(sent.len(), 12);
    assert!(
        sent.iter()
            .all(|o| o.attempts == 1 && o.message_id.is_some())
    );
}

async fn a_message_that_keeps_failing_is_dead_until_retried(db: TestDb) {
    let w = world(&db).await;
    let t0 = at("2026-03-02T09:00:00+07:00");
    in_appraisal(&w, "Nhiệm vụ", t0).await;
    let port = free_port();
    let r = relay(
        &w.store,
        port,
        RelayConfig {
            max_attempts: 2,
            retry_base: Duration::from_secs(1),
            ..RelayConfig::default()
        },
    );
    r.run_once(t0).await.unwrap();
    let report = r.run_once(t0 + TimeDelta::seconds(5)).await.unwrap();
    assert_eq!(report.dead, 3);
    let dead = w.store.scheduling().outbox(Some("dead"), 10).await.unwrap();
    assert_eq!(dead.len(), 3);
    assert!(dead.iter().all(|o| o.attempts == 2));
    assert!(r.run_once(t0 + TimeDelta::hours(5)).await.unwrap() == Default::default());
    let smtp = SmtpServer::start_on(port);
    assert_eq!(
        w.store
            .scheduling()
            .retry_outbox(Some(&dead[0].id), t0 + TimeDelta::hours(5))
            .await
            .unwrap(),
        1
    );
    assert_eq!(r.run_once(t0 + TimeDelta::hours(5)).await.unwrap().sent, 1);
    assert_eq!(
        w.store
            .scheduling()
            .retry_outbox(None, t0 + TimeDelta::hours(5))
            .await
            .unwrap(),
        2
    );
    assert_eq!(r.run_once(t0 + TimeDelta::hours(5)).await.unwrap().sent, 2);
    assert_eq!(smtp.wait_for(3, Duration::from_secs(5)).await.len(), 3);
}

async fn stalled_tasks_are_escalated_once_per_stall(db: TestDb) {
    let w = world(&db).await;
    let t0 = at("2026-03-02T09:00:00+07:00");
    let id = w
        .store
        .tasks()
        .create_as(&w.officer, &task("mua-sam", "Nhiệm vụ chậm"), None, t0)
        .await
        .unwrap()
        .task_id;
    let s = Scheduler::new(w.store.clone(), quiet(), None, "stall", t0);
    // 9 working days later: not yet stalled.
    assert_eq!(
        s.tick(at("2026-03-13T10:00:00+07:00"))
            .await
            .unwrap()
            .stalled,
        0
    );
    let s = Scheduler::new(w.store.clone(), quiet(), None, "stall", t0);
    let report = s.tick(at("2026-03-16T10:00:00+07:00")).await.unwrap();
    assert_eq!(report.stalled, 1);
    let stalled: Vec<_> = w
        .store
        .tasks()
        .unscoped()
        .outbox(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.template == "task.stalled")
        .collect();
    assert_eq!(stalled.len(), 1);
    assert_eq!(stalled[0].payload["idle_working_days"], 10);
    assert_eq!(
        stalled[0].payload["roles"],
        serde_json::json!(["ubnd", "thu_truong_don_vi"])
    );
    let s = Scheduler::new(w.store.clone(), quiet(), None, "stall", t0);
    assert_eq!(
        s.tick(at("2026-03-20T10:00:00+07:00"))
            .await
            .unwrap()
            .stalled,
        0,
        "once per stall"
    );
    // The task moves, then stalls again: a new alert.
    w.store
        .tasks()
        .transition_as(
            &w.officer,
            &req(&id, "bat_dau_lap_thuyet_minh"),
            at("2026-03-20T11:00:00+07:00"),
        )
        .await
        .unwrap();
    let s = Scheduler::new(w.store.clone(), quiet(), None, "stall", t0);
    assert_eq!(
        s.tick(at("2026-04-06T10:00:00+07:00"))
            .await
            .unwrap()
            .stalled,
        1
    );
    let smtp = SmtpServer::start();
    relay(&w.store, smtp.port, RelayConfig::default())
        .run_once(at("2026-04-06T10:00:00+07:00"))
        .await
        .unwrap();
    let mail = smtp
        .mails()
        .into_iter()
        .find(|m| m.subject.starts_with("[tiendo] Nhiệm vụ chậm"))
        .expect("stall mail");
    let to: BTreeSet<&str> = mail.to.iter().map(String::as_str).collect();
    assert_eq!(
        to,
        BTreeSet::from(["giam.doc@haiphong.gov.vn", "pho.chu.tich@haiphong.gov.vn"])
    );
}

async fn digests_are_queued_once_per_slot_and_skip_days_off(db: TestDb) {
    let w = world(&db).await;
    let t0 = at("2026-03-02T09:00:00+07:00");
    w.store
        .tasks()
        .create_as(&w.officer, &task("mua-sam", "Nhiệm vụ A"), None, t0)
        .await
        .unwrap();
    w.store
        .tasks()
        .create_as(&w.officer, &task("mua-sam", "Nhiệm vụ B"), None, t0)
        .await
        .unwrap();
    let cfg = SchedulerConfig {
        unit_digest: Some("0 0 7 * * *".parse().unwrap()),
        ubnd_digest: Some("0 0 8 * * Mon".parse().unwrap()),
        ..quiet()
    };
    // Two instances both wake after the 07:00 slot of Tuesday 03/03.
    let since = at("2026-03-03T06:00:00+07:00");
    let a = Scheduler::new(w.store.clone(), cfg.clone(), None, "a", since);
    let b = Scheduler::new(w.store.clone(), cfg.clone(), None, "b", since);
    let (ra, rb) = tokio::join!(
        a.tick(at("2026-03-03T07:00:30+07:00")),
        b.tick(at("2026-03-03T07:00:30+07:00"))
    );
    assert_eq!(ra.unwrap().digests + rb.unwrap().digests, 1);
    let digests = w.store.scheduling().outbox(None, 100).await.unwrap();
    let unit: Vec<_> = digests
        .iter()
        .filter(|o| o.template == "digest.unit")
        .collect();
    assert_eq!(unit.len(), 1);
    // Sunday 08/03 is a day off: its slot is skipped.
    let sunday = Scheduler::new(
        w.store.clone(),
        cfg.clone(),
        None,
        "a",
        at("2026-03-08T06:00:00+07:00"),
    );
    assert_eq!(
        sunday
            .tick(at("2026-03-08T07:00:30+07:00"))
            .await
            .unwrap()
            .digests,
        0
    );
    // Monday 16/03: both tasks have stalled for 10 working days; UBND's weekly list has them.
    let monday = Scheduler::new(
        w.store.clone(),
        cfg,
        None,
        "a",
        at("2026-03-16T07:30:00+07:00"),
    );
    assert_eq!(
        monday
            .tick(at("2026-03-16T08:00:30+07:00"))
            .await
            .unwrap()
            .digests,
        1
    );
    let smtp = SmtpServer::start();
    relay(&w.store, smtp.port, RelayConfig::default())
        .run_once(at("2026-03-16T08:01:00+07:00"))
        .await
        .unwrap();
    let mails = smtp.mails();
    let weekly = mails
        .iter()
        .find(|m| m.subject.contains("Tổng hợp tuần 16/03/2026"))
        .expect("weekly digest");
    assert_eq!(weekly.to, vec!["pho.chu.tich@haiphong.gov.vn"]);
    assert!(
        weekly.text.contains("Sở Y tế (2 nhiệm vụ)") && weekly.text.contains("Nhiệm vụ A"),
        "{}",
        weekly.text
    );
    let daily = mails
        .iter()
        .find(|m| {
            m.subject
                .contains("nhiệm vụ cần xử lý — Sở Y tế — 03/03/2026")
        })
        .expect("unit digest");
    assert!(daily.to.contains(&"can.bo@haiphong.gov.vn".to_string()));
}

async fn an_automatic_transition_on_expiry_goes_through_decide(db: TestDb) {
    let w = world(&db).await;
    let t0 = at("2026-03-02T09:00:00+07:00");
    let id = w
        .store
        .tasks()
        .create_as(
            &w.officer,
            &task("thu-nghiem-nhac-han", "Chờ ý kiến"),
            None,
            t0,
        )
        .await
        .unwrap()
        .task_id;
    w.store
        .tasks()
        .transition_as(&w.officer, &req(&id, "gui_y_kien"), t0)
        .await
        .unwrap();
    let s = Scheduler::new(w.store.clone(), quiet(), None, "expiry", t0);
    assert_eq!(
        s.tick(t0 + TimeDelta::seconds(1))
            .await
            .unwrap()
            .automatic_transitions,
        0
    );
    let report = s.tick(t0 + TimeDelta::seconds(3)).await.unwrap();
    assert_eq!(report.automatic_transitions, 1);
    let t = w.store.tasks().unscoped().get(&id).await.unwrap();
    assert_eq!(
        (t.state.as_str(), t.phase),
        ("rut", engine::Phase::Withdrawn)
    );
    let last = w.store.audit().history(&id).await.unwrap().pop().unwrap();
    assert_eq!(
        (
            last.transition.as_str(),
            last.actor_user.as_str(),
            last.actor_role
        ),
        ("tu_dong_rut", "system", None)
    );
    assert!(w.store.audit().verify().await.unwrap().broken.is_none());
    assert_eq!(
        s.tick(t0 + TimeDelta::seconds(10))
            .await
            .unwrap()
            .automatic_transitions,
        0
    );
    let _ = &w.ubnd;
}

async fn on_sqlite_one_scheduler_runs_at_a_time(db: TestDb) {
    let w = world(&db).await;
    let t0 = at("2026-03-02T09:00:00+07:00");
    let a = Scheduler::new(w.store.clone(), quiet(), None, "a", t0);
    let b = Scheduler::new(w.store.clone(), quiet(), None, "b", t0);
    assert!(a.tick(t0).await.unwrap().leader);
    let second = b.tick(t0).await.unwrap().leader;
    if db.backend == "sqlite" {
        assert!(!second, "the lease keeps a second SQLite scheduler idle");
        // When the first stops renewing, the second takes over.
        assert!(b.tick(t0 + TimeDelta::seconds(60)).await.unwrap().leader);
    } else {
        assert!(second, "PostgreSQL instances work side by side");
    }
}

async fn two_schedulers_fire_every_timer_exactly_once(db: TestDb) {
    let w = world(&db).await;
    let t0 = at("2026-03-02T09:00:00+07:00");
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(in_appraisal(&w, &format!("Nhiệm vụ {i}"), t0).await);
    }
    let due: i64 = w.store.count("timers").await.unwrap();
    let cfg = SchedulerConfig {
        batch: 25,
        ..quiet()
    };
    // Two instances on separate pools, as two processes would be.
    let other = db.store_with(&[FIXTURE]).await;
    let now = t0 + TimeDelta::seconds(60);
    // The property is "every due timer fires exactly once, whichever instance claims it", and
    // the race is only worth testing if both instances really claim. Two whole ticks racing
    // cannot promise that: under load one tick may drain all 200 tasks before the other starts
    // (the old "both instances worked" assertion then failed). So the instances first claim
    // one batch each, at the same time: a batch is at most 25 of the 200 due tasks, so however
    // the two interleave (side by side with SKIP LOCKED, or one after the other) each finds
    // work, and both claiming is certain. Then two whole ticks race over the remaining 150
    // tasks, and the totals and the per-task messages below check that no timer fired twice
    // or not at all across the four claimers.
    let (sa, sb) = (w.store.scheduling(), other.scheduling());
    let (fa, fb) = tokio::join!(
        sa.fire_due_timers("instance-a", now, cfg.batch, cfg.lease),
        sb.fire_due_timers("instance-b", now, cfg.batch, cfg.lease),
    );
    let (fa, fb) = (fa.unwrap(), fb.unwrap());
    assert!(
        fa.fired > 0 && fb.fired > 0,
        "both instances claimed: {fa:?} {fb:?}"
    );
    assert!(fa.expiries.is_empty() && fb.expiries.is_empty());
    let a = Scheduler::new(w.store.clone(), cfg.clone(), None, "instance-a", t0);
    let b = Scheduler::new(other, cfg, None, "instance-b", t0);
    let (ra, rb) = tokio::join!(a.tick(now), b.tick(now));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    // Every due timer fired exactly once: 4 per task (reminder, due, overdue, escalation).
    assert_eq!(
        (fa.fired + fb.fired + ra.timers_fired + rb.timers_fired) as i64,
        4 * 200,
        "{fa:?} {fb:?} {ra:?} {rb:?}"
    );
    assert_eq!(due, 4 * 200);
    let mut per_task: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for o in w.store.scheduling().outbox(None, 10_000).await.unwrap() {
        if o.template.starts_with("deadline.") {
            per_task
                .entry(o.task_id.unwrap())
                .or_default()
                .push(o.template);
        }
    }
    assert_eq!(per_task.len(), 200);
    for (task, mut templates) in per_task {
        templates.sort();
        assert_eq!(
            templates,
            vec!["deadline.escalation", "deadline.overdue"],
            "{task}"
        );
    }
}

/// Issue 13, fault 1: messages queued by two transitions and sent in one pass each name the
/// step their transition entered, and say where the task is now.
async fn two_transitions_in_one_pass_each_mail_names_its_own_step(db: TestDb) {
    let w = world(&db).await;
    let smtp = SmtpServer::start();
    let t0 = at("2026-03-02T09:00:00+07:00");
    let id = in_appraisal(&w, "Nâng cấp Cổng dịch vụ công", t0).await;
    let mut back = req(&id, "tra_lai");
    back.comment = Some("Bổ sung dự toán chi tiết".into());
    w.store
        .tasks()
        .transition_as(&w.stc, &back, t0 + TimeDelta::seconds(1))
        .await
        .unwrap();
    let s = Scheduler::new(
        w.store.clone(),
        quiet(),
        Some(relay(&w.store, smtp.port, RelayConfig::default())),
        "one-pass",
        t0,
    );
    let report = s.tick(t0 + TimeDelta::seconds(1)).await.unwrap();
    assert_eq!(report.mail.sent, 4, "{report:?}");
    let mails = smtp.mails();
    let turn_to = |who: &str| {
        mails
            .iter()
            .find(|m| {
                m.subject.starts_with("[tiendo] Đến lượt xử lý")
                    && m.to == vec![who.to_string()]
                    && m.text.contains("Sở Tài chính") == (who == "tham.dinh@haiphong.gov.vn")
            })
            .unwrap_or_else(|| {
                panic!(
                    "no turn mail to {who}: {:?}",
                    mails
                        .iter()
                        .map(|m| (&m.to, &m.subject))
                        .collect::<Vec<_>>()
                )
            })
    };
    let appraiser = turn_to("tham.dinh@haiphong.gov.vn");
    for needle in [
        "đã chuyển sang bước «Sở Tài chính thẩm định»",
        "Bước: Sở Tài chính thẩm định",
        "Việc cần làm: xử lý bước «Sở Tài chính thẩm định»",
        "hiện đã chuyển sang bước «Đơn vị bổ sung hồ sơ»",
    ] {
        assert!(
            appraiser.text.contains(needle),
            "missing {needle} in:\n{}",
            appraiser.text
        );
    }
    // The unit's own turn (back for more documents) is where the task is: no note.
    let unit_turns: Vec<&common::smtp::Mail> = mails
        .iter()
        .filter(|m| {
            m.subject.starts_with("[tiendo] Đến lượt xử lý")
                && m.to == vec!["can.bo@haiphong.gov.vn".to_string()]
        })
        .collect();
    assert_eq!(unit_turns.len(), 2, "creation and return");
    let returned = unit_turns
        .iter()
        .find(|m| !m.text.contains("«Đơn vị đề xuất»"))
        .expect("the return's mail");
    assert!(
        returned
            .text
            .contains("Bước hiện tại: Đơn vị bổ sung hồ sơ"),
        "{}",
        returned.text
    );
    assert!(
        !returned.text.contains("hiện đã chuyển sang"),
        "{}",
        returned.text
    );
    assert!(returned.text.contains("Bổ sung dự toán chi tiết"));
    let created = unit_turns
        .iter()
        .find(|m| m.text.contains("đã chuyển sang bước «Đơn vị đề xuất»"))
        .expect("the creation's mail names its own step");
    assert!(
        created
            .text
            .contains("hiện đã chuyển sang bước «Đơn vị bổ sung hồ sơ»")
    );
    // No mail tells the unit it is their turn at a step that is not theirs.
    for m in &mails {
        assert!(
            !(m.to == vec!["can.bo@haiphong.gov.vn".to_string()]
                && m.subject.starts_with("[tiendo] Đến lượt")
                && m.text.contains("«Sở Tài chính thẩm định»")),
            "{}",
            m.text
        );
    }
}

/// Issue 13, fault 2: after scheduler downtime, tasks whose step expired are moved by their
/// automatic transition, and the escalation that transition would have cancelled is not sent;
/// the deadline mail names the expired step, not the one the task moved to.
async fn after_downtime_an_automatic_move_cancels_the_escalation_meant_for_later(db: TestDb) {
    let w = world(&db).await;
    let smtp = SmtpServer::start();
    let t0 = at("2026-03-02T09:00:00+07:00");
    const N: usize = 12;
    let mut ids = Vec::new();
    for i in 0..N {
        let id = w
            .store
            .tasks()
            .create_as(
                &w.officer,
                &task("thu-nghiem-nhac-han", &format!("Ý kiến gấp {i}")),
                None,
                t0,
            )
            .await
            .unwrap()
            .task_id;
        w.store
            .tasks()
            .transition_as(&w.officer, &req(&id, "xin_y_kien_gap"), t0)
            .await
            .unwrap();
        ids.push(id);
    }
    // The scheduler was down for a minute: the deadline (t0+2 s), the expiry (t0+2 s) and the
    // escalation (t0+4 s) are all due at once.
    let s = Scheduler::new(
        w.store.clone(),
        SchedulerConfig {
            batch: 5,
            ..quiet()
        },
        Some(relay(&w.store, smtp.port, RelayConfig::default())),
        "catch-up",
        t0,
    );
    let report = s.tick(t0 + TimeDelta::seconds(60)).await.unwrap();
    assert_eq!(report.automatic_transitions, N, "{report:?}");
    for id in &ids {
        let t = w.store.tasks().unscoped().get(id).await.unwrap();
        assert_eq!(t.state, "rut");
        let templates = outbox_templates(&w.store, id).await;
        assert_eq!(templates, vec!["deadline.due"], "{id}: no escalation");
    }
    let mails = smtp.mails();
    assert!(
        mails
            .iter()
            .all(|m| !m.to.contains(&"pho.chu.tich@haiphong.gov.vn".to_string())),
        "nothing escalated to UBND: {:?}",
        mails
            .iter()
            .map(|m| (&m.to, &m.subject))
            .collect::<Vec<_>>()
    );
    let due: Vec<&common::smtp::Mail> = mails
        .iter()
        .filter(|m| {
            m.subject.starts_with("[tiendo] Quá hạn") || m.subject.starts_with("[tiendo] Đến hạn")
        })
        .collect();
    assert_eq!(due.len(), N);
    for m in due {
        assert!(m.text.contains("Bước: Chờ ý kiến gấp"), "{}", m.text);
        assert!(
            m.text
                .contains("hiện đã chuyển sang bước «Rút khỏi kế hoạch»"),
            "{}",
            m.text
        );
    }
    // Nothing left to fire later.
    let again = s.tick(t0 + TimeDelta::seconds(600)).await.unwrap();
    assert_eq!((again.timers_fired, again.mail.sent), (0, 0), "{again:?}");
}

/// Issue 13, fault 5: a running scheduler renews its claims (a heartbeat), and a stopping one
/// gives them back at once, so another instance does not wait out a lease.
async fn a_stopping_scheduler_releases_its_claims_and_a_live_one_renews_them(db: TestDb) {
    let w = world(&db).await;
    let t0 = Utc::now();
    let id = in_appraisal(&w, "Nhiệm vụ có bản nhận", t0).await;
    // Claim the timers as an instance that then dies, and one that stops.
    let sched = w.store.scheduling();
    let later = t0 + TimeDelta::seconds(60);
    let fired = sched
        .fire_due_timers("dies", later, 10, TimeDelta::seconds(15))
        .await
        .unwrap();
    assert!(fired.claimed > 0);
    // A live instance extends what it holds; nothing of another's.
    assert_eq!(
        sched
            .renew_claims("someone-else", later + TimeDelta::seconds(15), later)
            .await
            .unwrap(),
        0
    );
    let n = sched
        .enqueue(
            Some(&id),
            "task.progress",
            &serde_json::json!({"task_id": id, "roles": []}),
            t0,
        )
        .await;
    assert!(n.is_ok());
    let jobs = sched
        .claim_outbox("stops", later, 10, TimeDelta::seconds(15))
        .await
        .unwrap();
    assert!(!jobs.is_empty());
    assert!(
        sched
            .renew_claims("stops", later + TimeDelta::seconds(30), later)
            .await
            .unwrap()
            >= 1
    );
    // Renewed: another instance a little after the first lease would have run out gets nothing.
    let other = sched
        .claim_outbox(
            "other",
            later + TimeDelta::seconds(20),
            10,
            TimeDelta::seconds(15),
        )
        .await
        .unwrap();
    assert!(other.is_empty(), "renewed claims stay with their owner");
    // Released on stop: another instance takes them at once.
    assert!(sched.release_claims("stops", later).await.unwrap() >= 1);
    let other = sched
        .claim_outbox("other", later, 10, TimeDelta::seconds(15))
        .await
        .unwrap();
    assert_eq!(other.len(), jobs.len());
}

/// The payloads of task `id`'s deadline messages (reminder and due) in the outbox.
async fn deadline_messages(store: &Store, id: &str) -> Vec<serde_json::Value> {
    store
        .tasks()
        .unscoped()
        .outbox(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.template == "deadline.reminder" || o.template == "deadline.due")
        .map(|o| o.payload)
        .collect()
}

/// Issue 13, fault 5: sending and firing run independently. A relay that takes 1.5 s to accept
/// each message holds a backlog for several seconds; the reminder and the due notice that fall
/// due meanwhile are fired on time (within a second, the poll being 200 ms), not after the
/// backlog. And each message's `sent_at` is not earlier than the instant the SMTP server
/// accepted it (its answer to the data), not the start of the sending pass.
async fn a_slow_smtp_server_delays_no_timer_and_sent_at_is_its_acceptance(db: TestDb) {
    let w = world(&db).await;
    let smtp = SmtpServer::start_slow(Duration::from_millis(1500));
    let start = Utc::now();
    let id = in_appraisal(&w, "Nhiệm vụ gửi thư chậm", start).await;
    // A backlog besides the three messages of creation and transition: six messages, nine
    // seconds of sending in all, well past the reminder (2 s) and the due notice (4 s).
    for _ in 0..3 {
        w.store
            .scheduling()
            .enqueue(
                Some(&id),
                "task.progress",
                &serde_json::json!({"task_id": id, "roles": ["don_vi"]}),
                start,
            )
            .await
            .unwrap();
    }
    let running = Running::start(&w, smtp.port, "slow-relay-test", start);
    // The backlog, the reminder and the due notice.
    let mails = smtp.wait_for(8, Duration::from_secs(40)).await;
    running.stop().await;
    assert!(mails.len() >= 8, "{} messages arrived", mails.len());

    // Both deadline messages were fired on time, each for one timer, while the relay was busy.
    let deadline = deadline_messages(&w.store, &id).await;
    assert_eq!(deadline.len(), 2, "{deadline:?}");
    let instant = |v: &serde_json::Value, key: &str| -> Instant {
        serde_json::from_value(v[key].clone()).unwrap_or_else(|e| panic!("{key} in {v}: {e}"))
    };
    let backlog_sent = mails
        .iter()
        .filter(|m| m.subject.starts_with("[tiendo] Nhiệm vụ chuyển bước"))
        .map(|m| m.accepted_at)
        .max()
        .expect("the backlog arrived");
    for p in &deadline {
        let (due, fired) = (instant(p, "fire_at"), instant(p, "fired_at"));
        let late = fired - due;
        assert!(
            late >= TimeDelta::zero() && late < TimeDelta::seconds(1),
            "fired {late} after it fell due: {p}"
        );
        // Fired while a message was still on its way to the relay.
        assert!(
            mails
                .iter()
                .any(|m| m.data_at <= fired && fired <= m.accepted_at),
            "fired at {fired}, outside every send"
        );
        assert!(fired < backlog_sent, "fired at {fired}, after the backlog");
    }

    // sent_at: when the relay accepted the message (stored to the microsecond).
    let rows = w.store.scheduling().outbox(None, 100).await.unwrap();
    let mut checked = 0;
    for m in &mails {
        let row = rows
            .iter()
            .find(|r| r.message_id.as_deref() == Some(m.message_id.as_str()))
            .unwrap_or_else(|| panic!("no outbox row for {}", m.message_id));
        let sent_at = row.sent_at.expect("sent_at of a sent message");
        let accepted = m
            .accepted_at
            .duration_trunc(TimeDelta::microseconds(1))
            .unwrap();
        assert!(
            sent_at >= accepted,
            "{}: sent_at {sent_at} before the relay accepted it at {accepted}",
            row.template
        );
        assert!(
            sent_at - accepted < TimeDelta::seconds(1),
            "{}: sent_at {sent_at}, accepted at {accepted}",
            row.template
        );
        checked += 1;
    }
    assert_eq!(checked, mails.len());
}

/// Issue 18: the scheduler sleeps until the earliest pending timer, not only for its poll. With
/// a one-minute poll, a scheduler already asleep when the task enters its 4-second appraisal
/// (reminder at 2 s, due notice at 4 s) queues both within about a second of falling due, not
/// at the next poll. Bounds are loose (a loaded machine): well under the poll is the point.
async fn a_timer_due_sooner_than_the_poll_fires_when_it_falls_due(db: TestDb) {
    let w = world(&db).await;
    let cfg = SchedulerConfig {
        poll: Duration::from_secs(60),
        ..quiet()
    };
    let scheduler = Scheduler::new(w.store.clone(), cfg, None, "wake-test", Utc::now());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(scheduler.run(async {
        let _ = stopped.await;
    }));
    // The first pass finds nothing due; the scheduler is asleep when the timers are created.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = in_appraisal(&w, "Nhiệm vụ hạn ngắn", Utc::now()).await;
    let mut fired = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < until {
        fired = deadline_messages(&w.store, &id).await;
        if fired.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    handle.await.unwrap();
    assert_eq!(fired.len(), 2, "reminder and due notice queued: {fired:?}");
    for p in &fired {
        let due: Instant = serde_json::from_value(p["fire_at"].clone()).unwrap();
        let at: Instant = serde_json::from_value(p["fired_at"].clone()).unwrap();
        let late = at - due;
        assert!(
            late >= TimeDelta::zero() && late < TimeDelta::seconds(5),
            "fired {late} after it fell due (poll 60 s): {p}"
        );
    }
}
