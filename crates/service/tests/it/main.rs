//! Integration tests of the repair shop, on the real application (SQLite,
//! or PostgreSQL when `FAENA_TEST_POSTGRES_URL` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval;
mod demo;
mod labels;
mod numbers;
mod orders;
mod pages;
mod payments;
mod photos;
mod printing;
mod reminders;
mod roles;
mod stats;
mod technicians;
mod transitions;
mod webhooks;

use axum::http::{Method, StatusCode};
use faena_testkit::{Client, TestApp, TestResponse};
use serde_json::{Value, json};

/// A client made through the clients API; returns its id.
pub async fn a_client(admin: &Client, name: &str) -> String {
    let email = format!("{}@clientes.cl", name.to_lowercase().replace(' ', "."));
    let res = admin
        .post_json("/api/clients", &json!({"name": name, "email": email}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

/// What a receptionist types at intake.
pub fn an_intake(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "device_type": "Celular",
        "brand": "Samsung",
        "model": "Galaxy A54",
        "serial": "356789104455667",
        "accessories": "Cargador y funda",
        "condition_notes": "Pantalla trizada en la esquina",
        "reported_fault": "No carga",
        "priority": "high",
        "promised_date": "2026-12-15",
    })
}

pub async fn setup() -> (TestApp, Client, String) {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let client_id = a_client(&admin, "Ana Pérez").await;
    (app, admin, client_id)
}

/// Takes a device in as `user`; returns the order.
pub async fn intake(user: &Client, client_id: &str) -> Value {
    let res = user
        .post_json("/api/service-orders", &an_intake(client_id))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()
}

pub async fn move_to(user: &Client, number: &str, to: &str, note: Option<&str>) -> TestResponse {
    user.post_json(
        &format!("/api/service-orders/{number}/transitions"),
        &json!({"to": to, "note": note}),
    )
    .await
}

/// The moves from `received` that reach `state`.
pub fn path_to(state: &str) -> Vec<&'static str> {
    let full = [
        "diagnosing",
        "awaiting_approval",
        "approved",
        "in_repair",
        "ready",
        "delivered",
    ];
    match state {
        "received" => vec![],
        "rejected" => vec!["diagnosing", "awaiting_approval", "rejected"],
        "awaiting_parts" => vec![
            "diagnosing",
            "awaiting_approval",
            "approved",
            "awaiting_parts",
        ],
        "cancelled" => vec!["cancelled"],
        other => {
            let at = full.iter().position(|s| *s == other).unwrap();
            full[..=at].to_vec()
        }
    }
}

/// Walks `number` to `state` as `user` (who may make every move).
pub async fn walk(user: &Client, number: &str, state: &str) {
    for step in path_to(state) {
        let res = move_to(user, number, step, Some("paso")).await;
        assert_eq!(res.status, StatusCode::OK, "→ {step}: {}", res.text());
    }
}

/// The signed-in user's id.
pub async fn my_id(user: &Client) -> String {
    user.get("/api/auth/me").await.json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn put(user: &Client, path: &str, body: &Value) -> TestResponse {
    user.send_json(Method::PUT, path, body).await
}

/// The fields the errors of a problem name, in order.
pub fn fields(res: &TestResponse) -> Vec<String> {
    res.json()["errors"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}
