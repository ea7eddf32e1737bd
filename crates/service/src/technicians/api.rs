//! `/api/technicians`: seed 003's `/api/tecnicos/`.

use faena_platform::prelude::*;

use super::service::{self, TechnicianProfileInput, TechnicianView};
use crate::perms;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::TECHNICIANS_READ, routes!(list_technicians)))
        .routes(secured(perms::TECHNICIANS_READ, routes!(find_technician)))
        .routes(secured(
            perms::TECHNICIANS_WRITE,
            routes!(update_technician),
        ))
}

/// List technicians, in name order, with their open orders.
#[utoipa::path(get, path = "/api/technicians", tag = "service",
    responses((status = 200, body = Vec<TechnicianView>)))]
async fn list_technicians(State(state): State<AppState>) -> AppResult<Json<Vec<TechnicianView>>> {
    Ok(Json(service::list(&state).await?))
}

/// Show a technician, with their open orders.
#[utoipa::path(get, path = "/api/technicians/{id}", tag = "service",
    params(("id" = Uuid, Path, description = "The technician's user id")),
    responses((status = 200, body = TechnicianView), (status = 404, description = "No such technician")))]
async fn find_technician(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<impl IntoResponse> {
    let v = service::find(&state, id).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Write a technician's profile: specialties and whether they take work
/// (`If-Match` honoured; a user without a profile is at version 0).
#[utoipa::path(put, path = "/api/technicians/{id}", tag = "service",
    params(("id" = Uuid, Path, description = "The technician's user id")),
    request_body = TechnicianProfileInput,
    responses((status = 200, body = TechnicianView),
              (status = 404, description = "No user holding service.orders.work"),
              (status = 412, description = "Stale version")))]
async fn update_technician(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
    Json(input): Json<TechnicianProfileInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::update(&state, &actor, id, if_match, input).await?;
    Ok(([etag(v.version)], Json(v)))
}
