//! Building the application: the routes under `/api/v1`, the OpenAPI document generated from
//! them, and the layers every request goes through — request id, trace span, what is left of
//! an unread request body (`unread`), panic catcher, body limit, the refusal of cross-site
//! requests carrying the session cookie (`same_origin`), and a last step that turns any
//! error response still without a problem body (unknown route, wrong method, a body refused by
//! the framework) into problem+json.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Response as OaResponse, ResponseBuilder, content::ContentBuilder};
use utoipa_axum::router::OpenApiRouter;

use super::MAX_JSON_BYTES;
use super::extract::SESSION_COOKIE;
use super::problem::{PROBLEM_JSON, Problem, ProblemDoc, generic_detail};
use super::routes;
use super::same_origin::refuse_cross_site;
use super::unread::finish_unread_body;
use crate::configuration::HttpSettings;
use crate::files::FileStore;
use crate::store::Store;
use crate::telemetry::{MakeRequestUuid, drop_unacceptable_request_id, request_span};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub files: FileStore,
    pub settings: Arc<HttpSettings>,
    /// The OpenAPI document, serialised once.
    pub openapi: Arc<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tiendo",
        description = "Theo dõi tiến độ nhiệm vụ CNTT sử dụng ngân sách nhà nước — Hải Phòng. \
Every error is an RFC 9457 problem (application/problem+json) with a Vietnamese `detail` and \
a machine-readable `code`. Transitions: `If-Match: \"N\"` (the task version) — 409 with \
`current_version` when the task moved on, 412 when the tag can never match, 400 when the \
header is malformed; absent or empty means unconditional. `Idempotency-Key` makes retries safe. \
Statuses: 400 malformed input, 403 not allowed, 404 no such resource (or not visible), 409 a \
conflict with the resource's current state (a transition its step does not allow: `allowed`, \
`unmet`), 422 well-formed input that cannot be processed whatever the state."
    ),
    modifiers(&SecurityAddon),
    components(schemas(ProblemDoc, super::routes::rounds::DraftSectionDoc)),
    tags(
        (name = "auth", description = "Sign-in, the caller, API tokens"),
        (name = "tasks", description = "Tasks: search, read, create, history, transitions"),
        (name = "documents", description = "Documents: upload, list, download"),
        (name = "directory", description = "Plans and units"),
        (name = "users", description = "Users (administrators)"),
        (name = "definitions", description = "Workflows and working-day calendars"),
        (name = "reports", description = "Progress and status reports (XLSX, HTML, Markdown)"),
        (name = "rounds", description = "Reporting rounds of a plan: units' entries, submissions, SKHCN's drafts and signer"),
        (name = "operations", description = "Health, readiness, metrics, outbox, this document"),
    )
)]
struct ApiDoc;

/// The two ways to prove an identity, required by every operation that does not say otherwise.
struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "Set by POST /api/v1/auth/sign-in (HttpOnly, SameSite=Strict)",
            ))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (tdo_…) from POST /api/v1/tokens"))
                    .build(),
            ),
        );
        openapi.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("session", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("token", Vec::<String>::new()),
        ]);
    }
}

fn api_router(settings: &HttpSettings) -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(routes::auth::router())
        .merge(routes::tasks::router())
        .merge(routes::procedure::router())
        .merge(routes::plan_years::router())
        .merge(routes::documents::router(settings.max_upload_bytes))
        .merge(routes::directory::router())
        .merge(routes::definitions::router())
        .merge(routes::reports::router())
        .merge(routes::rounds::router())
        .merge(routes::ops::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1)
}

fn problem_response(description: &str) -> OaResponse {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("ProblemDoc")))
                .build(),
        )
        .build()
}

/// Adds the answers every operation can give to every operation: 401 where an identity is
/// required, 400 for malformed input, 404 where the path names a resource, 415 where there is a
/// request body, 500, and 503 while the database is unavailable.
fn common_responses(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        // A path with an identifier in it names something that may not exist (or not for
        // this caller): 404.
        let names_something = path.contains('{');
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let public = op.security.as_ref().is_some_and(|s| {
                s.iter()
                    .all(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
            });
            let responses = &mut op.responses.responses;
            if !public {
                responses
                    .entry("401".into())
                    .or_insert_with(|| problem_response("No valid session or token").into());
            }
            responses
                .entry("400".into())
                .or_insert_with(|| problem_response("Malformed input (`field` names it)").into());
            if names_something {
                responses.entry("404".into()).or_insert_with(|| {
                    problem_response("No such resource, or not one the caller may see").into()
                });
            }
            // A body of another media type than the one documented is refused before it is read.
            if op.request_body.is_some() {
                responses.entry("415".into()).or_insert_with(|| {
                    problem_response("The body is not of the documented media type").into()
                });
            }
            responses
                .entry("500".into())
                .or_insert_with(|| problem_response("Server error; nothing was changed").into());
            responses.entry("503".into()).or_insert_with(|| {
                problem_response(
                    "A dependency is unavailable (`dependency`: the database, or the document \
                     folder); nothing was changed, retry after `Retry-After` seconds",
                )
                .into()
            });
        }
    }
}

/// The OpenAPI 3.1 document of the API, as generated from the handlers.
pub fn openapi_document(settings: &HttpSettings) -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api_router(settings).split_for_parts();
    common_responses(&mut doc);
    doc
}

/// The last step of every response: security headers, and a problem body for any error that
/// has none yet.
async fn finish(res: Response) -> Response {
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    // The web pages answer errors with an HTML page of their own.
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let mut res =
        if (status.is_client_error() || status.is_server_error()) && !is_problem && !is_page {
            let (code, detail) = generic_detail(status);
            let keep: Vec<_> = [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE]
                .into_iter()
                .filter_map(|h| res.headers().get(&h).cloned().map(|v| (h, v)))
                .collect();
            let mut p = Problem::new(status, code, detail).into_response();
            for (h, v) in keep {
                p.headers_mut().insert(h, v);
            }
            p
        } else {
            res
        };
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// An unknown path: a problem under `/api/`, the web's not-found page elsewhere.
async fn no_route(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        StatusCode::NOT_FOUND.into_response()
    } else {
        crate::web::page::security_headers(crate::web::page::PageError::not_found().into_response())
            .await
    }
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    Problem::internal().into_response()
}

/// The application, with its state: the HTTP settings, the store, and the document files.
pub fn router(settings: HttpSettings, store: Store, files: FileStore) -> Router {
    let (api, mut doc) = api_router(&settings).split_for_parts();
    common_responses(&mut doc);
    let mut doc = serde_json::to_value(&doc).unwrap_or_default();
    super::openapi::constrain(&mut doc, &super::openapi::Vocabulary::of(store.catalog()));
    let state = AppState {
        files,
        store,
        settings: Arc::new(settings),
        openapi: Arc::new(doc.to_string()),
    };
    let max_upload = state.settings.max_upload_bytes;
    api.merge(crate::web::router(max_upload))
        .fallback(no_route)
        .layer(axum::middleware::from_fn(refuse_cross_site))
        .layer(axum::middleware::map_response(finish))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(CatchPanicLayer::custom(on_panic))
        .layer(axum::middleware::from_fn(finish_unread_body))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::map_request(drop_unacceptable_request_id))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(state)
}

/// The server, bound to its address.
pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
}

impl Application {
    /// Binds `settings.listen` (port 0 picks a free one) and builds the application.
    pub async fn build(
        settings: HttpSettings,
        store: Store,
        files: FileStore,
    ) -> std::io::Result<Application> {
        let listener = TcpListener::bind(settings.listen).await?;
        Ok(Application {
            listener,
            router: router(settings, store.clone(), files),
            store,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight. Beside it runs
    /// the store's identity watcher, which lets it remember API token identities on PostgreSQL
    /// (`store::identities`); it stops with the server.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        // Answers are small and awaited one at a time by each client: send them at once rather
        // than let Nagle's algorithm hold the last segment back.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let store = self.store;
        let watcher = tokio::spawn(async move { store.accounts().watch_identities().await });
        let served = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        watcher.abort();
        let _ = watcher.await;
        served
    }
}
