//! The pages, as each role sees them: the actions offered, intake through
//! the form, the scanner's search, the queue and the technicians.

use axum::http::StatusCode;
use serde_json::json;

use crate::{intake, my_id, setup};

fn number_of(v: &serde_json::Value) -> String {
    v["number"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_role_sees_only_the_actions_it_may_take() {
    let (app, admin, client_id) = setup().await;
    let number = number_of(&intake(&admin, &client_id).await);
    let path = format!("/service-orders/{number}");

    // The desk: the customer's moves (cancel), assign, mail; not the bench's.
    let desk = app.browser_for("receptionist").await;
    let page = desk.get(&path).await;
    page.assert_status(StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("Ana Pérez") && html.contains("Samsung Galaxy A54"),
        "{html}"
    );
    assert!(html.contains(">Cancelar orden</button>"), "{html}");
    assert!(html.contains(">Asignar técnico</button>"));
    assert!(!html.contains(">Comenzar diagnóstico</button>"));
    assert!(!html.contains(">Tomar la orden</button>"));
    assert!(!html.contains(">Guardar diagnóstico</button>"));
    assert!(html.contains("Editar presupuesto"), "the desk quotes");
    assert!(html.contains("$0"), "totals in pesos");
    assert!(html.contains("Recibida"), "the timeline");

    // A technician: the order is unassigned, so only taking it.
    let tech = app.browser_for("technician").await;
    let html = tech.get(&path).await.text();
    assert!(html.contains(">Tomar la orden</button>"), "{html}");
    assert!(!html.contains(">Comenzar diagnóstico</button>"));
    assert!(!html.contains(">Cancelar orden</button>"));
    assert!(!html.contains(">Asignar técnico</button>"));
    assert!(!html.contains("Editar presupuesto"));

    // Taking it from the page makes it theirs: now the bench's moves.
    let res = tech
        .post(&format!("{path}/take"), &[("version", "1")])
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        res.header("location"),
        Some(format!("{path}?ok=service_order_taken").as_str())
    );
    let html = tech
        .get(&format!("{path}?ok=service_order_taken"))
        .await
        .text();
    assert!(html.contains("Tomaste la orden."));
    assert!(html.contains(">Comenzar diagnóstico</button>"), "{html}");
    assert!(html.contains(">Guardar diagnóstico</button>"));
    assert!(html.contains("Editar presupuesto"));
    assert!(!html.contains(">Tomar la orden</button>"));
    assert!(!html.contains(">Cancelar orden</button>"));

    // The move through the page goes through the same rules.
    let res = tech
        .post(
            &format!("{path}/transition"),
            &[("version", "2"), ("to", "diagnosing")],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    // A desk move from the bench is refused on the page, 422, nothing changed.
    let res = tech
        .post(
            &format!("{path}/transition"),
            &[("version", "3"), ("to", "delivered")],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .contains("No puedes pasar una orden a «Entregada»"),
        "{}",
        res.text()
    );
    let v = admin
        .get(&format!("/api/service-orders/{number}"))
        .await
        .json();
    assert_eq!(v["status"], "diagnosing");

    // Another technician does not see it at all.
    let other = app.browser_for("technician").await;
    other.get(&path).await.assert_status(StatusCode::NOT_FOUND);
    assert!(!other.get("/service-orders").await.text().contains(&number));

    // A viewer reads it, with no action at all.
    let viewer = app.browser_for("viewer").await;
    let html = viewer.get(&path).await.text();
    assert!(html.contains(&number));
    for action in [
        "Tomar la orden",
        "Cancelar orden",
        "Asignar técnico",
        "Editar presupuesto",
        "Guardar diagnóstico",
        "Enviar presupuesto",
    ] {
        assert!(!html.contains(action), "viewer sees {action}");
    }
    viewer
        .get("/service-orders/new")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    tech.get("/service-orders/new")
        .await
        .assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn intake_through_the_form_and_the_scanner_opens_the_order() {
    let (app, _admin, client_id) = setup().await;
    let desk = app.browser_for("receptionist").await;
    let form = desk.get("/service-orders/new").await;
    form.assert_status(StatusCode::OK);
    let html = form.text();
    assert!(html.contains("data-choices=\"/service-orders/client-choices\""));
    assert!(
        html.contains("required autofocus"),
        "the first field has the focus"
    );
    let choices = desk.get("/service-orders/client-choices?q=perez").await;
    assert_eq!(
        choices.json(),
        json!([{"id": client_id, "name": "Ana Pérez"}])
    );

    // A refused intake shows the form again with its errors.
    let res = desk
        .post(
            "/service-orders",
            &[
                ("client_id", &client_id),
                ("device_type", "Celular"),
                ("brand", ""),
                ("model", "A54"),
                ("reported_fault", "No carga"),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().contains("El campo marca es obligatorio"),
        "{}",
        res.text()
    );
    assert!(res.text().contains("value=\"A54\""), "what was typed stays");

    // The customer typed by name is found (the form without JavaScript).
    let res = desk
        .post(
            "/service-orders",
            &[
                ("client_id", ""),
                ("client_name", "ana perez"),
                ("contact_email", "ana@clientes.cl"),
                ("device_type", "Notebook"),
                ("brand", "Lenovo"),
                ("model", "ThinkPad T14"),
                ("serial", "PF3XYZ"),
                ("accessories", "Cargador"),
                ("condition_notes", "Teclado gastado"),
                ("reported_fault", "No enciende"),
                ("priority", "urgent"),
                ("promised_date", "2026-12-20"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let location = res.header("location").unwrap().to_owned();
    assert!(
        location.starts_with("/service-orders/OS-")
            && location.ends_with("?ok=service_order_created"),
        "{location}"
    );
    let number = location
        .trim_start_matches("/service-orders/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let html = desk.get(&location).await.text();
    assert!(html.contains("Equipo recibido."));
    assert!(html.contains("Notebook Lenovo ThinkPad T14") && html.contains("Urgente"));
    assert!(html.contains("ana@clientes.cl"));
    // Dates as the pages write them; the history names who took it in.
    assert!(html.contains("20-12-2026"), "the promised date: {html}");
    assert!(
        html.contains("<strong>Recibida</strong> · Usuario receptionist"),
        "the receptionist by name: {html}"
    );

    // The scanner types the number (any case) and Enter: straight to it.
    let res = desk
        .get(&format!("/service-orders?q={}", number.to_lowercase()))
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        res.header("location"),
        Some(format!("/service-orders/{number}").as_str())
    );
    // Any other search lists what matches.
    let res = desk
        .get("/service-orders?q=thinkpad&status=&technician=&open=yes")
        .await;
    res.assert_status(StatusCode::OK);
    assert!(res.text().contains(&number));
    assert!(
        res.text().contains("export.csv?q=thinkpad&amp;open=true"),
        "{}",
        res.text()
    );
    let none = desk.get("/service-orders?q=OS-1999-000001").await;
    none.assert_status(StatusCode::OK);
    assert!(none.text().contains("Ninguna orden coincide"));
}

#[tokio::test]
async fn the_queue_and_the_technicians_page() {
    let (app, admin, client_id) = setup().await;
    let email = app.create_user("technician").await;
    let tech =
        faena_testkit::browser::Browser::sign_in(&app, &email, faena_testkit::USER_PASSWORD).await;
    let tech_id = my_id(&app.login(&email, faena_testkit::USER_PASSWORD).await).await;
    let mine = number_of(&intake(&admin, &client_id).await);
    let free = number_of(&intake(&admin, &client_id).await);
    admin
        .post_json(
            &format!("/api/service-orders/{mine}/assign"),
            &json!({"technician_id": tech_id}),
        )
        .await
        .assert_status(StatusCode::OK);
    let html = tech.get("/service/queue").await.text();
    assert!(html.contains("data-live-topics=\"service\""), "live");
    let (theirs, to_take) = html.split_once("Sin asignar, para tomar").unwrap();
    assert!(theirs.contains(&mine) && !theirs.contains(&free));
    assert!(to_take.contains(&free) && to_take.contains(">Tomar la orden</button>"));

    let list = tech.get("/technicians").await;
    list.assert_status(StatusCode::OK);
    assert!(
        !list.text().contains("name=\"specialties\""),
        "read-only for technicians"
    );
    let manager = app.browser_for("manager").await;
    let html = manager.get("/technicians").await.text();
    assert!(html.contains("name=\"specialties\""));
    let res = manager
        .post(
            &format!("/technicians/{tech_id}"),
            &[
                ("version", "0"),
                ("specialties", "Celulares, Notebooks"),
                ("active", "yes"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let html = manager.get("/technicians").await.text();
    assert!(html.contains("Celulares, Notebooks"), "{html}");
    let v = admin
        .get(&format!("/api/technicians/{tech_id}"))
        .await
        .json();
    assert_eq!(v["specialties"], json!(["Celulares", "Notebooks"]));
    assert_eq!(v["open_orders"], 1);
}

#[tokio::test]
async fn the_estimate_is_edited_on_the_page_in_pesos() {
    let (app, admin, client_id) = setup().await;
    let number = number_of(&intake(&admin, &client_id).await);
    let path = format!("/service-orders/{number}");
    let desk = app.browser_for("receptionist").await;
    // A negative quantity is named on its row; nothing is saved.
    let res = desk
        .post(
            &format!("{path}/lines"),
            &[
                ("version", "1"),
                ("kind_0", "part"),
                ("description_0", "Pantalla"),
                ("quantity_0", "-1"),
                ("unit_price_clp_0", "45.990"),
                ("discount_percent_0", ""),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .contains("Línea 1: El campo cantidad debe estar entre 1 y 10000"),
        "{}",
        res.text()
    );
    assert!(res.text().contains("value=\"-1\""), "what was typed stays");
    let res = desk
        .post(
            &format!("{path}/lines"),
            &[
                ("version", "1"),
                ("kind_0", "part"),
                ("description_0", "Pantalla original"),
                ("quantity_0", "1"),
                ("unit_price_clp_0", "45.990"),
                ("discount_percent_0", ""),
                ("kind_1", "labour"),
                ("description_1", "Mano de obra"),
                ("quantity_1", "1"),
                ("unit_price_clp_1", "15000"),
                ("discount_percent_1", "0"),
                ("kind_2", "part"),
                ("description_2", ""),
                ("quantity_2", ""),
                ("unit_price_clp_2", ""),
                ("discount_percent_2", ""),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let html = desk.get(&path).await.text();
    // 60 990 net, IVA 11 588, total 72 578, as Chileans write them.
    assert!(
        html.contains("$45.990")
            && html.contains("$60.990")
            && html.contains("$11.588")
            && html.contains("$72.578"),
        "{html}"
    );
    let v = admin
        .get(&format!("/api/service-orders/{number}"))
        .await
        .json();
    assert_eq!(v["totals"]["total_clp"], 72578);
}
