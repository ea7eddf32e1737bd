//! Every change queues its webhook deliveries in its own transaction: one
//! refused queues nothing.

use axum::http::StatusCode;
use faena_testkit::TestApp;
use serde_json::json;

use crate::{a_client, intake, move_to, put};

#[tokio::test]
async fn changes_queue_service_order_events() {
    let app = TestApp::with_config(|c| c.webhooks.allow_private_targets = true).await;
    let admin = app.admin().await;
    admin
        .post_json(
            "/api/webhooks/endpoints",
            &json!({"url": "http://127.0.0.1:9/hooks", "event_types": ["service_order.*"]}),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let client_id = a_client(&admin, "Ana Pérez").await;
    let number = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    put(
        &admin,
        &format!("/api/service-orders/{number}"),
        &json!({"model": "A55"}),
    )
    .await
    .assert_status(StatusCode::OK);
    move_to(&admin, &number, "diagnosing", None)
        .await
        .assert_status(StatusCode::OK);
    // Refused: no event.
    move_to(&admin, &number, "delivered", None)
        .await
        .assert_status(StatusCode::CONFLICT);

    let deliveries = admin.get("/api/webhooks/deliveries?limit=50").await.json();
    let mut kinds: Vec<&str> = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "service_order.created",
            "service_order.status_changed",
            "service_order.updated"
        ]
    );
}
