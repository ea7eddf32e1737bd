//! Realtime fan-out: N Server-Sent Events subscribers (default 10,000) on
//! one `faena serve` process, then one order created through the API per
//! round; for every subscriber, the time from sending the request that
//! causes the event to reading the event. Reports p50/p99/max delivery
//! latency and the server's resident memory before and after the
//! subscribers connect.
//!
//! The server is the real binary (SQLite, a temporary data dir); this
//! process is only the clients, so their memory does not count.
//!
//! `cargo bench -p faena-server --bench fanout`
//! (`FANOUT_SUBSCRIBERS=2000` for a smaller run; needs `ulimit -n` above it;
//! `FANOUT_SERVER_BIN=path/to/faena` measures another build of the server.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

const EMAIL: &str = "admin@bench.test";
const PASSWORD: &str = "Banco-de-pruebas-2026!";
const ROUNDS: usize = 5;

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0)
    }

    /// CPU time the server has used, in milliseconds: (user, system).
    fn cpu_ms(&self) -> (u64, u64) {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|s| {
                // Fields after the command name (which ends with ')'):
                // utime and stime are the 12th and 13th, in clock ticks
                // (100 per second on Linux).
                let rest = s.rsplit_once(')')?.1;
                let f: Vec<&str> = rest.split_whitespace().collect();
                let user = f.get(11)?.parse::<u64>().ok()?;
                let system = f.get(12)?.parse::<u64>().ok()?;
                Some((user * 10, system * 10))
            })
            .unwrap_or((0, 0))
    }
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // `FANOUT_SERVER_BIN` runs another build of the server against the
    // same clients (to compare two versions).
    let program =
        std::env::var("FANOUT_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_faena").into());
    let child = Command::new(program)
        .args(["serve", "--no-worker", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .env("FAENA_ADMIN_EMAIL", EMAIL)
        .env("FAENA_ADMIN_PASSWORD", PASSWORD)
        .env("FAENA_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the faena binary starts");
    Server {
        child,
        port,
        _dir: dir,
    }
}

/// One HTTP/1.1 request on its own connection; the status and JSON body.
async fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
        return (0, Value::Null);
    };
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let status = text[9..12].parse().unwrap_or(0);
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// Opens an SSE stream on `orders`; reports readiness, then the instant
/// each event arrives.
async fn subscriber(
    port: u16,
    token: Arc<String>,
    ready: Arc<AtomicUsize>,
    arrivals: mpsc::UnboundedSender<Instant>,
    mut stop: watch::Receiver<bool>,
) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "GET /api/events?topics=orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let mut seen_headers = false;
    // Bytes not yet split into lines; no per-line allocation, as this
    // process shares the machine's two cores with the server.
    let mut pending: Vec<u8> = Vec::with_capacity(8192);
    loop {
        let n = tokio::select! {
            r = s.read(&mut buf) => r.unwrap_or(0),
            _ = stop.changed() => return,
        };
        if n == 0 {
            return;
        }
        let now = Instant::now();
        pending.extend_from_slice(&buf[..n]);
        if !seen_headers {
            let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            assert!(
                head.starts_with("HTTP/1.1 200"),
                "subscription refused: {head}"
            );
            seen_headers = true;
            pending.drain(..end + 4);
            ready.fetch_add(1, Ordering::Relaxed);
        }
        // Events are `id:`/`event:`/`data:` lines; keepalives are comments.
        // (Chunk-size lines of the chunked encoding never start so.)
        let mut start = 0;
        while let Some(i) = pending[start..].iter().position(|b| *b == b'\n') {
            if pending[start..start + i].starts_with(b"data:") {
                let _ = arrivals.send(now);
            }
            start += i + 1;
        }
        pending.drain(..start);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let n: usize = std::env::var("FANOUT_SUBSCRIBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = start_server();
    let port = server.port;
    rt.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while request(port, "GET", "/api/health/ready", None, None).await.0 != 200 {
            assert!(Instant::now() < deadline, "the server never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, login) = request(port, "POST", "/api/auth/login", None, Some(&json!({"email": EMAIL, "password": PASSWORD}))).await;
        let token = Arc::new(login["access_token"].as_str().expect("a token").to_owned());
        let (status, client) = request(port, "POST", "/api/clients", Some(&token), Some(&json!({"name": "Bodegas del Maule", "email": "compras@maule.cl"}))).await;
        assert_eq!(status, 201, "{client}");
        let rss_idle = server.rss_kib();

        let ready = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = watch::channel(false);
        let started = Instant::now();
        // Connect in batches, so the listen backlog never overflows.
        let mut spawned = 0;
        while spawned < n {
            let batch = (n - spawned).min(250);
            for _ in 0..batch {
                let (token, ready, tx, stop) = (token.clone(), ready.clone(), tx.clone(), stop_rx.clone());
                tokio::spawn(subscriber(port, token, ready, tx, stop));
            }
            spawned += batch;
            while ready.load(Ordering::Relaxed) < spawned {
                assert!(
                    started.elapsed() < Duration::from_secs(300),
                    "only {} of {n} subscribers connected",
                    ready.load(Ordering::Relaxed)
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let connect_secs = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss_connected = server.rss_kib();

        let cpu_before = server.cpu_ms();
        let mut latencies = Vec::with_capacity(n * ROUNDS);
        let mut max_rss = rss_connected;
        for round in 0..ROUNDS {
            let t0 = Instant::now();
            let (status, order) = request(port, "POST", "/api/orders", Some(&token), Some(&json!({
                "client_id": client["id"],
                "lines": [{"sku": "CAJ-40", "description": "Caja de cartón 40x30", "quantity": round + 1}],
            }))).await;
            assert_eq!(status, 201, "{order}");
            let mut got = 0;
            while got < n {
                let at = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                    .await
                    .expect("every subscriber receives the event within 30 s")
                    .unwrap();
                latencies.push(at.saturating_duration_since(t0));
                got += 1;
            }
            max_rss = max_rss.max(server.rss_kib());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Minus the pauses between rounds, in which the server idles.
        let cpu_after = server.cpu_ms();
        let user_per_event = (cpu_after.0 - cpu_before.0) / ROUNDS as u64;
        let system_per_event = (cpu_after.1 - cpu_before.1) / ROUNDS as u64;
        let _ = stop_tx.send(true);
        latencies.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("fanout: {n} SSE subscribers on topic orders, {ROUNDS} events, {} deliveries", latencies.len());
        println!("  connect all: {connect_secs:.1} s");
        println!(
            "  delivery latency (request sent -> event read): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.99)),
            ms(*latencies.last().unwrap())
        );
        println!(
            "  server CPU per event fanned out (order creation included): {} ms ({user_per_event} ms user, {system_per_event} ms system)",
            user_per_event + system_per_event
        );
        println!(
            "  server RSS: {} MiB idle, {} MiB with {n} subscribers, {} MiB at most during fan-out",
            rss_idle / 1024,
            rss_connected / 1024,
            max_rss / 1024
        );
    });
}
