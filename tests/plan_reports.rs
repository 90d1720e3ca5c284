//! Plans that span years, their reports and their budgets (issue 14), on SQLite and PostgreSQL
//! by the same test code: the progress and status reports by a plan's layout and year, figures
//! as known on `--as-of` (the same report of the same date is the same bytes later), budgets
//! with tranches and history, lineage, renames and year-level statuses, through the store, the
//! CLI and the API; and the migration of a database of the previous release (0010).

mod common;
#[path = "api/helpers.rs"]
mod helpers;

use adapters::report::{self, Format, ProgressParams, StatusParams};
use adapters::store::Store;
use common::plans::{
    PLAN, PLAN_359, at, data, import_command, imported, plan_359, root, task_named,
};
use common::{TestDb, actor, ok, tiendo};
use engine::Role;
use engine::decide::Actor;
use engine::plan::budget::{YearBudget, parse_tranche};
use engine::plan::import::LinkMode;
use engine::plan::layout::parse_layout;
use engine::plan::{Relation, YearStatus};
use engine::time::end_of_day;
use helpers::{Who, json, problem};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    the_progress_report_prints_each_plan_by_its_layout_and_names_continuing_and_new_tasks,
    a_report_as_of_a_date_is_the_same_bytes_whenever_it_is_made,
    the_status_report_judges_a_plan_year_by_the_year_status,
    a_budget_has_tranches_and_keeps_its_history,
    lineage_and_renames_are_audited_events_of_the_same_task,
    reports_name_the_plan_by_year_or_refuse_with_the_reason,
    the_command_line_sets_budgets_links_renames_and_reports_by_year,
    the_api_serves_budgets_lineage_renames_and_reports_by_year,
    a_database_before_0016_migrates_and_shows_the_planned_allocation_from_when_it_is_known,
    a_database_of_release_0010_migrates_keeping_tasks_audit_chains_and_budget_lines,
    plan_215s_layout_prints_phu_luc_3_without_unit_rows_and_phu_luc_4_with_its_unit_column,
);

/// A 5-year rental (2024-2028) in Phụ lục 1, in its contract phase.
const RENTAL: &str = "Triển khai hệ thống Cổng thông tin điện tử ngành Giáo dục";

fn day(s: &str) -> chrono::NaiveDate {
    engine::time::parse_date(s).unwrap()
}

fn skhcn() -> Actor {
    actor("chuyenvien.skhcn", Role::Skhcn, &[])
}

/// Plan 215, then Plan 359 Phụ lục II (13 rows linked, 1 created) on 05/01/2026.
async fn with_both_plans(store: &Store) {
    imported(store, true).await;
    let r = store
        .imports()
        .import_printed(
            "cli:tester",
            plan_359(LinkMode::AutoLink(0.8)),
            at("2026-01-05T09:00:00+07:00"),
        )
        .await
        .unwrap();
    assert_eq!((r.outcome.linked.len(), r.outcome.created), (13, 1));
}

async fn progress_md(store: &Store, plan: &str, as_of: &str) -> String {
    let r = report::progress(
        store,
        &ProgressParams {
            plan: plan.into(),
            year: None,
            as_of: day(as_of),
            units: None,
        },
        Format::Markdown,
    )
    .await
    .unwrap();
    String::from_utf8(r.bytes).unwrap()
}

async fn progress_xlsx(store: &Store, plan: &str, as_of: &str) -> Vec<u8> {
    report::progress(
        store,
        &ProgressParams {
            plan: plan.into(),
            year: None,
            as_of: day(as_of),
            units: None,
        },
        Format::Xlsx,
    )
    .await
    .unwrap()
    .bytes
}

async fn the_progress_report_prints_each_plan_by_its_layout_and_names_continuing_and_new_tasks(
    db: TestDb,
) {
    let store = db.store().await;
    with_both_plans(&store).await;
    // Plan 215 has no layout of its own (imported from the normalized CSV): its four appendices,
    // titled as Plan 215 prints them.
    let md = progress_md(&store, PLAN, "2025-11-05").await;
    for text in [
        "Kế hoạch được phê duyệt có tổng số 64 nhiệm vụ trong 4 phụ lục",
        "Trong đó: 26 nhiệm vụ tiếp tục triển khai theo kế hoạch đã được phê duyệt từ những năm trước; 38 nhiệm vụ bắt đầu năm 2025.",
        "1. Phụ lục 1: DANH MỤC NHIỆM VỤ THƯỜNG XUYÊN",
        "Phụ lục 2: DANH MỤC NHIỆM VỤ CẦN HOÀN THÀNH TRONG NĂM 2025",
        "Tiến độ tính đến 05/11/2025",
    ] {
        assert!(md.contains(text), "Plan 215 report lacks {text}:\n{md}");
    }
    assert!(
        !md.to_lowercase()
            .contains("sử dụng kinh phí chi thường xuyên"),
        "{md}"
    );
    assert!(!md.contains("dự kiến phân bổ năm 2025"), "{md}");
    // Continuing tasks are named in their appendix, apart from those that start in 2025.
    assert!(
        md.contains("nhiệm vụ tiếp tục triển khai theo kế hoạch thuê đã được phê duyệt từ những năm trước: «")
            || md.contains("nhiệm vụ tiếp tục triển khai theo kế hoạch đã được phê duyệt từ những năm trước: «"),
        "{md}"
    );

    // Plan 359 lists 13 Plan 215 tasks and one new one in its Phụ lục II, with that section's
    // columns: no progress column, the 2026 allocation and notes.
    let md = progress_md(&store, PLAN_359, "2026-03-31").await;
    for text in [
        "Kế hoạch được phê duyệt có tổng số 14 nhiệm vụ trong 1 phụ lục",
        "1. Phụ lục II: DANH MỤC NHIỆM VỤ CHUYỂN ĐỔI SỐ CHUYỂN TIẾP NĂM 2026",
        "Trong đó: 14 nhiệm vụ tiếp tục triển khai theo kế hoạch",
        "0 nhiệm vụ bắt đầu năm 2026",
        "| TT | Tên nhiệm vụ | Thời gian thực hiện | Kinh phí: Dự toán được duyệt | Kinh phí: Nhu cầu kinh phí năm 2026 | Kinh phí: Dự kiến phân bổ năm 2026 | Ghi chú |",
        "Kỳ họp số di động",
        "**TỔNG**",
    ] {
        assert!(md.contains(text), "Plan 359 report lacks {text}:\n{md}");
    }
    assert!(!md.contains("Tiến độ tính đến"), "{md}");
    // "Dự kiến phân bổ năm 2026" prints the planned allocation: its TỔNG is the sheet's.
    let total = md.lines().find(|l| l.contains("**TỔNG**")).unwrap();
    assert!(
        total.ends_with("| **647.620** | **184.439** | **169.439** |  |"),
        "{total}"
    );
    // The body names the planned allocation beside the other figures (Plan 215's, which has
    // none, does not: its body reads as printed).
    assert!(
        md.contains("nhu cầu năm 2026 184.439 triệu đồng; dự kiến phân bổ năm 2026 169.439 triệu đồng; đã phân bổ năm 2026 0 triệu đồng."),
        "{md}"
    );
    // The 2026 figures of the linked tasks, not their 2025 ones: the TỔNG row matches the
    // sheet's TỔNG row (the import reconciled it).
    let book = progress_xlsx(&store, PLAN_359, "2026-03-31").await;
    let x: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(book)).unwrap();
    use calamine::Reader;
    assert_eq!(x.sheet_names(), vec!["Báo cáo", "Phụ lục II"]);
}

async fn a_report_as_of_a_date_is_the_same_bytes_whenever_it_is_made(db: TestDb) {
    let store = db.store().await;
    imported(&store, true).await;
    let rental = task_named(&store, RENTAL).await;
    let other = task_named(&store, "Triển khai hệ thống thông tin nguồn").await;
    let md_before = progress_md(&store, PLAN, "2025-11-05").await;
    let xlsx_before = progress_xlsx(&store, PLAN, "2025-11-05").await;
    let status_before = status_md(&store, Some(PLAN), "2025-11-05").await;

    // Later: a new budget line (one figure set backdated to October), a year status, a rename,
    // a link, a step.
    let s = skhcn();
    let later = at("2025-12-01T09:00:00+07:00");
    store
        .plans()
        .set_budget_as(
            &s,
            &rental,
            2025,
            YearBudget {
                need_total_vnd: Some(7_914_000_000),
                approved_estimate_vnd: Some(7_914_000_000),
                need_year_vnd: Some(1_852_000_000),
                tranches: vec![
                    parse_tranche("1:1.000:100/QĐ-UBND:15/03/2025").unwrap(),
                    parse_tranche("2:777:200/QĐ-UBND:01/10/2025").unwrap(),
                ],
                ..YearBudget::default()
            },
            Some(day("2025-10-01")),
            later,
        )
        .await
        .unwrap();
    store
        .plans()
        .set_year_status_as(
            &s,
            PLAN,
            &rental,
            Some(YearStatus::HoanThanhNam),
            Some("Đã thanh toán năm 2025"),
            later,
        )
        .await
        .unwrap();
    store
        .plans()
        .rename_as(
            &s,
            &other,
            Some("Hệ thống thông tin nguồn thành phố (giai đoạn 2)"),
            None,
            "Đổi tên theo Kế hoạch 359",
            later,
        )
        .await
        .unwrap();
    store
        .plans()
        .link_as(
            &s,
            &other,
            Relation::Continues,
            &rental,
            "Thử liên kết",
            later,
        )
        .await
        .unwrap();

    // The report of 05/11/2025 is the same, byte for byte.
    assert_eq!(progress_md(&store, PLAN, "2025-11-05").await, md_before);
    assert_eq!(progress_xlsx(&store, PLAN, "2025-11-05").await, xlsx_before);
    assert_eq!(
        status_md(&store, Some(PLAN), "2025-11-05").await,
        status_before
    );
    // Of 31/12/2025 it shows what was known by then.
    let md = progress_md(&store, PLAN, "2025-12-31").await;
    assert_ne!(md, md_before);
    assert!(
        md.contains("Hệ thống thông tin nguồn thành phố (giai đoạn 2)"),
        "{md}"
    );
    assert!(
        md.contains("Tình trạng năm 2025: 1 nhiệm vụ hoàn thành năm."),
        "{md}"
    );
    // Phụ lục 1's allocation went from 37.193,4 to 37.193,4 - 1.442 + 1.777.
    assert!(md_before.contains("**37.193,4**"), "{md_before}");
    assert!(md.contains("**37.528,4**"), "{md}");
}

async fn status_md(store: &Store, plan: Option<&str>, to: &str) -> String {
    let r = report::status(
        store,
        &StatusParams {
            plan: plan.map(str::to_string),
            year: None,
            from: day("2025-01-01"),
            to: day(to),
            stall_days: None,
            units: None,
        },
        Format::Markdown,
    )
    .await
    .unwrap();
    String::from_utf8(r.bytes).unwrap()
}

async fn the_status_report_judges_a_plan_year_by_the_year_status(db: TestDb) {
    use adapters::report::status::{Category, categorize};
    let store = db.store().await;
    imported(&store, true).await;
    let rental = task_named(&store, RENTAL).await;
    let plan = store.directory().plan(PLAN).await.unwrap();
    let category = |rows: &[adapters::store::ReportRow]| {
        let r = rows.iter().find(|r| r.task_id == rental).unwrap();
        categorize(r, day("2025-01-01"), day("2025-12-31"))
    };
    let rows_on = |d: &'static str| {
        let store = store.clone();
        let plan = plan.clone();
        async move {
            let mut rows = store
                .reports()
                .report_rows(Some(&plan.id), end_of_day(day(d)))
                .await
                .unwrap();
            store
                .reports()
                .as_of(&mut rows, &plan, day(d))
                .await
                .unwrap();
            rows
        }
    };
    // Its lifecycle runs to 2028: by it, the rental is in progress.
    let before = rows_on("2025-12-31").await;
    assert_eq!(category(&before), Category::InProgress);
    store
        .plans()
        .set_year_status_as(
            &skhcn(),
            PLAN,
            &rental,
            Some(YearStatus::HoanThanhNam),
            None,
            at("2025-12-20T09:00:00+07:00"),
        )
        .await
        .unwrap();
    // Judged by its year: completed for 2025, from the day it was recorded.
    let after = rows_on("2025-12-31").await;
    assert_eq!(category(&after), Category::CompletedOnTime);
    let r = after.iter().find(|r| r.task_id == rental).unwrap();
    assert_eq!(r.year_status, Some(YearStatus::HoanThanhNam));
    assert_eq!(
        store.tasks().unscoped().get(&rental).await.unwrap().phase,
        engine::Phase::Contract
    );
    assert_eq!(category(&rows_on("2025-12-19").await), Category::InProgress);
    // "Chưa triển khai" is on track while the year runs, late once it is over; the history
    // keeps both statuses.
    store
        .plans()
        .set_year_status_as(
            &skhcn(),
            PLAN,
            &rental,
            Some(YearStatus::ChuaTrienKhai),
            None,
            at("2025-12-21T09:00:00+07:00"),
        )
        .await
        .unwrap();
    let rows = rows_on("2025-12-31").await;
    let r = rows.iter().find(|r| r.task_id == rental).unwrap();
    assert_eq!(
        categorize(r, day("2025-01-01"), day("2025-12-31")),
        Category::InProgress
    );
    assert_eq!(
        categorize(r, day("2025-01-01"), day("2026-01-15")),
        Category::Overdue
    );
    assert_eq!(store.count("plan_listings").await.unwrap(), 64);
    let verified = store.audit().verify().await.unwrap();
    assert!(verified.broken.is_none(), "{verified:?}");
}

async fn a_budget_has_tranches_and_keeps_its_history(db: TestDb) {
    let store = db.store().await;
    imported(&store, true).await;
    let rental = task_named(&store, RENTAL).await;
    let plans = store.plans();
    let s = skhcn();
    let imported = plans.budget_of(&rental, 2025, None).await.unwrap();
    assert_eq!(imported.history.len(), 1);
    assert_eq!(imported.budget.allocated_year_vnd, Some(1_442_000_000));
    let seq_before = store
        .tasks()
        .unscoped()
        .get(&rental)
        .await
        .unwrap()
        .audit_seq;

    // Two tranches make the allocation; spent and carried over are kept with them.
    let r = plans
        .set_budget_as(
            &s,
            &rental,
            2025,
            YearBudget {
                approved_estimate_vnd: Some(7_914_000_000),
                need_year_vnd: Some(1_852_000_000),
                carried_over_vnd: Some(100_000_000),
                spent_vnd: Some(900_000_000),
                tranches: vec![
                    parse_tranche("2:800:200/QĐ-UBND:01/09/2025").unwrap(),
                    parse_tranche("1:1.000:100/QĐ-UBND:15/03/2025").unwrap(),
                ],
                ..YearBudget::default()
            },
            Some(day("2025-09-15")),
            at("2025-09-15T10:00:00+07:00"),
        )
        .await
        .unwrap();
    assert_eq!(r.budget.allocated_year_vnd, Some(1_800_000_000));
    assert_eq!(r.budget.tranches.len(), 2);
    assert_eq!(
        r.budget.tranches[0].decision_number.as_deref(),
        Some("100/QĐ-UBND")
    );
    assert_eq!(r.budget.tranches[1].decision_on, Some(day("01/09/2025")));
    assert_eq!(r.history.len(), 2);
    // As of an earlier date: the imported figures, without tranches.
    let then = plans
        .budget_of(&rental, 2025, Some(day("2025-09-10")))
        .await
        .unwrap();
    assert_eq!(then.budget.allocated_year_vnd, Some(1_442_000_000));
    assert!(then.budget.tranches.is_empty());
    // The line itself, and the task's listing, show the new figures.
    let l = plans.listings(&rental).await.unwrap();
    let b = l[0].budget.unwrap();
    assert_eq!(
        (b.allocated_year_vnd, b.carried_over_vnd, b.spent_vnd),
        (Some(1_800_000_000), Some(100_000_000), Some(900_000_000))
    );
    // Audited in the task's chain.
    let t = store.tasks().unscoped().get(&rental).await.unwrap();
    assert_eq!(t.audit_seq, seq_before + 1);
    let history = store.tasks().history_as(&s, &rental).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.kind, "budget");
    assert!(
        last.comment
            .as_deref()
            .is_some_and(|c| c.contains("đợt 1: 1.000, QĐ 100/QĐ-UBND ngày 15/03/2025")),
        "{last:?}"
    );

    // Refusals say why and write nothing.
    let before = store.count("budget_history").await.unwrap();
    let e = plans
        .set_budget_as(
            &s,
            &rental,
            2025,
            YearBudget {
                allocated_year_vnd: Some(5),
                spent_vnd: Some(9_000_000_000),
                tranches: vec![parse_tranche("1:1").unwrap()],
                ..YearBudget::default()
            },
            None,
            at("2025-09-16T10:00:00+07:00"),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("khác tổng các đợt"), "{e}");
    let officer = actor("canbo.sgd", Role::DonVi, &["so-giao-duc-va-dao-tao"]);
    assert!(
        plans
            .set_budget_as(
                &officer,
                &rental,
                2025,
                YearBudget::default(),
                None,
                at("2025-09-16T10:00:00+07:00")
            )
            .await
            .is_err()
    );
    assert_eq!(store.count("budget_history").await.unwrap(), before);
    // A unit's officer reads its own task's budget; another unit's cannot see it.
    assert!(plans.budget_as(&officer, &rental, 2025, None).await.is_ok());
    let stranger = actor("canbo.syt", Role::DonVi, &["so-y-te"]);
    assert!(
        plans
            .budget_as(&stranger, &rental, 2025, None)
            .await
            .is_err()
    );
    let verified = store.audit().verify().await.unwrap();
    assert!(verified.broken.is_none(), "{verified:?}");
}

async fn lineage_and_renames_are_audited_events_of_the_same_task(db: TestDb) {
    let store = db.store().await;
    imported(&store, true).await;
    let old = task_named(&store, "Hệ thống quản lý và tra cứu tiêu chuẩn").await;
    let new = task_named(&store, RENTAL).await;
    let plans = store.plans();
    let s = skhcn();
    let now = at("2026-01-10T09:00:00+07:00");
    let tasks_before = store.count("tasks").await.unwrap();
    let links = plans
        .link_as(
            &s,
            &new,
            Relation::ReproposedFrom,
            &old,
            "Đề xuất lại sau khi tạm hoãn",
            now,
        )
        .await
        .unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].relation, Relation::ReproposedFrom);
    assert_eq!(links[0].actor_user, "chuyenvien.skhcn");
    // Seen from either task.
    assert_eq!(plans.lineage_as(&s, &old).await.unwrap(), links);
    // The same link twice, a task linked to itself, no reason: refused.
    let dup = plans
        .link_as(&s, &new, Relation::ReproposedFrom, &old, "Lần nữa", now)
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("đã tồn tại"), "{dup}");
    assert!(
        plans
            .link_as(&s, &new, Relation::Replaces, &new, "x", now)
            .await
            .is_err()
    );
    assert!(
        plans
            .link_as(&s, &new, Relation::Replaces, &old, " ", now)
            .await
            .is_err()
    );
    // Both chains record it.
    for t in [&old, &new] {
        let h = store.tasks().history_as(&s, t).await.unwrap();
        assert_eq!(h.last().unwrap().kind, "lineage", "{t}");
    }

    // A rename and a kind change: the same task, its old name on record.
    let r = plans
        .rename_as(
            &s,
            &new,
            Some("Cổng thông tin ngành Giáo dục (thuê dịch vụ)"),
            Some("thue-dich-vu"),
            "Theo Kế hoạch 359",
            now,
        )
        .await
        .unwrap();
    assert!(r.old_name.starts_with(RENTAL));
    let t = store.tasks().unscoped().get(&new).await.unwrap();
    assert_eq!(t.name, "Cổng thông tin ngành Giáo dục (thuê dịch vụ)");
    assert_eq!(t.kind, "thue-dich-vu");
    assert_eq!(store.count("tasks").await.unwrap(), tasks_before);
    let h = store.tasks().history_as(&s, &new).await.unwrap();
    assert_eq!(h.last().unwrap().kind, "rename");
    let e = plans
        .rename_as(&s, &new, None, Some("khong-co"), "x", now)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("Loại nhiệm vụ `khong-co` không có"),
        "{e}"
    );
    assert!(
        plans
            .rename_as(&s, &new, None, None, "x", now)
            .await
            .is_err()
    );
    let officer = actor("canbo.sgd", Role::DonVi, &["so-giao-duc-va-dao-tao"]);
    assert!(
        plans
            .rename_as(&officer, &new, Some("X"), None, "x", now)
            .await
            .is_err()
    );
    // The name search finds the new name.
    let verified = store.audit().verify().await.unwrap();
    assert!(verified.broken.is_none(), "{verified:?}");
}

async fn reports_name_the_plan_by_year_or_refuse_with_the_reason(db: TestDb) {
    let store = db.store().await;
    with_both_plans(&store).await;
    let by_year = report::progress(
        &store,
        &ProgressParams {
            plan: String::new(),
            year: Some(2026),
            as_of: day("2026-03-31"),
            units: None,
        },
        Format::Markdown,
    )
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(by_year.bytes).unwrap(),
        progress_md(&store, PLAN_359, "2026-03-31").await
    );
    let wrong = report::progress(
        &store,
        &ProgressParams {
            plan: PLAN.into(),
            year: Some(2026),
            as_of: day("2026-03-31"),
            units: None,
        },
        Format::Markdown,
    )
    .await
    .unwrap_err();
    assert!(
        wrong
            .to_string()
            .contains("là kế hoạch năm 2025, không phải năm 2026"),
        "{wrong}"
    );
    let none = report::status(
        &store,
        &StatusParams {
            plan: None,
            year: Some(2031),
            from: day("2031-01-01"),
            to: day("2031-03-01"),
            stall_days: None,
            units: None,
        },
        Format::Markdown,
    )
    .await
    .unwrap_err();
    assert!(
        none.to_string()
            .contains("Không có kế hoạch nào của năm 2031"),
        "{none}"
    );
    // The status report of Plan 359 covers the tasks it lists, carried over from Plan 215.
    let md = status_md(&store, Some(PLAN_359), "2026-03-31").await;
    assert!(
        md.contains("Kỳ họp số di động") || md.contains("Tổng số 14 nhiệm vụ"),
        "{md}"
    );
}

async fn the_command_line_sets_budgets_links_renames_and_reports_by_year(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = |p: &str| root().join(p).display().to_string();
    ok(&import_command(
        &db,
        d,
        &data("tasks.csv"),
        &["--totals", &file("data/plan-215-2025/totals.csv")],
    ));
    ok(&tiendo(
        &db,
        d,
        &[
            "user",
            "add",
            "khcn",
            "--role",
            "skhcn",
            "--name",
            "Chuyên viên SKHCN",
        ],
    ));
    let store = db.store().await;
    let rental = task_named(&store, RENTAL).await;
    let old = task_named(&store, "Hệ thống quản lý và tra cứu tiêu chuẩn").await;

    let out = ok(&tiendo(
        &db,
        d,
        &[
            "plan",
            "budget",
            "set",
            "--task",
            &rental,
            "--year",
            "2025",
            "--tranche",
            "1:1.000:100/QĐ-UBND:15/03/2025",
            "--tranche",
            "2:500",
            "--spent",
            "1.200",
            "--carried-over",
            "329,7",
            "--planned",
            "1.600",
            "--known-from",
            "01/10/2025",
            "--as",
            "khcn",
        ],
    ));
    assert!(out.contains("Phân bổ năm: 1.500"), "{out}");
    assert!(out.contains("Dự kiến phân bổ năm: 1.600"), "{out}");
    assert!(out.contains("Chuyển nguồn từ năm trước: 329,7"), "{out}");
    assert!(
        out.contains("Đợt 1: 1.000, quyết định 100/QĐ-UBND ngày 15/03/2025"),
        "{out}"
    );
    assert!(out.contains("Lịch sử: 2 lần ghi"), "{out}");
    // The earlier figures, as of an earlier date.
    let out = ok(&tiendo(
        &db,
        d,
        &[
            "plan",
            "budget",
            "show",
            "--task",
            &rental,
            "--year",
            "2025",
            "--as-of",
            "30/09/2025",
        ],
    ));
    assert!(out.contains("Phân bổ năm: 1.442"), "{out}");
    assert!(out.contains("Dự kiến phân bổ năm: —"), "{out}");
    let json_out = ok(&tiendo(
        &db,
        d,
        &[
            "plan", "budget", "show", "--task", &rental, "--year", "2025", "--json",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(v["budget"]["allocated_year_vnd"], 1_500_000_000i64);
    assert_eq!(v["budget"]["planned_allocation_vnd"], 1_600_000_000i64);
    // Bad input: a message and a non-zero exit.
    let o = tiendo(
        &db,
        d,
        &[
            "plan",
            "budget",
            "set",
            "--task",
            &rental,
            "--year",
            "2025",
            "--tranche",
            "x",
            "--as",
            "khcn",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SỐ_ĐỢT:SỐ_TIỀN"));

    let out = ok(&tiendo(
        &db,
        d,
        &[
            "plan",
            "link",
            "--task",
            &rental,
            "--relation",
            "replaces",
            "--other",
            &old,
            "--reason",
            "Thay thế theo Kế hoạch 359",
            "--as",
            "khcn",
        ],
    ));
    assert!(out.contains("Thay thế"), "{out}");
    let out = ok(&tiendo(&db, d, &["plan", "lineage", "--task", &old]));
    assert!(out.contains("Thay thế theo Kế hoạch 359 (khcn,"), "{out}");
    let o = tiendo(
        &db,
        d,
        &[
            "plan",
            "link",
            "--task",
            &rental,
            "--relation",
            "merges",
            "--other",
            &old,
            "--reason",
            "x",
            "--as",
            "khcn",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("continues (Tiếp tục)"));

    let out = ok(&tiendo(
        &db,
        d,
        &[
            "plan",
            "rename",
            "--task",
            &rental,
            "--name",
            "Cổng thông tin ngành Giáo dục",
            "--reason",
            "Tên mới năm 2026",
            "--as",
            "khcn",
        ],
    ));
    assert!(out.contains("→ «Cổng thông tin ngành Giáo dục»"), "{out}");

    let out = ok(&tiendo(
        &db,
        d,
        &[
            "plan",
            "layout",
            "--plan",
            PLAN,
            &file("data/plan-215-2025/layout.toml"),
            "--as",
            "khcn",
        ],
    ));
    assert!(out.contains("bố cục 4 mục (1, 2, 3, 4)"), "{out}");

    // Reports by year and as of a date.
    let out = ok(&tiendo(
        &db,
        d,
        &["report", "progress", "--year", "2025", "--format", "md"],
    ));
    assert!(out.contains("Cổng thông tin ngành Giáo dục"), "{out}");
    assert!(
        out.contains("Trong đó: 26 nhiệm vụ tiếp tục triển khai"),
        "{out}"
    );
    let out = ok(&tiendo(
        &db,
        d,
        &[
            "report",
            "status",
            "--year",
            "2025",
            "--as-of",
            "31/12/2025",
            "--format",
            "md",
        ],
    ));
    assert!(out.contains("Kế hoạch số 215/KH-UBND"), "{out}");
    let o = tiendo(
        &db,
        d,
        &["report", "progress", "--year", "2031", "--format", "md"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Không có kế hoạch nào của năm 2031"));
    let verified = store.audit().verify().await.unwrap();
    assert!(verified.broken.is_none(), "{verified:?}");
}

async fn the_api_serves_budgets_lineage_renames_and_reports_by_year(db: TestDb) {
    let w = helpers::world(db).await;
    let app = &w.app;
    imported(w.store(), true).await;
    let rental = task_named(w.store(), RENTAL).await;
    let old = task_named(w.store(), "Hệ thống quản lý và tra cứu tiêu chuẩn").await;
    let skhcn = w.token(Who::Skhcn);
    let officer = w.token(Who::Officer);
    let path = format!("/api/v1/tasks/{rental}/budget/2025");

    let put = |token: Option<&str>, body: serde_json::Value| {
        app.req(Method::PUT, &path, token).json(&body).send()
    };
    let r = put(
        skhcn,
        json!({
            "approved_estimate_vnd": 7_914_000_000i64,
            "need_year_vnd": 1_852_000_000i64,
            "spent_vnd": 1_000_000_000i64,
            "planned_allocation_vnd": 1_600_000_000i64,
            "tranches": [
                {"tranche": 1, "amount_vnd": 1_000_000_000i64, "decision_number": "100/QĐ-UBND", "decision_on": "15/03/2025"},
                {"tranche": 2, "amount_vnd": 500_000_000i64}
            ],
            "known_from": "2025-10-01"
        }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v = json(r).await;
    assert_eq!(v["figures"]["allocated_year_vnd"], 1_500_000_000i64);
    assert_eq!(v["figures"]["planned_allocation_vnd"], 1_600_000_000i64);
    assert_eq!(v["figures"]["tranches"][0]["decision_on"], "2025-03-15");
    assert_eq!(v["history"].as_array().unwrap().len(), 2);
    // The task page shows the planned allocation in its own column, beside the allocation.
    // (UBND's page session: signing in with a set password revokes that person's API tokens.)
    let (cookie, _) = helpers::page_session(&w, Who::Ubnd).await;
    let (status, page) = helpers::page_get(&w, &cookie, &format!("/tasks/{rental}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let row = page
        .split("<th scope=\"row\">2025</th>")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("the 2025 budget row");
    assert!(
        page.contains("<th scope=\"col\">Dự kiến phân bổ</th><th scope=\"col\">Đã phân bổ</th>"),
        "{page}"
    );
    assert!(
        row.ends_with("<td class=\"num\">1.600</td><td class=\"num\">1.500</td>"),
        "{row}"
    );
    let v = json(app.get(&format!("{path}?as_of=30/09/2025"), skhcn).await).await;
    assert_eq!(v["figures"]["allocated_year_vnd"], 1_442_000_000i64);
    assert_eq!(
        v["figures"]["planned_allocation_vnd"],
        serde_json::Value::Null
    );
    // The planned allocation is checked like every figure: a 400 naming it.
    let p = problem(
        put(skhcn, json!({"planned_allocation_vnd": -1}))
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("dự kiến phân bổ kinh phí năm phải từ 0 đến 10^15 đồng"),
        "{p}"
    );
    // Bad figures are a 400 naming the problem; a role that does not enter plans a 403; a task
    // nobody may see a 404; a bad year a 400.
    let bad = put(
        skhcn,
        json!({"allocated_year_vnd": 1, "tranches": [{"tranche": 1, "amount_vnd": 5}]}),
    )
    .await
    .unwrap();
    let p = problem(bad, StatusCode::BAD_REQUEST).await;
    assert!(
        p["detail"].as_str().unwrap().contains("khác tổng các đợt"),
        "{p}"
    );
    problem(
        put(officer, json!({})).await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        put(skhcn, json!({"need_year_vnd": "nhiều"})).await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        app.get("/api/v1/tasks/khong-co/budget/2025", skhcn).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(&format!("/api/v1/tasks/{rental}/budget/1900"), skhcn)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Lineage.
    let lineage = format!("/api/v1/tasks/{rental}/lineage");
    let body =
        json!({"relation": "reproposed_from", "other_task_id": old, "reason": "Đề xuất lại"});
    let r = app.post(&lineage, skhcn, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v = json(r).await;
    assert_eq!(v[0]["relation"], "reproposed_from");
    assert_eq!(v[0]["actor_user"], "chuyen.vien.khcn");
    problem(app.post(&lineage, skhcn, &body).await, StatusCode::CONFLICT).await;
    // A task linked to itself: well-formed, never possible (422); a made-up task first 404.
    let itself = json!({"relation": "continues", "other_task_id": rental, "reason": "Tự liên kết"});
    let p = problem(
        app.post(&lineage, skhcn, &itself).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("chính nó"), "{p}");
    problem(
        app.post(
            "/api/v1/tasks/khong-co/lineage",
            skhcn,
            &json!({"relation": "continues", "other_task_id": "khong-co", "reason": "r"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.post(
            &lineage,
            skhcn,
            &json!({"relation": "x", "other_task_id": old, "reason": "r"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let v = json(
        app.get(&format!("/api/v1/tasks/{old}/lineage"), skhcn)
            .await,
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1);

    // Rename.
    let rename = format!("/api/v1/tasks/{rental}/rename");
    let r = app
        .post(
            &rename,
            skhcn,
            &json!({"name": "Cổng thông tin ngành Giáo dục", "reason": "Tên năm 2026"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r).await["new_name"], "Cổng thông tin ngành Giáo dục");
    problem(
        app.post(&rename, skhcn, &json!({"reason": "Không đổi gì"}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // The reports take the plan's year and as_of.
    let r = app
        .get("/api/v1/reports/progress?year=2025&format=md", skhcn)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let md = r.text().await.unwrap();
    assert!(md.contains("Cổng thông tin ngành Giáo dục"), "{md}");
    let r = app
        .get(
            "/api/v1/reports/status?year=2025&as_of=2025-12-31&format=md",
            skhcn,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Well-formed dates the loaded calendars (2025–2027) cannot count working days to: 422,
    // saying why, as for every date outside the calendars.
    let beyond = problem(
        app.get(
            "/api/v1/reports/status?year=2025&from=2025-01-01&to=2031-06-30&format=md",
            skhcn,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let detail = beyond["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Lịch làm việc `vn` chưa có dữ liệu cho ngày")
            && detail.contains("các năm đã có: 2025, 2026, 2027"),
        "{beyond}"
    );
    problem(
        app.get("/api/v1/reports/progress?year=2031&format=md", skhcn)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(
            &format!(
                "/api/v1/reports/progress?plan={}&year=2026&format=md",
                "215%2FKH-UBND"
            ),
            skhcn,
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    // Neither plan nor year: the plan of the year the report is as of.
    let r = app
        .get("/api/v1/reports/progress?as_of=2025-12-31&format=md", skhcn)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let of_year = r.text().await.unwrap();
    assert!(of_year.contains("Kế hoạch số 215/KH-UBND"), "{of_year}");
    problem(
        app.get("/api/v1/reports/progress?as_of=2031-01-01&format=md", skhcn)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// Migration 0010 is the last one the previous release shipped.
const PREVIOUS_RELEASE: i64 = 10;

/// Runs the migrations of this tree numbered `from..=to` on the test database.
async fn migrate_range(db: &TestDb, from: i64, to: i64) {
    db.migrate_where(|v| v <= to).await;
    let _ = from;
}

/// Budget lines as kept: task, year, the six amounts, the plan.
type Line = (
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

#[derive(Debug, PartialEq, Eq)]
struct Kept {
    tasks: Vec<(String, String, String, String, i64, String)>,
    audit: Vec<(String, i64, String)>,
    lines: Vec<Line>,
    history: Vec<(String, i64, Option<i64>, String)>,
    tranches: Vec<(String, i64, i64, i64, Option<String>)>,
    lineage: Vec<(String, String, String, String)>,
    listings: Vec<(String, String, String)>,
}

async fn kept(db: &TestDb) -> Kept {
    Kept {
        tasks: db
            .rows("SELECT id, plan_id, name, state, audit_seq, audit_head FROM tasks ORDER BY id")
            .await,
        audit: db
            .rows("SELECT task_id, seq, hash FROM audit_log ORDER BY task_id, seq")
            .await,
        lines: db
            .rows(
                "SELECT task_id, year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd, \
                 carried_over_vnd, spent_vnd FROM budget_lines ORDER BY task_id, year",
            )
            .await,
        history: db
            .rows(
                "SELECT task_id, year, allocated_year_vnd, recorded_by FROM budget_history ORDER BY id",
            )
            .await,
        tranches: db
            .rows(
                "SELECT task_id, year, tranche, amount_vnd, decision_number FROM budget_tranches \
                 ORDER BY task_id, year, tranche",
            )
            .await,
        lineage: db
            .rows("SELECT task_id, relation, other_task_id, reason FROM task_lineage ORDER BY id")
            .await,
        listings: db
            .rows("SELECT plan_id, task_id, section FROM plan_listings ORDER BY plan_id, task_id")
            .await,
    }
}

async fn a_database_of_release_0010_migrates_keeping_tasks_audit_chains_and_budget_lines(
    db: TestDb,
) {
    // The release's data: the 0006 release's demo database (tests/fixtures/release-0006)
    // carried through the release's migrations 0007-0010, then budget lines with funds carried
    // over and spent, tranches, a lineage link and a year status written as that release wrote
    // them.
    migrate_range(&db, 1, 6).await;
    let fixture = root()
        .join("tests/fixtures/release-0006")
        .join(format!("{}.sql", db.backend));
    db.exec(&std::fs::read_to_string(fixture).unwrap()).await;
    migrate_range(&db, 7, PREVIOUS_RELEASE).await;
    let ts = if db.backend == "postgres" {
        "'2025-10-01T09:00:00+07:00'"
    } else {
        "'2025-10-01T02:00:00.000000+00:00'"
    };
    db.exec(&format!(
        "UPDATE budget_lines SET carried_over_vnd = 100000000, spent_vnd = 50000000 \
         WHERE task_id = (SELECT MIN(task_id) FROM budget_lines); \
         INSERT INTO budget_tranches (task_id, year, tranche, amount_vnd, decision_number, recorded_at, recorded_by) \
         SELECT MIN(task_id), 2025, 1, 1000000000, '100/QĐ-UBND', {ts}, 'release' FROM budget_lines; \
         INSERT INTO task_lineage (task_id, relation, other_task_id, reason, actor_user, at) \
         SELECT MIN(id), 'replaces', MAX(id), 'Thay thế', 'release', {ts} FROM tasks; \
         UPDATE plan_listings SET year_status = 'hoan_thanh_nam' WHERE task_id = (SELECT MIN(id) FROM tasks);"
    ))
    .await;
    let before = kept(&db).await;
    assert_eq!(before.tasks.len(), 63);
    assert_eq!(before.audit.len(), 66);
    assert_eq!(before.lines.len(), 63);
    assert_eq!(before.tranches.len(), 1);
    assert_eq!(before.lineage.len(), 1);

    // Today's schema.
    let store = db.store().await;
    assert_eq!(
        kept(&db).await,
        before,
        "tasks, chains, budget lines, tranches, lineage"
    );
    let verified = store.audit().verify().await.unwrap();
    assert!(verified.broken.is_none(), "{verified:?}");
    assert_eq!((verified.tasks, verified.entries), (63, 66));
    // The year status recorded then has its history; the budget line its figures; a task's
    // budget, lineage and report read as before.
    assert_eq!(store.count("budget_history").await.unwrap(), 63);
    let first = &before.tasks[0].0;
    let s = skhcn();
    let l = store.plans().listings(first).await.unwrap();
    assert_eq!(l[0].year_status, Some(YearStatus::HoanThanhNam));
    let lineage = store.plans().lineage_as(&s, first).await.unwrap();
    assert_eq!(lineage.len(), 1);
    let plan = store.directory().plan(PLAN).await.unwrap();
    let mut rows = store
        .reports()
        .report_rows(Some(&plan.id), end_of_day(day("2026-12-31")))
        .await
        .unwrap();
    store
        .reports()
        .as_of(&mut rows, &plan, day("2026-12-31"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 63);
    let r = rows.iter().find(|r| &r.task_id == first).unwrap();
    assert_eq!(r.year_status, Some(YearStatus::HoanThanhNam));
    let md = progress_md(&store, PLAN, "2026-01-31").await;
    assert!(md.contains("tổng số 63 nhiệm vụ"), "{md}");
    // New writes work on the migrated database and keep the chains whole.
    store
        .plans()
        .set_budget_as(
            &s,
            first,
            2025,
            YearBudget {
                tranches: vec![parse_tranche("1:1.000:100/QĐ-UBND").unwrap()],
                ..YearBudget::default()
            },
            None,
            at("2026-02-01T09:00:00+07:00"),
        )
        .await
        .unwrap();
    let verified = store.audit().verify().await.unwrap();
    assert!(verified.broken.is_none(), "{verified:?}");
    assert_eq!(store.migrate().await.unwrap(), 0);
}

/// The release before the planned allocation (every migration but 0016, which came later, on
/// the 0006 release's demo data): its database migrates keeping every task, chain and budget
/// line, with no planned figure; one written afterwards, known from 15/01/2027 (the data was
/// made in December 2026), is in the report as of that date and not in the report of the day
/// before, in the column the plan's layout prints for it.
async fn a_database_before_0016_migrates_and_shows_the_planned_allocation_from_when_it_is_known(
    db: TestDb,
) {
    migrate_range(&db, 1, 6).await;
    let fixture = root()
        .join("tests/fixtures/release-0006")
        .join(format!("{}.sql", db.backend));
    db.exec(&std::fs::read_to_string(fixture).unwrap()).await;
    db.migrate_where(|v| v != 16).await;
    let before = kept(&db).await;
    assert_eq!((before.tasks.len(), before.lines.len()), (63, 63));

    let store = db.store().await;
    assert_eq!(
        kept(&db).await,
        before,
        "tasks, chains, budget lines, history, tranches, lineage"
    );
    let verified = store.audit().verify().await.unwrap();
    assert!(verified.broken.is_none(), "{verified:?}");
    let first = before.tasks[0].0.clone();
    let line = store.plans().budget_of(&first, 2025, None).await.unwrap();
    assert_eq!(line.history.len(), 1);
    assert_eq!(line.budget.planned_allocation_vnd, None);
    assert!(line.budget.need_year_vnd.is_some());

    // Plan 215 printed with a planned-allocation column in every appendix.
    let mut layout = engine::plan::layout::default_layout(2025);
    for s in &mut layout.sections {
        s.columns
            .insert(6, "Dự kiến phân bổ kinh phí năm 2025".to_string());
    }
    let s = skhcn();
    store
        .plans()
        .set_layout_as(&s, PLAN, &layout)
        .await
        .unwrap();
    let md_before = progress_md(&store, PLAN, "2027-01-14").await;
    assert!(
        md_before.contains("Dự kiến phân bổ kinh phí năm 2025"),
        "{md_before}"
    );
    assert!(!md_before.contains("4.321,5"), "{md_before}");

    let mut b = line.budget.clone();
    b.planned_allocation_vnd = Some(4_321_500_000);
    store
        .plans()
        .set_budget_as(
            &s,
            &first,
            2025,
            b,
            Some(day("2027-01-15")),
            at("2027-01-15T08:00:00+07:00"),
        )
        .await
        .unwrap();
    let then = store
        .plans()
        .budget_of(&first, 2025, Some(day("2027-01-14")))
        .await
        .unwrap();
    assert_eq!(then.budget.planned_allocation_vnd, None);
    let now = store
        .plans()
        .budget_of(&first, 2025, Some(day("2027-01-15")))
        .await
        .unwrap();
    assert_eq!(now.budget.planned_allocation_vnd, Some(4_321_500_000));
    assert_eq!(now.budget.need_year_vnd, line.budget.need_year_vnd);

    // The report of 14/01/2027 is the same as before; that of 15/01/2027 prints the figure.
    assert_eq!(progress_md(&store, PLAN, "2027-01-14").await, md_before);
    let md_after = progress_md(&store, PLAN, "2027-01-15").await;
    assert!(md_after.contains("4.321,5"), "{md_after}");
    assert_eq!(store.migrate().await.unwrap(), 0);
}

/// The rows of a sheet as strings (numbers as they read, integers without ".0").
fn sheet_rows(book: &[u8], sheet: &str) -> Vec<Vec<String>> {
    use calamine::{Data, Reader};
    let mut x: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(book.to_vec())).unwrap();
    let range = x.worksheet_range(sheet).unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
                    Data::Float(f) => f.to_string(),
                    Data::Int(i) => i.to_string(),
                    Data::String(s) => s.clone(),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// The sum of a column over the task rows (an Arabic number in TT) and the TỔNG row's value.
fn task_sum_and_total(rows: &[Vec<String>], col: usize) -> (f64, f64) {
    let num = |r: &Vec<String>| {
        r.get(col)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let tasks: f64 = rows
        .iter()
        .filter(|r| r.first().is_some_and(|t| t.parse::<u32>().is_ok()))
        .map(num)
        .sum();
    let total = rows
        .iter()
        .find(|r| r.iter().any(|c| c == "TỔNG"))
        .map(num)
        .expect("a TỔNG row");
    (tasks, total)
}

/// Issue 16: Plan 215's appendices as printed, from its layout file (`unit_rows = false` and
/// the "Đơn vị chủ trì" column): Phụ lục 3 has no unit rows, Phụ lục 4 names the unit in its
/// column, Phụ lục 1 keeps its Roman-numbered unit rows; every TỔNG is still the sum of the
/// appendix's tasks. In the workbook, the Markdown and the official DOCX alike.
async fn plan_215s_layout_prints_phu_luc_3_without_unit_rows_and_phu_luc_4_with_its_unit_column(
    db: TestDb,
) {
    let store = db.store().await;
    imported(&store, true).await;
    let roman = |t: &str| !t.is_empty() && t.chars().all(|c| matches!(c, 'I' | 'V' | 'X'));
    // Before the layout: Plan 215's default, unit rows in every appendix.
    let book = progress_xlsx(&store, PLAN, "2025-11-05").await;
    assert!(
        sheet_rows(&book, "Phụ lục 3")
            .iter()
            .any(|r| r.first().is_some_and(|t| roman(t))),
        "the default prints unit rows"
    );
    let layout = parse_layout(
        &std::fs::read_to_string(data("layout.toml")).unwrap(),
        "layout.toml",
    )
    .unwrap();
    store
        .plans()
        .set_layout_as(&skhcn(), PLAN, &layout)
        .await
        .unwrap();
    let book = progress_xlsx(&store, PLAN, "2025-11-05").await;

    let p1 = sheet_rows(&book, "Phụ lục 1");
    let units1: Vec<&Vec<String>> = p1.iter().filter(|r| roman(&r[0])).collect();
    assert_eq!(units1.len(), 10, "Phụ lục 1 keeps its ten unit rows");
    assert_eq!(units1[0][1], "Sở Khoa học và Công nghệ");

    let p3 = sheet_rows(&book, "Phụ lục 3");
    assert!(
        !p3.iter().any(|r| roman(&r[0])),
        "Phụ lục 3 prints no unit rows: {p3:?}"
    );
    assert!(
        !p3.iter()
            .any(|r| r.get(1).is_some_and(|n| n == "Sở Khoa học và Công nghệ")),
        "{p3:?}"
    );
    let numbered: Vec<u32> = p3.iter().filter_map(|r| r[0].parse::<u32>().ok()).collect();
    assert_eq!(
        numbered,
        (1..=24).collect::<Vec<_>>(),
        "its 24 tasks, numbered 1–24"
    );

    let p4 = sheet_rows(&book, "Phụ lục 4");
    assert!(!p4.iter().any(|r| roman(&r[0])), "{p4:?}");
    let header = p4
        .iter()
        .find(|r| r.iter().any(|c| c == "Đơn vị chủ trì"))
        .unwrap_or_else(|| panic!("no «Đơn vị chủ trì» column: {p4:?}"));
    let unit_col = header.iter().position(|c| c == "Đơn vị chủ trì").unwrap();
    assert_eq!(unit_col, 2, "after the task's name, as printed");
    let task = p4.iter().find(|r| r[0] == "1").expect("its task");
    assert_eq!(task[unit_col], "Sở Khoa học và Công nghệ");

    // The totals still reconcile: each TỔNG is the sum of its tasks, for every amount; Phụ lục
    // 4's is the printed 31.236 (totals.csv).
    for (sheet, rows) in [("Phụ lục 1", &p1), ("Phụ lục 3", &p3), ("Phụ lục 4", &p4)] {
        let name_col = 1;
        let first_money = if sheet == "Phụ lục 4" { 4 } else { 3 };
        for col in first_money..first_money + 4 {
            let (tasks, total) = task_sum_and_total(rows, col);
            assert!(
                (tasks - total).abs() < 0.001,
                "{sheet} column {col}: tasks {tasks} ≠ TỔNG {total} (name column {name_col})"
            );
        }
    }
    assert_eq!(task_sum_and_total(&p4, 4).1, 31236.0);

    // The Markdown prints the same; so do the official document's appendices.
    let md = progress_md(&store, PLAN, "2025-11-05").await;
    assert!(
        md.contains("| TT | Tên nhiệm vụ | Đơn vị chủ trì | Thời gian thực hiện |"),
        "{md}"
    );
    let docx = report::progress(
        &store,
        &ProgressParams {
            plan: PLAN.into(),
            year: None,
            as_of: day("2025-11-05"),
            units: None,
        },
        Format::Docx,
    )
    .await
    .unwrap()
    .bytes;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml)
        .unwrap();
    assert!(
        xml.contains("Đơn vị chủ trì"),
        "the DOCX's Phụ lục 4 column"
    );
}
