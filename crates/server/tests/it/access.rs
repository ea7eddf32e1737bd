//! Deny by default, proven over every route of the OpenAPI document: an
//! anonymous call gets 401, a role without the permission 403, and a role
//! holding exactly that permission gets through. New routes are covered
//! without touching this test.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use faena_testkit::browser::Browser;
use faena_testkit::{Client, TestApp, TestResponse};
use serde_json::{Value, json};

struct Operation {
    method: Method,
    path: String,
    /// `None` public, `Some(None)` any signed-in caller, `Some(Some(p))`.
    access: Option<Option<String>>,
}

/// A route template with its path parameters given values that name
/// nothing.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "00000000-0000-0000-0000-000000000000"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            let security = &op["security"][0];
            let access = match security.as_object() {
                Some(map) if map.is_empty() => None,
                Some(map) => Some(
                    map["bearer"]
                        .as_array()
                        .and_then(|s| s.first())
                        .and_then(|s| s.as_str())
                        .map(str::to_owned),
                ),
                None => panic!("{method} {path} declares no security"),
            };
            out.push(Operation {
                method,
                path: concrete(path),
                access,
            });
        }
    }
    out
}

async fn call(client: &Client, op: &Operation) -> StatusCode {
    let mut req = Request::builder().method(op.method.clone()).uri(&op.path);
    let body = if matches!(op.method, Method::POST | Method::PUT | Method::PATCH) {
        req = req.header("content-type", "application/json");
        Body::from("{}")
    } else {
        Body::empty()
    };
    client.send(req.body(body).unwrap()).await.status
}

#[tokio::test]
async fn every_api_route_denies_by_default() {
    let app = TestApp::new().await;
    let doc = app.get("/api/openapi.json").await.json();
    let ops = operations(&doc);
    assert!(ops.len() >= 20, "the walk sees the API: {}", ops.len());

    let admin = app.admin().await;
    // A role with no permission at all.
    admin
        .post_json("/api/roles", &json!({"name": "nothing", "permissions": []}))
        .await
        .assert_status(StatusCode::CREATED);
    let nobody = app.client_for("nothing").await;
    let anonymous = app.anonymous();

    let mut checked_permissions = std::collections::BTreeMap::new();
    for op in &ops {
        let label = format!("{} {}", op.method, op.path);
        match &op.access {
            None => {
                let status = call(&anonymous, op).await;
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{label} is public");
            }
            Some(required) => {
                assert_eq!(
                    call(&anonymous, op).await,
                    StatusCode::UNAUTHORIZED,
                    "{label}: anonymous"
                );
                match required {
                    None => {
                        let status = call(&nobody, op).await;
                        assert!(
                            ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&status),
                            "{label}: signed in, got {status}"
                        );
                    }
                    Some(perm) => {
                        assert_eq!(
                            call(&nobody, op).await,
                            StatusCode::FORBIDDEN,
                            "{label}: without {perm}"
                        );
                        checked_permissions
                            .entry(perm.clone())
                            .or_insert_with(Vec::new)
                            .push(op);
                    }
                }
            }
        }
    }

    // For each permission, a role holding exactly it gets through.
    for (perm, ops) in checked_permissions {
        let role = perm.replace('.', "_");
        admin
            .post_json("/api/roles", &json!({"name": role, "permissions": [perm]}))
            .await
            .assert_status(StatusCode::CREATED);
        let holder = app.client_for(&role).await;
        for op in ops {
            let status = call(&holder, op).await;
            assert!(
                ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&status),
                "{} {} with {perm}: got {status}",
                op.method,
                op.path
            );
        }
    }

    // Every denial is in the audit log.
    let denials = admin
        .get("/api/audit?action=permission.denied&limit=500")
        .await
        .json();
    assert!(!denials["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn pages_send_anonymous_browsers_to_sign_in() {
    let app = TestApp::new().await;
    let res = app
        .send(
            Request::get("/admin/users")
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/login?next=%2Fadmin%2Fusers"));

    let viewer = app.client_for("viewer").await;
    viewer
        .get("/admin/users")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    app.admin()
        .await
        .get("/admin/users")
        .await
        .assert_status(StatusCode::OK);
}

/// The same walk over every page route, as browsers do it (a session
/// cookie, and the CSRF token in every form): an anonymous browser is sent
/// to sign in, a role without the permission gets 403, a role holding just
/// that permission gets through.
#[tokio::test]
async fn every_page_route_denies_by_default() {
    use faena_platform::auth::Access;
    let app = TestApp::new().await;
    let pages = faena_server::app::page_routes(&faena_server::modules::all());
    assert!(
        pages.len() >= 20,
        "the walk sees the pages: {}",
        pages.len()
    );
    let admin = app.admin().await;
    admin
        .post_json("/api/roles", &json!({"name": "nothing", "permissions": []}))
        .await
        .assert_status(StatusCode::CREATED);
    let nobody = app.browser_for("nothing").await;
    let mut holders = std::collections::BTreeMap::new();
    for (method, path, access) in &pages {
        let label = format!("{method} {path}");
        if *access == Access::Public {
            continue;
        }
        let res = anonymous_page_call(&app, method, path).await;
        // Sent to sign in, or refused outright (a form post without a
        // session fails its CSRF check first).
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&res.status)
                || (res.status == StatusCode::SEE_OTHER
                    && res
                        .header("location")
                        .is_some_and(|l| l.starts_with("/login"))),
            "{label}: anonymous got {}",
            res.status
        );
        if let Access::Permission(p) = access {
            let res = page_call(&nobody, method, path).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{label}: without {p}");
            holders
                .entry(p.to_string())
                .or_insert_with(Vec::new)
                .push((method, path));
        }
    }
    for (perm, routes) in holders {
        let role = format!("page_{}", perm.replace('.', "_"));
        admin
            .post_json("/api/roles", &json!({"name": role, "permissions": [perm]}))
            .await
            .assert_status(StatusCode::CREATED);
        let holder = app.browser_for(&role).await;
        for (method, path) in routes {
            let status = page_call(&holder, method, path).await.status;
            assert!(
                ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&status),
                "{method} {path} with {perm}: got {status}"
            );
        }
    }
}

/// A page request from a signed-in browser (its cookie, and its CSRF
/// token in a form).
async fn page_call(browser: &Browser, method: &Method, path: &str) -> TestResponse {
    if method == Method::POST {
        browser.post(&concrete(path), &[]).await
    } else {
        browser.get(&concrete(path)).await
    }
}

/// A page request from a browser that has not signed in.
async fn anonymous_page_call(app: &TestApp, method: &Method, path: &str) -> TestResponse {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(concrete(path))
        .header("accept", "text/html");
    if method == Method::POST {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    app.anonymous().send(req.body(Body::empty()).unwrap()).await
}
