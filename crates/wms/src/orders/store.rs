//! Persistence of orders, their lines and history: entities and queries.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use faena_platform::auth::Actor;
use faena_platform::text;
use faena_platform::ui::filter_instant;
use faena_platform::{FieldError, FieldErrors};
use sea_orm::sea_query::{Expr, Func, LikeExpr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};
use uuid::Uuid;

use super::{Line, Status};

pub mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "wms_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub client_id: Uuid,
        pub status: String,
        pub notes: Option<String>,
        pub return_reason: Option<String>,
        pub return_code: Option<String>,
        pub returned_at: Option<DateTimeUtc>,
        pub created_by: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod line {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "wms_order_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub order_id: Uuid,
        pub position: i32,
        pub sku: String,
        pub description: String,
        pub quantity: i32,
        /// Units that came back in a return (0 until then).
        pub returned_quantity: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod history {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "wms_order_history")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub order_id: Uuid,
        pub from_status: Option<String>,
        pub to_status: String,
        pub actor_id: Option<String>,
        pub actor: String,
        pub at: DateTimeUtc,
        pub reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod counter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "wms_counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The next order number, taken inside the caller's transaction (the row
/// lock orders concurrent creations; a rollback gives the number back).
pub async fn next_number(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let updated = counter::Entity::update_many()
        .col_expr(
            counter::Column::Value,
            Expr::col(counter::Column::Value).add(1),
        )
        .filter(counter::Column::Name.eq("order_number"))
        .exec_with_returning(db)
        .await?;
    updated
        .first()
        .map(|c| c.value)
        .ok_or_else(|| DbErr::RecordNotFound("wms_counters.order_number".into()))
}

pub async fn find_by_number(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find()
        .filter(order::Column::Number.eq(number.trim().to_uppercase()))
        .one(db)
        .await
}

/// One order with its lines (in order) and, when `client_name` gives the
/// expression (`Directory::name_of`), its client's name: one statement,
/// the lines joined, the name a subquery.
pub async fn find_with_lines(
    db: &impl ConnectionTrait,
    number: &str,
    client_name: Option<sea_orm::sea_query::SimpleExpr>,
) -> Result<Option<(order::Model, Vec<line::Model>, Option<String>)>, DbErr> {
    let join = order::Entity::belongs_to(line::Entity)
        .from(order::Column::Id)
        .to(line::Column::OrderId)
        .into();
    let mut select = order::Entity::find()
        .filter(order::Column::Number.eq(number.trim().to_uppercase()))
        .join(JoinType::LeftJoin, join)
        .select_also(line::Entity)
        .order_by_asc(line::Column::Position);
    let named = client_name.is_some();
    if let Some(name) = client_name {
        select = select.expr_as(name, "client_name");
    }
    let rows = db
        .query_all(select.build(db.get_database_backend()))
        .await?;
    let mut found: Option<(order::Model, Vec<line::Model>, Option<String>)> = None;
    for row in rows {
        let (_, lines, _) = match &mut found {
            Some(f) => f,
            None => found.insert((
                order::Model::from_query_result(&row, "A_")?,
                Vec::new(),
                client_name_of(&row, named)?,
            )),
        };
        if let Some(line) = line::Model::from_query_result_optional(&row, "B_")? {
            lines.push(line);
        }
    }
    Ok(found)
}

pub async fn lines(db: &impl ConnectionTrait, order_id: Uuid) -> Result<Vec<line::Model>, DbErr> {
    line::Entity::find()
        .filter(line::Column::OrderId.eq(order_id))
        .order_by_asc(line::Column::Position)
        .all(db)
        .await
}

pub async fn history(
    db: &impl ConnectionTrait,
    order_id: Uuid,
) -> Result<Vec<history::Model>, DbErr> {
    history::Entity::find()
        .filter(history::Column::OrderId.eq(order_id))
        .order_by_asc(history::Column::At)
        .order_by_asc(history::Column::Id)
        .all(db)
        .await
}

/// What a list asks for.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub statuses: Vec<String>,
    pub client_id: Option<Uuid>,
    /// Clients whose name matched the search text.
    pub client_ids: Option<Vec<Uuid>>,
    pub number_like: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Newest first: after (created_at, id) of the last row seen.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u64,
}

/// A list's filters as the query string gives them (`/api/orders?…`, the
/// list page, the CSV export).
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
pub struct OrderFilter {
    /// One status or several, comma-separated (`picking,packing`).
    pub status: Option<String>,
    pub client_id: Option<Uuid>,
    /// Created from this day (`2026-11-01`) or instant (RFC 3339), inclusive.
    pub from: Option<String>,
    /// Created before this day (inclusive) or instant (exclusive).
    pub to: Option<String>,
    /// Searches the order number, any line's SKU and the client's name
    /// (ignoring case and accents).
    pub q: Option<String>,
}

impl Filter {
    /// Parses the query's filters; every bad one is named. The search text
    /// is kept for the number; the caller adds the clients whose names
    /// match (`client_ids`), which only the client directory knows.
    pub fn parse(
        f: &OrderFilter,
        forced_status: Option<Status>,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
        zone: chrono_tz::Tz,
        errors: &mut FieldErrors,
    ) -> Filter {
        let mut statuses = Vec::new();
        if let Some(s) = forced_status {
            statuses.push(s.as_str().to_owned());
        } else if let Some(list) = f.status.as_deref().filter(|s| !s.trim().is_empty()) {
            for s in list.split(',').map(str::trim) {
                match Status::parse(s) {
                    Some(st) => statuses.push(st.as_str().to_owned()),
                    None => {
                        errors.push(FieldError::new("status", "unknown_status").with("value", s))
                    }
                }
            }
        }
        let from = f
            .from
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| errors.take(filter_instant("from", s, false, zone)));
        let to =
            f.to.as_deref()
                .filter(|s| !s.is_empty())
                .and_then(|s| errors.take(filter_instant("to", s, true, zone)));
        Filter {
            statuses,
            client_id: f.client_id,
            client_ids: None,
            number_like: f.search().map(str::to_uppercase),
            from,
            to,
            before,
            limit,
        }
    }
}

impl OrderFilter {
    /// The search text, trimmed; `None` when blank.
    pub fn search(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }
}

/// The orders matching `f`'s filters (not its cursor or limit), unordered.
pub fn select(f: &Filter) -> Select<order::Entity> {
    use order::Column as C;
    let mut q = order::Entity::find();
    if !f.statuses.is_empty() {
        q = q.filter(C::Status.is_in(f.statuses.clone()));
    }
    if let Some(id) = f.client_id {
        q = q.filter(C::ClientId.eq(id));
    }
    if let Some(n) = &f.number_like {
        // The number, any line's SKU, or a client the directory found.
        let pattern = LikeExpr::new(text::like_pattern(n)).escape('\\');
        let skus = Query::select()
            .column(line::Column::OrderId)
            .from(line::Entity)
            .and_where(Expr::expr(Func::upper(Expr::col(line::Column::Sku))).like(pattern.clone()))
            .to_owned();
        let mut any = Condition::any()
            .add(C::Number.like(pattern))
            .add(C::Id.in_subquery(skus));
        if let Some(ids) = f.client_ids.as_ref().filter(|ids| !ids.is_empty()) {
            any = any.add(C::ClientId.is_in(ids.clone()));
        }
        q = q.filter(any);
    } else if let Some(ids) = &f.client_ids {
        q = q.filter(C::ClientId.is_in(ids.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(C::CreatedAt.gte(from));
    }
    if let Some(to) = f.to {
        q = q.filter(C::CreatedAt.lt(to));
    }
    q
}

/// Newest first, after `f.before`, at most `f.limit`.
/// The orders `f` asks for, newest first, each with its client's name
/// when `client_name` gives the expression (`Directory::name_of`): one
/// statement.
pub async fn list(
    db: &impl ConnectionTrait,
    f: &Filter,
    client_name: Option<sea_orm::sea_query::SimpleExpr>,
) -> Result<Vec<(order::Model, Option<String>)>, DbErr> {
    use order::Column as C;
    let named = client_name.is_some();
    let mut q = select(f);
    if let Some(name) = client_name {
        q = q.expr_as(name, "client_name");
    }
    let mut q = q.order_by_desc(C::CreatedAt).order_by_desc(C::Id);
    if let Some((at, id)) = f.before {
        q = q.filter(
            Condition::any()
                .add(C::CreatedAt.lt(at))
                .add(Condition::all().add(C::CreatedAt.eq(at)).add(C::Id.lt(id))),
        );
    }
    let q = q.limit(f.limit);
    db.query_all(q.build(db.get_database_backend()))
        .await?
        .iter()
        .map(|row| {
            Ok((
                order::Model::from_query_result(row, "")?,
                client_name_of(row, named)?,
            ))
        })
        .collect()
}

/// The `client_name` column of a row, when the statement asked for it.
fn client_name_of(row: &sea_orm::QueryResult, named: bool) -> Result<Option<String>, DbErr> {
    if named {
        row.try_get("", "client_name")
    } else {
        Ok(None)
    }
}

/// Lines of several orders at once, by order.
pub async fn lines_of(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<line::Model>>, DbErr> {
    let mut out: HashMap<Uuid, Vec<line::Model>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for l in line::Entity::find()
        .filter(line::Column::OrderId.is_in(ids.iter().copied()))
        .order_by_asc(line::Column::Position)
        .all(db)
        .await?
    {
        out.entry(l.order_id).or_default().push(l);
    }
    Ok(out)
}

/// Orders per client, for the clients module (through platform references).
/// `(SELECT COUNT(*) FROM wms_orders WHERE client_id = <id>)`, for the
/// clients module's read of one client.
pub fn count_of_client(id: sea_orm::sea_query::SimpleExpr) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{SimpleExpr, SubQueryStatement};
    let select = Query::select()
        .expr(Expr::col((order::Entity, order::Column::Id)).count())
        .from(order::Entity)
        .and_where(Expr::col((order::Entity, order::Column::ClientId)).eq(id))
        .to_owned();
    SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(select)))
}

pub async fn count_by_client(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, u64>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::ClientId)
        .column_as(order::Column::Id.count(), "n")
        .filter(order::Column::ClientId.is_in(ids.iter().copied()))
        .group_by(order::Column::ClientId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// Inserts an order's lines in their order.
pub async fn insert_lines(
    db: &impl ConnectionTrait,
    order_id: Uuid,
    lines: &[Line],
) -> Result<(), DbErr> {
    use sea_orm::{ActiveModelTrait, Set};
    for (i, l) in lines.iter().enumerate() {
        line::ActiveModel {
            id: Set(Uuid::now_v7()),
            order_id: Set(order_id),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            sku: Set(l.sku.clone()),
            description: Set(l.description.clone()),
            quantity: Set(l.quantity),
            returned_quantity: Set(l.returned),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Records how many units of each line (by position) came back.
pub async fn set_returned(
    db: &impl ConnectionTrait,
    order_id: Uuid,
    returned: &[(i32, i32)],
) -> Result<(), DbErr> {
    for (position, quantity) in returned {
        line::Entity::update_many()
            .col_expr(line::Column::ReturnedQuantity, Expr::value(*quantity))
            .filter(line::Column::OrderId.eq(order_id))
            .filter(line::Column::Position.eq(*position))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Replaces all of an order's lines.
pub async fn replace_lines(
    db: &impl ConnectionTrait,
    order_id: Uuid,
    lines: &[Line],
) -> Result<(), DbErr> {
    line::Entity::delete_many()
        .filter(line::Column::OrderId.eq(order_id))
        .exec(db)
        .await?;
    insert_lines(db, order_id, lines).await
}

/// Appends a status change to the order's history.
pub async fn record_history(
    db: &impl ConnectionTrait,
    actor: &Actor,
    order_id: Uuid,
    from: Option<Status>,
    to: Status,
    reason: Option<String>,
) -> Result<(), DbErr> {
    use sea_orm::{ActiveModelTrait, Set};
    history::ActiveModel {
        id: Set(Uuid::now_v7()),
        order_id: Set(order_id),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        actor_id: Set(actor.id.clone()),
        actor: Set(actor.label.clone()),
        at: Set(Utc::now()),
        reason: Set(reason),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Writes `change` if the order is still at `version`; `None` when another
/// write got there first.
pub async fn update_at_version(
    db: &impl ConnectionTrait,
    change: order::ActiveModel,
    id: Uuid,
    version: i32,
) -> Result<Option<order::Model>, DbErr> {
    Ok(order::Entity::update_many()
        .set(change)
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::Version.eq(version))
        .exec_with_returning(db)
        .await?
        .pop())
}

pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    order::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// How many orders there are in each status.
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

/// When each order created since `since` was created.
pub async fn created_since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, DbErr> {
    order::Entity::find()
        .select_only()
        .column(order::Column::CreatedAt)
        .filter(order::Column::CreatedAt.gte(since))
        .into_tuple()
        .all(db)
        .await
}

/// Returns since `since`, counted by reason code.
pub async fn returns_by_code(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<(Option<String>, u64)>, DbErr> {
    let rows: Vec<(Option<String>, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::ReturnCode)
        .column_as(order::Column::Id.count(), "n")
        .filter(order::Column::Status.eq(Status::Returned.as_str()))
        .filter(order::Column::ReturnedAt.gte(since))
        .group_by(order::Column::ReturnCode)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(c, n)| (c, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// Open orders (not yet shipped) created before `before`.
pub async fn count_open_before(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    order::Entity::find()
        .filter(order::Column::Status.is_in(OPEN.iter().map(|s| s.as_str())))
        .filter(order::Column::CreatedAt.lt(before))
        .count(db)
        .await
}

/// The statuses of orders still in the warehouse.
pub const OPEN: [Status; 3] = [Status::Received, Status::Picking, Status::Packing];

/// The latest status changes, newest first, with their orders' numbers.
pub async fn recent_history(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<(history::Model, String)>, DbErr> {
    let changes = history::Entity::find()
        .order_by_desc(history::Column::At)
        .order_by_desc(history::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = changes.iter().map(|h| h.order_id).collect();
    let numbers: HashMap<Uuid, String> = order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .column(order::Column::Number)
        .filter(order::Column::Id.is_in(ids))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(changes
        .into_iter()
        .filter_map(|h| {
            let n = numbers.get(&h.order_id)?.clone();
            Some((h, n))
        })
        .collect())
}
