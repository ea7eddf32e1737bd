//! The database half of a backup: a consistent snapshot of SQLite
//! (`VACUUM INTO`) or PostgreSQL (`pg_dump` inside an exported snapshot),
//! the row count of every table in that same snapshot, and the way back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseBackend, DatabaseConnection, IsolationLevel,
    SqlxSqliteConnector, Statement, TransactionTrait,
};
use secrecy::ExposeSecret;

use super::BackupConfig;
use crate::config::DbConfig;
use crate::db::DbKind;

/// File name of the snapshot inside a backup.
pub fn file_name(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Sqlite => "database.sqlite",
        DbKind::Postgres => "database.pgdump",
    }
}

/// The SQLite file a `sqlite:` URL names.
pub fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid SQLite URL `{url}`"))?;
    Ok(options.get_filename().to_path_buf())
}

/// Writes a snapshot of `db` to `target` and returns the row count of
/// every table as of that snapshot.
pub async fn snapshot(
    db: &DatabaseConnection,
    config: &BackupConfig,
    database: &DbConfig,
    target: &Path,
) -> anyhow::Result<BTreeMap<String, u64>> {
    match DbKind::of(db) {
        DbKind::Sqlite => {
            let path = target.to_string_lossy().replace('\'', "''");
            db.execute(Statement::from_string(
                DatabaseBackend::Sqlite,
                format!("VACUUM INTO '{path}'"),
            ))
            .await
            .context("SQLite could not write the snapshot (VACUUM INTO)")?;
            let snapshot = open_sqlite_read_only(target).await?;
            let counts = table_counts(&snapshot).await;
            snapshot.close().await.ok();
            counts
        }
        DbKind::Postgres => {
            // The counts and pg_dump read the same snapshot: it is exported
            // from this transaction, which stays open until the dump ends.
            let txn = db
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?;
            let id: String = txn
                .query_one(Statement::from_string(
                    DatabaseBackend::Postgres,
                    "SELECT pg_export_snapshot()",
                ))
                .await?
                .context("no snapshot id")?
                .try_get_by_index(0)?;
            let counts = table_counts(&txn).await?;
            let url = database.url.expose_secret();
            let (url, password) = without_password(url);
            let mut cmd = tokio::process::Command::new(&config.pg_dump);
            cmd.args([
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "--compress=6",
            ])
            .arg(format!("--snapshot={id}"))
            .arg(format!("--file={}", target.display()))
            .arg(format!("--dbname={url}"))
            .kill_on_drop(true);
            if let Some(password) = password {
                cmd.env("PGPASSWORD", password);
            }
            run(cmd, &config.pg_dump).await?;
            txn.commit().await?;
            Ok(counts)
        }
    }
}

/// Whether the database already holds any table of its own, and how many.
pub async fn table_count(db: &impl ConnectionTrait) -> anyhow::Result<usize> {
    Ok(tables(db).await?.len())
}

async fn tables(db: &impl ConnectionTrait) -> anyhow::Result<Vec<String>> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1"
        }
    };
    let rows = db
        .query_all(Statement::from_string(backend, sql))
        .await
        .context("cannot list the tables")?;
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).map_err(Into::into))
        .collect()
}

/// Rows in each table.
pub async fn table_counts(db: &impl ConnectionTrait) -> anyhow::Result<BTreeMap<String, u64>> {
    let backend = db.get_database_backend();
    let mut counts = BTreeMap::new();
    for table in tables(db).await? {
        let quoted = table.replace('"', "\"\"");
        let row = db
            .query_one(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) FROM \"{quoted}\""),
            ))
            .await
            .with_context(|| format!("cannot count the rows of {table}"))?
            .context("no count")?;
        let n: i64 = row.try_get_by_index(0)?;
        counts.insert(table, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}

pub async fn open_sqlite_read_only(path: &Path) -> anyhow::Result<DatabaseConnection> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true);
    let pool = sea_orm::sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// Puts the snapshot `source` in place of the database `database` names.
/// SQLite: the file is copied beside the database and renamed over it, so
/// the database is either the old one or the restored one, never a mix.
/// PostgreSQL: `pg_restore` in one transaction.
pub async fn restore(
    source: &Path,
    kind: DbKind,
    config: &BackupConfig,
    database: &DbConfig,
    replace: bool,
) -> anyhow::Result<()> {
    let url = database.url.expose_secret();
    match kind {
        DbKind::Sqlite => {
            let path = sqlite_path(url)?;
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(parent).await?;
            }
            let staging = path.with_extension("restoring");
            tokio::fs::copy(source, &staging)
                .await
                .with_context(|| format!("cannot write {}", staging.display()))?;
            let file = tokio::fs::File::open(&staging).await?;
            file.sync_all().await?;
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut side = path.clone().into_os_string();
                side.push(suffix);
                match tokio::fs::remove_file(&side).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            tokio::fs::rename(&staging, &path).await?;
            Ok(())
        }
        DbKind::Postgres => {
            let (url, password) = without_password(url);
            let mut cmd = tokio::process::Command::new(&config.pg_restore);
            cmd.args([
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
            ]);
            if replace {
                cmd.args(["--clean", "--if-exists"]);
            }
            cmd.arg(format!("--dbname={url}"))
                .arg(source)
                .kill_on_drop(true);
            if let Some(password) = password {
                cmd.env("PGPASSWORD", password);
            }
            run(cmd, &config.pg_restore).await
        }
    }
}

async fn run(mut cmd: tokio::process::Command, program: &str) -> anyhow::Result<()> {
    let output = cmd.output().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "`{program}` was not found: install the PostgreSQL client programs \
                 (Debian: postgresql-client, the same major version as the server) \
                 or set backup.pg_dump / backup.pg_restore to their path"
            )
        } else {
            anyhow::anyhow!("cannot run `{program}`: {e}")
        }
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("`{program}` failed ({}): {}", output.status, stderr.trim());
    }
    Ok(())
}

/// The URL without its password, and the password (percent-decoded), so
/// the password goes to the child in `PGPASSWORD`, not in its arguments
/// where any user of the machine could read it.
fn without_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    match userinfo.split_once(':') {
        Some((user, password)) => (
            format!("{scheme}://{user}@{host}"),
            Some(percent_decode(password)),
        ),
        None => (url.to_owned(), None),
    }
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url() {
        assert_eq!(
            without_password("postgres://faena:s%40cret@db:5432/faena?sslmode=require"),
            (
                "postgres://faena@db:5432/faena?sslmode=require".to_owned(),
                Some("s@cret".to_owned())
            )
        );
        assert_eq!(
            without_password("postgres://postgres@127.0.0.1/x"),
            ("postgres://postgres@127.0.0.1/x".to_owned(), None)
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41b%"), "Ab%");
    }
}
