//! HTTP plumbing shared by every route: extractors, the problem layer,
//! request ids, metrics and security headers. The server crate stacks these
//! around the composed router; modules only use the extractors.

pub mod created;
pub mod etag;
pub mod extract;
pub mod input;
pub mod overload;
pub mod pagination;
pub mod problem;
pub mod problem_doc;

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, RequestId};

pub use created::Created;
pub use extract::{Json, Query};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request this task serves, for work it leaves behind
    /// (a job enqueued in its transaction logs under the same id).
    static CURRENT_REQUEST_ID: Option<String>;
}

/// The id of the request being served by this task, if any.
pub fn current_request_id() -> Option<String> {
    CURRENT_REQUEST_ID.try_with(Clone::clone).ok().flatten()
}

/// Makes the request's id (set by the request-id layer) the task's, for
/// `current_request_id`.
pub async fn scope_request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    CURRENT_REQUEST_ID.scope(id, next.run(req)).await
}

/// Keeps a well-formed incoming `x-request-id` (so a proxy's id follows the
/// request through our logs) and makes a UUIDv7 otherwise.
#[derive(Clone, Copy, Default)]
pub struct RequestIdMaker;

impl MakeRequestId for RequestIdMaker {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::now_v7().to_string();
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// A caller-supplied id is kept only when it is short, printable ASCII: it
/// lands in every log line, so it must not be able to forge one.
pub fn has_valid_request_id<B>(request: &axum::http::Request<B>) -> bool {
    request.headers().get(REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
    })
}

/// Drops a malformed incoming request id so that `RequestIdMaker` replaces
/// it (tower-http keeps any id that is present).
pub async fn sanitise_request_id(mut req: Request, next: Next) -> Response {
    if req.headers().contains_key(REQUEST_ID) && !has_valid_request_id(&req) {
        req.headers_mut().remove(REQUEST_ID);
    }
    next.run(req).await
}

/// The route template that matched, carried on the response so the outer
/// metrics layer can label by route (it runs before routing).
#[derive(Clone)]
struct RouteLabel(String);

/// Installed with `route_layer`: runs only for matched routes.
pub async fn capture_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteLabel(route));
    }
    response
}

/// Counts requests and their latency by method, route template and status.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}

/// Content-Security-Policy of every page: nothing but our own origin.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The API docs page runs a web component that sets inline styles.
pub const CSP_DOCS: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
     font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; \
     frame-ancestors 'none'";

/// Adds the security headers a handler has not set itself; `State` says
/// whether HSTS is on.
pub async fn security_headers(
    axum::extract::State(hsts): axum::extract::State<bool>,
    req: Request,
    next: Next,
) -> Response {
    let mut response = next.run(req).await;
    {
        let headers = response.headers_mut();
        let defaults = [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ),
        ];
        for (name, value) in defaults {
            if !headers.contains_key(&name) {
                headers.insert(name, HeaderValue::from_static(value));
            }
        }
        if hsts && !headers.contains_key(header::STRICT_TRANSPORT_SECURITY) {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=63072000; includeSubDomains"),
            );
        }
    }
    response
}
