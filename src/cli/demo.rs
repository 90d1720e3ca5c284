//! `tiendo demo`: a ready-to-try SQLite database, with the city's roles as demo users and a few
//! tasks of Plan 215/KH-UBND at different steps. Running it again reuses what is there.

use adapters::files::FileStore;
use adapters::store::{
    BudgetLine, NewTask, NewUser, Store, StoreError, TaskFilter, TransitionRequest,
};
use chrono::Utc;
use engine::Role;
use engine::decide::Actor;
use engine::domain::FundingSource;
use engine::money::parse_million_vnd;

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
        "lanhdao.ubnd",
        "Hoàng Thu Hà",
        Role::Ubnd,
        Some("van-phong-uy-ban-nhan-dan-thanh-pho"),
    ),
    ("quantri", "Quản trị hệ thống", Role::Admin, None),
];

const PLAN: &str = "215/KH-UBND";

/// Plan 215 rows of Sở Y tế (appendix 1), with the steps to take each one through.
const TASKS: &[(&str, &str, &str, &[&str])] = &[
    (
        "Triển khai Hệ thống phần mềm Quản lý Y tế cơ sở",
        "mua-sam",
        "8809",
        &["bat_dau_lap_thuyet_minh", "trinh_thu_truong", "gui_skhcn"],
    ),
    (
        "Thuê dịch vụ triển khai hồ sơ bệnh án điện tử và Đầu tư hạ tầng công nghệ thông tin tại các cơ sở y tế công lập trực thuộc Sở Y tế",
        "thue-dich-vu",
        "397954",
        &[],
    ),
];

fn ignore_duplicate<T>(r: Result<T, StoreError>) -> Result<(), StoreError> {
    match r {
        Ok(_) | Err(StoreError::Duplicate(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn run(ctx: &Ctx<'_>, data_dir: &std::path::Path) -> Result<String, Failure> {
    let files = FileStore::new(data_dir);
    let store = ctx.store().await?;
    let now = Utc::now();
    for (id, name) in UNITS {
        ignore_duplicate(store.add_unit(id, name, None, now).await)?;
    }
    for (username, name, role, unit) in USERS {
        let user = NewUser {
            username: (*username).into(),
            display_name: (*name).into(),
            email: Some(format!("{username}@demo.tiendo.local")),
            unit_id: unit.map(str::to_string),
            roles: vec![*role],
        };
        ignore_duplicate(store.add_user(user, now).await)?;
    }
    ignore_duplicate(
        store
            .add_plan(
                PLAN,
                2025,
                "Kế hoạch ứng dụng công nghệ thông tin, phát triển chính quyền số năm 2025",
                chrono::NaiveDate::from_ymd_opt(2025, 8, 25),
                now,
            )
            .await,
    )?;
    let existing = store
        .list_tasks(&TaskFilter {
            plan: Some(PLAN.into()),
            ..TaskFilter::default()
        })
        .await?;
    if existing.is_empty() {
        let officer = store.actor("canbo.syt").await?;
        let head = store.actor("giamdoc.syt").await?;
        for (name, kind, need, steps) in TASKS {
            seed_task(&store, &files, &officer, &head, name, kind, need, steps).await?;
        }
    }
    let tasks = store
        .list_tasks(&TaskFilter {
            plan: Some(PLAN.into()),
            ..TaskFilter::default()
        })
        .await?;
    let mut out = format!(
        "Cơ sở dữ liệu demo: {} ({})\n\nQuy trình:\n",
        ctx.database_url,
        store.backend().as_str()
    );
    out.push_str(&super::workflows::run(
        &super::workflows::WorkflowsCmd::List,
        ctx.workflows,
    )?);
    out.push_str("\nNgười dùng demo (--as):\n");
    for (username, name, role, unit) in USERS {
        out.push_str(&format!(
            "  {username:<18} {name:<20} {:<18} {}\n",
            role.as_str(),
            unit.unwrap_or("")
        ));
    }
    out.push_str(&format!("\nNhiệm vụ của kế hoạch {PLAN}:\n"));
    for t in &tasks {
        out.push_str(&format!(
            "  {}  {:<13} {:<18} {}\n",
            t.id, t.workflow, t.state, t.name
        ));
    }
    if let Some(t) = tasks.first() {
        out.push_str(&format!(
            "\nThử tiếp:\n  tiendo task show {id} --as chuyenvien.skhcn\n  tiendo task list --as canbo.syt\n  tiendo audit show {id}\n  tiendo audit verify\n",
            id = t.id
        ));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn seed_task(
    store: &Store,
    files: &FileStore,
    officer: &Actor,
    head: &Actor,
    name: &str,
    kind: &str,
    need: &str,
    steps: &[&str],
) -> Result<(), Failure> {
    let now = Utc::now();
    let need = parse_million_vnd(need).map_err(Failure::refused)?;
    let new = NewTask {
        plan: PLAN.into(),
        unit_id: "so-y-te".into(),
        name: name.into(),
        funding_source: FundingSource::ThuongXuyen,
        kind: kind.into(),
        period: None,
        is_rental: kind == "thue-dich-vu",
        budget: vec![BudgetLine {
            year: 2025,
            need_total_vnd: Some(need),
            ..BudgetLine::default()
        }],
    };
    let id = store.create_task(&new, officer, None, now).await?.task_id;
    let mut documents = Vec::new();
    for step in steps {
        // Steps that need the explanation dossier get a demo one, recorded like any upload.
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
                .add_document(
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
                    officer,
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
        let req = TransitionRequest {
            task_id: id.clone(),
            transition: (*step).into(),
            comment: None,
            document_ids: documents.clone(),
            expected_version: None,
            idempotency_key: None,
            automatic: false,
        };
        store.transition(&req, actor, now).await?;
    }
    Ok(())
}
