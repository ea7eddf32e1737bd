//! The customer directory shared by the warehouse, the repair shop and
//! transport: who the company's clients are, with their personal data
//! (phone, address, tax id) encrypted at rest.
//!
//! Owns the `clients` table. It never reads another module's tables: how
//! many orders a client has comes through `platform::references`.

pub mod clients;
pub mod demo;
mod directory;
mod migrations;
pub mod perms;

use faena_platform::auth::Pages;
use faena_platform::crypto::EncryptedColumn;
use faena_platform::ui::NavEntry;
use faena_platform::{AppState, Locale, Module};
use sea_orm_migration::MigrationTrait;
use utoipa_axum::router::OpenApiRouter;

pub struct ClientsModule;

impl Module for ClientsModule {
    fn name(&self) -> &'static str {
        "clients"
    }

    fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
        migrations::all()
    }

    fn permissions(&self) -> &'static [faena_platform::auth::Permission] {
        perms::ALL
    }

    fn grants(&self) -> faena_platform::auth::Grants {
        &[
            ("manager", &["clients.*.*"]),
            ("receptionist", &["clients.*.read", "clients.*.write"]),
            ("technician", &["clients.*.read"]),
            ("warehouse", &["clients.*.read"]),
            ("dispatcher", &["clients.*.read"]),
            ("viewer", &["clients.*.read"]),
        ]
    }

    fn openapi_tags(&self) -> &'static [(&'static str, &'static str)] {
        &[("clients", "The customer directory")]
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        clients::api::api()
    }

    fn pages(&self) -> Pages {
        clients::pages::pages()
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "clients/list.html",
                include_str!("../templates/clients/list.html"),
            ),
            (
                "clients/form.html",
                include_str!("../templates/clients/form.html"),
            ),
            (
                "clients/detail.html",
                include_str!("../templates/clients/detail.html"),
            ),
        ]
    }

    fn translations(&self) -> &'static [(Locale, &'static str)] {
        &[
            (Locale::Es, include_str!("../locales/es.txt")),
            (Locale::En, include_str!("../locales/en.txt")),
        ]
    }

    fn record_links(&self) -> &'static [(&'static str, &'static str)] {
        &[("client", "/clients/{id}")]
    }

    fn nav(&self) -> Option<NavEntry> {
        Some(NavEntry {
            module: "clients",
            title_key: "clients.title",
            href: "/clients",
        })
    }

    fn jobs(&self) -> Vec<faena_platform::jobs::JobType> {
        vec![faena_platform::jobs::JobType::of::<
            clients::service::IndexPhones,
        >()]
    }

    fn start_jobs(&self) -> Vec<faena_platform::jobs::StartJob> {
        vec![faena_platform::jobs::StartJob::of(
            &clients::service::IndexPhones::default(),
        )]
    }

    fn directories(&self) -> Vec<Box<dyn faena_platform::directory::Directory>> {
        vec![Box::new(directory::ClientDirectory)]
    }

    fn encrypted_columns(&self) -> &'static [EncryptedColumn] {
        &[
            EncryptedColumn {
                table: "clients",
                id_column: "id",
                column: "phone",
                aad_prefix: "clients.phone",
            },
            EncryptedColumn {
                table: "clients",
                id_column: "id",
                column: "address",
                aad_prefix: "clients.address",
            },
            EncryptedColumn {
                table: "clients",
                id_column: "id",
                column: "tax_id",
                aad_prefix: "clients.tax_id",
            },
        ]
    }

    fn file_owners(&self) -> Vec<Box<dyn faena_platform::files::FileOwner>> {
        vec![Box::new(ClientFiles)]
    }
}

/// Files attached to clients (contracts, identity documents): read with
/// the client, attached by whoever may edit it.
struct ClientFiles;

/// The owner kind of files attached to clients.
pub const CLIENT_FILES: &str = "clients.client";

#[async_trait::async_trait]
impl faena_platform::files::FileOwner for ClientFiles {
    fn kind(&self) -> &'static str {
        CLIENT_FILES
    }

    fn read_permission(&self) -> faena_platform::auth::Permission {
        perms::CLIENTS_READ
    }

    fn attach_permission(&self) -> faena_platform::auth::Permission {
        perms::CLIENTS_WRITE
    }

    async fn find(
        &self,
        db: &sea_orm::DatabaseConnection,
        id: &str,
    ) -> Result<Option<String>, sea_orm::DbErr> {
        let Ok(id) = uuid::Uuid::try_parse(id.trim()) else {
            return Ok(None);
        };
        Ok(clients::store::find(db, id)
            .await?
            .map(|c| c.id.to_string()))
    }
}
