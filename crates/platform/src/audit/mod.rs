//! The audit log: append-only, hash-chained, written in the same
//! transaction as the change it records.
//!
//! Writers never wait on each other: each entry gets a hash of its own
//! content (`content_hash`) in the writer's transaction, with no link to
//! any other row. A sealer then links committed entries into the chain in
//! one short transaction of its own (`seq`, `chain_hash = SHA-256(previous
//! chain_hash ‖ content_hash)`). `verify` recomputes both, so an edited,
//! deleted or reordered row is found and named. See
//! docs/decisions/0008-audit-chain.md.

pub mod api;
pub mod entity;
pub mod pages;
pub mod retention;
pub mod writer;

use std::net::IpAddr;

use axum::http::Method;
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::principal::{Actor, Principal};
use crate::auth::token::sha256_hex;
use entity::{audit_anchor, audit_log};

/// One thing that happened.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// `create`, `update`, `delete`, `login.succeeded`, `permission.denied` …
    pub action: String,
    /// `user`, `role`, `client`, `order` …
    pub entity: String,
    pub entity_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Entry {
    pub fn new(action: &str, entity: &str, entity_id: impl Into<Option<String>>) -> Self {
        Entry {
            action: action.to_owned(),
            entity: entity.to_owned(),
            entity_id: entity_id.into(),
            before: None,
            after: None,
        }
    }

    pub fn before(mut self, value: impl serde::Serialize) -> Self {
        self.before = serde_json::to_value(value).ok().map(redact);
        self
    }

    pub fn after(mut self, value: impl serde::Serialize) -> Self {
        self.after = serde_json::to_value(value).ok().map(redact);
        self
    }
}

/// Keys whose values never enter the log.
const SECRET_KEYS: &[&str] = &["password", "secret", "token", "hash", "key"];

/// Replaces the value of every secret-looking key, at any depth.
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    if SECRET_KEYS.iter().any(|s| lower.contains(s)) && !v.is_null() {
                        (k, Value::String("[redacted]".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// Appends an entry, inside the caller's transaction when given one.
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    entry: Entry,
) -> Result<Uuid, sea_orm::DbErr> {
    let id = Uuid::now_v7();
    // Stored with microsecond precision on both databases: hash what is
    // stored, so verification recomputes the same bytes.
    let at = Utc::now().trunc_subsecs(6);
    let before = entry.before.map(|v| v.to_string());
    let after = entry.after.map(|v| v.to_string());
    let mut model = audit_log::Model {
        id,
        at,
        actor_id: actor.id.clone(),
        actor: actor.label.clone(),
        action: entry.action,
        entity: entry.entity,
        entity_id: entry.entity_id,
        ip: actor.ip.clone(),
        request_id: actor.request_id.clone(),
        before,
        after,
        content_hash: String::new(),
        seq: None,
        chain_hash: None,
    };
    model.content_hash = content_hash(&model);
    audit_log::ActiveModel {
        id: Set(model.id),
        at: Set(model.at),
        actor_id: Set(model.actor_id),
        actor: Set(model.actor),
        action: Set(model.action),
        entity: Set(model.entity),
        entity_id: Set(model.entity_id),
        ip: Set(model.ip),
        request_id: Set(model.request_id),
        before: Set(model.before),
        after: Set(model.after),
        content_hash: Set(model.content_hash),
        seq: Set(None),
        chain_hash: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// Records a refused request. Best effort: a failure to write is logged,
/// the request is refused either way.
pub async fn record_denial(
    writer: &writer::AuditWriter,
    principal: &Principal,
    ip: Option<IpAddr>,
    method: &Method,
    route: &str,
    permission: &str,
) {
    let actor = Actor {
        id: Some(principal.actor_id()),
        label: principal.label(),
        ip: ip.map(|i| i.to_string()),
        request_id: None,
    };
    let entry = Entry::new("permission.denied", "route", format!("{method} {route}"))
        .after(serde_json::json!({ "permission": permission }));
    if let Err(e) = writer.record(&actor, entry).await {
        tracing::error!(error = %e, "could not audit a permission denial");
    }
}

fn separator(out: &mut String, field: Option<&str>) {
    // Unit separator between fields; a missing value differs from "".
    match field {
        Some(v) => {
            out.push('\u{1f}');
            out.push_str(v);
        }
        None => out.push_str("\u{1f}\u{0}"),
    }
}

fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// SHA-256 over every field of the entry except the chain columns.
pub fn content_hash(e: &audit_log::Model) -> String {
    let mut s = String::with_capacity(256);
    s.push_str(&e.id.to_string());
    separator(&mut s, Some(&timestamp(&e.at)));
    separator(&mut s, e.actor_id.as_deref());
    separator(&mut s, Some(&e.actor));
    separator(&mut s, Some(&e.action));
    separator(&mut s, Some(&e.entity));
    separator(&mut s, e.entity_id.as_deref());
    separator(&mut s, e.ip.as_deref());
    separator(&mut s, e.request_id.as_deref());
    separator(&mut s, e.before.as_deref());
    separator(&mut s, e.after.as_deref());
    sha256_hex(s.as_bytes())
}

pub fn chain_hash(previous: &str, content: &str) -> String {
    sha256_hex(format!("{previous}{content}").as_bytes())
}

/// The chain's starting point: the anchor left by archiving, or genesis.
async fn chain_start(db: &impl ConnectionTrait) -> Result<(i64, String), sea_orm::DbErr> {
    Ok(match audit_anchor::Entity::find_by_id(1).one(db).await? {
        Some(a) => (a.seq, a.chain_hash),
        None => (0, GENESIS.to_owned()),
    })
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Links committed, unsealed entries into the chain. Returns how many.
/// Safe to run from several processes: on PostgreSQL an advisory lock
/// admits one sealer at a time; on SQLite the write lock does.
pub async fn seal(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    seal_gated(db, &crate::db::WriteGate::default()).await
}

/// `seal`, queueing at the server's write gate (so on SQLite the sealer
/// takes turns with request writers instead of polling for the lock).
pub async fn seal_gated(
    db: &DatabaseConnection,
    gate: &crate::db::WriteGate,
) -> Result<u64, sea_orm::DbErr> {
    let mut total = 0;
    loop {
        let txn = crate::db::begin_write(db, gate).await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(72066002)",
            ))
            .await?;
        }
        let last = audit_log::Entity::find()
            .filter(audit_log::Column::Seq.is_not_null())
            .order_by_desc(audit_log::Column::Seq)
            .one(&txn)
            .await?;
        let (mut seq, mut prev) = match last {
            Some(e) => (e.seq.unwrap_or(0), e.chain_hash.unwrap_or_default()),
            None => chain_start(&txn).await?,
        };
        let batch = audit_log::Entity::find()
            .filter(audit_log::Column::Seq.is_null())
            .order_by_asc(audit_log::Column::Id)
            .limit(500)
            .all(&txn)
            .await?;
        let n = batch.len() as u64;
        for entry in batch {
            seq += 1;
            let chain = chain_hash(&prev, &entry.content_hash);
            audit_log::Entity::update_many()
                .col_expr(audit_log::Column::Seq, Expr::value(seq))
                .col_expr(audit_log::Column::ChainHash, Expr::value(chain.clone()))
                .filter(audit_log::Column::Id.eq(entry.id))
                .exec(&txn)
                .await?;
            prev = chain;
        }
        txn.commit().await?;
        total += n;
        if n < 500 {
            return Ok(total);
        }
    }
}

/// The first thing wrong with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The row's content no longer matches its hash.
    Altered { id: Uuid, seq: Option<i64> },
    /// A sequence number is missing: a row was deleted.
    Missing { seq: i64, next_id: Option<Uuid> },
    /// The row is intact but not where the chain says it was.
    Reordered { id: Uuid, seq: i64 },
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Altered { id, seq } => match seq {
                Some(seq) => write!(f, "entry {id} (seq {seq}) was altered"),
                None => write!(f, "entry {id} (not yet sealed) was altered"),
            },
            Fault::Missing { seq, next_id } => match next_id {
                Some(id) => write!(f, "entry seq {seq} is missing (before entry {id})"),
                None => write!(f, "entry seq {seq} is missing"),
            },
            Fault::Reordered { id, seq } => {
                write!(
                    f,
                    "entry {id} (seq {seq}) breaks the chain: reordered or replaced"
                )
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub sealed: u64,
    pub unsealed: u64,
    pub fault: Option<Fault>,
}

/// Walks the whole log: sealed entries in chain order, then the unsealed.
pub async fn verify(db: &DatabaseConnection) -> Result<Report, sea_orm::DbErr> {
    let (mut expected_seq, mut prev) = chain_start(db).await?;
    let mut report = Report::default();
    let mut after_seq = expected_seq;
    loop {
        let page = audit_log::Entity::find()
            .filter(audit_log::Column::Seq.gt(after_seq))
            .order_by_asc(audit_log::Column::Seq)
            .limit(1000)
            .all(db)
            .await?;
        if page.is_empty() {
            break;
        }
        for entry in &page {
            let seq = entry.seq.unwrap_or_default();
            expected_seq += 1;
            if seq != expected_seq {
                report.fault = Some(Fault::Missing {
                    seq: expected_seq,
                    next_id: Some(entry.id),
                });
                return Ok(report);
            }
            if content_hash(entry) != entry.content_hash {
                report.fault = Some(Fault::Altered {
                    id: entry.id,
                    seq: Some(seq),
                });
                return Ok(report);
            }
            let chain = chain_hash(&prev, &entry.content_hash);
            if entry.chain_hash.as_deref() != Some(chain.as_str()) {
                report.fault = Some(Fault::Reordered { id: entry.id, seq });
                return Ok(report);
            }
            prev = chain;
            report.sealed += 1;
        }
        after_seq = page.last().and_then(|e| e.seq).unwrap_or(after_seq);
    }
    let unsealed = audit_log::Entity::find()
        .filter(audit_log::Column::Seq.is_null())
        .order_by_asc(audit_log::Column::Id)
        .all(db)
        .await?;
    for entry in unsealed {
        if content_hash(&entry) != entry.content_hash {
            report.fault = Some(Fault::Altered {
                id: entry.id,
                seq: None,
            });
            return Ok(report);
        }
        report.unsealed += 1;
    }
    Ok(report)
}

/// Number of entries (for tests and the admin page).
pub async fn count(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    audit_log::Entity::find().count(db).await
}

/// Seals in the background every `interval` until the process ends.
pub fn spawn_sealer(
    db: DatabaseConnection,
    gate: crate::db::WriteGate,
    interval: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = seal_gated(&db, &gate).await {
                tracing::warn!(error = %e, "sealing the audit log failed; will retry");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = redact(json!({
            "email": "a@b.cl",
            "password_hash": "$argon2id$...",
            "nested": {"api_key": "faena_x", "name": "n"},
            "list": [{"token": "t"}],
        }));
        assert_eq!(v["email"], "a@b.cl");
        assert_eq!(v["password_hash"], "[redacted]");
        assert_eq!(v["nested"]["api_key"], "[redacted]");
        assert_eq!(v["nested"]["name"], "n");
        assert_eq!(v["list"][0]["token"], "[redacted]");
    }

    #[test]
    fn content_hash_covers_every_field() {
        let base = audit_log::Model {
            id: Uuid::nil(),
            at: DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default(),
            actor_id: None,
            actor: "a".into(),
            action: "create".into(),
            entity: "user".into(),
            entity_id: Some("1".into()),
            ip: None,
            request_id: None,
            before: None,
            after: Some("{}".into()),
            content_hash: String::new(),
            seq: None,
            chain_hash: None,
        };
        let h = content_hash(&base);
        let changed = [
            audit_log::Model {
                actor: "b".into(),
                ..base.clone()
            },
            audit_log::Model {
                entity_id: None,
                ..base.clone()
            },
            audit_log::Model {
                after: Some("{ }".into()),
                ..base.clone()
            },
            audit_log::Model {
                ip: Some(String::new()),
                ..base.clone()
            },
        ];
        for c in changed {
            assert_ne!(content_hash(&c), h);
        }
        // Chain columns are not part of the content.
        assert_eq!(
            content_hash(&audit_log::Model {
                seq: Some(4),
                ..base.clone()
            }),
            h
        );
    }
}
