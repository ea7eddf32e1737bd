//! The mail outbox (see `mail`).

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
                .col(
                    ColumnDef::new(FaenaMail::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(FaenaMail::ToAddrs).text().not_null())
                .col(ColumnDef::new(FaenaMail::CcAddrs).text().not_null())
                .col(ColumnDef::new(FaenaMail::ReplyTo).string_len(320).null())
                .col(
                    ColumnDef::new(FaenaMail::Subject)
                        .string_len(998)
                        .not_null(),
                )
                .col(ColumnDef::new(FaenaMail::TextBody).text().not_null())
                .col(ColumnDef::new(FaenaMail::HtmlBody).text().null())
                .col(ColumnDef::new(FaenaMail::Attachments).text().null())
                .col(ColumnDef::new(FaenaMail::Template).string_len(100).null())
                .col(ColumnDef::new(FaenaMail::Locale).string_len(8).not_null())
                .col(
                    ColumnDef::new(FaenaMail::RelatedEntity)
                        .string_len(64)
                        .null(),
                )
                .col(ColumnDef::new(FaenaMail::RelatedId).string_len(100).null())
                .col(ColumnDef::new(FaenaMail::State).string_len(16).not_null())
                .col(ColumnDef::new(FaenaMail::Attempts).integer().not_null())
                .col(ColumnDef::new(FaenaMail::LastError).text().null())
                .col(ColumnDef::new(FaenaMail::Transport).string_len(16).null())
                .col(
                    ColumnDef::new(FaenaMail::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaMail::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaMail::SentAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        // The admin list by state, newest first.
        m.create_index(
            Index::create()
                .name("idx_faena_mail_state_id")
                .table(FaenaMail::Table)
                .col(FaenaMail::State)
                .col(FaenaMail::Id)
                .to_owned(),
        )
        .await?;
        // A record's page lists the mail about it.
        m.create_index(
            Index::create()
                .name("idx_faena_mail_related")
                .table(FaenaMail::Table)
                .col(FaenaMail::RelatedEntity)
                .col(FaenaMail::RelatedId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FaenaMail::Table).to_owned())
            .await
    }
}
