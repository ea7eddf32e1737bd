use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::{a_machine, create_machine, setup};

async fn post_csv(
    client: &faena_testkit::Client,
    path: &str,
    csv: &str,
) -> faena_testkit::TestResponse {
    client
        .send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
                .body(Body::from(csv.to_owned()))
                .unwrap(),
        )
        .await
}

#[tokio::test]
async fn a_machine_list_is_checked_row_by_row_and_imported_whole_or_not_at_all() {
    let (app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-700")).await;
    let bad = "\u{feff}Código;Nombre;Tipo;Laboratorio;Estado;Criticidad;Adquisición\r\n\
               BAL-010;Balanza analítica;Balanza;Laboratorio de Química;Operativa;Alta;15-03-2022\r\n\
               maq-700;Ya existe;;;;;\r\n\
               EST 1;Estufa;Estufa;;Rota;;\r\n\
               BAL-010;Otra balanza;;;;;2999-01-01\r\n\
               ;Sin código;;;;;\r\n";
    let res = post_csv(&admin, "/api/machines/import?dry_run=true", bad).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let r = res.json();
    assert_eq!(r["rows"], 5);
    assert_eq!(r["title"], "6 problemas en 5 filas: no se importó nada");
    let errors: Vec<(u64, String)> = r["row_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (3, "code".into()),
            (4, "status".into()),
            (4, "code".into()),
            (5, "acquired_on".into()),
            (5, "code".into()),
            (6, "code".into()),
        ],
        "{r}"
    );
    let messages: Vec<&str> = r["row_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(&"Ya existe una máquina con el código MAQ-700"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"El código se repite: ya aparece en la línea 2"),
        "{messages:?}"
    );
    // Not a dry run, still bad: nothing written.
    post_csv(&admin, "/api/machines/import", bad)
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        admin.get("/api/machines").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let good = "codigo,nombre,tipo,laboratorio,estado,criticidad,adquisicion\n\
                BAL-010,Balanza analítica,Balanza,Laboratorio de Química,Operativa,Alta,15-03-2022\n\
                \"EST-001\",\"Estufa de cultivo, 55 L\",Estufa,Microbiología,Fuera de servicio,,\n";
    let res = post_csv(&admin, "/api/machines/import?dry_run=true", good).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["imported"], 0, "a dry run writes nothing");
    assert_eq!(
        admin.get("/api/machines").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let res = post_csv(&admin, "/api/machines/import", good).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["imported"], 2);
    let est = admin.get("/api/machines/est-001").await.json();
    assert_eq!(est["name"], "Estufa de cultivo, 55 L");
    assert_eq!(est["status"], "out_of_service");
    let bal = admin.get("/api/machines/BAL-010").await.json();
    assert_eq!(bal["criticality"], "high");
    assert_eq!(bal["acquired_on"], "2022-03-15");

    // A technician may not import.
    let technician = app.client_for("technician").await;
    post_csv(&technician, "/api/machines/import?dry_run=true", good)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let _ = json!({});
}
