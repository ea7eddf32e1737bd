//! Users, roles, sessions, refresh tokens, API keys, login failures and the
//! audit log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Roles {
    Table,
    Name,
    Description,
    Builtin,
    Permissions,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailKey,
    Name,
    Role,
    Active,
    Locale,
    PasswordHash,
    LastSeenAt,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdHash,
    UserId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    Ip,
    UserAgent,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    FamilyId,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Prefix,
    KeyHash,
    Permissions,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Id,
    EmailKey,
    Ip,
    At,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorId,
    Actor,
    Action,
    Entity,
    EntityId,
    Ip,
    RequestId,
    Before,
    After,
    ContentHash,
    Seq,
    ChainHash,
}

#[derive(DeriveIden)]
enum AuditAnchor {
    Table,
    Id,
    Seq,
    ChainHash,
    ArchivedAt,
    ArchiveFile,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

fn ts_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Roles::Table)
                .col(
                    ColumnDef::new(Roles::Name)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Roles::Description).text().not_null())
                .col(ColumnDef::new(Roles::Builtin).boolean().not_null())
                .col(ColumnDef::new(Roles::Permissions).text().not_null())
                .col(ts(Roles::CreatedAt))
                .col(ts(Roles::UpdatedAt))
                .col(ColumnDef::new(Roles::Version).integer().not_null())
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Users::Email).string_len(254).not_null())
                .col(
                    ColumnDef::new(Users::EmailKey)
                        .string_len(254)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Users::Name).string_len(200).not_null())
                .col(ColumnDef::new(Users::Role).string_len(64).not_null())
                .col(ColumnDef::new(Users::Active).boolean().not_null())
                .col(ColumnDef::new(Users::Locale).string_len(8).not_null())
                .col(ColumnDef::new(Users::PasswordHash).text().not_null())
                .col(ts_null(Users::LastSeenAt))
                .col(ts(Users::CreatedAt))
                .col(ts(Users::UpdatedAt))
                .col(ColumnDef::new(Users::Version).integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Users::Table, Users::Role)
                        .to(Roles::Table, Roles::Name)
                        .on_update(ForeignKeyAction::Cascade)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_users_last_seen_at")
                .table(Users::Table)
                .col(Users::LastSeenAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(
                    ColumnDef::new(Sessions::IdHash)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
                .col(ts(Sessions::CreatedAt))
                .col(ts(Sessions::LastSeenAt))
                .col(ts(Sessions::ExpiresAt))
                .col(ColumnDef::new(Sessions::Ip).string_len(64).null())
                .col(ColumnDef::new(Sessions::UserAgent).string_len(512).null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Sessions::Table, Sessions::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sessions_user_id")
                .table(Sessions::Table)
                .col(Sessions::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(
                    ColumnDef::new(RefreshTokens::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(RefreshTokens::FamilyId).uuid().not_null())
                .col(ColumnDef::new(RefreshTokens::UserId).uuid().not_null())
                .col(
                    ColumnDef::new(RefreshTokens::TokenHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(ts(RefreshTokens::CreatedAt))
                .col(ts(RefreshTokens::ExpiresAt))
                .col(ts_null(RefreshTokens::UsedAt))
                .col(ts_null(RefreshTokens::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshTokens::Table, RefreshTokens::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refresh_tokens_family_id")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::FamilyId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(ColumnDef::new(ApiKeys::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(ApiKeys::Name).string_len(100).not_null())
                .col(ColumnDef::new(ApiKeys::Prefix).string_len(16).not_null())
                .col(
                    ColumnDef::new(ApiKeys::KeyHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(ApiKeys::Permissions).text().not_null())
                .col(ColumnDef::new(ApiKeys::CreatedBy).uuid().null())
                .col(ts(ApiKeys::CreatedAt))
                .col(ts_null(ApiKeys::LastUsedAt))
                .col(ts_null(ApiKeys::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeys::Table, ApiKeys::CreatedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoginFailures::Table)
                .col(
                    ColumnDef::new(LoginFailures::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(LoginFailures::EmailKey)
                        .string_len(254)
                        .not_null(),
                )
                .col(ColumnDef::new(LoginFailures::Ip).string_len(64).null())
                .col(ts(LoginFailures::At))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_login_failures_email_at")
                .table(LoginFailures::Table)
                .col(LoginFailures::EmailKey)
                .col(LoginFailures::At)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_login_failures_ip_at")
                .table(LoginFailures::Table)
                .col(LoginFailures::Ip)
                .col(LoginFailures::At)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(ColumnDef::new(AuditLog::Id).uuid().not_null().primary_key())
                .col(ts(AuditLog::At))
                .col(ColumnDef::new(AuditLog::ActorId).string_len(64).null())
                .col(ColumnDef::new(AuditLog::Actor).string_len(300).not_null())
                .col(ColumnDef::new(AuditLog::Action).string_len(64).not_null())
                .col(ColumnDef::new(AuditLog::Entity).string_len(64).not_null())
                .col(ColumnDef::new(AuditLog::EntityId).string_len(128).null())
                .col(ColumnDef::new(AuditLog::Ip).string_len(64).null())
                .col(ColumnDef::new(AuditLog::RequestId).string_len(128).null())
                .col(ColumnDef::new(AuditLog::Before).text().null())
                .col(ColumnDef::new(AuditLog::After).text().null())
                .col(
                    ColumnDef::new(AuditLog::ContentHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuditLog::Seq)
                        .big_integer()
                        .null()
                        .unique_key(),
                )
                .col(ColumnDef::new(AuditLog::ChainHash).string_len(64).null())
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "idx_audit_log_entity",
                vec![AuditLog::Entity, AuditLog::EntityId],
            ),
            ("idx_audit_log_actor", vec![AuditLog::ActorId]),
            ("idx_audit_log_at", vec![AuditLog::At]),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditLog::Table);
            for col in cols {
                index.col(col);
            }
            m.create_index(index.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(AuditAnchor::Table)
                .col(
                    ColumnDef::new(AuditAnchor::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(AuditAnchor::Seq).big_integer().not_null())
                .col(
                    ColumnDef::new(AuditAnchor::ChainHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(ts(AuditAnchor::ArchivedAt))
                .col(ColumnDef::new(AuditAnchor::ArchiveFile).text().not_null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditAnchor::Table.into_iden(),
            AuditLog::Table.into_iden(),
            LoginFailures::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
            Roles::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
