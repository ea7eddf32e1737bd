//! The OpenAPI document: generated from the handlers, 3.1, snapshot-tested
//! so an accidental API change shows up in review.

use axum::http::StatusCode;
use faena_testkit::TestApp;

#[tokio::test]
async fn openapi_document_is_served_and_unchanged() {
    let app = TestApp::new().await;
    let res = app.get("/api/openapi.json").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.content_type(), "application/json");
    let doc = res.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Faena API");
    insta::assert_json_snapshot!("openapi", doc, {
        ".info.version" => "[version]",
    });
}

#[test]
fn every_operation_has_a_summary_and_a_tag() {
    let doc = faena_server::app::openapi(&faena_server::modules::all());
    for (path, item) in &doc.paths.paths {
        let ops = [&item.get, &item.post, &item.put, &item.patch, &item.delete];
        for op in ops.into_iter().flatten() {
            assert!(op.summary.is_some(), "{path}: no summary");
            assert!(
                op.tags.as_ref().is_some_and(|t| !t.is_empty()),
                "{path}: no tag"
            );
        }
    }
}

/// Every operation documents the errors the platform answers for it, each
/// as a problem document: a client generated from the document handles
/// them, and schemathesis finds no undocumented status.
#[test]
fn every_operation_documents_its_errors_as_problem_documents() {
    let doc =
        serde_json::to_value(faena_server::app::openapi(&faena_server::modules::all())).unwrap();
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let label = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            let has = |s: &str| responses.contains_key(s);
            let secured = op["security"][0].get("bearer").is_some();
            let with_body = op.get("requestBody").is_some();
            let json_body = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.contains_key("application/json"));
            assert!(has("400") && has("500") && has("503"), "{label}");
            if secured {
                assert!(has("401") && has("403"), "{label}: 401 and 403");
            }
            if with_body || op.get("parameters").is_some() {
                assert!(has("422"), "{label}: 422");
            }
            if json_body && op["requestBody"]["required"] != false {
                assert!(has("415"), "{label}: 415");
            }
            if path.contains('{') {
                assert!(has("404"), "{label}: 404");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{label} {status}"
                    );
                }
            }
        }
    }
}
