//! Photos and documents of a service order: attached by the desk and the
//! bench, seen by whoever sees the order, and by no one else (a technician
//! never sees another technician's order, nor its photos).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use faena_testkit::{Client, TestResponse};
use serde_json::json;

use crate::{intake, my_id, setup};

/// Uploads a small PNG (a QR code) to the order; the platform knows an
/// image by its content.
async fn attach_photo(user: &Client, number: &str) -> TestResponse {
    let png = faena_pdf::qr::png("equipo", 2, 2).unwrap();
    let boundary = "----foto";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pantalla.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    user.send(
        Request::post(format!("/api/attachments/service.order/{number}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn photos_are_seen_by_those_who_see_the_order_and_no_one_else() {
    let (app, admin, client_id) = setup().await;
    let desk = app.client_for("receptionist").await;
    let mine = app.client_for("technician").await;
    let other = app.client_for("technician").await;
    let viewer = app.client_for("viewer").await;
    let number = intake(&desk, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    desk.post_json(
        &format!("/api/service-orders/{number}/assign"),
        &json!({"technician_id": my_id(&mine).await}),
    )
    .await
    .assert_status(StatusCode::OK);

    // The desk photographs the device as it came in; the bench adds one.
    let res = attach_photo(&desk, &number).await;
    res.assert_status(StatusCode::CREATED);
    let file_id = res.json()["id"].as_str().unwrap().to_owned();
    attach_photo(&mine, &number)
        .await
        .assert_status(StatusCode::CREATED);

    let list = format!("/api/attachments/service.order/{number}");
    for who in [&admin, &desk, &mine, &viewer] {
        let res = who.get(&list).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.json()["items"].as_array().unwrap().len(), 2);
    }
    who_sees_the_file(&mine, &file_id, StatusCode::OK).await;
    who_sees_the_file(&viewer, &file_id, StatusCode::OK).await;

    // Another technician: as if the order and its photos did not exist.
    other.get(&list).await.assert_status(StatusCode::NOT_FOUND);
    who_sees_the_file(&other, &file_id, StatusCode::NOT_FOUND).await;
    attach_photo(&other, &number)
        .await
        .assert_status(StatusCode::NOT_FOUND);
    // A viewer reads but does not attach.
    attach_photo(&viewer, &number)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    assert_eq!(
        admin.get(&list).await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "nothing was added by the refused uploads"
    );

    // The order's page shows them to the desk.
    let page = app.browser_for("receptionist").await;
    let html = page.get(&format!("/service-orders/{number}")).await.text();
    assert!(html.contains("pantalla.png"), "{html}");
}

async fn who_sees_the_file(user: &Client, id: &str, status: StatusCode) {
    user.get(&format!("/api/files/{id}"))
        .await
        .assert_status(status);
    user.get(&format!("/api/files/{id}/content"))
        .await
        .assert_status(status);
}
