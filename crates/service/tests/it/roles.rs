//! Who may do what (decision 0031): the receptionist at the desk, the
//! technician at the bench on their own orders, the viewer reading, and a
//! role the module grants nothing.

use axum::http::StatusCode;
use serde_json::json;

use crate::{intake, move_to, my_id, put, setup};

#[tokio::test]
async fn the_receptionist_takes_in_quotes_and_delivers_but_does_not_repair() {
    let (app, admin, client_id) = setup().await;
    let desk = app.client_for("receptionist").await;
    let tech = app.client_for("technician").await;
    let tech_id = my_id(&tech).await;

    let o = intake(&desk, &client_id).await;
    let number = o["number"].as_str().unwrap().to_owned();
    let url = format!("/api/service-orders/{number}");
    // Edits, quotes and assigns.
    put(&desk, &url, &json!({"model": "Galaxy A55"}))
        .await
        .assert_status(StatusCode::OK);
    put(
        &desk,
        &format!("{url}/lines"),
        &json!({"lines": [{"kind": "labour", "description": "Revisión", "quantity": 1, "unit_price_clp": 10000}]}),
    )
    .await
    .assert_status(StatusCode::OK);
    desk.post_json(&format!("{url}/assign"), &json!({"technician_id": tech_id}))
        .await
        .assert_status(StatusCode::OK);
    // The bench's moves are not hers…
    for to in ["diagnosing"] {
        let res = move_to(&desk, &number, to, None).await;
        res.assert_status(StatusCode::FORBIDDEN);
        assert_eq!(res.json()["code"], "service_order_move_forbidden");
    }
    desk.post_json(&format!("{url}/take"), &json!({}))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    put(
        &desk,
        &format!("{url}/diagnosis"),
        &json!({"diagnosis": "x"}),
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);
    // …the customer's answers and the delivery are.
    move_to(&tech, &number, "diagnosing", None)
        .await
        .assert_status(StatusCode::OK);
    move_to(&desk, &number, "awaiting_approval", None)
        .await
        .assert_status(StatusCode::OK);
    move_to(&desk, &number, "approved", Some("Aprobó por teléfono"))
        .await
        .assert_status(StatusCode::OK);
    move_to(&tech, &number, "in_repair", None)
        .await
        .assert_status(StatusCode::OK);
    move_to(&tech, &number, "ready", None)
        .await
        .assert_status(StatusCode::OK);
    move_to(&desk, &number, "delivered", None)
        .await
        .assert_status(StatusCode::OK);
    // She sees every order, whoever has it.
    let list = desk.get("/api/service-orders").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let _ = admin;
}

#[tokio::test]
async fn a_technician_works_only_on_their_own_orders() {
    let (app, admin, client_id) = setup().await;
    let ana = app.client_for("technician").await;
    let luis = app.client_for("technician").await;
    let luis_id = my_id(&luis).await;

    let mine = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let his = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let free = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    admin
        .post_json(
            &format!("/api/service-orders/{his}/assign"),
            &json!({"technician_id": luis_id}),
        )
        .await
        .assert_status(StatusCode::OK);

    // Ana takes one; now it is hers.
    let res = ana
        .post_json(&format!("/api/service-orders/{mine}/take"), &json!({}))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["technician_id"], my_id(&ana).await);
    // She lists hers and the unassigned, never Luis's.
    let list = ana.get("/api/service-orders").await.json();
    let numbers: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, [free.as_str(), mine.as_str()]);
    let res = ana.get(&format!("/api/service-orders?q={his}")).await;
    assert_eq!(res.json()["items"], json!([]));

    // Reading Luis's order is as if it did not exist; so is every write.
    let res = ana.get(&format!("/api/service-orders/{his}")).await;
    res.assert_status(StatusCode::NOT_FOUND);
    let missing = ana.get("/api/service-orders/OS-2026-999999").await;
    missing.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(res.json()["code"], missing.json()["code"]);
    for res in [
        move_to(&ana, &his, "diagnosing", None).await,
        ana.post_json(&format!("/api/service-orders/{his}/take"), &json!({}))
            .await,
        put(
            &ana,
            &format!("/api/service-orders/{his}/diagnosis"),
            &json!({"diagnosis": "x"}),
        )
        .await,
        put(
            &ana,
            &format!("/api/service-orders/{his}/lines"),
            &json!({"lines": []}),
        )
        .await,
    ] {
        res.assert_status(StatusCode::NOT_FOUND);
    }

    // The unassigned one she may read and take, not work on before.
    ana.get(&format!("/api/service-orders/{free}"))
        .await
        .assert_status(StatusCode::OK);
    let res = move_to(&ana, &free, "diagnosing", None).await;
    res.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(res.json()["code"], "service_order_not_assigned");

    // Her own: diagnose, quote, the bench's moves; not the desk's.
    let url = format!("/api/service-orders/{mine}");
    move_to(&ana, &mine, "diagnosing", None)
        .await
        .assert_status(StatusCode::OK);
    let res = put(
        &ana,
        &format!("{url}/diagnosis"),
        &json!({"diagnosis": "Conector de carga sulfatado"}),
    )
    .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["diagnosis"], "Conector de carga sulfatado");
    put(
        &ana,
        &format!("{url}/lines"),
        &json!({"lines": [{"kind": "part", "description": "Conector", "quantity": 1, "unit_price_clp": 12990}]}),
    )
    .await
    .assert_status(StatusCode::OK);
    move_to(&ana, &mine, "awaiting_approval", None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    put(&ana, &url, &json!({"brand": "Otra"}))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    ana.post_json(&format!("{url}/assign"), &json!({"technician_id": luis_id}))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    ana.post_json("/api/service-orders", &crate::an_intake(&client_id))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    for to in ["awaiting_approval", "approved", "in_repair"] {
        move_to(&admin, &mine, to, None)
            .await
            .assert_status(StatusCode::OK);
    }
    move_to(&ana, &mine, "ready", None)
        .await
        .assert_status(StatusCode::OK);
    move_to(&ana, &mine, "delivered", None)
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // Someone else's order cannot be taken from them, even by a manager.
    let manager = app.client_for("manager").await;
    let res = manager
        .post_json(&format!("/api/service-orders/{his}/take"), &json!({}))
        .await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "service_order_already_assigned");
    // The CSV follows the same rule.
    let csv = ana.get("/api/service-orders/export.csv").await.text();
    assert!(!csv.contains(&his), "{csv}");
    assert!(csv.contains(&mine));
}

#[tokio::test]
async fn a_viewer_reads_and_a_role_without_grants_is_refused() {
    let (app, admin, client_id) = setup().await;
    let number = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("/api/service-orders/{number}");
    let viewer = app.client_for("viewer").await;
    viewer
        .get("/api/service-orders")
        .await
        .assert_status(StatusCode::OK);
    viewer.get(&url).await.assert_status(StatusCode::OK);
    viewer
        .get("/api/technicians")
        .await
        .assert_status(StatusCode::OK);
    viewer
        .get("/api/service-orders/export.csv")
        .await
        .assert_status(StatusCode::OK);
    for res in [
        viewer
            .post_json("/api/service-orders", &crate::an_intake(&client_id))
            .await,
        put(&viewer, &url, &json!({"brand": "x"})).await,
        put(&viewer, &format!("{url}/lines"), &json!({"lines": []})).await,
        put(
            &viewer,
            &format!("{url}/diagnosis"),
            &json!({"diagnosis": "x"}),
        )
        .await,
        viewer.post_json(&format!("{url}/take"), &json!({})).await,
        viewer
            .post_json(&format!("{url}/assign"), &json!({"technician_id": null}))
            .await,
        move_to(&viewer, &number, "diagnosing", None).await,
        move_to(&viewer, &number, "cancelled", Some("no")).await,
    ] {
        res.assert_status(StatusCode::FORBIDDEN);
        assert!(res.content_type().starts_with("application/problem+json"));
    }

    // The warehouse's role holds nothing of the repair shop.
    let warehouse = app.client_for("warehouse").await;
    for res in [
        warehouse.get("/api/service-orders").await,
        warehouse.get(&url).await,
        warehouse.get("/api/technicians").await,
        warehouse
            .post_json("/api/service-orders", &crate::an_intake(&client_id))
            .await,
        move_to(&warehouse, &number, "diagnosing", None).await,
    ] {
        res.assert_status(StatusCode::FORBIDDEN);
    }
    let v = admin.get(&url).await.json();
    assert_eq!(
        (v["status"].as_str(), v["version"].as_i64()),
        (Some("received"), Some(1))
    );
}
