//! One delivery: a job per (message, endpoint) that signs and POSTs the
//! message, logs the attempt, and on failure lets the queue retry it on
//! the webhook [`SCHEDULE`](super::SCHEDULE). When the last attempt fails
//! the endpoint is marked failing.
//!
//! No transaction is open while the endpoint is being called: the attempt
//! is written afterwards, in one short transaction with the delivery's new
//! state (and the endpoint's, when it turns failing).

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::{attempt, delivery, endpoint, message};
use super::{DeliveryState, EndpointState, SCHEDULE, signature, target};
use crate::audit::{self, Entry};
use crate::auth::Actor;
use crate::jobs::{self, Job, JobContext};
use crate::state::AppState;

/// Bytes of a response body kept in the delivery log.
pub const EXCERPT_BYTES: usize = 1_024;

/// Delivers one message to one endpoint.
#[derive(Debug, Serialize, Deserialize)]
pub struct Deliver {
    pub delivery: Uuid,
}

#[async_trait::async_trait]
impl Job for Deliver {
    const NAME: &'static str = "platform.webhooks.deliver";

    fn retry_schedule() -> Option<&'static [Duration]> {
        Some(SCHEDULE)
    }

    fn timeout() -> Duration {
        Duration::from_secs(300)
    }

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        deliver(ctx, self.delivery).await
    }
}

/// Enqueues the delivery job of `delivery` (none if one is still live).
/// Returns whether a job was queued.
pub async fn enqueue(db: &impl ConnectionTrait, delivery: Uuid) -> Result<bool, DbErr> {
    let queued = jobs::enqueue(
        db,
        &Deliver { delivery },
        super::dedup(format!("delivery:{delivery}")),
    )
    .await?;
    Ok(queued.is_some())
}

/// What one attempt came to.
struct Outcome {
    started_at: chrono::DateTime<Utc>,
    duration: Duration,
    status: Option<u16>,
    excerpt: Option<String>,
    error: Option<String>,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// What went wrong, for the log and the job's last error.
    fn failure(&self) -> String {
        match (&self.error, self.status) {
            (Some(e), _) => e.clone(),
            (None, Some(s)) => format!("the endpoint answered {s}"),
            (None, None) => "no answer".into(),
        }
    }
}

async fn deliver(ctx: &JobContext, id: Uuid) -> anyhow::Result<()> {
    let state = &ctx.state;
    let db = state.db();
    // Gone with its endpoint, or already delivered by an earlier run whose
    // outcome was lost: nothing to do.
    let Some(d) = delivery::Entity::find_by_id(id).one(db).await? else {
        return Ok(());
    };
    if d.state == DeliveryState::Succeeded.as_str() {
        return Ok(());
    }
    let (Some(ep), Some(msg)) = (
        endpoint::Entity::find_by_id(d.endpoint_id).one(db).await?,
        message::Entity::find_by_id(d.message_id).one(db).await?,
    ) else {
        return Ok(());
    };
    if ep.state != EndpointState::Active.as_str() {
        skip(state, &d, &ep.state).await?;
        return Ok(());
    }
    let outcome = attempt_once(state, &ep, &msg).await;
    metrics::counter!("faena_webhook_attempts_total",
        "outcome" => if outcome.succeeded() { "succeeded" } else { "failed" })
    .increment(1);
    let last = ctx.attempt >= jobs::max_attempts::<Deliver>();
    let turned_failing = record(state, &d, &ep, &outcome, ctx.attempt, last).await?;
    if turned_failing {
        super::publish(
            state,
            "webhook.endpoint_failing",
            serde_json::json!({"id": ep.id, "url": ep.url}),
        );
    }
    if outcome.succeeded() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(outcome.failure()))
    }
}

/// Signs and sends the message once.
async fn attempt_once(state: &AppState, ep: &endpoint::Model, msg: &message::Model) -> Outcome {
    let started_at = Utc::now();
    let clock = Instant::now();
    let result = send(state, ep, msg).await;
    let duration = clock.elapsed();
    match result {
        Ok((status, excerpt)) => Outcome {
            started_at,
            duration,
            status: Some(status),
            excerpt,
            error: None,
        },
        Err(error) => Outcome {
            started_at,
            duration,
            status: None,
            excerpt: None,
            error: Some(error),
        },
    }
}

async fn send(
    state: &AppState,
    ep: &endpoint::Model,
    msg: &message::Model,
) -> Result<(u16, Option<String>), String> {
    let hooks = state.webhooks();
    let url = reqwest::Url::parse(&ep.url).map_err(|e| format!("invalid URL: {e}"))?;
    if !hooks.allow_private_targets()
        && let Some(refused) = target::refused_literal(&url)
    {
        return Err(refused.to_string());
    }
    let secret = state
        .keys()
        .decrypt(&ep.secret, &super::secret_aad(ep.id))
        .map_err(|e| format!("the endpoint's secret cannot be read: {e}"))?;
    let key = signature::decode_secret(&secret).map_err(|e| e.to_string())?;
    let msg_id = super::message_header_id(msg.id);
    let timestamp = Utc::now().timestamp();
    let signature = signature::sign(&key, &msg_id, timestamp, msg.body.as_bytes());
    let response = hooks
        .client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(msg.body.clone())
        .send()
        .await
        .map_err(|e| describe(&e, hooks.timeout()))?;
    let status = response.status().as_u16();
    Ok((status, excerpt(response).await))
}

/// The first bytes of a response body, as text.
async fn excerpt(mut response: reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    if bytes.is_empty() {
        return None;
    }
    let truncated = bytes.len() > EXCERPT_BYTES;
    bytes.truncate(EXCERPT_BYTES);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    // A multi-byte character cut in half decodes as U+FFFD: drop it.
    if truncated && text.ends_with('\u{fffd}') {
        text.pop();
    }
    if truncated {
        text.push('…');
    }
    Some(text)
}

/// A sending error in words, with its causes (the guarded resolver's
/// refusal among them).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<target::Refused>() {
            return refused.to_string();
        }
        source = s.source();
    }
    if e.is_timeout() {
        return format!("timed out after {} s", timeout.as_secs());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Writes the attempt and the delivery's new state; on the last failed
/// attempt marks the endpoint failing. Returns whether it did.
async fn record(
    state: &AppState,
    d: &delivery::Model,
    ep: &endpoint::Model,
    outcome: &Outcome,
    job_attempt: u32,
    last: bool,
) -> anyhow::Result<bool> {
    use delivery::Column as C;
    let now = Utc::now();
    let ok = outcome.succeeded();
    let txn = state.begin_write().await?;
    // Numbered over the delivery's whole life, replays included.
    let current = delivery::Entity::find_by_id(d.id)
        .one(&txn)
        .await?
        .map_or(d.attempts, |c| c.attempts);
    let number = current + 1;
    attempt::Entity::insert(attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        delivery_id: Set(d.id),
        attempt: Set(number),
        started_at: Set(outcome.started_at),
        duration_ms: Set(i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX)),
        status_code: Set(outcome.status.map(i32::from)),
        response_excerpt: Set(outcome.excerpt.clone()),
        error: Set(outcome.error.clone()),
    })
    .exec_without_returning(&txn)
    .await?;
    let (new_state, next) = if ok {
        (DeliveryState::Succeeded, None)
    } else if last {
        (DeliveryState::Failed, None)
    } else {
        let i = usize::try_from(job_attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        let wait = SCHEDULE.get(i).copied().unwrap_or_default();
        (DeliveryState::Pending, Some(now + wait))
    };
    delivery::Entity::update_many()
        .col_expr(C::State, Expr::value(new_state.as_str()))
        .col_expr(C::Attempts, Expr::value(number))
        .col_expr(C::LastStatus, Expr::value(outcome.status.map(i32::from)))
        .col_expr(C::LastError, Expr::value((!ok).then(|| outcome.failure())))
        .col_expr(C::NextAttemptAt, Expr::value(next))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(d.id))
        .exec(&txn)
        .await?;
    let mut turned_failing = false;
    if !ok && last {
        let changed = endpoint::Entity::update_many()
            .col_expr(
                endpoint::Column::State,
                Expr::value(EndpointState::Failing.as_str()),
            )
            .col_expr(endpoint::Column::FailingSince, Expr::value(now))
            .col_expr(endpoint::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                endpoint::Column::Version,
                Expr::col(endpoint::Column::Version).add(1),
            )
            .filter(endpoint::Column::Id.eq(ep.id))
            .filter(endpoint::Column::State.eq(EndpointState::Active.as_str()))
            .exec(&txn)
            .await?;
        if changed.rows_affected == 1 {
            turned_failing = true;
            audit::record(
                &txn,
                &Actor::system("webhooks"),
                Entry::new(
                    "webhook.endpoint_failing",
                    "webhook_endpoint",
                    ep.id.to_string(),
                )
                .before(serde_json::json!({"state": ep.state}))
                .after(serde_json::json!({
                    "state": EndpointState::Failing.as_str(),
                    "delivery": d.id,
                    "error": outcome.failure(),
                })),
            )
            .await?;
        }
    }
    txn.commit().await?;
    if turned_failing {
        tracing::warn!(endpoint = %ep.id, url = %ep.url, "webhook endpoint marked failing");
    }
    Ok(turned_failing)
}

/// Marks a delivery skipped: its endpoint is not active.
async fn skip(state: &AppState, d: &delivery::Model, endpoint_state: &str) -> Result<(), DbErr> {
    use delivery::Column as C;
    delivery::Entity::update_many()
        .col_expr(C::State, Expr::value(DeliveryState::Skipped.as_str()))
        .col_expr(
            C::LastError,
            Expr::value(format!("not sent: the endpoint is {endpoint_state}")),
        )
        .col_expr(
            C::NextAttemptAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(C::UpdatedAt, Expr::value(Utc::now()))
        .filter(C::Id.eq(d.id))
        .filter(C::State.eq(DeliveryState::Pending.as_str()))
        .exec(state.db())
        .await?;
    Ok(())
}
