//! Webhooks, both ways, per the Standard Webhooks specification.
//!
//! Outbound: admins register endpoints (URL, the event types they want, a
//! secret kept encrypted). A module calls [`emit`] inside the transaction of
//! its change; that stores the message once and enqueues one delivery job
//! per matching active endpoint, so a change that rolls back sends nothing
//! and one that commits is delivered at least once. Each attempt is signed
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`) and logged;
//! failures are retried on the fixed [`SCHEDULE`], after which the endpoint
//! is marked failing and gets nothing more until an admin re-enables it.
//! Deliveries go only to public addresses unless configured otherwise (see
//! `target`).
//!
//! Inbound: `POST /api/hooks/{source}` for the sources in configuration,
//! checked for signature, timestamp window and replay, stored once, and
//! handed to the module that registered a handler for the source
//! (`Module::inbound_webhooks`) through a job.
//!
//! It owns the `faena_webhook_*` tables and never reads another module's.
//! See docs/decisions/0015-webhooks.md.

pub mod api;
pub mod deliveries;
pub mod delivery;
pub mod endpoints;
pub mod entity;
pub mod inbound;
pub mod pages;
pub mod runtime;
pub mod signature;
pub mod target;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::perms;
use crate::crypto::EncryptedColumn;
use crate::jobs::{Enqueue, JobType};
use crate::state::AppState;
use entity::{endpoint, message};
pub use runtime::InboundEvent;

/// The delivery client, inbound sources and handlers (see `runtime`).
pub type Webhooks = runtime::Webhooks<AppState>;
/// A module's handler of one inbound source (see `runtime`).
pub type InboundHandler = runtime::InboundHandler<AppState>;

/// Waits before each retry of a failed delivery (the Standard Webhooks
/// schedule): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. Eight attempts in
/// all, over about 27½ hours.
pub const SCHEDULE: &[Duration] = &[
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The realtime topic of webhook notices (an endpoint turned failing),
/// readable with `platform.webhooks.read`.
pub const TOPIC: (&str, crate::auth::Permission) = ("webhooks", perms::WEBHOOKS_READ);

/// Where endpoint secrets are stored encrypted (for `faena keys rotate`).
pub const ENCRYPTED_COLUMNS: &[EncryptedColumn] = &[EncryptedColumn {
    table: "faena_webhook_endpoints",
    id_column: "id",
    column: "secret",
    aad_prefix: SECRET_AAD,
}];

const SECRET_AAD: &str = "webhooks.endpoint_secret";

fn secret_aad(id: Uuid) -> String {
    format!("{SECRET_AAD}:{id}")
}

/// Longest event type.
pub const MAX_EVENT_TYPE_LEN: usize = 100;

/// Whether `s` is an event type: dot-separated segments of lowercase
/// letters, digits and `_` (`order.status_changed`).
pub fn is_event_type(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_EVENT_TYPE_LEN
        && s.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// Whether `s` is what an endpoint may subscribe to: an event type, a
/// prefix ending in `.*` (`order.*`), or `*` for everything.
pub fn is_event_pattern(s: &str) -> bool {
    s == "*" || is_event_type(s.strip_suffix(".*").unwrap_or(s))
}

/// Whether a subscription pattern covers an event type.
pub fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

/// An endpoint's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    /// Receives new messages.
    Active,
    /// A delivery ran out of retries: nothing more is sent until an admin
    /// re-enables it.
    Failing,
    /// Switched off by an admin.
    Disabled,
}

impl EndpointState {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Active => "active",
            EndpointState::Failing => "failing",
            EndpointState::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Failing, Self::Disabled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Where one message stands with one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first attempt or for a retry.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt of the schedule failed.
    Failed,
    /// Not sent: the endpoint was failing or disabled when its turn came.
    Skipped,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 4] = [
        DeliveryState::Pending,
        DeliveryState::Succeeded,
        DeliveryState::Failed,
        DeliveryState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
            DeliveryState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The `webhook-id` of a message.
pub fn message_header_id(id: Uuid) -> String {
    format!("msg_{}", id.simple())
}

/// Sends `data` as an event of `event_type` to every active endpoint
/// subscribed to it. Call it with the transaction of the change the event
/// reports: the message and its deliveries commit or roll back with it.
/// After the commit, `state.jobs().wake()` starts the deliveries at once
/// (otherwise the worker finds them within its poll interval).
///
/// Returns the message id, or `None` when no endpoint wants the event.
pub async fn emit(
    db: &impl ConnectionTrait,
    event_type: &str,
    data: serde_json::Value,
) -> Result<Option<Uuid>, DbErr> {
    if !is_event_type(event_type) {
        return Err(DbErr::Custom(format!(
            "`{event_type}` is not an event type (lowercase segments separated by dots)"
        )));
    }
    let endpoints = endpoint::Entity::find()
        .filter(endpoint::Column::State.eq(EndpointState::Active.as_str()))
        .all(db)
        .await?;
    let targets: Vec<_> = endpoints
        .into_iter()
        .filter(|e| {
            endpoints::parse_patterns(&e.event_types)
                .iter()
                .any(|p| pattern_matches(p, event_type))
        })
        .collect();
    if targets.is_empty() {
        return Ok(None);
    }
    let now = Utc::now();
    let id = Uuid::now_v7();
    let body = serde_json::json!({
        "type": event_type,
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    });
    message::Entity::insert(message::ActiveModel {
        id: Set(id),
        event_type: Set(event_type.to_owned()),
        body: Set(body.to_string()),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    for target in targets {
        let delivery_id = Uuid::now_v7();
        entity::delivery::Entity::insert(entity::delivery::ActiveModel {
            id: Set(delivery_id),
            message_id: Set(id),
            endpoint_id: Set(target.id),
            event_type: Set(event_type.to_owned()),
            state: Set(DeliveryState::Pending.as_str().to_owned()),
            attempts: Set(0),
            last_status: Set(None),
            last_error: Set(None),
            next_attempt_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(db)
        .await?;
        delivery::enqueue(db, delivery_id).await?;
    }
    Ok(Some(id))
}

/// The webhook job types (registered with the platform's).
pub fn job_types() -> Vec<JobType> {
    vec![
        JobType::of::<delivery::Deliver>(),
        JobType::of::<inbound::Dispatch>(),
    ]
}

/// Enqueues with a deduplication key, so one delivery never has two live
/// jobs.
fn dedup(key: String) -> Enqueue {
    Enqueue {
        dedup_key: Some(key),
        run_at: None,
    }
}

/// Publishes a notice after a commit; a failure is logged, never returned.
fn publish(state: &AppState, kind: &str, data: serde_json::Value) {
    if let Err(e) = state.realtime().publish(TOPIC.0, kind, data) {
        tracing::warn!(error = %e, kind, "could not publish a webhook notice");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_and_patterns() {
        assert!(is_event_type("order.status_changed"));
        assert!(is_event_type("ping"));
        assert!(!is_event_type("Order.created"));
        assert!(!is_event_type("order..created"));
        assert!(!is_event_type("order.*"));
        assert!(!is_event_type(""));
        assert!(is_event_pattern("*"));
        assert!(is_event_pattern("order.*"));
        assert!(is_event_pattern("order.created"));
        assert!(!is_event_pattern("order*"));
        assert!(!is_event_pattern("*.created"));
        assert!(pattern_matches("*", "client.created"));
        assert!(pattern_matches("order.*", "order.created"));
        assert!(pattern_matches("order.*", "order.line.added"));
        assert!(!pattern_matches("order.*", "orders.created"));
        assert!(!pattern_matches("order.*", "order"));
        assert!(pattern_matches("order.created", "order.created"));
        assert!(!pattern_matches("order.created", "order.created_late"));
    }

    #[test]
    fn states_round_trip() {
        for s in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
        for s in [
            EndpointState::Active,
            EndpointState::Failing,
            EndpointState::Disabled,
        ] {
            assert_eq!(EndpointState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn a_delivery_is_retried_on_the_standard_webhooks_schedule() {
        // What the worker waits after each failed attempt of a delivery
        // job, and how many attempts it gets: the receiver's contract.
        let kind = crate::jobs::JobType::of::<delivery::Deliver>();
        let waits: Vec<u64> = (1..=7).map(|n| kind.delay(n).as_secs()).collect();
        assert_eq!(waits, [5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(kind.retry.max_attempts, 8, "the first try and 7 retries");
    }
}
