//! What a process that died mid-upload leaves in the store: an object
//! whose rows were never committed (the process died between the two), and
//! on the local backend the staging files of a multipart write it never
//! finished. Both are deleted once older than `files.orphan_grace_secs`
//! (an hour by default; it must exceed the upload timeout, so that no live
//! upload is touched), by the nightly housekeeping and once at every start
//! of `faena serve` (the `platform.files.sweep` job).

use std::collections::HashSet;
use std::path::Path as FsPath;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use futures_util::TryStreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use super::entity::version;
use super::storage::delete_quietly;
use crate::jobs::{Job, JobContext};
use crate::state::AppState;

/// Rows looked up per query.
const CHUNK: usize = 500;

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Objects (originals or thumbnails) no version row names.
    pub objects: u64,
    /// Staging files of unfinished multipart writes (local backend).
    pub staging: u64,
}

/// The sweep, as a job: enqueued at start so that a crash's leftovers go
/// at the next start rather than the next night.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SweepOrphans {}

#[async_trait::async_trait]
impl Job for SweepOrphans {
    const NAME: &'static str = "platform.files.sweep";

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        sweep(&ctx.state).await?;
        Ok(())
    }
}

/// Deletes the orphans older than the grace period.
pub async fn sweep(state: &AppState) -> anyhow::Result<Swept> {
    let grace = Duration::from_secs(state.config().files.orphan_grace_secs);
    let cutoff = Utc::now() - chrono::Duration::from_std(grace)?;
    let store = state.files().store().clone();

    // Objects: `<file>/<version>` and its `<file>/<version>.thumb`.
    let mut old: Vec<(String, String)> = Vec::new();
    let mut listing = store.list(None);
    while let Some(meta) = listing.try_next().await? {
        if meta.last_modified >= cutoff {
            continue;
        }
        let key = meta.location.to_string();
        if let Some(base) = version_key(&key) {
            old.push((key.clone(), base.to_owned()));
        }
    }
    let mut swept = Swept::default();
    for chunk in old.chunks(CHUNK) {
        let bases: Vec<&str> = chunk.iter().map(|(_, b)| b.as_str()).collect();
        let known: HashSet<String> = version::Entity::find()
            .select_only()
            .column(version::Column::StorageKey)
            .filter(version::Column::StorageKey.is_in(bases))
            .into_tuple::<String>()
            .all(state.db())
            .await?
            .into_iter()
            .collect();
        for (key, base) in chunk {
            if !known.contains(base) {
                delete_quietly(store.as_ref(), key).await?;
                swept.objects += 1;
            }
        }
    }

    if state.config().files.backend == super::config::Backend::Local {
        let dir = state.config().files.local_dir(&state.config().data_dir);
        let older_than = SystemTime::now() - grace;
        swept.staging =
            tokio::task::spawn_blocking(move || remove_staging(&dir, older_than)).await??;
    }
    if swept != Swept::default() {
        tracing::warn!(
            objects = swept.objects,
            staging = swept.staging,
            "files: deleted what an interrupted upload left behind"
        );
    }
    Ok(swept)
}

/// The version key an object belongs to (`<32 hex>/<32 hex>`, with or
/// without `.thumb`); `None` for anything else, which is never touched.
fn version_key(key: &str) -> Option<&str> {
    let base = key.strip_suffix(".thumb").unwrap_or(key);
    let (file, version) = base.split_once('/')?;
    let hex32 = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex32(file) && hex32(version)).then_some(base)
}

/// Removes the local store's staging files (`<key>#<n>`: the parts of a
/// multipart write, renamed into place when it completes) older than
/// `older_than`.
fn remove_staging(dir: &FsPath, older_than: SystemTime) -> std::io::Result<u64> {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let meta = entry.metadata()?;
        if meta.is_dir() {
            removed += remove_staging(&path, older_than)?;
        } else if entry.file_name().to_string_lossy().contains('#') && meta.modified()? < older_than
        {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_version_keys_are_candidates() {
        let file = "01a24e14bc54750aa998c4bcc586e7c9";
        let version = "01a24e14bc5575b489276e90b368096a";
        let key = format!("{file}/{version}");
        assert_eq!(version_key(&key), Some(key.as_str()));
        assert_eq!(
            version_key(&format!("{key}.thumb")),
            Some(key.as_str()),
            "a thumbnail belongs to its version"
        );
        for other in [
            "backups/x.db",
            "README",
            &format!("{file}/x"),
            &format!("{file}/{version}/y"),
        ] {
            assert_eq!(version_key(other), None, "{other}");
        }
    }

    #[test]
    fn staging_files_older_than_the_grace_go() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("b#1"), b"part").unwrap();
        std::fs::write(sub.join("b"), b"object").unwrap();
        let past = SystemTime::now() - Duration::from_secs(60);
        assert_eq!(remove_staging(dir.path(), past).unwrap(), 0, "too young");
        let future = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(remove_staging(dir.path(), future).unwrap(), 1);
        assert!(sub.join("b").exists() && !sub.join("b#1").exists());
    }
}
