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
        form.text()
            .contains("data-choices=\"/orders/client-choices\""),
        "the client picker searches as one types: {}",
        form.text()
    );
    let choices = browser.get("/orders/client-choices?q=ferreteria").await;
    choices.assert_status(StatusCode::OK);
    assert_eq!(
        choices.json(),
        json!([{"id": client_id, "name": "Ferretería Central"}]),
        "accents need not be typed"
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

    // The next steps are buttons: the flow's own, and cancelling.
    let page = browser.get("/orders/ORD-000001").await.text();
    assert!(
        page.contains(">Comenzar preparación</button>")
            && page.contains(">Cancelar orden</button>")
            && !page.contains(">Despachar</button>"),
        "only the allowed steps are offered: {page}"
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
        page.contains(">Registrar devolución</summary>")
            && page.contains("name=\"return_reason\" rows=\"2\" required"),
        "the return form, with its required reason, is there to open: {page}"
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
            .contains("No se puede pasar de «Recibida» a «Entregada». Estados permitidos desde «Recibida»: En preparación, Cancelada"),
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

    // The audit page says what happened, naming and linking the record.
    let audit = admin.get("/admin/audit").await.text();
    assert!(
        audit.contains("<a href=\"&#x2f;orders&#x2f;ORD-000001\">creó la orden ORD-000001</a>"),
        "{audit}"
    );
    assert!(
        audit.contains("creó el cliente Ferretería Central</a>"),
        "{audit}"
    );
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

#[tokio::test]
async fn cancelling_from_the_page_asks_first() {
    let (app, admin, client_id) = setup().await;
    admin
        .post_json("/api/orders", &an_order(&client_id))
        .await
        .assert_status(StatusCode::CREATED);
    let browser = app.admin_browser().await;
    let status = || async {
        admin.get("/api/orders/ORD-000001").await.json()["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // Without JavaScript the first post answers the question, and nothing
    // is cancelled yet.
    let res = browser
        .post(
            "/orders/ORD-000001/status",
            &[("version", "1"), ("status", "cancelled")],
        )
        .await;
    res.assert_status(StatusCode::OK);
    let html = res.text();
    assert!(html.contains("¿Cancelar la orden ORD-000001?"), "{html}");
    assert!(html.contains("name=\"confirm\" value=\"yes\""), "{html}");
    assert_eq!(status().await, "received");

    let res = browser
        .post(
            "/orders/ORD-000001/status",
            &[
                ("version", "1"),
                ("status", "cancelled"),
                ("confirm", "yes"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(status().await, "cancelled");
}

#[tokio::test]
async fn the_list_counts_sorts_pages_and_keeps_its_filters() {
    let (app, admin, client_id) = setup().await;
    for _ in 0..30 {
        admin
            .post_json("/api/orders", &an_order(&client_id))
            .await
            .assert_status(StatusCode::CREATED);
    }
    admin
        .send_json(
            axum::http::Method::PUT,
            "/api/orders/ORD-000007",
            &json!({"status": "picking"}),
        )
        .await
        .assert_status(StatusCode::OK);
    let browser = app.admin_browser().await;
    let numbers = |html: &str| -> Vec<String> {
        html.match_indices("href=\"/orders/ORD-")
            .map(|(i, _)| html[i + 14..i + 24].to_owned())
            .collect()
    };

    // Newest first, 25 to a page, the total told.
    let first = browser.get("/orders").await.text();
    assert!(first.contains("Mostrando 1–25 de 30"), "{first}");
    let shown = numbers(&first);
    assert_eq!(shown.len(), 25);
    assert_eq!(shown[0], "ORD-000030");
    assert!(first.contains("aria-label=\"Página 2\""), "{first}");
    assert!(first.contains("aria-sort=\"descending\""), "{first}");

    let second = browser.get("/orders?page=2").await.text();
    assert!(second.contains("Mostrando 26–30 de 30"), "{second}");
    assert_eq!(
        numbers(&second).last().map(String::as_str),
        Some("ORD-000001")
    );

    // Sorted by number, ascending, then the other way.
    let by_number = browser.get("/orders?sort=number&dir=asc").await.text();
    assert_eq!(numbers(&by_number)[0], "ORD-000001");
    assert!(
        by_number.contains("sort=number&amp;dir=desc"),
        "the header turns the order"
    );

    // By status, in the order of the flow: the one in picking after all
    // the received ones.
    let by_status = browser
        .get("/orders?sort=status&dir=desc&per_page=50")
        .await
        .text();
    assert_eq!(numbers(&by_status)[0], "ORD-000007");

    // A filter stays in every link: the pages, the headers and the CSV.
    let filtered = browser.get("/orders?status=received&q=tor").await.text();
    assert!(filtered.contains("Mostrando 1–25 de 29"), "{filtered}");
    assert!(
        filtered.contains("&#x2f;api&#x2f;orders&#x2f;export.csv?status=received&amp;q=tor"),
        "{filtered}"
    );
    assert!(
        filtered.contains("status=received&amp;q=tor&amp;page=2"),
        "{filtered}"
    );
    let csv = browser
        .get("/api/orders/export.csv?status=received&q=tor&sort=number&dir=asc")
        .await
        .text();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 29);
    assert!(rows[0].starts_with("ORD-000001;"), "{}", rows[0]);

    // What cannot be meant is named.
    let res = browser.get("/orders?sort=password").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("sort"), "{}", res.text());
    // A page past the end shows the last one.
    let past = browser.get("/orders?page=9").await.text();
    assert!(past.contains("Mostrando 26–30 de 30"), "{past}");
}

#[tokio::test]
async fn the_order_form_edits_its_rows_finds_the_client_by_name_and_names_every_error() {
    let (app, admin, _client_id) = setup().await;
    crate::a_client(&admin, "Ferretería Sur").await;
    crate::a_client(&admin, "Comercial Álamos").await;
    let browser = app.admin_browser().await;

    // Without JavaScript, "Agregar línea" and "Quitar" only edit the rows.
    let typed = [
        ("client_name", "alamos"),
        ("sku_0", "CAJ-01"),
        ("description_0", "Caja chica"),
        ("quantity_0", "3"),
        ("sku_1", "CAJ-02"),
        ("description_1", "Caja grande"),
        ("quantity_1", "1"),
    ];
    let mut add = typed.to_vec();
    add.push(("add_line", "1"));
    let res = browser.post("/orders", &add).await;
    res.assert_status(StatusCode::OK);
    let html = res.text();
    assert!(
        html.contains("name=\"sku_2\" value=\"\""),
        "a blank third row: {html}"
    );
    assert!(html.contains("value=\"CAJ-02\""), "what was typed stays");
    let mut remove = typed.to_vec();
    remove.push(("remove_line", "0"));
    let html = browser.post("/orders", &remove).await.text();
    assert!(
        !html.contains("value=\"CAJ-01\"") && html.contains("name=\"sku_0\" value=\"CAJ-02\""),
        "{html}"
    );
    assert_eq!(
        admin.get("/api/orders").await.json()["items"],
        json!([]),
        "nothing saved"
    );

    // The client typed by name (no accent) is found: one match.
    let res = browser.post("/orders", &typed).await;
    res.assert_status(StatusCode::SEE_OTHER);
    let order = admin.get("/api/orders/ORD-000001").await.json();
    assert_eq!(order["client_name"], "Comercial Álamos");
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);

    // Several matches: the form offers them to choose from.
    let res = browser
        .post(
            "/orders",
            &[
                ("client_name", "ferreteria"),
                ("sku_0", "A"),
                ("quantity_0", "1"),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("Varios clientes coinciden"), "{html}");
    assert!(
        html.contains("type=\"radio\" name=\"client_id\"")
            && html.contains("Ferretería Sur")
            && html.contains("Ferretería Central"),
        "{html}"
    );

    // Every error named in the summary, linked to its field, which is
    // marked invalid.
    let res = browser
        .post(
            "/orders",
            &[("client_name", ""), ("sku_0", "A"), ("quantity_0", "dos")],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("Revisa 2 campos:"), "{html}");
    assert!(html.contains("El campo Cliente es obligatorio"), "{html}");
    assert!(html.contains("href=\"#quantity_0\""), "{html}");
    assert!(html.contains("href=\"#client_id\""), "{html}");
    assert!(
        html.contains("aria-invalid=\"true\" aria-describedby=\"lines[0].quantity-error\""),
        "{html}"
    );
    assert!(
        html.contains("data-focus-on-load"),
        "the summary takes the focus"
    );
    assert!(!html.contains("Faena None"), "the footer keeps the version");

    // A page that is not there still shows who is signed in.
    let missing = browser.get("/orders/ORD-999999").await;
    missing.assert_status(StatusCode::NOT_FOUND);
    let html = missing.text();
    assert!(
        html.contains("action=\"/logout\"") && html.contains("/admin/users"),
        "{html}"
    );
}

#[tokio::test]
async fn a_partial_return_from_the_page() {
    let (app, admin, client_id) = setup().await;
    admin
        .post_json("/api/orders", &an_order(&client_id))
        .await
        .assert_status(StatusCode::CREATED);
    for s in ["picking", "packing", "shipped", "delivered"] {
        admin
            .send_json(
                axum::http::Method::PUT,
                "/api/orders/ORD-000001",
                &json!({"status": s}),
            )
            .await
            .assert_status(StatusCode::OK);
    }
    let browser = app.admin_browser().await;
    let page = browser.get("/orders/ORD-000001").await.text();
    assert!(
        page.contains("name=\"return_qty_1\" type=\"number\" min=\"0\" max=\"100\" value=\"100\""),
        "each line's units, all of them by default: {page}"
    );
    let res = browser
        .post(
            "/orders/ORD-000001/status",
            &[
                ("version", "5"),
                ("status", "returned"),
                ("return_code", "damaged"),
                ("return_reason", "Tuercas oxidadas"),
                ("return_sku_0", "TOR-M8"),
                ("return_qty_0", "0"),
                ("return_sku_1", "TUE-M8"),
                ("return_qty_1", "12"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let order = admin.get("/api/orders/ORD-000001").await.json();
    assert_eq!(order["lines"][0]["returned"], 0);
    assert_eq!(order["lines"][1]["returned"], 12);
    let returns = browser.get("/orders/returns").await.text();
    assert!(
        returns.contains("12 de 200 unidades devueltas"),
        "{returns}"
    );
}

#[tokio::test]
async fn the_list_sorts_by_client_name_in_spanish_order() {
    let (app, admin, ferreteria) = setup().await;
    let zuniga = crate::a_client(&admin, "Zúñiga Hermanos").await;
    let alvarez = crate::a_client(&admin, "Álvarez y Cía.").await;
    // Created in the order Zúñiga, Ferretería, Álvarez: ORD-1, 2, 3.
    for client in [&zuniga, &ferreteria, &alvarez] {
        admin
            .post_json("/api/orders", &an_order(client))
            .await
            .assert_status(StatusCode::CREATED);
    }
    let browser = app.admin_browser().await;
    let at = |page: &str, number: &str| {
        page.find(&format!("href=\"/orders/{number}\""))
            .unwrap_or_else(|| panic!("{number}: {page}"))
    };
    // "Álvarez" with the A's (byte order would put it after "Zúñiga").
    let asc = browser.get("/orders?sort=client&dir=asc").await.text();
    assert!(at(&asc, "ORD-000003") < at(&asc, "ORD-000002"), "{asc}");
    assert!(at(&asc, "ORD-000002") < at(&asc, "ORD-000001"), "{asc}");
    assert!(asc.contains("aria-sort=\"ascending\""), "{asc}");
    let desc = browser.get("/orders?sort=client&dir=desc").await.text();
    assert!(at(&desc, "ORD-000001") < at(&desc, "ORD-000003"), "{desc}");
}
