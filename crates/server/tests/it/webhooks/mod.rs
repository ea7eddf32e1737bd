//! Webhooks on the real database and real sockets (127.0.0.1 only):
//! deliveries that a receiver using the Standard Webhooks reference library
//! verifies, the retry schedule and the failing state, the refusal of
//! internal targets, inbound verification and replay protection, and the
//! transactional emit.

mod admin;
mod incoming;
mod outbound;
mod reference;

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use faena_platform::jobs::entity::job;
use faena_platform::webhooks::entity::{delivery, endpoint, inbound, message};
use faena_platform::webhooks::{self, InboundHandler, signature};
use faena_platform::{AppState, Config, Module};
use faena_testkit::{Client, TestApp};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::RunningWorker;
use crate::support::worker_options;

/// The secret of the inbound source `test` in every app here.
const INBOUND_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The secret of `archive`, a source no module handles.
const ARCHIVE_SECRET: &str = "whsec_ScKxpIkWyPSnMhfrg8bMyNqQh3BUW+ao";

/// How often the `test` source's handler ran, by `webhook-id`.
static HANDLED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn handled(message_id: &str) -> usize {
    HANDLED
        .lock()
        .unwrap()
        .iter()
        .filter(|m| *m == message_id)
        .count()
}

/// A module that owns the inbound source `test`.
struct Receiving;

impl Module for Receiving {
    fn name(&self) -> &'static str {
        "receiving"
    }
    fn inbound_webhooks(&self) -> Vec<InboundHandler> {
        vec![InboundHandler::new("test", |_state, event| async move {
            let body: Value = event.json()?;
            anyhow::ensure!(body["type"].is_string(), "no event type");
            HANDLED.lock().unwrap().push(event.message_id);
            Ok(())
        })]
    }
}

fn configure(c: &mut Config, allow_private: bool) {
    c.webhooks.allow_private_targets = allow_private;
    c.webhooks.timeout_secs = 5;
    for (source, secret) in [("test", INBOUND_SECRET), ("archive", ARCHIVE_SECRET)] {
        c.webhooks.inbound.insert(
            source.into(),
            faena_platform::config::InboundSourceConfig {
                secret: secret.to_owned().into(),
            },
        );
    }
}

async fn app(allow_private: bool) -> TestApp {
    TestApp::start(
        |c| configure(c, allow_private),
        Some(vec![Box::new(Receiving)]),
    )
    .await
}

fn start_worker(state: &AppState) -> RunningWorker {
    RunningWorker::start(state, worker_options("webhooks"))
}

/// Polls `probe` until it yields a value (up to 20 s).
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Emits in a committed transaction of its own.
async fn emit(state: &AppState, event_type: &str, data: Value) -> Option<Uuid> {
    let txn = state.begin_write().await.unwrap();
    let id = webhooks::emit(&txn, event_type, data).await.unwrap();
    txn.commit().await.unwrap();
    state.jobs().wake();
    id
}

async fn register(admin: &Client, url: &str, event_types: &[&str]) -> Value {
    let res = admin
        .post_json(
            "/api/webhooks/endpoints",
            &json!({"url": url, "event_types": event_types, "description": "Pruebas"}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    res.json()
}

async fn deliveries_of(state: &AppState, endpoint_id: &str) -> Vec<delivery::Model> {
    delivery::Entity::find()
        .filter(delivery::Column::EndpointId.eq(Uuid::parse_str(endpoint_id).unwrap()))
        .all(state.db())
        .await
        .unwrap()
}

async fn job_of(state: &AppState, delivery: Uuid) -> job::Model {
    job::Entity::find()
        .filter(job::Column::Kind.eq("platform.webhooks.deliver"))
        .filter(job::Column::DedupKey.eq(format!("delivery:{delivery}")))
        .one(state.db())
        .await
        .unwrap()
        .expect("the delivery's job")
}

/// An HTTP server on 127.0.0.1 that answers every request with `status`
/// and remembers the `webhook-id` of each.
/// How long `fixed_server` takes to answer.
const ANSWER_DELAY: std::time::Duration = std::time::Duration::from_millis(40);

pub async fn fixed_server(status: StatusCode) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let router = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let log = log.clone();
        async move {
            let id = headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            log.lock().unwrap().push(id);
            // A slow answer, so the delivery log has a duration to show.
            tokio::time::sleep(ANSWER_DELAY).await;
            (status, "el servicio está caído")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://127.0.0.1:{}", address.port()), seen)
}

/// A socket on 127.0.0.1 that only counts the connections it gets.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, count)
}

/// Sends a signed inbound call to `/api/hooks/{source}`.
async fn send_hook(
    client: &Client,
    source: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> faena_testkit::TestResponse {
    client
        .send(
            Request::post(format!("/api/hooks/{source}"))
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(axum::body::Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
}

fn signed(id: &str, timestamp: i64, body: &str) -> String {
    signed_with(INBOUND_SECRET, id, timestamp, body)
}

fn signed_with(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = signature::decode_secret(secret).unwrap();
    signature::sign(&key, id, timestamp, body.as_bytes())
}
