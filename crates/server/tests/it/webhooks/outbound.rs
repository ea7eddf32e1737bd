//! Outbound deliveries: the retry schedule and the failing state, internal
//! targets refused, and emits that roll back.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_on_the_schedule_then_marked_failing() {
    let app = app(true).await;
    let state = &app.state;
    let admin = app.admin().await;
    let mut events = state.realtime().subscribe(None);
    let (url, seen) = fixed_server(StatusCode::INTERNAL_SERVER_ERROR).await;
    let created = register(&admin, &format!("{url}/hook"), &["order.*"]).await;
    let endpoint_id = created["id"].as_str().unwrap().to_owned();

    let message_id = emit(state, "order.created", json!({"number": "ORD-000123"}))
        .await
        .unwrap();
    let d = deliveries_of(state, &endpoint_id).await.remove(0);
    let worker = start_worker(state);

    // After attempt n fails, the job waits SCHEDULE[n - 1]: 5 s, then 5 min.
    for (attempt, wait) in [(1, 5), (2, 300)] {
        let j = eventually("the attempt to fail and be rescheduled", || async {
            let j = job_of(state, d.id).await;
            (j.attempts == attempt && j.state == "queued").then_some(j)
        })
        .await;
        let gap = (j.run_at - j.updated_at).num_milliseconds();
        assert!(
            (gap - wait * 1000).abs() < 50,
            "attempt {attempt}: retry in {gap} ms, expected {wait} s"
        );
        assert!(j.run_at > Utc::now() + chrono::Duration::seconds(wait - 2));
        assert_eq!(
            j.last_error.as_deref(),
            Some("the endpoint answered 500"),
            "{j:?}"
        );
        // Time passes: the retry is due now.
        job::Entity::update_many()
            .col_expr(job::Column::RunAt, Expr::value(Utc::now()))
            .col_expr(
                job::Column::Attempts,
                // Before the last retry, jump to the schedule's end.
                Expr::value(if attempt == 2 { 7 } else { attempt }),
            )
            .filter(job::Column::Id.eq(j.id))
            .exec(state.db())
            .await
            .unwrap();
        state.jobs().wake();
    }
    let dead = eventually("the schedule to run out", || async {
        let j = job_of(state, d.id).await;
        (j.state == "dead").then_some(j)
    })
    .await;
    worker.stop().await;
    assert_eq!(dead.attempts, 8, "7 retries after the first attempt");

    // Three calls reached the endpoint, all with the message's one id.
    let ids = seen.lock().unwrap().clone();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter()
            .all(|i| *i == webhooks::message_header_id(message_id))
    );

    // The endpoint is failing, and says so.
    let ep = admin
        .get(&format!("/api/webhooks/endpoints/{endpoint_id}"))
        .await
        .json();
    assert_eq!(ep["state"], "failing", "{ep}");
    assert!(ep["failing_since"].is_string());
    assert!(ep.get("secret").is_none(), "the secret is not shown again");

    // The delivery log has every attempt with its status code.
    let detail = admin
        .get(&format!("/api/webhooks/deliveries/{}", d.id))
        .await
        .json();
    assert_eq!(detail["delivery"]["state"], "failed");
    assert_eq!(detail["delivery"]["attempts"], 3);
    assert_eq!(detail["delivery"]["last_status"], 500);
    assert_eq!(detail["payload"]["data"]["number"], "ORD-000123");
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| (
                a["attempt"].as_i64().unwrap(),
                a["status_code"].as_i64().unwrap()
            ))
            .collect::<Vec<_>>(),
        vec![(1, 500), (2, 500), (3, 500)]
    );
    assert_eq!(attempts[0]["response_excerpt"], "el servicio está caído");
    let took = attempts[0]["duration_ms"].as_u64().unwrap();
    assert!(
        took >= ANSWER_DELAY.as_millis() as u64,
        "the log shows the {took} ms the endpoint took to answer"
    );

    // Subscribers heard it; the audit log has it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let notice = loop {
        let next = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("the failing notice arrives");
        if let Some(faena_platform::realtime::Signal::Event(e)) = next
            && e.kind == "webhook.endpoint_failing"
        {
            break e;
        }
    };
    assert_eq!(notice.topic, "webhooks");
    assert_eq!(notice.data["id"], endpoint_id);
    let trail = admin
        .get(&format!(
            "/api/audit?entity=webhook_endpoint&entity_id={endpoint_id}"
        ))
        .await
        .json();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"webhook.endpoint_failing"), "{actions:?}");

    // A failing endpoint gets no new messages, and its page says so.
    assert_eq!(emit(state, "order.created", json!({"n": 2})).await, None);
    let page = admin.get("/admin/webhooks").await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("Fallando"), "{}", page.text());

    // An admin re-enables it and replays the message.
    let res = admin
        .send_json(
            Method::PATCH,
            &format!("/api/webhooks/endpoints/{endpoint_id}"),
            &json!({"active": true}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["state"], "active");
    assert!(res.json()["failing_since"].is_null());
    let res = admin
        .post_json(
            &format!("/api/webhooks/deliveries/{}/replay", d.id),
            &json!({}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["state"], "pending");
    assert_eq!(
        res.json()["message_id"],
        webhooks::message_header_id(message_id)
    );
    let again = job::Entity::find()
        .filter(job::Column::DedupKey.eq(format!("delivery:{}", d.id)))
        .filter(job::Column::State.eq("queued"))
        .count(state.db())
        .await
        .unwrap();
    assert_eq!(again, 1, "the replay queued one delivery job");
    // While it waits, another replay is refused.
    let res = admin
        .post_json(
            &format!("/api/webhooks/deliveries/{}/replay", d.id),
            &json!({}),
        )
        .await;
    res.assert_status(StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "webhook_delivery_pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_targets_are_refused_at_registration_and_at_delivery() {
    let app = app(false).await;
    let admin = app.admin().await;
    for (url, code) in [
        ("http://127.0.0.1:8080/hook", "url_internal"),
        ("http://localhost/hook", "url_internal"),
        ("http://[::1]/hook", "url_internal"),
        ("http://10.1.2.3/hook", "url_internal"),
        ("http://169.254.169.254/latest/meta-data", "url_internal"),
        ("http://100.64.0.7/", "url_internal"),
        ("http://[fd00::7]/", "url_internal"),
        ("ftp://files.example.com/", "url_scheme"),
    ] {
        let res = admin
            .post_json(
                "/api/webhooks/endpoints",
                &json!({"url": url, "event_types": ["*"]}),
            )
            .await;
        res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.content_type(), "application/problem+json");
        let body = res.json();
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
        assert_eq!(body["errors"][0]["code"], code, "{url}: {body}");
    }
    // Public names are accepted without resolving them now.
    register(&admin, "https://hooks.example.com/faena", &["*"]).await;
    assert_eq!(
        endpoint::Entity::find()
            .count(app.state.db())
            .await
            .unwrap(),
        1,
        "nothing refused was stored"
    );

    // Endpoints registered where private targets were allowed, delivered
    // by a node where they are not: refused before connecting, for a name
    // that resolves to loopback and for an address literal.
    let open = app_sharing(&app, true).await;
    let (port, connections) = counting_listener().await;
    let admin_open = open.admin().await;
    let by_name = register(&admin_open, &format!("http://localhost:{port}/h"), &["*"]).await;
    let by_ip = register(&admin_open, &format!("http://127.0.0.1:{port}/h"), &["*"]).await;
    drop(admin_open);
    let strict = &app.state;
    emit(strict, "ping", json!({})).await.unwrap();
    let worker = start_worker(strict);
    for created in [&by_name, &by_ip] {
        let id = created["id"].as_str().unwrap();
        let d = eventually("the refused attempt", || async {
            deliveries_of(strict, id)
                .await
                .into_iter()
                .find(|d| d.attempts == 1)
        })
        .await;
        let error = d.last_error.unwrap_or_default();
        assert!(error.contains("internal address"), "{error}");
        assert_eq!(d.last_status, None);
        assert_eq!(
            d.state, "pending",
            "retried on the schedule like any failure"
        );
    }
    worker.stop().await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "no connection was made"
    );
    drop(open);
}

/// Another node over `app`'s database, with private targets allowed or
/// not.
async fn app_sharing(app: &TestApp, allow_private: bool) -> TestApp {
    app.replica_with(|c| c.webhooks.allow_private_targets = allow_private)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_emitted_in_a_rolled_back_transaction_is_never_delivered() {
    let app = app(true).await;
    let state = &app.state;
    let admin = app.admin().await;
    let (url, seen) = fixed_server(StatusCode::NO_CONTENT).await;
    register(&admin, &format!("{url}/hook"), &["order.created"]).await;

    let txn = state.begin_write().await.unwrap();
    let lost = webhooks::emit(&txn, "order.created", json!({"number": "ORD-1"}))
        .await
        .unwrap()
        .expect("a subscribed endpoint");
    txn.rollback().await.unwrap();
    // An event nobody subscribed to stores nothing.
    assert_eq!(emit(state, "order.cancelled", json!({})).await, None);
    let kept = emit(state, "order.created", json!({"number": "ORD-2"}))
        .await
        .unwrap();

    assert!(
        message::Entity::find_by_id(lost)
            .one(state.db())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(message::Entity::find().count(state.db()).await.unwrap(), 1);
    assert_eq!(delivery::Entity::find().count(state.db()).await.unwrap(), 1);
    let worker = start_worker(state);
    eventually("the committed delivery", || async {
        delivery::Entity::find()
            .filter(delivery::Column::State.eq("succeeded"))
            .one(state.db())
            .await
            .unwrap()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.stop().await;
    let ids = seen.lock().unwrap().clone();
    assert_eq!(ids, vec![webhooks::message_header_id(kept)]);
    assert_eq!(
        job::Entity::find()
            .filter(job::Column::Kind.eq("platform.webhooks.deliver"))
            .count(state.db())
            .await
            .unwrap(),
        1
    );
}
