//! Backups: `faena backup` then `faena restore` into an empty data dir
//! gives the same rows in every table, the same files byte for byte, and a
//! server that answers with the same data (encrypted fields included, so
//! the keys came along); damaged backups and occupied targets are refused
//! with nothing changed; a backup started from the admin page runs as a
//! job with progress, rotates the folder and shows on the page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use faena_platform::backup::{self, database};
use faena_platform::jobs::JobState;
use faena_platform::jobs::entity::job;
use faena_platform::jobs::worker::{self, WorkerOptions};
use faena_testkit::{TestApp, TestDatabase, postgres_url};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::binary::{admin_token, start, stop_within_five_seconds};

/// One installation: a data dir and, on PostgreSQL, its own database.
struct Site {
    dir: tempfile::TempDir,
    db: Option<TestDatabase>,
}

impl Site {
    fn new() -> Self {
        Site {
            dir: tempfile::tempdir().unwrap(),
            db: postgres_url().map(|url| TestDatabase::create_empty(&url)),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self) -> Option<&str> {
        self.db.as_ref().map(|d| d.url.as_str())
    }

    fn database_url(&self) -> String {
        match self.url() {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", self.path().join("faena.db").display()),
        }
    }

    /// Runs `faena ARGS --data-dir <dir>` against this site's database.
    fn faena(&self, args: &[&str]) -> std::process::Output {
        self.faena_with(args, &[])
    }

    /// The same, with more settings in the environment.
    fn faena_with(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_faena"));
        cmd.envs(env.iter().copied());
        cmd.args(args)
            .arg("--data-dir")
            .arg(self.path())
            .env_remove("FAENA_DATABASE_URL")
            .env_remove("RUST_LOG");
        if let Some(url) = self.url() {
            cmd.env("FAENA_DATABASE_URL", url);
        }
        cmd.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.faena(args);
        assert!(
            out.status.success(),
            "faena {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn counts(&self) -> BTreeMap<String, u64> {
        let mut config = faena_platform::Config::default();
        config.database.url = self.database_url().into();
        config.database.min_connections = 0;
        let db = faena_platform::db::connect(&config.database).await.unwrap();
        let counts = database::table_counts(&db).await.unwrap();
        db.close().await.unwrap();
        counts
    }

    /// Every file of the data dir but the live database and the backups,
    /// with its SHA-256.
    fn files(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                let rel = path
                    .strip_prefix(self.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if rel.starts_with("faena.db") || rel.starts_with("backups") {
                    continue;
                }
                if entry.file_type().unwrap().is_dir() {
                    stack.push(path);
                } else {
                    out.insert(rel, backup::hash_file(&path).unwrap().1);
                }
            }
        }
        out
    }
}

/// What the API of a running installation serves: clients (personal data
/// decrypted), orders, and the attachment `file` (its bytes and its
/// thumbnail's).
struct Served {
    clients: Value,
    orders: Value,
    content: Vec<u8>,
    thumbnail: Vec<u8>,
}

/// Starts the site's server and reads what it serves. With `attach`, first
/// attaches that picture to the first order and waits for its thumbnail.
async fn served(site: &Site, attach: Option<&[u8]>, file: &mut Option<String>) -> Served {
    let running = start(site.path(), site.url()).await;
    let base = format!("http://{}", running.address);
    let token = admin_token(&running.address).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http.get(format!("{base}{path}")).bearer_auth(&token);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            res.bytes().await.unwrap().to_vec()
        }
    };
    let json = |bytes: Vec<u8>| serde_json::from_slice::<Value>(&bytes).unwrap();
    let orders = json(get("/api/orders?limit=500".into()).await);
    if let Some(picture) = attach {
        let number = orders["items"][0]["number"].as_str().unwrap();
        let (content_type, body) =
            crate::uploads::multipart(&[("file", Some("despacho bodega.png"), picture)]);
        let res = http
            .post(format!("{base}/api/attachments/wms.order/{number}"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // The server's worker makes the thumbnail.
        let deadline = Instant::now() + Duration::from_secs(30);
        while json(get(format!("/api/files/{id}")).await)["thumbnail"] != "ready" {
            assert!(Instant::now() < deadline, "no thumbnail");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        *file = Some(id);
    }
    let id = file.as_deref().unwrap();
    let out = Served {
        clients: json(get("/api/clients?limit=500".into()).await),
        orders,
        content: get(format!("/api/files/{id}/content")).await,
        thumbnail: get(format!("/api/files/{id}/thumbnail")).await,
    };
    stop_within_five_seconds(running).await;
    out
}

/// Runs a worker until job `id` has ended (60 s at most); its last row.
async fn run_job(state: &faena_platform::AppState, id: uuid::Uuid) -> job::Model {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let handle = worker::spawn(
        state.clone(),
        WorkerOptions {
            id: "test/backup".into(),
            concurrency: 1,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(50),
            grace: Duration::from_secs(5),
        },
        rx,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let row = loop {
        let row = job::Entity::find()
            .filter(job::Column::Id.eq(id))
            .one(state.db())
            .await
            .unwrap()
            .unwrap();
        if row.state != JobState::Queued.as_str() && row.state != JobState::Running.as_str() {
            break row;
        }
        assert!(Instant::now() < deadline, "the backup job did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop.send(true).unwrap();
    handle.await.unwrap();
    row
}

fn written_backup(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("backup written to "))
        .unwrap_or_else(|| panic!("no backup line in: {stdout}"));
    let path = line["backup written to ".len()..]
        .split(" (")
        .next()
        .unwrap();
    PathBuf::from(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_restore_into_an_empty_data_dir_gives_the_same_data() {
    let source = Site::new();
    source.ok(&["demo", "--clients", "25", "--orders", "120"]);
    // The first start creates the administrator the test signs in with; a
    // photo is attached to an order (the local file store lives in the
    // data dir) and thumbnailed.
    let picture = crate::uploads::picture(900, 600, image::ImageFormat::Png);
    let mut file = None;
    let before = served(&source, Some(&picture), &mut file).await;
    assert_eq!(before.clients["items"].as_array().unwrap().len(), 25);
    assert_eq!(before.orders["items"].as_array().unwrap().len(), 120);
    assert_eq!(before.content, picture);
    // An object bigger than the copy buffer, straight in the store.
    let stored = source.path().join("files").join("archivo");
    std::fs::create_dir_all(&stored).unwrap();
    let big: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(stored.join("pallet.jpg"), &big).unwrap();

    let backups = tempfile::tempdir().unwrap();
    let stdout = source.ok(&["backup", "--dir", backups.path().to_str().unwrap()]);
    let taken = written_backup(&stdout);
    assert!(taken.starts_with(backups.path()));
    let check = source.ok(&["restore", taken.to_str().unwrap(), "--check"]);
    assert!(check.contains("complete and intact"), "{check}");

    let target = Site::new();
    let stdout = target.ok(&["restore", taken.to_str().unwrap()]);
    assert!(stdout.starts_with("restored the backup of "), "{stdout}");

    let (rows_before, rows_after) = (source.counts().await, target.counts().await);
    assert_eq!(rows_before["wms_orders"], 120, "{rows_before:?}");
    assert_eq!(rows_before["faena_file_versions"], 1, "{rows_before:?}");
    assert_eq!(rows_after, rows_before, "rows per table");
    let (files_before, files_after) = (source.files(), target.files());
    assert!(files_before.contains_key("files/archivo/pallet.jpg"));
    assert!(
        files_before.keys().any(|k| k.starts_with("keys/")),
        "{files_before:?}"
    );
    assert_eq!(files_after, files_before, "files and checksums");

    // The restored installation serves the same clients (their encrypted
    // fields decrypt with the restored keys), orders and attachment.
    let after = served(&target, None, &mut file).await;
    assert_eq!(after.clients, before.clients);
    assert_eq!(after.orders, before.orders);
    assert_eq!(after.content, picture);
    assert_eq!(after.thumbnail, before.thumbnail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_backups_and_occupied_targets_are_refused_and_nothing_changes() {
    let source = Site::new();
    source.ok(&["demo", "--clients", "5", "--orders", "10"]);
    std::fs::create_dir_all(source.path().join("files")).unwrap();
    std::fs::write(source.path().join("files").join("a.txt"), b"original").unwrap();
    let backups = tempfile::tempdir().unwrap();
    let taken = written_backup(&source.ok(&["backup", "--dir", backups.path().to_str().unwrap()]));

    // An installation that already holds data is not overwritten...
    let occupied = Site::new();
    occupied.ok(&["demo", "--clients", "3", "--orders", "4"]);
    let before = occupied.counts().await;
    let out = occupied.faena(&["restore", taken.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(occupied.counts().await, before);
    // ...unless asked to.
    occupied.ok(&["restore", taken.to_str().unwrap(), "--force"]);
    assert_eq!(occupied.counts().await, source.counts().await);
    assert_eq!(
        std::fs::read(occupied.path().join("files").join("a.txt")).unwrap(),
        b"original"
    );

    // A backup with one altered byte is refused, naming the file.
    let copy = std::fs::read(taken.join("objects").join("a.txt")).unwrap();
    let mut altered = copy.clone();
    altered[0] ^= 1;
    std::fs::write(taken.join("objects").join("a.txt"), &altered).unwrap();
    let empty = Site::new();
    let out = empty.faena(&["restore", taken.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("objects/a.txt"), "{stderr}");
    assert!(empty.counts().await.is_empty(), "nothing restored");
    assert!(!empty.path().join("files").join("a.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_from_the_admin_page_runs_as_a_job_with_progress_and_rotates() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let app = TestApp::with_config(|c| {
        c.backup.dir = dir.clone();
        c.backup.keep_daily = 2;
        c.backup.keep_weekly = 0;
    })
    .await;
    let state = &app.state;
    // Three old backups from earlier nights: the rotation keeps one of them
    // (keep_daily = 2 with today's).
    for name in [
        "faena-20260101T033000Z",
        "faena-20260102T033000Z",
        "faena-20260103T033000Z",
    ] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join(backup::MANIFEST), "{}").unwrap();
    }

    // The button queues one backup; a second click while it waits does
    // not queue another.
    let browser = app.admin_browser().await;
    let res = browser.post("/admin/backups", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let location = res.header("location").unwrap().to_owned();
    assert!(location.starts_with("/admin/jobs/"), "{location}");
    let admin = app.admin().await;
    let again = admin.post_json("/api/backups", &json!({})).await;
    again.assert_status(StatusCode::ACCEPTED);
    assert_eq!(again.json()["already_queued"], true);
    let id: uuid::Uuid = again.json()["job_id"].as_str().unwrap().parse().unwrap();
    assert!(location.contains(&id.to_string()));

    let row = run_job(state, id).await;
    assert_eq!(row.state, "succeeded", "{:?}", row.last_error);
    assert_eq!(row.progress_done, Some(100));
    assert_eq!(row.progress_total, Some(100));

    let left = backup::list(&dir).unwrap();
    let names: Vec<_> = left
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[1], "faena-20260103T033000Z");
    let manifest = backup::verify(&left[0].0, &mut backup::Silent).unwrap();
    assert_eq!(manifest.tables["users"], 1, "{manifest:?}");

    // The API and the page show it, and how the job ended.
    let overview = admin.get("/api/backups").await;
    overview.assert_status(StatusCode::OK);
    let overview = overview.json();
    assert_eq!(overview["backups"][0]["name"], names[0].as_str());
    assert_eq!(
        overview["backups"][0]["rows"],
        manifest.tables.values().sum::<u64>()
    );
    assert_eq!(overview["last_job"]["state"], "succeeded");
    assert_eq!(overview["schedule"], "30 3 * * *");
    let page = browser.get("/admin/backups").await;
    page.assert_status(StatusCode::OK);
    let html = page.text();
    assert!(html.contains("Respaldos"), "{html}");
    assert!(html.contains(&names[0]), "{html}");
    assert!(html.contains("Completado"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_uploaded_to_azure_blob_restores_after_the_server_is_lost() {
    let Some(program) = crate::stores::Azurite::program() else {
        return;
    };
    let workdir = tempfile::tempdir().unwrap();
    let azurite = crate::stores::Azurite::start(&program, workdir.path());
    azurite.create_container("faena").await;
    let endpoint = azurite.endpoint();
    let azure = move |c: &mut faena_platform::Config| {
        c.files.backend = faena_platform::files::config::Backend::Azure;
        c.files.azure.use_emulator = true;
        c.files.azure.endpoint = endpoint.clone();
        c.files.azure.container = "faena".into();
    };
    let local_backups = tempfile::tempdir().unwrap();
    let dir = local_backups.path().to_path_buf();
    let source = TestApp::with_config(|c| {
        azure(c);
        c.backup.dir = dir.clone();
        c.backup.upload = true;
    })
    .await;
    let admin = source.admin().await;
    let number = crate::support::an_order(&admin).await;
    let picture = crate::uploads::picture(400, 300, image::ImageFormat::Png);
    let res = crate::uploads::upload(&admin, &number, "guía firmada.png", &picture).await;
    res.assert_status(StatusCode::CREATED);
    let file_id = res.json()["id"].as_str().unwrap().to_owned();

    // The nightly job, started by hand: a backup in the folder and in Azure.
    let queued = admin.post_json("/api/backups", &json!({})).await;
    queued.assert_status(StatusCode::ACCEPTED);
    let id: uuid::Uuid = queued.json()["job_id"].as_str().unwrap().parse().unwrap();
    let row = run_job(&source.state, id).await;
    assert_eq!(row.state, "succeeded", "{:?}", row.last_error);
    let config = source.state.config().clone();
    let uploaded = backup::list_uploaded(&config).await.unwrap();
    assert_eq!(uploaded.len(), 1, "{uploaded:?}");
    let name = uploaded[0].0.clone();
    let orders = database::table_counts(source.state.db()).await.unwrap()["wms_orders"];

    // The machine is lost with its disk: only Azure is left.
    std::fs::remove_dir_all(&dir).unwrap();
    let target = Site::new();
    let endpoint = azurite.endpoint();
    let env = [
        ("FAENA_FILES__BACKEND", "azure"),
        ("FAENA_FILES__AZURE__USE_EMULATOR", "true"),
        ("FAENA_FILES__AZURE__ENDPOINT", endpoint.as_str()),
        ("FAENA_FILES__AZURE__CONTAINER", "faena"),
    ];
    // The attachments are still in the container: without --force the
    // restore refuses to overwrite them; with it, they are replaced by the
    // backup's copies.
    let out = target.faena_with(&["restore", &name, "--from-store"], &env);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--force"), "{stderr}");
    let out = target.faena_with(&["restore", &name, "--from-store", "--force"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts = target.counts().await;
    assert_eq!(counts["faena_files"], 1);
    assert_eq!(counts["wms_orders"], orders);

    // A server on the restored data serves the attachment.
    let (data_dir, url) = (target.path().to_path_buf(), target.database_url());
    let azure_again = azure.clone();
    let revived = TestApp::with_config(move |c| {
        azure_again(c);
        c.data_dir = data_dir;
        c.database.url = url.into();
    })
    .await;
    let admin = revived.admin().await;
    let res = admin.get(&format!("/api/files/{file_id}/content")).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body.as_ref(), picture.as_slice());
    drop(revived);
}
