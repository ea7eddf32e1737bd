use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use faena_testkit::Client;
use serde_json::{Value, json};

use crate::{a_client, an_order, setup};

async fn create(user: &Client, client_id: &str) -> Value {
    let res = user.post_json("/api/orders", &an_order(client_id)).await;
    res.assert_status(StatusCode::CREATED);
    res.json()
}

async fn move_to(user: &Client, number: &str, body: Value) -> faena_testkit::TestResponse {
    user.send_json(Method::PUT, &format!("/api/orders/{number}"), &body)
        .await
}

#[tokio::test]
async fn an_order_is_numbered_and_shows_its_client() {
    let (app, admin, client_id) = setup().await;
    let warehouse = app.client_for("warehouse").await;
    let o = create(&warehouse, &client_id).await;
    assert_eq!(o["number"], "ORD-000001");
    assert_eq!(o["status"], "received");
    assert_eq!(o["client_name"], "Ferretería Central");
    assert_eq!(o["allowed_next"], json!(["picking", "cancelled"]));
    assert_eq!(o["lines"].as_array().unwrap().len(), 2);
    assert_eq!(create(&warehouse, &client_id).await["number"], "ORD-000002");

    // A given number is kept (upper case); a taken one is a 409 naming it.
    let mut given = an_order(&client_id);
    given["number"] = json!("po-2026-17");
    let res = warehouse.post_json("/api/orders", &given).await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["number"], "PO-2026-17");
    let res = warehouse.post_json("/api/orders", &given).await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["errors"][0]["field"], "number");

    let list = admin.get("/api/orders").await.json();
    assert_eq!(list["items"][0]["number"], "PO-2026-17", "newest first");
    assert_eq!(list["items"][0]["client_name"], "Ferretería Central");
}

#[tokio::test]
async fn an_unknown_client_is_422_naming_client_id() {
    let (_app, admin, _) = setup().await;
    let res = admin
        .post_json(
            "/api/orders",
            &an_order("00000000-0000-0000-0000-000000000000"),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "client_id");
    assert_eq!(res.json()["errors"][0]["message"], "El cliente no existe");
    let res = admin
        .post_json("/api/orders", &an_order("no-es-un-id"))
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "client_id");
    let res = admin
        .post_json(
            "/api/orders",
            &json!({"client_id": _app_client(&admin).await, "lines": [{"sku": "", "quantity": 0}]}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = res.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["lines[0].sku", "lines[0].quantity"]);
    assert_eq!(
        admin.get("/api/orders").await.json()["items"],
        json!([]),
        "nothing half-written"
    );
}

async fn _app_client(admin: &Client) -> String {
    admin.get("/api/clients").await.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_transition_allowed_and_refused() {
    let (app, _admin, client_id) = setup().await;
    let warehouse = app.client_for("warehouse").await;
    let states = [
        "received",
        "picking",
        "packing",
        "shipped",
        "delivered",
        "returned",
        "cancelled",
    ];
    let allowed = [
        ("received", "picking"),
        ("received", "cancelled"),
        ("picking", "packing"),
        ("picking", "cancelled"),
        ("packing", "shipped"),
        ("packing", "cancelled"),
        ("shipped", "delivered"),
        ("delivered", "returned"),
    ];
    // Paths that reach each state from received.
    let path_to = |state: &str| -> Vec<&'static str> {
        match state {
            "received" => vec![],
            "picking" => vec!["picking"],
            "packing" => vec!["picking", "packing"],
            "shipped" => vec!["picking", "packing", "shipped"],
            "delivered" => vec!["picking", "packing", "shipped", "delivered"],
            "returned" => vec!["picking", "packing", "shipped", "delivered", "returned"],
            _ => vec!["cancelled"],
        }
    };
    let body = |to: &str| json!({"status": to, "return_reason": "Llegó con la caja rota", "return_code": "damaged"});
    for from in states {
        for to in states {
            if from == to {
                continue;
            }
            let number = create(&warehouse, &client_id).await["number"]
                .as_str()
                .unwrap()
                .to_owned();
            for step in path_to(from) {
                move_to(&warehouse, &number, body(step))
                    .await
                    .assert_status(StatusCode::OK);
            }
            let res = move_to(&warehouse, &number, body(to)).await;
            if allowed.contains(&(from, to)) {
                res.assert_status(StatusCode::OK);
                assert_eq!(res.json()["status"], to);
            } else {
                res.assert_status(StatusCode::CONFLICT);
                let problem = res.json();
                assert_eq!(problem["code"], "invalid_transition", "{from} → {to}");
                let expected: Vec<&str> = allowed
                    .iter()
                    .filter(|(f, _)| *f == from)
                    .map(|(_, t)| *t)
                    .collect();
                assert_eq!(problem["allowed"], json!(expected), "{from} → {to}");
                assert_eq!(
                    warehouse.get(&format!("/api/orders/{number}")).await.json()["status"],
                    from,
                    "unchanged"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_return_needs_a_reason_and_gets_its_time_from_the_server() {
    let (app, admin, client_id) = setup().await;
    let warehouse = app.client_for("warehouse").await;
    let number = create(&warehouse, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    for s in ["picking", "packing", "shipped", "delivered"] {
        move_to(&warehouse, &number, json!({"status": s}))
            .await
            .assert_status(StatusCode::OK);
    }
    let res = move_to(&warehouse, &number, json!({"status": "returned"})).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "return_reason");
    let res = move_to(
        &warehouse,
        &number,
        json!({"status": "returned", "return_reason": "   "}),
    )
    .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    let res = move_to(&warehouse, &number, json!({"status": "returned", "return_reason": "Cliente no lo pidió", "return_code": "not_ordered"})).await;
    res.assert_status(StatusCode::OK);
    let o = res.json();
    assert_eq!(o["return_reason"], "Cliente no lo pidió");
    assert_eq!(o["return_code"], "not_ordered");
    assert!(o["returned_at"].is_string());

    let returns = admin.get("/api/orders/returns").await.json();
    assert_eq!(returns["items"].as_array().unwrap().len(), 1);
    assert_eq!(returns["items"][0]["number"], number.as_str());

    let history = admin
        .get(&format!("/api/orders/{number}/history"))
        .await
        .json();
    let steps: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "received",
            "picking",
            "packing",
            "shipped",
            "delivered",
            "returned"
        ]
    );
    assert_eq!(history[5]["reason"], "Cliente no lo pidió");
    assert_eq!(history[5]["actor"], "warehouse@faena.test");

    let audit = admin
        .get(&format!(
            "/api/audit?entity=order&entity_id={number}&action=transition"
        ))
        .await
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn stale_if_match_is_412_and_idempotent_retry_creates_once() {
    let (_app, admin, client_id) = setup().await;
    let number = create(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let put = |if_match: &str, status: &str| {
        Request::put(format!("/api/orders/{number}"))
            .header("content-type", "application/json")
            .header("if-match", if_match)
            .body(Body::from(json!({"status": status}).to_string()))
            .unwrap()
    };
    admin
        .send(put("\"1\"", "picking"))
        .await
        .assert_status(StatusCode::OK);
    admin
        .send(put("\"1\"", "cancelled"))
        .await
        .assert_status(StatusCode::PRECONDITION_FAILED);

    let post = || {
        Request::post("/api/orders")
            .header("content-type", "application/json")
            .header("idempotency-key", "pedido-42")
            .body(Body::from(an_order(&client_id).to_string()))
            .unwrap()
    };
    let first = admin.send(post()).await;
    let again = admin.send(post()).await;
    first.assert_status(StatusCode::CREATED);
    again.assert_status(StatusCode::CREATED);
    assert_eq!(first.json()["number"], again.json()["number"]);
    assert_eq!(
        admin.get("/api/orders").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn lines_freeze_once_packing_starts_and_only_fresh_orders_are_deleted() {
    let (app, admin, client_id) = setup().await;
    let number = create(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let lines = json!({"lines": [{"sku": "X", "quantity": 1}]});
    move_to(&admin, &number, lines.clone())
        .await
        .assert_status(StatusCode::OK);
    move_to(&admin, &number, json!({"status": "picking"})).await;
    move_to(&admin, &number, json!({"status": "packing"})).await;
    let res = move_to(&admin, &number, lines).await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "order_not_editable");
    let res = admin.delete(&format!("/api/orders/{number}")).await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "order_not_deletable");

    let fresh = create(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    app.client_for("warehouse")
        .await
        .delete(&format!("/api/orders/{fresh}"))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    admin
        .delete(&format!("/api/orders/{fresh}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn clients_show_their_order_count_and_cannot_go_while_they_have_orders() {
    let (_app, admin, client_id) = setup().await;
    let other = a_client(&admin, "Bazar Norte").await;
    create(&admin, &client_id).await;
    create(&admin, &client_id).await;
    let c = admin.get(&format!("/api/clients/{client_id}")).await.json();
    assert_eq!(c["order_count"], 2);
    let list = admin.get("/api/clients").await.json();
    let counts: Vec<(String, u64)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["order_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("Bazar Norte".to_owned(), 0),
            ("Ferretería Central".to_owned(), 2)
        ]
    );

    let res = admin.delete(&format!("/api/clients/{client_id}")).await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "client_has_orders");
    assert_eq!(
        res.json()["title"],
        "No se puede eliminar: el cliente tiene 2 orden(es)"
    );
    admin
        .delete(&format!("/api/clients/{other}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn filters_search_pages_and_csv() {
    let (app, admin, client_id) = setup().await;
    let other = a_client(&admin, "Bazar Norte").await;
    for _ in 0..3 {
        create(&admin, &client_id).await;
    }
    let b = create(&admin, &other).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    move_to(&admin, &b, json!({"status": "picking"}))
        .await
        .assert_status(StatusCode::OK);

    let by_status = admin.get("/api/orders?status=picking").await.json();
    assert_eq!(by_status["items"].as_array().unwrap().len(), 1);
    let several = admin
        .get("/api/orders?status=picking,received")
        .await
        .json();
    assert_eq!(several["items"].as_array().unwrap().len(), 4);
    admin
        .get("/api/orders?status=lost")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let by_client = admin
        .get(&format!("/api/orders?client_id={other}"))
        .await
        .json();
    assert_eq!(by_client["items"][0]["number"], b.as_str());
    let by_name = admin.get("/api/orders?q=bazar").await.json();
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1);
    let by_number = admin.get("/api/orders?q=ord-000002").await.json();
    assert_eq!(by_number["items"][0]["number"], "ORD-000002");
    // Dates are the company's days (America/Santiago), not UTC's.
    let today = chrono::Utc::now()
        .with_timezone(&app.state.time_zone())
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        admin
            .get(&format!("/api/orders?from={today}&to={today}"))
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        admin.get("/api/orders?to=2020-01-01").await.json()["items"],
        json!([])
    );
    admin
        .get("/api/orders?from=ayer")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    let first = admin.get("/api/orders?limit=3").await.json();
    let second = admin
        .get(&format!(
            "/api/orders?limit=3&cursor={}",
            first["next_cursor"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second.get("next_cursor").is_none());

    let csv = admin.get("/api/orders/export.csv").await;
    csv.assert_status(StatusCode::OK);
    assert!(csv.content_type().starts_with("text/csv"));
    let text = csv.text();
    assert!(
        text.starts_with('\u{feff}'),
        "a BOM so spreadsheets read UTF-8"
    );
    let rows: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        rows[0],
        "Número;Cliente;Estado;Líneas;Unidades;Unidades devueltas;Creada;Razón de devolución;Devuelta"
    );
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .any(|r| r.starts_with(&format!("{b};Bazar Norte;En preparación;2;200;"))),
        "{rows:?}"
    );
    let comma = admin
        .get("/api/orders/export.csv?delimiter=comma&status=picking")
        .await
        .text();
    assert_eq!(comma.lines().count(), 2);
    assert!(
        comma
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{b},Bazar Norte,"))
    );
    // The client's name without its accent, and a line's SKU in any case.
    let count = |v: Value| v["items"].as_array().unwrap().len();
    assert_eq!(count(admin.get("/api/orders?q=ferreteria").await.json()), 3);
    let with_sku = admin
        .post_json(
            "/api/orders",
            &json!({"client_id": other, "lines": [{"sku": "CAB-10_X", "description": "Cable", "quantity": 1}]}),
        )
        .await
        .json();
    let by_sku = admin.get("/api/orders?q=cab-10").await.json();
    assert_eq!(by_sku["items"][0]["number"], with_sku["number"]);
    assert_eq!(count(by_sku), 1);
    // `_` is the character, not "any one".
    assert_eq!(count(admin.get("/api/orders?q=10_x").await.json()), 1);
    assert_eq!(count(admin.get("/api/orders?q=tor_m8").await.json()), 0);
}

#[tokio::test]
async fn the_csv_export_never_hands_a_spreadsheet_a_formula() {
    let (_app, admin, _) = setup().await;
    let res = admin
        .post_json(
            "/api/clients",
            &json!({"name": "=HYPERLINK(\"http://x.cl\",\"pagar\")", "email": "formula@clientes.cl"}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let id = res.json()["id"].as_str().unwrap().to_owned();
    create(&admin, &id).await;
    let text = admin.get("/api/orders/export.csv").await.text();
    let row = text.lines().nth(1).unwrap();
    let cells: Vec<&str> = row.split(';').collect();
    assert_eq!(
        cells[1], "\"'=HYPERLINK(\"\"http://x.cl\"\",\"\"pagar\"\")\"",
        "the client's cell starts with an apostrophe inside quotes: {row}"
    );
    assert!(
        !row.split(';').any(|c| c.starts_with('=')),
        "no cell starts with '=': {row}"
    );
}

#[tokio::test]
async fn a_return_can_cover_some_lines_and_units() {
    let (_app, admin, client_id) = setup().await;
    let deliver = |number: String| {
        let admin = admin.clone();
        async move {
            for s in ["picking", "packing", "shipped", "delivered"] {
                move_to(&admin, &number, json!({"status": s}))
                    .await
                    .assert_status(StatusCode::OK);
            }
        }
    };
    let partial = admin
        .post_json("/api/orders", &an_order(&client_id))
        .await
        .json()["number"]
        .as_str()
        .unwrap()
        .to_owned();
    deliver(partial.clone()).await;
    let returned = |lines: Value| json!({"status": "returned", "return_code": "damaged", "return_reason": "Cajas mojadas", "return_lines": lines});

    // Every bad line is named, and nothing moves.
    for (lines, field, code) in [
        (json!([]), "return_lines", "return_lines_required"),
        (
            json!([{"sku": "NOPE", "quantity": 1}]),
            "return_lines[0].sku",
            "unknown_sku",
        ),
        (
            json!([{"sku": "TOR-M8", "quantity": 101}]),
            "return_lines[0].quantity",
            "out_of_range",
        ),
        (
            json!([{"sku": "TOR-M8", "quantity": 0}]),
            "return_lines[0].quantity",
            "out_of_range",
        ),
        (
            json!([{"sku": "TOR-M8", "quantity": 1}, {"sku": "tor-m8", "quantity": 1}]),
            "return_lines[1].sku",
            "duplicate_sku",
        ),
    ] {
        let res = move_to(&admin, &partial, returned(lines.clone())).await;
        res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let body = res.json();
        assert_eq!(body["errors"][0]["field"], field, "{lines}: {body}");
        assert_eq!(body["errors"][0]["code"], code, "{lines}: {body}");
    }
    let order = admin.get(&format!("/api/orders/{partial}")).await.json();
    assert_eq!(order["status"], "delivered");

    // Thirty screws came back, no nuts.
    let res = move_to(
        &admin,
        &partial,
        returned(json!([{"sku": "tor-m8", "quantity": 30}])),
    )
    .await;
    res.assert_status(StatusCode::OK);
    let lines = res.json()["lines"].clone();
    assert_eq!(lines[0]["returned"], 30);
    assert_eq!(lines[1]["returned"], 0);

    // Lines without a return are refused; a return naming none is whole.
    let whole = admin
        .post_json("/api/orders", &an_order(&client_id))
        .await
        .json()["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = move_to(
        &admin,
        &whole,
        json!({"status": "picking", "return_lines": [{"sku": "TOR-M8", "quantity": 1}]}),
    )
    .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.json()["errors"][0]["code"],
        "return_lines_without_return"
    );
    deliver(whole.clone()).await;
    let res = move_to(
        &admin,
        &whole,
        json!({"status": "returned", "return_reason": "No lo pidió"}),
    )
    .await;
    res.assert_status(StatusCode::OK);
    let lines = res.json()["lines"].clone();
    assert_eq!(
        (lines[0]["returned"].clone(), lines[1]["returned"].clone()),
        (json!(100), json!(100))
    );

    // The CSV counts what came back.
    let csv = admin
        .get("/api/orders/export.csv?status=returned&sort=number&dir=asc")
        .await
        .text();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(rows[0].contains(";2;200;30;"), "{}", rows[0]);
    assert!(rows[1].contains(";2;200;200;"), "{}", rows[1]);
}
