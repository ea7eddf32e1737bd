//! Our deliveries against the Standard Webhooks reference library (Python
//! `standardwebhooks`, see `webhook_receiver.py`), both ways.

use super::*;

/// The Python that has the `standardwebhooks` package: `FAENA_TEST_PYTHON`
/// or `python3`. In CI its absence fails the test; elsewhere it is skipped.
fn reference_python() -> Option<String> {
    let python = std::env::var("FAENA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{python} cannot import standardwebhooks: set FAENA_TEST_PYTHON (CI installs it into target/ci-venv)"
    );
    println!(
        "note: {python} has no standardwebhooks package (pip install standardwebhooks, or set FAENA_TEST_PYTHON); the reference-receiver test did not run"
    );
    None
}

fn receiver_script() -> String {
    format!(
        "{}/tests/it/webhook_receiver.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Lines a child process prints, read on a thread of their own.
struct Lines(Arc<Mutex<std::sync::mpsc::Receiver<String>>>);

impl Lines {
    fn of(stdout: std::process::ChildStdout) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(Arc::new(Mutex::new(rx)))
    }

    /// The next line, waiting up to 20 s.
    async fn next(&self) -> String {
        let rx = self.0.clone();
        tokio::task::spawn_blocking(move || {
            rx.lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(20))
                .expect("the receiver prints a line")
        })
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_using_the_reference_library_verifies_our_deliveries() {
    let Some(python) = reference_python() else {
        return;
    };
    let app = app(true).await;
    let state = &app.state;
    let admin = app.admin().await;

    let mut child = std::process::Command::new(&python)
        .arg(receiver_script())
        .arg("receive")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the receiver starts");
    let lines = Lines::of(child.stdout.take().unwrap());
    let first = lines.next().await;
    let port = first.strip_prefix("PORT ").expect("the receiver's port");

    let created = register(
        &admin,
        &format!("http://127.0.0.1:{port}/hook"),
        &["order.*"],
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{secret}").unwrap();
    }

    let data =
        json!({"number": "ORD-000192", "client_name": "Ferretería Ñuñoa", "status": "received"});
    let message_id = emit(state, "order.created", data.clone()).await.unwrap();
    let worker = start_worker(state);
    let report: Value = serde_json::from_str(&lines.next().await).unwrap();
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["payload"]["type"], "order.created");
    assert_eq!(report["payload"]["data"], data);
    assert!(report["payload"]["timestamp"].is_string());
    assert_eq!(
        report["headers"]["webhook-id"],
        webhooks::message_header_id(message_id)
    );
    assert_eq!(report["headers"]["content-type"], "application/json");
    assert!(
        report["headers"]["webhook-signature"]
            .as_str()
            .unwrap()
            .starts_with("v1,")
    );

    let endpoint_id = created["id"].as_str().unwrap();
    let d = eventually("the delivery to succeed", || async {
        deliveries_of(state, endpoint_id)
            .await
            .into_iter()
            .find(|d| d.state == "succeeded")
    })
    .await;
    worker.stop().await;
    assert_eq!(d.attempts, 1);
    assert_eq!(d.last_status, Some(204));
    let _ = child.wait();

    // The other way: the reference library signs, our inbound endpoint
    // verifies.
    let body = r#"{"type":"invoice.paid","data":{"folio":1234}}"#;
    let now = Utc::now().timestamp();
    let mut sign = std::process::Command::new(&python)
        .arg(receiver_script())
        .args(["sign", INBOUND_SECRET, "msg_from_python", &now.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    sign.stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = sign.wait_with_output().unwrap();
    assert!(out.status.success());
    let their_signature = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(their_signature, signed("msg_from_python", now, body));
    let res = send_hook(&app, "test", "msg_from_python", now, &their_signature, body).await;
    res.assert_status(StatusCode::ACCEPTED);
}
