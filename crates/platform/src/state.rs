//! `AppState`: what every handler receives. Cheap to clone (one `Arc`);
//! holds the configuration, the database pool, the translation catalogs, the
//! UI shell and the list of enabled modules. No global statics. Built inside
//! the Tokio runtime: it starts the audit writer task.

use std::sync::Arc;
use std::time::Instant;

use sea_orm::DatabaseConnection;

use crate::auth::cache::AuthState;
use crate::config::Config;
use crate::db::DbKind;
use crate::i18n::I18n;
use crate::ui::shell::Ui;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    db: DatabaseConnection,
    db_kind: DbKind,
    db_health: crate::db_health::DbHealth,
    write_gate: crate::db::WriteGate,
    audit_writer: crate::audit::writer::AuditWriter,
    jobs: crate::jobs::registry::Registry<AppState>,
    realtime: crate::realtime::Realtime,
    cache: crate::cache::Cache,
    mailer: crate::mail::transport::Mailer,
    webhooks: crate::webhooks::runtime::Webhooks<AppState>,
    files: crate::files::Files,
    i18n: Arc<I18n>,
    ui: Ui,
    modules: Vec<&'static str>,
    permissions: Vec<&'static str>,
    auth: AuthState,
    keys: crate::crypto::KeyRing,
    references: crate::references::References,
    directories: crate::directory::Directories,
    dashboard: Vec<Box<dyn crate::dashboard::Tile<AppState>>>,
    record_links: Vec<(&'static str, &'static str)>,
    started_at: Instant,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

pub struct AppStateParts {
    pub config: Config,
    pub db: DatabaseConnection,
    pub i18n: Arc<I18n>,
    pub ui: Ui,
    pub modules: Vec<&'static str>,
    /// Every permission declared by the platform and the enabled modules.
    pub permissions: Vec<&'static str>,
    pub auth: AuthState,
    pub keys: crate::crypto::KeyRing,
    pub references: crate::references::References,
    pub directories: crate::directory::Directories,
    /// The home page's panels, in the modules' order.
    pub dashboard: Vec<Box<dyn crate::dashboard::Tile<AppState>>>,
    /// Where modules show their records, by audit entity (`Module::record_links`).
    pub record_links: Vec<(&'static str, &'static str)>,
    /// Job types and schedules of the platform and the enabled modules.
    pub jobs: crate::jobs::registry::Registry<AppState>,
    /// The realtime hub (see `realtime::Realtime::start`).
    pub realtime: crate::realtime::Realtime,
    /// The webhook delivery client, inbound sources and handlers.
    pub webhooks: crate::webhooks::runtime::Webhooks<AppState>,
    /// The file store and the declared owners of files.
    pub files: crate::files::Files,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl AppState {
    pub fn new(parts: AppStateParts) -> Self {
        let db_kind = DbKind::of(&parts.db);
        let write_gate = crate::db::WriteGate::for_kind(db_kind);
        let audit_writer =
            crate::audit::writer::AuditWriter::spawn(parts.db.clone(), write_gate.clone());
        let mailer =
            crate::mail::transport::Mailer::new(&parts.config.mail, &parts.config.data_dir);
        let state = Self(Arc::new(Inner {
            mailer,
            config: parts.config,
            db: parts.db,
            db_kind,
            db_health: Default::default(),
            write_gate,
            audit_writer,
            jobs: parts.jobs,
            cache: crate::cache::Cache::new(parts.realtime.signals(), crate::cache::TTL),
            realtime: parts.realtime,
            webhooks: parts.webhooks,
            files: parts.files,
            i18n: parts.i18n,
            ui: parts.ui,
            modules: parts.modules,
            permissions: parts.permissions,
            auth: parts.auth,
            keys: parts.keys,
            references: parts.references,
            directories: parts.directories,
            dashboard: parts.dashboard,
            record_links: parts.record_links,
            started_at: Instant::now(),
            metrics: parts.metrics,
        }));
        state.forget_changed_access();
        state
    }

    /// Announces, after it committed, that someone's access changed: this
    /// node's role cache forgets a changed role at once, and every
    /// replica's open streams of the callers concerned check their access
    /// again (closing or narrowing) while their role caches forget too.
    pub fn access_changed(&self, change: crate::realtime::AccessChange) {
        forget_access(self.auth(), &change);
        self.realtime().access_changed(change);
    }

    /// Clears the role cache and the sign-ins concerned whenever another
    /// replica announces an access change (or the bus was down and one may
    /// have been missed), so a role edit, a deactivation or a sign-out
    /// applies on the next request everywhere.
    fn forget_changed_access(&self) {
        let mut watch = self.realtime().watch_access();
        let inner = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            while let Some(change) = watch.next().await {
                let Some(inner) = inner.upgrade() else { break };
                forget_access(&inner.auth, &change);
            }
        });
    }

    /// The time zone of pages and CSV exports (`time_zone`, checked at
    /// start).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.config()
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::Tz::America__Santiago)
    }

    /// The zone `caller` reads times in: the one they chose in their
    /// profile, else the configured one.
    pub fn zone_for(&self, caller: Option<&crate::auth::Principal>) -> chrono_tz::Tz {
        caller
            .and_then(|p| p.time_zone)
            .unwrap_or_else(|| self.time_zone())
    }

    /// Computed figures kept until their topic changes (see `cache`).
    pub fn cache(&self) -> &crate::cache::Cache {
        &self.0.cache
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.0.db
    }

    /// Whether the database is known to be down (see `db_health`).
    pub fn db_health(&self) -> &crate::db_health::DbHealth {
        &self.0.db_health
    }

    /// Opens a transaction that will write (see `db::begin_write`): every
    /// read-then-write transaction goes through here.
    pub async fn begin_write(&self) -> Result<crate::db::WriteTxn, sea_orm::DbErr> {
        crate::db::begin_write(&self.0.db, &self.0.write_gate).await
    }

    /// Group-committed audit entries that ride in no transaction of their
    /// own (reads of personal data, denials).
    pub fn audit_writer(&self) -> &crate::audit::writer::AuditWriter {
        &self.0.audit_writer
    }

    /// Job types, schedules, and the bell that wakes this process's worker.
    pub fn jobs(&self) -> &crate::jobs::registry::Registry<AppState> {
        &self.0.jobs
    }

    /// Realtime events: publish after a commit, subscribe for the
    /// endpoints (see `realtime`).
    pub fn realtime(&self) -> &crate::realtime::Realtime {
        &self.0.realtime
    }

    /// The mail transport (see `mail`).
    pub fn mailer(&self) -> &crate::mail::transport::Mailer {
        &self.0.mailer
    }

    /// Webhooks: the delivery client, inbound sources and their handlers.
    pub fn webhooks(&self) -> &crate::webhooks::runtime::Webhooks<AppState> {
        &self.0.webhooks
    }

    /// Attached files: the object store, limits and owners (see `files`).
    pub fn files(&self) -> &crate::files::Files {
        &self.0.files
    }

    /// The gate this state's write transactions queue at.
    pub fn write_gate(&self) -> &crate::db::WriteGate {
        &self.0.write_gate
    }

    pub fn db_kind(&self) -> DbKind {
        self.0.db_kind
    }

    pub fn i18n(&self) -> &I18n {
        &self.0.i18n
    }

    pub fn ui(&self) -> &Ui {
        &self.0.ui
    }

    /// Names of the enabled business modules.
    pub fn modules(&self) -> &[&'static str] {
        &self.0.modules
    }

    pub fn permissions(&self) -> &[&'static str] {
        &self.0.permissions
    }

    pub fn auth(&self) -> &AuthState {
        &self.0.auth
    }

    /// The field-encryption key ring.
    pub fn keys(&self) -> &crate::crypto::KeyRing {
        &self.0.keys
    }

    /// Who refers to whose rows, across modules.
    pub fn references(&self) -> &crate::references::References {
        &self.0.references
    }

    /// The page that shows a record of `entity` (an audit entity), with
    /// `{id}` to fill in: the platform's own and the modules'.
    pub fn record_link(&self, entity: &str) -> Option<&'static str> {
        const PLATFORM: &[(&str, &str)] = &[
            ("user", "/admin/users/{id}"),
            ("role", "/admin/roles/{id}"),
            ("job", "/admin/jobs/{id}"),
            ("mail", "/admin/mail/{id}"),
        ];
        PLATFORM
            .iter()
            .chain(self.0.record_links.iter())
            .find(|(e, _)| *e == entity)
            .map(|(_, link)| *link)
    }

    /// The home page's panels (see `dashboard`).
    pub fn dashboard(&self) -> &[Box<dyn crate::dashboard::Tile<AppState>>] {
        &self.0.dashboard
    }

    /// Names of other modules' records (see `directory`).
    pub fn directory(&self, entity: &str) -> Option<&dyn crate::directory::Directory> {
        self.0.directories.get(entity)
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.0.started_at.elapsed()
    }

    pub fn metrics(&self) -> Option<&metrics_exporter_prometheus::PrometheusHandle> {
        self.0.metrics.as_ref()
    }
}

/// What this node's auth caches forget when someone's access changed.
fn forget_access(auth: &crate::auth::cache::AuthState, change: &crate::realtime::AccessChange) {
    use crate::realtime::AccessChange;
    if change.touches_roles() {
        auth.roles.invalidate();
    }
    match change {
        AccessChange::User(id) => auth.signed_in.forget(Some(*id)),
        AccessChange::All => auth.signed_in.forget(None),
        AccessChange::Role(_) | AccessChange::ApiKey(_) => {}
    }
}
