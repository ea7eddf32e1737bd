//! Users, roles, sessions, refresh tokens, API keys, login failures and the
//! audit log.

use crate::schema::*;
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Roles::Table)
                .col(string_len(Roles::Name, 64).primary_key())
                .col(text(Roles::Description))
                .col(boolean(Roles::Builtin))
                .col(text(Roles::Permissions))
                .col(timestamp_with_time_zone(Roles::CreatedAt))
                .col(timestamp_with_time_zone(Roles::UpdatedAt))
                .col(integer(Roles::Version))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(pk_uuid(Users::Id))
                .col(string_len(Users::Email, 254))
                .col(string_len(Users::EmailKey, 254).unique_key())
                .col(string_len(Users::Name, 200))
                .col(string_len(Users::Role, 64))
                .col(boolean(Users::Active))
                .col(string_len(Users::Locale, 8))
                .col(text(Users::PasswordHash))
                .col(timestamp_with_time_zone_null(Users::LastSeenAt))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .col(integer(Users::Version))
                .foreign_key(
                    references(Users::Table, Users::Role, Roles::Table, Roles::Name)
                        .on_update(ForeignKeyAction::Cascade)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_users_last_seen_at",
            Users::Table,
            [Users::LastSeenAt],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(string_len(Sessions::IdHash, 64).primary_key())
                .col(uuid(Sessions::UserId))
                .col(timestamp_with_time_zone(Sessions::CreatedAt))
                .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                .col(string_len_null(Sessions::Ip, 64))
                .col(string_len_null(Sessions::UserAgent, 512))
                .foreign_key(
                    references(Sessions::Table, Sessions::UserId, Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_sessions_user_id",
            Sessions::Table,
            [Sessions::UserId],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(pk_uuid(RefreshTokens::Id))
                .col(uuid(RefreshTokens::FamilyId))
                .col(uuid(RefreshTokens::UserId))
                .col(string_len(RefreshTokens::TokenHash, 64).unique_key())
                .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                .foreign_key(
                    references(
                        RefreshTokens::Table,
                        RefreshTokens::UserId,
                        Users::Table,
                        Users::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_refresh_tokens_family_id",
            RefreshTokens::Table,
            [RefreshTokens::FamilyId],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(pk_uuid(ApiKeys::Id))
                .col(string_len(ApiKeys::Name, 100))
                .col(string_len(ApiKeys::Prefix, 16))
                .col(string_len(ApiKeys::KeyHash, 64).unique_key())
                .col(text(ApiKeys::Permissions))
                .col(uuid_null(ApiKeys::CreatedBy))
                .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                .foreign_key(
                    references(ApiKeys::Table, ApiKeys::CreatedBy, Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoginFailures::Table)
                .col(pk_uuid(LoginFailures::Id))
                .col(string_len(LoginFailures::EmailKey, 254))
                .col(string_len_null(LoginFailures::Ip, 64))
                .col(timestamp_with_time_zone(LoginFailures::At))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_login_failures_email_at",
            LoginFailures::Table,
            [LoginFailures::EmailKey, LoginFailures::At],
        ))
        .await?;
        m.create_index(index(
            "idx_login_failures_ip_at",
            LoginFailures::Table,
            [LoginFailures::Ip, LoginFailures::At],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(pk_uuid(AuditLog::Id))
                .col(timestamp_with_time_zone(AuditLog::At))
                .col(string_len_null(AuditLog::ActorId, 64))
                .col(string_len(AuditLog::Actor, 300))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len(AuditLog::Entity, 64))
                .col(string_len_null(AuditLog::EntityId, 128))
                .col(string_len_null(AuditLog::Ip, 64))
                .col(string_len_null(AuditLog::RequestId, 128))
                .col(text_null(AuditLog::Before))
                .col(text_null(AuditLog::After))
                .col(string_len(AuditLog::ContentHash, 64))
                .col(big_integer_null(AuditLog::Seq).unique_key())
                .col(string_len_null(AuditLog::ChainHash, 64))
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
                .col(integer(AuditAnchor::Id).primary_key())
                .col(big_integer(AuditAnchor::Seq))
                .col(string_len(AuditAnchor::ChainHash, 64))
                .col(timestamp_with_time_zone(AuditAnchor::ArchivedAt))
                .col(text(AuditAnchor::ArchiveFile))
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
