//! Integration tests of the warehouse, on the real application.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod dashboard;
mod pages;
mod webhooks;

use faena_testkit::{Client, TestApp};
use serde_json::{Value, json};

/// A client made through the clients API; returns its id.
pub async fn a_client(admin: &Client, name: &str) -> String {
    let email = format!("{}@clientes.cl", name.to_lowercase().replace(' ', "."));
    let res = admin
        .post_json("/api/clients", &json!({"name": name, "email": email}))
        .await;
    assert_eq!(
        res.status,
        axum::http::StatusCode::CREATED,
        "{}",
        res.text()
    );
    res.json()["id"].as_str().unwrap().to_owned()
}

pub fn an_order(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "lines": [
            {"sku": "TOR-M8", "description": "Tornillo M8", "quantity": 100},
            {"sku": "TUE-M8", "description": "Tuerca M8", "quantity": 100},
        ],
        "notes": "Despachar por la mañana",
    })
}

pub async fn setup() -> (TestApp, Client, String) {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let client_id = a_client(&admin, "Ferretería Central").await;
    (app, admin, client_id)
}
