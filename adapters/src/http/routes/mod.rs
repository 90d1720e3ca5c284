//! The endpoints under `/api/v1`, one module per area. Each module's `router()` registers its
//! handlers together with their OpenAPI descriptions (`utoipa_axum::routes!`), so the document
//! served at `/api/v1/openapi.json` is generated from the same code that answers.

pub mod auth;
pub mod definitions;
pub mod directory;
pub mod documents;
pub mod ops;
pub mod plan_years;
pub mod procedure;
pub mod reports;
pub mod rounds;
pub mod tasks;

/// `201 Created` with `body` as JSON and the new resource's `location` (left out in the
/// unlikely case it is not a valid header value).
pub(super) fn created<T: serde::Serialize>(location: &str, body: T) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut res = (axum::http::StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(location) {
        res.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    res
}
