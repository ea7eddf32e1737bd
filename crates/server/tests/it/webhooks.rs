//! Webhooks on the real database and real sockets (127.0.0.1 only):
//! deliveries that a receiver using the Standard Webhooks reference library
//! verifies, the retry schedule and the failing state, the refusal of
//! internal targets, inbound verification and replay protection, and the
//! transactional emit.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use faena_platform::jobs::entity::job;
use faena_platform::jobs::worker::{self, WorkerOptions};
use faena_platform::webhooks::entity::{delivery, endpoint, inbound, message};
use faena_platform::webhooks::{self, InboundHandler, signature};
use faena_platform::{AppState, Config, Module};
use faena_testkit::{Client, TestApp};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::sync::watch;
use uuid::Uuid;

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

struct RunningWorker {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

fn start_worker(state: &AppState) -> RunningWorker {
    let (stop, rx) = watch::channel(false);
    let options = WorkerOptions {
        id: format!("test/webhooks/{}", Uuid::now_v7()),
        concurrency: 4,
        lease: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        grace: Duration::from_secs(5),
    };
    let handle = worker::spawn(state.clone(), options, rx);
    RunningWorker { stop, handle }
}

impl RunningWorker {
    async fn stop(self) {
        let _ = self.stop.send(true);
        self.handle.await.unwrap();
    }
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
async fn fixed_server(status: StatusCode) -> (String, Arc<Mutex<Vec<String>>>) {
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

/// The Python that has the `standardwebhooks` package: `FAENA_TEST_PYTHON`
/// or `python3`. In CI its absence fails the test; elsewhere it is skipped.
fn reference_python() -> Option<String> {
    let python = std::env::var("FAENA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{python} cannot import standardwebhooks: set FAENA_TEST_PYTHON (CI installs it into target/ci-venv)"
    );
    println!(
        "note: {python} has no standardwebhooks package (pip install standardwebhooks, or set FAENA_TEST_PYTHON); the reference-receiver test did not run"
    );
    None
}

fn receiver_script() -> String {
    format!(
        "{}/tests/it/webhook_receiver.py",
        env!("CARGO_MANIFEST_DIR")
    )
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

/// Lines a child process prints, read on a thread of their own.
struct Lines(Arc<Mutex<std::sync::mpsc::Receiver<String>>>);

impl Lines {
    fn of(stdout: std::process::ChildStdout) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(Arc::new(Mutex::new(rx)))
    }

    /// The next line, waiting up to 20 s.
    async fn next(&self) -> String {
        let rx = self.0.clone();
        tokio::task::spawn_blocking(move || {
            rx.lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(20))
                .expect("the receiver prints a line")
        })
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_using_the_reference_library_verifies_our_deliveries() {
    let Some(python) = reference_python() else {
        return;
    };
    let app = app(true).await;
    let state = &app.state;
    let admin = app.admin().await;

    let mut child = std::process::Command::new(&python)
        .arg(receiver_script())
        .arg("receive")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the receiver starts");
    let lines = Lines::of(child.stdout.take().unwrap());
    let first = lines.next().await;
    let port = first.strip_prefix("PORT ").expect("the receiver's port");

    let created = register(
        &admin,
        &format!("http://127.0.0.1:{port}/hook"),
        &["client.*"],
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{secret}").unwrap();
    }

    let data = json!({"id": "0192", "name": "Ferretería Ñuñoa", "rut": "76.086.428-5"});
    let message_id = emit(state, "client.created", data.clone()).await.unwrap();
    let worker = start_worker(state);
    let report: Value = serde_json::from_str(&lines.next().await).unwrap();
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["payload"]["type"], "client.created");
    assert_eq!(report["payload"]["data"], data);
    assert!(report["payload"]["timestamp"].is_string());
    assert_eq!(
        report["headers"]["webhook-id"],
        webhooks::message_header_id(message_id)
    );
    assert_eq!(report["headers"]["content-type"], "application/json");
    assert!(
        report["headers"]["webhook-signature"]
            .as_str()
            .unwrap()
            .starts_with("v1,")
    );

    let endpoint_id = created["id"].as_str().unwrap();
    let d = eventually("the delivery to succeed", || async {
        deliveries_of(state, endpoint_id)
            .await
            .into_iter()
            .find(|d| d.state == "succeeded")
    })
    .await;
    worker.stop().await;
    assert_eq!(d.attempts, 1);
    assert_eq!(d.last_status, Some(204));
    let _ = child.wait();

    // The other way: the reference library signs, our inbound endpoint
    // verifies.
    let body = r#"{"type":"invoice.paid","data":{"folio":1234}}"#;
    let now = Utc::now().timestamp();
    let mut sign = std::process::Command::new(&python)
        .arg(receiver_script())
        .args(["sign", INBOUND_SECRET, "msg_from_python", &now.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    sign.stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = sign.wait_with_output().unwrap();
    assert!(out.status.success());
    let their_signature = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(their_signature, signed("msg_from_python", now, body));
    let res = send_hook(&app, "test", "msg_from_python", now, &their_signature, body).await;
    res.assert_status(StatusCode::ACCEPTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_on_the_schedule_then_marked_failing() {
    let app = app(true).await;
    let state = &app.state;
    let admin = app.admin().await;
    let mut events = state.realtime().subscribe(None);
    let (url, seen) = fixed_server(StatusCode::INTERNAL_SERVER_ERROR).await;
    let created = register(&admin, &format!("{url}/hook"), &["order.*"]).await;
    let endpoint_id = created["id"].as_str().unwrap().to_owned();

    let message_id = emit(state, "order.created", json!({"number": "ORD-000123"}))
        .await
        .unwrap();
    let d = deliveries_of(state, &endpoint_id).await.remove(0);
    let worker = start_worker(state);

    // After attempt n fails, the job waits SCHEDULE[n - 1]: 5 s, then 5 min.
    for (attempt, wait) in [(1, 5), (2, 300)] {
        let j = eventually("the attempt to fail and be rescheduled", || async {
            let j = job_of(state, d.id).await;
            (j.attempts == attempt && j.state == "queued").then_some(j)
        })
        .await;
        let gap = (j.run_at - j.updated_at).num_milliseconds();
        assert!(
            (gap - wait * 1000).abs() < 50,
            "attempt {attempt}: retry in {gap} ms, expected {wait} s"
        );
        assert!(j.run_at > Utc::now() + chrono::Duration::seconds(wait - 2));
        assert_eq!(
            j.last_error.as_deref(),
            Some("the endpoint answered 500"),
            "{j:?}"
        );
        // Time passes: the retry is due now.
        job::Entity::update_many()
            .col_expr(job::Column::RunAt, Expr::value(Utc::now()))
            .col_expr(
                job::Column::Attempts,
                // Before the last retry, jump to the schedule's end.
                Expr::value(if attempt == 2 { 7 } else { attempt }),
            )
            .filter(job::Column::Id.eq(j.id))
            .exec(state.db())
            .await
            .unwrap();
        state.jobs().wake();
    }
    let dead = eventually("the schedule to run out", || async {
        let j = job_of(state, d.id).await;
        (j.state == "dead").then_some(j)
    })
    .await;
    worker.stop().await;
    assert_eq!(dead.attempts, 8, "7 retries after the first attempt");

    // Three calls reached the endpoint, all with the message's one id.
    let ids = seen.lock().unwrap().clone();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter()
            .all(|i| *i == webhooks::message_header_id(message_id))
    );

    // The endpoint is failing, and says so.
    let ep = admin
        .get(&format!("/api/webhooks/endpoints/{endpoint_id}"))
        .await
        .json();
    assert_eq!(ep["state"], "failing", "{ep}");
    assert!(ep["failing_since"].is_string());
    assert!(ep.get("secret").is_none(), "the secret is not shown again");

    // The delivery log has every attempt with its status code.
    let detail = admin
        .get(&format!("/api/webhooks/deliveries/{}", d.id))
        .await
        .json();
    assert_eq!(detail["delivery"]["state"], "failed");
    assert_eq!(detail["delivery"]["attempts"], 3);
    assert_eq!(detail["delivery"]["last_status"], 500);
    assert_eq!(detail["payload"]["data"]["number"], "ORD-000123");
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| (
                a["attempt"].as_i64().unwrap(),
                a["status_code"].as_i64().unwrap()
            ))
            .collect::<Vec<_>>(),
        vec![(1, 500), (2, 500), (3, 500)]
    );
    assert_eq!(attempts[0]["response_excerpt"], "el servicio está caído");
    assert!(attempts[0]["duration_ms"].as_i64().unwrap() >= 0);

    // Subscribers heard it; the audit log has it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let notice = loop {
        let next = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("the failing notice arrives");
        if let Some(faena_platform::realtime::Signal::Event(e)) = next {
            if e.kind == "webhook.endpoint_failing" {
                break e;
            }
        }
    };
    assert_eq!(notice.topic, "webhooks");
    assert_eq!(notice.data["id"], endpoint_id);
    let trail = admin
        .get(&format!(
            "/api/audit?entity=webhook_endpoint&entity_id={endpoint_id}"
        ))
        .await
        .json();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"webhook.endpoint_failing"), "{actions:?}");

    // A failing endpoint gets no new messages, and its page says so.
    assert_eq!(emit(state, "order.created", json!({"n": 2})).await, None);
    let page = admin.get("/admin/webhooks").await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("Fallando"), "{}", page.text());

    // An admin re-enables it and replays the message.
    let res = admin
        .send_json(
            Method::PATCH,
            &format!("/api/webhooks/endpoints/{endpoint_id}"),
            &json!({"active": true}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["state"], "active");
    assert!(res.json()["failing_since"].is_null());
    let res = admin
        .post_json(
            &format!("/api/webhooks/deliveries/{}/replay", d.id),
            &json!({}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["state"], "pending");
    assert_eq!(
        res.json()["message_id"],
        webhooks::message_header_id(message_id)
    );
    let again = job::Entity::find()
        .filter(job::Column::DedupKey.eq(format!("delivery:{}", d.id)))
        .filter(job::Column::State.eq("queued"))
        .count(state.db())
        .await
        .unwrap();
    assert_eq!(again, 1, "the replay queued one delivery job");
    // While it waits, another replay is refused.
    let res = admin
        .post_json(
            &format!("/api/webhooks/deliveries/{}/replay", d.id),
            &json!({}),
        )
        .await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "webhook_delivery_pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_targets_are_refused_at_registration_and_at_delivery() {
    let app = app(false).await;
    let admin = app.admin().await;
    for (url, code) in [
        ("http://127.0.0.1:8080/hook", "url_internal"),
        ("http://localhost/hook", "url_internal"),
        ("http://[::1]/hook", "url_internal"),
        ("http://10.1.2.3/hook", "url_internal"),
        ("http://169.254.169.254/latest/meta-data", "url_internal"),
        ("http://100.64.0.7/", "url_internal"),
        ("http://[fd00::7]/", "url_internal"),
        ("ftp://files.example.com/", "url_scheme"),
    ] {
        let res = admin
            .post_json(
                "/api/webhooks/endpoints",
                &json!({"url": url, "event_types": ["*"]}),
            )
            .await;
        res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.content_type(), "application/problem+json");
        let body = res.json();
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
        assert_eq!(body["errors"][0]["code"], code, "{url}: {body}");
    }
    // Public names are accepted without resolving them now.
    register(&admin, "https://hooks.example.com/faena", &["*"]).await;
    assert_eq!(
        endpoint::Entity::find()
            .count(app.state.db())
            .await
            .unwrap(),
        1,
        "nothing refused was stored"
    );

    // Endpoints registered where private targets were allowed, delivered
    // by a node where they are not: refused before connecting, for a name
    // that resolves to loopback and for an address literal.
    let open = app_sharing(&app, true).await;
    let (port, connections) = counting_listener().await;
    let admin_open = open.admin().await;
    let by_name = register(&admin_open, &format!("http://localhost:{port}/h"), &["*"]).await;
    let by_ip = register(&admin_open, &format!("http://127.0.0.1:{port}/h"), &["*"]).await;
    drop(admin_open);
    let strict = &app.state;
    emit(strict, "ping", json!({})).await.unwrap();
    let worker = start_worker(strict);
    for created in [&by_name, &by_ip] {
        let id = created["id"].as_str().unwrap();
        let d = eventually("the refused attempt", || async {
            deliveries_of(strict, id)
                .await
                .into_iter()
                .find(|d| d.attempts == 1)
        })
        .await;
        let error = d.last_error.unwrap_or_default();
        assert!(error.contains("internal address"), "{error}");
        assert_eq!(d.last_status, None);
        assert_eq!(
            d.state, "pending",
            "retried on the schedule like any failure"
        );
    }
    worker.stop().await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "no connection was made"
    );
    drop(open);
}

/// Another node over `app`'s database, with private targets allowed or
/// not.
async fn app_sharing(app: &TestApp, allow_private: bool) -> TestApp {
    app.replica_with(|c| c.webhooks.allow_private_targets = allow_private)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_calls_are_verified_stored_once_and_handled_once() {
    let app = app(false).await;
    let state = &app.state;
    let anonymous = app.anonymous();
    let id = format!("msg_{}", Uuid::now_v7().simple());
    let body = r#"{"type":"dte.accepted","data":{"folio":4711}}"#;
    let now = Utc::now().timestamp();

    // Correctly signed: accepted and stored.
    let res = send_hook(&anonymous, "test", &id, now, &signed(&id, now, body), body).await;
    res.assert_status(StatusCode::ACCEPTED);
    let first = res.json();
    assert_eq!(first["duplicate"], false);

    // The same message again (a sender's retry): 200, not stored twice.
    let res = send_hook(&anonymous, "test", &id, now, &signed(&id, now, body), body).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["duplicate"], true);
    assert_eq!(res.json()["id"], first["id"]);

    // A tampered body, a stale or future timestamp, a missing header.
    let tampered = body.replace("4711", "4712");
    let res = send_hook(
        &anonymous,
        "test",
        &id,
        now,
        &signed(&id, now, body),
        &tampered,
    )
    .await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(res.content_type(), "application/problem+json");
    assert_eq!(res.json()["code"], "webhook_signature_invalid");
    for ts in [now - 301, now + 301] {
        let other = format!("msg_{}", Uuid::now_v7().simple());
        let res = send_hook(
            &anonymous,
            "test",
            &other,
            ts,
            &signed(&other, ts, body),
            body,
        )
        .await;
        res.assert_status(StatusCode::UNAUTHORIZED);
        let problem = res.json();
        assert_eq!(problem["code"], "webhook_timestamp_out_of_window");
        assert_eq!(problem["header"], "webhook-timestamp");
        assert!(
            problem["title"]
                .as_str()
                .unwrap()
                .contains("webhook-timestamp"),
            "{problem}"
        );
    }
    let english = app
        .anonymous()
        .with_header("accept-language", "en")
        .send(
            Request::post("/api/hooks/test")
                .header("webhook-id", "msg_x")
                .header("webhook-timestamp", (now - 3600).to_string())
                .header("webhook-signature", signed("msg_x", now - 3600, body))
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await;
    english.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(
        english.json()["title"],
        "The webhook-timestamp header is outside the allowed window"
    );
    let res = anonymous
        .send(
            Request::post("/api/hooks/test")
                .header("webhook-id", "msg_y")
                .header("webhook-timestamp", now.to_string())
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["code"], "webhook_header_missing");
    assert_eq!(res.json()["header"], "webhook-signature");
    // An unknown source.
    let res = send_hook(&anonymous, "nadie", &id, now, &signed(&id, now, body), body).await;
    res.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(res.content_type(), "application/problem+json");
    assert_eq!(res.json()["code"], "webhook_source_unknown");

    // A source no module handles: stored for admins only.
    let archive = signed_with(ARCHIVE_SECRET, &id, now, body);
    let res = send_hook(&anonymous, "archive", &id, now, &archive, body).await;
    res.assert_status(StatusCode::ACCEPTED);

    // The handler runs once, in the background.
    let worker = start_worker(state);
    eventually("the handler to run", || async {
        (handled(&id) == 1).then_some(())
    })
    .await;
    let processed = eventually("the event to be processed", || async {
        inbound::Entity::find()
            .filter(inbound::Column::Source.eq("test"))
            .filter(inbound::Column::MessageId.eq(&id))
            .one(state.db())
            .await
            .unwrap()
            .filter(|e| e.state == "processed")
    })
    .await;
    // Replayed after processing: still once.
    let res = send_hook(&anonymous, "test", &id, now, &signed(&id, now, body), body).await;
    res.assert_status(StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.stop().await;
    assert_eq!(handled(&id), 1, "the handler ran once");
    let rows = inbound::Entity::find()
        .filter(inbound::Column::MessageId.eq(&id))
        .all(state.db())
        .await
        .unwrap();
    let mut by_source: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        *by_source.entry(r.source.clone()).or_default() += 1;
    }
    assert_eq!(by_source.get("test"), Some(&1));
    assert_eq!(by_source.get("archive"), Some(&1));
    assert_eq!(
        rows.iter().find(|r| r.source == "archive").unwrap().state,
        "stored"
    );
    assert!(processed.processed_at.is_some());

    // Admins see both, with the body.
    let admin = app.admin().await;
    let list = admin.get("/api/webhooks/inbound?source=test").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["state"], "processed");
    let detail = admin
        .get(&format!("/api/webhooks/inbound/{}", processed.id))
        .await
        .json();
    assert_eq!(detail["payload"]["data"]["folio"], 4711);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_emitted_in_a_rolled_back_transaction_is_never_delivered() {
    let app = app(true).await;
    let state = &app.state;
    let admin = app.admin().await;
    let (url, seen) = fixed_server(StatusCode::NO_CONTENT).await;
    register(&admin, &format!("{url}/hook"), &["order.created"]).await;

    let txn = state.begin_write().await.unwrap();
    let lost = webhooks::emit(&txn, "order.created", json!({"number": "ORD-1"}))
        .await
        .unwrap()
        .expect("a subscribed endpoint");
    txn.rollback().await.unwrap();
    // An event nobody subscribed to stores nothing.
    assert_eq!(emit(state, "order.cancelled", json!({})).await, None);
    let kept = emit(state, "order.created", json!({"number": "ORD-2"}))
        .await
        .unwrap();

    assert!(
        message::Entity::find_by_id(lost)
            .one(state.db())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(message::Entity::find().count(state.db()).await.unwrap(), 1);
    assert_eq!(delivery::Entity::find().count(state.db()).await.unwrap(), 1);
    let worker = start_worker(state);
    eventually("the committed delivery", || async {
        delivery::Entity::find()
            .filter(delivery::Column::State.eq("succeeded"))
            .one(state.db())
            .await
            .unwrap()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.stop().await;
    let ids = seen.lock().unwrap().clone();
    assert_eq!(ids, vec![webhooks::message_header_id(kept)]);
    assert_eq!(
        job::Entity::find()
            .filter(job::Column::Kind.eq("platform.webhooks.deliver"))
            .count(state.db())
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn bad_input_on_the_admin_api_is_a_422_naming_the_field() {
    let app = app(false).await;
    let admin = app.admin().await;
    let post = |body: Value| {
        let admin = admin.clone();
        async move { admin.post_json("/api/webhooks/endpoints", &body).await }
    };
    let cases = [
        (json!({"event_types": ["*"]}), "url", "required"),
        (json!({"url": 42, "event_types": ["*"]}), "url", "invalid"),
        (
            json!({"url": "https://a.example.com"}),
            "event_types",
            "required",
        ),
        (
            json!({"url": "https://a.example.com", "event_types": []}),
            "event_types",
            "required",
        ),
        (
            json!({"url": "https://a.example.com", "event_types": ["order.*", "Order Created"]}),
            "event_types[1]",
            "event_type",
        ),
        (
            json!({"url": "https://a.example.com", "event_types": ["*"], "secret": "mine"}),
            "secret",
            "unknown",
        ),
        (
            json!({"url": "https://a.example.com", "event_types": ["*"], "description": "x".repeat(501)}),
            "description",
            "too_long",
        ),
        (
            json!({"url": "not a url", "event_types": ["*"]}),
            "url",
            "invalid",
        ),
    ];
    for (body, field, code) in cases {
        let res = post(body.clone()).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text()
        );
        assert_eq!(res.content_type(), "application/problem+json");
        let problem = res.json();
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["code"] == code),
            "{body}: {problem}"
        );
        assert!(errors.iter().all(|e| e["message"].is_string()));
    }
    // Every invalid field at once.
    let res = post(json!({"url": "gopher://x", "event_types": ["ok", "NO"]})).await;
    let fields: Vec<String> = res.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, vec!["url", "event_types[1]"]);

    // Changes are checked the same way, and honour If-Match.
    let created = register(&admin, "https://a.example.com/in", &["order.*"]).await;
    let path = format!(
        "/api/webhooks/endpoints/{}",
        created["id"].as_str().unwrap()
    );
    let res = admin
        .send_json(
            Method::PATCH,
            &path,
            &json!({"url": "http://192.168.1.10/"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "url");
    let res = admin
        .send_json(Method::PATCH, &path, &json!({"active": "yes"}))
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "active");
    let res = admin
        .clone()
        .with_header("if-match", "\"7\"")
        .send_json(Method::PATCH, &path, &json!({"description": "otra"}))
        .await;
    res.assert_status(StatusCode::PRECONDITION_FAILED);
    let res = admin
        .send_json(
            Method::PATCH,
            &path,
            &json!({"description": "otra", "event_types": ["*"]}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["version"], 2);
    assert_eq!(res.json()["event_types"], json!(["*"]));

    // Filters name the bad parameter.
    for (query, field) in [
        ("endpoint_id=nope", "endpoint_id"),
        ("state=lost", "state"),
        ("limit=0", "limit"),
        ("cursor=%%%", "cursor"),
    ] {
        let res = admin
            .get(&format!("/api/webhooks/deliveries?{query}"))
            .await;
        res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.json()["errors"][0]["field"], field, "{query}");
    }
    let res = admin.get("/api/webhooks/inbound?state=x").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "state");

    // The secret: once on creation, then on an audited request.
    let secret = created["secret"].as_str().unwrap();
    let res = admin.get(&format!("{path}/secret")).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["secret"], secret);
    let stored = endpoint::Entity::find()
        .one(app.state.db())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.secret.contains(secret.trim_start_matches("whsec_")));
    let viewer = app.client_for("viewer").await;
    viewer
        .get("/api/webhooks/endpoints")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    viewer
        .get(&format!("{path}/secret"))
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // Deleting takes its log with it.
    admin
        .delete(&path)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    admin.get(&path).await.assert_status(StatusCode::NOT_FOUND);
    let trail = admin.get("/api/audit?entity=webhook_endpoint").await.json();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        ["create", "update", "webhook.secret_read", "delete"]
            .iter()
            .all(|a| actions.contains(a)),
        "{actions:?}"
    );
}
