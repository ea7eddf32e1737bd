//! `faena demo`'s repair shop: orders in every status, consistent with the
//! rules, and numbered so that the next intake follows on.

use std::collections::BTreeSet;

use axum::http::StatusCode;

use crate::{intake, setup};

#[tokio::test]
async fn demo_orders_walk_the_status_machine() {
    let (app, admin, client_id) = setup().await;
    let client = uuid::Uuid::parse_str(&client_id).unwrap();
    let n = faena_service::demo::generate(app.state.db(), &[client], 20, 7)
        .await
        .unwrap();
    assert_eq!(n, 20);
    let list = admin.get("/api/service-orders?limit=100").await;
    list.assert_status(StatusCode::OK);
    let items = list.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 20);
    let statuses: BTreeSet<&str> = items
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 10, "every status: {statuses:?}");
    for o in &items {
        let number = o["number"].as_str().unwrap();
        let v = admin
            .get(&format!("/api/service-orders/{number}"))
            .await
            .json();
        let history = v["history"].as_array().unwrap();
        assert_eq!(history[0]["to_status"], "received");
        assert_eq!(
            history.last().unwrap()["to_status"],
            v["status"],
            "{number}"
        );
        for pair in history.windows(2) {
            assert_eq!(pair[1]["from_status"], pair[0]["to_status"], "{number}");
        }
        let net: i64 = v["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["net_clp"].as_i64().unwrap())
            .sum();
        assert_eq!(v["totals"]["net_clp"], net);
    }
    let next = intake(&admin, &client_id).await;
    assert!(
        next["number"].as_str().unwrap().ends_with("-000021"),
        "{next}"
    );
}
