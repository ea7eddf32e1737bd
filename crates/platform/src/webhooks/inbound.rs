//! Inbound webhooks: `POST /api/hooks/{source}` from the senders named in
//! `webhooks.inbound`, authenticated by their Standard Webhooks signature
//! (no user, no API key). A call is accepted when its signature matches,
//! its timestamp is within five minutes of now (either way), and its
//! `webhook-id` is new for that source; a sender's retry of a message
//! already received is answered 200 and not processed again (the unique
//! index on (source, message id) decides, so two replicas agree).
//!
//! The event is stored, and when a module registered a handler for the
//! source (`Module::inbound_webhooks`) a job hands it over, at least once,
//! outside the sender's request.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TryInsertResult,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::entity::inbound;
use super::runtime::InboundEvent;
use super::signature;
use crate::error::{AppError, AppResult, FieldError, FieldErrors, Problem};
use crate::http::Json;
use crate::http::pagination::{List, Page, PageQuery};
use crate::jobs::{self, Job, JobContext};
use crate::state::AppState;

/// How far a signed timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Longest `webhook-id` stored.
pub const MAX_MESSAGE_ID: usize = 255;

/// Where an inbound event stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboundState {
    /// Kept for admins: no module handles this source.
    Stored,
    /// Waiting for its handler.
    Queued,
    Processed,
    /// Its handler failed on every attempt.
    Failed,
}

impl InboundState {
    pub const ALL: [InboundState; 4] = [
        InboundState::Stored,
        InboundState::Queued,
        InboundState::Processed,
        InboundState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InboundState::Stored => "stored",
            InboundState::Queued => "queued",
            InboundState::Processed => "processed",
            InboundState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The answer to a sender.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InboundReceipt {
    /// The stored event.
    pub id: Uuid,
    /// The message had been received before; it was not processed again.
    pub duplicate: bool,
}

fn refused(status: StatusCode, code: &'static str, header: &str) -> AppError {
    let mut p = Problem::new(status, code);
    p.params.push(("header", header.to_owned()));
    p.params.push(("seconds", TOLERANCE_SECS.to_string()));
    AppError::Problem(Box::new(p.with_extension("header", header.into())))
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, AppError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| refused(StatusCode::UNAUTHORIZED, "webhook_header_missing", name))
}

/// Checks a call against the source's key: headers present, timestamp in
/// the window, signature valid. Returns the message id and signing time.
pub fn verify(
    key: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), AppError> {
    let id = header(headers, "webhook-id")?;
    let ts_text = header(headers, "webhook-timestamp")?;
    let sig = header(headers, "webhook-signature")?;
    if id.len() > MAX_MESSAGE_ID || id.chars().any(|c| c.is_control()) {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "webhook_header_invalid",
            "webhook-id",
        ));
    }
    let ts: i64 = ts_text.parse().map_err(|_| {
        refused(
            StatusCode::UNAUTHORIZED,
            "webhook_header_invalid",
            "webhook-timestamp",
        )
    })?;
    if (now.timestamp() - ts).abs() > TOLERANCE_SECS {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "webhook_timestamp_out_of_window",
            "webhook-timestamp",
        ));
    }
    if !signature::verify(key, id, ts_text, body, sig) {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "webhook_signature_invalid",
            "webhook-signature",
        ));
    }
    let signed_at = DateTime::from_timestamp(ts, 0).unwrap_or(now);
    Ok((id.to_owned(), signed_at))
}

/// Receive a signed webhook from a configured source (Standard Webhooks:
/// `webhook-id`, `webhook-timestamp`, `webhook-signature`).
#[utoipa::path(post, path = "/api/hooks/{source}", tag = "webhooks", security(()),
    params(
        ("source" = String, Path, description = "The sender, as named in webhooks.inbound"),
        ("webhook-id" = String, Header, description = "The sender's message id; a repeat is not processed again"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds; at most 5 minutes from now"),
        ("webhook-signature" = String, Header, description = "v1,<base64 HMAC-SHA256 of id.timestamp.body>"),
    ),
    request_body(content = Object, content_type = "application/json", description = "The event, signed as sent"),
    responses(
        (status = 202, description = "Stored; its handler runs in the background", body = InboundReceipt),
        (status = 200, description = "Already received; not processed again", body = InboundReceipt),
        (status = 401, description = "A header is missing, the timestamp is out of the window, or the signature does not match", content_type = "application/problem+json"),
        (status = 404, description = "No such source", content_type = "application/problem+json"),
    ))]
pub async fn receive_hook(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let hooks = state.webhooks();
    let Some(key) = hooks.source_key(&source) else {
        let mut p = Problem::new(StatusCode::NOT_FOUND, "webhook_source_unknown");
        p.params.push(("source", source.clone()));
        return Err(AppError::Problem(Box::new(p)));
    };
    let outcome = verify(key, &headers, &body, Utc::now());
    metrics::counter!("faena_webhooks_inbound_total", "source" => source.clone(),
        "outcome" => if outcome.is_ok() { "accepted" } else { "refused" })
    .increment(1);
    let (message_id, signed_at) = outcome?;
    let body = String::from_utf8(body.to_vec()).map_err(|_| AppError::BadRequest {
        code: "unreadable_body",
        params: Vec::new(),
    })?;
    let (id, duplicate) = store(&state, &source, &message_id, signed_at, body).await?;
    let status = if duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(InboundReceipt { id, duplicate })).into_response())
}

/// Stores an event once per (source, message id) and queues its handler.
/// Returns its id and whether it had been stored before.
async fn store(
    state: &AppState,
    source: &str,
    message_id: &str,
    signed_at: DateTime<Utc>,
    body: String,
) -> AppResult<(Uuid, bool)> {
    let id = Uuid::now_v7();
    let handled = state.webhooks().handler(source).is_some();
    let initial = if handled {
        InboundState::Queued
    } else {
        InboundState::Stored
    };
    let txn = state.begin_write().await?;
    let inserted = inbound::Entity::insert(inbound::ActiveModel {
        id: Set(id),
        source: Set(source.to_owned()),
        message_id: Set(message_id.to_owned()),
        signed_at: Set(signed_at),
        received_at: Set(Utc::now()),
        body: Set(body),
        state: Set(initial.as_str().to_owned()),
        processed_at: Set(None),
        error: Set(None),
    })
    .on_conflict(
        OnConflict::columns([inbound::Column::Source, inbound::Column::MessageId])
            .do_nothing()
            .to_owned(),
    )
    .do_nothing()
    .exec_without_returning(&txn)
    .await?;
    if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        let existing: Option<Uuid> = inbound::Entity::find()
            .select_only()
            .column(inbound::Column::Id)
            .filter(inbound::Column::Source.eq(source))
            .filter(inbound::Column::MessageId.eq(message_id))
            .into_tuple()
            .one(&txn)
            .await?;
        txn.commit().await?;
        tracing::info!(
            source,
            message_id,
            "inbound webhook repeated; not processed again"
        );
        return Ok((existing.unwrap_or(id), true));
    }
    if handled {
        jobs::enqueue(
            &txn,
            &Dispatch { event: id },
            super::dedup(format!("inbound:{id}")),
        )
        .await?;
    }
    txn.commit().await?;
    if handled {
        state.jobs().wake();
    }
    tracing::info!(source, message_id, %id, "inbound webhook stored");
    Ok((id, false))
}

/// Hands a stored inbound event to its source's handler.
#[derive(Debug, Serialize, Deserialize)]
pub struct Dispatch {
    pub event: Uuid,
}

#[async_trait::async_trait]
impl Job for Dispatch {
    const NAME: &'static str = "platform.webhooks.inbound";

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        use inbound::Column as C;
        let state = &ctx.state;
        let Some(event) = inbound::Entity::find_by_id(self.event)
            .one(state.db())
            .await?
        else {
            return Ok(());
        };
        if event.state == InboundState::Processed.as_str() {
            return Ok(());
        }
        let set_state = |s: InboundState, error: Option<String>| {
            inbound::Entity::update_many()
                .col_expr(C::State, Expr::value(s.as_str()))
                .col_expr(C::Error, Expr::value(error))
                .col_expr(
                    C::ProcessedAt,
                    Expr::value((s == InboundState::Processed).then(Utc::now)),
                )
                .filter(C::Id.eq(self.event))
                .exec(state.db())
        };
        let Some(handler) = state.webhooks().handler(&event.source).cloned() else {
            // The module that handled it is switched off: keep it for admins.
            set_state(InboundState::Stored, None).await?;
            return Ok(());
        };
        let input = InboundEvent {
            id: event.id,
            source: event.source,
            message_id: event.message_id,
            signed_at: event.signed_at,
            received_at: event.received_at,
            body: event.body,
        };
        match (handler.handle)(state.clone(), input).await {
            Ok(()) => {
                set_state(InboundState::Processed, None).await?;
                Ok(())
            }
            Err(e) => {
                let last = ctx.attempt >= jobs::max_attempts::<Dispatch>();
                let s = if last {
                    InboundState::Failed
                } else {
                    InboundState::Queued
                };
                set_state(s, Some(format!("{e:#}"))).await?;
                Err(e)
            }
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
pub struct InboundFilter {
    /// Only this source.
    pub source: Option<String>,
    /// `stored`, `queued`, `processed` or `failed`.
    pub state: Option<String>,
}

/// A received event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InboundView {
    pub id: Uuid,
    pub source: String,
    pub message_id: String,
    pub signed_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub state: InboundState,
    pub processed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// The body (JSON when it parses, else its text); in the detail only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

fn view(m: inbound::Model, with_payload: bool) -> InboundView {
    let payload = with_payload.then(|| {
        serde_json::from_str(&m.body).unwrap_or_else(|_| serde_json::Value::String(m.body.clone()))
    });
    InboundView {
        state: InboundState::parse(&m.state).unwrap_or(InboundState::Stored),
        id: m.id,
        source: m.source,
        message_id: m.message_id,
        signed_at: m.signed_at,
        received_at: m.received_at,
        processed_at: m.processed_at,
        error: m.error,
        payload,
    }
}

/// Received events, newest first.
/// Events, newest first: the position is the last one's id (UUIDv7).
const INBOUND: List<Uuid> = List::new("platform.webhooks.inbound");

pub async fn list(
    state: &AppState,
    f: &InboundFilter,
    page: &PageQuery,
) -> AppResult<Page<InboundView>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = INBOUND.read(page, &mut errors);
    let wanted = f.state.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
        errors.take(InboundState::parse(s).ok_or_else(|| {
            FieldError::new("state", "one_of").with(
                "allowed",
                InboundState::ALL.map(InboundState::as_str).join(", "),
            )
        }))
    });
    errors.finish()?;
    let mut q = inbound::Entity::find().order_by_desc(inbound::Column::Id);
    if let Some(c) = cursor {
        q = q.filter(inbound::Column::Id.lt(c));
    }
    if let Some(s) = f.source.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(inbound::Column::Source.eq(s));
    }
    if let Some(s) = wanted {
        q = q.filter(inbound::Column::State.eq(s.as_str()));
    }
    let rows = q.limit(limit + 1).all(state.db()).await?;
    let rows: Vec<InboundView> = rows.into_iter().map(|m| view(m, false)).collect();
    Ok(INBOUND.page(rows, limit, |e| e.id))
}

pub async fn find(state: &AppState, id: Uuid) -> AppResult<InboundView> {
    inbound::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .map(|m| view(m, true))
        .ok_or(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        h.insert("webhook-timestamp", HeaderValue::from(ts));
        h.insert("webhook-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    fn code(r: Result<(String, DateTime<Utc>), AppError>) -> String {
        match r {
            Err(AppError::Problem(p)) => p.code.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_window_is_five_minutes_each_way() {
        let key = signature::decode_secret(&signature::new_secret()).unwrap();
        let now = Utc::now();
        let body = br#"{"type":"ping"}"#;
        for offset in [-TOLERANCE_SECS, 0, TOLERANCE_SECS] {
            let ts = now.timestamp() + offset;
            let sig = signature::sign(&key, "msg_1", ts, body);
            assert!(verify(&key, &headers("msg_1", ts, &sig), body, now).is_ok());
        }
        for offset in [-TOLERANCE_SECS - 1, TOLERANCE_SECS + 1] {
            let ts = now.timestamp() + offset;
            let sig = signature::sign(&key, "msg_1", ts, body);
            assert_eq!(
                code(verify(&key, &headers("msg_1", ts, &sig), body, now)),
                "webhook_timestamp_out_of_window"
            );
        }
        let ts = now.timestamp();
        let sig = signature::sign(&key, "msg_1", ts, body);
        assert_eq!(
            code(verify(&key, &headers("msg_1", ts, &sig), b"{}", now)),
            "webhook_signature_invalid"
        );
        let mut h = headers("msg_1", ts, &sig);
        h.remove("webhook-signature");
        assert_eq!(code(verify(&key, &h, body, now)), "webhook_header_missing");
    }
}
