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

/// A browser session for `email`: signs in through the login form and
/// returns the cookie header and the session's CSRF token.
pub async fn browser_session(app: &TestApp, email: &str, password: &str) -> (String, String) {
    use axum::body::Body;
    use axum::http::Request;
    let page = app.get("/login").await;
    let pre = set_cookie(&page, "faena_pre").expect("a pre-session cookie");
    let csrf = csrf_of(&page.text());
    let body = format!(
        "_csrf={csrf}&email={}&password={}",
        form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>(),
        form_urlencoded::byte_serialize(password.as_bytes()).collect::<String>()
    );
    let res = app
        .send(
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("faena_pre={pre}"))
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(
        res.status,
        axum::http::StatusCode::SEE_OTHER,
        "{}",
        res.text()
    );
    let cookie = format!(
        "faena_session={}",
        set_cookie(&res, "faena_session").unwrap()
    );
    let home = app
        .send(
            Request::get("/profile")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    (cookie, csrf_of(&home.text()))
}

pub fn set_cookie(res: &faena_testkit::TestResponse, name: &str) -> Option<String> {
    res.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
}

pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Posts a form as a browser with a session would.
pub async fn post_form(
    app: &TestApp,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> faena_testkit::TestResponse {
    use axum::body::Body;
    use axum::http::Request;
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    app.send(
        Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}
