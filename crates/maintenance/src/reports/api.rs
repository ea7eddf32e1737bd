//! `/api/maintenance/calibrations` and `/api/maintenance/report`.

use axum::http::{HeaderMap, header};
use faena_platform::prelude::*;
use utoipa::IntoParams;

use super::calibrations::{self, CalibrationRow};
use super::report::{self, Report};
use crate::perms;
use crate::records::service::RecordFilter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::RECORDS_READ, routes!(calibration_register)))
        .routes(secured(
            perms::RECORDS_READ,
            routes!(calibration_register_pdf),
        ))
        .routes(secured(perms::RECORDS_READ, routes!(maintenance_report)))
}

/// The calibration register, most urgent first: overdue, due within 30
/// days, without a next date, fine.
#[utoipa::path(get, path = "/api/maintenance/calibrations", tag = "maintenance",
    responses((status = 200, body = Vec<CalibrationRow>)))]
async fn calibration_register(
    State(state): State<AppState>,
) -> AppResult<Json<Vec<CalibrationRow>>> {
    let today = crate::machines::service::company_today(&state);
    Ok(Json(calibrations::register(&state, today).await?))
}

/// A PDF to download (the pages' buttons say so), named `filename`.
pub fn pdf_response(bytes: Vec<u8>, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// The calibration register as a printable PDF (A4 landscape).
#[utoipa::path(get, path = "/api/maintenance/calibrations.pdf", tag = "maintenance",
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>)))]
async fn calibration_register_pdf(
    State(state): State<AppState>,
    page: PageContext,
    Zone(zone): Zone,
) -> AppResult<Response> {
    let today = crate::machines::service::company_today(&state);
    let rows = calibrations::register(&state, today).await?;
    Ok(pdf_response(
        calibrations::pdf(&state, page.locale, zone, &rows),
        "registro-calibraciones.pdf",
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// `json` (default), `csv` or `pdf`; else the `Accept` header decides.
    pub format: Option<String>,
    /// For CSV: `semicolon` (default) or `comma`.
    pub delimiter: Option<String>,
}

/// Which format the caller asked for: `format=`, else `Accept`.
pub fn wanted(q: &ReportQuery, headers: &HeaderMap) -> AppResult<&'static str> {
    match q.format.as_deref().map(str::trim) {
        Some("json") => return Ok("json"),
        Some("csv") => return Ok("csv"),
        Some("pdf") => return Ok("pdf"),
        Some("") | None => {}
        Some(_) => {
            return Err(FieldError::new("format", "one_of")
                .with("allowed", "json, csv, pdf")
                .into());
        }
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(if accept.contains("application/pdf") {
        "pdf"
    } else if accept.contains("text/csv") {
        "csv"
    } else {
        "json"
    })
}

/// Work, cost (CLP) and downtime over a period, in total and by kind, lab
/// and machine (seed 002's `/api/mantenimientos/informe`), as JSON, CSV or
/// PDF (`format=` or `Accept`).
#[utoipa::path(get, path = "/api/maintenance/report", tag = "maintenance",
    params(RecordFilter, ReportQuery),
    responses((status = 200, description = "The report in the asked format",
              content((Report = "application/json"), (String = "text/csv"), (Vec<u8> = "application/pdf")))))]
async fn maintenance_report(
    State(state): State<AppState>,
    page: PageContext,
    headers: HeaderMap,
    Query(f): Query<RecordFilter>,
    Query(q): Query<ReportQuery>,
    Zone(zone): Zone,
) -> AppResult<Response> {
    let format = wanted(&q, &headers)?;
    let r = report::build(&state, &f, zone).await?;
    Ok(match format {
        "csv" => report::csv(&state, page.locale, &r, q.delimiter.as_deref()),
        "pdf" => pdf_response(
            report::pdf(&state, page.locale, zone, &r),
            "informe-mantenciones.pdf",
        ),
        _ => Json(r).into_response(),
    })
}
