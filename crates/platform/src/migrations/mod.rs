//! The platform's schema migrations. Never edit one that has landed: add a
//! new one (expand, migrate, contract).

mod m20261123_000001_identity_and_audit;
mod m20261123_000002_idempotency;
mod m20261123_000003_write_lock;
mod m20261123_000004_jobs;
mod m20261123_000005_mail;
mod m20261123_000006_webhooks;
mod m20261123_000007_files;
mod m20261206_000008_role_grants;
mod m20261206_000009_job_request_id;
mod m20261209_000010_user_time_zone;

use sea_orm_migration::MigrationTrait;

pub fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261123_000001_identity_and_audit::Migration),
        Box::new(m20261123_000002_idempotency::Migration),
        Box::new(m20261123_000003_write_lock::Migration),
        Box::new(m20261123_000004_jobs::Migration),
        Box::new(m20261123_000005_mail::Migration),
        Box::new(m20261123_000006_webhooks::Migration),
        Box::new(m20261123_000007_files::Migration),
        Box::new(m20261206_000008_role_grants::Migration),
        Box::new(m20261206_000009_job_request_id::Migration),
        Box::new(m20261209_000010_user_time_zone::Migration),
    ]
}
