//! Demo clients: realistic Chilean names, valid RUTs, comunas; personal
//! data encrypted like any other client's. Inserted in batches.

use chrono::Utc;
use faena_platform::crypto::KeyRing;
use faena_platform::demo::{
    BUSINESSES, COMUNAS, DemoRng, FIRST_NAMES, LAST_NAMES, LEGAL_FORMS, STREETS, slug,
};
use faena_platform::types::Rut;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Set};
use uuid::Uuid;

use crate::clients::TaxId;
use crate::clients::service::tax_index;
use crate::clients::store::client;

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
            let tax = TaxId::Rut(rut);
            let now = Utc::now();
            rows.push(client::ActiveModel {
                id: Set(id),
                name: Set(name),
                email_key: Set(email.clone()),
                email: Set(email),
                phone: Set(Some(keys.encrypt(&phone, &format!("clients.phone:{id}")))),
                address: Set(Some(
                    keys.encrypt(&address, &format!("clients.address:{id}")),
                )),
                comuna: Set(Some(comuna.to_owned())),
                city: Set(Some(city.to_owned())),
                tax_country: Set(Some("CL".to_owned())),
                tax_id: Set(Some(
                    keys.encrypt(&tax.display(), &format!("clients.tax_id:{id}")),
                )),
                tax_id_index: Set(Some(tax_index(keys, &tax))),
                notes: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
            });
            ids.push(id);
        }
        client::Entity::insert_many(rows).exec(&txn).await?;
        txn.commit().await?;
        done += size;
    }
    Ok(ids)
}
