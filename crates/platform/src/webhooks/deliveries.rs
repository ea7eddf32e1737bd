//! The delivery log: deliveries by endpoint and state, one delivery with
//! its payload and attempts, and the replay of a message to an endpoint.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::entity::{attempt, delivery, endpoint, message};
use super::{DeliveryState, EndpointState};
use crate::audit::{self, Entry};
use crate::auth::Actor;
use crate::error::{AppError, AppResult, FieldError, FieldErrors};
use crate::http::pagination::{List, Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
pub struct DeliveryFilter {
    /// Only this endpoint's deliveries.
    pub endpoint_id: Option<String>,
    /// `pending`, `succeeded`, `failed` or `skipped`.
    pub state: Option<String>,
    /// Only this event type.
    pub event_type: Option<String>,
}

/// One message to one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    /// The `webhook-id` header: the same on every attempt and replay.
    pub message_id: String,
    pub endpoint_id: Uuid,
    pub endpoint_url: Option<String>,
    pub event_type: String,
    pub state: DeliveryState,
    /// Attempts made, replays included.
    pub attempts: i32,
    /// HTTP status of the last attempt, if the endpoint answered.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// When the next retry is due (state `pending`), roughly.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// The endpoint's HTTP status; absent when it could not be reached.
    pub status_code: Option<i32>,
    /// The first kilobyte of the endpoint's answer.
    pub response_excerpt: Option<String>,
    /// Why the attempt failed before an answer (refused, timeout …).
    pub error: Option<String>,
}

/// A delivery with what was sent and every attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryDetail {
    pub delivery: DeliveryView,
    /// The body sent: `{"type", "timestamp", "data"}`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub attempts: Vec<AttemptView>,
}

fn view(d: delivery::Model, urls: &HashMap<Uuid, String>) -> DeliveryView {
    DeliveryView {
        message_id: super::message_header_id(d.message_id),
        endpoint_url: urls.get(&d.endpoint_id).cloned(),
        state: DeliveryState::parse(&d.state).unwrap_or(DeliveryState::Pending),
        id: d.id,
        endpoint_id: d.endpoint_id,
        event_type: d.event_type,
        attempts: d.attempts,
        last_status: d.last_status,
        last_error: d.last_error,
        next_attempt_at: d.next_attempt_at,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

async fn urls(state: &AppState) -> AppResult<HashMap<Uuid, String>> {
    Ok(endpoint::Entity::find()
        .select_only()
        .column(endpoint::Column::Id)
        .column(endpoint::Column::Url)
        .into_tuple::<(Uuid, String)>()
        .all(state.db())
        .await?
        .into_iter()
        .collect())
}

/// Deliveries, newest first.
/// Deliveries, newest first: the position is the last one's id (UUIDv7).
const DELIVERIES: List<Uuid> = List::new("platform.webhooks.deliveries");

pub async fn list(
    state: &AppState,
    f: &DeliveryFilter,
    page: &PageQuery,
) -> AppResult<Page<DeliveryView>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = DELIVERIES.read(page, &mut errors);
    let endpoint_id = f
        .endpoint_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| {
            errors.take(
                Uuid::parse_str(s.trim()).map_err(|_| FieldError::new("endpoint_id", "invalid")),
            )
        });
    let wanted = f.state.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
        errors.take(DeliveryState::parse(s).ok_or_else(|| {
            FieldError::new("state", "one_of").with(
                "allowed",
                DeliveryState::ALL.map(DeliveryState::as_str).join(", "),
            )
        }))
    });
    errors.finish()?;
    let mut q = delivery::Entity::find().order_by_desc(delivery::Column::Id);
    if let Some(c) = cursor {
        q = q.filter(delivery::Column::Id.lt(c));
    }
    if let Some(e) = endpoint_id {
        q = q.filter(delivery::Column::EndpointId.eq(e));
    }
    if let Some(s) = wanted {
        q = q.filter(delivery::Column::State.eq(s.as_str()));
    }
    if let Some(t) = f.event_type.as_deref().filter(|t| !t.is_empty()) {
        q = q.filter(delivery::Column::EventType.eq(t));
    }
    let rows = q.limit(limit + 1).all(state.db()).await?;
    let urls = urls(state).await?;
    let rows: Vec<DeliveryView> = rows.into_iter().map(|d| view(d, &urls)).collect();
    Ok(DELIVERIES.page(rows, limit, |d| d.id))
}

/// One delivery, with its payload and attempts.
pub async fn find(state: &AppState, id: Uuid) -> AppResult<DeliveryDetail> {
    let d = delivery::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    let payload = message::Entity::find_by_id(d.message_id)
        .one(state.db())
        .await?
        .and_then(|m| serde_json::from_str(&m.body).ok())
        .unwrap_or(serde_json::Value::Null);
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::DeliveryId.eq(id))
        .order_by_asc(attempt::Column::Attempt)
        .all(state.db())
        .await?
        .into_iter()
        .map(|a| AttemptView {
            attempt: a.attempt,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            response_excerpt: a.response_excerpt,
            error: a.error,
        })
        .collect();
    Ok(DeliveryDetail {
        delivery: view(d, &urls(state).await?),
        payload,
        attempts,
    })
}

/// Sends the message of a delivery to its endpoint again, with the same
/// `webhook-id` and body and a fresh schedule of attempts.
#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn replay(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<DeliveryView> {
    use delivery::Column as C;
    let txn = state.begin_write().await?;
    let d = delivery::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let ep = endpoint::Entity::find_by_id(d.endpoint_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if ep.state != EndpointState::Active.as_str() {
        return Err(AppError::Conflict {
            code: "webhook_endpoint_inactive",
            field: None,
            params: vec![("state", ep.state)],
        });
    }
    if !super::delivery::enqueue(&txn, id).await? {
        return Err(AppError::conflict("webhook_delivery_pending"));
    }
    let now = Utc::now();
    delivery::Entity::update_many()
        .col_expr(C::State, Expr::value(DeliveryState::Pending.as_str()))
        .col_expr(C::NextAttemptAt, Expr::value(now))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        Entry::new("webhook.replayed", "webhook_delivery", id.to_string()).before(
            serde_json::json!({"state": d.state, "attempts": d.attempts, "endpoint": ep.id}),
        ),
    )
    .await?;
    txn.commit().await?;
    state.jobs().wake();
    let d = delivery::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(view(d, &urls(state).await?))
}
