//! One PostgreSQL database per test, cloned from a template that is
//! migrated once per test process.
//!
//! Databases are named after the process id, so a later run can drop what a
//! killed run left behind. Administrative statements run on a thread of
//! their own with its own runtime: tests each have their own runtime, and a
//! connection must not outlive the runtime that made it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::sqlx::{Connection, Executor, PgConnection, Row};

pub const ENV: &str = "FAENA_TEST_POSTGRES_URL";

/// The administrative URL from `FAENA_TEST_POSTGRES_URL`, if set.
pub fn postgres_url() -> Option<String> {
    std::env::var(ENV).ok().filter(|s| !s.trim().is_empty())
}

static TEMPLATE: Mutex<Option<String>> = Mutex::new(None);
static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    /// An empty database with no schema (to watch the binary create it).
    pub fn create_empty(admin_url: &str) -> Self {
        let name = format!(
            "faena_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let stmt = format!("CREATE DATABASE \"{name}\"");
        run_admin(admin_url, move |url| async move {
            let mut conn = PgConnection::connect(&url).await?;
            conn.execute(stmt.as_str()).await?;
            conn.close().await
        });
        Self {
            url: database_url(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// A database with the full schema, copied from the template.
    pub fn create(admin_url: &str) -> Self {
        let template = template(admin_url);
        let name = format!(
            "faena_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let stmt = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        run_admin(admin_url, move |url| async move {
            let mut conn = PgConnection::connect(&url).await?;
            // Copies from one template are serialised: PostgreSQL refuses
            // to copy a template that another session is copying.
            conn.execute("SELECT pg_advisory_lock(72066001)").await?;
            let result = conn.execute(stmt.as_str()).await;
            conn.execute("SELECT pg_advisory_unlock(72066001)").await?;
            result?;
            conn.close().await
        });
        let url = database_url(admin_url, &name);
        Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let stmt = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        run_admin(&self.admin_url, move |url| async move {
            let mut conn = PgConnection::connect(&url).await?;
            conn.execute(stmt.as_str()).await?;
            conn.close().await
        });
    }
}

/// The migrated template of this process, made on first use.
fn template(admin_url: &str) -> String {
    let mut guard = TEMPLATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(name) = guard.as_ref() {
        return name.clone();
    }
    let name = format!("faena_tpl_{}", std::process::id());
    let template_url = database_url(admin_url, &name);
    let create = format!("CREATE DATABASE \"{name}\"");
    let mark = format!("ALTER DATABASE \"{name}\" WITH IS_TEMPLATE true");
    run_admin(admin_url, move |url| async move {
        let mut conn = PgConnection::connect(&url).await?;
        drop_leftovers(&mut conn).await?;
        conn.execute(create.as_str()).await?;
        conn.close().await?;

        let mut config = faena_platform::Config::default();
        config.database.url = secrecy::SecretString::from(template_url);
        config.database.min_connections = 0;
        config.database.max_connections = 1;
        let db = faena_platform::db::connect(&config.database)
            .await
            .map_err(|e| sea_orm::sqlx::Error::Configuration(e.into()))?;
        faena_server::app::migrate(&db)
            .await
            .map_err(|e| sea_orm::sqlx::Error::Configuration(e.into()))?;
        db.close()
            .await
            .map_err(|e| sea_orm::sqlx::Error::Configuration(e.into()))?;

        let mut conn = PgConnection::connect(&url).await?;
        conn.execute(mark.as_str()).await?;
        conn.close().await
    });
    *guard = Some(name.clone());
    name
}

/// Drops databases of test processes that are no longer running.
async fn drop_leftovers(conn: &mut PgConnection) -> Result<(), sea_orm::sqlx::Error> {
    let rows = conn
        .fetch_all(
            "SELECT datname FROM pg_database \
             WHERE datname LIKE 'faena\\_t\\_%' OR datname LIKE 'faena\\_tpl\\_%'",
        )
        .await?;
    for row in rows {
        let name: String = row.try_get(0)?;
        let pid = name
            .trim_start_matches("faena_tpl_")
            .trim_start_matches("faena_t_")
            .split('_')
            .next()
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            conn.execute(format!("ALTER DATABASE \"{name}\" WITH IS_TEMPLATE false").as_str())
                .await
                .ok();
            conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await?;
        }
    }
    Ok(())
}

/// The URL of database `name` on the server of `admin_url`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// Runs an administrative task to completion on a thread with its own
/// runtime, panicking (failing the test) with the database's message.
fn run_admin<F, Fut>(admin_url: &str, task: F)
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), sea_orm::sqlx::Error>>,
{
    let url = admin_url.to_owned();
    let result = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime for database administration");
        runtime.block_on(task(url)).map_err(|e| e.to_string())
    })
    .join()
    .expect("database administration thread");
    if let Err(e) = result
        && !std::thread::panicking()
    {
        panic!("PostgreSQL test database administration failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_url_replaces_the_database() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url("postgres://u:p@h/d?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
