//! The API under test: the real application, bound to a random loopback port, on a fresh
//! database (SQLite file or PostgreSQL database, see `tests/common`) and a fresh data
//! directory per test, driven over real HTTP with reqwest.
//!
//! A `World` adds the people of domain.md — an officer and the head of Sở Y tế, an officer of
//! another unit, an SKHCN reviewer, a Sở Tài chính appraiser, a UBND leader, an administrator —
//! each with an API token, and a plan to put tasks in.

#![allow(dead_code)]

use adapters::files::FileStore;
use adapters::http::{Application, HttpSettings};
use adapters::store::{NewDocument, NewTask, Store, TransitionRequest};
use chrono::Utc;
use engine::Role;
use engine::access::Scope;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::common::{Person, TestDb, seed_directory};

pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    pub store: Store,
    pub data_dir: tempfile::TempDir,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            h.abort();
        }
    }
}

pub async fn spawn_app(db: TestDb) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// Starts the application with the default settings changed by `tweak`.
pub async fn spawn_app_with(db: TestDb, tweak: impl FnOnce(&mut HttpSettings)) -> TestApp {
    spawn_app_on(db, &[], tweak).await
}

/// Starts the application with the shipped workflows plus test workflows from
/// `tests/fixtures/`, with the default settings changed by `tweak`.
pub async fn spawn_app_on(
    db: TestDb,
    fixtures: &[&str],
    tweak: impl FnOnce(&mut HttpSettings),
) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = HttpSettings::new("127.0.0.1:0".parse().expect("loopback"));
    tweak(&mut settings);
    let store = db.store_with(fixtures).await;
    let app = Application::build(settings, store.clone(), FileStore::new(data_dir.path()))
        .await
        .expect("bind a loopback port");
    let addr = app.local_addr().expect("local address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        db,
        store,
        data_dir,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        stop: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request, authenticated with `token` when given.
    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.client.request(method, self.url(path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.req(Method::GET, path, token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.req(Method::POST, path, token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// An API token for `username`, issued through the store's system door (no password
    /// hashing needed).
    pub async fn token(&self, username: &str, scope: Scope) -> String {
        self.store
            .accounts()
            .issue_token(username, "test", scope, None, Utc::now())
            .await
            .expect("token")
            .secret
    }
}

/// Reads a JSON body, panicking with the status and text when it is not JSON.
pub async fn json(r: Response) -> Value {
    let status = r.status();
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
}

/// A response's content type, or "" without one.
pub fn content_type(r: &Response) -> String {
    r.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Checks that a response is an RFC 9457 problem with `status`, and returns its body.
/// A problem's `detail`: what the user is told.
pub fn detail(p: &Value) -> &str {
    p["detail"].as_str().expect("a problem's detail")
}

pub async fn problem(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let ct = content_type(&r);
    let body = r.text().await.expect("body");
    assert_eq!(got, status, "{body}");
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}: {body}"
    );
    let v: Value = serde_json::from_str(&body).expect("problem JSON");
    assert_eq!(v["status"], status.as_u16(), "{v}");
    assert!(
        v["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:tiendo:problem:")),
        "{v}"
    );
    assert!(v["title"].is_string() && v["code"].is_string(), "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    v
}

/// Who is asking, in the authorization matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// `don_vi` of Sở Y tế, the unit that owns the tasks.
    Officer,
    /// `don_vi` of Sở Nội vụ.
    OtherOfficer,
    /// `thu_truong_don_vi` of Sở Y tế.
    Head,
    Skhcn,
    Stc,
    /// `lanh_dao_so` of Sở Tài chính.
    LanhDaoSo,
    Ubnd,
    Admin,
    Anonymous,
}

impl Who {
    pub const ALL: [Who; 9] = [
        Who::Officer,
        Who::OtherOfficer,
        Who::Head,
        Who::Skhcn,
        Who::Stc,
        Who::LanhDaoSo,
        Who::Ubnd,
        Who::Admin,
        Who::Anonymous,
    ];

    pub fn username(self) -> Option<&'static str> {
        match self {
            Who::Officer => Some("can.bo"),
            Who::OtherOfficer => Some("can.bo.noi.vu"),
            Who::Head => Some("giam.doc"),
            Who::Skhcn => Some("chuyen.vien.khcn"),
            Who::Stc => Some("tham.dinh.stc"),
            Who::LanhDaoSo => Some("giam.doc.stc"),
            Who::Ubnd => Some("pho.chu.tich"),
            Who::Admin => Some("quan.tri"),
            Who::Anonymous => None,
        }
    }
}

pub const PLAN: &str = "215/KH-UBND";

pub struct World {
    pub app: TestApp,
    tokens: Vec<(Who, String)>,
}

impl World {
    pub fn token(&self, who: Who) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, t)| t.as_str())
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    pub async fn actor(&self, who: Who) -> engine::decide::Actor {
        self.app
            .store
            .directory()
            .actor(who.username().expect("a user"))
            .await
            .expect("actor")
    }

    /// A Sở Y tế mua-sam task created by the officer, through the store.
    pub async fn task(&self, name: &str) -> String {
        let officer = self.actor(Who::Officer).await;
        self.store()
            .tasks()
            .create_as(
                &officer,
                &NewTask {
                    period: Some("2025".into()),
                    ..crate::common::new_task(PLAN, "so-y-te", name, "mua-sam")
                },
                None,
                Utc::now(),
            )
            .await
            .expect("create task")
            .task_id
    }

    /// Records a document of `doc_type` on `task` as `who` (the file itself is not needed by
    /// the transitions).
    pub async fn document(&self, task: &str, doc_type: &str, who: Who) -> String {
        let file = adapters::files::FileStore::new(self.app.data_dir.path())
            .put(format!("%PDF-1.4 {doc_type} {task}").as_bytes())
            .expect("store file");
        self.store()
            .tasks()
            .add_document_as(
                &self.actor(who).await,
                &NewDocument {
                    task_id: task.into(),
                    doc_type: doc_type.into(),
                    number: Some("12/SYT-KHTC".into()),
                    issued_on: None,
                    issuer: None,
                    file_name: format!("{doc_type}.pdf"),
                    size_bytes: file.size,
                    sha256: file.sha256,
                    stored_path: file.path.display().to_string(),
                },
                Utc::now(),
            )
            .await
            .expect("add document")
            .id
    }

    pub async fn step(&self, task: &str, transition: &str, who: Who, docs: Vec<String>) {
        self.step_at(task, transition, who, docs, Utc::now()).await
    }

    /// [`World::step`] at a chosen moment (a clock that started days ago).
    pub async fn step_at(
        &self,
        task: &str,
        transition: &str,
        who: Who,
        docs: Vec<String>,
        at: engine::time::Instant,
    ) {
        self.store()
            .tasks()
            .transition_as(
                &self.actor(who).await,
                &TransitionRequest::new(task, transition)
                    .commented(Some("Ý kiến kèm theo"))
                    .citing(docs),
                at,
            )
            .await
            .unwrap_or_else(|e| panic!("{transition}: {e}"));
    }

    /// A task waiting for SKHCN's opinion (phase appraisal), with its dossier.
    pub async fn task_at_skhcn(&self, name: &str) -> String {
        let id = self.task(name).await;
        self.step(&id, "bat_dau_lap_thuyet_minh", Who::Officer, vec![])
            .await;
        let tm = self
            .document(&id, "thuyet_minh_du_toan", Who::Officer)
            .await;
        self.step(&id, "trinh_thu_truong", Who::Officer, vec![tm.clone()])
            .await;
        self.step(&id, "gui_skhcn", Who::Head, vec![tm]).await;
        id
    }
}

/// The application with the world's units, users, tokens and plan.
pub async fn world(db: TestDb) -> World {
    world_with(db, |_| {}).await
}

pub async fn world_with(db: TestDb, tweak: impl FnOnce(&mut HttpSettings)) -> World {
    world_on(db, &[], tweak).await
}

/// The world on the shipped workflows plus test workflows from `tests/fixtures/`.
pub async fn world_on(
    db: TestDb,
    fixtures: &[&str],
    tweak: impl FnOnce(&mut HttpSettings),
) -> World {
    let app = spawn_app_on(db, fixtures, tweak).await;
    let s = &app.store;
    let now = Utc::now();
    let people = [
        (Who::Officer, Role::DonVi, Some("so-y-te")),
        (Who::OtherOfficer, Role::DonVi, Some("so-noi-vu")),
        (Who::Head, Role::ThuTruongDonVi, Some("so-y-te")),
        (Who::Skhcn, Role::Skhcn, Some("so-khoa-hoc-va-cong-nghe")),
        (Who::Stc, Role::SoTaiChinh, Some("so-tai-chinh")),
        (Who::LanhDaoSo, Role::LanhDaoSo, Some("so-tai-chinh")),
        (Who::Ubnd, Role::Ubnd, None),
        (Who::Admin, Role::Admin, None),
    ];
    let directory: Vec<Person> = people
        .iter()
        .map(|&(who, role, unit)| (who.username().expect("a user"), "", role, unit))
        .collect();
    seed_directory(
        s,
        &[
            ("so-y-te", "Sở Y tế"),
            ("so-noi-vu", "Sở Nội vụ"),
            ("so-khoa-hoc-va-cong-nghe", "Sở Khoa học và Công nghệ"),
            ("so-tai-chinh", "Sở Tài chính"),
        ],
        &directory,
        (PLAN, 2025, "Kế hoạch ứng dụng công nghệ thông tin năm 2025"),
        now,
    )
    .await;
    let mut tokens = Vec::new();
    for (who, ..) in people {
        let name = who.username().expect("a user");
        tokens.push((who, app.token(name, Scope::Full).await));
    }
    World { app, tokens }
}

/// Everything that must not change when a request is refused: row counts of the business
/// tables and every task's version.
pub async fn snapshot(store: &Store) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for table in Store::COUNTED_TABLES {
        out.push((table.to_string(), store.count(table).await.expect("count")));
    }
    let tasks = store
        .tasks()
        .unscoped()
        .list(&adapters::store::TaskFilter::default())
        .await
        .expect("tasks");
    for t in tasks {
        out.push((format!("task {} v", t.id), t.version));
    }
    out
}

/// A signed-in page session for `who`: the session cookie and the CSRF token its pages carry.
pub async fn page_session(w: &World, who: Who) -> (String, String) {
    let cookie = page_cookie(w, who).await;
    let (status, page) = page_get(w, &cookie, "/account/password").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's CSRF token")
        .to_string();
    (cookie, csrf)
}

/// `who` signed in with a password set for the test: their session cookie.
pub async fn page_cookie(w: &World, who: Who) -> String {
    let username = who.username().expect("a user");
    let password = "Mat-khau-trang-dot-bao-cao";
    w.store()
        .accounts()
        .set_password(username, password, chrono::Utc::now())
        .await
        .expect("password");
    let r = w
        .app
        .client
        .post(w.app.url("/api/v1/auth/sign-in"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), StatusCode::OK);
    r.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string()
}

pub async fn page_get(w: &World, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = w
        .app
        .client
        .get(w.app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("page");
    (r.status(), r.text().await.expect("html"))
}
