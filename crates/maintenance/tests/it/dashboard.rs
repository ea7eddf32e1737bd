use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::json;

use crate::{a_machine, create_machine, record, setup};

#[tokio::test]
async fn the_dashboard_counts_status_work_cost_and_failures() {
    let (app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-600")).await;
    let mut down = a_machine("MAQ-601");
    down["status"] = json!("out_of_service");
    down["lab"] = json!("Planta Piloto");
    create_machine(&admin, &down).await;
    let at = |days: i64| (Utc::now() - Duration::days(days)).to_rfc3339();
    for (days, minutes) in [(40, 120), (10, 60)] {
        record(
            &admin,
            "MAQ-601",
            &json!({"kind": "corrective", "description": "Cambio de motor", "duration_minutes": minutes,
                    "cost_clp": 50000, "performed_at": at(days)}),
        )
        .await;
    }
    record(&admin, "MAQ-600", &json!({"kind": "preventive", "description": "Limpieza", "cost_clp": 10000, "performed_at": at(1)})).await;
    // Older than the twelve months: not counted.
    record(&admin, "MAQ-600", &json!({"kind": "preventive", "description": "Limpieza", "cost_clp": 7000, "performed_at": at(400)})).await;

    let d = admin.get("/api/maintenance/dashboard").await.json();
    assert_eq!(d["by_status"]["operational"], 1, "{d}");
    assert_eq!(d["by_status"]["out_of_service"], 1);
    let months = d["per_month"].as_array().unwrap();
    assert_eq!(months.len(), 12, "the last twelve months: {months:?}");
    let total: u64 = months.iter().map(|m| m["records"].as_u64().unwrap()).sum();
    assert_eq!(total, 3);
    let cost: i64 = months.iter().map(|m| m["cost_clp"].as_i64().unwrap()).sum();
    assert_eq!(cost, 110000);
    // Each in the month it was done in, Santiago time.
    let month_of = |days: i64| {
        (Utc::now() - Duration::days(days))
            .with_timezone(&chrono_tz::America::Santiago)
            .format("%Y-%m")
            .to_string()
    };
    let mut expected = std::collections::BTreeMap::<String, (u64, i64)>::new();
    for (days, cost) in [(40, 50000), (10, 50000), (1, 10000)] {
        let e = expected.entry(month_of(days)).or_default();
        e.0 += 1;
        e.1 += cost;
    }
    for m in months {
        let (n, c) = expected
            .get(m["month"].as_str().unwrap())
            .copied()
            .unwrap_or_default();
        assert_eq!(
            (
                m["records"].as_u64().unwrap(),
                m["cost_clp"].as_i64().unwrap()
            ),
            (n, c),
            "{m}"
        );
    }
    assert_eq!(months[11]["month"], month_of(0), "this month last");
    let pilot = d["per_lab"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lab"] == "Planta Piloto")
        .unwrap()
        .clone();
    assert_eq!(pilot["records"], 2);
    let r = &d["reliability"][0];
    assert_eq!(r["code"], "MAQ-601");
    assert_eq!(r["failures"], 2);
    assert_eq!(r["mttr_minutes"], 90.0);
    assert!(
        r["mtbf_days"].as_f64().unwrap() > 100.0,
        "about a year over two failures: {r}"
    );

    let browser = app.browser_for("viewer").await;
    let html = browser.get("/maintenance/dashboard").await;
    html.assert_status(StatusCode::OK);
    let html = html.text();
    assert!(html.contains("Panel de mantención"), "{html}");
    assert_eq!(html.matches("<svg").count(), 2, "two server-drawn charts");
    assert!(html.contains("Tiempo medio de reparación"), "{html}");
    assert!(html.contains(">90.0<"), "MTTR shown: {html}");
}

/// The dashboard's sums are kept between reads and dropped by the next
/// maintenance event: at once on the replica where the work was recorded,
/// and on another as soon as the event reaches it.
#[tokio::test]
async fn the_dashboard_is_kept_until_work_is_recorded_on_any_replica() {
    use faena_maintenance::machines::store as machines;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

    let (app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-610")).await;
    let worked = |d: &serde_json::Value| -> u64 {
        d["per_month"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["records"].as_u64().unwrap())
            .sum()
    };
    let d = admin.get("/api/maintenance/dashboard").await.json();
    assert_eq!(d["by_status"]["operational"], 1);

    // A change that announces nothing (straight to the database) is not
    // seen: the figures come from the cache.
    machines::Entity::update_many()
        .col_expr(machines::Column::Status, Expr::value("out_of_service"))
        .filter(machines::Column::Code.eq("MAQ-610"))
        .exec(app.state.db())
        .await
        .unwrap();
    let d = admin.get("/api/maintenance/dashboard").await.json();
    assert_eq!(d["by_status"]["operational"], 1, "kept: {d}");
    let metrics = admin.get("/metrics").await.text();
    assert!(
        metrics.contains("faena_cache_hits_total{topic=\"maintenance\"}"),
        "{metrics}"
    );

    // Work recorded here: the next read sums again.
    record(
        &admin,
        "MAQ-610",
        &json!({"kind": "inspection", "description": "Revisión"}),
    )
    .await;
    let d = admin.get("/api/maintenance/dashboard").await.json();
    assert_eq!(worked(&d), 1, "{d}");
    assert_eq!(d["by_status"]["out_of_service"], 1, "{d}");

    // Another replica (its events cross on the database's or Redis's bus).
    if app.db_kind() != faena_platform::db::DbKind::Postgres {
        return;
    }
    let replica = app.replica().await;
    let there = replica.admin().await;
    assert_eq!(
        worked(&there.get("/api/maintenance/dashboard").await.json()),
        1
    );
    record(
        &admin,
        "MAQ-610",
        &json!({"kind": "inspection", "description": "Segunda revisión"}),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let n = worked(&there.get("/api/maintenance/dashboard").await.json());
        if n == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other replica still shows {n} after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
