//! `/api/machines`: the register of equipment (seed 002's `/api/maquinas`).

use faena_platform::prelude::*;

use super::MachineInput;
use super::service::{self, MachineFilter, MachineView};
use crate::perms;
use crate::records::RecordInput;
use crate::records::service::{self as records, RecordFilter, RecordView};

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::MACHINES_READ, routes!(list_machines)))
        .routes(secured(perms::MACHINES_WRITE, routes!(create_machine)))
        .routes(secured(perms::MACHINES_READ, routes!(export_machines)))
        .routes(secured(perms::MACHINES_WRITE, routes!(import_machines)))
        .routes(secured(perms::MACHINES_READ, routes!(find_machine)))
        .routes(secured(perms::MACHINES_WRITE, routes!(replace_machine)))
        .routes(secured(perms::MACHINES_DELETE, routes!(delete_machine)))
        .routes(secured(perms::RECORDS_READ, routes!(machine_history)))
        .routes(secured(perms::RECORDS_WRITE, routes!(record_maintenance)))
}

/// Machines in name order; search by code, name, serial or lab, filter
/// by status, kind and lab.
#[utoipa::path(get, path = "/api/machines", tag = "maintenance",
    params(MachineFilter, PageQuery),
    responses((status = 200, body = Page<MachineView>)))]
async fn list_machines(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<MachineFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<MachineView>>> {
    Ok(Json(service::search(&state, &f, &page).await?.linked(&uri)))
}

/// Register a machine (`Idempotency-Key` honoured).
#[utoipa::path(post, path = "/api/machines", tag = "maintenance",
    request_body = MachineInput,
    responses((status = 201, body = MachineView), (status = 409, description = "Code taken"),
              (status = 422, description = "Invalid field")))]
async fn create_machine(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<MachineInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::create(&state, &actor, &input).await?;
    Ok(Created::versioned(
        format!("/api/machines/{}", v.code),
        v.version,
        v,
    ))
}

/// The machines as CSV (UTF-8 with BOM, `;`-separated; `delimiter=comma`
/// for `,`), with the list's filters and order.
#[utoipa::path(get, path = "/api/machines/export.csv", tag = "maintenance",
    params(MachineFilter, super::csv::ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
async fn export_machines(
    State(state): State<AppState>,
    page: PageContext,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<MachineFilter>,
    Query(q): Query<super::csv::ExportQuery>,
    Zone(zone): Zone,
) -> AppResult<Response> {
    super::csv::export(&state, page.locale, zone, uri.query(), &f, q).await
}

/// One machine.
#[utoipa::path(get, path = "/api/machines/{code}", tag = "maintenance",
    params(("code" = String, Path, description = "Machine code, any case")),
    responses((status = 200, body = MachineView), (status = 404, description = "No such machine")))]
async fn find_machine(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> AppResult<impl IntoResponse> {
    let v = service::find(&state, &code).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Replace a machine's fields (`If-Match` honoured). The code does not
/// change; a retired machine stays retired.
#[utoipa::path(put, path = "/api/machines/{code}", tag = "maintenance",
    params(("code" = String, Path, description = "Machine code, any case")),
    request_body = MachineInput,
    responses((status = 200, body = MachineView), (status = 412, description = "Stale version"),
              (status = 422, description = "Invalid field")))]
async fn replace_machine(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(code): Path<String>,
    Json(input): Json<MachineInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::update(&state, &actor, &code, if_match, &input).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Delete a machine without maintenance history (one with history is
/// retired instead).
#[utoipa::path(delete, path = "/api/machines/{code}", tag = "maintenance",
    params(("code" = String, Path, description = "Machine code, any case")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "The machine has maintenance records")))]
async fn delete_machine(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(code): Path<String>,
) -> AppResult<StatusCode> {
    service::delete(&state, &actor, &code, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The machine's maintenance history, newest first (seed 002's
/// `/api/mantenimientos/historial/{codigo}`).
#[utoipa::path(get, path = "/api/machines/{code}/maintenance", tag = "maintenance",
    params(("code" = String, Path, description = "Machine code, any case"), PageQuery),
    responses((status = 200, body = Page<RecordView>), (status = 404, description = "No such machine")))]
async fn machine_history(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(code): Path<String>,
    Query(page): Query<PageQuery>,
    Zone(zone): Zone,
) -> AppResult<Json<Page<RecordView>>> {
    let m = service::find_model(&state, &code).await?;
    let f = RecordFilter {
        machine: Some(m.code),
        ..RecordFilter::default()
    };
    Ok(Json(
        records::search(&state, &f, &page, zone).await?.linked(&uri),
    ))
}

/// Record maintenance done on the machine (`Idempotency-Key` honoured).
/// `corrects` points to the signed-off record this one corrects.
#[utoipa::path(post, path = "/api/machines/{code}/maintenance", tag = "maintenance",
    params(("code" = String, Path, description = "Machine code, any case")),
    request_body = RecordInput,
    responses((status = 201, body = RecordView), (status = 404, description = "No such machine"),
              (status = 422, description = "Invalid field, a retired machine, or a record that cannot be corrected")))]
async fn record_maintenance(
    State(state): State<AppState>,
    actor: Actor,
    principal: faena_platform::auth::Principal,
    Path(code): Path<String>,
    Json(input): Json<RecordInput>,
) -> AppResult<impl IntoResponse> {
    let v = records::create(&state, &actor, &principal, &code, &input).await?;
    Ok(Created::versioned(
        format!("/api/maintenance/{}", v.id),
        v.version,
        v,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// `true`: check every row and report, write nothing.
    pub dry_run: Option<bool>,
}

/// Import machines from a spreadsheet: the body is an Excel workbook
/// (XLSX, XLS), an OpenDocument sheet (its first sheet) or a CSV (`;` or
/// `,`, UTF-8 or Windows-1252), with headers such as
/// `código;nombre;tipo;laboratorio;marca;modelo;serie;estado`. Every bad
/// row is reported with its line and field; nothing is written unless
/// every row is good.
#[utoipa::path(post, path = "/api/machines/import", tag = "maintenance",
    params(ImportQuery),
    request_body(content(
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (Vec<u8> = "application/vnd.oasis.opendocument.spreadsheet"),
    )),
    responses((status = 200, body = super::import::ImportResult, description = "Checked (dry run) or imported"),
              (status = 422, description = "Some rows are bad (listed in `row_errors` with line, field and message): nothing written")))]
async fn import_machines(
    State(state): State<AppState>,
    actor: Actor,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let dry_run = q.dry_run.unwrap_or(false);
    let rows = super::import::read(&body)?;
    let result = super::import::import(&state, &actor, rows, dry_run).await?;
    if result.errors.is_empty() {
        return Ok(Json(result).into_response());
    }
    // A problem document that lists every bad row with its line and field.
    let mut p =
        faena_platform::Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "import_rows_invalid");
    p.params = vec![
        ("count", result.errors.len().to_string()),
        ("rows", result.rows.to_string()),
    ];
    let p = p
        .with_extension("rows", result.rows.into())
        .with_extension("dry_run", result.dry_run.into())
        .with_extension(
            "row_errors",
            serde_json::to_value(&result.errors).unwrap_or_default(),
        );
    Err(AppError::Problem(Box::new(p)))
}
