use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use faena_maintenance::plans::service::run_due;
use faena_maintenance::plans::store::work_order;
use faena_platform::realtime::Signal;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{a_machine, create_machine, setup};

fn today() -> chrono::NaiveDate {
    faena_platform::ui::today(chrono_tz::America::Santiago)
}

fn quarterly(first_due: chrono::NaiveDate) -> Value {
    json!({
        "title": "Mantención preventiva trimestral",
        "kind": "preventive",
        "interval_count": 3,
        "interval_unit": "months",
        "lead_days": 7,
        "first_due_on": first_due.to_string(),
        "checklist": [
            {"key": "sellos", "label": "Sellos en buen estado", "kind": "check"},
            {"key": "vibracion", "label": "Vibración", "kind": "number", "unit": "mm/s", "min": 0, "max": 4.5},
            {"key": "nota", "label": "Observación", "kind": "text", "required": false},
        ],
    })
}

/// Mail to `to` in the outbox, by subject.
async fn mail_to(admin: &faena_testkit::Client, to: &str) -> Vec<String> {
    let mail = admin.get("/api/mail?limit=100").await.json();
    mail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["to"].as_array().unwrap().iter().any(|t| t == to))
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_plan_opens_its_work_once_reminds_then_warns_and_is_closed_by_the_record() {
    let (app, admin) = setup().await;
    let manager_email = app.create_user("manager").await;
    let users = admin.get("/api/users?role=manager").await.json();
    let manager_id = users["items"][0]["id"].clone();
    let mut m = a_machine("MAQ-300");
    m["responsible_id"] = manager_id;
    create_machine(&admin, &m).await;

    // Bad plans are each refused naming the field.
    let mut zero = quarterly(today() + Duration::days(3));
    zero["interval_count"] = json!(0);
    let res = admin.post_json("/api/machines/MAQ-300/plans", &zero).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "interval_count");
    let mut corrective = quarterly(today() + Duration::days(3));
    corrective["kind"] = json!("corrective");
    let res = admin
        .post_json("/api/machines/MAQ-300/plans", &corrective)
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "kind");

    let res = admin
        .post_json(
            "/api/machines/MAQ-300/plans",
            &quarterly(today() + Duration::days(10)),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let plan = res.json();
    assert_eq!(
        plan["next_due_on"],
        (today() + Duration::days(10)).to_string()
    );

    // Not yet within its lead time (7 days): nothing opens.
    assert!(admin.get("/api/maintenance/work-orders").await.json()[0].is_null());
    let before = run_due(&app.state, today()).await.unwrap();
    assert_eq!(before.opened, 0);

    // Three days on, two workers run the schedule at once: one work
    // order, one reminder.
    let mut events = app.state.realtime().subscribe(None);
    let later = today() + Duration::days(3);
    let (a, b) = tokio::join!(run_due(&app.state, later), run_due(&app.state, later));
    assert_eq!(a.unwrap().opened + b.unwrap().opened, 1);
    let work = admin.get("/api/maintenance/work-orders").await.json();
    let work = work.as_array().unwrap();
    assert_eq!(work.len(), 1, "{work:?}");
    assert_eq!(work[0]["machine_code"], "MAQ-300");
    assert_eq!(work[0]["overdue"], false);
    let reminders = mail_to(&admin, &manager_email).await;
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(
        reminders[0].starts_with("Mantención próxima: MAQ-300"),
        "{reminders:?}"
    );
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Some(Signal::Event(e)) = events.next().await
                && e.kind == "work_order.created"
            {
                return e;
            }
        }
    })
    .await
    .expect("a work_order.created event");
    assert_eq!(event.topic, "maintenance");
    let m = admin.get("/api/machines/MAQ-300").await.json();
    assert_eq!(m["due_state"], "due_soon");

    // Past its day it is overdue: one notice, however often the schedule runs.
    let order_id = work[0]["id"].as_str().unwrap().to_owned();
    work_order::Entity::update_many()
        .col_expr(
            work_order::Column::DueOn,
            Expr::value(today() - Duration::days(2)),
        )
        .filter(work_order::Column::Id.eq(uuid::Uuid::parse_str(&order_id).unwrap()))
        .exec(app.state.db())
        .await
        .unwrap();
    let (a, b) = tokio::join!(run_due(&app.state, today()), run_due(&app.state, today()));
    assert_eq!(a.unwrap().overdue_notices + b.unwrap().overdue_notices, 1);
    run_due(&app.state, today()).await.unwrap();
    let mails = mail_to(&admin, &manager_email).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(
        mails
            .iter()
            .any(|s| s.starts_with("Mantención atrasada: MAQ-300")),
        "{mails:?}"
    );
    let m = admin.get("/api/machines/MAQ-300").await.json();
    assert_eq!(m["due_state"], "overdue");
    let overdue = admin.get("/api/machines?due=overdue").await.json();
    assert_eq!(overdue["items"][0]["code"], "MAQ-300");
    assert_eq!(
        admin.get("/api/machines?due=ok").await.json()["items"],
        json!([])
    );

    // The record answers the checklist: a missing or wrong answer is named.
    let mut body = json!({
        "kind": "preventive",
        "description": "Mantención trimestral",
        "work_order": order_id,
        "checklist": {"vibracion": 7.2},
    });
    let res = admin
        .post_json("/api/machines/MAQ-300/maintenance", &body)
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let errors: Vec<(String, String)> = res.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors[0],
        (
            "checklist.sellos".into(),
            "Falta responder «Sellos en buen estado»".into()
        )
    );
    assert_eq!(errors[1].0, "checklist.vibracion");
    assert!(errors[1].1.contains("entre 0 y 4.5"), "{errors:?}");
    assert_eq!(
        admin.get("/api/maintenance").await.json()["items"],
        json!([]),
        "nothing written"
    );
    body["checklist"] = json!({"sellos": true, "vibracion": 2.8});
    let res = admin
        .post_json("/api/machines/MAQ-300/maintenance", &body)
        .await;
    res.assert_status(StatusCode::CREATED);
    let record = res.json();
    assert_eq!(record["work_order"], order_id.as_str());
    assert_eq!(record["checklist"]["sellos"], true);
    assert!(
        admin
            .get("/api/maintenance/work-orders")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let plan = admin
        .get(&format!(
            "/api/maintenance/plans/{}",
            plan["id"].as_str().unwrap()
        ))
        .await
        .json();
    let performed = chrono::DateTime::parse_from_rfc3339(record["performed_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
        .date_naive();
    assert_eq!(
        plan["next_due_on"],
        performed
            .checked_add_months(chrono::Months::new(3))
            .unwrap()
            .to_string(),
        "three months after the work"
    );
    assert_eq!(
        admin.get("/api/machines/MAQ-300").await.json()["due_state"],
        "ok"
    );
    // A closed order is not closed twice.
    let res = admin
        .post_json("/api/machines/MAQ-300/maintenance", &body)
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "work_order");
}

#[tokio::test]
async fn a_meter_plan_falls_due_with_its_readings_which_never_go_down() {
    let (app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-310")).await;
    let technician = app.client_for("technician").await;
    let res = admin
        .post_json(
            "/api/machines/MAQ-310/plans",
            &json!({"title": "Cambio de aceite", "kind": "preventive", "meter": "horas", "meter_every": 500}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["next_due_reading"], 500);
    // A technician may read plans but not make them.
    technician
        .post_json(
            "/api/machines/MAQ-310/plans",
            &json!({"title": "x", "kind": "preventive", "meter": "horas", "meter_every": 5}),
        )
        .await
        .assert_status(StatusCode::FORBIDDEN);
    technician
        .get("/api/maintenance/plans?machine=MAQ-310")
        .await
        .assert_status(StatusCode::OK);

    let read = |value: i64| json!({"meter": "horas", "value": value});
    technician
        .post_json("/api/machines/MAQ-310/meter-readings", &read(120))
        .await
        .assert_status(StatusCode::CREATED);
    assert!(
        admin
            .get("/api/maintenance/work-orders")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let res = technician
        .post_json("/api/machines/MAQ-310/meter-readings", &read(90))
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "value");
    assert_eq!(
        res.json()["errors"][0]["message"],
        "La lectura no puede ser menor que la última (120)"
    );
    technician
        .post_json("/api/machines/MAQ-310/meter-readings", &read(515))
        .await
        .assert_status(StatusCode::CREATED);
    let work = admin
        .get("/api/maintenance/work-orders?machine=maq-310")
        .await
        .json();
    let work = work.as_array().unwrap();
    assert_eq!(work.len(), 1, "{work:?}");
    assert_eq!(work[0]["title"], "Cambio de aceite");
    assert_eq!(work[0]["due_on"], today().to_string());
    // A second reading past the mark does not open a second order.
    technician
        .post_json("/api/machines/MAQ-310/meter-readings", &read(530))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(
        admin
            .get("/api/maintenance/work-orders")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let readings = admin
        .get("/api/machines/MAQ-310/meter-readings")
        .await
        .json();
    assert_eq!(readings[0]["value"], 530);

    // The work done moves the plan 500 hours on from the last reading.
    let order = work[0]["id"].clone();
    let res = technician
        .post_json(
            "/api/machines/MAQ-310/maintenance",
            &json!({"kind": "preventive", "description": "Cambio de aceite y filtro", "work_order": order}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let plans = admin
        .get("/api/maintenance/plans?machine=MAQ-310")
        .await
        .json();
    assert_eq!(plans[0]["next_due_reading"], 1030);
    let _ = Method::GET;
}

#[tokio::test]
async fn work_is_planned_and_recorded_from_the_pages() {
    let (app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-320")).await;
    let manager = app.browser_for("manager").await;
    let res = manager
        .post(
            "/machines/MAQ-320/plans",
            &[
                ("title", "Calibración semestral"),
                ("kind", "calibration"),
                ("trigger", "calendar"),
                ("interval_count", "6"),
                ("interval_unit", "months"),
                ("lead_days", "30"),
                ("first_due_on", &(today() + Duration::days(10)).to_string()),
                ("item_label_0", "Peso patrón 100 g"),
                ("item_kind_0", "number"),
                ("item_unit_0", "g"),
                ("item_min_0", "99,98"),
                ("item_max_0", "100,02"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let html = manager.get("/machines/MAQ-320").await.text();
    assert!(html.contains("Calibración semestral"), "{html}");
    assert!(html.contains("cada 6 meses"), "{html}");

    // Due within its lead time: its work is open at once, before the
    // schedule's next run.
    let html = manager.get("/maintenance/work").await.text();
    assert!(html.contains("MAQ-320"), "{html}");
    assert!(html.contains("Próximo"), "{html}");
    let order = admin.get("/api/maintenance/work-orders").await.json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = manager
        .get(&format!(
            "/machines/MAQ-320/maintenance/new?work_order={order}"
        ))
        .await
        .text();
    assert!(
        form.contains("Peso patrón 100 g (g) · 99.98–100.02"),
        "{form}"
    );
    let res = manager
        .post(
            "/machines/MAQ-320/maintenance",
            &[
                ("kind", "calibration"),
                ("description", "Calibración con pesas E2"),
                ("work_order", &order),
                ("check_peso_patron_100_g", "100,05"),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .contains("«Peso patrón 100 g» debe estar entre 99.98 y 100.02")
    );
    let res = manager
        .post(
            "/machines/MAQ-320/maintenance",
            &[
                ("kind", "calibration"),
                ("description", "Calibración con pesas E2"),
                ("work_order", &order),
                ("check_peso_patron_100_g", "100,01"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert!(
        manager
            .get("/maintenance/work")
            .await
            .text()
            .contains("No hay trabajo pendiente.")
    );

    // A reading that goes down is refused on the machine's page.
    manager
        .post(
            "/machines/MAQ-320/meter-readings",
            &[("meter", "ciclos"), ("value", "40")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let res = manager
        .post(
            "/machines/MAQ-320/meter-readings",
            &[("meter", "ciclos"), ("value", "12")],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .contains("La lectura no puede ser menor que la última (40)")
    );
}
