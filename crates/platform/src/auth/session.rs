//! Cookie sessions for the pages, and the CSRF tokens derived from them.
//!
//! The session cookie holds a random 256-bit value; the database keeps only
//! its SHA-256. Sessions end after an idle period and at an absolute
//! deadline, and a new one is made at every login (no fixation). CSRF
//! tokens are an HMAC of the session value (or, before login, of a
//! pre-session cookie), so there is nothing extra to store.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::entities::{refresh_token, session, user};
use super::token::sha256_hex;
use crate::config::Config;

pub const SESSION_COOKIE: &str = "faena_session";
pub const PRESESSION_COOKIE: &str = "faena_pre";
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of the current request, for forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .unwrap_or(CsrfToken(String::new())))
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// What the CSRF token of this browser derives from.
pub fn csrf_seed(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
        .or_else(|| cookie(headers, PRESESSION_COOKIE))
        .map(str::to_owned)
}

fn cookie_attributes(config: &Config) -> &'static str {
    if config.auth.secure_cookies || config.http.hsts {
        "; Path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "; Path=/; HttpOnly; SameSite=Lax"
    }
}

pub fn presession_cookie(config: &Config, seed: &str) -> String {
    format!("{PRESESSION_COOKIE}={seed}{}", cookie_attributes(config))
}

pub fn session_cookie(config: &Config, token: &str) -> String {
    let max_age = config.auth.session_absolute_hours * 3600;
    format!(
        "{SESSION_COOKIE}={token}{}; Max-Age={max_age}",
        cookie_attributes(config)
    )
}

pub fn clear_session_cookie(config: &Config) -> String {
    format!("{SESSION_COOKIE}={}; Max-Age=0", cookie_attributes(config))
}

/// Starts a session; returns the cookie value.
pub async fn create(
    db: &impl ConnectionTrait,
    config: &Config,
    user_id: Uuid,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<String, sea_orm::DbErr> {
    let token = crate::secrets::random_token(32);
    let now = Utc::now();
    let expires =
        now + Duration::hours(i64::try_from(config.auth.session_absolute_hours).unwrap_or(72));
    session::ActiveModel {
        id_hash: Set(sha256_hex(token.as_bytes())),
        user_id: Set(user_id),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(expires),
        ip: Set(ip),
        user_agent: Set(user_agent.map(|u| u.chars().take(500).collect())),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The live session of a cookie value, with its user; refreshes
/// `last_seen_at` at most once a minute.
pub async fn resolve(
    db: &impl ConnectionTrait,
    config: &Config,
    token: &str,
) -> Result<Option<user::Model>, sea_orm::DbErr> {
    let hash = sha256_hex(token.as_bytes());
    let Some(session) = session::Entity::find_by_id(hash.clone()).one(db).await? else {
        return Ok(None);
    };
    let Some(user) = user::Entity::find_by_id(session.user_id).one(db).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let idle = Duration::minutes(i64::try_from(config.auth.session_idle_minutes).unwrap_or(480));
    if session.expires_at <= now || session.last_seen_at + idle <= now || !user.active {
        session::Entity::delete_by_id(hash).exec(db).await?;
        return Ok(None);
    }
    if now - session.last_seen_at > Duration::seconds(60) {
        session::Entity::update_many()
            .col_expr(
                session::Column::LastSeenAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(session::Column::IdHash.eq(hash))
            .exec(db)
            .await?;
    }
    Ok(Some(user))
}

/// Ends the session of a cookie value; returns its user, for the caller
/// to announce (`AppState::access_changed`) so that streams opened with
/// that cookie end too.
pub async fn end(db: &impl ConnectionTrait, token: &str) -> Result<Option<Uuid>, sea_orm::DbErr> {
    let hash = sha256_hex(token.as_bytes());
    let Some(ended) = session::Entity::find_by_id(hash.clone()).one(db).await? else {
        return Ok(None);
    };
    session::Entity::delete_by_id(hash).exec(db).await?;
    Ok(Some(ended.user_id))
}

/// Revokes every refresh token and session of a user (password change,
/// deactivation).
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: Uuid) -> Result<(), sea_orm::DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
