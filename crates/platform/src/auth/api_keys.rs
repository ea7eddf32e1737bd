//! API keys for integrations: created by an admin with a subset of the
//! admin's own permissions, shown once, stored as a SHA-256 hash, revocable
//! with immediate effect.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::cache::parse_permissions;
use super::entities::api_key;
use super::principal::{Actor, Principal};
use super::service::API_KEY_PREFIX;
use super::token::sha256_hex;
use crate::audit::{self, Entry};
use crate::auth::perms;
use crate::auth::secured;
use crate::error::{AppError, AppResult, FieldError, FieldErrors};
use crate::http::Created;
use crate::http::Json;
use crate::state::AppState;
use crate::types::required_text;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub permissions: Vec<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKeyView {
    fn from(k: api_key::Model) -> Self {
        ApiKeyView {
            id: k.id,
            permissions: parse_permissions(&k.permissions),
            name: k.name,
            prefix: k.prefix,
            created_by: k.created_by,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    /// Permission names; each must be one the creator holds.
    pub permissions: Vec<String>,
}

/// The new key; `key` is shown this once and never again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    pub key: String,
    #[serde(flatten)]
    pub api_key: ApiKeyView,
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::API_KEYS_MANAGE, routes!(list_api_keys)))
        .routes(secured(perms::API_KEYS_MANAGE, routes!(create_api_key)))
        .routes(secured(perms::API_KEYS_MANAGE, routes!(find_api_key)))
        .routes(secured(perms::API_KEYS_MANAGE, routes!(delete_api_key)))
}

/// List API keys.
#[utoipa::path(get, path = "/api/api-keys", tag = "access",
    responses((status = 200, body = Vec<ApiKeyView>)))]
async fn list_api_keys(State(state): State<AppState>) -> AppResult<Json<Vec<ApiKeyView>>> {
    let keys = api_key::Entity::find()
        .order_by_desc(api_key::Column::CreatedAt)
        .all(state.db())
        .await?;
    Ok(Json(keys.into_iter().map(ApiKeyView::from).collect()))
}

/// Show one API key (never its secret).
#[utoipa::path(get, path = "/api/api-keys/{id}", tag = "access",
    params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 200, body = ApiKeyView), (status = 404, description = "No such key")))]
async fn find_api_key(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<Json<ApiKeyView>> {
    let key = api_key::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(ApiKeyView::from(key)))
}

#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create(
    state: &AppState,
    actor: &Actor,
    principal: &Principal,
    input: NewApiKey,
) -> AppResult<CreatedApiKey> {
    let mut errors = FieldErrors::new();
    let name = errors.take(required_text("name", &input.name, 100));
    if input.permissions.is_empty() {
        errors.push(FieldError::new("permissions", "required"));
    }
    let mut permissions: Vec<String> = Vec::new();
    for (i, p) in input.permissions.iter().enumerate() {
        let p = p.trim();
        if !state.permissions().contains(&p) {
            errors.push(
                FieldError::new(format!("permissions[{i}]"), "unknown_permission").with("value", p),
            );
        } else if !principal.can(p) {
            errors.push(
                FieldError::new(format!("permissions[{i}]"), "permission_not_held")
                    .with("value", p),
            );
        } else if !permissions.iter().any(|q| q == p) {
            permissions.push(p.to_owned());
        }
    }
    errors.finish()?;
    let key = format!("{API_KEY_PREFIX}{}", crate::secrets::random_token(32));
    let txn = state.begin_write().await?;
    let model = api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.unwrap_or_default()),
        prefix: Set(key.chars().take(12).collect()),
        key_hash: Set(sha256_hex(key.as_bytes())),
        permissions: Set(serde_json::to_string(&permissions).unwrap_or_default()),
        created_by: Set(principal.user_id()),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let view = ApiKeyView::from(model);
    audit::record(
        &txn,
        actor,
        Entry::new("create", "api_key", view.id.to_string()).after(&view),
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedApiKey { key, api_key: view })
}

/// Create an API key (the secret is in the response, once).
#[utoipa::path(post, path = "/api/api-keys", tag = "access",
    request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 422, description = "Invalid field")))]
async fn create_api_key(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    Json(input): Json<NewApiKey>,
) -> AppResult<impl IntoResponse> {
    let created = create(&state, &actor, &principal, input).await?;
    Ok(Created::at(
        format!("/api/api-keys/{}", created.api_key.id),
        created,
    ))
}

#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn revoke(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<()> {
    let txn = state.begin_write().await?;
    let current = api_key::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let revoking = current.revoked_at.is_none();
    if revoking {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(api_key::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            actor,
            Entry::new("revoke", "api_key", id.to_string()).before(ApiKeyView::from(current)),
        )
        .await?;
    }
    txn.commit().await?;
    if revoking {
        state.access_changed(crate::realtime::AccessChange::ApiKey(id));
    }
    Ok(())
}

/// Revoke an API key; it is refused from the next request on.
#[utoipa::path(delete, path = "/api/api-keys/{id}", tag = "access",
    params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such key")))]
async fn delete_api_key(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    revoke(&state, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
