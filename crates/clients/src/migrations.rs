//! The clients table. Phone, address and tax id hold ciphertexts
//! (`platform::crypto`); `tax_id_index` is their blind index.

use faena_platform::schema::*;
use sea_orm_migration::prelude::*;

pub fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(CreateClients),
        Box::new(SearchColumns),
        Box::new(ComunaKey),
    ]
}

struct CreateClients;

impl MigrationName for CreateClients {
    fn name(&self) -> &str {
        "m20261123_100001_clients_create"
    }
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    Name,
    Email,
    EmailKey,
    Phone,
    Address,
    Comuna,
    City,
    TaxCountry,
    TaxId,
    TaxIdIndex,
    Notes,
    CreatedAt,
    UpdatedAt,
    Version,
    SearchText,
    SortKey,
    PhoneIndex,
    ComunaKey,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateClients {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Clients::Table)
                .col(pk_uuid(Clients::Id))
                .col(string_len(Clients::Name, 200))
                .col(string_len(Clients::Email, 254))
                .col(string_len(Clients::EmailKey, 254).unique_key())
                .col(text_null(Clients::Phone))
                .col(text_null(Clients::Address))
                .col(string_len_null(Clients::Comuna, 100))
                .col(string_len_null(Clients::City, 100))
                .col(string_len_null(Clients::TaxCountry, 2))
                .col(text_null(Clients::TaxId))
                .col(string_len_null(Clients::TaxIdIndex, 64))
                .col(text_null(Clients::Notes))
                .col(timestamp_with_time_zone(Clients::CreatedAt))
                .col(timestamp_with_time_zone(Clients::UpdatedAt))
                .col(integer(Clients::Version))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_clients_tax_id_index",
            Clients::Table,
            [Clients::TaxIdIndex],
        ))
        .await?;
        m.create_index(index("idx_clients_name", Clients::Table, [Clients::Name]))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Clients::Table).to_owned())
            .await
    }
}

/// What search and sorting read (`platform::text`): the folded name,
/// email, comuna and city; the Spanish sort key of the name, compared
/// byte by byte; the blind index of the phone's last eight digits. The
/// first two are computed here from plaintext columns; the phone index
/// needs the key ring and is filled by the `clients.index` start job.
struct SearchColumns;

impl MigrationName for SearchColumns {
    fn name(&self) -> &str {
        "m20261207_100002_clients_search"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SearchColumns {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let postgres = m.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        let mut sort_key = ColumnDef::new(Clients::SortKey);
        sort_key.string_len(400).not_null().default("");
        if postgres {
            sort_key.extra("COLLATE \"C\"");
        }
        for column in [
            text(Clients::SearchText).default("").to_owned(),
            sort_key,
            string_len_null(Clients::PhoneIndex, 64).to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        let db = m.get_connection();
        let rows = db
            .query_all(
                m.get_database_backend().build(
                    Query::select()
                        .columns([
                            Clients::Id,
                            Clients::Name,
                            Clients::Email,
                            Clients::Comuna,
                            Clients::City,
                        ])
                        .from(Clients::Table),
                ),
            )
            .await?;
        for row in rows {
            let id: uuid::Uuid = row.try_get("", "id")?;
            let name: String = row.try_get("", "name")?;
            let email: String = row.try_get("", "email")?;
            let comuna: Option<String> = row.try_get("", "comuna")?;
            let city: Option<String> = row.try_get("", "city")?;
            let search =
                crate::clients::search_text(&name, &email, comuna.as_deref(), city.as_deref());
            m.exec_stmt(
                Query::update()
                    .table(Clients::Table)
                    .values([
                        (Clients::SearchText, search.into()),
                        (
                            Clients::SortKey,
                            faena_platform::text::sort_key(&name).into(),
                        ),
                    ])
                    .and_where(Expr::col(Clients::Id).eq(id))
                    .to_owned(),
            )
            .await?;
        }
        for (name, column) in [
            ("idx_clients_sort_key", Clients::SortKey),
            ("idx_clients_phone_index", Clients::PhoneIndex),
        ] {
            let mut index = Index::create();
            index.name(name).table(Clients::Table).col(column);
            if name == "idx_clients_sort_key" {
                index.col(Clients::Id);
            }
            m.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_clients_sort_key", "idx_clients_phone_index"] {
            m.drop_index(Index::drop().name(name).table(Clients::Table).to_owned())
                .await?;
        }
        for column in [Clients::SearchText, Clients::SortKey, Clients::PhoneIndex] {
            m.alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

/// The comuna's Spanish sort key, so the list sorts by comuna as it does
/// by name ("Ñuñoa" after "Nunoa", "Álamos" with the A's); computed here
/// for the clients saved before, and on every save after.
struct ComunaKey;

impl MigrationName for ComunaKey {
    fn name(&self) -> &str {
        "m20261208_100001_clients_comuna_key"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ComunaKey {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut column = ColumnDef::new(Clients::ComunaKey);
        column.string_len(400).not_null().default("");
        if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            column.extra("COLLATE \"C\"");
        }
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .add_column(column)
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let rows = db
            .query_all(
                m.get_database_backend().build(
                    Query::select()
                        .columns([Clients::Id, Clients::Comuna])
                        .from(Clients::Table),
                ),
            )
            .await?;
        for row in rows {
            let id: uuid::Uuid = row.try_get("", "id")?;
            let comuna: Option<String> = row.try_get("", "comuna")?;
            let key = crate::clients::comuna_key(comuna.as_deref());
            m.exec_stmt(
                Query::update()
                    .table(Clients::Table)
                    .value(Clients::ComunaKey, key)
                    .and_where(Expr::col(Clients::Id).eq(id))
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(index(
            "idx_clients_comuna_key",
            Clients::Table,
            [Clients::ComunaKey, Clients::SortKey],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_clients_comuna_key")
                .table(Clients::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .drop_column(Clients::ComunaKey)
                .to_owned(),
        )
        .await
    }
}
