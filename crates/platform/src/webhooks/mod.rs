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
pub mod signature;
pub mod target;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::perms;
use crate::config::WebhooksConfig;
use crate::crypto::EncryptedColumn;
use crate::jobs::{Enqueue, JobType};
use crate::state::AppState;
use entity::{endpoint, message};
pub use inbound::{InboundEvent, InboundHandler};

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

type Handlers = HashMap<&'static str, InboundHandler>;

/// What webhooks need at run time: the delivery client, the inbound
/// sources' keys and the modules' inbound handlers. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks(Arc<Inner>);

struct Inner {
    client: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
    sources: HashMap<String, Vec<u8>>,
    handlers: Handlers,
    events: Vec<&'static str>,
}

/// Longest inbound source name.
const MAX_SOURCE_LEN: usize = 64;

fn is_source_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SOURCE_LEN
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Webhooks {
    /// Checks the configured inbound secrets (a bad one stops the start)
    /// and builds the delivery client.
    /// `events` are the event types the modules send (`Module::webhook_events`).
    pub fn new(
        config: &WebhooksConfig,
        handlers: Vec<InboundHandler>,
        events: Vec<&'static str>,
    ) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        let mut sources = HashMap::new();
        for (name, source) in &config.inbound {
            anyhow::ensure!(
                is_source_name(name),
                "webhooks.inbound.{name}: a source name is 1 to {MAX_SOURCE_LEN} lowercase letters, digits, `_` or `-`"
            );
            let key = signature::decode_secret(source.secret.expose_secret())
                .map_err(|e| anyhow::anyhow!("webhooks.inbound.{name}.secret: {e}"))?;
            sources.insert(name.clone(), key);
        }
        let mut map = Handlers::new();
        for h in handlers {
            if !sources.contains_key(h.source) {
                tracing::warn!(
                    source = h.source,
                    "an inbound webhook handler has no webhooks.inbound.<source>.secret; its calls are refused"
                );
            }
            if map.insert(h.source, h).is_some() {
                anyhow::bail!("two inbound webhook handlers share a source");
            }
        }
        let timeout = Duration::from_secs(config.timeout_secs.max(1));
        Ok(Webhooks(Arc::new(Inner {
            client: target::client(timeout, config.allow_private_targets)?,
            allow_private: config.allow_private_targets,
            timeout,
            sources,
            handlers: map,
            events,
        })))
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.0.client
    }

    pub fn allow_private_targets(&self) -> bool {
        self.0.allow_private
    }

    pub fn timeout(&self) -> Duration {
        self.0.timeout
    }

    /// The event types the modules send, for subscribers to choose from.
    pub fn events(&self) -> &[&'static str] {
        &self.0.events
    }

    /// The HMAC key of an inbound source.
    pub fn source_key(&self, source: &str) -> Option<&[u8]> {
        self.0.sources.get(source).map(Vec::as_slice)
    }

    /// Configured inbound sources, sorted.
    pub fn sources(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.0.sources.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    pub fn handler(&self, source: &str) -> Option<&InboundHandler> {
        self.0.handlers.get(source)
    }
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
