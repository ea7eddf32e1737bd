//! Warehouse tables: orders, their lines, their status history, and the
//! counter that numbers them.

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
                .add_column(
                    ColumnDef::new(ReturnedQuantity::ReturnedQuantity)
                        .integer()
                        .not_null()
                        .default(0),
                )
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

fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOrders {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WmsOrders::Table)
                .col(
                    ColumnDef::new(WmsOrders::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(WmsOrders::Number)
                        .string_len(40)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(WmsOrders::ClientId).uuid().not_null())
                .col(ColumnDef::new(WmsOrders::Status).string_len(16).not_null())
                .col(ColumnDef::new(WmsOrders::Notes).text().null())
                .col(ColumnDef::new(WmsOrders::ReturnReason).text().null())
                .col(ColumnDef::new(WmsOrders::ReturnCode).string_len(16).null())
                .col(
                    ColumnDef::new(WmsOrders::ReturnedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(WmsOrders::CreatedBy)
                        .string_len(300)
                        .not_null(),
                )
                .col(ts(WmsOrders::CreatedAt))
                .col(ts(WmsOrders::UpdatedAt))
                .col(ColumnDef::new(WmsOrders::Version).integer().not_null())
                // A client with orders cannot disappear underneath them.
                .foreign_key(
                    ForeignKey::create()
                        .from(WmsOrders::Table, WmsOrders::ClientId)
                        .to(Clients::Table, Clients::Id)
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
                .col(
                    ColumnDef::new(WmsOrderLines::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(WmsOrderLines::OrderId).uuid().not_null())
                .col(ColumnDef::new(WmsOrderLines::Position).integer().not_null())
                .col(ColumnDef::new(WmsOrderLines::Sku).string_len(64).not_null())
                .col(
                    ColumnDef::new(WmsOrderLines::Description)
                        .string_len(300)
                        .not_null(),
                )
                .col(ColumnDef::new(WmsOrderLines::Quantity).integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(WmsOrderLines::Table, WmsOrderLines::OrderId)
                        .to(WmsOrders::Table, WmsOrders::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_wms_order_lines_order")
                .table(WmsOrderLines::Table)
                .col(WmsOrderLines::OrderId)
                .col(WmsOrderLines::Position)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WmsOrderHistory::Table)
                .col(
                    ColumnDef::new(WmsOrderHistory::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(WmsOrderHistory::OrderId).uuid().not_null())
                .col(
                    ColumnDef::new(WmsOrderHistory::FromStatus)
                        .string_len(16)
                        .null(),
                )
                .col(
                    ColumnDef::new(WmsOrderHistory::ToStatus)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WmsOrderHistory::ActorId)
                        .string_len(64)
                        .null(),
                )
                .col(
                    ColumnDef::new(WmsOrderHistory::Actor)
                        .string_len(300)
                        .not_null(),
                )
                .col(ts(WmsOrderHistory::At))
                .col(ColumnDef::new(WmsOrderHistory::Reason).text().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(WmsOrderHistory::Table, WmsOrderHistory::OrderId)
                        .to(WmsOrders::Table, WmsOrders::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_wms_order_history_order")
                .table(WmsOrderHistory::Table)
                .col(WmsOrderHistory::OrderId)
                .col(WmsOrderHistory::At)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WmsCounters::Table)
                .col(
                    ColumnDef::new(WmsCounters::Name)
                        .string_len(32)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(WmsCounters::Value).big_integer().not_null())
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
