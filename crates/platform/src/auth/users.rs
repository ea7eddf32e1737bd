//! Users: who can sign in, with which role. Emails are unique regardless
//! of case; passwords are argon2id hashes that never leave this file.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::entities::{role, user};
use super::password;
use crate::audit::{self, Entry};
use crate::auth::principal::{Actor, Principal};
use crate::error::{AppError, AppResult, FieldError, FieldErrors};
use crate::http::etag::IfMatch;
use crate::http::pagination::{List, Page, PageQuery};
use crate::i18n::Locale;
use crate::state::AppState;
use crate::types::{Email, required_text};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    /// `es` or `en`.
    pub locale: String,
    /// IANA time zone the user reads times in (`America/Santiago`);
    /// `null`: the configured zone.
    pub time_zone: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<user::Model> for UserView {
    fn from(u: user::Model) -> Self {
        UserView {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            active: u.active,
            locale: u.locale,
            time_zone: u.time_zone,
            last_seen_at: u.last_seen_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
            version: u.version,
        }
    }
}

/// A new user, as given by an admin, the CLI or self-registration.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    /// Defaults to `viewer`.
    #[serde(default)]
    pub role: Option<String>,
    pub password: String,
    /// `es` (default) or `en`.
    #[serde(default)]
    pub locale: Option<String>,
    /// IANA time zone; absent or empty: the configured zone.
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
    pub locale: Option<String>,
    /// IANA time zone (`America/Santiago`); empty: back to the configured
    /// zone.
    pub time_zone: Option<String>,
    /// Sets a new password (admins resetting one).
    pub password: Option<String>,
}

fn parse_locale(raw: Option<&str>) -> Result<String, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(Locale::Es.code().to_owned()),
        Some(s) => Locale::parse(s)
            .map(|l| l.code().to_owned())
            .ok_or_else(|| FieldError::new("locale", "invalid_locale")),
    }
}

/// An IANA zone name as stored: `None` for empty (the configured zone).
pub fn parse_time_zone(raw: &str) -> Result<Option<String>, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<chrono_tz::Tz>()
        .map(|z| Some(z.name().to_owned()))
        .map_err(|_| FieldError::new("time_zone", "invalid_time_zone").with("value", raw))
}

async fn check_role(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Result<String, FieldError>, AppError> {
    Ok(match role::Entity::find_by_id(name.trim()).one(db).await? {
        Some(r) => Ok(r.name),
        None => Err(FieldError::new("role", "unknown_role").with("value", name)),
    })
}

/// Creates a user inside `db` (a transaction), auditing it.
#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewUser,
) -> AppResult<user::Model> {
    let mut errors = FieldErrors::new();
    let email = errors.take(Email::parse("email", &input.email));
    let name = errors.take(required_text("name", &input.name, 200));
    let locale = errors.take(parse_locale(input.locale.as_deref()));
    let time_zone = errors.take(parse_time_zone(input.time_zone.as_deref().unwrap_or("")));
    let role = errors.take(check_role(db, input.role.as_deref().unwrap_or("viewer")).await?);
    let context: Vec<&str> = [input.email.as_str(), input.name.as_str()]
        .into_iter()
        .collect();
    errors.take(password::check_strength(
        "password",
        &input.password,
        &context,
    ));
    errors.finish()?;
    let (Some(email), Some(name), Some(locale), Some(role), Some(time_zone)) =
        (email, name, locale, role, time_zone)
    else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };
    if user::Entity::find()
        .filter(user::Column::EmailKey.eq(email.key()))
        .count(db)
        .await?
        > 0
    {
        return Err(AppError::Conflict {
            code: "duplicate",
            field: Some("email".into()),
            params: vec![],
        });
    }
    let hash = password::hash_async(&input.password).await?;
    let now = Utc::now();
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email_key: Set(email.key()),
        email: Set(email.as_str().to_owned()),
        name: Set(name),
        role: Set(role),
        active: Set(true),
        locale: Set(locale),
        time_zone: Set(time_zone),
        password_hash: Set(hash),
        last_seen_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        actor,
        Entry::new("create", "user", model.id.to_string()).after(UserView::from(model.clone())),
    )
    .await?;
    Ok(model)
}

/// Applies an update; refuses to leave the system without an active admin.
#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn update(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    if_match: IfMatch,
    input: UserUpdate,
) -> AppResult<user::Model> {
    let current = user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let mut errors = FieldErrors::new();
    let name = input
        .name
        .as_deref()
        .map(|n| required_text("name", n, 200))
        .and_then(|r| errors.take(r));
    let locale = match input.locale.as_deref() {
        Some(l) => errors.take(parse_locale(Some(l))),
        None => None,
    };
    let role = match input.role.as_deref() {
        Some(r) => errors.take(check_role(db, r).await?),
        None => None,
    };
    let time_zone = match input.time_zone.as_deref() {
        Some(z) => errors.take(parse_time_zone(z)),
        None => None,
    };
    if let Some(pw) = &input.password {
        errors.take(password::check_strength(
            "password",
            pw,
            &[&current.email, &current.name],
        ));
    }
    errors.finish()?;
    let demotes_admin = current.role == "admin"
        && current.active
        && (role.as_deref().is_some_and(|r| r != "admin") || input.active == Some(false));
    if demotes_admin && active_admins(db).await? <= 1 {
        return Err(AppError::conflict("last_admin"));
    }
    let before = UserView::from(current.clone());
    let mut active: user::ActiveModel = current.clone().into();
    if let Some(n) = name {
        active.name = Set(n);
    }
    if let Some(l) = locale {
        active.locale = Set(l);
    }
    if let Some(r) = role {
        active.role = Set(r);
    }
    if let Some(z) = time_zone {
        active.time_zone = Set(z);
    }
    if let Some(a) = input.active {
        active.active = Set(a);
    }
    if let Some(pw) = &input.password {
        active.password_hash = Set(password::hash_async(pw).await?);
    }
    active.updated_at = Set(Utc::now());
    active.version = Set(current.version + 1);
    let updated = user::Entity::update_many()
        .set(active)
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::Version.eq(current.version))
        .exec_with_returning(db)
        .await?
        .pop()
        .ok_or(AppError::PreconditionFailed)?;
    let mut after = serde_json::to_value(UserView::from(updated.clone())).unwrap_or_default();
    if input.password.is_some() {
        after["password"] = "changed".into();
    }
    audit::record(
        db,
        actor,
        Entry::new("update", "user", id.to_string())
            .before(&before)
            .after(after),
    )
    .await?;
    if input.password.is_some() || input.active == Some(false) {
        super::session::revoke_all(db, id).await?;
    }
    Ok(updated)
}

async fn active_admins(db: &impl ConnectionTrait) -> Result<u64, sea_orm::DbErr> {
    user::Entity::find()
        .filter(user::Column::Role.eq("admin"))
        .filter(user::Column::Active.eq(true))
        .count(db)
        .await
}

pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<user::Model>, sea_orm::DbErr> {
    user::Entity::find()
        .filter(user::Column::EmailKey.eq(email.trim().to_lowercase()))
        .one(db)
        .await
}

/// First start: with no users, creates the administrator from the
/// configuration, or with a generated password that is printed once.
#[tracing::instrument(skip_all)]
pub async fn ensure_admin(state: &AppState) -> anyhow::Result<()> {
    let db = state.db();
    if user::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let auth = &state.config().auth;
    let email = if auth.admin_email.trim().is_empty() {
        "admin@faena.local".to_owned()
    } else {
        auth.admin_email.clone()
    };
    let configured = auth.admin_password.expose_secret().to_owned();
    let generated = configured.is_empty();
    let password = if generated {
        crate::secrets::random_token(18)
    } else {
        configured
    };
    let txn = crate::db::begin_write(db, &Default::default()).await?;
    let input = NewUser {
        email: email.clone(),
        name: "Administrador".into(),
        role: Some("admin".into()),
        password: password.clone(),
        locale: None,
        time_zone: None,
    };
    match create(&txn, &Actor::system("first start"), input).await {
        Ok(_) => {}
        Err(AppError::Validation(errors)) => {
            let fields: Vec<String> = errors
                .0
                .iter()
                .map(|e| format!("{} ({})", e.field, e.code))
                .collect();
            anyhow::bail!(
                "cannot create the first administrator: {}",
                fields.join(", ")
            );
        }
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot create the first administrator: {e}"
            ));
        }
    }
    txn.commit().await?;
    if generated {
        // Printed once, on the terminal that started Faena; never logged.
        eprintln!(
            "\n  Faena: first administrator created\n    email:    {email}\n    password: {password}\n  Change it after signing in (Perfil → Contraseña).\n"
        );
    }
    tracing::info!(%email, generated_password = generated, "first administrator created");
    Ok(())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct UserFilter {
    /// Searches email and name.
    pub q: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
}

/// Users by email: the position is the last one's email key.
const USERS: List<String> = List::new("platform.users");

/// Users by email, filtered; the API's list and the admin page's.
pub async fn list(state: &AppState, f: &UserFilter, page: &PageQuery) -> AppResult<Page<UserView>> {
    let mut errors = FieldErrors::new();
    let (limit, after) = USERS.read(page, &mut errors);
    errors.finish()?;
    let mut query = select(f).order_by_asc(user::Column::EmailKey);
    if let Some(after) = after {
        query = query.filter(user::Column::EmailKey.gt(after));
    }
    let rows = query.limit(limit + 1).all(state.db()).await?;
    let rows: Vec<UserView> = rows.into_iter().map(UserView::from).collect();
    Ok(USERS.page(rows, limit, |u| u.email.to_lowercase()))
}

/// The users `f` asks for, unordered. The search text is a literal
/// (`%` and `_` match themselves).
fn select(f: &UserFilter) -> sea_orm::Select<user::Entity> {
    let mut query = user::Entity::find();
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let like = sea_orm::sea_query::LikeExpr::new(crate::text::like_pattern(&q.to_lowercase()))
            .escape('\\');
        query = query.filter(
            Condition::any()
                .add(user::Column::EmailKey.like(like.clone()))
                .add(Expr::expr(Func::lower(Expr::col(user::Column::Name))).like(like)),
        );
    }
    if let Some(role) = &f.role {
        query = query.filter(user::Column::Role.eq(role.as_str()));
    }
    if let Some(active) = f.active {
        query = query.filter(user::Column::Active.eq(active));
    }
    query
}

/// The columns of the users page.
pub const LIST: crate::ui::list::ListSpec = crate::ui::list::ListSpec {
    path: "/admin/users",
    columns: &[
        crate::ui::list::Column::new("name", "field.name").sortable(),
        crate::ui::list::Column::new("email", "field.email").sortable(),
        crate::ui::list::Column::new("role", "field.role").sortable(),
        crate::ui::list::Column::new("active", "field.active"),
        crate::ui::list::Column::new("last_seen_at", "field.last_seen_at").sortable(),
    ],
    default_sort: "name",
    default_desc: false,
    csv: Some("/admin/users/export.csv"),
};

/// A numbered page of users for the admin page, with the total.
pub async fn list_page(
    state: &AppState,
    f: &UserFilter,
    request: &mut crate::ui::list::ListRequest,
) -> AppResult<(Vec<UserView>, u64)> {
    use sea_orm::IntoSimpleExpr;
    let dir = || request.order();
    let first: sea_orm::sea_query::SimpleExpr = match request.sort {
        "email" => user::Column::EmailKey.into_simple_expr(),
        "role" => user::Column::Role.into_simple_expr(),
        "last_seen_at" => user::Column::LastSeenAt.into_simple_expr(),
        _ => Expr::expr(Func::lower(Expr::col(user::Column::Name))).into(),
    };
    let order = [
        (first, dir()),
        (
            user::Column::EmailKey.into_simple_expr(),
            sea_orm::Order::Asc,
        ),
    ];
    let (rows, total) = crate::ui::list::fetch(state.db(), select(f), order, request).await?;
    Ok((rows.into_iter().map(UserView::from).collect(), total))
}

/// Deletes a user: never the caller, never the last active admin.
#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    principal: &Principal,
    id: Uuid,
) -> AppResult<()> {
    if principal.user_id() == Some(id) {
        return Err(AppError::conflict("delete_self"));
    }
    let txn = state.begin_write().await?;
    let current = user::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.role == "admin" && current.active && active_admins(&txn).await? <= 1 {
        return Err(AppError::conflict("last_admin"));
    }
    user::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("delete", "user", id.to_string()).before(UserView::from(current)),
    )
    .await?;
    txn.commit().await?;
    state.access_changed(crate::realtime::AccessChange::User(id));
    Ok(())
}

/// Someone a module offers where a person must be chosen.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserChoice {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

/// Whether `role` grants `permission` (the role cache answers).
async fn role_grants(
    state: &AppState,
    role: &str,
    permission: crate::auth::Permission,
) -> AppResult<bool> {
    let patterns = state.auth().roles.patterns(state.db(), role).await?;
    Ok(patterns
        .iter()
        .any(|p| super::permission::pattern_matches(p, permission.as_str())))
}

fn choice(u: user::Model) -> UserChoice {
    UserChoice {
        id: u.id,
        name: u.name,
        email: u.email,
    }
}

/// Active users whose role grants `permission`, in name order: the people
/// a module offers where someone must be chosen (the technician who did
/// the work, the person responsible for a machine).
pub async fn holding(
    state: &AppState,
    permission: crate::auth::Permission,
) -> AppResult<Vec<UserChoice>> {
    let users = user::Entity::find()
        .filter(user::Column::Active.eq(true))
        .all(state.db())
        .await?;
    let mut grants: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for u in users {
        let holds = match grants.get(&u.role) {
            Some(h) => *h,
            None => {
                let h = role_grants(state, &u.role, permission).await?;
                grants.insert(u.role.clone(), h);
                h
            }
        };
        if holds {
            out.push(choice(u));
        }
    }
    out.sort_by_cached_key(|c| crate::text::sort_key(&c.name));
    Ok(out)
}

/// The user `id` when active and holding `permission` (one the form
/// offered, checked again when it comes back).
pub async fn holder(
    state: &AppState,
    id: Uuid,
    permission: crate::auth::Permission,
) -> AppResult<Option<UserChoice>> {
    let Some(u) = user::Entity::find_by_id(id)
        .filter(user::Column::Active.eq(true))
        .one(state.db())
        .await?
    else {
        return Ok(None);
    };
    Ok(role_grants(state, &u.role, permission)
        .await?
        .then(|| choice(u)))
}

/// The names of the users `ids` (deleted ones are absent).
pub async fn names(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, sea_orm::DbErr> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect())
}

/// Users seen in the last five minutes, most recent first.
pub async fn active(state: &AppState) -> AppResult<Vec<UserView>> {
    let since = Utc::now() - chrono::Duration::minutes(5);
    let rows = user::Entity::find()
        .filter(user::Column::LastSeenAt.gte(since))
        .filter(user::Column::Active.eq(true))
        .order_by_desc(user::Column::LastSeenAt)
        .all(state.db())
        .await?;
    Ok(rows.into_iter().map(UserView::from).collect())
}

pub async fn find(state: &AppState, id: Uuid) -> AppResult<UserView> {
    let model = user::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(UserView::from(model))
}
