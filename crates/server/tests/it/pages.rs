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

#[tokio::test]
async fn every_admin_page_renders_for_an_admin() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let me = admin.get("/api/auth/me").await.json();
    let id = me["user"]["id"].as_str().unwrap().to_owned();
    for path in [
        "/profile".to_owned(),
        "/admin/users".to_owned(),
        "/admin/users?q=admin".to_owned(),
        "/admin/users/new".to_owned(),
        format!("/admin/users/{id}"),
        "/admin/roles".to_owned(),
        "/admin/roles/viewer".to_owned(),
        "/admin/api-keys".to_owned(),
        "/admin/audit".to_owned(),
        "/admin/audit?action=login.succeeded".to_owned(),
        "/admin/mail".to_owned(),
        "/admin/mail?state=failed&q=cliente".to_owned(),
    ] {
        let res = admin.get(&path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
        let html = res.text();
        assert!(html.contains("<html lang=\"es-CL\">"), "{path}");
        assert!(html.contains("Salir"), "{path}: signed-in header");
    }
    let html = admin.get("/admin/users").await.text();
    assert!(html.contains(faena_testkit::ADMIN_EMAIL));
    let html = admin.get("/admin/roles").await.text();
    for role in [
        "admin",
        "manager",
        "receptionist",
        "technician",
        "warehouse",
        "dispatcher",
        "driver",
        "viewer",
    ] {
        assert!(
            html.contains(&format!("/admin/roles/{role}")),
            "built-in role {role}"
        );
    }
}

#[tokio::test]
async fn admins_manage_users_roles_and_keys_from_the_pages() {
    let app = TestApp::new().await;
    let browser = app.admin_browser().await;

    // A user with errors: the form comes back with the messages.
    let res = browser
        .post(
            "/admin/users",
            &[
                ("name", ""),
                ("email", "malo"),
                ("role", "viewer"),
                ("password", "corta"),
            ],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("El correo electrónico no es válido"),
        "{html}"
    );
    assert!(html.contains("al menos 10 caracteres"));

    let res = browser
        .post(
            "/admin/users",
            &[
                ("name", "Bodeguero Uno"),
                ("email", "bodega@faena.test"),
                ("role", "warehouse"),
                ("locale", "es"),
                ("password", "Tetera-azul-contra-7-nubes"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let location = res.header("location").unwrap().to_owned();
    assert!(location.starts_with("/admin/users/") && location.ends_with("?ok=saved"));
    let page = browser.get(&location).await;
    assert!(page.text().contains("Cambios guardados."));
    app.login("bodega@faena.test", "Tetera-azul-contra-7-nubes")
        .await;

    // A custom role, then an API key.
    let res = browser
        .post(
            "/admin/roles",
            &[
                ("name", "auditor"),
                ("description", "Lee la auditoría"),
                ("permissions", "platform.audit.read"),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let res = browser
        .post(
            "/admin/roles",
            &[("name", "raro"), ("permissions", "no.existe.nunca")],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("El permiso no.existe.nunca no existe"));

    let res = browser
        .post(
            "/admin/api-keys",
            &[("name", "ERP"), ("permissions", "platform.users.read")],
        )
        .await;
    res.assert_status(StatusCode::OK);
    let html = res.text();
    let start = html.find("faena_").expect("the new key is shown once");
    let key: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    app.anonymous()
        .with_bearer(&key)
        .get("/api/users")
        .await
        .assert_status(StatusCode::OK);
}

/// Every destructive page action asks first, the same way: without
/// JavaScript the first post answers a confirmation page (the question
/// names the record; its button posts `confirm=yes`) and changes nothing;
/// the confirmed post does it. Deleting an order, a file, revoking an API
/// key.
#[tokio::test]
async fn destructive_actions_ask_first_and_change_nothing_until_confirmed() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let browser = app.admin_browser().await;
    let number = crate::support::an_order(&admin).await;
    let file = crate::uploads::upload(&admin, &number, "guía.pdf", b"%PDF-1.4\n%%EOF\n")
        .await
        .json();
    let file_id = file["id"].as_str().unwrap().to_owned();
    let key = admin
        .post_json(
            "/api/api-keys",
            &serde_json::json!({"name": "Integración ERP", "permissions": ["wms.orders.read"]}),
        )
        .await
        .json();
    let key_id = key["id"].as_str().unwrap().to_owned();
    let order_page = format!("/orders/{number}");

    let asks = [
        (
            format!("/orders/{number}/delete"),
            vec![],
            format!("¿Eliminar la orden {number}?"),
        ),
        (
            format!("/files/{file_id}/delete"),
            vec![("next", order_page.as_str())],
            "¿Eliminar el archivo «guía.pdf»?".to_owned(),
        ),
        (
            format!("/admin/api-keys/{key_id}/revoke"),
            vec![],
            "¿Revocar la clave «Integración ERP»?".to_owned(),
        ),
    ];
    for (action, fields, question) in &asks {
        let res = browser.post(action, fields).await;
        res.assert_status(StatusCode::OK);
        let html = res.text().replace("&#x2f;", "/");
        assert!(html.contains(question.as_str()), "{action}: {html}");
        assert!(html.contains(&format!(r#"action="{action}""#)), "{action}");
        assert!(html.contains(r#"name="confirm" value="yes""#), "{action}");
    }
    // Nothing happened yet.
    admin
        .get(&format!("/api/orders/{number}"))
        .await
        .assert_status(StatusCode::OK);
    admin
        .get(&format!("/api/files/{file_id}"))
        .await
        .assert_status(StatusCode::OK);
    let keys = admin.get("/api/api-keys").await.json();
    assert!(
        keys.as_array()
            .or(keys["items"].as_array())
            .unwrap()
            .iter()
            .any(|k| k["id"] == key_id.as_str() && k["revoked_at"].is_null()),
        "{keys}"
    );

    // Confirmed, each is done (the file before its order).
    for (action, fields, _) in [&asks[1], &asks[2], &asks[0]] {
        let mut fields = fields.clone();
        fields.push(("confirm", "yes"));
        let res = browser.post(action, &fields).await;
        res.assert_status(StatusCode::SEE_OTHER);
    }
    admin
        .get(&format!("/api/orders/{number}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    admin
        .get(&format!("/api/files/{file_id}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

/// Pages show local time (`time_zone`, America/Santiago by default, or
/// the zone on the reader's profile) as `dd-mm-aaaa HH:MM`; the API keeps
/// UTC; the CSV export writes local time with its offset.
#[tokio::test]
async fn pages_and_csv_show_the_readers_local_time_while_the_api_keeps_utc() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let browser = app.admin_browser().await;
    let number = crate::support::an_order(&admin).await;
    let order = admin.get(&format!("/api/orders/{number}")).await.json();
    let created = order["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z'), "the API answers in UTC: {created}");
    let utc = chrono::DateTime::parse_from_rfc3339(created).unwrap();
    let santiago = utc.with_timezone(&chrono_tz::America::Santiago);

    let html = browser.get(&format!("/orders/{number}")).await.text();
    let shown = santiago.format("%d-%m-%Y %H:%M").to_string();
    assert!(html.contains(&shown), "{shown} on the page: {html}");
    assert!(
        !html.contains(&created[..16]),
        "no raw UTC time on the page"
    );
    let list = browser.get("/orders").await.text();
    assert!(list.contains(&shown), "{shown} in the list");

    let csv = admin.get("/api/orders/export.csv").await.text();
    let expected = santiago
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        .to_string();
    assert!(csv.contains(&expected), "{expected} in the CSV: {csv}");

    // A user who works in another zone chooses it on their profile: their
    // pages, date filters and CSV exports follow it, while the API keeps
    // UTC and everyone else keeps the company's zone.
    let tokyo = utc.with_timezone(&chrono_tz::Asia::Tokyo);
    // A zone that does not exist is named, on the form's field.
    let res = browser
        .post(
            "/profile/preferences",
            &[("time_zone", "America/Atlantida")],
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(html.contains("No es una zona horaria conocida"), "{html}");
    assert!(html.contains("aria-invalid=\"true\""), "{html}");

    let res = browser
        .post("/profile/preferences", &[("time_zone", "Asia/Tokyo")])
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/profile?ok=saved"));
    let html = browser.get("/profile").await.text();
    assert!(
        html.contains("<option value=\"Asia&#x2f;Tokyo\" selected>"),
        "the chosen zone is shown as chosen: {html}"
    );
    let me = admin.get("/api/auth/me").await.json();
    assert_eq!(me["user"]["time_zone"], "Asia/Tokyo", "{me}");

    let html = browser.get(&format!("/orders/{number}")).await.text();
    let shown = tokyo.format("%d-%m-%Y %H:%M").to_string();
    assert!(html.contains(&shown), "{shown} (Tokyo) on the page: {html}");
    assert!(
        !html.contains(&santiago.format("%d-%m-%Y %H:%M").to_string()),
        "not the company's zone"
    );
    let csv = admin.get("/api/orders/export.csv").await.text();
    let offset = tokyo.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    assert!(offset.ends_with("+09:00"));
    assert!(csv.contains(&offset), "{offset} in the CSV: {csv}");
    // A day in a filter is a day in the reader's zone.
    let day = tokyo.format("%Y-%m-%d");
    let found = admin
        .get(&format!("/api/orders?from={day}&to={day}"))
        .await
        .json();
    assert!(
        found["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["number"] == number.as_str()),
        "{found}"
    );
    assert_eq!(
        admin.get(&format!("/api/orders/{number}")).await.json()["created_at"],
        created,
        "the API keeps UTC"
    );
    // Another user still reads the company's zone.
    let other = app.browser_for("warehouse").await;
    let html = other.get(&format!("/orders/{number}")).await.text();
    let shown = santiago.format("%d-%m-%Y %H:%M").to_string();
    assert!(
        html.contains(&shown),
        "{shown} (Santiago) for others: {html}"
    );

    // Through the API, and back to the company's zone with an empty one.
    let res = admin
        .send_json(
            axum::http::Method::PATCH,
            "/api/auth/me",
            &serde_json::json!({ "time_zone": "Mars/Olympus" }),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("time_zone"), "the field is named");
    let res = admin
        .send_json(
            axum::http::Method::PATCH,
            "/api/auth/me",
            &serde_json::json!({ "time_zone": "" }),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert!(res.json()["time_zone"].is_null());
    let html = browser.get(&format!("/orders/{number}")).await.text();
    assert!(html.contains(&shown), "{shown} (Santiago) again: {html}");
}

#[tokio::test]
async fn the_admin_lists_count_filter_sort_and_page_like_every_list() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for role in ["warehouse", "warehouse", "viewer"] {
        app.create_user(role).await;
    }
    // Users: filtered by role, in name order, the total told; roles in words.
    let html = admin.get("/admin/users?role=warehouse").await.text();
    assert!(html.contains("Mostrando 1–2 de 2"), "{html}");
    assert!(
        html.contains("<td data-label=\"Rol\">Bodega</td>"),
        "{html}"
    );
    assert!(!html.contains("viewer@faena.test"), "{html}");
    let html = admin.get("/admin/users?sort=email&dir=desc").await.text();
    let rows = &html[html.find("<tbody>").unwrap()..];
    let at = |needle: &str| {
        rows.find(needle)
            .unwrap_or_else(|| panic!("{needle}: {rows}"))
    };
    assert!(at("warehouse@faena.test") < at("warehouse-1@faena.test"));
    assert!(at("viewer@faena.test") < at("admin@"));
    assert!(html.contains("Mostrando 1–4 de 4"), "{html}");
    admin
        .get("/admin/users?sort=password_hash")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    // The audit log: today's entries in local days, counted and paged.
    let today = chrono::Utc::now()
        .with_timezone(&app.state.time_zone())
        .format("%Y-%m-%d")
        .to_string();
    let html = admin
        .get(&format!(
            "/admin/audit?action=create&entity=user&from={today}&to={today}&per_page=2"
        ))
        .await
        .text();
    assert!(
        html.contains("Mostrando 1–2 de 4"),
        "the first admin and three more: {html}"
    );
    assert!(html.contains("aria-label=\"Página 2\""), "{html}");
    assert!(html.contains("creó el usuario"), "{html}");
    let html = admin
        .get("/admin/audit?action=create&entity=user&from=2001-01-01&to=2001-01-02")
        .await
        .text();
    assert!(html.contains("No hay entradas que coincidan."), "{html}");
    // Each list's CSV link carries its filters, and the export honours them.
    let html = admin.get("/admin/users?role=warehouse").await.text();
    assert!(
        html.contains("&#x2f;admin&#x2f;users&#x2f;export.csv?role=warehouse"),
        "{html}"
    );
    let csv = admin
        .get("/admin/users/export.csv?role=warehouse&sort=email&dir=asc")
        .await
        .text();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[0].contains("Nombre;Correo electrónico;Rol;Activo"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("Usuario warehouse;warehouse-1@faena.test;Bodega;Sí;"),
        "{}",
        rows[1]
    );
    let csv = admin
        .get(&format!(
            "/admin/audit/export.csv?action=create&entity=user&from={today}&to={today}"
        ))
        .await
        .text();
    assert_eq!(
        csv.lines().count(),
        5,
        "a header and the four creations: {csv}"
    );
    assert!(
        csv.contains("creó el usuario Usuario viewer;create;user;"),
        "{csv}"
    );
    let csv = admin.get("/admin/mail/export.csv").await;
    csv.assert_status(StatusCode::OK);
    assert!(
        csv.text().contains("Asunto;Para;Estado;Intentos"),
        "{}",
        csv.text()
    );

    let res = admin.get("/admin/audit?from=ayer").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("from"), "{}", res.text());
}
