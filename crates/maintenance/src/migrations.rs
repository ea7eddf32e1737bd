//! Maintenance tables: machines and their maintenance records.

use faena_platform::schema::*;
use sea_orm_migration::prelude::*;

pub fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(CreateMachines)]
}

struct CreateMachines;

impl MigrationName for CreateMachines {
    fn name(&self) -> &str {
        "m20261210_300001_maintenance_machines_create"
    }
}

#[derive(DeriveIden)]
enum MntMachines {
    Table,
    Id,
    Code,
    CodeKey,
    Name,
    Kind,
    KindKey,
    Lab,
    LabKey,
    Brand,
    Model,
    Serial,
    Status,
    AcquiredOn,
    ResponsibleId,
    Criticality,
    Attributes,
    Notes,
    ReportToken,
    SearchText,
    SortKey,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum MntRecords {
    Table,
    Id,
    MachineId,
    Kind,
    PerformedAt,
    TechnicianId,
    TechnicianName,
    Description,
    DurationMinutes,
    CostClp,
    Parts,
    Details,
    Outcome,
    NextDueOn,
    CorrectsId,
    SignedOffAt,
    SignedOffBy,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// A column compared byte by byte on both databases (sort keys).
fn bytewise(m: &SchemaManager, mut column: ColumnDef) -> ColumnDef {
    if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        column.extra("COLLATE \"C\"");
    }
    column
}

#[async_trait::async_trait]
impl MigrationTrait for CreateMachines {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MntMachines::Table)
                .col(pk_uuid(MntMachines::Id))
                .col(string_len(MntMachines::Code, 40))
                .col(string_len(MntMachines::CodeKey, 40).unique_key())
                .col(string_len(MntMachines::Name, 200))
                .col(string_len_null(MntMachines::Kind, 100))
                .col(string_len_null(MntMachines::KindKey, 100))
                .col(string_len_null(MntMachines::Lab, 100))
                .col(string_len_null(MntMachines::LabKey, 100))
                .col(string_len_null(MntMachines::Brand, 100))
                .col(string_len_null(MntMachines::Model, 100))
                .col(string_len_null(MntMachines::Serial, 100))
                .col(string_len(MntMachines::Status, 20))
                .col(date_null(MntMachines::AcquiredOn))
                .col(uuid_null(MntMachines::ResponsibleId))
                .col(string_len(MntMachines::Criticality, 10))
                .col(text(MntMachines::Attributes))
                .col(text_null(MntMachines::Notes))
                .col(string_len(MntMachines::ReportToken, 64).unique_key())
                .col(text(MntMachines::SearchText))
                .col(bytewise(m, string_len(MntMachines::SortKey, 400)))
                .col(timestamp_with_time_zone(MntMachines::CreatedAt))
                .col(timestamp_with_time_zone(MntMachines::UpdatedAt))
                .col(integer(MntMachines::Version))
                .foreign_key(
                    references(
                        MntMachines::Table,
                        MntMachines::ResponsibleId,
                        Users::Table,
                        Users::Id,
                    )
                    .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        for (name, column) in [
            ("idx_mnt_machines_sort_key", MntMachines::SortKey),
            ("idx_mnt_machines_status", MntMachines::Status),
            ("idx_mnt_machines_lab_key", MntMachines::LabKey),
        ] {
            m.create_index(index(name, MntMachines::Table, [column]))
                .await?;
        }

        m.create_table(
            Table::create()
                .table(MntRecords::Table)
                .col(pk_uuid(MntRecords::Id))
                .col(uuid(MntRecords::MachineId))
                .col(string_len(MntRecords::Kind, 20))
                .col(timestamp_with_time_zone(MntRecords::PerformedAt))
                .col(uuid_null(MntRecords::TechnicianId))
                .col(string_len(MntRecords::TechnicianName, 200))
                .col(text(MntRecords::Description))
                .col(integer_null(MntRecords::DurationMinutes))
                .col(big_integer(MntRecords::CostClp))
                .col(text(MntRecords::Parts))
                .col(text(MntRecords::Details))
                .col(string_len(MntRecords::Outcome, 20))
                .col(date_null(MntRecords::NextDueOn))
                .col(uuid_null(MntRecords::CorrectsId))
                .col(timestamp_with_time_zone_null(MntRecords::SignedOffAt))
                .col(string_len_null(MntRecords::SignedOffBy, 320))
                .col(string_len(MntRecords::CreatedBy, 320))
                .col(timestamp_with_time_zone(MntRecords::CreatedAt))
                .col(timestamp_with_time_zone(MntRecords::UpdatedAt))
                .col(integer(MntRecords::Version))
                .foreign_key(
                    references(
                        MntRecords::Table,
                        MntRecords::MachineId,
                        MntMachines::Table,
                        MntMachines::Id,
                    )
                    .on_delete(ForeignKeyAction::Restrict),
                )
                .foreign_key(
                    references(
                        MntRecords::Table,
                        MntRecords::TechnicianId,
                        Users::Table,
                        Users::Id,
                    )
                    .on_delete(ForeignKeyAction::SetNull),
                )
                .foreign_key(
                    references(
                        MntRecords::Table,
                        MntRecords::CorrectsId,
                        MntRecords::Table,
                        MntRecords::Id,
                    )
                    .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_mnt_records_machine",
            MntRecords::Table,
            [MntRecords::MachineId, MntRecords::PerformedAt],
        ))
        .await?;
        m.create_index(index(
            "idx_mnt_records_performed_at",
            MntRecords::Table,
            [MntRecords::PerformedAt],
        ))
        .await?;
        // One correction per record: a second would fork the trail.
        m.create_index(
            index(
                "idx_mnt_records_corrects",
                MntRecords::Table,
                [MntRecords::CorrectsId],
            )
            .unique()
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MntRecords::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(MntMachines::Table).to_owned())
            .await
    }
}
