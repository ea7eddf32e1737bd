//! CSV export of orders: the list's filters, read from the database in
//! pages of 500.

use axum::http::header;
use axum::response::IntoResponse;
use faena_platform::{AppResult, AppState, Locale};
use serde::Deserialize;

use super::api::{OrderFilter, search};

/// The list's filters (without paging) and the delimiter. Spelled out:
/// serde's `flatten` loses the types of query-string values.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// One status or several, comma-separated.
    pub status: Option<String>,
    pub client_id: Option<uuid::Uuid>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Searches the order number and the client's name.
    pub q: Option<String>,
    /// `semicolon` (default) or `comma`.
    pub delimiter: Option<String>,
}

fn field(value: &str, sep: char) -> String {
    if value.contains([sep, '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

pub async fn export(
    state: &AppState,
    locale: Locale,
    q: ExportQuery,
) -> AppResult<axum::response::Response> {
    let sep = if q.delimiter.as_deref() == Some("comma") {
        ','
    } else {
        ';'
    };
    let t = |k: &str| state.i18n().t(locale, k, &[]);
    let headers = [
        "csv.number",
        "csv.client",
        "csv.status",
        "csv.lines",
        "csv.units",
        "csv.created_at",
        "csv.return_reason",
        "csv.returned_at",
    ];
    let mut out = String::from("\u{feff}");
    out.push_str(
        &headers
            .iter()
            .map(|h| field(&t(h), sep))
            .collect::<Vec<_>>()
            .join(&sep.to_string()),
    );
    out.push_str("\r\n");
    let mut filter = OrderFilter {
        status: q.status,
        client_id: q.client_id,
        from: q.from,
        to: q.to,
        q: q.q,
        limit: Some(500),
        cursor: None,
    };
    loop {
        let page = search(state, &filter, None).await?;
        for o in &page.items {
            let units: i64 = o.lines.iter().map(|l| i64::from(l.quantity)).sum();
            let row = [
                o.number.clone(),
                o.client_name.clone().unwrap_or_default(),
                t(&format!("status.{}", o.status.as_str())),
                o.lines.len().to_string(),
                units.to_string(),
                o.created_at.to_rfc3339(),
                o.return_reason.clone().unwrap_or_default(),
                o.returned_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
            ];
            out.push_str(
                &row.iter()
                    .map(|v| field(v, sep))
                    .collect::<Vec<_>>()
                    .join(&sep.to_string()),
            );
            out.push_str("\r\n");
        }
        match page.next_cursor {
            Some(c) => filter.cursor = Some(c),
            None => break,
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"ordenes.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
