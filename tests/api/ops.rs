//! Health and readiness without an identity, nothing else without one (checked against the
//! OpenAPI document, which must describe exactly what answers), problem bodies for unknown
//! routes and methods, and the Prometheus metrics.

use chrono::{TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::helpers::{Who, detail, json, problem, world};

crate::on_both_backends!(
    the_openapi_document_describes_what_answers_and_only_sign_in_and_health_are_public,
    the_openapi_document_carries_the_enums_and_ranges_the_server_enforces,
    unknown_routes_and_methods_are_problems_too,
    metrics_count_transitions_timers_and_the_outbox,
);

fn filled(path: &str) -> String {
    // Any value: the route must answer (the resource may well not exist).
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("khong-ton-tai");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// Every `$ref` string in `v`.
fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

async fn the_openapi_document_describes_what_answers_and_only_sign_in_and_health_are_public(
    db: TestDb,
) {
    let w = world(db).await;
    let app = &w.app;
    problem(
        app.get("/api/v1/openapi.json", None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let doc = json(app.get("/api/v1/openapi.json", w.token(Who::Officer)).await).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["session"].is_object());
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
    assert!(doc["components"]["schemas"]["ProblemDoc"].is_object());
    // Every reference resolves: a client generator (or Schemathesis) refuses the whole document
    // over one dangling `$ref` (the drafts' section enum was once left out of the components).
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    let dangling: Vec<&String> = refs
        .iter()
        .filter(|r| {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
            !doc["components"]["schemas"][name].is_object()
        })
        .collect();
    assert!(dangling.is_empty(), "unresolvable references: {dangling:?}");
    let paths = doc["paths"].as_object().expect("paths");
    let mut public = Vec::new();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("item") {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            operations += 1;
            let is_public = op["security"] == json!([{}]);
            if is_public {
                public.push(format!("{method} {path}"));
            } else {
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
            }
            // Every error answer is documented as a problem.
            for (status, resp) in op["responses"].as_object().expect("responses") {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        resp["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status}"
                    );
                }
            }
            // Without an identity, only the public operations answer.
            let url = filled(path);
            let send = async |m: Method, token| {
                app.req(m, &url, token)
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await
                    .expect("request")
            };
            let r = send(m.clone(), None).await;
            let status = r.status();
            let body: Value = r.json().await.expect("problem or JSON");
            if !is_public {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
            }
            // With one, the documented route exists (whatever the resource).
            let r = send(m, w.token(Who::Admin)).await;
            let status = r.status();
            let body = r.text().await.expect("body");
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !body.contains("Không có tài nguyên nào ở địa chỉ này"),
                "{method} {path} is documented but not routed"
            );
            assert!(
                !status.is_server_error(),
                "{method} {path}: {status} {body}"
            );
        }
    }
    public.sort();
    assert_eq!(
        public,
        vec![
            "get /api/v1/health",
            "get /api/v1/ready",
            "post /api/v1/auth/sign-in"
        ]
    );
    assert!(operations >= 40, "{operations} operations documented");
}

/// The enums of the document are the names the loaded workflows define (what the server accepts),
/// and a documented range is the one enforced: its edge is served, one past it is a 400.
async fn the_openapi_document_carries_the_enums_and_ranges_the_server_enforces(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let doc = json(app.get("/api/v1/openapi.json", w.token(Who::Officer)).await).await;
    let schemas = &doc["components"]["schemas"];
    let list = |v: &Value| -> Vec<String> {
        let mut names: Vec<String> = v
            .as_array()
            .unwrap_or_else(|| panic!("an enum: {v}"))
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    };
    // What the loaded workflows define, read through the API.
    let (mut workflows, mut transitions, mut types, mut states) = (vec![], vec![], vec![], vec![]);
    for s in json(app.get("/api/v1/workflows", w.token(Who::Officer)).await)
        .await
        .as_array()
        .expect("workflows")
    {
        let name = s["name"].as_str().expect("name").to_string();
        let url = format!("/api/v1/workflows/{name}?version={}", s["version"]);
        let d = json(app.get(&url, w.token(Who::Officer)).await).await;
        transitions.extend(list(&json!(
            d["transitions"]
                .as_array()
                .expect("transitions")
                .iter()
                .map(|t| t["name"].clone())
                .collect::<Vec<_>>()
        )));
        states.extend(list(&json!(
            d["states"]
                .as_array()
                .expect("states")
                .iter()
                .map(|t| t["name"].clone())
                .collect::<Vec<_>>()
        )));
        types.extend(
            d["document_types"]
                .as_object()
                .expect("types")
                .keys()
                .cloned(),
        );
        workflows.push(name);
    }
    for v in [&mut workflows, &mut transitions, &mut types, &mut states] {
        v.sort();
        v.dedup();
    }
    assert!(!transitions.is_empty());
    assert_eq!(
        list(&schemas["TransitionBody"]["properties"]["transition"]["enum"]),
        transitions
    );
    assert_eq!(
        list(&schemas["NewTaskBody"]["properties"]["kind"]["enum"]),
        workflows
    );
    assert_eq!(
        list(&schemas["NewTaskBody"]["properties"]["funding_source"]["enum"]),
        engine::domain::FundingSource::ALL
            .map(|f| f.as_str().to_string())
            .to_vec()
            .tap_sort()
    );
    assert_eq!(
        list(&schemas["NewUserBody"]["properties"]["roles"]["items"]["enum"]),
        engine::Role::ALL
            .map(|r| r.as_str().to_string())
            .to_vec()
            .tap_sort()
    );
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let upload = op("/api/v1/tasks/{id}/documents", "post");
    let form = &upload["requestBody"]["content"]["multipart/form-data"]["schema"];
    assert_eq!(list(&form["properties"]["type"]["enum"]), types);
    assert_eq!(form["additionalProperties"], false);
    let param = |path: &str, method: &str, name: &str| -> Value {
        op(path, method)["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has {name}"))["schema"]
            .clone()
    };
    assert_eq!(
        list(&param("/api/v1/tasks", "get", "state")["enum"]),
        states
    );
    // Headers are strings with the syntax the server reads.
    let if_match = param("/api/v1/tasks/{id}/transitions", "post", "If-Match");
    assert_eq!(if_match["type"], "string");
    assert!(if_match["pattern"].is_string());
    // Ranges: the documented edge is served, one past it refused.
    for (path, name, url) in [
        ("/api/v1/tasks", "limit", "/api/v1/tasks?limit="),
        ("/api/v1/tasks", "year", "/api/v1/tasks?year="),
    ] {
        let s = param(path, "get", name);
        let (min, max) = (
            s["minimum"].as_i64().expect("minimum"),
            s["maximum"].as_i64().expect("maximum"),
        );
        for ok in [min, max] {
            let r = app.get(&format!("{url}{ok}"), w.token(Who::Officer)).await;
            assert_eq!(r.status(), StatusCode::OK, "{name}={ok}");
        }
        for bad in [min - 1, max + 1] {
            problem(
                app.get(&format!("{url}{bad}"), w.token(Who::Officer)).await,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    }
    // A text field: its documented length and pattern are the server's.
    let name = &schemas["NewTokenBody"]["properties"]["name"];
    assert_eq!(name["maxLength"], 100);
    assert_eq!(name["minLength"], 1);
    assert!(
        name["pattern"]
            .as_str()
            .expect("pattern")
            .contains("\\u202a")
    );
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<String> {
    fn tap_sort(mut self) -> Self {
        self.sort();
        self
    }
}

async fn unknown_routes_and_methods_are_problems_too(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let p = problem(
        app.get("/api/v1/khong-co", w.token(Who::Officer)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(detail(&p).contains("openapi.json"));
    // Outside /api/ the paths are the web pages': `/` sends a visitor to sign in, and an
    // unknown page is the pages' own 404 (HTML, not a problem).
    let r = app.get("/", None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/sign-in");
    let r = app.get("/khong-co-trang-nay", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html"))
    );
    let r = app
        .req(Method::PUT, "/api/v1/tasks", w.token(Who::Officer))
        .send()
        .await
        .expect("request");
    assert!(r.headers().get("allow").is_some());
    problem(r, StatusCode::METHOD_NOT_ALLOWED).await;
    // Every answer carries a request id and is not cached.
    let r = app.get("/api/v1/health", None).await;
    assert!(r.headers().get("x-request-id").is_some());
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let r = app
        .req(Method::GET, "/api/v1/health", None)
        .header("x-request-id", "yeu-cau-123")
        .send()
        .await
        .expect("request");
    assert_eq!(r.headers()["x-request-id"], "yeu-cau-123");
    let ready = json(app.get("/api/v1/ready", None).await).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["applied_migrations"], ready["known_migrations"]);
}

fn sample(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{line_start}` in\n{text}"))
}

async fn metrics_count_transitions_timers_and_the_outbox(db: TestDb) {
    let w = world(db).await;
    let app = &w.app;
    let admin = w.token(Who::Admin);
    let read = async || {
        let r = app.get("/api/v1/metrics", admin).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("text/plain; version=0.0.4")
        );
        r.text().await.expect("text")
    };
    let before = read().await;
    assert!(before.contains("# TYPE tiendo_transitions_total counter"));
    assert_eq!(sample(&before, "tiendo_outbox_backlog "), 0.0);
    assert_eq!(sample(&before, "tiendo_timers_fired_total "), 0.0);
    w.task_at_skhcn("Nhiệm vụ để đếm").await;
    let after = read().await;
    assert_eq!(
        sample(
            &after,
            "tiendo_transitions_total{kind=\"transition\",workflow=\"mua-sam\"}"
        ),
        3.0
    );
    assert_eq!(
        sample(
            &after,
            "tiendo_transitions_total{kind=\"create\",workflow=\"mua-sam\"}"
        ),
        1.0
    );
    assert!(sample(&after, "tiendo_outbox_backlog ") >= 4.0, "{after}");
    assert!(sample(&after, "tiendo_timers{status=\"pending\"}") >= 1.0);
    assert_eq!(sample(&after, "tiendo_tasks{phase=\"appraisal\"}"), 1.0);
    assert_eq!(sample(&after, "tiendo_timer_lag_seconds "), 0.0);
    // A month later the SKHCN deadline has passed: the timers are late until the scheduler
    // fires them.
    let later = Utc::now() + TimeDelta::days(40);
    let report = w
        .store()
        .scheduling()
        .fire_due_timers("test", later, 100, TimeDelta::minutes(5))
        .await
        .expect("fire");
    assert!(report.fired > 0);
    let fired = read().await;
    assert_eq!(
        sample(&fired, "tiendo_timers_fired_total "),
        report.fired as f64
    );
    assert!(sample(&fired, "tiendo_outbox_backlog ") > sample(&after, "tiendo_outbox_backlog "));
    assert!(sample(&fired, "tiendo_outbox_lag_seconds ") >= 0.0);
}
