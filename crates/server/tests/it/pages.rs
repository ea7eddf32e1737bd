//! The UI shell: home page, language switch, assets and API docs page.

use axum::http::StatusCode;
use faena_testkit::TestApp;

#[tokio::test]
async fn home_page_is_spanish_by_default_and_english_on_request() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let res = admin.get("/").await;
    res.assert_status(StatusCode::OK);
    let html = res.text();
    assert!(html.contains("<html lang=\"es-CL\">"));
    assert!(html.contains("<title>Inicio · Faena</title>"));
    assert!(html.contains("name=\"viewport\""), "readable on a phone");

    let html = admin
        .with_header("accept-language", "en")
        .get("/")
        .await
        .text();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<title>Home · Faena</title>"));
}

#[tokio::test]
async fn language_switch_sets_a_cookie_and_goes_back() {
    let app = TestApp::new().await;
    let res = app.get("/lang/en?next=/api/docs").await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/api/docs"));
    let cookie = res.header("set-cookie").unwrap();
    assert!(cookie.starts_with("lang=en;"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"));

    // The cookie wins over Accept-Language.
    let req = axum::http::Request::get("/login")
        .header("cookie", "lang=en")
        .header("accept-language", "es-CL")
        .body(axum::body::Body::empty())
        .unwrap();
    assert!(app.send(req).await.text().contains("<html lang=\"en\">"));

    // Never an open redirect.
    let res = app.get("/lang/es?next=//evil.example").await;
    assert_eq!(res.header("location"), Some("/"));
    let res = app.get("/lang/xx").await;
    res.assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn assets_are_embedded_and_cacheable() {
    let app = TestApp::new().await;
    let html = app.get("/login").await.text();
    for asset in ["app.css", "htmx.min.js", "app.js"] {
        let prefix = format!("/assets/{asset}?v=");
        assert!(html.contains(&prefix), "layout links {asset}");
    }
    let res = app.get("/assets/htmx.min.js").await;
    res.assert_status(StatusCode::OK);
    assert!(res.content_type().starts_with("text/javascript"));
    assert!(res.header("cache-control").unwrap().contains("immutable"));
    assert!(res.body.len() > 10_000);
    app.get("/assets/nope.js")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_docs_page_is_served_locally() {
    let app = TestApp::new().await;
    let res = app.get("/api/docs").await;
    res.assert_status(StatusCode::OK);
    let html = res.text();
    assert!(html.contains("spec-url=\"/api/openapi.json\""));
    assert!(html.contains("/assets/rapidoc-min.js?v="));
    assert!(!html.contains("https://"), "no CDN: {html}");
    let csp = res.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"));
}

#[test]
fn every_text_exists_in_spanish_and_english() {
    let mut i18n = faena_platform::I18n::default();
    for (locale, source) in faena_platform::TRANSLATIONS {
        i18n.add(*locale, source).unwrap();
    }
    for module in faena_server::modules::all() {
        for (locale, source) in module.translations() {
            i18n.add(*locale, source).unwrap();
        }
    }
    let missing = i18n.missing();
    assert!(missing.is_empty(), "untranslated: {missing:?}");
}
