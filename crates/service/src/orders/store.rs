//! Persistence of service orders, their lines, history and numbering:
//! entities and queries.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use faena_platform::auth::Actor;
use faena_platform::text;
use sea_orm::sea_query::{Expr, Func, LikeExpr, OnConflict, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    JoinType, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};
use uuid::Uuid;

use super::{EstimateLine, ServiceStatus};

pub mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub year: i32,
        pub client_id: Uuid,
        pub status: String,
        pub priority: String,
        pub device_type: String,
        pub brand: String,
        pub model: String,
        pub serial: Option<String>,
        pub accessories: Option<String>,
        pub condition_notes: Option<String>,
        pub reported_fault: String,
        pub diagnosis: Option<String>,
        pub promised_date: Option<Date>,
        pub technician_id: Option<Uuid>,
        pub warranty_of: Option<String>,
        pub cancel_reason: Option<String>,
        pub net_clp: i64,
        pub vat_clp: i64,
        pub total_clp: i64,
        /// Folded number, serial, device type, brand and model (decision 0025).
        pub search_text: String,
        /// Where the customer's notices go (the directory gives no email).
        pub contact_email: Option<String>,
        /// The public tracking page's secret (`/service/track/{token}`):
        /// it shows only status and dates.
        pub tracking_token: Option<String>,
        /// When the payments callback recorded a payment (step 4).
        pub paid_at: Option<DateTimeUtc>,
        pub paid_amount_clp: Option<i64>,
        /// The payment provider's reference: a second event with it
        /// changes nothing.
        pub payment_reference: Option<String>,
        /// When the customer was last reminded to collect the device.
        pub reminded_at: Option<DateTimeUtc>,
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
    #[sea_orm(table_name = "service_order_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub order_id: Uuid,
        pub position: i32,
        pub kind: String,
        pub description: String,
        pub quantity: i32,
        pub unit_price_clp: i64,
        pub discount_percent: i32,
        pub net_clp: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod history {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_order_history")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub order_id: Uuid,
        pub from_status: Option<String>,
        pub to_status: String,
        pub note: Option<String>,
        pub actor_id: Option<String>,
        pub actor: String,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approval {
    use sea_orm::entity::prelude::*;

    /// An estimate approval link: only its secret's SHA-256 is kept.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_approvals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub order_id: Uuid,
        pub token_hash: String,
        pub created_by: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
        pub used_at: Option<DateTimeUtc>,
        pub decision: Option<String>,
        pub signer_name: Option<String>,
        pub signer_ip: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The days the overdue digest was sent (step 4).
pub mod digest {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_digests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: Date,
        pub sent_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod counter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        pub last_number: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The next `count` numbers of `year`, taken inside the caller's
/// transaction: the first of the year creates its row, every later one
/// increments it. The row lock orders concurrent intakes on every replica
/// (SQLite: the one writer), and a rollback gives the numbers back, so
/// numbers have no gaps. Returns the last number taken.
pub async fn take_numbers(db: &impl ConnectionTrait, year: i32, count: i64) -> Result<i64, DbErr> {
    use counter::Column as C;
    let stmt = Query::insert()
        .into_table(counter::Entity)
        .columns([C::Year, C::LastNumber])
        .values_panic([year.into(), count.into()])
        .on_conflict(
            OnConflict::column(C::Year)
                .value(
                    C::LastNumber,
                    Expr::col((counter::Entity, C::LastNumber)).add(count),
                )
                .to_owned(),
        )
        .returning_col(C::LastNumber)
        .to_owned();
    let row = db
        .query_one(db.get_database_backend().build(&stmt))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("service_counters".into()))?;
    row.try_get("", "last_number")
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

/// The names an order shows, read in its own statement: its client's
/// (the directory's subquery, when it gives one) and its technician's.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub client: Option<String>,
    pub technician: Option<String>,
}

/// `(SELECT name FROM users WHERE id = service_orders.technician_id)`: the
/// platform's user names, in the order's own statement.
fn technician_name() -> SimpleExpr {
    use faena_platform::auth::entities::user;
    use sea_orm::sea_query::SubQueryStatement;
    let select = Query::select()
        .column((user::Entity, user::Column::Name))
        .from(user::Entity)
        .and_where(
            Expr::col((user::Entity, user::Column::Id))
                .equals((order::Entity, order::Column::TechnicianId)),
        )
        .to_owned();
    SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(select)))
}

/// Adds the names' columns to `q`; true when the client's is among them.
fn with_names<E: EntityTrait>(
    q: sea_orm::Select<E>,
    client_name: Option<SimpleExpr>,
) -> (sea_orm::Select<E>, bool) {
    let named = client_name.is_some();
    let mut q = q.expr_as(technician_name(), "technician_name");
    if let Some(name) = client_name {
        q = q.expr_as(name, "client_name");
    }
    (q, named)
}

fn names_of(row: &sea_orm::QueryResult, named: bool) -> Result<Names, DbErr> {
    Ok(Names {
        client: if named {
            row.try_get("", "client_name")?
        } else {
            None
        },
        technician: row.try_get("", "technician_name")?,
    })
}

/// One order and its names, in one statement.
pub async fn find_named(
    db: &impl ConnectionTrait,
    number: &str,
    client_name: Option<SimpleExpr>,
) -> Result<Option<(order::Model, Names)>, DbErr> {
    let q = order::Entity::find().filter(order::Column::Number.eq(number.trim().to_uppercase()));
    let (q, named) = with_names(q, client_name);
    let Some(row) = db.query_one(q.build(db.get_database_backend())).await? else {
        return Ok(None);
    };
    Ok(Some((
        order::Model::from_query_result(&row, "")?,
        names_of(&row, named)?,
    )))
}

/// One order with its lines (in order) and its names: one statement, the
/// lines joined, the names subqueries (decision 0030).
pub async fn find_with_lines(
    db: &impl ConnectionTrait,
    number: &str,
    client_name: Option<SimpleExpr>,
) -> Result<Option<(order::Model, Vec<line::Model>, Names)>, DbErr> {
    let join = order::Entity::belongs_to(line::Entity)
        .from(order::Column::Id)
        .to(line::Column::OrderId)
        .into();
    let q = order::Entity::find()
        .filter(order::Column::Number.eq(number.trim().to_uppercase()))
        .join(JoinType::LeftJoin, join)
        .select_also(line::Entity)
        .order_by_asc(line::Column::Position);
    let named = client_name.is_some();
    let mut q = q.expr_as(technician_name(), "technician_name");
    if let Some(name) = client_name {
        q = q.expr_as(name, "client_name");
    }
    let rows = db.query_all(q.build(db.get_database_backend())).await?;
    let mut found: Option<(order::Model, Vec<line::Model>, Names)> = None;
    for row in rows {
        let (_, lines, _) = match &mut found {
            Some(f) => f,
            None => found.insert((
                order::Model::from_query_result(&row, "A_")?,
                Vec::new(),
                names_of(&row, named)?,
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

/// What a list asks for, parsed.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub statuses: Vec<String>,
    pub priorities: Vec<String>,
    pub client_id: Option<Uuid>,
    pub technician_id: Option<Uuid>,
    pub unassigned: bool,
    /// `Some(true)`: not delivered or cancelled; `Some(false)`: those.
    pub open: Option<bool>,
    /// The search: the number typed in full, or folded terms that must all
    /// be found in the number, serial/IMEI, device type, brand or model.
    pub number: Option<String>,
    pub terms: Vec<String>,
    /// Clients whose name matched the search text.
    pub client_ids: Vec<Uuid>,
    /// Only the orders of a technician's queue: theirs and the unassigned.
    pub visible_to: Option<Option<Uuid>>,
    /// Newest first: after (created_at, id) of the last row seen.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u64,
}

const CLOSED: [ServiceStatus; 2] = [ServiceStatus::Delivered, ServiceStatus::Cancelled];

fn closed() -> impl Iterator<Item = &'static str> {
    CLOSED.iter().map(|s| s.as_str())
}

/// The orders matching `f`, newest first, after `f.before`, at most
/// `f.limit`, each with its names: one statement.
pub async fn list(
    db: &impl ConnectionTrait,
    f: &Filter,
    client_name: Option<SimpleExpr>,
) -> Result<Vec<(order::Model, Names)>, DbErr> {
    use order::Column as C;
    let mut q = order::Entity::find();
    if !f.statuses.is_empty() {
        q = q.filter(C::Status.is_in(f.statuses.clone()));
    }
    if !f.priorities.is_empty() {
        q = q.filter(C::Priority.is_in(f.priorities.clone()));
    }
    if let Some(id) = f.client_id {
        q = q.filter(C::ClientId.eq(id));
    }
    if let Some(id) = f.technician_id {
        q = q.filter(C::TechnicianId.eq(id));
    }
    if f.unassigned {
        q = q.filter(C::TechnicianId.is_null());
    }
    match f.open {
        Some(true) => q = q.filter(C::Status.is_not_in(closed())),
        Some(false) => q = q.filter(C::Status.is_in(closed())),
        None => {}
    }
    if let Some(visible) = f.visible_to {
        let mut any = Condition::any().add(C::TechnicianId.is_null());
        if let Some(me) = visible {
            any = any.add(C::TechnicianId.eq(me));
        }
        q = q.filter(any);
    }
    if f.number.is_some() || !f.terms.is_empty() {
        let mut any = Condition::any();
        if let Some(n) = &f.number {
            let pattern = LikeExpr::new(text::like_pattern(n)).escape('\\');
            any = any.add(Expr::expr(Func::upper(Expr::col(C::Number))).like(pattern));
        }
        if !f.terms.is_empty() {
            let mut all = Condition::all();
            for t in &f.terms {
                all =
                    all.add(C::SearchText.like(LikeExpr::new(text::like_pattern(t)).escape('\\')));
            }
            any = any.add(all);
        }
        if !f.client_ids.is_empty() {
            any = any.add(C::ClientId.is_in(f.client_ids.clone()));
        }
        q = q.filter(any);
    }
    if let Some((at, id)) = f.before {
        q = q.filter(
            Condition::any()
                .add(C::CreatedAt.lt(at))
                .add(Condition::all().add(C::CreatedAt.eq(at)).add(C::Id.lt(id))),
        );
    }
    let (q, named) = with_names(q, client_name);
    let q = q
        .order_by_desc(C::CreatedAt)
        .order_by_desc(C::Id)
        .limit(f.limit);
    db.query_all(q.build(db.get_database_backend()))
        .await?
        .iter()
        .map(|row| {
            Ok((
                order::Model::from_query_result(row, "")?,
                names_of(row, named)?,
            ))
        })
        .collect()
}

/// Replaces all of an order's lines.
pub async fn replace_lines(
    db: &impl ConnectionTrait,
    order_id: Uuid,
    lines: &[EstimateLine],
) -> Result<(), DbErr> {
    line::Entity::delete_many()
        .filter(line::Column::OrderId.eq(order_id))
        .exec(db)
        .await?;
    for (i, l) in lines.iter().enumerate() {
        line::ActiveModel {
            id: Set(Uuid::now_v7()),
            order_id: Set(order_id),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            kind: Set(l.kind.as_str().to_owned()),
            description: Set(l.description.clone()),
            quantity: Set(l.quantity),
            unit_price_clp: Set(l.unit_price_clp),
            discount_percent: Set(l.discount_percent),
            net_clp: Set(l.net_clp),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The names of the users with these ids (as the history keeps them, in
/// text), in one statement; ids that are not users' are left out.
pub async fn user_names<'a>(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = &'a str>,
) -> Result<std::collections::HashMap<String, String>, DbErr> {
    use faena_platform::auth::entities::user;
    let ids: std::collections::BTreeSet<Uuid> =
        ids.filter_map(|i| Uuid::parse_str(i).ok()).collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(Uuid, String)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Name)
        .filter(user::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect())
}

/// Appends a status change to the order's history.
pub async fn record_history(
    db: &impl ConnectionTrait,
    actor: &Actor,
    order_id: Uuid,
    from: Option<ServiceStatus>,
    to: ServiceStatus,
    note: Option<String>,
) -> Result<(), DbErr> {
    history::ActiveModel {
        id: Set(Uuid::now_v7()),
        order_id: Set(order_id),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        note: Set(note),
        actor_id: Set(actor.id.clone()),
        actor: Set(actor.label.clone()),
        at: Set(Utc::now()),
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

/// Open orders per technician.
pub async fn open_load(
    db: &impl ConnectionTrait,
    technicians: &[Uuid],
) -> Result<HashMap<Uuid, u64>, DbErr> {
    if technicians.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Option<Uuid>, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::TechnicianId)
        .column_as(order::Column::Id.count(), "n")
        .filter(order::Column::TechnicianId.is_in(technicians.iter().copied()))
        .filter(order::Column::Status.is_not_in(closed()))
        .group_by(order::Column::TechnicianId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, n)| Some((id?, u64::try_from(n).unwrap_or(0))))
        .collect())
}

/// `(SELECT COUNT(*) FROM service_orders WHERE client_id = <id>)`, for the
/// clients module's read of one client.
pub fn count_of_client(id: SimpleExpr) -> SimpleExpr {
    use sea_orm::sea_query::SubQueryStatement;
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

pub async fn find_by_tracking(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find()
        .filter(order::Column::TrackingToken.eq(token))
        .one(db)
        .await
}

pub async fn find_by_id(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find_by_id(id).one(db).await
}

pub async fn approval_by_hash(
    db: &impl ConnectionTrait,
    hash: &str,
) -> Result<Option<approval::Model>, DbErr> {
    approval::Entity::find()
        .filter(approval::Column::TokenHash.eq(hash))
        .one(db)
        .await
}

/// The order's approval links, newest first.
pub async fn approvals_of(
    db: &impl ConnectionTrait,
    order_id: Uuid,
) -> Result<Vec<approval::Model>, DbErr> {
    approval::Entity::find()
        .filter(approval::Column::OrderId.eq(order_id))
        .order_by_desc(approval::Column::CreatedAt)
        .order_by_desc(approval::Column::Id)
        .all(db)
        .await
}

/// Writes a new link and revokes the order's earlier unused ones (only
/// the newest mailed estimate may be answered).
pub async fn insert_approval(
    db: &impl ConnectionTrait,
    link: approval::Model,
) -> Result<(), DbErr> {
    approval::Entity::update_many()
        .col_expr(approval::Column::RevokedAt, Expr::value(link.created_at))
        .filter(approval::Column::OrderId.eq(link.order_id))
        .filter(approval::Column::UsedAt.is_null())
        .filter(approval::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    let active: approval::ActiveModel = link.into();
    active.insert(db).await?;
    Ok(())
}

/// Marks the link used, if it still was unused: false when another
/// answer got there first.
pub async fn use_approval(
    db: &impl ConnectionTrait,
    id: Uuid,
    decision: &str,
    name: &str,
    ip: Option<String>,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = approval::Entity::update_many()
        .col_expr(approval::Column::UsedAt, Expr::value(at))
        .col_expr(approval::Column::Decision, Expr::value(decision))
        .col_expr(approval::Column::SignerName, Expr::value(name))
        .col_expr(approval::Column::SignerIp, Expr::value(ip))
        .filter(approval::Column::Id.eq(id))
        .filter(approval::Column::UsedAt.is_null())
        .filter(approval::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
