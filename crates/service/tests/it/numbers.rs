//! Numbering: `OS-<year>-<n>`, consecutive within the year, even when
//! intakes arrive at once.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::Datelike;

use crate::{an_intake, setup};

#[tokio::test]
async fn fifty_concurrent_intakes_get_fifty_consecutive_numbers() {
    let (app, admin, client_id) = setup().await;
    let desk = app.client_for("receptionist").await;
    let intakes = (0..50).map(|_| {
        let desk = desk.clone();
        let body = an_intake(&client_id);
        tokio::spawn(async move { desk.post_json("/api/service-orders", &body).await })
    });
    let mut numbers = BTreeSet::new();
    for done in futures_util::future::join_all(intakes).await {
        let res = done.unwrap();
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        numbers.insert(res.json()["number"].as_str().unwrap().to_owned());
    }
    let year = chrono::Utc::now()
        .with_timezone(&app.state.time_zone())
        .year();
    let expected: BTreeSet<String> = (1..=50).map(|n| format!("OS-{year}-{n:06}")).collect();
    assert_eq!(numbers, expected);
    // The next one follows on.
    let next = admin
        .post_json("/api/service-orders", &an_intake(&client_id))
        .await;
    assert_eq!(next.json()["number"], format!("OS-{year}-000051"));
}

#[tokio::test]
async fn a_refused_intake_takes_no_number() {
    let (_app, admin, client_id) = setup().await;
    let first = admin
        .post_json("/api/service-orders", &an_intake(&client_id))
        .await;
    let number = first.json()["number"].as_str().unwrap().to_owned();
    assert!(number.ends_with("-000001"), "{number}");
    // A warranty claim of an order not yet delivered is refused, and the
    // next accepted intake is the next number: no gap.
    let mut bad = an_intake(&client_id);
    bad["warranty_of"] = serde_json::json!(number);
    let res = admin.post_json("/api/service-orders", &bad).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let next = admin
        .post_json("/api/service-orders", &an_intake(&client_id))
        .await;
    assert!(next.json()["number"].as_str().unwrap().ends_with("-000002"));
}
