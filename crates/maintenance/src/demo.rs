//! Demo equipment for a Chilean lab: machines in several labs, a year of
//! maintenance history (preventive every few months, calibrations of the
//! instruments, some corrective work), signed off except the latest, and a
//! few machines in maintenance or out of service.

use chrono::{Duration, Utc};
use faena_platform::demo::{DemoRng, FIRST_NAMES, LAST_NAMES};
use faena_platform::text;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Set};
use uuid::Uuid;

use crate::machines::store::machine;
use crate::machines::{Criticality, MachineStatus};
use crate::plans::store::{plan, work_order};
use crate::records::store::record;
use crate::records::{Outcome, PartUsed, Record, RecordKind};

const LABS: &[&str] = &[
    "Laboratorio de Química",
    "Laboratorio de Microbiología",
    "Laboratorio de Física",
    "Planta Piloto",
    "Laboratorio de Suelos",
];

/// Kind, name, brand, model, and whether it is an instrument that is
/// calibrated.
const EQUIPMENT: &[(&str, &str, &str, &str, bool)] = &[
    (
        "Centrífuga",
        "Centrífuga refrigerada",
        "Eppendorf",
        "5810 R",
        false,
    ),
    (
        "Balanza",
        "Balanza analítica",
        "Sartorius",
        "Quintix 224",
        true,
    ),
    (
        "Autoclave",
        "Autoclave vertical",
        "Tuttnauer",
        "3870 ELV",
        false,
    ),
    (
        "Espectrofotómetro",
        "Espectrofotómetro UV-Vis",
        "Shimadzu",
        "UV-1900i",
        true,
    ),
    ("Estufa", "Estufa de cultivo", "Memmert", "IN55", true),
    ("pH-metro", "pH-metro de mesa", "Hanna", "HI5221", true),
    (
        "Campana",
        "Campana de extracción",
        "Esco",
        "Frontier",
        false,
    ),
    (
        "Refrigerador",
        "Refrigerador de laboratorio",
        "Thermo Fisher",
        "TSX505",
        true,
    ),
    (
        "Cromatógrafo",
        "Cromatógrafo HPLC",
        "Agilent",
        "1260 Infinity II",
        true,
    ),
    ("Agitador", "Agitador orbital", "IKA", "KS 260", false),
];

const PREVENTIVE: &[&str] = &[
    "Limpieza general y revisión de sellos",
    "Cambio de filtros y lubricación",
    "Revisión eléctrica y de conexiones",
    "Inspección de rodamientos y ajuste",
];

const CORRECTIVE: &[&str] = &[
    "Reemplazo de sensor de temperatura defectuoso",
    "Cambio de fusible y revisión de la fuente",
    "Reparación de la puerta: bisagra suelta",
    "Reemplazo del motor del ventilador",
];

const PARTS: &[(&str, i64)] = &[
    ("Filtro HEPA", 38_500),
    ("Empaquetadura de silicona", 12_900),
    ("Fusible 5 A", 1_200),
    ("Sensor PT100", 64_000),
    ("Correa de transmisión", 22_400),
];

/// Adds `n` machines with their history, a year of it or, with
/// `records`, about that many records in all (going back as many years as
/// it takes); returns (machines, records).
pub async fn generate(
    db: &DatabaseConnection,
    n: u64,
    records_wanted: Option<u64>,
    seed: u64,
) -> Result<(u64, u64), DbErr> {
    let per_machine = records_wanted.map(|r| r.div_ceil(n.max(1)));
    let mut rng = DemoRng::new(seed ^ 0x4d41_5147);
    let technicians: Vec<String> = (0..4)
        .map(|_| format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)))
        .collect();
    let now = Utc::now();
    let txn = faena_platform::db::begin_write(db, &Default::default()).await?;
    let (mut machines, mut records) = (Vec::new(), Vec::new());
    let (mut m, mut r) = (0u64, 0u64);
    let (mut plans, mut orders) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (kind, name, brand, model, instrument) = *rng.pick(EQUIPMENT);
        let lab = *rng.pick(LABS);
        let code = format!("MAQ-{:03}", i + 1);
        let status = match rng.range(1, 20) {
            1 => MachineStatus::OutOfService,
            2 | 3 => MachineStatus::InMaintenance,
            _ => MachineStatus::Operational,
        };
        let criticality = *rng.pick(&Criticality::ALL);
        let serial = format!(
            "{}{}",
            &brand[..2].to_uppercase(),
            rng.range(100_000, 999_999)
        );
        let acquired =
            now.date_naive() - Duration::days(i64::try_from(rng.range(400, 3_000)).unwrap_or(400));
        let id = Uuid::now_v7();
        machines.push(machine::ActiveModel {
            id: Set(id),
            code: Set(code.clone()),
            code_key: Set(code.to_lowercase()),
            name: Set(name.to_owned()),
            kind: Set(Some(kind.to_owned())),
            kind_key: Set(Some(text::fold(kind))),
            lab: Set(Some(lab.to_owned())),
            lab_key: Set(Some(text::fold(lab))),
            brand: Set(Some(brand.to_owned())),
            model: Set(Some(model.to_owned())),
            serial: Set(Some(serial.clone())),
            status: Set(status.as_str().to_owned()),
            acquired_on: Set(Some(acquired)),
            responsible_id: Set(None),
            criticality: Set(criticality.as_str().to_owned()),
            attributes: Set(r#"{"Voltaje":"220 V"}"#.to_owned()),
            notes: Set(None),
            report_token: Set(faena_platform::secrets::random_token(32)),
            search_text: Set(text::search_text([
                code.as_str(),
                name,
                serial.as_str(),
                lab,
                kind,
                brand,
                model,
            ])),
            sort_key: Set(text::sort_key(name)),
            created_at: Set(now - Duration::days(365)),
            updated_at: Set(now - Duration::days(1)),
            version: Set(1),
        });
        // A quarterly plan; some fall due soon and some are overdue, with
        // their open work orders.
        let plan_id = Uuid::now_v7();
        let due =
            now.date_naive() + Duration::days(i64::try_from(rng.range(0, 100)).unwrap_or(50) - 20);
        plans.push(plan::ActiveModel {
            id: Set(plan_id),
            machine_id: Set(id),
            title: Set("Mantención preventiva trimestral".to_owned()),
            kind: Set(RecordKind::Preventive.as_str().to_owned()),
            interval_count: Set(Some(3)),
            interval_unit: Set(Some("months".to_owned())),
            meter: Set(None),
            meter_every: Set(None),
            lead_days: Set(7),
            checklist: Set(r#"[{"key":"limpieza","label":"Limpieza general","kind":"check","required":true},{"key":"sellos","label":"Sellos y empaquetaduras","kind":"check","required":true}]"#.to_owned()),
            next_due_on: Set(Some(due)),
            next_due_reading: Set(None),
            active: Set(status != MachineStatus::Retired),
            created_at: Set(now - Duration::days(365)),
            updated_at: Set(now - Duration::days(1)),
            version: Set(1),
        });
        if due <= now.date_naive() + Duration::days(7) {
            orders.push(work_order::ActiveModel {
                id: Set(Uuid::now_v7()),
                machine_id: Set(id),
                plan_id: Set(Some(plan_id)),
                kind: Set(RecordKind::Preventive.as_str().to_owned()),
                title: Set("Mantención preventiva trimestral".to_owned()),
                due_on: Set(due),
                status: Set("open".to_owned()),
                record_id: Set(None),
                reminded_at: Set(Some(now)),
                overdue_notified_at: Set((due < now.date_naive()).then_some(now)),
                created_at: Set(now - Duration::days(7)),
                closed_at: Set(None),
            });
        }
        // A year of history: preventive every ~90 days, calibration every
        // ~180 for instruments, a corrective now and then.
        // From the latest back, 60 to 120 days apart: a year of it, or
        // the machine's share of the records asked for.
        let mut day = 4 + i64::try_from(rng.range(0, 60)).unwrap_or(0);
        let mut made = 0u64;
        while per_machine.map_or(day <= 365, |k| made < k) {
            made += 1;
            let roll = rng.range(1, 10);
            let kind = if instrument && roll <= 3 {
                RecordKind::Calibration
            } else if roll == 10 {
                RecordKind::Corrective
            } else {
                RecordKind::Preventive
            };
            let description = match kind {
                RecordKind::Corrective => *rng.pick(CORRECTIVE),
                RecordKind::Calibration => "Calibración con patrón trazable; dentro de tolerancia",
                _ => *rng.pick(PREVENTIVE),
            };
            let parts: Vec<PartUsed> = if rng.range(1, 3) == 1 {
                let (part, price) = *rng.pick(PARTS);
                vec![PartUsed {
                    name: part.to_owned(),
                    quantity: i64::try_from(rng.range(1, 3)).unwrap_or(1),
                    unit_cost_clp: Some(price),
                }]
            } else {
                Vec::new()
            };
            let at = now
                - Duration::days(day)
                - Duration::minutes(i64::try_from(rng.range(0, 600)).unwrap_or(0));
            let outcome = if kind == RecordKind::Corrective && rng.range(1, 4) == 1 {
                Outcome::Observations
            } else {
                Outcome::Ok
            };
            let signed = day > 20;
            let step = if kind == RecordKind::Calibration {
                180
            } else {
                90
            };
            let cost = i64::try_from(rng.range(2, 12)).unwrap_or(5) * 10_000;
            records.push(record::ActiveModel {
                id: Set(Uuid::now_v7()),
                machine_id: Set(id),
                kind: Set(kind.as_str().to_owned()),
                performed_at: Set(at),
                technician_id: Set(None),
                technician_name: Set(rng.pick(&technicians).clone()),
                description: Set(description.to_owned()),
                duration_minutes: Set(Some(i32::try_from(rng.range(30, 240)).unwrap_or(60))),
                cost_clp: Set(cost),
                total_cost_clp: Set(cost.saturating_add(Record::parts_cost(&parts))),
                parts: Set(serde_json::to_string(&parts).unwrap_or_else(|_| "[]".into())),
                details: Set(r#"{"measurements":{}}"#.to_owned()),
                outcome: Set(outcome.as_str().to_owned()),
                next_due_on: Set(Some((at + Duration::days(step)).date_naive())),
                corrects_id: Set(None),
                work_order_id: Set(None),
                signed_off_at: Set(signed.then(|| at + Duration::days(1))),
                signed_off_by: Set(signed.then(|| "jefatura@laboratorio.cl".to_owned())),
                created_by: Set("demo".to_owned()),
                created_at: Set(at),
                updated_at: Set(at),
                version: Set(1),
            });
            day += i64::try_from(rng.range(60, 120)).unwrap_or(90);
        }
        // Written as it goes: half a million records are not held at once.
        if records.len() >= 2_000 || i + 1 == n {
            for chunk in machines.chunks(200) {
                machine::Entity::insert_many(chunk.to_vec())
                    .exec(&txn)
                    .await?;
            }
            for chunk in records.chunks(200) {
                record::Entity::insert_many(chunk.to_vec())
                    .exec(&txn)
                    .await?;
            }
            m += machines.len() as u64;
            r += records.len() as u64;
            machines.clear();
            records.clear();
        }
    }
    for chunk in plans.chunks(200) {
        plan::Entity::insert_many(chunk.to_vec()).exec(&txn).await?;
    }
    for chunk in orders.chunks(200) {
        work_order::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok((m, r))
}
