//! Equipment maintenance (seed 002): the register of machines, what was
//! done to each (preventive, corrective, calibration, inspection), by whom,
//! at what cost, signed off into an unchangeable trail.
//!
//! Owns the `mnt_*` tables. Users are the platform's: technicians and the
//! people responsible for machines are chosen among those whose role may do
//! the work.

pub mod dashboard;
pub mod demo;
pub mod machines;
mod migrations;
pub mod perms;
pub mod plans;
pub mod records;
pub mod reports;
pub mod requests;

use faena_platform::auth::{Pages, Permission};
use faena_platform::files::FileOwner;
use faena_platform::ui::NavEntry;
use faena_platform::{AppState, Locale, Module};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use sea_orm_migration::MigrationTrait;
use utoipa_axum::router::OpenApiRouter;

/// A form or query value as given: trimmed, and none when blank.
pub(crate) fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub struct MaintenanceModule;

impl Module for MaintenanceModule {
    fn name(&self) -> &'static str {
        "maintenance"
    }

    fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
        migrations::all()
    }

    fn permissions(&self) -> &'static [Permission] {
        perms::ALL
    }

    fn topics(&self) -> &'static [(&'static str, Permission)] {
        &[(machines::service::TOPIC, perms::MACHINES_READ)]
    }

    fn grants(&self) -> faena_platform::auth::Grants {
        &[
            ("manager", &["maintenance.*.*"]),
            (
                "technician",
                &["maintenance.*.read", "maintenance.records.write"],
            ),
            ("viewer", &["maintenance.*.read"]),
        ]
    }

    fn openapi_tags(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "maintenance",
            "Equipment maintenance: machines, their maintenance records and sign-off",
        )]
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        machines::api::api()
            .merge(records::api::api())
            .merge(plans::api::api())
            .merge(requests::api::api())
            .merge(reports::api::api())
            .merge(reports::dashboard::api())
    }

    fn pages(&self) -> Pages {
        machines::pages::pages()
            .merge(records::pages::pages())
            .merge(plans::pages::pages())
            .merge(requests::pages::pages())
            .merge(reports::pages::pages())
            .merge(reports::dashboard::pages())
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "machines/list.html",
                include_str!("../templates/machines/list.html"),
            ),
            (
                "machines/detail.html",
                include_str!("../templates/machines/detail.html"),
            ),
            (
                "machines/form.html",
                include_str!("../templates/machines/form.html"),
            ),
            (
                "maintenance/macros.html",
                include_str!("../templates/records/macros.html"),
            ),
            (
                "records/list.html",
                include_str!("../templates/records/list.html"),
            ),
            (
                "records/detail.html",
                include_str!("../templates/records/detail.html"),
            ),
            (
                "records/form.html",
                include_str!("../templates/records/form.html"),
            ),
            (
                "plans/form.html",
                include_str!("../templates/plans/form.html"),
            ),
            (
                "plans/work.html",
                include_str!("../templates/plans/work.html"),
            ),
            (
                "requests/report.html",
                include_str!("../templates/requests/report.html"),
            ),
            (
                "reports/calibrations.html",
                include_str!("../templates/reports/calibrations.html"),
            ),
            (
                "reports/report.html",
                include_str!("../templates/reports/report.html"),
            ),
            (
                "reports/dashboard.html",
                include_str!("../templates/reports/dashboard.html"),
            ),
            (
                "machines/import.html",
                include_str!("../templates/machines/import.html"),
            ),
            (
                "requests/list.html",
                include_str!("../templates/requests/list.html"),
            ),
            (
                "mail/maintenance_failure.subject.txt",
                include_str!("../templates/mail/maintenance_failure.subject.txt"),
            ),
            (
                "mail/maintenance_failure.txt",
                include_str!("../templates/mail/maintenance_failure.txt"),
            ),
            (
                "mail/maintenance_due.subject.txt",
                include_str!("../templates/mail/maintenance_due.subject.txt"),
            ),
            (
                "mail/maintenance_due.txt",
                include_str!("../templates/mail/maintenance_due.txt"),
            ),
            (
                "mail/maintenance_overdue.subject.txt",
                include_str!("../templates/mail/maintenance_overdue.subject.txt"),
            ),
            (
                "mail/maintenance_overdue.txt",
                include_str!("../templates/mail/maintenance_overdue.txt"),
            ),
        ]
    }

    fn translations(&self) -> &'static [(Locale, &'static str)] {
        &[
            (Locale::Es, include_str!("../locales/es.txt")),
            (Locale::En, include_str!("../locales/en.txt")),
        ]
    }

    fn webhook_events(&self) -> &'static [&'static str] {
        &[
            "machine.created",
            "machine.updated",
            "machine.deleted",
            "maintenance.recorded",
            "maintenance.signed_off",
        ]
    }

    fn record_links(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("machine", "/machines/{id}"),
            ("maintenance_record", "/maintenance/{id}"),
        ]
    }

    fn dashboard(&self) -> Vec<Box<dyn faena_platform::dashboard::Tile<AppState>>> {
        vec![Box::new(dashboard::MaintenanceTile)]
    }

    fn nav(&self) -> Option<NavEntry> {
        Some(NavEntry {
            module: "maintenance",
            title_key: "machines.title",
            href: "/machines",
        })
    }

    fn jobs(&self) -> Vec<faena_platform::jobs::JobType> {
        vec![faena_platform::jobs::JobType::of::<plans::jobs::PlansDue>()]
    }

    fn schedules(&self) -> Vec<faena_platform::jobs::Schedule> {
        // Hourly: what falls due opens within the hour, after a restart too.
        vec![faena_platform::jobs::Schedule::new(
            "maintenance.plans_due",
            "0 5 * * * *",
            plans::jobs::PlansDue {},
        )]
    }

    fn file_owners(&self) -> Vec<Box<dyn FileOwner>> {
        vec![
            Box::new(MachineFiles),
            Box::new(RecordFiles),
            Box::new(RequestFiles),
        ]
    }
}

/// Photos and documents of a machine (manuals, certificates): read with
/// the machines, attached by whoever may change them.
struct MachineFiles;

#[async_trait::async_trait]
impl FileOwner for MachineFiles {
    fn kind(&self) -> &'static str {
        machines::service::FILE_KIND
    }

    fn read_permission(&self) -> Permission {
        perms::MACHINES_READ
    }

    fn attach_permission(&self) -> Permission {
        perms::MACHINES_WRITE
    }

    async fn find(&self, db: &DatabaseConnection, id: &str) -> Result<Option<String>, DbErr> {
        Ok(machines::store::find_by_code(db, id).await?.map(|m| m.code))
    }
}

/// Attachments of a maintenance record (service reports, certificates):
/// read with the records, attached by whoever records work.
struct RecordFiles;

#[async_trait::async_trait]
impl FileOwner for RecordFiles {
    fn kind(&self) -> &'static str {
        records::service::FILE_KIND
    }

    fn read_permission(&self) -> Permission {
        perms::RECORDS_READ
    }

    fn attach_permission(&self) -> Permission {
        perms::RECORDS_WRITE
    }

    async fn find(&self, db: &DatabaseConnection, id: &str) -> Result<Option<String>, DbErr> {
        let Ok(id) = uuid::Uuid::parse_str(id.trim()) else {
            return Ok(None);
        };
        Ok(records::store::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|r| r.id.to_string()))
    }
}

/// Photos sent with failure reports: read by whoever may read the
/// reports; attached only through the public report page.
struct RequestFiles;

#[async_trait::async_trait]
impl FileOwner for RequestFiles {
    fn kind(&self) -> &'static str {
        requests::service::FILE_KIND
    }

    fn read_permission(&self) -> Permission {
        perms::REQUESTS_READ
    }

    fn attach_permission(&self) -> Permission {
        perms::REQUESTS_REVIEW
    }

    async fn find(&self, db: &DatabaseConnection, id: &str) -> Result<Option<String>, DbErr> {
        let Ok(id) = uuid::Uuid::parse_str(id.trim()) else {
            return Ok(None);
        };
        Ok(requests::store::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|r| r.id.to_string()))
    }
}
