//! Stored responses for `Idempotency-Key`.

use crate::schema::*;
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
                .col(string_len(IdempotencyKeys::KeyHash, 64).primary_key())
                .col(string_len(IdempotencyKeys::Fingerprint, 64))
                .col(integer_null(IdempotencyKeys::Status))
                .col(string_len_null(IdempotencyKeys::ContentType, 200))
                .col(text_null(IdempotencyKeys::Location))
                .col(string_len_null(IdempotencyKeys::Etag, 200))
                .col(binary_null(IdempotencyKeys::Body))
                .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_idempotency_keys_created_at",
            IdempotencyKeys::Table,
            [IdempotencyKeys::CreatedAt],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}
