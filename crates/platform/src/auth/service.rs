//! Authentication commands: resolving credentials, signing in (throttled and
//! audited), issuing and rotating tokens, signing out.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::cache::AuthState;
use super::entities::{api_key, refresh_token, user};
use super::principal::{Actor, AuthMethod, Principal, Subject};
pub use super::session::revoke_all;
use super::session::{self, SESSION_COOKIE};
use super::token::{self, Claims, sha256_hex};
use super::{password, throttle};
use crate::audit::{self, Entry};
use crate::error::AppError;
use crate::realtime::AccessChange;
use crate::state::AppState;

pub const API_KEY_PREFIX: &str = "faena_";

/// The caller of a request, if it presented credentials. Invalid
/// credentials are an error (401), not an anonymous call.
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, AppError> {
    resolve_at(state, headers, Utc::now().timestamp()).await
}

/// What a caller presented, kept by a long-lived stream to check its access
/// again when it changes (`reauthorize`).
#[derive(Clone)]
pub struct Credential {
    headers: HeaderMap,
    /// When it was accepted (Unix seconds).
    at: i64,
}

impl Credential {
    /// The credential headers of a request just authorized.
    pub fn of(headers: &HeaderMap) -> Self {
        let mut kept = HeaderMap::new();
        for name in [header::AUTHORIZATION, header::COOKIE] {
            for value in headers.get_all(&name) {
                kept.append(name.clone(), value.clone());
            }
        }
        Self {
            headers: kept,
            at: Utc::now().timestamp(),
        }
    }
}

/// The caller behind a credential accepted earlier, as it stands now: its
/// user still active and signed in, its current role and permissions, its
/// API key unrevoked. `None` when it no longer speaks for anyone. An access
/// token is judged as of when it was accepted (a stream outlives the
/// token's fifteen minutes; the sign-in behind it is what must still live).
pub async fn reauthorize(
    state: &AppState,
    credential: &Credential,
) -> Result<Option<Principal>, AppError> {
    match resolve_at(state, &credential.headers, credential.at).await {
        Err(AppError::Unauthorized) => Ok(None),
        other => other,
    }
}

/// `resolve`, judging an access token's time claims as of `token_time`.
async fn resolve_at(
    state: &AppState,
    headers: &HeaderMap,
    token_time: i64,
) -> Result<Option<Principal>, AppError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth.to_str().map_err(|_| AppError::Unauthorized)?;
        let Some(credential) = value.strip_prefix("Bearer ").map(str::trim) else {
            return Err(AppError::Unauthorized);
        };
        let principal = if credential.starts_with(API_KEY_PREFIX) {
            resolve_api_key(state, credential).await?
        } else {
            resolve_access_token(state, credential, token_time).await?
        };
        return Ok(Some(principal));
    }
    if let Some(cookie) = session::cookie(headers, SESSION_COOKIE)
        && let Some(user) = session::resolve(state.db(), state.config(), cookie).await?
    {
        touch(state, user.id).await;
        let patterns = state.auth().roles.patterns(state.db(), &user.role).await?;
        return Ok(Some(Principal {
            time_zone: zone_of(&user),
            subject: Subject::User {
                id: user.id,
                email: user.email,
                role: user.role,
            },
            method: AuthMethod::Session,
            patterns,
        }));
    }
    Ok(None)
}

/// The zone a user chose (stored checked; one that no longer parses is
/// ignored).
fn zone_of(user: &user::Model) -> Option<chrono_tz::Tz> {
    user.time_zone.as_deref().and_then(|z| z.parse().ok())
}

/// An access token speaks for its user only while the user exists and is
/// active and its sign-in (the refresh family) is not ended: each request
/// checks both, so deactivation, deletion, logout and a password change
/// take effect on the next request, on every replica; the role is the
/// user's current one, not the one the token was issued with.
async fn resolve_access_token(
    state: &AppState,
    jwt: &str,
    token_time: i64,
) -> Result<Principal, AppError> {
    let now = Utc::now();
    let claims = token::verify(jwt, &state.auth().jwt_key, token_time)
        .map_err(|_| AppError::Unauthorized)?;
    let id = Uuid::parse_str(&claims.sub).map_err(|_| AppError::Unauthorized)?;
    let family = Uuid::parse_str(&claims.fam).map_err(|_| AppError::Unauthorized)?;
    let user = match state.auth().signed_in.get(id, family) {
        Ok(user) => user,
        Err(generation) => {
            // One round trip: the user, if active and still signed in.
            let live_sign_in = sea_orm::sea_query::Query::select()
                .expr(Expr::val(1))
                .from(refresh_token::Entity)
                .and_where(refresh_token::Column::FamilyId.eq(family))
                .and_where(refresh_token::Column::UserId.eq(id))
                .and_where(refresh_token::Column::RevokedAt.is_null())
                .and_where(refresh_token::Column::ExpiresAt.gt(now))
                .to_owned();
            let user = Arc::new(
                user::Entity::find_by_id(id)
                    .filter(user::Column::Active.eq(true))
                    .filter(Expr::exists(live_sign_in))
                    .one(state.db())
                    .await?
                    .ok_or(AppError::Unauthorized)?,
            );
            state
                .auth()
                .signed_in
                .keep(family, user.clone(), generation);
            user
        }
    };
    touch(state, id).await;
    let patterns = state.auth().roles.patterns(state.db(), &user.role).await?;
    Ok(Principal {
        time_zone: zone_of(&user),
        subject: Subject::User {
            id,
            email: user.email.clone(),
            role: user.role.clone(),
        },
        method: AuthMethod::AccessToken,
        patterns,
    })
}

/// API keys are looked up on every request, so a revoked key is refused at
/// once, on every replica.
async fn resolve_api_key(state: &AppState, key: &str) -> Result<Principal, AppError> {
    let hash = sha256_hex(key.as_bytes());
    let found = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(state.db())
        .await?
        .ok_or(AppError::Unauthorized)?;
    let now = Utc::now();
    if found
        .last_used_at
        .is_none_or(|t| now - t > Duration::seconds(60))
    {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(found.id))
            .exec(state.db())
            .await?;
    }
    Ok(Principal {
        subject: Subject::ApiKey {
            id: found.id,
            name: found.name,
        },
        method: AuthMethod::ApiKey,
        patterns: Arc::new(super::cache::parse_permissions(&found.permissions)),
        time_zone: None,
    })
}

/// Records that a user is active (for "usuarios activos").
async fn touch(state: &AppState, user: Uuid) {
    if !state.auth().due_seen(user) {
        return;
    }
    let result = user::Entity::update_many()
        .col_expr(user::Column::LastSeenAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(user))
        .exec(state.db())
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not record last_seen_at");
    }
}

/// Checks an email and password, with throttling, equal effort for unknown
/// accounts, and an audit entry for every attempt.
pub async fn authenticate(
    state: &AppState,
    actor: &Actor,
    email: &str,
    password_given: &str,
) -> Result<user::Model, AppError> {
    let db = state.db();
    let email_key = email.trim().to_lowercase();
    let ip = actor.ip.as_deref();
    let config = &state.config().auth;
    if let Some(wait) = throttle::locked_for(db, config, &email_key, ip).await? {
        // Not a failure: a refused try neither counts nor extends the wait.
        let entry = Entry::new("login.throttled", "user", None)
            .after(serde_json::json!({ "email": email_key, "retry_after": wait }));
        audit::record(db, actor, entry).await?;
        // The same work as a real check, so the answer's timing says nothing.
        verify_blocking(password_given, password::dummy_hash()).await?;
        return Err(AppError::TooManyRequests {
            retry_after_secs: wait,
        });
    }
    let found = super::users::find_by_email(db, &email_key).await?;
    let hash = found
        .as_ref()
        .map(|u| u.password_hash.as_str())
        .unwrap_or(password::dummy_hash());
    let valid = verify_blocking(password_given, hash).await?;
    match found {
        Some(user) if valid && user.active => {
            throttle::clear(db, &email_key, ip).await?;
            let actor = Actor {
                id: Some(user.id.to_string()),
                label: user.email.clone(),
                ..actor.clone()
            };
            audit::record(
                db,
                &actor,
                Entry::new("login.succeeded", "user", user.id.to_string()),
            )
            .await?;
            Ok(user)
        }
        found => {
            throttle::record_failure(db, &email_key, ip).await?;
            let reason = match &found {
                None => "unknown_account",
                Some(u) if !u.active => "inactive",
                Some(_) => "wrong_password",
            };
            let entry = Entry::new("login.failed", "user", found.map(|u| u.id.to_string()))
                .after(serde_json::json!({ "email": email_key, "reason": reason }));
            audit::record(db, actor, entry).await?;
            Err(AppError::Unauthorized)
        }
    }
}

/// Runs the (deliberately slow) hash check off the async threads.
pub async fn verify_blocking(password_given: &str, hash: &str) -> Result<bool, AppError> {
    Ok(password::verify_async(password_given, hash).await)
}

/// A fresh access token and refresh token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
}

/// Issues tokens; `family` continues a rotation chain, `None` starts one.
pub async fn issue_tokens(
    state: &AppState,
    db: &impl ConnectionTrait,
    user: &user::Model,
    family: Option<Uuid>,
) -> Result<TokenPair, AppError> {
    let config = &state.config().auth;
    let now = Utc::now();
    let family = family.unwrap_or_else(Uuid::now_v7);
    let access_secs = config.access_token_minutes * 60;
    let claims = Claims {
        sub: user.id.to_string(),
        email: user.email.clone(),
        role: user.role.clone(),
        fam: family.to_string(),
        iat: now.timestamp(),
        exp: now.timestamp() + i64::try_from(access_secs).unwrap_or(900),
        iss: token::ISSUER.into(),
        aud: token::AUDIENCE.into(),
    };
    let access_token = token::sign(&claims, &state.auth().jwt_key)?;
    let refresh = crate::secrets::random_token(32);
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family),
        user_id: Set(user.id),
        token_hash: Set(sha256_hex(refresh.as_bytes())),
        created_at: Set(now),
        expires_at: Set(
            now + Duration::days(i64::try_from(config.refresh_token_days).unwrap_or(30))
        ),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer".into(),
        expires_in: access_secs,
        refresh_token: refresh,
    })
}

/// Rotates a refresh token. Presenting one that was already used means it
/// leaked: the whole family is revoked and the holder must sign in again.
pub async fn refresh(
    state: &AppState,
    actor: &Actor,
    presented: &str,
) -> Result<TokenPair, AppError> {
    let txn = state.begin_write().await?;
    let found = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(sha256_hex(presented.as_bytes())))
        .one(&txn)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let now = Utc::now();
    if found.used_at.is_some() {
        revoke_family(&txn, found.family_id).await?;
        let entry = Entry::new("refresh.reuse_detected", "user", found.user_id.to_string())
            .after(serde_json::json!({ "family": found.family_id }));
        audit::record(&txn, actor, entry).await?;
        txn.commit().await?;
        state.access_changed(AccessChange::User(found.user_id));
        return Err(AppError::Unauthorized);
    }
    if found.revoked_at.is_some() || found.expires_at <= now {
        return Err(AppError::Unauthorized);
    }
    // Mark used only if nobody else did in between (two concurrent uses:
    // one wins, the other is a reuse).
    let marked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(found.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        return Err(AppError::Unauthorized);
    }
    let user = user::Entity::find_by_id(found.user_id)
        .one(&txn)
        .await?
        .filter(|u| u.active)
        .ok_or(AppError::Unauthorized)?;
    let pair = issue_tokens(state, &txn, &user, Some(found.family_id)).await?;
    txn.commit().await?;
    Ok(pair)
}

async fn revoke_family(db: &impl ConnectionTrait, family: Uuid) -> Result<(), sea_orm::DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Ends the refresh family of a token (API sign-out).
pub async fn logout(state: &AppState, actor: &Actor, presented: &str) -> Result<(), AppError> {
    let txn = state.begin_write().await?;
    let found = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(sha256_hex(presented.as_bytes())))
        .one(&txn)
        .await?;
    if let Some(found) = &found {
        revoke_family(&txn, found.family_id).await?;
        audit::record(
            &txn,
            actor,
            Entry::new("logout", "user", found.user_id.to_string()),
        )
        .await?;
    }
    txn.commit().await?;
    if let Some(found) = found {
        state.access_changed(AccessChange::User(found.user_id));
    }
    Ok(())
}
