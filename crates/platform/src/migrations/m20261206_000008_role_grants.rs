//! Which modules' default grants have been given to which built-in roles,
//! so a module installed later adds its grants once, and a grant an admin
//! took away is never given back.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RoleGrantsApplied {
    Table,
    Module,
    Role,
    AppliedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RoleGrantsApplied::Table)
                .col(string_len(RoleGrantsApplied::Module, 64))
                .col(string_len(RoleGrantsApplied::Role, 64))
                .col(timestamp_with_time_zone(RoleGrantsApplied::AppliedAt))
                .primary_key(
                    Index::create()
                        .col(RoleGrantsApplied::Module)
                        .col(RoleGrantsApplied::Role),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RoleGrantsApplied::Table).to_owned())
            .await
    }
}
