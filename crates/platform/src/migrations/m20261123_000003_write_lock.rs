//! A one-row table whose only use is to take SQLite's write lock at the
//! start of a write transaction (see `db::begin_write`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FaenaWriteLock {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(FaenaWriteLock::Table)
                .col(integer(FaenaWriteLock::Id).primary_key())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FaenaWriteLock::Table).to_owned())
            .await
    }
}
