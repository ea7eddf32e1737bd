use axum::http::StatusCode;
use serde_json::json;

use crate::{an_order, setup};

#[tokio::test]
async fn the_whole_seed_flow_from_the_pages() {
    let (app, admin, client_id) = setup().await;
    let browser = app.admin_browser().await;

    let form = browser.get("/orders/new").await;
    form.assert_status(StatusCode::OK);
    assert!(
        form.text().contains("Ferretería Central"),
        "the client selector lists clients"
    );

    // Create with two lines (blank rows are ignored).
    let res = browser
        .post(
            "/orders",
            &[
                ("client_id", &client_id),
                ("notes", "Urgente"),
                ("sku_0", "CAJ-01"),
                ("description_0", "Caja chica"),
                ("quantity_0", "3"),
                ("sku_1", "CAJ-02"),
                ("description_1", "Caja grande"),
                ("quantity_1", "1"),
                ("sku_2", ""),
                ("description_2", ""),
                ("quantity_2", ""),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        res.header("location"),
        Some("/orders/ORD-000001?ok=order_created")
    );

    // Move it through to delivered.
    for (version, status) in [
        ("1", "picking"),
        ("2", "packing"),
        ("3", "shipped"),
        ("4", "delivered"),
    ] {
        let res = browser
            .post(
                "/orders/ORD-000001/status",
                &[("version", version), ("status", status)],
            )
            .await;
        res.assert_status(StatusCode::SEE_OTHER);
    }
    let page = browser.get("/orders/ORD-000001").await.text();
    assert!(page.contains("Entregada"));
    assert!(
        page.contains("data-show-when=\"status=returned\""),
        "the reason field is there to reveal"
    );

    // "Devuelta" without a reason: the server refuses, the form says why.
    let res = browser
        .post(
            "/orders/ORD-000001/status",
            &[
                ("version", "5"),
                ("status", "returned"),
                ("return_reason", ""),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("Indica la razón de la devolución"));

    let res = browser
        .post(
            "/orders/ORD-000001/status",
            &[
                ("version", "5"),
                ("status", "returned"),
                ("return_code", "damaged"),
                ("return_reason", "Caja aplastada"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);

    let returns = browser.get("/orders/returns").await;
    returns.assert_status(StatusCode::OK);
    let html = returns.text();
    assert!(
        html.contains("ORD-000001")
            && html.contains("Caja aplastada")
            && html.contains("Producto dañado"),
        "{html}"
    );

    // The list shows client names and filters by status.
    let list = browser.get("/orders?status=returned").await.text();
    assert!(list.contains("Ferretería Central") && list.contains("Devuelta"));
    let list = browser.get("/orders?status=picking").await.text();
    assert!(list.contains("Ninguna orden coincide"));
    // The client's page links its orders (autoescaping writes `/` as
    // `&#x2f;`, which browsers read back as `/`).
    let detail = browser.get(&format!("/clients/{client_id}")).await.text();
    assert!(
        detail.contains(&format!("href=\"&#x2f;orders?client_id={client_id}\"")),
        "{detail}"
    );
    let _ = admin;
}

#[tokio::test]
async fn a_refused_move_from_the_page_names_the_allowed_states() {
    let (app, admin, client_id) = setup().await;
    admin
        .post_json("/api/orders", &an_order(&client_id))
        .await
        .assert_status(StatusCode::CREATED);
    let browser = app.admin_browser().await;
    let res = browser
        .post("/orders/ORD-000001/status", &[("status", "delivered")])
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .contains("No se puede pasar de «received» a «delivered»"),
        "{}",
        res.text()
    );
    let _ = json!({});
}

#[tokio::test]
async fn order_pages_render() {
    let (_app, admin, client_id) = setup().await;
    admin.post_json("/api/orders", &an_order(&client_id)).await;
    for path in [
        "/orders",
        "/orders/new",
        "/orders/returns",
        "/orders/ORD-000001",
        "/orders/ORD-000001/edit",
        "/orders?q=ferre",
    ] {
        let res = admin.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
    }
    let empty = admin.get("/orders/returns").await.text();
    assert!(empty.contains("No hay devoluciones."));
    admin
        .get("/orders/NOPE")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_unreadable_quantity_on_the_order_form_is_named_not_taken_as_zero() {
    let (app, admin, client_id) = setup().await;
    let browser = app.admin_browser().await;
    let res = browser
        .post(
            "/orders",
            &[
                ("client_id", &client_id),
                ("sku_0", "CAJ-01"),
                ("description_0", "Caja chica"),
                ("quantity_0", "3"),
                ("sku_1", "CAJ-02"),
                ("description_1", "Caja grande"),
                ("quantity_1", "tres"),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("Línea 2: La cantidad debe ser un número entero"),
        "the second line's quantity is named: {html}"
    );
    assert!(html.contains("value=\"tres\""), "what was typed is kept");
    let orders = admin.get("/api/orders").await.json();
    assert_eq!(orders["items"], json!([]), "nothing was created");
}
