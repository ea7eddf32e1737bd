//! The order's printed documents, in Spanish (or the reader's language):
//! the intake receipt with the shop's conditions and the tracking QR code,
//! the estimate with its lines and totals (IVA 19 %), and the delivery
//! receipt with the warranty terms. Every word is a translation; every
//! figure is the order's as the server computed it.
//!
//! Reads the order as the caller may see it; writes nothing.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use faena_pdf::{Align, Column, Document, Flow, Font, Footer, Margins, PageSize, Table};
use faena_platform::{AppError, AppResult, AppState, Locale};

use super::notices::{printed, shop_contact, tracking_link};
use super::views::ServiceOrderView;
use super::{Caller, ServiceStatus, search, store};

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Intake,
    Estimate,
    Delivery,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 3] = [
        DocumentKind::Intake,
        DocumentKind::Estimate,
        DocumentKind::Delivery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Intake => "intake",
            DocumentKind::Estimate => "estimate",
            DocumentKind::Delivery => "delivery",
        }
    }

    /// `intake.pdf`, `estimate.pdf` or `delivery.pdf` (the `.pdf` may be
    /// left out).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.strip_suffix(".pdf").unwrap_or(s);
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// How many numbered conditions and warranty terms the catalogue holds.
const CONDITIONS: usize = 6;
const WARRANTY_TERMS: usize = 5;

struct Words<'a> {
    state: &'a AppState,
    locale: Locale,
}

impl Words<'_> {
    fn t(&self, key: &str) -> String {
        self.state.i18n().t(self.locale, key, &[])
    }

    fn tp(&self, key: &str, params: &[(&str, String)]) -> String {
        self.state.i18n().t(self.locale, key, params)
    }
}

fn when(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%d-%m-%Y %H:%M").to_string()
}

/// Label and value rows: the label in a narrow column, the value wrapped
/// beside it, without borders.
fn facts(flow: &mut Flow<'_>, rows: &[(String, String)]) {
    let mut table = Table::new(vec![Column::new("", 150.0), Column::new("", 365.0)]);
    table.header_fill = None;
    table.border = None;
    for (k, v) in rows {
        table.push_row([k.clone(), v.clone()]);
    }
    // The header row is empty and unpainted: only the rows show.
    flow.table(&table);
}

fn heading(flow: &mut Flow<'_>, w: &Words<'_>, title: &str, v: &ServiceOrderView, zone: Tz) {
    flow.paragraph(&w.t("service.shop_name"), Font::HelveticaBold, 11.0);
    flow.paragraph(&shop_contact(w.state), Font::Helvetica, 9.0);
    flow.advance(10.0);
    flow.title(title, 18.0);
    flow.paragraph(
        &w.tp(
            "service.doc.order_line",
            &[
                ("number", v.number.clone()),
                ("date", when(v.created_at, zone)),
            ],
        ),
        Font::HelveticaBold,
        11.0,
    );
    flow.advance(6.0);
}

fn device(v: &ServiceOrderView) -> String {
    format!("{} {} {}", v.device_type, v.brand, v.model)
}

fn order_facts(w: &Words<'_>, v: &ServiceOrderView) -> Vec<(String, String)> {
    let dash = || "—".to_owned();
    vec![
        (
            w.t("service.customer"),
            v.client_name.clone().unwrap_or_else(dash),
        ),
        (w.t("service.device"), device(v)),
        (w.t("service.serial"), v.serial.clone().unwrap_or_else(dash)),
    ]
}

fn numbered(flow: &mut Flow<'_>, w: &Words<'_>, prefix: &str, count: usize) {
    for i in 1..=count {
        flow.paragraph(
            &format!("{i}. {}", w.t(&format!("{prefix}.{i}"))),
            Font::Helvetica,
            9.0,
        );
        flow.advance(2.0);
    }
}

fn signature(flow: &mut Flow<'_>, label: &str) {
    flow.advance(36.0);
    flow.ensure_space(30.0);
    let left = flow.left();
    let y = flow.y();
    flow.page()
        .line(left, y, left + 220.0, y, 0.7, faena_pdf::Rgb::BLACK);
    flow.advance(4.0);
    flow.paragraph(label, Font::Helvetica, 9.0);
}

fn lines_table(flow: &mut Flow<'_>, w: &Words<'_>, v: &ServiceOrderView) {
    let (lines, totals) = printed(v);
    let mut table = Table::new(vec![
        Column::new(&w.t("service.line_kind"), 70.0),
        Column::new(&w.t("service.description"), 185.0),
        Column::new(&w.t("service.quantity"), 50.0).right(),
        Column::new(&w.t("service.unit_price"), 75.0).right(),
        Column::new(&w.t("service.discount"), 55.0).right(),
        Column::new(&w.t("service.net"), 80.0).right(),
    ]);
    for l in &lines {
        table.push_row([
            w.t(&format!("service.line.{}", l.kind)),
            l.description.clone(),
            l.quantity.to_string(),
            l.unit_price.clone(),
            format!("{} %", l.discount_percent),
            l.net.clone(),
        ]);
    }
    if lines.is_empty() {
        flow.paragraph(&w.t("service.no_lines"), Font::Helvetica, 10.0);
    } else {
        flow.table(&table);
    }
    flow.advance(8.0);
    for (key, value, font) in [
        ("service.net", totals["net"].as_str(), Font::Helvetica),
        ("service.vat", totals["vat"].as_str(), Font::Helvetica),
        (
            "service.total",
            totals["total"].as_str(),
            Font::HelveticaBold,
        ),
    ] {
        flow.lines(
            &format!("{}: {}", w.t(key), value.unwrap_or("")),
            font,
            11.0,
            Align::Right,
        );
    }
}

fn intake(flow: &mut Flow<'_>, w: &Words<'_>, v: &ServiceOrderView, url: &str, zone: Tz) {
    heading(flow, w, &w.t("service.document.intake"), v, zone);
    let mut rows = order_facts(w, v);
    let dash = || "—".to_owned();
    rows.push((
        w.t("service.accessories"),
        v.accessories.clone().unwrap_or_else(dash),
    ));
    rows.push((
        w.t("service.condition_notes"),
        v.condition_notes.clone().unwrap_or_else(dash),
    ));
    rows.push((w.t("service.reported_fault"), v.reported_fault.clone()));
    rows.push((
        w.t("service.promised_date"),
        v.promised_date
            .map(|d| d.format("%d-%m-%Y").to_string())
            .unwrap_or_else(dash),
    ));
    facts(flow, &rows);
    flow.advance(12.0);
    flow.title(&w.t("service.doc.conditions"), 12.0);
    numbered(flow, w, "service.doc.condition", CONDITIONS);
    flow.advance(10.0);
    // The tracking page, as a code to scan and as an address to type.
    let side = 90.0;
    flow.ensure_space(side + 20.0);
    flow.paragraph(&w.t("service.doc.track"), Font::HelveticaBold, 10.0);
    flow.paragraph(url, Font::Helvetica, 8.0);
    if let Ok(code) = faena_pdf::qr::matrix(url) {
        let (x, y) = (flow.left(), flow.y() + 4.0);
        flow.page().qr(&code, x, y, side, 4);
        flow.advance(side + 8.0);
    }
    signature(flow, &w.t("service.doc.customer_signature"));
}

fn estimate(flow: &mut Flow<'_>, w: &Words<'_>, v: &ServiceOrderView, zone: Tz) {
    heading(flow, w, &w.t("service.document.estimate"), v, zone);
    let mut rows = order_facts(w, v);
    rows.push((w.t("service.reported_fault"), v.reported_fault.clone()));
    rows.push((
        w.t("service.diagnosis"),
        v.diagnosis.clone().unwrap_or_else(|| "—".into()),
    ));
    facts(flow, &rows);
    flow.advance(12.0);
    lines_table(flow, w, v);
    flow.advance(12.0);
    flow.paragraph(&w.t("service.doc.estimate_note"), Font::Helvetica, 9.0);
}

fn delivery(
    flow: &mut Flow<'_>,
    w: &Words<'_>,
    v: &ServiceOrderView,
    delivered: Option<DateTime<Utc>>,
    zone: Tz,
) {
    heading(flow, w, &w.t("service.document.delivery"), v, zone);
    let mut rows = order_facts(w, v);
    rows.push((
        w.t("service.diagnosis"),
        v.diagnosis.clone().unwrap_or_else(|| "—".into()),
    ));
    rows.push((
        w.t("service.delivered_at"),
        delivered.map_or_else(|| "—".into(), |at| when(at, zone)),
    ));
    facts(flow, &rows);
    flow.advance(12.0);
    lines_table(flow, w, v);
    flow.advance(12.0);
    flow.title(&w.t("service.doc.warranty"), 12.0);
    numbered(flow, w, "service.doc.warranty_term", WARRANTY_TERMS);
    signature(flow, &w.t("service.doc.received_ok"));
}

/// The document `kind` of order `number` as a PDF, if the caller may see
/// the order.
pub async fn pdf(
    state: &AppState,
    who: &Caller,
    number: &str,
    kind: DocumentKind,
    locale: Locale,
    zone: Tz,
) -> AppResult<(String, Vec<u8>)> {
    let v = search::find(state, who, number).await?;
    let m = store::find_by_number(state.db(), &v.number)
        .await?
        .ok_or(AppError::NotFound)?;
    let url = m
        .tracking_token
        .as_deref()
        .map(|t| tracking_link(state, t))
        .unwrap_or_default();
    let delivered = v.history.as_ref().and_then(|h| {
        h.iter()
            .rev()
            .find(|e| e.to_status == ServiceStatus::Delivered)
            .map(|e| e.at)
    });
    let w = Words { state, locale };
    let title = format!(
        "{} {}",
        w.t(&format!("service.document.{}", kind.as_str())),
        v.number
    );
    let mut doc = Document::new();
    doc.set_title(&title)
        .set_creator("Faena")
        .set_creation_date(&Utc::now());
    {
        let mut flow = Flow::new(&mut doc, PageSize::A4, Margins::default());
        match kind {
            DocumentKind::Intake => intake(&mut flow, &w, &v, &url, zone),
            DocumentKind::Estimate => estimate(&mut flow, &w, &v, zone),
            DocumentKind::Delivery => delivery(&mut flow, &w, &v, delivered, zone),
        }
    }
    let pages = w.tp(
        "pdf.page_of",
        &[("page", "{page}".into()), ("pages", "{pages}".into())],
    );
    doc.number_pages(&Footer::new(&format!("{} · {pages}", v.number)));
    Ok((
        format!("{}-{}.pdf", v.number, kind.as_str()),
        doc.to_bytes(),
    ))
}

/// The document as a download.
pub async fn download(
    state: &AppState,
    who: &Caller,
    number: &str,
    document: &str,
    locale: Locale,
    zone: Tz,
) -> AppResult<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let kind = DocumentKind::parse(document).ok_or(AppError::NotFound)?;
    let (name, bytes) = pdf(state, who, number, kind, locale, zone).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
