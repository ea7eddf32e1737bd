//! Realtime: events that modules publish after a commit, delivered to the
//! WebSocket (`/api/realtime`) and Server-Sent Events (`/api/events`)
//! subscribers of every replica.
//!
//! Owns this process's event hub (a Tokio broadcast channel and a replay
//! buffer of the latest events), the bus that carries events between
//! replicas (`bus`: Redis pub/sub when `redis.url` is set, else PostgreSQL
//! LISTEN/NOTIFY on PostgreSQL, else nothing), and the two endpoints
//! (`api`). It does not decide who may read what: each module declares its
//! topics with the permission needed to read them (`Module::topics`), and a
//! subscription is checked against the caller's permissions.
//!
//! Events are notices, not records: they say what changed (`order.status_changed`
//! of order `ORD-000123`) and clients re-read through the ordinary,
//! permission-checked routes. Delivery is at most once; a subscriber that
//! may have missed something is told to re-read (`resync`). See
//! docs/decisions/0013-realtime.md.
//!
//! ```ignore
//! // In a service, after `txn.commit()`:
//! state.realtime().publish("orders", "order.status_changed", json!({"number": n}))?;
//! ```

pub mod api;
mod buffer;
mod bus;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use utoipa::ToSchema;
use uuid::Uuid;

pub use buffer::{Replay, ReplayBuffer};
pub use bus::BusKind;

use crate::config::Config;

/// Events each node keeps for `Last-Event-ID` resumption.
pub const REPLAY_CAPACITY: usize = 1_000;

/// Largest serialised event. PostgreSQL refuses NOTIFY payloads of 8000
/// bytes or more; the same limit applies on every bus so that behaviour does
/// not depend on the deployment. Larger events lose their `data` (and say so
/// with `truncated`).
pub const MAX_EVENT_BYTES: usize = 7_000;

/// Longest event type (`order.status_changed`).
pub const MAX_KIND_LEN: usize = 100;

/// Signals a subscriber may lag behind before it is told to resync.
const CHANNEL_CAPACITY: usize = 1_024;

/// Events waiting to be sent to the bus (they queue while it reconnects).
const OUTBOX_CAPACITY: usize = 1_024;

/// A stream ends after this long; the client reconnects (EventSource does
/// so by itself, resuming with `Last-Event-ID`), which checks its
/// credentials and permissions again. (A change of the caller's access is
/// acted on at once: see `AccessChange`.)
pub const MAX_STREAM_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// One thing that happened, as subscribers receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// UUIDv7, unique across replicas: the SSE `id:` a client sends back as
    /// `Last-Event-ID`.
    pub id: String,
    /// What the event is about (`orders`); reading it needs the topic's
    /// permission.
    pub topic: String,
    /// What happened (`order.created`, `order.status_changed` …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Which record, and a few facts about the change; re-read the record
    /// for the rest.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// When it was published (RFC 3339, UTC).
    pub at: DateTime<Utc>,
    /// The event was too large to travel between replicas, so `data` was
    /// dropped: re-read the resource.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The event as JSON, made once and shared by every subscriber's
    /// stream (ten thousand SSE subscribers: one serialisation, not ten
    /// thousand).
    #[serde(skip)]
    pub(crate) json: Cached,
    /// The event as an SSE frame (`id:` and `data:` lines), made once and
    /// shared the same way.
    #[serde(skip)]
    pub(crate) sse: Cached<bytes::Bytes>,
}

impl Event {
    /// This event as JSON (what an SSE `data:` line carries).
    pub fn json(&self) -> &str {
        self.json
            .0
            .get_or_init(|| serde_json::to_string(self).unwrap_or_else(|_| "{}".into()))
    }

    /// This event as a Server-Sent Events frame: `id:` and one `data:`
    /// line (compact JSON has no line breaks), then a blank line.
    pub fn sse_frame(&self) -> bytes::Bytes {
        self.sse
            .0
            .get_or_init(|| {
                let json = self.json();
                let mut frame = String::with_capacity(json.len() + self.id.len() + 16);
                frame.push_str("id: ");
                frame.push_str(&self.id);
                frame.push_str("\ndata: ");
                frame.push_str(json);
                frame.push_str("\n\n");
                bytes::Bytes::from(frame)
            })
            .clone()
    }
}

/// A cache, not part of the event: always equal, never printed.
#[derive(Clone, Default)]
pub(crate) struct Cached<T = String>(std::sync::OnceLock<T>);

impl<T> PartialEq for Cached<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Cached<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

/// What the hub hands its subscribers.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Event(Arc<Event>),
    /// Events may have been missed (a slow subscriber fell behind, or the
    /// bus between replicas dropped for a while): re-read what is shown.
    Resync,
    /// Someone's access changed: streams of the callers it concerns check
    /// their credentials and permissions again, and close or narrow.
    Access(AccessChange),
}

/// Whose access changed, announced on every replica when a user is
/// demoted, deactivated, deleted or signs out, a role's permissions change
/// or an API key is revoked. Open streams check their access again when one
/// concerns them; every replica's role cache forgets a changed role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "of", content = "id", rename_all = "snake_case")]
pub enum AccessChange {
    /// A user's role, state, password or sign-ins.
    User(Uuid),
    /// A role's permissions (every holder of the role).
    Role(String),
    /// An API key (revoked).
    ApiKey(Uuid),
    /// Anyone's, as far as this node knows (the bus between replicas was
    /// down, so announcements may have been missed).
    All,
}

impl AccessChange {
    /// Whether this change may alter what `principal` may do.
    pub fn concerns(&self, principal: &crate::auth::Principal) -> bool {
        use crate::auth::principal::Subject;
        match (self, &principal.subject) {
            (AccessChange::All, _) => true,
            (AccessChange::User(changed), Subject::User { id, .. }) => changed == id,
            (AccessChange::Role(changed), Subject::User { role, .. }) => changed == role,
            (AccessChange::ApiKey(changed), Subject::ApiKey { id, .. }) => changed == id,
            _ => false,
        }
    }

    /// Whether role caches must forget what they hold.
    pub fn touches_roles(&self) -> bool {
        matches!(self, AccessChange::Role(_) | AccessChange::All)
    }
}

/// Why an event was not published. These are programming errors (an
/// undeclared topic, an unserialisable payload); a caller that has already
/// committed logs them and carries on.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("topic `{0}` is not declared by any enabled module (Module::topics)")]
    UnknownTopic(String),
    #[error("event type must be 1 to {MAX_KIND_LEN} characters: `{0}`")]
    InvalidKind(String),
    #[error("event data cannot be serialised: {0}")]
    Data(#[from] serde_json::Error),
}

struct StreamCaps {
    max: usize,
    max_per_owner: usize,
    open: Mutex<StreamCount>,
    warned: crate::http::overload::Throttle,
}

#[derive(Default)]
struct StreamCount {
    total: usize,
    by_owner: HashMap<String, usize>,
}

/// Which stream cap refused a new stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamCap {
    /// `http.max_streams`: the server's.
    Global,
    /// `http.max_streams_per_user`: the caller's.
    Owner,
}

impl StreamCap {
    pub fn label(self) -> &'static str {
        match self {
            StreamCap::Global => "global",
            StreamCap::Owner => "user",
        }
    }
}

/// One open stream's place; dropping it frees the place.
pub struct StreamTicket {
    caps: Arc<StreamCaps>,
    owner: String,
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        let mut open = self.caps.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_owner.get_mut(&self.owner) {
            *n -= 1;
            if *n == 0 {
                open.by_owner.remove(&self.owner);
            }
        }
        metrics::gauge!("faena_realtime_streams_open").set(open.total as f64);
    }
}

/// The realtime hub of this process. Cheap to clone.
#[derive(Clone)]
pub struct Realtime(Arc<Hub>);

struct Hub {
    /// Tells this node's events from other replicas' on the bus.
    node: Uuid,
    /// Topic → permission needed to read it.
    topics: HashMap<&'static str, &'static str>,
    sender: broadcast::Sender<Signal>,
    /// Held while a signal is buffered *and* broadcast, so a new subscriber
    /// sees each signal exactly once: in its replay or live.
    buffer: Mutex<ReplayBuffer>,
    bus: BusKind,
    /// Serialised envelopes for the bus task; `None` without a bus.
    outbox: Option<mpsc::Sender<String>>,
    /// Whether this node currently receives other replicas' events.
    connected: watch::Receiver<bool>,
    /// Set once at shutdown: every stream ends so connections can close.
    shutdown: watch::Sender<bool>,
    /// Streams open at once, in all and per owner (`http.max_streams`).
    streams: Arc<StreamCaps>,
    /// Dropped with the hub, which stops the bus tasks.
    _alive: watch::Sender<()>,
}

impl Realtime {
    /// The hub for `config`, with the topics the enabled modules declare.
    /// Starts the bus tasks (they connect, and reconnect, in the
    /// background); must run inside the Tokio runtime.
    ///
    /// Fails on a topic declared twice with different permissions, a topic
    /// whose permission nobody declares, or an unusable Redis URL.
    pub fn start(
        config: &Config,
        db: &DatabaseConnection,
        topics: &[(&'static str, &'static str)],
        permissions: &[&'static str],
    ) -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        for (topic, permission) in topics {
            anyhow::ensure!(
                permissions.contains(permission),
                "realtime topic `{topic}` needs permission `{permission}`, which no module declares"
            );
            if let Some(previous) = map.insert(*topic, *permission) {
                anyhow::ensure!(
                    previous == *permission,
                    "realtime topic `{topic}` is declared twice, with `{previous}` and `{permission}`"
                );
            }
        }
        let plan = bus::Plan::for_config(config, db)?;
        let bus_kind = plan.kind();
        let (connected_tx, connected) = watch::channel(bus_kind == BusKind::Local);
        let (alive, alive_rx) = watch::channel(());
        let (outbox, outbox_rx) = match bus_kind {
            BusKind::Local => (None, None),
            _ => {
                let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
                (Some(tx), Some(rx))
            }
        };
        let hub = Arc::new(Hub {
            node: Uuid::now_v7(),
            topics: map,
            sender: broadcast::channel(CHANNEL_CAPACITY).0,
            buffer: Mutex::new(ReplayBuffer::new(REPLAY_CAPACITY)),
            bus: bus_kind,
            outbox,
            connected,
            shutdown: watch::channel(false).0,
            streams: Arc::new(StreamCaps {
                max: config.http.max_streams.max(1),
                max_per_owner: config.http.max_streams_per_user.max(1),
                open: Mutex::new(StreamCount::default()),
                warned: crate::http::overload::Throttle::new(Duration::from_secs(60)),
            }),
            _alive: alive,
        });
        if let Some(outbox_rx) = outbox_rx {
            plan.spawn(
                Arc::downgrade(&hub).into(),
                outbox_rx,
                connected_tx,
                alive_rx,
            );
        }
        Ok(Self(hub))
    }

    /// Publishes an event on `topic` (declared by a module), to this node's
    /// subscribers at once and to other replicas through the bus. Call it
    /// after the change has committed: an event never announces a change
    /// that rolled back.
    ///
    /// `data` names the record and a few facts; keep it small and free of
    /// personal data (it is visible to every holder of the topic's
    /// permission). Data that would make the event larger than
    /// `MAX_EVENT_BYTES` is dropped and the event marked `truncated`.
    pub fn publish(
        &self,
        topic: &str,
        kind: &str,
        data: impl Serialize,
    ) -> Result<Arc<Event>, PublishError> {
        let Some((topic, _)) = self.0.topics.get_key_value(topic) else {
            return Err(PublishError::UnknownTopic(topic.to_owned()));
        };
        if kind.is_empty() || kind.chars().count() > MAX_KIND_LEN {
            return Err(PublishError::InvalidKind(kind.to_owned()));
        }
        let mut event = Event {
            id: Uuid::now_v7().to_string(),
            topic: (*topic).to_owned(),
            kind: kind.to_owned(),
            data: serde_json::to_value(data)?,
            at: Utc::now(),
            truncated: false,
            json: Default::default(),
            sse: Default::default(),
        };
        let size = serde_json::to_vec(&event)?.len();
        if size > MAX_EVENT_BYTES {
            tracing::warn!(
                topic = %event.topic, kind = %event.kind, size, max = MAX_EVENT_BYTES,
                "realtime event too large: its data was dropped (subscribers see truncated: true)"
            );
            event.data = serde_json::Value::Null;
            event.truncated = true;
        }
        let event = Arc::new(event);
        self.0.deliver(Signal::Event(event.clone()));
        if let Some(outbox) = &self.0.outbox {
            let envelope = bus::Envelope {
                node: self.0.node,
                body: bus::Body::Event((*event).clone()),
            };
            match outbox.try_send(serde_json::to_string(&envelope)?) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => tracing::warn!(
                    event.id = %event.id,
                    "realtime bus backlog is full: event delivered on this node only"
                ),
                Err(mpsc::error::TrySendError::Closed(_)) => tracing::warn!(
                    event.id = %event.id,
                    "realtime bus is stopped: event delivered on this node only"
                ),
            }
        }
        Ok(event)
    }

    /// Announces that someone's access changed, to this node's streams and
    /// role cache at once and to other replicas through the bus. Call it
    /// after the change has committed (`AppState::access_changed` also
    /// clears this node's role cache).
    pub fn access_changed(&self, change: AccessChange) {
        let _ = self.0.sender.send(Signal::Access(change.clone()));
        if let Some(outbox) = &self.0.outbox {
            let envelope = bus::Envelope {
                node: self.0.node,
                body: bus::Body::Access(change),
            };
            let sent = serde_json::to_string(&envelope)
                .map_err(|e| e.to_string())
                .and_then(|json| outbox.try_send(json).map_err(|e| e.to_string()));
            if let Err(e) = sent {
                // Other replicas' caches still expire within seconds and
                // their streams within their lifetime; say so loudly.
                tracing::error!(error = %e, "access change not sent to other replicas");
            }
        }
    }

    /// Every access change from now on, from this node and the others
    /// (`AccessChange::All` when some may have been missed).
    pub fn watch_access(&self) -> AccessWatch {
        AccessWatch(self.0.sender.subscribe())
    }

    /// The permission needed to read `topic`, if some module declares it.
    pub fn permission_of(&self, topic: &str) -> Option<&'static str> {
        self.0.topics.get(topic).copied()
    }

    /// Declared topics with their permissions, sorted by topic.
    pub fn topics(&self) -> Vec<(&'static str, &'static str)> {
        let mut topics: Vec<_> = self.0.topics.iter().map(|(t, p)| (*t, *p)).collect();
        topics.sort_unstable();
        topics
    }

    /// Every signal from now on, unfiltered and without a lifetime: for the
    /// node's own bookkeeping (the cache), not for clients.
    pub(crate) fn signals(&self) -> broadcast::Receiver<Signal> {
        self.0.sender.subscribe()
    }

    /// A new subscription to every signal from now on; with `last_event_id`,
    /// first what this node delivered after that event (or a `Resync` when
    /// it no longer knows that event). Topic filtering is the caller's.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let (receiver, backlog) = {
            let buffer = self
                .0
                .buffer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let receiver = self.0.sender.subscribe();
            let backlog = match last_event_id.map(|id| buffer.after(id)) {
                None => Vec::new(),
                Some(Replay::After(signals)) => signals,
                Some(Replay::Unknown) => vec![Signal::Resync],
            };
            (receiver, backlog)
        };
        Subscription {
            backlog: backlog.into_iter(),
            receiver,
            shutdown: self.0.shutdown.subscribe(),
            deadline: Box::pin(tokio::time::sleep_until(
                Instant::now() + MAX_STREAM_LIFETIME,
            )),
        }
    }

    /// How events reach other replicas.
    pub fn bus(&self) -> BusKind {
        self.0.bus
    }

    /// Whether this node receives other replicas' events right now (always
    /// true without a bus).
    pub fn is_connected(&self) -> bool {
        *self.0.connected.borrow()
    }

    /// Waits until this node receives other replicas' events (at once
    /// without a bus). `false` if that did not happen within `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut connected = self.0.connected.clone();
        tokio::time::timeout(timeout, connected.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// A place for one more stream of `owner` (a user or an API key), held
    /// for as long as the stream lives; refused past `http.max_streams` in
    /// all or `http.max_streams_per_user` for the owner.
    pub fn open_stream(&self, owner: String) -> Result<StreamTicket, StreamCap> {
        let caps = &self.0.streams;
        let mut open = caps.open.lock().unwrap_or_else(|p| p.into_inner());
        let refused = if open.total >= caps.max {
            Some(StreamCap::Global)
        } else if open.by_owner.get(&owner).copied().unwrap_or(0) >= caps.max_per_owner {
            Some(StreamCap::Owner)
        } else {
            None
        };
        if let Some(cap) = refused {
            metrics::counter!("faena_realtime_streams_refused_total", "cap" => cap.label())
                .increment(1);
            if caps.warned.ready() {
                tracing::warn!(
                    cap = cap.label(),
                    open = open.total,
                    max_streams = caps.max,
                    max_streams_per_user = caps.max_per_owner,
                    "realtime stream cap reached: refusing new streams \
                     (this warning repeats at most once a minute)"
                );
            }
            return Err(cap);
        }
        open.total += 1;
        *open.by_owner.entry(owner.clone()).or_default() += 1;
        metrics::gauge!("faena_realtime_streams_open").set(open.total as f64);
        Ok(StreamTicket {
            caps: caps.clone(),
            owner,
        })
    }

    /// Ends every stream (at server shutdown), so that open connections
    /// close and clients reconnect elsewhere.
    pub fn shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    /// Events this node holds for replay, oldest first.
    pub fn recent(&self) -> Vec<Arc<Event>> {
        self.0
            .buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .events()
            .cloned()
            .collect()
    }
}

impl Hub {
    /// Buffers and broadcasts a signal to this node's subscribers.
    fn deliver(&self, signal: Signal) {
        let mut buffer = self
            .buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buffer.push(signal.clone());
        // An error only means nobody listens right now.
        let _ = self.sender.send(signal);
    }

    /// An event from another replica: delivered unless it is this node's
    /// own echo, a duplicate, or on a topic this node does not know.
    fn receive(&self, envelope: bus::Envelope) {
        if envelope.node == self.node {
            return;
        }
        let event = match envelope.body {
            bus::Body::Event(event) => event,
            bus::Body::Access(change) => {
                let _ = self.sender.send(Signal::Access(change));
                return;
            }
        };
        // The id becomes an SSE `id:` line: only a UUID may get there.
        if Uuid::parse_str(&event.id).is_err() {
            tracing::warn!("realtime event with a malformed id ignored");
            return;
        }
        if !self.topics.contains_key(event.topic.as_str()) {
            tracing::debug!(topic = %event.topic, "realtime event on an unknown topic ignored");
            return;
        }
        let mut buffer = self
            .buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buffer.contains(&event.id) {
            return;
        }
        let signal = Signal::Event(Arc::new(event));
        buffer.push(signal.clone());
        let _ = self.sender.send(signal);
    }
}

/// A weak handle the bus tasks deliver through; they stop once the hub is
/// gone.
#[derive(Clone)]
pub(crate) struct HubRef(Weak<Hub>);

impl From<Weak<Hub>> for HubRef {
    fn from(hub: Weak<Hub>) -> Self {
        Self(hub)
    }
}

impl HubRef {
    /// Delivers an envelope from the bus; `false` once the hub is gone.
    fn receive(&self, payload: &str) -> bool {
        let Some(hub) = self.0.upgrade() else {
            return false;
        };
        // PostgreSQL notifications carry arrays of envelopes (see
        // `bus::pack`); Redis messages one envelope each.
        if payload.starts_with('[') {
            match serde_json::from_str::<Vec<bus::Envelope>>(payload) {
                Ok(envelopes) => envelopes.into_iter().for_each(|e| hub.receive(e)),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable realtime message on the bus ignored")
                }
            }
            return true;
        }
        match serde_json::from_str::<bus::Envelope>(payload) {
            Ok(envelope) => hub.receive(envelope),
            Err(e) => tracing::warn!(error = %e, "unreadable realtime message on the bus ignored"),
        }
        true
    }

    /// The bus was down for a while: events of other replicas may be
    /// missing here, so subscribers (and later replays) resync.
    /// Access changes may have been missed too: every stream checks its
    /// access again and every role cache forgets.
    fn gap(&self) {
        if let Some(hub) = self.0.upgrade() {
            hub.deliver(Signal::Resync);
            let _ = hub.sender.send(Signal::Access(AccessChange::All));
        }
    }
}

/// The access changes announced on this node and on the others.
pub struct AccessWatch(broadcast::Receiver<Signal>);

impl AccessWatch {
    /// The next access change; `None` once the hub is gone. A watcher that
    /// fell behind gets `AccessChange::All`.
    pub async fn next(&mut self) -> Option<AccessChange> {
        loop {
            match self.0.recv().await {
                Ok(Signal::Access(change)) => return Some(change),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return Some(AccessChange::All),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// One subscriber's view of the hub.
pub struct Subscription {
    backlog: std::vec::IntoIter<Signal>,
    receiver: broadcast::Receiver<Signal>,
    shutdown: watch::Receiver<bool>,
    /// Set once: a timer made at each `next` would be registered and
    /// cancelled again for every event and subscriber.
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Subscription {
    /// The next signal; `None` when the stream should end (server shutdown
    /// or `MAX_STREAM_LIFETIME` reached).
    pub async fn next(&mut self) -> Option<Signal> {
        if let Some(signal) = self.backlog.next() {
            return Some(signal);
        }
        tokio::select! {
            biased;
            _ = self.shutdown.wait_for(|stop| *stop) => None,
            _ = &mut self.deadline => None,
            received = self.receiver.recv() => match received {
                Ok(signal) => Some(signal),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "realtime subscriber fell behind; resync");
                    Some(Signal::Resync)
                }
                Err(broadcast::error::RecvError::Closed) => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn hub() -> Realtime {
        let db = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("in-memory database");
        Realtime::start(
            &Config::default(),
            &db,
            &[("orders", "wms.orders.read")],
            &["wms.orders.read"],
        )
        .expect("hub")
    }

    #[tokio::test]
    async fn publishes_to_subscribers_and_keeps_for_replay() {
        let realtime = hub().await;
        assert_eq!(realtime.bus(), BusKind::Local);
        assert!(realtime.is_connected());
        let mut sub = realtime.subscribe(None);
        let first = realtime
            .publish(
                "orders",
                "order.created",
                serde_json::json!({"number": "ORD-1"}),
            )
            .expect("published");
        let second = realtime
            .publish(
                "orders",
                "order.updated",
                serde_json::json!({"number": "ORD-1"}),
            )
            .expect("published");
        assert!(first.id < second.id, "UUIDv7 ids grow");
        assert_eq!(sub.next().await, Some(Signal::Event(first.clone())));
        assert_eq!(sub.next().await, Some(Signal::Event(second.clone())));

        let mut resumed = realtime.subscribe(Some(&first.id));
        assert_eq!(resumed.next().await, Some(Signal::Event(second)));
        let mut lost = realtime.subscribe(Some("0190aaaa-0000-7000-8000-000000000000"));
        assert_eq!(lost.next().await, Some(Signal::Resync));
    }

    #[tokio::test]
    async fn undeclared_topics_and_bad_types_are_refused() {
        let realtime = hub().await;
        assert!(matches!(
            realtime.publish("secrets", "x.y", ()),
            Err(PublishError::UnknownTopic(_))
        ));
        assert!(matches!(
            realtime.publish("orders", "", ()),
            Err(PublishError::InvalidKind(_))
        ));
        assert_eq!(realtime.permission_of("orders"), Some("wms.orders.read"));
        assert_eq!(realtime.permission_of("secrets"), None);
    }

    #[tokio::test]
    async fn oversize_data_is_dropped_and_marked() {
        let realtime = hub().await;
        let big = "x".repeat(MAX_EVENT_BYTES);
        let event = realtime
            .publish("orders", "order.updated", serde_json::json!({"notes": big}))
            .expect("published");
        assert!(event.truncated);
        assert_eq!(event.data, serde_json::Value::Null);
        let json = serde_json::to_value(&*event).expect("json");
        assert_eq!(json["truncated"], true);
        let small = realtime
            .publish(
                "orders",
                "order.updated",
                serde_json::json!({"number": "ORD-1"}),
            )
            .expect("published");
        let json = serde_json::to_value(&*small).expect("json");
        assert!(json.get("truncated").is_none(), "absent unless true");
        assert_eq!(json["type"], "order.updated");
    }

    #[tokio::test]
    async fn own_echoes_and_duplicates_from_the_bus_are_ignored() {
        let realtime = hub().await;
        let mut sub = realtime.subscribe(None);
        let own = realtime
            .publish("orders", "order.created", serde_json::json!({}))
            .expect("published");
        assert_eq!(sub.next().await, Some(Signal::Event(own.clone())));
        let hub_ref = HubRef(Arc::downgrade(&realtime.0));
        let echo = bus::Envelope {
            node: realtime.0.node,
            body: bus::Body::Event((*own).clone()),
        };
        assert!(hub_ref.receive(&serde_json::to_string(&echo).expect("json")));
        let foreign = |event: Event| bus::Envelope {
            node: Uuid::now_v7(),
            body: bus::Body::Event(event),
        };
        assert!(hub_ref.receive(&serde_json::to_string(&foreign((*own).clone())).expect("json")));
        let mut new = (*own).clone();
        new.id = Uuid::now_v7().to_string();
        let payload = serde_json::to_string(&foreign(new.clone())).expect("json");
        assert!(hub_ref.receive(&payload));
        assert!(hub_ref.receive(&payload), "the duplicate is ignored");
        assert_eq!(
            sub.next().await,
            Some(Signal::Event(Arc::new(new))),
            "only the other replica's new event arrives, once"
        );
        assert_eq!(realtime.recent().len(), 2);
        realtime.shutdown();
        assert_eq!(sub.next().await, None, "shutdown ends the stream");
    }

    #[tokio::test]
    async fn access_changes_reach_streams_and_watchers_from_this_node_and_others() {
        let realtime = hub().await;
        let mut sub = realtime.subscribe(None);
        let mut watch = realtime.watch_access();
        let user = Uuid::now_v7();
        realtime.access_changed(AccessChange::User(user));
        assert_eq!(
            sub.next().await,
            Some(Signal::Access(AccessChange::User(user)))
        );
        assert_eq!(watch.next().await, Some(AccessChange::User(user)));
        // From another replica, in the envelope the bus carries.
        let envelope = bus::Envelope {
            node: Uuid::now_v7(),
            body: bus::Body::Access(AccessChange::Role("warehouse".into())),
        };
        let payload = serde_json::to_string(&envelope).expect("json");
        assert_eq!(
            payload,
            format!(
                r#"{{"node":"{}","access":{{"of":"role","id":"warehouse"}}}}"#,
                envelope.node
            )
        );
        HubRef(Arc::downgrade(&realtime.0)).receive(&payload);
        assert_eq!(
            watch.next().await,
            Some(AccessChange::Role("warehouse".into()))
        );
        // A bus outage may have hidden some: everyone checks again.
        HubRef(Arc::downgrade(&realtime.0)).gap();
        assert_eq!(watch.next().await, Some(AccessChange::All));
        assert!(realtime.recent().iter().all(|e| e.topic == "orders"));
    }

    #[test]
    fn topics_need_declared_permissions() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let db = sea_orm::Database::connect("sqlite::memory:")
                .await
                .expect("db");
            let config = Config::default();
            let err = Realtime::start(&config, &db, &[("orders", "wms.orders.read")], &[])
                .err()
                .expect("refused");
            assert!(err.to_string().contains("wms.orders.read"), "{err}");
            let err = Realtime::start(
                &config,
                &db,
                &[("orders", "a.b.read"), ("orders", "a.b.write")],
                &["a.b.read", "a.b.write"],
            )
            .err()
            .expect("refused");
            assert!(err.to_string().contains("twice"), "{err}");
        });
    }
}
