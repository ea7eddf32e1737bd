//! `TestApp`: the real router, on a fresh database for each test.
//!
//! By default each test gets a new SQLite file in a temporary folder. With
//! `FAENA_TEST_POSTGRES_URL` set, each test gets its own PostgreSQL database,
//! copied from a template migrated once per test process, and dropped when
//! the test ends. The same tests run on both.
//!
//! Requests go through the full middleware stack in process (no socket), so
//! a test sees exactly what a client would. For what needs a real socket
//! (WebSocket, Server-Sent Events), `TestApp::serve` listens on a free port;
//! `TestApp::replica` builds a second node over the same database, as in a
//! scale-out deployment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
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

/// The password of the administrator every test app starts with.
pub const ADMIN_EMAIL: &str = "admin@faena.test";
pub const ADMIN_PASSWORD: &str = "Prueba-de-integracion-2026!";
/// The password `client_for` gives the users it creates.
pub const USER_PASSWORD: &str = "Clave-larga-de-prueba-77";

/// A running application for one test. Derefs to an anonymous `Client`.
pub struct TestApp {
    client: Client,
    pub state: AppState,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

enum TestDb {
    Sqlite,
    // Held so the database is dropped with the app.
    Postgres(#[allow(dead_code)] postgres::TestDatabase),
    /// A replica's: another `TestApp` owns the database.
    Shared(DbKind),
}

/// The Redis server tests may use (`FAENA_TEST_REDIS_URL`), if set.
pub fn redis_url() -> Option<String> {
    std::env::var("FAENA_TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

impl std::ops::Deref for TestApp {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
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
        config.auth.admin_email = ADMIN_EMAIL.into();
        config.auth.admin_password = SecretString::from(ADMIN_PASSWORD.to_owned());
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
            client: Client {
                router: app.router,
                headers: HeaderMap::new(),
            },
            state: app.state,
            _db: db,
            _dir: dir,
        }
    }

    pub fn db_kind(&self) -> DbKind {
        match self._db {
            TestDb::Sqlite => DbKind::Sqlite,
            TestDb::Postgres(_) => DbKind::Postgres,
            TestDb::Shared(kind) => kind,
        }
    }

    /// A second node of this application: its own state, router and
    /// realtime hub, over the same database, data dir (so the same signing
    /// keys: a token from one is good on the other) and Redis, like another
    /// replica behind a load balancer. Extra modules are not carried over.
    /// Drop it before this app, which owns the database.
    pub async fn replica(&self) -> TestApp {
        self.replica_with(|_| {}).await
    }

    /// Like `replica`, with a configuration `adjust` may change.
    pub async fn replica_with(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = self.state.config().clone();
        config.server_id = "test-replica".into();
        adjust(&mut config);
        let modules = faena_server::modules::enabled(&config);
        let app = faena_server::app::build_with(config, modules)
            .await
            .expect("the replica builds");
        Self {
            client: Client {
                router: app.router,
                headers: HeaderMap::new(),
            },
            state: app.state,
            _db: TestDb::Shared(self.db_kind()),
            _dir: tempfile::tempdir().expect("temporary folder"),
        }
    }

    /// Serves this app on a free port of 127.0.0.1 for as long as the
    /// test runs, and returns its base URL (`http://127.0.0.1:PORT`). The
    /// port listens before this returns: no waiting needed.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("the bound address");
        // The binary's own listener, with this app's deadlines and caps.
        let limits = faena_server::net::Limits::from_config(self.state.config(), 1024);
        let router = self.client.router.clone();
        tokio::spawn(faena_server::net::serve(
            listener,
            router,
            limits,
            std::future::pending(),
        ));
        format!("http://{address}")
    }

    /// Sends `Accept-Language: <tag>` with every request of the default
    /// client from now on.
    pub fn with_language(mut self, tag: &str) -> Self {
        self.client.headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(tag).expect("language tag"),
        );
        self
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> Client {
        Client {
            router: self.client.router.clone(),
            headers: HeaderMap::new(),
        }
    }

    /// A client signed in (access token) as the first administrator.
    pub async fn admin(&self) -> Client {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A client signed in as a new user of `role`, with email
    /// `<role>@faena.test` (or `<role>-N@…` if taken).
    pub async fn client_for(&self, role: &str) -> Client {
        let email = self.create_user(role).await;
        self.login(&email, USER_PASSWORD).await
    }

    /// Creates an active user of `role` and returns its email.
    pub async fn create_user(&self, role: &str) -> String {
        let admin = self.admin().await;
        for n in 0.. {
            let email = if n == 0 {
                format!("{role}@faena.test")
            } else {
                format!("{role}-{n}@faena.test")
            };
            let res = admin
                .post_json(
                    "/api/users",
                    &serde_json::json!({"email": email, "name": format!("Usuario {role}"), "role": role, "password": USER_PASSWORD}),
                )
                .await;
            match res.status {
                StatusCode::CREATED => return email,
                StatusCode::CONFLICT => continue,
                other => panic!("creating a {role} user: {other}: {}", res.text()),
            }
        }
        unreachable!()
    }

    /// Signs in through the API and returns a client carrying the token.
    pub async fn login(&self, email: &str, password: &str) -> Client {
        let res = self
            .anonymous()
            .post_json(
                "/api/auth/login",
                &serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "login as {email}: {}",
            res.text()
        );
        let token = res.json()["access_token"]
            .as_str()
            .expect("access token")
            .to_owned();
        self.anonymous().with_bearer(&token)
    }
}

/// Sends requests through the whole middleware stack, with its own default
/// headers (language, credentials).
#[derive(Clone)]
pub struct Client {
    router: Router,
    headers: HeaderMap,
}

impl Client {
    pub fn with_bearer(mut self, token: &str) -> Self {
        self.headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).expect("token"),
        );
        self
    }

    /// The headers this client sends with every request (its credentials
    /// among them), for tests that talk to a served app with another client.
    pub fn default_headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("header value"),
        );
        self
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(Request::delete(path).body(Body::empty()).unwrap())
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
        for (name, value) in &self.headers {
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
