//! Sign-in: sessions (cookie attributes, expiry, sign-out, password change), the persistent
//! rate limit on failed sign-ins, API tokens (shown once, scoped, revocable), disabling a user,
//! and the `tiendo user add|passwd|disable` commands acting on the same accounts.

use std::io::Write;
use std::process::{Command, Stdio};

use adapters::http::Application;
use chrono::{TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestDb;
use crate::helpers::{Who, json, problem, world, world_with};

crate::on_both_backends!(
    sessions_are_cookies_that_expire_and_can_be_revoked,
    failed_sign_ins_are_limited_per_user_and_address,
    tokens_are_shown_once_scoped_to_a_user_and_revocable,
    disabling_a_user_revokes_sessions_and_tokens,
    the_user_commands_manage_the_same_accounts,
    token_identities_follow_changes_made_anywhere,
    a_lost_identity_watcher_turns_the_token_cache_off,
);

const PASSWORD: &str = "Hai-Phong-2026!";

fn session_cookie(r: &reqwest::Response) -> String {
    let set = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    set.split(';').next().expect("pair").trim().to_string()
}

async fn sign_in(app: &crate::helpers::TestApp, user: &str, password: &str) -> reqwest::Response {
    app.post(
        "/api/v1/auth/sign-in",
        None,
        &json!({"username": user, "password": password}),
    )
    .await
}

async fn with_cookie(app: &crate::helpers::TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.req(Method::GET, path, None)
        .header("cookie", cookie)
        .send()
        .await
        .expect("request")
}

/// Another instance of the application on the same database, with other settings.
async fn instance(
    w: &crate::helpers::World,
    tweak: impl FnOnce(&mut adapters::http::HttpSettings),
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let mut s = adapters::http::HttpSettings::new("127.0.0.1:0".parse().expect("addr"));
    tweak(&mut s);
    let files = adapters::files::FileStore::new(w.app.data_dir.path());
    let app = Application::build(s, w.store().clone(), files)
        .await
        .expect("bind");
    let base = format!("http://{}", app.local_addr().expect("addr"));
    (
        base,
        tokio::spawn(app.run_until_stopped(std::future::pending())),
    )
}

async fn sessions_are_cookies_that_expire_and_can_be_revoked(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    w.store()
        .accounts()
        .set_password("can.bo", PASSWORD, Utc::now())
        .await
        .expect("password");

    let p = problem(
        sign_in(app, "can.bo", "sai-mat-khau-roi").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let unknown = problem(
        sign_in(app, "khong.ai", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        p["detail"], unknown["detail"],
        "no hint which user names exist"
    );
    problem(
        app.post("/api/v1/auth/sign-in", None, &json!({"username": "can.bo"}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    let r = sign_in(app, "can.bo", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let set = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "plain loopback: {set}");
    let cookie = session_cookie(&r);
    let body = json(r).await;
    assert_eq!(body["me"]["roles"], json!(["don_vi"]));
    let me = json(with_cookie(app, "/api/v1/me", &cookie).await).await;
    assert_eq!(me["credential"], "session");
    assert_eq!(me["username"], "can.bo");

    // Sign-out revokes the session.
    let r = app
        .req(Method::POST, "/api/v1/auth/sign-out", None)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("sign out");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0")
    );
    problem(
        with_cookie(app, "/api/v1/me", &cookie).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // An idle session expires; one in use slides, up to its absolute limit.
    let (short, server) = instance(&w, |s| {
        s.auth.session_idle = TimeDelta::milliseconds(1500);
        s.auth.session_absolute = TimeDelta::milliseconds(4000);
    })
    .await;
    let r = app
        .client
        .post(format!("{short}/api/v1/auth/sign-in"))
        .json(&json!({"username": "can.bo", "password": PASSWORD}))
        .send()
        .await
        .expect("sign in");
    let idle = session_cookie(&r);
    let r = app
        .client
        .post(format!("{short}/api/v1/auth/sign-in"))
        .json(&json!({"username": "can.bo", "password": PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), StatusCode::OK);
    let busy = session_cookie(&r);
    let me = async |cookie: &str| {
        app.client
            .get(format!("{short}/api/v1/me"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("me")
            .status()
    };
    let started = std::time::Instant::now();
    let mut busy_lived = Vec::new();
    while started.elapsed() < std::time::Duration::from_millis(4600) {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        busy_lived.push((started.elapsed(), me(&busy).await));
    }
    assert_eq!(me(&idle).await, StatusCode::UNAUTHORIZED, "idle past 1,5 s");
    assert!(
        busy_lived
            .iter()
            .any(|(t, s)| *t > std::time::Duration::from_millis(2000) && *s == StatusCode::OK),
        "a session in use outlives the idle limit: {busy_lived:?}"
    );
    assert_eq!(
        busy_lived.last().map(|(_, s)| *s),
        Some(StatusCode::UNAUTHORIZED),
        "but not its absolute limit: {busy_lived:?}"
    );
    server.abort();

    // Changing one's password signs one out everywhere.
    let cookie = session_cookie(&sign_in(app, "can.bo", PASSWORD).await);
    let other = session_cookie(&sign_in(app, "can.bo", PASSWORD).await);
    let change = async |current: &str, new: &str| {
        app.req(Method::POST, "/api/v1/me/password", None)
            .header("cookie", &cookie)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
            .await
            .expect("request")
    };
    let p = problem(
        change("sai", "mat-khau-moi-2026").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(p["detail"].as_str().expect("d").contains("hiện tại"));
    let p = problem(change(PASSWORD, "ngan").await, StatusCode::BAD_REQUEST).await;
    assert!(p["detail"].as_str().expect("d").contains("10 ký tự"), "{p}");
    assert_eq!(
        change(PASSWORD, "mat-khau-moi-2026").await.status(),
        StatusCode::NO_CONTENT
    );
    problem(
        with_cookie(app, "/api/v1/me", &other).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        sign_in(app, "can.bo", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        sign_in(app, "can.bo", "mat-khau-moi-2026").await.status(),
        200
    );

    // With TIENDO_COOKIE_SECURE the cookie is for HTTPS only.
    let (secure, server) = instance(&w, |s| s.cookie_secure = true).await;
    let r = app
        .client
        .post(format!("{secure}/api/v1/auth/sign-in"))
        .json(&json!({"username": "can.bo", "password": "mat-khau-moi-2026"}))
        .send()
        .await
        .expect("sign in");
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .contains("; Secure")
    );
    server.abort();
}

async fn failed_sign_ins_are_limited_per_user_and_address(db: TestDb) {
    let w = world_with(db, |s| {
        s.auth.failures_per_user = 3;
        s.auth.failures_per_address = 6;
    })
    .await;
    let app = &w.app;
    for user in ["can.bo", "giam.doc"] {
        w.store()
            .accounts()
            .set_password(user, PASSWORD, Utc::now())
            .await
            .expect("password");
    }
    for _ in 0..3 {
        problem(
            sign_in(app, "can.bo", "doan-mo-mat-khau").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    // The fourth try is refused even with the right password, with when to come back.
    let r = sign_in(app, "can.bo", PASSWORD).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    let p = problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(p["retry_after"], retry);
    // Another user from the same address is not blocked yet…
    assert_eq!(sign_in(app, "giam.doc", PASSWORD).await.status(), 200);
    // …until the address has failed too often, whatever the user name.
    for i in 0..3 {
        problem(
            sign_in(app, &format!("doan.bua.{i}"), "x-x-x-x-x-x").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    problem(
        sign_in(app, "giam.doc", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    // The count lives in the database: a restarted server (or another instance) still refuses.
    let (again, server) = instance(&w, |s| {
        s.auth.failures_per_user = 3;
        s.auth.failures_per_address = 6;
    })
    .await;
    let r = app
        .client
        .post(format!("{again}/api/v1/auth/sign-in"))
        .json(&json!({"username": "can.bo", "password": PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    server.abort();
    // The refusals are counted in the metrics.
    let m = app
        .get("/api/v1/metrics", w.token(Who::Admin))
        .await
        .text()
        .await
        .expect("text");
    assert!(m.contains("tiendo_sign_in_failures_recent 6"), "{m}");
}

async fn tokens_are_shown_once_scoped_to_a_user_and_revocable(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let officer = w.token(Who::Officer);
    let r = app
        .post(
            "/api/v1/tokens",
            officer,
            &json!({"name": "Cổng dịch vụ công", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let issued = json(r).await;
    let secret = issued["secret"].as_str().expect("secret").to_string();
    assert!(secret.starts_with("tdo_") && secret.len() > 60);
    let id = issued["token"]["id"].as_str().expect("id").to_string();
    assert_eq!(issued["token"]["username"], "can.bo");
    assert!(secret.starts_with(issued["token"]["prefix"].as_str().expect("prefix")));
    // Acting as its user, with their rules.
    let me = json(app.get("/api/v1/me", Some(&secret)).await).await;
    assert_eq!(me["credential"], "token");
    assert_eq!(me["username"], "can.bo");
    assert_eq!(app.get("/api/v1/users", Some(&secret)).await.status(), 403);
    // Listed without the secret; another user does not see it, an administrator does.
    let listed = app
        .get("/api/v1/tokens", officer)
        .await
        .text()
        .await
        .expect("text");
    assert!(listed.contains(&id) && !listed.contains(&secret));
    let theirs = app
        .get("/api/v1/tokens", w.token(Who::Head))
        .await
        .text()
        .await
        .expect("text");
    assert!(!theirs.contains(&id));
    let all = app
        .get("/api/v1/tokens", w.token(Who::Admin))
        .await
        .text()
        .await
        .expect("text");
    assert!(all.contains(&id));
    // Revoked: no longer an identity.
    let r = app
        .req(Method::DELETE, &format!("/api/v1/tokens/{id}"), officer)
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(
        app.get("/api/v1/me", Some(&secret)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // Wrong values are named.
    for (body, field) in [
        (
            json!({"name": "x", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (json!({"name": "x", "scope": "root"}), "scope"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "owner": "admin"}), "owner"),
    ] {
        let p = problem(
            app.post("/api/v1/tokens", officer, &body).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(p["field"], field, "{p}");
    }
}

async fn disabling_a_user_revokes_sessions_and_tokens(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    w.store()
        .accounts()
        .set_password("giam.doc", PASSWORD, Utc::now())
        .await
        .expect("password");
    let cookie = session_cookie(&sign_in(app, "giam.doc", PASSWORD).await);
    let token = w.token(Who::Head);
    assert_eq!(with_cookie(app, "/api/v1/me", &cookie).await.status(), 200);
    let admin = w.token(Who::Admin);
    let p = problem(
        app.post("/api/v1/users/quan.tri/disable", admin, &json!({}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(p["detail"].as_str().expect("d").contains("chính mình"));
    let r = app
        .post("/api/v1/users/giam.doc/disable", admin, &json!({}))
        .await;
    assert_eq!(json(r).await["disabled"], true);
    problem(
        with_cookie(app, "/api/v1/me", &cookie).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(app.get("/api/v1/me", token).await, StatusCode::UNAUTHORIZED).await;
    problem(
        sign_in(app, "giam.doc", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // Enabled again: signing in works, the revoked credentials stay dead.
    app.post("/api/v1/users/giam.doc/enable", admin, &json!({}))
        .await;
    assert_eq!(sign_in(app, "giam.doc", PASSWORD).await.status(), 200);
    problem(app.get("/api/v1/me", token).await, StatusCode::UNAUTHORIZED).await;
    // An administrator sets a password; the rules apply.
    let p = problem(
        app.post(
            "/api/v1/users/can.bo/password",
            admin,
            &json!({"password": "can.bo-123456"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        p["detail"].as_str().expect("d").contains("tên đăng nhập"),
        "{p}"
    );
    let users = json(app.get("/api/v1/users", admin).await).await;
    let head = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "giam.doc")
        .expect("listed")
        .clone();
    assert_eq!(head["has_password"], true);
    assert_eq!(head["disabled"], false);
}

fn tiendo(db: &TestDb, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tiendo"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tiendo");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).expect("write stdin");
        }
    }
    child.wait_with_output().expect("wait")
}

async fn the_user_commands_manage_the_same_accounts(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let db = &app.db;
    // A password is never an argument: it comes on standard input.
    let out = tiendo(
        db,
        &[
            "user",
            "add",
            "lanh.dao.moi",
            "--role",
            "ubnd",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sign_in(app, "lanh.dao.moi", PASSWORD).await.status(), 200);
    let weak = tiendo(
        db,
        &[
            "user",
            "add",
            "lanh.dao.khac",
            "--role",
            "ubnd",
            "--password-stdin",
        ],
        Some("123\n"),
    );
    assert_eq!(weak.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("Mật khẩu không hợp lệ"));
    assert!(
        w.store().directory().user("lanh.dao.khac").await.is_err(),
        "no half-made user"
    );
    let empty = tiendo(db, &["user", "passwd", "lanh.dao.moi"], Some(""));
    assert_eq!(empty.status.code(), Some(2));
    let cookie = session_cookie(&sign_in(app, "lanh.dao.moi", PASSWORD).await);
    let out = tiendo(
        db,
        &["user", "passwd", "lanh.dao.moi"],
        Some("mat-khau-moi-tu-dong-lenh\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    problem(
        with_cookie(app, "/api/v1/me", &cookie).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        sign_in(app, "lanh.dao.moi", "mat-khau-moi-tu-dong-lenh")
            .await
            .status(),
        200
    );
    let cookie = session_cookie(&sign_in(app, "lanh.dao.moi", "mat-khau-moi-tu-dong-lenh").await);
    let out = tiendo(db, &["user", "disable", "lanh.dao.moi"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ĐÃ KHÓA"));
    problem(
        with_cookie(app, "/api/v1/me", &cookie).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        sign_in(app, "lanh.dao.moi", "mat-khau-moi-tu-dong-lenh").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let unknown = tiendo(db, &["user", "disable", "khong.co.ai"], None);
    assert_eq!(unknown.status.code(), Some(1));
}

/// Asks `/me` with `token` until `done` holds of the answer (status and body), for at most
/// five seconds; returns the last answer. A change made in another process reaches a running
/// server's token cache by notification, within milliseconds: the wait only absorbs a slow CI
/// machine, and the assertions that follow say what must hold.
async fn me_until(
    app: &crate::helpers::TestApp,
    token: &str,
    done: impl Fn(StatusCode, &serde_json::Value) -> bool,
) -> (StatusCode, serde_json::Value) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = app.get("/api/v1/me", Some(token)).await;
        let status = r.status();
        let body: serde_json::Value =
            serde_json::from_str(&r.text().await.expect("body")).unwrap_or(serde_json::Value::Null);
        if done(status, &body) || std::time::Instant::now() >= deadline {
            return (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Uses `token` until the server remembers its identity (PostgreSQL, once the identity watcher
/// has subscribed), or checks that it never does (SQLite).
async fn warm(app: &crate::helpers::TestApp, token: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        assert_eq!(app.get("/api/v1/me", Some(token)).await.status(), 200);
        if app.db.backend == "sqlite" {
            assert_eq!(
                app.store.accounts().cached_identities(),
                0,
                "SQLite keeps no token cache"
            );
            return;
        }
        if app.store.accounts().is_token_cached(token) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never cached a token identity on PostgreSQL"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Takes every role of `username` away with SQL outside tiendo, as an operator would, and checks
/// that `token` (theirs) is soon served without them.
async fn roles_removed_by_sql(app: &crate::helpers::TestApp, username: &str, token: &str) {
    app.db
        .exec(&format!(
            "DELETE FROM user_roles WHERE user_id = (SELECT id FROM users WHERE username = '{username}')"
        ))
        .await;
    let (status, me) = me_until(app, token, |s, b| s == 200 && b["roles"] == json!([])).await;
    assert_eq!(status, 200);
    assert_eq!(me["roles"], json!([]), "the roles are gone: {me}");
}

async fn token_identities_follow_changes_made_anywhere(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let admin = w.token(Who::Admin).expect("token");
    let officer = w.token(Who::Officer).expect("token");
    let stc = w.token(Who::Stc).expect("token");
    let head = w.token(Who::Head).expect("token");

    // In this process, through the API: a merge is seen by the very next request, at any
    // depth. (Adding a unit changes no identity and keeps the cache.)
    let merge_and_look = async |unit: &str, name: &str, into: &str| {
        app.store
            .directory()
            .add_unit(unit, name, None, Utc::now())
            .await
            .expect("unit");
        warm(app, officer).await;
        let r = app
            .post(
                &format!("/api/v1/units/{unit}/merge"),
                Some(admin),
                &json!({"into": into, "on": "01/07/2025"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        json(app.get("/api/v1/me", Some(officer)).await).await["units"].clone()
    };
    let units = merge_and_look("so-y-te-cu", "Sở Y tế (cũ)", "so-y-te").await;
    assert_eq!(units, json!(["so-y-te", "so-y-te-cu"]));
    let units = merge_and_look("tram-y-te-cu", "Trạm Y tế (cũ)", "so-y-te-cu").await;
    assert_eq!(units, json!(["so-y-te", "so-y-te-cu", "tram-y-te-cu"]));

    // Revoking a token through the API: refused at once, even though it was remembered.
    let issued = json(
        app.post(
            "/api/v1/tokens",
            Some(officer),
            &json!({"name": "tích hợp"}),
        )
        .await,
    )
    .await;
    let (id, secret) = (
        issued["token"]["id"].as_str().expect("id").to_string(),
        issued["secret"].as_str().expect("secret").to_string(),
    );
    warm(app, &secret).await;
    let r = app
        .req(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(officer),
        )
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{}", r.status());
    problem(
        app.get("/api/v1/me", Some(&secret)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // SQL typed by an operator, outside tiendo: a role taken away.
    warm(app, stc).await;
    roles_removed_by_sql(app, "tham.dinh.stc", stc).await;

    // Another process: `tiendo user disable`.
    warm(app, head).await;
    let out = tiendo(&app.db, &["user", "disable", "giam.doc"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, _) = me_until(app, head, |s, _| s == StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a disabled user's token is dead"
    );
    // Re-enabled elsewhere: the revoked token stays revoked.
    let out = tiendo(&app.db, &["user", "enable", "giam.doc"], None);
    assert!(out.status.success());
    problem(
        app.get("/api/v1/me", Some(head)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // The officer, untouched by all this, is still served (and remembered again on PostgreSQL).
    warm(app, officer).await;
}

async fn a_lost_identity_watcher_turns_the_token_cache_off(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let officer = w.token(Who::Officer).expect("token");
    warm(app, officer).await;
    if app.db.backend == "postgres" {
        // The watcher's connection dies (a restart, a proxy, an operator's kill). Whatever
        // changes before it is back must not be answered from memory.
        app.db
            .exec(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
            )
            .await;
    }
    roles_removed_by_sql(app, "can.bo", officer).await;
    // The watcher subscribes again and the cache comes back on.
    warm(app, officer).await;
    if app.db.backend == "postgres" {
        let listening: i64 = {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&app.db.url)
                .await
                .expect("connect");
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
            )
            .fetch_one(&mut c)
            .await
            .expect("count")
        };
        assert_eq!(listening, 1, "one watcher, subscribed again");
    }
}
