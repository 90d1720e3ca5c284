//! A `mua-sam` task driven through the API alone, by the right people, from proposal to
//! completion: documents uploaded as files, each step taken with If-Match, one revision round
//! at SKHCN, a request for more documents at Sở Tài chính (which stops its clock), and the
//! audit chain intact at the end.

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::helpers::{PLAN, Who, World, json, problem, world};

crate::on_both_backends!(a_mua_sam_task_goes_from_proposal_to_completion);

struct Driver<'a> {
    w: &'a World,
    task: String,
    version: i64,
}

impl Driver<'_> {
    async fn upload(&self, who: Who, doc_type: &str, file_name: &str) -> String {
        let content = format!("%PDF-1.7\n% {doc_type} — {file_name}\n");
        let form = Form::new()
            .text("type", doc_type.to_string())
            .text("number", "15/2026/SYT-KHTC")
            .text("date", "2026-03-02")
            .text("issuer", "Sở Y tế")
            .part(
                "file",
                Part::bytes(content.clone().into_bytes())
                    .file_name(file_name.to_string())
                    .mime_str("application/pdf")
                    .expect("mime"),
            );
        let r = self
            .w
            .app
            .req(
                Method::POST,
                &format!("/api/v1/tasks/{}/documents", self.task),
                self.w.token(who),
            )
            .multipart(form)
            .send()
            .await
            .expect("upload");
        assert_eq!(r.status(), StatusCode::CREATED, "{doc_type} by {who:?}");
        let d = json(r).await;
        assert_eq!(
            d["sha256"].as_str(),
            Some(adapters::store::sha256_hex(content.as_bytes()).as_str())
        );
        assert_eq!(d["file_name"], file_name);
        d["id"].as_str().expect("id").to_string()
    }

    async fn step(
        &mut self,
        who: Who,
        transition: &str,
        comment: Option<&str>,
        docs: &[&str],
    ) -> Value {
        // The caller first sees the transition offered, with what it still needs.
        let t = json(
            self.w
                .app
                .get(&format!("/api/v1/tasks/{}", self.task), self.w.token(who))
                .await,
        )
        .await;
        assert_eq!(t["version"], self.version);
        let offered = t["available"]
            .as_array()
            .expect("available")
            .iter()
            .find(|a| a["transition"] == transition)
            .unwrap_or_else(|| panic!("{transition} is not offered to {who:?}: {t}"))
            .clone();
        assert_eq!(
            offered["allowed_now"], true,
            "{who:?} {transition}: {offered}"
        );
        let r = self
            .w
            .app
            .req(
                Method::POST,
                &format!("/api/v1/tasks/{}/transitions", self.task),
                self.w.token(who),
            )
            .header("If-Match", format!("\"{}\"", self.version))
            .header(
                "Idempotency-Key",
                format!("{}-{transition}-{}", self.task, self.version),
            )
            .json(&json!({"transition": transition, "comment": comment, "documents": docs}))
            .send()
            .await
            .expect("transition");
        let status = r.status();
        let etag = r
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let o = json(r).await;
        assert_eq!(status, StatusCode::OK, "{who:?} {transition}: {o}");
        assert_eq!(o["version"], self.version + 1);
        assert_eq!(etag, Some(format!("\"{}\"", self.version + 1)));
        self.version += 1;
        o
    }
}

async fn a_mua_sam_task_goes_from_proposal_to_completion(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let r = app
        .req(Method::POST, "/api/v1/tasks", w.token(Who::Officer))
        .header("Idempotency-Key", "de-xuat-may-chu-2025")
        .json(&json!({
            "plan": PLAN, "unit": "so-y-te", "kind": "mua-sam", "funding_source": "thuong_xuyen",
            "name": "Mua sắm máy chủ và thiết bị lưu trữ cho Trung tâm dữ liệu y tế",
            "period": "2025",
            "budget": [{"year": 2025, "need_total_vnd": 6_500_000_000_i64, "need_year_vnd": 6_500_000_000_i64}]
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let created = json(r).await;
    let task = created["task_id"].as_str().expect("id").to_string();
    assert_eq!(location, format!("/api/v1/tasks/{task}"));
    assert_eq!(created["state"], "de_xuat");

    let mut d = Driver {
        w: &w,
        task: task.clone(),
        version: 1,
    };
    use Who::*;
    d.step(Officer, "bat_dau_lap_thuyet_minh", None, &[]).await;
    let tm = d
        .upload(
            Officer,
            "thuyet_minh_du_toan",
            "Thuyết minh nhiệm vụ (Mẫu 02).pdf",
        )
        .await;

    // A step without its document is refused with what it lacks and what is allowed.
    let r = app
        .post(
            &format!("/api/v1/tasks/{task}/transitions"),
            w.token(Officer),
            &json!({"transition": "trinh_thu_truong"}),
        )
        .await;
    let p = problem(r, StatusCode::CONFLICT).await;
    assert_eq!(p["code"], "missing_documents");
    assert_eq!(p["unmet"][0]["doc_type"], "thuyet_minh_du_toan");
    assert!(
        p["allowed"].as_array().is_some_and(|a| !a.is_empty()),
        "{p}"
    );

    d.step(Officer, "trinh_thu_truong", None, &[&tm]).await;
    d.step(Head, "gui_skhcn", None, &[&tm]).await;
    // Round 1 at SKHCN: back to the unit for completion.
    let y1 = d
        .upload(Skhcn, "van_ban_y_kien", "Văn bản góp ý lần 1.pdf")
        .await;
    d.step(
        Skhcn,
        "skhcn_de_nghi_hoan_thien",
        Some("Đề nghị bổ sung báo giá của ít nhất 03 nhà cung cấp."),
        &[&y1],
    )
    .await;
    let tm2 = d
        .upload(
            Officer,
            "thuyet_minh_du_toan",
            "Thuyết minh (hoàn thiện).pdf",
        )
        .await;
    d.step(Officer, "trinh_thu_truong", None, &[&tm2]).await;
    d.step(Head, "gui_skhcn", None, &[&tm2]).await;
    let y2 = d
        .upload(Skhcn, "van_ban_y_kien", "Văn bản thống nhất lần 2.pdf")
        .await;
    d.step(Skhcn, "skhcn_thong_nhat", None, &[&y2]).await;
    // NĐ 98/2025: the unit's head approves the task and estimate, then sends it to Sở Tài chính.
    let qd = d
        .upload(Head, "quyet_dinh_phe_duyet", "Quyết định phê duyệt.pdf")
        .await;
    d.step(Head, "phe_duyet_nhiem_vu", None, &[&qd]).await;
    d.step(Head, "gui_so_tai_chinh", None, &[&tm2]).await;
    // Sở Tài chính asks for more documents: its clock stops while the unit complements.
    d.step(
        Stc,
        "stc_yeu_cau_bo_sung",
        Some("Bổ sung chứng thư thẩm định giá."),
        &[],
    )
    .await;
    let paused = json(
        app.get(&format!("/api/v1/tasks/{task}"), w.token(Stc))
            .await,
    )
    .await;
    assert_eq!(paused["deadline"]["paused"], true, "{paused}");
    // The year-end forecast rides along: a verdict, three dates in order, the paths by method.
    let f = &paused["forecast"];
    assert!(f["verdict_text"].is_string(), "{paused}");
    let (e, ty, l) = (
        f["earliest"].as_str().unwrap_or(""),
        f["typical"].as_str().unwrap_or(""),
        f["latest"].as_str().unwrap_or(""),
    );
    assert!(!e.is_empty() && e <= ty && ty <= l, "{f}");
    assert!(
        f["paths"].as_array().is_some_and(|p| p.len() > 1),
        "open bidding, quotation…: {f}"
    );
    let bs = d
        .upload(Head, "ho_so_bo_sung", "Chứng thư thẩm định giá.pdf")
        .await;
    d.step(Head, "nop_bo_sung_stc", None, &[&bs]).await;
    let running = json(
        app.get(&format!("/api/v1/tasks/{task}"), w.token(Stc))
            .await,
    )
    .await;
    assert_eq!(running["deadline"]["paused"], false);
    assert!(
        running["deadline"]["working_days_left"].is_i64(),
        "{running}"
    );
    assert!(running["my_turn"].as_bool().unwrap_or(false));
    let kq = d
        .upload(Stc, "ket_qua_tham_dinh", "Kết quả thẩm định.pdf")
        .await;
    d.step(Stc, "stc_thong_qua", None, &[&kq]).await;
    // UBND allocates the funds on Sở Tài chính's report.
    let btkp = d
        .upload(Ubnd, "quyet_dinh_ubnd", "Quyết định bố trí kinh phí.pdf")
        .await;
    d.step(Ubnd, "quyet_dinh_bo_tri_kinh_phi", None, &[&btkp])
        .await;
    let kh = d
        .upload(Officer, "ke_hoach_lcnt", "Kế hoạch LCNT.pdf")
        .await;
    d.step(Head, "phe_duyet_khlcnt", None, &[&kh, &qd]).await;
    d.step(Officer, "trinh_ket_qua_lcnt", None, &[]).await;
    let kq_lcnt = d
        .upload(Head, "quyet_dinh_ket_qua_lcnt", "QĐ kết quả LCNT.pdf")
        .await;
    d.step(Head, "phe_duyet_ket_qua", None, &[&kq_lcnt]).await;
    d.step(Officer, "gui_thong_bao_ket_qua", None, &[]).await;
    d.step(Officer, "nha_thau_xac_nhan", None, &[]).await;
    let hd = d.upload(Head, "hop_dong", "Hợp đồng số 08-2026.pdf").await;
    d.step(Head, "ky_hop_dong", None, &[&hd]).await;
    d.step(Officer, "bao_cao_giao_hang", None, &[]).await;
    let bb = d
        .upload(Head, "bien_ban_nghiem_thu", "Biên bản nghiệm thu.pdf")
        .await;
    d.step(Head, "nghiem_thu_dat", None, &[&bb]).await;
    let qt = d
        .upload(Head, "ho_so_quyet_toan", "Hồ sơ quyết toán.pdf")
        .await;
    let done = d.step(Head, "hoan_thanh_quyet_toan", None, &[&qt]).await;
    assert_eq!(done["state"], "hoan_thanh");
    assert_eq!(done["phase"], "completed");

    // The end: nothing more to do, the history tells the whole story, the files come back.
    let t = json(
        app.get(&format!("/api/v1/tasks/{task}"), w.token(Ubnd))
            .await,
    )
    .await;
    assert_eq!(t["available"].as_array().map(Vec::len), Some(0));
    assert!(t["deadline"].is_null());
    assert!(t["forecast"].is_null(), "a completed task has no forecast");
    assert_eq!(t["documents"].as_array().map(Vec::len), Some(13));
    let h = json(
        app.get(&format!("/api/v1/tasks/{task}/history"), w.token(Officer))
            .await,
    )
    .await;
    let h = h.as_array().expect("history");
    // Every move is an entry (the version counts them), and so is every upload.
    let uploads = h.iter().filter(|e| e["kind"] == "document").count();
    assert_eq!((h.len() - uploads) as i64, d.version);
    assert_eq!(
        Some(uploads),
        t["documents"].as_array().map(Vec::len),
        "each upload is an entry"
    );
    assert!(
        h.iter()
            .filter(|e| e["kind"] == "document")
            .all(|e| e["evidence"]["document"]["sha256"].is_string()),
        "{h:?}"
    );
    assert_eq!(h[0]["kind"], "create");
    assert_eq!(h.last().expect("last")["to_state"], "hoan_thanh");
    for pair in h.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
    // SKHCN's opinion was asked twice: the second entry into its step is "lần 2".
    let rounds: Vec<(i64, Option<&str>)> = h
        .iter()
        .filter(|e| e["to_state"] == "skhcn_cho_y_kien" && e["kind"] != "document")
        .map(|e| (e["round"].as_i64().unwrap_or(0), e["round_text"].as_str()))
        .collect();
    assert_eq!(rounds, vec![(1, None), (2, Some("lần 2"))], "{h:?}");
    assert!(
        h.iter()
            .filter(|e| e["kind"] != "document")
            .all(|e| e["review"] == 1),
        "one review"
    );
    let by: Vec<&str> = h.iter().filter_map(|e| e["actor_role"].as_str()).collect();
    for role in [
        "don_vi",
        "thu_truong_don_vi",
        "skhcn",
        "so_tai_chinh",
        "ubnd",
    ] {
        assert!(by.contains(&role), "{role} acted");
    }
    let r = app
        .get(&format!("/api/v1/documents/{qd}"), w.token(Officer))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains("filename*=UTF-8''Quy%E1%BA%BFt")
    );
    assert!(r.bytes().await.expect("bytes").starts_with(b"%PDF-1.7"));
    // Retrying the creation with its key is harmless.
    let again = app
        .req(Method::POST, "/api/v1/tasks", w.token(Officer))
        .header("Idempotency-Key", "de-xuat-may-chu-2025")
        .json(&json!({
            "plan": PLAN, "unit": "so-y-te", "kind": "mua-sam", "funding_source": "thuong_xuyen",
            "name": "Mua sắm máy chủ và thiết bị lưu trữ cho Trung tâm dữ liệu y tế",
            "period": "2025",
            "budget": [{"year": 2025, "need_total_vnd": 6_500_000_000_i64, "need_year_vnd": 6_500_000_000_i64}]
        }))
        .send()
        .await
        .expect("retry");
    let again = json(again).await;
    assert_eq!(again["task_id"], task.as_str());
    assert_eq!(again["replayed"], true);
    let report = w.store().audit().verify().await.expect("verify");
    assert!(report.broken.is_none(), "{:?}", report.broken);
}
