//! The walks of the browser suite (see `main.rs`), run once per backend.

use std::path::{Path, PathBuf};

use adapters::store::TaskFilter;
use chrono::Utc;

use crate::browser::Browser;
use crate::common::TestDb;
use crate::helpers::{PLAN, Who, World, world};

pub const PASSWORD: &str = "mat-khau-thu-nghiem";

fn user(who: Who) -> &'static str {
    who.username().expect("a user")
}

/// Files to upload, as a user would pick them.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().expect("dir"),
        }
    }

    fn pdf(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, format!("%PDF-1.4\n% {name}\n%%EOF\n")).expect("write");
        p
    }
}

pub async fn run_all(b: &Browser, db: TestDb, audit_pages: bool) {
    let backend = db.backend;
    let w = world(db).await;
    let now = Utc::now();
    for who in Who::ALL.iter().filter(|w| w.username().is_some()) {
        w.store()
            .accounts()
            .set_password(user(*who), PASSWORD, now)
            .await
            .expect("password");
    }
    let files = Files::new();
    eprintln!("[{backend}] lifecycle");
    let task = lifecycle(b, &w, &files).await;
    eprintln!("[{backend}] email link");
    email_link(b, &w, &task).await;
    eprintln!("[{backend}] isolation");
    isolation(b, &w, &task).await;
    eprintln!("[{backend}] csrf");
    csrf(b, &w).await;
    eprintln!("[{backend}] script name");
    let script_task = script_name(b, &w).await;
    eprintln!("[{backend}] stale form");
    stale(b, &w).await;
    if audit_pages {
        eprintln!("[{backend}] every page: axe-core, keyboard, screenshots");
        pages(b, &w, &task, &script_task).await;
    }
    eprintln!("[{backend}] reporting round");
    round(b, &w, audit_pages).await;
    // Last: it imports two plans, which would change the other walks' lists.
    eprintln!("[{backend}] plan import: carry-over review");
    plan_import(b, &w, audit_pages).await;
}

/// A reporting round on the pages (issue 16): SKHCN opens it from the plan's rounds page, the
/// unit officer enters a task's progress, difficulty and proposal, the head submits, and SKHCN
/// reads the entry, rewrites a section of the report and downloads the DOCX (the export
/// recorded in the round's events).
async fn round(b: &Browser, w: &World, audit_pages: bool) {
    let base = &w.app.base;
    let task = w.task("Nâng cấp hệ thống thông tin bệnh viện").await;
    let plan = w.store().directory().plan(PLAN).await.expect("plan");
    let rounds = format!("/plans/{}/rounds", plan.id);

    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Skhcn), PASSWORD).await;
    b.click("a[href='/rounds']").await;
    b.wait_path("/rounds").await;
    b.click(&format!("a[href='{rounds}']")).await;
    b.wait_path(&rounds).await;
    let number = b.el("#number").await.prop("value").await.expect("value");
    // Figures as of today; the units have a month (a due date not past: no unit is late).
    let today = engine::time::local_date(Utc::now());
    let due = today + chrono::Days::new(30);
    b.type_into("#cut_off", &today.format("%d/%m/%Y").to_string())
        .await;
    b.type_into("#units_due", &due.format("%d/%m/%Y").to_string())
        .await;
    b.type_into(
        "#instruction",
        "Thông báo số 620/TB-VP ngày 20/10/2025 của Văn phòng UBND thành phố",
    )
    .await;
    b.click("#mo-dot button[type=submit]").await;
    b.wait_path("xong=mo").await;
    let n: u32 = number.as_deref().unwrap_or("").parse().expect("a number");
    let here = format!("{rounds}/{n}");
    assert_eq!(b.path().await, format!("{here}?xong=mo"));
    b.sign_out().await;

    // The unit officer enters the task's report.
    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Officer), PASSWORD).await;
    b.goto(&format!("{base}{here}")).await;
    if audit_pages {
        b.audit("round-entry").await;
    }
    let form = format!("article[id='nv-{task}'] form");
    b.type_into(
        &format!("{form} textarea[name=progress]"),
        "Đã trình thẩm định dự toán ngày 20/10/2025",
    )
    .await;
    b.select(&format!("{form} select[name=diff_kind]"), "kinh_phi")
        .await;
    b.type_into(
        &format!("{form} textarea[name=diff_text]"),
        "Chưa được bố trí vốn năm 2025",
    )
    .await;
    b.type_into(
        &format!("{form} textarea[name=prop_text]"),
        "Đề nghị chuyển nhiệm vụ sang năm 2026",
    )
    .await;
    b.type_into(
        &format!("{form} input[name=prop_letter]"),
        "Công văn số 123/SYT-KHTC ngày 01/11/2025",
    )
    .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.wait_path("xong=nhap").await;
    assert!(!b.has("form[action$='/submit']").await, "the head submits");
    b.sign_out().await;

    // The head submits; the unit's report is then read-only.
    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Head), PASSWORD).await;
    b.goto(&format!("{base}{here}")).await;
    b.click("form[action$='/units/so-y-te/submit'] button")
        .await;
    b.wait_path("xong=gui").await;
    assert!(!b.has(&format!("article[id='nv-{task}'] form")).await);
    assert!(b.body().await.contains("Đã gửi"), "{}", b.body().await);
    b.sign_out().await;

    // SKHCN reads it, rewrites a section and downloads the official document.
    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Skhcn), PASSWORD).await;
    b.goto(&format!("{base}{here}")).await;
    let body = b.body().await;
    for part in [
        "Chưa được bố trí vốn năm 2025",
        "Về kinh phí:",
        "Công văn số 123/SYT-KHTC ngày 01/11/2025",
        "Đã gửi",
    ] {
        assert!(body.contains(part), "{part}: {body}");
    }
    b.type_into("#muc-kho_khan", "Một số nhiệm vụ chưa được bố trí vốn.")
        .await;
    b.click("form[action$='/drafts'] button[type=submit]").await;
    b.wait_path("xong=du-thao").await;
    if audit_pages {
        b.audit("round").await;
    }
    let href = b
        .el("#tai-docx")
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("a link");
    let got = b
        .client
        .execute_async(
            "const [href, done] = arguments;
             fetch(href, { credentials: 'same-origin' })
               .then(r => r.arrayBuffer().then(a => done([r.status, r.headers.get('content-type'), a.byteLength])))
               .catch(e => done(String(e)));",
            vec![serde_json::json!(href)],
        )
        .await
        .expect("fetch");
    assert_eq!(got[0], 200, "{got}");
    assert!(
        got[1].as_str().unwrap_or("").contains("wordprocessingml"),
        "{got}"
    );
    assert!(got[2].as_u64().unwrap_or(0) > 1000, "{got}");
    let events = w
        .store()
        .rounds()
        .events(
            &w.store()
                .rounds()
                .round(&plan.id, n)
                .await
                .expect("round")
                .id,
        )
        .await
        .expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "export" && e.actor_user == user(Who::Skhcn)),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e.kind == "draft"), "{events:?}");
    b.sign_out().await;
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The carry-over review as a page: Plan 215 imported (as the command line would), then SKHCN
/// uploads Plan 359's Phụ lục II in its printed form with its layout, reviews the proposal of
/// each row, turns one proposed link into "create", and applies: 12 rows continue Plan 215
/// tasks, 2 are new, none is left for review; the same door as `--review` / `--links`.
async fn plan_import(b: &Browser, w: &World, audit_pages: bool) {
    use engine::catalogue::{ImportPlan, PlanImport};
    let base = &w.app.base;
    let store = w.store();
    store
        .imports()
        .import_plan(
            "cli:tester",
            PlanImport {
                plan: ImportPlan {
                    number: PLAN.into(),
                    year: 2025,
                    title: "Kế hoạch ứng dụng công nghệ thông tin năm 2025".into(),
                    issued_on: None,
                },
                rows: adapters::import::read_file(&repo("data/plan-215-2025/tasks.csv"), None)
                    .expect("tasks.csv"),
                totals: None,
                skip_invalid: false,
            },
            Utc::now(),
        )
        .await
        .expect("plan 215");
    // A unit's officer may not import: the same rule as the command line's.
    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Officer), PASSWORD).await;
    assert!(!b.has("a[href='/plans/import']").await, "no menu item");
    b.goto(&format!("{base}/plans/import")).await;
    assert!(
        b.body().await.contains(
            "Chỉ Sở Khoa học và Công nghệ, UBND thành phố và quản trị viên nhập được kế hoạch."
        ),
        "{}",
        b.body().await
    );
    b.goto(&format!("{base}/")).await; // the error page has no header to sign out from
    b.sign_out().await;

    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Skhcn), PASSWORD).await;
    b.click("a[href='/plans/import']").await;
    b.wait_path("/plans/import").await;
    if audit_pages {
        b.audit("plan-import").await;
    }
    // Without the file: the message stands next to the field; what was typed stays.
    b.type_into("#plan", "359/KH-UBND").await;
    b.type_into("#year", "2026").await;
    b.type_into(
        "#title",
        "Kế hoạch chuyển đổi số thành phố Hải Phòng năm 2026",
    )
    .await;
    b.click("form[action='/plans/import'] button[type=submit]")
        .await;
    b.wait_for("#file-error").await;
    assert!(
        b.text("#file-error").await.contains("Chọn tệp bảng in"),
        "{}",
        b.body().await
    );
    assert!(b.text("#layout-error").await.contains("chọn tệp bố cục"));
    let before = store.count("tasks").await.expect("count");
    // The file and its layout: the review, nothing written yet.
    b.type_into(
        "#file",
        &repo("data/plan-359-2026/phu-luc-II-chuyen-tiep.xlsx")
            .display()
            .to_string(),
    )
    .await;
    b.type_into(
        "#layout",
        &repo("data/plan-359-2026/layout.toml").display().to_string(),
    )
    .await;
    b.click("form[action='/plans/import'] button[type=submit]")
        .await;
    b.wait_for("table#de-xuat").await;
    assert_eq!(store.count("tasks").await.expect("count"), before);
    let rows = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('#de-xuat tbody tr')).map(tr => [tr.id, tr.querySelector('select').value, tr.textContent]);",
            vec![],
        )
        .await
        .expect("rows");
    let rows = rows.as_array().expect("array").clone();
    assert_eq!(rows.len(), 14, "{rows:?}");
    let linked: Vec<&serde_json::Value> = rows.iter().filter(|r| r[1] != "").collect();
    assert_eq!(linked.len(), 13, "{rows:?}");
    let hop = rows
        .iter()
        .find(|r| {
            r[2].as_str()
                .is_some_and(|t| t.contains("Kỳ họp số di động"))
        })
        .expect("Kỳ họp số di động");
    assert!(
        hop[2]
            .as_str()
            .unwrap()
            .contains("Kỳ họp số di động HDND thành phố"),
        "the proposed task is named: {hop:?}"
    );
    let ocop = rows.iter().find(|r| r[0] == "dong-28").expect("row 28");
    assert_eq!(ocop[1], "", "the OCOP software is new: {ocop:?}");
    assert!(
        ocop[2]
            .as_str()
            .unwrap()
            .contains("không có nhiệm vụ tương tự"),
        "{ocop:?}"
    );
    if audit_pages {
        b.audit("plan-import-review").await;
    }
    // One proposal declined: row 26 becomes a new task.
    let source_26 = rows.iter().find(|r| r[0] == "dong-26").expect("row 26")[1]
        .as_str()
        .unwrap()
        .to_string();
    b.select("#r26", "").await;
    b.click("form[action='/plans/import/apply'] button[type=submit]")
        .await;
    b.wait_for("#tong-ket").await;
    assert_eq!(
        b.text("#tong-ket").await,
        "12 dòng liên kết với nhiệm vụ đã có, 2 dòng tạo mới, 0 dòng để xem xét, 0 dòng đã có trong kế hoạch."
    );
    assert_eq!(store.count("tasks").await.expect("count"), before + 2);
    let listed_in = |id: String| async move {
        store
            .plans()
            .listings(&id)
            .await
            .expect("listings")
            .into_iter()
            .map(|l| l.plan_number)
            .collect::<Vec<_>>()
    };
    let hop_id = hop[1].as_str().unwrap().to_string();
    assert_eq!(listed_in(hop_id).await, vec![PLAN, "359/KH-UBND"]);
    assert_eq!(
        listed_in(source_26).await,
        vec![PLAN],
        "declined: not linked"
    );
    if audit_pages {
        b.audit("plan-import-done").await;
    }
    // A forged apply (no token) is refused and changes nothing.
    let snapshot = crate::helpers::snapshot(store).await;
    let status = b
        .client
        .execute_async(
            "const done = arguments[0];
             fetch('/plans/import/apply', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'plan=359%2FKH-UBND&year=2026&title=X&file_hex=00', credentials: 'same-origin' })
               .then(r => done(r.status)).catch(e => done(String(e)));",
            vec![],
        )
        .await
        .expect("fetch");
    assert_eq!(status, 403);
    assert_eq!(crate::helpers::snapshot(store).await, snapshot);
    b.sign_out().await;
}

/// The task id in the current page's path (`/tasks/{id}…`).
async fn task_id(b: &Browser) -> String {
    let p = b.path().await;
    p.trim_start_matches("/tasks/")
        .split(['?', '#'])
        .next()
        .expect("an id")
        .to_string()
}

/// Opens the form of `transition` on the task page with the keyboard, fills what it asks for
/// and submits it; the page must then confirm the step.
async fn take(b: &Browser, transition: &str, comment: Option<&str>, uploads: &[(&str, &Path)]) {
    let details = format!("details#hanh-dong-{transition}");
    assert!(
        b.has(&details).await,
        "no form for {transition} on {}: {}",
        b.path().await,
        b.body().await
    );
    b.press(&format!("{details} > summary"), '\u{E007}').await; // Enter opens it
    for (doc_type, path) in uploads {
        b.type_into(
            &format!("{details} input[name=file_{doc_type}]"),
            &path.display().to_string(),
        )
        .await;
    }
    if let Some(c) = comment {
        b.type_into(&format!("{details} textarea[name=comment]"), c)
            .await;
    }
    b.press(&format!("{details} button[type=submit]"), '\u{E007}')
        .await;
    b.wait_path(&format!("xong={transition}")).await;
    let flash = b.text(".flash").await;
    assert!(flash.starts_with("Đã thực hiện"), "{flash}");
}

/// Signs in as `who` and opens the task from their "my turn" page.
async fn from_my_turn(b: &Browser, w: &World, who: Who, task: &str) {
    b.goto(&format!("{}/sign-in", w.app.base)).await;
    b.sign_in(&w.app.base, user(who), PASSWORD).await;
    assert_eq!(b.path().await, "/", "{who:?} lands on their list");
    let link = format!("a.task-link[href='/tasks/{task}']");
    assert!(
        b.has(&link).await,
        "{who:?} should find the task in their turn: {}",
        b.body().await
    );
    b.click(&link).await;
    b.wait_path(&format!("/tasks/{task}")).await;
}

async fn lifecycle(b: &Browser, w: &World, files: &Files) -> String {
    let base = &w.app.base;
    // Anyone who is not signed in is sent to the sign-in page.
    b.goto(&format!("{base}/")).await;
    b.wait_path("/sign-in").await;
    b.sign_in(base, user(Who::Officer), PASSWORD).await;

    // The unit officer proposes.
    b.goto(&format!("{base}/tasks/new")).await;
    b.type_into("#name", "Mua sắm máy chủ lưu trữ hồ sơ bệnh án điện tử")
        .await;
    b.select("#plan", PLAN).await;
    b.select("#kind", "mua-sam").await;
    b.select("#funding_source", "thuong_xuyen").await;
    b.type_into("#need_total", "1.234,5").await;
    b.click("form[action='/tasks/new'] button[type=submit]")
        .await;
    b.wait_path("moi=1").await;
    let id = task_id(b).await;
    assert!(
        b.body().await.contains("1.234,5"),
        "the budget line, Vietnamese style"
    );
    // The year-end forecast (issue 17): the card with its verdict, dates and binding step.
    let card = b.text("#du-bao").await;
    assert!(
        card.contains("Dự báo hoàn thành")
            && card.contains("Sớm nhất")
            && card.contains("Muộn nhất theo luật")
            && card.contains("Bước quyết định"),
        "{card}"
    );
    take(b, "bat_dau_lap_thuyet_minh", None, &[]).await;
    let tm = files.pdf("thuyet-minh-du-toan.pdf");
    take(b, "trinh_thu_truong", None, &[("thuyet_minh_du_toan", &tm)]).await;
    assert!(b.body().await.contains("thuyet-minh-du-toan.pdf"));
    assert!(b.body().await.contains("sha256:"));
    b.sign_out().await;

    // The head signs and sends it to SKHCN (the dossier already attached is offered).
    from_my_turn(b, w, Who::Head, &id).await;
    take(b, "gui_skhcn", None, &[]).await;
    b.sign_out().await;

    // SKHCN returns it with a comment.
    from_my_turn(b, w, Who::Skhcn, &id).await;
    let yk = files.pdf("van-ban-y-kien-lan-1.pdf");
    take(
        b,
        "skhcn_de_nghi_hoan_thien",
        Some("Đề nghị bổ sung báo giá của ít nhất ba nhà cung cấp."),
        &[("van_ban_y_kien", &yk)],
    )
    .await;
    b.sign_out().await;

    // The unit revises and resubmits.
    from_my_turn(b, w, Who::Officer, &id).await;
    assert!(
        b.body()
            .await
            .contains("Đề nghị bổ sung báo giá của ít nhất ba nhà cung cấp."),
        "the officer reads SKHCN's comment in the timeline"
    );
    let tm2 = files.pdf("thuyet-minh-du-toan-sua.pdf");
    take(
        b,
        "trinh_thu_truong",
        None,
        &[("thuyet_minh_du_toan", &tm2)],
    )
    .await;
    b.sign_out().await;
    from_my_turn(b, w, Who::Head, &id).await;
    take(b, "gui_skhcn", None, &[]).await;
    b.sign_out().await;
    from_my_turn(b, w, Who::Skhcn, &id).await;
    let yk2 = files.pdf("van-ban-y-kien-lan-2.pdf");
    take(b, "skhcn_thong_nhat", None, &[("van_ban_y_kien", &yk2)]).await;
    b.sign_out().await;
    // The unit's head approves the task and estimate, then sends it to Sở Tài chính.
    from_my_turn(b, w, Who::Head, &id).await;
    let pd = files.pdf("quyet-dinh-phe-duyet.pdf");
    take(
        b,
        "phe_duyet_nhiem_vu",
        None,
        &[("quyet_dinh_phe_duyet", &pd)],
    )
    .await;
    take(b, "gui_so_tai_chinh", None, &[]).await;
    b.sign_out().await;

    // Sở Tài chính appraises.
    from_my_turn(b, w, Who::Stc, &id).await;
    let kq = files.pdf("ket-qua-tham-dinh.pdf");
    take(b, "stc_thong_qua", None, &[("ket_qua_tham_dinh", &kq)]).await;
    b.sign_out().await;

    // UBND sees it waiting in appraisal, allocates the funds, and the overview shows it moved.
    b.goto(&format!("{base}/sign-in?next=/overview")).await;
    b.sign_in(base, user(Who::Ubnd), PASSWORD).await;
    b.wait_path("/overview").await;
    let before = b.text("#c-giai-doan").await;
    assert!(before.contains("Thẩm định: 1"), "{before}");
    assert!(before.contains("Lựa chọn nhà thầu: 0"), "{before}");
    from_my_turn_signed_in(b, w, &id).await;
    let qd = files.pdf("quyet-dinh-bo-tri-kinh-phi.pdf");
    take(
        b,
        "quyet_dinh_bo_tri_kinh_phi",
        None,
        &[("quyet_dinh_ubnd", &qd)],
    )
    .await;
    b.goto(&format!("{base}/overview")).await;
    let after = b.text("#c-giai-doan").await;
    assert!(after.contains("Thẩm định: 0"), "{after}");
    assert!(after.contains("Lựa chọn nhà thầu: 1"), "{after}");
    b.sign_out().await;

    let t = w.store().tasks().unscoped().get(&id).await.expect("task");
    assert_eq!(t.state, "lap_khlcnt");
    let history = w.store().audit().history(&id).await.expect("history");
    // The moves, by whom (the uploads are entries too, by their uploaders).
    let who: Vec<&str> = history
        .iter()
        .filter(|a| a.kind != "document")
        .map(|a| a.actor_user.as_str())
        .collect();
    assert!(history.iter().any(|a| a.kind == "document"));
    assert_eq!(
        who,
        [
            "can.bo",
            "can.bo",
            "can.bo",
            "giam.doc",
            "chuyen.vien.khcn",
            "can.bo",
            "giam.doc",
            "chuyen.vien.khcn",
            "giam.doc",
            "giam.doc",
            "tham.dinh.stc",
            "pho.chu.tich"
        ]
    );
    id
}

/// UBND, already signed in, opens the task from their list.
async fn from_my_turn_signed_in(b: &Browser, w: &World, task: &str) {
    b.goto(&format!("{}/", w.app.base)).await;
    b.click(&format!("a.task-link[href='/tasks/{task}']")).await;
    b.wait_path(&format!("/tasks/{task}")).await;
}

async fn email_link(b: &Browser, w: &World, task: &str) {
    let base = &w.app.base;
    // The link of every reminder email: TIENDO_BASE_URL/tasks/{id}.
    b.goto(&format!("{base}/tasks/{task}")).await;
    b.wait_path("/sign-in?next=").await;
    b.sign_in(base, user(Who::Skhcn), PASSWORD).await;
    assert_eq!(b.path().await, format!("/tasks/{task}"));
    assert!(b.has("h1").await);
    b.sign_out().await;
    // A crafted return path to another site is not followed.
    for evil in [
        "https://evil.example/",
        "//evil.example/",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
    ] {
        b.goto(&format!("{base}/sign-in?next={evil}")).await;
        b.sign_in(base, user(Who::Skhcn), PASSWORD).await;
        let u = b.client.current_url().await.expect("url");
        assert_eq!(
            u.host_str(),
            Some("127.0.0.1"),
            "next={evil} must not leave the site"
        );
        assert_eq!(u.path(), "/", "next={evil} lands on the home page");
        b.sign_out().await;
    }
}

async fn isolation(b: &Browser, w: &World, task: &str) {
    let base = &w.app.base;
    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::OtherOfficer), PASSWORD).await;
    b.goto(&format!("{base}/tasks/{task}")).await;
    assert!(b.text("h1").await.contains("Không tìm thấy"));
    assert!(!b.body().await.contains("Mua sắm máy chủ"));
    let doc = w
        .store()
        .tasks()
        .unscoped()
        .documents(task)
        .await
        .expect("docs")[0]
        .id
        .clone();
    b.goto(&format!("{base}/documents/{doc}")).await;
    assert!(b.text("h1").await.contains("Không tìm thấy"));
    b.goto(&format!("{base}/tasks?q=may+chu")).await;
    assert!(!b.body().await.contains("Mua sắm máy chủ"));
    // The same 404 as the API, for the page, the document and the API itself.
    let session = b.cookie("tiendo_session").await.expect("session cookie");
    let client = &w.app.client;
    for path in [
        format!("/tasks/{task}"),
        format!("/documents/{doc}"),
        format!("/api/v1/tasks/{task}"),
        format!("/api/v1/documents/{doc}"),
    ] {
        let r = client
            .get(w.app.url(&path))
            .header("cookie", format!("tiendo_session={session}"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 404, "{path}");
    }
    // A task that does not exist answers the same.
    let r = client
        .get(w.app.url("/tasks/khong-co-nhiem-vu-nay"))
        .header("cookie", format!("tiendo_session={session}"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 404);
    b.sign_out().await;

    // A department's leadership (`lanh_dao_so`) reads any task and the overview, and is offered
    // no step of someone else's.
    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::LanhDaoSo), PASSWORD).await;
    b.goto(&format!("{base}/tasks/{task}")).await;
    assert!(b.body().await.contains("Mua sắm máy chủ"));
    b.goto(&format!("{base}/overview")).await;
    assert!(
        !b.text("h1").await.contains("Không"),
        "overview for lanh_dao_so"
    );
    b.sign_out().await;
}

async fn csrf(b: &Browser, w: &World) {
    let base = &w.app.base;
    let id = w.task("Nhiệm vụ kiểm tra CSRF").await;
    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Officer), PASSWORD).await;
    b.goto(&format!("{base}/tasks/{id}")).await;
    let before = crate::helpers::snapshot(w.store()).await;
    // The same request the page's form sends, without its token, from the signed-in browser.
    let status = b
        .client
        .execute_async(
            "const [id, done] = arguments;
             const f = new FormData();
             f.append('version', '1'); f.append('transition', 'bat_dau_lap_thuyet_minh');
             fetch('/tasks/' + id + '/transitions', { method: 'POST', body: f, credentials: 'same-origin' })
               .then(r => done(r.status)).catch(e => done(String(e)));",
            vec![serde_json::json!(id)],
        )
        .await
        .expect("fetch");
    assert_eq!(status, 403);
    // With a wrong token, and on the other forms: refused the same way.
    let session = b.cookie("tiendo_session").await.expect("session");
    let client = &w.app.client;
    for (path, body) in [
        (
            "/tasks/new".to_string(),
            format!(
                "csrf=forged&plan={PLAN}&unit=so-y-te&kind=mua-sam&funding_source=thuong_xuyen&name=X"
            ),
        ),
        ("/sign-out".to_string(), String::new()),
        (
            "/account/password".to_string(),
            "current_password=a&new_password=bbbbbbbbbbbb&confirm_password=bbbbbbbbbbbb"
                .to_string(),
        ),
    ] {
        let r = client
            .post(w.app.url(&path))
            .header("cookie", format!("tiendo_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 403, "{path}");
    }
    assert_eq!(crate::helpers::snapshot(w.store()).await, before);
    // The session was not ended by the forged sign-out.
    b.goto(&format!("{base}/tasks/{id}")).await;
    assert!(b.has("details#hanh-dong-bat_dau_lap_thuyet_minh").await);
    b.sign_out().await;
}

async fn script_name(b: &Browser, w: &World) -> String {
    let base = &w.app.base;
    let name = "<script>alert(1)</script>";
    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Officer), PASSWORD).await;
    b.goto(&format!("{base}/tasks/new")).await;
    b.type_into("#name", name).await;
    b.select("#plan", PLAN).await;
    b.select("#kind", "mua-sam").await;
    b.select("#funding_source", "thuong_xuyen").await;
    b.click("form[action='/tasks/new'] button[type=submit]")
        .await;
    b.wait_path("moi=1").await;
    let id = task_id(b).await;
    for path in [
        format!("/tasks/{id}"),
        "/".to_string(),
        "/tasks?q=script".to_string(),
    ] {
        b.goto(&format!("{base}{path}")).await;
        assert!(
            b.client.get_alert_text().await.is_err(),
            "{path}: a script ran"
        );
        assert!(
            b.body().await.contains(name),
            "{path}: the name is shown as text"
        );
        let html = b.client.source().await.expect("source");
        assert!(!html.contains(name), "{path}: the name is never raw HTML");
    }
    // In the workflow drawing, too: the SVG's title names the task's step, and the step and
    // task names are text nodes.
    b.goto(&format!("{base}/tasks/{id}")).await;
    let scripts = b
        .client
        .execute(
            "return document.querySelectorAll('script:not([src])').length;",
            vec![],
        )
        .await
        .expect("count");
    assert_eq!(scripts, 0, "no inline script on the page");
    b.sign_out().await;
    // Leadership's overview lists it among the plan's tasks, as text.
    b.goto(&format!("{base}/sign-in?next=/overview")).await;
    b.sign_in(base, user(Who::Ubnd), PASSWORD).await;
    assert!(b.client.get_alert_text().await.is_err());
    b.sign_out().await;
    id
}

async fn stale(b: &Browser, w: &World) {
    let base = &w.app.base;
    let id = w.task("Nhiệm vụ kiểm tra xung đột phiên bản").await;
    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Officer), PASSWORD).await;
    b.goto(&format!("{base}/tasks/{id}")).await;
    let details = "details#hanh-dong-bat_dau_lap_thuyet_minh";
    b.press(&format!("{details} > summary"), '\u{E007}').await;
    // Meanwhile a colleague moves the task (through the store, as another session would).
    w.step(&id, "bat_dau_lap_thuyet_minh", Who::Officer, vec![])
        .await;
    let version = w
        .store()
        .tasks()
        .unscoped()
        .get(&id)
        .await
        .expect("task")
        .version;
    b.type_into(&format!("{details} textarea[name=comment]"), "Bắt đầu")
        .await;
    b.press(&format!("{details} button[type=submit]"), '\u{E007}')
        .await;
    b.wait_for(".flash-error").await;
    let flash = b.text(".flash-error").await;
    assert!(flash.contains("đã được người khác cập nhật"), "{flash}");
    assert!(flash.contains("chưa được thực hiện"), "{flash}");
    // The page now shows the task as it is: the next step's form, the new version.
    assert!(b.has("details#hanh-dong-trinh_thu_truong").await);
    let t = w.store().tasks().unscoped().get(&id).await.expect("task");
    assert_eq!(
        t.version, version,
        "nothing applied to a version the user did not see"
    );
    assert_eq!(t.state, "lap_thuyet_minh");
    b.sign_out().await;
}

/// Every page, audited.
async fn pages(b: &Browser, w: &World, task: &str, script_task: &str) {
    let base = &w.app.base;
    b.goto(&format!("{base}/sign-in")).await;
    b.audit("sign-in").await;
    b.sign_in(base, user(Who::Officer), PASSWORD).await;
    let tasks = w
        .store()
        .tasks()
        .unscoped()
        .list(&TaskFilter::default())
        .await
        .expect("tasks");
    assert!(tasks.len() >= 3);
    for (name, path) in [
        ("my-turn", "/".to_string()),
        ("tasks", "/tasks".to_string()),
        ("tasks-search", "/tasks?q=benh+an".to_string()),
        ("task", format!("/tasks/{task}")),
        ("task-script-name", format!("/tasks/{script_task}")),
        ("propose", "/tasks/new".to_string()),
        ("account-password", "/account/password".to_string()),
        ("not-found", "/tasks/khong-co".to_string()),
    ] {
        b.goto(&format!("{base}{path}")).await;
        b.audit(name).await;
    }
    // Diacritic-free search finds the task.
    b.goto(&format!("{base}/tasks?q=benh+an")).await;
    assert!(b.body().await.contains("bệnh án"), "benh an finds bệnh án");
    b.sign_out().await;

    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Ubnd), PASSWORD).await;
    b.goto(&format!("{base}/overview")).await;
    b.audit("overview").await;
    b.goto(&format!("{base}/tasks?stalled=1&overdue=1")).await;
    b.audit("tasks-filtered").await;
    b.sign_out().await;

    b.goto(&format!("{base}/sign-in")).await;
    b.sign_in(base, user(Who::Admin), PASSWORD).await;
    assert_eq!(b.path().await, "/admin");
    for (name, path) in [
        ("admin", "/admin"),
        ("admin-users", "/admin/users"),
        ("admin-user", "/admin/users/can.bo"),
        ("admin-units", "/admin/units"),
        ("admin-calendars", "/admin/calendars"),
        ("admin-calendar-2026", "/admin/calendars/vn/2026"),
        ("admin-workflows", "/admin/workflows"),
        ("admin-workflow", "/admin/workflows/mua-sam"),
        ("admin-workflow-check", "/admin/workflows/check"),
        ("admin-outbox", "/admin/outbox"),
    ] {
        b.goto(&format!("{base}{path}")).await;
        b.audit(name).await;
    }
    b.sign_out().await;
}
