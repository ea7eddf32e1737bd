//! `/api/maintenance`: every maintenance record (seed 002's
//! `/api/mantenimientos/todos`), one record, its correction while a draft,
//! and its sign-off.

use faena_platform::prelude::*;

use super::RecordInput;
use super::service::{self, RecordFilter, RecordView};
use crate::perms;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::RECORDS_READ, routes!(list_records)))
        .routes(secured(perms::RECORDS_READ, routes!(export_records)))
        .routes(secured(perms::RECORDS_READ, routes!(find_record)))
        .routes(secured(perms::RECORDS_WRITE, routes!(update_record)))
        .routes(secured(perms::RECORDS_APPROVE, routes!(sign_off_record)))
}

/// Maintenance records, newest first, by machine, kind, outcome,
/// technician, lab, dates and sign-off.
#[utoipa::path(get, path = "/api/maintenance", tag = "maintenance",
    params(RecordFilter, PageQuery),
    responses((status = 200, body = Page<RecordView>)))]
async fn list_records(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<RecordFilter>,
    Query(page): Query<PageQuery>,
    Zone(zone): Zone,
) -> AppResult<Json<Page<RecordView>>> {
    Ok(Json(
        service::search(&state, &f, &page, zone).await?.linked(&uri),
    ))
}

/// The records as CSV, with the list's filters and order.
#[utoipa::path(get, path = "/api/maintenance/export.csv", tag = "maintenance",
    params(RecordFilter, super::csv::ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
async fn export_records(
    State(state): State<AppState>,
    page: PageContext,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<RecordFilter>,
    Query(q): Query<super::csv::ExportQuery>,
    Zone(zone): Zone,
) -> AppResult<Response> {
    super::csv::export(&state, page.locale, zone, uri.query(), &f, q).await
}

/// One record.
#[utoipa::path(get, path = "/api/maintenance/{id}", tag = "maintenance",
    params(("id" = Uuid, Path, description = "Record id")),
    responses((status = 200, body = RecordView), (status = 404, description = "No such record")))]
async fn find_record(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<impl IntoResponse> {
    let v = service::find(&state, id).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Change a record that is not signed off yet (`If-Match` honoured); a
/// signed-off one is corrected by a new record instead (409).
#[utoipa::path(put, path = "/api/maintenance/{id}", tag = "maintenance",
    params(("id" = Uuid, Path, description = "Record id")),
    request_body = RecordInput,
    responses((status = 200, body = RecordView), (status = 409, description = "Signed off: record a correction"),
              (status = 412, description = "Stale version"), (status = 422, description = "Invalid field")))]
async fn update_record(
    State(state): State<AppState>,
    actor: Actor,
    principal: faena_platform::auth::Principal,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
    Json(input): Json<RecordInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::update(&state, &actor, &principal, id, if_match, &input).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Sign a record off: from then on it cannot change.
#[utoipa::path(post, path = "/api/maintenance/{id}/sign-off", tag = "maintenance",
    params(("id" = Uuid, Path, description = "Record id")),
    responses((status = 200, body = RecordView), (status = 409, description = "Already signed off"),
              (status = 412, description = "Stale version")))]
async fn sign_off_record(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
) -> AppResult<impl IntoResponse> {
    let v = service::sign_off(&state, &actor, id, if_match).await?;
    Ok(([etag(v.version)], Json(v)))
}
