//! Staying up under overload (decision 0024): each request belongs to a
//! class of route with its own concurrency and short queue (load
//! shedding), a handler has a deadline, and a request body must keep
//! moving. Whatever is refused is answered at once with a problem+json
//! and `Retry-After`, never left to time out in a queue.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{ClassLimit, HttpConfig};
use crate::error::Problem;

/// What a shed request is told to wait.
const SHED_RETRY_AFTER_SECS: u64 = 1;
/// What a request past its handler deadline is told to wait.
const TIMEOUT_RETRY_AFTER_SECS: u64 = 2;

/// The classes of route that are admitted separately, so that a flood of
/// one (say, page loads) cannot starve another (the API, health checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// `/api/health`, `/api/health/ready`, `/metrics`.
    Health,
    /// The realtime handshakes, `/api/events` and `/api/realtime` (the
    /// streams themselves are capped by `http.max_streams`).
    Realtime,
    /// Any `multipart/form-data` request.
    Uploads,
    /// The administration pages, `/admin/…`.
    Admin,
    /// The JSON API, `/api/…`.
    Api,
    /// Every other page and asset.
    Pages,
}

impl RouteClass {
    pub const ALL: [RouteClass; 6] = [
        RouteClass::Health,
        RouteClass::Realtime,
        RouteClass::Uploads,
        RouteClass::Admin,
        RouteClass::Api,
        RouteClass::Pages,
    ];

    pub fn of<B>(req: &axum::http::Request<B>) -> Self {
        let path = req.uri().path();
        if path == "/metrics" || path == "/api/health" || path.starts_with("/api/health/") {
            RouteClass::Health
        } else if path == "/api/events" || path == "/api/realtime" {
            RouteClass::Realtime
        } else if is_multipart(req) {
            RouteClass::Uploads
        } else if path == "/admin" || path.starts_with("/admin/") {
            RouteClass::Admin
        } else if path.starts_with("/api/") {
            RouteClass::Api
        } else {
            RouteClass::Pages
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RouteClass::Health => "health",
            RouteClass::Realtime => "realtime",
            RouteClass::Uploads => "uploads",
            RouteClass::Admin => "admin",
            RouteClass::Api => "api",
            RouteClass::Pages => "pages",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

fn is_multipart<B>(req: &axum::http::Request<B>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .get(..19)
                .is_some_and(|p| p.eq_ignore_ascii_case("multipart/form-data"))
        })
}

/// One class's admission: a semaphore of `concurrency` permits and a
/// bounded count of waiters.
struct Gate {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

/// The load shedder: the gates of all classes and the queue deadline.
pub struct Shedder {
    gates: Vec<Gate>,
    queue_timeout: Duration,
    warned: Throttle,
}

/// Why a request was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// The queue was full: refused at once.
    QueueFull,
    /// It waited its whole queue deadline without a turn.
    QueueTimeout,
}

impl Shed {
    fn label(self) -> &'static str {
        match self {
            Shed::QueueFull => "queue_full",
            Shed::QueueTimeout => "queue_timeout",
        }
    }
}

impl Shedder {
    pub fn new(config: &HttpConfig) -> Self {
        let shed = &config.shed;
        let limit = |class: RouteClass| -> ClassLimit {
            match class {
                RouteClass::Health => shed.health,
                RouteClass::Realtime => shed.realtime,
                RouteClass::Uploads => shed.uploads,
                RouteClass::Admin => shed.admin,
                RouteClass::Api => shed.api,
                RouteClass::Pages => shed.pages,
            }
        };
        Self {
            gates: RouteClass::ALL
                .iter()
                .map(|&class| {
                    let l = limit(class);
                    Gate {
                        permits: Arc::new(Semaphore::new(l.concurrency.max(1))),
                        waiting: AtomicUsize::new(0),
                        queue: l.queue,
                    }
                })
                .collect(),
            queue_timeout: Duration::from_millis(shed.queue_timeout_ms),
            warned: Throttle::new(Duration::from_secs(60)),
        }
    }

    /// A turn for a request of `class`: at once if one is free, after
    /// waiting in the class's queue otherwise, or refused.
    pub async fn admit(&self, class: RouteClass) -> Result<OwnedSemaphorePermit, Shed> {
        let gate = &self.gates[class.index()];
        if let Ok(permit) = gate.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if gate.waiting.fetch_add(1, Ordering::AcqRel) >= gate.queue {
            gate.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Shed::QueueFull);
        }
        let waited =
            tokio::time::timeout(self.queue_timeout, gate.permits.clone().acquire_owned()).await;
        gate.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Shed::QueueTimeout),
        }
    }
}

/// Marks a request that came on a connection refused at a connection
/// cap: it is answered 503 without running.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionRefused;

/// Middleware: admits each request through its class's gate and answers
/// 503 with `Retry-After` to what cannot be admitted in time.
pub async fn shed(State(shedder): State<Arc<Shedder>>, mut req: Request, next: Next) -> Response {
    if req.extensions().get::<ConnectionRefused>().is_some() {
        let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "too_many_connections");
        p.retry_after = Some(SHED_RETRY_AFTER_SECS);
        let mut res = p.into_response();
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    let class = RouteClass::of(&req);
    // Classified once: `deadlines`, further in, reads it back.
    req.extensions_mut().insert(class);
    match shedder.admit(class).await {
        Ok(permit) => {
            let response = next.run(req).await;
            drop(permit);
            response
        }
        Err(why) => {
            metrics::counter!("faena_http_shed_total", "class" => class.label(), "reason" => why.label())
                .increment(1);
            if shedder.warned.ready() {
                tracing::warn!(
                    class = class.label(),
                    reason = why.label(),
                    "overloaded: shedding requests (503); this warning repeats at most once a minute"
                );
            }
            overloaded()
        }
    }
}

/// The 503 of a shed request.
pub fn overloaded() -> Response {
    let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded");
    p.retry_after = Some(SHED_RETRY_AFTER_SECS);
    p.into_response()
}

/// Counts a timeout of one stage of a connection (`head`, `keep_alive`,
/// `body`, `handler`) in `/metrics`.
pub fn count_timeout(stage: &'static str) {
    metrics::counter!("faena_http_timeouts_total", "stage" => stage).increment(1);
}

/// The deadlines of the handler and the request body.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub handler: Duration,
    pub upload: Duration,
    pub body_window: Duration,
    pub body_min_rate: u64,
}

impl Deadlines {
    pub fn new(config: &HttpConfig) -> Self {
        Self {
            handler: Duration::from_secs(config.request_timeout_secs.max(1)),
            upload: Duration::from_secs(config.upload_timeout_secs.max(1)),
            body_window: Duration::from_secs(config.body_window_secs.max(1)),
            body_min_rate: config.body_min_rate,
        }
    }
}

/// Middleware: a body that stops moving is cut (408, and the connection
/// closes); a handler past its deadline is abandoned and answered 503 with
/// `Retry-After` (the server was too slow, not the client).
pub async fn deadlines(State(deadlines): State<Deadlines>, req: Request, next: Next) -> Response {
    let class = req
        .extensions()
        .get::<RouteClass>()
        .copied()
        .unwrap_or_else(|| RouteClass::of(&req));
    let limit = if class == RouteClass::Uploads {
        deadlines.upload
    } else {
        deadlines.handler
    };
    let (req, stalled) = if has_body(&req) {
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        let req = req.map(|body| {
            Body::new(MovingBody::new(
                body,
                deadlines.body_window,
                deadlines.body_min_rate,
                flag,
            ))
        });
        (req, Some(stalled))
    } else {
        (req, None)
    };
    let answered = tokio::time::timeout(limit, next.run(req)).await;
    if stalled.is_some_and(|s| s.load(Ordering::Acquire)) {
        count_timeout("body");
        let mut res = Problem::new(StatusCode::REQUEST_TIMEOUT, "body_timeout").into_response();
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    match answered {
        Ok(response) => response,
        Err(_) => {
            count_timeout("handler");
            tracing::warn!(
                limit_secs = limit.as_secs(),
                "the handler did not answer within its deadline; answered 503"
            );
            let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "handler_timeout");
            p.retry_after = Some(TIMEOUT_RETRY_AFTER_SECS);
            p.into_response()
        }
    }
}

/// Whether a body may follow (an empty one says so at once, for a request
/// off the wire without `Content-Length`/`Transfer-Encoding` or with a
/// length of 0).
fn has_body(req: &Request) -> bool {
    !req.body().is_end_stream()
}

/// The error a cut body reports to whoever reads it.
#[derive(Debug)]
pub struct BodyStalled;

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body stopped moving")
    }
}

impl std::error::Error for BodyStalled {}

pin_project_lite::pin_project! {
    /// A request body that must bring `min_rate × window` bytes in every
    /// window (the last, partial one excepted), or fails with
    /// `BodyStalled`.
    struct MovingBody {
        #[pin]
        inner: Body,
        window: Duration,
        min_bytes: u64,
        window_bytes: u64,
        timer: Pin<Box<tokio::time::Sleep>>,
        stalled: Arc<AtomicBool>,
    }
}

impl MovingBody {
    fn new(inner: Body, window: Duration, min_rate: u64, stalled: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            window,
            min_bytes: min_rate.saturating_mul(window.as_secs().max(1)),
            window_bytes: 0,
            timer: Box::pin(tokio::time::sleep(window)),
            stalled,
        }
    }
}

impl HttpBody for MovingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        if let Poll::Ready(frame) = this.inner.as_mut().poll_frame(cx) {
            if let Some(Ok(f)) = &frame
                && let Some(data) = f.data_ref()
            {
                *this.window_bytes += data.len() as u64;
            }
            return Poll::Ready(frame);
        }
        // Nothing now: at each window's end, judge the window.
        loop {
            ready!(this.timer.as_mut().poll(cx));
            if *this.window_bytes < *this.min_bytes {
                this.stalled.store(true, Ordering::Release);
                return Poll::Ready(Some(Err(axum::Error::new(BodyStalled))));
            }
            *this.window_bytes = 0;
            let next = tokio::time::Instant::now() + *this.window;
            this.timer.as_mut().reset(next);
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Lets something happen at most once per period (a warning line that
/// must not repeat for every request of a flood).
pub struct Throttle {
    period_ms: u64,
    last_ms: AtomicU64,
    origin: Instant,
}

impl Throttle {
    pub fn new(period: Duration) -> Self {
        Self {
            period_ms: period.as_millis() as u64,
            last_ms: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// True at most once per period.
    pub fn ready(&self) -> bool {
        // +1 so that the very first call passes (0 means "never").
        let now = self.origin.elapsed().as_millis() as u64 + 1;
        let last = self.last_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < self.period_ms {
            return false;
        }
        self.last_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, content_type: Option<&str>) -> axum::http::Request<()> {
        let mut b = axum::http::Request::builder().uri(path);
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn routes_fall_into_their_classes() {
        assert_eq!(
            RouteClass::of(&req("/api/health", None)),
            RouteClass::Health
        );
        assert_eq!(
            RouteClass::of(&req("/api/health/ready", None)),
            RouteClass::Health
        );
        assert_eq!(RouteClass::of(&req("/metrics", None)), RouteClass::Health);
        assert_eq!(RouteClass::of(&req("/api/healthy", None)), RouteClass::Api);
        assert_eq!(
            RouteClass::of(&req("/api/events", None)),
            RouteClass::Realtime
        );
        assert_eq!(
            RouteClass::of(&req(
                "/api/attachments/x/1",
                Some("Multipart/Form-Data; boundary=x")
            )),
            RouteClass::Uploads
        );
        assert_eq!(RouteClass::of(&req("/admin/jobs", None)), RouteClass::Admin);
        assert_eq!(
            RouteClass::of(&req("/administrar", None)),
            RouteClass::Pages
        );
        assert_eq!(RouteClass::of(&req("/api/orders", None)), RouteClass::Api);
        assert_eq!(RouteClass::of(&req("/orders", None)), RouteClass::Pages);
    }

    #[tokio::test]
    async fn a_full_class_queues_briefly_then_refuses_while_others_pass() {
        let mut config = HttpConfig::default();
        config.shed.api = ClassLimit {
            concurrency: 1,
            queue: 1,
        };
        config.shed.queue_timeout_ms = 50;
        let shedder = Arc::new(Shedder::new(&config));
        let held = shedder.admit(RouteClass::Api).await.expect("a free turn");
        let waiter = {
            let s = shedder.clone();
            tokio::spawn(async move { s.admit(RouteClass::Api).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            shedder.admit(RouteClass::Api).await.map(drop),
            Err(Shed::QueueFull)
        );
        assert_eq!(waiter.await.unwrap(), Err(Shed::QueueTimeout));
        assert!(shedder.admit(RouteClass::Pages).await.is_ok());
        drop(held);
        assert!(shedder.admit(RouteClass::Api).await.is_ok());
    }

    #[test]
    fn a_throttle_lets_one_through_per_period() {
        let t = Throttle::new(Duration::from_secs(60));
        assert!(t.ready());
        assert!(!t.ready());
    }
}
