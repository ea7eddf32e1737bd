//! The audit log: every change is recorded with its actor, and the hash
//! chain exposes an edited, deleted or reordered row.

use std::process::Command;

use axum::http::StatusCode;
use faena_platform::audit::{self, Fault};
use faena_testkit::TestApp;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

async fn app_with_history() -> TestApp {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for n in 0..3 {
        admin
            .post_json(
                "/api/users",
                &json!({"email": format!("u{n}@faena.test"), "name": format!("U {n}"), "password": "Tetera-azul-contra-7-nubes"}),
            )
            .await
            .assert_status(StatusCode::CREATED);
    }
    app
}

async fn exec(app: &TestApp, sql: &str) {
    let db = app.state.db();
    db.execute(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn changes_are_recorded_with_actor_and_before_after_without_secrets() {
    let app = app_with_history().await;
    let admin = app.admin().await;
    let res = admin.get("/api/audit?entity=user&action=create").await;
    res.assert_status(StatusCode::OK);
    let items = res.json()["items"].as_array().unwrap().clone();
    // The first admin (by "first start") and three users by the admin.
    assert_eq!(items.len(), 4, "{items:?}");
    let latest = &items[0];
    assert_eq!(latest["actor"], faena_testkit::ADMIN_EMAIL);
    assert_eq!(latest["after"]["email"], "u2@faena.test");
    let text = res.text();
    assert!(!text.contains("argon2"), "no hash in the log");
    assert!(!text.contains("Tetera-azul"), "no password in the log");

    // Logins are there too, and the page shows the log.
    let logins = admin.get("/api/audit?action=login.succeeded").await.json();
    assert!(!logins["items"].as_array().unwrap().is_empty());
    let page = admin.get("/admin/audit").await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("u2@faena.test") || page.text().contains("login.succeeded"));
}

#[tokio::test]
async fn an_untouched_log_verifies() {
    let app = app_with_history().await;
    assert!(audit::seal(app.state.db()).await.unwrap() >= 4);
    let report = audit::verify(app.state.db()).await.unwrap();
    assert_eq!(report.fault, None);
    assert!(report.sealed >= 4);
    assert_eq!(report.unsealed, 0);
    // Entries written after sealing verify as pending.
    app.admin().await;
    let report = audit::verify(app.state.db()).await.unwrap();
    assert_eq!(report.fault, None);
    assert!(report.unsealed >= 1);
}

#[tokio::test]
async fn an_edited_row_is_named() {
    let app = app_with_history().await;
    audit::seal(app.state.db()).await.unwrap();
    exec(
        &app,
        "UPDATE audit_log SET actor = 'alguien-mas' WHERE seq = 3",
    )
    .await;
    let report = audit::verify(app.state.db()).await.unwrap();
    match report.fault {
        Some(Fault::Altered { seq: Some(3), .. }) => {}
        other => panic!("expected seq 3 altered, got {other:?}"),
    }
}

#[tokio::test]
async fn a_deleted_row_is_named() {
    let app = app_with_history().await;
    audit::seal(app.state.db()).await.unwrap();
    exec(&app, "DELETE FROM audit_log WHERE seq = 2").await;
    let report = audit::verify(app.state.db()).await.unwrap();
    assert!(
        matches!(report.fault, Some(Fault::Missing { seq: 2, .. })),
        "{:?}",
        report.fault
    );
}

#[tokio::test]
async fn a_rehashed_row_still_breaks_the_chain() {
    let app = app_with_history().await;
    audit::seal(app.state.db()).await.unwrap();
    // Swap the content of two rows, hashes and all: each row is
    // self-consistent, but the chain is not.
    exec(&app, "UPDATE audit_log SET seq = -2 WHERE seq = 2").await;
    exec(&app, "UPDATE audit_log SET seq = 2 WHERE seq = 3").await;
    exec(&app, "UPDATE audit_log SET seq = 3 WHERE seq = -2").await;
    let report = audit::verify(app.state.db()).await.unwrap();
    assert!(
        matches!(report.fault, Some(Fault::Reordered { seq: 2, .. })),
        "{:?}",
        report.fault
    );
}

#[tokio::test]
async fn retention_archives_instead_of_deleting() {
    let app = app_with_history().await;
    audit::seal(app.state.db()).await.unwrap();
    let before = audit::count(app.state.db()).await.unwrap();
    exec(
        &app,
        "UPDATE audit_log SET at = '2020-01-01 00:00:00+00:00' WHERE seq <= 2",
    )
    .await;
    // The edited timestamps are tampering as far as the chain knows;
    // archive what is old, then check the archived file holds it.
    let dir = tempfile::tempdir().unwrap();
    let (file, moved) = audit::retention::archive(app.state.db(), dir.path(), 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved, 2);
    let lines = std::fs::read_to_string(&file).unwrap();
    assert_eq!(lines.lines().count(), 2);
    assert!(lines.contains("\"seq\":1") && lines.contains("\"chain_hash\""));
    assert_eq!(audit::count(app.state.db()).await.unwrap(), before - 2);
    // What remains starts from the anchor and verifies.
    let report = audit::verify(app.state.db()).await.unwrap();
    assert_eq!(report.fault, None, "{report:?}");
}

#[tokio::test]
async fn faena_audit_verify_fails_naming_the_altered_row() {
    if faena_testkit::postgres_url().is_some() {
        return; // the command reads the SQLite file of a data dir; the chain logic runs on both above
    }
    let dir = tempfile::tempdir().unwrap();
    let faena = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_faena"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("FAENA_DATABASE_URL")
            .env("FAENA_USER_PASSWORD", "Tetera-azul-contra-7-nubes")
            .output()
            .unwrap()
    };
    for email in ["a@faena.test", "b@faena.test", "c@faena.test"] {
        let out = faena(&["user", "create", "--email", email, "--role", "viewer"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list = faena(&["user", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("b@faena.test"));

    let ok = faena(&["audit", "verify"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));

    // Change one byte of one row, behind Faena's back.
    let url = format!("sqlite://{}", dir.path().join("faena.db").display());
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let row = db
        .query_one(Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "SELECT id FROM audit_log WHERE seq = 2".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    let id: uuid::Uuid = row.try_get_by_index(0).unwrap();
    db.execute(Statement::from_string(
        sea_orm::DatabaseBackend::Sqlite,
        "UPDATE audit_log SET after = replace(after, 'b@faena', 'B@faena') WHERE seq = 2"
            .to_owned(),
    ))
    .await
    .unwrap();
    db.close().await.unwrap();

    let bad = faena(&["audit", "verify"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains(&id.to_string()) && stderr.contains("seq 2"),
        "{stderr}"
    );
}
