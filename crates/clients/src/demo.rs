//! Demo clients: realistic Chilean names, valid RUTs, comunas; personal
//! data encrypted like any other client's. Inserted in batches.

use chrono::Utc;
use faena_platform::crypto::KeyRing;
use faena_platform::demo::{
    BUSINESSES, COMUNAS, DemoRng, FIRST_NAMES, LAST_NAMES, LEGAL_FORMS, STREETS, slug,
};
use faena_platform::types::{Email, Rut};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Set};
use uuid::Uuid;

use crate::clients::service::encrypt_fields;
use crate::clients::store::client;
use crate::clients::{ClientData, TaxId};

/// Adds `n` clients; returns their ids.
pub async fn generate(
    db: &DatabaseConnection,
    keys: &KeyRing,
    n: u64,
    seed: u64,
) -> Result<Vec<Uuid>, DbErr> {
    let mut rng = DemoRng::new(seed);
    let mut ids = Vec::new();
    let batch_id = Uuid::now_v7().simple().to_string();
    let tag = &batch_id[batch_id.len() - 6..];
    let mut done = 0;
    while done < n {
        let size = (n - done).min(500);
        let txn = faena_platform::db::begin_write(db, &Default::default()).await?;
        let mut rows = Vec::new();
        for i in done..done + size {
            let id = Uuid::now_v7();
            let (name, email_local) = if rng.range(0, 2) == 0 {
                let first = rng.pick(FIRST_NAMES);
                let last = rng.pick(LAST_NAMES);
                (
                    format!("{first} {last} {}", rng.pick(LAST_NAMES)),
                    format!("{}.{}", slug(first), slug(last)),
                )
            } else {
                let kind = rng.pick(BUSINESSES);
                let last = rng.pick(LAST_NAMES);
                (
                    format!("{kind} {last} {}", rng.pick(LEGAL_FORMS)),
                    format!("contacto.{}", slug(last)),
                )
            };
            let (comuna, city) = *rng.pick(COMUNAS);
            let rut = Rut::from_number(
                u32::try_from(rng.range(5_000_000, 25_000_000)).unwrap_or(10_000_000),
            );
            let phone = format!("+56 9 {} {}", rng.range(1000, 9999), rng.range(1000, 9999));
            let address = format!("{} {}", rng.pick(STREETS), rng.range(10, 9999));
            let email = format!("{email_local}.{tag}{i}@ejemplo.cl");
            let data = ClientData {
                name,
                email: Email::parse("email", &email)
                    .map_err(|e| DbErr::Custom(format!("demo email {email}: {}", e.code)))?,
                phone: Some(phone),
                address: Some(address),
                comuna: Some(comuna.to_owned()),
                city: Some(city.to_owned()),
                tax_id: Some(TaxId::Rut(rut)),
                notes: None,
            };
            let now = Utc::now();
            let mut row = client::ActiveModel {
                id: Set(id),
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
                ..Default::default()
            };
            encrypt_fields(keys, id, &data, &mut row);
            rows.push(row);
            ids.push(id);
        }
        client::Entity::insert_many(rows).exec(&txn).await?;
        txn.commit().await?;
        done += size;
    }
    Ok(ids)
}
