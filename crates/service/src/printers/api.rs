//! `/api/printers`: the Zebra printers labels are sent to.

use faena_platform::prelude::*;

use super::service::{self, ServicePrinterInput, ServicePrinterView};
use crate::perms;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::PRINTERS_READ, routes!(list_printers)))
        .routes(secured(perms::PRINTERS_WRITE, routes!(create_printer)))
        .routes(secured(perms::PRINTERS_READ, routes!(find_printer)))
        .routes(secured(perms::PRINTERS_WRITE, routes!(update_printer)))
        .routes(secured(perms::PRINTERS_WRITE, routes!(delete_printer)))
}

/// List the printers, by name.
#[utoipa::path(get, path = "/api/printers", tag = "service",
    responses((status = 200, body = Vec<ServicePrinterView>)))]
async fn list_printers(State(state): State<AppState>) -> AppResult<Json<Vec<ServicePrinterView>>> {
    Ok(Json(service::list(&state).await?))
}

/// Add a printer: a name, its `host:port` (port 9100 when left out) and
/// its resolution.
#[utoipa::path(post, path = "/api/printers", tag = "service",
    request_body = ServicePrinterInput,
    responses((status = 201, body = ServicePrinterView),
              (status = 409, description = "Another printer has that name"),
              (status = 422, description = "Invalid field, e.g. an address that is not host:port")))]
async fn create_printer(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<ServicePrinterInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::create(&state, &actor, input).await?;
    Ok(Created::versioned(
        format!("/api/printers/{}", v.id),
        v.version,
        v,
    ))
}

/// Show a printer.
#[utoipa::path(get, path = "/api/printers/{id}", tag = "service",
    params(("id" = Uuid, Path, description = "The printer's id")),
    responses((status = 200, body = ServicePrinterView), (status = 404, description = "No such printer")))]
async fn find_printer(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<impl IntoResponse> {
    let v = service::find(&state, id).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Change a printer (the whole of it; `If-Match` honoured).
#[utoipa::path(put, path = "/api/printers/{id}", tag = "service",
    params(("id" = Uuid, Path, description = "The printer's id")),
    request_body = ServicePrinterInput,
    responses((status = 200, body = ServicePrinterView),
              (status = 404, description = "No such printer"),
              (status = 409, description = "Another printer has that name"),
              (status = 412, description = "Stale version"),
              (status = 422, description = "Invalid field, e.g. an address that is not host:port")))]
async fn update_printer(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
    Json(input): Json<ServicePrinterInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::update(&state, &actor, id, if_match, input).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Remove a printer (`If-Match` honoured). Labels still waiting for it
/// stop retrying.
#[utoipa::path(delete, path = "/api/printers/{id}", tag = "service",
    params(("id" = Uuid, Path, description = "The printer's id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such printer"),
              (status = 412, description = "Stale version")))]
async fn delete_printer(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    service::delete(&state, &actor, id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}
