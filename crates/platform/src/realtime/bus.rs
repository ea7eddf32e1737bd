//! The bus between replicas: Redis pub/sub when `redis.url` is set, else
//! PostgreSQL LISTEN/NOTIFY when the database is PostgreSQL, else none (one
//! node: the in-process broadcast is all there is).
//!
//! Each node sends its own events (wrapped with its node id) and delivers
//! the others'. Both tasks reconnect with backoff; while the listener is
//! down, events of other replicas are lost, so after a reconnection local
//! subscribers are told to resync.

use std::time::Duration;

use futures_util::StreamExt;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::{AccessChange, Event, HubRef};
use crate::config::Config;
use crate::db::DbKind;

/// The PostgreSQL NOTIFY channel of realtime events (channels are per
/// database, so deployments never share one).
pub const PG_CHANNEL: &str = "faena_events";

/// PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
const PG_MAX_PAYLOAD: usize = 7_999;

const FIRST_RETRY: Duration = Duration::from_millis(500);
/// However long the bus was down, events flow again at most this long
/// after it is back (a retry is one connection attempt: cheap even from
/// many replicas).
const LAST_RETRY: Duration = Duration::from_secs(2);

/// How this node's events reach other replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    /// No bus: one node.
    Local,
    /// PostgreSQL LISTEN/NOTIFY on the application database.
    Postgres,
    /// Redis pub/sub.
    Redis,
}

/// What travels on the bus: an event or an access change, and the node
/// that published it (`{"node":…,"event":{…}}`, `{"node":…,"access":{…}}`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Envelope {
    pub node: Uuid,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Body {
    Event(Event),
    Access(AccessChange),
}

/// The bus chosen for a configuration, ready to start.
pub(crate) enum Plan {
    Local,
    Postgres {
        db: DatabaseConnection,
        url: String,
    },
    Redis {
        client: redis::Client,
        channel: String,
    },
}

impl Plan {
    pub fn for_config(config: &Config, db: &DatabaseConnection) -> anyhow::Result<Self> {
        if let Some(url) = config.redis.url() {
            let client = redis::Client::open(url).map_err(|e| {
                anyhow::anyhow!(
                    "invalid redis.url ({}): {e}",
                    crate::config::redact_url(url)
                )
            })?;
            anyhow::ensure!(
                !config.redis.channel.trim().is_empty(),
                "redis.channel must not be empty"
            );
            return Ok(Plan::Redis {
                client,
                channel: config.redis.channel.clone(),
            });
        }
        if DbKind::of(db) == DbKind::Postgres {
            return Ok(Plan::Postgres {
                db: db.clone(),
                url: config.database.url.expose_secret().to_owned(),
            });
        }
        Ok(Plan::Local)
    }

    pub fn kind(&self) -> BusKind {
        match self {
            Plan::Local => BusKind::Local,
            Plan::Postgres { .. } => BusKind::Postgres,
            Plan::Redis { .. } => BusKind::Redis,
        }
    }

    /// Starts the sending and the listening task. Both end when the hub is
    /// dropped (`alive` closes, the outbox closes).
    pub fn spawn(
        self,
        hub: HubRef,
        outbox: mpsc::Receiver<String>,
        connected: watch::Sender<bool>,
        alive: watch::Receiver<()>,
    ) {
        match self {
            Plan::Local => {}
            Plan::Postgres { db, url } => {
                tokio::spawn(pg_send(db, outbox));
                tokio::spawn(until_dropped(alive, pg_listen(url, hub, connected)));
            }
            Plan::Redis { client, channel } => {
                tokio::spawn(redis_send(client.clone(), channel.clone(), outbox));
                tokio::spawn(until_dropped(
                    alive,
                    redis_listen(client, channel, hub, connected),
                ));
            }
        }
    }
}

/// Runs `task` until the hub is dropped.
async fn until_dropped(mut alive: watch::Receiver<()>, task: impl Future<Output = ()>) {
    tokio::select! {
        // Nothing is ever sent: this returns when the sender drops.
        _ = async { while alive.changed().await.is_ok() {} } => {}
        () = task => {}
    }
}

/// Exponential backoff between reconnection attempts.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(FIRST_RETRY)
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(LAST_RETRY);
    }

    fn reset(&mut self) {
        self.0 = FIRST_RETRY;
    }
}

async fn pg_send(db: DatabaseConnection, mut outbox: mpsc::Receiver<String>) {
    // Everything queued while the previous batch was being sent goes in
    // one transaction: PostgreSQL serialises the commits of notifying
    // transactions, so one commit per event would cap the whole database
    // at one fsync per event under load.
    let mut batch = Vec::with_capacity(64);
    while outbox.recv_many(&mut batch, 64).await > 0 {
        batch.retain(|payload: &String| {
            if payload.len() > PG_MAX_PAYLOAD {
                // `publish` keeps events far below this; never send what
                // PostgreSQL would refuse.
                tracing::error!(
                    size = payload.len(),
                    "realtime envelope too large for NOTIFY; not sent to other replicas"
                );
                return false;
            }
            true
        });
        let packed = pack(&batch);
        if let Err(e) = pg_notify_all(&db, &packed).await {
            tracing::warn!(error = %e, events = batch.len(), "realtime NOTIFY failed; events delivered on this node only");
        }
        batch.clear();
    }
}

/// Envelopes packed into JSON arrays of at most `PG_MAX_PAYLOAD` bytes:
/// one notification carries many events, so a burst (a thousand jobs
/// finishing) costs every listening replica a few notifications, not a
/// thousand. Receivers take an envelope or an array of them.
fn pack(envelopes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for envelope in envelopes {
        if envelope.len() + 2 > PG_MAX_PAYLOAD {
            // Fits only unwrapped; goes in its place in the order.
            if !current.is_empty() {
                current.push(']');
                out.push(std::mem::take(&mut current));
            }
            out.push(envelope.clone());
            continue;
        }
        if !current.is_empty() && current.len() + envelope.len() + 2 > PG_MAX_PAYLOAD {
            current.push(']');
            out.push(std::mem::take(&mut current));
        }
        current.push(if current.is_empty() { '[' } else { ',' });
        current.push_str(envelope);
    }
    if !current.is_empty() {
        current.push(']');
        out.push(current);
    }
    out
}

async fn pg_notify_all(db: &DatabaseConnection, payloads: &[String]) -> Result<(), sea_orm::DbErr> {
    if payloads.is_empty() {
        return Ok(());
    }
    if let [payload] = payloads {
        // One statement commits by itself: no BEGIN/COMMIT round trips.
        return db
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [PG_CHANNEL.into(), payload.clone().into()],
            ))
            .await
            .map(|_| ());
    }
    let txn = crate::db::begin(db).await?;
    for payload in payloads {
        let notify = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [PG_CHANNEL.into(), payload.clone().into()],
        );
        txn.execute(notify).await?;
    }
    txn.commit().await
}

async fn pg_listen(url: String, hub: HubRef, connected: watch::Sender<bool>) {
    let mut backoff = Backoff::new();
    let mut first = true;
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "realtime: cannot connect the PostgreSQL listener; retrying");
                backoff.wait().await;
                continue;
            }
        };
        if let Err(e) = listener.listen(PG_CHANNEL).await {
            tracing::warn!(error = %e, "realtime: LISTEN failed; retrying");
            backoff.wait().await;
            continue;
        }
        if !first {
            hub.gap();
        }
        first = false;
        backoff.reset();
        connected.send_replace(true);
        tracing::info!(
            bus = "postgres",
            "realtime: receiving other replicas' events"
        );
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if !hub.receive(notification.payload()) {
                        return;
                    }
                }
                Ok(None) => {
                    tracing::warn!("realtime: PostgreSQL listener connection lost; reconnecting");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "realtime: PostgreSQL listener failed; reconnecting");
                    break;
                }
            }
        }
        connected.send_replace(false);
        backoff.wait().await;
    }
}

async fn redis_send(client: redis::Client, channel: String, mut outbox: mpsc::Receiver<String>) {
    let mut backoff = Backoff::new();
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    while let Some(payload) = outbox.recv().await {
        // One retry on a fresh connection; then the event stays local.
        for attempt in 0..2 {
            let conn = match connection.as_mut() {
                Some(c) => c,
                None => match client.get_multiplexed_async_connection().await {
                    Ok(c) => {
                        backoff.reset();
                        connection.insert(c)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "realtime: cannot connect to Redis to publish");
                        backoff.wait().await;
                        continue;
                    }
                },
            };
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&payload)
                .query_async(conn)
                .await;
            match sent {
                Ok(_) => break,
                Err(e) => {
                    connection = None;
                    if attempt == 1 {
                        tracing::warn!(error = %e, "realtime: Redis PUBLISH failed; event delivered on this node only");
                    }
                }
            }
        }
    }
}

async fn redis_listen(
    client: redis::Client,
    channel: String,
    hub: HubRef,
    connected: watch::Sender<bool>,
) {
    let mut backoff = Backoff::new();
    let mut first = true;
    loop {
        let mut pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "realtime: cannot connect to Redis to subscribe; retrying");
                backoff.wait().await;
                continue;
            }
        };
        if let Err(e) = pubsub.subscribe(&channel).await {
            tracing::warn!(error = %e, "realtime: Redis SUBSCRIBE failed; retrying");
            backoff.wait().await;
            continue;
        }
        if !first {
            hub.gap();
        }
        first = false;
        backoff.reset();
        connected.send_replace(true);
        tracing::info!(bus = "redis", "realtime: receiving other replicas' events");
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            match std::str::from_utf8(message.get_payload_bytes()) {
                Ok(payload) => {
                    if !hub.receive(payload) {
                        return;
                    }
                }
                Err(_) => {
                    tracing::warn!("realtime: non-UTF-8 message on the Redis channel ignored")
                }
            }
        }
        tracing::warn!("realtime: Redis subscription lost; reconnecting");
        connected.send_replace(false);
        backoff.wait().await;
    }
}

#[cfg(test)]
mod pack_tests {
    use super::{PG_MAX_PAYLOAD, pack};

    #[test]
    fn envelopes_are_packed_into_arrays_below_the_notify_limit() {
        let small: Vec<String> = (0..100)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(200)))
            .collect();
        let packed = pack(&small);
        assert!(packed.len() > 1 && packed.len() < 10, "{}", packed.len());
        let mut all = Vec::new();
        for p in &packed {
            assert!(p.len() <= PG_MAX_PAYLOAD);
            let items: Vec<serde_json::Value> = serde_json::from_str(p).unwrap_or_default();
            all.extend(items);
        }
        assert_eq!(all.len(), 100, "every envelope, in order");
        assert_eq!(all[99]["n"], serde_json::json!(99));
        // One that fits only unwrapped goes alone, as it is.
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(PG_MAX_PAYLOAD - 9));
        let packed = pack(&[small[0].clone(), big.clone()]);
        assert_eq!(packed.len(), 2);
        assert_eq!(packed[1], big);
    }
}
