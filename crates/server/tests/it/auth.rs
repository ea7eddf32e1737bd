//! Signing in and staying safe: throttling, token rotation, API keys,
//! sessions with CSRF, passwords, users and roles.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use faena_testkit::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

use crate::support::{csrf_of, set_cookie};
use serde_json::json;

fn login_from(ip: [u8; 4], email: &str, password: &str) -> Request<Body> {
    let mut req = Request::post("/api/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"email": email, "password": password}).to_string(),
        ))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    req
}

#[tokio::test]
async fn twenty_wrong_passwords_lock_the_account_and_are_audited() {
    let app = TestApp::new().await;
    let mut statuses = Vec::new();
    let mut waits = Vec::new();
    for _ in 0..20 {
        let res = app
            .send(login_from([10, 0, 0, 7], ADMIN_EMAIL, "not-the-password"))
            .await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = res.header("retry-after").unwrap().parse().unwrap();
            waits.push(wait);
            assert_eq!(res.json()["code"], "too_many_requests");
        }
        statuses.push(res.status);
    }
    // The wait after the 5th failure is 30 s, and refused tries neither
    // extend it nor reset it: it only counts down.
    assert!(
        waits.iter().all(|w| (25..=30).contains(w)),
        "Retry-After is the time left: {waits:?}"
    );
    assert!(waits.windows(2).all(|w| w[1] <= w[0]), "{waits:?}");
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(throttled >= 15, "{statuses:?}");
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );

    // The right password from the failing address waits too...
    let res = app
        .send(login_from([10, 0, 0, 7], ADMIN_EMAIL, ADMIN_PASSWORD))
        .await;
    res.assert_status(StatusCode::TOO_MANY_REQUESTS);
    // ...but from an address that has not been failing, the owner signs
    // in: wrong passwords typed elsewhere do not lock them out.
    app.send(login_from([10, 0, 0, 70], ADMIN_EMAIL, ADMIN_PASSWORD))
        .await
        .assert_status(StatusCode::OK);

    // Every attempt is in the audit log, with the address.
    faena_platform::audit::seal(app.state.db()).await.unwrap();
    let db_entries = faena_platform::audit::api::query(
        &app.state,
        &faena_platform::audit::api::AuditFilter::default(),
        &faena_platform::http::pagination::PageQuery::first(500),
    )
    .await
    .unwrap();
    let attempts: Vec<_> = db_entries
        .items
        .iter()
        .filter(|e| e.action == "login.failed" || e.action == "login.throttled")
        .collect();
    assert_eq!(attempts.len(), 21);
    assert!(attempts.iter().all(|e| e.ip.as_deref() == Some("10.0.0.7")));
}

#[tokio::test]
async fn unknown_accounts_and_wrong_passwords_look_the_same() {
    let app = TestApp::new().await;
    let unknown = app
        .send(login_from(
            [10, 0, 0, 8],
            "nadie@faena.test",
            "whatever-123",
        ))
        .await;
    let wrong = app
        .send(login_from([10, 0, 0, 9], ADMIN_EMAIL, "whatever-123"))
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.json()["title"], wrong.json()["title"]);
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_throttled() {
    let app = TestApp::new().await;
    let mut last = StatusCode::OK;
    // Twice the per-account limit, across accounts.
    for n in 0..12 {
        last = app
            .send(login_from(
                [10, 0, 0, 66],
                &format!("user{n}@faena.test"),
                "guess-guess-1",
            ))
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Another address is not affected.
    let res = app
        .send(login_from([10, 0, 0, 67], ADMIN_EMAIL, ADMIN_PASSWORD))
        .await;
    res.assert_status(StatusCode::OK);
}

async fn tokens(app: &TestApp) -> serde_json::Value {
    let res = app
        .anonymous()
        .post_json(
            "/api/auth/login",
            &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    res.json()
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::new().await;
    let first = tokens(&app).await;
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 900);

    let refresh = |token: &str| {
        let body = json!({"refresh_token": token});
        let client = app.anonymous();
        async move { client.post_json("/api/auth/refresh", &body).await }
    };
    let second = refresh(first["refresh_token"].as_str().unwrap()).await;
    second.assert_status(StatusCode::OK);
    let second = second.json();
    assert_ne!(second["refresh_token"], first["refresh_token"]);

    // The new access token works.
    let me = app
        .anonymous()
        .with_bearer(second["access_token"].as_str().unwrap())
        .get("/api/auth/me")
        .await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["user"]["email"], ADMIN_EMAIL);

    // Replaying the spent token: refused, and the whole family with it.
    refresh(first["refresh_token"].as_str().unwrap())
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    refresh(second["refresh_token"].as_str().unwrap())
        .await
        .assert_status(StatusCode::UNAUTHORIZED);

    // Another sign-in is a separate family and still works.
    let other = tokens(&app).await;
    refresh(other["refresh_token"].as_str().unwrap())
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_refresh_family() {
    let app = TestApp::new().await;
    let t = tokens(&app).await;
    let body = json!({"refresh_token": t["refresh_token"]});
    app.anonymous()
        .post_json("/api/auth/logout", &body)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.anonymous()
        .post_json("/api/auth/refresh", &body)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forged_or_garbage_tokens_are_refused() {
    let app = TestApp::new().await;
    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let res = app.anonymous().with_bearer(token).get("/api/auth/me").await;
        res.assert_status(StatusCode::UNAUTHORIZED);
        assert_eq!(res.content_type(), "application/problem+json");
        assert!(res.header("www-authenticate").is_some());
    }
}

#[tokio::test]
async fn api_keys_work_within_their_scope_and_die_when_revoked() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let res = admin
        .post_json(
            "/api/api-keys",
            &json!({"name": "Integración SAP", "permissions": ["platform.users.read"]}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let created = res.json();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("faena_"));

    let integration = app.anonymous().with_bearer(&key);
    integration
        .get("/api/users")
        .await
        .assert_status(StatusCode::OK);
    integration
        .get("/api/roles")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let me = integration.get("/api/auth/me").await.json();
    assert_eq!(me["kind"], "api_key");

    // The secret is never stored or listed.
    let list = admin.get("/api/api-keys").await;
    assert!(!list.text().contains(&key));
    let stored: Vec<faena_platform::auth::entities::api_key::Model> =
        <faena_platform::auth::entities::api_key::Entity as sea_orm::EntityTrait>::find()
            .all(app.state.db())
            .await
            .unwrap();
    assert!(
        stored
            .iter()
            .all(|k| !k.key_hash.contains(&key) && k.key_hash.len() == 64)
    );

    let id = created["id"].as_str().unwrap();
    admin
        .delete(&format!("/api/api-keys/{id}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    integration
        .get("/api/users")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_api_key_cannot_carry_more_than_its_creator_holds() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    admin
        .post_json("/api/roles", &json!({"name": "keymaker", "permissions": ["platform.api_keys.manage", "platform.users.read"]}))
        .await
        .assert_status(StatusCode::CREATED);
    let keymaker = app.client_for("keymaker").await;
    let res = keymaker
        .post_json(
            "/api/api-keys",
            &json!({"name": "x", "permissions": ["platform.users.read", "platform.users.manage"]}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.json();
    assert_eq!(body["errors"][0]["field"], "permissions[1]");
    assert_eq!(body["errors"][0]["code"], "permission_not_held");
}

#[tokio::test]
async fn users_are_validated_unique_and_weak_passwords_refused() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let res = admin
        .post_json(
            "/api/users",
            &json!({"email": "no-es-correo", "name": "", "password": "123456", "role": "jefe"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = res.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["email", "name", "role", "password"]);

    let weak = admin
        .post_json(
            "/api/users",
            &json!({"email": "ana@faena.test", "name": "Ana", "password": "password1234"}),
        )
        .await;
    weak.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(weak.json()["errors"][0]["code"], "password_weak");
    assert!(
        weak.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("fácil de adivinar")
    );

    let ok = admin
        .post_json("/api/users", &json!({"email": "Ana@Faena.test", "name": "Ana", "password": "Tetera-azul-contra-7-nubes"}))
        .await;
    ok.assert_status(StatusCode::CREATED);
    assert_eq!(ok.json()["role"], "viewer");
    let dup = admin
        .post_json("/api/users", &json!({"email": "ana@FAENA.test", "name": "Otra", "password": "Tetera-azul-contra-7-nubes"}))
        .await;
    dup.assert_status(StatusCode::CONFLICT);
    assert_eq!(dup.json()["errors"][0]["field"], "email");
}

#[tokio::test]
async fn stale_if_match_is_412_and_the_last_admin_stays() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let me = admin.get("/api/auth/me").await.json();
    let id = me["user"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/users/{id}");
    let current = admin.get(&path).await;
    let etag = current.header("etag").unwrap().to_owned();
    let patch = |body: serde_json::Value, if_match: &str| {
        Request::patch(&path)
            .header("content-type", "application/json")
            .header("if-match", if_match)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    admin
        .send(patch(json!({"name": "Jefa"}), &etag))
        .await
        .assert_status(StatusCode::OK);
    // The same version again is stale now.
    admin
        .send(patch(json!({"name": "Otra"}), &etag))
        .await
        .assert_status(StatusCode::PRECONDITION_FAILED);

    let res = admin.send(patch(json!({"role": "viewer"}), "*")).await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "last_admin");
}

#[tokio::test]
async fn password_change_requires_the_current_one_and_signs_out_elsewhere() {
    let app = TestApp::new().await;
    let t = tokens(&app).await;
    let admin = app
        .anonymous()
        .with_bearer(t["access_token"].as_str().unwrap());
    let res = admin
        .post_json(
            "/api/auth/password",
            &json!({"current_password": "wrong", "new_password": "Otra-clave-muy-segura-99"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "current_password");
    admin
        .post_json("/api/auth/password", &json!({"current_password": ADMIN_PASSWORD, "new_password": "Otra-clave-muy-segura-99"}))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    // The refresh token issued before the change is dead.
    app.anonymous()
        .post_json(
            "/api/auth/refresh",
            &json!({"refresh_token": t["refresh_token"]}),
        )
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.login(ADMIN_EMAIL, "Otra-clave-muy-segura-99").await;
}

#[tokio::test]
async fn self_registration_only_when_enabled() {
    let body =
        json!({"email": "nuevo@faena.test", "name": "Nuevo", "password": "Registro-propio-2026"});
    let app = TestApp::new().await;
    app.post_json("/api/auth/register", &body)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let app = TestApp::with_config(|c| c.auth.self_registration = true).await;
    let res = app.post_json("/api/auth/register", &body).await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["role"], "viewer");
    app.login("nuevo@faena.test", "Registro-propio-2026").await;
}

#[tokio::test]
async fn active_users_are_those_seen_lately() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    admin.get("/api/auth/me").await;
    let active = admin.get("/api/users/active").await.json();
    let emails: Vec<&str> = active
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [ADMIN_EMAIL]);
}

fn form(path: &str, cookie: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn page_login_needs_the_csrf_token() {
    let app = TestApp::new().await;
    let page = app.get("/login").await;
    page.assert_status(StatusCode::OK);
    let pre = set_cookie(&page, "faena_pre").expect("a pre-session cookie");
    let csrf = csrf_of(&page.text());
    let cookie = format!("faena_pre={pre}");
    let credentials = format!(
        "email={}&password={}&next=%2Fprofile",
        "admin%40faena.test",
        urlencode(ADMIN_PASSWORD)
    );

    // Without the token, or with a wrong one: refused.
    let res = app.send(form("/login", &cookie, &credentials)).await;
    res.assert_status(StatusCode::FORBIDDEN);
    assert!(res.text().contains("El formulario expiró"));
    let res = app
        .send(form(
            "/login",
            &cookie,
            &format!("_csrf=deadbeef&{credentials}"),
        ))
        .await;
    res.assert_status(StatusCode::FORBIDDEN);

    // With it: a session, and the way back.
    let res = app
        .send(form(
            "/login",
            &cookie,
            &format!("_csrf={csrf}&{credentials}"),
        ))
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/profile"));
    let set = res.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let session = set_cookie(&res, "faena_session").unwrap();
    assert_ne!(
        session, pre,
        "the session is new, not the pre-session value"
    );

    let session_cookie = format!("faena_session={session}");
    let profile = app
        .send(
            Request::get("/profile")
                .header("cookie", &session_cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    profile.assert_status(StatusCode::OK);
    assert!(profile.text().contains(ADMIN_EMAIL));
    assert!(
        profile.text().contains("<dd>Administración</dd>"),
        "the role in words: {}",
        profile.text()
    );

    // A cookie-authenticated API write needs the token as a header.
    let res = app
        .send(
            Request::post("/api/roles")
                .header("cookie", &session_cookie)
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"name": "x_role", "permissions": []}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(res.json()["code"], "csrf_invalid");
    let session_csrf = csrf_of(&profile.text());
    let res = app
        .send(
            Request::post("/api/roles")
                .header("cookie", &session_cookie)
                .header("x-csrf-token", &session_csrf)
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"name": "x_role", "permissions": []}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::CREATED);

    // Signing out ends the session.
    let res = app
        .send(form(
            "/logout",
            &session_cookie,
            &format!("_csrf={session_csrf}"),
        ))
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let res = app
        .send(
            Request::get("/profile")
                .header("cookie", &session_cookie)
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn wrong_page_login_shows_the_form_again() {
    let app = TestApp::new().await;
    let page = app.get("/login").await;
    let pre = set_cookie(&page, "faena_pre").unwrap();
    let csrf = csrf_of(&page.text());
    let res = app
        .send(form(
            "/login",
            &format!("faena_pre={pre}"),
            &format!("_csrf={csrf}&email=admin%40faena.test&password=nope"),
        ))
        .await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    assert!(res.text().contains("Correo o contraseña incorrectos."));
    assert!(res.text().contains("value=\"admin@faena.test\""));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An access token stops working on the very next request when its user
/// is demoted, deactivated or deleted, or signs out; not at its expiry.
#[tokio::test]
async fn access_ends_at_once_when_the_user_loses_it() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let sign_in = |email: String| {
        let app = &app;
        async move {
            let res = app
                .anonymous()
                .post_json(
                    "/api/auth/login",
                    &json!({"email": email, "password": faena_testkit::USER_PASSWORD}),
                )
                .await;
            res.assert_status(StatusCode::OK);
            let t = res.json();
            (
                app.anonymous()
                    .with_bearer(t["access_token"].as_str().unwrap()),
                t["refresh_token"].as_str().unwrap().to_owned(),
            )
        }
    };
    let user_id = |email: &str| {
        let email = email.to_owned();
        let admin = &admin;
        async move {
            let users = admin.get(&format!("/api/users?q={email}")).await.json();
            users["items"][0]["id"].as_str().unwrap().to_owned()
        }
    };
    // A write the warehouse role may make (the empty order is refused
    // for its fields, after access is granted) and a viewer may not.
    let may_write = |client: &faena_testkit::Client| {
        let client = client.clone();
        async move { client.post_json("/api/orders", &json!({})).await.status }
    };

    // Demoted: the same token now carries the viewer's permissions.
    let email = app.create_user("warehouse").await;
    let (token, _) = sign_in(email.clone()).await;
    assert_eq!(may_write(&token).await, StatusCode::UNPROCESSABLE_ENTITY);
    let id = user_id(&email).await;
    admin
        .send_json(
            axum::http::Method::PATCH,
            &format!("/api/users/{id}"),
            &json!({"role": "viewer"}),
        )
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(may_write(&token).await, StatusCode::FORBIDDEN);

    // Deactivated, then deleted: the token is refused.
    let email = app.create_user("warehouse").await;
    let (token, _) = sign_in(email.clone()).await;
    let id = user_id(&email).await;
    admin
        .send_json(
            axum::http::Method::PATCH,
            &format!("/api/users/{id}"),
            &json!({"active": false}),
        )
        .await
        .assert_status(StatusCode::OK);
    token
        .get("/api/auth/me")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    admin
        .delete(&format!("/api/users/{id}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    token
        .get("/api/auth/me")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);

    // Signed out: the access token of that sign-in ends with it.
    let email = app.create_user("warehouse").await;
    let (token, refresh) = sign_in(email).await;
    token
        .get("/api/auth/me")
        .await
        .assert_status(StatusCode::OK);
    app.anonymous()
        .post_json("/api/auth/logout", &json!({"refresh_token": refresh}))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    token
        .get("/api/auth/me")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

/// Tokens an attacker might make or reuse: signed with another key, with
/// the server's key but expired, from another issuer or for another
/// audience, for a sign-in that never happened, or a refresh token
/// presented as an access token.
#[tokio::test]
async fn tokens_that_are_not_a_live_sign_in_are_refused() {
    use faena_platform::auth::token::{AUDIENCE, Claims, ISSUER, sign};
    let app = TestApp::new().await;
    let t = tokens(&app).await;
    let me = app
        .anonymous()
        .with_bearer(t["access_token"].as_str().unwrap())
        .get("/api/auth/me")
        .await
        .json();
    let key: [u8; 32] =
        faena_platform::secrets::load_or_create(&app.state.config().data_dir, "jwt").unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |fam: &str, iss: &str, exp: i64| Claims {
        sub: me["user"]["id"].as_str().unwrap().to_owned(),
        email: ADMIN_EMAIL.into(),
        role: "admin".into(),
        fam: fam.to_owned(),
        iat: now - 10,
        exp,
        iss: iss.to_owned(),
        aud: AUDIENCE.into(),
    };
    // The real sign-in's family: each token below differs from a genuine
    // one (the control at the end) in the one way it names.
    use base64::Engine;
    let payload = t["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let real: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let family = real["fam"].as_str().unwrap();
    let never = "00000000-0000-7000-8000-000000000000";
    let refused = [
        (
            "another key",
            sign(&claims(family, ISSUER, now + 600), &[7u8; 32]).unwrap(),
        ),
        (
            "expired",
            sign(&claims(family, ISSUER, now - 1), &key).unwrap(),
        ),
        (
            "another issuer",
            sign(&claims(family, "otro", now + 600), &key).unwrap(),
        ),
        (
            "another audience",
            sign(
                &Claims {
                    aud: "faena:otra".into(),
                    ..claims(family, ISSUER, now + 600)
                },
                &key,
            )
            .unwrap(),
        ),
        (
            "a sign-in that never happened",
            sign(&claims(never, ISSUER, now + 600), &key).unwrap(),
        ),
        (
            "a refresh token",
            t["refresh_token"].as_str().unwrap().to_owned(),
        ),
    ];
    for (what, token) in refused {
        let res = app
            .anonymous()
            .with_bearer(&token)
            .get("/api/auth/me")
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{what}");
    }
    // The control: the same claims for the real sign-in's family pass, so
    // each refusal above is for the reason it names.
    let genuine = sign(&claims(family, ISSUER, now + 600), &key).unwrap();
    app.anonymous()
        .with_bearer(&genuine)
        .get("/api/auth/me")
        .await
        .assert_status(StatusCode::OK);
}
