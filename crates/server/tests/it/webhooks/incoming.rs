//! Inbound hooks: signature, timestamp window, replay, and the handler.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_calls_are_verified_stored_once_and_handled_once() {
    let app = app(false).await;
    let state = &app.state;
    let anonymous = app.anonymous();
    let id = format!("msg_{}", Uuid::now_v7().simple());
    let body = r#"{"type":"dte.accepted","data":{"folio":4711}}"#;
    let now = Utc::now().timestamp();

    // Correctly signed: accepted and stored.
    let res = send_hook(&anonymous, "test", &id, now, &signed(&id, now, body), body).await;
    res.assert_status(StatusCode::ACCEPTED);
    let first = res.json();
    assert_eq!(first["duplicate"], false);

    // The same message again (a sender's retry): 200, not stored twice.
    let res = send_hook(&anonymous, "test", &id, now, &signed(&id, now, body), body).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["duplicate"], true);
    assert_eq!(res.json()["id"], first["id"]);

    // A tampered body, a stale or future timestamp, a missing header.
    let tampered = body.replace("4711", "4712");
    let res = send_hook(
        &anonymous,
        "test",
        &id,
        now,
        &signed(&id, now, body),
        &tampered,
    )
    .await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(res.content_type(), "application/problem+json");
    assert_eq!(res.json()["code"], "webhook_signature_invalid");
    for ts in [now - 301, now + 301] {
        let other = format!("msg_{}", Uuid::now_v7().simple());
        let res = send_hook(
            &anonymous,
            "test",
            &other,
            ts,
            &signed(&other, ts, body),
            body,
        )
        .await;
        res.assert_status(StatusCode::UNAUTHORIZED);
        let problem = res.json();
        assert_eq!(problem["code"], "webhook_timestamp_out_of_window");
        assert_eq!(problem["header"], "webhook-timestamp");
        assert!(
            problem["title"]
                .as_str()
                .unwrap()
                .contains("webhook-timestamp"),
            "{problem}"
        );
    }
    let english = app
        .anonymous()
        .with_header("accept-language", "en")
        .send(
            Request::post("/api/hooks/test")
                .header("webhook-id", "msg_x")
                .header("webhook-timestamp", (now - 3600).to_string())
                .header("webhook-signature", signed("msg_x", now - 3600, body))
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await;
    english.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(
        english.json()["title"],
        "The webhook-timestamp header is outside the allowed window"
    );
    let res = anonymous
        .send(
            Request::post("/api/hooks/test")
                .header("webhook-id", "msg_y")
                .header("webhook-timestamp", now.to_string())
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["code"], "webhook_header_missing");
    assert_eq!(res.json()["header"], "webhook-signature");
    // An unknown source.
    let res = send_hook(&anonymous, "nadie", &id, now, &signed(&id, now, body), body).await;
    res.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(res.content_type(), "application/problem+json");
    assert_eq!(res.json()["code"], "webhook_source_unknown");

    // A source no module handles: stored for admins only.
    let archive = signed_with(ARCHIVE_SECRET, &id, now, body);
    let res = send_hook(&anonymous, "archive", &id, now, &archive, body).await;
    res.assert_status(StatusCode::ACCEPTED);

    // The handler runs once, in the background.
    let worker = start_worker(state);
    eventually("the handler to run", || async {
        (handled(&id) == 1).then_some(())
    })
    .await;
    let processed = eventually("the event to be processed", || async {
        inbound::Entity::find()
            .filter(inbound::Column::Source.eq("test"))
            .filter(inbound::Column::MessageId.eq(&id))
            .one(state.db())
            .await
            .unwrap()
            .filter(|e| e.state == "processed")
    })
    .await;
    // Replayed after processing: still once.
    let res = send_hook(&anonymous, "test", &id, now, &signed(&id, now, body), body).await;
    res.assert_status(StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.stop().await;
    assert_eq!(handled(&id), 1, "the handler ran once");
    let rows = inbound::Entity::find()
        .filter(inbound::Column::MessageId.eq(&id))
        .all(state.db())
        .await
        .unwrap();
    let mut by_source: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        *by_source.entry(r.source.clone()).or_default() += 1;
    }
    assert_eq!(by_source.get("test"), Some(&1));
    assert_eq!(by_source.get("archive"), Some(&1));
    assert_eq!(
        rows.iter().find(|r| r.source == "archive").unwrap().state,
        "stored"
    );
    assert!(processed.processed_at.is_some());

    // Admins see both, with the body.
    let admin = app.admin().await;
    let list = admin.get("/api/webhooks/inbound?source=test").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["state"], "processed");
    let detail = admin
        .get(&format!("/api/webhooks/inbound/{}", processed.id))
        .await
        .json();
    assert_eq!(detail["payload"]["data"]["folio"], 4711);
}
