//! Shared by the integration tests: a module that exists only in tests
//! (routes that take a JSON body and a query string, so the error handling
//! of the real stack can be exercised without shipping an echo endpoint),
//! a job worker to run in a test, and an order made through the API.

use std::time::Duration;

use axum::http::StatusCode;
use faena_platform::http::{Json, Query};
use faena_platform::jobs::worker::{self, WorkerOptions};
use faena_platform::{AppState, Config, Module};
use faena_testkit::{Client, TestApp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub struct EchoModule;

impl Module for EchoModule {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn api(&self) -> OpenApiRouter<faena_platform::AppState> {
        OpenApiRouter::new().routes(routes!(echo_body, echo_query))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Echo {
    name: String,
    #[serde(default)]
    count: u32,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EchoQuery {
    repeat: Option<u32>,
}

/// Echo a body.
#[utoipa::path(post, path = "/api/test/echo", request_body = Echo, security(()),
    responses((status = 200, body = Echo)))]
async fn echo_body(Json(body): Json<Echo>) -> Json<Echo> {
    Json(body)
}

/// Echo a query.
#[utoipa::path(get, path = "/api/test/echo", params(EchoQuery), security(()),
    responses((status = 200, body = u32)))]
async fn echo_query(Query(q): Query<EchoQuery>) -> Json<u32> {
    Json(q.repeat.unwrap_or(1))
}

pub async fn echo_app() -> TestApp {
    echo_app_with(|_| {}).await
}

pub async fn echo_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::start(adjust, Some(vec![Box::new(EchoModule)])).await
}

pub use faena_testkit::browser::{browser_session, csrf_of, set_cookie};

/// Options of a test worker named `name`: quick polling, a 10 s lease.
pub fn worker_options(name: &str) -> WorkerOptions {
    WorkerOptions {
        id: format!("test/{name}/{}", uuid::Uuid::now_v7()),
        concurrency: 4,
        lease: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        grace: Duration::from_secs(5),
    }
}

/// A job worker running inside a test.
pub struct RunningWorker {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl RunningWorker {
    pub fn start(state: &AppState, options: WorkerOptions) -> Self {
        let (stop, rx) = watch::channel(false);
        let handle = worker::spawn(state.clone(), options, rx);
        RunningWorker { stop, handle }
    }

    /// Stops it, letting running jobs finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.handle.await.unwrap();
    }
}

/// A client and an order for it, made through the API; the order number.
pub async fn an_order(admin: &Client) -> String {
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let res = admin
        .post_json(
            "/api/clients",
            &json!({"name": "Ferretería El Roble", "email": format!("compras-{suffix}@elroble.cl")}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let client_id = res.json()["id"].as_str().unwrap().to_owned();
    let res = admin
        .post_json(
            "/api/orders",
            &json!({"client_id": client_id, "lines": [{"sku": "TOR-M8", "description": "Tornillo M8", "quantity": 100}]}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    res.json()["number"].as_str().unwrap().to_owned()
}
