//! `/api/maintenance/plans`, `/api/maintenance/work-orders` and
//! `/api/machines/{code}/meter-readings`.

use faena_platform::prelude::*;
use utoipa::IntoParams;

use super::PlanInput;
use super::service::{self, PlanView, ReadingInput, ReadingView, WorkOrderView};
use crate::perms;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::PLANS_READ, routes!(list_plans)))
        .routes(secured(perms::PLANS_WRITE, routes!(create_plan)))
        .routes(secured(perms::PLANS_READ, routes!(find_plan)))
        .routes(secured(perms::PLANS_WRITE, routes!(update_plan)))
        .routes(secured(perms::RECORDS_READ, routes!(list_work_orders)))
        .routes(secured(perms::MACHINES_READ, routes!(list_readings)))
        .routes(secured(perms::RECORDS_WRITE, routes!(add_reading)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct MachineQuery {
    /// Only this machine's (its code, any case).
    pub machine: Option<String>,
}

/// Maintenance plans, of one machine or all.
#[utoipa::path(get, path = "/api/maintenance/plans", tag = "maintenance",
    params(MachineQuery),
    responses((status = 200, body = Vec<PlanView>)))]
async fn list_plans(
    State(state): State<AppState>,
    Query(q): Query<MachineQuery>,
) -> AppResult<Json<Vec<PlanView>>> {
    let machine = q.machine.as_deref().filter(|m| !m.trim().is_empty());
    Ok(Json(service::plans(&state, machine).await?))
}

/// Add a plan to a machine: every N days, weeks or months, or every N
/// units of a meter, with its checklist.
#[utoipa::path(post, path = "/api/machines/{code}/plans", tag = "maintenance",
    params(("code" = String, Path, description = "Machine code, any case")),
    request_body = PlanInput,
    responses((status = 201, body = PlanView), (status = 404, description = "No such machine"),
              (status = 422, description = "Invalid field, e.g. a zero interval")))]
async fn create_plan(
    State(state): State<AppState>,
    actor: Actor,
    Zone(zone): Zone,
    Path(code): Path<String>,
    Json(input): Json<PlanInput>,
) -> AppResult<impl IntoResponse> {
    let today = faena_platform::ui::today(zone);
    let v = service::create_plan(&state, &actor, &code, &input, today).await?;
    Ok(Created::versioned(
        format!("/api/maintenance/plans/{}", v.id),
        v.version,
        v,
    ))
}

/// One plan.
#[utoipa::path(get, path = "/api/maintenance/plans/{id}", tag = "maintenance",
    params(("id" = Uuid, Path, description = "Plan id")),
    responses((status = 200, body = PlanView), (status = 404, description = "No such plan")))]
async fn find_plan(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<impl IntoResponse> {
    let v = service::find_plan(&state, id).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Change a plan (`If-Match` honoured).
#[utoipa::path(put, path = "/api/maintenance/plans/{id}", tag = "maintenance",
    params(("id" = Uuid, Path, description = "Plan id")),
    request_body = PlanInput,
    responses((status = 200, body = PlanView), (status = 412, description = "Stale version"),
              (status = 422, description = "Invalid field")))]
async fn update_plan(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
    Json(input): Json<PlanInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::update_plan(&state, &actor, id, if_match, &input).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Open work orders, soonest first, each saying whether it is overdue.
#[utoipa::path(get, path = "/api/maintenance/work-orders", tag = "maintenance",
    params(MachineQuery),
    responses((status = 200, body = Vec<WorkOrderView>)))]
async fn list_work_orders(
    State(state): State<AppState>,
    Query(q): Query<MachineQuery>,
    Zone(zone): Zone,
) -> AppResult<Json<Vec<WorkOrderView>>> {
    let machine = q.machine.as_deref().filter(|m| !m.trim().is_empty());
    Ok(Json(
        service::open_work(&state, machine, faena_platform::ui::today(zone)).await?,
    ))
}

/// The machine's meter readings, newest first (the last 200).
#[utoipa::path(get, path = "/api/machines/{code}/meter-readings", tag = "maintenance",
    params(("code" = String, Path, description = "Machine code, any case")),
    responses((status = 200, body = Vec<ReadingView>), (status = 404, description = "No such machine")))]
async fn list_readings(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> AppResult<Json<Vec<ReadingView>>> {
    Ok(Json(service::readings(&state, &code).await?))
}

/// Record a meter reading (operating hours, cycles). It never goes down;
/// a meter plan it reaches gets its work order at once.
#[utoipa::path(post, path = "/api/machines/{code}/meter-readings", tag = "maintenance",
    params(("code" = String, Path, description = "Machine code, any case")),
    request_body = ReadingInput,
    responses((status = 201, body = ReadingView), (status = 404, description = "No such machine"),
              (status = 422, description = "Lower than the last reading, or another invalid field")))]
async fn add_reading(
    State(state): State<AppState>,
    actor: Actor,
    Zone(zone): Zone,
    Path(code): Path<String>,
    Json(input): Json<ReadingInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::add_reading(
        &state,
        &actor,
        &code,
        &input,
        faena_platform::ui::today(zone),
    )
    .await?;
    Ok(Created::at(
        format!(
            "/api/machines/{}/meter-readings",
            code.trim().to_uppercase()
        ),
        v,
    ))
}
