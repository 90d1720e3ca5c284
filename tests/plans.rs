//! Plans that span years (issue 14), on SQLite and PostgreSQL by the same test code: the
//! migration of a database created by the previous release, the plans a task is listed in with
//! each year's budget line, the budget history and the year-level status.

mod common;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use adapters::store::Store;
use common::TestDb;
use engine::Role;
use engine::catalogue::{ImportPlan, PlanImport};
use engine::decide::Actor;
use engine::plan::YearStatus;
use engine::time::{Instant, parse_instant};
use sqlx::Connection;

on_both_backends!(
    a_database_of_the_previous_release_migrates_keeping_everything,
    a_task_shows_every_plan_it_is_listed_in_with_the_years_budget,
    the_year_status_is_recorded_apart_from_the_lifecycle_and_audited,
);

const PLAN: &str = "215/KH-UBND";
const TITLE: &str = "Kế hoạch ứng dụng công nghệ thông tin, phát triển chính quyền số năm 2025";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn data(name: &str) -> PathBuf {
    root().join("data/plan-215-2025").join(name)
}

fn actor(user: &str, role: Role, units: &[&str]) -> Actor {
    Actor {
        user: user.into(),
        roles: vec![role],
        units: units.iter().map(|u| u.to_string()).collect(),
    }
}

fn at(s: &str) -> Instant {
    parse_instant(s).unwrap()
}

/// Migration 0006 is the last one the previous release shipped.
const PREVIOUS_RELEASE: i64 = 6;

/// The database as the previous release left it: its migrations (the files of this tree up to
/// 0006, unchanged since), then the data it wrote (`tiendo demo` and `tiendo audit seal`, dumped
/// from databases that release created: tests/fixtures/release-0006/).
async fn previous_release(db: &TestDb) {
    let dir = root().join("migrations").join(db.backend);
    let mut migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
    migrator.migrations = Cow::Owned(
        migrator
            .migrations
            .iter()
            .filter(|m| m.version <= PREVIOUS_RELEASE)
            .cloned()
            .collect(),
    );
    if db.backend == "postgres" {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        migrator.run(&mut c).await.unwrap();
    } else {
        let opts = format!("{}?mode=rwc", db.url);
        let mut c = sqlx::SqliteConnection::connect(&opts).await.unwrap();
        migrator.run(&mut c).await.unwrap();
    }
    let fixture = root()
        .join("tests/fixtures/release-0006")
        .join(format!("{}.sql", db.backend));
    db.exec(&std::fs::read_to_string(fixture).unwrap()).await;
}

/// A budget line: task, year and the four amounts.
type BudgetRow = (
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// What must survive a migration: every task with its state and audit head, every audit entry,
/// every budget line.
#[derive(Debug, PartialEq, Eq)]
struct Kept {
    tasks: Vec<(String, String, String, String, i64, String)>,
    audit: Vec<(String, i64, String)>,
    budget: Vec<BudgetRow>,
}

async fn kept(db: &TestDb) -> Kept {
    macro_rules! read {
        ($c:expr) => {
            Kept {
                tasks: sqlx::query_as(
                    "SELECT id, plan_id, name, state, audit_seq, audit_head FROM tasks ORDER BY id",
                )
                .fetch_all(&mut $c)
                .await
                .unwrap(),
                audit: sqlx::query_as("SELECT task_id, seq, hash FROM audit_log ORDER BY task_id, seq")
                    .fetch_all(&mut $c)
                    .await
                    .unwrap(),
                budget: sqlx::query_as(
                    "SELECT task_id, year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd \
                     FROM budget_lines ORDER BY task_id, year",
                )
                .fetch_all(&mut $c)
                .await
                .unwrap(),
            }
        };
    }
    if db.backend == "postgres" {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        read!(c)
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        read!(c)
    }
}

fn plan_215(file: &str) -> PlanImport {
    PlanImport {
        plan: ImportPlan {
            number: PLAN.into(),
            year: 2025,
            title: TITLE.into(),
            issued_on: None,
        },
        rows: adapters::import::read_file(&data(file), None).unwrap(),
        totals: Some(adapters::import::read_file(&data("totals.csv"), None).unwrap()),
        skip_invalid: false,
    }
}

async fn a_database_of_the_previous_release_migrates_keeping_everything(db: TestDb) {
    previous_release(&db).await;
    let before = kept(&db).await;
    assert_eq!(before.tasks.len(), 63);
    assert_eq!(before.audit.len(), 66);
    assert_eq!(before.budget.len(), 63);

    let store = db.store().await;
    assert_eq!(
        kept(&db).await,
        before,
        "tasks, audit entries, budget lines"
    );
    let verified = store.audit().verify().await.unwrap();
    assert!(verified.broken.is_none(), "{verified:?}");
    assert_eq!((verified.tasks, verified.entries), (63, 66));

    // Every task is listed in its plan, in the appendix of its funding source, with its budget
    // line; every line has its first history entry.
    let ids: Vec<&str> = before.tasks.iter().map(|t| t.0.as_str()).collect();
    let listings = store.plans().listings_of(&ids).await.unwrap();
    assert_eq!(listings.len(), 63);
    for (id, ls) in &listings {
        assert_eq!(ls.len(), 1, "{id}");
        let l = &ls[0];
        assert_eq!((l.plan_number.as_str(), l.plan_year), (PLAN, 2025));
        assert!(["1", "2", "3", "4"].contains(&l.section.as_str()));
        let line = before.budget.iter().find(|b| &b.0 == id).unwrap();
        let b = l.budget.unwrap();
        assert_eq!(
            (
                b.need_total_vnd,
                b.approved_estimate_vnd,
                b.need_year_vnd,
                b.allocated_year_vnd
            ),
            (line.2, line.3, line.4, line.5)
        );
    }
    assert_eq!(store.count("budget_history").await.unwrap(), 63);

    // The plan's next import finds every task by its listing: nothing is duplicated, and the
    // row the printer omitted (restored in data/plan-215-2025) is the one new task.
    let report = store
        .imports()
        .import_plan(
            "cli:tester",
            plan_215("tasks.csv"),
            at("2026-01-05T09:00:00+07:00"),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            report.outcome.created,
            report.outcome.updated.len(),
            report.outcome.unchanged
        ),
        (1, 0, 63)
    );
    assert_eq!(store.count("tasks").await.unwrap(), 64);
    // Migrating again changes nothing.
    assert_eq!(store.migrate().await.unwrap(), 0);
}

async fn a_task_shows_every_plan_it_is_listed_in_with_the_years_budget(db: TestDb) {
    let store = db.store().await;
    store
        .imports()
        .import_plan(
            "cli:tester",
            plan_215("tasks.csv"),
            at("2025-09-01T09:00:00+07:00"),
        )
        .await
        .unwrap();
    assert_eq!(store.count("tasks").await.unwrap(), 64);
    let restored = task_named(&store, "Di chuyển, cài đặt lại Trung tâm dữ liệu").await;
    let ls = store.plans().listings(&restored).await.unwrap();
    assert_eq!(ls.len(), 1);
    assert_eq!(
        (
            ls[0].section.as_str(),
            ls[0].category.as_deref(),
            ls[0].printed_seq.as_deref()
        ),
        ("3", Some("su_nghiep_cntt"), None)
    );
    let b = ls[0].budget.unwrap();
    assert_eq!(
        (
            b.year,
            b.need_year_vnd,
            b.allocated_year_vnd,
            b.need_total_vnd
        ),
        (2025, Some(500_000_000), Some(500_000_000), None)
    );
    // The figures are in the history, known from the import's day.
    assert_eq!(store.count("budget_history").await.unwrap(), 64);
}

async fn task_named(store: &Store, prefix: &str) -> String {
    let all = store
        .tasks()
        .unscoped()
        .list(&adapters::store::TaskFilter::default())
        .await
        .unwrap();
    all.into_iter()
        .find(|t| t.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no task named {prefix}…"))
        .id
}

async fn the_year_status_is_recorded_apart_from_the_lifecycle_and_audited(db: TestDb) {
    let store = db.store().await;
    store
        .imports()
        .import_plan(
            "cli:tester",
            plan_215("tasks.csv"),
            at("2025-09-01T09:00:00+07:00"),
        )
        .await
        .unwrap();
    // A 5-year rental (2024-2029): "Hoàn thành" for 2025 while its lifecycle goes on.
    let rental = task_named(
        &store,
        "Thuê dịch vụ công nghệ thông tin “Triển khai hệ thống",
    )
    .await;
    let skhcn = actor("chuyenvien.skhcn", Role::Skhcn, &[]);
    let officer = actor("canbo.syt", Role::DonVi, &["so-y-te"]);
    let now = at("2025-12-31T16:00:00+07:00");
    let refused = store
        .plans()
        .set_year_status_as(
            &officer,
            PLAN,
            &rental,
            Some(YearStatus::HoanThanhNam),
            None,
            now,
        )
        .await;
    assert!(refused.is_err());
    let before = store.tasks().unscoped().get(&rental).await.unwrap();
    let l = store
        .plans()
        .set_year_status_as(
            &skhcn,
            PLAN,
            &rental,
            Some(YearStatus::HoanThanhNam),
            Some("Đã thanh toán năm 2025"),
            now,
        )
        .await
        .unwrap();
    assert_eq!(l.year_status, Some(YearStatus::HoanThanhNam));
    assert_eq!(l.year_status_title.as_deref(), Some("Hoàn thành năm"));
    let after = store.tasks().unscoped().get(&rental).await.unwrap();
    assert_eq!((after.state, after.version), (before.state, before.version));
    assert_eq!(after.audit_seq, before.audit_seq + 1);
    let verified = store.audit().verify().await.unwrap();
    assert!(verified.broken.is_none(), "{verified:?}");
    // A plan that does not list the task is refused with the reason.
    let other = store
        .plans()
        .set_year_status_as(
            &skhcn,
            "359/KH-UBND",
            &rental,
            Some(YearStatus::Cham),
            None,
            now,
        )
        .await
        .unwrap_err();
    assert!(
        other
            .to_string()
            .contains("không có trong kế hoạch 359/KH-UBND"),
        "{other}"
    );
}
