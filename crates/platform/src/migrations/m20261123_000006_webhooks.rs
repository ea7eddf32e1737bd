//! Webhooks (see `webhooks`): endpoints admins register, the messages
//! emitted to them, one delivery per (message, endpoint) with its attempt
//! log, and the inbound events received from configured sources.

use crate::schema::*;
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
    timestamp_with_time_zone(col).to_owned()
}

fn at_null(col: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone_null(col).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use FaenaWebhookEndpoints as E;
        m.create_table(
            Table::create()
                .table(E::Table)
                .col(pk_uuid(E::Id))
                .col(text(E::Url))
                .col(text_null(E::Description))
                // A JSON array of event types or patterns (`order.*`).
                .col(text(E::EventTypes))
                // Encrypted (`crypto`), bound to the row.
                .col(text(E::Secret))
                .col(string_len(E::State, 16))
                .col(at_null(E::FailingSince))
                .col(at(E::CreatedAt))
                .col(at(E::UpdatedAt))
                .col(integer(E::Version))
                .to_owned(),
        )
        .await?;

        use FaenaWebhookMessages as M;
        m.create_table(
            Table::create()
                .table(M::Table)
                .col(pk_uuid(M::Id))
                .col(string_len(M::EventType, 100))
                // The exact bytes every attempt sends.
                .col(text(M::Body))
                .col(at(M::CreatedAt))
                .to_owned(),
        )
        .await?;

        use FaenaWebhookDeliveries as D;
        m.create_table(
            Table::create()
                .table(D::Table)
                .col(pk_uuid(D::Id))
                .col(uuid(D::MessageId))
                .col(uuid(D::EndpointId))
                .col(string_len(D::EventType, 100))
                .col(string_len(D::State, 16))
                .col(integer(D::Attempts))
                .col(integer_null(D::LastStatus))
                .col(text_null(D::LastError))
                .col(at_null(D::NextAttemptAt))
                .col(at(D::CreatedAt))
                .col(at(D::UpdatedAt))
                .foreign_key(
                    references(D::Table, D::MessageId, M::Table, M::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    references(D::Table, D::EndpointId, E::Table, E::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "idx_faena_webhook_deliveries_message_endpoint",
                D::Table,
                [D::MessageId, D::EndpointId],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        // An endpoint's deliveries, newest first.
        m.create_index(index(
            "idx_faena_webhook_deliveries_endpoint_id",
            D::Table,
            [D::EndpointId, D::Id],
        ))
        .await?;

        use FaenaWebhookAttempts as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .col(pk_uuid(A::Id))
                .col(uuid(A::DeliveryId))
                .col(integer(A::Attempt))
                .col(at(A::StartedAt))
                .col(big_integer(A::DurationMs))
                .col(integer_null(A::StatusCode))
                .col(text_null(A::ResponseExcerpt))
                .col(text_null(A::Error))
                .foreign_key(
                    references(A::Table, A::DeliveryId, D::Table, D::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_faena_webhook_attempts_delivery",
            A::Table,
            [A::DeliveryId, A::Attempt],
        ))
        .await?;

        use FaenaWebhookInbound as I;
        m.create_table(
            Table::create()
                .table(I::Table)
                .col(pk_uuid(I::Id))
                .col(string_len(I::Source, 64))
                .col(string_len(I::MessageId, 255))
                .col(at(I::SignedAt))
                .col(at(I::ReceivedAt))
                .col(text(I::Body))
                .col(string_len(I::State, 16))
                .col(at_null(I::ProcessedAt))
                .col(text_null(I::Error))
                .to_owned(),
        )
        .await?;
        // A sender's retry of a message it already delivered is stored once.
        m.create_index(
            index(
                "idx_faena_webhook_inbound_source_message",
                I::Table,
                [I::Source, I::MessageId],
            )
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
