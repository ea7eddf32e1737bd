//! CSV export of machines: the list's filters and order.

use faena_platform::csv::{CsvWriter, Delimiter};
use faena_platform::ui::list::{self, ListRequest, ListSpec};
use faena_platform::{AppResult, AppState, Locale};
use serde::Deserialize;

use super::service::{LIST_COLUMNS, MachineFilter, list_page};

/// How a list is exported: its delimiter and order.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `semicolon` (default) or `comma`.
    pub delimiter: Option<String>,
    /// A column of the list; the list's own order when absent.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub dir: Option<String>,
}

const EXPORT: ListSpec = ListSpec {
    path: "/api/machines/export.csv",
    columns: LIST_COLUMNS,
    default_sort: "name",
    default_desc: false,
    csv: None,
};

pub async fn export(
    state: &AppState,
    locale: Locale,
    zone: chrono_tz::Tz,
    query: Option<&str>,
    filter: &MachineFilter,
    q: ExportQuery,
) -> AppResult<axum::response::Response> {
    let request = ListRequest::parse(&EXPORT, query)?;
    let t = |k: &str| state.i18n().t(locale, k, &[]);
    let mut out = CsvWriter::new(Delimiter::from_query(q.delimiter.as_deref()));
    out.row(
        [
            "machines.code",
            "field.name",
            "machines.kind",
            "machines.lab",
            "machines.brand",
            "machines.model",
            "machines.serial",
            "machines.status",
            "machines.criticality",
            "machines.acquired_on",
            "machines.responsible",
            "machines.updated_at",
        ]
        .iter()
        .map(|h| t(h)),
    );
    let machines = list::all_rows(&request, |mut page| async move {
        list_page(state, filter, &mut page).await
    })
    .await?;
    for m in machines {
        out.row([
            m.code,
            m.name,
            m.kind.unwrap_or_default(),
            m.lab.unwrap_or_default(),
            m.brand.unwrap_or_default(),
            m.model.unwrap_or_default(),
            m.serial.unwrap_or_default(),
            t(&format!("machine_status.{}", m.status.as_str())),
            t(&format!("criticality.{}", m.criticality.as_str())),
            m.acquired_on.map(|d| d.to_string()).unwrap_or_default(),
            m.responsible_name.unwrap_or_default(),
            faena_platform::ui::csv_time(m.updated_at, zone),
        ]);
    }
    Ok(out.into_download("maquinas.csv"))
}
