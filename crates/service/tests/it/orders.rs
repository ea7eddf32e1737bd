//! Intake, the estimate and its totals, edits, lists, search and CSV.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{a_client, an_intake, fields, intake, move_to, put, setup, walk};

#[tokio::test]
async fn an_intake_is_numbered_and_shows_its_customer() {
    let (app, _admin, client_id) = setup().await;
    let desk = app.client_for("receptionist").await;
    let res = desk
        .post_json("/api/service-orders", &an_intake(&client_id))
        .await;
    res.assert_status(StatusCode::CREATED);
    let o = res.json();
    let number = o["number"].as_str().unwrap();
    assert!(
        number.starts_with("OS-20") && number.ends_with("-000001"),
        "{number}"
    );
    assert_eq!(
        res.header("location"),
        Some(format!("/api/service-orders/{number}").as_str())
    );
    assert_eq!(res.header("etag"), Some("\"1\""));
    assert_eq!(o["status"], "received");
    assert_eq!(o["client_name"], "Ana Pérez");
    assert_eq!(o["priority"], "high");
    assert_eq!(o["serial"], "356789104455667");
    assert_eq!(o["promised_date"], "2026-12-15");
    assert_eq!(o["technician_id"], Value::Null);
    assert_eq!(o["allowed_next"], json!(["diagnosing", "cancelled"]));
    assert_eq!(
        o["totals"],
        json!({"net_clp": 0, "vat_clp": 0, "total_clp": 0})
    );

    // Its own read carries the history; the number is found in any case.
    let v = desk
        .get(&format!("/api/service-orders/{}", number.to_lowercase()))
        .await;
    v.assert_status(StatusCode::OK);
    assert_eq!(v.header("etag"), Some("\"1\""));
    let h = &v.json()["history"];
    assert_eq!(h.as_array().unwrap().len(), 1);
    assert_eq!(h[0]["to_status"], "received");
    assert_eq!(h[0]["from_status"], Value::Null);
    assert_eq!(h[0]["actor"], "receptionist@faena.test");
}

#[tokio::test]
async fn totals_are_computed_with_iva() {
    let (_app, admin, client_id) = setup().await;
    let number = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = put(
        &admin,
        &format!("/api/service-orders/{number}/lines"),
        &json!({"lines": [
            {"kind": "part", "description": "Pantalla original", "quantity": 1, "unit_price_clp": 45990},
            {"kind": "part", "description": "Tornillos", "quantity": 3, "unit_price_clp": 3333, "discount_percent": 10},
            {"kind": "labour", "description": "Mano de obra", "quantity": 1, "unit_price_clp": 15000},
        ]}),
    )
    .await;
    res.assert_status(StatusCode::OK);
    let v = res.json();
    let nets: Vec<i64> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["net_clp"].as_i64().unwrap())
        .collect();
    // 3 × 3 333 = 9 999, less 10 % (999,9 → 1 000): 8 999.
    assert_eq!(nets, [45990, 8999, 15000]);
    // IVA on the net of the order: 69 989 × 19 % = 13 297,91 → 13 298.
    assert_eq!(
        v["totals"],
        json!({"net_clp": 69989, "vat_clp": 13298, "total_clp": 83287})
    );
    assert_eq!(v["currency"], "CLP");
    assert_eq!(v["version"], 2);

    // Once the customer has answered, the estimate stays.
    walk(&admin, &number, "approved").await;
    let res = put(
        &admin,
        &format!("/api/service-orders/{number}/lines"),
        &json!({"lines": []}),
    )
    .await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "service_order_lines_locked");
    let v = admin
        .get(&format!("/api/service-orders/{number}"))
        .await
        .json();
    assert_eq!(v["totals"]["total_clp"], 83287);
}

#[tokio::test]
async fn bad_input_is_named_and_nothing_is_written() {
    let (_app, admin, client_id) = setup().await;
    // Unknown customer.
    let res = admin
        .post_json(
            "/api/service-orders",
            &an_intake("00000000-0000-0000-0000-000000000000"),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&res), ["client_id"]);
    assert_eq!(res.json()["errors"][0]["message"], "El cliente no existe");
    // Missing texts, a negative quantity and price, a discount over 100.
    let mut bad = an_intake(&client_id);
    bad["brand"] = json!("  ");
    bad["lines"] = json!([
        {"kind": "part", "description": "Batería", "quantity": -1, "unit_price_clp": -500},
        {"kind": "labour", "description": "", "quantity": 1, "unit_price_clp": 1000, "discount_percent": 120},
    ]);
    let res = admin.post_json("/api/service-orders", &bad).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fields(&res),
        [
            "brand",
            "lines[0].quantity",
            "lines[0].unit_price_clp",
            "lines[1].description",
            "lines[1].discount_percent"
        ]
    );
    assert_eq!(
        res.json()["errors"][1]["message"],
        "El campo lines[0].quantity debe estar entre 1 y 10000"
    );
    // A wrong type is the field too.
    let mut bad = an_intake(&client_id);
    bad["promised_date"] = json!("mañana");
    let res = admin.post_json("/api/service-orders", &bad).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&res), ["promised_date"]);
    assert_eq!(
        admin.get("/api/service-orders").await.json()["items"],
        json!([]),
        "nothing written"
    );

    // On an existing order: bad lines change nothing.
    let number = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = put(
        &admin,
        &format!("/api/service-orders/{number}/lines"),
        &json!({"lines": [{"kind": "part", "description": "Pantalla", "quantity": 2, "unit_price_clp": -1}]}),
    )
    .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&res), ["lines[0].unit_price_clp"]);
    let v = admin
        .get(&format!("/api/service-orders/{number}"))
        .await
        .json();
    assert_eq!(
        (v["version"].as_i64(), v["lines"].clone()),
        (Some(1), json!([]))
    );
    // An unknown technician.
    let res = admin
        .post_json(
            &format!("/api/service-orders/{number}/assign"),
            &json!({"technician_id": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&res), ["technician_id"]);
}

#[tokio::test]
async fn a_warranty_claim_links_a_delivered_order() {
    let (_app, admin, client_id) = setup().await;
    let first = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut claim = an_intake(&client_id);
    claim["warranty_of"] = json!(first);
    let res = admin.post_json("/api/service-orders", &claim).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&res), ["warranty_of"]);
    assert_eq!(
        res.json()["errors"][0]["code"],
        "warranty_order_not_delivered"
    );
    claim["warranty_of"] = json!("OS-1999-000001");
    let res = admin.post_json("/api/service-orders", &claim).await;
    assert_eq!(res.json()["errors"][0]["code"], "unknown_service_order");

    walk(&admin, &first, "delivered").await;
    claim["warranty_of"] = json!(first.to_lowercase());
    let res = admin.post_json("/api/service-orders", &claim).await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["warranty_of"], first);
}

#[tokio::test]
async fn a_stale_version_is_412_and_changes_nothing() {
    let (_app, admin, client_id) = setup().await;
    let number = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("/api/service-orders/{number}");
    let stale = admin.clone().with_header("if-match", "\"1\"");
    let res = put(&stale, &url, &json!({"model": "Galaxy A55"})).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.header("etag"), Some("\"2\""));
    for res in [
        put(&stale, &url, &json!({"model": "Galaxy S23"})).await,
        stale
            .post_json(&format!("{url}/transitions"), &json!({"to": "diagnosing"}))
            .await,
        put(&stale, &format!("{url}/lines"), &json!({"lines": []})).await,
        stale.post_json(&format!("{url}/take"), &json!({})).await,
    ] {
        res.assert_status(StatusCode::PRECONDITION_FAILED);
        assert!(res.content_type().starts_with("application/problem+json"));
    }
    let v = admin.get(&url).await.json();
    assert_eq!(
        (v["model"].as_str(), v["version"].as_i64()),
        (Some("Galaxy A55"), Some(2))
    );
    assert_eq!(v["status"], "received");
    // The current version goes through.
    let fresh = admin.clone().with_header("if-match", "\"2\"");
    move_to(&fresh, &number, "diagnosing", None)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn lists_filter_search_page_and_export() {
    let (app, admin, ana) = setup().await;
    let bruno = a_client(&admin, "Bruno Muñoz").await;
    let mut made = Vec::new();
    for (client, brand, model, serial, priority) in [
        (&ana, "Lenovo", "ThinkPad E14", "PF3ABC12", "normal"),
        (&bruno, "Apple", "iPhone 12", "353912110000001", "urgent"),
        (&ana, "Epson", "L3250", "X5KJ0099", "low"),
        (&bruno, "Samsung", "Galaxy A54", "356789104455667", "high"),
    ] {
        let mut body = an_intake(client);
        body["brand"] = json!(brand);
        body["model"] = json!(model);
        body["serial"] = json!(serial);
        body["priority"] = json!(priority);
        let res = admin.post_json("/api/service-orders", &body).await;
        res.assert_status(StatusCode::CREATED);
        made.push(res.json()["number"].as_str().unwrap().to_owned());
    }
    let numbers = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["number"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = admin.get("/api/service-orders").await.json();
    assert_eq!(
        numbers(&all),
        [
            made[3].clone(),
            made[2].clone(),
            made[1].clone(),
            made[0].clone()
        ],
        "newest first"
    );

    // Pages of two, following `next`.
    let page = admin.get("/api/service-orders?limit=2").await.json();
    assert_eq!(numbers(&page), [made[3].clone(), made[2].clone()]);
    let next = page["next"].as_str().unwrap();
    let page = admin.get(next).await.json();
    assert_eq!(numbers(&page), [made[1].clone(), made[0].clone()]);
    assert_eq!(page["next"], Value::Null);

    // Search: the customer's name without accents, the IMEI, the brand, the number.
    for (q, expected) in [
        ("munoz", vec![made[3].clone(), made[1].clone()]),
        ("353912110000001", vec![made[1].clone()]),
        ("thinkpad", vec![made[0].clone()]),
        ("EPSON l3250", vec![made[2].clone()]),
        (made[2].to_lowercase().as_str(), vec![made[2].clone()]),
    ] {
        let res = admin
            .get(&format!("/api/service-orders?q={}", q.replace(' ', "+")))
            .await;
        res.assert_status(StatusCode::OK);
        assert_eq!(numbers(&res.json()), expected, "q={q}");
    }
    // Filters.
    let v = admin
        .get(&format!(
            "/api/service-orders?client_id={bruno}&priority=urgent,high"
        ))
        .await
        .json();
    assert_eq!(numbers(&v), [made[3].clone(), made[1].clone()]);
    move_to(&admin, &made[0], "cancelled", Some("Desistió"))
        .await
        .assert_status(StatusCode::OK);
    let v = admin.get("/api/service-orders?open=false").await.json();
    assert_eq!(numbers(&v), [made[0].clone()]);
    let v = admin
        .get("/api/service-orders?status=received&open=true")
        .await
        .json();
    assert_eq!(numbers(&v).len(), 3);
    let tech = app.client_for("technician").await;
    let tech_id = crate::my_id(&tech).await;
    tech.post_json(&format!("/api/service-orders/{}/take", made[1]), &json!({}))
        .await
        .assert_status(StatusCode::OK);
    let v = admin
        .get(&format!("/api/service-orders?technician_id={tech_id}"))
        .await
        .json();
    assert_eq!(numbers(&v), [made[1].clone()]);
    assert_eq!(v["items"][0]["technician_name"], "Usuario technician");
    let v = admin
        .get("/api/service-orders?unassigned=true&open=true")
        .await
        .json();
    assert_eq!(numbers(&v), [made[3].clone(), made[2].clone()]);
    // Bad filters are named.
    let res = admin.get("/api/service-orders?status=perdida").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&res), ["status"]);
    let res = admin.get("/api/service-orders?priority=ya").await;
    assert_eq!(fields(&res), ["priority"]);

    // The CSV: same filters, Spanish headers and statuses.
    let csv = admin
        .get(&format!("/api/service-orders/export.csv?client_id={ana}"))
        .await;
    csv.assert_status(StatusCode::OK);
    assert!(csv.content_type().starts_with("text/csv"));
    let text = csv.text();
    let rows: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows[0].starts_with("Número;Cliente;Estado;Prioridad;Equipo"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with(&format!(
            "{};Ana Pérez;Recibida;Baja;Celular Epson L3250",
            made[2]
        )),
        "{}",
        rows[1]
    );
    assert!(rows[2].contains("Cancelada"), "{}", rows[2]);
}
