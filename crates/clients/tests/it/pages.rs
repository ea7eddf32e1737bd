use axum::body::Body;
use axum::http::{Request, StatusCode};
use faena_testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn client_pages_render_and_list_counts() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let html = admin.get("/clients").await.text();
    assert!(html.contains("Aún no hay clientes."));
    let id = admin
        .post_json("/api/clients", &json!({"name": "Ferretería Sur", "email": "f@sur.cl", "tax_id": "76.086.428-5", "phone": "+56 2 2345 6789"}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let html = admin.get("/clients").await.text();
    assert!(html.contains("Ferretería Sur"));
    let html = admin.get(&format!("/clients/{id}")).await.text();
    assert!(html.contains("76.086.428-5") && html.contains("+56 2 2345 6789"));
    for path in [
        "/clients/new".to_owned(),
        format!("/clients/{id}/edit"),
        format!("/clients/{id}/delete"),
    ] {
        admin.get(&path).await.assert_status(StatusCode::OK);
    }
    let html = admin.get("/clients?q=nada").await.text();
    assert!(html.contains("Ningún cliente coincide con «nada»."));
}

#[tokio::test]
async fn anonymous_browsers_go_to_sign_in() {
    let app = TestApp::new().await;
    let res = app
        .send(
            Request::get("/clients")
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_client_is_created_edited_and_deleted_from_the_pages() {
    let app = TestApp::new().await;
    let browser = app.admin_browser().await;

    let res = browser
        .post(
            "/clients",
            &[("name", "Bazar"), ("email", "malo"), ("tax_id", "1-1")],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("El correo electrónico no es válido"),
        "{html}"
    );
    assert!(
        html.contains("value=\"Bazar\""),
        "the form keeps what was typed"
    );

    let res = browser
        .post(
            "/clients",
            &[
                ("name", "Bazar Central"),
                ("email", "bazar@central.cl"),
                ("phone", "+56 9 1111 2222"),
                ("comuna", "Valparaíso"),
                ("tax_country", "CL"),
                ("tax_id", "76.086.428-5"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let location = res.header("location").unwrap().to_owned();
    let id = location
        .trim_start_matches("/clients/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let page = browser.get(&location).await;
    assert!(page.text().contains("Cliente creado."));

    let res = browser
        .post(
            &format!("/clients/{id}"),
            &[
                ("version", "1"),
                ("name", "Bazar Central SpA"),
                ("email", "bazar@central.cl"),
                ("tax_country", "CL"),
                ("tax_id", ""),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    // The same stale version again: the form says the record changed.
    let res = browser
        .post(
            &format!("/clients/{id}"),
            &[
                ("version", "1"),
                ("name", "Otro"),
                ("email", "bazar@central.cl"),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .contains("El registro cambió desde que lo leíste")
    );

    // Deleting asks first: without `confirm=yes` the answer is the
    // question, and the client is still there.
    let res = browser.post(&format!("/clients/{id}/delete"), &[]).await;
    res.assert_status(StatusCode::OK);
    let html = res.text();
    assert!(html.contains("¿Eliminar a Bazar Central SpA?"), "{html}");
    assert!(html.contains(r#"name="confirm" value="yes""#), "{html}");
    browser
        .get(&format!("/clients/{id}"))
        .await
        .assert_status(StatusCode::OK);
    let res = browser
        .post(&format!("/clients/{id}/delete"), &[("confirm", "yes")])
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/clients?ok=client_deleted"));
}
