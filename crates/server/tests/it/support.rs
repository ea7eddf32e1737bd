//! A module that exists only in tests: routes that take a JSON body and a
//! query string, so the error handling of the real stack can be exercised
//! without shipping an echo endpoint.

use faena_platform::http::{Json, Query};
use faena_platform::{Config, Module};
use faena_testkit::TestApp;
use serde::{Deserialize, Serialize};
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

pub use faena_testkit::browser::{browser_session, csrf_of, post_form, set_cookie};
