//! The clients table. Phone, address and tax id hold ciphertexts
//! (`platform::crypto`); `tax_id_index` is their blind index.

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
                .col(ColumnDef::new(Clients::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Clients::Name).string_len(200).not_null())
                .col(ColumnDef::new(Clients::Email).string_len(254).not_null())
                .col(
                    ColumnDef::new(Clients::EmailKey)
                        .string_len(254)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Clients::Phone).text().null())
                .col(ColumnDef::new(Clients::Address).text().null())
                .col(ColumnDef::new(Clients::Comuna).string_len(100).null())
                .col(ColumnDef::new(Clients::City).string_len(100).null())
                .col(ColumnDef::new(Clients::TaxCountry).string_len(2).null())
                .col(ColumnDef::new(Clients::TaxId).text().null())
                .col(ColumnDef::new(Clients::TaxIdIndex).string_len(64).null())
                .col(ColumnDef::new(Clients::Notes).text().null())
                .col(
                    ColumnDef::new(Clients::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Clients::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(Clients::Version).integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_clients_tax_id_index")
                .table(Clients::Table)
                .col(Clients::TaxIdIndex)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_clients_name")
                .table(Clients::Table)
                .col(Clients::Name)
                .to_owned(),
        )
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
            ColumnDef::new(Clients::SearchText)
                .text()
                .not_null()
                .default("")
                .to_owned(),
            sort_key,
            ColumnDef::new(Clients::PhoneIndex)
                .string_len(64)
                .null()
                .to_owned(),
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
        m.create_index(
            Index::create()
                .name("idx_clients_comuna_key")
                .table(Clients::Table)
                .col(Clients::ComunaKey)
                .col(Clients::SortKey)
                .to_owned(),
        )
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
