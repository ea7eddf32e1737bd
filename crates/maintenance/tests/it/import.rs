use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::{a_machine, create_machine, setup};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn post_file(
    client: &faena_testkit::Client,
    path: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> faena_testkit::TestResponse {
    client
        .send(
            Request::post(path)
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(bytes))
                .unwrap(),
        )
        .await
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The lines and fields a refused import names.
fn bad_rows(problem: &serde_json::Value) -> Vec<(u64, String)> {
    problem["row_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Workbooks as a spreadsheet program saves them (openpyxl wrote these:
/// typed cells, a serial stored as a number, real Excel dates, headers
/// with accents and `N°`), and a CSV saved by Excel on Windows.
#[tokio::test]
async fn an_excel_workbook_or_a_windows_csv_is_imported_as_it_comes() {
    let (_app, admin) = setup().await;
    // A bad row is named by its row number in the sheet.
    let res = post_file(
        &admin,
        "/api/machines/import?dry_run=true",
        XLSX,
        fixture("maquinas-con-errores.xlsx"),
    )
    .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad_rows(&res.json()),
        [(5, "status".to_owned()), (5, "name".to_owned())],
        "{}",
        res.text()
    );

    let res = post_file(
        &admin,
        "/api/machines/import",
        XLSX,
        fixture("maquinas.xlsx"),
    )
    .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["imported"], 3, "{}", res.text());
    let autoclave = admin.get("/api/machines/MAQ-501").await.json();
    assert_eq!(autoclave["name"], "Autoclave vertical");
    assert_eq!(
        autoclave["serial"], "387012",
        "a number cell, without decimals"
    );
    assert_eq!(autoclave["acquired_on"], "2019-03-14", "an Excel date");
    assert_eq!(autoclave["criticality"], "high");
    let uv = admin.get("/api/machines/MAQ-502").await.json();
    assert_eq!(uv["status"], "in_maintenance");
    assert_eq!(uv["lab"], "Laboratorio de Química");
    let balanza = admin.get("/api/machines/MAQ-503").await.json();
    assert_eq!(balanza["acquired_on"], "2023-01-05", "a date typed as text");

    // Excel's "CSV (delimitado por comas)" on Windows: Windows-1252, a
    // title above the headers.
    let csv = "Inventario de equipos 2026;;\r\nC\u{f3}digo;Nombre;Laboratorio\r\nMAQ-601;Campana de extracci\u{f3}n;Qu\u{ed}mica\r\nMAQ-602;;Qu\u{ed}mica\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(csv);
    let res = post_file(
        &admin,
        "/api/machines/import?dry_run=true",
        "text/csv",
        bytes.to_vec(),
    )
    .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_rows(&res.json()), [(4, "name".to_owned())]);
    let fixed = csv.replace("MAQ-602;;", "MAQ-602;Refrigerador de reactivos;");
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&fixed);
    let res = post_file(&admin, "/api/machines/import", "text/csv", bytes.to_vec()).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["imported"], 2);
    let campana = admin.get("/api/machines/MAQ-601").await.json();
    assert_eq!(campana["name"], "Campana de extracción");
    assert_eq!(campana["lab"], "Química");

    // A file that is neither is refused, naming the file.
    let res = post_file(
        &admin,
        "/api/machines/import",
        XLSX,
        b"PK\x03\x04 not really a workbook".to_vec(),
    )
    .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "file");
    assert_eq!(
        admin.get("/api/machines").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

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
    assert_eq!(
        bad_rows(&r),
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
