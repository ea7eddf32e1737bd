//! Labels and documents as a customer and a printer shop read them: ZPL
//! with the barcode and QR commands, PDFs read back with poppler's
//! `pdftotext`, and their codes read with zbar's `zbarimg` from a
//! rendering (`pdftoppm`).

use axum::http::StatusCode;
use serde_json::json;

use crate::{fields, intake, put, setup, walk};

/// The tracking page's address of `number`, as the order keeps it.
async fn tracking_url(app: &faena_testkit::TestApp, number: &str) -> String {
    let m = faena_service::orders::store::find_by_number(app.state.db(), number)
        .await
        .unwrap()
        .unwrap();
    format!(
        "{}/service/track/{}",
        app.state.config().public_base(),
        m.tracking_token.unwrap()
    )
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils / zbar-tools): {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What `pdftotext -layout` reads in a PDF.
pub fn pdf_text(bytes: &[u8]) -> String {
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    run(
        "pdftotext",
        &["-layout", "-enc", "UTF-8", path.to_str().unwrap(), "-"],
    )
}

/// The codes (QR and Code 128) `zbarimg` reads on the PDF's first page
/// rendered at 300 dpi.
pub fn pdf_codes(bytes: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    let prefix = dir.path().join("page");
    run(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "300",
            "-f",
            "1",
            "-l",
            "1",
            path.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    let png = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .expect("a rendered page");
    let mut codes: Vec<String> = run(
        "zbarimg",
        &[
            "--quiet",
            "--raw",
            "-Sdisable",
            "-Sqrcode.enable",
            "-Scode128.enable",
            png.to_str().unwrap(),
        ],
    )
    .lines()
    .map(str::to_owned)
    .collect();
    codes.sort();
    codes
}

#[tokio::test]
async fn zpl_labels_carry_the_number_and_the_tracking_page() {
    let (app, admin, client_id) = setup().await;
    let order = intake(&admin, &client_id).await;
    let number = order["number"].as_str().unwrap().to_owned();
    let url = tracking_url(&app, &number).await;

    let res = admin
        .get(&format!("/api/service-orders/{number}/label"))
        .await;
    res.assert_status(StatusCode::OK);
    assert!(res.content_type().starts_with("text/plain"));
    assert!(
        res.header("content-disposition")
            .unwrap()
            .contains(&format!("{number}-intake-203dpi.zpl"))
    );
    let zpl = res.text();
    assert!(zpl.starts_with("^XA\n^CI28\n^PW800\n^LL400\n"), "{zpl}");
    assert!(
        zpl.contains(&format!("^BCN,104,N,N,N^FH\\^FD{number}^FS")),
        "{zpl}"
    );
    assert!(zpl.contains("^BQN,2,"), "{zpl}");
    assert!(zpl.contains(&format!("^FDMA,{url}^FS")), "{zpl}");
    assert!(zpl.contains("Celular Samsung Galaxy A54"), "{zpl}");
    assert!(zpl.contains("Prometida: 15-12-2026"), "{zpl}");
    assert!(zpl.trim_end().ends_with("^XZ"));

    let tag = admin
        .get(&format!(
            "/api/service-orders/{number}/label?kind=tag&dpi=300"
        ))
        .await
        .text();
    assert!(tag.contains("^PW720\n^LL480\n"), "{tag}");

    for (query, field) in [
        ("dpi=250", "dpi"),
        ("kind=sticker", "kind"),
        ("format=png", "format"),
    ] {
        let res = admin
            .get(&format!("/api/service-orders/{number}/label?{query}"))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(fields(&res), [field], "{query}");
    }
    // Another technician's order is not there for a technician.
    let tech = app.client_for("technician").await;
    let other = app.client_for("technician").await;
    let me = crate::my_id(&other).await;
    admin
        .post_json(
            &format!("/api/service-orders/{number}/assign"),
            &json!({"technician_id": me}),
        )
        .await
        .assert_status(StatusCode::OK);
    tech.get(&format!("/api/service-orders/{number}/label"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    other
        .get(&format!("/api/service-orders/{number}/label"))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn the_pdf_label_scans_back_to_the_number_and_the_url() {
    let (app, admin, client_id) = setup().await;
    let order = intake(&admin, &client_id).await;
    let number = order["number"].as_str().unwrap().to_owned();
    let url = tracking_url(&app, &number).await;
    for kind in ["intake", "tag"] {
        let res = admin
            .get(&format!(
                "/api/service-orders/{number}/label?kind={kind}&format=pdf"
            ))
            .await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.content_type(), "application/pdf");
        let text = pdf_text(&res.body);
        assert!(text.contains(&number), "{text}");
        assert!(text.contains("Samsung"), "{text}");
        let mut expected = vec![number.clone(), url.clone()];
        expected.sort();
        assert_eq!(pdf_codes(&res.body), expected, "{kind}");
    }
    // The order page offers the downloads.
    let browser = app.admin_browser().await;
    let page = browser.get(&format!("/service-orders/{number}")).await;
    let html = page.text();
    assert!(
        html.contains(&format!(
            "/service-orders/{number}/label?kind=tag&amp;format=zpl&amp;dpi=300"
        )),
        "{html}"
    );
    assert!(html.contains(&format!("/service-orders/{number}/documents/intake.pdf")));
    let res = browser
        .get(&format!(
            "/service-orders/{number}/label?kind=tag&format=pdf"
        ))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.content_type(), "application/pdf");
}

#[tokio::test]
async fn documents_print_the_order_in_spanish() {
    let (app, admin, client_id) = setup().await;
    let order = intake(&admin, &client_id).await;
    let number = order["number"].as_str().unwrap().to_owned();
    let url = tracking_url(&app, &number).await;

    let res = admin
        .get(&format!(
            "/api/service-orders/{number}/documents/intake.pdf"
        ))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.content_type(), "application/pdf");
    let text = pdf_text(&res.body);
    for expected in [
        number.as_str(),
        "Comprobante de recepción",
        "Condiciones del servicio",
        "90 días",
        "respaldo",
        "Ana Pérez",
        "Cargador y funda",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert_eq!(pdf_codes(&res.body), [url]);

    let lines = json!({"lines": [
        {"kind": "part", "description": "Pantalla", "quantity": 1, "unit_price_clp": 45990},
        {"kind": "labour", "description": "Cambio de pantalla", "quantity": 1, "unit_price_clp": 15000},
    ]});
    put(
        &admin,
        &format!("/api/service-orders/{number}/lines"),
        &lines,
    )
    .await
    .assert_status(StatusCode::OK);
    let text = pdf_text(
        &admin
            .get(&format!(
                "/api/service-orders/{number}/documents/estimate.pdf"
            ))
            .await
            .body,
    );
    // 60 990 net, 11 588 IVA (19 %, rounded), 72 578 in all.
    for expected in [
        "Presupuesto",
        "Pantalla",
        "$60.990",
        "$11.588",
        "$72.578",
        "IVA",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }

    walk(&admin, &number, "delivered").await;
    let text = pdf_text(
        &admin
            .get(&format!(
                "/api/service-orders/{number}/documents/delivery.pdf"
            ))
            .await
            .body,
    );
    for expected in [
        "Comprobante de entrega",
        "Garantía de la reparación",
        "90 días",
        "Ley 19.496",
        "$72.578",
        "Recibí conforme",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    admin
        .get(&format!(
            "/api/service-orders/{number}/documents/invoice.pdf"
        ))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}
