//! The authorization matrix: every endpoint, tried by every role (and by nobody). Each
//! forbidden combination must be refused with the right status and a problem body; each
//! allowed one must work. All mismatches are collected and reported together.

use engine::access::Scope;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response};
use serde_json::json;

use crate::common::TestDb;
use crate::helpers::{PLAN, Who, World, content_type, json, world};

crate::on_both_backends!(
    every_endpoint_refuses_and_allows_by_role,
    who_sees_which_tasks
);

/// Expected statuses, in the order of [`Who::ALL`]:
/// officer, other unit's officer, head, SKHCN, Sở Tài chính, a department's leadership
/// (`lanh_dao_so`), UBND, admin, anonymous.
type Row = [u16; 9];

/// Every signed-in caller gets `ok`; nobody else gets in.
fn everyone(ok: u16) -> Row {
    [ok, ok, ok, ok, ok, ok, ok, ok, 401]
}

fn admin_only(ok: u16) -> Row {
    [403, 403, 403, 403, 403, 403, 403, ok, 401]
}

/// Readers of Sở Y tế's task waiting for SKHCN: its unit, SKHCN (its queue), the departments'
/// leadership and UBND; the others do not learn it exists.
fn task_readers(ok: u16) -> Row {
    [ok, 404, ok, ok, 404, ok, ok, 404, 401]
}

struct Matrix<'a> {
    w: &'a World,
    failures: Vec<String>,
    checked: usize,
}

impl<'a> Matrix<'a> {
    async fn row(
        &mut self,
        label: &str,
        expected: Row,
        f: impl AsyncFn(Who, Option<&str>) -> Response,
    ) {
        for (i, who) in Who::ALL.into_iter().enumerate() {
            let r = f(who, self.w.token(who)).await;
            self.checked += 1;
            let status = r.status().as_u16();
            let ct = content_type(&r);
            let body = r.text().await.unwrap_or_default();
            if status != expected[i] {
                self.failures.push(format!(
                    "{label} as {who:?}: {status}, expected {}: {}",
                    expected[i],
                    body.chars().take(300).collect::<String>()
                ));
            } else if status >= 400 && !ct.starts_with("application/problem+json") {
                self.failures
                    .push(format!("{label} as {who:?}: {status} without problem+json"));
            }
        }
    }
}

/// A PDF of a type `who` issues: the unit its dossier, the departments and UBND their comments.
fn pdf_by(who: Who, name: &str) -> Form {
    let doc_type = match who {
        Who::Officer | Who::OtherOfficer | Who::Head => "thuyet_minh_du_toan",
        _ => "van_ban_y_kien",
    };
    pdf_of(doc_type, name)
}

fn pdf_of(doc_type: &'static str, name: &str) -> Form {
    Form::new().text("type", doc_type).part(
        "file",
        Part::bytes(format!("%PDF-1.4 {name}").into_bytes())
            .file_name(format!("{name}.pdf"))
            .mime_str("application/pdf")
            .expect("mime"),
    )
}

async fn every_endpoint_refuses_and_allows_by_role(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let task_a = w
        .task_at_skhcn("Nâng cấp hệ thống thông tin bệnh viện")
        .await;
    let doc_a = w
        .document(&task_a, "thuyet_minh_du_toan", Who::Officer)
        .await;
    let mut m = Matrix {
        w: &w,
        failures: Vec::new(),
        checked: 0,
    };
    let n = std::sync::atomic::AtomicUsize::new(0);
    let fresh = |prefix: &str| {
        format!(
            "{prefix}{}",
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    };

    // --- public and identity ---------------------------------------------------------------
    m.row("GET /health", [200; 9], async |_, t| {
        app.get("/api/v1/health", t).await
    })
    .await;
    m.row("GET /ready", [200; 9], async |_, t| {
        app.get("/api/v1/ready", t).await
    })
    .await;
    m.row("GET /me", everyone(200), async |_, t| {
        app.get("/api/v1/me", t).await
    })
    .await;
    // Signing out with a token revokes it: each caller signs out with a token of their own.
    m.row("POST /auth/sign-out", everyone(204), async |who, _| {
        let own = match who.username() {
            Some(u) => Some(app.token(u, Scope::Full).await),
            None => None,
        };
        app.post("/api/v1/auth/sign-out", own.as_deref(), &json!({}))
            .await
    })
    .await;
    m.row(
        "POST /me/password (wrong current password)",
        everyone(400),
        async |_, t| {
            app.post(
                "/api/v1/me/password",
                t,
                &json!({"current_password": "không đúng", "new_password": "mat-khau-moi-dai-du"}),
            )
            .await
        },
    )
    .await;
    m.row("GET /openapi.json", everyone(200), async |_, t| {
        app.get("/api/v1/openapi.json", t).await
    })
    .await;

    // --- tokens ----------------------------------------------------------------------------
    m.row("GET /tokens", everyone(200), async |_, t| {
        app.get("/api/v1/tokens", t).await
    })
    .await;
    // Issuing a token takes a session signed in with the password minutes ago (tests/api/auth.rs):
    // a token mints nothing, whoever holds it.
    m.row("POST /tokens (full)", everyone(403), async |_, t| {
        app.post("/api/v1/tokens", t, &json!({"name": "Cổng tích hợp"}))
            .await
    })
    .await;
    m.row("POST /tokens (metrics)", everyone(403), async |_, t| {
        app.post(
            "/api/v1/tokens",
            t,
            &json!({"name": "Prometheus", "scope": "metrics"}),
        )
        .await
    })
    .await;
    // The officer's own token: the officer and an administrator may revoke it; to anyone else
    // it does not exist.
    m.row(
        "DELETE /tokens/{officer's}",
        [204, 404, 404, 404, 404, 404, 404, 204, 401],
        async |_, t| {
            let own = app
                .store
                .accounts()
                .issue_token("can.bo", "tạm", Scope::Full, None, chrono::Utc::now())
                .await
                .expect("token");
            let id = own.token.id;
            app.req(Method::DELETE, &format!("/api/v1/tokens/{id}"), t)
                .send()
                .await
                .expect("request")
        },
    )
    .await;

    // --- tasks -----------------------------------------------------------------------------
    m.row("GET /tasks", everyone(200), async |_, t| {
        app.get("/api/v1/tasks", t).await
    })
    .await;
    // Unit officers propose for their own unit; SKHCN and UBND compile the plan.
    m.row(
        "POST /tasks (Sở Y tế)",
        [201, 403, 403, 201, 403, 403, 201, 403, 401],
        async |_, t| {
            app.post(
                "/api/v1/tasks",
                t,
                &json!({"plan": PLAN, "unit": "so-y-te", "name": "Mua máy trạm", "funding_source": "thuong_xuyen", "kind": "mua-sam"}),
            )
            .await
        },
    )
    .await;
    m.row("GET /tasks/{id}", task_readers(200), async |_, t| {
        app.get(&format!("/api/v1/tasks/{task_a}"), t).await
    })
    .await;
    m.row(
        "GET /tasks/{id}/history",
        task_readers(200),
        async |_, t| app.get(&format!("/api/v1/tasks/{task_a}/history"), t).await,
    )
    .await;
    m.row(
        "GET /tasks/{id}/documents",
        task_readers(200),
        async |_, t| {
            app.get(&format!("/api/v1/tasks/{task_a}/documents"), t)
                .await
        },
    )
    .await;
    m.row("GET /documents/{id}", task_readers(200), async |_, t| {
        app.get(&format!("/api/v1/documents/{doc_a}"), t).await
    })
    .await;
    m.row(
        "POST /tasks/{id}/documents",
        task_readers(201),
        async |who, t| {
            app.req(
                Method::POST,
                &format!("/api/v1/tasks/{task_a}/documents"),
                t,
            )
            .multipart(pdf_by(who, &format!("{who:?}")))
            .send()
            .await
            .expect("request")
        },
    )
    .await;
    // SKHCN's opinion: only SKHCN may give it; the unit and UBND see the task but hold the
    // wrong role (403 naming the rule); the others cannot see it (404).
    m.row(
        "POST /tasks/{id}/transitions skhcn_thong_nhat",
        [403, 404, 403, 200, 404, 403, 403, 404, 401],
        async |who, t| {
            let id = w.task_at_skhcn(&format!("Nhiệm vụ cho {who:?}")).await;
            let doc = w.document(&id, "van_ban_y_kien", Who::Skhcn).await;
            app.post(
                &format!("/api/v1/tasks/{id}/transitions"),
                t,
                &json!({"transition": "skhcn_thong_nhat", "documents": [doc]}),
            )
            .await
        },
    )
    .await;
    // The unit's first step: its officer only.
    m.row(
        "POST /tasks/{id}/transitions bat_dau_lap_thuyet_minh",
        [200, 404, 403, 403, 404, 403, 403, 404, 401],
        async |who, t| {
            let id = w.task(&format!("Nhiệm vụ mới cho {who:?}")).await;
            app.post(
                &format!("/api/v1/tasks/{id}/transitions"),
                t,
                &json!({"transition": "bat_dau_lap_thuyet_minh"}),
            )
            .await
        },
    )
    .await;

    // The assigned deadline: UBND and SKHCN set it; the unit and Sở Tài chính's leadership see
    // the task but may not (403); who cannot see the task gets 404.
    m.row(
        "PUT /tasks/{id}/deadline",
        [403, 404, 403, 200, 404, 403, 200, 404, 401],
        async |who, t| {
            let id = w.task(&format!("Thời hạn giao cho {who:?}")).await;
            app.req(Method::PUT, &format!("/api/v1/tasks/{id}/deadline"), t)
                .json(&json!({"on": "31/12/2026", "doc_number": "620/TB-VP", "doc_date": "2025-11-05"}))
                .send()
                .await
                .expect("request")
        },
    )
    .await;

    // --- plans, units ----------------------------------------------------------------------
    m.row("GET /plans", everyone(200), async |_, t| {
        app.get("/api/v1/plans", t).await
    })
    .await;
    m.row("GET /plans/{number}", everyone(200), async |_, t| {
        app.get("/api/v1/plans/215%2FKH-UBND", t).await
    })
    .await;
    m.row(
        "POST /plans",
        [403, 403, 403, 201, 403, 403, 201, 201, 401],
        async |_, t| {
            let number = fresh("3");
            app.post(
                "/api/v1/plans",
                t,
                &json!({"number": format!("{number}/KH-UBND"), "year": 2026, "title": "Kế hoạch bổ sung", "issued_on": "2026-01-15"}),
            )
            .await
        },
    )
    .await;
    m.row("GET /units", everyone(200), async |_, t| {
        app.get("/api/v1/units", t).await
    })
    .await;
    m.row("GET /units/{id}", everyone(200), async |_, t| {
        app.get("/api/v1/units/so-y-te", t).await
    })
    .await;
    m.row("POST /units", admin_only(201), async |_, t| {
        let id = fresh("xa-");
        app.post(
            "/api/v1/units",
            t,
            &json!({"id": id, "name": "Ủy ban nhân dân xã"}),
        )
        .await
    })
    .await;
    m.row("POST /units/{id}/rename", admin_only(200), async |_, t| {
        let id = fresh("phuong-");
        w.store()
            .directory()
            .add_unit(&id, "Phường cũ", None, chrono::Utc::now())
            .await
            .expect("unit");
        app.post(
            &format!("/api/v1/units/{id}/rename"),
            t,
            &json!({"name": "Phường mới", "valid_from": "2025-07-01"}),
        )
        .await
    })
    .await;
    m.row("POST /units/{id}/merge", admin_only(200), async |_, t| {
        let id = fresh("so-cu-");
        w.store()
            .directory()
            .add_unit(&id, "Sở cũ", None, chrono::Utc::now())
            .await
            .expect("unit");
        app.post(
            &format!("/api/v1/units/{id}/merge"),
            t,
            &json!({"into": "so-tai-chinh", "on": "01/07/2025"}),
        )
        .await
    })
    .await;

    // --- users -----------------------------------------------------------------------------
    m.row("GET /users", admin_only(200), async |_, t| {
        app.get("/api/v1/users", t).await
    })
    .await;
    m.row("POST /users", admin_only(201), async |_, t| {
        let name = fresh("nguoi.moi.");
        app.post(
            "/api/v1/users",
            t,
            &json!({"username": name, "roles": ["ubnd"], "display_name": "Người mới"}),
        )
        .await
    })
    .await;
    m.row(
        "GET /users/can.bo (themself or admin)",
        [200, 403, 403, 403, 403, 403, 403, 200, 401],
        async |_, t| app.get("/api/v1/users/can.bo", t).await,
    )
    .await;
    let add_user = async |name: &str| {
        w.store()
            .directory()
            .add_user(
                adapters::store::NewUser::with_role(name, "", engine::Role::Ubnd, None),
                chrono::Utc::now(),
            )
            .await
            .expect("user");
    };
    m.row(
        "POST /users/{name}/password",
        admin_only(200),
        async |_, t| {
            let name = fresh("doi.mat.khau.");
            add_user(&name).await;
            app.post(
                &format!("/api/v1/users/{name}/password"),
                t,
                &json!({"password": "mat-khau-ban-dau-2026"}),
            )
            .await
        },
    )
    .await;
    m.row(
        "POST /users/{name}/disable",
        admin_only(200),
        async |_, t| {
            let name = fresh("khoa.");
            add_user(&name).await;
            app.post(&format!("/api/v1/users/{name}/disable"), t, &json!({}))
                .await
        },
    )
    .await;
    m.row(
        "POST /users/{name}/enable",
        admin_only(200),
        async |_, t| {
            let name = fresh("mo.khoa.");
            add_user(&name).await;
            app.post(&format!("/api/v1/users/{name}/enable"), t, &json!({}))
                .await
        },
    )
    .await;

    // --- definitions -----------------------------------------------------------------------
    for path in [
        "/api/v1/workflows",
        "/api/v1/workflows/mua-sam",
        "/api/v1/workflows/mua-sam/graph",
        "/api/v1/calendars",
        "/api/v1/calendars/vn/days/2026-02-16",
        "/api/v1/calendars/vn/deadline?from=2026-02-13T09:00&working_days=15",
        "/api/v1/calendars/vn/between?from=2026-02-12&to=2026-02-24",
    ] {
        m.row(&format!("GET {path}"), everyone(200), async |_, t| {
            app.get(path, t).await
        })
        .await;
    }
    let mua_sam = include_str!("../../workflows/mua-sam.toml");
    m.row("POST /workflows/check", admin_only(200), async |_, t| {
        app.post(
            "/api/v1/workflows/check",
            t,
            &json!({"file_name": "mua-sam-v2.toml", "text": mua_sam}),
        )
        .await
    })
    .await;

    // --- reports (issue 6): SKHCN and UBND the whole plan, a unit its own tasks ----------------
    for path in [
        "/api/v1/reports/progress?plan=215%2FKH-UBND&as_of=2026-03-02&format=md",
        "/api/v1/reports/status?from=2026-01-01&to=2026-03-31&format=html",
    ] {
        m.row(
            &format!("GET {path}"),
            [200, 200, 200, 200, 403, 200, 200, 403, 401],
            async |_, t| app.get(path, t).await,
        )
        .await;
    }

    // --- operations ------------------------------------------------------------------------
    m.row("GET /outbox", admin_only(200), async |_, t| {
        app.get("/api/v1/outbox", t).await
    })
    .await;
    let message = app
        .store
        .scheduling()
        .outbox(None, 1)
        .await
        .expect("outbox")
        .first()
        .map(|o| o.id.clone())
        .expect("the transitions queued notifications");
    // Only a message that could not be sent is put back in the queue.
    app.db
        .exec(&format!(
            "UPDATE outbox SET status = 'dead' WHERE id = '{message}'"
        ))
        .await;
    m.row("POST /outbox/{id}/retry", admin_only(200), async |_, t| {
        app.post(&format!("/api/v1/outbox/{message}/retry"), t, &json!({}))
            .await
    })
    .await;
    m.row("GET /metrics", admin_only(200), async |_, t| {
        app.get("/api/v1/metrics", t).await
    })
    .await;

    let failures = m.failures.join("\n");
    let checked = m.checked;
    assert!(failures.is_empty(), "{failures}");
    assert!(checked > 300, "{checked} combinations");

    // Back in the queue, the message is not dead: retrying it again conflicts with its state.
    let admin = app.token("quan.tri", Scope::Full).await;
    let r = app
        .post(
            &format!("/api/v1/outbox/{message}/retry"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::CONFLICT);
    assert_eq!(json(r).await["code"], "state_conflict");
    // A workflow file that does not load: the check itself succeeds and lists the errors.
    let r = app
        .post(
            "/api/v1/workflows/check",
            Some(&admin),
            &json!({"text": "name = "}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let v = json(r).await;
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["errors"].as_array().is_some_and(|e| !e.is_empty()), "{v}");

    // A metrics token reads the metrics and nothing that needs a role.
    let metrics = app.token("quan.tri", Scope::Metrics).await;
    assert_eq!(
        app.get("/api/v1/metrics", Some(&metrics)).await.status(),
        200
    );
    for path in ["/api/v1/users", "/api/v1/outbox"] {
        assert_eq!(app.get(path, Some(&metrics)).await.status(), 403, "{path}");
    }
    assert_eq!(
        app.get(&format!("/api/v1/tasks/{task_a}"), Some(&metrics))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post("/api/v1/tokens", Some(&metrics), &json!({"name": "x"}))
            .await
            .status(),
        403,
        "a metrics token mints nothing"
    );
    let listed = json(app.get("/api/v1/tasks", Some(&metrics)).await).await;
    assert_eq!(listed["total"], 0);
    // A garbage token is no identity at all.
    assert_eq!(
        app.get("/api/v1/me", Some("tdo_khong-phai-token"))
            .await
            .status(),
        401
    );
}

/// The list of tasks applies the same rule as reading one: the unit (and units merged into
/// it), the appraisers' queue and what they acted on, UBND everything, admin nothing.
async fn who_sees_which_tasks(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let at_skhcn = w.task_at_skhcn("Đang chờ Sở KH&CN").await;
    let proposed = w.task("Mới đề xuất").await;
    // One that went through SKHCN and is now with Sở Tài chính.
    let at_stc = w.task_at_skhcn("Đang thẩm định ở Sở Tài chính").await;
    let y = w.document(&at_stc, "van_ban_y_kien", Who::Skhcn).await;
    w.step(&at_stc, "skhcn_thong_nhat", Who::Skhcn, vec![y])
        .await;
    let qd = w.document(&at_stc, "quyet_dinh_phe_duyet", Who::Head).await;
    w.step(&at_stc, "phe_duyet_nhiem_vu", Who::Head, vec![qd])
        .await;
    let tm = w.document(&at_stc, "thuyet_minh_du_toan", Who::Head).await;
    w.step(&at_stc, "gui_so_tai_chinh", Who::Head, vec![tm])
        .await;
    // Sở Tài chính asks for more documents: the task goes back to the unit, still in sight.
    w.step(&at_stc, "stc_yeu_cau_bo_sung", Who::Stc, vec![])
        .await;

    let ids = async |who: Who| {
        let v = json(app.get("/api/v1/tasks?limit=500", w.token(who)).await).await;
        let mut ids: Vec<String> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_string())
            .collect();
        ids.sort();
        assert_eq!(v["total"].as_u64(), Some(ids.len() as u64));
        ids
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    let all = sorted(vec![&at_skhcn, &proposed, &at_stc]);
    assert_eq!(ids(Who::Officer).await, all);
    assert_eq!(ids(Who::Head).await, all);
    assert_eq!(ids(Who::Ubnd).await, all);
    // The appraising departments' leadership reads every task, as UBND does.
    assert_eq!(ids(Who::LanhDaoSo).await, all);
    assert!(ids(Who::OtherOfficer).await.is_empty());
    assert!(ids(Who::Admin).await.is_empty());
    // SKHCN coordinates the plan: every task, as UBND.
    assert_eq!(ids(Who::Skhcn).await, all);
    // Sở Tài chính: only the one it acted on (now back with the unit).
    assert_eq!(ids(Who::Stc).await, vec![at_stc.clone()]);
    // Each visible one reads; the others do not exist for the caller.
    for who in [Who::Stc, Who::Skhcn, Who::OtherOfficer] {
        for id in [&at_skhcn, &proposed, &at_stc] {
            let visible = ids(who).await.contains(id);
            let status = app
                .get(&format!("/api/v1/tasks/{id}"), w.token(who))
                .await
                .status();
            assert_eq!(status.as_u16(), if visible { 200 } else { 404 }, "{who:?}");
        }
    }
    // "My turn": the officer's is the new proposal and the dossier to complement; SKHCN's the one
    // waiting for its opinion.
    let mine = |v: serde_json::Value| {
        let mut ids: Vec<String> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        mine(
            json(
                app.get("/api/v1/tasks?my_turn=true", w.token(Who::Officer))
                    .await
            )
            .await
        ),
        sorted(vec![&proposed, &at_stc])
    );
    assert_eq!(
        mine(
            json(
                app.get("/api/v1/tasks?my_turn=true", w.token(Who::Skhcn))
                    .await
            )
            .await
        ),
        vec![at_skhcn.clone()]
    );
    // A unit merged into Sở Nội vụ brings its tasks with it.
    w.store()
        .directory()
        .merge_unit(
            "so-y-te",
            "so-noi-vu",
            chrono::NaiveDate::from_ymd_opt(2025, 7, 1).expect("date"),
        )
        .await
        .expect("merge");
    let merged_token = app.token("can.bo.noi.vu", Scope::Full).await;
    let v = json(app.get("/api/v1/tasks", Some(&merged_token)).await).await;
    assert_eq!(v["total"], 3, "{v}");
    let v = json(
        app.get("/api/v1/tasks?unit=so-noi-vu", w.token(Who::Ubnd))
            .await,
    )
    .await;
    assert_eq!(
        v["total"], 3,
        "filtering by a unit includes the units merged into it"
    );
}
