//! `/api/service-orders`: seed 003's `/api/ordenes/`, done properly.
//!
//! Each route names the permission it needs at the door; inside, an order
//! a technician may not see is "not found", and a move is checked against
//! the caller's station (decision 0031).

use faena_platform::auth::Principal;
use faena_platform::prelude::*;

use super::labels::LabelQuery;
use super::search::{self, OrderFilter};
use super::service;
use super::views::{
    EstimateLinesInput, NewServiceOrder, ServiceAssignInput, ServiceDiagnosisInput,
    ServiceEstimateSendInput, ServiceOrderUpdate, ServiceOrderView, ServiceTransitionInput, caller,
};
use crate::perms;
use crate::printers::service::{ServicePrintInput, ServicePrintJobView};

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::ORDERS_READ, routes!(list_service_orders)))
        .routes(secured(perms::ORDERS_WRITE, routes!(create_service_order)))
        .routes(secured(perms::ORDERS_READ, routes!(export_service_orders)))
        .routes(secured(perms::ORDERS_READ, routes!(find_service_order)))
        .routes(secured(perms::ORDERS_WRITE, routes!(update_service_order)))
        .routes(secured(perms::ORDERS_WORK, routes!(diagnose_service_order)))
        .routes(secured(
            perms::ORDERS_QUOTE,
            routes!(update_service_order_lines),
        ))
        .routes(secured(perms::ORDERS_READ, routes!(move_service_order)))
        .routes(secured(perms::ORDERS_WORK, routes!(take_service_order)))
        .routes(secured(perms::ORDERS_WRITE, routes!(assign_service_order)))
        .routes(secured(
            perms::ORDERS_WRITE,
            routes!(send_service_order_estimate),
        ))
        .routes(secured(perms::ORDERS_READ, routes!(service_order_label)))
        .routes(secured(
            perms::ORDERS_READ,
            routes!(print_service_order_label),
        ))
        .routes(secured(
            perms::ORDERS_READ,
            routes!(list_service_order_print_jobs),
        ))
        .routes(secured(perms::ORDERS_READ, routes!(service_order_document)))
}

const NUMBER: &str = "Order number, e.g. OS-2026-000123";

/// List service orders, newest first (a technician without
/// `service.orders.all` sees theirs and the unassigned ones).
#[utoipa::path(get, path = "/api/service-orders", tag = "service",
    params(OrderFilter, PageQuery),
    responses((status = 200, body = Page<ServiceOrderView>)))]
async fn list_service_orders(
    State(state): State<AppState>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<OrderFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<ServiceOrderView>>> {
    let who = caller(&principal);
    Ok(Json(
        search::search(&state, &who, &f, &page).await?.linked(&uri),
    ))
}

/// Take a device in (`Idempotency-Key` honoured): numbered
/// `OS-<year>-<n>`, without gaps within the year.
#[utoipa::path(post, path = "/api/service-orders", tag = "service",
    request_body = NewServiceOrder,
    responses((status = 201, body = ServiceOrderView),
              (status = 422, description = "Invalid field, e.g. unknown client_id or a negative quantity")))]
async fn create_service_order(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<NewServiceOrder>,
) -> AppResult<impl IntoResponse> {
    let v = service::create(&state, &actor, input).await?;
    Ok(Created::versioned(
        format!("/api/service-orders/{}", v.number),
        v.version,
        v,
    ))
}

/// Show a service order with its estimate, totals and history.
#[utoipa::path(get, path = "/api/service-orders/{number}", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    responses((status = 200, body = ServiceOrderView),
              (status = 404, description = "No such order, or another technician's")))]
async fn find_service_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(number): Path<String>,
) -> AppResult<impl IntoResponse> {
    let v = search::find(&state, &caller(&principal), &number).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Change an order's data: customer, device, fault, diagnosis, priority,
/// promised date, warranty (`If-Match` honoured).
#[utoipa::path(put, path = "/api/service-orders/{number}", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    request_body = ServiceOrderUpdate,
    responses((status = 200, body = ServiceOrderView),
              (status = 403, description = "Not assigned to the caller, or no permission"),
              (status = 409, description = "Delivered or cancelled"),
              (status = 412, description = "Stale version"),
              (status = 422, description = "Invalid field")))]
async fn update_service_order(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    if_match: IfMatch,
    Path(number): Path<String>,
    Json(change): Json<ServiceOrderUpdate>,
) -> AppResult<impl IntoResponse> {
    let who = caller(&principal);
    let v = service::update(&state, &actor, &who, &number, if_match, change).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Write the technician's diagnosis (`If-Match` honoured).
#[utoipa::path(put, path = "/api/service-orders/{number}/diagnosis", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    request_body = ServiceDiagnosisInput,
    responses((status = 200, body = ServiceOrderView),
              (status = 403, description = "Not assigned to the caller (take it first)"),
              (status = 409, description = "Delivered or cancelled"),
              (status = 412, description = "Stale version")))]
async fn diagnose_service_order(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    if_match: IfMatch,
    Path(number): Path<String>,
    Json(input): Json<ServiceDiagnosisInput>,
) -> AppResult<impl IntoResponse> {
    let who = caller(&principal);
    let v = service::diagnose(&state, &actor, &who, &number, if_match, input).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Replace the estimate's lines (parts and labour); the totals, with IVA
/// 19 %, are computed here. Only until the customer has answered it.
#[utoipa::path(put, path = "/api/service-orders/{number}/lines", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    request_body = EstimateLinesInput,
    responses((status = 200, body = ServiceOrderView),
              (status = 403, description = "Not assigned to the caller (take it first)"),
              (status = 409, description = "The estimate was already approved or rejected"),
              (status = 412, description = "Stale version"),
              (status = 422, description = "Invalid line: `errors` names each field, e.g. lines[0].quantity")))]
async fn update_service_order_lines(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    if_match: IfMatch,
    Path(number): Path<String>,
    Json(input): Json<EstimateLinesInput>,
) -> AppResult<impl IntoResponse> {
    let who = caller(&principal);
    let v = service::set_lines(&state, &actor, &who, &number, if_match, input).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Move an order to another status. The front desk
/// (`service.orders.write`) moves to awaiting_approval, approved,
/// rejected, delivered and cancelled (with a `note`: the reason); the bench
/// (`service.orders.work`) to diagnosing, awaiting_parts, in_repair and
/// ready. A move the rules refuse is a 409 listing the `allowed` ones.
#[utoipa::path(post, path = "/api/service-orders/{number}/transitions", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    request_body = ServiceTransitionInput,
    responses((status = 200, body = ServiceOrderView),
              (status = 403, description = "The caller's station does not make this move, or the order is not theirs"),
              (status = 409, description = "Transition not allowed from the current status"),
              (status = 412, description = "Stale version"),
              (status = 422, description = "Cancelling without a reason")))]
async fn move_service_order(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    if_match: IfMatch,
    Path(number): Path<String>,
    Json(input): Json<ServiceTransitionInput>,
) -> AppResult<Json<ServiceOrderView>> {
    let who = caller(&principal);
    Ok(Json(
        service::move_to(&state, &actor, &who, &number, if_match, input).await?,
    ))
}

/// Take an unassigned open order: it becomes the caller's.
#[utoipa::path(post, path = "/api/service-orders/{number}/take", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    responses((status = 200, body = ServiceOrderView),
              (status = 403, description = "Not a user, or an inactive technician"),
              (status = 409, description = "Already assigned, delivered or cancelled"),
              (status = 412, description = "Stale version")))]
async fn take_service_order(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    if_match: IfMatch,
    Path(number): Path<String>,
) -> AppResult<Json<ServiceOrderView>> {
    let who = caller(&principal);
    Ok(Json(
        service::take(&state, &actor, &who, &number, if_match).await?,
    ))
}

/// Assign an order to a technician (a user holding
/// `service.orders.work`), or unassign it with `null`.
#[utoipa::path(post, path = "/api/service-orders/{number}/assign", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    request_body = ServiceAssignInput,
    responses((status = 200, body = ServiceOrderView),
              (status = 409, description = "Delivered or cancelled"),
              (status = 412, description = "Stale version"),
              (status = 422, description = "Unknown or inactive technician_id")))]
async fn assign_service_order(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    if_match: IfMatch,
    Path(number): Path<String>,
    Json(input): Json<ServiceAssignInput>,
) -> AppResult<Json<ServiceOrderView>> {
    let who = caller(&principal);
    Ok(Json(
        service::assign(&state, &actor, &who, &number, if_match, input).await?,
    ))
}

/// Service orders as CSV (UTF-8 with BOM, `;`-separated for spreadsheets
/// set to Spanish; `delimiter=comma` for `,`), with the list's filters.
#[utoipa::path(get, path = "/api/service-orders/export.csv", tag = "service",
    params(super::csv::ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
async fn export_service_orders(
    State(state): State<AppState>,
    principal: Principal,
    page: faena_platform::ui::PageContext,
    Query(q): Query<super::csv::ExportQuery>,
    Zone(zone): Zone,
) -> AppResult<impl IntoResponse> {
    super::csv::export(&state, &caller(&principal), page.locale, zone, q).await
}

/// Mail the estimate to the customer again, with a new approval link
/// (the earlier unused ones stop working). Moving the order to
/// awaiting_approval already mails it once.
#[utoipa::path(post, path = "/api/service-orders/{number}/estimate/send", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    request_body = ServiceEstimateSendInput,
    responses((status = 200, body = ServiceOrderView),
              (status = 403, description = "Not assigned to the caller"),
              (status = 404, description = "No such order"),
              (status = 409, description = "The order is not awaiting approval"),
              (status = 422, description = "No contact_email on the order, or valid_days out of range")))]
async fn send_service_order_estimate(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    Path(number): Path<String>,
    Json(input): Json<ServiceEstimateSendInput>,
) -> AppResult<Json<ServiceOrderView>> {
    let who = caller(&principal);
    Ok(Json(
        service::send_notice(
            &state,
            &actor,
            &who,
            &number,
            super::notices::Notice::Estimate,
            input,
        )
        .await?,
    ))
}

/// Download a label of the order: the intake label (100 × 50 mm) or the
/// device tag (60 × 40 mm), with a Code 128 of the number and a QR code of
/// the tracking page, as ZPL for a Zebra at 203 or 300 dpi, or as a PDF
/// of the label's size.
#[utoipa::path(get, path = "/api/service-orders/{number}/label", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40), LabelQuery),
    responses((status = 200, description = "The label",
              content((String = "text/plain"), (Vec<u8> = "application/pdf"))),
              (status = 404, description = "No such order, or another technician's"),
              (status = 422, description = "Unknown kind or format, or a dpi other than 203 or 300")))]
async fn service_order_label(
    State(state): State<AppState>,
    principal: Principal,
    page: PageContext,
    Path(number): Path<String>,
    Query(q): Query<LabelQuery>,
) -> AppResult<Response> {
    super::labels::download(&state, &caller(&principal), &number, &q, page.locale).await
}

/// Print a label of the order on a configured printer: queued as a job
/// that sends the ZPL over TCP and is retried with backoff while the
/// printer does not answer. Answers 202 with the job; its state is on the
/// order (`print-jobs`).
#[utoipa::path(post, path = "/api/service-orders/{number}/print", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    request_body = ServicePrintInput,
    responses((status = 202, body = ServicePrintJobView),
              (status = 403, description = "Neither the desk nor the bench (service.orders.write or .work)"),
              (status = 404, description = "No such order, or another technician's"),
              (status = 422, description = "Unknown or inactive printer_id")))]
async fn print_service_order_label(
    State(state): State<AppState>,
    actor: Actor,
    principal: Principal,
    page: PageContext,
    Path(number): Path<String>,
    Json(input): Json<ServicePrintInput>,
) -> AppResult<impl IntoResponse> {
    let who = caller(&principal);
    let v =
        crate::printers::service::print(&state, &actor, &who, &number, input, page.locale).await?;
    Ok((StatusCode::ACCEPTED, Json(v)))
}

/// The order's latest labels sent to printers (up to 5), newest first,
/// with each job's state: queued (or waiting to retry, with the last
/// error), running, succeeded, dead.
#[utoipa::path(get, path = "/api/service-orders/{number}/print-jobs", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40)),
    responses((status = 200, body = Vec<ServicePrintJobView>),
              (status = 404, description = "No such order, or another technician's")))]
async fn list_service_order_print_jobs(
    State(state): State<AppState>,
    principal: Principal,
    Path(number): Path<String>,
) -> AppResult<Json<Vec<ServicePrintJobView>>> {
    let v = search::find(&state, &caller(&principal), &number).await?;
    Ok(Json(
        crate::printers::service::prints_for(&state, &v.number).await?,
    ))
}

/// The order's documents as PDF, in Spanish: `intake.pdf` (the intake
/// receipt with the shop's conditions and the tracking QR code),
/// `estimate.pdf` (lines, net, IVA 19 %, total) or `delivery.pdf` (the
/// delivery receipt with the warranty terms).
#[utoipa::path(get, path = "/api/service-orders/{number}/documents/{document}", tag = "service",
    params(("number" = String, Path, description = NUMBER, max_length = 40),
           ("document" = String, Path, description = "intake.pdf, estimate.pdf or delivery.pdf", max_length = 20)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>),
              (status = 404, description = "No such order or document")))]
async fn service_order_document(
    State(state): State<AppState>,
    principal: Principal,
    page: PageContext,
    Zone(zone): Zone,
    Path((number, document)): Path<(String, String)>,
) -> AppResult<Response> {
    super::documents::download(
        &state,
        &caller(&principal),
        &number,
        &document,
        page.locale,
        zone,
    )
    .await
}
