//! The face every business module shows the server: its name, migrations,
//! routes (JSON API with OpenAPI, and pages), templates, assets and
//! translations. The server crate is the only place that lists modules.

use sea_orm_migration::MigrationTrait;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::Pages;
use crate::i18n::Locale;
use crate::state::AppState;
use crate::ui::NavEntry;

pub trait Module: Send + Sync + 'static {
    /// Stable short name (`wms`, `service` …), used in config and metrics.
    fn name(&self) -> &'static str;

    /// Schema changes, in order. Names are `mYYYYMMDD_NNNNNN_<module>_<what>`
    /// and never change once landed.
    fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
        Vec::new()
    }

    /// Permissions this module checks (`module.resource.action`). A route
    /// that requires a permission no module declares stops the start.
    fn permissions(&self) -> &'static [crate::auth::Permission] {
        &[]
    }

    /// What each built-in role holds of this module by default, as
    /// permission patterns (`wms.*.read`): given once, when the module is
    /// first installed; admins may change them afterwards.
    fn grants(&self) -> crate::auth::Grants {
        &[]
    }

    /// The OpenAPI tags of this module's operations, with a description.
    fn openapi_tags(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Realtime topics this module publishes on, each with the permission
    /// a subscriber needs to receive it: `("orders", perms::ORDERS_READ)`.
    /// Publishing on an undeclared topic is refused (see `realtime`).
    fn topics(&self) -> &'static [(&'static str, crate::auth::Permission)] {
        &[]
    }

    /// JSON routes under `/api`, documented for OpenAPI. Each operation
    /// states its access with `security(...)` (see `auth::access`).
    fn api(&self) -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
    }

    /// HTML pages, each with its access.
    fn pages(&self) -> Pages {
        Pages::new()
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    fn assets(&self) -> &'static [(&'static str, &'static [u8], &'static str)] {
        &[]
    }

    /// Translation catalogs (`key = text` files) per language.
    fn translations(&self) -> &'static [(Locale, &'static str)] {
        &[]
    }

    /// Background job types this module defines (see `jobs`).
    fn jobs(&self) -> Vec<crate::jobs::JobType> {
        Vec::new()
    }

    /// Handlers of inbound webhooks, one per source the module owns (the
    /// source's secret is `webhooks.inbound.<source>.secret`). Each event is
    /// stored first and handed over in a job, at least once.
    fn inbound_webhooks(&self) -> Vec<crate::webhooks::InboundHandler> {
        Vec::new()
    }

    /// Records of this module that files can be attached to, each with
    /// the permissions that read and attach (see `files`).
    fn file_owners(&self) -> Vec<Box<dyn crate::files::FileOwner>> {
        Vec::new()
    }

    /// Jobs enqueued each time a server starts (say, indexing rows an
    /// upgrade added a column for); idempotent, one live copy per kind.
    fn start_jobs(&self) -> Vec<crate::jobs::StartJob> {
        Vec::new()
    }

    /// Cron-like schedules of this module's jobs.
    fn schedules(&self) -> Vec<crate::jobs::Schedule> {
        Vec::new()
    }

    /// Counters of this module's references to other modules' rows (a
    /// warehouse order refers to a client), so the owner can show counts and
    /// refuse deletions without depending on this module.
    fn references(&self) -> Vec<Box<dyn crate::references::ReferenceCounter>> {
        Vec::new()
    }

    /// Directories of this module's entities, for other modules to name
    /// and find them.
    fn directories(&self) -> Vec<Box<dyn crate::directory::Directory>> {
        Vec::new()
    }

    /// Encrypted columns, for `faena keys rotate`.
    fn encrypted_columns(&self) -> &'static [crate::crypto::EncryptedColumn] {
        &[]
    }

    /// Event types this module sends to webhook endpoints
    /// (`webhooks::emit`), offered to subscribers; a subscription that
    /// matches none of the modules' events is refused.
    fn webhook_events(&self) -> &'static [&'static str] {
        &[]
    }

    /// Where this module's records are shown, by audit entity:
    /// `("order", "/orders/{id}")`, so the audit page links them.
    fn record_links(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Panels this module adds to the home page, each with the permission
    /// that shows it (see `dashboard`).
    fn dashboard(&self) -> Vec<Box<dyn crate::dashboard::Tile<AppState>>> {
        Vec::new()
    }

    /// The module's entry in the navigation and on the home page.
    fn nav(&self) -> Option<NavEntry> {
        None
    }
}
