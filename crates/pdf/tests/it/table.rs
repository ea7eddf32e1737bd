use faena_pdf::{Cell, Column, Document, Flow, Font, Footer, Margins, PageSize, Rgb, Table};

use crate::tools::PdfFile;

const OVERDUE: Rgb = Rgb::hex(0xF8D7DA);
const DUE_SOON: Rgb = Rgb::hex(0xFFF3CD);

fn register(rows: usize, size: PageSize) -> Document {
    let mut doc = Document::new();
    doc.set_title("Registro de equipos");
    let mut flow = Flow::new(&mut doc, size, Margins::default());
    flow.title("Registro de equipos — Planta Ñuñoa", 16.0);
    flow.paragraph(
        "Listado de equipos con su próxima calibración. Las filas en rojo están \
         vencidas y las amarillas vencen en los próximos treinta días; revise \
         cada equipo antes de firmar el informe.",
        Font::Helvetica,
        10.0,
    );
    flow.advance(8.0);
    let mut table = Table::new(vec![
        Column::new("Código", 70.0),
        Column::new("Equipo", 250.0),
        Column::new("Próxima calibración", 110.0),
        Column::new("Días", 60.0).right(),
    ]);
    for i in 1..=rows {
        let days = i as i64 - 10;
        let status = if days < 0 {
            Cell::new(&days.to_string()).fill(OVERDUE)
        } else if days < 30 {
            Cell::new(&days.to_string()).fill(DUE_SOON)
        } else {
            Cell::new(&days.to_string())
        };
        table.push_row([
            Cell::new(&format!("EQ-{i:04}")),
            Cell::new(&format!("Fila {i:03} balanza analítica")),
            Cell::new("2026-05-01"),
            status,
        ]);
    }
    flow.table(&table);
    doc.number_pages(&Footer::new("Página {page} de {pages}"));
    doc
}

#[test]
fn a_long_table_flows_with_header_and_page_numbers() {
    let file = PdfFile::new(&register(120, PageSize::A4));
    let pages = file.pages_text();
    let count = pages.len();
    assert!(
        count >= 3,
        "120 rows should need several pages, got {count}"
    );
    assert_eq!(file.info_field(&[], "Pages"), count.to_string());
    assert!(pages[0].contains("Registro de equipos — Planta Ñuñoa"));

    for (i, page) in pages.iter().enumerate() {
        let header = page
            .lines()
            .find(|l| l.contains("Código"))
            .unwrap_or_else(|| panic!("page {} has no header:\n{page}", i + 1));
        for title in ["Equipo", "Próxima calibración", "Días"] {
            assert!(header.contains(title), "page {}: {header}", i + 1);
        }
        let footer = format!("Página {} de {count}", i + 1);
        assert!(
            page.contains(&footer),
            "page {} lacks {footer:?}:\n{page}",
            i + 1
        );
    }

    let all = pages.concat();
    for i in 1..=120 {
        let row = format!("EQ-{i:04}");
        assert_eq!(all.matches(&row).count(), 1, "{row} should appear once");
    }
    // Rows keep their order across page breaks.
    let last_on_first = pages[0].rfind("EQ-").expect("rows on page 1");
    let first_on_second = pages[1].find("EQ-").expect("rows on page 2");
    let n = |s: &str| s[3..7].parse::<u32>().expect("row number");
    assert_eq!(
        n(&pages[1][first_on_second..]),
        n(&pages[0][last_on_first..]) + 1
    );
}

#[test]
fn right_aligned_column_lines_up_on_the_right() {
    let file = PdfFile::new(&register(25, PageSize::A4));
    let (_, _, minus_nine_end, _) = file.word("-9");
    let (_, _, twelve_end, _) = file.word("12");
    assert!(
        (minus_nine_end - twelve_end).abs() < 0.5,
        "{minus_nine_end} vs {twelve_end}"
    );
    let (code_start, ..) = file.word("Código");
    let (first_start, ..) = file.word("EQ-0001");
    assert!(
        (code_start - first_start).abs() < 0.5,
        "left column starts together"
    );
}

#[test]
fn coloured_cells_are_filled_with_their_colour() {
    let file = PdfFile::new(&register(40, PageSize::A4));
    let content = file
        .streams()
        .into_iter()
        .map(|s| String::from_utf8_lossy(&s).into_owned())
        .collect::<String>();
    for (name, colour) in [("overdue", OVERDUE), ("due soon", DUE_SOON)] {
        let op = format!("{} rg", colour.operands());
        assert!(content.contains(&op), "{name} fill {op:?} missing");
    }
    // Each overdue row (days -9..=-1) has exactly one red cell.
    let red = format!("{} rg", OVERDUE.operands());
    assert_eq!(content.matches(&red).count(), 9);
}

#[test]
fn landscape_register_is_landscape() {
    let file = PdfFile::new(&register(60, PageSize::A4_LANDSCAPE));
    let size = file.info_field(&[], "Page size");
    assert!(size.starts_with("841.89 x 595.28"), "{size}");
    let pages = file.pages_text();
    assert!(pages.len() >= 2);
    assert!(
        pages
            .last()
            .expect("page")
            .contains(&format!("Página {0} de {0}", pages.len()))
    );
}
