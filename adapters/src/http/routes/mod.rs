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
