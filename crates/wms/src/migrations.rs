//! Warehouse tables: orders, their lines, their status history, and the
//! counter that numbers them.

use faena_platform::schema::*;
use sea_orm_migration::prelude::*;

pub fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(CreateOrders), Box::new(PartialReturns)]
}

/// A return may cover some lines and quantities: each line keeps how many
/// units came back. Orders returned before this were returned whole.
struct PartialReturns;

impl MigrationName for PartialReturns {
    fn name(&self) -> &str {
        "m20261207_200002_wms_partial_returns"
    }
}

#[derive(DeriveIden)]
enum ReturnedQuantity {
    ReturnedQuantity,
}

#[async_trait::async_trait]
impl MigrationTrait for PartialReturns {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WmsOrderLines::Table)
                .add_column(integer(ReturnedQuantity::ReturnedQuantity).default(0))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "UPDATE wms_order_lines SET returned_quantity = quantity \
                 WHERE order_id IN (SELECT id FROM wms_orders WHERE status = 'returned')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WmsOrderLines::Table)
                .drop_column(ReturnedQuantity::ReturnedQuantity)
                .to_owned(),
        )
        .await
    }
}

struct CreateOrders;

impl MigrationName for CreateOrders {
    fn name(&self) -> &str {
        "m20261123_200001_wms_orders_create"
    }
}

#[derive(DeriveIden)]
enum WmsOrders {
    Table,
    Id,
    Number,
    ClientId,
    Status,
    Notes,
    ReturnReason,
    ReturnCode,
    ReturnedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum WmsOrderLines {
    Table,
    Id,
    OrderId,
    Position,
    Sku,
    Description,
    Quantity,
}

#[derive(DeriveIden)]
enum WmsOrderHistory {
    Table,
    Id,
    OrderId,
    FromStatus,
    ToStatus,
    ActorId,
    Actor,
    At,
    Reason,
}

#[derive(DeriveIden)]
enum WmsCounters {
    Table,
    Name,
    Value,
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
                .table(WmsOrders::Table)
                .col(pk_uuid(WmsOrders::Id))
                .col(string_len(WmsOrders::Number, 40).unique_key())
                .col(uuid(WmsOrders::ClientId))
                .col(string_len(WmsOrders::Status, 16))
                .col(text_null(WmsOrders::Notes))
                .col(text_null(WmsOrders::ReturnReason))
                .col(string_len_null(WmsOrders::ReturnCode, 16))
                .col(timestamp_with_time_zone_null(WmsOrders::ReturnedAt))
                .col(string_len(WmsOrders::CreatedBy, 300))
                .col(timestamp_with_time_zone(WmsOrders::CreatedAt))
                .col(timestamp_with_time_zone(WmsOrders::UpdatedAt))
                .col(integer(WmsOrders::Version))
                // A client with orders cannot disappear underneath them.
                .foreign_key(
                    references(
                        WmsOrders::Table,
                        WmsOrders::ClientId,
                        Clients::Table,
                        Clients::Id,
                    )
                    .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "idx_wms_orders_client",
                vec![WmsOrders::ClientId, WmsOrders::CreatedAt],
            ),
            (
                "idx_wms_orders_status",
                vec![WmsOrders::Status, WmsOrders::CreatedAt],
            ),
            (
                "idx_wms_orders_created",
                vec![WmsOrders::CreatedAt, WmsOrders::Id],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(WmsOrders::Table);
            for c in cols {
                index.col(c);
            }
            m.create_index(index.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(WmsOrderLines::Table)
                .col(pk_uuid(WmsOrderLines::Id))
                .col(uuid(WmsOrderLines::OrderId))
                .col(integer(WmsOrderLines::Position))
                .col(string_len(WmsOrderLines::Sku, 64))
                .col(string_len(WmsOrderLines::Description, 300))
                .col(integer(WmsOrderLines::Quantity))
                .foreign_key(
                    references(
                        WmsOrderLines::Table,
                        WmsOrderLines::OrderId,
                        WmsOrders::Table,
                        WmsOrders::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_wms_order_lines_order",
            WmsOrderLines::Table,
            [WmsOrderLines::OrderId, WmsOrderLines::Position],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(WmsOrderHistory::Table)
                .col(pk_uuid(WmsOrderHistory::Id))
                .col(uuid(WmsOrderHistory::OrderId))
                .col(string_len_null(WmsOrderHistory::FromStatus, 16))
                .col(string_len(WmsOrderHistory::ToStatus, 16))
                .col(string_len_null(WmsOrderHistory::ActorId, 64))
                .col(string_len(WmsOrderHistory::Actor, 300))
                .col(timestamp_with_time_zone(WmsOrderHistory::At))
                .col(text_null(WmsOrderHistory::Reason))
                .foreign_key(
                    references(
                        WmsOrderHistory::Table,
                        WmsOrderHistory::OrderId,
                        WmsOrders::Table,
                        WmsOrders::Id,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_wms_order_history_order",
            WmsOrderHistory::Table,
            [WmsOrderHistory::OrderId, WmsOrderHistory::At],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(WmsCounters::Table)
                .col(string_len(WmsCounters::Name, 32).primary_key())
                .col(big_integer(WmsCounters::Value))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(WmsCounters::Table)
                .columns([WmsCounters::Name, WmsCounters::Value])
                .values_panic(["order_number".into(), 0i64.into()])
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            WmsCounters::Table.into_iden(),
            WmsOrderHistory::Table.into_iden(),
            WmsOrderLines::Table.into_iden(),
            WmsOrders::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
