//! Issue 16 over HTTP: reporting rounds under `/plans/{plan}/rounds…` — SKHCN opens, units enter
//! per task until their head submits, SKHCN reopens, drafts and signs; every refusal a problem.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::helpers::{Who, World, json, problem, world};

crate::on_both_backends!(a_round_over_http_from_opening_to_signature);

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
    assert!(p["detail"].as_str().unwrap().contains("đã gửi"), "{p}");

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
