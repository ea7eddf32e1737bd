//! `faena keys rotate`: a new active key, every encrypted value rewritten
//! with it, and everything still readable.

use std::process::Command;

use crate::binary::{admin_token, start, stop_within_five_seconds};

#[tokio::test]
async fn rotation_reencrypts_and_everything_stays_readable() {
    if faena_testkit::postgres_url().is_some() {
        return; // the command works on the data dir's SQLite file here
    }
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), None).await;
    let token = admin_token(&running.address).await;
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("http://{}/api/clients", running.address))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Rota", "email": "rota@x.cl", "phone": "+56 9 5555 4444", "tax_id": "76.086.428-5"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let hook: serde_json::Value = http
        .post(format!("http://{}/api/webhooks/endpoints", running.address))
        .bearer_auth(&token)
        .json(&serde_json::json!({"url": "https://erp.example.com/hooks", "event_types": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    stop_within_five_seconds(running).await;

    let out = Command::new(env!("CARGO_BIN_EXE_faena"))
        .args(["keys", "rotate", "--data-dir"])
        .arg(dir.path())
        .env_remove("FAENA_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("key 2 is now active"), "{stdout}");
    assert!(stdout.contains("3 value(s) re-encrypted"), "{stdout}");

    let running = start(dir.path(), None).await;
    let token = admin_token(&running.address).await;
    let fetched: serde_json::Value = http
        .get(format!("http://{}/api/clients/{id}", running.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["phone"], "+56 9 5555 4444");
    assert_eq!(fetched["tax_id"], "76.086.428-5");
    let found: serde_json::Value = http
        .get(format!(
            "http://{}/api/clients?tax_id=760864285",
            running.address
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        found["items"][0]["id"],
        id.as_str(),
        "the blind index survives rotation"
    );
    let secret: serde_json::Value = http
        .get(format!(
            "http://{}/api/webhooks/endpoints/{hook_id}/secret",
            running.address
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(secret["secret"], hook["secret"], "webhook secrets too");
    stop_within_five_seconds(running).await;
}
