//! The real `faena` binary: starts, answers, and stops cleanly on SIGINT.

use std::process::Stdio;
use std::time::{Duration, Instant};

use faena_testkit::{ADMIN_EMAIL, ADMIN_PASSWORD};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Running {
    pub child: Child,
    pub address: String,
    /// The "listening" log event (open files, connection caps…).
    pub listening: serde_json::Value,
    listening_at: Instant,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Starts `faena serve` on a free port and waits for its "listening" line.
pub async fn start(data_dir: &std::path::Path, database_url: Option<&str>) -> Running {
    start_under(data_dir, database_url, None).await
}

/// `start`, with a shell command run first in the server's shell (such as
/// `ulimit -n 256`).
pub async fn start_under(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    before: Option<&str>,
) -> Running {
    start_with(data_dir, database_url, before, &[], &[]).await
}

/// `start_under`, with more arguments to `serve` and more environment.
pub async fn start_with(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    before: Option<&str>,
    args: &[&str],
    env: &[(&str, String)],
) -> Running {
    let mut cmd = match before {
        None => Command::new(env!("CARGO_BIN_EXE_faena")),
        Some(before) => {
            let mut cmd = Command::new("bash");
            cmd.arg("-c")
                .arg(format!("{before} && exec \"$0\" \"$@\""))
                .arg(env!("CARGO_BIN_EXE_faena"));
            cmd
        }
    };
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("FAENA_LOG__FORMAT", "json")
        .env("FAENA_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("FAENA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("FAENA_LOG__FILTER", "info")
        .env_remove("RUST_LOG")
        .env_remove("FAENA_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(url) = database_url {
        cmd.env("FAENA_DATABASE_URL", url);
    }
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let mut child = cmd.spawn().expect("faena starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Duration::from_secs(30);
    let listening = tokio::time::timeout(deadline, async {
        while let Some(line) = lines.recv().await {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if event["message"] == "listening" {
                return event;
            }
        }
        panic!("faena exited before listening");
    })
    .await
    .expect("faena listens within 30 s");
    Running {
        child,
        address: listening["address"].as_str().unwrap().to_owned(),
        listening,
        listening_at: Instant::now(),
        lines,
    }
}

impl Running {
    /// The log lines written since the last call (or since listening).
    pub fn drain_lines(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(line) = self.lines.try_recv() {
            out.push(line);
        }
        out
    }
}

/// Signs in as the configured administrator; returns the access token.
pub async fn admin_token(address: &str) -> String {
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{address}/api/auth/login"))
        .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["access_token"].as_str().expect("a token").to_owned()
}

fn interrupt(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

pub async fn stop_within_five_seconds(mut running: Running) {
    interrupt(&running.child);
    let status = tokio::time::timeout(Duration::from_secs(5), running.child.wait())
        .await
        .expect("faena exits within 5 s of SIGINT")
        .unwrap();
    assert_eq!(status.code(), Some(0), "exit code after SIGINT");
    // Read what the process wrote until its stderr closes (the reader task
    // may still be forwarding the last lines).
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        let mut lines = Vec::new();
        while let Some(line) = running.lines.recv().await {
            lines.push(line);
        }
        lines
    })
    .await
    .expect("stderr closes after exit");
    assert!(
        rest.iter().any(|l| l.contains("\"stopped\"")),
        "logs a clean stop: {rest:?}"
    );
}

#[tokio::test]
async fn serves_on_sqlite_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), None).await;
    let client = reqwest::Client::new();
    let res = client
        .get(format!("http://{}/api/health", running.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        running.listening_at.elapsed() < Duration::from_secs(1),
        "answers within a second of the listening line"
    );
    let token = admin_token(&running.address).await;
    let info: serde_json::Value = client
        .get(format!("http://{}/api/system/info", running.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["database"], "sqlite");
    assert!(
        dir.path().join("faena.db").exists(),
        "database in the data dir"
    );
    // At the default level a request writes no line of its own (one per
    // request would bury what matters on a terminal).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut running = running;
    let lines = running.drain_lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("finished processing request")),
        "{lines:?}"
    );
    stop_within_five_seconds(running).await;
}

#[tokio::test]
async fn serves_on_postgres_when_given_its_url() {
    let Some(admin) = faena_testkit::postgres_url() else {
        return; // covered when FAENA_TEST_POSTGRES_URL is set (always in CI)
    };
    let db = faena_testkit::TestDatabase::create_empty(&admin);
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), Some(&db.url)).await;
    let token = admin_token(&running.address).await;
    let info: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/api/system/info", running.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["database"], "postgres", "{info}");
    let ready = reqwest::get(format!("http://{}/api/health/ready", running.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    stop_within_five_seconds(running).await;
}

#[tokio::test]
async fn a_committed_change_survives_kill_9() {
    if faena_testkit::postgres_url().is_some() {
        return; // PostgreSQL's durability is its own; this checks our SQLite settings
    }
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), None).await;
    let token = admin_token(&running.address).await;
    let res = reqwest::Client::new()
        .post(format!("http://{}/api/users", running.address))
        .bearer_auth(&token)
        .json(&serde_json::json!({"email": "durable@faena.test", "name": "Durable", "password": "Tetera-azul-contra-7-nubes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // No graceful anything: the process dies right after the response.
    running.child.start_kill().unwrap();
    running.child.wait().await.unwrap();

    let running = start(dir.path(), None).await;
    let res = reqwest::Client::new()
        .post(format!("http://{}/api/auth/login", running.address))
        .json(&serde_json::json!({"email": "durable@faena.test", "password": "Tetera-azul-contra-7-nubes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the user created before kill -9 signs in"
    );
    stop_within_five_seconds(running).await;
}

/// Reads of personal data are answered before their audit entries are
/// committed (group commit off the request's path); a clean stop writes
/// every entry still queued, so none is missing after SIGINT right after
/// the last answer.
#[tokio::test]
async fn audited_reads_answered_just_before_a_clean_stop_are_all_in_the_log() {
    if faena_testkit::postgres_url().is_some() {
        return; // the same writer on both databases; run once
    }
    const READS: usize = 90;
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), None).await;
    let token = admin_token(&running.address).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", running.address);
    let created: serde_json::Value = http
        .post(format!("{base}/api/clients"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Comercial Andes", "email": "compras@andes.cl", "phone": "+56 9 8765 4321"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("created").to_owned();
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..READS {
        let (http, url, token) = (
            http.clone(),
            format!("{base}/api/clients/{id}"),
            token.clone(),
        );
        reads.spawn(async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = reads.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    stop_within_five_seconds(running).await;

    let running = start(dir.path(), None).await;
    let token = admin_token(&running.address).await;
    let logged: serde_json::Value = http
        .get(format!(
            "http://{}/api/audit?entity=client&entity_id={id}&action=read&limit=100",
            running.address
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        logged["items"].as_array().map(Vec::len),
        Some(READS),
        "{logged}"
    );
    stop_within_five_seconds(running).await;
}
