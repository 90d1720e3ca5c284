//! Issue 13's attacks on documents, each written before its fix: who may upload which document
//! type (security 6); the tamper evidence of documents (security 3); streamed uploads and the
//! per-unit quota (security 7).

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::common::TestDb;
use crate::helpers::{Who, World, detail, page_session, problem, world, world_with};

crate::on_both_backends!(
    documents_are_uploaded_by_their_issuers,
    a_stored_path_outside_the_data_directory_is_not_served,
    a_download_rehashes_and_refuses_a_changed_file,
    user_emails_are_one_address,
    uploads_are_streamed_private_and_within_the_units_quota,
    the_web_upload_form_streams_its_file_and_bounds_its_text_fields,
);

fn pdf(doc_type: &str, body: &str) -> Form {
    Form::new().text("type", doc_type.to_string()).part(
        "file",
        Part::bytes(format!("%PDF-1.4 {body}").into_bytes())
            .file_name(format!("{doc_type}.pdf"))
            .mime_str("application/pdf")
            .expect("mime"),
    )
}

async fn upload(w: &World, task: &str, who: Who, form: Form) -> reqwest::Response {
    w.app
        .req(
            reqwest::Method::POST,
            &format!("/api/v1/tasks/{task}/documents"),
            w.token(who),
        )
        .multipart(form)
        .send()
        .await
        .expect("upload")
}

/// Security 6: a unit uploaded an "appraisal result" with SKHCN as issuer, and SKHCN's approval
/// accepted it. Document types now declare who issues them (`issued_by`); others get 403.
async fn documents_are_uploaded_by_their_issuers(db: TestDb) {
    let w = world(db).await;
    let task = w.task_at_skhcn("Nâng cấp phần mềm quản lý bệnh viện").await;
    let r = upload(
        &w,
        &task,
        Who::Officer,
        pdf("ket_qua_tham_dinh", "Kết quả thẩm định giả mạo"),
    )
    .await;
    let p = problem(r, StatusCode::FORBIDDEN).await;
    let detail = detail(&p);
    assert!(
        detail.contains("(skhcn)") && detail.contains("(so_tai_chinh)"),
        "{p}"
    );
    assert!(detail.contains("Kết quả thẩm định"), "{p}");
    // The same through the store door (the CLI and the pages use it).
    let forged = w
        .store()
        .tasks()
        .attach_as(&w.actor(Who::Officer).await, &task)
        .await
        .expect("may attach")
        .check_type("ket_qua_tham_dinh");
    assert!(
        matches!(forged, Err(adapters::store::StoreError::Forbidden(_))),
        "{forged:?}"
    );
    // Nothing was recorded.
    let docs = w
        .store()
        .tasks()
        .unscoped()
        .documents(&task)
        .await
        .expect("documents");
    assert!(docs.iter().all(|d| d.doc_type != "ket_qua_tham_dinh"));
    // SKHCN issues its comments; the unit its own dossier.
    let r = upload(&w, &task, Who::Skhcn, pdf("van_ban_y_kien", "Ý kiến SKHCN")).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let r = upload(&w, &task, Who::Officer, pdf("ho_so_bo_sung", "Giải trình")).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
}

/// Security 3: an absolute `stored_path` outside the data directory was served. A forged row
/// naming any file on the server now gets a 500 problem naming the fault, never the file.
async fn a_stored_path_outside_the_data_directory_is_not_served(db: TestDb) {
    let w = world(db).await;
    let task = w.task("Hệ thống họp trực tuyến").await;
    let secret = w.app.data_dir.path().join("bi-mat.txt");
    std::fs::write(&secret, b"%PDF-1.4 bi mat cua may chu").expect("write");
    let sha = adapters::store::sha256_hex(b"%PDF-1.4 bi mat cua may chu");
    w.app
        .db
        .exec(&format!(
            "INSERT INTO documents (id, task_id, doc_type, number, issued_on, issuer, file_name, size_bytes, sha256, stored_path, uploaded_by, uploaded_at) \
             VALUES ('gia-mao', '{task}', 'thuyet_minh_du_toan', NULL, NULL, NULL, 'x.pdf', 27, '{sha}', '{}', 'can.bo', '2026-03-02T02:00:00.000000Z')",
            secret.display()
        ))
        .await;
    let r = w
        .app
        .get("/api/v1/documents/gia-mao", w.token(Who::Officer))
        .await;
    let p = problem(r, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(p["code"], "file_outside_store", "{p}");
    assert!(!p.to_string().contains("bi mat"), "{p}");
}

/// Security 3: downloads re-hash the file and refuse one that no longer has the sha256 its
/// upload recorded (in the document row and in the upload's audit entry).
async fn a_download_rehashes_and_refuses_a_changed_file(db: TestDb) {
    let w = world(db).await;
    let task = w.task("Hệ thống họp trực tuyến").await;
    let r = upload(
        &w,
        &task,
        Who::Officer,
        pdf("thuyet_minh_du_toan", "Thuyết minh gốc"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let doc: serde_json::Value = r.json().await.expect("json");
    let (id, sha) = (
        doc["id"].as_str().expect("id").to_string(),
        doc["sha256"].as_str().expect("sha256").to_string(),
    );
    let r = w
        .app
        .get(&format!("/api/v1/documents/{id}"), w.token(Who::Officer))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The upload is an audit entry of the task, with the file's sha256.
    let history = w.store().audit().history(&task).await.expect("history");
    let entry = history.last().expect("an entry");
    assert_eq!(entry.kind, "document");
    assert!(
        entry.evidence.as_deref().is_some_and(|e| e.contains(&sha)),
        "{entry:?}"
    );
    let path = w
        .app
        .data_dir
        .path()
        .join("documents")
        .join(&sha[..2])
        .join(&sha);
    std::fs::write(&path, b"%PDF-1.4 Thuyet minh da bi sua").expect("write");
    let r = w
        .app
        .get(&format!("/api/v1/documents/{id}"), w.token(Who::Officer))
        .await;
    let p = problem(r, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(p["code"], "file_corrupt", "{p}");
    assert!(!p.to_string().contains("da bi sua"), "{p}");
}

/// Security 7: user emails were stored as typed. One RFC 5322 address is now required
/// (engine::input::email, the API, the pages and `tiendo user add` alike).
async fn user_emails_are_one_address(db: TestDb) {
    let w = world(db).await;
    for bad in [
        "a@b.vn, c@d.vn",
        "Cán bộ <canbo@syt.vn>",
        "canbo@localhost",
        "canbo@syt.vn\r\nBcc: x@y.vn",
    ] {
        let r = w
            .app
            .post(
                "/api/v1/users",
                w.token(Who::Admin),
                &serde_json::json!({"username": "moi.nguoi", "display_name": "Người mới", "email": bad, "roles": ["don_vi"], "unit": "so-y-te"}),
            )
            .await;
        let p = problem(r, StatusCode::BAD_REQUEST).await;
        assert_eq!(p["field"], "email", "{bad}: {p}");
    }
    let r = w
        .app
        .post(
            "/api/v1/users",
            w.token(Who::Admin),
            &serde_json::json!({"username": "moi.nguoi", "display_name": "Người mới", "email": " moi.nguoi@syt.haiphong.gov.vn ", "roles": ["don_vi"], "unit": "so-y-te"}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
}

/// Security 7: uploads were buffered whole in memory and a unit could fill the disk. Uploads
/// are now streamed to a temporary file (0600) and hashed on the way, stored 0600 in folders
/// 0700, and a unit's documents stay within `http.unit_quota_bytes` (507 `quota_exceeded`,
/// nothing recorded).
async fn uploads_are_streamed_private_and_within_the_units_quota(db: TestDb) {
    use std::os::unix::fs::PermissionsExt;
    let w = world_with(db, |s| s.unit_quota_bytes = 200).await;
    let task = w.task("Hệ thống họp trực tuyến").await;
    let big = |n: usize| {
        Form::new().text("type", "thuyet_minh_du_toan").part(
            "file",
            Part::bytes([b"%PDF-1.4 ".as_slice(), &vec![b'x'; n]].concat())
                .file_name("tm.pdf")
                .mime_str("application/pdf")
                .expect("mime"),
        )
    };
    let r = upload(&w, &task, Who::Officer, big(100)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let doc: serde_json::Value = r.json().await.expect("json");
    let sha = doc["sha256"].as_str().expect("sha256");
    let docs = w.app.data_dir.path().join("documents");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&docs.join(&sha[..2]).join(sha)), 0o600);
    assert_eq!(mode(&docs.join(&sha[..2])), 0o700);
    assert_eq!(mode(&docs.join(".staging")), 0o700);
    assert_eq!(
        std::fs::read_dir(docs.join(".staging"))
            .expect("staging")
            .count(),
        0,
        "no temporary file is left behind"
    );
    // 109 bytes stored; 109 more would pass the 200-byte quota.
    let r = upload(&w, &task, Who::Officer, big(100)).await;
    let p = problem(r, StatusCode::INSUFFICIENT_STORAGE).await;
    assert_eq!(p["code"], "quota_exceeded", "{p}");
    assert_eq!(p["quota_bytes"], 200, "{p}");
    assert!(
        p["detail"].as_str().unwrap_or("").contains("hạn mức"),
        "{p}"
    );
    let docs_now = w
        .store()
        .tasks()
        .unscoped()
        .documents(&task)
        .await
        .expect("documents");
    assert_eq!(docs_now.len(), 1, "nothing recorded");
    assert_eq!(
        std::fs::read_dir(docs.join(".staging"))
            .expect("staging")
            .count(),
        0,
        "the refused upload's temporary file is gone"
    );
    // A small one still fits.
    let r = upload(&w, &task, Who::Officer, big(50)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// Security 7 on the web page's upload form (not only the API): the file part is streamed to a
/// staging file, so a file far larger than the form's text-field cap (20 kB) and than a JSON body
/// (256 KiB) is stored whole; a text field past its cap is refused and nothing is stored.
async fn the_web_upload_form_streams_its_file_and_bounds_its_text_fields(db: TestDb) {
    let w = world(db).await;
    let task = w.task("Hệ thống hội nghị truyền hình").await;
    let (cookie, csrf) = page_session(&w, Who::Officer).await;
    let post = async |form: Form| {
        w.app
            .client
            .post(w.app.url(&format!("/tasks/{task}/documents")))
            .header("cookie", &cookie)
            .multipart(form)
            .send()
            .await
            .expect("upload")
    };
    let stored = async || {
        w.store()
            .tasks()
            .unscoped()
            .documents(&task)
            .await
            .expect("documents")
    };
    let file = [b"%PDF-1.4 ".as_slice(), &vec![b'x'; 400 * 1024]].concat();
    let form = |number: String| {
        Form::new()
            .text("csrf", csrf.clone())
            .text("type", "thuyet_minh_du_toan")
            .text("number", number)
            .part(
                "file",
                Part::bytes(file.clone())
                    .file_name("thuyet-minh.pdf")
                    .mime_str("application/pdf")
                    .expect("mime"),
            )
    };
    let r = post(form("01/TM-SYT".into())).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let docs = stored().await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].size_bytes, file.len() as i64);
    assert_eq!(docs[0].sha256, adapters::store::sha256_hex(&file));
    // A text field past the form's cap is refused before anything is stored.
    let r = post(form("9".repeat(30_000))).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let docs = stored().await;
    assert_eq!(docs.len(), 1, "nothing stored for the refused form");
    // A date made of Unicode's "next line" (U+0085), which trimming would take for a blank, is
    // refused as a date with the page's message, and nothing is stored.
    let r = post(form("02/TM-SYT".into()).text("date", " \u{85} ")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap_or_default();
    assert!(page.contains("ngày văn bản không hợp lệ"), "{page}");
    let docs = stored().await;
    assert_eq!(docs.len(), 1, "nothing stored for the refused date");
}
