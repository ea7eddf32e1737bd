//! Retention: sealed entries older than the configured number of days are
//! moved to an archive file (JSON lines, every column including the hashes)
//! before they leave the database, and the chain's new starting point is
//! kept as an anchor, so what stays still verifies and what left can be
//! verified from its file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;

use super::entity::{audit_anchor, audit_log};

/// Archives sealed entries older than `days`. Returns the archive file and
/// the number of entries moved, or `None` when there was nothing to move.
pub async fn archive(
    db: &DatabaseConnection,
    data_dir: &Path,
    days: u32,
) -> anyhow::Result<Option<(PathBuf, u64)>> {
    super::seal(db).await?;
    let cutoff = Utc::now() - Duration::days(i64::from(days));
    // Entries are archived as a prefix of the chain: up to the first one
    // that is still recent, so the chain never has a hole.
    let first_recent = audit_log::Entity::find()
        .filter(audit_log::Column::Seq.is_not_null())
        .filter(audit_log::Column::At.gte(cutoff))
        .order_by_asc(audit_log::Column::Seq)
        .one(db)
        .await?
        .and_then(|e| e.seq);
    let mut query = audit_log::Entity::find()
        .filter(audit_log::Column::Seq.is_not_null())
        .order_by_asc(audit_log::Column::Seq);
    if let Some(limit) = first_recent {
        query = query.filter(audit_log::Column::Seq.lt(limit));
    }
    let entries = query.limit(100_000).all(db).await?;
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(None);
    };
    let (first_seq, last_seq) = (first.seq.unwrap_or(0), last.seq.unwrap_or(0));
    let last_chain = last.chain_hash.clone().unwrap_or_default();

    let dir = data_dir.join("audit-archive");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("audit-{first_seq:012}-{last_seq:012}.jsonl"));
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    for e in &entries {
        let line = json!({
            "id": e.id, "at": e.at, "actor_id": e.actor_id, "actor": e.actor,
            "action": e.action, "entity": e.entity, "entity_id": e.entity_id,
            "ip": e.ip, "request_id": e.request_id, "before": e.before, "after": e.after,
            "content_hash": e.content_hash, "seq": e.seq, "chain_hash": e.chain_hash,
        });
        writeln!(file, "{line}")?;
    }
    file.sync_all()?;

    let txn = crate::db::begin_write(db, &Default::default()).await?;
    audit_log::Entity::delete_many()
        .filter(audit_log::Column::Seq.gte(first_seq))
        .filter(audit_log::Column::Seq.lte(last_seq))
        .exec(&txn)
        .await?;
    audit_anchor::Entity::delete_by_id(1).exec(&txn).await?;
    audit_anchor::ActiveModel {
        id: Set(1),
        seq: Set(last_seq),
        chain_hash: Set(last_chain),
        archived_at: Set(Utc::now()),
        archive_file: Set(path.display().to_string()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(file = %path.display(), entries = entries.len(), "archived audit entries");
    Ok(Some((path, entries.len() as u64)))
}
