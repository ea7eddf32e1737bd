//! Files attached to records, and their versions (see `files`).

use crate::schema::*;
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
        m.create_table(
            Table::create()
                .table(FaenaFiles::Table)
                .col(pk_uuid(FaenaFiles::Id))
                .col(string_len(FaenaFiles::OwnerKind, 64))
                .col(string_len(FaenaFiles::OwnerId, 100))
                .col(string_len(FaenaFiles::Name, 255))
                .col(integer(FaenaFiles::CurrentVersion))
                .col(string_len(FaenaFiles::CreatedBy, 320))
                .col(timestamp_with_time_zone(FaenaFiles::CreatedAt))
                .col(timestamp_with_time_zone(FaenaFiles::UpdatedAt))
                .col(timestamp_with_time_zone_null(FaenaFiles::DeletedAt))
                .to_owned(),
        )
        .await?;
        // A record's attachments, newest first.
        m.create_index(index(
            "idx_faena_files_owner",
            FaenaFiles::Table,
            [FaenaFiles::OwnerKind, FaenaFiles::OwnerId, FaenaFiles::Id],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(FaenaFileVersions::Table)
                .col(pk_uuid(FaenaFileVersions::Id))
                .col(uuid(FaenaFileVersions::FileId))
                .col(integer(FaenaFileVersions::Version))
                .col(string_len(FaenaFileVersions::Name, 255))
                .col(string_len(FaenaFileVersions::ContentType, 128))
                .col(big_integer(FaenaFileVersions::Size))
                .col(string_len(FaenaFileVersions::Sha256, 64))
                .col(string_len(FaenaFileVersions::StorageKey, 255))
                .col(string_len(FaenaFileVersions::Thumbnail, 16))
                .col(string_len_null(FaenaFileVersions::ThumbnailKey, 255))
                .col(string_len(FaenaFileVersions::CreatedBy, 320))
                .col(timestamp_with_time_zone(FaenaFileVersions::CreatedAt))
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
            index(
                "idx_faena_file_versions_file_version",
                FaenaFileVersions::Table,
                [FaenaFileVersions::FileId, FaenaFileVersions::Version],
            )
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
