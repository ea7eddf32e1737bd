//! Order commands, each one transaction: the change, its status history,
//! and its audit entry, committed together; then a realtime event on the
//! `orders` topic tells open pages and API subscribers what changed.

use chrono::{DateTime, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::Actor;
use faena_platform::http::etag::IfMatch;
use faena_platform::http::pagination::{List, Page, PageQuery};
use faena_platform::ui::list::{self, Column, ListRequest};
use faena_platform::{AppError, AppResult, AppState, FieldError, FieldErrors, Problem};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ActiveModelTrait, Set};
use sea_orm::{ColumnTrait, IntoSimpleExpr, Order};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, OrderFilter, history, line, order};
use super::{
    Line, LineInput, OrderNumber, ReturnCode, ReturnLine, Status, TransitionError, parse_lines,
    returned_quantities, transition,
};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    pub number: String,
    pub client_id: Uuid,
    /// The client's name at the time of reading.
    pub client_name: Option<String>,
    pub status: Status,
    /// Where the order may go next.
    pub allowed_next: Vec<Status>,
    pub lines: Vec<Line>,
    pub notes: Option<String>,
    pub return_reason: Option<String>,
    pub return_code: Option<ReturnCode>,
    pub returned_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl From<history::Model> for HistoryEntry {
    fn from(h: history::Model) -> Self {
        HistoryEntry {
            from_status: h.from_status.as_deref().and_then(Status::parse),
            to_status: Status::parse(&h.to_status).unwrap_or(Status::Received),
            actor: h.actor,
            at: h.at,
            reason: h.reason,
        }
    }
}

/// The realtime topic of order changes; reading it needs `wms.orders.read`.
pub const TOPIC: &str = "orders";

/// What an `orders` event carries: which order, and where it stands. Just
/// enough for a subscriber to decide whether to re-read it (no client data:
/// subscribers re-read through the permission-checked API or pages).
#[derive(Debug, Serialize)]
struct OrderEvent<'a> {
    number: &'a str,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_status: Option<Status>,
    version: i32,
}

/// Announces a committed change. A failure to announce never undoes the
/// change: it is logged.
fn announce(state: &AppState, kind: &str, event: OrderEvent<'_>) {
    if let Err(e) = state.realtime().publish(TOPIC, kind, &event) {
        tracing::error!(error = %e, kind, order.number = %event.number, "order event not published");
    }
}

/// Queues the change's webhook deliveries (`order.created`,
/// `order.updated`, `order.status_changed`, `order.deleted`, with the
/// order as the API shows it) in its transaction: a change that rolls back
/// notifies nobody. True when some endpoint wants it (wake the worker
/// after the commit).
async fn notify(
    txn: &impl sea_orm::ConnectionTrait,
    kind: &str,
    order: &OrderView,
) -> Result<bool, sea_orm::DbErr> {
    let data = serde_json::to_value(order).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
    Ok(faena_platform::webhooks::emit(txn, kind, data)
        .await?
        .is_some())
}

pub fn status_of(m: &order::Model) -> Status {
    Status::parse(&m.status).unwrap_or(Status::Received)
}

pub fn view(m: order::Model, lines: Vec<line::Model>, client_name: Option<String>) -> OrderView {
    let status = status_of(&m);
    OrderView {
        number: m.number,
        client_id: m.client_id,
        client_name,
        status,
        allowed_next: status.next().to_vec(),
        lines: lines
            .into_iter()
            .map(|l| Line {
                sku: l.sku,
                description: l.description,
                quantity: l.quantity,
                returned: l.returned_quantity,
            })
            .collect(),
        notes: m.notes,
        return_reason: m.return_reason,
        return_code: m.return_code.as_deref().and_then(ReturnCode::parse),
        returned_at: m.returned_at,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    }
}

async fn client_name(state: &AppState, id: Uuid) -> AppResult<Option<String>> {
    let Some(dir) = state.directory("client") else {
        return Ok(None);
    };
    Ok(dir.names(state.db(), &[id]).await?.remove(&id))
}

#[tracing::instrument(skip_all, fields(order.number = %number))]
pub async fn find(state: &AppState, number: &str) -> AppResult<OrderView> {
    let dir = state.directory("client");
    let name_of =
        dir.and_then(|d| d.name_of(Expr::col((order::Entity, order::Column::ClientId)).into()));
    let asked_name = name_of.is_some();
    let (m, lines, mut name) = store::find_with_lines(state.db(), number, name_of)
        .await?
        .ok_or(AppError::NotFound)?;
    if !asked_name {
        name = client_name(state, m.client_id).await?;
    }
    Ok(view(m, lines, name))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// Given, or generated as `ORD-000123`.
    #[serde(default)]
    pub number: Option<String>,
    pub client_id: Uuid,
    pub lines: Vec<LineInput>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A change to an order (`PUT`): any of its fields, and/or a move to a new
/// status (with the reason when it is `returned`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderUpdate {
    pub status: Option<Status>,
    pub return_reason: Option<String>,
    pub return_code: Option<ReturnCode>,
    pub client_id: Option<Uuid>,
    pub lines: Option<Vec<LineInput>>,
    pub notes: Option<String>,
    /// With `status: returned`: the lines and units that came back; when
    /// absent, the whole order came back.
    pub return_lines: Option<Vec<ReturnLine>>,
}

fn notes(raw: Option<&str>, errors: &mut FieldErrors) -> Option<String> {
    let n = raw.map(str::trim).filter(|n| !n.is_empty())?;
    if n.chars().count() > 4000 {
        errors.push(FieldError::new("notes", "too_long").with("max", 4000));
        return None;
    }
    Some(n.to_owned())
}

async fn check_client(state: &AppState, id: Uuid, errors: &mut FieldErrors) -> AppResult<()> {
    let known = match state.directory("client") {
        Some(dir) => !dir.names(state.db(), &[id]).await?.is_empty(),
        None => false,
    };
    if !known {
        errors.push(FieldError::new("client_id", "unknown_client"));
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create(state: &AppState, actor: &Actor, input: NewOrder) -> AppResult<OrderView> {
    let mut errors = FieldErrors::new();
    let given = input
        .number
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .and_then(|n| errors.take(OrderNumber::parse(n)));
    let lines = parse_lines(&input.lines, &mut errors);
    let notes = notes(input.notes.as_deref(), &mut errors);
    check_client(state, input.client_id, &mut errors).await?;
    errors.finish()?;

    let txn = state.begin_write().await?;
    let number = match given {
        Some(n) => {
            if store::find_by_number(&txn, n.as_str()).await?.is_some() {
                return Err(AppError::Conflict {
                    code: "duplicate_order_number",
                    field: Some("number".into()),
                    params: vec![],
                });
            }
            n
        }
        None => loop {
            // Skip numbers someone gave by hand.
            let candidate = OrderNumber::generated(store::next_number(&txn).await?);
            if store::find_by_number(&txn, candidate.as_str())
                .await?
                .is_none()
            {
                break candidate;
            }
        },
    };
    let now = Utc::now();
    let id = Uuid::now_v7();
    let model = order::ActiveModel {
        id: Set(id),
        number: Set(number.as_str().to_owned()),
        client_id: Set(input.client_id),
        status: Set(Status::Received.as_str().to_owned()),
        notes: Set(notes),
        return_reason: Set(None),
        return_code: Set(None),
        returned_at: Set(None),
        created_by: Set(actor.label.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&txn)
    .await?;
    store::insert_lines(&txn, id, &lines).await?;
    store::record_history(&txn, actor, id, None, Status::Received, None).await?;
    let lines_now = store::lines(&txn, id).await?;
    let v = view(model, lines_now, client_name(state, input.client_id).await?);
    audit::record(
        &txn,
        actor,
        Entry::new("create", "order", v.number.clone()).after(&v),
    )
    .await?;
    let hooked = notify(&txn, "order.created", &v).await?;
    txn.commit().await?;
    if hooked {
        state.jobs().wake();
    }
    announce(
        state,
        "order.created",
        OrderEvent {
            number: &v.number,
            status: v.status,
            from_status: None,
            version: v.version,
        },
    );
    Ok(v)
}

fn transition_problem(err: TransitionError) -> AppError {
    match err {
        TransitionError::ReasonRequired => {
            FieldError::new("return_reason", "return_reason_required").into()
        }
        TransitionError::NotAllowed { from, to, allowed } => {
            let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            let mut p = Problem::new(axum::http::StatusCode::CONFLICT, "invalid_transition")
                .with_extension("from", from.as_str().into())
                .with_extension("to", to.as_str().into())
                .with_extension("allowed", names.clone().into());
            p.params = vec![
                ("from", from.as_str().to_owned()),
                ("to", to.as_str().to_owned()),
                (
                    "allowed",
                    if names.is_empty() {
                        "—".to_owned()
                    } else {
                        names.join(", ")
                    },
                ),
            ];
            AppError::Problem(Box::new(p))
        }
    }
}

#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn update(
    state: &AppState,
    actor: &Actor,
    number: &str,
    if_match: IfMatch,
    change: OrderUpdate,
) -> AppResult<OrderView> {
    let txn = state.begin_write().await?;
    let current = store::find_by_number(&txn, number)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let status = status_of(&current);
    let before = view(current.clone(), store::lines(&txn, current.id).await?, None);

    let mut errors = FieldErrors::new();
    let lines = change.lines.as_ref().map(|l| parse_lines(l, &mut errors));
    let new_notes = change.notes.as_deref().map(|n| notes(Some(n), &mut errors));
    if let Some(client) = change.client_id
        && client != current.client_id
    {
        check_client(state, client, &mut errors).await?;
    }
    errors.finish()?;
    let edits_items = lines.is_some() || change.client_id.is_some_and(|c| c != current.client_id);
    if edits_items && !status.is_editable() {
        return Err(AppError::Conflict {
            code: "order_not_editable",
            field: None,
            params: vec![("status", status.as_str().to_owned())],
        });
    }
    let to_returned = change.status == Some(Status::Returned) && status != Status::Returned;
    let returned = if to_returned {
        let mut errors = FieldErrors::new();
        let q = returned_quantities(&before.lines, change.return_lines.as_deref(), &mut errors);
        errors.finish()?;
        Some(q)
    } else if change.return_lines.is_some() {
        return Err(FieldError::new("return_lines", "return_lines_without_return").into());
    } else {
        None
    };
    let moved = match change.status.filter(|s| *s != status) {
        Some(to) => Some(
            transition(
                status,
                to,
                change.return_reason.as_deref(),
                change.return_code,
            )
            .map_err(transition_problem)?,
        ),
        None => None,
    };

    let mut active: order::ActiveModel = current.clone().into();
    if let Some(n) = new_notes {
        active.notes = Set(n);
    }
    if let Some(c) = change.client_id {
        active.client_id = Set(c);
    }
    if let Some(t) = &moved {
        active.status = Set(t.to.as_str().to_owned());
        if let Some(reason) = &t.reason {
            active.return_reason = Set(Some(reason.text.clone()));
            active.return_code = Set(Some(reason.code.as_str().to_owned()));
            active.returned_at = Set(Some(Utc::now()));
        }
    }
    active.updated_at = Set(Utc::now());
    active.version = Set(current.version + 1);
    let updated = store::update_at_version(&txn, active, current.id, current.version)
        .await?
        .ok_or(AppError::PreconditionFailed)?;
    if let Some(lines) = &lines {
        store::replace_lines(&txn, current.id, lines).await?;
    }
    if let (Some(returned), Some(_)) = (&returned, &moved) {
        let by_position: Vec<(i32, i32)> = returned
            .iter()
            .enumerate()
            .map(|(i, q)| (i32::try_from(i).unwrap_or(i32::MAX), *q))
            .collect();
        store::set_returned(&txn, current.id, &by_position).await?;
    }
    if let Some(t) = &moved {
        store::record_history(
            &txn,
            actor,
            current.id,
            Some(t.from),
            t.to,
            t.reason.as_ref().map(|r| r.text.clone()),
        )
        .await?;
    }
    let lines_now = store::lines(&txn, current.id).await?;
    let v = view(
        updated,
        lines_now,
        client_name(state, current.client_id).await?,
    );
    let action = if moved.is_some() {
        "transition"
    } else {
        "update"
    };
    audit::record(
        &txn,
        actor,
        Entry::new(action, "order", v.number.clone())
            .before(&before)
            .after(&v),
    )
    .await?;
    let kind = if moved.is_some() {
        "order.status_changed"
    } else {
        "order.updated"
    };
    let hooked = notify(&txn, kind, &v).await?;
    txn.commit().await?;
    if hooked {
        state.jobs().wake();
    }
    announce(
        state,
        kind,
        OrderEvent {
            number: &v.number,
            status: v.status,
            from_status: moved.as_ref().map(|t| t.from),
            version: v.version,
        },
    );
    Ok(v)
}

/// Deletes an order that has not started (received) or was cancelled.
#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    number: &str,
    if_match: IfMatch,
) -> AppResult<()> {
    let txn = state.begin_write().await?;
    let current = store::find_by_number(&txn, number)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let status = status_of(&current);
    if !matches!(status, Status::Received | Status::Cancelled) {
        return Err(AppError::Conflict {
            code: "order_not_deletable",
            field: None,
            params: vec![("status", status.as_str().to_owned())],
        });
    }
    let before = view(current.clone(), store::lines(&txn, current.id).await?, None);
    store::delete(&txn, current.id).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("delete", "order", current.number.clone()).before(&before),
    )
    .await?;
    let hooked = notify(&txn, "order.deleted", &before).await?;
    // Its attachments go with it (purged by a job).
    let files = faena_platform::files::service::delete_owner_files(
        &txn,
        actor,
        crate::ORDER_FILES,
        &current.number,
    )
    .await?;
    txn.commit().await?;
    if hooked || files > 0 {
        state.jobs().wake();
    }
    announce(
        state,
        "order.deleted",
        OrderEvent {
            number: &current.number,
            status,
            from_status: None,
            version: current.version,
        },
    );
    Ok(())
}

pub async fn history_of(state: &AppState, number: &str) -> AppResult<Vec<HistoryEntry>> {
    let m = store::find_by_number(state.db(), number)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(store::history(state.db(), m.id)
        .await?
        .into_iter()
        .map(HistoryEntry::from)
        .collect())
}

/// Orders, newest first: the position is the last one's (created_at, id).
const ORDERS: List<(DateTime<Utc>, Uuid)> = List::new("wms.orders");

/// A page of orders with their lines and client names.
#[tracing::instrument(skip_all)]
pub async fn search(
    state: &AppState,
    f: &OrderFilter,
    page: &PageQuery,
    forced_status: Option<Status>,
    zone: chrono_tz::Tz,
) -> AppResult<Page<OrderView>> {
    let mut errors = FieldErrors::new();
    let (limit, before) = ORDERS.read(page, &mut errors);
    let filter = parse_filter(state, f, forced_status, before, limit + 1, zone, errors).await?;
    let dir = state.directory("client");
    let name_of =
        dir.and_then(|d| d.name_of(Expr::col((order::Entity, order::Column::ClientId)).into()));
    let named = name_of.is_some();
    // The names in the same statement as the orders; the lines in one more.
    let rows = store::list(state.db(), &filter, name_of).await?;
    let Page {
        items: rows,
        next_cursor,
        ..
    } = ORDERS.page(rows, limit, |(m, _)| (m.created_at, m.id));
    let ids: Vec<Uuid> = rows.iter().map(|(m, _)| m.id).collect();
    let mut lines = store::lines_of(state.db(), &ids).await?;
    let names = match dir {
        Some(dir) if !named => {
            let client_ids: Vec<Uuid> = rows.iter().map(|(m, _)| m.client_id).collect();
            dir.names(state.db(), &client_ids).await?
        }
        _ => Default::default(),
    };
    Ok(Page {
        items: rows
            .into_iter()
            .map(|(m, name)| {
                let l = lines.remove(&m.id).unwrap_or_default();
                let name = name.or_else(|| names.get(&m.client_id).cloned());
                view(m, l, name)
            })
            .collect(),
        next_cursor,
        next: None,
    })
}

/// The columns of the orders list page; `list_page` sorts by these.
pub const LIST_COLUMNS: &[Column] = &[
    Column::new("number", "orders.number").sortable(),
    Column::new("client", "orders.client").sortable(),
    Column::new("status", "orders.status").sortable(),
    Column::new("units", "orders.units").num(),
    Column::new("created_at", "orders.created_at").sortable(),
];

/// A numbered page of orders for the list pages, in the request's order,
/// with the total.
pub async fn list_page(
    state: &AppState,
    f: &OrderFilter,
    request: &mut ListRequest,
    forced_status: Option<Status>,
    zone: chrono_tz::Tz,
) -> AppResult<(Vec<OrderView>, u64)> {
    use store::order::Column as C;
    let filter = parse_filter(state, f, forced_status, None, 0, zone, FieldErrors::new()).await?;
    let dir = || request.order();
    let mut order: Vec<(SimpleExpr, Order)> = match request.sort {
        "number" => vec![(C::Number.into_simple_expr(), dir())],
        // Status in the order of its flow, not of its name.
        "status" => {
            let mut flow = Expr::case(C::Status.eq(Status::ALL[0].as_str()), 0);
            for (i, s) in Status::ALL.iter().enumerate().skip(1) {
                flow = flow.case(
                    C::Status.eq(s.as_str()),
                    i32::try_from(i).unwrap_or(i32::MAX),
                );
            }
            vec![
                (flow.finally(i32::MAX).into(), dir()),
                (C::CreatedAt.into_simple_expr(), Order::Desc),
            ]
        }
        // By the client's name in Spanish order, as the clients module
        // sorts it (its directory writes the expression), newest first
        // within a client.
        "client" => match state
            .directory("client")
            .and_then(|d| d.sort_key_of(Expr::col((store::order::Entity, C::ClientId)).into()))
        {
            Some(key) => vec![(key, dir()), (C::CreatedAt.into_simple_expr(), Order::Desc)],
            None => vec![(C::CreatedAt.into_simple_expr(), dir())],
        },
        _ => vec![(C::CreatedAt.into_simple_expr(), dir())],
    };
    order.push((C::Id.into_simple_expr(), dir()));
    let (rows, total) = list::fetch(state.db(), store::select(&filter), order, request).await?;
    Ok((views(state, rows).await?, total))
}

async fn parse_filter(
    state: &AppState,
    f: &OrderFilter,
    forced_status: Option<Status>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
    zone: chrono_tz::Tz,
    mut errors: FieldErrors,
) -> AppResult<store::Filter> {
    let mut filter = store::Filter::parse(f, forced_status, before, limit, zone, &mut errors);
    errors.finish()?;
    if let (Some(q), Some(dir)) = (f.search(), state.directory("client")) {
        filter.client_ids = Some(dir.search(state.db(), q, 1000).await?);
    }
    Ok(filter)
}

/// Orders as lists show them: with their lines and their clients' names.
async fn views(state: &AppState, rows: Vec<order::Model>) -> AppResult<Vec<OrderView>> {
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let client_ids: Vec<Uuid> = rows.iter().map(|m| m.client_id).collect();
    let mut lines = store::lines_of(state.db(), &ids).await?;
    let names = match state.directory("client") {
        Some(dir) => dir.names(state.db(), &client_ids).await?,
        None => Default::default(),
    };
    Ok(rows
        .into_iter()
        .map(|m| {
            let l = lines.remove(&m.id).unwrap_or_default();
            let name = names.get(&m.client_id).cloned();
            view(m, l, name)
        })
        .collect())
}
