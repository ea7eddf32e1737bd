//! `Idempotency-Key` on POST: a retried request (a flaky network, a double
//! click) gets the first request's response instead of doing the work
//! twice. Keys belong to the caller that sent them and last 24 hours; the
//! same key with a different request is refused, and a retry that arrives
//! while the first is still running waits its turn (409, `Retry-After: 1`).
//! Only responses of work done are kept: a refusal (4xx problem) or a
//! failure releases the key.
//!
//! A key in progress is a lease on the request that claimed it: no request
//! outlives `http.request_timeout_secs`, so a key still in progress after
//! that (plus a margin) belongs to a request whose server stopped (a crash,
//! `kill -9`). The first retry after that takes the key over, atomically, and
//! runs; others keep getting 409 until it ends. The request that was cut off
//! never answered, so its transaction did not commit unless it crashed in
//! the instant between its commit and the storing of its answer.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::auth::Principal;
use crate::auth::token::sha256_hex;
use crate::error::{AppError, FieldError, Problem};
use crate::http::problem::is_api_path;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
const TTL_HOURS: i64 = 24;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        /// SHA-256 of the caller's id and the key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key_hash: String,
        /// SHA-256 of method, path and body.
        pub fingerprint: String,
        /// `None` while the first request runs.
        pub status: Option<i32>,
        pub content_type: Option<String>,
        pub location: Option<String>,
        pub etag: Option<String>,
        pub body: Option<Vec<u8>>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !is_api_path(req.uri().path()) {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().unwrap_or("").to_owned())
    else {
        return next.run(req).await;
    };
    // Anonymous calls (sign-in) have nobody to own a key.
    let Some(owner) = req.extensions().get::<Principal>().map(Principal::actor_id) else {
        return next.run(req).await;
    };
    if key.is_empty() || key.len() > 255 {
        return AppError::from(FieldError::new("Idempotency-Key", "invalid")).into_response();
    }
    match run(&state, &owner, &key, req, next).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: &AppState,
    owner: &str,
    key: &str,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (parts, body) = req.into_parts();
    let bytes = http_body_util::Limited::new(body, state.config().http.body_limit)
        .collect()
        .await
        .map_err(|_| AppError::PayloadTooLarge)?
        .to_bytes();
    let mut material = format!("{}\n{}\n", parts.method, parts.uri).into_bytes();
    material.extend_from_slice(&bytes);
    let fingerprint = sha256_hex(&material);
    let key_hash = sha256_hex(format!("{owner}\0{key}").as_bytes());
    let db = state.db();

    let claimed = ActiveModel {
        key_hash: Set(key_hash.clone()),
        fingerprint: Set(fingerprint.clone()),
        status: Set(None),
        content_type: Set(None),
        location: Set(None),
        etag: Set(None),
        body: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await;
    if claimed.is_err() {
        let Some(existing) = Entity::find_by_id(key_hash.clone()).one(db).await? else {
            return Err(AppError::conflict("idempotency_in_progress"));
        };
        if existing.created_at < Utc::now() - Duration::hours(TTL_HOURS) {
            Entity::delete_by_id(key_hash).exec(db).await?;
            return Err(AppError::conflict("idempotency_in_progress"));
        }
        if existing.fingerprint != fingerprint {
            return Err(FieldError::new("Idempotency-Key", "idempotency_key_reused").into());
        }
        if let Some(status) = existing.status {
            return Ok(replay(existing, status));
        }
        if !take_over_abandoned(state, &existing).await? {
            let mut res =
                Problem::new(StatusCode::CONFLICT, "idempotency_in_progress").into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(res);
        }
    }

    let response = next
        .run(axum::http::Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    if status.is_server_error() || response.extensions().get::<Problem>().is_some() {
        // A refusal or a failure did no work: the key is released, so the
        // client may fix the request or try again (as Stripe does).
        Entity::delete_by_id(key_hash).exec(db).await?;
        return Ok(response);
    }
    let (res_parts, res_body) = response.into_parts();
    let res_bytes: Bytes = res_body
        .collect()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?
        .to_bytes();
    let header_text = |name: header::HeaderName| {
        res_parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let stored_body = Some(res_bytes.to_vec());
    Entity::update_many()
        .col_expr(Column::Status, Expr::value(i32::from(status.as_u16())))
        .col_expr(
            Column::ContentType,
            Expr::value(header_text(header::CONTENT_TYPE)),
        )
        .col_expr(Column::Location, Expr::value(header_text(header::LOCATION)))
        .col_expr(Column::Etag, Expr::value(header_text(header::ETAG)))
        .col_expr(Column::Body, Expr::value(stored_body))
        .filter(Column::KeyHash.eq(key_hash))
        .exec(db)
        .await?;
    Ok(Response::from_parts(res_parts, Body::from(res_bytes)))
}

/// Claims a key left in progress by a request that can no longer be
/// running; only one retry wins the claim.
async fn take_over_abandoned(state: &AppState, existing: &entity::Model) -> Result<bool, AppError> {
    let lease = i64::try_from(state.config().http.request_timeout_secs)
        .unwrap_or(i64::MAX / 2)
        .saturating_add(LEASE_MARGIN_SECS);
    if existing.created_at >= Utc::now() - Duration::seconds(lease) {
        return Ok(false);
    }
    let taken = Entity::update_many()
        .col_expr(Column::CreatedAt, Expr::value(Utc::now()))
        .filter(Column::KeyHash.eq(existing.key_hash.as_str()))
        .filter(Column::Status.is_null())
        .filter(Column::CreatedAt.eq(existing.created_at))
        .exec(state.db())
        .await?;
    if taken.rows_affected == 1 {
        tracing::warn!("taking over an idempotency key its request left in progress");
    }
    Ok(taken.rows_affected == 1)
}

/// How long past the request timeout a key in progress is still trusted
/// to a live request (clock skew between replicas, the answer being
/// stored).
const LEASE_MARGIN_SECS: i64 = 5;

fn replay(stored: entity::Model, status: i32) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let Some(body) = stored.body else {
        return Problem::from_status(status).into_response();
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
        (header::ETAG, stored.etag),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, v);
        }
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Drops keys past their lifetime (housekeeping).
pub async fn prune(db: &sea_orm::DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    Ok(Entity::delete_many()
        .filter(Column::CreatedAt.lt(Utc::now() - Duration::hours(TTL_HOURS)))
        .exec(db)
        .await?
        .rows_affected)
}
