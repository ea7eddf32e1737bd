//! `/api/orders`: seed 004's paths, done properly.

use crate::perms;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use faena_platform::auth::Actor;
use faena_platform::auth::secured;
use faena_platform::http::etag::{IfMatch, etag};
use faena_platform::http::pagination::{List, Page, PageQuery};
use faena_platform::http::{Created, Json, Query};
use faena_platform::{AppResult, AppState, FieldError, FieldErrors};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::service::{self, HistoryEntry, NewOrder, OrderUpdate, OrderView};
use super::{Status, store};

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::ORDERS_READ, routes!(list_orders)))
        .routes(secured(perms::ORDERS_WRITE, routes!(create_order)))
        .routes(secured(perms::ORDERS_READ, routes!(list_returns)))
        .routes(secured(perms::ORDERS_READ, routes!(export_orders)))
        .routes(secured(perms::ORDERS_READ, routes!(find_order)))
        .routes(secured(perms::ORDERS_WRITE, routes!(update_order)))
        .routes(secured(perms::ORDERS_DELETE, routes!(delete_order)))
        .routes(secured(perms::ORDERS_READ, routes!(list_order_history)))
}

#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
pub struct OrderFilter {
    /// One status or several, comma-separated (`picking,packing`).
    pub status: Option<String>,
    pub client_id: Option<Uuid>,
    /// Created from this day (`2026-11-01`) or instant (RFC 3339), inclusive.
    pub from: Option<String>,
    /// Created before this day (inclusive) or instant (exclusive).
    pub to: Option<String>,
    /// Searches the order number and the client's name.
    pub q: Option<String>,
}

/// Orders, newest first: the position is the last one's (created_at, id).
const ORDERS: List<(DateTime<Utc>, Uuid)> = List::new("wms.orders");

fn parse_instant(field: &str, raw: &str, end_of_day: bool) -> Result<DateTime<Utc>, FieldError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| FieldError::new(field, "invalid_date"))?;
    let day = if end_of_day {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// Turns the query into a store filter, resolving client names.
pub async fn store_filter(
    state: &AppState,
    f: &OrderFilter,
    page: &PageQuery,
    forced_status: Option<Status>,
) -> AppResult<(store::Filter, u64)> {
    let mut errors = FieldErrors::new();
    let (limit, before) = ORDERS.read(page, &mut errors);
    let mut statuses = Vec::new();
    if let Some(s) = forced_status {
        statuses.push(s.as_str().to_owned());
    } else if let Some(list) = f.status.as_deref().filter(|s| !s.trim().is_empty()) {
        for s in list.split(',').map(str::trim) {
            match Status::parse(s) {
                Some(st) => statuses.push(st.as_str().to_owned()),
                None => errors.push(FieldError::new("status", "unknown_status").with("value", s)),
            }
        }
    }
    let from = f
        .from
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| errors.take(parse_instant("from", s, false)));
    let to =
        f.to.as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| errors.take(parse_instant("to", s, true)));
    errors.finish()?;
    let q = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let client_ids = match (q, state.directory("client")) {
        (Some(q), Some(dir)) => Some(dir.search(state.db(), q, 200).await?),
        _ => None,
    };
    let filter = store::Filter {
        statuses,
        client_id: f.client_id,
        client_ids,
        number_like: q.map(|q| q.to_uppercase()),
        from,
        to,
        before,
        limit: limit + 1,
    };
    Ok((filter, limit))
}

/// A page of orders with their lines and client names.
pub async fn search(
    state: &AppState,
    f: &OrderFilter,
    page: &PageQuery,
    forced_status: Option<Status>,
) -> AppResult<Page<OrderView>> {
    let (filter, limit) = store_filter(state, f, page, forced_status).await?;
    let rows = store::list(state.db(), &filter).await?;
    let Page {
        items: rows,
        next_cursor,
        ..
    } = ORDERS.page(rows, limit, |m| (m.created_at, m.id));
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let client_ids: Vec<Uuid> = rows.iter().map(|m| m.client_id).collect();
    let mut lines = store::lines_of(state.db(), &ids).await?;
    let names = match state.directory("client") {
        Some(dir) => dir.names(state.db(), &client_ids).await?,
        None => Default::default(),
    };
    let items = rows
        .into_iter()
        .map(|m| {
            let l = lines.remove(&m.id).unwrap_or_default();
            let name = names.get(&m.client_id).cloned();
            service::view(m, l, name)
        })
        .collect();
    Ok(Page {
        items,
        next_cursor,
        next: None,
    })
}

/// List orders, newest first, with client names.
#[utoipa::path(get, path = "/api/orders", tag = "orders",
    params(OrderFilter, PageQuery),
    responses((status = 200, body = Page<OrderView>)))]
async fn list_orders(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<OrderFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<OrderView>>> {
    Ok(Json(search(&state, &f, &page, None).await?.linked(&uri)))
}

/// Returned orders, newest first, with their reasons.
#[utoipa::path(get, path = "/api/orders/returns", tag = "orders",
    params(OrderFilter, PageQuery),
    responses((status = 200, body = Page<OrderView>)))]
async fn list_returns(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<OrderFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<OrderView>>> {
    Ok(Json(
        search(&state, &f, &page, Some(Status::Returned))
            .await?
            .linked(&uri),
    ))
}

/// Create an order for an existing client (`Idempotency-Key` honoured).
#[utoipa::path(post, path = "/api/orders", tag = "orders",
    request_body = NewOrder,
    responses((status = 201, body = OrderView), (status = 422, description = "Invalid field, e.g. unknown client_id"),
              (status = 409, description = "Number taken")))]
async fn create_order(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<NewOrder>,
) -> AppResult<impl IntoResponse> {
    let v = service::create(&state, &actor, input).await?;
    Ok(Created::versioned(
        format!("/api/orders/{}", v.number),
        v.version,
        v,
    ))
}

/// Show an order.
#[utoipa::path(get, path = "/api/orders/{number}", tag = "orders",
    params(("number" = String, Path, description = "Order number")),
    responses((status = 200, body = OrderView), (status = 404, description = "No such order")))]
async fn find_order(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> AppResult<impl IntoResponse> {
    let v = service::find(&state, &number).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Change an order and/or move it to another status (`If-Match` honoured).
/// `returned` needs `return_reason`; a move the rules refuse is a 409 that
/// lists the `allowed` next states.
#[utoipa::path(put, path = "/api/orders/{number}", tag = "orders",
    params(("number" = String, Path, description = "Order number")),
    request_body = OrderUpdate,
    responses((status = 200, body = OrderView), (status = 409, description = "Transition not allowed"),
              (status = 412, description = "Stale version"), (status = 422, description = "Invalid field")))]
async fn update_order(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(number): Path<String>,
    Json(change): Json<OrderUpdate>,
) -> AppResult<impl IntoResponse> {
    let v = service::update(&state, &actor, &number, if_match, change).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Delete an order that is still `received`, or `cancelled`.
#[utoipa::path(delete, path = "/api/orders/{number}", tag = "orders",
    params(("number" = String, Path, description = "Order number")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "Already in progress")))]
async fn delete_order(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(number): Path<String>,
) -> AppResult<StatusCode> {
    service::delete(&state, &actor, &number, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The order's status changes: who, when, and why.
#[utoipa::path(get, path = "/api/orders/{number}/history", tag = "orders",
    params(("number" = String, Path, description = "Order number")),
    responses((status = 200, body = Vec<HistoryEntry>)))]
async fn list_order_history(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> AppResult<Json<Vec<HistoryEntry>>> {
    Ok(Json(service::history_of(&state, &number).await?))
}

/// Orders as CSV (UTF-8 with BOM, `;`-separated for spreadsheets set to
/// Spanish; `delimiter=comma` for `,`), with the list's filters.
#[utoipa::path(get, path = "/api/orders/export.csv", tag = "orders",
    params(super::csv::ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
async fn export_orders(
    State(state): State<AppState>,
    page: faena_platform::ui::PageContext,
    Query(q): Query<super::csv::ExportQuery>,
) -> AppResult<impl IntoResponse> {
    super::csv::export(&state, page.locale, q).await
}
