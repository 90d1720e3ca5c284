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
use crate::helpers::{Who, detail, json, problem, world, world_with};

crate::on_both_backends!(
    sessions_are_cookies_that_expire_and_can_be_revoked,
    failed_sign_ins_are_limited_per_user_and_address,
    tokens_are_shown_once_scoped_to_a_user_and_revocable,
    disabling_a_user_revokes_sessions_and_tokens,
    the_user_commands_manage_the_same_accounts,
    token_identities_follow_changes_made_anywhere,
    a_lost_identity_watcher_turns_the_token_cache_off,
    a_password_change_revokes_tokens_and_tokens_need_a_fresh_sign_in,
    wrong_current_passwords_count_as_failed_sign_ins,
    cross_site_requests_with_the_session_cookie_are_refused,
    lockouts_are_no_weapon,
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
    assert!(detail(&p).contains("hiện tại"));
    let p = problem(change(PASSWORD, "ngan").await, StatusCode::BAD_REQUEST).await;
    assert!(detail(&p).contains("10 ký tự"), "{p}");
    assert_eq!(
        change(PASSWORD, "mat-khau-moi-2026").await.status(),
        StatusCode::OK
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

/// POSTs `body` to `path` with a session cookie.
async fn post_with_cookie(
    app: &crate::helpers::TestApp,
    path: &str,
    cookie: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    app.req(Method::POST, path, None)
        .header("cookie", cookie)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn tokens_are_shown_once_scoped_to_a_user_and_revocable(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    w.store()
        .accounts()
        .set_password("can.bo", PASSWORD, Utc::now())
        .await
        .expect("password");
    // Setting the password revoked the officer's tokens: a new one.
    let officer = &app.token("can.bo", engine::access::Scope::Full).await;
    let officer = Some(officer.as_str());
    let session = session_cookie(&sign_in(app, "can.bo", PASSWORD).await);
    let r = post_with_cookie(
        app,
        "/api/v1/tokens",
        &session,
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
        (
            json!({"name": "x", "expires_in_days": 5, "no_expiry": true}),
            "no_expiry",
        ),
    ] {
        let p = problem(
            post_with_cookie(app, "/api/v1/tokens", &session, &body).await,
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
    assert!(detail(&p).contains("chính mình"));
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
    assert!(detail(&p).contains("tên đăng nhập"), "{p}");
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
    let merge = async |unit: &str, into: &str, on: &str| {
        app.post(
            &format!("/api/v1/units/{unit}/merge"),
            Some(admin),
            &json!({"into": into, "on": on}),
        )
        .await
    };
    let merge_and_look = async |unit: &str, name: &str, into: &str| {
        app.store
            .directory()
            .add_unit(unit, name, None, Utc::now())
            .await
            .expect("unit");
        warm(app, officer).await;
        let r = merge(unit, into, "01/07/2025").await;
        assert_eq!(r.status(), 200);
        json(app.get("/api/v1/me", Some(officer)).await).await["units"].clone()
    };
    let units = merge_and_look("so-y-te-cu", "Sở Y tế (cũ)", "so-y-te").await;
    assert_eq!(units, json!(["so-y-te", "so-y-te-cu"]));
    let units = merge_and_look("tram-y-te-cu", "Trạm Y tế (cũ)", "so-y-te-cu").await;
    assert_eq!(units, json!(["so-y-te", "so-y-te-cu", "tram-y-te-cu"]));
    // A unit merged into itself is never possible (422); into a unit already merged into it,
    // it conflicts with the merges recorded (409). Each says why, and nothing changes.
    for (unit, into, status, why) in [
        ("so-y-te", "so-y-te", 422, "vào chính nó"),
        (
            "so-y-te",
            "tram-y-te-cu",
            409,
            "đã được sáp nhập vào `so-y-te`",
        ),
    ] {
        let r = merge(unit, into, "01/08/2025").await;
        assert_eq!(r.status(), status, "{unit} into {into}");
        let p = json(r).await;
        assert!(p["detail"].as_str().is_some_and(|d| d.contains(why)), "{p}");
    }
    let units = json(app.get("/api/v1/me", Some(officer)).await).await["units"].clone();
    assert_eq!(units, json!(["so-y-te", "so-y-te-cu", "tram-y-te-cu"]));

    // Revoking a token through the API: refused at once, even though it was remembered.
    let issued = app
        .store
        .accounts()
        .issue_token(
            "can.bo",
            "tích hợp",
            engine::access::Scope::Full,
            None,
            Utc::now(),
        )
        .await
        .expect("token");
    let (id, secret) = (issued.token.id, issued.secret);
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

/// Issue 13, security 1: credentials outlive a password change; a token mints further tokens;
/// tokens never expire. Now: a password change (own, an administrator's, `tiendo user passwd`)
/// revokes every token of the user and says so; issuing a token needs a session signed in with
/// the password in the last 10 minutes; tokens expire after 90 days unless an administrator
/// asks for none; signing out with a token revokes it.
async fn a_password_change_revokes_tokens_and_tokens_need_a_fresh_sign_in(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    for user in ["can.bo", "quan.tri"] {
        w.store()
            .accounts()
            .set_password(user, PASSWORD, Utc::now())
            .await
            .expect("password");
    }
    let session = session_cookie(&sign_in(app, "can.bo", PASSWORD).await);

    // Issued from a fresh session: 90 days by default.
    let issued = json(
        post_with_cookie(
            app,
            "/api/v1/tokens",
            &session,
            &json!({"name": "Tích hợp"}),
        )
        .await,
    )
    .await;
    let secret = issued["secret"].as_str().expect("secret").to_string();
    let expires: chrono::DateTime<Utc> = issued["token"]["expires_at"]
        .as_str()
        .expect("an expiry by default")
        .parse()
        .expect("time");
    let days = (expires - Utc::now()).num_hours() as f64 / 24.0;
    assert!((89.9..=90.1).contains(&days), "{days} days");

    // A token mints nothing, not even with the password's owner behind it.
    let p = problem(
        app.post("/api/v1/tokens", Some(&secret), &json!({"name": "con"}))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(detail(&p).contains("đăng nhập"), "{p}");

    // No expiry: administrators only.
    let p = problem(
        post_with_cookie(
            app,
            "/api/v1/tokens",
            &session,
            &json!({"name": "Mãi mãi", "no_expiry": true}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(detail(&p).contains("admin"), "{p}");
    let admin_session = session_cookie(&sign_in(app, "quan.tri", PASSWORD).await);
    let r = post_with_cookie(
        app,
        "/api/v1/tokens",
        &admin_session,
        &json!({"name": "Cổng dịch vụ công", "no_expiry": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(json(r).await["token"]["expires_at"].is_null());

    // A session signed in more than 10 minutes ago must sign in again.
    app.db
        .exec(&format!(
            "UPDATE sessions SET created_at = '{}' WHERE user_id = (SELECT id FROM users WHERE username = 'can.bo')",
            (Utc::now() - TimeDelta::minutes(11)).format("%Y-%m-%dT%H:%M:%S%.6fZ")
        ))
        .await;
    let p = problem(
        post_with_cookie(app, "/api/v1/tokens", &session, &json!({"name": "muộn"})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(detail(&p).contains("10 phút"), "{p}");

    // The user changes their password: the token dies with the sessions, and the answer says so.
    assert_eq!(app.get("/api/v1/me", Some(&secret)).await.status(), 200);
    let r = post_with_cookie(
        app,
        "/api/v1/me/password",
        &session,
        &json!({"current_password": PASSWORD, "new_password": "doi-mat-khau-2026"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let changed = json(r).await;
    assert_eq!(changed["revoked_tokens"], 1, "{changed}");
    assert!(changed["revoked_sessions"].as_u64().expect("n") >= 1);
    assert!(
        changed["detail"].as_str().expect("d").contains("token"),
        "{changed}"
    );
    problem(
        app.get("/api/v1/me", Some(&secret)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // An administrator's reset does the same.
    let token = app.token("can.bo", engine::access::Scope::Full).await;
    let admin = &app.token("quan.tri", engine::access::Scope::Full).await;
    let admin = Some(admin.as_str());
    let r = app
        .post(
            "/api/v1/users/can.bo/password",
            admin,
            &json!({"password": "dat-lai-boi-quan-tri"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r).await["revoked_tokens"], 1);
    problem(
        app.get("/api/v1/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // And so does `tiendo user passwd`, which says so.
    let token = app.token("can.bo", engine::access::Scope::Full).await;
    let out = tiendo(
        &app.db,
        &["user", "passwd", "can.bo"],
        Some("mat-khau-tu-dong-lenh\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("1 token API"), "{said}");
    problem(
        app.get("/api/v1/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Signing out with a token revokes that token (and no other).
    let token = app.token("can.bo", engine::access::Scope::Full).await;
    let other = app.token("can.bo", engine::access::Scope::Full).await;
    let r = app
        .post("/api/v1/auth/sign-out", Some(&token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(
        app.get("/api/v1/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(app.get("/api/v1/me", Some(&other)).await.status(), 200);

    // The common-password list and the user's own name are refused.
    for weak in ["1234567890", "Password123", "canbo-hai-phong"] {
        let p = problem(
            app.post(
                "/api/v1/users/can.bo/password",
                admin,
                &json!({"password": weak}),
            )
            .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(detail(&p).contains("Mật khẩu không hợp lệ"), "{weak}: {p}");
    }
}

/// Issue 13, security 2: `/me/password` was an unlimited password oracle. Wrong current
/// passwords now count with the user's failed sign-ins: past the limit, 429 with
/// `Retry-After`, even for the right password, and sign-in is refused too.
async fn wrong_current_passwords_count_as_failed_sign_ins(db: TestDb) {
    let w = world_with(db, |s| {
        s.auth.failures_per_user = 3;
    })
    .await;
    let app = &w.app;
    w.store()
        .accounts()
        .set_password("can.bo", PASSWORD, Utc::now())
        .await
        .expect("password");
    let officer = &app.token("can.bo", engine::access::Scope::Full).await;
    let officer = Some(officer.as_str());
    let change = async |current: &str| {
        app.post(
            "/api/v1/me/password",
            officer,
            &json!({"current_password": current, "new_password": "mat-khau-moi-2026"}),
        )
        .await
    };
    for i in 0..3 {
        let p = problem(
            change(&format!("doan-lan-{i}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(p["field"], "current_password", "{p}");
    }
    let r = change(PASSWORD).await;
    assert!(r.headers().contains_key("retry-after"));
    let p = problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(detail(&p).contains("thử lại"), "{p}");
    problem(
        sign_in(app, "can.bo", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
}

/// Issue 13, security 5: body-less POSTs and multipart uploads accepted a cookie-authenticated
/// request from a foreign `Origin`. Now every unsafe request with the session cookie whose
/// `Origin` or `Sec-Fetch-Site` is not this server is refused (403, problem+json), the API and
/// the pages alike; tokens are not concerned.
async fn cross_site_requests_with_the_session_cookie_are_refused(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    w.store()
        .accounts()
        .set_password("can.bo", PASSWORD, Utc::now())
        .await
        .expect("password");
    let cookie = session_cookie(&sign_in(app, "can.bo", PASSWORD).await);
    let task = w.task("Số hóa hồ sơ bệnh án").await;
    let host = app.base.trim_start_matches("http://").to_string();
    let upload = || {
        reqwest::multipart::Form::new()
            .text("type", "thuyet_minh_du_toan")
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"%PDF-1.4 thuyet minh".to_vec())
                    .file_name("tm.pdf")
                    .mime_str("application/pdf")
                    .expect("mime"),
            )
    };
    let docs = format!("/api/v1/tasks/{task}/documents");
    for (header, value) in [
        ("origin", "https://ke-gia-mao.example".to_string()),
        ("origin", "null".to_string()),
        ("sec-fetch-site", "cross-site".to_string()),
        ("sec-fetch-site", "same-site".to_string()),
    ] {
        // A multipart upload…
        let r = app
            .req(Method::POST, &docs, None)
            .header("cookie", &cookie)
            .header(header, &value)
            .multipart(upload())
            .send()
            .await
            .expect("upload");
        let p = problem(r, StatusCode::FORBIDDEN).await;
        assert_eq!(p["code"], "cross_site_request", "{header}: {value}: {p}");
        assert!(detail(&p).contains("trang web khác"));
        // …a body-less POST…
        let r = app
            .req(Method::POST, "/api/v1/auth/sign-out", None)
            .header("cookie", &cookie)
            .header(header, &value)
            .send()
            .await
            .expect("sign out");
        problem(r, StatusCode::FORBIDDEN).await;
        // …and a page's form.
        let r = app
            .req(Method::POST, "/sign-out", None)
            .header("cookie", &cookie)
            .header(header, &value)
            .send()
            .await
            .expect("sign out page");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{header}: {value}");
    }
    let listed = json(with_cookie(app, &docs, &cookie).await).await;
    assert_eq!(listed, json!([]), "nothing was uploaded");
    assert_eq!(
        with_cookie(app, "/api/v1/me", &cookie).await.status(),
        200,
        "still signed in"
    );
    // From our own page: accepted.
    let r = app
        .req(Method::POST, &docs, None)
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .header("sec-fetch-site", "same-origin")
        .multipart(upload())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::CREATED);
    // A token is not a browser's credential: a foreign Origin does not matter.
    let officer = app.token("can.bo", engine::access::Scope::Full).await;
    let r = app
        .req(Method::POST, &docs, Some(&officer))
        .header("origin", "https://ke-gia-mao.example")
        .multipart(upload())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// Issue 13, security 4: 20 failures from one address locked every user behind it (the TLS
/// proxy of the README's deployment), and 5 locked any named account, administrator included.
/// Now failures count per (address, user), with a far higher per-address ceiling; the account
/// itself gets a progressive delay of seconds; `X-Forwarded-For` is believed from the configured
/// proxies only.
async fn lockouts_are_no_weapon(db: TestDb) {
    let w = world_with(db, |s| {
        s.trusted_proxies = vec![
            "127.0.0.1/32".parse().expect("net"),
            "::1/128".parse().expect("net"),
        ];
    })
    .await;
    let app = &w.app;
    for user in ["quan.tri", "can.bo", "giam.doc"] {
        w.store()
            .accounts()
            .set_password(user, PASSWORD, Utc::now())
            .await
            .expect("password");
    }
    let from = async |address: &str, user: &str, password: &str| {
        app.req(Method::POST, "/api/v1/auth/sign-in", None)
            .header("x-forwarded-for", address)
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .expect("sign in")
    };
    let attacker = "203.0.113.66";
    // Five wrong guesses at the administrator from one address lock that address out of the
    // account, with the right password too…
    for _ in 0..5 {
        problem(
            from(attacker, "quan.tri", "doan-bua-mat-khau").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    let r = from(attacker, "quan.tri", PASSWORD).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("a")
        .parse()
        .expect("n");
    assert!(retry > 60, "the pair stays locked for the window: {retry}");
    problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    // …but the administrator, from their own address, waits a second at most.
    let admin = "198.51.100.7";
    let r = from(admin, "quan.tri", PASSWORD).await;
    if r.status() == StatusCode::TOO_MANY_REQUESTS {
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .expect("a")
            .parse()
            .expect("n");
        assert!(retry <= 2, "a progressive delay, not a lock: {retry}");
        tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
        assert_eq!(from(admin, "quan.tri", PASSWORD).await.status(), 200);
    } else {
        assert_eq!(r.status(), 200);
    }
    // Twenty-one failures from one address, over as many names, lock no one else behind it.
    let office = "192.0.2.10";
    for i in 0..21 {
        problem(
            from(office, &format!("khong.co.{i}"), "sai-mat-khau-roi").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    assert_eq!(from(office, "can.bo", PASSWORD).await.status(), 200);
    // A forged X-Forwarded-For from a peer that is not a trusted proxy is ignored: that peer's
    // own address is counted, so changing the header buys no new tries.
    let (direct, server) = instance(&w, |s| s.trusted_proxies = Vec::new()).await;
    for i in 0..5 {
        let r = app
            .client
            .post(format!("{direct}/api/v1/auth/sign-in"))
            .header("x-forwarded-for", format!("10.9.9.{i}"))
            .json(&json!({"username": "giam.doc", "password": "doan-bua-mat-khau"}))
            .send()
            .await
            .expect("sign in");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app
        .client
        .post(format!("{direct}/api/v1/auth/sign-in"))
        .header("x-forwarded-for", "10.9.9.99")
        .json(&json!({"username": "giam.doc", "password": PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    server.abort();
}
