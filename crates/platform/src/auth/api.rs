//! `/api/auth/*`: sign in, token rotation, sign out, the current user,
//! password change and (when enabled) self-registration.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::entities::user;
use super::principal::{Actor, Principal, Subject};
use super::service::{self, TokenPair};
use super::users::{self, NewUser, UserUpdate, UserView};
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult, FieldError};
use crate::http::Created;
use crate::http::Json;
use crate::http::etag::IfMatch;
use crate::state::AppState;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(register))
        .merge(super::users_api::api())
        .merge(super::roles::api())
        .merge(super::api_keys::api())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

/// Sign in: an access token (15 minutes) and a refresh token.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", security(()),
    request_body = LoginInput,
    responses((status = 200, body = TokenPair), (status = 401, description = "Wrong email or password"),
              (status = 429, description = "Too many failures; see Retry-After")))]
async fn login(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<LoginInput>,
) -> AppResult<Json<TokenPair>> {
    let user = service::authenticate(&state, &actor, &input.email, &input.password).await?;
    let pair = service::issue_tokens(&state, state.db(), &user, None).await?;
    Ok(Json(pair))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    pub refresh_token: String,
}

/// Exchange a refresh token for new tokens (the old one is spent; using it
/// again revokes the whole chain).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", security(()),
    request_body = RefreshInput,
    responses((status = 200, body = TokenPair), (status = 401, description = "Invalid, spent or revoked")))]
async fn refresh(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<RefreshInput>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(
        service::refresh(&state, &actor, &input.refresh_token).await?,
    ))
}

/// Sign out: revokes the refresh token's chain.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(()),
    request_body = RefreshInput,
    responses((status = 204, description = "Signed out")))]
async fn logout(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<RefreshInput>,
) -> AppResult<StatusCode> {
    service::logout(&state, &actor, &input.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// `user` or `api_key`.
    pub kind: String,
    pub user: Option<UserView>,
    pub api_key_name: Option<String>,
    /// Permission patterns granted.
    pub permissions: Vec<String>,
}

/// Who am I, and what may I do.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me)))]
async fn me(State(state): State<AppState>, principal: Principal) -> AppResult<Json<Me>> {
    let permissions = principal.patterns.as_ref().clone();
    Ok(Json(match &principal.subject {
        Subject::User { id, .. } => {
            let model = user::Entity::find_by_id(*id)
                .one(state.db())
                .await?
                .ok_or(AppError::Unauthorized)?;
            Me {
                kind: "user".into(),
                user: Some(model.into()),
                api_key_name: None,
                permissions,
            }
        }
        Subject::ApiKey { name, .. } => Me {
            kind: "api_key".into(),
            user: None,
            api_key_name: Some(name.clone()),
            permissions,
        },
    }))
}

/// What a user may change of their own account.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// `es` or `en`.
    pub locale: Option<String>,
    /// IANA time zone (`America/Santiago`) that pages, list filters and
    /// CSV exports use for me; empty: the configured zone.
    pub time_zone: Option<String>,
}

/// Change my language or time zone.
#[utoipa::path(patch, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    request_body = Preferences,
    responses((status = 200, body = UserView), (status = 422, description = "Unknown language or time zone")))]
async fn update_me(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    Json(input): Json<Preferences>,
) -> AppResult<Json<UserView>> {
    Ok(Json(
        set_own_preferences(&state, &actor, &principal, input)
            .await?
            .into(),
    ))
}

/// Shared by the API and the profile page.
pub async fn set_own_preferences(
    state: &AppState,
    actor: &Actor,
    principal: &Principal,
    input: Preferences,
) -> AppResult<user::Model> {
    let id = principal.user_id().ok_or(AppError::Forbidden)?;
    let txn = state.begin_write().await?;
    let update = UserUpdate {
        locale: input.locale,
        time_zone: input.time_zone,
        ..UserUpdate::default()
    };
    let updated = users::update(&txn, actor, id, IfMatch::ANY, update).await?;
    txn.commit().await?;
    // The zone and language ride in the cached sign-in: forget it.
    state.access_changed(crate::realtime::AccessChange::User(id));
    Ok(updated)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change my password (signs out my other sessions and tokens).
#[utoipa::path(post, path = "/api/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = PasswordChange,
    responses((status = 204, description = "Changed"), (status = 422, description = "Wrong current password or weak new one")))]
async fn change_password(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    Json(input): Json<PasswordChange>,
) -> AppResult<StatusCode> {
    change_own_password(
        &state,
        &actor,
        &principal,
        &input.current_password,
        &input.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Shared by the API and the profile page.
pub async fn change_own_password(
    state: &AppState,
    actor: &Actor,
    principal: &Principal,
    current: &str,
    new: &str,
) -> AppResult<()> {
    let id = principal.user_id().ok_or(AppError::Forbidden)?;
    let model = user::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !service::verify_blocking(current, &model.password_hash).await? {
        return Err(FieldError::new("current_password", "wrong_password").into());
    }
    let txn = state.begin_write().await?;
    let update = UserUpdate {
        password: Some(new.to_owned()),
        ..UserUpdate::default()
    };
    users::update(&txn, actor, id, IfMatch::ANY, update)
        .await
        .map_err(|e| rename_field(e, "password", "new_password"))?;
    audit::record(
        &txn,
        actor,
        Entry::new("password.changed", "user", id.to_string()),
    )
    .await?;
    txn.commit().await?;
    state.access_changed(crate::realtime::AccessChange::User(id));
    Ok(())
}

fn rename_field(err: AppError, from: &str, to: &str) -> AppError {
    match err {
        AppError::Validation(mut errors) => {
            for e in &mut errors.0 {
                if e.field == from {
                    e.field = to.to_owned();
                }
            }
            AppError::Validation(errors)
        }
        other => other,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterInput {
    pub email: String,
    pub name: String,
    pub password: String,
}

/// Create my own account (only when self-registration is enabled; new
/// accounts get the viewer role).
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", security(()),
    request_body = RegisterInput,
    responses((status = 201, body = UserView), (status = 403, description = "Self-registration is off"),
              (status = 409, description = "Email taken")))]
async fn register(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<RegisterInput>,
) -> AppResult<impl IntoResponse> {
    if !state.config().auth.self_registration {
        return Err(AppError::Forbidden);
    }
    let txn = state.begin_write().await?;
    let new = NewUser {
        email: input.email,
        name: input.name,
        role: Some("viewer".into()),
        password: input.password,
        locale: None,
        time_zone: None,
    };
    let model = users::create(&txn, &actor, new).await?;
    txn.commit().await?;
    let view = UserView::from(model);
    Ok(Created::versioned(
        format!("/api/users/{}", view.id),
        view.version,
        view,
    ))
}
