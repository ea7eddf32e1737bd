use faena_pdf::{Document, PageSize, code128, mm};

use crate::tools::{PdfFile, run};

/// The Code 128 symbols `zbarimg` reads on a rendered page.
fn scan_code128(path: &std::path::Path) -> Vec<String> {
    let out = run(
        "zbarimg",
        &[
            "--quiet",
            "--raw",
            "-Sdisable",
            "-Scode128.enable",
            path.to_str().expect("utf-8 path"),
        ],
    );
    out.lines().map(str::to_owned).collect()
}

#[test]
fn barcodes_drawn_on_a_page_scan_back() {
    for text in ["OS-2026-000123", "PJJ123C", "12345678", "A1b2-C3d4 ~x"] {
        let code = code128::encode(text).expect("encodes");
        let mut doc = Document::new();
        let module = mm(0.3);
        let width = (code.modules() + 2 * code128::DEFAULT_QUIET_ZONE) as f32 * module;
        doc.add_page(PageSize::from_mm(100.0, 40.0)).code128(
            &code,
            mm(5.0),
            mm(5.0),
            width,
            mm(15.0),
            code128::DEFAULT_QUIET_ZONE,
        );
        let file = PdfFile::new(&doc);
        let pages = file.render(300);
        assert_eq!(scan_code128(&pages[0]), [text], "{text}");
    }
}
