//! Real object stores for the files and backup tests: Azurite (the Azure
//! Blob emulator) and moto (an S3 server), each started on a free port for
//! one test and stopped when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::Sha256;

/// Azurite's blob service on a free port, in memory, for one test.
pub(crate) struct Azurite {
    child: Child,
    port: u16,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Azurite {
    /// `FAENA_TEST_AZURITE` (CI installs Azurite from npm and points it at
    /// `azurite-blob`), else `azurite-blob` on the PATH. In CI a missing
    /// Azurite fails the test; elsewhere the test is skipped with a note.
    pub(crate) fn program() -> Option<String> {
        let program = std::env::var("FAENA_TEST_AZURITE").unwrap_or_else(|_| "azurite-blob".into());
        let ok = Command::new(&program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(program);
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide Azurite (FAENA_TEST_AZURITE={program})"
        );
        eprintln!(
            "note: no Azurite (npm install azurite@3.35.0, set FAENA_TEST_AZURITE); the Azure Blob test did not run"
        );
        None
    }

    pub(crate) fn start(program: &str, workdir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(port.to_string())
            .args(["--inMemoryPersistence", "--silent"])
            .current_dir(workdir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Azurite starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "Azurite never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        Azurite { child, port }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/devstoreaccount1", self.port)
    }

    /// Creates a container with a Shared Key request, as the Azure CLI
    /// would (Faena expects its container to exist).
    pub(crate) async fn create_container(&self, name: &str) {
        use base64::Engine;
        use base64::engine::general_purpose::STANDARD;
        use hmac::{Hmac, Mac};
        let account = faena_platform::files::storage::EMULATOR_ACCOUNT;
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{account}/{account}/{name}\nrestype:container"
        );
        let key = STANDARD
            .decode(faena_platform::files::storage::EMULATOR_KEY)
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(to_sign.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        let res = reqwest::Client::new()
            .put(format!("{}/{name}?restype=container", self.endpoint()))
            .header("x-ms-date", date)
            .header("x-ms-version", version)
            .header("authorization", format!("SharedKey {account}:{signature}"))
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert!(
            status.is_success(),
            "creating the container: {status} {}",
            res.text().await.unwrap_or_default()
        );
    }
}

/// moto's S3 server on a free port, for one test.
pub(crate) struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// The Python that has `moto[server]` (`FAENA_TEST_PYTHON`; CI installs
    /// it into target/ci-venv). In CI a missing moto fails the test;
    /// elsewhere the test is skipped with a note.
    pub(crate) fn python() -> Option<String> {
        let python = std::env::var("FAENA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let ok = Command::new(&python)
            .args(["-c", "import moto.server, flask"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide Python with moto[server] (FAENA_TEST_PYTHON={python})"
        );
        eprintln!(
            "note: {python} has no moto[server] (pip install 'moto[server]', set FAENA_TEST_PYTHON); the S3 test did not run"
        );
        None
    }

    pub(crate) fn start(python: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto { child, port }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
