//! The store, on SQLite and on PostgreSQL, by the same test code: one atomic, audited
//! transition; conflicts; idempotency; crash safety; audit tamper detection; migrations.

mod common;

use std::collections::BTreeSet;

use adapters::store::{
    NewTask, NewUser, Store, StoreError, TaskFilter, TransitionOutcome, TransitionRequest,
};
use chrono::TimeDelta;
use common::TestDb;
use engine::decide::Actor;
use engine::time::{Instant, format_instant, parse_instant};
use engine::{Phase, Role};

on_both_backends!(
    migrations_apply_from_empty_and_only_once,
    a_task_moves_with_audit_timers_and_outbox,
    a_stale_version_is_a_conflict_naming_the_current_one,
    concurrent_transitions_on_one_task_exactly_one_wins,
    concurrent_transitions_on_many_tasks_lose_and_duplicate_nothing,
    an_idempotency_key_replays_the_first_outcome,
    concurrent_requests_with_one_key_act_once,
    one_key_sent_for_many_tasks_at_once_acts_once,
    a_transaction_aborted_midway_leaves_no_trace,
    the_audit_log_is_append_only_and_tampering_is_found,
    seals_commit_to_every_chain,
    a_removed_entry_or_a_rewritten_sealed_head_is_found,
    a_rejection_writes_nothing,
    the_returned_dossier_pauses_the_appraisal_clock,
    a_late_request_for_more_documents_is_refused_and_writes_nothing,
    the_round_of_a_review_is_kept_on_the_audit_entry,
    report_rows_describe_each_task_as_known_at_the_cutoff,
    a_merged_units_users_act_on_its_tasks,
    tasks_are_listed_by_plan_unit_phase_state_and_overdue,
    documents_are_append_only_and_their_files_are_verified,
    uploads_are_audit_entries_and_transitions_carry_document_hashes,
    a_new_sqlite_database_is_the_owners_only,
    group_commit_keeps_each_transitions_own_outcome,
    the_group_commit_writer_gives_its_connection_back,
    closing_the_store_folds_the_write_ahead_log,
);

fn at(s: &str) -> Instant {
    parse_instant(s).unwrap()
}

/// Monday 02/03/2026 09:00 in Hải Phòng.
fn t0() -> Instant {
    at("2026-03-02T09:00:00+07:00")
}

struct World {
    store: Store,
    officer: Actor,
    head: Actor,
    skhcn: Actor,
    stc: Actor,
    ubnd: Actor,
}

async fn world(db: &TestDb) -> World {
    let store = db.store().await;
    let now = t0();
    common::seed_directory(
        &store,
        &[
            ("so-y-te", "Sở Y tế"),
            ("so-khoa-hoc-va-cong-nghe", "Sở Khoa học và Công nghệ"),
            ("so-tai-chinh", "Sở Tài chính"),
        ],
        &[
            ("can.bo", "", Role::DonVi, Some("so-y-te")),
            ("giam.doc", "", Role::ThuTruongDonVi, Some("so-y-te")),
            (
                "chuyen.vien.khcn",
                "",
                Role::Skhcn,
                Some("so-khoa-hoc-va-cong-nghe"),
            ),
            ("tham.dinh.stc", "", Role::SoTaiChinh, Some("so-tai-chinh")),
            ("pho.chu.tich", "", Role::Ubnd, None),
        ],
        (
            "215/KH-UBND",
            2025,
            "Kế hoạch ứng dụng công nghệ thông tin năm 2025",
        ),
        now,
    )
    .await;
    World {
        officer: store.directory().actor("can.bo").await.unwrap(),
        head: store.directory().actor("giam.doc").await.unwrap(),
        skhcn: store.directory().actor("chuyen.vien.khcn").await.unwrap(),
        stc: store.directory().actor("tham.dinh.stc").await.unwrap(),
        ubnd: store.directory().actor("pho.chu.tich").await.unwrap(),
        store,
    }
}

fn new_task(name: &str) -> NewTask {
    NewTask {
        period: Some("2025".into()),
        budget: vec![adapters::store::BudgetLine {
            year: 2025,
            need_total_vnd: Some(6_500_000_000),
            approved_estimate_vnd: None,
            need_year_vnd: Some(6_500_000_000),
            allocated_year_vnd: None,
            planned_allocation_vnd: None,
        }],
        ..common::new_task("215/KH-UBND", "so-y-te", name, "mua-sam")
    }
}

fn req(task: &str, transition: &str) -> TransitionRequest {
    TransitionRequest::new(task, transition)
}

async fn attach(w: &World, task: &str, doc_type: &str, actor: &Actor) -> String {
    w.store
        .tasks()
        .add_document_as(
            actor,
            &adapters::store::NewDocument {
                task_id: task.into(),
                doc_type: doc_type.into(),
                number: Some("12/SYT-KHTC".into()),
                issued_on: None,
                issuer: Some("Sở Y tế".into()),
                file_name: format!("{doc_type}.pdf"),
                size_bytes: 1234,
                sha256: "0".repeat(64),
                stored_path: format!("/tmp/{doc_type}.pdf"),
            },
            t0(),
        )
        .await
        .unwrap()
        .id
}

/// A new mua-sam task `name`, created by the unit officer at [`t0`]: its id.
async fn created(w: &World, name: &str) -> String {
    w.store
        .tasks()
        .create_as(&w.officer, &new_task(name), None, t0())
        .await
        .unwrap()
        .task_id
}

/// The request `r` by `actor` at `now`: it goes through.
async fn step(w: &World, actor: &Actor, r: &TransitionRequest, now: Instant) -> TransitionOutcome {
    w.store.tasks().transition_as(actor, r, now).await.unwrap()
}

/// The task as stored, whoever may see it.
async fn stored(w: &World, task: &str) -> adapters::store::Task {
    w.store.tasks().unscoped().get(task).await.unwrap()
}

/// The task as a listing finds it. On SQLite a task read alone comes through the store's point
/// reads (a read-only connection of their own) and a listing through the pool's connection: the
/// two must agree.
async fn listed(w: &World, task: &str) -> adapters::store::Task {
    let all = w
        .store
        .tasks()
        .unscoped()
        .list(&TaskFilter::default())
        .await
        .unwrap();
    all.into_iter().find(|t| t.id == task).unwrap()
}

/// `edit` with the append-only triggers of `table` out of the way (PostgreSQL: disabled around
/// it; SQLite: dropped).
fn unguarded(db: &TestDb, table: &str, edit: String) -> String {
    if db.backend == "postgres" {
        format!(
            "ALTER TABLE {table} DISABLE TRIGGER USER; {edit}; ALTER TABLE {table} ENABLE TRIGGER USER;"
        )
    } else {
        format!(
            "DROP TRIGGER IF EXISTS {table}_no_update; DROP TRIGGER IF EXISTS {table}_no_delete; {edit};"
        )
    }
}

/// Creates a mua-sam task and takes it to the SKHCN opinion step (phase appraisal).
async fn task_at_skhcn(w: &World, name: &str) -> String {
    let id = created(w, name).await;
    step(w, &w.officer, &req(&id, "bat_dau_lap_thuyet_minh"), t0()).await;
    let doc = attach(w, &id, "thuyet_minh_du_toan", &w.officer).await;
    step(
        w,
        &w.officer,
        &req(&id, "trinh_thu_truong").citing(vec![doc.clone()]),
        t0(),
    )
    .await;
    step(w, &w.head, &req(&id, "gui_skhcn").citing(vec![doc]), t0()).await;
    id
}

async fn migrations_apply_from_empty_and_only_once(db: TestDb) {
    let catalog = std::sync::Arc::new(adapters::definitions::load(None).unwrap());
    let store = Store::connect(&db.url, catalog, 2).await.unwrap();
    let files = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(db.backend),
    )
    .unwrap()
    .filter(|e| {
        e.as_ref()
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "sql")
    })
    .count();
    assert_eq!(store.migrate().await.unwrap(), files, "{}", db.backend);
    assert_eq!(store.migrate().await.unwrap(), 0);
    for table in Store::COUNTED_TABLES {
        assert_eq!(store.count(table).await.unwrap(), 0, "{table}");
    }
    assert!(store.count("pg_class").await.is_err());
}

async fn a_task_moves_with_audit_timers_and_outbox(db: TestDb) {
    let w = world(&db).await;
    let id = task_at_skhcn(&w, "Mua bản quyền phần mềm MS Office").await;
    let task = stored(&w, &id).await;
    assert_eq!(
        (task.state.as_str(), task.phase, task.version),
        ("skhcn_cho_y_kien", Phase::Appraisal, 4)
    );
    assert_eq!(task.workflow_version, 1);
    // SKHCN's 10-working-day opinion deadline from Monday 02/03/2026: Monday 16/03/2026.
    assert_eq!(format_instant(task.due_at.unwrap()), "16/03/2026 23:59");
    let timers = w
        .store
        .tasks()
        .unscoped()
        .timers(&id, "pending")
        .await
        .unwrap();
    let kinds: Vec<&str> = timers.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["reminder", "reminder", "due", "overdue", "escalation"]
    );
    assert!(timers.iter().all(|t| t.state == "skhcn_cho_y_kien"));

    let history = w.store.audit().history(&id).await.unwrap();
    let steps: Vec<(&str, &str)> = history
        .iter()
        .map(|e| (e.transition.as_str(), e.to_state.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("tao_nhiem_vu", "de_xuat"),
            ("bat_dau_lap_thuyet_minh", "lap_thuyet_minh"),
            // The explanation's upload is an entry too (issue 13, security 3).
            ("tai_len_tai_lieu", "lap_thuyet_minh"),
            ("trinh_thu_truong", "thu_truong_ky"),
            ("gui_skhcn", "skhcn_cho_y_kien"),
        ]
    );
    assert_eq!(history[4].actor_user, "giam.doc");
    assert_eq!(history[4].actor_role.as_deref(), Some("thu_truong_don_vi"));
    assert_eq!(
        history[4].from_phase.as_deref(),
        Some("explanation_and_estimate")
    );
    assert_eq!(history[4].documents.len(), 1);
    assert_eq!(history[4].workflow_version, 1);
    assert_eq!(history[4].prev_hash, history[3].hash);

    // SKHCN returns the dossier for revision: its timers are cancelled, the unit is told.
    let opinion = attach(&w, &id, "van_ban_y_kien", &w.skhcn).await;
    let mut r = req(&id, "skhcn_de_nghi_hoan_thien");
    r.document_ids = vec![opinion];
    r.comment = Some("Bổ sung báo giá của ít nhất 3 nhà cung cấp".into());
    let o = step(&w, &w.skhcn, &r, t0() + TimeDelta::days(2)).await;
    // The version counts moves; the chain also holds the two uploads.
    assert_eq!(
        (o.state.as_str(), o.version, o.audit_seq),
        ("lap_thuyet_minh", 5, 7)
    );
    assert!(
        w.store
            .tasks()
            .unscoped()
            .timers(&id, "pending")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        w.store
            .tasks()
            .unscoped()
            .timers(&id, "cancelled")
            .await
            .unwrap()
            .len(),
        5
    );
    let outbox = w.store.tasks().unscoped().outbox(&id).await.unwrap();
    let last = outbox.last().unwrap();
    assert_eq!(last.template, "task.turn");
    assert_eq!(
        last.payload["comment"],
        "Bổ sung báo giá của ít nhất 3 nhà cung cấp"
    );
    assert_eq!(last.payload["roles"], serde_json::json!(["don_vi"]));
    let task = stored(&w, &id).await;
    assert_eq!(
        task.transition_counts.get("skhcn_de_nghi_hoan_thien"),
        Some(&1)
    );
    assert!(task.due_at.is_none());
    assert!(w.store.audit().verify().await.unwrap().broken.is_none());
}

async fn a_stale_version_is_a_conflict_naming_the_current_one(db: TestDb) {
    let w = world(&db).await;
    let o = w
        .store
        .tasks()
        .create_as(&w.officer, &new_task("Cổng thông tin"), None, t0())
        .await
        .unwrap();
    let mut r = req(&o.task_id, "bat_dau_lap_thuyet_minh");
    r.expected_version = adapters::store::Expected::Version(1);
    step(&w, &w.officer, &r, t0()).await;
    let mut again = req(&o.task_id, "tam_hoan");
    again.expected_version = adapters::store::Expected::Version(1);
    again.comment = Some("Chuyển sang năm 2026".into());
    match w.store.tasks().transition_as(&w.ubnd, &again, t0()).await {
        Err(StoreError::Conflict {
            expected: 1,
            current: 2,
        }) => {}
        other => panic!("{other:?}"),
    }
    let msg = StoreError::Conflict {
        expected: 1,
        current: 2,
    }
    .to_string();
    assert!(msg.contains("phiên bản hiện tại: 2"), "{msg}");
    assert_eq!(stored(&w, &o.task_id).await.version, 2);
}

async fn concurrent_transitions_on_one_task_exactly_one_wins(db: TestDb) {
    let w = world(&db).await;
    let id = task_at_skhcn(&w, "Hệ thống hội nghị truyền hình").await;
    let opinion = attach(&w, &id, "van_ban_y_kien", &w.skhcn).await;
    let before = w.store.count("audit_log").await.unwrap();
    let mut handles = Vec::new();
    for i in 0..16 {
        let store = w.store.clone();
        let actor = w.skhcn.clone();
        let mut r = req(
            &id,
            if i % 2 == 0 {
                "skhcn_thong_nhat"
            } else {
                "skhcn_de_nghi_hoan_thien"
            },
        );
        r.document_ids = vec![opinion.clone()];
        r.comment = Some(format!("Ý kiến số {i}"));
        r.expected_version = adapters::store::Expected::Version(4);
        handles.push(tokio::spawn(async move {
            store.tasks().transition_as(&actor, &r, t0()).await
        }));
    }
    let mut wins = 0;
    let mut conflicts = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(o) => {
                wins += 1;
                assert_eq!(o.version, 5);
            }
            Err(StoreError::Conflict {
                expected: 4,
                current: 5,
            }) => conflicts += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!((wins, conflicts), (1, 15), "{}", db.backend);
    assert_eq!(w.store.count("audit_log").await.unwrap(), before + 1);
    assert_eq!(stored(&w, &id).await.version, 5);
    assert!(w.store.audit().verify().await.unwrap().broken.is_none());
}

async fn concurrent_transitions_on_many_tasks_lose_and_duplicate_nothing(db: TestDb) {
    let w = world(&db).await;
    let mut ids = Vec::new();
    for i in 0..24 {
        ids.push(created(&w, &format!("Nhiệm vụ {i}")).await);
    }
    let before = w.store.count("audit_log").await.unwrap();
    // Each task is driven by its own writer through postpone → re-enter cycles, all at once.
    let mut handles = Vec::new();
    for id in ids.clone() {
        let store = w.store.clone();
        let (ubnd, officer) = (w.ubnd.clone(), w.officer.clone());
        handles.push(tokio::spawn(async move {
            for round in 0..3 {
                let mut r = req(&id, "tam_hoan");
                r.comment = Some(format!("Vòng {round}"));
                store.tasks().transition_as(&ubnd, &r, t0()).await.unwrap();
                let mut r = req(&id, "dua_lai_ke_hoach");
                r.comment = Some("Đưa lại vào kế hoạch".into());
                store.tasks().transition_as(&ubnd, &r, t0()).await.unwrap();
            }
            let _ = officer;
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(w.store.count("audit_log").await.unwrap(), before + 24 * 6);
    for id in &ids {
        let history = w.store.audit().history(id).await.unwrap();
        let seqs: Vec<i64> = history.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
        assert_eq!(stored(&w, id).await.version, 7);
    }
    let report = w.store.audit().verify().await.unwrap();
    assert!(report.broken.is_none(), "{report:?}");
    assert_eq!(
        report.entries as i64,
        w.store.count("audit_log").await.unwrap()
    );
}

async fn an_idempotency_key_replays_the_first_outcome(db: TestDb) {
    let w = world(&db).await;
    let o = w
        .store
        .tasks()
        .create_as(
            &w.officer,
            &new_task("Phần mềm quản lý"),
            Some("tao-1"),
            t0(),
        )
        .await
        .unwrap();
    let again = w
        .store
        .tasks()
        .create_as(
            &w.officer,
            &new_task("Phần mềm quản lý"),
            Some("tao-1"),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(again.task_id, o.task_id);
    assert!(again.replayed && !o.replayed);
    assert_eq!(w.store.count("tasks").await.unwrap(), 1);

    let mut r = req(&o.task_id, "bat_dau_lap_thuyet_minh");
    r.idempotency_key = Some("buoc-1".into());
    let first = step(&w, &w.officer, &r, t0()).await;
    let audit = w.store.count("audit_log").await.unwrap();
    let outbox = w.store.count("outbox").await.unwrap();
    // A retry after the version moved on still returns the first outcome and changes nothing.
    r.expected_version = adapters::store::Expected::Version(1);
    let replay = step(&w, &w.officer, &r, t0() + TimeDelta::hours(1)).await;
    assert_eq!(
        (replay.version, replay.audit_id, replay.replayed),
        (first.version, first.audit_id, true)
    );
    assert_eq!(w.store.count("audit_log").await.unwrap(), audit);
    assert_eq!(w.store.count("outbox").await.unwrap(), outbox);
    // The same key for a different request is refused, not silently replayed.
    let mut other = req(&o.task_id, "tam_hoan");
    other.idempotency_key = Some("buoc-1".into());
    other.comment = Some("Khác".into());
    assert!(matches!(
        w.store
            .tasks()
            .transition_as(&w.officer, &other, t0())
            .await,
        Err(StoreError::IdempotencyMismatch(_))
    ));
    let history = w.store.audit().history(&o.task_id).await.unwrap();
    assert_eq!(
        history.last().unwrap().idempotency_key.as_deref(),
        Some("buoc-1")
    );
}

async fn concurrent_requests_with_one_key_act_once(db: TestDb) {
    let w = world(&db).await;
    let o = w
        .store
        .tasks()
        .create_as(&w.officer, &new_task("Cơ sở dữ liệu"), None, t0())
        .await
        .unwrap();
    let before = w.store.count("audit_log").await.unwrap();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let store = w.store.clone();
        let actor = w.officer.clone();
        let mut r = req(&o.task_id, "bat_dau_lap_thuyet_minh");
        r.idempotency_key = Some("mot-lan".into());
        handles.push(tokio::spawn(async move {
            store.tasks().transition_as(&actor, &r, t0()).await
        }));
    }
    let mut outcomes = BTreeSet::new();
    for h in handles {
        let o = h.await.unwrap().expect("every retry gets the outcome");
        outcomes.insert((o.version, o.audit_id));
    }
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(w.store.count("audit_log").await.unwrap(), before + 1);
}

/// One idempotency key sent at once for transitions on eight tasks, with group commit: one
/// transition is written, the others are refused as another request's key. On PostgreSQL,
/// several of them share a batch written by one statement, which then finds the key taken by
/// another row of its own: the batch is written again one transition at a time.
async fn one_key_sent_for_many_tasks_at_once_acts_once(db: TestDb) {
    let w = world(&db).await;
    let store = w.store.clone().with_group_commit(true);
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(created(&w, &format!("Nhiệm vụ chung khóa {i}")).await);
    }
    let before = store.count("audit_log").await.unwrap();
    let mut handles = Vec::new();
    for id in &ids {
        let (store, actor) = (store.clone(), w.officer.clone());
        let mut r = req(id, "bat_dau_lap_thuyet_minh");
        r.idempotency_key = Some("mot-khoa-chung".into());
        handles.push(tokio::spawn(async move {
            store.tasks().transition_as(&actor, &r, t0()).await
        }));
    }
    let (mut written, mut refused) = (Vec::new(), 0);
    for h in handles {
        match h.await.unwrap() {
            Ok(o) => written.push(o),
            Err(StoreError::IdempotencyMismatch(key)) => {
                assert_eq!(key, "mot-khoa-chung");
                refused += 1;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((written.len(), refused), (1, 7), "{written:?}");
    assert!(!written[0].replayed);
    assert_eq!(store.count("audit_log").await.unwrap(), before + 1);
    let mut moved = 0;
    for id in &ids {
        let t = store.tasks().unscoped().get(id).await.unwrap();
        moved += usize::from(t.version == 2);
    }
    assert_eq!(moved, 1, "one task moved");
    the_records_name_their_audit_entries(&db, &ids).await;
}

async fn a_transaction_aborted_midway_leaves_no_trace(db: TestDb) {
    let w = world(&db).await;
    let id = task_at_skhcn(&w, "Số hóa hồ sơ").await;
    let counts = |s: Store| async move {
        (
            s.count("audit_log").await.unwrap(),
            s.count("timers").await.unwrap(),
            s.count("outbox").await.unwrap(),
            s.count("documents").await.unwrap(),
        )
    };
    let opinion = attach(&w, &id, "van_ban_y_kien", &w.skhcn).await;
    // The upload moved the audit chain (not the version).
    let before = stored(&w, &id).await;
    let snapshot = counts(w.store.clone()).await;
    // The database refuses the last write of the transaction (the outbox insert), after the
    // task, the audit entry and the timers were written in it.
    if db.backend == "postgres" {
        db.exec(
            "CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
             CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION fail_outbox();",
        )
        .await;
    } else {
        db.exec("CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'injected failure'); END;")
            .await;
    }
    let mut r = req(&id, "skhcn_thong_nhat");
    r.document_ids = vec![opinion.clone()];
    let err = w
        .store
        .tasks()
        .transition_as(&w.skhcn, &r, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert!(err.to_string().contains("injected failure"), "{err}");
    let after = stored(&w, &id).await;
    assert_eq!(after, before);
    assert_eq!(counts(w.store.clone()).await, snapshot);
    assert_eq!(
        w.store
            .tasks()
            .unscoped()
            .timers(&id, "pending")
            .await
            .unwrap()
            .len(),
        5
    );
    assert!(w.store.audit().verify().await.unwrap().broken.is_none());
    // Once the fault is gone the same transition goes through.
    if db.backend == "postgres" {
        db.exec("DROP TRIGGER fail_outbox ON outbox").await;
    } else {
        db.exec("DROP TRIGGER fail_outbox").await;
    }
    let o = step(&w, &w.skhcn, &r, t0()).await;
    assert_eq!(o.version, before.version + 1);
}

async fn the_audit_log_is_append_only_and_tampering_is_found(db: TestDb) {
    let w = world(&db).await;
    let id = task_at_skhcn(&w, "Triển khai chữ ký số").await;
    let other = task_at_skhcn(&w, "Tổng đài 1022").await;
    assert!(w.store.audit().verify().await.unwrap().broken.is_none());
    let err = db
        .try_exec("UPDATE audit_log SET comment = 'sửa lén' WHERE seq = 2")
        .await
        .unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    let err = db.try_exec("DELETE FROM audit_log").await.unwrap_err();
    assert!(err.contains("append-only"), "{err}");

    // A privileged hand disables the triggers and rewrites one entry of the first task.
    let target = w.store.audit().history(&id).await.unwrap()[2].id;
    let edit = format!("UPDATE audit_log SET actor_user = 'nguoi.khac' WHERE id = {target}");
    db.exec(&unguarded(&db, "audit_log", edit)).await;
    let report = w.store.audit().verify().await.unwrap();
    let broken = report.broken.expect("tampering is found");
    assert_eq!(broken.audit_id, Some(target));
    assert_eq!(broken.task_id.as_deref(), Some(id.as_str()));
    assert_eq!(broken.seq, Some(3));
    assert!(
        broken.reason.contains("does not match its hash"),
        "{}",
        broken.reason
    );
    let _ = other;
}

async fn seals_commit_to_every_chain(db: TestDb) {
    let w = world(&db).await;
    let a = task_at_skhcn(&w, "Nhiệm vụ A").await;
    let _b = task_at_skhcn(&w, "Nhiệm vụ B").await;
    let s1 = w.store.audit().seal(t0()).await.unwrap();
    assert_eq!(s1.task_count, 2);
    let s2 = w.store.audit().seal(t0()).await.unwrap();
    assert_eq!(
        (s2.task_count, s2.prev_hash.as_str()),
        (0, s1.hash.as_str())
    );
    let opinion = attach(&w, &a, "van_ban_y_kien", &w.skhcn).await;
    step(
        &w,
        &w.skhcn,
        &req(&a, "skhcn_thong_nhat").citing(vec![opinion]),
        t0(),
    )
    .await;
    let s3 = w.store.audit().seal(t0()).await.unwrap();
    assert_eq!(s3.task_count, 1);
    let report = w.store.audit().verify().await.unwrap();
    assert!(report.broken.is_none(), "{report:?}");
    assert_eq!(report.seals, 3);
    // Rewriting a sealed seal's digest is found.
    let edit = format!("UPDATE audit_seals SET task_count = 5 WHERE id = {}", s1.id);
    db.exec(&unguarded(&db, "audit_seals", edit)).await;
    let broken = w
        .store
        .audit()
        .verify()
        .await
        .unwrap()
        .broken
        .expect("seal tampering is found");
    assert_eq!(broken.seal_id, Some(s1.id));
}

/// `audit verify` streams the log task by task: a chain cut short (its last entry removed)
/// is found at its task, and so is a sealed head whose entry was rewritten with a matching hash.
async fn a_removed_entry_or_a_rewritten_sealed_head_is_found(db: TestDb) {
    let w = world(&db).await;
    let a = task_at_skhcn(&w, "Nhiệm vụ A").await;
    let b = task_at_skhcn(&w, "Nhiệm vụ B").await;
    let c = task_at_skhcn(&w, "Nhiệm vụ C").await;
    w.store.audit().seal(t0()).await.unwrap();
    let report = w.store.audit().verify().await.unwrap();
    assert!(report.broken.is_none(), "{report:?}");
    let chained = |t: &str| {
        let store = &w.store;
        let t = t.to_string();
        async move { store.audit().history(&t).await.unwrap() }
    };
    let entries = chained(&a).await.len() + chained(&b).await.len() + chained(&c).await.len();
    assert_eq!(
        (report.tasks, report.entries, report.seals),
        (3, entries, 1)
    );
    // B's last entry rewritten with a hash that matches its new content: its chain checks out,
    // but the seal committed to the old head.
    let mut last = chained(&b).await.pop().unwrap();
    last.comment = Some("sửa lén".into());
    let rehashed = last.compute_hash();
    db.exec(&unguarded(
        &db,
        "audit_log",
        format!(
            "UPDATE audit_log SET comment = 'sửa lén', hash = '{rehashed}' WHERE id = {}",
            last.id
        ),
    ))
    .await;
    db.exec(&format!(
        "UPDATE tasks SET audit_head = '{rehashed}' WHERE id = '{b}'"
    ))
    .await;
    let broken = w
        .store
        .audit()
        .verify()
        .await
        .unwrap()
        .broken
        .expect("found");
    assert_eq!(
        (
            broken.task_id.as_deref(),
            broken.seq,
            broken.seal_id.is_some()
        ),
        (Some(b.as_str()), Some(last.seq), true),
        "{broken:?}"
    );
    assert!(broken.reason.contains("sealed head"), "{}", broken.reason);
    // C's last entry removed: its chain ends before the head the task records.
    let c_last = chained(&c).await.pop().unwrap();
    db.exec(&unguarded(
        &db,
        "audit_log",
        format!("DELETE FROM audit_log WHERE id = {}", c_last.id),
    ))
    .await;
    let broken = w
        .store
        .audit()
        .verify()
        .await
        .unwrap()
        .broken
        .expect("found");
    assert_eq!(
        (broken.task_id.as_deref(), broken.seq, broken.audit_id),
        (Some(c.as_str()), Some(c_last.seq - 1), None),
        "{broken:?}"
    );
    assert!(
        broken
            .reason
            .contains(&format!("records entry {} as its head", c_last.seq)),
        "{}",
        broken.reason
    );
}

async fn a_rejection_writes_nothing(db: TestDb) {
    let w = world(&db).await;
    let id = task_at_skhcn(&w, "Nâng cấp mạng").await;
    let before = stored(&w, &id).await;
    let audit = w.store.count("audit_log").await.unwrap();
    // The unit officer cannot give SKHCN's opinion.
    let err = w
        .store
        .tasks()
        .transition_as(&w.officer, &req(&id, "skhcn_thong_nhat"), t0())
        .await
        .unwrap_err();
    match &err {
        StoreError::Rejected(r) => assert_eq!(r.code(), "wrong_role"),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("Bạn không có quyền"), "{err}");
    // SKHCN without its opinion letter.
    let err = w
        .store
        .tasks()
        .transition_as(&w.skhcn, &req(&id, "skhcn_thong_nhat"), t0())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("van_ban_y_kien"), "{err}");
    // A document of another task cannot be attached.
    let other = task_at_skhcn(&w, "Nhiệm vụ khác").await;
    let foreign = attach(&w, &other, "van_ban_y_kien", &w.skhcn).await;
    let mut r = req(&id, "skhcn_thong_nhat");
    r.document_ids = vec![foreign];
    // Well-formed but never processable: not the task's document (HTTP 422).
    assert!(matches!(
        w.store.tasks().transition_as(&w.skhcn, &r, t0()).await,
        Err(StoreError::Unprocessable(_))
    ));
    assert_eq!(stored(&w, &id).await, before);
    // The other task's creation, three moves and upload, and the foreign document's upload.
    assert_eq!(w.store.count("audit_log").await.unwrap(), audit + 6);
    assert!(matches!(
        w.store
            .tasks()
            .transition_as(&w.skhcn, &req("khong-co", "x"), t0())
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn the_returned_dossier_pauses_the_appraisal_clock(db: TestDb) {
    let w = world(&db).await;
    let id = task_at_stc(&w, "Hồ sơ bệnh án điện tử").await;
    let task = stored(&w, &id).await;
    assert_eq!(task.state, "stc_tham_dinh");
    // 15 working days from Monday 02/03/2026: Monday 23/03/2026.
    assert_eq!(format_instant(task.due_at.unwrap()), "23/03/2026 23:59");

    // Returned on Thursday 05/03 for more documents; resubmitted Tuesday 10/03 (3 working days).
    let mut r = req(&id, "stc_yeu_cau_bo_sung");
    r.comment = Some("Thiếu chứng thư thẩm định giá".into());
    step(&w, &w.stc, &r, at("2026-03-05T10:00:00+07:00")).await;
    let paused = stored(&w, &id).await;
    assert!(paused.due_at.is_none() && paused.paused_clock.is_some());
    // Every column decoded alike by either reader: clocks, counts, dates, flags, the amount.
    assert_eq!(paused, listed(&w, &id).await);
    let supplement = attach(&w, &id, "ho_so_bo_sung", &w.officer).await;
    let mut r = req(&id, &paused_return_transition(&w, &paused));
    r.document_ids = vec![supplement];
    r.comment = Some("Đã bổ sung".into());
    step(&w, &w.head, &r, at("2026-03-10T15:00:00+07:00")).await;
    let resumed = stored(&w, &id).await;
    assert_eq!(resumed, listed(&w, &id).await);
    assert_eq!(resumed.state, "stc_tham_dinh");
    // Paused for the working days 06, 09 and 10/03: the deadline moves three working days out.
    assert_eq!(format_instant(resumed.due_at.unwrap()), "26/03/2026 23:59");
}

/// A `mua-sam` task entered into Sở Tài chính's appraisal at [`t0`].
async fn task_at_stc(w: &World, name: &str) -> String {
    let id = task_at_skhcn(w, name).await;
    let opinion = attach(w, &id, "van_ban_y_kien", &w.skhcn).await;
    step(
        w,
        &w.skhcn,
        &req(&id, "skhcn_thong_nhat").citing(vec![opinion]),
        t0(),
    )
    .await;
    // The unit's head approves the task and estimate before Sở Tài chính appraises it.
    let approval = attach(w, &id, "quyet_dinh_phe_duyet", &w.head).await;
    step(
        w,
        &w.head,
        &req(&id, "phe_duyet_nhiem_vu").citing(vec![approval]),
        t0(),
    )
    .await;
    let dossier = attach(w, &id, "thuyet_minh_du_toan", &w.officer).await;
    step(
        w,
        &w.head,
        &req(&id, "gui_so_tai_chinh").citing(vec![dossier]),
        t0(),
    )
    .await;
    id
}

async fn a_late_request_for_more_documents_is_refused_and_writes_nothing(db: TestDb) {
    let w = world(&db).await;
    // TT 03/2020: a request for more documents within the first 5 working days of the 15.
    let id = task_at_stc(&w, "Hồ sơ bệnh án điện tử").await;
    let before = stored(&w, &id).await;
    let audit = w.store.count("audit_log").await.unwrap();
    let mut r = req(&id, "stc_yeu_cau_bo_sung");
    r.comment = Some("Thiếu chứng thư thẩm định giá".into());
    // Tuesday 10/03 is the sixth working day after Monday 02/03: too late.
    let refused = w
        .store
        .tasks()
        .transition_as(&w.stc, &r, at("2026-03-10T08:30:00+07:00"))
        .await;
    let Err(StoreError::Rejected(refusal)) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert_eq!(refusal.rejection.code(), "request_window_closed");
    assert!(
        refusal.rejection.to_string().contains("5 ngày làm việc"),
        "{}",
        refusal.rejection
    );
    assert_eq!(stored(&w, &id).await, before);
    assert_eq!(w.store.count("audit_log").await.unwrap(), audit);
    // On Monday 09/03, the fifth working day, the same request pauses the clock.
    step(&w, &w.stc, &r, at("2026-03-09T16:00:00+07:00")).await;
    let paused = stored(&w, &id).await;
    assert!(paused.due_at.is_none() && paused.paused_clock.is_some());
}

async fn the_round_of_a_review_is_kept_on_the_audit_entry(db: TestDb) {
    let w = world(&db).await;
    let id = task_at_skhcn(&w, "Hồ sơ bệnh án điện tử").await;
    // SKHCN asks for a better dossier; the unit revises and sends it again: "lần 2".
    let opinion = attach(&w, &id, "van_ban_y_kien", &w.skhcn).await;
    let mut r = req(&id, "skhcn_de_nghi_hoan_thien");
    r.document_ids = vec![opinion];
    r.comment = Some("Đề nghị bổ sung phương án kỹ thuật".into());
    step(&w, &w.skhcn, &r, t0()).await;
    let dossier = attach(&w, &id, "thuyet_minh_du_toan", &w.officer).await;
    step(
        &w,
        &w.officer,
        &req(&id, "trinh_thu_truong").citing(vec![dossier.clone()]),
        t0(),
    )
    .await;
    step(
        &w,
        &w.head,
        &req(&id, "gui_skhcn").citing(vec![dossier]),
        t0(),
    )
    .await;
    let task = stored(&w, &id).await;
    assert_eq!(task.state, "skhcn_cho_y_kien");
    assert_eq!(task.review, 1);
    assert_eq!(task.state_entries.get("skhcn_cho_y_kien"), Some(&2));
    let history = w.store.audit().history(&id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.review, last.round), (Some(1), Some(2)));
    assert_eq!(last.round_label().as_deref(), Some("lần 2"));
    let first = history
        .iter()
        .find(|e| e.to_state == "skhcn_cho_y_kien")
        .unwrap();
    assert_eq!((first.round, first.round_label()), (Some(1), None));
    // The round is part of the entry's hash: the chain still verifies.
    assert!(w.store.audit().verify().await.unwrap().broken.is_none());
    // The progress report says which round the step is in.
    let rows = w
        .store
        .reports()
        .report_rows(None, at("2026-12-31T00:00:00+07:00"))
        .await
        .unwrap();
    let row = rows.iter().find(|r| r.task_id == id).unwrap();
    let text = adapters::report::progress::progress_text(row, w.store.catalog());
    assert!(text.contains("(lần 2, từ"), "{text}");
}

async fn report_rows_describe_each_task_as_known_at_the_cutoff(db: TestDb) {
    let w = world(&db).await;
    let cutoff = at("2026-03-03T00:00:00+07:00");
    let (before, after) = (
        at("2026-03-02T10:00:00+07:00"),
        at("2026-03-04T09:00:00+07:00"),
    );
    // Created before the cutoff and moved after it: described by its first entry; moved before
    // it: by its latest.
    let [moved, settled] = ["Nhiệm vụ chuyển bước sau", "Nhiệm vụ chuyển bước trước"];
    let (moved, settled) = (created(&w, moved).await, created(&w, settled).await);
    for (id, when) in [(&moved, after), (&settled, before)] {
        step(&w, &w.officer, &req(id, "bat_dau_lap_thuyet_minh"), when).await;
    }
    // Created after it: it did not exist then.
    let later = w
        .store
        .tasks()
        .create_as(&w.officer, &new_task("Nhiệm vụ tạo sau"), None, after)
        .await
        .unwrap()
        .task_id;
    let reports = w.store.reports();
    let rows = reports.report_rows(None, cutoff).await.unwrap();
    let row = |id: &str| rows.iter().find(|r| r.task_id == id);
    let first = &w.store.audit().history(&moved).await.unwrap()[0];
    let m = row(&moved).expect("the task that moved after the cutoff");
    assert_eq!((m.entry_seq, m.is_latest), (1, false));
    assert_eq!(
        (m.state.as_str(), m.entry_at),
        (first.to_state.as_str(), t0())
    );
    assert_eq!(m.moved_at, t0());
    let s = row(&settled).expect("the task that moved before the cutoff");
    assert_eq!((s.entry_seq, s.is_latest), (2, true));
    assert_eq!(s.state, stored(&w, &settled).await.state);
    assert_eq!(s.moved_at, before);
    assert!(row(&later).is_none(), "a task created after the cutoff");
    assert_eq!(rows.len(), 2);
    // By a later cutoff every task is described by its latest entry.
    let rows = reports.report_rows(None, after).await.unwrap();
    assert_eq!(rows.len(), 3);
    let m = rows.iter().find(|r| r.task_id == moved).unwrap();
    assert_eq!((m.entry_seq, m.is_latest, m.moved_at), (2, true, after));
    assert_eq!(m.state, stored(&w, &moved).await.state);
}

/// The transition that sends the supplemented dossier back to the appraiser.
fn paused_return_transition(w: &World, task: &adapters::store::Task) -> String {
    let wf = w
        .store
        .catalog()
        .get(&task.workflow, task.workflow_version)
        .unwrap();
    let t = wf
        .transitions_from(&task.state)
        .find(|t| t.to == "stc_tham_dinh")
        .expect("a way back to the appraisal");
    t.name.clone()
}

async fn a_merged_units_users_act_on_its_tasks(db: TestDb) {
    let w = world(&db).await;
    w.store
        .directory()
        .add_unit("so-ke-hoach-va-dau-tu", "Sở Kế hoạch và Đầu tư", None, t0())
        .await
        .unwrap();
    w.store
        .directory()
        .add_user(
            NewUser::with_role(
                "can.bo.khdt",
                "",
                Role::DonVi,
                Some("so-ke-hoach-va-dau-tu"),
            ),
            t0(),
        )
        .await
        .unwrap();
    let old_officer = w.store.directory().actor("can.bo.khdt").await.unwrap();
    let mut t = new_task("Cơ sở dữ liệu kinh tế - xã hội");
    t.unit_id = "so-ke-hoach-va-dau-tu".into();
    let o = w
        .store
        .tasks()
        .create_as(&old_officer, &t, None, t0())
        .await
        .unwrap();
    let stc_officer = NewUser::with_role("can.bo.stc", "", Role::DonVi, Some("so-tai-chinh"));
    w.store
        .directory()
        .add_user(stc_officer, t0())
        .await
        .unwrap();
    let before_merge = w.store.directory().actor("can.bo.stc").await.unwrap();
    assert_eq!(
        w.store
            .tasks()
            .unscoped()
            .transition_as(
                &before_merge,
                &req(&o.task_id, "bat_dau_lap_thuyet_minh"),
                t0()
            )
            .await
            .unwrap_err()
            .to_string(),
        "Bạn không có quyền thực hiện bước `bat_dau_lap_thuyet_minh`: nhiệm vụ không thuộc đơn vị của bạn."
    );
    // July 2025: Sở Kế hoạch và Đầu tư is merged into Sở Tài chính.
    w.store
        .directory()
        .merge_unit(
            "so-ke-hoach-va-dau-tu",
            "so-tai-chinh",
            chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        )
        .await
        .unwrap();
    let after_merge = w.store.directory().actor("can.bo.stc").await.unwrap();
    assert_eq!(
        after_merge.units,
        vec!["so-tai-chinh", "so-ke-hoach-va-dau-tu"]
    );
    step(
        &w,
        &after_merge,
        &req(&o.task_id, "bat_dau_lap_thuyet_minh"),
        t0(),
    )
    .await;
    let task = stored(&w, &o.task_id).await;
    assert_eq!(
        task.unit_id, "so-ke-hoach-va-dau-tu",
        "the task keeps its owner and history"
    );
    // Issue 13, security 7: the merged unit's own users read what they had and act on
    // nothing of it any more: no step, no document, no new proposal for it.
    let old_officer = w.store.directory().actor("can.bo.khdt").await.unwrap();
    assert!(old_officer.units.is_empty(), "{old_officer:?}");
    assert_eq!(old_officer.read_units, vec!["so-ke-hoach-va-dau-tu"]);
    w.store
        .tasks()
        .detail_as(&old_officer, &o.task_id, t0())
        .await
        .expect("still readable");
    assert!(
        w.store
            .tasks()
            .transition_as(&old_officer, &req(&o.task_id, "trinh_thu_truong"), t0())
            .await
            .is_err()
    );
    assert!(matches!(
        w.store.tasks().attach_as(&old_officer, &o.task_id).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(
        w.store
            .tasks()
            .create_as(&old_officer, &t, None, t0())
            .await
            .is_err()
    );
    assert!(
        w.store
            .directory()
            .merge_unit("so-tai-chinh", "so-ke-hoach-va-dau-tu", t0().date_naive())
            .await
            .is_err()
    );
}

async fn tasks_are_listed_by_plan_unit_phase_state_and_overdue(db: TestDb) {
    let w = world(&db).await;
    let a = task_at_skhcn(&w, "Nhiệm vụ đang thẩm định").await;
    let b = created(&w, "Nhiệm vụ mới").await;
    let ids = |v: Vec<adapters::store::Task>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let all = TaskFilter {
        plan: Some("215/KH-UBND".into()),
        ..TaskFilter::default()
    };
    assert_eq!(
        ids(w.store.tasks().unscoped().list(&all).await.unwrap()),
        vec![a.clone(), b.clone()]
    );
    let f = TaskFilter {
        phase: Some(Phase::Appraisal),
        ..TaskFilter::default()
    };
    assert_eq!(
        ids(w.store.tasks().unscoped().list(&f).await.unwrap()),
        vec![a.clone()]
    );
    let f = TaskFilter {
        state: Some("de_xuat".into()),
        unit: Some(engine::domain::UnitId::parse("so-y-te").unwrap()),
        ..TaskFilter::default()
    };
    assert_eq!(
        ids(w.store.tasks().unscoped().list(&f).await.unwrap()),
        vec![b.clone()]
    );
    let f = TaskFilter {
        overdue_at: Some(at("2026-03-20T09:00:00+07:00")),
        ..TaskFilter::default()
    };
    assert_eq!(
        ids(w.store.tasks().unscoped().list(&f).await.unwrap()),
        vec![a.clone()]
    );
    let f = TaskFilter {
        overdue_at: Some(at("2026-03-10T09:00:00+07:00")),
        ..TaskFilter::default()
    };
    assert!(
        w.store
            .tasks()
            .unscoped()
            .list(&f)
            .await
            .unwrap()
            .is_empty()
    );
    let f = TaskFilter {
        plan: Some("999/KH-UBND".into()),
        ..TaskFilter::default()
    };
    assert!(
        w.store
            .tasks()
            .unscoped()
            .list(&f)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Issue 13, security 3: the `documents` table could be updated, a swapped file and row passed
/// `audit verify`, and an absolute `stored_path` outside the data directory was served. Now the
/// table is append-only by trigger, and `verify_documents` (run by `tiendo audit verify`) checks
/// that every cited document is recorded and that every file lies in the document folder with its
/// recorded sha256 and size.
async fn documents_are_append_only_and_their_files_are_verified(db: TestDb) {
    let w = world(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let files = adapters::files::FileStore::new(dir.path());
    let id = created(&w, "Số hóa lưu trữ").await;
    step(&w, &w.officer, &req(&id, "bat_dau_lap_thuyet_minh"), t0()).await;
    let stored = files.put(b"%PDF-1.4 thuyet minh that").unwrap();
    let doc = w
        .store
        .tasks()
        .add_document_as(
            &w.officer,
            &adapters::store::NewDocument {
                task_id: id.clone(),
                doc_type: "thuyet_minh_du_toan".into(),
                number: Some("12/SYT-KHTC".into()),
                issued_on: None,
                issuer: Some("Sở Y tế".into()),
                file_name: "tm.pdf".into(),
                size_bytes: stored.size,
                sha256: stored.sha256.clone(),
                stored_path: stored.path.display().to_string(),
            },
            t0(),
        )
        .await
        .unwrap()
        .id;
    step(
        &w,
        &w.officer,
        &req(&id, "trinh_thu_truong").citing(vec![doc.clone()]),
        t0(),
    )
    .await;
    let ok = w.store.audit().verify_documents(&files).await.unwrap();
    assert_eq!(
        (ok.documents, ok.cited, ok.broken.clone()),
        (1, 1, None),
        "{ok:?}"
    );

    // The row cannot be swapped or removed.
    for sql in [
        format!(
            "UPDATE documents SET sha256 = '{}' WHERE id = '{doc}'",
            "1".repeat(64)
        ),
        format!("UPDATE documents SET stored_path = '/etc/passwd' WHERE id = '{doc}'"),
        format!("DELETE FROM documents WHERE id = '{doc}'"),
        "DELETE FROM documents".to_string(),
    ] {
        let err = db.try_exec(&sql).await.unwrap_err();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    if db.backend == "postgres" {
        let err = db.try_exec("TRUNCATE documents CASCADE").await.unwrap_err();
        assert!(err.contains("append-only"), "{err}");
    }

    // A forged row naming a file outside the document folder is found.
    let outside = dir.path().join("ngoai-kho.pdf");
    std::fs::write(&outside, b"%PDF-1.4 khong phai ho so").unwrap();
    let sha = adapters::store::sha256_hex(b"%PDF-1.4 khong phai ho so");
    db.exec(&format!(
        "INSERT INTO documents (id, task_id, doc_type, number, issued_on, issuer, file_name, size_bytes, sha256, stored_path, uploaded_by, uploaded_at) \
         VALUES ('zz-gia-mao', '{id}', 'thuyet_minh_du_toan', NULL, NULL, NULL, 'x.pdf', 25, '{sha}', '{}', 'can.bo', '{}')",
        outside.display(),
        t0().format("%Y-%m-%dT%H:%M:%S%.6fZ"),
    ))
    .await;
    let report = w.store.audit().verify_documents(&files).await.unwrap();
    let (bad, why) = report.broken.expect("the forged row is found");
    assert_eq!(bad, "zz-gia-mao");
    assert!(why.contains("outside the document folder"), "{why}");
    assert!(files.get(&outside, &sha).is_err(), "and it is not served");

    // A swapped file is found (on a database without the forged row).
    let db2 = if db.backend == "postgres" {
        TestDb::postgres().await
    } else {
        TestDb::sqlite().await
    };
    let w2 = world(&db2).await;
    let id2 = w2
        .store
        .tasks()
        .create_as(&w2.officer, &new_task("Số hóa lưu trữ"), None, t0())
        .await
        .unwrap()
        .task_id;
    let doc2 = w2
        .store
        .tasks()
        .add_document_as(
            &w2.officer,
            &adapters::store::NewDocument {
                task_id: id2,
                doc_type: "thuyet_minh_du_toan".into(),
                number: None,
                issued_on: None,
                issuer: None,
                file_name: "tm.pdf".into(),
                size_bytes: stored.size,
                sha256: stored.sha256.clone(),
                stored_path: stored.path.display().to_string(),
            },
            t0(),
        )
        .await
        .unwrap()
        .id;
    std::fs::write(&stored.path, b"%PDF-1.4 ho so bi tron").unwrap();
    let report = w2.store.audit().verify_documents(&files).await.unwrap();
    let (bad, why) = report.broken.expect("the swapped file is found");
    assert_eq!(bad, doc2);
    assert!(why.contains("sha256"), "{why}");
}

/// Issue 13, security 3: each upload is an audit entry with the document's sha256, type,
/// number, issuer and uploader; a transition's entry carries the sha256 of each document it
/// cites, hashed into the chain. A document row rewritten by a privileged hand no longer matches
/// the entries, and `verify_documents` names it; rewriting the evidence breaks the chain. Uploads
/// leave the task's version alone (an upload is no move), and concurrent uploads and a
/// transition on one task all land on one unbroken chain.
async fn uploads_are_audit_entries_and_transitions_carry_document_hashes(db: TestDb) {
    use adapters::store::Evidence;
    let w = world(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let files = adapters::files::FileStore::new(dir.path());
    let id = created(&w, "Số hóa lưu trữ").await;
    step(&w, &w.officer, &req(&id, "bat_dau_lap_thuyet_minh"), t0()).await;
    let version = stored(&w, &id).await.version;
    let new_doc = |text: &[u8], number: &str| {
        let stored = files.put(text).unwrap();
        adapters::store::NewDocument {
            task_id: id.clone(),
            doc_type: "thuyet_minh_du_toan".into(),
            number: Some(number.into()),
            issued_on: chrono::NaiveDate::from_ymd_opt(2026, 3, 1),
            issuer: Some("Sở Y tế".into()),
            file_name: "tm.pdf".into(),
            size_bytes: stored.size,
            sha256: stored.sha256,
            stored_path: stored.path.display().to_string(),
        }
    };
    let first = new_doc(b"%PDF-1.4 thuyet minh 1", "12/SYT-KHTC");
    let doc = w
        .store
        .tasks()
        .add_document_as(&w.officer, &first, t0())
        .await
        .unwrap();
    let history = w.store.audit().history(&id).await.unwrap();
    let entry = history.last().unwrap();
    assert_eq!(entry.kind, "document");
    assert_eq!(entry.actor_user, w.officer.user);
    assert_eq!(entry.documents, vec![doc.id.clone()]);
    let evidence: Evidence = serde_json::from_str(entry.evidence.as_deref().unwrap()).unwrap();
    let up = evidence.document.clone().unwrap();
    assert_eq!(
        (
            up.id.as_str(),
            up.sha256.as_str(),
            up.doc_type.as_str(),
            up.number.as_deref(),
            up.issuer.as_deref(),
            up.uploaded_by.as_str(),
            up.issued_on.as_deref()
        ),
        (
            doc.id.as_str(),
            first.sha256.as_str(),
            "thuyet_minh_du_toan",
            Some("12/SYT-KHTC"),
            Some("Sở Y tế"),
            w.officer.user.as_str(),
            Some("2026-03-01")
        )
    );
    assert_eq!(
        stored(&w, &id).await.version,
        version,
        "an upload is no move"
    );

    // Concurrent uploads and a transition citing the first document: one chain, all written.
    let mut jobs = Vec::new();
    for i in 0..6 {
        let store = w.store.clone();
        let officer = w.officer.clone();
        let d = new_doc(
            format!("%PDF-1.4 phu luc {i}").as_bytes(),
            &format!("{i}/PL"),
        );
        jobs.push(tokio::spawn(async move {
            store
                .tasks()
                .add_document_as(&officer, &d, t0())
                .await
                .map(|_| ())
        }));
    }
    let mut r = req(&id, "trinh_thu_truong");
    r.document_ids = vec![doc.id.clone()];
    let moved = w.store.tasks().transition_as(&w.officer, &r, t0()).await;
    for j in jobs {
        j.await.unwrap().unwrap();
    }
    let moved = moved.unwrap();
    assert_eq!(moved.version, version + 1);
    let history = w.store.audit().history(&id).await.unwrap();
    assert_eq!(
        history.iter().filter(|e| e.kind == "document").count(),
        7,
        "every upload is an entry"
    );
    let cited = history
        .iter()
        .find(|e| e.transition == "trinh_thu_truong")
        .unwrap();
    let evidence: Evidence = serde_json::from_str(cited.evidence.as_deref().unwrap()).unwrap();
    assert_eq!(
        evidence.hashes(),
        vec![(doc.id.as_str(), first.sha256.as_str())]
    );
    let report = w.store.audit().verify().await.unwrap();
    assert!(report.broken.is_none(), "{report:?}");
    let ok = w.store.audit().verify_documents(&files).await.unwrap();
    assert!(ok.broken.is_none(), "{ok:?}");

    // A privileged hand swaps the row's hash and file for another file: the entries' hashes
    // give it away.
    let forged = files.put(b"%PDF-1.4 ho so khac").unwrap();
    let edit = format!(
        "UPDATE documents SET sha256 = '{}', size_bytes = {}, stored_path = '{}' WHERE id = '{}'",
        forged.sha256,
        forged.size,
        forged.path.display(),
        doc.id
    );
    db.exec(&unguarded(&db, "documents", edit)).await;
    let report = w.store.audit().verify_documents(&files).await.unwrap();
    let (bad, why) = report.broken.expect("the swapped row is found");
    assert_eq!(bad, doc.id);
    assert!(why.contains("recorded sha256"), "{why}");

    // Rewriting the evidence instead breaks the chain.
    let edit = format!(
        "UPDATE audit_log SET evidence = REPLACE(evidence, '{}', '{}') WHERE id = {}",
        first.sha256, forged.sha256, cited.id
    );
    db.exec(&unguarded(&db, "audit_log", edit)).await;
    let broken = w.store.audit().verify().await.unwrap().broken.unwrap();
    assert_eq!(broken.audit_id, Some(cited.id));
}

/// Issue 13, security 7: the database and its WAL were created readable by everyone (umask).
/// A new SQLite file is now created 0600, and SQLite gives its -wal and -shm files the same.
async fn a_new_sqlite_database_is_the_owners_only(db: TestDb) {
    use std::os::unix::fs::PermissionsExt;
    if db.backend != "sqlite" {
        return;
    }
    let w = world(&db).await;
    w.store
        .tasks()
        .create_as(&w.officer, &new_task("Số hóa lưu trữ"), None, t0())
        .await
        .unwrap();
    let file = db.url.trim_start_matches("sqlite://").to_string();
    for f in [file.clone(), format!("{file}-wal"), format!("{file}-shm")] {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
}

/// Closing the store folds SQLite's write-ahead log into the database file and removes it, as
/// the pool's last connection does when it closes, even after transitions whose tasks were read
/// on the store's point readers (connections of their own beside the pool, closed first).
async fn closing_the_store_folds_the_write_ahead_log(db: TestDb) {
    if db.backend != "sqlite" {
        return;
    }
    let w = world(&db).await;
    let id = created(&w, "Số hóa hồ sơ lưu trữ").await;
    step(&w, &w.officer, &req(&id, "bat_dau_lap_thuyet_minh"), t0()).await;
    assert_eq!(stored(&w, &id).await.state, "lap_thuyet_minh");
    let wal = format!("{}-wal", db.url.trim_start_matches("sqlite://"));
    assert!(std::path::Path::new(&wal).exists(), "{wal} while open");
    w.store.close().await;
    assert!(!std::path::Path::new(&wal).exists(), "{wal} after close");
}

/// Group commit (always on SQLite, turned on here for PostgreSQL): transitions sent together
/// share transactions, yet each keeps its own outcome. In one burst: a transition on each of 24
/// tasks; on 6 of them a rival with the same expected version (one wins, one is a conflict);
/// on 6 others a retry with the same idempotency key (one write, the same outcome twice); 4
/// refusals; and one task whose audit insert the database refuses (its request fails, nobody
/// else's). Repeated on fresh tasks until a transaction carried more than one transition (at
/// most 5 bursts).
async fn group_commit_keeps_each_transitions_own_outcome(db: TestDb) {
    let w = world(&db).await;
    let store = w.store.clone().with_group_commit(true);
    assert!(store.group_commit());
    for burst in 0..5 {
        let mut ids = Vec::new();
        for i in 0..25 {
            ids.push(created(&w, &format!("Nhiệm vụ gộp {burst}-{i}")).await);
        }
        let poisoned = ids[24].clone();
        if db.backend == "postgres" {
            db.exec(&format!(
                "CREATE OR REPLACE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.task_id = '{poisoned}' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$; \
                 CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION fail_audit();"
            ))
            .await;
        } else {
            db.exec(&format!(
                "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log WHEN NEW.task_id = '{poisoned}' \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
            ))
            .await;
        }
        let before = (
            store.count("audit_log").await.unwrap(),
            store.count("timers").await.unwrap(),
            store.count("outbox").await.unwrap(),
        );
        let stats_before = store.group_commit_stats().unwrap();
        // (task index, request, who): every request of the burst at once.
        let mut requests = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let mut r = req(id, "bat_dau_lap_thuyet_minh");
            r.expected_version = adapters::store::Expected::Version(1);
            if (6..12).contains(&i) {
                r.idempotency_key = Some(format!("gop-{burst}-{i}"));
            }
            requests.push((i, r.clone(), w.officer.clone()));
            if i < 12 {
                // A rival (i < 6) or a retry with the same key (6 ≤ i < 12).
                requests.push((i, r, w.officer.clone()));
            }
            if (12..16).contains(&i) {
                // Not the officer's to take: refused, whatever the others do.
                requests.push((i, req(id, "tam_hoan"), w.officer.clone()));
            }
        }
        let mut handles = Vec::new();
        for (i, r, actor) in requests {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                (
                    i,
                    r.transition.clone(),
                    store.tasks().transition_as(&actor, &r, t0()).await,
                )
            }));
        }
        let mut won = [0; 25];
        let mut conflicts = [0; 25];
        let mut replayed = [0; 25];
        let mut refused = 0;
        let mut audit_ids = BTreeSet::new();
        for h in handles {
            let (i, transition, result) = h.await.unwrap();
            match result {
                Ok(o) if o.replayed => replayed[i] += 1,
                Ok(o) => {
                    won[i] += 1;
                    assert_eq!(o.version, 2);
                    assert!(audit_ids.insert(o.audit_id), "one audit entry per outcome");
                }
                Err(StoreError::Conflict {
                    expected: 1,
                    current: 2,
                }) => conflicts[i] += 1,
                Err(StoreError::Rejected(_)) if transition == "tam_hoan" => refused += 1,
                Err(StoreError::Database(e)) if i == 24 => {
                    assert!(e.to_string().contains("injected failure"), "{e}");
                }
                Err(e) => panic!("task {i} {transition}: {e:?}"),
            }
        }
        for i in 0..24 {
            assert_eq!(won[i], 1, "task {i}: one transition written");
            if i < 6 {
                assert_eq!(conflicts[i], 1, "task {i}: the rival is a conflict");
            } else if i < 12 {
                // The retry either replays the first outcome or, queued behind it in the same
                // batch, is answered with it: never written twice.
                assert_eq!(replayed[i] + conflicts[i], 1, "task {i}: the retry");
                assert_eq!(conflicts[i], 0, "task {i}: a retry with its key replays");
            }
        }
        assert_eq!(refused, 4);
        assert_eq!(won[24], 0, "the refused write is nobody's outcome");
        // What was written: 24 transitions with their audit entries, nothing of the rest.
        assert_eq!(store.count("audit_log").await.unwrap(), before.0 + 24);
        for id in &ids[..24] {
            let t = store.tasks().unscoped().get(id).await.unwrap();
            assert_eq!(
                (t.version, t.state.as_str()),
                (2, "lap_thuyet_minh"),
                "{id}"
            );
        }
        let poisoned_task = store.tasks().unscoped().get(&poisoned).await.unwrap();
        assert_eq!(poisoned_task.version, 1, "the failed write left no trace");
        assert!(store.count("timers").await.unwrap() >= before.1);
        assert!(store.count("outbox").await.unwrap() >= before.2);
        if db.backend == "postgres" {
            db.exec("DROP TRIGGER fail_audit ON audit_log").await;
        } else {
            db.exec("DROP TRIGGER fail_audit").await;
        }
        let report = store.audit().verify().await.unwrap();
        assert!(report.broken.is_none(), "{report:?}");
        the_records_name_their_audit_entries(&db, &ids[..24]).await;
        let stats = store.group_commit_stats().unwrap();
        assert!(stats.transitions > stats_before.transitions);
        if db.backend == "postgres" {
            // Batches without the poisoned task are written by one statement each.
            assert!(stats.set_based > stats_before.set_based, "{stats:?}");
        }
        if stats.largest > 1 {
            println!("group commit ({}): burst {burst}, {stats:?}", db.backend);
            return;
        }
    }
    panic!("no transaction carried more than one transition in 5 bursts");
}

/// Each notification of `tasks` names the audit entry of its task's transition, and each
/// idempotency record the entry its outcome reports: the ids that the writer puts in their JSON
/// once the entry is written, whichever way the writer wrote the batch.
async fn the_records_name_their_audit_entries(db: &TestDb, tasks: &[String]) {
    let list = tasks
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let entries: Vec<(i64, String, i64, String)> = db
        .rows(&format!(
            "SELECT id, task_id, seq, transition FROM audit_log WHERE task_id IN ({list})"
        ))
        .await;
    let entry = |id: i64| entries.iter().find(|e| e.0 == id);
    let messages: Vec<(String, String)> = db
        .rows(&format!(
            "SELECT task_id, payload FROM outbox WHERE task_id IN ({list})"
        ))
        .await;
    let mut transitions = 0;
    for (task, payload) in &messages {
        let p: serde_json::Value = serde_json::from_str(payload).unwrap();
        let named = entry(p["audit_id"].as_i64().unwrap()).unwrap_or_else(|| panic!("{payload}"));
        assert_eq!(
            (&named.1, Some(named.3.as_str())),
            (task, p["transition"].as_str()),
            "{payload}"
        );
        transitions += usize::from(named.3 == "bat_dau_lap_thuyet_minh");
    }
    assert!(transitions > 0, "the transitions notified someone");
    let outcomes: Vec<(String, String)> = db
        .rows(&format!(
            "SELECT task_id, outcome FROM idempotency WHERE task_id IN ({list})"
        ))
        .await;
    for (task, outcome) in &outcomes {
        let o: TransitionOutcome = serde_json::from_str(outcome).unwrap();
        let named = entry(o.audit_id).unwrap_or_else(|| panic!("{outcome}"));
        assert_eq!((&named.1, named.2), (task, o.audit_seq), "{outcome}");
    }
}

/// The group-commit writer keeps its connection while transitions keep coming (its page cache
/// stays warm), but gives it back once they stop: closing the store, which waits for every
/// connection, returns after a burst of transitions instead of waiting forever.
async fn the_group_commit_writer_gives_its_connection_back(db: TestDb) {
    let w = world(&db).await;
    let store = w.store.clone().with_group_commit(true);
    for i in 0..3 {
        let o = store
            .tasks()
            .create_as(&w.officer, &new_task(&format!("Nhiệm vụ {i}")), None, t0())
            .await
            .unwrap();
        store
            .tasks()
            .transition_as(
                &w.officer,
                &req(&o.task_id, "bat_dau_lap_thuyet_minh"),
                t0(),
            )
            .await
            .unwrap();
    }
    let stats = store.group_commit_stats().unwrap();
    assert_eq!(stats.transitions, 3, "{stats:?}");
    tokio::time::timeout(std::time::Duration::from_secs(10), store.close())
        .await
        .expect("the store closes: the writer gave its connection back");
}
