//! Order changes reach the systems registered for them, as Standard
//! Webhooks deliveries carrying the order as the API shows it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode};
use faena_platform::jobs::worker::{self, WorkerOptions};
use faena_testkit::TestApp;
use serde_json::{Value, json};

use crate::{a_client, an_order};

/// A receiver on 127.0.0.1 keeping each delivery's headers and body.
async fn receiver() -> (String, Arc<Mutex<Vec<(HeaderMap, Value)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let router =
        axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/hooks/faena"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_changes_are_delivered_to_registered_webhooks() {
    let app = TestApp::with_config(|c| c.webhooks.allow_private_targets = true).await;
    let admin = app.admin().await;
    let (url, seen) = receiver().await;
    let res = admin
        .post_json(
            "/api/webhooks/endpoints",
            &json!({"url": url, "event_types": ["order.created", "order.status_changed"], "description": "ERP"}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);

    let client_id = a_client(&admin, "Ferretería Central").await;
    let warehouse = app.client_for("warehouse").await;
    let order = warehouse
        .post_json("/api/orders", &an_order(&client_id))
        .await;
    order.assert_status(StatusCode::CREATED);
    let number = order.json()["number"].as_str().unwrap().to_owned();
    warehouse
        .send_json(
            Method::PUT,
            &format!("/api/orders/{number}"),
            &json!({"status": "picking"}),
        )
        .await
        .assert_status(StatusCode::OK);
    // A change of notes only is `order.updated`, which this endpoint did
    // not ask for.
    warehouse
        .send_json(
            Method::PUT,
            &format!("/api/orders/{number}"),
            &json!({"notes": "Portón 3"}),
        )
        .await
        .assert_status(StatusCode::OK);

    let (stop, rx) = tokio::sync::watch::channel(false);
    let options = WorkerOptions {
        id: "test/wms-webhooks".into(),
        concurrency: 1,
        lease: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        grace: Duration::from_secs(2),
    };
    let handle = worker::spawn(app.state.clone(), options, rx);
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the deliveries never arrived");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(true);
    handle.await.unwrap();

    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        2,
        "one delivery per wanted change, nothing for order.updated"
    );
    let mut by_type: Vec<(&str, &Value)> = seen
        .iter()
        .map(|(_, b)| (b["type"].as_str().unwrap_or(""), &b["data"]))
        .collect();
    by_type.sort_by_key(|(t, _)| *t);
    assert_eq!(by_type[0].0, "order.created");
    assert_eq!(by_type[0].1["number"], number);
    assert_eq!(by_type[0].1["client_name"], "Ferretería Central");
    assert_eq!(by_type[0].1["lines"].as_array().unwrap().len(), 2);
    assert_eq!(by_type[1].0, "order.status_changed");
    assert_eq!(by_type[1].1["status"], "picking");
    for (headers, _) in seen.iter() {
        for h in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            assert!(headers.contains_key(h), "{h} missing");
        }
        assert!(
            headers["webhook-signature"]
                .to_str()
                .unwrap()
                .starts_with("v1,"),
            "signed per Standard Webhooks"
        );
    }
}
