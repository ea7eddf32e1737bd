//! `kill -9` of the real binary around the work that leaves the process:
//! mail, webhook deliveries and file uploads. Whatever was acknowledged
//! before the kill is there after the restart, and goes out once: work
//! queued but not yet sent is sent after the restart, work recorded as sent
//! is not sent again. (Between the far side accepting and our record of it
//! lies a window a crash can still hit; decisions 0014 and 0015 say what a
//! retry then carries: the same Message-ID, the same `webhook-id`.)
//! On SQLite, and on PostgreSQL when FAENA_TEST_POSTGRES_URL is set.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::binary::{Running, admin_token, start_with};
use crate::mail::{SmtpServer, free_port};

/// A database for the process: a fresh PostgreSQL one when the suite runs
/// on PostgreSQL, else the SQLite file in the data folder.
fn database() -> Option<faena_testkit::TestDatabase> {
    faena_testkit::postgres_url().map(|admin| faena_testkit::TestDatabase::create_empty(&admin))
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn of(running: &Running) -> Api {
        Api {
            base: format!("http://{}", running.address),
            token: admin_token(&running.address).await,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value, expected: StatusCode) -> Value {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected, "POST {path}");
        res.json().await.unwrap()
    }

    /// Queues a test mail to `prueba-<n>@faena.test` for each `n`; their ids.
    async fn test_mails(&self, numbers: std::ops::Range<u32>) -> Vec<String> {
        let mut ids = Vec::new();
        for n in numbers {
            let mail = self
                .post(
                    "/api/mail/test",
                    json!({"to": format!("prueba-{n}@faena.test")}),
                    StatusCode::ACCEPTED,
                )
                .await;
            ids.push(mail["id"].as_str().unwrap().to_owned());
        }
        ids
    }

    /// A client and an order for it; the order number (its creation queues
    /// an `order.created` webhook).
    async fn an_order(&self) -> String {
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let client = self
            .post(
                "/api/clients",
                json!({"name": "Ferretería El Roble", "email": format!("compras-{suffix}@elroble.cl")}),
                StatusCode::CREATED,
            )
            .await;
        let order = self
            .post(
                "/api/orders",
                json!({"client_id": client["id"], "lines": [{"sku": "TOR-M8", "description": "Tornillo M8", "quantity": 100}]}),
                StatusCode::CREATED,
            )
            .await;
        order["number"].as_str().unwrap().to_owned()
    }
}

/// No graceful anything.
async fn kill_9(mut running: Running) {
    running.child.start_kill().unwrap();
    running.child.wait().await.unwrap();
}

/// Polls `probe` until it holds (up to 30 s).
async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !probe().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many times each mail (by its Message-ID's local part) reached the
/// SMTP server.
fn received(smtp: &SmtpServer) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for message in smtp.messages() {
        let id = message
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: <"))
            .and_then(|rest| rest.split('@').next())
            .expect("every mail has a Message-ID")
            .to_owned();
        *seen.entry(id).or_default() += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_and_webhooks_acknowledged_before_kill_9_go_out_once() {
    let Some(python) = SmtpServer::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = database();
    let url = db.as_ref().map(|d| d.url.as_str());
    let smtp_port = free_port();
    let smtp = SmtpServer::start(&python, smtp_port);
    let (hook_url, hooks_seen) = crate::webhooks::fixed_server(StatusCode::OK).await;
    let env = [
        ("FAENA_MAIL__TRANSPORT", "smtp".to_owned()),
        ("FAENA_MAIL__SMTP__HOST", "127.0.0.1".to_owned()),
        ("FAENA_MAIL__SMTP__PORT", smtp_port.to_string()),
        ("FAENA_MAIL__SMTP__SECURITY", "none".to_owned()),
        ("FAENA_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true".to_owned()),
        ("FAENA_JOBS__LEASE_SECS", "2".to_owned()),
    ];
    let hooks = |seen: &std::sync::Arc<std::sync::Mutex<Vec<String>>>| {
        let mut count: HashMap<String, usize> = HashMap::new();
        for id in seen.lock().unwrap().iter() {
            *count.entry(id.clone()).or_default() += 1;
        }
        count
    };

    // 1. Acknowledged, not yet sent: a server without its worker queues
    //    three mails and two order webhooks, and is killed.
    let running = start_with(dir.path(), url, None, &["--no-worker"], &env).await;
    let api = Api::of(&running).await;
    api.post(
        "/api/webhooks/endpoints",
        json!({"url": format!("{hook_url}/hook"), "event_types": ["order.*"], "description": "Pruebas"}),
        StatusCode::CREATED,
    )
    .await;
    let mails = api.test_mails(0..3).await;
    api.an_order().await;
    api.an_order().await;
    kill_9(running).await;
    assert!(received(&smtp).is_empty() && hooks(&hooks_seen).is_empty());

    // After the restart, with its worker, each goes out exactly once.
    let running = start_with(dir.path(), url, None, &[], &env).await;
    let api = Api::of(&running).await;
    eventually("the three mails", || async { received(&smtp).len() == 3 }).await;
    eventually("the two webhooks", || async {
        hooks(&hooks_seen).len() == 2
    })
    .await;
    let sent = received(&smtp);
    for id in &mails {
        assert_eq!(sent.get(id), Some(&1), "mail {id} arrived once: {sent:?}");
    }

    // 2. Sent and recorded: two more of each; once the server says they
    //    are sent, it is killed, and the restart sends nothing again.
    let more = api.test_mails(3..5).await;
    api.an_order().await;
    api.an_order().await;
    for id in &more {
        eventually("the mail recorded as sent", || async {
            api.get(&format!("/api/mail/{id}")).await["state"] == "sent"
        })
        .await;
    }
    eventually("four webhooks recorded as delivered", || async {
        api.get("/api/webhooks/deliveries?state=succeeded").await["items"]
            .as_array()
            .unwrap()
            .len()
            == 4
    })
    .await;
    kill_9(running).await;
    let running = start_with(dir.path(), url, None, &[], &env).await;
    let api = Api::of(&running).await;
    // Long enough for any lease of the killed worker to lapse and its job
    // to run again, were it still due.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sent = received(&smtp);
    assert_eq!(sent.len(), 5, "{sent:?}");
    assert!(sent.values().all(|n| *n == 1), "no mail twice: {sent:?}");
    let delivered = hooks(&hooks_seen);
    assert_eq!(delivered.len(), 4, "{delivered:?}");
    assert!(
        delivered.values().all(|n| *n == 1),
        "no webhook twice: {delivered:?}"
    );
    let mail = api.get("/api/mail?state=sent").await;
    assert_eq!(mail["items"].as_array().unwrap().len(), 5, "{mail}");
    crate::binary::stop_within_five_seconds(running).await;
}

/// A multipart body with one file field.
fn multipart(boundary: &str, name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// A PDF-looking file of `size` bytes.
fn pdf(size: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..size - bytes.len()).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_survives_kill_9_and_one_cut_off_by_it_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = database();
    let url = db.as_ref().map(|d| d.url.as_str());
    let running = start_with(dir.path(), url, None, &[], &[]).await;
    let api = Api::of(&running).await;
    let number = api.an_order().await;
    let path = format!("/api/attachments/wms.order/{number}");

    // Acknowledged: a 1 MiB upload answered 201, then the kill.
    let kept = pdf(1 << 20, 7);
    let boundary = "faena-crash-test";
    let res = reqwest::Client::new()
        .post(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(multipart(boundary, "guia.pdf", &kept))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let file_id = created["id"].as_str().unwrap().to_owned();

    // Cut off: half of a 16 MiB upload is sent (more than one part of a
    // multipart write, which the local store stages on disk), then the
    // process dies.
    let cut = multipart(boundary, "cortado.pdf", &pdf(16 << 20, 9));
    let mut socket = tokio::net::TcpStream::connect(&running.address)
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        running.address,
        api.token,
        cut.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&cut[..cut.len() / 2]).await.unwrap();
    socket.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill_9(running).await;
    drop(socket);

    let files_dir = dir.path().join("files");
    let staging = || {
        walk(&files_dir)
            .into_iter()
            .filter(|(path, _)| path.contains('#'))
            .count()
    };
    assert!(
        staging() > 0,
        "the cut-off write left a part on disk: {:?}",
        walk(&files_dir)
    );

    // The restart's sweep (grace 0 here; an hour by default) removes it.
    let env = [("FAENA_FILES__ORPHAN_GRACE_SECS", "0".to_owned())];
    let running = start_with(dir.path(), url, None, &[], &env).await;
    let api = Api::of(&running).await;
    let listed = api.get(&path).await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["guia.pdf"], "the acknowledged file only: {listed}");
    let res = reqwest::Client::new()
        .get(format!("{}/api/files/{file_id}/content", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.bytes().await.unwrap();
    assert_eq!(
        hex(&Sha256::digest(&body)),
        hex(&Sha256::digest(&kept)),
        "the same bytes after the restart"
    );
    assert_eq!(
        created["sha256"].as_str(),
        Some(hex(&Sha256::digest(&kept)).as_str())
    );
    eventually("the sweep of the staged part", || async { staging() == 0 }).await;
    let left = walk(&files_dir);
    assert_eq!(
        left.len(),
        1,
        "only the acknowledged file's object: {left:?}"
    );
    assert_eq!(left[0].1, kept.len() as u64);
    crate::binary::stop_within_five_seconds(running).await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn walk(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push((p.display().to_string(), e.metadata().unwrap().len()));
        }
    }
    out
}
