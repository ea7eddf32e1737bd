//! `/api/orders`: seed 004's paths, done properly.

use faena_platform::prelude::*;

use super::Status;
use super::service::{self, HistoryEntry, NewOrder, OrderUpdate, OrderView, search};
use super::store::OrderFilter;
use crate::perms;

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

/// List orders, newest first, with client names.
#[utoipa::path(get, path = "/api/orders", tag = "orders",
    params(OrderFilter, PageQuery),
    responses((status = 200, body = Page<OrderView>)))]
async fn list_orders(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<OrderFilter>,
    Query(page): Query<PageQuery>,
    Zone(zone): Zone,
) -> AppResult<Json<Page<OrderView>>> {
    Ok(Json(
        search(&state, &f, &page, None, zone).await?.linked(&uri),
    ))
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
    Zone(zone): Zone,
) -> AppResult<Json<Page<OrderView>>> {
    Ok(Json(
        search(&state, &f, &page, Some(Status::Returned), zone)
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
/// Spanish; `delimiter=comma` for `,`), with the list's filters and order.
#[utoipa::path(get, path = "/api/orders/export.csv", tag = "orders",
    params(super::csv::ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
async fn export_orders(
    State(state): State<AppState>,
    page: faena_platform::ui::PageContext,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(q): Query<super::csv::ExportQuery>,
    Zone(zone): Zone,
) -> AppResult<impl IntoResponse> {
    super::csv::export(&state, page.locale, zone, uri.query(), q).await
}
