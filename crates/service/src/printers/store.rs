//! Persistence of printers and of the print jobs sent to them: entities
//! and queries.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

pub mod printer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_printers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub host: String,
        pub port: i32,
        pub dpi: i32,
        pub active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod print {
    use sea_orm::entity::prelude::*;

    /// A label sent to a printer: the platform job that sends it (its id
    /// is the job's) and what it was.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_print_jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub order_id: Uuid,
        pub printer_id: Uuid,
        /// The printer's name when it was sent (the printer may go).
        pub printer_name: String,
        pub kind: String,
        pub created_by: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Every printer, by name.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<printer::Model>, DbErr> {
    printer::Entity::find()
        .order_by_asc(printer::Column::Name)
        .order_by_asc(printer::Column::Id)
        .all(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<printer::Model>, DbErr> {
    printer::Entity::find_by_id(id).one(db).await
}

pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    printer::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// The latest `limit` labels sent for an order, newest first.
pub async fn prints_of(
    db: &impl ConnectionTrait,
    order_id: Uuid,
    limit: u64,
) -> Result<Vec<print::Model>, DbErr> {
    print::Entity::find()
        .filter(print::Column::OrderId.eq(order_id))
        .order_by_desc(print::Column::CreatedAt)
        .order_by_desc(print::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
