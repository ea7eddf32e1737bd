//! The server's own connection handling (decision 0024): every connection
//! is served by hyper's HTTP/1 builder with a timer, under deadlines and
//! caps that make the binary safe to expose without a proxy in front.
//!
//! - A new connection must send a whole request head within
//!   `http.header_read_timeout_secs`, and a kept-alive one is closed after
//!   `http.keep_alive_idle_secs` without a request (or once its next head
//!   has begun and not finished within the head deadline).
//! - Connections are capped in all (`http.max_connections`, derived from
//!   the open-files limit by default) and per client address. At a cap the
//!   connection idle the longest (a half-open one, typically) is closed to
//!   make room; when none is idle, the newcomer is answered 503 and closed.
//! - `EMFILE` never spins the accept loop: a spare descriptor (of a few) is given up
//!   to accept and close the waiting connection.
//! - Shutdown stops accepting, lets requests in flight finish within the
//!   grace period, then closes what is left.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use faena_platform::Config;
use faena_platform::http::overload::{ConnectionRefused, Throttle, count_timeout};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tower::ServiceExt;

/// Connections refused at a cap that are still answered 503 at once (the
/// rest are closed without a word, so refusing stays cheap).
const REFUSAL_BUDGET: usize = 32;
/// How long a refused connection gets to send its head and read the 503.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);
/// Connections told to close may still hold their descriptor for a moment:
/// at most this many beyond the cap, after which accepting waits for them.
const CLOSING_SLACK: usize = 32;

/// The deadlines and caps of the listener.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read: Duration,
    pub keep_alive_idle: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
    pub trusted_proxies: Vec<IpAddr>,
    pub grace: Duration,
}

impl Limits {
    /// The configured limits; a `max_connections` of 0 is derived from the
    /// open-files limit `open_files`.
    pub fn from_config(config: &Config, open_files: u64) -> Self {
        let http = &config.http;
        let max_connections = match http.max_connections {
            0 => derived_max_connections(open_files, config.database.max_connections),
            n => n,
        };
        Self {
            header_read: Duration::from_secs(http.header_read_timeout_secs.max(1)),
            keep_alive_idle: Duration::from_secs(http.keep_alive_idle_secs.max(1)),
            max_connections,
            max_per_address: http.max_connections_per_address.max(1),
            trusted_proxies: http.trusted_proxies.clone(),
            grace: Duration::from_secs(http.shutdown_grace_secs),
        }
    }
}

/// The connection cap an open-files limit allows: what is left after the
/// database pool, the refusals and closings in progress, and a margin for
/// the rest
/// (the listener, logs, files being read or written, the realtime bus,
/// backups, outbound mail and webhooks): 64 descriptors plus 1/16 of the
/// limit. Between 16 and 65,536.
pub fn derived_max_connections(open_files: u64, db_pool: u32) -> usize {
    let headroom =
        64 + u64::from(db_pool) + REFUSAL_BUDGET as u64 + CLOSING_SLACK as u64 + open_files / 16;
    open_files.saturating_sub(headroom).clamp(16, 65_536) as usize
}

/// The open-files limit after trying to raise the soft limit to the hard
/// one (as Go's runtime does): `(before, after)`.
pub fn raise_open_files_limit() -> io::Result<(u64, u64)> {
    let (before, _hard) = rlimit::Resource::NOFILE.get()?;
    let after = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok((before, after))
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let registry = Arc::new(Registry::new(limits.clone()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let refusals = Arc::new(Semaphore::new(REFUSAL_BUDGET));
    let mut spares = Vec::with_capacity(SPARES);
    refill(&mut spares);
    let warn_emfile = Throttle::new(Duration::from_secs(60));
    tokio::pin!(shutdown);
    loop {
        // Evicted connections close within moments; do not take more
        // descriptors than the cap allows until they have.
        registry.wait_for_room(Duration::from_millis(250)).await;
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_out_of_descriptors(&e) => {
                metrics::counter!("faena_http_connections_refused_total", "cap" => "open_files")
                    .increment(1);
                if warn_emfile.ready() {
                    tracing::warn!(
                        error = %e,
                        "out of file descriptors: closing new connections at once; \
                         raise LimitNOFILE or lower http.max_connections \
                         (this warning repeats at most once a minute)"
                    );
                }
                // Give up a spare to take the waiting connection off the
                // queue and close it, instead of spinning on EMFILE. If
                // something else in the process took the freed descriptor
                // first (a database pool growing), give up the next spare.
                let mut closed = false;
                while !closed && spares.pop().is_some() {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            drop(stream);
                            closed = true;
                        }
                        Err(e) if is_out_of_descriptors(&e) => {}
                        Err(_) => break,
                    }
                }
                if !closed {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                refill(&mut spares);
                continue;
            }
            // A connection that went away before being accepted, and the
            // like: nothing to wait for.
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        match registry.admit(peer.ip()) {
            Ok(slot) => {
                let router = router.clone();
                let stop = stop_rx.clone();
                tokio::spawn(serve_connection(
                    stream,
                    peer,
                    router,
                    slot,
                    (limits.header_read, limits.keep_alive_idle),
                    stop,
                ));
            }
            Err(cap) => {
                metrics::counter!("faena_http_connections_refused_total", "cap" => cap)
                    .increment(1);
                if registry.warn_refused.ready() {
                    tracing::warn!(
                        cap,
                        open = registry.open(),
                        max_connections = limits.max_connections,
                        max_per_address = limits.max_per_address,
                        "connection cap reached and no idle connection to close: \
                         answering 503 (this warning repeats at most once a minute)"
                    );
                }
                if let Ok(permit) = refusals.clone().try_acquire_owned() {
                    let router = router.clone();
                    tokio::spawn(async move {
                        refuse_connection(stream, peer, router).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    if tokio::time::timeout(limits.grace, registry.drained())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = limits.grace.as_secs(),
            open = registry.open(),
            "connections still open after the grace period; closing them"
        );
        registry.evict_all();
        let _ = tokio::time::timeout(Duration::from_secs(1), registry.drained()).await;
    }
    Ok(())
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE and ENFILE, the same numbers on Linux and the BSDs.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Descriptors held back for taking connections off the queue when the
/// process is out of them: more than one, so that one taken by another
/// part of the process in the moment it is freed does not stall the loop.
const SPARES: usize = 4;

/// Opens spares up to `SPARES` (as many as the process can).
fn refill(spares: &mut Vec<std::fs::File>) {
    while spares.len() < SPARES {
        match std::fs::File::open("/dev/null") {
            Ok(f) => spares.push(f),
            Err(_) => break,
        }
    }
}

/// One admitted connection, from accept to close.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    slot: Slot,
    (header_read, keep_alive_idle): (Duration, Duration),
    mut stop: watch::Receiver<bool>,
) {
    let conn_state = slot.state.clone();
    let io = TokioIo::new(Tracked { stream, slot });
    let state = conn_state.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let guard = InFlight::begin(state.clone());
        let router = router.clone();
        async move {
            let response = router.oneshot(req.map(Body::new)).await?;
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                guard.state.upgraded.store(true, Ordering::Release);
            }
            Ok::<_, std::convert::Infallible>(response.map(|body| Guarded { body, guard }))
        }
    });
    let mut builder = http1::Builder::new();
    // hyper's own head timer would start at every wait for a head, kept-
    // alive connections included (a timer per request); the watcher below
    // applies both deadlines instead, at no cost per request.
    builder.header_read_timeout(None).keep_alive(true);
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let watcher = watch_idle(&conn_state, header_read, keep_alive_idle);
    tokio::pin!(watcher);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result
                    && e.is_timeout()
                {
                    count_timeout("head");
                }
                return;
            }
            stage = &mut watcher, if !draining => {
                count_timeout(stage);
                return;
            }
            () = conn_state.evict.notified() => return,
            changed = stop.changed(), if !draining => {
                if changed.is_err() || *stop.borrow() {
                    // Nothing in flight (idle, or a head still arriving):
                    // close now; otherwise let the request finish.
                    if conn_state.is_idle() {
                        return;
                    }
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A connection refused at a cap: it gets a moment to send its head and
/// is answered 503 by the router (rendered like every other problem, in
/// the caller's language), then closed.
async fn refuse_connection(stream: TcpStream, peer: SocketAddr, router: Router) {
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(ConnectionRefused);
        router.clone().oneshot(req.map(Body::new))
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_DEADLINE)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(REFUSAL_DEADLINE * 2, conn).await;
}

/// Resolves with the stage (`head` or `keep_alive`) whose deadline a
/// connection with no request in flight has passed.
///
/// It looks at the connection's state on its own schedule (at a deadline,
/// and at least every half head deadline) instead of being woken at each
/// request: a kept-alive connection serving thousands of requests a second
/// costs it nothing, and it still sees a head that starts arriving in time
/// to cut it at its deadline.
async fn watch_idle(state: &ConnState, head: Duration, idle: Duration) -> &'static str {
    let period = (head / 2).max(Duration::from_millis(100));
    loop {
        if state.in_flight.load(Ordering::Acquire) > 0 || state.upgraded.load(Ordering::Acquire) {
            tokio::time::sleep(period).await;
            continue;
        }
        let head_started = state.head_started.load(Ordering::Acquire);
        let (deadline, stage) = if head_started != 0 {
            (instant_at(head_started) + head, "head")
        } else if state.served.load(Ordering::Acquire) == 0 {
            (
                instant_at(state.idle_since.load(Ordering::Acquire)) + head,
                "head",
            )
        } else {
            (
                instant_at(state.idle_since.load(Ordering::Acquire)) + idle,
                "keep_alive",
            )
        };
        let now = Instant::now();
        if now >= deadline {
            return stage;
        }
        tokio::time::sleep_until(deadline.min(now + period).into()).await;
    }
}

/// Milliseconds since the first call, plus one (0 stands for "never").
fn now_ms() -> u64 {
    origin().elapsed().as_millis() as u64 + 1
}

fn instant_at(ms: u64) -> Instant {
    origin() + Duration::from_millis(ms.saturating_sub(1))
}

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// What the listener knows of one connection.
struct ConnState {
    in_flight: AtomicU32,
    served: AtomicU64,
    /// `now_ms()` when the connection last became idle (accepted, or its
    /// last response finished).
    idle_since: AtomicU64,
    /// `now_ms()` of the first byte of a head not yet dispatched, or 0.
    head_started: AtomicU64,
    /// Switched to another protocol (WebSocket): never idle to us.
    upgraded: AtomicBool,
    evict: Notify,
}

impl ConnState {
    fn new() -> Self {
        Self {
            in_flight: AtomicU32::new(0),
            served: AtomicU64::new(0),
            idle_since: AtomicU64::new(now_ms()),
            head_started: AtomicU64::new(0),
            upgraded: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && !self.upgraded.load(Ordering::Acquire)
    }
}

/// A request in flight on a connection, until its response body is done.
struct InFlight {
    state: Arc<ConnState>,
}

impl InFlight {
    fn begin(state: Arc<ConnState>) -> Self {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        state.served.fetch_add(1, Ordering::AcqRel);
        state.head_started.store(0, Ordering::Release);
        Self { state }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.idle_since.store(now_ms(), Ordering::Release);
        self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request in flight until it is done.
    struct Guarded {
        #[pin]
        body: Body,
        guard: InFlight,
    }
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        hyper::body::Body::size_hint(&self.body)
    }
}

pin_project_lite::pin_project! {
    /// The socket, which notes when a new head begins to arrive and holds
    /// the connection's place in the registry for as long as it is open
    /// (an upgraded WebSocket included).
    struct Tracked {
        #[pin]
        stream: TcpStream,
        slot: Slot,
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let result = this.stream.poll_read(cx, buf);
        if buf.filled().len() > before {
            let state = &this.slot.state;
            if state.in_flight.load(Ordering::Acquire) == 0
                && state.head_started.load(Ordering::Acquire) == 0
            {
                state.head_started.store(now_ms(), Ordering::Release);
            }
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().stream.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().stream.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The open connections, by id and by client address.
struct Registry {
    limits: Limits,
    conns: Mutex<Conns>,
    drained: Notify,
    freed: Notify,
    warn_refused: Throttle,
}

#[derive(Default)]
struct Conns {
    next_id: u64,
    all: HashMap<u64, Entry>,
    by_address: HashMap<IpAddr, Vec<u64>>,
    /// Entries told to close that have not closed yet.
    leaving: usize,
}

struct Entry {
    /// None for a trusted proxy's connections (not capped per address).
    address: Option<IpAddr>,
    state: Arc<ConnState>,
    leaving: bool,
}

/// A connection's place in the registry; dropping it frees the place.
struct Slot {
    registry: Arc<Registry>,
    id: u64,
    state: Arc<ConnState>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut conns = self.registry.lock();
        if let Some(entry) = conns.all.remove(&self.id) {
            if entry.leaving {
                conns.leaving -= 1;
            }
            if let Some(address) = entry.address
                && let Some(ids) = conns.by_address.get_mut(&address)
            {
                ids.retain(|id| *id != self.id);
                if ids.is_empty() {
                    conns.by_address.remove(&address);
                }
            }
        }
        metrics::gauge!("faena_http_connections_open").set(conns.all.len() as f64);
        self.registry.freed.notify_waiters();
        if conns.all.is_empty() {
            self.registry.drained.notify_waiters();
        }
    }
}

impl Registry {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            conns: Mutex::new(Conns::default()),
            drained: Notify::new(),
            freed: Notify::new(),
            warn_refused: Throttle::new(Duration::from_secs(60)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Conns> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self) -> usize {
        self.lock().all.len()
    }

    /// A place for a connection from `ip`, making room by closing the
    /// longest-idle connection at a cap; `Err(cap)` when there is none.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let mut conns = self.lock();
        let address = (!self.limits.trusted_proxies.contains(&ip)).then_some(ip);
        if let Some(address) = address {
            let ids = conns
                .by_address
                .get(&address)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let staying = ids.iter().filter(|id| !conns.all[*id].leaving).count();
            if staying >= self.limits.max_per_address {
                let victim = oldest_idle(&conns, ids.iter().copied()).ok_or("address")?;
                conns.evict(victim, "address");
            }
        }
        if conns.all.len() - conns.leaving >= self.limits.max_connections {
            let victim = oldest_idle(&conns, conns.all.keys().copied()).ok_or("global")?;
            conns.evict(victim, "global");
        }
        if conns.all.len() >= self.limits.max_connections + CLOSING_SLACK {
            return Err("global");
        }
        let id = conns.next_id;
        conns.next_id += 1;
        let state = Arc::new(ConnState::new());
        conns.all.insert(
            id,
            Entry {
                address,
                state: state.clone(),
                leaving: false,
            },
        );
        if let Some(address) = address {
            conns.by_address.entry(address).or_default().push(id);
        }
        metrics::gauge!("faena_http_connections_open").set(conns.all.len() as f64);
        Ok(Slot {
            registry: self.clone(),
            id,
            state,
        })
    }

    fn evict_all(&self) {
        let conns = self.lock();
        for entry in conns.all.values() {
            entry.state.evict.notify_one();
        }
    }

    /// Returns once fewer than `max_connections + CLOSING_SLACK` places
    /// are held, or after `at_most`.
    async fn wait_for_room(&self, at_most: Duration) {
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.open() < self.limits.max_connections + CLOSING_SLACK {
                return;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return;
            }
        }
    }

    async fn drained(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.lock().all.is_empty() {
                return;
            }
            drained.await;
        }
    }
}

impl Conns {
    fn evict(&mut self, id: u64, cap: &'static str) {
        if let Some(entry) = self.all.get_mut(&id) {
            entry.leaving = true;
            entry.state.evict.notify_one();
            self.leaving += 1;
            metrics::counter!("faena_http_connections_evicted_total", "cap" => cap).increment(1);
        }
    }
}

/// The connection among `ids` idle the longest, not already leaving.
fn oldest_idle(conns: &Conns, ids: impl Iterator<Item = u64>) -> Option<u64> {
    ids.filter_map(|id| conns.all.get(&id).map(|e| (id, e)))
        .filter(|(_, e)| !e.leaving && e.state.is_idle())
        .min_by_key(|(_, e)| e.state.idle_since.load(Ordering::Acquire))
        .map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_cap_leaves_room_for_the_rest() {
        assert_eq!(derived_max_connections(256, 8), 104);
        assert_eq!(derived_max_connections(1024, 8), 824);
        assert_eq!(derived_max_connections(1 << 20, 8), 65_536);
        assert_eq!(derived_max_connections(64, 8), 16);
    }
}
