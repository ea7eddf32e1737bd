//! `TestApp`: the real router, on a fresh database for each test.
//!
//! By default each test gets a new SQLite file in a temporary folder. With
//! `FAENA_TEST_POSTGRES_URL` set, each test gets its own PostgreSQL database,
//! copied from a template migrated once per test process, and dropped when
//! the test ends. The same tests run on both.
//!
//! Requests go through the full middleware stack in process (no socket), so
//! a test sees exactly what a client would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod postgres;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use faena_platform::db::DbKind;
use faena_platform::{AppState, Config, Module};
use http_body_util::BodyExt;
use secrecy::SecretString;
use serde_json::Value;
use tower::ServiceExt;

pub use postgres::{TestDatabase, postgres_url};

/// A running application for one test.
pub struct TestApp {
    router: Router,
    pub state: AppState,
    /// Headers sent with every request (language, credentials).
    default_headers: HeaderMap,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

enum TestDb {
    Sqlite,
    // Held so the database is dropped with the app.
    Postgres(#[allow(dead_code)] postgres::TestDatabase),
}

impl TestApp {
    /// A fresh application with the default configuration.
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A fresh application whose configuration `adjust` may change.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start(adjust, None).await
    }

    /// A fresh application with extra modules mounted next to the enabled
    /// ones (tests use it to reach the stack with routes of their own).
    pub async fn with_modules(extra: Vec<Box<dyn Module>>) -> Self {
        Self::start(|_| {}, Some(extra)).await
    }

    pub async fn start(
        adjust: impl FnOnce(&mut Config),
        extra: Option<Vec<Box<dyn Module>>>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            server_id: "test".into(),
            ..Config::default()
        };
        config.log.filter = "warn".into();
        config.database.max_connections = 4;
        config.database.min_connections = 0;
        let db = match postgres_url() {
            Some(admin_url) => {
                let db = postgres::TestDatabase::create(&admin_url);
                config.database.url = SecretString::from(db.url.clone());
                TestDb::Postgres(db)
            }
            None => {
                let path = dir.path().join("faena.db");
                config.database.url = SecretString::from(format!("sqlite://{}", path.display()));
                TestDb::Sqlite
            }
        };
        adjust(&mut config);
        let mut modules = faena_server::modules::enabled(&config);
        modules.extend(extra.unwrap_or_default());
        let app = faena_server::app::build_with(config, modules)
            .await
            .expect("the application builds");
        Self {
            router: app.router,
            state: app.state,
            default_headers: HeaderMap::new(),
            _db: db,
            _dir: dir,
        }
    }

    pub fn db_kind(&self) -> DbKind {
        match self._db {
            TestDb::Sqlite => DbKind::Sqlite,
            TestDb::Postgres(_) => DbKind::Postgres,
        }
    }

    /// Sends `Accept-Language: <tag>` with every request from now on.
    pub fn with_language(mut self, tag: &str) -> Self {
        self.default_headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(tag).expect("language tag"),
        );
        self
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        self.send_json(Method::POST, path, body).await
    }

    pub async fn send_json(&self, method: Method, path: &str, body: &Value) -> TestResponse {
        self.send(
            Request::builder()
                .method(method)
                .uri(path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// Sends a raw body with the given content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> TestResponse {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, content_type)
                .body(body.into())
                .unwrap(),
        )
        .await
    }

    /// Sends any request through the whole middleware stack.
    pub async fn send(&self, mut request: Request<Body>) -> TestResponse {
        for (name, value) in &self.default_headers {
            if !request.headers().contains_key(name) {
                request.headers_mut().insert(name.clone(), value.clone());
            }
        }
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

/// A complete response.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(HeaderName::from_bytes(name.as_bytes()).ok()?)
            .and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Self {
        assert_eq!(
            self.status,
            expected,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }
}
