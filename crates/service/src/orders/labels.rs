//! The order's labels: the intake label (100 × 50 mm, for the shop's copy
//! and the box) and the device tag (60 × 40 mm, stuck on the device), each
//! with a Code 128 of the order number and a QR code of the public
//! tracking page, the device and the dates. One layout in millimetres is
//! drawn as ZPL for Zebra printers at 203 or 300 dpi and as a PDF page of
//! the label's size, so the download and the printed label agree.
//!
//! Reads the order as the caller may see it; writes nothing (printing is
//! `printers::service`).

use chrono::NaiveDate;
use faena_platform::{AppError, AppResult, AppState, Locale};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::notices::tracking_link;
use super::{Caller, OrderNumber, store};

/// Which label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLabelKind {
    /// The intake label, 100 × 50 mm.
    Intake,
    /// The device tag, 60 × 40 mm.
    Tag,
}

impl ServiceLabelKind {
    pub const ALL: [ServiceLabelKind; 2] = [ServiceLabelKind::Intake, ServiceLabelKind::Tag];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceLabelKind::Intake => "intake",
            ServiceLabelKind::Tag => "tag",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What a label says, already in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelData {
    pub number: String,
    /// Type, brand and model.
    pub device: String,
    /// "Recibida: 07-12-2026".
    pub received: String,
    /// "Prometida: 15-12-2026".
    pub promised: String,
    /// The shop's name.
    pub shop: String,
    /// The public tracking page.
    pub tracking_url: String,
}

/// One thing on a label; positions and sizes in millimetres from the
/// label's top-left corner.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// `height` is the character height; `text` already fits `width`.
    Text {
        x: f32,
        y: f32,
        height: f32,
        bold: bool,
        text: String,
    },
    /// Code 128 of the order number; `module` is the narrowest bar.
    Barcode {
        x: f32,
        y: f32,
        height: f32,
        module: f32,
        data: String,
    },
    /// QR code in a square of side `size`.
    Qr {
        x: f32,
        y: f32,
        size: f32,
        data: String,
    },
}

/// A label's size and contents, in millimetres.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    width: f32,
    height: f32,
    items: Vec<Item>,
}

/// Cuts `text` to what fits in `width` mm at `height` mm characters
/// (Zebra's font 0 and Helvetica average about half the height), with
/// "..." when cut. Line breaks and control characters become spaces.
fn fit(text: &str, width: f32, height: f32) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    let max = ((width / (height * 0.5)).floor() as usize).max(4);
    if clean.chars().count() <= max {
        return clean;
    }
    let kept: String = clean.chars().take(max - 3).collect();
    format!("{}...", kept.trim_end())
}

fn text(x: f32, y: f32, height: f32, bold: bool, width: f32, s: &str) -> Item {
    Item::Text {
        x,
        y,
        height,
        bold,
        text: fit(s, width, height),
    }
}

/// The layout of `kind` for `data`.
pub fn layout(kind: ServiceLabelKind, data: &LabelData) -> Layout {
    let barcode = |x, y, height| Item::Barcode {
        x,
        y,
        height,
        module: 0.25,
        data: data.number.clone(),
    };
    let qr = |x, y, size| Item::Qr {
        x,
        y,
        size,
        data: data.tracking_url.clone(),
    };
    match kind {
        ServiceLabelKind::Intake => Layout {
            width: 100.0,
            height: 50.0,
            items: vec![
                text(4.0, 3.0, 6.0, true, 62.0, &data.number),
                barcode(4.0, 10.5, 13.0),
                text(4.0, 26.0, 4.0, false, 60.0, &data.device),
                text(4.0, 32.5, 3.2, false, 60.0, &data.received),
                text(4.0, 37.5, 3.2, false, 60.0, &data.promised),
                text(4.0, 43.5, 2.6, false, 60.0, &data.shop),
                qr(68.0, 16.0, 28.0),
            ],
        },
        ServiceLabelKind::Tag => Layout {
            width: 60.0,
            height: 40.0,
            items: vec![
                text(3.0, 2.5, 4.5, true, 54.0, &data.number),
                barcode(3.0, 8.0, 9.0),
                text(3.0, 19.5, 3.0, false, 36.0, &data.device),
                text(3.0, 25.0, 2.6, false, 36.0, &data.received),
                text(3.0, 29.5, 2.6, false, 36.0, &data.promised),
                qr(40.0, 18.5, 18.0),
            ],
        },
    }
}

/// `^`, `~` and the escape character itself as `\hh` hex, for a field
/// sent with `^FH\`: data can never end the field or start a command.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '^' => out.push_str("\\5E"),
            '~' => out.push_str("\\7E"),
            '\\' => out.push_str("\\5C"),
            c => out.push(c),
        }
    }
    out
}

/// The label as ZPL II for a printer of `dpi` dots per inch (203 or
/// 300): the same layout in dots, UTF-8 text (`^CI28`), Code 128 by
/// `^BC`, QR by `^BQ`.
pub fn zpl(layout: &Layout, dpi: u16) -> String {
    // Zebra counts 203 dpi as 8 dots a millimetre and 300 dpi as 12.
    let per_mm = match dpi {
        203 => 8.0,
        300 => 12.0,
        other => f32::from(other) / 25.4,
    };
    let dots = |mm: f32| (mm * per_mm).round().max(1.0) as u32;
    let mut out = String::from("^XA\n^CI28\n");
    out.push_str(&format!(
        "^PW{}\n^LL{}\n^LH0,0\n",
        dots(layout.width),
        dots(layout.height)
    ));
    for item in &layout.items {
        match item {
            Item::Text {
                x,
                y,
                height,
                bold,
                text,
            } => {
                let h = dots(*height);
                // Font 0 has no bold: a bold line is set a little wider.
                let w = if *bold { h + h / 8 } else { h };
                out.push_str(&format!(
                    "^FO{},{}^A0N,{h},{w}^FH\\^FD{}^FS\n",
                    dots(*x),
                    dots(*y),
                    escape(text)
                ));
            }
            Item::Barcode {
                x,
                y,
                height,
                module,
                data,
            } => {
                out.push_str(&format!(
                    "^FO{},{}^BY{},3,{}^BCN,{},N,N,N^FH\\^FD{}^FS\n",
                    dots(*x),
                    dots(*y),
                    dots(*module),
                    dots(*height),
                    dots(*height),
                    escape(data)
                ));
            }
            Item::Qr { x, y, size, data } => {
                // The magnification that fills the square best; the code's
                // width in modules is what our own encoder gives.
                let modules = faena_pdf::qr::matrix(data).map_or(33, |m| m.width() as u32);
                let mag = (dots(*size) / modules).clamp(1, 10);
                out.push_str(&format!(
                    "^FO{},{}^BQN,2,{mag}^FH\\^FDMA,{}^FS\n",
                    dots(*x),
                    dots(*y),
                    escape(data)
                ));
            }
        }
    }
    out.push_str("^PQ1\n^XZ\n");
    out
}

fn pdf_error(e: faena_pdf::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("label: {e}"))
}

/// The label as a one-page PDF of the label's own size, for printers
/// without ZPL (or to look at it).
pub fn pdf(layout: &Layout, title: &str) -> AppResult<Vec<u8>> {
    use faena_pdf::{Document, Font, PageSize, mm};
    let mut doc = Document::new();
    doc.set_title(title).set_creator("Faena");
    let page = doc.add_page(PageSize::from_mm(layout.width, layout.height));
    for item in &layout.items {
        match item {
            Item::Text {
                x,
                y,
                height,
                bold,
                text,
            } => {
                let font = if *bold {
                    Font::HelveticaBold
                } else {
                    Font::Helvetica
                };
                // ZPL places a line by its top; PDF by its baseline.
                let size = mm(*height);
                page.text(mm(*x), mm(*y) + size * 0.8, size, font, text);
            }
            Item::Barcode {
                x,
                y,
                height,
                module,
                data,
            } => {
                let code = faena_pdf::code128::encode(data).map_err(pdf_error)?;
                let quiet = faena_pdf::code128::DEFAULT_QUIET_ZONE;
                let width = (code.modules() + 2 * quiet) as f32 * module;
                // The quiet zone sits left of where the bars start.
                let left = (*x - quiet as f32 * module).max(0.0);
                page.code128(&code, mm(left), mm(*y), mm(width), mm(*height), quiet);
            }
            Item::Qr { x, y, size, data } => {
                let code = faena_pdf::qr::matrix(data).map_err(pdf_error)?;
                page.qr(&code, mm(*x), mm(*y), mm(*size), 2);
            }
        }
    }
    Ok(doc.to_bytes())
}

fn day(d: NaiveDate) -> String {
    d.format("%d-%m-%Y").to_string()
}

/// What the labels of order `number` say, if the caller may see it.
pub async fn data_of(
    state: &AppState,
    who: &Caller,
    number: &str,
    locale: Locale,
) -> AppResult<LabelData> {
    let number = OrderNumber::parse(number).ok_or(AppError::NotFound)?;
    let m = store::find_by_number(state.db(), number.as_str())
        .await?
        .filter(|m| who.sees(m.technician_id))
        .ok_or(AppError::NotFound)?;
    let t = |key: &str, params: &[(&str, String)]| state.i18n().t(locale, key, params);
    let received = day(m.created_at.with_timezone(&state.time_zone()).date_naive());
    let promised = match m.promised_date {
        Some(d) => t("service.label.promised", &[("date", day(d))]),
        None => t("service.label.no_promise", &[]),
    };
    Ok(LabelData {
        number: m.number.clone(),
        device: format!("{} {} {}", m.device_type, m.brand, m.model),
        received: t("service.label.received", &[("date", received)]),
        promised,
        shop: t("service.shop_name", &[]),
        tracking_url: m
            .tracking_token
            .as_deref()
            .map(|tok| tracking_link(state, tok))
            .unwrap_or_else(|| {
                format!(
                    "{}/service-orders/{}",
                    state.config().public_base(),
                    m.number
                )
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> LabelData {
        LabelData {
            number: "OS-2026-000123".into(),
            device: "Celular Samsung A54 ^XZ~JA".into(),
            received: "Recibida: 07-12-2026".into(),
            promised: "Prometida: 15-12-2026".into(),
            shop: "Servicio técnico".into(),
            tracking_url:
                "https://taller.example.cl/service/track/3f9aQm7xK2pL9vT4wZ8rN1cY6hJ0bF5d".into(),
        }
    }

    #[test]
    fn zpl_of_a_fixed_order() {
        let data = fixed();
        for kind in ServiceLabelKind::ALL {
            for dpi in [203, 300] {
                insta::assert_snapshot!(
                    format!("{}_{dpi}", kind.as_str()),
                    zpl(&layout(kind, &data), dpi)
                );
            }
        }
    }

    #[test]
    fn data_cannot_break_out_of_its_field() {
        let z = zpl(&layout(ServiceLabelKind::Intake, &fixed()), 203);
        // The device's ^XZ and ~JA arrive as hex, not as commands.
        assert!(z.contains("Samsung A54 \\5EXZ\\7EJA"), "{z}");
        assert_eq!(z.matches("^XZ").count(), 1);
        assert!(z.starts_with("^XA\n^CI28\n"));
    }

    #[test]
    fn the_same_layout_at_both_resolutions() {
        let l = layout(ServiceLabelKind::Intake, &fixed());
        let at203 = zpl(&l, 203);
        let at300 = zpl(&l, 300);
        assert!(at203.contains("^PW800\n^LL400\n"), "{at203}");
        assert!(at300.contains("^PW1200\n^LL600\n"), "{at300}");
        assert!(at203.contains("^BY2,3,104^BCN,104,N,N,N^FH\\^FDOS-2026-000123^FS"));
        assert!(at300.contains("^BY3,3,156^BCN,156,N,N,N^FH\\^FDOS-2026-000123^FS"));
    }

    #[test]
    fn long_text_is_cut() {
        let s = fit(
            "Notebook Lenovo ThinkPad X1 Carbon Gen 11 con cargador",
            36.0,
            3.0,
        );
        assert!(s.ends_with("..."), "{s}");
        assert!(s.chars().count() <= 24);
        assert_eq!(fit("a\nb", 36.0, 3.0), "a b");
    }
}

/// `zpl` or `pdf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLabelFormat {
    Zpl,
    Pdf,
}

/// Which label, in which format, for which printer.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelQuery {
    /// `intake` (default) or `tag`.
    #[param(inline)]
    pub kind: Option<ServiceLabelKind>,
    /// `zpl` (default) or `pdf`.
    #[param(inline)]
    pub format: Option<ServiceLabelFormat>,
    /// For ZPL: 203 (default) or 300.
    #[param(minimum = 203, maximum = 300)]
    pub dpi: Option<u16>,
}

/// The label as a download: ZPL as text, or a PDF.
pub async fn download(
    state: &AppState,
    who: &Caller,
    number: &str,
    q: &LabelQuery,
    locale: Locale,
) -> AppResult<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let dpi = match q.dpi {
        None => 203,
        Some(d) => crate::printers::parse_dpi(i64::from(d))?,
    };
    let kind = q.kind.unwrap_or(ServiceLabelKind::Intake);
    let data = data_of(state, who, number, locale).await?;
    let l = layout(kind, &data);
    let (body, content_type, name) = match q.format.unwrap_or(ServiceLabelFormat::Zpl) {
        ServiceLabelFormat::Zpl => (
            zpl(&l, dpi).into_bytes(),
            "text/plain; charset=utf-8",
            format!("{}-{}-{dpi}dpi.zpl", data.number, kind.as_str()),
        ),
        ServiceLabelFormat::Pdf => {
            let title = format!(
                "{} {}",
                state
                    .i18n()
                    .t(locale, &format!("service.label.{}", kind.as_str()), &[]),
                data.number
            );
            (
                pdf(&l, &title)?,
                "application/pdf",
                format!("{}-{}.pdf", data.number, kind.as_str()),
            )
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}
