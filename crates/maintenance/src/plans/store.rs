//! Persistence of plans, their work orders and meter readings.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::DueState;

pub mod plan {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mnt_plans")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub machine_id: Uuid,
        pub title: String,
        pub kind: String,
        pub interval_count: Option<i32>,
        pub interval_unit: Option<String>,
        pub meter: Option<String>,
        pub meter_every: Option<i64>,
        pub lead_days: i32,
        /// JSON array of checklist items.
        pub checklist: String,
        /// Calendar plans: the next due day.
        pub next_due_on: Option<Date>,
        /// Meter plans: the reading at which it falls due next.
        pub next_due_reading: Option<i64>,
        pub active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod work_order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mnt_work_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub machine_id: Uuid,
        pub plan_id: Option<Uuid>,
        pub kind: String,
        pub title: String,
        pub due_on: Date,
        /// `open`, `done` or `cancelled`.
        pub status: String,
        pub record_id: Option<Uuid>,
        pub reminded_at: Option<DateTimeUtc>,
        pub overdue_notified_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub closed_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod reading {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mnt_meter_readings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub machine_id: Uuid,
        pub meter: String,
        pub value: i64,
        pub read_at: DateTimeUtc,
        pub recorded_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub const OPEN: &str = "open";
pub const DONE: &str = "done";

pub async fn plans_of(
    db: &impl ConnectionTrait,
    machine_id: Uuid,
) -> Result<Vec<plan::Model>, DbErr> {
    plan::Entity::find()
        .filter(plan::Column::MachineId.eq(machine_id))
        .order_by_asc(plan::Column::Title)
        .all(db)
        .await
}

pub async fn active_plans(db: &impl ConnectionTrait) -> Result<Vec<plan::Model>, DbErr> {
    plan::Entity::find()
        .filter(plan::Column::Active.eq(true))
        .all(db)
        .await
}

/// The open work order of `plan`, if any.
pub async fn open_order_of(
    db: &impl ConnectionTrait,
    plan: Uuid,
) -> Result<Option<work_order::Model>, DbErr> {
    work_order::Entity::find()
        .filter(work_order::Column::PlanId.eq(plan))
        .filter(work_order::Column::Status.eq(OPEN))
        .one(db)
        .await
}

/// Inserts `order` unless the plan already has one for that day (another
/// worker made it): true when this call made it.
pub async fn insert_order(
    db: &impl ConnectionTrait,
    order: work_order::ActiveModel,
) -> Result<bool, DbErr> {
    let res = work_order::Entity::insert(order)
        .on_conflict(
            OnConflict::columns([work_order::Column::PlanId, work_order::Column::DueOn])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(res > 0)
}

/// Open work orders of `machines` (every machine when `None`), soonest first.
pub async fn open_orders(
    db: &impl ConnectionTrait,
    machines: Option<&[Uuid]>,
) -> Result<Vec<work_order::Model>, DbErr> {
    let mut q = work_order::Entity::find().filter(work_order::Column::Status.eq(OPEN));
    if let Some(ids) = machines {
        q = q.filter(work_order::Column::MachineId.is_in(ids.iter().copied()));
    }
    q.order_by_asc(work_order::Column::DueOn).all(db).await
}

/// Open orders past their day (`overdue`) or not yet, soonest first, at
/// most `limit`; and how many there are in all.
pub async fn open_orders_by_state(
    db: &impl ConnectionTrait,
    overdue: bool,
    today: NaiveDate,
    limit: u64,
) -> Result<(Vec<work_order::Model>, u64), DbErr> {
    use sea_orm::PaginatorTrait;
    let q = work_order::Entity::find().filter(work_order::Column::Status.eq(OPEN));
    let q = if overdue {
        q.filter(work_order::Column::DueOn.lt(today))
    } else {
        q.filter(work_order::Column::DueOn.gte(today))
    };
    let count = q.clone().count(db).await?;
    if limit == 0 {
        return Ok((Vec::new(), count));
    }
    let rows = q
        .order_by_asc(work_order::Column::DueOn)
        .order_by_asc(work_order::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, count))
}

/// Open orders past their day that nobody has been told about yet.
pub async fn overdue_unnotified(
    db: &impl ConnectionTrait,
    today: NaiveDate,
) -> Result<Vec<work_order::Model>, DbErr> {
    work_order::Entity::find()
        .filter(work_order::Column::Status.eq(OPEN))
        .filter(work_order::Column::DueOn.lt(today))
        .filter(work_order::Column::OverdueNotifiedAt.is_null())
        .all(db)
        .await
}

/// The last reading of each of a machine's meters.
pub async fn last_readings(
    db: &impl ConnectionTrait,
    machine_id: Uuid,
) -> Result<HashMap<String, i64>, DbErr> {
    let rows: Vec<(String, Option<i64>)> = reading::Entity::find()
        .select_only()
        .column(reading::Column::Meter)
        .column_as(reading::Column::Value.max(), "value")
        .filter(reading::Column::MachineId.eq(machine_id))
        .group_by(reading::Column::Meter)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(m, v)| v.map(|v| (m, v)))
        .collect())
}

pub async fn readings(
    db: &impl ConnectionTrait,
    machine_id: Uuid,
    limit: u64,
) -> Result<Vec<reading::Model>, DbErr> {
    reading::Entity::find()
        .filter(reading::Column::MachineId.eq(machine_id))
        .order_by_desc(reading::Column::ReadAt)
        .order_by_desc(reading::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Each machine's due state from its open work orders, and the day the
/// soonest is due.
fn states_of(
    orders: Vec<work_order::Model>,
    today: NaiveDate,
) -> HashMap<Uuid, (DueState, NaiveDate)> {
    let mut days: HashMap<Uuid, Vec<NaiveDate>> = HashMap::new();
    for w in orders {
        days.entry(w.machine_id).or_default().push(w.due_on);
    }
    days.into_iter()
        .filter_map(|(id, d)| {
            let soonest = d.iter().min().copied()?;
            Some((id, (DueState::of(d, today), soonest)))
        })
        .collect()
}

/// The due state of each machine of `ids` with open work.
pub async fn due_states(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    today: NaiveDate,
) -> Result<HashMap<Uuid, (DueState, NaiveDate)>, DbErr> {
    Ok(states_of(open_orders(db, Some(ids)).await?, today))
}

/// The due state of every machine with open work (one query), for the
/// machines list filter.
pub async fn all_due_states(
    db: &impl ConnectionTrait,
    today: NaiveDate,
) -> Result<HashMap<Uuid, (DueState, NaiveDate)>, DbErr> {
    Ok(states_of(open_orders(db, None).await?, today))
}
