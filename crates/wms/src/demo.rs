//! Demo orders for the given clients: numbered like real ones, spread over
//! the last 90 days and over every status (with a history that walks the
//! status machine, and reasons on returns). Inserted in batches.

use chrono::{Duration, Utc};
use faena_platform::demo::DemoRng;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::orders::store::{counter, history, line, order};
use crate::orders::{OrderNumber, ReturnCode, Status};

const PRODUCTS: &[(&str, &str)] = &[
    ("TOR-M8", "Tornillo hexagonal M8"),
    ("TUE-M8", "Tuerca M8"),
    ("CEM-25", "Cemento 25 kg"),
    ("PIN-1G", "Pintura látex 1 galón"),
    ("CAB-2.5", "Cable eléctrico 2,5 mm"),
    ("TUB-PVC", "Tubo PVC 110 mm"),
    ("GUA-L", "Guantes de trabajo talla L"),
    ("CAS-01", "Casco de seguridad"),
    ("MAD-2X4", "Pino dimensionado 2x4"),
    ("CLA-3", "Clavos 3 pulgadas (kg)"),
    ("LLA-13", "Llave punta corona 13 mm"),
    ("SIL-300", "Silicona 300 ml"),
    ("AMP-LED", "Ampolleta LED 9 W"),
    ("CIN-AIS", "Cinta aisladora"),
];

const RETURN_REASONS: &[(&str, ReturnCode)] = &[
    ("La caja llegó aplastada", ReturnCode::Damaged),
    ("Enviaron otro modelo", ReturnCode::WrongItem),
    ("El cliente no hizo este pedido", ReturnCode::NotOrdered),
    ("Llegó después de la obra", ReturnCode::Late),
    ("El cliente rechazó la entrega", ReturnCode::Refused),
];

/// The path from `received` to `status`.
fn path(status: Status) -> &'static [Status] {
    use Status::*;
    match status {
        Received => &[Received],
        Picking => &[Received, Picking],
        Packing => &[Received, Picking, Packing],
        Shipped => &[Received, Picking, Packing, Shipped],
        Delivered => &[Received, Picking, Packing, Shipped, Delivered],
        Returned => &[Received, Picking, Packing, Shipped, Delivered, Returned],
        Cancelled => &[Received, Cancelled],
    }
}

/// Adds `m` orders for `clients`; returns how many.
pub async fn generate(
    db: &DatabaseConnection,
    clients: &[Uuid],
    m: u64,
    seed: u64,
) -> Result<u64, DbErr> {
    if clients.is_empty() || m == 0 {
        return Ok(0);
    }
    let mut rng = DemoRng::new(seed ^ 0x5eed);
    let statuses = [
        (Status::Delivered, 55),
        (Status::Shipped, 10),
        (Status::Packing, 6),
        (Status::Picking, 8),
        (Status::Received, 10),
        (Status::Returned, 5),
        (Status::Cancelled, 6),
    ];
    let mut done = 0;
    while done < m {
        let size = (m - done).min(400);
        let txn = faena_platform::db::begin_write(db, &Default::default()).await?;
        let first = counter::Entity::update_many()
            .col_expr(
                counter::Column::Value,
                Expr::col(counter::Column::Value).add(i64::try_from(size).unwrap_or(0)),
            )
            .filter(counter::Column::Name.eq("order_number"))
            .exec_with_returning(&txn)
            .await?
            .first()
            .map(|c| c.value)
            .unwrap_or(0)
            - i64::try_from(size).unwrap_or(0);
        let (mut orders, mut lines, mut steps) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..size {
            let id = Uuid::now_v7();
            let roll = rng.range(1, 100);
            let mut acc = 0;
            let status = statuses
                .iter()
                .find(|(_, w)| {
                    acc += w;
                    roll <= acc
                })
                .map(|(s, _)| *s)
                .unwrap_or(Status::Delivered);
            let now = Utc::now();
            let created =
                now - Duration::minutes(i64::try_from(rng.range(60, 90 * 24 * 60)).unwrap_or(60));
            // Each step 8 hours after the last, or closer for a recent
            // order: its whole history lies in the past.
            let moves = path(status);
            let gap = ((now - created) / i32::try_from(moves.len() + 1).unwrap_or(8))
                .min(Duration::hours(8));
            let step_at = |i: usize| created + gap * i32::try_from(i).unwrap_or(0);
            let last_step = step_at(moves.len().saturating_sub(1));
            let (reason, code, returned_at) = if status == Status::Returned {
                let (text, code) = rng.pick(RETURN_REASONS);
                (
                    Some((*text).to_owned()),
                    Some(code.as_str().to_owned()),
                    Some(last_step),
                )
            } else {
                (None, None, None)
            };
            // Distinct products: an order lists a SKU once.
            let mut picked: Vec<usize> = Vec::new();
            let wanted = usize::try_from(rng.range(1, 5))
                .unwrap_or(1)
                .min(PRODUCTS.len());
            while picked.len() < wanted {
                let i = usize::try_from(rng.range(0, PRODUCTS.len() as u64 - 1)).unwrap_or(0);
                if !picked.contains(&i) {
                    picked.push(i);
                }
            }
            for (position, &i) in picked.iter().enumerate() {
                let (sku, description) = &PRODUCTS[i];
                let quantity = i32::try_from(rng.range(1, 50)).unwrap_or(1);
                // A return brings back part of the first line, as returns
                // usually do (a damaged box, not the whole delivery).
                let returned = if status == Status::Returned && position == 0 {
                    i32::try_from(rng.range(1, u64::try_from(quantity).unwrap_or(1))).unwrap_or(1)
                } else {
                    0
                };
                lines.push(line::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    order_id: Set(id),
                    position: Set(i32::try_from(position).unwrap_or(0)),
                    sku: Set((*sku).to_owned()),
                    description: Set((*description).to_owned()),
                    quantity: Set(quantity),
                    returned_quantity: Set(returned),
                });
            }
            let mut from = None;
            for (i, s) in moves.iter().enumerate() {
                steps.push(history::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    order_id: Set(id),
                    from_status: Set(from.map(|f: Status| f.as_str().to_owned())),
                    to_status: Set(s.as_str().to_owned()),
                    actor_id: Set(None),
                    actor: Set("demo".to_owned()),
                    at: Set(step_at(i)),
                    reason: Set(if *s == Status::Returned {
                        reason.clone()
                    } else {
                        None
                    }),
                });
                from = Some(*s);
            }
            orders.push(order::ActiveModel {
                id: Set(id),
                number: Set(
                    OrderNumber::generated(first + i64::try_from(k).unwrap_or(0) + 1)
                        .as_str()
                        .to_owned(),
                ),
                client_id: Set(*rng.pick(clients)),
                status: Set(status.as_str().to_owned()),
                notes: Set(None),
                return_reason: Set(reason),
                return_code: Set(code),
                returned_at: Set(returned_at),
                created_by: Set("demo".to_owned()),
                created_at: Set(created),
                updated_at: Set(last_step),
                version: Set(i32::try_from(path(status).len()).unwrap_or(1)),
            });
        }
        order::Entity::insert_many(orders).exec(&txn).await?;
        line::Entity::insert_many(lines).exec(&txn).await?;
        history::Entity::insert_many(steps).exec(&txn).await?;
        txn.commit().await?;
        done += size;
    }
    Ok(done)
}
