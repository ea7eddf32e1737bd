//! The clients table. Phone, address and tax id hold ciphertexts
//! (`platform::crypto`); `tax_id_index` is their blind index.

use sea_orm_migration::prelude::*;

pub fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(CreateClients)]
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
