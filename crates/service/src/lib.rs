//! The repair shop (seed 003): service orders from the device's intake
//! through diagnosis, the estimate and its answer, the repair, to its
//! delivery; and the technicians who do the work.
//!
//! Owns the `service_*` tables. Customers are the clients module's: their
//! names come from the platform's directory, and this module tells the
//! platform how many orders each client has. Users and roles are the
//! platform's; a technician's profile is ours.

pub mod demo;
mod migrations;
pub mod orders;
pub mod perms;
pub mod technicians;

use std::collections::HashMap;

use faena_platform::references::ReferenceCounter;
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
                    "service.technicians.read",
                ],
            ),
            (
                "technician",
                &[
                    "service.orders.read",
                    "service.orders.work",
                    "service.orders.quote",
                    "service.technicians.read",
                ],
            ),
            ("viewer", &["service.*.read", "service.orders.all"]),
        ]
    }

    fn openapi_tags(&self) -> &'static [(&'static str, &'static str)] {
        &[("service", "Repair shop: service orders and technicians")]
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        orders::api::api().merge(technicians::api::api())
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
        ]
    }

    fn references(&self) -> Vec<Box<dyn ReferenceCounter>> {
        vec![Box::new(OrdersOfClient)]
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
