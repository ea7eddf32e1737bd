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

/// A key whose request died with its server (nothing committed, nothing
/// answered) is taken over by the first retry once no request can still be
/// running it; until then a retry waits (409, `Retry-After`).
#[tokio::test]
async fn a_key_left_in_progress_by_a_crash_is_taken_over_by_the_first_retry() {
    use faena_platform::idempotency::entity::{Column, Entity};
    use sea_orm::EntityTrait;
    use sea_orm::sea_query::Expr;

    let app = TestApp::new().await;
    let admin = app.admin().await;
    let body = json!({"name": "turno_noche", "permissions": ["wms.*.read"]});
    let left_in_progress = |age_secs: i64| {
        let db = app.state.db().clone();
        async move {
            Entity::update_many()
                .col_expr(Column::Status, Expr::value(Option::<i32>::None))
                .col_expr(Column::Body, Expr::value(Option::<Vec<u8>>::None))
                .col_expr(
                    Column::CreatedAt,
                    Expr::value(chrono::Utc::now() - chrono::Duration::seconds(age_secs)),
                )
                .exec(&db)
                .await
                .unwrap();
        }
    };
    // The key's row as a request leaves it when its server is killed
    // mid-way: claimed, in progress, and no role made.
    post(&admin, "k-caida", &body)
        .await
        .assert_status(StatusCode::CREATED);
    admin
        .delete("/api/roles/turno_noche")
        .await
        .assert_status(StatusCode::NO_CONTENT);

    // Claimed a moment ago: that request may still be running.
    left_in_progress(1).await;
    let waiting = post(&admin, "k-caida", &body).await;
    waiting.assert_status(StatusCode::CONFLICT);
    assert_eq!(waiting.header("retry-after"), Some("1"));

    // Claimed longer ago than any request may run: the retry runs, once.
    left_in_progress(60).await;
    let retry = post(&admin, "k-caida", &body).await;
    retry.assert_status(StatusCode::CREATED);
    assert_eq!(retry.header("idempotent-replayed"), None, "it ran");
    let again = post(&admin, "k-caida", &body).await;
    again.assert_status(StatusCode::CREATED);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    admin
        .get("/api/roles/turno_noche")
        .await
        .assert_status(StatusCode::OK);
}
