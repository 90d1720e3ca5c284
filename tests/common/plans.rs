//! The city's plans as printed: Plan 215/KH-UBND of 2025 (`data/plan-215-2025`) and the
//! carry-over appendix of Plan 359/KH-UBND of 2026 (`data/plan-359-2026`): the fixtures of the
//! plan-import, report and plan-year tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use engine::catalogue::{ImportPlan, PlanImport};
use engine::plan::import::{LinkMode, PrintedImport};
use engine::time::{Instant, parse_instant};

use super::TestDb;

pub const PLAN: &str = "215/KH-UBND";
pub const PLAN_359: &str = "359/KH-UBND";
pub const TITLE: &str = "Kế hoạch ứng dụng công nghệ thông tin, phát triển chính quyền số năm 2025";

/// The checkout: `data/`, `workflows/`…
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the plan's data folder (`tasks.csv`, `totals.csv`…).
pub fn data(name: &str) -> PathBuf {
    root().join("data/plan-215-2025").join(name)
}

/// An instant written in RFC 3339.
pub fn at(s: &str) -> Instant {
    parse_instant(s).unwrap()
}

/// When the plan is imported in-process: 01/09/2025 09:00.
pub fn imported_at() -> Instant {
    at("2025-09-01T09:00:00+07:00")
}

/// The import request of the plan from the catalogue `file`, with the printed totals when
/// `totals`.
pub fn request(file: &Path, totals: bool) -> PlanImport {
    PlanImport {
        plan: ImportPlan {
            number: PLAN.into(),
            year: 2025,
            title: TITLE.into(),
            issued_on: None,
        },
        rows: adapters::import::read_file(file, None).unwrap(),
        totals: totals.then(|| adapters::import::read_file(&data("totals.csv"), None).unwrap()),
        skip_invalid: false,
    }
}

/// The acceptance command, exactly (no `--as`): `tiendo import plan` of the plan from `file`,
/// with the arguments `extra` before the file.
pub fn import_command(db: &TestDb, dir: &Path, file: &Path, extra: &[&str]) -> Output {
    let file = file.display().to_string();
    let mut args = vec![
        "import", "plan", "--plan", PLAN, "--year", "2025", "--title", TITLE,
    ];
    args.extend_from_slice(extra);
    args.push(&file);
    super::tiendo(db, dir, &args)
}

/// The plan imported in-process by `cli:tester` at [`imported_at`], from `tasks.csv` (with the
/// printed totals when `totals`).
pub async fn imported(store: &adapters::store::Store, totals: bool) {
    store
        .imports()
        .import_plan(
            "cli:tester",
            request(&data("tasks.csv"), totals),
            imported_at(),
        )
        .await
        .unwrap();
}

/// Plan 359's Phụ lục II (the tasks continued from Plan 215), linked by `mode`.
pub fn plan_359(mode: LinkMode) -> PrintedImport {
    let dir = root().join("data/plan-359-2026");
    PrintedImport {
        plan: ImportPlan {
            number: PLAN_359.into(),
            year: 2026,
            title: "Kế hoạch chuyển đổi số thành phố Hải Phòng năm 2026".into(),
            issued_on: chrono::NaiveDate::from_ymd_opt(2025, 12, 31),
        },
        layout: engine::plan::layout::parse_layout(
            &std::fs::read_to_string(dir.join("layout.toml")).unwrap(),
            "layout.toml",
        )
        .unwrap(),
        sheets: adapters::import::read_grids(&dir.join("phu-luc-II-chuyen-tiep.xlsx"), None)
            .unwrap(),
        mode,
    }
}

/// Every task of the store, whoever may see it.
pub async fn all_tasks(store: &adapters::store::Store) -> Vec<adapters::store::Task> {
    store
        .tasks()
        .unscoped()
        .list(&adapters::store::TaskFilter::default())
        .await
        .unwrap()
}

/// The id of the first task whose name starts with `prefix`.
pub async fn task_named(store: &adapters::store::Store, prefix: &str) -> String {
    all_tasks(store)
        .await
        .into_iter()
        .find(|t| t.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no task named {prefix}…"))
        .id
}

/// `tiendo report KIND --plan 215/KH-UBND --as-of AS_OF ARGS…`, as `import_command` runs it.
pub fn report_command(db: &TestDb, dir: &Path, kind: &str, as_of: &str, extra: &[&str]) -> Output {
    let mut args = vec!["report", kind, "--plan", PLAN, "--as-of", as_of];
    args.extend_from_slice(extra);
    super::tiendo(db, dir, &args)
}
