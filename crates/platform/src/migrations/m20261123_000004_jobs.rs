//! The durable job queue and its schedules (see `jobs`).

use crate::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FaenaJobs {
    Table,
    Id,
    Kind,
    Payload,
    State,
    Attempts,
    MaxAttempts,
    RunAt,
    LeaseUntil,
    Worker,
    DedupKey,
    DedupActive,
    ProgressDone,
    ProgressTotal,
    ProgressMessage,
    LastError,
    CancelRequested,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum FaenaJobSchedules {
    Table,
    Name,
    NextRunAt,
    LastRunAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(FaenaJobs::Table)
                .col(pk_uuid(FaenaJobs::Id))
                .col(string_len(FaenaJobs::Kind, 100))
                .col(text(FaenaJobs::Payload))
                .col(string_len(FaenaJobs::State, 16))
                .col(integer(FaenaJobs::Attempts))
                .col(integer(FaenaJobs::MaxAttempts))
                .col(timestamp_with_time_zone(FaenaJobs::RunAt))
                .col(timestamp_with_time_zone_null(FaenaJobs::LeaseUntil))
                .col(string_len_null(FaenaJobs::Worker, 200))
                .col(string_len_null(FaenaJobs::DedupKey, 200))
                .col(string_len_null(FaenaJobs::DedupActive, 200))
                .col(big_integer_null(FaenaJobs::ProgressDone))
                .col(big_integer_null(FaenaJobs::ProgressTotal))
                .col(text_null(FaenaJobs::ProgressMessage))
                .col(text_null(FaenaJobs::LastError))
                .col(boolean(FaenaJobs::CancelRequested).default(false))
                .col(timestamp_with_time_zone(FaenaJobs::CreatedAt))
                .col(timestamp_with_time_zone(FaenaJobs::UpdatedAt))
                .col(timestamp_with_time_zone_null(FaenaJobs::StartedAt))
                .col(timestamp_with_time_zone_null(FaenaJobs::FinishedAt))
                .to_owned(),
        )
        .await?;
        // What a worker asks: the next due job in a given state.
        m.create_index(index(
            "idx_faena_jobs_state_run_at",
            FaenaJobs::Table,
            [FaenaJobs::State, FaenaJobs::RunAt],
        ))
        .await?;
        // At most one live job per (kind, deduplication key): the key is
        // copied into `dedup_active` while the job can still run and cleared
        // when it ends (NULLs never collide).
        m.create_index(
            index(
                "idx_faena_jobs_dedup_active",
                FaenaJobs::Table,
                [FaenaJobs::Kind, FaenaJobs::DedupActive],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_faena_jobs_kind_created",
            FaenaJobs::Table,
            [FaenaJobs::Kind, FaenaJobs::CreatedAt],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(FaenaJobSchedules::Table)
                .col(string_len(FaenaJobSchedules::Name, 100).primary_key())
                .col(timestamp_with_time_zone(FaenaJobSchedules::NextRunAt))
                .col(timestamp_with_time_zone_null(FaenaJobSchedules::LastRunAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FaenaJobSchedules::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(FaenaJobs::Table).to_owned())
            .await
    }
}
