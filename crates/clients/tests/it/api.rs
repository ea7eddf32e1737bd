use axum::body::Body;
use axum::http::{Request, StatusCode};
use faena_testkit::TestApp;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

fn client(n: u32) -> Value {
    json!({
        "name": format!("Comercial Andes {n}"),
        "email": format!("compras{n}@andes.cl"),
        "phone": "+56 9 8765 4321",
        "address": "Av. Providencia 1234, depto 56",
        "comuna": "Providencia",
        "city": "Santiago",
        "tax_id": "76.086.428-5",
        "notes": "Entrega de 9 a 13 h",
    })
}

#[tokio::test]
async fn create_read_update_delete() {
    let app = TestApp::new().await;
    let clerk = app.client_for("receptionist").await;
    let res = clerk.post_json("/api/clients", &client(1)).await;
    res.assert_status(StatusCode::CREATED);
    let created = res.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/clients/{id}").as_str())
    );
    assert_eq!(created["tax_id"], "76.086.428-5");
    assert_eq!(created["order_count"], 0);

    let res = clerk.get(&format!("/api/clients/{id}")).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.header("etag"), Some("\"1\""));
    assert_eq!(res.json()["phone"], "+56 9 8765 4321");

    let res = clerk
        .send_json(
            axum::http::Method::PATCH,
            &format!("/api/clients/{id}"),
            &json!({"phone": null, "comuna": "Ñuñoa"}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["phone"], Value::Null);
    assert_eq!(res.json()["comuna"], "Ñuñoa");
    assert_eq!(res.json()["address"], "Av. Providencia 1234, depto 56");
    assert_eq!(res.json()["version"], 2);

    let mut replace = client(1);
    replace["name"] = json!("Comercial Andes SpA");
    let res = clerk
        .send_json(
            axum::http::Method::PUT,
            &format!("/api/clients/{id}"),
            &replace,
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["name"], "Comercial Andes SpA");

    // A receptionist may not delete; a manager may.
    clerk
        .delete(&format!("/api/clients/{id}"))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let manager = app.client_for("manager").await;
    manager
        .delete(&format!("/api/clients/{id}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    manager
        .get(&format!("/api/clients/{id}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn duplicate_email_is_409_naming_the_field_in_any_case() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    admin
        .post_json("/api/clients", &client(1))
        .await
        .assert_status(StatusCode::CREATED);
    let mut dup = client(2);
    dup["email"] = json!("COMPRAS1@Andes.cl");
    let res = admin.post_json("/api/clients", &dup).await;
    res.assert_status(StatusCode::CONFLICT);
    let body = res.json();
    assert_eq!(body["code"], "duplicate_email");
    assert_eq!(body["errors"][0]["field"], "email");
    assert_eq!(body["title"], "Ya existe un cliente con ese correo");
}

#[tokio::test]
async fn invalid_fields_are_all_named() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let res = admin
        .post_json(
            "/api/clients",
            &json!({"name": "", "email": "x", "phone": "12", "tax_id": "76.086.428-0"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.json();
    let fields: Vec<String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["name", "email", "phone", "tax_id"], "{fields:?}");
    assert_eq!(
        body["errors"][3]["message"],
        "El dígito verificador del RUT no corresponde"
    );
    // Nothing half-written.
    assert_eq!(admin.get("/api/clients").await.json()["items"], json!([]));
}

#[tokio::test]
async fn a_stale_if_match_is_412() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let id = admin.post_json("/api/clients", &client(1)).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let patch = |if_match: &str, name: &str| {
        Request::patch(format!("/api/clients/{id}"))
            .header("content-type", "application/json")
            .header("if-match", if_match)
            .body(Body::from(json!({"name": name}).to_string()))
            .unwrap()
    };
    admin
        .send(patch("\"1\"", "Primero"))
        .await
        .assert_status(StatusCode::OK);
    let res = admin.send(patch("\"1\"", "Segundo")).await;
    res.assert_status(StatusCode::PRECONDITION_FAILED);
    assert_eq!(res.json()["code"], "precondition_failed");
    assert_eq!(
        admin.get(&format!("/api/clients/{id}")).await.json()["name"],
        "Primero"
    );

    // RFC 9110: a tag that is not a version, or a weak one, is a false
    // condition (412), never a 422; a list passes when one tag matches.
    for stale in ["\"stale-0\"", "W/\"2\"", "2", "\"1\", \"9\""] {
        let res = admin.send(patch(stale, "Tercero")).await;
        res.assert_status(StatusCode::PRECONDITION_FAILED);
    }
    admin
        .send(patch("\"1\", \"2\"", "Tercero"))
        .await
        .assert_status(StatusCode::OK);
    admin
        .send(patch("*", "Cuarto"))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        admin.get(&format!("/api/clients/{id}")).await.json()["name"],
        "Cuarto"
    );
}

#[tokio::test]
async fn an_idempotent_retry_creates_one_client() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let post = || {
        Request::post("/api/clients")
            .header("content-type", "application/json")
            .header("idempotency-key", "alta-andes-1")
            .body(Body::from(client(1).to_string()))
            .unwrap()
    };
    let first = admin.send(post()).await;
    first.assert_status(StatusCode::CREATED);
    let retry = admin.send(post()).await;
    retry.assert_status(StatusCode::CREATED);
    assert_eq!(retry.json()["id"], first.json()["id"]);
    assert_eq!(
        admin.get("/api/clients").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn personal_data_is_encrypted_at_rest_and_found_by_rut() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let id = admin.post_json("/api/clients", &client(1)).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = app.state.db();
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT phone, address, tax_id, tax_id_index, name, comuna FROM clients".to_owned(),
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let column = |i: usize| {
        rows[0]
            .try_get_by_index::<Option<String>>(i)
            .unwrap()
            .unwrap()
    };
    let stored: Vec<String> = (0..4).map(column).collect();
    // The ciphertexts (the blind index is hex: it may hold "8765" by chance).
    for value in &stored[..3] {
        for plain in ["8765", "Providencia", "76.086.428", "76086428"] {
            assert!(!value.contains(plain), "the raw row holds {plain}: {value}");
        }
    }
    for ciphertext in &stored[..3] {
        assert!(
            ciphertext.starts_with("v1:1:"),
            "ciphertexts carry their key id: {ciphertext}"
        );
    }
    assert_eq!(stored[3].len(), 64, "the blind index is an HMAC");
    // What is not personal stays searchable.
    assert_eq!(column(4), "Comercial Andes 1");
    assert_eq!(column(5), "Providencia");

    // The RUT in another format finds the client through the blind index.
    let found = admin.get("/api/clients?tax_id=760864285").await.json();
    assert_eq!(found["items"][0]["id"], id.as_str());
    let none = admin.get("/api/clients?tax_id=11.111.111-1").await.json();
    assert_eq!(none["items"], json!([]));
    admin
        .get("/api/clients?tax_id=11.111.111-2")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    // A RUT ending in a character of more than one byte was a panic (500).
    let res = admin.get("/api/clients?tax_id=I%C3%98").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["code"], "invalid_rut");
}

#[tokio::test]
async fn reading_personal_data_is_audited() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let id = admin.post_json("/api/clients", &client(1)).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let viewer = app.client_for("viewer").await;
    viewer
        .get(&format!("/api/clients/{id}"))
        .await
        .assert_status(StatusCode::OK);
    let reads = admin
        .get(&format!(
            "/api/audit?entity=client&entity_id={id}&action=read"
        ))
        .await
        .json();
    let items = reads["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["actor"], "viewer@faena.test");
    // The create entry records personal data only as present.
    let created = admin
        .get(&format!(
            "/api/audit?entity=client&entity_id={id}&action=create"
        ))
        .await
        .json();
    assert_eq!(created["items"][0]["after"]["phone"], "[encrypted]");
    assert!(!created.to_string().contains("8765"));
}

#[tokio::test]
async fn search_and_pagination() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for n in 0..7 {
        admin
            .post_json(
                "/api/clients",
                &json!({"name": format!("Cliente {n}"), "email": format!("c{n}@x.cl")}),
            )
            .await
            .assert_status(StatusCode::CREATED);
    }
    admin
        .post_json(
            "/api/clients",
            &json!({"name": "Panadería Sur", "email": "pan@sur.cl"}),
        )
        .await;
    let first = admin.get("/api/clients?limit=3").await.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = admin
        .get(&format!("/api/clients?limit=3&cursor={cursor}"))
        .await
        .json();
    assert_eq!(second["items"][0]["name"], "Cliente 3");
    let found = admin.get("/api/clients?q=panader").await.json();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let by_email = admin.get("/api/clients?q=SUR.CL").await.json();
    assert_eq!(by_email["items"][0]["name"], "Panadería Sur");
    admin
        .get("/api/clients?limit=0")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
}

/// What a receptionist types finds the client: any case, any accents,
/// words in any order, a RUT in any format, a phone with or without
/// prefix and spaces, the comuna; names come in Spanish order.
#[tokio::test]
async fn search_forgives_accents_and_finds_ruts_phones_and_comunas() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for (name, email, extra) in [
        (
            "Tomás Torres González",
            "tomas@x.cl",
            json!({"tax_id": "76.086.428-5", "phone": "+56 9 8765 4321", "comuna": "Ñuñoa"}),
        ),
        ("Ana Pérez", "ana@x.cl", json!({"comuna": "Providencia"})),
        ("Zapata Hermanos", "zh@x.cl", json!({})),
        ("Álvarez y Cía. 50%", "alvarez@x.cl", json!({})),
        ("Alvear Ltda", "alvear@x.cl", json!({})),
        ("Núñez SpA", "nunez@x.cl", json!({})),
        ("Nuevo Horizonte", "nuevo@x.cl", json!({})),
    ] {
        let mut body = json!({"name": name, "email": email});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        admin
            .post_json("/api/clients", &body)
            .await
            .assert_status(StatusCode::CREATED);
    }
    let names = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let find = |q: &str| {
        let admin = admin.clone();
        let q = q.to_owned();
        async move {
            let url = format!(
                "/api/clients?q={}",
                form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            );
            names(admin.get(&url).await.json())
        }
    };
    for q in ["perez", "PÉREZ", "Perez"] {
        assert_eq!(find(q).await, ["Ana Pérez"], "{q}");
    }
    for q in [
        "gonzalez",
        "gonzález torres",
        "76.086.428-5",
        "760864285",
        "76086428-5",
        "+56987654321",
        "9 8765 4321",
        "87654321",
        "nunoa",
        "Ñuñoa",
    ] {
        assert_eq!(find(q).await, ["Tomás Torres González"], "{q}");
    }
    // A LIKE wildcard typed is a character, not "anything".
    assert_eq!(find("50%").await, ["Álvarez y Cía. 50%"]);
    assert_eq!(find("%").await, ["Álvarez y Cía. 50%"]);
    assert!(find("gonzalez perez").await.is_empty());
    // Spanish order: Á with the A's, Ñ after N.
    assert_eq!(
        names(admin.get("/api/clients").await.json()),
        [
            "Álvarez y Cía. 50%",
            "Alvear Ltda",
            "Ana Pérez",
            "Nuevo Horizonte",
            "Núñez SpA",
            "Tomás Torres González",
            "Zapata Hermanos"
        ]
    );
    // Paging follows the same order.
    let first = admin.get("/api/clients?limit=4").await.json();
    let next = first["next"].as_str().unwrap().to_owned();
    assert_eq!(
        names(admin.get(&next).await.json()),
        ["Núñez SpA", "Tomás Torres González", "Zapata Hermanos"]
    );

    // The CSV export honours the search and the list's order.
    let csv = admin.get("/api/clients/export.csv?q=nunoa").await;
    csv.assert_status(StatusCode::OK);
    let text = csv.text();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0].contains("Nombre;Correo electrónico;Comuna"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("Tomás Torres González;tomas@x.cl;Ñuñoa;"),
        "{}",
        rows[1]
    );
    assert!(
        !text.contains("76.086.428-5") && !text.contains("8765"),
        "no personal data"
    );
    let all = admin
        .get("/api/clients/export.csv?sort=name&dir=desc")
        .await
        .text();
    let first_names: Vec<&str> = all
        .lines()
        .skip(1)
        .map(|l| l.split(';').next().unwrap_or(""))
        .collect();
    assert_eq!(first_names.first(), Some(&"Zapata Hermanos"));
    assert_eq!(first_names.last(), Some(&"Álvarez y Cía. 50%"));
    assert_eq!(first_names.len(), 7);
    admin
        .get("/api/clients/export.csv?sort=phone")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    // The page: the total, and the names in reverse Spanish order.
    let page = admin.get("/clients?sort=name&dir=desc").await.text();
    assert!(page.contains("Mostrando 1–7 de 7"), "{page}");
    let at = |name: &str| page.find(name).unwrap_or_else(|| panic!("{name}: {page}"));
    assert!(at("Zapata Hermanos") < at("Núñez SpA"));
    assert!(at("Núñez SpA") < at("Nuevo Horizonte"));
    assert!(at("Alvear Ltda") < at("Álvarez y Cía. 50%"));
    assert!(page.contains("aria-sort=\"descending\""), "{page}");

    // By comuna, in Spanish order (Ñuñoa before Providencia, where byte
    // order would put it after), clients without one last.
    let page = admin.get("/clients?sort=comuna").await.text();
    let at = |name: &str| page.find(name).unwrap_or_else(|| panic!("{name}: {page}"));
    assert!(at("Tomás Torres González") < at("Ana Pérez"), "{page}");
    assert!(at("Ana Pérez") < at("Alvear Ltda"), "{page}");
    assert!(page.contains("aria-sort=\"ascending\""), "{page}");
}

/// A client saved before phones were indexed is found by phone once the
/// start job has run.
#[tokio::test]
async fn the_start_job_indexes_phones_written_before_the_index() {
    use faena_platform::jobs::{Job, JobContext};
    let app = TestApp::new().await;
    let admin = app.admin().await;
    admin
        .post_json(
            "/api/clients",
            &json!({"name": "Antigua", "email": "a@x.cl", "phone": "22 345 6789"}),
        )
        .await
        .assert_status(StatusCode::CREATED);
    app.state
        .db()
        .execute_unprepared("UPDATE clients SET phone_index = NULL")
        .await
        .unwrap();
    let found = |admin: faena_testkit::Client| async move {
        admin.get("/api/clients?q=223456789").await.json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(found(admin.clone()).await, 0);
    let ctx = JobContext {
        state: app.state.clone(),
        id: uuid::Uuid::now_v7(),
        kind: faena_clients::clients::service::IndexPhones::NAME,
        attempt: 1,
    };
    faena_clients::clients::service::IndexPhones::default()
        .run(&ctx)
        .await
        .unwrap();
    assert_eq!(found(admin.clone()).await, 1);
}

/// Many people saving at once: on SQLite every write queues for the one
/// writer instead of failing with "database is locked"; every read of
/// personal data still leaves its own audit entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_and_reads_all_succeed() {
    let app = TestApp::new().await;
    let clerk = app.client_for("receptionist").await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..48 {
        let clerk = clerk.clone();
        tasks.spawn(async move {
            let res = clerk.post_json("/api/clients", &client(n)).await;
            (res.status, res.text())
        });
    }
    let mut ids = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (status, body) = done.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let created: Value = serde_json::from_str(&body).unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 48);

    let id = ids[0].clone();
    for _ in 0..32 {
        let clerk = clerk.clone();
        let id = id.clone();
        tasks.spawn(async move {
            let res = clerk.get(&format!("/api/clients/{id}")).await;
            (res.status, res.text())
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (status, body) = done.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let admin = app.admin().await;
    let listed = admin.get("/api/clients?limit=100").await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 48);
    let reads = admin
        .get(&format!(
            "/api/audit?entity=client&entity_id={id}&action=read&limit=100"
        ))
        .await
        .json();
    assert_eq!(reads["items"].as_array().unwrap().len(), 32);
}

/// Decision 0021: a RUT is optional (a person may buy without giving one)
/// and checked when given; the API, the page and the schema say so.
#[tokio::test]
async fn a_rut_is_optional_and_checked_when_given_through_api_and_page() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let res = admin
        .post_json(
            "/api/clients",
            &json!({"name": "Juana Pérez", "email": "juana@correo.cl", "tax_country": "CL"}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["tax_id"], Value::Null);
    let res = admin
        .post_json(
            "/api/clients",
            &json!({"name": "Pedro Soto", "email": "pedro@correo.cl", "tax_country": "CL", "tax_id": "12.345.678-0"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "tax_id");

    let doc = app.get("/api/openapi.json").await.json();
    let schema = &doc["components"]["schemas"]["ClientInput"]["properties"]["tax_id"];
    assert!(
        schema["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Optional")),
        "{schema}"
    );
    let required = doc["components"]["schemas"]["ClientInput"]["required"].clone();
    assert!(
        !required.as_array().unwrap().contains(&json!("tax_id")),
        "{required}"
    );

    // The page: the country comes filled in as CL; an empty RUT is fine.
    let browser = app.admin_browser().await;
    let form = browser.get("/clients/new").await.text();
    assert!(
        form.contains("Opcional. Si es de Chile"),
        "the form says so"
    );
    let res = browser
        .post(
            "/clients",
            &[
                ("name", "Rosa Díaz"),
                ("email", "rosa@correo.cl"),
                ("tax_country", "CL"),
                ("tax_id", ""),
            ],
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
}
