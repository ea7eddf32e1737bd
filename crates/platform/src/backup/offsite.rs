//! Off the machine: backups put in the file store (S3, Azure Blob) under
//! `faena-backups/<name>/`, listed, rotated and fetched back.

use object_store::ObjectStoreExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::config::Config;

use super::*;

pub(super) fn is_uploaded_backup(key: &object_store::path::Path) -> bool {
    key.parts()
        .next()
        .is_some_and(|p| p.as_ref() == STORE_PREFIX)
}

/// Uploads the backup folder at `path` to the file store under
/// `faena-backups/<name>/`, the manifest last (a backup without its
/// manifest there is incomplete and ignored). Returns its name.
pub async fn upload(
    config: &Config,
    path: &Path,
    progress: &mut dyn Progress,
) -> anyhow::Result<String> {
    let manifest = read_manifest(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("a backup folder has a name")?;
    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    progress.stage("upload", manifest.files.iter().map(|f| f.size).sum());
    let mut done = 0;
    let paths = manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .chain([MANIFEST]);
    for rel in paths {
        let key = object_store::path::Path::parse(format!("{STORE_PREFIX}/{name}/{rel}"))
            .with_context(|| format!("invalid object key for {rel}"))?;
        let bytes = tokio::fs::read(path.join(rel)).await?;
        done += bytes.len() as u64;
        store
            .put(&key, object_store::PutPayload::from(bytes))
            .await
            .with_context(|| format!("cannot upload {key}"))?;
        progress.advance(done);
    }
    Ok(name)
}

/// The backups uploaded to the file store (those whose manifest arrived),
/// newest first.
pub async fn list_uploaded(config: &Config) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    let prefix = object_store::path::Path::from(STORE_PREFIX);
    let mut listing = store.list(Some(&prefix));
    let mut out = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.context("cannot list the uploaded backups")?;
        let parts: Vec<_> = meta.location.parts().collect();
        if parts.len() == 3 && parts[2].as_ref() == MANIFEST {
            let name = parts[1].as_ref().to_owned();
            if let Some(at) = parse_name(&name) {
                out.push((name, at));
            }
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    Ok(out)
}

/// Applies the configured rotation to the uploaded backups; returns the
/// names it deleted.
pub async fn rotate_uploaded(config: &Config) -> anyhow::Result<Vec<String>> {
    let uploaded = list_uploaded(config).await?;
    let taken: Vec<_> = uploaded.iter().map(|(_, at)| *at).collect();
    let kept = rotation::keep(&taken, config.backup.keep_daily, config.backup.keep_weekly);
    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    let mut removed = Vec::new();
    for (i, (name, _)) in uploaded.into_iter().enumerate() {
        if kept.contains(&i) {
            continue;
        }
        let prefix = object_store::path::Path::from(format!("{STORE_PREFIX}/{name}"));
        // The manifest first: a half-deleted backup is an incomplete one.
        store.delete(&prefix.clone().join(MANIFEST)).await.ok();
        let mut listing = store.list(Some(&prefix));
        let mut keys = Vec::new();
        while let Some(meta) = listing.next().await {
            keys.push(meta.context("cannot list an uploaded backup")?.location);
        }
        drop(listing);
        for key in keys {
            crate::files::storage::delete_quietly(store.as_ref(), key.as_ref()).await?;
        }
        removed.push(name);
    }
    Ok(removed)
}

/// Downloads the uploaded backup `name` into a new folder under `into`;
/// returns its path (then `verify` and `restore` it like any other).
pub async fn download(
    config: &Config,
    name: &str,
    into: &Path,
    progress: &mut dyn Progress,
) -> anyhow::Result<PathBuf> {
    use tokio::io::AsyncWriteExt;
    if parse_name(name).is_none() || name.contains('/') {
        bail!("`{name}` is not a backup name (faena-YYYYMMDDTHHMMSSZ)");
    }
    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    let prefix = object_store::path::Path::from(format!("{STORE_PREFIX}/{name}"));
    let manifest_key = prefix.clone().join(MANIFEST);
    let raw = match store.get(&manifest_key).await {
        Ok(found) => found.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => {
            bail!("no complete backup `{name}` in the file store")
        }
        Err(e) => return Err(e).context("cannot read the uploaded manifest"),
    };
    let manifest: Manifest = serde_json::from_slice(&raw).context("unreadable manifest")?;
    let target = into.join(name);
    create_dir_private(&target)?;
    progress.stage("download", manifest.files.iter().map(|f| f.size).sum());
    let mut done = 0;
    for file in &manifest.files {
        let rel = if file.path.starts_with("objects/") {
            rel_of_object(&file.path)?
        } else if file.path.starts_with("data/") {
            PathBuf::from("data").join(rel_of(&file.path)?)
        } else if !file.path.contains('/') && file.path != ".." && file.path != "." {
            PathBuf::from(&file.path)
        } else {
            bail!("the manifest names an unsafe path: {}", file.path);
        };
        let to = target.join(rel);
        if let Some(parent) = to.parent() {
            create_dir_private(parent)?;
        }
        let key = object_store::path::Path::parse(format!("{STORE_PREFIX}/{name}/{}", file.path))?;
        let mut stream = store
            .get(&key)
            .await
            .with_context(|| format!("the uploaded backup is missing {}", file.path))?
            .into_stream();
        let mut out = tokio::fs::File::create(&to).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            out.write_all(&chunk).await?;
            done += chunk.len() as u64;
            progress.advance(done);
        }
        out.sync_all().await?;
    }
    tokio::fs::write(target.join(MANIFEST), &raw).await?;
    Ok(target)
}
