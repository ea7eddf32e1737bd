//! `Idempotency-Key` on POST: a retry gets the first answer, and the work is
//! done once.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use faena_testkit::{Client, TestApp};
use serde_json::{Value, json};

async fn post(client: &Client, key: &str, body: &Value) -> faena_testkit::TestResponse {
    client
        .send(
            Request::post("/api/roles")
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
}

#[tokio::test]
async fn a_retried_post_is_answered_from_the_first_and_done_once() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let body = json!({"name": "bodega_norte", "permissions": ["wms.*.read"]});
    let first = post(&admin, "k-1", &body).await;
    first.assert_status(StatusCode::CREATED);
    let retry = post(&admin, "k-1", &body).await;
    retry.assert_status(StatusCode::CREATED);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json(), first.json());
    assert_eq!(retry.header("etag"), first.header("etag"));

    // Without the key, the same request is a real second attempt.
    let again = admin.post_json("/api/roles", &body).await;
    again.assert_status(StatusCode::CONFLICT);

    // The same key for a different request is a client bug, said clearly.
    let other = post(&admin, "k-1", &json!({"name": "otra", "permissions": []})).await;
    other.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json()["errors"][0]["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn a_refusal_releases_the_key_and_keys_belong_to_their_caller() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let invalid = json!({"name": "X Y", "permissions": []});
    let first = post(&admin, "k-2", &invalid).await;
    first.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    // Fixed, the same key now does the work.
    let fixed = post(&admin, "k-2", &json!({"name": "x_y", "permissions": []})).await;
    fixed.assert_status(StatusCode::CREATED);

    // Another caller with the same key is a different request.
    admin
        .post_json(
            "/api/roles",
            &json!({"name": "creador", "permissions": ["platform.roles.manage"]}),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let other = app.client_for("creador").await;
    let res = post(
        &other,
        "k-1",
        &json!({"name": "de_otro", "permissions": []}),
    )
    .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.header("idempotent-replayed"), None);
}
