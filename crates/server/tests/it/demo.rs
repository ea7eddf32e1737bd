//! `faena demo`: realistic data that the application then serves.

use std::process::Command;

use crate::binary::{admin_token, start, stop_within_five_seconds};

#[tokio::test]
async fn demo_data_is_valid_and_served() {
    if faena_testkit::postgres_url().is_some() {
        return; // the command fills the data dir's SQLite file here
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faena"))
        .args([
            "demo",
            "--clients",
            "30",
            "--orders",
            "300",
            "--service-orders",
            "40",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("FAENA_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let running = start(dir.path(), None).await;
    let token = admin_token(&running.address).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http
            .get(format!("http://{}{path}", running.address))
            .bearer_auth(&token);
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let clients = get("/api/clients?limit=500".into()).await;
    let items = clients["items"].as_array().unwrap();
    assert_eq!(items.len(), 30);
    let total: u64 = items
        .iter()
        .map(|c| c["order_count"].as_u64().unwrap())
        .sum();
    // Warehouse and repair-shop orders alike refer to their client.
    assert_eq!(total, 300 + 40);
    let one = get(format!("/api/clients/{}", items[0]["id"].as_str().unwrap())).await;
    let rut = one["tax_id"].as_str().unwrap();
    assert!(
        faena_platform::types::Rut::parse("tax_id", rut).is_ok(),
        "a valid RUT: {rut}"
    );
    assert!(one["phone"].as_str().unwrap().starts_with("+56 9 "));

    let orders = get("/api/orders?limit=500".into()).await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 300);
    let now = chrono::Utc::now();
    let at = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    for o in orders["items"].as_array().unwrap() {
        let lines = o["lines"].as_array().unwrap();
        let mut skus: Vec<&str> = lines.iter().map(|l| l["sku"].as_str().unwrap()).collect();
        skus.sort_unstable();
        let before = skus.len();
        skus.dedup();
        assert_eq!(skus.len(), before, "a SKU once per order: {o}");
        assert!(at(&o["updated_at"]) <= now, "no change in the future: {o}");
        assert!(at(&o["created_at"]) <= at(&o["updated_at"]));
    }
    // The lab: machines with a year of history, the latest not signed yet.
    let machines = get("/api/machines?limit=500".into()).await;
    assert_eq!(machines["items"].as_array().unwrap().len(), 40);
    let records = get("/api/maintenance?limit=500".into()).await;
    let records = records["items"].as_array().unwrap();
    assert!(
        records.len() >= 80,
        "about three a machine: {}",
        records.len()
    );
    assert!(records.iter().any(|r| r["signed_off_at"].is_string()));
    assert!(records.iter().any(|r| r["kind"] == "calibration"));
    for r in records {
        assert!(at(&r["performed_at"]) <= now, "no work in the future: {r}");
        assert!(r["machine_code"].as_str().unwrap().starts_with("MAQ-"));
    }
    let work = get("/api/maintenance/work-orders".into()).await;
    let work = work.as_array().unwrap();
    assert!(
        work.iter().any(|w| w["overdue"] == true),
        "some overdue work"
    );
    let overdue = get("/api/machines?due=overdue&limit=500".into()).await;
    assert!(!overdue["items"].as_array().unwrap().is_empty());
    let returns = get("/api/orders/returns?limit=500".into()).await;
    let returns = returns["items"].as_array().unwrap();
    assert!(!returns.is_empty());
    for r in returns {
        assert!(r["return_reason"].is_string());
        assert!(at(&r["returned_at"]) <= now, "no return in the future: {r}");
    }
    // The repair shop: orders in every status, each move in its history.
    let service = get("/api/service-orders?limit=100".into()).await;
    let service = service["items"].as_array().unwrap();
    assert_eq!(service.len(), 40);
    let statuses: std::collections::BTreeSet<&str> = service
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 10, "every status: {statuses:?}");
    // New orders continue the numbering.
    let created: serde_json::Value = http
        .post(format!("http://{}/api/orders", running.address))
        .bearer_auth(&token)
        .json(&serde_json::json!({"client_id": items[0]["id"], "lines": [{"sku": "X", "quantity": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["number"], "ORD-000301");
    stop_within_five_seconds(running).await;
}
