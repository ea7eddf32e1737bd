use faena_pdf::{Document, Label, LabelSheet, Rgb, labels};

use crate::tools::{PdfFile, scan};

fn machine(i: usize) -> Label {
    let url = format!("https://faena.example/r/maq{i:02}x7Kp2");
    let name = format!("Compresor {i:02}");
    let place = if i.is_multiple_of(2) {
        "Bodega Ñuñoa"
    } else {
        "Planta Maipú"
    };
    Label::new(&url, &[&name, place, "Calibración: 2026-05"]).expect("label")
}

#[test]
fn a_sheet_of_fourteen_labels_has_fourteen_readable_codes() {
    let all: Vec<Label> = (1..=14).map(machine).collect();
    let mut doc = Document::new();
    let mut sheet = LabelSheet::a4(2, 7);
    sheet.outline = Some(Rgb::LIGHT_GRAY);
    labels::render(&mut doc, &sheet, &all).expect("render");
    let file = PdfFile::new(&doc);
    assert_eq!(file.info_field(&[], "Pages"), "1");

    let pages = file.render(150);
    let mut codes = scan(&pages[0]);
    codes.sort();
    let mut expected: Vec<String> = (1..=14)
        .map(|i| format!("https://faena.example/r/maq{i:02}x7Kp2"))
        .collect();
    expected.sort();
    assert_eq!(codes, expected);

    let text = file.text();
    for i in 1..=14 {
        assert!(text.contains(&format!("Compresor {i:02}")), "{text}");
    }
    assert!(
        text.contains("Bodega Ñuñoa") && text.contains("Planta Maipú"),
        "{text}"
    );
}

#[test]
fn an_unencodable_label_fails_before_drawing() {
    let too_long = Label::new(&"x".repeat(4000), &["Demasiado"]).expect("label");
    let mut doc = Document::new();
    let result = labels::render(&mut doc, &LabelSheet::a4(2, 7), &[machine(1), too_long]);
    assert!(result.is_err());
    assert_eq!(doc.page_count(), 0);
}
