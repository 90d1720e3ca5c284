//! `tiendo demo`: a ready-to-try SQLite database: the city's roles as demo users, and Plan
//! 215/KH-UBND imported from its printed catalogue (`data/plan-215-2025/tasks.csv`, embedded in
//! the binary so the demo runs from any directory) exactly as `tiendo import plan` imports it,
//! reconciled with the printed totals, then Plan 359/KH-UBND's Phụ lục II (the 2026 carry-over
//! list, in its printed form) with `--auto-link 0.8`: its rows continue the Plan 215 tasks. One
//! Sở Y tế task is then walked to SKHCN's appraisal so that
//! a demo user has a task with a running deadline. Running it again reuses what is there: the
//! re-import changes nothing and the walk is not repeated.

use adapters::files::FileStore;
use adapters::import;
use adapters::store::{NewUser, Store, StoreError, Task, TaskFilter, TransitionRequest};
use chrono::Utc;
use engine::Role;
use engine::catalogue::{ImportPlan, PlanImport};
use engine::decide::Actor;

use super::{Ctx, Failure};
const UNITS: &[(&str, &str)] = &[
    ("so-khoa-hoc-va-cong-nghe", "Sở Khoa học và Công nghệ"),
    ("so-tai-chinh", "Sở Tài chính"),
    ("so-y-te", "Sở Y tế"),
    (
        "van-phong-uy-ban-nhan-dan-thanh-pho",
        "Văn phòng Ủy ban nhân dân thành phố",
    ),
];

const USERS: &[(&str, &str, Role, Option<&str>)] = &[
    ("canbo.syt", "Nguyễn Văn An", Role::DonVi, Some("so-y-te")),
    (
        "giamdoc.syt",
        "Trần Thị Bình",
        Role::ThuTruongDonVi,
        Some("so-y-te"),
    ),
    (
        "chuyenvien.skhcn",
        "Lê Minh Châu",
        Role::Skhcn,
        Some("so-khoa-hoc-va-cong-nghe"),
    ),
    (
        "thamdinh.stc",
        "Phạm Quốc Dũng",
        Role::SoTaiChinh,
        Some("so-tai-chinh"),
    ),
    (
        "lanhdao.skhcn",
        "Vũ Đức Giang",
        Role::LanhDaoSo,
        Some("so-khoa-hoc-va-cong-nghe"),
    ),
    (
        "lanhdao.ubnd",
        "Hoàng Thu Hà",
        Role::Ubnd,
        Some("van-phong-uy-ban-nhan-dan-thanh-pho"),
    ),
    ("quantri", "Quản trị hệ thống", Role::Admin, None),
];

/// Where `tiendo serve` answers by default.
const WEB_URL: &str = "http://127.0.0.1:8080/";

/// The demo password of a demo user: printed by the demo, known to anyone who reads it, so
/// only ever set on the demo database.
fn demo_password(username: &str) -> String {
    let role = USERS
        .iter()
        .find(|u| u.0 == username)
        .map_or("user", |u| match u.2 {
            Role::DonVi => "donvi",
            Role::ThuTruongDonVi => "thutruong",
            Role::Skhcn => "skhcn",
            Role::SoTaiChinh => "stc",
            Role::LanhDaoSo => "lanhdaoso",
            Role::Ubnd => "ubnd",
            Role::Admin => "admin",
        });
    format!("demo-{role}-2025")
}

const PLAN: &str = "215/KH-UBND";
const PLAN_TITLE: &str =
    "Kế hoạch ứng dụng công nghệ thông tin, phát triển chính quyền số năm 2025";
const TASKS_CSV: &[u8] = include_bytes!("../../data/plan-215-2025/tasks.csv");
const TOTALS_CSV: &[u8] = include_bytes!("../../data/plan-215-2025/totals.csv");
/// Plan 359/KH-UBND (2026), Phụ lục II in its printed form, and the plan's layout.
const PLAN_359_XLSX: &[u8] = include_bytes!("../../data/plan-359-2026/phu-luc-II-chuyen-tiep.xlsx");
const PLAN_359_LAYOUT: &str = include_str!("../../data/plan-359-2026/layout.toml");
const PLAN_359: &str = "359/KH-UBND";
/// Proposals at or above this score continue their Plan 215 task in the demo.
const DEMO_AUTO_LINK: f64 = 0.8;

/// The task walked to SKHCN's appraisal (appendix 1, Sở Y tế, imported at the rental survey),
/// and the steps that take it there.
const WALKED_TASK: &str = "Thuê dịch vụ triển khai hồ sơ bệnh án điện tử";
const WALK: &[&str] = &["hoan_thanh_khao_sat", "trinh_thu_truong", "gui_tham_dinh"];

/// The demo plan's Sở Y tế tasks.
async fn syt_tasks(store: &Store) -> Result<Vec<Task>, StoreError> {
    store
        .tasks()
        .unscoped()
        .list(&TaskFilter {
            plan: Some(PLAN.into()),
            // `so-y-te` of UNITS: its id is its name's.
            unit: Some(engine::domain::UnitId::from_name("Sở Y tế")),
            ..TaskFilter::default()
        })
        .await
}

fn ignore_duplicate<T>(r: Result<T, StoreError>) -> Result<(), StoreError> {
    match r {
        Ok(_) | Err(StoreError::Duplicate(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[tracing::instrument(name = "demo", skip_all)]
pub async fn run(ctx: &Ctx<'_>, data_dir: &std::path::Path) -> Result<String, Failure> {
    let files = FileStore::new(data_dir);
    let store = ctx.store().await?;
    let now = Utc::now();
    for (id, name) in UNITS {
        ignore_duplicate(store.directory().add_unit(id, name, None, now).await)?;
    }
    for (username, name, role, unit) in USERS {
        let user = NewUser::with_role(username, name, *role, *unit)
            .mailed_at(format!("{username}@demo.tiendo.local"));
        ignore_duplicate(store.directory().add_user(user, now).await)?;
    }
    // A password for every demo user that has none yet (a password someone changed stays).
    let admin = store.directory().actor("quantri").await?;
    for account in store.accounts().accounts_as(&admin).await? {
        if !account.has_password
            && let Some((username, ..)) = USERS.iter().find(|u| u.0 == account.user.username)
        {
            store
                .accounts()
                .set_password(username, &demo_password(username), now)
                .await?;
        }
    }
    // The plan, imported as SKHCN compiles it.
    let table = import::read_bytes(TASKS_CSV, "data/plan-215-2025/tasks.csv", None)
        .map_err(|e| Failure::refused(e.0))?;
    let totals = import::read_bytes(TOTALS_CSV, "data/plan-215-2025/totals.csv", None)
        .map_err(|e| Failure::refused(e.0))?;
    let request = PlanImport {
        plan: ImportPlan {
            number: PLAN.into(),
            year: 2025,
            title: PLAN_TITLE.into(),
            issued_on: chrono::NaiveDate::from_ymd_opt(2025, 8, 25),
        },
        rows: table,
        totals: Some(totals),
        skip_invalid: false,
    };
    let importer = store.directory().actor("chuyenvien.skhcn").await?;
    let imported = store
        .imports()
        .import_plan_as(&importer, request, now)
        .await
        .map_err(|e| Failure::refused(e.to_string()))?;
    // One Sở Y tế task to SKHCN's appraisal, once.
    let syt = syt_tasks(&store).await?;
    if let Some(t) = syt
        .iter()
        .find(|t| t.name.starts_with(WALKED_TASK) && t.audit_seq == 1)
    {
        let officer = store.directory().actor("canbo.syt").await?;
        let head = store.directory().actor("giamdoc.syt").await?;
        walk(&store, &files, &officer, &head, &t.id, &t.workflow, WALK).await?;
    }
    // The 2026 plan's carry-over list, linked to the Plan 215 tasks it continues.
    let layout =
        engine::plan::layout::parse_layout(PLAN_359_LAYOUT, "data/plan-359-2026/layout.toml")
            .map_err(Failure::refused)?;
    let sheets = import::read_grids_bytes(
        PLAN_359_XLSX.to_vec(),
        "data/plan-359-2026/phu-luc-II-chuyen-tiep.xlsx",
        None,
    )
    .map_err(|e| Failure::refused(e.0))?;
    let carried = store
        .imports()
        .import_printed_as(
            &importer,
            engine::plan::import::PrintedImport {
                plan: ImportPlan {
                    number: PLAN_359.into(),
                    year: 2026,
                    title: "Kế hoạch chuyển đổi số thành phố Hải Phòng năm 2026".into(),
                    issued_on: chrono::NaiveDate::from_ymd_opt(2025, 12, 31),
                },
                layout,
                sheets,
                mode: engine::plan::import::LinkMode::AutoLink(DEMO_AUTO_LINK),
            },
            now,
        )
        .await
        .map_err(|e| Failure::refused(e.to_string()))?;
    let tasks = syt_tasks(&store).await?;
    let mut out = format!(
        "Cơ sở dữ liệu demo: {} ({})\n\nQuy trình:\n",
        ctx.database_shown(),
        store.backend().as_str()
    );
    out.push_str(&super::workflows::run(
        &super::workflows::WorkflowsCmd::List,
        ctx.workflows,
    )?);
    out.push_str("\nNgười dùng demo (--as, và đăng nhập trên trang web với mật khẩu bên cạnh):\n");
    for (username, name, role, unit) in USERS {
        out.push_str(&format!(
            "  {username:<18} {:<22} {name:<20} {:<18} {}\n",
            demo_password(username),
            role.as_str(),
            unit.unwrap_or("")
        ));
    }
    out.push('\n');
    out.push_str(&imported.render());
    out.push('\n');
    out.push_str(&carried.render());
    out.push_str(&format!(
        "\nNhiệm vụ của Sở Y tế trong kế hoạch {PLAN} (đơn vị của canbo.syt, giamdoc.syt):\n"
    ));
    for t in &tasks {
        out.push_str(&format!(
            "  {}  {:<13} {:<24} {}\n",
            t.id, t.workflow, t.state, t.name
        ));
    }
    let walked = tasks
        .iter()
        .find(|t| t.name.starts_with(WALKED_TASK))
        .or(tasks.first());
    if let Some(t) = walked {
        out.push_str(&format!(
            "\nMở trang web: chạy `tiendo serve` rồi mở {WEB_URL} và đăng nhập, ví dụ canbo.syt / {pw} (mật khẩu demo ở bảng trên, nếu chưa đổi).\n\nThử tiếp:\n  tiendo task show {id} --as chuyenvien.skhcn\n  tiendo task list --as lanhdao.ubnd --plan {PLAN}\n  tiendo audit show {id}\n  tiendo audit verify\n  tiendo report progress --plan {PLAN} --as-of 2025-11-05 --format xlsx -o bao-cao-tien-do.xlsx\n  tiendo report status --plan {PLAN} --format html -o tinh-hinh.html\n",
            id = t.id,
            pw = demo_password("canbo.syt"),
        ));
    }
    Ok(out)
}

/// Takes `steps` on task `id` as the unit's officer or head (whoever the step is for), attaching
/// a small stored demo document wherever a step needs one.
async fn walk(
    store: &Store,
    files: &FileStore,
    officer: &Actor,
    head: &Actor,
    id: &str,
    kind: &str,
    steps: &[&str],
) -> Result<(), Failure> {
    let now = Utc::now();
    let id = id.to_string();
    let name = store.tasks().unscoped().get(&id).await?.name;
    let mut documents = Vec::new();
    for step in steps {
        // A step that needs a document (survey report, rental plan) gets a demo one.
        let wf = store.catalog().latest(kind).expect("shipped workflow");
        let needs: Vec<String> = wf
            .transition(step)
            .map(|t| t.documents.clone())
            .unwrap_or_default();
        for doc_type in needs {
            // A real (small) file, stored and hashed like any upload.
            let title = wf
                .document_types
                .get(&doc_type)
                .cloned()
                .unwrap_or_default();
            let text = format!("{title}\nNhiệm vụ: {name}\n(Tài liệu mẫu của bản demo tiendo)\n");
            let stored = files
                .put(text.as_bytes())
                .map_err(|e| Failure::refused(format!("Không lưu được tài liệu mẫu: {e}")))?;
            let doc = store
                .tasks()
                .add_document_as(
                    officer,
                    &adapters::store::NewDocument {
                        task_id: id.clone(),
                        doc_type: doc_type.clone(),
                        number: Some("01/TM-SYT".into()),
                        issued_on: None,
                        issuer: Some("Sở Y tế".into()),
                        file_name: format!("{doc_type}.txt"),
                        size_bytes: stored.size,
                        sha256: stored.sha256,
                        stored_path: stored.path.display().to_string(),
                    },
                    now,
                )
                .await?;
            documents.push(doc.id);
        }
        let actor = if wf
            .transition(step)
            .is_some_and(|t| t.roles.contains(&Role::DonVi))
        {
            officer
        } else {
            head
        };
        let req = TransitionRequest::new(&id, step).citing(documents.clone());
        store.tasks().transition_as(actor, &req, now).await?;
    }
    Ok(())
}
