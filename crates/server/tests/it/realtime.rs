//! Realtime updates, over real sockets: an order change made on one node
//! reaches WebSocket and Server-Sent Events subscribers of another node
//! (PostgreSQL LISTEN/NOTIFY, or Redis), only for callers allowed to read
//! the topic, and an SSE client that reconnects gets what it missed.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use faena_platform::db::DbKind;
use faena_platform::realtime::BusKind;
use faena_testkit::{Client, TestApp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::an_order;

/// How long a test waits for something that should come at once.
const WAIT: Duration = Duration::from_secs(10);

fn token(client: &Client) -> String {
    client
        .default_headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .expect("a signed-in client")
        .to_owned()
}

async fn move_order(user: &Client, number: &str, status: &str) {
    user.send_json(
        Method::PUT,
        &format!("/api/orders/{number}"),
        &json!({"status": status}),
    )
    .await
    .assert_status(StatusCode::OK);
}

/// A WebSocket client of `/api/realtime`.
struct Ws(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Ws {
    async fn connect(base: &str, token: &str) -> Ws {
        let url = format!("{}/api/realtime", base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (stream, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket opens");
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        Ws(stream)
    }

    async fn send(&mut self, message: Value) {
        self.0
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// The next JSON message (protocol pings are skipped).
    async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.0.next())
                .await
                .expect("a WebSocket message in time")
                .expect("the socket is open")
                .expect("a readable frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected WebSocket frame: {other:?}"),
            }
        }
    }

    /// The close frame the server sends next (protocol pings skipped).
    async fn closed(&mut self) -> (u16, String) {
        loop {
            let frame = tokio::time::timeout(WAIT, self.0.next())
                .await
                .expect("a WebSocket frame in time")
                .expect("the socket is open")
                .expect("a readable frame");
            match frame {
                Message::Close(Some(close)) => {
                    return (u16::from(close.code), close.reason.as_str().to_owned());
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected the socket to close, got {other:?}"),
            }
        }
    }

    async fn subscribe(&mut self, topics: &[&str]) -> Value {
        self.send(json!({"op": "subscribe", "topics": topics}))
            .await;
        self.recv().await
    }
}

/// A Server-Sent Events client of `/api/events`.
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

/// One SSE frame: its `id:`, `event:` and `data:` lines.
#[derive(Debug, Default)]
struct Frame {
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

impl Sse {
    async fn request(
        base: &str,
        token: &str,
        topics: &str,
        last: Option<&str>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .get(format!("{base}/api/events?topics={topics}"))
            .bearer_auth(token);
        if let Some(id) = last {
            request = request.header("last-event-id", id);
        }
        request.send().await.expect("the request is answered")
    }

    async fn connect(base: &str, token: &str, topics: &str, last: Option<&str>) -> Sse {
        let response = Self::request(base, token, topics, last).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Sse {
            response,
            buffer: String::new(),
        }
    }

    async fn next_frame(&mut self) -> Frame {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let mut frame = Frame::default();
                for line in raw.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
                    match field {
                        "id" => frame.id = Some(value),
                        "event" => frame.event = Some(value),
                        "data" => frame.data = Some(value),
                        _ => {}
                    }
                }
                return frame;
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("an SSE frame in time")
                .expect("the stream is readable")
                .expect("the stream is open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next frame that carries data (skipping the `retry:` hint and
    /// keepalive comments).
    async fn next_message(&mut self) -> Frame {
        loop {
            let frame = self.next_frame().await;
            if frame.data.is_some() {
                return frame;
            }
        }
    }

    /// Waits for the server to end the stream, failing on any event
    /// delivered before it does.
    async fn ended(mut self) {
        loop {
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("the stream ends in time");
            match chunk {
                Ok(None) | Err(_) => return,
                Ok(Some(bytes)) => {
                    let text = std::str::from_utf8(&bytes).unwrap();
                    assert!(!text.contains("data:"), "delivered before ending: {text}");
                }
            }
        }
    }

    /// The next event, checking that its SSE id is the event's id.
    async fn next_event(&mut self) -> Value {
        let frame = self.next_message().await;
        assert_eq!(frame.event, None, "a plain message: {frame:?}");
        let event: Value = serde_json::from_str(frame.data.as_deref().unwrap()).unwrap();
        assert_eq!(frame.id.as_deref(), event["id"].as_str());
        event
    }
}

/// A warehouse user subscribed on `listener` (over WebSocket and over SSE)
/// sees an order move made by an administrator on `publisher`.
async fn assert_order_changes_reach(publisher: &TestApp, listener: &TestApp) {
    assert!(
        listener.state.realtime().wait_connected(WAIT).await,
        "the listening node joins the bus"
    );
    let admin = publisher.admin().await;
    let number = an_order(&admin).await;
    let base = listener.serve().await;
    let warehouse = token(&publisher.client_for("warehouse").await);

    let mut ws = Ws::connect(&base, &warehouse).await;
    assert_eq!(
        ws.subscribe(&["orders"]).await,
        json!({"op": "subscribed", "topics": ["orders"]})
    );
    let mut sse = Sse::connect(&base, &warehouse, "orders", None).await;

    move_order(&admin, &number, "picking").await;

    let event = ws.recv().await;
    assert_eq!(event["op"], "event");
    assert_eq!(event["topic"], "orders");
    assert_eq!(event["type"], "order.status_changed");
    assert_eq!(event["data"]["number"], number.as_str());
    assert_eq!(event["data"]["status"], "picking");
    assert_eq!(event["data"]["from_status"], "received");
    assert!(event["at"].as_str().is_some());

    let streamed = sse.next_event().await;
    assert_eq!(streamed["id"], event["id"], "the same event on both");
    assert_eq!(streamed["type"], "order.status_changed");
    assert_eq!(streamed["data"]["status"], "picking");

    // Cancelling is a status change too; deleting is announced as well.
    move_order(&admin, &number, "cancelled").await;
    assert_eq!(ws.recv().await["data"]["status"], "cancelled");
    assert_eq!(sse.next_event().await["data"]["status"], "cancelled");
    admin
        .delete(&format!("/api/orders/{number}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(ws.recv().await["type"], "order.deleted");
    assert_eq!(sse.next_event().await["type"], "order.deleted");
}

#[tokio::test]
async fn an_order_change_reaches_subscribers_on_another_replica() {
    let app = TestApp::new().await;
    match app.db_kind() {
        DbKind::Postgres => {
            let replica = app.replica().await;
            assert_eq!(replica.state.realtime().bus(), BusKind::Postgres);
            assert_order_changes_reach(&app, &replica).await;
        }
        DbKind::Sqlite => {
            // One node: the in-process broadcast is the whole path (set
            // FAENA_TEST_POSTGRES_URL to cross replicas).
            assert_eq!(app.state.realtime().bus(), BusKind::Local);
            assert_order_changes_reach(&app, &app).await;
        }
    }
}

/// Two nodes whose realtime bus is Redis, on a channel of their own (so
/// tests running at once do not hear each other); `None`, outside CI,
/// without FAENA_TEST_REDIS_URL.
async fn redis_replicas(what: &str) -> Option<(TestApp, TestApp)> {
    let Some(redis) = faena_testkit::redis_url() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "FAENA_TEST_REDIS_URL must be set in CI: the Redis fan-out is not tested otherwise"
        );
        println!("note: FAENA_TEST_REDIS_URL is not set; {what} did not run");
        return None;
    };
    let channel = format!("faena_test_{}", uuid::Uuid::now_v7().simple());
    let app = TestApp::with_config(|c| {
        c.redis.url = redis.into();
        c.redis.channel = channel;
    })
    .await;
    let replica = app.replica().await;
    Some((app, replica))
}

#[tokio::test]
async fn an_order_change_reaches_subscribers_on_another_replica_through_redis() {
    let Some((app, replica)) = redis_replicas("the Redis fan-out test").await else {
        return;
    };
    assert_eq!(app.state.realtime().bus(), BusKind::Redis);
    assert_eq!(replica.state.realtime().bus(), BusKind::Redis);
    assert!(app.state.realtime().wait_connected(WAIT).await);
    assert_order_changes_reach(&app, &replica).await;
    // And the other way round.
    assert_order_changes_reach(&replica, &app).await;
}

#[tokio::test]
async fn a_subscriber_without_the_permission_gets_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;
    let base = app.serve().await;
    // Drivers work with trips, not warehouse orders.
    let driver = token(&app.client_for("driver").await);

    let res = Sse::request(&base, &driver, "orders", None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "topic_forbidden");
    assert_eq!(problem["topic"], "orders");
    assert_eq!(
        problem["title"],
        "No tienes permiso para recibir los eventos de «orders»"
    );
    let anonymous = reqwest::get(format!("{base}/api/events?topics=orders"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let unknown = Sse::request(&base, &token(&admin), "orders,nominas", None).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = unknown.json().await.unwrap();
    assert_eq!(problem["errors"][0]["message"], "El tema nominas no existe");

    let mut denied = Ws::connect(&base, &driver).await;
    let refusal = denied.subscribe(&["orders"]).await;
    assert_eq!(refusal["op"], "error");
    assert_eq!(refusal["code"], "topic_forbidden");
    assert_eq!(refusal["topic"], "orders");
    assert_eq!(
        refusal["message"],
        "No tienes permiso para recibir los eventos de «orders»"
    );
    assert_eq!(
        denied.recv().await,
        json!({"op": "subscribed", "topics": []})
    );

    let mut witness = Ws::connect(&base, &token(&admin)).await;
    assert_eq!(
        witness.subscribe(&["orders"]).await["topics"],
        json!(["orders"])
    );
    move_order(&admin, &number, "picking").await;
    assert_eq!(witness.recv().await["data"]["number"], number.as_str());
    // The event reached every subscriber of this node before this ping;
    // the refused one gets the pong and nothing else.
    denied.send(json!({"op": "ping"})).await;
    assert_eq!(denied.recv().await, json!({"op": "pong"}));

    // The refusals are in the audit log.
    let denials = admin
        .get("/api/audit?action=permission.denied&limit=50")
        .await
        .json();
    assert!(denials["items"].as_array().unwrap().len() >= 2, "{denials}");
}

#[tokio::test]
async fn sse_resumes_with_last_event_id() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;
    let base = app.serve().await;
    let token = token(&admin);

    let mut sse = Sse::connect(&base, &token, "orders", None).await;
    let hint = sse.next_frame().await;
    assert_eq!(hint.data, None, "the stream opens with its retry hint");
    move_order(&admin, &number, "picking").await;
    let seen = sse.next_event().await;
    drop(sse);

    // While the client is away, two more moves.
    move_order(&admin, &number, "packing").await;
    move_order(&admin, &number, "shipped").await;

    let mut resumed = Sse::connect(&base, &token, "orders", seen["id"].as_str()).await;
    let first = resumed.next_event().await;
    let second = resumed.next_event().await;
    assert_eq!(first["data"]["status"], "packing");
    assert_eq!(second["data"]["status"], "shipped");
    assert!(first["id"].as_str() > seen["id"].as_str());

    // An id this node does not know: the client is told to re-read.
    let mut lost = Sse::connect(
        &base,
        &token,
        "orders",
        Some("01900000-0000-7000-8000-000000000000"),
    )
    .await;
    let frame = lost.next_message().await;
    assert_eq!(frame.event.as_deref(), Some("resync"));
}

#[tokio::test]
async fn a_plain_get_of_the_websocket_route_asks_for_an_upgrade() {
    let app = TestApp::new().await;
    let res = app.admin().await.get("/api/realtime").await;
    assert_eq!(res.status, StatusCode::UPGRADE_REQUIRED);
    assert_eq!(
        res.json()["title"],
        "Esta dirección solo acepta conexiones WebSocket"
    );
}

#[tokio::test]
async fn the_order_pages_are_live() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;
    let list = admin.get("/orders").await;
    list.assert_status(StatusCode::OK);
    let html = list.text();
    assert!(html.contains(r#"data-live-topics="orders""#), "{html}");
    assert!(html.contains(r#"data-live-region="orders""#));
    assert!(html.contains("En vivo"));
    let detail = admin.get(&format!("/orders/{number}")).await.text();
    assert!(detail.contains(&format!(r#"data-live-match="number={number}""#)));
}

#[test]
fn faena_redis_url_is_read_like_faena_database_url() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_faena"))
        .arg("config")
        .env("FAENA_REDIS_URL", "redis://:s3creto@cache.interna:6379/2")
        .env_remove("FAENA_DATABASE_URL")
        .output()
        .expect("faena runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains(r#"url = "redis://:***@cache.interna:6379/2""#),
        "{printed}"
    );
    assert!(!printed.contains("s3creto"), "{printed}");
}

/// A browser's WebSocket carries the session cookie whatever page opened
/// it: only this server's own origin, scheme included, may use it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_websocket_is_refused_from_another_origin_or_scheme() {
    let app = TestApp::new().await;
    let base = app.serve().await;
    let browser = app.admin_browser().await;
    let authority = base.trim_start_matches("http://").to_owned();
    let open = |origin: String| {
        let url = format!("ws://{authority}/api/realtime");
        let cookie = browser.cookie().to_owned();
        async move {
            let mut request = url.into_client_request().unwrap();
            let headers = request.headers_mut();
            headers.insert("cookie", cookie.parse().unwrap());
            headers.insert("origin", origin.parse().unwrap());
            match tokio_tungstenite::connect_async(request).await {
                Ok((_, response)) => response.status(),
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status(),
                Err(other) => panic!("{other}"),
            }
        }
    };
    assert_eq!(
        open(format!("http://{authority}")).await,
        StatusCode::SWITCHING_PROTOCOLS,
        "this server's own pages"
    );
    assert_eq!(
        open(format!("https://{authority}")).await,
        StatusCode::FORBIDDEN,
        "an https page is another origin than this plain-HTTP server"
    );
    assert_eq!(
        open("http://tienda.example".to_owned()).await,
        StatusCode::FORBIDDEN,
        "another site"
    );
}

/// Signs `email` in through the API: its access and refresh tokens.
async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    let res = app
        .anonymous()
        .post_json(
            "/api/auth/login",
            &json!({"email": email, "password": faena_testkit::USER_PASSWORD}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let t = res.json();
    (
        t["access_token"].as_str().unwrap().to_owned(),
        t["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn user_id(admin: &Client, email: &str) -> String {
    let users = admin.get(&format!("/api/users?q={email}")).await.json();
    users["items"][0]["id"].as_str().unwrap().to_owned()
}

/// Streams opened before their caller loses access do not outlive it: an
/// administrator acting on one node (`publisher`) demotes, deactivates,
/// signs out or edits a role, and the streams on `listener` end or narrow
/// at once, with nothing delivered after; the role edit also reaches
/// `listener`'s REST checks well within its role cache's 5 seconds.
async fn assert_streams_follow_access(publisher: &TestApp, listener: &TestApp) {
    assert!(listener.state.realtime().wait_connected(WAIT).await);
    let admin = publisher.admin().await;
    let number = an_order(&admin).await;
    let base = listener.serve().await;
    let patch_user = |id: String, body: Value| {
        let admin = admin.clone();
        async move {
            admin
                .send_json(Method::PATCH, &format!("/api/users/{id}"), &body)
                .await
                .assert_status(StatusCode::OK);
        }
    };

    // Demoted to a role without the topic: the WebSocket drops the topic
    // and says so; the SSE stream ends; neither sees the next move.
    let email = publisher.create_user("warehouse").await;
    let (token, _) = sign_in(publisher, &email).await;
    let mut ws = Ws::connect(&base, &token).await;
    assert_eq!(ws.subscribe(&["orders"]).await["topics"], json!(["orders"]));
    let sse = Sse::connect(&base, &token, "orders", None).await;
    patch_user(user_id(&admin, &email).await, json!({"role": "driver"})).await;
    let refusal = ws.recv().await;
    assert_eq!(refusal["op"], "error", "{refusal}");
    assert_eq!(refusal["code"], "topic_forbidden");
    assert_eq!(refusal["topic"], "orders");
    assert_eq!(ws.recv().await, json!({"op": "subscribed", "topics": []}));
    sse.ended().await;
    move_order(&admin, &number, "picking").await;
    ws.send(json!({"op": "ping"})).await;
    assert_eq!(
        ws.recv().await,
        json!({"op": "pong"}),
        "no event after the demotion"
    );
    // Reconnecting is refused, so a client knows why the stream ended.
    let again = Sse::request(&base, &token, "orders", None).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);

    // Deactivated: the WebSocket is closed with a reason, the SSE stream
    // ends.
    let email = publisher.create_user("warehouse").await;
    let (token, _) = sign_in(publisher, &email).await;
    let mut ws = Ws::connect(&base, &token).await;
    assert_eq!(ws.subscribe(&["orders"]).await["topics"], json!(["orders"]));
    let sse = Sse::connect(&base, &token, "orders", None).await;
    let reader = listener.anonymous().with_bearer(&token);
    reader
        .get("/api/orders")
        .await
        .assert_status(StatusCode::OK);
    patch_user(user_id(&admin, &email).await, json!({"active": false})).await;
    assert_eq!(ws.closed().await, (1008, "access_revoked".to_owned()));
    sse.ended().await;
    // The listener had the sign-in cached: the announcement drops it.
    refused_soon(&reader, StatusCode::UNAUTHORIZED).await;

    // Signed out: the streams of that sign-in end; another sign-in of the
    // same user keeps its stream.
    let email = publisher.create_user("warehouse").await;
    let (token, refresh) = sign_in(publisher, &email).await;
    let (other_token, _) = sign_in(publisher, &email).await;
    let sse = Sse::connect(&base, &token, "orders", None).await;
    let mut kept = Sse::connect(&base, &other_token, "orders", None).await;
    let reader = listener.anonymous().with_bearer(&token);
    reader
        .get("/api/orders")
        .await
        .assert_status(StatusCode::OK);
    publisher
        .anonymous()
        .post_json("/api/auth/logout", &json!({"refresh_token": refresh}))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    sse.ended().await;
    refused_soon(&reader, StatusCode::UNAUTHORIZED).await;
    listener
        .anonymous()
        .with_bearer(&other_token)
        .get("/api/orders")
        .await
        .assert_status(StatusCode::OK);
    move_order(&admin, &number, "packing").await;
    assert_eq!(kept.next_event().await["data"]["status"], "packing");

    // A role loses the permission: its holders' streams end, and the
    // listener's REST answers 403 long before its role cache would expire.
    let role = format!("bodega_{}", uuid::Uuid::now_v7().simple());
    admin
        .post_json(
            "/api/roles",
            &json!({"name": role, "description": "Bodega", "permissions": ["wms.orders.read"]}),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let email = publisher.create_user(&role).await;
    let (token, _) = sign_in(publisher, &email).await;
    let reader = listener.anonymous().with_bearer(&token);
    reader
        .get("/api/orders")
        .await
        .assert_status(StatusCode::OK);
    let sse = Sse::connect(&base, &token, "orders", None).await;
    let edited = std::time::Instant::now();
    admin
        .send_json(
            Method::PUT,
            &format!("/api/roles/{role}"),
            &json!({"permissions": ["platform.system.read"]}),
        )
        .await
        .assert_status(StatusCode::OK);
    sse.ended().await;
    refused_soon(&reader, StatusCode::FORBIDDEN).await;
    assert!(edited.elapsed() < Duration::from_secs(2));
}

/// `reader`'s next answers turn from 200 to `status` well within the auth
/// caches' 5 seconds: the access change reached this node's caches.
async fn refused_soon(reader: &Client, status: StatusCode) {
    let started = std::time::Instant::now();
    loop {
        let got = reader.get("/api/orders").await.status;
        if got == status {
            return;
        }
        assert_eq!(got, StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "still {got} after 2 s: the access change did not reach this node's cache"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn open_streams_end_or_narrow_when_access_changes() {
    let app = TestApp::new().await;
    match app.db_kind() {
        DbKind::Postgres => {
            let replica = app.replica().await;
            assert_streams_follow_access(&app, &replica).await;
        }
        DbKind::Sqlite => assert_streams_follow_access(&app, &app).await,
    }
}

#[tokio::test]
async fn open_streams_follow_access_changes_through_redis() {
    let Some((app, replica)) = redis_replicas("the Redis access test").await else {
        return;
    };
    assert!(app.state.realtime().wait_connected(WAIT).await);
    assert_streams_follow_access(&app, &replica).await;
}
