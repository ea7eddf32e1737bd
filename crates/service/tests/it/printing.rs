//! Printers and printing: the printers API with its refusals, and a label
//! sent as a job to a local TCP listener standing in for the Zebra (it
//! receives exactly the label's ZPL), or to a closed port (the job waits
//! to retry with the error recorded; the request was answered 202).

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use faena_platform::jobs::worker::{self, WorkerOptions};
use faena_testkit::{Client, TestApp};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::{fields, intake, put, setup};

pub async fn a_printer(admin: &Client, name: &str, address: &str) -> String {
    let res = admin
        .post_json(
            "/api/printers",
            &json!({"name": name, "address": address, "dpi": 203}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    res.json()["id"].as_str().unwrap().to_owned()
}

struct Worker {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

fn start_worker(app: &TestApp) -> Worker {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let options = WorkerOptions {
        id: format!("test/service-print/{}", uuid::Uuid::now_v7()),
        concurrency: 2,
        lease: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        grace: Duration::from_secs(5),
    };
    Worker {
        stop,
        handle: worker::spawn(app.state.clone(), options, rx),
    }
}

impl Worker {
    async fn stop(self) {
        let _ = self.stop.send(true);
        self.handle.await.unwrap();
    }
}

/// Reads the job through the platform's jobs API until `done` says so.
async fn job_until(admin: &Client, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = admin.get(&format!("/api/jobs/{id}")).await;
        job.assert_status(StatusCode::OK);
        let job = job.json();
        if done(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "the job never got there: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn printers_are_kept_and_bad_ones_refused() {
    let (app, admin, _) = setup().await;
    let res = admin
        .post_json(
            "/api/printers",
            &json!({"name": "Zebra mesón", "address": "192.168.1.50"}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let p = res.json();
    assert_eq!(p["address"], "192.168.1.50:9100");
    assert_eq!(p["port"], 9100);
    assert_eq!(p["dpi"], 203);
    assert_eq!(p["active"], true);
    let id = p["id"].as_str().unwrap().to_owned();
    let location = res.header("location").unwrap().to_owned();
    assert_eq!(location, format!("/api/printers/{id}"));
    assert_eq!(admin.get(&location).await.json()["name"], "Zebra mesón");

    for (address, dpi, field) in [
        ("zebra:70000", 203, "address"),
        ("zebra:0", 203, "address"),
        ("http://zebra", 203, "address"),
        ("no es una dirección", 203, "address"),
        ("", 203, "address"),
        ("10.0.0.9:9100", 600, "dpi"),
    ] {
        let res = admin
            .post_json(
                "/api/printers",
                &json!({"name": "Otra", "address": address, "dpi": dpi}),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{address}: {}",
            res.text()
        );
        assert_eq!(res.content_type(), "application/problem+json");
        assert_eq!(fields(&res), [field], "{address}");
    }
    // The same name twice is a conflict.
    let res = admin
        .post_json(
            "/api/printers",
            &json!({"name": "Zebra mesón", "address": "10.0.0.2"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text());

    // A change needs the current version.
    let change =
        json!({"name": "Zebra taller", "address": "[fe80::1]:6101", "dpi": 300, "active": false});
    let stale = admin
        .send(
            axum::http::Request::put(format!("/api/printers/{id}"))
                .header("content-type", "application/json")
                .header("if-match", "\"7\"")
                .body(axum::body::Body::from(change.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.text()
    );
    let res = put(&admin, &format!("/api/printers/{id}"), &change).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["address"], "[fe80::1]:6101");
    assert_eq!(res.json()["version"], 2);

    // The desk and the bench see the printers; only a manager keeps them.
    for role in ["receptionist", "technician"] {
        let user = app.client_for(role).await;
        user.get("/api/printers")
            .await
            .assert_status(StatusCode::OK);
        let res = user
            .post_json(
                "/api/printers",
                &json!({"name": "X", "address": "10.0.0.3"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{role}");
    }
    let manager = app.client_for("manager").await;
    manager
        .send_json(Method::DELETE, &format!("/api/printers/{id}"), &json!(null))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    admin
        .get(&format!("/api/printers/{id}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printed_label_reaches_the_printer_as_exactly_its_zpl() {
    let (app, admin, client_id) = setup().await;
    let order = intake(&admin, &client_id).await;
    let number = order["number"].as_str().unwrap().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut bytes = Vec::new();
        socket.read_to_end(&mut bytes).await.unwrap();
        bytes
    });
    let printer = a_printer(&admin, "Zebra mesón", &format!("127.0.0.1:{port}")).await;

    let desk = app.client_for("receptionist").await;
    let res = desk
        .post_json(
            &format!("/api/service-orders/{number}/print"),
            &json!({"printer_id": printer, "kind": "tag"}),
        )
        .await;
    res.assert_status(StatusCode::ACCEPTED);
    let queued = res.json();
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["printer_name"], "Zebra mesón");
    let job_id = queued["job_id"].as_str().unwrap().to_owned();
    let expected = desk
        .get(&format!(
            "/api/service-orders/{number}/label?kind=tag&format=zpl&dpi=203"
        ))
        .await
        .text();
    assert!(expected.starts_with("^XA"), "{expected}");

    let worker = start_worker(&app);
    let bytes = tokio::time::timeout(Duration::from_secs(30), received)
        .await
        .expect("the printer got a connection")
        .unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    let job = job_until(&admin, &job_id, |j| j["state"] == "succeeded").await;
    assert_eq!(job["kind"], "service.print_label");
    assert_eq!(job["attempts"], 1);
    worker.stop().await;

    // The order shows its prints, and the audit log says who printed.
    let prints = desk
        .get(&format!("/api/service-orders/{number}/print-jobs"))
        .await
        .json();
    assert_eq!(prints[0]["job_id"], job_id.as_str());
    assert_eq!(prints[0]["state"], "succeeded");
    let audit = admin
        .get("/api/audit?action=service_label.printed")
        .await
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_that_does_not_answer_leaves_the_job_retrying() {
    let (app, admin, client_id) = setup().await;
    let order = intake(&admin, &client_id).await;
    let number = order["number"].as_str().unwrap().to_owned();
    // A port nobody listens on: the printer is off.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let printer = a_printer(&admin, "Zebra apagada", &format!("127.0.0.1:{port}")).await;
    let res = admin
        .post_json(
            &format!("/api/service-orders/{number}/print"),
            &json!({"printer_id": printer, "kind": "intake"}),
        )
        .await;
    res.assert_status(StatusCode::ACCEPTED);
    let job_id = res.json()["job_id"].as_str().unwrap().to_owned();

    let worker = start_worker(&app);
    let job = job_until(&admin, &job_id, |j| {
        j["attempts"].as_i64() >= Some(1) && j["state"] == "queued"
    })
    .await;
    worker.stop().await;
    let error = job["last_error"].as_str().unwrap();
    assert!(error.contains("Zebra apagada"), "{error}");
    assert!(error.contains("cannot connect"), "{error}");
    assert_eq!(job["max_attempts"], 10);

    // The order page shows it waiting to retry, with the reason.
    let prints = admin
        .get(&format!("/api/service-orders/{number}/print-jobs"))
        .await
        .json();
    assert_eq!(prints[0]["state"], "queued");
    assert!(
        prints[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
    let page = faena_testkit::browser::Browser::sign_in(
        &app,
        faena_testkit::ADMIN_EMAIL,
        faena_testkit::ADMIN_PASSWORD,
    )
    .await
    .get(&format!("/service-orders/{number}"))
    .await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("Zebra apagada"));
    assert!(page.text().contains("cannot connect"));
}

#[tokio::test]
async fn printing_is_refused_clearly() {
    let (app, admin, client_id) = setup().await;
    let order = intake(&admin, &client_id).await;
    let number = order["number"].as_str().unwrap().to_owned();
    let path = format!("/api/service-orders/{number}/print");
    let unknown = json!({"printer_id": uuid::Uuid::now_v7(), "kind": "intake"});
    let res = admin.post_json(&path, &unknown).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&res), ["printer_id"]);
    let res = admin
        .post_json(
            &path,
            &json!({"printer_id": uuid::Uuid::now_v7(), "kind": "sticker"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A viewer reads orders but neither the desk nor the bench: 403.
    let printer = a_printer(&admin, "Zebra", "10.0.0.9").await;
    let viewer = app.client_for("viewer").await;
    let res = viewer
        .post_json(&path, &json!({"printer_id": printer, "kind": "intake"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    let res = admin
        .post_json(
            "/api/service-orders/OS-2026-999999/print",
            &json!({"printer_id": printer, "kind": "intake"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_printers_page_adds_changes_and_removes_printers() {
    let (app, admin, client_id) = setup().await;
    let browser = app.admin_browser().await;
    let page = browser.get("/service/printers").await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("Aún no hay impresoras."));

    // A bad address is said in place, nothing is added.
    let res = browser
        .post(
            "/service/printers",
            &[
                ("name", "Zebra mesón"),
                ("address", "zebra:99999"),
                ("dpi", "203"),
                ("active", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().contains("El puerto debe estar entre 1 y 65535"),
        "{}",
        res.text()
    );
    assert!(res.text().contains("zebra:99999"));
    assert_eq!(admin.get("/api/printers").await.json(), json!([]));

    let res = browser
        .post(
            "/service/printers",
            &[
                ("name", "Zebra mesón"),
                ("address", "192.168.1.50"),
                ("dpi", "300"),
                ("active", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let listed = admin.get("/api/printers").await.json();
    assert_eq!(listed[0]["address"], "192.168.1.50:9100");
    assert_eq!(listed[0]["dpi"], 300);
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let page = browser.get("/service/printers").await.text();
    assert!(page.contains("192.168.1.50:9100"));

    // The order page offers it for printing.
    let order = intake(&admin, &client_id).await;
    let number = order["number"].as_str().unwrap();
    let detail = browser
        .get(&format!("/service-orders/{number}"))
        .await
        .text();
    assert!(detail.contains("Zebra mesón (300 dpi)"), "{detail}");
    // Printing from the page queues the job and shows it on the order.
    let res = browser
        .post(
            &format!("/service-orders/{number}/print"),
            &[("printer_id", id.as_str()), ("kind", "tag")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let detail = browser
        .get(&format!("/service-orders/{number}"))
        .await
        .text();
    assert!(
        detail.contains("Etiqueta del equipo · Zebra mesón · <strong>En cola</strong>"),
        "{detail}"
    );
    let res = browser
        .post(
            &format!("/service-orders/{number}/print"),
            &[("kind", "tag")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("La impresora no existe"));

    let res = browser
        .post(
            &format!("/service/printers/{id}"),
            &[
                ("name", "Zebra taller"),
                ("address", "10.0.0.7:6101"),
                ("dpi", "203"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let p = admin.get(&format!("/api/printers/{id}")).await.json();
    assert_eq!(p["name"], "Zebra taller");
    assert_eq!(p["active"], false);

    // Removing asks first.
    let ask = browser
        .post(&format!("/service/printers/{id}/delete"), &[])
        .await;
    ask.assert_status(StatusCode::OK);
    assert!(ask.text().contains("¿Eliminar la impresora Zebra taller?"));
    let done = browser
        .post(
            &format!("/service/printers/{id}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    admin
        .get(&format!("/api/printers/{id}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);

    // A technician sees the page but not its forms.
    let tech = app.browser_for("technician").await;
    let page = tech.get("/service/printers").await;
    page.assert_status(StatusCode::OK);
    assert!(!page.text().contains("/service/printers/"));
}
