//! What webhooks need at run time, built once at start: the delivery
//! client, the inbound sources' keys, the modules' inbound handlers and the
//! event types they send. Generic over `S`, what a handler is given (the
//! application state), so that state can hold it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{signature, target};
use crate::config::WebhooksConfig;

/// An inbound event, as its handler receives it.
#[derive(Debug, Clone)]
pub struct InboundEvent {
    pub id: Uuid,
    pub source: String,
    /// The sender's `webhook-id`.
    pub message_id: String,
    /// The sender's `webhook-timestamp`.
    pub signed_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// The body exactly as received (verified).
    pub body: String,
}

impl InboundEvent {
    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(&self.body)
    }
}

type HandleFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type HandleFn<S> = Arc<dyn Fn(S, InboundEvent) -> HandleFuture + Send + Sync>;

/// A module's handler of one inbound source's events. It runs in a job, at
/// least once per event: it must be idempotent (the event id helps).
pub struct InboundHandler<S> {
    pub source: &'static str,
    pub(crate) handle: HandleFn<S>,
}

impl<S> Clone for InboundHandler<S> {
    fn clone(&self) -> Self {
        InboundHandler {
            source: self.source,
            handle: self.handle.clone(),
        }
    }
}

impl<S> InboundHandler<S> {
    pub fn new<F, Fut>(source: &'static str, handle: F) -> Self
    where
        F: Fn(S, InboundEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        InboundHandler {
            source,
            handle: Arc::new(move |state, event| Box::pin(handle(state, event))),
        }
    }
}

type Handlers<S> = HashMap<&'static str, InboundHandler<S>>;

/// What webhooks need at run time: the delivery client, the inbound
/// sources' keys and the modules' inbound handlers. Cheap to clone.
pub struct Webhooks<S>(Arc<Inner<S>>);

impl<S> Clone for Webhooks<S> {
    fn clone(&self) -> Self {
        Webhooks(self.0.clone())
    }
}

struct Inner<S> {
    client: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
    sources: HashMap<String, Vec<u8>>,
    handlers: Handlers<S>,
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

impl<S> Webhooks<S> {
    /// Checks the configured inbound secrets (a bad one stops the start)
    /// and builds the delivery client.
    /// `events` are the event types the modules send (`Module::webhook_events`).
    pub fn new(
        config: &WebhooksConfig,
        handlers: Vec<InboundHandler<S>>,
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
        let mut map = Handlers::<S>::new();
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

    pub fn handler(&self, source: &str) -> Option<&InboundHandler<S>> {
        self.0.handlers.get(source)
    }
}
