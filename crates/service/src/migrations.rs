//! Repair-shop tables: service orders, their estimate lines, their status
//! history, the per-year counter that numbers them, and technicians'
//! profiles; then (step 2) the customer's contact address and tracking
//! token on each order, and the estimate approval links; then (step 3)
//! the printers and the labels sent to them; then (step 4) the payment
//! recorded by the payments callback and when the ready reminder went.

use faena_platform::schema::*;
use sea_orm_migration::prelude::*;

pub fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(CreateOrders),
        Box::new(Notifications),
        Box::new(Printers),
        Box::new(Payments),
    ]
}

struct CreateOrders;

impl MigrationName for CreateOrders {
    fn name(&self) -> &str {
        "m20261208_300001_service_orders_create"
    }
}

#[derive(DeriveIden)]
enum ServiceOrders {
    Table,
    Id,
    Number,
    Year,
    ClientId,
    Status,
    Priority,
    DeviceType,
    Brand,
    Model,
    Serial,
    Accessories,
    ConditionNotes,
    ReportedFault,
    Diagnosis,
    PromisedDate,
    TechnicianId,
    WarrantyOf,
    CancelReason,
    NetClp,
    VatClp,
    TotalClp,
    SearchText,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum ServiceOrderLines {
    Table,
    Id,
    OrderId,
    Position,
    Kind,
    Description,
    Quantity,
    UnitPriceClp,
    DiscountPercent,
    NetClp,
}

#[derive(DeriveIden)]
enum ServiceOrderHistory {
    Table,
    Id,
    OrderId,
    FromStatus,
    ToStatus,
    Note,
    ActorId,
    Actor,
    At,
}

#[derive(DeriveIden)]
enum ServiceCounters {
    Table,
    Year,
    LastNumber,
}

#[derive(DeriveIden)]
enum ServiceTechnicians {
    Table,
    UserId,
    Specialties,
    Active,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOrders {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ServiceOrders::Table)
                .col(pk_uuid(ServiceOrders::Id))
                .col(string_len(ServiceOrders::Number, 20).unique_key())
                .col(integer(ServiceOrders::Year))
                .col(uuid(ServiceOrders::ClientId))
                .col(string_len(ServiceOrders::Status, 20))
                .col(string_len(ServiceOrders::Priority, 10))
                .col(string_len(ServiceOrders::DeviceType, 60))
                .col(string_len(ServiceOrders::Brand, 60))
                .col(string_len(ServiceOrders::Model, 80))
                .col(string_len_null(ServiceOrders::Serial, 60))
                .col(text_null(ServiceOrders::Accessories))
                .col(text_null(ServiceOrders::ConditionNotes))
                .col(text(ServiceOrders::ReportedFault))
                .col(text_null(ServiceOrders::Diagnosis))
                .col(date_null(ServiceOrders::PromisedDate))
                .col(uuid_null(ServiceOrders::TechnicianId))
                .col(string_len_null(ServiceOrders::WarrantyOf, 20))
                .col(text_null(ServiceOrders::CancelReason))
                .col(big_integer(ServiceOrders::NetClp))
                .col(big_integer(ServiceOrders::VatClp))
                .col(big_integer(ServiceOrders::TotalClp))
                .col(text(ServiceOrders::SearchText))
                .col(string_len(ServiceOrders::CreatedBy, 300))
                .col(timestamp_with_time_zone(ServiceOrders::CreatedAt))
                .col(timestamp_with_time_zone(ServiceOrders::UpdatedAt))
                .col(integer(ServiceOrders::Version))
                // A client with service orders cannot disappear underneath
                // them (the clients module also refuses, through the
                // reference counter).
                .foreign_key(
                    references(
                        ServiceOrders::Table,
                        ServiceOrders::ClientId,
                        Clients::Table,
                        Clients::Id,
                    )
                    .on_delete(ForeignKeyAction::Restrict),
                )
                .foreign_key(
                    references(
                        ServiceOrders::Table,
                        ServiceOrders::WarrantyOf,
                        ServiceOrders::Table,
                        ServiceOrders::Number,
                    )
                    .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "idx_service_orders_created",
                vec![ServiceOrders::CreatedAt, ServiceOrders::Id],
            ),
            (
                "idx_service_orders_status",
                vec![ServiceOrders::Status, ServiceOrders::CreatedAt],
            ),
            (
                "idx_service_orders_client",
                vec![ServiceOrders::ClientId, ServiceOrders::CreatedAt],
            ),
            (
                "idx_service_orders_technician",
                vec![ServiceOrders::TechnicianId, ServiceOrders::Status],
            ),
        ] {
            m.create_index(index(name, ServiceOrders::Table, cols))
                .await?;
        }

        m.create_table(
            Table::create()
                .table(ServiceOrderLines::Table)
                .col(pk_uuid(ServiceOrderLines::Id))
                .col(uuid(ServiceOrderLines::OrderId))
                .col(integer(ServiceOrderLines::Position))
                .col(string_len(ServiceOrderLines::Kind, 10))
                .col(string_len(ServiceOrderLines::Description, 300))
                .col(integer(ServiceOrderLines::Quantity))
                .col(big_integer(ServiceOrderLines::UnitPriceClp))
                .col(integer(ServiceOrderLines::DiscountPercent))
                .col(big_integer(ServiceOrderLines::NetClp))
                .foreign_key(
                    references(
                        ServiceOrderLines::Table,
                        ServiceOrderLines::OrderId,
                        ServiceOrders::Table,
                        ServiceOrders::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_service_order_lines_order",
            ServiceOrderLines::Table,
            [ServiceOrderLines::OrderId, ServiceOrderLines::Position],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ServiceOrderHistory::Table)
                .col(pk_uuid(ServiceOrderHistory::Id))
                .col(uuid(ServiceOrderHistory::OrderId))
                .col(string_len_null(ServiceOrderHistory::FromStatus, 20))
                .col(string_len(ServiceOrderHistory::ToStatus, 20))
                .col(text_null(ServiceOrderHistory::Note))
                .col(string_len_null(ServiceOrderHistory::ActorId, 64))
                .col(string_len(ServiceOrderHistory::Actor, 300))
                .col(timestamp_with_time_zone(ServiceOrderHistory::At))
                .foreign_key(
                    references(
                        ServiceOrderHistory::Table,
                        ServiceOrderHistory::OrderId,
                        ServiceOrders::Table,
                        ServiceOrders::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_service_order_history_order",
            ServiceOrderHistory::Table,
            [ServiceOrderHistory::OrderId, ServiceOrderHistory::At],
        ))
        .await?;

        // One row per year, created by the year's first intake
        // (`INSERT … ON CONFLICT DO UPDATE`): the row lock orders
        // concurrent intakes, and a rollback gives the number back.
        m.create_table(
            Table::create()
                .table(ServiceCounters::Table)
                .col(integer(ServiceCounters::Year).primary_key())
                .col(big_integer(ServiceCounters::LastNumber))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ServiceTechnicians::Table)
                .col(uuid(ServiceTechnicians::UserId).primary_key())
                // A JSON array of strings.
                .col(text(ServiceTechnicians::Specialties))
                .col(boolean(ServiceTechnicians::Active))
                .col(timestamp_with_time_zone(ServiceTechnicians::UpdatedAt))
                .col(integer(ServiceTechnicians::Version))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ServiceTechnicians::Table.into_iden(),
            ServiceCounters::Table.into_iden(),
            ServiceOrderHistory::Table.into_iden(),
            ServiceOrderLines::Table.into_iden(),
            ServiceOrders::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

struct Notifications;

impl MigrationName for Notifications {
    fn name(&self) -> &str {
        "m20261208_300002_service_notifications"
    }
}

#[derive(DeriveIden)]
enum Notified {
    #[sea_orm(iden = "service_orders")]
    Table,
    ContactEmail,
    TrackingToken,
}

#[derive(DeriveIden)]
enum ServiceApprovals {
    Table,
    Id,
    OrderId,
    TokenHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    /// Set when a newer link replaced this one.
    RevokedAt,
    UsedAt,
    Decision,
    SignerName,
    SignerIp,
}

#[async_trait::async_trait]
impl MigrationTrait for Notifications {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        m.alter_table(
            Table::alter()
                .table(Notified::Table)
                .add_column(string_len_null(Notified::ContactEmail, 254))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Notified::Table)
                .add_column(string_len_null(Notified::TrackingToken, 64))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "idx_service_orders_tracking",
                Notified::Table,
                [Notified::TrackingToken],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ServiceApprovals::Table)
                .col(pk_uuid(ServiceApprovals::Id))
                .col(uuid(ServiceApprovals::OrderId))
                // SHA-256 of the link's secret, hex: the secret itself is
                // only in the mail.
                .col(string_len(ServiceApprovals::TokenHash, 64).unique_key())
                .col(string_len(ServiceApprovals::CreatedBy, 300))
                .col(timestamp_with_time_zone(ServiceApprovals::CreatedAt))
                .col(timestamp_with_time_zone(ServiceApprovals::ExpiresAt))
                .col(timestamp_with_time_zone_null(ServiceApprovals::RevokedAt))
                .col(timestamp_with_time_zone_null(ServiceApprovals::UsedAt))
                .col(string_len_null(ServiceApprovals::Decision, 20))
                .col(string_len_null(ServiceApprovals::SignerName, 200))
                .col(string_len_null(ServiceApprovals::SignerIp, 64))
                .foreign_key(
                    references(
                        ServiceApprovals::Table,
                        ServiceApprovals::OrderId,
                        ServiceOrders::Table,
                        ServiceOrders::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_service_approvals_order",
            ServiceApprovals::Table,
            [ServiceApprovals::OrderId, ServiceApprovals::CreatedAt],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ServiceApprovals::Table).to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("idx_service_orders_tracking")
                .table(Notified::Table)
                .to_owned(),
        )
        .await?;
        for c in [Notified::TrackingToken, Notified::ContactEmail] {
            m.alter_table(
                Table::alter()
                    .table(Notified::Table)
                    .drop_column(c)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

struct Printers;

impl MigrationName for Printers {
    fn name(&self) -> &str {
        "m20261208_300003_service_printers"
    }
}

#[derive(DeriveIden)]
enum ServicePrinters {
    Table,
    Id,
    Name,
    Host,
    Port,
    Dpi,
    Active,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum ServicePrintJobs {
    Table,
    /// The platform job's id.
    Id,
    OrderId,
    PrinterId,
    PrinterName,
    Kind,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Printers {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ServicePrinters::Table)
                .col(pk_uuid(ServicePrinters::Id))
                .col(string_len(ServicePrinters::Name, 100).unique_key())
                .col(string_len(ServicePrinters::Host, 253))
                .col(integer(ServicePrinters::Port))
                .col(integer(ServicePrinters::Dpi))
                .col(boolean(ServicePrinters::Active))
                .col(timestamp_with_time_zone(ServicePrinters::CreatedAt))
                .col(timestamp_with_time_zone(ServicePrinters::UpdatedAt))
                .col(integer(ServicePrinters::Version))
                .to_owned(),
        )
        .await?;
        // No key to the printer: a printer may be removed while its
        // labels' history stays (with the name it had).
        m.create_table(
            Table::create()
                .table(ServicePrintJobs::Table)
                .col(pk_uuid(ServicePrintJobs::Id))
                .col(uuid(ServicePrintJobs::OrderId))
                .col(uuid(ServicePrintJobs::PrinterId))
                .col(string_len(ServicePrintJobs::PrinterName, 100))
                .col(string_len(ServicePrintJobs::Kind, 10))
                .col(string_len(ServicePrintJobs::CreatedBy, 300))
                .col(timestamp_with_time_zone(ServicePrintJobs::CreatedAt))
                .foreign_key(
                    references(
                        ServicePrintJobs::Table,
                        ServicePrintJobs::OrderId,
                        ServiceOrders::Table,
                        ServiceOrders::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_service_print_jobs_order",
            ServicePrintJobs::Table,
            [ServicePrintJobs::OrderId, ServicePrintJobs::CreatedAt],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ServicePrintJobs::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ServicePrinters::Table).to_owned())
            .await
    }
}

struct Payments;

impl MigrationName for Payments {
    fn name(&self) -> &str {
        "m20261208_300004_service_payments"
    }
}

#[derive(DeriveIden)]
enum Step4 {
    #[sea_orm(iden = "service_orders")]
    Table,
    PaidAt,
    PaidAmountClp,
    PaymentReference,
    /// When the customer was last reminded to collect a ready device.
    RemindedAt,
}

/// One row per day the overdue digest went to the managers: the first
/// worker to insert it sends it.
#[derive(DeriveIden)]
enum ServiceDigests {
    Table,
    Day,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Payments {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            timestamp_with_time_zone_null(Step4::PaidAt),
            big_integer_null(Step4::PaidAmountClp),
            string_len_null(Step4::PaymentReference, 120),
            timestamp_with_time_zone_null(Step4::RemindedAt),
        ] {
            let mut column = column;
            m.alter_table(
                Table::alter()
                    .table(Step4::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(ServiceDigests::Table)
                .col(date(ServiceDigests::Day).primary_key())
                .col(timestamp_with_time_zone(ServiceDigests::SentAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ServiceDigests::Table).to_owned())
            .await?;
        for c in [
            Step4::RemindedAt,
            Step4::PaymentReference,
            Step4::PaidAmountClp,
            Step4::PaidAt,
        ] {
            m.alter_table(Table::alter().table(Step4::Table).drop_column(c).to_owned())
                .await?;
        }
        Ok(())
    }
}
