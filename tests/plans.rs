//! Plans that span years (issue 14), on SQLite and PostgreSQL by the same test code: the
//! migration of a database created by the previous release, the plans a task is listed in with
//! each year's budget line, the budget history and the year-level status.

mod common;

use std::path::Path;

use adapters::store::Store;
use common::plans::{
    PLAN, PLAN_359, all_tasks, at, data, import_command, imported, plan_359, request, root,
    task_named,
};
use common::{TestDb, actor, ok, tiendo};
use engine::Role;
use engine::catalogue::ImportPlan;
use engine::plan::YearStatus;
use engine::plan::carry::parse_links;
use engine::plan::import::{LinkMode, PrintedImport};
use engine::plan::layout::parse_layout;
use engine::time::parse_date;

on_both_backends!(
    a_database_of_the_previous_release_migrates_keeping_everything,
    a_task_shows_every_plan_it_is_listed_in_with_the_years_budget,
    the_year_status_is_recorded_apart_from_the_lifecycle_and_audited,
    plan_359_continues_plan_215_tasks_reviewed_then_linked_without_duplicates,
    auto_link_links_the_confident_matches_and_creates_the_rest,
    a_links_file_is_applied_as_it_stands_or_refused_whole,
    a_third_layout_with_sections_of_their_own_columns_imports_and_reconciles,
    the_command_line_reviews_links_and_lists_every_plan_of_a_task,
    a_layout_declares_the_kinds_and_funding_sources_of_its_sections,
    a_printed_plan_imported_before_0016_records_its_planned_allocation_when_imported_again,
);

/// Migration 0006 is the last one the previous release shipped.
const PREVIOUS_RELEASE: i64 = 6;

/// The database as the previous release left it: its migrations (the files of this tree up to
/// 0006, unchanged since), then the data it wrote (`tiendo demo` and `tiendo audit seal`, dumped
/// from databases that release created: tests/fixtures/release-0006/).
async fn previous_release(db: &TestDb) {
    db.migrate_where(|v| v <= PREVIOUS_RELEASE).await;
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
    Kept {
        tasks: db
            .rows("SELECT id, plan_id, name, state, audit_seq, audit_head FROM tasks ORDER BY id")
            .await,
        audit: db
            .rows("SELECT task_id, seq, hash FROM audit_log ORDER BY task_id, seq")
            .await,
        budget: db
            .rows(
                "SELECT task_id, year, need_total_vnd, approved_estimate_vnd, need_year_vnd, allocated_year_vnd \
                 FROM budget_lines ORDER BY task_id, year",
            )
            .await,
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
    // row the printer omitted (restored in data/plan-215-2025) is the one new task. One row is
    // corrected (issue 15, item 2): the previous release read Sở Văn hóa's withdrawal proposal
    // (its letter 5796) as a withdrawal; the task, which nobody handled since, goes back to its
    // first step with the proposal pending UBND's decision.
    let report = store
        .imports()
        .import_plan(
            "cli:tester",
            request(&data("tasks.csv"), true),
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
        (1, 1, 62)
    );
    let corrected = &report.outcome.updated[0];
    assert!(
        corrected.name.starts_with("Xây dựng Đề án di sản số"),
        "{corrected:?}"
    );
    let t = store
        .tasks()
        .unscoped()
        .get(&corrected.task_id)
        .await
        .unwrap();
    assert_eq!(t.phase, engine::Phase::Proposed);
    let pending = store.reports().pending_proposals().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (
            pending[0].task_id.as_str(),
            pending[0].kind.as_str(),
            pending[0].letter_number.as_str()
        ),
        (t.id.as_str(), "withdraw", "5796/SVHTTDL-QBXT&PTTNDL")
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
            request(&data("tasks.csv"), true),
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

async fn the_year_status_is_recorded_apart_from_the_lifecycle_and_audited(db: TestDb) {
    let store = db.store().await;
    store
        .imports()
        .import_plan(
            "cli:tester",
            request(&data("tasks.csv"), true),
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

async fn with_plan_215(db: &TestDb) -> Store {
    let store = db.store().await;
    imported(&store, true).await;
    store
}

/// The Plan 359 rows (their lines in the sheet) and the Plan 215 task each continues.
const CONTINUES: [(usize, &str); 13] = [
    (
        6,
        "Thuê hệ thống Hội nghị truyền hình cho UBND cấp xã, phường và đặc khu",
    ),
    (7, "Ứng dụng công nghệ viễn thám, GIS và trí tuệ nhân tạo"),
    (
        8,
        "Thuê dịch vụ công nghệ thông tin “Bảo đảm an toàn hệ thống thông tin cấp độ 3",
    ),
    (
        10,
        "Triển khai phần mềm “Chuyên ngành tổ chức xây dựng Đảng”",
    ),
    (12, "Thuê dịch vụ công nghệ thông tin phần mềm giám sát"),
    (14, "Kỳ họp số di động"),
    (16, "Tổng đài 1022"),
    (
        18,
        "Nâng cao năng lực trung tâm quản lý điều hành giao thông",
    ),
    (20, "Thuê dịch vụ triển khai hồ sơ bệnh án điện tử"),
    (22, "Triển khai CSDL tuyển sinh đầu cấp"),
    (
        23,
        "Triển khai hệ thống Cổng thông tin điện tử ngành Giáo dục",
    ),
    (24, "Triển khai đề án ký số ngành giáo dục"),
    (26, "Triển khai hệ thống thông tin nguồn"),
];

async fn plan_359_continues_plan_215_tasks_reviewed_then_linked_without_duplicates(db: TestDb) {
    let store = with_plan_215(&db).await;
    let t1 = at("2026-01-05T09:00:00+07:00");
    // 1. Proposals only: the 13 rows with a proposal wait for review, nothing is linked
    // silently; the OCOP software, like no existing task, is created.
    let r = store
        .imports()
        .import_printed("cli:tester", plan_359(LinkMode::Propose), t1)
        .await
        .unwrap();
    assert!(r.prepared.mismatches.is_empty(), "{}", r.render());
    assert_eq!(r.prepared.sheets[0].4, 11, "10 unit subtotals and TỔNG");
    assert_eq!(
        (
            r.outcome.linked.len(),
            r.outcome.created,
            r.outcome.review.len()
        ),
        (0, 1, 13),
        "{}",
        r.render()
    );
    assert!(
        r.render()
            .contains("Nhiệm vụ: 0 liên kết với nhiệm vụ đã có, 1 tạo mới, 13 để xem xét, 0 đã có trong kế hoạch"),
        "{}",
        r.render()
    );
    assert_eq!(store.count("tasks").await.unwrap(), 65);
    let review = r.review_csv();
    assert!(
        review.starts_with("row,unit,name,task_id,score,reason\n"),
        "{review}"
    );
    let names = task_names(&store).await;
    for (row, prefix) in CONTINUES {
        let p = r.outcome.proposals.iter().find(|p| p.row == row).unwrap();
        let id = p
            .task_id
            .as_deref()
            .unwrap_or_else(|| panic!("row {row}: {p:?}"));
        assert!(
            names[id].starts_with(prefix),
            "row {row}: {} ({p:?})",
            names[id]
        );
        assert!(p.score >= 0.8, "row {row}: {p:?}");
    }
    let ocop = r.outcome.proposals.iter().find(|p| p.row == 28).unwrap();
    assert_eq!(ocop.task_id, None, "{ocop:?}");

    // 2. The review file applied as it stands: 13 rows continue their tasks, the OCOP row is
    // already listed, nothing is duplicated.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("de-xuat.csv");
    std::fs::write(&file, &review).unwrap();
    let links = parse_links(&adapters::import::read_file(&file, None).unwrap()).unwrap();
    let r = store
        .imports()
        .import_printed("cli:tester", plan_359(LinkMode::Links(links)), t1)
        .await
        .unwrap();
    assert_eq!(
        (
            r.outcome.linked.len(),
            r.outcome.created,
            r.outcome.review.len(),
            r.outcome.listed
        ),
        (13, 0, 0, 1),
        "{}",
        r.render()
    );
    // Every linked task's kind and funding source belong in Phụ lục II, as its layout declares.
    assert!(r.outcome.warnings.is_empty(), "{}", r.render());
    assert_eq!(store.count("tasks").await.unwrap(), 65);
    assert_eq!(store.count("plan_listings").await.unwrap(), 64 + 14);
    // The 2026 budget lines land on the existing tasks, beside their 2025 lines.
    let hop = task_named(&store, "Kỳ họp số di động").await;
    let ls = store.plans().listings(&hop).await.unwrap();
    assert_eq!(
        ls.iter()
            .map(|l| (l.plan_number.as_str(), l.section.as_str()))
            .collect::<Vec<_>>(),
        vec![(PLAN, "1"), (PLAN_359, "II")]
    );
    // "Dự kiến phân bổ năm 2026" is the planned allocation, not an allocation.
    let b = ls[1].budget.unwrap();
    const M: i64 = 1_000_000;
    assert_eq!(
        (
            b.year,
            b.approved_estimate_vnd,
            b.need_year_vnd,
            b.planned_allocation_vnd,
            b.allocated_year_vnd
        ),
        (2026, Some(9_417 * M), Some(753 * M), Some(753 * M), None)
    );
    assert_eq!(ls[1].category.as_deref(), Some("chuyen_tiep"));
    assert_eq!(ls[1].printed_seq.as_deref(), Some("1"));
    assert_eq!(ls[0].budget.unwrap().year, 2025);
    // Every 2026 line of the plan adds up to the printed TỔNG.
    let mut sums = [0i64; 4];
    // (`names` was read after the first import, which created the OCOP task.)
    for id in names.keys() {
        for l in store.plans().listings(id).await.unwrap() {
            if l.plan_number == PLAN_359 {
                let b = l.budget.unwrap();
                sums[0] += b.approved_estimate_vnd.unwrap_or(0);
                sums[1] += b.need_year_vnd.unwrap_or(0);
                sums[2] += b.planned_allocation_vnd.unwrap_or(0);
                sums[3] += b.allocated_year_vnd.unwrap_or(0);
            }
        }
    }
    assert_eq!(sums, [647_620 * M, 184_439 * M, 169_439 * M, 0]);
    // The link is audited in the task's own chain, which still verifies.
    let h = store.audit().history(&hop).await.unwrap();
    let last = h.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.actor_user.as_str()),
        ("plan_listing", "cli:tester")
    );
    assert!(
        last.comment
            .as_deref()
            .unwrap()
            .starts_with("Tiếp tục trong kế hoạch 359/KH-UBND (năm 2026), mục II"),
        "{last:?}"
    );
    let v = store.audit().verify().await.unwrap();
    assert!(v.broken.is_none(), "{v:?}");
    // The task list --json / GET /tasks/{id} view: a task the plan lists is found by it.
    let listed = store
        .tasks()
        .unscoped()
        .list(&adapters::store::TaskFilter {
            plan: Some(PLAN_359.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 14);

    // 3. The same sheet again: every row is already listed; nothing changes.
    let r = store
        .imports()
        .import_printed("cli:tester", plan_359(LinkMode::AutoLink(0.8)), t1)
        .await
        .unwrap();
    assert_eq!(
        (r.outcome.linked.len(), r.outcome.created, r.outcome.listed),
        (0, 0, 14)
    );
    assert_eq!(store.count("tasks").await.unwrap(), 65);
}

async fn task_names(store: &Store) -> std::collections::HashMap<String, String> {
    all_tasks(store)
        .await
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect()
}

async fn auto_link_links_the_confident_matches_and_creates_the_rest(db: TestDb) {
    let store = with_plan_215(&db).await;
    let r = store
        .imports()
        .import_printed(
            "cli:tester",
            plan_359(LinkMode::AutoLink(0.8)),
            at("2026-01-05T09:00:00+07:00"),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            r.outcome.linked.len(),
            r.outcome.created,
            r.outcome.review.len()
        ),
        (13, 1, 0),
        "{}",
        r.render()
    );
    assert_eq!(store.count("tasks").await.unwrap(), 65);
    // The new task is listed in Phụ lục II as carried over; its unit is Plan 215's; the units
    // the sheet spells differently ("Văn phòng UBND thành phố") are not added for linked rows.
    let ocop = task_named(&store, "Thuê phần mềm quản lý dữ liệu sản phẩm Ocop").await;
    let l = store.plans().listings(&ocop).await.unwrap();
    assert_eq!((l[0].section.as_str(), l[0].plan_year), ("II", 2026));
    assert!(
        r.outcome.units_created.is_empty(),
        "{:?}",
        r.outcome.units_created
    );
    assert_eq!(
        store.tasks().unscoped().get(&ocop).await.unwrap().unit_id,
        "so-nong-nghiep-va-moi-truong"
    );
}

async fn a_links_file_is_applied_as_it_stands_or_refused_whole(db: TestDb) {
    let store = with_plan_215(&db).await;
    let t1 = at("2026-01-05T09:00:00+07:00");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("links.csv");
    // Two rows only: the others are not in the file, so nothing is written.
    let hop = task_named(&store, "Kỳ họp số di động").await;
    std::fs::write(
        &file,
        format!("row,unit,name,task_id,score,reason\n14,,Kỳ họp số di động HĐND thành phố,{hop},1,\n28,,,,0,\n"),
    )
    .unwrap();
    let links = parse_links(&adapters::import::read_file(&file, None).unwrap()).unwrap();
    let e = store
        .imports()
        .import_printed("cli:tester", plan_359(LinkMode::Links(links)), t1)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dòng 6 («Thuê hệ thống Hội nghị truyền hình"),
        "{e}"
    );
    assert!(e.contains("không có trong tệp liên kết"), "{e}");
    assert_eq!(store.count("tasks").await.unwrap(), 64);
    assert_eq!(store.count("plan_listings").await.unwrap(), 64);
    // A task that does not exist, and one task for two rows, are refused too.
    let mut lines = vec!["row,unit,name,task_id,score,reason".to_string()];
    for (row, _) in CONTINUES {
        lines.push(format!(
            "{row},,,{},1,",
            if row == 6 { "khong-co" } else { &hop }
        ));
    }
    lines.push("28,,,,0,".into());
    std::fs::write(&file, lines.join("\n")).unwrap();
    let links = parse_links(&adapters::import::read_file(&file, None).unwrap()).unwrap();
    let e = store
        .imports()
        .import_printed("cli:tester", plan_359(LinkMode::Links(links)), t1)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("dòng 6: nhiệm vụ khong-co không có"), "{e}");
    assert!(
        e.contains(&format!(
            "nhiệm vụ {hop} được liên kết cho cả dòng 7 và dòng 8"
        )),
        "{e}"
    );
    assert_eq!(store.count("tasks").await.unwrap(), 64);
    // A person's choice stands: a blank task id creates a new task even where one was proposed.
    let mut lines = vec!["row,unit,name,task_id,score,reason".to_string()];
    for (row, _) in CONTINUES {
        lines.push(format!("{row},,,,0,"));
    }
    lines.push("28,,,,0,".into());
    std::fs::write(&file, lines.join("\n")).unwrap();
    let links = parse_links(&adapters::import::read_file(&file, None).unwrap()).unwrap();
    let r = store
        .imports()
        .import_printed("cli:tester", plan_359(LinkMode::Links(links)), t1)
        .await
        .unwrap();
    assert_eq!((r.outcome.linked.len(), r.outcome.created), (0, 14));
}

/// A plan in a third layout, shaped like the 2024 plan: one sheet, sections A–C each printed
/// with its own header row and column set, unit rows with and without numerals, a unit column in
/// section C, numbers as text the Vietnamese way, "Cộng" per section and a closing TỔNG CỘNG.
fn plan_325_workbook(path: &Path) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let s = book.add_worksheet();
    s.set_name("Kế hoạch 2024").unwrap();
    let rows: Vec<Vec<&str>> = vec![
        vec!["KẾ HOẠCH ỨNG DỤNG CÔNG NGHỆ THÔNG TIN NĂM 2024"],
        vec!["Đơn vị tính: Triệu đồng"],
        vec![
            "TT",
            "Tên nhiệm vụ",
            "Dự toán",
            "Dự kiến phân bổ kinh phí năm 2024 (đợt 1)",
        ],
        vec!["A", "NHIỆM VỤ THƯỜNG XUYÊN", "28.080", "1.500"],
        vec!["I", "Sở Y tế", "28.000", "1.000"],
        vec!["1", "Mua bản quyền phần mềm diệt virus", "28.000", "1.000"],
        vec!["II", "Sở Tư pháp", "80", "500"],
        vec!["1", "Duy trì cổng thông tin điện tử", "80", "500"],
        vec![
            "TT",
            "Tên nhiệm vụ",
            "Dự toán",
            "Dự kiến phân bổ kinh phí năm 2024 (đợt 1)",
        ],
        vec!["", "Cộng", "28.080", "1.500"],
        vec!["", "B. NHIỆM VỤ CHUYỂN TIẾP TỪ NĂM 2023"],
        vec![
            "TT",
            "Tên nhiệm vụ",
            "Thời gian thực hiện",
            "Dự toán được duyệt",
            "Kinh phí đã sử dụng năm 2023",
            "Chuyển nguồn từ 2023 sang 2024",
            "Nhu cầu kinh phí năm 2024",
        ],
        vec![
            "I",
            "Nhiệm vụ thuê dịch vụ",
            "",
            "12.000",
            "4.000",
            "329,7",
            "4.000",
        ],
        vec![
            "",
            "Sở Giáo dục và Đào tạo",
            "",
            "12.000",
            "4.000",
            "329,7",
            "4.000",
        ],
        vec![
            "1",
            "Thuê phần mềm quản lý trường học",
            "2023-2025",
            "12.000",
            "4.000",
            "329,7",
            "4.000",
        ],
        vec!["", "Cộng", "", "12.000", "4.000", "330", "4.000"],
        vec!["", "C. NHIỆM VỤ ĐỀ XUẤT MỚI"],
        vec![
            "TT",
            "Tên nhiệm vụ",
            "Đơn vị chủ trì",
            "Đơn vị đề xuất bố trí năm 2024",
            "Tỷ lệ bố trí vốn",
        ],
        vec![
            "1",
            "Xây dựng phần mềm quản lý hồ sơ công chức",
            "Sở Nội vụ",
            "600",
            "1,0%",
        ],
        vec!["2", "Mua máy chủ dự phòng", "Sở Nội vụ", "-", ""],
        vec!["", "Cộng", "", "600"],
        vec!["", "TỔNG CỘNG", "", ""],
    ];
    for (r, cells) in rows.iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            if !v.is_empty() {
                s.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
    }
    // A numeric cell, as most sheets hold amounts.
    s.write_number(5, 2, 28_000.0).unwrap();
    book.save(path).unwrap();
}

async fn a_third_layout_with_sections_of_their_own_columns_imports_and_reconciles(db: TestDb) {
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("ke-hoach-325.xlsx");
    plan_325_workbook(&xlsx);
    let layout = parse_layout(
        &std::fs::read_to_string(root().join("tests/fixtures/plan-325-2024/layout.toml")).unwrap(),
        "layout.toml",
    )
    .unwrap();
    let request = PrintedImport {
        plan: ImportPlan {
            number: "325/KH-UBND".into(),
            year: 2024,
            title: "Kế hoạch ứng dụng công nghệ thông tin năm 2024".into(),
            issued_on: None,
        },
        layout,
        sheets: adapters::import::read_grids(&xlsx, None).unwrap(),
        mode: LinkMode::AutoLink(0.8),
    };
    let r = store
        .imports()
        .import_printed("cli:tester", request, at("2025-09-01T09:00:00+07:00"))
        .await
        .unwrap();
    let text = r.render();
    assert!(r.prepared.mismatches.is_empty(), "{text}");
    assert!(
        text.contains("Đối chiếu các dòng tổng và tiểu cộng đã in: khớp."),
        "{text}"
    );
    // A: section, 2 units, Cộng; B: group, unit, Cộng; C: Cộng; TỔNG CỘNG (no figures).
    assert_eq!(r.prepared.sheets[0].4, 9, "{text}");
    assert_eq!(
        (r.outcome.created, r.outcome.linked.len()),
        (5, 0),
        "{text}"
    );
    let by_section: Vec<(String, String, Option<String>)> = {
        let names = task_names(&store).await;
        let ids: Vec<&str> = names.keys().map(String::as_str).collect();
        let mut v: Vec<(String, String, Option<String>)> = store
            .plans()
            .listings_of(&ids)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, l)| {
                (
                    l[0].section.clone(),
                    names[&id].clone(),
                    l[0].category.clone(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        by_section
            .iter()
            .map(|(s, n, c)| (s.as_str(), n.as_str(), c.as_deref().unwrap_or("")))
            .collect::<Vec<_>>(),
        vec![
            ("A", "Duy trì cổng thông tin điện tử", "thuong_xuyen"),
            ("A", "Mua bản quyền phần mềm diệt virus", "thuong_xuyen"),
            ("B", "Thuê phần mềm quản lý trường học", "chuyen_tiep"),
            ("C", "Mua máy chủ dự phòng", "moi"),
            ("C", "Xây dựng phần mềm quản lý hồ sơ công chức", "moi"),
        ]
    );
    // Amounts read from text the Vietnamese way, per the section's own columns.
    let school = task_named(&store, "Thuê phần mềm quản lý trường học").await;
    let b = store.plans().listings(&school).await.unwrap()[0]
        .budget
        .unwrap();
    assert_eq!(
        (b.approved_estimate_vnd, b.need_year_vnd),
        (Some(12_000_000_000), Some(4_000_000_000))
    );
    // Section A prints "Dự kiến phân bổ kinh phí năm 2024 (đợt 1)": the planned allocation of
    // 2024, its total the section's printed Cộng (1.500), and nothing allocated yet.
    let mut planned = 0;
    for name in [
        "Mua bản quyền phần mềm diệt virus",
        "Duy trì cổng thông tin điện tử",
    ] {
        let id = task_named(&store, name).await;
        let b = store.plans().listings(&id).await.unwrap()[0]
            .budget
            .unwrap();
        assert_eq!((b.year, b.allocated_year_vnd), (2024, None), "{name}");
        planned += b.planned_allocation_vnd.unwrap();
        let kept = store.plans().budget_of(&id, 2024, None).await.unwrap();
        assert_eq!(
            kept.budget.planned_allocation_vnd, b.planned_allocation_vnd,
            "{name}: the history keeps the planned figure"
        );
    }
    assert_eq!(planned, 1_500_000_000);
    let hr = task_named(&store, "Xây dựng phần mềm quản lý hồ sơ công chức").await;
    let t = store.tasks().unscoped().get(&hr).await.unwrap();
    assert_eq!(
        (t.unit_id.as_str(), t.workflow.as_str()),
        ("so-noi-vu", "bao-cao-ktkt")
    );
}

async fn the_command_line_reviews_links_and_lists_every_plan_of_a_task(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = |p: &str| root().join(p).display().to_string();
    ok(&import_command(
        &db,
        d,
        &data("tasks.csv"),
        &["--totals", &file("data/plan-215-2025/totals.csv")],
    ));
    let review = d.join("de-xuat.csv").display().to_string();
    let xlsx = file("data/plan-359-2026/phu-luc-II-chuyen-tiep.xlsx");
    let base = [
        "import",
        "plan",
        "--plan",
        PLAN_359,
        "--year",
        "2026",
        "--title",
        "Kế hoạch năm 2026",
    ];
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--review", &review, &xlsx]);
    let out = ok(&tiendo(&db, d, &args));
    assert!(
        out.contains("mục II «DANH MỤC NHIỆM VỤ CHUYỂN ĐỔI SỐ CHUYỂN TIẾP NĂM 2026»"),
        "{out}"
    );
    assert!(
        out.contains("0 liên kết với nhiệm vụ đã có, 1 tạo mới, 13 để xem xét"),
        "{out}"
    );
    assert!(
        out.contains("Đối chiếu các dòng tổng và tiểu cộng đã in: khớp."),
        "{out}"
    );
    let csv = std::fs::read_to_string(&review).unwrap();
    assert!(
        csv.starts_with("row,unit,name,task_id,score,reason\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + 14, "one line per task row: {csv}");
    assert!(
        csv.contains(
            "\n28,Sở Nông nghiệp và Môi trường,Thuê phần mềm quản lý dữ liệu sản phẩm Ocop,,0.00,"
        ),
        "{csv}"
    );
    // The reviewed file, applied as it stands.
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--links", &review, &xlsx]);
    let out = ok(&tiendo(&db, d, &args));
    assert!(
        out.contains(
            "13 liên kết với nhiệm vụ đã có, 0 tạo mới, 0 để xem xét, 1 đã có trong kế hoạch"
        ),
        "{out}"
    );
    // Every plan a task is listed in, with that year's budget line.
    let store = db.store().await;
    let hop = task_named(&store, "Kỳ họp số di động").await;
    ok(&tiendo(
        &db,
        d,
        &[
            "user",
            "add",
            "lanhdao",
            "--role",
            "ubnd",
            "--name",
            "Lãnh đạo",
        ],
    ));
    let json = ok(&tiendo(
        &db,
        d,
        &["task", "list", "--as", "lanhdao", "--json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let t = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == hop.as_str())
        .unwrap();
    type Shown<'a> = (&'a str, i64, i64, Option<i64>, Option<i64>);
    let plans: Vec<Shown> = t["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["plan_number"].as_str().unwrap(),
                l["plan_year"].as_i64().unwrap(),
                l["budget"]["need_year_vnd"].as_i64().unwrap(),
                l["budget"]["planned_allocation_vnd"].as_i64(),
                l["budget"]["allocated_year_vnd"].as_i64(),
            )
        })
        .collect();
    // Plan 359 prints the planned allocation of 2026, not an allocation.
    assert_eq!(
        plans,
        vec![
            (PLAN, 2025, 753_000_000, None, None),
            (PLAN_359, 2026, 753_000_000, Some(753_000_000), None)
        ]
    );
    // Flags that belong to the printed form are refused on a normalized file, with the reason.
    let o = import_command(&db, d, &data("tasks.csv"), &["--auto-link", "0.8"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("chỉ dùng với bảng in"));
}

/// A section declares the workflow kinds and funding sources that belong in it (the layout's
/// `kinds` and `funding_sources`): a new task whose kind the rules would choose outside them gets
/// the section's first kind, and a linked task of another kind or source is named in the
/// summary.
async fn a_layout_declares_the_kinds_and_funding_sources_of_its_sections(db: TestDb) {
    // Plan 359 with a Phụ lục II that admits only the sự nghiệp CNTT source: the Plan 215 tasks
    // of appendix 1 it continues are named, and linked all the same.
    let store = with_plan_215(&db).await;
    let mut request = plan_359(LinkMode::AutoLink(0.8));
    let text = std::fs::read_to_string(root().join("data/plan-359-2026/layout.toml"))
        .unwrap()
        .replace(
            "funding_sources = [\"su_nghiep_cntt\", \"thuong_xuyen\", \"hoan_thanh_2025_cntt\"]",
            "funding_sources = [\"su_nghiep_cntt\"]",
        );
    request.layout = parse_layout(&text, "layout.toml").unwrap();
    let r = store
        .imports()
        .import_printed("cli:tester", request, at("2026-01-05T09:00:00+07:00"))
        .await
        .unwrap();
    let summary = r.render();
    assert_eq!(
        (r.outcome.linked.len(), r.outcome.created),
        (13, 1),
        "{summary}"
    );
    let hop = task_named(&store, "Kỳ họp số di động").await;
    let named: Vec<&String> = r
        .outcome
        .warnings
        .iter()
        .filter(|w| w.contains(&hop))
        .collect();
    assert_eq!(named.len(), 1, "{summary}");
    assert!(
        named[0].contains(
            "nguồn kinh phí thuong_xuyen không thuộc các nguồn mục II gồm (su_nghiep_cntt)"
        ),
        "{summary}"
    );
    assert!(summary.contains(named[0].as_str()), "{summary}");
    // The rental security service of appendix 3 (sự nghiệp CNTT) belongs.
    assert!(
        r.outcome.warnings.len() < 13 && !r.outcome.warnings.is_empty(),
        "{summary}"
    );

    // The 2024-style plan with a section C that admits procurement only: the rules would make
    // the HR software an economic-technical report; it is created as procurement, and said so.
    let db2 = store;
    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("ke-hoach-325.xlsx");
    plan_325_workbook(&xlsx);
    let text = std::fs::read_to_string(root().join("tests/fixtures/plan-325-2024/layout.toml"))
        .unwrap()
        .replace(
            "kinds = [\"mua-sam\", \"bao-cao-ktkt\"]",
            "kinds = [\"mua-sam\"]",
        );
    let request = PrintedImport {
        plan: ImportPlan {
            number: "325/KH-UBND".into(),
            year: 2024,
            title: "Kế hoạch ứng dụng công nghệ thông tin năm 2024".into(),
            issued_on: None,
        },
        layout: parse_layout(&text, "layout.toml").unwrap(),
        sheets: adapters::import::read_grids(&xlsx, None).unwrap(),
        mode: LinkMode::AutoLink(0.8),
    };
    let r = db2
        .imports()
        .import_printed(
            "cli:tester",
            request.clone(),
            at("2025-09-01T09:00:00+07:00"),
        )
        .await
        .unwrap();
    let summary = r.render();
    assert!(
        summary.contains("«Xây dựng phần mềm quản lý hồ sơ công chức»: quy tắc phân loại chọn quy trình bao-cao-ktkt, nhưng mục C chỉ gồm mua-sam: nếu tạo mới, nhiệm vụ theo quy trình mua-sam"),
        "{summary}"
    );
    let hr = task_named(&db2, "Xây dựng phần mềm quản lý hồ sơ công chức").await;
    let t = db2.tasks().unscoped().get(&hr).await.unwrap();
    assert_eq!(t.workflow.as_str(), "mua-sam");

    // A layout naming a workflow that is not loaded is refused before anything is read.
    let mut bad = request;
    bad.plan.number = "326/KH-UBND".into();
    bad.layout = parse_layout(
        &text.replace("kinds = [\"mua-sam\"]", "kinds = [\"mua-sam-moi\"]"),
        "layout.toml",
    )
    .unwrap();
    let e = db2
        .imports()
        .import_printed("cli:tester", bad, at("2025-09-01T09:00:00+07:00"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Tệp bố cục ghi loại nhiệm vụ không có quy trình: mục C: «mua-sam-moi»"),
        "{e}"
    );
}

/// A printed plan imported by the release before migration 0016 had its "Dự kiến phân bổ" column
/// kept as the year's allocation. Importing the same file again records it as the planned
/// allocation, the allocation blank, with a new history entry per line; nothing is duplicated.
async fn a_printed_plan_imported_before_0016_records_its_planned_allocation_when_imported_again(
    db: TestDb,
) {
    let store = with_plan_215(&db).await;
    store
        .imports()
        .import_printed(
            "cli:tester",
            plan_359(LinkMode::AutoLink(0.8)),
            at("2026-01-05T09:00:00+07:00"),
        )
        .await
        .unwrap();
    // The 2026 lines as that release kept them.
    db.exec(
        "UPDATE budget_lines SET allocated_year_vnd = planned_allocation_vnd, \
         planned_allocation_vnd = NULL WHERE year = 2026",
    )
    .await;
    const M: i64 = 1_000_000;
    let sums = |store: Store| async move {
        let names = task_names(&store).await;
        let ids: Vec<&str> = names.keys().map(String::as_str).collect();
        let mut sums = (0i64, 0i64);
        for (_, ls) in store.plans().listings_of(&ids).await.unwrap() {
            for l in ls.iter().filter(|l| l.plan_number == PLAN_359) {
                let b = l.budget.unwrap();
                sums.0 += b.planned_allocation_vnd.unwrap_or(0);
                sums.1 += b.allocated_year_vnd.unwrap_or(0);
            }
        }
        sums
    };
    assert_eq!(sums(store.clone()).await, (0, 169_439 * M));
    let history = store.count("budget_history").await.unwrap();
    let tasks = store.count("tasks").await.unwrap();

    let r = store
        .imports()
        .import_printed(
            "cli:tester",
            plan_359(LinkMode::AutoLink(0.8)),
            at("2026-02-02T09:00:00+07:00"),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.outcome.listed, r.outcome.created, r.outcome.linked.len()),
        (14, 0, 0),
        "{}",
        r.render()
    );
    assert_eq!(store.count("tasks").await.unwrap(), tasks);
    assert_eq!(sums(store.clone()).await, (169_439 * M, 0));
    assert_eq!(store.count("budget_history").await.unwrap(), history + 14);
    let hop = task_named(&store, "Kỳ họp số di động").await;
    let line = store.plans().budget_of(&hop, 2026, None).await.unwrap();
    assert_eq!(
        (
            line.budget.planned_allocation_vnd,
            line.budget.allocated_year_vnd
        ),
        (Some(753 * M), None)
    );
    assert_eq!(line.known_from, Some(parse_date("02/02/2026").unwrap()));
}
