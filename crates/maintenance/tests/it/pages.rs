use axum::http::StatusCode;

use crate::{a_machine, a_record, create_machine, record, setup};

#[tokio::test]
async fn a_machine_is_registered_worked_on_and_signed_off_from_the_pages() {
    let (app, admin) = setup().await;
    let manager = app.browser_for("manager").await;

    let form = manager.get("/machines/new").await;
    form.assert_status(StatusCode::OK);
    let res = manager
        .post(
            "/machines",
            &[
                ("code", "maq-100"),
                ("name", "Autoclave vertical"),
                ("lab", "Microbiología"),
                ("kind", "Autoclave"),
                ("status", "operational"),
                ("criticality", "critical"),
                ("acquired_on", "2023-03-15"),
                ("attr_key_0", "Capacidad"),
                ("attr_value_0", "75 L"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        res.header("location"),
        Some("/machines/MAQ-100?ok=machine_created")
    );
    let html = manager.get("/machines/MAQ-100").await.text();
    assert!(html.contains("Autoclave vertical"), "{html}");
    assert!(html.contains("Crítica"), "{html}");
    assert!(html.contains("<dt>Capacidad</dt><dd>75 L</dd>"), "{html}");
    assert!(
        html.contains("15-03-2023"),
        "the date in Chilean format: {html}"
    );

    // A taken code is shown on the form, on its field.
    let res = manager
        .post("/machines", &[("code", "MAQ-100"), ("name", "Otra")])
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("Ya existe una máquina con ese código"),
        "{html}"
    );
    assert!(
        html.contains("id=\"code\" name=\"code\" aria-invalid=\"true\""),
        "{html}"
    );

    // Record work from the machine's page (a local time, parts, a reading).
    let form = manager
        .get("/machines/MAQ-100/maintenance/new")
        .await
        .text();
    assert!(form.contains("type=\"datetime-local\""), "{form}");
    let res = manager
        .post(
            "/machines/MAQ-100/maintenance",
            &[
                ("kind", "inspection"),
                ("performed_at", "2026-11-30T09:15"),
                ("description", "Prueba de hermeticidad"),
                ("cost_clp", "30.000"),
                ("part_name_0", "Empaquetadura"),
                ("part_quantity_0", "1"),
                ("part_cost_0", "8500"),
                ("measure_key_0", "Presión"),
                ("measure_value_0", "2,1 bar"),
                ("outcome", "observations"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let location = res.header("location").unwrap().to_owned();
    let html = manager.get(&location).await.text();
    assert!(html.contains("Mantención registrada."), "{html}");
    assert!(
        html.contains("30-11-2026 09:15"),
        "the time as typed, local: {html}"
    );
    assert!(html.contains("$38.500"), "the total in pesos: {html}");
    assert!(html.contains("Apta con observaciones"), "{html}");
    assert!(html.contains("Por firmar"), "{html}");

    // A bad number names its field.
    let res = manager
        .post(
            "/machines/MAQ-100/maintenance",
            &[
                ("kind", "inspection"),
                ("description", "x"),
                ("cost_clp", "mucho"),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .contains("El campo Costo debe ser un número entero")
    );

    // Sign-off asks first, then the record is closed to edits.
    let id = location
        .trim_start_matches("/maintenance/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let res = manager
        .post(&format!("/maintenance/{id}/sign-off"), &[("version", "1")])
        .await;
    res.assert_status(StatusCode::OK);
    assert!(res.text().contains("¿Firmar el registro de MAQ-100?"));
    let res = manager
        .post(
            &format!("/maintenance/{id}/sign-off"),
            &[("version", "1"), ("confirm", "yes")],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let signed = res.header("location").unwrap().to_owned();
    assert_eq!(signed, format!("/maintenance/{id}?ok=record_signed"));
    let html = manager.get(&signed).await.text();
    assert!(html.contains("Registro firmado."), "{html}");
    assert!(!html.contains("/edit\""), "no edit once signed: {html}");
    assert!(html.contains("Registrar corrección"), "{html}");

    // The machine's timeline and the records list show it.
    let html = manager.get("/machines/MAQ-100").await.text();
    assert!(html.contains("Inspección"), "{html}");
    let list = manager.get("/maintenance?kind=inspection").await.text();
    assert!(list.contains("MAQ-100"), "{list}");
    let _ = admin;
}

#[tokio::test]
async fn the_register_lists_filters_and_the_home_shows_the_figures() {
    let (app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-200")).await;
    let mut other = a_machine("MAQ-201");
    other["name"] = json_str("Estufa de cultivo");
    other["lab"] = json_str("Microbiología");
    other["status"] = json_str("out_of_service");
    create_machine(&admin, &other).await;
    record(&admin, "MAQ-200", &a_record()).await;

    let viewer = app.browser_for("viewer").await;
    let html = viewer.get("/machines?lab=microbiologia").await.text();
    assert!(html.contains("Estufa de cultivo"), "{html}");
    assert!(!html.contains("Centrífuga refrigerada"), "{html}");
    assert!(html.contains("Fuera de servicio"), "{html}");
    assert!(
        !html.contains("/machines/new"),
        "a viewer is not offered to add: {html}"
    );

    let home = viewer.get("/").await.text();
    assert!(home.contains("Mantención"), "{home}");
    assert!(
        home.contains("&#x2f;machines?status=out_of_service"),
        "{home}"
    );
    assert!(home.contains("&#x2f;maintenance?signed=false"), "{home}");

    let warehouse = app.browser_for("warehouse").await;
    let home = warehouse.get("/").await.text();
    assert!(
        !home.contains("&#x2f;machines?status="),
        "no maintenance panel without the permission"
    );
    warehouse
        .get("/machines")
        .await
        .assert_status(StatusCode::FORBIDDEN);
}

fn json_str(s: &str) -> serde_json::Value {
    serde_json::Value::String(s.to_owned())
}
