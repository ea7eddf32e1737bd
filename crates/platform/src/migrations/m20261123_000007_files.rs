//! Files attached to records, and their versions (see `files`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FaenaFiles {
    Table,
    Id,
    OwnerKind,
    OwnerId,
    Name,
    CurrentVersion,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum FaenaFileVersions {
    Table,
    Id,
    FileId,
    Version,
    Name,
    ContentType,
    Size,
    Sha256,
    StorageKey,
    Thumbnail,
    ThumbnailKey,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let ts = |c: FaenaFiles| ColumnDef::new(c).timestamp_with_time_zone().to_owned();
        m.create_table(
            Table::create()
                .table(FaenaFiles::Table)
                .col(
                    ColumnDef::new(FaenaFiles::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(FaenaFiles::OwnerKind)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFiles::OwnerId)
                        .string_len(100)
                        .not_null(),
                )
                .col(ColumnDef::new(FaenaFiles::Name).string_len(255).not_null())
                .col(
                    ColumnDef::new(FaenaFiles::CurrentVersion)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFiles::CreatedBy)
                        .string_len(320)
                        .not_null(),
                )
                .col(ts(FaenaFiles::CreatedAt).not_null())
                .col(ts(FaenaFiles::UpdatedAt).not_null())
                .col(ts(FaenaFiles::DeletedAt).null())
                .to_owned(),
        )
        .await?;
        // A record's attachments, newest first.
        m.create_index(
            Index::create()
                .name("idx_faena_files_owner")
                .table(FaenaFiles::Table)
                .col(FaenaFiles::OwnerKind)
                .col(FaenaFiles::OwnerId)
                .col(FaenaFiles::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(FaenaFileVersions::Table)
                .col(
                    ColumnDef::new(FaenaFileVersions::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(FaenaFileVersions::FileId).uuid().not_null())
                .col(
                    ColumnDef::new(FaenaFileVersions::Version)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFileVersions::Name)
                        .string_len(255)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFileVersions::ContentType)
                        .string_len(128)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFileVersions::Size)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFileVersions::Sha256)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFileVersions::StorageKey)
                        .string_len(255)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFileVersions::Thumbnail)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFileVersions::ThumbnailKey)
                        .string_len(255)
                        .null(),
                )
                .col(
                    ColumnDef::new(FaenaFileVersions::CreatedBy)
                        .string_len(320)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaFileVersions::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_faena_file_versions_file")
                        .from(FaenaFileVersions::Table, FaenaFileVersions::FileId)
                        .to(FaenaFiles::Table, FaenaFiles::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // One row per version number: two concurrent replacements cannot
        // both become version N.
        m.create_index(
            Index::create()
                .name("idx_faena_file_versions_file_version")
                .table(FaenaFileVersions::Table)
                .col(FaenaFileVersions::FileId)
                .col(FaenaFileVersions::Version)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FaenaFileVersions::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(FaenaFiles::Table).to_owned())
            .await
    }
}
