//! `faena user …` and `faena audit …`: the same commands the API runs,
//! recorded in the audit log as done by the command line.

use anyhow::Context;
use faena_platform::AppError;
use faena_platform::auth::principal::Actor;
use faena_platform::auth::users::{self, NewUser, UserUpdate};
use faena_platform::db;
use faena_platform::http::etag::IfMatch;
use faena_platform::{Config, audit};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

use crate::cli::{AuditCommand, KeysCommand, UserCommand};

async fn open(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let db = db::connect(&config.database).await?;
    crate::app::migrate(&db).await?;
    crate::app::ensure_roles(&db, &crate::modules::enabled(config)).await?;
    Ok(db)
}

fn describe(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(errors) => anyhow::anyhow!(
            "invalid: {}",
            errors
                .0
                .iter()
                .map(|e| format!("{} ({})", e.field, e.code))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        AppError::Conflict { code, field, .. } => {
            anyhow::anyhow!(
                "conflict: {code}{}",
                field.map(|f| format!(" on {f}")).unwrap_or_default()
            )
        }
        other => anyhow::anyhow!("{other}"),
    }
}

pub async fn user(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let db = open(&config).await?;
    let actor = Actor::system("command line");
    match command {
        UserCommand::Create {
            email,
            role,
            name,
            password,
        } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(|| faena_platform::secrets::random_token(18));
            let txn = faena_platform::db::begin_write(&db, &Default::default()).await?;
            let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("").to_owned());
            let user = users::create(
                &txn,
                &actor,
                NewUser {
                    email,
                    name,
                    role: Some(role),
                    password: password.clone(),
                    locale: None,
                    time_zone: None,
                },
            )
            .await
            .map_err(describe)?;
            txn.commit().await?;
            println!(
                "created {} ({}) with role {}",
                user.email, user.id, user.role
            );
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::ResetPassword { email, password } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(|| faena_platform::secrets::random_token(18));
            let found = users::find_by_email(&db, &email)
                .await?
                .with_context(|| format!("no user with email {email}"))?;
            let txn = faena_platform::db::begin_write(&db, &Default::default()).await?;
            let update = UserUpdate {
                password: Some(password.clone()),
                ..UserUpdate::default()
            };
            users::update(&txn, &actor, found.id, IfMatch::ANY, update)
                .await
                .map_err(describe)?;
            txn.commit().await?;
            println!(
                "password of {} changed; its sessions and tokens are revoked",
                found.email
            );
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            use faena_platform::auth::entities::user;
            let all = user::Entity::find()
                .order_by_asc(user::Column::EmailKey)
                .all(&db)
                .await?;
            println!(
                "{:<36}  {:<32}  {:<12}  {:<6}  last seen",
                "id", "email", "role", "active"
            );
            for u in all {
                let seen = u
                    .last_seen_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{:<36}  {:<32}  {:<12}  {:<6}  {seen}",
                    u.id, u.email, u.role, u.active
                );
            }
        }
    }
    db.close().await.ok();
    Ok(())
}

pub async fn audit(config: Config, command: AuditCommand) -> anyhow::Result<()> {
    let db = db::connect(&config.database).await?;
    let result = match command {
        AuditCommand::Verify => {
            let sealed_now = audit::seal(&db).await?;
            let report = audit::verify(&db).await?;
            match report.fault {
                None => {
                    println!(
                        "audit log intact: {} sealed entries ({} sealed just now), {} pending",
                        report.sealed, sealed_now, report.unsealed
                    );
                    Ok(())
                }
                Some(fault) => Err(anyhow::anyhow!("audit log verification failed: {fault}")),
            }
        }
        AuditCommand::Archive { days } => {
            match audit::retention::archive(&db, &config.data_dir, days).await? {
                Some((file, n)) => println!("archived {n} entries to {}", file.display()),
                None => println!("nothing older than {days} days to archive"),
            }
            Ok(())
        }
    };
    db.close().await.ok();
    result
}

pub async fn keys(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    if let KeysCommand::Rotate = command {
        anyhow::ensure!(
            config.crypto.keys.is_empty(),
            "keys come from the configuration: add the new key there, set crypto.active, then run `faena keys reencrypt`"
        );
        let id = faena_platform::crypto::KeyRing::add_key_on_disk(&config.data_dir)?;
        println!("key {id} is now active");
    }
    let ring = faena_platform::crypto::KeyRing::load(&config.crypto, &config.data_dir)?;
    let db = open(&config).await?;
    let columns: Vec<_> = faena_platform::webhooks::ENCRYPTED_COLUMNS
        .iter()
        .copied()
        .chain(
            crate::modules::all()
                .iter()
                .flat_map(|m| m.encrypted_columns().iter().copied()),
        )
        .collect();
    let total = faena_platform::crypto::reencrypt(&db, &ring, &columns).await?;
    println!(
        "{total} value(s) re-encrypted with key {}",
        ring.active_key()
    );
    db.close().await.ok();
    Ok(())
}

/// How much demo data to make.
#[derive(Debug, Clone, Copy)]
pub struct DemoSizes {
    pub clients: u64,
    pub orders: u64,
    pub machines: u64,
    /// Maintenance records in all; none: a year of each machine's.
    pub maintenance_records: Option<u64>,
    pub service_orders: u64,
}

pub async fn demo(config: Config, sizes: DemoSizes, seed: u64) -> anyhow::Result<()> {
    let DemoSizes {
        clients,
        orders,
        machines,
        maintenance_records,
        service_orders,
    } = sizes;
    let ring = faena_platform::crypto::KeyRing::load(&config.crypto, &config.data_dir)?;
    let db = open(&config).await?;
    let started = std::time::Instant::now();
    let ids = faena_clients::demo::generate(&db, &ring, clients, seed)
        .await
        .context("demo clients")?;
    let n = faena_wms::demo::generate(&db, &ids, orders, seed)
        .await
        .context("demo orders")?;
    let (machines, records) =
        faena_maintenance::demo::generate(&db, machines, maintenance_records, seed)
            .await
            .context("demo machines")?;
    let service_orders = faena_service::demo::generate(&db, &ids, service_orders, seed)
        .await
        .context("demo service orders")?;
    let entry = audit::Entry::new("demo.generated", "database", None)
        .after(serde_json::json!({"clients": ids.len(), "orders": n, "machines": machines, "maintenance_records": records, "service_orders": service_orders, "seed": seed}));
    audit::record(&db, &Actor::system("command line"), entry).await?;
    // Fresh statistics after a bulk load, so the planner uses the indexes
    // at once instead of after the next autovacuum (on PostgreSQL, lists
    // were 20 times slower until then).
    faena_platform::db::analyze(&db).await?;
    db.close().await.ok();
    let mut i18n = faena_platform::i18n::I18n::default();
    for (locale, source) in faena_platform::TRANSLATIONS {
        i18n.add(*locale, source).map_err(anyhow::Error::msg)?;
    }
    let locale = faena_platform::i18n::terminal_locale();
    let seconds = format!("{:.1}", started.elapsed().as_secs_f64());
    println!(
        "{}\n{}",
        i18n.t(
            locale,
            "terminal.demo_done",
            &[
                ("clients", ids.len().to_string()),
                ("orders", n.to_string()),
                ("machines", machines.to_string()),
                ("records", records.to_string()),
                ("service_orders", service_orders.to_string()),
                ("seconds", seconds)
            ]
        ),
        i18n.t(locale, "terminal.demo_next", &[]),
    );
    Ok(())
}
