//! `/account/password` — Đổi mật khẩu: the viewer changes their own password (the current one
//! is required, the store's password rules apply; wrong ones count as failed sign-ins). Every
//! session and API token of the user is then revoked, this one included: they sign in again
//! with the new password.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::Utc;

use super::page::{Fields, Layout, PageError, html, see_other};
use super::session::Viewer;
use crate::http::AppState;
use crate::http::extract::ClientAddress;
use crate::http::problem::Problem;
use crate::http::routes::auth::session_cookie;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    csrf: String,
    username: String,
    error: Option<String>,
}

fn form(viewer: &Viewer, status: StatusCode, error: Option<String>) -> Response {
    html(
        status,
        &AccountPage {
            layout: Layout::new("Đổi mật khẩu", Some(viewer), ""),
            csrf: viewer.csrf.clone(),
            username: viewer.identity.user.username.clone(),
            error,
        },
    )
}

pub async fn page(viewer: Viewer) -> Response {
    form(&viewer, StatusCode::OK, None)
}

pub async fn change(
    State(app): State<AppState>,
    ClientAddress(address): ClientAddress,
    viewer: Viewer,
    f: Fields,
) -> Result<Response, PageError> {
    viewer.check_form(&f)?;
    let new = f.raw("new_password");
    if new != f.raw("confirm_password") {
        return Ok(form(
            &viewer,
            StatusCode::BAD_REQUEST,
            Some("Mật khẩu mới và phần nhập lại không khớp.".into()),
        ));
    }
    match app
        .store
        .accounts()
        .change_password_as(
            &viewer.identity,
            f.raw("current_password"),
            new,
            &address,
            &app.settings.auth,
            Utc::now(),
        )
        .await
    {
        Ok(_) => {
            let mut res = see_other("/sign-in?doi-mat-khau=1");
            res.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&app, "", 0));
            Ok(res)
        }
        Err(e) => {
            let p = Problem::from(e);
            if p.status.is_server_error() {
                return Err(p.into());
            }
            Ok(form(&viewer, p.status, Some(p.detail)))
        }
    }
}
