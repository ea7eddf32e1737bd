//! The payments callback: `POST /api/hooks/payments`, signed, handed to
//! the module in a job that marks the order paid once.

use std::time::{Duration, Instant};

use axum::http::{Request, StatusCode};
use chrono::Utc;
use faena_platform::jobs::worker::{self, WorkerOptions};
use faena_platform::webhooks::entity::inbound;
use faena_platform::webhooks::signature;
use faena_testkit::{Client, TestApp, TestResponse};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{a_client, intake, put};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn app() -> TestApp {
    TestApp::with_config(|c| {
        c.webhooks.allow_private_targets = true;
        c.webhooks.inbound.insert(
            "payments".into(),
            faena_platform::config::InboundSourceConfig {
                secret: SECRET.to_owned().into(),
            },
        );
    })
    .await
}

async fn send(client: &Client, id: &str, body: &str, secret: &str) -> TestResponse {
    let now = Utc::now().timestamp();
    let key = signature::decode_secret(secret).unwrap();
    let sig = signature::sign(&key, id, now, body.as_bytes());
    client
        .send(
            Request::post("/api/hooks/payments")
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", sig)
                .body(axum::body::Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
}

fn paid(number: &str, amount: i64, reference: &str) -> String {
    json!({"type": "payment.succeeded", "data": {"order_number": number, "amount_clp": amount, "reference": reference}})
        .to_string()
}

/// The inbound event `message_id` once its handler ran (or failed).
async fn settled(app: &TestApp, message_id: &str) -> inbound::Model {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let e = inbound::Entity::find()
            .filter(inbound::Column::MessageId.eq(message_id))
            .one(app.state.db())
            .await
            .unwrap();
        if let Some(e) = e
            && (e.state == "processed" || e.error.is_some())
        {
            return e;
        }
        assert!(Instant::now() < deadline, "{message_id} never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn order(admin: &Client, number: &str) -> Value {
    admin
        .get(&format!("/api/service-orders/{number}"))
        .await
        .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_payment_marks_the_order_paid_once() {
    let app = app().await;
    let admin = app.admin().await;
    admin
        .post_json(
            "/api/webhooks/endpoints",
            &json!({"url": "http://127.0.0.1:9/hooks", "event_types": ["service_order.paid"]}),
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
        &format!("/api/service-orders/{number}/lines"),
        &json!({"lines": [{"kind": "labour", "description": "Mano de obra", "quantity": 1, "unit_price_clp": 10000}]}),
    )
    .await
    .assert_status(StatusCode::OK);
    let other = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let handle = worker::spawn(
        app.state.clone(),
        WorkerOptions {
            id: format!("test/service-payments/{}", uuid::Uuid::now_v7()),
            concurrency: 2,
            lease: Duration::from_secs(10),
            poll: Duration::from_millis(50),
            grace: Duration::from_secs(5),
        },
        rx,
    );
    let anonymous = app.anonymous();

    // A bad signature: 401, nothing stored or changed.
    let body = paid(&number, 11900, "TBK-1");
    let res = send(
        &anonymous,
        "msg_bad",
        &body,
        "whsec_ScKxpIkWyPSnMhfrg8bMyNqQh3BUW+ao",
    )
    .await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    assert!(order(&admin, &number).await["payment"].is_null());

    // Signed: accepted, and the order paid.
    send(&anonymous, "msg_1", &body, SECRET)
        .await
        .assert_status(StatusCode::ACCEPTED);
    assert_eq!(settled(&app, "msg_1").await.state, "processed");
    let v = order(&admin, &number).await;
    assert_eq!(v["payment"]["amount_clp"], 11900, "{v}");
    assert_eq!(v["payment"]["reference"], "TBK-1");
    assert_eq!(v["payment"]["matches_total"], true);
    let version = v["version"].clone();

    // Replayed (same webhook-id), and resent under a new one: paid once.
    let res = send(&anonymous, "msg_1", &body, SECRET).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["duplicate"], true);
    send(&anonymous, "msg_2", &body, SECRET)
        .await
        .assert_status(StatusCode::ACCEPTED);
    assert_eq!(settled(&app, "msg_2").await.state, "processed");
    let v = order(&admin, &number).await;
    assert_eq!(v["version"], version, "unchanged: {v}");
    let audit = admin
        .get(&format!(
            "/api/audit?entity=service_order&entity_id={number}&action=service_order.paid"
        ))
        .await
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    let deliveries = admin.get("/api/webhooks/deliveries?limit=50").await.json();
    let kinds: Vec<&str> = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["service_order.paid"]);

    // Another amount than the total: recorded, flagged.
    send(&anonymous, "msg_3", &paid(&other, 500, "TBK-2"), SECRET)
        .await
        .assert_status(StatusCode::ACCEPTED);
    assert_eq!(settled(&app, "msg_3").await.state, "processed");
    let v = order(&admin, &other).await;
    assert_eq!(v["payment"]["amount_clp"], 500, "{v}");
    assert_eq!(v["payment"]["matches_total"], false);
    let page = app
        .admin_browser()
        .await
        .get(&format!("/service-orders/{other}"))
        .await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("Pagada"));

    // An unknown order: the event fails with its reason; no 500.
    send(
        &anonymous,
        "msg_4",
        &paid("OS-1999-000001", 1, "TBK-3"),
        SECRET,
    )
    .await
    .assert_status(StatusCode::ACCEPTED);
    let e = settled(&app, "msg_4").await;
    assert_ne!(e.state, "processed");
    assert!(
        e.error.as_deref().unwrap_or("").contains("OS-1999-000001"),
        "{e:?}"
    );
    let _ = stop.send(true);
    handle.await.unwrap();
}
