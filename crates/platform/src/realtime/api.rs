//! The realtime endpoints: `GET /api/events` (Server-Sent Events) and
//! `GET /api/realtime` (WebSocket). Both need a signed-in caller (bearer
//! token, API key or session cookie); each topic asked for is checked
//! against the caller's permissions before anything is delivered.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Event, Signal};
use crate::auth::Principal;
use crate::auth::principal::{AuthMethod, ClientIp};
use crate::auth::service::{Credential, reauthorize};
use crate::error::{AppError, AppResult, FieldError, Problem};
use crate::http::Query;
use crate::i18n::Locale;
use crate::state::AppState;

/// How long an EventSource waits before reconnecting (the `retry:` hint).
pub const SSE_RETRY: Duration = Duration::from_secs(3);
/// The first frame of every stream: the `retry:` hint (`SSE_RETRY`) and a
/// comment, so the client sees the stream open at once.
const SSE_OPENING: &[u8] = b"retry: 3000\n: faena\n\n";
const SSE_KEEPALIVE_FRAME: &[u8] = b": keepalive\n\n";
const SSE_RESYNC: &[u8] = b"event: resync\ndata: {}\n\n";
/// A comment line goes out this often on an idle SSE stream, so proxies and
/// browsers keep the connection.
pub const SSE_KEEPALIVE: Duration = Duration::from_secs(15);
/// The server pings WebSocket clients this often...
pub const WS_PING: Duration = Duration::from_secs(30);
/// ...and closes a connection silent (no message, no pong) for this long.
pub const WS_IDLE: Duration = Duration::from_secs(75);
/// Largest message a WebSocket client may send.
const WS_MAX_MESSAGE: usize = 16 * 1024;
/// `Last-Event-ID` longer than this names no event of ours.
const MAX_EVENT_ID_LEN: usize = 64;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stream_events))
        .routes(routes!(open_realtime))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Comma-separated topics to receive, e.g. `orders`. Each needs its
    /// read permission.
    #[param(required = true, min_length = 1)]
    pub topics: Option<String>,
}

/// Why a topic cannot be subscribed to.
enum Refusal {
    Unknown,
    Forbidden(&'static str),
}

/// Checks one topic against the caller's permissions.
fn check_topic(state: &AppState, principal: &Principal, topic: &str) -> Result<(), Refusal> {
    match state.realtime().permission_of(topic) {
        None => Err(Refusal::Unknown),
        Some(permission) if principal.can(permission) => Ok(()),
        Some(permission) => Err(Refusal::Forbidden(permission)),
    }
}

fn split_topics(raw: Option<&str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .filter(|t| seen.insert(t.to_string()))
        .map(str::to_owned)
        .collect()
}

fn topic_forbidden(topic: &str) -> AppError {
    let mut p = Problem::new(StatusCode::FORBIDDEN, "topic_forbidden")
        .with_extension("topic", topic.into());
    p.params = vec![("topic", topic.to_owned())];
    AppError::Problem(Box::new(p))
}

/// Receive the events of some topics as Server-Sent Events.
///
/// Each event's `data:` is an `Event` and its `id:` the event id; a client
/// that reconnects with `Last-Event-ID` first gets what it missed (this
/// node keeps the latest 1,000 events), or a `resync` event when that is no
/// longer known and it should re-read. A comment line keeps idle streams
/// open every 15 s; streams end after 30 minutes (the client reconnects).
/// When the caller's access changes (signed out, deactivated, demoted, a
/// role edited) the stream checks it again at once and ends if a topic can
/// no longer be read: reconnecting is then refused with 401 or 403.
#[utoipa::path(get, path = "/api/events", tag = "realtime",
    security(("bearer" = [])),
    params(
        EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received, to resume after it"),
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream` of events", content_type = "text/event-stream", body = Event),
        (status = 403, description = "A topic needs a permission the caller lacks; `topic` names it", content_type = "application/problem+json"),
        (status = 422, description = "No topic, or an unknown topic", content_type = "application/problem+json"),
        (status = 429, description = "The caller has `http.max_streams_per_user` streams open already", content_type = "application/problem+json"),
        (status = 503, description = "The server has `http.max_streams` streams open, or is overloaded", content_type = "application/problem+json"),
    ))]
async fn stream_events(
    State(state): State<AppState>,
    principal: Principal,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> AppResult<Response> {
    let topics = split_topics(query.topics.as_deref());
    if topics.is_empty() {
        return Err(FieldError::new("topics", "required").into());
    }
    for topic in &topics {
        match check_topic(&state, &principal, topic) {
            Ok(()) => {}
            Err(Refusal::Unknown) => {
                return Err(FieldError::new("topics", "unknown_topic")
                    .with("value", topic)
                    .into());
            }
            Err(Refusal::Forbidden(permission)) => {
                crate::audit::record_denial(
                    state.audit_writer(),
                    &principal,
                    ip,
                    &Method::GET,
                    "/api/events",
                    permission,
                )
                .await;
                return Err(topic_forbidden(topic));
            }
        }
    }
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= MAX_EVENT_ID_LEN);
    let ticket = open_stream(&state, &principal)?;
    let mut subscription = state.realtime().subscribe(last_event_id);
    let topics: BTreeSet<String> = topics.into_iter().collect();
    let credential = Credential::of(&headers);
    let mut principal = principal;

    // Every frame is prepared bytes: an event's frame is encoded once and
    // shared by all its subscribers, and the keepalive timer is set once
    // per stream rather than reset at each event (docs/benchmarks.md,
    // realtime fan-out).
    let stream = async_stream::stream! {
        let _ticket = ticket;
        yield Ok::<_, Infallible>(Bytes::from_static(SSE_OPENING));
        let mut keepalive = tokio::time::interval_at(Instant::now() + SSE_KEEPALIVE, SSE_KEEPALIVE);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let signal = tokio::select! {
                signal = subscription.next() => signal,
                _ = keepalive.tick() => {
                    yield Ok(Bytes::from_static(SSE_KEEPALIVE_FRAME));
                    continue;
                }
            };
            match signal {
                None => break,
                Some(Signal::Event(event)) if topics.contains(&event.topic) => {
                    yield Ok(event.sse_frame());
                }
                Some(Signal::Event(_)) => {}
                Some(Signal::Resync) => yield Ok(Bytes::from_static(SSE_RESYNC)),
                Some(Signal::Access(change)) if change.concerns(&principal) => {
                    match recheck(&state, &credential).await {
                        Some(now) if topics.iter().all(|t| check_topic(&state, &now, t).is_ok()) => {
                            principal = now;
                        }
                        _ => break,
                    }
                }
                Some(Signal::Access(_)) => {}
            }
        }
    };
    let mut response = axum::body::Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx: pass each event on at once instead of buffering the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The caller behind a stream's `credential` as it stands now; `None`
/// ends the stream, also when the check itself fails: a stream is not kept
/// open on an unverified access.
async fn recheck(state: &AppState, credential: &Credential) -> Option<Principal> {
    reauthorize(state, credential).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "stream access could not be checked again; stream ended");
        None
    })
}

/// A message from a WebSocket client.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ClientMessage {
    /// Start receiving these topics (each needs its read permission).
    Subscribe { topics: Vec<String> },
    /// Stop receiving these topics.
    Unsubscribe { topics: Vec<String> },
    /// Answered with `{"op":"pong"}`.
    Ping,
}

/// A message from the server on the WebSocket.
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ServerMessage<'a> {
    /// The topics now subscribed, after a subscribe or unsubscribe.
    Subscribed {
        topics: Vec<&'a str>,
    },
    /// An event of a subscribed topic.
    Event(&'a Event),
    /// Events may have been missed: re-read what is shown.
    Resync,
    Pong,
    /// A request was refused; `topic` names the topic when it is about one.
    Error {
        code: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<&'a str>,
        message: String,
    },
}

/// Receive the events of some topics over a WebSocket.
///
/// Send `{"op":"subscribe","topics":["orders"]}` and receive
/// `{"op":"event", "id", "topic", "type", "data", "at"}` messages for the
/// topics the caller may read. `{"op":"unsubscribe","topics":[…]}` stops
/// them, `{"op":"ping"}` is answered `{"op":"pong"}`. A topic the caller
/// may not read is answered `{"op":"error","code":"topic_forbidden",
/// "topic":…}` and nothing of it is delivered. The server pings every 30 s
/// and closes connections silent for 75 s; connections end after 30 minutes.
#[utoipa::path(get, path = "/api/realtime", tag = "realtime",
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 403, description = "A cookie-authenticated upgrade from another origin", content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket upgrade request", content_type = "application/problem+json"),
        (status = 429, description = "The caller has `http.max_streams_per_user` streams open already", content_type = "application/problem+json"),
        (status = 503, description = "The server has `http.max_streams` streams open, or is overloaded", content_type = "application/problem+json"),
    ))]
async fn open_realtime(
    State(state): State<AppState>,
    principal: Principal,
    ClientIp(ip): ClientIp,
    crate::auth::principal::PeerAddr(peer): crate::auth::principal::PeerAddr,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    let upgrade = upgrade.map_err(|_| {
        AppError::Problem(Box::new(Problem::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
        )))
    })?;
    // A browser sends the session cookie with any page's WebSocket; only
    // our own pages (or configured origins) may use it.
    if principal.method == AuthMethod::Session && !same_origin(&state, &headers, peer) {
        return Err(AppError::Forbidden);
    }
    let ticket = open_stream(&state, &principal)?;
    let locale = Locale::from_headers(&headers);
    let credential = Credential::of(&headers);
    Ok(upgrade
        .max_message_size(WS_MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            run_socket(state, principal, credential, ip, locale, socket).await;
            drop(ticket);
        }))
}

/// A place for one more stream of the caller: 429 past the caller's cap,
/// 503 past the server's, both with `Retry-After`.
fn open_stream(state: &AppState, principal: &Principal) -> AppResult<super::StreamTicket> {
    state
        .realtime()
        .open_stream(principal.actor_id())
        .map_err(|cap| {
            let status = match cap {
                super::StreamCap::Owner => StatusCode::TOO_MANY_REQUESTS,
                super::StreamCap::Global => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut p = Problem::new(status, "too_many_streams");
            p.retry_after = Some(STREAM_RETRY_AFTER_SECS);
            AppError::Problem(Box::new(p))
        })
}

/// What a caller refused a stream is told to wait.
const STREAM_RETRY_AFTER_SECS: u64 = 10;

/// Whether the `Origin` of a request is this server — its scheme and the
/// authority the `Host` header names — or one of `http.cors_origins`. No
/// `Origin`: not a browser. The scheme is `https` when a trusted proxy says
/// so (`X-Forwarded-Proto`) or when the server is configured for HTTPS
/// (`http.hsts`), `http` otherwise: a page of `https://host` is another
/// origin than a plain-HTTP server on that host.
fn same_origin(state: &AppState, headers: &HeaderMap, peer: Option<std::net::IpAddr>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let http = &state.config().http;
    if http.cors_origins.iter().any(|o| o == origin) {
        return true;
    }
    let from_proxy = peer.is_some_and(|p| http.trusted_proxies.contains(&p));
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|_| from_proxy)
        .map(|p| {
            p.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let scheme = forwarded.unwrap_or_else(|| if http.hsts { "https" } else { "http" }.to_owned());
    let Some((origin_scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    origin_scheme.eq_ignore_ascii_case(&scheme)
        && host.is_some_and(|h| authority.eq_ignore_ascii_case(h))
}

async fn send(socket: &mut WebSocket, message: &ServerMessage<'_>) -> bool {
    match serde_json::to_string(message) {
        Ok(text) => socket.send(Message::text(text)).await.is_ok(),
        Err(e) => {
            tracing::warn!(error = %e, "realtime message not encodable");
            true
        }
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Close code 1001: the server is going away (shutdown, or the connection
/// reached its lifetime); reconnect.
const GOING_AWAY: u16 = 1001;
/// Close code 1008: the client broke the protocol (here: went silent).
const POLICY: u16 = 1008;

async fn run_socket(
    state: AppState,
    mut principal: Principal,
    credential: Credential,
    ip: Option<std::net::IpAddr>,
    locale: Locale,
    mut socket: WebSocket,
) {
    let mut subscription = state.realtime().subscribe(None);
    let mut topics: BTreeSet<String> = BTreeSet::new();
    let mut ping = tokio::time::interval_at(Instant::now() + WS_PING, WS_PING);
    let mut last_heard = Instant::now();
    loop {
        // Biased: signals already published are sent before a later
        // client message is answered, so a client's ping is a barrier.
        tokio::select! {
            biased;
            signal = subscription.next() => {
                let sent = match signal {
                    Some(Signal::Event(event)) if topics.contains(&event.topic) => {
                        send(&mut socket, &ServerMessage::Event(&event)).await
                    }
                    Some(Signal::Event(_)) => true,
                    Some(Signal::Resync) if !topics.is_empty() => {
                        send(&mut socket, &ServerMessage::Resync).await
                    }
                    Some(Signal::Resync) => true,
                    Some(Signal::Access(change)) if change.concerns(&principal) => {
                        match recheck(&state, &credential).await {
                            Some(now) => {
                                principal = now;
                                narrow(&state, &principal, locale, &mut topics, &mut socket).await
                            }
                            None => {
                                close(&mut socket, POLICY, "access_revoked").await;
                                false
                            }
                        }
                    }
                    Some(Signal::Access(_)) => true,
                    None => {
                        close(&mut socket, GOING_AWAY, "reconnect").await;
                        false
                    }
                };
                if !sent {
                    break;
                }
            }
            incoming = socket.recv() => {
                last_heard = Instant::now();
                let text = match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Text(text))) => text,
                    // Pings are answered by the library; both show life.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        let reply = error_message(&state, locale, "bad_message", None);
                        if !send(&mut socket, &reply).await {
                            break;
                        }
                        continue;
                    }
                };
                let replies =
                    handle_client_message(&state, &principal, ip, locale, &mut topics, &text)
                        .await;
                for reply in replies {
                    if !send(&mut socket, &reply.as_message(&topics)).await {
                        return;
                    }
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > WS_IDLE {
                    close(&mut socket, POLICY, "idle").await;
                    break;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Drops the topics `principal` may no longer read, telling the client of
/// each and then of what remains. `false` if the socket is gone.
async fn narrow(
    state: &AppState,
    principal: &Principal,
    locale: Locale,
    topics: &mut BTreeSet<String>,
    socket: &mut WebSocket,
) -> bool {
    let lost: Vec<String> = topics
        .iter()
        .filter(|t| check_topic(state, principal, t).is_err())
        .cloned()
        .collect();
    if lost.is_empty() {
        return true;
    }
    for topic in &lost {
        topics.remove(topic);
        let refusal = error_message(state, locale, "topic_forbidden", Some(topic));
        if !send(socket, &refusal).await {
            return false;
        }
    }
    let remaining = ServerMessage::Subscribed {
        topics: topics.iter().map(String::as_str).collect(),
    };
    send(socket, &remaining).await
}

/// A reply to a client message, turned into a `ServerMessage` once the
/// topic set is settled.
enum Reply {
    Subscribed,
    Pong,
    Error {
        code: &'static str,
        topic: Option<String>,
        message: String,
    },
}

impl Reply {
    fn as_message<'a>(&'a self, topics: &'a BTreeSet<String>) -> ServerMessage<'a> {
        match self {
            Reply::Subscribed => ServerMessage::Subscribed {
                topics: topics.iter().map(String::as_str).collect(),
            },
            Reply::Pong => ServerMessage::Pong,
            Reply::Error {
                code,
                topic,
                message,
            } => ServerMessage::Error {
                code,
                topic: topic.as_deref(),
                message: message.clone(),
            },
        }
    }
}

fn error_message<'a>(
    state: &AppState,
    locale: Locale,
    code: &'a str,
    topic: Option<&'a str>,
) -> ServerMessage<'a> {
    ServerMessage::Error {
        code,
        topic,
        message: describe(state, locale, code, topic),
    }
}

fn describe(state: &AppState, locale: Locale, code: &str, topic: Option<&str>) -> String {
    let params = [("topic", topic.unwrap_or_default().to_owned())];
    state.i18n().t(locale, &format!("realtime.{code}"), &params)
}

async fn handle_client_message(
    state: &AppState,
    principal: &Principal,
    ip: Option<std::net::IpAddr>,
    locale: Locale,
    topics: &mut BTreeSet<String>,
    text: &str,
) -> Vec<Reply> {
    let refuse = |code: &'static str, topic: Option<&str>| Reply::Error {
        code,
        topic: topic.map(str::to_owned),
        message: describe(state, locale, code, topic),
    };
    let Ok(message) = serde_json::from_str::<ClientMessage>(text) else {
        return vec![refuse("bad_message", None)];
    };
    match message {
        ClientMessage::Ping => vec![Reply::Pong],
        ClientMessage::Subscribe { topics: wanted } => {
            let mut replies = Vec::new();
            for topic in wanted {
                match check_topic(state, principal, &topic) {
                    Ok(()) => {
                        topics.insert(topic);
                    }
                    Err(Refusal::Unknown) => replies.push(refuse("unknown_topic", Some(&topic))),
                    Err(Refusal::Forbidden(permission)) => {
                        crate::audit::record_denial(
                            state.audit_writer(),
                            principal,
                            ip,
                            &Method::GET,
                            "/api/realtime",
                            permission,
                        )
                        .await;
                        replies.push(refuse("topic_forbidden", Some(&topic)));
                    }
                }
            }
            replies.push(Reply::Subscribed);
            replies
        }
        ClientMessage::Unsubscribe { topics: unwanted } => {
            for topic in unwanted {
                topics.remove(&topic);
            }
            vec![Reply::Subscribed]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_split_trimmed_and_deduplicated() {
        assert_eq!(
            split_topics(Some(" orders, ,jobs,orders")),
            ["orders", "jobs"]
        );
        assert!(split_topics(None).is_empty());
    }

    #[test]
    fn client_messages_parse() {
        let m: ClientMessage =
            serde_json::from_str(r#"{"op":"subscribe","topics":["orders"]}"#).expect("parses");
        assert!(matches!(m, ClientMessage::Subscribe { topics } if topics == ["orders"]));
        let m: ClientMessage = serde_json::from_str(r#"{"op":"ping"}"#).expect("parses");
        assert!(matches!(m, ClientMessage::Ping));
        assert!(serde_json::from_str::<ClientMessage>(r#"{"op":"dance"}"#).is_err());
    }

    #[test]
    fn server_messages_are_flat_json() {
        let event = Event {
            id: "e1".into(),
            topic: "orders".into(),
            kind: "order.created".into(),
            data: serde_json::json!({"number": "ORD-1"}),
            at: chrono::Utc::now(),
            truncated: false,
            json: Default::default(),
            sse: Default::default(),
        };
        let json = serde_json::to_value(ServerMessage::Event(&event)).expect("json");
        assert_eq!(json["op"], "event");
        assert_eq!(json["type"], "order.created");
        assert_eq!(json["data"]["number"], "ORD-1");
        let json = serde_json::to_value(ServerMessage::Pong).expect("json");
        assert_eq!(json, serde_json::json!({"op": "pong"}));
    }

    #[test]
    fn an_sse_frame_is_one_event_with_its_id() {
        let event = Event {
            id: "e1".into(),
            topic: "orders".into(),
            kind: "order.created".into(),
            data: serde_json::json!({"note": "línea 1\nlínea 2"}),
            at: chrono::Utc::now(),
            truncated: false,
            json: Default::default(),
            sse: Default::default(),
        };
        let frame = event.sse_frame();
        let text = std::str::from_utf8(&frame).expect("utf-8");
        let lines: Vec<&str> = text.split('\n').collect();
        // `id:`, one `data:` line (the line break inside the data is
        // escaped by JSON), the blank line that ends the event.
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "id: e1");
        let data: Event = serde_json::from_str(lines[1].strip_prefix("data: ").expect("data"))
            .expect("the data line is the event");
        assert_eq!(data.data["note"], "línea 1\nlínea 2");
        assert_eq!(lines[2..], ["", ""]);
        assert_eq!(
            SSE_OPENING,
            format!("retry: {}\n: faena\n\n", SSE_RETRY.as_millis()).as_bytes()
        );
    }
}
