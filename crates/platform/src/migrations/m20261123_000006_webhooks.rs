//! Webhooks (see `webhooks`): endpoints admins register, the messages
//! emitted to them, one delivery per (message, endpoint) with its attempt
//! log, and the inbound events received from configured sources.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FaenaWebhookEndpoints {
    Table,
    Id,
    Url,
    Description,
    EventTypes,
    Secret,
    State,
    FailingSince,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum FaenaWebhookMessages {
    Table,
    Id,
    EventType,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum FaenaWebhookDeliveries {
    Table,
    Id,
    MessageId,
    EndpointId,
    EventType,
    State,
    Attempts,
    LastStatus,
    LastError,
    NextAttemptAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FaenaWebhookAttempts {
    Table,
    Id,
    DeliveryId,
    Attempt,
    StartedAt,
    DurationMs,
    StatusCode,
    ResponseExcerpt,
    Error,
}

#[derive(DeriveIden)]
enum FaenaWebhookInbound {
    Table,
    Id,
    Source,
    MessageId,
    SignedAt,
    ReceivedAt,
    Body,
    State,
    ProcessedAt,
    Error,
}

fn at(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn at_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use FaenaWebhookEndpoints as E;
        m.create_table(
            Table::create()
                .table(E::Table)
                .col(ColumnDef::new(E::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(E::Url).text().not_null())
                .col(ColumnDef::new(E::Description).text().null())
                // A JSON array of event types or patterns (`order.*`).
                .col(ColumnDef::new(E::EventTypes).text().not_null())
                // Encrypted (`crypto`), bound to the row.
                .col(ColumnDef::new(E::Secret).text().not_null())
                .col(ColumnDef::new(E::State).string_len(16).not_null())
                .col(at_null(E::FailingSince))
                .col(at(E::CreatedAt))
                .col(at(E::UpdatedAt))
                .col(ColumnDef::new(E::Version).integer().not_null())
                .to_owned(),
        )
        .await?;

        use FaenaWebhookMessages as M;
        m.create_table(
            Table::create()
                .table(M::Table)
                .col(ColumnDef::new(M::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(M::EventType).string_len(100).not_null())
                // The exact bytes every attempt sends.
                .col(ColumnDef::new(M::Body).text().not_null())
                .col(at(M::CreatedAt))
                .to_owned(),
        )
        .await?;

        use FaenaWebhookDeliveries as D;
        m.create_table(
            Table::create()
                .table(D::Table)
                .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(D::MessageId).uuid().not_null())
                .col(ColumnDef::new(D::EndpointId).uuid().not_null())
                .col(ColumnDef::new(D::EventType).string_len(100).not_null())
                .col(ColumnDef::new(D::State).string_len(16).not_null())
                .col(ColumnDef::new(D::Attempts).integer().not_null())
                .col(ColumnDef::new(D::LastStatus).integer().null())
                .col(ColumnDef::new(D::LastError).text().null())
                .col(at_null(D::NextAttemptAt))
                .col(at(D::CreatedAt))
                .col(at(D::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(D::Table, D::MessageId)
                        .to(M::Table, M::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(D::Table, D::EndpointId)
                        .to(E::Table, E::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_faena_webhook_deliveries_message_endpoint")
                .table(D::Table)
                .col(D::MessageId)
                .col(D::EndpointId)
                .unique()
                .to_owned(),
        )
        .await?;
        // An endpoint's deliveries, newest first.
        m.create_index(
            Index::create()
                .name("idx_faena_webhook_deliveries_endpoint_id")
                .table(D::Table)
                .col(D::EndpointId)
                .col(D::Id)
                .to_owned(),
        )
        .await?;

        use FaenaWebhookAttempts as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .col(ColumnDef::new(A::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(A::DeliveryId).uuid().not_null())
                .col(ColumnDef::new(A::Attempt).integer().not_null())
                .col(at(A::StartedAt))
                .col(ColumnDef::new(A::DurationMs).big_integer().not_null())
                .col(ColumnDef::new(A::StatusCode).integer().null())
                .col(ColumnDef::new(A::ResponseExcerpt).text().null())
                .col(ColumnDef::new(A::Error).text().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(A::Table, A::DeliveryId)
                        .to(D::Table, D::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_faena_webhook_attempts_delivery")
                .table(A::Table)
                .col(A::DeliveryId)
                .col(A::Attempt)
                .to_owned(),
        )
        .await?;

        use FaenaWebhookInbound as I;
        m.create_table(
            Table::create()
                .table(I::Table)
                .col(ColumnDef::new(I::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(I::Source).string_len(64).not_null())
                .col(ColumnDef::new(I::MessageId).string_len(255).not_null())
                .col(at(I::SignedAt))
                .col(at(I::ReceivedAt))
                .col(ColumnDef::new(I::Body).text().not_null())
                .col(ColumnDef::new(I::State).string_len(16).not_null())
                .col(at_null(I::ProcessedAt))
                .col(ColumnDef::new(I::Error).text().null())
                .to_owned(),
        )
        .await?;
        // A sender's retry of a message it already delivered is stored once.
        m.create_index(
            Index::create()
                .name("idx_faena_webhook_inbound_source_message")
                .table(I::Table)
                .col(I::Source)
                .col(I::MessageId)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            FaenaWebhookInbound::Table.into_iden(),
            FaenaWebhookAttempts::Table.into_iden(),
            FaenaWebhookDeliveries::Table.into_iden(),
            FaenaWebhookMessages::Table.into_iden(),
            FaenaWebhookEndpoints::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
