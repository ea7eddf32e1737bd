//! The mail outbox (see `mail`).

use crate::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FaenaMail {
    Table,
    Id,
    ToAddrs,
    CcAddrs,
    ReplyTo,
    Subject,
    TextBody,
    HtmlBody,
    Attachments,
    Template,
    Locale,
    RelatedEntity,
    RelatedId,
    State,
    Attempts,
    LastError,
    Transport,
    CreatedAt,
    UpdatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(FaenaMail::Table)
                .col(pk_uuid(FaenaMail::Id))
                .col(text(FaenaMail::ToAddrs))
                .col(text(FaenaMail::CcAddrs))
                .col(string_len_null(FaenaMail::ReplyTo, 320))
                .col(string_len(FaenaMail::Subject, 998))
                .col(text(FaenaMail::TextBody))
                .col(text_null(FaenaMail::HtmlBody))
                .col(text_null(FaenaMail::Attachments))
                .col(string_len_null(FaenaMail::Template, 100))
                .col(string_len(FaenaMail::Locale, 8))
                .col(string_len_null(FaenaMail::RelatedEntity, 64))
                .col(string_len_null(FaenaMail::RelatedId, 100))
                .col(string_len(FaenaMail::State, 16))
                .col(integer(FaenaMail::Attempts))
                .col(text_null(FaenaMail::LastError))
                .col(string_len_null(FaenaMail::Transport, 16))
                .col(timestamp_with_time_zone(FaenaMail::CreatedAt))
                .col(timestamp_with_time_zone(FaenaMail::UpdatedAt))
                .col(timestamp_with_time_zone_null(FaenaMail::SentAt))
                .to_owned(),
        )
        .await?;
        // The admin list by state, newest first.
        m.create_index(index(
            "idx_faena_mail_state_id",
            FaenaMail::Table,
            [FaenaMail::State, FaenaMail::Id],
        ))
        .await?;
        // A record's page lists the mail about it.
        m.create_index(index(
            "idx_faena_mail_related",
            FaenaMail::Table,
            [FaenaMail::RelatedEntity, FaenaMail::RelatedId],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FaenaMail::Table).to_owned())
            .await
    }
}
