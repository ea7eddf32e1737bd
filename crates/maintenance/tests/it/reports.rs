use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{Duration, Utc};
use serde_json::json;

use crate::{a_machine, create_machine, record, setup};

/// The text of a PDF, read with poppler's `pdftotext`.
fn pdf_text(bytes: &[u8]) -> String {
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian's poppler-utils) reads the PDF");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn days_ago(n: i64) -> String {
    (Utc::now() - Duration::days(n)).to_rfc3339()
}

fn in_days(n: i64) -> String {
    (faena_platform::ui::today(chrono_tz::America::Santiago) + Duration::days(n)).to_string()
}

#[tokio::test]
async fn the_calibration_register_colours_each_instrument_and_prints() {
    let (_app, admin) = setup().await;
    for (code, name) in [
        ("BAL-001", "Balanza analítica"),
        ("PH-002", "pH-metro"),
        ("TER-003", "Termómetro patrón"),
        ("AGI-004", "Agitador"),
    ] {
        let mut m = a_machine(code);
        m["name"] = json!(name);
        create_machine(&admin, &m).await;
    }
    // Overdue: calibrated a year ago, due a month ago.
    let old = record(
        &admin,
        "PH-002",
        &json!({"kind": "calibration", "description": "Calibración con buffers 4, 7 y 10", "performed_at": days_ago(365),
                "next_due_on": in_days(-30), "measurements": {"Tolerancia": "± 0,02 pH"}}),
    )
    .await;
    // Fine: calibrated last week, due in six months; with its certificate.
    let fine = record(
        &admin,
        "TER-003",
        &json!({"kind": "calibration", "description": "Comparación con patrón trazable", "performed_at": days_ago(7),
                "next_due_on": in_days(180), "outcome": "ok"}),
    )
    .await;
    let boundary = "----cert";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"certificado.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\r\n--{boundary}--\r\n"
    );
    let res = admin
        .send(
            Request::post(format!(
                "/api/attachments/maintenance.record/{}",
                fine["id"].as_str().unwrap()
            ))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap(),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    // Due soon: never calibrated, a plan due in ten days.
    admin
        .post_json(
            "/api/machines/BAL-001/plans",
            &json!({"title": "Calibración anual", "kind": "calibration", "interval_count": 12, "interval_unit": "months", "first_due_on": in_days(10)}),
        )
        .await
        .assert_status(StatusCode::CREATED);

    let rows = admin.get("/api/maintenance/calibrations").await.json();
    let rows = rows.as_array().unwrap();
    let summary: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["machine_code"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("PH-002", "overdue"),
            ("BAL-001", "due_soon"),
            ("TER-003", "fine")
        ],
        "instruments only, most urgent first"
    );
    assert_eq!(rows[0]["tolerance"], "± 0,02 pH");
    assert_eq!(rows[0]["last_record"], old["id"]);
    assert!(
        rows[2]["certificate_url"]
            .as_str()
            .unwrap()
            .starts_with("/api/files/")
    );
    let cert = admin
        .get(rows[2]["certificate_url"].as_str().unwrap())
        .await;
    cert.assert_status(StatusCode::OK);
    assert!(cert.body.starts_with(b"%PDF-1.4"));

    let pdf = admin.get("/api/maintenance/calibrations.pdf").await;
    pdf.assert_status(StatusCode::OK);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let text = pdf_text(&pdf.body);
    assert!(text.contains("Registro de calibraciones"), "{text}");
    for expected in [
        "PH-002",
        "Vencida",
        "Vence en 30 días",
        "Al día",
        "± 0,02 pH",
        "Página 1 de 1",
    ] {
        assert!(text.contains(expected), "{expected} in: {text}");
    }
}

#[tokio::test]
async fn the_report_totals_work_cost_and_downtime_in_three_formats() {
    let (_app, admin) = setup().await;
    create_machine(&admin, &a_machine("MAQ-500")).await;
    let mut other = a_machine("MAQ-501");
    other["lab"] = json!("Planta Piloto");
    create_machine(&admin, &other).await;
    let work = |kind: &str, cost: i64, minutes: i64| {
        json!({"kind": kind, "description": "Trabajo", "cost_clp": cost, "duration_minutes": minutes,
               "parts": [{"name": "Filtro", "quantity": 2, "unit_cost_clp": 5000}], "performed_at": days_ago(2)})
    };
    record(&admin, "MAQ-500", &work("preventive", 40000, 60)).await;
    record(&admin, "MAQ-500", &work("corrective", 100000, 180)).await;
    record(&admin, "MAQ-501", &work("preventive", 20000, 30)).await;
    // Out of the period: not counted.
    let mut old = work("preventive", 999999, 999);
    old["performed_at"] = json!(days_ago(90));
    record(&admin, "MAQ-501", &old).await;

    let q = format!("from={}&to={}", in_days(-30), in_days(0));
    let r = admin
        .get(&format!("/api/maintenance/report?{q}"))
        .await
        .json();
    assert_eq!(
        r["totals"],
        json!({"records": 3, "cost_clp": 190000, "downtime_minutes": 270}),
        "{r}"
    );
    assert_eq!(
        r["by_kind"][0],
        json!({"key": "preventive", "records": 2, "cost_clp": 80000, "downtime_minutes": 90})
    );
    assert_eq!(r["by_kind"][1]["key"], "corrective");
    let labs: Vec<&str> = r["by_lab"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(labs, ["Laboratorio de Química", "Planta Piloto"]);
    assert_eq!(r["by_machine"][0]["key"], "MAQ-500");
    assert_eq!(r["by_machine"][0]["cost_clp"], 160000);
    let lab_only = admin
        .get(&format!("/api/maintenance/report?{q}&lab=planta%20piloto"))
        .await
        .json();
    assert_eq!(lab_only["totals"]["records"], 1);

    let csv = admin
        .get(&format!("/api/maintenance/report?{q}&format=csv"))
        .await;
    csv.assert_status(StatusCode::OK);
    let text = csv.text();
    assert!(text.contains("Total;;;3;190000;270"), "{text}");
    assert!(text.contains("Por tipo;Correctiva;;1;110000;180"), "{text}");
    assert!(
        text.contains("Por máquina;MAQ-500;Centrífuga refrigerada;2;160000;240"),
        "{text}"
    );

    let pdf = admin
        .send(
            Request::get(format!("/api/maintenance/report?{q}"))
                .header(header::ACCEPT, "application/pdf")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    pdf.assert_status(StatusCode::OK);
    let text = pdf_text(&pdf.body);
    assert!(text.contains("Informe de mantención"), "{text}");
    assert!(
        text.contains("3 trabajos, costo $190.000, 270 minutos de detención"),
        "{text}"
    );
    assert!(text.contains("Planta Piloto"), "{text}");

    let res = admin.get("/api/maintenance/report?format=xml").await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["errors"][0]["field"], "format");
}
