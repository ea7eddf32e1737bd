//! Every create answers 201 with a `Location` that a client can follow:
//! the test walks the OpenAPI document's create operations (those that
//! document a 201), makes one resource through each, and reads it back.
//! A new create route without an entry below fails the test.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use faena_testkit::{Client, TestApp, TestResponse};
use serde_json::{Value, json};

use crate::support::an_order;
use crate::uploads::multipart;

fn create_operations(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["responses"].get("201").is_some() {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

async fn upload(client: &Client, path: &str, name: &str) -> TestResponse {
    let (ct, body) = multipart(&[("file", Some(name), b"numero;cantidad\r\n1;2\r\n")]);
    client
        .send(
            Request::post(path)
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
}

#[tokio::test]
async fn every_create_answers_a_location_that_resolves() {
    let app = TestApp::with_config(|c| c.auth.self_registration = true).await;
    let admin = app.admin().await;
    let doc = app.get("/api/openapi.json").await.json();
    let number = an_order(&admin).await;
    let file = upload(
        &admin,
        &format!("/api/attachments/wms.order/{number}"),
        "a.csv",
    )
    .await;
    let file_id = file.json()["id"].as_str().unwrap().to_owned();
    let mut made = Vec::new();
    let mut covered = BTreeSet::new();
    let mut made_by = |op: &str, res: TestResponse| {
        covered.insert(op.to_owned());
        made.push((op.to_owned(), res));
    };

    made_by("POST /api/attachments/{owner_kind}/{owner_id}", file);
    made_by(
        "POST /api/files/{id}/versions",
        upload(&admin, &format!("/api/files/{file_id}/versions"), "b.csv").await,
    );
    made_by(
        "POST /api/files/{id}/links",
        admin
            .post_json(&format!("/api/files/{file_id}/links"), &json!({}))
            .await,
    );
    let client = admin
        .post_json(
            "/api/clients",
            &json!({"name": "Bazar Norte", "email": "bazar@norte.cl"}),
        )
        .await;
    let client_id = client.json()["id"].as_str().unwrap().to_owned();
    made_by("POST /api/clients", client);
    made_by(
        "POST /api/orders",
        admin
            .post_json(
                "/api/orders",
                &json!({"client_id": client_id, "lines": [{"sku": "A-1", "description": "Caja", "quantity": 2}]}),
            )
            .await,
    );
    made_by(
        "POST /api/service-orders",
        admin
            .post_json(
                "/api/service-orders",
                &json!({"client_id": client_id, "device_type": "Celular", "brand": "Motorola", "model": "Moto G54", "reported_fault": "No enciende"}),
            )
            .await,
    );
    made_by(
        "POST /api/printers",
        admin
            .post_json(
                "/api/printers",
                &json!({"name": "Zebra mesón", "address": "192.168.1.50:9100", "dpi": 203}),
            )
            .await,
    );
    made_by(
        "POST /api/users",
        admin
            .post_json(
                "/api/users",
                &json!({"email": "ana@faena.test", "name": "Ana", "role": "viewer", "password": "una frase larga de prueba 17"}),
            )
            .await,
    );
    made_by(
        "POST /api/auth/register",
        app.anonymous()
            .post_json(
                "/api/auth/register",
                &json!({"email": "luis@faena.test", "name": "Luis", "password": "otra frase larga de prueba 23"}),
            )
            .await,
    );
    made_by(
        "POST /api/roles",
        admin
            .post_json(
                "/api/roles",
                &json!({"name": "bodega_noche", "permissions": ["wms.orders.read"]}),
            )
            .await,
    );
    made_by(
        "POST /api/api-keys",
        admin
            .post_json(
                "/api/api-keys",
                &json!({"name": "Integración ERP", "permissions": ["wms.orders.read"]}),
            )
            .await,
    );
    made_by(
        "POST /api/webhooks/endpoints",
        admin
            .post_json(
                "/api/webhooks/endpoints",
                &json!({"url": "https://erp.example.cl/hooks", "event_types": ["order.created"]}),
            )
            .await,
    );
    made_by(
        "POST /api/machines",
        admin
            .post_json(
                "/api/machines",
                &json!({"code": "MAQ-001", "name": "Centrífuga"}),
            )
            .await,
    );
    made_by(
        "POST /api/machines/{code}/maintenance",
        admin
            .post_json(
                "/api/machines/maq-001/maintenance",
                &json!({"kind": "inspection", "description": "Revisión general"}),
            )
            .await,
    );
    made_by(
        "POST /api/machines/{code}/plans",
        admin
            .post_json(
                "/api/machines/MAQ-001/plans",
                &json!({"title": "Preventiva", "kind": "preventive", "interval_count": 3, "interval_unit": "months"}),
            )
            .await,
    );
    made_by(
        "POST /api/machines/{code}/meter-readings",
        admin
            .post_json(
                "/api/machines/MAQ-001/meter-readings",
                &json!({"meter": "horas", "value": 120}),
            )
            .await,
    );

    assert_eq!(
        covered,
        create_operations(&doc),
        "every create operation of the document is tried here"
    );
    for (op, res) in made {
        assert_eq!(res.status, StatusCode::CREATED, "{op}: {}", res.text());
        let location = res
            .header("location")
            .unwrap_or_else(|| panic!("{op}: no Location"))
            .to_owned();
        assert!(location.starts_with("/api/"), "{op}: {location}");
        let read = admin.get(&location).await;
        assert_eq!(
            read.status,
            StatusCode::OK,
            "{op}: GET {location}: {}",
            read.text()
        );
        if let Some(etag) = res.header("etag")
            && read.content_type().starts_with("application/json")
        {
            assert_eq!(read.header("etag"), Some(etag), "{op}: the same version");
        }
    }
}
