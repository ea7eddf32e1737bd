use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use faena_testkit::browser::{csrf_of, set_cookie};
use faena_testkit::{TestApp, TestResponse};
use serde_json::json;

use crate::{a_machine, create_machine, setup};

/// A `multipart/form-data` body: `_csrf` first, then the text fields, then
/// the photo (empty when none was chosen, as a browser sends it).
fn form(csrf: &str, fields: &[(&str, &str)], photo: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----faenaReporte7d1";
    let mut body = Vec::new();
    let mut text = |name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    text("_csrf", csrf);
    for (k, v) in fields {
        text(k, v);
    }
    let (name, bytes) = photo.unwrap_or(("", b""));
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Someone without an account: opens the label's page, then sends it.
async fn send_report(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
    photo: Option<(&str, &[u8])>,
) -> TestResponse {
    let anonymous = app.anonymous();
    let page = anonymous.get(path).await;
    page.assert_status(StatusCode::OK);
    let cookie = set_cookie(&page, "faena_pre").expect("a pre-session cookie");
    let (content_type, body) = form(&csrf_of(&page.text()), fields, photo);
    anonymous
        .send(
            Request::post(path)
                .header(header::CONTENT_TYPE, content_type)
                .header(header::COOKIE, format!("faena_pre={cookie}"))
                .header(header::ACCEPT, "text/html")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
}

/// The address in a label, read back with a real QR decoder (zbar).
fn scan(png: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("label.png");
    std::fs::write(&path, png).unwrap();
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&path)
        .output()
        .expect("zbarimg (Debian's zbar-tools) reads the label");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn anyone_reports_a_failure_from_the_label_and_a_manager_turns_it_into_work() {
    let (app, admin) = setup().await;
    let manager_email = app.create_user("manager").await;
    let manager_id = admin.get("/api/users?role=manager").await.json()["items"][0]["id"].clone();
    let mut m = a_machine("MAQ-400");
    m["responsible_id"] = manager_id;
    create_machine(&admin, &m).await;

    // The label is a QR code that scans to the machine's public page.
    let label = admin.get("/api/machines/maq-400/label.png").await;
    label.assert_status(StatusCode::OK);
    assert_eq!(label.header("content-type"), Some("image/png"));
    let url = scan(&label.body);
    let path = url
        .split_once("/r/")
        .map(|(_, t)| format!("/r/{t}"))
        .expect("a report link");
    assert!(path.len() > 40, "an unguessable token: {path}");
    let sheet = admin.get("/api/machines/labels.pdf").await;
    sheet.assert_status(StatusCode::OK);
    assert!(sheet.body.starts_with(b"%PDF-"));

    // Without the token there is nothing to see.
    app.anonymous()
        .get("/r/not-a-token")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let html = app.anonymous().get(&path).await.text();
    assert!(html.contains("Reportar una falla en MAQ-400"), "{html}");
    assert!(html.contains("Centrífuga refrigerada"), "{html}");

    // A photo is an image by its content, whatever its name says.
    let res = send_report(
        &app,
        &path,
        &[("description", "Hace un ruido fuerte")],
        Some(("foto.csv", b"a;b\r\n1;2\r\n")),
    )
    .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().contains("La foto debe ser una imagen"),
        "{}",
        res.text()
    );
    let res = send_report(&app, &path, &[("description", " ")], None).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    let photo = faena_pdf::qr::png("foto", 4, 4).unwrap();
    let res = send_report(
        &app,
        &path,
        &[
            ("description", "Vibra y huele a quemado"),
            ("name", "Rosa Pérez"),
            ("contact", "+56 9 8765 4321"),
        ],
        Some(("foto.png", &photo)),
    )
    .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let sent = app
        .anonymous()
        .get(res.header("location").unwrap())
        .await
        .text();
    assert!(sent.contains("el reporte llegó al responsable"), "{sent}");

    let list = admin
        .get("/api/maintenance/requests?status=pending")
        .await
        .json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "the two refused reports left nothing: {list}"
    );
    let r = &items[0];
    assert_eq!(r["machine_code"], "MAQ-400");
    assert_eq!(r["reporter_name"], "Rosa Pérez");
    let photo_url = r["photo_url"].as_str().unwrap();
    let got = admin.get(photo_url).await;
    got.assert_status(StatusCode::OK);
    assert_eq!(got.body, photo);
    app.anonymous()
        .get(photo_url)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let mail = admin.get("/api/mail?limit=50").await.json();
    assert!(
        mail["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["to"][0] == manager_email.as_str()
                && m["subject"] == "Reporte de falla: MAQ-400 (Centrífuga refrigerada)"),
        "{mail}"
    );

    // Reviewing: a technician may not; the manager turns it into work.
    let id = r["id"].as_str().unwrap().to_owned();
    let technician = app.client_for("technician").await;
    technician
        .post_json(
            &format!("/api/maintenance/requests/{id}/accept"),
            &json!({}),
        )
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let manager = app
        .login(&manager_email, faena_testkit::USER_PASSWORD)
        .await;
    let res = manager
        .post_json(
            &format!("/api/maintenance/requests/{id}/accept"),
            &json!({}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let order = res.json()["work_order"].clone();
    let work = admin
        .get("/api/maintenance/work-orders?machine=MAQ-400")
        .await
        .json();
    assert_eq!(work[0]["id"], order);
    assert_eq!(work[0]["kind"], "corrective");
    assert_eq!(work[0]["title"], "Vibra y huele a quemado");
    manager
        .post_json(
            &format!("/api/maintenance/requests/{id}/accept"),
            &json!({}),
        )
        .await
        .assert_status(StatusCode::CONFLICT);
}

#[tokio::test]
async fn reports_are_limited_per_address_and_rejected_with_a_reason() {
    let (app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-410")).await;
    let url = scan(&admin.get("/api/machines/MAQ-410/label.png").await.body);
    let path = format!("/r/{}", url.rsplit('/').next().unwrap());
    for n in 0..faena_maintenance::requests::PER_ADDRESS_PER_HOUR {
        let res = send_report(&app, &path, &[("description", &format!("Falla {n}"))], None).await;
        res.assert_status(StatusCode::SEE_OTHER);
    }
    let res = send_report(&app, &path, &[("description", "Una más")], None).await;
    res.assert_status(StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").is_some());
    let list = admin.get("/api/maintenance/requests").await.json();
    assert_eq!(
        list["items"].as_array().unwrap().len() as u64,
        faena_maintenance::requests::PER_ADDRESS_PER_HOUR
    );

    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let res = admin
        .post_json(
            &format!("/api/maintenance/requests/{id}/reject"),
            &json!({"reason": ""}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "reason");
    let res = admin
        .post_json(
            &format!("/api/maintenance/requests/{id}/reject"),
            &json!({"reason": "Ya se reparó ayer"}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["status"], "rejected");
    let browser = app.admin_browser().await;
    let html = browser
        .get("/maintenance/requests?status=rejected")
        .await
        .text();
    assert!(html.contains("Ya se reparó ayer"), "{html}");
}
