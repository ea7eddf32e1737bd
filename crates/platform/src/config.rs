//! Typed configuration, loaded from defaults < `faena.toml` < `FAENA_*`
//! environment variables (`__` separates nested keys, so
//! `FAENA_HTTP__BIND` sets `http.bind`).
//!
//! Owns the shape and the defaults of every setting; it never reads files or
//! the environment anywhere else, and secrets never print (`SecretString`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The whole configuration. Travels in `AppState`; nothing reads it from a
/// global.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite database, files and generated keys live.
    pub data_dir: PathBuf,
    /// Names this replica in `/api/system/info` and in logs; defaults to the
    /// host name.
    pub server_id: String,
    /// The IANA time zone pages and CSV exports show times in
    /// (`America/Santiago`); the API answers in UTC.
    pub time_zone: String,
    /// The address people open Faena at (`https://faena.empresa.cl`), for
    /// links in mails and on printed labels; default `http://` and the
    /// bind address.
    pub public_url: String,
    pub http: HttpConfig,
    pub database: DbConfig,
    pub log: LogConfig,
    pub modules: ModulesConfig,
    pub auth: AuthConfig,
    pub audit: AuditConfig,
    pub jobs: JobsConfig,
    pub crypto: crate::crypto::CryptoConfig,
    pub redis: RedisConfig,
    pub mail: crate::mail::config::MailConfig,
    pub webhooks: WebhooksConfig,
    pub backup: crate::backup::config::BackupConfig,
    pub files: crate::files::config::FilesConfig,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of an API access token (JWT).
    pub access_token_minutes: u64,
    /// Lifetime of a refresh token; each use rotates it.
    pub refresh_token_days: u64,
    /// A page session ends after this long without a request...
    pub session_idle_minutes: u64,
    /// ...and in any case this long after login.
    pub session_absolute_hours: u64,
    /// `POST /api/auth/register` works only when this is on; new users get
    /// the viewer role.
    pub self_registration: bool,
    /// Mark cookies `Secure` (also implied by `http.hsts`).
    pub secure_cookies: bool,
    /// Failed logins, per account and per address, before 429.
    pub login_max_failures: u32,
    pub login_window_minutes: u64,
    /// First start: the administrator to create when there are no users
    /// (`FAENA_ADMIN_EMAIL`, `FAENA_ADMIN_PASSWORD`). Without a password, one
    /// is generated and printed once.
    pub admin_email: String,
    #[serde(serialize_with = "crate::secrets::serialize_secret")]
    pub admin_password: SecretString,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs one worker runs at once.
    pub concurrency: usize,
    /// A claimed job returns to the queue this long after its worker stops
    /// answering (the heartbeat renews it every third of it).
    pub lease_secs: u64,
    /// How often an idle worker looks for due work (enqueues in the same
    /// process wake it at once).
    pub poll_interval_ms: u64,
    /// Seconds running jobs get to finish when the worker stops.
    pub shutdown_grace_secs: u64,
    /// Finished jobs (succeeded or cancelled) are deleted after this many
    /// days; dead ones stay until an admin acts.
    pub keep_finished_days: u32,
    /// Where jobs are kept: `database` (the application database, the
    /// default) or `redis` (the server of `redis.url`; the database then
    /// only holds enqueued jobs until a worker relays them there).
    pub storage: JobStorage,
    /// Prefix of every Redis key of the job storage. Replicas of one
    /// deployment share it; two deployments on one Redis must not.
    pub redis_prefix: String,
}

/// Where jobs are kept (see `jobs.storage`).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JobStorage {
    #[default]
    Database,
    Redis,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease_secs: 60,
            poll_interval_ms: 1000,
            shutdown_grace_secs: 10,
            keep_finished_days: 14,
            storage: JobStorage::Database,
            redis_prefix: "faena:jobs:".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Entries older than this many days move to archive files in the data
    /// dir (never silently deleted). 0 keeps everything in the database.
    pub retention_days: u32,
    /// How often committed entries are linked into the hash chain.
    pub seal_interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub bind: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// A handler that has not answered after this long is answered 503
    /// with `Retry-After` (problem+json). Uploads have their own limit.
    pub request_timeout_secs: u64,
    /// The handler limit for uploads (`multipart/form-data` requests):
    /// their time is mostly the client's, bounded by `body_min_rate`.
    pub upload_timeout_secs: u64,
    /// A new connection must send a whole request head within this long,
    /// and so must a kept-alive one once its next head has begun.
    pub header_read_timeout_secs: u64,
    /// A kept-alive connection with no request for this long is closed.
    /// Keep it above the `keepalive_timeout` of an nginx upstream block.
    pub keep_alive_idle_secs: u64,
    /// A request body must bring at least `body_min_rate` bytes per second
    /// over every window of this many seconds, or it is cut (408).
    pub body_window_secs: u64,
    /// Bytes per second, averaged over `body_window_secs`. The default,
    /// 512 B/s, cuts a trickle and lets a slow phone upload through.
    pub body_min_rate: u64,
    /// Most connections open at once. 0: derived from the open-files limit,
    /// leaving room for the database pool, files and the realtime bus.
    pub max_connections: usize,
    /// Most connections open at once from one client address (proxies in
    /// `trusted_proxies` are not counted: their clients are, per request).
    /// At a cap, the connection idle the longest is closed to make room;
    /// when none is idle, the newcomer gets 503.
    pub max_connections_per_address: usize,
    /// Realtime streams (SSE and WebSocket) open at once, in all and per
    /// user.
    pub max_streams: usize,
    pub max_streams_per_user: usize,
    /// Load shedding: concurrent requests and queue per class of route.
    pub shed: ShedConfig,
    /// Origins allowed to call the API from a browser (CORS). Empty: none.
    pub cors_origins: Vec<String>,
    /// Send `Strict-Transport-Security`; turn on when Faena (or the proxy in
    /// front of it) serves HTTPS.
    pub hsts: bool,
    /// Seconds that in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Proxies whose `X-Forwarded-For` names the real client (login
    /// throttling and the audit log record that address).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// How many requests of each class run at once, and how many may wait
/// (for at most `queue_timeout_ms`) before the rest are answered 503 with
/// `Retry-After`. Health and metrics have their own small budget, so a load
/// balancer and an operator see the truth during a flood.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShedConfig {
    pub queue_timeout_ms: u64,
    pub api: ClassLimit,
    pub pages: ClassLimit,
    pub uploads: ClassLimit,
    pub realtime: ClassLimit,
    pub admin: ClassLimit,
    pub health: ClassLimit,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassLimit {
    /// Requests of the class running at once.
    pub concurrency: usize,
    /// Requests of the class waiting for a turn; more are refused at once.
    pub queue: usize,
}

impl ClassLimit {
    const fn new(concurrency: usize, queue: usize) -> Self {
        Self { concurrency, queue }
    }
}

impl Default for ShedConfig {
    fn default() -> Self {
        Self {
            queue_timeout_ms: 2_000,
            api: ClassLimit::new(512, 1024),
            pages: ClassLimit::new(256, 512),
            uploads: ClassLimit::new(16, 32),
            realtime: ClassLimit::new(256, 256),
            admin: ClassLimit::new(64, 128),
            health: ClassLimit::new(16, 0),
        }
    }
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbConfig {
    /// `sqlite://…` or `postgres://…`. Empty: `faena.db` in the data dir.
    #[serde(serialize_with = "serialize_db_url")]
    pub url: SecretString,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_secs: u64,
    /// SQLite `synchronous` pragma: `full` (default) or `normal`. See
    /// docs/decisions/0003-sqlite-durability.md.
    pub sqlite_synchronous: SqliteSynchronous,
    /// How long a SQLite writer waits for the write lock before failing.
    pub sqlite_busy_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter directives, e.g. `info,faena=debug`.
    pub filter: String,
    /// `auto` (pretty on a terminal, JSON otherwise), `json` or `pretty`.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

/// Redis, for realtime fan-out between replicas (see `realtime`).
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`. Empty: no Redis (realtime
    /// events cross replicas through PostgreSQL LISTEN/NOTIFY, or stay in
    /// this process on SQLite).
    #[serde(serialize_with = "serialize_db_url")]
    pub url: SecretString,
    /// The pub/sub channel realtime events travel on. Replicas of one
    /// deployment share it; two deployments on one Redis must not.
    pub channel: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from(String::new()),
            channel: "faena_events".into(),
        }
    }
}

impl RedisConfig {
    /// The configured URL, if any.
    pub fn url(&self) -> Option<&str> {
        Some(self.url.expose_secret().trim()).filter(|u| !u.is_empty())
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("channel", &self.channel)
            .finish()
    }
}

/// Webhooks: outbound deliveries to the endpoints admins register, and the
/// inbound sources that may call `POST /api/hooks/{source}` (see
/// `webhooks`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Deliver to (and register) loopback, private, link-local and other
    /// internal addresses. Off in production: an endpoint URL must not be
    /// a way into the internal network.
    pub allow_private_targets: bool,
    /// Longest one delivery attempt may take, connection included.
    pub timeout_secs: u64,
    /// Senders allowed to call `POST /api/hooks/<source>`, each with the
    /// Standard Webhooks secret it signs with (`whsec_<base64>`).
    pub inbound: std::collections::BTreeMap<String, InboundSourceConfig>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            timeout_secs: 10,
            inbound: std::collections::BTreeMap::new(),
        }
    }
}

/// One inbound webhook source.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSourceConfig {
    #[serde(serialize_with = "crate::secrets::serialize_secret")]
    pub secret: SecretString,
}

impl std::fmt::Debug for InboundSourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSourceConfig")
            .field("secret", &"***")
            .finish()
    }
}

/// Business modules to switch off (all compiled modules run by default).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModulesConfig {
    pub disabled: Vec<String>,
}

impl Config {
    /// `public_url` without a trailing slash, or the bind address when it
    /// is not set (an unspecified bind address reads as the loopback one).
    pub fn public_base(&self) -> String {
        let given = self.public_url.trim().trim_end_matches('/');
        if !given.is_empty() {
            return given.to_owned();
        }
        let mut addr = self.http.bind;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server_id: default_server_id(),
            time_zone: "America/Santiago".into(),
            public_url: String::new(),
            http: HttpConfig::default(),
            database: DbConfig::default(),
            log: LogConfig::default(),
            modules: ModulesConfig::default(),
            auth: AuthConfig::default(),
            audit: AuditConfig::default(),
            jobs: JobsConfig::default(),
            crypto: crate::crypto::CryptoConfig::default(),
            redis: RedisConfig::default(),
            mail: crate::mail::config::MailConfig::default(),
            webhooks: WebhooksConfig::default(),
            backup: crate::backup::config::BackupConfig::default(),
            files: crate::files::config::FilesConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            body_limit: 2 * 1024 * 1024,
            request_timeout_secs: 30,
            upload_timeout_secs: 600,
            header_read_timeout_secs: 10,
            keep_alive_idle_secs: 75,
            body_window_secs: 10,
            body_min_rate: 512,
            max_connections: 0,
            max_connections_per_address: 256,
            max_streams: 10_000,
            max_streams_per_user: 16,
            shed: ShedConfig::default(),
            cors_origins: Vec::new(),
            hsts: false,
            shutdown_grace_secs: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for DbConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from(String::new()),
            max_connections: 8,
            min_connections: 1,
            acquire_timeout_secs: 5,
            sqlite_synchronous: SqliteSynchronous::Full,
            sqlite_busy_timeout_ms: 5_000,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_token_minutes: 15,
            refresh_token_days: 30,
            session_idle_minutes: 8 * 60,
            session_absolute_hours: 72,
            self_registration: false,
            secure_cookies: false,
            login_max_failures: 5,
            login_window_minutes: 15,
            admin_email: String::new(),
            admin_password: SecretString::from(String::new()),
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("access_token_minutes", &self.access_token_minutes)
            .field("refresh_token_days", &self.refresh_token_days)
            .field("session_idle_minutes", &self.session_idle_minutes)
            .field("session_absolute_hours", &self.session_absolute_hours)
            .field("self_registration", &self.self_registration)
            .field("admin_email", &self.admin_email)
            .field("admin_password", &"***")
            .finish_non_exhaustive()
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: 0,
            seal_interval_secs: 2,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .field("sqlite_busy_timeout_ms", &self.sqlite_busy_timeout_ms)
            .finish()
    }
}

fn serialize_db_url<S: serde::Serializer>(url: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url.expose_secret()))
}

/// Hides the password of a `scheme://user:password@host/db` URL.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

fn default_server_id() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "faena".into())
}

/// Environment variables that belong to the tooling, not to the service.
const IGNORED_ENV_PREFIXES: &[&str] = &["test_", "config", "user_password"];

impl Config {
    /// Loads defaults, then `config_file` (or `./faena.toml` when it
    /// exists), then the `FAENA_*` environment.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_with(config_file, &[])
    }

    /// Like `load`, with command-line `overrides` (`("http.bind", "…")`)
    /// applied last.
    pub fn load_with(
        config_file: Option<&Path>,
        overrides: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match config_file {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "configuration file {} does not exist",
                    path.display()
                );
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new("faena.toml").exists() => {
                figment = figment.merge(Toml::file_exact("faena.toml"));
            }
            None => {}
        }
        figment = figment.merge(
            Env::prefixed("FAENA_")
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    !IGNORED_ENV_PREFIXES.iter().any(|p| key.starts_with(p))
                })
                .map(|key| {
                    // `FAENA_DATABASE_URL` (and `FAENA_REDIS_URL`) are the
                    // conventional names; keep them working next to the
                    // nested `FAENA_DATABASE__URL`.
                    let k = key.as_str().to_ascii_lowercase();
                    if k == "database_url" {
                        "database.url".into()
                    } else if k == "redis_url" {
                        "redis.url".into()
                    } else if k == "admin_email" || k == "admin_password" {
                        format!("auth.{k}").into()
                    } else {
                        key.as_str().replace("__", ".").into()
                    }
                }),
        );
        for (key, value) in overrides {
            figment = figment.merge(Serialized::default(key, value));
        }
        let mut config: Config = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.normalise();
        Ok(config)
    }

    fn normalise(&mut self) {
        if self.database.url.expose_secret().trim().is_empty() {
            let path = self.data_dir.join("faena.db");
            self.database.url = SecretString::from(format!("sqlite://{}", path.display()));
        }
    }

    /// The configuration as TOML with secrets redacted (for `faena config`).
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        toml_string(self)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.http.request_timeout_secs)
    }

    pub fn is_module_enabled(&self, name: &str) -> bool {
        !self.modules.disabled.iter().any(|m| m == name)
    }
}

fn toml_string(config: &Config) -> anyhow::Result<String> {
    // figment's `Serialized` gives us a dictionary; print it as TOML by hand
    // through serde_json to avoid another serializer dependency.
    let value = serde_json::to_value(config)?;
    let mut out = String::new();
    write_toml_table(&mut out, "", &value);
    Ok(out)
}

fn write_toml_table(out: &mut String, prefix: &str, value: &serde_json::Value) {
    let serde_json::Value::Object(map) = value else {
        return;
    };
    for (k, v) in map {
        if !v.is_object() {
            out.push_str(&format!("{k} = {}\n", toml_value(v)));
        }
    }
    for (k, v) in map {
        if v.is_object() {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.push_str(&format!("\n[{name}]\n"));
            write_toml_table(out, &name, v);
        }
    }
}

fn toml_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", inner.join(", "))
        }
        // JSON strings, numbers and booleans are written the same in TOML.
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_password_is_redacted() {
        assert_eq!(
            redact_url("postgres://faena:s3cret@db:5432/faena"),
            "postgres://faena:***@db:5432/faena"
        );
        assert_eq!(
            redact_url("sqlite://data/faena.db"),
            "sqlite://data/faena.db"
        );
        let mut config = Config::default();
        config.database.url = SecretString::from("postgres://u:hunter2@h/d".to_owned());
        let printed = config.to_redacted_toml().unwrap_or_default();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[database]"), "{printed}");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn redis_password_is_redacted() {
        let mut config = Config::default();
        config.redis.url = SecretString::from("redis://:hunter2@cache:6379/0".to_owned());
        let printed = config.to_redacted_toml().unwrap_or_default();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[redis]"), "{printed}");
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.redis.url(), Some("redis://:hunter2@cache:6379/0"));
        assert_eq!(Config::default().redis.url(), None);
    }

    #[test]
    fn file_store_secrets_are_redacted() {
        let mut config = Config::default();
        config.files.s3.secret_access_key = SecretString::from("hunter2s3".to_owned());
        config.files.azure.access_key = SecretString::from("hunter2az".to_owned());
        let printed = config.to_redacted_toml().unwrap_or_default();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[files.azure]"), "{printed}");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn inbound_webhook_secrets_are_redacted() {
        let mut config = Config::default();
        config.webhooks.inbound.insert(
            "febos".into(),
            InboundSourceConfig {
                secret: SecretString::from("whsec_aHVudGVyMmh1bnRlcjI=".to_owned()),
            },
        );
        let printed = config.to_redacted_toml().unwrap_or_default();
        assert!(!printed.contains("aHVudGVy"), "{printed}");
        assert!(printed.contains("[webhooks.inbound.febos]"), "{printed}");
        assert!(!format!("{config:?}").contains("aHVudGVy"));
    }
}
