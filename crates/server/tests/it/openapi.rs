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
