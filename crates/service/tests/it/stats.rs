//! `/api/service/stats`, its CSV and page: figures on known data, with
//! the history's times set directly in the database.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use faena_service::orders::store::history;
use faena_testkit::{Client, TestApp};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::{an_intake, intake, put, setup, walk};

async fn take_in(app: &TestApp, admin: &Client, client_id: &str) -> (String, String) {
    let v = intake(admin, client_id).await;
    let number = v["number"].as_str().unwrap().to_owned();
    let id = faena_service::orders::store::order::Entity::find()
        .filter(faena_service::orders::store::order::Column::Number.eq(&number))
        .one(app.state.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    (number, id.to_string())
}

/// Sets when `id` entered each status: `(status, hours after base)`.
async fn backdate(app: &TestApp, id: &str, base: DateTime<Utc>, times: &[(&str, i64)]) {
    let id: uuid::Uuid = id.parse().unwrap();
    for (status, hours) in times {
        let n = history::Entity::update_many()
            .col_expr(
                history::Column::At,
                Expr::value(base + Duration::hours(*hours)),
            )
            .filter(history::Column::OrderId.eq(id))
            .filter(history::Column::ToStatus.eq(*status))
            .exec(app.state.db())
            .await
            .unwrap()
            .rows_affected;
        assert_eq!(n, 1, "{status}");
    }
}

#[tokio::test]
async fn statistics_on_known_data() {
    let (app, admin, client_id) = setup().await;
    let ana = app.client_for("technician").await;
    let luis = app.client_for("technician").await;
    let base = Utc::now() - Duration::days(3);

    // A: Ana's, 10 000 + IVA, delivered.
    let (a, a_id) = take_in(&app, &admin, &client_id).await;
    ana.post_json(&format!("/api/service-orders/{a}/take"), &json!({}))
        .await
        .assert_status(StatusCode::OK);
    put(
        &admin,
        &format!("/api/service-orders/{a}/lines"),
        &json!({"lines": [{"kind": "labour", "description": "Mano de obra", "quantity": 1, "unit_price_clp": 10000}]}),
    )
    .await
    .assert_status(StatusCode::OK);
    walk(&admin, &a, "delivered").await;
    backdate(
        &app,
        &a_id,
        base,
        &[
            ("received", 0),
            ("diagnosing", 2),
            ("awaiting_approval", 5),
            ("approved", 6),
            ("in_repair", 8),
            ("ready", 12),
            ("delivered", 24),
        ],
    )
    .await;
    // B: Luis's, ready.
    let (b, b_id) = take_in(&app, &admin, &client_id).await;
    luis.post_json(&format!("/api/service-orders/{b}/take"), &json!({}))
        .await
        .assert_status(StatusCode::OK);
    walk(&admin, &b, "ready").await;
    backdate(
        &app,
        &b_id,
        base,
        &[
            ("received", 0),
            ("diagnosing", 4),
            ("awaiting_approval", 5),
            ("approved", 6),
            ("in_repair", 7),
            ("ready", 8),
        ],
    )
    .await;
    // C: the same IMEI again, unassigned.
    let (c, _) = take_in(&app, &admin, &client_id).await;
    // D: under A's warranty, another device.
    let mut claim = an_intake(&client_id);
    claim["warranty_of"] = json!(a);
    claim["serial"] = json!("OTRO-1");
    admin
        .post_json("/api/service-orders", &claim)
        .await
        .assert_status(StatusCode::CREATED);

    let manager = app.client_for("manager").await;
    let res = manager.get("/api/service/stats").await;
    res.assert_status(StatusCode::OK);
    let d = res.json();
    assert_eq!(d["by_status"]["delivered"], 1, "{d}");
    assert_eq!(d["by_status"]["ready"], 1);
    assert_eq!(d["by_status"]["received"], 2);
    assert_eq!(d["by_status"]["cancelled"], 0);
    assert_eq!(d["open"], 3);

    let stay = |s: &str| {
        d["turnaround"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["status"] == s)
            .map(|x| {
                (
                    x["orders"].as_u64().unwrap(),
                    x["average_hours"].as_f64().unwrap(),
                )
            })
    };
    assert_eq!(stay("received"), Some((2, 3.0)));
    assert_eq!(stay("diagnosing"), Some((2, 2.0)));
    assert_eq!(stay("awaiting_approval"), Some((2, 1.0)));
    assert_eq!(stay("approved"), Some((2, 1.5)));
    assert_eq!(stay("in_repair"), Some((2, 2.5)));
    assert_eq!(stay("ready"), Some((1, 12.0)));
    assert_eq!(stay("delivered"), None, "never left: {d}");

    let tech = |id: &str| {
        d["technicians"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .map(|x| {
                (
                    x["open_orders"].as_u64().unwrap(),
                    x["delivered"].as_u64().unwrap(),
                )
            })
    };
    let ana_id = crate::my_id(&ana).await;
    let luis_id = crate::my_id(&luis).await;
    assert_eq!(tech(&ana_id), Some((0, 1)));
    assert_eq!(tech(&luis_id), Some((1, 0)));

    let months = d["revenue"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    let total: i64 = months
        .iter()
        .map(|m| m["total_clp"].as_i64().unwrap())
        .sum();
    let delivered: u64 = months.iter().map(|m| m["orders"].as_u64().unwrap()).sum();
    assert_eq!((total, delivered), (11900, 1));

    assert_eq!(d["repeats"]["warranty"], 1);
    assert_eq!(d["repeats"]["same_serial"], 2);
    assert_eq!(d["repeats"]["same_serial_orders"], json!([b, c]));

    // A period before all of it: nothing moved, nothing delivered.
    let d = manager
        .get("/api/service/stats?from=2020-01-01&to=2020-01-31")
        .await
        .json();
    assert_eq!(d["turnaround"], json!([]), "{d}");
    assert_eq!(d["repeats"]["warranty"], 0);
    assert_eq!(d["by_status"]["delivered"], 1, "by status is now");

    // CSV.
    let res = manager.get("/api/service/stats.csv?delimiter=comma").await;
    res.assert_status(StatusCode::OK);
    assert!(
        res.content_type().starts_with("text/csv"),
        "{}",
        res.content_type()
    );
    let csv = res.text();
    assert!(csv.contains("status,delivered,Entregada,1,"), "{csv}");
    assert!(
        csv.contains("turnaround_hours,approved,Aprobada,1.5,2"),
        "{csv}"
    );
    assert!(csv.contains("repeats,warranty,"), "{csv}");

    // The page, with its charts drawn on the server.
    let page = app.admin_browser().await.get("/service/stats").await;
    page.assert_status(StatusCode::OK);
    let html = page.text();
    assert!(html.contains("<svg"), "{html}");
    assert!(html.contains(">1,5</td>"), "approved, 1.5 h: {html}");
    assert!(html.contains("$11.900"), "A's total: {html}");
}

#[tokio::test]
async fn statistics_permission_and_bad_periods() {
    let (app, _admin, _client_id) = setup().await;
    for role in ["manager", "receptionist", "viewer"] {
        app.client_for(role)
            .await
            .get("/api/service/stats")
            .await
            .assert_status(StatusCode::OK);
    }
    let tech = app.client_for("technician").await;
    tech.get("/api/service/stats")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    tech.get("/api/service/stats.csv")
        .await
        .assert_status(StatusCode::FORBIDDEN);

    let manager = app.client_for("manager").await;
    let res = manager.get("/api/service/stats?from=2026-13-01").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::fields(&res), ["from"]);
    let res = manager.get("/api/service/stats?to=-99999-1-1").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::fields(&res), ["to"]);
    let res = manager.get("/api/service/stats.csv?delimiter=tab").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::fields(&res), ["delimiter"]);
    let res = manager
        .get("/api/service/stats?from=2026-12-08&to=2026-12-01")
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.json()["errors"][0]["code"],
        "service_stats_from_after_to"
    );
    let page = app
        .admin_browser()
        .await
        .get("/service/stats?from=nope")
        .await;
    page.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
}
