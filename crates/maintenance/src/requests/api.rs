//! `/api/maintenance/requests` (failure reports: list, accept into work,
//! reject with a reason) and the machines' labels.

use axum::http::header;
use faena_platform::prelude::*;
use utoipa::IntoParams;

use super::service::{self, Rejection, RequestFilter, RequestView};
use crate::perms;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::REQUESTS_READ, routes!(list_requests)))
        .routes(secured(perms::REQUESTS_REVIEW, routes!(accept_request)))
        .routes(secured(perms::REQUESTS_REVIEW, routes!(reject_request)))
        .routes(secured(perms::MACHINES_READ, routes!(machine_label)))
        .routes(secured(perms::MACHINES_READ, routes!(label_sheet)))
}

/// Failure reports, newest first.
#[utoipa::path(get, path = "/api/maintenance/requests", tag = "maintenance",
    params(RequestFilter, PageQuery),
    responses((status = 200, body = Page<RequestView>)))]
async fn list_requests(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<RequestFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<RequestView>>> {
    Ok(Json(service::list(&state, &f, &page).await?.linked(&uri)))
}

/// Turn a pending report into corrective work due today.
#[utoipa::path(post, path = "/api/maintenance/requests/{id}/accept", tag = "maintenance",
    params(("id" = Uuid, Path, description = "Report id")),
    responses((status = 200, body = RequestView), (status = 404, description = "No such report"),
              (status = 409, description = "Already reviewed")))]
async fn accept_request(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Json<RequestView>> {
    Ok(Json(service::accept(&state, &actor, id).await?))
}

/// Reject a pending report with a reason.
#[utoipa::path(post, path = "/api/maintenance/requests/{id}/reject", tag = "maintenance",
    params(("id" = Uuid, Path, description = "Report id")),
    request_body = Rejection,
    responses((status = 200, body = RequestView), (status = 404, description = "No such report"),
              (status = 409, description = "Already reviewed"), (status = 422, description = "No reason")))]
async fn reject_request(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(input): Json<Rejection>,
) -> AppResult<Json<RequestView>> {
    Ok(Json(service::reject(&state, &actor, id, &input).await?))
}

/// The machine's label: a QR code (PNG) that leads to its failure-report
/// page.
#[utoipa::path(get, path = "/api/machines/{code}/label.png", tag = "maintenance",
    params(("code" = String, Path, description = "Machine code, any case")),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, description = "No such machine")))]
async fn machine_label(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let m = crate::machines::service::find_model(&state, &code).await?;
    let png = super::labels::png(&state, &m)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        png,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct SheetQuery {
    /// Machine codes, comma-separated; all machines in service when absent.
    pub codes: Option<String>,
}

/// Labels of several machines on A4 sheets (PDF, 14 a page).
#[utoipa::path(get, path = "/api/machines/labels.pdf", tag = "maintenance",
    params(SheetQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, description = "No such machines")))]
async fn label_sheet(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<SheetQuery>,
) -> AppResult<Response> {
    let codes: Vec<String> = q
        .codes
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let title = state.i18n().t(page.locale, "labels.title", &[]);
    let pdf = super::labels::sheet(&state, &codes, &title).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"etiquetas.pdf\"",
            ),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        pdf,
    )
        .into_response())
}
