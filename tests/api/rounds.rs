//! Issue 16 over HTTP: reporting rounds under `/plans/{plan}/rounds…` — SKHCN opens, units enter
//! per task until their head submits, SKHCN reopens, drafts and signs; every refusal a problem.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::helpers::{
    Who, World, detail, json, page_cookie, page_get, page_session, problem, world,
};

crate::on_both_backends!(
    a_round_over_http_from_opening_to_signature,
    the_round_pages_keep_each_unit_to_its_own_and_want_their_csrf_token,
);

const BASE: &str = "/api/v1/plans/215%2FKH-UBND/rounds";

async fn send(w: &World, m: Method, path: &str, who: Who, body: &Value) -> reqwest::Response {
    w.app
        .req(m, path, w.token(who))
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn a_round_over_http_from_opening_to_signature(db: TestDb) {
    let w = world(db).await;
    let task = w.task("Bệnh án điện tử").await;
    let open = |n: u32| {
        json!({"number": n, "cut_off": "05/11/2025", "units_due": "2025-11-03",
               "instruction": "Thông báo số 620/TB-VP ngày 20/10/2025"})
    };
    let p = problem(
        send(&w, Method::POST, BASE, Who::Officer, &open(1)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["rule"], "round_coordinator_only", "{p}");
    problem(
        send(&w, Method::POST, BASE, Who::Skhcn, &open(0)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let r = send(&w, Method::POST, BASE, Who::Skhcn, &open(1)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/rounds/1")
    );
    let round = json(r).await;
    assert_eq!(round["number"], 1);
    assert_eq!(round["cut_off"], "2025-11-05");
    problem(
        send(&w, Method::POST, BASE, Who::Skhcn, &open(1)).await,
        StatusCode::CONFLICT,
    )
    .await;
    send(&w, Method::POST, BASE, Who::Skhcn, &open(2)).await;
    let list = json(w.app.get(BASE, w.token(Who::Head)).await).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    problem(
        w.app.get(BASE, w.token(Who::Admin)).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    let entry = |progress: &str| {
        json!({"progress": progress,
               "difficulties": [{"kind": "kinh_phi", "text": "Chưa được bố trí vốn"}],
               "proposals": [{"text": "Đề nghị tạm hoãn", "letter": "Công văn số 123/SYT-KHTC"}]})
    };
    let at = |n: u32| format!("{BASE}/{n}/entries/{task}");
    // Another unit does not see the task; SKHCN is not its unit.
    problem(
        send(&w, Method::PUT, &at(1), Who::OtherOfficer, &entry("x")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let p = problem(
        send(&w, Method::PUT, &at(1), Who::Skhcn, &entry("x")).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["rule"], "round_entry_not_allowed");
    // An unknown kind is refused.
    let mut bad = entry("x");
    bad["difficulties"][0]["kind"] = json!("tien");
    problem(
        send(&w, Method::PUT, &at(1), Who::Officer, &bad).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    for (n, progress) in [(1, "Đang lập hồ sơ"), (2, "Đã phê duyệt dự toán")] {
        let r = send(&w, Method::PUT, &at(n), Who::Officer, &entry(progress)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let e = json(r).await;
        assert_eq!(e["difficulties"][0]["kind"], "kinh_phi", "{e}");
    }
    let submit = format!("{BASE}/2/units/so-y-te/submit");
    let p = problem(
        send(&w, Method::POST, &submit, Who::Officer, &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["rule"], "round_submit_not_allowed");
    let r = send(&w, Method::POST, &submit, Who::Head, &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let p = problem(
        send(&w, Method::PUT, &at(2), Who::Officer, &entry("muộn")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(detail(&p).contains("đã gửi"), "{p}");

    let v = json(
        w.app
            .get(&format!("{BASE}/2?compare=1"), w.token(Who::Skhcn))
            .await,
    )
    .await;
    assert_eq!(v["entries"][0]["progress"], "Đã phê duyệt dự toán", "{v}");
    assert_eq!(v["compared"]["number"], 1);
    assert_eq!(v["compared"]["entries"][0]["progress"], "Đang lập hồ sơ");
    assert_eq!(v["units"][0]["unit_id"], "so-y-te");
    assert!(v["units"][0]["submitted"].is_object(), "{v}");
    problem(
        w.app.get(&format!("{BASE}/0"), w.token(Who::Skhcn)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        w.app.get(&format!("{BASE}/9"), w.token(Who::Skhcn)).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let reopen = format!("{BASE}/2/units/so-y-te/reopen");
    problem(
        send(&w, Method::POST, &reopen, Who::Head, &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let r = send(
        &w,
        Method::POST,
        &reopen,
        Who::Skhcn,
        &json!({"reason": "Bổ sung"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = send(
        &w,
        Method::PUT,
        &at(2),
        Who::Officer,
        &entry("Đã giải ngân"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    problem(
        send(
            &w,
            Method::PUT,
            &format!("{BASE}/2/drafts/muc_7"),
            Who::Skhcn,
            &json!({"text": "x"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        send(
            &w,
            Method::PUT,
            &format!("{BASE}/2/drafts/kho_khan"),
            Who::Officer,
            &json!({"text": "x"}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let r = send(
        &w,
        Method::PUT,
        &format!("{BASE}/2/drafts/kho_khan"),
        Who::Skhcn,
        &json!({"text": "Khó khăn chung về vốn."}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(
        send(
            &w,
            Method::PUT,
            &format!("{BASE}/2/signature"),
            Who::Skhcn,
            &json!({}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let r = send(
        &w,
        Method::PUT,
        &format!("{BASE}/2/signature"),
        Who::Skhcn,
        &json!({"doc_number": "456/BC-SKHCN",
                "signer": {"on_behalf": "KT. GIÁM ĐỐC", "title": "PHÓ GIÁM ĐỐC", "name": "Nguyễn Văn An"}}),
    )
    .await;
    let signed = json(r).await;
    assert_eq!(signed["doc_number"], "456/BC-SKHCN", "{signed}");
    assert_eq!(signed["signer"]["name"], "Nguyễn Văn An");
    let v = json(w.app.get(&format!("{BASE}/2"), w.token(Who::Skhcn)).await).await;
    assert_eq!(v["drafts"]["kho_khan"], "Khó khăn chung về vốn.");
    let kinds: Vec<_> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("open"),
            json!("submit"),
            json!("reopen"),
            json!("draft"),
            json!("sign")
        ]
    );
    // A unit's user reads its own units only, without SKHCN's drafts.
    let v = json(
        w.app
            .get(&format!("{BASE}/2"), w.token(Who::OtherOfficer))
            .await,
    )
    .await;
    assert!(v["entries"].as_array().unwrap().is_empty(), "{v}");
    assert!(v["drafts"].as_object().unwrap().is_empty(), "{v}");

    // The official report takes the round and records the export.
    send(&w, Method::POST, &submit, Who::Head, &json!({})).await;
    problem(
        w.app
            .get(
                "/api/v1/reports/progress?plan=215%2FKH-UBND&round=2&format=md",
                w.token(Who::Skhcn),
            )
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let r = w
        .app
        .get(
            "/api/v1/reports/progress?plan=215%2FKH-UBND&round=2&format=docx&as_of=2025-11-05",
            w.token(Who::Skhcn),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    // Without `as_of` the round's document is as of its cut-off (05/11/2025), not today.
    let again = w
        .app
        .get(
            "/api/v1/reports/progress?plan=215%2FKH-UBND&round=2&format=docx",
            w.token(Who::Skhcn),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(
        again.bytes().await.unwrap() == bytes,
        "regenerated without as_of"
    );
    let v = json(w.app.get(&format!("{BASE}/2"), w.token(Who::Skhcn)).await).await;
    let last = v["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "export", "{last}");
    assert_eq!(last["actor_user"], "chuyen.vien.khcn");
    assert_eq!(last["sha256"], adapters::store::sha256_hex(&bytes));
    // The OpenAPI document declares the kinds and the range of the round number.
    let doc = json(w.app.get("/api/v1/openapi.json", w.token(Who::Skhcn)).await).await;
    let kinds = &doc["components"]["schemas"]["DifficultyKindDoc"]["enum"];
    assert_eq!(kinds.as_array().map(Vec::len), Some(6), "{kinds}");
    let body = &doc["components"]["schemas"]["OpenRoundBody"]["properties"]["number"];
    assert_eq!(
        (body["minimum"].clone(), body["maximum"].clone()),
        (json!(1), json!(1000)),
        "{body}"
    );
}

async fn page_post(
    w: &World,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let r = w
        .app
        .client
        .post(w.app.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form.iter()
                .map(|(k, v)| format!("{k}={}", adapters::web::page::encode(v)))
                .collect::<Vec<_>>()
                .join("&"),
        )
        .send()
        .await
        .expect("post");
    (r.status(), r.text().await.expect("html"))
}

/// The round pages go through the same doors and rules as the API: another unit's officer sees
/// neither the task nor its entry and gets the API's 404 when posting one; the unit's officer may
/// not submit (the head's act, refused in words); a form without its CSRF token is refused and
/// changes nothing; someone who reads no plan report gets no rounds page.
async fn the_round_pages_keep_each_unit_to_its_own_and_want_their_csrf_token(db: TestDb) {
    let w = world(db).await;
    let task = w.task("Nền tảng số y tế thông minh").await;
    let plan = w
        .store()
        .directory()
        .plan(crate::helpers::PLAN)
        .await
        .expect("plan");
    let spec = engine::round::RoundSpec {
        number: 1,
        cut_off: chrono::NaiveDate::from_ymd_opt(2025, 11, 5).unwrap(),
        instruction: "Thông báo số 620/TB-VP ngày 20/10/2025".into(),
        units_due: chrono::NaiveDate::from_ymd_opt(2025, 11, 3).unwrap(),
    };
    w.store()
        .rounds()
        .open_as(
            &w.actor(Who::Skhcn).await,
            &plan.id,
            &spec,
            chrono::Utc::now(),
        )
        .await
        .expect("open");
    let round = format!("/plans/{}/rounds/1", plan.id);
    let entry = format!("{round}/entries/{task}");
    let entries = async || {
        w.store()
            .rounds()
            .show_as(
                &w.actor(Who::Skhcn).await,
                &plan.id,
                1,
                None,
                chrono::NaiveDate::from_ymd_opt(2025, 11, 1).unwrap(),
            )
            .await
            .expect("round")
            .entries
    };

    // The unit's officer: a form for the task; without its token the post is refused.
    let (officer, csrf) = page_session(&w, Who::Officer).await;
    let (status, page) = page_get(&w, &officer, &round).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Nền tảng số y tế thông minh"), "{page}");
    assert!(page.contains(&format!("action=\"{entry}\"")), "{page}");
    assert!(
        !page.contains("Gửi báo cáo của đơn vị"),
        "the head's button only"
    );
    fn filled(csrf: &str) -> Vec<(&str, &str)> {
        vec![
            ("csrf", csrf),
            ("progress", "Đã trình thẩm định dự toán"),
            ("diff_kind", "kinh_phi"),
            ("diff_text", "Chưa được bố trí vốn năm 2025"),
            ("prop_text", "Đề nghị chuyển sang năm 2026"),
            ("prop_letter", "Công văn số 123/SYT-KHTC ngày 01/11/2025"),
        ]
    }
    let (status, _) = page_post(&w, &officer, &entry, &filled("")[1..]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no token");
    let (status, _) = page_post(&w, &officer, &entry, &filled("gia-mao")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forged token");
    assert!(
        entries().await.is_empty(),
        "nothing saved without the token"
    );
    let csrf = csrf.as_str();
    let (status, body) = page_post(&w, &officer, &entry, &filled(csrf)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let saved = entries().await;
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].progress, "Đã trình thẩm định dự toán");
    assert_eq!(
        saved[0].proposals[0].letter.as_deref(),
        Some("Công văn số 123/SYT-KHTC ngày 01/11/2025")
    );
    // A blank progress is refused next to the form, in words, and nothing changes.
    let (status, page) =
        page_post(&w, &officer, &entry, &[("csrf", csrf), ("progress", "  ")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Cần ghi tình hình thực hiện"), "{page}");
    assert_eq!(entries().await, saved);
    // The officer may not submit: the head does.
    let submit = format!("{round}/units/so-y-te/submit");
    let (status, page) = page_post(&w, &officer, &submit, &[("csrf", csrf)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Chỉ thủ trưởng đơn vị"), "{page}");

    // Another unit's officer: not the task, not its entry; posting one is the API's 404.
    let (other, other_csrf) = page_session(&w, Who::OtherOfficer).await;
    let (status, page) = page_get(&w, &other, &round).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("Nền tảng số y tế thông minh"), "{page}");
    assert!(!page.contains("Chưa được bố trí vốn"), "{page}");
    assert!(!page.contains(&task), "{page}");
    let mut forged = filled(&other_csrf);
    forged[1].1 = "Ghi đè của đơn vị khác";
    let (status, _) = page_post(&w, &other, &entry, &forged).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = page_post(&w, &other, &submit, &[("csrf", other_csrf.as_str())]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(entries().await, saved, "nothing changed");

    // SKHCN reads the entry; the administrator reads no plan report.
    let (skhcn, _) = page_session(&w, Who::Skhcn).await;
    let (status, page) = page_get(&w, &skhcn, &round).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Chưa được bố trí vốn năm 2025"), "{page}");
    assert!(
        !page.contains(&format!("action=\"{entry}\"")),
        "SKHCN enters nothing"
    );
    assert!(page.contains("format=docx"), "{page}");
    let admin = w
        .app
        .client
        .get(w.app.url(&format!("/plans/{}/rounds", plan.id)))
        .header("cookie", page_cookie(&w, Who::Admin).await)
        .send()
        .await
        .expect("page");
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
}
