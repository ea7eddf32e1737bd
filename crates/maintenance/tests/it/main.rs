//! Integration tests of equipment maintenance, on the real application.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod dashboard;
mod import;
mod pages;
mod plans;
mod reports;
mod requests;

use axum::http::StatusCode;
use faena_testkit::{Client, TestApp};
use serde_json::{Value, json};

pub fn a_machine(code: &str) -> Value {
    json!({
        "code": code,
        "name": "Centrífuga refrigerada",
        "kind": "Centrífuga",
        "lab": "Laboratorio de Química",
        "brand": "Eppendorf",
        "model": "5810 R",
        "serial": "5811AB123456",
        "criticality": "high",
        "attributes": {"Voltaje": "220 V"},
    })
}

/// Registers a machine as `user`; returns its view.
pub async fn create_machine(user: &Client, body: &Value) -> Value {
    let res = user.post_json("/api/machines", body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()
}

pub fn a_record() -> Value {
    json!({
        "kind": "preventive",
        "description": "Cambio de filtros y limpieza del rotor",
        "duration_minutes": 90,
        "cost_clp": 45000,
        "parts": [{"name": "Filtro HEPA", "quantity": 2, "unit_cost_clp": 12500}],
        "measurements": {"Temperatura": "4,1 °C"},
        "next_due_on": (chrono::Utc::now().date_naive() + chrono::Duration::days(180)).to_string(),
    })
}

/// Records maintenance on `code` as `user`; returns the record.
pub async fn record(user: &Client, code: &str, body: &Value) -> Value {
    let res = user
        .post_json(&format!("/api/machines/{code}/maintenance"), body)
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()
}

pub async fn setup() -> (TestApp, Client) {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    (app, admin)
}
