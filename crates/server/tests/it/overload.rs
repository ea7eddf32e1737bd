//! Slow clients, connection floods and overload (decision 0024), with the
//! limits lowered through configuration so that each runs in seconds, on
//! SQLite and on PostgreSQL. Attackers connect from 127.0.0.2 and
//! 127.0.0.3, the real client from 127.0.0.1 (all loopback on Linux).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use faena_platform::db::DbKind;
use faena_testkit::{Client, TestApp};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PARTIAL_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nX: ";

fn socket_address(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().unwrap()
}

async fn connect_from(source: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    socket.connect(to).await.expect("connects")
}

/// Opens `n` connections from `source` that send a partial head and stop.
async fn half_open(source: [u8; 4], to: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = connect_from(source, to).await;
        // A connection the server already closed may refuse the write.
        let _ = s.write_all(PARTIAL_HEAD).await;
        out.push(s);
    }
    out
}

/// Whether the server closed `stream` within `within` (reads to EOF).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

/// GET /api/health from 127.0.0.1, which must answer 200 within a second.
async fn served_within_a_second(base: &str) -> Duration {
    let started = Instant::now();
    let res = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap()
        .get(format!("{base}/api/health"))
        .send()
        .await
        .expect("a real client is answered within 1 s");
    assert_eq!(res.status(), 200);
    started.elapsed()
}

fn bearer(client: &Client) -> String {
    client.default_headers()[header::AUTHORIZATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Sends a raw request (head, then the body in pieces) and reads the whole
/// answer (the request asks the server to close).
async fn raw_post(
    base: &str,
    token: &str,
    path: &str,
    declared_length: usize,
    pieces: Vec<(Vec<u8>, Duration)>,
) -> String {
    let mut s = connect_from([127, 0, 0, 1], socket_address(base)).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {declared_length}\r\n\
         Connection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for (piece, pause) in pieces {
        if s.write_all(&piece).await.is_err() {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer))
        .await
        .expect("an answer within 10 s")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_closed_after_the_head_deadline() {
    let app = TestApp::with_config(|c| c.http.header_read_timeout_secs = 1).await;
    let base = app.serve().await;
    let to = socket_address(&base);
    let opened = Instant::now();
    let mut partial = half_open([127, 0, 0, 2], to, 20).await;
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(connect_from([127, 0, 0, 2], to).await);
    }
    for s in partial.iter_mut().chain(silent.iter_mut()) {
        assert!(
            closed_within(s, Duration::from_secs(4)).await,
            "a half-open connection is closed after the 1 s head deadline"
        );
    }
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "not before the deadline: {took:?}"
    );
    // An operator sees it.
    let metrics = app.admin().await.get("/metrics").await.text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("faena_http_timeouts_total{stage=\"head\"}")),
        "{metrics}"
    );
    assert!(metrics.contains("faena_http_connections_open"), "{metrics}");
    assert!(metrics.contains("faena_process_open_files "), "{metrics}");

    // A kept-alive connection is not cut by the head deadline between
    // requests: it waits `keep_alive_idle_secs`.
    let mut kept = connect_from([127, 0, 0, 1], to).await;
    kept.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    assert!(
        !closed_within(&mut kept, Duration::from_millis(1500)).await,
        "an idle kept-alive connection outlives the head deadline"
    );
    // But a head that starts on it and never ends is cut at the deadline.
    kept.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX: ")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut kept, Duration::from_secs(3)).await,
        "a slow head on a kept-alive connection is cut"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2000),
        "at the 1 s head deadline: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_half_open_connections_than_the_caps_leave_a_real_client_served() {
    let app = TestApp::with_config(|c| {
        // Long enough that only the caps can help.
        c.http.header_read_timeout_secs = 60;
        c.http.max_connections = 50;
        c.http.max_connections_per_address = 20;
    })
    .await;
    let base = app.serve().await;
    let to = socket_address(&base);

    // Past the per-address cap: the oldest idle connections of that
    // address are closed to make room.
    let mut first = half_open([127, 0, 0, 2], to, 100).await;
    let took = served_within_a_second(&base).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    let mut still_open = 0;
    for s in &mut first {
        if !closed_within(s, Duration::from_millis(20)).await {
            still_open += 1;
        }
    }
    assert!(
        still_open <= 20,
        "at most the per-address cap stays open: {still_open}"
    );

    // Past the global cap, from more addresses: the same.
    let _second = half_open([127, 0, 0, 3], to, 20).await;
    let _third = half_open([127, 0, 0, 4], to, 20).await;
    let _fourth = half_open([127, 0, 0, 5], to, 20).await;
    for _ in 0..3 {
        served_within_a_second(&base).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_cut_while_a_slow_steady_one_completes() {
    let app = TestApp::with_config(|c| {
        c.http.body_window_secs = 1;
        c.http.body_min_rate = 100;
    })
    .await;
    let admin = app.admin().await;
    let token = bearer(&admin);
    let base = app.serve().await;

    // Ten bytes of a thousand, then nothing: cut after the first window.
    let started = Instant::now();
    let answer = raw_post(
        &base,
        &token,
        "/api/clients",
        1000,
        vec![(b"{\"name\":\"".to_vec(), Duration::ZERO)],
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut within the window: {:?}",
        started.elapsed()
    );

    // 600 bytes at 200 B/s (twice the minimum): slow, but it moves.
    let mut body = br#"{"name":"Ferreteria Lenta","email":"lenta@faena.cl"}"#.to_vec();
    body.resize(600, b' ');
    let pieces = body
        .chunks(40)
        .map(|c| (c.to_vec(), Duration::from_millis(200)))
        .collect();
    let answer = raw_post(&base, &token, "/api/clients", 600, pieces).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let list = admin.get("/api/clients").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["name"], "Ferreteria Lenta");
}

/// Holds the clients table's write lock in a transaction of its own until
/// dropped or rolled back.
async fn lock_clients(app: &TestApp) -> DatabaseTransaction {
    let txn = faena_platform::db::begin(app.state.db()).await.unwrap();
    match app.db_kind() {
        DbKind::Sqlite => {
            // Any write takes SQLite's one write lock.
            txn.execute_unprepared("CREATE TABLE overload_lock (x INTEGER)")
                .await
                .unwrap();
        }
        DbKind::Postgres => {
            txn.execute_unprepared("LOCK TABLE clients IN EXCLUSIVE MODE")
                .await
                .unwrap();
        }
    }
    txn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_held_up_answers_503_with_retry_after_within_its_deadline() {
    let app = TestApp::with_config(|c| c.http.request_timeout_secs = 1).await;
    let admin = app.admin().await;
    let lock = lock_clients(&app).await;

    let started = Instant::now();
    let res = admin
        .post_json(
            "/api/clients",
            &json!({"name": "Bazar Norte", "email": "bazar@norte.cl"}),
        )
        .await;
    let took = started.elapsed();
    res.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json()["code"], "handler_timeout");
    assert!(res.header("retry-after").is_some(), "{:?}", res.headers);
    assert!(
        res.json()["title"].as_str().unwrap().contains("tardó"),
        "in Spanish: {}",
        res.json()
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "answered at the 1 s deadline: {took:?}"
    );

    lock.rollback().await.unwrap();
    // The abandoned write is not half-done: nothing, or the whole client.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let list = admin.get("/api/clients").await.json();
    assert_eq!(list["items"], json!([]), "an unacknowledged write: {list}");
    // And the server goes on.
    admin
        .post_json(
            "/api/clients",
            &json!({"name": "Bazar Norte", "email": "bazar@norte.cl"}),
        )
        .await
        .assert_status(StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_at_ten_times_the_admitted_concurrency_gets_503s_not_timeouts() {
    let app = TestApp::with_config(|c| {
        c.http.shed.api.concurrency = 2;
        c.http.shed.api.queue = 2;
        c.http.shed.queue_timeout_ms = 300;
        c.http.request_timeout_secs = 10;
    })
    .await;
    let admin = app.admin().await;
    let lock = lock_clients(&app).await;

    // Forty writes at once against two turns and two places in the queue,
    // while the database holds them up.
    let mut flood = Vec::new();
    for i in 0..40 {
        let admin = admin.clone();
        flood.push(tokio::spawn(async move {
            let started = Instant::now();
            let res = admin
                .post_json(
                    "/api/clients",
                    &json!({"name": format!("Cliente {i}"), "email": format!("c{i}@faena.cl")}),
                )
                .await;
            (res, started.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Health has its own budget: it answers during the flood.
    let started = Instant::now();
    app.anonymous()
        .get("/api/health")
        .await
        .assert_status(StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(500));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    lock.rollback().await.unwrap();

    let mut created = Vec::new();
    let mut shed = 0;
    for task in flood {
        let (res, took) = task.await.unwrap();
        assert!(
            took < Duration::from_secs(5),
            "answered, not left waiting: {took:?}"
        );
        match res.status {
            StatusCode::CREATED => created.push(res.header("location").unwrap().to_owned()),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(res.json()["code"], "overloaded");
                assert_eq!(res.header("retry-after"), Some("1"));
                shed += 1;
            }
            other => panic!("unexpected {other}: {}", res.text()),
        }
    }
    assert!(shed >= 30, "most of the flood was shed: {shed}");
    let metrics = admin.get("/metrics").await.text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("faena_http_shed_total{") && l.contains("class=\"api\"")),
        "{metrics}"
    );
    assert!(!created.is_empty(), "the admitted writes went through");
    // Every acknowledged write is there, and nothing else.
    let list = admin.get("/api/clients?limit=100").await.json();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        created.len(),
        "{list}"
    );
    for location in created {
        admin.get(&location).await.assert_status(StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_streams_are_capped_per_user() {
    let app = TestApp::with_config(|c| c.http.max_streams_per_user = 2).await;
    let admin = app.admin().await;
    let base = app.serve().await;
    let client = reqwest::Client::new();
    let open = || {
        client
            .get(format!("{base}/api/events?topics=orders"))
            .header(header::AUTHORIZATION, bearer(&admin))
            .send()
    };
    let first = open().await.unwrap();
    let second = open().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    let third = open().await.unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["code"], "too_many_streams");
    // Closing one frees its place.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        let res = open().await.unwrap();
        if res.status() == 200 {
            reopened = Some(res);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "a closed stream's place is freed");
}

#[tokio::test]
async fn a_server_started_under_a_low_soft_limit_raises_it() {
    let hard: u64 = String::from_utf8(
        std::process::Command::new("bash")
            .args(["-c", "ulimit -Hn"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap_or(u64::MAX);
    let dir = tempfile::tempdir().unwrap();
    let running = super::binary::start_under(dir.path(), None, Some("ulimit -Sn 256")).await;
    let open_files = running.listening["open_files"].as_u64().unwrap();
    assert_eq!(open_files, hard, "the soft limit is raised to the hard one");
    super::binary::stop_within_five_seconds(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_hard_limit_of_256_a_flood_of_300_leaves_real_clients_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut running = super::binary::start_under(dir.path(), None, Some("ulimit -n 256")).await;
    assert_eq!(running.listening["open_files"], 256);
    assert_eq!(running.listening["max_connections"], 104);
    let base = format!("http://{}", running.address);
    let to = socket_address(&base);

    let _flood = half_open([127, 0, 0, 2], to, 300).await;
    for _ in 0..3 {
        served_within_a_second(&base).await;
    }
    let _more = half_open([127, 0, 0, 3], to, 100).await;
    let token = super::binary::admin_token(&running.address).await;
    let res = reqwest::Client::new()
        .get(format!("{base}/api/system/info"))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let lines = running.drain_lines();
    assert!(
        !lines.iter().any(|l| l.contains("out of file descriptors")),
        "never ran out of descriptors: {lines:?}"
    );
    super::binary::stop_within_five_seconds(running).await;
}

/// CPU time (user + system, in clock ticks) the process `pid` has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Caps set above what the descriptors allow (a misconfiguration): the
/// accept loop meets EMFILE. It must neither spin on it nor stop: each
/// connection it cannot take is closed at once, one warning is logged, and
/// once descriptors are free again real clients are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_accept_loop_neither_spins_nor_dies() {
    // The flood's 200 sockets are this process's descriptors too.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("FAENA_HTTP__MAX_CONNECTIONS", "1000".to_owned()),
        ("FAENA_HTTP__MAX_CONNECTIONS_PER_ADDRESS", "1000".to_owned()),
        ("FAENA_HTTP__HEADER_READ_TIMEOUT_SECS", "60".to_owned()),
    ];
    let mut running =
        super::binary::start_with(dir.path(), None, Some("ulimit -n 128"), &[], &env).await;
    assert_eq!(running.listening["open_files"], 128);
    assert_eq!(running.listening["max_connections"], 1000);
    let base = format!("http://{}", running.address);
    let to = socket_address(&base);
    let pid = running.child.id().unwrap();

    // More connections than descriptors: the last ones are closed as the
    // accept loop reaches them (on a busy machine that takes a moment; a
    // loop that stopped would never close them).
    let mut flood = half_open([127, 0, 0, 2], to, 200).await;
    let mut closed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while closed == 0 && tokio::time::Instant::now() < deadline {
        for s in flood.iter_mut().rev().take(50) {
            if closed_within(s, Duration::from_millis(20)).await {
                closed += 1;
            }
        }
    }
    assert!(closed > 0, "connections past the descriptors are closed");
    // Held there, the accept loop waits; it does not spin.
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_ticks(pid) - before;
    assert!(used < 40, "{used} ticks of CPU in 2 s out of descriptors");
    let lines = running.drain_lines();
    let warnings = lines
        .iter()
        .filter(|l| l.contains("out of file descriptors"))
        .count();
    assert_eq!(
        warnings, 1,
        "one warning, not one per connection: {lines:?}"
    );

    // The flood gone, the server closes its side and takes the dead
    // connections still queued in the backlog; then it serves again.
    drop(flood);
    let gone = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    loop {
        let answer = client.get(format!("{base}/api/health")).send().await;
        if answer.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "served again within 5 s of the flood's end"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = super::binary::admin_token(&running.address).await;
    let metrics = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("faena_http_connections_refused_total{cap=\"open_files\"}")),
        "{metrics}"
    );
    super::binary::stop_within_five_seconds(running).await;
}
