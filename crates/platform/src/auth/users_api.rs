//! `/api/users`: the JSON face of the user directory. The rules live in
//! `users`; these handlers parse, call one function and answer.

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::users::{self, NewUser, UserFilter, UserUpdate, UserView};
use crate::auth::perms;
use crate::auth::principal::{Actor, Principal};
use crate::auth::secured;
use crate::error::AppResult;
use crate::http::Created;
use crate::http::etag::{IfMatch, etag};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{Json, Query};
use crate::realtime::AccessChange;
use crate::state::AppState;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::USERS_READ, routes!(list_users)))
        .routes(secured(perms::USERS_MANAGE, routes!(create_user)))
        .routes(secured(perms::USERS_READ, routes!(list_active_users)))
        .routes(secured(perms::USERS_READ, routes!(find_user)))
        .routes(secured(perms::USERS_MANAGE, routes!(update_user)))
        .routes(secured(perms::USERS_MANAGE, routes!(delete_user)))
}

/// List users, by email.
#[utoipa::path(get, path = "/api/users", tag = "access",
    params(UserFilter, PageQuery),
    responses((status = 200, body = Page<UserView>)))]
async fn list_users(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<UserFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<UserView>>> {
    Ok(Json(users::list(&state, &f, &page).await?.linked(&uri)))
}

/// Create a user.
#[utoipa::path(post, path = "/api/users", tag = "access",
    request_body = NewUser,
    responses((status = 201, body = UserView), (status = 409, description = "Email taken"),
              (status = 422, description = "Invalid field")))]
async fn create_user(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<NewUser>,
) -> AppResult<impl IntoResponse> {
    let txn = state.begin_write().await?;
    let model = users::create(&txn, &actor, input).await?;
    txn.commit().await?;
    let view = UserView::from(model);
    Ok(Created::versioned(
        format!("/api/users/{}", view.id),
        view.version,
        view,
    ))
}

/// Users seen in the last five minutes.
#[utoipa::path(get, path = "/api/users/active", tag = "access",
    responses((status = 200, body = Vec<UserView>)))]
async fn list_active_users(State(state): State<AppState>) -> AppResult<Json<Vec<UserView>>> {
    Ok(Json(users::active(&state).await?))
}

/// Show a user.
#[utoipa::path(get, path = "/api/users/{id}", tag = "access",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404, description = "No such user")))]
async fn find_user(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<impl IntoResponse> {
    let view = users::find(&state, id).await?;
    Ok(([etag(view.version)], Json(view)))
}

/// Change a user (`If-Match` honoured).
#[utoipa::path(patch, path = "/api/users/{id}", tag = "access",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UserUpdate,
    responses((status = 200, body = UserView), (status = 409, description = "Would leave no admin"),
              (status = 412, description = "Stale version")))]
async fn update_user(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
    Json(input): Json<UserUpdate>,
) -> AppResult<impl IntoResponse> {
    let txn = state.begin_write().await?;
    let model = users::update(&txn, &actor, id, if_match, input).await?;
    txn.commit().await?;
    state.access_changed(AccessChange::User(id));
    let view = UserView::from(model);
    Ok(([etag(view.version)], Json(view)))
}

/// Delete a user (never the last active admin, never yourself).
#[utoipa::path(delete, path = "/api/users/{id}", tag = "access",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "Last admin or yourself")))]
async fn delete_user(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    users::delete(&state, &actor, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
