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
        /// `cost_clp` plus the parts, for sums in the database.
        pub total_cost_clp: i64,
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

/// Records grouped by one or more keys, with their count, cost and
/// downtime; what the report and the dashboard read.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct Sums {
    pub records: i64,
    pub cost: Option<i64>,
    pub minutes: Option<i64>,
}

/// One kind of work on one machine (the report's finest grain).
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct KindMachineSums {
    pub kind: String,
    pub code: String,
    pub name: String,
    pub lab: Option<String>,
    #[sea_orm(nested)]
    pub sums: Sums,
}

fn machines_join() -> sea_orm::RelationDef {
    use crate::machines::store as machines;
    Entity::belongs_to(machines::Entity)
        .from(Column::MachineId)
        .to(machines::Column::Id)
        .into()
}

fn machine_col(c: crate::machines::store::Column) -> sea_orm::sea_query::SimpleExpr {
    sea_orm::sea_query::Expr::col((crate::machines::store::Entity, c)).into()
}

/// `SUM(column)` as a 64-bit integer on every database (PostgreSQL sums
/// a BIGINT as NUMERIC).
fn sum(column: Column) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Alias, Expr, Func};
    Expr::expr(Func::sum(Expr::col((Entity, column)))).cast_as(Alias::new("BIGINT"))
}

/// `COUNT(*)`: counting a column would read each row for it, where the
/// covering indexes have all the sums need.
fn count_all() -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Asterisk, Expr, Func};
    Func::count(Expr::col(Asterisk)).into()
}

fn with_sums<E: EntityTrait>(q: Select<E>) -> Select<E> {
    q.column_as(count_all(), "records")
        .column_as(sum(Column::TotalCostClp), "cost")
        .column_as(sum(Column::DurationMinutes), "minutes")
}

/// The records matching `filter`, summed by kind and machine.
pub async fn sums_by_kind_and_machine(
    db: &impl ConnectionTrait,
    filter: &Filter,
) -> Result<Vec<KindMachineSums>, DbErr> {
    use crate::machines::store::Column as M;
    with_sums(
        select(filter)
            .select_only()
            .column(Column::Kind)
            .column_as(machine_col(M::Code), "code")
            .column_as(machine_col(M::Name), "name")
            .column_as(machine_col(M::Lab), "lab"),
    )
    .join(sea_orm::JoinType::InnerJoin, machines_join())
    .group_by(Column::Kind)
    .group_by(Column::MachineId)
    .group_by(machine_col(M::Code))
    .group_by(machine_col(M::Name))
    .group_by(machine_col(M::Lab))
    .into_model::<KindMachineSums>()
    .all(db)
    .await
}

/// One lab's work since a day.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct LabSums {
    pub lab: Option<String>,
    #[sea_orm(nested)]
    pub sums: Sums,
}

/// Work since `since`, summed by the machines' lab.
pub async fn sums_by_lab(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<LabSums>, DbErr> {
    use crate::machines::store::Column as M;
    with_sums(
        Entity::find()
            .select_only()
            .column_as(machine_col(M::Lab), "lab"),
    )
    .join(sea_orm::JoinType::InnerJoin, machines_join())
    .filter(Column::PerformedAt.gte(since))
    .group_by(machine_col(M::Lab))
    .into_model::<LabSums>()
    .all(db)
    .await
}

/// Work in each of the periods that `bounds` (ascending instants) mark
/// out: the first period is `[bounds[0], bounds[1])`; the last runs from
/// the last bound on. Returns one line a period, zero where nothing was
/// done.
pub async fn sums_by_period(
    db: &impl ConnectionTrait,
    bounds: &[DateTime<Utc>],
) -> Result<Vec<Sums>, DbErr> {
    use sea_orm::sea_query::{CaseStatement, Expr};
    #[derive(Debug, sea_orm::FromQueryResult)]
    struct Line {
        period: i32,
        #[sea_orm(nested)]
        sums: Sums,
    }
    let Some(first) = bounds.first() else {
        return Ok(Vec::new());
    };
    // The period of a record: the number of bounds at or before it, less
    // one; written as one CASE, from the latest bound down.
    let mut case = CaseStatement::new();
    for (i, b) in bounds.iter().enumerate().rev() {
        case = case.case(
            Expr::col((Entity, Column::PerformedAt)).gte(*b),
            Expr::value(i32::try_from(i).unwrap_or(i32::MAX)),
        );
    }
    let lines = with_sums(Entity::find().select_only().column_as(
        sea_orm::sea_query::SimpleExpr::Case(Box::new(case.finally(Expr::value(-1)))),
        "period",
    ))
    .filter(Column::PerformedAt.gte(*first))
    .group_by(Expr::cust("period"))
    .into_model::<Line>()
    .all(db)
    .await?;
    let mut out = vec![
        Sums {
            records: 0,
            cost: None,
            minutes: None,
        };
        bounds.len()
    ];
    for l in lines {
        if let Some(slot) = usize::try_from(l.period).ok().and_then(|i| out.get_mut(i)) {
            *slot = l.sums;
        }
    }
    Ok(out)
}

/// One machine's corrective work since a day.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct FailureSums {
    pub code: String,
    pub name: String,
    pub records: i64,
    /// Minutes of the jobs with a duration, and how many those are.
    pub minutes: Option<i64>,
    pub timed: i64,
}

/// The `limit` machines with the most corrective work since `since`, most
/// first (then by code).
pub async fn failures_since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<FailureSums>, DbErr> {
    use crate::machines::store::Column as M;
    use sea_orm::sea_query::Order;
    Entity::find()
        .select_only()
        .column_as(machine_col(M::Code), "code")
        .column_as(machine_col(M::Name), "name")
        .column_as(count_all(), "records")
        .column_as(sum(Column::DurationMinutes), "minutes")
        .column_as(Column::DurationMinutes.count(), "timed")
        .join(sea_orm::JoinType::InnerJoin, machines_join())
        .filter(Column::Kind.eq(crate::records::RecordKind::Corrective.as_str()))
        .filter(Column::PerformedAt.gte(since))
        .group_by(Column::MachineId)
        .group_by(machine_col(M::Code))
        .group_by(machine_col(M::Name))
        .order_by(count_all(), Order::Desc)
        .order_by(machine_col(M::Code), Order::Asc)
        .limit(limit)
        .into_model::<FailureSums>()
        .all(db)
        .await
}

/// Each machine's latest record of `kind` (two when two share the same
/// instant), oldest first.
pub async fn latest_of_kind(db: &impl ConnectionTrait, kind: &str) -> Result<Vec<Model>, DbErr> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let other = Alias::new("later");
    let latest = Query::select()
        .expr(Expr::col((other.clone(), Column::PerformedAt)).max())
        .from_as(Entity, other.clone())
        .and_where(
            Expr::col((other.clone(), Column::MachineId)).equals((Entity, Column::MachineId)),
        )
        .and_where(Expr::col((other, Column::Kind)).eq(kind))
        .to_owned();
    Entity::find()
        .filter(Column::Kind.eq(kind))
        .filter(Expr::col((Entity, Column::PerformedAt)).in_subquery(latest))
        .order_by_asc(Column::PerformedAt)
        .all(db)
        .await
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
