//! Persistence of maintenance records: the entity and every query on it.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

pub mod record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mnt_records")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub machine_id: Uuid,
        pub kind: String,
        pub performed_at: DateTimeUtc,
        pub technician_id: Option<Uuid>,
        /// The technician's name when the work was recorded.
        pub technician_name: String,
        pub description: String,
        pub duration_minutes: Option<i32>,
        /// Labour and other costs, pesos.
        pub cost_clp: i64,
        /// JSON array of parts used.
        pub parts: String,
        /// JSON object: the flexible part (`measurements`, and later the
        /// plan's checklist answers).
        pub details: String,
        pub outcome: String,
        pub next_due_on: Option<Date>,
        pub corrects_id: Option<Uuid>,
        pub signed_off_at: Option<DateTimeUtc>,
        pub signed_off_by: Option<String>,
        pub created_by: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i32,
        /// The plan's work order this record closed.
        pub work_order_id: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use record::{Column, Entity, Model};

pub async fn count_for_machine(db: &impl ConnectionTrait, machine_id: Uuid) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::MachineId.eq(machine_id))
        .count(db)
        .await
}

/// The record that corrects `id`, if any.
pub async fn correction_of(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::CorrectsId.eq(id))
        .one(db)
        .await
}

/// Which of `ids` have been corrected, and by which record.
pub async fn corrections(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Uuid>, DbErr> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(Entity::find()
        .filter(Column::CorrectsId.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| r.corrects_id.map(|c| (c, r.id)))
        .collect())
}

/// What a list of records asks for, parsed.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub machine_id: Option<Uuid>,
    pub kinds: Vec<String>,
    pub outcome: Option<String>,
    pub technician_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `Some(true)`: only signed off; `Some(false)`: only drafts.
    pub signed: Option<bool>,
    /// Machines of a lab (their ids), when the list is filtered by lab.
    pub machine_ids: Option<Vec<Uuid>>,
}

impl Filter {
    fn condition(&self) -> Condition {
        let mut all = Condition::all();
        if let Some(id) = self.machine_id {
            all = all.add(Column::MachineId.eq(id));
        }
        if let Some(ids) = &self.machine_ids {
            all = all.add(Column::MachineId.is_in(ids.clone()));
        }
        if !self.kinds.is_empty() {
            all = all.add(Column::Kind.is_in(self.kinds.clone()));
        }
        if let Some(o) = &self.outcome {
            all = all.add(Column::Outcome.eq(o.clone()));
        }
        if let Some(t) = self.technician_id {
            all = all.add(Column::TechnicianId.eq(t));
        }
        if let Some(from) = self.from {
            all = all.add(Column::PerformedAt.gte(from));
        }
        if let Some(to) = self.to {
            all = all.add(Column::PerformedAt.lt(to));
        }
        match self.signed {
            Some(true) => all = all.add(Column::SignedOffAt.is_not_null()),
            Some(false) => all = all.add(Column::SignedOffAt.is_null()),
            None => {}
        }
        all
    }
}

pub fn select(filter: &Filter) -> Select<Entity> {
    Entity::find().filter(filter.condition())
}

/// Newest work first, after `cursor` (performed at, id).
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &Filter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = select(filter)
        .order_by_desc(Column::PerformedAt)
        .order_by_desc(Column::Id);
    if let Some((at, id)) = cursor {
        query = query.filter(
            Condition::any().add(Column::PerformedAt.lt(at)).add(
                Condition::all()
                    .add(Column::PerformedAt.eq(at))
                    .add(Column::Id.lt(id)),
            ),
        );
    }
    query.limit(limit).all(db).await
}

/// Records performed since `since`, for the dashboard.
pub async fn count_since(db: &impl ConnectionTrait, since: DateTime<Utc>) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::PerformedAt.gte(since))
        .count(db)
        .await
}

/// Records waiting to be signed off.
pub async fn count_unsigned(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::SignedOffAt.is_null())
        .count(db)
        .await
}
