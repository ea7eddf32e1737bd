//! The warehouse (seed 004): orders from their reception through picking,
//! packing, shipping and delivery, to returns with their reasons.
//!
//! Owns the `wms_*` tables. Clients are someone else's: their names come
//! from the platform's directory, and this module tells the platform how
//! many orders each client has.

pub mod demo;
mod migrations;
pub mod orders;
pub mod perms;

use std::collections::HashMap;

use faena_platform::auth::Pages;
use faena_platform::files::FileOwner;
use faena_platform::references::ReferenceCounter;
use faena_platform::ui::NavEntry;
use faena_platform::{AppState, Locale, Module};
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigrationTrait;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub struct WmsModule;

impl Module for WmsModule {
    fn name(&self) -> &'static str {
        "wms"
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

    fn grants(&self) -> faena_platform::auth::Grants {
        &[
            ("manager", &["wms.*.*"]),
            ("warehouse", &["wms.*.read", "wms.*.write"]),
            ("viewer", &["wms.*.read"]),
        ]
    }

    fn openapi_tags(&self) -> &'static [(&'static str, &'static str)] {
        &[("orders", "Warehouse orders and returns")]
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        orders::api::api()
    }

    fn pages(&self) -> Pages {
        orders::pages::pages()
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "orders/list.html",
                include_str!("../templates/orders/list.html"),
            ),
            (
                "orders/macros.html",
                include_str!("../templates/orders/macros.html"),
            ),
            (
                "orders/returns.html",
                include_str!("../templates/orders/returns.html"),
            ),
            (
                "orders/form.html",
                include_str!("../templates/orders/form.html"),
            ),
            (
                "orders/detail.html",
                include_str!("../templates/orders/detail.html"),
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
            "order.created",
            "order.updated",
            "order.status_changed",
            "order.deleted",
        ]
    }

    fn record_links(&self) -> &'static [(&'static str, &'static str)] {
        &[("order", "/orders/{id}")]
    }

    fn dashboard(&self) -> Vec<Box<dyn faena_platform::dashboard::Tile<faena_platform::AppState>>> {
        vec![Box::new(orders::dashboard::OrdersTile)]
    }

    fn nav(&self) -> Option<NavEntry> {
        Some(NavEntry {
            module: "wms",
            title_key: "orders.title",
            href: "/orders",
        })
    }

    fn references(&self) -> Vec<Box<dyn ReferenceCounter>> {
        vec![Box::new(OrdersOfClient)]
    }

    fn file_owners(&self) -> Vec<Box<dyn FileOwner>> {
        vec![Box::new(OrderFiles)]
    }
}

/// Files attached to warehouse orders (delivery photos, signed guides):
/// read with the orders, attached by whoever may change an order.
struct OrderFiles;

/// The owner kind of files attached to orders.
pub const ORDER_FILES: &str = "wms.order";

#[async_trait::async_trait]
impl FileOwner for OrderFiles {
    fn kind(&self) -> &'static str {
        ORDER_FILES
    }

    fn read_permission(&self) -> faena_platform::auth::Permission {
        perms::ORDERS_READ
    }

    fn attach_permission(&self) -> faena_platform::auth::Permission {
        perms::ORDERS_WRITE
    }

    async fn find(&self, db: &DatabaseConnection, id: &str) -> Result<Option<String>, DbErr> {
        Ok(orders::store::find_by_number(db, id)
            .await?
            .map(|o| o.number))
    }
}

/// How many orders each client has.
struct OrdersOfClient;

#[async_trait::async_trait]
impl ReferenceCounter for OrdersOfClient {
    fn target(&self) -> &'static str {
        "client"
    }

    fn label(&self) -> &'static str {
        "orders"
    }

    fn permission(&self) -> faena_platform::auth::Permission {
        perms::ORDERS_READ
    }

    fn link(&self, id: Uuid) -> String {
        format!("/orders?client_id={id}")
    }

    fn conflict_code(&self) -> &'static str {
        "client_has_orders"
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
