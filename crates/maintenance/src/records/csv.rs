//! CSV export of maintenance records: the list's filters and order.

use faena_platform::csv::{CsvWriter, Delimiter};
use faena_platform::ui::list::{self, ListRequest, ListSpec};
use faena_platform::{AppResult, AppState, Locale};

use super::service::{LIST_COLUMNS, RecordFilter, list_page};

pub use crate::machines::csv::ExportQuery;

const EXPORT: ListSpec = ListSpec {
    path: "/api/maintenance/export.csv",
    columns: LIST_COLUMNS,
    default_sort: "performed_at",
    default_desc: true,
    csv: None,
};

pub async fn export(
    state: &AppState,
    locale: Locale,
    zone: chrono_tz::Tz,
    query: Option<&str>,
    filter: &RecordFilter,
    q: ExportQuery,
) -> AppResult<axum::response::Response> {
    let request = ListRequest::parse(&EXPORT, query)?;
    let t = |k: &str| state.i18n().t(locale, k, &[]);
    let mut out = CsvWriter::new(Delimiter::from_query(q.delimiter.as_deref()));
    out.row(
        [
            "records.performed_at",
            "machines.code",
            "records.machine",
            "records.kind",
            "records.technician",
            "records.description",
            "records.duration_minutes",
            "records.cost",
            "records.parts_cost",
            "records.total_cost",
            "records.outcome",
            "records.next_due_on",
            "records.signed_off_at",
            "records.signed_off_by",
        ]
        .iter()
        .map(|h| t(h)),
    );
    let records = list::all_rows(&request, |mut page| async move {
        list_page(state, filter, &mut page, zone).await
    })
    .await?;
    let at = |d: chrono::DateTime<chrono::Utc>| faena_platform::ui::csv_time(d, zone);
    for r in records {
        out.row([
            at(r.performed_at),
            r.machine_code,
            r.machine_name,
            t(&format!("record_kind.{}", r.kind.as_str())),
            r.technician_name,
            r.description,
            r.duration_minutes
                .map(|d| d.to_string())
                .unwrap_or_default(),
            r.cost_clp.to_string(),
            r.parts_cost_clp.to_string(),
            r.total_cost_clp.to_string(),
            t(&format!("outcome.{}", r.outcome.as_str())),
            r.next_due_on.map(|d| d.to_string()).unwrap_or_default(),
            r.signed_off_at.map(at).unwrap_or_default(),
            r.signed_off_by.unwrap_or_default(),
        ]);
    }
    Ok(out.into_download("mantenimientos.csv"))
}
