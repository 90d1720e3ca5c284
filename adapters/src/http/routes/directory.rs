//! Plans, units and users. Reading plans and units is open to every signed-in user (forms need
//! them); adding and changing them, and everything about users, goes through the store's
//! `…_as` doors, which ask `engine::access`.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use engine::Role;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::extract::{Auth, JsonBody, date, ident, opt_date, opt_email, opt_text, text};
use super::super::problem::{Problem, ProblemDoc};
use super::super::startup::AppState;
use super::super::views::{
    MergeUnitBody, NewPlanBody, NewUnitBody, NewUserBody, PasswordChangedView, PlanView,
    RenameUnitBody, SetPasswordBody, UnitView, UserView,
};
use super::created;
use crate::store::NewUser;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, add_plan))
        .routes(routes!(get_plan))
        .routes(routes!(list_units, add_unit))
        .routes(routes!(get_unit))
        .routes(routes!(rename_unit))
        .routes(routes!(merge_unit))
        .routes(routes!(list_users, add_user))
        .routes(routes!(get_user))
        .routes(routes!(set_password))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
}

/// Every plan, newest year first.
#[utoipa::path(get, path = "/plans", tag = "directory",
    responses((status = 200, description = "Plans", body = Vec<PlanView>)))]
async fn list_plans(
    State(app): State<AppState>,
    Auth(_id): Auth,
) -> Result<Json<Vec<PlanView>>, Problem> {
    Ok(Json(
        app.store
            .directory()
            .plans()
            .await?
            .into_iter()
            .map(PlanView::from)
            .collect(),
    ))
}

/// A plan by number (`215%2FKH-UBND`) or id.
#[utoipa::path(get, path = "/plans/{plan}", tag = "directory",
    params(("plan" = String, Path, description = "Number (slash percent-encoded) or id")),
    responses(
        (status = 200, description = "The plan", body = PlanView),
        (status = 404, description = "No such plan", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_plan(
    State(app): State<AppState>,
    Auth(_id): Auth,
    Path(plan): Path<String>,
) -> Result<Json<PlanView>, Problem> {
    let plan = ident("plan", &plan)?;
    Ok(Json(app.store.directory().plan(&plan).await?.into()))
}

/// Add a plan (administrators, SKHCN, UBND).
#[utoipa::path(post, path = "/plans", tag = "directory",
    request_body = NewPlanBody,
    responses(
        (status = 201, description = "Added", body = PlanView),
        (status = 400, description = "Malformed input", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed to add plans", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "A plan with this number exists", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn add_plan(
    State(app): State<AppState>,
    Auth(id): Auth,
    JsonBody(body): JsonBody<NewPlanBody>,
) -> Result<Response, Problem> {
    let number = text("number", &body.number, 100, false)?;
    let title = text("title", &body.title, 1000, false)?;
    let issued_on = opt_date("issued_on", body.issued_on.as_deref())?;
    let p = app
        .store
        .directory()
        .add_plan_as(&id.actor, &number, body.year, &title, issued_on, Utc::now())
        .await?;
    Ok(created(
        &format!("/api/v1/plans/{}", p.id),
        PlanView::from(p),
    ))
}

/// Every unit, with mergers.
#[utoipa::path(get, path = "/units", tag = "directory",
    responses((status = 200, description = "Units", body = Vec<UnitView>)))]
async fn list_units(
    State(app): State<AppState>,
    Auth(_id): Auth,
) -> Result<Json<Vec<UnitView>>, Problem> {
    Ok(Json(
        app.store
            .directory()
            .units()
            .await?
            .into_iter()
            .map(UnitView::from)
            .collect(),
    ))
}

#[utoipa::path(get, path = "/units/{id}", tag = "directory",
    params(("id" = String, Path, description = "Unit id")),
    responses(
        (status = 200, description = "The unit", body = UnitView),
        (status = 404, description = "No such unit", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_unit(
    State(app): State<AppState>,
    Auth(_id): Auth,
    Path(unit): Path<String>,
) -> Result<Json<UnitView>, Problem> {
    let unit = ident("id", &unit)?;
    Ok(Json(app.store.directory().unit(&unit).await?.into()))
}

/// Add a unit (administrators).
#[utoipa::path(post, path = "/units", tag = "directory",
    request_body = NewUnitBody,
    responses(
        (status = 201, description = "Added", body = UnitView),
        (status = 400, description = "Malformed input", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "A unit with this id exists", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such parent unit", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn add_unit(
    State(app): State<AppState>,
    Auth(id): Auth,
    JsonBody(body): JsonBody<NewUnitBody>,
) -> Result<Response, Problem> {
    let unit_id = ident("id", &body.id)?;
    let name = text("name", &body.name, 300, false)?;
    let parent = body
        .parent
        .as_deref()
        .map(|p| ident("parent", p))
        .transpose()?;
    let u = app
        .store
        .directory()
        .add_unit_as(&id.actor, &unit_id, &name, parent.as_deref(), Utc::now())
        .await?;
    Ok(created(
        &format!("/api/v1/units/{}", u.id),
        UnitView::from(u),
    ))
}

/// Rename a unit from a date; earlier documents keep the earlier name (administrators).
#[utoipa::path(post, path = "/units/{id}/rename", tag = "directory",
    params(("id" = String, Path, description = "Unit id")),
    request_body = RenameUnitBody,
    responses(
        (status = 200, description = "Renamed", body = UnitView),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such unit", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn rename_unit(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(unit): Path<String>,
    JsonBody(body): JsonBody<RenameUnitBody>,
) -> Result<Json<UnitView>, Problem> {
    let unit = ident("id", &unit)?;
    let name = text("name", &body.name, 300, false)?;
    let from = date("valid_from", &body.valid_from)?;
    Ok(Json(
        app.store
            .directory()
            .rename_unit_as(&id.actor, &unit, &name, from)
            .await?
            .into(),
    ))
}

/// Merge a unit into another: its tasks keep their history; the other unit's users take them
/// over (administrators).
#[utoipa::path(post, path = "/units/{id}/merge", tag = "directory",
    params(("id" = String, Path, description = "The unit merged away")),
    request_body = MergeUnitBody,
    responses(
        (status = 200, description = "Merged", body = UnitView),
        (status = 400, description = "A malformed unit id or date", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such unit", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Merging a unit into a unit already merged into it", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Merging a unit into itself", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn merge_unit(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(unit): Path<String>,
    JsonBody(body): JsonBody<MergeUnitBody>,
) -> Result<Json<UnitView>, Problem> {
    let unit = ident("id", &unit)?;
    let into = ident("into", &body.into)?;
    let on = date("on", &body.on)?;
    Ok(Json(
        app.store
            .directory()
            .merge_unit_as(&id.actor, &unit, &into, on)
            .await?
            .into(),
    ))
}

/// Every user (administrators).
#[utoipa::path(get, path = "/users", tag = "users",
    responses(
        (status = 200, description = "Users", body = Vec<UserView>),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn list_users(
    State(app): State<AppState>,
    Auth(id): Auth,
) -> Result<Json<Vec<UserView>>, Problem> {
    Ok(Json(
        app.store
            .accounts()
            .accounts_as(&id.actor)
            .await?
            .into_iter()
            .map(UserView::from)
            .collect(),
    ))
}

/// Add a user, optionally with a first password (administrators).
#[utoipa::path(post, path = "/users", tag = "users",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Added", body = UserView),
        (status = 400, description = "Malformed input, unknown role, or a password breaking the rules", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The user name is taken", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such unit", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn add_user(
    State(app): State<AppState>,
    Auth(id): Auth,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<Response, Problem> {
    if body.roles.len() > Role::ALL.len() {
        return Err(Problem::bad_request("roles", "Quá nhiều vai trò."));
    }
    let roles = body
        .roles
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.parse::<Role>().map_err(|_| {
                Problem::bad_request(
                    &format!("roles[{i}]"),
                    "Vai trò không hợp lệ; các vai trò: don_vi, thu_truong_don_vi, skhcn, so_tai_chinh, lanh_dao_so, ubnd, admin.",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let new = NewUser {
        username: ident("username", &body.username)?,
        display_name: opt_text("display_name", body.display_name.as_deref(), 200, false)?
            .unwrap_or_default(),
        email: opt_email("email", body.email.as_deref())?,
        unit_id: body.unit.as_deref().map(|u| ident("unit", u)).transpose()?,
        roles,
    };
    let u = app
        .store
        .directory()
        .add_user_as(&id.actor, new, body.password.as_deref(), Utc::now())
        .await?;
    Ok(created(
        &format!("/api/v1/users/{}", u.username),
        UserView::from(u),
    ))
}

/// A user: themself or an administrator.
#[utoipa::path(get, path = "/users/{username}", tag = "users",
    params(("username" = String, Path, description = "User name")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "Only the user or an administrator", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_user(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(username): Path<String>,
) -> Result<Json<UserView>, Problem> {
    let username = ident("username", &username)?;
    Ok(Json(
        app.store
            .directory()
            .user_as(&id.actor, &username)
            .await?
            .into(),
    ))
}

/// Set a user's password; their sessions and API tokens are revoked (administrators).
#[utoipa::path(post, path = "/users/{username}/password", tag = "users",
    params(("username" = String, Path, description = "User name")),
    request_body = SetPasswordBody,
    responses(
        (status = 200, description = "Set; every session and token of the user revoked", body = PasswordChangedView),
        (status = 400, description = "A password breaking the rules", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn set_password(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(username): Path<String>,
    JsonBody(body): JsonBody<SetPasswordBody>,
) -> Result<Json<PasswordChangedView>, Problem> {
    let username = ident("username", &username)?;
    let changed = app
        .store
        .accounts()
        .set_password_as(&id.actor, &username, &body.password, Utc::now())
        .await?;
    Ok(Json(changed.into()))
}

/// Disable a user: no sign-in, no action; sessions and tokens revoked (administrators).
#[utoipa::path(post, path = "/users/{username}/disable", tag = "users",
    params(("username" = String, Path, description = "User name")),
    responses(
        (status = 200, description = "Disabled", body = UserView),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn disable_user(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(username): Path<String>,
) -> Result<Json<UserView>, Problem> {
    let username = ident("username", &username)?;
    Ok(Json(
        app.store
            .accounts()
            .disable_user_as(&id.actor, &username, Utc::now())
            .await?
            .into(),
    ))
}

/// Enable a disabled user again (administrators). Revoked sessions and tokens stay revoked.
#[utoipa::path(post, path = "/users/{username}/enable", tag = "users",
    params(("username" = String, Path, description = "User name")),
    responses(
        (status = 200, description = "Enabled", body = UserView),
        (status = 403, description = "Administrators only", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn enable_user(
    State(app): State<AppState>,
    Auth(id): Auth,
    Path(username): Path<String>,
) -> Result<Json<UserView>, Problem> {
    let username = ident("username", &username)?;
    Ok(Json(
        app.store
            .accounts()
            .enable_user_as(&id.actor, &username)
            .await?
            .into(),
    ))
}
