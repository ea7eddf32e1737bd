//! Machine labels: a QR code that leads to the machine's failure-report
//! page, as a PNG for one machine or as an A4 sheet of labels (2 × 7) for
//! several, with the code, the name and the lab under each code.

use faena_platform::{AppError, AppResult, AppState};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::machines::store as machines;

/// The address a machine's label leads to.
pub fn report_url(state: &AppState, m: &machines::Model) -> String {
    format!("{}/r/{}", state.config().public_base(), m.report_token)
}

fn pdf_error(e: faena_pdf::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("label: {e}"))
}

/// One machine's QR code as a PNG, 8 pixels a module.
pub fn png(state: &AppState, m: &machines::Model) -> AppResult<Vec<u8>> {
    faena_pdf::qr::png(&report_url(state, m), 8, faena_pdf::qr::DEFAULT_QUIET_ZONE)
        .map_err(pdf_error)
}

/// Labels for the machines `codes` (all of them when empty), in code
/// order, 14 to an A4 sheet.
pub async fn sheet(state: &AppState, codes: &[String], title: &str) -> AppResult<Vec<u8>> {
    let mut q = machines::Entity::find().filter(machines::Column::Status.ne("retired"));
    if !codes.is_empty() {
        let keys: Vec<String> = codes.iter().map(|c| c.trim().to_lowercase()).collect();
        q = q.filter(machines::Column::CodeKey.is_in(keys));
    }
    let rows = q
        .order_by_asc(machines::Column::CodeKey)
        .all(state.db())
        .await?;
    if rows.is_empty() {
        return Err(AppError::NotFound);
    }
    let labels = rows
        .iter()
        .map(|m| {
            let lab = m.lab.clone().unwrap_or_default();
            faena_pdf::labels::Label::new(&report_url(state, m), &[&m.code, &m.name, &lab])
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(pdf_error)?;
    let mut doc = faena_pdf::Document::new();
    doc.set_title(title).set_creation_date(&chrono::Utc::now());
    faena_pdf::labels::render(&mut doc, &faena_pdf::labels::LabelSheet::a4(2, 7), &labels)
        .map_err(pdf_error)?;
    Ok(doc.to_bytes())
}
