use faena_pdf::{Document, PageSize, qr};

use crate::tools::{PdfFile, scan};

const URL: &str = "https://faena.example/r/3f9aQm7xK2pL9vT4wZ8rN1cY6hJ0bF5dG3sAtoken";

#[test]
fn qr_png_scans_back_to_the_exact_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("qr.png");
    std::fs::write(&path, qr::png(URL, 6, 4).expect("png")).expect("write");
    assert_eq!(scan(&path), [URL]);
}

#[test]
fn qr_drawn_on_a_page_scans_when_printed() {
    let code = qr::matrix(URL).expect("matrix");
    let mut doc = Document::new();
    // 2.5 cm square, a typical size on a machine plate.
    doc.add_page(PageSize::A4).qr(&code, 100.0, 100.0, 71.0, 4);
    let file = PdfFile::new(&doc);
    let pages = file.render(150);
    assert_eq!(scan(&pages[0]), [URL]);
}

#[test]
fn a_different_text_gives_a_different_code() {
    // Guards the scan tests against a decoder that reads something fixed.
    // (Codes carry UTF-8 without an ECI header; zbar guesses Shift-JIS for
    // such bytes, phone scanners guess UTF-8, so this text stays ASCII.)
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("qr.png");
    std::fs::write(&path, qr::png("EQ-0042/MAIPU", 4, 4).expect("png")).expect("write");
    assert_eq!(scan(&path), ["EQ-0042/MAIPU"]);
}
