//! Persistence of failure reports.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

pub mod request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mnt_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub machine_id: Uuid,
        pub description: String,
        pub reporter_name: Option<String>,
        pub reporter_contact: Option<String>,
        pub photo_file_id: Option<Uuid>,
        pub status: String,
        pub reject_reason: Option<String>,
        pub work_order_id: Option<Uuid>,
        pub ip: Option<String>,
        pub created_at: DateTimeUtc,
        pub reviewed_by: Option<String>,
        pub reviewed_at: Option<DateTimeUtc>,
        pub version: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use request::{Column, Entity, Model};

pub async fn count_from(
    db: &impl ConnectionTrait,
    ip: &str,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::Ip.eq(ip))
        .filter(Column::CreatedAt.gte(since))
        .count(db)
        .await
}

pub async fn count_for(
    db: &impl ConnectionTrait,
    machine: Uuid,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::MachineId.eq(machine))
        .filter(Column::CreatedAt.gte(since))
        .count(db)
        .await
}

/// Newest first, after `cursor` (created at, id), in `status` when given.
pub async fn list(
    db: &impl ConnectionTrait,
    status: Option<&str>,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut q = Entity::find();
    if let Some(s) = status {
        q = q.filter(Column::Status.eq(s));
    }
    if let Some((at, id)) = cursor {
        q = q.filter(
            sea_orm::Condition::any().add(Column::CreatedAt.lt(at)).add(
                sea_orm::Condition::all()
                    .add(Column::CreatedAt.eq(at))
                    .add(Column::Id.lt(id)),
            ),
        );
    }
    q.order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn count_pending(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::Status.eq("pending"))
        .count(db)
        .await
}
