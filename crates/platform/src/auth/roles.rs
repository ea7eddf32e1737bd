//! Roles: named sets of permission patterns. Built-in roles are created at
//! start and cannot be deleted; admins add custom ones. A short-lived cache
//! keeps permission checks off the database, and a change applies within
//! seconds on every replica.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use super::cache::RoleCache;
use super::cache::parse_permissions;
use super::entities::{role, user};
use super::{BUILTIN_ROLES, Grants, is_valid_pattern};
use crate::audit::{self, Entry};
use crate::auth::perms;
use crate::auth::principal::Actor;
use crate::auth::secured;
use crate::error::{AppError, AppResult, FieldError, FieldErrors};
use crate::http::Created;
use crate::http::Json;
use crate::http::etag::{IfMatch, etag};
use crate::realtime::AccessChange;
use crate::state::AppState;

/// Creates the built-in roles that do not exist yet, then gives each
/// module's default grants to the built-in roles that have not had them
/// (one transaction: one commit on first start instead of many). A grant
/// is given once per module and role, so a module installed later adds its
/// permissions to existing roles, and a pattern an admin took away stays
/// away.
pub async fn ensure_builtin(
    db: &DatabaseConnection,
    grants: &[(&'static str, Grants)],
) -> Result<(), sea_orm::DbErr> {
    let txn = crate::db::begin_write(db, &Default::default()).await?;
    let db = &txn;
    let now = Utc::now();
    for builtin in BUILTIN_ROLES {
        if role::Entity::find_by_id(builtin.name)
            .one(db)
            .await?
            .is_none()
        {
            role::ActiveModel {
                name: Set(builtin.name.to_owned()),
                description: Set(format!("role.{}.description", builtin.name)),
                builtin: Set(true),
                permissions: Set(serde_json::to_string(builtin.patterns).unwrap_or_default()),
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
            }
            .insert(db)
            .await?;
        }
    }
    for (module, roles) in grants {
        for (name, patterns) in *roles {
            if grant_applied(db, module, name).await? {
                continue;
            }
            if let Some(r) = role::Entity::find_by_id(*name).one(db).await? {
                let mut held = parse_permissions(&r.permissions);
                let before = held.len();
                for p in *patterns {
                    if !held.iter().any(|h| h == "*" || h == p) {
                        held.push((*p).to_owned());
                    }
                }
                if held.len() != before {
                    let version = r.version + 1;
                    let mut active: role::ActiveModel = r.into();
                    active.permissions = Set(serde_json::to_string(&held).unwrap_or_default());
                    active.updated_at = Set(now);
                    active.version = Set(version);
                    active.update(db).await?;
                }
            }
            record_grant(db, module, name, now).await?;
        }
    }
    txn.commit().await
}

const GRANTS_TABLE: &str = "role_grants_applied";

async fn grant_applied(
    db: &impl sea_orm::ConnectionTrait,
    module: &str,
    role: &str,
) -> Result<bool, sea_orm::DbErr> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let q = Query::select()
        .expr(Expr::val(1))
        .from(Alias::new(GRANTS_TABLE))
        .and_where(Expr::col(Alias::new("module")).eq(module))
        .and_where(Expr::col(Alias::new("role")).eq(role))
        .to_owned();
    let stmt = db.get_database_backend().build(&q);
    Ok(db.query_one(stmt).await?.is_some())
}

async fn record_grant(
    db: &impl sea_orm::ConnectionTrait,
    module: &str,
    role: &str,
    at: chrono::DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sea_query::{Alias, Query};
    let q = Query::insert()
        .into_table(Alias::new(GRANTS_TABLE))
        .columns([
            Alias::new("module"),
            Alias::new("role"),
            Alias::new("applied_at"),
        ])
        .values([module.into(), role.into(), at.into()])
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?
        .to_owned();
    db.execute(db.get_database_backend().build(&q)).await?;
    Ok(())
}

/// Refuses grants to roles that are not built in, or with patterns that
/// are not patterns: a module's mistake stops the start, not a request.
pub fn check_grants(grants: &[(&'static str, Grants)]) -> Result<(), String> {
    for (module, roles) in grants {
        for (name, patterns) in *roles {
            if !BUILTIN_ROLES.iter().any(|b| b.name == *name) {
                return Err(format!(
                    "module {module} grants to {name}, which is not a built-in role"
                ));
            }
            if let Some(p) = patterns.iter().find(|p| !is_valid_pattern(p)) {
                return Err(format!(
                    "module {module} grants {name} the invalid pattern {p}"
                ));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleView {
    pub name: String,
    pub description: String,
    pub builtin: bool,
    /// Permission names or patterns (`*` matches one segment; `*` alone,
    /// everything).
    pub permissions: Vec<String>,
    pub version: i32,
}

impl From<role::Model> for RoleView {
    fn from(r: role::Model) -> Self {
        RoleView {
            permissions: parse_permissions(&r.permissions),
            name: r.name,
            description: r.description,
            builtin: r.builtin,
            version: r.version,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// Lowercase letters, digits and `_`; 2 to 64 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleUpdate {
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::ROLES_MANAGE, routes!(list_roles)))
        .routes(secured(perms::ROLES_MANAGE, routes!(create_role)))
        .routes(secured(perms::ROLES_MANAGE, routes!(find_role)))
        .routes(secured(perms::ROLES_MANAGE, routes!(update_role)))
        .routes(secured(perms::ROLES_MANAGE, routes!(delete_role)))
        .routes(secured(perms::ROLES_MANAGE, routes!(list_permissions)))
}

fn validate_permissions(
    state: &AppState,
    permissions: &[String],
    errors: &mut FieldErrors,
) -> Vec<String> {
    let mut clean = Vec::new();
    for (i, p) in permissions.iter().enumerate() {
        let p = p.trim();
        let known = p.contains('*') || state.permissions().contains(&p);
        if !is_valid_pattern(p) || !known {
            errors.push(
                FieldError::new(format!("permissions[{i}]"), "unknown_permission").with("value", p),
            );
        } else if !clean.iter().any(|c| c == p) {
            clean.push(p.to_owned());
        }
    }
    clean
}

fn validate_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim().to_ascii_lowercase();
    let ok = (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(FieldError::new("name", "invalid_role_name"))
    }
}

/// List roles.
#[utoipa::path(get, path = "/api/roles", tag = "access",
    responses((status = 200, body = Vec<RoleView>)))]
async fn list_roles(State(state): State<AppState>) -> AppResult<Json<Vec<RoleView>>> {
    let roles = role::Entity::find()
        .order_by_asc(role::Column::Name)
        .all(state.db())
        .await?;
    Ok(Json(roles.into_iter().map(RoleView::from).collect()))
}

/// Create a custom role.
#[utoipa::path(post, path = "/api/roles", tag = "access",
    request_body = RoleInput,
    responses((status = 201, body = RoleView), (status = 409, description = "Name taken"),
              (status = 422, description = "Invalid field")))]
async fn create_role(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<RoleInput>,
) -> AppResult<impl IntoResponse> {
    let view = create(&state, &actor, input).await?;
    Ok(Created::versioned(
        format!("/api/roles/{}", view.name),
        view.version,
        view,
    ))
}

/// Creates a custom role (API and pages).
#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create(state: &AppState, actor: &Actor, input: RoleInput) -> AppResult<RoleView> {
    let mut errors = FieldErrors::new();
    let name = errors.take(validate_name(&input.name));
    let permissions = validate_permissions(state, &input.permissions, &mut errors);
    errors.finish()?;
    let name = name.unwrap_or_default();
    let now = Utc::now();
    let txn = state.begin_write().await?;
    if role::Entity::find_by_id(name.clone())
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict {
            code: "duplicate",
            field: Some("name".into()),
            params: vec![],
        });
    }
    let model = role::ActiveModel {
        name: Set(name.clone()),
        description: Set(input.description.trim().to_owned()),
        builtin: Set(false),
        permissions: Set(serde_json::to_string(&permissions).unwrap_or_default()),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&txn)
    .await?;
    let view = RoleView::from(model);
    audit::record(
        &txn,
        actor,
        Entry::new("create", "role", name.clone()).after(&view),
    )
    .await?;
    txn.commit().await?;
    state.access_changed(AccessChange::Role(name));
    Ok(view)
}

/// Show a role.
#[utoipa::path(get, path = "/api/roles/{name}", tag = "access",
    params(("name" = String, Path, description = "Role name")),
    responses((status = 200, body = RoleView), (status = 404, description = "No such role")))]
async fn find_role(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> AppResult<impl IntoResponse> {
    let model = role::Entity::find_by_id(name)
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    let view = RoleView::from(model);
    Ok(([etag(view.version)], Json(view)))
}

/// Change a role's description or permissions (`If-Match` honoured).
#[utoipa::path(put, path = "/api/roles/{name}", tag = "access",
    params(("name" = String, Path, description = "Role name")),
    request_body = RoleUpdate,
    responses((status = 200, body = RoleView), (status = 412, description = "Stale version")))]
async fn update_role(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(name): Path<String>,
    Json(input): Json<RoleUpdate>,
) -> AppResult<impl IntoResponse> {
    let view = update(&state, &actor, if_match, &name, input).await?;
    Ok(([etag(view.version)], Json(view)))
}

/// Changes a role (API and pages).
#[tracing::instrument(skip_all, fields(role = %name, actor = %actor.label))]
pub async fn update(
    state: &AppState,
    actor: &Actor,
    if_match: IfMatch,
    name: &str,
    input: RoleUpdate,
) -> AppResult<RoleView> {
    let name = name.to_owned();
    let mut errors = FieldErrors::new();
    let permissions = input
        .permissions
        .as_ref()
        .map(|p| validate_permissions(state, p, &mut errors));
    if name == "admin" && permissions.as_ref().is_some_and(|p| p != &["*"]) {
        errors.push(FieldError::new("permissions", "admin_keeps_everything"));
    }
    errors.finish()?;
    let txn = state.begin_write().await?;
    let current = role::Entity::find_by_id(name.clone())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let before = RoleView::from(current.clone());
    let mut active: role::ActiveModel = current.clone().into();
    if let Some(d) = input.description {
        active.description = Set(d.trim().to_owned());
    }
    if let Some(p) = permissions {
        active.permissions = Set(serde_json::to_string(&p).unwrap_or_default());
    }
    active.updated_at = Set(Utc::now());
    active.version = Set(current.version + 1);
    let updated = role::Entity::update_many()
        .set(active)
        .filter(role::Column::Name.eq(name.clone()))
        .filter(role::Column::Version.eq(current.version))
        .exec_with_returning(&txn)
        .await?
        .pop()
        .ok_or(AppError::PreconditionFailed)?;
    let view = RoleView::from(updated);
    audit::record(
        &txn,
        actor,
        Entry::new("update", "role", name.clone())
            .before(&before)
            .after(&view),
    )
    .await?;
    txn.commit().await?;
    state.access_changed(AccessChange::Role(name.to_owned()));
    Ok(view)
}

/// Delete a custom role no user has.
#[utoipa::path(delete, path = "/api/roles/{name}", tag = "access",
    params(("name" = String, Path, description = "Role name")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "Built in, or still assigned")))]
async fn delete_role(
    State(state): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
) -> AppResult<StatusCode> {
    let txn = state.begin_write().await?;
    let current = role::Entity::find_by_id(name.clone())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.builtin {
        return Err(AppError::conflict("role_builtin"));
    }
    let holders = user::Entity::find()
        .filter(user::Column::Role.eq(name.clone()))
        .count(&txn)
        .await?;
    if holders > 0 {
        return Err(AppError::Conflict {
            code: "role_in_use",
            field: None,
            params: vec![("count", holders.to_string())],
        });
    }
    role::Entity::delete_by_id(name.clone()).exec(&txn).await?;
    audit::record(
        &txn,
        &actor,
        Entry::new("delete", "role", name.clone()).before(RoleView::from(current)),
    )
    .await?;
    txn.commit().await?;
    state.access_changed(AccessChange::Role(name));
    Ok(StatusCode::NO_CONTENT)
}

/// Every permission the enabled modules declare.
#[utoipa::path(get, path = "/api/permissions", tag = "access",
    responses((status = 200, body = Vec<String>)))]
async fn list_permissions(State(state): State<AppState>) -> Json<Vec<String>> {
    Json(
        state
            .permissions()
            .iter()
            .map(|p| (*p).to_owned())
            .collect(),
    )
}
