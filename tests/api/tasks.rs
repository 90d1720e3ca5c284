//! Transitions over HTTP: concurrent If-Match conflicts, the If-Match and Idempotency-Key
//! rules, uploads (limit, type, hash), and search (filters, sort, pages).

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestDb;
use crate::helpers::{
    PLAN, Who, detail, json, page_cookie, page_get, problem, snapshot, world, world_with,
};

crate::on_both_backends!(
    concurrent_if_match_exactly_one_wins,
    if_match_and_idempotency_key_rules,
    uploads_are_limited_typed_and_hashed,
    tasks_are_searched_filtered_sorted_and_paged,
    a_request_for_more_documents_after_its_window_is_a_409_naming_it,
    the_assigned_deadline_is_set_changed_and_cleared_with_its_document,
    a_task_over_http_lists_every_plan_with_that_years_budget_line,
);

/// Issue 14: `GET /api/v1/tasks/{id}` shows every plan the task is listed in, each with that
/// year's budget line — Plan 215 imported, then Plan 359's Phụ lục II continuing its tasks.
async fn a_task_over_http_lists_every_plan_with_that_years_budget_line(db: TestDb) {
    use crate::common::plans::{data, plan_359, request};
    use engine::plan::import::LinkMode;
    let w = world(db).await;
    let now = chrono::Utc::now();
    w.store()
        .imports()
        .import_plan("cli:tester", request(&data("tasks.csv"), false), now)
        .await
        .expect("plan 215");
    let r = w
        .store()
        .imports()
        .import_printed("cli:tester", plan_359(LinkMode::AutoLink(0.8)), now)
        .await
        .expect("plan 359");
    let (_, hop, _) = r
        .outcome
        .linked
        .iter()
        .find(|(_, _, name)| name.starts_with("Kỳ họp số di động"))
        .expect("linked")
        .clone();
    let t = json(
        w.app
            .get(&format!("/api/v1/tasks/{hop}"), w.token(Who::Ubnd))
            .await,
    )
    .await;
    let listings: Vec<(String, i64, String, i64, i64)> = t["listings"]
        .as_array()
        .unwrap_or_else(|| panic!("{t}"))
        .iter()
        .map(|l| {
            (
                l["plan_number"].as_str().unwrap_or_default().to_string(),
                l["plan_year"].as_i64().unwrap_or_default(),
                l["section"].as_str().unwrap_or_default().to_string(),
                l["budget"]["year"].as_i64().unwrap_or_default(),
                l["budget"]["need_year_vnd"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        listings,
        vec![
            (PLAN.to_string(), 2025, "1".to_string(), 2025, 753_000_000),
            (
                "359/KH-UBND".to_string(),
                2026,
                "II".to_string(),
                2026,
                753_000_000
            ),
        ],
        "{t}"
    );
    assert_eq!(
        t["listings"][1]["budget"]["approved_estimate_vnd"], 9_417_000_000_i64,
        "{t}"
    );
}

async fn the_assigned_deadline_is_set_changed_and_cleared_with_its_document(db: TestDb) {
    let w = world(db).await;
    let task = w.task("Nhiệm vụ được giao thời hạn").await;
    let url = format!("/api/v1/tasks/{task}/deadline");
    let put = async |who: Who, body: serde_json::Value| {
        w.app
            .req(Method::PUT, &url, w.token(who))
            .json(&body)
            .send()
            .await
            .expect("request")
    };
    let detail = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Ubnd))
            .await,
    )
    .await;
    assert_eq!(detail["assigned_deadline"]["source"], "none", "{detail}");
    assert_eq!(
        detail["assigned_deadline"]["text"],
        "không có (nhiệm vụ thường xuyên)"
    );
    // Bad input changes nothing: no document number, a document dated tomorrow, a bad date.
    let before = snapshot(w.store()).await;
    let tomorrow = (chrono::Utc::now() + chrono::TimeDelta::days(2))
        .format("%Y-%m-%d")
        .to_string();
    for (body, needle) in [
        (
            json!({"on": "2026-06-30", "doc_number": " ", "doc_date": "2025-11-05"}),
            "doc_number",
        ),
        (
            json!({"on": "2026-06-30", "doc_number": "1/QĐ", "doc_date": tomorrow}),
            "sau ngày hôm nay",
        ),
        (
            json!({"on": "30/02/2026", "doc_number": "1/QĐ", "doc_date": "2025-11-05"}),
            "`on`",
        ),
        (
            json!({"on": null, "doc_number": "1/QĐ", "doc_date": "2025-11-05"}),
            "không có gì để bỏ",
        ),
    ] {
        let p = problem(put(Who::Ubnd, body).await, StatusCode::BAD_REQUEST).await;
        assert!(crate::helpers::detail(&p).contains(needle), "{p}");
    }
    assert_eq!(snapshot(w.store()).await, before);
    // UBND sets it by a notice; the task shows it and its document; the history records it.
    let r = put(
        Who::Ubnd,
        json!({"on": "2026-06-30", "doc_number": "620/TB-VP", "doc_date": "05/11/2025"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = json(r).await;
    assert_eq!(v["assigned_deadline"]["on"], "2026-06-30", "{v}");
    assert_eq!(v["assigned_deadline"]["source"], "leader");
    assert_eq!(
        v["comment"],
        "Đặt thời hạn giao: không có (thường xuyên) → 30/06/2026 (theo văn bản số 620/TB-VP ngày 05/11/2025)"
    );
    let detail = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Officer))
            .await,
    )
    .await;
    assert_eq!(detail["assigned_deadline"]["text"], "30/06/2026");
    assert_eq!(detail["assigned_deadline"]["doc_number"], "620/TB-VP");
    assert_eq!(detail["version"], v["version"]);
    // SKHCN moves it; then clears it: the task is a standing one again.
    let r = put(
        Who::Skhcn,
        json!({"on": "2026-09-30", "doc_number": "88/SKHCN-KHTC", "doc_date": "2025-11-06"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = put(
        Who::Ubnd,
        json!({"on": null, "doc_number": "700/QĐ-UBND", "doc_date": "2025-11-07"}),
    )
    .await;
    let v = json(r).await;
    assert_eq!(v["assigned_deadline"]["source"], "none", "{v}");
    let history = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}/history"), w.token(Who::Ubnd))
            .await,
    )
    .await;
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["create", "deadline", "deadline", "deadline"]);
    let last = &history[3];
    assert_eq!(last["actor_user"], "pho.chu.tich");
    assert!(
        last["comment"].as_str().unwrap().contains(
            "30/09/2026 → không có (thường xuyên) (theo văn bản số 700/QĐ-UBND ngày 07/11/2025)"
        ),
        "{last}"
    );
    // A unit cannot move its own deadline.
    let p = problem(
        put(
            Who::Head,
            json!({"on": "2027-01-31", "doc_number": "1/SYT", "doc_date": "2025-11-05"}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["rule"], "deadline_not_allowed", "{p}");
}

async fn a_request_for_more_documents_after_its_window_is_a_409_naming_it(db: TestDb) {
    let w = world(db).await;
    let task = w.task_at_skhcn("Nâng cấp hệ thống thư điện tử").await;
    // Sở Tài chính's appraisal started a month ago: TT 03/2020's 5 working days are long over.
    let past = chrono::Utc::now() - chrono::TimeDelta::days(30);
    let opinion = w.document(&task, "van_ban_y_kien", Who::Skhcn).await;
    w.step_at(&task, "skhcn_thong_nhat", Who::Skhcn, vec![opinion], past)
        .await;
    let approval = w.document(&task, "quyet_dinh_phe_duyet", Who::Head).await;
    w.step_at(&task, "phe_duyet_nhiem_vu", Who::Head, vec![approval], past)
        .await;
    let dossier = w.document(&task, "thuyet_minh_du_toan", Who::Officer).await;
    w.step_at(&task, "gui_so_tai_chinh", Who::Head, vec![dossier], past)
        .await;
    let before = snapshot(w.store()).await;
    let r = w
        .app
        .post(
            &format!("/api/v1/tasks/{task}/transitions"),
            w.token(Who::Stc),
            &json!({"transition": "stc_yeu_cau_bo_sung", "comment": "Thiếu chứng thư thẩm định giá"}),
        )
        .await;
    let p = problem(r, StatusCode::CONFLICT).await;
    assert_eq!(p["code"], "request_window_closed", "{p}");
    let detail = detail(&p);
    assert!(detail.contains("5 ngày làm việc đầu"), "{detail}");
    assert!(p["window_ended_at"].is_string(), "{p}");
    assert_eq!(snapshot(w.store()).await, before);
}

async fn concurrent_if_match_exactly_one_wins(db: TestDb) {
    let w = world(db).await;
    let task = w
        .task_at_skhcn("Một nhiệm vụ, nhiều người bấm cùng lúc")
        .await;
    let doc = w.document(&task, "van_ban_y_kien", Who::Skhcn).await;
    let version = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Skhcn))
            .await,
    )
    .await["version"]
        .as_i64()
        .expect("version");
    let token = w.token(Who::Skhcn).expect("token").to_string();
    let mut handles = Vec::new();
    for i in 0..12 {
        // Half agree, half send the dossier back: whoever is first wins, the rest must reload.
        let (transition, comment) = if i % 2 == 0 {
            ("skhcn_thong_nhat", None)
        } else {
            (
                "skhcn_de_nghi_hoan_thien",
                Some("Đề nghị hoàn thiện dự toán."),
            )
        };
        let req = w
            .app
            .req(
                Method::POST,
                &format!("/api/v1/tasks/{task}/transitions"),
                Some(&token),
            )
            .header("If-Match", format!("\"{version}\""))
            .json(&json!({"transition": transition, "comment": comment, "documents": [doc]}));
        handles.push(tokio::spawn(async move {
            let r = req.send().await.expect("request");
            let status = r.status();
            let body: serde_json::Value = r.json().await.expect("json");
            (status, body)
        }));
    }
    let mut ok = 0;
    for h in handles {
        let (status, body) = h.await.expect("join");
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "version_conflict", "{body}");
                assert_eq!(body["current_version"], version + 1, "{body}");
                assert_eq!(body["expected_version"], version);
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(ok, 1, "exactly one transition wins");
    let h = json(
        w.app
            .get(
                &format!("/api/v1/tasks/{task}/history"),
                w.token(Who::Skhcn),
            )
            .await,
    )
    .await;
    // One entry per move (the version counts them) besides the uploads' entries.
    let moves = h
        .as_array()
        .expect("history")
        .iter()
        .filter(|e| e["kind"] != "document")
        .count();
    assert_eq!(moves, version as usize + 1);
}

async fn if_match_and_idempotency_key_rules(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let task = w.task("Nhiệm vụ kiểm tra điều kiện").await;
    let path = format!("/api/v1/tasks/{task}/transitions");
    let officer = w.token(Who::Officer);
    let body = json!({"transition": "bat_dau_lap_thuyet_minh"});
    let send = async |if_match: Option<&str>, key: Option<&str>| {
        let mut r = app.req(Method::POST, &path, officer).json(&body);
        if let Some(m) = if_match {
            r = r.header("If-Match", m);
        }
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        r.send().await.expect("request")
    };
    let before = snapshot(w.store()).await;
    // Not an entity tag: 400 naming the header.
    for bad in ["1", "\"1", "v1", "\"1\" \"2\""] {
        let p = problem(send(Some(bad), None).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(p["field"], "If-Match", "{bad}");
    }
    // A tag that can never be a version: 412.
    for never in ["W/\"1\"", "\"v1\"", "\"1.0\""] {
        let p = problem(
            send(Some(never), None).await,
            StatusCode::PRECONDITION_FAILED,
        )
        .await;
        assert_eq!(p["current_version"], 1, "{never}");
    }
    // A version the task no longer (or never) has: 409 with the current one.
    let p = problem(send(Some("\"7\""), None).await, StatusCode::CONFLICT).await;
    assert_eq!(p["current_version"], 1);
    assert_eq!(p["expected_version"], 7);
    assert!(detail(&p).contains("phiên bản hiện tại: 1"));
    // A malformed key: 400.
    let p = problem(
        send(None, Some("khóa có dấu")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(p["field"], "Idempotency-Key");
    assert_eq!(snapshot(w.store()).await, before, "refusals change nothing");

    // A list naming the current version passes; the retry with the same key replays.
    let r = send(Some("\"5\", \"1\""), Some("lan-1")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let first = json(r).await;
    assert_eq!(first["replayed"], false);
    let r = send(Some("\"1\""), Some("lan-1")).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a retry after success is not a conflict"
    );
    let replay = json(r).await;
    assert_eq!(replay["replayed"], true);
    assert_eq!(replay["version"], 2);
    assert_eq!(replay["audit_id"], first["audit_id"]);
    // The same key for another request: 422.
    let r = app
        .req(Method::POST, &path, officer)
        .header("Idempotency-Key", "lan-1")
        .json(&json!({"transition": "trinh_thu_truong"}))
        .send()
        .await
        .expect("request");
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["code"], "idempotency_key_reused");
    // `*`, an empty If-Match and none: unconditional (then 409 here: the step's document is
    // missing).
    let p = problem(
        app.req(Method::POST, &path, officer)
            .header("If-Match", "")
            .json(&json!({"transition": "trinh_thu_truong"}))
            .send()
            .await
            .expect("request"),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(p["code"], "missing_documents", "{p}");
    let p = problem(
        app.req(Method::POST, &path, officer)
            .header("If-Match", "*")
            .json(&json!({"transition": "trinh_thu_truong"}))
            .send()
            .await
            .expect("request"),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(p["code"], "missing_documents");
    assert!(
        p["allowed"]
            .as_array()
            .expect("allowed")
            .iter()
            .any(|a| a["transition"] == "trinh_thu_truong" && a["needs"][0]["need"] == "document"),
        "{p}"
    );
    // Wrong role: 403 naming the rule; a transition the step does not have: 409 with what is
    // allowed.
    let p = problem(
        app.post(
            &path,
            w.token(Who::Head),
            &json!({"transition": "trinh_thu_truong"}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["rule"], "wrong_role");
    assert!(detail(&p).contains("Cán bộ đơn vị"));
    let p = problem(
        app.post(&path, officer, &json!({"transition": "bay_len_troi"}))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(p["code"], "transition_not_available");
    assert!(p["allowed"].as_array().is_some_and(|a| !a.is_empty()));
    // A document of another task cannot be attached.
    let other = w.task("Nhiệm vụ khác").await;
    let foreign = w
        .document(&other, "thuyet_minh_du_toan", Who::Officer)
        .await;
    let p = problem(
        app.post(
            &path,
            officer,
            &json!({"transition": "trinh_thu_truong", "documents": [foreign]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(detail(&p).contains("không thuộc nhiệm vụ"));
}

fn file_form(bytes: Vec<u8>, name: &str, mime: &str, doc_type: &str) -> Form {
    Form::new().text("type", doc_type.to_string()).part(
        "file",
        Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(mime)
            .expect("mime"),
    )
}

async fn uploads_are_limited_typed_and_hashed(db: TestDb) {
    let limit = 64 * 1024;
    let w = world_with(db, |s| s.max_upload_bytes = limit).await;
    let app = &w.app;
    let task = w.task("Nhiệm vụ có tài liệu").await;
    let path = format!("/api/v1/tasks/{task}/documents");
    let officer = w.token(Who::Officer);
    let upload = async |form: Form| {
        app.req(Method::POST, &path, officer)
            .multipart(form)
            .send()
            .await
            .expect("upload")
    };
    let files_in_store = || walk(&app.data_dir.path().join("documents"));
    let before = snapshot(w.store()).await;
    // Too large: 413 with the limit, nothing stored.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(limit + 1, b'x');
    let p = problem(
        upload(file_form(
            big,
            "lon.pdf",
            "application/pdf",
            "thuyet_minh_du_toan",
        ))
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(p["limit_bytes"], limit);
    // Far larger than the body limit: refused before the handler reads it all.
    let huge = vec![b'%'; 4 * limit];
    let r = upload(file_form(
        huge,
        "lon.pdf",
        "application/pdf",
        "thuyet_minh_du_toan",
    ))
    .await;
    problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Declared type not accepted, or bytes not what is declared: 415.
    problem(
        upload(file_form(
            b"MZ\x90\0".to_vec(),
            "setup.exe",
            "application/x-msdownload",
            "thuyet_minh_du_toan",
        ))
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let p = problem(
        upload(file_form(
            b"<html>".to_vec(),
            "tm.pdf",
            "application/pdf",
            "thuyet_minh_du_toan",
        ))
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert!(detail(&p).contains("application/pdf"));
    // Not multipart at all: 415.
    problem(
        app.req(Method::POST, &path, officer)
            .header("content-type", "application/pdf")
            .body(b"%PDF-1.7".to_vec())
            .send()
            .await
            .expect("request"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    // An unknown document type: 400 listing the workflow's.
    let p = problem(
        upload(file_form(
            b"%PDF-1.7".to_vec(),
            "x.pdf",
            "application/pdf",
            "giay_phep_lai_xe",
        ))
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(detail(&p).contains("thuyet_minh_du_toan"));
    // A type of another workflow (thuê dịch vụ's plan), not of this task's: 409, naming the
    // types this task's workflow has.
    let p = problem(
        upload(file_form(
            b"%PDF-1.7".to_vec(),
            "x.pdf",
            "application/pdf",
            "ke_hoach_thue",
        ))
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(p["code"], "state_conflict", "{p}");
    assert!(detail(&p).contains("thuyet_minh_du_toan"));
    // Missing file, empty file, unknown field.
    let p = problem(
        upload(Form::new().text("type", "thuyet_minh_du_toan")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(p["field"], "file");
    problem(
        upload(file_form(
            Vec::new(),
            "x.pdf",
            "application/pdf",
            "thuyet_minh_du_toan",
        ))
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        upload(
            file_form(
                b"%PDF-1.7".to_vec(),
                "x.pdf",
                "application/pdf",
                "thuyet_minh_du_toan",
            )
            .text("mat_khau", "x"),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(
        snapshot(w.store()).await,
        before,
        "refused uploads change nothing"
    );
    assert_eq!(files_in_store(), 0, "and store no file");

    // Within the limit: stored under its sha256, once, and downloadable.
    let mut ok = b"%PDF-1.7\n".to_vec();
    ok.resize(limit, b'y');
    let sha = adapters::store::sha256_hex(&ok);
    for name in [
        "C:\\Users\\canbo\\Thuyết minh.pdf",
        "Thuyết minh (bản sao).pdf",
    ] {
        let r = upload(file_form(
            ok.clone(),
            name,
            "application/pdf",
            "thuyet_minh_du_toan",
        ))
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let d = json(r).await;
        assert_eq!(d["sha256"], sha.as_str());
        assert_eq!(d["size_bytes"], limit);
        assert!(
            !d["file_name"].as_str().expect("name").contains('\\'),
            "{d}"
        );
        let r = app.get(d["href"].as_str().expect("href"), officer).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.expect("bytes").as_ref(), ok.as_slice());
    }
    assert_eq!(files_in_store(), 1, "content-addressed: stored once");
    assert!(
        app.data_dir
            .path()
            .join("documents")
            .join(&sha[..2])
            .join(&sha)
            .exists()
    );
    // Octet-stream is judged by the bytes.
    let r = upload(file_form(
        b"\x89PNG\r\n\x1a\n....".to_vec(),
        "so-do.png",
        "application/octet-stream",
        "thuyet_minh_du_toan",
    ))
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { 1 }
        })
        .sum()
}

async fn tasks_are_searched_filtered_sorted_and_paged(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let ubnd = w.token(Who::Ubnd);
    let a = w
        .task_at_skhcn("Hệ thống thông tin quản lý bệnh viện")
        .await;
    let mut rest = Vec::new();
    for i in 0..5 {
        rest.push(w.task(&format!("Mua máy trạm đợt {i}")).await);
    }
    // Another plan, another year, another kind and funding source.
    app.post(
        "/api/v1/plans",
        ubnd,
        &json!({"number": "12/KH-UBND", "year": 2026, "title": "Kế hoạch năm 2026"}),
    )
    .await;
    let r = app
        .post(
            "/api/v1/tasks",
            w.token(Who::Officer),
            &json!({"plan": "12/KH-UBND", "unit": "so-y-te", "kind": "thue-dich-vu", "funding_source": "su_nghiep_cntt", "name": "Thuê dịch vụ bệnh án điện tử", "is_rental": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let rental = json(r).await["task_id"].as_str().expect("id").to_string();

    let ids = async |q: &str| -> (Vec<String>, i64) {
        let v = json(app.get(&format!("/api/v1/tasks?{q}"), ubnd).await).await;
        (
            v["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{q}: {v}"))
                .iter()
                .map(|t| t["id"].as_str().expect("id").to_string())
                .collect(),
            v["total"].as_i64().expect("total"),
        )
    };
    assert_eq!(ids("").await.1, 7);
    assert_eq!(ids(&format!("plan={}", "215%2FKH-UBND")).await.1, 6);
    assert_eq!(
        ids(&format!("plan={PLAN}")).await.1,
        6,
        "a raw slash works in a query"
    );
    assert_eq!(ids("year=2026").await.0, vec![rental.clone()]);
    assert_eq!(ids("kind=thue-dich-vu").await.0, vec![rental.clone()]);
    assert_eq!(
        ids("funding_source=su_nghiep_cntt").await.0,
        vec![rental.clone()]
    );
    assert_eq!(ids("phase=appraisal").await.0, vec![a.clone()]);
    assert_eq!(
        ids("state=skhcn_cho_y_kien&unit=so-y-te").await.0,
        vec![a.clone()]
    );
    assert_eq!(
        ids("q=B%E1%BB%86NH+VI%E1%BB%86N").await.1,
        1,
        "an upper-case query finds a lower-case name"
    );
    assert_eq!(ids("q=m%C3%A1y+tr%E1%BA%A1m").await.1, 5);
    assert_eq!(ids("q=50%25").await.1, 0, "LIKE wildcards are literal");
    // Deadlines: only the task at SKHCN has one (10 working days).
    assert_eq!(ids("due_after=2000-01-01").await.0, vec![a.clone()]);
    assert_eq!(ids("due_before=2000-01-01").await.1, 0);
    assert_eq!(ids("overdue=true").await.1, 0);
    assert_eq!(ids("stalled=true").await.1, 0, "everything just moved");
    // Sorting and paging.
    let (by_name, _) = ids("sort=name&limit=500").await;
    let (by_name_desc, _) = ids("sort=-name&limit=500").await;
    assert_eq!(
        by_name.iter().rev().cloned().collect::<Vec<_>>(),
        by_name_desc
    );
    let (first, total) = ids("sort=created&limit=3").await;
    let (second, _) = ids("sort=created&limit=3&offset=3").await;
    let (third, _) = ids("sort=created&limit=3&offset=6").await;
    assert_eq!(
        (first.len(), second.len(), third.len(), total),
        (3, 3, 1, 7)
    );
    let mut all: Vec<String> = [first, second, third].concat();
    all.dedup();
    assert_eq!(all.len(), 7);
    assert_eq!(ids("sort=due").await.0[0], a, "tasks with a deadline first");
    // Wrong parameters: 400 naming them.
    for (q, field) in [
        ("phase=review", "phase"),
        ("funding_source=ngan_sach", "funding_source"),
        ("sort=priority", "sort"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("offset=-1", "offset"),
        ("year=abc", "year"),
        ("overdue=maybe", "overdue"),
        ("due_before=hôm-qua", "due_before"),
        ("unit=0.5", "unit"),
        ("unit=S%E1%BB%9F+Y+t%E1%BA%BF", "unit"),
        ("color=red", "color"),
    ] {
        let p = problem(
            app.get(&format!("/api/v1/tasks?{q}"), ubnd).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(p["field"], field, "{q}: {p}");
    }

    // Six weeks ago: one task proposed and left alone, one sent to SKHCN and never answered.
    let long_ago = chrono::Utc::now() - chrono::TimeDelta::days(42);
    let officer = w.actor(Who::Officer).await;
    let head = w.actor(Who::Head).await;
    let old_task = async |name: &str| {
        w.store()
            .tasks()
            .create_as(
                &officer,
                &crate::common::new_task(PLAN, "so-y-te", name, "mua-sam"),
                None,
                long_ago,
            )
            .await
            .expect("create")
            .task_id
    };
    let forgotten = old_task("Nhiệm vụ bị bỏ quên").await;
    let waiting = old_task("Hồ sơ chờ ý kiến quá hạn").await;
    let tm = w
        .document(&waiting, "thuyet_minh_du_toan", Who::Officer)
        .await;
    for (transition, actor, docs) in [
        ("bat_dau_lap_thuyet_minh", &officer, vec![]),
        ("trinh_thu_truong", &officer, vec![tm.clone()]),
        ("gui_skhcn", &head, vec![tm]),
    ] {
        w.store()
            .tasks()
            .transition_as(
                actor,
                &adapters::store::TransitionRequest::new(&waiting, transition).citing(docs),
                long_ago,
            )
            .await
            .expect("transition");
    }
    let mut stalled = ids("stalled=true").await.0;
    stalled.sort();
    let mut expected = vec![forgotten.clone(), waiting.clone()];
    expected.sort();
    assert_eq!(stalled, expected);
    assert_eq!(ids("overdue=true").await.0, vec![waiting.clone()]);
    assert_eq!(
        ids("overdue=true&stalled=true&phase=appraisal").await.0,
        vec![waiting.clone()]
    );
    assert_eq!(
        ids(&format!(
            "due_before={}",
            chrono::Utc::now().format("%Y-%m-%d")
        ))
        .await
        .0,
        vec![waiting.clone()]
    );
    let t = json(app.get(&format!("/api/v1/tasks/{waiting}"), ubnd).await).await;
    assert_eq!(t["overdue"], true);
    assert_eq!(t["stalled"], true);
    assert!(
        t["deadline"]["working_days_left"]
            .as_i64()
            .is_some_and(|n| n < 0),
        "{t}"
    );
    assert!(
        t["deadline"]["time_left_text"]
            .as_str()
            .expect("text")
            .starts_with("quá hạn")
    );
    // The SKHCN reviewer finds it among their overdue work.
    let v = json(
        app.get(
            "/api/v1/tasks?my_turn=true&overdue=true",
            w.token(Who::Skhcn),
        )
        .await,
    )
    .await;
    assert_eq!(v["items"][0]["id"], waiting.as_str());
    assert_eq!(v["total"], 1);

    // The list page refuses the same unit filter with a message above the list, as it does a
    // year that is not a year, rather than listing nothing as if no task matched. (Last: a password
    // set for a page session ends the user's API tokens.)
    let cookie = page_cookie(&w, Who::Ubnd).await;
    let (status, page) = page_get(&w, &cookie, "/tasks?unit=0.5").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("role=\"alert\">Đơn vị «0.5» không hợp lệ"),
        "{page}"
    );
    let (status, page) = page_get(&w, &cookie, "/tasks?unit=so-y-te").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("role=\"alert\""), "{page}");
}
