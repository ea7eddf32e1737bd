//! Which modules' default grants have been given to which built-in roles,
//! so a module installed later adds its grants once, and a grant an admin
//! took away is never given back.

use sea_orm_migration::prelude::*;

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
                .col(
                    ColumnDef::new(RoleGrantsApplied::Module)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RoleGrantsApplied::Role)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RoleGrantsApplied::AppliedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
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
