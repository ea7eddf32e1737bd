//! The repair shop (seed 003): service orders from the device's intake
//! through diagnosis, the estimate and its answer, the repair, to its
//! delivery; and the technicians who do the work. Pages for the desk and
//! the bench, and two public ones for the customer without an account:
//! the estimate's approval link and the tracking page. Labels (ZPL and
//! PDF) printed on Zebra printers as jobs, and the order's PDFs.
//!
//! Owns the `service_*` tables. Customers are the clients module's: their
//! names come from the platform's directory, and this module tells the
//! platform how many orders each client has. Users and roles are the
//! platform's; a technician's profile is ours.

pub mod demo;
mod migrations;
pub mod orders;
pub mod perms;
pub mod printers;
pub mod stats;
pub mod technicians;

use std::collections::HashMap;

use faena_platform::auth::Pages;
use faena_platform::references::ReferenceCounter;
use faena_platform::ui::NavEntry;
use faena_platform::{AppState, Locale, Module};
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigrationTrait;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub struct ServiceModule;

impl Module for ServiceModule {
    fn name(&self) -> &'static str {
        "service"
    }

    fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
        migrations::all()
    }

    fn permissions(&self) -> &'static [faena_platform::auth::Permission] {
        perms::ALL
    }

    fn topics(&self) -> &'static [(&'static str, faena_platform::auth::Permission)] {
        &[(orders::service::TOPIC, perms::ORDERS_READ)]
    }

    /// Decision 0031.
    fn grants(&self) -> faena_platform::auth::Grants {
        &[
            ("manager", &["service.*.*"]),
            (
                "receptionist",
                &[
                    "service.orders.read",
                    "service.orders.all",
                    "service.orders.write",
                    "service.orders.quote",
                    "service.orders.attach",
                    "service.technicians.read",
                    "service.printers.read",
                ],
            ),
            (
                "technician",
                &[
                    "service.orders.read",
                    "service.orders.work",
                    "service.orders.quote",
                    "service.orders.attach",
                    "service.technicians.read",
                    "service.printers.read",
                ],
            ),
            ("viewer", &["service.*.read", "service.orders.all"]),
        ]
    }

    fn openapi_tags(&self) -> &'static [(&'static str, &'static str)] {
        &[("service", "Repair shop: service orders and technicians")]
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        orders::api::api()
            .merge(technicians::api::api())
            .merge(printers::api::api())
            .merge(stats::api::api())
    }

    fn pages(&self) -> Pages {
        orders::pages::pages()
            .merge(orders::public::pages())
            .merge(technicians::pages::pages())
            .merge(printers::pages::pages())
            .merge(stats::pages::pages())
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "service/list.html",
                include_str!("../templates/service/list.html"),
            ),
            (
                "service/intake.html",
                include_str!("../templates/service/intake.html"),
            ),
            (
                "service/detail.html",
                include_str!("../templates/service/detail.html"),
            ),
            (
                "service/queue.html",
                include_str!("../templates/service/queue.html"),
            ),
            (
                "service/technicians.html",
                include_str!("../templates/service/technicians.html"),
            ),
            (
                "service/printers.html",
                include_str!("../templates/service/printers.html"),
            ),
            (
                "service/macros.html",
                include_str!("../templates/service/macros.html"),
            ),
            (
                "service/approve.html",
                include_str!("../templates/service/approve.html"),
            ),
            (
                "service/answered.html",
                include_str!("../templates/service/answered.html"),
            ),
            (
                "service/link_refused.html",
                include_str!("../templates/service/link_refused.html"),
            ),
            (
                "service/stats.html",
                include_str!("../templates/service/stats.html"),
            ),
            (
                "service/track.html",
                include_str!("../templates/service/track.html"),
            ),
            (
                "mail/service_intake.subject.txt",
                include_str!("../templates/mail/service_intake.subject.txt"),
            ),
            (
                "mail/service_intake.txt",
                include_str!("../templates/mail/service_intake.txt"),
            ),
            (
                "mail/service_estimate.subject.txt",
                include_str!("../templates/mail/service_estimate.subject.txt"),
            ),
            (
                "mail/service_estimate.txt",
                include_str!("../templates/mail/service_estimate.txt"),
            ),
            (
                "mail/service_ready.subject.txt",
                include_str!("../templates/mail/service_ready.subject.txt"),
            ),
            (
                "mail/service_ready.txt",
                include_str!("../templates/mail/service_ready.txt"),
            ),
            (
                "mail/service_delivered.subject.txt",
                include_str!("../templates/mail/service_delivered.subject.txt"),
            ),
            (
                "mail/service_delivered.txt",
                include_str!("../templates/mail/service_delivered.txt"),
            ),
            (
                "mail/service_reminder.subject.txt",
                include_str!("../templates/mail/service_reminder.subject.txt"),
            ),
            (
                "mail/service_reminder.txt",
                include_str!("../templates/mail/service_reminder.txt"),
            ),
            (
                "mail/service_overdue.subject.txt",
                include_str!("../templates/mail/service_overdue.subject.txt"),
            ),
            (
                "mail/service_overdue.txt",
                include_str!("../templates/mail/service_overdue.txt"),
            ),
        ]
    }

    fn nav(&self) -> Option<NavEntry> {
        Some(NavEntry {
            module: "service",
            title_key: "service.title",
            href: "/service-orders",
        })
    }

    fn record_links(&self) -> &'static [(&'static str, &'static str)] {
        &[("service_order", "/service-orders/{id}")]
    }

    fn translations(&self) -> &'static [(Locale, &'static str)] {
        &[
            (Locale::Es, include_str!("../locales/es.txt")),
            (Locale::En, include_str!("../locales/en.txt")),
        ]
    }

    fn webhook_events(&self) -> &'static [&'static str] {
        &[
            "service_order.created",
            "service_order.updated",
            "service_order.status_changed",
            orders::payments::PAID,
        ]
    }

    /// The payments callback (`POST /api/hooks/payments`).
    fn inbound_webhooks(&self) -> Vec<faena_platform::webhooks::InboundHandler> {
        vec![faena_platform::webhooks::InboundHandler::new(
            orders::payments::SOURCE,
            orders::payments::handle,
        )]
    }

    fn jobs(&self) -> Vec<faena_platform::jobs::JobType> {
        vec![
            faena_platform::jobs::JobType::of::<printers::job::PrintLabel>(),
            faena_platform::jobs::JobType::of::<orders::reminders::ServiceReminders>(),
        ]
    }

    fn schedules(&self) -> Vec<faena_platform::jobs::Schedule> {
        // Daily at 12:00 UTC (the morning in Chile): ready devices not
        // collected, and the managers' digest of promised dates passed.
        vec![faena_platform::jobs::Schedule::new(
            "service.reminders",
            "0 0 12 * * *",
            orders::reminders::ServiceReminders {},
        )]
    }

    fn file_owners(&self) -> Vec<Box<dyn faena_platform::files::FileOwner>> {
        vec![Box::new(OrderFiles)]
    }

    fn references(&self) -> Vec<Box<dyn ReferenceCounter>> {
        vec![Box::new(OrdersOfClient)]
    }
}

/// The owner kind of files attached to service orders (photos of the
/// device as it came in, of the repair).
pub const ORDER_FILES: &str = "service.order";

/// Photos and documents of service orders: read by whoever sees the order
/// (a technician, only their own and the unassigned ones), attached by the
/// desk and the bench.
struct OrderFiles;

#[async_trait::async_trait]
impl faena_platform::files::FileOwner for OrderFiles {
    fn kind(&self) -> &'static str {
        ORDER_FILES
    }

    fn read_permission(&self) -> faena_platform::auth::Permission {
        perms::ORDERS_READ
    }

    fn attach_permission(&self) -> faena_platform::auth::Permission {
        perms::ORDERS_ATTACH
    }

    async fn find(&self, db: &DatabaseConnection, id: &str) -> Result<Option<String>, DbErr> {
        Ok(orders::store::find_by_number(db, id)
            .await?
            .map(|o| o.number))
    }

    async fn visible_to(
        &self,
        db: &DatabaseConnection,
        id: &str,
        principal: &faena_platform::auth::Principal,
    ) -> Result<bool, DbErr> {
        Ok(orders::store::find_by_number(db, id)
            .await?
            .is_some_and(|o| orders::views::caller(principal).sees(o.technician_id)))
    }
}

/// How many service orders each client has.
struct OrdersOfClient;

#[async_trait::async_trait]
impl ReferenceCounter for OrdersOfClient {
    fn target(&self) -> &'static str {
        "client"
    }

    fn label(&self) -> &'static str {
        "service_orders"
    }

    fn permission(&self) -> faena_platform::auth::Permission {
        perms::ORDERS_READ
    }

    fn link(&self, id: Uuid) -> String {
        format!("/api/service-orders?client_id={id}")
    }

    fn conflict_code(&self) -> &'static str {
        "client_has_service_orders"
    }

    fn count_of(
        &self,
        id: sea_orm::sea_query::SimpleExpr,
    ) -> Option<sea_orm::sea_query::SimpleExpr> {
        Some(orders::store::count_of_client(id))
    }

    async fn count(
        &self,
        db: &DatabaseConnection,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, u64>, DbErr> {
        orders::store::count_by_client(db, ids).await
    }
}
