//! Outgoing mail: the outbox commits or rolls back with its change; a real
//! SMTP server (aiosmtpd) that is down when the mail is queued gets it,
//! once, when it comes up; Microsoft Graph receives the documented
//! requests (checked by a local server); templates escape HTML; the admin
//! API validates, lists and resends.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use faena_platform::i18n::Locale;
use faena_platform::jobs::entity::job;
use faena_platform::jobs::worker::WorkerOptions;
use faena_platform::jobs::{self, Enqueue};
use faena_platform::mail::config::{SmtpSecurity, TransportKind};
use faena_platform::mail::entity::mail;
use faena_platform::mail::{self as outbox, Attachment, Mail, SendMail};
use faena_platform::{AppState, Module};
use faena_testkit::TestApp;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::RunningWorker;

fn options() -> WorkerOptions {
    WorkerOptions {
        id: format!("test/mail/{}", Uuid::now_v7()),
        concurrency: 2,
        lease: Duration::from_secs(5),
        poll: Duration::from_millis(50),
        grace: Duration::from_secs(2),
    }
}

fn start_worker(state: &AppState) -> RunningWorker {
    RunningWorker::start(state, options())
}

async fn mail_row(state: &AppState, id: Uuid) -> mail::Model {
    mail::Entity::find_by_id(id)
        .one(state.db())
        .await
        .unwrap()
        .expect("the mail exists")
}

/// Waits (up to 20 s) until `check` holds for the mail.
async fn wait_mail(
    state: &AppState,
    id: Uuid,
    what: &str,
    check: impl Fn(&mail::Model) -> bool,
) -> mail::Model {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = mail_row(state, id).await;
        if check(&row) {
            return row;
        }
        assert!(Instant::now() < deadline, "mail never {what}: {row:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn plain_mail(to: &str, subject: &str) -> Mail {
    Mail {
        to: vec![to.to_owned()],
        subject: subject.to_owned(),
        text: format!("Cuerpo de {subject}"),
        html: Some(format!("<p>Cuerpo de {subject}</p>")),
        ..Mail::default()
    }
}

/// `.eml` files the file transport wrote.
fn eml_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    let dir = app.state.mailer().dir().to_path_buf();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_queued_in_a_rolled_back_transaction_is_never_sent() {
    let app = TestApp::new().await;
    let state = &app.state;

    let txn = state.begin_write().await.unwrap();
    let lost = outbox::queue(&txn, plain_mail("ana@cliente.cl", "Orden anulada"))
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    let txn = state.begin_write().await.unwrap();
    let kept = outbox::queue(
        &txn,
        plain_mail("ana@cliente.cl", "Orden lista para retiro"),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();

    let worker = start_worker(state);
    let sent = wait_mail(state, kept, "sent", |m| m.state == "sent").await;
    worker.stop().await;

    assert_eq!(sent.transport.as_deref(), Some("file"));
    assert_eq!(sent.attempts, 1);
    assert!(
        mail::Entity::find_by_id(lost)
            .one(state.db())
            .await
            .unwrap()
            .is_none(),
        "the rolled-back mail is in the outbox"
    );
    let files = eml_files(&app);
    assert_eq!(
        files.len(),
        1,
        "exactly the committed mail was written: {files:?}"
    );
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("Subject: Orden lista para retiro"), "{eml}");
    assert!(eml.contains("To: ana@cliente.cl"), "{eml}");
    assert!(
        eml.contains(&format!("Message-ID: <{kept}@faena.localhost>")),
        "{eml}"
    );
    assert!(eml.contains("multipart/alternative"), "{eml}");
    assert!(!eml.contains("Orden anulada"));
}

/// A real SMTP server: aiosmtpd's Mailbox handler, writing a Maildir.
pub struct SmtpServer {
    child: Child,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn python() -> Option<String> {
        let python = std::env::var("FAENA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let ok = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide Python with aiosmtpd (FAENA_TEST_PYTHON={python})"
        );
        eprintln!("skipped: no Python with aiosmtpd (set FAENA_TEST_PYTHON)");
        None
    }

    pub fn start(python: &str, port: u16) -> Self {
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { child, maildir }
    }

    /// The messages the server has received.
    pub fn messages(&self) -> Vec<String> {
        let new = self.maildir.path().join("box").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Makes every waiting mail job due now (instead of after its backoff).
async fn due_now(state: &AppState) {
    job::Entity::update_many()
        .col_expr(job::Column::RunAt, Expr::value(chrono::Utc::now()))
        .filter(job::Column::Kind.eq("platform.mail.send"))
        .filter(job::Column::State.eq("queued"))
        .exec(state.db())
        .await
        .unwrap();
    state.jobs().wake();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_to_an_smtp_server_that_is_down_is_delivered_once_it_is_up() {
    let Some(python) = SmtpServer::python() else {
        return;
    };
    let port = free_port();
    let app = TestApp::with_config(|c| {
        c.mail.transport = TransportKind::Smtp;
        c.mail.from = "Taller Faena <taller@faena.test>".into();
        c.mail.smtp.host = "127.0.0.1".into();
        c.mail.smtp.port = port;
        c.mail.smtp.security = SmtpSecurity::None;
        c.mail.smtp.timeout_secs = 5;
    })
    .await;
    let state = &app.state;

    // Nobody listens on the port yet.
    let txn = state.begin_write().await.unwrap();
    let id = outbox::queue(
        &txn,
        Mail {
            cc: vec!["Bodega <bodega@faena.test>".into()],
            ..plain_mail("Cliente <cliente@empresa.cl>", "Su equipo está reparado")
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let worker = start_worker(state);
    let failed_once = wait_mail(state, id, "tried", |m| m.attempts >= 1).await;
    assert_eq!(
        failed_once.state, "queued",
        "a refused connection is retried"
    );
    assert!(failed_once.last_error.is_some());
    let pending = job::Entity::find()
        .filter(job::Column::Kind.eq("platform.mail.send"))
        .one(state.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.state, "queued");
    assert!(
        pending.run_at > chrono::Utc::now() + chrono::Duration::seconds(5),
        "the retry waits (backoff): {:?}",
        pending.run_at
    );

    // The server comes up; the retry delivers.
    let server = SmtpServer::start(&python, port);
    due_now(state).await;
    let sent = wait_mail(state, id, "sent", |m| m.state == "sent").await;
    assert_eq!(sent.transport.as_deref(), Some("smtp"));
    assert!(sent.attempts >= 2);
    assert!(sent.last_error.is_none());

    // A second run of the same delivery (a worker lost after sending) does
    // not send it again.
    jobs::enqueue(state.db(), &SendMail { id }, Enqueue::default())
        .await
        .unwrap();
    state.jobs().wake();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = job::Entity::find()
            .filter(job::Column::Kind.eq("platform.mail.send"))
            .filter(job::Column::State.is_in(["queued", "running"]))
            .one(state.db())
            .await
            .unwrap();
        if live.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the second run never ended");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    worker.stop().await;

    let messages = server.messages();
    assert_eq!(messages.len(), 1, "the recipient got it exactly once");
    let m = &messages[0];
    // The subject is RFC 2047 encoded where it is not ASCII.
    assert!(m.contains("Subject: Su equipo =?utf-8?"), "{m}");
    assert!(m.contains("reparado"), "{m}");
    assert!(m.contains("cliente@empresa.cl"), "{m}");
    assert!(m.contains("Cc: Bodega <bodega@faena.test>"), "{m}");
    assert!(
        m.contains("From: \"Taller Faena\" <taller@faena.test>"),
        "{m}"
    );
    assert!(m.contains(&format!("<{id}@faena.test>")), "{m}");
}

/// What the fake Microsoft endpoints saw.
#[derive(Default)]
struct GraphSeen {
    token_forms: Vec<Vec<(String, String)>>,
    sends: Vec<(String, Option<String>, Value)>,
}

#[derive(Clone)]
struct Graph {
    seen: Arc<Mutex<GraphSeen>>,
    /// The status sendMail answers.
    status: Arc<Mutex<StatusCode>>,
}

async fn graph_token(
    State(g): State<Graph>,
    Path(tenant): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> (StatusCode, axum::Json<Value>) {
    assert_eq!(tenant, "tenant-123");
    g.seen.lock().unwrap().token_forms.push(form);
    (
        StatusCode::OK,
        axum::Json(
            json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "token-abc"}),
        ),
    )
}

async fn graph_send(
    State(g): State<Graph>,
    Path(sender): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body: Value = serde_json::from_slice(&body).expect("sendMail body is JSON");
    g.seen.lock().unwrap().sends.push((sender, auth, body));
    *g.status.lock().unwrap()
}

async fn fake_graph() -> (String, Graph) {
    let g = Graph {
        seen: Arc::default(),
        status: Arc::new(Mutex::new(StatusCode::ACCEPTED)),
    };
    let router = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(graph_token))
        .route("/v1.0/users/{sender}/sendMail", post(graph_send))
        .with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, g)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_receives_the_documented_requests() {
    let (url, graph) = fake_graph().await;
    let app = TestApp::with_config(|c| {
        c.mail.transport = TransportKind::Graph;
        c.mail.from = "Laboratorio <avisos@lab.cl>".into();
        c.mail.graph.tenant_id = "tenant-123".into();
        c.mail.graph.client_id = "client-456".into();
        c.mail.graph.client_secret = "secreto-789".to_owned().into();
        c.mail.graph.login_url = url.clone();
        c.mail.graph.api_url = url.clone();
    })
    .await;
    let state = &app.state;
    let pdf = b"%PDF-1.7 informe de mantencion".to_vec();
    let txn = state.begin_write().await.unwrap();
    let first = outbox::queue(
        &txn,
        Mail {
            reply_to: Some("jefa@lab.cl".into()),
            attachments: vec![Attachment {
                name: "informe.pdf".into(),
                content_type: "application/pdf".into(),
                data: pdf.clone(),
            }],
            ..plain_mail("Equipo <equipo@lab.cl>", "Mantención programada")
        },
    )
    .await
    .unwrap();
    let second = outbox::queue(&txn, plain_mail("otro@lab.cl", "Segundo aviso"))
        .await
        .unwrap();
    txn.commit().await.unwrap();

    let worker = start_worker(state);
    wait_mail(state, first, "sent", |m| m.state == "sent").await;
    wait_mail(state, second, "sent", |m| m.state == "sent").await;

    // A message Graph rejects (400) fails at once, without retries.
    *graph.status.lock().unwrap() = StatusCode::BAD_REQUEST;
    let rejected = outbox::queue(state.db(), plain_mail("x@lab.cl", "Rechazado"))
        .await
        .unwrap();
    state.jobs().wake();
    let failed = wait_mail(state, rejected, "failed", |m| m.state == "failed").await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.last_error.as_deref().unwrap_or("").contains("400"));
    worker.stop().await;

    let seen = graph.seen.lock().unwrap();
    // One token served every send (it is cached until it expires).
    assert_eq!(seen.token_forms.len(), 1);
    let form = &seen.token_forms[0];
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    assert_eq!(field("grant_type"), "client_credentials");
    assert_eq!(field("client_id"), "client-456");
    assert_eq!(field("client_secret"), "secreto-789");
    assert_eq!(field("scope"), "https://graph.microsoft.com/.default");

    assert_eq!(seen.sends.len(), 3);
    let (sender, auth, body) = seen
        .sends
        .iter()
        .find(|(_, _, b)| b["message"]["subject"] == "Mantención programada")
        .expect("the first mail reached Graph");
    assert_eq!(sender, "avisos@lab.cl", "sent as mail.from's mailbox");
    assert_eq!(auth.as_deref(), Some("Bearer token-abc"));
    let message = &body["message"];
    assert_eq!(message["body"]["contentType"], "HTML");
    assert_eq!(
        message["body"]["content"],
        "<p>Cuerpo de Mantención programada</p>"
    );
    assert_eq!(
        message["toRecipients"][0]["emailAddress"]["address"],
        "equipo@lab.cl"
    );
    assert_eq!(message["toRecipients"][0]["emailAddress"]["name"], "Equipo");
    assert_eq!(
        message["replyTo"][0]["emailAddress"]["address"],
        "jefa@lab.cl"
    );
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["@odata.type"], "#microsoft.graph.fileAttachment");
    assert_eq!(attachment["name"], "informe.pdf");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(attachment["contentBytes"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, pdf);
    assert_eq!(body["saveToSentItems"], true);
}

struct MailTemplates;

impl Module for MailTemplates {
    fn name(&self) -> &'static str {
        "mailtest"
    }
    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "mail/ready.subject.txt",
                "{{ t('mail_test.subject') }}: {{ order }}\nsecond line\n",
            ),
            (
                "mail/ready.txt",
                "Hola {{ name }}, tu orden {{ order }} está lista.",
            ),
            (
                "mail/ready.html",
                "<p>Hola {{ name }}, tu orden <b>{{ order }}</b> está lista.</p>",
            ),
        ]
    }
}

#[tokio::test]
async fn templates_render_in_the_language_and_escape_html() {
    let app = TestApp::with_modules(vec![Box::new(MailTemplates)]).await;
    let ctx = minijinja::context! { name => "<script>alert(1)</script> Ana", order => "OS-000042" };
    let es = outbox::render(&app.state, "ready", Locale::Es, ctx.clone()).unwrap();
    assert_eq!(
        es.subject,
        "Correo de prueba de Faena: OS-000042 second line"
    );
    assert_eq!(
        es.text,
        "Hola <script>alert(1)</script> Ana, tu orden OS-000042 está lista."
    );
    let html = es.html.unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    let en = outbox::render(&app.state, "ready", Locale::En, ctx).unwrap();
    assert!(
        en.subject.starts_with("Faena test mail: OS-000042"),
        "{}",
        en.subject
    );
    // A template without HTML gives a text-only mail.
    let test = outbox::render(
        &app.state,
        "test",
        Locale::Es,
        minijinja::context! {
            requested_by => "admin", transport => "file", server_id => "n1",
        },
    )
    .unwrap();
    assert!(test.text.contains("admin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_validates_lists_searches_and_resends() {
    let app = TestApp::new().await;
    let admin = app.admin().await;

    // Bad input names the field; nothing is queued.
    let res = admin
        .post_json("/api/mail/test", &json!({"to": "no es un correo"}))
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.json();
    assert_eq!(body["errors"][0]["field"], "to", "{body}");
    let res = admin
        .post_json("/api/mail/test", &json!({"para": "x@y.cl"}))
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let res = admin.get("/api/mail?state=perdido").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "state");
    assert_eq!(admin.get("/api/mail").await.json()["items"], json!([]));

    // A test mail is queued, in the caller's language, and sent.
    let res = admin
        .clone()
        .with_header("accept-language", "en")
        .post_json("/api/mail/test", &json!({"to": "soporte@empresa.cl"}))
        .await;
    res.assert_status(StatusCode::ACCEPTED);
    let queued = res.json();
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["subject"], "Faena test mail");
    let id: Uuid = queued["id"].as_str().unwrap().parse().unwrap();
    let worker = start_worker(&app.state);
    wait_mail(&app.state, id, "sent", |m| m.state == "sent").await;

    // Search by recipient and subject, filter by state.
    let found = admin.get("/api/mail?q=SOPORTE@").await.json();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert!(
        admin.get("/api/mail?q=nadie").await.json()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        admin.get("/api/mail?state=sent").await.json()["items"][0]["id"],
        id.to_string()
    );
    assert_eq!(admin.get("/api/mail/counts").await.json()["sent"], 1);
    let detail = admin.get(&format!("/api/mail/{id}")).await.json();
    assert!(
        detail["text"].as_str().unwrap().contains("file"),
        "{detail}"
    );

    // Resending a sent mail makes a new one; it is sent too.
    let res = admin
        .post_json(&format!("/api/mail/{id}/resend"), &json!({}))
        .await;
    res.assert_status(StatusCode::ACCEPTED);
    let copy: Uuid = res.json()["id"].as_str().unwrap().parse().unwrap();
    assert_ne!(copy, id);
    wait_mail(&app.state, copy, "sent", |m| m.state == "sent").await;
    worker.stop().await;
    assert_eq!(eml_files(&app).len(), 2);

    // Unknown mail: 404; without the permission: 403.
    admin
        .get(&format!("/api/mail/{}", Uuid::now_v7()))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let viewer = app.client_for("viewer").await;
    viewer
        .get("/api/mail")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    viewer
        .post_json("/api/mail/test", &json!({"to": "x@y.cl"}))
        .await
        .assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_mail_is_resent_from_the_admin_page() {
    let (url, graph) = fake_graph().await;
    let app = TestApp::with_config(|c| {
        c.mail.transport = TransportKind::Graph;
        c.mail.graph.tenant_id = "tenant-123".into();
        c.mail.graph.client_id = "client-456".into();
        c.mail.graph.login_url = url.clone();
        c.mail.graph.api_url = url.clone();
    })
    .await;
    *graph.status.lock().unwrap() = StatusCode::FORBIDDEN;
    let id = outbox::queue(app.state.db(), plain_mail("x@lab.cl", "Aviso"))
        .await
        .unwrap();
    let worker = start_worker(&app.state);
    wait_mail(&app.state, id, "failed", |m| m.state == "failed").await;

    let admin = app.admin().await;
    let listed = admin.get("/api/mail?state=failed").await.json();
    assert_eq!(listed["items"][0]["id"], id.to_string());
    assert!(
        listed["items"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("403")
    );

    // The admin sees it on the page and resends it from there.

    let browser = app.admin_browser().await;
    let list = browser.get("/admin/mail?state=failed").await;
    list.assert_status(StatusCode::OK);
    let html = list.text();
    assert!(html.contains("Aviso") && html.contains("Fallido"), "{html}");
    let detail = browser.get(&format!("/admin/mail/{id}")).await.text();
    assert!(
        detail.contains("403") && detail.contains("Reenviar"),
        "{detail}"
    );

    *graph.status.lock().unwrap() = StatusCode::ACCEPTED;
    let res = browser.post(&format!("/admin/mail/{id}/resend"), &[]).await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        res.header("location").unwrap(),
        format!("/admin/mail/{id}?ok=mail_resent"),
        "a failed mail is retried in place"
    );
    let sent = wait_mail(&app.state, id, "sent", |m| m.state == "sent").await;
    assert_eq!(sent.attempts, 1, "attempts start over");
    // Resending a queued or running mail is refused.
    let again = outbox::queue(app.state.db(), plain_mail("y@lab.cl", "Otro"))
        .await
        .unwrap();
    worker.stop().await;
    let res = admin
        .post_json(&format!("/api/mail/{again}/resend"), &json!({}))
        .await;
    res.assert_status(StatusCode::CONFLICT);
}
