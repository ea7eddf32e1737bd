//! Maintenance tables: machines and their maintenance records.

use faena_platform::schema::*;
use sea_orm_migration::prelude::*;

pub fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(CreateMachines),
        Box::new(CreatePlans),
        Box::new(CreateRequests),
        Box::new(AddRecordTotals),
    ]
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

/// Plans, the work orders they open, and meter readings; a record knows
/// the work order it closed.
struct CreatePlans;

impl MigrationName for CreatePlans {
    fn name(&self) -> &str {
        "m20261210_300002_maintenance_plans"
    }
}

#[derive(DeriveIden)]
enum MntPlans {
    Table,
    Id,
    MachineId,
    Title,
    Kind,
    IntervalCount,
    IntervalUnit,
    Meter,
    MeterEvery,
    LeadDays,
    Checklist,
    NextDueOn,
    NextDueReading,
    Active,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum MntWorkOrders {
    Table,
    Id,
    MachineId,
    PlanId,
    Kind,
    Title,
    DueOn,
    Status,
    RecordId,
    RemindedAt,
    OverdueNotifiedAt,
    CreatedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum MntMeterReadings {
    Table,
    Id,
    MachineId,
    Meter,
    Value,
    ReadAt,
    RecordedBy,
}

#[derive(DeriveIden)]
enum WorkOrderId {
    WorkOrderId,
}

#[async_trait::async_trait]
impl MigrationTrait for CreatePlans {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MntPlans::Table)
                .col(pk_uuid(MntPlans::Id))
                .col(uuid(MntPlans::MachineId))
                .col(string_len(MntPlans::Title, 200))
                .col(string_len(MntPlans::Kind, 20))
                .col(integer_null(MntPlans::IntervalCount))
                .col(string_len_null(MntPlans::IntervalUnit, 10))
                .col(string_len_null(MntPlans::Meter, 40))
                .col(big_integer_null(MntPlans::MeterEvery))
                .col(integer(MntPlans::LeadDays))
                .col(text(MntPlans::Checklist))
                .col(date_null(MntPlans::NextDueOn))
                .col(big_integer_null(MntPlans::NextDueReading))
                .col(boolean(MntPlans::Active))
                .col(timestamp_with_time_zone(MntPlans::CreatedAt))
                .col(timestamp_with_time_zone(MntPlans::UpdatedAt))
                .col(integer(MntPlans::Version))
                .foreign_key(
                    references(
                        MntPlans::Table,
                        MntPlans::MachineId,
                        MntMachines::Table,
                        MntMachines::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_mnt_plans_machine",
            MntPlans::Table,
            [MntPlans::MachineId],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MntWorkOrders::Table)
                .col(pk_uuid(MntWorkOrders::Id))
                .col(uuid(MntWorkOrders::MachineId))
                .col(uuid_null(MntWorkOrders::PlanId))
                .col(string_len(MntWorkOrders::Kind, 20))
                .col(string_len(MntWorkOrders::Title, 200))
                .col(date(MntWorkOrders::DueOn))
                .col(string_len(MntWorkOrders::Status, 12))
                .col(uuid_null(MntWorkOrders::RecordId))
                .col(timestamp_with_time_zone_null(MntWorkOrders::RemindedAt))
                .col(timestamp_with_time_zone_null(
                    MntWorkOrders::OverdueNotifiedAt,
                ))
                .col(timestamp_with_time_zone(MntWorkOrders::CreatedAt))
                .col(timestamp_with_time_zone_null(MntWorkOrders::ClosedAt))
                .foreign_key(
                    references(
                        MntWorkOrders::Table,
                        MntWorkOrders::MachineId,
                        MntMachines::Table,
                        MntMachines::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    references(
                        MntWorkOrders::Table,
                        MntWorkOrders::PlanId,
                        MntPlans::Table,
                        MntPlans::Id,
                    )
                    .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        // One work order per plan and due day: two workers running the
        // schedule at once make it once.
        m.create_index(
            index(
                "idx_mnt_work_orders_plan_due",
                MntWorkOrders::Table,
                [MntWorkOrders::PlanId, MntWorkOrders::DueOn],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_mnt_work_orders_open",
            MntWorkOrders::Table,
            [MntWorkOrders::Status, MntWorkOrders::DueOn],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MntMeterReadings::Table)
                .col(pk_uuid(MntMeterReadings::Id))
                .col(uuid(MntMeterReadings::MachineId))
                .col(string_len(MntMeterReadings::Meter, 40))
                .col(big_integer(MntMeterReadings::Value))
                .col(timestamp_with_time_zone(MntMeterReadings::ReadAt))
                .col(string_len(MntMeterReadings::RecordedBy, 320))
                .foreign_key(
                    references(
                        MntMeterReadings::Table,
                        MntMeterReadings::MachineId,
                        MntMachines::Table,
                        MntMachines::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_mnt_meter_readings_machine",
            MntMeterReadings::Table,
            [MntMeterReadings::MachineId, MntMeterReadings::Meter],
        ))
        .await?;

        m.alter_table(
            Table::alter()
                .table(MntRecords::Table)
                .add_column(uuid_null(WorkOrderId::WorkOrderId))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(MntRecords::Table)
                .drop_column(WorkOrderId::WorkOrderId)
                .to_owned(),
        )
        .await?;
        for table in [
            MntMeterReadings::Table.into_iden(),
            MntWorkOrders::Table.into_iden(),
            MntPlans::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Failure reports sent from the machines' QR labels.
struct CreateRequests;

impl MigrationName for CreateRequests {
    fn name(&self) -> &str {
        "m20261210_300003_maintenance_requests"
    }
}

#[derive(DeriveIden)]
enum MntRequests {
    Table,
    Id,
    MachineId,
    Description,
    ReporterName,
    ReporterContact,
    PhotoFileId,
    Status,
    RejectReason,
    WorkOrderId,
    Ip,
    CreatedAt,
    ReviewedBy,
    ReviewedAt,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateRequests {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MntRequests::Table)
                .col(pk_uuid(MntRequests::Id))
                .col(uuid(MntRequests::MachineId))
                .col(text(MntRequests::Description))
                .col(string_len_null(MntRequests::ReporterName, 200))
                .col(string_len_null(MntRequests::ReporterContact, 200))
                .col(uuid_null(MntRequests::PhotoFileId))
                .col(string_len(MntRequests::Status, 12))
                .col(text_null(MntRequests::RejectReason))
                .col(uuid_null(MntRequests::WorkOrderId))
                .col(string_len_null(MntRequests::Ip, 64))
                .col(timestamp_with_time_zone(MntRequests::CreatedAt))
                .col(string_len_null(MntRequests::ReviewedBy, 320))
                .col(timestamp_with_time_zone_null(MntRequests::ReviewedAt))
                .col(integer(MntRequests::Version))
                .foreign_key(
                    references(
                        MntRequests::Table,
                        MntRequests::MachineId,
                        MntMachines::Table,
                        MntMachines::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "idx_mnt_requests_status",
                vec![MntRequests::Status, MntRequests::CreatedAt],
            ),
            (
                "idx_mnt_requests_machine",
                vec![MntRequests::MachineId, MntRequests::CreatedAt],
            ),
            (
                "idx_mnt_requests_ip",
                vec![MntRequests::Ip, MntRequests::CreatedAt],
            ),
        ] {
            m.create_index(index(name, MntRequests::Table, cols))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MntRequests::Table).to_owned())
            .await
    }
}

/// Each record's total cost (labour and other costs plus its parts) as a
/// column, so the report and the dashboard sum it in the database instead
/// of reading every record's parts; and the indexes those sums read
/// without touching the table: by period (the months), by machine (the
/// report, the labs), by kind (failures, the latest calibrations), and
/// open work by machine.
struct AddRecordTotals;

impl MigrationName for AddRecordTotals {
    fn name(&self) -> &str {
        "m20261214_300004_maintenance_records_totals_and_indexes"
    }
}

#[derive(DeriveIden)]
enum TotalCostClp {
    TotalCostClp,
}

/// The columns the sums read, after the ones they search by.
fn covering(
    name: &str,
    columns: impl IntoIterator<Item = DynIden>,
) -> sea_orm_migration::prelude::IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(MntRecords::Table);
    for c in columns {
        i.col(c);
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for AddRecordTotals {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use crate::records::store::{Column, Entity};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
        m.alter_table(
            Table::alter()
                .table(MntRecords::Table)
                .add_column(big_integer(TotalCostClp::TotalCostClp).default(0))
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared("UPDATE mnt_records SET total_cost_clp = cost_clp")
            .await?;
        // Records with parts: their cost is read the way the service
        // computes it.
        let rows: Vec<(uuid::Uuid, i64, String)> = Entity::find()
            .select_only()
            .columns([Column::Id, Column::CostClp, Column::Parts])
            .filter(Column::Parts.ne("[]"))
            .into_tuple()
            .all(db)
            .await?;
        for (id, cost, parts) in rows {
            let parts: Vec<crate::records::PartUsed> =
                serde_json::from_str(&parts).unwrap_or_default();
            let total = cost.saturating_add(crate::records::Record::parts_cost(&parts));
            Entity::update_many()
                .col_expr(Column::TotalCostClp, Expr::value(total))
                .filter(Column::Id.eq(id))
                .exec(db)
                .await?;
        }
        // A machine's history now with what the sums read (the report and
        // the labs' figures go machine by machine); the period index starts
        // with `performed_at`, so the old one would only cost writes.
        for old in ["idx_mnt_records_machine", "idx_mnt_records_performed_at"] {
            m.drop_index(Index::drop().name(old).table(MntRecords::Table).to_owned())
                .await?;
        }
        use MntRecords::{DurationMinutes, Kind, MachineId, PerformedAt};
        let sums = || {
            vec![
                Kind.into_iden(),
                TotalCostClp::TotalCostClp.into_iden(),
                DurationMinutes.into_iden(),
            ]
        };
        for (name, columns) in [
            (
                "idx_mnt_records_machine_sums",
                [vec![MachineId.into_iden(), PerformedAt.into_iden()], sums()].concat(),
            ),
            (
                "idx_mnt_records_period",
                [vec![PerformedAt.into_iden(), MachineId.into_iden()], sums()].concat(),
            ),
            (
                "idx_mnt_records_kind",
                vec![
                    Kind.into_iden(),
                    PerformedAt.into_iden(),
                    MachineId.into_iden(),
                    DurationMinutes.into_iden(),
                ],
            ),
        ] {
            m.create_index(covering(name, columns)).await?;
        }
        m.create_index(index(
            "idx_mnt_work_orders_machine",
            MntWorkOrders::Table,
            [MntWorkOrders::MachineId, MntWorkOrders::Status],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            (
                "idx_mnt_work_orders_machine",
                MntWorkOrders::Table.into_iden(),
            ),
            ("idx_mnt_records_kind", MntRecords::Table.into_iden()),
            ("idx_mnt_records_period", MntRecords::Table.into_iden()),
            (
                "idx_mnt_records_machine_sums",
                MntRecords::Table.into_iden(),
            ),
        ] {
            m.drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
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
        m.alter_table(
            Table::alter()
                .table(MntRecords::Table)
                .drop_column(TotalCostClp::TotalCostClp)
                .to_owned(),
        )
        .await
    }
}
