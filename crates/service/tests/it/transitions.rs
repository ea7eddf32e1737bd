//! Every move through the API, allowed and refused, with its history.

use axum::http::StatusCode;
use serde_json::json;

use crate::{intake, move_to, setup, walk};

const STATES: [&str; 10] = [
    "received",
    "diagnosing",
    "awaiting_approval",
    "approved",
    "rejected",
    "awaiting_parts",
    "in_repair",
    "ready",
    "delivered",
    "cancelled",
];

const ALLOWED: [(&str, &str); 10] = [
    ("received", "diagnosing"),
    ("diagnosing", "awaiting_approval"),
    ("awaiting_approval", "approved"),
    ("awaiting_approval", "rejected"),
    ("approved", "awaiting_parts"),
    ("approved", "in_repair"),
    ("rejected", "ready"),
    ("awaiting_parts", "in_repair"),
    ("in_repair", "ready"),
    ("ready", "delivered"),
];

fn allowed(from: &str, to: &str) -> bool {
    ALLOWED.contains(&(from, to))
        || (to == "cancelled" && !matches!(from, "delivered" | "cancelled"))
}

#[tokio::test]
async fn every_transition_allowed_and_refused() {
    let (_app, admin, client_id) = setup().await;
    for from in STATES {
        // One order stands in `from` for the refused moves…
        let o = intake(&admin, &client_id).await;
        let number = o["number"].as_str().unwrap().to_owned();
        walk(&admin, &number, from).await;
        let before = admin
            .get(&format!("/api/service-orders/{number}"))
            .await
            .json();
        assert_eq!(before["status"], from);
        for to in STATES {
            if allowed(from, to) {
                continue;
            }
            let res = move_to(&admin, &number, to, Some("no corresponde")).await;
            res.assert_status(StatusCode::CONFLICT);
            let p = res.json();
            assert_eq!(
                p["code"], "service_order_invalid_transition",
                "{from} → {to}"
            );
            assert_eq!(p["from"], from);
            assert_eq!(p["to"], to);
            assert_eq!(p["allowed"], before["allowed_next"], "{from}");
        }
        let after = admin
            .get(&format!("/api/service-orders/{number}"))
            .await
            .json();
        assert_eq!(
            after["version"], before["version"],
            "{from}: nothing changed"
        );
        assert_eq!(after["history"], before["history"]);

        // …and each allowed move gets an order of its own.
        for to in STATES.into_iter().filter(|to| allowed(from, to)) {
            let o = intake(&admin, &client_id).await;
            let number = o["number"].as_str().unwrap().to_owned();
            walk(&admin, &number, from).await;
            let res = move_to(&admin, &number, to, Some("motivo")).await;
            assert_eq!(res.status, StatusCode::OK, "{from} → {to}: {}", res.text());
            let v = res.json();
            assert_eq!(v["status"], to);
            let history = admin
                .get(&format!("/api/service-orders/{number}"))
                .await
                .json()["history"]
                .clone();
            let last = history.as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["from_status"], from);
            assert_eq!(last["to_status"], to);
            assert_eq!(last["note"], "motivo");
            assert_eq!(last["actor"], "admin@faena.test");
        }
    }
}

#[tokio::test]
async fn cancelling_needs_a_reason_and_keeps_it() {
    let (_app, admin, client_id) = setup().await;
    let o = intake(&admin, &client_id).await;
    let number = o["number"].as_str().unwrap();
    for note in [None, Some("   ")] {
        let res = move_to(&admin, number, "cancelled", note).await;
        res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.json()["errors"][0]["field"], "note");
        assert_eq!(
            res.json()["errors"][0]["message"],
            "Indica por qué se cancela la orden"
        );
    }
    let v = admin
        .get(&format!("/api/service-orders/{number}"))
        .await
        .json();
    assert_eq!(v["status"], "received", "nothing changed");
    assert_eq!(v["version"], 1);

    let res = move_to(&admin, number, "cancelled", Some("El cliente desistió")).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["cancel_reason"], "El cliente desistió");
    assert_eq!(res.json()["allowed_next"], json!([]));
    // A closed order no longer changes.
    let res = crate::put(
        &admin,
        &format!("/api/service-orders/{number}"),
        &json!({"brand": "Otra"}),
    )
    .await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "service_order_closed");
}

#[tokio::test]
async fn a_refused_move_names_the_status_in_spanish_first() {
    let (app, admin, client_id) = setup().await;
    let o = intake(&admin, &client_id).await;
    let number = o["number"].as_str().unwrap();
    let res = move_to(&admin, number, "delivered", None).await;
    res.assert_status(StatusCode::CONFLICT);
    assert!(res.content_type().starts_with("application/problem+json"));
    assert_eq!(
        res.json()["title"],
        "No se puede pasar de «received» a «delivered»"
    );
    let english = app.admin().await.with_header("accept-language", "en");
    let res = move_to(&english, number, "delivered", None).await;
    assert_eq!(
        res.json()["title"],
        "Cannot move from «received» to «delivered»"
    );
    // An unknown status is the body's field.
    let res = move_to(&admin, number, "perdida", None).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "to");
}
