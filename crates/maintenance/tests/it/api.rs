use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{a_machine, a_record, create_machine, record, setup};

#[tokio::test]
async fn a_machine_is_known_by_its_code_whatever_the_case() {
    let (app, admin) = setup().await;
    let manager = app.client_for("manager").await;
    let res = manager
        .post_json("/api/machines", &a_machine("maq-001"))
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.header("location"), Some("/api/machines/MAQ-001"));
    let m = res.json();
    assert_eq!(m["code"], "MAQ-001");
    assert_eq!(m["status"], "operational");
    assert_eq!(m["criticality"], "high");
    assert_eq!(m["attributes"]["Voltaje"], "220 V");

    let found = admin.get("/api/machines/Maq-001").await;
    found.assert_status(StatusCode::OK);
    assert_eq!(found.json()["name"], "Centrífuga refrigerada");

    // The same code in another case is taken: 409 naming the field.
    let res = manager
        .post_json("/api/machines", &a_machine("MAQ-001"))
        .await;
    res.assert_status(StatusCode::CONFLICT);
    let body = res.json();
    assert_eq!(body["errors"][0]["field"], "code", "{body}");
    assert_eq!(body["title"], "Ya existe una máquina con ese código");

    // Bad fields are each named; nothing is written.
    let res = manager
        .post_json(
            "/api/machines",
            &json!({"code": "MAQ 2", "name": "", "acquired_on": "2999-01-01"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = res.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["code", "name", "acquired_on"]);
    let list = admin.get("/api/machines").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_machine_keeps_its_code_and_a_retired_one_stays_retired() {
    let (_app, admin) = setup().await;
    let m = create_machine(&admin, &a_machine("MAQ-010")).await;
    let mut body = a_machine("MAQ-010");
    body["name"] = json!("Centrífuga de mesa");
    body["status"] = json!("retired");
    let res = admin
        .send_json(Method::PUT, "/api/machines/MAQ-010", &body)
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["version"], m["version"].as_i64().unwrap() + 1);
    assert_eq!(res.json()["status"], "retired");

    body["status"] = json!("operational");
    let res = admin
        .send_json(Method::PUT, "/api/machines/MAQ-010", &body)
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "status");

    body["status"] = json!("retired");
    body["code"] = json!("MAQ-011");
    let res = admin
        .send_json(Method::PUT, "/api/machines/MAQ-010", &body)
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "code");

    // Nothing new is recorded on a retired machine.
    let res = admin
        .post_json("/api/machines/MAQ-010/maintenance", &a_record())
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "machine");
    assert_eq!(
        admin.get("/api/maintenance").await.json()["items"],
        json!([])
    );
}

#[tokio::test]
async fn records_add_their_parts_and_change_only_until_signed_off() {
    let (app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-020")).await;
    let technician = app.client_for("technician").await;
    let r = record(&technician, "maq-020", &a_record()).await;
    assert_eq!(r["machine_code"], "MAQ-020");
    assert_eq!(
        r["technician_name"], "Usuario technician",
        "the caller by default"
    );
    assert_eq!(r["parts_cost_clp"], 25000);
    assert_eq!(r["total_cost_clp"], 70000);
    assert_eq!(r["measurements"]["Temperatura"], "4,1 °C");
    assert!(r["signed_off_at"].is_null());
    let id = r["id"].as_str().unwrap().to_owned();

    // A draft may be changed.
    let mut changed = a_record();
    changed["cost_clp"] = json!(50000);
    let res = technician
        .send_json(Method::PUT, &format!("/api/maintenance/{id}"), &changed)
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["total_cost_clp"], 75000);

    // The technician cannot sign off; the manager can.
    let path = format!("/api/maintenance/{id}/sign-off");
    technician
        .post_json(&path, &json!({}))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let manager = app.client_for("manager").await;
    let res = manager.post_json(&path, &json!({})).await;
    res.assert_status(StatusCode::OK);
    assert!(res.json()["signed_off_at"].is_string());
    assert_eq!(res.json()["signed_off_by"], "manager@faena.test");
    manager
        .post_json(&path, &json!({}))
        .await
        .assert_status(StatusCode::CONFLICT);

    // Signed off, it never changes: 409, and it reads as before.
    let res = technician
        .send_json(Method::PUT, &format!("/api/maintenance/{id}"), &a_record())
        .await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "record_signed_off");
    let now = admin.get(&format!("/api/maintenance/{id}")).await.json();
    assert_eq!(now["total_cost_clp"], 75000);

    // A correction is a new record pointing to it; only one.
    let mut fix = a_record();
    fix["corrects"] = json!(id);
    fix["cost_clp"] = json!(40000);
    let c = record(&technician, "MAQ-020", &fix).await;
    assert_eq!(c["corrects"], id.as_str());
    let original = admin.get(&format!("/api/maintenance/{id}")).await.json();
    assert_eq!(original["corrected_by"], c["id"]);
    let res = technician
        .post_json("/api/machines/MAQ-020/maintenance", &fix)
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "corrects");
    // A draft is edited, not corrected.
    let mut fix_draft = a_record();
    fix_draft["corrects"] = c["id"].clone();
    let res = technician
        .post_json("/api/machines/MAQ-020/maintenance", &fix_draft)
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.json()["errors"][0]["message"],
        "Ese registro aún no está firmado: edítalo en vez de corregirlo"
    );

    // The history shows both, newest first; a machine with history is not
    // deleted.
    let history = admin.get("/api/machines/MAQ-020/maintenance").await.json();
    assert_eq!(history["items"].as_array().unwrap().len(), 2);
    let res = admin.delete("/api/machines/MAQ-020").await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "machine_has_records");
}

#[tokio::test]
async fn each_role_does_what_it_may() {
    let (app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-030")).await;
    let technician = app.client_for("technician").await;
    let viewer = app.client_for("viewer").await;
    let warehouse = app.client_for("warehouse").await;

    technician
        .post_json("/api/machines", &a_machine("MAQ-031"))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    technician
        .get("/api/machines/MAQ-030")
        .await
        .assert_status(StatusCode::OK);
    viewer
        .get("/api/maintenance")
        .await
        .assert_status(StatusCode::OK);
    viewer
        .post_json("/api/machines/MAQ-030/maintenance", &a_record())
        .await
        .assert_status(StatusCode::FORBIDDEN);
    warehouse
        .get("/api/machines")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    technician
        .delete("/api/machines/MAQ-030")
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // A technician is someone who may record work: a viewer is refused.
    let viewer_id = admin.get("/api/users?role=viewer").await.json()["items"][0]["id"].clone();
    let mut body = a_record();
    body["technician_id"] = viewer_id;
    let res = technician
        .post_json("/api/machines/MAQ-030/maintenance", &body)
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "technician_id");
}

#[tokio::test]
async fn the_register_is_searched_filtered_and_exported() {
    let (_app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-040")).await;
    let mut balance = a_machine("BAL-001");
    balance["name"] = json!("Balanza analítica");
    balance["kind"] = json!("Balanza");
    balance["lab"] = json!("Laboratorio de Física");
    balance["serial"] = json!("B-99");
    balance["status"] = json!("out_of_service");
    create_machine(&admin, &balance).await;

    let codes = |v: serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        codes(admin.get("/api/machines?q=analitica").await.json()),
        ["BAL-001"]
    );
    assert_eq!(
        codes(admin.get("/api/machines?q=b-99").await.json()),
        ["BAL-001"]
    );
    assert_eq!(
        codes(
            admin
                .get("/api/machines?lab=laboratorio%20de%20quimica")
                .await
                .json()
        ),
        ["MAQ-040"]
    );
    assert_eq!(
        codes(
            admin
                .get("/api/machines?status=out_of_service")
                .await
                .json()
        ),
        ["BAL-001"]
    );
    assert_eq!(
        codes(admin.get("/api/machines").await.json()),
        ["BAL-001", "MAQ-040"],
        "in Spanish name order"
    );
    let res = admin.get("/api/machines?status=broken").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "status");

    let page = admin.get("/api/machines?limit=1").await.json();
    assert_eq!(codes(page.clone()), ["BAL-001"]);
    let next = page["next"].as_str().unwrap().to_owned();
    assert_eq!(codes(admin.get(&next).await.json()), ["MAQ-040"]);

    let csv = admin
        .get("/api/machines/export.csv?status=out_of_service")
        .await
        .text();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows[0].contains("Código;Nombre;Tipo;Laboratorio"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("BAL-001;Balanza analítica;Balanza;Laboratorio de Física"),
        "{}",
        rows[1]
    );
    assert!(rows[1].contains(";Fuera de servicio;Alta;"), "{}", rows[1]);

    record(&admin, "MAQ-040", &a_record()).await;
    let mut calibration = a_record();
    calibration["kind"] = json!("calibration");
    calibration["outcome"] = json!("failed");
    record(&admin, "BAL-001", &calibration).await;
    let found = admin
        .get("/api/maintenance?kind=calibration&lab=Laboratorio%20de%20F%C3%ADsica")
        .await
        .json();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["machine_code"], "BAL-001");
    let csv = admin
        .get("/api/maintenance/export.csv?outcome=failed")
        .await
        .text();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows[1].contains(";BAL-001;Balanza analítica;Calibración;"),
        "{}",
        rows[1]
    );
    assert!(
        rows[1].contains(";45000;25000;70000;No apta;"),
        "{}",
        rows[1]
    );
}
