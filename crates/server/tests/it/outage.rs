//! A database outage, on a PostgreSQL cluster of this test's own (never
//! the shared one): requests answer 503 with `Retry-After`, quickly once
//! the outage is known; liveness stays 200; readiness says 503 without
//! waiting; and when the database returns, service resumes at once and an
//! idempotent write retried afterwards is not done twice.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use faena_testkit::{Client, TestApp};
use serde_json::json;

/// A PostgreSQL cluster in a temporary folder, on a free port.
struct OwnCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnCluster {
    /// `None` where PostgreSQL's server programs are not installed (in CI
    /// they must be).
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                let mut found: Vec<PathBuf> = versions
                    .filter_map(|v| v.ok().map(|v| v.path().join("bin")))
                    .filter(|b| b.join("pg_ctl").is_file())
                    .collect();
                found.sort();
                found.pop()
            });
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL's server programs are needed in CI for the outage test"
            );
            println!("note: no PostgreSQL server programs; the outage test did not run");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let root = as_root();
        if root {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown of the cluster folder");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = OwnCluster { bin, dir, port };
        cluster.run(
            "initdb",
            &["-A", "trust", "-U", "postgres", "-D", &cluster.data()],
        );
        cluster.up();
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program).display().to_string();
        let mut command = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &path]);
            c
        } else {
            Command::new(&path)
        };
        let out = command.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn down(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl").display().to_string();
        let data = self.data();
        let mut command = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &path]);
            c
        } else {
            Command::new(&path)
        };
        let _ = command
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

async fn create(admin: &Client, key: &str) -> faena_testkit::TestResponse {
    admin
        .send(
            Request::post("/api/clients")
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(Body::from(
                    json!({"name": "Bazar Norte", "email": "bazar@norte.cl"}).to_string(),
                ))
                .unwrap(),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_a_quick_503_and_recovery_is_immediate() {
    let Some(cluster) = OwnCluster::start() else {
        return;
    };
    let url = cluster.url();
    let app = TestApp::with_config(|c| {
        c.database.url = url.into();
        c.database.min_connections = 0;
    })
    .await;
    let admin = app.admin().await;
    create(&admin, "corte-1")
        .await
        .assert_status(StatusCode::CREATED);

    cluster.down();
    // The first request finds out (within the pool's acquire timeout).
    let first = admin.get("/api/clients").await;
    first.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.json()["code"], "database_unavailable");
    assert!(first.header("retry-after").is_some(), "Retry-After is sent");
    // From then on, at once: well within the 5 s acquire timeout.
    let started = Instant::now();
    let again = admin.get("/api/clients").await;
    again.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert!(again.header("retry-after").is_some());
    let ready = app.get("/api/health/ready").await;
    ready.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "during a known outage, answers do not wait for the pool: {took:?}"
    );
    app.get("/api/health").await.assert_status(StatusCode::OK);

    cluster.up();
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get("/api/health/ready").await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "readiness never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    admin
        .get("/api/clients")
        .await
        .assert_status(StatusCode::OK);
    // Signing in needs the database: the count is read once it is back.
    let metrics = admin.get("/metrics").await;
    metrics.assert_status(StatusCode::OK);
    assert!(
        metrics.text().contains("faena_database_outages_total"),
        "the outage is counted in /metrics: {}",
        metrics
            .text()
            .lines()
            .filter(|l| l.contains("faena_"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The write made before the outage, retried after it: answered from
    // the first, done once.
    let retried = create(&admin, "corte-1").await;
    retried.assert_status(StatusCode::CREATED);
    assert_eq!(retried.header("idempotent-replayed"), Some("true"));
    let list = admin.get("/api/clients").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}
