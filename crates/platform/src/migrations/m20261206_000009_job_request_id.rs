//! The request a job was enqueued by, so its log lines (and the mail or
//! webhook it sends) name that request's id.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FaenaJobs {
    Table,
    RequestId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(FaenaJobs::Table)
                .add_column(string_len_null(FaenaJobs::RequestId, 128))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(FaenaJobs::Table)
                .drop_column(FaenaJobs::RequestId)
                .to_owned(),
        )
        .await
    }
}
