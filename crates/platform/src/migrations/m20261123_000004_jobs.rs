//! The durable job queue and its schedules (see `jobs`).

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
                .col(
                    ColumnDef::new(FaenaJobs::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(FaenaJobs::Kind).string_len(100).not_null())
                .col(ColumnDef::new(FaenaJobs::Payload).text().not_null())
                .col(ColumnDef::new(FaenaJobs::State).string_len(16).not_null())
                .col(ColumnDef::new(FaenaJobs::Attempts).integer().not_null())
                .col(ColumnDef::new(FaenaJobs::MaxAttempts).integer().not_null())
                .col(
                    ColumnDef::new(FaenaJobs::RunAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaJobs::LeaseUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(FaenaJobs::Worker).string_len(200).null())
                .col(ColumnDef::new(FaenaJobs::DedupKey).string_len(200).null())
                .col(
                    ColumnDef::new(FaenaJobs::DedupActive)
                        .string_len(200)
                        .null(),
                )
                .col(ColumnDef::new(FaenaJobs::ProgressDone).big_integer().null())
                .col(
                    ColumnDef::new(FaenaJobs::ProgressTotal)
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(FaenaJobs::ProgressMessage).text().null())
                .col(ColumnDef::new(FaenaJobs::LastError).text().null())
                .col(
                    ColumnDef::new(FaenaJobs::CancelRequested)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(
                    ColumnDef::new(FaenaJobs::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaJobs::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaJobs::StartedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(FaenaJobs::FinishedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        // What a worker asks: the next due job in a given state.
        m.create_index(
            Index::create()
                .name("idx_faena_jobs_state_run_at")
                .table(FaenaJobs::Table)
                .col(FaenaJobs::State)
                .col(FaenaJobs::RunAt)
                .to_owned(),
        )
        .await?;
        // At most one live job per (kind, deduplication key): the key is
        // copied into `dedup_active` while the job can still run and cleared
        // when it ends (NULLs never collide).
        m.create_index(
            Index::create()
                .name("idx_faena_jobs_dedup_active")
                .table(FaenaJobs::Table)
                .col(FaenaJobs::Kind)
                .col(FaenaJobs::DedupActive)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_faena_jobs_kind_created")
                .table(FaenaJobs::Table)
                .col(FaenaJobs::Kind)
                .col(FaenaJobs::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(FaenaJobSchedules::Table)
                .col(
                    ColumnDef::new(FaenaJobSchedules::Name)
                        .string_len(100)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(FaenaJobSchedules::NextRunAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FaenaJobSchedules::LastRunAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
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
