//! The daily schedule: a reminder for devices ready and not collected,
//! the managers' digest of promised dates passed; once, however many
//! workers run it.

use axum::http::StatusCode;
use chrono::{Duration, NaiveDate, Utc};
use faena_service::orders::reminders::{Run, run};
use faena_service::orders::store::{history, order};
use faena_testkit::Client;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{an_intake, setup, walk};

async fn outbox(admin: &Client, template: &str) -> Vec<Value> {
    let res = admin.get("/api/mail?limit=100").await;
    res.assert_status(StatusCode::OK);
    res.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["template"] == template)
        .cloned()
        .collect()
}

#[tokio::test]
async fn reminders_and_the_overdue_digest_go_once() {
    let (app, admin, client_id) = setup().await;
    let _manager = app.client_for("manager").await;
    let mut body = an_intake(&client_id);
    body["contact_email"] = json!("ana.perez@clientes.cl");
    let take_in = async || -> String {
        let res = admin.post_json("/api/service-orders", &body).await;
        res.assert_status(StatusCode::CREATED);
        res.json()["number"].as_str().unwrap().to_owned()
    };
    let waiting = take_in().await;
    let fresh = take_in().await;
    let late = take_in().await;
    walk(&admin, &waiting, "ready").await;
    walk(&admin, &fresh, "ready").await;
    let db = app.state.db();
    let set_promised = async |number: &str, day: NaiveDate| {
        order::Entity::update_many()
            .col_expr(order::Column::PromisedDate, Expr::value(day))
            .filter(order::Column::Number.eq(number))
            .exec(db)
            .await
            .unwrap();
    };
    let future = NaiveDate::from_ymd_opt(2099, 1, 1).unwrap();
    set_promised(&waiting, future).await;
    set_promised(&fresh, future).await;
    set_promised(&late, NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()).await;
    let id_of = async |number: &str| {
        order::Entity::find()
            .filter(order::Column::Number.eq(number))
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    history::Entity::update_many()
        .col_expr(
            history::Column::At,
            Expr::value(Utc::now() - Duration::days(8)),
        )
        .filter(history::Column::OrderId.eq(id_of(&waiting).await))
        .filter(history::Column::ToStatus.eq("ready"))
        .exec(db)
        .await
        .unwrap();

    // Two workers at once: one reminder, one digest per recipient (the
    // admin and the manager).
    let now = Utc::now();
    let (a, b) = tokio::join!(run(&app.state, now), run(&app.state, now));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.reminders + b.reminders, 1, "{a:?} {b:?}");
    assert_eq!(a.digests + b.digests, 2, "{a:?} {b:?}");
    let reminders = outbox(&admin, "service_reminder").await;
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(reminders[0]["related_id"], waiting.as_str());
    let digests = outbox(&admin, "service_overdue").await;
    assert_eq!(digests.len(), 2, "{digests:?}");

    // Again the same day: nothing.
    let again = run(&app.state, now + Duration::hours(1)).await.unwrap();
    assert_eq!(again, Run::default());
    assert_eq!(outbox(&admin, "service_reminder").await.len(), 1);
    assert_eq!(outbox(&admin, "service_overdue").await.len(), 2);

    // A reminder at most every 7 days (and by then the other one has
    // waited 7 days too); the digest daily.
    let later = run(&app.state, now + Duration::days(8)).await.unwrap();
    assert_eq!(later.reminders, 2, "{later:?}");
    assert_eq!(later.digests, 2);
    let mut about: Vec<String> = outbox(&admin, "service_reminder")
        .await
        .iter()
        .map(|m| m["related_id"].as_str().unwrap().to_owned())
        .collect();
    about.sort();
    let mut expected = vec![waiting.clone(), waiting.clone(), fresh.clone()];
    expected.sort();
    assert_eq!(about, expected);
}
