//! Stored responses for `Idempotency-Key`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    KeyHash,
    Fingerprint,
    Status,
    ContentType,
    Location,
    Etag,
    Body,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(
                    ColumnDef::new(IdempotencyKeys::KeyHash)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(IdempotencyKeys::Fingerprint)
                        .string_len(64)
                        .not_null(),
                )
                .col(ColumnDef::new(IdempotencyKeys::Status).integer().null())
                .col(
                    ColumnDef::new(IdempotencyKeys::ContentType)
                        .string_len(200)
                        .null(),
                )
                .col(ColumnDef::new(IdempotencyKeys::Location).text().null())
                .col(ColumnDef::new(IdempotencyKeys::Etag).string_len(200).null())
                .col(ColumnDef::new(IdempotencyKeys::Body).binary().null())
                .col(
                    ColumnDef::new(IdempotencyKeys::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_idempotency_keys_created_at")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}
