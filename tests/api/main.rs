//! The HTTP API, end to end: the real application on a random loopback port, on a fresh
//! database per test — every test on SQLite and on PostgreSQL — over real HTTP.
//!
//! - `matrix`: every endpoint tried by every role; forbidden combinations refused, allowed ones
//!   working; who sees which tasks.
//! - `lifecycle`: a `mua-sam` task from proposal to completion, by the right people.
//! - `tasks`: concurrent If-Match conflicts, the If-Match and Idempotency-Key rules, uploads,
//!   search.
//! - `auth`: sessions, the sign-in limits (per address and user, progressive delay, trusted
//!   proxies), tokens (fresh sign-in, expiry, revoked by a password change), the password
//!   oracle, cross-site requests, disabling users, the user commands.
//! - `fuzz`: malformed input at every endpoint gets a 4xx problem and changes nothing.
//! - `connections`: what a refusal does to a keep-alive connection.
//! - `wording`: one deadline reads the same through the API, the command line and email.
//! - `ops`: health, readiness, metrics, problem bodies for unknown routes, the OpenAPI document.
//! - `telemetry`: the request id in the response header and in every log line of the request.
//! - `procedure`: issue 15: who approves (`wrong_unit`, `own_fund`), units' proposals and UBND's
//!   decisions.
//! - `rounds`: issue 16: reporting rounds (open, entries, submit, reopen, drafts, signature).
//! - `security`: issue 13's attacks on documents (issuers, tamper evidence, streamed uploads, quota).

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod auth;
mod connections;
mod fuzz;
mod lifecycle;
mod matrix;
mod ops;
mod procedure;
mod rounds;
mod security;
mod tasks;
mod telemetry;
mod wording;
