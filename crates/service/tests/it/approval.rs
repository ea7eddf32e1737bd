//! The customer without an account: the estimate mailed with its approval
//! link (valid, expired, reused, tampered with), the tracking page, and an
//! outbox row for every notice, resent on demand.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use faena_testkit::browser::{csrf_of, set_cookie};
use faena_testkit::{Client, TestApp, TestResponse};
use serde_json::{Value, json};

use crate::{an_intake, move_to, setup};

/// Takes a device in with the customer's address; returns its number.
async fn intake_mailed(user: &Client, client_id: &str) -> String {
    let mut body = an_intake(client_id);
    body["contact_email"] = json!("ana.perez@clientes.cl");
    let res = user.post_json("/api/service-orders", &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()["number"].as_str().unwrap().to_owned()
}

/// The outbox rows about the order, oldest first.
async fn mails(admin: &Client, number: &str) -> Vec<Value> {
    let res = admin
        .get(&format!(
            "/api/mail?related_entity=service_order&related_id={number}&limit=100"
        ))
        .await;
    res.assert_status(StatusCode::OK);
    let mut items = res.json()["items"].as_array().unwrap().clone();
    items.reverse();
    items
}

async fn templates(admin: &Client, number: &str) -> Vec<String> {
    mails(admin, number)
        .await
        .iter()
        .map(|m| m["template"].as_str().unwrap().to_owned())
        .collect()
}

/// The path of the link the newest mail of `template` carries.
async fn link_in(admin: &Client, number: &str, template: &str, prefix: &str) -> String {
    let all = mails(admin, number).await;
    let m = all
        .iter()
        .rev()
        .find(|m| m["template"] == template)
        .unwrap_or_else(|| panic!("a {template} mail: {all:?}"));
    let detail = admin
        .get(&format!("/api/mail/{}", m["id"].as_str().unwrap()))
        .await
        .json();
    let text = detail["text"].as_str().unwrap().to_owned();
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {text}"));
    text[at..].split_whitespace().next().unwrap().to_owned()
}

/// An order whose estimate was mailed; returns its number and the link.
async fn estimate_sent(admin: &Client, client_id: &str) -> (String, String) {
    let number = intake_mailed(admin, client_id).await;
    crate::put(
        admin,
        &format!("/api/service-orders/{number}/lines"),
        &json!({"lines": [
            {"kind": "part", "description": "Pantalla original", "quantity": 1, "unit_price_clp": 45990},
            {"kind": "labour", "description": "Mano de obra", "quantity": 1, "unit_price_clp": 15000},
        ]}),
    )
    .await
    .assert_status(StatusCode::OK);
    for to in ["diagnosing", "awaiting_approval"] {
        move_to(admin, &number, to, None)
            .await
            .assert_status(StatusCode::OK);
    }
    let link = link_in(admin, &number, "service_estimate", "/service/approve/").await;
    (number, link)
}

/// Someone without an account opens `path`, then answers its form (with
/// the form's CSRF token; a page without a form lends the login page's,
/// as a browser would still have one).
async fn answer(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> (TestResponse, TestResponse) {
    let anonymous = app.anonymous();
    let open = |p: &str| {
        Request::get(p)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap()
    };
    let page = anonymous.send(open(path)).await;
    let (cookie, csrf) = if page.text().contains("name=\"_csrf\"") {
        (set_cookie(&page, "faena_pre"), csrf_of(&page.text()))
    } else {
        let login = anonymous.send(open("/login")).await;
        (set_cookie(&login, "faena_pre"), csrf_of(&login.text()))
    };
    let cookie = cookie.expect("a pre-session cookie");
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("_csrf", &csrf)
        .extend_pairs(fields)
        .finish();
    // From behind the shop's proxy (127.0.0.1), for the customer at
    // 203.0.113.9.
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, format!("faena_pre={cookie}"))
        .header("x-forwarded-for", "203.0.113.9")
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40_000,
        ))));
    let res = anonymous.send(req.body(Body::from(body)).unwrap()).await;
    (page, res)
}

async fn status_of(admin: &Client, number: &str) -> String {
    admin
        .get(&format!("/api/service-orders/{number}"))
        .await
        .json()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_customer_approves_through_the_mailed_link_once() {
    let app = TestApp::with_config(|c| c.http.trusted_proxies = vec![[127, 0, 0, 1].into()]).await;
    let admin = app.admin().await;
    let client_id = crate::a_client(&admin, "Ana Pérez").await;
    let (number, link) = estimate_sent(&admin, &client_id).await;
    // 32 random bytes, URL-safe: 43 characters.
    assert_eq!(
        link.trim_start_matches("/service/approve/").len(),
        43,
        "{link}"
    );

    // A name too short is refused on the form; nothing changes.
    let (page, res) = answer(
        &app,
        &link,
        &[("decision", "approve"), ("signer_name", "A")],
    )
    .await;
    page.assert_status(StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("Presupuesto de la orden") && html.contains("Servicio técnico"),
        "{html}"
    );
    // 45 990 + 15 000 = 60 990; IVA 11 588,1 → 11 588; total 72 578.
    assert!(
        html.contains("$60.990") && html.contains("$11.588") && html.contains("$72.578"),
        "{html}"
    );
    assert!(
        !html.contains("356789104455667"),
        "no serial on the public page"
    );
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().contains("Escribe tu nombre completo"),
        "{}",
        res.text()
    );
    assert_eq!(status_of(&admin, &number).await, "awaiting_approval");

    let (_, res) = answer(
        &app,
        &link,
        &[("decision", "approve"), ("signer_name", "Ana Pérez Soto")],
    )
    .await;
    res.assert_status(StatusCode::OK);
    assert!(
        res.text().contains("Aprobaste el presupuesto"),
        "{}",
        res.text()
    );
    let v = admin
        .get(&format!("/api/service-orders/{number}"))
        .await
        .json();
    assert_eq!(v["status"], "approved");
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to_status"], "approved");
    assert_eq!(last["actor"], "Ana Pérez Soto");

    // Audited with the signature: name, time and address.
    let audit = admin
        .get(&format!(
            "/api/audit?entity=service_order&entity_id={number}&action=service_estimate.answered"
        ))
        .await
        .json();
    let entry = &audit["items"][0];
    assert_eq!(entry["actor"], "Ana Pérez Soto");
    assert_eq!(entry["after"]["decision"], "approved");
    assert_eq!(entry["after"]["signer_name"], "Ana Pérez Soto");
    assert!(entry["after"]["signed_at"].is_string());
    assert_eq!(
        entry["after"]["ip"], "203.0.113.9",
        "the client's, not the proxy's"
    );
    assert_eq!(entry["ip"], "203.0.113.9");

    // The desk sees who signed.
    let desk = app.admin_browser().await;
    assert!(
        desk.get(&format!("/service-orders/{number}"))
            .await
            .text()
            .contains("Aprobado por Ana Pérez Soto")
    );

    // Used once: a second answer is refused, 410, and changes nothing.
    let (page, res) = answer(
        &app,
        &link,
        &[("decision", "reject"), ("signer_name", "Otra Persona")],
    )
    .await;
    page.assert_status(StatusCode::GONE);
    assert!(page.text().contains("Este enlace ya no sirve"));
    res.assert_status(StatusCode::GONE);
    assert_eq!(status_of(&admin, &number).await, "approved");
}

#[tokio::test]
async fn expired_tampered_and_replaced_links_change_nothing() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let (app, admin, client_id) = setup().await;
    let (number, link) = estimate_sent(&admin, &client_id).await;

    // Tampered with: unknown, 404.
    let mut chars: Vec<char> = link.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let (page, res) = answer(
        &app,
        &tampered,
        &[("decision", "approve"), ("signer_name", "Ana Pérez")],
    )
    .await;
    page.assert_status(StatusCode::NOT_FOUND);
    assert!(page.text().contains("Este enlace no existe"));
    res.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(status_of(&admin, &number).await, "awaiting_approval");

    // The desk mails it again: a new link, and the old one stops working.
    let res = admin
        .post_json(
            &format!("/api/service-orders/{number}/estimate/send"),
            &json!({"valid_days": 3}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let newer = link_in(&admin, &number, "service_estimate", "/service/approve/").await;
    assert_ne!(newer, link);
    let (page, _) = answer(
        &app,
        &link,
        &[("decision", "approve"), ("signer_name", "Ana Pérez")],
    )
    .await;
    page.assert_status(StatusCode::GONE);
    assert_eq!(status_of(&admin, &number).await, "awaiting_approval");

    // Past its date: 410, nothing changed.
    use faena_service::orders::store::approval;
    approval::Entity::update_many()
        .col_expr(
            approval::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::hours(1)),
        )
        .filter(approval::Column::UsedAt.is_null())
        .exec(app.state.db())
        .await
        .unwrap();
    let (page, res) = answer(
        &app,
        &newer,
        &[("decision", "reject"), ("signer_name", "Ana Pérez")],
    )
    .await;
    page.assert_status(StatusCode::GONE);
    assert!(
        page.text().contains("Este enlace venció"),
        "{}",
        page.text()
    );
    res.assert_status(StatusCode::GONE);
    assert_eq!(status_of(&admin, &number).await, "awaiting_approval");
    let audit = admin
        .get(&format!(
            "/api/audit?entity=service_order&entity_id={number}&action=service_estimate.answered"
        ))
        .await
        .json();
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        0,
        "nothing signed"
    );

    // Bad input to the send: out of range, 422.
    let res = admin
        .post_json(
            &format!("/api/service-orders/{number}/estimate/send"),
            &json!({"valid_days": 90}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::fields(&res), ["valid_days"]);
}

#[tokio::test]
async fn the_tracking_page_shows_status_and_dates_and_nothing_personal() {
    let (app, admin, client_id) = setup().await;
    let number = intake_mailed(&admin, &client_id).await;
    let link = link_in(&admin, &number, "service_intake", "/service/track/").await;
    let page = app
        .anonymous()
        .send(
            Request::get(&link)
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    page.assert_status(StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains(&number) && html.contains("Recibida"),
        "{html}"
    );
    assert!(html.contains("15-12-2026"), "the promised date");
    assert!(!html.contains("Ana Pérez"), "no customer name");
    assert!(!html.contains("356789104455667"), "no serial");
    assert!(!html.contains("ana.perez@clientes.cl"), "no address");
    assert!(!html.contains("No carga"), "not even the fault");

    for to in [
        "diagnosing",
        "awaiting_approval",
        "approved",
        "in_repair",
        "ready",
    ] {
        move_to(&admin, &number, to, None)
            .await
            .assert_status(StatusCode::OK);
    }
    let html = app
        .anonymous()
        .send(
            Request::get(&link)
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .text();
    assert!(html.contains("Lista para retiro"), "{html}");

    let unknown = app
        .anonymous()
        .send(
            Request::get("/service/track/nope")
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    unknown.assert_status(StatusCode::NOT_FOUND);
    assert!(unknown.text().contains("Este enlace no existe"));
}

#[tokio::test]
async fn every_notice_is_an_outbox_row_and_can_be_resent() {
    let (app, admin, client_id) = setup().await;
    let number = intake_mailed(&admin, &client_id).await;
    assert_eq!(templates(&admin, &number).await, ["service_intake"]);
    for to in ["diagnosing", "awaiting_approval"] {
        move_to(&admin, &number, to, None)
            .await
            .assert_status(StatusCode::OK);
    }
    assert_eq!(
        templates(&admin, &number).await,
        ["service_intake", "service_estimate"]
    );
    for to in ["approved", "in_repair", "ready"] {
        move_to(&admin, &number, to, None)
            .await
            .assert_status(StatusCode::OK);
    }
    move_to(&admin, &number, "delivered", None)
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        templates(&admin, &number).await,
        [
            "service_intake",
            "service_estimate",
            "service_ready",
            "service_delivered"
        ]
    );
    let all = mails(&admin, &number).await;
    assert!(
        all.iter()
            .all(|m| m["to"] == json!(["ana.perez@clientes.cl"])),
        "{all:?}"
    );
    let ready = admin
        .get(&format!("/api/mail/{}", all[2]["id"].as_str().unwrap()))
        .await
        .json();
    assert!(
        ready["subject"]
            .as_str()
            .unwrap()
            .contains("Tu equipo está listo"),
        "{ready}"
    );

    // Resent from the order's page: another row, audited.
    let desk = app.browser_for("receptionist").await;
    let html = desk.get(&format!("/service-orders/{number}")).await.text();
    assert!(
        html.contains("Reenviar aviso de entrega") && html.contains("Reenviar aviso de recepción")
    );
    assert!(
        !html.contains("Reenviar presupuesto"),
        "only what fits the status"
    );
    let res = desk
        .post(&format!("/service-orders/{number}/mail/intake"), &[])
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let res = desk
        .post(&format!("/service-orders/{number}/mail/delivered"), &[])
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        templates(&admin, &number).await,
        [
            "service_intake",
            "service_estimate",
            "service_ready",
            "service_delivered",
            "service_intake",
            "service_delivered"
        ]
    );
    let audit = admin
        .get(&format!(
            "/api/audit?entity=service_order&entity_id={number}&action=service_notice.sent"
        ))
        .await
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);
    // A notice that does not fit the status is refused on the page.
    let res = desk
        .post(&format!("/service-orders/{number}/mail/estimate"), &[])
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(templates(&admin, &number).await.len(), 6);

    // Told not to mail (an empty address), nothing is mailed and nothing
    // fails.
    let mut body = crate::an_intake(&client_id);
    body["contact_email"] = json!("");
    let quiet = admin.post_json("/api/service-orders", &body).await;
    quiet.assert_status(StatusCode::CREATED);
    let quiet = quiet.json()["number"].as_str().unwrap().to_owned();
    assert!(templates(&admin, &quiet).await.is_empty());
}

#[tokio::test]
async fn without_a_typed_address_the_customer_is_mailed_at_their_own() {
    let (_app, admin, client_id) = setup().await;
    let own = admin.get(&format!("/api/clients/{client_id}")).await.json()["email"].clone();
    assert!(own.is_string(), "{own}");
    let order = crate::intake(&admin, &client_id).await;
    assert_eq!(order["contact_email"], own, "kept on the order: {order}");
    let number = order["number"].as_str().unwrap();
    let all = mails(&admin, number).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["template"], "service_intake");
    assert_eq!(all[0]["to"], json!([own]));
}
