//! Reporting rounds (issue 16) in the store, on SQLite and on PostgreSQL by the same test code:
//! SKHCN opens a round, units enter per task and their head submits, SKHCN reopens, drafts and
//! signs; entries are audited in the tasks' chains and kept per round; the report's door returns
//! the submitted units' entries.

mod common;

use adapters::store::{EntryRecord, NewEntry, RoundRecord, Store, StoreError, Submission};
use chrono::NaiveDate;
use common::TestDb;
use engine::Role;
use engine::decide::Actor;
use engine::round::{Difficulty, DifficultyKind, DraftSection, Proposal, RoundSpec, Signer};
use engine::time::{Instant, parse_instant};

use adapters::email::RelayConfig;
use adapters::scheduler::{Scheduler, SchedulerConfig};
use common::smtp::SmtpServer;

on_both_backends!(
    a_round_is_opened_by_skhcn_only_once_per_number,
    units_enter_their_own_tasks_until_the_head_submits,
    skhcn_reopens_a_submission_and_every_step_is_audited,
    the_report_door_has_submitted_entries_drafts_signer_and_exports,
    round_two_is_compared_with_round_one,
    late_units_are_reminded_by_email_then_escalated_to_skhcn,
);

fn t0() -> Instant {
    parse_instant("2025-10-21T09:00:00+07:00").unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const PLAN: &str = "215/KH-UBND";

struct World {
    store: Store,
    officer: Actor,
    head: Actor,
    other_head: Actor,
    skhcn: Actor,
    ubnd: Actor,
    yte_task: String,
    yte_task2: String,
    gd_task: String,
}

async fn world(db: &TestDb) -> World {
    let store = db.store().await;
    let now = t0();
    common::seed_directory(
        &store,
        &[
            ("so-y-te", "Sở Y tế"),
            ("so-giao-duc", "Sở Giáo dục và Đào tạo"),
            ("so-khoa-hoc-va-cong-nghe", "Sở Khoa học và Công nghệ"),
        ],
        &[
            ("can.bo", "", Role::DonVi, Some("so-y-te")),
            ("giam.doc", "", Role::ThuTruongDonVi, Some("so-y-te")),
            (
                "giam.doc.sgd",
                "",
                Role::ThuTruongDonVi,
                Some("so-giao-duc"),
            ),
            (
                "chuyen.vien.khcn",
                "",
                Role::Skhcn,
                Some("so-khoa-hoc-va-cong-nghe"),
            ),
            ("pho.chu.tich", "", Role::Ubnd, None),
        ],
        (PLAN, 2025, "Kế hoạch ứng dụng công nghệ thông tin năm 2025"),
        now,
    )
    .await;
    let actor = |u: &'static str| {
        let store = store.clone();
        async move { store.directory().actor(u).await.unwrap() }
    };
    let officer = actor("can.bo").await;
    let other_head = actor("giam.doc.sgd").await;
    let skhcn = actor("chuyen.vien.khcn").await;
    let create = |who: Actor, unit: &'static str, name: &'static str| {
        let store = store.clone();
        async move {
            store
                .tasks()
                .create_as(
                    &who,
                    &common::new_task(PLAN, unit, name, "mua-sam"),
                    None,
                    t0(),
                )
                .await
                .unwrap()
                .task_id
        }
    };
    World {
        yte_task: create(officer.clone(), "so-y-te", "Bệnh án điện tử").await,
        yte_task2: create(officer.clone(), "so-y-te", "Hệ thống xếp hàng tự động").await,
        gd_task: create(skhcn.clone(), "so-giao-duc", "Sổ điểm điện tử").await,
        officer,
        other_head,
        head: actor("giam.doc").await,
        skhcn,
        ubnd: actor("pho.chu.tich").await,
        store,
    }
}

impl World {
    /// SKHCN opens round `number` of the plan.
    async fn open(&self, number: u32) -> RoundRecord {
        self.store
            .rounds()
            .open_as(&self.skhcn, PLAN, &spec(number), t0())
            .await
            .unwrap()
    }

    /// `who` enters `progress` (with the [`entry`] difficulty and proposal) for `task` in round
    /// `number`.
    async fn enter(&self, who: &Actor, number: u32, task: &str, progress: &str) -> EntryRecord {
        self.store
            .rounds()
            .save_entry_as(who, PLAN, number, &entry(task, progress), t0())
            .await
            .unwrap()
    }

    /// `who` submits `unit`'s entries of round `number`.
    async fn submit(&self, who: &Actor, number: u32, unit: &str) -> Submission {
        self.store
            .rounds()
            .submit_as(who, PLAN, number, unit, t0())
            .await
            .unwrap()
    }
}

fn spec(number: u32) -> RoundSpec {
    RoundSpec {
        number,
        cut_off: d("2025-11-05"),
        instruction: "Thông báo số 620/TB-VP ngày 20/10/2025 của Văn phòng UBND thành phố".into(),
        units_due: d("2025-11-03"),
    }
}

fn entry(task: &str, progress: &str) -> NewEntry {
    NewEntry {
        task_id: task.into(),
        progress: progress.into(),
        difficulties: vec![Difficulty {
            kind: DifficultyKind::KinhPhi,
            text: "Chưa được bố trí vốn năm 2025".into(),
        }],
        proposals: vec![Proposal {
            text: "Đề nghị tạm hoãn sang năm 2026".into(),
            letter: Some("Công văn số 123/SYT-KHTC ngày 01/11/2025".into()),
        }],
    }
}

fn invalid(r: Result<impl std::fmt::Debug, StoreError>) -> String {
    match r {
        Err(StoreError::Invalid(m)) => m,
        other => panic!("expected a refusal the user can correct, got {other:?}"),
    }
}

fn forbidden(r: Result<impl std::fmt::Debug, StoreError>) -> String {
    match r {
        Err(StoreError::Forbidden(d)) => d.message,
        other => panic!("expected a refusal by the access rules, got {other:?}"),
    }
}

async fn a_round_is_opened_by_skhcn_only_once_per_number(db: TestDb) {
    let w = world(&db).await;
    let rounds = w.store.rounds();
    for who in [&w.officer, &w.head, &w.ubnd] {
        let m = forbidden(rounds.open_as(who, PLAN, &spec(1), t0()).await);
        assert!(m.contains("Sở Khoa học và Công nghệ"), "{m}");
    }
    let r = w.open(1).await;
    assert_eq!(r.spec, spec(1));
    assert_eq!(r.plan_number, PLAN);
    assert_eq!(r.opened_by, "chuyen.vien.khcn");
    match rounds.open_as(&w.skhcn, PLAN, &spec(1), t0()).await {
        Err(StoreError::Duplicate(m)) => assert!(m.contains("lần 1"), "{m}"),
        other => panic!("a second round 1 is a duplicate: {other:?}"),
    }
    let mut bad = spec(2);
    bad.instruction = "   ".into();
    invalid(rounds.open_as(&w.skhcn, PLAN, &bad, t0()).await);
    bad = spec(0);
    let m = invalid(rounds.open_as(&w.skhcn, PLAN, &bad, t0()).await);
    assert!(m.contains("từ 1"), "{m}");
    w.open(2).await;
    let list = rounds.list_as(&w.officer, PLAN).await.unwrap();
    assert_eq!(
        list.iter().map(|r| r.spec.number).collect::<Vec<_>>(),
        [1, 2]
    );
    let events = rounds.events(&r.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "open");
    // round_events is append-only.
    let err = db
        .try_exec("UPDATE round_events SET actor_user = 'khac'")
        .await
        .unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    let err = db.try_exec("DELETE FROM round_events").await.unwrap_err();
    assert!(err.contains("append-only"), "{err}");
}

async fn units_enter_their_own_tasks_until_the_head_submits(db: TestDb) {
    let w = world(&db).await;
    let rounds = w.store.rounds();
    w.open(1).await;

    // Only the task's own unit enters; SKHCN and other units are refused.
    let m = forbidden(
        rounds
            .save_entry_as(&w.skhcn, PLAN, 1, &entry(&w.yte_task, "x"), t0())
            .await,
    );
    assert!(m.contains("đơn vị chủ trì"), "{m}");
    match rounds
        .save_entry_as(&w.other_head, PLAN, 1, &entry(&w.yte_task, "x"), t0())
        .await
    {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("another unit's task is not found: {other:?}"),
    }
    // Blank items are refused, with a Vietnamese message.
    let mut blank = entry(&w.yte_task, "Đang lập hồ sơ");
    blank.difficulties[0].text = "  ".into();
    let m = invalid(
        rounds
            .save_entry_as(&w.officer, PLAN, 1, &blank, t0())
            .await,
    );
    assert!(m.contains("khó khăn"), "{m}");

    let e = w.enter(&w.officer, 1, &w.yte_task, "Đang lập hồ sơ").await;
    assert_eq!(e.unit_id, "so-y-te");
    assert_eq!(e.task_name, "Bệnh án điện tử");
    // Edited before submission: the last text wins.
    w.enter(&w.officer, 1, &w.yte_task, "Đã trình thẩm định")
        .await;

    // The unit's users see their own unit only; SKHCN sees every unit.
    let today = d("2025-11-04");
    let mine = rounds
        .show_as(&w.officer, PLAN, 1, None, today)
        .await
        .unwrap();
    assert_eq!(mine.units.len(), 1);
    assert_eq!(mine.tasks.len(), 2);
    assert_eq!(mine.entries.len(), 1);
    assert_eq!(mine.entries[0].progress, "Đã trình thẩm định");
    assert!(mine.drafts.is_empty() && mine.events.is_empty());
    let all = rounds
        .show_as(&w.skhcn, PLAN, 1, None, today)
        .await
        .unwrap();
    let yte = all.unit("so-y-te").unwrap();
    assert_eq!((yte.tasks, yte.entered, yte.late), (2, 1, true));
    assert!(all.unit("so-giao-duc").unwrap().submitted.is_none());

    // Only the head submits, only for their unit.
    let m = forbidden(rounds.submit_as(&w.officer, PLAN, 1, "so-y-te", t0()).await);
    assert!(m.contains("thủ trưởng"), "{m}");
    forbidden(
        rounds
            .submit_as(&w.other_head, PLAN, 1, "so-y-te", t0())
            .await,
    );
    // A unit with no entry has nothing to submit.
    let m = invalid(
        rounds
            .submit_as(&w.other_head, PLAN, 1, "so-giao-duc", t0())
            .await,
    );
    assert!(m.contains("chưa nhập"), "{m}");
    let s = w.submit(&w.head, 1, "so-y-te").await;
    assert_eq!(s.submitted_by, "giam.doc");
    let m = invalid(rounds.submit_as(&w.head, PLAN, 1, "so-y-te", t0()).await);
    assert!(m.contains("đã gửi"), "{m}");

    // After submission the unit's entries are read-only for the unit, every task of it.
    for task in [&w.yte_task, &w.yte_task2] {
        let m = invalid(
            rounds
                .save_entry_as(&w.officer, PLAN, 1, &entry(task, "sửa muộn"), t0())
                .await,
        );
        assert!(m.contains("đã gửi"), "{m}");
    }
    let v = rounds
        .show_as(&w.skhcn, PLAN, 1, None, today)
        .await
        .unwrap();
    assert_eq!(v.entries[0].progress, "Đã trình thẩm định");
    let yte = v.unit("so-y-te").unwrap();
    assert!(yte.submitted.is_some() && !yte.late);
    // Another unit still enters its own.
    w.enter(&w.other_head, 1, &w.gd_task, "Đang triển khai")
        .await;
}

async fn skhcn_reopens_a_submission_and_every_step_is_audited(db: TestDb) {
    let w = world(&db).await;
    let rounds = w.store.rounds();
    let r = w.open(1).await;
    w.enter(&w.officer, 1, &w.yte_task, "Đang lập hồ sơ").await;
    let m = invalid(
        rounds
            .reopen_as(&w.skhcn, PLAN, 1, "so-y-te", None, t0())
            .await,
    );
    assert!(m.contains("chưa gửi"), "{m}");
    w.submit(&w.head, 1, "so-y-te").await;
    forbidden(
        rounds
            .reopen_as(&w.head, PLAN, 1, "so-y-te", None, t0())
            .await,
    );
    rounds
        .reopen_as(
            &w.skhcn,
            PLAN,
            1,
            "so-y-te",
            Some("Bổ sung số liệu giải ngân"),
            t0(),
        )
        .await
        .unwrap();
    w.enter(&w.officer, 1, &w.yte_task, "Đã giải ngân 40%")
        .await;
    w.submit(&w.head, 1, "so-y-te").await;

    // The task's chain holds every entry, submission and reopening, texts and all.
    let history = w.store.audit().history(&w.yte_task).await.unwrap();
    let round: Vec<_> = history.iter().filter(|a| a.kind == "round").collect();
    let steps: Vec<_> = round.iter().map(|a| a.transition.as_str()).collect();
    assert_eq!(
        steps,
        [
            "round_entry",
            "round_submit",
            "round_reopen",
            "round_entry",
            "round_submit"
        ]
    );
    let first = round[0].comment.as_deref().unwrap();
    assert!(
        first.contains("lần 1")
            && first.contains("Đang lập hồ sơ")
            && first.contains("Chưa được bố trí vốn")
            && first.contains("123/SYT-KHTC"),
        "{first}"
    );
    assert_eq!(round[0].actor_role.as_deref(), Some("don_vi"));
    assert_eq!(round[1].actor_role.as_deref(), Some("thu_truong_don_vi"));
    assert!(
        round[2]
            .comment
            .as_deref()
            .unwrap()
            .contains("Bổ sung số liệu giải ngân")
    );
    assert!(w.store.audit().verify().await.unwrap().broken.is_none());
    let kinds: Vec<_> = rounds
        .events(&r.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["open", "submit", "reopen", "submit"]);
}

async fn the_report_door_has_submitted_entries_drafts_signer_and_exports(db: TestDb) {
    let w = world(&db).await;
    let rounds = w.store.rounds();
    let r = w.open(2).await;
    w.enter(&w.officer, 2, &w.yte_task, "Đang lập hồ sơ").await;
    w.enter(&w.other_head, 2, &w.gd_task, "Chưa triển khai")
        .await;
    w.submit(&w.head, 2, "so-y-te").await;
    forbidden(
        rounds
            .set_draft_as(&w.officer, PLAN, 2, DraftSection::KhoKhan, Some("x"), t0())
            .await,
    );
    rounds
        .set_draft_as(
            &w.skhcn,
            PLAN,
            2,
            DraftSection::KhoKhan,
            Some("Các đơn vị gặp khó khăn về vốn."),
            t0(),
        )
        .await
        .unwrap();
    rounds
        .set_draft_as(&w.skhcn, PLAN, 2, DraftSection::DeXuat, Some("tạm"), t0())
        .await
        .unwrap();
    rounds
        .set_draft_as(&w.skhcn, PLAN, 2, DraftSection::DeXuat, None, t0())
        .await
        .unwrap();
    let signer = Signer {
        on_behalf: "KT. GIÁM ĐỐC".into(),
        title: "PHÓ GIÁM ĐỐC".into(),
        name: "Nguyễn Văn An".into(),
    };
    forbidden(
        rounds
            .sign_as(&w.ubnd, PLAN, 2, Some("1"), None, t0())
            .await,
    );
    rounds
        .sign_as(&w.skhcn, PLAN, 2, None, Some(&signer), t0())
        .await
        .unwrap();
    let signed = rounds
        .sign_as(&w.skhcn, PLAN, 2, Some("456/BC-SKHCN"), None, t0())
        .await
        .unwrap();
    assert_eq!(signed.doc_number.as_deref(), Some("456/BC-SKHCN"));
    assert_eq!(signed.signer.as_ref(), Some(&signer), "the signer stays");

    let report = rounds.report(PLAN, 2, None).await.unwrap();
    assert_eq!(report.spec, Some(spec(2)));
    assert_eq!(report.doc_number.as_deref(), Some("456/BC-SKHCN"));
    assert_eq!(report.signer, Some(signer));
    // Only the submitted unit's entries: Sở Giáo dục has not submitted.
    assert_eq!(report.entries.len(), 1);
    assert_eq!(report.entries[0].unit.as_str(), "so-y-te");
    assert_eq!(report.entries[0].progress, "Đang lập hồ sơ");
    assert_eq!(report.difficulties_by_kind()[0].0, DifficultyKind::KinhPhi);
    assert_eq!(
        report
            .drafts
            .get(&DraftSection::KhoKhan)
            .map(String::as_str),
        Some("Các đơn vị gặp khó khăn về vốn.")
    );
    assert!(!report.drafts.contains_key(&DraftSection::DeXuat));
    let scoped = rounds
        .report(PLAN, 2, Some(&["so-giao-duc".to_string()]))
        .await
        .unwrap();
    assert!(scoped.entries.is_empty());
    match rounds.report(PLAN, 3, None).await {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("round 3 does not exist: {other:?}"),
    }

    let sha = adapters::store::sha256_hex(b"bao cao");
    let ev = rounds
        .record_export(&r, "chuyen.vien.khcn", "docx", &sha, t0())
        .await
        .unwrap();
    let events = rounds.events(&r.id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last, &ev);
    assert_eq!(
        (
            last.kind.as_str(),
            last.format.as_deref(),
            last.sha256.as_deref()
        ),
        ("export", Some("docx"), Some(sha.as_str()))
    );
    assert_eq!(last.actor_user, "chuyen.vien.khcn");
}

async fn round_two_is_compared_with_round_one(db: TestDb) {
    let w = world(&db).await;
    let rounds = w.store.rounds();
    w.open(1).await;
    w.open(2).await;
    w.enter(&w.officer, 1, &w.yte_task, "Lần một: lập hồ sơ")
        .await;
    w.enter(&w.officer, 2, &w.yte_task, "Lần hai: đã phê duyệt")
        .await;
    // Submitting round 1 does not close round 2.
    w.submit(&w.head, 1, "so-y-te").await;
    w.enter(&w.officer, 2, &w.yte_task2, "Lần hai: đang chạy thử")
        .await;
    let v = rounds
        .show_as(&w.officer, PLAN, 2, Some(1), d("2025-11-01"))
        .await
        .unwrap();
    assert_eq!(
        v.entry(&w.yte_task).unwrap().progress,
        "Lần hai: đã phê duyệt"
    );
    let c = v.compared.unwrap();
    assert_eq!(c.number, 1);
    assert_eq!(c.entries.len(), 1);
    assert_eq!(c.entries[0].progress, "Lần một: lập hồ sơ");
    match rounds
        .show_as(&w.officer, PLAN, 2, Some(5), d("2025-11-01"))
        .await
    {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("round 5 does not exist: {other:?}"),
    }
}

async fn late_units_are_reminded_by_email_then_escalated_to_skhcn(db: TestDb) {
    let w = world(&db).await;
    let rounds = w.store.rounds();
    // Due 03/11/2025: reminded from 31/10.
    w.open(2).await;
    w.enter(&w.officer, 2, &w.yte_task, "Đang lập hồ sơ").await;
    // Sở Giáo dục submits on time and is never reminded.
    w.enter(&w.other_head, 2, &w.gd_task, "Đang triển khai")
        .await;
    w.submit(&w.other_head, 2, "so-giao-duc").await;
    let smtp = SmtpServer::start();
    let cfg = SchedulerConfig {
        poll: std::time::Duration::from_millis(200),
        unit_digest: None,
        ubnd_digest: None,
        seal_every: None,
        stall_scan_every: chrono::TimeDelta::minutes(1),
        ..SchedulerConfig::default()
    };
    let s = Scheduler::new(
        w.store.clone(),
        cfg,
        Some(common::smtp::relay(
            &w.store,
            smtp.port,
            "rounds-test",
            RelayConfig::default(),
        )),
        "rounds",
        t0(),
    );
    let at = |s: &str| parse_instant(s).unwrap();
    // Round mails only (the tasks' own messages go out too).
    let round_mails = || {
        smtp.mails()
            .into_iter()
            .filter(|m| m.subject.contains("báo cáo đợt lần 2"))
            .collect::<Vec<_>>()
    };
    let r = s.tick(at("2025-10-27T09:00:00+07:00")).await.unwrap();
    assert_eq!(r.round_reminders, 0, "too early");
    let r = s.tick(at("2025-10-31T09:00:00+07:00")).await.unwrap();
    assert_eq!(r.round_reminders, 1);
    let mails = smtp.wait_for(1, std::time::Duration::from_secs(10)).await;
    assert!(!mails.is_empty());
    let reminders = round_mails();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    let m = &reminders[0];
    assert!(
        m.subject
            .starts_with("Nhắc gửi báo cáo đợt lần 2 kế hoạch 215/KH-UBND: hạn ngày 03/11/2025"),
        "{}",
        m.subject
    );
    let to: std::collections::BTreeSet<_> = m.to.iter().map(String::as_str).collect();
    assert_eq!(
        to,
        ["can.bo@haiphong.gov.vn", "giam.doc@haiphong.gov.vn"].into(),
        "the late unit's officer and head"
    );
    assert!(
        m.text.contains("Đã nhập: 1/2 nhiệm vụ") && m.text.contains("Sở Y tế"),
        "{}",
        m.text
    );
    // The same stage is not sent twice.
    let r = s.tick(at("2025-10-31T10:00:00+07:00")).await.unwrap();
    assert_eq!(r.round_reminders, 0);
    // On the due date, then the day after: overdue to the unit, escalation to SKHCN.
    let r = s.tick(at("2025-11-03T09:00:00+07:00")).await.unwrap();
    assert_eq!(r.round_reminders, 1);
    let r = s.tick(at("2025-11-04T09:00:00+07:00")).await.unwrap();
    assert_eq!(r.round_reminders, 2);
    let r = s.tick(at("2025-11-05T09:00:00+07:00")).await.unwrap();
    assert_eq!(r.round_reminders, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while round_mails().len() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mails = round_mails();
    let subjects: Vec<_> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(mails.len(), 4, "{subjects:?}");
    assert!(
        subjects.contains(&"Hôm nay là hạn gửi báo cáo đợt lần 2 kế hoạch 215/KH-UBND"),
        "{subjects:?}"
    );
    let escalation = mails
        .iter()
        .find(|m| m.subject.starts_with("Sở Y tế quá hạn gửi"))
        .expect("escalation");
    assert_eq!(escalation.to, ["chuyen.vien.khcn@haiphong.gov.vn"]);
    assert!(
        mails.iter().all(|m| !m.text.contains("Sở Giáo dục")),
        "the unit that submitted is not reminded"
    );
    // A unit that submits is reminded no more (a later round's stage would be new).
    let kinds: Vec<_> = rounds
        .events(&rounds.round(PLAN, 2).await.unwrap().id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "remind")
        .map(|e| e.detail.unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["round.reminder", "round.due", "round.overdue"]);
}
