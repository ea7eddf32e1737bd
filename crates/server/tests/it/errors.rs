//! Every error under /api is RFC 9457 problem+json, including the
//! framework's own rejections; elsewhere it is an HTML page.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use faena_testkit::TestApp;
use serde_json::json;

use crate::support::{echo_app, echo_app_with};

#[tokio::test]
async fn unknown_api_route_is_a_problem_document() {
    let app = TestApp::new().await;
    let res = app.get("/api/nope").await;
    res.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(res.content_type(), "application/problem+json");
    let body = res.json();
    assert_eq!(body["status"], 404);
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["title"], "No encontrado");
    assert_eq!(body["instance"], "/api/nope");
    assert_eq!(body["request_id"].as_str(), res.header("x-request-id"));
}

#[tokio::test]
async fn problem_titles_follow_accept_language() {
    let app = TestApp::new().await.with_language("en-US,en;q=0.9");
    let res = app.get("/api/nope").await;
    assert_eq!(res.json()["title"], "Not found");
    assert_eq!(res.header("content-language"), Some("en"));
}

#[tokio::test]
async fn wrong_method_is_405_problem_with_allow() {
    let app = TestApp::new().await;
    let res = app.post_json("/api/health", &json!({})).await;
    res.assert_status(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.content_type(), "application/problem+json");
    assert_eq!(res.json()["code"], "method_not_allowed");
    assert!(res.header("allow").unwrap_or("").contains("GET"));
}

#[tokio::test]
async fn body_over_the_limit_is_413_problem() {
    let app = echo_app_with(|c| c.http.body_limit = 1024).await;
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(4096));
    let res = app
        .post_raw("/api/test/echo", "application/json", big)
        .await;
    res.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.content_type(), "application/problem+json");
    assert_eq!(res.json()["code"], "payload_too_large");
}

#[tokio::test]
async fn malformed_json_is_400_problem_with_position() {
    let app = echo_app().await;
    let res = app
        .post_raw("/api/test/echo", "application/json", "{\"name\": ")
        .await;
    res.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(res.content_type(), "application/problem+json");
    let body = res.json();
    assert_eq!(body["code"], "malformed_json");
    assert!(
        body["detail"].as_str().unwrap().contains("línea 1"),
        "{body}"
    );
}

#[tokio::test]
async fn wrong_content_type_is_415_problem() {
    let app = echo_app().await;
    let res = app
        .post_raw("/api/test/echo", "text/plain", "{\"name\":\"x\"}")
        .await;
    res.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.content_type(), "application/problem+json");
    assert_eq!(res.json()["code"], "unsupported_media_type");
}

#[tokio::test]
async fn invalid_field_is_422_naming_the_field() {
    let app = echo_app().await;
    let res = app
        .post_json("/api/test/echo", &json!({"name": "x", "count": "many"}))
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.json();
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["errors"][0]["field"], "count");
    assert_eq!(body["errors"][0]["code"], "invalid");
    assert_eq!(body["errors"][0]["message"], "El campo count no es válido");

    let res = app.post_json("/api/test/echo", &json!({})).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "name");
    assert_eq!(res.json()["errors"][0]["code"], "required");
}

#[tokio::test]
async fn invalid_query_parameter_is_422_naming_it() {
    let app = echo_app().await;
    let res = app.get("/api/test/echo?repeat=lots").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "repeat");
}

#[tokio::test]
async fn no_error_under_api_is_plain_text() {
    let app = echo_app().await;
    let requests = [
        Request::get("/api/nope").body(Body::empty()).unwrap(),
        Request::builder()
            .method(Method::DELETE)
            .uri("/api/health")
            .body(Body::empty())
            .unwrap(),
        Request::post("/api/test/echo")
            .header("content-type", "application/json")
            .body(Body::from("not json"))
            .unwrap(),
        Request::post("/api/test/echo")
            .body(Body::from("{}"))
            .unwrap(),
        Request::get("/api/").body(Body::empty()).unwrap(),
    ];
    for req in requests {
        let uri = req.uri().clone();
        let res = app.send(req).await;
        assert!(res.status.is_client_error(), "{uri}: {}", res.status);
        assert_eq!(res.content_type(), "application/problem+json", "{uri}");
    }
}

#[tokio::test]
async fn unknown_page_is_an_html_error_page_in_spanish() {
    let app = TestApp::new().await;
    let res = app.get("/no-existe").await;
    res.assert_status(StatusCode::NOT_FOUND);
    assert!(res.content_type().starts_with("text/html"));
    let html = res.text();
    assert!(html.contains("<html lang=\"es-CL\">"), "{html}");
    assert!(html.contains("No encontrado"));
    assert!(html.contains("Volver al inicio"));
}

#[tokio::test]
async fn a_body_with_anything_after_its_json_value_is_400_and_creates_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for body in [
        r#"{"name":"Bazar Norte","email":"bazar@norte.cl"} junk"#,
        r#"{"name":"Bazar Norte","email":"bazar@norte.cl"}{"name":"Otro"}"#,
    ] {
        let res = admin
            .send(
                Request::post("/api/clients")
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        res.assert_status(StatusCode::BAD_REQUEST);
        assert_eq!(res.json()["code"], "malformed_json", "{body}");
    }
    let list = admin.get("/api/clients").await.json();
    assert_eq!(list["items"], json!([]), "nothing was created");
}

/// serde would read a struct from an array, by position: `[null, null]`
/// was taken as an empty role update (and bumped the role's version).
#[tokio::test]
async fn a_body_that_is_not_the_documented_object_is_422_and_changes_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let before = admin.get("/api/roles/viewer").await.json();
    for body in [
        "[null, null]",
        r#"["Bazar Norte", "bazar@norte.cl"]"#,
        "42",
        r#""x""#,
    ] {
        let res = admin
            .send(
                Request::put("/api/roles/viewer")
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let problem = res.json();
        assert_eq!(problem["errors"][0]["field"], "body", "{body}: {problem}");
        assert_eq!(problem["errors"][0]["code"], "invalid", "{body}");
    }
    let after = admin.get("/api/roles/viewer").await.json();
    assert_eq!(after["version"], before["version"], "the role is unchanged");
    let res = admin
        .send(
            Request::post("/api/clients")
                .header("content-type", "application/json")
                .body(Body::from(r#"["Bazar Norte", "bazar@norte.cl"]"#))
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(admin.get("/api/clients").await.json()["items"], json!([]));
}

#[tokio::test]
async fn control_characters_are_refused_at_the_door_on_every_database() {
    let app = TestApp::new().await;
    let admin = app.admin().await;

    // JSON: 422 naming the field, nothing written.
    let res = admin
        .post_json(
            "/api/clients",
            &json!({"name": "Bazar\u{0}Norte", "email": "bazar@norte.cl"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.json();
    assert_eq!(body["errors"][0]["field"], "name", "{body}");
    assert_eq!(body["errors"][0]["code"], "control_character");
    assert_eq!(admin.get("/api/clients").await.json()["items"], json!([]));
    // Even signing in, before any account is looked up.
    let res = app
        .anonymous()
        .post_json(
            "/api/auth/login",
            &json!({"email": "admin\u{0}@faena.test", "password": "x"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "email");

    // Query string and path: 400 naming the parameter.
    let res = admin.get("/api/clients?q=per%00ez").await;
    res.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["code"], "control_character");
    assert!(
        res.json()["title"].as_str().unwrap().ends_with(" q"),
        "{}",
        res.text()
    );
    admin
        .get("/api/orders/ORD%00")
        .await
        .assert_status(StatusCode::BAD_REQUEST);

    // A form: the sign-in page.
    let res = app
        .post_raw(
            "/login",
            "application/x-www-form-urlencoded",
            "email=admin%00%40faena.test&password=x",
        )
        .await;
    res.assert_status(StatusCode::BAD_REQUEST);

    // Line breaks and tabs are text, not control: kept.
    let res = admin
        .post_json(
            "/api/clients",
            &json!({"name": "Bazar Norte", "email": "bazar@norte.cl", "notes": "Entrega:\n\tpor atrás"}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["notes"], "Entrega:\n\tpor atrás");
}
