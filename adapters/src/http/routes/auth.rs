//! Sign-in, sign-out, the caller's own account, and API tokens.
//!
//! Sign-in is the only endpoint besides health that answers without an identity. The session
//! cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it,
//! which is what protects the API's unsafe methods from cross-site requests), `Secure` when the
//! server is configured so, and lives at most as long as the session's absolute limit.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};
use engine::access::{DEFAULT_TOKEN_DAYS, Scope};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{Auth, ClientAddress, JsonBody, SESSION_COOKIE, cookie, ident, text};
use super::super::problem::{Problem, ProblemDoc};
use super::super::startup::AppState;
use super::super::views::{
    ChangePasswordBody, IssuedTokenView, MeView, NewTokenBody, PasswordChangedView, SignInBody,
    SignedInView, TokenView,
};
use crate::store::Credential;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

pub(crate) fn session_cookie(app: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.settings.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

/// Sign in with a user name and password; the answer sets the session cookie.
#[utoipa::path(
    post, path = "/auth/sign-in", tag = "auth",
    request_body = SignInBody,
    security(()),
    responses(
        (status = 200, description = "Signed in; `Set-Cookie` carries the session", body = SignedInView,
            headers(("Set-Cookie" = String))),
        (status = 400, description = "Malformed body", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Wrong user name or password", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins for this user or address (`Retry-After`)", body = ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = u64))),
    )
)]
async fn sign_in(
    State(app): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(body): JsonBody<SignInBody>,
) -> Result<Response, Problem> {
    let signed = app
        .store
        .accounts()
        .sign_in(
            &body.username,
            &body.password,
            &address,
            &app.settings.auth,
            Utc::now(),
        )
        .await?;
    tracing::info!(user = %signed.identity.user.username, %address, "signed in");
    let max_age = (signed.absolute_until - Utc::now())
        .max(TimeDelta::zero())
        .num_seconds();
    let view = SignedInView {
        me: MeView::from(&signed.identity),
        expires_at: signed.expires_at,
        absolute_until: signed.absolute_until,
    };
    let mut res = Json(view).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&app, &signed.secret, max_age),
    );
    Ok(res)
}

/// Sign out: revokes the credential used (the session, or the API token) and clears the
/// cookie.
#[utoipa::path(
    post, path = "/auth/sign-out", tag = "auth",
    responses((status = 204, description = "Signed out; a token used to sign out is revoked", headers(("Set-Cookie" = String))))
)]
async fn sign_out(
    State(app): State<AppState>,
    Auth(id): Auth,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let now = Utc::now();
    if let Credential::Token { id: token } = &id.credential {
        app.store.accounts().sign_out_token(token, now).await?;
    } else if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        app.store.accounts().sign_out(secret, now).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(res)
}

/// The caller: user, roles in effect, units acted for, credential.
#[utoipa::path(
    get, path = "/me", tag = "auth",
    responses((status = 200, description = "The caller", body = MeView))
)]
async fn me(Auth(id): Auth) -> Json<MeView> {
    Json(MeView::from(&id))
}

/// Change one's own password (the current one is required; wrong ones count as failed
/// sign-ins of the user). Every session and every API token of the user is revoked: sign in
/// again, issue new tokens.
#[utoipa::path(
    post, path = "/me/password", tag = "auth",
    request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "Changed; every session and token of the user revoked", body = PasswordChangedView),
        (status = 400, description = "Wrong current password, or a new one breaking the rules", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "A metrics token cannot change passwords", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for this user (`Retry-After`)", body = ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = u64))),
    )
)]
async fn change_password(
    State(app): State<AppState>,
    Auth(id): Auth,
    ClientAddress(address): ClientAddress,
    JsonBody(body): JsonBody<ChangePasswordBody>,
) -> Result<Response, Problem> {
    let changed = app
        .store
        .accounts()
        .change_password_as(
            &id,
            &body.current_password,
            &body.new_password,
            &address,
            &app.settings.auth,
            Utc::now(),
        )
        .await?;
    let mut res = Json(PasswordChangedView::from(changed)).into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(res)
}

/// The caller's API tokens (an administrator sees everyone's). Secrets are never shown again.
#[utoipa::path(
    get, path = "/tokens", tag = "auth",
    responses((status = 200, description = "Tokens", body = Vec<TokenView>))
)]
async fn list_tokens(
    State(app): State<AppState>,
    Auth(id): Auth,
) -> Result<Json<Vec<TokenView>>, Problem> {
    let tokens = app.store.accounts().tokens_as(&id).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// Issue an API token for the caller's own user. The secret is in this answer only. Needs a
/// session signed in with the password within the last 10 minutes (not a token); expires after
/// `expires_in_days` (default 90); `no_expiry` for administrators only.
#[utoipa::path(
    post, path = "/tokens", tag = "auth",
    request_body = NewTokenBody,
    responses(
        (status = 201, description = "Issued", body = IssuedTokenView),
        (status = 400, description = "Malformed body", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not a session signed in within the last 10 minutes; metrics tokens and tokens without expiry are issued by administrators only", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn create_token(
    State(app): State<AppState>,
    Auth(id): Auth,
    JsonBody(body): JsonBody<NewTokenBody>,
) -> Result<Response, Problem> {
    let name = text("name", &body.name, 100, false)?;
    let scope = match body.scope.as_deref() {
        None => Scope::Full,
        Some(s) => Scope::parse(s).map_err(|e| Problem::bad_request("scope", e))?,
    };
    let now = Utc::now();
    let expires_at = match (body.expires_in_days, body.no_expiry.unwrap_or(false)) {
        (Some(_), true) => {
            return Err(Problem::bad_request(
                "no_expiry",
                "Chọn một trong hai: `expires_in_days` (số ngày hiệu lực) hoặc `no_expiry`.",
            ));
        }
        (None, true) => None,
        (None, false) => Some(now + TimeDelta::days(i64::from(DEFAULT_TOKEN_DAYS))),
        (Some(d), false) if (1..=3650).contains(&d) => Some(now + TimeDelta::days(i64::from(d))),
        (Some(_), false) => {
            return Err(Problem::bad_request(
                "expires_in_days",
                "Số ngày hiệu lực phải từ 1 đến 3650.",
            ));
        }
    };
    let issued = app
        .store
        .accounts()
        .create_token_as(&id, &name, scope, expires_at, now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedTokenView {
            token: TokenView::from(issued.token),
            secret: issued.secret,
        }),
    )
        .into_response())
}

/// Revoke a token (its owner or an administrator).
#[utoipa::path(
    delete, path = "/tokens/{id}", tag = "auth",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such token among the caller's", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
async fn revoke_token(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(token_id): Path<String>,
) -> Result<StatusCode, Problem> {
    let token_id = ident("id", &token_id)?;
    app.store
        .accounts()
        .revoke_token_as(&id, &token_id, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
