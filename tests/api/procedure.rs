//! Issue 15 over HTTP: who approves is data (`wrong_unit`, `own_fund`), units propose and UBND
//! decides (`/tasks/{id}/proposals`, `/tasks/{id}/proposals/decision`), UBND transfers a task
//! (`/tasks/{id}/transfer`).

use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestDb;
use crate::helpers::{PLAN, Who, detail, json, page_get, page_session, problem, snapshot, world};

crate::on_both_backends!(
    a_task_created_with_its_own_fund_is_approved_by_its_unit,
    proposals_are_made_by_the_unit_and_decided_by_ubnd,
    simultaneous_proposals_make_one_and_refuse_the_rest,
    a_task_is_transferred_by_ubnd_with_its_decision,
    a_carry_over_is_offered_proposed_and_accepted_leaving_the_task_in_its_step,
    the_workflow_page_lists_the_decisions_that_leave_a_task_in_its_step,
);

async fn a_task_created_with_its_own_fund_is_approved_by_its_unit(db: TestDb) {
    let w = world(db).await;
    let r = w
        .app
        .post(
            "/api/v1/tasks",
            w.token(Who::Officer),
            &json!({
                "plan": PLAN, "unit": "so-y-te", "name": "Phần mềm từ nguồn thu của bệnh viện",
                "funding_source": "thuong_xuyen", "kind": "mua-sam", "own_fund": true,
                "budget": [{"year": 2025, "need_total_vnd": 15_000_000_000i64}],
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let task = json(r).await["task_id"].as_str().expect("id").to_string();
    let t = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Officer))
            .await,
    )
    .await;
    assert_eq!(t["own_fund"], true, "{t}");
    let r = w
        .app
        .post(
            "/api/v1/tasks",
            w.token(Who::Officer),
            &json!({"plan": PLAN, "unit": "so-y-te", "name": "X", "funding_source": "thuong_xuyen",
                    "kind": "mua-sam", "own_fund": "có"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Walk it to the approval: UBND, though over the threshold, is not the authority.
    w.step(&task, "bat_dau_lap_thuyet_minh", Who::Officer, vec![])
        .await;
    let tm = w.document(&task, "thuyet_minh_du_toan", Who::Officer).await;
    w.step(&task, "trinh_thu_truong", Who::Officer, vec![tm.clone()])
        .await;
    w.step(&task, "gui_skhcn", Who::Head, vec![tm]).await;
    let yk = w.document(&task, "van_ban_y_kien", Who::Skhcn).await;
    w.step(&task, "skhcn_thong_nhat", Who::Skhcn, vec![yk])
        .await;
    let t = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Head))
            .await,
    )
    .await;
    assert_eq!(t["turn_roles"], json!(["thu_truong_don_vi"]), "{t}");
    assert_eq!(t["my_turn"], true, "{t}");
    // The task list's "my turn" resolves the authority per task too: the unit's head has it,
    // UBND (the authority above the threshold, were it not the unit's own fund) has not.
    let my_turn = async |who: Who| -> Vec<String> {
        let v = json(
            w.app
                .get("/api/v1/tasks?my_turn=true&limit=500", w.token(who))
                .await,
        )
        .await;
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert!(my_turn(Who::Head).await.contains(&task));
    assert!(!my_turn(Who::Ubnd).await.contains(&task));
    // Over the threshold without the own-fund flag: UBND's turn, not the head's.
    let r = w
        .app
        .post(
            "/api/v1/tasks",
            w.token(Who::Officer),
            &json!({
                "plan": PLAN, "unit": "so-y-te", "name": "Trung tâm dữ liệu (trên ngưỡng)",
                "funding_source": "thuong_xuyen", "kind": "mua-sam",
                "budget": [{"year": 2025, "need_total_vnd": 12_000_000_000i64}],
            }),
        )
        .await;
    let big = json(r).await["task_id"].as_str().expect("id").to_string();
    w.step(&big, "bat_dau_lap_thuyet_minh", Who::Officer, vec![])
        .await;
    let tm = w.document(&big, "thuyet_minh_du_toan", Who::Officer).await;
    w.step(&big, "trinh_thu_truong", Who::Officer, vec![tm.clone()])
        .await;
    w.step(&big, "gui_skhcn", Who::Head, vec![tm]).await;
    let yk = w.document(&big, "van_ban_y_kien", Who::Skhcn).await;
    w.step(&big, "skhcn_thong_nhat", Who::Skhcn, vec![yk]).await;
    assert!(my_turn(Who::Ubnd).await.contains(&big));
    assert!(!my_turn(Who::Head).await.contains(&big));
    let qd = w.document(&task, "quyet_dinh_phe_duyet", Who::Head).await;
    let before = snapshot(w.store()).await;
    let p = problem(
        w.app
            .post(
                &format!("/api/v1/tasks/{task}/transitions"),
                w.token(Who::Ubnd),
                &json!({"transition": "phe_duyet_nhiem_vu", "documents": [qd]}),
            )
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["code"], "wrong_role", "{p}");
    assert_eq!(snapshot(w.store()).await, before);
    w.step(&task, "phe_duyet_nhiem_vu", Who::Head, vec![qd])
        .await;
}

/// Proposals sent at the same moment for one task: one is recorded, every other one is the
/// rule's `proposal_pending` (409), never a server error, whichever of them loses the race to
/// the database's one-pending-per-task index.
async fn simultaneous_proposals_make_one_and_refuse_the_rest(db: TestDb) {
    let w = world(db).await;
    for round in 0..4 {
        let task = w.task_at_skhcn(&format!("Đề xuất đồng thời {round}")).await;
        let url = format!("/api/v1/tasks/{task}/proposals");
        let body = json!({"kind": "withdraw", "letter": format!("{round}/SYT-KHTC")});
        let (o, h) = (w.token(Who::Officer), w.token(Who::Head));
        let (a, b, c, d, e, f) = tokio::join!(
            w.app.post(&url, o, &body),
            w.app.post(&url, h, &body),
            w.app.post(&url, o, &body),
            w.app.post(&url, h, &body),
            w.app.post(&url, o, &body),
            w.app.post(&url, h, &body),
        );
        let answers = [a, b, c, d, e, f];
        let mut created = 0;
        for r in answers {
            match r.status() {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => {
                    let p = problem(r, StatusCode::CONFLICT).await;
                    assert_eq!(p["code"], "proposal_pending", "{p}");
                }
                other => panic!(
                    "round {round}: {other}: {}",
                    r.text().await.unwrap_or_default()
                ),
            }
        }
        assert_eq!(created, 1, "round {round}");
    }
}

async fn proposals_are_made_by_the_unit_and_decided_by_ubnd(db: TestDb) {
    let w = world(db).await;
    let task = w.task_at_skhcn("Hệ thống giao dịch công nghệ").await;
    let url = format!("/api/v1/tasks/{task}/proposals");
    let decision = format!("/api/v1/tasks/{task}/proposals/decision");
    let before = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Officer))
            .await,
    )
    .await;

    // Bad input is a 400 naming the field; another unit's officer does not see the task; SKHCN
    // (which reads every task) may not propose.
    for (body, field) in [
        (json!({"kind": "stop", "letter": "1/X"}), "kind"),
        (json!({"kind": "postpone", "letter": " "}), "letter"),
        (
            json!({"kind": "postpone", "letter": "1/X", "letter_date": "31/02/2025"}),
            "letter_date",
        ),
    ] {
        let p = problem(
            w.app.post(&url, w.token(Who::Officer), &body).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(p["field"], field, "{p}");
    }
    let ok_body = json!({"kind": "postpone", "letter": "12/SKHCN-KHTC", "letter_date": "01/10/2025",
                         "comment": "Chưa có hướng dẫn xây dựng CSDL quốc gia"});
    problem(
        w.app.post(&url, w.token(Who::OtherOfficer), &ok_body).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let p = problem(
        w.app.post(&url, w.token(Who::Skhcn), &ok_body).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["code"], "wrong_role");

    let r = w.app.post(&url, w.token(Who::Officer), &ok_body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p = json(r).await;
    assert_eq!(p["status"], "pending");
    assert_eq!(p["letter_text"], "văn bản số 12/SKHCN-KHTC ngày 01/10/2025");
    let p = problem(
        w.app.post(&url, w.token(Who::Head), &ok_body).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(p["code"], "proposal_pending");
    let t = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Ubnd))
            .await,
    )
    .await;
    assert_eq!(t["state"], before["state"]);
    assert_eq!(t["deadline"]["due_at"], before["deadline"]["due_at"]);
    assert_eq!(
        t["proposals"][0]["text"],
        "Đề xuất tạm hoãn, chuyển sang kế hoạch năm sau (văn bản số 12/SKHCN-KHTC ngày 01/10/2025)"
    );

    // Only UBND decides; a bad decision is a 400.
    let p = problem(
        w.app
            .post(
                &decision,
                w.token(Who::Officer),
                &json!({"decision": "accept"}),
            )
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["code"], "wrong_role");
    let p = problem(
        w.app
            .post(&decision, w.token(Who::Ubnd), &json!({"decision": "maybe"}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(p["field"], "decision");
    // Refused: the task is where it was, its deadline as it was.
    let r = w
        .app
        .post(
            &decision,
            w.token(Who::Ubnd),
            &json!({"decision": "refuse", "comment": "Tiếp tục"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r).await["status"], "refused");
    let t = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Ubnd))
            .await,
    )
    .await;
    assert_eq!(
        (&t["state"], &t["deadline"]["due_at"], &t["version"]),
        (
            &before["state"],
            &before["deadline"]["due_at"],
            &before["version"]
        )
    );
    let p = problem(
        w.app
            .post(
                &decision,
                w.token(Who::Ubnd),
                &json!({"decision": "refuse"}),
            )
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(p["code"], "no_pending_proposal");
    // Proposed again and accepted: postponed, through the workflow's exit.
    w.app.post(&url, w.token(Who::Head), &ok_body).await;
    let r = w
        .app
        .post(
            &decision,
            w.token(Who::Ubnd),
            &json!({"decision": "accept", "comment": "Đồng ý chuyển 2026"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let o = json(r).await;
    assert_eq!(o["phase"], "postponed", "{o}");
    let h = json(
        w.app
            .get(
                &format!("/api/v1/tasks/{task}/history"),
                w.token(Who::Officer),
            )
            .await,
    )
    .await;
    let names: Vec<&str> = h
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|e| e["transition"].as_str())
        .collect();
    for n in ["de_xuat_tam_hoan", "khong_chap_thuan_de_xuat", "tam_hoan"] {
        assert!(names.contains(&n), "{names:?}");
    }
}

async fn a_task_is_transferred_by_ubnd_with_its_decision(db: TestDb) {
    let w = world(db).await;
    let task = w.task("Cổng thông tin nội bộ").await;
    let url = format!("/api/v1/tasks/{task}/transfer");
    let body =
        json!({"to_unit": "so-noi-vu", "decision": "1234/QĐ-UBND", "decision_date": "02/12/2026"});
    let before = snapshot(w.store()).await;
    for who in [Who::Officer, Who::Head, Who::Skhcn, Who::LanhDaoSo] {
        let p = problem(
            w.app.post(&url, w.token(who), &body).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(p["rule"], "transfer_ubnd_only", "{who:?}: {p}");
    }
    problem(
        w.app.post(&url, w.token(Who::Admin), &body).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let p = problem(
        w.app
            .post(
                &url,
                w.token(Who::Ubnd),
                &json!({"to_unit": "so-y-te", "decision": "1/QĐ"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(detail(&p).contains("đã thuộc đơn vị"), "{p}");
    problem(
        w.app
            .post(
                &url,
                w.token(Who::Ubnd),
                &json!({"to_unit": "Sở Nội vụ", "decision": "1/QĐ"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(snapshot(w.store()).await, before);
    let r = w.app.post(&url, w.token(Who::Ubnd), &body).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let t = json(r).await;
    assert_eq!(
        t["decision_text"], "quyết định số 1234/QĐ-UBND ngày 02/12/2026",
        "{t}"
    );
    // The new unit's officer sees it; the old unit's does not.
    assert_eq!(
        json(
            w.app
                .get(&format!("/api/v1/tasks/{task}"), w.token(Who::OtherOfficer))
                .await
        )
        .await["unit_id"],
        "so-noi-vu"
    );
    problem(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Officer))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// Issue 17's decision point over HTTP: a flagged task with an allocation is offered
/// `carry_over` first; the unit proposes it (`kind: carry_over`), UBND accepts, and the answer
/// is the task in the same step with `carried_over`; next year's budget line has it. A task
/// without an allocation is refused (`nothing_to_carry_over`, 409: the task's state).
async fn a_carry_over_is_offered_proposed_and_accepted_leaving_the_task_in_its_step(db: TestDb) {
    let w = world(db).await;
    let task = w
        .task_at_skhcn("Nâng cấp hệ thống hội nghị truyền hình")
        .await;
    let bare = w.task_at_skhcn("Mua sắm thiết bị mạng").await;
    let carry =
        json!({"kind": "carry_over", "letter": "120/SYT-KHTC", "letter_date": "25/11/2025"});
    let p = problem(
        w.app
            .post(
                &format!("/api/v1/tasks/{bare}/proposals"),
                w.token(Who::Officer),
                &carry,
            )
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(p["code"], "nothing_to_carry_over", "{p}");
    assert!(
        detail(&p).starts_with(
            "Không thể chuyển nguồn kinh phí năm 2025 sang năm 2026: nhiệm vụ chưa có"
        ),
        "{p}"
    );

    let r = w
        .app
        .req(
            reqwest::Method::PUT,
            &format!("/api/v1/tasks/{task}/budget/2025"),
            w.token(Who::Skhcn),
        )
        .json(&json!({"allocated_year_vnd": 300_000_000i64, "spent_vnd": 20_000_000i64}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let before = json(
        w.app
            .get(&format!("/api/v1/tasks/{task}"), w.token(Who::Officer))
            .await,
    )
    .await;
    let kinds: Vec<&str> = before["forecast"]["options"]
        .as_array()
        .unwrap_or_else(|| panic!("{before}"))
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["carry_over", "postpone"], "{before}");
    assert_eq!(
        before["forecast"]["options"][0]["transition"],
        "chap_thuan_chuyen_nguon"
    );

    let r = w
        .app
        .post(
            &format!("/api/v1/tasks/{task}/proposals"),
            w.token(Who::Officer),
            &carry,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(json(r).await["kind"], "carry_over");
    let r = w
        .app
        .post(
            &format!("/api/v1/tasks/{task}/proposals/decision"),
            w.token(Who::Ubnd),
            &json!({"decision": "accept", "comment": "Đồng ý chuyển nguồn"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let o = json(r).await;
    assert_eq!(o["state"], before["state"], "{o}");
    assert_eq!(o["version"], before["version"], "{o}");
    assert_eq!(
        o["carried_over"],
        json!({"from_year": 2025, "to_year": 2026, "amount_vnd": 280_000_000i64}),
        "{o}"
    );
    let line = json(
        w.app
            .get(
                &format!("/api/v1/tasks/{task}/budget/2026"),
                w.token(Who::Officer),
            )
            .await,
    )
    .await;
    assert_eq!(
        line["figures"]["carried_over_vnd"], 280_000_000i64,
        "{line}"
    );
}

/// The administrator's workflow page lists `[[decisions]]` (the carry-over UBND accepts) in a
/// table of their own, apart from the transitions; a workflow without any has no such table.
async fn the_workflow_page_lists_the_decisions_that_leave_a_task_in_its_step(db: TestDb) {
    let w = world(db).await;
    let (cookie, _) = page_session(&w, Who::Admin).await;
    let (status, page) = page_get(&w, &cookie, "/admin/workflows/mua-sam").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let section = page
        .split("Các quyết định không chuyển bước")
        .nth(1)
        .expect("a decisions table");
    for text in [
        "Chấp thuận chuyển nguồn kinh phí sang năm sau",
        "<code>chap_thuan_chuyen_nguon</code>",
        "ở nguyên bước; chấp thuận đề xuất chuyển nguồn kinh phí sang năm sau",
        "UBND thành phố",
    ] {
        assert!(section.contains(text), "{text}: {section}");
    }
    let (status, page) = page_get(&w, &cookie, "/admin/workflows/dau-tu-cong").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("Các quyết định không chuyển bước"), "{page}");
}
