//! The admin API's answers to bad input, and the admin page.

use super::*;

#[tokio::test]
async fn bad_input_on_the_admin_api_is_a_422_naming_the_field() {
    let app = app(false).await;
    let admin = app.admin().await;
    let post = |body: Value| {
        let admin = admin.clone();
        async move { admin.post_json("/api/webhooks/endpoints", &body).await }
    };
    let cases = [
        (json!({"event_types": ["*"]}), "url", "required"),
        (json!({"url": 42, "event_types": ["*"]}), "url", "invalid"),
        (
            json!({"url": "https://a.example.com"}),
            "event_types",
            "required",
        ),
        (
            json!({"url": "https://a.example.com", "event_types": []}),
            "event_types",
            "required",
        ),
        (
            json!({"url": "https://a.example.com", "event_types": ["order.*", "Order Created"]}),
            "event_types[1]",
            "event_type",
        ),
        (
            json!({"url": "https://a.example.com", "event_types": ["*"], "secret": "mine"}),
            "secret",
            "unknown",
        ),
        (
            json!({"url": "https://a.example.com", "event_types": ["*"], "description": "x".repeat(501)}),
            "description",
            "too_long",
        ),
        (
            json!({"url": "not a url", "event_types": ["*"]}),
            "url",
            "invalid",
        ),
    ];
    for (body, field, code) in cases {
        let res = post(body.clone()).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text()
        );
        assert_eq!(res.content_type(), "application/problem+json");
        let problem = res.json();
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["code"] == code),
            "{body}: {problem}"
        );
        assert!(errors.iter().all(|e| e["message"].is_string()));
    }
    // Every invalid field at once.
    let res = post(json!({"url": "gopher://x", "event_types": ["order.*", "NO"]})).await;
    let fields: Vec<String> = res.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, vec!["url", "event_types[1]"]);

    // Changes are checked the same way, and honour If-Match.
    let created = register(&admin, "https://a.example.com/in", &["order.*"]).await;
    let path = format!(
        "/api/webhooks/endpoints/{}",
        created["id"].as_str().unwrap()
    );
    let res = admin
        .send_json(
            Method::PATCH,
            &path,
            &json!({"url": "http://192.168.1.10/"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "url");
    let res = admin
        .send_json(Method::PATCH, &path, &json!({"active": "yes"}))
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "active");
    let res = admin
        .clone()
        .with_header("if-match", "\"7\"")
        .send_json(Method::PATCH, &path, &json!({"description": "otra"}))
        .await;
    res.assert_status(StatusCode::PRECONDITION_FAILED);
    let res = admin
        .send_json(
            Method::PATCH,
            &path,
            &json!({"description": "otra", "event_types": ["*"]}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["version"], 2);
    assert_eq!(res.json()["event_types"], json!(["*"]));

    // Filters name the bad parameter.
    for (query, field) in [
        ("endpoint_id=nope", "endpoint_id"),
        ("state=lost", "state"),
        ("limit=0", "limit"),
        ("cursor=%%%", "cursor"),
    ] {
        let res = admin
            .get(&format!("/api/webhooks/deliveries?{query}"))
            .await;
        res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.json()["errors"][0]["field"], field, "{query}");
    }
    let res = admin.get("/api/webhooks/inbound?state=x").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "state");

    // The secret: once on creation, then on an audited request.
    let secret = created["secret"].as_str().unwrap();
    let res = admin.get(&format!("{path}/secret")).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["secret"], secret);
    let stored = endpoint::Entity::find()
        .one(app.state.db())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.secret.contains(secret.trim_start_matches("whsec_")));
    let viewer = app.client_for("viewer").await;
    viewer
        .get("/api/webhooks/endpoints")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    viewer
        .get(&format!("{path}/secret"))
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // Deleting takes its log with it.
    admin
        .delete(&path)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    admin.get(&path).await.assert_status(StatusCode::NOT_FOUND);
    let trail = admin.get("/api/audit?entity=webhook_endpoint").await.json();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        ["create", "update", "webhook.secret_read", "delete"]
            .iter()
            .all(|a| actions.contains(a)),
        "{actions:?}"
    );
}

#[tokio::test]
async fn an_admin_registers_and_switches_endpoints_from_the_page() {
    let app = app(false).await;
    let browser = app.admin_browser().await;

    // A refused URL comes back with the reason, in Spanish, and the form.
    let res = browser
        .post(
            "/admin/webhooks",
            &[
                ("url", "http://192.168.0.10/hook"),
                ("event_types", "order.*"),
                ("description", ""),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("apunta a una dirección interna"), "{html}");
    assert!(html.contains("value=\"order.*\""), "{html}");

    // An event nothing sends is refused, and the form says which exist.
    let res = browser
        .post(
            "/admin/webhooks",
            &[
                ("url", "https://erp.example.com/hooks"),
                ("event_types", "client.created"),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("Ningún módulo envía eventos «client.created»")
            && html.contains("<code>order.status_changed</code>"),
        "{html}"
    );

    // A good one: the secret is shown once, in the answer.
    let res = browser
        .post(
            "/admin/webhooks",
            &[
                ("url", "https://erp.example.com/hooks"),
                ("event_types", "order.*, order.deleted"),
                ("description", "ERP"),
            ],
        )
        .await;
    res.assert_status(StatusCode::OK);
    let html = res.text();
    assert!(html.contains("whsec_"), "{html}");
    let ep = endpoint::Entity::find()
        .one(app.state.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ep.event_types, r#"["order.*","order.deleted"]"#);

    let page = browser.get("/admin/webhooks").await.text();
    assert!(
        page.contains("Activo") && !page.contains("whsec_"),
        "{page}"
    );

    let res = browser
        .post(&format!("/admin/webhooks/{}/disable", ep.id), &[])
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let page = browser.get(res.header("location").unwrap()).await.text();
    assert!(page.contains("Destino desactivado.") && page.contains("Desactivado"));
    browser
        .post(&format!("/admin/webhooks/{}/enable", ep.id), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let ep = endpoint::Entity::find_by_id(ep.id)
        .one(app.state.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ep.state, "active");

    // A viewer cannot see the page.
    let viewer = app.client_for("viewer").await;
    viewer
        .get("/admin/webhooks")
        .await
        .assert_status(StatusCode::FORBIDDEN);
}
