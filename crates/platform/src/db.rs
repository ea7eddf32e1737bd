//! Database connections: SQLite (embedded default) and PostgreSQL behind one
//! SeaORM `DatabaseConnection`, and the migration runner every module feeds.
//!
//! Owns pool settings and SQLite pragmas; never holds a query of any module.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous as Sync,
};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, ExecResult,
    QueryResult, SqlxPostgresConnector, SqlxSqliteConnector, Statement, TransactionTrait,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::{DbConfig, SqliteSynchronous};

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    pub fn of(db: &DatabaseConnection) -> Self {
        match db.get_database_backend() {
            DatabaseBackend::Postgres => DbKind::Postgres,
            _ => DbKind::Sqlite,
        }
    }

    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(DbKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbKind::Postgres)
        } else {
            anyhow::bail!(
                "unsupported database URL `{}`: use sqlite://PATH or postgres://…",
                crate::config::redact_url(url)
            )
        }
    }
}

/// Opens a pool for `config.url`, creating the SQLite file (and its folder)
/// when needed.
pub async fn connect(config: &DbConfig) -> anyhow::Result<DatabaseConnection> {
    let url = config.url.expose_secret();
    let acquire = Duration::from_secs(config.acquire_timeout_secs);
    match DbKind::from_url(url)? {
        DbKind::Sqlite => {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("invalid SQLite URL `{url}`"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match config.sqlite_synchronous {
                    SqliteSynchronous::Full => Sync::Full,
                    SqliteSynchronous::Normal => Sync::Normal,
                })
                .foreign_keys(true)
                .busy_timeout(Duration::from_millis(config.sqlite_busy_timeout_ms))
                // Sorts and groupings stay in memory up to the page cache
                // and spill to a temporary file beyond it (SQLite's
                // default), so a large report cannot hold tens of MiB per
                // connection (decision 0003, amended 2026-12-07).
                // Keep statements prepared across requests.
                .statement_cache_capacity(256);
            if let Some(parent) = options.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).with_context(|| {
                    format!("cannot create database folder {}", parent.display())
                })?;
            }
            let pool = SqlitePoolOptions::new()
                // A pooled SQLite connection cannot go stale; skip the ping.
                .test_before_acquire(false)
                .max_connections(config.max_connections.max(1))
                .min_connections(config.min_connections)
                .acquire_timeout(acquire)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open SQLite database `{url}`"))?;
            Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
        DbKind::Postgres => {
            let options = PgConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                // No ping round trip before every query (it doubled the
                // cost of a read by key). A connection that died is found
                // by its first query, which fails, and is then dropped;
                // connections are recycled after 10 min idle or 30 min.
                .test_before_acquire(false)
                .max_connections(config.max_connections.max(1))
                .min_connections(config.min_connections)
                .acquire_timeout(acquire)
                .connect_with(options)
                .await
                .with_context(|| {
                    format!(
                        "cannot connect to PostgreSQL at `{}`",
                        crate::config::redact_url(url)
                    )
                })?;
            Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
        }
    }
}

/// Refreshes the query planner's statistics (after bulk loads).
pub async fn analyze(db: &DatabaseConnection) -> Result<(), DbErr> {
    let sql = match db.get_database_backend() {
        DatabaseBackend::Postgres => "ANALYZE",
        _ => "PRAGMA optimize=0x10002",
    };
    db.execute_unprepared(sql).await.map(|_| ())
}

/// Answers whether the database takes a trivial query (readiness probe).
pub async fn ping(db: &DatabaseConnection) -> bool {
    let stmt = Statement::from_string(db.get_database_backend(), "SELECT 1");
    db.query_one(stmt).await.is_ok()
}

/// Current pool occupancy, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

pub fn pool_stats(db: &DatabaseConnection) -> Option<PoolStats> {
    match db {
        DatabaseConnection::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            Some(PoolStats {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            })
        }
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            Some(PoolStats {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            })
        }
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Admits one write transaction at a time to a SQLite database, in arrival
/// order. SQLite has one writer anyway; queueing here instead of in its
/// busy handler (which sleeps and retries, up to 100 ms a turn) keeps tail
/// latency flat under load. PostgreSQL has no gate. See
/// docs/decisions/0011-sqlite-writes.md.
#[derive(Clone, Default)]
pub struct WriteGate(Option<Arc<tokio::sync::Mutex<()>>>);

impl WriteGate {
    pub fn for_kind(kind: DbKind) -> Self {
        match kind {
            DbKind::Sqlite => WriteGate(Some(Arc::new(tokio::sync::Mutex::new(())))),
            DbKind::Postgres => WriteGate(None),
        }
    }
}

/// Begins a transaction, safely against cancellation. A request future can
/// be dropped at any await (its client went away, or its handler deadline
/// passed). sqlx 0.8.6 (sqlx#4385) counts a PostgreSQL `BEGIN` only once
/// its answer is read: dropped in between, the connection went back to the
/// pool inside a transaction nobody would end, and the next borrower's
/// writes ran in it ("there is already a transaction in progress") and
/// were lost when the connection closed. Here `BEGIN` runs to completion in
/// a task of its own; if nobody waits for it any more, the transaction is
/// dropped there, which queues its `ROLLBACK`.
pub async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let db = db.clone();
    #[allow(clippy::disallowed_methods)] // the one place that may
    tokio::spawn(async move { db.begin().await })
        .await
        .map_err(|e| DbErr::Custom(format!("beginning a transaction: {e}")))?
}

/// A transaction that will write. On SQLite it holds the write lock from
/// its first statement, so it never has to upgrade a read snapshot into a
/// write (which SQLite refuses at once with `SQLITE_BUSY_SNAPSHOT` when
/// another writer committed in between). Use it wherever a transaction
/// reads and then writes; it derefs to the `DatabaseTransaction`.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// Opens a write transaction: waits for its turn at `gate`, then takes the
/// database's write lock (SQLite's `BEGIN IMMEDIATE`, which SeaORM cannot
/// issue itself, done as a no-op write as the first statement).
pub async fn begin_write(db: &DatabaseConnection, gate: &WriteGate) -> Result<WriteTxn, DbErr> {
    let turn = match &gate.0 {
        Some(lock) => Some(lock.clone().lock_owned().await),
        None => None,
    };
    let txn = begin(db).await?;
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        txn.execute_unprepared("UPDATE faena_write_lock SET id = id WHERE 0")
            .await?;
    }
    Ok(WriteTxn { txn, _turn: turn })
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.txn.get_database_backend()
    }
    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute(stmt).await
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }
    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one(stmt).await
    }
    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all(stmt).await
    }
    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// Whether `err` is SQLite's "database is locked" (the busy timeout ran
/// out): the request may be retried, so it is answered 503, not 500.
/// Whether `err` says the database cannot be reached (a pool that timed
/// out or closed, a connection lost), as opposed to a query it refused.
pub fn is_unreachable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    matches!(
        sqlx,
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed | Sqlx::Tls(_)
    ) || matches!(err, DbErr::Conn(_))
}

pub fn is_busy(err: &DbErr) -> bool {
    let text = err.to_string();
    text.contains("database is locked")
        || text.contains("(code: 5)")
        || text.contains("(code: 517)")
}
