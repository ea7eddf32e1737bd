//! Files attached to warehouse orders: types sniffed from the content (a
//! name that lies is refused and nothing is stored), names neutralised,
//! thumbnails made by the job, versions kept on replacement, downloads
//! behind the order's permissions and signed links, the order page's
//! attachment form, and a round trip through a real Azure Blob emulator
//! (Azurite) and a real S3 server (moto).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use faena_platform::AppState;
use faena_platform::files::config::Backend;
use faena_platform::files::entity::{file, version};
use faena_platform::files::links;
use faena_platform::jobs::worker::WorkerOptions;
use faena_testkit::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, TestApp, TestResponse};
use futures_util::TryStreamExt;
use object_store::ObjectStoreExt;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::stores::{Azurite, Moto};
use crate::support::{RunningWorker, an_order, browser_session, worker_options};
use crate::uploads::{multipart, picture, sha256, upload};

// ---------------------------------------------------------------- helpers

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n";
/// The start of an x86-64 Linux program (its 64-byte header and more).
const ELF: &[u8] = &[
    0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3e, 0, 1, 0, 0, 0, 0x40,
    0x10, 0x40, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40,
    0, 0x38, 0, 1, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

pub(crate) async fn post_file(
    client: &Client,
    path: &str,
    name: &str,
    data: &[u8],
) -> TestResponse {
    let (ct, body) = multipart(&[("file", Some(name), data)]);
    client
        .send(
            Request::post(path)
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
}

async fn file_rows(state: &AppState) -> u64 {
    file::Entity::find().count(state.db()).await.unwrap()
}

async fn version_rows(state: &AppState) -> u64 {
    version::Entity::find().count(state.db()).await.unwrap()
}

/// Every object in the store, by key.
async fn objects(state: &AppState) -> Vec<String> {
    let mut keys: Vec<String> = state
        .files()
        .store()
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

fn start_worker(state: &AppState) -> RunningWorker {
    RunningWorker::start(
        state,
        WorkerOptions {
            concurrency: 2,
            ..worker_options("files")
        },
    )
}

/// Polls `GET path` (up to 30 s) until `check` holds for its JSON.
async fn wait_json(
    client: &Client,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = client.get(path).await;
        res.assert_status(StatusCode::OK);
        let v = res.json();
        if check(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "never {what}: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn a_file_whose_name_lies_about_its_type_is_refused_and_nothing_is_stored() {
    let app = TestApp::with_config(|c| c.files.max_size_mb = 1).await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;

    // A PDF dressed as a photo.
    let res = upload(&admin, &number, "foto.jpg", PDF).await;
    res.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.content_type(), "application/problem+json");
    let p = res.json();
    assert_eq!(p["code"], "file_type_mismatch");
    assert_eq!(p["errors"][0]["field"], "file");
    assert_eq!(p["errors"][0]["code"], "file_type_mismatch");
    assert_eq!(
        p["title"],
        "El nombre del archivo no corresponde a su contenido"
    );
    assert!(
        p["errors"][0]["message"].as_str().unwrap().contains(".jpg"),
        "{p}"
    );

    // A program dressed as a photo, asked in English.
    let en = admin.clone().with_header("accept-language", "en");
    let res = upload(&en, &number, "foto.jpg", ELF).await;
    res.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let p = res.json();
    assert_eq!(p["code"], "file_type_not_allowed");
    assert_eq!(p["errors"][0]["field"], "file");
    assert_eq!(p["title"], "File type not allowed");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("application/x-executable"),
        "{p}"
    );

    // Unknown binary, whatever its name.
    let res = upload(&admin, &number, "datos.txt", &[0, 159, 146, 150, 0, 1, 2]).await;
    res.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Over the limit (1 MB here): 413, and nothing half-written.
    let big = "Guía de despacho 123;Cemento;40\n"
        .repeat(50_000)
        .into_bytes();
    assert!(big.len() > 1024 * 1024);
    let res = upload(&admin, &number, "grande.csv", &big).await;
    res.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json()["errors"][0]["field"], "file");

    // No file at all.
    let (ct, body) = multipart(&[("nota", None, b"hola")]);
    let res = admin
        .send(
            Request::post(format!("/api/attachments/wms.order/{number}"))
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "file");

    assert_eq!(file_rows(&app.state).await, 0);
    assert_eq!(version_rows(&app.state).await, 0);
    assert_eq!(objects(&app.state).await, Vec::<String>::new());

    // The honest PDF is welcome.
    let res = upload(&admin, &number, "guia.pdf", PDF).await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["content_type"], "application/pdf");
    assert_eq!(objects(&app.state).await.len(), 1);
}

#[tokio::test]
async fn a_traversal_name_is_neutralised_and_never_reaches_the_key() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;

    let res = upload(&admin, &number, "../../etc/passwd", b"root:x:0:0\n").await;
    res.assert_status(StatusCode::CREATED);
    let f = res.json();
    assert_eq!(f["name"], "passwd");
    assert_eq!(f["content_type"], "text/plain");
    let id: Uuid = f["id"].as_str().unwrap().parse().unwrap();

    let row = version::Entity::find()
        .filter(version::Column::FileId.eq(id))
        .one(app.state.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.storage_key,
        format!("{}/{}", id.simple(), row.id.simple()),
        "the key is made of server ids only"
    );
    assert_eq!(objects(&app.state).await, vec![row.storage_key.clone()]);
    // Nothing was written outside the files folder.
    let data_dir = app.state.config().data_dir.clone();
    assert!(!data_dir.join("etc").exists());
    assert!(data_dir.join("files").join(&row.storage_key).is_file());

    let res = admin.get(&format!("/api/files/{id}/content")).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(&res.body[..], b"root:x:0:0\n");
    assert_eq!(
        res.header("content-disposition"),
        Some("attachment; filename=\"passwd\"; filename*=UTF-8''passwd")
    );

    // A Windows path goes too.
    let res = upload(&admin, &number, "C:\\Users\\ana\\nota.txt", b"hola").await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["name"], "nota.txt");

    // The order's files, a page at a time, newest first.
    let first = admin
        .get(&format!("/api/attachments/wms.order/{number}?limit=1"))
        .await
        .json();
    assert_eq!(first["items"][0]["name"], "nota.txt");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = admin
        .get(&format!(
            "/api/attachments/wms.order/{number}?limit=1&cursor={cursor}"
        ))
        .await
        .json();
    assert_eq!(second["items"][0]["name"], "passwd");
    assert!(second["next_cursor"].is_null(), "{second}");
    admin
        .get(&format!("/api/attachments/wms.order/{number}?limit=0"))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    // The upload is in the audit log, with its checksum.
    let audit = admin.get("/api/audit?action=file.uploaded").await.json();
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{audit}");
    assert!(audit.to_string().contains(&sha256(b"root:x:0:0\n")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_appear_after_the_job_runs() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;

    let png = picture(800, 600, image::ImageFormat::Png);
    let jpeg = picture(1000, 500, image::ImageFormat::Jpeg);
    let res = upload(&admin, &number, "bodega.png", &png).await;
    res.assert_status(StatusCode::CREATED);
    let png_file = res.json();
    assert_eq!(png_file["thumbnail"], "pending");
    let res = upload(&admin, &number, "entrega.jpeg", &jpeg).await;
    res.assert_status(StatusCode::CREATED);
    let jpeg_file = res.json();
    let res = upload(&admin, &number, "guia.pdf", PDF).await;
    res.assert_status(StatusCode::CREATED);
    let pdf_file = res.json();
    assert_eq!(pdf_file["thumbnail"], "none");

    // PNG by its signature, garbage after it: stored, but no thumbnail.
    let mut broken = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    broken.extend_from_slice(&[0x5a; 200]);
    let res = upload(&admin, &number, "rota.png", &broken).await;
    res.assert_status(StatusCode::CREATED);
    let broken_id = res.json()["id"].as_str().unwrap().to_owned();

    let png_id = png_file["id"].as_str().unwrap().to_owned();
    let jpeg_id = jpeg_file["id"].as_str().unwrap().to_owned();
    admin
        .get(&format!("/api/files/{png_id}/thumbnail"))
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let worker = start_worker(&app.state);
    for (id, w, h, ct) in [
        (&png_id, 320, 240, "image/png"),
        (&jpeg_id, 320, 160, "image/jpeg"),
    ] {
        let f = wait_json(&admin, &format!("/api/files/{id}"), "thumbnailed", |v| {
            v["thumbnail"] == "ready"
        })
        .await;
        assert_eq!(f["thumbnail_url"], format!("/api/files/{id}/thumbnail"));
        let res = admin.get(&format!("/api/files/{id}/thumbnail")).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.content_type(), ct);
        let thumb = image::load_from_memory(&res.body).expect("the thumbnail decodes");
        assert_eq!((thumb.width(), thumb.height()), (w, h));
    }
    wait_json(
        &admin,
        &format!("/api/files/{broken_id}"),
        "given up",
        |v| v["thumbnail"] == "failed",
    )
    .await;
    worker.stop().await;
    for id in [pdf_file["id"].as_str().unwrap(), &broken_id] {
        admin
            .get(&format!("/api/files/{id}/thumbnail"))
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
    // Originals and thumbnails side by side: 4 originals, 2 thumbnails.
    let keys = objects(&app.state).await;
    assert_eq!(keys.len(), 6, "{keys:?}");
    assert_eq!(keys.iter().filter(|k| k.ends_with(".thumb")).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_keeps_versions_and_deleting_purges_everything() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;

    let v1 = b"Recibido conforme: 40 sacos\n".to_vec();
    let v2 = "Recibido conforme: 38 sacos (2 rotos)\n"
        .as_bytes()
        .to_vec();
    let res = upload(&admin, &number, "recepcion.txt", &v1).await;
    res.assert_status(StatusCode::CREATED);
    let f = res.json();
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["version"], 1);
    assert_eq!(f["sha256"], sha256(&v1));

    // A replacement must also tell the truth about its type.
    post_file(
        &admin,
        &format!("/api/files/{id}/versions"),
        "recepcion.txt",
        PDF,
    )
    .await
    .assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = post_file(
        &admin,
        &format!("/api/files/{id}/versions"),
        "recepcion-corregida.txt",
        &v2,
    )
    .await;
    res.assert_status(StatusCode::CREATED);
    let f = res.json();
    assert_eq!(f["version"], 2);
    assert_eq!(f["name"], "recepcion-corregida.txt");
    assert_eq!(f["sha256"], sha256(&v2));

    let versions = admin.get(&format!("/api/files/{id}/versions")).await.json();
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["version"], 2);
    for (n, bytes) in [(1, &v1), (2, &v2)] {
        let res = admin
            .get(&format!("/api/files/{id}/versions/{n}/content"))
            .await;
        res.assert_status(StatusCode::OK);
        assert_eq!(&res.body[..], &bytes[..]);
        assert_eq!(sha256(&res.body), sha256(bytes));
        assert_eq!(
            res.header("x-checksum-sha256"),
            Some(sha256(bytes).as_str())
        );
        assert_eq!(
            versions[2 - n]["sha256"],
            sha256(bytes),
            "the listed checksum of version {n}"
        );
    }
    let current = admin.get(&format!("/api/files/{id}/content")).await;
    assert_eq!(&current.body[..], &v2[..]);
    admin
        .get(&format!("/api/files/{id}/versions/3/content"))
        .await
        .assert_status(StatusCode::NOT_FOUND);

    // The owner's list shows the file once, at its current version.
    let list = admin
        .get(&format!(
            "/api/attachments/wms.order/{}",
            number.to_lowercase()
        ))
        .await
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["version"], 2);

    // Delete: gone from every list at once, objects and rows purged by
    // the job.
    assert_eq!(objects(&app.state).await.len(), 2);
    admin
        .delete(&format!("/api/files/{id}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    admin
        .get(&format!("/api/files/{id}/content"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let list = admin
        .get(&format!("/api/attachments/wms.order/{number}"))
        .await
        .json();
    assert!(list["items"].as_array().unwrap().is_empty());
    let worker = start_worker(&app.state);
    let state = app.state.clone();
    wait_until("purged", || {
        let state = state.clone();
        async move { file_rows(&state).await == 0 && objects(&state).await.is_empty() }
    })
    .await;
    worker.stop().await;
    assert_eq!(version_rows(&app.state).await, 0);

    let audit = admin.get("/api/audit?entity=file&limit=50").await.json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["file.uploaded", "file.replaced", "file.deleted"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn downloads_need_read_permission_on_the_owner_or_a_signed_link() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;
    let bytes = b"Guia de despacho firmada".to_vec();
    let res = upload(&admin, &number, "guia.txt", &bytes).await;
    res.assert_status(StatusCode::CREATED);
    let id = res.json()["id"].as_str().unwrap().to_owned();
    let content = format!("/api/files/{id}/content");

    // Anonymous: 401. A role that cannot read orders: 403.
    app.anonymous()
        .get(&content)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    for (role, perms) in [
        ("clientes", json!(["clients.clients.read"])),
        ("lector", json!(["wms.orders.read"])),
    ] {
        admin
            .post_json("/api/roles", &json!({"name": role, "permissions": perms}))
            .await
            .assert_status(StatusCode::CREATED);
    }
    let outsider = app.client_for("clientes").await;
    for path in [
        content.clone(),
        format!("/api/files/{id}"),
        format!("/api/files/{id}/versions"),
        format!("/api/attachments/wms.order/{number}"),
    ] {
        outsider
            .get(&path)
            .await
            .assert_status(StatusCode::FORBIDDEN);
    }
    upload(&outsider, &number, "otra.txt", b"x")
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // Reading orders lets one download, not attach, delete or share.
    let reader = app.client_for("lector").await;
    let res = reader.get(&content).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(&res.body[..], &bytes[..]);
    upload(&reader, &number, "otra.txt", b"x")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    reader
        .delete(&format!("/api/files/{id}"))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    reader
        .post_json(&format!("/api/files/{id}/links"), &json!({}))
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // Unknown files, owners and kinds: 404.
    admin
        .get(&format!("/api/files/{}/content", Uuid::now_v7()))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    upload(&admin, "P-999999", "x.txt", b"x")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    admin
        .get("/api/attachments/nada.nada/1")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    // A signed link downloads without a session until it expires.
    admin
        .post_json(&format!("/api/files/{id}/links"), &json!({"minutes": 0}))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let res = admin
        .post_json(
            &format!("/api/files/{id}/links"),
            &json!({"minutes": 100_000_000}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "minutes");
    let res = admin
        .post_json(&format!("/api/files/{id}/links"), &json!({"minutes": 5}))
        .await;
    res.assert_status(StatusCode::CREATED);
    let link = res.json();
    let url = link["url"].as_str().unwrap().to_owned();
    let res = app.anonymous().get(&url).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(&res.body[..], &bytes[..]);
    assert_eq!(sha256(&res.body), sha256(&bytes));

    // Tampered: another character at the end, or a later expiry.
    let mut tampered = url.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let res = app.anonymous().get(&tampered).await;
    res.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(res.json()["code"], "link_invalid");
    let token = url.rsplit('/').next().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let later = format!(
        "/api/file-links/{}.{}.{}.{}",
        parts[0],
        parts[1],
        parts[2].parse::<i64>().unwrap() + 86_400,
        parts[3]
    );
    app.anonymous()
        .get(&later)
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // Expired: a genuinely signed link whose time has passed.
    let key = faena_platform::secrets::load_or_create(&app.state.config().data_dir, "file-links")
        .unwrap();
    let expired = links::sign(
        &key,
        &links::Grant {
            file_id: id.parse().unwrap(),
            version: 1,
            expires: chrono::Utc::now().timestamp() - 1,
        },
    );
    let res = app
        .anonymous()
        .get(&format!("/api/file-links/{expired}"))
        .await;
    res.assert_status(StatusCode::GONE);
    assert_eq!(res.json()["code"], "link_expired");

    let audit = admin
        .get("/api/audit?action=file.link_created")
        .await
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);

    // A deleted file's links stop working.
    admin
        .delete(&format!("/api/files/{id}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.anonymous()
        .get(&url)
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_order_page_lists_and_attaches_files() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;
    let (cookie, csrf) = browser_session(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page_path = format!("/orders/{number}");

    let page = |cookie: String, path: String| {
        let app = &app;
        async move {
            app.send(
                Request::get(path)
                    .header("cookie", cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
        }
    };
    let res = page(cookie.clone(), page_path.clone()).await;
    res.assert_status(StatusCode::OK);
    let html = res.text();
    assert!(html.contains("Archivos adjuntos"), "{html}");
    assert!(html.contains("enctype=\"multipart/form-data\""));

    let send = |fields: Vec<(&'static str, Option<&'static str>, Vec<u8>)>| {
        let app = &app;
        let cookie = cookie.clone();
        let number = number.clone();
        async move {
            let parts: Vec<(&str, Option<&str>, &[u8])> = fields
                .iter()
                .map(|(n, f, d)| (*n, *f, d.as_slice()))
                .collect();
            let (ct, body) = multipart(&parts);
            app.send(
                Request::post(format!("/files/upload/wms.order/{number}"))
                    .header("cookie", cookie)
                    .header(header::CONTENT_TYPE, ct)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
        }
    };

    // Without the CSRF token first, nothing happens.
    let res = send(vec![
        ("next", None, page_path.clone().into_bytes()),
        (
            "file",
            Some("bodega.png"),
            picture(40, 30, image::ImageFormat::Png),
        ),
    ])
    .await;
    res.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(file_rows(&app.state).await, 0);

    let res = send(vec![
        ("_csrf", None, csrf.clone().into_bytes()),
        ("next", None, page_path.clone().into_bytes()),
        (
            "file",
            Some("bodega.png"),
            picture(40, 30, image::ImageFormat::Png),
        ),
    ])
    .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        res.header("location"),
        Some(format!("{page_path}?ok=file_uploaded").as_str())
    );
    let res = page(cookie.clone(), format!("{page_path}?ok=file_uploaded")).await;
    let html = res.text();
    assert!(html.contains("bodega.png"), "{html}");
    assert!(html.contains("Archivo adjuntado."));

    // A refused file comes back as a message on the page.
    let res = send(vec![
        ("_csrf", None, csrf.clone().into_bytes()),
        ("next", None, page_path.clone().into_bytes()),
        ("file", Some("foto.jpg"), PDF.to_vec()),
    ])
    .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let location = res.header("location").unwrap().to_owned();
    assert_eq!(
        location,
        format!("{page_path}?files_error=file_type_mismatch")
    );
    let html = page(cookie.clone(), location).await.text();
    assert!(
        html.contains("el nombre del archivo no corresponde a su contenido"),
        "{html}"
    );
    assert_eq!(file_rows(&app.state).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_blob_round_trip_through_azurite() {
    let Some(program) = Azurite::program() else {
        return;
    };
    let workdir = tempfile::tempdir().unwrap();
    let azurite = Azurite::start(&program, workdir.path());
    azurite.create_container("faena-adjuntos").await;
    let endpoint = azurite.endpoint();
    let app = TestApp::with_config(|c| {
        c.files.backend = Backend::Azure;
        c.files.azure.use_emulator = true;
        c.files.azure.endpoint = endpoint;
        c.files.azure.container = "faena-adjuntos".into();
    })
    .await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;

    let png = picture(640, 480, image::ImageFormat::Png);
    let res = upload(&admin, &number, "despacho.png", &png).await;
    res.assert_status(StatusCode::CREATED);
    let f = res.json();
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["sha256"], sha256(&png));

    let res = admin.get(&format!("/api/files/{id}/content")).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body.len(), png.len());
    assert_eq!(sha256(&res.body), sha256(&png));
    assert_eq!(res.content_type(), "image/png");

    let worker = start_worker(&app.state);
    wait_json(&admin, &format!("/api/files/{id}"), "thumbnailed", |v| {
        v["thumbnail"] == "ready"
    })
    .await;
    let res = admin.get(&format!("/api/files/{id}/thumbnail")).await;
    res.assert_status(StatusCode::OK);
    let thumb = image::load_from_memory(&res.body).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240));
    let keys = objects(&app.state).await;
    assert_eq!(keys.len(), 2, "the original and its thumbnail: {keys:?}");

    admin
        .delete(&format!("/api/files/{id}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let state = app.state.clone();
    wait_until("purged from Azure", || {
        let state = state.clone();
        async move { objects(&state).await.is_empty() && file_rows(&state).await == 0 }
    })
    .await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_round_trip_through_moto() {
    let Some(python) = Moto::python() else {
        return;
    };
    let moto = Moto::start(&python);
    // moto takes unsigned requests: make the bucket as an operator would.
    let res = reqwest::Client::new()
        .put(format!("{}/faena-adjuntos", moto.endpoint()))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "creating the bucket: {}",
        res.status()
    );
    let endpoint = moto.endpoint();
    let app = TestApp::with_config(|c| {
        c.files.backend = Backend::S3;
        c.files.s3.bucket = "faena-adjuntos".into();
        c.files.s3.region = "us-east-1".into();
        c.files.s3.endpoint = endpoint;
        c.files.s3.allow_http = true;
        c.files.s3.access_key_id = "prueba".into();
        c.files.s3.secret_access_key = secrecy::SecretString::from("prueba-secreta".to_owned());
        c.http.body_window_secs = 2;
    })
    .await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;

    // An upload cut off midway leaves no multipart upload open.
    cut_off_upload(&admin, &number).await;
    let uploads_url = format!("{}/faena-adjuntos?uploads", moto.endpoint());
    wait_until("the multipart upload aborted", || {
        let url = uploads_url.clone();
        async move {
            let xml = reqwest::get(&url).await.unwrap().text().await.unwrap();
            assert!(xml.contains("ListMultipartUploadsResult"), "{xml}");
            !xml.contains("<Upload>")
        }
    })
    .await;
    assert!(objects(&app.state).await.is_empty());

    // Larger than one part (5 MiB), so the upload goes in parts.
    let v1 = "Bitácora de despacho;Camión;Patente\n"
        .repeat(200_000)
        .into_bytes();
    assert!(v1.len() > 6 * 1024 * 1024);
    let res = upload(&admin, &number, "bitacora.csv", &v1).await;
    res.assert_status(StatusCode::CREATED);
    let f = res.json();
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["sha256"], sha256(&v1));
    assert_eq!(f["content_type"], "text/csv");

    let v2 = picture(300, 200, image::ImageFormat::Jpeg);
    post_file(
        &admin,
        &format!("/api/files/{id}/versions"),
        "bitacora.jpg",
        &v2,
    )
    .await
    .assert_status(StatusCode::CREATED);
    for (n, bytes) in [(1, &v1), (2, &v2)] {
        let res = admin
            .get(&format!("/api/files/{id}/versions/{n}/content"))
            .await;
        res.assert_status(StatusCode::OK);
        assert_eq!(sha256(&res.body), sha256(bytes), "version {n}");
    }

    let worker = start_worker(&app.state);
    wait_json(&admin, &format!("/api/files/{id}"), "thumbnailed", |v| {
        v["thumbnail"] == "ready"
    })
    .await;
    let thumb = admin.get(&format!("/api/files/{id}/thumbnail")).await;
    thumb.assert_status(StatusCode::OK);
    let img = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (300, 200),
        "small images keep their size"
    );
    assert_eq!(objects(&app.state).await.len(), 3);

    admin
        .delete(&format!("/api/files/{id}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let state = app.state.clone();
    wait_until("purged from S3", || {
        let state = state.clone();
        async move { objects(&state).await.is_empty() && file_rows(&state).await == 0 }
    })
    .await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_order_or_a_client_takes_its_files_along() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;
    upload(&admin, &number, "guia.pdf", PDF)
        .await
        .assert_status(StatusCode::CREATED);
    let res = admin
        .post_json(
            "/api/clients",
            &json!({"name": "Transportes Quillay", "email": "flota@quillay.cl"}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let client_id = res.json()["id"].as_str().unwrap().to_owned();
    let res = post_file(
        &admin,
        &format!("/api/attachments/clients.client/{client_id}"),
        "contrato.txt",
        b"Contrato de transporte 2026",
    )
    .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["owner_kind"], "clients.client");
    assert_eq!(objects(&app.state).await.len(), 2);

    admin
        .delete(&format!("/api/orders/{number}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    admin
        .delete(&format!("/api/clients/{client_id}"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let worker = start_worker(&app.state);
    let state = app.state.clone();
    wait_until("the owners' files purged", || {
        let state = state.clone();
        async move { objects(&state).await.is_empty() && file_rows(&state).await == 0 }
    })
    .await;
    worker.stop().await;
    let audit = admin
        .get("/api/audit?action=file.deleted_with_owner")
        .await
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "{audit}");
}

/// Regular files under `dir`, at any depth.
fn files_on_disk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.filter_map(Result::ok) {
        let path = e.path();
        if path.is_dir() {
            out.extend(files_on_disk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_midway_leaves_nothing_behind() {
    let app = TestApp::with_config(|c| c.http.body_window_secs = 1).await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;

    cut_off_upload(&admin, &number).await;

    let dir = app.state.config().data_dir.join("files");
    wait_until("the cut-off upload cleaned up", || {
        let dir = dir.clone();
        async move { files_on_disk(&dir).is_empty() }
    })
    .await;
    assert_eq!(file_rows(&app.state).await, 0);
}

/// Sends six MiB of a CSV (past one part, so the store has started a
/// multipart write), and then goes quiet until the server cuts the stalled
/// body (408).
async fn cut_off_upload(admin: &Client, number: &str) {
    let boundary = "----faenacorte";
    let mut head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"grande.csv\"\r\n\r\n"
    )
    .into_bytes();
    head.extend("fecha;bodega;bultos\n".repeat(320_000).into_bytes());
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from(head))]),
        futures_util::stream::pending(),
    );
    let res = admin
        .send(
            Request::post(format!("/api/attachments/wms.order/{number}"))
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(Body::from_stream(stream))
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::REQUEST_TIMEOUT);
    assert_eq!(res.json()["code"], "body_timeout");
}

/// An object whose rows were never committed (the process died between
/// the two) is deleted by the sweep once older than the grace period; the
/// objects of real files and their thumbnails are not.
#[tokio::test]
async fn the_sweep_deletes_objects_no_row_names_and_nothing_else() {
    let app = TestApp::with_config(|c| c.files.orphan_grace_secs = 0).await;
    let admin = app.admin().await;
    let number = an_order(&admin).await;
    let png = picture(400, 300, image::ImageFormat::Png);
    upload(&admin, &number, "bodega.png", &png)
        .await
        .assert_status(StatusCode::CREATED);
    let worker = start_worker(&app.state);
    wait_until("the thumbnail", || async {
        objects(&app.state).await.len() == 2
    })
    .await;
    worker.stop().await;
    let kept = objects(&app.state).await;

    let store = app.state.files().store();
    let orphan = format!("{}/{}", Uuid::now_v7().simple(), Uuid::now_v7().simple());
    for key in [
        orphan.clone(),
        format!("{orphan}.thumb"),
        "notas/otra-cosa.txt".into(),
    ] {
        store
            .put(
                &key.as_str().into(),
                bytes::Bytes::from_static(b"huerfano").into(),
            )
            .await
            .unwrap();
    }
    let swept = faena_platform::files::sweep::sweep(&app.state)
        .await
        .unwrap();
    assert_eq!(swept.objects, 2, "the orphan and its thumbnail");
    let mut expected = kept.clone();
    expected.push("notas/otra-cosa.txt".into());
    expected.sort();
    assert_eq!(
        objects(&app.state).await,
        expected,
        "real files and foreign keys stay"
    );

    // With the default grace of an hour, a fresh orphan is left alone.
    let patient = TestApp::new().await;
    patient
        .state
        .files()
        .store()
        .put(
            &orphan.as_str().into(),
            bytes::Bytes::from_static(b"x").into(),
        )
        .await
        .unwrap();
    let swept = faena_platform::files::sweep::sweep(&patient.state)
        .await
        .unwrap();
    assert_eq!(swept.objects, 0);
}
