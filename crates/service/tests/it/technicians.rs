//! `/api/technicians`: who works at the bench, their profile and load.

use axum::http::StatusCode;
use serde_json::json;

use crate::{intake, my_id, put, setup};

#[tokio::test]
async fn technicians_with_their_load_and_profile() {
    let (app, admin, client_id) = setup().await;
    let ana = app.client_for("technician").await;
    let ana_id = my_id(&ana).await;
    let luis = app.client_for("technician").await;
    let luis_id = my_id(&luis).await;
    let manager = app.client_for("manager").await;
    let desk = app.client_for("receptionist").await;

    for _ in 0..2 {
        let n = intake(&admin, &client_id).await["number"]
            .as_str()
            .unwrap()
            .to_owned();
        ana.post_json(&format!("/api/service-orders/{n}/take"), &json!({}))
            .await
            .assert_status(StatusCode::OK);
    }
    // A delivered order is no longer on her load.
    let done = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    ana.post_json(&format!("/api/service-orders/{done}/take"), &json!({}))
        .await;
    crate::walk(&admin, &done, "delivered").await;

    let list = desk.get("/api/technicians").await;
    list.assert_status(StatusCode::OK);
    let list = list.json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "the technicians, not the manager or admin: {list}"
    );
    assert!(ids.contains(&ana_id.as_str()) && ids.contains(&luis_id.as_str()));
    let of = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(of(&ana_id)["open_orders"], 2);
    assert_eq!(of(&luis_id)["open_orders"], 0);
    assert_eq!(of(&ana_id)["active"], true);
    assert_eq!(of(&ana_id)["version"], 0);

    // The manager keeps the profile; the desk may not.
    let url = format!("/api/technicians/{luis_id}");
    let body = json!({"specialties": ["Notebooks", " celulares ", "notebooks"], "active": false});
    put(&desk, &url, &body)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let res = put(&manager, &url, &body).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["specialties"], json!(["Notebooks", "celulares"]));
    assert_eq!(res.json()["active"], false);
    assert_eq!(res.header("etag"), Some("\"1\""));
    let stale = manager.clone().with_header("if-match", "\"0\"");
    put(&stale, &url, &body)
        .await
        .assert_status(StatusCode::PRECONDITION_FAILED);
    let one = ana.get(&url).await;
    one.assert_status(StatusCode::OK);
    assert_eq!(one.json()["specialties"], json!(["Notebooks", "celulares"]));

    // An inactive technician is given no work, nor takes it.
    let n = intake(&admin, &client_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = desk
        .post_json(
            &format!("/api/service-orders/{n}/assign"),
            &json!({"technician_id": luis_id}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["code"], "technician_inactive");
    let res = luis
        .post_json(&format!("/api/service-orders/{n}/take"), &json!({}))
        .await;
    res.assert_status(StatusCode::FORBIDDEN);
    let res = desk
        .post_json(
            &format!("/api/service-orders/{n}/assign"),
            &json!({"technician_id": ana_id}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["technician_name"], "Usuario technician");

    // A user who is not a technician has no profile here.
    let desk_id = my_id(&desk).await;
    manager
        .get(&format!("/api/technicians/{desk_id}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    put(
        &manager,
        &format!("/api/technicians/{desk_id}"),
        &json!({"specialties": []}),
    )
    .await
    .assert_status(StatusCode::NOT_FOUND);
    // A manager who also repairs joins the list once given a profile.
    let manager_id = my_id(&manager).await;
    put(
        &admin,
        &format!("/api/technicians/{manager_id}"),
        &json!({"specialties": ["Consolas"]}),
    )
    .await
    .assert_status(StatusCode::OK);
    let list = desk.get("/api/technicians").await.json();
    assert_eq!(list.as_array().unwrap().len(), 3);
}
