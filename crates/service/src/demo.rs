//! Demo service orders for the given clients: numbered like real ones
//! (the year's counter advances with them), in every status, each with a
//! history that walks the status machine and an estimate once diagnosed.

use chrono::{Datelike, Duration, Utc};
use faena_platform::demo::DemoRng;
use faena_platform::text;
use sea_orm::{ActiveModelTrait, DatabaseConnection, DbErr, IntoActiveModel, Set};
use uuid::Uuid;

use crate::orders::store::{self, history, line, order};
use crate::orders::{
    EstimateTotals, LineKind, OrderNumber, ServicePriority, ServiceStatus, line_net,
};

const DEVICES: &[(&str, &str, &str, &str)] = &[
    ("Notebook", "Lenovo", "ThinkPad E14", "No enciende"),
    ("Celular", "Samsung", "Galaxy A54", "Pantalla trizada"),
    ("Celular", "Apple", "iPhone 12", "La batería dura muy poco"),
    ("Impresora", "Epson", "L3250", "Mancha las hojas"),
    ("Tablet", "Xiaomi", "Redmi Pad SE", "No carga"),
    ("Notebook", "HP", "Pavilion 15", "Se apaga solo"),
    ("Consola", "Sony", "PlayStation 5", "No lee discos"),
];

const PARTS: &[(&str, i64)] = &[
    ("Pantalla original", 89_990),
    ("Batería", 34_990),
    ("Conector de carga", 12_990),
    ("Ventilador", 19_990),
    ("Cabezal de impresión", 45_990),
];

/// The path from `received` to `status`.
fn path(status: ServiceStatus) -> &'static [ServiceStatus] {
    use ServiceStatus::*;
    match status {
        Received => &[Received],
        Diagnosing => &[Received, Diagnosing],
        AwaitingApproval => &[Received, Diagnosing, AwaitingApproval],
        Approved => &[Received, Diagnosing, AwaitingApproval, Approved],
        Rejected => &[Received, Diagnosing, AwaitingApproval, Rejected],
        AwaitingParts => &[
            Received,
            Diagnosing,
            AwaitingApproval,
            Approved,
            AwaitingParts,
        ],
        InRepair => &[Received, Diagnosing, AwaitingApproval, Approved, InRepair],
        Ready => &[
            Received,
            Diagnosing,
            AwaitingApproval,
            Approved,
            InRepair,
            Ready,
        ],
        Delivered => &[
            Received,
            Diagnosing,
            AwaitingApproval,
            Approved,
            InRepair,
            Ready,
            Delivered,
        ],
        Cancelled => &[Received, Cancelled],
    }
}

/// Adds `m` service orders for `clients`, spread over the last 60 days and
/// over every status; returns how many.
pub async fn generate(
    db: &DatabaseConnection,
    clients: &[Uuid],
    m: u64,
    seed: u64,
) -> Result<u64, DbErr> {
    if clients.is_empty() || m == 0 {
        return Ok(0);
    }
    let mut rng = DemoRng::new(seed ^ 0x0053_4552);
    let txn = faena_platform::db::begin_write(db, &Default::default()).await?;
    let now = Utc::now();
    let year = now.year();
    let count = i64::try_from(m).unwrap_or(0);
    let last = store::take_numbers(&txn, year, count).await?;
    for k in 0..count {
        let status = ServiceStatus::ALL[usize::try_from(k).unwrap_or(0) % ServiceStatus::ALL.len()];
        let (device_type, brand, model, fault) = *rng.pick(DEVICES);
        let client = *rng.pick(clients);
        let id = Uuid::now_v7();
        let created = now - Duration::hours(i64::try_from(rng.range(2, 60 * 24)).unwrap_or(2));
        let number = OrderNumber::new(year, last - count + 1 + k);
        let diagnosed = !matches!(status, ServiceStatus::Received | ServiceStatus::Cancelled);
        let lines = if diagnosed {
            let (part, price) = *rng.pick(PARTS);
            vec![
                (LineKind::Part, part.to_owned(), 1, price, 0),
                (LineKind::Labour, "Mano de obra".to_owned(), 1, 15_000, 0),
            ]
        } else {
            Vec::new()
        };
        let domain: Vec<crate::orders::EstimateLine> = lines
            .iter()
            .map(|(kind, d, q, p, disc)| crate::orders::EstimateLine {
                kind: *kind,
                description: d.clone(),
                quantity: *q,
                unit_price_clp: *p,
                discount_percent: *disc,
                net_clp: line_net(*q, *p, *disc),
            })
            .collect();
        let totals = EstimateTotals::of(&domain);
        let serial = format!("SN{:010}", rng.range(1, 9_999_999_999));
        let moves = path(status);
        let step = Duration::minutes(30);
        order::Model {
            id,
            number: number.as_str().to_owned(),
            year,
            client_id: client,
            status: status.as_str().to_owned(),
            priority: ServicePriority::ALL[usize::try_from(k).unwrap_or(0) % 4]
                .as_str()
                .to_owned(),
            device_type: device_type.to_owned(),
            brand: brand.to_owned(),
            model: model.to_owned(),
            serial: Some(serial.clone()),
            accessories: Some("Cargador".to_owned()),
            condition_notes: Some("Rayas leves en la carcasa".to_owned()),
            reported_fault: fault.to_owned(),
            diagnosis: diagnosed.then(|| "Revisado en el taller".to_owned()),
            promised_date: Some((created + Duration::days(5)).date_naive()),
            technician_id: None,
            warranty_of: None,
            cancel_reason: (status == ServiceStatus::Cancelled)
                .then(|| "El cliente retiró el equipo sin reparar".to_owned()),
            net_clp: totals.net_clp,
            vat_clp: totals.vat_clp,
            total_clp: totals.total_clp,
            search_text: text::search_text([
                number.as_str(),
                serial.as_str(),
                device_type,
                brand,
                model,
            ]),
            contact_email: None,
            tracking_token: Some(crate::orders::notices::tracking_token()),
            paid_at: None,
            paid_amount_clp: None,
            payment_reference: None,
            reminded_at: None,
            created_by: "demo".to_owned(),
            created_at: created,
            updated_at: created + step * i32::try_from(moves.len()).unwrap_or(1),
            version: i32::try_from(moves.len()).unwrap_or(1),
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await?;
        for (i, l) in domain.iter().enumerate() {
            line::ActiveModel {
                id: Set(Uuid::now_v7()),
                order_id: Set(id),
                position: Set(i32::try_from(i).unwrap_or(0)),
                kind: Set(l.kind.as_str().to_owned()),
                description: Set(l.description.clone()),
                quantity: Set(l.quantity),
                unit_price_clp: Set(l.unit_price_clp),
                discount_percent: Set(l.discount_percent),
                net_clp: Set(l.net_clp),
            }
            .insert(&txn)
            .await?;
        }
        for (i, to) in moves.iter().enumerate() {
            history::ActiveModel {
                id: Set(Uuid::now_v7()),
                order_id: Set(id),
                from_status: Set(i.checked_sub(1).map(|p| moves[p].as_str().to_owned())),
                to_status: Set(to.as_str().to_owned()),
                note: Set(None),
                actor_id: Set(None),
                actor: Set("demo".to_owned()),
                at: Set(created + step * i32::try_from(i).unwrap_or(0)),
            }
            .insert(&txn)
            .await?;
        }
    }
    txn.commit().await?;
    Ok(m)
}
