//! The warehouse's panel on the home page, against known data: each
//! figure is what the list it links to shows.

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use faena_testkit::Client;
use faena_wms::orders::store::order;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::{an_order, setup};

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/").replace("&amp;", "&")
}

/// The value and link of the figure labelled `label`.
fn figure(html: &str, label: &str) -> (u64, String) {
    let end = html
        .find(&format!(">{label}</span>"))
        .unwrap_or_else(|| panic!("no figure {label}: {html}"));
    let start = html[..end].rfind("<a href=\"").unwrap() + 9;
    let href = &html[start..start + html[start..].find('"').unwrap()];
    let value_at = html[start..end].find("figure-value\">").unwrap() + start + 14;
    let value = &html[value_at..value_at + html[value_at..].find('<').unwrap()];
    (value.parse().unwrap(), unescape(href))
}

async fn total_of(browser: &Client, href: &str) -> u64 {
    let html = browser.get(href).await.text();
    let at = html
        .find("Mostrando ")
        .and_then(|m| html[m..].find(" de ").map(|i| m + i))
        .unwrap_or_else(|| panic!("{href} shows no count: {html}"));
    let digits: String = html[at + 4..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[tokio::test]
async fn the_home_page_shows_the_warehouse_day_and_links_each_figure_to_its_list() {
    let (app, admin, client_id) = setup().await;
    for _ in 0..4 {
        admin
            .post_json("/api/orders", &an_order(&client_id))
            .await
            .assert_status(StatusCode::CREATED);
    }
    let put = |number: &'static str, body: serde_json::Value| {
        let admin = admin.clone();
        async move {
            admin
                .send_json(Method::PUT, &format!("/api/orders/{number}"), &body)
                .await
                .assert_status(StatusCode::OK);
        }
    };
    put("ORD-000002", json!({"status": "picking"})).await;
    for s in ["picking", "packing", "shipped", "delivered"] {
        put("ORD-000003", json!({"status": s})).await;
    }
    put(
        "ORD-000003",
        json!({"status": "returned", "return_code": "damaged", "return_reason": "Caja rota"}),
    )
    .await;
    // ORD-000001 has waited five days in the warehouse: late.
    let five_days_ago = Utc::now() - Duration::days(5);
    order::Entity::update_many()
        .col_expr(order::Column::CreatedAt, Expr::value(five_days_ago))
        .filter(order::Column::Number.eq("ORD-000001"))
        .exec(app.state.db())
        .await
        .unwrap();

    let html = admin.get("/").await.text();
    assert!(html.contains(">Bodega</h2>"), "{html}");
    assert!(
        html.contains(
            "Faena reúne la operación de tu empresa: clientes, órdenes, máquinas y servicio técnico."
        ),
        "the home names what is installed: {html}"
    );
    assert!(
        !html.contains("viajes") && !html.contains("exportaciones"),
        "nothing that is not installed"
    );

    let received = figure(&html, "Recibida");
    let picking = figure(&html, "En preparación");
    let late = figure(&html, "Atrasadas (más de 2 días)");
    let today = figure(&html, "Creadas hoy");
    let returns = figure(&html, "Devoluciones (7 días)");
    assert_eq!(received.0, 2);
    assert_eq!(picking.0, 1);
    assert_eq!(late.0, 1);
    assert_eq!(today.0, 3);
    assert_eq!(returns.0, 1);
    assert!(html.contains("Producto dañado: 1"), "{html}");
    assert!(html.contains("ORD-000003 pasó a Devuelta"), "{html}");

    // Each figure is what its list counts.
    for (name, (value, href)) in [
        ("received", &received),
        ("picking", &picking),
        ("late", &late),
        ("today", &today),
    ] {
        assert_eq!(total_of(&admin, href).await, *value, "{name}: {href}");
    }
    let late_list = admin.get(&late.1).await.text();
    assert!(late_list.contains("ORD-000001"), "{late_list}");
    let returns_page = admin.get(&returns.1).await.text();
    assert!(returns_page.contains("ORD-000003"));

    // The chart: 30 bars, today's with its three orders, five days ago one.
    let zone = app.state.time_zone();
    let day = |d: chrono::DateTime<Utc>| d.with_timezone(&zone).format("%d-%m").to_string();
    assert_eq!(html.matches("<rect x=").count(), 30, "{html}");
    assert!(
        html.contains(&format!("<title>{}: 3</title>", day(Utc::now()))),
        "{html}"
    );
    assert!(html.contains(&format!("<title>{}: 1</title>", day(five_days_ago))));

    // Someone who may not read orders sees no warehouse panel.
    let receptionist = app.client_for("receptionist").await;
    let theirs = receptionist.get("/").await.text();
    assert!(!theirs.contains(">Bodega</h2>"), "{theirs}");
    assert!(!theirs.contains("figure-value"), "{theirs}");
}
