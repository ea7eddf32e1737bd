//! The statistics' queries: sums and counts in the database, on SQLite
//! and PostgreSQL alike (no date arithmetic in SQL: periods are bounds
//! computed here, durations are subtracted after reading).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, CaseStatement, Expr, Func, Query, SimpleExpr, SubQueryStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QuerySelect, RelationDef,
};
use uuid::Uuid;

use crate::orders::store::{history, order};

/// Orders in each status, now.
pub async fn count_by_status(db: &impl ConnectionTrait) -> Result<HashMap<String, u64>, DbErr> {
    let rows: Vec<(String, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::Status)
        .column_as(order::Column::Id.count(), "n")
        .group_by(order::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// A move out of a status within the period, with when the order had
/// entered that status (its latest entry before leaving).
#[derive(Debug, FromQueryResult)]
pub struct Stay {
    pub status: String,
    pub left_at: DateTime<Utc>,
    pub entered_at: Option<DateTime<Utc>>,
}

/// Every move out of a status in `[from, to)`.
pub async fn stays(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Stay>, DbErr> {
    let h = Alias::new("h");
    let e = Alias::new("e");
    let entered = Query::select()
        .expr(Expr::col((e.clone(), history::Column::At)).max())
        .from_as(history::Entity, e.clone())
        .and_where(
            Expr::col((e.clone(), history::Column::OrderId))
                .equals((h.clone(), history::Column::OrderId)),
        )
        .and_where(
            Expr::col((e.clone(), history::Column::ToStatus))
                .equals((h.clone(), history::Column::FromStatus)),
        )
        .and_where(
            Expr::col((e.clone(), history::Column::At))
                .lte(Expr::col((h.clone(), history::Column::At))),
        )
        .to_owned();
    let stmt = Query::select()
        .expr_as(
            Expr::col((h.clone(), history::Column::FromStatus)),
            Alias::new("status"),
        )
        .expr_as(
            Expr::col((h.clone(), history::Column::At)),
            Alias::new("left_at"),
        )
        .expr_as(
            SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(entered))),
            Alias::new("entered_at"),
        )
        .from_as(history::Entity, h.clone())
        .and_where(Expr::col((h.clone(), history::Column::FromStatus)).is_not_null())
        .and_where(Expr::col((h.clone(), history::Column::At)).gte(from))
        .and_where(Expr::col((h.clone(), history::Column::At)).lt(to))
        .to_owned();
    let backend = db.get_database_backend();
    Stay::find_by_statement(backend.build(&stmt)).all(db).await
}

fn order_of_history() -> RelationDef {
    history::Entity::belongs_to(order::Entity)
        .from(history::Column::OrderId)
        .to(order::Column::Id)
        .into()
}

/// Orders delivered in `[from, to)` per technician (`None`: unassigned).
pub async fn delivered_by_technician(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<Option<Uuid>, u64>, DbErr> {
    let rows: Vec<(Option<Uuid>, i64)> = history::Entity::find()
        .select_only()
        .join(JoinType::InnerJoin, order_of_history())
        .column_as(
            Expr::col((order::Entity, order::Column::TechnicianId)),
            "technician_id",
        )
        .column_as(
            Expr::col((history::Entity, history::Column::Id)).count(),
            "n",
        )
        .filter(history::Column::ToStatus.eq("delivered"))
        .filter(history::Column::At.gte(from))
        .filter(history::Column::At.lt(to))
        .group_by(Expr::col((order::Entity, order::Column::TechnicianId)))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(t, n)| (t, u64::try_from(n).unwrap_or(0)))
        .collect())
}

#[derive(Debug, Clone, Default, FromQueryResult)]
pub struct Revenue {
    pub orders: i64,
    pub total: Option<i64>,
}

/// Delivered orders and their totals in each period that `bounds` begin
/// (the last ends at `end`), oldest first.
pub async fn revenue_by_period(
    db: &impl ConnectionTrait,
    bounds: &[DateTime<Utc>],
    end: DateTime<Utc>,
) -> Result<Vec<Revenue>, DbErr> {
    #[derive(Debug, FromQueryResult)]
    struct Line {
        period: i32,
        orders: i64,
        total: Option<i64>,
    }
    let Some(first) = bounds.first() else {
        return Ok(Vec::new());
    };
    let mut case = CaseStatement::new();
    for (i, b) in bounds.iter().enumerate().rev() {
        case = case.case(
            Expr::col((history::Entity, history::Column::At)).gte(*b),
            Expr::value(i32::try_from(i).unwrap_or(i32::MAX)),
        );
    }
    let lines = history::Entity::find()
        .select_only()
        .join(JoinType::InnerJoin, order_of_history())
        .column_as(
            SimpleExpr::Case(Box::new(case.finally(Expr::value(-1)))),
            "period",
        )
        .column_as(
            Expr::col((history::Entity, history::Column::Id)).count(),
            "orders",
        )
        .column_as(
            Expr::expr(Func::sum(Expr::col((
                order::Entity,
                order::Column::TotalClp,
            ))))
            .cast_as(Alias::new("BIGINT")),
            "total",
        )
        .filter(history::Column::ToStatus.eq("delivered"))
        .filter(history::Column::At.gte(*first))
        .filter(history::Column::At.lt(end))
        .group_by(Expr::cust("period"))
        .into_model::<Line>()
        .all(db)
        .await?;
    let mut out = vec![Revenue::default(); bounds.len()];
    for l in lines {
        if let Some(slot) = usize::try_from(l.period).ok().and_then(|i| out.get_mut(i)) {
            *slot = Revenue {
                orders: l.orders,
                total: l.total,
            };
        }
    }
    Ok(out)
}

/// Orders taken in within `[from, to)` under the warranty of an earlier
/// one.
pub async fn count_warranty(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    order::Entity::find()
        .filter(order::Column::WarrantyOf.is_not_null())
        .filter(order::Column::CreatedAt.gte(from))
        .filter(order::Column::CreatedAt.lt(to))
        .count(db)
        .await
}

/// An intake of a serial/IMEI that was taken in more than once since
/// `since`.
#[derive(Debug, FromQueryResult)]
pub struct Intake {
    pub number: String,
    pub serial: String,
    pub created_at: DateTime<Utc>,
}

/// The intakes since `since` (and before `to`) of the serials taken in
/// more than once in that time, oldest first.
pub async fn repeated_serials(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Intake>, DbErr> {
    use sea_orm::QueryOrder;
    let repeated = Query::select()
        .column(order::Column::Serial)
        .from(order::Entity)
        .and_where(Expr::col(order::Column::Serial).is_not_null())
        .and_where(Expr::col(order::Column::CreatedAt).gte(since))
        .and_where(Expr::col(order::Column::CreatedAt).lt(to))
        .group_by_col(order::Column::Serial)
        .and_having(Expr::expr(Func::count(Expr::col(order::Column::Id))).gt(1))
        .to_owned();
    order::Entity::find()
        .select_only()
        .column(order::Column::Number)
        .column(order::Column::Serial)
        .column(order::Column::CreatedAt)
        .filter(order::Column::Serial.in_subquery(repeated))
        .filter(order::Column::CreatedAt.gte(since))
        .filter(order::Column::CreatedAt.lt(to))
        .order_by_asc(order::Column::CreatedAt)
        .into_model::<Intake>()
        .all(db)
        .await
}
