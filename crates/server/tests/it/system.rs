//! Health, readiness, system info, metrics and the HTTP plumbing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use faena_platform::db::DbKind;
use faena_testkit::TestApp;
use sea_orm::{ConnectionTrait, Statement};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::new().await;
    let res = app.get("/api/health").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["status"], "ok");

    let res = app.get("/api/health/ready").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["database"], "ok");
}

#[tokio::test]
async fn readiness_is_503_when_the_database_is_gone() {
    let app = TestApp::new().await;
    app.state.db().clone().close().await.unwrap();
    let res = app.get("/api/health/ready").await;
    res.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.content_type(), "application/problem+json");
    assert_eq!(res.json()["code"], "database_unavailable");
}

#[tokio::test]
async fn system_info_names_the_replica_and_database() {
    let app = TestApp::with_config(|c| c.server_id = "replica-b".into()).await;
    let viewer = app.client_for("viewer").await;
    let body = viewer.get("/api/system/info").await.json();
    assert_eq!(body["server_id"], "replica-b");
    assert_eq!(body["version"], faena_platform::VERSION);
    let expected = match app.db_kind() {
        DbKind::Sqlite => "sqlite",
        DbKind::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
    assert!(body["modules"].is_array());
}

#[tokio::test]
async fn request_id_is_kept_or_made() {
    let app = TestApp::new().await;
    let res = app
        .send(
            Request::get("/api/health")
                .header("x-request-id", "lb-1234")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.header("x-request-id"), Some("lb-1234"));

    // An id that could forge log lines is replaced.
    let res = app
        .send(
            Request::get("/api/health")
                .header("x-request-id", "x\" injected=\"1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let id = res.header("x-request-id").unwrap();
    assert_ne!(id, "x\" injected=\"1");
    assert_eq!(id.len(), 36, "a UUID: {id}");
}

#[tokio::test]
async fn security_headers_are_set() {
    let app = TestApp::new().await;
    let res = app.get("/login").await;
    let csp = res.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(csp.contains("script-src 'self'"));
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        res.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(res.header("strict-transport-security"), None);

    let app = TestApp::with_config(|c| c.http.hsts = true).await;
    let res = app.get("/api/health").await;
    assert!(res.header("strict-transport-security").is_some());
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app =
        TestApp::with_config(|c| c.http.cors_origins = vec!["https://app.example.cl".into()]).await;
    let preflight = |origin: &'static str| {
        Request::options("/api/health")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .unwrap()
    };
    let res = app.send(preflight("https://app.example.cl")).await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example.cl")
    );
    let res = app.send(preflight("https://evil.example")).await;
    assert_eq!(res.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let app = TestApp::new().await;
    let res = app
        .send(
            Request::get("/assets/app.css")
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_routes_and_pool() {
    let app = TestApp::new().await;
    app.get("/api/health").await;
    app.get("/api/nope").await;
    app.anonymous()
        .get("/metrics")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let res = app.admin().await.get("/metrics").await;
    res.assert_status(StatusCode::OK);
    assert!(res.content_type().starts_with("text/plain; version=0.0.4"));
    let text = res.text();
    assert_valid_exposition(&text);
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("route=\"/api/health\"")
            && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(text.contains("route=\"unmatched\""), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains("db_pool_connections{state=\"idle\"}"),
        "{text}"
    );
    assert!(text.contains("faena_build_info{version=\""), "{text}");
}

/// Checks every line against the Prometheus text exposition format.
fn assert_valid_exposition(text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            assert!(
                rest.starts_with("HELP ") || rest.starts_with("TYPE "),
                "bad comment line: {line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "bad value in: {line}"
        );
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unclosed labels in: {line}");
        }
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_with_foreign_keys_and_full_sync() {
    let app = TestApp::new().await;
    if app.db_kind() != DbKind::Sqlite {
        return; // PostgreSQL has no pragmas; the rest of the suite runs there.
    }
    let db = app.state.db();
    let pragma = |name: &str| {
        let stmt = Statement::from_string(db.get_database_backend(), format!("PRAGMA {name}"));
        async move {
            let row = db.query_one(stmt).await.unwrap().unwrap();
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
                .unwrap()
        }
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("foreign_keys").await, "1");
    assert_eq!(pragma("synchronous").await, "2", "FULL");
    assert_eq!(pragma("busy_timeout").await, "5000");
}

#[test]
fn configuration_layers_file_then_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faena.toml");
    std::fs::write(
        &file,
        "server_id = \"from-file\"\n[http]\nbind = \"127.0.0.1:9001\"\nbody_limit = 1000\n",
    )
    .unwrap();
    let config =
        faena_platform::Config::load_with(Some(&file), &[("http.bind", "127.0.0.1:9002".into())])
            .unwrap();
    assert_eq!(config.server_id, "from-file");
    assert_eq!(config.http.body_limit, 1000);
    assert_eq!(config.http.bind.port(), 9002, "the command line wins");

    std::fs::write(&file, "[http]\nbnid = \"x\"\n").unwrap();
    let err = faena_platform::Config::load_with(Some(&file), &[]).unwrap_err();
    assert!(
        format!("{err:#}").contains("bnid"),
        "a typo is named: {err:#}"
    );
}
