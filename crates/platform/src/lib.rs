//! Faena's shared platform: configuration, database, errors, HTTP plumbing,
//! the UI shell, translations, telemetry, jobs, files, mail and webhooks. Business modules build on it
//! and never on each other.
//!
//! It owns nothing of any business: no module's table, route or text lives
//! here.

pub mod audit;
pub mod auth;
pub mod backup;
pub mod cache;
pub mod config;
pub mod crypto;
pub mod csv;
pub mod dashboard;
pub mod db;
pub mod db_health;
pub mod demo;
pub mod directory;
pub mod error;
pub mod files;
pub mod housekeeping;
pub mod http;
pub mod i18n;
pub mod idempotency;
pub mod jobs;
pub mod mail;
mod migrations;
pub mod module;
pub mod prelude;
pub mod realtime;
pub mod references;
pub mod routes;
pub mod schema;
pub mod secrets;
pub mod state;
pub mod telemetry;
pub mod text;
pub mod types;
pub mod ui;
pub mod webhooks;

pub use config::Config;
pub use error::{AppError, AppResult, FieldError, FieldErrors, Problem};
pub use i18n::{I18n, Locale};
pub use module::Module;
pub use state::AppState;

/// The version of this build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Translation catalogs of the platform itself.
pub const TRANSLATIONS: &[(Locale, &str)] = &[
    (Locale::Es, include_str!("../locales/es.txt")),
    (Locale::En, include_str!("../locales/en.txt")),
];

/// The platform's own schema migrations; modules add theirs after these.
pub fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
    migrations::all()
}
