//! Issue 13's attacks on documents, each written before its fix: who may upload which document
//! type (security 6); the tamper evidence of documents (security 3); streamed uploads and the
//! per-unit quota (security 7).

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::common::TestDb;
use crate::helpers::{Who, World, problem, world};

crate::on_both_backends!(documents_are_uploaded_by_their_issuers);

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
    let detail = p["detail"].as_str().expect("detail");
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
