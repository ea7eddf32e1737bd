use chrono::{FixedOffset, TimeZone};
use faena_pdf::{Align, Document, Font, PageSize, text_width};

use crate::tools::PdfFile;

const SPANISH: &str = "Calibración vencida — Año 2026, señal Ñuñoa ¿listo?";

#[test]
fn spanish_text_round_trips_through_pdftotext() {
    let mut doc = Document::new();
    let page = doc.add_page(PageSize::A4);
    page.text(50.0, 80.0, 12.0, Font::Helvetica, SPANISH);
    page.text(
        50.0,
        110.0,
        12.0,
        Font::HelveticaBold,
        "¡Atención! 25 °C, 3º piso, pingüino €",
    );
    let file = PdfFile::new(&doc);
    let text = file.text();
    assert!(text.contains(SPANISH), "{text}");
    assert!(
        text.contains("¡Atención! 25 °C, 3º piso, pingüino €"),
        "{text}"
    );
}

#[test]
fn characters_outside_winansi_print_as_question_marks() {
    let mut doc = Document::new();
    doc.add_page(PageSize::A4)
        .text(50.0, 80.0, 12.0, Font::Helvetica, "Planta 東京 ok");
    let text = PdfFile::new(&doc).text();
    assert!(text.contains("Planta ?? ok"), "{text}");
}

#[test]
fn aligned_text_lands_where_asked() {
    // Right-aligned text ends at the anchor and centred text straddles it:
    // checked on pdftotext's bounding boxes, which use the fonts' widths.
    let mut doc = Document::new();
    let page = doc.add_page(PageSize::A4);
    page.text_right(500.0, 100.0, 10.0, Font::Helvetica, "Total $ 1.234.567");
    page.text_aligned(
        300.0,
        200.0,
        10.0,
        Font::HelveticaBold,
        "Centro",
        Align::Center,
    );
    let file = PdfFile::new(&doc);
    let (_, _, total_end, _) = file.word("1.234.567");
    assert!((total_end - 500.0).abs() < 0.5, "ends at {total_end}");
    let (min, _, max, _) = file.word("Centro");
    let width = text_width(Font::HelveticaBold, 10.0, "Centro");
    assert!((min - (300.0 - width / 2.0)).abs() < 0.5, "{min}");
    assert!((max - (300.0 + width / 2.0)).abs() < 0.5, "{max}");
}

#[test]
fn pdfinfo_reads_metadata_pages_and_sizes() {
    let mut doc = Document::new();
    let at = FixedOffset::west_opt(3 * 3600)
        .expect("offset")
        .with_ymd_and_hms(2026, 3, 4, 9, 30, 15)
        .single()
        .expect("date");
    doc.set_title("Registro de calibración — Ñuñoa")
        .set_author("Operaciones Faena")
        .set_creator("Faena")
        .set_creation_date(&at);
    doc.add_page(PageSize::A4);
    doc.add_page(PageSize::A4_LANDSCAPE);
    doc.add_page(PageSize::new(288.0, 144.0));
    let file = PdfFile::new(&doc);

    assert_eq!(file.info_field(&[], "Pages"), "3");
    assert_eq!(
        file.info_field(&[], "Title"),
        "Registro de calibración — Ñuñoa"
    );
    assert_eq!(file.info_field(&[], "Author"), "Operaciones Faena");
    assert_eq!(file.info_field(&[], "Creator"), "Faena");
    assert_eq!(
        file.info_field(&["-isodates"], "CreationDate"),
        "2026-03-04T09:30:15-03"
    );

    let sizes: Vec<String> = (1..=3)
        .map(|n| {
            let n = n.to_string();
            file.info_field(&["-f", &n, "-l", &n], &format!("Page {:>4} size", n))
        })
        .collect();
    assert_size(&sizes[0], 595, 842, Some("A4"));
    assert_size(&sizes[1], 842, 595, Some("A4"));
    assert_size(&sizes[2], 288, 144, None);
    let rot = file.info_field(&["-f", "2", "-l", "2"], "Page    2 rot");
    assert_eq!(
        rot, "0",
        "landscape comes from the media box, not a rotation"
    );
}

/// `595.28 x 841.89 pts (A4)` rounds to the expected points.
fn assert_size(field: &str, width: u32, height: u32, name: Option<&str>) {
    let mut parts = field.split_whitespace();
    let w: f32 = parts.next().and_then(|v| v.parse().ok()).expect(field);
    parts.next();
    let h: f32 = parts.next().and_then(|v| v.parse().ok()).expect(field);
    assert_eq!(
        (w.round() as u32, h.round() as u32),
        (width, height),
        "{field}"
    );
    if let Some(name) = name {
        assert!(field.contains(&format!("({name})")), "{field}");
    }
}
